/*
 * The exp, expm1, log, log1p, tanh, sin, cos and pow kernels of
 * src/ops/vmath.h, and the per-CPU variants of the elementwise ops
 * (src/ops/dispatch.h).
 *
 * sin and cos are checked through adj_vm_sin[f]_any and friends: the
 * vectorised kernels for |x| <= 2^20 (in float32: the float kernel to
 * 2^12, the double one above), libm beyond, as the ops do; so the sweeps
 * over all bit patterns apply to them too.  Setting
 * ADJ_VMATH_EXHAUSTIVE=1 in the environment also checks every float of
 * the kernels' range (about 2.5 * 10^9 per function; a few minutes).
 *
 * float32: the reference is the double-precision libm function at the same
 * float argument; the error of a result y is |y - ref| in units of the
 * float ulp at ref (2^-149 in the subnormal range), and must be at most
 * 2 ulp.  The sweep visits every 61st float bit pattern (about 7 * 10^7
 * arguments per function: both signs, subnormals, infinities and NaNs
 * included), run through an array loop as the op kernels do.
 *
 * float64: the reference is the long double libm function (64-bit
 * significand on x86), the error is counted in double ulps (2^-1074 in
 * the subnormal range) and must be at most 2 ulp.  Each function gets
 * 1.2 * 10^7 pseudo-random arguments: random bit patterns, uniform over
 * the range where the result is neither constant nor overflowing,
 * log-uniform magnitudes over every binade, and uniform on [-1, 1]; and,
 * around each point where a kernel switches method, every double in a
 * window of 2^14 plus random arguments within a relative 2^-8.
 *
 * Special values are checked exactly, one by one and through the ops.
 * The float32 GELU (its normal CDF computed in double) is checked through
 * the op against libm's erfc in double.
 */
#include <adjoint.h>

#include "ops/dispatch.h"
#include "ops/op.h"
#include "ops/vmath.h"

#include <check.h>

#include "check_util.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FN_EXP, FN_EXPM1, FN_LOG, FN_LOG1P, FN_TANH, FN_SIN, FN_COS, FN_COUNT };
static const char *const fn_names[FN_COUNT] = {"exp", "expm1", "log", "log1p", "tanh", "sin", "cos"};

static void apply(int fn, float *restrict y, const float *restrict x, size_t n)
{
    switch (fn) {
    case FN_EXP:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vexpf(x[i]);
        break;
    case FN_EXPM1:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vexpm1f(x[i]);
        break;
    case FN_LOG:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vlogf(x[i]);
        break;
    case FN_LOG1P:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vlog1pf(x[i]);
        break;
    case FN_SIN:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vm_sinf_any(x[i]);
        break;
    case FN_COS:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vm_cosf_any(x[i]);
        break;
    default:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vtanhf(x[i]);
        break;
    }
}

static double reference(int fn, double x)
{
    switch (fn) {
    case FN_EXP: return exp(x);
    case FN_EXPM1: return expm1(x);
    case FN_LOG: return log(x);
    case FN_LOG1P: return log1p(x);
    case FN_SIN: return sin(x);
    case FN_COS: return cos(x);
    default: return tanh(x);
    }
}

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The float ulp at v: 2^(e - 23) for v in [2^e, 2^(e+1)), 2^-149 below 2^-126. */
static double ulp_at(double v)
{
    double a = fabs(v);
    if (a < 0x1p-126)
        return 0x1p-149;
    if (a > 0x1.fffffep127)
        a = 0x1.fffffep127;
    int e;
    frexp(a, &e);
    return ldexp(1.0, e - 24);
}

/*
 * The error of y against ref in ulp; an infinite or NaN reference (after
 * rounding to float) must be matched exactly, and a zero one in sign.
 */
static double ulp_error(float y, double ref)
{
    float rf = (float)ref;
    if (isnan(ref))
        return isnan(y) ? 0 : INFINITY;
    if (isinf(rf))
        return y == rf ? 0 : INFINITY;
    if (isnan(y) || isinf(y) || (y == 0 && rf == 0 && signbit(y) != signbit(rf)))
        return INFINITY;
    return fabs((double)y - ref) / ulp_at(ref);
}

START_TEST(sweep_within_2_ulp)
{
    enum { CHUNK = 1 << 16, STRIDE = 61 };
    const int fn = _i;
    float *x = malloc(CHUNK * sizeof *x), *y = malloc(CHUNK * sizeof *y);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    double worst = 0;
    float worst_x = 0;
    uint64_t u = 0;
    while (u < (1ull << 32)) {
        size_t n = 0;
        for (; n < CHUNK && u < (1ull << 32); n++, u += STRIDE)
            x[n] = from_bits((uint32_t)u);
        apply(fn, y, x, n);
        for (size_t i = 0; i < n; i++) {
            double e = ulp_error(y[i], reference(fn, (double)x[i]));
            if (e > worst) {
                worst = e;
                worst_x = x[i];
            }
        }
    }
    ck_assert_msg(worst <= 2.0, "%s: %.3f ulp at x = %a", fn_names[fn], worst, (double)worst_x);
    free(x);
    free(y);
}
END_TEST

/* Every float in a window around the points where the methods change. */
START_TEST(windows_within_2_ulp)
{
    static const float centres[] = {0.0f, 0.625f, -0.625f, 1.0f, -1.0f, 0.70710677f, 1.4142135f,
                                    0.34657359f, -0.34657359f, 16.6f, 88.72f, -87.33f, -103.97f,
                                    0x1p-126f, 9.0f,
                                    /* sin, cos: multiples of pi/2 and pi/4, ends of the range */
                                    1.5707964f, 3.1415927f, 4.712389f, 6.2831855f, 0.7853982f,
                                    2.3561945f, 0x1p-12f, 0x1p20f, 100000.0f, 823549.6f,
                                    1.0e6f, 0x1p12f, 0x1.f9cbe2p+7f, 0x1.17cc5p+11f, 4000.0f};
    enum { HALF = 1 << 14, N = 2 * HALF };
    static float x[N], y[N];
    const int fn = _i;
    for (size_t c = 0; c < sizeof centres / sizeof centres[0]; c++) {
        float x0 = centres[c];
        uint32_t b;
        memcpy(&b, &x0, sizeof b);
        for (int i = 0; i < N; i++)
            x[i] = from_bits(b - HALF + (uint32_t)i);
        apply(fn, y, x, N);
        for (int i = 0; i < N; i++) {
            double e = ulp_error(y[i], reference(fn, (double)x[i]));
            ck_assert_msg(e <= 2.0, "%s(%a): %a, %.3f ulp", fn_names[fn], (double)x[i], (double)y[i], e);
        }
    }
}
END_TEST

static int same(float a, float b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

#define CHECK_EXACT(call, want)                                                                    \
    do {                                                                                       \
        float got_ = (call), want_ = (want);                                                   \
        ck_assert_msg(same(got_, want_), "%s = %a, want %a", #call, (double)got_, (double)want_); \
    } while (0)

START_TEST(special_values)
{
    const float inf = INFINITY, nan = NAN, sub = 0x1p-140f;
    CHECK_EXACT(adj_vexpf(nan), nan);
    CHECK_EXACT(adj_vexpf(inf), inf);
    CHECK_EXACT(adj_vexpf(-inf), 0.0f);
    CHECK_EXACT(adj_vexpf(89.0f), inf);
    CHECK_EXACT(adj_vexpf(1e30f), inf);
    CHECK_EXACT(adj_vexpf(-104.0f), 0.0f);
    CHECK_EXACT(adj_vexpf(-1e30f), 0.0f);
    CHECK_EXACT(adj_vexpf(0.0f), 1.0f);
    CHECK_EXACT(adj_vexpf(-0.0f), 1.0f);
    CHECK_EXACT(adj_vexpf(sub), 1.0f);
    CHECK_EXACT(adj_vexpf(-100.0f), (float)exp(-100.0)); /* subnormal result */
    CHECK_EXACT(adj_vexpf(88.0f), (float)exp(88.0));

    CHECK_EXACT(adj_vexpm1f(nan), nan);
    CHECK_EXACT(adj_vexpm1f(inf), inf);
    CHECK_EXACT(adj_vexpm1f(-inf), -1.0f);
    CHECK_EXACT(adj_vexpm1f(100.0f), inf);
    CHECK_EXACT(adj_vexpm1f(-100.0f), -1.0f);
    CHECK_EXACT(adj_vexpm1f(0.0f), 0.0f);
    CHECK_EXACT(adj_vexpm1f(-0.0f), -0.0f);
    CHECK_EXACT(adj_vexpm1f(sub), sub);
    CHECK_EXACT(adj_vexpm1f(-sub), -sub);

    CHECK_EXACT(adj_vlogf(nan), nan);
    CHECK_EXACT(adj_vlogf(inf), inf);
    CHECK_EXACT(adj_vlogf(-inf), nan);
    CHECK_EXACT(adj_vlogf(0.0f), -inf);
    CHECK_EXACT(adj_vlogf(-0.0f), -inf);
    CHECK_EXACT(adj_vlogf(-1.0f), nan);
    CHECK_EXACT(adj_vlogf(-sub), nan);
    CHECK_EXACT(adj_vlogf(1.0f), 0.0f);
    CHECK_EXACT(adj_vlogf(0x1p-149f), (float)log(0x1p-149));
    CHECK_EXACT(adj_vlogf(0x1.fffffep127f), (float)log(0x1.fffffep127));

    CHECK_EXACT(adj_vlog1pf(nan), nan);
    CHECK_EXACT(adj_vlog1pf(inf), inf);
    CHECK_EXACT(adj_vlog1pf(-inf), nan);
    CHECK_EXACT(adj_vlog1pf(-1.0f), -inf);
    CHECK_EXACT(adj_vlog1pf(-2.0f), nan);
    CHECK_EXACT(adj_vlog1pf(0.0f), 0.0f);
    CHECK_EXACT(adj_vlog1pf(-0.0f), -0.0f);
    CHECK_EXACT(adj_vlog1pf(sub), sub);
    CHECK_EXACT(adj_vlog1pf(-sub), -sub);

    CHECK_EXACT(adj_vtanhf(nan), nan);
    CHECK_EXACT(adj_vtanhf(inf), 1.0f);
    CHECK_EXACT(adj_vtanhf(-inf), -1.0f);
    CHECK_EXACT(adj_vtanhf(50.0f), 1.0f);
    CHECK_EXACT(adj_vtanhf(-50.0f), -1.0f);
    CHECK_EXACT(adj_vtanhf(0.0f), 0.0f);
    CHECK_EXACT(adj_vtanhf(-0.0f), -0.0f);
    CHECK_EXACT(adj_vtanhf(sub), sub);
    CHECK_EXACT(adj_vtanhf(-sub), -sub);
}
END_TEST

/* The same values through the f32 op kernels (array loops in the library). */
START_TEST(special_values_through_ops)
{
    enum { N = 9 };
    const float xs[N] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 100.0f, -200.0f, 0x1p-140f, -1.0f};
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f32(t, 1, (int64_t[]){N}, xs);
    adj_var *ye = adj_exp(x), *yl = adj_log(x), *yt = adj_tanh(x), *ys = adj_sigmoid(x);
    adj_var *ysp = adj_softplus(x), *yelu = adj_elu(x, 1.0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    for (int i = 0; i < N; i++) {
        double xd = (double)xs[i];
        double sg = xd >= 0 ? 1 / (1 + exp(-xd)) : exp(xd) / (1 + exp(xd));
        double sp = (xd > 0 ? xd : 0) + log1p(exp(-fabs(xd)));
        double el = xd >= 0 ? xd : expm1(xd);
        const struct {
            adj_var *v;
            double want;
        } cases[] = {{ye, exp(xd)}, {yl, log(xd)}, {yt, tanh(xd)}, {ys, sg}, {ysp, sp}, {yelu, el}};
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            float got = (float)adj_value_at(cases[k].v, (size_t)i);
            ck_assert_msg(ulp_error(got, cases[k].want) <= 2.0, "op %zu at x = %a: %a, want %a", k, xd,
                          (double)got, cases[k].want);
        }
    }
    adj_tape_free(t);
}
END_TEST

/* ---------------------------------------------------------------- float64 */

static void apply64(int fn, double *restrict y, const double *restrict x, size_t n)
{
    switch (fn) {
    case FN_EXP:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vexp(x[i]);
        break;
    case FN_EXPM1:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vexpm1(x[i]);
        break;
    case FN_LOG:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vlog(x[i]);
        break;
    case FN_LOG1P:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vlog1p(x[i]);
        break;
    case FN_SIN:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vm_sin_any(x[i]);
        break;
    case FN_COS:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vm_cos_any(x[i]);
        break;
    default:
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vtanh(x[i]);
        break;
    }
}

static long double reference64(int fn, double x)
{
    switch (fn) {
    case FN_EXP: return expl((long double)x);
    case FN_EXPM1: return expm1l((long double)x);
    case FN_LOG: return logl((long double)x);
    case FN_LOG1P: return log1pl((long double)x);
    case FN_SIN: return sinl((long double)x);
    case FN_COS: return cosl((long double)x);
    default: return tanhl((long double)x);
    }
}

static double from_bits64(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static uint64_t to_bits64(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* The double ulp at v: 2^(e - 53) for v in [2^(e-1), 2^e), 2^-1074 below 2^-1022. */
static long double ulp64_at(long double v)
{
    long double a = fabsl(v);
    if (a < 0x1p-1022L)
        return 0x1p-1074L;
    if (a > (long double)DBL_MAX)
        a = (long double)DBL_MAX;
    int e;
    frexpl(a, &e);
    return ldexpl(1.0L, e - 53);
}

/* As ulp_error, in double ulps against a long double reference. */
static double ulp_error64(double y, long double ref)
{
    double rd = (double)ref;
    if (isnan(ref))
        return isnan(y) ? 0 : INFINITY;
    if (isinf(rd))
        return y == rd ? 0 : INFINITY;
    if (isnan(y) || isinf(y) || (y == 0 && rd == 0 && signbit(y) != signbit(rd)))
        return INFINITY;
    return (double)(fabsl((long double)y - ref) / ulp64_at(ref));
}

/* xorshift64*: reproducible pseudo-random 64-bit words */
static uint64_t rng64(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* uniform in [0, 1) with 53 random bits */
static double unit64(uint64_t *s)
{
    return (double)(rng64(s) >> 11) * 0x1p-53;
}

/* Where each function is neither constant nor overflowing (plus a margin). */
static const double range_lo[FN_COUNT] = {-750.0, -45.0, 0.0, -1.0, -25.0, -0x1p20, -0x1p20};
static const double range_hi[FN_COUNT] = {712.0, 712.0, 16.0, 16.0, 25.0, 0x1p20, 0x1p20};

/* One pseudo-random argument; mode i % 4 picks the distribution. */
static double random_arg(int fn, size_t i, uint64_t *s)
{
    uint64_t u = rng64(s);
    switch (i % 4) {
    case 0: return from_bits64(u); /* anything: NaNs, infinities, subnormals */
    case 1: return range_lo[fn] + (range_hi[fn] - range_lo[fn]) * unit64(s);
    case 2: { /* log-uniform over every binade, either sign */
        double m = 1.0 + unit64(s);
        double x = ldexp(m, (int)(u % 2100) - 1076);
        return (u >> 32) & 1 ? -x : x;
    }
    default: return 2.0 * unit64(s) - 1.0;
    }
}

static void check_block64(int fn, const double *x, const double *y, size_t n, double *worst,
                          double *worst_x)
{
    for (size_t i = 0; i < n; i++) {
        double e = ulp_error64(y[i], reference64(fn, x[i]));
        if (!(e <= *worst)) {
            *worst = e;
            *worst_x = x[i];
        }
    }
}

START_TEST(random64_within_2_ulp)
{
    enum { CHUNK = 1 << 16, BLOCKS = 184 }; /* 184 * 2^16 = 1.2 * 10^7 */
    const int fn = _i;
    double *x = malloc(CHUNK * sizeof *x), *y = malloc(CHUNK * sizeof *y);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    uint64_t seed = 0x9e3779b97f4a7c15ull + (uint64_t)fn;
    double worst = 0, worst_x = 0;
    for (int b = 0; b < BLOCKS; b++) {
        for (size_t i = 0; i < CHUNK; i++)
            x[i] = random_arg(fn, i, &seed);
        apply64(fn, y, x, CHUNK);
        check_block64(fn, x, y, CHUNK, &worst, &worst_x);
    }
    printf("float64 %s, random: max %.3f ulp at x = %a\n", fn_names[fn], worst, worst_x);
    ck_assert_msg(worst <= 2.0, "%s: %.3f ulp at x = %a", fn_names[fn], worst, worst_x);
    free(x);
    free(y);
}
END_TEST

/* Points where the float64 kernels change method, range or rounding. */
static const double centres64[] = {
    0.0, 0x1p-54, -0x1p-54, 0x1p-1022, 1.0, -1.0, 0.5, 2.0,
    0.70710678118654752, 1.4142135623730951,                 /* log: m range */
    -0.29289321881345248, 0.41421356237309505,              /* log1p: same for 1 + x */
    0.34657359027997264, -0.34657359027997264,              /* exp: k = 0 / +-1 */
    1.0397207708399179, -1.0397207708399179,                 /* k = +-1 / +-2 */
    0.625, -0.625, 19.061547465398498, 20.0,                 /* tanh */
    37.081147102929815, 36.7, -37.43, -40.0,                /* expm1: k = 54, -1 */
    709.43613930310391, 709.78271289338397, 710.0,            /* k = 1024, overflow */
    -708.39641853226408, -745.13321910194111, -746.0,         /* subnormal, 0 */
    -1.0 + 0x1p-40, 0x1p53, DBL_MAX, 0x1p-1074,
    /* sin, cos: k pi/2 (the reduction's hardest arguments), pi/4, the ends */
    1.5707963267948966, 3.1415926535897931, 4.7123889803846897, 6.2831853071795862,
    0.78539816339744828, 2.3561944901923448, 0x1p-26, 0x1p20, 157.07963267948966,
    1570.7963267948967, 19391.480654282997, 102945.27886915713, 823548.093786316,
    1048575.6631739725,
};

START_TEST(windows64_within_2_ulp)
{
    enum { HALF = 1 << 13, N = 2 * HALF };
    static double x[N], y[N];
    const int fn = _i;
    uint64_t seed = 0x0123456789abcdefull + (uint64_t)fn;
    double worst = 0, worst_x = 0;
    for (size_t c = 0; c < sizeof centres64 / sizeof centres64[0]; c++) {
        for (int sign = 0; sign < 2; sign++) {
            double x0 = sign ? -centres64[c] : centres64[c];
            uint64_t b = to_bits64(x0);
            /* every double around x0 (for 0: the smallest of one sign) */
            for (int i = 0; i < N; i++)
                x[i] = x0 == 0 ? from_bits64((uint64_t)i | (sign ? 1ull << 63 : 0))
                               : from_bits64(b - HALF + (uint64_t)i);
            apply64(fn, y, x, N);
            check_block64(fn, x, y, N, &worst, &worst_x);
            /* random within a relative 2^-8 (absolute 2^-8 around 0) */
            for (int i = 0; i < N; i++) {
                double d = (2.0 * unit64(&seed) - 1.0) * 0x1p-8;
                x[i] = x0 == 0 ? d : x0 + x0 * d;
            }
            apply64(fn, y, x, N);
            check_block64(fn, x, y, N, &worst, &worst_x);
        }
    }
    printf("float64 %s, windows: max %.3f ulp at x = %a\n", fn_names[fn], worst, worst_x);
    ck_assert_msg(worst <= 2.0, "%s: %.3f ulp at x = %a", fn_names[fn], worst, worst_x);
}
END_TEST

static int same64(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

#define CHECK_EXACT64(call, want)                                                              \
    do {                                                                                       \
        double got_ = (call), want_ = (want);                                                  \
        ck_assert_msg(same64(got_, want_), "%s = %a, want %a", #call, got_, want_);            \
    } while (0)

START_TEST(special_values64)
{
    const double inf = INFINITY, nan = NAN, sub = 0x1p-1060, tiny = 0x1p-1074;
    CHECK_EXACT64(adj_vexp(nan), nan);
    CHECK_EXACT64(adj_vexp(inf), inf);
    CHECK_EXACT64(adj_vexp(-inf), 0.0);
    CHECK_EXACT64(adj_vexp(709.79), inf);
    CHECK_EXACT64(adj_vexp(710.0), inf);
    CHECK_EXACT64(adj_vexp(1e300), inf);
    CHECK_EXACT64(adj_vexp(-745.2), 0.0);
    CHECK_EXACT64(adj_vexp(-746.0), 0.0);
    CHECK_EXACT64(adj_vexp(-1e300), 0.0);
    CHECK_EXACT64(adj_vexp(0.0), 1.0);
    CHECK_EXACT64(adj_vexp(-0.0), 1.0);
    CHECK_EXACT64(adj_vexp(sub), 1.0);
    CHECK_EXACT64(adj_vexp(-sub), 1.0);
    CHECK_EXACT64(adj_vexp(-745.1), tiny); /* smallest subnormal */
    CHECK_EXACT64(adj_vexp(1.0), 0x1.5bf0a8b145769p+1);
    CHECK_EXACT64(adj_vexp(709.7), 0x1.d75ae7a50ee14p+1023);

    CHECK_EXACT64(adj_vexpm1(nan), nan);
    CHECK_EXACT64(adj_vexpm1(inf), inf);
    CHECK_EXACT64(adj_vexpm1(-inf), -1.0);
    CHECK_EXACT64(adj_vexpm1(709.79), inf);
    CHECK_EXACT64(adj_vexpm1(1e300), inf);
    CHECK_EXACT64(adj_vexpm1(-40.0), -1.0);
    CHECK_EXACT64(adj_vexpm1(-1e300), -1.0);
    CHECK_EXACT64(adj_vexpm1(0.0), 0.0);
    CHECK_EXACT64(adj_vexpm1(-0.0), -0.0);
    CHECK_EXACT64(adj_vexpm1(sub), sub);
    CHECK_EXACT64(adj_vexpm1(-sub), -sub);
    CHECK_EXACT64(adj_vexpm1(tiny), tiny);
    CHECK_EXACT64(adj_vexpm1(0x1p-60), 0x1p-60);

    CHECK_EXACT64(adj_vlog(nan), nan);
    CHECK_EXACT64(adj_vlog(inf), inf);
    CHECK_EXACT64(adj_vlog(-inf), nan);
    CHECK_EXACT64(adj_vlog(0.0), -inf);
    CHECK_EXACT64(adj_vlog(-0.0), -inf);
    CHECK_EXACT64(adj_vlog(-1.0), nan);
    CHECK_EXACT64(adj_vlog(-sub), nan);
    CHECK_EXACT64(adj_vlog(1.0), 0.0);
    CHECK_EXACT64(adj_vlog(2.0), 0x1.62e42fefa39efp-1);
    CHECK_EXACT64(adj_vlog(tiny), -0x1.74385446d71c3p+9);
    CHECK_EXACT64(adj_vlog(DBL_MAX), 0x1.62e42fefa39efp+9);

    CHECK_EXACT64(adj_vlog1p(nan), nan);
    CHECK_EXACT64(adj_vlog1p(inf), inf);
    CHECK_EXACT64(adj_vlog1p(-inf), nan);
    CHECK_EXACT64(adj_vlog1p(-1.0), -inf);
    CHECK_EXACT64(adj_vlog1p(-2.0), nan);
    CHECK_EXACT64(adj_vlog1p(-1.0 - 0x1p-52), nan);
    CHECK_EXACT64(adj_vlog1p(0.0), 0.0);
    CHECK_EXACT64(adj_vlog1p(-0.0), -0.0);
    CHECK_EXACT64(adj_vlog1p(sub), sub);
    CHECK_EXACT64(adj_vlog1p(-sub), -sub);
    CHECK_EXACT64(adj_vlog1p(tiny), tiny);
    CHECK_EXACT64(adj_vlog1p(DBL_MAX), 0x1.62e42fefa39efp+9);

    CHECK_EXACT64(adj_vtanh(nan), nan);
    CHECK_EXACT64(adj_vtanh(inf), 1.0);
    CHECK_EXACT64(adj_vtanh(-inf), -1.0);
    CHECK_EXACT64(adj_vtanh(20.0), 1.0);
    CHECK_EXACT64(adj_vtanh(-50.0), -1.0);
    CHECK_EXACT64(adj_vtanh(DBL_MAX), 1.0);
    CHECK_EXACT64(adj_vtanh(0.0), 0.0);
    CHECK_EXACT64(adj_vtanh(-0.0), -0.0);
    CHECK_EXACT64(adj_vtanh(sub), sub);
    CHECK_EXACT64(adj_vtanh(-sub), -sub);
    CHECK_EXACT64(adj_vtanh(tiny), tiny);
}
END_TEST

/* The same values through the f64 op kernels (array loops in the library). */
START_TEST(special_values64_through_ops)
{
    enum { N = 12 };
    const double xs[N] = {NAN,    INFINITY, -INFINITY, 0.0,     -0.0,        800.0,
                          -800.0, 0x1p-1060, -1.0,     -745.1, 709.7, 0.7};
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 1, (int64_t[]){N}, xs);
    adj_var *ye = adj_exp(x), *yl = adj_log(x), *yt = adj_tanh(x), *ys = adj_sigmoid(x);
    adj_var *ysp = adj_softplus(x), *yelu = adj_elu(x, 1.0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    for (int i = 0; i < N; i++) {
        long double xl = (long double)xs[i];
        long double sg = xl >= 0 ? 1 / (1 + expl(-xl)) : expl(xl) / (1 + expl(xl));
        long double sp = (xl > 0 ? xl : 0) + log1pl(expl(-fabsl(xl)));
        long double el = xl >= 0 ? xl : expm1l(xl);
        const struct {
            adj_var *v;
            long double want;
            double tol;
        } cases[] = {{ye, expl(xl), 2},  {yl, logl(xl), 2},  {yt, tanhl(xl), 2},
                     {ys, sg, 4},       {ysp, sp, 4},       {yelu, el, 2}};
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            double got = adj_value_at(cases[k].v, (size_t)i);
            ck_assert_msg(ulp_error64(got, cases[k].want) <= cases[k].tol,
                          "op %zu at x = %a: %a, want %La", k, xs[i], got, cases[k].want);
        }
    }
    adj_tape_free(t);
}
END_TEST

/* Softmax cross-entropy, log-softmax and BCE in f64 against long double,
 * on rows wider than a block of the row kernels. */
START_TEST(losses64)
{
    enum { R = 3, K = 150 };
    static double z[R * K], tg[R * K];
    int32_t labels[R] = {0, 77, 149};
    uint64_t seed = 42;
    for (int i = 0; i < R * K; i++) {
        z[i] = 40.0 * unit64(&seed) - 20.0;
        tg[i] = unit64(&seed);
    }
    z[5] = 700.0; /* a huge logit: the shift keeps it finite */
    adj_tape *t = adj_tape_new();
    adj_var *vz = adj_tensor_f64(t, 2, (int64_t[]){R, K}, z);
    adj_var *vt = adj_tensor_f64(t, 2, (int64_t[]){R, K}, tg);
    adj_var *ce = adj_softmax_cross_entropy(vz, labels);
    adj_var *ls = adj_log_softmax(vz), *sm = adj_softmax(vz);
    adj_var *bce = adj_bce_with_logits(vz, vt);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    long double ce_want = 0, bce_want = 0;
    for (int r = 0; r < R; r++) {
        long double mx = z[r * K];
        for (int j = 1; j < K; j++)
            mx = fmaxl(mx, z[r * K + j]);
        long double s = 0;
        for (int j = 0; j < K; j++)
            s += expl(z[r * K + j] - mx);
        long double lse = mx + logl(s);
        ce_want += lse - z[r * K + labels[r]];
        for (int j = 0; j < K; j++) {
            long double l = z[r * K + j] - lse;
            double got_l = adj_value_at(ls, (size_t)(r * K + j));
            double got_p = adj_value_at(sm, (size_t)(r * K + j));
            ck_assert_msg(fabsl(got_l - l) <= 1e-13L * (1 + fabsl(l)), "log_softmax %d %d", r, j);
            ck_assert_msg(fabsl(got_p - expl(l)) <= 1e-13L * expl(l) + 0x1p-1074L, "softmax %d %d", r,
                          j);
        }
    }
    for (int i = 0; i < R * K; i++) {
        long double zl = z[i];
        bce_want += (zl > 0 ? zl : 0) - zl * tg[i] + log1pl(expl(-fabsl(zl)));
    }
    ce_want /= R;
    bce_want /= R * K;
    ck_assert_msg(fabsl(adj_value_at(ce, 0) - ce_want) <= 1e-14L * fabsl(ce_want), "ce %a vs %La",
                  adj_value_at(ce, 0), ce_want);
    ck_assert_msg(fabsl(adj_value_at(bce, 0) - bce_want) <= 1e-14L * fabsl(bce_want), "bce %a vs %La",
                  adj_value_at(bce, 0), bce_want);
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------------------ sin, cos, pow */

/* Every float with |x| <= 2^20 through sin and cos (the float kernel up
 * to 2^12, the double one above; not libm), when ADJ_VMATH_EXHAUSTIVE is
 * set. */
START_TEST(trig_exhaustive)
{
    const char *env = getenv("ADJ_VMATH_EXHAUSTIVE");
    if (!env || !*env || *env == '0')
        return;
    enum { CHUNK = 1 << 16 };
    const int fn = _i ? FN_COS : FN_SIN;
    float *x = malloc(CHUNK * sizeof *x), *y = malloc(CHUNK * sizeof *y);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    double worst = 0;
    float worst_x = 0;
    const uint32_t top = 0x49800000u; /* 2^20 */
    for (int sign = 0; sign < 2; sign++) {
        uint64_t u = 0;
        while (u <= top) {
            size_t n = 0;
            for (; n < CHUNK && u <= top; n++, u++)
                x[n] = from_bits((uint32_t)u | (sign ? 0x80000000u : 0));
            apply(fn, y, x, n);
            for (size_t i = 0; i < n; i++) {
                double e = ulp_error(y[i], reference(fn, (double)x[i]));
                if (e > worst) {
                    worst = e;
                    worst_x = x[i];
                }
            }
        }
    }
    printf("float32 %s, every float in [-2^20, 2^20]: max %.3f ulp at x = %a\n", fn_names[fn], worst,
           (double)worst_x);
    ck_assert_msg(worst <= 2.0, "%s: %.3f ulp at x = %a", fn_names[fn], worst, (double)worst_x);
    free(x);
    free(y);
}
END_TEST

START_TEST(trig_special_values)
{
    const float inf = INFINITY, nan = NAN;
    const float fs[] = {0.0f, -0.0f, 0x1p-149f, -0x1p-149f, 0x1p-130f, 0x1p-13f, -0x1p-13f, 1e-5f,
                        0x1p12f, 0x1.000002p12f, -0x1.000002p12f, 0x1p20f, -0x1p20f, 0x1.000002p20f, 1e30f, -3e38f, inf, -inf, nan};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        float x = fs[i];
        double es = ulp_error(adj_vm_sinf_any(x), sin((double)x));
        double ec = ulp_error(adj_vm_cosf_any(x), cos((double)x));
        ck_assert_msg(es <= 1.0 && ec <= 1.0, "sin/cos f32 at %a: %.2f / %.2f ulp", (double)x, es, ec);
    }
    CHECK_EXACT(adj_vm_sinf_any(0.0f), 0.0f);
    CHECK_EXACT(adj_vm_sinf_any(-0.0f), -0.0f);
    CHECK_EXACT(adj_vsinf(-0x1p-149f), -0x1p-149f);
    CHECK_EXACT(adj_vm_sinf_mid(-0x1p-149f), -0x1p-149f);
    CHECK_EXACT(adj_vm_sinf_mid(-0.0f), -0.0f);
    CHECK_EXACT(adj_vm_cosf_any(-0.0f), 1.0f);
    CHECK_EXACT(adj_vm_sinf_any(inf), nan);
    CHECK_EXACT(adj_vm_cosf_any(-inf), nan);
    CHECK_EXACT(adj_vm_sinf_any(nan), nan);
    CHECK_EXACT(adj_vm_sinf_any(1e30f), sinf(1e30f));

    const double ds[] = {0.0, -0.0, 0x1p-1074, -0x1p-1074, 0x1p-1022, 0x1p-27, -0x1p-27, 1e-9,
                         0x1p20, -0x1p20, 0x1.0000000000001p20, 1e300, -DBL_MAX, inf, -inf, nan};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        double x = ds[i];
        double es = ulp_error64(adj_vm_sin_any(x), sinl((long double)x));
        double ec = ulp_error64(adj_vm_cos_any(x), cosl((long double)x));
        ck_assert_msg(es <= 1.0 && ec <= 1.0, "sin/cos f64 at %a: %.2f / %.2f ulp", x, es, ec);
    }
    CHECK_EXACT64(adj_vm_sin_any(-0.0), -0.0);
    CHECK_EXACT64(adj_vsin(-0x1p-1074), -0x1p-1074);
    CHECK_EXACT64(adj_vm_cos_any(-0.0), 1.0);
    CHECK_EXACT64(adj_vm_sin_any(-inf), nan);
    CHECK_EXACT64(adj_vm_cos_any(nan), nan);
    CHECK_EXACT64(adj_vm_cos_any(1e300), cos(1e300));
}
END_TEST

/* Exponents for pow: integers odd and even, fractions, both signs. */
static const double pow_exps[] = {2.5, 3.0, 2.0, -1.0, -2.0, -3.0, 0.5, -0.5, 1.0 / 3.0, 7.0,
                                  -2.5, 0.1, 1.0, 11.0, 16777215.0, 1e-3};

/* float32 x^c against double pow over every 61st bit pattern, for each c. */
START_TEST(pow32_within_1_ulp)
{
    enum { CHUNK = 1 << 16, STRIDE = 977 };
    const double c = (float)pow_exps[_i]; /* the f32 op's constant is a float */
    const adj_vm_powc pc = adj_vm_powc_of(c);
    float *x = malloc(CHUNK * sizeof *x), *y = malloc(CHUNK * sizeof *y);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    double worst = 0;
    float worst_x = 0;
    uint64_t u = (uint64_t)_i;
    while (u < (1ull << 32)) {
        size_t n = 0;
        for (; n < CHUNK && u < (1ull << 32); n++, u += STRIDE)
            x[n] = from_bits((uint32_t)u);
        for (size_t i = 0; i < n; i++)
            y[i] = adj_vpowf(x[i], pc);
        for (size_t i = 0; i < n; i++) {
            double e = ulp_error(y[i], pow((double)x[i], c));
            if (e > worst) {
                worst = e;
                worst_x = x[i];
            }
        }
    }
    printf("float32 pow(x, %g), every 977th float: max %.3f ulp at x = %a\n", c, worst, (double)worst_x);
    ck_assert_msg(worst <= 1.0, "pow(x, %g): %.3f ulp at x = %a", c, worst, (double)worst_x);
    free(x);
    free(y);
}
END_TEST

/* The special cases of C's pow, against libm's powf: 0, Inf, NaN and +-1
 * results exactly (sign included), the others within an ulp. */
START_TEST(pow32_special_values)
{
    const float inf = INFINITY, nan = NAN;
    const float xs[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.5f, -0.5f, inf, -inf, nan,
                        0x1p-149f, -0x1p-149f, 0x1p-130f, 3e38f, -3e38f, 10.0f, -10.0f, 1.0000001f};
    const float cs[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 3.0f, -3.0f, 0.5f, -0.5f, 2.5f,
                        -2.5f, inf, -inf, nan, 16777215.0f, -16777215.0f, 1e10f, 1e-10f, 127.0f,
                        -149.0f, 128.0f};
    for (size_t j = 0; j < sizeof cs / sizeof cs[0]; j++) {
        const adj_vm_powc pc = adj_vm_powc_of((double)cs[j]);
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            float got = adj_vpowf(xs[i], pc), want = powf(xs[i], cs[j]);
            if (isnan(want) || isinf(want) || want == 0 || fabsf(want) == 1.0f)
                ck_assert_msg(same(got, want), "pow(%a, %a) = %a, want %a", (double)xs[i],
                              (double)cs[j], (double)got, (double)want);
            else
                ck_assert_msg(ulp_error(got, pow((double)xs[i], (double)cs[j])) <= 1.0,
                              "pow(%a, %a) = %a, want %a", (double)xs[i], (double)cs[j], (double)got,
                              (double)want);
        }
    }
}
END_TEST

/* softplus through the op: float32 over every 61st bit pattern against
 * double, float64 on random arguments against long double. */
START_TEST(softplus_accuracy)
{
    enum { CHUNK = 1 << 16, STRIDE = 61 };
    static float xf[CHUNK];
    static double xd[CHUNK];
    adj_tape *t = adj_tape_new();
    ck_assert_ptr_nonnull(t);
    double worst = 0, worst_x = 0;
    uint64_t u = 0;
    while (u < (1ull << 32)) {
        size_t n = 0;
        for (; n < CHUNK && u < (1ull << 32); n++, u += STRIDE)
            xf[n] = from_bits((uint32_t)u);
        adj_tape_reset(t);
        adj_var *y = adj_softplus(adj_tensor_f32(t, 1, (int64_t[]){(int64_t)n}, xf));
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        const float *yv = adj_h_raw(y)->value;
        for (size_t i = 0; i < n; i++) {
            double x = xf[i];
            double e = ulp_error(yv[i], (x > 0 ? x : 0) + log1p(exp(-fabs(x))));
            if (e > worst) {
                worst = e;
                worst_x = x;
            }
        }
    }
    printf("float32 softplus, every 61st float: max %.3f ulp at x = %a\n", worst, worst_x);
    ck_assert_msg(worst <= 2.0, "softplus f32: %.3f ulp at x = %a", worst, worst_x);
    worst = 0;
    uint64_t seed = 77;
    for (int b = 0; b < 16; b++) {
        for (size_t i = 0; i < CHUNK; i++)
            xd[i] = i % 2 ? 80.0 * unit64(&seed) - 40.0 : random_arg(FN_EXP, i, &seed);
        adj_tape_reset(t);
        adj_var *y = adj_softplus(adj_tensor_f64(t, 1, (int64_t[]){CHUNK}, xd));
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        const double *yv = adj_h_raw(y)->value;
        for (size_t i = 0; i < CHUNK; i++) {
            long double x = xd[i];
            double e = ulp_error64(yv[i], (x > 0 ? x : 0) + log1pl(expl(-fabsl(x))));
            if (e > worst) {
                worst = e;
                worst_x = xd[i];
            }
        }
    }
    printf("float64 softplus, random: max %.3f ulp at x = %a\n", worst, worst_x);
    ck_assert_msg(worst <= 2.0, "softplus f64: %.3f ulp at x = %a", worst, worst_x);
    adj_tape_free(t);
}
END_TEST

/* float32 GELU (erf form) through the op, forward and backward, every 61st
 * float: y = x Phi(x) against x erfc(-x / sqrt 2) / 2 in double, within
 * 2 ulp; y' = Phi(x) + x phi(x) within 2 ulp of the larger of its two
 * terms (the sum cancels near x = -0.75, in any precision). */
START_TEST(gelu32_accuracy)
{
    enum { CHUNK = 1 << 16, STRIDE = 61 };
    static float xf[CHUNK], ones[CHUNK];
    for (size_t i = 0; i < CHUNK; i++)
        ones[i] = 1.0f;
    adj_tape *t = adj_tape_new();
    ck_assert_ptr_nonnull(t);
    double worst = 0, worst_x = 0, worst_b = 0, worst_bx = 0;
    uint64_t u = 0;
    while (u < (1ull << 32)) {
        size_t n = 0;
        for (; n < CHUNK && u < (1ull << 32); n++, u += STRIDE)
            xf[n] = from_bits((uint32_t)u);
        adj_tape_reset(t);
        adj_var *x = adj_tensor_f32(t, 1, (int64_t[]){(int64_t)n}, xf);
        adj_var *y = adj_gelu(x);
        ck_assert_int_eq(adj_backward_seeded_as(y, ADJ_F32, ones), ADJ_OK);
        const float *yv = adj_h_raw(y)->value, *gv = adj_grad_data(x);
        for (size_t i = 0; i < n; i++) {
            const double xd = xf[i], ph = 0.5 * erfc(-xd * 0.70710678118654752440);
            const double pd = 0.39894228040143267794 * exp(-0.5 * xd * xd);
            double e = ulp_error(yv[i], xd * ph);
            if (e > worst)
                worst = e, worst_x = xd;
            if (isnan(xd) || isinf(xd))
                continue;
            const double big = fmax(fabs(ph), fabs(xd * pd)), ref = ph + xd * pd;
            e = fabs((double)gv[i] - ref) / ulp_at(big);
            if (e > worst_b)
                worst_b = e, worst_bx = xd;
        }
    }
    printf("float32 gelu, every 61st float: max %.3f ulp at x = %a; gelu' %.3f ulp at x = %a\n",
           worst, worst_x, worst_b, worst_bx);
    ck_assert_msg(worst <= 2.0, "gelu f32: %.3f ulp at x = %a", worst, worst_x);
    ck_assert_msg(worst_b <= 2.0, "gelu' f32: %.3f ulp at x = %a", worst_b, worst_bx);
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------- per-CPU variants of the ops */

enum { DN = 4099 }; /* four blocks of the guarded loops and a ragged end */

/* Inputs: specials and extremes in the first block, ordinary values in the
 * next two (blocks where every sin/cos argument is in range), anything in
 * the last. */
static void dispatch_inputs(double *x, uint64_t seed, int f64)
{
    static const double sp[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN, 1.0, -1.0, 0.5, 2.0,
                                0x1p20, -0x1p20, 0x1.0000000000001p20, 1e30, -1e30, 3e38, -3e38,
                                1e300, -1e300, 0x1p-149, -0x1p-149, 0x1p-130, 0x1p-1074,
                                -0x1p-1074, 0x1p-1022, 88.8, -104.0, 710.0, -746.0, 1e-8, -1e-8,
                                1.5707963267948966, 3.1415926535897931, 1048575.6631739725};
    const size_t nsp = sizeof sp / sizeof sp[0];
    for (size_t i = 0; i < DN; i++) {
        uint64_t u = rng64(&seed);
        if (i < nsp)
            x[i] = sp[i];
        else if (i < 1024)
            x[i] = ldexp(1.0 + unit64(&seed), (int)(u % (f64 ? 2100 : 300)) - (f64 ? 1076 : 150)) *
                   ((u >> 40) & 1 ? -1 : 1);
        else if (i < 3072)
            x[i] = 8.0 * unit64(&seed) - 4.0;
        else
            x[i] = f64 ? from_bits64(u) : (double)from_bits((uint32_t)u);
    }
}

/* Forward, backward and JVP of op d (constant c) at one level, into out
 * (3 * DN elements of dtype). */
static void run_op_at_level(const adj_op_desc *d, adj_op op, adj_dtype dt, double c, int level,
                            const void *x, const void *dy, const void *tx, void *out)
{
    ck_assert_int_eq(adj_vm_force_level(level), level);
    const size_t es = dt == ADJ_F64 ? 8 : 4;
    adj_tape *t = adj_tape_new();
    ck_assert_ptr_nonnull(t);
    adj_var *xv = adj_leaf_view(t, dt, 1, (int64_t[]){DN}, (void *)(uintptr_t)x, 1, __FILE__, __LINE__);
    adj_attr_c a = {c};
    adj_var *y = adj_h_raw(adj_record(op, &xv, 1, &a, __FILE__, __LINE__));
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    memcpy(out, y->value, DN * es);
    y->grad = (void *)(uintptr_t)dy;
    d->backward(y);
    void *g = adj_grad_buf(xv);
    ck_assert_ptr_nonnull(g);
    memcpy((char *)out + DN * es, g, DN * es);
    const void *txs[1] = {tx};
    d->jvp(y, txs, (char *)out + 2 * DN * es);
    adj_tape_free(t);
}

/* Every elementwise unary op, f32 and f64, forward, backward and JVP:
 * every CPU level gives the same bits as the baseline (a NaN may be any
 * NaN: C does not fix NaN payloads). */
START_TEST(levels_bit_identical)
{
    const int maxl = adj_vm_max_level();
    printf("kernel levels on this CPU: 0..%d\n", maxl);
    static double xd[DN], dyd[DN], txd[DN];
    static float xf[DN], dyf[DN], txf[DN];
    static unsigned char base[3 * DN * 8], got[3 * DN * 8];
    int checked = 0;
    for (int op = 1; op < ADJ_OP_COUNT; op++) {
        const adj_op_desc *d = adj_op_table[op];
        if (d->arity != 1 || !d->scalar_fwd)
            continue;
        const double cs[] = {d->test_arg, 3.0, -0.5, 0.0};
        const int ncs = d->test_arg != 0 ? 4 : 1;
        for (int f64 = 0; f64 < 2; f64++) {
            const adj_dtype dt = f64 ? ADJ_F64 : ADJ_F32;
            dispatch_inputs(xd, 11 + (uint64_t)op, f64);
            dispatch_inputs(dyd, 99, f64);
            dispatch_inputs(txd, 7, f64);
            for (int i = 0; i < DN; i++) { /* upstream values: mostly ordinary */
                if (i % 7 != 0) {
                    dyd[i] = xd[(i * 31) % DN] > 0 ? 0.75 : -1.25;
                    txd[i] = i % 3 ? 0.5 : -2.0;
                }
                xf[i] = (float)xd[i];
                dyf[i] = (float)dyd[i];
                txf[i] = (float)txd[i];
            }
            const void *x = f64 ? (const void *)xd : xf, *dy = f64 ? (const void *)dyd : dyf;
            const void *tx = f64 ? (const void *)txd : txf;
            const size_t es = f64 ? 8 : 4;
            for (int k = 0; k < ncs; k++) {
                run_op_at_level(d, (adj_op)op, dt, cs[k], ADJ_VM_BASE, x, dy, tx, base);
                for (int l = 1; l <= maxl; l++) {
                    run_op_at_level(d, (adj_op)op, dt, cs[k], l, x, dy, tx, got);
                    for (size_t i = 0; i < 3 * DN; i++) {
                        int same_bits;
                        double gv, bv;
                        if (f64) {
                            double g1, b1;
                            memcpy(&g1, got + i * es, 8);
                            memcpy(&b1, base + i * es, 8);
                            same_bits = same64(g1, b1);
                            gv = g1;
                            bv = b1;
                        } else {
                            float g1, b1;
                            memcpy(&g1, got + i * es, 4);
                            memcpy(&b1, base + i * es, 4);
                            same_bits = same(g1, b1);
                            gv = g1;
                            bv = b1;
                        }
                        ck_assert_msg(same_bits, "%s %s c=%g level %d %s[%zu] (x = %a): %a, level 0 %a",
                                      d->name, f64 ? "f64" : "f32", cs[k], l,
                                      i < DN ? "fwd" : i < 2 * DN ? "bwd" : "jvp", i % DN,
                                      f64 ? xd[i % DN] : (double)xf[i % DN], gv, bv);
                    }
                }
                checked++;
            }
        }
    }
    adj_vm_force_level(-1);
    ck_assert_int_gt(checked, 30);
}
END_TEST

/* Sweep of n values over [-lim, lim], ascending (most blocks of the
 * guarded loops lie inside a kernel's fast range, some straddle its
 * ends), with a NaN, infinities, huge and tiny values dropped into a few
 * blocks. */
static void sweep_with_specials(double *x, size_t n, double lim)
{
    const double sp[] = {NAN, INFINITY, -INFINITY, 1e300, -1e300, 4.9e-324, -0.0, 3e38};
    for (size_t i = 0; i < n; i++)
        x[i] = -lim + 2 * lim * (double)i / (double)(n - 1);
    for (size_t k = 0; k < sizeof sp / sizeof sp[0]; k++)
        x[(k * 7919 + 500) % n] = sp[k];
}

/* The guarded loops (fast code for a block whose arguments all pass the
 * kernel's check) give, element by element, the bits of the general
 * code: for every unary op in f64 against its scalar path (which always
 * runs the general code), and in f32 for exp against adj_vexpf and for
 * sigmoid and softplus (and softplus's derivative) against their
 * formulas over adj_vexpf, at every CPU level. */
START_TEST(blocks_match_general_kernel)
{
    enum { N = 40 * 1024 + 77 };
    static double x[N], y64[N];
    static float xf[N], yf[N];
    const int maxl = adj_vm_max_level();
    for (int l = 0; l <= maxl; l++) {
        ck_assert_int_eq(adj_vm_force_level(l), l);
        for (int op = 1; op < ADJ_OP_COUNT; op++) {
            const adj_op_desc *d = adj_op_table[op];
            if (d->arity != 1 || !d->scalar_fwd)
                continue;
            sweep_with_specials(x, N, op == ADJ_OP_EXP ? 720.0 : 40.0);
            adj_tape *t = adj_tape_new();
            adj_var *xv = adj_leaf_view(t, ADJ_F64, 1, (int64_t[]){N}, x, 0, __FILE__, __LINE__);
            adj_attr_c a = {d->test_arg};
            adj_var *y = adj_record((adj_op)op, &xv, 1, &a, __FILE__, __LINE__);
            ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
            memcpy(y64, adj_h_raw(y)->value, sizeof y64);
            adj_tape_free(t);
            for (size_t i = 0; i < N; i++) {
                double want = d->scalar_fwd(x[i], 0.0, d->attr_size ? &a : NULL);
                ck_assert_msg(same64(y64[i], want), "%s f64 level %d x = %a: %a, general code %a",
                              d->name, l, x[i], y64[i], want);
            }
        }
        sweep_with_specials(x, N, 100.0);
        for (size_t i = 0; i < N; i++)
            xf[i] = (float)x[i];
        adj_tape *t = adj_tape_new();
        adj_var *xv = adj_leaf_view(t, ADJ_F32, 1, (int64_t[]){N}, xf, 0, __FILE__, __LINE__);
        memcpy(yf, adj_h_raw(adj_exp(xv))->value, sizeof yf);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        adj_tape_free(t);
        for (size_t i = 0; i < N; i++)
            ck_assert_msg(same(yf[i], adj_vexpf(xf[i])), "exp f32 level %d x = %a: %a, adj_vexpf %a",
                          l, (double)xf[i], (double)yf[i], (double)adj_vexpf(xf[i]));
        /* sigmoid and softplus (forward and backward) through e^-|x| */
        static float sg[N], sp[N], dsp[N];
        t = adj_tape_new();
        xv = adj_leaf_view(t, ADJ_F32, 1, (int64_t[]){N}, xf, 1, __FILE__, __LINE__);
        memcpy(sg, adj_h_raw(adj_sigmoid(xv))->value, sizeof sg);
        adj_var *spv = adj_sum(adj_softplus(xv));
        memcpy(sp, adj_h_raw(spv)->in[0]->value, sizeof sp);
        ck_assert_int_eq(adj_backward(spv), ADJ_OK);
        memcpy(dsp, adj_grad_data(xv), sizeof dsp);
        adj_tape_free(t);
        for (size_t i = 0; i < N; i++) {
            const float xi = xf[i], e = adj_vexpf(-fabsf(xi));
            const float s1 = xi >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
            const float s2 = (xi > 0 ? xi : 0.0f) + adj_vlog1p_unitf(e);
            ck_assert_msg(same(sg[i], s1), "sigmoid f32 level %d x = %a: %a, want %a", l,
                          (double)xi, (double)sg[i], (double)s1);
            ck_assert_msg(same(sp[i], s2), "softplus f32 level %d x = %a: %a, want %a", l,
                          (double)xi, (double)sp[i], (double)s2);
            ck_assert_msg(same(dsp[i], 1.0f * s1), "softplus' f32 level %d x = %a: %a, want %a", l,
                          (double)xi, (double)dsp[i], (double)s1);
        }
    }
    adj_vm_force_level(-1);
}
END_TEST

static Suite *vmath_suite(void)
{
    Suite *s = suite_create("vmath");
    TCase *tc = tcase_create("accuracy");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, sweep_within_2_ulp, 0, FN_COUNT);
    tcase_add_loop_test(tc, windows_within_2_ulp, 0, FN_COUNT);
    tcase_add_loop_test(tc, random64_within_2_ulp, 0, FN_COUNT);
    tcase_add_loop_test(tc, windows64_within_2_ulp, 0, FN_COUNT);
    tcase_add_loop_test(tc, trig_exhaustive, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("special");
    tcase_add_test(tc, special_values);
    tcase_add_test(tc, special_values_through_ops);
    tcase_add_test(tc, special_values64);
    tcase_add_test(tc, special_values64_through_ops);
    tcase_add_test(tc, losses64);
    tcase_add_test(tc, trig_special_values);
    tcase_add_test(tc, pow32_special_values);
    suite_add_tcase(s, tc);
    tc = tcase_create("pow_softplus");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, pow32_within_1_ulp, 0, (int)(sizeof pow_exps / sizeof pow_exps[0]));
    tcase_add_test(tc, softplus_accuracy);
    tcase_add_test(tc, gelu32_accuracy);
    suite_add_tcase(s, tc);
    tc = tcase_create("dispatch");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, levels_bit_identical);
    tcase_add_test(tc, blocks_match_general_kernel);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(vmath_suite)
