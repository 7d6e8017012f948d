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
#include "ops/decompose.h"
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
    .decompose = adj_decomp_embedding,
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
    double *lse;      /* per row: the maximum m and log sum_j exp(z_j - m),
                         kept for backward */
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
 * target is not ignored; the log-sum-exp shifted by the row maximum m and
 * kept apart from it: log sum_j exp(z_j - m) = log1p(sum over j other than
 * the maximum), and the loss is that minus (z_t - m), so nothing of the
 * size of the logits is added before the subtraction (the accuracy depends
 * only on their differences).  No targets: L = 0/0 = NaN, as a mean over
 * nothing. */
#define CE_FORWARD(T)                                                          \
    do {                                                                       \
        const T *z_ = y->in[0]->value;                                         \
        double sum_ = 0;                                                       \
        for (size_t r_ = 0; r_ < rows; r_++) {                                 \
            const T *zr_ = z_ + r_ * classes;                                  \
            if (t[r_] == a->ignore)                                            \
                continue;                                                      \
            size_t jm_ = 0;                                                    \
            for (size_t j_ = 1; j_ < classes; j_++)                            \
                jm_ = zr_[j_] > zr_[jm_] ? j_ : jm_;                           \
            const double m_ = zr_[jm_];                                        \
            double e_ = 0;                                                     \
            for (size_t j_ = 0; j_ < classes; j_++)                            \
                e_ += j_ == jm_ ? 0.0 : exp((double)zr_[j_] - m_);             \
            a->lse[2 * r_] = m_;                                               \
            a->lse[2 * r_ + 1] = log1p(e_);                                    \
            sum_ += a->lse[2 * r_ + 1] - ((double)zr_[t[r_]] - m_);            \
        }                                                                      \
        *(T *)y->value = (T)(sum_ / (double)a->count);                         \
    } while (0)

static void ce_forward(adj_var *y)
{
    ce_attr *a = ADJ_ATTR(y, ce_attr);
    const int32_t *t = y->in[1]->value;
    size_t rows = adj_cold(y->in[1])->numel;
    size_t classes = (size_t)adj_cold(y->in[0])->shape[y->in[0]->ndim - 1];
    a->lse = adj_arena_alloc(adj_node_tape(y), 2 * rows * sizeof(double) + 1);
    if (!a->lse)
        return; /* the tape holds ADJ_ENOMEM */
    if (y->dtype == ADJ_F64)
        CE_FORWARD(double);
    else
        CE_FORWARD(float);
}

/* The shifted log-probability (z_j - m) - log1p(s1) of row r, class j */
#define CE_LOGP(z, r, j) (((double)(z)[(r) * classes + (j)] - a->lse[2 * (r)]) - a->lse[2 * (r) + 1])

/* dz_rj += dL (softmax(z_r)_j - [j = t_r]) / N for rows not ignored; at the
 * target p - 1 is expm1(log p), which keeps its digits when p is near 1 */
#define CE_BACKWARD(T)                                                         \
    do {                                                                       \
        const T *z_ = y->in[0]->value;                                         \
        T *g_ = gz;                                                            \
        const double s_ = (double)*(const T *)y->grad / (double)a->count;      \
        for (size_t r_ = 0; r_ < rows; r_++) {                                 \
            if (t[r_] == a->ignore)                                            \
                continue;                                                      \
            for (size_t j_ = 0; j_ < classes; j_++) {                          \
                double lp_ = CE_LOGP(z_, r_, j_);                              \
                double q_ = j_ == (size_t)t[r_] ? expm1(lp_) : exp(lp_);       \
                g_[r_ * classes + j_] += (T)(s_ * q_);                         \
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
            for (size_t j_ = 0; j_ < classes; j_++) {                          \
                double lp_ = CE_LOGP(z_, r_, j_);                              \
                double q_ = j_ == (size_t)t[r_] ? expm1(lp_) : exp(lp_);       \
                sum_ += q_ * (double)dz_[r_ * classes + j_];                   \
            }                                                                  \
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
    .decompose = adj_decomp_cross_entropy,
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

/* ------------------------------------------------- selecting along an axis */

/* x's dimensions before the axis (outer), along it (n) and after (inner) */
static void split_at(const adj_var *x, int axis, size_t *outer, size_t *n, size_t *inner)
{
    *outer = *inner = 1;
    for (int k = 0; k < axis; k++)
        *outer *= (size_t)adj_cold(x)->shape[k];
    *n = (size_t)adj_cold(x)->shape[axis];
    for (int k = axis + 1; k < x->ndim; k++)
        *inner *= (size_t)adj_cold(x)->shape[k];
}

/* The axis normalised into [0, ndim), or why not. */
static adj_status norm_axis(adj_var *y, const adj_var *x, char *why, size_t n)
{
    adj_attr_axis *a = ADJ_ATTR(y, adj_attr_axis);
    int axis = a->axis < 0 ? a->axis + x->ndim : a->axis;
    if (axis < 0 || axis >= x->ndim) {
        char sh[64];
        adj_fmt_shape(sh, sizeof sh, x->ndim, adj_cold(x)->shape);
        snprintf(why, n, "axis %d is out of range for shape %s", (int)a->axis, sh);
        return ADJ_EINVAL;
    }
    a->axis = axis;
    return ADJ_OK;
}

/* x, idx (m) -> y: x's shape with m along the axis */
static adj_status index_select_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0], *idx = y->in[1];
    adj_status s = norm_axis(y, x, why, n);
    if (s != ADJ_OK)
        return s;
    if (idx->ndim != 1) {
        snprintf(why, n, "idx must be 1-D");
        return ADJ_ESHAPE;
    }
    int axis = ADJ_ATTR(y, adj_attr_axis)->axis;
    s = check_indices(idx, adj_cold(x)->shape[axis], why, n);
    if (s != ADJ_OK)
        return s;
    adj_shape_from(y, x);
    adj_cold(y)->shape[axis] = adj_cold(idx)->shape[0];
    return ADJ_OK;
}

/* y[o, i, :] = x[o, idx[i], :] from src (x or its tangent) into dst, or
 * with back set dst[o, idx[i], :] += src[o, i, :] (src y's adjoint) */
static void select_rows(const adj_var *y, const void *src, void *dst, bool back)
{
    const adj_var *x = y->in[0], *idx = y->in[1];
    const int32_t *ix = idx->value;
    size_t outer, n, inner, m = adj_cold(idx)->numel;
    split_at(x, ADJ_ATTR(y, adj_attr_axis)->axis, &outer, &n, &inner);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < m; i++) {
            size_t xo = (o * n + (size_t)ix[i]) * inner, yo = (o * m + i) * inner;
            if (!back) {
                size_t es = adj_dsize(y->dtype);
                memcpy((char *)dst + yo * es, (const char *)src + xo * es, inner * es);
            } else if (y->dtype == ADJ_F64) {
                for (size_t k = 0; k < inner; k++)
                    ((double *)dst)[xo + k] += ((const double *)src)[yo + k];
            } else {
                for (size_t k = 0; k < inner; k++)
                    ((float *)dst)[xo + k] += ((const float *)src)[yo + k];
            }
        }
}

static void index_select_forward(adj_var *y) { select_rows(y, y->in[0]->value, y->value, false); }

/* dx[o, idx[i], :] += dy[o, i, :], i in order (repeats add up) */
static void index_select_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    void *g = x->flags & ADJ_F_GRAD ? adj_grad_buf(x) : NULL;
    if (g)
        select_rows(y, y->grad, g, true);
}

static void index_select_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    select_rows(y, tx[0], ty, false);
}

static const adj_attr_axis axis0 = {0}, axis1 = {1}, axis_m1 = {-1};
static const adj_op_case index_select_cases[] = {
    {2, {2, 1}, {{4, 3}, {5}}, &axis0, " axis 0"},
    {2, {2, 1}, {{3, 4}, {6}}, &axis1, " axis 1"},
    {2, {3, 1}, {{2, 3, 2}, {4}}, &axis1, " axis 1"},
    {2, {1, 1}, {{5}, {3}}, &axis_m1, " axis -1"},
    {2, {2, 1}, {{3, 2}, {0}}, &axis0, " axis 0"},
};

static const char *const select_inputs[] = {"x", "idx"};
static void select_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                          char *buf, size_t size)
{
    (void)opnd;
    snprintf(buf, size, "%s(%s, axis %d, %s)", adj_op_table[y->op]->name, ref[0],
             (int)ADJ_ATTR(y, adj_attr_axis)->axis, ref[1]);
}
static const adj_op_teach select_teach = {.define_fn = select_define};

const adj_op_desc adj_desc_index_select = {
    .name = "index_select", .arity = 2, .index_inputs = 1u << 1, .inputs = select_inputs,
    .attr_size = sizeof(adj_attr_axis), .shape = index_select_shape,
    .forward = index_select_forward, .backward = index_select_backward, .jvp = index_select_jvp,
    .formula = "y[o, i, :] = x[o, idx[i], :]", .rule = "dx[o, idx[i], :] += dy[o, i, :]",
    ADJ_CASES(index_select_cases), .teach = &select_teach,
    .vjp = adj_vjp_index_select,
};

adj_var *adj_index_select_at(adj_var *x, int axis, adj_var *idx, const char *file, int line)
{
    adj_var *in[2] = {x, idx};
    return adj_record(ADJ_OP_INDEX_SELECT, in, 2, &(adj_attr_axis){axis}, file, line);
}
adj_var *(adj_index_select)(adj_var *x, int axis, adj_var *idx)
{
    return adj_index_select_at(x, axis, idx, NULL, 0);
}

/* ----------------------------------------------------- gather, scatter_add */

/* For every element p of idx (row-major), the flat offset in x of the
 * element it names: p's coordinates with idx[p] along the axis. */
static void along_offsets(const adj_var *x, const adj_var *idx, int axis, size_t *off)
{
    int64_t at[ADJ_MAX_DIMS] = {0}, xstride[ADJ_MAX_DIMS];
    int64_t s = 1;
    for (int k = x->ndim; k-- > 0;) {
        xstride[k] = s;
        s *= adj_cold(x)->shape[k];
    }
    const int32_t *ix = idx->value;
    for (size_t p = 0; p < adj_cold(idx)->numel; p++) {
        int64_t o = 0;
        for (int k = 0; k < x->ndim; k++)
            o += (k == axis ? ix[p] : at[k]) * xstride[k];
        off[p] = (size_t)o;
        for (int k = idx->ndim; k-- > 0;) { /* next coordinate */
            if (++at[k] < adj_cold(idx)->shape[k])
                break;
            at[k] = 0;
        }
    }
}

/* idx has x's rank and no dimension larger than x's but along the axis;
 * every index below x's size along the axis */
static adj_status along_check(adj_var *y, const adj_var *x, const adj_var *idx, char *why,
                              size_t n)
{
    adj_status s = norm_axis(y, x, why, n);
    if (s != ADJ_OK)
        return s;
    int axis = ADJ_ATTR(y, adj_attr_axis)->axis;
    bool fits = idx->ndim == x->ndim;
    for (int k = 0; fits && k < x->ndim; k++)
        fits = k == axis || adj_cold(idx)->shape[k] <= adj_cold(x)->shape[k];
    if (!fits) {
        snprintf(why, n, "idx must have x's rank and, but along axis %d, no larger dimension",
                 axis);
        return ADJ_ESHAPE;
    }
    return check_indices(idx, adj_cold(x)->shape[axis], why, n);
}

static adj_status gather_shape(adj_var *y, char *why, size_t n)
{
    adj_status s = along_check(y, y->in[0], y->in[1], why, n);
    if (s != ADJ_OK)
        return s;
    adj_shape_from(y, y->in[1]);
    return ADJ_OK;
}

/* dst[p] = src[off[p]] (gather) or dst[off[p]] += src[p] (scatter-add), p
 * in order */
static bool move_along(const adj_var *x, const adj_var *idx, int axis, int dtype, const void *src,
                       void *dst, bool scatter)
{
    size_t m = adj_cold(idx)->numel;
    size_t *off = adj_arena_alloc(adj_node_tape(x), m * sizeof *off + 1);
    if (!off)
        return false;
    along_offsets(x, idx, axis, off);
    for (size_t p = 0; p < m; p++) {
        size_t a = scatter ? p : off[p], b = scatter ? off[p] : p;
        if (dtype == ADJ_F64) {
            if (scatter)
                ((double *)dst)[b] += ((const double *)src)[a];
            else
                ((double *)dst)[b] = ((const double *)src)[a];
        } else {
            if (scatter)
                ((float *)dst)[b] += ((const float *)src)[a];
            else
                ((float *)dst)[b] = ((const float *)src)[a];
        }
    }
    return true;
}

static void gather_forward(adj_var *y)
{
    move_along(y->in[0], y->in[1], ADJ_ATTR(y, adj_attr_axis)->axis, y->dtype, y->in[0]->value,
               y->value, false);
}

/* dx[..., idx[p], ...] += dy[p] (repeats add up, in order) */
static void gather_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    void *g = x->flags & ADJ_F_GRAD ? adj_grad_buf(x) : NULL;
    if (g)
        move_along(x, y->in[1], ADJ_ATTR(y, adj_attr_axis)->axis, y->dtype, y->grad, g, true);
}

static void gather_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    move_along(y->in[0], y->in[1], ADJ_ATTR(y, adj_attr_axis)->axis, y->dtype, tx[0], ty, false);
}

static const adj_op_case gather_cases[] = {
    {2, {2, 2}, {{3, 4}, {5, 4}}, &axis0, " axis 0"},
    {2, {2, 2}, {{3, 4}, {2, 6}}, &axis1, " axis 1"},
    {2, {3, 3}, {{2, 3, 4}, {2, 2, 3}}, &axis_m1, " axis -1"},
    {2, {1, 1}, {{4}, {7}}, &axis0, " axis 0"},
    {2, {2, 2}, {{3, 2}, {0, 2}}, &axis0, " axis 0"},
};

const adj_op_desc adj_desc_gather = {
    .name = "gather", .arity = 2, .index_inputs = 1u << 1, .inputs = select_inputs,
    .attr_size = sizeof(adj_attr_axis), .shape = gather_shape, .forward = gather_forward,
    .backward = gather_backward, .jvp = gather_jvp,
    .formula = "y[p] = x[p with idx[p] along the axis]",
    .rule = "dx[p with idx[p] along the axis] += dy[p]", ADJ_CASES(gather_cases),
    .teach = &select_teach,
    .vjp = adj_vjp_gather,
};

adj_var *adj_gather_at(adj_var *x, int axis, adj_var *idx, const char *file, int line)
{
    adj_var *in[2] = {x, idx};
    return adj_record(ADJ_OP_GATHER, in, 2, &(adj_attr_axis){axis}, file, line);
}
adj_var *(adj_gather)(adj_var *x, int axis, adj_var *idx)
{
    return adj_gather_at(x, axis, idx, NULL, 0);
}

/* x, idx, src (idx's shape) -> y x's shape */
static adj_status scatter_add_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0], *idx = y->in[1], *src = y->in[2];
    bool same = src->ndim == idx->ndim;
    for (int k = 0; same && k < idx->ndim; k++)
        same = adj_cold(src)->shape[k] == adj_cold(idx)->shape[k];
    if (!same) {
        snprintf(why, n, "src must have idx's shape");
        return ADJ_ESHAPE;
    }
    adj_status s = along_check(y, x, idx, why, n);
    if (s != ADJ_OK)
        return s;
    adj_shape_from(y, x);
    return ADJ_OK;
}

/* y = x, then y[..., idx[p], ...] += src[p] for every p in order */
static void scatter_add_forward(adj_var *y)
{
    memcpy(y->value, y->in[0]->value, adj_cold(y)->numel * adj_dsize(y->dtype));
    move_along(y->in[0], y->in[1], ADJ_ATTR(y, adj_attr_axis)->axis, y->dtype, y->in[2]->value,
               y->value, true);
}

/* dx += dy;  dsrc[p] += dy[..., idx[p], ...] */
static void scatter_add_backward(adj_var *y)
{
    adj_var *x = y->in[0], *src = y->in[2];
    size_t n = adj_cold(y)->numel;
    void *gx = x->flags & ADJ_F_GRAD ? adj_grad_buf(x) : NULL;
    if (gx) {
        if (y->dtype == ADJ_F64)
            for (size_t i = 0; i < n; i++)
                ((double *)gx)[i] += ((const double *)y->grad)[i];
        else
            for (size_t i = 0; i < n; i++)
                ((float *)gx)[i] += ((const float *)y->grad)[i];
    }
    void *gs = src->flags & ADJ_F_GRAD ? adj_grad_buf(src) : NULL;
    if (!gs)
        return;
    size_t m = adj_cold(src)->numel;
    size_t *off = adj_arena_alloc(adj_node_tape(y), m * sizeof *off + 1);
    if (!off)
        return;
    along_offsets(x, y->in[1], ADJ_ATTR(y, adj_attr_axis)->axis, off);
    for (size_t p = 0; p < m; p++) {
        if (y->dtype == ADJ_F64)
            ((double *)gs)[p] += ((const double *)y->grad)[off[p]];
        else
            ((float *)gs)[p] += ((const float *)y->grad)[off[p]];
    }
}

/* tangent: dy = dx + scatter_add(dsrc) */
static void scatter_add_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    memcpy(ty, tx[0], adj_cold(y)->numel * adj_dsize(y->dtype));
    move_along(y->in[0], y->in[1], ADJ_ATTR(y, adj_attr_axis)->axis, y->dtype, tx[2], ty, true);
}

static const adj_op_case scatter_add_cases[] = {
    {3, {2, 2, 2}, {{3, 4}, {5, 4}, {5, 4}}, &axis0, " axis 0"},
    {3, {2, 2, 2}, {{3, 4}, {2, 6}, {2, 6}}, &axis1, " axis 1"},
    {3, {3, 3, 3}, {{2, 3, 4}, {2, 2, 3}, {2, 2, 3}}, &axis_m1, " axis -1"},
    {3, {1, 1, 1}, {{4}, {7}, {7}}, &axis0, " axis 0"},
    {3, {2, 2, 2}, {{3, 2}, {0, 2}, {0, 2}}, &axis0, " axis 0"},
};

static const char *const scatter_inputs[] = {"x", "idx", "src"};
static void scatter_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                           char *buf, size_t size)
{
    (void)opnd;
    snprintf(buf, size, "scatter_add(%s, axis %d, %s, %s)", ref[0],
             (int)ADJ_ATTR(y, adj_attr_axis)->axis, ref[1], ref[2]);
}
static const adj_op_teach scatter_teach = {.define_fn = scatter_define};

const adj_op_desc adj_desc_scatter_add = {
    .name = "scatter_add", .arity = 3, .index_inputs = 1u << 1, .inputs = scatter_inputs,
    .attr_size = sizeof(adj_attr_axis), .shape = scatter_add_shape,
    .forward = scatter_add_forward, .backward = scatter_add_backward, .jvp = scatter_add_jvp,
    .formula = "y = x; y[p with idx[p] along the axis] += src[p]",
    .rule = "dx += dy; dsrc[p] += dy[p with idx[p] along the axis]", ADJ_CASES(scatter_add_cases),
    .teach = &scatter_teach,
    .vjp = adj_vjp_scatter_add,
};

adj_var *adj_scatter_add_at(adj_var *x, int axis, adj_var *idx, adj_var *src, const char *file,
                            int line)
{
    adj_var *in[3] = {x, idx, src};
    return adj_record(ADJ_OP_SCATTER_ADD, in, 3, &(adj_attr_axis){axis}, file, line);
}
adj_var *(adj_scatter_add)(adj_var *x, int axis, adj_var *idx, adj_var *src)
{
    return adj_scatter_add_at(x, axis, idx, src, NULL, 0);
}

/* --------------------------------------------------------------- one_hot */

typedef struct one_hot_attr {
    int32_t classes;
    int32_t dtype; /* of the output: ADJ_F32 or ADJ_F64 */
} one_hot_attr;

/* idx -> y idx.shape + (classes) in the dtype asked for */
static adj_status one_hot_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *idx = y->in[0];
    const one_hot_attr *a = ADJ_ATTR(y, one_hot_attr);
    if (a->dtype != ADJ_F32 && a->dtype != ADJ_F64) {
        snprintf(why, n, "the output dtype must be f32 or f64, not %d", (int)a->dtype);
        return ADJ_EDTYPE;
    }
    if (a->classes < 0) {
        snprintf(why, n, "classes %d is negative", (int)a->classes);
        return ADJ_EINVAL;
    }
    if (idx->ndim + 1 > ADJ_MAX_DIMS) {
        snprintf(why, n, "the output would have %d dimensions (at most %d)", idx->ndim + 1,
                 ADJ_MAX_DIMS);
        return ADJ_ESHAPE;
    }
    adj_status s = check_indices(idx, a->classes, why, n);
    if (s != ADJ_OK)
        return s;
    y->dtype = (uint8_t)a->dtype;
    y->ndim = (uint8_t)(idx->ndim + 1);
    memcpy(adj_cold(y)->shape, adj_cold(idx)->shape, (size_t)idx->ndim * sizeof(int64_t));
    adj_cold(y)->shape[idx->ndim] = a->classes;
    return ADJ_OK;
}

/* y[i, c] = [c = idx[i]] */
static void one_hot_forward(adj_var *y)
{
    const int32_t *ix = y->in[0]->value;
    size_t m = adj_cold(y->in[0])->numel, c = (size_t)ADJ_ATTR(y, one_hot_attr)->classes;
    memset(y->value, 0, adj_cold(y)->numel * adj_dsize(y->dtype));
    for (size_t i = 0; i < m; i++) {
        if (y->dtype == ADJ_F64)
            ((double *)y->value)[i * c + (size_t)ix[i]] = 1.0;
        else
            ((float *)y->value)[i * c + (size_t)ix[i]] = 1.0f;
    }
}

/* nothing flows back into an index tensor */
static void one_hot_backward(adj_var *y) { (void)y; }

/* tangent: 0 (the output depends on no float input) */
static void one_hot_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    (void)tx;
    memset(ty, 0, adj_cold(y)->numel * adj_dsize(y->dtype));
}

static const one_hot_attr one_hot4 = {4, ADJ_F64}, one_hot1 = {1, ADJ_F64};
static const adj_op_case one_hot_cases[] = {
    {1, {1}, {{5}}, &one_hot4, " 4 classes"},
    {1, {2}, {{2, 3}}, &one_hot4, " 4 classes"},
    {1, {0}, {{0}}, &one_hot1, " 1 class"},
    {1, {1}, {{0}}, &one_hot4, " 4 classes"},
};

static const char *const one_hot_inputs[] = {"idx"};
static void one_hot_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                           char *buf, size_t size)
{
    (void)opnd;
    snprintf(buf, size, "one_hot(%s, %d)", ref[0], (int)ADJ_ATTR(y, one_hot_attr)->classes);
}
static const adj_op_teach one_hot_teach = {.define_fn = one_hot_define};

const adj_op_desc adj_desc_one_hot = {
    .name = "one_hot", .arity = 1, .index_inputs = 1u, .inputs = one_hot_inputs,
    .attr_size = sizeof(one_hot_attr), .shape = one_hot_shape, .forward = one_hot_forward,
    .backward = one_hot_backward, .jvp = one_hot_jvp, .formula = "y[i, c] = [c = idx[i]]",
    .rule = "(no gradient: idx is an index tensor)", ADJ_CASES(one_hot_cases),
    .teach = &one_hot_teach,
};

adj_var *adj_one_hot_at(adj_var *idx, int classes, adj_dtype dtype, const char *file, int line)
{
    one_hot_attr a = {classes, (int32_t)dtype};
    return adj_record(ADJ_OP_ONE_HOT, &idx, 1, &a, file, line);
}
adj_var *(adj_one_hot)(adj_var *idx, int classes, adj_dtype dtype)
{
    return adj_one_hot_at(idx, classes, dtype, NULL, 0);
}

/* for the graph-mode rule (ops/decompose.c) */
int adj_cross_entropy_ignore(const adj_var *y) { return ADJ_ATTR(y, ce_attr)->ignore; }
