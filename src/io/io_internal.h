/*
 * Internal helpers of src/io: reading files in steps, replacing files
 * atomically, big-endian byte access.
 */
#ifndef ADJ_IO_INTERNAL_H
#define ADJ_IO_INTERNAL_H

#include "adjoint/io.h"
#include "nn/nn_internal.h"

/* A file being read in steps (gzip or plain, detected from the content),
 * so that a reader checks each header before it reads on. */
typedef struct adj_io_in {
    void *f; /* gzFile */
    const char *path;
} adj_io_in;

/* Open path for reading; ADJ_EIO naming it if it cannot be opened. */
adj_status adj_io_open(adj_io_in *in, const char *path, adj_error *err);
void adj_io_close(adj_io_in *in);
/* Read up to n bytes into buf; *got < n only at the end of the data.
 * Read errors ADJ_EIO, corrupt or truncated gzip ADJ_EFORMAT. */
adj_status adj_io_read(adj_io_in *in, void *buf, size_t n, size_t *got, adj_error *err);
/* Read at most max more bytes into a buffer from al that starts with
 * prefix[0..plen) and grows only as data arrives: *len = plen + what was
 * read, *cap its size (for al->free), *more = 1 if the data goes on past
 * max bytes (one byte is read to see). */
adj_status adj_io_read_upto(adj_io_in *in, const void *prefix, size_t plen, size_t max,
                            const adj_allocator *al, unsigned char **buf, size_t *len,
                            size_t *cap, int *more, adj_error *err);

/* ADJ_OK if path may be replaced: absent, a regular file, or a symbolic
 * link to one; ADJ_EIO naming what it is otherwise (directory, device,
 * FIFO, socket, dangling link). */
adj_status adj_io_check_target(const char *path, adj_error *err);
/* adj_files_write with the temporary buffers from al. */
adj_status adj_io_write_files(int count, const char *const *paths, const void *const *bytes,
                              const size_t *sizes, const adj_allocator *al, adj_error *err);

/* ADJ_OK for a usable path; ADJ_EINVAL naming the function `fn` and the
 * argument `what` for a NULL or empty one. */
static inline adj_status adj_io_path_ok(const char *fn, const char *what, const char *path,
                                        adj_error *err)
{
    if (!path)
        return adj_err_set(err, ADJ_EINVAL, "%s: NULL %s", fn, what);
    if (!*path)
        return adj_err_set(err, ADJ_EINVAL, "%s: empty %s", fn, what);
    return ADJ_OK;
}

static inline uint32_t adj_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
