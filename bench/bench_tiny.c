/*
 * Tiny MLP benchmark: 2-8-1 on the four XOR points (batch 4), tanh
 * hidden layer, sigmoid output, mean squared error, SGD (lr 0.1), float32.
 * Here every op works on a handful of numbers, so the step measures the
 * fixed cost per op and per step: recording, the BLIS call overhead, the
 * sweep and the optimizer loop.
 *
 * usage: bench_tiny [threads] [blocks] [steps per block]
 * output: one JSON object, the median over blocks of microseconds per step.
 */
#include <adjoint.h>

#include "bench_util.h"

#include <math.h>
#include <stdio.h>

static const float X[8] = {0, 0, 0, 1, 1, 0, 1, 1};
static const float Y[4] = {0, 1, 1, 0};

typedef struct tiny {
    adj_params *p;
    adj_dense l1, l2;
    adj_optim *opt;
} tiny;

static double step(tiny *m, adj_tape *t)
{
    adj_tape_reset(t);
    adj_var *x = adj_constant_f32(t, 2, (int64_t[]){4, 2}, X);
    adj_var *y = adj_constant_f32(t, 2, (int64_t[]){4, 1}, Y);
    adj_var *h = adj_tanh(adj_dense_forward(m->p, &m->l1, x));
    adj_var *out = adj_sigmoid(adj_dense_forward(m->p, &m->l2, h));
    adj_var *loss = adj_mse(out, y);
    adj_params_zero_grad(m->p);
    if (adj_backward(loss) != ADJ_OK)
        return NAN;
    adj_optim_step(m->opt);
    return adj_item(loss);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int blocks = argc > 2 ? atoi(argv[2]) : 21;
    long per = argc > 3 ? atol(argv[3]) : 2000;
    if (threads < 1 || blocks < 1 || blocks > 1000 || per < 1) {
        fprintf(stderr, "usage: bench_tiny [threads] [blocks 1..1000] [steps per block]\n");
        return 2;
    }
    adj_set_threads(threads);
    bench_header(argv[0]);
    tiny m;
    adj_rng rng;
    adj_rng_seed(&rng, 3);
    m.p = adj_params_new(ADJ_F32);
    if (!m.p || adj_dense_add(m.p, "fc1", 2, 8, 1, &m.l1) != ADJ_OK ||
        adj_dense_add(m.p, "fc2", 8, 1, 1, &m.l2) != ADJ_OK)
        return 1;
    adj_init_tensor(m.p, m.l1.weight, ADJ_INIT_XAVIER_UNIFORM, 0, &rng);
    adj_init_tensor(m.p, m.l2.weight, ADJ_INIT_XAVIER_UNIFORM, 0, &rng);
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.lr = 0.1;
    m.opt = adj_optim_new(m.p, &c, NULL);
    adj_tape *t = adj_tape_new();
    if (!m.opt || !t)
        return 1;

    double loss = 0, times[1000];
    for (long s = 0; s < per; s++)
        loss = step(&m, t);
    for (int b = 0; b < blocks; b++) {
        double t0 = bench_now();
        for (long s = 0; s < per; s++)
            loss = step(&m, t);
        times[b] = (bench_now() - t0) / (double)per;
    }
    double med = bench_median(times, (size_t)blocks);
    printf("{\"workload\": \"tiny_mlp\", \"threads\": %d, \"us_per_step\": %.3f, \"loss\": %.5f}\n",
           threads, med * 1e6, loss);
    adj_tape_free(t);
    adj_optim_free(m.opt);
    adj_params_free(m.p);
    return loss == loss ? 0 : 1;
}
