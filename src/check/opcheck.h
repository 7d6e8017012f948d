/*
 * Internal: the op-table checks with one input fed as a non-contiguous
 * view (src/check/opcheck.c).  adj_gradcheck_op, adj_gradgradcheck_op and
 * adj_jvpcheck_op are these with ADJ_FEED_PLAIN.
 *
 * A fed input holds the same values as the plain one, but is read by the
 * op through a strided layout: a view of a larger contiguous copy made on
 * the tape from the checked leaf (so the gradient and the tangent flow
 * back to the leaf through the view and the copy).
 */
#ifndef ADJ_CHECK_OPCHECK_H
#define ADJ_CHECK_OPCHECK_H

#include "adjoint/check.h"
#include "adjoint/forward.h"

enum {
    ADJ_FEED_PLAIN,      /* the leaf itself (contiguous) */
    ADJ_FEED_TRANSPOSED, /* the last two axes swapped back from a transposed copy
                            (1-D: as ADJ_FEED_STEP) */
    ADJ_FEED_STEP,       /* every other element of a copy holding each twice
                            (stride 2 along the last axis) */
    ADJ_FEED_REVERSED,   /* axis 0 reversed back from a reversed copy (negative
                            stride) */
    ADJ_FEED_KINDS
};

/* The feed's name for messages ("transposed"). */
const char *adj_feed_name(int feed);

/* adj_gradcheck_op with float input `input` (0-based among the case's
 * inputs; -1: none) fed as `feed`.  ADJ_EINVAL for an index input or one
 * out of range.  `describe` says which input was fed how. */
adj_status adj_gradcheck_op_fed(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                                int input, int feed, adj_gradcheck_report *rep, char *describe,
                                size_t describe_size);

/* adj_gradgradcheck_op with input `input` fed as `feed`. */
adj_status adj_gradgradcheck_op_fed(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                                    int input, int feed, adj_gradcheck_report *rep,
                                    char *describe, size_t describe_size);

/* adj_jvpcheck_op with input `input` fed as `feed`. */
adj_status adj_jvpcheck_op_fed(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed, int input,
                               int feed, adj_jvpcheck_report *rep);

#endif
