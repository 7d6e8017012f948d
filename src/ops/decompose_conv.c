/*
 * Graph-mode rules of convolution and pooling (see ops/decompose.h): the
 * op's value recorded again with pads, strided slices, stacks and matrix
 * products, which graph mode differentiates to any order.
 *
 * A convolution is im2col written with views: the padded input sliced
 * once per kernel offset (p, q) with the stride, the slices stacked into
 * columns (N, C, kh kw, Ho, Wo), and one product per group with the
 * weight viewed as (O/groups, C/groups kh kw).  The transposed
 * convolution is the other way round: the product gives a (Cout/groups,
 * kh, kw) block per input pixel, each offset's plane is spread out by the
 * stride (zeros in between), padded to its place and summed (col2im),
 * then cropped by the padding.  Pools stack the window's offsets and
 * reduce them (max, sum); the adaptive pool averages its windows of rows,
 * then of columns.  Memory is kh kw times the input, so these are for
 * differentiating twice, not for speed.
 */
#include "ops/decompose.h"

#include <adjoint/ops.h>
#include <math.h>
#include <stdlib.h>

#define AT NULL, 0

/* out of memory for a list of n vars: an error on x's tape */
static adj_var *oom(adj_var *x, int64_t n)
{
    adj_tape *t = adj_var_tape(x);
    adj_tape_fail(t, ADJ_ENOMEM, "adj_backward_ex: out of memory for a list of %lld vars",
                  (long long)n);
    return t->inert;
}

/* x sliced along axis from start, n elements, every step */
static adj_var *take(adj_var *x, int axis, int64_t start, int64_t n, int64_t step)
{
    return adj_slice_at(x, axis, start, start + (n ? (n - 1) * step + 1 : 0), step, AT);
}

/* x (4-D) padded along axes 2 and 3 by (b0, a0) and (b1, a1) */
static adj_var *pad_hw(adj_var *x, int64_t b0, int64_t a0, int64_t b1, int64_t a1,
                       double value)
{
    if (!b0 && !a0 && !b1 && !a1)
        return x;
    int64_t pads[2 * ADJ_MAX_DIMS] = {0};
    pads[4] = b0;
    pads[5] = a0;
    pads[6] = b1;
    pads[7] = a1;
    return adj_pad_at(x, pads, value, AT);
}

/* y (N, O, Ho, Wo) from x (N, C, H, W) and w (O, C/groups, kh, kw) */
static adj_var *conv2d_comp(adj_var *x, adj_var *w, adj_var *b, const adj_conv_params *g, int64_t ho,
                            int64_t wo)
{
    const int64_t n = adj_dim(x, 0), c = adj_dim(x, 1), o = adj_dim(w, 0);
    const int64_t kh = adj_dim(w, 2), kw = adj_dim(w, 3), kk = kh * kw;
    const int64_t cg = c / g->groups, og = o / g->groups;
    adj_var *xp = pad_hw(x, g->pad[0], g->pad[0], g->pad[1], g->pad[1], 0.0);
    adj_var *cols[64], **colv = cols;
    if (kk > 64 && !(colv = malloc((size_t)kk * sizeof *colv)))
        return oom(x, kk);
    for (int64_t p = 0; p < kh; p++)
        for (int64_t q = 0; q < kw; q++) {
            adj_var *r = take(xp, 2, p * g->dil[0], ho, g->stride[0]);
            colv[p * kw + q] = take(r, 3, q * g->dil[1], wo, g->stride[1]);
        }
    adj_var *st = adj_stack_at((int)kk, colv, 2, AT); /* (N, C, kk, Ho, Wo) */
    if (colv != cols)
        free(colv);
    adj_var *outs[ADJ_MAX_DIMS * 8], **outv = outs;
    if (g->groups > (int)(sizeof outs / sizeof *outs) &&
        !(outv = malloc((size_t)g->groups * sizeof *outv)))
        return oom(x, g->groups);
    for (int32_t gi = 0; gi < g->groups; gi++) {
        adj_var *cgp = adj_slice_at(st, 1, gi * cg, (gi + 1) * cg, 1, AT);
        adj_var *m = adj_reshape_at(adj_permute_at(cgp, (int[]){1, 2, 0, 3, 4}, AT), 2,
                                    (int64_t[]){cg * kk, n * ho * wo}, AT);
        adj_var *wg = adj_reshape_at(adj_slice_at(w, 0, gi * og, (gi + 1) * og, 1, AT), 2,
                                     (int64_t[]){og, cg * kk}, AT);
        adj_var *yg = adj_reshape_at(adj_matmul_at(wg, m, 0, 0, AT), 4,
                                     (int64_t[]){og, n, ho, wo}, AT);
        outv[gi] = adj_permute_at(yg, (int[]){1, 0, 2, 3}, AT);
    }
    adj_var *y = g->groups == 1 ? outv[0] : adj_concat_at(g->groups, outv, 1, AT);
    if (outv != outs)
        free(outv);
    if (b)
        y = adj_add_at(y, adj_reshape_at(b, 3, (int64_t[]){o, 1, 1}, AT), AT);
    return y;
}

adj_var *adj_decomp_conv2d(adj_var *y)
{
    adj_conv_params g = adj_conv_params_of(y);
    const int64_t *s = adj_cold(y)->shape;
    return conv2d_comp(adj_input(y, 0), adj_input(y, 1), adj_input(y, 2), &g, s[2], s[3]);
}

/* as conv2d with one row: (N, C, 1, L) and (O, C/groups, 1, k) */
adj_var *adj_decomp_conv1d(adj_var *y)
{
    adj_conv_params g = adj_conv_params_of(y);
    adj_var *x = adj_unsqueeze_at(adj_input(y, 0), 2, AT);
    adj_var *w = adj_unsqueeze_at(adj_input(y, 1), 2, AT);
    adj_var *r = conv2d_comp(x, w, adj_input(y, 2), &g, 1, adj_cold(y)->shape[2]);
    return adj_squeeze_at(r, 2, AT);
}

/* x (..., n, ...) at axis with step - 1 zeros after each element, the
 * trailing ones dropped: (n - 1) step + 1 along the axis */
static adj_var *spread(adj_var *x, int axis, int64_t step)
{
    if (step == 1)
        return x;
    int nd = adj_ndim(x);
    int64_t pads[2 * ADJ_MAX_DIMS] = {0}, shape[ADJ_MAX_DIMS];
    adj_var *u = adj_unsqueeze_at(x, axis + 1, AT);
    pads[2 * (axis + 1) + 1] = step - 1;
    u = adj_pad_at(u, pads, 0.0, AT);
    for (int k = 0; k < nd; k++)
        shape[k] = adj_dim(x, k) * (k == axis ? step : 1);
    u = adj_reshape_at(u, nd, shape, AT);
    int64_t n = adj_dim(x, axis);
    return adj_slice_at(u, axis, 0, n ? (n - 1) * step + 1 : 0, 1, AT);
}

/* y[n, g Coutg + c, i s0 - p0 + p d0, j s1 - p1 + q d1] += w[ci, c, p, q] x[n, ci, i, j] */
adj_var *adj_decomp_conv_transpose2d(adj_var *y)
{
    adj_var *x = adj_input(y, 0), *w = adj_input(y, 1), *b = adj_input(y, 2);
    adj_conv_params g = adj_conv_params_of(y);
    const int64_t n = adj_dim(x, 0), cin = adj_dim(x, 1), h = adj_dim(x, 2), wd = adj_dim(x, 3);
    const int64_t cog = adj_dim(w, 1), kh = adj_dim(w, 2), kw = adj_dim(w, 3);
    const int64_t cig = cin / g.groups, ho = adj_cold(y)->shape[2], wo = adj_cold(y)->shape[3];
    const int64_t hu = h ? (h - 1) * g.stride[0] + 1 : 0, wu = wd ? (wd - 1) * g.stride[1] + 1 : 0;
    const int64_t hf = hu + g.dil[0] * (kh - 1) + g.outpad[0];
    const int64_t wf = wu + g.dil[1] * (kw - 1) + g.outpad[1];
    adj_var *outs[ADJ_MAX_DIMS * 8], **outv = outs;
    if (g.groups > (int)(sizeof outs / sizeof *outs) &&
        !(outv = malloc((size_t)g.groups * sizeof *outv)))
        return oom(x, g.groups);
    for (int32_t gi = 0; gi < g.groups; gi++) {
        adj_var *xg = adj_slice_at(x, 1, gi * cig, (gi + 1) * cig, 1, AT);
        xg = adj_reshape_at(adj_permute_at(xg, (int[]){1, 0, 2, 3}, AT), 2,
                            (int64_t[]){cig, n * h * wd}, AT);
        adj_var *wg = adj_reshape_at(adj_slice_at(w, 0, gi * cig, (gi + 1) * cig, 1, AT), 2,
                                     (int64_t[]){cig, cog * kh * kw}, AT);
        adj_var *cols = adj_reshape_at(adj_matmul_at(wg, xg, 1, 0, AT), 6,
                                       (int64_t[]){cog, kh, kw, n, h, wd}, AT);
        cols = spread(spread(cols, 4, g.stride[0]), 5, g.stride[1]);
        adj_var *sum = NULL;
        for (int64_t p = 0; p < kh; p++)
            for (int64_t q = 0; q < kw; q++) {
                adj_var *piece = adj_select_at(adj_select_at(cols, 1, p, AT), 1, q, AT);
                int64_t r0 = p * g.dil[0], c0 = q * g.dil[1];
                piece = pad_hw(piece, r0, hf - hu - r0, c0, wf - wu - c0, 0.0);
                sum = sum ? adj_add_at(sum, piece, AT) : piece;
            }
        sum = take(take(sum, 2, g.pad[0], ho, 1), 3, g.pad[1], wo, 1);
        outv[gi] = adj_permute_at(sum, (int[]){1, 0, 2, 3}, AT);
    }
    adj_var *r = g.groups == 1 ? outv[0] : adj_concat_at(g.groups, outv, 1, AT);
    if (outv != outs)
        free(outv);
    if (b)
        r = adj_add_at(r, adj_reshape_at(b, 3, (int64_t[]){cog * g.groups, 1, 1}, AT), AT);
    return r;
}

/* ---------------------------------------------------------------- pools */

/* the window offsets of a fixed-window pool stacked on a new last axis */
static adj_var *windows(adj_var *y, double fill)
{
    adj_var *x = adj_input(y, 0);
    int32_t k[2], s[2], p[2];
    adj_pool_geometry(y, k, s, p);
    const int64_t ho = adj_cold(y)->shape[2], wo = adj_cold(y)->shape[3], kk = (int64_t)k[0] * k[1];
    adj_var *xp = pad_hw(x, p[0], p[0], p[1], p[1], fill);
    adj_var *pieces[64], **pv = pieces;
    if (kk > 64 && !(pv = malloc((size_t)kk * sizeof *pv)))
        return oom(x, kk);
    for (int64_t i = 0; i < k[0]; i++)
        for (int64_t j = 0; j < k[1]; j++)
            pv[i * k[1] + j] = take(take(xp, 2, i, ho, s[0]), 3, j, wo, s[1]);
    adj_var *st = adj_stack_at((int)kk, pv, 4, AT);
    if (pv != pieces)
        free(pv);
    return st;
}

/* the first maximum in row-major window order, as the op's */
adj_var *adj_decomp_max_pool2d(adj_var *y)
{
    return adj_max_axes_at(windows(y, -INFINITY), 1, (int[]){4}, 0, AT);
}

/* padding counts as zeros in the divisor */
adj_var *adj_decomp_avg_pool2d(adj_var *y)
{
    int32_t k[2], s[2], p[2];
    adj_pool_geometry(y, k, s, p);
    adj_var *sum = adj_sum_axes_at(windows(y, 0.0), 1, (int[]){4}, 0, AT);
    return adj_scale_at(sum, 1.0 / ((double)k[0] * k[1]), AT);
}

/* the windows [floor(i n / out), ceil((i + 1) n / out)) along axis, each
 * averaged and kept as size 1, joined */
static adj_var *adapt_axis(adj_var *x, int axis, int32_t out)
{
    const int64_t n = adj_dim(x, axis);
    adj_var *parts[256], **pv = parts;
    if (out > 256 && !(pv = malloc((size_t)out * sizeof *pv)))
        return oom(x, out);
    for (int64_t i = 0; i < out; i++) {
        int64_t lo = i * n / out, hi = ((i + 1) * n + out - 1) / out;
        pv[i] = adj_mean_axes_at(adj_slice_at(x, axis, lo, hi, 1, AT), 1, (int[]){axis}, 1, AT);
    }
    adj_var *r = adj_concat_at(out, pv, axis, AT);
    if (pv != parts)
        free(pv);
    return r;
}

adj_var *adj_decomp_adaptive_avg_pool2d(adj_var *y)
{
    int32_t k[2], s[2], p[2];
    adj_pool_geometry(y, k, s, p);
    return adapt_axis(adapt_axis(adj_input(y, 0), 2, k[0]), 3, k[1]);
}
