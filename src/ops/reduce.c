/*
 * Reductions: sum and mean of all elements, and along one axis.
 * An axis reduction views x as (outer, len, inner) and produces
 * (outer, inner); the axis disappears from the shape.  Over no elements a
 * sum is 0 and a mean NaN (0/0), here and in every loss (a mean too).
 */
#include "tensor/accum.h"
#include "core/pool.h"
#include "ops/dispatch.h"
#include "ops/cases.h"
#include "ops/graph.h"
#include "ops/op.h"

#include <math.h>


static adj_status shape_one(adj_var *y, char *why, size_t n)
{
    (void)why;
    (void)n;
    y->ndim = 0;
    return ADJ_OK;
}

/* f = scale * sum x, accumulated in double for both dtypes (compensated,
 * ops/accum.h) */
static void total_forward(adj_var *y, double scale)
{
    const adj_var *x = y->in[0];
    const size_t n = adj_cold(x)->numel;
    if (y->dtype == ADJ_F64) {
        const double *v = x->value;
        ADJ_SUM_ALL(n, i, s, v[i], *(double *)y->value = s * scale);
    } else {
        const float *v = x->value;
        ADJ_SUM_ALL(n, i, s, v[i], *(float *)y->value = (float)(s * scale));
    }
}

/* dx_i += scale dy; a fresh dx (adj_grad_buf_exact) is stored in one
 * pass instead of zeroed and then added to: the same bits, 0 + d */
static void total_backward(adj_var *y, double scale)
{
    adj_var *x = y->in[0];
    bool fresh = false;
    void *g = adj_grad_buf_exact(x, &fresh);
    if (!g)
        return;
    const size_t n = adj_cold(x)->numel;
    if (y->dtype == ADJ_F64) {
        const double d = *(double *)y->grad * scale;
        double *gx = g;
        if (fresh)
            for (size_t i = 0; i < n; i++)
                gx[i] = 0.0 + d; /* (a -0 seed stores +0, as the add did) */
        else
            for (size_t i = 0; i < n; i++)
                gx[i] += d;
    } else {
        const float d = (float)(*(float *)y->grad * scale);
        float *gx = g;
        if (fresh)
            for (size_t i = 0; i < n; i++)
                gx[i] = 0.0f + d;
        else
            for (size_t i = 0; i < n; i++)
                gx[i] += d;
    }
}

/* tangent: dy = scale sum dx_i */
static void total_jvp(const adj_var *y, const void *tx, void *ty, double scale)
{
    size_t n = adj_cold(y->in[0])->numel;
    if (y->dtype == ADJ_F64) {
        const double *d = tx;
        ADJ_SUM_ALL(n, i, s, d[i], *(double *)ty = s * scale);
    } else {
        const float *d = tx;
        ADJ_SUM_ALL(n, i, s, d[i], *(float *)ty = (float)(s * scale));
    }
}

/* 1/n; the mean of no elements is NaN (0/0), as every mean of the library */
static double inv_count(const adj_var *x)
{
    return adj_cold(x)->numel ? 1.0 / (double)adj_cold(x)->numel : NAN;
}

static void sum_forward(adj_var *y) { total_forward(y, 1.0); }
/* dx_i += dy */
static void sum_backward(adj_var *y) { total_backward(y, 1.0); }
static void mean_forward(adj_var *y) { total_forward(y, inv_count(y->in[0])); }
/* dx_i += dy / n */
static void mean_backward(adj_var *y) { total_backward(y, inv_count(y->in[0])); }
static void sum_jvp(const adj_var *y, const void *const *tx, void *ty) { total_jvp(y, tx[0], ty, 1.0); }
static void mean_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    total_jvp(y, tx[0], ty, inv_count(y->in[0]));
}

/* graph mode: gx = gy expanded to x's shape (times 1/n for the mean) */
static bool total_vjp(adj_var *y, adj_var *gy, adj_var **gin, double scale)
{
    const adj_var *x = y->in[0];
    adj_var *g = adj_expand_at(gy, x->ndim, adj_cold(x)->shape, NULL, 0);
    gin[0] = scale == 1.0 ? g : g_scale(g, scale);
    return adj_gok(y);
}
static bool sum_vjp(adj_var *y, adj_var *gy, adj_var **gin) { return total_vjp(y, gy, gin, 1.0); }
static bool mean_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    return total_vjp(y, gy, gin, inv_count(y->in[0]));
}

const adj_op_desc adj_desc_sum = {
    .name = "sum", .arity = 1, .shape = shape_one, .forward = sum_forward,
    .backward = sum_backward, .jvp = sum_jvp, .formula = "y = sum_i x_i", .rule = "dx_i += dy",
    ADJ_CASES(adj_cases_unary), .vjp = sum_vjp,
};
const adj_op_desc adj_desc_mean = {
    .name = "mean", .arity = 1, .shape = shape_one, .forward = mean_forward,
    .backward = mean_backward, .jvp = mean_jvp, .formula = "y = (1/n) sum_i x_i", .rule = "dx_i += dy / n",
    ADJ_CASES(adj_cases_unary), .vjp = mean_vjp,
};

adj_var *adj_sum_at(adj_var *x, const char *file, int line)
{
    return adj_record(ADJ_OP_SUM, &x, 1, NULL, file, line);
}
adj_var *adj_mean_at(adj_var *x, const char *file, int line)
{
    return adj_record(ADJ_OP_MEAN, &x, 1, NULL, file, line);
}
ADJ_FN1(sum)
ADJ_FN1(mean)

/* ------------------------------------------------------------ along an axis */

static adj_status shape_axis(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    int given = ADJ_ATTR(y, adj_attr_axis)->axis, axis = given;
    if (axis < 0)
        axis += x->ndim;
    if (x->ndim == 0 || axis < 0 || axis >= x->ndim) {
        char sh[64];
        adj_fmt_shape(sh, sizeof sh, x->ndim, adj_cold(x)->shape);
        snprintf(why, n, "axis %d is out of range for shape %s", given, sh);
        return ADJ_EINVAL;
    }
    ADJ_ATTR(y, adj_attr_axis)->axis = axis; /* normalised */
    y->ndim = (uint8_t)(x->ndim - 1);
    for (int i = 0, j = 0; i < x->ndim; i++)
        if (i != axis)
            adj_cold(y)->shape[j++] = adj_cold(x)->shape[i];
    return ADJ_OK;
}

typedef struct split {
    size_t outer, len, inner;
} split;

static split split_of(const adj_var *y)
{
    const adj_var *x = y->in[0];
    const int axis = ADJ_ATTR(y, adj_attr_axis)->axis;
    split s = {1, (size_t)adj_cold(x)->shape[axis], 1};
    for (int i = 0; i < axis; i++)
        s.outer *= (size_t)adj_cold(x)->shape[i];
    for (int i = axis + 1; i < x->ndim; i++)
        s.inner *= (size_t)adj_cold(x)->shape[i];
    return s;
}

/* ys[o,i] = scale sum_l xs[o,l,i], each sum in double (ops/accum.h); the
 * forward on values, the jvp on tangents */
#define AXIS_REDUCE(T, SRC, DST)                                                \
    do {                                                                       \
        const T *xs = (SRC);                                                   \
        T *ys = (DST);                                                         \
        for (size_t o = 0; o < s.outer; o++)                                   \
            ADJ_SUM_COLS(s.len, s.inner, l, i, sum,                            \
                         xs[(o * s.len + l) * s.inner + i],                    \
                         ys[o * s.inner + i] = (T)(sum * scale));              \
    } while (0)

/*
 * The forward and backward over a range [lo, hi) of the columns i: every
 * column's sum runs over l in order whatever the range, so the pool may
 * split the columns (same bits at any thread count), and each range is
 * compiled per CPU level (ops/dispatch.h: the same operations, only the
 * vector width changes; the baseline does 2 doubles at a time).
 */
typedef struct axis_job {
    adj_var *y;
    void *g; /* backward: the input's adjoint */
    split s;
    double scale;
} axis_job;

#define AXIS_RANGES(SUF, ATTR)                                                  \
    static ATTR void axis_fwd_##SUF(void *ctx, size_t lo, size_t hi)           \
    {                                                                          \
        const axis_job *job_ = ctx;                                              \
        const adj_var *y = job_->y;                                              \
        const split s = job_->s;                                                 \
        const double scale = job_->scale;                                        \
        if (y->dtype == ADJ_F64)                                               \
            AXIS_COLS_FWD(double);                                             \
        else                                                                   \
            AXIS_COLS_FWD(float);                                              \
    }                                                                          \
    static ATTR void axis_bwd_##SUF(void *ctx, size_t lo, size_t hi)           \
    {                                                                          \
        const axis_job *job_ = ctx;                                              \
        const adj_var *y = job_->y;                                              \
        const split s = job_->s;                                                 \
        const double scale = job_->scale;                                        \
        void *g = job_->g;                                                       \
        if (y->dtype == ADJ_F64)                                               \
            AXIS_COLS_BWD(double);                                             \
        else                                                                   \
            AXIS_COLS_BWD(float);                                              \
    }

/* ys[o,i] = scale sum_l xs[o,l,i] for the columns [lo, hi) */
#define AXIS_COLS_FWD(T)                                                        \
    do {                                                                       \
        const T *xs = y->in[0]->value;                                         \
        T *ys = y->value;                                                      \
        for (size_t o = 0; o < s.outer; o++)                                   \
            ADJ_SUM_COLS(s.len, hi - lo, l, i, sum,                            \
                         xs[(o * s.len + l) * s.inner + lo + i],               \
                         ys[o * s.inner + lo + i] = (T)(sum * scale));         \
    } while (0)

/* dx[o,l,i] += dy[o,i] scale for the columns [lo, hi) */
#define AXIS_COLS_BWD(T)                                                        \
    do {                                                                       \
        const T *dy = y->grad;                                                 \
        T *dx = g;                                                             \
        for (size_t o = 0; o < s.outer; o++)                                   \
            for (size_t l = 0; l < s.len; l++)                                 \
                for (size_t i = lo; i < hi; i++)                               \
                    dx[(o * s.len + l) * s.inner + i] += (T)(dy[o * s.inner + i] * scale); \
    } while (0)

AXIS_RANGES(base, )
#if ADJ_VM_DISPATCH
AXIS_RANGES(avx2, ADJ_VM_TGT_AVX2)
AXIS_RANGES(avx512, ADJ_VM_TGT_AVX512)
#endif

/* the level's kernel (AVX2 for ranges of fewer than ADJ_VM_WIDE_MIN
 * elements, as the elementwise kernels) */
#if ADJ_VM_DISPATCH
#define AXIS_LEVEL(DIR)                                                         \
    static void axis_##DIR(void *ctx, size_t lo, size_t hi)                    \
    {                                                                          \
        const axis_job *j = ctx;                                               \
        const int l = adj_vm_level();                                          \
        if (l == ADJ_VM_AVX512 && (hi - lo) * j->s.len * j->s.outer >= ADJ_VM_WIDE_MIN) \
            axis_##DIR##_avx512(ctx, lo, hi);                                  \
        else if (l >= ADJ_VM_AVX2)                                             \
            axis_##DIR##_avx2(ctx, lo, hi);                                    \
        else                                                                   \
            axis_##DIR##_base(ctx, lo, hi);                                    \
    }
#else
#define AXIS_LEVEL(DIR)                                                         \
    static void axis_##DIR(void *ctx, size_t lo, size_t hi) { axis_##DIR##_base(ctx, lo, hi); }
#endif
AXIS_LEVEL(fwd)
AXIS_LEVEL(bwd)

/* Columns per part: at least half a map's grain of elements each. */
static size_t axis_grain(const split *s)
{
    size_t per = s->outer * s->len;
    return per ? (ADJ_PAR_GRAIN_MAP / 2 + per - 1) / per : ADJ_PAR_GRAIN_MAP;
}

static void axis_forward(adj_var *y, bool mean)
{
    split s = split_of(y);
    double scale = !mean ? 1.0 : s.len ? 1.0 / (double)s.len : NAN; /* 0/0 over no elements */
    axis_job j = {y, NULL, s, scale};
    adj_par_for(s.inner, axis_grain(&s), axis_fwd, &j);
}

/* dx[o,l,i] += dy[o,i] (times 1/len for the mean) */
static void axis_backward(adj_var *y, bool mean)
{
    void *g = adj_grad_buf(y->in[0]);
    if (!g)
        return;
    split s = split_of(y);
    double scale = !mean ? 1.0 : s.len ? 1.0 / (double)s.len : NAN; /* 0/0 over no elements */
    axis_job j = {y, g, s, scale};
    adj_par_for(s.inner, axis_grain(&s), axis_bwd, &j);
}

/* tangent: dy[o,i] = sum_l dx[o,l,i] (times 1/len for the mean) */
static void axis_jvp(const adj_var *y, const void *tx, void *ty, bool mean)
{
    split s = split_of(y);
    double scale = !mean ? 1.0 : s.len ? 1.0 / (double)s.len : NAN; /* 0/0 over no elements */
    if (y->dtype == ADJ_F64)
        AXIS_REDUCE(double, tx, ty);
    else
        AXIS_REDUCE(float, tx, ty);
}

static void sum_axis_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    axis_jvp(y, tx[0], ty, false);
}
static void mean_axis_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    axis_jvp(y, tx[0], ty, true);
}

static void sum_axis_forward(adj_var *y) { axis_forward(y, false); }
static void sum_axis_backward(adj_var *y) { axis_backward(y, false); }
static void mean_axis_forward(adj_var *y) { axis_forward(y, true); }
static void mean_axis_backward(adj_var *y) { axis_backward(y, true); }

/* Teaching: "sum(x, axis 1)", "mean(x, axis 0)" */
static void axis_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                        char *buf, size_t size)
{
    (void)opnd;
    snprintf(buf, size, "%s(%s, axis %d)", y->op == ADJ_OP_SUM_AXIS ? "sum" : "mean", ref[0],
             (int)ADJ_ATTR(y, adj_attr_axis)->axis);
}
static const adj_op_teach axis_teach = {.define_fn = axis_define};

static const adj_attr_axis ax0 = {0}, ax1 = {1}, axm1 = {-1};
static const adj_op_case axis_cases[] = {
    {1, {2}, {{3, 4}}, &ax0, " axis 0"},
    {1, {2}, {{3, 4}}, &ax1, " axis 1"},
    {1, {3}, {{2, 3, 4}}, &ax1, " axis 1"},
    {1, {1}, {{5}}, &ax0, " axis 0"},
    {1, {2}, {{2, 3}}, &axm1, " axis -1"},
};

/* graph mode: dx = dy with the axis put back and expanded (/ L) */
static bool along_vjp(adj_var *y, adj_var *gy, adj_var **gin, bool mean)
{
    const adj_var *x = y->in[0];
    const int axis = ADJ_ATTR(y, adj_attr_axis)->axis;
    adj_var *g = adj_expand_at(adj_unsqueeze_at(gy, axis, NULL, 0), x->ndim, adj_cold(x)->shape,
                               NULL, 0);
    gin[0] = mean ? g_scale(g, 1.0 / (double)adj_cold(x)->shape[axis]) : g;
    return adj_gok(y);
}
static bool sum_axis_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    return along_vjp(y, gy, gin, false);
}
static bool mean_axis_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    return along_vjp(y, gy, gin, true);
}

const adj_op_desc adj_desc_sum_axis = {
    .name = "sum_axis", .arity = 1, .attr_size = sizeof(adj_attr_axis), .shape = shape_axis, .forward = sum_axis_forward,
    .backward = sum_axis_backward, .jvp = sum_axis_jvp, .formula = "y[o,i] = sum_l x[o,l,i]",
    .rule = "dx[o,l,i] += dy[o,i]", ADJ_CASES(axis_cases), .teach = &axis_teach,
    .vjp = sum_axis_vjp,
};
const adj_op_desc adj_desc_mean_axis = {
    .name = "mean_axis", .arity = 1, .attr_size = sizeof(adj_attr_axis), .shape = shape_axis, .forward = mean_axis_forward,
    .backward = mean_axis_backward, .jvp = mean_axis_jvp, .formula = "y[o,i] = (1/L) sum_l x[o,l,i]",
    .rule = "dx[o,l,i] += dy[o,i] / L", ADJ_CASES(axis_cases), .teach = &axis_teach,
    .vjp = mean_axis_vjp,
};

adj_var *adj_sum_axis_at(adj_var *x, int axis, const char *file, int line)
{
    adj_attr_axis a = {axis};
    return adj_record(ADJ_OP_SUM_AXIS, &x, 1, &a, file, line);
}
adj_var *adj_mean_axis_at(adj_var *x, int axis, const char *file, int line)
{
    adj_attr_axis a = {axis};
    return adj_record(ADJ_OP_MEAN_AXIS, &x, 1, &a, file, line);
}
adj_var *(adj_sum_axis)(adj_var *x, int axis) { return adj_sum_axis_at(x, axis, NULL, 0); }
adj_var *(adj_mean_axis)(adj_var *x, int axis) { return adj_mean_axis_at(x, axis, NULL, 0); }
