/*
 * MLP training-step benchmark: a 784-256-256-10 ReLU network in float32,
 * softmax cross-entropy, plain SGD (lr 0.01).  One step is
 *     reset the tape, put the batch on it, forward, zero the gradients
 *     (adj_params_zero_grad_lazy), backward, optimizer step
 * on one fixed random batch (the data never changes the cost).
 *
 * usage: bench_mlp [batch] [threads] [steps] [memory|natural]
 *   speed mode (default): 20 warm-up steps, then `steps` timed one by one;
 *     prints the median step time and batch / median as samples per second.
 *   memory mode (4th argument "memory"): `steps` steps (2,000 in the suite);
 *     prints the peak resident set size (getrusage ru_maxrss) and the heap
 *     allocations the tape made per step after the first 100 steps (its
 *     allocator counts them).
 *   natural mode (4th argument "natural"): the step written the way a
 *     newcomer writes it, adj_add(adj_matmul(h, adj_transpose(w)), b),
 *     adj_params_zero_grad (the zeros written at once), and no thread call: the library's default thread count (ADJ_NUM_THREADS,
 *     else the CPUs) instead of `threads`, which is only reported.
 * output: one JSON object.
 */
#include <adjoint.h>

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { IN = 784, H = 256, OUT = 10 };

typedef struct counter {
    size_t allocs, frees, bytes;
} counter;

static void *count_alloc(void *ctx, size_t size)
{
    counter *c = ctx;
    c->allocs++;
    c->bytes += size;
    return malloc(size);
}

static void count_free(void *ctx, void *ptr, size_t size)
{
    counter *c = ctx;
    (void)size;
    if (ptr)
        c->frees++;
    free(ptr);
}

typedef struct model {
    adj_params *p;
    adj_dense l[3];
    adj_optim *opt;
} model;

static int model_init(model *m)
{
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    m->p = adj_params_new(ADJ_F32);
    if (!m->p)
        return -1;
    const int64_t sizes[4] = {IN, H, H, OUT};
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof name, "fc%d", k + 1);
        if (adj_dense_add(m->p, name, sizes[k], sizes[k + 1], 1, &m->l[k]) != ADJ_OK)
            return -1;
    }
    for (int k = 0; k < 3; k++)
        if (adj_init_tensor(m->p, m->l[k].weight, ADJ_INIT_HE_NORMAL, 0, &rng) != ADJ_OK)
            return -1;
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.lr = 0.01;
    m->opt = adj_optim_new(m->p, &c, NULL);
    return m->opt ? 0 : -1;
}

static int natural;

/* x W^T + b as a newcomer writes it (natural mode), else the library's
 * dense layer (one fused node) */
static adj_var *layer(model *m, adj_tape *t, int k, adj_var *h)
{
    if (!natural)
        return adj_dense_forward(m->p, &m->l[k], h);
    adj_var *w = adj_param(t, m->p, m->l[k].weight), *b = adj_param(t, m->p, m->l[k].bias);
    return adj_add(adj_matmul(h, adj_transpose(w)), b);
}

/* One training step; returns the loss (NaN on error). */
static double step(model *m, adj_tape *t, const float *x, const int32_t *labels, int64_t batch)
{
    adj_tape_reset(t);
    adj_var *h = adj_constant_view(t, ADJ_F32, 2, (int64_t[]){batch, IN}, x);
    h = adj_relu(layer(m, t, 0, h));
    h = adj_relu(layer(m, t, 1, h));
    adj_var *loss = adj_softmax_cross_entropy(layer(m, t, 2, h), labels);
    if (natural)
        adj_params_zero_grad(m->p);
    else
        adj_params_zero_grad_lazy(m->p);
    if (adj_backward(loss) != ADJ_OK) {
        fprintf(stderr, "bench_mlp: %s\n", adj_tape_message(t));
        return NAN;
    }
    adj_optim_step(m->opt);
    return adj_item(loss);
}

int main(int argc, char **argv)
{
    int64_t batch = argc > 1 ? atol(argv[1]) : 64;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    long steps = argc > 3 ? atol(argv[3]) : 200;
    int memory = argc > 4 && strcmp(argv[4], "memory") == 0;
    natural = argc > 4 && strcmp(argv[4], "natural") == 0;
    if (batch < 1 || threads < 1 || steps < 1 || (argc > 4 && !memory && !natural)) {
        fprintf(stderr, "usage: bench_mlp [batch] [threads] [steps] [memory|natural]\n");
        return 2;
    }
    if (!natural)
        adj_set_threads(threads);
    bench_header(argv[0]);

    float *x = malloc((size_t)batch * IN * sizeof *x);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    double *times = malloc((size_t)steps * sizeof *times);
    counter cnt = {0, 0, 0};
    adj_allocator al = {count_alloc, count_free, &cnt};
    adj_tape *t = adj_tape_new_with(&al);
    model m = {0};
    if (!x || !labels || !times || !t || model_init(&m) != 0) {
        fprintf(stderr, "bench_mlp: set-up failed\n");
        return 1;
    }
    adj_rng rng;
    adj_rng_seed(&rng, 2);
    for (size_t i = 0; i < (size_t)batch * IN; i++)
        x[i] = (float)adj_rng_uniform(&rng);
    for (int64_t r = 0; r < batch; r++)
        labels[r] = (int32_t)(adj_rng_uniform(&rng) * OUT);

    double loss = 0;
    if (memory) {
        const long warm = steps > 200 ? 100 : steps / 2;
        size_t before = 0;
        adj_tape_stats st0 = {0};
        for (long s = 0; s < steps; s++) {
            if (s == warm) {
                before = cnt.allocs;
                adj_tape_get_stats(t, &st0);
            }
            loss = step(&m, t, x, labels, batch);
        }
        adj_tape_stats st;
        adj_tape_get_stats(t, &st);
        printf("{\"workload\": \"mlp_memory\", \"batch\": %lld, \"threads\": %d, \"steps\": %ld, "
               "\"peak_rss_mib\": %.1f, \"allocs_per_step\": %.3f, \"tape_allocs_per_step\": %.3f, "
               "\"tape_reserved_mib\": %.2f, \"tape_high_water_mib\": %.2f, \"loss\": %.4f}\n",
               (long long)batch, threads, steps, bench_peak_rss_mib(),
               (double)(cnt.allocs - before) / (double)(steps - warm),
               (double)(st.allocations - st0.allocations) / (double)(steps - warm),
               (double)st.bytes_reserved / 1048576.0, (double)st.high_water / 1048576.0, loss);
    } else {
        for (int s = 0; s < 20; s++)
            loss = step(&m, t, x, labels, batch);
        for (long s = 0; s < steps; s++) {
            double t0 = bench_now();
            loss = step(&m, t, x, labels, batch);
            times[s] = bench_now() - t0;
        }
        double med = bench_median(times, (size_t)steps);
        printf("{\"workload\": \"mlp_step\", \"variant\": \"%s\", \"batch\": %lld, "
               "\"threads\": %d, \"steps\": %ld, \"step_ms\": %.4f, \"samples_per_s\": %.1f, "
               "\"loss\": %.4f}\n",
               natural ? "natural" : "tuned", (long long)batch, adj_get_threads(), steps, med * 1e3,
               (double)batch / med, loss);
    }
    adj_tape_free(t);
    adj_optim_free(m.opt);
    adj_params_free(m.p);
    free(x);
    free(labels);
    free(times);
    return loss == loss ? 0 : 1;
}
