/*
 * Adjoints stored instead of zero-filled and added: the first product of
 * a matmul's and a linear's backward, a reshape's, a concat's or
 * stack's, and a sum's or mean's backward write an input's adjoint when
 * it has none yet, and add to it otherwise.  Each is checked against
 * plain loops written here, in both recording orders (so once the op
 * writes first, once it adds to what another op wrote), with an operand
 * used twice (X W^T with X = W, A A, stack(x, x)), and at 1 and 2
 * threads on products large enough to be split.
 */
#include <adjoint.h>

#include "check_util.h"

#include <math.h>
#include <string.h>

static double frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void fill(double *v, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = frand(&seed);
}

static void expect_close(const double *got, const double *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])), "element %zu: %.17g, want %.17g",
                      i, got[i], want[i]);
}

/* y = linear(x, w, b) + matmul(x, v), recorded in either order:
 * dx = up w + up vᵀ, dw = upᵀ x, db = column sums of up, dv = xᵀ up */
static void linear_and_matmul(int threads, size_t m, size_t in, size_t out)
{
    adj_set_threads(threads);
    double *x = malloc(m * in * sizeof *x), *w = malloc(out * in * sizeof *w), *b = malloc(out * sizeof *b);
    double *v = malloc(in * out * sizeof *v), *up = malloc(m * out * sizeof *up);
    double *gx = calloc(m * in, sizeof *gx), *gw = calloc(out * in, sizeof *gw);
    double *gb = calloc(out, sizeof *gb), *gv = calloc(in * out, sizeof *gv);
    double *got = malloc((m * in + out * in + in * out + out) * sizeof *got);
    fill(x, m * in, 1), fill(w, out * in, 2), fill(b, out, 3), fill(v, in * out, 4), fill(up, m * out, 5);
    ref_mm(m, in, out, up, out, 1, w, in, 1, gx);  /* up w */
    ref_mm(m, in, out, up, out, 1, v, 1, out, gx); /* up vᵀ */
    ref_mm(out, in, m, up, 1, out, x, in, 1, gw);  /* upᵀ x */
    ref_mm(in, out, m, x, 1, in, up, out, 1, gv);  /* xᵀ up */
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < out; j++)
            gb[j] += up[i * out + j];
    for (int order = 0; order < 2; order++) {
        adj_tape *t = adj_tape_new();
        adj_var *xv = adj_tensor_f64(t, 2, ((int64_t[]){(int64_t)m, (int64_t)in}), x);
        adj_var *wv = adj_tensor_f64(t, 2, ((int64_t[]){(int64_t)out, (int64_t)in}), w);
        adj_var *bv = adj_tensor_f64(t, 1, ((int64_t[]){(int64_t)out}), b);
        adj_var *vv = adj_tensor_f64(t, 2, ((int64_t[]){(int64_t)in, (int64_t)out}), v);
        adj_var *y;
        if (order == 0) {
            adj_var *l = adj_linear(xv, wv, bv);
            y = adj_add(l, adj_matmul(xv, vv));
        } else {
            adj_var *p = adj_matmul(xv, vv);
            y = adj_add(adj_linear(xv, wv, bv), p);
        }
        ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(xv, got), ADJ_OK);
        expect_close(got, gx, m * in, 1e-12);
        ck_assert_int_eq(adj_copy_grad(wv, got), ADJ_OK);
        expect_close(got, gw, out * in, 1e-12);
        ck_assert_int_eq(adj_copy_grad(bv, got), ADJ_OK);
        expect_close(got, gb, out, 1e-12);
        ck_assert_int_eq(adj_copy_grad(vv, got), ADJ_OK);
        expect_close(got, gv, in * out, 1e-12);
        /* a second sweep restarts from zero: the same adjoints */
        ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(xv, got), ADJ_OK);
        expect_close(got, gx, m * in, 1e-12);
        adj_tape_free(t);
    }
    free(x), free(w), free(b), free(v), free(up), free(gx), free(gw), free(gb), free(gv), free(got);
    adj_set_threads(0);
}

START_TEST(linear_and_matmul_adjoints_match_plain_loops)
{
    linear_and_matmul(1, 3, 4, 5);
    linear_and_matmul(1, 70, 60, 50); /* through BLIS */
    linear_and_matmul(2, 70, 60, 50); /* the pair split over two threads */
    linear_and_matmul(2, 100, 80, 90);
}
END_TEST

/* One operand on both sides: linear(x, x) = x xᵀ + b and matmul(a, a):
 * d = up x + upᵀ x and up aᵀ + aᵀ up; both products write one buffer. */
static void same_operand(int threads, size_t n)
{
    adj_set_threads(threads);
    double *a = malloc(n * n * sizeof *a), *b = malloc(n * sizeof *b), *up = malloc(n * n * sizeof *up);
    double *want = calloc(n * n, sizeof *want), *got = malloc(n * n * sizeof *got);
    fill(a, n * n, 6), fill(b, n, 7), fill(up, n * n, 8);
    for (int op = 0; op < 2; op++) {
        memset(want, 0, n * n * sizeof *want);
        if (op == 0) {
            ref_mm(n, n, n, up, n, 1, a, n, 1, want); /* up x */
            ref_mm(n, n, n, up, 1, n, a, n, 1, want); /* upᵀ x */
        } else {
            ref_mm(n, n, n, up, n, 1, a, 1, n, want); /* up aᵀ */
            ref_mm(n, n, n, a, 1, n, up, n, 1, want); /* aᵀ up */
        }
        adj_tape *t = adj_tape_new();
        adj_var *av = adj_tensor_f64(t, 2, ((int64_t[]){(int64_t)n, (int64_t)n}), a);
        adj_var *bv = adj_constant_f64(t, 1, ((int64_t[]){(int64_t)n}), b);
        adj_var *y = op == 0 ? adj_linear(av, av, bv) : adj_matmul(av, av);
        ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(av, got), ADJ_OK);
        expect_close(got, want, n * n, 1e-12);
        adj_tape_free(t);
    }
    free(a), free(b), free(up), free(want), free(got);
    adj_set_threads(0);
}

START_TEST(one_operand_on_both_sides)
{
    same_operand(1, 5);
    same_operand(1, 64);
    same_operand(2, 64);
}
END_TEST

/* reshape and stack: dx = up (reshaped) alone, plus 3 up when a scale
 * of x is recorded before or after; stack(x, x) and concat(x, z, x) give
 * x the sum of its blocks. */
START_TEST(reshape_and_join_adjoints_match_plain_loops)
{
    enum { R = 3, C = 5, N = R * C };
    double x[N], z[N], up[3 * N], got[N], want[N];
    fill(x, N, 9), fill(z, N, 10), fill(up, 3 * N, 11);
    for (int order = 0; order < 3; order++) {
        adj_tape *t = adj_tape_new();
        adj_var *xv = adj_tensor_f64(t, 2, ((int64_t[]){R, C}), x);
        adj_var *y, *s = NULL;
        if (order == 1)
            s = adj_scale(xv, 3.0);
        y = adj_reshape(xv, 2, ((int64_t[]){C, R}));
        if (order == 2)
            s = adj_scale(xv, 3.0);
        if (s)
            y = adj_add(y, adj_reshape(s, 2, ((int64_t[]){C, R})));
        ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(xv, got), ADJ_OK);
        for (int i = 0; i < N; i++)
            want[i] = up[i] * (s ? 4.0 : 1.0);
        expect_close(got, want, N, 0);
        adj_tape_free(t);
    }
    /* stack(x, x) along axis 1: y[i][k][j] = x[i][j]; dx[i][j] = up[i][0][j] + up[i][1][j] */
    adj_tape *t = adj_tape_new();
    adj_var *xv = adj_tensor_f64(t, 2, ((int64_t[]){R, C}), x);
    adj_var *zv = adj_tensor_f64(t, 2, ((int64_t[]){R, C}), z);
    ck_assert_int_eq(adj_backward_seeded(adj_stack(2, ((adj_var *[]){xv, xv}), 1), up), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(xv, got), ADJ_OK);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++)
            want[i * C + j] = up[i * 2 * C + j] + up[i * 2 * C + C + j];
    expect_close(got, want, N, 0);
    /* concat(x, z, x) along axis 1: y (R, 3C) */
    ck_assert_int_eq(adj_backward_seeded(adj_concat(3, ((adj_var *[]){xv, zv, xv}), 1), up), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(xv, got), ADJ_OK);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++)
            want[i * C + j] = up[i * 3 * C + j] + up[i * 3 * C + 2 * C + j];
    expect_close(got, want, N, 0);
    ck_assert_int_eq(adj_copy_grad(zv, got), ADJ_OK);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++)
            want[i * C + j] = up[i * 3 * C + C + j];
    expect_close(got, want, N, 0);
    adj_tape_free(t);
}
END_TEST

/* sum and mean store a fresh dx (x's first adjoint) and add to one that
 * another op wrote first: dx = 1 (or 1/n) + 3 with a scale of x recorded
 * before or after, in f64 and f32; a -0 seed gives +0, as adding to zero
 * does. */
START_TEST(sum_and_mean_adjoints_match_plain_loops)
{
    enum { R = 3, C = 7, N = R * C };
    double x[N], got[N];
    float xf[N];
    for (int i = 0; i < N; i++)
        xf[i] = (float)(x[i] = 0.25 * i - 2);
    for (int dt = 0; dt < 2; dt++)
        for (int mean = 0; mean < 2; mean++)
            for (int order = 0; order < 3; order++) {
                adj_tape *t = adj_tape_new();
                adj_var *xv = dt ? adj_tensor_f32(t, 2, ((int64_t[]){R, C}), xf)
                                 : adj_tensor_f64(t, 2, ((int64_t[]){R, C}), x);
                adj_var *s = order == 1 ? adj_sum(adj_scale(xv, 3.0)) : NULL;
                adj_var *f = mean ? adj_mean(xv) : adj_sum(xv);
                if (order == 2)
                    s = adj_sum(adj_scale(xv, 3.0));
                ck_assert_int_eq(adj_backward(s ? adj_add(f, s) : f), ADJ_OK);
                ck_assert_int_eq(adj_copy_grad(xv, got), ADJ_OK);
                for (int i = 0; i < N; i++)
                    ck_assert_msg(fabs(got[i] - ((mean ? 1.0 / N : 1.0) + (s ? 3.0 : 0.0))) < 1e-6,
                                  "dtype %d mean %d order %d element %d: %g", dt, mean, order, i,
                                  got[i]);
                adj_tape_reset(t);
                xv = dt ? adj_tensor_f32(t, 2, ((int64_t[]){R, C}), xf)
                        : adj_tensor_f64(t, 2, ((int64_t[]){R, C}), x);
                ck_assert_int_eq(adj_backward_seeded(adj_sum(xv), (double[]){-0.0}), ADJ_OK);
                ck_assert_int_eq(adj_copy_grad(xv, got), ADJ_OK);
                for (int i = 0; i < N; i++)
                    ck_assert(got[i] == 0 && !signbit(got[i]));
                adj_tape_free(t);
            }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stored");
    TCase *tc = tcase_create("stored");
    tcase_add_test(tc, linear_and_matmul_adjoints_match_plain_loops);
    tcase_add_test(tc, one_operand_on_both_sides);
    tcase_add_test(tc, reshape_and_join_adjoints_match_plain_loops);
    tcase_add_test(tc, sum_and_mean_adjoints_match_plain_loops);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
