/*
 * Whole-file reads through zlib's gz interface, which reads gzip and plain
 * files alike.  The buffer grows with the data actually read, so no size
 * claimed inside a file decides an allocation.
 */
#include "io/io_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

adj_status adj_io_slurp(const char *path, size_t max, unsigned char **buf, size_t *len,
                        adj_error *err)
{
    size_t cap; /* the default allocator is malloc: callers free() the buffer */
    return adj_io_slurp_with(path, max, &adj_default_allocator, buf, len, &cap, err);
}

adj_status adj_io_slurp_with(const char *path, size_t max, const adj_allocator *al,
                             unsigned char **buf, size_t *len, size_t *cap_out, adj_error *err)
{
    *buf = NULL;
    *len = 0;
    *cap_out = 0;
    if (!path)
        return adj_err_set(err, ADJ_EINVAL, "NULL path");
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return adj_err_set(err, ADJ_EIO, "%s: cannot open: %s", path,
                           errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1u << 17);
    size_t cap = 1u << 16, n = 0;
    unsigned char *b = al->alloc(al->ctx, cap);
    adj_status st = ADJ_OK;
    if (!b)
        st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
    while (st == ADJ_OK) {
        if (n == cap) {
            if (cap >= max + 1) {
                st = adj_err_set(err, ADJ_EFORMAT, "%s: larger than %zu bytes", path, max);
                break;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            unsigned char *nb = al->alloc(al->ctx, ncap);
            if (!nb) {
                st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory after %zu bytes", path, n);
                break;
            }
            memcpy(nb, b, n);
            al->free(al->ctx, b, cap);
            b = nb;
            cap = ncap;
        }
        size_t want = cap - n > (1u << 30) ? (1u << 30) : cap - n;
        int got = gzread(f, b + n, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            if (zerr == Z_ERRNO)
                st = adj_err_set(err, ADJ_EIO, "%s: read error: %s", path, strerror(errno));
            else
                st = adj_err_set(err, ADJ_EFORMAT, "%s: corrupt or truncated gzip data (%s)", path,
                                 msg ? msg : "zlib error");
            break;
        }
        if (got == 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            if (zerr != Z_OK && zerr != Z_STREAM_END)
                st = adj_err_set(err, ADJ_EFORMAT, "%s: corrupt or truncated gzip data (%s)", path,
                                 msg ? msg : "zlib error");
            break;
        }
        n += (size_t)got;
        if (n > max) {
            st = adj_err_set(err, ADJ_EFORMAT, "%s: larger than %zu bytes", path, max);
            break;
        }
    }
    gzclose(f);
    if (st != ADJ_OK) {
        if (b)
            al->free(al->ctx, b, cap);
        return st;
    }
    *buf = b;
    *len = n;
    *cap_out = cap;
    return ADJ_OK;
}
