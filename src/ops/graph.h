/*
 * Internal: what the graph-mode backward rules (the descriptors' vjp
 * hooks, ops/op.h) share.  A rule records the adjoint of each input with
 * ordinary ops, so the result is a var that can be differentiated again;
 * nothing of the numeric backward is reused.  Conventions:
 *   - masks (where an input is positive, which operand won a max) are
 *     comparisons (adj_gt...), constants of the tape: no gradient flows
 *     through them, as the derivative of a step is 0 where it exists;
 *   - a rule gives each input an adjoint of exactly its shape: where an
 *     operand was broadcast, adj_gsum_to sums the adjoint back;
 *   - the nodes carry no call site (file NULL): messages name the op;
 *   - y and gy are nodes; the ops a rule calls return handles
 *     (core/handle.h), which the helpers below and the sweep take; read
 *     a field of one only through adj_h_raw.
 */
#ifndef ADJ_OPS_GRAPH_H
#define ADJ_OPS_GRAPH_H

#include "ops/op.h"

/* g summed back to like's shape, where like's shape broadcasts to g's
 * (the adjoint of a broadcast operand); g itself when the shapes are
 * equal.  The tape's inert var after an error. */
adj_var *adj_gsum_to(adj_var *g, const adj_var *like);

/* A 0-D constant c of like's dtype on like's tape (broadcasts against
 * anything). */
adj_var *adj_gscalar(const adj_var *like, double c);

/* A constant of like's shape and dtype holding c everywhere (a 0-D
 * constant expanded: no storage of like's size). */
adj_var *adj_gfull(const adj_var *like, double c);

/* The adjoint of any view op (ops/view.c): gy, the adjoint of view node
 * `view`, scattered into zeros of the shape of view's input through the
 * view's layout (repeated elements of an expand summed).  One node of the
 * internal op view_grad, whose own rule applies the view again. */
adj_var *adj_gview_grad(adj_var *view, adj_var *gy);

/* Whether a rule must give input k of y an adjoint (present, and wants
 * one). */
static inline bool adj_gwants(const adj_var *y, int k)
{
    const adj_var *x = adj_input(adj_h_raw(y), k);
    return x && (x->flags & ADJ_F_GRAD);
}

/* A rule's return value: no error on y's tape. */
static inline bool adj_gok(const adj_var *y)
{
    return adj_node_tape(adj_h_raw(y))->status == ADJ_OK;
}

/* Short forms for the rules. */
static inline adj_var *g_add(adj_var *a, adj_var *b) { return adj_add_at(a, b, NULL, 0); }
static inline adj_var *g_sub(adj_var *a, adj_var *b) { return adj_sub_at(a, b, NULL, 0); }
static inline adj_var *g_mul(adj_var *a, adj_var *b) { return adj_mul_at(a, b, NULL, 0); }
static inline adj_var *g_div(adj_var *a, adj_var *b) { return adj_div_at(a, b, NULL, 0); }
static inline adj_var *g_neg(adj_var *a) { return adj_neg_at(a, NULL, 0); }
static inline adj_var *g_scale(adj_var *a, double c) { return adj_scale_at(a, c, NULL, 0); }
/* c + a, with c a 0-D constant */
static inline adj_var *g_addc(adj_var *a, double c) { return g_add(a, adj_gscalar(a, c)); }
/* c - a */
static inline adj_var *g_rsubc(double c, adj_var *a) { return g_sub(adj_gscalar(a, c), a); }
/* the 0/1 masks [a > c], [a >= c], [a == b] (constants) */
static inline adj_var *g_gtc(adj_var *a, double c) { return adj_gt_at(a, adj_gscalar(a, c), NULL, 0); }
static inline adj_var *g_gec(adj_var *a, double c) { return adj_ge_at(a, adj_gscalar(a, c), NULL, 0); }
static inline adj_var *g_ltc(adj_var *a, double c) { return adj_lt_at(a, adj_gscalar(a, c), NULL, 0); }

/* The graph-mode rules of the ops made by the elementwise macros
 * (ops/unary.h, ops/arith.c), defined in ops/graph_elem.c; mask: the
 * comparisons', which give no adjoint (a step's derivative is 0). */
#define ADJ_VJP_FN(nm) bool adj_vjp_##nm(adj_var *y, adj_var *gy, adj_var **gin)
#define ADJ_VJP_DECL_(nm) ADJ_VJP_FN(nm);
#define ADJ_VJP_ELEMENTWISE(X)                                                 \
    X(add) X(sub) X(mul) X(div) X(maximum) X(minimum)                          \
    X(neg) X(scale) X(exp) X(log) X(sqrt) X(square) X(pow) X(abs) X(sin) X(cos) \
    X(sigmoid) X(tanh) X(relu) X(leaky_relu) X(elu) X(softplus) X(gelu)        \
    X(gelu_tanh) X(silu) X(swish) X(gelu_grad) X(mask)
ADJ_VJP_ELEMENTWISE(ADJ_VJP_DECL_)
#undef ADJ_VJP_DECL_

#endif
