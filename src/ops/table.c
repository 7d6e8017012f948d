/*
 * The op table: one descriptor per op, indexed by adj_op, generated from
 * the op list like the enum, so every slot is filled (an op without a
 * descriptor does not link); tests/test_ops.c checks every slot is named.
 */
#include "ops/op.h"

#include <string.h>

static adj_status leaf_shape(adj_var *y, char *why, size_t n)
{
    (void)y;
    snprintf(why, n, "a leaf is created with adj_tensor_*, never recorded as an op");
    return ADJ_EINVAL;
}

static void leaf_nothing(adj_var *y) { (void)y; }

_Static_assert(ADJ_OP_LEAF == ADJ_LEAF_OP, "core records leaves with op ADJ_LEAF_OP");

const adj_op_desc adj_desc_leaf = {
    .name = "leaf", .arity = 0, .shape = leaf_shape, .forward = leaf_nothing,
    .backward = leaf_nothing, .formula = "x (input)", .rule = "(end of the chain)",
};

adj_status adj_shape_same(adj_var *y, char *why, size_t n)
{
    (void)why;
    (void)n;
    adj_shape_from(y, y->in[0]);
    return ADJ_OK;
}

/* The built-in descriptors, then (from ADJ_OP_COUNT on) the ops a program
 * registers (ops/custom.c), up to ADJ_OP_MAX in all. */
const adj_op_desc *adj_op_table[ADJ_OP_MAX] = {
#define ADJ_TABLE_ROW_(E, n) [ADJ_OP_##E] = &adj_desc_##n,
    ADJ_OP_LIST(ADJ_TABLE_ROW_)
#undef ADJ_TABLE_ROW_
};

_Static_assert(ADJ_OP_COUNT < ADJ_OP_MAX, "node op ids are 8 bits");

static const adj_op_desc *desc(adj_op op)
{
    return (unsigned)op < (unsigned)adj_ops_in_table() ? adj_op_table[op] : NULL;
}

const char *adj_op_name(adj_op op) { return desc(op) ? desc(op)->name : "?"; }
int adj_op_arity(adj_op op) { return desc(op) ? desc(op)->arity : -1; }
const char *adj_op_formula(adj_op op) { return desc(op) ? desc(op)->formula : "?"; }
const char *adj_op_rule(adj_op op) { return desc(op) ? desc(op)->rule : "?"; }
