/*
 * The worker pool (see pool.h).
 *
 * threads - 1 workers, started on first use.  A loop is cut into one
 * range ("part") per thread and published by storing a new generation in
 * `claim`, with the number of parts and what is taken of them.  The caller and
 * the workers take parts by compare-and-swap on `claim` until none are
 * left, and count finished parts in `done`; the caller returns when all
 * are done.  A worker that is late (descheduled, asleep) finds its parts
 * already taken by the caller, so an overloaded machine degrades to the
 * serial loop instead of waiting on a thread that is not running.
 *
 * Part k of a loop belongs to thread k (the caller is thread 0, worker i
 * thread i + 1) for the first OWNED_MAX threads: each thread first takes
 * its own part, then the parts that have no owner in order, then any
 * owned part still untaken (adj_pool_pick).  So when every thread is
 * there, the same thread writes the same range of an output loop after
 * loop, and the next op, split the same way, reads what its own core
 * wrote; when the parts went to whoever came first, the two halves
 * swapped between the caller and a spinning worker about every other
 * loop.  Which thread runs a part never changes its range or what is
 * computed in it.
 * Between loops the workers spin for a while (the gaps between the
 * kernels of a training step are microseconds), then sleep on a
 * condition variable.
 *
 * Memory ordering: the loop's fields are written before the release
 * store of `claim` that publishes them and read after a successful
 * acquire CAS of the same generation; they are not rewritten until every
 * part of that generation is done.  Each part's results are published by
 * the release increment of `done`, which the caller reads with acquire.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "core/pool.h"
#include "adjoint/core.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

enum { MAX_THREADS = 64, SPIN = 1 << 14, ALIGN = 16 };
/* Parts of one loop: the count must fit the 13 bits it has in `claim`. */
#define MAX_PARTS ((size_t)4096)
/* `claim`: generation << 32 | parts << 19 | next << 6 | taken.  next is
 * the first part without an owner not yet taken; bit k of taken is set
 * once part k < OWNED_MAX is taken, or when it has no owner. */
enum { PARTS_SHIFT = 19, NEXT_SHIFT = 6, OWNED_MAX = 6 };
#define FIELD_MASK ((uint64_t)0x1fff)
#define TAKEN_ALL ((1u << OWNED_MAX) - 1)

static struct {
    pthread_mutex_t mu;       /* guards sleeping and start-up */
    pthread_cond_t wake;
    _Atomic uint64_t claim;   /* generation, parts and what is taken of them (above) */
    atomic_uint done;         /* parts finished in this generation */
    atomic_int sleepers;
    atomic_bool stop;
    atomic_flag busy;         /* one loop at a time */
    atomic_int threads;       /* adj_set_threads, or the default; 0: not resolved yet */
    int nworkers;
    int started_for;          /* the worker count last asked of ensure_workers */
    uint32_t start_gen;       /* generation when the workers were started */
    bool hooked;
    pthread_t th[MAX_THREADS];
    /* the current loop */
    adj_range_fn fn;
    void *ctx;
    size_t n, chunk;
} P = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .busy = ATOMIC_FLAG_INIT,
    .threads = 0,
};

/* adj_par_for loops cut into more than one range (adj_pool_split_loops) */
static atomic_size_t split_loops;

static int clamp_threads(long n) { return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n; }

/* A thread count at the start of s: digits, optionally followed by a
 * comma (OMP_NUM_THREADS may list one count per nesting level) and
 * surrounded by blanks; 0 when s is NULL, empty, or not such a count. */
static long env_count(const char *s)
{
    if (!s)
        return 0;
    while (isspace((unsigned char)*s))
        s++;
    long n = 0;
    const char *d = s;
    for (; isdigit((unsigned char)*d); d++)
        n = n < LONG_MAX / 10 - 10 ? n * 10 + (*d - '0') : LONG_MAX / 10;
    while (isspace((unsigned char)*d))
        d++;
    if (d == s || (*d && *d != ','))
        return 0;
    return n;
}

int adj_pool_default_threads(const char *adj_env, const char *omp_env, int cpus)
{
    long n = env_count(adj_env);
    if (n < 1)
        n = env_count(omp_env);
    if (n < 1)
        n = cpus;
    return clamp_threads(n);
}

/* The CPUs this process may run on (1 when that cannot be told). */
static int affinity_cpus(void)
{
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    return 1;
}

static int default_threads(void)
{
    return adj_pool_default_threads(getenv("ADJ_NUM_THREADS"), getenv("OMP_NUM_THREADS"),
                                    affinity_cpus());
}

int adj_threads(void)
{
    int n = atomic_load_explicit(&P.threads, memory_order_relaxed);
    if (n > 0)
        return n;
    /* first use without adj_set_threads: resolve the default once (a
     * concurrent adj_set_threads wins) */
    int expected = 0;
    n = default_threads();
    if (!atomic_compare_exchange_strong_explicit(&P.threads, &expected, n, memory_order_relaxed,
                                                 memory_order_relaxed))
        n = expected;
    return n;
}

/* Whether the count in effect came from adj_set_threads(n >= 1). */
static atomic_bool threads_set;

void adj_set_threads(int n)
{
    atomic_store_explicit(&threads_set, n >= 1, memory_order_relaxed);
    atomic_store_explicit(&P.threads, n < 1 ? default_threads() : clamp_threads(n),
                          memory_order_relaxed);
}

const char *adj_pool_threads_origin(void)
{
    if (atomic_load_explicit(&threads_set, memory_order_relaxed))
        return "adj_set_threads";
    if (env_count(getenv("ADJ_NUM_THREADS")) >= 1)
        return "ADJ_NUM_THREADS";
    if (env_count(getenv("OMP_NUM_THREADS")) >= 1)
        return "OMP_NUM_THREADS";
    return "the CPUs this process may run on";
}

int adj_get_threads(void) { return adj_threads(); }

/* Whether this thread is running a part of a loop (a loop inside one
 * runs whole on its thread: the nesting, not timing, decides that). */
static _Thread_local bool in_part;

unsigned adj_pool_pick(unsigned parts, unsigned next, unsigned taken, int self)
{
    if (self >= 0 && self < OWNED_MAX && !(taken >> self & 1))
        return (unsigned)self;
    if (next < parts)
        return next;
    taken = ~taken & TAKEN_ALL;
    return taken ? (unsigned)__builtin_ctz(taken) : parts;
}

/* Take and run parts of generation gen until none are left; self is the
 * thread's number (0: the caller). */
static void run_parts(uint32_t gen, int self)
{
    uint64_t c = atomic_load_explicit(&P.claim, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(c >> 32) != gen)
            return;
        const unsigned parts = (unsigned)(c >> PARTS_SHIFT & FIELD_MASK);
        const unsigned next = (unsigned)(c >> NEXT_SHIFT & FIELD_MASK);
        const unsigned k = adj_pool_pick(parts, next, (unsigned)c & TAKEN_ALL, self);
        if (k >= parts)
            return;
        /* owned parts lie below next, the first part without an owner */
        const uint64_t to = k == next ? c + ((uint64_t)1 << NEXT_SHIFT) : c | (uint64_t)1 << k;
        if (!atomic_compare_exchange_weak_explicit(&P.claim, &c, to, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        size_t lo = (size_t)k * P.chunk;
        size_t hi = lo + P.chunk < P.n ? lo + P.chunk : P.n;
        if (lo < hi)
            P.fn(P.ctx, lo, hi);
        atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
        c = atomic_load_explicit(&P.claim, memory_order_acquire);
    }
}

static uint32_t generation(void)
{
    return (uint32_t)(atomic_load_explicit(&P.claim, memory_order_acquire) >> 32);
}

static void *worker(void *arg)
{
    const int self = (int)(intptr_t)arg;
    in_part = true; /* a worker only ever runs parts */
    uint32_t seen = P.start_gen; /* every loop published after our start is ours */
    for (;;) {
        uint32_t g = seen;
        for (int i = 0; i < SPIN && g == seen; i++) {
            cpu_relax();
            g = generation();
        }
        if (g == seen) {
            pthread_mutex_lock(&P.mu);
            atomic_fetch_add(&P.sleepers, 1);
            while ((g = (uint32_t)(atomic_load(&P.claim) >> 32)) == seen)
                pthread_cond_wait(&P.wake, &P.mu);
            atomic_fetch_sub(&P.sleepers, 1);
            pthread_mutex_unlock(&P.mu);
        }
        seen = g;
        if (atomic_load_explicit(&P.stop, memory_order_acquire))
            return NULL;
        run_parts(g, self);
    }
}

/* Start a new generation (the loop's fields are set) of `parts` parts,
 * the first `owned` of them each thread k's part k, and wake sleepers. */
static uint32_t publish(unsigned parts, unsigned owned)
{
    uint32_t gen = generation() + 1;
    atomic_store_explicit(&P.done, 0, memory_order_relaxed);
    /* seq_cst: ordered before the sleepers read */
    atomic_store(&P.claim, (uint64_t)gen << 32 | (uint64_t)parts << PARTS_SHIFT |
                               (uint64_t)owned << NEXT_SHIFT | (TAKEN_ALL & ~((1u << owned) - 1)));
    if (atomic_load(&P.sleepers) > 0) {
        pthread_mutex_lock(&P.mu);
        pthread_cond_broadcast(&P.wake);
        pthread_mutex_unlock(&P.mu);
    }
    return gen;
}

/* Stop and join the workers (at exit, and when the thread count
 * changes). */
static void shutdown_workers(void)
{
    if (P.nworkers == 0)
        return;
    atomic_store(&P.stop, true);
    publish(0, 0);
    for (int i = 0; i < P.nworkers; i++)
        pthread_join(P.th[i], NULL);
    atomic_store(&P.stop, false);
    P.nworkers = 0;
    P.started_for = 0;
}

static void at_exit(void)
{
    if (atomic_flag_test_and_set(&P.busy))
        return; /* exit from inside a loop: leave the workers be */
    shutdown_workers();
    atomic_flag_clear(&P.busy);
}

/* A child of fork() has none of the parent's workers. */
static void after_fork_child(void)
{
    P.nworkers = 0;
    P.started_for = 0;
    atomic_store(&P.stop, false);
    atomic_store(&P.sleepers, 0);
    atomic_flag_clear(&P.busy);
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.wake, NULL);
}

/* Have `want` workers running (caller holds busy); false if none could
 * be started, and the loop then runs on the caller alone. */
static bool ensure_workers(int want)
{
    /* after a pthread_create failure, keep the workers that did start
     * until the thread count changes, rather than retrying every loop */
    if (P.started_for == want)
        return P.nworkers > 0;
    shutdown_workers();
    P.started_for = want;
    if (!P.hooked) {
        P.hooked = true;
        atexit(at_exit);
        pthread_atfork(NULL, NULL, after_fork_child);
    }
    P.start_gen = generation();
    for (int i = 0; i < want; i++) {
        if (pthread_create(&P.th[i], NULL, worker, (void *)(intptr_t)(i + 1)) != 0)
            break;
        P.nworkers++;
    }
    return P.nworkers > 0;
}

/* The parts of a loop one after the other on the calling thread: the same
 * ranges as on the pool, so a kernel whose bits depend on the split (a
 * matrix product) gives the same bits when the pool is busy. */
static void run_serial(size_t n, size_t chunk, adj_range_fn fn, void *ctx)
{
    for (size_t lo = 0; lo < n; lo += chunk)
        fn(ctx, lo, lo + chunk < n ? lo + chunk : n);
}

/* Run fn over [0, n) in parts of `chunk` (at most MAX_PARTS of them). */
static void run_loop(size_t n, size_t chunk, adj_range_fn fn, void *ctx)
{
    int t = adj_threads();
    if (t < 2 || n <= chunk || in_part) {
        fn(ctx, 0, n);
        return;
    }
    if (atomic_flag_test_and_set(&P.busy)) {
        run_serial(n, chunk, fn, ctx); /* another thread of the program has the pool */
        return;
    }
    if (!ensure_workers(t - 1)) {
        atomic_flag_clear(&P.busy);
        run_serial(n, chunk, fn, ctx);
        return;
    }
    P.fn = fn;
    P.ctx = ctx;
    P.n = n;
    P.chunk = chunk;
    const unsigned nparts = (unsigned)((n + chunk - 1) / chunk);
    unsigned owned = (unsigned)P.nworkers + 1;
    owned = owned < nparts ? owned : nparts;
    owned = owned < OWNED_MAX ? owned : OWNED_MAX;
    in_part = true;
    run_parts(publish(nparts, owned), 0);
    in_part = false;
    for (unsigned spins = 0;
         atomic_load_explicit(&P.done, memory_order_acquire) < nparts; spins++) {
        if (spins < 4096)
            cpu_relax();
        else
            sched_yield();
    }
    atomic_flag_clear(&P.busy);
}

void adj_par_for(size_t n, size_t grain, adj_range_fn fn, void *ctx)
{
    if (n == 0)
        return;
    if (grain < 1)
        grain = 1;
    size_t parts = (size_t)adj_threads();
    /* fewer than two grains (2 grain > n, without overflow) or one thread:
     * one range, without the division below (tens of cycles) */
    if (parts < 2 || grain > n / 2) {
        fn(ctx, 0, n);
        return;
    }
    if (parts > n / grain)
        parts = n / grain;
    size_t chunk = (n + parts - 1) / parts;
    chunk = (chunk + ALIGN - 1) / ALIGN * ALIGN;
    if (chunk < n)
        atomic_fetch_add_explicit(&split_loops, 1, memory_order_relaxed);
    run_loop(n, chunk, fn, ctx);
}

size_t adj_pool_split_loops(void) { return atomic_load_explicit(&split_loops, memory_order_relaxed); }

void adj_par_tasks(size_t n, adj_range_fn fn, void *ctx)
{
    if (n == 0)
        return;
    /* one task a part, or several when there are more than MAX_PARTS */
    run_loop(n, (n + MAX_PARTS - 1) / MAX_PARTS, fn, ctx);
}
