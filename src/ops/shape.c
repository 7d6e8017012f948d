/*
 * Shape ops: transpose (2-D, a view) and reshape (a view where the
 * strides allow it, a copy otherwise).
 */
#include "ops/cases.h"
#include "ops/graph.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "tensor/strided.h"

#include <string.h>

/* ------------------------------------------------------------- transpose */

static adj_status transpose_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    if (x->ndim != 2) {
        snprintf(why, n, "transpose needs a 2-D matrix");
        return ADJ_ESHAPE;
    }
    y->ndim = 2;
    adj_cold(y)->shape[0] = adj_cold(x)->shape[1];
    adj_cold(y)->shape[1] = adj_cold(x)->shape[0];
    return ADJ_OK;
}

/* y as a layout of x's storage: the swapped strides (a view in O(1)) */
static bool transpose_view(const adj_var *y, adj_layout *out)
{
    adj_layout xl;
    adj_var_layout(y->in[0], &xl);
    return adj_layout_transpose(&xl, 0, 1, out);
}

/* y's elements in x's row-major adjoint: x's contiguous layout with the
 * strides swapped */
static bool transpose_grad_view(const adj_var *y, adj_layout *out)
{
    adj_layout xl;
    adj_layout_contig(&xl, 2, adj_cold(y->in[0])->shape);
    return adj_layout_transpose(&xl, 0, 1, out);
}

/* y[j][i] = x[i][j] into y's own value (a transpose of one element, and
 * its replay) */
static void transpose_forward(adj_var *y)
{
    adj_layout xl, tl, yl;
    adj_var_layout(y->in[0], &xl);
    adj_layout_transpose(&xl, 0, 1, &tl);
    adj_layout_contig(&yl, 2, adj_cold(y)->shape);
    adj_strided_copy(adj_dsize(y->dtype), y->value, &yl, y->in[0]->value, &tl);
}

/* dx[i][j] += dy[j][i] */
static void transpose_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    void *gx = adj_grad_buf(x);
    if (!gx)
        return;
    adj_layout xl, tl, yl;
    adj_layout_contig(&xl, 2, adj_cold(x)->shape);
    adj_layout_transpose(&xl, 0, 1, &tl);
    adj_layout_contig(&yl, 2, adj_cold(y)->shape);
    adj_strided_acc(y->dtype, gx, &tl, y->grad, &yl, 1.0);
}

/* tangent: dY = dX^T */
static void transpose_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    adj_layout xl, tl, yl;
    adj_layout_contig(&xl, 2, adj_cold(y->in[0])->shape);
    adj_layout_transpose(&xl, 0, 1, &tl);
    adj_layout_contig(&yl, 2, adj_cold(y)->shape);
    adj_strided_copy(adj_dsize(y->dtype), ty, &yl, tx[0], &tl);
}

static const char *const transpose_symbols[] = {"X", "Y"};
static const adj_op_teach transpose_teach = {.define = "$0ᵀ", .symbols = transpose_symbols};

/* Replay: x (rows, cols) -> y (cols, rows); one element, one row and one
 * column of x become one element, one column and one row of y */
static bool transpose_replay(adj_var *y, const adj_region *const *changed, adj_region *out)
{
    const adj_var *x = y->in[0];
    size_t rows = (size_t)adj_cold(x)->shape[0], cols = (size_t)adj_cold(x)->shape[1], e = 0;
    adj_region r = *changed[0];
    if (r.count == 1 && r.len == 1)
        *out = adj_reg_elem((r.off % cols) * rows + r.off / cols);
    else if (r.count == 1 && r.len == cols && r.off % cols == 0)
        *out = adj_reg_col(r.off / cols, cols, rows);
    else if (adj_reg_single_col(r, cols, &e) && r.count == rows)
        *out = adj_reg_row(e, rows);
    else
        return false;
    if (y->flags & ADJ_F_VIEW)
        return true; /* y reads x's storage: nothing to recompute */
    if (!adj_var_is_contig(x))
        return false;
    const double *xs = x->value;
    double *ys = y->value;
    for (size_t q = 0; q < out->count; q++)
        for (size_t l = 0; l < out->len; l++) {
            size_t ye = out->off + q * out->stride + l; /* (ye / rows, ye % rows) */
            ys[ye] = xs[(ye % rows) * cols + ye / rows];
        }
    return true;
}

static const adj_op_case matrix_cases[] = {
    {1, {2}, {{1, 1}}, NULL, NULL},
    {1, {2}, {{2, 3}}, NULL, NULL},
    {1, {2}, {{4, 1}}, NULL, NULL},
};

/* graph mode: dX = dY^T */
static bool transpose_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    gin[0] = adj_transpose_at(gy, NULL, 0);
    return adj_gok(y);
}

const adj_op_desc adj_desc_transpose = {
    .name = "transpose", .arity = 1, .shape = transpose_shape,
    .forward = transpose_forward, .backward = transpose_backward, .jvp = transpose_jvp,
    .formula = "Y = X^T", .rule = "dX += dY^T", ADJ_CASES(matrix_cases),
    .teach = &transpose_teach, .replay = transpose_replay, .view = transpose_view,
    .grad_view = transpose_grad_view,
    .vjp = transpose_vjp,
    .props = ADJ_PROP_STRIDES | ADJ_PROP_ANY_DTYPE,
};

adj_var *adj_transpose_at(adj_var *x, const char *file, int line)
{
    return adj_record(ADJ_OP_TRANSPOSE, &x, 1, NULL, file, line);
}
ADJ_FN1(transpose)

/* --------------------------------------------------------------- reshape */

/* attr.ndim of a call with a NULL shape array for 1..4 dimensions */
#define NULL_SHAPE INT32_MIN

static adj_status reshape_shape(adj_var *y, char *why, size_t n)
{
    const adj_attr_reshape *args = ADJ_ATTR(y, adj_attr_reshape);
    const adj_var *x = y->in[0];
    int infer = -1;
    size_t known = 1;
    if (args->ndim == NULL_SHAPE) {
        snprintf(why, n, "the new shape is NULL");
        return ADJ_EINVAL;
    }
    if (args->ndim < 0 || args->ndim > ADJ_MAX_DIMS) {
        snprintf(why, n, "the new shape must have 0..%d dimensions, not %d", ADJ_MAX_DIMS, args->ndim);
        return ADJ_EINVAL;
    }
    for (int i = 0; i < args->ndim; i++) {
        int64_t d = args->shape[i];
        if (d == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (d < 0 || (d > 0 && known > SIZE_MAX / 16 / (size_t)d)) {
            snprintf(why, n, "invalid size %lld in the new shape", (long long)d);
            return ADJ_EINVAL;
        }
        known *= (size_t)d;
    }
    y->ndim = (uint8_t)args->ndim;
    if (args->ndim > 0) /* a 0-D target may come with a NULL shape */
        memcpy(adj_cold(y)->shape, args->shape, (size_t)args->ndim * sizeof(int64_t));
    if (infer >= 0) {
        if (known == 0 || adj_cold(x)->numel % known) {
            snprintf(why, n, "cannot infer the -1 dimension from %zu elements", adj_cold(x)->numel);
            return ADJ_ESHAPE;
        }
        adj_cold(y)->shape[infer] = (int64_t)(adj_cold(x)->numel / known);
        known = adj_cold(x)->numel;
    }
    if (known != adj_cold(x)->numel) {
        char sh[96];
        adj_fmt_shape(sh, sizeof sh, args->ndim, args->shape);
        snprintf(why, n, "new shape %s holds %zu elements, the input %zu", sh, known, adj_cold(x)->numel);
        return ADJ_ESHAPE;
    }
    return ADJ_OK;
}

/* y as a layout of x's storage, where x's strides allow it (always for a
 * contiguous x) */
static bool reshape_view(const adj_var *y, adj_layout *out)
{
    adj_layout xl;
    adj_var_layout(y->in[0], &xl);
    return adj_layout_reshape(&xl, y->ndim, adj_cold(y)->shape, out);
}

/* y = x's elements in row-major order, copied into y's own value (where
 * the strides do not allow a view, a reshape of one element, the replay) */
static void reshape_forward(adj_var *y)
{
    adj_var_copy_out(y->in[0], y->value);
}

/* dx += dy, element by element; a copy when dx is not there yet, or dy
 * itself when the sweep releases it (adj_grad_pass) */
static void reshape_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    if (adj_grad_passable(y, x)) {
        adj_grad_pass(y, x);
        return;
    }
    bool fresh;
    void *gx = adj_grad_buf_fresh(x, &fresh);
    if (!gx)
        return;
    if (fresh)
        memcpy(gx, y->grad, adj_cold(y)->numel * adj_dsize(y->dtype));
    else if (y->dtype == ADJ_F64) {
        double *d = gx;
        const double *s = y->grad;
        for (size_t i = 0; i < adj_cold(y)->numel; i++)
            d[i] += s[i];
    } else {
        float *d = gx;
        const float *s = y->grad;
        for (size_t i = 0; i < adj_cold(y)->numel; i++)
            d[i] += s[i];
    }
}

/* tangent: dy = reshape(dx) */
static void reshape_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    memcpy(ty, tx[0], adj_cold(y)->numel * adj_dsize(y->dtype));
}

/* Teaching: "reshape(x, (2,3))" */
static void reshape_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                           char *buf, size_t size)
{
    char sh[64];
    (void)opnd;
    adj_fmt_shape(sh, sizeof sh, y->ndim, adj_cold(y)->shape);
    snprintf(buf, size, "reshape(%s, %s)", ref[0], sh);
}
static const adj_op_teach reshape_teach = {.define_fn = reshape_define};

/* Replay: y's elements are x's in the same order: the same region */
static bool reshape_replay(adj_var *y, const adj_region *const *changed, adj_region *out)
{
    size_t es = adj_dsize(y->dtype);
    *out = *changed[0];
    if (y->flags & ADJ_F_VIEW)
        return true; /* y reads x's storage: nothing to recompute */
    if (!adj_var_is_contig(y->in[0]))
        return false;
    for (size_t q = 0; q < out->count; q++) {
        size_t lo = (out->off + q * out->stride) * es;
        memcpy((char *)y->value + lo, (const char *)y->in[0]->value + lo, out->len * es);
    }
    return true;
}

static const adj_attr_reshape rs_32 = {2, {3, 2}}, rs_2m1 = {2, {2, -1}}, rs_11 = {2, {1, 1}},
                              rs_12 = {1, {12}};
static const adj_op_case reshape_cases[] = {
    {1, {2}, {{2, 3}}, &rs_32, " -> (3,2)"},
    {1, {1}, {{6}}, &rs_2m1, " -> (2,-1)"},
    {1, {0}, {{0}}, &rs_11, " -> (1,1)"},
    {1, {3}, {{2, 3, 2}}, &rs_12, " -> (12)"},
};

/* graph mode: dx = dy reshaped to x's shape */
static bool reshape_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    const adj_var *x = y->in[0];
    gin[0] = adj_reshape_at(gy, x->ndim, adj_cold(x)->shape, NULL, 0);
    return adj_gok(y);
}

const adj_op_desc adj_desc_reshape = {
    .name = "reshape", .arity = 1, .attr_size = sizeof(adj_attr_reshape), .shape = reshape_shape,
    .forward = reshape_forward, .backward = reshape_backward, .jvp = reshape_jvp,
    .formula = "y = reshape(x)", .rule = "dx += reshape(dy)", ADJ_CASES(reshape_cases),
    .teach = &reshape_teach, .replay = reshape_replay, .view = reshape_view,
    .vjp = reshape_vjp,
    .props = ADJ_PROP_STRIDES | ADJ_PROP_ANY_DTYPE,
};

adj_var *adj_reshape_at(adj_var *x, int ndim, const int64_t *shape, const char *file, int line)
{
    adj_attr_reshape attr = {.ndim = ndim}; /* a bad count is kept for the shape rule to report */
    if (ndim > 0 && ndim <= ADJ_MAX_DIMS && !shape)
        attr.ndim = NULL_SHAPE;
    else if (ndim == NULL_SHAPE)
        attr.ndim = -1;
    else if (ndim > 0 && ndim <= ADJ_MAX_DIMS)
        memcpy(attr.shape, shape, (size_t)ndim * sizeof *shape);
    return adj_record(ADJ_OP_RESHAPE, &x, 1, &attr, file, line);
}
adj_var *(adj_reshape)(adj_var *x, int ndim, const int64_t *shape)
{
    return adj_reshape_at(x, ndim, shape, NULL, 0);
}
