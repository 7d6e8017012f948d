/*
 * Internal: what the normalisation ops (ops/norm.c, ops/batch_norm.c)
 * share: the attribute struct and the description of the rows.
 */
#ifndef ADJ_OPS_NORM_H
#define ADJ_OPS_NORM_H

#include "ops/op.h"

#include <adjoint/norm.h>

typedef struct norm_attr {
    double eps;
    int32_t arg;            /* layer_norm: normalized_ndim; group_norm: groups */
    int32_t unused;
    double *saved;          /* per row (mean, rstd) in double, in the arena */
} norm_attr;

/* x viewed as rows of k contiguous elements normalised together; the
 * affine parameter of element j of row r is (r % groups) * cpg + j / hw. */
typedef struct norm_plan {
    size_t rows, k;
    size_t groups, cpg, hw;
    bool center;            /* subtract the mean (not RMS norm) */
    double eps;
    double *saved;
} norm_plan;

#endif
