/*
 * Agreement cases of the joins, masks, scans and argmax: where,
 * masked_fill (and a causal -inf mask before softmax), clamp, cumsum,
 * pad, concat, stack, split, chunk, argmax/argmin.
 */
#include "agree.h"

#include <adjoint/ops.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static adj_var *where(agree_ctx *c)
{
    return adj_where(agree_const(c, "cond"), agree_var(c, "a"), agree_var(c, "b"));
}

static adj_var *masked_fill(agree_ctx *c)
{
    return adj_masked_fill(agree_var(c, "x"), agree_const(c, "mask"), agree_attr(c, "value", 0));
}

/* softmax over the last axis of x filled with -inf where mask is set */
static adj_var *masked_softmax(agree_ctx *c)
{
    return adj_softmax_axis(adj_masked_fill(agree_var(c, "x"), agree_const(c, "mask"), -INFINITY),
                            -1);
}

static adj_var *clamp(agree_ctx *c)
{
    return adj_clamp(agree_var(c, "x"), agree_attr(c, "lo", -INFINITY),
                     agree_attr(c, "hi", INFINITY));
}

static adj_var *cumsum(agree_ctx *c)
{
    return adj_cumsum(agree_var(c, "x"), (int)agree_attr(c, "axis", 0));
}

static adj_var *pad(agree_ctx *c)
{
    int64_t pads[16];
    char key[8];
    for (int k = 0; k < 16; k++) {
        snprintf(key, sizeof key, "p%d", k);
        pads[k] = (int64_t)agree_attr(c, key, 0);
    }
    return adj_pad(agree_var(c, "x"), pads, agree_attr(c, "value", 0));
}

/* inputs x0, x1, ... up to the attribute n */
static int inputs(agree_ctx *c, adj_var **xs)
{
    int n = (int)agree_attr(c, "n", 1);
    char name[8];
    for (int k = 0; k < n && k < 8; k++) {
        snprintf(name, sizeof name, "x%d", k);
        xs[k] = agree_var(c, name);
    }
    return n;
}

static adj_var *concat(agree_ctx *c)
{
    adj_var *xs[8];
    int n = inputs(c, xs);
    return adj_concat(n, xs, (int)agree_attr(c, "axis", 0));
}

static adj_var *stack(agree_ctx *c)
{
    adj_var *xs[8];
    int n = inputs(c, xs);
    return adj_stack(n, xs, (int)agree_attr(c, "axis", 0));
}

/* the pieces scaled by 1, 2, 3, ... and joined again along the axis */
static adj_var *rejoin(adj_var **pieces, int n, int axis)
{
    for (int k = 0; k < n; k++)
        pieces[k] = adj_scale(pieces[k], k + 1);
    return adj_concat(n, pieces, axis);
}

static adj_var *split(agree_ctx *c)
{
    int axis = (int)agree_attr(c, "axis", 0), n = (int)agree_attr(c, "n", 1);
    int64_t sizes[8];
    char key[8];
    for (int k = 0; k < n && k < 8; k++) {
        snprintf(key, sizeof key, "s%d", k);
        sizes[k] = (int64_t)agree_attr(c, key, 0);
    }
    adj_var *pieces[8];
    int got = adj_split(agree_var(c, "x"), axis, n, sizes, pieces);
    return got < 0 ? NULL : rejoin(pieces, got, axis);
}

static adj_var *chunk(agree_ctx *c)
{
    int axis = (int)agree_attr(c, "axis", 0), chunks = (int)agree_attr(c, "chunks", 1);
    adj_var *pieces[8];
    int got = adj_chunk(agree_var(c, "x"), chunks, axis, pieces);
    return got < 0 ? NULL : rejoin(pieces, got, axis);
}

/* the indices as the extra "idx", and x gathered at them (keepdims) */
static adj_var *arg(agree_ctx *c, bool max)
{
    adj_var *x = agree_var(c, "x");
    int axis = (int)agree_attr(c, "axis", 0);
    adj_var *i = max ? adj_argmax_axes(x, 1, &axis, 1) : adj_argmin_axes(x, 1, &axis, 1);
    size_t n = adj_numel(i);
    double *v = calloc(n ? n : 1, sizeof *v);
    if (!v || adj_copy_value(i, v) != ADJ_OK) {
        free(v);
        return NULL;
    }
    static double keep[256];
    for (size_t k = 0; k < n && k < 256; k++)
        keep[k] = v[k];
    free(v);
    agree_extra(c, "idx", keep, n < 256 ? n : 256);
    return adj_gather(x, axis, i);
}

static adj_var *argmax(agree_ctx *c) { return arg(c, true); }
static adj_var *argmin(agree_ctx *c) { return arg(c, false); }

const agree_entry agree_tensorops_ops[] = {
    {"where", where},   {"masked_fill", masked_fill}, {"masked_softmax", masked_softmax},
    {"clamp", clamp},   {"cumsum", cumsum},           {"pad", pad},
    {"concat", concat}, {"stack", stack},             {"split", split},
    {"chunk", chunk},   {"argmax", argmax},           {"argmin", argmin},
    {NULL, NULL},
};
