/*
 * Internal: incremental replay of a recorded function for gradient
 * checking.  The function is recorded once; after one element of one input
 * changes (in place: the inputs are views), adj_replay_eval recomputes only
 * the nodes that depend on it, and within them only the region that
 * changes, reads f, and restores every recomputed value from a snapshot of
 * the base evaluation.
 */
#ifndef ADJ_CHECK_REPLAY_H
#define ADJ_CHECK_REPLAY_H

#include "core/tape.h"

typedef struct adj_replay adj_replay;

/* Prepare the replay of the graph on t (recorded at the base point) whose
 * output is y and whose inputs are the leaves inputs[0..n-1] (views of the
 * memory the caller perturbs).  Allocates everything evaluations need;
 * NULL when out of memory. */
adj_replay *adj_replay_new(adj_tape *t, adj_var *y, int n, adj_var *const *inputs);

/* f after element j of input i changed: recompute what depends on it, read
 * f, restore the base values.  No allocation. */
double adj_replay_eval(adj_replay *r, int i, size_t j);

void adj_replay_free(adj_replay *r);

#endif
