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

#endif
