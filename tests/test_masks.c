/*
 * Masks and selection: comparisons, maximum and minimum (ties), detach.
 * Values and gradients here are worked out by hand; the op-table suites
 * check the same ops against finite differences.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <string.h>

/* Every comparison on a row-broadcast pair with ties: the masks by hand,
 * no gradient on the mask, and a backward through a masked product. */
START_TEST(comparisons_are_masks)
{
    adj_tape *t = adj_tape_new();
    int64_t s23[2] = {2, 3}, s3[1] = {3};
    adj_var *a = adj_tensor_f64(t, 2, s23, (double[]){1, 2, 3, 4, 5, 6});
    adj_var *b = adj_tensor_f64(t, 1, s3, (double[]){1, 5, 7}); /* row of a */
    static const struct {
        adj_var *(*fn)(adj_var *, adj_var *);
        double want[6];
    } rows[] = {
        {(adj_eq), {1, 0, 0, 0, 1, 0}}, {(adj_ne), {0, 1, 1, 1, 0, 1}},
        {(adj_lt), {0, 1, 1, 0, 0, 1}}, {(adj_le), {1, 1, 1, 0, 1, 1}},
        {(adj_gt), {0, 0, 0, 1, 0, 0}}, {(adj_ge), {1, 0, 0, 1, 1, 0}},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        adj_var *m = rows[r].fn(a, b);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        ck_assert_int_eq(adj_ndim(m), 2);
        ck_assert_int_eq(adj_requires_grad(m), 0);
        for (int i = 0; i < 6; i++)
            ck_assert_msg(adj_value_at(m, i) == rows[r].want[i], "row %zu element %d: %g", r, i,
                          adj_value_at(m, i));
    }
    /* L = sum(a * [a > 2.5]): dL/da is the mask itself */
    adj_var *m = adj_gt(a, adj_scalar(t, 2.5));
    adj_var *L = adj_sum(adj_mul(a, m));
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    ck_assert_double_eq(adj_item(L), 3 + 4 + 5 + 6);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(adj_grad_at(a, i), i >= 2 ? 1.0 : 0.0);
    /* float operands give a float mask; NaN compares unequal */
    adj_tape_reset(t);
    int64_t s2[1] = {2};
    adj_var *f = adj_tensor_f32(t, 1, s2, (float[]){NAN, 1.0f});
    adj_var *e = adj_eq(f, f), *n = adj_ne(f, f);
    ck_assert_int_eq(adj_var_dtype(e), ADJ_F32);
    ck_assert_double_eq(adj_value_at(e, 0), 0.0);
    ck_assert_double_eq(adj_value_at(e, 1), 1.0);
    ck_assert_double_eq(adj_value_at(n, 0), 1.0);
    ck_assert_double_eq(adj_value_at(n, 1), 0.0);
    /* the forward mode sees no tangent through a mask */
    adj_tape_reset(t);
    adj_var *x = adj_scalar(t, 2.0);
    adj_var *y = adj_mul(x, adj_ge(x, adj_scalar(t, 1.0)));
    ck_assert_double_eq(adj_jvp_item(y, x, 1.0), 1.0);
    adj_tape_free(t);
}
END_TEST

/* maximum and minimum: the larger (smaller) operand gets dy, a tie
 * splits it in halves; broadcast operands sum their contributions. */
START_TEST(maximum_minimum_ties)
{
    adj_tape *t = adj_tape_new();
    int64_t s4[1] = {4};
    adj_var *a = adj_tensor_f64(t, 1, s4, (double[]){1, 2, 3, -1});
    adj_var *b = adj_tensor_f64(t, 1, s4, (double[]){1, 5, 0, -1});
    adj_var *hi = adj_maximum(a, b), *lo = adj_minimum(a, b);
    const double whi[4] = {1, 5, 3, -1}, wlo[4] = {1, 2, 0, -1};
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq(adj_value_at(hi, i), whi[i]);
        ck_assert_double_eq(adj_value_at(lo, i), wlo[i]);
    }
    /* L = sum(max) + 10 sum(min) */
    adj_var *L = adj_add(adj_sum(hi), adj_scale(adj_sum(lo), 10.0));
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    const double ga[4] = {0.5 + 5, 10, 1, 0.5 + 5}, gb[4] = {0.5 + 5, 1, 10, 0.5 + 5};
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq(adj_grad_at(a, i), ga[i]);
        ck_assert_double_eq(adj_grad_at(b, i), gb[i]);
    }
    /* relu as maximum(x, 0) with a broadcast zero: the zero's adjoint is
     * the count of negative elements plus half the ties */
    adj_tape_reset(t);
    adj_var *x = adj_tensor_f64(t, 1, s4, (double[]){-2, 0, 3, -1});
    adj_var *z = adj_scalar(t, 0.0);
    ck_assert_int_eq(adj_backward(adj_sum(adj_maximum(x, z))), ADJ_OK);
    ck_assert_double_eq(adj_grad_item(z), 2.5);
    ck_assert_double_eq(adj_grad_at(x, 1), 0.5);
    ck_assert_double_eq(adj_grad_at(x, 2), 1.0);
    /* NaN propagates */
    adj_tape_reset(t);
    adj_var *n = adj_scalar(t, NAN), *one = adj_scalar(t, 1.0);
    ck_assert(isnan(adj_item(adj_maximum(n, one))));
    ck_assert(isnan(adj_item(adj_maximum(one, n))));
    ck_assert(isnan(adj_item(adj_minimum(n, one))));
    ck_assert(isnan(adj_item(adj_minimum(one, n))));
    adj_tape_free(t);
}
END_TEST

/* detach: same values, no adjoint and no tangent through it. */
START_TEST(detach_stops_gradients)
{
    adj_tape *t = adj_tape_new();
    int64_t s3[1] = {3};
    adj_var *x = adj_tensor_f64(t, 1, s3, (double[]){1, -2, 3});
    adj_var *d = adj_detach(x);
    ck_assert_int_eq(adj_requires_grad(d), 0);
    ck_assert_int_eq(adj_ndim(d), 1);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(adj_value_at(d, i), adj_value_at(x, i));
    /* L = sum(x * detach(x)): dL/dx = x, not 2x */
    ck_assert_int_eq(adj_backward(adj_sum(adj_mul(x, d))), ADJ_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(adj_grad_at(x, i), adj_value_at(x, i));
    /* scalar, forward mode: d/dx (x detach(x)) = detach(x) */
    adj_tape_reset(t);
    adj_var *s = adj_scalar(t, 1.5);
    ck_assert_double_eq(adj_jvp_item(adj_mul(s, adj_detach(s)), s, 1.0), 1.5);
    /* misuse: NULL has no tape; a var from before a reset is an error */
    ck_assert_ptr_null(adj_detach(NULL));
    adj_tape_reset(t);
    adj_var *y = adj_detach(s);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ETAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_detach"));
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "before adj_tape_reset"));
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "test_masks.c:"));
    ck_assert(isnan(adj_item(y)));
    adj_tape_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("masks");
    TCase *tc = tcase_create("masks");
    tcase_add_test(tc, comparisons_are_masks);
    tcase_add_test(tc, maximum_minimum_ties);
    tcase_add_test(tc, detach_stops_gradients);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
