/*
 * The convolution products (see conv_kernels.h): im2col, col2im and BLIS
 * gemms per sample and group.
 *
 * The layouts are chosen by measurement with BLIS's AVX-512 kernels
 * (which store C by columns): each product writes its C matrix in the
 * order the kernel stores it, and reads the col matrix pixel-major.
 *
 *   col    (P, K), one row per window position p, K = kh kw Cb/groups in
 *          (i, j, c) order, gathered from a padded channels-last copy of
 *          the sample (xt (hb + 2 ph, wb + 2 pw, Cb/groups)): each window
 *          row is one contiguous run of kw Cb/groups values (dilation 1).
 *          With fewer than COLT_MIN_C channels per group the runs are too
 *          short, and col is the classic (K, P) im2col in (c, i, j) order.
 *   down   tmp (P, Cs) = col W^T (stored C by columns: (Cs, P) column-
 *          major), then s[o, p] = tmp[p, o]: 1.5x faster than writing
 *          s (Cs, P) from the gemm.
 *          With the classic col the product is small, and the gemm writes
 *          s directly (the transposition would cost more than it saves).
 *   up     dcol (P, K) = s^T W, scattered back through xt.
 *   wgrad  dW^T (K, Cs) += col^T s^T per task, summed in task order; with
 *          K <= SMALL_K as dot products (BLIS would mostly pack s).
 *
 * On the pixel-major path conv2d's forward and backward take up to
 * BWD_BLOCK samples per product, and the backward does up and wgrad in
 * one pass from one transposition of s per block (adj_conv_backward).
 *
 * A 1x1 kernel with stride 1 and no padding needs no im2col: the big
 * side's plane block is the col matrix itself.
 */
#include "ops/conv_kernels.h"
#include "core/pool.h"
#include "ops/dispatch.h"
#include "ops/gemm.h"

#include <string.h>
#if ADJ_VM_DISPATCH
#include <immintrin.h>
#endif

/* C (m,n) = A (m,k) B (k,n) + beta C on the calling thread (adj_gemm_1t),
 * element (i, j) of X at X + i rsX + j csX (in elements). */
static void gemm(int dtype, size_t m, size_t n, size_t k, const void *A, size_t rsa, size_t csa,
                 const void *B, size_t rsb, size_t csb, double beta, void *C, size_t rsc,
                 size_t csc)
{
    adj_gemm_1t(dtype, false, false, m, n, k, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc);
}

/* The valid window positions o in [0, n) of a row or column: those with
 * 0 <= o s + off < size, as [*lo, *hi). */
static void valid_range(long off, long s, long n, long size, long *lo, long *hi)
{
    long a = off >= 0 ? 0 : (-off + s - 1) / s;
    long b = size - off <= 0 ? 0 : (size - off + s - 1) / s;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
    if (*hi < *lo)
        *hi = *lo;
}

/* Channels per group from which col is pixel-major (see the top). */
#define COLT_MIN_C 4

/*
 * im2col of one sample and group, (K, P): col[(c kh + i) kw + j][oh ws +
 * ow] = b[c, oh sh - ph + i dh, ow sw - pw + j dw], 0 outside.  col2im
 * adds the same elements back (the adjoint of im2col).
 *
 * The pixel-major forms: pad_t copies the sample's cbg planes into xt
 * (padded, channels last; the border is left as it is, zero), through
 * flat (unpadded, channels last) so that the transposition runs over
 * whole planes;
 * colt gathers col (P, K) from xt, colt_add scatters it back (adds);
 * unpad_add adds xt's interior into the planes (through flat).  tadd: s[o, p] = (acc ?
 * s[o, p] : bias[o] or 0) + tmp[p, o].
 */
/*
 * dst[j ld + i] = src[i ls + j] for i < rows, j < cols (TR_COPY), or
 * dst[...] += src[...] (TR_ADD), or dst[...] = bias[j] + src[...] (TR_BIAS).
 * The AVX2 form moves 8x8 blocks through registers; every form does the
 * same operation on each element.  The transpositions are bound by the
 * latency of their loads and of the lines their stores first read: the
 * AVX forms prefetch both (3-5% of conv2d 32->64's forward + backward).
 */
enum { TR_COPY = ADJ_TR_COPY, TR_ADD = ADJ_TR_ADD, TR_BIAS = ADJ_TR_BIAS };
#define TR_SCALAR(T, i0, i1, j0, j1)                                           \
    for (size_t i = (i0); i < (i1); i++)                                       \
        for (size_t j = (j0); j < (j1); j++) {                                 \
            T *d_ = dst + j * ld + i;                                          \
            const T v_ = src[i * ls + j];                                      \
            *d_ = mode == TR_ADD ? *d_ + v_ : mode == TR_BIAS ? bias[j] + v_ : v_; \
        }
#define TR_BASE(T)                                                             \
    static void tr_##T##_base(const T *src, size_t ls, T *dst, size_t ld, size_t rows, \
                              size_t cols, int mode, const T *bias)            \
    {                                                                          \
        for (size_t i0 = 0; i0 < rows; i0 += 8) { /* 8 source rows: in L1 */  \
            const size_t i1 = rows - i0 < 8 ? rows : i0 + 8;                   \
            TR_SCALAR(T, i0, i1, 0, cols)                                      \
        }                                                                      \
    }
TR_BASE(double)
TR_BASE(float)
#if ADJ_VM_DISPATCH
#define TR_AVX(sfx, TGT)                                                       \
    TGT static void tr_float##sfx(const float *src, size_t ls, float *dst, size_t ld, size_t rows, \
                                  size_t cols, int mode, const float *bias)    \
    {                                                                          \
        size_t i0 = 0;                                                         \
        for (; i0 + 8 <= rows; i0 += 8) {                                      \
            size_t j0 = 0;                                                     \
            for (; j0 + 8 <= cols; j0 += 8) {                                  \
                __m256 r[8], t[8];                                             \
                /* the next 8 source rows, and the destination's rows 32 \
                 * elements on: the loads would wait on them otherwise */  \
                if ((j0 & 15) == 0 && i0 + 16 <= rows)                         \
                    for (int k = 0; k < 8; k++)                                \
                        _mm_prefetch((const char *)(src + (i0 + 8 + (size_t)k) * ls + j0), \
                                     _MM_HINT_T0);                             \
                if ((i0 & 15) == 0 && i0 + 40 <= rows)                         \
                    for (int k = 0; k < 8; k++)                                \
                        _mm_prefetch((const char *)(dst + (j0 + (size_t)k) * ld + i0 + 32), \
                                     _MM_HINT_T0);                             \
                for (int k = 0; k < 8; k++)                                    \
                    r[k] = _mm256_loadu_ps(src + (i0 + (size_t)k) * ls + j0);  \
                for (int k = 0; k < 8; k += 2) {                               \
                    t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);                 \
                    t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);             \
                }                                                              \
                for (int k = 0; k < 8; k += 4) {                               \
                    r[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);            \
                    r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);        \
                    r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);    \
                    r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);    \
                }                                                              \
                for (int k = 0; k < 4; k++) {                                  \
                    t[k] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x20);       \
                    t[k + 4] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x31);   \
                }                                                              \
                for (int k = 0; k < 8; k++) {                                  \
                    float *d = dst + (j0 + (size_t)k) * ld + i0;               \
                    __m256 v = t[k];                                           \
                    if (mode == TR_ADD)                                        \
                        v = _mm256_add_ps(_mm256_loadu_ps(d), v);              \
                    else if (mode == TR_BIAS)                                  \
                        v = _mm256_add_ps(_mm256_set1_ps(bias[j0 + (size_t)k]), v); \
                    _mm256_storeu_ps(d, v);                                    \
                }                                                              \
            }                                                                  \
            TR_SCALAR(float, i0, i0 + 8, j0, cols)                             \
        }                                                                      \
        TR_SCALAR(float, i0, rows, 0, cols)                                    \
    }
TR_AVX(_avx2, ADJ_VM_TGT_AVX2)
TR_AVX(_avx512, ADJ_VM_TGT_AVX512)
#endif

void adj_conv_tr_f32(const float *src, size_t ls, float *dst, size_t ld, size_t rows, size_t cols,
                     int mode, const float *bias)
{
#if ADJ_VM_DISPATCH
    const int l = adj_vm_level();
    if (l == ADJ_VM_AVX512)
        tr_float_avx512(src, ls, dst, ld, rows, cols, mode, bias);
    else if (l == ADJ_VM_AVX2)
        tr_float_avx2(src, ls, dst, ld, rows, cols, mode, bias);
    else
#endif
        tr_float_base(src, ls, dst, ld, rows, cols, mode, bias);
}

/* kept out of line: each is a whole loop nest (and shows in profiles) */
#define NOINL __attribute__((noinline))
#define KERNELS(T, sfx, TGT)                                                   \
    TGT static NOINL void im2col_##T##sfx(const adj_conv_geom *g, size_t cbg, const T *b, T *col) \
    {                                                                          \
        const long hs = (long)g->hs, ws = (long)g->ws;                         \
        const long hb = (long)g->hb, wb = (long)g->wb;                         \
        for (size_t c = 0; c < cbg; c++)                                       \
            for (size_t i = 0; i < g->kh; i++)                                 \
                for (size_t j = 0; j < g->kw; j++) {                           \
                    T *row = col + ((c * g->kh + i) * g->kw + j) * (size_t)(hs * ws); \
                    const T *plane = b + c * (size_t)(hb * wb);                \
                    long off_w = (long)j * g->dw - g->pw, lo, hi;              \
                    valid_range(off_w, g->sw, ws, wb, &lo, &hi);               \
                    for (long oh = 0; oh < hs; oh++) {                         \
                        T *r = row + oh * ws;                                  \
                        long ih = oh * g->sh - g->ph + (long)i * g->dh;        \
                        if (ih < 0 || ih >= hb) {                              \
                            memset(r, 0, (size_t)ws * sizeof(T));              \
                            continue;                                          \
                        }                                                      \
                        const T *src = plane + ih * wb;                        \
                        for (long ow = 0; ow < lo; ow++)                       \
                            r[ow] = 0;                                         \
                        if (g->sw == 1)                                        \
                            memcpy(r + lo, src + off_w + lo, (size_t)(hi - lo) * sizeof(T)); \
                        else                                                   \
                            for (long ow = lo; ow < hi; ow++)                  \
                                r[ow] = src[off_w + ow * g->sw];               \
                        for (long ow = hi; ow < ws; ow++)                      \
                            r[ow] = 0;                                         \
                    }                                                          \
                }                                                              \
    }                                                                          \
    TGT static NOINL void col2im_##T##sfx(const adj_conv_geom *g, size_t cbg, const T *col, T *b) \
    {                                                                          \
        const long hs = (long)g->hs, ws = (long)g->ws;                         \
        const long hb = (long)g->hb, wb = (long)g->wb;                         \
        for (size_t c = 0; c < cbg; c++)                                       \
            for (size_t i = 0; i < g->kh; i++)                                 \
                for (size_t j = 0; j < g->kw; j++) {                           \
                    const T *row = col + ((c * g->kh + i) * g->kw + j) * (size_t)(hs * ws); \
                    T *plane = b + c * (size_t)(hb * wb);                      \
                    long off_w = (long)j * g->dw - g->pw, lo, hi;              \
                    valid_range(off_w, g->sw, ws, wb, &lo, &hi);               \
                    for (long oh = 0; oh < hs; oh++) {                         \
                        long ih = oh * g->sh - g->ph + (long)i * g->dh;        \
                        if (ih < 0 || ih >= hb)                                \
                            continue;                                          \
                        const T *r = row + oh * ws;                            \
                        T *dst = plane + ih * wb;                              \
                        for (long ow = lo; ow < hi; ow++)                      \
                            dst[off_w + ow * g->sw] += r[ow];                  \
                    }                                                          \
                }                                                              \
    }                                                                          \
    TGT static NOINL void pad_t_##T##sfx(const adj_conv_geom *g, size_t cbg, const T *b, T *xt, \
                                        T *flat)                               \
    {                                                                          \
        const size_t wp = g->wb + 2 * (size_t)g->pw, plane = g->hb * g->wb;    \
        if (g->ph == 0 && g->pw == 0) {                                        \
            tr_##T##sfx(b, plane, xt, cbg, cbg, plane, TR_COPY, NULL);         \
            return;                                                            \
        }                                                                      \
        tr_##T##sfx(b, plane, flat, cbg, cbg, plane, TR_COPY, NULL);           \
        for (size_t h = 0; h < g->hb; h++)                                     \
            memcpy(xt + ((h + (size_t)g->ph) * wp + (size_t)g->pw) * cbg, flat + h * g->wb * cbg, \
                   g->wb * cbg * sizeof(T));                                   \
    }                                                                          \
    TGT static NOINL void unpad_add_##T##sfx(const adj_conv_geom *g, size_t cbg, const T *xt, T *b, \
                                            T *flat)                           \
    {                                                                          \
        const size_t wp = g->wb + 2 * (size_t)g->pw, plane = g->hb * g->wb;    \
        for (size_t h = 0; h < g->hb; h++)                                     \
            memcpy(flat + h * g->wb * cbg, xt + ((h + (size_t)g->ph) * wp + (size_t)g->pw) * cbg, \
                   g->wb * cbg * sizeof(T));                                   \
        tr_##T##sfx(flat, cbg, b, plane, plane, cbg, TR_ADD, NULL);            \
    }                                                                          \
    TGT static NOINL void colt_##T##sfx(const adj_conv_geom *g, size_t cbg, T *xt, T *col, bool add) \
    {                                                                          \
        const size_t wp = g->wb + 2 * (size_t)g->pw, K = g->kh * g->kw * cbg;  \
        const size_t run = g->dw == 1 ? g->kw * cbg : cbg;                     \
        const size_t nrun = g->dw == 1 ? 1 : g->kw;                            \
        for (size_t oh = 0; oh < g->hs; oh++)                                  \
            for (size_t ow = 0; ow < g->ws; ow++) {                            \
                T *d = col + (oh * g->ws + ow) * K;                            \
                for (size_t i = 0; i < g->kh; i++) {                           \
                    const size_t r = oh * (size_t)g->sh + i * (size_t)g->dh;   \
                    T *x = xt + (r * wp + ow * (size_t)g->sw) * cbg;      \
                    for (size_t u = 0; u < nrun; u++, d += run) {              \
                        T *xs = x + u * (size_t)g->dw * cbg;                   \
                        if (add)                                               \
                            for (size_t e = 0; e < run; e++)                   \
                                xs[e] += d[e];                                 \
                        else                                                   \
                            for (size_t e = 0; e < run; e++)                   \
                                d[e] = xs[e];                                  \
                    }                                                          \
                }                                                              \
            }                                                                  \
    }                                                                          \
    TGT static NOINL void tadd_##T##sfx(size_t P, size_t cs, const T *tmp, T *s, bool acc,   \
                                       const T *bias)                          \
    {                                                                          \
        tr_##T##sfx(tmp, cs, s, P, P, cs, acc ? TR_ADD : bias ? TR_BIAS : TR_COPY, bias); \
    }                                                                          \
    TGT static NOINL void fill_rows_##T##sfx(size_t P, size_t cs, T *s, const T *bias) \
    {                                                                          \
        for (size_t o = 0; o < cs; o++)                                        \
            for (size_t p = 0; p < P; p++)                                     \
                s[o * P + p] = bias[o];                                        \
    }
KERNELS(double, _base, )
KERNELS(float, _base, )
#if ADJ_VM_DISPATCH
KERNELS(float, _avx2, ADJ_VM_TGT_AVX2)
KERNELS(float, _avx512, ADJ_VM_TGT_AVX512)
#endif

/*
 * The weight adjoint of a layer with few col rows (K <= SMALL_K, e.g. one
 * input channel and a 3x3 kernel): BLIS spends most of such a product
 * packing dy, so it is computed here as K csg dot products over the col
 * rows (K, P):  out[k csg + o] += sum_p dy[o P + p] col[k P + p].  Each
 * sum runs in 16 lanes added in a fixed order, without fused
 * multiply-adds: every CPU level gives the same bits.
 */
#define SMALL_K 16
#define WDOT(T, sfx, TGT)                                                      \
    static inline __attribute__((always_inline)) void wdot_k_##T##sfx(        \
        const T *dy, const T *col, size_t P, size_t K, size_t csg, T *out)     \
    {                                                                          \
        for (size_t o = 0; o < csg; o++) {                                     \
            const T *d = dy + o * P;                                           \
            T acc[SMALL_K][16];                                                \
            for (size_t k = 0; k < K; k++)                                     \
                for (int e = 0; e < 16; e++)                                   \
                    acc[k][e] = 0;                                             \
            size_t p = 0;                                                      \
            for (; p + 16 <= P; p += 16)                                       \
                for (size_t k = 0; k < K; k++)                                 \
                    for (int e = 0; e < 16; e++)                               \
                        acc[k][e] += d[p + e] * col[k * P + p + e];            \
            for (size_t k = 0; k < K; k++) {                                   \
                T *a = acc[k];                                                 \
                for (size_t q = p; q < P; q++)                                 \
                    a[q - p] += d[q] * col[k * P + q];                         \
                for (int h = 8; h > 0; h /= 2)                                 \
                    for (int e = 0; e < h; e++)                                \
                        a[e] += a[e + h];                                      \
                out[k * csg + o] += a[0];                                      \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    TGT static void wdot_##T##sfx(const T *dy, const T *col, size_t P, size_t K, size_t csg, \
                                  T *out)                                      \
    {                                                                          \
        if (K == 9) /* 3x3, one channel: unrolled, the sums in registers */   \
            wdot_k_##T##sfx(dy, col, P, 9, csg, out);                          \
        else                                                                   \
            wdot_k_##T##sfx(dy, col, P, K, csg, out);                          \
    }
WDOT(double, _base, )
WDOT(float, _base, )
#if ADJ_VM_DISPATCH
WDOT(float, _avx2, ADJ_VM_TGT_AVX2)
WDOT(float, _avx512, ADJ_VM_TGT_AVX512)
#endif

static void wdot(int dtype, const void *dy, const void *col, size_t P, size_t K, size_t csg,
                 void *out)
{
    if (dtype == ADJ_F64) {
        wdot_double_base(dy, col, P, K, csg, out);
        return;
    }
#if ADJ_VM_DISPATCH
    const int l = adj_vm_level();
    if (l == ADJ_VM_AVX512)
        wdot_float_avx512(dy, col, P, K, csg, out);
    else if (l == ADJ_VM_AVX2)
        wdot_float_avx2(dy, col, P, K, csg, out);
    else
#endif
        wdot_float_base(dy, col, P, K, csg, out);
}

/* fn of the dtype, at the CPU's level for float (every level gives the
 * same bits: these kernels only copy and add, element by element) */
#if ADJ_VM_DISPATCH
#define BY_TYPE(dtype, fn, ...)                                                \
    do {                                                                       \
        if ((dtype) == ADJ_F64)                                                \
            fn##_double_base(__VA_ARGS__);                                     \
        else if (adj_vm_level() == ADJ_VM_AVX512)                              \
            fn##_float_avx512(__VA_ARGS__);                                    \
        else if (adj_vm_level() == ADJ_VM_AVX2)                                \
            fn##_float_avx2(__VA_ARGS__);                                      \
        else                                                                   \
            fn##_float_base(__VA_ARGS__);                                      \
    } while (0)
#else
#define BY_TYPE(dtype, fn, ...)                                                \
    do {                                                                       \
        if ((dtype) == ADJ_F64)                                                \
            fn##_double_base(__VA_ARGS__);                                     \
        else                                                                   \
            fn##_float_base(__VA_ARGS__);                                      \
    } while (0)
#endif

/* Products of at least this many multiply-adds in all are split over the
 * pool's threads, by samples. */
#define PAR_CONV_MACS ((size_t)1 << 17)

enum { DOWN, UP, WGRAD, BWD };

/* Samples per product on the pixel-major path (forward and BWD): up to 4,
 * fewer when their col matrices would pass BLOCK_BYTES (large images
 * keep one sample's). */
#define BWD_BLOCK 4
#define BLOCK_BYTES ((size_t)2 << 20)

typedef struct conv_job {
    int kind, dtype;
    const adj_conv_geom *g;
    size_t ntask, es, cbg, csg, K, P, bplane, xpad, xtn; /* xt: padded copy, then flat */
    size_t blk; /* samples per product on the pixel-major path */
    bool direct, colt, acc;
    const char *in;   /* down: b, up: s, wgrad: s */
    const char *in2;  /* wgrad: b */
    const char *w;    /* down, up: the weight, (i, j, c) order when colt */
    const char *bias; /* down without acc: (cs) or NULL */
    char *out;        /* down: s, up: b, wgrad and bwd: dW (or NULL) */
    char *bout;       /* bwd: the big side's adjoint (or NULL) */
    size_t part_off;  /* wgrad, bwd: bytes into a task's scratch of its dW^T */
    char *scratch;    /* per task: col, xt, tmp or the partial dW^T */
    size_t per_task;  /* bytes */
} conv_job;

/* The col matrix of sample/group at b: element (k, p) at k rk + p rp. */
static const char *build_col(const conv_job *j, const char *b, char *col, char *xt)
{
    if (j->direct)
        return b;
    if (j->colt) {
        BY_TYPE(j->dtype, pad_t, j->g, j->cbg, (const void *)b, (void *)xt,
                (void *)(xt + j->xpad * j->es));
        BY_TYPE(j->dtype, colt, j->g, j->cbg, (void *)xt, (void *)col, false);
    } else {
        BY_TYPE(j->dtype, im2col, j->g, j->cbg, (const void *)b, (void *)col);
    }
    return col;
}

static void conv_task(void *ctx, size_t lo, size_t hi)
{
    const conv_job *j = ctx;
    const adj_conv_geom *g = j->g;
    const size_t es = j->es, K = j->K, P = j->P, csg = j->csg;
    const size_t rk = j->colt ? 1 : P, rp = j->colt ? K : 1; /* col strides */
    for (size_t t = lo; t < hi; t++) {
        size_t n0 = t * g->n / j->ntask, n1 = (t + 1) * g->n / j->ntask;
        char *col = j->scratch + t * j->per_task;
        char *xt = col + (j->direct ? 0 : K * P * es);
        char *tmp = xt + (j->colt ? j->xtn * es : 0); /* down: tmp, wgrad: dW^T */
        if (j->colt && j->kind != UP)
            memset(xt, 0, j->xpad * es); /* the padding border stays zero */
        for (size_t n = n0; n < n1; n++)
            for (size_t gi = 0; gi < g->groups; gi++) {
                const size_t boff = (n * g->cb + gi * j->cbg) * j->bplane * es;
                const size_t soff = (n * g->cs + gi * csg) * P * es;
                const char *wg = j->w ? j->w + gi * csg * K * es : NULL;
                if (j->kind == DOWN && !j->colt) { /* few rows: the transposition costs more */
                    char *s = j->out + soff;
                    const char *c = build_col(j, j->in + boff, col, xt);
                    if (!j->acc && j->bias)
                        BY_TYPE(j->dtype, fill_rows, P, csg, (void *)s,
                                (const void *)(j->bias + gi * csg * es));
                    gemm(j->dtype, csg, P, K, wg, K, 1, c, rk, rp, j->acc || j->bias ? 1.0 : 0.0, s,
                         P, 1);
                } else if (j->kind == UP) {
                    char *b = j->out + boff;
                    if (j->direct) {
                        gemm(j->dtype, K, P, csg, wg, 1, K, j->in + soff, P, 1, 1.0, b, P, 1);
                        continue;
                    }
                    gemm(j->dtype, K, P, csg, wg, 1, K, j->in + soff, P, 1, 0.0, col, rk, rp);
                    if (j->colt) {
                        memset(xt, 0, j->xpad * es);
                        BY_TYPE(j->dtype, colt, g, j->cbg, (void *)xt, (void *)col, true);
                        BY_TYPE(j->dtype, unpad_add, g, j->cbg, (const void *)xt, (void *)b,
                                (void *)(xt + j->xpad * es));
                    } else {
                        BY_TYPE(j->dtype, col2im, g, j->cbg, (const void *)col, (void *)b);
                    }
                } else {
                    const char *c = build_col(j, j->in2 + boff, col, xt);
                    if (!j->colt && K <= SMALL_K)
                        wdot(j->dtype, j->in + soff, c, P, K, csg, tmp + gi * K * csg * es);
                    else if (j->colt) /* C row-stored here: 1.25x faster */
                        gemm(j->dtype, K, csg, P, c, rk, rp, j->in + soff, 1, P, 1.0,
                             tmp + gi * K * csg * es, csg, 1);
                    else
                        gemm(j->dtype, csg, K, P, j->in + soff, P, 1, c, rp, rk, 1.0,
                             tmp + gi * K * csg * es, 1, csg);
                }
            }
    }
}

/*
 * The forward (down) on the pixel-major path, blk samples per
 * product: col (nb P, K) of the samples, tmp (nb P, csg) = col W^T, then
 * each sample's block of tmp transposed into s.
 */
static void fwd_task(void *ctx, size_t lo, size_t hi)
{
    const conv_job *j = ctx;
    const adj_conv_geom *g = j->g;
    const size_t es = j->es, K = j->K, P = j->P, csg = j->csg;
    for (size_t t = lo; t < hi; t++) {
        const size_t n0 = t * g->n / j->ntask, n1 = (t + 1) * g->n / j->ntask;
        char *col = j->scratch + t * j->per_task;
        char *xt = col + j->blk * P * K * es, *flat = xt + j->xpad * es;
        char *tmp = xt + j->xtn * es;
        memset(xt, 0, j->xpad * es); /* the padding border stays zero */
        for (size_t c0 = n0; c0 < n1; c0 += j->blk) {
            const size_t nb = n1 - c0 < j->blk ? n1 - c0 : j->blk;
            for (size_t gi = 0; gi < g->groups; gi++) {
                for (size_t q = 0; q < nb; q++) {
                    const char *b = j->in + ((c0 + q) * g->cb + gi * j->cbg) * j->bplane * es;
                    BY_TYPE(j->dtype, pad_t, g, j->cbg, (const void *)b, (void *)xt, (void *)flat);
                    BY_TYPE(j->dtype, colt, g, j->cbg, (void *)xt, (void *)(col + q * P * K * es),
                            false);
                }
                gemm(j->dtype, csg, nb * P, K, j->w + gi * csg * K * es, K, 1, col, 1, K, 0.0, tmp, 1,
                     csg);
                for (size_t q = 0; q < nb; q++)
                    BY_TYPE(j->dtype, tadd, P, csg, (const void *)(tmp + q * P * csg * es),
                            (void *)(j->out + ((c0 + q) * g->cs + gi * csg) * P * es), j->acc,
                            j->bias ? (const void *)(j->bias + gi * csg * es) : NULL);
            }
        }
    }
}

/*
 * conv2d's backward on the pixel-major path, blk samples at a time:
 * dyt (nb P, csg) = dy of the samples transposed (once for both
 * products); dW^T += col^T dyt (k = nb P), then dcol (nb P, K) = dyt W in
 * the same col buffer, scattered back sample by sample.
 */
static void bwd_task(void *ctx, size_t lo, size_t hi)
{
    const conv_job *j = ctx;
    const adj_conv_geom *g = j->g;
    const size_t es = j->es, K = j->K, P = j->P, csg = j->csg;
    for (size_t t = lo; t < hi; t++) {
        const size_t n0 = t * g->n / j->ntask, n1 = (t + 1) * g->n / j->ntask;
        char *col = j->scratch + t * j->per_task;
        char *xt = col + j->blk * P * K * es, *xs = xt + j->xtn * es;
        char *flat = xt + j->xpad * es, *dyt = xs + j->xpad * es;
        char *part = j->scratch + t * j->per_task + j->part_off;
        memset(xt, 0, j->xpad * es); /* the padding border stays zero */
        for (size_t c0 = n0; c0 < n1; c0 += j->blk) {
            const size_t nb = n1 - c0 < j->blk ? n1 - c0 : j->blk;
            for (size_t gi = 0; gi < g->groups; gi++) {
                for (size_t q = 0; q < nb; q++)
                    BY_TYPE(j->dtype, tr, (const void *)(j->in + ((c0 + q) * g->cs + gi * csg) * P * es),
                            P, (void *)(dyt + q * P * csg * es), csg, csg, P, TR_COPY, NULL);
                if (j->out) {
                    for (size_t q = 0; q < nb; q++) {
                        const char *b = j->in2 + ((c0 + q) * g->cb + gi * j->cbg) * j->bplane * es;
                        BY_TYPE(j->dtype, pad_t, g, j->cbg, (const void *)b, (void *)xt, (void *)flat);
                        BY_TYPE(j->dtype, colt, g, j->cbg, (void *)xt, (void *)(col + q * P * K * es),
                                false);
                    }
                    gemm(j->dtype, csg, K, nb * P, dyt, 1, csg, col, K, 1, 1.0,
                         part + gi * K * csg * es, 1, csg);
                }
                if (j->bout) {
                    gemm(j->dtype, nb * P, K, csg, dyt, csg, 1, j->w + gi * csg * K * es, K, 1, 0.0,
                         col, K, 1);
                    for (size_t q = 0; q < nb; q++) {
                        char *b = j->bout + ((c0 + q) * g->cb + gi * j->cbg) * j->bplane * es;
                        memset(xs, 0, j->xpad * es);
                        BY_TYPE(j->dtype, colt, g, j->cbg, (void *)xs, (void *)(col + q * P * K * es),
                                true);
                        BY_TYPE(j->dtype, unpad_add, g, j->cbg, (const void *)xs, (void *)b,
                                (void *)flat);
                    }
                }
            }
        }
    }
}

/* Index in the weight (Cs, cbg, kh, kw) of row k of col (its own order). */
static size_t korig(const conv_job *j, size_t k)
{
    if (!j->colt)
        return k;
    const size_t c = k % j->cbg, ij = k / j->cbg;
    return c * j->g->kh * j->g->kw + ij;
}

static bool run(adj_tape *t, int kind, int dtype, const adj_conv_geom *g, const void *in,
                const void *in2, const void *w, void *out, bool acc, const void *bias, void *bout)
{
    conv_job j = {.kind = kind, .dtype = dtype, .g = g, .es = adj_dsize(dtype), .acc = acc,
                  .in = in, .in2 = in2, .w = w, .bias = acc ? NULL : bias, .out = out,
                  .bout = bout};
    j.cbg = g->cb / g->groups;
    j.csg = g->cs / g->groups;
    j.K = j.cbg * g->kh * g->kw;
    j.P = g->hs * g->ws;
    j.bplane = g->hb * g->wb;
    j.direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 &&
               g->pw == 0 && g->hs == g->hb && g->ws == g->wb;
    j.colt = !j.direct && j.cbg >= COLT_MIN_C;
    if (g->n == 0)
        return true;
    const size_t es = j.es, K = j.K, wsz = g->cs * K;
    size_t macs = g->n * g->cs * K * j.P, threads = (size_t)adj_threads();
    j.ntask = macs >= PAR_CONV_MACS && threads > 1 ? (threads < g->n ? threads : g->n) : 1;
    j.xpad = j.colt ? (g->hb + 2 * (size_t)g->ph) * (g->wb + 2 * (size_t)g->pw) * j.cbg : 0;
    j.xtn = j.colt ? j.xpad + j.cbg * j.bplane : 0;
    j.blk = K * j.P * es > 0 ? BLOCK_BYTES / (K * j.P * es) : BWD_BLOCK;
    j.blk = j.blk < 1 ? 1 : j.blk > BWD_BLOCK ? BWD_BLOCK : j.blk;
    if (kind == BWD) { /* col (blk samples), xt, xs, dyt, dW^T */
        j.part_off = (j.blk * K * j.P + j.xtn + j.xpad + j.blk * j.P * j.csg) * es;
        j.per_task = j.part_off + wsz * es;
    } else if (kind == DOWN && j.colt) { /* col (blk samples), xt, tmp */
        j.part_off = 0;
        j.per_task = (j.blk * K * j.P + j.xtn + j.blk * j.P * j.csg) * es;
    } else {
        j.part_off = ((j.direct ? 0 : K * j.P) + j.xtn) * es;
        j.per_task = j.part_off + (kind == DOWN ? j.P * j.csg * es : kind == WGRAD ? wsz * es : 0);
    }
    j.per_task = (j.per_task + 63) & ~(size_t)63;
    j.scratch = adj_arena_alloc(t, j.ntask * j.per_task + (j.colt ? wsz * es : 0));
    if (!j.scratch)
        return false;
    const bool dw = kind == WGRAD || (kind == BWD && out);
    if (j.colt && kind != WGRAD && w) { /* the weight in col's (i, j, c) order */
        char *wk = j.scratch + j.ntask * j.per_task;
        for (size_t o = 0; o < g->cs; o++)
            for (size_t k = 0; k < K; k++)
                memcpy(wk + (o * K + k) * es, (const char *)w + (o * K + korig(&j, k)) * es, es);
        j.w = wk;
    }
    if (dw)
        for (size_t k = 0; k < j.ntask; k++)
            memset(j.scratch + k * j.per_task + j.part_off, 0, wsz * es);
    adj_range_fn fn = kind == BWD ? bwd_task : kind == DOWN && j.colt ? fwd_task : conv_task;
    if (j.ntask > 1)
        adj_par_tasks(j.ntask, fn, &j);
    else
        fn(&j, 0, 1);
    if (dw) { /* dw[o, korig(k)] += sum over tasks, in task order, of dW^T[k, o] */
        const size_t off = j.part_off;
        for (size_t gi = 0; gi < g->groups; gi++)
            for (size_t k = 0; k < K; k++)
                for (size_t o = 0; o < j.csg; o++) {
                    const size_t at = (gi * K + k) * j.csg + o;
                    const size_t to = (gi * j.csg + o) * K + korig(&j, k);
                    if (dtype == ADJ_F64) {
                        double v = 0;
                        for (size_t q = 0; q < j.ntask; q++)
                            v += ((const double *)(j.scratch + q * j.per_task + off))[at];
                        ((double *)out)[to] += v;
                    } else {
                        float v = 0;
                        for (size_t q = 0; q < j.ntask; q++)
                            v += ((const float *)(j.scratch + q * j.per_task + off))[at];
                        ((float *)out)[to] += v;
                    }
                }
    }
    return true;
}

bool adj_conv_down(adj_tape *t, int dtype, const adj_conv_geom *g, const void *b, const void *w,
                   void *s, bool acc, const void *bias)
{
    if (adj_conv_direct_ok(dtype, g))
        return adj_conv_direct_down(t, g, b, w, s, acc, bias);
    return run(t, DOWN, dtype, g, b, NULL, w, s, acc, bias, NULL);
}

bool adj_conv_up(adj_tape *t, int dtype, const adj_conv_geom *g, const void *s, const void *w,
                 void *b)
{
    return run(t, UP, dtype, g, s, NULL, w, b, true, NULL, NULL);
}

bool adj_conv_wgrad(adj_tape *t, int dtype, const adj_conv_geom *g, const void *s, const void *b,
                    void *dw)
{
    return run(t, WGRAD, dtype, g, s, b, NULL, dw, true, NULL, NULL);
}

bool adj_conv_backward(adj_tape *t, int dtype, const adj_conv_geom *g, const void *s,
                       const void *b, const void *w, void *db, void *dw, void *dbias)
{
    if (adj_conv_direct_ok(dtype, g))
        return adj_conv_direct_backward(t, g, s, b, w, db, dw, dbias);
    const size_t cbg = g->cb / g->groups;
    const bool direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 &&
                        g->pw == 0 && g->hs == g->hb && g->ws == g->wb;
    if (direct || cbg < COLT_MIN_C) /* no pixel-major col: the two products apart */
        return (!db || run(t, UP, dtype, g, s, NULL, w, db, true, NULL, NULL)) &&
               (!dw || run(t, WGRAD, dtype, g, s, b, NULL, dw, true, NULL, NULL));
    return !(db || dw) || run(t, BWD, dtype, g, s, b, db ? w : NULL, dw, true, NULL, db);
}
