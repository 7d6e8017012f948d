/*
 * Softmax family along the last axis: softmax, log-softmax and the fused
 * softmax cross-entropy.  Each row is shifted by its maximum before
 * exponentiating, and the shifted log-sum-exp stays in double until it is
 * subtracted (row_lse below), so logits of any size are safe: they neither
 * overflow nor lose accuracy.
 */
#include "core/pool.h"
#include "ops/cases.h"
#include "ops/decompose.h"
#include "ops/dispatch.h"
#include "ops/op.h"
#include "ops/vmath.h"

#include <math.h>
#include <string.h>

/*
 * The log-sum-exp of a row, shifted by its maximum m (first at index jm):
 *
 *     log sum_j e^(x_j - m) = log1p(s1),   s1 = sum_{j != jm} e^(x_j - m)
 *
 * The differences d_j = x_j - m are formed in double (exact for a float
 * row) and nothing is rounded to the element type before log1p(s1) is
 * subtracted from them, so the result does not depend on the size of the
 * logits, only on their differences: log_softmax(x + c) = log_softmax(x).
 * Leaving e^0 = 1 out of the sum keeps the bits of s1 that 1 + s1 would
 * round away (log_softmax([1000, 990]) = (-log1p(e^-10), -10 - log1p(e^-10))).
 * The exponentials run a block of EXP_BLOCK at a time into a buffer, so
 * that they vectorise and the accumulation stays sequential in double.
 */
enum { EXP_BLOCK = 64 };

typedef struct row_lse {
    double m;     /* the row's maximum (NaN if the first element is NaN) */
    double s1;    /* sum of e^(x_j - m) over j != jm */
    size_t jm;    /* where the maximum first occurs */
} row_lse;

/* e_j = e^(x_j - m) for j < n, in double */
#define EXP_BLOCK_FN(T, S, TGT)                                                  \
    TGT static void exp_block_##S(double *restrict e, const T *restrict x, double m, size_t n) \
    {                                                                          \
        for (size_t j = 0; j < n; j++)                                         \
            e[j] = adj_vexp((double)x[j] - m);                                 \
    }
#if ADJ_VM_DISPATCH
/* With AVX2 where the CPU has it (4 lanes instead of SSE2's 2): the same
 * bits (dispatch.h), about twice as fast on rows of 10. */
EXP_BLOCK_FN(double, double_base, )
EXP_BLOCK_FN(float, float_base, )
EXP_BLOCK_FN(double, double_avx2, ADJ_VM_TGT_AVX2 __attribute__((noinline)))
EXP_BLOCK_FN(float, float_avx2, ADJ_VM_TGT_AVX2 __attribute__((noinline)))
static void exp_block_double(double *restrict e, const double *restrict x, double m, size_t n)
{
    if (adj_vm_level() >= ADJ_VM_AVX2)
        exp_block_double_avx2(e, x, m, n);
    else
        exp_block_double_base(e, x, m, n);
}
static void exp_block_float(double *restrict e, const float *restrict x, double m, size_t n)
{
    if (adj_vm_level() >= ADJ_VM_AVX2)
        exp_block_float_avx2(e, x, m, n);
    else
        exp_block_float_base(e, x, m, n);
}
#else
EXP_BLOCK_FN(double, double, )
EXP_BLOCK_FN(float, float, )
#endif

#define ROW_LSE(T, x, k)                                                        \
    do {                                                                       \
        size_t jm_ = 0;                                                        \
        for (size_t j_ = 1; j_ < (k); j_++)                                    \
            jm_ = (x)[j_] > (x)[jm_] ? j_ : jm_;                               \
        r.m = (double)(x)[jm_];                                                \
        r.jm = jm_;                                                            \
        r.s1 = 0;                                                              \
        double e_[EXP_BLOCK];                                                  \
        for (size_t j0_ = 0; j0_ < (k); j0_ += EXP_BLOCK) {                    \
            size_t n_ = (k) - j0_ < EXP_BLOCK ? (k) - j0_ : EXP_BLOCK;         \
            exp_block_##T(e_, (x) + j0_, r.m, n_);                             \
            if (jm_ - j0_ < n_)                                                \
                e_[jm_ - j0_] = 0;                                             \
            for (size_t j_ = 0; j_ < n_; j_++)                                 \
                r.s1 += e_[j_];                                                \
        }                                                                      \
    } while (0)

static row_lse row_lse_double(const double *x, size_t k)
{
    row_lse r;
    ROW_LSE(double, x, k);
    return r;
}

static row_lse row_lse_float(const float *x, size_t k)
{
    row_lse r;
    ROW_LSE(float, x, k);
    return r;
}

/* Rows and row length of x along its last axis (a 0-D x is one row of 1). */
static void rows_cols(const adj_var *x, size_t *rows, size_t *cols)
{
    *cols = x->ndim ? (size_t)adj_cold(x)->shape[x->ndim - 1] : 1;
    *rows = *cols ? adj_cold(x)->numel / *cols : 0;
}

/* log-softmax: y_j = (x_j - m) - log1p(s1);
 * softmax:     y_j = e^(x_j - m) / (1 + s1) */
#define SOFTMAX_FWD(T, LOG)                                                     \
    do {                                                                       \
        const T *xs = y->in[0]->value;                                         \
        T *ys = y->value;                                                      \
        double e[EXP_BLOCK];                                                   \
        for (size_t r = 0; r < rows; r++) {                                    \
            const T *xr = xs + r * k;                                          \
            T *yr = ys + r * k;                                                \
            const row_lse l = row_lse_##T(xr, k);                              \
            if (LOG) {                                                         \
                const double lse = log1p(l.s1);                                \
                for (size_t j = 0; j < k; j++)                                 \
                    yr[j] = (T)(((double)xr[j] - l.m) - lse);                  \
                continue;                                                      \
            }                                                                  \
            const double s = 1 + l.s1;                                         \
            for (size_t j0 = 0; j0 < k; j0 += EXP_BLOCK) {                     \
                size_t n = k - j0 < EXP_BLOCK ? k - j0 : EXP_BLOCK;            \
                exp_block_##T(e, xr + j0, l.m, n);                             \
                for (size_t j = 0; j < n; j++)                                 \
                    yr[j0 + j] = (T)(e[j] / s);                                \
            }                                                                  \
        }                                                                      \
    } while (0)

static void softmax_any_forward(adj_var *y, bool log_)
{
    size_t rows, k;
    rows_cols(y->in[0], &rows, &k);
    if (y->dtype == ADJ_F64)
        SOFTMAX_FWD(double, log_);
    else
        SOFTMAX_FWD(float, log_);
}

/* Where y is largest in a row (at jm), the rules below would subtract
 * nearly equal numbers: 1 - p_jm there is the sum of the other p_i, and
 * the row's sums leave jm out.
 *
 * softmax:     dx_j += y_j (dy_j - sum_i dy_i y_i);
 *              at jm: y_jm (dy_jm sum_{i != jm} y_i - sum_{i != jm} dy_i y_i)
 * log-softmax: dx_j += dy_j - p_j sum_i dy_i  (p_j = e^{y_j});
 *              at jm: -sum_{i != jm} dy_i - expm1(y_jm) sum_i dy_i */
#define SOFTMAX_BWD(T, LOG)                                                     \
    do {                                                                       \
        const T *ys = y->value, *dy = y->grad;                                 \
        T *dx = g;                                                             \
        for (size_t r = 0; r < rows; r++) {                                    \
            const T *yr = ys + r * k, *dr = dy + r * k;                        \
            T *gr = dx + r * k;                                                \
            size_t jm = 0;                                                     \
            for (size_t j = 1; j < k; j++)                                     \
                jm = yr[j] > yr[jm] ? j : jm;                                  \
            double sx = 0, rest = 0; /* sums over j != jm */                   \
            for (size_t j = 0; j < k; j++) {                                   \
                if (j == jm)                                                   \
                    continue;                                                  \
                sx += (LOG) ? (double)dr[j] : (double)dr[j] * yr[j];           \
                rest += yr[j];                                                 \
            }                                                                  \
            const double s = sx + ((LOG) ? (double)dr[jm] : (double)dr[jm] * yr[jm]); \
            for (size_t j = 0; j < k; j++)                                     \
                if (j != jm)                                                   \
                    gr[j] += (LOG) ? (T)(dr[j] - adj_vexp((double)yr[j]) * s)  \
                                   : (T)(yr[j] * (dr[j] - s));                 \
            gr[jm] += (LOG) ? (T)(-sx - adj_vexpm1((double)yr[jm]) * s)        \
                            : (T)(yr[jm] * ((double)dr[jm] * rest - sx));      \
        }                                                                      \
    } while (0)

static void softmax_any_backward(adj_var *y, bool log_)
{
    void *g = adj_grad_buf(y->in[0]);
    if (!g)
        return;
    size_t rows, k;
    rows_cols(y->in[0], &rows, &k);
    if (y->dtype == ADJ_F64)
        SOFTMAX_BWD(double, log_);
    else
        SOFTMAX_BWD(float, log_);
}

/* softmax tangent:     dy_j = y_j (dx_j - sum_i y_i dx_i)
 *                      at jm: y_jm (dx_jm sum_{i != jm} y_i - sum_{i != jm} y_i dx_i)
 * log-softmax tangent: dy_j = dx_j - sum_i p_i dx_i
 *                      at jm: -expm1(y_jm) dx_jm - sum_{i != jm} p_i dx_i */
#define SOFTMAX_TAN(T, LOG)                                                     \
    do {                                                                       \
        const T *ys = y->value, *dx = tx;                                      \
        T *dy = ty;                                                            \
        for (size_t r = 0; r < rows; r++) {                                    \
            const T *yr = ys + r * k, *dr = dx + r * k;                        \
            T *tr = dy + r * k;                                                \
            size_t jm = 0;                                                     \
            for (size_t j = 1; j < k; j++)                                     \
                jm = yr[j] > yr[jm] ? j : jm;                                  \
            double sx = 0, rest = 0; /* sums over j != jm */                   \
            for (size_t j = 0; j < k; j++) {                                   \
                if (j == jm)                                                   \
                    continue;                                                  \
                const double p = (LOG) ? adj_vexp((double)yr[j]) : (double)yr[j]; \
                sx += p * dr[j];                                               \
                rest += p;                                                     \
            }                                                                  \
            const double pm = (LOG) ? adj_vexp((double)yr[jm]) : (double)yr[jm]; \
            const double s = sx + pm * dr[jm];                                 \
            for (size_t j = 0; j < k; j++)                                     \
                if (j != jm)                                                   \
                    tr[j] = (LOG) ? (T)(dr[j] - s) : (T)(yr[j] * (dr[j] - s)); \
            tr[jm] = (LOG) ? (T)(-adj_vexpm1((double)yr[jm]) * dr[jm] - sx)    \
                           : (T)(yr[jm] * ((double)dr[jm] * rest - sx));       \
        }                                                                      \
    } while (0)

static void softmax_any_jvp(const adj_var *y, const void *tx, void *ty, bool log_)
{
    size_t rows, k;
    rows_cols(y->in[0], &rows, &k);
    if (y->dtype == ADJ_F64)
        SOFTMAX_TAN(double, log_);
    else
        SOFTMAX_TAN(float, log_);
}

static void softmax_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    softmax_any_jvp(y, tx[0], ty, false);
}
static void log_softmax_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    softmax_any_jvp(y, tx[0], ty, true);
}

static void softmax_forward(adj_var *y) { softmax_any_forward(y, false); }
static void softmax_backward(adj_var *y) { softmax_any_backward(y, false); }
static void log_softmax_forward(adj_var *y) { softmax_any_forward(y, true); }
static void log_softmax_backward(adj_var *y) { softmax_any_backward(y, true); }

const adj_op_desc adj_desc_softmax = {
    .name = "softmax", .arity = 1, .shape = adj_shape_same, .forward = softmax_forward,
    .backward = softmax_backward, .jvp = softmax_jvp, .formula = "y_j = exp(x_j) / sum_i exp(x_i)",
    .rule = "dx_j += y_j (dy_j - sum_i dy_i y_i)", ADJ_CASES(adj_cases_unary),
    .decompose = adj_decomp_softmax,
};
const adj_op_desc adj_desc_log_softmax = {
    .name = "log_softmax", .arity = 1, .shape = adj_shape_same, .forward = log_softmax_forward,
    .backward = log_softmax_backward, .jvp = log_softmax_jvp, .formula = "y_j = x_j - log sum_i exp(x_i)",
    .rule = "dx_j += dy_j - softmax_j sum_i dy_i", ADJ_CASES(adj_cases_unary),
    .decompose = adj_decomp_log_softmax,
};

adj_var *adj_softmax_at(adj_var *x, const char *file, int line)
{
    return adj_record(ADJ_OP_SOFTMAX, &x, 1, NULL, file, line);
}
adj_var *adj_log_softmax_at(adj_var *x, const char *file, int line)
{
    return adj_record(ADJ_OP_LOG_SOFTMAX, &x, 1, NULL, file, line);
}
ADJ_FN1(softmax)
ADJ_FN1(log_softmax)

/* ------------------------------------------------- softmax cross-entropy */

/* Saved by the forward: softmax(z) - onehot(labels) (rows x k, dtype),
 * then the labels. */
static adj_status ce_shape(adj_var *y, char *why, size_t n)
{
    const adj_attr_labels *args = ADJ_ATTR(y, adj_attr_labels);
    const adj_var *x = y->in[0];
    size_t rows, k;
    if (x->ndim < 1 || x->ndim > 2) {
        snprintf(why, n, "logits must be (rows, classes) or (classes)");
        return ADJ_ESHAPE;
    }
    rows_cols(x, &rows, &k);
    if (x->ndim == 2 && adj_cold(x)->shape[0] == 0) {
        y->ndim = 0; /* no rows: the mean is 0/0 = NaN, as adj_mean's */
        return ADJ_OK;
    }
    if (k == 0) {
        snprintf(why, n, "the logits have no classes");
        return ADJ_ESHAPE;
    }
    if (!args->labels) {
        snprintf(why, n, "labels is NULL");
        return ADJ_EINVAL;
    }
    for (size_t r = 0; r < rows; r++)
        if (args->labels[r] < 0 || (size_t)args->labels[r] >= k) {
            snprintf(why, n, "label %d of row %zu is not a class in [0, %zu)", (int)args->labels[r], r,
                     k);
            return ADJ_EINVAL;
        }
    /* args->labels: the caller's labels, copied into the arena by the forward */
    y->ndim = 0;
    return ADJ_OK;
}

/* Per row: the loss log1p(s1) - (z_label - m) and the saved
 * q_j = p_j - [j = label], with p_j = e^(z_j - m) / (1 + s1).  At the label
 * q = -(sum of the other e_j) / (1 + s1) is formed without subtracting 1,
 * so the gradient keeps its digits when p_label is close to 1.  Rows
 * [lo, hi) of a range of the pool: each row's loss goes to lr[r], and the
 * caller adds them up in order, so the bits do not depend on the split. */
#define CE_FWD(T)                                                               \
    do {                                                                       \
        const T *z = j->z;                                                     \
        T *q = j->q;                                                           \
        double e[EXP_BLOCK];                                                   \
        for (size_t r = lo; r < hi; r++) {                                     \
            const T *zr = z + r * k;                                           \
            T *qr = q + r * k;                                                 \
            const size_t lab = (size_t)j->labels[r];                           \
            const row_lse l = row_lse_##T(zr, k);                              \
            const double s = 1 + l.s1;                                         \
            j->lr[r] = log1p(l.s1) - ((double)zr[lab] - l.m);                  \
            double el = 0;                                                     \
            for (size_t j0 = 0; j0 < k; j0 += EXP_BLOCK) {                     \
                size_t n = k - j0 < EXP_BLOCK ? k - j0 : EXP_BLOCK;            \
                exp_block_##T(e, zr + j0, l.m, n);                             \
                if (lab - j0 < n)                                              \
                    el = e[lab - j0];                                          \
                for (size_t i = 0; i < n; i++)                                 \
                    qr[j0 + i] = (T)(e[i] / s);                                \
            }                                                                  \
            /* the other e_j: s1 at the maximum, else 1 + s1 - e_label >= 1 */ \
            qr[lab] = (T)(-(lab == l.jm ? l.s1 : s - el) / s);                 \
        }                                                                      \
    } while (0)

typedef struct ce_job {
    const void *z;
    void *q;
    const int32_t *labels;
    double *lr; /* each row's loss */
    size_t k;
    bool f64;
} ce_job;

static void ce_rows(void *ctx, size_t lo, size_t hi)
{
    const ce_job *j = ctx;
    const size_t k = j->k;
    if (j->f64)
        CE_FWD(double);
    else
        CE_FWD(float);
}

/* Rows a range of the pool takes at least: about 256 elements, each an
 * exponential and a division in double (a batch of 64 rows of 10 classes
 * splits over 2 threads: 5.6 -> 3.3 us at best). */
#define CE_GRAIN_ELEMS 256

/* C = (1/R) sum_r (log sum_j e^{z_rj} - z_r,label).  The first run moves
 * the labels into an arena buffer after softmax - onehot (saved is NULL
 * before it), followed by room for each row's loss, so running the forward
 * again on the node recomputes in place. */
static void ce_forward(adj_var *y)
{
    const adj_var *x = y->in[0];
    size_t rows, k;
    rows_cols(x, &rows, &k);
    size_t pbytes = rows * k * adj_dsize(y->dtype);
    size_t lbytes = (pbytes + rows * sizeof(int32_t) + 7) / 8 * 8; /* where the losses start */
    adj_attr_labels *at = ADJ_ATTR(y, adj_attr_labels);
    if (rows == 0) {
        if (y->dtype == ADJ_F64)
            *(double *)y->value = NAN;
        else
            *(float *)y->value = NAN;
        return;
    }
    if (!at->saved) {
        char *buf = adj_arena_alloc(adj_node_tape(y), lbytes + rows * sizeof(double));
        if (!buf)
            return;
        memcpy(buf + pbytes, at->labels, rows * sizeof(int32_t));
        at->saved = buf;
        at->labels = (const int32_t *)(const void *)(buf + pbytes);
    }
    ce_job j = {x->value, at->saved, at->labels,
                (double *)(void *)((char *)at->saved + lbytes), k, y->dtype == ADJ_F64};
    adj_par_for(rows, (CE_GRAIN_ELEMS + k - 1) / k, ce_rows, &j);
    double loss = 0;
    for (size_t r = 0; r < rows; r++)
        loss += j.lr[r];
    if (y->dtype == ADJ_F64)
        *(double *)y->value = loss / (double)rows;
    else
        *(float *)y->value = (float)(loss / (double)rows);
}

/* dz_rj += dy (p_rj - [j = label_r]) / R = dy q_rj / R */
#define CE_BWD(T)                                                               \
    do {                                                                       \
        const T *q = ADJ_ATTR(y, adj_attr_labels)->saved;                      \
        T *dz = g;                                                             \
        const T d = (T)(*(const T *)y->grad / (double)rows);                   \
        for (size_t i = 0; i < rows * k; i++)                                  \
            dz[i] += d * q[i];                                                 \
    } while (0)

static void ce_backward(adj_var *y)
{
    void *g = adj_grad_buf(y->in[0]);
    if (!g)
        return;
    size_t rows, k;
    rows_cols(y->in[0], &rows, &k);
    if (y->dtype == ADJ_F64)
        CE_BWD(double);
    else
        CE_BWD(float);
}

/* tangent: dC = (1/R) sum_rj (p_rj - [j = label_r]) dz_rj = (1/R) sum q dz */
#define CE_TAN(T)                                                               \
    do {                                                                       \
        const T *q = ADJ_ATTR(y, adj_attr_labels)->saved, *dz = tx[0];         \
        double s = 0;                                                          \
        for (size_t i = 0; i < rows * k; i++)                                  \
            s += (double)q[i] * dz[i];                                         \
        *(T *)ty = (T)(s / (double)rows);                                      \
    } while (0)

static void ce_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    size_t rows, k;
    rows_cols(y->in[0], &rows, &k);
    if (y->dtype == ADJ_F64)
        CE_TAN(double);
    else
        CE_TAN(float);
}

static const char *const ce_symbols[] = {"z", "C"};
static const adj_op_teach ce_teach = {.define = "cross_entropy(softmax(@0), labels)",
                                      .symbols = ce_symbols};

/* labels in [0, classes) of each case's rows */
static const int32_t ce_l43[] = {2, 0, 1, 2}, ce_l15[] = {3}, ce_l3[] = {1}, ce_l21[] = {0, 0};
static const adj_attr_labels ce_a43 = {ce_l43, NULL}, ce_a15 = {ce_l15, NULL},
                             ce_a3 = {ce_l3, NULL}, ce_a21 = {ce_l21, NULL};
static const adj_op_case ce_cases[] = {
    {1, {2}, {{4, 3}}, &ce_a43, " labels 2,0,1,2"},
    {1, {2}, {{1, 5}}, &ce_a15, " label 3"},
    {1, {1}, {{3}}, &ce_a3, " label 1"},
    {1, {2}, {{2, 1}}, &ce_a21, " labels 0,0"},
};

const adj_op_desc adj_desc_softmax_ce = {
    .name = "softmax_cross_entropy", .arity = 1, .attr_size = sizeof(adj_attr_labels),
    .shape = ce_shape, .forward = ce_forward,
    .backward = ce_backward, .jvp = ce_jvp, .formula = "C = mean_r (log sum_j exp(z_rj) - z_r,label)",
    .rule = "dz += dC (softmax(z) - onehot(label)) / R", ADJ_CASES(ce_cases),
    .teach = &ce_teach,
    .decompose = adj_decomp_softmax_ce,
};

adj_var *adj_softmax_cross_entropy_at(adj_var *logits, const int32_t *labels, const char *file,
                                      int line)
{
    adj_attr_labels a = {.labels = labels};
    return adj_record(ADJ_OP_SOFTMAX_CE, &logits, 1, &a, file, line);
}
adj_var *(adj_softmax_cross_entropy)(adj_var *logits, const int32_t *labels)
{
    return adj_softmax_cross_entropy_at(logits, labels, NULL, 0);
}
