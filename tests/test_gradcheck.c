/*
 * adj_gradcheck itself: it passes correct gradients, catches a wrong one
 * at the right element, recognises kinks, and reports failures of the
 * function it is given.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <string.h>

/* f(X, w) = sum(tanh(X w)) for X (3,2), w (2,1) */
static adj_var *smooth(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_sum(adj_tanh(adj_matmul(in[0], in[1])));
}

START_TEST(passes_a_correct_gradient)
{
    const double X[6] = {0.1, -0.5, 0.9, 0.3, -1.2, 0.4}, w[2] = {0.7, -0.2};
    adj_gradcheck_input in[2] = {{2, {3, 2}, X}, {2, {2, 1}, w}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(smooth, NULL, 2, in, NULL, &r), ADJ_OK);
    ck_assert(r.passed);
    ck_assert_int_eq(r.n_inputs, 2);
    ck_assert_uint_eq(r.inputs[0].numel, 6);
    ck_assert_double_lt(r.max_rel_err, 1e-6);
    ck_assert_uint_ge(r.evaluations, 1 + 1 + 2 * 8);
    adj_gradcheck_opts o = {.dtype = ADJ_F32};
    ck_assert_int_eq(adj_gradcheck(smooth, NULL, 2, in, &o, &r), ADJ_OK);
    ck_assert(r.passed);
}
END_TEST

/* f = x * stop(x): the value is x^2 but backward only sees one factor,
 * so the analytic gradient is x where the true one is 2x. */
static adj_var *detached(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    adj_var *x = in[0];
    double v[4];
    adj_copy_value(x, v);
    int64_t s[1] = {4};
    adj_var *c = adj_constant_f64(t, 1, s, v);
    return adj_sum(adj_mul(x, c));
}

START_TEST(catches_a_wrong_gradient)
{
    const double x[4] = {0.1, 0.2, -3.0, 0.5};
    adj_gradcheck_input in[1] = {{1, {4}, x}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(detached, NULL, 1, in, NULL, &r), ADJ_OK);
    ck_assert(!r.passed);
    ck_assert(!r.inputs[0].passed);
    ck_assert_uint_eq(r.inputs[0].worst_index, 2); /* the largest |x| */
    ck_assert_double_eq_tol(r.inputs[0].analytic, -3.0, 1e-12);
    ck_assert_double_eq_tol(r.inputs[0].numeric, -6.0, 1e-6);
    ck_assert_double_eq_tol(r.inputs[0].rel_err, 0.5, 1e-6);
}
END_TEST

/* ReLU at 0 is a kink: reported, not failed. */
static adj_var *relu_sum(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_sum(adj_relu(in[0]));
}

START_TEST(recognises_kinks)
{
    const double x[3] = {0.5, 0.0, -0.7};
    adj_gradcheck_input in[1] = {{1, {3}, x}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(relu_sum, NULL, 1, in, NULL, &r), ADJ_OK);
    ck_assert(r.passed);
    ck_assert_uint_eq(r.inputs[0].kinks, 1);
    ck_assert_uint_eq(r.inputs[0].first_kink, 1);
}
END_TEST

/* A smooth function with a large second derivative is not a kink. */
static adj_var *steep(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_exp(adj_square(in[0]));
}

START_TEST(curvature_is_not_a_kink)
{
    const double x[1] = {2.5};
    adj_gradcheck_input in[1] = {{0, {0}, x}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(steep, NULL, 1, in, NULL, &r), ADJ_OK);
    ck_assert_uint_eq(r.inputs[0].kinks, 0);
    ck_assert(r.passed);
    ck_assert_double_eq_tol(r.value, exp(6.25), 1e-9);
}
END_TEST

static adj_var *broken(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_matmul(in[0], in[0]); /* (2,3) x (2,3) */
}

static adj_var *not_scalar(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_exp(in[0]);
}

START_TEST(reports_function_failures)
{
    const double x[6] = {1, 2, 3, 4, 5, 6};
    adj_gradcheck_input in[1] = {{2, {2, 3}, x}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(broken, NULL, 1, in, NULL, &r), ADJ_ESHAPE);
    ck_assert(!r.passed);
    ck_assert_ptr_nonnull(strstr(r.message, "adj_matmul"));
    ck_assert_int_eq(adj_gradcheck(not_scalar, NULL, 1, in, NULL, &r), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(r.message, "one element"));
    ck_assert_int_eq(adj_gradcheck(NULL, NULL, 1, in, NULL, &r), ADJ_EINVAL);
    ck_assert_int_eq(adj_gradcheck(smooth, NULL, 0, in, NULL, &r), ADJ_EINVAL);
    ck_assert_int_eq(adj_gradcheck_op(ADJ_OP_LEAF, ADJ_F64, 0, 1, &r, NULL, 0), ADJ_EINVAL);
}
END_TEST

/* The report is the same whatever the number of threads. */
START_TEST(threads_give_the_same_report)
{
    const double X[6] = {0.1, -0.5, 0.9, 0.3, -1.2, 0.4}, w[2] = {0.7, -0.2};
    const double x4[4] = {0.1, 0.2, -3.0, 0.5};
    adj_gradcheck_input in[2] = {{2, {3, 2}, X}, {2, {2, 1}, w}};
    adj_gradcheck_input bad[1] = {{1, {4}, x4}};
    for (int k = 0; k < 2; k++) {
        adj_gradcheck_report one, many;
        adj_gradcheck_opts o1 = {.dtype = ADJ_F64, .threads = 1};
        adj_gradcheck_opts o3 = {.dtype = ADJ_F64, .threads = 3};
        adj_gradcheck_fn fn = k ? detached : smooth;
        const adj_gradcheck_input *ins = k ? bad : in;
        int n = k ? 1 : 2;
        ck_assert_int_eq(adj_gradcheck(fn, NULL, n, ins, &o1, &one), ADJ_OK);
        ck_assert_int_eq(adj_gradcheck(fn, NULL, n, ins, &o3, &many), ADJ_OK);
        ck_assert_int_eq(one.passed, many.passed);
        ck_assert_uint_eq(one.evaluations, many.evaluations);
        ck_assert(one.max_rel_err == many.max_rel_err);
        for (int i = 0; i < n; i++) {
            ck_assert_uint_eq(one.inputs[i].worst_index, many.inputs[i].worst_index);
            ck_assert(one.inputs[i].numeric == many.inputs[i].numeric);
            ck_assert(one.inputs[i].analytic == many.inputs[i].analytic);
        }
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, passes_a_correct_gradient);
    tcase_add_test(tc, catches_a_wrong_gradient);
    tcase_add_test(tc, recognises_kinks);
    tcase_add_test(tc, curvature_is_not_a_kink);
    tcase_add_test(tc, reports_function_failures);
    tcase_add_test(tc, threads_give_the_same_report);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
