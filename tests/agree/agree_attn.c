/*
 * Agreement cases of the attention ops: one builder per op
 * name that agree_attn.py sends (see agree.h).
 */
#include "agree.h"

#include <adjoint/attention.h>

/* q, k, v want gradients; the mask (absent or 0/1) is a constant. */
static adj_var *sdpa(agree_ctx *c)
{
    return adj_scaled_dot_product_attention(agree_var(c, "q"), agree_var(c, "k"), agree_var(c, "v"),
                                            agree_const(c, "mask"), (int)agree_attr(c, "causal", 0),
                                            agree_attr(c, "scale", 0));
}

const agree_entry agree_attn_ops[] = {
    {"scaled_dot_product_attention", sdpa},
    {NULL, NULL},
};
