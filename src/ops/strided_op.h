/*
 * Internal: how an op reads an operand as a strided tensor.  Every op
 * that walks its inputs with the N-d iterator (tensor/iter.h) takes their
 * layouts from here.
 *
 * A node is contiguous (its value holds numel elements in row-major
 * order) unless ADJ_F_STRIDED is set: it is then an O(1) view of another
 * node's storage, v->value points at its first element (element
 * (0, ..., 0)) and adj_ext(v)->stride holds its strides in elements, so
 * its layout has offset 0.  Adjoints and tangents are always contiguous.
 */
#ifndef ADJ_OPS_STRIDED_OP_H
#define ADJ_OPS_STRIDED_OP_H

#include "core/tape.h"
#include "tensor/layout.h"

#include <string.h>

/* Where x's elements are in x->value: its shape, strides and offset (0). */
static inline void adj_var_layout(const adj_var *x, adj_layout *l)
{
    if (!(x->flags & ADJ_F_STRIDED)) {
        adj_layout_contig(l, x->ndim, adj_cold(x)->shape);
        return;
    }
    l->ndim = x->ndim;
    l->offset = 0;
    memcpy(l->shape, adj_cold(x)->shape, (size_t)x->ndim * sizeof *l->shape);
    memcpy(l->stride, adj_ext(x)->stride, (size_t)x->ndim * sizeof *l->stride);
}

/* x's elements are x->value[0, numel) in row-major order. */
static inline bool adj_var_is_contig(const adj_var *x)
{
    return !(x->flags & ADJ_F_STRIDED);
}

#endif
