/*
 * Joins, masks, scans, argmax: where, masked_fill, clamp, cumsum, pad,
 * concat, stack, split, chunk, argmax/argmin.  Values and gradients here
 * are worked out by hand (or with the plain formula in double); finite
 * differences check both branches of the masks with the mask held
 * constant; the op-table suites check every op's cases as well.  The
 * errors name the function, the input and the bad value.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <string.h>

static const int64_t s23[2] = {2, 3}, s3[1] = {3}, s22[2] = {2, 2}, s33[2] = {3, 3};

/* L = sum(y * w) for w = 1, 2, 3, ...: dL/dy = w */
static adj_var *weighted(adj_var *y)
{
    adj_tape *t = adj_var_tape(y);
    size_t n = adj_numel(y);
    double w[64];
    for (size_t i = 0; i < n && i < 64; i++)
        w[i] = (double)(i + 1);
    int64_t sh[8];
    for (int d = 0; d < adj_ndim(y); d++)
        sh[d] = adj_dim(y, d);
    return adj_sum(adj_mul(y, adj_constant_f64(t, adj_ndim(y), sh, w)));
}

/* where: values with a broadcast b, gradients to a where cond, to b
 * elsewhere summed over the broadcast rows, none to cond. */
START_TEST(where_values_and_gradients)
{
    adj_tape *t = adj_tape_new();
    adj_var *c = adj_tensor_f64(t, 2, s23, (double[]){1, 0, 1, 0, 0, 2});
    adj_var *a = adj_tensor_f64(t, 2, s23, (double[]){10, 11, 12, 13, 14, 15});
    adj_var *b = adj_tensor_f64(t, 1, s3, (double[]){-1, -2, -3});
    adj_var *y = adj_where(c, a, b);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    const double want[6] = {10, -2, 12, -1, -2, 15};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(adj_value_at(y, i), want[i]);
    ck_assert_int_eq(adj_backward(weighted(y)), ADJ_OK);
    /* w = 1..6; da = w [c != 0]; db_j = sum_i w_ij [c_ij == 0] */
    const double da[6] = {1, 0, 3, 0, 0, 6}, db[3] = {4, 2 + 5, 0};
    for (int i = 0; i < 6; i++) {
        ck_assert_double_eq(adj_grad_at(a, i), da[i]);
        ck_assert_double_eq(adj_grad_at(c, i), 0.0);
    }
    for (int j = 0; j < 3; j++)
        ck_assert_double_eq(adj_grad_at(b, j), db[j]);
    /* a NaN condition selects a; a 0-D b broadcasts everywhere */
    adj_tape_reset(t);
    adj_var *cn = adj_constant_f64(t, 1, s3, (double[]){NAN, 0, -0.0});
    adj_var *y2 = adj_where(cn, adj_constant_f64(t, 1, s3, (double[]){1, 2, 3}), adj_scalar(t, 7));
    ck_assert_double_eq(adj_value_at(y2, 0), 1);
    ck_assert_double_eq(adj_value_at(y2, 1), 7);
    ck_assert_double_eq(adj_value_at(y2, 2), 7);
    /* forward mode: the tangent of the selected operand */
    adj_tape_reset(t);
    adj_var *x = adj_scalar(t, 3.0);
    adj_var *sel = adj_where(adj_gt(x, adj_scalar(t, 0)), adj_square(x), adj_neg(x));
    ck_assert_double_eq(adj_jvp_item(sel, x, 1.0), 6.0);
    adj_tape_free(t);
}
END_TEST

/* Finite differences through both branches: the mask is a constant of
 * the checked function, not one of its inputs. */
static const double mask_rows[3] = {1, 0, 1}, mask_cols[4] = {0, 1, 0, 0};

static adj_var *where_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    adj_var *c = adj_constant_f64(t, 2, ((int64_t[]){3, 1}), mask_rows);
    if (adj_var_dtype(in[0]) == ADJ_F32)
        c = adj_constant_f32(t, 2, ((int64_t[]){3, 1}), (float[]){1, 0, 1});
    return adj_sum(adj_square(adj_where(c, adj_exp(in[0]), adj_sin(in[1]))));
}

static adj_var *fill_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    adj_var *m = adj_var_dtype(in[0]) == ADJ_F32
                     ? adj_constant_f32(t, 1, ((int64_t[]){4}), (float[]){0, 1, 0, 0})
                     : adj_constant_f64(t, 1, ((int64_t[]){4}), mask_cols);
    return adj_sum(adj_square(adj_masked_fill(adj_sin(in[0]), m, 0.75)));
}

START_TEST(masks_against_finite_differences)
{
    double xa[12], xb[4], xc[12];
    for (int i = 0; i < 12; i++) {
        xa[i] = 0.1 * i - 0.5;
        xc[i] = 0.3 * i - 1.7;
    }
    for (int i = 0; i < 4; i++)
        xb[i] = 0.4 * i - 0.6;
    adj_gradcheck_input in[2] = {{.ndim = 2, .shape = {3, 4}, .data = xa},
                                 {.ndim = 1, .shape = {4}, .data = xb}};
    for (int dt = 0; dt < 2; dt++) {
        adj_gradcheck_opts o = {.dtype = dt ? ADJ_F32 : ADJ_F64};
        adj_gradcheck_report r;
        ck_assert_int_eq(adj_gradcheck(where_fn, NULL, 2, in, &o, &r), ADJ_OK);
        ck_assert_msg(r.passed, "where %s: %s", dt ? "f32" : "f64", r.message);
        /* both inputs get a nonzero gradient somewhere (both branches taken) */
        adj_gradcheck_input one = {.ndim = 2, .shape = {3, 4}, .data = xc};
        ck_assert_int_eq(adj_gradcheck(fill_fn, NULL, 1, &one, &o, &r), ADJ_OK);
        ck_assert_msg(r.passed, "masked_fill %s: %s", dt ? "f32" : "f64", r.message);
    }
}
END_TEST

/* A causal mask: -inf above the diagonal, then softmax along the rows:
 * probability 0 there, the rest as the softmax of the visible entries,
 * and finite gradients that are 0 at the masked scores. */
START_TEST(causal_mask_softmax)
{
    adj_tape *t = adj_tape_new();
    const double sc[9] = {0.3, 9, 9, -1.2, 0.4, 9, 2.0, -0.5, 0.1};
    adj_var *s = adj_tensor_f64(t, 2, s33, sc);
    adj_var *upper = adj_constant_f64(t, 2, s33, (double[]){0, 1, 1, 0, 0, 1, 0, 0, 0});
    adj_var *p = adj_softmax_axis(adj_masked_fill(s, upper, -INFINITY), -1);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    for (int i = 0; i < 3; i++) {
        double z = 0;
        for (int j = 0; j <= i; j++)
            z += exp(sc[3 * i + j]);
        for (int j = 0; j < 3; j++) {
            double want = j <= i ? exp(sc[3 * i + j]) / z : 0.0;
            ck_assert_msg(fabs(adj_value_at(p, (size_t)(3 * i + j)) - want) <= 1e-15,
                          "p[%d,%d] = %.17g, want %.17g", i, j, adj_value_at(p, (size_t)(3 * i + j)),
                          want);
        }
    }
    ck_assert_double_eq(adj_value_at(p, 1), 0.0);
    ck_assert_int_eq(adj_backward(weighted(p)), ADJ_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double g = adj_grad_at(s, (size_t)(3 * i + j));
            ck_assert_msg(isfinite(g), "grad[%d,%d] = %g", i, j, g);
            if (j > i)
                ck_assert_double_eq(g, 0.0);
        }
    /* row 1, by hand: dp/ds = diag(p) - p p^T on the visible entries, w = 4, 5 */
    double p0 = adj_value_at(p, 3), p1 = adj_value_at(p, 4);
    double g0 = p0 * (4 - (4 * p0 + 5 * p1)), g1 = p1 * (5 - (4 * p0 + 5 * p1));
    ck_assert(fabs(adj_grad_at(s, 3) - g0) <= 1e-15);
    ck_assert(fabs(adj_grad_at(s, 4) - g1) <= 1e-15);
    adj_tape_free(t);
}
END_TEST

/* clamp: both bounds, the gradient passing at the bounds themselves,
 * NaN, one-sided bounds, f32. */
START_TEST(clamp_bounds_and_ties)
{
    adj_tape *t = adj_tape_new();
    int64_t s6[1] = {6};
    adj_var *x = adj_tensor_f64(t, 1, s6, (double[]){-2, -1, 0.25, 1, 2, NAN});
    adj_var *y = adj_clamp(x, -1, 1);
    const double want[5] = {-1, -1, 0.25, 1, 1}, g[6] = {0, 1, 1, 1, 0, 0};
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(adj_value_at(y, i), want[i]);
    ck_assert(isnan(adj_value_at(y, 5)));
    adj_var *L = adj_sum(adj_mul(y, adj_constant_f64(t, 1, s6, (double[]){1, 1, 1, 1, 1, 0})));
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(adj_grad_at(x, i), g[i]);
    /* one side open */
    adj_tape_reset(t);
    adj_var *f = adj_tensor_f32(t, 1, s3, (float[]){-3, 0.5f, 4});
    adj_var *lo = adj_clamp(f, 0, INFINITY), *hi = adj_clamp(f, -INFINITY, 0.5);
    ck_assert_double_eq(adj_value_at(lo, 0), 0);
    ck_assert_double_eq(adj_value_at(lo, 2), 4);
    ck_assert_double_eq(adj_value_at(hi, 0), -3);
    ck_assert_double_eq(adj_value_at(hi, 2), 0.5);
    ck_assert_int_eq(adj_var_dtype(hi), ADJ_F32);
    ck_assert_int_eq(adj_backward(adj_sum(hi)), ADJ_OK);
    ck_assert_double_eq(adj_grad_at(f, 0), 1); /* below: open side */
    ck_assert_double_eq(adj_grad_at(f, 1), 1); /* at hi */
    ck_assert_double_eq(adj_grad_at(f, 2), 0); /* above hi */
    /* maximum and minimum at a tie split the gradient (their documented rule) */
    adj_tape_reset(t);
    adj_var *a = adj_scalar(t, 2), *b = adj_scalar(t, 2);
    ck_assert_int_eq(adj_backward(adj_maximum(a, b)), ADJ_OK);
    ck_assert_double_eq(adj_grad_item(a), 0.5);
    ck_assert_double_eq(adj_grad_item(b), 0.5);
    adj_tape_free(t);
}
END_TEST

/* cumsum along either axis; its gradient is the reversed cumulative sum. */
START_TEST(cumsum_values_and_gradient)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 2, s23, (double[]){1, 2, 3, 4, 5, 6});
    adj_var *r = adj_cumsum(x, 1), *c = adj_cumsum(x, -2);
    const double wr[6] = {1, 3, 6, 4, 9, 15}, wc[6] = {1, 2, 3, 5, 7, 9};
    for (int i = 0; i < 6; i++) {
        ck_assert_double_eq(adj_value_at(r, i), wr[i]);
        ck_assert_double_eq(adj_value_at(c, i), wc[i]);
    }
    ck_assert_int_eq(adj_backward(weighted(r)), ADJ_OK);
    /* w = 1..6: dx[i,j] = sum_{k >= j} w[i,k] */
    const double g[6] = {6, 5, 3, 15, 11, 6};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(adj_grad_at(x, i), g[i]);
    /* f32 sums run in double: 2^24 + 1 + 1 is 2^24 + 2 (in float, 2^24 + 1
     * rounds back to 2^24 at each step) */
    adj_tape_reset(t);
    adj_var *f = adj_tensor_f32(t, 1, s3, (float[]){16777216.0f, 1, 1});
    adj_var *cf = adj_cumsum(f, 0);
    ck_assert_double_eq(adj_value_at(cf, 2), 16777218.0);
    adj_tape_free(t);
}
END_TEST

/* pad: the layout of pads (axis order, before then after), the fill
 * value, and the interior's gradient. */
START_TEST(pad_values_and_gradient)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 2, s22, (double[]){1, 2, 3, 4});
    adj_var *y = adj_pad(x, ((const int64_t[]){1, 0, 0, 2}), 9.0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_dim(y, 0), 3);
    ck_assert_int_eq(adj_dim(y, 1), 4);
    const double want[12] = {9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9};
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq(adj_value_at(y, i), want[i]);
    ck_assert_int_eq(adj_backward(weighted(y)), ADJ_OK);
    const double g[4] = {5, 6, 9, 10};
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(adj_grad_at(x, i), g[i]);
    adj_tape_free(t);
}
END_TEST

/* concat and stack: values, each input's block of the gradient. */
START_TEST(concat_stack_values_and_gradients)
{
    adj_tape *t = adj_tape_new();
    adj_var *a = adj_tensor_f64(t, 2, s22, (double[]){1, 2, 3, 4});
    adj_var *b = adj_tensor_f64(t, 2, ((int64_t[]){2, 1}), (double[]){5, 6});
    adj_var *y = adj_concat(2, ((adj_var *[]){a, b}), 1);
    ck_assert_int_eq(adj_dim(y, 1), 3);
    const double want[6] = {1, 2, 5, 3, 4, 6};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(adj_value_at(y, i), want[i]);
    ck_assert_int_eq(adj_backward(weighted(y)), ADJ_OK);
    const double ga[4] = {1, 2, 4, 5}, gb[2] = {3, 6};
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(adj_grad_at(a, i), ga[i]);
    for (int i = 0; i < 2; i++)
        ck_assert_double_eq(adj_grad_at(b, i), gb[i]);
    /* along the first axis: the sizes there add up, the others stay */
    adj_var *r = adj_tensor_f64(t, 2, ((int64_t[]){3, 1}), (double[]){7, 8, 9});
    adj_var *y0 = adj_concat(2, ((adj_var *[]){b, r}), 0);
    ck_assert_int_eq(adj_ndim(y0), 2);
    ck_assert_int_eq(adj_dim(y0, 0), 5);
    ck_assert_int_eq(adj_dim(y0, 1), 1);
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(adj_value_at(y0, i), i + 5);
    /* stack along a new middle axis; the same input twice gets both blocks */
    adj_tape_reset(t);
    adj_var *p = adj_tensor_f64(t, 2, s22, (double[]){1, 2, 3, 4});
    adj_var *q = adj_tensor_f64(t, 2, s22, (double[]){5, 6, 7, 8});
    adj_var *st = adj_stack(3, ((adj_var *[]){p, q, p}), 1);
    ck_assert_int_eq(adj_ndim(st), 3);
    ck_assert_int_eq(adj_dim(st, 1), 3);
    const double ws[12] = {1, 2, 5, 6, 1, 2, 3, 4, 7, 8, 3, 4};
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq(adj_value_at(st, i), ws[i]);
    ck_assert_int_eq(adj_backward(weighted(st)), ADJ_OK);
    /* w = 1..12 in st's order: p gets w at 0,1,6,7 plus 4,5,10,11 */
    const double gp[4] = {1 + 5, 2 + 6, 7 + 11, 8 + 12}, gq[4] = {3, 4, 9, 10};
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq(adj_grad_at(p, i), gp[i]);
        ck_assert_double_eq(adj_grad_at(q, i), gq[i]);
    }
    /* 0-D inputs stack to a vector */
    adj_tape_reset(t);
    adj_var *v = adj_stack(2, ((adj_var *[]){adj_scalar(t, 1.5), adj_scalar(t, -2)}), 0);
    ck_assert_int_eq(adj_ndim(v), 1);
    ck_assert_double_eq(adj_value_at(v, 1), -2);
    adj_tape_free(t);
}
END_TEST

/* split and chunk: pieces as slices; the gradients of the pieces add up
 * in x; PyTorch's chunk sizes. */
START_TEST(split_chunk_pieces)
{
    adj_tape *t = adj_tape_new();
    int64_t s5[1] = {5};
    adj_var *x = adj_tensor_f64(t, 1, s5, (double[]){1, 2, 3, 4, 5});
    adj_var *out[3];
    ck_assert_int_eq(adj_split(x, 0, 3, ((const int64_t[]){2, 0, 3}), out), 3);
    ck_assert_int_eq(adj_numel(out[0]), 2);
    ck_assert_int_eq(adj_numel(out[1]), 0);
    ck_assert_int_eq(adj_numel(out[2]), 3);
    ck_assert_double_eq(adj_value_at(out[2], 0), 3);
    adj_var *L = adj_add(adj_sum(adj_scale(out[0], 2)), adj_sum(adj_scale(out[2], -1)));
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    const double g[5] = {2, 2, -1, -1, -1};
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(adj_grad_at(x, i), g[i]);
    /* 5 in 3 chunks: 2, 2, 1; 4 in 3 chunks: 2, 2 (two pieces) */
    adj_var *ch[3];
    ck_assert_int_eq(adj_chunk(x, 3, 0, ch), 3);
    ck_assert_int_eq(adj_numel(ch[0]), 2);
    ck_assert_int_eq(adj_numel(ch[2]), 1);
    ck_assert_double_eq(adj_value_at(ch[2], 0), 5);
    adj_var *x4 = adj_tensor_f64(t, 2, ((int64_t[]){2, 4}), NULL);
    ck_assert_int_eq(adj_chunk(x4, 3, -1, ch), 2);
    ck_assert_int_eq(adj_dim(ch[1], 1), 2);
    ck_assert_ptr_null(ch[2]);
    /* a bad split records the error and returns -1 */
    ck_assert_int_eq(adj_split(x, 0, 2, ((const int64_t[]){2, 2}), out), -1);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "add up to 4"));
    adj_tape_free(t);
}
END_TEST

/* argmax/argmin: first index at ties, NaN as the extremum, keepdims,
 * several axes (row-major position), an index tensor without gradient. */
START_TEST(argmax_ties_and_nan)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 2, s23, (double[]){3, 7, 7, -1, -1, 0});
    adj_var *am = adj_argmax_axis(x, 1), *an = adj_argmin_axis(x, -1), *a0 = adj_argmax_axis(x, 0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_var_dtype(am), ADJ_I32);
    ck_assert_int_eq(adj_requires_grad(am), 0);
    ck_assert_int_eq(adj_ndim(am), 1);
    ck_assert_double_eq(adj_value_at(am, 0), 1); /* 7 at 1 and 2: the first */
    ck_assert_double_eq(adj_value_at(am, 1), 2);
    ck_assert_double_eq(adj_value_at(an, 0), 0);
    ck_assert_double_eq(adj_value_at(an, 1), 0); /* -1 at 0 and 1 */
    ck_assert_double_eq(adj_value_at(a0, 0), 0);
    ck_assert_double_eq(adj_value_at(a0, 2), 0);
    /* keepdims keeps the axis as size 1; every axis gives the flat index */
    adj_var *k = adj_argmax_axes(x, 1, ((const int[]){1}), 1);
    ck_assert_int_eq(adj_ndim(k), 2);
    ck_assert_int_eq(adj_dim(k, 1), 1);
    ck_assert_double_eq(adj_value_at(k, 1), 2);
    adj_var *flat = adj_argmin_axes(x, 0, NULL, 0);
    ck_assert_int_eq(adj_ndim(flat), 0);
    ck_assert_double_eq(adj_item(flat), 3);
    /* the result indexes: gather the maxima back */
    adj_var *g = adj_gather(x, 1, k);
    ck_assert_double_eq(adj_value_at(g, 0), 7);
    ck_assert_double_eq(adj_value_at(g, 1), 0);
    /* a NaN is the extremum for both */
    adj_var *n = adj_constant_f32(t, 1, s3, (float[]){1, NAN, 5});
    ck_assert_double_eq(adj_item(adj_argmax_axis(n, 0)), 1);
    ck_assert_double_eq(adj_item(adj_argmin_axis(n, 0)), 1);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    /* no gradient */
    ck_assert_int_eq(adj_backward(am), ADJ_EDTYPE);
    adj_tape_free(t);
}
END_TEST

/* --------------------------------------------------------------- errors */

typedef struct env {
    adj_tape *t;
    adj_var *m23, *m23f, *m33, *v3, *s;
} env;

typedef adj_var *(*err_fn)(env *e);

static adj_var *where_shapes(env *e) { return adj_where(e->v3, e->m23, e->m33); }
static adj_var *where_dtypes(env *e) { return adj_where(e->m23, e->m23f, e->m23); }
static adj_var *fill_grow(env *e) { return adj_masked_fill(e->v3, e->m23, 0); }
static adj_var *clamp_order(env *e) { return adj_clamp(e->m23, 2, 1); }
static adj_var *clamp_nan(env *e) { return adj_clamp(e->m23, NAN, 1); }
static adj_var *cumsum_axis(env *e) { return adj_cumsum(e->m23, 2); }
static adj_var *cumsum_0d(env *e) { return adj_cumsum(e->s, 0); }
static adj_var *pad_negative(env *e) { return adj_pad(e->m23, ((const int64_t[]){0, 1, -2, 0}), 0); }
static adj_var *pad_null(env *e) { return adj_pad(e->m23, NULL, 0); }
static adj_var *concat_shape(env *e)
{
    return adj_concat(3, ((adj_var *[]){e->m23, e->m23, e->m33}), 1);
}
static adj_var *concat_dtype(env *e)
{
    return adj_concat(3, ((adj_var *[]){e->m23, e->m23, e->m23f}), 0);
}
static adj_var *concat_axis(env *e) { return adj_concat(2, ((adj_var *[]){e->m23, e->m23}), 2); }
static adj_var *concat_0d(env *e) { return adj_concat(2, ((adj_var *[]){e->s, e->s}), 0); }
static adj_var *concat_null(env *e) { return adj_concat(2, ((adj_var *[]){e->m23, NULL}), 0); }
static adj_var *stack_shape(env *e) { return adj_stack(2, ((adj_var *[]){e->m23, e->m33}), 0); }
static adj_var *stack_axis(env *e) { return adj_stack(2, ((adj_var *[]){e->m23, e->m23}), -4); }
static adj_var *argmax_axis_bad(env *e) { return adj_argmax_axis(e->m23, 2); }
static adj_var *argmin_empty(env *e)
{
    return adj_argmin_axis(adj_tensor_f64(e->t, 2, ((int64_t[]){3, 0}), NULL), 1);
}
static adj_var *argmax_twice(env *e) { return adj_argmax_axes(e->m23, 2, ((const int[]){1, -1}), 0); }
static adj_var *split_sizes(env *e)
{
    adj_var *out[2];
    return adj_split(e->m23, 1, 2, ((const int64_t[]){1, 1}), out) < 0 ? NULL : out[0];
}
static adj_var *split_negative(env *e)
{
    adj_var *out[2];
    return adj_split(e->m23, 1, 2, ((const int64_t[]){-1, 4}), out) < 0 ? NULL : out[0];
}
static adj_var *chunk_zero(env *e)
{
    adj_var *out[1];
    return adj_chunk(e->m23, 0, 1, out) < 0 ? NULL : out[0];
}
static adj_var *chunk_axis(env *e)
{
    adj_var *out[2];
    return adj_chunk(e->m23, 2, -3, out) < 0 ? NULL : out[0];
}

typedef struct err_case {
    const char *name;
    err_fn fn;
    adj_status want;
    const char *words[3];
} err_case;

static const err_case errs[] = {
    {"where shapes", where_shapes, ADJ_ESHAPE, {"adj_where", "broadcast", "(3,3)"}},
    {"where dtypes", where_dtypes, ADJ_EDTYPE, {"adj_where", "dtype", NULL}},
    {"masked_fill grows x", fill_grow, ADJ_ESHAPE, {"adj_masked_fill", "mask", "(3)"}},
    {"clamp lo > hi", clamp_order, ADJ_EINVAL, {"adj_clamp", "lo = 2", "hi = 1"}},
    {"clamp NaN", clamp_nan, ADJ_EINVAL, {"adj_clamp", "nan", NULL}},
    {"cumsum axis", cumsum_axis, ADJ_EINVAL, {"adj_cumsum", "axis 2", "(2,3)"}},
    {"cumsum 0-D", cumsum_0d, ADJ_EINVAL, {"adj_cumsum", "0-D", NULL}},
    {"pad negative", pad_negative, ADJ_EINVAL, {"adj_pad", "pads[2] = -2", "before axis 1"}},
    {"pad NULL", pad_null, ADJ_EINVAL, {"adj_pad", "pads is NULL", NULL}},
    {"concat shape", concat_shape, ADJ_ESHAPE, {"adj_concat", "x2 has shape (3,3)", "(2,3)"}},
    {"concat dtype", concat_dtype, ADJ_EDTYPE, {"adj_concat", "x2 is f32", "x0 is f64"}},
    {"concat axis", concat_axis, ADJ_EINVAL, {"adj_concat", "axis 2", "(2,3)"}},
    {"concat 0-D", concat_0d, ADJ_ESHAPE, {"adj_concat", "0-D", NULL}},
    {"concat NULL", concat_null, ADJ_EINVAL, {"adj_concat", "x1 is NULL", NULL}},
    {"stack shape", stack_shape, ADJ_ESHAPE, {"adj_stack", "x1 has shape (3,3)", "one shape"}},
    {"stack axis", stack_axis, ADJ_EINVAL, {"adj_stack", "axis -4", NULL}},
    {"argmax axis", argmax_axis_bad, ADJ_EINVAL, {"adj_argmax_axis", "axis 2", "(2,3)"}},
    {"argmin empty", argmin_empty, ADJ_ESHAPE, {"adj_argmin_axis", "empty", "(3,0)"}},
    {"argmax axes twice", argmax_twice, ADJ_EINVAL, {"adj_argmax_axis", "twice", NULL}},
    {"split sizes", split_sizes, ADJ_EINVAL, {"adj_split", "add up to 2", "length 3"}},
    {"split negative", split_negative, ADJ_EINVAL, {"adj_split", "sizes[0] = -1", "negative"}},
    {"chunk zero", chunk_zero, ADJ_EINVAL, {"adj_chunk", "chunks = 0", NULL}},
    {"chunk axis", chunk_axis, ADJ_EINVAL, {"adj_chunk", "axis -3", "(2,3)"}},
};

START_TEST(errors_name_the_problem)
{
    const err_case *c = &errs[_i];
    test_alloc cnt;
    adj_allocator al = test_alloc_init(&cnt);
    env e;
    e.t = adj_tape_new_with(&al);
    e.m23 = adj_tensor_f64(e.t, 2, s23, NULL);
    e.m23f = adj_tensor_f32(e.t, 2, s23, NULL);
    e.m33 = adj_tensor_f64(e.t, 2, s33, NULL);
    e.v3 = adj_tensor_f64(e.t, 1, s3, NULL);
    e.s = adj_scalar(e.t, 1.0);
    ck_assert_int_eq(adj_tape_status(e.t), ADJ_OK);
    c->fn(&e);
    ck_assert_msg(adj_tape_status(e.t) == c->want, "%s: status %s, message %s", c->name,
                  adj_status_string(adj_tape_status(e.t)), adj_tape_message(e.t));
    for (int k = 0; k < 3; k++)
        if (c->words[k])
            ck_assert_msg(strstr(adj_tape_message(e.t), c->words[k]), "%s: \"%s\" not in \"%s\"",
                          c->name, c->words[k], adj_tape_message(e.t));
    ck_assert_ptr_nonnull(strstr(adj_tape_message(e.t), "test_tensorops.c"));
    adj_tape_free(e.t);
    ck_assert_int_eq(cnt.live, 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("tensorops");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, where_values_and_gradients);
    tcase_add_test(tc, masks_against_finite_differences);
    tcase_add_test(tc, causal_mask_softmax);
    tcase_add_test(tc, clamp_bounds_and_ties);
    tcase_add_test(tc, cumsum_values_and_gradient);
    tcase_add_test(tc, pad_values_and_gradient);
    tcase_add_test(tc, concat_stack_values_and_gradients);
    tcase_add_test(tc, split_chunk_pieces);
    tcase_add_test(tc, argmax_ties_and_nan);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("errors");
    tcase_add_loop_test(te, errors_name_the_problem, 0, (int)(sizeof errs / sizeof errs[0]));
    suite_add_tcase(s, te);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
