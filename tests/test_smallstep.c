/*
 * The paths a step of a small model takes: the first sweep of a tape that
 * holds parameters, which checks their stores without a pass over the
 * tape when none can have moved, and must still catch every moved one the
 * output depends on (and only those) when one may have; and linear's
 * bias adjoint, whose column sums take a loop of their own for a few
 * columns, against a plain loop in double; leaves that read caller
 * memory, made in one pass, against copying leaves.
 */
#include <adjoint.h>

#include "check_util.h"
#include "core/tape.h"
#include "ops/gemm.h"

#include <stdint.h>
#include <stdlib.h>
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

/* db += the column sums of dz (m, out; rows ld apart), each summed in
 * double from 0 over the rows in order and added to db in double once:
 * the bits adj_linear_col_sums_f32 must give, for few columns (its own
 * loop) and many (blocks of columns), with rows longer than out, no
 * rows, and columns of -0 (a sum started from the first row would keep
 * their -0). */
START_TEST(bias_col_sums)
{
    const size_t ms[] = {0, 1, 2, 3, 4, 7, 64}, outs[] = {1, 2, 3, 5, 8, 15, 16, 17, 300};
    uint64_t seed = 7;
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof outs / sizeof outs[0]; b++)
            for (size_t pad = 0; pad < 2; pad++) {
                const size_t m = ms[a], out = outs[b], ld = out + 3 * pad;
                float *dz = malloc((m ? m : 1) * ld * sizeof *dz), *db = malloc(out * sizeof *db),
                      *ref = malloc(out * sizeof *ref);
                for (size_t i = 0; i < m * ld; i++) {
                    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                    dz[i] = (float)((double)(seed >> 11) / 9007199254740992.0 * 2.0 - 1.0) *
                            (i % 5 == 0 ? 1e6f : 1.0f); /* magnitudes that make the order show */
                }
                for (size_t j = 0; j < out; j++)
                    db[j] = ref[j] = (float)j * 0.25f - 1.0f;
                /* columns of -0 added to a db of -0: the sum from 0 gives +0 */
                for (size_t j = 3; j < out; j += 4) {
                    for (size_t r = 0; r < m; r++)
                        dz[r * ld + j] = -0.0f;
                    db[j] = ref[j] = -0.0f;
                }
                for (size_t j = 0; j < out; j++) {
                    double s = 0;
                    for (size_t r = 0; r < m; r++)
                        s += (double)dz[r * ld + j];
                    ref[j] = (float)((double)ref[j] + s);
                }
                adj_linear_col_sums_f32(dz, m, out, ld, db);
                ck_assert_msg(memcmp(db, ref, out * sizeof *db) == 0, "m %zu out %zu ld %zu", m,
                              out, ld);
                free(dz);
                free(db);
                free(ref);
            }
}
END_TEST

/* A linear layer's bias adjoint through the op, f32, 1 and 2 threads:
 * the plain loop's sums for a small (m, out) and a large one. */
START_TEST(bias_grad_through_linear)
{
    const int64_t shapes[][3] = {{4, 2, 8}, {3, 5, 1}, {1024, 3, 40}};
    for (int th = 1; th <= 2; th++)
        for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
            adj_set_threads(th);
            const int64_t m = shapes[c][0], in = shapes[c][1], out = shapes[c][2];
            float *x = malloc((size_t)(m * in) * sizeof *x), *w = malloc((size_t)(out * in) * sizeof *w);
            float *b = malloc((size_t)out * sizeof *b), *s = malloc((size_t)(m * out) * sizeof *s);
            for (int64_t i = 0; i < m * in; i++)
                x[i] = (float)((i * 7) % 13) * 0.125f - 0.5f;
            for (int64_t i = 0; i < out * in; i++)
                w[i] = (float)((i * 5) % 11) * 0.25f - 1.0f;
            for (int64_t i = 0; i < out; i++)
                b[i] = (float)i * 0.5f;
            for (int64_t i = 0; i < m * out; i++)
                s[i] = (float)((i * 3) % 17) * 0.75f - 3.0f;
            adj_tape *t = adj_tape_new();
            adj_var *xv = adj_constant_f32(t, 2, ((int64_t[]){m, in}), x);
            adj_var *wv = adj_tensor_f32(t, 2, ((int64_t[]){out, in}), w);
            adj_var *bv = adj_tensor_f32(t, 1, ((int64_t[]){out}), b);
            adj_var *z = adj_linear(xv, wv, bv);
            /* loss = sum(z * s): dz = s */
            adj_var *y = adj_sum(adj_mul(z, adj_constant_f32(t, 2, ((int64_t[]){m, out}), s)));
            ck_assert_int_eq(adj_backward(y), ADJ_OK);
            const float *g = adj_grad_data(bv);
            for (int64_t j = 0; j < out; j++) {
                double acc = 0;
                for (int64_t r = 0; r < m; r++)
                    acc += (double)s[r * out + j];
                ck_assert_msg(g[j] == (float)(0.0 + acc), "shape %zu column %lld: %g vs %g", c,
                              (long long)j, (double)g[j], acc);
            }
            adj_tape_free(t);
            free(x);
            free(w);
            free(b);
            free(s);
        }
    adj_set_threads(1);
}
END_TEST

/* A leaf that reads caller memory (constant_view, tensor_view, a
 * parameter) is made in one pass: the same var as a copying leaf of the
 * same data (dtype, shape, values, gradient of sum(x * x)), reading the
 * data in place, shapes of 0 to 4 dimensions (past 3 the shape is in the
 * arena) and 0 elements; bad inputs give the messages they gave. */
START_TEST(view_leaf_direct)
{
    static const float data[6] = {1, -2, 3, 0.5f, -1, 4};
    static const int64_t shp[5][4] = {{0}, {6}, {2, 3}, {1, 2, 3}, {1, 2, 3, 1}};
    for (int nd = 0; nd <= 4; nd++)
        for (int grad = 0; grad < 2; grad++) {
            adj_tape *t = adj_tape_new();
            adj_var *v = grad ? adj_tensor_view(t, ADJ_F32, nd, shp[nd], data)
                              : adj_constant_view(t, ADJ_F32, nd, shp[nd], data);
            adj_var *c = grad ? adj_tensor_f32(t, nd, shp[nd], data)
                              : adj_constant_f32(t, nd, shp[nd], data);
            ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
            ck_assert_ptr_eq(adj_data(v), data);
            ck_assert_int_eq(adj_var_dtype(v), adj_var_dtype(c));
            ck_assert_int_eq(adj_ndim(v), nd);
            ck_assert_uint_eq(adj_numel(v), adj_numel(c));
            for (int k = 0; k < nd; k++)
                ck_assert_int_eq(adj_dim(v, k), adj_dim(c, k));
            ck_assert_int_eq(memcmp(adj_data(c), data, adj_numel(c) * sizeof(float)), 0);
            adj_var *loss = adj_add(adj_sum(adj_mul(v, v)), adj_sum(adj_mul(c, c)));
            ck_assert_int_eq(adj_backward(loss), ADJ_OK);
            if (grad) {
                const float *gv = adj_grad_data(v), *gc = adj_grad_data(c);
                ck_assert_ptr_nonnull(gv);
                for (size_t i = 0; i < adj_numel(v); i++)
                    ck_assert(gv[i] == gc[i] && gv[i] == 2 * data[i]);
            }
            adj_tape_free(t);
        }
    /* no elements: any pointer, NULL too */
    adj_tape *t = adj_tape_new();
    adj_var *e = adj_constant_view(t, ADJ_F64, 2, ((int64_t[]){3, 0}), NULL);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_uint_eq(adj_numel(e), 0);
    ck_assert_int_eq(adj_dim(e, 0), 3);
    adj_tape_free(t);

    static const int64_t negative[2] = {2, -3};
    static const struct {
        int dtype, ndim, grad;
        const int64_t *shape;
        adj_status s;
        const char *msg;
    } bad[] = {
        {9, 1, 0, shp[1], ADJ_EINVAL, "adj_constant_view: invalid dtype 9"},
        {ADJ_I32, 1, 1, shp[1], ADJ_EDTYPE,
         "adj_tensor_view: an index tensor (i32) takes no gradient"},
        {ADJ_F32, -1, 0, shp[1], ADJ_EINVAL,
         "adj_constant_view: invalid shape (NULL) (-1 dimensions): 0..8 dimensions, sizes >= 0, "
         "not too many elements"},
        {ADJ_F32, 9, 1, shp[1], ADJ_EINVAL,
         "adj_tensor_view: invalid shape (NULL) (9 dimensions): 0..8 dimensions, sizes >= 0, "
         "not too many elements"},
        {ADJ_F64, 2, 0, NULL, ADJ_EINVAL,
         "adj_constant_view: invalid shape (NULL) (2 dimensions): 0..8 dimensions, sizes >= 0, "
         "not too many elements"},
        {ADJ_F64, 2, 1, negative, ADJ_EINVAL,
         "adj_tensor_view: invalid shape (2,-3) (2 dimensions): 0..8 dimensions, sizes >= 0, "
         "not too many elements"},
    };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        t = adj_tape_new();
        adj_var *x = bad[b].grad
                         ? adj_tensor_view_at(t, bad[b].dtype, bad[b].ndim, bad[b].shape, data, "f.c", 3)
                         : adj_constant_view_at(t, bad[b].dtype, bad[b].ndim, bad[b].shape, data, "f.c", 3);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(adj_tape_status(t), bad[b].s);
        const char *msg = adj_tape_message(t);
        ck_assert_msg(strncmp(msg, bad[b].msg, strlen(bad[b].msg)) == 0 && strstr(msg, "f.c:3"),
                      "case %zu: %s", b, msg);
        /* the tape stays failed: nothing more is recorded */
        ck_assert_int_eq(adj_tape_status(t), bad[b].s);
        adj_tape_free(t);
    }
}
END_TEST

/* The element count of a shape skips its overflow division while the
 * product and the size are below 2^30: the same answers as checking
 * every size by division, on sizes around 2^30, 2^31, 2^60 and SIZE_MAX,
 * zeros, negatives, and 0 to 9 dimensions. */
static bool numel_by_division(int ndim, const int64_t *shape, size_t *out)
{
    size_t n = 1;
    if (ndim < 0 || ndim > ADJ_MAX_DIMS)
        return false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return false;
        if (shape[i] != 0 && n > SIZE_MAX / 16 / (size_t)shape[i])
            return false;
        n *= (size_t)shape[i];
    }
    *out = n;
    return true;
}

START_TEST(shape_numel_fast)
{
    const int64_t v[] = {0, 1, 2, 3, 7, 1023, 1024, 65536, ((int64_t)1 << 30) - 1, (int64_t)1 << 30,
                         ((int64_t)1 << 30) + 1, (int64_t)1 << 31, ((int64_t)1 << 60) - 1,
                         (int64_t)1 << 60, INT64_MAX, -1, INT64_MIN};
    const size_t nv = sizeof v / sizeof v[0];
    adj_rng r;
    adj_rng_seed(&r, 7);
    for (int trial = 0; trial < 20000; trial++) {
        int64_t sh[ADJ_MAX_DIMS + 1];
        const int ndim = trial < 2 * (int)nv ? 1 + trial % 2 : (int)adj_rng_below(&r, ADJ_MAX_DIMS + 2);
        for (int d = 0; d < ndim; d++)
            sh[d] = trial < 2 * (int)nv ? v[(size_t)trial / 2] : v[adj_rng_below(&r, nv - 2)];
        if (trial % 7 == 0 && ndim > 0)
            sh[adj_rng_below(&r, (uint64_t)ndim)] = v[nv - 1 - adj_rng_below(&r, 2)];
        size_t a = 12345, b = 12345;
        const bool fa = adj_shape_numel(ndim, sh, &a), fb = numel_by_division(ndim, sh, &b);
        ck_assert_msg(fa == fb && a == b, "trial %d ndim %d: %d %zu vs %d %zu", trial, ndim, fa, a, fb, b);
    }
    size_t n = 0;
    ck_assert(!adj_shape_numel(-1, NULL, &n));
    ck_assert(adj_shape_numel(0, NULL, &n) && n == 1);
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
    tcase_add_test(tc, view_leaf_direct);
    tcase_add_test(tc, shape_numel_fast);
    suite_add_tcase(s, tc);
    TCase *lb = tcase_create("linear bias");
    tcase_add_test(lb, bias_col_sums);
    tcase_add_test(lb, bias_grad_through_linear);
    suite_add_tcase(s, lb);
    return s;
}

ADJ_CHECK_MAIN(suite)
