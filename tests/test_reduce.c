/*
 * Reductions over several axes (keepdims or not) and softmax along any
 * axis, against naive loops written here over explicit indices, values
 * worked out by hand, and the conventions at ties, NaN and large inputs.
 * The op-table suites check the gradients against finite differences.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <string.h>

/* x (2,3,4): x[i][j][k] = a smooth, irregular function of i, j, k */
static double xval(int i, int j, int k) { return sin(1.3 * i + 0.7 * j * j + 0.31 * k) + 0.1 * k; }

enum { RSUM, RMEAN, RMAX, RMIN, RLSE, RVAR };

/* The naive reduction of x over the axes in mask at kept coordinates
 * (i, j, k) (the reduced ones ignored). */
static double naive(int kind, unsigned mask, int i0, int j0, int k0)
{
    double s = 0, m = kind == RMIN ? INFINITY : -INFINITY, n = 0, vals[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                if ((!(mask & 1) && i != i0) || (!(mask & 2) && j != j0) ||
                    (!(mask & 4) && k != k0))
                    continue;
                double v = xval(i, j, k);
                vals[(int)n] = v;
                s += v;
                n++;
                m = kind == RMIN ? fmin(m, v) : fmax(m, v);
            }
    switch (kind) {
    case RSUM: return s;
    case RMEAN: return s / n;
    case RMAX:
    case RMIN: return m;
    case RLSE: {
        double e = 0;
        for (int q = 0; q < (int)n; q++)
            e += exp(vals[q]);
        return log(e);
    }
    default: {
        double mu = s / n, v = 0;
        for (int q = 0; q < (int)n; q++)
            v += (vals[q] - mu) * (vals[q] - mu);
        return v / n;
    }
    }
}

typedef adj_var *(*axes_fn)(adj_var *, int, const int *, int);
static adj_var *var0(adj_var *x, int n, const int *axes, int keep)
{
    return adj_var_axes(x, n, axes, keep, 0);
}

/* Every kind, every nonempty set of axes (given as negative or positive
 * axes, in any order), keepdims on and off, both dtypes. */
START_TEST(axes_match_naive_loops)
{
    static const axes_fn fns[6] = {(adj_sum_axes), (adj_mean_axes), (adj_max_axes),
                                   (adj_min_axes), (adj_logsumexp_axes), var0};
    adj_tape *t = adj_tape_new();
    double xd[24];
    float xf[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                xd[(i * 3 + j) * 4 + k] = xval(i, j, k);
                xf[(i * 3 + j) * 4 + k] = (float)xval(i, j, k);
            }
    const int64_t shape[3] = {2, 3, 4};
    for (int dt = 0; dt < 2; dt++)
        for (int kind = 0; kind < 6; kind++)
            for (unsigned mask = 1; mask < 8; mask++)
                for (int keep = 0; keep < 2; keep++) {
                    adj_tape_reset(t);
                    adj_var *x = dt ? adj_tensor_f32(t, 3, shape, xf) : adj_tensor_f64(t, 3, shape, xd);
                    int axes[3], n = 0;
                    for (int d = 2; d >= 0; d--) /* reverse order, last one negative */
                        if (mask & (1u << d))
                            axes[n++] = d == 2 ? -1 : d;
                    /* mask 7 also as naxes 0 (every axis) */
                    adj_var *y = fns[kind](x, mask == 7 && keep ? 0 : n, axes, keep);
                    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
                    int want_ndim = keep ? 3 : 3 - __builtin_popcount(mask);
                    ck_assert_int_eq(adj_ndim(y), want_ndim);
                    size_t at = 0;
                    for (int i = 0; i < ((mask & 1) ? 1 : 2); i++)
                        for (int j = 0; j < ((mask & 2) ? 1 : 3); j++)
                            for (int k = 0; k < ((mask & 4) ? 1 : 4); k++) {
                                double want = naive(kind, mask, i, j, k), got = adj_value_at(y, at++);
                                ck_assert_msg(fabs(got - want) <= (dt ? 2e-6 : 1e-13) * fmax(1, fabs(want)),
                                              "kind %d mask %u keep %d dt %d at (%d,%d,%d): %.17g want %.17g",
                                              kind, mask, keep, dt, i, j, k, got, want);
                            }
                    ck_assert_uint_eq(at, adj_numel(y));
                }
    adj_tape_free(t);
}
END_TEST

/* The gradient of max/min goes to the first extremum in row-major order;
 * NaN propagates; logsumexp of huge equal values is exact. */
START_TEST(extremum_ties_and_nan)
{
    adj_tape *t = adj_tape_new();
    int64_t s23[2] = {2, 3};
    adj_var *x = adj_tensor_f64(t, 2, s23, (double[]){5, 1, 5, -2, -2, 0});
    adj_var *mx = adj_max_axis(x, 1), *mn = adj_min_axis(x, -1);
    ck_assert_double_eq(adj_value_at(mx, 0), 5);
    ck_assert_double_eq(adj_value_at(mx, 1), 0);
    ck_assert_double_eq(adj_value_at(mn, 0), 1);
    ck_assert_double_eq(adj_value_at(mn, 1), -2);
    ck_assert_int_eq(adj_backward(adj_add(adj_sum(mx), adj_scale(adj_sum(mn), 10.0))), ADJ_OK);
    const double g[6] = {1, 10, 0, 10, 0, 1};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(adj_grad_at(x, i), g[i]);

    adj_tape_reset(t);
    int64_t s4[1] = {4};
    adj_var *n = adj_tensor_f64(t, 1, s4, (double[]){1, NAN, 7, 2});
    ck_assert(isnan(adj_item(adj_max_axis(n, 0))));
    ck_assert(isnan(adj_item(adj_min_axis(n, 0))));
    ck_assert(isnan(adj_item(adj_logsumexp_axis(n, 0))));

    adj_tape_reset(t);
    int64_t s2[1] = {2};
    adj_var *big = adj_tensor_f32(t, 1, s2, (float[]){1000.0f, 1000.0f});
    adj_var *l = adj_logsumexp_axis(big, 0);
    ck_assert_double_eq_tol(adj_item(l), 1000.0 + log(2.0), 1e-4);
    ck_assert_int_eq(adj_backward(l), ADJ_OK);
    ck_assert_double_eq_tol(adj_grad_at(big, 0), 0.5, 1e-7);
    adj_tape_free(t);
}
END_TEST

/* var: population and unbiased divisors by hand; the gradient by hand. */
START_TEST(var_divisors)
{
    adj_tape *t = adj_tape_new();
    int64_t s4[1] = {4};
    adj_var *x = adj_tensor_f64(t, 1, s4, (double[]){1, 2, 3, 4});
    adj_var *v = adj_var_axis(x, 0);
    ck_assert_double_eq_tol(adj_item(v), 1.25, 1e-15);
    ck_assert_double_eq_tol(adj_item(adj_var_axes(x, 1, (int[]){0}, 0, 1)), 5.0 / 3.0, 1e-15);
    ck_assert_int_eq(adj_backward(v), ADJ_OK);
    /* d/dx_i = 2 (x_i - 2.5) / 4 */
    const double g[4] = {-0.75, -0.25, 0.25, 0.75};
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq_tol(adj_grad_at(x, i), g[i], 1e-15);
    adj_tape_free(t);
}
END_TEST

/* softmax along axis 0 of a (2,2): columns sum to one; log-softmax is its
 * log; the last axis agrees with adj_softmax. */
START_TEST(softmax_any_axis)
{
    adj_tape *t = adj_tape_new();
    int64_t s22[2] = {2, 2};
    adj_var *x = adj_tensor_f64(t, 2, s22, (double[]){0, 1, log(3.0), 1});
    adj_var *s = adj_softmax_axis(x, 0), *ls = adj_log_softmax_axis(x, 0);
    /* column 0: e^0, 3 -> 1/4, 3/4; column 1: equal -> 1/2, 1/2 */
    const double want[4] = {0.25, 0.5, 0.75, 0.5};
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq_tol(adj_value_at(s, i), want[i], 1e-15);
        ck_assert_double_eq_tol(adj_value_at(ls, i), log(want[i]), 1e-15);
    }
    /* d/dx of s[0][0] = s00 (1 - s00) at x00, -s00 s10 at x10, 0 elsewhere */
    adj_var *pick = adj_constant_f64(t, 2, s22, (double[]){1, 0, 0, 0});
    ck_assert_int_eq(adj_backward(adj_sum(adj_mul(s, pick))), ADJ_OK);
    ck_assert_double_eq_tol(adj_grad_at(x, 0), 0.25 * 0.75, 1e-15);
    ck_assert_double_eq_tol(adj_grad_at(x, 2), -0.25 * 0.75, 1e-15);
    ck_assert_double_eq_tol(adj_grad_at(x, 1), 0.0, 1e-15);

    adj_tape_reset(t);
    int64_t s23[2] = {2, 3};
    adj_var *z = adj_tensor_f32(t, 2, s23, (float[]){1, -2, 0.5f, 3, 3, -1});
    adj_var *a = adj_softmax_axis(z, -1), *b = adj_softmax(z);
    adj_var *la = adj_log_softmax_axis(z, 1), *lb = adj_log_softmax(z);
    for (int i = 0; i < 6; i++) {
        ck_assert_double_eq_tol(adj_value_at(a, i), adj_value_at(b, i), 1e-7);
        ck_assert_double_eq_tol(adj_value_at(la, i), adj_value_at(lb, i), 1e-6);
    }
    adj_tape_free(t);
}
END_TEST

/* Sums of f32 accumulate in double: 2^24 + 1 + 1 + 1 + 1 is exact in
 * float, and a float accumulator would lose every 1. */
START_TEST(f32_sums_in_double)
{
    adj_tape *t = adj_tape_new();
    int64_t s15[2] = {1, 5};
    const float v[5] = {16777216.0f, 1, 1, 1, 1};
    adj_var *x = adj_tensor_f32(t, 2, s15, v);
    ck_assert_double_eq(adj_value_at(adj_sum_axes(x, 1, (int[]){1}, 1), 0), 16777220.0);
    ck_assert_double_eq(adj_value_at(adj_sum_axis(x, 1), 0), 16777220.0);
    ck_assert_double_eq(adj_value_at(adj_mean_axis(x, 1), 0), (float)(16777220.0 / 5));
    adj_tape_free(t);
}
END_TEST

/* An infinite term makes the compensated sum infinite, not NaN (inf - inf
 * in the rounding error); inf and -inf together make it NaN.  Whole sums,
 * axis sums and means, and a broadcast operand's adjoint, in f32 and f64. */
START_TEST(infinite_terms)
{
    for (int dt = 0; dt < 2; dt++) {
        adj_tape *t = adj_tape_new();
        int64_t s23[2] = {2, 3}, s3[1] = {3};
        const double v[6] = {1, INFINITY, 2, 3, 4, 5}, w[6] = {1, INFINITY, 2, -INFINITY, 4, 5};
        const float vf[6] = {1, INFINITY, 2, 3, 4, 5}, wf[6] = {1, INFINITY, 2, -INFINITY, 4, 5};
        adj_var *x = dt ? adj_tensor_f64(t, 2, s23, v) : adj_tensor_f32(t, 2, s23, vf);
        adj_var *y = dt ? adj_tensor_f64(t, 2, s23, w) : adj_tensor_f32(t, 2, s23, wf);
        ck_assert(isinf(adj_value_at(adj_sum(x), 0)) && adj_value_at(adj_sum(x), 0) > 0);
        ck_assert(isinf(adj_value_at(adj_mean(x), 0)));
        ck_assert(isnan(adj_value_at(adj_sum(y), 0)));
        adj_var *c = adj_sum_axis(x, 0); /* columns: 4, inf, 7 */
        ck_assert_double_eq(adj_value_at(c, 0), 4.0);
        ck_assert(isinf(adj_value_at(c, 1)));
        ck_assert_double_eq(adj_value_at(c, 2), 7.0);
        adj_var *r = adj_sum_axis(x, 1); /* rows: inf, 12 */
        ck_assert(isinf(adj_value_at(r, 0)));
        ck_assert_double_eq(adj_value_at(r, 1), 12.0);
        /* the bias of x + b takes the column sums of the seed x */
        const double z[3] = {0, 0, 0};
        const float zf[3] = {0, 0, 0};
        adj_var *b = dt ? adj_tensor_f64(t, 1, s3, z) : adj_tensor_f32(t, 1, s3, zf);
        adj_var *sum = adj_sum(adj_mul(adj_add(y, b), adj_detach(x)));
        ck_assert_int_eq(adj_backward(sum), ADJ_OK);
        ck_assert_double_eq(adj_grad_at(b, 0), 4.0);
        ck_assert(isinf(adj_grad_at(b, 1)));
        ck_assert_double_eq(adj_grad_at(b, 2), 7.0);
        adj_tape_free(t);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("reduce");
    tcase_add_test(tc, axes_match_naive_loops);
    tcase_add_test(tc, infinite_terms);
    tcase_add_test(tc, extremum_ties_and_nan);
    tcase_add_test(tc, var_divisors);
    tcase_add_test(tc, softmax_any_axis);
    tcase_add_test(tc, f32_sums_in_double);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
