/*
 * Errors are values: every misuse records a sticky error on the tape whose
 * message names the op, the shapes and the call site; later ops do
 * nothing; backward returns it; reset clears it; nothing leaks.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct env {
    adj_tape *t, *other;
    adj_var *m34, *m34f, *v5, *v4, *s, *m23, *m45, *s_other;
} env;

static void env_init(env *e)
{
    e->t = adj_tape_new();
    e->other = adj_tape_new();
    int64_t s34[2] = {3, 4}, s5[1] = {5}, s4[1] = {4}, s23[2] = {2, 3}, s45[2] = {4, 5};
    e->m34 = adj_tensor_f64(e->t, 2, s34, NULL);
    e->m34f = adj_tensor_f32(e->t, 2, s34, NULL);
    e->v5 = adj_tensor_f64(e->t, 1, s5, NULL);
    e->v4 = adj_tensor_f64(e->t, 1, s4, NULL);
    e->s = adj_scalar(e->t, 1.0);
    e->m23 = adj_tensor_f64(e->t, 2, s23, NULL);
    e->m45 = adj_tensor_f64(e->t, 2, s45, NULL);
    e->s_other = adj_scalar(e->other, 1.0);
}

static void env_free(env *e)
{
    adj_tape_free(e->t);
    adj_tape_free(e->other);
}

typedef adj_var *(*misuse_fn)(env *e);

static const int32_t good_labels[3] = {0, 1, 2};
static const int32_t bad_labels[3] = {0, 7, 1};

static adj_var *add_shapes(env *e) { return adj_add(e->m34, e->v5); }
static adj_var *mul_dtypes(env *e) { return adj_mul(e->m34, e->m34f); }
static adj_var *sub_null(env *e) { return adj_sub(e->m34, NULL); }
static adj_var *div_foreign(env *e) { return adj_div(e->s, e->s_other); }
static adj_var *matmul_inner(env *e) { return adj_matmul(e->m34, e->m23); }
static adj_var *matmul_batched_inner(env *e)
{
    return adj_matmul(adj_tensor_f64(e->t, 3, ((int64_t[]){2, 3, 4}), NULL), e->m23);
}
static adj_var *matmul_batch_bcast(env *e)
{
    adj_var *a = adj_tensor_f64(e->t, 3, ((int64_t[]){2, 3, 4}), NULL);
    return adj_matmul(a, adj_tensor_f64(e->t, 3, ((int64_t[]){3, 4, 5}), NULL));
}
static adj_var *matmul_index(env *e)
{
    return adj_matmul(adj_index(e->t, 1, ((int64_t[]){4}), NULL), e->m45);
}
static adj_var *matmul_0d(env *e) { return adj_matmul(e->s, e->m34); }
static adj_var *matmul_t_batched(env *e)
{
    return adj_matmul_t(adj_tensor_f64(e->t, 3, ((int64_t[]){2, 3, 4}), NULL), e->m34, 1, 0);
}
static adj_var *linear_bias(env *e) { return adj_linear(e->m34, e->m34, e->v5); }
static adj_var *linear_in(env *e) { return adj_linear(e->m34, e->m23, NULL); }
static adj_var *linear_add_res(env *e) { return adj_linear_add(e->m34, e->m34, NULL, e->m34); }
static adj_var *linear_add_null(env *e) { return adj_linear_add(e->m34, e->m34, NULL, NULL); }
static adj_var *transpose_1d(env *e) { return adj_transpose(e->v5); }
static adj_var *reshape_count(env *e) { return adj_reshape(e->m34, 2, ((int64_t[]){5, 2})); }
static adj_var *sum_axis_bad(env *e) { return adj_sum_axis(e->m34, 2); }
static adj_var *mean_axis_bad(env *e) { return adj_mean_axis(e->m34, -3); }
static adj_var *ce_label(env *e) { return adj_softmax_cross_entropy(e->m34, bad_labels); }
static adj_var *ce_null(env *e) { return adj_softmax_cross_entropy(e->m34, NULL); }
static adj_var *ce_3d(env *e)
{
    int64_t s[3] = {1, 3, 4};
    return adj_softmax_cross_entropy(adj_reshape(e->m34, 3, s), good_labels);
}
static adj_var *mse_shapes(env *e) { return adj_mse(e->m34, e->m23); }
static adj_var *bce_dtypes(env *e) { return adj_bce_with_logits(e->m34f, e->m34); }
static adj_var *maximum_shapes(env *e) { return adj_maximum(e->m34, e->v5); }
static adj_var *minimum_dtypes(env *e) { return adj_minimum(e->m34f, e->m34); }
static adj_var *eq_dtypes(env *e) { return adj_eq(e->m34, e->m34f); }
static adj_var *lt_null(env *e) { return adj_lt(NULL, e->m34); }
static adj_var *ge_shapes(env *e) { return adj_ge(e->m23, e->m45); }
static adj_var *ne_foreign(env *e) { return adj_ne(e->s, e->s_other); }
static adj_var *max_axis_bad(env *e) { return adj_max_axis(e->m34, 2); }
static adj_var *sum_axes_twice(env *e) { return adj_sum_axes(e->m34, 2, ((int[]){1, -1}), 0); }
static adj_var *var_axes_null(env *e) { return adj_var_axes(e->m34, 2, NULL, 1, 0); }
static adj_var *min_axes_empty(env *e)
{
    return adj_min_axes(adj_tensor_f64(e->t, 3, ((int64_t[]){3, 4, 0}), NULL), 1, ((int[]){2}), 0);
}
static adj_var *softmax_axis_0d(env *e) { return adj_softmax_axis(e->s, 0); }
static adj_var *logsumexp_foreign(env *e) { return adj_add(adj_logsumexp_axis(e->m34, 0), e->s_other); }
static adj_var *exp_foreign(env *e) { return adj_exp(e->s_other) ? adj_add(e->s, e->s_other) : NULL; }
static adj_var *leaf_ndim(env *e) { return adj_tensor_f64(e->t, 9, ((int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}), NULL); }
static adj_var *leaf_negative(env *e) { return adj_tensor_f64(e->t, 2, ((int64_t[]){3, -1}), NULL); }
static adj_var *leaf_overflow(env *e)
{
    int64_t s[4] = {INT64_C(1) << 20, INT64_C(1) << 20, INT64_C(1) << 20, INT64_C(1) << 20};
    return adj_tensor_f32(e->t, 4, s, NULL);
}
static adj_var *param_bad(env *e) { return adj_param(e->t, NULL, 0); }
static adj_var *add_n_shapes(env *e)
{
    adj_var *xs[5] = {e->m34, e->m34, e->m34, e->m34, e->m23};
    return adj_add_n(5, xs);
}
static adj_var *add_n_null(env *e)
{
    adj_var *xs[4] = {e->m34, e->m34, e->m34, NULL};
    return adj_add_n(4, xs);
}
static adj_var *add_n_dtypes(env *e)
{
    adj_var *xs[4] = {e->m34, e->m34, e->m34, e->m34f};
    return adj_add_n(4, xs);
}
static adj_var *add_n_foreign(env *e)
{
    adj_var *xs[4] = {e->s, e->s, e->s, e->s_other};
    return adj_add_n(4, xs);
}

/* attention: shapes, D and S mismatches, batch and mask broadcasting, scale */
static adj_var *attn_q_1d(env *e) { return adj_scaled_dot_product_attention(e->v4, e->m34, e->m34, NULL, 0, 0); }
static adj_var *attn_d(env *e) { return adj_scaled_dot_product_attention(e->m34, e->m45, e->m45, NULL, 0, 0); }
static adj_var *attn_s(env *e) { return adj_scaled_dot_product_attention(e->m34, e->m34, e->m45, NULL, 0, 0); }
static adj_var *attn_mask(env *e) { return adj_scaled_dot_product_attention(e->m34, e->m34, e->m34, e->m23, 1, 0); }
static adj_var *attn_mask_batch(env *e)
{
    adj_var *m = adj_reshape(e->m34, 3, ((int64_t[]){4, 1, 3}));
    return adj_scaled_dot_product_attention(e->m34, e->m34, e->m34, m, 0, 0);
}
static adj_var *attn_batch(env *e)
{
    adj_var *q = adj_reshape(e->m34, 3, ((int64_t[]){2, 3, 2})), *k = adj_reshape(e->m34, 3, ((int64_t[]){3, 2, 2}));
    return adj_scaled_dot_product_attention(q, k, k, NULL, 0, 0);
}
static adj_var *attn_scale(env *e) { return adj_scaled_dot_product_attention(e->m34, e->m34, e->m34, NULL, 0, NAN); }
static adj_var *attn_dtype(env *e) { return adj_scaled_dot_product_attention(e->m34, e->m34f, e->m34, NULL, 0, 0); }

typedef struct misuse {
    const char *name;
    misuse_fn fn;
    adj_status want;
    const char *words[3]; /* all must appear in the message */
} misuse;

static const misuse cases[] = {
    {"add shapes", add_shapes, ADJ_ESHAPE, {"adj_add", "(3,4)", "(5)"}},
    {"mul dtypes", mul_dtypes, ADJ_EDTYPE, {"adj_mul", "f64", "f32"}},
    {"sub NULL", sub_null, ADJ_EINVAL, {"adj_sub", "NULL", NULL}},
    {"div foreign", div_foreign, ADJ_ETAPE, {"adj_div", "another tape", NULL}},
    {"matmul inner", matmul_inner, ADJ_ESHAPE, {"adj_matmul", "inner", "(2,3)"}},
    {"matmul batched inner", matmul_batched_inner, ADJ_ESHAPE, {"inner dimensions differ (4 vs 2)", "a (2,3,4)", "b (2,3)"}},
    {"matmul batch dims", matmul_batch_bcast, ADJ_ESHAPE, {"adj_matmul", "batch dimensions (2) and (3) do not broadcast", "b (3,4,5)"}},
    {"matmul index", matmul_index, ADJ_EDTYPE, {"adj_matmul", "a (4) i32", NULL}},
    {"matmul 0-D", matmul_0d, ADJ_ESHAPE, {"adj_matmul", "0-D", NULL}},
    {"matmul_t batched", matmul_t_batched, ADJ_ESHAPE, {"adj_matmul", "transpose flags", "(2,3,4)"}},
    {"linear bias", linear_bias, ADJ_ESHAPE, {"adj_linear", "bias has 5", "(5)"}},
    {"linear in", linear_in, ADJ_ESHAPE, {"adj_linear", "features", NULL}},
    {"linear_add residual", linear_add_res, ADJ_ESHAPE, {"adj_linear_add", "residual (3,4)", "(3,3)"}},
    {"linear_add NULL", linear_add_null, ADJ_EINVAL, {"adj_linear_add", "NULL", NULL}},
    {"transpose 1-D", transpose_1d, ADJ_ESHAPE, {"adj_transpose", "2-D", NULL}},
    {"reshape count", reshape_count, ADJ_ESHAPE, {"adj_reshape", "(5,2)", "12"}},
    {"sum_axis axis", sum_axis_bad, ADJ_EINVAL, {"adj_sum_axis", "axis 2", NULL}},
    {"mean_axis axis", mean_axis_bad, ADJ_EINVAL, {"adj_mean_axis", "axis -3", NULL}},
    {"ce label", ce_label, ADJ_EINVAL, {"softmax_cross_entropy", "label 7", "row 1"}},
    {"ce NULL", ce_null, ADJ_EINVAL, {"labels", "NULL", NULL}},
    {"ce 3-D", ce_3d, ADJ_ESHAPE, {"softmax_cross_entropy", "(1,3,4)", NULL}},
    {"mse shapes", mse_shapes, ADJ_ESHAPE, {"adj_mse", "same shape", NULL}},
    {"bce dtypes", bce_dtypes, ADJ_EDTYPE, {"adj_bce_with_logits", NULL, NULL}},
    {"maximum shapes", maximum_shapes, ADJ_ESHAPE, {"adj_maximum", "(3,4)", "(5)"}},
    {"minimum dtypes", minimum_dtypes, ADJ_EDTYPE, {"adj_minimum", "f32", "f64"}},
    {"eq dtypes", eq_dtypes, ADJ_EDTYPE, {"adj_eq", "f64", "f32"}},
    {"lt NULL", lt_null, ADJ_EINVAL, {"adj_lt", "NULL", NULL}},
    {"ge shapes", ge_shapes, ADJ_ESHAPE, {"adj_ge", "(2,3)", "(4,5)"}},
    {"ne foreign", ne_foreign, ADJ_ETAPE, {"adj_ne", "another tape", NULL}},
    {"max_axis axis", max_axis_bad, ADJ_EINVAL, {"adj_max_axis", "axis 2", "(3,4)"}},
    {"sum_axes twice", sum_axes_twice, ADJ_EINVAL, {"adj_sum_axes", "twice", "(3,4)"}},
    {"var_axes NULL", var_axes_null, ADJ_EINVAL, {"adj_var_axes", "NULL", NULL}},
    {"min_axes empty", min_axes_empty, ADJ_ESHAPE, {"adj_min_axis", "empty", "(3,4,0)"}},
    {"softmax_axis 0-D", softmax_axis_0d, ADJ_EINVAL, {"adj_softmax_axis", "0-D", NULL}},
    {"logsumexp foreign", logsumexp_foreign, ADJ_ETAPE, {"adj_add", "another tape", NULL}},
    {"unary foreign", exp_foreign, ADJ_ETAPE, {"adj_add", NULL, NULL}},
    {"leaf ndim", leaf_ndim, ADJ_EINVAL, {"dimensions", "9", NULL}},
    {"leaf negative", leaf_negative, ADJ_EINVAL, {"(3,-1)", NULL, NULL}},
    {"leaf overflow", leaf_overflow, ADJ_EINVAL, {"too many elements", NULL, NULL}},
    {"param NULL store", param_bad, ADJ_EINVAL, {"adj_param", NULL, NULL}},
    {"add_n shapes", add_n_shapes, ADJ_ESHAPE, {"adj_add_n", "x4 is (2,3)", "(3,4)"}},
    {"add_n NULL", add_n_null, ADJ_EINVAL, {"adj_add_n", "input x3 is NULL", NULL}},
    {"add_n dtypes", add_n_dtypes, ADJ_EDTYPE, {"adj_add_n", "x3 (3,4) f32", NULL}},
    {"add_n foreign", add_n_foreign, ADJ_ETAPE, {"adj_add_n", "x3 belongs to another tape", NULL}},
    {"attention q 1-D", attn_q_1d, ADJ_ESHAPE, {"adj_scaled_dot_product_attention", "q is (4)", "2-D"}},
    {"attention D", attn_d, ADJ_ESHAPE, {"adj_scaled_dot_product_attention", "differ in D", "4 vs 5"}},
    {"attention S", attn_s, ADJ_ESHAPE, {"adj_scaled_dot_product_attention", "S = 3", "v (4,5) has 4"}},
    {"attention mask", attn_mask, ADJ_ESHAPE, {"adj_scaled_dot_product_attention", "mask (2,3)", "(3,3)"}},
    {"attention mask batch", attn_mask_batch, ADJ_ESHAPE, {"adj_scaled_dot_product_attention", "mask (4,1,3)", "does not broadcast"}},
    {"attention batch", attn_batch, ADJ_ESHAPE, {"adj_scaled_dot_product_attention", "batch dims", "(3,2,2)"}},
    {"attention scale", attn_scale, ADJ_EINVAL, {"adj_scaled_dot_product_attention", "scale nan", NULL}},
    {"attention dtype", attn_dtype, ADJ_EDTYPE, {"adj_scaled_dot_product_attention", "k (3,4) f32", NULL}},
};

START_TEST(misuse_is_reported)
{
    const misuse *m = &cases[_i];
    env e;
    env_init(&e);
    ck_assert_int_eq(adj_tape_status(e.t), ADJ_OK);
    size_t before = adj_tape_size(e.t);
    adj_var *y = m->fn(&e);
    ck_assert_msg(adj_tape_status(e.t) == m->want, "%s: status %d (%s), want %d: %s", m->name,
                  adj_tape_status(e.t), adj_status_string(adj_tape_status(e.t)), m->want,
                  adj_tape_message(e.t));
    const char *msg = adj_tape_message(e.t);
    for (int k = 0; k < 3; k++)
        if (m->words[k])
            ck_assert_msg(strstr(msg, m->words[k]), "%s: '%s' not in: %s", m->name, m->words[k], msg);
    /* the call site of an op is this file */
    if (m->fn != param_bad && m->fn != leaf_ndim && m->fn != leaf_negative && m->fn != leaf_overflow)
        ck_assert_msg(strstr(msg, "test_errors.c:"), "%s: no call site in: %s", m->name, msg);
    ck_assert_ptr_nonnull(y);
    ck_assert(isnan(adj_item(y))); /* the inert var */

    /* sticky: later ops do nothing, backward returns the error */
    size_t after = adj_tape_size(e.t);
    ck_assert_uint_le(after, before + 2);
    adj_var *z = adj_exp(adj_add(e.s, e.s));
    ck_assert_uint_eq(adj_tape_size(e.t), after);
    ck_assert_int_eq(adj_backward(z), m->want);
    ck_assert_int_eq(adj_backward(e.s), m->want);

    /* reset clears it and the tape works again */
    adj_tape_reset(e.t);
    ck_assert_int_eq(adj_tape_status(e.t), ADJ_OK);
    ck_assert_str_eq(adj_tape_message(e.t), "");
    adj_var *x = adj_scalar(e.t, 3.0);
    ck_assert_int_eq(adj_backward(adj_square(x)), ADJ_OK);
    ck_assert_double_eq(adj_grad_item(x), 6.0);
    env_free(&e);
}
END_TEST

START_TEST(stale_var_after_reset)
{
    adj_tape *t = adj_tape_new();
    adj_var *old = adj_scalar(t, 1.0);
    adj_tape_reset(t);
    adj_var *y = adj_exp(old);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ETAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "before adj_tape_reset"));
    ck_assert(isnan(adj_item(y)));
    adj_tape_reset(t);
    ck_assert_int_eq(adj_backward(y), ADJ_ETAPE); /* the inert var, after a reset */
    adj_tape_free(t);
}
END_TEST

START_TEST(null_everywhere)
{
    ck_assert_ptr_null(adj_exp(NULL));
    ck_assert_ptr_null(adj_add(NULL, NULL));
    ck_assert_int_eq(adj_backward(NULL), ADJ_EINVAL);
    ck_assert_ptr_null(adj_scalar(NULL, 1.0));
    ck_assert_int_eq(adj_tape_status(NULL), ADJ_EINVAL);
    ck_assert_uint_eq(adj_numel(NULL), 0);
    ck_assert(isnan(adj_item(NULL)));
    adj_tape_reset(NULL);
    adj_tape_free(NULL);
    adj_params_free(NULL);
    ck_assert_int_eq(adj_copy_value(NULL, NULL), ADJ_EINVAL);
}
END_TEST

START_TEST(backward_needs_one_element)
{
    adj_tape *t = adj_tape_new();
    int64_t s[1] = {3};
    adj_var *x = adj_tensor_f64(t, 1, s, NULL);
    ck_assert_int_eq(adj_backward(adj_exp(x)), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "one element"));
    adj_tape_free(t);
}
END_TEST

static int hook_calls;
static void hook(const adj_tape *t, adj_status s, const char *msg, void *user)
{
    (void)t;
    (void)msg;
    hook_calls++;
    *(adj_status *)user = s;
}

START_TEST(error_hook_fires_once)
{
    adj_tape *t = adj_tape_new();
    adj_status seen = ADJ_OK;
    hook_calls = 0;
    adj_tape_set_error_hook(t, hook, &seen);
    adj_var *a = adj_scalar(t, 1.0);
    int64_t s[1] = {2};
    adj_var *b = adj_tensor_f64(t, 1, s, NULL);
    adj_var *c = adj_matmul(a, b);
    adj_matmul(c, c);
    ck_assert_int_eq(hook_calls, 1);
    ck_assert_int_eq(seen, ADJ_ESHAPE);
    adj_tape_free(t);
}
END_TEST

/* A tape memory limit is a clean ENOMEM, and reset recovers. */
START_TEST(memory_limit)
{
    adj_tape *t = adj_tape_new();
    adj_tape_set_limit(t, 1u << 20);
    int64_t big[1] = {1 << 20}; /* 8 MiB of doubles */
    adj_var *x = adj_tensor_f64(t, 1, big, NULL);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ENOMEM);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "out of memory"));
    ck_assert(isnan(adj_item(x)));
    adj_tape_reset(t);
    adj_var *s = adj_scalar(t, 2.0);
    ck_assert_int_eq(adj_backward(adj_exp(s)), ADJ_OK);
    ck_assert_double_eq_tol(adj_grad_item(s), exp(2.0), 1e-12);
    adj_tape_free(t);
}
END_TEST

/* A small training-like program; *out receives its last loss. */
static adj_status program(const adj_allocator *al, double *out, int iters)
{
    adj_tape *t = adj_tape_new_with(al);
    if (!t)
        return ADJ_ENOMEM;
    adj_status s = ADJ_OK;
    for (int it = 0; it < iters && s == ADJ_OK; it++) {
        int64_t sx[2] = {20, 30}, sw[2] = {10, 30};
        adj_var *x = adj_constant_f64(t, 2, sx, NULL);
        adj_var *w = adj_tensor_f64(t, 2, sw, NULL);
        x = adj_add(x, adj_scalar(t, 0.5));
        w = adj_add(w, adj_scalar(t, 0.01));
        adj_var *h = x;
        for (int k = 0; k < 1500; k++) /* more than one chunk of nodes */
            h = adj_scale(h, 1.0);
        adj_var *L = adj_mean(adj_tanh(adj_linear(h, w, NULL)));
        s = adj_backward(L);
        *out = adj_item(L);
        adj_tape_reset(t);
    }
    adj_tape_free(t);
    return s;
}

/* Fail the n-th allocation, for every n a small program makes. */
START_TEST(allocation_failures)
{
    test_alloc f;
    adj_allocator al = test_alloc_init(&f);
    double want = 0, got;
    ck_assert_int_eq(program(&al, &want, 1), ADJ_OK);
    long first = (long)f.calls; /* allocations of the first iteration */
    test_alloc_arm(&f, -1, 0);
    ck_assert_int_eq(program(&al, &want, 3), ADJ_OK); /* no failure: count them */
    ck_assert_double_eq_tol(want, tanh(30 * 0.5 * 0.01), 1e-12);
    long total = (long)f.calls;
    ck_assert_int_gt(total, 3);
    int reported = 0;
    for (long n = 0; n < total; n++) {
        test_alloc_arm(&f, n, 0);
        got = -1;
        adj_status s = program(&al, &got, 3);
        /* either the failure is reported, or the library routed around it
         * (a smaller block, or skipping the coalescing at reset) and the
         * result is exactly right */
        ck_assert_msg(s == ADJ_ENOMEM || (s == ADJ_OK && got == want),
                      "failing allocation %ld gave status %d, loss %g", n, s, got);
        reported += s == ADJ_ENOMEM;
        ck_assert_msg(f.live == 0, "failing allocation %ld leaked %zu bytes", n, f.live);
        /* when memory stays exhausted, the failure must be reported */
        test_alloc_arm(&f, n, 1);
        s = program(&al, &got, 3);
        ck_assert_msg(s == ADJ_ENOMEM, "exhausted from allocation %ld: status %d", n, s);
        ck_assert_msg(f.live == 0, "exhausted from allocation %ld: leaked %zu bytes", n, f.live);
    }
    ck_assert_int_gt(reported, 0);
    ck_assert_int_gt(first, 2);
}
END_TEST

/* Anomaly mode names the op and node of the first NaN/Inf. */
START_TEST(anomaly_forward_and_backward)
{
    adj_tape *t = adj_tape_new();
    adj_tape_set_anomaly(t, 1);
    adj_var *x = adj_scalar(t, 0.0);
    adj_var *y = adj_log(x); /* -inf */
    ck_assert_int_eq(adj_tape_status(t), ADJ_ENUMERIC);
    const char *m = adj_tape_message(t);
    ck_assert_ptr_nonnull(strstr(m, "forward"));
    ck_assert_ptr_nonnull(strstr(m, "adj_log"));
    ck_assert_ptr_nonnull(strstr(m, "node 1"));
    ck_assert_ptr_nonnull(strstr(m, "test_errors.c:"));
    (void)y;

    adj_tape_reset(t);
    /* finite forward, infinite adjoint: d sqrt(x)/dx at 0 */
    x = adj_scalar(t, 0.0);
    adj_var *r = adj_sqrt(x);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_backward(r), ADJ_ENUMERIC);
    m = adj_tape_message(t);
    ck_assert_ptr_nonnull(strstr(m, "backward"));
    ck_assert_ptr_nonnull(strstr(m, "adj_sqrt"));

    adj_tape_reset(t);
    adj_var *big = adj_scalar(t, 800.0);
    adj_exp(big); /* overflow */
    ck_assert_int_eq(adj_tape_status(t), ADJ_ENUMERIC);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_exp"));
    adj_tape_free(t);
}
END_TEST

/* Without anomaly mode NaN propagates as IEEE says. */
START_TEST(nan_propagates)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, NAN);
    adj_var *y = adj_tanh(adj_mul(x, adj_scalar(t, 2.0)));
    ck_assert(isnan(adj_item(y)));
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    ck_assert(isnan(adj_grad_item(x)));
    adj_tape_free(t);
}
END_TEST

/* Each library message names the real problem, the function and, where
 * the API has one, the call site. */
static void msg_has(adj_tape *t, adj_status want, const char *const *words)
{
    const char *m = adj_tape_message(t);
    ck_assert_msg(adj_tape_status(t) == want, "status %d, want %d: %s", (int)adj_tape_status(t),
                  (int)want, m);
    for (int i = 0; words[i]; i++)
        ck_assert_msg(strstr(m, words[i]), "'%s' not in: %s", words[i], m);
}

START_TEST(messages_name_the_problem)
{
    char at[64];
    adj_tape *t = adj_tape_new();

    /* adj_backward_seeded without a seed: not a shape problem */
    adj_var *y = adj_exp(adj_tensor_f64(t, 2, ((int64_t[]){2, 3}), NULL));
    ck_assert_int_eq(adj_backward_seeded(y, NULL), ADJ_EINVAL);
    msg_has(t, ADJ_EINVAL, (const char *[]){"adj_backward_seeded", "seed is NULL", "6 doubles", "(2,3)", NULL});
    ck_assert_ptr_null(strstr(adj_tape_message(t), "use adj_backward_seeded"));
    adj_tape_reset(t);

    /* a NULL shape is not a bad dimension count */
    adj_tensor_f64(t, 2, NULL, NULL); snprintf(at, sizeof at, "test_errors.c:%d]", __LINE__);
    msg_has(t, ADJ_EINVAL, (const char *[]){"adj_tensor_f64", "shape is NULL", at, NULL});
    ck_assert_ptr_null(strstr(adj_tape_message(t), "number of dimensions"));
    adj_tape_reset(t);
    adj_constant_f32(t, 1, NULL, NULL);
    msg_has(t, ADJ_EINVAL, (const char *[]){"adj_constant_f32", "shape is NULL", NULL});
    adj_tape_reset(t);

    /* adj_jvp: a NULL argument is not a negative count */
    double out;
    adj_var *x = adj_scalar(t, 1.0);
    ck_assert_int_eq(adj_jvp(adj_exp(x), 1, NULL, NULL, &out), ADJ_EINVAL);
    msg_has(t, ADJ_EINVAL, (const char *[]){"adj_jvp", "wrt is NULL", "n = 1", NULL});
    ck_assert_ptr_null(strstr(adj_tape_message(t), "negative"));
    adj_tape_reset(t);
    x = adj_scalar(t, 1.0);
    ck_assert_int_eq(adj_jvp(adj_exp(x), -2, NULL, NULL, &out), ADJ_EINVAL);
    msg_has(t, ADJ_EINVAL, (const char *[]){"adj_jvp", "n = -2 is negative", NULL});
    adj_tape_reset(t);

    /* adj_param: the index and the count */
    adj_params *p = adj_params_new(ADJ_F64);
    adj_params_add(p, "w", 1, ((int64_t[]){3}));
    adj_params_add(p, "b", 1, ((int64_t[]){1}));
    adj_param(t, p, 5); snprintf(at, sizeof at, "test_errors.c:%d]", __LINE__);
    msg_has(t, ADJ_EINVAL, (const char *[]){"adj_param", "index 5", "holds 2 tensors", at, NULL});
    adj_tape_reset(t);
    adj_params_free(p);

    /* out of memory for a value: the op and the call site */
    adj_var *big = adj_tensor_f64(t, 1, ((int64_t[]){1 << 16}), NULL); /* 512 KiB: a block of its own */
    adj_tape_stats st;
    adj_tape_get_stats(t, &st);
    adj_tape_set_limit(t, st.bytes_reserved);
    adj_exp(big); snprintf(at, sizeof at, "test_errors.c:%d]", __LINE__);
    msg_has(t, ADJ_ENOMEM, (const char *[]){"adj_exp", "out of memory", at, NULL});
    adj_tape_reset(t);
    adj_tensor_f32(t, 1, ((int64_t[]){1 << 20}), NULL); snprintf(at, sizeof at, "test_errors.c:%d]", __LINE__);
    msg_has(t, ADJ_ENOMEM, (const char *[]){"adj_tensor_f32", "out of memory", at, NULL});
    adj_tape_reset(t);

    /* adj_scalar on a full tape is adj_scalar's failure, not adj_tensor's */
    for (int i = 0; i < 5000 && adj_tape_status(t) == ADJ_OK; i++) {
        adj_scalar(t, 1.0); snprintf(at, sizeof at, "test_errors.c:%d]", __LINE__);
    }
    msg_has(t, ADJ_ENOMEM, (const char *[]){"adj_scalar", "out of memory", at, NULL});
    adj_tape_free(t);

    /* a batch-norm MLP given one sample as a 1-D vector */
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = ADJ_F64;
    c.batchnorm = 1;
    ck_assert_int_eq(adj_mlp_config_set_sizes(&c, 3, ((int64_t[]){5, 4, 2}), ADJ_ACT_RELU), ADJ_OK);
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_mlp *m = adj_mlp_new(&c, &rng, NULL);
    ck_assert_ptr_nonnull(m);
    t = adj_tape_new();
    adj_mlp_forward(m, adj_constant_f64(t, 1, ((int64_t[]){5}), NULL));
    msg_has(t, ADJ_ESHAPE, (const char *[]){"adj_mlp_forward", "2-D input (batch, 5)", "not (5)", NULL});
    adj_tape_free(t);
    adj_mlp_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("misuse");
    tcase_add_loop_test(tc, misuse_is_reported, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, stale_var_after_reset);
    tcase_add_test(tc, null_everywhere);
    tcase_add_test(tc, backward_needs_one_element);
    tcase_add_test(tc, error_hook_fires_once);
    tcase_add_test(tc, messages_name_the_problem);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("memory");
    tcase_add_test(tm, memory_limit);
    tcase_add_test(tm, allocation_failures);
    suite_add_tcase(s, tm);
    TCase *tn = tcase_create("numeric");
    tcase_add_test(tn, anomaly_forward_and_backward);
    tcase_add_test(tn, nan_propagates);
    suite_add_tcase(s, tn);
    return s;
}

ADJ_CHECK_MAIN(suite)
