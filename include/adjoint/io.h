/*
 * adjoint/io.h — data sets (IDX, CSV), mini-batches, model files.
 *
 * Every reader validates what it reads against the bytes actually there:
 * a header never makes it allocate or read more than the file holds.  A
 * truncated, corrupt or foreign file is ADJ_EFORMAT, a file that cannot be
 * opened, read or written is ADJ_EIO; the adj_error (may be NULL) gets a
 * message naming the file and the problem.  Nothing is left allocated on
 * failure and *out is set to NULL.
 *
 *     adj_dataset *train;
 *     adj_error err;
 *     if (adj_dataset_load_idx(dir, "train", &train, &err) != ADJ_OK)
 *         fprintf(stderr, "%s\n", err.message);
 */
#ifndef ADJOINT_IO_H
#define ADJOINT_IO_H

#include "core.h"
#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- files */

/* Replace the file at path by bytes[0..n), atomically: the bytes go to a
 * temporary file in the same directory, which is flushed and fsynced,
 * then renamed over path, and the directory is fsynced.  A crash or a
 * full disk leaves the old file or the new one, never a mix.  A path that
 * exists and is not a regular file (a directory, a device, a FIFO, a
 * socket) is refused (ADJ_EIO naming what it is) and left alone; a
 * symbolic link to a regular file is written through (the link stays).
 * An existing file keeps its permission bits; a new one gets 0644.
 * ADJ_EINVAL for a NULL or empty path, or NULL bytes with n > 0. */
ADJ_API adj_status adj_file_write(const char *path, const void *bytes, size_t n, adj_error *err);
/* Replace count files together: every file is written to its temporary
 * file first, and only if all of them were written are they renamed over
 * their targets, in order.  A write error (a full disk) leaves every
 * target as it was; only a failing rename, after the data is safely
 * written, can leave the first files new and the rest old. */
ADJ_API adj_status adj_files_write(int count, const char *const *paths, const void *const *bytes,
                                   const size_t *sizes, adj_error *err);

/* ------------------------------------------------------------------ IDX */

/* Element types of the IDX format (the third byte of the magic). */
typedef enum adj_idx_type {
    ADJ_IDX_U8 = 0x08,
    ADJ_IDX_I8 = 0x09,
    ADJ_IDX_I16 = 0x0B,
    ADJ_IDX_I32 = 0x0C,
    ADJ_IDX_F32 = 0x0D,
    ADJ_IDX_F64 = 0x0E,
} adj_idx_type;

#define ADJ_IDX_MAX_DIMS 8

/* An IDX array: big-endian on disk, host order in memory. */
typedef struct adj_idx {
    adj_idx_type type;
    int ndim;
    int64_t dims[ADJ_IDX_MAX_DIMS];
    size_t numel;
    void *data; /* numel elements of `type` (uint8_t, int8_t, int16_t,
                   int32_t, float, double) */
} adj_idx;

/* Read an IDX file, plain or gzip-compressed (detected from the content).
 * The magic (0, 0, type, ndim), the dimensions and the data length must
 * agree exactly.  The header is checked before the data is read, and no
 * more than the data the header declares is ever read or decompressed
 * (a gzip stream that inflates past it is ADJ_EFORMAT, "trailing bytes").
 * *out is owned by the caller: adj_idx_free. */
ADJ_API adj_status adj_idx_read(const char *path, adj_idx **out, adj_error *err);
/* Parse IDX bytes already in memory (same checks; `name` for messages). */
ADJ_API adj_status adj_idx_parse(const void *bytes, size_t len, const char *name, adj_idx **out,
                                 adj_error *err);
ADJ_API void adj_idx_free(adj_idx *a);
/* Element i as a double (NaN out of range). */
ADJ_API double adj_idx_get(const adj_idx *a, size_t i);
/* Write an IDX file (uncompressed, or gzip if `gz`), atomically as
 * adj_file_write does; for tests and tools. */
ADJ_API adj_status adj_idx_write(const char *path, adj_idx_type type, int ndim,
                                 const int64_t *dims, const void *data, int gz, adj_error *err);

/* -------------------------------------------------------------- data sets */

/* A classification data set: one sample per row. */
typedef struct adj_dataset {
    size_t rows, cols;
    float *x;    /* rows * cols features, row-major */
    int32_t *y;  /* rows labels in [0, classes) */
    int classes; /* 1 + the largest label */
} adj_dataset;

/* A data set of rows x cols zeros (labels 0); NULL if out of memory. */
ADJ_API adj_dataset *adj_dataset_new(size_t rows, size_t cols);
ADJ_API void adj_dataset_free(adj_dataset *d);

/* Images (n, d1, d2...) and labels (n) IDX files -> rows n, cols d1*d2*...
 * Features are the raw values (0..255 for bytes), and must be finite as
 * floats: a NaN, an infinity or a double beyond the float range is
 * ADJ_EFORMAT naming the file, the image (row) and the element (column). */
ADJ_API adj_status adj_dataset_from_idx(const char *images, const char *labels, adj_dataset **out,
                                        adj_error *err);
/* "<dir>/<split>-images-idx3-ubyte[.gz]" and "<dir>/<split>-labels-idx1-ubyte[.gz]"
 * (split "train" or "t10k", the MNIST naming). */
ADJ_API adj_status adj_dataset_load_idx(const char *dir, const char *split, adj_dataset **out,
                                        adj_error *err);

/* CSV with a header row and numeric fields (comma separated, optional
 * surrounding spaces, CRLF accepted, blank lines skipped).  `label` names
 * the label column by header name or by 0-based index ("4"); NULL means
 * the last column.  Labels must be integers in [0, 65536); every other
 * column is a feature, a finite float ("inf", "nan" and values that
 * overflow a float, such as 1e300, are ADJ_EFORMAT naming the file, line
 * and column).  The file is read line by line: memory is the table parsed
 * so far and one line (at most 64 MiB; the file at most 4 GiB). */
ADJ_API adj_status adj_csv_read(const char *path, const char *label, adj_dataset **out,
                                adj_error *err);

/* x = (x - lo) / (hi - lo) for every feature (hi == lo: x - lo). */
ADJ_API void adj_dataset_scale(adj_dataset *d, double lo, double hi);
/* Smallest and largest feature value. */
ADJ_API void adj_dataset_range(const adj_dataset *d, double *lo, double *hi);
/* Per-column mean and standard deviation (population), cols entries each. */
ADJ_API void adj_dataset_stats(const adj_dataset *d, double *mean, double *sd);
/* x[:, j] = (x[:, j] - mean[j]) / sd[j] (sd[j] == 0 counts as 1). */
ADJ_API void adj_dataset_standardize(adj_dataset *d, const double *mean, const double *sd);
/* Split rows into a shuffled (seeded) validation part of round(frac rows)
 * rows and a training part of the rest.  d is unchanged. */
ADJ_API adj_status adj_dataset_split(const adj_dataset *d, double frac, uint64_t seed,
                                     adj_dataset **train, adj_dataset **val, adj_error *err);

/* ------------------------------------------------------- batch iterator */

/* Mini-batches over a data set (which must outlive the iterator): each
 * epoch visits every row once, in a seeded shuffled order if `shuffle`.
 * Rows are gathered into buffers the iterator owns. */
typedef struct adj_batcher adj_batcher;

/* NULL for batch == 0, an empty data set or no memory. */
ADJ_API adj_batcher *adj_batcher_new(const adj_dataset *d, size_t batch, int shuffle,
                                     uint64_t seed);
ADJ_API void adj_batcher_free(adj_batcher *b);
/* Start an epoch (reshuffles when shuffling). */
ADJ_API void adj_batcher_epoch(adj_batcher *b);
/* Next batch of the epoch: returns its rows (batch, or fewer at the end;
 * 0 when the epoch is over) and points x (rows * cols) and y (rows) at
 * the iterator's buffers, valid until the next call (x or y may be NULL
 * when the caller does not want it). */
ADJ_API size_t adj_batcher_next(adj_batcher *b, const float **x, const int32_t **y);
/* Batches per epoch: ceil(rows / batch). */
ADJ_API size_t adj_batcher_count(const adj_batcher *b);

/* ------------------------------------------------------------ model files */

/*
 * A model file holds an MLP's configuration (enough to rebuild it), its
 * parameters and its batch-norm running statistics, little-endian:
 *
 *   "ADJMODEL"  8 bytes magic
 *   u32         format version (ADJ_MODEL_VERSION)
 *   u64         payload length in bytes
 *   payload     dtype, sizes, activations, init, dropout, batchnorm,
 *               tensor count, each tensor's shape and values, running
 *               statistics, the optional input transform
 *   u32         CRC-32 of everything before it
 *
 * Saving writes a temporary file in the target's directory, flushes and
 * fsyncs it and renames it over the target, so a crash leaves either the
 * old file or the new one.
 */
#define ADJ_MODEL_VERSION 1u

/* Save m to path as adj_file_write does (atomically; a path that is not a
 * regular file is refused). */
ADJ_API adj_status adj_model_save(adj_mlp *m, const char *path, adj_error *err);
/* The bytes adj_model_save writes, in a buffer from malloc (the caller
 * frees it): for writing a model together with other files
 * (adj_files_write). */
ADJ_API adj_status adj_model_encode(adj_mlp *m, void **bytes, size_t *n, adj_error *err);
/* Rebuild the model a file describes.  *out is owned by the caller. */
ADJ_API adj_status adj_model_load(const char *path, adj_mlp **out, adj_error *err);
/* The same with the model and every buffer of the load from `a` (copied;
 * NULL = malloc).  Saving and adj_model_load_into use the model's own
 * allocator (adj_mlp_new_with). */
ADJ_API adj_status adj_model_load_with(const char *path, const adj_allocator *a, adj_mlp **out,
                                       adj_error *err);
/* Load parameters into an existing model; the file's architecture must
 * equal m's (ADJ_EFORMAT naming the difference otherwise). */
ADJ_API adj_status adj_model_load_into(adj_mlp *m, const char *path, adj_error *err);

#ifdef __cplusplus
}
#endif
#endif
