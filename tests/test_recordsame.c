/*
 * The short recording path of an elementwise op of one input without a
 * constant (adj_record_same1, which the public functions of tanh, exp,
 * ... take): every such op of the table, on inputs of 0 to 4 dimensions
 * (odd sizes, 1 to 17 elements and longer), contiguous, strided and
 * contiguous views, with and without a gradient, f32 and f64, every CPU
 * level, 1 and 2 threads, against adj_record on a second tape recorded
 * the same way: the same node (every field), the same value and gradient
 * bits.  And the calls the short path hands to adj_record (a NULL input,
 * an index tensor, a stale handle, a tape with an error, a moved
 * parameter, too little memory, anomaly mode) give the same messages.
 */
#include <adjoint.h>

#include "check_util.h"
#include "core/handle.h"
#include "core/tape.h"
#include "ops/dispatch.h"
#include "ops/op.h"

#include <string.h>

static const char *const FILE_ = "caller.c";

/* The ops the short path serves (it checks the same itself). */
static bool served(int op)
{
    const adj_op_desc *d = adj_op_table[op];
    return d && d->arity == 1 && d->shape == adj_shape_same && !d->attr_size && !d->view &&
           !d->index_inputs && !(d->props & ADJ_PROP_ANY_DTYPE);
}

/* Input x on t by kind: 0 the leaf, 1 its transpose (strided), 2 a slice
 * of rows (a contiguous view), 3 a reshape to one dimension. */
static adj_var *input(adj_tape *t, adj_dtype dt, int ndim, const int64_t *shape, int grad,
                      int kind, const double *vals, adj_var **leaf)
{
    size_t n = 1;
    for (int k = 0; k < ndim; k++)
        n *= (size_t)shape[k];
    float f[512];
    for (size_t i = 0; i < n; i++)
        f[i] = (float)vals[i];
    const void *data = dt == ADJ_F64 ? (const void *)vals : (const void *)f;
    *leaf = grad ? adj_leaf_at(t, dt, ndim, shape, data, 1, FILE_, 1)
                 : adj_leaf_at(t, dt, ndim, shape, data, 0, FILE_, 1);
    switch (kind) {
    case 1:
        return adj_transpose(*leaf);
    case 2:
        return adj_slice(*leaf, 0, 1, shape[0], 1);
    case 3:
        return adj_reshape(*leaf, 1, (int64_t[]){(int64_t)n});
    default:
        return *leaf;
    }
}

static void same_node(const adj_var *ha, const adj_var *hb, const char *what)
{
    const adj_var *a = adj_h_raw(ha), *b = adj_h_raw(hb);
    const adj_node_info *ca = adj_cold(a), *cb = adj_cold(b);
    ck_assert_msg(a->op == b->op && a->dtype == b->dtype && a->ndim == b->ndim &&
                      a->flags == b->flags && a->mark == b->mark && !a->grad == !b->grad,
                  "%s: hot fields differ", what);
    ck_assert_msg(adj_cold(a->in[0])->id == adj_cold(b->in[0])->id && !a->in[1] && !b->in[1] &&
                      !a->in[2] && !b->in[2],
                  "%s: inputs differ", what);
    ck_assert_msg(ca->id == cb->id && ca->line == cb->line && ca->file == cb->file &&
                      ca->nin == cb->nin && ca->numel == cb->numel,
                  "%s: cold fields differ", what);
    const bool inl = a->ndim <= ADJ_SHAPE_INLINE;
    ck_assert_msg((ca->shape == adj_ext(a)->shape_in) == inl &&
                      (cb->shape == adj_ext(b)->shape_in) == inl,
                  "%s: shape inline on one path only", what);
    for (int k = 0; k < a->ndim; k++)
        ck_assert_msg(ca->shape[k] == cb->shape[k], "%s: size %d differs", what, k);
    ck_assert_msg(!adj_ext(a)->more && !adj_ext(b)->more, "%s: input/stride pointer set", what);
    ck_assert_msg((a->value == &a->inl_value) == (b->value == &b->inl_value),
                  "%s: inline value on one path only", what);
    ck_assert_msg(memcmp(a->value, b->value, ca->numel * adj_dsize(a->dtype)) == 0,
                  "%s: value bits differ", what);
}

static void one_case(int op, adj_dtype dt, int ndim, const int64_t *shape, int kind, int grad)
{
    char what[160];
    snprintf(what, sizeof what, "%s %s ndim %d size0 %lld kind %d grad %d threads %d level %d",
             adj_op_table[op]->name, dt == ADJ_F64 ? "f64" : "f32", ndim,
             ndim ? (long long)shape[0] : 0LL, kind, grad, adj_get_threads(), adj_vm_level());
    double vals[512], ws[512];
    for (int i = 0; i < 512; i++) {
        vals[i] = 0.5 + 0.45 * ((i * 37 % 101) / 101.0); /* in every op's domain */
        ws[i] = ((i * 53 % 97) - 48) / 17.0;
    }
    adj_tape *ta = adj_tape_new(), *tb = adj_tape_new();
    adj_var *la, *lb;
    adj_var *xa = input(ta, dt, ndim, shape, grad, kind, vals, &la);
    adj_var *xb = input(tb, dt, ndim, shape, grad, kind, vals, &lb);
    adj_var *ya = adj_record_same1((adj_op)op, xa, FILE_, 42);
    adj_var *yb = adj_record((adj_op)op, &xb, 1, NULL, FILE_, 42);
    ck_assert_msg(adj_tape_status(ta) == ADJ_OK && adj_tape_status(tb) == ADJ_OK, "%s: %s", what,
                  adj_tape_message(ta));
    same_node(ya, yb, what);
    if (grad) {
        const adj_var *y = adj_h_raw(ya);
        const size_t n = adj_cold(y)->numel;
        adj_var *wa = adj_leaf_at(ta, dt, y->ndim, adj_cold(y)->shape, NULL, 0, FILE_, 2);
        adj_var *wb = adj_leaf_at(tb, dt, y->ndim, adj_cold(y)->shape, NULL, 0, FILE_, 2);
        for (size_t i = 0; i < n; i++) {
            void *pa = adj_h_raw(wa)->value, *pb = adj_h_raw(wb)->value;
            if (dt == ADJ_F64)
                ((double *)pa)[i] = ((double *)pb)[i] = ws[i];
            else
                ((float *)pa)[i] = ((float *)pb)[i] = (float)ws[i];
        }
        ck_assert_int_eq(adj_backward(adj_sum(adj_mul(ya, wa))), ADJ_OK);
        ck_assert_int_eq(adj_backward(adj_sum(adj_mul(yb, wb))), ADJ_OK);
        const adj_var *ga = adj_h_raw(la), *gb = adj_h_raw(lb);
        ck_assert_msg(ga->grad && gb->grad &&
                          memcmp(ga->grad, gb->grad,
                                 adj_cold(ga)->numel * adj_dsize(ga->dtype)) == 0,
                      "%s: gradient bits differ", what);
    }
    adj_tape_free(ta);
    adj_tape_free(tb);
}

START_TEST(same_node_every_op)
{
    static const int64_t s2[] = {3, 5}, s3[] = {2, 3, 3}, s4[] = {2, 1, 3, 2}, big[] = {301};
    static const int64_t wide[] = {7, 31};
    int ops = 0;
    for (int threads = 1; threads <= 2; threads++) {
        adj_set_threads(threads);
        for (int level = 0; level <= adj_vm_max_level(); level++) {
            ck_assert_int_eq(adj_vm_force_level(level), level);
            for (int op = 0; op < ADJ_OP_COUNT; op++) {
                if (!served(op))
                    continue;
                ops += threads == 1 && level == 0;
                for (int dti = 0; dti < 2; dti++) {
                    const adj_dtype dt = dti ? ADJ_F64 : ADJ_F32;
                    for (int grad = 0; grad < 2; grad++) {
                        one_case(op, dt, 0, NULL, 0, grad);
                        for (int64_t n = 1; n <= 17; n++)
                            one_case(op, dt, 1, &n, 0, grad);
                        one_case(op, dt, 1, big, 0, grad);
                        one_case(op, dt, 2, s2, 0, grad);
                        one_case(op, dt, 2, wide, 0, grad);
                        one_case(op, dt, 3, s3, 0, grad);
                        one_case(op, dt, 4, s4, 0, grad);
                        for (int kind = 1; kind < 4; kind++) {
                            one_case(op, dt, 2, s2, kind, grad);
                            one_case(op, dt, 2, wide, kind, grad);
                        }
                    }
                }
            }
        }
    }
    ck_assert_int_ge(ops, 15); /* the public functions' ops, at least */
    adj_vm_force_level(-1);
    adj_set_threads(1);
}
END_TEST

/* The public functions that take the short path, and their ops. */
static const struct {
    adj_var *(*fn)(adj_var *, const char *, int);
    adj_op op;
} pub[] = {
    {adj_sigmoid_at, ADJ_OP_SIGMOID}, {adj_tanh_at, ADJ_OP_TANH},
    {adj_relu_at, ADJ_OP_RELU},       {adj_softplus_at, ADJ_OP_SOFTPLUS},
    {adj_gelu_at, ADJ_OP_GELU},       {adj_gelu_tanh_at, ADJ_OP_GELU_TANH},
    {adj_silu_at, ADJ_OP_SILU},       {adj_exp_at, ADJ_OP_EXP},
    {adj_log_at, ADJ_OP_LOG},         {adj_sqrt_at, ADJ_OP_SQRT},
    {adj_square_at, ADJ_OP_SQUARE},   {adj_abs_at, ADJ_OP_ABS},
    {adj_sin_at, ADJ_OP_SIN},         {adj_cos_at, ADJ_OP_COS},
    {adj_neg_at, ADJ_OP_NEG},
};

/* Each public function against adj_record: the same node and bits, f32
 * and f64, 1 to 17 and 301 elements and a strided input, and f64 0-D
 * (the public function's own scalar path) too. */
START_TEST(public_functions)
{
    double vals[301];
    for (int i = 0; i < 301; i++)
        vals[i] = 0.5 + 0.45 * ((i * 37 % 101) / 101.0);
    for (size_t o = 0; o < sizeof pub / sizeof pub[0]; o++)
        for (int dti = 0; dti < 2; dti++)
            for (int64_t n = 0; n <= 19; n++) {
                const adj_dtype dt = dti ? ADJ_F64 : ADJ_F32;
                const int64_t shape[2] = {n == 18 ? 301 : n, 3};
                const int ndim = n == 0 ? 0 : n == 19 ? 2 : 1;
                adj_var *ya, *yb, *la, *lb;
                adj_tape *ta = adj_tape_new(), *tb = adj_tape_new();
                adj_var *xa = input(ta, dt, ndim, shape, 1, n == 19, vals, &la);
                adj_var *xb = input(tb, dt, ndim, shape, 1, n == 19, vals, &lb);
                ya = pub[o].fn(xa, FILE_, 11);
                yb = adj_record(pub[o].op, &xb, 1, NULL, FILE_, 11);
                ck_assert_int_eq(adj_tape_status(ta), ADJ_OK);
                if (n == 0 && dt == ADJ_F64) { /* the scalar path: no shape_in */
                    ck_assert(memcmp(adj_h_raw(ya)->value, adj_h_raw(yb)->value, 8) == 0);
                } else {
                    same_node(ya, yb, adj_op_table[pub[o].op]->name);
                }
                ck_assert_int_eq(adj_backward(adj_sum(ya)), ADJ_OK);
                ck_assert_int_eq(adj_backward(adj_sum(yb)), ADJ_OK);
                const adj_var *ga = adj_h_raw(la), *gb = adj_h_raw(lb);
                ck_assert(memcmp(ga->grad, gb->grad,
                                 adj_cold(ga)->numel * adj_dsize(ga->dtype)) == 0);
                adj_tape_free(ta);
                adj_tape_free(tb);
            }
}
END_TEST

START_TEST(handed_on_calls_keep_messages)
{
    static const int64_t n3[] = {3}, nbig[] = {150000};
    static const double v3[] = {1, 2, 3}, neg[] = {-1, 2, 3};
    for (size_t o = 0; o < sizeof pub / sizeof pub[0]; o++) {
        const adj_op op = pub[o].op;
        adj_tape *t[2];
        adj_var *r[2];
        /* NULL input */
        r[0] = pub[o].fn(NULL, FILE_, 3);
        r[1] = adj_record(op, (adj_var *const[]){NULL}, 1, NULL, FILE_, 3);
        ck_assert(!r[0] && !r[1]);
        /* an index tensor; a stale handle; a tape with an error */
        for (int s = 0; s < 2; s++) {
            t[s] = adj_tape_new();
            adj_var *ix = adj_index(t[s], 1, n3, (const int32_t[]){0, 1, 2});
            r[s] = s ? adj_record(op, &ix, 1, NULL, FILE_, 4) : pub[o].fn(ix, FILE_, 4);
        }
        check_same_failure(t[0], t[1], r[0], r[1], "index tensor");
        for (int s = 0; s < 2; s++) {
            adj_tape_reset(t[s]);
            adj_var *x = adj_tensor_f64(t[s], 1, n3, v3);
            adj_tape_reset(t[s]);
            (void)adj_tensor_f64(t[s], 1, n3, v3);
            r[s] = s ? adj_record(op, &x, 1, NULL, FILE_, 5) : pub[o].fn(x, FILE_, 5);
        }
        check_same_failure(t[0], t[1], r[0], r[1], "stale handle");
        for (int s = 0; s < 2; s++) {
            adj_var *x = adj_tensor_f64(t[s], 1, n3, v3); /* the tape keeps its error */
            r[s] = s ? adj_record(op, &x, 1, NULL, FILE_, 6) : pub[o].fn(x, FILE_, 6);
            ck_assert(r[s] != NULL);
        }
        check_same_failure(t[0], t[1], r[0], r[1], "tape with an error");
        /* a moved parameter */
        adj_params *p[2];
        for (int s = 0; s < 2; s++) {
            adj_tape_reset(t[s]);
            p[s] = adj_params_new(ADJ_F32);
            ck_assert_int_eq(adj_params_add(p[s], "w", 1, n3), 0);
            adj_var *w = adj_param(t[s], p[s], 0);
            ck_assert_int_gt(adj_params_add(p[s], "late", 1, ((int64_t[]){4096})), 0);
            r[s] = s ? adj_record(op, &w, 1, NULL, FILE_, 7) : pub[o].fn(w, FILE_, 7);
        }
        check_same_failure(t[0], t[1], r[0], r[1], "moved parameter");
        /* no memory for the value */
        for (int s = 0; s < 2; s++) {
            adj_tape_reset(t[s]);
            adj_tape_set_limit(t[s], 2u << 20);
            adj_var *x = adj_constant_f64(t[s], 1, nbig, NULL);
            ck_assert_int_eq(adj_tape_status(t[s]), ADJ_OK);
            r[s] = s ? adj_record(op, &x, 1, NULL, FILE_, 8) : pub[o].fn(x, FILE_, 8);
            ck_assert_int_eq(adj_tape_status(t[s]), ADJ_ENOMEM);
            adj_tape_set_limit(t[s], 0);
        }
        check_same_failure(t[0], t[1], r[0], r[1], "out of memory");
        /* anomaly mode: log(-1) is NaN (the others pass) */
        for (int s = 0; s < 2; s++) {
            adj_tape_reset(t[s]);
            adj_tape_set_anomaly(t[s], 1);
            adj_var *x = adj_tensor_f64(t[s], 1, n3, neg);
            adj_var *y = s ? adj_record(op, &x, 1, NULL, FILE_, 9)
                           : pub[o].fn(x, FILE_, 9);
            r[s] = y;
        }
        check_same_failure(t[0], t[1], r[0], r[1], "anomaly");
        for (int s = 0; s < 2; s++) {
            adj_tape_free(t[s]);
            adj_params_free(p[s]);
        }
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("recordsame");
    TCase *tc = tcase_create("recordsame");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, same_node_every_op);
    tcase_add_test(tc, public_functions);
    tcase_add_test(tc, handed_on_calls_keep_messages);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
