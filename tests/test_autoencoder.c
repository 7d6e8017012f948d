/*
 * The "autoencoder" architecture: PyTorch's state_dict names and shapes,
 * PyTorch's Linear initialisation, the reconstruction against plain loops
 * (rows and images), the gradients of the reconstruction error against
 * central differences, a safetensors round trip, and the refusals; the
 * convolutional configuration's names, shapes, output size, gradients
 * against central differences and round trip (its reconstruction equals
 * PyTorch's in tests/interop/torch_cnn.py).
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = 3, IN = 6, CODE = 4 };
static const char *const SMALL[] = {"input", "6", "code", "4", "act", "tanh", "output", "sigmoid"};

static adj_model *ae(adj_dtype dtype, int n, const char *const *kv, uint64_t seed)
{
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    adj_error err;
    adj_model *m = adj_model_new("autoencoder", n, kv, dtype, &rng, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    return m;
}

START_TEST(names_and_initialisation)
{
    adj_model *m = ae(ADJ_F64, 0, NULL, 2);
    ck_assert_str_eq(adj_model_config(m, "code"), "32");
    adj_params *p = adj_model_params(m);
    static const char *const names[] = {"encoder.0.weight", "encoder.0.bias", "decoder.0.weight",
                                        "decoder.0.bias"};
    static const int64_t rows[] = {32, 32, 784, 784}, cols[] = {784, 0, 32, 0};
    const double fan[] = {784, 784, 32, 32};
    ck_assert_int_eq(adj_params_count(p), 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(adj_model_param_name(m, i), names[i]);
        ck_assert_int_eq(adj_params_tensor_shape(p, i)[0], rows[i]);
        if (cols[i])
            ck_assert_int_eq(adj_params_tensor_shape(p, i)[1], cols[i]);
        const double *v = adj_params_value(p, i);
        size_t n = adj_params_tensor_numel(p, i);
        double a = 1 / sqrt(fan[i]), mx = 0, s2 = 0;
        for (size_t j = 0; j < n; j++) {
            mx = fmax(mx, fabs(v[j]));
            s2 += v[j] * v[j];
        }
        ck_assert_double_le(mx, a);
        if (n > 10000)
            ck_assert_double_lt(fabs(s2 / (double)n / (a * a / 3) - 1), 0.03);
    }
    adj_model_free(m);
}
END_TEST

static void input(double *x)
{
    adj_rng r;
    adj_rng_seed(&r, 17);
    for (int i = 0; i < N * IN; i++)
        x[i] = adj_rng_uniform(&r);
}

/* The reconstruction error of x (as images (N, 1, 2, 3) if `images`); the
 * reconstruction to out. */
static double loss_of(adj_model *m, const double *x, int images, double *out, int backward)
{
    adj_tape *t = adj_tape_new();
    int64_t s2[2] = {N, IN}, s4[4] = {N, 1, 2, 3};
    adj_var *xv = adj_constant_f64(t, images ? 4 : 2, images ? s4 : s2, x);
    adj_var *y = adj_model_forward(m, xv);
    ck_assert_msg(y != NULL, "%s", adj_tape_message(t));
    ck_assert_int_eq(adj_ndim(y), 2);
    ck_assert_int_eq(adj_dim(y, 1), IN);
    if (out)
        ck_assert_int_eq(adj_copy_value(y, out), ADJ_OK);
    adj_var *l = adj_mse(y, adj_constant_f64(t, 2, s2, x));
    if (backward) {
        adj_params_zero_grad(adj_model_params(m));
        ck_assert_int_eq(adj_backward(l), ADJ_OK);
    }
    double v = adj_item(l);
    adj_tape_free(t);
    return v;
}

START_TEST(reconstruction_against_loops)
{
    adj_model *m = ae(ADJ_F64, 4, SMALL, 3);
    adj_params *p = adj_model_params(m);
    const double *ew = adj_params_value(p, 0), *eb = adj_params_value(p, 1), *dw = adj_params_value(p, 2),
                 *db = adj_params_value(p, 3);
    double x[N * IN], y[N * IN], want[N * IN], sq = 0;
    input(x);
    for (int n = 0; n < N; n++) {
        double h[CODE];
        for (int c = 0; c < CODE; c++) {
            double s = eb[c];
            for (int i = 0; i < IN; i++)
                s += ew[c * IN + i] * x[n * IN + i];
            h[c] = tanh(s);
        }
        for (int i = 0; i < IN; i++) {
            double s = db[i];
            for (int c = 0; c < CODE; c++)
                s += dw[i * CODE + c] * h[c];
            want[n * IN + i] = 1 / (1 + exp(-s));
            sq += (want[n * IN + i] - x[n * IN + i]) * (want[n * IN + i] - x[n * IN + i]);
        }
    }
    for (int images = 0; images < 2; images++) {
        double l = loss_of(m, x, images, y, 0);
        for (int i = 0; i < N * IN; i++)
            ck_assert_double_le(fabs(y[i] - want[i]), 1e-14);
        ck_assert_double_le(fabs(l - sq / (N * IN)), 1e-14);
    }
    adj_model_free(m);
}
END_TEST

START_TEST(gradients_against_differences)
{
    adj_model *m = ae(ADJ_F64, 4, SMALL, 4);
    double x[N * IN];
    input(x);
    loss_of(m, x, 0, NULL, 1);
    adj_params *p = adj_model_params(m);
    for (int i = 0; i < 4; i++) {
        size_t n = adj_params_tensor_numel(p, i);
        double *g = malloc(n * sizeof *g), *v = adj_params_value(p, i);
        memcpy(g, adj_params_grad(p, i), n * sizeof *g);
        for (size_t j = 0; j < n; j++) {
            double keep = v[j], h = 1e-6;
            v[j] = keep + h;
            double up = loss_of(m, x, 0, NULL, 0);
            v[j] = keep - h;
            double down = loss_of(m, x, 0, NULL, 0);
            v[j] = keep;
            double fd = (up - down) / (2 * h);
            ck_assert_msg(fabs(fd - g[j]) <= 1e-8 * (1 + fabs(fd)) && g[j] != 0, "%s[%zu]: %.12g, differences %.12g",
                          adj_model_param_name(m, i), j, g[j], fd);
        }
        free(g);
    }
    adj_model_free(m);
}
END_TEST

START_TEST(round_trip)
{
    char dir[64] = "/tmp/adj-ae-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ae.safetensors", dir);
    adj_model *m = ae(ADJ_F64, 4, SMALL, 5);
    adj_error err;
    ck_assert_msg(adj_model_write(m, path, &err) == ADJ_OK, "%s", err.message);
    adj_model *b = NULL;
    ck_assert_msg(adj_model_read(path, &b, &err) == ADJ_OK, "%s", err.message);
    ck_assert_str_eq(adj_model_arch(b), "autoencoder");
    ck_assert_str_eq(adj_model_config(b, "act"), "tanh");
    double x[N * IN], ya[N * IN], yb[N * IN];
    input(x);
    loss_of(m, x, 0, ya, 0);
    loss_of(b, x, 0, yb, 0);
    ck_assert_mem_eq(ya, yb, sizeof ya);
    adj_model_free(b);
    adj_model_free(m);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(refusals)
{
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_error err;
    const char *bad[][2] = {{"act", "swish"}, {"output", ""}, {"code", "0"}, {"input", "-3"}};
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_null(adj_model_new("autoencoder", 1, bad[i], ADJ_F32, &rng, &err));
        ck_assert_int_eq(err.status, ADJ_EINVAL);
        ck_assert_msg(strstr(err.message, bad[i][0]) != NULL, "%s", err.message);
    }
    adj_model *m = ae(ADJ_F64, 4, SMALL, 1);
    adj_tape *t = adj_tape_new();
    static double zeros[10];
    ck_assert_ptr_null(adj_model_forward(m, adj_constant_f64(t, 2, (int64_t[]){2, 5}, zeros)));
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "(N, 6)"));
    adj_tape_free(t);
    adj_model_free(m);
}
END_TEST

/* channels 2,3 on 1x7x6 images, tanh: encoder 7x6 -> 4x3 -> 2x2, code 3. */
static const char *const CONV[] = {"input", "42", "code", "3", "act", "tanh", "output", "sigmoid",
                                   "channels", "2,3", "image", "1,7,6"};

static double conv_loss(adj_model *m, const double *x, int backward, double *out)
{
    adj_tape *t = adj_tape_new();
    adj_var *xv = adj_constant_f64(t, 2, (int64_t[]){2, 42}, x);
    adj_var *y = adj_model_forward(m, xv);
    ck_assert_msg(y != NULL, "%s", adj_tape_message(t));
    ck_assert_int_eq(adj_ndim(y), 4);
    ck_assert_int_eq(adj_dim(y, 1), 1);
    ck_assert_int_eq(adj_dim(y, 2), 7);
    ck_assert_int_eq(adj_dim(y, 3), 6);
    if (out)
        ck_assert_int_eq(adj_copy_value(y, out), ADJ_OK);
    adj_var *l = adj_mse(y, adj_constant_f64(t, 4, (int64_t[]){2, 1, 7, 6}, x));
    if (backward) {
        adj_params_zero_grad(adj_model_params(m));
        ck_assert_int_eq(adj_backward(l), ADJ_OK);
    }
    double v = adj_item(l);
    adj_tape_free(t);
    return v;
}

START_TEST(conv_names_and_gradients)
{
    adj_model *m = ae(ADJ_F64, 6, CONV, 7);
    adj_params *p = adj_model_params(m);
    static const char *const names[] = {
        "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
        "encoder.5.weight", "encoder.5.bias", "decoder.0.weight", "decoder.0.bias",
        "decoder.3.weight", "decoder.3.bias", "decoder.5.weight", "decoder.5.bias"};
    static const int64_t shapes[][4] = {{2, 1, 3, 3}, {2}, {3, 2, 3, 3}, {3}, {3, 12}, {3},
                                        {12, 3},      {12}, {3, 2, 3, 3}, {2}, {2, 1, 3, 3}, {1}};
    ck_assert_int_eq(adj_params_count(p), 12);
    for (int i = 0; i < 12; i++) {
        ck_assert_str_eq(adj_model_param_name(m, i), names[i]);
        for (int d = 0; d < adj_params_tensor_ndim(p, i); d++)
            ck_assert_int_eq(adj_params_tensor_shape(p, i)[d], shapes[i][d]);
    }
    double x[84];
    adj_rng r;
    adj_rng_seed(&r, 3);
    for (int i = 0; i < 84; i++)
        x[i] = adj_rng_uniform(&r);
    conv_loss(m, x, 1, NULL);
    for (int i = 0; i < 12; i++) {
        size_t n = adj_params_tensor_numel(p, i);
        double *g = malloc(n * sizeof *g), *v = adj_params_value(p, i);
        memcpy(g, adj_params_grad(p, i), n * sizeof *g);
        for (size_t j = 0; j < n; j++) {
            double keep = v[j], h = 1e-6;
            v[j] = keep + h;
            double up = conv_loss(m, x, 0, NULL);
            v[j] = keep - h;
            double down = conv_loss(m, x, 0, NULL);
            v[j] = keep;
            double fd = (up - down) / (2 * h);
            ck_assert_msg(fabs(fd - g[j]) <= 1e-8 * (1 + fabs(fd)), "%s[%zu]: %.12g, differences %.12g",
                          names[i], j, g[j], fd);
        }
        free(g);
    }
    /* the file keeps the configuration: the same reconstruction */
    char dir[64] = "/tmp/adj-cae-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cae.safetensors", dir);
    ck_assert_int_eq(adj_model_write(m, path, NULL), ADJ_OK);
    adj_model *b = NULL;
    ck_assert_int_eq(adj_model_read(path, &b, NULL), ADJ_OK);
    ck_assert_str_eq(adj_model_config(b, "channels"), "2,3");
    double ya[84], yb[84];
    conv_loss(m, x, 0, ya);
    conv_loss(b, x, 0, yb);
    ck_assert_mem_eq(ya, yb, sizeof ya);
    adj_model_free(b);
    adj_model_free(m);
    unlink(path);
    rmdir(dir);
    /* image must be C,H,W of input */
    const char *bad[] = {"channels", "2", "image", "1,7,7", "input", "42"};
    adj_error err;
    adj_rng_seed(&r, 1);
    ck_assert_ptr_null(adj_model_new("autoencoder", 3, bad, ADJ_F32, &r, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "image"));
}
END_TEST

static Suite *autoencoder_suite(void)
{
    Suite *s = suite_create("autoencoder");
    TCase *tc = tcase_create("autoencoder");
    tcase_add_test(tc, names_and_initialisation);
    tcase_add_test(tc, reconstruction_against_loops);
    tcase_add_test(tc, gradients_against_differences);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, conv_names_and_gradients);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(autoencoder_suite)
