/*
 * Internal: the AVX-512 float kernels of max_pool2d 2x2 stride 2 without
 * padding (ops/pool22.c), one (H, W) plane at a time with its (Ho, Wo)
 * output and one byte per output for the maximum's corner (0, 1 the
 * window's first row, 2, 3 its second).  Only where ADJ_VM_DISPATCH is
 * set, and only to be called when adj_vm_level() is ADJ_VM_AVX512.
 */
#ifndef ADJ_OPS_POOL22_H
#define ADJ_OPS_POOL22_H

#include <stdint.h>

/* y and the corners of one plane of x */
void adj_mp22_fwd_f32_avx512(const float *x, float *y, uint8_t *code, int64_t H, int64_t W,
                             int64_t Ho, int64_t Wo);
/* every element of one plane of dx: dy at each window's corner, 0 elsewhere */
void adj_mp22_bwd_f32_avx512(const float *dy, const uint8_t *code, float *dx, int64_t H,
                             int64_t W, int64_t Ho, int64_t Wo);

#endif
