/*
 * Internal: the op descriptor.  One descriptor per op, defined in the file
 * of its family next to its kernels, listed in one table (ops/table.c)
 * indexed by adj_op.  Adding an op: see docs/design.md.
 */
#ifndef ADJ_OPS_OP_H
#define ADJ_OPS_OP_H

#include "core/tape.h"

/* How the op-table gradient check builds inputs for an op. */
typedef enum adj_op_sig {
    ADJ_SIG_NONE = 0,   /* not checked (leaves) */
    ADJ_SIG_UNARY,      /* one tensor of any shape */
    ADJ_SIG_BINARY,     /* two tensors, same shape or broadcast */
    ADJ_SIG_MATMUL,     /* (m,k) x (k,n), with transpose flags */
    ADJ_SIG_MATRIX,     /* one 2-D tensor */
    ADJ_SIG_LINEAR,     /* X (m,in), W (out,in), b (out) */
    ADJ_SIG_RESHAPE,    /* one tensor and a new shape */
    ADJ_SIG_AXIS,       /* one tensor and an axis */
    ADJ_SIG_LABELS,     /* logits (rows, classes) and labels */
    ADJ_SIG_PAIR,       /* two tensors of the same shape (losses) */
} adj_op_sig;

/* Where random test inputs may come from (kinks and poles excluded). */
typedef enum adj_domain {
    ADJ_DOM_ANY = 0,    /* [-2, 2] */
    ADJ_DOM_AWAY0,      /* [-2, -0.2] U [0.2, 2] */
    ADJ_DOM_POS,        /* [0.5, 2] */
    ADJ_DOM_UNIT,       /* [0.05, 0.95]: probabilities */
} adj_domain;

typedef struct adj_op_desc {
    const char *name;       /* "tanh" */
    int arity;              /* var inputs */
    /* Output shape from y->in[] and args: set y->ndim and y->shape, or
     * return an error status with a reason in why[why_size]. */
    adj_status (*shape)(adj_var *y, const adj_args *args, char *why, size_t why_size);
    /* Compute y->value from the inputs (y->value is allocated). */
    void (*forward)(adj_var *y);
    /* Accumulate into the adjoint of every input with ADJ_F_GRAD, given
     * y->grad.  adj_grad_buf(in) returns the (zeroed on first use) buffer. */
    void (*backward)(adj_var *y);
    /* Forward mode: write y's tangent ty (numel elements of dtype) from the
     * tangents tx[k] of the inputs (non-NULL for every present input; zeros
     * where an input does not depend on the seeded nodes).  NULL for leaves. */
    void (*jvp)(const adj_var *y, const void *const *tx, void *ty);
    /* Scalar fast path for f64 0-D operands, generated from the same
     * expressions as the kernels (b unused by unary ops, c by binary
     * ones); NULL where the op has none.  Keeps one scalar node in tens
     * of nanoseconds. */
    double (*scalar_fwd)(double a, double b, double c);
    void (*scalar_bwd)(double a, double b, double y, double dy, double c, double *da, double *db);
    const char *formula;    /* "y = tanh(x)" */
    const char *rule;       /* "dx += dy (1 - y^2)" */
    adj_op_sig sig;
    adj_domain dom[3];      /* per input, for the op-table check */
    double test_arg;        /* the constant the check uses (c, p, slope...);
                               nonzero exactly for the ops that take one */
} adj_op_desc;

extern const adj_op_desc *const adj_op_table[ADJ_OP_COUNT];

/* Descriptors, one per op, defined in the family files. */
#define ADJ_DECLARE_OP(n) extern const adj_op_desc adj_desc_##n
ADJ_DECLARE_OP(leaf);
ADJ_DECLARE_OP(add); ADJ_DECLARE_OP(sub); ADJ_DECLARE_OP(mul); ADJ_DECLARE_OP(div);
ADJ_DECLARE_OP(neg); ADJ_DECLARE_OP(scale);
ADJ_DECLARE_OP(exp); ADJ_DECLARE_OP(log); ADJ_DECLARE_OP(sqrt); ADJ_DECLARE_OP(square);
ADJ_DECLARE_OP(pow); ADJ_DECLARE_OP(abs); ADJ_DECLARE_OP(sin); ADJ_DECLARE_OP(cos);
ADJ_DECLARE_OP(sigmoid); ADJ_DECLARE_OP(tanh); ADJ_DECLARE_OP(relu);
ADJ_DECLARE_OP(leaky_relu); ADJ_DECLARE_OP(elu); ADJ_DECLARE_OP(softplus);
ADJ_DECLARE_OP(matmul); ADJ_DECLARE_OP(linear); ADJ_DECLARE_OP(transpose);
ADJ_DECLARE_OP(reshape);
ADJ_DECLARE_OP(sum); ADJ_DECLARE_OP(mean); ADJ_DECLARE_OP(sum_axis); ADJ_DECLARE_OP(mean_axis);
ADJ_DECLARE_OP(softmax); ADJ_DECLARE_OP(log_softmax);
ADJ_DECLARE_OP(softmax_ce); ADJ_DECLARE_OP(mse); ADJ_DECLARE_OP(bce_logits);
ADJ_DECLARE_OP(gelu); ADJ_DECLARE_OP(gelu_tanh); ADJ_DECLARE_OP(silu); ADJ_DECLARE_OP(swish);

/* Shape rule shared by every elementwise unary op: y has x's shape. */
adj_status adj_shape_same(adj_var *y, const adj_args *args, char *why, size_t why_size);

/* Recompute one row (axis 0) or one column (axis 1) of the value of a
 * matmul or linear node, viewed as (rows, cols), from its inputs' values:
 * a dot product per element.  Bit for bit the forward's result where the
 * forward takes its plain loop; equal to rounding where it calls BLIS. */
void adj_linalg_forward_line(adj_var *y, int axis, size_t idx);

/* Plain functions behind the public macros, defined once per op. */
#define ADJ_FN1(nm) \
    adj_var *(adj_##nm)(adj_var *x) { return adj_##nm##_at(x, NULL, 0); }
#define ADJ_FN1D(nm) \
    adj_var *(adj_##nm)(adj_var *x, double c) { return adj_##nm##_at(x, c, NULL, 0); }
#define ADJ_FN2(nm) \
    adj_var *(adj_##nm)(adj_var *a, adj_var *b) { return adj_##nm##_at(a, b, NULL, 0); }

#endif
