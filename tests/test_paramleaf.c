/*
 * The leaf of a parameter (adj_param) is written by adj_param itself for a
 * tensor of up to ADJ_SHAPE_INLINE dimensions; adj_param_general takes the
 * general leaf path (adj_leaf_view_as).  Two stores built alike, one
 * recorded each way on its own tape: the same node (every field), the same
 * tape state, the same value and adjoint bits after a backward with lazily
 * zeroed gradients, f32 and f64, 0-D to 4-D tensors, 1 and 2 threads.  And
 * the failures (no tape, a tape in error, a bad index, a NULL store, out of
 * memory, a moved store, a stale handle, anomaly mode) give the same
 * status and message.
 */
#include <adjoint.h>

#include "check_util.h"
#include "core/handle.h"
#include "core/tape.h"

#include <math.h>
#include <string.h>

static const char *const FILE_ = "caller.c";

static const int64_t S0[1] = {1}, S1[] = {7}, S2[] = {3, 5}, S3[] = {2, 3, 4}, S4[] = {2, 1, 3, 2},
                     S5[] = {1};
static const struct {
    int ndim;
    const int64_t *shape;
} SHAPES[] = {{0, S0}, {1, S5}, {1, S1}, {2, S2}, {3, S3}, {4, S4}};
#define NSHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static adj_params *store(adj_dtype dt)
{
    adj_params *p = adj_params_new(dt);
    for (int i = 0; i < NSHAPES; i++)
        ck_assert_int_eq(adj_params_add(p, "w", SHAPES[i].ndim, SHAPES[i].shape), i);
    const size_t n = adj_params_numel(p);
    for (size_t k = 0; k < n; k++) {
        const double x = 0.25 * (double)k - 1.5;
        if (dt == ADJ_F32)
            ((float *)adj_params_values(p))[k] = (float)x;
        else
            ((double *)adj_params_values(p))[k] = x;
    }
    return p;
}

static void same_leaf(const adj_var *ha, const adj_var *hb, const adj_params *pa,
                      const adj_params *pb, const char *what)
{
    const adj_var *a = adj_h_raw(ha), *b = adj_h_raw(hb);
    const adj_node_info *ca = adj_cold(a), *cb = adj_cold(b);
    ck_assert_msg(a->op == b->op && a->dtype == b->dtype && a->ndim == b->ndim &&
                      a->flags == b->flags && a->mark == b->mark,
                  "%s: hot fields differ", what);
    ck_assert_msg(!a->in[0] && !a->in[1] && !a->in[2] && !b->in[0] && !b->in[1] && !b->in[2],
                  "%s: inputs set", what);
    ck_assert_msg(memcmp(&a->inl_value, &b->inl_value, sizeof a->inl_value) == 0,
                  "%s: inline value differs", what);
    ck_assert_msg(ca->id == cb->id && ca->gen == cb->gen && ca->line == cb->line &&
                      ca->file == cb->file && ca->nin == cb->nin && ca->numel == cb->numel,
                  "%s: cold fields differ", what);
    const bool inl = a->ndim <= ADJ_SHAPE_INLINE;
    ck_assert_msg((ca->shape == adj_ext(a)->shape_in) == inl &&
                      (cb->shape == adj_ext(b)->shape_in) == inl,
                  "%s: shape inline on one path only", what);
    for (int k = 0; k < a->ndim; k++)
        ck_assert_msg(ca->shape[k] == cb->shape[k], "%s: size %d differs", what, k);
    ck_assert_msg(!adj_ext(a)->more && !adj_ext(b)->more, "%s: input/stride pointer set", what);
    const char *va = adj_params_values((adj_params *)pa), *vb = adj_params_values((adj_params *)pb);
    const char *ga = adj_params_grads((adj_params *)pa), *gb = adj_params_grads((adj_params *)pb);
    ck_assert_msg((const char *)a->value - va == (const char *)b->value - vb &&
                      (const char *)a->grad - ga == (const char *)b->grad - gb,
                  "%s: value or adjoint pointer differs", what);
    /* the store reference: the store itself differs, its index and count not */
    const size_t sp = sizeof(void *);
    ck_assert_msg(memcmp((const char *)&adj_ext(a)->attr_buf + sp,
                         (const char *)&adj_ext(b)->attr_buf + sp, 2 * sizeof(int)) == 0,
                  "%s: store reference differs", what);
    ck_assert_msg(memcmp(&adj_ext(a)->attr_buf, &pa, sp) == 0 &&
                      memcmp(&adj_ext(b)->attr_buf, &pb, sp) == 0,
                  "%s: store pointer", what);
}

static void same_tape(const adj_tape *a, const adj_tape *b, const adj_params *pa,
                      const adj_params *pb, const char *what)
{
    ck_assert_msg(a->nnodes == b->nnodes && a->params == b->params && a->pmixed == b->pmixed &&
                      a->pcount == b->pcount && (a->pstore == pa) == (b->pstore == pb) &&
                      a->rec_fn == b->rec_fn && a->rec_file == b->rec_file &&
                      a->rec_line == b->rec_line && a->status == b->status,
                  "%s: tape state differs", what);
}

static void one_dtype(adj_dtype dt)
{
    char what[96];
    adj_params *p[2] = {store(dt), store(dt)};
    adj_params *q[2] = {store(dt), store(dt)}; /* a second store: pmixed */
    adj_tape *t[2] = {adj_tape_new(), adj_tape_new()};
    for (int round = 0; round < 3; round++) {
        adj_var *loss[2] = {NULL, NULL};
        adj_var *leaf[2][NSHAPES];
        for (int s = 0; s < 2; s++) {
            adj_tape_reset(t[s]);
            adj_params_zero_grad_lazy(p[s]);
            /* ids not from 0, and nodes left in the chunk by the last
             * round (inline values) where this round's leaves go */
            for (int k = 0; k <= round; k++)
                (void)adj_scalar(t[s], 0.5);
        }
        for (int i = 0; i < NSHAPES; i++) {
            for (int s = 0; s < 2; s++) {
                adj_params *st = round == 2 && i == 3 ? q[s] : p[s];
                leaf[s][i] = s ? adj_param_general(t[s], st, i, FILE_, 10 + i)
                               : adj_param_at(t[s], st, i, FILE_, 10 + i);
            }
            snprintf(what, sizeof what, "dtype %d round %d tensor %d threads %d", dt, round, i,
                     adj_get_threads());
            same_tape(t[0], t[1], p[0], p[1], what);
            for (int s = 0; s < 2; s++) {
                adj_var *term = adj_sum(adj_mul(leaf[s][i], leaf[s][i]));
                loss[s] = loss[s] ? adj_add(loss[s], term) : term;
            }
        }
        for (int i = 0; i < NSHAPES; i++) {
            snprintf(what, sizeof what, "dtype %d round %d tensor %d threads %d", dt, round, i,
                     adj_get_threads());
            adj_params *st0 = round == 2 && i == 3 ? q[0] : p[0];
            adj_params *st1 = round == 2 && i == 3 ? q[1] : p[1];
            same_leaf(leaf[0][i], leaf[1][i], st0, st1, what);
        }
        same_tape(t[0], t[1], p[0], p[1], "after the leaves");
        for (int s = 0; s < 2; s++)
            ck_assert_int_eq(adj_backward(loss[s]), ADJ_OK);
        const size_t bytes = adj_params_numel(p[0]) * (dt == ADJ_F32 ? 4 : 8);
        ck_assert_msg(memcmp(adj_params_grads(p[0]), adj_params_grads(p[1]), bytes) == 0,
                      "dtype %d round %d: adjoint bits differ", dt, round);
        for (int i = 0; i < NSHAPES; i++)
            ck_assert_msg(memcmp(adj_grad_data(leaf[0][i]), adj_grad_data(leaf[1][i]),
                                 adj_numel(leaf[0][i]) * (dt == ADJ_F32 ? 4 : 8)) == 0,
                          "dtype %d round %d tensor %d: leaf adjoint differs", dt, round, i);
    }
    for (int s = 0; s < 2; s++) {
        adj_tape_free(t[s]);
        adj_params_free(p[s]);
        adj_params_free(q[s]);
    }
}

START_TEST(same_leaf_both_paths)
{
    for (int threads = 1; threads <= 2; threads++) {
        adj_set_threads(threads);
        one_dtype(ADJ_F32);
        one_dtype(ADJ_F64);
    }
    adj_set_threads(1);
}
END_TEST

static adj_var *rec(int s, adj_tape *t, adj_params *p, int i, int line)
{
    return s ? adj_param_general(t, p, i, FILE_, line) : adj_param_at(t, p, i, FILE_, line);
}

START_TEST(failures_keep_messages)
{
    adj_params *p[2] = {store(ADJ_F64), store(ADJ_F64)};
    adj_tape *t[2];
    adj_var *r[2];
    ck_assert(!rec(0, NULL, p[0], 0, 1) && !rec(1, NULL, p[1], 0, 1));
    for (int s = 0; s < 2; s++) {
        t[s] = adj_tape_new();
        r[s] = rec(s, t[s], p[s], NSHAPES, 2);
    }
    check_same_failure(t[0], t[1], r[0], r[1], "bad index");
    for (int s = 0; s < 2; s++)
        r[s] = rec(s, t[s], p[s], 0, 3); /* the tape keeps its error */
    check_same_failure(t[0], t[1], r[0], r[1], "tape in error");
    ck_assert(adj_requires_grad(r[0]) == adj_requires_grad(r[1]));
    for (int s = 0; s < 2; s++) {
        adj_tape_reset(t[s]);
        r[s] = rec(s, t[s], NULL, 0, 4);
    }
    check_same_failure(t[0], t[1], r[0], r[1], "NULL store");
    /* out of memory: leaves until the tape's limit refuses a node */
    for (int s = 0; s < 2; s++) {
        adj_tape_reset(t[s]);
        adj_tape_set_limit(t[s], 2u << 20);
        int n = 0;
        while (adj_tape_status(t[s]) == ADJ_OK && n < 10000000)
            r[s] = rec(s, t[s], p[s], n++ % NSHAPES, 5);
        ck_assert_int_eq(adj_tape_status(t[s]), ADJ_ENOMEM);
        adj_tape_set_limit(t[s], 0);
    }
    check_same_failure(t[0], t[1], r[0], r[1], "out of memory");
    /* a moved store: an op given the leaf */
    for (int s = 0; s < 2; s++) {
        adj_tape_reset(t[s]);
        adj_var *w = rec(s, t[s], p[s], 2, 6);
        ck_assert_int_gt(adj_params_add(p[s], "late", 1, ((int64_t[]){4096})), 0);
        r[s] = adj_exp(w);
        ck_assert(isnan(adj_value_at(w, 0)));
    }
    check_same_failure(t[0], t[1], r[0], r[1], "moved store");
    /* a stale handle */
    for (int s = 0; s < 2; s++) {
        adj_tape_reset(t[s]);
        adj_var *w = rec(s, t[s], p[s], 2, 7);
        adj_tape_reset(t[s]);
        r[s] = adj_exp(w);
    }
    check_same_failure(t[0], t[1], r[0], r[1], "stale handle");
    /* anomaly mode: a NaN in the parameter */
    for (int s = 0; s < 2; s++) {
        adj_tape_reset(t[s]);
        adj_tape_set_anomaly(t[s], 1);
        ((double *)adj_params_values(p[s]))[adj_params_numel(p[s]) - 1] = NAN;
        r[s] = rec(s, t[s], p[s], NSHAPES - 1, 8);
        r[s] = rec(s, t[s], p[s], NSHAPES, 8); /* the last tensor added: "late" */
    }
    check_same_failure(t[0], t[1], r[0], r[1], "anomaly");
    for (int s = 0; s < 2; s++) {
        adj_tape_free(t[s]);
        adj_params_free(p[s]);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("paramleaf");
    TCase *tc = tcase_create("paramleaf");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, same_leaf_both_paths);
    tcase_add_test(tc, failures_keep_messages);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
