/*
 * linear_add: Z = X W^T + b + R, a dense layer whose output is added to
 * a residual R of Z's shape in the same node (a transformer block's
 * h + c_proj(y)).  Against adj_add(R, adj_linear(X, W, b)) it stores one
 * value instead of two, and its adjoint is Z's: no copy for the product.
 *
 * The forward is linear's (rows set to b, the product added by gemm),
 * then R added element by element, R[i] + Z[i]: the bits of the add of
 * the two separate nodes.  The backward is linear's for X, W and b, then
 * dR += dZ; in a sweep that releases adjoints R takes dZ's buffer over
 * where it has no adjoint yet (adj_grad_pass), as add's first operand.
 */
#include "core/pool.h"
#include "ops/graph.h"
#include "ops/linear.h"
#include "ops/op.h"
#include "ops/strided_op.h"

#include <string.h>

static adj_status linear_add_shape(adj_var *y, char *why, size_t n)
{
    adj_status s = adj_linear_shape(y, why, n);
    if (s != ADJ_OK)
        return s;
    const adj_var *r = adj_input(y, 3);
    if (!adj_same_shape(r, y)) {
        char rs[64], ys[64];
        adj_fmt_shape(rs, sizeof rs, r->ndim, adj_cold(r)->shape);
        adj_fmt_shape(ys, sizeof ys, y->ndim, adj_cold(y)->shape);
        snprintf(why, n, "the residual %s is not the layer's output shape %s", rs, ys);
        return ADJ_ESHAPE;
    }
    return ADJ_OK;
}

/* out[i] = a[i] + out[i] over [lo, hi) */
typedef struct add_job {
    int dtype;
    const void *a;
    void *out;
} add_job;

static void add_range(void *ctx, size_t lo, size_t hi)
{
    const add_job *j = ctx;
    if (j->dtype == ADJ_F64) {
        const double *a = j->a;
        double *o = j->out;
        for (size_t i = lo; i < hi; i++)
            o[i] = a[i] + o[i];
    } else {
        const float *a = j->a;
        float *o = j->out;
        for (size_t i = lo; i < hi; i++)
            o[i] = a[i] + o[i];
    }
}

static void add_into(int dtype, const void *a, void *out, size_t n)
{
    add_job j = {dtype, a, out};
    adj_par_for(n, ADJ_PAR_GRAIN_MAP, add_range, &j);
}

/* R's elements in row-major order: its own storage when contiguous, else
 * a copy in the arena (NULL after recording ADJ_ENOMEM) */
static const void *dense_r(const adj_var *r)
{
    if (adj_var_is_contig(r))
        return r->value;
    void *c = adj_arena_alloc(adj_node_tape(r), adj_cold(r)->numel * adj_dsize(r->dtype));
    if (c)
        adj_var_copy_out(r, c);
    return c;
}

static void linear_add_forward(adj_var *y)
{
    adj_linear_forward(y);
    const void *r = dense_r(adj_input(y, 3));
    if (r && adj_tape_status(adj_node_tape(y)) == ADJ_OK)
        add_into(y->dtype, r, y->value, adj_cold(y)->numel);
}

static void linear_add_backward(adj_var *y)
{
    adj_var *r = adj_input(y, 3);
    adj_linear_backward(y);
    if (!(r->flags & ADJ_F_GRAD) || adj_tape_status(adj_node_tape(y)) != ADJ_OK)
        return;
    if (adj_grad_passable(y, r)) { /* checked after X, W and b got theirs: r may be one of them */
        adj_grad_pass(y, r);
        return;
    }
    bool fresh;
    void *g = adj_grad_buf_fresh(r, &fresh);
    if (!g)
        return;
    const size_t n = adj_cold(y)->numel;
    if (fresh)
        memcpy(g, y->grad, n * adj_dsize(y->dtype));
    else
        add_into(y->dtype, y->grad, g, n);
}

/* tangent: dZ = dX W^T + X dW^T + 1 db^T + dR */
static void linear_add_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    adj_linear_jvp(y, tx, ty);
    add_into(y->dtype, tx[3], ty, adj_cold(y)->numel);
}

/* graph mode: linear's rule for X, W and b; dR = dZ */
static bool linear_add_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    if (!adj_linear_vjp(y, gy, gin))
        return false;
    if (adj_gwants(y, 3))
        gin[3] = gy;
    return adj_gok(y);
}

static const char *const linear_add_inputs[] = {"x", "w", "b", "r"};
static const adj_op_case linear_add_cases[] = {
    {4, {2, 2, 1, 2}, {{4, 3}, {2, 3}, {2}, {4, 2}}, NULL, NULL},
    {4, {2, 2, 1, 2}, {{1, 1}, {1, 1}, {1}, {1, 1}}, NULL, NULL},
    {4, {2, 2, 1, 2}, {{5, 7}, {3, 7}, {3}, {5, 3}}, NULL, NULL},
    {4, {1, 2, 1, 1}, {{3}, {2, 3}, {2}, {2}}, NULL, NULL},
};

/* Teaching: "x wᵀ + b + r", or "x wᵀ + r" without a bias */
static void linear_add_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                              char *buf, size_t size)
{
    (void)ref;
    if (y->in[2])
        snprintf(buf, size, "%s %sᵀ + %s + %s", opnd[0], opnd[1], opnd[2], opnd[3]);
    else
        snprintf(buf, size, "%s %sᵀ + %s", opnd[0], opnd[1], opnd[3]);
}
static const char *const linear_add_symbols[] = {"X", "W", "b", "R", "Z"};
static const adj_op_teach linear_add_teach = {.define_fn = linear_add_define,
                                              .symbols = linear_add_symbols};

const adj_op_desc adj_desc_linear_add = {
    .name = "linear_add", .arity = 4, .optional = 1u << 2, .inputs = linear_add_inputs,
    .shape = linear_add_shape,
    .forward = linear_add_forward, .backward = linear_add_backward, .jvp = linear_add_jvp,
    .formula = "Z = X W^T + b + R",
    .rule = "dX += dZ W; dW += dZ^T X; db += sum_rows dZ; dR += dZ",
    ADJ_CASES(linear_add_cases), .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
    .teach = &linear_add_teach, .props = ADJ_PROP_STRIDES, .vjp = linear_add_vjp,
};

adj_var *adj_linear_add_at(adj_var *x, adj_var *w, adj_var *b, adj_var *r, const char *file, int line)
{
    adj_var *in[4] = {x, w, b, r};
    return adj_record(ADJ_OP_LINEAR_ADD, in, 4, NULL, file, line);
}
adj_var *(adj_linear_add)(adj_var *x, adj_var *w, adj_var *b, adj_var *r)
{
    return adj_linear_add_at(x, w, b, r, NULL, 0);
}
