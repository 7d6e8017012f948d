/*
 * Attention forward + backward: adj_scaled_dot_product_attention on
 * (B, H, T, D) float, causal, loss = sum(O ∘ W), median step time (wall
 * and the process's CPU time); then the
 * tape's peak arena bytes for one step at several T (block size fixed).
 * Prints JSON lines; bench/bench_attention.py runs it next to PyTorch.
 *
 *     bench_attention [threads] [steps] [B] [H] [T] [D]
 */
#include <adjoint.h>

#include "bench_util.h"
#include <stdio.h>
#include <stdlib.h>

static float *fill(size_t n, unsigned *seed)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        x[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return x;
}

/* A store holding q, k, v (their gradients land there, as a model's
 * parameters' do) with the values of data[0..2]. */
static adj_params *store(const int64_t *shape, float *const *data, size_t n)
{
    adj_params *p = adj_params_new(ADJ_F32);
    static const char *const names[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        adj_params_add(p, names[i], 4, shape);
        float *x = adj_params_value(p, i);
        for (size_t j = 0; j < n; j++)
            x[j] = data[i][j];
    }
    return p;
}

/* One forward + backward on t; returns the loss. */
static double step(adj_tape *t, adj_params *p, const int64_t *shape, const float *w_data)
{
    adj_params_zero_grad(p);
    adj_var *q = adj_param(t, p, 0), *k = adj_param(t, p, 1), *v = adj_param(t, p, 2);
    adj_var *w = adj_constant_view(t, ADJ_F32, 4, shape, w_data);
    adj_var *loss = adj_sum(adj_mul(adj_scaled_dot_product_attention(q, k, v, NULL, 1, 0), w));
    if (adj_backward(loss) != ADJ_OK) {
        fprintf(stderr, "bench_attention: %s\n", adj_tape_message(t));
        exit(1);
    }
    return adj_item(loss);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, steps = argc > 2 ? atoi(argv[2]) : 50;
    int64_t B = argc > 3 ? atoll(argv[3]) : 8, H = argc > 4 ? atoll(argv[4]) : 4;
    int64_t T = argc > 5 ? atoll(argv[5]) : 128, D = argc > 6 ? atoll(argv[6]) : 32;
    adj_set_threads(threads);
    bench_header(argv[0]);
    unsigned seed = 7;
    int64_t shape[4] = {B, H, T, D};
    size_t n = (size_t)(B * H * T * D);
    float *data[4] = {fill(n, &seed), fill(n, &seed), fill(n, &seed), fill(n, &seed)};
    adj_tape *t = adj_tape_new();
    adj_params *p = store(shape, data, n);
    double *ms = malloc((size_t)steps * sizeof *ms), *cpu = malloc((size_t)steps * sizeof *cpu), loss = 0;
    for (int s = -3; s < steps; s++) {
        adj_tape_reset(t);
        double t0 = bench_now(), c0 = bench_cpu_now();
        loss = step(t, p, shape, data[3]);
        if (s >= 0) {
            ms[s] = 1e3 * (bench_now() - t0);
            cpu[s] = 1e3 * (bench_cpu_now() - c0);
        }
    }
    printf("{\"bench\": \"attention\", \"impl\": \"adjoint\", \"threads\": %d, \"B\": %lld, \"H\": %lld, "
           "\"T\": %lld, \"D\": %lld, \"ms\": %.4f, \"cpu_ms\": %.4f, \"loss\": %.6g}\n",
           threads, (long long)B, (long long)H, (long long)T, (long long)D,
           bench_median(ms, (size_t)steps), bench_median(cpu, (size_t)steps), loss);
    adj_tape_free(t);
    adj_params_free(p);
    for (int i = 0; i < 4; i++)
        free(data[i]);

    /* peak arena bytes of one step, T = 128, 256, 512 */
    for (int64_t Tm = 128; Tm <= 512; Tm *= 2) {
        int64_t sh[4] = {B, H, Tm, D};
        size_t nm = (size_t)(B * H * Tm * D);
        float *dm[4] = {fill(nm, &seed), fill(nm, &seed), fill(nm, &seed), fill(nm, &seed)};
        adj_tape *u = adj_tape_new();
        adj_params *pm = store(sh, dm, nm);
        step(u, pm, sh, dm[3]);
        adj_tape_stats st;
        adj_tape_get_stats(u, &st);
        printf("{\"bench\": \"attention_memory\", \"impl\": \"adjoint\", \"T\": %lld, "
               "\"peak_bytes\": %zu, \"tensor_bytes\": %zu}\n",
               (long long)Tm, st.high_water, nm * sizeof(float));
        adj_tape_free(u);
        adj_params_free(pm);
        for (int i = 0; i < 4; i++)
            free(dm[i]);
    }
    free(ms);
    free(cpu);
    return 0;
}
