/*
 * The exp, expm1, log, log1p and tanh kernels of src/ops/vmath.h.
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
 */
#include <adjoint.h>

#include "ops/vmath.h"

#include <check.h>

#include "check_util.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FN_EXP, FN_EXPM1, FN_LOG, FN_LOG1P, FN_TANH, FN_COUNT };
static const char *const fn_names[FN_COUNT] = {"exp", "expm1", "log", "log1p", "tanh"};

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
                                    0x1p-126f, 9.0f};
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
static const double range_lo[FN_COUNT] = {-750.0, -45.0, 0.0, -1.0, -25.0};
static const double range_hi[FN_COUNT] = {712.0, 712.0, 16.0, 16.0, 25.0};

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

static Suite *vmath_suite(void)
{
    Suite *s = suite_create("vmath");
    TCase *tc = tcase_create("accuracy");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, sweep_within_2_ulp, 0, FN_COUNT);
    tcase_add_loop_test(tc, windows_within_2_ulp, 0, FN_COUNT);
    tcase_add_loop_test(tc, random64_within_2_ulp, 0, FN_COUNT);
    tcase_add_loop_test(tc, windows64_within_2_ulp, 0, FN_COUNT);
    suite_add_tcase(s, tc);
    tc = tcase_create("special");
    tcase_add_test(tc, special_values);
    tcase_add_test(tc, special_values_through_ops);
    tcase_add_test(tc, special_values64);
    tcase_add_test(tc, special_values64_through_ops);
    tcase_add_test(tc, losses64);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(vmath_suite)
