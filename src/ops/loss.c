/*
 * Elementwise losses reduced to their mean: MSE and BCE with logits.
 * Both operands have the same shape; both may receive gradients.
 */
#include "ops/cases.h"
#include "ops/decompose.h"
#include "ops/op.h"
#include "ops/vmath.h"

#include <math.h>

/* Sums over the elements go through a block buffer, in order: the
 * per-element terms (exponentials and logarithms) run in a loop the
 * compiler vectorises, and the accumulation stays sequential in double. */
enum { TERM_BLOCK = 256 };

static adj_status pair_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    bool same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++)
        same = adj_cold(a)->shape[i] == adj_cold(b)->shape[i];
    if (!same) {
        snprintf(why, n, "prediction and target must have the same shape");
        return ADJ_ESHAPE;
    }
    /* no elements: the mean is 0/0 = NaN, as adj_mean's */
    y->ndim = 0;
    return ADJ_OK;
}

/* L = (1/n) sum (a - b)^2 */
#define MSE_FWD(T)                                                              \
    do {                                                                       \
        const T *a = y->in[0]->value, *b = y->in[1]->value;                    \
        double s = 0;                                                          \
        for (size_t i = 0; i < n; i++) {                                       \
            double d = (double)a[i] - (double)b[i];                            \
            s += d * d;                                                        \
        }                                                                      \
        *(T *)y->value = (T)(s / (double)n);                                   \
    } while (0)

/* da += dL 2 (a - b) / n ;  db += -dL 2 (a - b) / n */
#define MSE_BWD(T)                                                              \
    do {                                                                       \
        const T *a = y->in[0]->value, *b = y->in[1]->value;                    \
        T *da = ga, *db = gb;                                                  \
        const T k = (T)(2.0 * *(const T *)y->grad / (double)n);                \
        for (size_t i = 0; i < n; i++) {                                       \
            T d = k * (a[i] - b[i]);                                           \
            if (da)                                                            \
                da[i] += d;                                                    \
            if (db)                                                            \
                db[i] -= d;                                                    \
        }                                                                      \
    } while (0)

static void mse_forward(adj_var *y)
{
    size_t n = adj_cold(y->in[0])->numel;
    if (y->dtype == ADJ_F64)
        MSE_FWD(double);
    else
        MSE_FWD(float);
}

static void mse_backward(adj_var *y)
{
    size_t n = adj_cold(y->in[0])->numel;
    void *ga = (y->in[0]->flags & ADJ_F_GRAD) ? adj_grad_buf(y->in[0]) : NULL;
    void *gb = (y->in[1]->flags & ADJ_F_GRAD) ? adj_grad_buf(y->in[1]) : NULL;
    if (y->dtype == ADJ_F64)
        MSE_BWD(double);
    else
        MSE_BWD(float);
}

/* tangent: dL = (2/n) sum (a - b)(da - db) */
#define MSE_TAN(T)                                                              \
    do {                                                                       \
        const T *a = y->in[0]->value, *b = y->in[1]->value;                    \
        const T *da = tx[0], *db = tx[1];                                      \
        double s = 0;                                                          \
        for (size_t i = 0; i < n; i++)                                         \
            s += ((double)a[i] - (double)b[i]) * ((double)da[i] - (double)db[i]); \
        *(T *)ty = (T)(2.0 * s / (double)n);                                   \
    } while (0)

static void mse_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    size_t n = adj_cold(y->in[0])->numel;
    if (y->dtype == ADJ_F64)
        MSE_TAN(double);
    else
        MSE_TAN(float);
}

static const char *const pair_symbols[] = {"a", "b", "L"};
static const adj_op_teach mse_teach = {.symbols = pair_symbols};

const adj_op_desc adj_desc_mse = {
    .name = "mse", .arity = 2, .shape = pair_shape, .forward = mse_forward,
    .backward = mse_backward, .jvp = mse_jvp, .formula = "L = mean((a - b)^2)",
    .rule = "da += dL 2(a - b)/n; db += -dL 2(a - b)/n", ADJ_CASES(adj_cases_pair),
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY}, .teach = &mse_teach,
    .decompose = adj_decomp_mse,
};

adj_var *adj_mse_at(adj_var *pred, adj_var *target, const char *file, int line)
{
    adj_var *in[2] = {pred, target};
    return adj_record(ADJ_OP_MSE, in, 2, NULL, file, line);
}
adj_var *(adj_mse)(adj_var *pred, adj_var *target) { return adj_mse_at(pred, target, NULL, 0); }

/* sigmoid(z) - t from e = e^-|z| <= 1, so nothing positive is
 * exponentiated; for z >= 0 as (1 - t) - e / (1 + e), so that a target of 1
 * and a large logit give e / (1 + e), not 1 - 1/(1 + e) (which cancels) */
static inline double sigmoid_minus(double z, double t)
{
    double e = adj_vexp(-fabs(z));
    return z >= 0 ? (1 - t) - e / (1 + e) : e / (1 + e) - t;
}

/* L = (1/n) sum max(z,0) - z t + log(1 + e^-|z|): never exponentiates a
 * positive number, so no overflow for any logit; max(z,0) - z t is formed
 * as z (1 - t) or -z t, which do not cancel when t is close to 1 or 0 */
#define BCE_FWD(T)                                                              \
    do {                                                                       \
        const T *z = y->in[0]->value, *t = y->in[1]->value;                    \
        double s = 0, b[TERM_BLOCK];                                           \
        for (size_t i0 = 0; i0 < n; i0 += TERM_BLOCK) {                        \
            size_t m = n - i0 < TERM_BLOCK ? n - i0 : TERM_BLOCK;              \
            for (size_t i = 0; i < m; i++) {                                   \
                double zi = z[i0 + i];                                         \
                double ti = t[i0 + i];                                         \
                b[i] = (zi > 0 ? zi * (1 - ti) : -zi * ti) +                   \
                       adj_vlog1p(adj_vexp(-fabs(zi)));                        \
            }                                                                  \
            for (size_t i = 0; i < m; i++)                                     \
                s += b[i];                                                     \
        }                                                                      \
        *(T *)y->value = (T)(s / (double)n);                                   \
    } while (0)

/* dz += dL (sigmoid(z) - t) / n ;  dt += -dL z / n */
#define BCE_BWD(T)                                                              \
    do {                                                                       \
        const T *z = y->in[0]->value, *t = y->in[1]->value;                    \
        T *dz = gz, *dt = gt;                                                  \
        const double k = *(const T *)y->grad / (double)n;                      \
        for (size_t i = 0; i < n; i++) {                                       \
            double zi = z[i];                                                  \
            if (dz)                                                            \
                dz[i] += (T)(k * sigmoid_minus(zi, (double)t[i]));             \
            if (dt)                                                            \
                dt[i] += (T)(-k * zi);                                         \
        }                                                                      \
    } while (0)

static void bce_forward(adj_var *y)
{
    size_t n = adj_cold(y->in[0])->numel;
    if (y->dtype == ADJ_F64)
        BCE_FWD(double);
    else
        BCE_FWD(float);
}

static void bce_backward(adj_var *y)
{
    size_t n = adj_cold(y->in[0])->numel;
    void *gz = (y->in[0]->flags & ADJ_F_GRAD) ? adj_grad_buf(y->in[0]) : NULL;
    void *gt = (y->in[1]->flags & ADJ_F_GRAD) ? adj_grad_buf(y->in[1]) : NULL;
    if (y->dtype == ADJ_F64)
        BCE_BWD(double);
    else
        BCE_BWD(float);
}

/* tangent: dL = (1/n) sum (sigmoid(z) - t) dz - z dt */
#define BCE_TAN(T)                                                              \
    do {                                                                       \
        const T *z = y->in[0]->value, *t = y->in[1]->value;                    \
        const T *dz = tx[0], *dt = tx[1];                                      \
        double s = 0, b[TERM_BLOCK];                                           \
        for (size_t i0 = 0; i0 < n; i0 += TERM_BLOCK) {                        \
            size_t m = n - i0 < TERM_BLOCK ? n - i0 : TERM_BLOCK;              \
            for (size_t i = 0; i < m; i++) {                                   \
                double zi = z[i0 + i];                                         \
                b[i] = sigmoid_minus(zi, (double)t[i0 + i]) * (double)dz[i0 + i] - \
                       zi * (double)dt[i0 + i];                                \
            }                                                                  \
            for (size_t i = 0; i < m; i++)                                     \
                s += b[i];                                                     \
        }                                                                      \
        *(T *)ty = (T)(s / (double)n);                                         \
    } while (0)

static void bce_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    size_t n = adj_cold(y->in[0])->numel;
    if (y->dtype == ADJ_F64)
        BCE_TAN(double);
    else
        BCE_TAN(float);
}

static const char *const bce_symbols[] = {"z", "t", "L"};
static const adj_op_teach bce_teach = {.symbols = bce_symbols};

const adj_op_desc adj_desc_bce_logits = {
    .name = "bce_with_logits", .arity = 2, .shape = pair_shape, .forward = bce_forward,
    .backward = bce_backward, .jvp = bce_jvp, .formula = "L = mean(max(z,0) - z t + log(1 + exp(-|z|)))",
    .rule = "dz += dL (sigmoid(z) - t)/n; dt += -dL z/n", ADJ_CASES(adj_cases_pair),
    .dom = {ADJ_DOM_ANY, ADJ_DOM_UNIT}, .teach = &bce_teach,
    .decompose = adj_decomp_bce_logits,
};

adj_var *adj_bce_with_logits_at(adj_var *z, adj_var *t, const char *file, int line)
{
    adj_var *in[2] = {z, t};
    return adj_record(ADJ_OP_BCE_LOGITS, in, 2, NULL, file, line);
}
adj_var *(adj_bce_with_logits)(adj_var *z, adj_var *t) { return adj_bce_with_logits_at(z, t, NULL, 0); }
