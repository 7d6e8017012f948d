/*
 * The worker pool (src/core/pool.h) and what runs on it: every index of a
 * loop is run exactly once whatever the thread count, grain, nesting or
 * number of callers; a child of fork() can use the pool.  Matrix products
 * and whole training steps are bit-for-bit reproducible for a thread
 * count and agree closely across counts (BLIS may sum in another order
 * for another block shape).  tools/bootstrap.sh also runs this suite
 * under ThreadSanitizer.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT for the default thread count */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include "core/pool.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct cover {
    unsigned char *hits;
    size_t calls_lo_misaligned;
} cover;

/* Each index once: a plain increment, so an overlap is a data race
 * (ThreadSanitizer) and a count of 2 (here). */
static void mark(void *ctx, size_t lo, size_t hi)
{
    cover *c = ctx;
    if (lo % 16)
        c->calls_lo_misaligned++;
    for (size_t i = lo; i < hi; i++)
        c->hits[i]++;
}

static void check_cover(size_t n, size_t grain)
{
    cover c = {calloc(n + 1, 1), 0};
    ck_assert_ptr_nonnull(c.hits);
    adj_par_for(n, grain, mark, &c);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(c.hits[i] == 1, "n %zu grain %zu threads %d: index %zu run %d times", n,
                      grain, adj_threads(), i, c.hits[i]);
    ck_assert_uint_eq(c.hits[n], 0);
    free(c.hits);
}

/* The default thread count: ADJ_NUM_THREADS, else OMP_NUM_THREADS (its
 * first count), else the CPUs; malformed values skipped; 1..64. */
START_TEST(default_thread_count_rule)
{
    ck_assert_int_eq(adj_pool_default_threads("3", "5", 8), 3);
    ck_assert_int_eq(adj_pool_default_threads(NULL, "5", 8), 5);
    ck_assert_int_eq(adj_pool_default_threads(NULL, "4,2", 8), 4);
    ck_assert_int_eq(adj_pool_default_threads("", NULL, 6), 6);
    ck_assert_int_eq(adj_pool_default_threads("abc", "0", 6), 6);
    ck_assert_int_eq(adj_pool_default_threads("-3", "2", 9), 2);
    ck_assert_int_eq(adj_pool_default_threads(" 7 ", NULL, 1), 7);
    ck_assert_int_eq(adj_pool_default_threads("2x", "3", 1), 3);
    ck_assert_int_eq(adj_pool_default_threads("1000", NULL, 2), 64);
    ck_assert_int_eq(adj_pool_default_threads("99999999999999999999", NULL, 2), 64);
    ck_assert_int_eq(adj_pool_default_threads(NULL, NULL, 0), 1);
}
END_TEST

/* Without a count set, the environment decides, then the CPUs the process
 * may use; adj_set_threads overrides, and 0 goes back to the default. */
START_TEST(threads_default_from_environment)
{
    int before = adj_get_threads();
    setenv("ADJ_NUM_THREADS", "3", 1);
    setenv("OMP_NUM_THREADS", "5", 1);
    adj_set_threads(0);
    ck_assert_int_eq(adj_get_threads(), 3);
    unsetenv("ADJ_NUM_THREADS");
    adj_set_threads(0);
    ck_assert_int_eq(adj_get_threads(), 5);
    unsetenv("OMP_NUM_THREADS");
    adj_set_threads(0);
    cpu_set_t set;
    CPU_ZERO(&set);
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    int cpus = CPU_COUNT(&set);
    ck_assert_int_eq(adj_get_threads(), cpus < 64 ? cpus : 64);
    setenv("ADJ_NUM_THREADS", "3", 1);
    adj_set_threads(2); /* an explicit count wins */
    ck_assert_int_eq(adj_get_threads(), 2);
    unsetenv("ADJ_NUM_THREADS");
    adj_set_threads(before);
}
END_TEST

START_TEST(every_index_once)
{
    const size_t ns[] = {0, 1, 15, 16, 17, 31, 33, 100, 1000, 4097, 65536, 100003};
    const size_t grains[] = {1, 7, 16, 1000};
    for (int t = 1; t <= 4; t++) {
        adj_set_threads(t);
        ck_assert_int_eq(adj_threads(), t);
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++)
                check_cover(ns[i], grains[g]);
    }
    adj_set_threads(100); /* clamped to 64 */
    ck_assert_int_eq(adj_threads(), 64);
    setenv("ADJ_NUM_THREADS", "1", 1);
    adj_set_threads(0); /* back to the default: here the environment's 1 */
    unsetenv("ADJ_NUM_THREADS");
    ck_assert_int_eq(adj_threads(), 1);
    check_cover(1000, 1);
}
END_TEST

typedef struct span_count {
    size_t calls, lo, hi;
} span_count;

static void count_span(void *ctx, size_t lo, size_t hi)
{
    span_count *c = ctx;
    c->calls++; /* only checked when it runs on the caller alone */
    c->lo = lo;
    c->hi = hi;
}

/* One range on the caller exactly when there are fewer than two grains
 * (2 grain > n) or one thread, whatever the grain (up to SIZE_MAX): the
 * split of the division form parts = min(threads, n / grain) < 2. */
START_TEST(one_range_below_two_grains)
{
    const size_t grains[] = {0, 1, 2, 3, 7, 16, 1000, SIZE_MAX / 2, SIZE_MAX / 2 + 1, SIZE_MAX};
    for (int t = 1; t <= 2; t++) {
        adj_set_threads(t);
        for (size_t n = 1; n <= 70; n++)
            for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++) {
                const size_t grain = grains[g] ? grains[g] : 1;
                const bool one = t == 1 || n / grain < 2;
                if (one) {
                    span_count c = {0, 0, 0};
                    adj_par_for(n, grains[g], count_span, &c);
                    ck_assert_msg(c.calls == 1 && c.lo == 0 && c.hi == n,
                                  "n %zu grain %zu threads %d: %zu calls", n, grains[g], t,
                                  c.calls);
                } else {
                    check_cover(n, grains[g]);
                }
            }
    }
    adj_set_threads(1);
}
END_TEST

static void task_mark(void *ctx, size_t lo, size_t hi)
{
    unsigned char *hits = ctx;
    for (size_t i = lo; i < hi; i++)
        hits[i]++;
}

/* Tasks: each index once, whatever the count of tasks and threads. */
START_TEST(every_task_once)
{
    for (int t = 1; t <= 4; t++) {
        adj_set_threads(t);
        for (size_t n = 0; n <= 9; n++) {
            unsigned char hits[10] = {0};
            adj_par_tasks(n, task_mark, hits);
            for (size_t i = 0; i < 10; i++)
                ck_assert_msg(hits[i] == (i < n), "%zu tasks, %d threads: task %zu run %d times",
                              n, t, i, hits[i]);
        }
    }
    adj_set_threads(1);
}
END_TEST

/* Ranges start on multiples of 16 elements (whole cache lines of float). */
START_TEST(ranges_are_aligned)
{
    adj_set_threads(3);
    cover c = {calloc(10007, 1), 0};
    for (int r = 0; r < 50; r++)
        adj_par_for(10007, 1, mark, &c);
    ck_assert_uint_eq(c.calls_lo_misaligned, 0);
    for (size_t i = 0; i < 10007; i++)
        ck_assert_int_eq(c.hits[i], 50);
    free(c.hits);
    adj_set_threads(1);
}
END_TEST

/* A loop inside a loop runs on its caller's thread. */
typedef struct nest {
    unsigned char *hits; /* n x n */
    size_t n;
} nest;

static void inner(void *ctx, size_t lo, size_t hi)
{
    unsigned char *row = ctx;
    for (size_t j = lo; j < hi; j++)
        row[j]++;
}

static void outer(void *ctx, size_t lo, size_t hi)
{
    nest *s = ctx;
    for (size_t i = lo; i < hi; i++)
        adj_par_for(s->n, 1, inner, s->hits + i * s->n);
}

START_TEST(nested_loops)
{
    adj_set_threads(2);
    nest s = {calloc(300 * 300, 1), 300};
    adj_par_for(s.n, 1, outer, &s);
    for (size_t i = 0; i < s.n * s.n; i++)
        ck_assert_int_eq(s.hits[i], 1);
    free(s.hits);
    adj_set_threads(1);
}
END_TEST

/* Several program threads use the pool at once: one gets it, the others
 * run their loops themselves. */
static void *caller(void *arg)
{
    long bad = 0;
    for (int r = 0; r < 200; r++) {
        size_t n = 1000 + (size_t)r * 37;
        cover c = {calloc(n, 1), 0};
        if (!c.hits)
            return (void *)1;
        adj_par_for(n, 8, mark, &c);
        for (size_t i = 0; i < n; i++)
            bad += c.hits[i] != 1;
        free(c.hits);
    }
    (void)arg;
    return (void *)(intptr_t)bad;
}

START_TEST(concurrent_callers)
{
    adj_set_threads(2);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, caller, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_ptr_null(r);
    }
    adj_set_threads(1);
}
END_TEST

START_TEST(child_of_fork)
{
    adj_set_threads(2);
    check_cover(5000, 1); /* the parent's workers are running */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        unsigned char *h = calloc(5000, 1);
        cover c = {h, 0};
        adj_par_for(5000, 1, mark, &c);
        int ok = h != NULL;
        for (size_t i = 0; ok && i < 5000; i++)
            ok = h[i] == 1;
        _exit(ok ? 0 : 3);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    check_cover(5000, 1);
    adj_set_threads(1);
}
END_TEST

/* ------------------------------------------------ results and threads */

static void fill(adj_rng *r, void *p, size_t n, adj_dtype dt)
{
    for (size_t i = 0; i < n; i++) {
        double v = adj_rng_uniform(r) * 2 - 1;
        if (dt == ADJ_F64)
            ((double *)p)[i] = v;
        else
            ((float *)p)[i] = (float)v;
    }
}

/* C = op(A) op(B) and both adjoints, as bytes. */
static void matmul_bytes(adj_dtype dt, size_t m, size_t n, size_t k, int ta, int tb,
                         unsigned char *out, size_t *len)
{
    size_t es = dt == ADJ_F64 ? 8 : 4;
    adj_rng r;
    adj_rng_seed(&r, m * 1000003 + n * 1009 + k + (size_t)ta * 2 + (size_t)tb);
    void *a = malloc(m * k * es), *b = malloc(k * n * es), *seed = malloc(m * n * 8);
    fill(&r, a, m * k, dt);
    fill(&r, b, k * n, dt);
    fill(&r, seed, m * n, ADJ_F64);
    adj_tape *t = adj_tape_new();
    int64_t sa[2] = {ta ? (int64_t)k : (int64_t)m, ta ? (int64_t)m : (int64_t)k};
    int64_t sb[2] = {tb ? (int64_t)n : (int64_t)k, tb ? (int64_t)k : (int64_t)n};
    adj_var *A = adj_leaf_at(t, dt, 2, sa, a, 1, __FILE__, __LINE__);
    adj_var *B = adj_leaf_at(t, dt, 2, sb, b, 1, __FILE__, __LINE__);
    adj_var *C = adj_matmul_t(A, B, ta, tb);
    ck_assert_int_eq(adj_backward_seeded(C, seed), ADJ_OK);
    *len = 0;
    memcpy(out + *len, adj_data(C), m * n * es), *len += m * n * es;
    memcpy(out + *len, adj_grad_data(A), m * k * es), *len += m * k * es;
    memcpy(out + *len, adj_grad_data(B), k * n * es), *len += k * n * es;
    adj_tape_free(t);
    free(a);
    free(b);
    free(seed);
}

/* |got - ref| <= tol max|ref|, element by element. */
static void assert_close(const unsigned char *ref, const unsigned char *got, size_t bytes,
                         adj_dtype dt, double tol, const char *what)
{
    size_t n = bytes / (dt == ADJ_F64 ? 8 : 4);
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double r = dt == ADJ_F64 ? ((const double *)ref)[i] : ((const float *)ref)[i];
        scale = fabs(r) > scale ? fabs(r) : scale;
    }
    for (size_t i = 0; i < n; i++) {
        double r = dt == ADJ_F64 ? ((const double *)ref)[i] : ((const float *)ref)[i];
        double g = dt == ADJ_F64 ? ((const double *)got)[i] : ((const float *)got)[i];
        worst = fabs(g - r) > worst ? fabs(g - r) : worst;
    }
    ck_assert_msg(worst <= tol * scale, "%s: differs by %g (scale %g)", what, worst, scale);
}

START_TEST(matmul_reproducible_per_thread_count)
{
    const size_t shapes[][3] = {{64, 256, 784}, {256, 784, 64}, {256, 256, 64},
                                {100, 33, 700}, {33, 100, 700}, {1024, 20, 16},
                                {17, 500, 129}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int dt = 0; dt < 2; dt++)
            for (int tr = 0; tr < 4; tr++) {
                size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                adj_dtype d = dt ? ADJ_F32 : ADJ_F64;
                size_t cap = (m * n + m * k + k * n) * 8, l1, l, l2;
                unsigned char *ref = malloc(cap), *got = malloc(cap), *again = malloc(cap);
                char what[96];
                adj_set_threads(1);
                matmul_bytes(d, m, n, k, tr & 1, tr >> 1, ref, &l1);
                for (int th = 2; th <= 3; th++) {
                    snprintf(what, sizeof what, "%zux%zux%zu %s ta %d tb %d, %d threads", m, n,
                             k, dt ? "f32" : "f64", tr & 1, tr >> 1, th);
                    adj_set_threads(th);
                    matmul_bytes(d, m, n, k, tr & 1, tr >> 1, got, &l);
                    matmul_bytes(d, m, n, k, tr & 1, tr >> 1, again, &l2);
                    ck_assert_uint_eq(l, l1);
                    ck_assert_msg(memcmp(got, again, l) == 0, "%s: two runs differ", what);
                    assert_close(ref, got, l, d, dt ? 1e-5 : 1e-13, what);
                }
                free(ref);
                free(got);
                free(again);
            }
    adj_set_threads(1);
}
END_TEST

/* d(sum(A^T A))/dA and d(sum(W W^T))/dW through linear (both operands
 * the same var, so both products of the backward add into one buffer):
 * with two threads the same as with one, every time. */
static void self_products(double *out)
{
    enum { N = 128 };
    static double a[N * N];
    adj_rng r;
    adj_rng_seed(&r, 77);
    fill(&r, a, N * N, ADJ_F64);
    adj_tape *t = adj_tape_new();
    int64_t sh[2] = {N, N};
    adj_var *A = adj_leaf_at(t, ADJ_F64, 2, sh, a, 1, __FILE__, __LINE__);
    adj_var *W = adj_leaf_at(t, ADJ_F64, 2, sh, a, 1, __FILE__, __LINE__);
    adj_var *f = adj_add(adj_sum(adj_matmul_t(A, A, 1, 0)), adj_sum(adj_linear(W, W, NULL)));
    ck_assert_int_eq(adj_backward(f), ADJ_OK);
    memcpy(out, adj_grad_data(A), sizeof a);
    memcpy(out + N * N, adj_grad_data(W), sizeof a);
    adj_tape_free(t);
}

START_TEST(products_of_a_var_with_itself)
{
    static double ref[2 * 128 * 128], got[2 * 128 * 128];
    adj_set_threads(1);
    self_products(ref);
    adj_set_threads(2);
    for (int rep = 0; rep < 20; rep++) {
        self_products(got);
        assert_close((const unsigned char *)ref, (const unsigned char *)got, sizeof got, ADJ_F64,
                     1e-13, "A^T A and W W^T with 2 threads");
    }
    adj_set_threads(1);
}
END_TEST

/* linear(x, w, x): x is also the bias (out = rows x in), so the column
 * sums of dZ add into dX, which the product writes first.  Against plain
 * loops, with two threads, every time (and no race under TSan). */
START_TEST(linear_with_input_as_bias)
{
    enum { M = 64, IN = 32, OUT = M * IN };
    static double x[M * IN], w[OUT * IN], up[M * OUT], dx[M * IN], dw[OUT * IN];
    adj_rng r;
    adj_rng_seed(&r, 78);
    fill(&r, x, M * IN, ADJ_F64);
    fill(&r, w, OUT * IN, ADJ_F64);
    fill(&r, up, M * OUT, ADJ_F64);
    /* dX = dZ W + column sums of dZ laid out as x;  dW = dZ^T X */
    for (int i = 0; i < M; i++)
        for (int p = 0; p < IN; p++) {
            double s = 0;
            for (int j = 0; j < OUT; j++)
                s += up[i * OUT + j] * w[j * IN + p];
            for (int q = 0; q < M; q++)
                s += up[q * OUT + i * IN + p];
            dx[i * IN + p] = s;
        }
    for (int j = 0; j < OUT; j++)
        for (int p = 0; p < IN; p++) {
            double s = 0;
            for (int i = 0; i < M; i++)
                s += up[i * OUT + j] * x[i * IN + p];
            dw[j * IN + p] = s;
        }
    adj_set_threads(2);
    for (int rep = 0; rep < 10; rep++) {
        adj_tape *t = adj_tape_new();
        adj_var *X = adj_leaf_at(t, ADJ_F64, 2, ((int64_t[]){M, IN}), x, 1, __FILE__, __LINE__);
        adj_var *W = adj_leaf_at(t, ADJ_F64, 2, ((int64_t[]){OUT, IN}), w, 1, __FILE__, __LINE__);
        ck_assert_int_eq(adj_backward_seeded(adj_linear(X, W, X), up), ADJ_OK);
        const double *gx = adj_grad_data(X), *gw = adj_grad_data(W);
        for (int k = 0; k < M * IN; k++)
            ck_assert_msg(fabs(gx[k] - dx[k]) <= 1e-12 * (1 + fabs(dx[k])), "rep %d: dx[%d] %.17g, want %.17g",
                          rep, k, gx[k], dx[k]);
        for (int k = 0; k < OUT * IN; k++)
            ck_assert_msg(fabs(gw[k] - dw[k]) <= 1e-12 * (1 + fabs(dw[k])), "rep %d: dw[%d] %.17g, want %.17g",
                          rep, k, gw[k], dw[k]);
        adj_tape_free(t);
    }
    adj_set_threads(1);
}
END_TEST

/* Z = X W^T + b and its three adjoints (X's only when wanted), as bytes. */
static void linear_bytes(adj_dtype dt, size_t m, size_t in, size_t out, int want_x,
                         unsigned char *res, size_t *len)
{
    size_t es = dt == ADJ_F64 ? 8 : 4;
    adj_rng r;
    adj_rng_seed(&r, m * 7919 + in * 31 + out);
    void *x = malloc(m * in * es), *w = malloc(out * in * es), *b = malloc(out * es);
    double *up = malloc(m * out * 8);
    fill(&r, x, m * in, dt);
    fill(&r, w, out * in, dt);
    fill(&r, b, out, dt);
    fill(&r, up, m * out, ADJ_F64);
    adj_tape *t = adj_tape_new();
    adj_var *X = adj_leaf_at(t, dt, 2, ((int64_t[]){(int64_t)m, (int64_t)in}), x, want_x, __FILE__, __LINE__);
    adj_var *W = adj_leaf_at(t, dt, 2, ((int64_t[]){(int64_t)out, (int64_t)in}), w, 1, __FILE__, __LINE__);
    adj_var *B = adj_leaf_at(t, dt, 1, ((int64_t[]){(int64_t)out}), b, 1, __FILE__, __LINE__);
    adj_var *Z = adj_linear(X, W, B);
    ck_assert_int_eq(adj_backward_seeded(Z, up), ADJ_OK);
    *len = 0;
    memcpy(res + *len, adj_data(Z), m * out * es), *len += m * out * es;
    if (want_x)
        memcpy(res + *len, adj_grad_data(X), m * in * es), *len += m * in * es;
    memcpy(res + *len, adj_grad_data(W), out * in * es), *len += out * in * es;
    memcpy(res + *len, adj_grad_data(B), out * es), *len += out * es;
    adj_tape_free(t);
    free(x), free(w), free(b), free(up);
}

/* The same in double plain loops, from the same draws. */
static void linear_ref(adj_dtype dt, size_t m, size_t in, size_t out, int want_x, double *res)
{
    size_t es = dt == ADJ_F64 ? 8 : 4;
    adj_rng r;
    adj_rng_seed(&r, m * 7919 + in * 31 + out);
    void *xs = malloc(m * in * es), *ws = malloc(out * in * es), *bs = malloc(out * es);
    double *up = malloc(m * out * 8);
    fill(&r, xs, m * in, dt);
    fill(&r, ws, out * in, dt);
    fill(&r, bs, out, dt);
    fill(&r, up, m * out, ADJ_F64);
#define V(p, i) (dt == ADJ_F64 ? ((const double *)(p))[i] : (double)((const float *)(p))[i])
#define U(i) (dt == ADJ_F64 ? up[i] : (double)(float)up[i])
    double *z = res, *dx = z + m * out, *dw = dx + (want_x ? m * in : 0), *db = dw + out * in;
    for (size_t i = 0; i < m; i++)
        for (size_t o = 0; o < out; o++) {
            double s = V(bs, o);
            for (size_t p = 0; p < in; p++)
                s += V(xs, i * in + p) * V(ws, o * in + p);
            z[i * out + o] = s;
        }
    for (size_t i = 0; want_x && i < m; i++)
        for (size_t p = 0; p < in; p++) {
            double s = 0;
            for (size_t o = 0; o < out; o++)
                s += U(i * out + o) * V(ws, o * in + p);
            dx[i * in + p] = s;
        }
    for (size_t o = 0; o < out; o++) {
        double sb = 0;
        for (size_t i = 0; i < m; i++)
            sb += U(i * out + o);
        db[o] = sb;
        for (size_t p = 0; p < in; p++) {
            double s = 0;
            for (size_t i = 0; i < m; i++)
                s += U(i * out + o) * V(xs, i * in + p);
            dw[o * in + p] = s;
        }
    }
#undef V
#undef U
    free(xs), free(ws), free(bs), free(up);
}

/* linear's forward and backward at 1 and 2 threads against plain loops,
 * on odd sizes where the two products of the backward run one per thread
 * and where the input wants no adjoint (a first layer: dW alone, split
 * over the threads, and db's column sums split by columns), float and
 * double; two runs at a thread count give the same bits. */
START_TEST(linear_backward_against_loops)
{
    const size_t shapes[][3] = {{67, 129, 33}, {300, 50, 130}, {257, 100, 65}, {5, 3, 7}};
    for (int th = 1; th <= 2; th++) {
        adj_set_threads(th);
        for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
            for (int dt = 0; dt < 2; dt++)
                for (int want_x = 0; want_x < 2; want_x++) {
                    const size_t m = shapes[c][0], in = shapes[c][1], out = shapes[c][2];
                    const adj_dtype d = dt ? ADJ_F32 : ADJ_F64;
                    const size_t n = m * out + m * in + out * in + out;
                    unsigned char *got = malloc(n * 8), *again = malloc(n * 8);
                    double *ref = malloc(n * sizeof *ref);
                    size_t l, l2;
                    linear_bytes(d, m, in, out, want_x, got, &l);
                    linear_bytes(d, m, in, out, want_x, again, &l2);
                    ck_assert_uint_eq(l, l2);
                    ck_assert_msg(memcmp(got, again, l) == 0, "%zux%zux%zu: two runs differ", m, in, out);
                    linear_ref(d, m, in, out, want_x, ref);
                    const size_t cnt = l / (dt ? 4 : 8);
                    for (size_t i = 0; i < cnt; i++) {
                        double g = dt ? ((const float *)got)[i] : ((const double *)got)[i];
                        ck_assert_msg(fabs(g - ref[i]) <= (dt ? 2e-5 : 1e-12) * (double)(m + in + out),
                                      "%zux%zux%zu %s, want_x %d, %d threads: [%zu] %.9g, want %.9g", m,
                                      in, out, dt ? "f32" : "f64", want_x, th, i, g, ref[i]);
                    }
                    free(got), free(again), free(ref);
                }
    }
    adj_set_threads(1);
}
END_TEST

/* The claim rule of the parts, played out over every order of threads a
 * seeded generator gives: a thread takes its own part first, then the
 * parts without an owner in order, then the owned parts left (a late
 * thread's); every part is taken exactly once, by 1 to 8 threads (the
 * first 6 own a part) and 1 to 70 parts. */
static unsigned taken_init(unsigned owned) { return 63u & ~((1u << owned) - 1); }

START_TEST(claim_rule)
{
    /* two threads, two parts: each its own, and the caller takes the
     * worker's part when the worker has not taken it */
    ck_assert_uint_eq(adj_pool_pick(2, 2, taken_init(2), 0), 0);
    ck_assert_uint_eq(adj_pool_pick(2, 2, taken_init(2), 1), 1);
    ck_assert_uint_eq(adj_pool_pick(2, 2, taken_init(2) | 1, 0), 1);
    ck_assert_uint_eq(adj_pool_pick(2, 2, taken_init(2) | 2, 1), 0);
    ck_assert_uint_eq(adj_pool_pick(2, 2, 63, 0), 2);
    ck_assert_uint_eq(adj_pool_pick(2, 2, 63, 1), 2);
    /* five parts on two threads: own, then 2, 3, 4, then the steal */
    ck_assert_uint_eq(adj_pool_pick(5, 2, taken_init(2) | 1, 0), 2);
    ck_assert_uint_eq(adj_pool_pick(5, 5, taken_init(2) | 1, 0), 1);
    /* a seventh thread owns no part */
    ck_assert_uint_eq(adj_pool_pick(9, 6, 0, 6), 6);
    ck_assert_uint_eq(adj_pool_pick(9, 9, 0x1f, 6), 5);

    uint64_t rng = 12345;
    for (unsigned threads = 1; threads <= 8; threads++)
        for (unsigned parts = 1; parts <= 70; parts++)
            for (int order = 0; order < 20; order++) {
                unsigned owned = threads < parts ? threads : parts;
                owned = owned < 6 ? owned : 6;
                unsigned next = owned, taken = taken_init(owned), got = 0;
                unsigned char hits[70] = {0};
                bool first[8] = {0};
                for (;;) {
                    rng = rng * 6364136223846793005u + 1442695040888963407u;
                    const int self = (int)((rng >> 33) % threads);
                    const unsigned k = adj_pool_pick(parts, next, taken, self);
                    if (k >= parts)
                        break;
                    if (!first[self] && self < (int)owned && !(taken >> self & 1))
                        ck_assert_uint_eq(k, (unsigned)self);
                    first[self] = true;
                    if (k == next)
                        next++;
                    else {
                        ck_assert_uint_lt(k, owned);
                        ck_assert(!(taken >> k & 1));
                        taken |= 1u << k;
                    }
                    hits[k]++;
                    got++;
                }
                ck_assert_uint_eq(got, parts);
                for (unsigned k = 0; k < parts; k++)
                    ck_assert_msg(hits[k] == 1, "%u threads %u parts: part %u taken %d times",
                                  threads, parts, k, hits[k]);
                for (int self = 0; self < (int)threads; self++)
                    ck_assert_uint_eq(adj_pool_pick(parts, next, taken, self), parts);
            }
}
END_TEST

/* Workers asleep (the pool idle for longer than they spin) or late: the
 * caller takes their parts, and every index and task runs once, for 1 to
 * 4 threads, few and many parts, and loops inside tasks. */
static void nap(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void tasks_with_loops(void *ctx, size_t lo, size_t hi)
{
    nest *s = ctx;
    for (size_t i = lo; i < hi; i++)
        adj_par_for(s->n, 1, inner, s->hits + i * s->n);
}

START_TEST(sleeping_workers)
{
    const size_t ns[] = {33, 1000, 100003};
    const size_t tasks[] = {2, 3, 7, 5000};
    for (int t = 1; t <= 4; t++) {
        adj_set_threads(t);
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            nap();
            check_cover(ns[i], 1);
            check_cover(ns[i], 1); /* and right after, workers spinning */
        }
        for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
            unsigned char *hits = calloc(tasks[i], 1);
            ck_assert_ptr_nonnull(hits);
            nap();
            adj_par_tasks(tasks[i], task_mark, hits);
            adj_par_tasks(tasks[i], task_mark, hits);
            for (size_t k = 0; k < tasks[i]; k++)
                ck_assert_msg(hits[k] == 2, "%zu tasks, %d threads: task %zu run %d times",
                              tasks[i], t, k, hits[k]);
            free(hits);
        }
        nest s = {calloc(9 * 100, 1), 100};
        ck_assert_ptr_nonnull(s.hits);
        nap();
        adj_par_tasks(9, tasks_with_loops, &s);
        for (size_t i = 0; i < 9 * 100; i++)
            ck_assert_int_eq(s.hits[i], 1);
        free(s.hits);
    }
    adj_set_threads(1);
}
END_TEST

/* More tasks than a loop has parts: several tasks a part. */
START_TEST(many_tasks)
{
    adj_set_threads(2);
    const size_t n = 70001;
    unsigned char *hits = calloc(n, 1);
    adj_par_tasks(n, task_mark, hits);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(hits[i] == 1, "task %zu run %d times", i, hits[i]);
    free(hits);
    adj_set_threads(1);
}
END_TEST

/* Program threads that find the pool busy run the same ranges one after
 * another: a product has the same bits as when the pool ran it. */
typedef struct prod_job {
    const unsigned char *ref;
    size_t len;
    int mismatches;
} prod_job;

static void *same_product(void *arg)
{
    prod_job *j = arg;
    unsigned char *got = malloc(j->len);
    for (int r = 0; r < 10; r++) {
        size_t l;
        matmul_bytes(ADJ_F64, 48, 256, 784, 0, 0, got, &l);
        j->mismatches += l != j->len || memcmp(got, j->ref, l) != 0;
    }
    free(got);
    return NULL;
}

START_TEST(busy_pool_same_bits)
{
    /* three threads: this product's whole-call bits differ from its
     * three-block ones, so running it whole would show */
    adj_set_threads(3);
    size_t cap = (48 * 256 + 48 * 784 + 784 * 256) * 8, len;
    unsigned char *ref = malloc(cap);
    matmul_bytes(ADJ_F64, 48, 256, 784, 0, 0, ref, &len);
    prod_job jobs[3] = {{ref, len, 0}, {ref, len, 0}, {ref, len, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, same_product, &jobs[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(jobs[i].mismatches == 0, "thread %d: %d of 10 products differ", i,
                      jobs[i].mismatches);
    }
    free(ref);
    adj_set_threads(1);
}
END_TEST

/* A few SGD and Adam steps of a 784-128-10 network: the parameters after
 * them are the same bits for two runs with a thread count, and close
 * across counts. */
static float *train(int threads, adj_optim_kind kind, size_t *np)
{
    adj_set_threads(threads);
    adj_mlp_config c = adj_mlp_config_default();
    adj_mlp_config_set_sizes(&c, 3, (int64_t[]){784, 128, 10}, ADJ_ACT_RELU);
    adj_rng rng;
    adj_rng_seed(&rng, 5);
    adj_error err;
    adj_mlp *m = adj_mlp_new(&c, &rng, &err);
    ck_assert_ptr_nonnull(m);
    adj_optim_config oc = adj_optim_defaults(kind);
    oc.lr = 0.01;
    adj_optim *o = adj_optim_new(adj_mlp_params(m), &oc, NULL);
    ck_assert_ptr_nonnull(o);
    adj_tape *t = adj_tape_new();
    enum { B = 96 };
    float *x = malloc(B * 784 * sizeof *x);
    int32_t labels[B];
    fill(&rng, x, B * 784, ADJ_F32);
    for (int i = 0; i < B; i++)
        labels[i] = i % 10;
    for (int s = 0; s < 4; s++) {
        adj_tape_reset(t);
        adj_var *xv = adj_constant_view(t, ADJ_F32, 2, (int64_t[]){B, 784}, x);
        adj_var *loss = adj_softmax_cross_entropy(adj_mlp_forward(m, xv), labels);
        adj_params_zero_grad(adj_mlp_params(m));
        ck_assert_int_eq(adj_backward(loss), ADJ_OK);
        ck_assert_int_eq(adj_optim_step(o), ADJ_OK);
    }
    *np = adj_params_count(adj_mlp_params(m));
    float *p = malloc(*np * sizeof *p);
    memcpy(p, adj_params_values(adj_mlp_params(m)), *np * sizeof *p);
    adj_tape_free(t);
    adj_optim_free(o);
    adj_mlp_free(m);
    free(x);
    adj_set_threads(1);
    return p;
}

START_TEST(training_reproducible_per_thread_count)
{
    const adj_optim_kind kinds[] = {ADJ_OPTIM_SGD, ADJ_OPTIM_ADAM};
    for (int k = 0; k < 2; k++) {
        size_t n1, n, n2;
        float *ref = train(1, kinds[k], &n1);
        for (int th = 2; th <= 3; th++) {
            float *got = train(th, kinds[k], &n), *again = train(th, kinds[k], &n2);
            ck_assert_uint_eq(n, n1);
            ck_assert_uint_eq(n2, n1);
            ck_assert_msg(memcmp(got, again, n * sizeof *got) == 0,
                          "%s, %d threads: two runs differ", adj_optim_name(kinds[k]), th);
            char what[64];
            snprintf(what, sizeof what, "%s, %d threads vs 1", adj_optim_name(kinds[k]), th);
            assert_close((const unsigned char *)ref, (const unsigned char *)got,
                         n * sizeof *got, ADJ_F32, 1e-4, what);
            free(got);
            free(again);
        }
        free(ref);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, every_index_once);
    tcase_add_test(tc, one_range_below_two_grains);
    tcase_add_test(tc, every_task_once);
    tcase_add_test(tc, ranges_are_aligned);
    tcase_add_test(tc, nested_loops);
    tcase_add_test(tc, concurrent_callers);
    tcase_add_test(tc, child_of_fork);
    tcase_add_test(tc, matmul_reproducible_per_thread_count);
    tcase_add_test(tc, training_reproducible_per_thread_count);
    tcase_add_test(tc, products_of_a_var_with_itself);
    tcase_add_test(tc, linear_with_input_as_bias);
    tcase_add_test(tc, linear_backward_against_loops);
    tcase_add_test(tc, many_tasks);
    tcase_add_test(tc, claim_rule);
    tcase_add_test(tc, sleeping_workers);
    tcase_add_test(tc, busy_pool_same_bits);
    tcase_add_test(tc, default_thread_count_rule);
    tcase_add_test(tc, threads_default_from_environment);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
