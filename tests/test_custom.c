/*
 * Ops defined by the program (adjoint/extend.h): registered at run time,
 * recorded with adj_custom, then swept, pushed through by forward mode,
 * printed, explained, drawn and gradient-checked like built-in ops.
 * Values are checked against hand-derived formulas, gradients against
 * finite differences (adj_gradcheck).
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------- softsign, elementwise */

/* Element i of view v along its (row-major) strides, as a double. */
static double get(const adj_view *v, int64_t i)
{
    int64_t off = 0;
    for (int d = v->ndim - 1; d >= 0; d--) {
        off += (i % v->shape[d]) * v->stride[d];
        i /= v->shape[d];
    }
    return v->dtype == ADJ_F64 ? ((const double *)v->data)[off] : ((const float *)v->data)[off];
}
static void put(const adj_view *v, int64_t i, double x, int add)
{
    int64_t off = 0;
    for (int d = v->ndim - 1; d >= 0; d--) {
        off += (i % v->shape[d]) * v->stride[d];
        i /= v->shape[d];
    }
    if (v->dtype == ADJ_F64)
        ((double *)v->data)[off] = x + (add ? ((double *)v->data)[off] : 0);
    else
        ((float *)v->data)[off] = (float)x + (add ? ((float *)v->data)[off] : 0);
}
static int64_t numel(const adj_view *v)
{
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++)
        n *= v->shape[d];
    return n;
}

static int softsign_calls;

static void softsign_fwd(int n, const adj_view *x, const adj_view *y, const void *attr, void *user)
{
    (void)n, (void)attr;
    ck_assert_ptr_eq(user, &softsign_calls);
    softsign_calls++;
    for (int64_t i = 0; i < numel(y); i++)
        put(y, i, get(&x[0], i) / (1 + fabs(get(&x[0], i))), 0);
}
static void softsign_bwd(int n, const adj_view *x, const adj_view *y, const adj_view *dy,
                         const adj_view *dx, const void *attr, void *user)
{
    (void)n, (void)y, (void)attr, (void)user;
    if (!dx[0].data)
        return;
    for (int64_t i = 0; i < numel(y); i++) {
        double a = 1 + fabs(get(&x[0], i));
        put(&dx[0], i, get(dy, i) / (a * a), 1);
    }
}
static void softsign_jvp(int n, const adj_view *x, const adj_view *y, const adj_view *tx,
                         const adj_view *ty, const void *attr, void *user)
{
    (void)n, (void)y, (void)attr, (void)user;
    for (int64_t i = 0; i < numel(y); i++) {
        double a = 1 + fabs(get(&x[0], i));
        put(ty, i, get(&tx[0], i) / (a * a), 0);
    }
}

static int softsign_op(void)
{
    static int op = -1;
    if (op < 0) {
        adj_op_def d = {.name = "softsign", .arity = 1, .forward = softsign_fwd,
                        .backward = softsign_bwd, .jvp = softsign_jvp,
                        .formula = "y = x / (1 + |x|)", .rule = "dx += dy / (1 + |x|)^2",
                        .user = &softsign_calls};
        adj_error err;
        op = adj_op_register(&d, &err);
        ck_assert_msg(op >= ADJ_OP_COUNT, "%s", err.message);
        ck_assert_int_eq(err.status, ADJ_OK);
    }
    return op;
}

START_TEST(softsign_values_and_gradients)
{
    int op = softsign_op();
    ck_assert_str_eq(adj_op_name((adj_op)op), "softsign");
    ck_assert_int_eq(adj_op_arity((adj_op)op), 1);
    ck_assert_str_eq(adj_op_formula((adj_op)op), "y = x / (1 + |x|)");
    ck_assert_int_eq(adj_op_find("softsign"), op);
    adj_tape *t = adj_tape_new();
    double xs[4] = {-3, -0.5, 0.25, 2};
    adj_var *x = adj_tensor_f64(t, 1, ((int64_t[]){4}), xs);
    adj_var *y = adj_custom(op, 1, &x, NULL);
    ck_assert_int_eq(adj_var_op(y), op);
    ck_assert_int_eq(adj_backward(adj_sum(adj_square(y))), ADJ_OK);
    for (int i = 0; i < 4; i++) {
        double a = 1 + fabs(xs[i]), s = xs[i] / a;
        ck_assert_double_eq_tol(adj_value_at(y, (size_t)i), s, 1e-15);
        ck_assert_double_eq_tol(adj_grad_at(x, (size_t)i), 2 * s / (a * a), 1e-15);
    }
    /* forward mode: d/dx softsign = 1 / (1 + |x|)^2 */
    adj_var *y0 = adj_custom(op, 1, &x, NULL);
    double v[4] = {1, 0, 0, 0}, out[4];
    const double *vs[1] = {v};
    ck_assert_int_eq(adj_jvp(y0, 1, &x, vs, out), ADJ_OK);
    ck_assert_double_eq_tol(out[0], 1 / 16.0, 1e-15);
    ck_assert_double_eq(out[1], 0);
    adj_tape_free(t);
}
END_TEST

static adj_var *softsign_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t, (void)n, (void)user;
    adj_var *y = adj_custom(softsign_op(), 1, in, NULL);
    return adj_sum(adj_mul(y, adj_exp(in[0])));
}

START_TEST(softsign_gradcheck)
{
    double xs[6] = {-1.7, -0.4, 0.3, 0.9, 1.5, -2.2};
    adj_gradcheck_input in = {2, {2, 3}, xs};
    for (int dt = 0; dt < 2; dt++) {
        adj_gradcheck_opts o = {.dtype = dt ? ADJ_F32 : ADJ_F64};
        adj_gradcheck_report r;
        ck_assert_int_eq(adj_gradcheck(softsign_fn, NULL, 1, &in, &o, &r), ADJ_OK);
        ck_assert_msg(r.passed, "%s: max rel err %g", dt ? "f32" : "f64", r.max_rel_err);
    }
}
END_TEST

/* Printing, explaining and DOT name the op like any other. */
START_TEST(softsign_in_teaching)
{
    int op = softsign_op();
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 0.5);
    adj_var_set_name(x, "x");
    adj_var *y = adj_mul(adj_custom(op, 1, &x, NULL), x);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(adj_tape_print(t, f), ADJ_OK);
    ck_assert_int_eq(adj_tape_dot(t, f), ADJ_OK);
    ck_assert_int_eq(adj_backward_explain(y, f), ADJ_OK);
    fclose(f);
    ck_assert_msg(strstr(buf, "softsign(x)"), "no softsign(x) in:\n%s", buf);
    ck_assert_msg(strstr(buf, "dx += dy / (1 + |x|)^2"), "no rule in:\n%s", buf);
    /* y = softsign(x) x: dy/dx = x / (1 + x)^2 + softsign(x) = 0.5/2.25 + 1/3 */
    ck_assert_double_eq_tol(adj_grad_item(x), 0.5 / 2.25 + 1 / 3.0, 1e-15);
    free(buf);
    adj_tape_free(t);
}
END_TEST

/* ------------------------ an op with attributes and its own shape rule */

typedef struct outer_attr {
    double c;
} outer_attr;

/* y (m, n) = c a bᵀ for a (m), b (n) */
static adj_status outer_shape(int n, const adj_view *x, const void *attr, int *ndim,
                              int64_t *shape, char *why, size_t why_size, void *user)
{
    (void)n, (void)attr, (void)user;
    if (x[0].ndim != 1 || x[1].ndim != 1) {
        snprintf(why, why_size, "a and b must be 1-D, got %d-D and %d-D", x[0].ndim, x[1].ndim);
        return ADJ_ESHAPE;
    }
    *ndim = 2;
    shape[0] = x[0].shape[0];
    shape[1] = x[1].shape[0];
    return ADJ_OK;
}
static void outer_fwd(int n, const adj_view *x, const adj_view *y, const void *attr, void *user)
{
    (void)n, (void)user;
    double c = ((const outer_attr *)attr)->c;
    for (int64_t i = 0; i < y->shape[0]; i++)
        for (int64_t j = 0; j < y->shape[1]; j++)
            put(y, i * y->shape[1] + j, c * get(&x[0], i) * get(&x[1], j), 0);
}
static void outer_bwd(int n, const adj_view *x, const adj_view *y, const adj_view *dy,
                      const adj_view *dx, const void *attr, void *user)
{
    (void)n, (void)user;
    double c = ((const outer_attr *)attr)->c;
    for (int64_t i = 0; i < y->shape[0]; i++)
        for (int64_t j = 0; j < y->shape[1]; j++) {
            double g = c * get(dy, i * y->shape[1] + j);
            if (dx[0].data)
                put(&dx[0], i, g * get(&x[1], j), 1);
            if (dx[1].data)
                put(&dx[1], j, g * get(&x[0], i), 1);
        }
}

static int outer_op(void)
{
    static int op = -1;
    if (op < 0) {
        adj_op_def d = {.name = "scaled_outer", .arity = 2, .attr_size = sizeof(outer_attr),
                        .shape = outer_shape, .forward = outer_fwd, .backward = outer_bwd};
        op = adj_op_register(&d, NULL);
        ck_assert_int_ge(op, ADJ_OP_COUNT);
    }
    return op;
}

static adj_var *outer_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t, (void)n, (void)user;
    adj_var *y = adj_custom(outer_op(), 2, in, &(outer_attr){-1.5});
    return adj_sum(adj_tanh(y));
}

START_TEST(attributes_and_shape_rule)
{
    double a[3] = {0.3, -0.8, 1.1}, b[2] = {0.7, -0.2};
    adj_gradcheck_input in[2] = {{1, {3}, a}, {1, {2}, b}};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(outer_fn, NULL, 2, in, NULL, &r), ADJ_OK);
    ck_assert_msg(r.passed, "max rel err %g", r.max_rel_err);

    adj_tape *t = adj_tape_new();
    adj_var *xs[2] = {adj_tensor_f64(t, 1, ((int64_t[]){3}), a), adj_tensor_f64(t, 1, ((int64_t[]){2}), b)};
    adj_var *y = adj_custom(outer_op(), 2, xs, &(outer_attr){2.0});
    ck_assert_int_eq(adj_dim(y, 0), 3);
    ck_assert_int_eq(adj_dim(y, 1), 2);
    ck_assert_double_eq_tol(adj_value_at(y, 3), 2.0 * a[1] * b[1], 1e-15);
    /* the shape callback's refusal is a sticky error naming the op and the call */
    adj_var *bad[2] = {y, xs[1]};
    adj_var *z = adj_custom(outer_op(), 2, bad, &(outer_attr){1});
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESHAPE);
    ck_assert(isnan(adj_item(z)));
    const char *m = adj_tape_message(t);
    ck_assert_msg(strstr(m, "scaled_outer") && strstr(m, "must be 1-D, got 2-D and 1-D") &&
                      strstr(m, "test_custom.c:"), "%s", m);
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------- variadic, no shape callback */

/* y = sum_k x_k^2, elementwise over inputs of one shape */
static void sumsq_fwd(int n, const adj_view *x, const adj_view *y, const void *attr, void *user)
{
    (void)attr, (void)user;
    for (int64_t i = 0; i < numel(y); i++) {
        double s = 0;
        for (int k = 0; k < n; k++)
            s += get(&x[k], i) * get(&x[k], i);
        put(y, i, s, 0);
    }
}
static void sumsq_bwd(int n, const adj_view *x, const adj_view *y, const adj_view *dy,
                      const adj_view *dx, const void *attr, void *user)
{
    (void)attr, (void)user;
    for (int k = 0; k < n; k++)
        if (dx[k].data)
            for (int64_t i = 0; i < numel(y); i++)
                put(&dx[k], i, 2 * get(&x[k], i) * get(dy, i), 1);
}

static int sumsq_op(void)
{
    static int op = -1;
    if (op < 0) {
        adj_op_def d = {.name = "sum_of_squares", .arity = ADJ_OP_VARIADIC, .forward = sumsq_fwd,
                        .backward = sumsq_bwd};
        op = adj_op_register(&d, NULL);
        ck_assert_int_ge(op, ADJ_OP_COUNT);
    }
    return op;
}

static adj_var *sumsq_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t, (void)user;
    return adj_sum(adj_sin(adj_custom(sumsq_op(), n, in, NULL)));
}

START_TEST(variadic)
{
    double v[5][4] = {{0.1, 0.2, 0.3, 0.4}, {-1, 0.5, 0.2, 0.3}, {0.7, 0.1, -0.6, 0.2},
                      {0.3, 0.3, 0.3, -0.9}, {1.2, -0.4, 0.5, 0.1}};
    adj_gradcheck_input in[5];
    for (int k = 0; k < 5; k++)
        in[k] = (adj_gradcheck_input){2, {2, 2}, v[k]};
    adj_gradcheck_report r;
    ck_assert_int_eq(adj_gradcheck(sumsq_fn, NULL, 5, in, NULL, &r), ADJ_OK);
    ck_assert_msg(r.passed, "max rel err %g", r.max_rel_err);

    adj_tape *t = adj_tape_new();
    adj_var *xs[2] = {adj_tensor_f64(t, 2, ((int64_t[]){2, 2}), v[0]),
                      adj_tensor_f64(t, 1, ((int64_t[]){4}), v[1])};
    adj_custom(sumsq_op(), 2, xs, NULL);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ESHAPE);
    ck_assert_msg(strstr(adj_tape_message(t), "input 1 is (4) but input 0 is (2,2)"), "%s",
                  adj_tape_message(t));
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------------ without backward, jvp */

static int nograd_op(void)
{
    static int op = -1;
    if (op < 0) {
        adj_op_def d = {.name = "softsign_forward_only", .arity = 1, .forward = softsign_fwd,
                        .user = &softsign_calls};
        op = adj_op_register(&d, NULL);
        ck_assert_int_ge(op, ADJ_OP_COUNT);
    }
    return op;
}

START_TEST(missing_backward_is_an_error)
{
    adj_tape *t = adj_tape_new();
    adj_var *c = adj_constant_f64(t, 1, ((int64_t[]){2}), ((double[]){1, -2}));
    adj_var *x = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){1, -2}));
    /* on a constant: nothing needs its gradient, the sweep is fine */
    adj_var *yc = adj_custom(nograd_op(), 1, &c, NULL);
    ck_assert_double_eq(adj_value_at(yc, 1), -2.0 / 3);
    ck_assert_int_eq(adj_backward(adj_sum(adj_mul(yc, x))), ADJ_OK);
    ck_assert_double_eq(adj_grad_at(x, 0), 0.5);
    /* forward mode has no rule either */
    adj_var *y = adj_custom(nograd_op(), 1, &x, NULL);
    double v[2] = {1, 1}, out[2];
    const double *vs[1] = {v};
    ck_assert_int_eq(adj_jvp(y, 1, &x, vs, out), ADJ_EINVAL);
    ck_assert_msg(strstr(adj_tape_message(t), "\"softsign_forward_only\"") &&
                      strstr(adj_tape_message(t), "without a tangent rule"),
                  "%s", adj_tape_message(t));
    adj_tape_reset(t);
    x = adj_tensor_f64(t, 1, ((int64_t[]){2}), ((double[]){1, -2}));
    y = adj_custom(nograd_op(), 1, &x, NULL);
    ck_assert_int_eq(adj_backward(adj_sum(y)), ADJ_EINVAL);
    const char *m = adj_tape_message(t);
    ck_assert_msg(strstr(m, "\"softsign_forward_only\"") && strstr(m, "without a backward") &&
                      strstr(m, "test_custom.c:"), "%s", m);
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------------------------- misuse */

START_TEST(registration_refusals)
{
    adj_error err;
    adj_op_def ok = {.name = "fine", .arity = 1, .forward = softsign_fwd};
    struct {
        adj_op_def d;
        int null;
        const char *word;
    } bad[] = {
        {ok, 1, "def is NULL"},
        {{.name = "", .arity = 1, .forward = softsign_fwd}, 0, "empty"},
        {{.name = NULL, .arity = 1, .forward = softsign_fwd}, 0, "NULL"},
        {{.name = "tanh", .arity = 1, .forward = softsign_fwd}, 0, "\"tanh\" exists already"},
        {{.name = "a0", .arity = 0, .forward = softsign_fwd}, 0, "arity 0"},
        {{.name = "a2", .arity = -2, .forward = softsign_fwd}, 0, "arity -2"},
        {{.name = "big", .arity = 1, .attr_size = 5000, .forward = softsign_fwd}, 0, "attr_size 5000"},
        {{.name = "nofwd", .arity = 1}, 0, "no forward"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(adj_op_register(bad[i].null ? NULL : &bad[i].d, &err), -1);
        ck_assert_int_eq(err.status, ADJ_EINVAL);
        ck_assert_msg(strstr(err.message, "adj_op_register") && strstr(err.message, bad[i].word),
                      "%zu: %s", i, err.message);
    }
    softsign_op();
    ck_assert_int_eq(adj_op_register(&(adj_op_def){.name = "softsign", .arity = 1,
                                                   .forward = softsign_fwd}, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "exists already"));
    ck_assert_int_eq(adj_op_find("no such op"), -1);
    ck_assert_int_eq(adj_op_find(NULL), -1);
}
END_TEST

START_TEST(recording_refusals)
{
    int op = softsign_op();
    adj_tape *t = adj_tape_new(), *u = adj_tape_new();
    adj_var *x = adj_scalar(t, 1.0), *xf = adj_tensor_f32(t, 0, NULL, ((float[]){1}));
    adj_var *two[2] = {x, x};
    struct {
        int op, n;
        adj_var *const *in;
        adj_status want;
        const char *word;
    } bad[] = {
        {ADJ_OP_TANH, 1, &x, ADJ_EINVAL, "is not a registered op"},
        {ADJ_OP_COUNT + 200, 1, &x, ADJ_EINVAL, "not a registered op"},
        {op, 2, two, ADJ_EINVAL, "takes 1 inputs, 2 given"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        adj_var *y = adj_custom(bad[i].op, bad[i].n, bad[i].in, NULL);
        ck_assert(isnan(adj_item(y)));
        ck_assert_int_eq(adj_tape_status(t), bad[i].want);
        ck_assert_msg(strstr(adj_tape_message(t), bad[i].word) &&
                          strstr(adj_tape_message(t), "test_custom.c:"), "%s", adj_tape_message(t));
        adj_tape_reset(t);
        x = adj_scalar(t, 1.0);
        two[0] = two[1] = x;
    }
    xf = adj_tensor_f32(t, 0, NULL, ((float[]){1}));
    adj_var *mixed[2] = {x, xf};
    adj_custom(sumsq_op(), 2, mixed, NULL);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EDTYPE);
    adj_tape_reset(t);
    x = adj_scalar(t, 1.0);
    adj_var *foreign[2] = {x, adj_scalar(u, 2.0)};
    adj_custom(sumsq_op(), 2, foreign, NULL);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ETAPE);
    ck_assert_ptr_null(adj_custom(op, 1, NULL, NULL));
    ck_assert_ptr_null(adj_custom(op, 0, &x, NULL));
    adj_tape_free(t);
    adj_tape_free(u);
}
END_TEST

/* Registrations from two threads at once get distinct ids, both usable. */
static void *register_many(void *arg)
{
    int *ids = arg;
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "thread%d_op%d", ids[8], i);
        adj_op_def d = {.name = name, .arity = 1, .forward = softsign_fwd,
                        .backward = softsign_bwd, .user = &softsign_calls};
        ids[i] = adj_op_register(&d, NULL);
    }
    return NULL;
}

START_TEST(concurrent_registration)
{
    int ids[2][9] = {{[8] = 0}, {[8] = 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, register_many, ids[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 16; i++) {
        int id = ids[i / 8][i % 8];
        ck_assert_int_ge(id, ADJ_OP_COUNT);
        for (int j = 0; j < i; j++)
            ck_assert_int_ne(id, ids[j / 8][j % 8]);
        char name[32];
        snprintf(name, sizeof name, "thread%d_op%d", i / 8, i % 8);
        ck_assert_str_eq(adj_op_name((adj_op)id), name);
    }
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 3.0);
    ck_assert_double_eq(adj_item(adj_custom(ids[1][7], 1, &x, NULL)), 0.75);
    adj_tape_free(t);
}
END_TEST

/* ---------------------------------------------------- graph mode */

/* softplus2(x) = log(1 + e^x) with its backward written with ops (mode 0),
 * wrongly shaped (mode 1), refusing (mode 2) */
static int sp_mode;
static void sp_fwd(int n, const adj_view *x, const adj_view *y, const void *attr, void *user)
{
    (void)n, (void)attr, (void)user;
    for (int64_t i = 0; i < numel(y); i++)
        put(y, i, log1p(exp(get(&x[0], i))), 0);
}
static void sp_bwd(int n, const adj_view *x, const adj_view *y, const adj_view *dy,
                   const adj_view *dx, const void *attr, void *user)
{
    (void)n, (void)y, (void)attr, (void)user;
    for (int64_t i = 0; dx[0].data && i < numel(y); i++)
        put(&dx[0], i, get(dy, i) / (1 + exp(-get(&x[0], i))), 1);
}
static adj_status sp_graph(int n, adj_var *const *x, adj_var *y, adj_var *dy, adj_var **dx,
                           const void *attr, void *user)
{
    (void)n, (void)y, (void)attr, (void)user;
    if (sp_mode == 2)
        return ADJ_EINVAL;
    dx[0] = sp_mode == 1 ? adj_sum(dy) : adj_mul(dy, adj_sigmoid(x[0]));
    return ADJ_OK;
}
static int sp_op(void)
{
    static int op = -1;
    if (op < 0) {
        adj_op_def d = {.name = "softplus2", .arity = 1, .forward = sp_fwd, .backward = sp_bwd,
                        .graph_backward = sp_graph};
        op = adj_op_register(&d, NULL);
        ck_assert_int_ge(op, ADJ_OP_COUNT);
    }
    return op;
}

/* d^2/dx^2 log(1 + e^x) = s (1 - s), s = sigmoid(x); the third derivative
 * s (1 - s) (1 - 2 s): the program's rule recorded and differentiated */
START_TEST(graph_backward_differentiates_twice)
{
    sp_mode = 0;
    adj_tape *t = adj_tape_new();
    const double xs[3] = {-1.3, 0.2, 2.1};
    adj_var *x = adj_tensor_f64(t, 1, ((int64_t[]){3}), xs);
    adj_var *y = adj_sum(adj_custom(sp_op(), 1, &x, NULL));
    adj_backward_opts graph = {.create_graph = 1};
    adj_var *g, *h, *k;
    ck_assert_int_eq(adj_grad(y, 1, &x, &g, &graph), ADJ_OK);
    ck_assert_int_eq(adj_grad(adj_sum(g), 1, &x, &h, &graph), ADJ_OK);
    ck_assert_int_eq(adj_grad(adj_sum(h), 1, &x, &k, NULL), ADJ_OK);
    for (int i = 0; i < 3; i++) {
        double s = 1 / (1 + exp(-xs[i]));
        ck_assert_double_eq_tol(adj_value_at(g, (size_t)i), s, 1e-15);
        ck_assert_double_eq_tol(adj_value_at(h, (size_t)i), s * (1 - s), 1e-15);
        ck_assert_double_eq_tol(adj_value_at(k, (size_t)i), s * (1 - s) * (1 - 2 * s), 1e-15);
    }
    adj_tape_free(t);
}
END_TEST

/* Without graph_backward, create_graph through the op is an error naming
 * it (the plain backward still works); a rule of the wrong shape or that
 * fails is an error too. */
START_TEST(graph_backward_missing_or_wrong)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 0.5);
    adj_var *y = adj_custom(softsign_op(), 1, &x, NULL), *g = NULL;
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    adj_backward_opts graph = {.create_graph = 1};
    ck_assert_int_eq(adj_grad(y, 1, &x, &g, &graph), ADJ_EINVAL);
    const char *m = adj_tape_message(t);
    ck_assert_msg(strstr(m, "softsign") && strstr(m, "graph_backward") &&
                      strstr(m, "test_custom.c:"), "%s", m);
    adj_tape_free(t);

    t = adj_tape_new();
    const double xs[2] = {0.1, 0.2};
    x = adj_tensor_f64(t, 1, ((int64_t[]){2}), xs);
    sp_mode = 1;
    ck_assert_int_eq(adj_grad(adj_sum(adj_custom(sp_op(), 1, &x, NULL)), 1, &x, &g, &graph),
                     ADJ_ESHAPE);
    m = adj_tape_message(t);
    ck_assert_msg(strstr(m, "softplus2") && strstr(m, "(2)") && strstr(m, "()"), "%s", m);
    adj_tape_free(t);

    t = adj_tape_new();
    x = adj_tensor_f64(t, 1, ((int64_t[]){2}), xs);
    sp_mode = 2;
    ck_assert_int_eq(adj_grad(adj_sum(adj_custom(sp_op(), 1, &x, NULL)), 1, &x, &g, &graph),
                     ADJ_EINVAL);
    m = adj_tape_message(t);
    ck_assert_msg(strstr(m, "softplus2") && strstr(m, "graph_backward"), "%s", m);
    adj_tape_free(t);
    sp_mode = 0;
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("custom");
    TCase *tc = tcase_create("custom");
    tcase_add_test(tc, softsign_values_and_gradients);
    tcase_add_test(tc, softsign_gradcheck);
    tcase_add_test(tc, softsign_in_teaching);
    tcase_add_test(tc, attributes_and_shape_rule);
    tcase_add_test(tc, variadic);
    tcase_add_test(tc, missing_backward_is_an_error);
    tcase_add_test(tc, registration_refusals);
    tcase_add_test(tc, recording_refusals);
    tcase_add_test(tc, concurrent_registration);
    tcase_add_test(tc, graph_backward_differentiates_twice);
    tcase_add_test(tc, graph_backward_missing_or_wrong);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
