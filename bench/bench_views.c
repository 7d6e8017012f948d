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

/* Median ms of record + backward over reps steps (one warm-up); the
 * median CPU ms in last_cpu_ms. */
static double time_steps(build_fn fn, void *ctx, int reps, double *check)
{
    adj_tape *t = adj_tape_new();
    double *ms = malloc(sizeof *ms * (size_t)reps), *cpu = malloc(sizeof *cpu * (size_t)reps);
    for (int r = -1; r < reps; r++) {
        adj_tape_reset(t);
        double c0 = cpu_now();
        double t0 = bench_now();
        adj_var *f = fn(t, ctx);
        if (adj_backward(f) != ADJ_OK) {
            fprintf(stderr, "bench_views: %s\n", adj_tape_message(t));
            exit(1);
        }
        double t1 = bench_now();
        double c1 = cpu_now();
        if (r >= 0) {
            ms[r] = (t1 - t0) * 1e3;
            cpu[r] = (c1 - c0) * 1e3;
        }
        *check = adj_item(f);
    }
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
    ms = time_steps(mm_tview, &m, reps, &check);
    emit("matmul_tview", shown, ms, check);
    ms = time_steps(mm_t, &m, reps, &check);
    emit("matmul_t", shown, ms, check);

    mlp p;
    static const int64_t sz[4] = {IN, H, H, OUT};
    p.x = randn((size_t)BATCH * IN, &rng, 1);
    for (int k = 0; k < 3; k++) {
        p.w[k] = randn((size_t)(sz[k] * sz[k + 1]), &rng, 0.05);
        p.b[k] = randn((size_t)sz[k + 1], &rng, 0.1);
    }
    for (int i = 0; i < BATCH; i++)
        p.labels[i] = i % OUT;
    p.natural = 1;
    ms = time_steps(mlp_step, &p, reps, &check);
    emit("mlp_natural", shown, ms, check);
    p.natural = 0;
    ms = time_steps(mlp_step, &p, reps, &check);
    emit("mlp_tuned", shown, ms, check);

    ew e = {randn(1024 * 1024, &rng, 1), 1024, 0};
    ms = time_steps(ew_step, &e, reps, &check);
    emit("ew_contig", shown, ms, check);
    e.tview = 1;
    ms = time_steps(ew_step, &e, reps, &check);
    emit("ew_tview", shown, ms, check);

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
