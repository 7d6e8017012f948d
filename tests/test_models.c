/*
 * Models through the registry: the MLP architecture's configuration and
 * PyTorch names, a safetensors round trip (parameters, buffers, input
 * transform, outputs), an MLP file written by the older format's writer
 * (tests/data/mlp_v1.adj, every value known by construction), F16 files,
 * and the refusals: unknown architecture, key or value, a checksum that
 * does not match, a tensor missing, unexpected or of another shape.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/adj-models-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static adj_model *mlp_model(adj_dtype dtype, const char *bn, const char *dropout)
{
    const char *kv[] = {"sizes", "3,5,4,2", "act", "tanh", "batchnorm", bn, "dropout", dropout};
    adj_rng rng;
    adj_rng_seed(&rng, 11);
    adj_error err;
    adj_model *m = adj_model_new("mlp", 4, kv, dtype, &rng, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    return m;
}

START_TEST(registry_and_names)
{
    int found = 0;
    for (int i = 0; i < adj_arch_count(); i++)
        found += strcmp(adj_arch_name(i), "mlp") == 0;
    ck_assert_int_eq(found, 1);
    ck_assert_ptr_null(adj_arch_name(adj_arch_count()));
    adj_model *m = mlp_model(ADJ_F64, "1", "0.25");
    ck_assert_str_eq(adj_model_arch(m), "mlp");
    ck_assert_str_eq(adj_model_config(m, "sizes"), "3,5,4,2");
    ck_assert_str_eq(adj_model_config(m, "acts"), "tanh,tanh,identity");
    ck_assert_str_eq(adj_model_config(m, "init"), "he_normal");
    ck_assert_str_eq(adj_model_config(m, "batchnorm"), "1");
    ck_assert_int_eq(adj_model_config_count(m), 6);
    /* nn.Sequential(Linear, BatchNorm1d, Tanh, Dropout, Linear, BatchNorm1d,
     * Tanh, Dropout, Linear): the state_dict names */
    static const char *const want[] = {"0.weight", "0.bias", "1.weight", "1.bias", "4.weight",
                                       "4.bias",   "5.weight", "5.bias", "8.weight", "8.bias"};
    ck_assert_int_eq(adj_params_count(adj_model_params(m)), 10);
    for (int i = 0; i < 10; i++)
        ck_assert_str_eq(adj_model_param_name(m, i), want[i]);
    ck_assert_ptr_nonnull(adj_model_mlp(m));
    adj_model_free(m);
    /* without dropout and batch norm the numbering closes up */
    m = mlp_model(ADJ_F32, "0", "0");
    ck_assert_str_eq(adj_model_param_name(m, 2), "2.weight");
    ck_assert_str_eq(adj_model_param_name(m, 5), "4.bias");
    adj_model_free(m);
}
END_TEST

START_TEST(bad_configurations)
{
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_error err;
    ck_assert_ptr_null(adj_model_new("resnet", 0, NULL, ADJ_F32, &rng, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "resnet"));
    const char *k1[] = {"width", "3"};
    ck_assert_ptr_null(adj_model_new("mlp", 1, k1, ADJ_F32, &rng, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "width"));
    const char *k2[] = {"sizes", "3,x,2"};
    ck_assert_ptr_null(adj_model_new("mlp", 1, k2, ADJ_F32, &rng, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "3,x,2"));
    const char *k3[] = {"sizes", "3"};
    ck_assert_ptr_null(adj_model_new("mlp", 1, k3, ADJ_F32, &rng, &err));
    const char *k4[] = {"act", "swoosh"};
    ck_assert_ptr_null(adj_model_new("mlp", 1, k4, ADJ_F32, &rng, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "swoosh"));
    const char *k5[] = {"dropout", "1"};
    ck_assert_ptr_null(adj_model_new("mlp", 1, k5, ADJ_F32, &rng, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "dropout"));
    const char *k6[] = {"sizes", "3,4", "acts", "relu,relu"};
    ck_assert_ptr_null(adj_model_new("mlp", 2, k6, ADJ_F32, &rng, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "acts"));
    ck_assert_ptr_null(adj_model_new("mlp", 0, NULL, ADJ_I32, &rng, &err));
}
END_TEST

/* Output of m on the same 6 x 3 input, in evaluation mode. */
static void outputs(adj_model *m, double *out)
{
    adj_tape *t = adj_tape_new();
    double x[18];
    for (int i = 0; i < 18; i++)
        x[i] = sin(i + 1.0);
    adj_var *xv = adj_model_dtype(m) == ADJ_F64
                      ? adj_constant_f64(t, 2, (int64_t[]){6, 3}, x)
                      : adj_constant_f32(t, 2, (int64_t[]){6, 3},
                                         (float[]){(float)x[0], (float)x[1], (float)x[2], (float)x[3],
                                                   (float)x[4], (float)x[5], (float)x[6], (float)x[7],
                                                   (float)x[8], (float)x[9], (float)x[10], (float)x[11],
                                                   (float)x[12], (float)x[13], (float)x[14], (float)x[15],
                                                   (float)x[16], (float)x[17]});
    adj_model_set_training(m, 0);
    adj_var *y = adj_model_forward(m, xv);
    ck_assert_msg(y != NULL, "%s", adj_tape_message(t));
    ck_assert_int_eq(adj_copy_value(y, out), ADJ_OK);
    adj_tape_free(t);
}

START_TEST(round_trip)
{
    make_dir();
    for (int f64 = 0; f64 < 2; f64++) {
        adj_model *m = mlp_model(f64 ? ADJ_F64 : ADJ_F32, "1", "0.1");
        adj_mlp *mlp = adj_model_mlp(m);
        /* running statistics and an input transform that are not the defaults */
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < adj_batchnorm_features(adj_mlp_batchnorm(mlp, k)); j++) {
                adj_batchnorm_running_mean(adj_mlp_batchnorm(mlp, k))[j] = 0.1 * j - k;
                adj_batchnorm_running_var(adj_mlp_batchnorm(mlp, k))[j] = 1.5 + j;
            }
        ck_assert_int_eq(adj_mlp_set_input_transform(mlp, (double[]){1, 2, 3}, (double[]){0.5, 0.25, 2}), ADJ_OK);
        char path[128];
        snprintf(path, sizeof path, "%s/m.safetensors", dir);
        adj_error err;
        ck_assert_int_eq(adj_model_write(m, path, &err), ADJ_OK);
        adj_model *b = NULL;
        ck_assert_msg(adj_model_read(path, &b, &err) == ADJ_OK, "%s", err.message);
        ck_assert_int_eq(adj_model_dtype(b), adj_model_dtype(m));
        for (int i = 0; i < adj_model_config_count(m); i++)
            ck_assert_str_eq(adj_model_config_value(b, i), adj_model_config_value(m, i));
        adj_params *pa = adj_model_params(m), *pb = adj_model_params(b);
        size_t es = f64 ? 8 : 4;
        ck_assert_int_eq(adj_params_count(pa), adj_params_count(pb));
        for (int i = 0; i < adj_params_count(pa); i++)
            ck_assert_mem_eq(adj_params_value(pa, i), adj_params_value(pb, i),
                             adj_params_tensor_numel(pa, i) * es);
        adj_mlp *mb = adj_model_mlp(b);
        ck_assert_double_eq(adj_batchnorm_running_mean(adj_mlp_batchnorm(mb, 1))[3], 0.3 - 1);
        ck_assert_double_eq(adj_batchnorm_running_var(adj_mlp_batchnorm(mb, 0))[4], 5.5);
        const double *sh, *sc;
        ck_assert_int_eq(adj_mlp_input_transform(mb, &sh, &sc), 1);
        ck_assert_double_eq(sh[2], 3);
        ck_assert_double_eq(sc[1], 0.25);
        double ya[12], yb[12];
        outputs(m, ya);
        outputs(b, yb);
        ck_assert_mem_eq(ya, yb, sizeof ya);
        /* bit flips in the data are caught by the checksum */
        void *bytes;
        size_t n;
        ck_assert_int_eq(adj_model_to_bytes(m, &bytes, &n, &err), ADJ_OK);
        ((unsigned char *)bytes)[n - 3] ^= 4;
        FILE *fp = fopen(path, "wb");
        ck_assert_uint_eq(fwrite(bytes, 1, n, fp), n);
        fclose(fp);
        free(bytes);
        adj_model *c = NULL;
        ck_assert_int_eq(adj_model_read(path, &c, &err), ADJ_EFORMAT);
        ck_assert_ptr_nonnull(strstr(err.message, "checksum"));
        ck_assert_ptr_null(c);
        adj_model_free(b);
        adj_model_free(m);
    }
    remove_dir();
}
END_TEST

/* Save a writer's file and expect adj_model_read to refuse it naming `word`. */
static void refused(adj_st_writer *w, const char *word)
{
    char path[128];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    adj_error err;
    ck_assert_int_eq(adj_st_writer_save(w, path, &err), ADJ_OK);
    adj_model *m = NULL;
    ck_assert_int_eq(adj_model_read(path, &m, &err), ADJ_EFORMAT);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.message, word) && strstr(err.message, path), "\"%s\" should name %s",
                  err.message, word);
    adj_st_writer_free(w);
}

/* A writer holding an "mlp" 2-3-1 (F16 values) with the given omissions. */
static adj_st_writer *mlp_file(const char *arch, int skip, int extra, int bad_shape)
{
    static const uint16_t half[9] = {0x3C00, 0x4000, 0xBC00, 0x3800, 0, 0x4200, 0x3400, 0xC000, 0x3C00};
    adj_st_writer *w = adj_st_writer_new();
    if (arch)
        adj_st_writer_meta(w, "arch", arch, NULL);
    adj_st_writer_meta(w, "config.sizes", "2,3,1", NULL);
    adj_st_writer_meta(w, "config.act", "relu", NULL);
    if (skip != 0)
        adj_st_writer_add(w, "0.weight", ADJ_ST_F16, 2, (int64_t[]){3, bad_shape ? 3 : 2}, half, NULL);
    if (skip != 1)
        adj_st_writer_add(w, "0.bias", ADJ_ST_F16, 1, (int64_t[]){3}, half + 6, NULL);
    adj_st_writer_add(w, "2.weight", ADJ_ST_F16, 2, (int64_t[]){1, 3}, half + 3, NULL);
    adj_st_writer_add(w, "2.bias", ADJ_ST_F16, 1, (int64_t[]){1}, half, NULL);
    if (extra)
        adj_st_writer_add(w, "3.weight", ADJ_ST_F16, 1, (int64_t[]){1}, half, NULL);
    return w;
}

START_TEST(foreign_files)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/h.safetensors", dir);
    adj_error err;
    /* F16 tensors give an F32 model with the exact values */
    adj_st_writer *w = mlp_file("mlp", -1, 0, 0);
    ck_assert_int_eq(adj_st_writer_save(w, path, &err), ADJ_OK);
    adj_st_writer_free(w);
    adj_model *m = NULL;
    ck_assert_msg(adj_model_read(path, &m, &err) == ADJ_OK, "%s", err.message);
    ck_assert_int_eq(adj_model_dtype(m), ADJ_F32);
    const float *v = adj_params_value(adj_model_params(m), 0);
    ck_assert(v[0] == 1 && v[1] == 2 && v[2] == -1 && v[3] == 0.5f && v[4] == 0 && v[5] == 3);
    v = adj_params_value(adj_model_params(m), 1);
    ck_assert(v[0] == 0.25f && v[1] == -2 && v[2] == 1);
    /* relu(W x + b) then the last layer, by hand: x = (1, 1) */
    adj_tape *t = adj_tape_new();
    adj_var *y = adj_model_forward(m, adj_constant_f32(t, 2, (int64_t[]){1, 2}, (float[]){1, 1}));
    /* h = relu((3, -1, 3) + (0.25, -2, 1)) = (3.25, 0, 4); y = 0.5*3.25 + 0 + 3*4 + 1 */
    ck_assert_double_eq_tol(adj_item(y), 14.625, 1e-6);
    adj_tape_free(t);
    adj_model_free(m);

    refused(mlp_file(NULL, -1, 0, 0), "no \"arch\"");
    refused(mlp_file("vgg", -1, 0, 0), "unknown architecture");
    refused(mlp_file("mlp", 0, 0, 0), "\"0.weight\" is missing");
    refused(mlp_file("mlp", 1, 0, 0), "\"0.bias\" is missing");
    refused(mlp_file("mlp", -1, 1, 0), "unexpected tensor \"3.weight\"");
    refused(mlp_file("mlp", -1, 0, 1), "shape (3, 3)");
    w = mlp_file("mlp", -1, 0, 0);
    adj_st_writer_meta(w, "config.sizes", "2,x", NULL);
    refused(w, "sizes");
    w = mlp_file("mlp", -1, 0, 0);
    adj_st_writer_meta(w, "crc32", "12345678", NULL);
    refused(w, "checksum");
    /* a configuration far beyond the data is refused before it is built */
    w = mlp_file("mlp", -1, 0, 0);
    adj_st_writer_meta(w, "config.sizes", "100000,100000,100000", NULL);
    refused(w, "more than the 26 bytes");
    w = adj_st_writer_new();
    adj_st_writer_meta(w, "arch", "lstm", NULL);
    adj_st_writer_meta(w, "config.vocab", "1000000", NULL);
    adj_st_writer_add(w, "head.bias", ADJ_ST_F32, 1, (int64_t[]){4}, (float[]){1, 2, 3, 4}, NULL);
    refused(w, "more than the 16 bytes");
    /* neither format */
    FILE *fp = fopen(path, "wb");
    fputs("hello, this is text", fp);
    fclose(fp);
    ck_assert_int_eq(adj_model_read(path, &m, &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "not an adjoint model file"));
    remove_dir();
}
END_TEST

/* tests/data/mlp_v1.adj was written by the older format's writer
 * (adj_model_save) for a 3-4-2 tanh MLP with batch norm: element j of
 * tensor i in store order (layer0 weight and bias, bn0 gamma and beta,
 * layer1 weight and bias) is i + j/8 - 1, running mean k/4 and variance 1 + k/2,
 * input shift (0, 0.5, 1) and scale 2. */
START_TEST(older_mlp_file)
{
    adj_model *m = NULL;
    adj_error err;
    ck_assert_msg(adj_model_read(ADJ_SOURCE_ROOT "/tests/data/mlp_v1.adj", &m, &err) == ADJ_OK, "%s",
                  err.message);
    ck_assert_str_eq(adj_model_arch(m), "mlp");
    ck_assert_str_eq(adj_model_config(m, "sizes"), "3,4,2");
    ck_assert_str_eq(adj_model_config(m, "acts"), "tanh,identity");
    ck_assert_str_eq(adj_model_config(m, "batchnorm"), "1");
    static const char *const names[] = {"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"};
    static const int count[] = {12, 4, 4, 4, 8, 2};
    adj_params *p = adj_model_params(m);
    ck_assert_int_eq(adj_params_count(p), 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_str_eq(adj_model_param_name(m, i), names[i]);
        ck_assert_int_eq(adj_params_tensor_numel(p, i), count[i]);
        const float *v = adj_params_value(p, i);
        for (int j = 0; j < count[i]; j++)
            ck_assert_float_eq(v[j], (float)i + (float)j / 8 - 1);
    }
    adj_batchnorm *bn = adj_mlp_batchnorm(adj_model_mlp(m), 0);
    for (int k = 0; k < 4; k++) {
        ck_assert_double_eq(adj_batchnorm_running_mean(bn)[k], k / 4.0);
        ck_assert_double_eq(adj_batchnorm_running_var(bn)[k], 1 + k / 2.0);
    }
    /* and it saves as safetensors with its buffers under PyTorch's names */
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/v2.safetensors", dir);
    ck_assert_int_eq(adj_model_write(m, path, &err), ADJ_OK);
    adj_safetensors *f = NULL;
    ck_assert_int_eq(adj_st_read(path, &f, &err), ADJ_OK);
    ck_assert_ptr_nonnull(adj_st_find(f, "1.running_mean"));
    ck_assert_ptr_nonnull(adj_st_find(f, "1.running_var"));
    ck_assert_ptr_nonnull(adj_st_find(f, "input.shift"));
    ck_assert_str_eq(adj_st_meta(f, "arch"), "mlp");
    ck_assert_str_eq(adj_st_meta(f, "format"), "pt");
    ck_assert_int_eq(strlen(adj_st_meta(f, "crc32")), 8);
    adj_st_free(f);
    adj_model_free(m);
    remove_dir();
}
END_TEST

static void put_file(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(b, 1, n, fp), n);
    fclose(fp);
}

/* The ids of a part, as the bytes they stand for. */
static void decode(const adj_corpus *c, const int32_t *ids, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)c->chars[ids[i]];
    out[n] = '\0';
}

START_TEST(corpora)
{
    make_dir();
    char path[128], tr[64], va[64];
    snprintf(path, sizeof path, "%s/words", dir);
    const char *text = "one\ntwo\nthree\nfour\nfive\n";
    put_file(path, text, strlen(text));
    adj_corpus *c = NULL, *d = NULL;
    adj_error err;
    ck_assert_int_eq(adj_corpus_text(path, 0.4, 5, &c, &err), ADJ_OK);
    /* the bytes that occur, in order: \n e f h i n o r t u v w */
    ck_assert_int_eq(c->vocab, 12);
    ck_assert_int_eq(c->nchars, 12);
    ck_assert_mem_eq(c->chars, "\nefhinortuvw", 12);
    ck_assert_uint_eq(c->n_train + c->n_val, strlen(text));
    decode(c, c->train, c->n_train, tr);
    decode(c, c->val, c->n_val, va);
    /* two whole lines (round(0.4 * 5)) in validation, three in training,
     * each part in file order */
    int vl = 0, tl = 0;
    for (char *q = va; *q; q++)
        vl += *q == '\n';
    for (char *q = tr; *q; q++)
        tl += *q == '\n';
    ck_assert_int_eq(vl, 2);
    ck_assert_int_eq(tl, 3);
    const char *words[] = {"one\n", "two\n", "three\n", "four\n", "five\n"};
    for (int i = 0; i < 5; i++)
        ck_assert((strstr(tr, words[i]) != NULL) != (strstr(va, words[i]) != NULL));
    ck_assert_int_eq(adj_corpus_text(path, 0.4, 5, &d, &err), ADJ_OK);
    ck_assert_mem_eq(d->val, c->val, c->n_val * sizeof *c->val);
    adj_corpus_free(d);
    /* windows: y is x shifted by one, both inside the part */
    int32_t x[6], y[6];
    adj_rng rng;
    adj_rng_seed(&rng, 2);
    ck_assert_int_eq(adj_corpus_batch(c, 0, 2, 3, &rng, x, y, &err), ADJ_OK);
    for (int b = 0; b < 2; b++) {
        ck_assert_int_eq(x[b * 3 + 1], y[b * 3]);
        ck_assert_int_eq(x[b * 3 + 2], y[b * 3 + 1]);
        char w[8];
        decode(c, x + b * 3, 3, w);
        ck_assert_ptr_nonnull(strstr(tr, w));
    }
    ck_assert_int_eq(adj_corpus_batch(c, 1, 1, (size_t)c->n_val, &rng, x, y, &err), ADJ_EINVAL);
    int32_t ids[3];
    ck_assert_int_eq(adj_corpus_encode(c, "wet", 3, ids, &err), ADJ_OK);
    ck_assert(ids[0] == 11 && ids[1] == 1 && ids[2] == 8);
    ck_assert_int_eq(adj_corpus_encode(c, "wax", 3, ids, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "0x61"));
    adj_corpus_free(c);
    /* one line: split by position */
    put_file(path, "abcdabcd", 8);
    ck_assert_int_eq(adj_corpus_text(path, 0.25, 1, &c, &err), ADJ_OK);
    ck_assert_uint_eq(c->n_train, 6);
    ck_assert_uint_eq(c->n_val, 2);
    ck_assert_int_eq(c->val[0], 2);
    ck_assert_int_eq(c->val[1], 3);
    adj_corpus_free(c);
    /* uint16 ids, little-endian */
    const unsigned char tok[] = {1, 0, 44, 1, 2, 0, 7, 0};
    put_file(path, tok, sizeof tok);
    ck_assert_int_eq(adj_corpus_tokens(path, 0.25, &c, &err), ADJ_OK);
    ck_assert_int_eq(c->vocab, 301);
    ck_assert_int_eq(c->nchars, 0);
    ck_assert_uint_eq(c->n_train, 3);
    ck_assert(c->train[0] == 1 && c->train[1] == 300 && c->train[2] == 2 && c->val[0] == 7);
    adj_corpus_free(c);
    put_file(path, tok, 7);
    ck_assert_int_eq(adj_corpus_tokens(path, 0.25, &c, &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "uint16"));
    put_file(path, tok, 0);
    ck_assert_int_eq(adj_corpus_text(path, 0.25, 1, &c, &err), ADJ_EFORMAT);
    ck_assert_int_eq(adj_corpus_text(dir, 0.25, 1, &c, &err), ADJ_EIO);
    ck_assert_int_eq(adj_corpus_text(path, 1.0, 1, &c, &err), ADJ_EINVAL);
    remove_dir();
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, registry_and_names);
    tcase_add_test(tc, bad_configurations);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, foreign_files);
    tcase_add_test(tc, older_mlp_file);
    tcase_add_test(tc, corpora);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
