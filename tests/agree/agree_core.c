/*
 * Agreement cases of ops that existed before the fused families: they
 * show the harness at work on ops with an obvious PyTorch twin.
 */
#include "agree.h"

#include <adjoint/ops.h>

static adj_var *softmax_axis(agree_ctx *c)
{
    return adj_softmax_axis(agree_var(c, "x"), (int)agree_attr(c, "axis", -1));
}

static adj_var *log_softmax_axis(agree_ctx *c)
{
    return adj_log_softmax_axis(agree_var(c, "x"), (int)agree_attr(c, "axis", -1));
}

const agree_entry agree_core_ops[] = {
    {"softmax_axis", softmax_axis},
    {"log_softmax_axis", log_softmax_axis},
    {NULL, NULL},
};
