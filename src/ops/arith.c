/*
 * Binary arithmetic with broadcasting: add, sub, mul, div.
 *
 * The shape rule accepts one of four layouts (layout_of tells which); the kernels
 * walk y as rows x cols and index each operand with its own (row, col)
 * strides: 1 for a full operand, 0 along a broadcast dimension.  The
 * backward uses the same indexing, so a broadcast operand's adjoint is the
 * sum of the contributions of every place it was repeated to.
 *
 * Same-shape operands (the common case) go through adj_par_for a range of
 * elements at a time: each range writes only its own elements.  The
 * broadcasting layouts stay sequential: their backward sums into a smaller
 * adjoint, in double (ops/accum.h).
 */
#include "core/pool.h"
#include "ops/accum.h"
#include "ops/op.h"

#include <string.h>

enum { BC_SAME, BC_B_ROW, BC_B_ONE, BC_A_ONE };

static bool same_shape(const adj_var *a, const adj_var *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (adj_cold(a)->shape[i] != adj_cold(b)->shape[i])
            return false;
    return true;
}

/* b's dimensions (leading 1s dropped) equal the trailing dimensions of a */
static bool is_row_of(const adj_var *b, const adj_var *a)
{
    int lead = 0;
    while (lead < b->ndim && adj_cold(b)->shape[lead] == 1)
        lead++;
    int nb = b->ndim - lead;
    if (nb == 0 || nb > a->ndim)
        return false;
    for (int i = 0; i < nb; i++)
        if (adj_cold(b)->shape[lead + i] != adj_cold(a)->shape[a->ndim - nb + i])
            return false;
    return true;
}

static void copy_shape(adj_var *y, const adj_var *x)
{
    y->ndim = x->ndim;
    memcpy(adj_cold(y)->shape, adj_cold(x)->shape, sizeof adj_cold(y)->shape);
}

/* The layout of a binary node, from its operands' shapes (the shape rule
 * accepted one of these). */
static int layout_of(const adj_var *y)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    if (same_shape(a, b))
        return BC_SAME;
    if (adj_cold(b)->numel == 1)
        return BC_B_ONE;
    if (adj_cold(a)->numel == 1)
        return BC_A_ONE;
    return BC_B_ROW;
}

static adj_status shape_binary(adj_var *y, char *why, size_t n)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    int lay = layout_of(y);
    if (lay == BC_B_ROW && !is_row_of(b, a)) {
        snprintf(why, n, "shapes do not broadcast (same shape, b a row of a, or one element)");
        return ADJ_ESHAPE;
    }
    copy_shape(y, lay == BC_A_ONE ? b : a);
    return ADJ_OK;
}

/* The walk of y as rows x cols and each operand's strides. */
typedef struct walk {
    size_t rows, cols, ar, ac, br, bc;
} walk;

static walk walk_of(const adj_var *y)
{
    walk w = {1, adj_cold(y)->numel, 0, 1, 0, 1};
    switch (layout_of(y)) {
    case BC_B_ROW:
        w.cols = adj_cold(y->in[1])->numel;
        w.rows = adj_cold(y)->numel / w.cols;
        w.ar = w.cols;
        w.br = 0;
        break;
    case BC_B_ONE:
        w.bc = 0;
        break;
    case BC_A_ONE:
        w.ac = 0;
        break;
    default:
        break;
    }
    return w;
}

/* The kernels' context for adj_par_for. */
typedef struct bin_ctx {
    const adj_var *y;
    void *ga, *gb;              /* backward: the inputs' adjoints (either may be NULL) */
    const void *const *tx;      /* forward mode: the inputs' tangents */
    void *ty;                   /*               and y's */
} bin_ctx;

/* FWD computes y from a, b; BWD computes da, db from a, b, y, dy. */
#define BIN_FWD_(T, FWD)                                                        \
    do {                                                                       \
        const T *A_ = y_->in[0]->value, *B_ = y_->in[1]->value;                \
        T *Y_ = y_->value;                                                     \
        for (size_t r_ = 0; r_ < w_.rows; r_++)                                \
            for (size_t c_ = 0; c_ < w_.cols; c_++) {                          \
                const T a = A_[r_ * w_.ar + c_ * w_.ac];                       \
                const T b = B_[r_ * w_.br + c_ * w_.bc];                       \
                Y_[r_ * w_.cols + c_] = (FWD);                                 \
            }                                                                  \
    } while (0)

/* The same-shape kernels on elements [lo_, hi_).  a and b may be the same
 * array (x + x), and so may the adjoints da and db. */
#define BIN_FWD_RANGE_(T, FWD)                                                  \
    do {                                                                       \
        const T *A_ = y_->in[0]->value, *B_ = y_->in[1]->value;                \
        T *restrict Y_ = y_->value;                                            \
        for (size_t i_ = lo_; i_ < hi_; i_++) {                                \
            const T a = A_[i_], b = B_[i_];                                    \
            Y_[i_] = (FWD);                                                    \
        }                                                                      \
    } while (0)

#define BIN_BWD_RANGE_(T, DA, DB)                                               \
    do {                                                                       \
        const T *A_ = y_->in[0]->value, *B_ = y_->in[1]->value;                \
        const T *Y_ = y_->value, *DY_ = y_->grad;                              \
        T *GA_ = k_->ga, *GB_ = k_->gb;                                        \
        if (GA_ && GB_) {                                                      \
            for (size_t i_ = lo_; i_ < hi_; i_++) {                            \
                const T a = A_[i_], b = B_[i_], y = Y_[i_], dy = DY_[i_];      \
                (void)a;                                                       \
                (void)b;                                                       \
                (void)y;                                                       \
                const T da = (DA), db = (DB);                                  \
                GA_[i_] += da;                                                 \
                GB_[i_] += db;                                                 \
            }                                                                  \
        } else if (GA_) {                                                      \
            for (size_t i_ = lo_; i_ < hi_; i_++) {                            \
                const T a = A_[i_], b = B_[i_], y = Y_[i_], dy = DY_[i_];      \
                (void)a;                                                       \
                (void)b;                                                       \
                (void)y;                                                       \
                GA_[i_] += (DA);                                               \
            }                                                                  \
        } else {                                                               \
            for (size_t i_ = lo_; i_ < hi_; i_++) {                            \
                const T a = A_[i_], b = B_[i_], y = Y_[i_], dy = DY_[i_];      \
                (void)a;                                                       \
                (void)b;                                                       \
                (void)y;                                                       \
                GB_[i_] += (DB);                                               \
            }                                                                  \
        }                                                                      \
    } while (0)

#define BIN_TAN_RANGE_(T, TAN)                                                  \
    do {                                                                       \
        const T *A_ = y_->in[0]->value, *B_ = y_->in[1]->value;                \
        const T *Y_ = y_->value;                                               \
        const T *TA_ = k_->tx[0], *TB_ = k_->tx[1];                            \
        T *restrict TY_ = k_->ty;                                              \
        for (size_t i_ = lo_; i_ < hi_; i_++) {                                \
            const T a = A_[i_], b = B_[i_], y = Y_[i_];                        \
            const T da = TA_[i_], db = TB_[i_];                                \
            (void)a;                                                           \
            (void)b;                                                           \
            (void)y;                                                           \
            TY_[i_] = (TAN);                                                   \
        }                                                                      \
    } while (0)

/* One term of an input's adjoint at element (r, c) of y: F is the op's
 * nm_da_<type> or nm_db_<type> (see BINARY). */
#define BIN_TERM_(F, r, c)                                                      \
    F(A_[(r) * w_.ar + (c) * w_.ac], B_[(r) * w_.br + (c) * w_.bc],            \
      Y_[(r) * w_.cols + (c)], DY_[(r) * w_.cols + (c)])

/* G += the terms F of an operand indexed with strides (XR, XC): element by
 * element for a full operand; for a broadcast one, which receives the sum
 * of the terms of every place it was repeated to, that sum in double
 * (ops/accum.h), rounded once. */
#define BIN_GRAD_(T, G, F, XR, XC)                                              \
    do {                                                                       \
        if ((XC) != 0 && ((XR) != 0 || w_.rows == 1)) {                        \
            for (size_t r_ = 0; r_ < w_.rows; r_++)                            \
                for (size_t c_ = 0; c_ < w_.cols; c_++)                        \
                    (G)[r_ * (XR) + c_ * (XC)] += BIN_TERM_(F, r_, c_);        \
        } else if ((XC) == 0 && (XR) == 0) {                                   \
            double hi_ = 0, lo_ = 0;                                           \
            for (size_t r_ = 0; r_ < w_.rows; r_++)                            \
                for (size_t c_ = 0; c_ < w_.cols; c_++)                        \
                    ADJ_SUM_ADD(hi_, lo_, (double)BIN_TERM_(F, r_, c_));       \
            (G)[0] = (T)((double)(G)[0] + (hi_ + lo_));                        \
        } else if ((XC) == 0) {                                                \
            for (size_t r_ = 0; r_ < w_.rows; r_++)                            \
                ADJ_SUM_ALL(w_.cols, c_, s_, BIN_TERM_(F, r_, c_),             \
                            (G)[r_ * (XR)] = (T)((double)(G)[r_ * (XR)] + s_)); \
        } else {                                                               \
            ADJ_SUM_COLS(w_.rows, w_.cols, r_, c_, s_, BIN_TERM_(F, r_, c_),   \
                         (G)[c_ * (XC)] = (T)((double)(G)[c_ * (XC)] + s_));   \
        }                                                                      \
    } while (0)

/* The broadcasting layouts' backward; FA, FB give the terms of da, db. */
#define BIN_BWD_(T, FA, FB)                                                     \
    do {                                                                       \
        const T *A_ = y_->in[0]->value, *B_ = y_->in[1]->value;                \
        const T *Y_ = y_->value, *DY_ = y_->grad;                              \
        T *GA_ = ga_, *GB_ = gb_;                                              \
        if (GA_)                                                               \
            BIN_GRAD_(T, GA_, FA, w_.ar, w_.ac);                               \
        if (GB_)                                                               \
            BIN_GRAD_(T, GB_, FB, w_.br, w_.bc);                               \
    } while (0)

/* TAN computes the tangent of y from a, b, y and their tangents da, db. */
#define BIN_TAN_(T, TAN)                                                        \
    do {                                                                       \
        const T *A_ = y_->in[0]->value, *B_ = y_->in[1]->value;                \
        const T *Y_ = y_->value;                                               \
        const T *TA_ = tx_[0], *TB_ = tx_[1];                                  \
        T *TY_ = ty_;                                                          \
        for (size_t r_ = 0; r_ < w_.rows; r_++)                                \
            for (size_t c_ = 0; c_ < w_.cols; c_++) {                          \
                const size_t ia_ = r_ * w_.ar + c_ * w_.ac;                    \
                const size_t ib_ = r_ * w_.br + c_ * w_.bc;                    \
                const size_t iy_ = r_ * w_.cols + c_;                          \
                const T a = A_[ia_], b = B_[ib_], y = Y_[iy_];                 \
                const T da = TA_[ia_], db = TB_[ib_];                          \
                (void)a;                                                       \
                (void)b;                                                       \
                (void)y;                                                       \
                TY_[iy_] = (TAN);                                              \
            }                                                                  \
    } while (0)

/* The terms of da and db at one element, as functions for BIN_BWD_ */
#define BIN_TERMS_(nm, T, sfx, DA, DB)                                          \
    static inline T nm##_da_##sfx(T a, T b, T y, T dy)                         \
    {                                                                          \
        (void)a;                                                               \
        (void)b;                                                               \
        (void)y;                                                               \
        return (T)(DA);                                                        \
    }                                                                          \
    static inline T nm##_db_##sfx(T a, T b, T y, T dy)                         \
    {                                                                          \
        (void)a;                                                               \
        (void)b;                                                               \
        (void)y;                                                               \
        return (T)(DB);                                                        \
    }

#define BINARY(nm, OPID, DOMB, FORMULA, RULE, FWD, DA, DB, TAN)                 \
    BIN_TERMS_(nm, double, f64, DA, DB)                                        \
    BIN_TERMS_(nm, float, f32, DA, DB)                                         \
    static void nm##_fwd_range(void *ctx_, size_t lo_, size_t hi_)             \
    {                                                                          \
        const adj_var *y_ = ctx_;                                              \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_FWD_RANGE_(double, FWD);                                       \
        else                                                                   \
            BIN_FWD_RANGE_(float, FWD);                                        \
    }                                                                          \
    static void nm##_bwd_range(void *ctx_, size_t lo_, size_t hi_)             \
    {                                                                          \
        const bin_ctx *k_ = ctx_;                                              \
        const adj_var *y_ = k_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_BWD_RANGE_(double, DA, DB);                                    \
        else                                                                   \
            BIN_BWD_RANGE_(float, DA, DB);                                     \
    }                                                                          \
    static void nm##_jvp_range(void *ctx_, size_t lo_, size_t hi_)             \
    {                                                                          \
        const bin_ctx *k_ = ctx_;                                              \
        const adj_var *y_ = k_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_TAN_RANGE_(double, TAN);                                       \
        else                                                                   \
            BIN_TAN_RANGE_(float, TAN);                                        \
    }                                                                          \
    static void nm##_forward(adj_var *y_)                                      \
    {                                                                          \
        if (layout_of(y_) == BC_SAME) {                                   \
            adj_par_for(adj_cold(y_)->numel, ADJ_PAR_GRAIN_MAP, nm##_fwd_range, y_); \
            return;                                                            \
        }                                                                      \
        const walk w_ = walk_of(y_);                                           \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_FWD_(double, FWD);                                             \
        else                                                                   \
            BIN_FWD_(float, FWD);                                              \
    }                                                                          \
    static void nm##_backward(adj_var *y_)                                     \
    {                                                                          \
        adj_var *xa_ = y_->in[0], *xb_ = y_->in[1];                            \
        void *ga_ = (xa_->flags & ADJ_F_GRAD) ? adj_grad_buf(xa_) : NULL;      \
        void *gb_ = (xb_->flags & ADJ_F_GRAD) ? adj_grad_buf(xb_) : NULL;      \
        if (!ga_ && !gb_)                                                      \
            return;                                                            \
        if (layout_of(y_) == BC_SAME) {                                   \
            bin_ctx k_ = {.y = y_, .ga = ga_, .gb = gb_};                      \
            adj_par_for(adj_cold(y_)->numel, ADJ_PAR_GRAIN_MAP, nm##_bwd_range, &k_); \
            return;                                                            \
        }                                                                      \
        const walk w_ = walk_of(y_);                                           \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_BWD_(double, nm##_da_f64, nm##_db_f64);                        \
        else                                                                   \
            BIN_BWD_(float, nm##_da_f32, nm##_db_f32);                         \
    }                                                                          \
    static void nm##_jvp(const adj_var *y_, const void *const *tx_, void *ty_) \
    {                                                                          \
        if (layout_of(y_) == BC_SAME) {                                   \
            bin_ctx k_ = {.y = y_, .tx = tx_, .ty = ty_};                      \
            adj_par_for(adj_cold(y_)->numel, ADJ_PAR_GRAIN_MAP, nm##_jvp_range, &k_); \
            return;                                                            \
        }                                                                      \
        const walk w_ = walk_of(y_);                                           \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_TAN_(double, TAN);                                             \
        else                                                                   \
            BIN_TAN_(float, TAN);                                              \
    }                                                                          \
    static double nm##_scalar_fwd(double a, double b, const void *attr_)       \
    {                                                                          \
        (void)attr_;                                                           \
        return (FWD);                                                          \
    }                                                                          \
    static void nm##_scalar_bwd(double a, double b, double y, double dy,       \
                                const void *attr_, double *da_, double *db_)   \
    {                                                                          \
        (void)a;                                                               \
        (void)b;                                                               \
        (void)y;                                                               \
        (void)attr_;                                                           \
        *da_ = (DA);                                                           \
        *db_ = (DB);                                                           \
    }                                                                          \
    const adj_op_desc adj_desc_##nm = {                                        \
        .name = #nm, .arity = 2, .shape = shape_binary,                        \
        .forward = nm##_forward, .backward = nm##_backward, .jvp = nm##_jvp,   \
        .scalar_fwd = nm##_scalar_fwd, .scalar_bwd = nm##_scalar_bwd,          \
        .formula = FORMULA, .rule = RULE, .sig = ADJ_SIG_BINARY,               \
        .dom = {ADJ_DOM_ANY, DOMB},                                            \
    };                                                                         \
    adj_var *adj_##nm##_at(adj_var *a, adj_var *b, const char *file, int line) \
    {                                                                          \
        adj_var *in[2] = {a, b};                                               \
        return adj_record(OPID, in, 2, NULL, file, line);                      \
    }                                                                          \
    ADJ_FN2(nm)

/* y = a + b */
BINARY(add, ADJ_OP_ADD, ADJ_DOM_ANY, "y = a + b", "da += dy; db += dy",
       a + b,
       dy, dy,
       da + db)

/* y = a - b */
BINARY(sub, ADJ_OP_SUB, ADJ_DOM_ANY, "y = a - b", "da += dy; db += -dy",
       a - b,
       dy, -dy,
       da - db)

/* y = a b;  tangent dy = da b + a db */
BINARY(mul, ADJ_OP_MUL, ADJ_DOM_ANY, "y = a b", "da += dy b; db += dy a",
       a * b,
       dy * b, dy * a,
       da * b + a * db)

/* y = a / b;  db = -dy a / b^2 = -dy y / b (0 when dy is 0, even at b = 0);
 * tangent dy = (da - y db) / b */
BINARY(div, ADJ_OP_DIV, ADJ_DOM_AWAY0, "y = a / b", "da += dy / b; db += -dy y / b",
       a / b,
       dy == 0 ? 0 : dy / b, dy == 0 ? 0 : -dy * y / b,
       da == 0 && db == 0 ? 0 : (da - y * db) / b)
