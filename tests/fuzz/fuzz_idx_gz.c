/*
 * libFuzzer target: the gzip path of the IDX reader.  The input after two
 * option bytes is an IDX file; it is gzip-compressed here (so that
 * mutations reach the IDX checks behind a valid gzip stream), optionally
 * as two gzip members, optionally with the compressed stream cut short or
 * one byte of its first member flipped.  adj_idx_read must agree with adj_idx_parse on
 * the uncompressed bytes: the same status for an intact stream, and an
 * accepted array equal to theirs always (a damaged stream either fails or,
 * damage outside the data, reads the same array).
 */
#include <adjoint.h>

#include <zlib.h>

#include "fuzz_util.h"

static fuzz_file in_file;

/* Append one gzip member of src[0..n) at level to out; returns its size. */
static size_t gz_member(uint8_t *out, size_t cap, const uint8_t *src, size_t n, int level)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    size_t k = zs.total_out;
    deflateEnd(&zs);
    return k;
}

static size_t elem_size(adj_idx_type t)
{
    return t == ADJ_IDX_U8 || t == ADJ_IDX_I8 ? 1 : t == ADJ_IDX_I16 ? 2 : t == ADJ_IDX_F64 ? 8 : 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t opt = data[0], arg = data[1];
    const uint8_t *idx = data + 2;
    size_t n = size - 2;
    size_t cap = 2 * (n + 64) + 256;
    uint8_t *z = malloc(cap);
    if (!z)
        return 0;
    int level = opt & 1 ? 9 : 1;
    size_t zn, first;
    if (opt & 2) { /* two members, split at arg */
        size_t cut = n ? arg % (n + 1) : 0;
        zn = first = gz_member(z, cap, idx, cut, level);
        zn += gz_member(z + zn, cap - zn, idx + cut, n - cut, level);
    } else {
        zn = first = gz_member(z, cap, idx, n, level);
    }
    int damaged = 0;
    if (opt & 4) {
        /* cut the stream short: anywhere in the last 24 bytes of one
         * member; within the trailer of the second of two (a second
         * member cut to a byte would be ignored as trailing garbage) */
        size_t k = 1 + arg % (opt & 2 ? 8u : 24u);
        zn = zn > k ? zn - k : 0;
        damaged = 1;
    } else if (opt & 8) {
        /* flip a byte of the first member (zlib ignores what follows a
         * member when it is not another gzip header, so a damaged second
         * member would read as trailing garbage, not as an error) */
        z[(size_t)arg * 7 % first] ^= (uint8_t)(1u << (opt >> 5));
        damaged = 1;
    }
    const char *path = fuzz_write(fuzz_scratch(&in_file, "idx-gz"), z, zn);
    free(z);
    adj_error err, perr;
    adj_idx *a = NULL, *b = NULL;
    adj_status s = adj_idx_read(path, &a, &err);
    if (s != ADJ_OK && (a || err.status != s || !err.message[0]))
        abort();
    adj_status p = adj_idx_parse(idx, n, "fuzz", &b, &perr);
    if (!damaged && s != p)
        abort(); /* an intact stream reads exactly as its bytes parse */
    if (a) {
        if (!b || a->type != b->type || a->ndim != b->ndim || a->numel != b->numel ||
            memcmp(a->dims, b->dims, sizeof a->dims) != 0 ||
            (a->numel && memcmp(a->data, b->data, a->numel * elem_size(a->type)) != 0))
            abort();
    }
    adj_idx_free(a);
    adj_idx_free(b);
    return 0;
}
