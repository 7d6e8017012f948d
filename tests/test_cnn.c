/*
 * The "cnn" architecture: PyTorch's state_dict names and shapes for the
 * configurations that add or drop pooling and dropout modules, PyTorch's
 * default initialisation (bounds and variance), logits against a naive
 * reference written here with plain loops (convolution, ReLU, max pool,
 * dense), gradients of the loss against central differences, dropout in
 * training mode only, a safetensors round trip in f32 and f64, and the
 * refusals (configuration, input shape).
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static adj_model *cnn(adj_dtype dtype, int n, const char *const *kv, uint64_t seed)
{
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    adj_error err;
    adj_model *m = adj_model_new("cnn", n, kv, dtype, &rng, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    return m;
}

static void expect_names(adj_model *m, int n, const char *const *names, const int64_t shapes[][4])
{
    adj_params *p = adj_model_params(m);
    ck_assert_int_eq(adj_params_count(p), n);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(adj_model_param_name(m, i), names[i]);
        int nd = adj_params_tensor_ndim(p, i);
        for (int d = 0; d < 4; d++)
            ck_assert_int_eq(d < nd ? adj_params_tensor_shape(p, i)[d] : 0, shapes[i][d]);
    }
}

START_TEST(names_and_shapes)
{
    /* Sequential(Conv2d, ReLU, MaxPool2d, Conv2d, ReLU, MaxPool2d, Flatten,
     * Linear, ReLU, Dropout, Linear): 28 -> 14 -> 7 */
    adj_model *m = cnn(ADJ_F32, 0, NULL, 1);
    ck_assert_str_eq(adj_model_arch(m), "cnn");
    ck_assert_str_eq(adj_model_config(m, "channels"), "32,64");
    static const char *const n1[] = {"0.weight", "0.bias", "3.weight", "3.bias",
                                     "7.weight", "7.bias", "10.weight", "10.bias"};
    static const int64_t s1[][4] = {{32, 1, 3, 3}, {32}, {64, 32, 3, 3}, {64},
                                    {128, 3136},   {128}, {10, 128},     {10}};
    expect_names(m, 8, n1, s1);
    adj_model_free(m);
    /* no pooling, no dropout, two dense layers, no padding:
     * Sequential(Conv2d, ReLU, Flatten, Linear, ReLU, Linear, ReLU, Linear) */
    const char *kv[] = {"input", "3,8,6", "channels", "4", "pool", "1", "dropout", "0",
                        "dense", "5,6", "padding", "0", "classes", "2"};
    m = cnn(ADJ_F64, 7, kv, 1);
    static const char *const n2[] = {"0.weight", "0.bias", "3.weight", "3.bias",
                                     "5.weight", "5.bias", "7.weight", "7.bias"};
    static const int64_t s2[][4] = {{4, 3, 3, 3}, {4}, {5, 4 * 6 * 4}, {5}, {6, 5}, {6}, {2, 6}, {2}};
    expect_names(m, 8, n2, s2);
    adj_model_free(m);
    /* no dense hidden layer: Sequential(Conv2d, ReLU, MaxPool2d, Flatten, Linear) */
    const char *kv3[] = {"channels", "2", "dense", "", "pool", "3", "kernel", "5"};
    m = cnn(ADJ_F32, 4, kv3, 1);
    static const char *const n3[] = {"0.weight", "0.bias", "4.weight", "4.bias"};
    static const int64_t s3[][4] = {{2, 1, 5, 5}, {2}, {10, 2 * 8 * 8}, {10}};
    expect_names(m, 4, n3, s3);
    adj_model_free(m);
}
END_TEST

/* PyTorch's default: U(-a, a) with a = 1/sqrt(fan_in), weights and biases. */
START_TEST(initialisation)
{
    adj_model *m = cnn(ADJ_F64, 0, NULL, 5);
    adj_params *p = adj_model_params(m);
    const double fan[8] = {9, 9, 288, 288, 3136, 3136, 128, 128};
    for (int i = 0; i < 8; i++) {
        const double *v = adj_params_value(p, i);
        size_t n = adj_params_tensor_numel(p, i);
        double a = 1 / sqrt(fan[i]), mx = 0, s2 = 0, s1 = 0;
        for (size_t j = 0; j < n; j++) {
            mx = fmax(mx, fabs(v[j]));
            s1 += v[j];
            s2 += v[j] * v[j];
        }
        ck_assert_msg(mx <= a, "%s: |w| %g > %g", adj_model_param_name(m, i), mx, a);
        if (n >= 10000) {
            /* variance a^2/3, mean 0, and the whole interval used */
            double var = s2 / (double)n;
            ck_assert_msg(fabs(var / (a * a / 3) - 1) < 0.03, "%s: variance %g, want %g",
                          adj_model_param_name(m, i), var, a * a / 3);
            ck_assert_double_lt(fabs(s1 / (double)n), 0.02 * a);
            ck_assert_double_gt(mx, 0.999 * a);
        }
    }
    adj_model_free(m);
}
END_TEST

/* ------------------------------------------------ the naive reference */

enum { C0 = 2, H0 = 7, W0 = 6, C1 = 3, C2 = 2, K = 3, PAD = 1, D = 4, CL = 3, N = 2 };
static const char *const SMALL[] = {"input", "2,7,6", "channels", "3,2", "kernel", "3", "padding",
                                    "1", "pool", "2", "dense", "4", "dropout", "0.5", "classes", "3"};

/* x (c, h, w) -> y (co, h + 2p - k + 1, ...), w (co, c, k, k), ReLU. */
static void ref_conv_relu(const double *x, int c, int h, int w, const double *wt, const double *b, int co,
                          double *y)
{
    int oh = h + 2 * PAD - K + 1, ow = w + 2 * PAD - K + 1;
    for (int o = 0; o < co; o++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                double s = b[o];
                for (int ci = 0; ci < c; ci++)
                    for (int u = 0; u < K; u++)
                        for (int v = 0; v < K; v++) {
                            int r = i + u - PAD, q = j + v - PAD;
                            if (r >= 0 && r < h && q >= 0 && q < w)
                                s += wt[((o * c + ci) * K + u) * K + v] * x[(ci * h + r) * w + q];
                        }
                y[(o * oh + i) * ow + j] = s > 0 ? s : 0;
            }
}

static void ref_pool(const double *x, int c, int h, int w, double *y)
{
    for (int o = 0; o < c; o++)
        for (int i = 0; i < h / 2; i++)
            for (int j = 0; j < w / 2; j++) {
                double mx = -INFINITY;
                for (int u = 0; u < 2; u++)
                    for (int v = 0; v < 2; v++)
                        mx = fmax(mx, x[(o * h + 2 * i + u) * w + 2 * j + v]);
                y[(o * (h / 2) + i) * (w / 2) + j] = mx;
            }
}

static void ref_dense(const double *x, int in, const double *wt, const double *b, int out, int relu,
                      double *y)
{
    for (int o = 0; o < out; o++) {
        double s = b[o];
        for (int i = 0; i < in; i++)
            s += wt[o * in + i] * x[i];
        y[o] = relu && s < 0 ? 0 : s;
    }
}

/* The small model's logits for one image, from its parameter values. */
static void ref_logits(adj_params *p, const double *img, double *out)
{
    double a[C1 * 7 * 6], b[C1 * 3 * 3], c[C2 * 3 * 3], d[C2 * 1 * 1], e[D];
    const double *v[8];
    for (int i = 0; i < 8; i++)
        v[i] = adj_params_value(p, i);
    ref_conv_relu(img, C0, H0, W0, v[0], v[1], C1, a); /* (3, 7, 6) */
    ref_pool(a, C1, 7, 6, b);                          /* (3, 3, 3) */
    ref_conv_relu(b, C1, 3, 3, v[2], v[3], C2, c);     /* (2, 3, 3) */
    ref_pool(c, C2, 3, 3, d);                          /* (2, 1, 1) */
    ref_dense(d, C2, v[4], v[5], D, 1, e);
    ref_dense(e, D, v[6], v[7], CL, 0, out);
}

static void small_input(double *x)
{
    adj_rng r;
    adj_rng_seed(&r, 99);
    for (int i = 0; i < N * C0 * H0 * W0; i++)
        x[i] = adj_rng_uniform_range(&r, -1, 1);
}

/* The model's loss (mean cross-entropy over labels 2, 0); logits to out. */
static double model_loss(adj_model *m, const double *x, int flat, double *logits, int backward)
{
    adj_tape *t = adj_tape_new();
    int64_t s4[4] = {N, C0, H0, W0}, s2[2] = {N, C0 * H0 * W0};
    adj_var *xv = adj_constant_f64(t, flat ? 2 : 4, flat ? s2 : s4, x);
    adj_var *y = adj_model_forward(m, xv);
    ck_assert_msg(y != NULL, "%s", adj_tape_message(t));
    ck_assert_int_eq(adj_ndim(y), 2);
    if (logits)
        ck_assert_int_eq(adj_copy_value(y, logits), ADJ_OK);
    adj_var *l = adj_softmax_cross_entropy(y, (const int32_t[]){2, 0});
    if (backward) {
        adj_params_zero_grad(adj_model_params(m));
        ck_assert_int_eq(adj_backward(l), ADJ_OK);
    }
    double v = adj_item(l);
    adj_tape_free(t);
    return v;
}

START_TEST(logits_against_loops)
{
    adj_model *m = cnn(ADJ_F64, 8, SMALL, 3);
    adj_model_set_training(m, 0);
    double x[N * C0 * H0 * W0], y[N * CL], want[CL];
    small_input(x);
    for (int flat = 0; flat < 2; flat++) {
        model_loss(m, x, flat, y, 0);
        for (int n = 0; n < N; n++) {
            ref_logits(adj_model_params(m), x + n * C0 * H0 * W0, want);
            for (int k = 0; k < CL; k++)
                ck_assert_msg(fabs(y[n * CL + k] - want[k]) <= 1e-12 * (1 + fabs(want[k])),
                              "logit %d,%d: %.17g, want %.17g", n, k, y[n * CL + k], want[k]);
        }
    }
    adj_model_free(m);
}
END_TEST

START_TEST(gradients_against_differences)
{
    adj_model *m = cnn(ADJ_F64, 8, SMALL, 4);
    adj_model_set_training(m, 0);
    double x[N * C0 * H0 * W0];
    small_input(x);
    model_loss(m, x, 1, NULL, 1);
    adj_params *p = adj_model_params(m);
    int checked = 0;
    for (int i = 0; i < adj_params_count(p); i++) {
        size_t n = adj_params_tensor_numel(p, i);
        double *g = malloc(n * sizeof *g);
        memcpy(g, adj_params_grad(p, i), n * sizeof *g);
        double *v = adj_params_value(p, i);
        for (size_t j = 0; j < n; j++) {
            double keep = v[j], h = 1e-6;
            v[j] = keep + h;
            double up = model_loss(m, x, 1, NULL, 0);
            v[j] = keep - h;
            double down = model_loss(m, x, 1, NULL, 0);
            v[j] = keep;
            double fd = (up - down) / (2 * h);
            ck_assert_msg(fabs(fd - g[j]) <= 1e-6 * (1 + fabs(fd)), "%s[%zu]: %.12g, differences %.12g",
                          adj_model_param_name(m, i), j, g[j], fd);
            checked += g[j] != 0;
        }
        free(g);
    }
    ck_assert_int_gt(checked, 20);
    adj_model_free(m);
}
END_TEST

START_TEST(dropout_in_training_only)
{
    adj_model *m = cnn(ADJ_F64, 8, SMALL, 6);
    double x[N * C0 * H0 * W0], a[N * CL], b[N * CL], c[N * CL];
    small_input(x);
    adj_model_set_training(m, 0);
    model_loss(m, x, 0, a, 0);
    model_loss(m, x, 0, b, 0);
    ck_assert_mem_eq(a, b, sizeof a);
    adj_model_set_training(m, 1);
    int differ = 0;
    for (int r = 0; r < 8; r++) {
        model_loss(m, x, 0, c, 0);
        differ += memcmp(a, c, sizeof a) != 0;
    }
    ck_assert_int_gt(differ, 0);
    adj_model_free(m);
}
END_TEST

START_TEST(round_trip)
{
    char dir[64] = "/tmp/adj-cnn-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cnn.safetensors", dir);
    for (int f64 = 0; f64 < 2; f64++) {
        adj_model *m = cnn(f64 ? ADJ_F64 : ADJ_F32, 8, SMALL, 7);
        adj_error err;
        ck_assert_msg(adj_model_write(m, path, &err) == ADJ_OK, "%s", err.message);
        adj_model *b = NULL;
        ck_assert_msg(adj_model_read(path, &b, &err) == ADJ_OK, "%s", err.message);
        ck_assert_str_eq(adj_model_arch(b), "cnn");
        ck_assert_int_eq(adj_model_dtype(b), adj_model_dtype(m));
        ck_assert_int_eq(adj_model_config_count(b), adj_model_config_count(m));
        for (int i = 0; i < adj_model_config_count(m); i++)
            ck_assert_str_eq(adj_model_config_value(b, i), adj_model_config_value(m, i));
        adj_params *pa = adj_model_params(m), *pb = adj_model_params(b);
        ck_assert_int_eq(adj_params_count(pa), adj_params_count(pb));
        for (int i = 0; i < adj_params_count(pa); i++) {
            ck_assert_str_eq(adj_model_param_name(b, i), adj_model_param_name(m, i));
            ck_assert_mem_eq(adj_params_value(pa, i), adj_params_value(pb, i),
                             adj_params_tensor_numel(pa, i) * (f64 ? 8 : 4));
        }
        if (f64) {
            double x[N * C0 * H0 * W0], ya[N * CL], yb[N * CL];
            small_input(x);
            adj_model_set_training(m, 0);
            adj_model_set_training(b, 0);
            model_loss(m, x, 0, ya, 0);
            model_loss(b, x, 0, yb, 0);
            ck_assert_mem_eq(ya, yb, sizeof ya);
        }
        adj_model_free(b);
        adj_model_free(m);
    }
    unlink(path);
    rmdir(dir);
}
END_TEST

/* n strings: n / 2 key/value pairs */
static void refused(int n, const char *const *kv, const char *word)
{
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_error err;
    adj_model *m = adj_model_new("cnn", n / 2, kv, ADJ_F32, &rng, &err);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(err.status, ADJ_EINVAL);
    ck_assert_msg(strstr(err.message, word) && strstr(err.message, "cnn"), "\"%s\" should name %s",
                  err.message, word);
}

START_TEST(refusals)
{
    refused(2, (const char *const[]){"input", "1,28"}, "input");
    refused(2, (const char *const[]){"channels", ""}, "channels");
    refused(2, (const char *const[]){"channels", "4,x"}, "channels");
    refused(2, (const char *const[]){"dropout", "1"}, "dropout");
    refused(2, (const char *const[]){"kernel", "0"}, "kernel");
    refused(4, (const char *const[]){"input", "1,4,4", "kernel", "7"}, "empty");
    refused(4, (const char *const[]){"input", "1,4,4", "channels", "2,2,2"}, "pool");
    refused(2, (const char *const[]){"colour", "1"}, "colour");
    /* 64 maps of 4096 x 4096 into 128 units: 2^37 weights, refused before any allocation */
    refused(6, (const char *const[]){"input", "1,4096,4096", "channels", "64", "pool", "1"}, "parameters");
    /* an input of another shape is an error on the tape naming both */
    adj_model *m = cnn(ADJ_F32, 0, NULL, 1);
    adj_tape *t = adj_tape_new();
    static float zeros[2 * 783];
    adj_var *x = adj_constant_f32(t, 2, (int64_t[]){2, 783}, zeros);
    ck_assert_ptr_null(adj_model_forward(m, x));
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "(N, 1, 28, 28)"));
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "783"));
    adj_tape_free(t);
    adj_model_free(m);
}
END_TEST

/* A file whose configuration makes far more parameters than its data holds
 * (about 10^9 for the cnn, 2^37 for the autoencoder) is refused before
 * anything is built. */
START_TEST(file_bounds_the_configuration)
{
    char dir[64] = "/tmp/adj-cnn-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    static const char *const archs[2][5] = {{"cnn", "config.channels", "4096,4096", "config.dense", "4096"},
                                            {"autoencoder", "config.input", "16777216", "config.code", "4096"}};
    for (int a = 0; a < 2; a++) {
        adj_st_writer *w = adj_st_writer_new();
        adj_st_writer_meta(w, "arch", archs[a][0], NULL);
        adj_st_writer_meta(w, archs[a][1], archs[a][2], NULL);
        adj_st_writer_meta(w, archs[a][3], archs[a][4], NULL);
        static const float one = 1;
        adj_st_writer_add(w, "0.weight", ADJ_ST_F32, 1, (int64_t[]){1}, &one, NULL);
        adj_error err;
        ck_assert_int_eq(adj_st_writer_save(w, path, &err), ADJ_OK);
        adj_st_writer_free(w);
        adj_model *m = NULL;
        ck_assert_int_eq(adj_model_read(path, &m, &err), ADJ_EFORMAT);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(err.message, "parameters, more than the") != NULL, "%s", err.message);
    }
    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *cnn_suite(void)
{
    Suite *s = suite_create("cnn");
    TCase *tc = tcase_create("cnn");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, names_and_shapes);
    tcase_add_test(tc, initialisation);
    tcase_add_test(tc, logits_against_loops);
    tcase_add_test(tc, gradients_against_differences);
    tcase_add_test(tc, dropout_in_training_only);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, file_bounds_the_configuration);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(cnn_suite)
