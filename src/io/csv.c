/*
 * A CSV reader for numeric tables: a header row of column names, then one
 * sample per line.  One column holds integer class labels; the others are
 * features.  Plain or gzip-compressed.
 */
#include "io/io_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CSV_MAX_BYTES ((size_t)1 << 32)
#define CSV_MAX_COLS 100000

/* Split the line [s, e) at commas into fields[] (pointers into a writable
 * copy: each field is NUL-terminated and trimmed).  Returns the count, or
 * -1 when there are more than `max`. */
static int split_fields(char *s, char *e, char **fields, int max)
{
    int n = 0;
    for (;;) {
        char *c = s;
        while (c < e && *c != ',')
            c++;
        if (n == max)
            return -1;
        char *a = s, *b = c;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '"'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r' || b[-1] == '"'))
            b--;
        *b = '\0';
        fields[n++] = a;
        if (c >= e)
            return n;
        s = c + 1;
    }
}

static int blank(const char *s, const char *e)
{
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            return 0;
    return 1;
}

adj_status adj_csv_read(const char *path, const char *label, adj_dataset **out, adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_csv_read: NULL output");
    *out = NULL;
    unsigned char *raw;
    size_t len;
    adj_status st = adj_io_slurp(path, CSV_MAX_BYTES, &raw, &len, err);
    if (st != ADJ_OK)
        return st;
    char *buf = (char *)raw, *end = buf + len;
    char **fields = NULL;
    adj_dataset *d = NULL;
    if (memchr(buf, '\0', len)) {
        st = adj_err_set(err, ADJ_EFORMAT, "%s: binary data (a NUL byte), not CSV", path);
        goto fail;
    }
    /* count data lines to size the table (an upper bound: blank lines) */
    size_t lines = 0;
    for (char *c = buf; c < end; c++)
        lines += *c == '\n';
    lines++;
    char *line = buf;
    while (line < end) { /* skip leading blank lines */
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *le = nl ? nl : end;
        if (!blank(line, le))
            break;
        line = nl ? nl + 1 : end;
    }
    if (line >= end) {
        st = adj_err_set(err, ADJ_EFORMAT, "%s: empty file, no header row", path);
        goto fail;
    }
    fields = malloc(CSV_MAX_COLS * sizeof *fields);
    if (!fields) {
        st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    char *nl = memchr(line, '\n', (size_t)(end - line));
    char *le = nl ? nl : end;
    int ncol = split_fields(line, le, fields, CSV_MAX_COLS);
    if (ncol < 2) {
        st = adj_err_set(err, ADJ_EFORMAT,
                         "%s: the header has %s columns (need a label and a feature)", path,
                         ncol < 0 ? "too many" : "fewer than 2");
        goto fail;
    }
    int lab = ncol - 1;
    if (label) {
        lab = -1;
        for (int j = 0; j < ncol; j++)
            if (strcmp(fields[j], label) == 0)
                lab = j;
        if (lab < 0) {
            char *ep;
            errno = 0;
            long v = strtol(label, &ep, 10);
            if (*label && !*ep && !errno && v >= 0 && v < ncol)
                lab = (int)v;
        }
        if (lab < 0) {
            st =
                adj_err_set(err, ADJ_EINVAL, "%s: no column named '%s' (and not an index below %d)",
                            path, label, ncol);
            goto fail;
        }
    }
    d = adj_dataset_new(lines, (size_t)ncol - 1);
    if (!d) {
        st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for %zu rows", path, lines);
        goto fail;
    }
    size_t rows = 0, lineno = 1;
    int maxl = 0;
    line = nl ? nl + 1 : end;
    while (line < end) {
        lineno++;
        nl = memchr(line, '\n', (size_t)(end - line));
        le = nl ? nl : end;
        if (!blank(line, le)) {
            int n = split_fields(line, le, fields, ncol);
            if (n != ncol) {
                st = adj_err_set(err, ADJ_EFORMAT, "%s:%zu: %s fields, the header has %d", path,
                                 lineno, n < 0 ? "more" : "fewer", ncol);
                goto fail;
            }
            float *x = d->x + rows * d->cols;
            for (int j = 0, k = 0; j < ncol; j++) {
                char *ep;
                errno = 0;
                double v = strtod(fields[j], &ep);
                if (!*fields[j] || *ep || !isfinite(v)) {
                    st = adj_err_set(err, ADJ_EFORMAT, "%s:%zu: column %d: '%.40s' is not a number",
                                     path, lineno, j + 1, fields[j]);
                    goto fail;
                }
                if (j == lab) {
                    if (v < 0 || v >= 65536 || v != floor(v)) {
                        st = adj_err_set(err, ADJ_EFORMAT,
                                         "%s:%zu: label '%.40s' is not an integer in [0, 65536)",
                                         path, lineno, fields[j]);
                        goto fail;
                    }
                    d->y[rows] = (int32_t)v;
                    if (d->y[rows] > maxl)
                        maxl = d->y[rows];
                } else {
                    x[k++] = (float)v;
                }
            }
            rows++;
        }
        line = nl ? nl + 1 : end;
    }
    if (rows == 0) {
        st = adj_err_set(err, ADJ_EFORMAT, "%s: a header but no data rows", path);
        goto fail;
    }
    d->rows = rows;
    d->classes = maxl + 1;
    free(fields);
    free(raw);
    *out = d;
    adj_err_clear(err);
    return ADJ_OK;
fail:
    adj_dataset_free(d);
    free(fields);
    free(raw);
    return st;
}
