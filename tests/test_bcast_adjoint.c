/*
 * The adjoints of add and mul with a broadcast operand, against plain
 * loops in double: a bias or a scale over rows ((R, C) op (C), with one
 * row, odd rows, odd C and C not a multiple of a vector, the many blocks
 * of a large float bias), a 3-D (B, T, C) op (C), an operand with a size-1
 * middle axis (B, 1, C), a row (1, C), a column (R, 1) and a one-element
 * run (R, 1) op (1); the operand on either side, used once or twice (its
 * adjoint added to), float and double, at 1 and 2 threads.  The operand
 * of the result's size gets exactly the formula's value; the broadcast
 * operand's adjoint is its terms' sum to the rounding of the dtype; and
 * both are the same bits at 1 and 2 threads.
 */
#include <adjoint.h>

#include "check_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* uniform in [-1, 1) */
static double frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

typedef struct bcase {
    int nd;
    int64_t full[3];  /* the result's shape */
    int bnd;
    int64_t part[3];  /* the broadcast operand's */
} bcase;

static const bcase cases[] = {
    {2, {1, 17}, 1, {17}},
    {2, {7, 3}, 1, {3}},
    {2, {301, 133}, 1, {133}},
    {2, {400, 768}, 1, {768}},
    {2, {515, 257}, 1, {257}},
    {3, {3, 45, 129}, 1, {129}},
    {3, {4, 9, 37}, 3, {4, 1, 37}},
    {2, {33, 65}, 2, {1, 65}},
    {2, {67, 133}, 2, {67, 1}},
    {2, {300, 1}, 1, {1}},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

static size_t numel(int nd, const int64_t *s)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)s[i];
    return n;
}

/* The broadcast operand's element that element i of the result reads. */
static size_t part_index(const bcase *c, size_t i)
{
    int64_t idx[3];
    for (int d = c->nd - 1; d >= 0; d--) {
        idx[d] = (int64_t)(i % (size_t)c->full[d]);
        i /= (size_t)c->full[d];
    }
    size_t k = 0;
    for (int d = 0; d < c->bnd; d++) {
        const int fd = c->nd - c->bnd + d;
        k = k * (size_t)c->part[d] + (size_t)(c->part[d] == 1 ? 0 : idx[fd]);
    }
    return k;
}

typedef struct run_out {
    void *gf, *gp; /* the adjoints of the full and of the broadcast operand */
} run_out;

/* y = op(full, part) (part_first: op(part, full)); twice: y + op(...)
 * again, so the adjoints are added to. */
static run_out run(const bcase *c, int dtype, int mul, int part_first, int twice, const double *xf,
                   const double *xp, const double *up)
{
    const size_t n = numel(c->nd, c->full), m = numel(c->bnd, c->part);
    const size_t es = dtype == ADJ_F32 ? sizeof(float) : sizeof(double);
    adj_tape *t = adj_tape_new();
    adj_var *f, *p;
    if (dtype == ADJ_F32) {
        float *bf = malloc(n * es), *bp = malloc(m * es);
        for (size_t i = 0; i < n; i++)
            bf[i] = (float)xf[i];
        for (size_t i = 0; i < m; i++)
            bp[i] = (float)xp[i];
        f = adj_tensor_f32(t, c->nd, c->full, bf);
        p = adj_tensor_f32(t, c->bnd, c->part, bp);
        free(bf);
        free(bp);
    } else {
        f = adj_tensor_f64(t, c->nd, c->full, xf);
        p = adj_tensor_f64(t, c->bnd, c->part, xp);
    }
    adj_var *l = part_first ? p : f, *r = part_first ? f : p;
    adj_var *y = mul ? adj_mul(l, r) : adj_add(l, r);
    if (twice)
        y = adj_add(y, mul ? adj_mul(l, r) : adj_add(l, r));
    ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
    run_out o = {malloc(n * es), malloc(m * es)};
    memcpy(o.gf, adj_grad_data(f), n * es);
    memcpy(o.gp, adj_grad_data(p), m * es);
    adj_tape_free(t);
    return o;
}

static double at(const void *g, int dtype, size_t i)
{
    return dtype == ADJ_F32 ? (double)((const float *)g)[i] : ((const double *)g)[i];
}

/* One term of each adjoint in the op's dtype, as the kernels form it. */
static double term(int dtype, double dy, double other)
{
    return dtype == ADJ_F32 ? (double)((float)dy * (float)other) : dy * other;
}

/* FNV-1a of n bytes: the bits of one thread count against the other's. */
static uint64_t bits_hash(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

START_TEST(broadcast_adjoints_match_plain_loops)
{
    const bcase *c = &cases[_i];
    const size_t n = numel(c->nd, c->full), m = numel(c->bnd, c->part);
    double *xf = malloc(n * sizeof *xf), *xp = malloc(m * sizeof *xp);
    double *up = malloc(n * sizeof *up), *sum = malloc(m * sizeof *sum);
    double *mag = malloc(m * sizeof *mag);
    uint64_t s = 41 + (uint64_t)_i, first[16];
    /* values of float precision, so the double runs see the same inputs */
    for (size_t i = 0; i < n; i++) {
        xf[i] = (float)frand(&s);
        up[i] = (float)frand(&s);
    }
    for (size_t i = 0; i < m; i++)
        xp[i] = (float)(1.0 + frand(&s));
    const int threads = adj_get_threads();
    for (int th = 1; th <= 2; th++) {
        adj_set_threads(th);
        for (int dt = 0; dt < 2; dt++) {
            const int dtype = dt ? ADJ_F64 : ADJ_F32;
            const size_t es = dt ? sizeof(double) : sizeof(float);
            const double eps = dt ? 1e-14 : 1e-6;
            for (int kind = 0; kind < 8; kind++) {
                const int mul = kind & 1, part_first = (kind >> 1) & 1, twice = kind >> 2;
                run_out o = run(c, dtype, mul, part_first, twice, xf, xp, up);
                memset(sum, 0, m * sizeof *sum);
                memset(mag, 0, m * sizeof *mag);
                /* the first element off, if any (one assertion a run) */
                size_t bad = n;
                double got = 0, want = 0;
                for (size_t i = 0; i < n; i++) {
                    const size_t k = part_index(c, i);
                    const double df = mul ? term(dtype, up[i], xp[k]) : up[i];
                    const double dp = mul ? term(dtype, up[i], xf[i]) : up[i];
                    if (bad == n && at(o.gf, dtype, i) != (twice ? 2 * df : df)) {
                        bad = i;
                        got = at(o.gf, dtype, i);
                        want = twice ? 2 * df : df;
                    }
                    sum[k] += twice ? 2 * dp : dp;
                    mag[k] += fabs(twice ? 2 * dp : dp);
                }
                ck_assert_msg(bad == n, "case %d dtype %d kind %d threads %d: full[%zu] %.17g %.17g",
                              _i, dtype, kind, th, bad, got, want);
                for (size_t k = 0; k < m && bad == n; k++)
                    if (!(fabs(at(o.gp, dtype, k) - sum[k]) <= eps * (1 + mag[k]))) {
                        bad = k;
                        got = at(o.gp, dtype, k);
                        want = sum[k];
                    }
                ck_assert_msg(bad == n, "case %d dtype %d kind %d threads %d: part[%zu] %.17g %.17g",
                              _i, dtype, kind, th, bad, got, want);
                const uint64_t h =
                    bits_hash(o.gp, m * es, bits_hash(o.gf, n * es, 14695981039346656037ull));
                if (th == 1)
                    first[dt * 8 + kind] = h;
                else
                    ck_assert_msg(h == first[dt * 8 + kind],
                                  "case %d dtype %d kind %d: other bits at 2 threads", _i, dtype,
                                  kind);
                free(o.gf);
                free(o.gp);
            }
        }
    }
    adj_set_threads(threads);
    free(xf);
    free(xp);
    free(up);
    free(sum);
    free(mag);
}
END_TEST

static Suite *bcast_suite(void)
{
    Suite *s = suite_create("bcast-adjoint");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, broadcast_adjoints_match_plain_loops, 0, NCASES);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(bcast_suite)
