/*
 * Internal: sums of many float terms, accumulated in double.
 *
 * A broadcast operand's adjoint, a bias gradient and an axis reduction
 * each add up many contributions into one element.  Added one after
 * another in float, 10^6 terms of 10^-6 come to 1.009.  These macros keep
 * every such sum in double, compensated (Neumaier's variant of Kahan
 * summation: the rounding error of each addition is collected and added
 * back at the end), and round once, when it is stored: float and double
 * results are then within an ulp or two of the exact sum for any number of
 * terms of one sign.
 *
 *   ADJ_SUM_ADD(hi, lo, x)
 *       hi += x, with the rounding error added to lo (the sum is hi + lo).
 *   ADJ_SUM_ALL(N, i, s, EXPR, STORE)
 *       s = sum over i < N of (double)(EXPR), then the statement STORE
 *       (with s in scope).
 *   ADJ_SUM_COLS(ROWS, COLS, r, c, s, EXPR, STORE)
 *       for every c < COLS: s = sum over r < ROWS of (double)(EXPR), then
 *       STORE (with c and s in scope).  Columns go ADJ_SUM_BLOCK at a time
 *       with rows outermost, so EXPR walks a row-major (ROWS, COLS) array
 *       row by row and the inner loop vectorises.
 *
 * i, r, c and s are names the macros declare: pick names that do not
 * shadow the caller's.  The order of each sum is fixed (rows in order), so
 * results do not depend on anything but the data.
 */
#ifndef ADJ_TENSOR_ACCUM_H
#define ADJ_TENSOR_ACCUM_H

#include <float.h>
#include <math.h>
#include <stddef.h>

enum { ADJ_SUM_BLOCK = 256 };

/* s += x with the rounding error of the addition added to c.  Once the
 * sum is infinite or NaN there is no rounding error to keep (inf - inf
 * would make c NaN and the sum s + c NaN where it is +-inf), so c is left
 * alone. */
#define ADJ_SUM_ADD(s, c, x)                                                  \
    do {                                                                       \
        const double x_ = (x), t_ = (s) + x_;                                  \
        const double e_ = fabs(s) >= fabs(x_) ? ((s) - t_) + x_ : (x_ - t_) + (s); \
        (c) += fabs(t_) <= DBL_MAX ? e_ : 0.0;                                 \
        (s) = t_;                                                              \
    } while (0)

#define ADJ_SUM_ALL(N, i, s, EXPR, STORE)                                      \
    do {                                                                       \
        double hi_ = 0, lo_ = 0;                                               \
        for (size_t i = 0; i < (N); i++)                                       \
            ADJ_SUM_ADD(hi_, lo_, (double)(EXPR));                            \
        const double s = hi_ + lo_;                                            \
        STORE;                                                                 \
    } while (0)

#define ADJ_SUM_COLS(ROWS, COLS, r, c, s, EXPR, STORE)                         \
    do {                                                                       \
        double hi_[ADJ_SUM_BLOCK], lo_[ADJ_SUM_BLOCK];                         \
        for (size_t c0_ = 0; c0_ < (COLS); c0_ += ADJ_SUM_BLOCK) {             \
            const size_t n_ = (COLS) - c0_ < ADJ_SUM_BLOCK ? (COLS) - c0_ : ADJ_SUM_BLOCK; \
            for (size_t j_ = 0; j_ < n_; j_++)                                 \
                hi_[j_] = lo_[j_] = 0;                                         \
            for (size_t r = 0; r < (ROWS); r++)                                \
                for (size_t j_ = 0; j_ < n_; j_++) {                           \
                    const size_t c = c0_ + j_;                                 \
                    ADJ_SUM_ADD(hi_[j_], lo_[j_], (double)(EXPR));            \
                }                                                              \
            for (size_t j_ = 0; j_ < n_; j_++) {                               \
                const size_t c = c0_ + j_;                                     \
                const double s = hi_[j_] + lo_[j_];                            \
                STORE;                                                         \
            }                                                                  \
        }                                                                      \
    } while (0)

#endif
