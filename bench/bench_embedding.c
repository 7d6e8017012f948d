/*
 * Embedding benchmark: a GPT-2 sized token table E (50257, 768), float32,
 * and 4096 token ids; one step is the lookup Y = E[idx] (4096, 768), the
 * parameter gradient zeroed, and the backward scatter-add of a fixed
 * upstream adjoint into dE.  The ids repeat (drawn from the first 8192
 * rows), as tokens of text do.
 *
 * usage: bench_embedding [threads] [steps]
 * output: one JSON object: the median milliseconds per step.
 */
#include <adjoint.h>

#include "bench_util.h"

#include <stdio.h>

enum { V = 50257, D = 768, N = 4096 };

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, steps = argc > 2 ? atoi(argv[2]) : 20;
    adj_set_threads(threads);
    bench_header(argv[0]);
    adj_params *p = adj_params_new(ADJ_F32);
    if (adj_params_add(p, "wte", 2, (int64_t[]){V, D}) < 0)
        return 1;
    uint64_t s = 7;
    float *e = adj_params_value(p, 0);
    for (size_t k = 0; k < (size_t)V * D; k++)
        e[k] = (float)((double)lcg(&s) / 2147483648.0 - 1.0) * 0.02f;
    static int32_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = (int32_t)(lcg(&s) % 8192);
    double *seed = malloc(sizeof(double) * N * D);
    if (!seed)
        return 1;
    for (size_t k = 0; k < (size_t)N * D; k++)
        seed[k] = (double)lcg(&s) / 2147483648.0 - 1.0;
    adj_tape *t = adj_tape_new();
    double *ms = malloc(sizeof(double) * (size_t)steps);
    double check = 0;
    for (int r = -2; r < steps; r++) {
        double t0 = bench_now();
        adj_tape_reset(t);
        adj_var *E = adj_param(t, p, 0);
        adj_var *y = adj_embedding(E, adj_index_view(t, 1, (int64_t[]){N}, idx));
        adj_params_zero_grad(p);
        if (adj_backward_seeded(y, seed) != ADJ_OK) {
            fprintf(stderr, "%s\n", adj_tape_message(t));
            return 1;
        }
        double dt = bench_now() - t0;
        if (r >= 0)
            ms[r] = dt * 1e3;
        check = ((const float *)adj_params_grad(p, 0))[(size_t)idx[0] * D];
    }
    printf("{\"workload\": \"embedding\", \"threads\": %d, \"rows\": %d, \"dim\": %d, "
           "\"indices\": %d, \"ms_per_step\": %.3f, \"check\": %.6g}\n",
           threads, V, D, N, bench_median(ms, (size_t)steps), check);
    adj_tape_free(t);
    adj_params_free(p);
    free(seed);
    free(ms);
    return 0;
}
