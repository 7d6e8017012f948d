/*
 * Convolution and pooling forward + backward in float, median step time;
 * bench/bench_conv.py runs it next to PyTorch.
 *
 *     bench_conv conv CIN COUT HW BATCH [threads] [steps]
 *         conv2d 3x3 padding 1 with bias on (BATCH, CIN, HW, HW); loss =
 *         sum(y * W); the input wants a gradient when CIN > 1 (a first
 *         layer's input does not).  Timed: the convolution's forward and
 *         the whole backward (whose loss part is one fill and one
 *         product), not the loss's forward.
 *     bench_conv pool C HW BATCH [threads] [steps]
 *         max_pool2d 2x2 stride 2 on (BATCH, C, HW, HW): the op's forward
 *         and its backward timed apart from the loss, and a copy of the
 *         input (memcpy) for the bandwidth comparison; CPU time.  The
 *         input is read in place and gets a fresh adjoint, as in PyTorch.
 * Prints one JSON line.
 */
#include <adjoint.h>

#include "bench_util.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CPU time of the whole process (every thread), in seconds: on a machine
 * shared with other work, a step's CPU time is steadier than its wall
 * time, and it is what both engines are compared on. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(float *x, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        x[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static void check(adj_tape *t)
{
    if (adj_tape_status(t) != ADJ_OK) {
        fprintf(stderr, "bench_conv: %s\n", adj_tape_message(t));
        exit(1);
    }
}

static int conv(int argc, char **argv)
{
    const int64_t cin = atoll(argv[2]), cout = atoll(argv[3]), hw = atoll(argv[4]),
                  batch = atoll(argv[5]);
    const int threads = argc > 6 ? atoi(argv[6]) : 1, steps = argc > 7 ? atoi(argv[7]) : 20;
    adj_set_threads(threads);
    bench_header(argv[0]);
    const int64_t xs[4] = {batch, cin, hw, hw}, ws[4] = {cout, cin, 3, 3}, bs[1] = {cout};
    const int64_t ys[4] = {batch, cout, hw, hw};
    const bool xgrad = cin > 1;
    adj_params *p = adj_params_new(ADJ_F32);
    adj_params_add(p, "x", 4, xs);
    adj_params_add(p, "w", 4, ws);
    adj_params_add(p, "b", 1, bs);
    unsigned seed = 3;
    fill(adj_params_value(p, 0), (size_t)(batch * cin * hw * hw), &seed);
    fill(adj_params_value(p, 1), (size_t)(cout * cin * 9), &seed);
    fill(adj_params_value(p, 2), (size_t)cout, &seed);
    const size_t ny = (size_t)(batch * cout * hw * hw);
    float *wy = malloc(ny * sizeof *wy);
    fill(wy, ny, &seed);
    adj_tape *t = adj_tape_new();
    double *ms = malloc((size_t)steps * sizeof *ms), loss = 0;
    double *cpu = malloc((size_t)steps * sizeof *cpu);
    const adj_conv2d_opts o = {{1, 1}, {1, 1}, {1, 1}, 1};
    for (int s = -2; s < steps; s++) {
        adj_tape_reset(t);
        adj_params_zero_grad(p);
        adj_var *x = xgrad ? adj_param(t, p, 0)
                           : adj_constant_view(t, ADJ_F32, 4, xs, adj_params_value(p, 0));
        adj_var *w = adj_param(t, p, 1), *b = adj_param(t, p, 2);
        double t0 = bench_now(), c0 = cpu_now();
        adj_var *y = adj_conv2d(x, w, b, &o);
        double t1 = bench_now(), c1 = cpu_now();
        adj_var *l = adj_sum(adj_mul(y, adj_constant_view(t, ADJ_F32, 4, ys, wy)));
        double t2 = bench_now(), c2 = cpu_now();
        if (adj_backward(l) != ADJ_OK)
            check(t);
        if (s >= 0) {
            ms[s] = 1e3 * ((t1 - t0) + (bench_now() - t2));
            cpu[s] = 1e3 * ((c1 - c0) + (cpu_now() - c2));
        }
        loss = adj_item(l);
    }
    printf("{\"workload\": \"conv2d\", \"bench\": \"conv2d\", \"impl\": \"adjoint\", \"threads\": %d, \"cin\": %lld, "
           "\"cout\": %lld, \"hw\": %lld, \"batch\": %lld, \"ms\": %.4f, \"cpu_ms\": %.4f, "
           "\"loss\": %.6g}\n",
           threads, (long long)cin, (long long)cout, (long long)hw, (long long)batch,
           bench_median(ms, (size_t)steps), bench_median(cpu, (size_t)steps), loss);
    adj_tape_free(t);
    adj_params_free(p);
    free(wy);
    free(ms);
    free(cpu);
    return 0;
}

static int pool(int argc, char **argv)
{
    const int64_t c = atoll(argv[2]), hw = atoll(argv[3]), batch = atoll(argv[4]);
    const int threads = argc > 5 ? atoi(argv[5]) : 1, steps = argc > 6 ? atoi(argv[6]) : 20;
    adj_set_threads(threads);
    bench_header(argv[0]);
    const int64_t xs[4] = {batch, c, hw, hw};
    const size_t nx = (size_t)(batch * c * hw * hw), ny = nx / 4;
    /* x is read in place and its adjoint written fresh each step, as
     * PyTorch's leaf with x.grad = None */
    float *xd = malloc(nx * sizeof *xd);
    unsigned seed = 5;
    fill(xd, nx, &seed);
    float *copy = malloc(nx * sizeof *copy);
    adj_tape *t = adj_tape_new();
    double *fwd = malloc((size_t)steps * sizeof *fwd), *bwd = malloc((size_t)steps * sizeof *bwd);
    double *cp = malloc((size_t)steps * sizeof *cp), *sum_bwd = malloc((size_t)steps * sizeof *sum_bwd);
    const adj_pool2d_opts o = {{2, 2}, {2, 2}, {0, 0}};
    for (int s = -2; s < steps; s++) {
        adj_tape_reset(t);
        adj_var *x = adj_tensor_view(t, ADJ_F32, 4, xs, xd);
        double t0 = cpu_now();
        adj_var *y = adj_max_pool2d(x, &o);
        double t1 = cpu_now();
        adj_var *l = adj_sum(y);
        check(t);
        double t2 = cpu_now();
        adj_backward(l);
        double t3 = cpu_now();
        /* the sum's own backward (filling dy) is timed alone on a fresh
         * tape with a leaf of y's shape, and taken off */
        adj_tape_reset(t);
        adj_var *yy = adj_leaf_at(t, ADJ_F32, 4, ((int64_t[]){batch, c, hw / 2, hw / 2}), NULL, 1,
                                 __FILE__, __LINE__);
        adj_var *l2 = adj_sum(yy);
        double t4 = cpu_now();
        adj_backward(l2);
        double t5 = cpu_now();
        memcpy(copy, xd, nx * sizeof *copy);
        double t6 = cpu_now();
        if (s >= 0) {
            fwd[s] = 1e3 * (t1 - t0);
            bwd[s] = 1e3 * (t3 - t2);
            sum_bwd[s] = 1e3 * (t5 - t4);
            cp[s] = 1e3 * (t6 - t5);
        }
    }
    const double f = bench_median(fwd, (size_t)steps), b = bench_median(bwd, (size_t)steps);
    const double sb = bench_median(sum_bwd, (size_t)steps), k = bench_median(cp, (size_t)steps);
    /* bytes the op must move: forward reads x, writes y; backward reads dy,
     * writes dx.  The copy reads and writes x. */
    const double op_bytes = 4.0 * (double)(nx + ny + ny + nx), copy_bytes = 8.0 * (double)nx;
    const double op_ms = f + (b - sb > 0 ? b - sb : b);
    printf("{\"bench\": \"max_pool2d\", \"impl\": \"adjoint\", \"threads\": %d, \"c\": %lld, "
           "\"hw\": %lld, \"batch\": %lld, \"ms_fwd\": %.4f, \"ms_bwd\": %.4f, \"ms\": %.4f, "
           "\"copy_ms\": %.4f, \"op_gbs\": %.3f, \"copy_gbs\": %.3f, \"bw_ratio\": %.3f}\n",
           threads, (long long)c, (long long)hw, (long long)batch, f, b - sb, op_ms, k,
           op_bytes / op_ms * 1e-6, copy_bytes / k * 1e-6,
           (op_bytes / op_ms) / (copy_bytes / k));
    adj_tape_free(t);
    free(xd), free(copy), free(fwd), free(bwd), free(cp), free(sum_bwd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 5 && strcmp(argv[1], "conv") == 0)
        return conv(argc, argv);
    if (argc > 4 && strcmp(argv[1], "pool") == 0)
        return pool(argc, argv);
    fprintf(stderr, "usage: bench_conv conv CIN COUT HW BATCH [threads] [steps]\n"
                    "       bench_conv pool C HW BATCH [threads] [steps]\n");
    return 2;
}
