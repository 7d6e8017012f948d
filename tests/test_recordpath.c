/*
 * Two short paths of a small op: the input checks of recording, which
 * take one loop for an op whose inputs are all present floats of one
 * dtype and the full checks otherwise (every rejected call must still
 * give the message of the full checks); and the backward of sigmoid and
 * ELU on at most 16 elements, one pass by the per-element rule, which
 * must give the bits of the block loop and the derivative of a plain
 * loop in double; and likewise the one-pass backward of tanh, softplus and
 * exp on at most 64 elements.  Those few elements are one range at any
 * thread count; sizes that the pool does cut in two give, at two
 * threads, the bits of one.
 */
#include <adjoint.h>

#include "check_util.h"
#include "core/pool.h"
#include "ops/dispatch.h"

#include <math.h>
#include <string.h>

static void msg_has(adj_tape *t, adj_status s, const char *a, const char *b)
{
    const char *m = adj_tape_message(t);
    ck_assert_int_eq(adj_tape_status(t), s);
    ck_assert_msg(strstr(m, a) && (!b || strstr(m, b)), "'%s' / '%s' not in: %s", a, b ? b : "",
                  m);
    ck_assert_msg(strstr(m, "test_recordpath.c:"), "no call site in: %s", m);
}

static const int64_t n3[] = {3};
static const double v3[] = {1, 2, 3};
static const float f3[] = {1, 2, 3};

/* Accepted calls: the value, the dtype and the gradient flag of each mix
 * of gradient and constant inputs, f32 and f64, and an op with an absent
 * optional input (linear without a bias, taking the full checks). */
START_TEST(plain_inputs_accepted)
{
    adj_tape *t = adj_tape_new();
    for (int dt = 0; dt < 2; dt++) {
        adj_tape_reset(t);
        adj_var *g = dt ? adj_tensor_f64(t, 1, n3, v3) : adj_tensor_f32(t, 1, n3, f3);
        adj_var *c = dt ? adj_constant_f64(t, 1, n3, v3) : adj_constant_f32(t, 1, n3, f3);
        adj_var *gc = adj_mul(g, c), *cc = adj_mul(c, c), *cg = adj_add(c, g);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        ck_assert_int_eq(adj_var_dtype(gc), dt ? ADJ_F64 : ADJ_F32);
        ck_assert_int_eq(adj_var_dtype(cc), dt ? ADJ_F64 : ADJ_F32);
        ck_assert(adj_requires_grad(gc) && adj_requires_grad(cg) && !adj_requires_grad(cc));
        for (int i = 0; i < 3; i++) {
            ck_assert_double_eq(adj_value_at(gc, i), (i + 1.0) * (i + 1.0));
            ck_assert_double_eq(adj_value_at(cg, i), 2.0 * (i + 1.0));
        }
        adj_var *x = dt ? adj_constant_f64(t, 2, (int64_t[]){1, 3}, v3)
                        : adj_constant_f32(t, 2, (int64_t[]){1, 3}, f3);
        adj_var *w = dt ? adj_tensor_f64(t, 2, (int64_t[]){1, 3}, v3)
                        : adj_tensor_f32(t, 2, (int64_t[]){1, 3}, f3);
        adj_var *z = adj_linear(x, w, NULL);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        ck_assert_double_eq(adj_value_at(z, 0), 14.0);
        ck_assert_int_eq(adj_backward(adj_sum(adj_add(z, adj_sum(cg)))), ADJ_OK);
        double gw[3];
        ck_assert_int_eq(adj_copy_grad(w, gw), ADJ_OK);
        for (int i = 0; i < 3; i++)
            ck_assert_double_eq(gw[i], i + 1.0);
    }
    adj_tape_free(t);
}
END_TEST

/* Each rejected call: the status and the message of the full checks. */
START_TEST(rejects_keep_their_messages)
{
    adj_tape *t = adj_tape_new(), *u = adj_tape_new();
    adj_var *a = adj_tensor_f64(t, 1, n3, v3);
    adj_var *f = adj_tensor_f32(t, 1, n3, f3);
    adj_var *o = adj_tensor_f64(u, 1, n3, v3);
    adj_var *ix = adj_index(t, 1, n3, (const int32_t[]){0, 1, 2});

    adj_add(a, NULL);
    msg_has(t, ADJ_EINVAL, "adj_add", "input b is NULL");
    adj_tape_reset(t);
    a = adj_tensor_f64(t, 1, n3, v3);
    adj_add(a, o);
    msg_has(t, ADJ_ETAPE, "adj_add", "input b belongs to another tape");

    adj_tape_reset(t);
    adj_mul(a, a); /* a was recorded before the reset */
    msg_has(t, ADJ_ETAPE, "adj_mul", "input a was recorded before adj_tape_reset");

    adj_tape_reset(t);
    a = adj_tensor_f64(t, 1, n3, v3);
    f = adj_tensor_f32(t, 1, n3, f3);
    adj_add(a, f);
    msg_has(t, ADJ_EDTYPE, "adj_add", "inputs must have one dtype");

    adj_tape_reset(t);
    f = adj_tensor_f32(t, 1, n3, f3);
    ix = adj_index(t, 1, n3, (const int32_t[]){0, 1, 2});
    adj_mul(ix, f);
    msg_has(t, ADJ_EDTYPE, "adj_mul", "input a is an index tensor (i32)");
    adj_tape_reset(t);
    ix = adj_index(t, 1, n3, (const int32_t[]){0, 1, 2});
    adj_sigmoid(ix);
    msg_has(t, ADJ_EDTYPE, "adj_sigmoid", "is an index tensor");

    /* a parameter leaf whose store moved its blocks */
    adj_tape_reset(t);
    adj_params *p = adj_params_new(ADJ_F64);
    ck_assert_int_eq(adj_params_add(p, "w", 1, n3), 0);
    adj_var *w = adj_param(t, p, 0);
    a = adj_tensor_f64(t, 1, n3, v3);
    ck_assert_int_gt(adj_params_add(p, "late", 1, ((int64_t[]){4096})), 0);
    adj_add(a, w);
    msg_has(t, ADJ_ESTATE, "adj_add: input b", "adj_params_add");

    /* two stores on the tape, the second one moved; then one store whose
     * leaves saw two counts, the older leaf stale */
    adj_tape *v = adj_tape_new();
    adj_params *q = adj_params_new(ADJ_F64), *p1 = adj_params_new(ADJ_F64);
    ck_assert_int_eq(adj_params_add(q, "u", 1, n3), 0);
    ck_assert_int_eq(adj_params_add(p1, "w", 1, n3), 0);
    adj_var *wq = adj_param(v, q, 0), *wp = adj_param(v, p1, 0);
    ck_assert_double_eq(adj_value_at(adj_add(wp, wq), 0), 0.0);
    ck_assert_int_gt(adj_params_add(q, "late", 1, ((int64_t[]){4096})), 0);
    adj_add(wp, wq);
    msg_has(v, ADJ_ESTATE, "adj_add: input b", "adj_params_add");
    adj_tape_reset(v);
    wp = adj_param(v, p1, 0);
    ck_assert_int_gt(adj_params_add(p1, "late", 1, ((int64_t[]){4096})), 0);
    adj_var *wp2 = adj_param(v, p1, 0);
    ck_assert_double_eq(adj_value_at(adj_mul(wp2, wp2), 0), 0.0);
    adj_mul(wp2, wp);
    msg_has(v, ADJ_ESTATE, "adj_mul: input b", "adj_params_add");
    adj_params_free(q);
    adj_params_free(p1);
    adj_tape_free(v);

    /* a tape with an error keeps it: the call gives the inert node */
    adj_var *r = adj_add(a, a);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESTATE);
    ck_assert(r != NULL);
    adj_params_free(p);
    adj_tape_free(u);
    adj_tape_free(t);
}
END_TEST

/* A view of a parameter reads the store's block: once adj_params_add has
 * moved the blocks, recording on the view and reading its values are
 * refused as for the leaf itself (a contiguous view, a strided one and a
 * view of a view), and a view of a current store still works. */
START_TEST(view_of_moved_parameter)
{
    static const int64_t s34[] = {3, 4}, s43[] = {4, 3};
    for (int kind = 0; kind < 3; kind++) {
        adj_tape *t = adj_tape_new();
        adj_params *p = adj_params_new(ADJ_F64);
        ck_assert_int_eq(adj_params_add(p, "w", 2, s34), 0);
        adj_var *w = adj_param(t, p, 0);
        adj_var *v = kind == 0   ? adj_reshape(w, 2, s43)
                     : kind == 1 ? adj_transpose(w)
                                 : adj_slice(adj_transpose(w), 0, 0, 4, 2);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        ck_assert_double_eq(adj_item(adj_sum(v)), 0.0); /* current: fine */
        ck_assert_int_gt(adj_params_add(p, "late", 1, ((int64_t[]){100000})), 0);
        ck_assert(isnan(adj_value_at(v, 1)));
        ck_assert(adj_data(v) == NULL);
        double out[12];
        ck_assert_int_eq(adj_copy_value(v, out), ADJ_ESTATE);
        adj_sum(v);
        msg_has(t, ADJ_ESTATE, "adj_sum: input", "(a view of it)");
        ck_assert_msg(strstr(adj_tape_message(t), "adj_params_add"), "%s", adj_tape_message(t));
        adj_params_free(p);
        adj_tape_free(t);
    }
}
END_TEST

/* The derivative in double of op 0 sigmoid, 1 ELU (alpha 1), 2 tanh,
 * 3 softplus, 4 exp */
static double dref(int op, double x)
{
    if (op == 1)
        return x >= 0 ? 1.0 : exp(x);
    if (op == 2) { /* 1 / cosh^2 x = 4 e / (1 + e)^2, e = e^-2|x| */
        const double e = exp(-2 * fabs(x));
        return 4 * e / ((1.0 + e) * (1.0 + e));
    }
    if (op == 4)
        return exp(x);
    const double e = exp(-fabs(x)); /* y (1 - y) without cancelling */
    if (op == 3)
        return x >= 0 ? 1 / (1 + e) : e / (1 + e);
    return e / ((1.0 + e) * (1.0 + e));
}

/* g[0..n), x's gradient of sum(w * f(x)) (+ x^2 with twice), against
 * w dref(op, x) (+ 2x) in double, x and w rounded to the dtype (dti: f64);
 * arguments whose derivative overflows the dtype are skipped. */
static void near_dref(int op, int dti, int n, const double *xs, const double *ws, int twice,
                      const double *g)
{
    for (int i = 0; i < n; i++) {
        const double x = dti ? xs[i] : (double)(float)xs[i];
        const double w = dti ? ws[i] : (double)(float)ws[i];
        const double d = dref(op, x);
        if (!isfinite(d) || (!dti && d > 3e38))
            continue; /* exp overflows */
        const double want = w * d + (twice ? 2 * x : 0);
        const double tol = (dti ? 1e-14 : 2e-6) * (fabs(want) + 1e-30) + (dti ? 0 : 1e-44) +
                           (twice ? (dti ? 1e-15 : 1e-6) * fabs(x) : 0);
        ck_assert_msg(fabs(g[i] - want) <= tol, "op %d %s n %d element %d: %.17g, want %.17g", op,
                      dti ? "f64" : "f32", n, i, g[i], want);
    }
}

/* x's gradient of sum(w * f(x)) over n elements (op -1: f(x) = x), and
 * 2 x more when twice (x is also added in, so its adjoint is accumulated
 * into, not stored); release: the sweep releases adjoints (sigmoid's may
 * then be handed on).  grad_splits: the loops its backward cut into more
 * than one range over the pool's threads. */
static size_t grad_splits; /* loops the last grad_of's backward split */

static void grad_of(int op, adj_dtype dt, int n, const double *xv, const double *wv, int twice,
                    int release, double *g)
{
    adj_tape *t = adj_tape_new();
    float *xf = malloc((size_t)n * sizeof *xf), *wf = malloc((size_t)n * sizeof *wf);
    for (int i = 0; i < n; i++) {
        xf[i] = (float)xv[i];
        wf[i] = (float)wv[i];
    }
    const int64_t sh[] = {n};
    adj_var *x = dt == ADJ_F64 ? adj_tensor_f64(t, 1, sh, xv) : adj_tensor_f32(t, 1, sh, xf);
    adj_var *w = dt == ADJ_F64 ? adj_constant_f64(t, 1, sh, wv) : adj_constant_f32(t, 1, sh, wf);
    adj_var *y = op < 0    ? x
                 : op == 0 ? adj_sigmoid(x)
                 : op == 1 ? adj_elu(x, 1.0)
                 : op == 2 ? adj_tanh(x)
                 : op == 3 ? adj_softplus(x)
                           : adj_exp(x);
    adj_var *l = adj_sum(adj_mul(w, y));
    if (twice)
        l = adj_add(adj_sum(adj_mul(x, x)), l);
    adj_backward_opts o = {.release_adjoints = release};
    const size_t splits = adj_pool_split_loops();
    ck_assert_int_eq(adj_backward_ex(l, &o), ADJ_OK);
    grad_splits = adj_pool_split_loops() - splits;
    ck_assert_int_eq(adj_copy_grad(x, g), ADJ_OK);
    adj_tape_free(t);
    free(xf), free(wf);
}

/* n arguments in [-6, 6) and weights in [0.5, 1.5) from a fixed LCG seed */
static void random_points(double *xs, double *ws, int n, uint64_t s)
{
    for (int i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const double r = (double)(s >> 11) / 9007199254740992.0;
        xs[i] = (r - 0.5) * 12.0;
        ws[i] = 0.5 + r;
    }
}

/* Elementwise backwards of n elements, far below the pool's grain, run
 * as one range whatever the thread count, so a second thread cannot
 * change their bits: with two threads set, the backward of each op on n
 * elements splits no loop.  Leaves one thread set. */
static void no_split_below_the_grain(const double *xs, const double *ws, int n)
{
    double *g = malloc((size_t)n * sizeof *g);
    adj_set_threads(2);
    for (int op = 0; op <= 4; op++) {
        grad_of(op, ADJ_F64, n, xs, ws, 1, 0, g);
        ck_assert_msg(grad_splits == 0, "op %d on %d elements: %zu loops split", op, n, grad_splits);
    }
    adj_set_threads(1);
    free(g);
}

/* n = 1..16 elements (the one-pass loop) against the same elements at the
 * head of 40 (the block loop): the same bits; and against the derivative
 * in double.  Arguments on both sides of sigmoid's split (x = 2) and of
 * ELU's kink, large ones (inside and outside the range of the fast
 * exponential: 90 in float, 720 and -750 in double), f32 and f64,
 * accumulated and handed-on adjoints, every CPU level.  One thread: so
 * few elements are one range at any thread count (checked;
 * split_unary_backward covers the split). */
START_TEST(few_element_backward)
{
    double xs[40], ws[40];
    random_points(xs, ws, 40, 7);
    const double special[] = {2.0,  -2.0, 0.0, 17.5, -20.0, 1.9,
                              2.1,  40.0, -0.0, 90.0, 720.0, -750.0};
    memcpy(xs, special, sizeof special);
    no_split_below_the_grain(xs, ws, 40);
    for (int elu = 0; elu < 2; elu++)
        for (int dti = 0; dti < 2; dti++)
            for (int level = 0; level <= adj_vm_max_level(); level++) {
                    const adj_dtype dt = dti ? ADJ_F64 : ADJ_F32;
                    ck_assert_int_eq(adj_vm_force_level(level), level);
                    for (int mode = 0; mode < 4; mode++) {
                        const int twice = mode & 1, release = mode >> 1;
                        double big[40];
                        grad_of(elu, dt, 40, xs, ws, twice, release, big);
                        for (int n = 1; n <= 16; n++) {
                            double g[16];
                            grad_of(elu, dt, n, xs, ws, twice, release, g);
                            for (int i = 0; i < n; i++) {
                                ck_assert_msg(memcmp(&g[i], &big[i], sizeof g[i]) == 0,
                                              "%s %s n %d element %d mode %d "
                                              "level %d: %.17g vs %.17g",
                                              elu ? "elu" : "sigmoid", dti ? "f64" : "f32", n, i,
                                              mode, level, g[i], big[i]);
                                const double x = dti ? xs[i] : (double)(float)xs[i];
                                const double w = dti ? ws[i] : (double)(float)ws[i];
                                const double want = w * dref(elu, x) + (twice ? 2 * x : 0);
                                const double tol = (dti ? 1e-14 : 2e-6) * (fabs(want) + 1e-30) +
                                                   (twice ? (dti ? 1e-15 : 1e-6) * fabs(x) : 0);
                                ck_assert_msg(fabs(g[i] - want) <= tol,
                                              "%s %s n %d element %d: %.17g, want %.17g",
                                              elu ? "elu" : "sigmoid", dti ? "f64" : "f32", n, i,
                                              g[i], want);
                            }
                        }
                    }
                }
    adj_vm_force_level(-1);
    adj_set_threads(1);
}
END_TEST

/* tanh, softplus and exp (the ops with an optimistic forward) on n = 1..70
 * elements (up to 64 take the one-pass backward) against the same elements
 * at the head of 150 (the guarded block loop): the same bits, and the
 * derivative of a plain loop in double.  Arguments where the fast
 * exponential holds and where it does not (tanh beyond |x| = 43.5,
 * softplus beyond 87 in float, 354 and 708 in double), at several places, f32 and
 * f64, accumulated and handed-on adjoints, every CPU level (each level's
 * long run against level 0's).  One thread: 150 elements are one range
 * at any thread count (checked; split_unary_backward covers the split). */
START_TEST(few_element_opt_backward)
{
    double xs[150], ws[150];
    random_points(xs, ws, 150, 11);
    const double special[] = {0.0, -0.0, 50.0, -45.0, 2.5, 90.0, -100.0, 20.0, -400.0, 720.0};
    memcpy(xs, special, sizeof special);
    xs[40] = 60.0;  /* a failing argument only in the second half of n = 64 */
    xs[65] = -95.0; /* and one only beyond 64 */
    no_split_below_the_grain(xs, ws, 150);
    for (int op = 2; op <= 4; op++)
        for (int dti = 0; dti < 2; dti++)
            for (int mode = 0; mode < 4; mode++) {
                const adj_dtype dt = dti ? ADJ_F64 : ADJ_F32;
                const int twice = mode & 1, release = mode >> 1;
                double ref[150];
                adj_set_threads(1);
                ck_assert_int_eq(adj_vm_force_level(0), 0);
                grad_of(op, dt, 150, xs, ws, twice, release, ref);
                for (int level = 0; level <= adj_vm_max_level(); level++) {
                        ck_assert_int_eq(adj_vm_force_level(level), level);
                        double big[150];
                        grad_of(op, dt, 150, xs, ws, twice, release, big);
                        ck_assert_msg(memcmp(big, ref, sizeof big) == 0,
                                      "op %d %s mode %d level %d: 150 elements differ "
                                      "from level 0",
                                      op, dti ? "f64" : "f32", mode, level);
                        for (int n = 1; n <= 70; n++) {
                            double g[150];
                            grad_of(op, dt, n, xs, ws, twice, release, g);
                            for (int i = 0; i < n; i++) {
                                ck_assert_msg(memcmp(&g[i], &big[i], sizeof g[i]) == 0,
                                              "op %d %s n %d element %d mode %d "
                                              "level %d: %.17g vs %.17g",
                                              op, dti ? "f64" : "f32", n, i, mode, level,
                                              g[i], big[i]);
                            }
                            near_dref(op, dti, n, xs, ws, twice, g);
                        }
                    }
            }
    adj_vm_force_level(-1);
    adj_set_threads(1);
}
END_TEST

/* Sizes the pool cuts into two ranges at two threads (its elementwise
 * grain is 2^15 elements: 2^16 and 3 2^15 + 5; the cut falls on
 * a multiple of 16): each of sigmoid, ELU, tanh, softplus and exp, at two
 * threads, gives the bits of one thread, and the derivative in double.
 * That its backward was split is checked, as one loop split more than in
 * the same sweep without the op.  Arguments where the fast kernels fail
 * just before, at and after the cut, at a block's end, and at every other
 * element for 3000 elements on both sides of the cut (so that the block
 * loop's dense pass runs across it); f32 and f64, accumulated and
 * handed-on adjoints, the lowest and the highest CPU level. */
START_TEST(split_unary_backward)
{
    static const int sizes[] = {1 << 16, 3 * (1 << 15) + 5};
    static const double bad[] = {2.0, -2.0, 0.0, -0.0, 60.0, -95.0, 400.0, -720.0, 90.0, 720.0};
    const int nbad = (int)(sizeof bad / sizeof bad[0]);
    for (size_t q = 0; q < sizeof sizes / sizeof sizes[0]; q++) {
        const int n = sizes[q], cut = ((n + 1) / 2 + 15) / 16 * 16;
        double *xs = malloc((size_t)n * sizeof *xs), *ws = malloc((size_t)n * sizeof *ws);
        double *ref = malloc((size_t)n * sizeof *ref), *two = malloc((size_t)n * sizeof *two);
        random_points(xs, ws, n, 17 + q);
        const int at[] = {cut - 2, cut - 1, cut, cut + 1, 1023, 1024, n - 1};
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
            xs[at[k]] = bad[k % (size_t)nbad];
        for (int i = cut - 3000; i < cut + 3000; i += 2)
            xs[i] = bad[(i / 2) % nbad];
        for (int dti = 0; dti < 2; dti++)
            for (int mode = 0; mode < 4; mode++) {
                const adj_dtype dt = dti ? ADJ_F64 : ADJ_F32;
                const int twice = mode & 1, release = mode >> 1;
                adj_set_threads(2);
                grad_of(-1, dt, n, xs, ws, twice, release, two);
                const size_t base = grad_splits; /* the sweep's other loops */
                for (int op = 0; op <= 4; op++)
                    for (int level = 0; level <= adj_vm_max_level();
                         level = level < adj_vm_max_level() ? adj_vm_max_level() : level + 1) {
                        ck_assert_int_eq(adj_vm_force_level(level), level);
                        adj_set_threads(1);
                        grad_of(op, dt, n, xs, ws, twice, release, ref);
                        ck_assert_msg(grad_splits == 0, "%zu loops split at one thread", grad_splits);
                        adj_set_threads(2);
                        grad_of(op, dt, n, xs, ws, twice, release, two);
                        ck_assert_msg(grad_splits == base + 1,
                                      "op %d n %d: %zu loops split, %zu without the op", op, n,
                                      grad_splits, base);
                        for (int i = 0; i < n; i++)
                            ck_assert_msg(memcmp(&two[i], &ref[i], sizeof two[i]) == 0,
                                          "op %d %s n %d element %d mode %d level %d: %.17g at 2 "
                                          "threads, %.17g at 1",
                                          op, dti ? "f64" : "f32", n, i, mode, level, two[i], ref[i]);
                        if (level > 0)
                            continue;
                        near_dref(op, dti, n, xs, ws, twice, ref);
                    }
            }
        free(xs), free(ws), free(ref), free(two);
    }
    adj_vm_force_level(-1);
    adj_set_threads(1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("recordpath");
    TCase *tc = tcase_create("recordpath");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, plain_inputs_accepted);
    tcase_add_test(tc, rejects_keep_their_messages);
    tcase_add_test(tc, view_of_moved_parameter);
    tcase_add_test(tc, few_element_backward);
    tcase_add_test(tc, few_element_opt_backward);
    tcase_add_test(tc, split_unary_backward);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
