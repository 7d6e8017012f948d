/*
 * The float32 kernels of src/ops/vmath.h against libm.
 *
 * The reference is the double-precision libm function at the same float
 * argument; the error of a result y is |y - ref| in units of the float ulp
 * at ref (2^-149 in the subnormal range), and must be at most 2 ulp.  The
 * sweep visits every 61st float bit pattern (about 7 * 10^7 arguments per
 * function: both signs, subnormals, infinities and NaNs included), run
 * through an array loop as the op kernels do.  Special values are checked
 * exactly, one by one and through the f32 ops.
 */
#include <adjoint.h>

#include "ops/vmath.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
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

static Suite *vmath_suite(void)
{
    Suite *s = suite_create("vmath");
    TCase *tc = tcase_create("accuracy");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, sweep_within_2_ulp, 0, FN_COUNT);
    tcase_add_loop_test(tc, windows_within_2_ulp, 0, FN_COUNT);
    suite_add_tcase(s, tc);
    tc = tcase_create("special");
    tcase_add_test(tc, special_values);
    tcase_add_test(tc, special_values_through_ops);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vmath_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
