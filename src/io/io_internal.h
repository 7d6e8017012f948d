/*
 * Internal helpers of src/io: reading a whole (possibly gzipped) file and
 * big/little-endian byte access.
 */
#ifndef ADJ_IO_INTERNAL_H
#define ADJ_IO_INTERNAL_H

#include "adjoint/io.h"
#include "nn/nn_internal.h"

/* Read all of `path` (gzip-compressed or plain) into a malloc'd buffer
 * *buf of *len bytes (the caller frees it).  More than `max` bytes is
 * ADJ_EFORMAT; open/read failures ADJ_EIO; corrupt or truncated gzip
 * ADJ_EFORMAT. */
adj_status adj_io_slurp(const char *path, size_t max, unsigned char **buf, size_t *len,
                        adj_error *err);
/* The same with the buffer from `al`; *cap receives its size in bytes
 * (for al->free). */
adj_status adj_io_slurp_with(const char *path, size_t max, const adj_allocator *al,
                             unsigned char **buf, size_t *len, size_t *cap, adj_error *err);

static inline uint32_t adj_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
