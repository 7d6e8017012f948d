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
 * the op's constant (slope, alpha, p, scale: its attribute adj_attr_c,
 * for the ops whose TESTARG is nonzero), and <tgmath.h> picks expf or
 * exp by type.  The loops are plain so the compiler vectorises them.
 *
 * Each kernel works on a range [lo, hi) of elements (nm_fwd_range,
 * nm_bwd_range, nm_jvp_range), and the op runs its ranges through
 * adj_par_for: a range writes only its own elements, so the result does
 * not depend on the split.  Each range function is compiled once per CPU
 * level (ops/dispatch.h) and picks the variant at run time.
 *
 * ADJ_UNARY_EX adds two things for kernels that are fast only on part of
 * their domain (sin, cos) or need per-op set-up (pow):
 *
 *   OK    an expression of x (and c): true where the fast kernels are
 *         accurate.  The range is walked in blocks of ADJ_UNARY_BLOCK
 *         elements; a block where OK holds everywhere (the common case)
 *         runs the vectorised loop, any other block a loop where the
 *         kernels choose per element between the fast code and libm.  In
 *         the expressions, adj_slow_ is the constant 0 or 1 that tells
 *         which loop they are in (see ADJ_SIN in ops/vmath.h).  The choice
 *         is per element, so results do not depend on the blocks.
 *   PRE   declarations computed once per range from c, before the loop.
 *
 * The scalar fast path (f64 0-D) runs the expressions with adj_slow_ = 1.
 *
 * ADJ_UNARY_T, ADJ_UNARY_EX_T and ADJ_UNARY_EX_OPT_T take one argument
 * more, the op's teaching description (an adj_op_teach *, ops/op.h), for
 * an op that the tape printers write other than "name(x)".
 */
#ifndef ADJ_OPS_UNARY_H
#define ADJ_OPS_UNARY_H

#include "core/pool.h"
#include "core/scalar.h"
#include "ops/dispatch.h"
#include "ops/graph.h"
#include "tensor/iter.h"
#include "ops/cases.h"
#include "ops/op.h"

#include <stdint.h>
#include <string.h>
#include <tgmath.h>

/* Elements per block of a guarded loop (see OK above). */
#define ADJ_UNARY_BLOCK ((size_t)1024)

/*
 * What a range kernel reads and writes: element i of the range is x[i],
 * y[i], dy[i] (the adjoint or the tangent of x, by kernel) and out[i].
 * The forward writes out = y's value; the backward adds to out = x's
 * adjoint; the tangent rule writes out = y's tangent, reading tx = x's.
 * For a contiguous x the pointers are the buffers' bases and the range
 * is a range of elements; a strided x is gathered a block at a time
 * (adj_unary_strided) and the kernel runs on the block.
 */
typedef struct adj_unary_k {
    const adj_var *y;
    const void *x, *yv, *dy, *tx;
    void *out;
    bool no_x;               /* the kernel reads no x: run it as if x were contiguous */
    bool store;              /* backward: out is dy's own buffer (dy is read through
                                it), each dx is stored there as 0 + dx (the bits of
                                adding it to a zeroed adjoint), not added */
} adj_unary_k;

/* Run kernel fn (on adj_unary_k *) over the elements [lo, hi) of a strided
 * x: each block of ADJ_UNARY_BLOCK elements is gathered contiguously
 * first.  ctx is an adj_unary_strided_ctx. */
typedef struct adj_unary_strided_ctx {
    adj_unary_k k;           /* pointers at element 0; x at x's first element */
    adj_iter it;             /* one operand: x's layout */
    void (*fn)(void *ctx, size_t lo, size_t hi);
} adj_unary_strided_ctx;
void adj_unary_strided(void *ctx, size_t lo, size_t hi);

/* Run kernel fn over y's elements: contiguous x directly, strided x by
 * blocks.  k has every pointer at element 0. */
void adj_unary_run(const adj_unary_k *k, void (*fn)(void *ctx, size_t lo, size_t hi));

/* The constant of scalar node v of an op with an adj_attr_c. */
static inline double adj_scalar_attr_c(const adj_var *v)
{
    return ((const adj_attr_c *)adj_attr_sized(v, sizeof(adj_attr_c)))->c;
}

/* Run the loop given (over i_ in [b_, e_)) on [lo_, hi_) a block at a time,
 * with adj_slow_ = 0 where OK holds on the whole block and 1 elsewhere. */
#define ADJ_UNARY_BLOCKS_(OK, ...)                                             \
    for (size_t b_ = lo_; b_ < hi_;) {                                         \
        const size_t e_ = hi_ - b_ > ADJ_UNARY_BLOCK ? b_ + ADJ_UNARY_BLOCK : hi_; \
        int bad_ = 0;                                                          \
        for (size_t i_ = b_; i_ < e_; i_++) {                                  \
            const T x = xs_[i_];                                               \
            (void)x;                                                           \
            bad_ |= !(OK);                                                     \
        }                                                                      \
        if (!bad_) {                                                           \
            enum { adj_slow_ = 0 };                                            \
            __VA_ARGS__                                                        \
        } else {                                                               \
            enum { adj_slow_ = 1 };                                            \
            __VA_ARGS__                                                        \
        }                                                                      \
        b_ = e_;                                                               \
    }

/* The forward over [b_, e_); CHECK runs first for each element (with x
 * in scope). */
#define ADJ_UNARY_FWD_LOOP_(CHECK, FWD)                                        \
    for (size_t i_ = b_; i_ < e_; i_++) {                                      \
        const T x = xs_[i_];                                                   \
        T y;                                                                   \
        CHECK;                                                                 \
        FWD;                                                                   \
        ys_[i_] = y;                                                           \
    }

#define ADJ_UNARY_FWD_HEAD_(TY, PRE)                                           \
    typedef TY T;                                                              \
    const T *restrict xs_ = k_->x;                                             \
    T *restrict ys_ = k_->out;                                                 \
    const T c = (T)adj_attr_c_get(y_);                                           \
    (void)c;                                                                   \
    PRE

#define ADJ_UNARY_LOOPS_(TY, OK, PRE, FWD)                                     \
    do {                                                                       \
        ADJ_UNARY_FWD_HEAD_(TY, PRE);                                          \
        ADJ_UNARY_BLOCKS_(OK, ADJ_UNARY_FWD_LOOP_((void)0, FWD))               \
    } while (0)

/*
 * The forward, optimistic: each block runs the fast loop (adj_slow_ = 0)
 * and checks OK in the same pass, then runs again with adj_slow_ = 1 if
 * an argument failed it.  One pass over the block instead of two where
 * every argument passes; only for a forward, which overwrites y.
 */
#define ADJ_UNARY_LOOPS_OPT_(TY, OK, PRE, FWD)                                 \
    do {                                                                       \
        ADJ_UNARY_FWD_HEAD_(TY, PRE);                                          \
        for (size_t b_ = lo_; b_ < hi_;) {                                     \
            const size_t e_ = hi_ - b_ > ADJ_UNARY_BLOCK ? b_ + ADJ_UNARY_BLOCK : hi_; \
            int bad_ = 0;                                                      \
            {                                                                  \
                enum { adj_slow_ = 0 };                                        \
                ADJ_UNARY_FWD_LOOP_(bad_ |= !(OK), FWD)                        \
            }                                                                  \
            if (bad_) {                                                        \
                enum { adj_slow_ = 1 };                                        \
                ADJ_UNARY_FWD_LOOP_((void)0, FWD)                              \
            }                                                                  \
            b_ = e_;                                                           \
        }                                                                      \
    } while (0)

/* The backward over [b_, e_): dy read from DY, STORE writes dx.  In store
 * mode (adj_unary_k.store) dy and dx are one buffer, read and written
 * through one pointer. */
#define ADJ_UNARY_BACK_LOOP_(DY, BWD, STORE)                                   \
    for (size_t i_ = b_; i_ < e_; i_++) {                                      \
        const T x = xs_[i_], y = ys_[i_], dy = (DY)[i_];                       \
        T dx;                                                                  \
        (void)x;                                                               \
        (void)y;                                                               \
        BWD;                                                                   \
        STORE;                                                                 \
    }

#define ADJ_UNARY_BACK_(TY, OK, PRE, BWD, BLK)                                 \
    do {                                                                       \
        typedef TY T;                                                          \
        const T *restrict xs_ = k_->x;                                         \
        const T *restrict ys_ = k_->yv;                                        \
        const T *restrict dys_ = k_->dy;                                       \
        T *restrict dxs_ = k_->out;                                            \
        const bool store_ = k_->store;                                         \
        const T c = (T)adj_attr_c_get(y_);                                       \
        (void)c;                                                               \
        PRE;                                                                   \
        ADJ_UNARY_BLOCKS_(OK,                                                  \
            if (store_) {                                                      \
                ADJ_UNARY_BACK_LOOP_(dxs_, BWD, dxs_[i_] = (T)0 + dx);         \
            } else {                                                           \
                ADJ_UNARY_BACK_LOOP_(dys_, BWD, dxs_[i_] += dx);               \
            })                                                                 \
    } while (0)

#define ADJ_UNARY_TAN_(TY, OK, PRE, TAN)                                       \
    do {                                                                       \
        typedef TY T;                                                          \
        const T *restrict xs_ = k_->x;                                         \
        const T *restrict ys_ = k_->yv;                                        \
        const T *restrict dxs_ = k_->tx;                                       \
        T *restrict dys_ = k_->out;                                            \
        const T c = (T)adj_attr_c_get(y_);                                       \
        (void)c;                                                               \
        PRE;                                                                   \
        ADJ_UNARY_BLOCKS_(OK,                                                  \
            for (size_t i_ = b_; i_ < e_; i_++) {                              \
                const T x = xs_[i_], y = ys_[i_], dx = dxs_[i_];               \
                T dy;                                                          \
                (void)x;                                                       \
                (void)y;                                                       \
                TAN;                                                           \
                dys_[i_] = dy;                                                 \
            })                                                                 \
    } while (0)

/* The backward loop and the scalar backward statement of each kind of
 * forward loop (LOOPS##BACK_, LOOPS##STMT_). */
#define ADJ_UNARY_LOOPS_BACK_ ADJ_UNARY_BACK_
/* and the out-of-line block loop of the backward (LOOPS##BLK_): only
 * ADJ_UNARY_LOOPS_Y_ has one; the others' BLK function is empty and unused */
#define ADJ_UNARY_LOOPS_BLK_(TY, OK, PRE, BWD) ((void)k_, (void)lo_, (void)hi_)
#define ADJ_UNARY_LOOPS_OPT_BLK_(TY, OK, PRE, BWD) ((void)k_, (void)lo_, (void)hi_)
#define ADJ_UNARY_LOOPS_OPT_BACK_ ADJ_UNARY_BACK_OPT_

/* Ranges of at most this many elements take the optimistic backward. */
#define ADJ_UNARY_FEW 64

/*
 * The backward of an op with an optimistic forward: a range of at most
 * ADJ_UNARY_FEW elements computes its dx with the fast kernels into a
 * buffer, checking OK in the same pass, and again with adj_slow_ = 1 if an
 * argument failed it; then adds (or stores) the buffer.  One pass over x
 * instead of the guard's pass and the kernel's; the same bits.  Longer
 * ranges take ADJ_UNARY_BACK_.
 */
#define ADJ_UNARY_BACK_OPT_(TY, OK, PRE, BWD, BLK)                             \
    do {                                                                       \
        if (hi_ - lo_ > ADJ_UNARY_FEW) {                                       \
            ADJ_UNARY_BACK_(TY, OK, PRE, BWD, BLK);                            \
            break;                                                             \
        }                                                                      \
        typedef TY T;                                                          \
        const size_t n_ = hi_ - lo_;                                           \
        const T *restrict xb_ = (const T *)k_->x + lo_;                        \
        const T *restrict yb_ = (const T *)k_->yv + lo_;                       \
        /* in store mode dy is read from out (so neither is restrict) */      \
        T *dxb_ = (T *)k_->out + lo_;                                          \
        const T *dyb_ = k_->store ? dxb_ : (const T *)k_->dy + lo_;            \
        const T c = (T)adj_attr_c_get(y_);                                     \
        (void)c;                                                               \
        PRE;                                                                   \
        T g_[ADJ_UNARY_FEW];                                                   \
        int bad_ = 0;                                                          \
        {                                                                      \
            enum { adj_slow_ = 0 };                                            \
            for (size_t i_ = 0; i_ < n_; i_++) {                               \
                const T x = xb_[i_], y = yb_[i_], dy = dyb_[i_];               \
                T dx;                                                          \
                (void)x;                                                       \
                (void)y;                                                       \
                bad_ |= !(OK);                                                 \
                BWD;                                                           \
                g_[i_] = dx;                                                   \
            }                                                                  \
        }                                                                      \
        if (bad_) {                                                            \
            enum { adj_slow_ = 1 };                                            \
            for (size_t i_ = 0; i_ < n_; i_++) {                               \
                const T x = xb_[i_], y = yb_[i_], dy = dyb_[i_];               \
                T dx;                                                          \
                (void)x;                                                       \
                (void)y;                                                       \
                BWD;                                                           \
                g_[i_] = dx;                                                   \
            }                                                                  \
        }                                                                      \
        if (k_->store)                                                         \
            for (size_t i_ = 0; i_ < n_; i_++)                                 \
                dxb_[i_] = (T)0 + g_[i_];                                      \
        else                                                                   \
            for (size_t i_ = 0; i_ < n_; i_++)                                 \
                dxb_[i_] += g_[i_];                                            \
    } while (0)
#define ADJ_UNARY_LOOPS_STMT_(BWD) BWD
#define ADJ_UNARY_LOOPS_OPT_STMT_(BWD) BWD

/*
 * ADJ_UNARY_EX_Y: the backward reads x only where y cannot give the
 * derivative accurately.  BWD is a triple (SAFE, FAST, FULL): SAFE, an
 * expression of y (and c), is true where the expression FAST of y (and c)
 * is the derivative to an ulp or two; elsewhere the statements FULL set
 * dx' (the derivative, not yet times dy) from x (and y).  The choice is
 * per element.  A block computes FAST everywhere and checks SAFE; then
 * only the runs of ADJ_UNARY_YRUN elements (a cache line of floats) where
 * SAFE fails somewhere read x and compute FULL, so where y suffices
 * (usually all of it) the backward neither reads x nor computes an
 * exponential.  After a block that needed x in most runs, the next one
 * computes FAST, FULL and the choice in one pass, until a block needs x in
 * under 1/64 of its elements.  Any path gives the same bits.
 */
#define ADJ_UNARY_YRUN 16
/* Some m[i] is nonzero for i in [s, min(s + ADJ_UNARY_YRUN, n)) */
static inline int adj_unary_run_bad_(const unsigned char *m, size_t s, size_t n)
{
    uint64_t a = 0, b = 0;
    if (n - s >= ADJ_UNARY_YRUN) {
        memcpy(&a, m + s, 8);
        memcpy(&b, m + s + 8, 8);
        return (a | b) != 0;
    }
    for (size_t i = s; i < n; i++)
        a |= m[i];
    return a != 0;
}
#define ADJ_Y_SAFE_(SAFE, FAST, FULL) SAFE
#define ADJ_Y_FAST_(SAFE, FAST, FULL) FAST
#define ADJ_Y_FULL_(SAFE, FAST, FULL) FULL
/* dx = dy times the derivative, by the per-element rule */
#define ADJ_Y_RULE_(BWD)                                                       \
    if (ADJ_Y_SAFE_ BWD)                                                       \
        dx = (ADJ_Y_FAST_ BWD);                                                \
    else {                                                                     \
        ADJ_Y_FULL_ BWD;                                                       \
    }                                                                          \
    dx = dy * dx
#define ADJ_UNARY_LOOPS_Y_(TY, OK, PRE, FWD) ADJ_UNARY_LOOPS_OPT_(TY, OK, PRE, FWD)
#define ADJ_UNARY_LOOPS_Y_STMT_(BWD) ADJ_Y_RULE_(BWD)
/* d_ over the block from x and y by the per-element rule; CHECK first */
#define ADJ_Y_DENSE_(CHECK, BWD)                                                  \
    for (size_t i_ = 0; i_ < n_; i_++) {                                       \
        const T x = xb_[i_], y = yb_[i_];                                      \
        T dx;                                                                  \
        CHECK;                                                                 \
        ADJ_Y_FULL_ BWD;                                                       \
        const int u_ = (ADJ_Y_SAFE_ BWD) ? 0 : 1;                              \
        nbad_ += (size_t)u_;                                                   \
        d_[i_] = u_ ? dx : (ADJ_Y_FAST_ BWD);                                  \
    }
/* dx[i] += dy[i] d[i], or in store mode dx[i] = 0 + dx[i] d[i] (dx is dy) */
#define ADJ_Y_APPLY_(DX, DY, D, N)                                             \
    do {                                                                       \
        if (store_) {                                                          \
            for (size_t i_ = 0; i_ < (N); i_++)                                \
                (DX)[i_] = (T)0 + (DX)[i_] * (D)[i_];                          \
        } else {                                                               \
            for (size_t i_ = 0; i_ < (N); i_++)                                \
                (DX)[i_] += (DY)[i_] * (D)[i_];                                \
        }                                                                      \
    } while (0)
/* The backward: a range of more than ADJ_UNARY_YRUN elements runs the
 * block loop, out of line (BLK, see ADJ_UNARY_LOOPS_Y_BLK_), so that the
 * few-element path does not carry its buffers' stack frame. */
#define ADJ_UNARY_LOOPS_Y_BACK_(TY, OK, PRE, BWD, BLK)                         \
    do {                                                                       \
        if (hi_ - lo_ > ADJ_UNARY_YRUN) {                                      \
            BLK(k_, lo_, hi_);                                                 \
            break;                                                             \
        }                                                                      \
        typedef TY T;                                                          \
        const T *restrict xs_ = k_->x;                                         \
        const T *restrict ys_ = k_->yv;                                        \
        const T *restrict dys_ = k_->dy; /* not read in store mode */          \
        T *restrict dxs_ = k_->out;                                            \
        const bool store_ = k_->store;                                         \
        const T c = (T)adj_attr_c_get(y_);                                     \
        (void)c;                                                               \
        PRE;                                                                   \
        {                                                                      \
            /* a few elements: the per-element rule in one pass, FULL with \
             * the fast kernels where x passes OK (the same bits) */          \
            for (size_t i_ = lo_; i_ < hi_; i_++) {                            \
                const T y = ys_[i_];                                           \
                T g_;                                                          \
                if (ADJ_Y_SAFE_ BWD) {                                         \
                    enum { adj_slow_ = 1 };                                    \
                    g_ = (ADJ_Y_FAST_ BWD);                                    \
                } else {                                                       \
                    const T x = xs_[i_];                                       \
                    T dx;                                                      \
                    if (OK) {                                                  \
                        enum { adj_slow_ = 0 };                                \
                        ADJ_Y_FULL_ BWD;                                       \
                    } else {                                                   \
                        enum { adj_slow_ = 1 };                                \
                        ADJ_Y_FULL_ BWD;                                       \
                    }                                                          \
                    g_ = dx;                                                   \
                }                                                              \
                if (store_)                                                    \
                    dxs_[i_] = (T)0 + dxs_[i_] * g_;                           \
                else                                                           \
                    dxs_[i_] += dys_[i_] * g_;                                 \
            }                                                                  \
        }                                                                      \
    } while (0)
/* The block loop of ADJ_UNARY_LOOPS_Y_BACK_, in a function of its own */
#define ADJ_UNARY_LOOPS_Y_BLK_(TY, OK, PRE, BWD)                               \
    do {                                                                       \
        typedef TY T;                                                          \
        const T *restrict xs_ = k_->x;                                         \
        const T *restrict ys_ = k_->yv;                                        \
        const T *restrict dys_ = k_->dy; /* not read in store mode */          \
        T *restrict dxs_ = k_->out;                                            \
        const bool store_ = k_->store;                                         \
        const T c = (T)adj_attr_c_get(y_);                                     \
        (void)c;                                                               \
        PRE;                                                                   \
        T d_[ADJ_UNARY_BLOCK];                                                 \
        unsigned char m_[ADJ_UNARY_BLOCK + ADJ_UNARY_YRUN];                    \
        int dense_ = 0;                                                        \
        for (size_t b_ = lo_; b_ < hi_;) {                                     \
            const size_t n_ = hi_ - b_ > ADJ_UNARY_BLOCK ? ADJ_UNARY_BLOCK : hi_ - b_; \
            const T *restrict yb_ = ys_ + b_;                                  \
            if (dense_) {                                                      \
                /* the last block needed x nearly everywhere: one pass over   \
                 * x and y, with the fast kernels where OK holds throughout */ \
                const T *restrict xb_ = xs_ + b_, *restrict dyb_ = dys_ + b_;  \
                T *restrict dxb_ = dxs_ + b_;                                  \
                size_t nbad_ = 0;                                              \
                int slow_ = 0;                                                 \
                {                                                              \
                    enum { adj_slow_ = 0 };                                    \
                    ADJ_Y_DENSE_(slow_ |= !(OK), BWD);                         \
                }                                                              \
                if (slow_) {                                                   \
                    enum { adj_slow_ = 1 };                                    \
                    nbad_ = 0;                                                 \
                    ADJ_Y_DENSE_((void)0, BWD);                                \
                }                                                              \
                ADJ_Y_APPLY_(dxb_, dyb_, d_, n_);                              \
                dense_ = nbad_ * 64 > n_;                                      \
                b_ += n_;                                                      \
                continue;                                                      \
            }                                                                  \
            size_t fixed_ = 0;                                                 \
            int bad_ = 0;                                                      \
            for (size_t i_ = 0; i_ < n_; i_++) {                               \
                const T y = yb_[i_];                                           \
                const int u_ = (ADJ_Y_SAFE_ BWD) ? 0 : 1;                      \
                d_[i_] = (ADJ_Y_FAST_ BWD);                                    \
                m_[i_] = (unsigned char)u_;                                    \
                bad_ |= u_;                                                    \
            }                                                                  \
            /* spans of runs of ADJ_UNARY_YRUN where SAFE fails somewhere */   \
            for (size_t r_ = 0; bad_ && r_ < n_;) {                            \
                size_t s_ = r_;                                                \
                while (s_ < n_ && !adj_unary_run_bad_(m_, s_, n_))             \
                    s_ += ADJ_UNARY_YRUN;                                      \
                size_t e_ = s_;                                                \
                while (e_ < n_ && adj_unary_run_bad_(m_, e_, n_))              \
                    e_ += ADJ_UNARY_YRUN;                                      \
                if (e_ > n_)                                                   \
                    e_ = n_;                                                   \
                const T *restrict xb_ = xs_ + b_;                              \
                enum { adj_slow_ = 1 };                                        \
                for (size_t i_ = s_; i_ < e_; i_++) {                          \
                    const T x = xb_[i_], y = yb_[i_];                          \
                    T dx;                                                      \
                    ADJ_Y_FULL_ BWD;                                           \
                    d_[i_] = (ADJ_Y_SAFE_ BWD) ? d_[i_] : dx;                  \
                }                                                              \
                fixed_ += e_ - s_;                                             \
                r_ = e_;                                                       \
            }                                                                  \
            dense_ = 2 * fixed_ > n_;                                          \
            const T *restrict dyb_ = dys_ + b_;                                \
            T *restrict dxb_ = dxs_ + b_;                                      \
            ADJ_Y_APPLY_(dxb_, dyb_, d_, n_);                                  \
            b_ += n_;                                                          \
        }                                                                      \
    } while (0)

/* The three range kernels of one op for one CPU level (ATTR: its target). */
#define ADJ_UNARY_RANGES_(nm, sfx, ATTR, LOOPS, OK, OKB, PRE, FWD, BWD, TAN)   \
    ATTR static void nm##_fwd_range_##sfx(void *ctx_, size_t lo_, size_t hi_)  \
    {                                                                          \
        const adj_unary_k *k_ = ctx_;                                          \
        const adj_var *y_ = k_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            LOOPS(double, OK, PRE, FWD);                                       \
        else                                                                   \
            LOOPS(float, OK, PRE, FWD);                                        \
    }                                                                          \
    ATTR __attribute__((noinline, unused)) static void nm##_bwd_blocks_##sfx(  \
        const adj_unary_k *k_, size_t lo_, size_t hi_)                         \
    {                                                                          \
        const adj_var *y_ = k_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            LOOPS##BLK_(double, OKB, PRE, BWD);                                \
        else                                                                   \
            LOOPS##BLK_(float, OKB, PRE, BWD);                                 \
    }                                                                          \
    ATTR static void nm##_bwd_range_##sfx(void *ctx_, size_t lo_, size_t hi_)  \
    {                                                                          \
        const adj_unary_k *k_ = ctx_;                                          \
        const adj_var *y_ = k_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            LOOPS##BACK_(double, OKB, PRE, BWD, nm##_bwd_blocks_##sfx);        \
        else                                                                   \
            LOOPS##BACK_(float, OKB, PRE, BWD, nm##_bwd_blocks_##sfx);         \
    }                                                                          \
    ATTR static void nm##_jvp_range_##sfx(void *ctx_, size_t lo_, size_t hi_)  \
    {                                                                          \
        const adj_unary_k *k_ = ctx_;                                          \
        const adj_var *y_ = k_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            ADJ_UNARY_TAN_(double, OKB, PRE, TAN);                             \
        else                                                                   \
            ADJ_UNARY_TAN_(float, OKB, PRE, TAN);                              \
    }

#if ADJ_VM_DISPATCH
#define ADJ_UNARY_VARIANTS_(nm, LOOPS, OK, OKB, PRE, FWD, BWD, TAN)            \
    ADJ_UNARY_RANGES_(nm, base, , LOOPS, OK, OKB, PRE, FWD, BWD, TAN)          \
    ADJ_UNARY_RANGES_(nm, avx2, ADJ_VM_TGT_AVX2, LOOPS, OK, OKB, PRE, FWD, BWD, TAN) \
    ADJ_UNARY_RANGES_(nm, avx512, ADJ_VM_TGT_AVX512, LOOPS, OK, OKB, PRE, FWD, BWD, TAN)
#else
#define ADJ_UNARY_VARIANTS_(nm, LOOPS, OK, OKB, PRE, FWD, BWD, TAN)            \
    ADJ_UNARY_RANGES_(nm, base, , LOOPS, OK, OKB, PRE, FWD, BWD, TAN)
#endif

#define ADJ_UNARY_EX(nm, OPID, DOM, TESTARG, FORMULA, RULE, OK, PRE, FWD, BWD, TAN) \
    ADJ_UNARY_EX_T(nm, OPID, DOM, TESTARG, FORMULA, RULE, OK, PRE, FWD, BWD, TAN, NULL)
/* The same with a teaching description (an adj_op_teach *, see op.h). */
#define ADJ_UNARY_EX_T(nm, OPID, DOM, TESTARG, FORMULA, RULE, OK, PRE, FWD, BWD, TAN, TEACH) \
    ADJ_UNARY_EX_(nm, ADJ_UNARY_LOOPS_, OPID, DOM, TESTARG, FORMULA, RULE, OK, OK, PRE, FWD, \
                  BWD, TAN, TEACH, 0)
/* The same with an optimistic forward (ADJ_UNARY_LOOPS_OPT_), for kernels
 * whose fast code is free of undefined behaviour on any input, and a
 * guard of its own for the backward and tangent loops (OKB: 1 where they
 * use no guarded kernel, so that they do not read x only to check it). */
#define ADJ_UNARY_EX_OPT(nm, OPID, DOM, TESTARG, FORMULA, RULE, OK, OKB, PRE, FWD, BWD, TAN) \
    ADJ_UNARY_EX_OPT_T(nm, OPID, DOM, TESTARG, FORMULA, RULE, OK, OKB, PRE, FWD, BWD, TAN, NULL)
#define ADJ_UNARY_EX_OPT_T(nm, OPID, DOM, TESTARG, FORMULA, RULE, OK, OKB, PRE, FWD, BWD, TAN, \
                           TEACH)                                              \
    ADJ_UNARY_EX_(nm, ADJ_UNARY_LOOPS_OPT_, OPID, DOM, TESTARG, FORMULA, RULE, OK, OKB, PRE, \
                  FWD, BWD, TAN, TEACH, 0)
/* The same for an op whose backward reads y and dy only (OKB 1 and BWD
 * without x): its backward never gathers a strided x. */
#define ADJ_UNARY_EX_OPT_YONLY(nm, OPID, DOM, TESTARG, FORMULA, RULE, OK, PRE, FWD, BWD, TAN) \
    ADJ_UNARY_EX_(nm, ADJ_UNARY_LOOPS_OPT_, OPID, DOM, TESTARG, FORMULA, RULE, OK, 1, PRE, \
                  FWD, BWD, TAN, NULL, 1)
/* The same with the backward of ADJ_UNARY_LOOPS_Y_BACK_ (BWD a triple). */
#define ADJ_UNARY_EX_Y_T(nm, OPID, DOM, TESTARG, FORMULA, RULE, OK, OKB, PRE, FWD, BWD, TAN, \
                         TEACH)                                                \
    ADJ_UNARY_EX_(nm, ADJ_UNARY_LOOPS_Y_, OPID, DOM, TESTARG, FORMULA, RULE, OK, OKB, PRE, FWD, \
                  BWD, TAN, TEACH, 0)
#define ADJ_UNARY_EX_(nm, LOOPS, OPID, DOM, TESTARG, FORMULA, RULE, OK, OKB, PRE, FWD, BWD, \
                      TAN, TEACH, NOX)                                         \
    ADJ_UNARY_VARIANTS_(nm, LOOPS, OK, OKB, PRE, FWD, BWD, TAN)                \
    ADJ_VM_RANGES(nm)                                                          \
    static void nm##_forward(adj_var *y_)                                      \
    {                                                                          \
        adj_unary_k k_ = {.y = y_, .x = y_->in[0]->value, .out = y_->value};   \
        adj_unary_run(&k_, nm##_fwd_range);                                    \
    }                                                                          \
    static void nm##_backward(adj_var *y_)                                     \
    {                                                                          \
        adj_var *x_ = y_->in[0];                                               \
        if (!(x_->flags & ADJ_F_GRAD))                                         \
            return;                                                            \
        /* NOX: the kernel reads no x; its x points at y (in bounds).  When  \
         * the sweep releases adjoints and x has none yet, dx is written     \
         * over dy, element by element, and x takes the buffer over. */     \
        const bool pass_ = adj_grad_passable(y_, x_);                          \
        adj_unary_k k_ = {.y = y_, .x = (NOX) ? y_->value : x_->value,         \
                          .yv = y_->value, .dy = y_->grad,                     \
                          .out = pass_ ? y_->grad : adj_grad_buf(x_),          \
                          .no_x = (NOX), .store = pass_};                      \
        if (!k_.out)                                                           \
            return;                                                            \
        adj_unary_run(&k_, nm##_bwd_range);                                    \
        if (pass_)                                                             \
            adj_grad_pass(y_, x_);                                             \
    }                                                                          \
    static void nm##_jvp(const adj_var *y_, const void *const *tx_, void *ty_) \
    {                                                                          \
        adj_unary_k k_ = {.y = y_, .x = y_->in[0]->value, .yv = y_->value,     \
                          .tx = tx_[0], .out = ty_};                           \
        adj_unary_run(&k_, nm##_jvp_range);                                    \
    }                                                                          \
    static double nm##_scalar_fwd(double a_, double b_, const void *attr_)     \
    {                                                                          \
        typedef double T;                                                      \
        enum { adj_slow_ = 1 };                                                \
        const T x = a_, c = attr_ ? ((const adj_attr_c *)attr_)->c : 0.0;      \
        T y;                                                                   \
        (void)b_;                                                              \
        (void)c;                                                               \
        PRE;                                                                   \
        FWD;                                                                   \
        return y;                                                              \
    }                                                                          \
    static void nm##_scalar_bwd(adj_var *y_node_, double dy_)                   \
    {                                                                          \
        adj_var *x_node_ = y_node_->in[0];                                     \
        if (!(x_node_->flags & ADJ_F_GRAD))                                    \
            return;                                                            \
        typedef double T;                                                      \
        const T x = adj_scalar_val(x_node_), y = adj_scalar_val(y_node_),      \
                dy = dy_,                                                      \
                c = (TESTARG) != 0.0 ? adj_scalar_attr_c(y_node_) : 0.0;        \
        T dx;                                                                  \
        (void)x;                                                               \
        (void)y;                                                               \
        (void)c;                                                               \
        /* the fast kernels where OKB holds: the same bits (see OK above) */  \
        if (OKB) {                                                             \
            enum { adj_slow_ = 0 };                                            \
            PRE;                                                               \
            LOOPS##STMT_(BWD);                                                 \
        } else {                                                               \
            enum { adj_slow_ = 1 };                                            \
            PRE;                                                               \
            LOOPS##STMT_(BWD);                                                 \
        }                                                                      \
        adj_scalar_acc(x_node_, dx);                                           \
    }                                                                          \
    static const adj_attr_c nm##_case_c = {TESTARG};                           \
    const adj_op_desc adj_desc_##nm = {                                        \
        .name = #nm, .arity = 1, .shape = adj_shape_same,                      \
        .forward = nm##_forward, .backward = nm##_backward, .jvp = nm##_jvp,   \
        .scalar_fwd = nm##_scalar_fwd, .scalar_bwd = nm##_scalar_bwd,          \
        .attr_size = (TESTARG) != 0.0 ? sizeof(adj_attr_c) : 0,                \
        .formula = FORMULA, .rule = RULE, ADJ_CASES(adj_cases_unary),          \
        .case_attr = &nm##_case_c, .dom = {DOM}, .test_arg = TESTARG,          \
        .props = ADJ_PROP_MAP | ADJ_PROP_STRIDES, .teach = TEACH,              \
        .vjp = adj_vjp_##nm,                                                   \
    }

/* An op whose kernels are fast everywhere and need no set-up. */
#define ADJ_UNARY(nm, OPID, DOM, TESTARG, FORMULA, RULE, FWD, BWD, TAN)        \
    ADJ_UNARY_EX(nm, OPID, DOM, TESTARG, FORMULA, RULE, 1, (void)0, FWD, BWD, TAN)
/* The same with a teaching description (an adj_op_teach *, see op.h). */
#define ADJ_UNARY_T(nm, OPID, DOM, TESTARG, FORMULA, RULE, FWD, BWD, TAN, TEACH) \
    ADJ_UNARY_EX_T(nm, OPID, DOM, TESTARG, FORMULA, RULE, 1, (void)0, FWD, BWD, TAN, TEACH)
/* Public entry points of a unary op without / with a constant. */
#define ADJ_UNARY_API(nm, OPID)                                                \
    adj_var *adj_##nm##_at(adj_var *x, const char *file, int line)             \
    {                                                                          \
        adj_scalar_in s_;                                                      \
        /* an op with attributes keeps adj_record's path, which zeroes them */ \
        if (!adj_desc_##nm.attr_size && adj_scalar_in1(&s_, x)) {              \
            adj_var *y_ = adj_scalar_node(&s_, OPID, #nm, file, line);         \
            if (!y_)                                                           \
                return adj_h_out(s_.t->inert);                                 \
            return adj_scalar_done(s_.t, y_,                                   \
                                   nm##_scalar_fwd(adj_scalar_val(s_.a), 0.0, NULL)); \
        }                                                                      \
        return adj_record_same1(OPID, x, file, line);                          \
    }                                                                          \
    ADJ_FN1(nm)

#define ADJ_UNARY_API_C(nm, OPID)                                              \
    adj_var *adj_##nm##_at(adj_var *x, double c, const char *file, int line)   \
    {                                                                          \
        adj_attr_c a = {c};                                                    \
        return adj_record(OPID, &x, 1, &a, file, line);                        \
    }                                                                          \
    ADJ_FN1D(nm)

#endif
