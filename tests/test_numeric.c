/*
 * NaN and Inf, outside anomaly mode.
 *
 * - A NaN input gives a NaN output through every op, f32 and f64, tensor
 *   and scalar paths alike.
 * - Infinite inputs give the limits the math gives (tanh(inf) = 1 with
 *   derivative 0, exp(-inf) = 0, ...), checked against values worked out
 *   by hand.
 * - A zero upstream adjoint never turns into NaN where the local
 *   derivative is infinite (sqrt, log, pow at 0, div by 0, log-softmax at
 *   -inf): the element at the pole receives exactly 0, its neighbours
 *   their ordinary gradient.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <string.h>

typedef adj_var *(*unary)(adj_var *x);

static adj_var *u_neg(adj_var *x) { return adj_neg(x); }
static adj_var *u_scale(adj_var *x) { return adj_scale(x, -2.0); }
static adj_var *u_exp(adj_var *x) { return adj_exp(x); }
static adj_var *u_log(adj_var *x) { return adj_log(x); }
static adj_var *u_sqrt(adj_var *x) { return adj_sqrt(x); }
static adj_var *u_square(adj_var *x) { return adj_square(x); }
static adj_var *u_pow(adj_var *x) { return adj_pow(x, 1.5); }
static adj_var *u_abs(adj_var *x) { return adj_abs(x); }
static adj_var *u_sin(adj_var *x) { return adj_sin(x); }
static adj_var *u_cos(adj_var *x) { return adj_cos(x); }
static adj_var *u_sigmoid(adj_var *x) { return adj_sigmoid(x); }
static adj_var *u_tanh(adj_var *x) { return adj_tanh(x); }
static adj_var *u_relu(adj_var *x) { return adj_relu(x); }
static adj_var *u_leaky(adj_var *x) { return adj_leaky_relu(x, 0.1); }
static adj_var *u_elu(adj_var *x) { return adj_elu(x, 1.0); }
static adj_var *u_softplus(adj_var *x) { return adj_softplus(x); }
/* A constant 1 of x's dtype. */
static adj_var *one_like(adj_var *x)
{
    const double d = 1.0;
    const float f = 1.0f;
    adj_dtype dt = adj_var_dtype(x);
    return adj_leaf_at(adj_var_tape(x), dt, 0, NULL, dt == ADJ_F64 ? (const void *)&d : (const void *)&f,
                       0, __FILE__, __LINE__);
}
static adj_var *u_add(adj_var *x) { return adj_add(x, x); }
static adj_var *u_sub(adj_var *x) { return adj_sub(one_like(x), x); }
static adj_var *u_mul(adj_var *x) { return adj_mul(x, x); }
static adj_var *u_div(adj_var *x) { return adj_div(one_like(x), x); }

/* ±inf limits worked out by hand: f(x) and f'(x). */
typedef struct limit {
    const char *name;
    unary f;
    double x, y, dy;
} limit;

static const limit limits[] = {
    {"exp(+inf)", u_exp, INFINITY, INFINITY, INFINITY},
    {"exp(-inf)", u_exp, -INFINITY, 0, 0},
    {"log(+inf)", u_log, INFINITY, INFINITY, 0},
    {"log(0)", u_log, 0, -INFINITY, INFINITY},
    {"sqrt(+inf)", u_sqrt, INFINITY, INFINITY, 0},
    {"sqrt(0)", u_sqrt, 0, 0, INFINITY},
    {"tanh(+inf)", u_tanh, INFINITY, 1, 0},
    {"tanh(-inf)", u_tanh, -INFINITY, -1, 0},
    {"sigmoid(+inf)", u_sigmoid, INFINITY, 1, 0},
    {"sigmoid(-inf)", u_sigmoid, -INFINITY, 0, 0},
    {"softplus(+inf)", u_softplus, INFINITY, INFINITY, 1},
    {"softplus(-inf)", u_softplus, -INFINITY, 0, 0},
    {"relu(+inf)", u_relu, INFINITY, INFINITY, 1},
    {"relu(-inf)", u_relu, -INFINITY, 0, 0},
    {"leaky(-inf)", u_leaky, -INFINITY, -INFINITY, 0.1},
    {"elu(-inf)", u_elu, -INFINITY, -1, 0},
    {"abs(-inf)", u_abs, -INFINITY, INFINITY, -1},
    {"square(-inf)", u_square, -INFINITY, INFINITY, -INFINITY},
    {"1/(+inf)", u_div, INFINITY, 0, 0},
    {"1/0", u_div, 0, INFINITY, -INFINITY},
    {"neg(+inf)", u_neg, INFINITY, -INFINITY, -1},
};

static adj_var *leaf(adj_tape *t, adj_dtype d, int scalar, double a, double b)
{
    if (scalar && d == ADJ_F64)
        return adj_scalar(t, a);
    if (d == ADJ_F64)
        return adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){a, b}));
    return adj_tensor_f32(t, 1, ((int64_t[]){2}), ((float[]){(float)a, (float)b}));
}

/* _i: limit, dtype f64/f32, tensor or scalar */
START_TEST(infinite_limits)
{
    const limit *l = &limits[_i / 3];
    int mode = _i % 3;
    adj_dtype d = mode == 1 ? ADJ_F32 : ADJ_F64;
    adj_tape *t = adj_tape_new();
    adj_var *x = leaf(t, d, mode == 2, l->x, 0.5);
    adj_var *y = l->f(x);
    ck_assert_int_eq(adj_backward(adj_sum(y)), ADJ_OK);
    double got = adj_value_at(y, 0), g = adj_grad_at(x, 0);
    double want_dy = d == ADJ_F32 ? (double)(float)l->dy : l->dy; /* 0.1 in f32 */
    ck_assert_msg(got == l->y, "%s (%s): f = %g, want %g", l->name, adj_dtype_name(d), got, l->y);
    ck_assert_msg(g == want_dy, "%s (%s): f' = %g, want %g", l->name, adj_dtype_name(d), g, want_dy);
    adj_tape_free(t);
}
END_TEST

static const unary all_unary[] = {u_neg, u_scale, u_exp, u_log, u_sqrt, u_square, u_pow,
                                  u_abs, u_sin, u_cos, u_sigmoid, u_tanh, u_relu, u_leaky,
                                  u_elu, u_softplus, u_add, u_sub, u_mul, u_div};
#define N_UNARY ((int)(sizeof all_unary / sizeof all_unary[0]))

/* NaN in, NaN out, and the neighbour element is untouched by it. */
START_TEST(nan_propagates_everywhere)
{
    unary f = all_unary[_i / 3];
    int mode = _i % 3;
    adj_dtype d = mode == 1 ? ADJ_F32 : ADJ_F64;
    adj_tape *t = adj_tape_new();
    adj_var *x = leaf(t, d, mode == 2, NAN, 0.25);
    adj_var *y = f(x);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_msg(isnan(adj_value_at(y, 0)), "op %d (%s): f(NaN) = %g", _i / 3, adj_dtype_name(d),
                  adj_value_at(y, 0));
    if (mode != 2) {
        adj_var *ref = f(leaf(t, d, 0, 0.25, 0.25));
        ck_assert(adj_value_at(y, 1) == adj_value_at(ref, 1));
    }
    /* a NaN value reaches the loss, so the loss is NaN and backward runs */
    adj_var *L = adj_sum(y);
    ck_assert(isnan(adj_item(L)));
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    adj_tape_free(t);
}
END_TEST

/* Reductions, matrix products, softmax and the losses carry NaN too. */
START_TEST(nan_through_tensor_ops)
{
    adj_tape *t = adj_tape_new();
    const double a[6] = {1, NAN, 3, 4, 5, 6};
    adj_var *A = adj_tensor_f64(t, 2, ((int64_t[]){2, 3}), a);
    adj_var *B = adj_tensor_f64(t, 2, ((int64_t[]){3, 2}), ((double[]){1, 0, 0, 1, 1, 1}));
    adj_var *C = adj_matmul(A, B);
    /* row 0 of A holds the NaN: row 0 of C is NaN, row 1 is exact */
    ck_assert(isnan(adj_value_at(C, 0)) && isnan(adj_value_at(C, 1)));
    ck_assert_double_eq(adj_value_at(C, 2), 4 + 6);
    ck_assert_double_eq(adj_value_at(C, 3), 5 + 6);
    ck_assert(isnan(adj_item(adj_sum(A))));
    ck_assert(isnan(adj_item(adj_mean(A))));
    adj_var *s1 = adj_sum_axis(A, 1);
    ck_assert(isnan(adj_value_at(s1, 0)));
    ck_assert_double_eq(adj_value_at(s1, 1), 15);
    adj_var *sm = adj_softmax(A);
    ck_assert(isnan(adj_value_at(sm, 0)));
    ck_assert_double_eq_tol(adj_value_at(sm, 5), exp(6) / (exp(4) + exp(5) + exp(6)), 1e-15);
    adj_var *ce = adj_softmax_cross_entropy(A, ((int32_t[]){0, 2}));
    ck_assert(isnan(adj_item(ce)));
    ck_assert(isnan(adj_item(adj_mse(A, adj_constant_f64(t, 2, ((int64_t[]){2, 3}), NULL)))));
    ck_assert(isnan(adj_item(adj_bce_with_logits(A, adj_constant_f64(t, 2, ((int64_t[]){2, 3}), NULL)))));
    ck_assert_int_eq(adj_backward(ce), ADJ_OK);
    ck_assert(isnan(adj_grad_at(A, 0)));
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_tape_free(t);
}
END_TEST

/* A masked logit (-inf) is ordinary use: finite loss, zero gradient there. */
START_TEST(minus_inf_logits)
{
    for (int dt = 0; dt < 2; dt++) {
        adj_tape *t = adj_tape_new();
        adj_var *z = dt ? adj_tensor_f32(t, 2, ((int64_t[]){1, 3}), ((float[]){-INFINITY, 0, 1}))
                        : adj_tensor_f64(t, 2, ((int64_t[]){1, 3}), ((double[]){-INFINITY, 0, 1}));
        adj_var *L = adj_softmax_cross_entropy(z, ((int32_t[]){2}));
        ck_assert_int_eq(adj_backward(L), ADJ_OK);
        double p1 = 1 / (1 + exp(1.0)), p2 = exp(1.0) / (1 + exp(1.0));
        ck_assert_double_eq_tol(adj_item(L), -log(p2), dt ? 1e-6 : 1e-15);
        ck_assert_double_eq(adj_grad_at(z, 0), 0.0);
        ck_assert_double_eq_tol(adj_grad_at(z, 1), p1, dt ? 1e-6 : 1e-15);
        ck_assert_double_eq_tol(adj_grad_at(z, 2), p2 - 1, dt ? 1e-6 : 1e-15);

        /* log-softmax at -inf, with the upstream adjoint 0 there */
        adj_tape_reset(t);
        z = dt ? adj_tensor_f32(t, 1, ((int64_t[]){3}), ((float[]){-INFINITY, 0, 1}))
               : adj_tensor_f64(t, 1, ((int64_t[]){3}), ((double[]){-INFINITY, 0, 1}));
        adj_var *ls = adj_log_softmax(z);
        ck_assert(adj_value_at(ls, 0) == -INFINITY);
        adj_var *w = dt ? adj_constant_f32(t, 1, ((int64_t[]){3}), ((float[]){0, 1, 0}))
                        : adj_constant_f64(t, 1, ((int64_t[]){3}), ((double[]){0, 1, 0}));
        ck_assert_int_eq(adj_backward(adj_sum(adj_mul(ls, w))), ADJ_OK);
        /* d/dz_j of log p_1 = [j = 1] - p_j */
        ck_assert_double_eq(adj_grad_at(z, 0), 0.0);
        ck_assert_double_eq_tol(adj_grad_at(z, 1), 1 - p1, dt ? 1e-6 : 1e-15);
        ck_assert_double_eq_tol(adj_grad_at(z, 2), -p2, dt ? 1e-6 : 1e-15);
        adj_tape_free(t);
    }
}
END_TEST

/* Ops with a pole at 0: the element at 0 gets upstream adjoint 0, the
 * other element 1.  want1 is f'(x1), by hand. */
typedef struct pole {
    const char *name;
    unary f;
    double x1, want1;
} pole;

static adj_var *u_pow_half(adj_var *x) { return adj_pow(x, 0.5); }
static adj_var *u_pow_m1(adj_var *x) { return adj_pow(x, -1.0); }
static adj_var *u_pow_m2(adj_var *x) { return adj_pow(x, -2.0); }
static adj_var *u_pow_0(adj_var *x) { return adj_pow(x, 0.0); }
static adj_var *u_div_by(adj_var *x) { return adj_div(adj_scale(one_like(x), 3.0), x); }
static adj_var *u_div_zero_by(adj_var *x) { return adj_div(x, adj_mul(x, x)); }
static adj_var *u_sqrt_sq(adj_var *x) { return adj_sqrt(adj_square(x)); }

static const pole poles[] = {
    {"sqrt", u_sqrt, 4, 0.25},
    {"log", u_log, 2, 0.5},
    {"pow 0.5", u_pow_half, 4, 0.25},
    {"pow -1", u_pow_m1, 2, -0.25},
    {"pow -2", u_pow_m2, 2, -0.25},
    {"pow 0", u_pow_0, 2, 0},
    {"3 / x", u_div_by, 2, -0.75},          /* d(3/x) = -3/x^2 */
    {"x / x^2", u_div_zero_by, 2, -0.25},   /* = 1/x */
    {"sqrt(x^2)", u_sqrt_sq, -3, -1},       /* = |x| */
};

START_TEST(zero_adjoint_at_pole)
{
    const pole *p = &poles[_i / 2];
    adj_dtype d = _i % 2 ? ADJ_F32 : ADJ_F64;
    adj_tape *t = adj_tape_new();
    adj_var *x = leaf(t, d, 0, 0.0, p->x1);
    adj_var *w = d == ADJ_F64 ? adj_constant_f64(t, 1, ((int64_t[]){2}), ((double[]){0, 1}))
                              : adj_constant_f32(t, 1, ((int64_t[]){2}), ((float[]){0, 1}));
    adj_var *y = p->f(x);
    ck_assert_int_eq(adj_backward(adj_sum(adj_mul(y, w))), ADJ_OK);
    ck_assert_msg(adj_grad_at(x, 0) == 0.0, "%s (%s): the pole got %g", p->name, adj_dtype_name(d),
                  adj_grad_at(x, 0));
    ck_assert_double_eq_tol(adj_grad_at(x, 1), p->want1, d == ADJ_F64 ? 1e-15 : 1e-6);

    /* the scalar (f64) path: the same through a zero constant */
    adj_tape_reset(t);
    if (d == ADJ_F64) {
        adj_var *s = adj_scalar(t, 0.0);
        adj_var *zero = adj_constant_f64(t, 0, NULL, ((double[]){0.0}));
        ck_assert_int_eq(adj_backward(adj_mul(p->f(s), zero)), ADJ_OK);
        ck_assert_msg(adj_grad_item(s) == 0.0, "%s scalar: got %g", p->name, adj_grad_item(s));
    }
    adj_tape_free(t);
}
END_TEST

/* Forward mode has the same rule: a zero tangent through a pole is 0. */
START_TEST(zero_tangent_at_pole)
{
    const pole *p = &poles[_i];
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){0.0, p->x1}));
    adj_var *y = p->f(x);
    double v[2] = {0, 1}, out[2];
    const double *vs[1] = {v};
    ck_assert_int_eq(adj_jvp(y, 1, &x, vs, out), ADJ_OK);
    ck_assert_msg(out[0] == 0.0, "%s: tangent %g at the pole", p->name, out[0]);
    ck_assert_double_eq_tol(out[1], p->want1, 1e-15);
    adj_tape_free(t);
}
END_TEST

/* One rule for every reduction over no elements: a sum is 0, a mean (and
 * every loss, a mean) is NaN = 0/0; no error, and backward runs. */
START_TEST(empty_reductions)
{
    adj_dtype d = _i ? ADJ_F32 : ADJ_F64;
    adj_tape *t = adj_tape_new();
    adj_var *e = adj_leaf_at(t, d, 2, ((int64_t[]){0, 3}), NULL, 1, __FILE__, __LINE__);
    adj_var *e2 = adj_leaf_at(t, d, 2, ((int64_t[]){0, 3}), NULL, 1, __FILE__, __LINE__);
    adj_var *z = adj_leaf_at(t, d, 2, ((int64_t[]){2, 0}), NULL, 1, __FILE__, __LINE__);
    int32_t none[1] = {0};
    struct {
        const char *name;
        adj_var *v;
        int nan;
    } r[] = {
        {"sum", adj_sum(e), 0},
        {"mean", adj_mean(e), 1},
        {"sum_axis (len 0)", adj_sum_axis(z, 1), 0},
        {"mean_axis (len 0)", adj_mean_axis(z, 1), 1},
        {"mse", adj_mse(e, e2), 1},
        {"bce_with_logits", adj_bce_with_logits(e, e2), 1},
        {"softmax_cross_entropy (0 rows)", adj_softmax_cross_entropy(e, none), 1},
    };
    ck_assert_msg(adj_tape_status(t) == ADJ_OK, "%s", adj_tape_message(t));
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        size_t n = adj_numel(r[i].v);
        for (size_t j = 0; j < n; j++) {
            double v = adj_value_at(r[i].v, j);
            ck_assert_msg(r[i].nan ? isnan(v) : v == 0, "%s (%s): %g, want %s", r[i].name,
                          adj_dtype_name(d), v, r[i].nan ? "NaN" : "0");
        }
        ck_assert_uint_eq(n, i == 2 || i == 3 ? 2 : 1);
        if (n == 1)
            ck_assert_int_eq(adj_backward(r[i].v), ADJ_OK);
    }
    adj_tape_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("numeric");
    TCase *tc = tcase_create("ieee");
    tcase_add_loop_test(tc, infinite_limits, 0, 3 * (int)(sizeof limits / sizeof limits[0]));
    tcase_add_loop_test(tc, nan_propagates_everywhere, 0, 3 * N_UNARY);
    tcase_add_test(tc, nan_through_tensor_ops);
    tcase_add_test(tc, minus_inf_logits);
    tcase_add_loop_test(tc, empty_reductions, 0, 2);
    tcase_add_loop_test(tc, zero_adjoint_at_pole, 0, 2 * (int)(sizeof poles / sizeof poles[0]));
    tcase_add_loop_test(tc, zero_tangent_at_pole, 0, (int)(sizeof poles / sizeof poles[0]));
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
