/*
 * Recurrent layers: forward values against a naive scalar reference of
 * each cell written here from the formulas (rnn.h, PyTorch's
 * documentation), gradients of every parameter and of the input against
 * central differences in float64, the unrolled sequence against the cell
 * applied step by step, the parameter names and shapes of torch.nn.LSTM,
 * and refusals.  Agreement with torch.nn.RNN/LSTM/GRU on the same
 * weights is checked by tests/interop/torch_models.py.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, T = 3, I = 3, H = 2 };

static double sig(double v) { return 1 / (1 + exp(-v)); }

/* Row b of (rows, cols) matrix w times vector v of length cols, plus bias. */
static double dot(const double *w, int row, int cols, const double *v)
{
    double s = 0;
    for (int j = 0; j < cols; j++)
        s += w[row * cols + j] * v[j];
    return s;
}

/* The naive reference: one batch row through T steps, hs[t][k]. */
static void reference(adj_rnn_kind kind, const double *wih, const double *whh, const double *bih,
                      const double *bhh, const double *x, double hs[T][H])
{
    double h[H] = {0}, c[H] = {0};
    for (int t = 0; t < T; t++) {
        const double *xt = x + t * I;
        double nh[H], nc[H];
        for (int k = 0; k < H; k++) {
#define GX(g) (dot(wih, (g) * H + k, I, xt) + bih[(g) * H + k])
#define GH(g) (dot(whh, (g) * H + k, H, h) + bhh[(g) * H + k])
            if (kind == ADJ_RNN_TANH) {
                nh[k] = tanh(GX(0) + GH(0));
            } else if (kind == ADJ_RNN_LSTM) {
                double i = sig(GX(0) + GH(0)), f = sig(GX(1) + GH(1));
                double g = tanh(GX(2) + GH(2)), o = sig(GX(3) + GH(3));
                nc[k] = f * c[k] + i * g;
                nh[k] = o * tanh(nc[k]);
            } else {
                double r = sig(GX(0) + GH(0)), z = sig(GX(1) + GH(1));
                double n = tanh(GX(2) + r * GH(2));
                nh[k] = (1 - z) * n + z * h[k];
            }
#undef GX
#undef GH
        }
        for (int k = 0; k < H; k++) {
            h[k] = nh[k];
            if (kind == ADJ_RNN_LSTM)
                c[k] = nc[k];
            hs[t][k] = h[k];
        }
    }
}

static double xval(int i) { return sin(0.7 * i + 0.3); }

/* sum_t sum_{b,k} w_{t,b,k} h_t[b,k] on a fresh tape, with gradients. */
static double run(adj_params *p, const adj_rnn *l, const double *x, double *xgrad, double *outs)
{
    adj_tape *t = adj_tape_new();
    adj_var *xv = adj_tensor_f64(t, 3, ((int64_t[]){B, T, I}), x);
    adj_var *out[T];
    ck_assert_int_eq(adj_rnn_sequence(p, l, xv, NULL, NULL, out, NULL, NULL), ADJ_OK);
    adj_var *terms[T];
    for (int s = 0; s < T; s++) {
        double w[B * H];
        for (int i = 0; i < B * H; i++)
            w[i] = cos(1.0 + s * B * H + i);
        terms[s] = adj_sum(adj_mul(out[s], adj_constant_f64(t, 2, ((int64_t[]){B, H}), w)));
    }
    adj_var *loss = adj_add_n(T, terms);
    adj_params_zero_grad(p);
    ck_assert_int_eq(adj_backward(loss), ADJ_OK);
    double v = adj_item(loss);
    if (xgrad)
        adj_copy_grad(xv, xgrad);
    if (outs)
        for (int s = 0; s < T; s++)
            adj_copy_value(out[s], outs + s * B * H);
    adj_tape_free(t);
    return v;
}

START_TEST(matches_reference_and_differences)
{
    adj_rnn_kind kind = (adj_rnn_kind)_i;
    adj_params *p = adj_params_new(ADJ_F64);
    adj_rng rng;
    adj_rng_seed(&rng, 3 + _i);
    adj_rnn l;
    adj_error err;
    ck_assert_int_eq(adj_rnn_add(p, "rnn.", 0, kind, I, H, &rng, &l, &err), ADJ_OK);
    int G = adj_rnn_gates(kind);
    /* PyTorch's bound: every value within 1/sqrt(H) */
    for (int k = 0; k < 4; k++)
        for (size_t j = 0; j < adj_params_tensor_numel(p, k); j++)
            ck_assert(fabs(((double *)adj_params_value(p, k))[j]) <= 1 / sqrt((double)H));
    double x[B * T * I];
    for (int i = 0; i < B * T * I; i++)
        x[i] = xval(i);
    double hs[T][B * H];
    run(p, &l, x, NULL, &hs[0][0]);
    const double *wih = adj_params_value(p, l.w_ih), *whh = adj_params_value(p, l.w_hh);
    const double *bih = adj_params_value(p, l.b_ih), *bhh = adj_params_value(p, l.b_hh);
    for (int b = 0; b < B; b++) {
        double ref[T][H];
        reference(kind, wih, whh, bih, bhh, x + b * T * I, ref);
        for (int s = 0; s < T; s++)
            for (int k = 0; k < H; k++)
                ck_assert_msg(fabs(hs[s][b * H + k] - ref[s][k]) < 1e-14, "%s h[%d][%d][%d]: %.17g vs %.17g",
                              adj_rnn_kind_name(kind), s, b, k, hs[s][b * H + k], ref[s][k]);
    }
    ck_assert_int_eq(adj_params_tensor_shape(p, l.w_ih)[0], G * H);
    /* gradients: parameters and input against central differences */
    double xg[B * T * I];
    run(p, &l, x, xg, NULL);
    size_t np = adj_params_numel(p);
    double *g = malloc(np * sizeof *g);
    int cnt = adj_params_count(p);
    for (int k = 0, at = 0; k < cnt; k++) {
        memcpy(g + at, adj_params_grad(p, k), adj_params_tensor_numel(p, k) * sizeof *g);
        at += (int)adj_params_tensor_numel(p, k);
    }
    const double e = 1e-6;
    for (int k = 0, at = 0; k < cnt; k++) {
        double *v = adj_params_value(p, k);
        for (size_t j = 0; j < adj_params_tensor_numel(p, k); j++, at++) {
            double keep = v[j];
            v[j] = keep + e;
            double up = run(p, &l, x, NULL, NULL);
            v[j] = keep - e;
            double dn = run(p, &l, x, NULL, NULL);
            v[j] = keep;
            double fd = (up - dn) / (2 * e);
            ck_assert_msg(fabs(fd - g[at]) < 1e-8, "%s %s[%zu]: backward %.12g, differences %.12g",
                          adj_rnn_kind_name(kind), adj_params_tensor_name(p, k), j, g[at], fd);
        }
    }
    for (int i = 0; i < B * T * I; i++) {
        double keep = x[i];
        x[i] = keep + e;
        double up = run(p, &l, x, NULL, NULL);
        x[i] = keep - e;
        double dn = run(p, &l, x, NULL, NULL);
        x[i] = keep;
        ck_assert_msg(fabs((up - dn) / (2 * e) - xg[i]) < 1e-8, "%s dx[%d]", adj_rnn_kind_name(kind), i);
    }
    free(g);
    adj_params_free(p);
}
END_TEST

/* The cell, stepped by hand, gives the sequence's states. */
START_TEST(cell_equals_sequence)
{
    for (int kind = 0; kind < ADJ_RNN_KIND_COUNT; kind++) {
        adj_params *p = adj_params_new(ADJ_F64);
        adj_rng rng;
        adj_rng_seed(&rng, 9);
        adj_rnn l;
        ck_assert_int_eq(adj_rnn_add(p, NULL, 2, (adj_rnn_kind)kind, I, H, &rng, &l, NULL), ADJ_OK);
        ck_assert_str_eq(adj_params_tensor_name(p, 0), "weight_ih_l2");
        ck_assert_str_eq(adj_params_tensor_name(p, 3), "bias_hh_l2");
        adj_tape *t = adj_tape_new();
        double x[B * T * I], zero[B * H] = {0};
        for (int i = 0; i < B * T * I; i++)
            x[i] = xval(i);
        adj_var *xv = adj_constant_f64(t, 3, ((int64_t[]){B, T, I}), x);
        adj_var *out[T], *hl, *cl;
        ck_assert_int_eq(adj_rnn_sequence(p, &l, xv, NULL, NULL, out, &hl, &cl), ADJ_OK);
        ck_assert_ptr_eq(hl, out[T - 1]);
        ck_assert((kind == ADJ_RNN_LSTM) == (cl != NULL));
        adj_var *h = adj_constant_f64(t, 2, ((int64_t[]){B, H}), zero);
        adj_var *c = adj_constant_f64(t, 2, ((int64_t[]){B, H}), zero);
        for (int s = 0; s < T; s++) {
            adj_var *cn = NULL;
            h = adj_rnn_cell(p, &l, adj_select(xv, 1, s), h, kind == ADJ_RNN_LSTM ? c : NULL, &cn);
            c = cn;
            for (int i = 0; i < B * H; i++)
                ck_assert_double_eq_tol(adj_value_at(h, (size_t)i), adj_value_at(out[s], (size_t)i), 1e-15);
        }
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        /* refusals */
        adj_var *bad[T];
        ck_assert_int_eq(adj_rnn_sequence(p, &l, adj_select(xv, 1, 0), NULL, NULL, bad, NULL, NULL),
                         ADJ_ESHAPE);
        ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_rnn_sequence"));
        adj_tape_reset(t);
        if (kind == ADJ_RNN_LSTM) {
            adj_var *x2 = adj_constant_f64(t, 2, ((int64_t[]){B, I}), x);
            adj_var *h2 = adj_constant_f64(t, 2, ((int64_t[]){B, H}), zero);
            ck_assert_ptr_null(adj_rnn_cell(p, &l, x2, h2, NULL, NULL));
            ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "LSTM"));
        }
        adj_tape_free(t);
        adj_error err;
        ck_assert_int_eq(adj_rnn_add(p, "x", 0, (adj_rnn_kind)7, I, H, NULL, &l, &err), ADJ_EINVAL);
        ck_assert_int_eq(adj_rnn_add(p, "x", 0, ADJ_RNN_GRU, I, 0, NULL, &l, &err), ADJ_EINVAL);
        adj_params_free(p);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rnn");
    TCase *tc = tcase_create("cells");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, matches_reference_and_differences, 0, ADJ_RNN_KIND_COUNT);
    tcase_add_test(tc, cell_equals_sequence);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
