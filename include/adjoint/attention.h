/*
 * adjoint/attention.h — scaled dot-product attention as one op.
 */
#ifndef ADJOINT_ATTENTION_H
#define ADJOINT_ATTENTION_H

#include "core.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * O = softmax(scale Q Kᵀ) V over the kept keys, one fused node.
 *
 * q (..., T, D), k (..., S, D), v (..., S, Dv): the leading (batch, head)
 * dims broadcast with NumPy's rule (equal, or 1, or missing), so k and v
 * may be shared by every head; the result is (batch..., T, Dv).  scale 0
 * means 1/sqrt(D).
 *
 * mask (NULL for none) is a var of q's dtype that broadcasts to
 * (batch..., T, S) without enlarging the batch; it is boolean, not
 * additive: key j is kept for query i where mask[..., i, j] > 0 (a 0/1
 * mask: 1 keeps, 0 drops) -- the composition softmax(masked_fill(scale Q
 * Kᵀ, mask <= 0, -inf)) V.  causal nonzero also drops every key j > i
 * (aligned at the top left, as torch.ones(T, S).tril() does).  A query
 * with no kept key gets a row of zeros (the composition would give NaN),
 * and no gradient flows through that row.  The mask takes no gradient.
 *
 * The forward is blockwise (an online softmax over blocks of 64 keys) and
 * keeps only one log-sum-exp per query row, not the (T, S) probabilities;
 * the backward recomputes them block by block.  Memory beyond the inputs
 * and output is O(batch T) plus a fixed workspace per thread.
 *
 * Errors (sticky, on the tape): q, k or v below 2-D, k and q differing in
 * D, k and v differing in S, batch dims that do not broadcast, a mask that
 * does not broadcast to (..., T, S) (ADJ_ESHAPE); a scale that is NaN or
 * infinite (ADJ_EINVAL); mixed dtypes (ADJ_EDTYPE).
 */
#define adj_scaled_dot_product_attention(...)                                                      \
    adj_scaled_dot_product_attention_at(__VA_ARGS__, ADJ_AT_)
ADJ_API adj_var *adj_scaled_dot_product_attention_at(adj_var *q, adj_var *k, adj_var *v,
                                                     adj_var *mask, int causal, double scale,
                                                     const char *file, int line);
ADJ_API adj_var *(adj_scaled_dot_product_attention)(adj_var *q, adj_var *k, adj_var *v,
                                                    adj_var *mask, int causal, double scale);

#ifdef __cplusplus
}
#endif
#endif
