/*
 * Selection by a mask, and clamping: where, masked_fill, clamp.
 *
 * where(cond, a, b) broadcasts its three inputs together (NumPy's rule,
 * tensor/layout.h) and masked_fill(x, mask, value) broadcasts the mask to
 * x's shape.  Both walk y with the N-d iterator (tensor/iter.h), reading
 * every input through its layout with stride 0 along the dimensions it is
 * broadcast on.  A mask is a tensor of the operands' float dtype (the 0/1
 * result of a comparison, say): an element selects when it is nonzero
 * (NaN included) and takes no gradient.  The adjoint of a broadcast
 * operand is written in y's shape and summed back to the operand's shape
 * by the one shared reduction (adj_reduce_bcast, in double).
 */
#include "ops/graph.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "tensor/iter.h"
#include "tensor/strided.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- the walk */

/*
 * A walk over y's shape: operand 0 is y's contiguous layout (y, dy, a
 * contribution in y's shape), operands 1.. are the inputs, through their
 * value layouts, or their contiguous shapes where bit k of `tangents` is
 * set (input k is read as a tangent), broadcast to y's shape.  off[k] is
 * operand k's base offset.
 */
typedef struct walk {
    adj_iter it;
    int64_t off[ADJ_ITER_MAX_OPS];
} walk;

static void walk_init(walk *w, const adj_var *y, int nin, const adj_var *const *xs,
                      unsigned tangents)
{
    int64_t st[ADJ_ITER_MAX_OPS][ADJ_MAX_DIMS];
    const int64_t *sp[ADJ_ITER_MAX_OPS];
    const int nd = y->ndim;
    const int64_t *shape = adj_cold(y)->shape;
    adj_contig_strides(nd, shape, st[0]);
    w->off[0] = 0;
    sp[0] = st[0];
    for (int k = 0; k < nin; k++) {
        adj_layout l;
        if ((tangents >> k) & 1u)
            adj_layout_contig(&l, xs[k]->ndim, adj_cold(xs[k])->shape);
        else
            adj_var_layout(xs[k], &l);
        adj_bcast_strides(&l, nd, shape, st[k + 1]);
        w->off[k + 1] = l.offset;
        sp[k + 1] = st[k + 1];
    }
    adj_iter_init(&w->it, nd, shape, nin + 1, sp);
}

/* Run BODY for every element of y: i0 its index in y, i1.. the index of
 * the corresponding element of operand 1.. (from their bases). */
#define WALK(w, BODY)                                                          \
    do {                                                                       \
        adj_iter_pos p_;                                                       \
        adj_iter_seek(&(w)->it, 0, &p_);                                       \
        const int64_t *is_ = (w)->it.istride;                                  \
        for (int64_t r_ = 0; r_ < (w)->it.runs; r_++, adj_iter_next(&(w)->it, &p_)) \
            for (int64_t j_ = 0; j_ < (w)->it.inner; j_++) {                   \
                const int64_t i0 = p_.off[0] + j_ * is_[0];                    \
                const int64_t i1 = (w)->off[1] + p_.off[1] + j_ * is_[1];      \
                const int64_t i2 = (w)->it.nops > 2                            \
                                       ? (w)->off[2] + p_.off[2] + j_ * is_[2] \
                                       : 0;                                    \
                const int64_t i3 = (w)->it.nops > 3                            \
                                       ? (w)->off[3] + p_.off[3] + j_ * is_[3] \
                                       : 0;                                    \
                (void)i0;                                                      \
                (void)i1;                                                      \
                (void)i2;                                                      \
                (void)i3;                                                      \
                BODY;                                                          \
            }                                                                  \
    } while (0)

/* dx += (the contribution c, in y's shape) summed back to x's shape. */
static void acc_back(adj_var *y, adj_var *x, const void *c)
{
    void *g = adj_grad_buf(x);
    if (!g)
        return;
    adj_tape *t = adj_node_tape(y);
    adj_layout yl;
    adj_layout_contig(&yl, y->ndim, adj_cold(y)->shape);
    size_t ns = adj_reduce_scratch(y->dtype, (int64_t)adj_cold(x)->numel);
    double *scratch = ns ? adj_arena_alloc(t, ns * sizeof *scratch) : NULL;
    if (ns && !scratch)
        return; /* ADJ_ENOMEM is on the tape */
    adj_reduce_bcast(y->dtype, g, x->ndim, adj_cold(x)->shape, c, &yl, 1.0, scratch);
}

/* ------------------------------------------------------------------ where */

static adj_status where_shape(adj_var *y, char *why, size_t n)
{
    int nd = 0;
    int64_t sh[ADJ_MAX_DIMS];
    const adj_var *c = y->in[0], *a = y->in[1], *b = y->in[2];
    if (!adj_bcast_shape(c->ndim, adj_cold(c)->shape, a->ndim, adj_cold(a)->shape, &nd, sh) ||
        !adj_bcast_shape(nd, sh, b->ndim, adj_cold(b)->shape, &nd, sh)) {
        snprintf(why, n, "cond, a and b do not broadcast to one shape (aligned at the last "
                         "dimension, each size equal or 1)");
        return ADJ_ESHAPE;
    }
    y->ndim = (uint8_t)nd;
    memcpy(adj_cold(y)->shape, sh, (size_t)nd * sizeof *sh);
    return ADJ_OK;
}

#define WHERE_FWD(T, w, Y, C, A, B) WALK(w, (Y)[i0] = (C)[i1] != 0 ? (A)[i2] : (B)[i3])

/* y = cond != 0 ? a : b */
static void where_forward(adj_var *y)
{
    walk w;
    walk_init(&w, y, 3, (const adj_var *const[]){y->in[0], y->in[1], y->in[2]}, 0);
    if (y->dtype == ADJ_F64)
        WHERE_FWD(double, &w, (double *)y->value, (const double *)y->in[0]->value,
                  (const double *)y->in[1]->value, (const double *)y->in[2]->value);
    else
        WHERE_FWD(float, &w, (float *)y->value, (const float *)y->in[0]->value,
                  (const float *)y->in[1]->value, (const float *)y->in[2]->value);
}

/* da += dy where cond != 0, db += dy elsewhere (each summed back to its
 * shape); cond takes none */
static void where_backward(adj_var *y)
{
    adj_var *a = y->in[1], *b = y->in[2];
    adj_tape *t = adj_node_tape(y);
    size_t m = adj_cold(y)->numel, es = adj_dsize(y->dtype);
    void *c = adj_arena_alloc(t, m * es + 1);
    if (!c)
        return;
    walk w;
    walk_init(&w, y, 1, (const adj_var *const[]){y->in[0]}, 0);
    for (int side = 0; side < 2; side++) {
        adj_var *x = side ? b : a;
        if (!(x->flags & ADJ_F_GRAD))
            continue;
        if (y->dtype == ADJ_F64) {
            const double *C = y->in[0]->value, *dy = y->grad;
            double *o = c;
            WALK(&w, o[i0] = ((C[i1] != 0) != side) ? dy[i0] : 0.0);
        } else {
            const float *C = y->in[0]->value, *dy = y->grad;
            float *o = c;
            WALK(&w, o[i0] = ((C[i1] != 0) != side) ? dy[i0] : 0.0f);
        }
        acc_back(y, x, c);
    }
}

/* tangent: cond != 0 ? da : db (the mask through its value layout, the
 * tangents contiguous) */
static void where_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    walk w;
    walk_init(&w, y, 3, (const adj_var *const[]){y->in[0], y->in[1], y->in[2]}, 6u);
    if (y->dtype == ADJ_F64)
        WHERE_FWD(double, &w, (double *)ty, (const double *)y->in[0]->value,
                  (const double *)tx[1], (const double *)tx[2]);
    else
        WHERE_FWD(float, &w, (float *)ty, (const float *)y->in[0]->value, (const float *)tx[1],
                  (const float *)tx[2]);
}

static const char *const where_inputs[] = {"cond", "a", "b"};

/* same shapes; each input broadcast in turn; all three; size-1 and
 * zero-size dimensions */
static const adj_op_case where_cases[] = {
    {3, {2, 2, 2}, {{3, 4}, {3, 4}, {3, 4}}, NULL, NULL},
    {3, {0, 0, 0}, {{0}, {0}, {0}}, NULL, NULL},
    {3, {1, 2, 2}, {{4}, {3, 4}, {3, 4}}, NULL, " cond broadcast"},
    {3, {2, 1, 2}, {{3, 4}, {4}, {3, 1}}, NULL, " a and b broadcast"},
    {3, {3, 2, 0}, {{2, 1, 3}, {1, 3}, {0}}, NULL, " every input broadcast"},
    {3, {2, 2, 2}, {{2, 1}, {1, 3}, {2, 3}}, NULL, " size-1 dimensions"},
    {3, {2, 2, 2}, {{3, 4}, {3, 1}, {1, 4}}, NULL, " a along the last axis, b the first"},
    {3, {2, 2, 2}, {{0, 3}, {1, 3}, {0, 1}}, NULL, " zero-size"},
};

/* graph mode: da = where(cond, dy, 0), db = where(cond, 0, dy), each
 * summed to its shape; cond takes none */
static bool where_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    adj_var *cond = y->in[0], *zero = adj_gscalar(gy, 0.0);
    if (adj_gwants(y, 1))
        gin[1] = adj_gsum_to(adj_where_at(cond, gy, zero, NULL, 0), y->in[1]);
    if (adj_gwants(y, 2))
        gin[2] = adj_gsum_to(adj_where_at(cond, zero, gy, NULL, 0), y->in[2]);
    return adj_gok(y);
}

const adj_op_desc adj_desc_where = {
    .name = "where", .arity = 3, .inputs = where_inputs, .shape = where_shape,
    .forward = where_forward, .backward = where_backward, .jvp = where_jvp,
    .formula = "y = cond != 0 ? a : b (broadcast)",
    .rule = "da += dy [cond != 0], db += dy [cond == 0] (each summed to its shape); no dcond",
    ADJ_CASES(where_cases), .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
    .vjp = where_vjp,
};

adj_var *adj_where_at(adj_var *cond, adj_var *a, adj_var *b, const char *file, int line)
{
    return adj_record(ADJ_OP_WHERE, (adj_var *const[]){cond, a, b}, 3, NULL, file, line);
}
adj_var *(adj_where)(adj_var *cond, adj_var *a, adj_var *b)
{
    return adj_where_at(cond, a, b, NULL, 0);
}

/* ------------------------------------------------------------ masked_fill */

typedef struct fill_attr {
    double value;
} fill_attr;

static adj_status masked_fill_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0], *m = y->in[1];
    int nd = 0;
    int64_t sh[ADJ_MAX_DIMS];
    if (!adj_bcast_shape(x->ndim, adj_cold(x)->shape, m->ndim, adj_cold(m)->shape, &nd, sh) ||
        nd != x->ndim || memcmp(sh, adj_cold(x)->shape, (size_t)nd * sizeof *sh) != 0) {
        snprintf(why, n, "mask does not broadcast to x's shape");
        return ADJ_ESHAPE;
    }
    adj_shape_from(y, x);
    return ADJ_OK;
}

/* y = mask != 0 ? value : x */
static void masked_fill_forward(adj_var *y)
{
    walk w;
    walk_init(&w, y, 2, (const adj_var *const[]){y->in[0], y->in[1]}, 0);
    const double v = ADJ_ATTR(y, fill_attr)->value;
    if (y->dtype == ADJ_F64) {
        const double *X = y->in[0]->value, *M = y->in[1]->value;
        double *Y = y->value;
        WALK(&w, Y[i0] = M[i2] != 0 ? v : X[i1]);
    } else {
        const float *X = y->in[0]->value, *M = y->in[1]->value;
        float *Y = y->value;
        const float vf = (float)v;
        WALK(&w, Y[i0] = M[i2] != 0 ? vf : X[i1]);
    }
}

/* dx += dy where mask == 0 (x has y's shape); the mask takes none */
static void masked_fill_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    if (!(x->flags & ADJ_F_GRAD))
        return;
    void *g = adj_grad_buf(x);
    if (!g)
        return;
    walk w;
    walk_init(&w, y, 2, (const adj_var *const[]){x, y->in[1]}, 0);
    if (y->dtype == ADJ_F64) {
        const double *M = y->in[1]->value, *dy = y->grad;
        double *G = g;
        WALK(&w, if (M[i2] == 0) G[i0] += dy[i0]);
    } else {
        const float *M = y->in[1]->value, *dy = y->grad;
        float *G = g;
        WALK(&w, if (M[i2] == 0) G[i0] += dy[i0]);
    }
}

/* tangent: 0 where filled, dx elsewhere */
static void masked_fill_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    walk w;
    walk_init(&w, y, 2, (const adj_var *const[]){y->in[0], y->in[1]}, 0);
    if (y->dtype == ADJ_F64) {
        const double *M = y->in[1]->value, *T = tx[0];
        double *o = ty;
        WALK(&w, o[i0] = M[i2] != 0 ? 0.0 : T[i0]);
    } else {
        const float *M = y->in[1]->value, *T = tx[0];
        float *o = ty;
        WALK(&w, o[i0] = M[i2] != 0 ? 0.0f : T[i0]);
    }
}

static const char *const masked_fill_inputs[] = {"x", "mask"};
static const fill_attr fill_neg = {-2.5}, fill_big = {1e3};

/* same shape; a broadcast mask (row, column, 0-D); -inf fills;
 * size-1 and zero-size dimensions */
static const adj_op_case masked_fill_cases[] = {
    {2, {2, 2}, {{3, 4}, {3, 4}}, NULL, NULL},
    {2, {2, 1}, {{3, 4}, {4}}, &fill_neg, " row mask"},
    {2, {2, 2}, {{3, 4}, {3, 1}}, &fill_big, " column mask, 1000"},
    {2, {3, 0}, {{2, 1, 3}, {0}}, NULL, " 0-D mask"},
    {2, {0, 0}, {{0}, {0}}, NULL, NULL},
    {2, {2, 2}, {{0, 3}, {1, 3}}, NULL, " zero-size"},
};

/* graph mode: dx = dy with the masked elements 0; the mask takes none */
static bool masked_fill_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    if (adj_gwants(y, 0))
        gin[0] = adj_masked_fill_at(gy, y->in[1], 0.0, NULL, 0);
    return adj_gok(y);
}

const adj_op_desc adj_desc_masked_fill = {
    .name = "masked_fill", .arity = 2, .inputs = masked_fill_inputs,
    .attr_size = sizeof(fill_attr), .shape = masked_fill_shape, .forward = masked_fill_forward,
    .backward = masked_fill_backward, .jvp = masked_fill_jvp,
    .formula = "y = mask != 0 ? value : x (mask broadcast to x)",
    .rule = "dx += dy [mask == 0]; no dmask", ADJ_CASES(masked_fill_cases),
    .vjp = masked_fill_vjp,
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
};

adj_var *adj_masked_fill_at(adj_var *x, adj_var *mask, double value, const char *file, int line)
{
    return adj_record(ADJ_OP_MASKED_FILL, (adj_var *const[]){x, mask}, 2, &(fill_attr){value},
                      file, line);
}
adj_var *(adj_masked_fill)(adj_var *x, adj_var *mask, double value)
{
    return adj_masked_fill_at(x, mask, value, NULL, 0);
}

/* ------------------------------------------------------------------ clamp */

typedef struct clamp_attr {
    double lo, hi;
} clamp_attr;

static adj_status clamp_shape(adj_var *y, char *why, size_t n)
{
    const clamp_attr *a = ADJ_ATTR(y, clamp_attr);
    if (isnan(a->lo) || isnan(a->hi) || a->lo > a->hi) {
        snprintf(why, n, "the bounds lo = %g, hi = %g must be numbers with lo <= hi", a->lo, a->hi);
        return ADJ_EINVAL;
    }
    return adj_shape_same(y, why, n);
}

/* y = min(max(x, lo), hi); NaN stays NaN */
#define CLAMP_(T, X, Y, m, lo, hi)                                             \
    for (size_t i_ = 0; i_ < (m); i_++) {                                      \
        const T x_ = (X)[i_];                                                  \
        (Y)[i_] = x_ < (lo) ? (T)(lo) : x_ > (hi) ? (T)(hi) : x_;              \
    }

static void clamp_forward(adj_var *y)
{
    const clamp_attr *a = ADJ_ATTR(y, clamp_attr);
    size_t m = adj_cold(y)->numel;
    if (y->dtype == ADJ_F64)
        CLAMP_(double, (const double *)y->in[0]->value, (double *)y->value, m, a->lo, a->hi)
    else
        CLAMP_(float, (const float *)y->in[0]->value, (float *)y->value, m, (float)a->lo,
               (float)a->hi)
}

/* dx += dy where lo <= x <= hi (the bounds included, as PyTorch), else 0
 * (and 0 at a NaN x) */
#define CLAMP_PASS_(T, X, S, D, m, lo, hi, ACC)                                \
    for (size_t i_ = 0; i_ < (m); i_++) {                                      \
        const T x_ = (X)[i_];                                                  \
        const bool in_ = x_ >= (lo) && x_ <= (hi);                             \
        if (ACC) {                                                             \
            if (in_)                                                           \
                (D)[i_] += (S)[i_];                                            \
        } else {                                                               \
            (D)[i_] = in_ ? (S)[i_] : (T)0;                                    \
        }                                                                      \
    }

static void clamp_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    if (!(x->flags & ADJ_F_GRAD))
        return;
    void *g = adj_grad_buf(x);
    if (!g)
        return;
    const clamp_attr *a = ADJ_ATTR(y, clamp_attr);
    size_t m = adj_cold(y)->numel;
    if (y->dtype == ADJ_F64)
        CLAMP_PASS_(double, (const double *)x->value, (const double *)y->grad, (double *)g, m,
                    a->lo, a->hi, 1)
    else
        CLAMP_PASS_(float, (const float *)x->value, (const float *)y->grad, (float *)g, m,
                    (float)a->lo, (float)a->hi, 1)
}

static void clamp_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_var *x = y->in[0];
    const clamp_attr *a = ADJ_ATTR(y, clamp_attr);
    size_t m = adj_cold(y)->numel;
    if (y->dtype == ADJ_F64)
        CLAMP_PASS_(double, (const double *)x->value, (const double *)tx[0], (double *)ty, m,
                    a->lo, a->hi, 0)
    else
        CLAMP_PASS_(float, (const float *)x->value, (const float *)tx[0], (float *)ty, m,
                    (float)a->lo, (float)a->hi, 0)
}

static const clamp_attr clamp_both = {-1.0, 1.0}, clamp_lo = {-0.5, INFINITY},
                        clamp_hi = {-INFINITY, 0.5}, clamp_none = {-INFINITY, INFINITY};
static const adj_op_case clamp_cases[] = {
    {1, {2}, {{3, 4}}, &clamp_both, " [-1, 1]"},
    {1, {0}, {{0}}, &clamp_both, " [-1, 1]"},
    {1, {1}, {{7}}, &clamp_lo, " [-0.5, inf]"},
    {1, {4}, {{2, 1, 3, 2}}, &clamp_hi, " [-inf, 0.5]"},
    {1, {2}, {{2, 3}}, &clamp_none, " [-inf, inf]"},
    {1, {3}, {{2, 0, 3}}, &clamp_both, " zero-size"},
};

/* graph mode: dx = dy [lo <= x <= hi] (a constant mask) */
static bool clamp_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    const clamp_attr *a = ADJ_ATTR(y, clamp_attr);
    adj_var *x = y->in[0];
    gin[0] = g_mul(gy, g_mul(g_gec(x, a->lo), adj_le_at(x, adj_gscalar(x, a->hi), NULL, 0)));
    return adj_gok(y);
}

const adj_op_desc adj_desc_clamp = {
    .name = "clamp", .arity = 1, .attr_size = sizeof(clamp_attr), .shape = clamp_shape,
    .forward = clamp_forward, .backward = clamp_backward, .jvp = clamp_jvp,
    .formula = "y = min(max(x, lo), hi)",
    .rule = "dx += dy [lo <= x <= hi] (passes at the bounds)", ADJ_CASES(clamp_cases),
    .vjp = clamp_vjp,
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
};

adj_var *adj_clamp_at(adj_var *x, double lo, double hi, const char *file, int line)
{
    return adj_record(ADJ_OP_CLAMP, &x, 1, &(clamp_attr){lo, hi}, file, line);
}
adj_var *(adj_clamp)(adj_var *x, double lo, double hi) { return adj_clamp_at(x, lo, hi, NULL, 0); }
