/*
 * Inverted dropout as one node: y = x * m with m_i = scale (kept) or 0
 * (dropped), scale = 1 / keep.  The keep mask (one byte per element) is
 * copied into the arena when the node is recorded (unless adj_dropout drew
 * it there), so the node owns it:
 * forward run again, backward (dx += dy m) and tangent (ty = tx m) all use
 * the same mask.  adj_dropout draws the mask from the caller's generator
 * (src/nn/layers.c), so the same generator state gives the same mask.
 */
#include "ops/decompose.h"
#include "ops/dropout.h"
#include "ops/op.h"
#include "core/pool.h"
#include "core/tape.h"
#include "ops/dispatch.h"

#include <math.h>
#include <string.h>

static adj_status dropout_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    adj_dropout_attr *a = ADJ_ATTR(y, adj_dropout_attr);
    size_t numel = adj_cold(x)->numel;
    if (!a->mask && numel) {
        snprintf(why, n, "the keep mask is NULL");
        return ADJ_EINVAL;
    }
    if (!(a->scale >= 1 && isfinite(a->scale))) {
        snprintf(why, n, "scale %g (1 / keep probability) must be finite and >= 1", a->scale);
        return ADJ_EINVAL;
    }
    if (!a->owned) {
        uint8_t *own = adj_arena_alloc(adj_node_tape(y), numel ? numel : 1);
        if (!own) {
            snprintf(why, n, "out of memory for the mask");
            return ADJ_ENOMEM;
        }
        for (size_t i = 0; i < numel; i++)
            own[i] = a->mask[i] != 0;
        a->mask = own;
        a->owned = 1;
    }
    y->ndim = x->ndim;
    memcpy(adj_cold(y)->shape, adj_cold(x)->shape, sizeof(int64_t) * (size_t)x->ndim);
    return ADJ_OK;
}

/* out[i] = in[i] * (mask[i] ? scale : 0), in the dtype (as x * m would) */
#define MASK_MUL(T, out, in, OP)                                                \
    do {                                                                       \
        const T s_ = (T)a->scale, *i_ = (in);                                  \
        T *o_ = (out);                                                         \
        for (size_t i = 0; i < numel; i++)                                     \
            o_[i] OP i_[i] * (a->mask[i] ? s_ : (T)0);                         \
    } while (0)

/*
 * The forward and backward over element ranges [lo, hi), split over the
 * pool (every element on its own: the same bits at any split) and
 * compiled per CPU level (ops/dispatch.h).  A fresh input adjoint is
 * stored in one pass instead of zeroed and added to: 0 + d, the same bits.
 */
typedef struct mask_job {
    const adj_dropout_attr *a;
    const void *in;
    void *out;
    int f64;
    int store; /* 0: out = in m; 1: out = 0 + in m (fresh); 2: out += in m */
} mask_job;

#define MASK_RANGE_T(T)                                                         \
    do {                                                                       \
        const T s_ = (T)j->a->scale, *in_ = j->in;                             \
        T *out_ = j->out;                                                      \
        const uint8_t *m_ = j->a->mask;                                        \
        if (j->store == 0)                                                     \
            for (size_t i = lo; i < hi; i++)                                   \
                out_[i] = in_[i] * (m_[i] ? s_ : (T)0);                        \
        else if (j->store == 1)                                                \
            for (size_t i = lo; i < hi; i++)                                   \
                out_[i] = (T)0 + in_[i] * (m_[i] ? s_ : (T)0);                 \
        else                                                                   \
            for (size_t i = lo; i < hi; i++)                                   \
                out_[i] += in_[i] * (m_[i] ? s_ : (T)0);                       \
    } while (0)

#define MASK_RANGE(SUF, ATTR)                                                   \
    static ATTR void mask_range_##SUF(void *ctx, size_t lo, size_t hi)         \
    {                                                                          \
        const mask_job *j = ctx;                                               \
        if (j->f64)                                                            \
            MASK_RANGE_T(double);                                              \
        else                                                                   \
            MASK_RANGE_T(float);                                               \
    }

MASK_RANGE(base, )
#if ADJ_VM_DISPATCH
MASK_RANGE(avx2, ADJ_VM_TGT_AVX2)
MASK_RANGE(avx512, ADJ_VM_TGT_AVX512)
#endif

static void mask_range(void *ctx, size_t lo, size_t hi) { ADJ_VM_CALL(mask_range, ctx, lo, hi); }

static void dropout_forward(adj_var *y)
{
    mask_job j = {ADJ_ATTR(y, adj_dropout_attr), y->in[0]->value, y->value, y->dtype == ADJ_F64, 0};
    adj_par_for(adj_cold(y)->numel, ADJ_PAR_GRAIN_MAP, mask_range, &j);
}

static void dropout_backward(adj_var *y)
{
    bool fresh = false;
    void *g = adj_grad_buf_exact(y->in[0], &fresh);
    if (!g)
        return;
    mask_job j = {ADJ_ATTR(y, adj_dropout_attr), y->grad, g, y->dtype == ADJ_F64, fresh ? 1 : 2};
    adj_par_for(adj_cold(y)->numel, ADJ_PAR_GRAIN_MAP, mask_range, &j);
}

static void dropout_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_dropout_attr *a = ADJ_ATTR(y, adj_dropout_attr);
    size_t numel = adj_cold(y)->numel;
    if (y->dtype == ADJ_F64)
        MASK_MUL(double, (double *)ty, (const double *)tx[0], =);
    else
        MASK_MUL(float, (float *)ty, (const float *)tx[0], =);
}

static const uint8_t case_mask[64] = {1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1,
                                      0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1,
                                      1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1,
                                      1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0};
static const adj_dropout_attr keep_half = {case_mask, 2.0, 0}, keep_most = {case_mask, 1.25, 0};
static const adj_op_case dropout_cases[] = {
    {1, {2}, {{3, 4}}, &keep_half, " keep 0.5"},
    {1, {1}, {{7}}, &keep_most, " keep 0.8"},
    {1, {3}, {{2, 1, 3}}, &keep_half, " size-1 dim"},
    {1, {2}, {{0, 3}}, &keep_half, " zero-size"},
};
const adj_op_desc adj_desc_dropout = {
    .name = "dropout", .arity = 1, .attr_size = sizeof(adj_dropout_attr),
    .shape = dropout_shape, .forward = dropout_forward, .backward = dropout_backward,
    .jvp = dropout_jvp, .formula = "y = x * mask / keep (the mask saved in the node)",
    .rule = "dx += dy * mask / keep", ADJ_CASES(dropout_cases),
    .decompose = adj_decomp_dropout,
};
