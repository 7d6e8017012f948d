/*
 * Activations: sigmoid, tanh, ReLU, leaky ReLU, ELU, softplus, GELU (erf
 * and tanh forms), SiLU and swish.
 * Derivatives at the kink x = 0 follow the lecture notes: ReLU'(0) = 1,
 * and likewise 1 for leaky ReLU and ELU.
 */
#include "ops/unary.h"
#include "ops/vmath.h"

/* y = 1 / (1 + e^-x); both branches use e = e^-|x| <= 1, so nothing
 * positive is ever exponentiated and one exponential serves both.  Blocks
 * with every |x| <= 87 (f32) take the one-product scaling of e^-|x|
 * (ADJ_EXP_BLK, same bits).
 * y' = y (1 - y).  For x <= 2 (y <= 0.8808) that is accurate to two ulps
 * (1 - y is exact, and magnifies y's rounding at most e^2 times), and the
 * backward reads only y.  Beyond, 1 - y cancels (0 in float from x = 17
 * on, where y' is 4e-8), so y' is taken from x: 1 - y = e y, y' = e y^2. */
static const adj_op_teach sigmoid_teach = {.define = "σ(@0)"};
ADJ_UNARY_EX_Y_T(sigmoid, ADJ_OP_SIGMOID, ADJ_DOM_ANY, 0.0, "y = 1 / (1 + exp(-x))",
          "dx += dy y (1 - y)",
          ADJ_EXP_NORMAL(-fabs(x)), ADJ_EXP_NORMAL(-fabs(x)), (void)0,
          const T e = ADJ_EXP_BLK(-fabs(x));
          y = x >= 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e),
          (y <= (T)0.88079707797788231, y * ((T)1 - y),
           const T e = ADJ_EXP_BLK(-fabs(x));
           dx = x >= 0 ? e * y * y : y * ((T)1 - y)),
          const T e = ADJ_EXP_BLK(-fabs(x));
          dy = dx * (x >= 0 ? e * y * y : y * ((T)1 - y)), &sigmoid_teach);
ADJ_UNARY_API(sigmoid, ADJ_OP_SIGMOID)

/* y = tanh x;  y' = 1 - y^2 cancels for large |x| (0 in float from |x| = 9
 * on, where y' is 6e-8).  With e = e^-2|x|, |y| = (1 - e) / (1 + e), so
 * 1 - |y| = e (1 + |y|) and y' = (1 - |y|)(1 + |y|) = e (1 + |y|)^2: an
 * exponential and three products, accurate everywhere.  (Reading y alone
 * is accurate only up to |x| = 1.5, too little of the usual range for the
 * split backward of sigmoid and ELU to pay.)  Blocks with every |x| <= 43
 * (f32) scale e in one product. */
ADJ_UNARY_EX_OPT(tanh, ADJ_OP_TANH, ADJ_DOM_ANY, 0.0, "y = tanh(x)", "dx += dy (1 - y^2)",
          1, ADJ_EXP_NORMAL((T)-2 * fabs(x)), (void)0,
          y = ADJ_TANH(x),
          const T e = ADJ_EXP_BLK((T)-2 * fabs(x));
          const T u = (T)1 + fabs(y);
          dx = dy * (e * (u * u)),
          const T e = ADJ_EXP_BLK((T)-2 * fabs(x));
          const T u = (T)1 + fabs(y);
          dy = dx * (e * (u * u)));
ADJ_UNARY_API(tanh, ADJ_OP_TANH)

/* y = max(x, 0); ReLU'(0) = 1.  Selecting dy (not dy * 0) keeps -0 out;
 * a NaN input gives a NaN output (x != x), as every other op does. */
ADJ_UNARY(relu, ADJ_OP_RELU, ADJ_DOM_AWAY0, 0.0, "y = max(x, 0)", "dx += dy [x >= 0]",
          y = x > 0 || x != x ? x : (T)0,
          dx = x >= 0 ? dy : (T)0,
          dy = x >= 0 ? dx : (T)0);
ADJ_UNARY_API(relu, ADJ_OP_RELU)

/* y = x (x >= 0), c x (x < 0) */
/* Teaching: "leaky_relu(x, slope)", "elu(x, alpha)" */
static void with_c_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                          char *buf, size_t size)
{
    char c[32];
    (void)opnd;
    adj_fmt_num(c, sizeof c, adj_attr_c_get(y), 6);
    snprintf(buf, size, "%s(%s, %s)", adj_op_table[y->op]->name, ref[0], c);
}
static const adj_op_teach with_c_teach = {.define_fn = with_c_define};
ADJ_UNARY_T(leaky_relu, ADJ_OP_LEAKY_RELU, ADJ_DOM_AWAY0, 0.01, "y = x >= 0 ? x : slope x",
          "dx += dy (x >= 0 ? 1 : slope)",
          y = x >= 0 ? x : c * x,
          dx = x >= 0 ? dy : c * dy,
          dy = x >= 0 ? dx : c * dx, &with_c_teach);
ADJ_UNARY_API_C(leaky_relu, ADJ_OP_LEAKY_RELU)

/* y = x (x >= 0), c (e^x - 1) (x < 0); y' = c e^x below 0.  With c > 0,
 * y >= 0 exactly where x >= 0, and for -2 <= x < 0 (y >= c (e^-2 - 1))
 * y + c = c e^x to two ulps: the backward reads only y.  Further down
 * y + c cancels as y approaches -c (2% off at x = -20 in double, 0 in
 * float from x = -17 on), so y' is taken from x there (and for any
 * c <= 0).  Blocks whose negative arguments are all >= -87 (f32) scale
 * e^x in one product; e^min(x, 0) keeps it to arguments <= 0 (a NaN stays
 * NaN). */
ADJ_UNARY_EX_Y_T(elu, ADJ_OP_ELU, ADJ_DOM_AWAY0, 1.0, "y = x >= 0 ? x : alpha (exp(x) - 1)",
          "dx += dy (x >= 0 ? 1 : alpha exp(x))",
          1, ADJ_EXP_NORMAL(x >= 0 ? (T)0 : x), (void)0,
          y = x >= 0 ? x : c * ADJ_EXPM1(x),
          ((c > 0) & (y >= c * (T)-0.86466471676338731), y >= 0 ? (T)1 : y + c,
           const T e = ADJ_EXP_BLK(x >= 0 ? (T)0 : x);
           dx = x >= 0 ? (T)1 : c * e),
          const T e = ADJ_EXP_BLK(x >= 0 ? (T)0 : x);
          dy = x >= 0 ? dx : dx * (c * e), &with_c_teach);
ADJ_UNARY_API_C(elu, ADJ_OP_ELU)

/* y = ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|); y' = sigmoid(x), from e^-|x| as
 * above (and as there, in-range blocks scale e^-|x| in one product) */
ADJ_UNARY_EX_OPT(softplus, ADJ_OP_SOFTPLUS, ADJ_DOM_ANY, 0.0, "y = log(1 + exp(x))",
          "dx += dy sigmoid(x)",
          ADJ_EXP_NORMAL(-fabs(x)), ADJ_EXP_NORMAL(-fabs(x)), (void)0,
          y = (x > 0 ? x : (T)0) + ADJ_LOG1P_UNIT(ADJ_EXP_BLK(-fabs(x))),
          const T e = ADJ_EXP_BLK(-fabs(x));
          dx = dy * (x >= 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e)),
          const T e = ADJ_EXP_BLK(-fabs(x));
          dy = dx * (x >= 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e)));
ADJ_UNARY_API(softplus, ADJ_OP_SOFTPLUS)

/* sigmoid(z) from e^-|z|, never exponentiating a positive number */
#define ADJ_SIGM_(z, e) ((z) >= 0 ? (T)1 / ((T)1 + (e)) : (e) / ((T)1 + (e)))

/* y = x Phi(x), Phi the standard normal CDF, written as erfc(-x / sqrt 2) / 2
 * so that no 1 + erf(x) cancels for negative x; y' = Phi(x) + x phi(x).
 * float: Phi and phi in double from adj_vphif (vectorised, one exponential
 * for both); double: libm's erfc. */
#define GELU_D_(x, pd, ed) /* Phi(x) and phi(x) of a float x, in double */ \
    double ed;                                                             \
    const double pd = adj_vphif((float)(x), &ed);                          \
    ed *= 0.39894228040143267794
ADJ_UNARY(gelu, ADJ_OP_GELU, ADJ_DOM_ANY, 0.0, "y = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2",
          "dx += dy (Phi(x) + x phi(x))",
          if (sizeof(T) == sizeof(float)) {
              GELU_D_(x, gphi_, gpdf_);
              (void)gpdf_;
              y = (T)((double)x * gphi_);
          } else {
              y = x * (T)0.5 * erfc(-x * (T)0.70710678118654752440);
          },
          if (sizeof(T) == sizeof(float)) {
              GELU_D_(x, gphi_, gpdf_);
              dx = (T)((double)dy * (gphi_ + (double)x * gpdf_));
          } else {
              dx = dy * ((T)0.5 * erfc(-x * (T)0.70710678118654752440) +
                         x * (T)0.39894228040143267794 * ADJ_EXP(-(T)0.5 * x * x));
          },
          if (sizeof(T) == sizeof(float)) {
              GELU_D_(x, gphi_, gpdf_);
              dy = (T)((double)dx * (gphi_ + (double)x * gpdf_));
          } else {
              dy = dx * ((T)0.5 * erfc(-x * (T)0.70710678118654752440) +
                         x * (T)0.39894228040143267794 * ADJ_EXP(-(T)0.5 * x * x));
          });
ADJ_UNARY_API(gelu, ADJ_OP_GELU)

/* Internal (gelu's graph-mode backward, ops/graph_elem.c): y = gelu'(x) =
 * Phi(x) + x phi(x); y' = phi(x) (2 - x^2) */
ADJ_UNARY(gelu_grad, ADJ_OP_GELU_GRAD, ADJ_DOM_ANY, 0.0, "y = Phi(x) + x phi(x)",
          "dx += dy phi(x) (2 - x^2)",
          if (sizeof(T) == sizeof(float)) {
              GELU_D_(x, gphi_, gpdf_);
              y = (T)(gphi_ + (double)x * gpdf_);
          } else {
              y = (T)0.5 * erfc(-x * (T)0.70710678118654752440) +
                  x * (T)0.39894228040143267794 * ADJ_EXP(-(T)0.5 * x * x);
          },
          dx = dy * ((T)0.39894228040143267794 * ADJ_EXP(-(T)0.5 * x * x) * ((T)2 - x * x)),
          dy = dx * ((T)0.39894228040143267794 * ADJ_EXP(-(T)0.5 * x * x) * ((T)2 - x * x)));

/* y = x (1 + tanh u) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3), computed
 * as x sigmoid(2u) (the same function, no cancellation for negative x);
 * y' = s + x s (1 - s) 2u', s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 0.044715 x^2) */
ADJ_UNARY(gelu_tanh, ADJ_OP_GELU_TANH, ADJ_DOM_ANY, 0.0,
          "y = x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2",
          "dx += dy (s + x s (1 - s) 2u'), s = (1 + tanh u) / 2",
          const T u2 = (T)1.59576912160573071176 * (x + (T)0.044715 * x * x * x);
          const T e = ADJ_EXP(-fabs(u2));
          y = x * ADJ_SIGM_(u2, e),
          const T u2 = (T)1.59576912160573071176 * (x + (T)0.044715 * x * x * x);
          const T e = ADJ_EXP(-fabs(u2));
          const T s = ADJ_SIGM_(u2, e);
          dx = dy * (s + x * s * ((T)1 - s) * (T)1.59576912160573071176 *
                                 ((T)1 + (T)0.134145 * x * x)),
          const T u2 = (T)1.59576912160573071176 * (x + (T)0.044715 * x * x * x);
          const T e = ADJ_EXP(-fabs(u2));
          const T s = ADJ_SIGM_(u2, e);
          dy = dx * (s + x * s * ((T)1 - s) * (T)1.59576912160573071176 *
                                 ((T)1 + (T)0.134145 * x * x)));
ADJ_UNARY_API(gelu_tanh, ADJ_OP_GELU_TANH)

/* y = x sigmoid(x); y' = s (1 + x (1 - s)), with 1 - s = sigmoid(-x) from
 * the same e (1 - s would cancel for large x) */
ADJ_UNARY(silu, ADJ_OP_SILU, ADJ_DOM_ANY, 0.0, "y = x sigmoid(x)", "dx += dy s (1 + x (1 - s))",
          const T e = ADJ_EXP(-fabs(x));
          y = x * ADJ_SIGM_(x, e),
          const T e = ADJ_EXP(-fabs(x));
          const T s = ADJ_SIGM_(x, e);
          dx = dy * s * ((T)1 + x * ADJ_SIGM_(-x, e)),
          const T e = ADJ_EXP(-fabs(x));
          const T s = ADJ_SIGM_(x, e);
          dy = dx * s * ((T)1 + x * ADJ_SIGM_(-x, e)));
ADJ_UNARY_API(silu, ADJ_OP_SILU)

/* y = x sigmoid(beta x); y' = s + beta x s (1 - s), s = sigmoid(beta x)
 * (the beta inside the second term is the one some notes drop); 1 - s as
 * sigmoid(-beta x), as for SiLU */
ADJ_UNARY(swish, ADJ_OP_SWISH, ADJ_DOM_ANY, 1.5, "y = x sigmoid(beta x)",
          "dx += dy (s + beta x s (1 - s)), s = sigmoid(beta x)",
          const T e = ADJ_EXP(-fabs(c * x));
          y = x * ADJ_SIGM_(c * x, e),
          const T e = ADJ_EXP(-fabs(c * x));
          const T s = ADJ_SIGM_(c * x, e);
          dx = dy * (s + c * x * s * ADJ_SIGM_(-(c * x), e)),
          const T e = ADJ_EXP(-fabs(c * x));
          const T s = ADJ_SIGM_(c * x, e);
          dy = dx * (s + c * x * s * ADJ_SIGM_(-(c * x), e)));
ADJ_UNARY_API_C(swish, ADJ_OP_SWISH)
