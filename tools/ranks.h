/*
 * The ranks of a data-parallel `adjoint train` (mpirun -np N adjoint
 * train ...).  A process not started by an MPI launcher, or a program
 * built without MPI, is rank 0 of 1 and every call below is a no-op that
 * succeeds, so the training loop has a single code path.
 *
 * Each function returns 0 on success and -1 after printing why on stderr
 * (every rank returns -1 together: the calls are collective).
 */
#ifndef ADJ_TOOLS_RANKS_H
#define ADJ_TOOLS_RANKS_H

#include <adjoint.h>

typedef struct adj_tool_ranks {
    int rank, size;
    void *dist; /* the adj_dist handle when running over MPI */
} adj_tool_ranks;

/* Join the ranks: initialise MPI when launched by mpirun (and the program
 * has MPI); refuse to run as N independent copies when launched by mpirun
 * without MPI support. */
int adj_tool_ranks_start(adj_tool_ranks *r);
/* Leave (MPI_Finalize when started). */
void adj_tool_ranks_stop(adj_tool_ranks *r);

/* Every rank says whether it failed at `what` ("load the data"); if any
 * did, the others print "adjoint: rank K of N could not <what>; stopping"
 * and all return -1.  The failing rank printed its own reason before. */
int adj_tool_ranks_agree(adj_tool_ranks *r, int failed, const char *what);
/* -1 (with "the ranks have different <what>") unless every rank passed
 * the same value. */
int adj_tool_ranks_same(adj_tool_ranks *r, uint64_t value, const char *what);

/* Rank 0's parameter values to every rank. */
int adj_tool_ranks_broadcast(adj_tool_ranks *r, adj_params *p);
/* Average the gradient block over the ranks (one all-reduce); *seconds
 * gets the all-reduce's wall time (0 for one process). */
int adj_tool_ranks_average_grads(adj_tool_ranks *r, adj_params *p, double *seconds);
/* x = sum over ranks of x (n doubles). */
int adj_tool_ranks_sum(adj_tool_ranks *r, double *x, size_t n);
/* Average the batch norms' running statistics over the ranks. */
int adj_tool_ranks_average_batchnorm(adj_tool_ranks *r, adj_mlp *m);
/* -1 unless every rank holds bit-identical parameter values. */
int adj_tool_ranks_check_params(adj_tool_ranks *r, adj_params *p);

/* 64-bit FNV-1a over bytes, continuing from h (start: 0xcbf29ce484222325). */
uint64_t adj_tool_hash(const void *data, size_t bytes, uint64_t h);

#endif
