/*
 * The floor under an MLP training step: BLIS alone on the step's matrix
 * products, with nothing else in between.  For a model of widths w0-w1-...
 * at a batch B, the products are each layer's forward Z = H W^T (B x out x
 * in), and in the backward dW = dZ^T H (out x in x B) and, for every layer
 * but the first, dH = dZ W (B x in x out): the same shapes and transposes
 * as the step of bench_mlp.  Each product is called reps times in a row on
 * the same operands (warm caches, BLIS's own threads), and its fastest call
 * counts: a step can only be slower.  Linking the library gives BLIS the
 * same sub-configuration as adjoint's steps (see the header line).
 *
 * usage: bench_blis_floor [batch] [threads] [reps] [widths ...]
 *        (default: 256 1 200 784 256 256 10)
 * output: one line per product, then one JSON object with the sum of the
 * fastest calls in microseconds and its GFLOP/s.
 */
#include "bench_util.h"

#include <blis.h>

typedef struct prod {
    dim_t m, n, k;
    trans_t ta, tb;
    const char *what;
    int layer;
} prod;

static double fastest(const prod *p, const float *a, const float *b, float *c, int reps)
{
    const inc_t rsa = p->ta == BLIS_NO_TRANSPOSE ? p->k : p->m;
    const inc_t rsb = p->tb == BLIS_NO_TRANSPOSE ? p->n : p->k;
    float one = 1, zero = 0;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        bli_sgemm(p->ta, p->tb, p->m, p->n, p->k, &one, (float *)a, rsa, 1, (float *)b, rsb, 1,
                  &zero, c, p->n, 1);
        double t = bench_now() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    long batch = argc > 1 ? atol(argv[1]) : 256;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    int reps = argc > 3 ? atoi(argv[3]) : 200;
    long w[16] = {784, 256, 256, 10};
    int nw = 4;
    if (argc > 4) {
        nw = argc - 4;
        if (nw > 16)
            nw = 0;
        for (int i = 0; i < nw; i++)
            w[i] = atol(argv[4 + i]);
    }
    int ok = batch >= 1 && batch <= 65536 && threads >= 1 && threads <= 256 && reps >= 1 && nw >= 2;
    for (int i = 0; ok && i < nw; i++)
        ok = w[i] >= 1 && w[i] <= 65536;
    if (!ok) {
        fprintf(stderr, "usage: bench_blis_floor [batch] [threads] [reps] [2 to 16 widths, each 1..65536]\n");
        return 2;
    }
    bench_header(argv[0]);
    bli_thread_set_num_threads(threads);

    prod p[48];
    int np = 0;
    size_t most = 0;
    for (int l = 0; l + 1 < nw; l++)
        p[np++] = (prod){batch, w[l + 1], w[l], BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, "forward Z = H W^T", l + 1};
    for (int l = nw - 2; l >= 0; l--) {
        p[np++] = (prod){w[l + 1], w[l], batch, BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, "dW = dZ^T H", l + 1};
        if (l > 0)
            p[np++] = (prod){batch, w[l], w[l + 1], BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, "dH = dZ W", l + 1};
    }
    for (int i = 0; i < np; i++) {
        size_t s[3] = {(size_t)(p[i].m * p[i].k), (size_t)(p[i].k * p[i].n), (size_t)(p[i].m * p[i].n)};
        for (int j = 0; j < 3; j++)
            most = s[j] > most ? s[j] : most;
    }
    float *a = malloc(most * sizeof *a), *b = malloc(most * sizeof *b), *c = malloc(most * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "bench_blis_floor: out of memory for %zu floats\n", 3 * most);
        return 1;
    }
    for (size_t i = 0; i < most; i++) {
        a[i] = (float)(i % 7) * 0.125f - 0.375f;
        b[i] = (float)(i % 5) * 0.25f - 0.5f;
        c[i] = 0;
    }
    double total = 0, flops = 0;
    for (int i = 0; i < np; i++) {
        double t = fastest(&p[i], a, b, c, reps), f = 2.0 * (double)p[i].m * (double)p[i].n * (double)p[i].k;
        total += t, flops += f;
        printf("# layer %d %-18s %5lld x %5lld x %5lld  %9.1f us  %6.1f GFLOP/s\n", p[i].layer, p[i].what,
               (long long)p[i].m, (long long)p[i].n, (long long)p[i].k, t * 1e6, f / t * 1e-9);
    }
    printf("{\"workload\": \"blis floor\", \"batch\": %ld, \"threads\": %d, \"products\": %d, "
           "\"us\": %.1f, \"mflop\": %.1f, \"gflops\": %.1f}\n",
           batch, threads, np, total * 1e6, flops * 1e-6, flops / total * 1e-9);
    free(a), free(b), free(c);
    return 0;
}
