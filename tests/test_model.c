/*
 * Model files (src/io/model.c): round trips, atomic replacement, and
 * rejection of truncated, corrupt, foreign and mismatched files.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[256];
static char file[512];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/adj_test_model_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/m.adj", dir);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static adj_mlp *make(adj_dtype dt, int bn, uint64_t seed, int64_t hidden)
{
    adj_mlp_config c = adj_mlp_config_default();
    int64_t sz[] = {4, hidden, 3, 2};
    adj_mlp_config_set_sizes(&c, 4, sz, ADJ_ACT_TANH);
    c.dtype = dt;
    c.batchnorm = bn;
    c.dropout = 0.25;
    adj_rng r;
    adj_rng_seed(&r, seed);
    adj_mlp *m = adj_mlp_new(&c, &r, NULL);
    ck_assert_ptr_nonnull(m);
    return m;
}

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void spit(const char *p, const unsigned char *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Rewrite the trailing CRC-32 so only the intended change is seen. */
static void fix_crc(unsigned char *b, size_t n)
{
    uint32_t c = (uint32_t)crc32(0L, b, (uInt)(n - 4));
    for (int i = 0; i < 4; i++)
        b[n - 4 + (size_t)i] = (unsigned char)(c >> (8 * i));
}

START_TEST(round_trip)
{
    setup();
    for (int v = 0; v < 4; v++) {
        adj_dtype dt = v & 1 ? ADJ_F64 : ADJ_F32;
        int bn = v >> 1;
        adj_mlp *m = make(dt, bn, 5, 6);
        double shift[4] = {1, 2, 3, 4}, scale[4] = {0.5, 0.25, 2, 1};
        adj_mlp_set_input_transform(m, shift, scale);
        if (bn) {
            adj_batchnorm_running_mean(adj_mlp_batchnorm(m, 0))[2] = 0.375;
            adj_batchnorm_running_var(adj_mlp_batchnorm(m, 1))[1] = 2.5;
        }
        adj_error err;
        ck_assert_int_eq(adj_model_save(m, file, &err), ADJ_OK);
        adj_mlp *l = NULL;
        ck_assert_int_eq(adj_model_load(file, &l, &err), ADJ_OK);
        ck_assert_ptr_nonnull(l);
        const adj_mlp_config *a = adj_mlp_get_config(m), *b = adj_mlp_get_config(l);
        ck_assert_int_eq(a->n_sizes, b->n_sizes);
        ck_assert_int_eq(b->sizes[1], 6);
        ck_assert_int_eq(b->act[0], ADJ_ACT_TANH);
        ck_assert_int_eq(b->act[2], ADJ_ACT_IDENTITY);
        ck_assert_int_eq(b->batchnorm, bn);
        ck_assert_double_eq(b->dropout, 0.25);
        ck_assert_int_eq(b->dtype, dt);
        adj_params *pa = adj_mlp_params(m), *pb = adj_mlp_params(l);
        ck_assert_int_eq(adj_params_count(pa), adj_params_count(pb));
        for (int i = 0; i < adj_params_count(pa); i++)
            ck_assert_int_eq(memcmp(adj_params_value(pa, i), adj_params_value(pb, i),
                                    adj_params_tensor_numel(pa, i) * (dt == ADJ_F64 ? 8 : 4)),
                             0);
        const double *s2, *k2;
        ck_assert_int_eq(adj_mlp_input_transform(l, &s2, &k2), 1);
        ck_assert_double_eq(s2[3], 4);
        ck_assert_double_eq(k2[1], 0.25);
        if (bn) {
            ck_assert_double_eq(adj_batchnorm_running_mean(adj_mlp_batchnorm(l, 0))[2], 0.375);
            ck_assert_double_eq(adj_batchnorm_running_var(adj_mlp_batchnorm(l, 1))[1], 2.5);
        }
        /* identical predictions in evaluation mode */
        adj_mlp_set_training(m, 0);
        adj_mlp_set_training(l, 0);
        adj_tape *t = adj_tape_new();
        int64_t xs[2] = {3, 4};
        const double xv[12] = {0.1, -1, 2, 0.5, 1, 1, 1, 1, -3, 0.25, 0, 2};
        adj_var *x1 = adj_leaf_at(t, ADJ_F64, 2, xs, xv, 0, NULL, 0);
        if (dt == ADJ_F32) {
            float xf[12];
            for (int i = 0; i < 12; i++)
                xf[i] = (float)xv[i];
            x1 = adj_constant_f32(t, 2, xs, xf);
        }
        adj_var *y1 = adj_mlp_forward(m, x1), *y2 = adj_mlp_forward(l, x1);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        for (size_t i = 0; i < 6; i++)
            ck_assert(adj_value_at(y1, i) == adj_value_at(y2, i));
        adj_tape_free(t);
        /* loading into a model of the same architecture */
        adj_mlp *o = make(dt, bn, 99, 6);
        ck_assert_int_eq(adj_model_load_into(o, file, &err), ADJ_OK);
        ck_assert_int_eq(memcmp(adj_params_value(adj_mlp_params(o), 0), adj_params_value(pa, 0),
                                24 * (dt == ADJ_F64 ? 8 : 4)),
                         0);
        adj_mlp_free(o);
        adj_mlp_free(l);
        adj_mlp_free(m);
    }
    teardown();
}
END_TEST

/* Saving replaces the target and leaves no temporary file behind. */
START_TEST(atomic_save)
{
    setup();
    adj_mlp *m = make(ADJ_F32, 0, 1, 5), *n = make(ADJ_F32, 0, 2, 5);
    ck_assert_int_eq(adj_model_save(m, file, NULL), ADJ_OK);
    ck_assert_int_eq(adj_model_save(n, file, NULL), ADJ_OK);
    adj_mlp *l;
    ck_assert_int_eq(adj_model_load(file, &l, NULL), ADJ_OK);
    ck_assert(((float *)adj_params_value(adj_mlp_params(l), 0))[0] ==
              ((float *)adj_params_value(adj_mlp_params(n), 0))[0]);
    DIR *d = opendir(dir);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 1);
    /* an unwritable place is an I/O error with the path */
    adj_error err;
    ck_assert_int_eq(adj_model_save(m, "/nonexistent-dir/m.adj", &err), ADJ_EIO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent-dir/m.adj"));
    adj_mlp_free(l);
    adj_mlp_free(m);
    adj_mlp_free(n);
    teardown();
}
END_TEST

static void expect_reject(const char *fragment, adj_status want)
{
    adj_mlp *l = (adj_mlp *)1;
    adj_error err;
    ck_assert_int_eq(adj_model_load(file, &l, &err), want);
    ck_assert_ptr_null(l);
    ck_assert_int_eq(err.status, want);
    ck_assert_msg(strstr(err.message, fragment) != NULL, "message '%s' lacks '%s'", err.message,
                  fragment);
}

START_TEST(rejects_bad_files)
{
    setup();
    adj_mlp *m = make(ADJ_F32, 1, 3, 5);
    ck_assert_int_eq(adj_model_save(m, file, NULL), ADJ_OK);
    size_t n;
    unsigned char *good = slurp(file, &n), *b = malloc(n);
    /* truncated at every length: never accepted, never a crash */
    for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 37)) {
        spit(file, good, cut);
        adj_mlp *l = (adj_mlp *)1;
        adj_status st = adj_model_load(file, &l, NULL);
        ck_assert_int_eq(st, ADJ_EFORMAT);
        ck_assert_ptr_null(l);
    }
    spit(file, good, n - 9);
    expect_reject("truncated", ADJ_EFORMAT);
    /* one flipped bit in the parameters */
    memcpy(b, good, n);
    b[n / 2] ^= 0x10;
    spit(file, b, n);
    expect_reject("checksum", ADJ_EFORMAT);
    /* wrong magic */
    memcpy(b, good, n);
    memcpy(b, "NOTMODEL", 8);
    spit(file, b, n);
    expect_reject("magic", ADJ_EFORMAT);
    /* a future version, with a valid checksum */
    memcpy(b, good, n);
    b[8] = 2;
    fix_crc(b, n);
    spit(file, b, n);
    expect_reject("version 2", ADJ_EFORMAT);
    /* an impossible architecture, with a valid checksum: 0 layer sizes */
    memcpy(b, good, n);
    b[24] = 0; /* payload: u32 dtype at 20, u32 n_sizes at 24 */
    fix_crc(b, n);
    spit(file, b, n);
    expect_reject("architecture", ADJ_EFORMAT);
    /* trailing garbage after a valid file */
    unsigned char *longer = malloc(n + 3);
    memcpy(longer, good, n);
    memset(longer + n, 0, 3);
    spit(file, longer, n + 3);
    expect_reject("trailing", ADJ_EFORMAT);
    /* a missing file */
    unlink(file);
    expect_reject("m.adj", ADJ_EIO);
    /* loading into a model of another architecture */
    spit(file, good, n);
    adj_mlp *other = make(ADJ_F32, 1, 3, 7);
    adj_error err;
    ck_assert_int_eq(adj_model_load_into(other, file, &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "architecture mismatch"));
    ck_assert_ptr_nonnull(strstr(err.message, "4-5-3-2"));
    adj_mlp_free(other);
    other = make(ADJ_F64, 1, 3, 5);
    ck_assert_int_eq(adj_model_load_into(other, file, &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "f32"));
    adj_mlp_free(other);
    other = make(ADJ_F32, 0, 3, 5);
    ck_assert_int_eq(adj_model_load_into(other, file, &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "batch norm"));
    adj_mlp_free(other);
    free(longer);
    free(b);
    free(good);
    adj_mlp_free(m);
    teardown();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, atomic_save);
    tcase_add_test(tc, rejects_bad_files);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
