/*
 * adjoint — the list of built-in ops, one per line.
 *
 * ADJ_OP_LIST(X) expands X(ENUM, name) once per op, in enum order: the
 * enum value is ADJ_OP_<ENUM>, the descriptor adj_desc_<name>, the public
 * function adj_<name> (or the name in the op's header comment).  The enum
 * (adjoint/ops.h), the descriptor declarations and the op table are all
 * generated from this one list, so an op without a descriptor does not
 * link.  New ops are appended before the closing comment, so the values
 * of existing ops never change.
 */
#ifndef ADJOINT_OP_LIST_H
#define ADJOINT_OP_LIST_H

#define ADJ_OP_LIST(X)                                                         \
    X(LEAF, leaf)                                                              \
    X(ADD, add)                                                                \
    X(SUB, sub)                                                                \
    X(MUL, mul)                                                                \
    X(DIV, div)                                                                \
    X(NEG, neg)                                                                \
    X(SCALE, scale)                                                            \
    X(EXP, exp)                                                                \
    X(LOG, log)                                                                \
    X(SQRT, sqrt)                                                              \
    X(SQUARE, square)                                                          \
    X(POW, pow)                                                                \
    X(ABS, abs)                                                                \
    X(SIN, sin)                                                                \
    X(COS, cos)                                                                \
    X(SIGMOID, sigmoid)                                                        \
    X(TANH, tanh)                                                              \
    X(RELU, relu)                                                              \
    X(LEAKY_RELU, leaky_relu)                                                  \
    X(ELU, elu)                                                                \
    X(SOFTPLUS, softplus)                                                      \
    X(MATMUL, matmul)                                                          \
    X(LINEAR, linear)                                                          \
    X(TRANSPOSE, transpose)                                                    \
    X(RESHAPE, reshape)                                                        \
    X(SUM, sum)                                                                \
    X(MEAN, mean)                                                              \
    X(SUM_AXIS, sum_axis)                                                      \
    X(MEAN_AXIS, mean_axis)                                                    \
    X(SOFTMAX, softmax)                                                        \
    X(LOG_SOFTMAX, log_softmax)                                                \
    X(SOFTMAX_CE, softmax_ce)                                                  \
    X(MSE, mse)                                                                \
    X(BCE_LOGITS, bce_logits)                                                  \
    X(GELU, gelu)                                                              \
    X(GELU_TANH, gelu_tanh)                                                    \
    X(SILU, silu)                                                              \
    X(SWISH, swish)                                                            \
    X(MAXIMUM, maximum)                                                        \
    X(MINIMUM, minimum)                                                        \
    X(EQ, eq)                                                                  \
    X(NE, ne)                                                                  \
    X(LT, lt)                                                                  \
    X(LE, le)                                                                  \
    X(GT, gt)                                                                  \
    X(GE, ge)                                                                  \
    X(ADD_N, add_n)                                                            \
    X(EMBEDDING, embedding)                                                    \
    X(CROSS_ENTROPY, cross_entropy)                                            \
    X(INDEX_SELECT, index_select)                                              \
    X(GATHER, gather)                                                          \
    X(SCATTER_ADD, scatter_add)                                                \
    X(TRANSPOSE_AXES, transpose_axes)                                          \
    X(PERMUTE, permute)                                                        \
    X(SLICE, slice)                                                            \
    X(SELECT, select)                                                          \
    X(EXPAND, expand)                                                          \
    X(UNSQUEEZE, unsqueeze)                                                    \
    X(SQUEEZE, squeeze)                                                        \
    X(FLATTEN, flatten)                                                        \
    X(CONTIGUOUS, contiguous)                                                  \
    X(ONE_HOT, one_hot)                                                        \
    X(SUM_AXES, sum_axes)                                                      \
    X(MEAN_AXES, mean_axes)                                                    \
    X(MAX_AXIS, max_axis)                                                      \
    X(MIN_AXIS, min_axis)                                                      \
    X(LOGSUMEXP_AXIS, logsumexp_axis)                                          \
    X(VAR_AXIS, var_axis)                                                      \
    X(SOFTMAX_AXIS, softmax_axis)                                              \
    X(LOG_SOFTMAX_AXIS, log_softmax_axis)                                      \
    /* ---- joins, masks, scans, argmax ---- */                                \
    X(WHERE, where)                                                            \
    X(MASKED_FILL, masked_fill)                                                \
    X(CLAMP, clamp)                                                            \
    X(CUMSUM, cumsum)                                                          \
    X(PAD, pad)                                                                \
    X(CONCAT, concat)                                                          \
    X(STACK, stack)                                                            \
    X(ARGMAX_AXIS, argmax_axis)                                                \
    X(ARGMIN_AXIS, argmin_axis)                                                \
    /*                                                                     */  \
    /* ---- views and batched products ---- */                                 \
    X(BMM, bmm)                                                                \
    /*                                                                     */  \
    /* ---- convolution and pooling ---- */                                    \
    X(CONV2D, conv2d)                                                          \
    X(CONV1D, conv1d)                                                          \
    X(CONV_TRANSPOSE2D, conv_transpose2d)                                      \
    X(MAX_POOL2D, max_pool2d)                                                  \
    X(AVG_POOL2D, avg_pool2d)                                                  \
    X(ADAPTIVE_AVG_POOL2D, adaptive_avg_pool2d)                                \
    /*                                                                     */  \
    /* ---- normalisation and dropout ---- */                                  \
    X(LAYER_NORM, layer_norm)                                                  \
    X(RMS_NORM, rms_norm)                                                      \
    X(GROUP_NORM, group_norm)                                                  \
    X(BATCH_NORM, batch_norm)                                                  \
    X(DROPOUT, dropout)                                                        \
    /*                                                                     */  \
    /* ---- attention ---- */                                                  \
    X(SCALED_DOT_PRODUCT_ATTENTION, scaled_dot_product_attention)              \
    /*                                                                     */  \
    /* ---- graph-mode backward (internal: no public function) ---- */       \
    X(VIEW_GRAD, view_grad)                                                    \
    X(GELU_GRAD, gelu_grad)                                                    \
    /*                                                                     */  \
    /* ---- fused layers ---- */                                              \
    X(LINEAR_ADD, linear_add)                                                  \
    /*                                                                     */  \
    /* ---- recurrent cells ---- */                                           \
    X(LSTM_CELL, lstm_cell)                                                    \
    X(GRU_CELL, gru_cell)                                                      \
    /*                                                                     */  \
    /* ---- (next family) ---- */                                              \
    /* append new ops above this line, in their family's section (one line
     * each, keep the backslash) */

#endif
