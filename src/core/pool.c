/*
 * The worker pool (see pool.h).  Serial for now: every loop runs on the
 * calling thread.
 */
#include "core/pool.h"

#include <stdatomic.h>

static atomic_int threads_set = 1;

int adj_threads(void)
{
    return atomic_load_explicit(&threads_set, memory_order_relaxed);
}

void adj_pool_set_threads(int n);
void adj_pool_set_threads(int n)
{
    atomic_store_explicit(&threads_set, n < 1 ? 1 : n, memory_order_relaxed);
}

void adj_par_for(size_t n, size_t grain, adj_range_fn fn, void *ctx)
{
    (void)grain;
    if (n)
        fn(ctx, 0, n);
}
