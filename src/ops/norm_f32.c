/*
 * The float32 row kernels of layer norm and RMS norm (rows of k contiguous
 * elements, one affine parameter per element), in float vectors of
 * sixteen: twice the lanes of the double kernels of ops/norm.c, and one
 * sweep over x for the statistics instead of two.
 *
 * Statistics.  Each row is shifted by its first element x0 (layer norm;
 * RMS norm: 0), and the sums of d = x - x0 and d^2 are kept in 32 float
 * lanes (k / 32 terms each), folded in double in a fixed order, with the
 * tail of the row added in double.  Then, in double, m = sum d / k,
 * mean = x0 + m and var = sum d^2 / k - m^2: the shift keeps m of the
 * order of the spread, so a large offset costs no digits.
 *
 * Normalising.  The mean is split into two floats, c = (float)mean and
 * e = (float)(mean - c); xhat = ((x - c) - e) rstd in float, the forward
 * and the backward alike, so x - c is exact for x near the mean and e
 * carries what c cannot hold.
 *
 * Backward.  One fused sweep per row gives the parameter sums (float
 * partials per block of rows, which ops/norm.c adds up in double, blocks in
 * order) and the row sums of g = dy w and g xhat (32 float lanes folded in
 * double); a second sweep writes dx.
 *
 * Memory.  The row sweeps prefetch x (and dy) NF_AHEAD elements ahead,
 * and large outputs are streamed at the AVX-512 level (nf_y_nt, nf_dx_nt).
 *
 * No FMA and the same operations in the same order at every CPU level
 * (ops/dispatch.h): the bits do not depend on the level or the threads.
 */
#include "ops/dispatch.h"
#include "ops/norm.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* how far ahead (elements) the row sweeps prefetch: two rows of 768 */
#define NF_AHEAD 1536
#if defined(__GNUC__) || defined(__clang__)
typedef float nf_v16 __attribute__((vector_size(64)));
#define NF_LD(dst, src) memcpy(&(dst), (src), sizeof(dst))
#define NF_ST(dst, src) memcpy((dst), &(src), sizeof(src))
#define NF_SPLAT(v, s)                                                         \
    do {                                                                       \
        for (int m_ = 0; m_ < 16; m_++)                                        \
            (v)[m_] = (s);                                                     \
    } while (0)
#endif

/* Sixteen pairs of lanes folded in double in a fixed order. */
static double fold32(const float *a, const float *b)
{
    double l[16];
    for (int m = 0; m < 16; m++)
        l[m] = (double)a[m] + (double)b[m];
    for (int h = 8; h > 0; h /= 2)
        for (int m = 0; m < h; m++)
            l[m] += l[m + h];
    return l[0];
}

#if defined(__GNUC__) || defined(__clang__)
/* a1 += d, a2 += d d over 16 elements of xr at j, d = x - x0 */
#define NF_MOM16_(xr, j, x0v, a1, a2)                                          \
    do {                                                                       \
        nf_v16 x_;                                                             \
        NF_LD(x_, (xr) + (j));                                                 \
        const nf_v16 d_ = x_ - (x0v);                                          \
        (a1) += d_;                                                            \
        (a2) += d_ * d_;                                                       \
    } while (0)
#define NF_MOMENTS_(xr, kv, x0, s1, s2)                                        \
    do {                                                                       \
        nf_v16 a1_ = {0}, a2_ = {0}, b1_ = {0}, b2_ = {0}, x0v_;               \
        NF_SPLAT(x0v_, x0);                                                    \
        for (size_t j_ = 0; j_ < (kv); j_ += 32) {                             \
            __builtin_prefetch((xr) + j_ + NF_AHEAD);                          \
            __builtin_prefetch((xr) + j_ + NF_AHEAD + 16);                     \
            NF_MOM16_(xr, j_, x0v_, a1_, a2_);                                 \
            NF_MOM16_(xr, j_ + 16, x0v_, b1_, b2_);                            \
        }                                                                      \
        float t1_[16], t2_[16], u1_[16], u2_[16];                              \
        memcpy(t1_, &a1_, sizeof t1_);                                         \
        memcpy(t2_, &a2_, sizeof t2_);                                         \
        memcpy(u1_, &b1_, sizeof u1_);                                         \
        memcpy(u2_, &b2_, sizeof u2_);                                         \
        (s1) = fold32(t1_, u1_);                                               \
        (s2) = fold32(t2_, u2_);                                               \
    } while (0)
/* one group of 16 of the fused backward sweep at j */
#define NF_BWD16_(j, PB, A1, A2)                                               \
    do {                                                                       \
        nf_v16 x_, d_, w_, pw_, pb_;                                           \
        NF_LD(x_, xr + (j));                                                   \
        NF_LD(d_, dr + (j));                                                   \
        NF_LD(w_, w + (j));                                                    \
        NF_LD(pw_, pw + (j));                                                  \
        const nf_v16 xh_ = ((x_ - cv) - ev) * rv, g_ = d_ * w_;                \
        pw_ += d_ * xh_;                                                       \
        NF_ST(pw + (j), pw_);                                                  \
        if (PB) {                                                              \
            NF_LD(pb_, pb + (j));                                              \
            pb_ += d_;                                                         \
            NF_ST(pb + (j), pb_);                                              \
        }                                                                      \
        (A1) += g_;                                                            \
        (A2) += g_ * xh_;                                                      \
    } while (0)
#else
#define NF_MOMENTS_(xr, kv, x0, s1, s2)                                        \
    do {                                                                       \
        float a1_[16] = {0}, a2_[16] = {0}, b1_[16] = {0}, b2_[16] = {0};      \
        for (size_t j_ = 0; j_ < (kv); j_ += 32)                               \
            for (int m_ = 0; m_ < 16; m_++) {                                  \
                const float d_ = (xr)[j_ + m_] - (x0), e_ = (xr)[j_ + 16 + m_] - (x0); \
                a1_[m_] += d_;                                                 \
                a2_[m_] += d_ * d_;                                            \
                b1_[m_] += e_;                                                 \
                b2_[m_] += e_ * e_;                                            \
            }                                                                  \
        (s1) = fold32(a1_, b1_);                                               \
        (s2) = fold32(a2_, b2_);                                               \
    } while (0)
#endif

/* The row's mean and rstd (saved in double) and its mean as c + e (a
 * macro: it is compiled into each level's kernel). */
#define NF_STATS_(p, xr, r, c, e, rsf, kv)                                      \
    do {                                                                       \
        const size_t k_ = (p)->k;                                              \
        const float x0_ = (p)->center && k_ ? (xr)[0] : 0.0f;                  \
        double s1_, s2_;                                                       \
        NF_MOMENTS_(xr, kv, x0_, s1_, s2_);                                    \
        for (size_t j_ = (kv); j_ < k_; j_++) {                                \
            const double d_ = (double)(xr)[j_] - (double)x0_;                  \
            s1_ += d_;                                                         \
            s2_ += d_ * d_;                                                    \
        }                                                                      \
        double mu_ = 0, var_ = s2_ / (double)k_;                               \
        if ((p)->center) {                                                     \
            const double m_ = s1_ / (double)k_;                                \
            mu_ = (double)x0_ + m_;                                            \
            var_ -= m_ * m_;                                                   \
            var_ = var_ > 0 ? var_ : 0;                                        \
        }                                                                      \
        const double rs_ = 1.0 / sqrt(var_ + (p)->eps);                        \
        (p)->saved[2 * (r)] = mu_;                                             \
        (p)->saved[2 * (r) + 1] = rs_;                                         \
        (c) = (float)mu_;                                                      \
        (e) = (float)(mu_ - (double)(c));                                      \
        (rsf) = (float)rs_;                                                    \
    } while (0)

/* The mean of row r as c + e and rstd in float, from the saved pair. */
static inline void nf_saved(const norm_plan *p, size_t r, float *c, float *e, float *rsf)
{
    const double mu = p->saved[2 * r];
    *c = (float)mu;
    *e = (float)(mu - (double)*c);
    *rsf = (float)p->saved[2 * r + 1];
}

/*
 * Large outputs (NF_STREAM_BYTES or more, past what a core's caches keep)
 * are written with non-temporal stores at the AVX-512 level, rows of a
 * multiple of 16 elements on 64-byte boundaries: a plain store first reads
 * each line it fills for ownership, a third more traffic for a sweep that
 * reads x once and writes y.  The same operations in the same order as
 * the plain loops: the same bits.  The kernel fences once at its end.
 */
#define NF_STREAM_BYTES ((size_t)4 << 20)
#if ADJ_VM_DISPATCH
#include <immintrin.h>
ADJ_VM_TGT_AVX512 static void nf_y_nt(const float *xr, const float *w, const float *b, float *yr,
                                      size_t k, float c, float e, float rs)
{
    const __m512 cv = _mm512_set1_ps(c), ev = _mm512_set1_ps(e), rv = _mm512_set1_ps(rs);
    for (size_t j = 0; j < k; j += 16) {
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + j), cv), ev), rv);
        if (w)
            v = _mm512_mul_ps(v, _mm512_loadu_ps(w + j));
        if (b)
            v = _mm512_add_ps(v, _mm512_loadu_ps(b + j));
        _mm512_stream_ps(yr + j, v);
    }
}
ADJ_VM_TGT_AVX512 static void nf_dx_nt(const float *xr, const float *w, const float *dr, float *gr,
                                       size_t k, float c, float e, float rs, float a1, float a2)
{
    const __m512 cv = _mm512_set1_ps(c), ev = _mm512_set1_ps(e), rv = _mm512_set1_ps(rs);
    const __m512 a1v = _mm512_set1_ps(a1), a2v = _mm512_set1_ps(a2);
    for (size_t j = 0; j < k; j += 16) {
        const __m512 xh =
            _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + j), cv), ev), rv);
        const __m512 g = _mm512_mul_ps(_mm512_loadu_ps(dr + j), _mm512_loadu_ps(w + j));
        _mm512_stream_ps(gr + j,
                         _mm512_mul_ps(rv, _mm512_sub_ps(_mm512_sub_ps(g, a1v), _mm512_mul_ps(xh, a2v))));
    }
}
ADJ_VM_TGT_AVX512 static void nf_fence(void) { _mm_sfence(); }
#else
#define nf_y_nt(...) ((void)0)
#define nf_dx_nt(...) ((void)0)
#define nf_fence() ((void)0)
#endif
/* stream the rows of this output (the level allows it: NT) */
#define NF_NT_PLAN(NT, p, out)                                                 \
    ((NT) && (p)->rows * (p)->k * sizeof(float) >= NF_STREAM_BYTES &&          \
     ((uintptr_t)(out) & 63) == 0 && ((p)->k & 15) == 0)

#define NF_FWD(sfx, ATTR, NT)                                                       \
    ATTR static void nf_fwd_##sfx(const norm_plan *p, const float *restrict x, \
                                  const float *restrict w, const float *restrict b, \
                                  float *restrict y, size_t lo, size_t hi)     \
    {                                                                          \
        const size_t k = p->k, kv = k & ~(size_t)31;                           \
        const bool nt = NF_NT_PLAN(NT, p, y);                                  \
        for (size_t r = lo; r < hi; r++) {                                     \
            const float *xr = x + r * k;                                       \
            float *restrict yr = y + r * k;                                    \
            float c, e, rs;                                                    \
            NF_STATS_(p, xr, r, c, e, rs, kv);                                 \
            if (nt)                                                            \
                nf_y_nt(xr, w, b, yr, k, c, e, rs);                            \
            else if (w && b)                                                   \
                for (size_t j = 0; j < k; j++)                                 \
                    yr[j] = ((xr[j] - c) - e) * rs * w[j] + b[j];              \
            else if (w)                                                        \
                for (size_t j = 0; j < k; j++)                                 \
                    yr[j] = ((xr[j] - c) - e) * rs * w[j];                     \
            else if (b)                                                        \
                for (size_t j = 0; j < k; j++)                                 \
                    yr[j] = ((xr[j] - c) - e) * rs + b[j];                     \
            else                                                               \
                for (size_t j = 0; j < k; j++)                                 \
                    yr[j] = ((xr[j] - c) - e) * rs;                            \
        }                                                                      \
        if (nt)                                                                \
            nf_fence();                                                        \
    }

/*
 * Backward of rows [lo, hi) with w, dx and the float partial sums pw
 * (and pb, when not NULL) of this block of rows:
 *     dx_j (+)= rstd ((g_j - mean(g)) - xhat_j mean(g xhat)),  g = dy w
 * (RMS norm: no mean(g)).
 */
#if defined(__GNUC__) || defined(__clang__)
#define NF_FUSED_(PB)                                                          \
    do {                                                                       \
        nf_v16 a1 = {0}, a2 = {0}, b1 = {0}, b2 = {0}, cv, ev, rv;             \
        NF_SPLAT(cv, c);                                                       \
        NF_SPLAT(ev, e);                                                       \
        NF_SPLAT(rv, rs);                                                      \
        for (size_t j = 0; j < kv; j += 32) {                                  \
            __builtin_prefetch(xr + j + NF_AHEAD);                             \
            __builtin_prefetch(xr + j + NF_AHEAD + 16);                        \
            __builtin_prefetch(dr + j + NF_AHEAD);                             \
            __builtin_prefetch(dr + j + NF_AHEAD + 16);                        \
            NF_BWD16_(j, PB, a1, a2);                                          \
            NF_BWD16_(j + 16, PB, b1, b2);                                     \
        }                                                                      \
        float t1[16], t2[16], u1[16], u2[16];                                  \
        memcpy(t1, &a1, sizeof t1);                                            \
        memcpy(t2, &a2, sizeof t2);                                            \
        memcpy(u1, &b1, sizeof u1);                                            \
        memcpy(u2, &b2, sizeof u2);                                            \
        s1 = fold32(t1, u1);                                                   \
        s2 = fold32(t2, u2);                                                   \
    } while (0)
#else
#define NF_FUSED_(PB)                                                          \
    do {                                                                       \
        float a1[16] = {0}, a2[16] = {0}, b1[16] = {0}, b2[16] = {0};          \
        for (size_t j = 0; j < kv; j += 32)                                    \
            for (int h = 0; h < 2; h++)                                        \
                for (int m = 0; m < 16; m++) {                                 \
                    const size_t i = j + 16 * (size_t)h + (size_t)m;           \
                    const float xh = ((xr[i] - c) - e) * rs, g = dr[i] * w[i]; \
                    pw[i] += dr[i] * xh;                                       \
                    if (PB)                                                    \
                        pb[i] += dr[i];                                        \
                    (h ? b1 : a1)[m] += g;                                     \
                    (h ? b2 : a2)[m] += g * xh;                                \
                }                                                              \
        s1 = fold32(a1, b1);                                                   \
        s2 = fold32(a2, b2);                                                   \
    } while (0)
#endif

#define NF_BWD(sfx, ATTR, NT)                                                       \
    ATTR static void nf_bwd_##sfx(const norm_plan *p, const float *restrict x, \
                                  const float *restrict w, const float *restrict dy, \
                                  float *restrict dx, bool store, float *restrict pw, \
                                  float *restrict pb, size_t lo, size_t hi)    \
    {                                                                          \
        const size_t k = p->k, kv = k & ~(size_t)31;                           \
        const bool nt = store && NF_NT_PLAN(NT, p, dx);                        \
        for (size_t r = lo; r < hi; r++) {                                     \
            const float *xr = x + r * k, *dr = dy + r * k;                     \
            float c, e, rs;                                                    \
            nf_saved(p, r, &c, &e, &rs);                                       \
            double s1, s2;                                                     \
            if (pb)                                                            \
                NF_FUSED_(1);                                                  \
            else                                                               \
                NF_FUSED_(0);                                                  \
            for (size_t j = kv; j < k; j++) {                                  \
                const float xh = ((xr[j] - c) - e) * rs, g = dr[j] * w[j];     \
                pw[j] += dr[j] * xh;                                           \
                if (pb)                                                        \
                    pb[j] += dr[j];                                            \
                s1 += (double)g;                                               \
                s2 += (double)(g * xh);                                        \
            }                                                                  \
            const float a1 = p->center ? (float)(s1 / (double)k) : 0.0f;       \
            const float a2 = (float)(s2 / (double)k);                          \
            float *restrict gr = dx + r * k;                                   \
            if (nt)                                                            \
                nf_dx_nt(xr, w, dr, gr, k, c, e, rs, a1, a2);                  \
            else if (store)                                                    \
                for (size_t j = 0; j < k; j++)                                 \
                    gr[j] = rs * ((dr[j] * w[j] - a1) - (((xr[j] - c) - e) * rs) * a2); \
            else                                                               \
                for (size_t j = 0; j < k; j++)                                 \
                    gr[j] += rs * ((dr[j] * w[j] - a1) - (((xr[j] - c) - e) * rs) * a2); \
        }                                                                      \
        if (nt)                                                                \
            nf_fence();                                                        \
    }

NF_FWD(base, , 0)
NF_BWD(base, , 0)
#if ADJ_VM_DISPATCH
NF_FWD(avx2, ADJ_VM_TGT_AVX2, 0)
NF_BWD(avx2, ADJ_VM_TGT_AVX2, 0)
NF_FWD(avx512, ADJ_VM_TGT_AVX512, 1)
NF_BWD(avx512, ADJ_VM_TGT_AVX512, 1)
#define NF_CALL(fn, ...)                                                       \
    do {                                                                       \
        const int l_ = adj_vm_level();                                         \
        if (l_ == ADJ_VM_AVX512)                                               \
            fn##_avx512(__VA_ARGS__);                                          \
        else if (l_ == ADJ_VM_AVX2)                                            \
            fn##_avx2(__VA_ARGS__);                                            \
        else                                                                   \
            fn##_base(__VA_ARGS__);                                            \
    } while (0)
#else
#define NF_CALL(fn, ...) fn##_base(__VA_ARGS__)
#endif

void adj_norm_fwd_f32(const norm_plan *p, const float *x, const float *w, const float *b, float *y,
                      size_t lo, size_t hi)
{
    NF_CALL(nf_fwd, p, x, w, b, y, lo, hi);
}

void adj_norm_bwd_f32(const norm_plan *p, const float *x, const float *w, const float *dy,
                      float *dx, bool store, float *pw, float *pb, size_t lo, size_t hi)
{
    NF_CALL(nf_bwd, p, x, w, dy, dx, store, pw, pb, lo, hi);
}
