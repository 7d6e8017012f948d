/*
 * Views share their input's storage: recording one costs O(1) arena
 * bytes whatever the tensor's size, the accessors read a strided view in
 * row-major order, every op reads one correctly (the ops that do not read
 * strides get a contiguous copy whose adjoint flows back), and gradients
 * reach the right elements of the viewed tensor, overlapping (expand)
 * included.  References are index loops written here.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R 64
#define C 48

static double xval(int i, int j) { return sin(0.37 * i + 0.11 * j) + 0.01 * i; }

static adj_var *leaf(adj_tape *t, int rows, int cols, double *buf)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            buf[i * cols + j] = xval(i, j);
    return adj_tensor_f64(t, 2, (int64_t[]){rows, cols}, buf);
}

static size_t used(adj_tape *t)
{
    adj_tape_stats s;
    adj_tape_get_stats(t, &s);
    return s.bytes_used;
}

/* Each view of a (R, C) tensor costs at most a few hundred arena bytes
 * (its strides), not a copy of R*C doubles. */
START_TEST(test_views_are_o1)
{
    static double buf[R * C];
    adj_tape *t = adj_tape_new();
    adj_var *x = leaf(t, R, C, buf);
    const size_t cap = 512, copy = sizeof buf;
    adj_var *v[9];
    size_t before = used(t);
    v[0] = adj_transpose(x);
    v[1] = adj_transpose_axes(x, 0, 1);
    v[2] = adj_permute(x, (int[]){1, 0});
    v[3] = adj_slice(x, 1, 1, C, 2);
    v[4] = adj_select(x, 1, 5);
    v[5] = adj_expand(adj_unsqueeze(x, 0), 3, (int64_t[]){4, R, C});
    v[6] = adj_reshape(x, 3, (int64_t[]){R / 2, 2, C});
    v[7] = adj_flatten(adj_slice(x, 0, 2, R, 1), 0, 1);
    v[8] = adj_contiguous(x);
    size_t after = used(t);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_msg(after - before <= 9 * cap, "9 views took %zu arena bytes (a copy is %zu)",
                  after - before, copy);
    /* a reshape that strides cannot express copies */
    before = used(t);
    adj_var *r = adj_reshape(v[0], 1, (int64_t[]){R * C});
    ck_assert_uint_ge(used(t) - before, copy);
    for (int i = 0; i < R * C; i++)
        ck_assert_double_eq(adj_value_at(r, (size_t)i), xval(i % R, i / R));
    adj_tape_free(t);
}
END_TEST

/* The accessors read a strided view in row-major order. */
START_TEST(test_view_accessors)
{
    static double buf[R * C];
    adj_tape *t = adj_tape_new();
    adj_var *x = leaf(t, R, C, buf);
    adj_var *tr = adj_transpose(x);                    /* (C, R) */
    adj_var *st = adj_slice(adj_slice(x, 0, R - 1, -R - 1, -3), 1, 2, C, 5); /* reversed rows */
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    const double *d = adj_data(tr);
    ck_assert_ptr_nonnull(d);
    static double cp[R * C];
    ck_assert_int_eq(adj_copy_value(tr, cp), ADJ_OK);
    for (int i = 0; i < C; i++)
        for (int j = 0; j < R; j++) {
            ck_assert_double_eq(d[i * R + j], xval(j, i));
            ck_assert_double_eq(cp[i * R + j], xval(j, i));
            ck_assert_double_eq(adj_value_at(tr, (size_t)(i * R + j)), xval(j, i));
        }
    int64_t n0 = adj_dim(st, 0), n1 = adj_dim(st, 1);
    ck_assert_int_eq(n0, (R + 2) / 3);
    ck_assert_int_eq(n1, (C - 2 + 4) / 5);
    const double *s = adj_data(st);
    for (int64_t i = 0; i < n0; i++)
        for (int64_t j = 0; j < n1; j++)
            ck_assert_double_eq(s[i * n1 + j], xval((int)(R - 1 - 3 * i), (int)(2 + 5 * j)));
    adj_tape_free(t);
}
END_TEST

/*
 * Ops on views, values and adjoints against loops:
 *   f = sum(exp(x^T) * w) + sum(x^T[:, ::2] @ m) + sum(expand(x[0]) * c)
 * exp and mul read strides or get copies, matmul and sum get copies.
 */
START_TEST(test_ops_on_views)
{
    enum { r = 5, c = 4 };
    double xb[r * c], wb[c * r], mb[3 * 2], cb[3 * c];
    for (int i = 0; i < c * r; i++)
        wb[i] = 0.5 + 0.1 * i;
    for (int i = 0; i < 6; i++)
        mb[i] = 1.0 - 0.3 * i;
    for (int i = 0; i < 3 * c; i++)
        cb[i] = 0.2 * i - 1.0;
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++)
            xb[i * c + j] = xval(i, j);
    for (int dt = 0; dt < 2; dt++) {
        adj_tape *t = adj_tape_new();
        adj_var *x, *w, *m, *cc;
        float xf[r * c], wf[c * r], mf[6], cf[3 * c];
        if (dt) { /* the same in float */
            for (int i = 0; i < r * c; i++) {
                xf[i] = (float)xb[i];
                wf[i] = (float)wb[i];
            }
            for (int i = 0; i < 6; i++)
                mf[i] = (float)mb[i];
            for (int i = 0; i < 3 * c; i++)
                cf[i] = (float)cb[i];
            x = adj_tensor_f32(t, 2, (int64_t[]){r, c}, xf);
            w = adj_constant_f32(t, 2, (int64_t[]){c, r}, wf);
            m = adj_constant_f32(t, 2, (int64_t[]){3, 2}, mf);
            cc = adj_constant_f32(t, 2, (int64_t[]){3, c}, cf);
        } else {
            x = adj_tensor_f64(t, 2, (int64_t[]){r, c}, xb);
            w = adj_constant_f64(t, 2, (int64_t[]){c, r}, wb);
            m = adj_constant_f64(t, 2, (int64_t[]){3, 2}, mb);
            cc = adj_constant_f64(t, 2, (int64_t[]){3, c}, cb);
        }
        adj_var *xt = adj_transpose(x);                     /* (c, r) */
        adj_var *f1 = adj_sum(adj_mul(adj_exp(xt), w));
        adj_var *f2 = adj_sum(adj_matmul(adj_slice(xt, 1, 0, r, 2), m)); /* (c,3)(3,2) */
        adj_var *f3 = adj_sum(adj_mul(adj_expand(adj_select(x, 0, 0), 2, (int64_t[]){3, c}), cc));
        adj_var *f = adj_add(adj_add(f1, f2), f3);
        ck_assert_int_eq(adj_backward(f), ADJ_OK);
        double ref = 0, g[r * c] = {0};
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) {
                double e = exp(xb[i * c + j]);
                ref += e * wb[j * r + i];
                g[i * c + j] += e * wb[j * r + i];
            }
        for (int j = 0; j < c; j++)
            for (int k = 0; k < 3; k++) /* rows 0, 2, 4 of x */
                for (int q = 0; q < 2; q++) {
                    ref += xb[2 * k * c + j] * mb[k * 2 + q];
                    g[2 * k * c + j] += mb[k * 2 + q];
                }
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < c; j++) {
                ref += xb[j] * cb[k * c + j];
                g[j] += cb[k * c + j];
            }
        double tol = dt ? 1e-5 : 1e-13;
        ck_assert_double_eq_tol(adj_item(f), ref, tol * (1 + fabs(ref)));
        for (int i = 0; i < r * c; i++)
            ck_assert_double_eq_tol(adj_grad_at(x, (size_t)i), g[i], tol * (1 + fabs(g[i])));
        adj_tape_free(t);
    }
}
END_TEST

/*
 * Large permuted views take the tiled walks (a block of the view is a tile
 * when its last axis jumps through storage): exp of a permuted (3,40,50)
 * tensor, its contiguous copy, and the adjoint scattered back through the
 * permutation, in both dtypes and with the pool's threads.
 */
START_TEST(test_tiled_walks)
{
    enum { A = 3, B = 40, Cc = 50, N = A * B * Cc };
    static double xb[N], wb[N];
    static float xf[N], wf[N];
    for (int i = 0; i < N; i++) {
        xb[i] = 0.5 * sin(0.013 * i);
        wb[i] = 1.0 + 0.001 * i;
        xf[i] = (float)xb[i];
        wf[i] = (float)wb[i];
    }
    for (int dt = 0; dt < 2; dt++) {
        adj_set_threads(dt + 1);
        adj_tape *t = adj_tape_new();
        const int64_t xs[3] = {A, B, Cc}, vs[3] = {Cc, A, B};
        adj_var *x = dt ? adj_tensor_f32(t, 3, xs, xf) : adj_tensor_f64(t, 3, xs, xb);
        adj_var *w = dt ? adj_constant_f32(t, 3, vs, wf) : adj_constant_f64(t, 3, vs, wb);
        adj_var *v = adj_permute(x, (int[]){2, 0, 1});  /* v[k][i][j] = x[i][j][k] */
        adj_var *e = adj_exp(v);
        adj_var *c = adj_contiguous(v);
        adj_var *f = adj_add(adj_sum(adj_mul(e, w)), adj_sum(adj_mul(c, w)));
        ck_assert_int_eq(adj_backward(f), ADJ_OK);
        const double tol = dt ? 1e-5 : 1e-14;
        for (int k = 0; k < Cc; k++)
            for (int i = 0; i < A; i++)
                for (int j = 0; j < B; j++) {
                    const size_t vi = (size_t)((k * A + i) * B + j), xi = (size_t)((i * B + j) * Cc + k);
                    const double xv = dt ? (double)xf[xi] : xb[xi];
                    const double wv = dt ? (double)wf[vi] : wb[vi];
                    ck_assert_double_eq_tol(adj_value_at(e, vi), exp(xv), tol * 2);
                    ck_assert_double_eq(adj_value_at(c, vi), xv);
                    ck_assert_double_eq_tol(adj_grad_at(x, xi), exp(xv) * wv + wv, tol * 8);
                }
        adj_tape_free(t);
    }
    adj_set_threads(0);
}
END_TEST

/* Gradient check (finite differences, replay) through chains of views. */
static adj_var *chain(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    adj_var *x = in[0];                                   /* (4, 6) */
    adj_var *a = adj_slice(adj_transpose(x), 0, 5, -7, -2); /* (3, 4) */
    adj_var *b = adj_permute(adj_reshape(x, 3, (int64_t[]){2, 2, 6}), (int[]){2, 0, 1});
    adj_var *p = adj_mul(adj_tanh(a), adj_select(adj_flatten(b, 1, 2), 0, 2)); /* (3,4)*(4) */
    return adj_add(adj_sum(p), adj_sum(adj_matmul(a, adj_transpose(a))));
}

/* Views move index tensors too (token windows, shifted targets): the
 * values are the viewed elements, no gradient flows, an op that takes
 * indices reads a strided index view like its contiguous copy, and a float
 * op still refuses one. */
START_TEST(test_views_of_index_tensors)
{
    adj_tape *t = adj_tape_new();
    int32_t tok[3 * 5];
    for (int i = 0; i < 15; i++)
        tok[i] = (7 * i + 3) % 11;
    adj_var *ids = adj_index(t, 2, (int64_t[]){3, 5}, tok);
    /* targets: every row shifted by one; a transposed, a step-sliced and an
     * expanded view, each read back element by element */
    adj_var *next = adj_slice(ids, 1, 1, 5, 1);
    adj_var *tr = adj_transpose(ids);
    adj_var *odd = adj_slice(ids, 1, 4, -6, -2);
    adj_var *rep = adj_expand(adj_unsqueeze(adj_select(ids, 0, 2), 0), 2, (int64_t[]){4, 5});
    adj_var *flat = adj_reshape(tr, 1, (int64_t[]){15});
    ck_assert_msg(adj_tape_status(t) == ADJ_OK, "%s", adj_tape_message(t));
    ck_assert_int_eq(adj_var_dtype(next), ADJ_I32);
    ck_assert_int_eq(adj_requires_grad(next), 0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert(adj_value_at(next, (size_t)(i * 4 + j)) == tok[i * 5 + j + 1]);
    for (int j = 0; j < 5; j++)
        for (int i = 0; i < 3; i++) {
            ck_assert(adj_value_at(tr, (size_t)(j * 3 + i)) == tok[i * 5 + j]);
            ck_assert(adj_value_at(flat, (size_t)(j * 3 + i)) == tok[i * 5 + j]);
        }
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) /* columns 4, 2, 0 */
            ck_assert(adj_value_at(odd, (size_t)(i * 3 + k)) == tok[i * 5 + 4 - 2 * k]);
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 5; j++)
            ck_assert(adj_value_at(rep, (size_t)(r * 5 + j)) == tok[2 * 5 + j]);

    /* an embedding and a cross-entropy read the strided views as copies */
    double w[11 * 2], lg[5 * 3 * 11];
    for (int i = 0; i < 22; i++)
        w[i] = 0.1 * i - 1;
    for (int i = 0; i < 165; i++)
        lg[i] = sin(0.3 * i);
    adj_var *table = adj_tensor_f64(t, 2, (int64_t[]){11, 2}, w);
    adj_var *logits = adj_tensor_f64(t, 3, (int64_t[]){5, 3, 11}, lg);
    adj_var *e = adj_embedding(table, tr);
    adj_var *e_ref = adj_embedding(table, adj_index(t, 2, (int64_t[]){5, 3},
                                                    (int32_t[]){tok[0], tok[5], tok[10], tok[1], tok[6],
                                                                tok[11], tok[2], tok[7], tok[12], tok[3],
                                                                tok[8], tok[13], tok[4], tok[9], tok[14]}));
    adj_var *ce = adj_cross_entropy(logits, tr, -1);
    adj_var *ce_ref = adj_cross_entropy(logits, adj_contiguous(tr), -1);
    ck_assert_msg(adj_tape_status(t) == ADJ_OK, "%s", adj_tape_message(t));
    for (size_t i = 0; i < 30; i++)
        ck_assert(adj_value_at(e, i) == adj_value_at(e_ref, i));
    ck_assert(adj_item(ce) == adj_item(ce_ref));
    ck_assert_int_eq(adj_backward(adj_add(adj_sum(e), ce)), ADJ_OK);

    /* arithmetic on an index view is still a dtype error */
    adj_exp(next);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EDTYPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "index tensor"));
    adj_tape_free(t);
}
END_TEST

/* linear reads strided x and w in place: x a column slice of a wider
 * matrix (or a column of one, 1-D), w the transpose of a weight stored
 * (in, out), b every other element of a longer vector.  Value, adjoints
 * (landing in the viewed storage) and tangent against index loops, on
 * products of the plain loop, of BLIS, and split over two threads. */
static void linear_on_views(int m, int in, int out, int one_row)
{
    const int xc = in + 3, rows = one_row ? in : m; /* x's storage: (rows, xc) */
    double *xs = malloc((size_t)rows * xc * sizeof *xs), *ws = malloc((size_t)in * out * sizeof *ws);
    double *bs = malloc(2 * (size_t)out * sizeof *bs), *up = malloc((size_t)m * out * sizeof *up);
    double *got = malloc((size_t)(rows * xc + in * out + 2 * out + m * out) * sizeof *got);
    for (int i = 0; i < rows * xc; i++)
        xs[i] = sin(0.3 * i);
    for (int i = 0; i < in * out; i++)
        ws[i] = cos(0.7 * i) / in;
    for (int i = 0; i < 2 * out; i++)
        bs[i] = 0.1 * i;
    for (int i = 0; i < m * out; i++)
        up[i] = sin(1.3 * i + 0.2);
    /* x[i][p] = xs[X(i, p)] */
#define X(i, p) (one_row ? (p) * xc + 1 : (i) * xc + 2 + (p))
    adj_tape *t = adj_tape_new();
    adj_var *XS = adj_tensor_f64(t, 2, (int64_t[]){rows, xc}, xs);
    adj_var *WS = adj_tensor_f64(t, 2, (int64_t[]){in, out}, ws);
    adj_var *BS = adj_tensor_f64(t, 1, (int64_t[]){2 * out}, bs);
    adj_var *x = one_row ? adj_select(XS, 1, 1) : adj_slice(XS, 1, 2, 2 + in, 1);
    adj_var *b = adj_slice(BS, 0, 0, 2 * out, 2);
    adj_var *z = adj_linear(x, adj_transpose(WS), b);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_ndim(z), one_row ? 1 : 2);
    adj_copy_value(z, got);
    for (int i = 0; i < m; i++)
        for (int o = 0; o < out; o++) {
            double v = bs[2 * o];
            for (int p = 0; p < in; p++)
                v += xs[X(i, p)] * ws[p * out + o];
            ck_assert_msg(fabs(got[i * out + o] - v) < 1e-12, "z[%d][%d] %.17g, want %.17g", i, o,
                          got[i * out + o], v);
        }
    /* tangent along x's storage: dz = dx W^T */
    double *dz = malloc((size_t)m * out * sizeof *dz);
    ck_assert_int_eq(adj_jvp(z, 1, &XS, (const double *const *)&xs, dz), ADJ_OK);
    for (int i = 0; i < m; i++)
        for (int o = 0; o < out; o++) {
            double v = 0;
            for (int p = 0; p < in; p++)
                v += xs[X(i, p)] * ws[p * out + o];
            ck_assert_msg(fabs(dz[i * out + o] - v) < 1e-12, "dz[%d][%d]", i, o);
        }
    ck_assert_int_eq(adj_backward_seeded(z, up), ADJ_OK);
    adj_copy_grad(XS, got);
    for (int i = 0; i < rows * xc; i++) { /* dx = up W, in x's columns only */
        int r = i / xc, c = i % xc, p = one_row ? r : c - 2;
        double v = 0;
        if (one_row ? c == 1 : c >= 2 && c < 2 + in)
            for (int o = 0; o < out; o++)
                v += up[(one_row ? 0 : r) * out + o] * ws[p * out + o];
        ck_assert_msg(fabs(got[i] - v) < 1e-12, "dxs[%d] %.17g, want %.17g", i, got[i], v);
    }
    adj_copy_grad(WS, got);
    for (int p = 0; p < in; p++)
        for (int o = 0; o < out; o++) { /* dW^T[p][o] = sum_i up[i][o] x[i][p] */
            double v = 0;
            for (int i = 0; i < m; i++)
                v += up[i * out + o] * xs[X(i, p)];
            ck_assert_msg(fabs(got[p * out + o] - v) < 1e-12, "dws[%d][%d]", p, o);
        }
    adj_copy_grad(BS, got);
    for (int k = 0; k < 2 * out; k++) {
        double v = 0;
        for (int i = 0; k % 2 == 0 && i < m; i++)
            v += up[i * out + k / 2];
        ck_assert_msg(fabs(got[k] - v) < 1e-12, "dbs[%d]", k);
    }
#undef X
    adj_tape_free(t);
    free(xs), free(ws), free(bs), free(up), free(got), free(dz);
}

START_TEST(test_linear_reads_strides)
{
    for (int threads = 1; threads <= 2; threads++) {
        adj_set_threads(threads);
        linear_on_views(3, 4, 5, 0);    /* the plain loop */
        linear_on_views(1, 7, 6, 1);    /* one strided row */
        linear_on_views(40, 48, 64, 0); /* BLIS */
        linear_on_views(64, 48, 96, 0); /* split over the threads */
        linear_on_views(1, 300, 600, 1);
    }
    adj_set_threads(0);
}
END_TEST

START_TEST(test_gradcheck_views)
{
    double xb[24];
    for (int i = 0; i < 24; i++)
        xb[i] = 0.3 * sin(1.7 * i);
    adj_gradcheck_input in = {2, {4, 6}, xb};
    adj_gradcheck_report rep;
    ck_assert_int_eq(adj_gradcheck(chain, NULL, 1, &in, NULL, &rep), ADJ_OK);
    ck_assert_msg(rep.passed, "max rel err %g", rep.max_rel_err);
}
END_TEST

static Suite *views_suite(void)
{
    Suite *s = suite_create("views");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_views_are_o1);
    tcase_add_test(tc, test_view_accessors);
    tcase_add_test(tc, test_ops_on_views);
    tcase_add_test(tc, test_gradcheck_views);
    tcase_add_test(tc, test_linear_reads_strides);
    tcase_add_test(tc, test_tiled_walks);
    tcase_add_test(tc, test_views_of_index_tensors);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(views_suite)
