/*
 * safetensors files: a round trip of every dtype with metadata; F16 and
 * BF16 values against their bit patterns worked out by hand; every
 * corruption the reader must refuse (built as bytes here, read from
 * memory and from a file), every truncation of a valid file, huge
 * declared sizes that must be refused before anything is allocated; and
 * a file written by a Python script (numpy and torch, the format written
 * by hand) read back, when torch is importable.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/adj-st-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(b, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

/* A file: length (8 bytes LE) of the header text, the header, data. */
static size_t build(unsigned char *out, uint64_t hlen, const char *header, const void *data,
                    size_t dlen)
{
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(hlen >> (8 * i));
    size_t h = strlen(header);
    memcpy(out + 8, header, h);
    memcpy(out + 8 + h, data, dlen);
    return 8 + h + dlen;
}

/* Both readers refuse the bytes with `status` and a message holding `word`. */
static void refused(const void *b, size_t n, adj_status status, const char *word, const char *what)
{
    adj_safetensors *f = (adj_safetensors *)1;
    adj_error err;
    adj_status s = adj_st_parse(b, n, "mem", &f, &err);
    ck_assert_msg(s == status, "%s: parse gave %s (%s)", what, adj_status_string(s), err.message);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err.message, word) && strstr(err.message, "mem"),
                  "%s: message \"%s\" should name mem and \"%s\"", what, err.message, word);
    char path[128];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    write_bytes(path, b, n);
    f = (adj_safetensors *)1;
    s = adj_st_read(path, &f, &err);
    ck_assert_msg(s == status, "%s: read gave %s (%s)", what, adj_status_string(s), err.message);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err.message, word) && strstr(err.message, path),
                  "%s: message \"%s\" should name the file and \"%s\"", what, err.message, word);
}

/* One F32 tensor "a" of shape (2) with the given header text. */
static void refused_header(const char *header, size_t dlen, const char *word)
{
    unsigned char b[1024];
    static const unsigned char data[64];
    size_t n = build(b, strlen(header), header, data, dlen);
    refused(b, n, ADJ_EFORMAT, word, header);
}

START_TEST(round_trip)
{
    make_dir();
    const double d[6] = {1, -2.5, 3.25, 1e-300, -0.0, 6};
    const float fl[3] = {0.5f, -1.5f, 3e38f};
    /* F16: 1, -2, 65504 (largest), 2^-24 (smallest subnormal), inf, -0 */
    const uint16_t h[6] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000};
    const double h_val[6] = {1, -2, 65504, 5.9604644775390625e-8, INFINITY, -0.0};
    /* BF16: 1, 3.140625, -0.5, 2^-133 (subnormal) */
    const uint16_t bf[4] = {0x3F80, 0x4049, 0xBF00, 0x0001};
    const double bf_val[4] = {1, 3.140625, -0.5, ldexp(1, -133)};
    const int64_t i64[2] = {-7, INT64_MAX};
    adj_error err;
    adj_st_writer *w = adj_st_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(adj_st_writer_add(w, "layer.weight", ADJ_ST_F64, 2, (int64_t[]){2, 3}, d, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_add(w, "f", ADJ_ST_F32, 1, (int64_t[]){3}, fl, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_add(w, "half", ADJ_ST_F16, 3, (int64_t[]){1, 2, 3}, h, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_add(w, "bf", ADJ_ST_BF16, 1, (int64_t[]){4}, bf, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_add(w, "empty", ADJ_ST_F32, 2, (int64_t[]){0, 5}, NULL, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_add(w, "scalar", ADJ_ST_F64, 0, NULL, d + 2, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_add(w, "ints", ADJ_ST_I64, 1, (int64_t[]){2}, i64, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_meta(w, "arch", "mlp", &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_meta(w, "quote", "a \"b\"\n\\c", &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_meta(w, "arch", "lstm", &err), ADJ_OK); /* replaced */
    /* refusals */
    ck_assert_int_eq(adj_st_writer_add(w, "f", ADJ_ST_F32, 1, (int64_t[]){3}, fl, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "twice"));
    ck_assert_int_eq(adj_st_writer_add(w, "__metadata__", ADJ_ST_F32, 1, (int64_t[]){3}, fl, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_st_writer_add(w, "g", ADJ_ST_F32, 1, (int64_t[]){-3}, fl, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_st_writer_add(w, "g", ADJ_ST_F32, 9, (int64_t[9]){1}, fl, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_st_writer_add(w, "g", ADJ_ST_F32, 2, (int64_t[]){INT64_MAX, 4}, fl, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "overflow"));

    char path[128];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ck_assert_int_eq(adj_st_writer_save(w, path, &err), ADJ_OK);
    void *bytes;
    size_t n;
    ck_assert_int_eq(adj_st_writer_encode(w, &bytes, &n, &err), ADJ_OK);
    /* header length: a multiple of 8, and the JSON padded with spaces */
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | ((unsigned char *)bytes)[i];
    ck_assert_uint_eq(hl % 8, 0);
    ck_assert_uint_eq(n, 8 + hl + 48 + 12 + 12 + 8 + 0 + 8 + 16);
    adj_st_writer_free(w);

    for (int from_file = 0; from_file < 2; from_file++) {
        adj_safetensors *f = NULL;
        if (from_file)
            ck_assert_int_eq(adj_st_read(path, &f, &err), ADJ_OK);
        else
            ck_assert_int_eq(adj_st_parse(bytes, n, "mem", &f, &err), ADJ_OK);
        ck_assert_int_eq(adj_st_count(f), 7);
        ck_assert_str_eq(adj_st_tensor_at(f, 0)->name, "layer.weight");
        ck_assert_int_eq(adj_st_meta_count(f), 2);
        ck_assert_str_eq(adj_st_meta(f, "arch"), "lstm");
        ck_assert_str_eq(adj_st_meta(f, "quote"), "a \"b\"\n\\c");
        ck_assert_ptr_null(adj_st_meta(f, "none"));
        ck_assert_ptr_null(adj_st_find(f, "none"));
        const adj_st_tensor *t = adj_st_find(f, "layer.weight");
        ck_assert_int_eq(t->dtype, ADJ_ST_F64);
        ck_assert_int_eq(t->ndim, 2);
        ck_assert_int_eq(t->shape[0], 2);
        ck_assert_int_eq(t->shape[1], 3);
        double got[6];
        float gf[6];
        ck_assert_int_eq(adj_st_convert(t, ADJ_F64, got, &err), ADJ_OK);
        ck_assert_mem_eq(got, d, sizeof d);
        t = adj_st_find(f, "f");
        ck_assert_int_eq(adj_st_convert(t, ADJ_F32, gf, &err), ADJ_OK);
        ck_assert_mem_eq(gf, fl, sizeof fl);
        t = adj_st_find(f, "half");
        ck_assert_int_eq(t->numel, 6);
        ck_assert_int_eq(adj_st_convert(t, ADJ_F64, got, &err), ADJ_OK);
        for (int i = 0; i < 6; i++) {
            ck_assert_msg(got[i] == h_val[i], "half %d: %g", i, got[i]);
            ck_assert_int_eq(signbit(got[i]) != 0, signbit(h_val[i]) != 0);
        }
        ck_assert_int_eq(adj_st_convert(t, ADJ_F32, gf, &err), ADJ_OK);
        for (int i = 0; i < 6; i++)
            ck_assert_msg(gf[i] == (float)h_val[i], "half %d as float: %g", i, gf[i]);
        t = adj_st_find(f, "bf");
        ck_assert_int_eq(adj_st_convert(t, ADJ_F64, got, &err), ADJ_OK);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(got[i] == bf_val[i], "bf16 %d: %g", i, got[i]);
        t = adj_st_find(f, "empty");
        ck_assert_int_eq(t->numel, 0);
        ck_assert_int_eq(t->ndim, 2);
        ck_assert_int_eq(adj_st_convert(t, ADJ_F64, NULL, &err), ADJ_OK);
        t = adj_st_find(f, "scalar");
        ck_assert_int_eq(t->ndim, 0);
        ck_assert_int_eq(t->numel, 1);
        ck_assert_int_eq(adj_st_convert(t, ADJ_F64, got, &err), ADJ_OK);
        ck_assert(got[0] == 3.25);
        t = adj_st_find(f, "ints");
        ck_assert_mem_eq(t->data, i64, sizeof i64);
        ck_assert_int_eq(adj_st_convert(t, ADJ_F64, got, &err), ADJ_EDTYPE);
        ck_assert_ptr_nonnull(strstr(err.message, "ints"));
        ck_assert_ptr_nonnull(strstr(err.message, "I64"));
        adj_st_free(f);
    }
    free(bytes);
    /* a directory or a missing file is not read; a directory is not replaced */
    adj_safetensors *f = NULL;
    ck_assert_int_eq(adj_st_read(dir, &f, &err), ADJ_EIO);
    ck_assert_ptr_nonnull(strstr(err.message, "regular"));
    snprintf(path, sizeof path, "%s/missing", dir);
    ck_assert_int_eq(adj_st_read(path, &f, &err), ADJ_EIO);
    w = adj_st_writer_new();
    ck_assert_int_eq(adj_st_writer_save(w, dir, &err), ADJ_EIO);
    adj_st_writer_free(w);
    remove_dir();
}
END_TEST

START_TEST(corrupt_headers)
{
    make_dir();
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char b[1024], data[64] = {0};
    adj_safetensors *f = NULL;
    adj_error err;
    /* the well-formed base case is accepted (with and without padding) */
    size_t n = build(b, strlen(ok), ok, data, 8);
    ck_assert_int_eq(adj_st_parse(b, n, "mem", &f, &err), ADJ_OK);
    adj_st_free(f);
    char padded[256];
    snprintf(padded, sizeof padded, "%s      ", ok);
    n = build(b, strlen(padded), padded, data, 8);
    ck_assert_int_eq(adj_st_parse(b, n, "mem", &f, &err), ADJ_OK);
    adj_st_free(f);

    refused_header("[1]", 0, "'{'");
    refused_header("{\"a\":", 0, "not valid JSON");
    refused_header("{} x", 0, "after its JSON");
    refused_header("{}\n", 0, "after its JSON");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "twice");
    refused_header("{\"a\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype");
    refused_header("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype");
    refused_header("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "no dtype");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "no shape");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "no data_offsets");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, "unexpected");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "repeated");
    refused_header("{\"a\":[1]}", 0, "not an object");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "not an array");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "dimension 0");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "dimension 0");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,8]}}", 8, "dimension 1");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", 8, "dimension 0");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                   "9 dimensions");
    refused_header("{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,4294967296],"
                   "\"data_offsets\":[0,8]}}", 8, "overflows");
    refused_header("{\"a\":{\"dtype\":\"F64\",\"shape\":[9007199254740992,1024],"
                   "\"data_offsets\":[0,8]}}", 8, "overflows");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12, "need 8");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "end before");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "two non-negative");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}", 8, "two non-negative");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "gap");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps");
    refused_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlaps");
    refused_header("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
    refused_header("{\"__metadata__\":[\"k\"]}", 0, "not an object");
    /* the data: shorter, longer than declared; a declared size far beyond
     * the file is refused before it is allocated */
    refused_header(ok, 4, "truncated");
    refused_header(ok, 12, "4 bytes after");
    refused_header("{\"a\":{\"dtype\":\"F64\",\"shape\":[1125899906842624],"
                   "\"data_offsets\":[0,9007199254740992]}}", 0, "truncated");
    /* the header length: past the file, over the cap, too short a file */
    n = build(b, strlen(ok) + 1, ok, data, 0);
    refused(b, n, ADJ_EFORMAT, "truncated", "header length past the end");
    n = build(b, (uint64_t)1 << 62, ok, data, 8);
    refused(b, n, ADJ_EFORMAT, "over the limit", "header length 2^62");
    n = build(b, ADJ_ST_MAX_HEADER + 1, ok, data, 8);
    refused(b, n, ADJ_EFORMAT, "over the limit", "header length over the cap");
    refused(b, 7, ADJ_EFORMAT, "too short", "7 bytes");
    refused(b, 0, ADJ_EFORMAT, "too short", "empty");
    n = build(b, 0, "", data, 0);
    refused(b, n, ADJ_EFORMAT, "'{'", "empty header");
    remove_dir();
}
END_TEST

/* Every proper prefix of a valid file is refused, from memory and from a
 * file, and every single-byte change is refused as a format error or
 * accepted (under the sanitizers: without a memory error). */
/* A tensor named "" (a valid JSON key) is read, and written back as it
 * was: what one side takes, the other gives. */
START_TEST(empty_name_round_trips)
{
    static const char hdr[] = "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    const float one = 1.5f;
    unsigned char b[256];
    size_t n = build(b, sizeof hdr - 1, hdr, &one, sizeof one);
    adj_safetensors *f = NULL, *back = NULL;
    adj_error err;
    ck_assert_msg(adj_st_parse(b, n, "mem", &f, &err) == ADJ_OK, "%s", err.message);
    const adj_st_tensor *t = adj_st_find(f, "");
    ck_assert_ptr_nonnull(t);
    adj_st_writer *w = adj_st_writer_new();
    ck_assert_msg(adj_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, &err) == ADJ_OK,
                  "%s", err.message);
    ck_assert_int_eq(adj_st_writer_add(w, "__metadata__", ADJ_ST_F32, 1, t->shape, t->data, &err),
                     ADJ_EINVAL);
    void *bytes = NULL;
    size_t m = 0;
    ck_assert_int_eq(adj_st_writer_encode(w, &bytes, &m, &err), ADJ_OK);
    ck_assert_msg(adj_st_parse(bytes, m, "back", &back, &err) == ADJ_OK, "%s", err.message);
    const adj_st_tensor *u = adj_st_find(back, "");
    ck_assert_ptr_nonnull(u);
    float v;
    memcpy(&v, u->data, sizeof v);
    ck_assert(v == 1.5f);
    free(bytes);
    adj_st_writer_free(w);
    adj_st_free(back);
    adj_st_free(f);
}
END_TEST

START_TEST(truncations)
{
    make_dir();
    adj_error err;
    adj_st_writer *w = adj_st_writer_new();
    const double d[3] = {1, 2, 3};
    const float four[1] = {4}; /* referenced by the writer until it encodes */
    ck_assert_int_eq(adj_st_writer_add(w, "x", ADJ_ST_F64, 1, (int64_t[]){3}, d, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_add(w, "y", ADJ_ST_F32, 2, (int64_t[]){1, 1}, four, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_meta(w, "k", "v", &err), ADJ_OK);
    void *bytes;
    size_t n;
    ck_assert_int_eq(adj_st_writer_encode(w, &bytes, &n, &err), ADJ_OK);
    adj_st_writer_free(w);
    for (size_t k = 0; k < n; k++) {
        adj_safetensors *f = NULL;
        adj_status s = adj_st_parse(bytes, k, "mem", &f, &err);
        ck_assert_msg(s == ADJ_EFORMAT && !f, "prefix of %zu bytes: %s", k, adj_status_string(s));
    }
    char path[128];
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
    for (size_t k = 0; k < n; k += 7) {
        write_bytes(path, bytes, k);
        adj_safetensors *f = NULL;
        ck_assert_int_eq(adj_st_read(path, &f, &err), ADJ_EFORMAT);
        ck_assert_ptr_null(f);
    }
    unsigned char *b = bytes;
    for (size_t k = 0; k < n; k++) {
        unsigned char save = b[k];
        b[k] ^= 0x41;
        adj_safetensors *f = NULL;
        adj_status s = adj_st_parse(b, n, "mem", &f, &err);
        ck_assert(s == ADJ_OK || s == ADJ_EFORMAT);
        if (s == ADJ_OK)
            adj_st_free(f);
        b[k] = save;
    }
    free(bytes);
    remove_dir();
}
END_TEST

/* A file written by Python (numpy and torch; the format by hand), with
 * the float64 value of every element beside it as torch computes it. */
START_TEST(written_by_python)
{
    /* Debian's interpreter, where python3-torch is installed */
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, numpy' >/dev/null 2>&1", py);
    if (system(cmd) != 0) {
        printf("written_by_python: skipped: python3 with torch and numpy is not available\n");
        return;
    }
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/py.safetensors", dir);
    snprintf(cmd, sizeof cmd, "%s '%s/tests/interop/st_write.py' '%s'", py, ADJ_SOURCE_ROOT, path);
    ck_assert_int_eq(system(cmd), 0);
    adj_safetensors *f = NULL;
    adj_error err;
    ck_assert_msg(adj_st_read(path, &f, &err) == ADJ_OK, "%s", err.message);
    ck_assert_str_eq(adj_st_meta(f, "format"), "pt");
    int checked = 0;
    for (int i = 0; i < adj_st_count(f); i++) {
        const adj_st_tensor *t = adj_st_tensor_at(f, i);
        if (strncmp(t->name, "expect.", 7) == 0)
            continue;
        char ename[128];
        snprintf(ename, sizeof ename, "expect.%s", t->name);
        const adj_st_tensor *e = adj_st_find(f, ename);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->numel, t->numel);
        ck_assert_int_eq(e->dtype, ADJ_ST_F64);
        double *got = malloc((t->numel + 1) * sizeof *got), *want = malloc((t->numel + 1) * sizeof *want);
        ck_assert_int_eq(adj_st_convert(t, ADJ_F64, got, &err), ADJ_OK);
        ck_assert_int_eq(adj_st_convert(e, ADJ_F64, want, &err), ADJ_OK);
        for (size_t j = 0; j < t->numel; j++)
            ck_assert_msg(got[j] == want[j] || (isnan(got[j]) && isnan(want[j])),
                          "%s[%zu]: %.17g, torch says %.17g", t->name, j, got[j], want[j]);
        free(got);
        free(want);
        checked++;
    }
    ck_assert_int_ge(checked, 4);
    adj_st_free(f);
    remove_dir();
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, corrupt_headers);
    tcase_add_test(tc, truncations);
    tcase_add_test(tc, empty_name_round_trips);
    tcase_add_test(tc, written_by_python);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
