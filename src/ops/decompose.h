/*
 * Internal: graph-mode rules of the fused ops (ops/decompose.c,
 * ops/decompose_conv.c).
 *
 * A fused op computes its value and its adjoint with its own kernels; to
 * differentiate its backward again, graph mode records the op's value a
 * second time as a composition of simpler ops of the same inputs (equal to
 * rounding: the max-shifted softmax, the two-pass variance, im2col
 * products for convolution), and differentiates that.  Each
 * adj_decomp_<op>(y) records the composition on y's tape and returns it (a
 * var of y's shape and dtype), or the tape's inert var after an error.
 * Constants of the node (labels, masks, running statistics) enter as
 * constant leaves, so no gradient flows into them.
 *
 * The index ops are primitives: their graph-mode rules (adj_vjp_<op>)
 * record, with y's adjoint gy, the adjoint of each input into gin[k]
 * (NULL for the index input), with each other: gather's adjoint is a
 * scatter-add, scatter-add's a gather.  They return false after a tape
 * error.
 */
#ifndef ADJ_OPS_DECOMPOSE_H
#define ADJ_OPS_DECOMPOSE_H

#include "ops/op.h"

/* softmax family and reductions (ops/decompose.c) */
adj_var *adj_decomp_softmax(adj_var *y);
adj_var *adj_decomp_log_softmax(adj_var *y);
adj_var *adj_decomp_softmax_axis(adj_var *y);
adj_var *adj_decomp_log_softmax_axis(adj_var *y);
adj_var *adj_decomp_logsumexp_axis(adj_var *y);
adj_var *adj_decomp_var_axis(adj_var *y);
/* losses */
adj_var *adj_decomp_softmax_ce(adj_var *y);
adj_var *adj_decomp_cross_entropy(adj_var *y);
adj_var *adj_decomp_mse(adj_var *y);
adj_var *adj_decomp_bce_logits(adj_var *y);
/* indexing, dropout */
adj_var *adj_decomp_embedding(adj_var *y);
adj_var *adj_decomp_dropout(adj_var *y);
bool adj_vjp_index_select(adj_var *y, adj_var *gy, adj_var **gin);
bool adj_vjp_gather(adj_var *y, adj_var *gy, adj_var **gin);
bool adj_vjp_scatter_add(adj_var *y, adj_var *gy, adj_var **gin);
/* normalisation, attention */
adj_var *adj_decomp_layer_norm(adj_var *y);
adj_var *adj_decomp_rms_norm(adj_var *y);
adj_var *adj_decomp_group_norm(adj_var *y);
adj_var *adj_decomp_batch_norm(adj_var *y);
adj_var *adj_decomp_scaled_dot_product_attention(adj_var *y);
/* convolution and pooling (ops/decompose_conv.c) */
adj_var *adj_decomp_conv2d(adj_var *y);
adj_var *adj_decomp_conv1d(adj_var *y);
adj_var *adj_decomp_conv_transpose2d(adj_var *y);
adj_var *adj_decomp_max_pool2d(adj_var *y);
adj_var *adj_decomp_avg_pool2d(adj_var *y);
adj_var *adj_decomp_adaptive_avg_pool2d(adj_var *y);

/*
 * Readers of the attributes the rules need, defined next to each op
 * (the attribute structs stay private to their files).
 */
/* reduce_axes.c: the reduced axes as a mask (bit d: axis d), keepdims, ddof */
uint32_t adj_reduce_axes_of(const adj_var *y, int *keepdims, int *ddof);
/* index.c: cross_entropy's ignore_index */
int adj_cross_entropy_ignore(const adj_var *y);
/* conv.c: a convolution node's geometry */
typedef struct adj_conv_params {
    int32_t stride[2], pad[2], dil[2], outpad[2], groups;
} adj_conv_params;
adj_conv_params adj_conv_params_of(const adj_var *y);
/* pool.c: kernel, stride, padding (adaptive: kernel = the output size) */
void adj_pool_geometry(const adj_var *y, int32_t k[2], int32_t s[2], int32_t p[2]);
/* batch_norm.c: per channel (mean, rstd, var) in double, and whether they
 * are the batch's; eps */
const double *adj_batch_norm_stats(const adj_var *y, int *batch_stats, double *eps);
/* attention.c: the scale as given (0: 1/sqrt(D)) and the causal flag */
double adj_attention_params(const adj_var *y, int *causal);

#endif
