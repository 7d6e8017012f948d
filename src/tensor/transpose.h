/*
 * Internal: transposing a tile, the inner step of every walk that reads
 * one layout in another's order (a unary op on a transposed view, a view's
 * copy or backward).  Square blocks (8 x 8 floats or 4 x 4 doubles with
 * AVX2, 4 x 4 and 2 x 2 with SSE2) are transposed in registers, the edges
 * element by element.  Moving elements changes no bits, and the
 * accumulating form does the scalar loop's multiply then add per element,
 * so every CPU level gives the same results.
 */
#ifndef ADJ_TENSOR_TRANSPOSE_H
#define ADJ_TENSOR_TRANSPOSE_H

#include <stddef.h>
#include <stdint.h>

/* dst[j * dld + i] = src[i * sld + j] for i < rows, j < cols; elements of
 * esize bytes (4 or 8); the tiles do not overlap. */
void adj_transpose_tile(size_t esize, void *dst, int64_t dld, const void *src, int64_t sld,
                        int64_t rows, int64_t cols);

/* dst[j * dld + i] += (T)alpha * src[i * sld + j] in dtype T (ADJ_F32 or
 * ADJ_F64), for i < rows, j < cols. */
void adj_transpose_tile_acc(int dtype, double alpha, void *dst, int64_t dld, const void *src,
                            int64_t sld, int64_t rows, int64_t cols);

#endif
