/*
 * Training end to end: the XOR (E10) and regression (E15) examples, a
 * classifier on generated clusters through the batch iterator, and
 * bit-identical results from the same seed.
 */
#define ADJ_EXAMPLE_NO_MAIN
#include "../examples/xor.c"
#include "../examples/regression.c"

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* E10: a 2-2-1 network learns XOR to a loss below 1e-6. */
START_TEST(e10_xor)
{
    double loss = 1, out[4];
    ck_assert_int_eq(xor_train(1, 4000, 0, &loss, out), 0);
    ck_assert_msg(loss < 1e-6, "loss %g", loss);
    ck_assert_double_eq_tol(out[0], 1, 2e-3);
    ck_assert_double_eq_tol(out[1], 0, 2e-3);
    ck_assert_double_eq_tol(out[2], 1, 2e-3);
    ck_assert_double_eq_tol(out[3], 0, 2e-3);
}
END_TEST

/* E15: the function's gradient on the tape, and a fit of 100 samples. */
START_TEST(e15_regression)
{
    double g[2];
    regression_gradient(1, 2, g);
    ck_assert_double_eq_tol(g[0], 8, 1e-12);
    ck_assert_double_eq_tol(g[1], 7, 1e-12);
    regression_gradient(-1, 0.5, g);
    ck_assert_double_eq_tol(g[0], -0.5, 1e-12);
    ck_assert_double_eq_tol(g[1], -2, 1e-12);
    double rmse[2];
    ck_assert_int_eq(regression_fit(1, 3000, 0, rmse, g), 0);
    /* targets span about [3, 10]: a good fit is within a few hundredths */
    ck_assert_msg(rmse[0] < 0.02, "training rmse %g", rmse[0]);
    ck_assert_msg(rmse[1] < 0.1, "fresh-point rmse %g", rmse[1]);
    /* the true gradient at (0.5, -0.5) is (2 x0 + 3 x1, 3 x0 + 2 x1) = (-0.5, 0.5) */
    ck_assert_double_eq_tol(g[0], -0.5, 0.15);
    ck_assert_double_eq_tol(g[1], 0.5, 0.15);
}
END_TEST

/* Three Gaussian clusters in 4-D; returns test accuracy and the model's
 * first weight and final parameters' checksum. */
static double clusters(uint64_t seed, adj_optim_kind kind, double lr, int bn, double drop,
                       uint32_t *digest)
{
    adj_dataset *all = adj_dataset_new(600, 4);
    adj_rng r;
    adj_rng_seed(&r, 1234);
    const double centre[3][4] = {{2, 0, 0, 1}, {0, 2, 0, -1}, {0, 0, 2, 0}};
    for (size_t i = 0; i < 600; i++) {
        int k = (int)(i % 3);
        all->y[i] = k;
        for (int j = 0; j < 4; j++)
            all->x[i * 4 + (size_t)j] = (float)(centre[k][j] + 0.6 * adj_rng_normal(&r));
    }
    all->classes = 3;
    adj_dataset *train, *test;
    ck_assert_int_eq(adj_dataset_split(all, 0.25, 7, &train, &test, NULL), ADJ_OK);
    int64_t sz[] = {4, 16, 16, 3};
    adj_mlp_config c = adj_mlp_config_default();
    adj_mlp_config_set_sizes(&c, 4, sz, ADJ_ACT_RELU);
    c.batchnorm = bn;
    c.dropout = drop;
    adj_rng_seed(&r, seed);
    adj_mlp *m = adj_mlp_new(&c, &r, NULL);
    adj_optim_config oc = adj_optim_defaults(kind);
    oc.lr = lr;
    if (kind == ADJ_OPTIM_SGD)
        oc.momentum = 0.9;
    adj_optim *o = adj_optim_new(adj_mlp_params(m), &oc, NULL);
    adj_batcher *b = adj_batcher_new(train, 32, 1, seed);
    adj_tape *t = adj_tape_new();
    adj_tape_stats st;
    size_t warm = 0;
    for (int epoch = 0; epoch < 15; epoch++) {
        if (epoch == 1) { /* one epoch in, the tape has all the memory it needs */
            adj_tape_get_stats(t, &st);
            warm = st.allocations;
        }
        const float *x;
        const int32_t *y;
        size_t n;
        adj_batcher_epoch(b);
        while ((n = adj_batcher_next(b, &x, &y)) > 0) {
            adj_tape_reset(t);
            int64_t sh[2] = {(int64_t)n, 4};
            adj_var *loss =
                adj_softmax_cross_entropy(adj_mlp_forward(m, adj_constant_f32(t, 2, sh, x)), y);
            adj_params_zero_grad(adj_mlp_params(m));
            ck_assert_int_eq(adj_backward(loss), ADJ_OK);
            adj_clip_grad_norm(adj_mlp_params(m), 5.0);
            adj_optim_step(o);
        }
    }
    adj_tape_get_stats(t, &st);
    ck_assert_uint_eq(st.allocations, warm); /* no allocation per step */
    int32_t *pred = malloc(test->rows * sizeof *pred);
    ck_assert_int_eq(adj_mlp_predict(m, t, test->x, test->rows, 64, pred), ADJ_OK);
    double acc = adj_accuracy(pred, test->y, test->rows);
    adj_params *p = adj_mlp_params(m);
    *digest =
        (uint32_t)crc32(0L, adj_params_values(p), (uInt)(adj_params_numel(p) * sizeof(float)));
    free(pred);
    adj_tape_free(t);
    adj_batcher_free(b);
    adj_optim_free(o);
    adj_mlp_free(m);
    adj_dataset_free(train);
    adj_dataset_free(test);
    adj_dataset_free(all);
    return acc;
}

START_TEST(classifier_learns)
{
    uint32_t d1, d2, d3;
    double acc = clusters(5, ADJ_OPTIM_ADAM, 1e-2, 0, 0.0, &d1);
    ck_assert_msg(acc > 0.95, "adam accuracy %g", acc);
    acc = clusters(5, ADJ_OPTIM_SGD, 5e-2, 1, 0.1, &d2);
    ck_assert_msg(acc > 0.95, "sgd + batch norm + dropout accuracy %g", acc);
    acc = clusters(5, ADJ_OPTIM_RMSPROP, 1e-3, 0, 0.0, &d3);
    ck_assert_msg(acc > 0.95, "rmsprop accuracy %g", acc);
}
END_TEST

/* The same seed gives bit-identical parameters; another seed does not. */
START_TEST(deterministic)
{
    uint32_t a, b, c;
    clusters(9, ADJ_OPTIM_ADAM, 1e-2, 1, 0.2, &a);
    clusters(9, ADJ_OPTIM_ADAM, 1e-2, 1, 0.2, &b);
    clusters(10, ADJ_OPTIM_ADAM, 1e-2, 1, 0.2, &c);
    ck_assert_uint_eq(a, b);
    ck_assert_uint_ne(a, c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_add_test(tc, e10_xor);
    tcase_add_test(tc, e15_regression);
    tcase_add_test(tc, classifier_learns);
    tcase_add_test(tc, deterministic);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
