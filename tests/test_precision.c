/*
 * Precision against exact values: derivatives that would cancel if taken
 * from the output (ELU, sigmoid, tanh far from 0), the softmax family on
 * large logits, and float adjoints summed over many elements.  Every
 * expected value is worked out here from libm (exp, log1p, cosh) in double,
 * never taken from the engine.
 */
#include "check_util.h"

#include <math.h>
#include <stdlib.h>

/* |got - want| <= ulps units of the dtype's epsilon, relative to |want| */
static void near(const char *what, adj_dtype d, double got, double want, double ulps)
{
    double eps = d == ADJ_F32 ? 0x1p-23 : 0x1p-52;
    double tol = ulps * eps * fabs(want);
    ck_assert_msg(fabs(got - want) <= tol, "%s (%s): got %.17g, want %.17g (rel. error %.3g)", what,
                  adj_dtype_name(d), got, want, fabs(got - want) / fabs(want));
}

static adj_var *vec(adj_tape *t, adj_dtype d, int n, const double *v)
{
    if (d == ADJ_F64)
        return adj_tensor_f64(t, 1, ((int64_t[]){n}), v);
    float f[8];
    for (int i = 0; i < n; i++)
        f[i] = (float)v[i];
    return adj_tensor_f32(t, 1, ((int64_t[]){n}), f);
}

/* ------------------------------------------------ derivatives from x */

typedef struct act_case {
    const char *name;
    adj_var *(*f)(adj_var *);
    double x;
    double (*deriv)(double);
    double ulps; /* tolerance in units of the dtype's epsilon (0: 8) */
} act_case;

static adj_var *elu1(adj_var *x) { return adj_elu(x, 1.0); }
static adj_var *elu2(adj_var *x) { return adj_elu(x, 2.0); }
static double d_elu1(double x) { return x >= 0 ? 1 : exp(x); }
static double d_elu2(double x) { return x >= 0 ? 1 : 2 * exp(x); }
/* sigmoid'(x) = 1 / (4 cosh^2(x/2)), tanh'(x) = 1 / cosh^2(x) */
static double d_sigmoid(double x) { return 0.25 / (cosh(x / 2) * cosh(x / 2)); }
static double d_tanh(double x) { return 1 / (cosh(x) * cosh(x)); }
static adj_var *sigm(adj_var *x) { return adj_sigmoid(x); }
static adj_var *silu_(adj_var *x) { return adj_silu(x); }
static adj_var *swish2(adj_var *x) { return adj_swish(x, 2.0); }
static double sg(double x) { return 1 / (1 + exp(-x)); }
/* silu'(x) = s (1 + x sigmoid(-x)); swish(x, b)' = s + b x s sigmoid(-b x) */
static double d_silu(double x) { return sg(x) * (1 + x * sg(-x)); }
static double d_swish2(double x) { return sg(2 * x) + 2 * x * sg(2 * x) * sg(-2 * x); }
static adj_var *tanh_(adj_var *x) { return adj_tanh(x); }

static const act_case acts[] = {
    {"elu(-20)", elu1, -20, d_elu1, 0},   {"elu(-17)", elu1, -17, d_elu1, 0},
    {"elu(-30)", elu1, -30, d_elu1, 0},   {"elu(-0.5)", elu1, -0.5, d_elu1, 0},
    {"elu(-20, 2)", elu2, -20, d_elu2, 0}, {"elu(-3, 2)", elu2, -3, d_elu2, 0},
    {"sigmoid(20)", sigm, 20, d_sigmoid, 0}, {"sigmoid(30)", sigm, 30, d_sigmoid, 0},
    {"sigmoid(-25)", sigm, -25, d_sigmoid, 0}, {"sigmoid(0.3)", sigm, 0.3, d_sigmoid, 0},
    {"tanh(9)", tanh_, 9, d_tanh, 0},     {"tanh(-15)", tanh_, -15, d_tanh, 0},
    {"tanh(30)", tanh_, 30, d_tanh, 0},   {"tanh(0.2)", tanh_, 0.2, d_tanh, 0},
    /* either side of where the backward stops reading only y */
    {"sigmoid(1.99)", sigm, 1.99, d_sigmoid, 0}, {"sigmoid(2.01)", sigm, 2.01, d_sigmoid, 0},
    {"sigmoid(-7)", sigm, -7, d_sigmoid, 0},     {"elu(-1.99)", elu1, -1.99, d_elu1, 0},
    {"elu(-2.01)", elu1, -2.01, d_elu1, 0},      {"elu(-1.99, 2)", elu2, -1.99, d_elu2, 0},
    {"tanh(1.49)", tanh_, 1.49, d_tanh, 0},      {"tanh(-1.51)", tanh_, -1.51, d_tanh, 0},
    {"silu(12)", silu_, 12, d_silu, 3}, {"silu(20)", silu_, 20, d_silu, 3},
    {"silu(-8)", silu_, -8, d_silu, 0},   {"swish(9, 2)", swish2, 9, d_swish2, 0},
};
#define N_ACTS ((int)(sizeof acts / sizeof acts[0]))

/* _i: case, then f64 tensor / f32 tensor / f64 scalar path / forward mode
 * f64 / forward mode f32.  The derivative is 1e-13 ... 1e-8 where the old
 * rules gave 0 (float) or were percent off (double). */
START_TEST(derivative_from_input)
{
    const act_case *c = &acts[_i / 5];
    int mode = _i % 5;
    adj_dtype d = mode == 1 || mode == 4 ? ADJ_F32 : ADJ_F64;
    double x0 = d == ADJ_F32 ? (double)(float)c->x : c->x;
    adj_tape *t = adj_tape_new();
    adj_var *x = mode == 2 ? adj_scalar(t, x0) : vec(t, d, 1, &x0);
    adj_var *y = c->f(x);
    double got;
    if (mode >= 3) {
        double dx = 1;
        const double *v[1] = {&dx};
        ck_assert_int_eq(adj_jvp(y, 1, &x, v, &got), ADJ_OK);
    } else {
        ck_assert_int_eq(adj_backward(adj_sum(y)), ADJ_OK);
        got = adj_grad_at(x, 0);
    }
    near(c->name, d, got, c->deriv(x0), c->ulps > 0 ? c->ulps : 8);
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------- softmax family, large logits */

/* Two logits (a, a - 10): with u = e^-10,
 *   log_softmax = (-log1p(u), -10 - log1p(u)),  softmax = (1, u) / (1 + u),
 *   CE(label 0) = log1p(u), gradient (-u, u) / (1 + u),
 *   CE(label 1) = 10 + log1p(u), gradient (1, -1) / (1 + u). */
static const double bases[] = {1000, 1e5, 11000, 0, -1e4};
#define N_BASES ((int)(sizeof bases / sizeof bases[0]))

static adj_var *pair(adj_tape *t, adj_dtype d, double a)
{
    return vec(t, d, 2, (double[]){a, a - 10});
}

/* _i: base, dtype */
START_TEST(log_softmax_large_logits)
{
    adj_dtype d = _i % 2 ? ADJ_F32 : ADJ_F64;
    double a = bases[_i / 2], u = exp(-10), l = log1p(u);
    adj_tape *t = adj_tape_new();
    adj_var *x = pair(t, d, a);
    adj_var *y = adj_log_softmax(x);
    near("log_softmax[0]", d, adj_value_at(y, 0), -l, 4);
    near("log_softmax[1]", d, adj_value_at(y, 1), -10 - l, 4);
    /* dy = (1, 0): dx = (1 - p0, -p1) = (u, -u) / (1 + u) */
    adj_var *s = adj_sum(adj_mul(y, vec(t, d, 2, (double[]){1, 0})));
    ck_assert_int_eq(adj_backward(s), ADJ_OK);
    near("d log_softmax[0]", d, adj_grad_at(x, 0), u / (1 + u), 8);
    near("d log_softmax[1]", d, adj_grad_at(x, 1), -u / (1 + u), 8);
    /* tangent (1, 0): dy = (1 - p0, -p0) */
    double v0[2] = {1, 0}, out[2];
    const double *v[1] = {v0};
    ck_assert_int_eq(adj_jvp(y, 1, &x, v, out), ADJ_OK);
    near("tangent log_softmax[0]", d, out[0], u / (1 + u), 8);
    near("tangent log_softmax[1]", d, out[1], -1 / (1 + u), 8);
    adj_tape_free(t);
}
END_TEST

START_TEST(softmax_large_logits)
{
    adj_dtype d = _i % 2 ? ADJ_F32 : ADJ_F64;
    double a = bases[_i / 2], u = exp(-10);
    adj_tape *t = adj_tape_new();
    adj_var *x = pair(t, d, a);
    adj_var *y = adj_softmax(x);
    near("softmax[0]", d, adj_value_at(y, 0), 1 / (1 + u), 4);
    near("softmax[1]", d, adj_value_at(y, 1), u / (1 + u), 4);
    /* dy = (1, 0): dx = p0 (1 - p0) (1, -1) = u / (1 + u)^2 (1, -1) */
    adj_var *s = adj_sum(adj_mul(y, vec(t, d, 2, (double[]){1, 0})));
    ck_assert_int_eq(adj_backward(s), ADJ_OK);
    double w = u / ((1 + u) * (1 + u));
    near("d softmax[0]", d, adj_grad_at(x, 0), w, 8);
    near("d softmax[1]", d, adj_grad_at(x, 1), -w, 8);
    double v0[2] = {1, 0}, out[2];
    const double *v[1] = {v0};
    ck_assert_int_eq(adj_jvp(y, 1, &x, v, out), ADJ_OK);
    near("tangent softmax[0]", d, out[0], w, 8);
    near("tangent softmax[1]", d, out[1], -w, 8);
    adj_tape_free(t);
}
END_TEST

/* _i: base, dtype, label */
START_TEST(cross_entropy_large_logits)
{
    int label = _i % 2;
    adj_dtype d = (_i / 2) % 2 ? ADJ_F32 : ADJ_F64;
    double a = bases[_i / 4], u = exp(-10), l = log1p(u);
    adj_tape *t = adj_tape_new();
    adj_var *x = pair(t, d, a);
    int32_t lab[1] = {label};
    adj_var *c = adj_softmax_cross_entropy(x, lab);
    ck_assert_int_eq(adj_backward(c), ADJ_OK);
    double g0 = label ? 1 / (1 + u) : -u / (1 + u);
    near("cross-entropy", d, adj_item(c), label ? 10 + l : l, 4);
    near("d cross-entropy[0]", d, adj_grad_at(x, 0), g0, 8);
    near("d cross-entropy[1]", d, adj_grad_at(x, 1), -g0, 8);
    double v0[2] = {1, 0}, out;
    const double *v[1] = {v0};
    ck_assert_int_eq(adj_jvp(c, 1, &x, v, &out), ADJ_OK);
    near("tangent cross-entropy", d, out, g0, 8);
    adj_tape_free(t);
}
END_TEST

/* The same with adj_cross_entropy (index targets, (1, 2) logits) */
START_TEST(index_cross_entropy_large_logits)
{
    int label = _i % 2;
    adj_dtype d = (_i / 2) % 2 ? ADJ_F32 : ADJ_F64;
    double a = bases[_i / 4], u = exp(-10), l = log1p(u);
    adj_tape *t = adj_tape_new();
    double z[2] = {a, a - 10};
    adj_var *x = d == ADJ_F64 ? adj_tensor_f64(t, 2, ((int64_t[]){1, 2}), z)
                              : adj_tensor_f32(t, 2, ((int64_t[]){1, 2}), ((float[]){(float)z[0], (float)z[1]}));
    adj_var *tg = adj_index(t, 1, ((int64_t[]){1}), ((int32_t[]){label}));
    adj_var *c = adj_cross_entropy(x, tg, -100);
    ck_assert_int_eq(adj_backward(c), ADJ_OK);
    double g0 = label ? 1 / (1 + u) : -u / (1 + u);
    near("cross_entropy", d, adj_item(c), label ? 10 + l : l, 4);
    near("d cross_entropy[0]", d, adj_grad_at(x, 0), g0, 8);
    near("d cross_entropy[1]", d, adj_grad_at(x, 1), -g0, 8);
    double v0[2] = {1, 0}, out;
    const double *v[1] = {v0};
    ck_assert_int_eq(adj_jvp(c, 1, &x, v, &out), ADJ_OK);
    near("tangent cross_entropy", d, out, g0, 8);
    adj_tape_free(t);
}
END_TEST

/* A batch of rows of several sizes, shifted by 1e4: every value and
 * gradient equals the unshifted one (float: within rounding of the result). */
START_TEST(shift_invariance)
{
    adj_dtype d = _i ? ADJ_F32 : ADJ_F64;
    const double z[2][6] = {{3, -1, 0.5, 2, 2.75, -4}, {-0.25, 6, 1, 1.5, -2, 0}};
    int32_t lab[2] = {4, 1};
    double val[2][3], grad[2][3][12];
    for (int shifted = 0; shifted < 2; shifted++) {
        adj_tape *t = adj_tape_new();
        double zz[12];
        for (int i = 0; i < 12; i++)
            zz[i] = z[i / 6][i % 6] + (shifted ? 1e4 : 0);
        adj_var *x[3];
        for (int k = 0; k < 3; k++) {
            float f[12];
            for (int i = 0; i < 12; i++)
                f[i] = (float)zz[i];
            x[k] = d == ADJ_F64 ? adj_tensor_f64(t, 2, ((int64_t[]){2, 6}), zz)
                                : adj_tensor_f32(t, 2, ((int64_t[]){2, 6}), f);
        }
        adj_var *w = adj_tensor_f64(t, 2, ((int64_t[]){2, 6}),
                                    (double[]){1, -2, 0.5, 0, 3, 1, -1, 2, 0.25, 1, 0, -3});
        if (d == ADJ_F32)
            w = adj_tensor_f32(t, 2, ((int64_t[]){2, 6}),
                               (float[]){1, -2, 0.5f, 0, 3, 1, -1, 2, 0.25f, 1, 0, -3});
        adj_var *f[3] = {adj_sum(adj_mul(adj_softmax(x[0]), w)),
                         adj_sum(adj_mul(adj_log_softmax(x[1]), w)),
                         adj_softmax_cross_entropy(x[2], lab)};
        for (int k = 0; k < 3; k++) {
            ck_assert_int_eq(adj_backward(f[k]), ADJ_OK);
            val[shifted][k] = adj_item(f[k]);
            for (int i = 0; i < 12; i++)
                grad[shifted][k][i] = adj_grad_at(x[k], i);
        }
        adj_tape_free(t);
    }
    for (int k = 0; k < 3; k++) {
        near("value shifted by 1e4", d, val[1][k], val[0][k], 4);
        for (int i = 0; i < 12; i++)
            ck_assert_msg(fabs(grad[1][k][i] - grad[0][k][i]) <=
                              8 * (d == ADJ_F32 ? 0x1p-23 : 0x1p-52) * (fabs(grad[0][k][i]) + 1e-3),
                          "function %d, gradient %d: %.17g shifted, %.17g not", k, i,
                          grad[1][k][i], grad[0][k][i]);
    }
}
END_TEST

/* ------------------------------------------- float sums of many terms */

/* A tensor of n elements, all v, of dtype d */
static adj_var *filled(adj_tape *t, adj_dtype d, int ndim, const int64_t *shape, double v)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    adj_var *x;
    if (d == ADJ_F64) {
        double *b = malloc(n * sizeof *b);
        for (size_t i = 0; i < n; i++)
            b[i] = v;
        x = adj_tensor_f64(t, ndim, shape, b);
        free(b);
    } else {
        float *b = malloc(n * sizeof *b);
        for (size_t i = 0; i < n; i++)
            b[i] = (float)v;
        x = adj_tensor_f32(t, ndim, shape, b);
        free(b);
    }
    return x;
}

/* mean(x op y) with x one element and y 10^6: dx = 1 (add, mul by ones),
 * -1 (x subtracted), in either operand position.  Summed one term after
 * another in float, 10^6 terms of 10^-6 give 1.009. */
START_TEST(broadcast_one_element)
{
    adj_dtype d = _i % 2 ? ADJ_F32 : ADJ_F64;
    int form = _i / 2;
    const int64_t n = 1000000;
    adj_tape *t = adj_tape_new();
    adj_var *x = filled(t, d, 1, (int64_t[]){1}, 1.0);
    adj_var *y = filled(t, d, 1, &n, 1.0);
    adj_var *z = form == 0 ? adj_add(x, y) : form == 1 ? adj_add(y, x)
               : form == 2 ? adj_sub(y, x) : form == 3 ? adj_mul(y, x) : adj_div(y, x);
    ck_assert_int_eq(adj_backward(adj_mean(z)), ADJ_OK);
    /* d/dx mean(y / x) = -mean(y) / x^2 = -1 */
    double want = form == 0 || form == 1 || form == 3 ? 1 : -1;
    near("broadcast one-element adjoint", d, adj_grad_at(x, 0), want, 2);
    adj_tape_free(t);
}
END_TEST

/* mean(X + b) and mean(X * b) with b a row of 3 and X (10^5, 3): db = 1/3 */
START_TEST(broadcast_row)
{
    adj_dtype d = _i % 2 ? ADJ_F32 : ADJ_F64;
    adj_tape *t = adj_tape_new();
    adj_var *x = filled(t, d, 2, (int64_t[]){100000, 3}, 1.0);
    adj_var *b = filled(t, d, 1, (int64_t[]){3}, 2.0);
    adj_var *z = _i / 2 ? adj_mul(x, b) : adj_add(x, b);
    ck_assert_int_eq(adj_backward(adj_mean(z)), ADJ_OK);
    for (int c = 0; c < 3; c++)
        near("broadcast row adjoint", d, adj_grad_at(b, (size_t)c), 1.0 / 3, 2);
    adj_tape_free(t);
}
END_TEST

/* The bias gradient of mean(linear(X, W, b)) over 10^5 rows and 2 outputs
 * is 1/2 for each output. */
START_TEST(linear_bias_gradient)
{
    adj_dtype d = _i ? ADJ_F32 : ADJ_F64;
    adj_tape *t = adj_tape_new();
    adj_var *x = filled(t, d, 2, (int64_t[]){100000, 4}, 0.5);
    adj_var *w = filled(t, d, 2, (int64_t[]){2, 4}, 0.25);
    adj_var *b = filled(t, d, 1, (int64_t[]){2}, 1.0);
    ck_assert_int_eq(adj_backward(adj_mean(adj_linear(x, w, b))), ADJ_OK);
    near("bias gradient", d, adj_grad_at(b, 0), 0.5, 2);
    near("bias gradient", d, adj_grad_at(b, 1), 0.5, 2);
    adj_tape_free(t);
}
END_TEST

/* sum_axis and mean_axis of 10^5 copies of 0.1 (as the dtype has it):
 * 10^5 * 0.1f and 0.1f, to the rounding of the result; in forward mode
 * too.  (Float accumulation gives 9998.6 for the sum.) */
START_TEST(axis_sums)
{
    adj_dtype d = _i % 2 ? ADJ_F32 : ADJ_F64;
    int axis = _i / 2; /* 0: (10^5, 2) along 0; 1: (2, 10^5) along 1 */
    const int64_t len = 100000;
    int64_t shape[2] = {axis ? 2 : len, axis ? len : 2};
    double v = d == ADJ_F32 ? (double)0.1f : 0.1;
    adj_tape *t = adj_tape_new();
    adj_var *x = filled(t, d, 2, shape, v);
    adj_var *s = adj_sum_axis(x, axis), *m = adj_mean_axis(x, axis);
    for (int j = 0; j < 2; j++) {
        near("sum_axis", d, adj_value_at(s, (size_t)j), (double)len * v, 1);
        near("mean_axis", d, adj_value_at(m, (size_t)j), v, 1);
    }
    double *ones = malloc((size_t)(2 * len) * sizeof *ones), out[2];
    for (int64_t i = 0; i < 2 * len; i++)
        ones[i] = v;
    const double *tv[1] = {ones};
    ck_assert_int_eq(adj_jvp(s, 1, &x, tv, out), ADJ_OK);
    near("sum_axis tangent", d, out[0], (double)len * v, 1);
    near("sum_axis tangent", d, out[1], (double)len * v, 1);
    free(ones);
    adj_tape_free(t);
}
END_TEST

/* BCE with logits z = 20, target 1: L = log1p(e^-20), dL/dz = -e^-20 / (1 + e^-20);
 * z = -20, target 0 likewise with +; z = 30, target 0.75:
 * L = 7.5 + log1p(e^-30), dL/dz = 0.25 - e^-30 / (1 + e^-30). */
START_TEST(bce_saturated)
{
    adj_dtype d = _i ? ADJ_F32 : ADJ_F64;
    const struct {
        double z, t, l, g;
    } c[] = {{20, 1, log1p(exp(-20)), -exp(-20) / (1 + exp(-20))},
             {-20, 0, log1p(exp(-20)), exp(-20) / (1 + exp(-20))},
             {30, 0.75, 7.5 + log1p(exp(-30)), 0.25 - exp(-30) / (1 + exp(-30))}};
    for (int k = 0; k < 3; k++) {
        adj_tape *t = adj_tape_new();
        adj_var *z = vec(t, d, 1, &c[k].z), *tg = vec(t, d, 1, &c[k].t);
        adj_var *l = adj_bce_with_logits(z, tg);
        ck_assert_int_eq(adj_backward(l), ADJ_OK);
        near("bce", d, adj_item(l), c[k].l, 4);
        near("d bce / dz", d, adj_grad_at(z, 0), c[k].g, 4);
        adj_tape_free(t);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("precision");
    tcase_add_loop_test(tc, derivative_from_input, 0, 5 * N_ACTS);
    tcase_add_loop_test(tc, log_softmax_large_logits, 0, 2 * N_BASES);
    tcase_add_loop_test(tc, softmax_large_logits, 0, 2 * N_BASES);
    tcase_add_loop_test(tc, cross_entropy_large_logits, 0, 4 * N_BASES);
    tcase_add_loop_test(tc, index_cross_entropy_large_logits, 0, 4 * N_BASES);
    tcase_add_loop_test(tc, shift_invariance, 0, 2);
    tcase_add_loop_test(tc, broadcast_one_element, 0, 10);
    tcase_add_loop_test(tc, broadcast_row, 0, 4);
    tcase_add_loop_test(tc, linear_bias_gradient, 0, 2);
    tcase_add_loop_test(tc, axis_sums, 0, 4);
    tcase_add_loop_test(tc, bce_saturated, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
