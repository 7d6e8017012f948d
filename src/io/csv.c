/*
 * A CSV reader for numeric tables: a header row of column names, then one
 * sample per line.  One column holds integer class labels; the others are
 * features.  Plain or gzip-compressed.
 *
 * The file is read line by line: memory is the table parsed so far (which
 * grows with the rows actually there) and one line, so a file never costs
 * more than a small multiple of the values it holds.
 */
#include "io/io_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CSV_MAX_BYTES ((size_t)1 << 32)
#define CSV_MAX_LINE ((size_t)1 << 26)
#define CSV_MAX_COLS 100000

/* Lines of a file, read in chunks. */
typedef struct lines {
    adj_io_in in;
    unsigned char chunk[1 << 16];
    size_t pos, n, total;
    int eof;
    char *line; /* the current line, NUL-terminated, without its '\n' */
    size_t len, cap;
    size_t lineno;
} lines;

/* The next line into L->line: 1, 0 at the end, or an error status (< 0 is
 * never used: errors are returned through *st). */
static int next_line(lines *L, adj_status *st, adj_error *err)
{
    L->len = 0;
    int any = 0;
    for (;;) {
        if (L->pos == L->n) {
            if (L->eof)
                break;
            size_t got;
            *st = adj_io_read(&L->in, L->chunk, sizeof L->chunk, &got, err);
            if (*st != ADJ_OK)
                return 0;
            L->pos = 0;
            L->n = got;
            L->total += got;
            if (L->total > CSV_MAX_BYTES) {
                *st = adj_err_set(err, ADJ_EFORMAT, "%s: larger than %zu bytes", L->in.path,
                                  CSV_MAX_BYTES);
                return 0;
            }
            if (got < sizeof L->chunk)
                L->eof = 1;
            if (got == 0)
                break;
        }
        any = 1;
        const unsigned char *s = L->chunk + L->pos;
        size_t avail = L->n - L->pos;
        const unsigned char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        if (memchr(s, '\0', take)) {
            *st = adj_err_set(err, ADJ_EFORMAT, "%s:%zu: binary data (a NUL byte), not CSV",
                              L->in.path, L->lineno + 1);
            return 0;
        }
        if (L->len + take + 1 > L->cap) {
            if (L->len + take + 1 > CSV_MAX_LINE) {
                *st = adj_err_set(err, ADJ_EFORMAT, "%s:%zu: a line longer than %zu bytes",
                                  L->in.path, L->lineno + 1, CSV_MAX_LINE);
                return 0;
            }
            size_t cap = L->cap ? L->cap : 256;
            while (cap < L->len + take + 1)
                cap *= 2;
            char *nb = realloc(L->line, cap);
            if (!nb) {
                *st = adj_err_set(err, ADJ_ENOMEM, "%s:%zu: out of memory", L->in.path,
                                  L->lineno + 1);
                return 0;
            }
            L->line = nb;
            L->cap = cap;
        }
        memcpy(L->line + L->len, s, take);
        L->len += take;
        L->pos += take + (nl != NULL);
        if (nl)
            break;
    }
    if (!any)
        return 0;
    L->line[L->len] = '\0';
    L->lineno++;
    return 1;
}

/* Split the line s at commas into fields[] (pointers into s: each field
 * is NUL-terminated and trimmed of spaces, tabs, quotes and a final CR).
 * Returns the count, or -1 when there are more than `max`. */
static int split_fields(char *s, char **fields, int max)
{
    char *e = s + strlen(s);
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

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            return 0;
    return 1;
}

/* Room for one more row in x (rows x cols floats) and y. */
static int grow(float **x, int32_t **y, size_t *cap, size_t rows, size_t cols)
{
    if (rows < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 256;
    if (cols && ncap > SIZE_MAX / sizeof(float) / cols)
        return -1;
    float *nx = realloc(*x, ncap * (cols ? cols : 1) * sizeof *nx);
    if (!nx)
        return -1;
    *x = nx;
    int32_t *ny = realloc(*y, ncap * sizeof *ny);
    if (!ny)
        return -1;
    *y = ny;
    *cap = ncap;
    return 0;
}

adj_status adj_csv_read(const char *path, const char *label, adj_dataset **out, adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_csv_read: NULL output");
    *out = NULL;
    if (adj_io_path_ok("adj_csv_read", "path", path, err) != ADJ_OK)
        return ADJ_EINVAL;
    lines *L = calloc(1, sizeof *L);
    if (!L)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path ? path : "CSV");
    adj_status st = adj_io_open(&L->in, path, err);
    char **fields = NULL, *header = NULL, **names = NULL;
    float *x = NULL;
    int32_t *y = NULL;
    size_t rows = 0, rcap = 0;
    int maxl = 0, ncol = 0;
    if (st != ADJ_OK)
        goto done;
    int have = 0;
    while ((have = next_line(L, &st, err)) == 1 && blank(L->line))
        ; /* skip leading blank lines */
    if (st != ADJ_OK)
        goto done;
    if (!have) {
        st = adj_err_set(err, ADJ_EFORMAT, "%s: empty file, no header row", path);
        goto done;
    }
    /* the header: names kept (for messages) in a copy of the line */
    header = malloc(L->len + 1);
    fields = malloc(CSV_MAX_COLS * sizeof *fields);
    if (!header || !fields) {
        st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(header, L->line, L->len + 1);
    ncol = split_fields(header, fields, CSV_MAX_COLS);
    if (ncol < 2) {
        st = adj_err_set(err, ADJ_EFORMAT,
                         "%s: the header has %s columns (need a label and a feature)", path,
                         ncol < 0 ? "too many" : "fewer than 2");
        goto done;
    }
    names = malloc((size_t)ncol * sizeof *names);
    if (!names) {
        st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(names, fields, (size_t)ncol * sizeof *names);
    int lab = ncol - 1;
    if (label) {
        lab = -1;
        for (int j = 0; j < ncol; j++)
            if (strcmp(names[j], label) == 0)
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
            goto done;
        }
    }
    size_t cols = (size_t)ncol - 1;
    while ((have = next_line(L, &st, err)) == 1) {
        if (blank(L->line))
            continue;
        size_t lineno = L->lineno;
        int n = split_fields(L->line, fields, ncol);
        if (n != ncol) {
            st = adj_err_set(err, ADJ_EFORMAT, "%s:%zu: %s fields, the header has %d", path, lineno,
                             n < 0 ? "more" : "fewer", ncol);
            goto done;
        }
        if (grow(&x, &y, &rcap, rows, cols)) {
            st = adj_err_set(err, ADJ_ENOMEM, "%s:%zu: out of memory for %zu rows", path, lineno,
                             rows + 1);
            goto done;
        }
        float *xr = x + rows * cols;
        for (int j = 0, k = 0; j < ncol; j++) {
            char *ep;
            double v = strtod(fields[j], &ep);
            if (!*fields[j] || *ep) {
                st = adj_err_set(err, ADJ_EFORMAT,
                                 "%s:%zu: column %d ('%.40s'): '%.40s' is not a number", path,
                                 lineno, j + 1, names[j], fields[j]);
                goto done;
            }
            if (j == lab) {
                if (!(v >= 0 && v < 65536) || v != floor(v)) {
                    st = adj_err_set(err, ADJ_EFORMAT,
                                     "%s:%zu: label '%.40s' is not an integer in [0, 65536)", path,
                                     lineno, fields[j]);
                    goto done;
                }
                y[rows] = (int32_t)v;
                if (y[rows] > maxl)
                    maxl = y[rows];
                continue;
            }
            float f = (float)v;
            if (!isfinite(f)) {
                st = adj_err_set(err, ADJ_EFORMAT,
                                 "%s:%zu: column %d ('%.40s'): '%.40s' is %s (features must be "
                                 "finite floats)",
                                 path, lineno, j + 1, names[j], fields[j],
                                 isfinite(v) ? "beyond the float range" : "not finite");
                goto done;
            }
            xr[k++] = f;
        }
        rows++;
    }
    if (st != ADJ_OK)
        goto done;
    if (rows == 0) {
        st = adj_err_set(err, ADJ_EFORMAT, "%s: a header but no data rows", path);
        goto done;
    }
    adj_dataset *d = calloc(1, sizeof *d);
    if (!d) {
        st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    /* give back the unused tail of the table */
    float *sx = realloc(x, rows * (cols ? cols : 1) * sizeof *x);
    int32_t *sy = realloc(y, rows * sizeof *y);
    if (sx)
        x = sx;
    if (sy)
        y = sy;
    d->rows = rows;
    d->cols = cols;
    d->x = x;
    d->y = y;
    d->classes = maxl + 1;
    x = NULL;
    y = NULL;
    *out = d;
    adj_err_clear(err);
done:
    adj_io_close(&L->in);
    free(L->line);
    free(L);
    free(header);
    free(names);
    free(fields);
    free(x);
    free(y);
    return st;
}
