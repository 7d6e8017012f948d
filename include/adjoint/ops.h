/*
 * adjoint/ops.h — the differentiable operations.
 *
 * Every op takes vars of one tape and one dtype (mixing f32 and f64 is an
 * ADJ_EDTYPE error, never a conversion) and returns a new var on that tape.
 * On error it records the sticky error on the tape and returns an inert var;
 * if every argument is NULL there is no tape to record on and it returns
 * NULL (which the next op or adj_backward reports as ADJ_EINVAL).
 *
 * Each op is a macro that passes the caller's file and line, so error
 * messages and anomaly reports name the line of the user's program.  The
 * macros are variadic, so compound literals such as (int64_t[]){2, 3}
 * pass through them.  The same names also exist as functions (write
 * `(adj_add)` to take one's address).
 *
 * Broadcasting (add, sub, mul, div and every other binary elementwise op)
 * follows NumPy: the shapes are aligned at their last dimension, missing
 * leading dimensions count as 1, and each pair of sizes must be equal or
 * one of them 1, which is repeated; the result takes the larger.  For
 * example (B,T,C) + (C) is (B,T,C), (2,3) + (2,1) is (2,3), (5,1) * (1,6)
 * is (5,6), (1,1) + a 0-D var is (1,1).  The gradient of a broadcast
 * operand is summed back to its own shape (in double, for f32 too).
 */
#ifndef ADJOINT_OPS_H
#define ADJOINT_OPS_H

#include "core.h"
#include "op_list.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ADJ_AT_ __FILE__, __LINE__

/* ---------------------------------------------------------- arithmetic */
/* y = a + b */
#define adj_add(...) adj_add_at(__VA_ARGS__, ADJ_AT_)
/* y = a - b */
#define adj_sub(...) adj_sub_at(__VA_ARGS__, ADJ_AT_)
/* y = a * b (elementwise) */
#define adj_mul(...) adj_mul_at(__VA_ARGS__, ADJ_AT_)
/* y = a / b (elementwise) */
#define adj_div(...) adj_div_at(__VA_ARGS__, ADJ_AT_)
/* y = -x */
#define adj_neg(...) adj_neg_at(__VA_ARGS__, ADJ_AT_)
/* y = c x */
#define adj_scale(...) adj_scale_at(__VA_ARGS__, ADJ_AT_)
/* y = xs[0] + xs[1] + ... + xs[n-1]: n >= 1 tensors of one shape and dtype
 * (summed in that order); dxs[k] += dy.  An input may appear more than
 * once.  NULL when n < 1 or xs is NULL (there is no tape to record the
 * error on); a NULL element is a sticky error. */
#define adj_add_n(...) adj_add_n_at(__VA_ARGS__, ADJ_AT_)

/* y = max(a, b) elementwise, broadcasting as add; at a tie a and b each
 * receive dy / 2; NaN propagates */
#define adj_maximum(...) adj_maximum_at(__VA_ARGS__, ADJ_AT_)
/* y = min(a, b) elementwise, as adj_maximum */
#define adj_minimum(...) adj_minimum_at(__VA_ARGS__, ADJ_AT_)

/* ---------------------------------------------------------- comparisons */
/* y = 1 where a == b, else 0, in the operands' dtype, broadcasting as
 * add; a mask carries no gradient (it is piecewise constant) */
#define adj_eq(...) adj_eq_at(__VA_ARGS__, ADJ_AT_)
/* y = [a != b] (a NaN operand gives 1), as adj_eq */
#define adj_ne(...) adj_ne_at(__VA_ARGS__, ADJ_AT_)
/* y = [a < b], as adj_eq */
#define adj_lt(...) adj_lt_at(__VA_ARGS__, ADJ_AT_)
/* y = [a <= b], as adj_eq */
#define adj_le(...) adj_le_at(__VA_ARGS__, ADJ_AT_)
/* y = [a > b], as adj_eq */
#define adj_gt(...) adj_gt_at(__VA_ARGS__, ADJ_AT_)
/* y = [a >= b], as adj_eq */
#define adj_ge(...) adj_ge_at(__VA_ARGS__, ADJ_AT_)
/* y = x's values, recorded as a constant: no gradient flows back into x
 * (and forward mode gives no tangent through it).  The result shares x's
 * storage (nothing is copied) and lives as long as x. */
#define adj_detach(...) adj_detach_at(__VA_ARGS__, ADJ_AT_)

/* --------------------------------------------------------- elementwise */
/* y = e^x */
#define adj_exp(...) adj_exp_at(__VA_ARGS__, ADJ_AT_)
/* y = ln x (x <= 0 gives -inf / NaN as IEEE says) */
#define adj_log(...) adj_log_at(__VA_ARGS__, ADJ_AT_)
/* y = sqrt(x) */
#define adj_sqrt(...) adj_sqrt_at(__VA_ARGS__, ADJ_AT_)
/* y = x^2 */
#define adj_square(...) adj_square_at(__VA_ARGS__, ADJ_AT_)
/* y = x^p for a constant p */
#define adj_pow(...) adj_pow_at(__VA_ARGS__, ADJ_AT_)
/* y = |x|; d|x|/dx at 0 is taken as 0 */
#define adj_abs(...) adj_abs_at(__VA_ARGS__, ADJ_AT_)
/* y = sin x */
#define adj_sin(...) adj_sin_at(__VA_ARGS__, ADJ_AT_)
/* y = cos x */
#define adj_cos(...) adj_cos_at(__VA_ARGS__, ADJ_AT_)

/* --------------------------------------------------------- activations */
/* y = 1 / (1 + e^-x), stable for any x */
#define adj_sigmoid(...) adj_sigmoid_at(__VA_ARGS__, ADJ_AT_)
/* y = tanh x */
#define adj_tanh(...) adj_tanh_at(__VA_ARGS__, ADJ_AT_)
/* y = max(x, 0); ReLU'(0) = 1 as the lecture notes define it */
#define adj_relu(...) adj_relu_at(__VA_ARGS__, ADJ_AT_)
/* y = x for x >= 0, slope * x otherwise (derivative 1 at 0) */
#define adj_leaky_relu(...) adj_leaky_relu_at(__VA_ARGS__, ADJ_AT_)
/* y = x for x >= 0, alpha (e^x - 1) otherwise (derivative 1 at 0) */
#define adj_elu(...) adj_elu_at(__VA_ARGS__, ADJ_AT_)
/* y = ln(1 + e^x), stable for any x; y' = sigmoid(x) */
#define adj_softplus(...) adj_softplus_at(__VA_ARGS__, ADJ_AT_)
/* y = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, Phi the standard normal CDF
 * (the exact GELU; computed from erfc, accurate for negative x) */
#define adj_gelu(...) adj_gelu_at(__VA_ARGS__, ADJ_AT_)
/* y = x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2: the tanh
 * approximation of GELU that GPT-2 uses */
#define adj_gelu_tanh(...) adj_gelu_tanh_at(__VA_ARGS__, ADJ_AT_)
/* y = x sigmoid(x) (SiLU, swish with beta = 1) */
#define adj_silu(...) adj_silu_at(__VA_ARGS__, ADJ_AT_)
/* y = x sigmoid(beta x) for a constant beta;
 * y' = s + beta x s (1 - s), s = sigmoid(beta x) */
#define adj_swish(...) adj_swish_at(__VA_ARGS__, ADJ_AT_)

/* -------------------------------------------------------- linear algebra */
/* C = A B for 2-D A (m,k), B (k,n); BLIS forward and backward.
 * Operands of 3 or more dimensions follow NumPy's matmul: the last two
 * dimensions are matrices and the leading (batch) ones broadcast, so
 * (B,H,T,D) x (B,H,D,T) -> (B,H,T,T), (T,D) x (B,D,E) -> (B,T,E) and
 * (B,1,T,D) x (H,D,S) -> (B,H,T,S); a broadcast operand's gradient is
 * summed over the batches it was repeated in.  A 1-D a (k) is a row and
 * a 1-D b (k) a column, the added dimension dropped from C: (k) x (k) is
 * a 0-D dot product.  Views of any layout are accepted.  Errors
 * (ADJ_ESHAPE): a 0-D operand, inner sizes that differ, batch dimensions
 * that do not broadcast; an index tensor is ADJ_EDTYPE. */
#define adj_matmul(a, b) adj_matmul_at((a), (b), 0, 0, ADJ_AT_)
/* C = op(A) op(B) with op = transpose where ta / tb is nonzero; the
 * transposes are BLIS flags, never copies.  With a flag set both operands
 * must be 2-D (adj_transpose_axes transposes a batch of matrices); with
 * none it is adj_matmul. */
#define adj_matmul_t(...) adj_matmul_at(__VA_ARGS__, ADJ_AT_)
/* Z = X W^T + b: a dense layer on a batch, X (m,in), W (out,in), b (out)
 * or NULL; one fused node (BLIS with transpose flag, bias in the same pass).
 * Strided X and W (a transposed view) are read in place, so a weight
 * stored (in, out) is adj_linear(x, adj_transpose(w), b), still one node. */
#define adj_linear(...) adj_linear_at(__VA_ARGS__, ADJ_AT_)
/* Z = X W^T + b + R: adj_linear whose output is added to R, of Z's shape
 * (a residual connection), in the same node: one value stored, not two;
 * the bits of adj_add(R, adj_linear(X, W, b)).  b may be NULL. */
#define adj_linear_add(...) adj_linear_add_at(__VA_ARGS__, ADJ_AT_)
/* Y = X^T for a 2-D X (a copy) */
#define adj_transpose(...) adj_transpose_at(__VA_ARGS__, ADJ_AT_)
/* same values, new shape with the same number of elements; one size may
 * be -1 and is then inferred from the others */
#define adj_reshape(...) adj_reshape_at(__VA_ARGS__, ADJ_AT_)

/* ----------------------------------------------------------------- views */
/*
 * Views pick elements of x without arithmetic; the gradient of each picked
 * element flows back to the element it came from (summed where one
 * element is picked several times, as by expand).  Axes and indices may
 * be negative, counting from the end as in Python.  A bad axis, index or
 * shape is an ADJ_EINVAL error naming it.
 */
/* y = x with axes a and b swapped (any rank) */
#define adj_transpose_axes(...) adj_transpose_axes_at(__VA_ARGS__, ADJ_AT_)
/* y's axis k is x's axis perm[k]; perm: ndim(x) distinct axes */
#define adj_permute(...) adj_permute_at(__VA_ARGS__, ADJ_AT_)
/* y = x[start:stop:step] along axis, with Python's rules: negative start
 * and stop count from the end, both are clamped to the axis, step may be
 * negative (not 0); INT64_MAX / INT64_MIN stand for an omitted bound */
#define adj_slice(...) adj_slice_at(__VA_ARGS__, ADJ_AT_)
/* y = x[index] along axis, the axis removed: (2,3,4) at axis 1 is (2,4) */
#define adj_select(...) adj_select_at(__VA_ARGS__, ADJ_AT_)
/* y = x repeated to (ndim, shape) by NumPy's broadcast rule: x's
 * dimensions align with the last ones of shape, each equal or 1 in x (a -1
 * keeps x's size); dx = dy summed over the repeats */
#define adj_expand(...) adj_expand_at(__VA_ARGS__, ADJ_AT_)
/* y = x with a size-1 axis inserted before axis (-ndim-1..ndim) */
#define adj_unsqueeze(...) adj_unsqueeze_at(__VA_ARGS__, ADJ_AT_)
/* y = x without axis, which must have size 1 */
#define adj_squeeze(...) adj_squeeze_at(__VA_ARGS__, ADJ_AT_)
/* y = x with axes from..to (inclusive) merged into one; a 0-D x gives (1) */
#define adj_flatten(...) adj_flatten_at(__VA_ARGS__, ADJ_AT_)
/* y = x stored row-major (a copy when x is a strided view) */
#define adj_contiguous(...) adj_contiguous_at(__VA_ARGS__, ADJ_AT_)

/* ---------------------------------------------------------- reductions */
/* y = sum of all elements (one element); 0 for no elements */
#define adj_sum(...) adj_sum_at(__VA_ARGS__, ADJ_AT_)
/* y = mean of all elements (one element); NaN (0/0) for no elements, as
 * every mean and loss below */
#define adj_mean(...) adj_mean_at(__VA_ARGS__, ADJ_AT_)
/* sum over one axis; the axis is removed from the shape; axis may be
 * negative (-1 = last) */
#define adj_sum_axis(...) adj_sum_axis_at(__VA_ARGS__, ADJ_AT_)
/* mean over one axis, as adj_sum_axis (NaN along a zero-length axis) */
#define adj_mean_axis(...) adj_mean_axis_at(__VA_ARGS__, ADJ_AT_)

/*
 * Reductions over several axes.  axes[0..naxes) name the reduced axes
 * (negative counts from the end, -1 = last; each at most once); naxes 0
 * reduces every axis.  keepdims nonzero keeps each reduced axis as a
 * size-1 dimension (so the result broadcasts against x), else it is
 * removed.  Sums accumulate in double for f32 too.  A bad axis is an
 * ADJ_EINVAL error on the tape naming it and x's shape.
 */
/* y = sum of x over the axes */
#define adj_sum_axes(...) adj_sum_axes_at(__VA_ARGS__, ADJ_AT_)
/* y = mean of x over the axes (NaN over an empty set) */
#define adj_mean_axes(...) adj_mean_axes_at(__VA_ARGS__, ADJ_AT_)
/* y = max of x over the axes; the gradient goes to the first maximum in
 * row-major order (one element per output, also at ties); NaN propagates;
 * an empty axis is ADJ_ESHAPE */
#define adj_max_axes(...) adj_max_axes_at(__VA_ARGS__, ADJ_AT_)
/* y = min of x over the axes, as adj_max_axes */
#define adj_min_axes(...) adj_min_axes_at(__VA_ARGS__, ADJ_AT_)
/* y = log sum exp x over the axes, shifted by the maximum (no overflow);
 * dx = dy softmax(x) */
#define adj_logsumexp_axes(...) adj_logsumexp_axes_at(__VA_ARGS__, ADJ_AT_)
/* y = sum (x - mean)^2 / (N - ddof) over the axes, N the number of
 * elements reduced: ddof 0 is the population variance (NumPy's default,
 * layer norm's), ddof 1 the unbiased estimate (PyTorch's default) */
#define adj_var_axes(...) adj_var_axes_at(__VA_ARGS__, ADJ_AT_)
/* One-axis forms, the axis removed (as adj_sum_axis): */
/* max over one axis; gradient to the first maximum */
#define adj_max_axis(...) adj_max_axis_at(__VA_ARGS__, ADJ_AT_)
/* min over one axis; gradient to the first minimum */
#define adj_min_axis(...) adj_min_axis_at(__VA_ARGS__, ADJ_AT_)
/* log sum exp over one axis */
#define adj_logsumexp_axis(...) adj_logsumexp_axis_at(__VA_ARGS__, ADJ_AT_)
/* variance over one axis with divisor N (population; adj_var_axes for others) */
#define adj_var_axis(...) adj_var_axis_at(__VA_ARGS__, ADJ_AT_)
/* softmax along any one axis (y has x's shape): e^(x - logsumexp) */
#define adj_softmax_axis(...) adj_softmax_axis_at(__VA_ARGS__, ADJ_AT_)
/* log-softmax along any one axis: x - logsumexp over the axis */
#define adj_log_softmax_axis(...) adj_log_softmax_axis_at(__VA_ARGS__, ADJ_AT_)

/* ----------------------------------------------------- softmax and losses */
/* y_i = e^{x_i} / sum_j e^{x_j} along the last axis (max-shifted) */
#define adj_softmax(...) adj_softmax_at(__VA_ARGS__, ADJ_AT_)
/* y_i = x_i - log sum_j e^{x_j} along the last axis */
#define adj_log_softmax(...) adj_log_softmax_at(__VA_ARGS__, ADJ_AT_)
/* mean over rows of (log sum_j e^{z_j} - z_label): fused from the logits
 * (rows, classes) or (classes); labels[r] in [0, classes) is copied.  The
 * log-sum-exp is shifted by the row maximum and kept in double, so the
 * accuracy depends only on the logits' differences, not their size.  Zero
 * rows give NaN (labels may then be NULL); zero classes are ADJ_ESHAPE. */
#define adj_softmax_cross_entropy(...) adj_softmax_cross_entropy_at(__VA_ARGS__, ADJ_AT_)
/* mean of (pred - target)^2 over all elements; same shapes (NaN if empty) */
#define adj_mse(...) adj_mse_at(__VA_ARGS__, ADJ_AT_)
/* mean of max(z,0) - z t + log(1 + e^-|z|) = BCE(sigmoid(z), t), stable;
 * NaN if empty */
#define adj_bce_with_logits(...) adj_bce_with_logits_at(__VA_ARGS__, ADJ_AT_)

/* -------------------------------------------------------------- indexing */
/* Y = E[idx]: row idx[i] of the table E (V, D) for every index of idx (an
 * index tensor, adj_index, of any shape): Y has idx's shape + (D).  The
 * adjoint of E is a scatter-add: repeated indices add up, in the order
 * they appear (same bits for any thread count).  An index outside [0, V)
 * is ADJ_EINVAL naming the index, its position and V. */
#define adj_embedding(...) adj_embedding_at(__VA_ARGS__, ADJ_AT_)
/* L = mean over the kept rows r of (log sum_j exp(z_rj) - z_r,t_r): the
 * cross-entropy of logits z (..., C) against targets t, an index tensor of
 * z's leading shape ((B,T,V) with (B,T) for a language model); rows whose
 * target equals ignore_index are left out of the sum and of the count
 * (PyTorch's default is -100).  Stable for any logits (log-sum-exp shifted
 * by the row maximum, in double).  dz_r = dL (softmax(z_r) - onehot(t_r))
 * / N, 0 for ignored rows.  No kept row: L is NaN (a mean over nothing).
 * A target outside [0, C) other than ignore_index is ADJ_EINVAL naming it,
 * its position and C.  (adj_softmax_cross_entropy takes int32_t labels.) */
#define adj_cross_entropy(...) adj_cross_entropy_at(__VA_ARGS__, ADJ_AT_)
/* y = x[..., idx, ...]: the slices idx[0], idx[1], ... of x along `axis`
 * (negative counts from the end), idx a 1-D index tensor of length m; y
 * has x's shape with m along the axis.  dx[..., idx[i], ...] += dy[..., i,
 * ...] (repeats add up).  Indices outside [0, x's size along the axis) are
 * ADJ_EINVAL naming the index, its position and the bound. */
#define adj_index_select(...) adj_index_select_at(__VA_ARGS__, ADJ_AT_)
/* y[p] = x[p with idx[p] along `axis`] (NumPy's take_along_axis, PyTorch's
 * gather): idx is an index tensor of x's rank whose dimensions, but along
 * the axis, are at most x's; y has idx's shape.  The adjoint of x is the
 * scatter-add of dy (repeats add up, in row-major order of idx).  Errors as
 * adj_index_select. */
#define adj_gather(...) adj_gather_at(__VA_ARGS__, ADJ_AT_)
/* y = x, then y[p with idx[p] along `axis`] += src[p] for every element p
 * of idx (repeats add up): src has idx's shape, idx as in adj_gather; y has
 * x's shape.  dx = dy; dsrc[p] = dy[p with idx[p] along the axis]. */
#define adj_scatter_add(...) adj_scatter_add_at(__VA_ARGS__, ADJ_AT_)
/* y[..., c] = 1 where c = idx[...], else 0: idx (an index tensor of any
 * shape) one-hot over `classes`, y idx.shape + (classes) of dtype (ADJ_F32
 * or ADJ_F64, else ADJ_EDTYPE); a constant: no gradient.  An index outside
 * [0, classes) is ADJ_EINVAL naming it, its position and classes. */
#define adj_one_hot(...) adj_one_hot_at(__VA_ARGS__, ADJ_AT_)

/* ---------------------------------------- the functions behind the macros */
ADJ_API adj_var *adj_add_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_sub_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_mul_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_div_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_neg_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_scale_at(adj_var *x, double c, const char *file, int line);
ADJ_API adj_var *adj_add_n_at(int n, adj_var *const *xs, const char *file, int line);
ADJ_API adj_var *adj_exp_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_log_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_sqrt_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_square_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_pow_at(adj_var *x, double p, const char *file, int line);
ADJ_API adj_var *adj_abs_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_sin_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_cos_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_sigmoid_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_tanh_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_relu_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_leaky_relu_at(adj_var *x, double slope, const char *file, int line);
ADJ_API adj_var *adj_elu_at(adj_var *x, double alpha, const char *file, int line);
ADJ_API adj_var *adj_softplus_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_gelu_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_gelu_tanh_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_silu_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_swish_at(adj_var *x, double beta, const char *file, int line);
ADJ_API adj_var *adj_matmul_at(adj_var *a, adj_var *b, int ta, int tb, const char *file, int line);
ADJ_API adj_var *adj_linear_at(adj_var *x, adj_var *w, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_linear_add_at(adj_var *x, adj_var *w, adj_var *b, adj_var *r, const char *file,
                                   int line);
ADJ_API adj_var *adj_transpose_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_reshape_at(adj_var *x, int ndim, const int64_t *shape, const char *file,
                               int line);
ADJ_API adj_var *adj_transpose_axes_at(adj_var *x, int a, int b, const char *file, int line);
ADJ_API adj_var *adj_permute_at(adj_var *x, const int *perm, const char *file, int line);
ADJ_API adj_var *adj_slice_at(adj_var *x, int axis, int64_t start, int64_t stop, int64_t step,
                              const char *file, int line);
ADJ_API adj_var *adj_select_at(adj_var *x, int axis, int64_t index, const char *file, int line);
ADJ_API adj_var *adj_expand_at(adj_var *x, int ndim, const int64_t *shape, const char *file,
                               int line);
ADJ_API adj_var *adj_unsqueeze_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_squeeze_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_flatten_at(adj_var *x, int from, int to, const char *file, int line);
ADJ_API adj_var *adj_contiguous_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_sum_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_mean_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_sum_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_mean_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_softmax_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_log_softmax_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *adj_softmax_cross_entropy_at(adj_var *logits, const int32_t *labels,
                                              const char *file, int line);
ADJ_API adj_var *adj_mse_at(adj_var *pred, adj_var *target, const char *file, int line);
ADJ_API adj_var *adj_bce_with_logits_at(adj_var *z, adj_var *t, const char *file, int line);
ADJ_API adj_var *adj_embedding_at(adj_var *table, adj_var *idx, const char *file, int line);
ADJ_API adj_var *adj_cross_entropy_at(adj_var *logits, adj_var *targets, int ignore_index,
                                      const char *file, int line);
ADJ_API adj_var *adj_index_select_at(adj_var *x, int axis, adj_var *idx, const char *file,
                                     int line);
ADJ_API adj_var *adj_gather_at(adj_var *x, int axis, adj_var *idx, const char *file, int line);
ADJ_API adj_var *adj_scatter_add_at(adj_var *x, int axis, adj_var *idx, adj_var *src,
                                    const char *file, int line);
ADJ_API adj_var *adj_one_hot_at(adj_var *idx, int classes, adj_dtype dtype, const char *file,
                                int line);

/* Plain functions with the ops' names, for function pointers. */
ADJ_API adj_var *(adj_add)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_sub)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_mul)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_div)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_neg)(adj_var *x);
ADJ_API adj_var *(adj_scale)(adj_var *x, double c);
ADJ_API adj_var *(adj_add_n)(int n, adj_var *const *xs);
ADJ_API adj_var *(adj_exp)(adj_var *x);
ADJ_API adj_var *(adj_log)(adj_var *x);
ADJ_API adj_var *(adj_sqrt)(adj_var *x);
ADJ_API adj_var *(adj_square)(adj_var *x);
ADJ_API adj_var *(adj_pow)(adj_var *x, double p);
ADJ_API adj_var *(adj_abs)(adj_var *x);
ADJ_API adj_var *(adj_sin)(adj_var *x);
ADJ_API adj_var *(adj_cos)(adj_var *x);
ADJ_API adj_var *(adj_sigmoid)(adj_var *x);
ADJ_API adj_var *(adj_tanh)(adj_var *x);
ADJ_API adj_var *(adj_relu)(adj_var *x);
ADJ_API adj_var *(adj_leaky_relu)(adj_var *x, double slope);
ADJ_API adj_var *(adj_elu)(adj_var *x, double alpha);
ADJ_API adj_var *(adj_softplus)(adj_var *x);
ADJ_API adj_var *(adj_gelu)(adj_var *x);
ADJ_API adj_var *(adj_gelu_tanh)(adj_var *x);
ADJ_API adj_var *(adj_silu)(adj_var *x);
ADJ_API adj_var *(adj_swish)(adj_var *x, double beta);
ADJ_API adj_var *(adj_matmul)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_matmul_t)(adj_var *a, adj_var *b, int ta, int tb);
ADJ_API adj_var *(adj_linear)(adj_var *x, adj_var *w, adj_var *b);
ADJ_API adj_var *(adj_linear_add)(adj_var *x, adj_var *w, adj_var *b, adj_var *r);
ADJ_API adj_var *(adj_transpose)(adj_var *x);
ADJ_API adj_var *(adj_transpose_axes)(adj_var *x, int a, int b);
ADJ_API adj_var *(adj_permute)(adj_var *x, const int *perm);
ADJ_API adj_var *(adj_slice)(adj_var *x, int axis, int64_t start, int64_t stop, int64_t step);
ADJ_API adj_var *(adj_select)(adj_var *x, int axis, int64_t index);
ADJ_API adj_var *(adj_expand)(adj_var *x, int ndim, const int64_t *shape);
ADJ_API adj_var *(adj_unsqueeze)(adj_var *x, int axis);
ADJ_API adj_var *(adj_squeeze)(adj_var *x, int axis);
ADJ_API adj_var *(adj_flatten)(adj_var *x, int from, int to);
ADJ_API adj_var *(adj_contiguous)(adj_var *x);
ADJ_API adj_var *(adj_reshape)(adj_var *x, int ndim, const int64_t *shape);
ADJ_API adj_var *(adj_sum)(adj_var *x);
ADJ_API adj_var *(adj_mean)(adj_var *x);
ADJ_API adj_var *(adj_sum_axis)(adj_var *x, int axis);
ADJ_API adj_var *(adj_mean_axis)(adj_var *x, int axis);
ADJ_API adj_var *(adj_softmax)(adj_var *x);
ADJ_API adj_var *(adj_log_softmax)(adj_var *x);
ADJ_API adj_var *(adj_softmax_cross_entropy)(adj_var *logits, const int32_t *labels);
ADJ_API adj_var *(adj_mse)(adj_var *pred, adj_var *target);
ADJ_API adj_var *(adj_bce_with_logits)(adj_var *z, adj_var *t);
ADJ_API adj_var *(adj_embedding)(adj_var *table, adj_var *idx);
ADJ_API adj_var *(adj_cross_entropy)(adj_var *logits, adj_var *targets, int ignore_index);
ADJ_API adj_var *(adj_index_select)(adj_var *x, int axis, adj_var *idx);
ADJ_API adj_var *(adj_gather)(adj_var *x, int axis, adj_var *idx);
ADJ_API adj_var *(adj_scatter_add)(adj_var *x, int axis, adj_var *idx, adj_var *src);
ADJ_API adj_var *(adj_one_hot)(adj_var *idx, int classes, adj_dtype dtype);

/* maximum, minimum, comparisons, detach */
ADJ_API adj_var *adj_maximum_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_minimum_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_eq_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_ne_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_lt_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_le_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_gt_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_ge_at(adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_detach_at(adj_var *x, const char *file, int line);
ADJ_API adj_var *(adj_maximum)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_minimum)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_eq)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_ne)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_lt)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_le)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_gt)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_ge)(adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_detach)(adj_var *x);

/* reductions over several axes, and along any axis */
ADJ_API adj_var *adj_sum_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                                 const char *file, int line);
ADJ_API adj_var *adj_mean_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                                  const char *file, int line);
ADJ_API adj_var *adj_max_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                                 const char *file, int line);
ADJ_API adj_var *adj_min_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                                 const char *file, int line);
ADJ_API adj_var *adj_logsumexp_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                                       const char *file, int line);
ADJ_API adj_var *adj_var_axes_at(adj_var *x, int naxes, const int *axes, int keepdims, int ddof,
                                 const char *file, int line);
ADJ_API adj_var *adj_max_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_min_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_logsumexp_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_var_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_softmax_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_log_softmax_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *(adj_sum_axes)(adj_var *x, int naxes, const int *axes, int keepdims);
ADJ_API adj_var *(adj_mean_axes)(adj_var *x, int naxes, const int *axes, int keepdims);
ADJ_API adj_var *(adj_max_axes)(adj_var *x, int naxes, const int *axes, int keepdims);
ADJ_API adj_var *(adj_min_axes)(adj_var *x, int naxes, const int *axes, int keepdims);
ADJ_API adj_var *(adj_logsumexp_axes)(adj_var *x, int naxes, const int *axes, int keepdims);
ADJ_API adj_var *(adj_var_axes)(adj_var *x, int naxes, const int *axes, int keepdims, int ddof);
ADJ_API adj_var *(adj_max_axis)(adj_var *x, int axis);
ADJ_API adj_var *(adj_min_axis)(adj_var *x, int axis);
ADJ_API adj_var *(adj_logsumexp_axis)(adj_var *x, int axis);
ADJ_API adj_var *(adj_var_axis)(adj_var *x, int axis);
ADJ_API adj_var *(adj_softmax_axis)(adj_var *x, int axis);
ADJ_API adj_var *(adj_log_softmax_axis)(adj_var *x, int axis);

/* ------------------------------------------- joins, masks, scans, argmax */
/*
 * A mask or condition is a tensor of the operands' float dtype (the 0/1
 * result of adj_gt and the other comparisons, say): an element selects
 * when it is nonzero (NaN counts as nonzero), and no gradient flows into
 * it.  Axes may be negative, counting from the end (-1 = last).  A bad
 * axis, size or pad is an ADJ_EINVAL error on the tape naming it; shapes
 * that do not fit are ADJ_ESHAPE, naming the input.
 */
/* y = cond != 0 ? a : b elementwise; cond, a and b broadcast together by
 * NumPy's rule (as adj_add) and y has the broadcast shape.  da += dy where
 * cond != 0, db += dy elsewhere, each summed back to its own shape; cond
 * takes no gradient. */
#define adj_where(...) adj_where_at(__VA_ARGS__, ADJ_AT_)
/* y = x with value where mask != 0; mask broadcasts to x's shape (NumPy's
 * rule; y has x's shape).  value may be -INFINITY (a causal mask before
 * adj_softmax_axis: those entries get probability 0 and gradient 0).
 * dx += dy where mask == 0; the filled elements and mask take none. */
#define adj_masked_fill(...) adj_masked_fill_at(__VA_ARGS__, ADJ_AT_)
/* y = min(max(x, lo), hi) elementwise; lo = -INFINITY or hi = INFINITY
 * leaves that side open.  lo <= hi, neither NaN (else ADJ_EINVAL).  dx +=
 * dy where lo <= x <= hi: at x == lo or x == hi the gradient passes
 * (PyTorch's convention); a NaN x stays NaN and takes 0. */
#define adj_clamp(...) adj_clamp_at(__VA_ARGS__, ADJ_AT_)
/* y[..., k, ...] = sum_{j <= k} x[..., j, ...] along axis (y has x's
 * shape; a 0-D x has no axis).  Sums run in double for f32 too.  dx is
 * the reversed cumulative sum of dy: dx[j] += sum_{k >= j} dy[k]. */
#define adj_cumsum(...) adj_cumsum_at(__VA_ARGS__, ADJ_AT_)
/* y = x padded with the constant value: pads holds 2 ndim(x) sizes >= 0
 * in axis order, before then after: {before_0, after_0, before_1,
 * after_1, ...} (not PyTorch's last-axis-first order); y's size along
 * axis k is before_k + size_k + after_k.  A negative pad is ADJ_EINVAL
 * (no cropping: use adj_slice).  A 0-D x takes no pads (pads may then
 * point anywhere but not be NULL).  dx = dy's interior; the padding takes
 * no gradient. */
#define adj_pad(...) adj_pad_at(__VA_ARGS__, ADJ_AT_)
/* y = xs[0..n) joined along axis, an existing axis of theirs: all of one
 * dtype and rank >= 1, with equal sizes except along the axis; y's size
 * there is the sum of theirs.  dxs[k] += its block of dy.  A mismatch is
 * an error naming the input (x2 ...).  NULL when n < 1 or xs is NULL. */
#define adj_concat(...) adj_concat_at(__VA_ARGS__, ADJ_AT_)
/* y = xs[0..n) stacked along a new axis inserted before axis
 * (-ndim-1..ndim of the inputs): all of one shape and dtype, y's size
 * along the new axis is n (0-D inputs give (n)).  dxs[k] += dy[..., k,
 * ...].  NULL when n < 1 or xs is NULL. */
#define adj_stack(...) adj_stack_at(__VA_ARGS__, ADJ_AT_)
/* Split x along axis into n pieces of sizes[0..n) (each >= 0, adding up
 * to the axis's length): out[k] = adj_slice(x, axis, start_k, start_k +
 * sizes[k], 1), so each piece is a view of x and the gradients of the
 * pieces add up in dx.  out has room for n vars.  Returns n, or -1 after
 * an error (recorded on x's tape; every out[k] is then the tape's inert
 * var, or NULL when x is NULL). */
#define adj_split(...) adj_split_at(__VA_ARGS__, ADJ_AT_)
/* Split x along axis into pieces of ceil(len / chunks) elements, the last
 * one shorter (PyTorch's rule: there may be fewer than chunks pieces; an
 * empty axis gives one empty piece).  out has room for chunks vars;
 * those past the count are set to NULL.  Returns the number of pieces, or
 * -1 after an error, as adj_split. */
#define adj_chunk(...) adj_chunk_at(__VA_ARGS__, ADJ_AT_)
/* y = the index of the first maximum of x along axis, an ADJ_I32 index
 * tensor (the axis removed, as adj_max_axis) with no gradient; ties go to
 * the first index and a NaN counts as the maximum (NumPy's rules).  An
 * empty axis is ADJ_ESHAPE. */
#define adj_argmax_axis(...) adj_argmax_axis_at(__VA_ARGS__, ADJ_AT_)
/* the index of the first minimum, as adj_argmax_axis */
#define adj_argmin_axis(...) adj_argmin_axis_at(__VA_ARGS__, ADJ_AT_)
/* argmax over the axes, with keepdims, as adj_max_axes(x, naxes, axes,
 * keepdims) (naxes 0: every axis): the index counts the reduced elements
 * in row-major order over the reduced axes (over one axis: the index
 * along it; over every axis: the flat index, as NumPy's argmax). */
#define adj_argmax_axes(...) adj_argmax_axes_at(__VA_ARGS__, ADJ_AT_)
/* argmin over the axes, as adj_argmax_axes */
#define adj_argmin_axes(...) adj_argmin_axes_at(__VA_ARGS__, ADJ_AT_)

ADJ_API adj_var *adj_where_at(adj_var *cond, adj_var *a, adj_var *b, const char *file, int line);
ADJ_API adj_var *adj_masked_fill_at(adj_var *x, adj_var *mask, double value, const char *file,
                                    int line);
ADJ_API adj_var *adj_clamp_at(adj_var *x, double lo, double hi, const char *file, int line);
ADJ_API adj_var *adj_cumsum_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_pad_at(adj_var *x, const int64_t *pads, double value, const char *file,
                            int line);
ADJ_API adj_var *adj_concat_at(int n, adj_var *const *xs, int axis, const char *file, int line);
ADJ_API adj_var *adj_stack_at(int n, adj_var *const *xs, int axis, const char *file, int line);
ADJ_API int adj_split_at(adj_var *x, int axis, int n, const int64_t *sizes, adj_var **out,
                         const char *file, int line);
ADJ_API int adj_chunk_at(adj_var *x, int chunks, int axis, adj_var **out, const char *file,
                         int line);
ADJ_API adj_var *adj_argmax_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_argmin_axis_at(adj_var *x, int axis, const char *file, int line);
ADJ_API adj_var *adj_argmax_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                                    const char *file, int line);
ADJ_API adj_var *adj_argmin_axes_at(adj_var *x, int naxes, const int *axes, int keepdims,
                                    const char *file, int line);
ADJ_API adj_var *(adj_where)(adj_var *cond, adj_var *a, adj_var *b);
ADJ_API adj_var *(adj_masked_fill)(adj_var *x, adj_var *mask, double value);
ADJ_API adj_var *(adj_clamp)(adj_var *x, double lo, double hi);
ADJ_API adj_var *(adj_cumsum)(adj_var *x, int axis);
ADJ_API adj_var *(adj_pad)(adj_var *x, const int64_t *pads, double value);
ADJ_API adj_var *(adj_concat)(int n, adj_var *const *xs, int axis);
ADJ_API adj_var *(adj_stack)(int n, adj_var *const *xs, int axis);
ADJ_API int (adj_split)(adj_var *x, int axis, int n, const int64_t *sizes, adj_var **out);
ADJ_API int (adj_chunk)(adj_var *x, int chunks, int axis, adj_var **out);
ADJ_API adj_var *(adj_argmax_axis)(adj_var *x, int axis);
ADJ_API adj_var *(adj_argmin_axis)(adj_var *x, int axis);
ADJ_API adj_var *(adj_argmax_axes)(adj_var *x, int naxes, const int *axes, int keepdims);
ADJ_API adj_var *(adj_argmin_axes)(adj_var *x, int naxes, const int *axes, int keepdims);

/* ------------------------------------------------------- the op table */

/* Every recorded node has one of these kinds, generated from the list in
 * adjoint/op_list.h (new ops are appended, so values never change).
 * ADJ_OP_LEAF is a tensor, constant or parameter; the rest are the ops
 * above. */
typedef enum adj_op {
#define ADJ_OP_ENUM_(E, n) ADJ_OP_##E,
    ADJ_OP_LIST(ADJ_OP_ENUM_)
#undef ADJ_OP_ENUM_
    ADJ_OP_COUNT
} adj_op;

/* The op a node was recorded with. */
ADJ_API adj_op adj_var_op(const adj_var *v);
/* Short name ("matmul"); "?" for an out-of-range value. */
ADJ_API const char *adj_op_name(adj_op op);
/* Number of var inputs (for linear: 3, the bias may be NULL). */
ADJ_API int adj_op_arity(adj_op op);
/* The op's forward formula and its backward rule, for printing
 * ("y = tanh(x)", "dx += dy (1 - y^2)"). */
ADJ_API const char *adj_op_formula(adj_op op);
ADJ_API const char *adj_op_rule(adj_op op);

#ifdef __cplusplus
}
#endif
#endif
