/*
 * adjoint/dist.h — data-parallel training over MPI (optional component).
 *
 * Built only when Meson finds MPI (-Dmpi=auto|enabled); it is a separate
 * library, libadjoint_dist (pkg-config adjoint-dist), so the core library
 * never depends on MPI.  This header includes <mpi.h>.
 *
 * Every rank holds a full copy of the model.  Per step each rank runs
 * forward and backward on its own shard of the global batch, then one
 * all-reduce averages the store's contiguous gradient block, and every
 * rank takes the same optimizer step, so the parameters stay identical:
 *
 *     adj_error err;
 *     adj_dist *d = adj_dist_init(&argc, &argv, &err);    // or adj_dist_from_comm
 *     adj_dist_broadcast_params(d, adj_mlp_params(m), 0); // start identical
 *     ...per step: zero_grad; forward + backward on rows
 *            [B*rank/size, B*(rank+1)/size) of the global batch;
 *         adj_dist_average_grads(d, adj_mlp_params(m));   // one MPI_Allreduce
 *         adj_optim_step(opt);
 *     adj_dist_free(d);                                    // MPI_Finalize if init'd
 *
 * Every function here is collective over the handle's communicator: all
 * ranks must call it, in the same order, or they wait for each other.
 * adj_dist_agree exists so that a rank that fails locally (a file it
 * cannot read, a non-finite loss) can tell the others before the next
 * collective, and every rank stops instead of waiting forever.
 *
 * Errors: the handle's communicator returns MPI errors instead of aborting
 * (MPI_ERRORS_RETURN).  A failed MPI call is ADJ_EIO with MPI's own text
 * in adj_dist_message; it is sticky: later collectives on the handle do
 * nothing and return the same status, since the ranks can no longer be
 * assumed to be in step.
 */
#ifndef ADJOINT_DIST_H
#define ADJOINT_DIST_H

#include <mpi.h>

#include "core.h"
#include "nn.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct adj_dist adj_dist;

/* 1 if the environment says this process was started by an MPI launcher
 * (Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, PMIx launchers PMIX_RANK,
 * MPICH/Slurm PMI_RANK), else 0.  Not collective; reads the environment
 * only, so a program can decide whether to call adj_dist_init at all. */
ADJ_API int adj_dist_launched(void);

/* Initialise MPI if it is not yet (MPI_Init_thread, MPI_THREAD_FUNNELED:
 * only the calling thread makes MPI calls; BLIS may run its own threads)
 * and return a handle on a duplicate of MPI_COMM_WORLD.  The handle
 * finalises MPI in adj_dist_free when, and only when, it initialised it.
 * argc/argv may be NULL.  NULL on failure with the reason in err. */
ADJ_API adj_dist *adj_dist_init(int *argc, char ***argv, adj_error *err);
/* A handle on a duplicate of `comm` (MPI already initialised by the
 * caller, who also finalises it).  Collective over comm.  NULL on
 * failure with the reason in err. */
ADJ_API adj_dist *adj_dist_from_comm(MPI_Comm comm, adj_error *err);
/* Free the duplicate communicator, then MPI_Finalize if adj_dist_init
 * initialised MPI.  Collective.  NULL is a no-op. */
ADJ_API void adj_dist_free(adj_dist *d);

/* This process's rank in [0, size) and the number of ranks (0 and 1 for
 * a NULL handle, so single-process code needs no special case). */
ADJ_API int adj_dist_rank(const adj_dist *d);
ADJ_API int adj_dist_size(const adj_dist *d);
/* The handle's (duplicated) communicator, owned by the handle. */
ADJ_API MPI_Comm adj_dist_comm(const adj_dist *d);
/* ADJ_OK, or the sticky error of the first failed MPI call. */
ADJ_API adj_status adj_dist_status(const adj_dist *d);
/* What failed ("adj_dist_average_grads: MPI_Allreduce: ..."); "" if OK. */
ADJ_API const char *adj_dist_message(const adj_dist *d);

/* Copy root's parameter values (the whole contiguous value block, one
 * MPI_Bcast) to every rank.  Every rank's store must have the same dtype
 * and element count: checked collectively first, ADJ_ESHAPE (with the
 * counts in the message) on every rank if any differs. */
ADJ_API adj_status adj_dist_broadcast_params(adj_dist *d, adj_params *p, int root);

/* g = (1/size) sum_ranks g over the store's whole gradient block: one
 * in-place MPI_Allreduce (MPI_SUM, MPI_FLOAT or MPI_DOUBLE by the store's
 * dtype) then one scaling loop; the reduction covers every tensor at once
 * (a store of more than INT_MAX elements takes one call per INT_MAX).
 * Each rank should have back-propagated a loss that is the mean over
 * equally many rows; then the result is the gradient of the mean over all
 * ranks' rows.  The call's wall time (MPI_Wtime) goes into the stats. */
ADJ_API adj_status adj_dist_average_grads(adj_dist *d, adj_params *p);

/* x = sum_ranks x, or x = (1/size) sum_ranks x, in place (n doubles). */
ADJ_API adj_status adj_dist_sum(adj_dist *d, double *x, size_t n);
ADJ_API adj_status adj_dist_average(adj_dist *d, double *x, size_t n);

/* Agreement on local outcomes: every rank passes its own status; every
 * rank gets back the largest status of all ranks (ADJ_OK iff every rank
 * passed ADJ_OK) and, in *rank (may be NULL), the lowest rank that passed
 * it (-1 when all are ADJ_OK).  If the exchange itself fails the result is
 * ADJ_EIO and *rank is -1. */
ADJ_API adj_status adj_dist_agree(adj_dist *d, adj_status mine, int *rank);

/* *same = 1 if every rank passed the same value, else 0 (one all-reduce). */
ADJ_API adj_status adj_dist_same(adj_dist *d, uint64_t value, int *same);
/* 64-bit FNV-1a of `bytes` bytes, continuing from h (start with
 * ADJ_DIST_HASH_INIT).  Not collective. */
#define ADJ_DIST_HASH_INIT 0xcbf29ce484222325ULL
ADJ_API uint64_t adj_dist_hash(const void *data, size_t bytes, uint64_t h);
/* *same = 1 if every rank's parameter values are bit-identical (compares
 * a hash of the value block across ranks). */
ADJ_API adj_status adj_dist_params_same(adj_dist *d, adj_params *p, int *same);

/* Average the running mean and variance of every batch norm of m across
 * ranks (each rank's are computed over its local shards).  The running
 * mean is then exactly the running mean of the global batches' means when
 * the shards are of equal size; the variance is the mean of the shards'
 * variances, which leaves out the spread between shard means. */
ADJ_API adj_status adj_dist_average_batchnorm(adj_dist *d, adj_mlp *m);

typedef struct adj_dist_stats {
    int64_t grad_allreduces;  /* adj_dist_average_grads calls */
    double grad_seconds;      /* their total wall time (MPI_Wtime) */
    double grad_last_seconds; /* the last one's */
    size_t grad_bytes;        /* bytes reduced per call */
} adj_dist_stats;
ADJ_API void adj_dist_get_stats(const adj_dist *d, adj_dist_stats *out);

/* The trainer's data-parallel hooks over d (train.h): rank and size of d,
 * average_grads = adj_dist_average_grads, sum = adj_dist_sum, agree =
 * adj_dist_agree, average_buffers = adj_dist_average_batchnorm of an
 * "mlp" model (other models: nothing to average).  A hook that fails
 * leaves its reason in adj_dist_message.  d must outlive the training;
 * ADJ_EINVAL for a NULL d or out. */
ADJ_API adj_status adj_dist_train_comm(adj_dist *d, adj_train_comm *out);

#ifdef __cplusplus
}
#endif
#endif
