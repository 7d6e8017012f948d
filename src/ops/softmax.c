/*
 * Softmax family along the last axis: softmax, log-softmax and the fused
 * softmax cross-entropy.  Each row is shifted by its maximum before
 * exponentiating (log-sum-exp), so logits of any size are safe.
 */
#include "ops/op.h"
#include "ops/vmath.h"

#include <math.h>
#include <string.h>

/*
 * e_j = e^(x_j - shift) for a block of up to EXP_BLOCK elements, in double
 * (x_j - shift in the element type, as the rows do).  Sums over a row go
 * through such a buffer, in order, so that the exponentials run in a loop
 * the compiler vectorises and the accumulation stays sequential in double.
 */
enum { EXP_BLOCK = 64 };

static void exp_block_double(double *restrict e, const double *restrict x, double shift, size_t m)
{
    for (size_t j = 0; j < m; j++)
        e[j] = adj_vexp(x[j] - shift);
}

static void exp_block_float(double *restrict e, const float *restrict x, float shift, size_t m)
{
    for (size_t j = 0; j < m; j++)
        e[j] = adj_vexp((double)(x[j] - shift));
}

/* Rows and row length of x along its last axis (a 0-D x is one row of 1). */
static void rows_cols(const adj_var *x, size_t *rows, size_t *cols)
{
    *cols = x->ndim ? (size_t)adj_cold(x)->shape[x->ndim - 1] : 1;
    *rows = *cols ? adj_cold(x)->numel / *cols : 0;
}

/* y = x - max - log sum exp(x - max) for one row, in T */
#define LOG_SOFTMAX_ROW(T, x, y, k)                                             \
    do {                                                                       \
        T mx_ = (x)[0];                                                        \
        for (size_t j_ = 1; j_ < (k); j_++)                                    \
            mx_ = (x)[j_] > mx_ ? (x)[j_] : mx_;                               \
        double s_ = 0, e_[EXP_BLOCK];                                          \
        for (size_t j0_ = 0; j0_ < (k); j0_ += EXP_BLOCK) {                    \
            size_t m_ = (k) - j0_ < EXP_BLOCK ? (k) - j0_ : EXP_BLOCK;         \
            exp_block_##T(e_, (x) + j0_, mx_, m_);                             \
            for (size_t j_ = 0; j_ < m_; j_++)                                 \
                s_ += e_[j_];                                                  \
        }                                                                      \
        const T lse_ = (T)(mx_ + log(s_));                                     \
        for (size_t j_ = 0; j_ < (k); j_++)                                    \
            (y)[j_] = (x)[j_] - lse_;                                          \
    } while (0)

#define SOFTMAX_FWD(T, LOG)                                                     \
    do {                                                                       \
        const T *xs = y->in[0]->value;                                         \
        T *ys = y->value;                                                      \
        for (size_t r = 0; r < rows; r++) {                                    \
            LOG_SOFTMAX_ROW(T, xs + r * k, ys + r * k, k);                     \
            if (!(LOG))                                                        \
                for (size_t j = 0; j < k; j++)                                 \
                    ys[r * k + j] = (T)adj_vexp((double)ys[r * k + j]);        \
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

/* softmax:     dx_j += y_j (dy_j - sum_i dy_i y_i)
 * log-softmax: dx_j += dy_j - e^{y_j} sum_i dy_i */
#define SOFTMAX_BWD(T, LOG)                                                     \
    do {                                                                       \
        const T *ys = y->value, *dy = y->grad;                                 \
        T *dx = g;                                                             \
        for (size_t r = 0; r < rows; r++) {                                    \
            const T *yr = ys + r * k, *dr = dy + r * k;                        \
            double s = 0;                                                      \
            for (size_t j = 0; j < k; j++)                                     \
                s += (LOG) ? (double)dr[j] : (double)dr[j] * yr[j];            \
            for (size_t j = 0; j < k; j++)                                     \
                dx[r * k + j] += (LOG) ? (T)(dr[j] - adj_vexp((double)yr[j]) * s) \
                                       : (T)(yr[j] * (dr[j] - s));             \
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
 * log-softmax tangent: dy_j = dx_j - sum_i e^{y_i} dx_i */
#define SOFTMAX_TAN(T, LOG)                                                     \
    do {                                                                       \
        const T *ys = y->value, *dx = tx;                                      \
        T *dy = ty;                                                            \
        for (size_t r = 0; r < rows; r++) {                                    \
            const T *yr = ys + r * k, *dr = dx + r * k;                        \
            double s = 0, e[EXP_BLOCK];                                        \
            for (size_t j0 = 0; (LOG) && j0 < k; j0 += EXP_BLOCK) {            \
                size_t m = k - j0 < EXP_BLOCK ? k - j0 : EXP_BLOCK;            \
                exp_block_##T(e, yr + j0, (T)0, m);                            \
                for (size_t j = 0; j < m; j++)                                 \
                    s += e[j] * dr[j0 + j];                                    \
            }                                                                  \
            for (size_t j = 0; !(LOG) && j < k; j++)                           \
                s += (double)yr[j] * dr[j];                                    \
            for (size_t j = 0; j < k; j++)                                     \
                dy[r * k + j] = (LOG) ? (T)(dr[j] - s) : (T)(yr[j] * (dr[j] - s)); \
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
    .rule = "dx_j += y_j (dy_j - sum_i dy_i y_i)", .sig = ADJ_SIG_UNARY,
};
const adj_op_desc adj_desc_log_softmax = {
    .name = "log_softmax", .arity = 1, .shape = adj_shape_same, .forward = log_softmax_forward,
    .backward = log_softmax_backward, .jvp = log_softmax_jvp, .formula = "y_j = x_j - log sum_i exp(x_i)",
    .rule = "dx_j += dy_j - softmax_j sum_i dy_i", .sig = ADJ_SIG_UNARY,
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

/* Saved by the forward: the probabilities (rows x k, dtype) then labels. */
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
    if (k == 0 || rows == 0) {
        snprintf(why, n, "logits are empty");
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

#define CE_FWD(T)                                                               \
    do {                                                                       \
        const T *z = x->value;                                                 \
        T *p = ADJ_ATTR(y, adj_attr_labels)->saved;                            \
        double loss = 0;                                                       \
        for (size_t r = 0; r < rows; r++) {                                    \
            LOG_SOFTMAX_ROW(T, z + r * k, p + r * k, k);                       \
            loss -= (double)p[r * k + (size_t)labels[r]];                      \
            for (size_t j = 0; j < k; j++)                                     \
                p[r * k + j] = (T)adj_vexp((double)p[r * k + j]);              \
        }                                                                      \
        *(T *)y->value = (T)(loss / (double)rows);                             \
    } while (0)

/* C = (1/R) sum_r (log sum_j e^{z_rj} - z_r,label).  The first run moves
 * the labels into an arena buffer after the probabilities (saved is NULL
 * before it), so running the forward again on the node recomputes in place. */
static void ce_forward(adj_var *y)
{
    const adj_var *x = y->in[0];
    size_t rows, k;
    rows_cols(x, &rows, &k);
    size_t pbytes = rows * k * adj_dsize(y->dtype);
    adj_attr_labels *at = ADJ_ATTR(y, adj_attr_labels);
    if (!at->saved) {
        char *buf = adj_arena_alloc(adj_cold(y)->tape, pbytes + rows * sizeof(int32_t));
        if (!buf)
            return;
        memcpy(buf + pbytes, at->labels, rows * sizeof(int32_t));
        at->saved = buf;
        at->labels = (const int32_t *)(const void *)(buf + pbytes);
    }
    const int32_t *labels = at->labels;
    if (y->dtype == ADJ_F64)
        CE_FWD(double);
    else
        CE_FWD(float);
}

/* dz_rj += dy (p_rj - [j = label_r]) / R */
#define CE_BWD(T)                                                               \
    do {                                                                       \
        const T *p = ADJ_ATTR(y, adj_attr_labels)->saved;                      \
        T *dz = g;                                                             \
        const T d = (T)(*(const T *)y->grad / (double)rows);                   \
        for (size_t r = 0; r < rows; r++)                                      \
            for (size_t j = 0; j < k; j++)                                     \
                dz[r * k + j] += d * (p[r * k + j] - (j == (size_t)labels[r] ? (T)1 : (T)0)); \
    } while (0)

static void ce_backward(adj_var *y)
{
    void *g = adj_grad_buf(y->in[0]);
    if (!g)
        return;
    size_t rows, k;
    rows_cols(y->in[0], &rows, &k);
    const int32_t *labels = ADJ_ATTR(y, adj_attr_labels)->labels;
    if (y->dtype == ADJ_F64)
        CE_BWD(double);
    else
        CE_BWD(float);
}

/* tangent: dC = (1/R) sum_rj (p_rj - [j = label_r]) dz_rj */
#define CE_TAN(T)                                                               \
    do {                                                                       \
        const T *p = ADJ_ATTR(y, adj_attr_labels)->saved, *dz = tx[0];         \
        double s = 0;                                                          \
        for (size_t r = 0; r < rows; r++)                                      \
            for (size_t j = 0; j < k; j++)                                     \
                s += ((double)p[r * k + j] - (j == (size_t)labels[r] ? 1.0 : 0.0)) * dz[r * k + j]; \
        *(T *)ty = (T)(s / (double)rows);                                      \
    } while (0)

static void ce_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    size_t rows, k;
    rows_cols(y->in[0], &rows, &k);
    const int32_t *labels = ADJ_ATTR(y, adj_attr_labels)->labels;
    if (y->dtype == ADJ_F64)
        CE_TAN(double);
    else
        CE_TAN(float);
}

const adj_op_desc adj_desc_softmax_ce = {
    .name = "softmax_cross_entropy", .arity = 1, .attr_size = sizeof(adj_attr_labels),
    .shape = ce_shape, .forward = ce_forward,
    .backward = ce_backward, .jvp = ce_jvp, .formula = "C = mean_r (log sum_j exp(z_rj) - z_r,label)",
    .rule = "dz += dC (softmax(z) - onehot(label)) / R", .sig = ADJ_SIG_LABELS,
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
