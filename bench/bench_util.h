/*
 * Small helpers shared by the benchmarks: a monotonic clock, medians, the
 * peak resident set size, the header line and the timing loop of the
 * model steps.  Header-only; every benchmark is one file.
 */
#ifndef ADJ_BENCH_UTIL_H
#define ADJ_BENCH_UTIL_H

#include <adjoint.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process (all threads): steadier than the wall
 * clock on a loaded machine. */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorts them in place). */
static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], bench_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Peak resident set size of this process so far, in MiB (ru_maxrss is KiB
 * on Linux). */
static inline double bench_peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_maxrss / 1024.0;
}

/* The benchmark's header: one line on stdout, starting with "# " (not
 * JSON, so readers that take the "{" lines skip it), naming the library
 * version, the elementwise kernels in use, BLIS's version and the
 * sub-configuration whose kernels it runs (and who chose it), and the
 * thread count.  Call it once the thread count is set. */
static inline void bench_header(const char *argv0)
{
    const char *name = argv0;
    for (const char *c = argv0; *c; c++)
        if (*c == '/')
            name = c + 1;
    adj_runtime r;
    if (adj_runtime_info(&r) != ADJ_OK)
        return;
    printf("# %s: adjoint %s; elementwise kernels %s; BLIS %s, sub-configuration %s, "
           "chosen by %s; threads %d (%s)\n",
           name, r.version, r.kernels, r.blis_version, r.blis_arch, r.blis_arch_from, r.threads,
           r.threads_from);
    fflush(stdout);
}

/* One training step of a model benchmark: returns the loss (NaN on
 * error), recording on the tape t. */
typedef double (*bench_step_fn)(void *run, adj_tape *t);

/* Random token ids and targets in [0, vocab) for a fixed batch of n
 * positions. */
static inline void bench_tokens(adj_rng *rng, int32_t *x, int32_t *y, size_t n, int vocab)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = (int32_t)(adj_rng_uniform(rng) * vocab);
        y[i] = (int32_t)(adj_rng_uniform(rng) * vocab);
    }
}

/* The timing loop of the model-step benchmarks (bench_gpt, bench_rnn):
 * prints the header, runs 5 warm-up steps, then `steps` timed one by one
 * on a tape of its own, and prints one JSON object: the median step time
 * (wall and process CPU), samples and tokens (batch x time) per second,
 * the peak RSS and the tape's arena.  Returns 0, or 1 when a step failed
 * or memory ran out. */
static inline int bench_model_steps(const char *argv0, const char *workload, const char *variant,
                                    int64_t batch, int64_t time, int threads, long steps,
                                    bench_step_fn step, void *run)
{
    double *times = malloc((size_t)steps * sizeof *times), *cpu = malloc((size_t)steps * sizeof *cpu);
    adj_tape *t = adj_tape_new();
    if (!times || !cpu || !t) {
        fprintf(stderr, "%s: out of memory\n", argv0);
        free(times), free(cpu), adj_tape_free(t);
        return 1;
    }
    bench_header(argv0);
    double loss = 0;
    for (int s = 0; s < 5; s++)
        loss = step(run, t);
    for (long s = 0; s < steps; s++) {
        double t0 = bench_now(), c0 = bench_cpu_now();
        loss = step(run, t);
        times[s] = bench_now() - t0;
        cpu[s] = bench_cpu_now() - c0;
    }
    double med = bench_median(times, (size_t)steps), cmed = bench_median(cpu, (size_t)steps);
    adj_tape_stats ts;
    adj_tape_get_stats(t, &ts);
    printf("{\"workload\": \"%s\", \"variant\": \"%s\", \"batch\": %lld, \"time\": %lld, "
           "\"threads\": %d, \"steps\": %ld, \"ms_per_step\": %.4f, \"cpu_ms\": %.4f, "
           "\"samples_per_s\": %.1f, \"tokens_per_s\": %.1f, \"peak_rss_mib\": %.1f, "
           "\"arena_peak_mib\": %.1f, \"arena_reserved_mib\": %.1f, \"nodes\": %zu, \"loss\": %.4f}\n",
           workload, variant, (long long)batch, (long long)time, threads, steps, med * 1e3, cmed * 1e3,
           (double)batch / med, (double)(batch * time) / med, bench_peak_rss_mib(),
           (double)ts.high_water / (1 << 20), (double)ts.bytes_reserved / (1 << 20), ts.nodes, loss);
    adj_tape_free(t);
    free(times), free(cpu);
    return loss == loss ? 0 : 1;
}

#endif
