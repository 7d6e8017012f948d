/*
 * The op table: one descriptor per op, indexed by adj_op.  The static
 * assertion below fails to compile when the enum and the table disagree in
 * length; tests/test_ops.c checks every slot is filled and named.
 */
#include "ops/op.h"

#include <string.h>

static adj_status leaf_shape(adj_var *y, const adj_args *args, char *why, size_t n)
{
    (void)y;
    (void)args;
    snprintf(why, n, "a leaf is created with adj_tensor_*, never recorded as an op");
    return ADJ_EINVAL;
}

static void leaf_nothing(adj_var *y) { (void)y; }

const adj_op_desc adj_desc_leaf = {
    .name = "leaf", .arity = 0, .shape = leaf_shape, .forward = leaf_nothing,
    .backward = leaf_nothing, .formula = "x (input)", .rule = "(end of the chain)",
    .sig = ADJ_SIG_NONE,
};

adj_status adj_shape_same(adj_var *y, const adj_args *args, char *why, size_t n)
{
    (void)args;
    (void)why;
    (void)n;
    y->ndim = y->in[0]->ndim;
    memcpy(adj_cold(y)->shape, adj_cold(y->in[0])->shape, sizeof adj_cold(y)->shape);
    return ADJ_OK;
}

const adj_op_desc *const adj_op_table[] = {
    [ADJ_OP_LEAF] = &adj_desc_leaf,
    [ADJ_OP_ADD] = &adj_desc_add,
    [ADJ_OP_SUB] = &adj_desc_sub,
    [ADJ_OP_MUL] = &adj_desc_mul,
    [ADJ_OP_DIV] = &adj_desc_div,
    [ADJ_OP_NEG] = &adj_desc_neg,
    [ADJ_OP_SCALE] = &adj_desc_scale,
    [ADJ_OP_EXP] = &adj_desc_exp,
    [ADJ_OP_LOG] = &adj_desc_log,
    [ADJ_OP_SQRT] = &adj_desc_sqrt,
    [ADJ_OP_SQUARE] = &adj_desc_square,
    [ADJ_OP_POW] = &adj_desc_pow,
    [ADJ_OP_ABS] = &adj_desc_abs,
    [ADJ_OP_SIN] = &adj_desc_sin,
    [ADJ_OP_COS] = &adj_desc_cos,
    [ADJ_OP_SIGMOID] = &adj_desc_sigmoid,
    [ADJ_OP_TANH] = &adj_desc_tanh,
    [ADJ_OP_RELU] = &adj_desc_relu,
    [ADJ_OP_LEAKY_RELU] = &adj_desc_leaky_relu,
    [ADJ_OP_ELU] = &adj_desc_elu,
    [ADJ_OP_SOFTPLUS] = &adj_desc_softplus,
    [ADJ_OP_MATMUL] = &adj_desc_matmul,
    [ADJ_OP_LINEAR] = &adj_desc_linear,
    [ADJ_OP_TRANSPOSE] = &adj_desc_transpose,
    [ADJ_OP_RESHAPE] = &adj_desc_reshape,
    [ADJ_OP_SUM] = &adj_desc_sum,
    [ADJ_OP_MEAN] = &adj_desc_mean,
    [ADJ_OP_SUM_AXIS] = &adj_desc_sum_axis,
    [ADJ_OP_MEAN_AXIS] = &adj_desc_mean_axis,
    [ADJ_OP_SOFTMAX] = &adj_desc_softmax,
    [ADJ_OP_LOG_SOFTMAX] = &adj_desc_log_softmax,
    [ADJ_OP_SOFTMAX_CE] = &adj_desc_softmax_ce,
    [ADJ_OP_MSE] = &adj_desc_mse,
    [ADJ_OP_BCE_LOGITS] = &adj_desc_bce_logits,
    [ADJ_OP_GELU] = &adj_desc_gelu,
    [ADJ_OP_GELU_TANH] = &adj_desc_gelu_tanh,
    [ADJ_OP_SILU] = &adj_desc_silu,
    [ADJ_OP_SWISH] = &adj_desc_swish,
};

_Static_assert(sizeof adj_op_table / sizeof adj_op_table[0] == ADJ_OP_COUNT,
               "adj_op_table must have one entry per adj_op");

static const adj_op_desc *desc(adj_op op)
{
    return (unsigned)op < ADJ_OP_COUNT ? adj_op_table[op] : NULL;
}

const char *adj_op_name(adj_op op) { return desc(op) ? desc(op)->name : "?"; }
int adj_op_arity(adj_op op) { return desc(op) ? desc(op)->arity : -1; }
const char *adj_op_formula(adj_op op) { return desc(op) ? desc(op)->formula : "?"; }
const char *adj_op_rule(adj_op op) { return desc(op) ? desc(op)->rule : "?"; }
