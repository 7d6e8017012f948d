/*
 * The IDX format (LeCun's MNIST files): magic bytes 0, 0, type, ndim; ndim
 * big-endian u32 dimensions; then the elements, big-endian, row-major.
 * The data must be exactly as long as the dimensions say.
 */
#include "io/io_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Files above this are refused before they fill memory. */
#define IDX_MAX_BYTES ((size_t)1 << 34)

static size_t type_size(int type)
{
    switch (type) {
    case ADJ_IDX_U8:
    case ADJ_IDX_I8: return 1;
    case ADJ_IDX_I16: return 2;
    case ADJ_IDX_I32:
    case ADJ_IDX_F32: return 4;
    case ADJ_IDX_F64: return 8;
    default: return 0;
    }
}

void adj_idx_free(adj_idx *a)
{
    if (!a)
        return;
    free(a->data);
    free(a);
}

adj_status adj_idx_parse(const void *bytes, size_t len, const char *name, adj_idx **out,
                         adj_error *err)
{
    const unsigned char *p = bytes;
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_idx_parse: NULL output");
    *out = NULL;
    if (!name)
        name = "IDX data";
    if (!p && len)
        return adj_err_set(err, ADJ_EINVAL, "%s: NULL bytes", name);
    if (len < 4)
        return adj_err_set(err, ADJ_EFORMAT, "%s: truncated: %zu bytes, no IDX header", name, len);
    if (p[0] != 0 || p[1] != 0)
        return adj_err_set(
            err, ADJ_EFORMAT,
            "%s: not an IDX file (magic %02x %02x %02x %02x, expected 00 00 type ndim)", name, p[0],
            p[1], p[2], p[3]);
    size_t es = type_size(p[2]);
    if (!es)
        return adj_err_set(err, ADJ_EFORMAT, "%s: unknown IDX element type 0x%02x", name, p[2]);
    int nd = p[3];
    if (nd < 1 || nd > ADJ_IDX_MAX_DIMS)
        return adj_err_set(err, ADJ_EFORMAT, "%s: %d dimensions (1 to %d supported)", name, nd,
                           ADJ_IDX_MAX_DIMS);
    size_t hdr = 4 + 4 * (size_t)nd;
    if (len < hdr)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: truncated header: %zu bytes, %d dimensions need %zu", name, len, nd,
                           hdr);
    adj_idx *a = calloc(1, sizeof *a);
    if (!a)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", name);
    a->type = (adj_idx_type)p[2];
    a->ndim = nd;
    size_t numel = 1;
    for (int i = 0; i < nd; i++) {
        uint32_t d = adj_be32(p + 4 + 4 * (size_t)i);
        a->dims[i] = d;
        if (d != 0 && numel > SIZE_MAX / d / es) {
            free(a);
            return adj_err_set(err, ADJ_EFORMAT, "%s: dimensions overflow", name);
        }
        numel *= d;
    }
    size_t need = numel * es;
    if (len - hdr != need) {
        free(a);
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: %s: the header promises %zu data bytes, the file has %zu", name,
                           len - hdr < need ? "truncated" : "trailing bytes", need, len - hdr);
    }
    a->numel = numel;
    a->data = malloc(need ? need : 1);
    if (!a->data) {
        free(a);
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for %zu bytes", name, need);
    }
    const unsigned char *s = p + hdr;
    unsigned char *d = a->data;
    /* big-endian -> host order, byte by byte so alignment never matters */
    if (es == 1 && need)
        memcpy(d, s, need);
    for (size_t i = 0; i < numel && es > 1; i++) {
        uint64_t v = 0;
        for (size_t k = 0; k < es; k++)
            v = v << 8 | s[i * es + k];
        switch (es) {
        case 1: d[i] = (unsigned char)v; break;
        case 2: {
            uint16_t w = (uint16_t)v;
            memcpy(d + 2 * i, &w, 2);
        } break;
        case 4: {
            uint32_t w = (uint32_t)v;
            memcpy(d + 4 * i, &w, 4);
        } break;
        default: memcpy(d + 8 * i, &v, 8); break;
        }
    }
    adj_err_clear(err);
    *out = a;
    return ADJ_OK;
}

adj_status adj_idx_read(const char *path, adj_idx **out, adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_idx_read: NULL output");
    *out = NULL;
    unsigned char *buf;
    size_t len;
    adj_status st = adj_io_slurp(path, IDX_MAX_BYTES, &buf, &len, err);
    if (st != ADJ_OK)
        return st;
    st = adj_idx_parse(buf, len, path, out, err);
    free(buf);
    return st;
}

double adj_idx_get(const adj_idx *a, size_t i)
{
    if (!a || i >= a->numel)
        return NAN;
    switch (a->type) {
    case ADJ_IDX_U8: return ((const uint8_t *)a->data)[i];
    case ADJ_IDX_I8: return ((const int8_t *)a->data)[i];
    case ADJ_IDX_I16: return ((const int16_t *)a->data)[i];
    case ADJ_IDX_I32: return ((const int32_t *)a->data)[i];
    case ADJ_IDX_F32: return ((const float *)a->data)[i];
    case ADJ_IDX_F64: return ((const double *)a->data)[i];
    default: return NAN;
    }
}

adj_status adj_idx_write(const char *path, adj_idx_type type, int ndim, const int64_t *dims,
                         const void *data, int gz, adj_error *err)
{
    size_t es = type_size(type);
    if (!path || !es || ndim < 1 || ndim > ADJ_IDX_MAX_DIMS || !dims)
        return adj_err_set(err, ADJ_EINVAL, "adj_idx_write: invalid arguments");
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > (int64_t)UINT32_MAX)
            return adj_err_set(err, ADJ_EINVAL, "adj_idx_write: dimension %d is %lld", i,
                               (long long)dims[i]);
        numel *= (size_t)dims[i];
    }
    if (numel && !data)
        return adj_err_set(err, ADJ_EINVAL, "adj_idx_write: NULL data");
    size_t len = 4 + 4 * (size_t)ndim + numel * es;
    unsigned char *b = malloc(len);
    if (!b)
        return adj_err_set(err, ADJ_ENOMEM, "adj_idx_write: out of memory");
    b[0] = b[1] = 0;
    b[2] = (unsigned char)type;
    b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * i + k] = (unsigned char)((uint64_t)dims[i] >> (24 - 8 * k));
    unsigned char *d = b + 4 + 4 * (size_t)ndim;
    const unsigned char *s = data;
    for (size_t i = 0; i < numel; i++) {
        uint64_t v = 0;
        switch (es) {
        case 1: v = s[i]; break;
        case 2: {
            uint16_t w;
            memcpy(&w, s + 2 * i, 2);
            v = w;
        } break;
        case 4: {
            uint32_t w;
            memcpy(&w, s + 4 * i, 4);
            v = w;
        } break;
        default: memcpy(&v, s + 8 * i, 8); break;
        }
        for (size_t k = 0; k < es; k++)
            d[i * es + k] = (unsigned char)(v >> (8 * (es - 1 - k)));
    }
    adj_status st = ADJ_OK;
    errno = 0;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f)
            st = adj_err_set(err, ADJ_EIO, "%s: cannot create: %s", path, strerror(errno));
        else {
            int ok = len == 0 || gzwrite(f, b, (unsigned)len) == (int)len;
            if (gzclose(f) != Z_OK || !ok)
                st = adj_err_set(err, ADJ_EIO, "%s: write failed", path);
        }
    } else {
        FILE *f = fopen(path, "wb");
        if (!f)
            st = adj_err_set(err, ADJ_EIO, "%s: cannot create: %s", path, strerror(errno));
        else {
            int ok = fwrite(b, 1, len, f) == len;
            if (fclose(f) != 0 || !ok)
                st = adj_err_set(err, ADJ_EIO, "%s: write failed", path);
        }
    }
    free(b);
    if (st == ADJ_OK)
        adj_err_clear(err);
    return st;
}
