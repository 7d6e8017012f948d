/*
 * Internal: the kernels every view and every broadcasting op shares, on
 * plain pointers and layouts (no tape):
 *
 *   adj_strided_copy   dst = src           gather a view into contiguous
 *   adj_strided_acc    dst += alpha src    a view's backward: scatter its
 *                                          adjoint into its input's
 *   adj_reduce_bcast   dx += alpha sum(src over the broadcast dims)
 *                                          the adjoint of a broadcast
 *                                          operand, summed back to its
 *                                          shape in compensated double
 *                                          (tensor/accum.h), rounded once
 *
 * Each walks with the N-d iterator (tensor/iter.h); large loops are split
 * over the worker pool by runs, so results do not depend on the thread
 * count.  Pointers are storage bases: layouts carry the offsets.
 */
#ifndef ADJ_TENSOR_STRIDED_H
#define ADJ_TENSOR_STRIDED_H

#include "tensor/iter.h"
#include "tensor/layout.h"

#include <stddef.h>

/* dst = src elementwise, for elements of esize bytes (4 or 8); the two
 * layouts have the same shape; dst's elements are distinct. */
void adj_strided_copy(size_t esize, void *dst, const adj_layout *dl, const void *src,
                      const adj_layout *sl);

/* dst += alpha * src elementwise in dtype (ADJ_F32 or ADJ_F64), same
 * shapes.  dst may repeat elements (stride 0): they then receive the sum,
 * and the loop runs on one thread. */
void adj_strided_acc(int dtype, void *dst, const adj_layout *dl, const void *src,
                     const adj_layout *sl, double alpha);

/* Elements [lo, lo + n) in row-major order of a strided tensor, copied
 * contiguously into dst (elements of esize bytes, 4 or 8): it is a
 * one-operand iterator over the tensor's shape and strides
 * (adj_iter_init), src its storage with the offset applied.  For kernels
 * that read a strided operand a block at a time. */
void adj_iter_gather(const adj_iter *it, size_t esize, void *dst, const void *src, int64_t lo,
                     int64_t n);

/* Doubles adj_reduce_bcast keeps on the stack (two per element of x). */
#define ADJ_REDUCE_STACK 512

/* Doubles of scratch adj_reduce_bcast needs to reduce into a dx of xnumel
 * elements of dtype: 0 for small adjoints (up to ADJ_REDUCE_STACK / 2
 * elements), else 2 xnumel. */
size_t adj_reduce_scratch(int dtype, int64_t xnumel);

/*
 * dx += alpha * (src summed over the dimensions along which x was
 * broadcast to src's shape): dx is contiguous of shape (xndim, xshape),
 * which must broadcast to sl's shape (NumPy's rule).  Each element's sum
 * is kept in double, compensated, in a fixed order, and added to dx
 * rounded once, whatever the dtype; scratch holds adj_reduce_scratch()
 * doubles (NULL when that is 0).  When x has src's number of elements this is
 * adj_strided_acc.
 */
void adj_reduce_bcast(int dtype, void *dx, int xndim, const int64_t *xshape, const void *src,
                      const adj_layout *sl, double alpha, double *scratch);

#endif
