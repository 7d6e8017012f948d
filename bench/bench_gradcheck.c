/*
 * Gradient-check benchmark: adj_gradcheck of a 784-32-10 MLP (tanh hidden
 * layer, softmax cross-entropy) on a batch of 16, in float64.
 *
 * The inputs checked are the four parameter tensors W1 (32,784), b1 (32),
 * W2 (10,32), b2 (10): every one of their 25,450 elements, by central
 * differences (f(x + h) - f(x - h)) / 2h with h = 1e-6, against one
 * backward pass.  The batch X (16,784) and the labels are constants.
 * torch_bench.py gives torch.autograd.gradcheck the same function, the
 * same four inputs and the same h (its default), so both engines
 * evaluate f 2 x 25,450 times plus a few analytic passes.
 *
 * With T threads the evaluations are shared among T threads (opts.threads)
 * and each matrix product is single-threaded; PyTorch gets T threads for
 * its products.
 *
 * Mode "replay" sets opts.replay: the function is recorded once per thread
 * and each evaluation recomputes only what the perturbed element changes
 * (a column of the first layer, then the small second layer and the
 * loss).  Mode "compare" runs both and reports the largest difference
 * between their numeric derivatives.
 *
 * usage: bench_gradcheck [threads] [replay|compare]
 * output: one JSON object (seconds for the whole check).
 */
#include <adjoint.h>

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { B = 16, IN = 784, H = 32, OUT = 10 };

typedef struct data {
    double x[B * IN];
    int32_t labels[B];
} data;

static adj_var *mlp_loss(adj_tape *t, adj_var *const *p, int n, void *user)
{
    const data *d = user;
    (void)n;
    adj_var *x = adj_constant_view(t, ADJ_F64, 2, (int64_t[]){B, IN}, d->x);
    adj_var *h = adj_tanh(adj_linear(x, p[0], p[1]));
    return adj_softmax_cross_entropy(adj_linear(h, p[2], p[3]), d->labels);
}

enum { TOTAL = H * IN + H + OUT * H + OUT };

static int run(const adj_gradcheck_input *in, data *d, int threads, int replay, double *num,
               double *secs, adj_gradcheck_report *rep)
{
    adj_gradcheck_opts o = {ADJ_F64, 1e-6, 0, 0, threads, replay, num};
    double t0 = bench_now();
    adj_status s = adj_gradcheck(mlp_loss, d, 4, in, &o, rep);
    *secs = bench_now() - t0;
    if (s != ADJ_OK) {
        fprintf(stderr, "bench_gradcheck: %s\n", rep->message);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    const char *mode = argc > 2 ? argv[2] : "";
    int replay = strcmp(mode, "replay") == 0, compare = strcmp(mode, "compare") == 0;
    if (threads < 1 || (*mode && !replay && !compare)) {
        fprintf(stderr, "usage: bench_gradcheck [threads] [replay|compare]\n");
        return 2;
    }
    /* the finite differences are independent: spread them over the
     * threads, each running single-threaded products */
    adj_set_threads(1);
    bench_header(argv[0]);
    static data d;
    static double w1[H * IN], b1[H], w2[OUT * H], b2[OUT];
    static double num[TOTAL], num2[TOTAL];
    adj_rng rng;
    adj_rng_seed(&rng, 5);
    for (size_t i = 0; i < B * IN; i++)
        d.x[i] = adj_rng_uniform(&rng);
    for (int r = 0; r < B; r++)
        d.labels[r] = (int32_t)(adj_rng_uniform(&rng) * OUT);
    for (size_t i = 0; i < H * IN; i++)
        w1[i] = adj_rng_normal(&rng) * 0.05;
    for (size_t i = 0; i < H; i++)
        b1[i] = adj_rng_normal(&rng) * 0.1;
    for (size_t i = 0; i < OUT * H; i++)
        w2[i] = adj_rng_normal(&rng) * 0.2;
    for (size_t i = 0; i < OUT; i++)
        b2[i] = adj_rng_normal(&rng) * 0.1;

    adj_gradcheck_input in[4] = {
        {2, {H, IN}, w1}, {1, {H}, b1}, {2, {OUT, H}, w2}, {1, {OUT}, b2},
    };
    adj_gradcheck_report rep, rep2;
    double secs, secs2 = 0;
    if (run(in, &d, threads, replay, num, &secs, &rep))
        return 1;
    size_t checked = 0;
    for (int i = 0; i < 4; i++)
        checked += rep.inputs[i].numel;
    if (compare) {
        if (run(in, &d, threads, 1, num2, &secs2, &rep2))
            return 1;
        double diff = 0, scale = 0;
        for (size_t f = 0; f < TOTAL; f++) {
            diff = fmax(diff, fabs(num[f] - num2[f]));
            scale = fmax(scale, fabs(num[f]));
        }
        printf("{\"workload\": \"gradcheck\", \"threads\": %d, \"elements\": %zu, "
               "\"seconds\": %.3f, \"seconds_replay\": %.3f, \"passed\": %s, \"passed_replay\": %s, "
               "\"max_abs_diff\": %.3g, \"max_abs_numeric\": %.3g}\n",
               threads, checked, secs, secs2, rep.passed ? "true" : "false",
               rep2.passed ? "true" : "false", diff, scale);
        return 0;
    }
    printf("{\"workload\": \"gradcheck\", \"threads\": %d, \"replay\": %s, \"elements\": %zu, "
           "\"evaluations\": %zu, \"seconds\": %.3f, \"passed\": %s, \"max_rel_err\": %.3g}\n",
           threads, replay ? "true" : "false", checked, rep.evaluations, secs,
           rep.passed ? "true" : "false", rep.max_rel_err);
    return 0;
}
