/*
 * Views benchmark: what reading through a view costs, forward and
 * backward (record, then backward, median ms of several steps on one
 * reused tape), in float32:
 *
 *   matmul_tview    adj_matmul(x, adj_transpose(w))     (256,784)(256,784)^T
 *   matmul_t        adj_matmul_t(x, w, 0, 1)            the same product
 *   mlp_natural     relu(matmul(h, transpose(w)) + b) x3, the MLP of
 *                   bench_mlp (784-256-256-10, batch 64), loss and SGD
 *   mlp_tuned       the same with adj_linear
 *   ew_contig       exp(x), x (1024,1024), then sum
 *   ew_tview        exp(transpose(x)), then sum
 *   bmm             (B*H=32) x (T=128, D=64) @ (D, T): adj_matmul of 4-D
 *                   operands (8,4,128,64)(8,4,64,128), then sum
 *
 * Each workload and the one it is compared with (matmul_tview and
 * matmul_t, mlp_natural and mlp_tuned, ew_contig and ew_tview) run
 * alternately in one loop, each on its own tape (time_pair).
 *
 * usage: bench_views [threads] [reps]   (threads 0: the default count)
 * output: one JSON object per workload.
 */
#include <adjoint.h>

#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef adj_var *(*build_fn)(adj_tape *t, void *ctx);

/* CPU seconds of the whole process (all threads): steadier than the wall
 * clock on a loaded machine. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double last_cpu_ms;

/* One step (reset, record, backward) on tape t: its wall and CPU ms. */
static void one_step(adj_tape *t, build_fn fn, void *ctx, double *ms, double *cpu, double *check)
{
    adj_tape_reset(t);
    double c0 = cpu_now();
    double t0 = bench_now();
    adj_var *f = fn(t, ctx);
    if (adj_backward(f) != ADJ_OK) {
        fprintf(stderr, "bench_views: %s\n", adj_tape_message(t));
        exit(1);
    }
    *ms = (bench_now() - t0) * 1e3;
    *cpu = (cpu_now() - c0) * 1e3;
    *check = adj_item(f);
}

/*
 * Two workloads compared with each other (a view against its tuned
 * form) are timed alike: each on a tape of its own with one warm-up step,
 * then their steps alternate (A B B A ...), so neither runs first on
 * a cold process or in a quieter moment of a loaded machine.  Median ms
 * of record + backward over reps steps each; the median CPU ms in cpu[].
 */
static void time_pair(build_fn fa, void *ca, build_fn fb, void *cb, int reps, double ms_out[2],
                      double cpu_out[2], double check[2])
{
    adj_tape *t[2] = {adj_tape_new(), adj_tape_new()};
    build_fn fn[2] = {fa, fb};
    void *ctx[2] = {ca, cb};
    double *ms[2], *cpu[2];
    for (int v = 0; v < 2; v++) {
        ms[v] = malloc(sizeof *ms[v] * (size_t)reps);
        cpu[v] = malloc(sizeof *cpu[v] * (size_t)reps);
    }
    double w0, w1;
    for (int v = 0; v < 2; v++)
        one_step(t[v], fn[v], ctx[v], &w0, &w1, &check[v]);
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < 2; i++) {
            int v = (r & 1) ? 1 - i : i;
            one_step(t[v], fn[v], ctx[v], &ms[v][r], &cpu[v][r], &check[v]);
        }
    for (int v = 0; v < 2; v++) {
        ms_out[v] = bench_median(ms[v], (size_t)reps);
        cpu_out[v] = bench_median(cpu[v], (size_t)reps);
        free(ms[v]);
        free(cpu[v]);
        adj_tape_free(t[v]);
    }
}

/* Median ms of record + backward over reps steps (one warm-up); the
 * median CPU ms in last_cpu_ms. */
static double time_steps(build_fn fn, void *ctx, int reps, double *check)
{
    adj_tape *t = adj_tape_new();
    double *ms = malloc(sizeof *ms * (size_t)reps), *cpu = malloc(sizeof *cpu * (size_t)reps);
    double w0, w1;
    one_step(t, fn, ctx, &w0, &w1, check);
    for (int r = 0; r < reps; r++)
        one_step(t, fn, ctx, &ms[r], &cpu[r], check);
    double m = bench_median(ms, (size_t)reps);
    last_cpu_ms = bench_median(cpu, (size_t)reps);
    free(ms);
    free(cpu);
    adj_tape_free(t);
    return m;
}

static float *randn(size_t n, adj_rng *rng, double scale)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(scale * adj_rng_uniform_range(rng, -1.0, 1.0));
    return p;
}

/* --------------------------------------------------------------- matmul */

typedef struct mm {
    float *x, *w;
    int64_t m, k, n;
} mm;

static adj_var *mm_tview(adj_tape *t, void *ctx)
{
    mm *c = ctx;
    adj_var *x = adj_tensor_f32(t, 2, (int64_t[]){c->m, c->k}, c->x);
    adj_var *w = adj_tensor_f32(t, 2, (int64_t[]){c->n, c->k}, c->w);
    return adj_sum(adj_matmul(x, adj_transpose(w)));
}

static adj_var *mm_t(adj_tape *t, void *ctx)
{
    mm *c = ctx;
    adj_var *x = adj_tensor_f32(t, 2, (int64_t[]){c->m, c->k}, c->x);
    adj_var *w = adj_tensor_f32(t, 2, (int64_t[]){c->n, c->k}, c->w);
    return adj_sum(adj_matmul_t(x, w, 0, 1));
}

/* ------------------------------------------------------------------ MLP */

enum { IN = 784, H = 256, OUT = 10, BATCH = 64 };

typedef struct mlp {
    float *x, *w[3], *b[3];
    int32_t labels[BATCH];
    int natural;
} mlp;

static adj_var *mlp_step(adj_tape *t, void *ctx)
{
    mlp *c = ctx;
    static const int64_t sz[4] = {IN, H, H, OUT};
    adj_var *h = adj_constant_f32(t, 2, (int64_t[]){BATCH, IN}, c->x);
    for (int k = 0; k < 3; k++) {
        adj_var *w = adj_tensor_f32(t, 2, (int64_t[]){sz[k + 1], sz[k]}, c->w[k]);
        adj_var *b = adj_tensor_f32(t, 1, (int64_t[]){sz[k + 1]}, c->b[k]);
        adj_var *z = c->natural ? adj_add(adj_matmul(h, adj_transpose(w)), b) : adj_linear(h, w, b);
        h = k < 2 ? adj_relu(z) : z;
    }
    return adj_softmax_cross_entropy(h, c->labels);
}

/* --------------------------------------------------------- elementwise */

typedef struct ew {
    float *x;
    int64_t n;
    int tview;
} ew;

static adj_var *ew_step(adj_tape *t, void *ctx)
{
    ew *c = ctx;
    adj_var *x = adj_tensor_f32(t, 2, (int64_t[]){c->n, c->n}, c->x);
    return adj_sum(adj_exp(c->tview ? adj_transpose(x) : x));
}

/* ------------------------------------------------------- batched matmul */

typedef struct bmm {
    float *a, *b;
} bmm;

static adj_var *bmm_step(adj_tape *t, void *ctx)
{
    bmm *c = ctx;
    adj_var *a = adj_tensor_f32(t, 4, (int64_t[]){8, 4, 128, 64}, c->a);
    adj_var *b = adj_tensor_f32(t, 4, (int64_t[]){8, 4, 64, 128}, c->b);
    return adj_sum(adj_matmul(a, b));
}

static void emit(const char *name, int threads, double ms, double check)
{
    printf("{\"workload\": \"%s\", \"threads\": %d, \"step_ms\": %.4f, \"cpu_ms\": %.4f, "
           "\"check\": %.6g}\n",
           name, threads, ms, last_cpu_ms, check);
    fflush(stdout);
}

/* time_pair, then both lines */
static void emit_pair(const char *na, build_fn fa, void *ca, const char *nb, build_fn fb, void *cb,
                      int threads, int reps)
{
    double ms[2], cpu[2], check[2];
    time_pair(fa, ca, fb, cb, reps, ms, cpu, check);
    last_cpu_ms = cpu[0];
    emit(na, threads, ms[0], check[0]);
    last_cpu_ms = cpu[1];
    emit(nb, threads, ms[1], check[1]);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int reps = argc > 2 ? atoi(argv[2]) : 21;
    if (threads < 0 || reps < 1) {
        fprintf(stderr, "usage: bench_views [threads >= 0] [reps >= 1]\n");
        return 2;
    }
    if (threads > 0)
        adj_set_threads(threads);
    int shown = adj_get_threads();
    bench_header(argv[0]);
    adj_rng rng;
    adj_rng_seed(&rng, 3);
    double check, ms;

    mm m = {randn(256 * 784, &rng, 1), randn(256 * 784, &rng, 0.05), 256, 784, 256};
    emit_pair("matmul_tview", mm_tview, &m, "matmul_t", mm_t, &m, shown, reps);

    mlp p;
    static const int64_t sz[4] = {IN, H, H, OUT};
    p.x = randn((size_t)BATCH * IN, &rng, 1);
    for (int k = 0; k < 3; k++) {
        p.w[k] = randn((size_t)(sz[k] * sz[k + 1]), &rng, 0.05);
        p.b[k] = randn((size_t)sz[k + 1], &rng, 0.1);
    }
    for (int i = 0; i < BATCH; i++)
        p.labels[i] = i % OUT;
    mlp p2 = p;
    p.natural = 1;
    p2.natural = 0;
    emit_pair("mlp_natural", mlp_step, &p, "mlp_tuned", mlp_step, &p2, shown, reps);

    ew e = {randn(1024 * 1024, &rng, 1), 1024, 0}, e2 = e;
    e2.tview = 1;
    emit_pair("ew_contig", ew_step, &e, "ew_tview", ew_step, &e2, shown, reps);

    bmm b = {randn(32 * 128 * 64, &rng, 1), randn(32 * 64 * 128, &rng, 1)};
    adj_tape *t = adj_tape_new();
    adj_var *probe = bmm_step(t, &b);
    int ok = adj_tape_status(t) == ADJ_OK && probe;
    adj_tape_free(t);
    if (ok) {
        ms = time_steps(bmm_step, &b, reps, &check);
        emit("bmm", shown, ms, check);
    }
    free(m.x);
    free(m.w);
    free(p.x);
    for (int k = 0; k < 3; k++) {
        free(p.w[k]);
        free(p.b[k]);
    }
    free(e.x);
    free(b.a);
    free(b.b);
    return 0;
}
