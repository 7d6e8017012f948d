/*
 * Elementwise op benchmark: every elementwise unary op of the op table and
 * add / mul, forward and backward, on n float32 elements (10^6 by default),
 * against a plain copy loop as the memory-bandwidth reference (on the same
 * threads: the pool splits it as it splits the ops).
 *
 * Bandwidth is nominal bytes / median time, with the bytes an ideal
 * implementation must move (the same count is used for PyTorch):
 *   forward   unary 2 arrays (read x, write y)    binary 3 (a, b, y)
 *   backward  unary 3 (read dy and x or y, write dx)
 *             add 3 (dy, da, db)   mul 5 (dy, a, b, da, db)
 *   copy      2 (read x, write y)
 * and add and mul with a broadcast operand, (n / 768, 768) op (768), as
 * a bias or a scale is applied (ops "add_bcast", "mul_bcast"): forward 2
 * arrays (a, y), backward add 2 (dy, da), mul 3 (dy, a, da); the (768)
 * operand's adjoint is the sum over the rows.
 * The forward is timed as the recording call (arena allocation included);
 * the backward as the op's backward kernel, given the upstream adjoint,
 * accumulating into the inputs' adjoints (the adjoint buffers are the
 * parameter store's, so nothing is zeroed or allocated in the timing).
 *
 * usage: bench_elementwise [n] [reps] [threads]
 * output: one JSON object per op, then one for the copy loop.
 */
#include <adjoint.h>

#include "bench_util.h"
#include "core/pool.h"
#include "core/tape.h"
#include "ops/op.h"

#include <stdio.h>
#include <string.h>

static double domain_value(adj_domain dom, adj_rng *rng)
{
    switch (dom) {
    case ADJ_DOM_AWAY0: {
        double u = adj_rng_uniform_range(rng, 0.2, 2.0);
        return adj_rng_uniform(rng) < 0.5 ? -u : u;
    }
    case ADJ_DOM_POS: return adj_rng_uniform_range(rng, 0.5, 2.0);
    case ADJ_DOM_UNIT: return adj_rng_uniform_range(rng, 0.05, 0.95);
    default: return adj_rng_uniform_range(rng, -2.0, 2.0);
    }
}

/* y[i] = x[i], the reference: the compiler may turn it into memcpy.  It
 * runs on the same threads as the ops, split the same way by the pool. */
typedef struct copy_job {
    float *y;
    const float *x;
} copy_job;

static void copy_range(void *ctx, size_t lo, size_t hi)
{
    const copy_job *c = ctx;
    float *restrict y = c->y;
    const float *restrict x = c->x;
    for (size_t i = lo; i < hi; i++)
        y[i] = x[i];
}

static void copy_loop(float *y, const float *x, size_t n)
{
    copy_job c = {y, x};
    adj_par_for(n, ADJ_PAR_GRAIN_MAP, copy_range, &c);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 21;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    if (n < 1 || reps < 1 || reps > 1000 || threads < 1) {
        fprintf(stderr, "usage: bench_elementwise [n] [reps 1..1000] [threads]\n");
        return 2;
    }
    adj_set_threads(threads);
    bench_header(argv[0]);
    const size_t es = sizeof(float);
    adj_params *p = adj_params_new(ADJ_F32);
    if (!p || adj_params_add(p, "a", 1, (int64_t[]){n}) < 0 ||
        adj_params_add(p, "b", 1, (int64_t[]){n}) < 0)
        return 1;
    float *dy = malloc((size_t)n * es), *copy_dst = malloc((size_t)n * es);
    adj_tape *t = adj_tape_new();
    if (!dy || !copy_dst || !t)
        return 1;
    adj_rng rng;
    adj_rng_seed(&rng, 4);
    for (long i = 0; i < n; i++)
        dy[i] = (float)adj_rng_uniform_range(&rng, -1.0, 1.0);
    double fwd[1000], bwd[1000], check = 0;

    for (int op = 1; op < ADJ_OP_COUNT; op++) {
        const adj_op_desc *d = adj_op_table[op];
        int binary = op == ADJ_OP_ADD || op == ADJ_OP_MUL;
        if (!d->scalar_fwd || (d->arity != 1 && !binary))
            continue;
        float *a = adj_params_value(p, 0), *b = adj_params_value(p, 1);
        for (long i = 0; i < n; i++) {
            a[i] = (float)domain_value(d->dom[0], &rng);
            b[i] = (float)domain_value(d->dom[1], &rng);
        }
        adj_params_zero_grad(p);
        adj_attr_c args = {d->test_arg};
        for (int r = 0; r < reps + 1; r++) {
            adj_tape_reset(t);
            adj_var *in[2] = {adj_param(t, p, 0), adj_param(t, p, 1)};
            double t0 = bench_now();
            adj_var *y = adj_h_raw(adj_record((adj_op)op, in, binary ? 2 : 1, &args, __FILE__, __LINE__));
            double t1 = bench_now();
            if (adj_tape_status(t) != ADJ_OK) {
                fprintf(stderr, "bench_elementwise: %s\n", adj_tape_message(t));
                return 1;
            }
            y->grad = dy;
            double t2 = bench_now();
            d->backward(y);
            double t3 = bench_now();
            check += adj_value_at(y, (size_t)r);
            if (r > 0) { /* the first pass warms the arena */
                fwd[r - 1] = t1 - t0;
                bwd[r - 1] = t3 - t2;
            }
        }
        double nf = binary ? 3 : 2, nb = op == ADJ_OP_MUL ? 5 : 3;
        double tf = bench_median(fwd, (size_t)reps), tb = bench_median(bwd, (size_t)reps);
        printf("{\"workload\": \"elementwise\", \"op\": \"%s\", \"n\": %ld, \"threads\": %d, "
               "\"fwd_us\": %.1f, \"bwd_us\": %.1f, \"fwd_gbs\": %.2f, \"bwd_gbs\": %.2f}\n",
               d->name, n, threads, tf * 1e6, tb * 1e6, nf * (double)n * es / tf * 1e-9,
               nb * (double)n * es / tb * 1e-9);
    }
    /* broadcast: (rows, C) op (C) */
    const long C = 768, rows = n / C > 0 ? n / C : 1;
    adj_params *pb = adj_params_new(ADJ_F32);
    if (!pb || adj_params_add(pb, "a", 2, (int64_t[]){rows, C}) < 0 ||
        adj_params_add(pb, "b", 1, (int64_t[]){C}) < 0)
        return 1;
    for (int k = 0; k < 2; k++) {
        adj_op op = k == 0 ? ADJ_OP_ADD : ADJ_OP_MUL;
        const adj_op_desc *d = adj_op_table[op];
        float *a = adj_params_value(pb, 0), *b = adj_params_value(pb, 1);
        for (long i = 0; i < rows * C; i++)
            a[i] = (float)adj_rng_uniform_range(&rng, -2.0, 2.0);
        for (long i = 0; i < C; i++)
            b[i] = (float)adj_rng_uniform_range(&rng, -2.0, 2.0);
        adj_params_zero_grad(pb);
        for (int r = 0; r < reps + 1; r++) {
            adj_tape_reset(t);
            adj_var *in[2] = {adj_param(t, pb, 0), adj_param(t, pb, 1)};
            double t0 = bench_now();
            adj_var *y = adj_h_raw(adj_record(op, in, 2, NULL, __FILE__, __LINE__));
            double t1 = bench_now();
            if (adj_tape_status(t) != ADJ_OK) {
                fprintf(stderr, "bench_elementwise: %s\n", adj_tape_message(t));
                return 1;
            }
            y->grad = dy;
            double t2 = bench_now();
            d->backward(y);
            double t3 = bench_now();
            check += adj_value_at(y, (size_t)r);
            if (r > 0) {
                fwd[r - 1] = t1 - t0;
                bwd[r - 1] = t3 - t2;
            }
        }
        double m = (double)(rows * C), nb = k == 0 ? 2 : 3;
        double tf = bench_median(fwd, (size_t)reps), tb = bench_median(bwd, (size_t)reps);
        printf("{\"workload\": \"elementwise\", \"op\": \"%s_bcast\", \"n\": %ld, "
               "\"threads\": %d, \"fwd_us\": %.1f, \"bwd_us\": %.1f, \"fwd_gbs\": %.2f, "
               "\"bwd_gbs\": %.2f}\n",
               d->name, rows * C, threads, tf * 1e6, tb * 1e6, 2.0 * m * es / tf * 1e-9,
               nb * m * es / tb * 1e-9);
    }
    adj_params_free(pb);

    const float *src = adj_params_value(p, 0);
    for (int r = 0; r < reps + 1; r++) {
        double t0 = bench_now();
        copy_loop(copy_dst, src, (size_t)n);
        double t1 = bench_now();
        check += copy_dst[r % n];
        if (r > 0)
            fwd[r - 1] = t1 - t0;
    }
    double tc = bench_median(fwd, (size_t)reps);
    printf("{\"workload\": \"elementwise\", \"op\": \"copy\", \"n\": %ld, \"threads\": %d, "
           "\"fwd_us\": %.1f, \"fwd_gbs\": %.2f, \"check\": %.3g}\n",
           n, threads, tc * 1e6, 2.0 * (double)n * es / tc * 1e-9, check);
    adj_tape_free(t);
    adj_params_free(p);
    free(dy);
    free(copy_dst);
    return 0;
}
