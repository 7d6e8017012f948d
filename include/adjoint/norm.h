/*
 * adjoint/norm.h — normalisation ops: layer norm, RMS norm, group norm and
 * batch norm, each one fused node (forward, backward for every input,
 * tangent rule), as in torch.nn.functional.
 *
 * Statistics are computed in double whatever the dtype, in two passes
 * (the mean, then the mean squared deviation), so an offset much larger
 * than the spread costs no digits; each node saves the mean and
 * 1/sqrt(var + eps) of every normalised group for its backward.  The
 * variance is the population one (divisor N).  eps must be finite and
 * >= 0.  w and b are optional (NULL): absent, w counts as 1 and b as 0.
 * Errors are recorded on x's tape like every op's (ADJ_ESHAPE for a w or
 * b of the wrong shape, ADJ_EINVAL for a bad count, eps or momentum).
 */
#ifndef ADJOINT_NORM_H
#define ADJOINT_NORM_H

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Layer normalisation over the last normalized_ndim (1..ndim(x))
 * dimensions of x: y = (x - mean) / sqrt(var + eps) * w + b, w and b of
 * the normalised dimensions' shape (or NULL). */
#define adj_layer_norm(...) adj_layer_norm_at(__VA_ARGS__, ADJ_AT_)
/* RMS normalisation over the last dimension of x (at least 1-D):
 * y = x / sqrt(mean(x^2) + eps) * w, w of shape (last dim) or NULL. */
#define adj_rms_norm(...) adj_rms_norm_at(__VA_ARGS__, ADJ_AT_)
/* Group normalisation of x (N, C, ...): the C channels split into
 * `groups` consecutive groups (groups must divide C); each (sample, group)
 * is normalised over its channels and positions, then
 * y = xhat * w[c] + b[c] with w, b of shape (C) or NULL. */
#define adj_group_norm(...) adj_group_norm_at(__VA_ARGS__, ADJ_AT_)
/* Batch normalisation of x (N, C) or (N, C, ...) per channel c, over the
 * batch and positions, y = (x - mean_c) / sqrt(var_c + eps) * w[c] + b[c]
 * (w, b of shape (C) or NULL).
 * The running statistics are the caller's arrays of C doubles (whatever
 * x's dtype), not vars: they take no gradient.  Both NULL: the batch's
 * statistics are used, in training and evaluation.  Otherwise both must
 * be given, and
 *   training != 0: the batch's statistics normalise x, and after the node
 *     is recorded running_mean = (1 - momentum) running_mean + momentum
 *     mean and running_var = (1 - momentum) running_var + momentum
 *     var * n / (n - 1) (the unbiased variance, n values per channel), as
 *     PyTorch does; a batch with one value per channel (n = 1) is
 *     ADJ_ESHAPE;
 *   training == 0: the running statistics normalise x (read when the op
 *     is recorded), and x's gradient is dy w / sqrt(running_var + eps).
 * momentum must be in [0, 1]. */
#define adj_batch_norm(...) adj_batch_norm_at(__VA_ARGS__, ADJ_AT_)

ADJ_API adj_var *adj_layer_norm_at(adj_var *x, int normalized_ndim, adj_var *w, adj_var *b,
                                   double eps, const char *file, int line);
ADJ_API adj_var *adj_rms_norm_at(adj_var *x, adj_var *w, double eps, const char *file, int line);
ADJ_API adj_var *adj_group_norm_at(adj_var *x, int groups, adj_var *w, adj_var *b, double eps,
                                   const char *file, int line);
ADJ_API adj_var *adj_batch_norm_at(adj_var *x, adj_var *w, adj_var *b, double *running_mean,
                                   double *running_var, int training, double momentum, double eps,
                                   const char *file, int line);
ADJ_API adj_var *(adj_layer_norm)(adj_var *x, int normalized_ndim, adj_var *w, adj_var *b,
                                  double eps);
ADJ_API adj_var *(adj_rms_norm)(adj_var *x, adj_var *w, double eps);
ADJ_API adj_var *(adj_group_norm)(adj_var *x, int groups, adj_var *w, adj_var *b, double eps);
ADJ_API adj_var *(adj_batch_norm)(adj_var *x, adj_var *w, adj_var *b, double *running_mean,
                                  double *running_var, int training, double momentum,
                                  double eps);

#ifdef __cplusplus
}
#endif
#endif
