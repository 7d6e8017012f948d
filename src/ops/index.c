/*
 * Indexing with index tensors (ADJ_I32): embedding lookup, and
 * cross-entropy with index targets.
 *
 * An index is checked against its bound when the op is recorded: one out
 * of range is a sticky ADJ_EINVAL naming the index, its position in the
 * index tensor and the bound, never a read outside the table.
 *
 * Backward is a scatter-add: the adjoint rows of repeated indices are
 * summed in the order the indices appear.  The columns are split over the
 * worker pool, and every column sums its rows in that same order, so the
 * result has the same bits whatever the thread count.
 */
#include "core/pool.h"
#include "ops/op.h"

#include <math.h>
#include <string.h>

/* "(1,2)": the position of flat element i of an index tensor. */
static void position(const adj_var *idx, size_t i, char *buf, size_t size)
{
    int64_t at[ADJ_MAX_DIMS];
    for (int k = idx->ndim; k-- > 0;) {
        int64_t n = adj_cold(idx)->shape[k];
        at[k] = n ? (int64_t)(i % (size_t)n) : 0;
        i = n ? i / (size_t)n : 0;
    }
    adj_fmt_shape(buf, size, idx->ndim, at);
}

/* Every index in [0, bound), or why not (the first one outside). */
static adj_status check_indices(const adj_var *idx, int64_t bound, char *why, size_t n)
{
    const int32_t *ix = idx->value;
    for (size_t i = 0; i < adj_cold(idx)->numel; i++)
        if (ix[i] < 0 || ix[i] >= bound) {
            char pos[64];
            position(idx, i, pos, sizeof pos);
            snprintf(why, n, "index %d at position %s is out of range [0, %lld)", (int)ix[i], pos,
                     (long long)bound);
            return ADJ_EINVAL;
        }
    return ADJ_OK;
}

/* ------------------------------------------------------------- embedding */

/* table (V, D), idx (any shape) -> y idx.shape + (D) */
static adj_status embedding_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *table = y->in[0], *idx = y->in[1];
    if (table->ndim != 2) {
        snprintf(why, n, "the table must be 2-D (rows, features)");
        return ADJ_ESHAPE;
    }
    if (idx->ndim + 1 > ADJ_MAX_DIMS) {
        snprintf(why, n, "the output would have %d dimensions (at most %d)", idx->ndim + 1,
                 ADJ_MAX_DIMS);
        return ADJ_ESHAPE;
    }
    adj_status s = check_indices(idx, adj_cold(table)->shape[0], why, n);
    if (s != ADJ_OK)
        return s;
    y->ndim = (uint8_t)(idx->ndim + 1);
    memcpy(adj_cold(y)->shape, adj_cold(idx)->shape, (size_t)idx->ndim * sizeof(int64_t));
    adj_cold(y)->shape[idx->ndim] = adj_cold(table)->shape[1];
    return ADJ_OK;
}

/* y[i, :] = table[idx[i], :] (rows copied from src, a table or its tangent) */
static void gather_rows(const adj_var *y, const void *src, void *dst)
{
    const adj_var *idx = y->in[1];
    const int32_t *ix = idx->value;
    size_t row = (size_t)adj_cold(y->in[0])->shape[1] * adj_dsize(y->dtype);
    for (size_t i = 0; i < adj_cold(idx)->numel; i++)
        memcpy((char *)dst + i * row, (const char *)src + (size_t)ix[i] * row, row);
}

static void embedding_forward(adj_var *y) { gather_rows(y, y->in[0]->value, y->value); }

typedef struct scatter_ctx {
    const adj_var *y;
    void *g; /* the table's adjoint (V, D) */
} scatter_ctx;

#define SCATTER_COLS(T)                                                        \
    do {                                                                       \
        T *g_ = c->g;                                                          \
        const T *dy_ = c->y->grad;                                             \
        for (size_t i_ = 0; i_ < n; i_++) {                                    \
            T *gr_ = g_ + (size_t)ix[i_] * d;                                  \
            const T *dr_ = dy_ + i_ * d;                                       \
            for (size_t j_ = lo; j_ < hi; j_++)                                \
                gr_[j_] += dr_[j_];                                            \
        }                                                                      \
    } while (0)

/* columns [lo, hi) of dtable[idx[i], :] += dy[i, :], i in order */
static void scatter_cols(void *ctx, size_t lo, size_t hi)
{
    const scatter_ctx *c = ctx;
    const adj_var *idx = c->y->in[1];
    const int32_t *ix = idx->value;
    size_t n = adj_cold(idx)->numel, d = (size_t)adj_cold(c->y->in[0])->shape[1];
    if (c->y->dtype == ADJ_F64)
        SCATTER_COLS(double);
    else
        SCATTER_COLS(float);
}

/* dtable[idx[i], :] += dy[i, :] for every i (repeated indices add up) */
static void embedding_backward(adj_var *y)
{
    adj_var *table = y->in[0];
    if (!(table->flags & ADJ_F_GRAD))
        return;
    scatter_ctx c = {y, adj_grad_buf(table)};
    if (!c.g)
        return;
    size_t d = (size_t)adj_cold(table)->shape[1], n = adj_cold(y->in[1])->numel;
    /* split the columns when the rows are long enough to be worth it */
    adj_par_for(d, n * d >= ADJ_PAR_GRAIN_MAP ? 16 : d, scatter_cols, &c);
}

/* tangent: dy[i, :] = dtable[idx[i], :] */
static void embedding_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    gather_rows(y, tx[0], ty);
}

/* table, idx: repeated indices, 0-D, 2-D and empty idx, one-row and
 * zero-width tables */
static const adj_op_case embedding_cases[] = {
    {2, {2, 1}, {{5, 3}, {7}}, NULL, NULL},
    {2, {2, 2}, {{4, 2}, {2, 3}}, NULL, NULL},
    {2, {2, 0}, {{3, 4}, {0}}, NULL, NULL},
    {2, {2, 1}, {{1, 1}, {3}}, NULL, NULL},
    {2, {2, 1}, {{3, 2}, {0}}, NULL, NULL},
    {2, {2, 2}, {{4, 0}, {2, 2}}, NULL, NULL},
};

static const char *const embedding_inputs[] = {"table", "idx"};
static const char *const embedding_symbols[] = {"E", "i", "Y"};
static const adj_op_teach embedding_teach = {.define = "@0[@1]", .symbols = embedding_symbols};

const adj_op_desc adj_desc_embedding = {
    .name = "embedding", .arity = 2, .index_inputs = 1u << 1, .inputs = embedding_inputs,
    .shape = embedding_shape, .forward = embedding_forward, .backward = embedding_backward,
    .jvp = embedding_jvp, .formula = "Y[i, :] = E[idx[i], :]",
    .rule = "dE[idx[i], :] += dY[i, :]", ADJ_CASES(embedding_cases), .teach = &embedding_teach,
};

adj_var *adj_embedding_at(adj_var *table, adj_var *idx, const char *file, int line)
{
    adj_var *in[2] = {table, idx};
    return adj_record(ADJ_OP_EMBEDDING, in, 2, NULL, file, line);
}
ADJ_FN2(embedding)

/* --------------------------------------------------------- cross-entropy */

typedef struct ce_attr {
    int32_t ignore;   /* targets equal to this are left out */
    int64_t count;    /* targets not ignored (the mean's divisor) */
    double *lse;      /* per row: log sum_j exp(z_j), kept for backward */
} ce_attr;

/* logits (..., C), targets the leading shape -> L (one element) */
static adj_status ce_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *z = y->in[0], *tg = y->in[1];
    ce_attr *a = ADJ_ATTR(y, ce_attr);
    bool fits = z->ndim >= 1 && tg->ndim == z->ndim - 1;
    for (int k = 0; fits && k < tg->ndim; k++)
        fits = adj_cold(tg)->shape[k] == adj_cold(z)->shape[k];
    if (!fits) {
        snprintf(why, n, "the targets must have the logits' shape without the last (class) "
                         "dimension");
        return ADJ_ESHAPE;
    }
    int64_t classes = adj_cold(z)->shape[z->ndim - 1];
    const int32_t *t = tg->value;
    a->count = 0;
    for (size_t i = 0; i < adj_cold(tg)->numel; i++) {
        if (t[i] == a->ignore)
            continue;
        if (t[i] < 0 || t[i] >= classes) {
            char pos[64];
            position(tg, i, pos, sizeof pos);
            snprintf(why, n, "index %d at position %s is out of range [0, %lld) (ignore_index %d)",
                     (int)t[i], pos, (long long)classes, (int)a->ignore);
            return ADJ_EINVAL;
        }
        a->count++;
    }
    a->lse = NULL;
    y->ndim = 0;
    return ADJ_OK;
}

/* L = (1/N) sum_r (log sum_j exp(z_rj) - z_r,t_r) over the N rows whose
 * target is not ignored; the log-sum-exp shifted by the row maximum and
 * summed in double.  No targets: L = 0/0 = NaN, as a mean over nothing. */
#define CE_FORWARD(T)                                                          \
    do {                                                                       \
        const T *z_ = y->in[0]->value;                                         \
        double sum_ = 0;                                                       \
        for (size_t r_ = 0; r_ < rows; r_++) {                                 \
            const T *zr_ = z_ + r_ * classes;                                  \
            if (t[r_] == a->ignore)                                            \
                continue;                                                      \
            double m_ = zr_[0], e_ = 0;                                        \
            for (size_t j_ = 1; j_ < classes; j_++)                            \
                m_ = zr_[j_] > m_ ? zr_[j_] : m_;                              \
            for (size_t j_ = 0; j_ < classes; j_++)                            \
                e_ += exp((double)zr_[j_] - m_);                               \
            a->lse[r_] = m_ + log(e_);                                         \
            sum_ += a->lse[r_] - (double)zr_[t[r_]];                           \
        }                                                                      \
        *(T *)y->value = (T)(sum_ / (double)a->count);                         \
    } while (0)

static void ce_forward(adj_var *y)
{
    ce_attr *a = ADJ_ATTR(y, ce_attr);
    const int32_t *t = y->in[1]->value;
    size_t rows = adj_cold(y->in[1])->numel;
    size_t classes = (size_t)adj_cold(y->in[0])->shape[y->in[0]->ndim - 1];
    a->lse = adj_arena_alloc(adj_cold(y)->tape, rows * sizeof(double) + 1);
    if (!a->lse)
        return; /* the tape holds ADJ_ENOMEM */
    if (y->dtype == ADJ_F64)
        CE_FORWARD(double);
    else
        CE_FORWARD(float);
}

/* dz_rj += dL (softmax(z_r)_j - [j = t_r]) / N for rows not ignored */
#define CE_BACKWARD(T)                                                         \
    do {                                                                       \
        const T *z_ = y->in[0]->value;                                         \
        T *g_ = gz;                                                            \
        const double s_ = (double)*(const T *)y->grad / (double)a->count;      \
        for (size_t r_ = 0; r_ < rows; r_++) {                                 \
            if (t[r_] == a->ignore)                                            \
                continue;                                                      \
            for (size_t j_ = 0; j_ < classes; j_++) {                          \
                double p_ = exp((double)z_[r_ * classes + j_] - a->lse[r_]);   \
                g_[r_ * classes + j_] += (T)(s_ * (p_ - (j_ == (size_t)t[r_]))); \
            }                                                                  \
        }                                                                      \
    } while (0)

static void ce_backward(adj_var *y)
{
    adj_var *z = y->in[0];
    const ce_attr *a = ADJ_ATTR(y, ce_attr);
    if (!(z->flags & ADJ_F_GRAD) || !a->lse)
        return;
    void *gz = adj_grad_buf(z);
    if (!gz)
        return;
    const int32_t *t = y->in[1]->value;
    size_t rows = adj_cold(y->in[1])->numel;
    size_t classes = (size_t)adj_cold(z)->shape[z->ndim - 1];
    if (y->dtype == ADJ_F64)
        CE_BACKWARD(double);
    else
        CE_BACKWARD(float);
}

/* tangent: dL = (1/N) sum_r (sum_j softmax(z_r)_j dz_rj - dz_r,t_r) */
#define CE_TANGENT(T)                                                          \
    do {                                                                       \
        const T *z_ = y->in[0]->value, *dz_ = tx[0];                           \
        double sum_ = 0;                                                       \
        for (size_t r_ = 0; r_ < rows; r_++) {                                 \
            if (t[r_] == a->ignore)                                            \
                continue;                                                      \
            for (size_t j_ = 0; j_ < classes; j_++)                            \
                sum_ += exp((double)z_[r_ * classes + j_] - a->lse[r_]) *      \
                        (double)dz_[r_ * classes + j_];                        \
            sum_ -= (double)dz_[r_ * classes + (size_t)t[r_]];                 \
        }                                                                      \
        *(T *)ty = (T)(sum_ / (double)a->count);                               \
    } while (0)

static void ce_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const ce_attr *a = ADJ_ATTR(y, ce_attr);
    const int32_t *t = y->in[1]->value;
    size_t rows = adj_cold(y->in[1])->numel;
    size_t classes = (size_t)adj_cold(y->in[0])->shape[y->in[0]->ndim - 1];
    if (!a->lse)
        return;
    if (y->dtype == ADJ_F64)
        CE_TANGENT(double);
    else
        CE_TANGENT(float);
}

/* logits, targets: rows of several shapes, one class, an ignored target */
static const ce_attr ce_keep = {.ignore = -100}, ce_skip1 = {.ignore = 1};
static const adj_op_case ce_cases[] = {
    {2, {2, 1}, {{4, 3}, {4}}, NULL, NULL},
    {2, {3, 2}, {{2, 3, 4}, {2, 3}}, NULL, NULL},
    {2, {1, 0}, {{5}, {0}}, NULL, NULL},
    {2, {2, 1}, {{3, 1}, {3}}, NULL, NULL},
    {2, {2, 1}, {{6, 3}, {6}}, &ce_skip1, " ignore_index 1"},
};

static const char *const ce_inputs[] = {"logits", "targets"};
static const char *const ce_symbols[] = {"z", "t", "L"};
static const adj_op_teach ce_teach = {.define = "cross_entropy(@0, @1)", .symbols = ce_symbols};

const adj_op_desc adj_desc_cross_entropy = {
    .name = "cross_entropy", .arity = 2, .index_inputs = 1u << 1, .inputs = ce_inputs,
    .attr_size = sizeof(ce_attr), .shape = ce_shape, .forward = ce_forward,
    .backward = ce_backward, .jvp = ce_jvp,
    .formula = "L = mean over kept rows r of (log sum_j exp(z_rj) - z_r,t_r)",
    .rule = "dz_r += dL (softmax(z_r) - onehot(t_r)) / N", ADJ_CASES(ce_cases),
    .case_attr = &ce_keep, .teach = &ce_teach,
};

adj_var *adj_cross_entropy_at(adj_var *logits, adj_var *targets, int ignore_index,
                              const char *file, int line)
{
    adj_var *in[2] = {logits, targets};
    ce_attr a = {.ignore = ignore_index};
    return adj_record(ADJ_OP_CROSS_ENTROPY, in, 2, &a, file, line);
}
adj_var *(adj_cross_entropy)(adj_var *logits, adj_var *targets, int ignore_index)
{
    return adj_cross_entropy_at(logits, targets, ignore_index, NULL, 0);
}
