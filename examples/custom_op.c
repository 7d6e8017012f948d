/*
 * A user-defined op: softsign, y = x / (1 + |x|), with its derivative
 * dy/dx = 1 / (1 + |x|)^2, registered at run time (adjoint/extend.h),
 * gradient-checked against finite differences, then used as the hidden
 * activation of a 1-16-1 network that learns y = sin(2x) on [-1.5, 1.5].
 * Its backward is also given written with ops (graph_backward), so the op
 * can be differentiated twice: the example takes softsign''(x) =
 * -2 sign(x) / (1 + |x|)^3 by differentiating the recorded first
 * derivative.
 *
 *     ./custom_op [steps]
 *
 * Exits 0 when the gradient check passes and the fit's mean squared error
 * ends below 0.01.
 */
#include <adjoint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------ the op */

/* The views the library hands over are plain memory: element i of a
 * view's flat index sits at data + (its coordinates . stride). */
static size_t offset(const adj_view *v, int64_t i)
{
    int64_t off = 0;
    for (int d = v->ndim - 1; d >= 0; d--) {
        off += (i % v->shape[d]) * v->stride[d];
        i /= v->shape[d];
    }
    return (size_t)off;
}

static int64_t count(const adj_view *v)
{
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++)
        n *= v->shape[d];
    return n;
}

/* y = x / (1 + |x|), for float and double */
static void softsign_forward(int n, const adj_view *x, const adj_view *y, const void *attr,
                             void *user)
{
    (void)n, (void)attr, (void)user;
    for (int64_t i = 0; i < count(y); i++) {
        size_t a = offset(&x[0], i), b = offset(y, i);
        if (y->dtype == ADJ_F64) {
            double v = ((const double *)x[0].data)[a];
            ((double *)y->data)[b] = v / (1 + fabs(v));
        } else {
            float v = ((const float *)x[0].data)[a];
            ((float *)y->data)[b] = v / (1 + fabsf(v));
        }
    }
}

/* dx += dy / (1 + |x|)^2: accumulate, never overwrite */
static void softsign_backward(int n, const adj_view *x, const adj_view *y, const adj_view *dy,
                              const adj_view *dx, const void *attr, void *user)
{
    (void)n, (void)y, (void)attr, (void)user;
    if (!dx[0].data) /* x needs no gradient */
        return;
    for (int64_t i = 0; i < count(dy); i++) {
        size_t a = offset(&x[0], i), g = offset(dy, i), d = offset(&dx[0], i);
        if (dy->dtype == ADJ_F64) {
            double s = 1 + fabs(((const double *)x[0].data)[a]);
            ((double *)dx[0].data)[d] += ((const double *)dy->data)[g] / (s * s);
        } else {
            float s = 1 + fabsf(((const float *)x[0].data)[a]);
            ((float *)dx[0].data)[d] += ((const float *)dy->data)[g] / (s * s);
        }
    }
}

/* the tangent: ty = tx / (1 + |x|)^2 (the same derivative, pushed forward) */
static void softsign_jvp(int n, const adj_view *x, const adj_view *y, const adj_view *tx,
                         const adj_view *ty, const void *attr, void *user)
{
    (void)n, (void)y, (void)attr, (void)user;
    for (int64_t i = 0; i < count(ty); i++) {
        size_t a = offset(&x[0], i);
        if (ty->dtype == ADJ_F64) {
            double s = 1 + fabs(((const double *)x[0].data)[a]);
            ((double *)ty->data)[offset(ty, i)] = ((const double *)tx[0].data)[offset(&tx[0], i)] / (s * s);
        } else {
            float s = 1 + fabsf(((const float *)x[0].data)[a]);
            ((float *)ty->data)[offset(ty, i)] = ((const float *)tx[0].data)[offset(&tx[0], i)] / (s * s);
        }
    }
}

/* The same backward written with ops, so that graph mode records it and
 * can differentiate it again: dx = dy / (1 + |x|)^2 */
static adj_status softsign_graph_backward(int n, adj_var *const *x, adj_var *y, adj_var *dy,
                                          adj_var **dx, const void *attr, void *user)
{
    (void)n, (void)y, (void)attr, (void)user;
    adj_tape *t = adj_var_tape(x[0]);
    double one = 1;
    float onef = 1;
    adj_var *c = adj_var_dtype(x[0]) == ADJ_F64 ? adj_constant_f64(t, 0, NULL, &one)
                                                : adj_constant_f32(t, 0, NULL, &onef);
    dx[0] = adj_div(dy, adj_square(adj_add(c, adj_abs(x[0]))));
    return adj_tape_status(t);
}

static int softsign_id = -1;

static adj_var *softsign(adj_var *x) { return adj_custom(softsign_id, 1, &x, NULL); }

/* ---------------------------------------------------- gradient check */

/* f(x) = sum(softsign(x) * x): exercises the op's backward through a product */
static adj_var *check_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t, (void)n, (void)user;
    return adj_sum(adj_mul(softsign(in[0]), in[0]));
}

/* ----------------------------------------------------------- training */

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 1500;
    adj_op_def def = {
        .name = "softsign", .arity = 1,
        .forward = softsign_forward, .backward = softsign_backward, .jvp = softsign_jvp,
        .formula = "y = x / (1 + |x|)", .rule = "dx += dy / (1 + |x|)^2",
        .graph_backward = softsign_graph_backward,
    };
    adj_error err;
    softsign_id = adj_op_register(&def, &err);
    if (softsign_id < 0) {
        fprintf(stderr, "custom_op: %s\n", err.message);
        return 1;
    }
    printf("registered %s as op %d: %s; %s\n", adj_op_name((adj_op)softsign_id), softsign_id,
           adj_op_formula((adj_op)softsign_id), adj_op_rule((adj_op)softsign_id));

    /* the analytic gradient against central differences, in double */
    double xs[6] = {-2.5, -0.7, -0.1, 0.2, 0.9, 3.0};
    adj_gradcheck_input in = {1, {6}, xs};
    adj_gradcheck_report rep;
    if (adj_gradcheck(check_fn, NULL, 1, &in, NULL, &rep) != ADJ_OK || !rep.passed) {
        fprintf(stderr, "custom_op: gradient check failed: %s (max rel err %g)\n", rep.message,
                rep.max_rel_err);
        return 1;
    }
    printf("gradient check passed: max relative error %.2g over %zu elements\n", rep.max_rel_err,
           rep.inputs[0].numel);

    /* a 1-16-1 network with softsign hidden units fits sin(2x) */
    enum { N = 64, H = 16 };
    double X[N], Y[N];
    for (int i = 0; i < N; i++) {
        X[i] = -1.5 + 3.0 * i / (N - 1);
        Y[i] = sin(2 * X[i]);
    }
    adj_params *p = adj_params_new(ADJ_F64);
    int w1 = adj_params_add(p, "w1", 2, (int64_t[]){H, 1}), b1 = adj_params_add(p, "b1", 1, (int64_t[]){H});
    int w2 = adj_params_add(p, "w2", 2, (int64_t[]){1, H}), b2 = adj_params_add(p, "b2", 1, (int64_t[]){1});
    adj_rng rng;
    adj_rng_seed(&rng, 7);
    double *w = adj_params_values(p);
    for (size_t i = 0; i < adj_params_numel(p); i++)
        w[i] = adj_rng_normal(&rng) * 0.8;
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    oc.lr = 0.02;
    adj_optim *opt = adj_optim_new(p, &oc, NULL);
    adj_tape *t = adj_tape_new();
    double loss = NAN;
    for (int s = 0; s < steps; s++) {
        adj_tape_reset(t);
        adj_params_zero_grad(p);
        adj_var *x = adj_constant_f64(t, 2, (int64_t[]){N, 1}, X);
        adj_var *y = adj_constant_f64(t, 2, (int64_t[]){N, 1}, Y);
        adj_var *h = softsign(adj_linear(x, adj_param(t, p, w1), adj_param(t, p, b1)));
        adj_var *l = adj_mse(adj_linear(h, adj_param(t, p, w2), adj_param(t, p, b2)), y);
        if (adj_backward(l) != ADJ_OK) {
            fprintf(stderr, "custom_op: %s\n", adj_tape_message(t));
            return 1;
        }
        loss = adj_item(l);
        adj_optim_step(opt);
        if (s % 500 == 0)
            printf("step %4d  mse %.5f\n", s, loss);
    }
    printf("step %4d  mse %.5f\n", steps, loss);

    /* the last step's tape, with softsign printed like a built-in op */
    adj_tape_reset(t);
    adj_var *x0 = adj_scalar(t, 0.5);
    adj_var_set_name(x0, "x");
    adj_var *y0 = softsign(x0);
    adj_backward(y0);
    adj_tape_print(t, stdout);
    printf("d softsign/dx at 0.5 = %.6f (1/(1.5)^2 = %.6f)\n", adj_grad_item(x0), 1 / 2.25);

    /* twice: the first derivative as a recorded var (graph_backward's ops),
     * then its own derivative */
    adj_tape_reset(t);
    adj_var *xs2 = adj_scalar(t, 0.5), *d1, *d2;
    adj_backward_opts graph = {.create_graph = 1};
    if (adj_grad(softsign(xs2), 1, &xs2, &d1, &graph) != ADJ_OK ||
        adj_grad(d1, 1, &xs2, &d2, NULL) != ADJ_OK) {
        fprintf(stderr, "custom_op: %s\n", adj_tape_message(t));
        return 1;
    }
    double want2 = -2 / (1.5 * 1.5 * 1.5);
    printf("softsign'(0.5) = %.6f, softsign''(0.5) = %.6f (-2/(1.5)^3 = %.6f)\n", adj_item(d1),
           adj_item(d2), want2);
    if (fabs(adj_item(d2) - want2) > 1e-12 || fabs(adj_item(d1) - 1 / 2.25) > 1e-12)
        return 1;

    adj_tape_free(t);
    adj_optim_free(opt);
    adj_params_free(p);
    return loss < 0.01 ? 0 : 1;
}
