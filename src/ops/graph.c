/*
 * Helpers of the graph-mode backward rules (ops/graph.h).
 */
#include "ops/graph.h"

adj_var *adj_gscalar(const adj_var *like, double c)
{
    like = adj_h_raw(like);
    adj_tape *t = adj_node_tape(like);
    float f = (float)c;
    return adj_leaf_at(t, (adj_dtype)like->dtype, 0, NULL,
                       like->dtype == ADJ_F64 ? (const void *)&c : (const void *)&f, 0, NULL, 0);
}

adj_var *adj_gfull(const adj_var *like, double c)
{
    like = adj_h_raw(like);
    return adj_expand_at(adj_gscalar(like, c), like->ndim, adj_cold(like)->shape, NULL, 0);
}

adj_var *adj_gsum_to(adj_var *g, const adj_var *like)
{
    /* handles from the rule's ops: their nodes */
    g = adj_h_raw(g);
    like = adj_h_raw(like);
    if (adj_same_shape(g, like))
        return g;
    /* the axes of g that like lacks (leading) or has as 1 while g does not */
    const int gd = g->ndim, ld = like->ndim, lead = gd - ld;
    const int64_t *gs = adj_cold(g)->shape, *ls = adj_cold(like)->shape;
    int axes[ADJ_MAX_DIMS], n = 0;
    for (int i = 0; i < gd; i++)
        if (i < lead || (ls[i - lead] == 1 && gs[i] != 1))
            axes[n++] = i;
    adj_var *s = n ? adj_sum_axes_at(g, n, axes, 1, NULL, 0) : g;
    return adj_reshape_at(s, ld, ls, NULL, 0);
}
