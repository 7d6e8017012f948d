/*
 * Second derivatives: adj_hvp and adj_hessian against Hessians derived by
 * hand, adj_gradgradcheck's verdicts (a correct function passes, one whose
 * recorded graph hides a dependence fails, a kink of the gradient is
 * recognised), and the whole op table: every op's graph-mode rule checked
 * by adj_gradgradcheck_op on every case, in double and in float.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

/* An op without a graph-mode rule fails the table test (0 would only list
 * it, for a table in the middle of gaining rules).  Ops without any
 * gradient pass without one: their nodes never take an adjoint. */
#define MISSING_RULE_FAILS 1

/* f(x, y) = x0^2 x1 + sin(y0) x0 + y0 y1^3 */
static adj_var *poly(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    adj_var *x0 = adj_select(in[0], 0, 0), *x1 = adj_select(in[0], 0, 1);
    adj_var *y0 = adj_select(in[1], 0, 0), *y1 = adj_select(in[1], 0, 1);
    adj_var *a = adj_mul(adj_square(x0), x1);
    adj_var *b = adj_mul(adj_sin(y0), x0);
    adj_var *c = adj_mul(y0, adj_pow(y1, 3.0));
    return adj_add(adj_add(a, b), c);
}

/* The Hessian of poly over (x0, x1, y0, y1), by hand. */
static void poly_hessian(const double *x, const double *y, double H[16])
{
    const double x0 = x[0], x1 = x[1], y0 = y[0], y1 = y[1];
    const double h[16] = {
        2 * x1,      2 * x0, cos(y0),               0,
        2 * x0,      0,      0,                     0,
        cos(y0),     0,      -sin(y0) * x0,         3 * y1 * y1,
        0,           0,      3 * y1 * y1,           6 * y0 * y1,
    };
    memcpy(H, h, sizeof h);
}

START_TEST(test_hvp_hessian)
{
    double xv[2] = {0.7, -1.3}, yv[2] = {0.4, 1.1};
    adj_gradcheck_input in[2] = {{1, {2}, xv}, {1, {2}, yv}};
    double H[16], want[16];
    poly_hessian(xv, yv, want);
    ck_assert_int_eq(adj_hessian(poly, NULL, 2, in, H, 16), ADJ_OK);
    for (int i = 0; i < 16; i++)
        ck_assert_msg(fabs(H[i] - want[i]) < 1e-12, "H[%d] = %.15g, want %.15g", i, H[i], want[i]);
    const double v[4] = {1, -2, 0.5, 3};
    double hv[4];
    ck_assert_int_eq(adj_hvp(poly, NULL, 2, in, v, hv), ADJ_OK);
    for (int r = 0; r < 4; r++) {
        double w = 0;
        for (int c = 0; c < 4; c++)
            w += want[r * 4 + c] * v[c];
        ck_assert_double_eq_tol(hv[r], w, 1e-12);
    }
    /* refusals: a matrix too small for N = 4, NULL arguments */
    ck_assert_int_eq(adj_hessian(poly, NULL, 2, in, H, 15), ADJ_EINVAL);
    ck_assert_int_eq(adj_hessian(poly, NULL, 2, in, NULL, 16), ADJ_EINVAL);
    ck_assert_int_eq(adj_hvp(poly, NULL, 2, in, NULL, hv), ADJ_EINVAL);
    ck_assert_int_eq(adj_hvp(NULL, NULL, 2, in, v, hv), ADJ_EINVAL);
}
END_TEST

/* f = sum(x^2) over more elements than adj_hessian takes. */
static adj_var *sumsq(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_sum(adj_square(in[0]));
}

START_TEST(test_hessian_bound)
{
    static double big[ADJ_HESSIAN_MAX_N + 1];
    adj_gradcheck_input in = {1, {ADJ_HESSIAN_MAX_N + 1}, big};
    double H[1];
    ck_assert_int_eq(adj_hessian(sumsq, NULL, 1, &in, H, SIZE_MAX), ADJ_EINVAL);
    /* and the diagonal 2 I of a small one */
    double x[3] = {1, 2, 3}, H3[9];
    adj_gradcheck_input in3 = {1, {3}, x};
    ck_assert_int_eq(adj_hessian(sumsq, NULL, 1, &in3, H3, 9), ADJ_OK);
    for (int i = 0; i < 9; i++)
        ck_assert_double_eq(H3[i], i % 4 == 0 ? 2.0 : 0.0);
}
END_TEST

START_TEST(test_gradgradcheck_passes)
{
    double xv[2] = {0.7, -1.3}, yv[2] = {0.4, 1.1};
    adj_gradcheck_input in[2] = {{1, {2}, xv}, {1, {2}, yv}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradgradcheck(poly, NULL, 2, in, NULL, &r), ADJ_OK);
    ck_assert_msg(r.passed, "max rel err %g", r.max_rel_err);
    ck_assert_int_eq(r.n_inputs, 2);
    ck_assert_double_eq_tol(r.value, 0.49 * -1.3 + sin(0.4) * 0.7 + 0.4 * pow(1.1, 3), 1e-12);
    adj_gradcheck_opts o = {.dtype = ADJ_F32};
    ck_assert_int_eq(adj_gradgradcheck(poly, NULL, 2, in, &o, &r), ADJ_OK);
    ck_assert_msg(r.passed, "f32: max rel err %g", r.max_rel_err);
}
END_TEST

/* f = x * c with c a constant holding x's value: f is x^2 as a function
 * of x (c is recomputed at each point), but the recorded graph sees a
 * constant, so its second derivative is 0 where the gradients' differences
 * give 1 per element: the check must fail. */
static adj_var *hidden(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    double v[2] = {adj_value_at(in[0], 0), adj_value_at(in[0], 1)};
    adj_var *c = adj_constant_f64(t, 1, (int64_t[]){2}, v);
    return adj_sum(adj_mul(in[0], c));
}

START_TEST(test_gradgradcheck_fails)
{
    double xv[2] = {0.5, -0.75};
    adj_gradcheck_input in = {1, {2}, xv};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradgradcheck(hidden, NULL, 1, &in, NULL, &r), ADJ_OK);
    ck_assert(!r.passed);
    /* H v is v itself by differences, 0 through the recorded graph */
    ck_assert_double_eq_tol(r.inputs[0].analytic, 0.0, 1e-12);
    ck_assert(fabs(r.inputs[0].numeric) > 1e-3);
}
END_TEST

/* f = sum(relu(x)^2): the gradient 2 relu(x) has a kink at 0. */
static adj_var *relu_sq(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_sum(adj_square(adj_relu(in[0])));
}

START_TEST(test_gradgradcheck_kink)
{
    double xv[3] = {0.0, 0.5, -0.5};
    adj_gradcheck_input in = {1, {3}, xv};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradgradcheck(relu_sq, NULL, 1, &in, NULL, &r), ADJ_OK);
    ck_assert_msg(r.passed, "max rel err %g", r.max_rel_err);
    ck_assert_int_ge(r.inputs[0].kinks, 1);
    ck_assert_int_eq(r.inputs[0].first_kink, 0);
}
END_TEST

START_TEST(test_gradgradcheck_misuse)
{
    double xv[1] = {1};
    adj_gradcheck_input in = {1, {1}, xv};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradgradcheck(NULL, NULL, 1, &in, NULL, &r), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(r.message, "adj_gradgradcheck"));
    ck_assert_int_eq(adj_gradgradcheck(sumsq, NULL, 0, &in, NULL, &r), ADJ_EINVAL);
    adj_gradcheck_opts o = {.eps = NAN};
    ck_assert_int_eq(adj_gradgradcheck(sumsq, NULL, 1, &in, &o, &r), ADJ_EINVAL);
    ck_assert_int_eq(adj_gradgradcheck(sumsq, NULL, 1, &in, NULL, NULL), ADJ_EINVAL);
}
END_TEST

/* ------------------------------------------------------- the op table */

static void check_op(adj_op op, adj_dtype dt)
{
    if (op == ADJ_OP_LEAF)
        return;
    const int cases = adj_gradcheck_op_cases(op);
    for (int k = 0; k < cases; k++) {
        adj_gradcheck_report r;
        char desc[160];
        adj_status s = adj_gradgradcheck_op(op, dt, k, 1, &r, desc, sizeof desc);
        if (s == ADJ_EINVAL && strstr(r.message, "has no graph-mode backward")) {
            printf("op %s: no graph-mode backward (%s)\n", adj_op_name(op), r.message);
            ck_assert_msg(!MISSING_RULE_FAILS, "op %s has no graph-mode backward",
                          adj_op_name(op));
            return;
        }
        ck_assert_msg(s == ADJ_OK, "%s %s case %d %s: %s", adj_op_name(op), adj_dtype_name(dt), k,
                      desc, r.message);
        for (int j = 0; j < r.n_inputs; j++)
            ck_assert_msg(r.inputs[j].passed,
                          "%s %s case %d %s: input %d element %zu of H v: analytic %.12g, "
                          "numeric %.12g",
                          adj_op_name(op), adj_dtype_name(dt), k, desc, j,
                          r.inputs[j].worst_index, r.inputs[j].analytic, r.inputs[j].numeric);
    }
}

START_TEST(every_op_f64) { check_op((adj_op)_i, ADJ_F64); }
END_TEST

START_TEST(every_op_f32) { check_op((adj_op)_i, ADJ_F32); }
END_TEST

static Suite *gradgrad_suite(void)
{
    Suite *s = suite_create("gradgrad");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_hvp_hessian);
    tcase_add_test(tc, test_hessian_bound);
    tcase_add_test(tc, test_gradgradcheck_passes);
    tcase_add_test(tc, test_gradgradcheck_fails);
    tcase_add_test(tc, test_gradgradcheck_kink);
    tcase_add_test(tc, test_gradgradcheck_misuse);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("table");
    tcase_set_timeout(tt, 120);
    tcase_add_loop_test(tt, every_op_f64, 0, ADJ_OP_COUNT);
    tcase_add_loop_test(tt, every_op_f32, 0, ADJ_OP_COUNT);
    suite_add_tcase(s, tt);
    return s;
}

ADJ_CHECK_MAIN(gradgrad_suite)
