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

static Suite *strided_suite(void)
{
    Suite *s = suite_create("strided");
    TCase *tc = tcase_create("broadcast");
    tcase_add_test(tc, numpy_broadcasting_against_loops);
    tcase_add_test(tc, zero_size_broadcast);
    tcase_add_test(tc, mismatch_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(strided_suite)
