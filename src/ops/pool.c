/*
 * Pooling over NCHW planes: max_pool2d, avg_pool2d, adaptive_avg_pool2d.
 *
 * Every (n, c) plane is independent: the planes are split over the worker
 * pool and each is computed by one thread in a fixed order, so the
 * results (and the adjoints, which scatter only within a plane) have the
 * same bits for any thread count.  max_pool2d keeps the position of each
 * window's maximum (an i32 per output element, in the arena) for backward
 * and the tangent.
 */
#include "core/pool.h"
#include "ops/decompose.h"
#include "ops/dispatch.h"
#include "ops/op.h"
#include "ops/pool22.h"
#include "adjoint/conv.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#if ADJ_VM_DISPATCH
#include <immintrin.h>
#endif

typedef struct pool_attr {
    int32_t k[2], s[2], p[2]; /* kernel, stride, padding; adaptive: k = output size */
    int32_t no_opts;          /* the options pointer was NULL */
    int32_t *arg;             /* max_pool2d: the maximum's position in its plane (2x2
                               * stride 2: one byte per output, see mp22_run) */
} pool_attr;

enum { MAXP, AVGP, ADAPT };

static adj_status pool_shape_kind(adj_var *y, int kind, char *why, size_t n)
{
    const pool_attr *a = ADJ_ATTR(y, pool_attr);
    const adj_var *x = y->in[0];
    if (a->no_opts) {
        snprintf(why, n, "opts is NULL (the kernel, stride and padding are required)");
        return ADJ_EINVAL;
    }
    if (x->ndim != 4) {
        snprintf(why, n, "x must be 4-D (N,C,H,W)");
        return ADJ_ESHAPE;
    }
    y->ndim = 4;
    memcpy(adj_cold(y)->shape, adj_cold(x)->shape, 2 * sizeof(int64_t));
    for (int k = 0; k < 2; k++) {
        const int64_t in = adj_cold(x)->shape[2 + k];
        if (kind == ADAPT) {
            if (a->k[k] < 1) {
                snprintf(why, n, "the output size (%d, %d) must be >= 1", (int)a->k[0], (int)a->k[1]);
                return ADJ_EINVAL;
            }
            if (in < 1) {
                snprintf(why, n, "the input has an empty plane");
                return ADJ_ESHAPE;
            }
            adj_cold(y)->shape[2 + k] = a->k[k];
            continue;
        }
        if (a->k[k] < 1 || a->s[k] < 1 || a->p[k] < 0 || a->p[k] > a->k[k] / 2) {
            snprintf(why, n, "kernel %d and stride %d must be >= 1, 0 <= padding %d <= kernel / 2",
                     (int)a->k[k], (int)a->s[k], (int)a->p[k]);
            return ADJ_EINVAL;
        }
        if (in + 2 * (int64_t)a->p[k] < a->k[k]) {
            snprintf(why, n, "the kernel (%d) is larger than the padded input (%lld)", (int)a->k[k],
                     (long long)(in + 2 * (int64_t)a->p[k]));
            return ADJ_ESHAPE;
        }
        adj_cold(y)->shape[2 + k] = (in + 2 * (int64_t)a->p[k] - a->k[k]) / a->s[k] + 1;
    }
    return ADJ_OK;
}

static adj_status maxp_shape(adj_var *y, char *why, size_t n) { return pool_shape_kind(y, MAXP, why, n); }
static adj_status avgp_shape(adj_var *y, char *why, size_t n) { return pool_shape_kind(y, AVGP, why, n); }
static adj_status adapt_shape(adj_var *y, char *why, size_t n) { return pool_shape_kind(y, ADAPT, why, n); }

/* The window of output row (or column) o: [*lo, *hi) of the input, clipped
 * to it, and its divisor's factor (avg: the kernel, padding included). */
static void window(const pool_attr *a, int kind, int k, int64_t o, int64_t in, int64_t *lo,
                   int64_t *hi, int64_t *div)
{
    if (kind == ADAPT) {
        const int64_t out = a->k[k];
        *lo = o * in / out;
        *hi = ((o + 1) * in + out - 1) / out;
        *div = *hi - *lo;
        return;
    }
    int64_t start = o * a->s[k] - a->p[k];
    *lo = start < 0 ? 0 : start;
    *hi = start + a->k[k] < in ? start + a->k[k] : in;
    *div = a->k[k];
}

typedef struct pool_job {
    const adj_var *y;
    int kind;
    const void *src;  /* forward: x (or its tangent); backward: dy */
    void *dst;        /* forward: y (or ty); backward: dx */
    bool bwd;
    bool find;        /* max_pool2d forward: find the maxima of src */
} pool_job;

/* The first maximum of each window, a NaN counting as the maximum; the
 * comparisons select without branching (random data would mispredict
 * half of them). */
#define MAXP_FWD(T)                                                            \
    do {                                                                       \
        const T *xp = (const T *)j->src + pl * H * W;                          \
        T *yp = (T *)j->dst + pl * Ho * Wo;                                    \
        for (int64_t oh = 0; oh < Ho; oh++) {                                  \
            int64_t h0, h1, dh;                                                \
            window(a, MAXP, 0, oh, H, &h0, &h1, &dh);                          \
            for (int64_t ow = 0; ow < Wo; ow++) {                              \
                int64_t w0, w1, dw_;                                           \
                window(a, MAXP, 1, ow, W, &w0, &w1, &dw_);                     \
                int32_t best = (int32_t)(h0 * W + w0);                         \
                T m = xp[best];                                                \
                for (int64_t h = h0; h < h1; h++)                              \
                    for (int64_t w = w0; w < w1; w++) {                        \
                        const int32_t i = (int32_t)(h * W + w);                \
                        const T v = xp[i];                                     \
                        const int take = (v > m) | ((v != v) & (m == m));      \
                        m = take ? v : m;                                      \
                        best = take ? i : best;                                \
                    }                                                          \
                yp[oh * Wo + ow] = m;                                          \
                arg[oh * Wo + ow] = best;                                      \
            }                                                                  \
        }                                                                      \
    } while (0)

#define MAXP_APPLY(T)                                                          \
    do {                                                                       \
        const T *sp = (const T *)j->src + (j->bwd ? pl * Ho * Wo : pl * H * W); \
        T *dp = (T *)j->dst + (j->bwd ? pl * H * W : pl * Ho * Wo);            \
        for (int64_t o = 0; o < Ho * Wo; o++) {                                \
            if (j->bwd)                                                        \
                dp[arg[o]] += sp[o];                                           \
            else                                                               \
                dp[o] = sp[arg[o]];                                            \
        }                                                                      \
    } while (0)

#define AVG(T)                                                                 \
    do {                                                                       \
        const T *sp = (const T *)j->src + (j->bwd ? pl * Ho * Wo : pl * H * W); \
        T *dp = (T *)j->dst + (j->bwd ? pl * H * W : pl * Ho * Wo);            \
        for (int64_t oh = 0; oh < Ho; oh++) {                                  \
            int64_t h0, h1, dh;                                                \
            window(a, j->kind, 0, oh, H, &h0, &h1, &dh);                       \
            for (int64_t ow = 0; ow < Wo; ow++) {                              \
                int64_t w0, w1, dw_;                                           \
                window(a, j->kind, 1, ow, W, &w0, &w1, &dw_);                  \
                const double inv = 1.0 / (double)(dh * dw_);                   \
                if (j->bwd) {                                                  \
                    const T g = (T)(sp[oh * Wo + ow] * inv);                   \
                    for (int64_t h = h0; h < h1; h++)                          \
                        for (int64_t w = w0; w < w1; w++)                      \
                            dp[h * W + w] += g;                                \
                } else {                                                       \
                    double s = 0;                                              \
                    for (int64_t h = h0; h < h1; h++)                          \
                        for (int64_t w = w0; w < w1; w++)                      \
                            s += sp[h * W + w];                                \
                    dp[oh * Wo + ow] = (T)(s * inv);                           \
                }                                                              \
            }                                                                  \
        }                                                                      \
    } while (0)

/*
 * The 2x2 kernels are bound by memory, and two things bring them near
 * the bandwidth of a copy (bench_conv pool: forward 1.45 -> 0.85 ms,
 * backward 1.50 -> 1.00 ms on (64, 32, 28, 28)):
 *   - each output row prefetches the input MP22_AHEAD bytes ahead (the
 *     hardware prefetcher alone left the forward waiting on its loads);
 *   - a backward that stores a fresh dx of at least MP22_STREAM_BYTES
 *     (past what a core's cache keeps) writes each plane of at most
 *     MP22_STREAM_MAX bytes into a buffer on the stack and streams it out
 *     (stream_copy): a plain store first reads every line it fills.
 */
#define MP22_AHEAD 2048
#define MP22_STREAM_MAX ((size_t)16 << 10)
#define MP22_STREAM_BYTES ((size_t)4 << 20)

/*
 * 2x2 windows, stride 2, no padding (the common case), on its own: the
 * forward keeps one byte per output, the maximum's place in its window
 * (0, 1 the first row, 2, 3 the second), found eight outputs at a time
 * (MP22_FWD8) or with the NaN-aware comparisons; the backward writes each window's four
 * adjoints at once (stored when the op is the first to reach dx, with the
 * odd last row and column zeroed), and the tangent reads the place back.
 * Compiled per CPU level (ops/dispatch.h): selects only, the same bits.
 * On AVX-512 the float forward and fresh backward are ops/pool22.c's
 * masked kernels of sixteen windows a chunk instead (no scalar tail, no
 * branch on NaN; bench_conv pool 2x2 forward 0.65 -> 0.30 ms, backward
 * 0.61 -> 0.36 ms CPU).
 */
static bool is22(const pool_attr *a)
{
    return a->k[0] == 2 && a->k[1] == 2 && a->s[0] == 2 && a->s[1] == 2 && a->p[0] == 0 &&
           a->p[1] == 0;
}

typedef struct mp22_job {
    const void *src;      /* forward: x; backward: dy; tangent: tx */
    void *dst;            /* forward: y; backward: dx; tangent: ty */
    uint8_t *code;
    int64_t H, W, Ho, Wo;
    int mode;             /* 0 forward, 1 backward (add), 2 backward (store), 3 tangent */
    bool f64;
    bool stream;          /* write each plane through plane_buf and stream_copy */
} mp22_job;

#define MP22_TAKE(T, m, c, v, k)                                               \
    do {                                                                       \
        const T v_ = (v);                                                      \
        const int t_ = (v_ > m) | ((v_ != v_) & (m == m));                     \
        m = t_ ? v_ : m;                                                       \
        c = t_ ? (uint8_t)(k) : c;                                             \
    } while (0)

#define MP22_GT(T, m, c, v, k)                                                 \
    do {                                                                       \
        const T v_ = (v);                                                      \
        const int t_ = v_ > m;                                                 \
        m = t_ ? v_ : m;                                                       \
        c = t_ ? (uint8_t)(k) : c;                                             \
    } while (0)

/*
 * Eight outputs at once with vector types (GCC, Clang): the two rows of
 * sixteen inputs split into the windows' four corners, compared and
 * selected lane by lane as the scalar code does; a chunk holding a NaN
 * window goes through the scalar code.  V is the dtype's 8-lane vector, I
 * the integer vector its comparisons give.
 */
#if defined(__GNUC__) || defined(__clang__)
#define MP22_VEC 1
typedef float mp22_vfloat __attribute__((vector_size(32)));
typedef int32_t mp22_ifloat __attribute__((vector_size(32)));
typedef double mp22_vdouble __attribute__((vector_size(64)));
typedef int64_t mp22_idouble __attribute__((vector_size(64)));
typedef uint8_t mp22_codes __attribute__((vector_size(8)));
#define MP22_EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define MP22_ODD 1, 3, 5, 7, 9, 11, 13, 15
#define MP22_LO 0, 8, 1, 9, 2, 10, 3, 11
#define MP22_HI 4, 12, 5, 13, 6, 14, 7, 15
#define MP22_SEL(V, I, t, x, y) ((V)(((I)(x) & (t)) | ((I)(y) & ~(t))))

/* forward of outputs [ow, ow + 8) of a row; false if a window has a NaN */
#define MP22_FWD8(T, ok)                                                       \
    do {                                                                       \
        typedef mp22_v##T V;                                                   \
        typedef mp22_i##T I;                                                   \
        V p0, p1, q0, q1;                                                      \
        memcpy(&p0, r0 + 2 * ow, sizeof p0);                                   \
        memcpy(&p1, r0 + 2 * ow + 8, sizeof p1);                               \
        memcpy(&q0, r1 + 2 * ow, sizeof q0);                                   \
        memcpy(&q1, r1 + 2 * ow + 8, sizeof q1);                               \
        const V a0 = __builtin_shufflevector(p0, p1, MP22_EVEN);               \
        const V a1 = __builtin_shufflevector(p0, p1, MP22_ODD);                \
        const V b0 = __builtin_shufflevector(q0, q1, MP22_EVEN);               \
        const V b1 = __builtin_shufflevector(q0, q1, MP22_ODD);                \
        const V all = (a0 + a1) + (b0 + b1);                                   \
        const I nan = all != all;                                              \
        uint64_t nw_[sizeof nan / 8], any_ = 0;                                \
        memcpy(nw_, &nan, sizeof nan);                                         \
        for (size_t l = 0; l < sizeof nan / 8; l++)                            \
            any_ |= nw_[l];                                                    \
        (ok) = any_ == 0;                                                      \
        if (ok) {                                                              \
            I t = a1 > a0;                                                     \
            V m = MP22_SEL(V, I, t, a1, a0);                                   \
            I k = t & 1;                                                       \
            t = b0 > m;                                                        \
            m = MP22_SEL(V, I, t, b0, m);                                      \
            k = (t & 2) | (k & ~t);                                            \
            t = b1 > m;                                                        \
            m = MP22_SEL(V, I, t, b1, m);                                      \
            k = (t & 3) | (k & ~t);                                            \
            memcpy(yr + ow, &m, sizeof m);                                     \
            const mp22_codes kc = __builtin_convertvector(k, mp22_codes);      \
            memcpy(c + ow, &kc, sizeof kc);                                    \
        }                                                                      \
    } while (0)

/* backward of outputs [ow, ow + 8): the four corners' adjoints, stored or
 * added (STORE 1 or 0) */
#define MP22_BWD8(T, STORE)                                                    \
    do {                                                                       \
        typedef mp22_v##T V;                                                   \
        typedef mp22_i##T I;                                                   \
        V v;                                                                   \
        memcpy(&v, g + ow, sizeof v);                                          \
        mp22_codes kc_;                                                        \
        memcpy(&kc_, c + ow, sizeof kc_);                                      \
        const I k = __builtin_convertvector(kc_, I);                           \
        const V v0 = (V)((I)v & (k == 0)), v1 = (V)((I)v & (k == 1));         \
        const V v2 = (V)((I)v & (k == 2)), v3 = (V)((I)v & (k == 3));         \
        V o[4] = {__builtin_shufflevector(v0, v1, MP22_LO),                    \
                  __builtin_shufflevector(v0, v1, MP22_HI),                    \
                  __builtin_shufflevector(v2, v3, MP22_LO),                    \
                  __builtin_shufflevector(v2, v3, MP22_HI)};                   \
        T *dst4[4] = {r0 + 2 * ow, r0 + 2 * ow + 8, r1 + 2 * ow, r1 + 2 * ow + 8}; \
        for (int q = 0; q < 4; q++) {                                          \
            if (!(STORE)) {                                                    \
                V d;                                                           \
                memcpy(&d, dst4[q], sizeof d);                                 \
                o[q] += d;                                                     \
            }                                                                  \
            memcpy(dst4[q], &o[q], sizeof o[q]);                               \
        }                                                                      \
    } while (0)
#else
#define MP22_VEC 0
#endif

#define MP22_PLANES(T, STREAM)                                                 \
    do {                                                                       \
        const int64_t H = j->H, W = j->W, Ho = j->Ho, Wo = j->Wo;              \
        const bool back = j->mode == 1 || j->mode == 2;                        \
        const size_t pbytes_ = (size_t)(H * W) * sizeof(T);                    \
        const bool via = STREAM && j->stream && pbytes_ <= MP22_STREAM_MAX;    \
        for (size_t pl = lo; pl < hi; pl++) {                                  \
            uint8_t *cp = j->code + pl * (size_t)(Ho * Wo);                    \
            const T *xs = (const T *)j->src + pl * (size_t)(back ? Ho * Wo : H * W); \
            T *const to = (T *)j->dst + pl * (size_t)(back ? H * W : Ho * Wo); \
            T *ds = via ? (T *)(void *)plane_buf : to;                         \
            for (int64_t oh = 0; oh < Ho; oh++) {                              \
                uint8_t *c = cp + oh * Wo;                                     \
                int64_t ow = 0;                                                \
                if (j->mode == 0) {                                            \
                    const T *r0 = xs + 2 * oh * W, *r1 = r0 + W;               \
                    T *yr = ds + oh * Wo;                                      \
                    for (int64_t f_ = 0; f_ < 2 * W; f_ += 64 / (int64_t)sizeof(T)) \
                        __builtin_prefetch(r0 + MP22_AHEAD / sizeof(T) + f_);   \
                    /* chunks of 8, the last one overlapping the one       \
                     * before (the same outputs written again) */          \
                    for (; MP22_VEC && Wo >= 8 && ow < Wo; ow += 8) {          \
                        if (ow + 8 > Wo)                                       \
                            ow = Wo - 8;                                       \
                        bool ok_;                                              \
                        MP22_FWD8(T, ok_);                                     \
                        if (!ok_)                                              \
                            break;                                             \
                    }                                                          \
                    for (; ow < Wo; ow++) {                                    \
                        const T a0 = r0[2 * ow], a1 = r0[2 * ow + 1];          \
                        const T b0 = r1[2 * ow], b1 = r1[2 * ow + 1];          \
                        T m = a0;                                              \
                        uint8_t k = 0;                                         \
                        const T all = (a0 + a1) + (b0 + b1);                   \
                        if (all == all) {                                      \
                            MP22_GT(T, m, k, a1, 1);                           \
                            MP22_GT(T, m, k, b0, 2);                           \
                            MP22_GT(T, m, k, b1, 3);                           \
                        } else {                                               \
                            MP22_TAKE(T, m, k, a1, 1);                         \
                            MP22_TAKE(T, m, k, b0, 2);                         \
                            MP22_TAKE(T, m, k, b1, 3);                         \
                        }                                                      \
                        yr[ow] = m;                                            \
                        c[ow] = k;                                             \
                    }                                                          \
                } else if (j->mode == 3) {                                     \
                    const T *r0 = xs + 2 * oh * W, *r1 = r0 + W;               \
                    T *yr = ds + oh * Wo;                                      \
                    for (; ow < Wo; ow++) {                                    \
                        const uint8_t k = c[ow];                               \
                        yr[ow] = (k & 2 ? r1 : r0)[2 * ow + (k & 1)];          \
                    }                                                          \
                } else {                                                       \
                    const T *g = xs + oh * Wo;                                 \
                    T *r0 = ds + 2 * oh * W, *r1 = r0 + W;                     \
                    __builtin_prefetch(g + MP22_AHEAD / sizeof(T));            \
                    __builtin_prefetch(c + MP22_AHEAD / 4);                    \
                    if (j->mode == 2) {                                        \
                        for (; MP22_VEC && Wo >= 8 && ow < Wo; ow += 8) {      \
                            if (ow + 8 > Wo)                                   \
                                ow = Wo - 8; /* stores again: same values */   \
                            MP22_BWD8(T, 1);                                   \
                        }                                                      \
                        for (; ow < Wo; ow++) {                                \
                            const T v = g[ow];                                 \
                            const uint8_t k = c[ow];                           \
                            r0[2 * ow] = k == 0 ? v : (T)0;                    \
                            r0[2 * ow + 1] = k == 1 ? v : (T)0;                \
                            r1[2 * ow] = k == 2 ? v : (T)0;                    \
                            r1[2 * ow + 1] = k == 3 ? v : (T)0;                \
                        }                                                      \
                        if (W & 1)                                             \
                            r0[W - 1] = r1[W - 1] = 0;                         \
                    } else {                                                   \
                        for (; MP22_VEC && ow + 8 <= Wo; ow += 8)              \
                            MP22_BWD8(T, 0);                                   \
                        for (; ow < Wo; ow++)                                  \
                            (c[ow] & 2 ? r1 : r0)[2 * ow + (c[ow] & 1)] += g[ow]; \
                    }                                                          \
                }                                                              \
            }                                                                  \
            if (j->mode == 2 && (H & 1))                                       \
                memset(ds + (H - 1) * W, 0, (size_t)W * sizeof(T));            \
            if (via)                                                           \
                stream_copy(to, ds, pbytes_);                                  \
        }                                                                      \
    } while (0)

#define MP22_LEVEL(sfx, ATTR, STREAM)                                          \
    ATTR static void mp22_planes_##sfx(void *ctx, size_t lo, size_t hi)        \
    {                                                                          \
        const mp22_job *j = ctx;                                               \
        _Alignas(64) unsigned char plane_buf[STREAM ? MP22_STREAM_MAX : 64];   \
        if (j->f64)                                                            \
            MP22_PLANES(double, STREAM);                                       \
        else                                                                   \
            MP22_PLANES(float, STREAM);                                        \
        if (STREAM && j->stream)                                               \
            stream_fence();                                                    \
    }
/* the base level never streams: these only keep it compiling */
static inline void stream_copy_none(void *to, const void *from, size_t n) { memcpy(to, from, n); }
static inline void stream_fence_none(void) {}
#define stream_copy stream_copy_none
#define stream_fence stream_fence_none
MP22_LEVEL(base, , 0)
#undef stream_copy
#undef stream_fence
#if ADJ_VM_DISPATCH
/*
 * n bytes from an L1-resident buffer to memory that is written and not
 * read again soon, with non-temporal stores for the whole 32-byte
 * blocks: the lines are not first read for ownership (a third of the
 * traffic of a plain store).  The caller fences once after its planes.
 */
ADJ_VM_TGT_AVX2 static void stream_copy_avx2(void *to, const void *from, size_t n)
{
    char *d = to;
    const char *s = from;
    const size_t head = (size_t)(-(uintptr_t)d & 31);
    if (head >= n) {
        memcpy(d, s, n);
        return;
    }
    memcpy(d, s, head);
    size_t i = head;
    for (; i + 32 <= n; i += 32)
        _mm256_stream_si256((__m256i *)(void *)(d + i),
                            _mm256_loadu_si256((const __m256i *)(const void *)(s + i)));
    memcpy(d + i, s + i, n - i);
}
ADJ_VM_TGT_AVX2 static void stream_fence_avx2(void) { _mm_sfence(); }
#define stream_copy stream_copy_avx2
#define stream_fence stream_fence_avx2
MP22_LEVEL(avx2, ADJ_VM_TGT_AVX2, 1)
MP22_LEVEL(avx512, ADJ_VM_TGT_AVX512, 1)
#undef stream_copy
#undef stream_fence

/* float forward and fresh backward on AVX-512 (ops/pool22.c), plane by plane */
static void mp22_planes_f32_avx512(void *ctx, size_t lo, size_t hi)
{
    const mp22_job *j = ctx;
    const int64_t H = j->H, W = j->W, Ho = j->Ho, Wo = j->Wo;
    const size_t pin = (size_t)(H * W), pout = (size_t)(Ho * Wo);
    _Alignas(64) unsigned char buf[MP22_STREAM_MAX];
    const bool via = j->stream && pin * sizeof(float) <= MP22_STREAM_MAX;
    for (size_t pl = lo; pl < hi; pl++) {
        if (j->mode == 0) {
            adj_mp22_fwd_f32_avx512((const float *)j->src + pl * pin, (float *)j->dst + pl * pout,
                                    j->code + pl * pout, H, W, Ho, Wo);
            continue;
        }
        float *to = (float *)j->dst + pl * pin;
        adj_mp22_bwd_f32_avx512((const float *)j->src + pl * pout, j->code + pl * pout,
                                via ? (float *)(void *)buf : to, H, W, Ho, Wo);
        if (via)
            stream_copy_avx2(to, buf, pin * sizeof(float));
    }
    if (via)
        stream_fence_avx2();
}
#endif

static void mp22_planes(void *ctx, size_t lo, size_t hi)
{
#if ADJ_VM_DISPATCH
    const int l = adj_vm_level();
    const mp22_job *j = ctx;
    if (l == ADJ_VM_AVX512 && !j->f64 && (j->mode == 0 || j->mode == 2))
        mp22_planes_f32_avx512(ctx, lo, hi);
    else if (l == ADJ_VM_AVX512 && j->Wo >= 16)
        mp22_planes_avx512(ctx, lo, hi);
    else if (l >= ADJ_VM_AVX2)
        mp22_planes_avx2(ctx, lo, hi);
    else
#endif
        mp22_planes_base(ctx, lo, hi);
}

#define MP22_ONE_THREAD ((size_t)1 << 22)

static void mp22_run(const adj_var *y, const void *src, void *dst, int mode)
{
    const adj_var *x = y->in[0];
    mp22_job j = {src, dst, (uint8_t *)ADJ_ATTR(y, pool_attr)->arg, adj_cold(x)->shape[2],
                  adj_cold(x)->shape[3], adj_cold(y)->shape[2], adj_cold(y)->shape[3], mode,
                  y->dtype == ADJ_F64, false};
    const size_t planes = (size_t)(adj_cold(y)->shape[0] * adj_cold(y)->shape[1]);
    j.stream = mode == 2 && adj_cold(x)->numel * adj_dsize(y->dtype) >= MP22_STREAM_BYTES;
    const size_t per = (size_t)(j.H * j.W) + 1;
    /* one pass over memory with a comparison per element: below
     * MP22_ONE_THREAD input elements a second thread's start-up and the
     * shared memory bus cost more CPU time than it saves */
    if (planes * per < MP22_ONE_THREAD)
        mp22_planes(&j, 0, planes);
    else
        adj_par_for(planes, ADJ_PAR_GRAIN_MAP / per + 1, mp22_planes, &j);
}

/* planes [lo, hi) */
static void pool_planes(void *ctx, size_t lo, size_t hi)
{
    const pool_job *j = ctx;
    const adj_var *y = j->y;
    const pool_attr *a = ADJ_ATTR(y, pool_attr);
    const int64_t H = adj_cold(y->in[0])->shape[2], W = adj_cold(y->in[0])->shape[3];
    const int64_t Ho = adj_cold(y)->shape[2], Wo = adj_cold(y)->shape[3];
    const bool f64 = y->dtype == ADJ_F64;
    for (size_t pl = lo; pl < hi; pl++) {
        int32_t *arg = a->arg ? a->arg + pl * (size_t)(Ho * Wo) : NULL;
        if (j->find) {
            if (f64)
                MAXP_FWD(double);
            else
                MAXP_FWD(float);
        } else if (j->kind == MAXP) {
            if (f64)
                MAXP_APPLY(double);
            else
                MAXP_APPLY(float);
        } else if (f64) {
            AVG(double);
        } else {
            AVG(float);
        }
    }
}

static void run_planes(const adj_var *y, int kind, const void *src, void *dst, bool bwd, bool find)
{
    pool_job j = {y, kind, src, dst, bwd, find};
    const size_t planes = (size_t)(adj_cold(y)->shape[0] * adj_cold(y)->shape[1]);
    const size_t per = adj_cold(y->in[0])->numel / (planes ? planes : 1) + 1;
    adj_par_for(planes, ADJ_PAR_GRAIN_MAP / per + 1, pool_planes, &j);
}

static void maxp_forward(adj_var *y)
{
    pool_attr *a = ADJ_ATTR(y, pool_attr);
    const bool k22 = is22(a);
    /* 2x2: one byte per output (mp22_run); else the int32 position */
    a->arg = adj_arena_alloc(adj_node_tape(y),
                             adj_cold(y)->numel * (k22 ? 1 : sizeof(int32_t)) + 1);
    if (!a->arg)
        return;
    if (k22)
        mp22_run(y, y->in[0]->value, y->value, 0);
    else
        run_planes(y, MAXP, y->in[0]->value, y->value, false, true);
}

/* dx[arg] += dy */
static void maxp_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    if (!(x->flags & ADJ_F_GRAD))
        return;
    if (is22(ADJ_ATTR(y, pool_attr))) {
        bool fresh = false;
        void *gx = adj_grad_buf_fresh(x, &fresh);
        if (gx)
            mp22_run(y, y->grad, gx, fresh ? 2 : 1);
        return;
    }
    void *gx = adj_grad_buf(x);
    if (gx)
        run_planes(y, MAXP, y->grad, gx, true, false);
}

/* tangent: dy = dx[arg] */
static void maxp_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    if (is22(ADJ_ATTR(y, pool_attr)))
        mp22_run(y, tx[0], ty, 3);
    else
        run_planes(y, MAXP, tx[0], ty, false, false);
}

static int avg_kind(const adj_var *y) { return y->op == ADJ_OP_AVG_POOL2D ? AVGP : ADAPT; }

static void avg_forward(adj_var *y) { run_planes(y, avg_kind(y), y->in[0]->value, y->value, false, false); }

static void avg_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    if (!(x->flags & ADJ_F_GRAD))
        return;
    void *gx = adj_grad_buf(x);
    if (gx)
        run_planes(y, avg_kind(y), y->grad, gx, true, false);
}

static void avg_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    run_planes(y, avg_kind(y), tx[0], ty, false, false);
}

/* ------------------------------------------------------------ the cases */

static const pool_attr p_k2 = {{2, 2}, {2, 2}, {0, 0}, 0, NULL};
static const pool_attr p_k32 = {{3, 2}, {2, 1}, {1, 1}, 0, NULL};
static const pool_attr p_k3p1 = {{3, 3}, {1, 1}, {1, 1}, 0, NULL};
static const pool_attr p_k13 = {{1, 3}, {1, 2}, {0, 1}, 0, NULL};
static const adj_op_case pool_cases[] = {
    {1, {4}, {{2, 2, 4, 4}}, &p_k2, " 2x2 stride 2"},
    {1, {4}, {{1, 2, 5, 5}}, &p_k32, " 3x2, stride (2,1), padding 1"},
    {1, {4}, {{1, 1, 3, 3}}, &p_k3p1, " 3x3 stride 1 padding 1, batch 1"},
    {1, {4}, {{2, 1, 3, 4}}, &p_k13, " 1x3, stride (1,2), padding (0,1)"},
    {1, {4}, {{0, 2, 4, 4}}, &p_k2, " empty batch"},
};

static const pool_attr a_33 = {{3, 3}, {0, 0}, {0, 0}, 0, NULL};
static const pool_attr a_11 = {{1, 1}, {0, 0}, {0, 0}, 0, NULL};
static const pool_attr a_24 = {{2, 4}, {0, 0}, {0, 0}, 0, NULL};
static const adj_op_case adapt_cases[] = {
    {1, {4}, {{1, 2, 5, 4}}, &a_33, " to (3,3): overlapping windows"},
    {1, {4}, {{2, 3, 3, 3}}, &a_11, " global (1,1)"},
    {1, {4}, {{1, 1, 3, 5}}, &a_24, " to (2,4)"},
    {1, {4}, {{1, 1, 2, 2}}, &a_33, " to (3,3), larger than the input"},
    {1, {4}, {{0, 2, 3, 3}}, &a_11, " empty batch"},
};

const adj_op_desc adj_desc_max_pool2d = {
    .name = "max_pool2d", .arity = 1, .attr_size = sizeof(pool_attr), .shape = maxp_shape,
    .forward = maxp_forward, .backward = maxp_backward, .jvp = maxp_jvp,
    .formula = "y[n,c,i,j] = max over the window (i s - pad + [0,k), j s - pad + [0,k)) of x[n,c]",
    .rule = "dx[n,c, argmax of the window] += dy[n,c,i,j] (first maximum at ties)",
    ADJ_CASES(pool_cases),
    .decompose = adj_decomp_max_pool2d,
};

const adj_op_desc adj_desc_avg_pool2d = {
    .name = "avg_pool2d", .arity = 1, .attr_size = sizeof(pool_attr), .shape = avgp_shape,
    .forward = avg_forward, .backward = avg_backward, .jvp = avg_jvp,
    .formula = "y[n,c,i,j] = (sum of x[n,c] over the window) / (k0 k1), padding counted",
    .rule = "dx[n,c, window] += dy[n,c,i,j] / (k0 k1)",
    ADJ_CASES(pool_cases),
    .decompose = adj_decomp_avg_pool2d,
};

const adj_op_desc adj_desc_adaptive_avg_pool2d = {
    .name = "adaptive_avg_pool2d", .arity = 1, .attr_size = sizeof(pool_attr),
    .shape = adapt_shape, .forward = avg_forward, .backward = avg_backward, .jvp = avg_jvp,
    .formula = "y[n,c,i,j] = mean of x[n,c] over rows [floor(i H/Ho), ceil((i+1) H/Ho)), same for columns",
    .rule = "dx[n,c, window] += dy[n,c,i,j] / (window size)",
    ADJ_CASES(adapt_cases),
    .decompose = adj_decomp_adaptive_avg_pool2d,
};

/* ------------------------------------------------------------ public API */

static adj_var *pool(adj_op op, adj_var *x, const adj_pool2d_opts *opts, const char *file, int line)
{
    pool_attr a = {{0, 0}, {0, 0}, {0, 0}, 1, NULL};
    if (opts)
        a = (pool_attr){{opts->kernel[0], opts->kernel[1]}, {opts->stride[0], opts->stride[1]},
                        {opts->padding[0], opts->padding[1]}, 0, NULL};
    return adj_record(op, &x, 1, &a, file, line);
}

adj_var *adj_max_pool2d_at(adj_var *x, const adj_pool2d_opts *opts, const char *file, int line)
{
    return pool(ADJ_OP_MAX_POOL2D, x, opts, file, line);
}
adj_var *adj_avg_pool2d_at(adj_var *x, const adj_pool2d_opts *opts, const char *file, int line)
{
    return pool(ADJ_OP_AVG_POOL2D, x, opts, file, line);
}
adj_var *adj_adaptive_avg_pool2d_at(adj_var *x, int out_h, int out_w, const char *file, int line)
{
    pool_attr a = {{out_h, out_w}, {0, 0}, {0, 0}, 0, NULL};
    return adj_record(ADJ_OP_ADAPTIVE_AVG_POOL2D, &x, 1, &a, file, line);
}

adj_var *(adj_max_pool2d)(adj_var *x, const adj_pool2d_opts *opts)
{
    return adj_max_pool2d_at(x, opts, NULL, 0);
}
adj_var *(adj_avg_pool2d)(adj_var *x, const adj_pool2d_opts *opts)
{
    return adj_avg_pool2d_at(x, opts, NULL, 0);
}
adj_var *(adj_adaptive_avg_pool2d)(adj_var *x, int out_h, int out_w)
{
    return adj_adaptive_avg_pool2d_at(x, out_h, out_w, NULL, 0);
}

/* for the graph-mode rules (ops/decompose_conv.c) */
void adj_pool_geometry(const adj_var *y, int32_t k[2], int32_t s[2], int32_t p[2])
{
    const pool_attr *a = ADJ_ATTR(y, pool_attr);
    for (int i = 0; i < 2; i++) {
        k[i] = a->k[i];
        s[i] = a->s[i];
        p[i] = a->p[i];
    }
}
