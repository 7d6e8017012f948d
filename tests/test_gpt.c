/*
 * The "gpt" architecture: GPT-2's state_dict names and shapes, its
 * initialisation statistics, gradients against central differences of
 * the loss (every parameter tensor), dropout in training mode only, a
 * safetensors round trip, and the refusals (configuration, input,
 * adj_model_load_hf's arguments).
 * Values against PyTorch: tests/interop/torch_gpt.py.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static adj_model *gpt(adj_dtype dtype, const char *V, const char *P, const char *C, const char *L,
                      const char *H, uint64_t seed)
{
    const char *kv[] = {"vocab_size", V, "n_positions", P, "n_embd", C, "n_layer", L, "n_head", H};
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    adj_error err;
    adj_model *m = adj_model_new("gpt", 5, kv, dtype, &rng, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    return m;
}

START_TEST(names_and_shapes)
{
    adj_model *m = gpt(ADJ_F32, "11", "6", "8", "2", "2", 1);
    adj_params *p = adj_model_params(m);
    static const char *const block[] = {
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
    };
    /* (in, out) Conv1D layouts, C = 8 */
    static const int64_t shapes[][2] = {{8, 0}, {8, 0}, {8, 24}, {24, 0}, {8, 8},  {8, 0},
                                        {8, 0}, {8, 0}, {8, 32}, {32, 0}, {32, 8}, {8, 0}};
    ck_assert_int_eq(adj_params_count(p), 2 + 2 * 12 + 2);
    ck_assert_str_eq(adj_model_param_name(m, 0), "wte.weight");
    ck_assert_str_eq(adj_model_param_name(m, 1), "wpe.weight");
    ck_assert_int_eq(adj_params_tensor_shape(p, 0)[0], 11);
    ck_assert_int_eq(adj_params_tensor_shape(p, 1)[0], 6);
    char want[64];
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 12; k++) {
            int i = 2 + 12 * l + k;
            snprintf(want, sizeof want, "h.%d.%s", l, block[k]);
            ck_assert_str_eq(adj_model_param_name(m, i), want);
            ck_assert_int_eq(adj_params_tensor_ndim(p, i), shapes[k][1] ? 2 : 1);
            ck_assert_int_eq(adj_params_tensor_shape(p, i)[0], shapes[k][0]);
            if (shapes[k][1])
                ck_assert_int_eq(adj_params_tensor_shape(p, i)[1], shapes[k][1]);
        }
    ck_assert_str_eq(adj_model_param_name(m, 26), "ln_f.weight");
    ck_assert_str_eq(adj_model_param_name(m, 27), "ln_f.bias");
    /* V C + P C + L (12 C^2 + 13 C) + 2 C */
    size_t n = 0;
    for (int i = 0; i < adj_params_count(p); i++)
        n += adj_params_tensor_numel(p, i);
    ck_assert_uint_eq(n, 11 * 8 + 6 * 8 + 2 * (12 * 64 + 13 * 8) + 16);
    ck_assert_str_eq(adj_model_config(m, "layer_norm_epsilon"), "1e-5");
    ck_assert_str_eq(adj_model_config(m, "dropout"), "0");
    adj_model_free(m);
}
END_TEST

static void moments(adj_params *p, int i, double *mean, double *sd)
{
    const double *v = adj_params_value(p, i);
    size_t n = adj_params_tensor_numel(p, i);
    double s = 0, s2 = 0;
    for (size_t j = 0; j < n; j++) {
        s += v[j];
        s2 += v[j] * v[j];
    }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
}

START_TEST(initialisation)
{
    /* 4 layers: c_proj weights N(0, (0.02 / sqrt(8))^2), others N(0, 0.02^2) */
    adj_model *m = gpt(ADJ_F64, "500", "64", "64", "4", "4", 3);
    adj_params *p = adj_model_params(m);
    for (int i = 0; i < adj_params_count(p); i++) {
        const char *name = adj_model_param_name(m, i);
        double mean, sd;
        moments(p, i, &mean, &sd);
        size_t n = adj_params_tensor_numel(p, i);
        if (strstr(name, "ln_") && strstr(name, ".weight")) {
            ck_assert_msg(mean == 1 && sd == 0, "%s: not ones", name);
        } else if (strstr(name, ".bias")) {
            ck_assert_msg(mean == 0 && sd == 0, "%s: not zeros", name);
        } else {
            double want = strstr(name, "c_proj") ? 0.02 / sqrt(8.0) : 0.02;
            /* the sample sd of n normals is within 5 / sqrt(2n) of sd */
            ck_assert_msg(fabs(sd / want - 1) < 5 / sqrt(2.0 * (double)n), "%s: sd %g, want %g", name, sd, want);
            ck_assert_msg(fabs(mean) < 5 * want / sqrt((double)n), "%s: mean %g", name, mean);
        }
    }
    adj_model_free(m);
}
END_TEST

/* Mean cross-entropy of the model on fixed (2, 5) ids and targets. */
static const int32_t X[10] = {1, 4, 0, 6, 2, 5, 5, 3, 1, 0}, Y[10] = {4, 0, 6, 2, 3, 5, 3, 1, 0, 6};

static adj_var *loss_of(adj_model *m, adj_tape *t)
{
    adj_var *x = adj_index(t, 2, ((int64_t[]){2, 5}), X);
    adj_var *lg = adj_model_forward(m, x);
    adj_var *y = adj_index(t, 1, ((int64_t[]){10}), Y);
    return adj_cross_entropy(adj_reshape(lg, 2, ((int64_t[]){10, 7})), y, -100);
}

START_TEST(gradients_by_central_differences)
{
    adj_model *m = gpt(ADJ_F64, "7", "5", "6", "2", "3", 5);
    adj_params *p = adj_model_params(m);
    /* every tensor random, so that no gradient is trivially zero */
    adj_rng rng;
    adj_rng_seed(&rng, 9);
    for (int i = 0; i < adj_params_count(p); i++) {
        double *v = adj_params_value(p, i);
        for (size_t j = 0; j < adj_params_tensor_numel(p, i); j++)
            v[j] = (strstr(adj_model_param_name(m, i), "ln_") ? 1 : 0) + 0.4 * adj_rng_normal(&rng);
    }
    adj_tape *t = adj_tape_new();
    adj_params_zero_grad(p);
    adj_var *l = loss_of(m, t);
    ck_assert_int_eq(adj_backward(l), ADJ_OK);
    double h = 1e-5;
    for (int i = 0; i < adj_params_count(p); i++) {
        double *v = adj_params_value(p, i);
        const double *g = adj_params_grad(p, i);
        size_t n = adj_params_tensor_numel(p, i);
        size_t picks[3] = {0, n / 2, n - 1};
        for (int k = 0; k < 3; k++) {
            size_t j = picks[k];
            double keep = v[j];
            v[j] = keep + h;
            adj_tape_reset(t);
            double up = adj_item(loss_of(m, t));
            v[j] = keep - h;
            adj_tape_reset(t);
            double down = adj_item(loss_of(m, t));
            v[j] = keep;
            double fd = (up - down) / (2 * h);
            ck_assert_msg(fabs(fd - g[j]) <= 1e-7 + 1e-5 * fabs(fd), "%s[%zu]: backward %.10g, differences %.10g",
                          adj_model_param_name(m, i), j, g[j], fd);
        }
    }
    adj_tape_free(t);
    adj_model_free(m);
}
END_TEST

START_TEST(dropout_in_training_only)
{
    const char *kv[] = {"vocab_size", "7", "n_positions", "5", "n_embd", "6", "n_layer", "2", "n_head", "3",
                        "dropout", "0.5"};
    adj_rng rng;
    adj_rng_seed(&rng, 4);
    adj_error err;
    adj_model *d = adj_model_new("gpt", 6, kv, ADJ_F64, &rng, &err);
    ck_assert_msg(d != NULL, "%s", err.message);
    adj_model *m = gpt(ADJ_F64, "7", "5", "6", "2", "3", 4); /* the same draws: the same weights */
    adj_params *pd = adj_model_params(d), *pm = adj_model_params(m);
    for (int i = 0; i < adj_params_count(pd); i++)
        ck_assert_mem_eq(adj_params_value(pd, i), adj_params_value(pm, i), adj_params_tensor_numel(pd, i) * 8);
    adj_tape *t = adj_tape_new();
    double plain = adj_item(loss_of(m, t));
    adj_tape_reset(t);
    double train = adj_item(loss_of(d, t));
    adj_model_set_training(d, 0);
    adj_tape_reset(t);
    double eval = adj_item(loss_of(d, t));
    ck_assert(eval == plain);
    ck_assert(fabs(train - plain) > 1e-6);
    adj_tape_free(t);
    adj_model_free(d);
    adj_model_free(m);
}
END_TEST

START_TEST(round_trip)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/adj-gpt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/gpt.safetensors", dir);
    adj_model *m = gpt(ADJ_F32, "7", "5", "6", "1", "2", 8);
    adj_error err;
    ck_assert_int_eq(adj_model_write(m, path, &err), ADJ_OK);
    adj_model *r = NULL;
    ck_assert_msg(adj_model_read(path, &r, &err) == ADJ_OK, "%s", err.message);
    ck_assert_str_eq(adj_model_arch(r), "gpt");
    ck_assert_str_eq(adj_model_config(r, "n_head"), "2");
    adj_tape *t = adj_tape_new();
    double a = adj_item(loss_of(m, t));
    adj_tape_reset(t);
    double b = adj_item(loss_of(r, t));
    ck_assert(a == b);
    adj_tape_free(t);
    adj_model_free(m);
    adj_model_free(r);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(refusals)
{
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_error err;
    const char *kv[] = {"n_embd", "10", "n_head", "4", "n_layer", "1", "vocab_size", "5"};
    ck_assert_ptr_null(adj_model_new("gpt", 4, kv, ADJ_F32, &rng, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "n_head"));
    const char *kv2[] = {"n_layer", "0"};
    ck_assert_ptr_null(adj_model_new("gpt", 1, kv2, ADJ_F32, &rng, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "n_layer"));
    const char *kv3[] = {"vocab_size", "3", "chars", "6162"};
    ck_assert_ptr_null(adj_model_new("gpt", 2, kv3, ADJ_F32, &rng, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "chars"));
    /* more tokens than n_positions, float input */
    adj_model *m = gpt(ADJ_F32, "7", "4", "6", "1", "2", 2);
    adj_tape *t = adj_tape_new();
    loss_of(m, t);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "n_positions = 4"));
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "(2,5)"));
    adj_tape_reset(t);
    float xf[2] = {0, 1};
    ck_assert_ptr_null(adj_model_forward(m, adj_constant_f32(t, 2, ((int64_t[]){1, 2}), xf)));
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESHAPE);
    adj_tape_free(t);
    adj_model_free(m);
    /* adj_model_load_hf's arguments */
    adj_model *out = (adj_model *)&err;
    ck_assert_int_eq(adj_model_load_hf(NULL, ADJ_F32, &out, &err), ADJ_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(adj_model_load_hf("", ADJ_F32, &out, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_model_load_hf("/tmp", ADJ_I32, &out, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_model_load_hf("/tmp", ADJ_F32, NULL, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_model_load_hf("/nonexistent-dir", ADJ_F32, &out, &err), ADJ_EIO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent-dir/config.json"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("gpt");
    TCase *tc = tcase_create("gpt");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, names_and_shapes);
    tcase_add_test(tc, initialisation);
    tcase_add_test(tc, gradients_by_central_differences);
    tcase_add_test(tc, dropout_in_training_only);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
