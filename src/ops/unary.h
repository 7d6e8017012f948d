/*
 * Internal: one macro that turns an elementwise op, written as its math,
 * into float and double kernels, a descriptor and the public functions.
 *
 *     ADJ_UNARY(exp, ADJ_OP_EXP, ADJ_DOM_ANY, 0.0,
 *               "y = exp(x)", "dx += dy y",
 *               y = exp(x),             <- forward: x -> y
 *               dx = dy * y,            <- backward: x, y, dy (adjoint) -> dx
 *               dy = dx * y)            <- forward mode: x, y, dx (tangent) -> dy
 *
 * Inside the expressions T is the element type (float or double), c is
 * the op's constant (slope, alpha, p, scale), and <tgmath.h> picks expf or
 * exp by type.  The loops are plain so the compiler vectorises them.
 */
#ifndef ADJ_OPS_UNARY_H
#define ADJ_OPS_UNARY_H

#include "ops/op.h"

#include <tgmath.h>

#define ADJ_UNARY_LOOPS_(TY, FWD)                                               \
    do {                                                                       \
        typedef TY T;                                                          \
        const T *restrict xs_ = y_->in[0]->value;                              \
        T *restrict ys_ = y_->value;                                           \
        const T c = (T)adj_cold(y_)->darg;                                               \
        (void)c;                                                               \
        for (size_t i_ = 0; i_ < n_; i_++) {                                   \
            const T x = xs_[i_];                                               \
            T y;                                                               \
            FWD;                                                               \
            ys_[i_] = y;                                                       \
        }                                                                      \
    } while (0)

#define ADJ_UNARY_BACK_(TY, BWD)                                                \
    do {                                                                       \
        typedef TY T;                                                          \
        const T *restrict xs_ = x_->value;                                     \
        const T *restrict ys_ = y_->value;                                     \
        const T *restrict dys_ = y_->grad;                                     \
        T *restrict dxs_ = g_;                                                 \
        const T c = (T)adj_cold(y_)->darg;                                               \
        (void)c;                                                               \
        for (size_t i_ = 0; i_ < n_; i_++) {                                   \
            const T x = xs_[i_], y = ys_[i_], dy = dys_[i_];                   \
            T dx;                                                              \
            (void)x;                                                           \
            (void)y;                                                           \
            BWD;                                                               \
            dxs_[i_] += dx;                                                    \
        }                                                                      \
    } while (0)

#define ADJ_UNARY_TAN_(TY, TAN)                                                  \
    do {                                                                       \
        typedef TY T;                                                          \
        const T *restrict xs_ = y_->in[0]->value;                              \
        const T *restrict ys_ = y_->value;                                     \
        const T *restrict dxs_ = tx_[0];                                       \
        T *restrict dys_ = ty_;                                                \
        const T c = (T)adj_cold(y_)->darg;                                               \
        (void)c;                                                               \
        for (size_t i_ = 0; i_ < n_; i_++) {                                   \
            const T x = xs_[i_], y = ys_[i_], dx = dxs_[i_];                   \
            T dy;                                                              \
            (void)x;                                                           \
            (void)y;                                                           \
            TAN;                                                               \
            dys_[i_] = dy;                                                     \
        }                                                                      \
    } while (0)

#define ADJ_UNARY(nm, OPID, DOM, TESTARG, FORMULA, RULE, FWD, BWD, TAN)         \
    static void nm##_forward(adj_var *y_)                                      \
    {                                                                          \
        const size_t n_ = adj_cold(y_)->numel;                                           \
        if (y_->dtype == ADJ_F64)                                              \
            ADJ_UNARY_LOOPS_(double, FWD);                                     \
        else                                                                   \
            ADJ_UNARY_LOOPS_(float, FWD);                                      \
    }                                                                          \
    static void nm##_backward(adj_var *y_)                                     \
    {                                                                          \
        adj_var *x_ = y_->in[0];                                               \
        if (!(x_->flags & ADJ_F_GRAD))                                         \
            return;                                                            \
        void *g_ = adj_grad_buf(x_);                                           \
        if (!g_)                                                               \
            return;                                                            \
        const size_t n_ = adj_cold(y_)->numel;                                           \
        if (y_->dtype == ADJ_F64)                                              \
            ADJ_UNARY_BACK_(double, BWD);                                      \
        else                                                                   \
            ADJ_UNARY_BACK_(float, BWD);                                       \
    }                                                                          \
    static void nm##_jvp(const adj_var *y_, const void *const *tx_, void *ty_) \
    {                                                                          \
        const size_t n_ = adj_cold(y_)->numel;                                           \
        if (y_->dtype == ADJ_F64)                                              \
            ADJ_UNARY_TAN_(double, TAN);                                       \
        else                                                                   \
            ADJ_UNARY_TAN_(float, TAN);                                        \
    }                                                                          \
    static double nm##_scalar_fwd(double a_, double b_, double c_)             \
    {                                                                          \
        typedef double T;                                                      \
        const T x = a_, c = c_;                                                \
        T y;                                                                   \
        (void)b_;                                                              \
        (void)c;                                                               \
        FWD;                                                                   \
        return y;                                                              \
    }                                                                          \
    static void nm##_scalar_bwd(double a_, double b_, double y_, double dy_,   \
                                double c_, double *da_, double *db_)           \
    {                                                                          \
        typedef double T;                                                      \
        const T x = a_, y = y_, dy = dy_, c = c_;                              \
        T dx;                                                                  \
        (void)b_;                                                              \
        (void)db_;                                                             \
        (void)x;                                                               \
        (void)y;                                                               \
        (void)c;                                                               \
        BWD;                                                                   \
        *da_ = dx;                                                             \
    }                                                                          \
    const adj_op_desc adj_desc_##nm = {                                        \
        .name = #nm, .arity = 1, .shape = adj_shape_same,                      \
        .forward = nm##_forward, .backward = nm##_backward, .jvp = nm##_jvp,   \
        .scalar_fwd = nm##_scalar_fwd, .scalar_bwd = nm##_scalar_bwd,          \
        .formula = FORMULA, .rule = RULE, .sig = ADJ_SIG_UNARY,                \
        .dom = {DOM}, .test_arg = TESTARG,                                     \
    }

/* Public entry points of a unary op without / with a constant. */
#define ADJ_UNARY_API(nm, OPID)                                                \
    adj_var *adj_##nm##_at(adj_var *x, const char *file, int line)             \
    {                                                                          \
        return adj_record(OPID, &x, 1, NULL, file, line);                      \
    }                                                                          \
    ADJ_FN1(nm)

#define ADJ_UNARY_API_C(nm, OPID)                                              \
    adj_var *adj_##nm##_at(adj_var *x, double c, const char *file, int line)   \
    {                                                                          \
        adj_args a = {.d = c};                                                 \
        return adj_record(OPID, &x, 1, &a, file, line);                        \
    }                                                                          \
    ADJ_FN1D(nm)

#endif
