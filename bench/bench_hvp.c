/*
 * Hessian-vector product cost: adj_hvp against one gradient of the same
 * function, the loss of a 784-256-256-10 ReLU MLP (float64, the six
 * weight and bias tensors as inputs, one fixed random batch): mean
 * squared error against one-hot targets, or ("ce") the mean softmax
 * cross-entropy.  One gradient is what adj_hvp's
 * caller would otherwise pay: record the inputs and the function on a
 * fresh tape, adj_backward, read the adjoints.  The two alternate, reps
 * times each; the output is the median of each and the median ratio, in
 * wall time and in the process's CPU time (steadier on a shared machine;
 * the same when the library runs on one thread), and the CPU-time ratio of
 * forward over reverse (the recorded gradient's tangent by adj_jvp), with
 * the largest relative difference between the two products.
 *
 * usage: bench_hvp [batch] [reps] [mse|ce]
 * output: one JSON object.
 */
#include <adjoint.h>

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { IN = 784, H = 256, OUT = 10 };

typedef struct data {
    int64_t batch;
    double *x, *y; /* batch x IN inputs, batch x OUT one-hot targets */
    int32_t *labels;
    int ce;
} data;

/* loss = sum((mlp(x) - y)^2) / batch, or the mean cross-entropy; inputs
 * W1 b1 W2 b2 W3 b3 */
static adj_var *loss(adj_tape *t, adj_var *const *p, int n, void *user)
{
    (void)n;
    const data *d = user;
    adj_var *x = adj_constant_view(t, ADJ_F64, 2, (int64_t[]){d->batch, IN}, d->x);
    adj_var *y = adj_constant_view(t, ADJ_F64, 2, (int64_t[]){d->batch, OUT}, d->y);
    adj_var *h1 = adj_relu(adj_linear(x, p[0], p[1]));
    adj_var *h2 = adj_relu(adj_linear(h1, p[2], p[3]));
    adj_var *z = adj_linear(h2, p[4], p[5]);
    if (d->ce)
        return adj_softmax_cross_entropy(z, d->labels);
    return adj_scale(adj_sum(adj_square(adj_sub(z, y))), 1.0 / (double)d->batch);
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53;
}

/* H v forward over reverse, for comparison: the gradient recorded as ops,
 * flattened into one var, and its tangent along v (adj_jvp); CPU seconds */
static double hvp_forward_over_reverse(adj_tape *t, const adj_gradcheck_input *in, data *d,
                                       const double *v, double *out)
{
    double t0 = cpu_now();
    adj_tape_reset(t);
    adj_var *xs[6], *g[6], *flat[6];
    const double *vs[6];
    size_t off = 0;
    for (int i = 0; i < 6; i++) {
        xs[i] = adj_leaf_at(t, ADJ_F64, in[i].ndim, in[i].shape, in[i].data, 1, NULL, 0);
        vs[i] = v + off;
        off += adj_numel(xs[i]);
    }
    adj_var *f = loss(t, xs, 6, d);
    const adj_backward_opts graph = {.create_graph = 1};
    adj_grad(f, 6, xs, g, &graph);
    for (int i = 0; i < 6; i++)
        flat[i] = adj_reshape(g[i], 1, (int64_t[]){-1});
    adj_var *all = adj_concat(6, flat, 0);
    if (adj_jvp(all, 6, xs, vs, out) != ADJ_OK) {
        fprintf(stderr, "bench_hvp: %s\n", adj_tape_message(t));
        exit(1);
    }
    return cpu_now() - t0;
}

int main(int argc, char **argv)
{
    int64_t batch = argc > 1 ? atol(argv[1]) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    const int ce = argc > 3 && strcmp(argv[3], "ce") == 0;
    if (batch < 1 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: bench_hvp [batch >= 1] [reps 1..1000] [mse|ce]\n");
        return 2;
    }
    bench_header(argv[0]);
    const int64_t shapes[6][2] = {{H, IN}, {H, 0}, {H, H}, {H, 0}, {OUT, H}, {OUT, 0}};
    adj_gradcheck_input in[6];
    double *w[6];
    size_t total = 0;
    uint64_t s = 7;
    for (int i = 0; i < 6; i++) {
        const int bias = shapes[i][1] == 0;
        size_t m = (size_t)shapes[i][0] * (bias ? 1 : (size_t)shapes[i][1]);
        w[i] = malloc(m * sizeof *w[i]);
        double sc = bias ? 0.1 : 1.0 / sqrt((double)shapes[i][1]);
        for (size_t j = 0; j < m; j++)
            w[i][j] = sc * (2 * uniform(&s) - 1);
        in[i] = (adj_gradcheck_input){bias ? 1 : 2, {shapes[i][0], shapes[i][1]}, w[i]};
        total += m;
    }
    data d = {batch, malloc((size_t)batch * IN * sizeof(double)),
              calloc((size_t)batch * OUT, sizeof(double)),
              malloc((size_t)batch * sizeof(int32_t)), ce};
    for (int64_t i = 0; i < batch * IN; i++)
        d.x[i] = uniform(&s);
    for (int64_t r = 0; r < batch; r++)
        d.y[r * OUT + r % OUT] = 1.0, d.labels[r] = (int32_t)(r % OUT);
    double *v = malloc(total * sizeof *v), *hv = malloc(total * sizeof *hv),
           *g = malloc(total * sizeof *g);
    for (size_t j = 0; j < total; j++)
        v[j] = 2 * uniform(&s) - 1;

    double *tg = malloc((size_t)reps * sizeof *tg), *th = malloc((size_t)reps * sizeof *th),
           *ratio = malloc((size_t)reps * sizeof *ratio),
           *cratio = malloc((size_t)reps * sizeof *cratio),
           *fratio = malloc((size_t)reps * sizeof *fratio);
    double *hv2 = malloc(total * sizeof *hv2), maxdiff = 0;
    adj_tape *t = adj_tape_new();
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        double c0 = cpu_now(), t0 = bench_now();
        adj_tape_reset(t);
        adj_var *xs[6];
        for (int i = 0; i < 6; i++)
            xs[i] = adj_leaf_at(t, ADJ_F64, in[i].ndim, in[i].shape, in[i].data, 1, NULL, 0);
        adj_var *f = loss(t, xs, 6, &d);
        if (adj_backward(f) != ADJ_OK) {
            fprintf(stderr, "bench_hvp: %s\n", adj_tape_message(t));
            return 1;
        }
        for (int i = 0, off = 0; i < 6; i++) {
            adj_copy_grad(xs[i], g + off);
            off += (int)adj_numel(xs[i]);
        }
        double c1 = cpu_now(), t1 = bench_now();
        adj_status st = adj_hvp(loss, &d, 6, in, v, hv);
        /* (the comparison below runs after the timed pair) */
        double c2 = cpu_now(), t2 = bench_now();
        if (st != ADJ_OK) {
            fprintf(stderr, "bench_hvp: adj_hvp failed: %s\n", adj_status_string(st));
            return 1;
        }
        if (r >= 0) {
            tg[r] = t1 - t0;
            th[r] = t2 - t1;
            ratio[r] = th[r] / tg[r];
            cratio[r] = (c2 - c1) / (c1 - c0);
            fratio[r] = hvp_forward_over_reverse(t, in, &d, v, hv2) / (c1 - c0);
            for (size_t j = 0; j < total; j++)
                maxdiff = fmax(maxdiff, fabs(hv2[j] - hv[j]) / (1 + fabs(hv[j])));
        }
    }
    double lo = ratio[0], hi = ratio[0];
    for (int r = 1; r < reps; r++) {
        lo = ratio[r] < lo ? ratio[r] : lo;
        hi = ratio[r] > hi ? ratio[r] : hi;
    }
    printf("{\"workload\": \"hvp_mlp\", \"loss\": \"%s\", \"batch\": %lld, \"params\": %zu, \"grad_ms\": %.3f, "
           "\"hvp_ms\": %.3f, \"ratio\": %.3f, \"ratio_min\": %.3f, \"ratio_max\": %.3f, "
           "\"cpu_ratio\": %.3f, \"fwd_over_rev_cpu_ratio\": %.3f, \"fwd_rev_maxdiff\": %.2g}\n",
           ce ? "ce" : "mse", (long long)batch, total, 1e3 * bench_median(tg, (size_t)reps),
           1e3 * bench_median(th, (size_t)reps), bench_median(ratio, (size_t)reps), lo, hi,
           bench_median(cratio, (size_t)reps), bench_median(fratio, (size_t)reps), maxdiff);
    adj_tape_free(t);
    for (int i = 0; i < 6; i++)
        free(w[i]);
    free(d.x);
    free(d.y);
    free(d.labels);
    free(v);
    free(hv);
    free(g);
    free(tg);
    free(th);
    free(ratio);
    free(cratio);
    free(fratio);
    free(hv2);
    return 0;
}
