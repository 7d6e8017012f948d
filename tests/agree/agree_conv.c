/*
 * Agreement cases of the convolution and pooling ops: one builder per op
 * name that agree_conv.py sends (see agree.h).  Attributes: sh, sw
 * (stride), ph, pw (padding), dh, dw (dilation), oph, opw (output
 * padding), g (groups), kh, kw (pool kernel), oh, ow (adaptive output);
 * s, p, d for conv1d.
 */
#include "agree.h"

#include <adjoint/conv.h>

static int at(const agree_ctx *c, const char *key, int dflt) { return (int)agree_attr(c, key, dflt); }

static adj_var *conv2d(agree_ctx *c)
{
    adj_conv2d_opts o = {{at(c, "sh", 1), at(c, "sw", 1)}, {at(c, "ph", 0), at(c, "pw", 0)},
                         {at(c, "dh", 1), at(c, "dw", 1)}, at(c, "g", 1)};
    return adj_conv2d(agree_var(c, "x"), agree_var(c, "w"), agree_var(c, "b"), &o);
}

static adj_var *conv1d(agree_ctx *c)
{
    adj_conv1d_opts o = {at(c, "s", 1), at(c, "p", 0), at(c, "d", 1), at(c, "g", 1)};
    return adj_conv1d(agree_var(c, "x"), agree_var(c, "w"), agree_var(c, "b"), &o);
}

static adj_var *conv_transpose2d(agree_ctx *c)
{
    adj_conv_transpose2d_opts o = {{at(c, "sh", 1), at(c, "sw", 1)},
                                   {at(c, "ph", 0), at(c, "pw", 0)},
                                   {at(c, "oph", 0), at(c, "opw", 0)},
                                   {at(c, "dh", 1), at(c, "dw", 1)}, at(c, "g", 1)};
    return adj_conv_transpose2d(agree_var(c, "x"), agree_var(c, "w"), agree_var(c, "b"), &o);
}

static adj_pool2d_opts pool_opts(const agree_ctx *c)
{
    adj_pool2d_opts o = {{at(c, "kh", 2), at(c, "kw", 2)}, {at(c, "sh", 2), at(c, "sw", 2)},
                         {at(c, "ph", 0), at(c, "pw", 0)}};
    return o;
}

static adj_var *max_pool2d(agree_ctx *c)
{
    adj_pool2d_opts o = pool_opts(c);
    return adj_max_pool2d(agree_var(c, "x"), &o);
}

static adj_var *avg_pool2d(agree_ctx *c)
{
    adj_pool2d_opts o = pool_opts(c);
    return adj_avg_pool2d(agree_var(c, "x"), &o);
}

static adj_var *adaptive_avg_pool2d(agree_ctx *c)
{
    return adj_adaptive_avg_pool2d(agree_var(c, "x"), at(c, "oh", 1), at(c, "ow", 1));
}

const agree_entry agree_conv_ops[] = {
    {"conv2d", conv2d},
    {"conv1d", conv1d},
    {"conv_transpose2d", conv_transpose2d},
    {"max_pool2d", max_pool2d},
    {"avg_pool2d", avg_pool2d},
    {"adaptive_avg_pool2d", adaptive_avg_pool2d},
    {NULL, NULL},
};
