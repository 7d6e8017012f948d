/*
 * Layer norm benchmark: x (64 * 128, 768) float32 (a batch of 64
 * sequences of 128 tokens of a GPT-2 sized model), w and b (768); one step
 * records y = layer_norm(x, 1, w, b, 1e-5) and runs its backward with a
 * fixed float32 upstream adjoint into x, w and b (the parameter gradients
 * zeroed first).  x is read in place (adj_tensor_view) and so is the
 * float32 seed (adj_backward_seeded_view): the same work as PyTorch's leaf
 * x and y.backward(up), no per-step copy of x or of the seed.  bench/bench_norm.py runs it next to PyTorch.
 *
 * usage: bench_norm [threads] [steps]
 * output: one JSON object: the median milliseconds per step (wall clock,
 * and CPU time of the process).
 */
#include <adjoint.h>

#include "bench_util.h"

#include <stdio.h>

enum { R = 64 * 128, D = 768 };

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
    if (adj_params_add(p, "w", 1, (int64_t[]){D}) < 0 || adj_params_add(p, "b", 1, (int64_t[]){D}) < 0)
        return 1;
    float *w = adj_params_value(p, 0), *b = adj_params_value(p, 1);
    uint64_t s = 11;
    for (int j = 0; j < D; j++) {
        w[j] = 1.0f + (float)((double)lcg(&s) / 2147483648.0 - 1.0) * 0.1f;
        b[j] = (float)((double)lcg(&s) / 2147483648.0 - 1.0) * 0.1f;
    }
    float *x = malloc(sizeof(float) * R * D);
    float *seed = malloc(sizeof(float) * R * D);
    double *ms = malloc(sizeof(double) * (size_t)(steps > 0 ? steps : 1));
    double *cpu = malloc(sizeof(double) * (size_t)(steps > 0 ? steps : 1));
    if (!x || !seed || !ms || !cpu)
        return 1;
    for (size_t k = 0; k < (size_t)R * D; k++) {
        x[k] = (float)((double)lcg(&s) / 2147483648.0 - 1.0) * 2.0f + 0.5f;
        seed[k] = (float)((double)lcg(&s) / 2147483648.0 - 1.0);
    }
    adj_tape *t = adj_tape_new();
    double check = 0;
    for (int r = -2; r < steps; r++) {
        double t0 = bench_now(), c0 = bench_cpu_now();
        adj_tape_reset(t);
        adj_var *xv = adj_tensor_view(t, ADJ_F32, 2, (int64_t[]){R, D}, x);
        adj_var *y = adj_layer_norm(xv, 1, adj_param(t, p, 0), adj_param(t, p, 1), 1e-5);
        adj_params_zero_grad(p);
        if (adj_backward_seeded_view(y, ADJ_F32, seed) != ADJ_OK) {
            fprintf(stderr, "%s\n", adj_tape_message(t));
            return 1;
        }
        double dt = bench_now() - t0, dc = bench_cpu_now() - c0;
        if (r >= 0) {
            ms[r] = dt * 1e3;
            cpu[r] = dc * 1e3;
        }
        check = ((const float *)adj_params_grad(p, 0))[0] + adj_grad_at(xv, 0);
    }
    printf("{\"workload\": \"layer_norm\", \"engine\": \"adjoint\", \"threads\": %d, \"rows\": %d, "
           "\"dim\": %d, \"ms_per_step\": %.3f, \"cpu_ms_per_step\": %.3f, \"check\": %.6g}\n",
           threads, R, D, bench_median(ms, (size_t)steps), bench_median(cpu, (size_t)steps), check);
    adj_tape_free(t);
    adj_params_free(p);
    free(x);
    free(seed);
    free(ms);
    free(cpu);
    return 0;
}
