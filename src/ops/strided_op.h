/*
 * Internal: how an op reads an operand as a strided tensor.  Every op
 * that walks its inputs with the N-d iterator (tensor/iter.h) takes their
 * layouts from here.
 */
#ifndef ADJ_OPS_STRIDED_OP_H
#define ADJ_OPS_STRIDED_OP_H

#include "core/tape.h"
#include "tensor/layout.h"

/* Where x's elements are in x->value: its shape, strides and offset. */
static inline void adj_var_layout(const adj_var *x, adj_layout *l)
{
    adj_layout_contig(l, x->ndim, adj_cold(x)->shape);
}

/* x's elements are x->value[0, numel) in row-major order. */
static inline bool adj_var_is_contig(const adj_var *x)
{
    (void)x;
    return true;
}

#endif
