/*
 * The train command's view of the MPI ranks: thin wrappers over
 * adjoint/dist.h that print errors, and no-ops for a single process.
 */
#include "ranks.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef ADJ_HAVE_MPI
#include <adjoint/dist.h>
#endif

uint64_t adj_tool_hash(const void *data, size_t bytes, uint64_t h)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < bytes; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#ifndef ADJ_HAVE_MPI

/* The number of processes a launcher started, from its environment. */
static long launched_size(void)
{
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (!s)
        s = getenv("PMI_SIZE");
    return s ? strtol(s, NULL, 10) : 1;
}

int adj_tool_ranks_start(adj_tool_ranks *r)
{
    r->rank = 0;
    r->size = 1;
    r->dist = NULL;
    if (launched_size() > 1) {
        fprintf(stderr, "adjoint: started as one of %ld MPI processes, but this adjoint was built "
                        "without MPI (install libopenmpi-dev and rebuild with -Dmpi=enabled)\n",
                launched_size());
        return -1;
    }
    return 0;
}

void adj_tool_ranks_stop(adj_tool_ranks *r) { (void)r; }
int adj_tool_ranks_agree(adj_tool_ranks *r, int failed, const char *what)
{
    (void)r;
    (void)what;
    return failed ? -1 : 0;
}
int adj_tool_ranks_same(adj_tool_ranks *r, uint64_t value, const char *what)
{
    (void)r;
    (void)value;
    (void)what;
    return 0;
}
int adj_tool_ranks_broadcast(adj_tool_ranks *r, adj_params *p)
{
    (void)r;
    (void)p;
    return 0;
}
int adj_tool_ranks_average_grads(adj_tool_ranks *r, adj_params *p, double *seconds)
{
    (void)r;
    (void)p;
    *seconds = 0.0;
    return 0;
}
int adj_tool_ranks_sum(adj_tool_ranks *r, double *x, size_t n)
{
    (void)r;
    (void)x;
    (void)n;
    return 0;
}
int adj_tool_ranks_average_batchnorm(adj_tool_ranks *r, adj_mlp *m)
{
    (void)r;
    (void)m;
    return 0;
}
int adj_tool_ranks_check_params(adj_tool_ranks *r, adj_params *p)
{
    (void)r;
    (void)p;
    return 0;
}

#else

/* Report a failed collective (the message names the MPI call and rank). */
static int comm_error(adj_tool_ranks *r)
{
    fprintf(stderr, "adjoint: %s\n", adj_dist_message(r->dist));
    return -1;
}

int adj_tool_ranks_start(adj_tool_ranks *r)
{
    r->rank = 0;
    r->size = 1;
    r->dist = NULL;
    if (!adj_dist_launched())
        return 0;
    adj_error err;
    adj_dist *d = adj_dist_init(NULL, NULL, &err);
    if (!d) {
        fprintf(stderr, "adjoint: %s\n", err.message);
        return -1;
    }
    r->dist = d;
    r->rank = adj_dist_rank(d);
    r->size = adj_dist_size(d);
    return 0;
}

void adj_tool_ranks_stop(adj_tool_ranks *r)
{
    adj_dist_free(r->dist);
    r->dist = NULL;
}

int adj_tool_ranks_agree(adj_tool_ranks *r, int failed, const char *what)
{
    if (!r->dist)
        return failed ? -1 : 0;
    int who = -1;
    adj_status st = adj_dist_agree(r->dist, failed ? ADJ_EIO : ADJ_OK, &who);
    if (st == ADJ_OK)
        return 0;
    if (who < 0)
        return comm_error(r);
    if (!failed)
        fprintf(stderr, "adjoint: rank %d: stopping because rank %d of %d could not %s\n",
                r->rank, who, r->size, what);
    else
        fprintf(stderr, "adjoint: rank %d of %d could not %s; stopping every rank\n", r->rank,
                r->size, what);
    return -1;
}

int adj_tool_ranks_same(adj_tool_ranks *r, uint64_t value, const char *what)
{
    if (!r->dist)
        return 0;
    int same = 0;
    if (adj_dist_same(r->dist, value, &same) != ADJ_OK)
        return comm_error(r);
    if (!same) {
        if (r->rank == 0)
            fprintf(stderr, "adjoint: the %d ranks have different %s; stopping\n", r->size, what);
        return -1;
    }
    return 0;
}

int adj_tool_ranks_broadcast(adj_tool_ranks *r, adj_params *p)
{
    if (r->dist && adj_dist_broadcast_params(r->dist, p, 0) != ADJ_OK)
        return comm_error(r);
    return 0;
}

int adj_tool_ranks_average_grads(adj_tool_ranks *r, adj_params *p, double *seconds)
{
    *seconds = 0.0;
    if (!r->dist)
        return 0;
    if (adj_dist_average_grads(r->dist, p) != ADJ_OK)
        return comm_error(r);
    adj_dist_stats s;
    adj_dist_get_stats(r->dist, &s);
    *seconds = s.grad_last_seconds;
    return 0;
}

int adj_tool_ranks_sum(adj_tool_ranks *r, double *x, size_t n)
{
    if (r->dist && adj_dist_sum(r->dist, x, n) != ADJ_OK)
        return comm_error(r);
    return 0;
}

int adj_tool_ranks_average_batchnorm(adj_tool_ranks *r, adj_mlp *m)
{
    if (r->dist && adj_dist_average_batchnorm(r->dist, m) != ADJ_OK)
        return comm_error(r);
    return 0;
}

int adj_tool_ranks_check_params(adj_tool_ranks *r, adj_params *p)
{
    if (!r->dist)
        return 0;
    int same = 0;
    if (adj_dist_params_same(r->dist, p, &same) != ADJ_OK)
        return comm_error(r);
    if (!same) {
        if (r->rank == 0)
            fprintf(stderr, "adjoint: the ranks' parameters differ after training\n");
        return -1;
    }
    return 0;
}

#endif
