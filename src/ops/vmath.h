/*
 * Internal: float32 exp, expm1, log, log1p and tanh that vectorise.
 *
 * Each function is straight-line code: range reduction, a polynomial, a
 * rescale, and selects for the special values.  There are no branches, no
 * table look-ups and no calls, so a loop over an array that calls one of
 * them (after inlining) is vectorised by the compiler at -O2/-O3 with
 * -fno-math-errno -fno-trapping-math, the flags the library is built with.
 * No -ffast-math is needed: NaN and the infinities go through as IEEE 754
 * and libm say.
 *
 * Arithmetic is plain float multiply and add, so the results do not depend
 * on whether the target has FMA.  A product that must be exact (k ln2_hi,
 * 2^k p) is exact by construction.  Bit manipulations use uint32_t, so no
 * input (NaN included) leads to undefined behaviour; two conversions are
 * implementation-defined (uint32_t to int32_t, and >> of a negative int32_t),
 * and GCC and Clang define them as two's complement and arithmetic shift.
 *
 * Polynomial coefficients are minimax fits (Remez exchange, relative error
 * weight) rounded to float.  Measured errors against a correctly rounded
 * reference are in tests/test_vmath.c and docs/performance.md; all are
 * below 2 ulp over every finite float.
 *
 * The macros at the end pick these functions for float arguments and libm
 * for double:  ADJ_EXP(x) is adj_vexpf(x) for a float x, exp(x) otherwise.
 */
#ifndef ADJ_OPS_VMATH_H
#define ADJ_OPS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define ADJ_VM_INLINE static inline __attribute__((always_inline))
#else
#define ADJ_VM_INLINE static inline
#endif

ADJ_VM_INLINE uint32_t adj_vm_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

ADJ_VM_INLINE float adj_vm_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ln 2 = LN2_HI + LN2_LO.  LN2_HI has 15 significant bits, so k LN2_HI is
 * exact for |k| < 2^9. */
#define ADJ_VM_LN2_HI 0x1.62e4p-1f
#define ADJ_VM_LN2_LO 0x1.7f7d1cp-20f
#define ADJ_VM_LOG2E 0x1.715476p+0f
/* 1.5 * 2^23: adding it to |z| < 2^22 leaves round(z) in the low bits. */
#define ADJ_VM_SHIFTER 0x1.8p23f

/*
 * Exponential core: x = k ln2 + r with k = round(x / ln2), |r| <= 0.3466
 * (a little more when x / ln2 is rounded near a half), and returns
 * e^r - 1 = r + r^2 Q(r).  Q is the degree-4 minimax fit of
 * (e^r - 1 - r) / r^2 on [-0.3466, 0.3466] weighted by r^2 / e^r; its
 * relative error on e^r is 3.1e-9 (2^-28.3).
 *
 * k comes from the bits of z + 1.5 * 2^23, which holds round(z) in its
 * low mantissa bits; valid for |x| < 2^21.  r = (x - k LN2_HI) - k LN2_LO:
 * the first difference is exact (Sterbenz), so r carries one rounding.
 */
ADJ_VM_INLINE float adj_vm_expm1_red(float x, int32_t *k)
{
    float t = x * ADJ_VM_LOG2E + ADJ_VM_SHIFTER;
    float kf = t - ADJ_VM_SHIFTER;
    *k = (int32_t)(adj_vm_bits(t) - adj_vm_bits(ADJ_VM_SHIFTER));
    float r = (x - kf * ADJ_VM_LN2_HI) - kf * ADJ_VM_LN2_LO;
    float q = 0x1.fffffcp-2f +
              r * (0x1.555492p-3f + r * (0x1.5558f2p-5f + r * (0x1.1239e0p-7f + r * 0x1.6a243ap-10f)));
    return r + (r * r) * q;
}

/*
 * e^x = 2^k e^r.  x is first clamped to [-104, 89] (a NaN stays a NaN):
 * e^-104 < 2^-150 rounds to 0 and e^89 > FLT_MAX overflows to +Inf, so the
 * clamp changes no result.  2^k is applied as 2^k1 2^k2 with k1 = k >> 1,
 * k2 = k - k1, both in [-75, 64]: (e^r 2^k1) is exact and the second
 * product rounds once, also into the subnormal range and to 0 or +Inf.
 */
ADJ_VM_INLINE float adj_vexpf(float x)
{
    float xc = x > 89.0f ? 89.0f : x;
    xc = xc < -104.0f ? -104.0f : xc;
    int32_t k;
    float p = 1.0f + adj_vm_expm1_red(xc, &k);
    int32_t k1 = k >> 1, k2 = k - k1;
    float s1 = adj_vm_float((uint32_t)(k1 + 127) << 23);
    float s2 = adj_vm_float((uint32_t)(k2 + 127) << 23);
    return (p * s1) * s2;
}

/*
 * e^x - 1 = 2^k (e^r - 1) + (2^k - 1).  For -47 <= k <= 24 both terms are
 * exact (the first is a power-of-two scaling, the second has at most 24
 * bits), so the result carries one rounding on top of the error of
 * e^r - 1; for k = 0 it is e^r - 1 itself, accurate in relative terms near
 * 0.  x is clamped to [-32, 89]: below -32 the result rounds to -1.  For
 * k > 24, e^x - 1 rounds as e^x does and is computed as e^x above.
 * expm1(+-0) = +-0.
 */
ADJ_VM_INLINE float adj_vexpm1f(float x)
{
    float xc = x > 89.0f ? 89.0f : x;
    xc = xc < -32.0f ? -32.0f : xc;
    int32_t k;
    float p1 = adj_vm_expm1_red(xc, &k);
    int32_t ks = k < 24 ? k : 24;
    float s = adj_vm_float((uint32_t)(ks + 127) << 23);
    float near = s * p1 + (s - 1.0f);
    int32_t k1 = k >> 1, k2 = k - k1;
    float s1 = adj_vm_float((uint32_t)(k1 + 127) << 23);
    float s2 = adj_vm_float((uint32_t)(k2 + 127) << 23);
    float far = ((1.0f + p1) * s1) * s2;
    float y = k > 24 ? far : near;
    return x == 0 ? x : y;
}

/*
 * Logarithm core for a positive normal x: x = 2^e m with m in
 * [sqrt(1/2), sqrt(2)), f = m - 1 (exact), and
 *
 *     ln(1 + f) = 2 atanh(s) = 2s + s R(s^2),   s = f / (2 + f), |s| <= 0.1716
 *               = f - f^2/2 + s (f^2/2 + R)      (because 2s = f - s f)
 *
 * so the leading term f is exact and only small terms carry rounding.
 * R(z) = z (c1 + c2 z + c3 z^2) is the minimax fit of 2 atanh(s) - 2s,
 * relative error 1.7e-9 (2^-29.2) on ln(1 + f).  The result is
 * e LN2_HI + (ln(1 + f) + e LN2_LO + lo): e LN2_HI is exact for |e| <= 149
 * and lo is a small correction the caller adds (see log1p).  eadj is added
 * to the exponent (for scaled subnormals).
 *
 * e is the 9-bit field (bits of x - bits of sqrt(1/2)) >> 23, sign-extended
 * as (v ^ 0x100) - 0x100; m has the bits of x minus e << 23.
 */
ADJ_VM_INLINE float adj_vm_log_core(float x, int32_t eadj, float lo)
{
    uint32_t ix = adj_vm_bits(x);
    uint32_t d = ix - 0x3f3504f3u;
    int32_t e = (int32_t)((d >> 23) ^ 0x100u) - 0x100;
    float m = adj_vm_float(ix - ((uint32_t)e << 23));
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float R = z * (0x1.555556p-1f + z * (0x1.997b0ep-2f + z * 0x1.2f5b3ep-2f));
    float hfsq = 0.5f * f * f;
    float ef = (float)(e + eadj);
    return ef * ADJ_VM_LN2_HI + (f - (hfsq - (s * (hfsq + R) + (ef * ADJ_VM_LN2_LO + lo))));
}

/*
 * ln x.  Subnormal x is scaled by 2^23 first.  ln(+-0) = -Inf,
 * ln(x < 0) = NaN, ln(+Inf) = +Inf, ln(NaN) = NaN.
 */
ADJ_VM_INLINE float adj_vlogf(float x)
{
    float xs = x < 0x1p-126f ? x * 0x1p23f : x;
    int32_t eadj = x < 0x1p-126f ? -23 : 0;
    float y = adj_vm_log_core(xs, eadj, 0.0f);
    y = x == 0 ? -INFINITY : y;
    y = x < 0 ? NAN : y;
    y = x == INFINITY ? x : y;
    return x != x ? x : y;
}

/*
 * ln(1 + x).  u = 1 + x rounds, but (1 + x) - u = x - (u - 1) is exact
 * (u - 1 is exact, and so is the difference of two close numbers), so
 *
 *     ln(1 + x) = ln(u) + ln(1 + c/u) ~= ln(u) + c/u,   c = x - (u - 1),
 *
 * with c/u below 2^-24 in size; it goes into the core's small terms.  For
 * |x| < 2^-25, u = 1 and the result is c = x.  log1p(-1) = -Inf,
 * log1p(x < -1) = NaN, log1p(+Inf) = +Inf, log1p(+-0) = +-0.
 */
ADJ_VM_INLINE float adj_vlog1pf(float x)
{
    float u = 1.0f + x;
    float c = (x - (u - 1.0f)) / u;
    float y = adj_vm_log_core(u, 0, c);
    y = x == -1.0f ? -INFINITY : y;
    y = x < -1.0f ? NAN : y;
    y = x == INFINITY ? x : y;
    y = x == 0 ? x : y;
    return x != x ? x : y;
}

/*
 * tanh x = sign(x) tanh|x|, computed for a = |x| and the sign bit of x
 * copied on at the end (so tanh(-0) = -0 and a NaN keeps its sign).  For
 * a < 0.625, tanh a = a + a^3 P(a^2), P the degree-4 minimax fit of
 * (tanh a - a) / a^3 in a^2 on [0, 0.625^2], relative error 4.4e-9
 * (2^-27.8); the leading term a is exact.  Otherwise
 * tanh a = 1 - 2 / (e^(2a) + 1) >= 0.55, with e^(2a) from the exponential
 * core (a clamped to 10, where tanh rounds to 1).  NaN takes the first
 * branch and stays NaN.
 */
ADJ_VM_INLINE float adj_vtanhf(float x)
{
    float a = fabsf(x);
    float t = a * a;
    float p = -0x1.555532p-2f +
              t * (0x1.110726p-3f + t * (-0x1.b83c5ap-5f + t * (0x1.52269cp-6f + t * -0x1.75e1ccp-8f)));
    float small = a + a * t * p;
    float ac = a > 10.0f ? 10.0f : a;
    int32_t k;
    float em = adj_vm_expm1_red(ac + ac, &k);
    /* k in [0, 29]: 2^k (1 + em) is normal, add k to the exponent field */
    float e = adj_vm_float(adj_vm_bits(1.0f + em) + ((uint32_t)k << 23));
    float big = 1.0f - 2.0f / (e + 1.0f);
    float y = a >= 0.625f ? big : small;
    return adj_vm_float(adj_vm_bits(y) | (adj_vm_bits(x) & 0x80000000u));
}

/* float: the functions above; double (and anything else): libm. */
#define ADJ_EXP(x) _Generic((x), float: adj_vexpf, default: exp)(x)
#define ADJ_EXPM1(x) _Generic((x), float: adj_vexpm1f, default: expm1)(x)
#define ADJ_LOG(x) _Generic((x), float: adj_vlogf, default: log)(x)
#define ADJ_LOG1P(x) _Generic((x), float: adj_vlog1pf, default: log1p)(x)
#define ADJ_TANH(x) _Generic((x), float: adj_vtanhf, default: tanh)(x)

#endif
