/*
 * Internal: exp, expm1, log, log1p, tanh, sin and cos in float32 and
 * float64, and pow and the normal CDF (computed in double) in float32,
 * that vectorise.
 *
 * Each function is straight-line code: range reduction, a polynomial, a
 * rescale, and selects for the special values.  There are no branches, no
 * table look-ups and no calls (but in the *_any fallbacks of sin and cos
 * and in adj_vm_powc_of, which runs once per loop), so a loop over an
 * array that calls one of them (after inlining) is vectorised by the
 * compiler at -O2/-O3 with
 * -fno-math-errno -fno-trapping-math, the flags the library is built with.
 * No -ffast-math is needed: NaN and the infinities go through as IEEE 754
 * and libm say.
 *
 * Arithmetic is plain multiply and add, so the results do not depend on
 * whether the target has FMA.  A product that must be exact (k ln2_hi,
 * 2^k p) is exact by construction.  Bit manipulations use unsigned
 * integers, so no input (NaN included) leads to undefined behaviour; the
 * float32 code has two implementation-defined conversions (uint32_t to
 * int32_t, and >> of a negative int32_t), which GCC and Clang define as
 * two's complement and arithmetic shift.  The float64 code uses only
 * uint64_t add, subtract, logical shift and mask (which SSE2 has for
 * 64-bit lanes) and turns integers into doubles and back through the bits
 * of 1.5 * 2^52 + n, so it needs no integer conversion at all.
 *
 * Polynomial coefficients are minimax fits (Remez exchange, or for sin,
 * cos and pow Lawson's iteration on a few hundred Chebyshev nodes;
 * relative error weight) rounded to the working precision.  Measured errors against a
 * higher-precision reference are in tests/test_vmath.c and
 * docs/performance.md; all are below 2 ulp.
 *
 * The macros at the end pick these functions by the argument's type:
 * ADJ_EXP(x) is adj_vexpf(x) for a float x, adj_vexp(x) for a double, and
 * libm's exp(x) for anything else.
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

/* ------------------------------------------------------------- float32 */

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
 * e^x for x in [-87, 88] (ADJ_EXP_NORMAL): there 2^k is a normal float
 * (-126 <= k <= 127), so it is applied in one product.  The general
 * kernel's (p 2^k1) is exact, so its result is the same single rounding
 * of p 2^k: the two give the same bits, and loops whose arguments are all
 * in range (ADJ_EXP_BLK) save the split scaling.
 */
ADJ_VM_INLINE float adj_vexpf_normal(float x)
{
    int32_t k;
    float p = 1.0f + adj_vm_expm1_red(x, &k);
    /* unsigned: the optimistic loops also run this on arguments out of
     * range, whose k may be anywhere (the result is then discarded) */
    return p * adj_vm_float(((uint32_t)k + 127u) << 23);
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
ADJ_VM_INLINE float adj_vm_log_fpoly(float f, float ef, float lo)
{
    float s = f / (2.0f + f);
    float z = s * s;
    float R = z * (0x1.555556p-1f + z * (0x1.997b0ep-2f + z * 0x1.2f5b3ep-2f));
    float hfsq = 0.5f * f * f;
    return ef * ADJ_VM_LN2_HI + (f - (hfsq - (s * (hfsq + R) + (ef * ADJ_VM_LN2_LO + lo))));
}

ADJ_VM_INLINE float adj_vm_log_core(float x, int32_t eadj, float lo)
{
    uint32_t ix = adj_vm_bits(x);
    uint32_t d = ix - 0x3f3504f3u;
    int32_t e = (int32_t)((d >> 23) ^ 0x100u) - 0x100;
    float m = adj_vm_float(ix - ((uint32_t)e << 23));
    return adj_vm_log_fpoly(m - 1.0f, (float)(e + eadj), lo);
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
 * ln(1 + e) for e in [0, 1] (or NaN), as softplus needs it: no rounding
 * of 1 + e to correct for.  Below sqrt(2) - 1, f = e; above, 1 + e =
 * 2 (1 + f) with f = (e - 1) / 2, exact; either way f is in the core's
 * range [sqrt(1/2) - 1, sqrt(2) - 1].
 */
ADJ_VM_INLINE float adj_vlog1p_unitf(float e)
{
    float big = e >= 0x1.a82799p-2f ? 1.0f : 0.0f;
    float f = e >= 0x1.a82799p-2f ? (e - 1.0f) * 0.5f : e;
    return adj_vm_log_fpoly(f, big, 0.0f);
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

/* ------------------------------------------------------------- float64 */

ADJ_VM_INLINE uint64_t adj_vm_bits64(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

ADJ_VM_INLINE double adj_vm_double(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ln 2 = LN2_HI + LN2_LO.  LN2_HI has 42 significant bits, so k LN2_HI is
 * exact for |k| < 2^11. */
#define ADJ_VM_LN2_HI_D 0x1.62e42fefa38p-1
#define ADJ_VM_LN2_LO_D 0x1.ef35793c7673p-45
#define ADJ_VM_LOG2E_D 0x1.71547652b82fep+0
/* 1.5 * 2^52: for an integer n with |n| < 2^51, n + 1.5 * 2^52 is exact
 * and its bits are those of 1.5 * 2^52 plus n (whose low 51 bits are 0). */
#define ADJ_VM_SHIFTER_D 0x1.8p52
#define ADJ_VM_SHIFTER_BITS 0x4338000000000000u

/* 2^n for an integer-valued double n in [-1022, 1023]: the low 12 bits of
 * the bits of n + 1.5 * 2^52 are n mod 2^12; add the bias and shift them
 * into the exponent field. */
ADJ_VM_INLINE double adj_vm_pow2(double n)
{
    uint64_t b = adj_vm_bits64(n + ADJ_VM_SHIFTER_D);
    return adj_vm_double((b + 1023u) << 52);
}

/*
 * Exponential reduction: x = k ln2 + r + c with k = round(x / ln2),
 * |r| <= 0.3466 (a little more when x / ln2 is rounded near a half); *kf
 * gets k as a double and *c the small correction.
 *
 * k comes from the bits of z + 1.5 * 2^52, valid for |x| < 2^50.
 * x - k LN2_HI is exact (Sterbenz), and c is the rounding error of
 * r = (x - k LN2_HI) - k LN2_LO (Fast2Sum; where it is not exact, r is
 * below 2^-30 and c does not matter).
 */
ADJ_VM_INLINE double adj_vm_exp_red64(double x, double *kf, double *c)
{
    double t = x * ADJ_VM_LOG2E_D + ADJ_VM_SHIFTER_D;
    double k = t - ADJ_VM_SHIFTER_D;
    double hi = x - k * ADJ_VM_LN2_HI_D;
    double lo = k * ADJ_VM_LN2_LO_D;
    double r = hi - lo;
    *kf = k;
    *c = (hi - r) - lo;
    return r;
}

/*
 * e^(r + c) - 1 = r + pl with pl = r^2 Q(r) + c (1 + r), Q the degree-10
 * minimax fit of (e^r - 1 - r) / r^2 on [-0.347, 0.347] (relative error
 * 2^-58.3, so r + pl is accurate relative to e^r - 1 even near r = 0).
 * The dropped c r^2 / 2 is below 2^-59.  r + pl is not added up here:
 * callers add r, which is exact, to their other exact terms first.
 */
ADJ_VM_INLINE double adj_vm_expm1_poly64(double r, double c)
{
    double q = 0x1p-1 +
               r * (0x1.5555555555557p-3 +
               r * (0x1.555555555554ep-5 +
               r * (0x1.11111111100cbp-7 +
               r * (0x1.6c16c16c1a0e8p-10 +
               r * (0x1.a01a01abf2819p-13 +
               r * (0x1.a01a01904813dp-16 +
               r * (0x1.71de020d66395p-19 +
               r * (0x1.27e510f25844dp-22 +
               r * (0x1.af4e396073e8ep-26 +
               r * 0x1.1f1a0c5f9f26cp-29)))))))));
    return (r * r) * q + c * (1.0 + r);
}

/*
 * e^x = 2^k (1 + r + pl), pl = r^2 Q(r), Q the degree-9 minimax fit of
 * (e^r - 1 - r) / r^2 on [-0.347, 0.347] weighted by r^2 / e^r (relative
 * error 2^-57.7 on e^r).  The reduction's c (below 2^-55, i.e. 0.25 ulp)
 * is left out.  1 + r is split into h + (r - (h - 1)) exactly (Fast2Sum),
 * so the sum carries one rounding.  x is first clamped to [-746, 710] (a
 * NaN stays a NaN): e^-746 < 2^-1076 rounds to 0 and e^710 > DBL_MAX
 * overflows to +Inf, so the clamp changes no result.  2^k is applied as
 * 2^k1 2^k2 with k1 = round(k / 2), k2 = k - k1, both in [-538, 512]:
 * (p 2^k1) is exact and the second product rounds once, also into the
 * subnormal range and to 0 or +Inf.
 */
/* e^r as p, with x = k ln2 + r (k into *k): the polynomial and sum that
 * adj_vexp and adj_vexp_normal share. */
ADJ_VM_INLINE double adj_vm_exp_p64(double x, double *k)
{
    double c;
    double r = adj_vm_exp_red64(x, k, &c);
    double q = 0x1.0000000000009p-1 +
               r * (0x1.55555555554fbp-3 +
               r * (0x1.5555555550aebp-5 +
               r * (0x1.1111111127ba8p-7 +
               r * (0x1.6c16c183c2e6ep-10 +
               r * (0x1.a01a0129af6e0p-13 +
               r * (0x1.a0199ae863eafp-16 +
               r * (0x1.71df27c77317fp-19 +
               r * (0x1.28accfbd918c1p-22 +
               r * 0x1.ad7aa36725871p-26))))))));
    double pl = (r * r) * q;
    double h = 1.0 + r;
    return h + (((1.0 - h) + r) + pl);
}

ADJ_VM_INLINE double adj_vexp(double x)
{
    double xc = x > 710.0 ? 710.0 : x;
    xc = xc < -746.0 ? -746.0 : xc;
    double k;
    double p = adj_vm_exp_p64(xc, &k);
    double k1 = (k * 0.5 + ADJ_VM_SHIFTER_D) - ADJ_VM_SHIFTER_D;
    return (p * adj_vm_pow2(k1)) * adj_vm_pow2(k - k1);
}

/* e^x for x in [-708, 709] (ADJ_EXP_NORMAL): 2^k is a normal double
 * (-1022 <= k <= 1023), applied in one product; the same bits as
 * adj_vexp (see adj_vexpf_normal). */
ADJ_VM_INLINE double adj_vexp_normal(double x)
{
    double k;
    double p = adj_vm_exp_p64(x, &k);
    return p * adj_vm_pow2(k);
}

/*
 * e^x - 1 = 2 ((2^(k-1) - 1/2) + 2^(k-1) r + 2^(k-1) pl).  For
 * -53 <= k <= 53, a = 2^(k-1) - 1/2 and b = 2^(k-1) r are exact,
 * |a| >= |b| (or a = 0), and a + b is split into h + e exactly
 * (Fast2Sum); the result 2 (h + (e + 2^(k-1) pl)) carries one rounding,
 * and for k = 0 it is r + pl, accurate in relative terms near 0.  Outside
 * that range a rounds to -1/2 or 2^(k-1), which is below half an ulp of
 * the result.  Scaling by 2^(k-1) keeps k = 1024 (x >= 709.44) finite
 * until the last doubling.  x is clamped to [-40, 710]: below -40 the
 * result rounds to -1, above 709.79 it overflows.  For |x| < 2^-54 (and
 * so for +-0 and subnormals, where r / 2 would round) the result is x.
 */
ADJ_VM_INLINE double adj_vexpm1(double x)
{
    double xc = x > 710.0 ? 710.0 : x;
    xc = xc < -40.0 ? -40.0 : xc;
    double k, c;
    double r = adj_vm_exp_red64(xc, &k, &c);
    double pl = adj_vm_expm1_poly64(r, c);
    double s = adj_vm_pow2(k - 1.0);
    double a = s - 0.5;
    double b = s * r;
    double h = a + b;
    double e = b - (h - a);
    double y = 2.0 * (h + (e + s * pl));
    return fabs(x) < 0x1p-54 ? x : y;
}

/*
 * Logarithm core for a positive normal x: x = 2^e m with m in
 * [sqrt(1/2), sqrt(2)), f = m - 1 (exact), and
 *
 *     ln(1 + f) = 2 atanh(s) = 2s + s R(s^2),   s = f / (2 + f), |s| <= 0.1716
 *               = f - f^2/2 + s (f^2/2 + R)      (because 2s = f - s f)
 *
 * R(z) = z P(z), P the degree-7 minimax fit of (2 atanh(s) - 2s) / s^3 in
 * z = s^2 on [0, 0.0295], relative error 2^-58.2 (2^-60 on ln(1 + f)).
 * The result is e LN2_HI + (ln(1 + f) + e LN2_LO + lo): e LN2_HI is exact
 * for |e| < 2^11, and lo is a small correction the caller adds (see
 * log1p).  eadj is added to the exponent (for scaled subnormals).
 *
 * With d = bits(x) - bits(sqrt(1/2)), the top 12 bits of d are e in two's
 * complement, and m has the bits of x minus those 12 bits; e becomes a
 * double through the bits of 1.5 * 2^52 + e.
 */
ADJ_VM_INLINE double adj_vm_log_fpoly64(double f, double ef, double lo)
{
    double s = f / (2.0 + f);
    double z = s * s;
    double R = z * (0x1.5555555555555p-1 +
                z * (0x1.9999999999a3ap-2 +
                z * (0x1.2492492476632p-2 +
                z * (0x1.c71c720210907p-3 +
                z * (0x1.745cf8b937a7ep-3 +
                z * (0x1.3b1c45232d8fbp-3 +
                z * (0x1.0fbcf43fcbdd2p-3 +
                z * 0x1.0c147d10f495fp-3)))))));
    double hfsq = 0.5 * f * f;
    return ef * ADJ_VM_LN2_HI_D + (f - (hfsq - (s * (hfsq + R) + (ef * ADJ_VM_LN2_LO_D + lo))));
}

ADJ_VM_INLINE double adj_vm_log_core64(double x, double eadj, double lo)
{
    uint64_t ix = adj_vm_bits64(x);
    uint64_t d = ix - 0x3fe6a09e667f3bcdu;
    uint64_t etop = d & 0xfff0000000000000u;
    double m = adj_vm_double(ix - etop);
    uint64_t e12 = etop >> 52;
    double e = adj_vm_double(ADJ_VM_SHIFTER_BITS + ((e12 ^ 0x800u) - 0x800u)) - ADJ_VM_SHIFTER_D;
    return adj_vm_log_fpoly64(m - 1.0, e + eadj, lo);
}

/*
 * ln x.  Subnormal x is scaled by 2^52 first.  ln(+-0) = -Inf,
 * ln(x < 0) = NaN, ln(+Inf) = +Inf, ln(NaN) = NaN.
 */
ADJ_VM_INLINE double adj_vlog(double x)
{
    double xs = x < 0x1p-1022 ? x * 0x1p52 : x;
    double eadj = x < 0x1p-1022 ? -52.0 : 0.0;
    double y = adj_vm_log_core64(xs, eadj, -0.0); /* adding -0 folds away */
    y = x == 0 ? -(double)INFINITY : y;
    y = x < 0 ? (double)NAN : y;
    y = x == (double)INFINITY ? x : y;
    return x != x ? x : y;
}

/*
 * ln(1 + x).  u = 1 + x rounds, but c = (1 + x) - u = x - (u - 1) is exact
 * for u < 2^53 (and below 1 in size above), so
 *
 *     ln(1 + x) = ln(u) + ln(1 + c/u) ~= ln(u) + c/u,
 *
 * with c/u below 2^-53 in size; it goes into the core's small terms.  For
 * |x| < 2^-54, u = 1 and the result is c = x.  log1p(-1) = -Inf,
 * log1p(x < -1) = NaN, log1p(+Inf) = +Inf, log1p(+-0) = +-0.
 */
ADJ_VM_INLINE double adj_vlog1p(double x)
{
    double u = 1.0 + x;
    double c = (x - (u - 1.0)) / u;
    double y = adj_vm_log_core64(u, 0.0, c);
    y = x == -1.0 ? -(double)INFINITY : y;
    y = x < -1.0 ? (double)NAN : y;
    y = x == (double)INFINITY ? x : y;
    y = x == 0 ? x : y;
    return x != x ? x : y;
}

/* ln(1 + e) for e in [0, 1] (or NaN): as adj_vlog1p_unitf. */
ADJ_VM_INLINE double adj_vlog1p_unit(double e)
{
    double big = e >= 0x1.a827999fcef32p-2 ? 1.0 : 0.0;
    double f = e >= 0x1.a827999fcef32p-2 ? (e - 1.0) * 0.5 : e;
    return adj_vm_log_fpoly64(f, big, -0.0);
}

/*
 * tanh x = sign(x) tanh|x|, computed for a = |x| and the sign bit of x
 * copied on at the end (so tanh(-0) = -0).  For a < 0.625,
 * tanh a = a + a^3 P(a^2), P the degree-11 minimax fit of
 * (tanh a - a) / a^3 in a^2 on [0, 0.625^2], relative error 2^-56.2; the
 * leading term a is exact.  Otherwise tanh a = 1 - q >= 0.55 with
 * q = 2 / D, D = e^(2a) + 1 = (2^k + 1) + 2^k (ph + pe) from the
 * exponential core (a clamped to 20, where tanh rounds to 1), ph + pe the
 * exact split of r + pl.  D is kept as dh + dl (Fast2Sum of 2^k + 1 and
 * 2^k ph, exact for k <= 52), and q = 2 / (dh + dl) ~= q0 - q0^2 dl / 2
 * with q0 = 2 / dh, so q has the error of one division.  NaN takes the
 * first branch and stays NaN.
 */
ADJ_VM_INLINE double adj_vtanh(double x)
{
    double a = fabs(x);
    double t = a * a;
    double p = -0x1.5555555555555p-2 +
               t * (0x1.11111111110a8p-3 +
               t * (-0x1.ba1ba1ba0f149p-5 +
               t * (0x1.664f487e0b229p-6 +
               t * (-0x1.226e3473f89e3p-7 +
               t * (0x1.d6d39ae8b8226p-9 +
               t * (-0x1.7d9f6f7072359p-10 +
               t * (0x1.3526ecc7535abp-11 +
               t * (-0x1.f243a5301751ep-13 +
               t * (0x1.84460c188b509p-14 +
               t * (-0x1.05bcf91ff2c06p-15 +
               t * 0x1.b33a6a7232fb7p-18))))))))));
    double small = a + a * t * p;
    double ac = a > 20.0 ? 20.0 : a;
    double k, c;
    double r = adj_vm_exp_red64(ac + ac, &k, &c);
    double pl = adj_vm_expm1_poly64(r, c);
    double ph = r + pl;
    double pe = pl - (ph - r);
    double s = adj_vm_pow2(k);
    double A = s + 1.0;
    double B = s * ph;
    double dh = A + B;
    double dl = (B - (dh - A)) + s * pe;
    double q0 = 2.0 / dh;
    double q = q0 - (0.5 * q0) * (q0 * dl);
    double big = 1.0 - q;
    double y = a >= 0.625 ? big : small;
    return adj_vm_double(adj_vm_bits64(y) | (adj_vm_bits64(x) & 0x8000000000000000u));
}

/* ------------------------------------------------------ sin and cos */

/*
 * sin and cos in float32 and float64.  x = k pi/2 + r with
 * k = round(x 2/pi), |r| <= pi/4 (a little more when x 2/pi rounds near a
 * half), and by k mod 4
 *
 *     sin x = sin r, cos r, -sin r, -cos r      cos x = cos r, -sin r, -cos r, sin r
 *
 * Both polynomials are evaluated and the right one is picked with masks,
 * so the code is straight-line.  The reduction (Cody and Waite) subtracts
 * k times pi/2 split into parts short enough that their products with k
 * are exact, which bounds the range where it is valid:
 *
 *     float32   |x| <= 2^12   in float (adj_vsinf, adj_vcosf)
 *               |x| <= 2^20   in double (adj_vm_sinf_mid, adj_vm_cosf_mid)
 *     float64   |x| <= 2^20   (adj_vsin, adj_vcos)
 *
 * ADJ_TRIG_OK(x) is the first range of each type.  Other arguments
 * (larger ones, Inf, NaN) go to the float32 middle kernel or to libm; the
 * elementwise ops do that per element (see ADJ_SIN below and ADJ_UNARY_EX
 * in ops/unary.h).
 *
 * k comes from the bits of x 2/pi + 1.5 * 2^23 (2^52 in double), whose low
 * bits hold k in two's complement; only k mod 4 is used, as masks.
 *
 * The smallest |r| of an argument in these ranges (its distance to the
 * nearest multiple of pi/2) is about 2^-28 for a float below 2^12 and
 * 2^-24 in [2^11, 2^20]; pi/2 is carried to enough bits that r keeps
 * its relative accuracy there.
 */

/* Arguments of the first range of each type (false for NaN and +-Inf). */
#define ADJ_TRIG_OK(x) _Generic((x), float: adj_vm_trig_okf, default: adj_vm_trig_ok)(x)
ADJ_VM_INLINE int adj_vm_trig_okf(float x) { return x <= 0x1p12f && x >= -0x1p12f; }
ADJ_VM_INLINE int adj_vm_trig_ok(double x) { return x <= 0x1p20 && x >= -0x1p20; }

/* a if the low bit of sel is 0, else b, negated if bit 1 of sgn is set:
 * branch-free selects on the quadrant */
ADJ_VM_INLINE float adj_vm_quadrantf(float a, float b, uint32_t sel, uint32_t sgn)
{
    uint32_t pick = 0u - (sel & 1u);
    uint32_t v = (adj_vm_bits(a) & ~pick) | (adj_vm_bits(b) & pick);
    return adj_vm_float(v ^ ((sgn & 2u) << 30));
}

ADJ_VM_INLINE double adj_vm_quadrant(double a, double b, uint64_t sel, uint64_t sgn)
{
    uint64_t pick = 0u - (sel & 1u);
    uint64_t v = (adj_vm_bits64(a) & ~pick) | (adj_vm_bits64(b) & pick);
    return adj_vm_double(v ^ ((sgn & 2u) << 62));
}

/*
 * float32, |x| <= 2^12, in float.  pi/2 = P1 + P2 + P3 + P4: P1, P2 and P3
 * have at most 12 bits, so k Pi is exact for |k| < 2^12; P4 is rounded
 * (pi/2 is carried to 2^-63).  x - k P1 is exact (Sterbenz) and so is the
 * next difference (a multiple of 2^-24 below 1 in size); the third may
 * round, and its error e3 is kept (Fast2Sum).  r = rh + rl is the exact
 * sum (2Sum) of that difference and the tail e3 - k P4.  k from the float
 * product x 2/pi may be off by one near a half, so |r| <= pi/4 + 2^-12;
 * on |r| <= 0.7862,
 *
 *     sin(rh + rl) = rh + (rh z S(z) + rl)
 *     cos(rh + rl) = w + (((1 - w) - z/2) + (z^2 C(z) - rh rl)),  w = 1 - z/2,
 *
 * z = rh^2, S of degree 3 and C of degree 2, minimax fits (relative
 * errors 2^-37.5 and 2^-33); 1 - w - z/2 is the exact rounding error of w.
 * The dropped terms, rl (cos rh - 1) in sin and rl (rh - sin rh) in cos,
 * are below a fifth of an ulp.  For |x| < 2^-12 (and +-0 and subnormals),
 * sin x rounds to x.
 */
#define ADJ_VM_PIO2F_1 0x1.92p+0f
#define ADJ_VM_PIO2F_2 0x1.fb4p-12f
#define ADJ_VM_PIO2F_3 0x1.444p-24f
#define ADJ_VM_PIO2F_4 0x1.68c234p-39f
#define ADJ_VM_2OPIF 0x1.45f306p-1f

ADJ_VM_INLINE void adj_vm_sincosf_core(float x, float *s, float *c, uint32_t *q)
{
    float t = x * ADJ_VM_2OPIF + ADJ_VM_SHIFTER;
    *q = adj_vm_bits(t);
    float k = t - ADJ_VM_SHIFTER;
    float r2 = (x - k * ADJ_VM_PIO2F_1) - k * ADJ_VM_PIO2F_2;
    float w3 = k * ADJ_VM_PIO2F_3;
    float r3 = r2 - w3;
    float e3 = (r2 - r3) - w3;
    float tail = e3 - k * ADJ_VM_PIO2F_4;
    float rh = r3 + tail;
    float bb = rh - r3;
    float rl = (r3 - (rh - bb)) + (tail - bb);
    float z = rh * rh;
    float hz = 0.5f * z;
    float ps = -0x1.555556p-3f + z * (0x1.111108p-7f + z * (-0x1.a00f74p-13f + z * 0x1.6ccf4ep-19f));
    float pc = 0x1.55554ap-5f + z * (-0x1.6c0c28p-10f + z * 0x1.99e856p-16f);
    *s = rh + (rh * z * ps + rl);
    float w = 1.0f - hz;
    *c = w + (((1.0f - w) - hz) + ((z * z) * pc - rh * rl));
}

ADJ_VM_INLINE float adj_vsinf(float x)
{
    float s, c;
    uint32_t q;
    adj_vm_sincosf_core(x, &s, &c, &q);
    float y = adj_vm_quadrantf(s, c, q, q);
    return fabsf(x) < 0x1p-12f ? x : y;
}

ADJ_VM_INLINE float adj_vcosf(float x)
{
    float s, c;
    uint32_t q;
    adj_vm_sincosf_core(x, &s, &c, &q);
    return adj_vm_quadrantf(c, s, q, q + 1u);
}

/*
 * float32, |x| <= 2^20, in double.  pi/2 = PIO2_1 + PIO2_1T (33 and 53
 * bits): x - k PIO2_1 is exact, and r = (x - k PIO2_1) - k PIO2_1T has
 * an absolute error below 2^-67.  S and C are the degree-3 and degree-2
 * fits above, in double; the double result is rounded once to float.
 */
#define ADJ_VM_PIO2_1 0x1.921fb544p+0
#define ADJ_VM_PIO2_1T 0x1.0b4611a626331p-34
#define ADJ_VM_2OPI 0x1.45f306dc9c883p-1

/* k and its bits (k mod 4 in the low bits) for x (see above). */
ADJ_VM_INLINE double adj_vm_trig_k(double x, uint64_t *q)
{
    double t = x * ADJ_VM_2OPI + ADJ_VM_SHIFTER_D;
    *q = adj_vm_bits64(t);
    return t - ADJ_VM_SHIFTER_D;
}

ADJ_VM_INLINE void adj_vm_sincosf_mid_core(float xf, double *s, double *c, uint64_t *q)
{
    double x = (double)xf;
    double k = adj_vm_trig_k(x, q);
    double r = (x - k * ADJ_VM_PIO2_1) - k * ADJ_VM_PIO2_1T;
    double z = r * r;
    *s = r + r * z * (-0x1.5555554c5f034p-3 +
                      z * (0x1.1111085cb4959p-7 +
                      z * (-0x1.a00f741f53009p-13 +
                      z * 0x1.6ccf4ef20b8b2p-19)));
    *c = (1.0 - 0.5 * z) + (z * z) * (0x1.555549ff42b75p-5 +
                                     z * (-0x1.6c0c286b86aeep-10 +
                                     z * 0x1.99e856fa0d069p-16));
}

ADJ_VM_INLINE float adj_vm_sinf_mid(float x)
{
    double s, c;
    uint64_t q;
    adj_vm_sincosf_mid_core(x, &s, &c, &q);
    float y = (float)adj_vm_quadrant(s, c, q, q);
    return fabsf(x) < 0x1p-12f ? x : y;
}

ADJ_VM_INLINE float adj_vm_cosf_mid(float x)
{
    double s, c;
    uint64_t q;
    adj_vm_sincosf_mid_core(x, &s, &c, &q);
    return (float)adj_vm_quadrant(c, s, q, q + 1u);
}

/*
 * float64, |x| <= 2^20.  pi/2 = PIO2_1 + PIO2_2 + PIO2_3 + PIO2_4 (33,
 * 33, 33 and 53 bits).  r = rh + rl, a double-double: x - k PIO2_1 is
 * exact; the products with PIO2_2 and PIO2_3 are exact and are subtracted
 * with their rounding errors kept (2Sum); the errors and k PIO2_4 make the
 * tail.  pi/2 is carried to about 150 bits.  Then
 *
 *     sin(rh + rl) = rh + (rh z S(z) + rl (1 - z/2))
 *     cos(rh + rl) = w + (((1 - w) - z/2) + (z^2 C(z) - rh rl)),  w = 1 - z/2,
 *
 * with z = rh^2, S and C of degree 5, minimax fits with relative errors
 * 2^-57.9 and 2^-64.  For |x| < 2^-26 (and +-0 and subnormals), sin x
 * rounds to x.
 */
#define ADJ_VM_PIO2_2 0x1.0b4611a6p-34
#define ADJ_VM_PIO2_3 0x1.3198a2ep-69
#define ADJ_VM_PIO2_4 0x1.b839a252049c1p-104

ADJ_VM_INLINE void adj_vm_sincos_core(double x, double *s, double *c, uint64_t *q)
{
    double k = adj_vm_trig_k(x, q);
    double r0 = x - k * ADJ_VM_PIO2_1;
    double w2 = k * ADJ_VM_PIO2_2;
    double s1 = r0 - w2;
    double b1 = s1 - r0;
    double e1 = (r0 - (s1 - b1)) - (w2 + b1);
    double w3 = k * ADJ_VM_PIO2_3;
    double s2 = s1 - w3;
    double b2 = s2 - s1;
    double e2 = (s1 - (s2 - b2)) - (w3 + b2);
    double tail = (e1 + e2) - k * ADJ_VM_PIO2_4;
    double rh = s2 + tail;
    double rl = tail - (rh - s2);
    double z = rh * rh;
    double hz = 0.5 * z;
    double ps = -0x1.5555555555548p-3 +
                z * (0x1.111111110f7d0p-7 +
                z * (-0x1.a01a019bfde88p-13 +
                z * (0x1.71de3567ce11bp-19 +
                z * (-0x1.ae5e5a8d9253bp-26 +
                z * 0x1.5d8fd08c2f9c3p-33))));
    double pc = 0x1.555555555554bp-5 +
                z * (-0x1.6c16c16c14f91p-10 +
                z * (0x1.a01a019c8446dp-16 +
                z * (-0x1.27e4f7eabecf4p-22 +
                z * (0x1.1ee9d7b0f9289p-29 +
                z * -0x1.8fa4980ba277cp-37))));
    *s = rh + (rh * z * ps + rl * (1.0 - hz));
    double w = 1.0 - hz;
    *c = w + (((1.0 - w) - hz) + ((z * z) * pc - rh * rl));
}

ADJ_VM_INLINE double adj_vsin(double x)
{
    double s, c;
    uint64_t q;
    adj_vm_sincos_core(x, &s, &c, &q);
    double y = adj_vm_quadrant(s, c, q, q);
    return fabs(x) < 0x1p-26 ? x : y;
}

ADJ_VM_INLINE double adj_vcos(double x)
{
    double s, c;
    uint64_t q;
    adj_vm_sincos_core(x, &s, &c, &q);
    return adj_vm_quadrant(c, s, q, q + 1u);
}

/* Any argument: the kernels above where they apply, else libm. */
ADJ_VM_INLINE float adj_vm_sinf_any(float x)
{
    return ADJ_TRIG_OK(x) ? adj_vsinf(x) : fabsf(x) <= 0x1p20f ? adj_vm_sinf_mid(x) : sinf(x);
}
ADJ_VM_INLINE float adj_vm_cosf_any(float x)
{
    return ADJ_TRIG_OK(x) ? adj_vcosf(x) : fabsf(x) <= 0x1p20f ? adj_vm_cosf_mid(x) : cosf(x);
}
ADJ_VM_INLINE double adj_vm_sin_any(double x) { return ADJ_TRIG_OK(x) ? adj_vsin(x) : sin(x); }
ADJ_VM_INLINE double adj_vm_cos_any(double x) { return ADJ_TRIG_OK(x) ? adj_vcos(x) : cos(x); }

/* ------------------------------------------------------------------ pow */

/*
 * x^c for a constant c.  What depends only on c is worked out once
 * (adj_vm_powc_of); the per-element part is straight-line.
 */
typedef struct adj_vm_powc {
    double c;
    uint64_t odd;           /* the sign bit (2^63) if c is an odd integer, else 0 */
    int nonint;             /* c is not an integer (nor infinite); NaN counts */
    int one;                /* c is 0 (x^0 = 1) */
    int inf;                /* c is +-Inf */
} adj_vm_powc;

static inline adj_vm_powc adj_vm_powc_of(double c)
{
    adj_vm_powc p = {c, 0, 0, c == 0, fabs(c) == (double)INFINITY};
    double a = fabs(c);
    if (a < 0x1p53) { /* below 2^53 a double may be a fraction or odd */
        p.nonint = floor(a) != a;
        p.odd = !p.nonint && fmod(a, 2.0) == 1.0 ? 0x8000000000000000u : 0;
    } else {
        p.nonint = a != a;
    }
    return p;
}

/*
 * e^(c ln a) in double for a = |x| of a float x (so a is 0, a normal
 * double, Inf or NaN), accurate enough to round to float: ln a =
 * e ln2 + ln(1 + f) as in the log core above, with P of degree 3
 * (relative error 2^-37.6), and e^t = 2^k (1 + r + r^2 Q(r)) as in the
 * exponential above, Q of degree 5 (relative error 2^-34.2).  Where the
 * float result is neither 0 nor Inf, |t| < 104, so the error of t adds
 * at most 2^-30.9 relative: the result is within 0.51 float ulp before
 * its rounding to float.  t is clamped to [-110, 100], beyond which the
 * float result is 0 or Inf anyway; ln 0 = -Inf and ln Inf = Inf are
 * selected, and a NaN goes through.
 */
ADJ_VM_INLINE double adj_vm_pow_core(double a, double c)
{
    uint64_t ix = adj_vm_bits64(a);
    uint64_t d = ix - 0x3fe6a09e667f3bcdu;
    uint64_t etop = d & 0xfff0000000000000u;
    double m = adj_vm_double(ix - etop);
    uint64_t e12 = etop >> 52;
    double e = adj_vm_double(ADJ_VM_SHIFTER_BITS + ((e12 ^ 0x800u) - 0x800u)) - ADJ_VM_SHIFTER_D;
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double R = z * (0x1.555554fdc5856p-1 +
                z * (0x1.999a7a528c119p-2 +
                z * (0x1.2438e25b770e9p-2 +
                z * 0x1.e2f531c3db8ecp-3)));
    double hfsq = 0.5 * f * f;
    double l = e * 0x1.62e42fefa39efp-1 + (f - (hfsq - s * (hfsq + R)));
    l = a == 0 ? -(double)INFINITY : l;
    l = a == (double)INFINITY ? a : l;
    l = a != a ? a : l;
    double t = c * l;
    t = t > 100.0 ? 100.0 : t;
    t = t < -110.0 ? -110.0 : t;
    double k = (t * ADJ_VM_LOG2E_D + ADJ_VM_SHIFTER_D) - ADJ_VM_SHIFTER_D;
    double r = (t - k * ADJ_VM_LN2_HI_D) - k * ADJ_VM_LN2_LO_D;
    double q = 0x1.0000003a3b336p-1 +
               r * (0x1.55555442cc02ap-3 +
               r * (0x1.55548d8e2f478p-5 +
               r * (0x1.11127110c8b6ep-7 +
               r * (0x1.6d8d39df19d15p-10 +
               r * 0x1.9f087559f0ff2p-13))));
    return (1.0 + (r + (r * r) * q)) * adj_vm_pow2(k);
}

/*
 * float32 x^c = e^(c ln|x|) in double (adj_vm_pow_core), rounded once to
 * float: within a float ulp, and exact where x^c is a float (to the
 * extent of the 2^-30 above).  The sign of x is put back when c is an odd
 * integer.  The special cases are C's (and libm's):
 * x^0 = 1 and 1^c = 1 even for NaN, (-1)^(+-Inf) = 1, a finite x < 0 with
 * a non-integer c gives NaN; 0 and Inf come out of ln and exp
 * (ln 0 = -Inf, e^-Inf = 0, ...) with the right signs.
 */
ADJ_VM_INLINE float adj_vpowf(float x, adj_vm_powc p)
{
    double xd = (double)x;
    double v = adj_vm_pow_core(fabs(xd), p.c);
    float y = (float)adj_vm_double(adj_vm_bits64(v) | (adj_vm_bits64(xd) & p.odd));
    y = x < 0 && x > -INFINITY && p.nonint ? NAN : y;
    y = x == 1.0f || p.one ? 1.0f : y;
    return x == -1.0f && p.inf ? 1.0f : y;
}

/* float64: libm (an accurate enough double pow needs a longer log). */
ADJ_VM_INLINE double adj_vm_pow_libm(double x, adj_vm_powc p) { return pow(x, p.c); }

/*
 * Phi(x), the standard normal CDF, of a float x, in double (for GELU).
 * With t = |x| / sqrt 2, erfc(t) = u R(u) e^(-t^2), u = 1 / (1 + t / 2),
 * R a degree-11 polynomial in u (a fit on Chebyshev nodes of u for t in
 * [0, 10.6], beyond which x Phi(x) is below the smallest float; relative
 * error 9.1e-10, 0.02 float ulp); Phi(x) = erfc(t) / 2 for x < 0, else
 * 1 - erfc(t) / 2, so nothing cancels.  x^2 / 2 is exact in double.  *e
 * gets e^(-x^2 / 2), which the density phi(x) = e / sqrt(2 pi) shares.
 * NaN gives NaN, -Inf 0 and +Inf 1.
 */
ADJ_VM_INLINE double adj_vphif(float xf, double *e)
{
    const double x = (double)xf, t = fabs(x) * 0.70710678118654752440;
    const double u = 1.0 / (1.0 + 0.5 * t);
    double r = -0.031760907054047716;
    r = r * u + 0.23583728435807552;
    r = r * u - 0.7486872308340371;
    r = r * u + 1.2873441689185601;
    r = r * u - 1.2405135516492165;
    r = r * u + 0.65364824251939524;
    r = r * u - 0.29533380906236234;
    r = r * u + 0.16618264841608024;
    r = r * u + 0.16041357537560599;
    r = r * u + 0.24882017458981312;
    r = r * u + 0.28194995609870754;
    r = r * u + 0.28209944826258493;
    *e = adj_vexp(-0.5 * x * x);
    const double q = 0.5 * u * r * *e; /* erfc(t) / 2 */
    return x < 0 ? q : 1.0 - q;
}

/* float and double: the functions above; anything else: libm. */
#define ADJ_EXP(x) _Generic((x), float: adj_vexpf, double: adj_vexp, default: exp)(x)
/* Where every argument of a loop passes ADJ_EXP_NORMAL (adj_slow_ = 0, see
 * ops/unary.h) e^x takes the one-product scaling; same bits either way. */
#define ADJ_EXP_NORMAL(x)                                                                  \
    _Generic((x), float: (x) >= -87.0f && (x) <= 88.0f, default: (x) >= -708.0 && (x) <= 709.0)
#define ADJ_EXP_BLK(x)                                                                     \
    (adj_slow_ ? ADJ_EXP(x) : _Generic((x), float: adj_vexpf_normal, default: adj_vexp_normal)(x))
#define ADJ_EXPM1(x) _Generic((x), float: adj_vexpm1f, double: adj_vexpm1, default: expm1)(x)
#define ADJ_LOG(x) _Generic((x), float: adj_vlogf, double: adj_vlog, default: log)(x)
#define ADJ_LOG1P(x) _Generic((x), float: adj_vlog1pf, double: adj_vlog1p, default: log1p)(x)
/* ln(1 + x) for x in [0, 1] or NaN only */
#define ADJ_LOG1P_UNIT(x) _Generic((x), float: adj_vlog1p_unitf, double: adj_vlog1p_unit, default: log1p)(x)
#define ADJ_TANH(x) _Generic((x), float: adj_vtanhf, double: adj_vtanh, default: tanh)(x)
#define ADJ_POW(x, pc) _Generic((x), float: adj_vpowf, default: adj_vm_pow_libm)(x, pc)

/*
 * sin and cos in an elementwise loop: adj_slow_ (0 or 1, a constant in
 * scope, see ops/unary.h) says whether every argument of the loop passes
 * ADJ_TRIG_OK (the vectorised kernels) or some may not (the kernels or
 * libm, per element).
 */
#define ADJ_SIN(x)                                                                         \
    (adj_slow_ ? _Generic((x), float: adj_vm_sinf_any, default: adj_vm_sin_any)(x)         \
               : _Generic((x), float: adj_vsinf, default: adj_vsin)(x))
#define ADJ_COS(x)                                                                         \
    (adj_slow_ ? _Generic((x), float: adj_vm_cosf_any, default: adj_vm_cos_any)(x)         \
               : _Generic((x), float: adj_vcosf, default: adj_vcos)(x))

#endif
