/*
 * Double backward: adj_backward_ex with create_graph records the sweep as
 * ops, so a gradient is a var that can be differentiated again.  Every
 * expected value is derived by hand here (exp(x^2) and its derivatives,
 * polynomials, the Hessians of small tensor expressions).
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <string.h>

#define E 2.71828182845904523536

static const adj_backward_opts graph = {.create_graph = 1};

/* f = exp(x^2): f' = 2x e^{x^2}, f'' = (2 + 4x^2) e^{x^2} (16.3096909... at
 * 1), f''' = (12x + 8x^3) e^{x^2} */
START_TEST(test_exp_square)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 1.0);
    adj_var *f = adj_exp(adj_square(x));
    ck_assert_ptr_null(adj_grad_var(x));
    ck_assert_int_eq(adj_backward_ex(f, &graph), ADJ_OK);
    adj_var *g = adj_grad_var(x);
    ck_assert_ptr_nonnull(g);
    ck_assert_double_eq_tol(adj_item(g), 2 * E, 1e-12);
    ck_assert_double_eq_tol(adj_grad_item(x), 2 * E, 1e-12); /* also the numeric adjoint */
    ck_assert_int_eq(adj_backward(g), ADJ_OK);
    ck_assert_double_eq_tol(adj_grad_item(x), 6 * E, 1e-12);
    ck_assert_double_eq_tol(adj_grad_item(x), 16.3096909707, 1e-9);

    /* the same through adj_grad, to the third order, at x = 0.5 */
    adj_tape_reset(t);
    ck_assert_ptr_null(adj_grad_var(x)); /* recorded before the reset */
    x = adj_scalar(t, 0.5);
    f = adj_exp(adj_square(x));
    adj_var *d1, *d2, *d3;
    ck_assert_int_eq(adj_grad(f, 1, &x, &d1, &graph), ADJ_OK);
    ck_assert_int_eq(adj_grad(d1, 1, &x, &d2, &graph), ADJ_OK);
    ck_assert_int_eq(adj_grad(d2, 1, &x, &d3, &graph), ADJ_OK);
    const double ex = exp(0.25);
    ck_assert_double_eq_tol(adj_item(d1), 1.0 * ex, 1e-12);
    ck_assert_double_eq_tol(adj_item(d2), 3.0 * ex, 1e-12);
    ck_assert_double_eq_tol(adj_item(d3), (6.0 + 1.0) * ex, 1e-12);
    ck_assert_double_eq(adj_grad_item(x), 0.0); /* adj_grad writes no adjoint */
    adj_tape_free(t);
}
END_TEST

/* The same in float, to float's accuracy. */
START_TEST(test_exp_square_f32)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f32(t, 1, (int64_t[]){1}, (float[]){1.0f});
    adj_var *f = adj_sum(adj_exp(adj_square(x)));
    adj_var *d1, *d2;
    ck_assert_int_eq(adj_grad(f, 1, &x, &d1, &graph), ADJ_OK);
    ck_assert_int_eq(adj_grad(adj_sum(d1), 1, &x, &d2, &graph), ADJ_OK);
    ck_assert_int_eq(adj_var_dtype(d2), ADJ_F32);
    ck_assert_double_eq_tol(adj_value_at(d2, 0), 6 * E, 1e-5);
    adj_tape_free(t);
}
END_TEST

/* f = x^3 y at (2, 3): f_x = 3x^2 y = 36, f_xx = 6xy = 36, f_xxx = 6y = 18,
 * f_xy = 3x^2 = 12, f_xyy = 0, f_y = x^3 = 8, f_yy = 0. */
START_TEST(test_polynomial)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 2.0), *y = adj_scalar(t, 3.0);
    adj_var *f = adj_mul(adj_mul(adj_mul(x, x), x), y);
    adj_var *xy[2] = {x, y}, *g[2], *gx[2], *gxx[2];
    ck_assert_int_eq(adj_grad(f, 2, xy, g, &graph), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(g[0]), 36.0, 1e-12);
    ck_assert_double_eq_tol(adj_item(g[1]), 8.0, 1e-12);
    ck_assert_int_eq(adj_grad(g[0], 2, xy, gx, &graph), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(gx[0]), 36.0, 1e-12);
    ck_assert_double_eq_tol(adj_item(gx[1]), 12.0, 1e-12); /* mixed partial */
    ck_assert_int_eq(adj_grad(gx[0], 2, xy, gxx, &graph), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(gxx[0]), 18.0, 1e-12);
    ck_assert_double_eq_tol(adj_item(gxx[1]), 6.0 * 2.0, 1e-12); /* f_xxy = 6x */
    /* the other mixed partial, from g_y = x^3: f_yx = 3x^2 */
    adj_var *gy[2];
    ck_assert_int_eq(adj_grad(g[1], 2, xy, gy, &graph), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(gy[0]), 12.0, 1e-12);
    /* g_y does not depend on y: a zero var of y's shape */
    ck_assert_double_eq(adj_item(gy[1]), 0.0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_tape_free(t);
}
END_TEST

/* Division, subtraction, log, negation and scaling: f = log(x) / y - 3 (-x)
 * at (2, 4): f_x = 1/(x y) + 3, f_xx = -1/(x^2 y) = -1/16, f_xy = -1/(x y^2)
 * = -1/32, f_yy = 2 log(x) / y^3. */
START_TEST(test_quotient)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 2.0), *y = adj_scalar(t, 4.0);
    adj_var *f = adj_sub(adj_div(adj_log(x), y), adj_scale(adj_neg(x), 3.0));
    adj_var *xy[2] = {x, y}, *g[2], *hx[2], *hy[2];
    ck_assert_int_eq(adj_grad(f, 2, xy, g, &graph), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(g[0]), 1.0 / 8 + 3, 1e-12);
    ck_assert_int_eq(adj_grad(g[0], 2, xy, hx, &graph), ADJ_OK);
    ck_assert_int_eq(adj_grad(g[1], 2, xy, hy, &graph), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(hx[0]), -1.0 / 16, 1e-12);
    ck_assert_double_eq_tol(adj_item(hx[1]), -1.0 / 32, 1e-12);
    ck_assert_double_eq_tol(adj_item(hy[0]), -1.0 / 32, 1e-12);
    ck_assert_double_eq_tol(adj_item(hy[1]), 2 * log(2.0) / 64, 1e-12);
    adj_tape_free(t);
}
END_TEST

/* Broadcast: h = sum(a * b * a), a (2,3), b (3): dh/da = 2 a b, and the
 * gradient of sum(c * dh/da) is 2 b c for a and sum_i 2 a_i c_i for b. */
START_TEST(test_broadcast_hvp)
{
    adj_tape *t = adj_tape_new();
    double av[6] = {1, 2, 3, 4, 5, 6}, bv[3] = {0.5, 0.25, 2}, cv[6] = {1, -1, 2, 0.5, 3, -2};
    adj_var *a = adj_tensor_f64(t, 2, (int64_t[]){2, 3}, av);
    adj_var *b = adj_tensor_f64(t, 1, (int64_t[]){3}, bv);
    adj_var *c = adj_constant_f64(t, 2, (int64_t[]){2, 3}, cv);
    adj_var *h = adj_sum(adj_mul(adj_mul(a, b), a));
    ck_assert_int_eq(adj_backward_ex(h, &graph), ADJ_OK);
    adj_var *ga = adj_grad_var(a);
    for (int i = 0; i < 6; i++) {
        ck_assert_double_eq_tol(adj_value_at(ga, (size_t)i), 2 * av[i] * bv[i % 3], 1e-12);
        ck_assert_double_eq_tol(adj_grad_at(a, (size_t)i), 2 * av[i] * bv[i % 3], 1e-12);
    }
    adj_var *ab[2] = {a, b}, *hv[2];
    ck_assert_int_eq(adj_grad(adj_sum(adj_mul(ga, c)), 2, ab, hv, &graph), ADJ_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(adj_value_at(hv[0], (size_t)i), 2 * bv[i % 3] * cv[i], 1e-12);
    for (int j = 0; j < 3; j++)
        ck_assert_double_eq_tol(adj_value_at(hv[1], (size_t)j),
                                2 * (av[j] * cv[j] + av[3 + j] * cv[3 + j]), 1e-12);
    adj_tape_free(t);
}
END_TEST

/* Views: a transposed, a sliced with a step and an expanded operand.
 *   transpose: h = sum(w * x^T^2): dh/dx_ij = 2 x_ij w_ji, d sum(dh/dx)/dx_ij = 2 w_ji
 *   slice:     h = sum(x[:, 0:3:2]^3): d sum(dh/dx)/dx = 6x at the picked columns, 0 elsewhere
 *   expand:    h = sum(expand(u, (2,3))^2) = 2 sum u^2: d sum(dh/du)/du = 4 */
START_TEST(test_views)
{
    adj_tape *t = adj_tape_new();
    double xv[6] = {0.5, -1, 2, 1.5, 0.25, -2}, wv[6] = {1, 2, 3, 4, 5, 6}, uv[3] = {1, 2, 3};
    adj_var *x = adj_tensor_f64(t, 2, (int64_t[]){2, 3}, xv);
    adj_var *w = adj_constant_f64(t, 2, (int64_t[]){3, 2}, wv);
    adj_var *h = adj_sum(adj_mul(w, adj_square(adj_transpose_axes(x, 0, 1))));
    adj_var *g, *hh;
    ck_assert_int_eq(adj_grad(h, 1, &x, &g, &graph), ADJ_OK);
    ck_assert_int_eq(adj_grad(adj_sum(g), 1, &x, &hh, &graph), ADJ_OK);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            ck_assert_double_eq_tol(adj_value_at(g, (size_t)(i * 3 + j)),
                                    2 * xv[i * 3 + j] * wv[j * 2 + i], 1e-12);
            ck_assert_double_eq_tol(adj_value_at(hh, (size_t)(i * 3 + j)), 2 * wv[j * 2 + i],
                                    1e-12);
        }

    h = adj_sum(adj_pow(adj_slice(x, 1, 0, 3, 2), 3.0));
    ck_assert_int_eq(adj_grad(h, 1, &x, &g, &graph), ADJ_OK);
    ck_assert_int_eq(adj_grad(adj_sum(g), 1, &x, &hh, &graph), ADJ_OK);
    for (int i = 0; i < 6; i++) {
        const int picked = i % 3 != 1;
        ck_assert_double_eq_tol(adj_value_at(g, (size_t)i), picked ? 3 * xv[i] * xv[i] : 0, 1e-12);
        ck_assert_double_eq_tol(adj_value_at(hh, (size_t)i), picked ? 6 * xv[i] : 0, 1e-12);
    }

    adj_var *u = adj_tensor_f64(t, 2, (int64_t[]){1, 3}, uv);
    h = adj_sum(adj_square(adj_expand(u, 2, (int64_t[]){2, 3})));
    ck_assert_int_eq(adj_grad(h, 1, &u, &g, &graph), ADJ_OK);
    ck_assert_int_eq(adj_grad(adj_sum(adj_mul(g, g)), 1, &u, &hh, &graph), ADJ_OK);
    for (int j = 0; j < 3; j++) {
        ck_assert_double_eq_tol(adj_value_at(g, (size_t)j), 4 * uv[j], 1e-12);
        /* sum (4u)^2 = 16 sum u^2: gradient 32 u */
        ck_assert_double_eq_tol(adj_value_at(hh, (size_t)j), 32 * uv[j], 1e-12);
    }
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_tape_free(t);
}
END_TEST

/* Without create_graph, adj_grad gives constants holding the values; the
 * nodes' adjoints are untouched either way. */
START_TEST(test_grad_constants)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 3.0), *z = adj_scalar(t, 1.0);
    adj_var *f = adj_mul(adj_square(x), x);
    ck_assert_int_eq(adj_backward(f), ADJ_OK);
    ck_assert_double_eq_tol(adj_grad_item(x), 27.0, 1e-12);
    adj_var *xz[2] = {x, z}, *g[2];
    ck_assert_int_eq(adj_grad(f, 2, xz, g, NULL), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(g[0]), 27.0, 1e-12);
    ck_assert_int_eq(adj_requires_grad(g[0]), 0);
    ck_assert_double_eq(adj_item(g[1]), 0.0);
    ck_assert_double_eq_tol(adj_grad_item(x), 27.0, 1e-12); /* unchanged */
    adj_tape_free(t);
}
END_TEST

/* A gradient penalty on a parameter: f = (w.x)^2, g = df/dw = 2 (w.x) x,
 * p = |g|^2 = 4 (w.x)^2 |x|^2, dp/dw = 8 (w.x) |x|^2 x, accumulated into
 * the store like any parameter gradient; a plain sweep afterwards still
 * gives df/dw. */
START_TEST(test_penalty_on_parameter)
{
    adj_params *ps = adj_params_new(ADJ_F64);
    ck_assert_int_eq(adj_params_add(ps, "w", 1, (int64_t[]){3}), 0);
    double *w = adj_params_value(ps, 0);
    const double wv[3] = {0.5, -1, 2}, xv[3] = {1, 2, -0.5};
    memcpy(w, wv, sizeof wv);
    adj_tape *t = adj_tape_new();
    adj_var *pw = adj_param(t, ps, 0);
    adj_var *x = adj_constant_f64(t, 1, (int64_t[]){3}, xv);
    adj_var *f = adj_square(adj_sum(adj_mul(pw, x)));
    adj_var *g;
    ck_assert_int_eq(adj_grad(f, 1, &pw, &g, &graph), ADJ_OK);
    adj_var *pen = adj_sum(adj_square(g));
    adj_params_zero_grad(ps);
    ck_assert_int_eq(adj_backward(pen), ADJ_OK);
    const double wx = 0.5 - 2 - 1, xx = 1 + 4 + 0.25;
    const double *gw = adj_params_grad(ps, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(gw[i], 8 * wx * xx * xv[i], 1e-12);
    adj_params_zero_grad(ps);
    ck_assert_int_eq(adj_backward(f), ADJ_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(gw[i], 2 * wx * xv[i], 1e-12);
    /* with create_graph, the sweep accumulates into the store too */
    adj_params_zero_grad(ps);
    ck_assert_int_eq(adj_backward_ex(f, &graph), ADJ_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_double_eq_tol(gw[i], 2 * wx * xv[i], 1e-12);
        ck_assert_double_eq_tol(adj_value_at(adj_grad_var(pw), (size_t)i), 2 * wx * xv[i], 1e-12);
    }
    adj_tape_free(t);
    adj_params_free(ps);
}
END_TEST

/* Misuse: NULL arguments, a non-scalar output, an input of another tape. */
START_TEST(test_misuse)
{
    adj_tape *t = adj_tape_new(), *t2 = adj_tape_new();
    adj_var *x = adj_scalar(t, 1.0), *o = adj_scalar(t2, 1.0);
    adj_var *f = adj_exp(x), *g;
    ck_assert_int_eq(adj_backward_ex(NULL, &graph), ADJ_EINVAL);
    ck_assert_int_eq(adj_grad(NULL, 1, &x, &g, NULL), ADJ_EINVAL);
    ck_assert_int_eq(adj_grad(f, 1, &o, &g, &graph), ADJ_ETAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "another tape"));
    adj_tape_reset(t);
    x = adj_scalar(t, 1.0);
    f = adj_exp(x);
    ck_assert_int_eq(adj_grad(f, 0, &x, &g, &graph), ADJ_EINVAL);
    adj_tape_reset(t);
    adj_var *v = adj_tensor_f64(t, 1, (int64_t[]){2}, (double[]){1, 2});
    ck_assert_int_eq(adj_backward_ex(adj_exp(v), &graph), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_backward_ex"));
    ck_assert_ptr_null(adj_grad_var(NULL));
    adj_tape_free(t);
    adj_tape_free(t2);
}
END_TEST

static Suite *double_suite(void)
{
    Suite *s = suite_create("double");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_exp_square);
    tcase_add_test(tc, test_exp_square_f32);
    tcase_add_test(tc, test_polynomial);
    tcase_add_test(tc, test_quotient);
    tcase_add_test(tc, test_broadcast_hvp);
    tcase_add_test(tc, test_views);
    tcase_add_test(tc, test_grad_constants);
    tcase_add_test(tc, test_penalty_on_parameter);
    tcase_add_test(tc, test_misuse);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(double_suite)
