/*
 * A product that reads a view writes the view's adjoint straight into its
 * input's adjoint (the descriptors' grad_view): adj_matmul(x,
 * adj_transpose(w)) gives w the adjoint adj_matmul_t(x, w, 0, 1) gives,
 * bit for bit, and both agree with plain loops written here.  Covered:
 * either operand a view, a transposed and a sliced (strided, offset) view,
 * a view of a view, f32 and f64, sizes for the plain-loop product, for
 * BLIS and for the two-thread split, 1 and 2 threads, and the cases that
 * must take the ordinary path (the view's input used between the view and
 * the product, the view used twice, x on both sides, and anomaly mode,
 * whose check must see the view's adjoint).
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

static double *filled(size_t n, uint64_t seed)
{
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = frand(&seed);
    return v;
}

/* a leaf of dtype dt holding v (rounded to float for ADJ_F32) */
static adj_var *leaf(adj_tape *t, adj_dtype dt, int64_t r, int64_t c, double *v)
{
    size_t n = (size_t)(r * c);
    if (dt == ADJ_F64)
        return adj_tensor_f64(t, 2, ((int64_t[]){r, c}), v);
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)v[i];
        v[i] = f[i];
    }
    adj_var *x = adj_tensor_f32(t, 2, ((int64_t[]){r, c}), f);
    free(f);
    return x;
}

static void expect_close(const adj_var *v, const double *want, size_t n, double tol)
{
    double *got = malloc(n * sizeof *got);
    ck_assert_int_eq(adj_copy_grad(v, got), ADJ_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])),
                      "element %zu of %zu: %.17g, want %.17g", i, n, got[i], want[i]);
    free(got);
}

static void expect_same_bits(const adj_var *a, const adj_var *b, size_t n, adj_dtype dt)
{
    ck_assert(adj_grad_data(a) && adj_grad_data(b));
    ck_assert_msg(memcmp(adj_grad_data(a), adj_grad_data(b), n * (dt == ADJ_F64 ? 8 : 4)) == 0,
                  "adjoints differ from adj_matmul_t's");
}

/*
 * y = x (m,k) wᵀ, w (n,k), seeded with up: dx = up w, dw = upᵀ x, through
 * adj_transpose(w) and through adj_matmul_t on a second tape (the same
 * bits); then y = aᵀ b through adj_transpose(a) on the left, a (k,m).
 */
static void transposed(adj_dtype dt, int threads, size_t m, size_t k, size_t n)
{
    adj_set_threads(threads);
    const double tol = dt == ADJ_F64 ? 1e-12 : 1e-4;
    double *x = filled(m * k, 1), *w = filled(n * k, 2), *up = filled(m * n, 3);
    double *gx = calloc(m * k, sizeof *gx), *gw = calloc(n * k, sizeof *gw);
    adj_tape *t = adj_tape_new(), *t2 = adj_tape_new();
    adj_var *xv = leaf(t, dt, (int64_t)m, (int64_t)k, x), *wv = leaf(t, dt, (int64_t)n, (int64_t)k, w);
    adj_var *xv2 = leaf(t2, dt, (int64_t)m, (int64_t)k, x), *wv2 = leaf(t2, dt, (int64_t)n, (int64_t)k, w);
    ref_mm(m, k, n, up, n, 1, w, k, 1, gx); /* up w */
    ref_mm(n, k, m, up, 1, n, x, k, 1, gw); /* upᵀ x */
    adj_var *tv = adj_transpose(wv);
    adj_var *y = adj_matmul(xv, tv), *y2 = adj_matmul_t(xv2, wv2, 0, 1);
    for (int sweep = 0; sweep < 2; sweep++) { /* a second sweep restarts from zero */
        ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
        ck_assert_int_eq(adj_backward_seeded(y2, up), ADJ_OK);
        expect_close(xv, gx, m * k, tol);
        expect_close(wv, gw, n * k, tol);
        expect_same_bits(xv, xv2, m * k, dt);
        expect_same_bits(wv, wv2, n * k, dt);
        ck_assert_ptr_null(adj_grad_data(tv)); /* written into w's, never its own */
    }
    /* aᵀ b: a (k,m) = the x above read as (k,m), b (k,n) */
    double *b = filled(k * n, 4), *ga = calloc(k * m, sizeof *ga);
    adj_tape_reset(t);
    adj_tape_reset(t2);
    adj_var *av = leaf(t, dt, (int64_t)k, (int64_t)m, x), *bv = leaf(t, dt, (int64_t)k, (int64_t)n, b);
    adj_var *av2 = leaf(t2, dt, (int64_t)k, (int64_t)m, x), *bv2 = leaf(t2, dt, (int64_t)k, (int64_t)n, b);
    ref_mm(k, m, n, b, n, 1, up, 1, n, ga); /* b upᵀ */
    ck_assert_int_eq(adj_backward_seeded(adj_matmul(adj_transpose(av), bv), up), ADJ_OK);
    ck_assert_int_eq(adj_backward_seeded(adj_matmul_t(av2, bv2, 1, 0), up), ADJ_OK);
    expect_close(av, ga, k * m, tol);
    expect_same_bits(av, av2, k * m, dt);
    expect_same_bits(bv, bv2, k * n, dt);
    adj_tape_free(t);
    adj_tape_free(t2);
    free(x), free(w), free(up), free(gx), free(gw), free(b), free(ga);
    adj_set_threads(0);
}

START_TEST(transposed_operand_writes_its_input_adjoint)
{
    for (int dt = 0; dt < 2; dt++) {
        adj_dtype d = dt ? ADJ_F32 : ADJ_F64;
        transposed(d, 1, 3, 5, 7);    /* the plain-loop product */
        transposed(d, 1, 70, 61, 53); /* BLIS */
        transposed(d, 2, 70, 61, 53); /* split over two threads */
        transposed(d, 2, 9, 130, 141);
    }
}
END_TEST

/*
 * Strided views with an offset: y = x sᵀ with s = w[:, 1:2k+1:2] (every
 * other column of a (n, 2k+1) w, a view of a view once transposed), and
 * y = x v[2:k+2] (rows 2..k+1 of a (k+3, n) v).  The rest of each
 * adjoint stays zero.
 */
static void sliced(adj_dtype dt, int threads, size_t m, size_t k, size_t n)
{
    adj_set_threads(threads);
    const double tol = dt == ADJ_F64 ? 1e-12 : 1e-4;
    const size_t wc = 2 * k + 1;
    double *x = filled(m * k, 5), *w = filled(n * wc, 6), *v = filled((k + 3) * n, 7);
    double *up = filled(m * n, 8), *gw = calloc(n * wc, sizeof *gw), *gv = calloc((k + 3) * n, sizeof *gv);
    double *gx = calloc(m * k, sizeof *gx);
    adj_tape *t = adj_tape_new();
    adj_var *xv = leaf(t, dt, (int64_t)m, (int64_t)k, x), *wv = leaf(t, dt, (int64_t)n, (int64_t)wc, w);
    adj_var *vv = leaf(t, dt, (int64_t)k + 3, (int64_t)n, v);
    adj_var *s = adj_slice(wv, 1, 1, (int64_t)wc, 2);
    adj_var *y = adj_add(adj_matmul(xv, adj_transpose(s)), adj_matmul(xv, adj_slice(vv, 0, 2, (int64_t)k + 2, 1)));
    ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
    double *gs = calloc(n * k, sizeof *gs);
    ref_mm(n, k, m, up, 1, n, x, k, 1, gs); /* upᵀ x, into the odd columns */
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < k; c++)
            gw[r * wc + 1 + 2 * c] = gs[r * k + c];
    free(gs);
    ref_mm(k, n, m, x, 1, k, up, n, 1, gv + 2 * n); /* xᵀ up into rows 2..k+1 */
    ref_mm(m, k, n, up, n, 1, w + 1, wc, 2, gx);    /* up s */
    ref_mm(m, k, n, up, n, 1, v + 2 * n, 1, n, gx); /* up v[2:k+2]ᵀ */
    expect_close(wv, gw, n * wc, tol);
    expect_close(vv, gv, (k + 3) * n, tol);
    expect_close(xv, gx, m * k, tol);
    adj_tape_free(t);
    free(x), free(w), free(v), free(up), free(gw), free(gv), free(gx);
    adj_set_threads(0);
}

START_TEST(sliced_operand_writes_its_input_adjoint)
{
    for (int dt = 0; dt < 2; dt++) {
        adj_dtype d = dt ? ADJ_F32 : ADJ_F64;
        sliced(d, 1, 3, 4, 5);
        sliced(d, 1, 67, 45, 71);
        sliced(d, 2, 67, 45, 71);
    }
}
END_TEST

/*
 * The ordinary path: y = x tᵀ... with t = adj_transpose(w) also used by a
 * second product, w itself used between the view and the product, and
 * w on both sides (wᵀ w).  dw is checked against plain loops.
 */
static void shared(int threads, size_t n)
{
    adj_set_threads(threads);
    double *x = filled(n * n, 9), *w = filled(n * n, 10), *up = filled(n * n, 11);
    double *want = calloc(n * n, sizeof *want);
    for (int c = 0; c < 3; c++) {
        memset(want, 0, n * n * sizeof *want);
        adj_tape *t = adj_tape_new();
        adj_var *xv = leaf(t, ADJ_F64, (int64_t)n, (int64_t)n, x);
        adj_var *wv = leaf(t, ADJ_F64, (int64_t)n, (int64_t)n, w);
        adj_var *tv = adj_transpose(wv), *y;
        if (c == 0) { /* x wᵀ + x wᵀ: dw = 2 upᵀ x */
            y = adj_add(adj_matmul(xv, tv), adj_matmul(xv, tv));
            ref_mm(n, n, n, up, 1, n, x, n, 1, want);
            ref_mm(n, n, n, up, 1, n, x, n, 1, want);
        } else if (c == 1) { /* 3 w + x wᵀ, the scale recorded between: dw = 3 up + upᵀ x */
            adj_var *s = adj_scale(wv, 3.0);
            y = adj_add(s, adj_matmul(xv, tv));
            for (size_t i = 0; i < n * n; i++)
                want[i] = 3 * up[i];
            ref_mm(n, n, n, up, 1, n, x, n, 1, want);
        } else { /* wᵀ w: dw = w up + ... = w upᵀ + w up */
            y = adj_matmul(tv, wv);
            ref_mm(n, n, n, w, n, 1, up, 1, n, want);
            ref_mm(n, n, n, w, n, 1, up, n, 1, want);
        }
        ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
        expect_close(wv, want, n * n, 1e-12);
        adj_tape_free(t);
    }
    free(x), free(w), free(up), free(want);
    adj_set_threads(0);
}

START_TEST(shared_views_take_the_ordinary_path)
{
    shared(1, 5);
    shared(1, 64);
    shared(2, 64);
}
END_TEST

/*
 * Anomaly mode on a view's adjoint that overflows while the other
 * operand's stays finite (x of 1e19 and the seed 1e20 in f32, 1e200 and
 * 1e201 in f64, w of 1e-20 / 1e-200): y = x wᵀ through adj_transpose(w),
 * y = x s with s = w[1:k+1] a row slice, and y = wᵀ x through the left
 * operand.  The product's backward is named, as giving a non-finite
 * adjoint to the view's input number, where the direct write into w's
 * adjoint would pass unseen (w is none of the product's inputs).  Out of
 * anomaly mode the sweep ends well with the infinity in w's adjoint and
 * the view's own adjoint never allocated.
 */
static void anomaly_view(adj_dtype dt, int threads, size_t m, size_t k, size_t n, int form, int anomaly)
{
    adj_set_threads(threads);
    const double big = dt == ADJ_F32 ? 1e19 : 1e200, small = dt == ADJ_F32 ? 1e-20 : 1e-200;
    const size_t wr = form == 1 ? k + 2 : n, wc = form == 1 ? n : k; /* w's shape */
    double *x = malloc(m * k * sizeof *x), *w = malloc(wr * wc * sizeof *w), *up = malloc(m * n * sizeof *up);
    for (size_t i = 0; i < m * k; i++)
        x[i] = big;
    for (size_t i = 0; i < wr * wc; i++)
        w[i] = small;
    for (size_t i = 0; i < m * n; i++)
        up[i] = 10 * big;
    adj_tape *t = adj_tape_new();
    adj_tape_set_anomaly(t, anomaly);
    adj_var *wv = leaf(t, dt, (int64_t)wr, (int64_t)wc, w), *xv, *view, *y;
    if (form == 2) { /* wᵀ x: w (k, m) read through its transpose on the left, x (k, n) */
        free(w), free(x);
        w = malloc(k * m * sizeof *w), x = malloc(k * n * sizeof *x);
        for (size_t i = 0; i < k * m; i++)
            w[i] = small;
        for (size_t i = 0; i < k * n; i++)
            x[i] = big;
        adj_tape_reset(t);
        wv = leaf(t, dt, (int64_t)k, (int64_t)m, w);
        xv = leaf(t, dt, (int64_t)k, (int64_t)n, x);
        view = adj_transpose(wv);
        y = adj_matmul(view, xv);
    } else {
        xv = leaf(t, dt, (int64_t)m, (int64_t)k, x);
        view = form == 0 ? adj_transpose(wv) : adj_slice(wv, 0, 1, (int64_t)k + 1, 1);
        y = adj_matmul(xv, view);
    }
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    const adj_status st = adj_backward_seeded(y, up);
    if (anomaly) {
        const char *msg = adj_tape_message(t);
        ck_assert_msg(st == ADJ_ENUMERIC, "form %d (%zu,%zu,%zu): status %d", form, m, k, n, (int)st);
        ck_assert_msg(strstr(msg, "backward of node") && strstr(msg, "(adj_matmul)") &&
                          strstr(msg, form == 2 ? "of its input 0" : "of its input 1"),
                      "form %d: %s", form, msg);
        ck_assert_ptr_null(adj_grad_data(view)); /* the direct write, checked where it went */
    } else {
        ck_assert_msg(st == ADJ_OK, "%s", adj_tape_message(t));
        ck_assert(isinf(adj_grad_at(wv, form == 1 ? wc : 0)));
        ck_assert(isfinite(adj_grad_at(xv, 0)));
        ck_assert_ptr_null(adj_grad_data(view));
    }
    adj_tape_free(t);
    free(x), free(w), free(up);
    adj_set_threads(0);
}

START_TEST(anomaly_sees_a_view_operand_adjoint)
{
    for (int dt = 0; dt < 2; dt++)
        for (int form = 0; form < 3; form++)
            for (int anomaly = 0; anomaly < 2; anomaly++) {
                adj_dtype d = dt ? ADJ_F32 : ADJ_F64;
                anomaly_view(d, 1, 3, 5, 7, form, anomaly);    /* the plain-loop product */
                anomaly_view(d, 1, 70, 61, 53, form, anomaly); /* BLIS */
                anomaly_view(d, 2, 70, 61, 53, form, anomaly); /* split over two threads */
            }
}
END_TEST

/*
 * Anomaly mode changes no bits: with the weight's adjoint already holding
 * a contribution when the product's backward runs (a weight-decay term
 * recorded after it), adj_matmul(x, adj_transpose(w)), adj_matmul(x, a
 * row slice of w) and adj_linear(x, adj_transpose(adj_contiguous(
 * adj_transpose(w))), NULL) give every adjoint the same bits in and out of
 * anomaly mode, at 1 and 2 threads, f32 and f64.
 */
static void decay_grads(adj_dtype dt, int threads, int form, int anomaly, size_t m, size_t k, size_t n, double *out)
{
    adj_set_threads(threads);
    const size_t wr = form == 1 ? k + 2 : n, wc = form == 1 ? n : k;
    double *x = malloc(m * k * sizeof *x), *w = malloc(wr * wc * sizeof *w);
    adj_rng r;
    adj_rng_seed(&r, 5);
    for (size_t i = 0; i < m * k; i++)
        x[i] = adj_rng_uniform_range(&r, -1, 1);
    for (size_t i = 0; i < wr * wc; i++)
        w[i] = adj_rng_uniform_range(&r, -1, 1);
    adj_tape *t = adj_tape_new();
    adj_tape_set_anomaly(t, anomaly);
    adj_var *wv = leaf(t, dt, (int64_t)wr, (int64_t)wc, w), *xv = leaf(t, dt, (int64_t)m, (int64_t)k, x);
    adj_var *y = form == 0   ? adj_matmul(xv, adj_transpose(wv))
                 : form == 1 ? adj_matmul(xv, adj_slice(wv, 0, 1, (int64_t)k + 1, 1))
                             : adj_linear(xv, adj_transpose(adj_contiguous(adj_transpose(wv))), NULL);
    adj_var *loss = adj_add(adj_sum(adj_mul(y, y)), adj_sum(adj_mul(wv, wv)));
    ck_assert_msg(adj_backward(loss) == ADJ_OK, "%s", adj_tape_message(t));
    ck_assert_int_eq(adj_copy_grad(xv, out), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(wv, out + m * k), ADJ_OK);
    adj_tape_free(t);
    free(x), free(w);
    adj_set_threads(0);
}

START_TEST(anomaly_mode_keeps_bits)
{
    const size_t m = 1000, k = 40, n = 30, len = m * k + (k + 2) * n; /* m above BLIS's k-blocking */
    double *off = malloc(len * sizeof *off), *on = malloc(len * sizeof *on);
    for (int dt = 0; dt < 2; dt++)
        for (int form = 0; form < 3; form++)
            for (int th = 1; th <= 2; th++) {
                const size_t used = m * k + (form == 1 ? (k + 2) * n : n * k);
                decay_grads(dt ? ADJ_F32 : ADJ_F64, th, form, 0, m, k, n, off);
                decay_grads(dt ? ADJ_F32 : ADJ_F64, th, form, 1, m, k, n, on);
                ck_assert_msg(memcmp(off, on, used * sizeof *off) == 0,
                              "form %d, %s, %d threads: anomaly mode changed an adjoint", form,
                              dt ? "f32" : "f64", th);
            }
    free(off), free(on);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("viewgrad");
    TCase *tc = tcase_create("viewgrad");
    tcase_add_test(tc, transposed_operand_writes_its_input_adjoint);
    tcase_add_test(tc, sliced_operand_writes_its_input_adjoint);
    tcase_add_test(tc, shared_views_take_the_ordinary_path);
    tcase_add_test(tc, anomaly_sees_a_view_operand_adjoint);
    tcase_add_test(tc, anomaly_mode_keeps_bits);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
