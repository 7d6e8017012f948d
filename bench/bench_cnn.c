/*
 * CNN training-step benchmark: the models' default convolutional network
 * (the "cnn" architecture) written with the public ops, in float32:
 *     conv 3x3 1->32 pad 1 - ReLU - max_pool 2 - conv 3x3 32->64 pad 1 -
 *     ReLU - max_pool 2 - flatten - dense 3136->128 - ReLU - dropout 0.25 -
 *     dense 128->10, softmax cross-entropy, plain SGD (lr 0.01).
 * One step is: reset the tape, put the batch on it, forward, zero the
 * gradients (adj_params_zero_grad_lazy; the plain call in "natural"),
 * backward (releasing the intermediate adjoints, as adj_train
 * does), optimizer step; on one fixed random batch of
 * 28x28 images (the data never changes the cost).  torch_bench.py cnn is
 * the same network in PyTorch.
 *
 * usage: bench_cnn [batch] [threads] [steps] [natural]
 *   5 warm-up steps, then `steps` timed one by one; prints the median step
 *   time (wall and process CPU) and batch / median as samples per second.
 *   "natural": the dense layers written as adj_add(adj_matmul(h,
 *   adj_transpose(w)), b) instead of adj_linear, and no thread call (the
 *   library's default thread count; `threads` is only reported).
 * output: one JSON object.
 */
#include <adjoint.h>

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { C1 = 32, C2 = 64, HID = 128, OUT = 10, FLAT = C2 * 7 * 7 };

typedef struct net {
    adj_params *p;
    int w1, b1, w2, b2, w3, b3, w4, b4;
    adj_optim *opt;
    adj_rng drop;
} net;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
static void uniform(adj_params *p, int i, int64_t fan_in, adj_rng *rng)
{
    float *v = adj_params_value(p, i);
    const double a = 1 / sqrt((double)fan_in);
    for (size_t j = 0; j < adj_params_tensor_numel(p, i); j++)
        v[j] = (float)adj_rng_uniform_range(rng, -a, a);
}

static int net_init(net *m)
{
    m->p = adj_params_new(ADJ_F32);
    if (!m->p)
        return -1;
    m->w1 = adj_params_add(m->p, "0.weight", 4, (int64_t[]){C1, 1, 3, 3});
    m->b1 = adj_params_add(m->p, "0.bias", 1, (int64_t[]){C1});
    m->w2 = adj_params_add(m->p, "3.weight", 4, (int64_t[]){C2, C1, 3, 3});
    m->b2 = adj_params_add(m->p, "3.bias", 1, (int64_t[]){C2});
    m->w3 = adj_params_add(m->p, "7.weight", 2, (int64_t[]){HID, FLAT});
    m->b3 = adj_params_add(m->p, "7.bias", 1, (int64_t[]){HID});
    m->w4 = adj_params_add(m->p, "10.weight", 2, (int64_t[]){OUT, HID});
    m->b4 = adj_params_add(m->p, "10.bias", 1, (int64_t[]){OUT});
    if (adj_params_status(m->p) != ADJ_OK)
        return -1;
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    const int idx[8] = {m->w1, m->b1, m->w2, m->b2, m->w3, m->b3, m->w4, m->b4};
    const int64_t fan[4] = {9, C1 * 9, FLAT, HID};
    for (int k = 0; k < 8; k++)
        uniform(m->p, idx[k], fan[k / 2], &rng);
    adj_rng_seed(&m->drop, 7);
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.lr = 0.01;
    m->opt = adj_optim_new(m->p, &c, NULL);
    return m->opt ? 0 : -1;
}

static int natural;

/* h W^T + b: one fused node, or as a newcomer writes it (natural) */
static adj_var *dense(adj_var *h, adj_var *w, adj_var *b)
{
    return natural ? adj_add(adj_matmul(h, adj_transpose(w)), b) : adj_linear(h, w, b);
}

/* One training step; returns the loss (NaN on error). */
static double step(net *m, adj_tape *t, const float *x, const int32_t *labels, int64_t batch)
{
    adj_tape_reset(t);
    const adj_conv2d_opts co = {{1, 1}, {1, 1}, {1, 1}, 1};
    const adj_pool2d_opts po = {{2, 2}, {2, 2}, {0, 0}};
    adj_params *p = m->p;
    adj_var *h = adj_constant_view(t, ADJ_F32, 4, (int64_t[]){batch, 1, 28, 28}, x);
    h = adj_max_pool2d(adj_relu(adj_conv2d(h, adj_param(t, p, m->w1), adj_param(t, p, m->b1), &co)), &po);
    h = adj_max_pool2d(adj_relu(adj_conv2d(h, adj_param(t, p, m->w2), adj_param(t, p, m->b2), &co)), &po);
    h = adj_flatten(h, 1, 3);
    h = adj_relu(dense(h, adj_param(t, p, m->w3), adj_param(t, p, m->b3)));
    h = adj_dropout(h, 0.25, 1, &m->drop);
    h = dense(h, adj_param(t, p, m->w4), adj_param(t, p, m->b4));
    adj_var *loss = adj_softmax_cross_entropy(h, labels);
    if (natural)
        adj_params_zero_grad(p);
    else
        adj_params_zero_grad_lazy(p);
    if (adj_backward_ex(loss, &(adj_backward_opts){.release_adjoints = 1}) != ADJ_OK) {
        fprintf(stderr, "bench_cnn: %s\n", adj_tape_message(t));
        return NAN;
    }
    adj_optim_step(m->opt);
    return adj_item(loss);
}

int main(int argc, char **argv)
{
    int64_t batch = argc > 1 ? atol(argv[1]) : 64;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    long steps = argc > 3 ? atol(argv[3]) : 30;
    natural = argc > 4 && strcmp(argv[4], "natural") == 0;
    if (batch < 1 || threads < 1 || steps < 1 || (argc > 4 && !natural)) {
        fprintf(stderr, "usage: bench_cnn [batch] [threads] [steps] [natural]\n");
        return 2;
    }
    if (!natural)
        adj_set_threads(threads);
    bench_header(argv[0]);
    float *x = malloc((size_t)batch * 784 * sizeof *x);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    double *times = malloc((size_t)steps * sizeof *times), *cpu = malloc((size_t)steps * sizeof *cpu);
    adj_tape *t = adj_tape_new();
    net m = {0};
    if (!x || !labels || !times || !cpu || !t || net_init(&m) != 0) {
        fprintf(stderr, "bench_cnn: set-up failed\n");
        return 1;
    }
    adj_rng rng;
    adj_rng_seed(&rng, 2);
    for (size_t i = 0; i < (size_t)batch * 784; i++)
        x[i] = (float)adj_rng_uniform(&rng);
    for (int64_t r = 0; r < batch; r++)
        labels[r] = (int32_t)(adj_rng_uniform(&rng) * OUT);
    double loss = 0;
    for (int s = 0; s < 5; s++)
        loss = step(&m, t, x, labels, batch);
    for (long s = 0; s < steps; s++) {
        double t0 = bench_now(), c0 = cpu_now();
        loss = step(&m, t, x, labels, batch);
        times[s] = bench_now() - t0;
        cpu[s] = cpu_now() - c0;
    }
    double med = bench_median(times, (size_t)steps), cmed = bench_median(cpu, (size_t)steps);
    printf("{\"workload\": \"cnn_step\", \"variant\": \"%s\", \"batch\": %lld, \"threads\": %d, "
           "\"steps\": %ld, \"step_ms\": %.4f, \"cpu_ms\": %.4f, \"samples_per_s\": %.1f, "
           "\"loss\": %.4f}\n",
           natural ? "natural" : "tuned", (long long)batch, adj_get_threads(), steps, med * 1e3, cmed * 1e3, (double)batch / med, loss);
    adj_tape_free(t);
    adj_optim_free(m.opt);
    adj_params_free(m.p);
    free(x), free(labels), free(times), free(cpu);
    return loss == loss ? 0 : 1;
}
