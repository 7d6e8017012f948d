/*
 * The machine's floating-point peak, measured: independent chains of
 * fused multiply-adds with the widest vector instructions this CPU has,
 * chosen at run time (AVX-512, else AVX2 with FMA, else plain C), in float
 * and double, on one thread and on N threads at once.  An FMA counts as
 * two FLOPs.  report.py divides the MLP step's GFLOP/s by the float figure
 * at the same thread count (its share of peak).
 *
 * Each thread updates 16 (AVX-512) or 12 (AVX2) vector accumulators,
 * c = c * m + a, one FMA each per round: enough independent chains to
 * cover the FMA latency on every unit, few enough to stay in registers.
 * The values converge to 1 (no overflow, no subnormals).  "gflops" is the
 * sum of the threads' rates, each by its own CPU time, so that other
 * processes on a shared machine do not lower it; "gflops_wall" divides by
 * the wall time from the first thread's start to the last one's end (the
 * same figure on an idle machine).  The best of `reps` runs is reported, as
 * a load only ever lowers the figure.  The clock is measured too (a chain
 * of dependent integer adds, one a cycle), so that fma_per_cycle, vector
 * FMAs per cycle and thread, can be checked against the number of FMA
 * units the core should have; it reads low where wide vectors run at a
 * lower clock than integer code.
 *
 * usage: bench_peak [threads] [reps]
 *   threads: N (default: the CPUs online); it measures
 *   1 thread, then N if N > 1.  reps: runs per figure (default 7).
 * output: a header line ("# ..."), then one JSON object per dtype and
 *   thread count (workload "fma_peak").
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PEAK_X86 1
#else
#define PEAK_X86 0
#endif

enum { ISA_C, ISA_AVX2, ISA_AVX512 };
static const char *const isa_name[] = {"c", "avx2+fma", "avx512"};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of the calling thread: what it ran, whatever else runs */
static double thread_cpu(void)
{
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* 16 (or 12) statements, one per accumulator */
#define X12(S) S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11)
#define X16(S) X12(S) S(12) S(13) S(14) S(15)

#if PEAK_X86
#define Z_INIT_PS(i) __m512 c##i = _mm512_set1_ps(1.0f + 0.001f * (i));
#define Z_STEP_PS(i) c##i = _mm512_fmadd_ps(c##i, m, a);
#define Z_SUM_PS(i) s = _mm512_add_ps(s, c##i);
__attribute__((target("avx512f"))) static double fma_avx512_f32(long rounds)
{
    __m512 m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(0.001f), s = _mm512_setzero_ps();
    X16(Z_INIT_PS)
    for (long r = 0; r < rounds; r++) {
        X16(Z_STEP_PS)
    }
    X16(Z_SUM_PS)
    return (double)_mm512_reduce_add_ps(s);
}

#define Z_INIT_PD(i) __m512d c##i = _mm512_set1_pd(1.0 + 0.001 * (i));
#define Z_STEP_PD(i) c##i = _mm512_fmadd_pd(c##i, m, a);
#define Z_SUM_PD(i) s = _mm512_add_pd(s, c##i);
__attribute__((target("avx512f"))) static double fma_avx512_f64(long rounds)
{
    __m512d m = _mm512_set1_pd(0.999), a = _mm512_set1_pd(0.001), s = _mm512_setzero_pd();
    X16(Z_INIT_PD)
    for (long r = 0; r < rounds; r++) {
        X16(Z_STEP_PD)
    }
    X16(Z_SUM_PD)
    return _mm512_reduce_add_pd(s);
}

#define Y_INIT_PS(i) __m256 c##i = _mm256_set1_ps(1.0f + 0.001f * (i));
#define Y_STEP_PS(i) c##i = _mm256_fmadd_ps(c##i, m, a);
#define Y_SUM_PS(i) s = _mm256_add_ps(s, c##i);
__attribute__((target("avx2,fma"))) static double fma_avx2_f32(long rounds)
{
    __m256 m = _mm256_set1_ps(0.999f), a = _mm256_set1_ps(0.001f), s = _mm256_setzero_ps();
    X12(Y_INIT_PS)
    for (long r = 0; r < rounds; r++) {
        X12(Y_STEP_PS)
    }
    X12(Y_SUM_PS)
    float v[8];
    _mm256_storeu_ps(v, s);
    return (double)(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]);
}

#define Y_INIT_PD(i) __m256d c##i = _mm256_set1_pd(1.0 + 0.001 * (i));
#define Y_STEP_PD(i) c##i = _mm256_fmadd_pd(c##i, m, a);
#define Y_SUM_PD(i) s = _mm256_add_pd(s, c##i);
__attribute__((target("avx2,fma"))) static double fma_avx2_f64(long rounds)
{
    __m256d m = _mm256_set1_pd(0.999), a = _mm256_set1_pd(0.001), s = _mm256_setzero_pd();
    X12(Y_INIT_PD)
    for (long r = 0; r < rounds; r++) {
        X12(Y_STEP_PD)
    }
    X12(Y_SUM_PD)
    double v[4];
    _mm256_storeu_pd(v, s);
    return v[0] + v[1] + v[2] + v[3];
}
#endif

/* the portable fallback: a multiply and an add (the build does not fuse
 * them), counted as one FMA */
#define C_INIT(i) elem c##i = (elem)(1.0 + 0.001 * (i));
#define C_STEP(i) c##i = c##i * m + a;
#define C_SUM(i) s += c##i;
#define C_KERNEL(name, T)                                                                          \
    static double name(long rounds)                                                                \
    {                                                                                              \
        typedef T elem;                                                                            \
        elem m = (elem)0.999, a = (elem)0.001, s = 0;                                              \
        X16(C_INIT)                                                                                \
        for (long r = 0; r < rounds; r++) {                                                        \
            X16(C_STEP)                                                                            \
        }                                                                                          \
        X16(C_SUM)                                                                                 \
        return (double)s;                                                                          \
    }
C_KERNEL(fma_c_f32, float)
C_KERNEL(fma_c_f64, double)

typedef struct kernel {
    double (*run)(long rounds);
    int fma_per_round; /* lanes x accumulators */
} kernel;

static int detect(void)
{
#if PEAK_X86
    __builtin_cpu_init();
    /* libgcc's and compiler-rt's checks include the OS's XGETBV state */
    if (__builtin_cpu_supports("avx512f"))
        return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return ISA_AVX2;
#endif
    return ISA_C;
}

static kernel kernel_for(int isa, int f64)
{
#if PEAK_X86
    if (isa == ISA_AVX512)
        return f64 ? (kernel){fma_avx512_f64, 8 * 16} : (kernel){fma_avx512_f32, 16 * 16};
    if (isa == ISA_AVX2)
        return f64 ? (kernel){fma_avx2_f64, 4 * 12} : (kernel){fma_avx2_f32, 8 * 12};
#endif
    (void)isa;
    return f64 ? (kernel){fma_c_f64, 16} : (kernel){fma_c_f32, 16};
}

typedef struct job {
    kernel k;
    long rounds;
    pthread_barrier_t *go;
    double t0, t1, cpu, sink;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    pthread_barrier_wait(j->go);
    j->t0 = now();
    double c0 = thread_cpu();
    j->sink = j->k.run(j->rounds);
    j->cpu = thread_cpu() - c0;
    j->t1 = now();
    return NULL;
}

/* FMAs per second of `threads` threads running k at once (one run), by
 * the wall clock (from the first start to the last end) and in *cpu by
 * each thread's CPU time (the sum of the threads' rates) */
static double run_once(kernel k, int threads, long rounds, double *cpu, double *sink)
{
    job jobs[256];
    pthread_t tid[256];
    pthread_barrier_t go;
    if (pthread_barrier_init(&go, NULL, (unsigned)threads) != 0)
        return -1;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){.k = k, .rounds = rounds, .go = &go};
        if (i > 0 && pthread_create(&tid[i], NULL, worker, &jobs[i]) != 0)
            return -1;
    }
    worker(&jobs[0]);
    double t0 = jobs[0].t0, t1 = jobs[0].t1, per = (double)rounds * k.fma_per_round;
    for (int i = 1; i < threads; i++) {
        pthread_join(tid[i], NULL);
        t0 = fmin(t0, jobs[i].t0);
        t1 = fmax(t1, jobs[i].t1);
    }
    *cpu = 0;
    for (int i = 0; i < threads; i++) {
        *cpu += per / jobs[i].cpu;
        *sink += jobs[i].sink;
    }
    pthread_barrier_destroy(&go);
    return threads * per / (t1 - t0);
}

/* the clock of one core in GHz, by the thread's CPU time: dependent
 * register-to-register integer adds, one a cycle (an add of a constant
 * can be done at renaming on recent cores, without a cycle) */
static double clock_ghz(int reps)
{
#if PEAK_X86
    const long rounds = 4000000;
    double best = 0;
    for (int r = 0; r < reps; r++) {
        long x = r, one = 1;
        double t0 = thread_cpu();
        for (long i = 0; i < rounds; i++)
            __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
                             : "+r"(x)
                             : "r"(one));
        double ghz = 8.0 * (double)rounds / (thread_cpu() - t0) / 1e9;
        best = x > 0 && ghz > best ? ghz : best;
    }
    return best;
#else
    (void)reps;
    return 0;
#endif
}

static int cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n <= 256 ? (int)n : 1;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : cpus();
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (threads < 1 || threads > 256 || reps < 1) {
        fprintf(stderr, "usage: bench_peak [threads (1-256)] [reps]\n");
        return 2;
    }
    int isa = detect();
    double ghz = clock_ghz(reps);
    printf("# bench_peak: FMA chains with %s (detected at run time); threads 1 and %d\n", isa_name[isa],
           threads);
    double sink = 0;
    for (int f64 = 0; f64 < 2; f64++) {
        kernel k = kernel_for(isa, f64);
        /* about 50 ms a run on one thread */
        long rounds = 1000;
        double cpu, rate = run_once(k, 1, rounds, &cpu, &sink);
        if (rate > 0)
            rounds = (long)fmax(1000.0, 0.05 * rate / k.fma_per_round);
        const int counts[2] = {1, threads};
        for (int i = 0; i < (threads > 1 ? 2 : 1); i++) {
            int t = counts[i];
            double best = 0, best_cpu = 0;
            for (int r = 0; r < reps; r++) {
                best = fmax(best, run_once(k, t, rounds, &cpu, &sink));
                best_cpu = fmax(best_cpu, cpu);
            }
            if (best <= 0) {
                fprintf(stderr, "bench_peak: cannot start %d threads\n", t);
                return 1;
            }
            int lanes = isa == ISA_AVX512 ? (f64 ? 8 : 16) : isa == ISA_AVX2 ? (f64 ? 4 : 8) : 1;
            printf("{\"workload\": \"fma_peak\", \"isa\": \"%s\", \"dtype\": \"%s\", \"lanes\": %d, "
                   "\"threads\": %d, \"gflops\": %.1f, \"gflops_per_thread\": %.1f, "
                   "\"gflops_wall\": %.1f, \"ghz\": %.2f, \"fma_per_cycle\": %.2f}\n",
                   isa_name[isa], f64 ? "f64" : "f32", lanes, t, 2 * best_cpu / 1e9, 2 * best_cpu / 1e9 / t,
                   2 * best / 1e9, ghz, ghz > 0 ? best_cpu / t / lanes / (ghz * 1e9) : 0.0);
        }
    }
    fflush(stdout);
    return sink == sink ? 0 : 1;
}
