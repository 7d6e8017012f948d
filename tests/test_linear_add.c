/*
 * adj_linear_add(x, w, b, r) = x wᵀ + b + r in one node: its value and
 * the adjoints of x, w, b and of what r was made from agree with plain
 * loops written here, and are bit for bit those of adj_add(r,
 * adj_linear(x, w, b)), in sweeps that keep and that release adjoints
 * (where r takes the output's adjoint over).  Covered: f32 and f64, 1 and
 * 2 threads, sizes for the plain-loop product, for BLIS and for the
 * two-thread split, a weight read transposed in place, a weight given as
 * the transpose of a row-major copy of its transpose (a recurrent layer's
 * W_hh: the backward reads the copied storage, also every other row of a
 * larger leaf), no bias, a 1-D x, a strided (step-sliced) r, a leaf r and
 * r = x; and such a weight shared by two products and other ops (its dW
 * added straight into the leaf's adjoint beside what flows the long way),
 * in anomaly mode with a dW that overflows, and with a bias that is
 * another leaf of the weight's own tensor.
 */
#include <adjoint.h>

#include "check_util.h"

#include <math.h>
#include <string.h>

static double frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* n values in [-1, 1), rounded to float for ADJ_F32 */
static double *filled(size_t n, uint64_t seed, adj_dtype dt)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = frand(&seed);
        if (dt == ADJ_F32)
            v[i] = (float)v[i];
    }
    return v;
}

static adj_var *leaf(adj_tape *t, adj_dtype dt, int nd, const int64_t *shape, const double *v,
                     int constant)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    if (dt == ADJ_F64)
        return constant ? adj_constant_f64(t, nd, shape, v) : adj_tensor_f64(t, nd, shape, v);
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    adj_var *x = constant ? adj_constant_f32(t, nd, shape, f) : adj_tensor_f32(t, nd, shape, f);
    free(f);
    return x;
}

/* One case: x (m, in) (1-D (in) when m is 0), w (out, in), stored
 * transposed (in, out) when wt is 1, given as transpose(contiguous(
 * transpose(w0))) when wt is 2 (w0 = w) or 3 (w0 of 2 out rows, w its odd
 * ones), b (out) when bias; r = tanh(r0) of Z's
 * shape, or (rmode 1) every other row of a leaf of twice the rows, or
 * (rmode 2) r0 itself, a leaf, or (rmode 3) x itself (in = out). */
typedef struct lcase {
    int64_t m, in, out;
    int wt, bias, rmode;
} lcase;

typedef struct built {
    adj_var *x, *w0, *b, *r0, *z, *loss;
} built;

typedef struct data {
    double *x, *w, *b, *r0, *g;
    size_t nx, nw, nr0, nz;
} data;

static data make_data(const lcase *c, adj_dtype dt)
{
    const size_t rows = c->m ? (size_t)c->m : 1;
    data d;
    d.nx = rows * (size_t)c->in;
    d.nw = (size_t)(c->out * c->in) * (c->wt == 3 ? 2 : 1);
    d.nz = rows * (size_t)c->out;
    d.nr0 = c->rmode == 1 ? 2 * d.nz : d.nz;
    d.x = filled(d.nx, 11, dt);
    d.w = filled(d.nw, 12, dt); /* w[o][i] (wt 3: w0[o][i]), or stored w0[i][o] = w[o][i] (wt 1) */
    d.b = filled((size_t)c->out, 13, dt);
    d.r0 = filled(d.nr0, 14, dt);
    d.g = filled(d.nz, 15, dt);
    return d;
}

static void free_data(data *d)
{
    free(d->x), free(d->w), free(d->b), free(d->r0), free(d->g);
}

static built build(adj_tape *t, const lcase *c, adj_dtype dt, const data *d, int fused)
{
    built o;
    const int zd = c->m ? 2 : 1;
    const int64_t xs[2] = {c->m, c->in}, zs[2] = {c->m, c->out};
    o.x = c->m ? leaf(t, dt, 2, xs, d->x, 0) : leaf(t, dt, 1, &c->in, d->x, 0);
    adj_var *w;
    if (c->wt == 1) {
        double *s = malloc(d->nw * sizeof *s);
        for (int64_t oo = 0; oo < c->out; oo++)
            for (int64_t i = 0; i < c->in; i++)
                s[i * c->out + oo] = d->w[oo * c->in + i];
        o.w0 = leaf(t, dt, 2, ((int64_t[]){c->in, c->out}), s, 0);
        free(s);
        w = adj_transpose(o.w0);
    } else if (c->wt >= 2) {
        o.w0 = leaf(t, dt, 2, ((int64_t[]){c->out * (c->wt - 1), c->in}), d->w, 0);
        w = c->wt == 3 ? adj_slice(o.w0, 0, 1, 2 * c->out, 2) : o.w0;
        w = adj_transpose(adj_contiguous(adj_transpose(w)));
    } else {
        o.w0 = w = leaf(t, dt, 2, ((int64_t[]){c->out, c->in}), d->w, 0);
    }
    o.b = c->bias ? leaf(t, dt, 1, &c->out, d->b, 0) : NULL;
    adj_var *r;
    if (c->rmode == 3) {
        o.r0 = r = o.x;
    } else if (c->rmode == 1) {
        o.r0 = leaf(t, dt, 2, ((int64_t[]){2 * c->m, c->out}), d->r0, 0);
        r = adj_slice(o.r0, 0, 1, 2 * c->m, 2);
    } else {
        o.r0 = leaf(t, dt, zd, c->m ? zs : &c->out, d->r0, 0);
        r = c->rmode == 2 ? o.r0 : adj_tanh(o.r0);
    }
    o.z = fused ? adj_linear_add(o.x, w, o.b, r) : adj_add(r, adj_linear(o.x, w, o.b));
    adj_var *g = leaf(t, dt, zd, c->m ? zs : &c->out, d->g, 1);
    o.loss = adj_sum(adj_mul(o.z, g));
    return o;
}

static double *copy_value(const adj_var *v, size_t n)
{
    double *p = malloc(n * sizeof *p);
    ck_assert_int_eq(adj_copy_value(v, p), ADJ_OK);
    return p;
}

static double *copy_grad(const adj_var *v, size_t n)
{
    double *p = malloc(n * sizeof *p);
    ck_assert_int_eq(adj_copy_grad(v, p), ADJ_OK);
    return p;
}

static void expect_close(const double *got, const double *want, size_t n, double tol, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])), "%s element %zu of %zu: %.17g, want %.17g",
                      what, i, n, got[i], want[i]);
}

/* The fused node against plain loops in double. */
static void check_reference(const lcase *c, adj_dtype dt, int release)
{
    const size_t m = c->m ? (size_t)c->m : 1, in = (size_t)c->in, out = (size_t)c->out;
    data d = make_data(c, dt);
    adj_tape *t = adj_tape_new();
    built o = build(t, c, dt, &d, 1);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_backward_opts opts = {.release_adjoints = release};
    ck_assert_msg(adj_backward_ex(o.loss, &opts) == ADJ_OK, "%s", adj_tape_message(t));
    const double tol = dt == ADJ_F64 ? 1e-12 : 2e-5;
    /* Z = X Wᵀ + b + R */
    double *z = calloc(d.nz, sizeof *z), *r = malloc(d.nz * sizeof *r);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < out; j++) {
            size_t k = i * out + j;
            r[k] = c->rmode == 1 ? d.r0[(2 * i + 1) * out + j]
                   : c->rmode == 2 ? d.r0[k]
                   : c->rmode == 3 ? d.x[k]
                                   : tanh(d.r0[k]);
            z[k] = (c->bias ? d.b[j] : 0) + r[k];
        }
    double *wv = malloc((size_t)(out * in) * sizeof *wv); /* w[o][i] */
    for (size_t oo = 0; oo < out; oo++)
        for (size_t i = 0; i < in; i++)
            wv[oo * in + i] = d.w[(c->wt == 3 ? 2 * oo + 1 : oo) * in + i];
    ref_mm(m, out, in, d.x, in, 1, wv, 1, in, z);
    double *zv = copy_value(o.z, d.nz);
    expect_close(zv, z, d.nz, tol, "Z");
    /* dX = G W (+ G where r = x), dW = Gᵀ X, db = column sums of G */
    double *gx = calloc(d.nx, sizeof *gx), *gw = calloc(d.nw, sizeof *gw), *gb = calloc(out, sizeof *gb);
    ref_mm(m, in, out, d.g, out, 1, wv, in, 1, gx);
    ref_mm(out, in, m, d.g, 1, out, d.x, in, 1, gw);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < out; j++)
            gb[j] += d.g[i * out + j];
    if (c->rmode == 3)
        for (size_t k = 0; k < d.nz; k++)
            gx[k] += d.g[k];
    double *v = copy_grad(o.x, d.nx);
    expect_close(v, gx, d.nx, tol, "dX");
    free(v);
    v = copy_grad(o.w0, d.nw);
    for (size_t oo = 0; oo < out; oo++)
        for (size_t i = 0; i < in; i++) {
            double want = gw[oo * in + i];
            double got = c->wt == 1 ? v[i * out + oo] : v[((c->wt == 3 ? 2 * oo + 1 : oo)) * in + i];
            if (c->wt == 3) /* the even rows take no adjoint */
                ck_assert_msg(v[2 * oo * in + i] == 0, "dW0 (%zu,%zu): %.17g", 2 * oo, i,
                              v[2 * oo * in + i]);
            ck_assert_msg(fabs(got - want) <= tol * (1 + fabs(want)),
                          "(%lld, %lld, %lld) wt %d: dW (%zu,%zu): %.17g, want %.17g", (long long)c->m,
                          (long long)c->in, (long long)c->out, c->wt, oo, i, got, want);
        }
    free(v);
    if (c->bias) {
        v = copy_grad(o.b, out);
        expect_close(v, gb, out, tol, "db");
        free(v);
    }
    if (c->rmode != 3) { /* dR0: G through the slice or tanh */
        double *gr = calloc(d.nr0, sizeof *gr);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < out; j++) {
                size_t k = i * out + j;
                if (c->rmode == 1)
                    gr[(2 * i + 1) * out + j] = d.g[k];
                else if (c->rmode == 2)
                    gr[k] = d.g[k];
                else
                    gr[k] = d.g[k] * (1 - tanh(d.r0[k]) * tanh(d.r0[k]));
            }
        v = copy_grad(o.r0, d.nr0);
        expect_close(v, gr, d.nr0, dt == ADJ_F64 ? 1e-12 : 1e-5, "dR0");
        free(v);
        free(gr);
    }
    free(zv), free(z), free(r), free(gx), free(gw), free(gb), free(wv);
    adj_tape_free(t);
    free_data(&d);
}

static void expect_same(const double *a, const double *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&a[i], &b[i], sizeof a[i]) == 0, "%s element %zu: %.17g vs %.17g", what, i, a[i], b[i]);
}

/* The fused node against the add of a linear node, bit for bit. */
static void check_bits(const lcase *c, adj_dtype dt, int release)
{
    data d = make_data(c, dt);
    adj_tape *t1 = adj_tape_new(), *t2 = adj_tape_new();
    built a = build(t1, c, dt, &d, 1), b = build(t2, c, dt, &d, 0);
    adj_backward_opts opts = {.release_adjoints = release};
    ck_assert_int_eq(adj_backward_ex(a.loss, &opts), ADJ_OK);
    ck_assert_int_eq(adj_backward_ex(b.loss, &opts), ADJ_OK);
    const size_t nb = (size_t)c->out;
    struct {
        const adj_var *p, *q;
        size_t n;
        int grad;
        const char *what;
    } pairs[] = {{a.z, b.z, d.nz, 0, "Z"},       {a.x, b.x, d.nx, 1, "dX"},     {a.w0, b.w0, d.nw, 1, "dW"},
                 {a.b, b.b, nb, 1, "db"},        {a.r0, b.r0, d.nr0, 1, "dR0"}, {a.loss, b.loss, 1, 0, "loss"}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        if (!pairs[k].p)
            continue;
        double *u = pairs[k].grad ? copy_grad(pairs[k].p, pairs[k].n) : copy_value(pairs[k].p, pairs[k].n);
        double *w = pairs[k].grad ? copy_grad(pairs[k].q, pairs[k].n) : copy_value(pairs[k].q, pairs[k].n);
        expect_same(u, w, pairs[k].n, pairs[k].what);
        free(u), free(w);
    }
    ck_assert_uint_lt(adj_tape_size(t1), adj_tape_size(t2));
    adj_tape_free(t1), adj_tape_free(t2);
    free_data(&d);
}

static const lcase CASES[] = {
    {1, 1, 1, 0, 1, 0},     {5, 3, 7, 0, 1, 0},     {5, 3, 7, 1, 0, 0},    {37, 19, 23, 1, 1, 0},
    {37, 19, 23, 0, 1, 1},  {37, 19, 23, 1, 1, 2},  {0, 19, 23, 1, 1, 0},  {0, 6, 6, 0, 1, 3},
    {130, 67, 129, 1, 1, 0}, {130, 67, 129, 0, 0, 1}, {257, 128, 128, 1, 1, 0}, {9, 6, 6, 1, 1, 3},
    {130, 64, 64, 0, 1, 3},   {1, 1, 1, 2, 1, 0},     {5, 3, 7, 2, 0, 0},    {37, 19, 23, 2, 1, 1},
    {0, 19, 23, 2, 1, 0},    {37, 19, 23, 3, 0, 2},  {130, 67, 129, 3, 1, 0}, {257, 128, 128, 2, 0, 2},
    {33, 128, 512, 2, 0, 0}, {7, 1, 5, 3, 1, 0},     {7, 5, 1, 2, 1, 0},    {9, 6, 6, 2, 1, 3},
};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

START_TEST(matches_plain_loops)
{
    for (int th = 1; th <= 2; th++) {
        adj_set_threads(th);
        for (int k = 0; k < NCASES; k++)
            for (int rel = 0; rel <= 1; rel++) {
                check_reference(&CASES[k], ADJ_F64, rel);
                check_reference(&CASES[k], ADJ_F32, rel);
            }
    }
    adj_set_threads(1);
}
END_TEST

START_TEST(same_bits_as_add_of_linear)
{
    for (int th = 1; th <= 2; th++) {
        adj_set_threads(th);
        for (int k = 0; k < NCASES; k++) {
            if (CASES[k].rmode == 3)
                continue; /* r = x: the two graphs add dX's parts in other orders */
            for (int rel = 0; rel <= 1; rel++) {
                check_bits(&CASES[k], ADJ_F64, rel);
                check_bits(&CASES[k], ADJ_F32, rel);
            }
        }
    }
    adj_set_threads(1);
}
END_TEST

/* A weight given as transpose(contiguous(transpose(w0))) to two products
 * (two steps of a recurrent layer: z1 = x1 wᵀ, z2 = x2 wᵀ + z1), whose
 * dW goes straight into w0's adjoint, while other adjoints flow the long
 * way: sum(w g3) into w's own (then back through the copy) and
 * sum(w0 g4), recorded last, into w0's before the products' backward.
 * dW0 = Gᵀ x2 + Gᵀ x1 + g3 + g4 against plain loops, f32 and f64, 1 and
 * 2 threads, with and without released adjoints, in and out of anomaly
 * mode (where dW takes the long way, to be checked). */
START_TEST(weight_copy_shared)
{
    static const int64_t SZ[][3] = {{7, 5, 9}, {1, 1, 1}, {33, 128, 512}, {40, 67, 129}};
    for (int th = 1; th <= 2; th++)
        for (size_t q = 0; q < sizeof SZ / sizeof SZ[0]; q++)
            for (int f = 0; f < 8; f++) {
                adj_set_threads(th);
                const adj_dtype dt = f & 1 ? ADJ_F32 : ADJ_F64;
                const int64_t m = SZ[q][0], in = SZ[q][1], out = SZ[q][2];
                const size_t nx = (size_t)(m * in), nw = (size_t)(out * in), nz = (size_t)(m * out);
                double *x1 = filled(nx, 21, dt), *x2 = filled(nx, 22, dt), *w0v = filled(nw, 23, dt);
                double *g = filled(nz, 24, dt), *g3 = filled(nw, 25, dt), *g4 = filled(nw, 26, dt);
                adj_tape *t = adj_tape_new();
                adj_tape_set_anomaly(t, f >> 2);
                const int64_t xs[2] = {m, in}, ws[2] = {out, in}, zs[2] = {m, out};
                adj_var *a1 = leaf(t, dt, 2, xs, x1, 0), *a2 = leaf(t, dt, 2, xs, x2, 0);
                adj_var *w0 = leaf(t, dt, 2, ws, w0v, 0);
                adj_var *w = adj_transpose(adj_contiguous(adj_transpose(w0)));
                adj_var *z2 = adj_linear_add(a2, w, NULL, adj_linear(a1, w, NULL));
                adj_var *loss = adj_sum(adj_mul(z2, leaf(t, dt, 2, zs, g, 1)));
                loss = adj_add(loss, adj_sum(adj_mul(w, leaf(t, dt, 2, ws, g3, 1))));
                loss = adj_add(loss, adj_sum(adj_mul(w0, leaf(t, dt, 2, ws, g4, 1))));
                ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
                adj_backward_opts opts = {.release_adjoints = (f >> 1) & 1};
                ck_assert_msg(adj_backward_ex(loss, &opts) == ADJ_OK, "%s", adj_tape_message(t));
                double *want = malloc(nw * sizeof *want);
                for (size_t k = 0; k < nw; k++)
                    want[k] = g3[k] + g4[k];
                ref_mm((size_t)out, (size_t)in, (size_t)m, g, 1, (size_t)out, x2, (size_t)in, 1, want);
                ref_mm((size_t)out, (size_t)in, (size_t)m, g, 1, (size_t)out, x1, (size_t)in, 1, want);
                double *got = copy_grad(w0, nw);
                expect_close(got, want, nw, dt == ADJ_F64 ? 1e-12 : 2e-5, "dW0 of a shared copy");
                free(got), free(want);
                adj_tape_free(t);
                free(x1), free(x2), free(w0v), free(g), free(g3), free(g4);
            }
    adj_set_threads(1);
}
END_TEST

/* Anomaly mode on a dW that overflows while dX stays finite (x of 1e19
 * and g of 1e20 in f32, 1e200 in f64, w of 1e-20 / 1e-200): the
 * product's backward is named, as giving a non-finite adjoint to its
 * input 1, whether the weight is a plain leaf or given as transpose(
 * contiguous(transpose(w0))), through adj_linear and adj_linear_add, at
 * sizes for the plain-loop product and for BLIS and the two-thread split,
 * f32 and f64, 1 and 2 threads.  Out of anomaly mode the sweep ends well
 * and w0's adjoint holds the infinity. */
START_TEST(anomaly_weight_copy)
{
    static const int64_t SZ[][3] = {{4, 3, 3}, {33, 128, 512}};
    for (int th = 1; th <= 2; th++)
        for (size_t q = 0; q < sizeof SZ / sizeof SZ[0]; q++)
            for (int f = 0; f < 16; f++) {
                adj_set_threads(th);
                const adj_dtype dt = f & 1 ? ADJ_F32 : ADJ_F64;
                const int copy = (f >> 1) & 1, fused = (f >> 2) & 1, anomaly = f >> 3;
                const int64_t m = SZ[q][0], in = SZ[q][1], out = SZ[q][2];
                const size_t nx = (size_t)(m * in), nw = (size_t)(out * in), nz = (size_t)(m * out);
                const double big = dt == ADJ_F32 ? 1e19 : 1e200, small = dt == ADJ_F32 ? 1e-20 : 1e-200;
                double *xv = malloc(nx * sizeof *xv), *wv = malloc(nw * sizeof *wv);
                double *gv = malloc(nz * sizeof *gv), *rv = calloc(nz, sizeof *rv);
                for (size_t k = 0; k < nx; k++)
                    xv[k] = big;
                for (size_t k = 0; k < nw; k++)
                    wv[k] = small;
                for (size_t k = 0; k < nz; k++)
                    gv[k] = 10 * big;
                adj_tape *t = adj_tape_new();
                adj_tape_set_anomaly(t, anomaly);
                const int64_t xs[2] = {m, in}, ws[2] = {out, in}, zs[2] = {m, out};
                adj_var *x = leaf(t, dt, 2, xs, xv, 0), *w0 = leaf(t, dt, 2, ws, wv, 0);
                adj_var *w = copy ? adj_transpose(adj_contiguous(adj_transpose(w0))) : w0;
                adj_var *z = fused ? adj_linear_add(x, w, NULL, leaf(t, dt, 2, zs, rv, 0))
                                   : adj_linear(x, w, NULL);
                adj_var *loss = adj_sum(adj_mul(z, leaf(t, dt, 2, zs, gv, 1)));
                ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
                const adj_status st = adj_backward(loss);
                if (anomaly) {
                    const char *msg = adj_tape_message(t);
                    ck_assert_msg(st == ADJ_ENUMERIC, "copy %d fused %d: status %d", copy, fused, (int)st);
                    ck_assert_msg(strstr(msg, "backward") &&
                                      strstr(msg, fused ? "(adj_linear_add)" : "(adj_linear)") &&
                                      strstr(msg, "of its input 1"),
                                  "copy %d fused %d: %s", copy, fused, msg);
                } else {
                    ck_assert_msg(st == ADJ_OK, "%s", adj_tape_message(t));
                    ck_assert(isinf(adj_grad_at(w0, 0)));
                    ck_assert(isfinite(adj_grad_at(x, 0)));
                }
                adj_tape_free(t);
                free(xv), free(wv), free(gv), free(rv);
            }
    adj_set_threads(1);
}
END_TEST

/* The bias another leaf of the weight's own (out, 1) parameter tensor, the
 * weight that tensor or given as transpose(contiguous(transpose(v))): db
 * and dW add into the same adjoint, so the two must run one after the
 * other.  (The transpose of a one-row copy is itself row-major, so this
 * weight takes the ordinary path today; the case holds whichever path it
 * takes.)  Their sum, Gᵀ x + G's column sums, against plain loops after
 * eager and lazy zeroing and added to a previous backward's, f32 and f64,
 * 1 and 2 threads, sizes for the plain loops and for the two-thread
 * split. */
START_TEST(bias_shares_weight_copy)
{
    static const int64_t SZ[][2] = {{7, 5}, {1, 1}, {512, 512}, {300, 1001}};
    for (int th = 1; th <= 2; th++)
        for (size_t q = 0; q < sizeof SZ / sizeof SZ[0]; q++)
            for (int f = 0; f < 12; f++) {
                adj_set_threads(th);
                const adj_dtype dt = f & 1 ? ADJ_F32 : ADJ_F64;
                const int copy = (f >> 1) & 1, zero = f >> 2; /* 0 eager, 1 lazy, 2 twice */
                const int64_t m = SZ[q][0], out = SZ[q][1], ws[2] = {out, 1}, zs[2] = {m, out};
                const size_t nz = (size_t)(m * out);
                double *xv = filled((size_t)m, 31, dt), *wv = filled((size_t)out, 32, dt);
                double *g = filled(nz, 33, dt);
                adj_params *p = adj_params_new(dt);
                const int k = adj_params_add(p, "w", 2, ws);
                for (size_t i = 0; i < (size_t)out; i++) {
                    if (dt == ADJ_F64)
                        ((double *)adj_params_value(p, k))[i] = wv[i];
                    else
                        ((float *)adj_params_value(p, k))[i] = (float)wv[i];
                }
                const int runs = zero == 2 ? 2 : 1;
                for (int r = 0; r < runs; r++) {
                    adj_tape *t = adj_tape_new();
                    adj_var *x = leaf(t, dt, 2, ((int64_t[]){m, 1}), xv, 0), *v = adj_param(t, p, k);
                    adj_var *w = copy ? adj_transpose(adj_contiguous(adj_transpose(v))) : v;
                    adj_var *z = adj_linear(x, w, adj_param(t, p, k));
                    adj_var *loss = adj_sum(adj_mul(z, leaf(t, dt, 2, zs, g, 1)));
                    if (zero == 1)
                        adj_params_zero_grad_lazy(p);
                    else if (r == 0)
                        adj_params_zero_grad(p);
                    ck_assert_msg(adj_backward(loss) == ADJ_OK, "%s", adj_tape_message(t));
                    adj_tape_free(t);
                }
                double *want = calloc((size_t)out, sizeof *want);
                ref_mm((size_t)out, 1, (size_t)m, g, 1, (size_t)out, xv, 1, 1, want);
                for (size_t r = 0; r < (size_t)m; r++)
                    for (size_t o = 0; o < (size_t)out; o++)
                        want[o] += g[r * (size_t)out + o];
                double *got = malloc((size_t)out * sizeof *got);
                for (size_t o = 0; o < (size_t)out; o++) {
                    got[o] = dt == ADJ_F64 ? ((double *)adj_params_grad(p, k))[o]
                                           : ((float *)adj_params_grad(p, k))[o];
                    want[o] *= runs;
                }
                expect_close(got, want, (size_t)out, dt == ADJ_F64 ? 1e-12 : 2e-5, "dW + db in one tensor");
                free(got), free(want);
                adj_params_free(p);
                free(xv), free(wv), free(g);
            }
    adj_set_threads(1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("linear_add");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, matches_plain_loops);
    tcase_add_test(tc, same_bits_as_add_of_linear);
    tcase_add_test(tc, weight_copy_shared);
    tcase_add_test(tc, anomaly_weight_copy);
    tcase_add_test(tc, bias_shares_weight_copy);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
