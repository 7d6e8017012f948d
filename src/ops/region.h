/*
 * Internal: regions of a tensor's elements, for the incremental replay of
 * the gradient check (check/replay.c) and the ops' replay hooks.
 *
 * A region is a set of flat row-major element indices: `count` runs of
 * `len` elements, the first at `off`, each `stride` after the previous
 * one.  One element, one row and one column of a matrix are regions.
 */
#ifndef ADJ_OPS_REGION_H
#define ADJ_OPS_REGION_H

#include <stdbool.h>
#include <stddef.h>

typedef struct adj_region {
    size_t off, count, stride, len;
} adj_region;

static inline adj_region adj_reg_elem(size_t e) { return (adj_region){e, 1, 1, 1}; }
/* Row i of a (., cols) matrix. */
static inline adj_region adj_reg_row(size_t i, size_t cols)
{
    return (adj_region){i * cols, 1, cols, cols};
}
/* Column j of a (rows, cols) matrix. */
static inline adj_region adj_reg_col(size_t j, size_t rows, size_t cols)
{
    return (adj_region){j, rows, cols, 1};
}

static inline bool adj_reg_eq(adj_region a, adj_region b)
{
    return a.off == b.off && a.count == b.count && a.stride == b.stride && a.len == b.len;
}

/* The last element of r. */
static inline size_t adj_reg_last(adj_region r) { return r.off + (r.count - 1) * r.stride + r.len - 1; }

/* Every element of r in one row of a (., cols) matrix: that row. */
static inline bool adj_reg_single_row(adj_region r, size_t cols, size_t *row)
{
    if (!cols || r.off / cols != adj_reg_last(r) / cols)
        return false;
    *row = r.off / cols;
    return true;
}

/* Every element of r in one column of a (., cols) matrix: that column. */
static inline bool adj_reg_single_col(adj_region r, size_t cols, size_t *col)
{
    if (!cols || r.len != 1 || (r.count > 1 && r.stride % cols))
        return false;
    *col = r.off % cols;
    return true;
}

#endif
