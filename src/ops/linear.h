/*
 * Internal: the hooks of linear (ops/linalg.c), Z = X W^T + b, which
 * linear_add (ops/linear_add.c) runs on its first three inputs.  Each
 * reads only y->in[0..2] and y's value or adjoint.
 */
#ifndef ADJ_OPS_LINEAR_H
#define ADJ_OPS_LINEAR_H

#include "ops/op.h"

adj_status adj_linear_shape(adj_var *y, char *why, size_t n);
void adj_linear_forward(adj_var *y);
void adj_linear_backward(adj_var *y);
void adj_linear_jvp(const adj_var *y, const void *const *tx, void *ty);
bool adj_linear_vjp(adj_var *y, adj_var *gy, adj_var **gin);

#endif
