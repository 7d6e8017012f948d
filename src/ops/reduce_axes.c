/*
 * Reductions over one or several axes, with or without keeping them as
 * size-1 dimensions: sum, mean, max, min, logsumexp, var; and softmax and
 * log-softmax along any one axis.
 *
 * x's elements split into the kept coordinates (one output element each)
 * and the reduced ones: element (o, r) is at koff[o] + roff[r], two offset
 * tables as long as the output and as one reduction, built once per call.
 * Every sum is accumulated in double, whatever the dtype.
 */
#include "ops/decompose.h"
#include "ops/graph.h"
#include "ops/op.h"
#include "ops/vmath.h"

#include <math.h>
#include <string.h>

typedef struct reduce_attr {
    int32_t axis;           /* the one axis when naxes == 0 */
    int32_t naxes;          /* > 0: axes[0..naxes); -1: every axis */
    int32_t keepdims;       /* keep the reduced axes as size 1 */
    int32_t ddof;           /* var: the divisor is N - ddof */
    int32_t axes[ADJ_MAX_DIMS];
    uint32_t mask;          /* set by the shape rule: bit d when axis d is reduced */
    struct plan *plan;      /* set by the shape rule (arena) */
} reduce_attr;

/* x's element (o, r) is at koff[o] + roff[r]: koff runs over the kept
 * coordinates, roff over the reduced ones, each in row-major order.
 * Built once by the shape rule, so a forward run again allocates nothing. */
typedef struct plan {
    size_t nk, nr;
    size_t *koff, *roff;
    size_t *arg;            /* max, min: the offset in x of each output's extremum */
} plan;

static bool build_plan(adj_var *y, bool extremum);

/* Normalise the axes into a mask; false with a reason on a bad axis. */
static bool axes_mask(const adj_var *x, const reduce_attr *a, uint32_t *mask, char *why, size_t n)
{
    char sh[64];
    adj_fmt_shape(sh, sizeof sh, x->ndim, adj_cold(x)->shape);
    *mask = 0;
    if (a->naxes < 0) {
        *mask = (1u << x->ndim) - 1u;
        return true;
    }
    int count = a->naxes ? a->naxes : 1;
    if (count > ADJ_MAX_DIMS) {
        snprintf(why, n, "%d axes given for shape %s (at most %d)", count, sh, ADJ_MAX_DIMS);
        return false;
    }
    for (int k = 0; k < count; k++) {
        int given = a->naxes ? a->axes[k] : a->axis, axis = given < 0 ? given + x->ndim : given;
        if (axis < 0 || axis >= x->ndim) {
            snprintf(why, n, "axis %d is out of range for shape %s", given, sh);
            return false;
        }
        if (*mask & (1u << axis)) {
            snprintf(why, n, "axis %d is given twice for shape %s", given, sh);
            return false;
        }
        *mask |= 1u << axis;
    }
    return true;
}

static adj_status shape_reduce(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    reduce_attr *a = ADJ_ATTR(y, reduce_attr);
    if (!axes_mask(x, a, &a->mask, why, n))
        return ADJ_EINVAL;
    int j = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!(a->mask & (1u << d)))
            adj_cold(y)->shape[j++] = adj_cold(x)->shape[d];
        else if (a->keepdims)
            adj_cold(y)->shape[j++] = 1;
    }
    y->ndim = (uint8_t)j;
    return ADJ_OK;
}

/* max and min have no value over an empty set */
static adj_status shape_plain(adj_var *y, char *why, size_t n)
{
    adj_status s = shape_reduce(y, why, n);
    if (s == ADJ_OK && !build_plan(y, false)) {
        snprintf(why, n, "out of memory for the offset tables");
        return ADJ_ENOMEM;
    }
    return s;
}

static adj_status shape_extremum(adj_var *y, char *why, size_t n)
{
    adj_status s = shape_reduce(y, why, n);
    if (s != ADJ_OK)
        return s;
    const adj_var *x = y->in[0];
    uint32_t mask = ADJ_ATTR(y, reduce_attr)->mask;
    for (int d = 0; d < x->ndim; d++)
        if ((mask & (1u << d)) && adj_cold(x)->shape[d] == 0) {
            char sh[64];
            adj_fmt_shape(sh, sizeof sh, x->ndim, adj_cold(x)->shape);
            snprintf(why, n, "axis %d of shape %s is empty: no extremum", d, sh);
            return ADJ_ESHAPE;
        }
    if (!build_plan(y, true)) {
        snprintf(why, n, "out of memory for the offset tables");
        return ADJ_ENOMEM;
    }
    return ADJ_OK;
}

/* softmax along one axis: y has x's shape */
static adj_status shape_along(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    reduce_attr *a = ADJ_ATTR(y, reduce_attr);
    if (x->ndim == 0 || !axes_mask(x, a, &a->mask, why, n)) {
        if (x->ndim == 0)
            snprintf(why, n, "axis %d is out of range for a 0-D input", a->axis);
        return ADJ_EINVAL;
    }
    adj_shape_from(y, x);
    if (!build_plan(y, false)) {
        snprintf(why, n, "out of memory for the offset tables");
        return ADJ_ENOMEM;
    }
    return ADJ_OK;
}

/* The offsets of x's elements along the kept (reduced) dimensions. */
static size_t *offsets(adj_tape *t, const adj_var *x, uint32_t mask, bool reduced, size_t *count)
{
    int64_t stride[ADJ_MAX_DIMS];
    int dims[ADJ_MAX_DIMS], nd = 0;
    size_t n = 1;
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= adj_cold(x)->shape[d];
    }
    for (int d = 0; d < x->ndim; d++)
        if (!!(mask & (1u << d)) == reduced) {
            dims[nd++] = d;
            n *= (size_t)adj_cold(x)->shape[d];
        }
    *count = n;
    size_t *off = adj_arena_alloc(t, (n ? n : 1) * sizeof *off);
    if (!off || n == 0)
        return off;
    int64_t idx[ADJ_MAX_DIMS] = {0};
    size_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        off[i] = cur;
        for (int k = nd - 1; k >= 0; k--) { /* odometer over the chosen dims */
            int d = dims[k];
            cur += (size_t)stride[d];
            if (++idx[k] < adj_cold(x)->shape[d])
                break;
            cur -= (size_t)(stride[d] * idx[k]);
            idx[k] = 0;
        }
    }
    return off;
}

static bool build_plan(adj_var *y, bool extremum)
{
    const adj_var *x = y->in[0];
    adj_tape *t = adj_node_tape(y);
    reduce_attr *a = ADJ_ATTR(y, reduce_attr);
    plan *p = adj_arena_alloc(t, sizeof *p);
    if (!p)
        return false;
    p->koff = offsets(t, x, a->mask, false, &p->nk);
    p->roff = offsets(t, x, a->mask, true, &p->nr);
    p->arg = extremum ? adj_arena_alloc(t, (p->nk ? p->nk : 1) * sizeof *p->arg) : NULL;
    a->plan = p;
    return p->koff && p->roff && (!extremum || p->arg);
}

static bool plan_of(const adj_var *y, plan *p)
{
    *p = *ADJ_ATTR(y, reduce_attr)->plan;
    return true;
}

static double ld(const void *p, int dtype, size_t i)
{
    return dtype == ADJ_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static void st(void *p, int dtype, size_t i, double v)
{
    if (dtype == ADJ_F64)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}

static void add_to(void *p, int dtype, size_t i, double v)
{
    if (dtype == ADJ_F64)
        ((double *)p)[i] += v;
    else
        ((float *)p)[i] = (float)((double)((float *)p)[i] + v);
}

/* ---------------------------------------------------------- sum and mean */

static double mean_scale(const plan *p, bool mean) { return mean ? 1.0 / (double)p->nr : 1.0; }

/* out[o] = scale sum_r in[o, r]: the forward on values, the jvp on tangents */
static void sum_into(const adj_var *y, const void *in, void *out, bool mean)
{
    plan p;
    if (!plan_of(y, &p))
        return;
    double scale = mean_scale(&p, mean);
    for (size_t o = 0; o < p.nk; o++) {
        double s = 0;
        for (size_t r = 0; r < p.nr; r++)
            s += ld(in, y->dtype, p.koff[o] + p.roff[r]);
        st(out, y->dtype, o, s * scale);
    }
}

/* dx[o, r] += scale dy[o] */
static void sum_back(adj_var *y, bool mean)
{
    adj_var *x = y->in[0];
    void *g = adj_grad_buf(x);
    plan p;
    if (!g || !plan_of(y, &p))
        return;
    double scale = mean_scale(&p, mean);
    for (size_t o = 0; o < p.nk; o++) {
        double d = ld(y->grad, y->dtype, o) * scale;
        for (size_t r = 0; r < p.nr; r++)
            add_to(g, y->dtype, p.koff[o] + p.roff[r], d);
    }
}

static void sum_axes_forward(adj_var *y) { sum_into(y, y->in[0]->value, y->value, false); }
static void sum_axes_backward(adj_var *y) { sum_back(y, false); }
static void sum_axes_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    sum_into(y, tx[0], ty, false);
}
static void mean_axes_forward(adj_var *y) { sum_into(y, y->in[0]->value, y->value, true); }
static void mean_axes_backward(adj_var *y) { sum_back(y, true); }
static void mean_axes_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    sum_into(y, tx[0], ty, true);
}

/* ------------------------------------------------------------ max and min */

/* y[o] = x at the first extremum of row o (a NaN wins: it propagates) */
static void extremum_forward(adj_var *y, bool max)
{
    const adj_var *x = y->in[0];
    plan p;
    plan_of(y, &p);
    for (size_t o = 0; o < p.nk; o++) {
        size_t best = p.koff[o] + p.roff[0];
        double b = ld(x->value, x->dtype, best);
        for (size_t r = 1; r < p.nr && b == b; r++) {
            size_t i = p.koff[o] + p.roff[r];
            double v = ld(x->value, x->dtype, i);
            if ((max ? v > b : v < b) || v != v) {
                b = v;
                best = i;
            }
        }
        p.arg[o] = best;
        st(y->value, y->dtype, o, b);
    }
}

/* dx[arg[o]] += dy[o] */
static void extremum_backward(adj_var *y)
{
    void *g = adj_grad_buf(y->in[0]);
    const size_t *arg = ADJ_ATTR(y, reduce_attr)->plan->arg;
    if (!g || !arg)
        return;
    for (size_t o = 0; o < adj_cold(y)->numel; o++)
        add_to(g, y->dtype, arg[o], ld(y->grad, y->dtype, o));
}

/* tangent: dy[o] = dx[arg[o]] */
static void extremum_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const size_t *arg = ADJ_ATTR(y, reduce_attr)->plan->arg;
    for (size_t o = 0; o < adj_cold(y)->numel; o++)
        st(ty, y->dtype, o, ld(tx[0], y->dtype, arg[o]));
}

static void max_forward(adj_var *y) { extremum_forward(y, true); }
static void min_forward(adj_var *y) { extremum_forward(y, false); }

/* --------------------------------------------------------------- logsumexp */

/* log sum_r e^(in[o, r]), shifted by the row's maximum */
static double row_logsumexp(const adj_var *x, const plan *p, size_t o)
{
    double m = -INFINITY;
    for (size_t r = 0; r < p->nr; r++) {
        double v = ld(x->value, x->dtype, p->koff[o] + p->roff[r]);
        if (v > m || v != v)
            m = v;
    }
    if (m != m || m == INFINITY || m == -INFINITY)
        return m; /* NaN, +inf, or every element -inf (or none) */
    double s = 0;
    for (size_t r = 0; r < p->nr; r++)
        s += adj_vexp(ld(x->value, x->dtype, p->koff[o] + p->roff[r]) - m);
    return m + log(s);
}

static void logsumexp_forward(adj_var *y)
{
    plan p;
    if (!plan_of(y, &p))
        return;
    for (size_t o = 0; o < p.nk; o++)
        st(y->value, y->dtype, o, row_logsumexp(y->in[0], &p, o));
}

/* dx[o, r] += dy[o] e^(x[o, r] - y[o]) (the softmax of the row) */
static void logsumexp_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    void *g = adj_grad_buf(x);
    plan p;
    if (!g || !plan_of(y, &p))
        return;
    for (size_t o = 0; o < p.nk; o++) {
        double d = ld(y->grad, y->dtype, o);
        if (d == 0)
            continue;
        double l = row_logsumexp(x, &p, o); /* in double, not y rounded to f32 */
        for (size_t r = 0; r < p.nr; r++) {
            size_t i = p.koff[o] + p.roff[r];
            add_to(g, y->dtype, i, d * adj_vexp(ld(x->value, x->dtype, i) - l));
        }
    }
}

/* tangent: dy[o] = sum_r softmax[o, r] dx[o, r] */
static void logsumexp_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_var *x = y->in[0];
    plan p;
    if (!plan_of(y, &p))
        return;
    for (size_t o = 0; o < p.nk; o++) {
        double l = row_logsumexp(x, &p, o), s = 0;
        for (size_t r = 0; r < p.nr; r++) {
            size_t i = p.koff[o] + p.roff[r];
            s += adj_vexp(ld(x->value, x->dtype, i) - l) * ld(tx[0], x->dtype, i);
        }
        st(ty, y->dtype, o, s);
    }
}

/* --------------------------------------------------------------------- var */

static double row_mean(const adj_var *x, const plan *p, size_t o)
{
    double s = 0;
    for (size_t r = 0; r < p->nr; r++)
        s += ld(x->value, x->dtype, p->koff[o] + p->roff[r]);
    return s / (double)p->nr;
}

static double var_divisor(const adj_var *y, const plan *p)
{
    return (double)p->nr - (double)ADJ_ATTR(y, reduce_attr)->ddof;
}

/* y[o] = sum_r (x[o, r] - mean_o)^2 / (N - ddof), two passes in double */
static void var_forward(adj_var *y)
{
    const adj_var *x = y->in[0];
    plan p;
    if (!plan_of(y, &p))
        return;
    double div = var_divisor(y, &p);
    for (size_t o = 0; o < p.nk; o++) {
        double mu = row_mean(x, &p, o), s = 0;
        for (size_t r = 0; r < p.nr; r++) {
            double d = ld(x->value, x->dtype, p.koff[o] + p.roff[r]) - mu;
            s += d * d;
        }
        st(y->value, y->dtype, o, s / div);
    }
}

/* dx[o, r] += dy[o] 2 (x[o, r] - mean_o) / (N - ddof) (the mean's own
 * dependence on x adds sum_r (x - mean) = 0) */
static void var_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    void *g = adj_grad_buf(x);
    plan p;
    if (!g || !plan_of(y, &p))
        return;
    double div = var_divisor(y, &p);
    for (size_t o = 0; o < p.nk; o++) {
        double d = ld(y->grad, y->dtype, o), mu = row_mean(x, &p, o);
        if (d == 0)
            continue;
        for (size_t r = 0; r < p.nr; r++) {
            size_t i = p.koff[o] + p.roff[r];
            add_to(g, y->dtype, i, d * 2 * (ld(x->value, x->dtype, i) - mu) / div);
        }
    }
}

/* tangent: dy[o] = sum_r 2 (x[o, r] - mean_o) dx[o, r] / (N - ddof) */
static void var_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_var *x = y->in[0];
    plan p;
    if (!plan_of(y, &p))
        return;
    double div = var_divisor(y, &p);
    for (size_t o = 0; o < p.nk; o++) {
        double mu = row_mean(x, &p, o), s = 0;
        for (size_t r = 0; r < p.nr; r++) {
            size_t i = p.koff[o] + p.roff[r];
            s += 2 * (ld(x->value, x->dtype, i) - mu) * ld(tx[0], x->dtype, i);
        }
        st(ty, y->dtype, o, s / div);
    }
}

/* ------------------------------------------------- softmax along any axis */

/* y[o, r] = e^(x[o, r] - lse_o), or x[o, r] - lse_o for the log form */
static void along_forward(adj_var *y, bool log_form)
{
    const adj_var *x = y->in[0];
    plan p;
    if (!plan_of(y, &p))
        return;
    for (size_t o = 0; o < p.nk; o++) {
        double l = row_logsumexp(x, &p, o);
        for (size_t r = 0; r < p.nr; r++) {
            size_t i = p.koff[o] + p.roff[r];
            double d = ld(x->value, x->dtype, i) - l;
            st(y->value, y->dtype, i, log_form ? d : adj_vexp(d));
        }
    }
}

/* softmax: dx = y (dy - sum_r dy y); log-softmax: dx = dy - e^y sum_r dy.
 * The same with tangents: t = y (dx - sum_r dx y); t = dx - sum_r e^y dx. */
static void along_vjp(const adj_var *y, const void *in, void *out, bool log_form, bool acc)
{
    plan p;
    if (!plan_of(y, &p))
        return;
    for (size_t o = 0; o < p.nk; o++) {
        double s = 0;
        for (size_t r = 0; r < p.nr; r++) {
            size_t i = p.koff[o] + p.roff[r];
            double v = ld(y->value, y->dtype, i), d = ld(in, y->dtype, i);
            s += log_form ? (acc ? d : adj_vexp(v) * d) : d * v;
        }
        for (size_t r = 0; r < p.nr; r++) {
            size_t i = p.koff[o] + p.roff[r];
            double v = ld(y->value, y->dtype, i), d = ld(in, y->dtype, i);
            double g = log_form ? d - (acc ? adj_vexp(v) * s : s) : v * (d - s);
            if (acc)
                add_to(out, y->dtype, i, g);
            else
                st(out, y->dtype, i, g);
        }
    }
}

static void softmax_axis_forward(adj_var *y) { along_forward(y, false); }
static void log_softmax_axis_forward(adj_var *y) { along_forward(y, true); }
static void softmax_axis_backward(adj_var *y)
{
    void *g = adj_grad_buf(y->in[0]);
    if (g)
        along_vjp(y, y->grad, g, false, true);
}
static void log_softmax_axis_backward(adj_var *y)
{
    void *g = adj_grad_buf(y->in[0]);
    if (g)
        along_vjp(y, y->grad, g, true, true);
}
static void softmax_axis_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    along_vjp(y, tx[0], ty, false, false);
}
static void log_softmax_axis_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    along_vjp(y, tx[0], ty, true, false);
}

/* ------------------------------------------------------------ descriptors */

/* Check cases: one axis (positive, negative), several (keepdims or not,
 * given negative and out of order), every axis, size-1 and zero-size
 * dimensions. */
static const reduce_attr ax0 = {.axis = 0}, ax1 = {.axis = 1}, ax2 = {.axis = 2},
                         axm1 = {.axis = -1}, all = {.naxes = -1},
                         allkeep = {.naxes = -1, .keepdims = 1},
                         keep02 = {.naxes = 2, .axes = {0, 2}, .keepdims = 1},
                         m1m3 = {.naxes = 2, .axes = {-1, -3}}, var1 = {.axis = 1, .ddof = 1};
static const adj_op_case reduce_cases[] = {
    {1, {2}, {{3, 4}}, &ax0, " axis 0"},
    {1, {2}, {{3, 4}}, &axm1, " axis -1"},
    {1, {3}, {{2, 3, 4}}, &ax1, " axis 1"},
    {1, {1}, {{5}}, &ax0, " axis 0"},
    {1, {3}, {{2, 3, 4}}, &keep02, " axes (0,2) keepdims"},
    {1, {3}, {{2, 1, 3}}, &m1m3, " axes (-1,-3)"},
    {1, {2}, {{2, 3}}, &all, " every axis"},
    {1, {4}, {{2, 1, 3, 2}}, &allkeep, " every axis keepdims"},
    {1, {3}, {{2, 0, 3}}, &ax0, " axis 0 (zero-size output)"},
};
static const adj_op_case var_cases[] = {
    {1, {2}, {{3, 4}}, &ax0, " axis 0"},
    {1, {3}, {{2, 3, 4}}, &keep02, " axes (0,2) keepdims"},
    {1, {3}, {{2, 1, 3}}, &m1m3, " axes (-1,-3)"},
    {1, {2}, {{2, 3}}, &all, " every axis"},
    {1, {2}, {{3, 4}}, &var1, " axis 1 ddof 1"},
    {1, {3}, {{2, 0, 3}}, &ax0, " axis 0 (zero-size output)"},
};
static const adj_op_case along_cases[] = {
    {1, {2}, {{3, 4}}, &ax0, " axis 0"},
    {1, {2}, {{3, 4}}, &axm1, " axis -1"},
    {1, {3}, {{2, 3, 4}}, &ax1, " axis 1"},
    {1, {1}, {{5}}, &ax0, " axis 0"},
    {1, {3}, {{2, 1, 3}}, &ax1, " axis 1 (size 1)"},
    {1, {3}, {{2, 0, 3}}, &ax2, " axis 2 (zero-size)"},
};

/* GRAPH: the graph-mode rule, `.vjp = f` or `.decompose = f` */
/* ----------------------------------------------------- graph-mode rules */

/* dy reshaped to x's rank with the reduced axes as 1, expanded to x's
 * shape: each element of x gets its output's adjoint */
static adj_var *spread(const adj_var *y, adj_var *gy)
{
    const adj_var *x = y->in[0];
    const uint32_t mask = ADJ_ATTR(y, reduce_attr)->mask;
    int64_t keep[ADJ_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        keep[d] = (mask >> d) & 1u ? 1 : adj_cold(x)->shape[d];
    adj_var *g = adj_reshape_at(gy, x->ndim, keep, NULL, 0);
    return adj_expand_at(g, x->ndim, adj_cold(x)->shape, NULL, 0);
}

/* sum: dx = spread(dy); mean: / N, N the elements reduced into each */
static bool sum_axes_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    gin[0] = spread(y, gy);
    return adj_gok(y);
}

static bool mean_axes_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    const plan *p = ADJ_ATTR(y, reduce_attr)->plan;
    gin[0] = g_scale(spread(y, gy), 1.0 / (double)p->nr);
    return adj_gok(y);
}

/* max, min: dx = spread(dy) at each output's first extremum (the plan's
 * arg, a constant 0/1 mask of x's shape), 0 elsewhere */
static bool extremum_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    const adj_var *x = y->in[0];
    const plan *p = ADJ_ATTR(y, reduce_attr)->plan;
    adj_tape *t = adj_node_tape(y);
    const size_t n = adj_cold(x)->numel, es = adj_dsize(x->dtype);
    void *m = adj_arena_zalloc(t, n * es + es);
    if (!m)
        return false;
    for (size_t o = 0; p->arg && o < adj_cold(y)->numel; o++)
        st(m, x->dtype, p->arg[o], 1.0);
    adj_var *mask = adj_leaf_at(t, (adj_dtype)x->dtype, x->ndim, adj_cold(x)->shape, m, 0, NULL, 0);
    gin[0] = g_mul(spread(y, gy), mask);
    return adj_gok(y);
}

#define REDUCE_DESC_G(nm, SHAPE, FWD, BWD, JVP, FORMULA, RULE, CASES, GRAPH)    \
    const adj_op_desc adj_desc_##nm = {                                        \
        .name = #nm, .arity = 1, .attr_size = sizeof(reduce_attr), .shape = SHAPE, \
        .forward = FWD, .backward = BWD, .jvp = JVP, .formula = FORMULA,       \
        .rule = RULE, ADJ_CASES(CASES), GRAPH,                                 \
    };
#define REDUCE_DESC(nm, SHAPE, FWD, BWD, JVP, FORMULA, RULE, CASES)             \
    REDUCE_DESC_G(nm, SHAPE, FWD, BWD, JVP, FORMULA, RULE, CASES, .vjp = NULL)

REDUCE_DESC_G(sum_axes, shape_plain, sum_axes_forward, sum_axes_backward, sum_axes_jvp,
            "y[o] = sum_r x[o,r]", "dx[o,r] += dy[o]", reduce_cases, .vjp = sum_axes_vjp)
REDUCE_DESC_G(mean_axes, shape_plain, mean_axes_forward, mean_axes_backward, mean_axes_jvp,
            "y[o] = (1/N) sum_r x[o,r]", "dx[o,r] += dy[o] / N", reduce_cases, .vjp = mean_axes_vjp)
REDUCE_DESC_G(max_axis, shape_extremum, max_forward, extremum_backward, extremum_jvp,
            "y[o] = max_r x[o,r]", "dx[o,r*] += dy[o], r* the first argmax", 
            reduce_cases, .vjp = extremum_vjp)
REDUCE_DESC_G(min_axis, shape_extremum, min_forward, extremum_backward, extremum_jvp,
            "y[o] = min_r x[o,r]", "dx[o,r*] += dy[o], r* the first argmin", 
            reduce_cases, .vjp = extremum_vjp)
REDUCE_DESC_G(logsumexp_axis, shape_plain, logsumexp_forward, logsumexp_backward,
              logsumexp_jvp, "y[o] = log sum_r exp(x[o,r])",
              "dx[o,r] += dy[o] exp(x[o,r] - y[o])", reduce_cases,
              .decompose = adj_decomp_logsumexp_axis)
REDUCE_DESC_G(var_axis, shape_plain, var_forward, var_backward, var_jvp,
              "y[o] = sum_r (x[o,r] - mean_o)^2 / (N - ddof)",
              "dx[o,r] += dy[o] 2 (x[o,r] - mean_o) / (N - ddof)", var_cases,
              .decompose = adj_decomp_var_axis)
REDUCE_DESC_G(softmax_axis, shape_along, softmax_axis_forward, softmax_axis_backward,
              softmax_axis_jvp, "y[o,r] = exp(x[o,r]) / sum_r' exp(x[o,r'])",
              "dx[o,r] += y[o,r] (dy[o,r] - sum_r' dy[o,r'] y[o,r'])", along_cases,
              .decompose = adj_decomp_softmax_axis)
REDUCE_DESC_G(log_softmax_axis, shape_along, log_softmax_axis_forward,
              log_softmax_axis_backward, log_softmax_axis_jvp, "y[o,r] = x[o,r] - log sum_r' exp(x[o,r'])",
              "dx[o,r] += dy[o,r] - exp(y[o,r]) sum_r' dy[o,r']", along_cases,
              .decompose = adj_decomp_log_softmax_axis)

/* ------------------------------------------------------------ public API */

/* The attributes of an _axes call: naxes 0 means every axis. */
static reduce_attr axes_attr(int naxes, const int *axes, int keepdims, int ddof, bool *ok)
{
    reduce_attr a = {.naxes = naxes == 0 ? -1 : naxes, .keepdims = keepdims != 0, .ddof = ddof};
    *ok = naxes >= 0 && naxes <= ADJ_MAX_DIMS && (naxes == 0 || axes);
    for (int k = 0; *ok && k < naxes; k++)
        a.axes[k] = axes[k];
    return a;
}

static adj_var *record_axes(adj_op op, const char *fname, adj_var *x, int naxes, const int *axes,
                            int keepdims, int ddof, const char *file, int line)
{
    bool ok;
    reduce_attr a = axes_attr(naxes, axes, keepdims, ddof, &ok);
    if (adj_h_stale_op(x, fname, file, line))
        return adj_h_out(adj_node_tape(adj_h_raw(x))->inert);
    if (!ok && x) {
        adj_tape *t = adj_node_tape(adj_h_raw(x));
        if (t->status == ADJ_OK)
            adj_tape_fail(t, ADJ_EINVAL, "adj_%s: %d axes%s (0 for every axis, at most %d)%s%s%s%.0d%s",
                          fname, naxes, naxes > 0 && !axes ? " but axes is NULL" : "", ADJ_MAX_DIMS,
                          file ? " [at " : "", file ? file : "", file ? ":" : "", file ? line : 0,
                          file ? "]" : "");
        return adj_h_out(t->inert);
    }
    return adj_record(op, &x, 1, &a, file, line);
}

static adj_var *record_axis(adj_op op, adj_var *x, int axis, const char *file, int line)
{
    return adj_record(op, &x, 1, &(reduce_attr){.axis = axis}, file, line);
}

adj_var *adj_sum_axes_at(adj_var *x, int naxes, const int *axes, int keepdims, const char *file,
                         int line)
{
    return record_axes(ADJ_OP_SUM_AXES, "sum_axes", x, naxes, axes, keepdims, 0, file, line);
}
adj_var *adj_mean_axes_at(adj_var *x, int naxes, const int *axes, int keepdims, const char *file,
                          int line)
{
    return record_axes(ADJ_OP_MEAN_AXES, "mean_axes", x, naxes, axes, keepdims, 0, file, line);
}
adj_var *adj_max_axes_at(adj_var *x, int naxes, const int *axes, int keepdims, const char *file,
                         int line)
{
    return record_axes(ADJ_OP_MAX_AXIS, "max_axes", x, naxes, axes, keepdims, 0, file, line);
}
adj_var *adj_min_axes_at(adj_var *x, int naxes, const int *axes, int keepdims, const char *file,
                         int line)
{
    return record_axes(ADJ_OP_MIN_AXIS, "min_axes", x, naxes, axes, keepdims, 0, file, line);
}
adj_var *adj_logsumexp_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                               const char *file, int line)
{
    return record_axes(ADJ_OP_LOGSUMEXP_AXIS, "logsumexp_axes", x, naxes, axes, keepdims, 0, file,
                       line);
}
adj_var *adj_var_axes_at(adj_var *x, int naxes, const int *axes, int keepdims, int ddof,
                         const char *file, int line)
{
    return record_axes(ADJ_OP_VAR_AXIS, "var_axes", x, naxes, axes, keepdims, ddof, file, line);
}

adj_var *adj_max_axis_at(adj_var *x, int axis, const char *file, int line)
{
    return record_axis(ADJ_OP_MAX_AXIS, x, axis, file, line);
}
adj_var *adj_min_axis_at(adj_var *x, int axis, const char *file, int line)
{
    return record_axis(ADJ_OP_MIN_AXIS, x, axis, file, line);
}
adj_var *adj_logsumexp_axis_at(adj_var *x, int axis, const char *file, int line)
{
    return record_axis(ADJ_OP_LOGSUMEXP_AXIS, x, axis, file, line);
}
adj_var *adj_var_axis_at(adj_var *x, int axis, const char *file, int line)
{
    return record_axis(ADJ_OP_VAR_AXIS, x, axis, file, line);
}
adj_var *adj_softmax_axis_at(adj_var *x, int axis, const char *file, int line)
{
    return record_axis(ADJ_OP_SOFTMAX_AXIS, x, axis, file, line);
}
adj_var *adj_log_softmax_axis_at(adj_var *x, int axis, const char *file, int line)
{
    return record_axis(ADJ_OP_LOG_SOFTMAX_AXIS, x, axis, file, line);
}

#define AXES_FN(nm)                                                            \
    adj_var *(adj_##nm##_axes)(adj_var *x, int naxes, const int *axes, int keepdims) \
    {                                                                          \
        return adj_##nm##_axes_at(x, naxes, axes, keepdims, NULL, 0);          \
    }
AXES_FN(sum)
AXES_FN(mean)
AXES_FN(max)
AXES_FN(min)
AXES_FN(logsumexp)
adj_var *(adj_var_axes)(adj_var *x, int naxes, const int *axes, int keepdims, int ddof)
{
    return adj_var_axes_at(x, naxes, axes, keepdims, ddof, NULL, 0);
}
adj_var *(adj_max_axis)(adj_var *x, int axis) { return adj_max_axis_at(x, axis, NULL, 0); }
adj_var *(adj_min_axis)(adj_var *x, int axis) { return adj_min_axis_at(x, axis, NULL, 0); }
adj_var *(adj_logsumexp_axis)(adj_var *x, int axis) { return adj_logsumexp_axis_at(x, axis, NULL, 0); }
adj_var *(adj_var_axis)(adj_var *x, int axis) { return adj_var_axis_at(x, axis, NULL, 0); }
adj_var *(adj_softmax_axis)(adj_var *x, int axis) { return adj_softmax_axis_at(x, axis, NULL, 0); }
adj_var *(adj_log_softmax_axis)(adj_var *x, int axis)
{
    return adj_log_softmax_axis_at(x, axis, NULL, 0);
}

/* ------------------------------------------- for the graph-mode rules */

uint32_t adj_reduce_axes_of(const adj_var *y, int *keepdims, int *ddof)
{
    const reduce_attr *a = ADJ_ATTR(y, reduce_attr);
    *keepdims = a->keepdims;
    *ddof = a->ddof;
    return a->mask;
}
