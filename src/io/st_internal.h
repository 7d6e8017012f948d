/*
 * Internal layout of a safetensors file that was read (src/io/safetensors.c,
 * src/io/st_write.c).
 */
#ifndef ADJ_IO_ST_INTERNAL_H
#define ADJ_IO_ST_INTERNAL_H

#include "adjoint/safetensors.h"
#include "core/error.h"

struct adj_safetensors {
    int count, nmeta;
    adj_st_tensor *tensors; /* names from malloc */
    char **meta_keys, **meta_values;
    unsigned char *bytes; /* the data section */
    size_t data_len;
};

/* Copy tensor `name` of f into dst (numel elements of dtype), after
 * checking its shape against (ndim, shape), and mark it in used[];
 * ADJ_EFORMAT naming path and the tensor when it is missing, of another
 * shape or not floating-point (src/io/model_file.c). */
adj_status adj_io_st_take(const adj_safetensors *f, unsigned char *used, const char *path,
                          const char *name, int ndim, const int64_t *shape, adj_dtype dtype, void *dst,
                          adj_error *err);

#endif
