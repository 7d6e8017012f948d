/*
 * adjoint/conv.h — convolution and pooling over NCHW tensors.
 *
 * Images are (N, C, H, W) row-major (sequences (N, C, L) for conv1d).
 * Every op takes vars of one tape and one dtype, records errors on the
 * tape like every op in adjoint/ops.h (a sticky status and a message that
 * names the op, the problem, the shapes and the caller's file:line) and
 * has a backward for every input and a tangent (forward-mode) rule.
 *
 * Output sizes (floor division, as PyTorch without ceil_mode):
 *   convolution and pooling  Ho = (H + 2 pad - dil (k - 1) - 1) / stride + 1
 *   transposed convolution   Ho = (H - 1) stride - 2 pad + dil (k - 1) + out_pad + 1
 * The products go through BLIS (docs/design.md, "Convolution"); their
 * buffers come from the tape's arena.
 */
#ifndef ADJOINT_CONV_H
#define ADJOINT_CONV_H

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options of adj_conv2d.  Every field is used as given: stride and
 * dilation >= 1, padding >= 0 (zeros added on both sides), groups >= 1
 * dividing both channel counts.  A NULL opts pointer means
 * ADJ_CONV2D_OPTS_DEFAULT. */
typedef struct adj_conv2d_opts {
    int stride[2];   /* (rows, columns) */
    int padding[2];
    int dilation[2];
    int groups;
} adj_conv2d_opts;
#define ADJ_CONV2D_OPTS_DEFAULT {{1, 1}, {0, 0}, {1, 1}, 1}

/* Options of adj_conv1d: as adj_conv2d's along the one spatial axis.
 * NULL means ADJ_CONV1D_OPTS_DEFAULT. */
typedef struct adj_conv1d_opts {
    int stride, padding, dilation, groups;
} adj_conv1d_opts;
#define ADJ_CONV1D_OPTS_DEFAULT {1, 0, 1, 1}

/* Options of adj_conv_transpose2d: those of the convolution it is the
 * adjoint of, plus output_padding (0 <= output_padding < max(stride,
 * dilation)), the rows/columns added at the bottom/right to pick one of
 * the input sizes that convolution maps to the same output size.  NULL
 * means ADJ_CONV_TRANSPOSE2D_OPTS_DEFAULT. */
typedef struct adj_conv_transpose2d_opts {
    int stride[2];
    int padding[2];
    int output_padding[2];
    int dilation[2];
    int groups;
} adj_conv_transpose2d_opts;
#define ADJ_CONV_TRANSPOSE2D_OPTS_DEFAULT {{1, 1}, {0, 0}, {0, 0}, {1, 1}, 1}

/* Options of the fixed-window pools: kernel >= 1, stride >= 1 and
 * 0 <= padding <= kernel / 2 (each (rows, columns)); required. */
typedef struct adj_pool2d_opts {
    int kernel[2];
    int stride[2];
    int padding[2];
} adj_pool2d_opts;

/* y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n, g Cg + c, i s0 - p0 + p d0, j s1 - p1 + q d1]
 * (zero outside x), with g = o / (O / groups), Cg = C / groups.
 * x (N,C,H,W), w (O, C/groups, kh, kw), b (O) or NULL -> y (N,O,Ho,Wo).
 * groups = C = O is a depthwise convolution.  dx, dw, db are the adjoint
 * products (dx: the transposed convolution of dy; db: dy summed over
 * n, i, j).  Errors (ADJ_ESHAPE): x not 4-D, w's shape, b's shape,
 * channels not divisible by groups, a (dilated) kernel larger than the
 * padded input; (ADJ_EINVAL) stride or dilation < 1, padding < 0,
 * groups < 1. */
#define adj_conv2d(...) adj_conv2d_at(__VA_ARGS__, ADJ_AT_)
/* adj_conv2d on sequences: x (N,C,L), w (O, C/groups, k), b (O) or NULL
 * -> y (N,O,Lo); the same kernels with one row. */
#define adj_conv1d(...) adj_conv1d_at(__VA_ARGS__, ADJ_AT_)
/* The transposed convolution (the adjoint of adj_conv2d with respect to
 * its input, as a layer; "deconvolution" in decoders): x (N,Cin,H,W),
 * w (Cin, Cout/groups, kh, kw) (PyTorch's layout), b (Cout) or NULL ->
 * y (N,Cout,Ho,Wo), y[n, g Coutg + c, i s0 - p0 + p d0, ...] +=
 * w[ci, c, p, q] x[n, ci, i, j] for the input channels ci of group g.
 * Errors as adj_conv2d's, plus output_padding out of range or an output
 * size below 1. */
#define adj_conv_transpose2d(...) adj_conv_transpose2d_at(__VA_ARGS__, ADJ_AT_)

/* y[n,c,i,j] = max over the window rows i s0 - p0 + [0, k0), columns
 * j s1 - p1 + [0, k1) of x (padding never wins: it is -infinity).  x
 * (N,C,H,W) -> (N,C,Ho,Wo).  dx gets dy at the first maximum of each
 * window in row-major order (ties: the first; a NaN counts as the
 * maximum, so it propagates); windows that overlap add up. */
#define adj_max_pool2d(...) adj_max_pool2d_at(__VA_ARGS__, ADJ_AT_)
/* y[n,c,i,j] = (sum of x over the window) / (k0 k1): padding counts as
 * zeros in the divisor too (PyTorch's count_include_pad=True default).
 * dx[window] += dy / (k0 k1). */
#define adj_avg_pool2d(...) adj_avg_pool2d_at(__VA_ARGS__, ADJ_AT_)
/* y (N,C,out_h,out_w): y[n,c,i,j] = mean of x[n,c] over rows
 * [floor(i H / out_h), ceil((i+1) H / out_h)) and the same for columns
 * (PyTorch's windows); out sizes >= 1 (larger than H, W too).  (1,1) is
 * global average pooling.  dx[window] += dy / (window size). */
#define adj_adaptive_avg_pool2d(...) adj_adaptive_avg_pool2d_at(__VA_ARGS__, ADJ_AT_)

ADJ_API adj_var *adj_conv2d_at(adj_var *x, adj_var *w, adj_var *b, const adj_conv2d_opts *opts,
                               const char *file, int line);
ADJ_API adj_var *adj_conv1d_at(adj_var *x, adj_var *w, adj_var *b, const adj_conv1d_opts *opts,
                               const char *file, int line);
ADJ_API adj_var *adj_conv_transpose2d_at(adj_var *x, adj_var *w, adj_var *b,
                                         const adj_conv_transpose2d_opts *opts, const char *file,
                                         int line);
ADJ_API adj_var *adj_max_pool2d_at(adj_var *x, const adj_pool2d_opts *opts, const char *file,
                                   int line);
ADJ_API adj_var *adj_avg_pool2d_at(adj_var *x, const adj_pool2d_opts *opts, const char *file,
                                   int line);
ADJ_API adj_var *adj_adaptive_avg_pool2d_at(adj_var *x, int out_h, int out_w, const char *file,
                                            int line);

ADJ_API adj_var *(adj_conv2d)(adj_var *x, adj_var *w, adj_var *b, const adj_conv2d_opts *opts);
ADJ_API adj_var *(adj_conv1d)(adj_var *x, adj_var *w, adj_var *b, const adj_conv1d_opts *opts);
ADJ_API adj_var *(adj_conv_transpose2d)(adj_var *x, adj_var *w, adj_var *b,
                                        const adj_conv_transpose2d_opts *opts);
ADJ_API adj_var *(adj_max_pool2d)(adj_var *x, const adj_pool2d_opts *opts);
ADJ_API adj_var *(adj_avg_pool2d)(adj_var *x, const adj_pool2d_opts *opts);
ADJ_API adj_var *(adj_adaptive_avg_pool2d)(adj_var *x, int out_h, int out_w);

#ifdef __cplusplus
}
#endif

#endif
