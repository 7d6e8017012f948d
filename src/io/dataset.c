/*
 * Classification data sets in memory, their normalisation and splitting,
 * and the mini-batch iterator.
 */
#include "io/io_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

adj_dataset *adj_dataset_new(size_t rows, size_t cols)
{
    if (cols && rows > SIZE_MAX / sizeof(float) / cols)
        return NULL;
    adj_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->rows = rows;
    d->cols = cols;
    d->classes = 1;
    size_t n = rows * cols;
    d->x = calloc(n ? n : 1, sizeof *d->x);
    d->y = calloc(rows ? rows : 1, sizeof *d->y);
    if (!d->x || !d->y) {
        adj_dataset_free(d);
        return NULL;
    }
    return d;
}

void adj_dataset_free(adj_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    free(d);
}

adj_status adj_dataset_from_idx(const char *images, const char *labels, adj_dataset **out,
                                adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_dataset_from_idx: NULL output");
    *out = NULL;
    if (adj_io_path_ok("adj_dataset_from_idx", "images path", images, err) != ADJ_OK ||
        adj_io_path_ok("adj_dataset_from_idx", "labels path", labels, err) != ADJ_OK)
        return ADJ_EINVAL;
    adj_idx *im = NULL, *lb = NULL;
    adj_status st = adj_idx_read(images, &im, err);
    if (st == ADJ_OK)
        st = adj_idx_read(labels, &lb, err);
    if (st != ADJ_OK)
        goto done;
    if (lb->ndim != 1 || lb->dims[0] != im->dims[0]) {
        st = adj_err_set(err, ADJ_EFORMAT, "%s: %lld labels (%d-D) for %lld images in %s", labels,
                         (long long)lb->dims[0], lb->ndim, (long long)im->dims[0], images);
        goto done;
    }
    size_t rows = (size_t)im->dims[0];
    size_t cols = rows ? im->numel / rows : 0;
    adj_dataset *d = adj_dataset_new(rows, cols);
    if (!d) {
        st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", images);
        goto done;
    }
    if (im->type == ADJ_IDX_U8) {
        const uint8_t *s = im->data;
        for (size_t i = 0; i < im->numel; i++)
            d->x[i] = (float)s[i];
    } else {
        for (size_t i = 0; i < im->numel; i++) {
            double v = adj_idx_get(im, i);
            d->x[i] = (float)v;
            if (!isfinite(d->x[i])) {
                adj_dataset_free(d);
                st = adj_err_set(err, ADJ_EFORMAT,
                                 "%s: image %zu, element %zu is %g: %s (features must be finite "
                                 "floats)",
                                 images, i / cols, i % cols, v,
                                 isfinite(v) ? "beyond the float range" : "not finite");
                goto done;
            }
        }
    }
    int maxl = 0;
    for (size_t i = 0; i < rows; i++) {
        double v = adj_idx_get(lb, i);
        if (!(v >= 0 && v < 65536) || v != floor(v)) {
            adj_dataset_free(d);
            st = adj_err_set(err, ADJ_EFORMAT,
                             "%s: label %zu is %g (need an integer in [0, 65536))", labels, i, v);
            goto done;
        }
        d->y[i] = (int32_t)v;
        if (d->y[i] > maxl)
            maxl = d->y[i];
    }
    d->classes = maxl + 1;
    *out = d;
    adj_err_clear(err);
done:
    adj_idx_free(im);
    adj_idx_free(lb);
    return st;
}

/* dir/name, or dir/name.gz if only that exists */
static void find_file(char *buf, size_t size, const char *dir, const char *name)
{
    struct stat sb;
    snprintf(buf, size, "%s/%s", dir, name);
    if (stat(buf, &sb) == 0)
        return;
    snprintf(buf, size, "%s/%s.gz", dir, name);
    if (stat(buf, &sb) != 0)
        snprintf(buf, size, "%s/%s", dir, name);
}

adj_status adj_dataset_load_idx(const char *dir, const char *split, adj_dataset **out,
                                adj_error *err)
{
    if (out)
        *out = NULL;
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_dataset_load_idx: NULL output");
    if (adj_io_path_ok("adj_dataset_load_idx", "directory", dir, err) != ADJ_OK ||
        adj_io_path_ok("adj_dataset_load_idx", "split (\"train\" or \"t10k\")", split, err) != ADJ_OK)
        return ADJ_EINVAL;
    char im[1024], lb[1024], n1[128], n2[128];
    if (strlen(dir) > sizeof im - sizeof n1 - 8 || strlen(split) > sizeof n1 - 32)
        return adj_err_set(err, ADJ_EINVAL, "adj_dataset_load_idx: %s too long (%zu bytes)",
                           strlen(split) > sizeof n1 - 32 ? "split name" : "directory name",
                           strlen(split) > sizeof n1 - 32 ? strlen(split) : strlen(dir));
    snprintf(n1, sizeof n1, "%s-images-idx3-ubyte", split);
    snprintf(n2, sizeof n2, "%s-labels-idx1-ubyte", split);
    find_file(im, sizeof im, dir, n1);
    find_file(lb, sizeof lb, dir, n2);
    return adj_dataset_from_idx(im, lb, out, err);
}

/* ---------------------------------------------------------- normalisation */

void adj_dataset_range(const adj_dataset *d, double *lo, double *hi)
{
    double a = 0, b = 0;
    size_t n = d ? d->rows * d->cols : 0;
    if (n) {
        a = b = d->x[0];
        for (size_t i = 1; i < n; i++) {
            if (d->x[i] < a)
                a = d->x[i];
            if (d->x[i] > b)
                b = d->x[i];
        }
    }
    if (lo)
        *lo = a;
    if (hi)
        *hi = b;
}

void adj_dataset_scale(adj_dataset *d, double lo, double hi)
{
    if (!d)
        return;
    double k = hi > lo ? 1.0 / (hi - lo) : 1.0;
    size_t n = d->rows * d->cols;
    for (size_t i = 0; i < n; i++)
        d->x[i] = (float)((d->x[i] - lo) * k);
}

void adj_dataset_stats(const adj_dataset *d, double *mean, double *sd)
{
    if (!d || !mean || !sd)
        return;
    for (size_t j = 0; j < d->cols; j++) {
        double s = 0, s2 = 0;
        for (size_t r = 0; r < d->rows; r++)
            s += d->x[r * d->cols + j];
        double m = d->rows ? s / (double)d->rows : 0;
        for (size_t r = 0; r < d->rows; r++) {
            double e = d->x[r * d->cols + j] - m;
            s2 += e * e;
        }
        mean[j] = m;
        sd[j] = d->rows ? sqrt(s2 / (double)d->rows) : 0;
    }
}

void adj_dataset_standardize(adj_dataset *d, const double *mean, const double *sd)
{
    if (!d || !mean || !sd)
        return;
    for (size_t r = 0; r < d->rows; r++)
        for (size_t j = 0; j < d->cols; j++) {
            double s = sd[j] > 0 ? sd[j] : 1.0;
            float *x = &d->x[r * d->cols + j];
            *x = (float)((*x - mean[j]) / s);
        }
}

static void copy_row(adj_dataset *dst, size_t i, const adj_dataset *src, size_t j)
{
    memcpy(dst->x + i * dst->cols, src->x + j * src->cols, src->cols * sizeof(float));
    dst->y[i] = src->y[j];
}

adj_status adj_dataset_split(const adj_dataset *d, double frac, uint64_t seed, adj_dataset **train,
                             adj_dataset **val, adj_error *err)
{
    if (train)
        *train = NULL;
    if (val)
        *val = NULL;
    if (!d || !train || !val || !(frac >= 0 && frac <= 1))
        return adj_err_set(err, ADJ_EINVAL, "adj_dataset_split: %s",
                           d && train && val ? "fraction not in [0, 1]" : "NULL argument");
    size_t nv = (size_t)floor(frac * (double)d->rows + 0.5);
    size_t nt = d->rows - nv;
    size_t *idx = malloc((d->rows ? d->rows : 1) * sizeof *idx);
    adj_dataset *a = adj_dataset_new(nt, d->cols), *b = adj_dataset_new(nv, d->cols);
    if (!idx || !a || !b) {
        free(idx);
        adj_dataset_free(a);
        adj_dataset_free(b);
        return adj_err_set(err, ADJ_ENOMEM, "adj_dataset_split: out of memory");
    }
    for (size_t i = 0; i < d->rows; i++)
        idx[i] = i;
    adj_rng r;
    adj_rng_seed(&r, seed);
    adj_rng_shuffle(&r, idx, d->rows);
    for (size_t i = 0; i < nv; i++)
        copy_row(b, i, d, idx[i]);
    for (size_t i = 0; i < nt; i++)
        copy_row(a, i, d, idx[nv + i]);
    a->classes = b->classes = d->classes;
    free(idx);
    *train = a;
    *val = b;
    adj_err_clear(err);
    return ADJ_OK;
}

/* --------------------------------------------------------- batch iterator */

struct adj_batcher {
    const adj_dataset *d;
    size_t batch, pos;
    int shuffle;
    adj_rng rng;
    size_t *order;
    float *x;
    int32_t *y;
};

adj_batcher *adj_batcher_new(const adj_dataset *d, size_t batch, int shuffle, uint64_t seed)
{
    if (!d || batch == 0 || d->rows == 0)
        return NULL;
    if (batch > d->rows)
        batch = d->rows;
    adj_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->d = d;
    b->batch = batch;
    b->shuffle = shuffle;
    adj_rng_seed(&b->rng, seed);
    b->order = malloc(d->rows * sizeof *b->order);
    b->x = malloc(batch * (d->cols ? d->cols : 1) * sizeof *b->x);
    b->y = malloc(batch * sizeof *b->y);
    if (!b->order || !b->x || !b->y) {
        adj_batcher_free(b);
        return NULL;
    }
    for (size_t i = 0; i < d->rows; i++)
        b->order[i] = i;
    adj_batcher_epoch(b);
    return b;
}

void adj_batcher_free(adj_batcher *b)
{
    if (!b)
        return;
    free(b->order);
    free(b->x);
    free(b->y);
    free(b);
}

void adj_batcher_epoch(adj_batcher *b)
{
    if (!b)
        return;
    b->pos = 0;
    if (b->shuffle)
        adj_rng_shuffle(&b->rng, b->order, b->d->rows);
}

size_t adj_batcher_next(adj_batcher *b, const float **x, const int32_t **y)
{
    if (!b || b->pos >= b->d->rows)
        return 0;
    size_t n = b->d->rows - b->pos < b->batch ? b->d->rows - b->pos : b->batch;
    size_t cols = b->d->cols;
    for (size_t i = 0; i < n; i++) {
        size_t r = b->order[b->pos + i];
        memcpy(b->x + i * cols, b->d->x + r * cols, cols * sizeof(float));
        b->y[i] = b->d->y[r];
    }
    b->pos += n;
    if (x)
        *x = b->x;
    if (y)
        *y = b->y;
    return n;
}

size_t adj_batcher_count(const adj_batcher *b)
{
    return b ? (b->d->rows + b->batch - 1) / b->batch : 0;
}
