/*
 * Second derivatives of a scalar function recorded by a callback:
 * Hessian-vector products, Hessians, and their check against finite
 * differences of gradients.
 *
 * H v is computed reverse-over-reverse: the gradient g of f is recorded
 * as ops (adj_grad with create_graph), and one plain backward sweep of
 * s = sum_i <g_i, v_i> gives ds/dx = H v.  A Hessian is one such sweep
 * per row, each seeding one element of g (adj_backward_seeded), over the
 * one recorded gradient.
 *
 * The check: H v along random directions v against the central
 * difference of gradients (g(x + h v) - g(x - h v)) / 2h, every gradient
 * evaluated in double by the plain backward sweep (itself checked by
 * adj_gradcheck).  An element whose one-sided differences differ by a gap
 * that does not halve with h is on a kink of the gradient (ReLU at 0, a
 * max tie) and is left out, as adj_gradcheck does for f.
 */
#include "core/handle.h"
#include "core/tape.h"
#include "adjoint/check.h"
#include "check/tolerance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Inputs recorded as leaves of `dtype` holding in[i].data + s v (v NULL:
 * the data), then f; NULL with a message in msg after an error. */
static adj_var *record_f(adj_tape *t, adj_gradcheck_fn fn, void *user, int n,
                         const adj_gradcheck_input *in, const size_t *start, adj_dtype dtype,
                         const double *v, double s, adj_var **xs, const char *who, char *msg,
                         size_t msize, adj_status *st)
{
    for (int i = 0; i < n; i++) {
        const size_t m = start[i + 1] - start[i];
        void *buf = adj_arena_alloc(t, m * 8 + 8);
        if (!buf)
            break;
        for (size_t j = 0; j < m; j++) {
            double x = in[i].data[j] + (v ? s * v[start[i] + j] : 0.0);
            if (dtype == ADJ_F64)
                ((double *)buf)[j] = x;
            else
                ((float *)buf)[j] = (float)x;
        }
        xs[i] = adj_leaf_at(t, dtype, in[i].ndim, in[i].shape, buf, 1, __FILE__, __LINE__);
    }
    adj_var *f = adj_tape_status(t) == ADJ_OK ? fn(t, xs, n, user) : NULL;
    *st = adj_tape_status(t);
    if (*st != ADJ_OK) {
        snprintf(msg, msize, "%s: %s", who, adj_tape_message(t));
        return NULL;
    }
    if (!f || adj_var_tape(f) != t || adj_numel(f) != 1) {
        *st = !f || adj_numel(f) != 1 ? ADJ_EINVAL : ADJ_ETAPE;
        snprintf(msg, msize, "%s: the function returned %s", who,
                 !f ? "NULL" : adj_var_tape(f) != t ? "a var of another tape"
                                                     : "a var of more than one element");
        return NULL;
    }
    return f;
}

/* Everything one computation needs: the inputs, their offsets, a tape. */
typedef struct ctx {
    adj_gradcheck_fn fn;
    void *user;
    int n;
    const adj_gradcheck_input *in;
    size_t start[ADJ_GRADCHECK_MAX_INPUTS + 1];
    adj_tape *t;
    const char *who;
    char msg[256];
    adj_status st;
    size_t evals;
} ctx;

static adj_status ctx_init(ctx *c, const char *who, adj_gradcheck_fn fn, void *user, int n,
                           const adj_gradcheck_input *in)
{
    memset(c, 0, sizeof *c);
    c->fn = fn;
    c->user = user;
    c->n = n;
    c->in = in;
    c->who = who;
    c->st = ADJ_EINVAL;
    if (!fn || !in) {
        snprintf(c->msg, sizeof c->msg, "%s: the %s is NULL", who, !fn ? "function" : "input array");
        return c->st;
    }
    if (n < 1 || n > ADJ_GRADCHECK_MAX_INPUTS) {
        snprintf(c->msg, sizeof c->msg, "%s: %d inputs (1..%d)", who, n, ADJ_GRADCHECK_MAX_INPUTS);
        return c->st;
    }
    for (int i = 0; i < n; i++) {
        size_t m;
        if (in[i].ndim < 0 || in[i].ndim > ADJ_MAX_DIMS ||
            !adj_shape_numel(in[i].ndim, in[i].shape, &m) || (!in[i].data && m)) {
            snprintf(c->msg, sizeof c->msg, "%s: input %d has an invalid shape or no data", who, i);
            return c->st;
        }
        c->start[i + 1] = c->start[i] + m;
    }
    c->t = adj_tape_new();
    if (!c->t) {
        c->st = ADJ_ENOMEM;
        snprintf(c->msg, sizeof c->msg, "%s: out of memory", who);
        return c->st;
    }
    c->st = ADJ_OK;
    return ADJ_OK;
}

static adj_var *ctx_record(ctx *c, adj_dtype dtype, const double *v, double s, adj_var **xs)
{
    adj_tape_reset(c->t);
    c->evals++;
    return record_f(c->t, c->fn, c->user, c->n, c->in, c->start, dtype, v, s, xs, c->who, c->msg,
                    sizeof c->msg, &c->st);
}

static bool ctx_fail(ctx *c)
{
    c->st = adj_tape_status(c->t);
    if (c->st == ADJ_OK)
        return false;
    snprintf(c->msg, sizeof c->msg, "%s: %s", c->who, adj_tape_message(c->t));
    return true;
}

/* Forget the adjoints of xs (before a sweep that may not reach them). */
static void zero_grads(const ctx *c, adj_var *const *xs)
{
    for (int i = 0; i < c->n; i++) {
        adj_var *x = adj_h_raw(xs[i]); /* a handle from adj_leaf_at */
        if (x->grad)
            memset(x->grad, 0, adj_cold(x)->numel * adj_dsize(x->dtype));
    }
}

/* The adjoints of xs into out (flat, input after input). */
static void read_grads(const ctx *c, adj_var *const *xs, double *out)
{
    for (int i = 0; i < c->n; i++)
        for (size_t j = 0; j < c->start[i + 1] - c->start[i]; j++)
            out[c->start[i] + j] = adj_grad_at(xs[i], j);
}

/* The gradient of f at in + s v in double, by the plain sweep. */
static bool gradient_at(ctx *c, const double *v, double s, double *out)
{
    adj_var *xs[ADJ_GRADCHECK_MAX_INPUTS];
    adj_var *f = ctx_record(c, ADJ_F64, v, s, xs);
    if (!f)
        return false;
    if (adj_backward(f) != ADJ_OK && ctx_fail(c))
        return false;
    read_grads(c, xs, out);
    return true;
}

/* H v at the inputs, reverse-over-reverse, in dtype. */
static bool hvp_at(ctx *c, adj_dtype dtype, const double *v, double *out)
{
    adj_var *xs[ADJ_GRADCHECK_MAX_INPUTS], *g[ADJ_GRADCHECK_MAX_INPUTS];
    adj_var *f = ctx_record(c, dtype, NULL, 0.0, xs);
    if (!f)
        return false;
    const adj_backward_opts graph = {.create_graph = 1};
    if (adj_grad(f, c->n, xs, g, &graph) != ADJ_OK && ctx_fail(c))
        return false;
    adj_var *s = NULL;
    for (int i = 0; i < c->n; i++) {
        const size_t m = c->start[i + 1] - c->start[i];
        void *buf = adj_arena_alloc(c->t, m * 8 + 8);
        if (!buf)
            break;
        for (size_t j = 0; j < m; j++) {
            if (dtype == ADJ_F64)
                ((double *)buf)[j] = v[c->start[i] + j];
            else
                ((float *)buf)[j] = (float)v[c->start[i] + j];
        }
        adj_var *V = adj_leaf_at(c->t, dtype, c->in[i].ndim, c->in[i].shape, buf, 0, __FILE__,
                                 __LINE__);
        adj_var *d = adj_sum(adj_mul(g[i], V));
        s = s ? adj_add(s, d) : d;
    }
    if (ctx_fail(c) || (adj_backward(s) != ADJ_OK && ctx_fail(c)))
        return false;
    read_grads(c, xs, out);
    return true;
}

static adj_status ctx_done(ctx *c, char *msg, size_t msize)
{
    if (msg && msize)
        snprintf(msg, msize, "%s", c->st == ADJ_OK ? "" : c->msg);
    adj_tape_free(c->t);
    return c->st;
}

adj_status adj_hvp(adj_gradcheck_fn f, void *user, int n, const adj_gradcheck_input *inputs,
                   const double *v, double *out)
{
    ctx c;
    if (ctx_init(&c, "adj_hvp", f, user, n, inputs) != ADJ_OK || !v || !out) {
        adj_status s = c.st == ADJ_OK ? ADJ_EINVAL : c.st;
        adj_tape_free(c.t);
        return s;
    }
    hvp_at(&c, ADJ_F64, v, out);
    return ctx_done(&c, NULL, 0);
}

adj_status adj_hessian(adj_gradcheck_fn f, void *user, int n, const adj_gradcheck_input *inputs,
                       double *H, size_t h_size)
{
    ctx c;
    if (ctx_init(&c, "adj_hessian", f, user, n, inputs) != ADJ_OK || !H) {
        adj_status s = c.st == ADJ_OK ? ADJ_EINVAL : c.st;
        adj_tape_free(c.t);
        return s;
    }
    const size_t N = c.start[n];
    if (N > ADJ_HESSIAN_MAX_N || h_size < N * N) {
        adj_tape_free(c.t);
        return ADJ_EINVAL;
    }
    adj_var *xs[ADJ_GRADCHECK_MAX_INPUTS], *g[ADJ_GRADCHECK_MAX_INPUTS];
    adj_var *fv = ctx_record(&c, ADJ_F64, NULL, 0.0, xs);
    const adj_backward_opts graph = {.create_graph = 1};
    double *seed = fv ? calloc(N + 1, sizeof *seed) : NULL;
    if (fv && !seed)
        c.st = ADJ_ENOMEM;
    if (seed && !(adj_grad(fv, n, xs, g, &graph) != ADJ_OK && ctx_fail(&c))) {
        /* row r: the sweep from element j of g_i */
        for (int i = 0, r = 0; i < n && c.st == ADJ_OK; i++)
            for (size_t j = 0; j < c.start[i + 1] - c.start[i]; j++, r++) {
                seed[j] = 1.0;
                if (adj_requires_grad(g[i])) {
                    zero_grads(&c, xs);
                    if (adj_backward_seeded(g[i], seed) != ADJ_OK && ctx_fail(&c))
                        break;
                    read_grads(&c, xs, H + (size_t)r * N);
                } else {
                    memset(H + (size_t)r * N, 0, N * sizeof *H); /* g_i is a constant */
                }
                seed[j] = 0.0;
            }
    }
    free(seed);
    return ctx_done(&c, NULL, 0);
}

/* ------------------------------------------------------------- the check */

/* splitmix64, for reproducible directions */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Directions checked, each a vector of uniform [-1, 1) components. */
#define GG_DIRECTIONS 2

adj_status adj_gradgradcheck(adj_gradcheck_fn fn, void *user, int n,
                             const adj_gradcheck_input *in, const adj_gradcheck_opts *opts,
                             adj_gradcheck_report *rep)
{
    if (!rep)
        return ADJ_EINVAL;
    memset(rep, 0, sizeof *rep);
    ctx c;
    if (ctx_init(&c, "adj_gradgradcheck", fn, user, n, in) != ADJ_OK) {
        rep->status = c.st;
        snprintf(rep->message, sizeof rep->message, "%s", c.msg);
        adj_tape_free(c.t);
        return rep->status;
    }
    adj_gradcheck_opts o = {.dtype = ADJ_F64};
    if (opts)
        o = *opts;
    if ((o.dtype != ADJ_F32 && o.dtype != ADJ_F64) || !(o.eps >= 0 && isfinite(o.eps)) ||
        !(o.atol >= 0 && isfinite(o.atol)) || !(o.rtol >= 0 && isfinite(o.rtol))) {
        c.st = ADJ_EINVAL;
        snprintf(c.msg, sizeof c.msg,
                 "adj_gradgradcheck: dtype %d, eps %g, atol %g, rtol %g: f32 or f64, and finite "
                 "numbers >= 0 (0: the defaults)",
                 (int)o.dtype, o.eps, o.atol, o.rtol);
        rep->status = ctx_done(&c, rep->message, sizeof rep->message);
        return rep->status;
    }
    if (o.eps == 0)
        o.eps = 1e-5;
    if (o.atol == 0 && o.rtol == 0) {
        o.atol = o.dtype == ADJ_F64 ? 1e-6 : 1e-3;
        o.rtol = o.dtype == ADJ_F64 ? 1e-5 : 2e-2;
    }
    const size_t N = c.start[n];
    double *buf = malloc((7 * N + 1) * sizeof *buf);
    if (!buf) {
        c.st = ADJ_ENOMEM;
        snprintf(c.msg, sizeof c.msg, "adj_gradgradcheck: out of memory");
        rep->status = ctx_done(&c, rep->message, sizeof rep->message);
        return rep->status;
    }
    double *v = buf, *an = v + N, *g0 = an + N, *gp = g0 + N, *gm = gp + N, *gp2 = gm + N,
           *gm2 = gp2 + N;
    double worst[ADJ_GRADCHECK_MAX_INPUTS];
    rep->n_inputs = n;
    for (int i = 0; i < n; i++) {
        rep->inputs[i].numel = c.start[i + 1] - c.start[i];
        rep->inputs[i].passed = 1;
        worst[i] = -1;
    }
    const double h = o.eps;
    uint64_t seed = 0x5eed2ull;
    bool ok = gradient_at(&c, NULL, 0.0, g0);
    for (int d = 0; ok && d < GG_DIRECTIONS; d++) {
        for (size_t k = 0; k < N; k++)
            v[k] = (double)(next(&seed) >> 11) * 0x1.0p-52 - 1.0;
        ok = hvp_at(&c, o.dtype, v, an) && gradient_at(&c, v, h, gp) &&
             gradient_at(&c, v, -h, gm);
        bool halved = false;
        for (int i = 0; ok && i < n; i++)
            for (size_t j = 0; ok && j < rep->inputs[i].numel; j++) {
                const size_t k = c.start[i] + j;
                const double central = (gp[k] - gm[k]) / (2 * h);
                const double gap = fabs((gp[k] - g0[k]) - (g0[k] - gm[k])) / h;
                adj_gradcheck_result *r = &rep->inputs[i];
                if (gap > 1e-4 * (1 + fabs(central))) {
                    /* halve h: a smooth gradient's gap halves too, a kink's stays */
                    if (!halved)
                        ok = gradient_at(&c, v, h / 2, gp2) && gradient_at(&c, v, -h / 2, gm2);
                    halved = true;
                    if (!ok)
                        break;
                    const double gap2 = fabs((gp2[k] - g0[k]) - (g0[k] - gm2[k])) / (h / 2);
                    if (gap2 > 0.75 * gap) {
                        if (!r->kinks++)
                            r->first_kink = j;
                        continue;
                    }
                }
                const double err = fabs(an[k] - central);
                const double tol = o.atol + o.rtol * fabs(central);
                const bool bad = !adj_within_tol(err, tol);
                const double score = adj_tol_ratio(err, tol);
                if (bad)
                    r->passed = 0;
                if (score > worst[i]) {
                    worst[i] = score;
                    r->worst_index = j;
                    r->analytic = an[k];
                    r->numeric = central;
                    r->abs_err = err;
                    r->rel_err = err / fmax(fabs(central), 1e-300);
                }
            }
    }
    free(buf);
    if (ok) {
        rep->passed = 1;
        for (int i = 0; i < n; i++) {
            rep->passed &= rep->inputs[i].passed;
            if (rep->inputs[i].rel_err > rep->max_rel_err)
                rep->max_rel_err = rep->inputs[i].rel_err;
        }
        adj_var *xs[ADJ_GRADCHECK_MAX_INPUTS];
        adj_var *f = ctx_record(&c, ADJ_F64, NULL, 0.0, xs);
        if (f)
            rep->value = adj_item(f);
    }
    rep->evaluations = c.evals;
    rep->status = ctx_done(&c, rep->message, sizeof rep->message);
    if (rep->status != ADJ_OK)
        rep->passed = 0;
    return rep->status;
}
