/*
 * Small helpers shared by the benchmarks: a monotonic clock, medians and
 * the peak resident set size.  Header-only; every benchmark is one file.
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

#endif
