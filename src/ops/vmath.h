/*
 * Internal: exp, expm1, log, log1p and tanh in float32 and float64 that
 * vectorise.
 *
 * Each function is straight-line code: range reduction, a polynomial, a
 * rescale, and selects for the special values.  There are no branches, no
 * table look-ups and no calls, so a loop over an array that calls one of
 * them (after inlining) is vectorised by the compiler at -O2/-O3 with
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
 * Polynomial coefficients are minimax fits (Remez exchange, relative error
 * weight) rounded to the working precision.  Measured errors against a
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
ADJ_VM_INLINE double adj_vexp(double x)
{
    double xc = x > 710.0 ? 710.0 : x;
    xc = xc < -746.0 ? -746.0 : xc;
    double k, c;
    double r = adj_vm_exp_red64(xc, &k, &c);
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
    double p = h + (((1.0 - h) + r) + pl);
    double k1 = (k * 0.5 + ADJ_VM_SHIFTER_D) - ADJ_VM_SHIFTER_D;
    return (p * adj_vm_pow2(k1)) * adj_vm_pow2(k - k1);
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
ADJ_VM_INLINE double adj_vm_log_core64(double x, double eadj, double lo)
{
    uint64_t ix = adj_vm_bits64(x);
    uint64_t d = ix - 0x3fe6a09e667f3bcdu;
    uint64_t etop = d & 0xfff0000000000000u;
    double m = adj_vm_double(ix - etop);
    uint64_t e12 = etop >> 52;
    double e = adj_vm_double(ADJ_VM_SHIFTER_BITS + ((e12 ^ 0x800u) - 0x800u)) - ADJ_VM_SHIFTER_D;
    double f = m - 1.0;
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
    double ef = e + eadj;
    return ef * ADJ_VM_LN2_HI_D + (f - (hfsq - (s * (hfsq + R) + (ef * ADJ_VM_LN2_LO_D + lo))));
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

/* float and double: the functions above; anything else: libm. */
#define ADJ_EXP(x) _Generic((x), float: adj_vexpf, double: adj_vexp, default: exp)(x)
#define ADJ_EXPM1(x) _Generic((x), float: adj_vexpm1f, double: adj_vexpm1, default: expm1)(x)
#define ADJ_LOG(x) _Generic((x), float: adj_vlogf, double: adj_vlog, default: log)(x)
#define ADJ_LOG1P(x) _Generic((x), float: adj_vlog1pf, double: adj_vlog1p, default: log1p)(x)
#define ADJ_TANH(x) _Generic((x), float: adj_vtanhf, double: adj_vtanh, default: tanh)(x)

#endif
