/*
 * The floor for the scalar chain: a minimal hand-written tape in C that
 * records and differentiates the same chain as bench_chain.c,
 * x <- tanh(w x + b), with nothing but what the chain needs.
 *
 * The tape is a structure of arrays (op code, two input indices, value,
 * adjoint: 25 bytes a node), a node is its index, and there are no
 * checks, no shapes, no dtypes and no error paths.  It is a benchmark,
 * not a library: it shows what recording and back-propagating a scalar
 * node costs on this machine when nothing else is paid for.
 *
 * usage: bench_min_tape [nodes] [reps] [w] [b]    output: a header line
 * ("# ..."), then one JSON object, the fields of bench_chain's (workload
 * "min_tape").
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_LEAF, OP_ADD, OP_MUL, OP_TANH };

typedef struct {
    uint8_t *op;
    int32_t *a, *b; /* input indices */
    double *val, *adj;
    size_t n, cap;
} tape;

static int tape_grow(tape *t)
{
    size_t cap = t->cap ? 2 * t->cap : 1024;
    uint8_t *op = realloc(t->op, cap);
    if (op)
        t->op = op;
    int32_t *a = realloc(t->a, cap * sizeof *a);
    if (a)
        t->a = a;
    int32_t *b = realloc(t->b, cap * sizeof *b);
    if (b)
        t->b = b;
    double *val = realloc(t->val, cap * sizeof *val);
    if (val)
        t->val = val;
    double *adj = realloc(t->adj, cap * sizeof *adj);
    if (adj)
        t->adj = adj;
    if (!op || !a || !b || !val || !adj)
        return 0;
    t->cap = cap;
    return 1;
}

/* Append a node: its index, or -1 when memory runs out. */
static inline int32_t push(tape *t, int op, int32_t a, int32_t b, double v)
{
    if (t->n == t->cap && !tape_grow(t))
        return -1;
    size_t i = t->n++;
    t->op[i] = (uint8_t)op;
    t->a[i] = a;
    t->b[i] = b;
    t->val[i] = v;
    return (int32_t)i;
}

static inline int32_t leaf(tape *t, double v) { return push(t, OP_LEAF, -1, -1, v); }
static inline int32_t add(tape *t, int32_t a, int32_t b)
{
    return push(t, OP_ADD, a, b, t->val[a] + t->val[b]);
}
static inline int32_t mul(tape *t, int32_t a, int32_t b)
{
    return push(t, OP_MUL, a, b, t->val[a] * t->val[b]);
}
static inline int32_t tanh_(tape *t, int32_t a) { return push(t, OP_TANH, a, -1, tanh(t->val[a])); }

/* d y / d (every node), y the last node recorded. */
static void backward(tape *t)
{
    double *adj = t->adj;
    const double *val = t->val;
    memset(adj, 0, t->n * sizeof *adj);
    adj[t->n - 1] = 1.0;
    for (size_t i = t->n; i-- > 0;) {
        const double g = adj[i];
        const int32_t a = t->a[i], b = t->b[i];
        switch (t->op[i]) {
        case OP_ADD:
            adj[a] += g;
            adj[b] += g;
            break;
        case OP_MUL:
            adj[a] += g * val[b];
            adj[b] += g * val[a];
            break;
        case OP_TANH:
            adj[a] += g * (1.0 - val[i] * val[i]);
            break;
        default:
            break;
        }
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long nodes = argc > 1 ? atol(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    double w0 = argc > 3 ? atof(argv[3]) : 1.0, b0 = argc > 4 ? atof(argv[4]) : 0.0;
    if (nodes < 3 || nodes > INT32_MAX / 2 || reps < 1 || reps > 100) {
        fprintf(stderr, "usage: bench_min_tape [nodes >= 3] [reps 1..100] [w] [b]\n");
        return 2;
    }
    printf("# bench_min_tape: a hand-written tape (no adjoint code, no BLIS); one thread\n");
    long steps = nodes / 3;
    double rec[100], back[100], check = 0;
    tape t = {0};
    int status = 0;
    for (int r = 0; r < reps + 1; r++) {
        t.n = 0; /* the reused tape: its arrays stay allocated */
        double t0 = now();
        int32_t w = leaf(&t, w0), b = leaf(&t, b0), h = leaf(&t, 0.5);
        for (long i = 0; i < steps && h >= 0; i++)
            h = tanh_(&t, add(&t, mul(&t, w, h), b));
        double t1 = now();
        if (h < 0) {
            fprintf(stderr, "bench_min_tape: out of memory\n");
            status = 1;
            break;
        }
        backward(&t);
        double t2 = now();
        check += t.adj[w];
        if (r > 0) { /* the first pass grows the arrays */
            rec[r - 1] = (t1 - t0) * 1e9 / (double)(3 * steps);
            back[r - 1] = (t2 - t1) * 1e9 / (double)(3 * steps);
        }
    }
    if (!status) {
        qsort(rec, (size_t)reps, sizeof rec[0], cmp);
        qsort(back, (size_t)reps, sizeof back[0], cmp);
        printf("{\"workload\": \"min_tape\", \"nodes\": %ld, \"record_ns_per_node\": %.2f, "
               "\"backward_ns_per_node\": %.2f, \"tape_bytes\": %zu, \"check\": %.6g}\n",
               3 * steps, rec[reps / 2], back[reps / 2],
               t.cap * (sizeof *t.op + sizeof *t.a + sizeof *t.b + sizeof *t.val + sizeof *t.adj),
               check / (reps + 1));
    }
    free(t.op);
    free(t.a);
    free(t.b);
    free(t.val);
    free(t.adj);
    return status;
}
