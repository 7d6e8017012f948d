/*
 * Batched matrix product benchmark: attention's two products without the
 * softmax, B = 4, H = 8 (B H = 32 matrices), T = 128, D = 64, float32.
 * One step records S = Q Kᵀ (Kᵀ a transposed view of K) and O = S V, and
 * runs the backward of a fixed upstream adjoint W of O: dS = W Vᵀ,
 * dV = Sᵀ W, dQ = dS K, dK = dSᵀ Q.
 *
 * usage: bench_bmm [threads] [steps]
 * output: one JSON object: the median milliseconds per step.
 */
#include <adjoint.h>

#include "bench_util.h"

#include <stdio.h>

enum { B = 4, H = 8, T = 128, D = 64 };

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static float *rnd(size_t n, uint64_t *s)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = (float)((double)lcg(s) / 2147483648.0 - 1.0);
    return v;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, steps = argc > 2 ? atoi(argv[2]) : 50;
    adj_set_threads(threads);
    bench_header(argv[0]);
    const size_t n = (size_t)B * H * T * D;
    const int64_t shape[4] = {B, H, T, D};
    uint64_t s = 7;
    float *q = rnd(n, &s), *k = rnd(n, &s), *v = rnd(n, &s);
    double *w = malloc(n * sizeof *w);
    double *ms = malloc(sizeof(double) * (size_t)(steps > 0 ? steps : 1));
    if (!q || !k || !v || !w || !ms)
        return 1;
    for (size_t i = 0; i < n; i++)
        w[i] = (double)lcg(&s) / 2147483648.0 - 1.0;
    adj_tape *t = adj_tape_new();
    double check = 0;
    for (int r = -3; r < steps; r++) {
        double t0 = bench_now();
        adj_tape_reset(t);
        adj_var *Q = adj_tensor_f32(t, 4, shape, q), *K = adj_tensor_f32(t, 4, shape, k);
        adj_var *V = adj_tensor_f32(t, 4, shape, v);
        adj_var *S = adj_matmul(Q, adj_transpose_axes(K, -1, -2));
        adj_var *O = adj_matmul(S, V);
        if (adj_backward_seeded(O, w) != ADJ_OK) {
            fprintf(stderr, "%s\n", adj_tape_message(t));
            return 1;
        }
        double dt = bench_now() - t0;
        if (r >= 0)
            ms[r] = dt * 1e3;
        check = adj_grad_at(Q, 0) + adj_grad_at(K, 1) + adj_grad_at(V, 2);
    }
    printf("{\"workload\": \"bmm\", \"threads\": %d, \"batch\": %d, \"T\": %d, \"D\": %d, "
           "\"ms_per_step\": %.3f, \"check\": %.6g}\n",
           threads, B * H, T, D, bench_median(ms, (size_t)steps), check);
    adj_tape_free(t);
    free(q), free(k), free(v), free(w), free(ms);
    return 0;
}
