/*
 * Internal: the worker pool that splits large kernels over the threads
 * set with adj_set_threads.
 *
 * Only loops whose ranges are independent go through it: elementwise
 * maps, optimizer updates, the row or column blocks of a matrix product.
 * Each range is written by one thread.  Maps and updates give the same
 * bits whatever the thread count; a matrix product gives the same bits
 * for a given thread count (see adj_gemm in ops/gemm.c).  Reductions stay
 * sequential.
 */
#ifndef ADJ_CORE_POOL_H
#define ADJ_CORE_POOL_H

#include <stddef.h>

/* Work on elements [lo, hi) of a loop; ctx is the caller's. */
typedef void (*adj_range_fn)(void *ctx, size_t lo, size_t hi);

/*
 * Run fn over [0, n): split into one contiguous range per thread when
 * n >= 2 * grain and more than one thread is set, else fn(ctx, 0, n) on
 * the calling thread.  Range boundaries are multiples of 16 elements
 * (whole cache lines of float).  Returns when every range is done.  If
 * the pool is busy (another thread of the program is inside a loop) the
 * same ranges run one after another on the calling thread, so a kernel
 * whose bits depend on the split gives the same bits; a loop started
 * from inside a range runs whole, as fn(ctx, 0, n).  A child of fork()
 * starts with no workers and starts its own; fn must not fork.
 */
void adj_par_for(size_t n, size_t grain, adj_range_fn fn, void *ctx);

/*
 * Run fn over the n independent tasks [0, n): one task a range (several
 * when n is above 4096), range k taken first by thread k when it is
 * there, the rest by the threads as they come (on the caller alone with
 * one thread, when the pool is busy, or inside a range).  For
 * a few large pieces of work of about the same size, like the two
 * products of a layer's backward.
 */
void adj_par_tasks(size_t n, adj_range_fn fn, void *ctx);

/*
 * The part that thread self (0: the caller, i + 1: worker i) takes next
 * in a loop of `parts` parts: its own part self while that is untaken (bit
 * self of `taken` clear), else `next`, the first of the parts without an
 * owner, while next < parts, else the lowest owned part left (the part of
 * a thread that is late); `parts` when none is left.  The first parts up
 * to one a thread (at most 6) have an owner: bit k of taken is set once
 * part k is taken, and for every k that has no owner.  Which thread runs
 * a part never changes its range.
 */
unsigned adj_pool_pick(unsigned parts, unsigned next, unsigned taken, int self);

/* How many adj_par_for loops the program has cut into more than one
 * range so far (all threads): a test reads it around a call to learn
 * whether that call's loops were split. */
size_t adj_pool_split_loops(void);

/* Grain of elementwise maps: below 2 x this many elements, one thread. */
#define ADJ_PAR_GRAIN_MAP ((size_t)1 << 15)

/* Threads in effect: adj_set_threads's count, else the default (resolved
 * on first use, see adj_pool_default_threads). */
int adj_threads(void);

/* The default thread count: the first of adj_env (ADJ_NUM_THREADS),
 * omp_env (OMP_NUM_THREADS: its first count) that is a positive count,
 * else cpus (the CPUs the process may run on); clamped to 1..64.  NULL,
 * empty and malformed values are skipped. */
int adj_pool_default_threads(const char *adj_env, const char *omp_env, int cpus);

/* Where the count in effect comes from: "adj_set_threads",
 * "ADJ_NUM_THREADS", "OMP_NUM_THREADS" or "the CPUs this process may run
 * on" (a static string). */
const char *adj_pool_threads_origin(void);

#endif
