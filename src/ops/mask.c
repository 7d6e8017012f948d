/*
 * Selection and masks that are not elementwise arithmetic: detach.
 */
#include "ops/op.h"

/* A constant leaf that views x's values: nothing flows back into x. */
adj_var *adj_detach_at(adj_var *x, const char *file, int line)
{
    x = adj_h_in_at(x, "adj_detach", file, line);
    if (!x)
        return NULL;
    adj_tape *t = adj_node_tape(x);
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    if ((x->flags & ADJ_F_INERT) || adj_cold(x)->gen != t->gen || adj_cold(x)->id >= t->nnodes) {
        adj_tape_fail(t, ADJ_ETAPE, "adj_detach: input x was recorded before adj_tape_reset%s%s%s%.0d%s",
                      file ? " [at " : "", file ? file : "", file ? ":" : "", file ? line : 0,
                      file ? "]" : "");
        return adj_h_out(t->inert);
    }
    return adj_h_out(adj_leaf_view(t, (adj_dtype)x->dtype, x->ndim, adj_cold(x)->shape, x->value,
                                   0, file, line));
}
ADJ_FN1(detach)
