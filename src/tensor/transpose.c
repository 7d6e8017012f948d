/*
 * Tile transposes (see transpose.h).  The CPU level is the elementwise
 * kernels' (ops/dispatch.h), so tests can force each one.
 */
#include "tensor/transpose.h"

#include "adjoint/core.h"
#include "ops/dispatch.h"

#include <string.h>

#if ADJ_VM_DISPATCH
#include <immintrin.h>
#endif

/* The element-by-element loops over rows [r0, r1) x cols [c0, c1). */
#define TR_EDGE(T, d, dld, s, sld, r0, r1, c0, c1)                             \
    for (int64_t i_ = (r0); i_ < (r1); i_++)                                   \
        for (int64_t j_ = (c0); j_ < (c1); j_++)                               \
            (d)[j_ * (dld) + i_] = (s)[i_ * (sld) + j_]

#define TR_EDGE_ACC(T, al, d, dld, s, sld, r0, r1, c0, c1)                     \
    for (int64_t i_ = (r0); i_ < (r1); i_++)                                   \
        for (int64_t j_ = (c0); j_ < (c1); j_++)                               \
            (d)[j_ * (dld) + i_] += (al) * (s)[i_ * (sld) + j_]

/* B x B blocks by BLOCK(d, s) (pointers at the block's corner), the rest
 * by EDGE(r0, r1, c0, c1). */
#define TR_BLOCKS(T, B, d, dld, s, sld, rows, cols, BLOCK, EDGE)               \
    do {                                                                       \
        int64_t i0_ = 0;                                                       \
        for (; i0_ + (B) <= (rows); i0_ += (B)) {                              \
            int64_t j0_ = 0;                                                   \
            for (; j0_ + (B) <= (cols); j0_ += (B))                            \
                BLOCK((d) + j0_ * (dld) + i0_, (s) + i0_ * (sld) + j0_);       \
            EDGE(i0_, i0_ + (B), j0_, (cols));                                 \
        }                                                                      \
        EDGE(i0_, (rows), 0, (cols));                                          \
    } while (0)

#if ADJ_VM_DISPATCH

/* ---------------------------------------------------------------- AVX2 */

/* 8 x 8 floats: rows r[0..8) become columns */
#define T8X8_PS(r)                                                             \
    do {                                                                       \
        __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]); \
        __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]); \
        __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]); \
        __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]); \
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE); \
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE); \
        __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE); \
        __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE); \
        r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);                           \
        r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);                           \
        r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);                           \
        r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);                           \
        r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);                           \
        r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);                           \
        r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);                           \
        r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);                           \
    } while (0)

/* 4 x 4 doubles */
#define T4X4_PD(r)                                                             \
    do {                                                                       \
        __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]); \
        __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]); \
        r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);                           \
        r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);                           \
        r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);                           \
        r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);                           \
    } while (0)

ADJ_VM_TGT_AVX2 static void tr32_avx2(void *dv, int64_t dld, const void *sv, int64_t sld,
                                      int64_t rows, int64_t cols, int acc, float al)
{
    float *d = dv;
    const float *s = sv;
    uint32_t *du = dv;
    const uint32_t *su = sv;
#define B32_(D, S)                                                             \
    do {                                                                       \
        __m256 r[8];                                                           \
        for (int k = 0; k < 8; k++)                                            \
            r[k] = _mm256_loadu_ps((S) + k * sld);                             \
        T8X8_PS(r);                                                            \
        if (acc) {                                                             \
            const __m256 a = _mm256_set1_ps(al);                               \
            for (int k = 0; k < 8; k++)                                        \
                _mm256_storeu_ps((D) + k * dld, _mm256_add_ps(_mm256_loadu_ps((D) + k * dld), \
                                                              _mm256_mul_ps(a, r[k]))); \
        } else {                                                               \
            for (int k = 0; k < 8; k++)                                        \
                _mm256_storeu_ps((D) + k * dld, r[k]);                         \
        }                                                                      \
    } while (0)
#define E32_(r0, r1, c0, c1)                                                   \
    do {                                                                       \
        if (acc)                                                               \
            TR_EDGE_ACC(float, al, d, dld, s, sld, r0, r1, c0, c1);            \
        else                                                                   \
            TR_EDGE(uint32_t, du, dld, su, sld, r0, r1, c0, c1);                    \
    } while (0)
    TR_BLOCKS(float, 8, d, dld, s, sld, rows, cols, B32_, E32_);
#undef B32_
#undef E32_
}

ADJ_VM_TGT_AVX2 static void tr64_avx2(void *dv, int64_t dld, const void *sv, int64_t sld,
                                      int64_t rows, int64_t cols, int acc, double al)
{
    double *d = dv;
    const double *s = sv;
    uint64_t *du = dv;
    const uint64_t *su = sv;
#define B64_(D, S)                                                             \
    do {                                                                       \
        __m256d r[4];                                                          \
        for (int k = 0; k < 4; k++)                                            \
            r[k] = _mm256_loadu_pd((S) + k * sld);                             \
        T4X4_PD(r);                                                            \
        if (acc) {                                                             \
            const __m256d a = _mm256_set1_pd(al);                              \
            for (int k = 0; k < 4; k++)                                        \
                _mm256_storeu_pd((D) + k * dld, _mm256_add_pd(_mm256_loadu_pd((D) + k * dld), \
                                                              _mm256_mul_pd(a, r[k]))); \
        } else {                                                               \
            for (int k = 0; k < 4; k++)                                        \
                _mm256_storeu_pd((D) + k * dld, r[k]);                         \
        }                                                                      \
    } while (0)
#define E64_(r0, r1, c0, c1)                                                   \
    do {                                                                       \
        if (acc)                                                               \
            TR_EDGE_ACC(double, al, d, dld, s, sld, r0, r1, c0, c1);           \
        else                                                                   \
            TR_EDGE(uint64_t, du, dld, su, sld, r0, r1, c0, c1);                   \
    } while (0)
    TR_BLOCKS(double, 4, d, dld, s, sld, rows, cols, B64_, E64_);
#undef B64_
#undef E64_
}

/* ---------------------------------------------------------------- SSE2 */

static void tr32_sse2(void *dv, int64_t dld, const void *sv, int64_t sld, int64_t rows,
                      int64_t cols, int acc, float al)
{
    float *d = dv;
    const float *s = sv;
    uint32_t *du = dv;
    const uint32_t *su = sv;
#define B32_(D, S)                                                             \
    do {                                                                       \
        __m128 r0 = _mm_loadu_ps((S)), r1 = _mm_loadu_ps((S) + sld);           \
        __m128 r2 = _mm_loadu_ps((S) + 2 * sld), r3 = _mm_loadu_ps((S) + 3 * sld); \
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);                                     \
        __m128 r[4] = {r0, r1, r2, r3};                                        \
        if (acc) {                                                             \
            const __m128 a = _mm_set1_ps(al);                                  \
            for (int k = 0; k < 4; k++)                                        \
                _mm_storeu_ps((D) + k * dld,                                   \
                              _mm_add_ps(_mm_loadu_ps((D) + k * dld), _mm_mul_ps(a, r[k]))); \
        } else {                                                               \
            for (int k = 0; k < 4; k++)                                        \
                _mm_storeu_ps((D) + k * dld, r[k]);                            \
        }                                                                      \
    } while (0)
#define E32_(r0, r1, c0, c1)                                                   \
    do {                                                                       \
        if (acc)                                                               \
            TR_EDGE_ACC(float, al, d, dld, s, sld, r0, r1, c0, c1);            \
        else                                                                   \
            TR_EDGE(uint32_t, du, dld, su, sld, r0, r1, c0, c1);                    \
    } while (0)
    TR_BLOCKS(float, 4, d, dld, s, sld, rows, cols, B32_, E32_);
#undef B32_
#undef E32_
}

static void tr64_sse2(void *dv, int64_t dld, const void *sv, int64_t sld, int64_t rows,
                      int64_t cols, int acc, double al)
{
    double *d = dv;
    const double *s = sv;
    uint64_t *du = dv;
    const uint64_t *su = sv;
#define B64_(D, S)                                                             \
    do {                                                                       \
        const __m128d r0 = _mm_loadu_pd((S)), r1 = _mm_loadu_pd((S) + sld);    \
        __m128d r[2] = {_mm_unpacklo_pd(r0, r1), _mm_unpackhi_pd(r0, r1)};     \
        if (acc) {                                                             \
            const __m128d a = _mm_set1_pd(al);                                 \
            for (int k = 0; k < 2; k++)                                        \
                _mm_storeu_pd((D) + k * dld,                                   \
                              _mm_add_pd(_mm_loadu_pd((D) + k * dld), _mm_mul_pd(a, r[k]))); \
        } else {                                                               \
            for (int k = 0; k < 2; k++)                                        \
                _mm_storeu_pd((D) + k * dld, r[k]);                            \
        }                                                                      \
    } while (0)
#define E64_(r0, r1, c0, c1)                                                   \
    do {                                                                       \
        if (acc)                                                               \
            TR_EDGE_ACC(double, al, d, dld, s, sld, r0, r1, c0, c1);           \
        else                                                                   \
            TR_EDGE(uint64_t, du, dld, su, sld, r0, r1, c0, c1);                   \
    } while (0)
    TR_BLOCKS(double, 2, d, dld, s, sld, rows, cols, B64_, E64_);
#undef B64_
#undef E64_
}

static void tr32(void *dv, int64_t dld, const void *sv, int64_t sld, int64_t rows, int64_t cols,
                 int acc, float al)
{
    if (adj_vm_level() >= ADJ_VM_AVX2)
        tr32_avx2(dv, dld, sv, sld, rows, cols, acc, al);
    else
        tr32_sse2(dv, dld, sv, sld, rows, cols, acc, al);
}

static void tr64(void *dv, int64_t dld, const void *sv, int64_t sld, int64_t rows,
                 int64_t cols, int acc, double al)
{
    if (adj_vm_level() >= ADJ_VM_AVX2)
        tr64_avx2(dv, dld, sv, sld, rows, cols, acc, al);
    else
        tr64_sse2(dv, dld, sv, sld, rows, cols, acc, al);
}

#else

static void tr32(void *dv, int64_t dld, const void *sv, int64_t sld, int64_t rows, int64_t cols,
                 int acc, float al)
{
    float *d = dv;
    const float *s = sv;
    uint32_t *du = dv;
    const uint32_t *su = sv;
    if (acc)
        TR_EDGE_ACC(float, al, d, dld, s, sld, 0, rows, 0, cols);
    else
        TR_EDGE(uint32_t, du, dld, su, sld, 0, rows, 0, cols);
}

static void tr64(void *dv, int64_t dld, const void *sv, int64_t sld, int64_t rows,
                 int64_t cols, int acc, double al)
{
    double *d = dv;
    const double *s = sv;
    uint64_t *du = dv;
    const uint64_t *su = sv;
    if (acc)
        TR_EDGE_ACC(double, al, d, dld, s, sld, 0, rows, 0, cols);
    else
        TR_EDGE(uint64_t, du, dld, su, sld, 0, rows, 0, cols);
}

#endif

void adj_transpose_tile(size_t esize, void *dst, int64_t dld, const void *src, int64_t sld,
                        int64_t rows, int64_t cols)
{
    /* bit patterns moved through float registers: shuffles and moves keep
     * every bit (no arithmetic touches them) */
    if (esize == 8)
        tr64(dst, dld, src, sld, rows, cols, 0, 0.0);
    else
        tr32(dst, dld, src, sld, rows, cols, 0, 0.0f);
}

void adj_transpose_tile_acc(int dtype, double alpha, void *dst, int64_t dld, const void *src,
                            int64_t sld, int64_t rows, int64_t cols)
{
    if (dtype == ADJ_F64)
        tr64(dst, dld, src, sld, rows, cols, 1, alpha);
    else
        tr32(dst, dld, src, sld, rows, cols, 1, (float)alpha);
}
