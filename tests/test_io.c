/*
 * Data readers (src/io): IDX plain and gzipped, CSV, normalisation,
 * splitting and the batch iterator, on small files the tests write
 * themselves, including truncated and corrupt ones; readers bounded by
 * their headers, non-finite features, and atomic writes that refuse
 * anything but regular files.
 */
#define _XOPEN_SOURCE 700 /* mknod, S_IFCHR */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

/* ------------------------------------------------ bounded reading, writes */

/* Peak resident memory of this process so far, in MiB. */
static double peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* A sparse file of n zero bytes after `head` (costs no disk). */
static void write_sparse(const char *p, const void *head, size_t hn, off_t n)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(head, 1, hn, f), hn);
    ck_assert_int_eq(fflush(f), 0);
    ck_assert_int_eq(ftruncate(fileno(f), (off_t)hn + n), 0);
    fclose(f);
}

#define BIG ((off_t)256 << 20) /* 256 MiB of zeros: far above any bound below */

START_TEST(model_reader_checks_header_first)
{
    make_dir();
    double before = peak_mib();
    adj_mlp *m = (adj_mlp *)1;
    adj_error err;
    /* zeros: refused at the magic, after reading 20 bytes */
    write_sparse(path("zeros"), "", 0, BIG);
    ck_assert_int_eq(adj_model_load(path("zeros"), &m, &err), ADJ_EFORMAT);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(err.message, "bad magic"));
    /* a valid head declaring 40 payload bytes, then 256 MiB: trailing bytes,
     * found after reading what the header declares and one byte more */
    unsigned char head[20] = {'A', 'D', 'J', 'M', 'O', 'D', 'E', 'L', 1, 0, 0, 0, 40};
    write_sparse(path("long"), head, sizeof head, BIG);
    ck_assert_int_eq(adj_model_load(path("long"), &m, &err), ADJ_EFORMAT);
    ck_assert_msg(strstr(err.message, "trailing bytes"), "%s", err.message);
    /* a head declaring more than the file holds: truncated, nothing big allocated */
    unsigned char huge[20] = {'A', 'D', 'J', 'M', 'O', 'D', 'E', 'L', 1, 0, 0, 0, 0, 0, 0, 0, 3};
    write_sparse(path("claims"), huge, sizeof huge, 100);
    ck_assert_int_eq(adj_model_load(path("claims"), &m, &err), ADJ_EFORMAT);
    ck_assert_msg(strstr(err.message, "truncated"), "%s", err.message);
    /* a head declaring more than any model file may be */
    huge[16] = 0xff;
    write_sparse(path("toobig"), huge, sizeof huge, 100);
    ck_assert_int_eq(adj_model_load(path("toobig"), &m, &err), ADJ_EFORMAT);
    ck_assert_msg(strstr(err.message, "declares"), "%s", err.message);
    double grew = peak_mib() - before;
    ck_assert_msg(grew < 16, "reading refused model files took %.0f MiB", grew);
    remove_dir();
}
END_TEST

START_TEST(idx_reader_inflates_no_more_than_declared)
{
    make_dir();
    /* a 1 x 10 byte array followed by 256 MiB of zeros, gzipped (about
     * 256 kB): a gzip bomb whose header bounds the data to 10 bytes */
    const unsigned char head[] = {0, 0, 0x08, 2, 0, 0, 0, 1, 0, 0, 0, 10};
    gzFile g = gzopen(path("bomb.gz"), "wb9");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, head, sizeof head), (int)sizeof head);
    static unsigned char zeros[1 << 20];
    for (off_t k = 0; k < BIG; k += (off_t)sizeof zeros)
        ck_assert_int_eq(gzwrite(g, zeros, sizeof zeros), (int)sizeof zeros);
    gzclose(g);
    write_sparse(path("bomb"), head, sizeof head, BIG);
    double before = peak_mib();
    for (int gz = 0; gz < 2; gz++) {
        adj_idx *a = (adj_idx *)1;
        adj_error err;
        ck_assert_int_eq(adj_idx_read(path(gz ? "bomb.gz" : "bomb"), &a, &err), ADJ_EFORMAT);
        ck_assert_ptr_null(a);
        ck_assert_msg(strstr(err.message, "trailing bytes") && strstr(err.message, "10 data bytes"),
                      "%s", err.message);
    }
    double grew = peak_mib() - before;
    ck_assert_msg(grew < 16, "reading a 10-byte array followed by 256 MiB took %.0f MiB", grew);
    /* the same array without the tail reads */
    unsigned char ok[sizeof head + 10] = {0};
    memcpy(ok, head, sizeof head);
    ok[sizeof head + 9] = 7;
    write_gz(path("ok.gz"), ok, sizeof ok);
    adj_idx *a;
    ck_assert_int_eq(adj_idx_read(path("ok.gz"), &a, NULL), ADJ_OK);
    ck_assert_double_eq(adj_idx_get(a, 9), 7);
    adj_idx_free(a);
    remove_dir();
}
END_TEST

/* CSV cells and IDX elements that are not finite floats are refused,
 * naming the file, the line or image, and the column. */
START_TEST(non_finite_features_rejected)
{
    make_dir();
    static const struct {
        const char *cell, *why;
    } cells[] = {
        {"1e300", "beyond the float range"}, {"-4e38", "beyond the float range"},
        {"inf", "not finite"},               {"-Infinity", "not finite"},
        {"nan", "not finite"},               {"1e999", "not finite"},
    };
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, "a,width,y\n1,2,0\n3,%s,1\n", cells[i].cell);
        write_text(path("nf.csv"), text);
        adj_dataset *d = (adj_dataset *)1;
        adj_error err;
        ck_assert_int_eq(adj_csv_read(path("nf.csv"), "y", &d, &err), ADJ_EFORMAT);
        ck_assert_ptr_null(d);
        ck_assert_msg(strstr(err.message, "nf.csv:3:") && strstr(err.message, "column 2") &&
                          strstr(err.message, "'width'") && strstr(err.message, cells[i].why),
                      "%s: %s", cells[i].cell, err.message);
    }
    /* the largest float and a tiny number that rounds to 0 are fine */
    write_text(path("ok.csv"), "a,y\n3.4e38,0\n1e-60,1\n");
    adj_dataset *d;
    ck_assert_int_eq(adj_csv_read(path("ok.csv"), "y", &d, NULL), ADJ_OK);
    ck_assert(isfinite(d->x[0]) && d->x[1] == 0.0f);
    adj_dataset_free(d);
    /* float and double images holding NaN, Inf or 1e300 */
    const unsigned char labels[] = {0, 0, 0x08, 1, 0, 0, 0, 2, 0, 1};
    write_bytes(path("lab"), labels, sizeof labels);
    const float fbad[2] = {NAN, INFINITY};
    const double dbad[1] = {1e300};
    for (int k = 0; k < 3; k++) {
        float fv[6] = {0, 1, 2, 3, 4, 5};
        double dv[6] = {0, 1, 2, 3, 4, 5};
        int f64 = k == 2;
        if (f64)
            dv[4] = dbad[0];
        else
            fv[4] = fbad[k];
        const int64_t dims[3] = {2, 1, 3};
        ck_assert_int_eq(adj_idx_write(path("img"), f64 ? ADJ_IDX_F64 : ADJ_IDX_F32, 3, dims,
                                       f64 ? (const void *)dv : (const void *)fv, k == 1, NULL),
                         ADJ_OK);
        adj_error err;
        ck_assert_int_eq(adj_dataset_from_idx(path("img"), path("lab"), &d, &err), ADJ_EFORMAT);
        ck_assert_ptr_null(d);
        ck_assert_msg(strstr(err.message, "img") && strstr(err.message, "image 1, element 1") &&
                          strstr(err.message, f64 ? "beyond the float range" : "not finite"),
                      "%s", err.message);
    }
    remove_dir();
}
END_TEST

static int is_fifo(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0 && S_ISFIFO(sb.st_mode);
}

static size_t file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (size_t)sb.st_size : (size_t)-1;
}

/* Writes replace regular files (and write through symlinks to them) and
 * refuse anything else, leaving it as it was. */
START_TEST(writes_refuse_non_regular_files)
{
    make_dir();
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_mlp_config c = adj_mlp_config_default();
    adj_mlp_config_set_sizes(&c, 2, (int64_t[]){3, 2}, ADJ_ACT_RELU);
    adj_mlp *m = adj_mlp_new(&c, &rng, NULL);
    ck_assert_ptr_nonnull(m);
    adj_error err;
    const int64_t dims[1] = {3};
    const unsigned char v[3] = {1, 2, 3};
    /* a FIFO (opening it to write would block; replacing it would lose it) */
    ck_assert_int_eq(mkfifo(path("fifo"), 0644), 0);
    ck_assert_int_eq(adj_model_save(m, path("fifo"), &err), ADJ_EIO);
    ck_assert_msg(strstr(err.message, "fifo is a FIFO"), "%s", err.message);
    ck_assert_int_eq(adj_idx_write(path("fifo"), ADJ_IDX_U8, 1, dims, v, 0, &err), ADJ_EIO);
    ck_assert_int_eq(adj_file_write(path("fifo"), "x", 1, &err), ADJ_EIO);
    ck_assert(is_fifo(path("fifo")));
    /* a directory */
    ck_assert_int_eq(mkdir(path("d"), 0755), 0);
    ck_assert_int_eq(adj_file_write(path("d"), "x", 1, &err), ADJ_EIO);
    ck_assert_msg(strstr(err.message, "is a directory"), "%s", err.message);
    /* a device node, where the process may make one (root) */
    if (mknod(path("null"), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        ck_assert_int_eq(adj_model_save(m, path("null"), &err), ADJ_EIO);
        ck_assert_msg(strstr(err.message, "character device"), "%s", err.message);
        struct stat sb;
        ck_assert_int_eq(lstat(path("null"), &sb), 0);
        ck_assert(S_ISCHR(sb.st_mode));
    }
    ck_assert_int_eq(adj_file_write("/dev/full", "x", 1, &err), ADJ_EIO);
    ck_assert_msg(strstr(err.message, "/dev/full is a character device"), "%s", err.message);
    /* a symlink to a regular file: the target is replaced, the link stays */
    write_text(path("target"), "old");
    ck_assert_int_eq(symlink("target", path("link")), 0);
    ck_assert_int_eq(adj_file_write(path("link"), "new!", 4, &err), ADJ_OK);
    char buf[16] = "";
    ck_assert_int_eq(readlink(path("link"), buf, sizeof buf - 1), 6);
    ck_assert_uint_eq(file_size(path("target")), 4);
    ck_assert_int_eq(adj_model_save(m, path("link"), &err), ADJ_OK);
    adj_mlp *back;
    ck_assert_int_eq(adj_model_load(path("target"), &back, &err), ADJ_OK);
    adj_mlp_free(back);
    /* adj_model_encode gives the bytes adj_model_save writes */
    void *enc = (void *)1;
    size_t n = 1;
    ck_assert_int_eq(adj_model_encode(NULL, &enc, &n, &err), ADJ_EINVAL);
    ck_assert_ptr_null(enc);
    ck_assert_int_eq(adj_model_encode(m, NULL, &n, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_model_encode(m, &enc, NULL, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_model_encode(m, &enc, &n, &err), ADJ_OK);
    ck_assert_uint_eq(n, file_size(path("target")));
    FILE *tf = fopen(path("target"), "rb");
    unsigned char *disk = malloc(n);
    ck_assert_uint_eq(fread(disk, 1, n, tf), n);
    fclose(tf);
    ck_assert_int_eq(memcmp(disk, enc, n), 0);
    free(disk);
    free(enc);
    /* a symlink to nothing, and to a FIFO */
    ck_assert_int_eq(symlink("nowhere", path("dangling")), 0);
    ck_assert_int_eq(adj_file_write(path("dangling"), "x", 1, &err), ADJ_EIO);
    ck_assert_msg(strstr(err.message, "missing file"), "%s", err.message);
    ck_assert_int_eq(symlink("fifo", path("tofifo")), 0);
    ck_assert_int_eq(adj_file_write(path("tofifo"), "x", 1, &err), ADJ_EIO);
    ck_assert(is_fifo(path("fifo")));
    /* an existing file keeps its permission bits */
    ck_assert_int_eq(chmod(path("target"), 0600), 0);
    ck_assert_int_eq(adj_file_write(path("target"), "again", 5, &err), ADJ_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path("target"), &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    adj_mlp_free(m);
    remove_dir();
}
END_TEST

/* A set of files is replaced together: when the disk fills up (here a
 * file-size limit, RLIMIT_FSIZE) while the last one is written, every
 * target keeps its old content and no temporary file is left. */
START_TEST(file_set_all_or_nothing)
{
    make_dir();
    const char *paths[3] = {path("a"), path("b"), path("c")};
    write_text(paths[0], "old a");
    write_text(paths[1], "old b");
    static char big[8192];
    memset(big, 'x', sizeof big);
    const void *bytes[3] = {"new a", "new b", big};
    size_t sizes[3] = {5, 5, sizeof big};
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    adj_error err;
    adj_status s = adj_files_write(3, paths, bytes, sizes, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ck_assert_int_eq(s, ADJ_EIO);
    ck_assert_msg(strstr(err.message, "/c: write failed"), "%s", err.message);
    ck_assert_uint_eq(file_size(paths[0]), 5);
    FILE *f = fopen(paths[0], "r");
    char got[8] = "";
    ck_assert_uint_eq(fread(got, 1, 5, f), 5);
    fclose(f);
    ck_assert_str_eq(got, "old a");
    ck_assert_uint_eq(file_size(paths[2]), (size_t)-1);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 2", dir);
    ck_assert_int_eq(system(cmd), 0);
    /* without the limit the set is written */
    ck_assert_int_eq(adj_files_write(3, paths, bytes, sizes, &err), ADJ_OK);
    ck_assert_uint_eq(file_size(paths[1]), 5);
    ck_assert_uint_eq(file_size(paths[2]), sizeof big);
    /* misuse */
    ck_assert_int_eq(adj_files_write(0, paths, bytes, sizes, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_file_write(NULL, "x", 1, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_file_write(paths[0], NULL, 1, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_file_write("", "x", 1, &err), ADJ_EINVAL);
    /* dimensions whose product overflows are refused, not wrapped */
    const int64_t huge[3] = {4294967295LL, 4294967295LL, 4294967295LL};
    ck_assert_int_eq(adj_idx_write(paths[0], ADJ_IDX_U8, 3, huge, big, 0, &err), ADJ_EINVAL);
    ck_assert_msg(strstr(err.message, "overflow"), "%s", err.message);
    remove_dir();
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
    tcase_add_test(tc, model_reader_checks_header_first);
    tcase_add_test(tc, idx_reader_inflates_no_more_than_declared);
    tcase_add_test(tc, non_finite_features_rejected);
    tcase_add_test(tc, writes_refuse_non_regular_files);
    tcase_add_test(tc, file_set_all_or_nothing);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
