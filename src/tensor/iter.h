/*
 * Internal: the one N-d iterator every strided kernel walks with.
 *
 * A loop over a shape reads and writes up to ADJ_ITER_MAX_OPS operands,
 * each with its own strides (0 along a broadcast dimension).  The
 * iterator first collapses the shape: size-1 dimensions are dropped, and
 * two neighbouring dimensions merge when every operand steps through them
 * as through one (stride[k] = stride[k+1] * shape[k+1] for all).  What is
 * left is an outer index over `runs` runs times one inner run of `inner`
 * elements, each operand stepping by `istride[o]` inside a run.  Kernels
 * write the inner loop over plain pointers and strides (a contiguous
 * operand has istride 1, a broadcast one 0), so it vectorises, and a
 * same-shape contiguous loop collapses to a single run.
 *
 *     adj_iter it;
 *     adj_iter_init(&it, ndim, shape, 2, (const int64_t *[]){ys, xs});
 *     adj_iter_pos p;
 *     adj_iter_seek(&it, 0, &p);
 *     for (int64_t r = 0; r < it.runs; r++, adj_iter_next(&it, &p))
 *         for (int64_t i = 0; i < it.inner; i++)
 *             y[yoff + p.off[0] + i * it.istride[0]] = f(x[xoff + p.off[1] + i * it.istride[1]]);
 *
 * Runs are independent of each other: a parallel loop gives each thread a
 * range of runs and starts it with adj_iter_seek.
 */
#ifndef ADJ_TENSOR_ITER_H
#define ADJ_TENSOR_ITER_H

#include "adjoint/core.h"

#include <stdint.h>

#define ADJ_ITER_MAX_OPS 6

typedef struct adj_iter {
    int nops;
    int ndim;                        /* outer dimensions left after collapsing */
    int64_t inner;                   /* elements of one run (>= 1 unless runs is 0) */
    int64_t runs;                    /* number of runs: 0 when the shape is empty */
    int64_t istride[ADJ_ITER_MAX_OPS];
    int64_t shape[ADJ_MAX_DIMS];     /* outer dimensions, slowest first */
    int64_t stride[ADJ_ITER_MAX_OPS][ADJ_MAX_DIMS];
} adj_iter;

/* Where a run starts: the outer multi-index and each operand's offset
 * (relative to the operand's own base offset). */
typedef struct adj_iter_pos {
    int64_t idx[ADJ_MAX_DIMS];
    int64_t off[ADJ_ITER_MAX_OPS];
} adj_iter_pos;

/* Set up a loop over (ndim, shape) reading nops (1..ADJ_ITER_MAX_OPS)
 * operands with strides[o][0..ndim). */
void adj_iter_init(adj_iter *it, int ndim, const int64_t *shape, int nops,
                   const int64_t *const *strides);

/* p = the start of run r (0 <= r < runs). */
void adj_iter_seek(const adj_iter *it, int64_t r, adj_iter_pos *p);

/* Advance p to the next run (a no-op after the last one wraps to 0). */
static inline void adj_iter_next(const adj_iter *it, adj_iter_pos *p)
{
    for (int k = it->ndim - 1; k >= 0; k--) {
        if (++p->idx[k] < it->shape[k]) {
            for (int o = 0; o < it->nops; o++)
                p->off[o] += it->stride[o][k];
            return;
        }
        p->idx[k] = 0;
        for (int o = 0; o < it->nops; o++)
            p->off[o] -= (it->shape[k] - 1) * it->stride[o][k];
    }
}

#endif
