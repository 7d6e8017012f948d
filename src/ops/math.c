/*
 * Elementwise math: exp, log, sqrt, square, pow, abs, sin, cos, neg, scale.
 * Each op's local derivative stands right under its forward.  Where the
 * local derivative is infinite (log, sqrt and pow at 0), a zero upstream
 * adjoint passes on 0, never 0 * inf = NaN.
 */
#include "ops/unary.h"
#include "ops/vmath.h"

/* y = e^x; blocks whose arguments are all in [-87, 88] (f32) or
 * [-708, 709] (f64) scale by 2^k in one product (see ADJ_EXP_BLK); the
 * fast code only does bit operations on unsigned integers, so the forward
 * may try it first on any block (ADJ_UNARY_EX_OPT); the backward reads
 * y alone (ADJ_UNARY_EX_OPT_YONLY) */
ADJ_UNARY_EX_OPT_YONLY(exp, ADJ_OP_EXP, ADJ_DOM_ANY, 0.0, "y = exp(x)", "dx += dy y",
          ADJ_EXP_NORMAL(x), (void)0,
          y = ADJ_EXP_BLK(x),
          dx = dy * y,
          dy = dx * y);
ADJ_UNARY_API(exp, ADJ_OP_EXP)

/* y = ln x */
ADJ_UNARY(log, ADJ_OP_LOG, ADJ_DOM_POS, 0.0, "y = log(x)", "dx += dy / x",
          y = ADJ_LOG(x),
          dx = dy == 0 ? (T)0 : dy / x,
          dy = dx == 0 ? (T)0 : dx / x);
ADJ_UNARY_API(log, ADJ_OP_LOG)

/* y = sqrt(x) */
ADJ_UNARY(sqrt, ADJ_OP_SQRT, ADJ_DOM_POS, 0.0, "y = sqrt(x)", "dx += dy / (2 y)",
          y = sqrt(x),
          dx = dy == 0 ? (T)0 : dy / ((T)2 * y),
          dy = dx == 0 ? (T)0 : dx / ((T)2 * y));
ADJ_UNARY_API(sqrt, ADJ_OP_SQRT)

/* y = x^2 */
static const adj_op_teach square_teach = {.define = "$0²"};
ADJ_UNARY_T(square, ADJ_OP_SQUARE, ADJ_DOM_ANY, 0.0, "y = x^2", "dx += dy 2x",
          y = x * x,
          dx = dy * (T)2 * x,
          dy = (T)2 * x * dx, &square_teach);
ADJ_UNARY_API(square, ADJ_OP_SQUARE)

/* y = x^c */
/* float32 through ADJ_POW (vmath.h), float64 through libm; what depends
 * only on c (and c - 1) is worked out once per range */
static void pow_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                       char *buf, size_t size)
{
    char p[32];
    (void)ref;
    adj_fmt_num(p, sizeof p, adj_attr_c_get(y), 6);
    snprintf(buf, size, "%s^%s", opnd[0], p);
}
static const adj_op_teach pow_teach = {.define_fn = pow_define};
ADJ_UNARY_EX_T(pow, ADJ_OP_POW, ADJ_DOM_POS, 2.5, "y = x^p", "dx += dy p x^(p-1)",
          1,
          const adj_vm_powc pc_ = adj_vm_powc_of((double)c);
          const adj_vm_powc pc1_ = adj_vm_powc_of((double)(c - (T)1));
          (void)pc_;
          (void)pc1_,
          y = ADJ_POW(x, pc_),
          dx = dy == 0 || c == 0 ? (T)0 : dy * c * ADJ_POW(x, pc1_), /* x^0: 0, not 0 * inf at 0 */
          dy = dx == 0 || c == 0 ? (T)0 : c * ADJ_POW(x, pc1_) * dx, &pow_teach);
ADJ_UNARY_API_C(pow, ADJ_OP_POW)

/* y = |x|; the derivative at 0 is taken as 0 (a kink) */
static const adj_op_teach abs_teach = {.define = "|@0|"};
ADJ_UNARY_T(abs, ADJ_OP_ABS, ADJ_DOM_AWAY0, 0.0, "y = |x|", "dx += dy sign(x)",
          y = fabs(x),
          dx = x > 0 ? dy : x < 0 ? -dy : (T)0,
          dy = x > 0 ? dx : x < 0 ? -dx : (T)0, &abs_teach);
ADJ_UNARY_API(abs, ADJ_OP_ABS)

/* y = sin x; blocks with an argument outside ADJ_TRIG_OK (|x| > 2^12 in
 * f32, 2^20 in f64, Inf, NaN) choose per element (see ADJ_SIN) */
ADJ_UNARY_EX(sin, ADJ_OP_SIN, ADJ_DOM_ANY, 0.0, "y = sin(x)", "dx += dy cos(x)",
          ADJ_TRIG_OK(x), (void)0,
          y = ADJ_SIN(x),
          dx = dy * ADJ_COS(x),
          dy = ADJ_COS(x) * dx);
ADJ_UNARY_API(sin, ADJ_OP_SIN)

/* y = cos x */
ADJ_UNARY_EX(cos, ADJ_OP_COS, ADJ_DOM_ANY, 0.0, "y = cos(x)", "dx += -dy sin(x)",
          ADJ_TRIG_OK(x), (void)0,
          y = ADJ_COS(x),
          dx = -dy * ADJ_SIN(x),
          dy = -ADJ_SIN(x) * dx);
ADJ_UNARY_API(cos, ADJ_OP_COS)

/* y = -x */
static const adj_op_teach neg_teach = {.define = "-$0"};
ADJ_UNARY_T(neg, ADJ_OP_NEG, ADJ_DOM_ANY, 0.0, "y = -x", "dx += -dy",
          y = -x,
          dx = -dy,
          dy = -dx, &neg_teach);
ADJ_UNARY_API(neg, ADJ_OP_NEG)

/* y = c x */
static void scale_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                         char *buf, size_t size)
{
    char c[32];
    (void)ref;
    adj_fmt_num(c, sizeof c, adj_attr_c_get(y), 6);
    snprintf(buf, size, "%s · %s", c, opnd[0]);
}
static void scale_partial(const adj_var *y, int k, const char *const *ref, char *buf, size_t size)
{
    (void)k;
    (void)ref;
    adj_fmt_num(buf, size, adj_attr_c_get(y), 6); /* d(c x)/dx = c */
}
static const adj_op_teach scale_teach = {.define_fn = scale_define, .partial = scale_partial};
ADJ_UNARY_T(scale, ADJ_OP_SCALE, ADJ_DOM_ANY, -1.5, "y = c x", "dx += c dy",
          y = c * x,
          dx = c * dy,
          dy = c * dx, &scale_teach);
ADJ_UNARY_API_C(scale, ADJ_OP_SCALE)
