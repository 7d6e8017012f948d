/*
 * Broadcasting and strided operands through the public API, against loops
 * written here: every element's multi-index is decoded and each operand
 * indexed by the NumPy rule (a size-1 or missing dimension repeats), for
 * the values and for the adjoints (each element's contribution added
 * where it came from).
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <string.h>

typedef adj_var *(*binop)(adj_var *, adj_var *);

typedef struct shp {
    int n;
    int64_t d[ADJ_MAX_DIMS];
} shp;

static int64_t count(const shp *s)
{
    int64_t n = 1;
    for (int k = 0; k < s->n; k++)
        n *= s->d[k];
    return n;
}

/* The element of x (shape xs) that element e of y (shape ys) reads. */
static int64_t source(int64_t e, const shp *ys, const shp *xs)
{
    int64_t idx[ADJ_MAX_DIMS];
    for (int k = ys->n - 1; k >= 0; k--) {
        idx[k] = e % ys->d[k];
        e /= ys->d[k];
    }
    int64_t o = 0;
    for (int k = 0; k < xs->n; k++) {
        int64_t i = xs->d[k] == 1 ? 0 : idx[ys->n - xs->n + k];
        o = o * xs->d[k] + i;
    }
    return o;
}

/* f, df/da, df/db of the four ops at one point */
static void point(int op, double a, double b, double *f, double *fa, double *fb)
{
    switch (op) {
    case 0: *f = a + b; *fa = 1; *fb = 1; break;
    case 1: *f = a - b; *fa = 1; *fb = -1; break;
    case 2: *f = a * b; *fa = b; *fb = a; break;
    default: *f = a / b; *fa = 1 / b; *fb = -a / (b * b); break;
    }
}

static void check_case(int op, adj_dtype dt, shp as, shp bs, shp ys)
{
    static const binop fns[4] = {adj_add, adj_sub, adj_mul, adj_div};
    int64_t na = count(&as), nb = count(&bs), ny = count(&ys);
    double A[64], B[64], R[256], ga[64] = {0}, gb[64] = {0};
    ck_assert(na <= 64 && nb <= 64 && ny <= 256);
    for (int64_t i = 0; i < na; i++)
        A[i] = 0.5 + 0.25 * (double)i;
    for (int64_t i = 0; i < nb; i++)
        B[i] = (i % 2 ? -1.0 : 1.0) * (0.75 + 0.125 * (double)i);
    for (int64_t i = 0; i < ny; i++)
        R[i] = 0.1 * (double)((i * 7) % 11) - 0.5;
    adj_tape *t = adj_tape_new();
    adj_var *a, *b;
    if (dt == ADJ_F64) {
        a = adj_tensor_f64(t, as.n, as.d, A);
        b = adj_tensor_f64(t, bs.n, bs.d, B);
    } else {
        float fa[64], fb[64];
        for (int64_t i = 0; i < na; i++)
            fa[i] = (float)A[i];
        for (int64_t i = 0; i < nb; i++)
            fb[i] = (float)B[i];
        a = adj_tensor_f32(t, as.n, as.d, fa);
        b = adj_tensor_f32(t, bs.n, bs.d, fb);
    }
    adj_var *y = fns[op](a, b);
    ck_assert_msg(adj_tape_status(t) == ADJ_OK, "%s", adj_tape_message(t));
    ck_assert_int_eq(adj_ndim(y), ys.n);
    for (int k = 0; k < ys.n; k++)
        ck_assert_int_eq(adj_dim(y, k), ys.d[k]);
    double tol = dt == ADJ_F64 ? 1e-14 : 1e-6;
    for (int64_t e = 0; e < ny; e++) {
        int64_t ia = source(e, &ys, &as), ib = source(e, &ys, &bs);
        double f, fa, fb;
        point(op, A[ia], B[ib], &f, &fa, &fb);
        ck_assert_msg(fabs(adj_value_at(y, (size_t)e) - f) <= tol * (1 + fabs(f)),
                      "op %d element %lld: %g != %g", op, (long long)e,
                      adj_value_at(y, (size_t)e), f);
        ga[ia] += R[e] * fa;
        gb[ib] += R[e] * fb;
    }
    ck_assert_int_eq(adj_backward_seeded(y, R), ADJ_OK);
    for (int64_t i = 0; i < na; i++)
        ck_assert_msg(fabs(adj_grad_at(a, (size_t)i) - ga[i]) <= 4 * tol * (1 + fabs(ga[i])),
                      "op %d da[%lld]: %g != %g", op, (long long)i, adj_grad_at(a, (size_t)i),
                      ga[i]);
    for (int64_t i = 0; i < nb; i++)
        ck_assert_msg(fabs(adj_grad_at(b, (size_t)i) - gb[i]) <= 4 * tol * (1 + fabs(gb[i])),
                      "op %d db[%lld]: %g != %g", op, (long long)i, adj_grad_at(b, (size_t)i),
                      gb[i]);
    adj_tape_free(t);
}

/* NumPy's rule on either side, in the middle, with 0-D and size-1 operands. */
START_TEST(numpy_broadcasting_against_loops)
{
    static const struct {
        shp a, b, y;
    } cases[] = {
        {{3, {2, 1, 3}}, {2, {4, 1}}, {3, {2, 4, 3}}},
        {{1, {3}}, {2, {2, 3}}, {2, {2, 3}}},
        {{2, {2, 1}}, {2, {2, 3}}, {2, {2, 3}}},
        {{2, {1, 1}}, {0, {0}}, {2, {1, 1}}},
        {{0, {0}}, {3, {2, 1, 2}}, {3, {2, 1, 2}}},
        {{2, {5, 1}}, {2, {1, 6}}, {2, {5, 6}}},
        {{4, {2, 3, 1, 2}}, {3, {3, 4, 1}}, {4, {2, 3, 4, 2}}},
        {{1, {1}}, {1, {7}}, {1, {7}}},
    };
    for (int op = 0; op < 4; op++)
        for (int d = 0; d < 2; d++)
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
                check_case(op, d ? ADJ_F64 : ADJ_F32, cases[c].a, cases[c].b, cases[c].y);
}
END_TEST

/* Zero-size dimensions broadcast like any other (a 1 against a 0 gives 0). */
START_TEST(zero_size_broadcast)
{
    adj_tape *t = adj_tape_new();
    adj_var *a = adj_tensor_f64(t, 2, (int64_t[]){0, 3}, NULL);
    adj_var *b = adj_tensor_f64(t, 2, (int64_t[]){1, 3}, (double[]){1, 2, 3});
    adj_var *y = adj_mul(a, b);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_numel(y), 0);
    ck_assert_int_eq(adj_dim(y, 0), 0);
    ck_assert_int_eq(adj_backward(adj_sum(y)), ADJ_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(adj_grad_at(b, (size_t)i), 0.0);
    adj_tape_free(t);
}
END_TEST

/* Shapes that do not broadcast are a sticky shape error naming both. */
START_TEST(mismatch_is_an_error)
{
    adj_tape *t = adj_tape_new();
    adj_var *a = adj_tensor_f64(t, 2, (int64_t[]){2, 3}, NULL);
    adj_var *b = adj_tensor_f64(t, 2, (int64_t[]){3, 2}, NULL);
    adj_add(a, b);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESHAPE);
    const char *m = adj_tape_message(t);
    ck_assert_ptr_nonnull(strstr(m, "adj_add"));
    ck_assert_ptr_nonnull(strstr(m, "(2,3)"));
    ck_assert_ptr_nonnull(strstr(m, "(3,2)"));
    ck_assert_ptr_nonnull(strstr(m, "broadcast"));
    adj_tape_free(t);
}
END_TEST


/* ------------------------------------------------------------------ views */

/* x = 0, 1, ..., 23 as (2,3,4) */
static adj_var *iota234(adj_tape *t)
{
    double v[24];
    for (int i = 0; i < 24; i++)
        v[i] = i;
    return adj_tensor_f64(t, 3, (int64_t[]){2, 3, 4}, v);
}

static void expect(adj_var *y, int ndim, const int64_t *shape, const double *want)
{
    ck_assert_msg(adj_tape_status(adj_var_tape(y)) == ADJ_OK, "%s",
                  adj_tape_message(adj_var_tape(y)));
    ck_assert_int_eq(adj_ndim(y), ndim);
    size_t n = 1;
    for (int k = 0; k < ndim; k++) {
        ck_assert_int_eq(adj_dim(y, k), shape[k]);
        n *= (size_t)shape[k];
    }
    ck_assert_int_eq(adj_numel(y), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(adj_value_at(y, i) == want[i], "element %zu: %g != %g", i,
                      adj_value_at(y, i), want[i]);
}

/* Values written out by hand from x[i][j][k] = 12 i + 4 j + k. */
START_TEST(view_values)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = iota234(t);
    /* x[:, 2, ::-2] -> (2,2): [11, 9], [23, 21] */
    expect(adj_slice(adj_select(x, 1, 2), -1, -1, INT64_MIN, -2), 2, (int64_t[]){2, 2},
           (double[]){11, 9, 23, 21});
    /* x[1, -2:, 1] -> 17, 21 */
    expect(adj_select(adj_slice(adj_select(x, 0, 1), 0, -2, INT64_MAX, 1), 1, 1), 1,
           (int64_t[]){2}, (double[]){17, 21});
    /* transpose_axes(x, 0, 2)[k][j][i] = x[i][j][k]: first row (k=0, j=0) 0, 12 */
    adj_var *tr = adj_transpose_axes(x, 0, -1);
    double w[24];
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++)
                w[(k * 3 + j) * 2 + i] = 12 * i + 4 * j + k;
    expect(tr, 3, (int64_t[]){4, 3, 2}, w);
    /* permute (1, 2, 0)[j][k][i] = x[i][j][k] */
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 2; i++)
                w[(j * 4 + k) * 2 + i] = 12 * i + 4 * j + k;
    expect(adj_permute(x, (const int[]){1, 2, 0}), 3, (int64_t[]){3, 4, 2}, w);
    /* expand a (3,1) column to (2,3,2) */
    adj_var *c = adj_tensor_f64(t, 2, (int64_t[]){3, 1}, (double[]){5, 6, 7});
    expect(adj_expand(c, 3, (int64_t[]){2, -1, 2}), 3, (int64_t[]){2, 3, 2},
           (double[]){5, 5, 6, 6, 7, 7, 5, 5, 6, 6, 7, 7});
    /* unsqueeze, squeeze, flatten keep the order */
    for (int i = 0; i < 24; i++)
        w[i] = i;
    expect(adj_unsqueeze(x, -1), 4, (int64_t[]){2, 3, 4, 1}, w);
    expect(adj_squeeze(adj_unsqueeze(x, 1), 1), 3, (int64_t[]){2, 3, 4}, w);
    expect(adj_flatten(x, 0, 1), 2, (int64_t[]){6, 4}, w);
    expect(adj_flatten(x, 0, -1), 1, (int64_t[]){24}, w);
    /* flatten of a transposed view merges in the view's order */
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++)
                w[(k * 3 + j) * 2 + i] = 12 * i + 4 * j + k;
    expect(adj_flatten(adj_contiguous(tr), 1, 2), 2, (int64_t[]){4, 6}, w);
    /* an empty slice */
    adj_var *e = adj_slice(x, 2, 3, 1, 1);
    ck_assert_int_eq(adj_numel(e), 0);
    ck_assert_int_eq(adj_dim(e, 2), 0);
    adj_tape_free(t);
}
END_TEST

/* f = sum(views(x) * R): finite differences against backward, both
 * dtypes; an expand and a permute of an expand repeat elements (their
 * gradient sums). */
static adj_var *view_chain(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    int which = *(const int *)user;
    adj_var *x = in[0]; /* (2,3,4) */
    adj_var *y;
    switch (which) {
    case 0: y = adj_slice(adj_permute(x, (const int[]){2, 0, 1}), 0, -1, INT64_MIN, -2); break;
    case 1: y = adj_select(adj_transpose_axes(x, 0, 1), -1, 2); break;
    case 2: y = adj_expand(adj_unsqueeze(adj_select(x, 2, 1), 1), 4, (int64_t[]){3, 2, 4, 3}); break;
    case 3: y = adj_permute(adj_expand(adj_slice(x, 1, 0, 1, 1), 3, (int64_t[]){2, 5, 4}),
                            (const int[]){2, 0, 1}); break;
    case 4: y = adj_flatten(adj_squeeze(adj_slice(x, 1, 1, 2, 1), 1), 0, 1); break;
    default: y = adj_contiguous(adj_slice(adj_transpose_axes(x, 1, 2), 1, 0, 4, 3)); break;
    }
    size_t m = adj_numel(y);
    double r[128];
    ck_assert(m <= 128);
    for (size_t i = 0; i < m; i++)
        r[i] = 0.5 + 0.1 * (double)((i * 5) % 7);
    adj_var *R = adj_var_dtype(x) == ADJ_F64
                     ? adj_constant_f64(t, adj_ndim(y), (int64_t[]){adj_dim(y, 0), adj_dim(y, 1),
                                                                    adj_dim(y, 2), adj_dim(y, 3)},
                                        r)
                     : NULL;
    if (!R) {
        float rf[128];
        for (size_t i = 0; i < m; i++)
            rf[i] = (float)r[i];
        R = adj_constant_f32(t, adj_ndim(y), (int64_t[]){adj_dim(y, 0), adj_dim(y, 1),
                                                         adj_dim(y, 2), adj_dim(y, 3)},
                             rf);
    }
    return adj_sum(adj_square(adj_mul(y, R)));
}

START_TEST(view_gradients)
{
    double x[24];
    for (int i = 0; i < 24; i++)
        x[i] = 0.3 * (double)((i * 7) % 11) - 1.4;
    adj_gradcheck_input in = {3, {2, 3, 4}, x};
    for (int which = 0; which < 6; which++)
        for (int d = 0; d < 2; d++) {
            adj_gradcheck_opts o = {.dtype = d ? ADJ_F64 : ADJ_F32};
            adj_gradcheck_report r;
            ck_assert_int_eq(adj_gradcheck(view_chain, &which, 1, &in, &o, &r), ADJ_OK);
            ck_assert_msg(r.passed, "chain %d %s: max rel err %g", which, d ? "f64" : "f32",
                          r.max_rel_err);
        }
}
END_TEST

/* An expand's gradient counts the repeats, exactly. */
START_TEST(expand_gradient_sums)
{
    adj_tape *t = adj_tape_new();
    adj_var *b = adj_tensor_f32(t, 1, (int64_t[]){3}, (float[]){1, 2, 3});
    adj_var *y = adj_expand(b, 3, (int64_t[]){4, 5, 3});
    ck_assert_int_eq(adj_backward(adj_sum(y)), ADJ_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(adj_grad_at(b, (size_t)i), 20.0);
    adj_tape_free(t);
}
END_TEST

/* Misuse: a sticky ADJ_EINVAL naming the op and what is wrong. */
static void misuse(adj_var *(*f)(adj_tape *, adj_var *), const char *w1, const char *w2)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = iota234(t);
    f(t, x);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EINVAL);
    const char *m = adj_tape_message(t);
    ck_assert_msg(strstr(m, w1) && strstr(m, w2), "message '%s' lacks '%s' or '%s'", m, w1, w2);
    ck_assert_ptr_nonnull(strstr(m, "(2,3,4)"));
    adj_tape_free(t);
}
static adj_var *bad_slice_axis(adj_tape *t, adj_var *x) { (void)t; return adj_slice(x, 3, 0, 1, 1); }
static adj_var *bad_slice_step(adj_tape *t, adj_var *x) { (void)t; return adj_slice(x, 0, 0, 1, 0); }
static adj_var *bad_select(adj_tape *t, adj_var *x) { (void)t; return adj_select(x, 1, 3); }
static adj_var *bad_select_neg(adj_tape *t, adj_var *x) { (void)t; return adj_select(x, 1, -4); }
static adj_var *bad_expand(adj_tape *t, adj_var *x)
{
    (void)t;
    return adj_expand(x, 3, (int64_t[]){2, 5, 4});
}
static adj_var *bad_expand_rank(adj_tape *t, adj_var *x)
{
    (void)t;
    return adj_expand(x, 2, (int64_t[]){3, 4});
}
static adj_var *bad_squeeze(adj_tape *t, adj_var *x) { (void)t; return adj_squeeze(x, 0); }
static adj_var *bad_unsqueeze(adj_tape *t, adj_var *x) { (void)t; return adj_unsqueeze(x, 5); }
static adj_var *bad_permute(adj_tape *t, adj_var *x)
{
    (void)t;
    return adj_permute(x, (const int[]){0, 0, 1});
}
static adj_var *null_permute(adj_tape *t, adj_var *x) { (void)t; return adj_permute(x, NULL); }
static adj_var *bad_transpose(adj_tape *t, adj_var *x) { (void)t; return adj_transpose_axes(x, 0, -4); }
static adj_var *bad_flatten(adj_tape *t, adj_var *x) { (void)t; return adj_flatten(x, 2, 1); }

START_TEST(view_misuse)
{
    misuse(bad_slice_axis, "adj_slice", "axis 3");
    misuse(bad_slice_step, "adj_slice", "step 0");
    misuse(bad_select, "adj_select", "index 3");
    misuse(bad_select_neg, "adj_select", "index -4");
    misuse(bad_expand, "adj_expand", "(2,5,4)");
    misuse(bad_expand_rank, "adj_expand", "(3,4)");
    misuse(bad_squeeze, "adj_squeeze", "size 1");
    misuse(bad_unsqueeze, "adj_unsqueeze", "axis 5");
    misuse(bad_permute, "adj_permute", "permutation");
    misuse(null_permute, "adj_permute", "permutation");
    misuse(bad_transpose, "adj_transpose_axes", "-4");
    misuse(bad_flatten, "adj_flatten", "2");
    /* NULL input: no tape to record on */
    ck_assert_ptr_null(adj_slice(NULL, 0, 0, 1, 1));
}
END_TEST

static Suite *strided_suite(void)
{
    Suite *s = suite_create("strided");
    TCase *tc = tcase_create("broadcast");
    tcase_add_test(tc, numpy_broadcasting_against_loops);
    tcase_add_test(tc, zero_size_broadcast);
    tcase_add_test(tc, mismatch_is_an_error);
    suite_add_tcase(s, tc);
    TCase *tv = tcase_create("views");
    tcase_add_test(tv, view_values);
    tcase_add_test(tv, view_gradients);
    tcase_add_test(tv, expand_gradient_sums);
    tcase_add_test(tv, view_misuse);
    suite_add_tcase(s, tv);
    return s;
}

ADJ_CHECK_MAIN(strided_suite)
