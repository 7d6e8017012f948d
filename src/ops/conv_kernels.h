/*
 * Internal: the three products every convolution is made of, on plain
 * row-major buffers.
 *
 * A convolution relates a "big" side (the padded image it slides over:
 * conv2d's input, conv_transpose2d's output) and a "small" side (one value
 * per window position: conv2d's output, conv_transpose2d's input), through
 * a weight (Cs, Cb / groups, kh, kw) in both cases.  With col the im2col
 * matrix (Cb/groups kh kw, Hs Ws) of one sample and group of the big side:
 *
 *   down:   s  = W col              (conv2d forward, conv_transpose2d dx)
 *   up:     b += col2im(W^T s)      (conv2d dx, conv_transpose2d forward)
 *   wgrad:  dW += s col^T           (the weight's adjoint of both)
 *
 * Each product is BLIS gemms over blocks of samples, per group (layouts:
 * see conv_kernels.c); samples are split over the worker pool, each task
 * with its own buffers from the tape's arena.  down and up give the same
 * bits for any thread count (each output row is computed alone); wgrad
 * sums per-task partial adjoints in task order, so its bits depend only
 * on the thread count.
 */
#ifndef ADJ_OPS_CONV_KERNELS_H
#define ADJ_OPS_CONV_KERNELS_H

#include "core/tape.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct adj_conv_geom {
    size_t n, groups;
    size_t cb, hb, wb;  /* big side: channels, rows, columns */
    size_t cs, hs, ws;  /* small side */
    size_t kh, kw;
    long sh, sw, ph, pw, dh, dw; /* stride, padding, dilation */
} adj_conv_geom;

/* s (n, cs, hs, ws) = (acc ? s : bias[c] or 0) + conv(b (n, cb, hb, wb),
 * w); bias (cs) may be NULL.  false when scratch memory could not be had
 * (ADJ_ENOMEM on t). */
bool adj_conv_down(adj_tape *t, int dtype, const adj_conv_geom *g, const void *b, const void *w,
                   void *s, bool acc, const void *bias);
/* b += the transposed convolution of s with w. */
bool adj_conv_up(adj_tape *t, int dtype, const adj_conv_geom *g, const void *s, const void *w,
                 void *b);
/* Both adjoints of conv2d from s's adjoint: db += up(s, w) when db, dw +=
 * wgrad(s, b) when dw (either may be NULL); the same results as the two
 * calls, sharing one transposition of s on the pixel-major path.  dbias
 * (cs), only with dw and where adj_conv_direct_ok holds (NULL elsewhere):
 * dbias[c] += the sum of s[:, c], summed in float in the weight adjoint's
 * pass over s (the bits of a given thread count, as dw's). */
bool adj_conv_backward(adj_tape *t, int dtype, const adj_conv_geom *g, const void *s,
                       const void *b, const void *w, void *db, void *dw, void *dbias);
/* dw += the weight adjoint: sum over samples of s col(b)^T. */
bool adj_conv_wgrad(adj_tape *t, int dtype, const adj_conv_geom *g, const void *s, const void *b,
                    void *dw);


/* The direct float kernels (conv_direct.c): whether they serve g in
 * dtype on this CPU (AVX-512; stride and dilation 1, one group, padding
 * below the kernel), and the forward and both adjoints of conv2d by them
 * (the same contracts as adj_conv_down and adj_conv_backward). */
bool adj_conv_direct_ok(int dtype, const adj_conv_geom *g);
bool adj_conv_direct_down(adj_tape *t, const adj_conv_geom *g, const float *b, const float *w,
                          float *s, bool acc, const float *bias);
bool adj_conv_direct_backward(adj_tape *t, const adj_conv_geom *g, const float *s, const float *b,
                              const float *w, float *db, float *dw, float *dbias);

/* dst[j ld + i] = src[i ls + j] (ADJ_TR_COPY), += (ADJ_TR_ADD) or =
 * bias[j] + (ADJ_TR_BIAS), for i < rows, j < cols; float, at the CPU's
 * level. */
enum { ADJ_TR_COPY, ADJ_TR_ADD, ADJ_TR_BIAS };
void adj_conv_tr_f32(const float *src, size_t ls, float *dst, size_t ld, size_t rows, size_t cols,
                     int mode, const float *bias);

#endif
