/*
 * Scalar chain benchmark: x <- tanh(w x + b), N steps (3 nodes a step).
 * Reports nanoseconds per node to record and to back-propagate, the
 * median of several repetitions on one reused tape (steady state: the
 * arena is warm, nothing is allocated).
 *
 * usage: bench_chain [nodes] [reps] [w] [b]        output: one JSON object
 */
#include <adjoint.h>

#include "bench_util.h"


#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long nodes = argc > 1 ? atol(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    /* w = 1, b = 0 keeps every adjoint a normal number over 10^6 steps.
     * With |w (1 - x^2)| < 1 (e.g. w = 0.9, b = 0.1) the adjoint decays
     * into subnormals and sticks at the smallest one, and subnormal
     * arithmetic is several times slower on x86 in any engine: pass w and
     * b as the third and fourth arguments to see it. */
    double w0 = argc > 3 ? atof(argv[3]) : 1.0, b0 = argc > 4 ? atof(argv[4]) : 0.0;
    if (nodes < 3 || reps < 1 || reps > 100) {
        fprintf(stderr, "usage: bench_chain [nodes >= 3] [reps 1..100]\n");
        return 2;
    }
    long steps = nodes / 3;
    double rec[100], back[100], check = 0;
    adj_tape *t = adj_tape_new();
    if (!t)
        return 1;
    bench_header(argv[0]);
    for (int r = 0; r < reps + 1; r++) {
        adj_tape_reset(t);
        double t0 = now();
        adj_var *w = adj_scalar(t, w0), *b = adj_scalar(t, b0), *x = adj_scalar(t, 0.5);
        adj_var *h = x;
        for (long i = 0; i < steps; i++)
            h = adj_tanh(adj_add(adj_mul(w, h), b));
        double t1 = now();
        if (adj_backward(h) != ADJ_OK) {
            fprintf(stderr, "bench_chain: %s\n", adj_tape_message(t));
            adj_tape_free(t);
            return 1;
        }
        double t2 = now();
        check += adj_grad_item(w);
        if (r > 0) { /* the first pass warms the arena */
            rec[r - 1] = (t1 - t0) * 1e9 / (double)(3 * steps);
            back[r - 1] = (t2 - t1) * 1e9 / (double)(3 * steps);
        }
    }
    qsort(rec, (size_t)reps, sizeof rec[0], cmp);
    qsort(back, (size_t)reps, sizeof back[0], cmp);
    adj_tape_stats st;
    adj_tape_get_stats(t, &st);
    printf("{\"workload\": \"scalar_chain\", \"nodes\": %ld, \"record_ns_per_node\": %.2f, "
           "\"backward_ns_per_node\": %.2f, \"tape_bytes\": %zu, \"check\": %.6g}\n",
           3 * steps, rec[reps / 2], back[reps / 2], st.bytes_reserved, check / (reps + 1));
    adj_tape_free(t);
    return 0;
}
