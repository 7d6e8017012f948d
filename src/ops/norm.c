/*
 * Row normalisations: layer norm, RMS norm and group norm, each one fused
 * node.  All three normalise "rows" of k contiguous elements of x:
 *
 *   layer_norm  rows of the last normalized_ndim dimensions;
 *   rms_norm    rows of the last dimension (no centring, no bias);
 *   group_norm  x (N, C, *): row (n, g) is the C/G channels of group g of
 *               sample n, with all their positions.
 *
 * Per row, in double: the mean (two passes: the mean, then the mean of the
 * squared deviations, so a large offset costs no digits) and
 * rstd = 1 / sqrt(var + eps), or for RMS norm rstd = 1 / sqrt(mean(x^2) +
 * eps) with mean 0.  The forward saves (mean, rstd) per row; backward and
 * tangent recompute xhat = (x - mean) rstd from x.
 *
 * The affine weight and bias of element j of row r are indexed by
 * q = (r mod groups) * cpg + j / hw: for layer and RMS norm (groups 1,
 * hw 1) that is j, for group norm the channel.  Gradients of w and b are summed
 * in double over fixed blocks of rows (one block per task, partial sums
 * in the arena), then the blocks in order: the bits do not depend on the
 * thread count.
 */
#include "core/pool.h"
#include "ops/decompose.h"
#include "ops/dispatch.h"
#include "ops/norm.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- the plan */

/* The rows of a node (see the file comment). */
static norm_plan plan_of(const adj_var *y)
{
    const adj_var *x = y->in[0];
    const norm_attr *a = ADJ_ATTR(y, norm_attr);
    const int64_t *s = adj_cold(x)->shape;
    size_t numel = adj_cold(x)->numel;
    norm_plan p = {.groups = 1, .cpg = 0, .hw = 1, .center = y->op != ADJ_OP_RMS_NORM,
                   .eps = a->eps, .saved = a->saved};
    if (y->op == ADJ_OP_GROUP_NORM) {
        size_t c = (size_t)s[1], hw = 1;
        for (int d = 2; d < x->ndim; d++)
            hw *= (size_t)s[d];
        p.groups = (size_t)a->arg;
        p.cpg = c / p.groups;
        p.hw = hw;
        p.k = p.cpg * hw;
    } else {
        int nd = y->op == ADJ_OP_RMS_NORM ? 1 : a->arg;
        p.k = 1;
        for (int d = x->ndim - nd; d < x->ndim; d++)
            p.k *= (size_t)s[d];
    }
    p.rows = p.k ? numel / p.k : 0;
    return p;
}

/* ---------------------------------------------------------- the kernels */

/*
 * Loop over the elements j of row r with q the index of element j's
 * affine parameters and wv, bv their values (1 and 0 where absent): one run over the row for
 * layer and RMS norm, one run per channel for group norm.
 */
#define ROW_LOOP(T, p, r, w, b, BODY)                                           \
    do {                                                                       \
        const size_t c0_ = ((r) % (p)->groups) * (p)->cpg;                     \
        if ((p)->hw == 1) {                                                    \
            for (size_t j = 0; j < (p)->k; j++) {                              \
                const size_t q = c0_ + j;                                      \
                const double wv = (w) ? (double)(w)[q] : 1.0;                  \
                const double bv = (b) ? (double)(b)[q] : 0.0;                  \
                (void)wv, (void)bv, (void)q;                                   \
                BODY;                                                          \
            }                                                                  \
        } else {                                                               \
            for (size_t c_ = 0; c_ < (p)->cpg; c_++) {                         \
                const size_t q = c0_ + c_;                                     \
                const double wv = (w) ? (double)(w)[q] : 1.0;                  \
                const double bv = (b) ? (double)(b)[q] : 0.0;                  \
                (void)wv, (void)bv, (void)q;                                   \
                for (size_t j = c_ * (p)->hw; j < (c_ + 1) * (p)->hw; j++) {   \
                    BODY;                                                      \
                }                                                              \
            }                                                                  \
        }                                                                      \
    } while (0)

/* Eight partial sums folded in a fixed order. */
#define LANE_FOLD(l) ((((l)[0] + (l)[1]) + ((l)[2] + (l)[3])) + (((l)[4] + (l)[5]) + ((l)[6] + (l)[7])))

/*
 * out = sum over j < n of EXPR(j), in double, in 32 interleaved partial
 * sums added in a fixed order (they vectorise, and four independent
 * vector chains hide the adds' latency; the bits do not depend on the
 * thread count or the CPU level).
 */
#define LANE_SUM(n, EXPR, out)                                                  \
    do {                                                                       \
        double l_[32];                                                         \
        for (size_t m_ = 0; m_ < 32; m_++)                                     \
            l_[m_] = 0;                                                        \
        size_t j_ = 0;                                                         \
        for (; j_ + 32 <= (n); j_ += 32)                                       \
            for (size_t m_ = 0; m_ < 32; m_++)                                 \
                l_[m_] += EXPR(j_ + m_);                                       \
        for (size_t m_ = 0; m_ < 8; m_++)                                      \
            l_[m_] = (l_[m_] + l_[m_ + 8]) + (l_[m_ + 16] + l_[m_ + 24]);      \
        double s_ = LANE_FOLD(l_);                                             \
        for (; j_ < (n); j_++)                                                 \
            s_ += EXPR(j_);                                                    \
        (out) = s_;                                                            \
    } while (0)

/* the terms the row sums add (xr, dr, wr, mu, rs: the row's) */
#define X_(j) ((double)xr[j])
#define DEV2_(j) (((double)xr[j] - mu) * ((double)xr[j] - mu))
#define SQ_(j) ((double)xr[j] * (double)xr[j])
#define G1_(j) ((double)dr[j])
#define GW_(j) ((double)dr[j] * (double)wr[j])
#define GX1_(j) ((double)dr[j] * (((double)xr[j] - mu) * rs))
#define GXW_(j) ((double)dr[j] * (double)wr[j] * (((double)xr[j] - mu) * rs))


/* mean and rstd of rows [lo, hi), then y */
#define NORM_FWD(T, sfx, ATTR)                                                  \
    ATTR static void fwd_##T##_##sfx(const norm_plan *p, const T *restrict x,  \
                                     const T *restrict w, const T *restrict b,  \
                                     T *restrict y, size_t lo, size_t hi)      \
    {                                                                          \
        const size_t k = p->k;                                                 \
        for (size_t r = lo; r < hi; r++) {                                     \
            const T *xr = x + r * k;                                           \
            T *yr = y + r * k;                                                 \
            double mu = 0, s = 0;                                              \
            if (p->center) {                                                   \
                LANE_SUM(k, X_, mu);                                           \
                mu /= (double)k;                                               \
                LANE_SUM(k, DEV2_, s);                                         \
            } else {                                                           \
                LANE_SUM(k, SQ_, s);                                           \
            }                                                                  \
            const double rs = 1.0 / sqrt(s / (double)k + p->eps);              \
            p->saved[2 * r] = mu;                                              \
            p->saved[2 * r + 1] = rs;                                          \
            if (p->hw == 1 && p->groups == 1 && w && b) {                      \
                for (size_t j = 0; j < k; j++)                                 \
                    yr[j] = (T)((xr[j] - mu) * rs * (double)w[j] + (double)b[j]); \
                continue;                                                      \
            }                                                                  \
            ROW_LOOP(T, p, r, w, b, yr[j] = (T)((xr[j] - mu) * rs * wv + bv)); \
        }                                                                      \
    }

/*
 * The fused backward pass over a row, sixteen then eight elements at a
 * time from j0 (left at the first element not done): the parameter sums
 * pwr, pbr and the sixteen partial sums l1 (of g = dy w) and l2 (of
 * g xhat), element j0 + m going to lane m (m < 16; the 8-step remainder
 * to lanes 0..7).  With GCC or Clang it is written with vector types,
 * which the compilers do not find on their own here; each lane does the
 * scalar loop's operations.
 */
#if defined(__GNUC__) || defined(__clang__)
typedef double norm_v8d __attribute__((vector_size(64)));
typedef float norm_v8f __attribute__((vector_size(32)));
#define NORM_LD8_double(dst, src) memcpy(&(dst), (src), sizeof(dst))
#define NORM_LD8_float(dst, src)                                               \
    do {                                                                       \
        norm_v8f t_;                                                           \
        memcpy(&t_, (src), sizeof t_);                                         \
        (dst) = __builtin_convertvector(t_, norm_v8d);                         \
    } while (0)
/* one group of eight at j, into the accumulators A1, A2 */
#define NORM_STEP8_(T, j, xr, dr, wr, pwr, pbr, mu_, rs_, A1, A2)             \
    do {                                                                       \
        norm_v8d x_, d_, w_, pw_, pb_;                                         \
        NORM_LD8_##T(x_, (xr) + (j));                                          \
        NORM_LD8_##T(d_, (dr) + (j));                                          \
        NORM_LD8_##T(w_, (wr) + (j));                                          \
        memcpy(&pw_, (pwr) + (j), sizeof pw_);                                 \
        memcpy(&pb_, (pbr) + (j), sizeof pb_);                                 \
        const norm_v8d xh_ = (x_ - mu_) * rs_, gw_ = d_ * w_;                  \
        pw_ += d_ * xh_;                                                       \
        pb_ += d_;                                                             \
        memcpy((pwr) + (j), &pw_, sizeof pw_);                                 \
        memcpy((pbr) + (j), &pb_, sizeof pb_);                                 \
        A1 += gw_;                                                             \
        A2 += gw_ * xh_;                                                       \
    } while (0)
#define NORM_FUSED_(T, k, j0, xr, dr, wr, pwr, pbr, mu, rs, l1, l2)            \
    do {                                                                       \
        norm_v8d a1_, a2_, b1_, b2_, mu_, rs_;                                 \
        memcpy(&a1_, (l1), sizeof a1_);                                        \
        memcpy(&a2_, (l2), sizeof a2_);                                        \
        memcpy(&b1_, (l1) + 8, sizeof b1_);                                    \
        memcpy(&b2_, (l2) + 8, sizeof b2_);                                    \
        for (int m_ = 0; m_ < 8; m_++) {                                       \
            mu_[m_] = (mu);                                                    \
            rs_[m_] = (rs);                                                    \
        }                                                                      \
        for (; (j0) + 16 <= (k); (j0) += 16) {                                 \
            NORM_STEP8_(T, j0, xr, dr, wr, pwr, pbr, mu_, rs_, a1_, a2_);      \
            NORM_STEP8_(T, (j0) + 8, xr, dr, wr, pwr, pbr, mu_, rs_, b1_, b2_); \
        }                                                                      \
        for (; (j0) + 8 <= (k); (j0) += 8)                                     \
            NORM_STEP8_(T, j0, xr, dr, wr, pwr, pbr, mu_, rs_, a1_, a2_);      \
        memcpy((l1), &a1_, sizeof a1_);                                        \
        memcpy((l2), &a2_, sizeof a2_);                                        \
        memcpy((l1) + 8, &b1_, sizeof b1_);                                    \
        memcpy((l2) + 8, &b2_, sizeof b2_);                                    \
    } while (0)
#else
#define NORM_FUSED_LANE_(T, j, m, xr, dr, wr, pwr, pbr, mu, rs, l1, l2)       \
    do {                                                                       \
        const double xh = ((double)(xr)[j] - (mu)) * (rs);                     \
        const double gw = (double)(dr)[j] * (double)(wr)[j];                   \
        (pwr)[j] += (dr)[j] * xh;                                              \
        (pbr)[j] += (dr)[j];                                                   \
        (l1)[m] += gw;                                                         \
        (l2)[m] += gw * xh;                                                    \
    } while (0)
#define NORM_FUSED_(T, k, j0, xr, dr, wr, pwr, pbr, mu, rs, l1, l2)            \
    do {                                                                       \
        for (; (j0) + 16 <= (k); (j0) += 16)                                   \
            for (size_t m = 0; m < 16; m++)                                    \
                NORM_FUSED_LANE_(T, (j0) + m, m, xr, dr, wr, pwr, pbr, mu, rs, l1, l2); \
        for (; (j0) + 8 <= (k); (j0) += 8)                                     \
            for (size_t m = 0; m < 8; m++)                                     \
                NORM_FUSED_LANE_(T, (j0) + m, m, xr, dr, wr, pwr, pbr, mu, rs, l1, l2); \
    } while (0)
#endif

/* dx[j] = v (store) or dx[j] += v, v converted to T first */
#define PUT_(store, dst, v)                                                    \
    do {                                                                       \
        if (store)                                                             \
            (dst) = (v);                                                       \
        else                                                                   \
            (dst) += (v);                                                      \
    } while (0)

/*
 * Backward of rows [lo, hi), with g_j = dy_j w_j and xhat_j:
 *     dx_j += rstd (g_j - mean(g) - xhat_j mean(g xhat))   (RMS: no mean(g))
 *     dw_p += dy_j xhat_j,  db_p += dy_j   (into the block's partial sums)
 * store: dx is not zeroed and is written, not added to.  Layer and RMS
 * norm with a weight take one fused pass for the parameter sums and the
 * two row sums (sixteen partial sums, NORM_FUSED_).
 */
#define NORM_BWD(T, sfx, ATTR)                                                  \
    ATTR static void bwd_##T##_##sfx(const norm_plan *p, const T *restrict x,  \
                                     const T *restrict w, const T *restrict dy, \
                                     T *restrict dx, bool store, double *restrict pw, \
                                     double *restrict pb, size_t lo, size_t hi) \
    {                                                                          \
        const size_t k = p->k;                                                 \
        const T *b = NULL;                                                     \
        for (size_t r = lo; r < hi; r++) {                                     \
            const T *xr = x + r * k, *dr = dy + r * k;                         \
            const double mu = p->saved[2 * r], rs = p->saved[2 * r + 1];       \
            double s1 = 0, s2 = 0;                                             \
            const T *wr = w ? w + (r % p->groups) * p->cpg : NULL;             \
            if (p->hw == 1 && dx && wr && pw && pb) {                          \
                double *restrict pwr = pw + (r % p->groups) * p->cpg;          \
                double *restrict pbr = pb + (r % p->groups) * p->cpg;          \
                double l1[16], l2[16];                                         \
                for (size_t m = 0; m < 16; m++)                                \
                    l1[m] = l2[m] = 0;                                         \
                size_t j0 = 0;                                                 \
                NORM_FUSED_(T, k, j0, xr, dr, wr, pwr, pbr, mu, rs, l1, l2);   \
                for (size_t m = 0; m < 8; m++) {                               \
                    l1[m] += l1[m + 8];                                        \
                    l2[m] += l2[m + 8];                                        \
                }                                                              \
                s1 = LANE_FOLD(l1);                                            \
                s2 = LANE_FOLD(l2);                                            \
                for (size_t j = j0; j < k; j++) {                              \
                    const double xh = ((double)xr[j] - mu) * rs;               \
                    const double gw = (double)dr[j] * (double)wr[j];           \
                    pwr[j] += dr[j] * xh;                                      \
                    pbr[j] += dr[j];                                           \
                    s1 += gw;                                                  \
                    s2 += gw * xh;                                             \
                }                                                              \
            } else {                                                           \
                if (p->hw == 1) {                                              \
                    double *pwr = pw ? pw + (r % p->groups) * p->cpg : NULL;   \
                    double *pbr = pb ? pb + (r % p->groups) * p->cpg : NULL;   \
                    if (pwr)                                                   \
                        for (size_t j = 0; j < k; j++)                         \
                            pwr[j] += dr[j] * (((double)xr[j] - mu) * rs);     \
                    if (pbr)                                                   \
                        for (size_t j = 0; j < k; j++)                         \
                            pbr[j] += dr[j];                                   \
                } else if (pw || pb) {                                         \
                    ROW_LOOP(T, p, r, w, b, {                                  \
                        const double xh = (xr[j] - mu) * rs;                   \
                        if (pw)                                                \
                            pw[q] += dr[j] * xh;                               \
                        if (pb)                                                \
                            pb[q] += dr[j];                                    \
                    });                                                        \
                }                                                              \
                if (!dx)                                                       \
                    continue;                                                  \
                if (p->hw == 1 && wr) {                                        \
                    LANE_SUM(k, GW_, s1);                                      \
                    LANE_SUM(k, GXW_, s2);                                     \
                } else if (p->hw == 1) {                                       \
                    LANE_SUM(k, G1_, s1);                                      \
                    LANE_SUM(k, GX1_, s2);                                     \
                } else {                                                       \
                    ROW_LOOP(T, p, r, w, b, {                                  \
                        const double g = dr[j] * wv;                           \
                        s1 += g;                                               \
                        s2 += g * ((xr[j] - mu) * rs);                         \
                    });                                                        \
                }                                                              \
            }                                                                  \
            const double a1 = p->center ? s1 / (double)k : 0.0, a2 = s2 / (double)k; \
            T *gr = dx + r * k;                                                \
            if (p->hw == 1 && wr) {                                            \
                if (store)                                                     \
                    for (size_t j = 0; j < k; j++)                             \
                        gr[j] = (T)(rs * ((double)dr[j] * wr[j] - a1 - (((double)xr[j] - mu) * rs) * a2)); \
                else                                                           \
                    for (size_t j = 0; j < k; j++)                             \
                        gr[j] += (T)(rs * ((double)dr[j] * wr[j] - a1 - (((double)xr[j] - mu) * rs) * a2)); \
                continue;                                                      \
            }                                                                  \
            ROW_LOOP(T, p, r, w, b,                                            \
                     PUT_(store, gr[j], (T)(rs * (dr[j] * wv - a1 - ((xr[j] - mu) * rs) * a2)))); \
        }                                                                      \
    }

/* The kernels compiled for each CPU level (ops/dispatch.h): no FMA, the
 * same operations in the same order, so every level gives the same bits. */
#define NORM_LEVEL(sfx, ATTR)                                                   \
    NORM_FWD(double, sfx, ATTR)                                                \
    NORM_FWD(float, sfx, ATTR)                                                 \
    NORM_BWD(double, sfx, ATTR)                                                \
    NORM_BWD(float, sfx, ATTR)
NORM_LEVEL(base, )
#if ADJ_VM_DISPATCH
NORM_LEVEL(avx2, ADJ_VM_TGT_AVX2)
NORM_LEVEL(avx512, ADJ_VM_TGT_AVX512)
#define NORM_CALL(fn, T, ...)                                                   \
    do {                                                                       \
        const int l_ = adj_vm_level();                                         \
        if (l_ == ADJ_VM_AVX512)                                               \
            fn##_##T##_avx512(__VA_ARGS__);                                    \
        else if (l_ == ADJ_VM_AVX2)                                            \
            fn##_##T##_avx2(__VA_ARGS__);                                      \
        else                                                                   \
            fn##_##T##_base(__VA_ARGS__);                                      \
    } while (0)
#else
#define NORM_CALL(fn, T, ...) fn##_##T##_base(__VA_ARGS__)
#endif

/*
 * Tangent of rows [lo, hi):
 *     dxhat_j = rstd (tx_j - mean(tx) - xhat_j mean(xhat tx))   (RMS: no mean(tx))
 *     ty_j = dxhat_j w_j + xhat_j tw_j + tb_j
 */
#define NORM_TAN(T)                                                             \
    static void tan_##T(const norm_plan *p, const T *x, const T *w, const T *tx, const T *tw, \
                        const T *tb, T *ty, size_t lo, size_t hi)              \
    {                                                                          \
        const size_t k = p->k;                                                 \
        for (size_t r = lo; r < hi; r++) {                                     \
            const T *xr = x + r * k, *tr = tx + r * k;                         \
            T *yr = ty + r * k;                                                \
            const double mu = p->saved[2 * r], rs = p->saved[2 * r + 1];       \
            double s1 = 0, s2 = 0;                                             \
            for (size_t j = 0; j < k; j++) {                                   \
                s1 += tr[j];                                                   \
                s2 += (xr[j] - mu) * rs * tr[j];                               \
            }                                                                  \
            const double a1 = p->center ? s1 / (double)k : 0.0, a2 = s2 / (double)k; \
            ROW_LOOP(T, p, r, w, tb, {                                         \
                const double xh = (xr[j] - mu) * rs;                           \
                const double twv = tw ? (double)tw[q] : 0.0;                  \
                yr[j] = (T)(rs * (tr[j] - a1 - xh * a2) * wv + xh * twv + bv);  \
            });                                                                \
        }                                                                      \
    }
NORM_TAN(double)
NORM_TAN(float)

/* ------------------------------------------------------------ the hooks */

typedef struct fwd_ctx {
    const norm_plan *p;
    adj_var *y;
} fwd_ctx;

static void fwd_range(void *ctx, size_t lo, size_t hi)
{
    const fwd_ctx *c = ctx;
    const adj_var *y = c->y, *x = y->in[0], *w = y->in[1], *b = y->in[2];
    if (y->dtype == ADJ_F64)
        NORM_CALL(fwd, double, c->p, x->value, w ? w->value : NULL, b ? b->value : NULL,
                  y->value, lo, hi);
    else if (c->p->hw == 1 && c->p->groups == 1)
        adj_norm_fwd_f32(c->p, x->value, w ? w->value : NULL, b ? b->value : NULL, y->value,
                         lo, hi);
    else
        NORM_CALL(fwd, float, c->p, x->value, w ? w->value : NULL, b ? b->value : NULL,
                  y->value, lo, hi);
}

/* Rows per task so that a task holds about 2^14 elements (at least 1). */
static size_t grain_rows(const norm_plan *p)
{
    size_t g = p->k ? ((size_t)1 << 14) / p->k : 1;
    return g ? g : 1;
}

static void norm_forward(adj_var *y)
{
    norm_attr *a = ADJ_ATTR(y, norm_attr);
    norm_plan p = plan_of(y);
    if (!a->saved) {
        a->saved = adj_arena_alloc(adj_node_tape(y), (2 * p.rows + 1) * sizeof(double));
        if (!a->saved)
            return;
        p.saved = a->saved;
    }
    fwd_ctx c = {&p, y};
    adj_par_for(p.rows, grain_rows(&p), fwd_range, &c);
}

typedef struct bwd_ctx {
    const norm_plan *p;
    adj_var *y;
    void *dx;
    bool store;             /* dx is fresh: store, do not add */
    double *pw, *pb;        /* partial sums: block i at + i * nparam */
    float *pwf, *pbf;       /* the same in float (the float32 kernels) */
    size_t block, nparam;
} bwd_ctx;

static void bwd_task(void *ctx, size_t lo, size_t hi)
{
    const bwd_ctx *c = ctx;
    const adj_var *y = c->y, *x = y->in[0], *w = y->in[1];
    for (size_t i = lo; i < hi; i++) {
        size_t r0 = i * c->block, r1 = r0 + c->block < c->p->rows ? r0 + c->block : c->p->rows;
        double *pw = c->pw ? c->pw + i * c->nparam : NULL;
        double *pb = c->pb ? c->pb + i * c->nparam : NULL;
        if (c->pwf)
            adj_norm_bwd_f32(c->p, x->value, w->value, y->grad, c->dx, c->store,
                             c->pwf + i * c->nparam, c->pbf ? c->pbf + i * c->nparam : NULL,
                             r0, r1);
        else if (y->dtype == ADJ_F64)
            NORM_CALL(bwd, double, c->p, x->value, w ? w->value : NULL, y->grad, c->dx,
                      c->store, pw, pb, r0, r1);
        else
            NORM_CALL(bwd, float, c->p, x->value, w ? w->value : NULL, y->grad, c->dx,
                      c->store, pw, pb, r0, r1);
    }
}

/* g[q] += sum over blocks of part[block][q], blocks in order */
static void add_blocks(void *g, int dtype, const double *part, size_t nblocks, size_t nparam)
{
    for (size_t q = 0; q < nparam; q++) {
        double s = 0;
        for (size_t i = 0; i < nblocks; i++)
            s += part[i * nparam + q];
        if (dtype == ADJ_F64)
            ((double *)g)[q] += s;
        else
            ((float *)g)[q] += (float)s;
    }
}

/* the same from float partial sums */
static void add_blocks_f(float *g, const float *part, size_t nblocks, size_t nparam)
{
    for (size_t q = 0; q < nparam; q++) {
        double s = 0;
        for (size_t i = 0; i < nblocks; i++)
            s += (double)part[i * nparam + q];
        g[q] = (float)((double)g[q] + s);
    }
}

static void norm_backward(adj_var *y)
{
    adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    norm_plan p = plan_of(y);
    bool store = false;
    void *dx = p.rows ? adj_grad_buf_fresh(x, &store) : adj_grad_buf(x);
    void *dw = w ? adj_grad_buf(w) : NULL, *db = b ? adj_grad_buf(b) : NULL;
    if (p.rows == 0 || (!dx && !dw && !db))
        return;
    size_t nparam = w ? adj_cold(w)->numel : b ? adj_cold(b)->numel : 0;
    bwd_ctx c = {.p = &p, .y = y, .dx = dx, .store = store, .nparam = nparam};
    /* blocks of a fixed number of rows (about 2^16 elements), whatever the threads */
    c.block = p.k ? ((size_t)1 << 16) / p.k : p.rows;
    c.block = c.block ? c.block : 1;
    size_t nblocks = (p.rows + c.block - 1) / c.block;
    adj_tape *t = adj_node_tape(y);
    if (y->dtype == ADJ_F32 && p.hw == 1 && p.groups == 1 && dx && dw && (db || !b)) {
        /* the float32 kernels: float partial sums per block */
        c.pwf = adj_arena_zalloc(t, nblocks * nparam * sizeof(float));
        c.pbf = db ? adj_arena_zalloc(t, nblocks * nparam * sizeof(float)) : NULL;
        if (!c.pwf || (db && !c.pbf))
            return;
        adj_par_tasks(nblocks, bwd_task, &c);
        add_blocks_f(dw, c.pwf, nblocks, nparam);
        if (db)
            add_blocks_f(db, c.pbf, nblocks, nparam);
        return;
    }
    if (dw && !(c.pw = adj_arena_zalloc(t, nblocks * nparam * sizeof(double))))
        return;
    if (db && !(c.pb = adj_arena_zalloc(t, nblocks * nparam * sizeof(double))))
        return;
    adj_par_tasks(nblocks, bwd_task, &c);
    if (dw)
        add_blocks(dw, y->dtype, c.pw, nblocks, nparam);
    if (db)
        add_blocks(db, y->dtype, c.pb, nblocks, nparam);
}

static void norm_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    norm_plan p = plan_of(y);
    if (y->dtype == ADJ_F64)
        tan_double(&p, x->value, w ? w->value : NULL, tx[0], w ? tx[1] : NULL,
                   b ? tx[2] : NULL, ty, 0, p.rows);
    else
        tan_float(&p, x->value, w ? w->value : NULL, tx[0], w ? tx[1] : NULL,
                  b ? tx[2] : NULL, ty, 0, p.rows);
}

/* ----------------------------------------------------------- the shapes */

static bool eps_ok(double eps, char *why, size_t n)
{
    if (eps >= 0 && isfinite(eps))
        return true;
    snprintf(why, n, "eps %g must be finite and >= 0", eps);
    return false;
}

/* w and b (when present) must have shape want[0..nd). */
static bool affine_ok(const adj_var *y, int nd, const int64_t *want, char *why, size_t n)
{
    static const char *const names[] = {"", "w", "b"};
    char ws[64], gs[64];
    for (int k = 1; k < 3; k++) {
        const adj_var *v = y->in[k];
        if (!v)
            continue;
        bool ok = v->ndim == nd;
        for (int d = 0; ok && d < nd; d++)
            ok = adj_cold(v)->shape[d] == want[d];
        if (!ok) {
            adj_fmt_shape(ws, sizeof ws, nd, want);
            adj_fmt_shape(gs, sizeof gs, v->ndim, adj_cold(v)->shape);
            snprintf(why, n, "%s has shape %s, expected %s", names[k], gs, ws);
            return false;
        }
    }
    return true;
}

static void same_shape_as_x(adj_var *y)
{
    const adj_var *x = y->in[0];
    y->ndim = x->ndim;
    memcpy(adj_cold(y)->shape, adj_cold(x)->shape, sizeof(int64_t) * (size_t)x->ndim);
}

static adj_status layer_norm_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    const norm_attr *a = ADJ_ATTR(y, norm_attr);
    char xs[64];
    adj_fmt_shape(xs, sizeof xs, x->ndim, adj_cold(x)->shape);
    if (a->arg < 1 || a->arg > x->ndim) {
        snprintf(why, n, "normalized_ndim %d is not in [1, %d] for x of shape %s", (int)a->arg,
                 x->ndim, xs);
        return ADJ_EINVAL;
    }
    if (!eps_ok(a->eps, why, n))
        return ADJ_EINVAL;
    if (!affine_ok(y, a->arg, adj_cold(x)->shape + x->ndim - a->arg, why, n))
        return ADJ_ESHAPE;
    same_shape_as_x(y);
    return ADJ_OK;
}

static adj_status rms_norm_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    const norm_attr *a = ADJ_ATTR(y, norm_attr);
    if (x->ndim < 1) {
        snprintf(why, n, "x must have at least one dimension (it is 0-D)");
        return ADJ_ESHAPE;
    }
    if (!eps_ok(a->eps, why, n))
        return ADJ_EINVAL;
    if (!affine_ok(y, 1, adj_cold(x)->shape + x->ndim - 1, why, n))
        return ADJ_ESHAPE;
    same_shape_as_x(y);
    return ADJ_OK;
}

static adj_status group_norm_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    const norm_attr *a = ADJ_ATTR(y, norm_attr);
    char xs[64];
    adj_fmt_shape(xs, sizeof xs, x->ndim, adj_cold(x)->shape);
    if (x->ndim < 2) {
        snprintf(why, n, "x of shape %s is not (N, C, ...)", xs);
        return ADJ_ESHAPE;
    }
    int64_t c = adj_cold(x)->shape[1];
    if (a->arg < 1 || c % a->arg != 0) {
        snprintf(why, n, "groups %d does not divide the %lld channels of x %s", (int)a->arg,
                 (long long)c, xs);
        return ADJ_EINVAL;
    }
    if (!eps_ok(a->eps, why, n))
        return ADJ_EINVAL;
    if (!affine_ok(y, 1, &adj_cold(x)->shape[1], why, n))
        return ADJ_ESHAPE;
    same_shape_as_x(y);
    return ADJ_OK;
}

/* ------------------------------------------------------ the descriptors */

static const char *const norm_inputs[] = {"x", "w", "b"};
static const char *const norm_symbols[] = {"x", "w", "b", "y"};
static const adj_op_teach norm_teach = {.symbols = norm_symbols};

static const norm_attr ln1 = {.eps = 1e-5, .arg = 1}, ln2 = {.eps = 1e-5, .arg = 2},
                       ln3 = {.eps = 0.1, .arg = 3};
static const adj_op_case layer_norm_cases[] = {
    {3, {2, 1, 1}, {{3, 4}, {4}, {4}}, &ln1, " ndim 1"},
    {1, {2}, {{3, 4}}, &ln1, " ndim 1, no w, b"},
    {2, {3, 1}, {{2, 3, 2}, {2}}, &ln1, " ndim 1, no b"},
    {3, {3, 2, 2}, {{2, 3, 2}, {3, 2}, {3, 2}}, &ln2, " ndim 2"},
    {3, {2, 1, 1}, {{1, 5}, {5}, {5}}, &ln1, " one row"},
    {3, {3, 3, 3}, {{2, 2, 3}, {2, 2, 3}, {2, 2, 3}}, &ln3, " ndim 3"},
    {3, {2, 1, 1}, {{0, 4}, {4}, {4}}, &ln1, " no rows"},
};
const adj_op_desc adj_desc_layer_norm = {
    .name = "layer_norm", .arity = 3, .optional = 6u, .inputs = norm_inputs,
    .attr_size = sizeof(norm_attr), .shape = layer_norm_shape, .forward = norm_forward,
    .backward = norm_backward, .jvp = norm_jvp,
    .formula = "y = (x - mean) / sqrt(var + eps) * w + b over the last normalized_ndim dims",
    .rule = "dx += rstd (g - mean(g) - xhat mean(g xhat)), g = dy w; dw += sum dy xhat; db += sum dy",
    ADJ_CASES(layer_norm_cases), .teach = &norm_teach,
    .decompose = adj_decomp_layer_norm,
};

static const norm_attr rms = {.eps = 1e-6}, rms_big = {.eps = 0.5};
static const adj_op_case rms_norm_cases[] = {
    {2, {2, 1}, {{3, 4}, {4}}, &rms, ""},
    {1, {3}, {{2, 2, 3}}, &rms, " no w"},
    {2, {1, 1}, {{5}, {5}}, &rms_big, " 1-D, eps 0.5"},
    {2, {2, 1}, {{4, 1}, {1}}, &rms, " rows of 1"},
};
const adj_op_desc adj_desc_rms_norm = {
    .name = "rms_norm", .arity = 2, .optional = 2u, .inputs = norm_inputs,
    .attr_size = sizeof(norm_attr), .shape = rms_norm_shape, .forward = norm_forward,
    .backward = norm_backward, .jvp = norm_jvp,
    .formula = "y = x / sqrt(mean(x^2) + eps) * w over the last dim",
    .rule = "dx += rstd (g - xhat mean(g xhat)), g = dy w; dw += sum dy xhat",
    ADJ_CASES(rms_norm_cases), .dom = {ADJ_DOM_AWAY0, ADJ_DOM_ANY}, .teach = &norm_teach,
    .decompose = adj_decomp_rms_norm,
};

static const norm_attr g1 = {.eps = 1e-5, .arg = 1}, g2 = {.eps = 1e-5, .arg = 2},
                       g3 = {.eps = 1e-5, .arg = 3};
static const adj_op_case group_norm_cases[] = {
    {3, {4, 1, 1}, {{2, 4, 2, 2}, {4}, {4}}, &g2, " groups 2"},
    {3, {4, 1, 1}, {{1, 6, 2, 2}, {6}, {6}}, &g3, " batch 1, groups 3"},
    {1, {3}, {{2, 4, 3}}, &g2, " no w, b"},
    {3, {2, 1, 1}, {{3, 4}, {4}, {4}}, &g1, " (N, C), groups 1"},
    {3, {4, 1, 1}, {{2, 3, 2, 3}, {3}, {3}}, &g3, " groups = C"},
    {3, {2, 1, 1}, {{3, 4}, {4}, {4}}, &g2, " (N, C), groups 2"},
    {2, {3, 1}, {{2, 2, 5}, {2}}, &g1, " no b"},
};
const adj_op_desc adj_desc_group_norm = {
    .name = "group_norm", .arity = 3, .optional = 6u, .inputs = norm_inputs,
    .attr_size = sizeof(norm_attr), .shape = group_norm_shape, .forward = norm_forward,
    .backward = norm_backward, .jvp = norm_jvp,
    .formula = "y = (x - mean_g) / sqrt(var_g + eps) * w_c + b_c, stats per (sample, group)",
    .rule = "dx += rstd (g - mean_g(g) - xhat mean_g(g xhat)), g = dy w_c; dw_c += sum dy xhat; db_c += sum dy",
    ADJ_CASES(group_norm_cases), .teach = &norm_teach,
    .decompose = adj_decomp_group_norm,
};

/* ------------------------------------------------------- the public API */

adj_var *adj_layer_norm_at(adj_var *x, int normalized_ndim, adj_var *w, adj_var *b, double eps,
                           const char *file, int line)
{
    adj_var *in[3] = {x, w, b};
    return adj_record(ADJ_OP_LAYER_NORM, in, 3, &(norm_attr){.eps = eps, .arg = normalized_ndim},
                      file, line);
}

adj_var *adj_rms_norm_at(adj_var *x, adj_var *w, double eps, const char *file, int line)
{
    adj_var *in[2] = {x, w};
    return adj_record(ADJ_OP_RMS_NORM, in, 2, &(norm_attr){.eps = eps}, file, line);
}

adj_var *adj_group_norm_at(adj_var *x, int groups, adj_var *w, adj_var *b, double eps,
                           const char *file, int line)
{
    adj_var *in[3] = {x, w, b};
    return adj_record(ADJ_OP_GROUP_NORM, in, 3, &(norm_attr){.eps = eps, .arg = groups}, file,
                      line);
}

adj_var *(adj_layer_norm)(adj_var *x, int normalized_ndim, adj_var *w, adj_var *b, double eps)
{
    return adj_layer_norm_at(x, normalized_ndim, w, b, eps, NULL, 0);
}
adj_var *(adj_rms_norm)(adj_var *x, adj_var *w, double eps)
{
    return adj_rms_norm_at(x, w, eps, NULL, 0);
}
adj_var *(adj_group_norm)(adj_var *x, int groups, adj_var *w, adj_var *b, double eps)
{
    return adj_group_norm_at(x, groups, w, b, eps, NULL, 0);
}
