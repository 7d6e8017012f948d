/*
 * Batch normalisation, one fused node: x (N, C, ...) normalised per
 * channel c over the batch and the positions (n = N * positions values).
 *
 * With the batch's statistics (training, or no running statistics) the
 * forward computes per channel, in double and in two passes, the mean, the
 * population variance and rstd = 1 / sqrt(var + eps), and saves the three;
 * backward and tangent recompute xhat = (x - mean) rstd from x.  With the
 * running statistics (evaluation) mean and var are the caller's, copied
 * when the node is recorded, and constants for the derivatives.
 *
 * The running statistics are plain arrays of C doubles that the caller
 * owns; adj_batch_norm_at updates them once, after recording, from the
 * saved statistics, so running the node's forward again (a gradient
 * check) never moves them.
 */
#include "core/pool.h"
#include "ops/dispatch.h"
#include "ops/decompose.h"
#include "ops/norm.h"

#include <math.h>
#include <string.h>

typedef struct bn_attr {
    double eps;
    double momentum;
    int32_t training;
    int32_t batch_stats;    /* set by the shape rule: normalise with the batch's */
    const double *rm, *rv;  /* the caller's while recording; then copies (or NULL) */
    double *saved;          /* per channel: mean, rstd, var (double, arena) */
} bn_attr;

/* x as (N, C, hw) */
typedef struct bn_plan {
    size_t nb, c, hw;
} bn_plan;

static bn_plan plan_of(const adj_var *x)
{
    bn_plan p = {(size_t)adj_cold(x)->shape[0], (size_t)adj_cold(x)->shape[1], 1};
    for (int d = 2; d < x->ndim; d++)
        p.hw *= (size_t)adj_cold(x)->shape[d];
    return p;
}

/* Every element of channel c: i runs over the n * hw offsets in x. */
#define CH_LOOP(p, c, BODY)                                                     \
    for (size_t n_ = 0; n_ < (p)->nb; n_++) {                                  \
        const size_t i0_ = (n_ * (p)->c + (c)) * (p)->hw;                      \
        for (size_t i = i0_; i < i0_ + (p)->hw; i++) {                         \
            BODY;                                                              \
        }                                                                      \
    }

typedef struct bn_ctx {
    adj_var *y;
    bn_plan p;
    const void *const *tx;  /* tangent */
    void *ty;
    void *dx, *dw, *db;     /* backward */
} bn_ctx;

#define BN_FWD(T)                                                               \
    static void fwd_##T(const bn_ctx *k, size_t lo, size_t hi)                 \
    {                                                                          \
        const adj_var *y = k->y, *xv = y->in[0], *wv_ = y->in[1], *bv_ = y->in[2]; \
        const bn_attr *a = ADJ_ATTR(y, bn_attr);                               \
        const T *x = xv->value, *w = wv_ ? wv_->value : NULL, *b = bv_ ? bv_->value : NULL; \
        T *out = y->value;                                                     \
        const double cnt = (double)(k->p.nb * k->p.hw);                        \
        for (size_t c = lo; c < hi; c++) {                                     \
            double *sv = a->saved + 3 * c;                                     \
            if (a->batch_stats) {                                              \
                double mu = 0, s = 0;                                          \
                CH_LOOP(&k->p, c, mu += x[i]);                                 \
                mu /= cnt;                                                     \
                CH_LOOP(&k->p, c, { const double d = x[i] - mu; s += d * d; }); \
                sv[0] = mu;                                                    \
                sv[2] = s / cnt;                                               \
                sv[1] = 1.0 / sqrt(sv[2] + a->eps);                            \
            }                                                                  \
            const double mu = sv[0], rs = sv[1];                               \
            const double wc = w ? (double)w[c] : 1.0, bc = b ? (double)b[c] : 0.0; \
            CH_LOOP(&k->p, c, out[i] = (T)((x[i] - mu) * rs * wc + bc));       \
        }                                                                      \
    }
BN_FWD(double)
BN_FWD(float)

/* batch statistics: dx += rstd (g - mean(g) - xhat mean(g xhat)), g = dy w;
 * running statistics: dx += rstd g.  dw_c += sum dy xhat, db_c += sum dy. */
#define BN_BWD(T)                                                               \
    static void bwd_##T(const bn_ctx *k, size_t lo, size_t hi)                 \
    {                                                                          \
        const adj_var *y = k->y, *xv = y->in[0], *wv_ = y->in[1];             \
        const bn_attr *a = ADJ_ATTR(y, bn_attr);                               \
        const T *x = xv->value, *w = wv_ ? wv_->value : NULL, *dy = y->grad;   \
        T *dx = k->dx, *dw = k->dw, *db = k->db;                               \
        const double cnt = (double)(k->p.nb * k->p.hw);                        \
        for (size_t c = lo; c < hi; c++) {                                     \
            const double mu = a->saved[3 * c], rs = a->saved[3 * c + 1];       \
            const double wc = w ? (double)w[c] : 1.0;                          \
            double s1 = 0, s2 = 0;                                             \
            CH_LOOP(&k->p, c, {                                                \
                s1 += dy[i];                                                   \
                s2 += dy[i] * ((x[i] - mu) * rs);                              \
            });                                                                \
            if (dw)                                                            \
                dw[c] += (T)s2;                                                \
            if (db)                                                            \
                db[c] += (T)s1;                                                \
            if (!dx)                                                           \
                continue;                                                      \
            const double a1 = a->batch_stats ? wc * s1 / cnt : 0.0;            \
            const double a2 = a->batch_stats ? wc * s2 / cnt : 0.0;            \
            CH_LOOP(&k->p, c,                                                  \
                    dx[i] += (T)(rs * (dy[i] * wc - a1 - ((x[i] - mu) * rs) * a2))); \
        }                                                                      \
    }
BN_BWD(double)
BN_BWD(float)

/* x (N, C) (hw = 1): the same sums in the same order (rows 0..N-1 for each
 * channel), walked row by row over a block of channels so that the reads
 * are contiguous; the same bits as the per-channel loops above.  The
 * inner loops run across the channels of a block, so they vectorise
 * without reordering any channel's sum: they are compiled once per CPU
 * level of the elementwise kernels (ops/dispatch.h), with the same
 * conversions, multiplies, adds and divisions and no FMA, so every level
 * gives the same bits (tests/test_norm.c checks each against plain
 * loops). */
#define BN_CB 128
#if defined(__GNUC__) && !defined(__clang__)
#define BN_VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define BN_VEC
#endif
#define BN_ROWS(T, SUF, ATTR)                                                   \
    static ATTR BN_VEC void fwd_rows_##T##SUF(const bn_ctx *k, size_t lo, size_t hi) \
    {                                                                          \
        const adj_var *y = k->y, *xv = y->in[0], *wv_ = y->in[1], *bv_ = y->in[2]; \
        const bn_attr *a = ADJ_ATTR(y, bn_attr);                               \
        const T *x = xv->value, *w = wv_ ? wv_->value : NULL, *b = bv_ ? bv_->value : NULL; \
        T *out = y->value;                                                     \
        const size_t nb = k->p.nb, C = k->p.c;                                 \
        const double cnt = (double)nb;                                         \
        double mu[BN_CB], s[BN_CB], rs[BN_CB], wc[BN_CB], bc[BN_CB];           \
        for (size_t c0 = lo; c0 < hi; c0 += BN_CB) {                           \
            const size_t m = hi - c0 < BN_CB ? hi - c0 : BN_CB;               \
            if (a->batch_stats) {                                              \
                for (size_t j = 0; j < m; j++)                                 \
                    mu[j] = s[j] = 0;                                          \
                for (size_t n = 0; n < nb; n++) {                              \
                    const T *r = x + n * C + c0;                               \
                    for (size_t j = 0; j < m; j++)                             \
                        mu[j] += r[j];                                         \
                }                                                              \
                for (size_t j = 0; j < m; j++)                                 \
                    mu[j] /= cnt;                                              \
                for (size_t n = 0; n < nb; n++) {                              \
                    const T *r = x + n * C + c0;                               \
                    for (size_t j = 0; j < m; j++) {                           \
                        const double d = r[j] - mu[j];                         \
                        s[j] += d * d;                                         \
                    }                                                          \
                }                                                              \
                for (size_t j = 0; j < m; j++) {                               \
                    double *sv = a->saved + 3 * (c0 + j);                      \
                    sv[0] = mu[j];                                             \
                    sv[2] = s[j] / cnt;                                        \
                    sv[1] = 1.0 / sqrt(sv[2] + a->eps);                        \
                }                                                              \
            }                                                                  \
            for (size_t j = 0; j < m; j++) {                                   \
                mu[j] = a->saved[3 * (c0 + j)];                                \
                rs[j] = a->saved[3 * (c0 + j) + 1];                            \
                wc[j] = w ? (double)w[c0 + j] : 1.0;                           \
                bc[j] = b ? (double)b[c0 + j] : 0.0;                           \
            }                                                                  \
            for (size_t n = 0; n < nb; n++) {                                  \
                const T *r = x + n * C + c0;                                   \
                T *o = out + n * C + c0;                                       \
                for (size_t j = 0; j < m; j++)                                 \
                    o[j] = (T)((r[j] - mu[j]) * rs[j] * wc[j] + bc[j]);        \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    static ATTR BN_VEC void bwd_rows_##T##SUF(const bn_ctx *k, size_t lo, size_t hi) \
    {                                                                          \
        const adj_var *y = k->y, *xv = y->in[0], *wv_ = y->in[1];             \
        const bn_attr *a = ADJ_ATTR(y, bn_attr);                               \
        const T *x = xv->value, *w = wv_ ? wv_->value : NULL, *dy = y->grad;   \
        T *dx = k->dx, *dw = k->dw, *db = k->db;                               \
        const size_t nb = k->p.nb, C = k->p.c;                                 \
        const double cnt = (double)nb;                                         \
        double mu[BN_CB], rs[BN_CB], wc[BN_CB], s1[BN_CB], s2[BN_CB];          \
        for (size_t c0 = lo; c0 < hi; c0 += BN_CB) {                           \
            const size_t m = hi - c0 < BN_CB ? hi - c0 : BN_CB;               \
            for (size_t j = 0; j < m; j++) {                                   \
                mu[j] = a->saved[3 * (c0 + j)];                                \
                rs[j] = a->saved[3 * (c0 + j) + 1];                            \
                wc[j] = w ? (double)w[c0 + j] : 1.0;                           \
                s1[j] = s2[j] = 0;                                             \
            }                                                                  \
            for (size_t n = 0; n < nb; n++) {                                  \
                const T *r = x + n * C + c0, *g = dy + n * C + c0;             \
                for (size_t j = 0; j < m; j++) {                               \
                    s1[j] += g[j];                                             \
                    s2[j] += g[j] * ((r[j] - mu[j]) * rs[j]);                  \
                }                                                              \
            }                                                                  \
            for (size_t j = 0; j < m; j++) {                                   \
                if (dw)                                                        \
                    dw[c0 + j] += (T)s2[j];                                    \
                if (db)                                                        \
                    db[c0 + j] += (T)s1[j];                                    \
                s1[j] = a->batch_stats ? wc[j] * s1[j] / cnt : 0.0;            \
                s2[j] = a->batch_stats ? wc[j] * s2[j] / cnt : 0.0;            \
            }                                                                  \
            if (!dx)                                                           \
                continue;                                                      \
            for (size_t n = 0; n < nb; n++) {                                  \
                const T *r = x + n * C + c0, *g = dy + n * C + c0;             \
                T *d = dx + n * C + c0;                                        \
                for (size_t j = 0; j < m; j++)                                 \
                    d[j] += (T)(rs[j] * (g[j] * wc[j] - s1[j] - ((r[j] - mu[j]) * rs[j]) * s2[j])); \
            }                                                                  \
        }                                                                      \
    }
BN_ROWS(double, _base, )
BN_ROWS(float, _base, )
#if ADJ_VM_DISPATCH
BN_ROWS(double, _avx2, ADJ_VM_TGT_AVX2)
BN_ROWS(float, _avx2, ADJ_VM_TGT_AVX2)
BN_ROWS(double, _avx512, ADJ_VM_TGT_AVX512)
BN_ROWS(float, _avx512, ADJ_VM_TGT_AVX512)
/* The widest level the CPU has (AVX2 for fewer than ADJ_VM_WIDE_MIN
 * elements, as the elementwise kernels) */
#define BN_ROWS_CALL(FN, k, lo, hi)                                             \
    do {                                                                       \
        const int l_ = adj_vm_level();                                         \
        if (l_ == ADJ_VM_AVX512 && ((hi) - (lo)) * (k)->p.nb >= ADJ_VM_WIDE_MIN) \
            FN##_avx512(k, lo, hi);                                            \
        else if (l_ >= ADJ_VM_AVX2)                                            \
            FN##_avx2(k, lo, hi);                                              \
        else                                                                   \
            FN##_base(k, lo, hi);                                              \
    } while (0)
#else
#define BN_ROWS_CALL(FN, k, lo, hi) FN##_base(k, lo, hi)
#endif

/* batch statistics: dxhat = rstd (tx - mean(tx) - xhat mean(xhat tx));
 * running: dxhat = rstd tx.  ty = dxhat w + xhat tw + tb. */
#define BN_TAN(T)                                                               \
    static void tan_##T(const bn_ctx *k, size_t lo, size_t hi)                 \
    {                                                                          \
        const adj_var *y = k->y, *xv = y->in[0], *wv_ = y->in[1], *bv_ = y->in[2]; \
        const bn_attr *a = ADJ_ATTR(y, bn_attr);                               \
        const T *x = xv->value, *w = wv_ ? wv_->value : NULL;                  \
        const T *tx = k->tx[0], *tw = wv_ ? k->tx[1] : NULL, *tb = bv_ ? k->tx[2] : NULL; \
        T *ty = k->ty;                                                         \
        const double cnt = (double)(k->p.nb * k->p.hw);                        \
        for (size_t c = lo; c < hi; c++) {                                     \
            const double mu = a->saved[3 * c], rs = a->saved[3 * c + 1];       \
            double s1 = 0, s2 = 0;                                             \
            if (a->batch_stats)                                                \
                CH_LOOP(&k->p, c, {                                            \
                    s1 += tx[i];                                               \
                    s2 += (x[i] - mu) * rs * tx[i];                            \
                });                                                            \
            const double a1 = s1 / cnt, a2 = s2 / cnt;                         \
            const double wc = w ? (double)w[c] : 1.0, twc = tw ? (double)tw[c] : 0.0; \
            const double tbc = tb ? (double)tb[c] : 0.0;                       \
            CH_LOOP(&k->p, c, {                                                \
                const double xh = (x[i] - mu) * rs;                            \
                ty[i] = (T)(rs * (tx[i] - a1 - xh * a2) * wc + xh * twc + tbc); \
            });                                                                \
        }                                                                      \
    }
BN_TAN(double)
BN_TAN(float)

static void fwd_range(void *ctx, size_t lo, size_t hi)
{
    const bn_ctx *k = ctx;
    if (k->p.hw == 1 && k->y->dtype == ADJ_F64)
        BN_ROWS_CALL(fwd_rows_double, k, lo, hi);
    else if (k->p.hw == 1)
        BN_ROWS_CALL(fwd_rows_float, k, lo, hi);
    else if (k->y->dtype == ADJ_F64)
        fwd_double(k, lo, hi);
    else
        fwd_float(k, lo, hi);
}

static void bwd_range(void *ctx, size_t lo, size_t hi)
{
    const bn_ctx *k = ctx;
    if (k->p.hw == 1 && k->y->dtype == ADJ_F64)
        BN_ROWS_CALL(bwd_rows_double, k, lo, hi);
    else if (k->p.hw == 1)
        BN_ROWS_CALL(bwd_rows_float, k, lo, hi);
    else if (k->y->dtype == ADJ_F64)
        bwd_double(k, lo, hi);
    else
        bwd_float(k, lo, hi);
}

/* Channels per task: about 2^14 elements a task. */
static size_t grain(const bn_plan *p)
{
    size_t per = p->nb * p->hw, g = per ? ((size_t)1 << 14) / per : 1;
    return g ? g : 1;
}

static void bn_forward(adj_var *y)
{
    bn_ctx k = {.y = y, .p = plan_of(y->in[0])};
    adj_par_for(k.p.c, grain(&k.p), fwd_range, &k);
}

static void bn_backward(adj_var *y)
{
    adj_var *w = y->in[1], *b = y->in[2];
    bn_ctx k = {.y = y, .p = plan_of(y->in[0]), .dx = adj_grad_buf(y->in[0]),
                .dw = w ? adj_grad_buf(w) : NULL, .db = b ? adj_grad_buf(b) : NULL};
    if (k.dx || k.dw || k.db)
        adj_par_for(k.p.c, grain(&k.p), bwd_range, &k);
}

static void bn_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    bn_ctx k = {.y = (adj_var *)y, .p = plan_of(y->in[0]), .tx = tx, .ty = ty};
    if (y->dtype == ADJ_F64)
        tan_double(&k, 0, k.p.c);
    else
        tan_float(&k, 0, k.p.c);
}

static adj_status bn_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    bn_attr *a = ADJ_ATTR(y, bn_attr);
    char xs[64], ws[64];
    adj_fmt_shape(xs, sizeof xs, x->ndim, adj_cold(x)->shape);
    if (x->ndim < 2) {
        snprintf(why, n, "x of shape %s is not (N, C) or (N, C, ...)", xs);
        return ADJ_ESHAPE;
    }
    if (!(a->eps >= 0 && isfinite(a->eps))) {
        snprintf(why, n, "eps %g must be finite and >= 0", a->eps);
        return ADJ_EINVAL;
    }
    if (!(a->momentum >= 0 && a->momentum <= 1)) {
        snprintf(why, n, "momentum %g is not in [0, 1]", a->momentum);
        return ADJ_EINVAL;
    }
    if (!a->rm != !a->rv) {
        snprintf(why, n, "running_%s is NULL but running_%s is not (give both or neither)",
                 a->rm ? "var" : "mean", a->rm ? "mean" : "var");
        return ADJ_EINVAL;
    }
    bn_plan p = plan_of(x);
    for (int k = 1; k < 3; k++) {
        const adj_var *v = y->in[k];
        if (v && !(v->ndim == 1 && (size_t)adj_cold(v)->shape[0] == p.c)) {
            adj_fmt_shape(ws, sizeof ws, v->ndim, adj_cold(v)->shape);
            snprintf(why, n, "%s has shape %s, expected (%zu), the channels of x %s",
                     k == 1 ? "w" : "b", ws, p.c, xs);
            return ADJ_ESHAPE;
        }
    }
    a->batch_stats = a->training || !a->rm;
    if (a->batch_stats && p.nb * p.hw == 1) {
        snprintf(why, n, "x %s has 1 value per channel: the batch's variance needs more than 1%s",
                 xs, a->training ? " when training" : "");
        return ADJ_ESHAPE;
    }
    /* per channel (mean, rstd, var); from the running statistics now */
    adj_tape *t = adj_node_tape(y);
    a->saved = adj_arena_alloc(t, (3 * p.c + 1) * sizeof(double));
    if (!a->saved) {
        snprintf(why, n, "out of memory for the statistics");
        return ADJ_ENOMEM;
    }
    if (!a->batch_stats)
        for (size_t c = 0; c < p.c; c++) {
            a->saved[3 * c] = a->rm[c];
            a->saved[3 * c + 2] = a->rv[c];
            a->saved[3 * c + 1] = 1.0 / sqrt(a->rv[c] + a->eps);
        }
    a->rm = a->rv = NULL; /* the caller's memory is not kept */
    y->ndim = x->ndim;
    memcpy(adj_cold(y)->shape, adj_cold(x)->shape, sizeof(int64_t) * (size_t)x->ndim);
    return ADJ_OK;
}

static const char *const bn_inputs[] = {"x", "w", "b"};
static const char *const bn_symbols[] = {"x", "w", "b", "y"};
static const adj_op_teach bn_teach = {.symbols = bn_symbols};

static const double run_mean[4] = {0.5, -0.25, 1.0, 0.0}, run_var[4] = {1.5, 0.5, 2.0, 0.75};
static const bn_attr bn_train = {.eps = 1e-5, .momentum = 0.1, .training = 1},
                     bn_eval = {.eps = 1e-5, .momentum = 0.1, .rm = run_mean, .rv = run_var},
                     bn_big_eps = {.eps = 0.5, .momentum = 0.1, .training = 1};
static const adj_op_case bn_cases[] = {
    {3, {2, 1, 1}, {{4, 3}, {3}, {3}}, &bn_train, " (N, C) training"},
    {3, {4, 1, 1}, {{2, 3, 2, 2}, {3}, {3}}, &bn_train, " (N, C, H, W) training"},
    {3, {4, 1, 1}, {{1, 2, 3, 2}, {2}, {2}}, &bn_train, " batch 1 training"},
    {1, {3}, {{3, 4, 2}}, &bn_train, " no w, b"},
    {2, {2, 1}, {{5, 2}, {2}}, &bn_big_eps, " no b, eps 0.5"},
    {3, {2, 1, 1}, {{3, 4}, {4}, {4}}, &bn_eval, " (N, C) running stats"},
    {3, {4, 1, 1}, {{1, 2, 2, 3}, {2}, {2}}, &bn_eval, " batch 1 running stats"},
    {3, {4, 1, 1}, {{0, 2, 2, 2}, {2}, {2}}, &bn_eval, " empty batch"},
};
const adj_op_desc adj_desc_batch_norm = {
    .name = "batch_norm", .arity = 3, .optional = 6u, .inputs = bn_inputs,
    .attr_size = sizeof(bn_attr), .shape = bn_shape, .forward = bn_forward,
    .backward = bn_backward, .jvp = bn_jvp,
    .formula = "y = (x - mean_c) / sqrt(var_c + eps) * w_c + b_c, stats per channel over (N, ...)",
    .rule = "dx += rstd (g - mean_c(g) - xhat mean_c(g xhat)), g = dy w_c (running stats: dx += rstd g); "
            "dw_c += sum dy xhat; db_c += sum dy",
    ADJ_CASES(bn_cases), .teach = &bn_teach,
    .decompose = adj_decomp_batch_norm,
};

adj_var *adj_batch_norm_at(adj_var *x, adj_var *w, adj_var *b, double *running_mean,
                           double *running_var, int training, double momentum, double eps,
                           const char *file, int line)
{
    adj_var *in[3] = {x, w, b};
    bn_attr at = {.eps = eps, .momentum = momentum, .training = training != 0,
                  .rm = running_mean, .rv = running_var};
    adj_var *y = adj_record(ADJ_OP_BATCH_NORM, in, 3, &at, file, line), *yn = adj_h_raw(y);
    if (!y || (yn->flags & ADJ_F_INERT) || !training || !running_mean)
        return y;
    /* the running statistics move once per recorded node (x was checked) */
    bn_plan p = plan_of(adj_h_raw(x));
    const double *sv = ADJ_ATTR(yn, bn_attr)->saved;
    double cnt = (double)(p.nb * p.hw);
    if (cnt < 2)
        return y;
    for (size_t c = 0; c < p.c; c++) {
        running_mean[c] = (1 - momentum) * running_mean[c] + momentum * sv[3 * c];
        running_var[c] = (1 - momentum) * running_var[c] + momentum * sv[3 * c + 2] * cnt / (cnt - 1);
    }
    return y;
}

adj_var *(adj_batch_norm)(adj_var *x, adj_var *w, adj_var *b, double *running_mean,
                          double *running_var, int training, double momentum, double eps)
{
    return adj_batch_norm_at(x, w, b, running_mean, running_var, training, momentum, eps, NULL, 0);
}

/* for the graph-mode rule (ops/decompose.c) */
const double *adj_batch_norm_stats(const adj_var *y, int *batch_stats, double *eps)
{
    const bn_attr *a = ADJ_ATTR(y, bn_attr);
    *batch_stats = a->batch_stats;
    *eps = a->eps;
    return a->saved;
}
