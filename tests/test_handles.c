/*
 * Handles: a var kept past adj_tape_reset is refused by every function,
 * also when its slot holds a new node (the generation tag in the handle,
 * core/handle.h).  The sweep of every public function is in
 * test_misuse.c (stale_handles); these are the direct cases, and the tag
 * arithmetic of both forms on addresses made up for the purpose.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include "core/handle.h"

#include <math.h>
#include <string.h>

static void stale_msg(adj_tape *t, const char *fn)
{
    ck_assert_int_eq(adj_tape_status(t), ADJ_ETAPE);
    const char *msg = adj_tape_message(t);
    ck_assert_msg(strstr(msg, fn) && strstr(msg, "before adj_tape_reset"), "%s", msg);
}

/* The old handle's slot holds a new node of the same shape, and the
 * node's own record (tape, id, generation) says it is live: only the
 * handle knows it is old. */
START_TEST(reuse_after_reset)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 2.0), *w = adj_scalar(t, 3.0);
    ck_assert_double_eq(adj_item(adj_mul(x, w)), 6.0);
    adj_tape_reset(t);
    adj_var *x2 = adj_scalar(t, 5.0), *w2 = adj_scalar(t, 7.0);
    ck_assert_uint_eq(adj_var_id(x2), 0);
    ck_assert_uint_eq(adj_var_id(w2), 1);
    ck_assert_ptr_ne(x2, x); /* same node, another handle */
    /* the scalar fast path */
    adj_var *y = adj_mul(x, w2);
    stale_msg(t, "adj_mul");
    ck_assert(isnan(adj_item(y)));
    /* the general path, an input in second place */
    adj_tape_reset(t);
    adj_var *a = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){1, 2}));
    adj_var *b = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){3, 4}));
    adj_tape_reset(t);
    adj_var *a2 = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){1, 2}));
    adj_add(a2, b);
    stale_msg(t, "adj_add");
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "input b"));
    /* the new handles work after the error is reset away */
    adj_tape_reset(t);
    a2 = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){1, 2}));
    adj_var *s = adj_sum(adj_square(a2));
    ck_assert_int_eq(adj_backward(s), ADJ_OK);
    ck_assert_double_eq(adj_grad_at(a2, 1), 4.0);
    /* backward from an old output */
    adj_backward(y);
    stale_msg(t, "adj_backward");
    (void)a;
    adj_tape_free(t);
}
END_TEST

/* The accessors of an old handle give what they give for NULL; they
 * cannot fail, so the tape records nothing. */
START_TEST(accessors)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 2, ((int64_t[]){2, 3}), NULL);
    adj_tape_reset(t);
    adj_var *x2 = adj_tensor_f64(t, 2, ((int64_t[]){2, 3}), NULL);
    ck_assert_int_eq(adj_ndim(x2), 2);
    ck_assert_int_eq(adj_ndim(x), -1);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK); /* accessors record nothing */
    ck_assert_uint_eq(adj_numel(x), 0);
    ck_assert_int_eq(adj_dim(x, 0), -1);
    ck_assert(isnan(adj_value_at(x, 0)));
    ck_assert(isnan(adj_grad_at(x, 0)));
    ck_assert_ptr_null(adj_data(x));
    ck_assert_ptr_null(adj_grad_data(x));
    ck_assert_ptr_null(adj_var_tape(x));
    double buf[6];
    ck_assert_int_eq(adj_copy_value(x, buf), ADJ_ETAPE);
    ck_assert_int_eq(adj_copy_grad(x, buf), ADJ_ETAPE);
    char sh[32];
    adj_shape_string(x, sh, sizeof sh);
    ck_assert_str_eq(sh, "(null)");
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_ndim(x2), 2);
    adj_tape_free(t);
}
END_TEST

/* Across the wrap of the tag (2^15 resets in the high form, 63 in the
 * low form) a fresh handle always works and the previous reset's handle
 * is always refused: no generation's tag is 0. */
START_TEST(wrap)
{
    adj_tape *t = adj_tape_new();
    adj_var *prev = adj_scalar(t, 1.0);
    for (long k = 1; k <= (1L << 16) + 3; k++) {
        adj_tape_reset(t);
        adj_var *x = adj_scalar(t, (double)k);
        ck_assert_double_eq(adj_item(adj_add(x, x)), 2.0 * (double)k);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        adj_add(x, prev); /* prev's slot holds x */
        ck_assert_msg(adj_tape_status(t) == ADJ_ETAPE, "reset %ld: the previous handle passed", k);
        prev = x;
    }
    adj_tape_free(t);
}
END_TEST

/* Two tapes count their resets apart: a handle of one tape is checked
 * against its own tape. */
START_TEST(two_tapes)
{
    adj_tape *t1 = adj_tape_new(), *t2 = adj_tape_new();
    adj_var *a = adj_scalar(t1, 2.0);
    for (int k = 0; k < 5; k++)
        adj_tape_reset(t2);
    adj_var *b = adj_scalar(t2, 3.0);
    ck_assert_double_eq(adj_item(adj_mul(a, a)), 4.0);
    ck_assert_double_eq(adj_item(adj_mul(b, b)), 9.0);
    adj_mul(a, b);
    ck_assert_int_eq(adj_tape_status(t1), ADJ_ETAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t1), "another tape"));
    ck_assert_int_eq(adj_tape_status(t2), ADJ_OK);
    adj_tape_reset(t1);
    ck_assert_double_eq(adj_item(b), 3.0); /* t1's reset leaves t2's handles alone */
    ck_assert(isnan(adj_item(a)));
    adj_exp(a);
    stale_msg(t1, "adj_exp");
    adj_tape_free(t1);
    adj_tape_free(t2);
}
END_TEST

/* A var the library hands out is tagged; the nodes it reads from inputs
 * are not, and public functions take both. */
START_TEST(untagged_inputs)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 2.0);
    adj_var *y = adj_exp(x);
    adj_var *node = adj_h_raw(y);
    ck_assert_ptr_ne(node, y);
    adj_var *in = node->in[0];
    ck_assert_ptr_eq(in, adj_h_raw(x));
    ck_assert_double_eq_tol(adj_item(adj_mul(in, y)), 2.0 * exp(2.0), 1e-12);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_tape_free(t);
}
END_TEST

/* The tag arithmetic of both forms, on made-up addresses (never read). */
START_TEST(forms)
{
    const uintptr_t lo = (uintptr_t)0x7f12345678c0u;
    for (uint32_t gen = 0; gen < 200000; gen += 997) {
        uintptr_t h = adj_h_make(lo, gen);
        ck_assert(h != lo);
        ck_assert(adj_h_addr(h) == lo);
        ck_assert(adj_h_current(h, gen));
        ck_assert(!adj_h_current(h, gen + 1));
        ck_assert(adj_h_current(lo, gen)); /* untagged */
#if ADJ_H_HIGH
        ck_assert(h & ADJ_H_MARK); /* below 2^47: the high form */
        ck_assert(adj_h_current(h, gen + (1u << 15))); /* the tag repeats after 2^15 */
        /* above 2^47: the low form, the address bits kept */
        uintptr_t hi = ((uintptr_t)1 << 52) + 0x1000c0u;
        uintptr_t g = adj_h_make(hi, gen);
        ck_assert(!(g & ADJ_H_MARK));
        ck_assert(adj_h_addr(g) == hi);
        ck_assert(adj_h_current(g, gen));
        ck_assert(!adj_h_current(g, gen + 1));
        ck_assert(adj_h_current(g, gen + 63));
        ck_assert(adj_h_addr(hi) == hi);
        ck_assert(adj_h_current(hi, gen));
#endif
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("handles");
    TCase *tc = tcase_create("handles");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reuse_after_reset);
    tcase_add_test(tc, accessors);
    tcase_add_test(tc, wrap);
    tcase_add_test(tc, two_tapes);
    tcase_add_test(tc, untagged_inputs);
    tcase_add_test(tc, forms);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
