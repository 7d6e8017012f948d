/*
 * Corpora for language models (include/adjoint/text.h): byte-level text
 * split by lines, uint16 token files, (B, T) windows.
 */
#include "io/io_internal.h"
#include "adjoint/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The whole file (at most ADJ_CORPUS_MAX_BYTES) from malloc. */
static adj_status slurp(const char *fn, const char *path, unsigned char **out, size_t *n,
                        adj_error *err)
{
    adj_status s = adj_io_path_ok(fn, "path", path, err);
    if (s != ADJ_OK)
        return s;
    FILE *f = fopen(path, "rb");
    if (!f)
        return adj_err_set(err, ADJ_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return adj_err_set(err, ADJ_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > ADJ_CORPUS_MAX_BYTES || sb.st_size == 0) {
        fclose(f);
        return adj_err_set(err, ADJ_EFORMAT, "%s: %lld bytes (a corpus holds 1 to %zu)", path,
                           (long long)sb.st_size, ADJ_CORPUS_MAX_BYTES);
    }
    size_t len = (size_t)sb.st_size;
    unsigned char *b = malloc(len);
    if (!b) {
        fclose(f);
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for %zu bytes", path, len);
    }
    size_t got = fread(b, 1, len, f);
    fclose(f);
    if (got != len) {
        free(b);
        return adj_err_set(err, ADJ_EIO, "%s: read %zu of %zu bytes", path, got, len);
    }
    *out = b;
    *n = len;
    return ADJ_OK;
}

void adj_corpus_free(adj_corpus *c)
{
    if (!c)
        return;
    free(c->train);
    free(c->val);
    free(c);
}

static adj_corpus *alloc_parts(size_t nt, size_t nv)
{
    adj_corpus *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->train = malloc((nt ? nt : 1) * sizeof *c->train);
    c->val = malloc((nv ? nv : 1) * sizeof *c->val);
    if (!c->train || !c->val) {
        adj_corpus_free(c);
        return NULL;
    }
    return c;
}

adj_status adj_corpus_text(const char *path, double val_frac, uint64_t seed, adj_corpus **out,
                           adj_error *err)
{
    static const char *fn = "adj_corpus_text";
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "%s: NULL out", fn);
    *out = NULL;
    if (!(val_frac >= 0 && val_frac < 1))
        return adj_err_set(err, ADJ_EINVAL, "%s: val_frac %g is not in [0, 1)", fn, val_frac);
    unsigned char *b;
    size_t n;
    adj_status s = slurp(fn, path, &b, &n, err);
    if (s != ADJ_OK)
        return s;
    /* lines: [start[i], start[i + 1]) with their newlines */
    size_t lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += b[i] == '\n' || i == n - 1;
    size_t *start = malloc((lines + 1) * sizeof *start), *order = malloc((lines + 1) * sizeof *order);
    unsigned char *isval = calloc(lines + 1, 1);
    adj_corpus *c = NULL;
    if (!start || !order || !isval) {
        s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t k = 0;
    start[k++] = 0;
    for (size_t i = 0; i < n && k < lines; i++)
        if (b[i] == '\n')
            start[k++] = i + 1;
    start[lines] = n;
    size_t nv = 0;
    if (lines >= 2) {
        size_t want = (size_t)(val_frac * (double)lines + 0.5);
        if (want < 1 && val_frac > 0)
            want = 1;
        if (want >= lines)
            want = lines - 1;
        for (size_t i = 0; i < lines; i++)
            order[i] = i;
        adj_rng rng;
        adj_rng_seed(&rng, seed);
        adj_rng_shuffle(&rng, order, lines);
        for (size_t i = 0; i < want; i++)
            isval[order[i]] = 1;
        for (size_t i = 0; i < lines; i++)
            nv += isval[i] ? start[i + 1] - start[i] : 0;
    } else {
        nv = (size_t)(val_frac * (double)n);
    }
    if (!(c = alloc_parts(n - nv, nv))) {
        s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    int id[256];
    for (int v = 0; v < 256; v++)
        id[v] = -1;
    for (size_t i = 0; i < n; i++)
        id[b[i]] = 0;
    for (int v = 0; v < 256; v++)
        if (id[v] == 0) {
            id[v] = c->nchars;
            c->chars[c->nchars++] = (unsigned char)v;
        }
    c->vocab = c->nchars;
    if (lines >= 2) {
        for (size_t i = 0; i < lines; i++)
            for (size_t j = start[i]; j < start[i + 1]; j++) {
                if (isval[i])
                    c->val[c->n_val++] = id[b[j]];
                else
                    c->train[c->n_train++] = id[b[j]];
            }
    } else {
        for (size_t j = 0; j < n; j++) {
            if (j < n - nv)
                c->train[c->n_train++] = id[b[j]];
            else
                c->val[c->n_val++] = id[b[j]];
        }
    }
    *out = c;
    c = NULL;
    adj_err_clear(err);
done:
    adj_corpus_free(c);
    free(start);
    free(order);
    free(isval);
    free(b);
    return s;
}

adj_status adj_corpus_tokens(const char *path, double val_frac, adj_corpus **out, adj_error *err)
{
    static const char *fn = "adj_corpus_tokens";
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "%s: NULL out", fn);
    *out = NULL;
    if (!(val_frac >= 0 && val_frac < 1))
        return adj_err_set(err, ADJ_EINVAL, "%s: val_frac %g is not in [0, 1)", fn, val_frac);
    unsigned char *b;
    size_t n;
    adj_status s = slurp(fn, path, &b, &n, err);
    if (s != ADJ_OK)
        return s;
    if (n % 2) {
        free(b);
        return adj_err_set(err, ADJ_EFORMAT, "%s: %zu bytes, not a whole number of uint16 ids", path, n);
    }
    size_t ids = n / 2, nv = (size_t)(val_frac * (double)ids);
    adj_corpus *c = alloc_parts(ids - nv, nv);
    if (!c) {
        free(b);
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < ids; i++) {
        int32_t v = b[2 * i] | b[2 * i + 1] << 8;
        if (v + 1 > c->vocab)
            c->vocab = v + 1;
        if (i < ids - nv)
            c->train[c->n_train++] = v;
        else
            c->val[c->n_val++] = v;
    }
    free(b);
    *out = c;
    adj_err_clear(err);
    return ADJ_OK;
}

adj_status adj_corpus_encode(const adj_corpus *c, const char *text, size_t len, int32_t *ids,
                             adj_error *err)
{
    if (!c || (len && (!text || !ids)))
        return adj_err_set(err, ADJ_EINVAL, "adj_corpus_encode: NULL %s", !c ? "corpus" : !text ? "text" : "ids");
    if (!c->nchars)
        return adj_err_set(err, ADJ_EINVAL, "adj_corpus_encode: the corpus has no text vocabulary");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        int found = -1;
        for (int v = 0; v < c->nchars && found < 0; v++)
            if (c->chars[v] == ch)
                found = v;
        if (found < 0)
            return adj_err_set(err, ADJ_EINVAL, "adj_corpus_encode: byte 0x%02x at %zu is not in the vocabulary",
                               ch, i);
        ids[i] = found;
    }
    adj_err_clear(err);
    return ADJ_OK;
}

adj_status adj_corpus_batch(const adj_corpus *c, int split, size_t batch, size_t T, adj_rng *rng,
                            int32_t *x, int32_t *y, adj_error *err)
{
    static const char *fn = "adj_corpus_batch";
    if (!c || !rng || !x || !y)
        return adj_err_set(err, ADJ_EINVAL, "%s: NULL %s", fn, !c ? "corpus" : !rng ? "rng" : !x ? "x" : "y");
    if (split != 0 && split != 1)
        return adj_err_set(err, ADJ_EINVAL, "%s: split %d (0 train, 1 validation)", fn, split);
    size_t n = split ? c->n_val : c->n_train;
    const int32_t *ids = split ? c->val : c->train;
    if (batch == 0 || T == 0 || T > (size_t)1 << 24 || batch > (size_t)1 << 24 || n < T + 1)
        return adj_err_set(err, ADJ_EINVAL, "%s: %zu windows of %zu + 1 ids from a part of %zu ids", fn,
                           batch, T, n);
    for (size_t b = 0; b < batch; b++) {
        size_t at = (size_t)adj_rng_below(rng, n - T);
        memcpy(x + b * T, ids + at, T * sizeof *x);
        memcpy(y + b * T, ids + at + 1, T * sizeof *y);
    }
    adj_err_clear(err);
    return ADJ_OK;
}
