/*
 * The normalisation ops against values worked out by hand, E13's batch
 * norm composed from primitive ops, and their refusals (status, message
 * words, no leak).  The op-table suites check the gradients and tangents
 * against finite differences; tests/torch_agree.py compares with PyTorch.
 * The suite forces each CPU level of the kernels (ops/dispatch.h), so it
 * links the library's objects.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include "ops/dispatch.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NEAR(got, want, tol)                                                   \
    do {                                                                       \
        double g_ = (got), w_ = (want);                                        \
        ck_assert_msg(fabs(g_ - w_) <= (tol) * fmax(1.0, fabs(w_)), "%s = %.17g, expected %.17g", \
                      #got, g_, w_);                                           \
    } while (0)

/* E13 (batch norm of one unit over a batch of 4, composed from mean, sub,
 * square, sqrt, div, mul, add) and the fused op on the same numbers: equal
 * values, and equal gradients for the same upstream gradient. */
START_TEST(e13_equals_fused)
{
    adj_tape *t = adj_tape_new();
    const adj_example *ex = adj_example_find("e13");
    ck_assert_ptr_nonnull(ex);
    const double k[3] = {1.5, 0.2, 1e-5}; /* gamma, beta, eps */
    adj_var *C = adj_example_build(ex, t, k);
    ck_assert_int_eq(adj_backward(C), ADJ_OK);
    adj_var *zt = adj_tape_find(t, "z̃"), *z = adj_tape_find(t, "z");
    ck_assert_ptr_nonnull(zt);
    ck_assert_ptr_nonnull(z);
    double seed[4], zv[4];
    for (int i = 0; i < 4; i++) {
        seed[i] = adj_grad_at(zt, (size_t)i);
        zv[i] = adj_value_at(z, (size_t)i);
    }

    adj_tape *u = adj_tape_new();
    adj_var *x = adj_tensor_f64(u, 2, ((int64_t[]){4, 1}), zv);
    adj_var *w = adj_tensor_f64(u, 1, ((int64_t[]){1}), &k[0]);
    adj_var *b = adj_tensor_f64(u, 1, ((int64_t[]){1}), &k[1]);
    adj_var *y = adj_batch_norm(x, w, b, NULL, NULL, 1, 0.1, k[2]);
    ck_assert_int_eq(adj_backward_seeded(y, seed), ADJ_OK);
    for (int i = 0; i < 4; i++) {
        NEAR(adj_value_at(y, (size_t)i), adj_value_at(zt, (size_t)i), 1e-14);
        NEAR(adj_grad_at(x, (size_t)i), adj_grad_at(z, (size_t)i), 1e-14);
    }
    NEAR(adj_grad_at(w, 0), adj_grad_at(adj_tape_find(t, "γ"), 0), 1e-14);
    NEAR(adj_grad_at(b, 0), adj_grad_at(adj_tape_find(t, "β"), 0), 1e-14);
    adj_tape_free(u);
    adj_tape_free(t);
}
END_TEST

/* Training updates the caller's running statistics with the unbiased
 * variance; evaluation normalises with them. */
START_TEST(batch_norm_running_statistics)
{
    adj_tape *t = adj_tape_new();
    /* channel 0: 1 2 3 6 (mean 3, squared deviations 4 1 0 9);
     * channel 1: 0 0 4 4 (mean 2, squared deviations 4 each) */
    const double xd[8] = {1, 0, 2, 0, 3, 4, 6, 4};
    adj_var *x = adj_tensor_f64(t, 2, ((int64_t[]){4, 2}), xd);
    double rm[2] = {0, 1}, rv[2] = {1, 2};
    adj_var *y = adj_batch_norm(x, NULL, NULL, rm, rv, 1, 0.25, 0.0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    NEAR(rm[0], 0.75 * 0 + 0.25 * 3, 1e-15);
    NEAR(rm[1], 0.75 * 1 + 0.25 * 2, 1e-15);
    NEAR(rv[0], 0.75 * 1 + 0.25 * (14.0 / 3), 1e-15);
    NEAR(rv[1], 0.75 * 2 + 0.25 * (16.0 / 3), 1e-15);
    /* normalised with the batch's population variance 3.5 and 4 */
    NEAR(adj_value_at(y, 0), (1 - 3) / sqrt(3.5), 1e-15);
    NEAR(adj_value_at(y, 7), (4 - 2) / sqrt(4.0), 1e-15);

    /* evaluation: (x - rm) / sqrt(rv + eps) * w + b, gradient dy w / sqrt(rv + eps) */
    double em[2] = {1, -1}, ev[2] = {3, 0.5};
    adj_var *w = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){2, -1}));
    adj_var *b = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){0.5, 0.25}));
    adj_var *e = adj_batch_norm(x, w, b, em, ev, 0, 0.25, 1.0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert(em[0] == 1 && em[1] == -1 && ev[0] == 3 && ev[1] == 0.5); /* untouched */
    NEAR(adj_value_at(e, 2), (2 - 1) / 2.0 * 2 + 0.5, 1e-15);
    NEAR(adj_value_at(e, 3), (0 + 1) / sqrt(1.5) * -1 + 0.25, 1e-15);
    ck_assert_int_eq(adj_backward(adj_sum(e)), ADJ_OK);
    NEAR(adj_grad_at(x, 0), 2 / 2.0, 1e-15);
    NEAR(adj_grad_at(x, 1), -1 / sqrt(1.5), 1e-15);
    NEAR(adj_grad_at(b, 1), 4, 1e-15);
    adj_tape_free(t);
}
END_TEST

/* Batch norm of an (N, C) input walks rows over blocks of channels; every
 * channel's sums still run over rows 0..N-1 in order.  Against plain loops
 * that take the same sums channel by channel: the same bits for the
 * output and every adjoint, across block edges (C = 128, 129, 300, 515),
 * at every CPU level of its kernels, at 1 and 2 threads, f32 and f64; the
 * running statistics as PyTorch updates them (unbiased variance). */
static double bn_in(size_t i, int k) { return sin(0.37 * (double)i + k) * (1.0 + 0.01 * (double)(i % 7)) + 0.25 * k; }

static void bn_rows_case(adj_dtype dt, int threads, size_t nb, size_t C)
{
    adj_set_threads(threads);
    const size_t n = nb * C;
    double *xd = malloc(n * sizeof *xd), *gd = malloc(n * sizeof *gd);
    double *wd = malloc(C * sizeof *wd), *bd = malloc(C * sizeof *bd);
    double *rm = malloc(C * sizeof *rm), *rv = malloc(C * sizeof *rv);
    ck_assert(xd && gd && wd && bd && rm && rv);
    for (size_t i = 0; i < n; i++) {
        xd[i] = bn_in(i, 1);
        gd[i] = bn_in(i, 2);
        if (dt == ADJ_F32) { /* the values the float tensors hold */
            xd[i] = (float)xd[i];
            gd[i] = (float)gd[i];
        }
    }
    for (size_t c = 0; c < C; c++) {
        wd[c] = dt == ADJ_F32 ? (float)bn_in(c, 3) : bn_in(c, 3);
        bd[c] = dt == ADJ_F32 ? (float)bn_in(c, 4) : bn_in(c, 4);
        rm[c] = 0.5;
        rv[c] = 2.0;
    }
    adj_tape *t = adj_tape_new();
    const int64_t sx[2] = {(int64_t)nb, (int64_t)C}, sc[1] = {(int64_t)C};
    adj_var *x, *w, *b;
    if (dt == ADJ_F32) {
        float *xf = malloc(n * sizeof *xf), *wf = malloc(C * sizeof *wf), *bf = malloc(C * sizeof *bf);
        ck_assert(xf && wf && bf);
        for (size_t i = 0; i < n; i++)
            xf[i] = (float)xd[i];
        for (size_t c = 0; c < C; c++) {
            wf[c] = (float)wd[c];
            bf[c] = (float)bd[c];
        }
        x = adj_tensor_f32(t, 2, sx, xf);
        w = adj_tensor_f32(t, 1, sc, wf);
        b = adj_tensor_f32(t, 1, sc, bf);
        free(xf), free(wf), free(bf);
    } else {
        x = adj_tensor_f64(t, 2, sx, xd);
        w = adj_tensor_f64(t, 1, sc, wd);
        b = adj_tensor_f64(t, 1, sc, bd);
    }
    const double mom = 0.1, eps = 1e-5;
    adj_var *y = adj_batch_norm(x, w, b, rm, rv, 1, mom, eps);
    ck_assert_int_eq(adj_backward_seeded(y, gd), ADJ_OK);
    for (size_t c = 0; c < C; c++) {
        double mu = 0, s = 0;
        for (size_t r = 0; r < nb; r++)
            mu += xd[r * C + c];
        mu /= (double)nb;
        for (size_t r = 0; r < nb; r++) {
            const double d = xd[r * C + c] - mu;
            s += d * d;
        }
        const double var = s / (double)nb, rs = 1.0 / sqrt(var + eps);
        NEAR(rm[c], (1 - mom) * 0.5 + mom * mu, 1e-15);
        NEAR(rv[c], (1 - mom) * 2.0 + mom * (s / (double)(nb - 1)), 1e-15);
        double s1 = 0, s2 = 0;
        for (size_t r = 0; r < nb; r++) {
            const size_t i = r * C + c;
            const double yv = (xd[i] - mu) * rs * wd[c] + bd[c];
            const double want = dt == ADJ_F32 ? (double)(float)yv : yv;
            ck_assert_msg(adj_value_at(y, i) == want, "y[%zu] = %.17g, loops %.17g (%zux%zu, %d threads)", i,
                          adj_value_at(y, i), want, nb, C, threads);
            s1 += gd[i];
            s2 += gd[i] * ((xd[i] - mu) * rs);
        }
        const double dw = dt == ADJ_F32 ? (double)(float)s2 : s2, db = dt == ADJ_F32 ? (double)(float)s1 : s1;
        ck_assert_msg(adj_grad_at(w, c) == dw, "dw[%zu] = %.17g, loops %.17g", c, adj_grad_at(w, c), dw);
        ck_assert_msg(adj_grad_at(b, c) == db, "db[%zu] = %.17g, loops %.17g", c, adj_grad_at(b, c), db);
        const double a1 = wd[c] * s1 / (double)nb, a2 = wd[c] * s2 / (double)nb;
        for (size_t r = 0; r < nb; r++) {
            const size_t i = r * C + c;
            const double d = rs * (gd[i] * wd[c] - a1 - ((xd[i] - mu) * rs) * a2);
            const double want = dt == ADJ_F32 ? (double)(float)d : d;
            ck_assert_msg(adj_grad_at(x, i) == want, "dx[%zu] = %.17g, loops %.17g (%zux%zu, %d threads)", i,
                          adj_grad_at(x, i), want, nb, C, threads);
        }
    }
    adj_tape_free(t);
    free(xd), free(gd), free(wd), free(bd), free(rm), free(rv);
    adj_set_threads(0);
}

START_TEST(batch_norm_rows_match_loops)
{
    /* (128, 515) and (129, 257) split over 2 threads inside a block of
     * channels; the small shapes take the AVX2 kernels at the AVX-512 level */
    static const size_t shapes[][2] = {{2, 1}, {7, 5},     {33, 128},  {5, 129},
                                       {64, 300}, {3, 257}, {128, 515}, {129, 257}};
    for (int level = ADJ_VM_BASE; level <= adj_vm_max_level(); level++) {
        ck_assert_int_eq(adj_vm_force_level(level), level);
        for (int d = 0; d < 2; d++)
            for (int th = 1; th <= 2; th++)
                for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
                    bn_rows_case(d ? ADJ_F64 : ADJ_F32, th, shapes[k][0], shapes[k][1]);
    }
    adj_vm_force_level(-1);
}
END_TEST

/* Layer norm of float rows sitting on a large offset: the two passes in
 * double keep every digit that E[x^2] - E[x]^2 in float would lose. */
START_TEST(layer_norm_large_offset)
{
    adj_tape *t = adj_tape_new();
    float xd[8];
    for (int i = 0; i < 8; i++)
        xd[i] = 10000.0f + (float)((i * 5) % 8 - 3) / 1024.0f; /* exact in float */
    adj_var *x = adj_tensor_f32(t, 2, ((int64_t[]){1, 8}), xd);
    adj_var *y = adj_layer_norm(x, 1, NULL, NULL, 0.0);
    double mu = 0, var = 0;
    for (int i = 0; i < 8; i++)
        mu += xd[i] / 8.0;
    for (int i = 0; i < 8; i++)
        var += (xd[i] - mu) * (xd[i] - mu) / 8.0;
    for (int i = 0; i < 8; i++)
        NEAR(adj_value_at(y, (size_t)i), (xd[i] - mu) / sqrt(var), 1e-6);
    adj_tape_free(t);
}
END_TEST

/* RMS norm and group norm by hand. */
START_TEST(rms_and_group_by_hand)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){3, 4}));
    adj_var *w = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){2, 0.5}));
    adj_var *y = adj_rms_norm(x, w, 0.5);
    NEAR(adj_value_at(y, 0), 3 / sqrt(13.0) * 2, 1e-15);
    NEAR(adj_value_at(y, 1), 4 / sqrt(13.0) * 0.5, 1e-15);
    /* group norm, 1 sample, 4 channels of 1 position, 2 groups: {1, 3}, {2, 6} */
    adj_var *g = adj_tensor_f64(t, 2, ((int64_t[]){1, 4}), ((double[]){1, 3, 2, 6}));
    adj_var *gb = adj_tensor_f64(t, 1, ((int64_t[]){4}), ((double[]){0, 0, 1, 1}));
    adj_var *z = adj_group_norm(g, 2, NULL, gb, 0.0);
    NEAR(adj_value_at(z, 0), -1, 1e-15);
    NEAR(adj_value_at(z, 1), 1, 1e-15);
    NEAR(adj_value_at(z, 2), 0, 1e-15);
    NEAR(adj_value_at(z, 3), 2, 1e-15);
    adj_tape_free(t);
}
END_TEST

/* Dropout is one node that keeps its mask: the same generator state gives
 * the same mask, and the backward lets through exactly the kept elements,
 * scaled by 1 / keep. */
START_TEST(dropout_one_node_with_its_mask)
{
    double ones[64];
    for (int i = 0; i < 64; i++)
        ones[i] = 1;
    double first[64];
    for (int run = 0; run < 2; run++) {
        adj_tape *t = adj_tape_new();
        adj_rng rng;
        adj_rng_seed(&rng, 42);
        adj_var *x = adj_tensor_f64(t, 2, ((int64_t[]){8, 8}), ones);
        size_t before = adj_tape_size(t);
        adj_var *y = adj_dropout(x, 0.25, 1, &rng);
        ck_assert_uint_eq(adj_tape_size(t), before + 1);
        ck_assert_int_eq(adj_var_op(y), ADJ_OP_DROPOUT);
        ck_assert_int_eq(adj_backward(adj_sum(y)), ADJ_OK);
        int kept = 0;
        for (size_t i = 0; i < 64; i++) {
            double v = adj_value_at(y, i);
            ck_assert(v == 0 || v == 1 / 0.75);
            ck_assert(adj_grad_at(x, i) == v); /* dy = 1 through the mask */
            kept += v != 0;
            if (run == 0)
                first[i] = v;
            else
                ck_assert(v == first[i]);
        }
        ck_assert(kept > 32 && kept < 64);
        adj_tape_free(t);
    }
}
END_TEST

/* Refusals: the status, the words of the message, and nothing leaked. */
typedef struct refusal {
    const char *what;
    int kind;
    adj_status st;
    const char *words[3];
} refusal;

enum { WRONG_W, WRONG_B, NDIM0, NDIM3, GROUPS, EPS_NEG, EPS_NAN, MOM_NAN, MOM_BIG, MOM_NEG,
       BN_ONE, BN_ONE_CONV, BN_HALF, BN_W, RMS_W, GN_W, RMS_0D };

static const refusal refusals[] = {
    {"layer_norm w of the wrong shape", WRONG_W, ADJ_ESHAPE, {"adj_layer_norm", "w has shape (3)", "expected (4)"}},
    {"layer_norm b of the wrong shape", WRONG_B, ADJ_ESHAPE, {"adj_layer_norm", "b has shape (2,4)", "expected (4)"}},
    {"layer_norm normalized_ndim 0", NDIM0, ADJ_EINVAL, {"adj_layer_norm", "normalized_ndim 0", "(2,4)"}},
    {"layer_norm normalized_ndim 3", NDIM3, ADJ_EINVAL, {"adj_layer_norm", "normalized_ndim 3", NULL}},
    {"group_norm groups not dividing C", GROUPS, ADJ_EINVAL, {"adj_group_norm", "groups 3 does not divide", "4 channels"}},
    {"layer_norm eps < 0", EPS_NEG, ADJ_EINVAL, {"adj_layer_norm", "eps -1", NULL}},
    {"rms_norm eps NaN", EPS_NAN, ADJ_EINVAL, {"adj_rms_norm", "eps", NULL}},
    {"batch_norm momentum NaN", MOM_NAN, ADJ_EINVAL, {"adj_batch_norm", "momentum", "[0, 1]"}},
    {"batch_norm momentum 1.5", MOM_BIG, ADJ_EINVAL, {"adj_batch_norm", "momentum 1.5", NULL}},
    {"batch_norm momentum -0.1", MOM_NEG, ADJ_EINVAL, {"adj_batch_norm", "momentum -0.1", NULL}},
    {"batch_norm training on one value per channel", BN_ONE, ADJ_ESHAPE, {"adj_batch_norm", "1 value per channel", "training"}},
    {"batch_norm training (1,4,1,1)", BN_ONE_CONV, ADJ_ESHAPE, {"adj_batch_norm", "(1,4,1,1)", "1 value per channel"}},
    {"batch_norm one running statistic", BN_HALF, ADJ_EINVAL, {"adj_batch_norm", "running_var is NULL", NULL}},
    {"batch_norm w of the wrong shape", BN_W, ADJ_ESHAPE, {"adj_batch_norm", "w has shape (2)", "expected (4)"}},
    {"rms_norm w of the wrong shape", RMS_W, ADJ_ESHAPE, {"adj_rms_norm", "w has shape (2)", NULL}},
    {"group_norm w of the wrong shape", GN_W, ADJ_ESHAPE, {"adj_group_norm", "w has shape (2,2)", NULL}},
    {"rms_norm of a 0-D x", RMS_0D, ADJ_ESHAPE, {"adj_rms_norm", "0-D", NULL}},
};

START_TEST(refusals_name_the_problem)
{
    const refusal *r = &refusals[_i];
    test_alloc cnt;
    adj_allocator al = test_alloc_init(&cnt);
    adj_tape *t = adj_tape_new_with(&al);
    adj_var *x = adj_tensor_f64(t, 2, ((int64_t[]){2, 4}), NULL);
    adj_var *w4 = adj_tensor_f64(t, 1, ((int64_t[]){4}), NULL);
    adj_var *w3 = adj_tensor_f64(t, 1, ((int64_t[]){3}), NULL);
    adj_var *w2 = adj_tensor_f64(t, 1, ((int64_t[]){2}), NULL);
    adj_var *m24 = adj_tensor_f64(t, 2, ((int64_t[]){2, 4}), NULL);
    adj_var *m22 = adj_tensor_f64(t, 2, ((int64_t[]){2, 2}), NULL);
    adj_var *one = adj_tensor_f64(t, 2, ((int64_t[]){1, 4}), NULL);
    adj_var *one4 = adj_tensor_f64(t, 4, ((int64_t[]){1, 4, 1, 1}), NULL);
    double rm[4] = {0}, rv[4] = {1, 1, 1, 1};
    adj_var *y = NULL;
    switch (r->kind) {
    case WRONG_W: y = adj_layer_norm(x, 1, w3, NULL, 1e-5); break;
    case WRONG_B: y = adj_layer_norm(x, 1, w4, m24, 1e-5); break;
    case NDIM0: y = adj_layer_norm(x, 0, NULL, NULL, 1e-5); break;
    case NDIM3: y = adj_layer_norm(x, 3, NULL, NULL, 1e-5); break;
    case GROUPS: y = adj_group_norm(x, 3, NULL, NULL, 1e-5); break;
    case EPS_NEG: y = adj_layer_norm(x, 1, NULL, NULL, -1); break;
    case EPS_NAN: y = adj_rms_norm(x, NULL, NAN); break;
    case MOM_NAN: y = adj_batch_norm(x, NULL, NULL, rm, rv, 1, NAN, 1e-5); break;
    case MOM_BIG: y = adj_batch_norm(x, NULL, NULL, rm, rv, 1, 1.5, 1e-5); break;
    case MOM_NEG: y = adj_batch_norm(x, NULL, NULL, rm, rv, 1, -0.1, 1e-5); break;
    case BN_ONE: y = adj_batch_norm(one, NULL, NULL, rm, rv, 1, 0.1, 1e-5); break;
    case BN_ONE_CONV: y = adj_batch_norm(one4, w4, w4, rm, rv, 1, 0.1, 1e-5); break;
    case BN_HALF: y = adj_batch_norm(x, NULL, NULL, rm, NULL, 0, 0.1, 1e-5); break;
    case BN_W: y = adj_batch_norm(x, w2, NULL, rm, rv, 1, 0.1, 1e-5); break;
    case RMS_W: y = adj_rms_norm(x, w2, 1e-5); break;
    case GN_W: y = adj_group_norm(x, 2, m22, NULL, 1e-5); break;
    case RMS_0D: y = adj_rms_norm(adj_scalar(t, 1.0), NULL, 1e-5); break;
    }
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(adj_tape_status(t) == r->st, "%s: status %s, expected %s", r->what,
                  adj_status_string(adj_tape_status(t)), adj_status_string(r->st));
    const char *msg = adj_tape_message(t);
    for (int k = 0; k < 3 && r->words[k]; k++)
        ck_assert_msg(strstr(msg, r->words[k]), "%s: \"%s\" lacks \"%s\"", r->what, msg, r->words[k]);
    ck_assert_msg(strstr(msg, "test_norm.c"), "%s: \"%s\" names no caller line", r->what, msg);
    ck_assert_msg(rm[0] == 0 && rv[0] == 1, "%s: running statistics moved", r->what);
    adj_tape_free(t);
    ck_assert_int_eq(cnt.live, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("norm");
    tcase_add_test(tc, e13_equals_fused);
    tcase_add_test(tc, batch_norm_running_statistics);
    tcase_add_test(tc, batch_norm_rows_match_loops);
    tcase_add_test(tc, layer_norm_large_offset);
    tcase_add_test(tc, rms_and_group_by_hand);
    tcase_add_test(tc, dropout_one_node_with_its_mask);
    tcase_add_loop_test(tc, refusals_name_the_problem, 0, (int)(sizeof refusals / sizeof refusals[0]));
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
