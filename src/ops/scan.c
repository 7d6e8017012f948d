/*
 * Scans and index-valued reductions along axes: cumsum, pad (constant
 * padding), argmax and argmin (index tensors).
 *
 * cumsum views x as (outer, n, inner) around its axis and runs one sum
 * down each of the outer x inner lines, in double whatever the dtype.
 * pad writes the fill value, then copies x into the interior of y, a
 * strided layout of y (tensor/strided.h); its backward gathers dy's
 * interior back.  argmax/argmin give an ADJ_I32 tensor and no gradient.
 */
#include "core/record.h"
#include "ops/graph.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "tensor/strided.h"

#include <math.h>
#include <string.h>

/* ----------------------------------------------------------------- cumsum */

typedef struct cumsum_attr {
    int32_t axis;           /* normalised to 0..ndim-1 by the shape rule */
} cumsum_attr;

static adj_status cumsum_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    cumsum_attr *a = ADJ_ATTR(y, cumsum_attr);
    int ax = adj_axis_norm(a->axis, x->ndim);
    if (ax < 0) {
        char sh[64];
        adj_fmt_shape(sh, sizeof sh, x->ndim, adj_cold(x)->shape);
        snprintf(why, n, "axis %d is out of range for shape %s%s", a->axis, sh,
                 x->ndim ? "" : " (a 0-D input has no axis)");
        return ADJ_EINVAL;
    }
    a->axis = ax;
    return adj_shape_same(y, why, n);
}

/* outer x n x inner around the axis */
static void lines(const adj_var *y, int axis, size_t *outer, size_t *n, size_t *inner)
{
    const int64_t *s = adj_cold(y)->shape;
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++)
        *outer *= (size_t)s[d];
    for (int d = axis + 1; d < y->ndim; d++)
        *inner *= (size_t)s[d];
    *n = (size_t)s[axis];
}

/* out[k] = (or +=) sum_{j <= k} in[j] along each line, forward or (rev)
 * backward: sum_{j >= k}; kept in double */
#define SCAN_(T, IN, OUT, outer, n, inner, rev, acc)                           \
    for (size_t o_ = 0; o_ < (outer); o_++)                                    \
        for (size_t i_ = 0; i_ < (inner); i_++) {                              \
            double s_ = 0;                                                     \
            for (size_t k_ = 0; k_ < (n); k_++) {                              \
                size_t j_ = (rev) ? (n) - 1 - k_ : k_;                         \
                size_t e_ = (o_ * (n) + j_) * (inner) + i_;                    \
                s_ += (double)(IN)[e_];                                        \
                if (acc)                                                       \
                    (OUT)[e_] = (T)((double)(OUT)[e_] + s_);                   \
                else                                                           \
                    (OUT)[e_] = (T)s_;                                         \
            }                                                                  \
        }

static void scan(const adj_var *y, const void *in, void *out, bool rev, bool acc)
{
    size_t outer, n, inner;
    lines(y, ADJ_ATTR(y, cumsum_attr)->axis, &outer, &n, &inner);
    if (y->dtype == ADJ_F64)
        SCAN_(double, (const double *)in, (double *)out, outer, n, inner, rev, acc)
    else
        SCAN_(float, (const float *)in, (float *)out, outer, n, inner, rev, acc)
}

/* y[k] = sum_{j <= k} x[j] along the axis */
static void cumsum_forward(adj_var *y) { scan(y, y->in[0]->value, y->value, false, false); }

/* dx[j] += sum_{k >= j} dy[k]: the reversed cumulative sum */
static void cumsum_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    if (!(x->flags & ADJ_F_GRAD))
        return;
    void *g = adj_grad_buf(x);
    if (g)
        scan(y, y->grad, g, true, true);
}

static void cumsum_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    scan(y, tx[0], ty, false, false);
}

static const cumsum_attr cs0 = {0}, cs1 = {1}, csm1 = {-1};
static const adj_op_case cumsum_cases[] = {
    {1, {1}, {{7}}, &cs0, " axis 0"},
    {1, {2}, {{3, 4}}, &cs0, " axis 0"},
    {1, {2}, {{3, 4}}, &csm1, " axis -1"},
    {1, {3}, {{2, 3, 4}}, &cs1, " axis 1"},
    {1, {3}, {{2, 1, 3}}, &cs1, " axis 1 (size 1)"},
    {1, {3}, {{2, 0, 3}}, &csm1, " axis -1 (zero-size)"},
    {1, {2}, {{3, 0}}, &cs1, " axis 1 (empty)"},
};

/* graph mode: dx = reverse(cumsum(reverse(dy))) along the axis */
static bool cumsum_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    if (y->ndim == 0) {
        gin[0] = gy;
        return adj_gok(y);
    }
    const int axis = ADJ_ATTR(y, cumsum_attr)->axis;
    adj_var *r = adj_slice_at(gy, axis, -1, INT64_MIN, -1, NULL, 0);
    adj_var *c = adj_cumsum_at(r, axis, NULL, 0);
    gin[0] = adj_slice_at(c, axis, -1, INT64_MIN, -1, NULL, 0);
    return adj_gok(y);
}

const adj_op_desc adj_desc_cumsum = {
    .name = "cumsum", .arity = 1, .attr_size = sizeof(cumsum_attr), .shape = cumsum_shape,
    .forward = cumsum_forward, .backward = cumsum_backward, .jvp = cumsum_jvp,
    .formula = "y[k] = sum_{j <= k} x[j] along the axis",
    .rule = "dx[j] += sum_{k >= j} dy[k] (reversed cumulative sum)", ADJ_CASES(cumsum_cases),
    .vjp = cumsum_vjp,
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
};

adj_var *adj_cumsum_at(adj_var *x, int axis, const char *file, int line)
{
    return adj_record(ADJ_OP_CUMSUM, &x, 1, &(cumsum_attr){axis}, file, line);
}
adj_var *(adj_cumsum)(adj_var *x, int axis) { return adj_cumsum_at(x, axis, NULL, 0); }

/* -------------------------------------------------------------------- pad */

typedef struct pad_attr {
    int32_t ndim;                       /* entries given: 2 ndim */
    int64_t pads[2 * ADJ_MAX_DIMS];     /* before, after of axis 0, then axis 1, ... */
    double value;
} pad_attr;

static adj_status pad_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    const pad_attr *a = ADJ_ATTR(y, pad_attr);
    for (int d = 0; d < x->ndim; d++)
        for (int s = 0; s < 2; s++) {
            int64_t p = a->pads[2 * d + s], size = adj_cold(x)->shape[d];
            if (p < 0) {
                snprintf(why, n, "pads[%d] = %lld is negative (padding %s axis %d)", 2 * d + s,
                         (long long)p, s ? "after" : "before", d);
                return ADJ_EINVAL;
            }
            if (p > INT64_MAX / 4 - size) {
                snprintf(why, n, "pads[%d] = %lld is too large", 2 * d + s, (long long)p);
                return ADJ_EINVAL;
            }
        }
    y->ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++)
        adj_cold(y)->shape[d] = adj_cold(x)->shape[d] + a->pads[2 * d] + a->pads[2 * d + 1];
    return ADJ_OK;
}

/* The layout of y's interior, where x's elements go. */
static void interior(const adj_var *y, adj_layout *l)
{
    const pad_attr *a = ADJ_ATTR(y, pad_attr);
    const adj_var *x = y->in[0];
    int64_t st[ADJ_MAX_DIMS];
    adj_contig_strides(y->ndim, adj_cold(y)->shape, st);
    adj_layout_contig(l, x->ndim, adj_cold(x)->shape);
    l->offset = 0;
    for (int d = 0; d < x->ndim; d++) {
        l->stride[d] = st[d];
        l->offset += a->pads[2 * d] * st[d];
    }
}

static void fill(void *p, int dtype, size_t m, double v)
{
    if (dtype == ADJ_F64)
        for (size_t i = 0; i < m; i++)
            ((double *)p)[i] = v;
    else
        for (size_t i = 0; i < m; i++)
            ((float *)p)[i] = (float)v;
}

/* y = value, then y's interior = x */
static void pad_forward(adj_var *y)
{
    adj_layout in, xl;
    fill(y->value, y->dtype, adj_cold(y)->numel, ADJ_ATTR(y, pad_attr)->value);
    interior(y, &in);
    adj_var_layout(y->in[0], &xl);
    if (adj_cold(y->in[0])->numel)
        adj_strided_copy(adj_dsize(y->dtype), y->value, &in, y->in[0]->value, &xl);
}

/* dx += dy's interior; the padding takes no gradient */
static void pad_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    if (!(x->flags & ADJ_F_GRAD) || !adj_cold(x)->numel)
        return;
    void *g = adj_grad_buf(x);
    if (!g)
        return;
    adj_layout in, xl;
    interior(y, &in);
    adj_layout_contig(&xl, x->ndim, adj_cold(x)->shape);
    adj_strided_acc(y->dtype, g, &xl, y->grad, &in, 1.0);
}

/* tangent: 0 in the padding, dx inside */
static void pad_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_var *x = y->in[0];
    adj_layout in, xl;
    fill(ty, y->dtype, adj_cold(y)->numel, 0.0);
    interior(y, &in);
    adj_layout_contig(&xl, x->ndim, adj_cold(x)->shape);
    if (adj_cold(x)->numel)
        adj_strided_copy(adj_dsize(y->dtype), ty, &in, tx[0], &xl);
}

static const pad_attr pad1 = {1, {1, 2}, 0.0}, pad2 = {2, {0, 1, 2, 0}, -1.5},
                      pad3 = {3, {1, 0, 0, 0, 1, 1}, 0.5}, pad0 = {0, {0}, 3.0},
                      padz = {2, {1, 1, 0, 2}, 0.0}, padn = {2, {0, 0, 0, 0}, 0.0};
static const adj_op_case pad_cases[] = {
    {1, {1}, {{4}}, &pad1, " (1,2)"},
    {1, {2}, {{3, 2}}, &pad2, " (0,1),(2,0) value -1.5"},
    {1, {3}, {{2, 1, 3}}, &pad3, " (1,0),(0,0),(1,1)"},
    {1, {0}, {{0}}, &pad0, " 0-D"},
    {1, {2}, {{0, 3}}, &padz, " zero-size input"},
    {1, {2}, {{2, 3}}, &padn, " no padding"},
};

/* graph mode: dx = dy's interior, one slice per axis */
static bool pad_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    const adj_var *x = y->in[0];
    const pad_attr *a = ADJ_ATTR(y, pad_attr);
    adj_var *g = gy;
    for (int d = 0; d < x->ndim; d++) {
        const int64_t lo = a->pads[2 * d], size = adj_cold(x)->shape[d];
        if (lo != 0 || a->pads[2 * d + 1] != 0)
            g = adj_slice_at(g, d, lo, lo + size, 1, NULL, 0);
    }
    gin[0] = g;
    return adj_gok(y);
}

const adj_op_desc adj_desc_pad = {
    .name = "pad", .arity = 1, .attr_size = sizeof(pad_attr), .shape = pad_shape,
    .forward = pad_forward, .backward = pad_backward, .jvp = pad_jvp,
    .formula = "y = value, y[before_k + i_k] = x[i]",
    .rule = "dx[i] += dy[before_k + i_k]", ADJ_CASES(pad_cases),
    .vjp = pad_vjp,
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
};

adj_var *adj_pad_at(adj_var *x, const int64_t *pads, double value, const char *file, int line)
{
    pad_attr a = {.value = value};
    x = adj_h_in_at(x, "adj_pad", file, line);
    if (x && !pads) {
        adj_tape *t = adj_node_tape(x);
        if (t->status == ADJ_OK)
            adj_tape_fail(t, ADJ_EINVAL,
                          "adj_pad: pads is NULL (give 2 ndim sizes: before and after axis 0, "
                          "then axis 1, ...)" AT_FMT,
                          AT_ARGS(file, line));
        return adj_h_out(t->inert);
    }
    if (x && pads && !(x->flags & ADJ_F_INERT)) {
        a.ndim = x->ndim;
        memcpy(a.pads, pads, (size_t)(2 * x->ndim) * sizeof *pads);
    }
    return adj_record(ADJ_OP_PAD, &x, 1, &a, file, line);
}
adj_var *(adj_pad)(adj_var *x, const int64_t *pads, double value)
{
    return adj_pad_at(x, pads, value, NULL, 0);
}

/* --------------------------------------------------------- argmax, argmin */

typedef struct arg_attr {
    int32_t naxes;          /* 0: the one axis; -1: every axis; else axes[0..naxes) */
    int32_t axis;
    int32_t keepdims;
    int32_t axes[ADJ_MAX_DIMS];
    uint32_t mask;          /* set by the shape rule: bit d when axis d is reduced */
} arg_attr;

static adj_status arg_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    arg_attr *a = ADJ_ATTR(y, arg_attr);
    char sh[64];
    adj_fmt_shape(sh, sizeof sh, x->ndim, adj_cold(x)->shape);
    a->mask = 0;
    if (a->naxes < 0)
        a->mask = (1u << x->ndim) - 1u;
    for (int k = 0; k < (a->naxes ? a->naxes : 1) && a->naxes >= 0; k++) {
        int given = a->naxes ? a->axes[k] : a->axis, ax = adj_axis_norm(given, x->ndim);
        if (ax < 0) {
            snprintf(why, n, "axis %d is out of range for shape %s", given, sh);
            return ADJ_EINVAL;
        }
        if (a->mask & (1u << ax)) {
            snprintf(why, n, "axis %d is given twice for shape %s", given, sh);
            return ADJ_EINVAL;
        }
        a->mask |= 1u << ax;
    }
    int j = 0;
    for (int d = 0; d < x->ndim; d++) {
        bool red = a->mask & (1u << d);
        if (red && adj_cold(x)->shape[d] == 0) {
            snprintf(why, n, "axis %d of shape %s is empty: no extremum", d, sh);
            return ADJ_ESHAPE;
        }
        if (!red)
            adj_cold(y)->shape[j++] = adj_cold(x)->shape[d];
        else if (a->keepdims)
            adj_cold(y)->shape[j++] = 1;
    }
    y->ndim = (uint8_t)j;
    y->dtype = ADJ_I32; /* an index tensor: no gradient */
    y->flags &= (uint8_t)~ADJ_F_GRAD;
    return ADJ_OK;
}

/*
 * y[o] = the position of the first extremum of x over the reduced axes,
 * counted in row-major order over them (along one axis: the index along
 * it); a NaN counts as the extremum, as in NumPy.
 */
static void arg_forward(adj_var *y, bool max)
{
    const adj_var *x = y->in[0];
    const uint32_t mask = ADJ_ATTR(y, arg_attr)->mask;
    int64_t st[ADJ_MAX_DIMS], ks[ADJ_MAX_DIMS], kst[ADJ_MAX_DIMS], rs[ADJ_MAX_DIMS],
        rst[ADJ_MAX_DIMS];
    int nk = 0, nr = 0;
    adj_contig_strides(x->ndim, adj_cold(x)->shape, st);
    size_t nred = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (mask & (1u << d)) {
            rs[nr] = adj_cold(x)->shape[d];
            rst[nr++] = st[d];
            nred *= (size_t)adj_cold(x)->shape[d];
        } else {
            ks[nk] = adj_cold(x)->shape[d];
            kst[nk++] = st[d];
        }
    }
    int32_t *out = y->value;
    for (size_t o = 0; o < adj_cold(y)->numel; o++) {
        int64_t base = 0;
        size_t q = o;
        for (int d = nk - 1; d >= 0; d--) {
            base += (int64_t)(q % (size_t)ks[d]) * kst[d];
            q /= (size_t)ks[d];
        }
        double best = 0;
        size_t at = 0;
        for (size_t r = 0; r < nred; r++) {
            int64_t off = base;
            size_t u = r;
            for (int d = nr - 1; d >= 0; d--) {
                off += (int64_t)(u % (size_t)rs[d]) * rst[d];
                u /= (size_t)rs[d];
            }
            double v = adj_elem_get(x->value, x->dtype, (size_t)off);
            if (r == 0 || (max ? v > best : v < best) || (isnan(v) && !isnan(best))) {
                best = v;
                at = r;
            }
            if (isnan(best))
                break;
        }
        out[o] = (int32_t)at;
    }
}

static void argmax_forward(adj_var *y) { arg_forward(y, true); }
static void argmin_forward(adj_var *y) { arg_forward(y, false); }

/* an index tensor carries no gradient */
static void arg_backward(adj_var *y) { (void)y; }

/* and no tangent */
static void arg_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    (void)tx;
    memset(ty, 0, adj_cold(y)->numel * sizeof(int32_t));
}

static const arg_attr ar0 = {.axis = 0}, ar1 = {.axis = 1}, arm1 = {.axis = -1},
                      arall = {.naxes = -1}, arkeep = {.naxes = 1, .axes = {1}, .keepdims = 1},
                      ar02 = {.naxes = 2, .axes = {0, 2}, .keepdims = 1};
static const adj_op_case arg_cases[] = {
    {1, {1}, {{7}}, &ar0, " axis 0"},
    {1, {2}, {{3, 4}}, &ar1, " axis 1"},
    {1, {2}, {{3, 4}}, &arm1, " axis -1"},
    {1, {3}, {{2, 3, 4}}, &arkeep, " axis 1 keepdims"},
    {1, {3}, {{2, 3, 4}}, &ar02, " axes (0,2) keepdims"},
    {1, {2}, {{2, 3}}, &arall, " every axis"},
    {1, {3}, {{2, 1, 3}}, &ar1, " axis 1 (size 1)"},
    {1, {3}, {{2, 0, 3}}, &ar0, " axis 0 (zero-size output)"},
};

const adj_op_desc adj_desc_argmax_axis = {
    .name = "argmax_axis", .arity = 1, .attr_size = sizeof(arg_attr), .shape = arg_shape,
    .forward = argmax_forward, .backward = arg_backward, .jvp = arg_jvp,
    .formula = "y[o] = the first r with x[o,r] = max_r x[o,r] (i32)",
    .rule = "(no gradient: y is an index tensor)", ADJ_CASES(arg_cases),
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
};
const adj_op_desc adj_desc_argmin_axis = {
    .name = "argmin_axis", .arity = 1, .attr_size = sizeof(arg_attr), .shape = arg_shape,
    .forward = argmin_forward, .backward = arg_backward, .jvp = arg_jvp,
    .formula = "y[o] = the first r with x[o,r] = min_r x[o,r] (i32)",
    .rule = "(no gradient: y is an index tensor)", ADJ_CASES(arg_cases),
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
};

static adj_var *record_arg(adj_op op, const char *fname, adj_var *x, int naxes, const int *axes,
                           int keepdims, const char *file, int line)
{
    arg_attr a = {.naxes = naxes == 0 ? -1 : naxes, .keepdims = keepdims != 0};
    if (adj_h_stale_op(x, fname, file, line))
        return adj_h_out(adj_node_tape(adj_h_raw(x))->inert);
    if (x && (naxes < 0 || naxes > ADJ_MAX_DIMS || (naxes > 0 && !axes))) {
        adj_tape *t = adj_node_tape(adj_h_raw(x));
        if (t->status == ADJ_OK)
            adj_tape_fail(t, ADJ_EINVAL,
                          "adj_%s: %d axes%s (0 for every axis, at most %d)" AT_FMT, fname, naxes,
                          naxes > 0 && !axes ? " but axes is NULL" : "", ADJ_MAX_DIMS,
                          AT_ARGS(file, line));
        return adj_h_out(t->inert);
    }
    for (int k = 0; k < naxes; k++)
        a.axes[k] = axes[k];
    return adj_record(op, &x, 1, &a, file, line);
}

adj_var *adj_argmax_axis_at(adj_var *x, int axis, const char *file, int line)
{
    return adj_record(ADJ_OP_ARGMAX_AXIS, &x, 1, &(arg_attr){.axis = axis}, file, line);
}
adj_var *adj_argmin_axis_at(adj_var *x, int axis, const char *file, int line)
{
    return adj_record(ADJ_OP_ARGMIN_AXIS, &x, 1, &(arg_attr){.axis = axis}, file, line);
}
adj_var *adj_argmax_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                            const char *file, int line)
{
    return record_arg(ADJ_OP_ARGMAX_AXIS, "argmax_axes", x, naxes, axes, keepdims, file, line);
}
adj_var *adj_argmin_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                            const char *file, int line)
{
    return record_arg(ADJ_OP_ARGMIN_AXIS, "argmin_axes", x, naxes, axes, keepdims, file, line);
}
adj_var *(adj_argmax_axis)(adj_var *x, int axis) { return adj_argmax_axis_at(x, axis, NULL, 0); }
adj_var *(adj_argmin_axis)(adj_var *x, int axis) { return adj_argmin_axis_at(x, axis, NULL, 0); }
adj_var *(adj_argmax_axes)(adj_var *x, int naxes, const int *axes, int keepdims)
{
    return adj_argmax_axes_at(x, naxes, axes, keepdims, NULL, 0);
}
adj_var *(adj_argmin_axes)(adj_var *x, int naxes, const int *axes, int keepdims)
{
    return adj_argmin_axes_at(x, naxes, axes, keepdims, NULL, 0);
}
