/*
 * Data readers (src/io): IDX plain and gzipped, CSV, normalisation,
 * splitting and the batch iterator, on small files the tests write
 * themselves, including truncated and corrupt ones.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/adj_test_io_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_bytes(const char *p, const void *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void write_gz(const char *p, const void *b, size_t n)
{
    gzFile f = gzopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, b, (unsigned)n), (int)n);
    gzclose(f);
}

static void write_text(const char *p, const char *s) { write_bytes(p, s, strlen(s)); }

/* A 3x2x2 byte image file, built byte by byte from the format description. */
static const unsigned char images_idx[] = {
    0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 255, 10, 20, 1, 2, 3, 4, 200, 100, 50, 25,
};
static const unsigned char labels_idx[] = {0, 0, 0x08, 1, 0, 0, 0, 3, 2, 0, 1};

START_TEST(idx_plain_and_gz)
{
    make_dir();
    write_bytes(path("img"), images_idx, sizeof images_idx);
    write_gz(path("img.gz"), images_idx, sizeof images_idx);
    for (int gz = 0; gz < 2; gz++) {
        adj_idx *a = NULL;
        adj_error err;
        ck_assert_int_eq(adj_idx_read(path(gz ? "img.gz" : "img"), &a, &err), ADJ_OK);
        ck_assert_int_eq(err.status, ADJ_OK);
        ck_assert_int_eq(a->type, ADJ_IDX_U8);
        ck_assert_int_eq(a->ndim, 3);
        ck_assert_int_eq(a->dims[0], 3);
        ck_assert_int_eq(a->dims[2], 2);
        ck_assert_uint_eq(a->numel, 12);
        ck_assert_double_eq(adj_idx_get(a, 1), 255);
        ck_assert_double_eq(adj_idx_get(a, 11), 25);
        ck_assert(isnan(adj_idx_get(a, 12)));
        adj_idx_free(a);
    }
    /* big-endian multi-byte types: int32 (2) = {-2, 70000}, float (1) = {1.5} */
    const unsigned char i32[] = {0,    0,    0x0C, 1,    0, 0, 0,    2,
                                 0xff, 0xff, 0xff, 0xfe, 0, 1, 0x11, 0x70};
    const unsigned char f32[] = {0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0};
    write_bytes(path("i32"), i32, sizeof i32);
    write_gz(path("f32.gz"), f32, sizeof f32);
    adj_idx *a;
    ck_assert_int_eq(adj_idx_read(path("i32"), &a, NULL), ADJ_OK);
    ck_assert_double_eq(adj_idx_get(a, 0), -2);
    ck_assert_double_eq(adj_idx_get(a, 1), 70000);
    adj_idx_free(a);
    ck_assert_int_eq(adj_idx_read(path("f32.gz"), &a, NULL), ADJ_OK);
    ck_assert_double_eq(adj_idx_get(a, 0), 1.5);
    adj_idx_free(a);
    /* the writer produces what the reader accepts, doubles included */
    const double dv[] = {-0.125, 3e300, 7};
    int64_t dims[2] = {3, 1};
    ck_assert_int_eq(adj_idx_write(path("d.gz"), ADJ_IDX_F64, 2, dims, dv, 1, NULL), ADJ_OK);
    ck_assert_int_eq(adj_idx_read(path("d.gz"), &a, NULL), ADJ_OK);
    for (size_t i = 0; i < 3; i++)
        ck_assert(adj_idx_get(a, i) == dv[i]);
    adj_idx_free(a);
    remove_dir();
}
END_TEST

static void expect_format_error(const char *p, const char *fragment)
{
    adj_idx *a = (adj_idx *)1;
    adj_error err;
    adj_status st = adj_idx_read(p, &a, &err);
    ck_assert_int_eq(st, ADJ_EFORMAT);
    ck_assert_int_eq(err.status, ADJ_EFORMAT);
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(err.message, fragment) != NULL, "message '%s' lacks '%s'", err.message,
                  fragment);
}

START_TEST(idx_bad_files)
{
    make_dir();
    /* truncated data, plain and gzipped */
    write_bytes(path("short"), images_idx, sizeof images_idx - 3);
    expect_format_error(path("short"), "truncated");
    write_gz(path("short.gz"), images_idx, sizeof images_idx - 3);
    expect_format_error(path("short.gz"), "truncated");
    /* truncated header */
    write_bytes(path("hdr"), images_idx, 9);
    expect_format_error(path("hdr"), "truncated header");
    write_bytes(path("tiny"), images_idx, 2);
    expect_format_error(path("tiny"), "truncated");
    /* trailing bytes */
    unsigned char longer[sizeof images_idx + 2];
    memcpy(longer, images_idx, sizeof images_idx);
    longer[sizeof images_idx] = longer[sizeof images_idx + 1] = 7;
    write_bytes(path("long"), longer, sizeof longer);
    expect_format_error(path("long"), "trailing");
    /* bad magic, unknown type, zero dimensions */
    unsigned char bad[sizeof images_idx];
    memcpy(bad, images_idx, sizeof bad);
    bad[0] = 0x50;
    write_bytes(path("magic"), bad, sizeof bad);
    expect_format_error(path("magic"), "not an IDX file");
    memcpy(bad, images_idx, sizeof bad);
    bad[2] = 0x07;
    write_bytes(path("type"), bad, sizeof bad);
    expect_format_error(path("type"), "element type");
    memcpy(bad, images_idx, sizeof bad);
    bad[3] = 0;
    write_bytes(path("nd"), bad, sizeof bad);
    expect_format_error(path("nd"), "dimensions");
    /* a header that claims 4G x 4G x 4G elements in a 28-byte file */
    memcpy(bad, images_idx, sizeof bad);
    for (int i = 4; i < 16; i++)
        bad[i] = 0xff;
    write_bytes(path("huge"), bad, sizeof bad);
    expect_format_error(path("huge"), "overflow");
    /* a header that claims 60000 x 28 x 28 bytes in a 28-byte file */
    memcpy(bad, images_idx, sizeof bad);
    const unsigned char dims[12] = {0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28};
    memcpy(bad + 4, dims, sizeof dims);
    write_bytes(path("claims"), bad, sizeof bad);
    expect_format_error(path("claims"), "truncated");
    /* a corrupt gzip stream: flip bytes inside the deflate data */
    write_gz(path("c.gz"), images_idx, sizeof images_idx);
    FILE *f = fopen(path("c.gz"), "r+b");
    fseek(f, 12, SEEK_SET);
    unsigned char junk[6] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0xff};
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    adj_idx *a;
    adj_error err;
    ck_assert_int_eq(adj_idx_read(path("c.gz"), &a, &err), ADJ_EFORMAT);
    ck_assert_ptr_null(a);
    /* a gzip file cut in half */
    unsigned char gzb[256];
    f = fopen(path("c.gz"), "rb");
    write_gz(path("full.gz"), images_idx, sizeof images_idx);
    fclose(f);
    f = fopen(path("full.gz"), "rb");
    size_t n = fread(gzb, 1, sizeof gzb, f);
    fclose(f);
    write_bytes(path("half.gz"), gzb, n / 2);
    ck_assert_int_eq(adj_idx_read(path("half.gz"), &a, &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "half.gz"));
    /* a missing file is an I/O error naming it */
    ck_assert_int_eq(adj_idx_read(path("missing"), &a, &err), ADJ_EIO);
    ck_assert_ptr_nonnull(strstr(err.message, "missing"));
    remove_dir();
}
END_TEST

START_TEST(idx_dataset)
{
    make_dir();
    write_gz(path("train-images-idx3-ubyte.gz"), images_idx, sizeof images_idx);
    write_bytes(path("train-labels-idx1-ubyte"), labels_idx, sizeof labels_idx);
    adj_dataset *d;
    adj_error err;
    ck_assert_int_eq(adj_dataset_load_idx(dir, "train", &d, &err), ADJ_OK);
    ck_assert_uint_eq(d->rows, 3);
    ck_assert_uint_eq(d->cols, 4);
    ck_assert_int_eq(d->classes, 3);
    ck_assert_int_eq(d->y[0], 2);
    ck_assert_float_eq(d->x[4], 1.0f);
    double lo, hi;
    adj_dataset_range(d, &lo, &hi);
    ck_assert_double_eq(lo, 0);
    ck_assert_double_eq(hi, 255);
    adj_dataset_scale(d, 0, 255);
    ck_assert_float_eq_tol(d->x[1], 1.0f, 1e-7f);
    ck_assert_float_eq_tol(d->x[8], 200.0f / 255, 1e-7f);
    adj_dataset_free(d);
    /* label count differs from image count */
    const unsigned char two[] = {0, 0, 0x08, 1, 0, 0, 0, 2, 1, 1};
    write_bytes(path("t10k-labels-idx1-ubyte"), two, sizeof two);
    write_bytes(path("t10k-images-idx3-ubyte"), images_idx, sizeof images_idx);
    ck_assert_int_eq(adj_dataset_load_idx(dir, "t10k", &d, &err), ADJ_EFORMAT);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(err.message, "labels"));
    ck_assert_int_eq(adj_dataset_load_idx(dir, "nosuch", &d, &err), ADJ_EIO);
    remove_dir();
}
END_TEST

START_TEST(csv_reader)
{
    make_dir();
    write_text(path("a.csv"), "x1, x2 ,class,x3\r\n1,2,0,3\r\n\r\n4.5,-5,1,6e1\r\n7,8,2,9\r\n");
    adj_dataset *d;
    adj_error err;
    ck_assert_int_eq(adj_csv_read(path("a.csv"), "class", &d, &err), ADJ_OK);
    ck_assert_uint_eq(d->rows, 3);
    ck_assert_uint_eq(d->cols, 3);
    ck_assert_int_eq(d->classes, 3);
    ck_assert_float_eq(d->x[3], 4.5f);
    ck_assert_float_eq(d->x[4], -5.0f);
    ck_assert_float_eq(d->x[5], 60.0f);
    ck_assert_int_eq(d->y[2], 2);
    adj_dataset_free(d);
    /* by index, and the default (last column) */
    ck_assert_int_eq(adj_csv_read(path("a.csv"), "2", &d, &err), ADJ_OK);
    ck_assert_int_eq(d->y[1], 1);
    adj_dataset_free(d);
    write_text(path("b.csv"), "a,b,label\n0.5,1,1\n0.25,2,0\n");
    ck_assert_int_eq(adj_csv_read(path("b.csv"), NULL, &d, &err), ADJ_OK);
    ck_assert_int_eq(d->y[0], 1);
    ck_assert_float_eq(d->x[2], 0.25f);
    adj_dataset_free(d);
    /* gzipped */
    const char *txt = "f,y\n1,0\n2,1\n";
    write_gz(path("c.csv.gz"), txt, strlen(txt));
    ck_assert_int_eq(adj_csv_read(path("c.csv.gz"), "y", &d, &err), ADJ_OK);
    ck_assert_uint_eq(d->rows, 2);
    adj_dataset_free(d);
    /* errors */
    ck_assert_int_eq(adj_csv_read(path("a.csv"), "nope", &d, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "nope"));
    write_text(path("bad1.csv"), "a,b,y\n1,2,0\n1,x,1\n");
    ck_assert_int_eq(adj_csv_read(path("bad1.csv"), "y", &d, &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, ":3:"));
    ck_assert_ptr_nonnull(strstr(err.message, "not a number"));
    write_text(path("bad2.csv"), "a,b,y\n1,2,0\n1,1\n");
    ck_assert_int_eq(adj_csv_read(path("bad2.csv"), "y", &d, &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "fields"));
    write_text(path("bad3.csv"), "a,y\n1,0.5\n");
    ck_assert_int_eq(adj_csv_read(path("bad3.csv"), "y", &d, &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "label"));
    write_text(path("bad4.csv"), "a,y\n");
    ck_assert_int_eq(adj_csv_read(path("bad4.csv"), "y", &d, &err), ADJ_EFORMAT);
    write_text(path("bad5.csv"), "");
    ck_assert_int_eq(adj_csv_read(path("bad5.csv"), "y", &d, &err), ADJ_EFORMAT);
    ck_assert_ptr_null(d);
    write_bytes(path("bad6.csv"), "a,y\n1,\0", 7);
    ck_assert_int_eq(adj_csv_read(path("bad6.csv"), "y", &d, &err), ADJ_EFORMAT);
    ck_assert_int_eq(adj_csv_read(path("none.csv"), "y", &d, &err), ADJ_EIO);
    remove_dir();
}
END_TEST

START_TEST(standardise_and_split)
{
    adj_dataset *d = adj_dataset_new(100, 2);
    for (size_t r = 0; r < 100; r++) {
        d->x[2 * r] = (float)r; /* mean 49.5, population sd sqrt(833.25) */
        d->x[2 * r + 1] = 5.0f; /* constant: sd 0 */
        d->y[r] = (int32_t)(r % 4);
    }
    d->classes = 4;
    double mean[2], sd[2];
    adj_dataset_stats(d, mean, sd);
    ck_assert_double_eq_tol(mean[0], 49.5, 1e-12);
    ck_assert_double_eq_tol(sd[0], sqrt(833.25), 1e-9);
    ck_assert_double_eq_tol(sd[1], 0, 1e-12);
    adj_dataset *tr, *va, *tr2, *va2;
    ck_assert_int_eq(adj_dataset_split(d, 0.25, 9, &tr, &va, NULL), ADJ_OK);
    ck_assert_uint_eq(tr->rows, 75);
    ck_assert_uint_eq(va->rows, 25);
    /* a partition of the rows: each original row once */
    int seen[100] = {0};
    for (size_t i = 0; i < 75; i++)
        seen[(int)tr->x[2 * i]]++;
    for (size_t i = 0; i < 25; i++)
        seen[(int)va->x[2 * i]]++;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_eq(tr->y[3], (int)tr->x[6] % 4);
    /* the same seed, the same split */
    ck_assert_int_eq(adj_dataset_split(d, 0.25, 9, &tr2, &va2, NULL), ADJ_OK);
    ck_assert_int_eq(memcmp(va->x, va2->x, 25 * 2 * sizeof(float)), 0);
    adj_dataset_standardize(d, mean, sd);
    ck_assert_float_eq_tol(d->x[0], (float)(-49.5 / sqrt(833.25)), 1e-6f);
    ck_assert_float_eq_tol(d->x[1], 0.0f, 1e-6f);
    adj_dataset_free(tr);
    adj_dataset_free(va);
    adj_dataset_free(tr2);
    adj_dataset_free(va2);
    ck_assert_int_eq(adj_dataset_split(d, 2, 9, &tr, &va, NULL), ADJ_EINVAL);
    ck_assert_ptr_null(tr);
    adj_dataset_free(d);
}
END_TEST

START_TEST(batch_iterator)
{
    adj_dataset *d = adj_dataset_new(10, 1);
    for (size_t r = 0; r < 10; r++) {
        d->x[r] = (float)r;
        d->y[r] = (int32_t)r;
    }
    adj_batcher *b = adj_batcher_new(d, 4, 1, 3), *b2 = adj_batcher_new(d, 4, 1, 3);
    ck_assert_uint_eq(adj_batcher_count(b), 3);
    int first[10];
    for (int epoch = 0; epoch < 2; epoch++) {
        int seen[10] = {0}, k = 0;
        const float *x;
        const int32_t *y;
        size_t n, sizes[4] = {0}, nb = 0;
        if (epoch)
            adj_batcher_epoch(b);
        while ((n = adj_batcher_next(b, &x, &y)) > 0) {
            sizes[nb++] = n;
            for (size_t i = 0; i < n; i++) {
                ck_assert_int_eq((int)x[i], y[i]);
                seen[y[i]]++;
                if (epoch == 0)
                    first[k] = y[i];
                k++;
            }
        }
        ck_assert_uint_eq(nb, 3);
        ck_assert_uint_eq(sizes[0], 4);
        ck_assert_uint_eq(sizes[2], 2);
        for (int i = 0; i < 10; i++)
            ck_assert_int_eq(seen[i], 1);
    }
    /* the same seed gives the same order */
    const float *x;
    const int32_t *y;
    adj_batcher_next(b2, &x, &y);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(y[i], first[i]);
    int shuffled = 0;
    for (int i = 0; i < 10; i++)
        shuffled |= first[i] != i;
    ck_assert(shuffled);
    adj_batcher_free(b);
    adj_batcher_free(b2);
    /* without shuffling: in order */
    b = adj_batcher_new(d, 3, 0, 0);
    adj_batcher_next(b, &x, &y);
    ck_assert_int_eq(y[0], 0);
    ck_assert_int_eq(y[2], 2);
    adj_batcher_free(b);
    ck_assert_ptr_null(adj_batcher_new(d, 0, 0, 0));
    adj_dataset_free(d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("io");
    tcase_add_test(tc, idx_plain_and_gz);
    tcase_add_test(tc, idx_bad_files);
    tcase_add_test(tc, idx_dataset);
    tcase_add_test(tc, csv_reader);
    tcase_add_test(tc, standardise_and_split);
    tcase_add_test(tc, batch_iterator);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
