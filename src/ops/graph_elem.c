/*
 * Graph-mode backward rules of the elementwise ops (ops/graph.h): the
 * same derivatives as the numeric kernels of ops/arith.c, ops/math.c and
 * ops/activation.c, written with ops so that they can be differentiated
 * again.  x is y's input; a unary rule is gx = gy * y'(x), with y'
 * written from x and y.  Masks at kinks follow the numeric rules (ReLU's
 * derivative is 1 at 0, a max tie gives each operand half).
 */
#include "ops/graph.h"

#define X0 (y->in[0])
#define X1 (y->in[1])

/* gin[0] = gy * d, for a unary op whose input wants an adjoint */
static bool unary_times(adj_var *y, adj_var *gy, adj_var *d, adj_var **gin)
{
    gin[0] = g_mul(gy, d);
    return adj_gok(y);
}

/* ------------------------------------------------------------- binary */

/* a comparison: piecewise constant, no adjoint flows */
ADJ_VJP_FN(mask)
{
    (void)gy;
    (void)gin;
    return adj_gok(y);
}

ADJ_VJP_FN(add)
{
    if (adj_gwants(y, 0))
        gin[0] = adj_gsum_to(gy, X0);
    if (adj_gwants(y, 1))
        gin[1] = adj_gsum_to(gy, X1);
    return adj_gok(y);
}

ADJ_VJP_FN(sub)
{
    if (adj_gwants(y, 0))
        gin[0] = adj_gsum_to(gy, X0);
    if (adj_gwants(y, 1))
        gin[1] = adj_gsum_to(g_neg(gy), X1);
    return adj_gok(y);
}

ADJ_VJP_FN(mul)
{
    if (adj_gwants(y, 0))
        gin[0] = adj_gsum_to(g_mul(gy, X1), X0);
    if (adj_gwants(y, 1))
        gin[1] = adj_gsum_to(g_mul(gy, X0), X1);
    return adj_gok(y);
}

/* da = gy / b, db = -gy y / b */
ADJ_VJP_FN(div)
{
    if (adj_gwants(y, 0))
        gin[0] = adj_gsum_to(g_div(gy, X1), X0);
    if (adj_gwants(y, 1))
        gin[1] = adj_gsum_to(g_neg(g_div(g_mul(gy, y), X1)), X1);
    return adj_gok(y);
}

/* the share of operand `first` of a max (gt) or min (lt): 1 where it
 * wins, 1/2 at a tie */
static adj_var *extremum_share(adj_var *a, adj_var *b, bool max)
{
    adj_var *win = max ? adj_gt_at(a, b, NULL, 0) : adj_lt_at(a, b, NULL, 0);
    return g_add(win, g_scale(adj_eq_at(a, b, NULL, 0), 0.5));
}

static bool extremum(adj_var *y, adj_var *gy, adj_var **gin, bool max)
{
    if (adj_gwants(y, 0))
        gin[0] = adj_gsum_to(g_mul(gy, extremum_share(X0, X1, max)), X0);
    if (adj_gwants(y, 1))
        gin[1] = adj_gsum_to(g_mul(gy, extremum_share(X1, X0, max)), X1);
    return adj_gok(y);
}

ADJ_VJP_FN(maximum) { return extremum(y, gy, gin, true); }
ADJ_VJP_FN(minimum) { return extremum(y, gy, gin, false); }

/* -------------------------------------------------------------- unary */

ADJ_VJP_FN(neg)
{
    gin[0] = g_neg(gy);
    return adj_gok(y);
}

ADJ_VJP_FN(scale)
{
    gin[0] = g_scale(gy, adj_attr_c_get(y));
    return adj_gok(y);
}

/* exp' = y */
ADJ_VJP_FN(exp) { return unary_times(y, gy, y, gin); }

/* log' = 1 / x */
ADJ_VJP_FN(log)
{
    gin[0] = g_div(gy, X0);
    return adj_gok(y);
}

/* sqrt' = 1 / (2 y) */
ADJ_VJP_FN(sqrt)
{
    gin[0] = g_div(gy, g_scale(y, 2.0));
    return adj_gok(y);
}

/* (x^2)' = 2x */
ADJ_VJP_FN(square) { return unary_times(y, gy, g_scale(X0, 2.0), gin); }

/* (x^p)' = p x^(p-1) */
ADJ_VJP_FN(pow)
{
    const double p = adj_attr_c_get(y);
    return unary_times(y, gy, g_scale(adj_pow_at(X0, p - 1.0, NULL, 0), p), gin);
}

/* |x|' = sign(x) (0 at 0) */
ADJ_VJP_FN(abs) { return unary_times(y, gy, g_sub(g_gtc(X0, 0.0), g_ltc(X0, 0.0)), gin); }

ADJ_VJP_FN(sin) { return unary_times(y, gy, adj_cos_at(X0, NULL, 0), gin); }
ADJ_VJP_FN(cos) { return unary_times(y, gy, g_neg(adj_sin_at(X0, NULL, 0)), gin); }

/* tanh'(x) from t = tanh x, accurate, and with an accurate derivative of
 * its own.  1 - t^2 cancels for large |x| (0 in float from |x| = 9 on);
 * there tanh' = e (1 + |t|)^2 with e = e^-2|x|, as in the first-order
 * backward (ops/activation.c).  For |x| < 0.5 (|t| < 0.47) it is 1 - t^2,
 * whose derivative -2 t tanh' keeps the factor t: that of e (1 + |t|)^2
 * is a difference of two terms 1/|t| times larger than it. */
static adj_var *tanh_slope(adj_var *x, adj_var *t)
{
    adj_var *ax = adj_abs_at(x, NULL, 0);
    adj_var *e = adj_exp_at(g_scale(ax, -2.0), NULL, 0);
    adj_var *far = g_mul(e, adj_square_at(g_addc(adj_abs_at(t, NULL, 0), 1.0), NULL, 0));
    adj_var *near = g_rsubc(1.0, adj_square_at(t, NULL, 0));
    return adj_where_at(g_ltc(ax, 0.5), near, far, NULL, 0);
}

/* sigmoid' = y (1 - y) = tanh'(x / 2) / 4: 1 - y cancels for large x (0
 * in float from x = 17 on), and the derivative of y (1 - y), y' (1 - 2y),
 * near 0 */
ADJ_VJP_FN(sigmoid)
{
    adj_var *h = g_scale(X0, 0.5);
    return unary_times(y, gy, g_scale(tanh_slope(h, adj_tanh_at(h, NULL, 0)), 0.25), gin);
}

ADJ_VJP_FN(tanh) { return unary_times(y, gy, tanh_slope(X0, y), gin); }

/* relu' = [x >= 0] */
ADJ_VJP_FN(relu) { return unary_times(y, gy, g_gec(X0, 0.0), gin); }

/* [x >= 0] + slope [x < 0] = slope + (1 - slope) [x >= 0] */
ADJ_VJP_FN(leaky_relu)
{
    const double c = adj_attr_c_get(y);
    return unary_times(y, gy, g_addc(g_scale(g_gec(X0, 0.0), 1.0 - c), c), gin);
}

/* elu' = [x >= 0] + [x < 0] alpha e^x, with e^min(x, 0) (no overflow where
 * it is masked off); not y + alpha, which cancels as y approaches -alpha */
ADJ_VJP_FN(elu)
{
    const double c = adj_attr_c_get(y);
    adj_var *e = adj_exp_at(adj_minimum_at(X0, adj_gscalar(X0, 0.0), NULL, 0), NULL, 0);
    adj_var *below = g_mul(g_ltc(X0, 0.0), g_scale(e, c));
    return unary_times(y, gy, g_add(g_gec(X0, 0.0), below), gin);
}

/* softplus' = sigmoid(x) */
ADJ_VJP_FN(softplus) { return unary_times(y, gy, adj_sigmoid_at(X0, NULL, 0), gin); }

/* gelu' = Phi(x) + x phi(x): the internal op gelu_grad (Phi has no
 * closed form in the other ops) */
ADJ_VJP_FN(gelu)
{
    adj_var *in[1] = {X0};
    return unary_times(y, gy, adj_record(ADJ_OP_GELU_GRAD, in, 1, NULL, NULL, 0), gin);
}

/* gelu_grad' = 2 phi(x) - x^2 phi(x) = phi(x) (2 - x^2), phi(x) =
 * exp(-x^2 / 2) / sqrt(2 pi) */
ADJ_VJP_FN(gelu_grad)
{
    adj_var *x2 = adj_square_at(X0, NULL, 0);
    adj_var *phi = g_scale(adj_exp_at(g_scale(x2, -0.5), NULL, 0), 0.39894228040143267794);
    return unary_times(y, gy, g_mul(phi, g_rsubc(2.0, x2)), gin);
}

/* gelu_tanh' = s + x s (1 - s) 2u', s = sigmoid(2u), 2u = k (x + 0.044715 x^3),
 * 2u' = k (1 + 0.134145 x^2), k = 2 sqrt(2 / pi); 1 - s as sigmoid(-2u)
 * (1 - s cancels for large x, and so would the rule's derivative) */
ADJ_VJP_FN(gelu_tanh)
{
    const double k = 1.59576912160573071176;
    adj_var *x = X0, *x2 = adj_square_at(x, NULL, 0);
    adj_var *u2 = g_scale(g_add(x, g_scale(g_mul(x2, x), 0.044715)), k);
    adj_var *s = adj_sigmoid_at(u2, NULL, 0);
    adj_var *du2 = g_scale(g_addc(g_scale(x2, 0.134145), 1.0), k);
    adj_var *d = g_add(s, g_mul(g_mul(x, g_mul(s, adj_sigmoid_at(g_neg(u2), NULL, 0))), du2));
    return unary_times(y, gy, d, gin);
}

/* silu' = s (1 + x (1 - s)), s = sigmoid(x), 1 - s = sigmoid(-x) (as in
 * the first-order backward: 1 - s cancels for large x, and its
 * derivative, in silu'', would lose everything) */
ADJ_VJP_FN(silu)
{
    adj_var *s = adj_sigmoid_at(X0, NULL, 0), *r = adj_sigmoid_at(g_neg(X0), NULL, 0);
    return unary_times(y, gy, g_mul(s, g_addc(g_mul(X0, r), 1.0)), gin);
}

/* swish' = s + beta x s (1 - s), s = sigmoid(beta x), 1 - s = sigmoid(-beta x) */
ADJ_VJP_FN(swish)
{
    const double c = adj_attr_c_get(y);
    adj_var *bx = g_scale(X0, c);
    adj_var *s = adj_sigmoid_at(bx, NULL, 0), *r = adj_sigmoid_at(g_neg(bx), NULL, 0);
    return unary_times(y, gy, g_add(s, g_mul(bx, g_mul(s, r))), gin);
}
