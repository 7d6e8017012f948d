/*
 * The IDX format (LeCun's MNIST files): magic bytes 0, 0, type, ndim; ndim
 * big-endian u32 dimensions; then the elements, big-endian, row-major.
 * The data must be exactly as long as the dimensions say.
 */
#include "io/io_internal.h"

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

/* Check the 4 magic bytes: element size and dimension count. */
static adj_status check_magic(const unsigned char *p, size_t len, const char *name, size_t *es,
                              int *nd, adj_error *err)
{
    if (len < 4)
        return adj_err_set(err, ADJ_EFORMAT, "%s: truncated: %zu bytes, no IDX header", name, len);
    if (p[0] != 0 || p[1] != 0)
        return adj_err_set(
            err, ADJ_EFORMAT,
            "%s: not an IDX file (magic %02x %02x %02x %02x, expected 00 00 type ndim)", name, p[0],
            p[1], p[2], p[3]);
    *es = type_size(p[2]);
    if (!*es)
        return adj_err_set(err, ADJ_EFORMAT, "%s: unknown IDX element type 0x%02x", name, p[2]);
    *nd = p[3];
    if (*nd < 1 || *nd > ADJ_IDX_MAX_DIMS)
        return adj_err_set(err, ADJ_EFORMAT, "%s: %d dimensions (1 to %d supported)", name, *nd,
                           ADJ_IDX_MAX_DIMS);
    return ADJ_OK;
}

/* The whole header p[0..len) (magic and dimensions) into a; *need = the
 * data bytes it declares. */
static adj_status read_header(const unsigned char *p, size_t len, const char *name, adj_idx *a,
                              size_t *hdr, size_t *need, adj_error *err)
{
    size_t es;
    int nd;
    adj_status st = check_magic(p, len, name, &es, &nd, err);
    if (st != ADJ_OK)
        return st;
    *hdr = 4 + 4 * (size_t)nd;
    if (len < *hdr)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: truncated header: %zu bytes, %d dimensions need %zu", name, len, nd,
                           *hdr);
    a->type = (adj_idx_type)p[2];
    a->ndim = nd;
    size_t numel = 1;
    for (int i = 0; i < nd; i++) {
        uint32_t d = adj_be32(p + 4 + 4 * (size_t)i);
        a->dims[i] = d;
        if (d != 0 && numel > SIZE_MAX / d / es)
            return adj_err_set(err, ADJ_EFORMAT, "%s: dimensions overflow", name);
        numel *= d;
    }
    a->numel = numel;
    *need = numel * es;
    return ADJ_OK;
}

/* Big-endian elements -> host order, in place (s may equal d), byte by
 * byte so alignment never matters. */
static void to_host(unsigned char *d, const unsigned char *s, size_t numel, size_t es)
{
    if (es == 1) {
        if (d != s && numel)
            memcpy(d, s, numel);
        return;
    }
    for (size_t i = 0; i < numel; i++) {
        uint64_t v = 0;
        for (size_t k = 0; k < es; k++)
            v = v << 8 | s[i * es + k];
        switch (es) {
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
        return adj_err_set(err, ADJ_EINVAL, "adj_idx_parse: %s: NULL bytes (%zu of them)", name, len);
    adj_idx head = {0};
    size_t hdr = 0, need = 0;
    adj_status st = read_header(p, len, name, &head, &hdr, &need, err);
    if (st != ADJ_OK)
        return st;
    if (len - hdr != need)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: %s: the header promises %zu data bytes, the file has %zu", name,
                           len - hdr < need ? "truncated" : "trailing bytes", need, len - hdr);
    adj_idx *a = calloc(1, sizeof *a);
    if (!a)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", name);
    *a = head;
    a->data = malloc(need ? need : 1);
    if (!a->data) {
        free(a);
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for %zu bytes", name, need);
    }
    to_host(a->data, p + hdr, a->numel, type_size(a->type));
    adj_err_clear(err);
    *out = a;
    return ADJ_OK;
}

adj_status adj_idx_read(const char *path, adj_idx **out, adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_idx_read: NULL output");
    *out = NULL;
    if (adj_io_path_ok("adj_idx_read", "path", path, err) != ADJ_OK)
        return ADJ_EINVAL;
    adj_io_in in;
    adj_status st = adj_io_open(&in, path, err);
    if (st != ADJ_OK)
        return st;
    /* the magic, then the dimensions it announces, then at most the data
     * they declare: a gzip stream is never inflated further */
    unsigned char h[4 + 4 * ADJ_IDX_MAX_DIMS];
    size_t got = 0, more_got = 0, es = 0, hdr = 0, need = 0, len = 0, cap = 0;
    int nd = 0, more = 0;
    adj_idx head = {0};
    unsigned char *b = NULL;
    st = adj_io_read(&in, h, 4, &got, err);
    if (st == ADJ_OK)
        st = check_magic(h, got, path, &es, &nd, err);
    if (st == ADJ_OK)
        st = adj_io_read(&in, h + 4, 4 * (size_t)nd, &more_got, err);
    if (st == ADJ_OK)
        st = read_header(h, 4 + more_got, path, &head, &hdr, &need, err);
    if (st == ADJ_OK && need > IDX_MAX_BYTES)
        st = adj_err_set(err, ADJ_EFORMAT,
                         "%s: the header declares %zu data bytes, more than the %zu this library "
                         "reads",
                         path, need, IDX_MAX_BYTES);
    if (st == ADJ_OK)
        st = adj_io_read_upto(&in, NULL, 0, need, &adj_default_allocator, &b, &len, &cap, &more,
                              err);
    adj_io_close(&in);
    if (st == ADJ_OK && (len != need || more)) {
        if (more)
            st = adj_err_set(err, ADJ_EFORMAT,
                             "%s: trailing bytes: the header promises %zu data bytes, the file "
                             "has more",
                             path, need);
        else
            st = adj_err_set(err, ADJ_EFORMAT,
                             "%s: truncated: the header promises %zu data bytes, the file has %zu",
                             path, need, len);
    }
    adj_idx *a = st == ADJ_OK ? calloc(1, sizeof *a) : NULL;
    if (st == ADJ_OK && !a)
        st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
    if (st != ADJ_OK) {
        free(b); /* the default allocator is malloc */
        return st;
    }
    *a = head;
    a->data = b;
    to_host(b, b, a->numel, es);
    adj_err_clear(err);
    *out = a;
    return ADJ_OK;
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
    if (adj_io_path_ok("adj_idx_write", "path", path, err) != ADJ_OK)
        return ADJ_EINVAL;
    if (!es)
        return adj_err_set(err, ADJ_EINVAL, "adj_idx_write: invalid element type 0x%02x", (unsigned)type);
    if (ndim < 1 || ndim > ADJ_IDX_MAX_DIMS)
        return adj_err_set(err, ADJ_EINVAL, "adj_idx_write: %d dimensions (1..%d)", ndim,
                           ADJ_IDX_MAX_DIMS);
    if (!dims)
        return adj_err_set(err, ADJ_EINVAL, "adj_idx_write: NULL dims");
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > (int64_t)UINT32_MAX)
            return adj_err_set(err, ADJ_EINVAL, "adj_idx_write: dimension %d is %lld", i,
                               (long long)dims[i]);
        if (dims[i] && numel > (SIZE_MAX - 64) / es / (size_t)dims[i])
            return adj_err_set(err, ADJ_EINVAL, "adj_idx_write: dimensions overflow");
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
    unsigned char *z = NULL;
    size_t zn = 0;
    if (gz) {
        /* a gzip stream (window bits 15 + 16) compressed in memory */
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            st = adj_err_set(err, ADJ_ENOMEM, "adj_idx_write: %s: out of memory", path);
        else {
            uLong bound = deflateBound(&zs, (uLong)len) + 32;
            z = malloc(bound);
            int zr = Z_STREAM_ERROR;
            if (z) {
                /* zlib counts in uInt: feed both sides in pieces of 1 GiB */
                zs.next_in = b;
                zs.next_out = z;
                size_t in_left = len, out_left = bound;
                do {
                    if (zs.avail_in == 0 && in_left) {
                        zs.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
                        in_left -= zs.avail_in;
                    }
                    if (zs.avail_out == 0 && out_left) {
                        zs.avail_out = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
                        out_left -= zs.avail_out;
                    }
                    zr = deflate(&zs, in_left ? Z_NO_FLUSH : Z_FINISH);
                } while (zr == Z_OK);
                zn = (size_t)zs.total_out;
            }
            deflateEnd(&zs);
            if (zr != Z_STREAM_END)
                st = adj_err_set(err, ADJ_ENOMEM, "adj_idx_write: %s: out of memory", path);
        }
    }
    if (st == ADJ_OK) {
        const void *bytes = gz ? (const void *)z : b;
        size_t n = gz ? zn : len;
        st = adj_io_write_files(1, &path, &bytes, &n, &adj_default_allocator, err);
    }
    free(z);
    free(b);
    if (st == ADJ_OK)
        adj_err_clear(err);
    return st;
}
