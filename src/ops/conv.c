/*
 * Convolutions: conv2d, conv1d (conv2d with one row) and conv_transpose2d,
 * NCHW.  The products are in conv_kernels.c (im2col + BLIS per sample and
 * group); this file holds the shape rules, the bias and the descriptors.
 *
 * conv2d is "down" from its input to its output, and its input adjoint is
 * "up"; conv_transpose2d is "up" from its input, and its input adjoint
 * "down".  Both take the weight as (small-side channels, big-side
 * channels / groups, kh, kw), so one geometry serves both.
 */
#include "core/pool.h"
#include "ops/conv_kernels.h"
#include "ops/decompose.h"
#include "ops/dispatch.h"
#include "ops/op.h"
#include "adjoint/conv.h"

#include <string.h>

typedef struct conv_attr {
    int32_t stride[2], pad[2], dil[2], outpad[2], groups;
} conv_attr;

enum { CONV2D, CONV1D, CONVT2D };

static int64_t dim(const adj_var *v, int k) { return adj_cold(v)->shape[k]; }

/* The one spatial size of a convolution: from the big side's size n, or
 * (transposed) to it from the small side's. */
static int64_t conv_out(int64_t n, int64_t k, int32_t s, int32_t p, int32_t d)
{
    return (n + 2 * (int64_t)p - (int64_t)d * (k - 1) - 1) / s + 1;
}
static int64_t convt_out(int64_t n, int64_t k, int32_t s, int32_t p, int32_t d, int32_t op)
{
    return (n - 1) * s - 2 * (int64_t)p + (int64_t)d * (k - 1) + op + 1;
}

static adj_status conv_shape_kind(adj_var *y, int kind, char *why, size_t n)
{
    const conv_attr *a = ADJ_ATTR(y, conv_attr);
    const adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    const int nd = kind == CONV1D ? 3 : 4, sp = nd - 2;
    for (int k = 2 - sp; k < 2; k++) {
        if (a->stride[k] < 1 || a->dil[k] < 1 || a->pad[k] < 0 || a->outpad[k] < 0) {
            snprintf(why, n, "stride %d and dilation %d must be >= 1, padding %d%s >= 0",
                     (int)a->stride[k], (int)a->dil[k], (int)a->pad[k],
                     kind == CONVT2D ? " and output_padding" : "");
            return ADJ_EINVAL;
        }
        if (kind == CONVT2D && a->outpad[k] >= (a->stride[k] > a->dil[k] ? a->stride[k] : a->dil[k])) {
            snprintf(why, n, "output_padding %d must be smaller than stride %d or dilation %d",
                     (int)a->outpad[k], (int)a->stride[k], (int)a->dil[k]);
            return ADJ_EINVAL;
        }
    }
    if (a->groups < 1) {
        snprintf(why, n, "groups %d must be >= 1", (int)a->groups);
        return ADJ_EINVAL;
    }
    if (x->ndim != nd || w->ndim != nd) {
        snprintf(why, n, "x and w must be %d-D (%s)", nd,
                 kind == CONV1D ? "N,C,L and O,C/groups,k" : "N,C,H,W and the weight's 4 dims");
        return ADJ_ESHAPE;
    }
    const int64_t g = a->groups, c = dim(x, 1);
    int64_t cout, wc0, wc1; /* output channels, w's first two dims wanted */
    if (kind == CONVT2D) {
        cout = dim(w, 1) * g;
        wc0 = c;
        wc1 = dim(w, 1);
    } else {
        cout = dim(w, 0);
        wc0 = cout;
        wc1 = c / g;
    }
    if (c % g != 0 || (kind != CONVT2D && cout % g != 0)) {
        snprintf(why, n, "channels (in %lld, out %lld) not divisible by groups %lld",
                 (long long)c, (long long)cout, (long long)g);
        return ADJ_ESHAPE;
    }
    if (dim(w, 0) != wc0 || dim(w, 1) != wc1) {
        snprintf(why, n, "the weight must be (%lld, %lld, kernel...) for %lld input channels "
                         "and groups %lld", (long long)wc0, (long long)wc1, (long long)c,
                 (long long)g);
        return ADJ_ESHAPE;
    }
    if (b && (b->ndim != 1 || dim(b, 0) != cout)) {
        snprintf(why, n, "the bias must be (%lld), one per output channel", (long long)cout);
        return ADJ_ESHAPE;
    }
    y->ndim = (uint8_t)nd;
    adj_cold(y)->shape[0] = dim(x, 0);
    adj_cold(y)->shape[1] = cout;
    for (int k = 0; k < sp; k++) {
        const int ak = k + 2 - sp; /* conv1d uses the column slot of the attributes */
        const int64_t in = dim(x, 2 + k), ker = dim(w, 2 + k);
        const int32_t s = a->stride[ak], p = a->pad[ak], d = a->dil[ak];
        if (ker < 1) {
            snprintf(why, n, "the kernel has a zero size");
            return ADJ_ESHAPE;
        }
        int64_t out;
        if (kind == CONVT2D) {
            out = in < 1 ? 0 : convt_out(in, ker, s, p, d, a->outpad[ak]);
            if (out < 1) {
                snprintf(why, n, "the output size would be %lld (input %lld, padding %d too large)",
                         (long long)out, (long long)in, (int)p);
                return ADJ_ESHAPE;
            }
        } else {
            if (in + 2 * (int64_t)p < (int64_t)d * (ker - 1) + 1) {
                snprintf(why, n, "the kernel (%lld with dilation %d) is larger than the padded "
                                 "input (%lld)", (long long)ker, (int)d, (long long)(in + 2 * (int64_t)p));
                return ADJ_ESHAPE;
            }
            out = conv_out(in, ker, s, p, d);
        }
        adj_cold(y)->shape[2 + k] = out;
    }
    return ADJ_OK;
}

static adj_status conv2d_shape(adj_var *y, char *why, size_t n) { return conv_shape_kind(y, CONV2D, why, n); }
static adj_status conv1d_shape(adj_var *y, char *why, size_t n) { return conv_shape_kind(y, CONV1D, why, n); }
static adj_status convt2d_shape(adj_var *y, char *why, size_t n) { return conv_shape_kind(y, CONVT2D, why, n); }

/* The geometry of node y: big side x (conv) or y (transposed). */
static adj_conv_geom geom_of(const adj_var *y, bool transposed)
{
    const conv_attr *a = ADJ_ATTR(y, conv_attr);
    const adj_var *big = transposed ? y : y->in[0], *small = transposed ? y->in[0] : y;
    const adj_var *w = y->in[1];
    const bool one_d = y->ndim == 3;
    adj_conv_geom g = {
        .n = (size_t)dim(y, 0), .groups = (size_t)a->groups,
        .cb = (size_t)dim(big, 1), .hb = one_d ? 1 : (size_t)dim(big, 2),
        .wb = (size_t)dim(big, y->ndim - 1),
        .cs = (size_t)dim(small, 1), .hs = one_d ? 1 : (size_t)dim(small, 2),
        .ws = (size_t)dim(small, y->ndim - 1),
        .kh = one_d ? 1 : (size_t)dim(w, 2), .kw = (size_t)dim(w, w->ndim - 1),
        .sh = a->stride[0], .sw = a->stride[1], .ph = a->pad[0], .pw = a->pad[1],
        .dh = a->dil[0], .dw = a->dil[1],
    };
    return g;
}

/* out (n, c, plane) = bias[c] (or tangent of it), or 0 without one. */
static void fill_bias(const adj_var *y, const void *bias, void *out)
{
    const size_t n = (size_t)dim(y, 0), c = (size_t)dim(y, 1), plane = n * c > 0 ? adj_cold(y)->numel / (n * c) : 0;
    if (!bias) {
        memset(out, 0, adj_cold(y)->numel * adj_dsize(y->dtype));
        return;
    }
    for (size_t i = 0; i < n * c; i++) {
        if (y->dtype == ADJ_F64) {
            double v = ((const double *)bias)[i % c], *o = (double *)out + i * plane;
            for (size_t p = 0; p < plane; p++)
                o[p] = v;
        } else {
            float v = ((const float *)bias)[i % c], *o = (float *)out + i * plane;
            for (size_t p = 0; p < plane; p++)
                o[p] = v;
        }
    }
}

/* The sum of n elements in double, 32 running sums (four vectors of
 * eight: one would wait on its own additions) added in a fixed order: the
 * same bits every time and at every CPU level. */
#define SUM8(T, sfx, TGT)                                                      \
    TGT static double sum8_##T##sfx(const T *g, size_t n)                      \
    {                                                                          \
        double a[32] = {0};                                                    \
        size_t p = 0;                                                          \
        for (; p + 32 <= n; p += 32)                                           \
            for (int e = 0; e < 32; e++)                                       \
                a[e] += g[p + e];                                              \
        for (; p < n; p++)                                                     \
            a[0] += g[p];                                                      \
        for (int h = 16; h > 0; h /= 2)                                        \
            for (int e = 0; e < h; e++)                                        \
                a[e] += a[e + h];                                              \
        return a[0];                                                           \
    }
SUM8(float, _base, )
SUM8(double, _base, )
#if ADJ_VM_DISPATCH
SUM8(float, _avx2, ADJ_VM_TGT_AVX2)
SUM8(float, _avx512, ADJ_VM_TGT_AVX512)
#endif

static double sum8(int dtype, const void *g, size_t n)
{
    if (dtype == ADJ_F64)
        return sum8_double_base(g, n);
#if ADJ_VM_DISPATCH
    const int l = adj_vm_level();
    if (l == ADJ_VM_AVX512)
        return sum8_float_avx512(g, n);
    if (l == ADJ_VM_AVX2)
        return sum8_float_avx2(g, n);
#endif
    return sum8_float_base(g, n);
}

typedef struct bias_job {
    const adj_var *y;
    void *gb;
    size_t n, c, plane;
} bias_job;

/* channels [lo, hi): db[o] += sum over n and the plane of dy[n, o, :] */
static void bias_channels(void *ctx, size_t lo, size_t hi)
{
    const bias_job *j = ctx;
    for (size_t o = lo; o < hi; o++) {
        double s = 0;
        for (size_t i = 0; i < j->n; i++) {
            const size_t at = (i * j->c + o) * j->plane;
            s += sum8(j->y->dtype, (const char *)j->y->grad + at * adj_dsize(j->y->dtype), j->plane);
        }
        if (j->y->dtype == ADJ_F64)
            ((double *)j->gb)[o] += s;
        else
            ((float *)j->gb)[o] += (float)s;
    }
}

/* db[c] += sum over n and the plane of dy[n, c, :], in double; channels
 * over the pool (each summed by one thread: the same bits for any count) */
static void bias_backward(adj_var *y)
{
    adj_var *b = y->in[2];
    if (!b || !(b->flags & ADJ_F_GRAD))
        return;
    bias_job j = {y, adj_grad_buf(b), (size_t)dim(y, 0), (size_t)dim(y, 1), 0};
    if (!j.gb)
        return;
    j.plane = j.n * j.c > 0 ? adj_cold(y)->numel / (j.n * j.c) : 0;
    adj_par_for(j.c, adj_cold(y)->numel >= ADJ_PAR_GRAIN_MAP ? 1 : j.c, bias_channels, &j);
}

static void conv_forward(adj_var *y)
{
    adj_conv_geom g = geom_of(y, false);
    adj_conv_down(adj_node_tape(y), y->dtype, &g, y->in[0]->value, y->in[1]->value, y->value,
                  false, y->in[2] ? y->in[2]->value : NULL);
}

/* dx += conv_transpose(dy, w);  dw += sum_n dy[n] col(x[n])^T;  db += sum dy
 * (on the direct float path with dw, in dw's pass over dy) */
static void conv_backward(adj_var *y)
{
    adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    adj_tape *t = adj_node_tape(y);
    adj_conv_geom g = geom_of(y, false);
    void *gx = x->flags & ADJ_F_GRAD ? adj_grad_buf(x) : NULL;
    void *gw = w->flags & ADJ_F_GRAD ? adj_grad_buf(w) : NULL;
    const bool fold = gw && b && (b->flags & ADJ_F_GRAD) && adj_conv_direct_ok(y->dtype, &g);
    void *gb = fold ? adj_grad_buf(b) : NULL;
    if ((x->flags & ADJ_F_GRAD && !gx) || (w->flags & ADJ_F_GRAD && !gw) || (fold && !gb) ||
        !adj_conv_backward(t, y->dtype, &g, y->grad, x->value, w->value, gx, gw, gb))
        return;
    if (!fold)
        bias_backward(y);
}

/* tangent: conv(dx, w) + conv(x, dw) + db */
static void conv_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    adj_tape *t = adj_node_tape(y);
    adj_conv_geom g = geom_of(y, false);
    if (adj_conv_down(t, y->dtype, &g, tx[0], y->in[1]->value, ty, false, y->in[2] ? tx[2] : NULL))
        adj_conv_down(t, y->dtype, &g, y->in[0]->value, tx[1], ty, true, NULL);
}

static void convt_forward(adj_var *y)
{
    adj_conv_geom g = geom_of(y, true);
    fill_bias(y, y->in[2] ? y->in[2]->value : NULL, y->value);
    adj_conv_up(adj_node_tape(y), y->dtype, &g, y->in[0]->value, y->in[1]->value, y->value);
}

/* dx += conv(dy, w);  dw += sum_n x[n] col(dy[n])^T;  db += sum dy */
static void convt_backward(adj_var *y)
{
    adj_var *x = y->in[0], *w = y->in[1];
    adj_tape *t = adj_node_tape(y);
    adj_conv_geom g = geom_of(y, true);
    if (x->flags & ADJ_F_GRAD) {
        void *gx = adj_grad_buf(x);
        if (!gx || !adj_conv_down(t, y->dtype, &g, y->grad, w->value, gx, true, NULL))
            return;
    }
    if (w->flags & ADJ_F_GRAD) {
        void *gw = adj_grad_buf(w);
        if (!gw || !adj_conv_wgrad(t, y->dtype, &g, x->value, y->grad, gw))
            return;
    }
    bias_backward(y);
}

static void convt_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    adj_tape *t = adj_node_tape(y);
    adj_conv_geom g = geom_of(y, true);
    fill_bias(y, y->in[2] ? tx[2] : NULL, ty);
    if (adj_conv_up(t, y->dtype, &g, tx[0], y->in[1]->value, ty))
        adj_conv_up(t, y->dtype, &g, y->in[0]->value, tx[1], ty);
}

/* ------------------------------------------------------------ the cases */

static const conv_attr c_def = {{1, 1}, {0, 0}, {1, 1}, {0, 0}, 1};
static const conv_attr c_s21p10 = {{2, 1}, {1, 0}, {1, 1}, {0, 0}, 1};
static const conv_attr c_d2p1 = {{1, 1}, {1, 1}, {2, 2}, {0, 0}, 1};
static const conv_attr c_g2 = {{1, 1}, {0, 0}, {1, 1}, {0, 0}, 2};
static const conv_attr c_dw = {{2, 2}, {1, 1}, {1, 1}, {0, 0}, 3};
static const conv_attr c_mix = {{2, 1}, {0, 1}, {1, 2}, {0, 0}, 2};
static const conv_attr c1_s2p1d2g2 = {{1, 2}, {0, 1}, {1, 2}, {0, 0}, 2};
static const conv_attr ct_s2p1o1 = {{2, 2}, {1, 1}, {1, 1}, {1, 1}, 1};
static const conv_attr ct_g2d2 = {{1, 1}, {0, 0}, {2, 2}, {0, 0}, 2};
static const conv_attr ct_d2o1 = {{1, 1}, {0, 0}, {2, 2}, {1, 1}, 1};

static const adj_op_case conv2d_cases[] = {
    {3, {4, 4, 1}, {{1, 1, 4, 4}, {1, 1, 3, 3}, {1}}, NULL, " 3x3, batch 1"},
    {3, {4, 4, 1}, {{2, 2, 4, 4}, {3, 2, 2, 3}, {3}}, &c_s21p10, " 2x3, stride (2,1), padding (1,0)"},
    {2, {4, 4}, {{1, 2, 5, 5}, {2, 2, 2, 2}}, &c_d2p1, " dilation 2, padding 1, no bias"},
    {3, {4, 4, 1}, {{1, 4, 3, 3}, {4, 2, 2, 2}, {4}}, &c_g2, " groups 2"},
    {3, {4, 4, 1}, {{2, 3, 3, 3}, {3, 1, 2, 2}, {3}}, &c_dw, " depthwise, stride 2, padding 1"},
    {3, {4, 4, 1}, {{2, 3, 2, 3}, {2, 3, 1, 1}, {2}}, NULL, " 1x1"},
    {3, {4, 4, 1}, {{0, 2, 3, 3}, {2, 2, 2, 2}, {2}}, NULL, " empty batch"},
    {2, {4, 4}, {{1, 2, 5, 4}, {4, 1, 2, 2}}, &c_mix, " groups 2, stride (2,1), dilation (1,2)"},
};

static const adj_op_case conv1d_cases[] = {
    {3, {3, 3, 1}, {{2, 2, 5}, {3, 2, 3}, {3}}, NULL, " k 3"},
    {3, {3, 3, 1}, {{1, 4, 7}, {4, 2, 2}, {4}}, &c1_s2p1d2g2, " stride 2, padding 1, dilation 2, groups 2"},
    {2, {3, 3}, {{1, 1, 6}, {2, 1, 4}}, NULL, " batch 1, no bias"},
};

static const adj_op_case convt2d_cases[] = {
    {3, {4, 4, 1}, {{1, 2, 2, 2}, {2, 3, 3, 3}, {3}}, NULL, " 3x3, batch 1"},
    {3, {4, 4, 1}, {{2, 2, 2, 2}, {2, 1, 3, 2}, {1}}, &ct_s2p1o1, " 3x2, stride 2, padding 1, output_padding 1"},
    {2, {4, 4}, {{1, 4, 2, 2}, {4, 1, 2, 2}}, &ct_g2d2, " groups 2, dilation 2, no bias"},
    {2, {4, 4}, {{1, 1, 3, 3}, {1, 1, 2, 2}}, &ct_d2o1, " dilation 2, output_padding 1"},
    {3, {4, 4, 1}, {{0, 2, 2, 2}, {2, 2, 2, 2}, {2}}, NULL, " empty batch"},
};

static const char *const conv_inputs[] = {"x", "w", "b"};
static const char *const conv_symbols[] = {"X", "W", "b", "Y"};
static const adj_op_teach conv_teach = {.symbols = conv_symbols};

const adj_op_desc adj_desc_conv2d = {
    .name = "conv2d", .arity = 3, .optional = 1u << 2, .inputs = conv_inputs,
    .attr_size = sizeof(conv_attr), .shape = conv2d_shape, .forward = conv_forward,
    .backward = conv_backward, .jvp = conv_jvp,
    .formula = "Y[n,o,i,j] = b[o] + sum_{c,p,q} W[o,c,p,q] X[n, c, i s - pad + p dil, j s - pad + q dil]",
    .rule = "dX += conv_transpose(dY, W); dW[o] += sum_n dY[n,o] col(X[n])^T; db[o] += sum dY[:,o]",
    ADJ_CASES(conv2d_cases), .case_attr = &c_def, .teach = &conv_teach,
    .decompose = adj_decomp_conv2d,
};

const adj_op_desc adj_desc_conv1d = {
    .name = "conv1d", .arity = 3, .optional = 1u << 2, .inputs = conv_inputs,
    .attr_size = sizeof(conv_attr), .shape = conv1d_shape, .forward = conv_forward,
    .backward = conv_backward, .jvp = conv_jvp,
    .formula = "Y[n,o,i] = b[o] + sum_{c,p} W[o,c,p] X[n, c, i s - pad + p dil]",
    .rule = "dX += conv_transpose(dY, W); dW[o] += sum_n dY[n,o] col(X[n])^T; db[o] += sum dY[:,o]",
    ADJ_CASES(conv1d_cases), .case_attr = &c_def, .teach = &conv_teach,
    .decompose = adj_decomp_conv1d,
};

const adj_op_desc adj_desc_conv_transpose2d = {
    .name = "conv_transpose2d", .arity = 3, .optional = 1u << 2, .inputs = conv_inputs,
    .attr_size = sizeof(conv_attr), .shape = convt2d_shape, .forward = convt_forward,
    .backward = convt_backward, .jvp = convt_jvp,
    .formula = "Y[n, c, i s - pad + p dil, j s - pad + q dil] += W[ci,c,p,q] X[n,ci,i,j]; Y += b",
    .rule = "dX += conv2d(dY, W); dW[ci] += sum_n X[n,ci] col(dY[n])^T; db[c] += sum dY[:,c]",
    ADJ_CASES(convt2d_cases), .case_attr = &c_def, .teach = &conv_teach,
    .decompose = adj_decomp_conv_transpose2d,
};

/* ------------------------------------------------------------ public API */

adj_var *adj_conv2d_at(adj_var *x, adj_var *w, adj_var *b, const adj_conv2d_opts *opts,
                       const char *file, int line)
{
    const adj_conv2d_opts o = opts ? *opts : (adj_conv2d_opts)ADJ_CONV2D_OPTS_DEFAULT;
    conv_attr a = {{o.stride[0], o.stride[1]}, {o.padding[0], o.padding[1]},
                   {o.dilation[0], o.dilation[1]}, {0, 0}, o.groups};
    adj_var *in[3] = {x, w, b};
    return adj_record(ADJ_OP_CONV2D, in, 3, &a, file, line);
}

adj_var *adj_conv1d_at(adj_var *x, adj_var *w, adj_var *b, const adj_conv1d_opts *opts,
                       const char *file, int line)
{
    const adj_conv1d_opts o = opts ? *opts : (adj_conv1d_opts)ADJ_CONV1D_OPTS_DEFAULT;
    conv_attr a = {{1, o.stride}, {0, o.padding}, {1, o.dilation}, {0, 0}, o.groups};
    adj_var *in[3] = {x, w, b};
    return adj_record(ADJ_OP_CONV1D, in, 3, &a, file, line);
}

adj_var *adj_conv_transpose2d_at(adj_var *x, adj_var *w, adj_var *b,
                                 const adj_conv_transpose2d_opts *opts, const char *file, int line)
{
    const adj_conv_transpose2d_opts o =
        opts ? *opts : (adj_conv_transpose2d_opts)ADJ_CONV_TRANSPOSE2D_OPTS_DEFAULT;
    conv_attr a = {{o.stride[0], o.stride[1]}, {o.padding[0], o.padding[1]},
                   {o.dilation[0], o.dilation[1]}, {o.output_padding[0], o.output_padding[1]},
                   o.groups};
    adj_var *in[3] = {x, w, b};
    return adj_record(ADJ_OP_CONV_TRANSPOSE2D, in, 3, &a, file, line);
}

adj_var *(adj_conv2d)(adj_var *x, adj_var *w, adj_var *b, const adj_conv2d_opts *opts)
{
    return adj_conv2d_at(x, w, b, opts, NULL, 0);
}
adj_var *(adj_conv1d)(adj_var *x, adj_var *w, adj_var *b, const adj_conv1d_opts *opts)
{
    return adj_conv1d_at(x, w, b, opts, NULL, 0);
}
adj_var *(adj_conv_transpose2d)(adj_var *x, adj_var *w, adj_var *b,
                                const adj_conv_transpose2d_opts *opts)
{
    return adj_conv_transpose2d_at(x, w, b, opts, NULL, 0);
}

/* for the graph-mode rules (ops/decompose_conv.c) */
adj_conv_params adj_conv_params_of(const adj_var *y)
{
    const conv_attr *a = ADJ_ATTR(y, conv_attr);
    return (adj_conv_params){{a->stride[0], a->stride[1]}, {a->pad[0], a->pad[1]},
                             {a->dil[0], a->dil[1]}, {a->outpad[0], a->outpad[1]}, a->groups};
}
