/*
 * Convolution and pooling: adj_conv2d, adj_conv1d and adj_conv_transpose2d
 * against a naive direct convolution written here (seven nested loops,
 * forward and every adjoint, in double) on random shapes larger than the
 * op-table cases, in f64 and f32; the same bits for any thread count
 * (forward, input adjoint) and per thread count (weight and bias adjoints), and at
 * every CPU level of the kernels; no
 * allocation per training step once the arena has grown; the pools on
 * hand-worked values and ties; and the errors: words, status, no leak.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include "ops/dispatch.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HAS(text, piece) ck_assert_msg(strstr((text), (piece)) != NULL, "missing: %s\n--- in:\n%s", (piece), (text))

/* --------------------------------------------------- the naive reference */

typedef struct geo {
    int n, c, h, w;    /* x */
    int o, kh, kw;     /* w: conv (o, c/g, kh, kw); transposed (c, o/g, kh, kw) */
    int sh, sw, ph, pw, dh, dw, oph, opw, g;
    int ho, wo;        /* y */
} geo;

static double *rnd(size_t n, unsigned *s)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1103515245u + 12345u;
        v[i] = ((*s >> 8) & 0xffff) / 32768.0 - 1.0;
    }
    return v;
}

/* y (n,o,ho,wo), dx, dw, db of conv2d for upstream gy, by the definition */
static void naive_conv(const geo *q, const double *x, const double *w, const double *b,
                       const double *gy, double *y, double *dx, double *dw, double *db)
{
    const int cg = q->c / q->g, og = q->o / q->g;
    for (int n = 0; n < q->n; n++)
        for (int o = 0; o < q->o; o++)
            for (int i = 0; i < q->ho; i++)
                for (int j = 0; j < q->wo; j++) {
                    const size_t yi = (((size_t)n * q->o + o) * q->ho + i) * q->wo + j;
                    double s = b ? b[o] : 0;
                    for (int c = 0; c < cg; c++)
                        for (int p = 0; p < q->kh; p++)
                            for (int r = 0; r < q->kw; r++) {
                                int hh = i * q->sh - q->ph + p * q->dh, ww = j * q->sw - q->pw + r * q->dw;
                                if (hh < 0 || hh >= q->h || ww < 0 || ww >= q->w)
                                    continue;
                                int ci = o / og * cg + c;
                                size_t xi = (((size_t)n * q->c + ci) * q->h + hh) * q->w + ww;
                                size_t wi = (((size_t)o * cg + c) * q->kh + p) * q->kw + r;
                                s += w[wi] * x[xi];
                                dx[xi] += gy[yi] * w[wi];
                                dw[wi] += gy[yi] * x[xi];
                            }
                    y[yi] = s;
                    db[o] += gy[yi];
                }
}

/* the same for conv_transpose2d: y[n, co, i s - p + k d] += w[ci, c, k] x[n, ci, i] */
static void naive_convt(const geo *q, const double *x, const double *w, const double *b,
                        const double *gy, double *y, double *dx, double *dw, double *db)
{
    const int cg = q->c / q->g, og = q->o / q->g;
    for (size_t i = 0; i < (size_t)q->n * q->o * q->ho * q->wo; i++)
        y[i] = b ? b[i / ((size_t)q->ho * q->wo) % (size_t)q->o] : 0;
    for (size_t i = 0; i < (size_t)q->n * q->o * q->ho * q->wo; i++)
        db[i / ((size_t)q->ho * q->wo) % (size_t)q->o] += gy[i];
    for (int n = 0; n < q->n; n++)
        for (int ci = 0; ci < q->c; ci++)
            for (int i = 0; i < q->h; i++)
                for (int j = 0; j < q->w; j++)
                    for (int c = 0; c < og; c++)
                        for (int p = 0; p < q->kh; p++)
                            for (int r = 0; r < q->kw; r++) {
                                int hh = i * q->sh - q->ph + p * q->dh, ww = j * q->sw - q->pw + r * q->dw;
                                if (hh < 0 || hh >= q->ho || ww < 0 || ww >= q->wo)
                                    continue;
                                int co = ci / cg * og + c;
                                size_t xi = (((size_t)n * q->c + ci) * q->h + i) * q->w + j;
                                size_t yi = (((size_t)n * q->o + co) * q->ho + hh) * q->wo + ww;
                                size_t wi = (((size_t)ci * og + c) * q->kh + p) * q->kw + r;
                                y[yi] += w[wi] * x[xi];
                                dx[xi] += gy[yi] * w[wi];
                                dw[wi] += gy[yi] * x[xi];
                            }
}

/* A leaf of dtype dt from doubles (rounded to float for ADJ_F32). */
static adj_var *leaf(adj_tape *t, adj_dtype dt, int nd, const int64_t *shape, const double *d, int grad)
{
    size_t n = 1;
    for (int k = 0; k < nd; k++)
        n *= (size_t)shape[k];
    if (dt == ADJ_F64)
        return adj_leaf_at(t, dt, nd, shape, d, grad, __FILE__, __LINE__);
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)d[i];
    adj_var *v = adj_leaf_at(t, dt, nd, shape, f, grad, __FILE__, __LINE__);
    free(f);
    return v;
}

/* Round to float in place (the inputs of an f32 check). */
static void to_float(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)v[i];
}

static double rel_err(const double *a, const double *b, size_t n)
{
    double m = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs(b[i]));
        e = fmax(e, fabs(a[i] - b[i]));
    }
    return e / (m > 0 ? m : 1);
}

static void cmp(adj_var *v, const double *want, size_t n, int grad, double tol, const char *what)
{
    double *got = malloc((n ? n : 1) * sizeof *got);
    ck_assert_uint_eq(adj_numel(v), n);
    ck_assert_int_eq(grad ? adj_copy_grad(v, got) : adj_copy_value(v, got), ADJ_OK);
    double e = rel_err(got, want, n);
    ck_assert_msg(e <= tol, "%s: relative error %g > %g", what, e, tol);
    free(got);
}

enum { C2D, C1D, CT2D };

/* One geometry of one op in one dtype: the op's forward and adjoints
 * against the naive loops. */
static void check_geo(int kind, geo q, adj_dtype dt, int bias)
{
    if (kind == CT2D) {
        q.ho = (q.h - 1) * q.sh - 2 * q.ph + q.dh * (q.kh - 1) + q.oph + 1;
        q.wo = (q.w - 1) * q.sw - 2 * q.pw + q.dw * (q.kw - 1) + q.opw + 1;
    } else {
        q.ho = (q.h + 2 * q.ph - q.dh * (q.kh - 1) - 1) / q.sh + 1;
        q.wo = (q.w + 2 * q.pw - q.dw * (q.kw - 1) - 1) / q.sw + 1;
    }
    unsigned s = 7u + (unsigned)(q.n * 31 + q.c * 7 + q.o);
    const size_t nx = (size_t)q.n * q.c * q.h * q.w, ny = (size_t)q.n * q.o * q.ho * q.wo;
    const size_t nw = kind == CT2D ? (size_t)q.c * (q.o / q.g) * q.kh * q.kw
                                   : (size_t)q.o * (q.c / q.g) * q.kh * q.kw;
    double *x = rnd(nx, &s), *w = rnd(nw, &s), *b = rnd((size_t)q.o, &s), *gy = rnd(ny, &s);
    double *y = calloc(ny + 1, sizeof *y), *dx = calloc(nx + 1, sizeof *dx);
    double *dw = calloc(nw + 1, sizeof *dw), *db = calloc((size_t)q.o + 1, sizeof *db);
    if (dt == ADJ_F32) {
        to_float(x, nx), to_float(w, nw), to_float(b, (size_t)q.o), to_float(gy, ny);
    }
    if (kind == CT2D)
        naive_convt(&q, x, w, bias ? b : NULL, gy, y, dx, dw, db);
    else
        naive_conv(&q, x, w, bias ? b : NULL, gy, y, dx, dw, db);

    adj_tape *t = adj_tape_new();
    const int nd = kind == C1D ? 3 : 4;
    int64_t xs[4] = {q.n, q.c, q.h, q.w}, ws[4];
    if (kind == CT2D) {
        ws[0] = q.c;
        ws[1] = q.o / q.g;
    } else {
        ws[0] = q.o;
        ws[1] = q.c / q.g;
    }
    ws[2] = q.kh;
    ws[3] = q.kw;
    if (kind == C1D) {
        xs[2] = q.w;
        ws[2] = q.kw;
    }
    adj_var *vx = leaf(t, dt, nd, xs, x, 1);
    adj_var *vw = leaf(t, dt, nd, ws, w, 1);
    adj_var *vb = bias ? leaf(t, dt, 1, ((int64_t[]){q.o}), b, 1) : NULL;
    adj_var *vy;
    if (kind == C2D) {
        adj_conv2d_opts o = {{q.sh, q.sw}, {q.ph, q.pw}, {q.dh, q.dw}, q.g};
        vy = adj_conv2d(vx, vw, vb, &o);
    } else if (kind == C1D) {
        adj_conv1d_opts o = {q.sw, q.pw, q.dw, q.g};
        vy = adj_conv1d(vx, vw, vb, &o);
    } else {
        adj_conv_transpose2d_opts o = {{q.sh, q.sw}, {q.ph, q.pw}, {q.oph, q.opw}, {q.dh, q.dw}, q.g};
        vy = adj_conv_transpose2d(vx, vw, vb, &o);
    }
    ck_assert_msg(adj_tape_status(t) == ADJ_OK, "%s", adj_tape_message(t));
    ck_assert_int_eq(adj_backward_seeded(vy, gy), ADJ_OK);
    const double tol = dt == ADJ_F64 ? 1e-12 : 2e-5;
    cmp(vy, y, ny, 0, tol, "y");
    cmp(vx, dx, nx, 1, tol, "dx");
    cmp(vw, dw, nw, 1, tol, "dw");
    if (bias)
        cmp(vb, db, (size_t)q.o, 1, tol, "db");
    adj_tape_free(t);
    free(x), free(w), free(b), free(gy), free(y), free(dx), free(dw), free(db);
}

static const geo conv_geos[] = {
    /* n c h w  o kh kw  sh sw ph pw dh dw oph opw g */
    {3, 6, 13, 11, 8, 3, 4, 2, 1, 1, 2, 1, 2, 0, 0, 2, 0, 0},
    {2, 4, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 4, 0, 0},   /* depthwise */
    {8, 8, 20, 20, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0}, /* big enough to split */
    {4, 5, 7, 6, 3, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0},   /* 1x1: no im2col */
    {1, 3, 12, 10, 6, 5, 2, 3, 2, 2, 0, 2, 3, 0, 0, 3, 0, 0},
    {2, 2, 3, 3, 2, 4, 4, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0},   /* kernel > input, padded */
    {2, 8, 11, 10, 6, 3, 3, 2, 1, 2, 1, 1, 2, 0, 0, 2, 0, 0},  /* pixel-major col, dilated rows */
    {3, 4, 6, 7, 5, 2, 3, 1, 2, 0, 3, 2, 1, 0, 0, 1, 0, 0},   /* pixel-major, padding > kernel */
};

static const geo convt_geos[] = {
    {3, 6, 5, 4, 8, 3, 2, 2, 3, 1, 0, 1, 1, 1, 2, 2, 0, 0},
    {8, 16, 8, 8, 8, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 1, 0, 0}, /* a decoder's upsampling */
    {2, 4, 4, 5, 4, 3, 3, 1, 1, 1, 2, 2, 2, 1, 1, 4, 0, 0},
    {2, 3, 4, 4, 5, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0},  /* 1x1 */
};

START_TEST(conv2d_naive)
{
    const geo q = conv_geos[_i / 4];
    check_geo(C2D, q, _i % 2 ? ADJ_F32 : ADJ_F64, (_i / 2) % 2);
}
END_TEST

START_TEST(conv1d_naive)
{
    geo q = conv_geos[_i / 2];
    q.h = 1, q.kh = 1, q.sh = 1, q.ph = 0, q.dh = 1;
    check_geo(C1D, q, _i % 2 ? ADJ_F32 : ADJ_F64, 1);
}
END_TEST

/* The direct float kernels (AVX-512, stride and dilation 1, one group,
 * padding below the kernel) and the shapes around them: channel counts
 * across their blocks of 16 and 64 output channels, odd planes, kernels
 * wider than tall, every padding they take and one they do not, batch 1;
 * f32 and f64, 1 and 2 threads, with and without a bias. */
static const geo direct_geos[] = {
    /* n c h w  o kh kw  sh sw ph pw dh dw oph opw g */
    {3, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0},
    {2, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0},
    {1, 3, 9, 13, 17, 3, 3, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0},
    {3, 17, 7, 5, 70, 2, 3, 1, 1, 1, 2, 1, 1, 0, 0, 1, 0, 0},
    {2, 70, 5, 6, 33, 5, 5, 1, 1, 4, 2, 1, 1, 0, 0, 1, 0, 0},
    {5, 5, 11, 3, 49, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0},
    {1, 2, 3, 4, 3, 4, 4, 1, 1, 3, 1, 1, 1, 0, 0, 1, 0, 0},
    {3, 20, 6, 7, 130, 3, 1, 1, 1, 2, 0, 1, 1, 0, 0, 1, 0, 0},
    {2, 3, 5, 8, 20, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0},  /* a last tile across a row end */
    {2, 6, 8, 8, 16, 3, 3, 1, 1, 3, 1, 1, 1, 0, 0, 1, 0, 0},  /* padding = kernel: generic */
    {2, 8, 9, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 2, 0, 0},  /* groups: generic */
};

START_TEST(conv2d_direct)
{
    const int ng = (int)(sizeof direct_geos / sizeof direct_geos[0]);
    const geo q = direct_geos[_i % ng];
    const int v = _i / ng; /* dtype, bias, threads */
    adj_set_threads(v & 4 ? 2 : 1);
    check_geo(C2D, q, v & 1 ? ADJ_F64 : ADJ_F32, v & 2 ? 0 : 1);
    adj_set_threads(0);
}
END_TEST

START_TEST(convt2d_naive)
{
    check_geo(CT2D, convt_geos[_i / 4], _i % 2 ? ADJ_F32 : ADJ_F64, (_i / 2) % 2);
}
END_TEST

/* ------------------------------------------------- threads and the arena */

typedef struct run_out {
    double *y, *dx, *dw;
} run_out;

static run_out conv_run(int threads, int64_t cin, int64_t n)
{
    adj_set_threads(threads);
    unsigned s = 5;
    const int64_t xs[4] = {n, cin, 14, 14}, ws[4] = {16, cin, 3, 3};
    double *x = rnd((size_t)(n * cin * 14 * 14), &s), *w = rnd((size_t)(16 * cin * 9), &s);
    adj_tape *t = adj_tape_new();
    adj_var *vx = leaf(t, ADJ_F32, 4, xs, x, 1), *vw = leaf(t, ADJ_F32, 4, ws, w, 1);
    adj_var *y = adj_conv2d(vx, vw, NULL, (&(adj_conv2d_opts){{1, 1}, {1, 1}, {1, 1}, 1}));
    adj_var *l = adj_sum(adj_square(y));
    ck_assert_int_eq(adj_backward(l), ADJ_OK);
    run_out r = {malloc(adj_numel(y) * 8), malloc(adj_numel(vx) * 8), malloc(adj_numel(vw) * 8)};
    adj_copy_value(y, r.y);
    adj_copy_grad(vx, r.dx);
    adj_copy_grad(vw, r.dw);
    adj_tape_free(t);
    free(x), free(w);
    adj_set_threads(0);
    return r;
}

/* forward and dx: the same bits for 1 and 2 threads; dw: the same bits
 * for 2 threads twice, and equal to rounding to 1 thread's */
START_TEST(threads_bits)
{
    /* 14 samples: the tasks' blocks of samples start at other samples than
     * one thread's */
    run_out a = conv_run(1, 8, 14), b = conv_run(2, 8, 14), c = conv_run(2, 8, 14);
    ck_assert(memcmp(a.y, b.y, 14 * 16 * 14 * 14 * 8) == 0);
    ck_assert(memcmp(a.dx, b.dx, 14 * 8 * 14 * 14 * 8) == 0);
    ck_assert(memcmp(b.dw, c.dw, 16 * 8 * 9 * 8) == 0);
    ck_assert(rel_err(b.dw, a.dw, 16 * 8 * 9) < 1e-5);
    free(a.y), free(a.dx), free(a.dw), free(b.y), free(b.dx), free(b.dw), free(c.y), free(c.dx), free(c.dw);
}
END_TEST

/* One float conv2d (stride 1) with adjoint dy and the inputs' adjoints
 * wanted as gx, gw, gb say; the adjoints got (NULL where not wanted). */
typedef struct bias_out {
    double *dx, *dw, *db;
} bias_out;

static bias_out bias_run(const geo *q, int threads, int gx, int gw, int gb, const double *dy)
{
    adj_set_threads(threads);
    unsigned s = 11;
    const size_t nx = (size_t)q->n * q->c * q->h * q->w, nw = (size_t)q->o * q->c * q->kh * q->kw;
    double *x = rnd(nx, &s), *w = rnd(nw, &s), *b = rnd((size_t)q->o, &s);
    adj_tape *t = adj_tape_new();
    adj_var *vx = leaf(t, ADJ_F32, 4, ((int64_t[]){q->n, q->c, q->h, q->w}), x, gx);
    adj_var *vw = leaf(t, ADJ_F32, 4, ((int64_t[]){q->o, q->c, q->kh, q->kw}), w, gw);
    adj_var *vb = leaf(t, ADJ_F32, 1, ((int64_t[]){q->o}), b, gb);
    adj_conv2d_opts o = {{1, 1}, {q->ph, q->pw}, {1, 1}, 1};
    adj_var *y = adj_conv2d(vx, vw, vb, &o);
    ck_assert_int_eq(adj_backward_seeded(y, dy), ADJ_OK);
    bias_out r = {gx ? malloc(nx * 8) : NULL, gw ? malloc(nw * 8) : NULL,
                  gb ? malloc((size_t)q->o * 8) : NULL};
    if (gx)
        adj_copy_grad(vx, r.dx);
    if (gw)
        adj_copy_grad(vw, r.dw);
    if (gb)
        adj_copy_grad(vb, r.db);
    adj_tape_free(t);
    free(x), free(w), free(b);
    adj_set_threads(0);
    return r;
}

static void bias_free(bias_out r) { free(r.dx), free(r.dw), free(r.db); }

/* The bias adjoint, which the direct path sums with the weight adjoint's
 * (in float, in that pass's order) and the others apart (in double), on
 * channel counts across the blocks of 16 and 64 and odd planes, at 1 and
 * 2 threads: against a plain loop in double, within the bound of a float
 * sum of the same terms in any order; exact where every partial sum is
 * (dy of ones: db = n ho wo); the same bits twice at 2 threads; and dx and
 * dw the same bits with and without it. */
START_TEST(bias_adjoint)
{
    static const geo qs[] = {
        /* n c h w  o kh kw  sh sw ph pw dh dw oph opw g */
        {16, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0},
        {13, 5, 11, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0},
        {3, 17, 7, 5, 17, 2, 3, 1, 1, 1, 2, 1, 1, 0, 0, 1, 0, 0},
        {1, 3, 9, 13, 130, 3, 3, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0},
    };
    const geo q = qs[_i / 4];
    const int threads = _i % 2 + 1, ones = _i / 2 % 2;
    const int ho = q.h + 2 * q.ph - q.kh + 1, wo = q.w + 2 * q.pw - q.kw + 1;
    const size_t plane = (size_t)ho * wo, ny = (size_t)q.n * q.o * plane;
    const size_t nx = (size_t)q.n * q.c * q.h * q.w, nw = (size_t)q.o * q.c * q.kh * q.kw;
    unsigned s = 21;
    double *dy = rnd(ny, &s);
    for (size_t i = 0; i < ny; i++)
        dy[i] = ones ? 1.0 : (float)dy[i];
    for (int gx = 0; gx < 2; gx++)
        for (int gw = 0; gw < 2; gw++) {
            bias_out a = bias_run(&q, threads, gx, gw, 1, dy), c = bias_run(&q, threads, gx, gw, 1, dy);
            ck_assert(memcmp(a.db, c.db, (size_t)q.o * 8) == 0);
            for (int o = 0; o < q.o; o++) {
                double want = 0, mag = 0;
                for (int n = 0; n < q.n; n++)
                    for (size_t p = 0; p < plane; p++) {
                        want += dy[((size_t)n * q.o + o) * plane + p];
                        mag += fabs(dy[((size_t)n * q.o + o) * plane + p]);
                    }
                const double bound = (double)(q.n * plane) * 0x1p-24 * mag + 0x1p-24 * fabs(want);
                ck_assert_msg(fabs(a.db[o] - want) <= bound, "db[%d] = %.9g, want %.9g (bound %g), "
                              "x %d w %d threads %d", o, a.db[o], want, bound, gx, gw, threads);
                if (ones)
                    ck_assert_double_eq(a.db[o], want);
            }
            bias_out z = bias_run(&q, threads, gx, gw, 0, dy);
            if (gx)
                ck_assert(memcmp(a.dx, z.dx, nx * 8) == 0);
            if (gw)
                ck_assert(memcmp(a.dw, z.dw, nw * 8) == 0);
            bias_free(a), bias_free(c), bias_free(z);
        }
    free(dy);
}
END_TEST

/* The col, padding, transposition and dot-product kernels are compiled per
 * CPU level: every level that runs them gives the same bits (float), on
 * the pixel-major path (8 channels) and the few-channel one (1 channel,
 * whose weight adjoint is dot products).  AVX-512 runs these shapes by
 * the direct kernels instead (checked against the naive loops in
 * conv2d_direct): within rounding of the others. */
START_TEST(levels_bits)
{
    const int64_t cins[2] = {8, 1};
    for (int k = 0; k < 2; k++) {
        const size_t ny = 16 * 16 * 14 * 14, nx = (size_t)(16 * cins[k] * 14 * 14),
                     nw = (size_t)(16 * cins[k] * 9);
        adj_vm_force_level(ADJ_VM_BASE);
        run_out a = conv_run(1, cins[k], 16);
        for (int l = ADJ_VM_BASE + 1; l <= adj_vm_max_level(); l++) {
            ck_assert_int_eq(adj_vm_force_level(l), l);
            run_out b = conv_run(1, cins[k], 16);
            if (l == ADJ_VM_AVX512) {
                ck_assert_msg(rel_err(b.y, a.y, ny) < 1e-5, "y, direct, %d channels", (int)cins[k]);
                ck_assert_msg(rel_err(b.dx, a.dx, nx) < 1e-5, "dx, direct");
                ck_assert_msg(rel_err(b.dw, a.dw, nw) < 1e-5, "dw, direct");
            } else {
                ck_assert_msg(memcmp(a.y, b.y, ny * 8) == 0, "y, level %d, %d channels", l, (int)cins[k]);
                ck_assert_msg(memcmp(a.dx, b.dx, nx * 8) == 0, "dx, level %d", l);
                ck_assert_msg(memcmp(a.dw, b.dw, nw * 8) == 0, "dw, level %d", l);
            }
            free(b.y), free(b.dx), free(b.dw);
        }
        free(a.y), free(a.dx), free(a.dw);
    }
    adj_vm_force_level(-1);
}
END_TEST

/* A conv - pool - conv - pool - adaptive step allocates nothing once the
 * arena has grown: the allocator count is the same after steps 2 to 5. */
START_TEST(arena_steps)
{
    test_alloc cnt;
    adj_allocator al = test_alloc_init(&cnt);
    adj_tape *t = adj_tape_new_with(&al);
    unsigned s = 9;
    double *x = rnd(4 * 1 * 12 * 12, &s), *w1 = rnd(6 * 9, &s), *w2 = rnd(8 * 6 * 9, &s);
    size_t calls[6] = {0};
    for (int step = 0; step < 6; step++) {
        adj_tape_reset(t);
        adj_var *vx = adj_constant_f64(t, 4, ((int64_t[]){4, 1, 12, 12}), x);
        adj_var *a = adj_tensor_f64(t, 4, ((int64_t[]){6, 1, 3, 3}), w1);
        adj_var *bw = adj_tensor_f64(t, 4, ((int64_t[]){8, 6, 3, 3}), w2);
        adj_pool2d_opts p = {{2, 2}, {2, 2}, {0, 0}};
        adj_var *h = adj_max_pool2d(adj_relu(adj_conv2d(vx, a, NULL, (&(adj_conv2d_opts){{1, 1}, {1, 1}, {1, 1}, 1}))), &p);
        h = adj_avg_pool2d(adj_conv2d(h, bw, NULL, NULL), &p);
        adj_var *l = adj_sum(adj_adaptive_avg_pool2d(h, 1, 1));
        ck_assert_int_eq(adj_backward(l), ADJ_OK);
        calls[step] = cnt.calls;
    }
    for (int step = 2; step < 6; step++)
        ck_assert_uint_eq(calls[step], calls[1]);
    adj_tape_free(t);
    ck_assert_uint_eq(cnt.live, 0);
    free(x), free(w1), free(w2);
}
END_TEST

/* ------------------------------------------------------------ the pools */

/* hand-worked: 4x4 plane, 2x2 windows */
START_TEST(pools_by_hand)
{
    adj_tape *t = adj_tape_new();
    const double xv[16] = {1, 5, 2, 2,  3, 4, 2, 0,  -1, -2, 7, 8,  -3, -4, 8, 6};
    adj_var *x = adj_tensor_f64(t, 4, ((int64_t[]){1, 1, 4, 4}), xv);
    adj_pool2d_opts p = {{2, 2}, {2, 2}, {0, 0}};
    adj_var *m = adj_max_pool2d(x, &p), *a = adj_avg_pool2d(x, &p);
    const double mw[4] = {5, 2, -1, 8}, aw[4] = {13 / 4.0, 6 / 4.0, -10 / 4.0, 29 / 4.0};
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq(adj_value_at(m, i), mw[i]);
        ck_assert_double_eq_tol(adj_value_at(a, i), aw[i], 1e-15);
    }
    /* ties: the window (2, 2 / 2, 0) gives dy to the first 2; (7 8 / 8 6) to the first 8 */
    ck_assert_int_eq(adj_backward_seeded(m, ((double[]){1, 10, 100, 1000})), ADJ_OK);
    const double gx[16] = {0, 1, 10, 0,  0, 0, 0, 0,  100, 0, 0, 1000,  0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        ck_assert_double_eq(adj_grad_at(x, i), gx[i]);
    /* padding counts in the divisor: 3x3 stride 1 padding 1 on a plane of ones */
    adj_var *ones = adj_constant_f64(t, 4, ((int64_t[]){1, 1, 3, 3}), ((double[]){1, 1, 1, 1, 1, 1, 1, 1, 1}));
    adj_var *ap = adj_avg_pool2d(ones, (&(adj_pool2d_opts){{3, 3}, {1, 1}, {1, 1}}));
    ck_assert_double_eq_tol(adj_value_at(ap, 0), 4 / 9.0, 1e-15);
    ck_assert_double_eq_tol(adj_value_at(ap, 4), 1.0, 1e-15);
    /* max pooling's padding never wins */
    adj_var *neg = adj_constant_f64(t, 4, ((int64_t[]){1, 1, 2, 2}), ((double[]){-5, -6, -7, -8}));
    adj_var *mp = adj_max_pool2d(neg, (&(adj_pool2d_opts){{2, 2}, {1, 1}, {1, 1}}));
    ck_assert_double_eq(adj_value_at(mp, 0), -5);
    ck_assert_double_eq(adj_value_at(mp, 8), -8);
    /* adaptive: 5 rows to 3 -> [0,2), [1,4), [3,5) */
    adj_var *col = adj_constant_f64(t, 4, ((int64_t[]){1, 1, 5, 1}), ((double[]){1, 2, 3, 4, 5}));
    adj_var *ad = adj_adaptive_avg_pool2d(col, 3, 1);
    ck_assert_double_eq_tol(adj_value_at(ad, 0), 1.5, 1e-15);
    ck_assert_double_eq_tol(adj_value_at(ad, 1), 3.0, 1e-15);
    ck_assert_double_eq_tol(adj_value_at(ad, 2), 4.5, 1e-15);
    /* a NaN in a window is its maximum */
    adj_var *nan = adj_constant_f64(t, 4, ((int64_t[]){1, 1, 1, 3}), ((double[]){1, NAN, 3}));
    ck_assert(isnan(adj_value_at(adj_max_pool2d(nan, (&(adj_pool2d_opts){{1, 3}, {1, 1}, {0, 0}})), 0)));
    /* 2x2 windows: a NaN wins wherever it is; infinities of both signs */
    adj_var *w22 = adj_constant_f64(t, 4, ((int64_t[]){1, 1, 2, 6}),
                                    ((double[]){1, 4, 5, 6, INFINITY, -INFINITY,
                                                2, NAN, 7, -INFINITY, 0, 1}));
    adj_var *m22 = adj_max_pool2d(w22, &p);
    ck_assert(isnan(adj_value_at(m22, 0)));
    ck_assert_double_eq(adj_value_at(m22, 1), 7);
    ck_assert(isinf(adj_value_at(m22, 2)) && adj_value_at(m22, 2) > 0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------------------------ the errors */

typedef struct bad {
    const char *words;
    adj_status st;
    int op; /* 0 conv2d, 1 conv1d, 2 transposed, 3 max pool, 4 avg pool, 5 adaptive */
    int xd, wd, bd;
    int64_t xs[4], ws[4], bs;
    adj_conv2d_opts c;
    int oph;
    adj_pool2d_opts p;
} bad;

static const bad bads[] = {
    {"not divisible by groups", ADJ_ESHAPE, 0, 4, 4, 0, {1, 3, 5, 5}, {4, 1, 3, 3}, 0, {{1, 1}, {0, 0}, {1, 1}, 2}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"not divisible by groups", ADJ_ESHAPE, 0, 4, 4, 0, {1, 4, 5, 5}, {3, 2, 3, 3}, 0, {{1, 1}, {0, 0}, {1, 1}, 2}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"larger than the padded input", ADJ_ESHAPE, 0, 4, 4, 0, {1, 1, 2, 5}, {1, 1, 3, 3}, 0, {{1, 1}, {0, 0}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"larger than the padded input", ADJ_ESHAPE, 0, 4, 4, 0, {1, 1, 5, 5}, {1, 1, 3, 3}, 0, {{1, 1}, {0, 0}, {3, 3}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"stride 0", ADJ_EINVAL, 0, 4, 4, 0, {1, 1, 5, 5}, {1, 1, 3, 3}, 0, {{0, 1}, {0, 0}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"stride -2", ADJ_EINVAL, 0, 4, 4, 0, {1, 1, 5, 5}, {1, 1, 3, 3}, 0, {{1, -2}, {0, 0}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"dilation 0", ADJ_EINVAL, 0, 4, 4, 0, {1, 1, 5, 5}, {1, 1, 3, 3}, 0, {{1, 1}, {0, 0}, {1, 0}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"padding -1", ADJ_EINVAL, 0, 4, 4, 0, {1, 1, 5, 5}, {1, 1, 3, 3}, 0, {{1, 1}, {-1, 0}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"groups 0", ADJ_EINVAL, 0, 4, 4, 0, {1, 1, 5, 5}, {1, 1, 3, 3}, 0, {{1, 1}, {0, 0}, {1, 1}, 0}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"the weight must be (2, 3,", ADJ_ESHAPE, 0, 4, 4, 0, {1, 3, 5, 5}, {2, 2, 3, 3}, 0, {{1, 1}, {0, 0}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"must be 4-D", ADJ_ESHAPE, 0, 4, 3, 0, {1, 3, 5, 5}, {2, 3, 3}, 0, {{1, 1}, {0, 0}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"the bias must be (2)", ADJ_ESHAPE, 0, 4, 4, 1, {1, 3, 5, 5}, {2, 3, 3, 3}, 3, {{1, 1}, {0, 0}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"must be 3-D", ADJ_ESHAPE, 1, 4, 3, 0, {1, 3, 5, 5}, {2, 3, 3}, 0, {{1, 1}, {0, 0}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"the weight must be (3, 2,", ADJ_ESHAPE, 2, 4, 4, 0, {1, 3, 5, 5}, {2, 2, 3, 3}, 0, {{1, 1}, {0, 0}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"output_padding 2", ADJ_EINVAL, 2, 4, 4, 0, {1, 3, 5, 5}, {3, 2, 3, 3}, 0, {{2, 2}, {0, 0}, {1, 1}, 1}, 2, {{0, 0}, {0, 0}, {0, 0}}},
    {"output size would be", ADJ_ESHAPE, 2, 4, 4, 0, {1, 1, 2, 2}, {1, 1, 2, 2}, 0, {{1, 1}, {3, 3}, {1, 1}, 1}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"padding 2 <= kernel / 2", ADJ_EINVAL, 3, 4, 0, 0, {1, 1, 5, 5}, {0}, 0, {{0, 0}, {0, 0}, {0, 0}, 0}, 0, {{3, 3}, {1, 1}, {2, 0}}},
    {"stride 0", ADJ_EINVAL, 4, 4, 0, 0, {1, 1, 5, 5}, {0}, 0, {{0, 0}, {0, 0}, {0, 0}, 0}, 0, {{2, 2}, {0, 1}, {0, 0}}},
    {"larger than the padded input", ADJ_ESHAPE, 3, 4, 0, 0, {1, 1, 1, 5}, {0}, 0, {{0, 0}, {0, 0}, {0, 0}, 0}, 0, {{2, 2}, {1, 1}, {0, 0}}},
    {"opts is NULL", ADJ_EINVAL, 4, 4, 0, 0, {1, 1, 5, 5}, {0}, -1, {{0, 0}, {0, 0}, {0, 0}, 0}, 0, {{0, 0}, {0, 0}, {0, 0}}},
    {"must be 4-D", ADJ_ESHAPE, 3, 3, 0, 0, {1, 5, 5}, {0}, 0, {{0, 0}, {0, 0}, {0, 0}, 0}, 0, {{2, 2}, {2, 2}, {0, 0}}},
    {"output size (0, 2)", ADJ_EINVAL, 5, 4, 0, 0, {1, 1, 5, 5}, {0}, 0, {{0, 0}, {0, 0}, {0, 0}, 0}, 0, {{0, 0}, {0, 0}, {0, 0}}},
};

START_TEST(errors)
{
    const bad *e = &bads[_i];
    test_alloc cnt;
    adj_allocator al = test_alloc_init(&cnt);
    adj_tape *t = adj_tape_new_with(&al);
    static const double z[128];
    adj_var *x = adj_tensor_f64(t, e->xd, e->xs, z);
    adj_var *w = e->wd ? adj_tensor_f64(t, e->wd, e->ws, z) : NULL;
    adj_var *b = e->bd ? adj_tensor_f64(t, 1, &e->bs, z) : NULL;
    adj_var *y = NULL;
    const adj_conv2d_opts *c = &e->c;
    switch (e->op) {
    case 0: y = adj_conv2d(x, w, b, c); break;
    case 1: y = adj_conv1d(x, w, b, (&(adj_conv1d_opts){c->stride[1], c->padding[1], c->dilation[1], c->groups})); break;
    case 2:
        y = adj_conv_transpose2d(x, w, b, (&(adj_conv_transpose2d_opts){{c->stride[0], c->stride[1]},
                                                                       {c->padding[0], c->padding[1]},
                                                                       {e->oph, e->oph},
                                                                       {c->dilation[0], c->dilation[1]},
                                                                       c->groups}));
        break;
    case 3: y = adj_max_pool2d(x, &e->p); break;
    case 4: y = adj_avg_pool2d(x, e->bs < 0 ? NULL : &e->p); break;
    default: y = adj_adaptive_avg_pool2d(x, 0, 2); break;
    }
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(adj_tape_status(t), e->st);
    const char *msg = adj_tape_message(t);
    HAS(msg, e->words);
    HAS(msg, "test_conv.c:");
    HAS(msg, e->op == 0 ? "adj_conv2d:" : e->op == 1 ? "adj_conv1d:" : e->op == 2 ? "adj_conv_transpose2d:"
             : e->op == 3 ? "adj_max_pool2d:" : e->op == 4 ? "adj_avg_pool2d:" : "adj_adaptive_avg_pool2d:");
    ck_assert(isnan(adj_item(y)));
    ck_assert_int_eq(adj_backward(y), e->st);
    adj_tape_free(t);
    ck_assert_uint_eq(cnt.live, 0);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, conv2d_naive, 0, 4 * (int)(sizeof conv_geos / sizeof conv_geos[0]));
    tcase_add_loop_test(tc, conv1d_naive, 0, 2 * (int)(sizeof conv_geos / sizeof conv_geos[0]));
    tcase_add_loop_test(tc, convt2d_naive, 0, 4 * (int)(sizeof convt_geos / sizeof convt_geos[0]));
    tcase_add_loop_test(tc, conv2d_direct, 0, 8 * (int)(sizeof direct_geos / sizeof direct_geos[0]));
    tcase_add_loop_test(tc, bias_adjoint, 0, 16);
    tcase_add_test(tc, threads_bits);
    tcase_add_test(tc, levels_bits);
    tcase_add_test(tc, arena_steps);
    tcase_add_test(tc, pools_by_hand);
    tcase_add_loop_test(tc, errors, 0, (int)(sizeof bads / sizeof bads[0]));
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(conv_suite)
