/*
 * Second derivatives: adj_hvp and adj_hessian against Hessians derived by
 * hand, adj_gradgradcheck's verdicts (a correct function passes, one whose
 * recorded graph hides a dependence fails, a kink of the gradient is
 * recognised), the whole op table: every op's graph-mode rule checked
 * by adj_gradgradcheck_op on every case, in double and in float, and the
 * activations' rules far from 0, against their derivatives in long double.
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

/* --------------------------- activations' derivatives at large arguments */

/*
 * The graph-mode rule of an activation (the gradient adj_grad records with
 * create_graph) is as accurate as its first-order backward, and so is the
 * second derivative taken through it, far out on both sides, where
 * 1 - y^2, 1 - y and y + alpha cancel: at x = ±{0.001, 0.1, 0.5, 3, 9,
 * 12, 20}, in float and double, against the derivatives in long double.
 */
typedef long double ldbl;

static ldbl sig_l(ldbl x) { return x >= 0 ? 1 / (1 + expl(-x)) : expl(x) / (1 + expl(x)); }
static ldbl dsig_l(ldbl x)
{
    const ldbl e = expl(-fabsl(x));
    return e / ((1 + e) * (1 + e));
}
/* sigmoid'' = sigmoid' (1 - 2 sigmoid) = -sigmoid' tanh(x / 2) */
static ldbl d2sig_l(ldbl x) { return -dsig_l(x) * tanhl(x / 2); }

/* y'(x) (k = 1) and y''(x) (k = 2) */
static ldbl tanh_d(ldbl x, int k)
{
    const ldbl d = 1 / (coshl(x) * coshl(x));
    return k == 1 ? d : -2 * tanhl(x) * d;
}
static ldbl sigmoid_d(ldbl x, int k) { return k == 1 ? dsig_l(x) : d2sig_l(x); }
static ldbl softplus_d(ldbl x, int k) { return k == 1 ? sig_l(x) : dsig_l(x); }
static ldbl elu_d(ldbl x, int k) { return x >= 0 ? (k == 1 ? 1 : 0) : expl(x); }
/* silu' = s (1 + x (1 - s)), silu'' = s' (2 - x tanh(x / 2)) */
static ldbl silu_d(ldbl x, int k)
{
    return k == 1 ? sig_l(x) * (1 + x * sig_l(-x)) : dsig_l(x) * (2 - x * tanhl(x / 2));
}
/* swish with beta 1.5: b x = z; y' = s(z) + z s'(z), y'' = b s'(z) (2 - z tanh(z / 2)) */
static ldbl swish_d(ldbl x, int k)
{
    const ldbl z = 1.5L * x;
    return k == 1 ? sig_l(z) + z * dsig_l(z) : 1.5L * dsig_l(z) * (2 - z * tanhl(z / 2));
}
/* gelu_tanh = x s(z), z = k (x + 0.044715 x^3), k = 2 sqrt(2 / pi) */
static ldbl gelu_tanh_d(ldbl x, int k)
{
    const ldbl c = 1.595769121605730711759L, z = c * (x + 0.044715L * x * x * x);
    const ldbl z1 = c * (1 + 3 * 0.044715L * x * x), z2 = c * 6 * 0.044715L * x;
    return k == 1 ? sig_l(z) + x * dsig_l(z) * z1
                  : 2 * dsig_l(z) * z1 + x * d2sig_l(z) * z1 * z1 + x * dsig_l(z) * z2;
}
static ldbl gelu_d(ldbl x, int k)
{
    const ldbl phi = expl(-x * x / 2) * 0.398942280401432677939946059934L;
    return k == 1 ? erfcl(-x / sqrtl(2)) / 2 + x * phi : phi * (2 - x * x);
}

static adj_var *elu_1(adj_var *x) { return adj_elu(x, 1.0); }
static adj_var *swish_15(adj_var *x) { return adj_swish(x, 1.5); }

static const struct {
    const char *name;
    adj_var *(*fn)(adj_var *);
    ldbl (*d)(ldbl, int);
} acts[] = {
    {"tanh", adj_tanh, tanh_d},       {"sigmoid", adj_sigmoid, sigmoid_d},
    {"softplus", adj_softplus, softplus_d}, {"elu", elu_1, elu_d},
    {"silu", adj_silu, silu_d},       {"swish", swish_15, swish_d},
    {"gelu", adj_gelu, gelu_d},       {"gelu_tanh", adj_gelu_tanh, gelu_tanh_d},
};

#define NPTS 14
static const double pts[NPTS] = {0.001, -0.001, 0.1, -0.1, 0.5, -0.5, 3, -3,
                                 9,     -9,     12,  -12, 20,  -20};

/* point i as the dtype holds it */
static ldbl xval(int i, adj_dtype dt) { return dt == ADJ_F32 ? (ldbl)(float)pts[i] : (ldbl)pts[i]; }

/* |got - want| in units of the dtype's epsilon relative to |want| (to 1
 * where want is 0) */
static double ulps(double got, ldbl want, adj_dtype dt)
{
    const double eps = dt == ADJ_F32 ? 0x1p-23 : 0x1p-52, tiny = dt == ADJ_F32 ? 0x1p-126 : 0x1p-1022;
    return (double)(fabsl((ldbl)got - want) / fmaxl(fabsl(want), tiny)) / eps;
}

/* op's first derivative by the plain backward (d1), by the graph-mode
 * rule (g1) and its derivative, the second (d2), at the points */
static void act_derivs(adj_var *(*fn)(adj_var *), adj_dtype dt, double *d1, double *g1, double *d2)
{
    const int64_t n = NPTS;
    float pf[NPTS];
    for (int i = 0; i < NPTS; i++)
        pf[i] = (float)pts[i];
    for (int pass = 0; pass < 2; pass++) {
        adj_tape *t = adj_tape_new();
        adj_var *x = dt == ADJ_F64 ? adj_tensor_f64(t, 1, &n, pts) : adj_tensor_f32(t, 1, &n, pf);
        adj_var *L = adj_sum(fn(x));
        if (pass == 0) {
            ck_assert_int_eq(adj_backward(L), ADJ_OK);
            for (int i = 0; i < NPTS; i++)
                d1[i] = adj_grad_at(x, i);
        } else {
            adj_var *g = NULL;
            ck_assert_int_eq(adj_grad(L, 1, &x, &g, &(adj_backward_opts){.create_graph = 1}), ADJ_OK);
            for (int i = 0; i < NPTS; i++)
                g1[i] = adj_value_at(g, i);
            ck_assert_int_eq(adj_backward(adj_sum(g)), ADJ_OK);
            for (int i = 0; i < NPTS; i++)
                d2[i] = adj_grad_at(x, i);
        }
        adj_tape_free(t);
    }
}

START_TEST(activation_derivatives_far_out)
{
    const adj_dtype dt = _i ? ADJ_F32 : ADJ_F64;
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        double d1[NPTS], g1[NPTS], d2[NPTS], e1[NPTS];
        act_derivs(acts[a].fn, dt, d1, g1, d2);
        for (int i = 0; i < NPTS; i++)
            e1[i] = ulps(d1[i], acts[a].d(xval(i, dt), 1), dt);
        for (int i = 0; i < NPTS; i++) {
            const double eg = ulps(g1[i], acts[a].d(xval(i, dt), 1), dt);
            const double e2 = ulps(d2[i], acts[a].d(xval(i, dt), 2), dt);
            /* the points come in pairs x, -x: i ^ 1 is the other one */
            const double worst1 = fmax(e1[i], e1[i ^ 1]);
            ck_assert_msg(eg <= e1[i] + 4,
                          "%s %s x = %g: the graph-mode gradient %.9g is %.3g ulps off, the "
                          "first-order one %.9g %.3g",
                          acts[a].name, adj_dtype_name(dt), pts[i], g1[i], eg, d1[i], e1[i]);
            ck_assert_msg(e2 <= worst1 + 8,
                          "%s %s x = %g: the second derivative %.9g is %.3g ulps off (want %.9Lg), "
                          "the first-order rule's gradient at most %.3g",
                          acts[a].name, adj_dtype_name(dt), pts[i], d2[i], e2,
                          acts[a].d(xval(i, dt), 2), worst1);
        }
    }
}
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
    tcase_add_loop_test(tt, activation_derivatives_far_out, 0, 2);
    suite_add_tcase(s, tt);
    return s;
}

ADJ_CHECK_MAIN(gradgrad_suite)
