/*
 * max_pool2d 2x2 stride 2 without padding on float planes, in AVX-512:
 * the forward and the backward that writes a fresh dx (ops/pool.c
 * chooses them at run time; the other cases keep its generic code).
 *
 * Each output row is done in chunks of sixteen windows: the two input
 * rows' 32 elements are loaded (masked at the row's end), split into the
 * windows' four corners by two-source permutes, and compared corner by
 * corner in the order (0, 0), (0, 1), (1, 0), (1, 1) with the rule of the
 * scalar code: a corner is taken when it is greater than the maximum so
 * far, or when it is a NaN and the maximum so far is not (so the first
 * maximum wins a tie and the first NaN wins over numbers).  The corner
 * taken is kept as one byte per output (0, 1 the first row, 2, 3 the
 * second).
 *
 * The backward compares those bytes with the four corners, spreads dy's
 * sixteen values into the two rows of 32 (zeros elsewhere) with the
 * inverse permutes and stores them: every element of dx is written once,
 * the odd last row and column with zeros.  Only selections and moves:
 * the same bits as the scalar code.
 */
#include "ops/pool22.h"
#include "ops/dispatch.h"

#include <string.h>

#if ADJ_VM_DISPATCH
#include <immintrin.h>

/* how far ahead (bytes) each output row prefetches its input */
#define P22_AHEAD 2048

/* lanes [0, n) of sixteen (none when n <= 0) */
static inline __mmask16 lanes16(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

ADJ_VM_TGT_AVX512 void adj_mp22_fwd_f32_avx512(const float *x, float *y, uint8_t *code, int64_t H,
                                               int64_t W, int64_t Ho, int64_t Wo)
{
    (void)H;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m128i one = _mm_set1_epi8(1), two = _mm_set1_epi8(2), three = _mm_set1_epi8(3);
    for (int64_t oh = 0; oh < Ho; oh++) {
        const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
        for (int64_t f = 0; f < 2 * W; f += 16)
            _mm_prefetch((const char *)(r0 + f) + P22_AHEAD, _MM_HINT_T0);
        float *yr = y + oh * Wo;
        uint8_t *c = code + oh * Wo;
        for (int64_t ow = 0; ow < Wo; ow += 16) {
            const int64_t n2 = 2 * (Wo - ow);
            const __mmask16 mlo = lanes16(n2), mhi = lanes16(n2 - 16), mo = lanes16(Wo - ow);
            const __m512i p0 = _mm512_castps_si512(_mm512_maskz_loadu_ps(mlo, r0 + 2 * ow));
            const __m512i p1 = _mm512_castps_si512(_mm512_maskz_loadu_ps(mhi, r0 + 2 * ow + 16));
            const __m512i q0 = _mm512_castps_si512(_mm512_maskz_loadu_ps(mlo, r1 + 2 * ow));
            const __m512i q1 = _mm512_castps_si512(_mm512_maskz_loadu_ps(mhi, r1 + 2 * ow + 16));
            const __m512 a0 = _mm512_castsi512_ps(_mm512_permutex2var_epi32(p0, even, p1));
            const __m512 a1 = _mm512_castsi512_ps(_mm512_permutex2var_epi32(p0, odd, p1));
            const __m512 b0 = _mm512_castsi512_ps(_mm512_permutex2var_epi32(q0, even, q1));
            const __m512 b1 = _mm512_castsi512_ps(_mm512_permutex2var_epi32(q0, odd, q1));
            /* take v when m is not a NaN and (v > m or v is a NaN) */
            __m512 m = a0;
            __mmask16 t = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(m, m, _CMP_ORD_Q), a1, m, _CMP_NLE_UQ);
            m = _mm512_mask_mov_ps(m, t, a1);
            __m128i k = _mm_maskz_mov_epi8(t, one);
            t = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(m, m, _CMP_ORD_Q), b0, m, _CMP_NLE_UQ);
            m = _mm512_mask_mov_ps(m, t, b0);
            k = _mm_mask_mov_epi8(k, t, two);
            t = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(m, m, _CMP_ORD_Q), b1, m, _CMP_NLE_UQ);
            m = _mm512_mask_mov_ps(m, t, b1);
            k = _mm_mask_mov_epi8(k, t, three);
            _mm512_mask_storeu_ps(yr + ow, mo, m);
            _mm_mask_storeu_epi8(c + ow, mo, k);
        }
    }
}

ADJ_VM_TGT_AVX512 void adj_mp22_bwd_f32_avx512(const float *dy, const uint8_t *code, float *dx,
                                               int64_t H, int64_t W, int64_t Ho, int64_t Wo)
{
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    const __m128i one = _mm_set1_epi8(1), two = _mm_set1_epi8(2), three = _mm_set1_epi8(3);
    for (int64_t oh = 0; oh < Ho; oh++) {
        const float *g = dy + oh * Wo;
        const uint8_t *c = code + oh * Wo;
        _mm_prefetch((const char *)g + P22_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)c + P22_AHEAD / 4, _MM_HINT_T0);
        float *r0 = dx + 2 * oh * W, *r1 = r0 + W;
        for (int64_t ow = 0; ow < Wo; ow += 16) {
            const int64_t n2 = 2 * (Wo - ow);
            const __mmask16 mlo = lanes16(n2), mhi = lanes16(n2 - 16), mo = lanes16(Wo - ow);
            const __m512i v = _mm512_castps_si512(_mm512_maskz_loadu_ps(mo, g + ow));
            const __m128i k = _mm_maskz_loadu_epi8(mo, c + ow);
            const __m512i v0 = _mm512_maskz_mov_epi32(_mm_cmpeq_epi8_mask(k, _mm_setzero_si128()), v);
            const __m512i v1 = _mm512_maskz_mov_epi32(_mm_cmpeq_epi8_mask(k, one), v);
            const __m512i v2 = _mm512_maskz_mov_epi32(_mm_cmpeq_epi8_mask(k, two), v);
            const __m512i v3 = _mm512_maskz_mov_epi32(_mm_cmpeq_epi8_mask(k, three), v);
            _mm512_mask_storeu_epi32(r0 + 2 * ow, mlo, _mm512_permutex2var_epi32(v0, lo, v1));
            _mm512_mask_storeu_epi32(r0 + 2 * ow + 16, mhi, _mm512_permutex2var_epi32(v0, hi, v1));
            _mm512_mask_storeu_epi32(r1 + 2 * ow, mlo, _mm512_permutex2var_epi32(v2, lo, v3));
            _mm512_mask_storeu_epi32(r1 + 2 * ow + 16, mhi, _mm512_permutex2var_epi32(v2, hi, v3));
        }
        if (W & 1)
            r0[W - 1] = r1[W - 1] = 0;
    }
    if (H & 1)
        memset(dx + (H - 1) * W, 0, (size_t)W * sizeof *dx);
}
#endif
