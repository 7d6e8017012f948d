/*
 * adjoint/safetensors.h — reading and writing safetensors files.
 *
 * The format (the one PyTorch users exchange weights in):
 *
 *   u64 little-endian   N, the length of the header
 *   N bytes             a JSON object, padded with spaces:
 *                         "NAME": {"dtype": "F32", "shape": [2, 3],
 *                                  "data_offsets": [BEGIN, END]}
 *                       per tensor, and an optional "__metadata__"
 *                       object whose values are all strings
 *   data                the tensors' bytes, little-endian, row-major;
 *                       tensor NAME is data[BEGIN, END)
 *
 * The reader trusts nothing: the header length is capped
 * (ADJ_ST_MAX_HEADER), the JSON is parsed by cJSON, every entry must have
 * exactly the three fields with a known dtype, a shape of at most
 * ADJ_MAX_DIMS non-negative integers, and offsets whose span equals the
 * shape's element count times the dtype's size (overflow checked).  The
 * spans must tile the data exactly, in some order: no gap, no overlap,
 * nothing after the last one, and the file must be exactly as long as the
 * header says (checked before anything else is allocated or read).
 * A violation is ADJ_EFORMAT with a message naming the file, the tensor
 * and the problem; an unreadable file ADJ_EIO.
 *
 * Writing goes through adj_file_write (temporary file, fsync, rename,
 * fsync of the directory; a path that is not a regular file is refused).
 * Tensors are laid out in the order they were added; the header is padded
 * to a multiple of 8 bytes, so every tensor starts 8-byte aligned.
 */
#ifndef ADJOINT_SAFETENSORS_H
#define ADJOINT_SAFETENSORS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest header accepted: 100 MB. */
#define ADJ_ST_MAX_HEADER ((uint64_t)100000000)

/* The element types of the format, by their names in the header. */
typedef enum adj_st_dtype {
    ADJ_ST_BOOL = 0,
    ADJ_ST_U8,
    ADJ_ST_I8,
    ADJ_ST_I16,
    ADJ_ST_U16,
    ADJ_ST_F16,
    ADJ_ST_BF16,
    ADJ_ST_I32,
    ADJ_ST_U32,
    ADJ_ST_F32,
    ADJ_ST_F64,
    ADJ_ST_I64,
    ADJ_ST_U64,
    ADJ_ST_DTYPE_COUNT
} adj_st_dtype;

/* "F32", "BF16", ...; "?" out of range. */
ADJ_API const char *adj_st_dtype_name(adj_st_dtype d);
/* Bytes per element (1 for BOOL); 0 out of range. */
ADJ_API size_t adj_st_dtype_size(adj_st_dtype d);

/* One tensor of a file that was read.  data points into the file's
 * buffer (little-endian bytes, not necessarily aligned). */
typedef struct adj_st_tensor {
    const char *name;
    adj_st_dtype dtype;
    int ndim;
    int64_t shape[ADJ_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    const void *data;
} adj_st_tensor;

typedef struct adj_safetensors adj_safetensors;

/* Read and check a whole file (see above).  *out is NULL on failure and
 * owned by the caller otherwise (adj_st_free). */
ADJ_API adj_status adj_st_read(const char *path, adj_safetensors **out, adj_error *err);
/* The same checks on bytes already in memory (copied); `name` is used in
 * messages (NULL = "safetensors"). */
ADJ_API adj_status adj_st_parse(const void *bytes, size_t len, const char *name,
                                adj_safetensors **out, adj_error *err);
ADJ_API void adj_st_free(adj_safetensors *f);

/* Tensors in the order of the header; NULL for a NULL file or a bad i. */
ADJ_API int adj_st_count(const adj_safetensors *f);
ADJ_API const adj_st_tensor *adj_st_tensor_at(const adj_safetensors *f, int i);
/* The tensor called `name`, or NULL. */
ADJ_API const adj_st_tensor *adj_st_find(const adj_safetensors *f, const char *name);
/* The __metadata__ entries (in header order) and the value of one key
 * (NULL when absent). */
ADJ_API int adj_st_meta_count(const adj_safetensors *f);
ADJ_API const char *adj_st_meta_key(const adj_safetensors *f, int i);
ADJ_API const char *adj_st_meta_value(const adj_safetensors *f, int i);
ADJ_API const char *adj_st_meta(const adj_safetensors *f, const char *key);

/* Convert a floating-point tensor (F16, BF16, F32 or F64) to numel
 * elements of `to` (ADJ_F32 or ADJ_F64) at out.  F16 and BF16 convert
 * exactly; F64 -> F32 rounds to nearest.  ADJ_EDTYPE naming the tensor
 * for any other dtype, ADJ_EINVAL for NULL arguments or a bad `to`. */
ADJ_API adj_status adj_st_convert(const adj_st_tensor *t, adj_dtype to, void *out,
                                  adj_error *err);

/* ---------------------------------------------------------------- writer */

typedef struct adj_st_writer adj_st_writer;

/* An empty file to fill; NULL when out of memory. */
ADJ_API adj_st_writer *adj_st_writer_new(void);
ADJ_API void adj_st_writer_free(adj_st_writer *w);
/* Add a tensor: `data` holds numel(shape) elements of dtype in host
 * order, and is only referenced: it must stay valid until the file is
 * encoded.  Any name a reader accepts is written, "" included.
 * ADJ_EINVAL naming the problem for a NULL writer or name, a repeated
 * name, "__metadata__", a bad dtype, ndim outside
 * [0, ADJ_MAX_DIMS], a negative dimension or NULL data for a non-empty
 * tensor. */
ADJ_API adj_status adj_st_writer_add(adj_st_writer *w, const char *name, adj_st_dtype dtype,
                                     int ndim, const int64_t *shape, const void *data,
                                     adj_error *err);
/* Set a __metadata__ entry (strings copied; a key set again is replaced). */
ADJ_API adj_status adj_st_writer_meta(adj_st_writer *w, const char *key, const char *value,
                                      adj_error *err);
/* The file's bytes in a buffer from malloc (the caller frees it). */
ADJ_API adj_status adj_st_writer_encode(const adj_st_writer *w, void **bytes, size_t *n,
                                        adj_error *err);
/* Encode and write to path atomically, as adj_file_write. */
ADJ_API adj_status adj_st_writer_save(const adj_st_writer *w, const char *path, adj_error *err);

#ifdef __cplusplus
}
#endif
#endif
