/*
 * Layers, initialisers, MLPs and metrics (src/nn): the lecture notes'
 * examples E5, E9, E12, E13 and E14 computed through the layers, against
 * the notes' values and hand derivations.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-9

static double pd(adj_params *p, int i, size_t k) { return ((double *)adj_params_value(p, i))[k]; }
static double gd(adj_params *p, int i, size_t k) { return ((double *)adj_params_grad(p, i))[k]; }
static void setd(adj_params *p, int i, const double *v)
{
    memcpy(adj_params_value(p, i), v, adj_params_tensor_numel(p, i) * sizeof(double));
}

/* E12: 4-5-1 has 31 parameters, 4-4-3-5-1 has 61. */
START_TEST(e12_parameter_count)
{
    int64_t a[] = {4, 5, 1}, b[] = {4, 4, 3, 5, 1};
    ck_assert_uint_eq(adj_mlp_count_params(3, a), 31);
    ck_assert_uint_eq(adj_mlp_count_params(5, b), 61);
    adj_mlp_config c = adj_mlp_config_default();
    ck_assert_int_eq(adj_mlp_config_set_sizes(&c, 5, b, ADJ_ACT_TANH), ADJ_OK);
    adj_rng r;
    adj_rng_seed(&r, 3);
    adj_mlp *m = adj_mlp_new(&c, &r, NULL);
    ck_assert_ptr_nonnull(m);
    adj_params *p = adj_mlp_params(m);
    size_t n = 0;
    for (int i = 0; i < adj_params_count(p); i++)
        n += adj_params_tensor_numel(p, i);
    ck_assert_uint_eq(n, 61);
    ck_assert_int_eq(adj_params_count(p), 8);
    ck_assert_int_eq(c.act[3], ADJ_ACT_IDENTITY);
    adj_mlp_free(m);
}
END_TEST

/* E5: the 2-2-1 sigmoid network: gradients of C = (a - y)^2 / 2 and one
 * gradient-descent step with eta = 0.1, through adj_mlp and adj_optim. */
START_TEST(e5_two_two_one_network)
{
    int64_t sz[] = {2, 2, 1};
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = ADJ_F64;
    adj_mlp_config_set_sizes(&c, 3, sz, ADJ_ACT_SIGMOID);
    c.act[1] = ADJ_ACT_SIGMOID;
    adj_rng r;
    adj_rng_seed(&r, 1);
    adj_mlp *m = adj_mlp_new(&c, &r, NULL);
    adj_params *p = adj_mlp_params(m);
    const adj_dense *l1 = adj_mlp_dense(m, 0), *l2 = adj_mlp_dense(m, 1);
    setd(p, l1->weight, (double[]){0.1, 0.2, -0.3, 0.4});
    setd(p, l1->bias, (double[]){0.05, -0.05});
    setd(p, l2->weight, (double[]){0.7, -0.6});
    setd(p, l2->bias, (double[]){0.1});
    adj_tape *t = adj_tape_new();
    int64_t xs[2] = {1, 2}, ys[2] = {1, 1};
    adj_var *x = adj_constant_f64(t, 2, xs, ((double[]){0.5, -1.0}));
    adj_var *y = adj_constant_f64(t, 2, ys, ((double[]){1.0}));
    adj_var *a = adj_mlp_forward(m, x);
    adj_var *C = adj_scale(adj_sum(adj_square(adj_sub(a, y))), 0.5);
    ck_assert_int_eq(adj_backward(C), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(a), 0.5547565981, 1e-10);
    ck_assert_double_eq_tol(adj_item(C), 0.0991208435, 1e-10);
    double dW1[] = {-0.0095988726, 0.0191977453, 0.0075482247, -0.0150964494};
    for (int k = 0; k < 4; k++)
        ck_assert_double_eq_tol(gd(p, l1->weight, (size_t)k), dW1[k], 1e-10);
    ck_assert_double_eq_tol(gd(p, l1->bias, 0), -0.0191977453, 1e-10);
    ck_assert_double_eq_tol(gd(p, l1->bias, 1), 0.0150964494, 1e-10);
    ck_assert_double_eq_tol(gd(p, l2->weight, 0), -0.0522408337, 1e-10);
    ck_assert_double_eq_tol(gd(p, l2->weight, 1), -0.0389692609, 1e-10);
    ck_assert_double_eq_tol(gd(p, l2->bias, 0), -0.1099758838, 1e-10);
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_SGD);
    oc.lr = 0.1;
    adj_optim *o = adj_optim_new(p, &oc, NULL);
    ck_assert_int_eq(adj_optim_step(o), ADJ_OK);
    double W1[] = {0.1009598873, 0.1980802255, -0.3007548225, 0.4015096449};
    for (int k = 0; k < 4; k++)
        ck_assert_double_eq_tol(pd(p, l1->weight, (size_t)k), W1[k], 1e-10);
    ck_assert_double_eq_tol(pd(p, l1->bias, 0), 0.0519197745, 1e-10);
    ck_assert_double_eq_tol(pd(p, l1->bias, 1), -0.0515096449, 1e-10);
    ck_assert_double_eq_tol(pd(p, l2->weight, 0), 0.7052240834, 1e-10);
    ck_assert_double_eq_tol(pd(p, l2->weight, 1), -0.5961030739, 1e-10);
    ck_assert_double_eq_tol(pd(p, l2->bias, 0), 0.1109975884, 1e-10);
    adj_optim_free(o);
    adj_tape_free(t);
    adj_mlp_free(m);
}
END_TEST

/* E13: batch normalisation of one unit over a batch of four. */
START_TEST(e13_batch_norm)
{
    adj_params *p = adj_params_new(ADJ_F64);
    adj_error err;
    adj_batchnorm *bn = adj_batchnorm_new(p, "bn", 1, 1e-5, 0.1, &err);
    ck_assert_ptr_nonnull(bn);
    ck_assert_int_eq(err.status, ADJ_OK);
    ck_assert_double_eq(pd(p, 0, 0), 1.0); /* gamma starts at 1, beta at 0 */
    ck_assert_double_eq(pd(p, 1, 0), 0.0);
    setd(p, 0, (double[]){1.5});
    setd(p, 1, (double[]){0.2});
    adj_tape *t = adj_tape_new();
    int64_t sh[2] = {4, 1};
    adj_var *z = adj_tensor_f64(t, 2, sh, ((double[]){1, 2, 4, -1}));
    adj_var *tg = adj_constant_f64(t, 2, sh, ((double[]){0, 1, 0.5, -0.5}));
    adj_var *zt = adj_batchnorm_forward(bn, p, z, 1);
    adj_var *C = adj_scale(adj_sum(adj_square(adj_sub(zt, tg))), 0.5);
    ck_assert_int_eq(adj_backward(C), ADJ_OK);
    double ztil[] = {-0.2160245071, 0.6160245071, 2.2801225357, -1.8801225357};
    double dz[] = {0.1120058284, -0.5280303355, 0.2720198723, 0.1440046348};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_double_eq_tol(adj_value_at(zt, i), ztil[i], 1e-9);
        ck_assert_double_eq_tol(adj_grad_at(z, i), dz[i], 1e-9);
    }
    ck_assert_double_eq_tol(adj_item(C), 2.6338391111, 1e-9);
    ck_assert_double_eq_tol(gd(p, 0, 0), 4.3358835100, 1e-9);
    ck_assert_double_eq_tol(gd(p, 1, 0), -0.2, 1e-9);
    /* running statistics: momentum 0.1 from (0, 1); unbiased variance 3.25 * 4/3 */
    ck_assert_double_eq_tol(adj_batchnorm_running_mean(bn)[0], 0.1 * 1.5, 1e-12);
    ck_assert_double_eq_tol(adj_batchnorm_running_var(bn)[0], 0.9 + 0.1 * 3.25 * 4.0 / 3.0, 1e-12);
    /* evaluation with the batch's own statistics reproduces the training output */
    adj_batchnorm_running_mean(bn)[0] = 1.5;
    adj_batchnorm_running_var(bn)[0] = 3.25;
    adj_tape_reset(t);
    z = adj_constant_f64(t, 2, sh, ((double[]){1, 2, 4, -1}));
    zt = adj_batchnorm_forward(bn, p, z, 0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    for (size_t i = 0; i < 4; i++)
        ck_assert_double_eq_tol(adj_value_at(zt, i), ztil[i], 1e-9);
    /* a shape mismatch is a tape error, not a crash */
    int64_t bad[2] = {4, 3};
    adj_batchnorm_forward(bn, p, adj_constant_f64(t, 2, bad, NULL), 1);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESHAPE);
    adj_tape_free(t);
    adj_batchnorm_free(bn);
    adj_params_free(p);
}
END_TEST

/* E14: inverted dropout with keep 0.75 and mask (1, 0, 1, 1). */
START_TEST(e14_dropout)
{
    adj_params *p = adj_params_new(ADJ_F64);
    adj_dense d;
    ck_assert_int_eq(adj_dense_add(p, "l", 4, 1, 1, &d), ADJ_OK);
    setd(p, d.weight, (double[]){0.5, -1, 0.25, 1});
    setd(p, d.bias, (double[]){0.1});
    adj_tape *t = adj_tape_new();
    int64_t sh[2] = {1, 4};
    const double a[] = {1, 2, 3, 4};
    adj_var *x = adj_tensor_f64(t, 2, sh, a);
    adj_var *h = adj_dropout_mask(x, (const uint8_t[]){1, 0, 1, 1}, 0.75);
    adj_var *z = adj_dense_forward(p, &d, h);
    ck_assert_int_eq(adj_backward(z), ADJ_OK);
    double act[] = {4.0 / 3, 0, 4, 16.0 / 3};
    for (size_t i = 0; i < 4; i++)
        ck_assert_double_eq_tol(adj_value_at(h, i), act[i], 1e-12);
    ck_assert_double_eq_tol(adj_item(z), 7.1, 1e-12);
    /* dz/da_i = w_i m_i / keep; no gradient reaches dropped units */
    ck_assert_double_eq_tol(adj_grad_at(x, 0), 0.5 / 0.75, 1e-12);
    ck_assert_double_eq(adj_grad_at(x, 1), 0.0);
    /* evaluation: identity, the pre-activation is 3.35 ... */
    adj_var *e = adj_dropout(x, 0.25, 0, NULL);
    ck_assert_ptr_eq(e, x);
    ck_assert_double_eq_tol(adj_item(adj_dense_forward(p, &d, e)), 3.35, 1e-12);
    /* ... the mean of the training value over all 16 masks */
    double mean = 0;
    for (int mask = 0; mask < 16; mask++) {
        uint8_t mk[4];
        double prob = 1;
        for (int i = 0; i < 4; i++) {
            mk[i] = (uint8_t)(mask >> i & 1);
            prob *= mk[i] ? 0.75 : 0.25;
        }
        adj_var *zz = adj_dense_forward(p, &d, adj_dropout_mask(x, mk, 0.75));
        mean += prob * adj_item(zz);
    }
    ck_assert_double_eq_tol(mean, 3.35, 1e-12);
    /* random masks keep about `keep` of a large tensor, scaled by 1/keep */
    int64_t big[2] = {100, 100};
    adj_var *ones = adj_constant_f64(t, 2, big, NULL);
    adj_rng r;
    adj_rng_seed(&r, 11);
    adj_var *dr =
        adj_dropout(adj_add(ones, adj_constant_f64(t, 0, NULL, ((double[]){1.0}))), 0.3, 1, &r);
    size_t kept = 0;
    for (size_t i = 0; i < 10000; i++) {
        double v = adj_value_at(dr, i);
        ck_assert(v == 0.0 || fabs(v - 1 / 0.7) < 1e-12);
        kept += v != 0.0;
    }
    ck_assert(kept > 6800 && kept < 7200);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_dropout(x, 1.0, 1, &r);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_dropout"));
    adj_tape_free(t);
    adj_params_free(p);
}
END_TEST

/* E14: identity activations collapse three layers into one affine map. */
START_TEST(e14_linear_collapse)
{
    int64_t sz[] = {2, 2, 2, 1};
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = ADJ_F64;
    adj_mlp_config_set_sizes(&c, 4, sz, ADJ_ACT_IDENTITY);
    adj_rng r;
    adj_rng_seed(&r, 1);
    adj_mlp *m = adj_mlp_new(&c, &r, NULL);
    adj_params *p = adj_mlp_params(m);
    setd(p, adj_mlp_dense(m, 0)->weight, (double[]){1, 2, 0, 1});
    setd(p, adj_mlp_dense(m, 0)->bias, (double[]){1, -1});
    setd(p, adj_mlp_dense(m, 1)->weight, (double[]){2, 0, 1, 1});
    setd(p, adj_mlp_dense(m, 1)->bias, (double[]){0, 1});
    setd(p, adj_mlp_dense(m, 2)->weight, (double[]){1, -1});
    setd(p, adj_mlp_dense(m, 2)->bias, (double[]){0.5});
    adj_tape *t = adj_tape_new();
    int64_t xs[2] = {1, 2};
    adj_var *x = adj_constant_f64(t, 2, xs, ((double[]){1, 2}));
    adj_var *h1 = adj_dense_forward(p, adj_mlp_dense(m, 0), x);
    adj_var *h2 = adj_dense_forward(p, adj_mlp_dense(m, 1), h1);
    adj_var *h3 = adj_dense_forward(p, adj_mlp_dense(m, 2), h2);
    ck_assert_double_eq(adj_value_at(h1, 0), 6);
    ck_assert_double_eq(adj_value_at(h1, 1), 1);
    ck_assert_double_eq(adj_value_at(h2, 0), 12);
    ck_assert_double_eq(adj_value_at(h2, 1), 8);
    ck_assert_double_eq(adj_item(h3), 4.5);
    /* the collapsed map W = [[1, 1]], b = 1.5 on other inputs */
    int64_t bs[2] = {3, 2};
    adj_var *X = adj_constant_f64(t, 2, bs, ((double[]){3, -1, 0, 0, -2.5, 7}));
    adj_var *Y = adj_mlp_forward(m, X);
    ck_assert_double_eq_tol(adj_value_at(Y, 0), 3 - 1 + 1.5, 1e-12);
    ck_assert_double_eq_tol(adj_value_at(Y, 1), 1.5, 1e-12);
    ck_assert_double_eq_tol(adj_value_at(Y, 2), -2.5 + 7 + 1.5, 1e-12);
    adj_tape_free(t);
    adj_mlp_free(m);
}
END_TEST

/* A dense layer under the binary cross-entropy loss: z = w.x + b = 0.5 with
 * target 1 gives E8's J = 0.4740769842 and dJ/dz = -0.3775406688, so
 * dJ/dw = dJ/dz x and dJ/db = dJ/dz. */
START_TEST(dense_with_bce_e8)
{
    adj_params *p = adj_params_new(ADJ_F64);
    adj_dense d;
    ck_assert_int_eq(adj_dense_add(p, "out", 2, 1, 1, &d), ADJ_OK);
    setd(p, d.weight, (double[]){0.5, -0.25});
    setd(p, d.bias, (double[]){0.5});
    adj_tape *t = adj_tape_new();
    int64_t xs[2] = {1, 2}, ys[2] = {1, 1};
    adj_var *z = adj_dense_forward(p, &d, adj_constant_f64(t, 2, xs, ((double[]){1, 2})));
    adj_var *J = adj_bce_with_logits(z, adj_constant_f64(t, 2, ys, ((double[]){1})));
    ck_assert_int_eq(adj_backward(J), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(J), 0.4740769842, 1e-10);
    ck_assert_double_eq_tol(gd(p, d.weight, 0), -0.3775406688, 1e-10);
    ck_assert_double_eq_tol(gd(p, d.weight, 1), -2 * 0.3775406688, 1e-10);
    ck_assert_double_eq_tol(gd(p, d.bias, 0), -0.3775406688, 1e-10);
    adj_tape_free(t);
    adj_params_free(p);
}
END_TEST

/* E9 through adj_activate, and the names. */
START_TEST(e9_activations)
{
    adj_tape *t = adj_tape_new();
    const double u[] = {-2, -0.5, 0, 0.5, 2};
    const double want[][5] = {
        {-2, -0.5, 0, 0.5, 2},
        {0.119203, 0.377541, 0.5, 0.622459, 0.880797},
        {-0.964028, -0.462117, 0, 0.462117, 0.964028},
        {0, 0, 0, 0.5, 2},
        {-0.02, -0.005, 0, 0.5, 2},
        {-0.864665, -0.393469, 0, 0.5, 2},
        {0.126928, 0.474077, 0.693147, 0.974077, 2.126928},
    };
    int64_t n = 5;
    for (int a = 0; a < ADJ_ACT_COUNT; a++) {
        adj_var *x = adj_tensor_f64(t, 1, &n, u);
        adj_var *y = adj_activate(x, (adj_activation)a);
        for (size_t i = 0; i < 5; i++)
            ck_assert_double_eq_tol(adj_value_at(y, i), want[a][i], 1e-6);
        adj_activation back;
        ck_assert_int_eq(adj_activation_parse(adj_activation_name((adj_activation)a), &back),
                         ADJ_OK);
        ck_assert_int_eq(back, a);
    }
    adj_activation a;
    ck_assert_int_eq(adj_activation_parse("leaky-relu", &a), ADJ_OK);
    ck_assert_int_eq(a, ADJ_ACT_LEAKY_RELU);
    ck_assert_int_eq(adj_activation_parse("swishy", &a), ADJ_EINVAL);
    adj_tape_free(t);
}
END_TEST

/* Initialisers: the right distribution, reproducible from the seed. */
START_TEST(initialisers)
{
    adj_params *p = adj_params_new(ADJ_F32);
    int64_t sh[2] = {200, 300};
    int w = adj_params_add(p, "w", 2, sh);
    adj_rng r;
    size_t n = 60000;
    const adj_init kinds[] = {ADJ_INIT_NORMAL, ADJ_INIT_XAVIER_UNIFORM, ADJ_INIT_XAVIER_NORMAL,
                              ADJ_INIT_HE_UNIFORM, ADJ_INIT_HE_NORMAL};
    /* variances: 1, a^2/3 with a = sqrt(6/500), 2/500, a^2/3 with a = sqrt(6/300), 2/300 */
    const double var[] = {1.0, 6.0 / 500 / 3, 2.0 / 500, 6.0 / 300 / 3, 2.0 / 300};
    const double bound[] = {0, 0.10954451150103323, 0, 0.1414213562373095, 0};
    for (int k = 0; k < 5; k++) {
        adj_rng_seed(&r, 42);
        ck_assert_int_eq(adj_init_tensor(p, w, kinds[k], 0, &r), ADJ_OK);
        const float *v = adj_params_value(p, w);
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++) {
            s += v[i];
            s2 += (double)v[i] * v[i];
            if (bound[k] > 0)
                ck_assert(fabs(v[i]) <= bound[k]);
        }
        double mean = s / (double)n, vr = s2 / (double)n - mean * mean;
        ck_assert(fabs(mean) < 4 * sqrt(var[k] / (double)n));
        ck_assert_msg(fabs(vr / var[k] - 1) < 0.03, "kind %d variance %g want %g", k, vr, var[k]);
        float first = v[17];
        adj_rng_seed(&r, 42);
        adj_init_tensor(p, w, kinds[k], 0, &r);
        ck_assert(((const float *)adj_params_value(p, w))[17] == first);
    }
    ck_assert_int_eq(adj_init_tensor(p, w, ADJ_INIT_CONSTANT, 0.25, NULL), ADJ_OK);
    ck_assert(((const float *)adj_params_value(p, w))[123] == 0.25f);
    ck_assert_int_eq(adj_init_tensor(p, w, ADJ_INIT_ZEROS, 0, NULL), ADJ_OK);
    ck_assert(((const float *)adj_params_value(p, w))[5] == 0.0f);
    ck_assert_int_eq(adj_init_tensor(p, w, ADJ_INIT_NORMAL, 0, NULL), ADJ_EINVAL);
    ck_assert_int_eq(adj_init_tensor(p, 7, ADJ_INIT_ZEROS, 0, NULL), ADJ_EINVAL);
    adj_params_free(p);
}
END_TEST

/* The generator: uniform and normal moments, bounded integers, shuffles. */
START_TEST(rng_streams)
{
    adj_rng a, b;
    adj_rng_seed(&a, 7);
    adj_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(adj_rng_next(&a), adj_rng_next(&b));
    adj_rng_seed(&b, 8);
    ck_assert_uint_ne(adj_rng_next(&a), adj_rng_next(&b));
    double s = 0, s2 = 0, ns = 0, ns2 = 0;
    int n = 200000, counts[5] = {0};
    for (int i = 0; i < n; i++) {
        double u = adj_rng_uniform(&a), z = adj_rng_normal(&a);
        ck_assert(u >= 0 && u < 1);
        s += u;
        s2 += u * u;
        ns += z;
        ns2 += z * z;
        counts[adj_rng_below(&a, 5)]++;
    }
    ck_assert(fabs(s / n - 0.5) < 0.005);
    ck_assert(fabs(s2 / n - 1.0 / 3) < 0.005);
    ck_assert(fabs(ns / n) < 0.01);
    ck_assert(fabs(ns2 / n - 1) < 0.01);
    for (int k = 0; k < 5; k++)
        ck_assert(abs(counts[k] - n / 5) < 1000);
    size_t idx[10];
    for (size_t i = 0; i < 10; i++)
        idx[i] = i;
    adj_rng_shuffle(&a, idx, 10);
    int seen[10] = {0};
    for (size_t i = 0; i < 10; i++)
        seen[idx[i]]++;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(seen[i], 1);
}
END_TEST

START_TEST(metrics)
{
    const int32_t pred[] = {0, 1, 2, 2, 1, 0};
    const int32_t lab[] = {0, 1, 1, 2, 1, 2};
    ck_assert_double_eq_tol(adj_accuracy(pred, lab, 6), 4.0 / 6, 1e-15);
    int64_t cm[9];
    ck_assert_int_eq(adj_confusion_matrix(pred, lab, 6, 3, cm), ADJ_OK);
    const int64_t want[9] = {1, 0, 0, 0, 2, 1, 1, 0, 1};
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(cm[i], want[i]);
    ck_assert_int_eq(adj_confusion_matrix(pred, lab, 6, 2, cm), ADJ_EINVAL);
    adj_tape *t = adj_tape_new();
    int64_t sh[2] = {2, 3};
    adj_var *z = adj_constant_f32(t, 2, sh, ((float[]){0.1f, 3, -1, 5, 5, 2}));
    int32_t out[2];
    ck_assert_int_eq(adj_argmax_rows(z, out), ADJ_OK);
    ck_assert_int_eq(out[0], 1);
    ck_assert_int_eq(out[1], 0); /* ties: the first maximum */
    adj_tape_free(t);
}
END_TEST

/* A bad configuration is a message, not a crash. */
START_TEST(mlp_errors)
{
    adj_mlp_config c = adj_mlp_config_default();
    adj_rng r;
    adj_rng_seed(&r, 1);
    adj_error err;
    ck_assert_ptr_null(adj_mlp_new(&c, &r, &err));
    ck_assert_int_eq(err.status, ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "layer sizes"));
    int64_t sz[] = {3, 0, 2};
    ck_assert_int_eq(adj_mlp_config_set_sizes(&c, 3, sz, ADJ_ACT_RELU), ADJ_EINVAL);
    int64_t ok[] = {3, 4, 2};
    adj_mlp_config_set_sizes(&c, 3, ok, ADJ_ACT_RELU);
    c.dropout = 1.5;
    ck_assert_ptr_null(adj_mlp_new(&c, &r, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "dropout"));
    c.dropout = 0.5;
    c.batchnorm = 1;
    adj_mlp *m = adj_mlp_new(&c, &r, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(adj_mlp_batchnorm(m, 0));
    ck_assert_ptr_null(adj_mlp_batchnorm(m, 1));
    /* a wrong input width is a tape error */
    adj_tape *t = adj_tape_new();
    int64_t xs[2] = {5, 4};
    adj_mlp_forward(m, adj_constant_f32(t, 2, xs, NULL));
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESHAPE);
    /* train and eval modes of a network with dropout and batch norm */
    adj_tape_reset(t);
    xs[1] = 3;
    float xv[15];
    for (int i = 0; i < 15; i++)
        xv[i] = (float)(i % 7) - 3.0f;
    adj_var *y1 = adj_mlp_forward(m, adj_constant_f32(t, 2, xs, xv));
    ck_assert_int_eq(adj_backward(adj_sum(y1)), ADJ_OK);
    adj_mlp_set_training(m, 0);
    ck_assert_int_eq(adj_mlp_training(m), 0);
    adj_var *e1 = adj_mlp_forward(m, adj_constant_f32(t, 2, xs, xv));
    adj_var *e2 = adj_mlp_forward(m, adj_constant_f32(t, 2, xs, xv));
    for (size_t i = 0; i < 10; i++) /* evaluation is deterministic */
        ck_assert(adj_value_at(e1, i) == adj_value_at(e2, i));
    adj_tape_free(t);
    adj_mlp_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("nn");
    tcase_add_test(tc, e12_parameter_count);
    tcase_add_test(tc, e5_two_two_one_network);
    tcase_add_test(tc, e13_batch_norm);
    tcase_add_test(tc, e14_dropout);
    tcase_add_test(tc, e14_linear_collapse);
    tcase_add_test(tc, dense_with_bce_e8);
    tcase_add_test(tc, e9_activations);
    tcase_add_test(tc, initialisers);
    tcase_add_test(tc, rng_streams);
    tcase_add_test(tc, metrics);
    tcase_add_test(tc, mlp_errors);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
