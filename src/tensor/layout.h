/*
 * Internal: the layout of a tensor in its storage, and the view
 * transforms on it.  No tape, no op: plain functions on plain structs.
 *
 * A tensor is a storage plus a layout: element (i0, ..., i{n-1}) lives at
 * storage[offset + sum_k i_k * stride[k]].  Strides and offsets count
 * elements, not bytes.  A stride of 0 repeats one element along a
 * dimension (a broadcast); a negative stride walks the storage backwards
 * (a reversed slice).  A 0-D layout has one element, at offset.
 *
 * Every view is a function from the layout of its input to its own.
 * Applied to the input's storage layout it says where the view reads;
 * applied to the contiguous layout of the input's shape it says which
 * elements of the input's (contiguous) adjoint each element of the view
 * belongs to, which is what the view's backward needs.
 *
 * The transforms take axes and indices as the user gave them (negative
 * counts from the end, as in Python) and return false, leaving *out
 * unspecified, when they do not apply; the op that calls them says why.
 */
#ifndef ADJ_TENSOR_LAYOUT_H
#define ADJ_TENSOR_LAYOUT_H

#include "adjoint/core.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct adj_layout {
    int ndim;
    int64_t shape[ADJ_MAX_DIMS];
    int64_t stride[ADJ_MAX_DIMS];   /* elements */
    int64_t offset;                 /* elements from the start of the storage */
} adj_layout;

/* Row-major strides of shape: stride[n-1] = 1, stride[k] = stride[k+1] shape[k+1]. */
void adj_contig_strides(int ndim, const int64_t *shape, int64_t *stride);

/* l = the row-major layout of shape at offset 0 (0 <= ndim <= ADJ_MAX_DIMS). */
void adj_layout_contig(adj_layout *l, int ndim, const int64_t *shape);

/* Number of elements (1 for 0-D; 0 when a dimension is 0).  No overflow
 * check: layouts are only built from shapes already counted. */
int64_t adj_layout_numel(const adj_layout *l);

/* True when the elements are l->offset + [0, numel) in row-major order
 * (strides of size-1 dimensions do not matter; an empty layout is
 * contiguous). */
bool adj_layout_is_contig(const adj_layout *l);

/* An axis given as in Python (-ndim..ndim-1) -> 0..ndim-1, or -1 when out
 * of range. */
int adj_axis_norm(int64_t axis, int ndim);

/*
 * NumPy's broadcast rule: shapes are aligned at their last dimension,
 * missing leading dimensions count as 1, and two sizes agree when equal
 * or when one of them is 1 (the result takes the other).  Writes the
 * result's rank and shape; false when a pair of sizes disagrees.  out may
 * alias a or b.
 */
bool adj_bcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                     int64_t *out);

/*
 * The strides that read l as if it had the (broadcast) shape (ndim,
 * shape): l's own stride along a dimension of equal size, 0 along a
 * dimension l has as 1 or lacks.  False when l does not broadcast to the
 * shape.  Size-1 dimensions of the target get stride 0.
 */
bool adj_bcast_strides(const adj_layout *l, int ndim, const int64_t *shape, int64_t *stride);

/* ---------------------------------------------------------------- views */

/* Swap axes a and b. */
bool adj_layout_transpose(const adj_layout *l, int64_t a, int64_t b, adj_layout *out);

/* out dimension k = l's dimension perm[k]; perm a permutation of the axes
 * (negative entries count from the end). */
bool adj_layout_permute(const adj_layout *l, const int *perm, adj_layout *out);

/*
 * Python's slice.indices(n) for start:stop:step: negative start and stop
 * count from the end, both are then clamped to the valid range (so
 * INT64_MIN and INT64_MAX stand for "from the very start / to the very
 * end" whatever the step's sign).  Writes the first index and the length.
 * False when step is 0 or INT64_MIN.
 */
bool adj_slice_norm(int64_t n, int64_t start, int64_t stop, int64_t step, int64_t *first,
                    int64_t *len);

/* Elements start:stop:step of axis (Python's rules, adj_slice_norm). */
bool adj_layout_slice(const adj_layout *l, int64_t axis, int64_t start, int64_t stop,
                      int64_t step, adj_layout *out);

/* Element index of axis, the axis dropped (negative index from the end). */
bool adj_layout_select(const adj_layout *l, int64_t axis, int64_t index, adj_layout *out);

/* Broadcast to (ndim, shape) with stride 0 (NumPy's broadcast_to; a -1 in
 * shape keeps l's size of that dimension).  ndim >= l->ndim. */
bool adj_layout_expand(const adj_layout *l, int ndim, const int64_t *shape, adj_layout *out);

/* Insert a size-1 dimension before axis (-ndim-1..ndim). */
bool adj_layout_unsqueeze(const adj_layout *l, int64_t axis, adj_layout *out);

/* Drop axis, which must have size 1. */
bool adj_layout_squeeze(const adj_layout *l, int64_t axis, adj_layout *out);

/*
 * The new shape with its one -1 (if any) replaced by the size that keeps
 * numel elements.  False when there is more than one -1, a size below -1,
 * a -1 that cannot be inferred (the others' product is 0 or does not
 * divide numel), or the product differs from numel.
 */
bool adj_shape_infer(int64_t numel, int ndim, const int64_t *shape, int64_t *out);

/*
 * The same elements in row-major order as (ndim, shape) without copying:
 * true and *out when l's strides allow it (each run of merged dimensions
 * must be contiguous with respect to itself, as NumPy and PyTorch
 * require), false when a copy is needed.  shape has no -1 (adj_shape_infer)
 * and the same number of elements as l.
 */
bool adj_layout_reshape(const adj_layout *l, int ndim, const int64_t *shape, adj_layout *out);

/* Merge axes from..to (inclusive, negative from the end) into one;
 * false when they do not exist or are not mergeable without a copy. */
bool adj_layout_flatten(const adj_layout *l, int64_t from, int64_t to, adj_layout *out);

#endif
