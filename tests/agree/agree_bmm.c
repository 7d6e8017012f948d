/*
 * Agreement cases of the batched product (adj_matmul on operands that are
 * not both 2-D): one builder per op name that agree_bmm.py sends (see
 * agree.h).
 */
#include "agree.h"

#include <adjoint/ops.h>

static adj_var *matmul(agree_ctx *c) { return adj_matmul(agree_var(c, "a"), agree_var(c, "b")); }

/* b given as bt, its last two axes swapped in storage: a strided view */
static adj_var *matmul_bt(agree_ctx *c)
{
    return adj_matmul(agree_var(c, "a"), adj_transpose_axes(agree_var(c, "bt"), -1, -2));
}

const agree_entry agree_bmm_ops[] = {
    {"matmul", matmul},
    {"matmul_bt", matmul_bt},
    {NULL, NULL},
};
