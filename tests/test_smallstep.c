/*
 * The paths a step of a small model takes: the first sweep of a tape that
 * holds parameters, which checks their stores without a pass over the
 * tape when none can have moved, and must still catch every moved one the
 * output depends on (and only those) when one may have.
 */
#include <adjoint.h>

#include "check_util.h"

#include <string.h>

static const int64_t shape22[] = {2, 2};

static adj_params *store_of(const char *name)
{
    adj_params *p = adj_params_new(ADJ_F64);
    ck_assert_int_eq(adj_params_add(p, name, 2, shape22), 0);
    double *v = adj_params_value(p, 0);
    for (int i = 0; i < 4; i++)
        v[i] = i + 1;
    return p;
}

/* enough elements that the blocks are reallocated */
static void grow(adj_params *p) { ck_assert_int_gt(adj_params_add(p, "late", 1, ((int64_t[]){4096})), 0); }

static void moved_msg(adj_tape *t, const char *name)
{
    const char *msg = adj_tape_message(t);
    ck_assert_msg(strstr(msg, "adj_backward") && strstr(msg, name) && strstr(msg, "adj_params_add"),
                  "%s", msg);
}

/* One store, no move: the gradients of a sweep and of a second sweep (which
 * takes the clearing pass) are those of the formula: d sum(w^2) = 2 w,
 * accumulated in the store. */
START_TEST(one_store_current)
{
    adj_tape *t = adj_tape_new();
    adj_params *p = store_of("w");
    adj_var *w = adj_param(t, p, 0), *w2 = adj_param(t, p, 0);
    adj_var *y = adj_sum(adj_mul(w, w2));
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    const double *g = adj_params_grad(p, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(g[i], 2.0 * (i + 1));
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(g[i], 4.0 * (i + 1));
    adj_params_free(p);
    adj_tape_free(t);
}
END_TEST

/* One store that grew after its parameters were put on the tape: a
 * reached parameter is reported; an unreached one is not. */
START_TEST(one_store_moved)
{
    for (int reached = 0; reached < 2; reached++) {
        adj_tape *t = adj_tape_new();
        adj_params *p = store_of("w");
        adj_var *x = adj_tensor_f64(t, 2, shape22, ((double[]){1, 2, 3, 4}));
        adj_var *w = adj_param(t, p, 0);
        adj_var *y = reached ? adj_sum(adj_mul(x, w)) : adj_sum(adj_mul(x, x));
        grow(p);
        ck_assert_int_eq(adj_backward(y), reached ? ADJ_ESTATE : ADJ_OK);
        if (reached)
            moved_msg(t, "'w'");
        else
            ck_assert_double_eq(adj_grad_at(x, 3), 8.0);
        adj_params_free(p);
        adj_tape_free(t);
    }
}
END_TEST

/* Two stores, one of which grew: only a reached parameter of the grown
 * store is reported, whichever store was put on the tape first. */
START_TEST(two_stores)
{
    for (int c = 0; c < 4; c++) {
        const int grown_first = c & 1, reached = c >> 1;
        adj_tape *t = adj_tape_new();
        adj_params *a = store_of("a"), *b = store_of("b");
        adj_var *pa, *pb;
        if (grown_first) {
            pb = adj_param(t, b, 0);
            pa = adj_param(t, a, 0);
        } else {
            pa = adj_param(t, a, 0);
            pb = adj_param(t, b, 0);
        }
        adj_var *y = reached ? adj_sum(adj_mul(pa, pb)) : adj_sum(adj_mul(pa, pa));
        grow(b);
        ck_assert_int_eq(adj_backward(y), reached ? ADJ_ESTATE : ADJ_OK);
        if (reached) {
            moved_msg(t, "'b'");
        } else {
            const double *g = adj_params_grad(a, 0);
            for (int i = 0; i < 4; i++)
                ck_assert_double_eq(g[i], 2.0 * (i + 1));
        }
        adj_params_free(a);
        adj_params_free(b);
        adj_tape_free(t);
    }
}
END_TEST

/* One store whose parameters were put on the tape at two tensor counts:
 * the one taken before the store grew is stale, the later one is not. */
START_TEST(one_store_two_counts)
{
    for (int reached = 0; reached < 2; reached++) {
        adj_tape *t = adj_tape_new();
        adj_params *p = store_of("w");
        adj_var *old = adj_param(t, p, 0);
        adj_var *y0 = adj_sum(adj_mul(old, old));
        grow(p);
        adj_var *now = adj_param(t, p, 0);
        adj_var *y1 = adj_sum(adj_mul(now, now));
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        ck_assert_int_eq(adj_backward(reached ? y0 : y1), reached ? ADJ_ESTATE : ADJ_OK);
        if (reached) {
            moved_msg(t, "'w'");
        } else {
            const double *g = adj_params_grad(p, 0);
            for (int i = 0; i < 4; i++)
                ck_assert_double_eq(g[i], 2.0 * (i + 1));
        }
        adj_params_free(p);
        adj_tape_free(t);
    }
}
END_TEST

/* After a reset the tape forgets its parameters' stores: a store that
 * grew before the reset is fine, and one that grows after is caught. */
START_TEST(reset_forgets)
{
    adj_tape *t = adj_tape_new();
    adj_params *a = store_of("a"), *b = store_of("b");
    adj_param(t, a, 0);
    adj_param(t, b, 0);
    grow(a);
    adj_tape_reset(t);
    adj_var *w = adj_param(t, b, 0);
    ck_assert_int_eq(adj_backward(adj_sum(adj_mul(w, w))), ADJ_OK);
    adj_tape_reset(t);
    w = adj_param(t, b, 0);
    adj_var *y = adj_sum(adj_mul(w, w));
    grow(b);
    ck_assert_int_eq(adj_backward(y), ADJ_ESTATE);
    moved_msg(t, "'b'");
    adj_params_free(a);
    adj_params_free(b);
    adj_tape_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("smallstep");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, one_store_current);
    tcase_add_test(tc, one_store_moved);
    tcase_add_test(tc, two_stores);
    tcase_add_test(tc, one_store_two_counts);
    tcase_add_test(tc, reset_forgets);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
