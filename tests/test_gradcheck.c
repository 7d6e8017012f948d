/*
 * adj_gradcheck itself: it passes correct gradients, catches a wrong one
 * at the right element, recognises kinks, and reports failures of the
 * function it is given.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* f(X, w) = sum(tanh(X w)) for X (3,2), w (2,1) */
static adj_var *smooth(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_sum(adj_tanh(adj_matmul(in[0], in[1])));
}

START_TEST(passes_a_correct_gradient)
{
    const double X[6] = {0.1, -0.5, 0.9, 0.3, -1.2, 0.4}, w[2] = {0.7, -0.2};
    adj_gradcheck_input in[2] = {{2, {3, 2}, X}, {2, {2, 1}, w}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(smooth, NULL, 2, in, NULL, &r), ADJ_OK);
    ck_assert(r.passed);
    ck_assert_int_eq(r.n_inputs, 2);
    ck_assert_uint_eq(r.inputs[0].numel, 6);
    ck_assert_double_lt(r.max_rel_err, 1e-6);
    ck_assert_uint_ge(r.evaluations, 1 + 1 + 2 * 8);
    adj_gradcheck_opts o = {.dtype = ADJ_F32};
    ck_assert_int_eq(adj_gradcheck(smooth, NULL, 2, in, &o, &r), ADJ_OK);
    ck_assert(r.passed);
}
END_TEST

/* f = x * stop(x): the value is x^2 but backward only sees one factor,
 * so the analytic gradient is x where the true one is 2x. */
static adj_var *detached(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    adj_var *x = in[0];
    double v[4];
    adj_copy_value(x, v);
    int64_t s[1] = {4};
    adj_var *c = adj_constant_f64(t, 1, s, v);
    return adj_sum(adj_mul(x, c));
}

START_TEST(catches_a_wrong_gradient)
{
    const double x[4] = {0.1, 0.2, -3.0, 0.5};
    adj_gradcheck_input in[1] = {{1, {4}, x}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(detached, NULL, 1, in, NULL, &r), ADJ_OK);
    ck_assert(!r.passed);
    ck_assert(!r.inputs[0].passed);
    ck_assert_uint_eq(r.inputs[0].worst_index, 2); /* the largest |x| */
    ck_assert_double_eq_tol(r.inputs[0].analytic, -3.0, 1e-12);
    ck_assert_double_eq_tol(r.inputs[0].numeric, -6.0, 1e-6);
    ck_assert_double_eq_tol(r.inputs[0].rel_err, 0.5, 1e-6);
    ck_assert_double_eq_tol(r.inputs[0].abs_err, 3.0, 1e-6);
}
END_TEST

/* sum(sin(x)) at x = pi/2: the gradient there is about 6e-17 analytically
 * and rounding noise numerically, so the relative error is about 1 while
 * the element is well within its absolute tolerance. */
static adj_var *sines(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_sum(adj_sin(in[0]));
}

/* sum(x * c) for c = (0, 3, -7): the first difference is exactly 0 */
static adj_var *weighted(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    const double c[3] = {0.0, 3.0, -7.0};
    int64_t s[1] = {3};
    return adj_sum(adj_mul(in[0], adj_constant_f64(t, 1, s, c)));
}

/* exp(stop(x)) + 0 x near the largest double: the numeric difference is
 * +inf, the analytic gradient 0 */
static adj_var *overflowing(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    double v;
    adj_copy_value(in[0], &v);
    adj_var *c = adj_constant_f64(t, 0, NULL, &v);
    return adj_add(adj_exp(c), adj_scale(in[0], 0.0));
}

START_TEST(worst_element_is_furthest_past_its_tolerance)
{
    /* a zero gradient off by rounding only: relative error about 1, well
     * within the absolute tolerance, and the check passes */
    const double x[2] = {1.5707963267948966, 0.3};
    adj_gradcheck_input in[1] = {{1, {2}, x}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(sines, NULL, 1, in, NULL, &r), ADJ_OK);
    ck_assert(r.passed);
    ck_assert_msg(r.max_rel_err > 0.5, "rel err at a zero gradient: %g", r.max_rel_err);

    /* no absolute tolerance: an exact 0 = 0 is 0 past it, not 0/0, so the
     * worst element is the one with the largest err / (rtol |numeric|) */
    const double w[3] = {0.4, -1.1, 2.0};
    double numeric[3];
    adj_gradcheck_input in2[1] = {{1, {3}, w}};
    adj_gradcheck_opts o = {.dtype = ADJ_F64, .atol = 0.0, .rtol = 1e-5, .numeric = numeric};
    ck_assert_msg(adj_gradcheck(weighted, NULL, 1, in2, &o, &r) == ADJ_OK, "%s", r.message);
    ck_assert(r.passed);
    const double c[3] = {0.0, 3.0, -7.0};
    ck_assert(numeric[0] == 0.0);
    size_t want = 0;
    double best = 0.0;
    for (size_t j = 1; j < 3; j++) {
        double q = fabs(c[j] - numeric[j]) / (1e-5 * fabs(numeric[j]));
        if (q > best) {
            best = q;
            want = j;
        }
    }
    ck_assert_msg(best > 0, "the differences must not all be exact here");
    ck_assert_uint_eq(r.inputs[0].worst_index, want);

    /* an infinite numeric difference fails, whatever the tolerance */
    const double big[1] = {709.78271289338397 - 5e-7};
    adj_gradcheck_input in3[1] = {{0, {0}, big}};
    ck_assert_int_eq(adj_gradcheck(overflowing, NULL, 1, in3, NULL, &r), ADJ_OK);
    ck_assert(!r.passed);
    ck_assert(isinf(r.inputs[0].numeric));
    ck_assert(isinf(r.inputs[0].abs_err));
}
END_TEST

/* ReLU at 0 is a kink: reported, not failed. */
static adj_var *relu_sum(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_sum(adj_relu(in[0]));
}

START_TEST(recognises_kinks)
{
    const double x[3] = {0.5, 0.0, -0.7};
    adj_gradcheck_input in[1] = {{1, {3}, x}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(relu_sum, NULL, 1, in, NULL, &r), ADJ_OK);
    ck_assert(r.passed);
    ck_assert_uint_eq(r.inputs[0].kinks, 1);
    ck_assert_uint_eq(r.inputs[0].first_kink, 1);
}
END_TEST

/* A smooth function with a large second derivative is not a kink. */
static adj_var *steep(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_exp(adj_square(in[0]));
}

START_TEST(curvature_is_not_a_kink)
{
    const double x[1] = {2.5};
    adj_gradcheck_input in[1] = {{0, {0}, x}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(steep, NULL, 1, in, NULL, &r), ADJ_OK);
    ck_assert_uint_eq(r.inputs[0].kinks, 0);
    ck_assert(r.passed);
    ck_assert_double_eq_tol(r.value, exp(6.25), 1e-9);
}
END_TEST

static adj_var *broken(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_matmul(in[0], in[0]); /* (2,3) x (2,3) */
}

static adj_var *not_scalar(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_exp(in[0]);
}

START_TEST(reports_function_failures)
{
    const double x[6] = {1, 2, 3, 4, 5, 6};
    adj_gradcheck_input in[1] = {{2, {2, 3}, x}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(broken, NULL, 1, in, NULL, &r), ADJ_ESHAPE);
    ck_assert(!r.passed);
    ck_assert_ptr_nonnull(strstr(r.message, "adj_matmul"));
    ck_assert_int_eq(adj_gradcheck(not_scalar, NULL, 1, in, NULL, &r), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(r.message, "one element"));
    ck_assert_int_eq(adj_gradcheck(NULL, NULL, 1, in, NULL, &r), ADJ_EINVAL);
    ck_assert_int_eq(adj_gradcheck(smooth, NULL, 0, in, NULL, &r), ADJ_EINVAL);
    ck_assert_int_eq(adj_gradcheck_op(ADJ_OP_LEAF, ADJ_F64, 0, 1, &r, NULL, 0), ADJ_EINVAL);
}
END_TEST

/* The report is the same whatever the number of threads. */
/* Settings that make a verdict meaningless, and a function that records
 * on a tape of its own, are errors (no verdict), naming the problem. */
static adj_var *elsewhere(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)in;
    (void)n;
    adj_tape *other = user;
    adj_tape_reset(other);
    return adj_sum(adj_square(adj_scalar(other, 3.0)));
}

START_TEST(rejects_bad_settings)
{
    const double X[6] = {0.1, -0.5, 0.9, 0.3, -1.2, 0.4}, w[2] = {0.7, -0.2};
    adj_gradcheck_input in[2] = {{2, {3, 2}, X}, {2, {2, 1}, w}};
    adj_gradcheck_report r;
    const struct {
        double eps, atol, rtol;
        const char *word;
    } bad[] = {
        {NAN, 0, 0, "eps nan"},        {INFINITY, 0, 0, "eps inf"}, {-1e-6, 0, 0, "eps -1e-06"},
        {0, NAN, 0, "atol nan"},       {0, 0, NAN, "rtol nan"},     {0, -1, 1e-5, "atol -1"},
        {0, 1e-7, INFINITY, "rtol inf"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        for (int replay = 0; replay < 2; replay++) {
            adj_gradcheck_opts o = {.dtype = ADJ_F64, .eps = bad[k].eps, .atol = bad[k].atol,
                                    .rtol = bad[k].rtol, .replay = replay};
            ck_assert_int_eq(adj_gradcheck(smooth, NULL, 2, in, &o, &r), ADJ_EINVAL);
            ck_assert_int_eq(r.status, ADJ_EINVAL);
            ck_assert(!r.passed);
            ck_assert_msg(strstr(r.message, "adj_gradcheck") && strstr(r.message, bad[k].word),
                          "'%s' not in: %s", bad[k].word, r.message);
        }
    }
    /* a function returning a var of another tape is checked against nothing */
    adj_tape *other = adj_tape_new();
    for (int replay = 0; replay < 2; replay++) {
        adj_gradcheck_opts o = {.dtype = ADJ_F64, .replay = replay};
        ck_assert_int_eq(adj_gradcheck(elsewhere, other, 2, in, &o, &r), ADJ_ETAPE);
        ck_assert(!r.passed);
        ck_assert_msg(strstr(r.message, "another tape"), "%s", r.message);
    }
    adj_tape_free(other);
}
END_TEST

START_TEST(threads_give_the_same_report)
{
    const double X[6] = {0.1, -0.5, 0.9, 0.3, -1.2, 0.4}, w[2] = {0.7, -0.2};
    const double x4[4] = {0.1, 0.2, -3.0, 0.5};
    adj_gradcheck_input in[2] = {{2, {3, 2}, X}, {2, {2, 1}, w}};
    adj_gradcheck_input bad[1] = {{1, {4}, x4}};
    for (int k = 0; k < 2; k++) {
        adj_gradcheck_report one, many;
        adj_gradcheck_opts o1 = {.dtype = ADJ_F64, .threads = 1};
        adj_gradcheck_opts o3 = {.dtype = ADJ_F64, .threads = 3};
        adj_gradcheck_fn fn = k ? detached : smooth;
        const adj_gradcheck_input *ins = k ? bad : in;
        int n = k ? 1 : 2;
        ck_assert_int_eq(adj_gradcheck(fn, NULL, n, ins, &o1, &one), ADJ_OK);
        ck_assert_int_eq(adj_gradcheck(fn, NULL, n, ins, &o3, &many), ADJ_OK);
        ck_assert_int_eq(one.passed, many.passed);
        ck_assert_uint_eq(one.evaluations, many.evaluations);
        ck_assert(one.max_rel_err == many.max_rel_err);
        for (int i = 0; i < n; i++) {
            ck_assert_uint_eq(one.inputs[i].worst_index, many.inputs[i].worst_index);
            ck_assert(one.inputs[i].numeric == many.inputs[i].numeric);
            ck_assert(one.inputs[i].analytic == many.inputs[i].analytic);
        }
    }
}
END_TEST

/* ---------------------------------------------------------------- replay */

/* Run fn with and without replay: the same verdicts, the same worst
 * elements, numeric derivatives within 1e-9 relative. */
static void replay_agrees(adj_gradcheck_fn fn, void *user, int n, const adj_gradcheck_input *in,
                          int threads)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t k = 1;
        for (int d = 0; d < in[i].ndim; d++)
            k *= (size_t)in[i].shape[d];
        total += k;
    }
    double *plain = calloc(total + 1, sizeof *plain), *fast = calloc(total + 1, sizeof *fast);
    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_nonnull(fast);
    adj_gradcheck_opts op = {.dtype = ADJ_F64, .threads = threads, .numeric = plain};
    adj_gradcheck_opts orp = {.dtype = ADJ_F64, .threads = threads, .replay = 1, .numeric = fast};
    adj_gradcheck_report a, b;
    ck_assert_int_eq(adj_gradcheck(fn, user, n, in, &op, &a), ADJ_OK);
    ck_assert_msg(adj_gradcheck(fn, user, n, in, &orp, &b) == ADJ_OK, "%s", b.message);
    ck_assert_int_eq(a.passed, b.passed);
    ck_assert_uint_eq(a.evaluations, b.evaluations);
    ck_assert(a.value == b.value);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(a.inputs[i].passed, b.inputs[i].passed);
        ck_assert_uint_eq(a.inputs[i].kinks, b.inputs[i].kinks);
        ck_assert_uint_eq(a.inputs[i].worst_index, b.inputs[i].worst_index);
    }
    for (size_t f = 0; f < total; f++)
        ck_assert_msg(fabs(plain[f] - fast[f]) <= 1e-9 * fmax(fabs(plain[f]), fabs(fast[f])),
                      "element %zu: %.17g without replay, %.17g with", f, plain[f], fast[f]);
    free(plain);
    free(fast);
}

/* A small MLP as in bench_gradcheck: tanh hidden layer, cross-entropy. */
typedef struct mlp_data {
    double x[4 * 6];
    int32_t labels[4];
} mlp_data;

static adj_var *mlp(adj_tape *t, adj_var *const *p, int n, void *user)
{
    const mlp_data *d = user;
    (void)n;
    adj_var *x = adj_constant_view(t, ADJ_F64, 2, (int64_t[]){4, 6}, d->x);
    adj_var *h = adj_tanh(adj_linear(x, p[0], p[1]));
    return adj_softmax_cross_entropy(adj_linear(h, p[2], p[3]), d->labels);
}

static void fill(double *v, size_t n, uint64_t seed, double scale)
{
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        v[i] = adj_rng_normal(&rng) * scale;
}

START_TEST(replay_matches_on_an_mlp)
{
    static mlp_data d = {.labels = {0, 2, 1, 2}};
    double w1[5 * 6], b1[5], w2[3 * 5], b2[3];
    fill(d.x, 24, 1, 1.0);
    fill(w1, 30, 2, 0.5);
    fill(b1, 5, 3, 0.1);
    fill(w2, 15, 4, 0.5);
    fill(b2, 3, 5, 0.1);
    adj_gradcheck_input in[4] = {{2, {5, 6}, w1}, {1, {5}, b1}, {2, {3, 5}, w2}, {1, {3}, b2}};
    replay_agrees(mlp, &d, 4, in, 1);
    replay_agrees(mlp, &d, 4, in, 2);
}
END_TEST

/* Every op family: elementwise ops, broadcasting with a row and with a
 * 0-D operand, NumPy broadcasting of a column and of a row as the first
 * operand, matmul with each pair of transpose flags, linear with and
 * without bias (2-D and 1-D input), transpose, reshape, reductions,
 * softmax, log-softmax and the three losses.  Inputs: A (3,4), B (4,2),
 * C (2,4), W (2,4), bv (2), v (4), s (0-D). */
typedef struct every_data {
    int32_t labels[3];
    double target[6], probs[6], r[6];
} every_data;

static adj_var *every_op(adj_tape *t, adj_var *const *in, int n, void *user)
{
    const every_data *d = user;
    (void)n;
    adj_var *A = in[0], *B = in[1], *C = in[2], *W = in[3], *bv = in[4], *v = in[5], *s = in[6];
    /* elementwise on A (3,4), away from the kinks of abs and relu */
    adj_var *sp = adj_softplus(A);
    adj_var *p = adj_add(adj_exp(adj_scale(A, 0.3)), adj_sqrt(sp));
    p = adj_add(p, adj_pow(sp, 2.5));
    p = adj_sub(p, adj_square(adj_sin(A)));
    p = adj_add(p, adj_mul(adj_abs(A), adj_cos(A)));
    p = adj_add(p, adj_relu(A));
    p = adj_add(p, adj_leaky_relu(A, 0.1));
    p = adj_add(p, adj_elu(A, 1.0));
    p = adj_add(p, adj_neg(adj_log(sp)));
    p = adj_add(p, adj_div(A, adj_add(adj_exp(A), s)));  /* 0-D b */
    p = adj_sub(p, adj_mul(s, adj_sigmoid(A)));           /* 0-D a */
    adj_var *h = adj_add(adj_tanh(p), v);                 /* a row b */
    /* products of h and of the inputs themselves */
    adj_var *m = adj_matmul(h, B);                            /* (3,2) */
    m = adj_add(m, adj_matmul_t(h, C, 0, 1));
    m = adj_add(m, adj_matmul_t(adj_transpose(h), B, 1, 0));
    m = adj_add(m, adj_matmul_t(adj_transpose(h), C, 1, 1));
    m = adj_add(m, adj_linear(h, W, bv));
    m = adj_add(m, adj_linear(h, W, NULL));
    m = adj_add(m, adj_matmul(A, B));
    m = adj_add(m, adj_matmul_t(A, C, 0, 1));
    m = adj_add(m, adj_linear(A, W, bv));
    /* NumPy broadcasting: a column times a row, a row plus a matrix */
    adj_var *col = adj_reshape(adj_sum_axis(h, 1), 2, (int64_t[]){3, 1});
    m = adj_add(m, adj_mul(col, bv));
    m = adj_add(bv, m);
    adj_var *q = adj_matmul_t(C, B, 1, 1);                    /* (4,4) */
    q = adj_add(q, adj_matmul_t(C, W, 1, 0));
    q = adj_add(q, adj_transpose(q));
    /* reshape, transpose, reductions, softmax family, losses */
    adj_var *z = adj_transpose(adj_reshape(adj_scale(m, 0.2), 2, (int64_t[]){2, 3}));  /* (3,2) */
    adj_var *R = adj_constant_view(t, ADJ_F64, 2, (int64_t[]){3, 2}, d->r);
    adj_var *T = adj_constant_view(t, ADJ_F64, 2, (int64_t[]){3, 2}, d->target);
    adj_var *P = adj_constant_view(t, ADJ_F64, 2, (int64_t[]){3, 2}, d->probs);
    adj_var *f = adj_sum(adj_mul(adj_softmax(z), z));
    f = adj_add(f, adj_sum(adj_mul(adj_log_softmax(z), R)));
    f = adj_add(f, adj_sum(adj_square(adj_sum_axis(z, 0))));
    f = adj_add(f, adj_sum(adj_sin(adj_mean_axis(z, 1))));
    f = adj_add(f, adj_softmax_cross_entropy(z, d->labels));
    f = adj_add(f, adj_mse(z, T));
    f = adj_add(f, adj_bce_with_logits(z, P));
    f = adj_add(f, adj_scale(adj_mean(q), 0.1));
    f = adj_add(f, adj_sum(adj_linear(v, W, NULL)));      /* 1-D input */
    f = adj_add(f, adj_mul(s, adj_sum(adj_reshape(q, 1, (int64_t[]){16}))));
    return f;
}

START_TEST(replay_matches_on_every_op_family)
{
    static every_data d = {.labels = {1, 0, 1}};
    double A[12], B[8], C[8], W[8], bv[2], v[4], s[1] = {0.7};
    fill(A, 12, 11, 1.0);
    for (int i = 0; i < 12; i++) /* |A| >= 0.2: no kink within h */
        A[i] = A[i] < 0 ? A[i] - 0.2 : A[i] + 0.2;
    fill(B, 8, 12, 0.5);
    fill(C, 8, 13, 0.5);
    fill(W, 8, 14, 0.5);
    fill(bv, 2, 15, 0.3);
    fill(v, 4, 16, 0.5);
    fill(d.target, 6, 17, 1.0);
    fill(d.r, 6, 18, 1.0);
    for (int i = 0; i < 6; i++)
        d.probs[i] = 0.1 + 0.13 * i;
    adj_gradcheck_input in[7] = {
        {2, {3, 4}, A}, {2, {4, 2}, B}, {2, {2, 4}, C}, {2, {2, 4}, W}, {1, {2}, bv}, {1, {4}, v},
        {0, {0}, s},
    };
    adj_gradcheck_report r;
    adj_gradcheck_opts o = {.dtype = ADJ_F64, .replay = 1};
    ck_assert_int_eq(adj_gradcheck(every_op, &d, 7, in, &o, &r), ADJ_OK);
    ck_assert_msg(r.passed, "max rel err %g", r.max_rel_err);
    replay_agrees(every_op, &d, 7, in, 1);
    replay_agrees(every_op, &d, 7, in, 3);
}
END_TEST

/* Nodes of more than three inputs (a variadic sum, a join, a stack):
 * replay follows every input, not only the three kept in the node. */
static adj_var *many_inputs(adj_tape *t, adj_var *const *p, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    adj_var *s = adj_add_n(5, (adj_var *[]){p[0], p[1], p[2], p[3], p[4]});
    adj_var *c = adj_concat(5, (adj_var *[]){p[0], p[1], p[2], p[3], p[4]}, 0);
    adj_var *k = adj_stack(4, (adj_var *[]){p[1], p[2], p[3], p[4]}, 1);
    return adj_add(adj_add(adj_sum(adj_square(s)), adj_sum(adj_exp(c))),
                   adj_sum(adj_tanh(k)));
}

START_TEST(replay_follows_every_input)
{
    double v[5][3];
    for (int i = 0; i < 5; i++)
        fill(v[i], 3, 40 + (uint64_t)i, 0.7);
    adj_gradcheck_input in[5];
    for (int i = 0; i < 5; i++)
        in[i] = (adj_gradcheck_input){1, {3}, v[i]};
    replay_agrees(many_inputs, NULL, 5, in, 1);
    adj_gradcheck_report r;
    adj_gradcheck_opts o = {.dtype = ADJ_F64, .replay = 1};
    ck_assert_msg(adj_gradcheck(many_inputs, NULL, 5, in, &o, &r) == ADJ_OK, "%s", r.message);
    ck_assert_msg(r.passed, "max relative error %g", r.max_rel_err);
}
END_TEST

/* 0-D chains take the scalar fast path when recorded and when replayed. */
static adj_var *scalars(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    adj_var *x = in[0], *y = in[1], *f = adj_mul(x, y);
    for (int k = 0; k < 20; k++)
        f = adj_add(adj_sin(f), adj_div(adj_exp(adj_scale(x, 0.1)), adj_add(y, adj_square(f))));
    return adj_sub(f, adj_tanh(adj_mul(x, x)));
}

START_TEST(replay_matches_on_scalar_chains)
{
    const double x[1] = {0.4}, y[1] = {1.3};
    adj_gradcheck_input in[2] = {{0, {0}, x}, {0, {0}, y}};
    replay_agrees(scalars, NULL, 2, in, 1);
    replay_agrees(smooth, NULL, 2, (adj_gradcheck_input[]){{2, {3, 2}, (double[]){0.1, -0.5, 0.9, 0.3, -1.2, 0.4}},
                                                          {2, {2, 1}, (double[]){0.7, -0.2}}}, 1);
    const double k[3] = {0.5, 0.0, -0.7}; /* the kink of relu_sum */
    replay_agrees(relu_sum, NULL, 1, (adj_gradcheck_input[]){{1, {3}, k}}, 1);
}
END_TEST

/* The analytic pass (the first call) records a different function from
 * the later ones: its gradient is wrong, and replay still says so. */
static adj_var *changes_after_first(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    int *calls = user;
    return (*calls)++ ? adj_sum(adj_square(in[0])) : adj_sum(adj_scale(in[0], 3.0));
}

START_TEST(replay_catches_a_wrong_gradient)
{
    const double x[4] = {0.1, 0.2, -3.0, 0.5};
    adj_gradcheck_input in[1] = {{1, {4}, x}};
    adj_gradcheck_opts o = {.dtype = ADJ_F64, .replay = 1};
    adj_gradcheck_report r;
    int calls = 0;
    ck_assert_int_eq(adj_gradcheck(changes_after_first, &calls, 1, in, &o, &r), ADJ_OK);
    ck_assert(!r.passed);
    ck_assert(!r.inputs[0].passed);
    ck_assert_uint_eq(r.inputs[0].worst_index, 0); /* 3 against 0.2: the furthest past tolerance */
    ck_assert_double_eq_tol(r.inputs[0].analytic, 3.0, 1e-12);
    ck_assert_double_eq_tol(r.inputs[0].numeric, 0.2, 1e-6);
    /* a gradient made wrong by reading the input into a constant: replay
     * cannot see the constant change, the real evaluations do */
    ck_assert_int_eq(adj_gradcheck(detached, NULL, 1, in, &o, &r), ADJ_EINVAL);
    ck_assert(!r.passed);
    ck_assert_msg(strstr(r.message, "replay: f differs from a real evaluation"), "%s", r.message);
}
END_TEST

/* A branch on an input value: at x0 = 0 the function records exp(-x)
 * summed, past it a square; element 0 crosses zero within +-h. */
static adj_var *branches(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    if (adj_value_at(in[0], 0) > 0)
        return adj_sum(adj_square(in[0]));
    return adj_sum(adj_exp(adj_neg(in[0])));
}

/* Same node count, another op when the sign changes. */
static adj_var *branches_op(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    adj_var *x = in[0];
    return adj_sum(adj_value_at(x, 3) > 0 ? adj_sin(x) : adj_cos(x));
}

START_TEST(replay_detects_value_dependent_graphs)
{
    const double x[5] = {0.0, 0.5, 0.3, -0.2, 0.9};
    adj_gradcheck_input in[1] = {{1, {5}, x}};
    adj_gradcheck_opts o = {.dtype = ADJ_F64, .replay = 1};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(branches, NULL, 1, in, &o, &r), ADJ_EINVAL);
    ck_assert(!r.passed);
    ck_assert_msg(strstr(r.message, "replay: the function's graph depends on its input values"), "%s",
                  r.message);
    ck_assert_msg(strstr(r.message, "node count differs"), "%s", r.message);
    ck_assert_msg(strstr(r.message, "run without replay"), "%s", r.message);
    /* element 3 is a spot element (3 n / 4) only for n = 5: -0.2 + h stays
     * negative, so move it to the crossing */
    const double y[5] = {0.5, 0.5, 0.3, 0.0, 0.9};
    adj_gradcheck_input iy[1] = {{1, {5}, y}};
    for (int th = 1; th <= 3; th += 2) {
        o.threads = th;
        ck_assert_int_eq(adj_gradcheck(branches_op, NULL, 1, iy, &o, &r), ADJ_EINVAL);
        ck_assert_msg(strstr(r.message, "op differs at node 1"), "%s", r.message);
    }
    /* without replay the same functions are only evaluated */
    o.replay = 0;
    ck_assert_int_eq(adj_gradcheck(branches_op, NULL, 1, iy, &o, &r), ADJ_OK);
}
END_TEST

START_TEST(replay_reports_function_failures)
{
    const double x[6] = {1, 2, 3, 4, 5, 6};
    adj_gradcheck_input in[1] = {{2, {2, 3}, x}};
    adj_gradcheck_opts o = {.dtype = ADJ_F64, .replay = 1, .threads = 2};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(broken, NULL, 1, in, &o, &r), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(r.message, "adj_matmul"));
    ck_assert_int_eq(adj_gradcheck(not_scalar, NULL, 1, in, &o, &r), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(r.message, "one element"));
    /* an f32 analytic pass: the numeric one is f64 and replayed */
    const double X[6] = {0.1, -0.5, 0.9, 0.3, -1.2, 0.4}, w[2] = {0.7, -0.2};
    adj_gradcheck_input sm[2] = {{2, {3, 2}, X}, {2, {2, 1}, w}};
    o.dtype = ADJ_F32;
    ck_assert_int_eq(adj_gradcheck(smooth, NULL, 2, sm, &o, &r), ADJ_OK);
    ck_assert(r.passed);
}
END_TEST

/* With replay too, the report does not depend on the thread count. */
START_TEST(replay_threads_give_the_same_report)
{
    static mlp_data d = {.labels = {1, 1, 0, 2}};
    double w1[5 * 6], b1[5], w2[3 * 5], b2[3];
    fill(d.x, 24, 21, 1.0);
    fill(w1, 30, 22, 0.5);
    fill(b1, 5, 23, 0.1);
    fill(w2, 15, 24, 0.5);
    fill(b2, 3, 25, 0.1);
    adj_gradcheck_input in[4] = {{2, {5, 6}, w1}, {1, {5}, b1}, {2, {3, 5}, w2}, {1, {3}, b2}};
    double n1[53], n3[53];
    adj_gradcheck_opts o1 = {.dtype = ADJ_F64, .threads = 1, .replay = 1, .numeric = n1};
    adj_gradcheck_opts o3 = {.dtype = ADJ_F64, .threads = 3, .replay = 1, .numeric = n3};
    adj_gradcheck_report one, many;
    ck_assert_int_eq(adj_gradcheck(mlp, &d, 4, in, &o1, &one), ADJ_OK);
    ck_assert_int_eq(adj_gradcheck(mlp, &d, 4, in, &o3, &many), ADJ_OK);
    ck_assert(memcmp(n1, n3, sizeof n1) == 0);
    ck_assert_int_eq(one.passed, many.passed);
    ck_assert_uint_eq(one.evaluations, many.evaluations);
    ck_assert(one.max_rel_err == many.max_rel_err);
    for (int i = 0; i < 4; i++)
        ck_assert(memcmp(&one.inputs[i], &many.inputs[i], sizeof one.inputs[i]) == 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, passes_a_correct_gradient);
    tcase_add_test(tc, catches_a_wrong_gradient);
    tcase_add_test(tc, worst_element_is_furthest_past_its_tolerance);
    tcase_add_test(tc, recognises_kinks);
    tcase_add_test(tc, curvature_is_not_a_kink);
    tcase_add_test(tc, reports_function_failures);
    tcase_add_test(tc, rejects_bad_settings);
    tcase_add_test(tc, threads_give_the_same_report);
    tcase_add_test(tc, replay_matches_on_an_mlp);
    tcase_add_test(tc, replay_matches_on_every_op_family);
    tcase_add_test(tc, replay_matches_on_scalar_chains);
    tcase_add_test(tc, replay_follows_every_input);
    tcase_add_test(tc, replay_catches_a_wrong_gradient);
    tcase_add_test(tc, replay_detects_value_dependent_graphs);
    tcase_add_test(tc, replay_reports_function_failures);
    tcase_add_test(tc, replay_threads_give_the_same_report);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
