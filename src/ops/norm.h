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

/* The float32 kernels of ops/norm_f32.c for rows of k contiguous elements
 * with one affine parameter per element (groups 1, hw 1): rows [lo, hi).
 * The forward saves (mean, rstd) like the double kernels; the backward
 * needs w and dx, and adds dy xhat to pw and dy to pb (NULL: none), the
 * float partial sums of its block of rows. */
void adj_norm_fwd_f32(const norm_plan *p, const float *x, const float *w, const float *b, float *y,
                      size_t lo, size_t hi);
void adj_norm_bwd_f32(const norm_plan *p, const float *x, const float *w, const float *dy,
                      float *dx, bool store, float *pw, float *pb, size_t lo, size_t hi);

#endif
