/*
 * The regression exercise (lecture notes E15): fit
 *     y = x0^2 + 3 x0 x1 + x1^2 + 5
 * from 100 samples with a small MLP.  Also shows the tape computing the
 * function's own gradient, (8, 7) at (1, 2).
 *
 *     ./regression [seed]
 */
#include <adjoint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double regression_target(double x0, double x1)
{
    return x0 * x0 + 3 * x0 * x1 + x1 * x1 + 5;
}

/* The function on the tape: its gradient by adj_backward. */
static void regression_gradient(double x0, double x1, double g[2])
{
    adj_tape *t = adj_tape_new();
    adj_var *a = adj_scalar(t, x0), *b = adj_scalar(t, x1);
    adj_var *y = adj_add(adj_add(adj_square(a), adj_scale(adj_mul(a, b), 3)),
                         adj_add(adj_square(b), adj_scalar(t, 5)));
    adj_backward(y);
    g[0] = adj_grad_item(a);
    g[1] = adj_grad_item(b);
    adj_tape_free(t);
}

/* Fit 100 samples x ~ U(-1, 1)^2 with a 2-32-32-1 tanh network; the root
 * mean squared error on the training set and on 400 fresh points go to
 * rmse[0], rmse[1]; the network's input gradient at (0.5, -0.5) to g. */
static int regression_fit(uint64_t seed, int steps, int verbose, double rmse[2], double g[2])
{
    enum { N = 100, M = 400 };
    double X[2 * N], Y[N], Xt[2 * M], Yt[M];
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    for (int i = 0; i < N; i++) {
        X[2 * i] = adj_rng_uniform_range(&rng, -1, 1);
        X[2 * i + 1] = adj_rng_uniform_range(&rng, -1, 1);
        Y[i] = regression_target(X[2 * i], X[2 * i + 1]);
    }
    for (int i = 0; i < M; i++) {
        Xt[2 * i] = adj_rng_uniform_range(&rng, -1, 1);
        Xt[2 * i + 1] = adj_rng_uniform_range(&rng, -1, 1);
        Yt[i] = regression_target(Xt[2 * i], Xt[2 * i + 1]);
    }
    int64_t sizes[] = {2, 32, 32, 1};
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = ADJ_F64;
    c.init = ADJ_INIT_XAVIER_NORMAL;
    adj_mlp_config_set_sizes(&c, 4, sizes, ADJ_ACT_TANH);
    adj_error err;
    adj_mlp *m = adj_mlp_new(&c, &rng, &err);
    if (!m) {
        fprintf(stderr, "regression: %s\n", err.message);
        return 1;
    }
    /* the output layer starts at the targets' mean, 5-ish */
    ((double *)adj_params_value(adj_mlp_params(m), adj_mlp_dense(m, 2)->bias))[0] = 5.0;
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    oc.lr = 0.01;
    adj_optim *opt = adj_optim_new(adj_mlp_params(m), &oc, NULL);
    adj_tape *t = adj_tape_new();
    adj_lr_schedule sched = {
        .kind = ADJ_LR_COSINE, .base_lr = 0.01, .total = steps, .min_lr = 1e-5};
    int rc = opt && t ? 0 : 1;
    int64_t xs[2] = {N, 2}, ys[2] = {N, 1};
    for (int s = 0; s < steps && rc == 0; s++) {
        adj_tape_reset(t);
        adj_var *y = adj_mlp_forward(m, adj_constant_f64(t, 2, xs, X));
        adj_var *l = adj_mse(y, adj_constant_f64(t, 2, ys, Y));
        adj_params_zero_grad(adj_mlp_params(m));
        if (adj_backward(l) != ADJ_OK) {
            fprintf(stderr, "regression: %s\n", adj_tape_message(t));
            rc = 1;
            break;
        }
        rmse[0] = sqrt(adj_item(l));
        if (verbose && (s % 500 == 0 || s == steps - 1))
            printf("step %5d  training rmse %.5f\n", s, rmse[0]);
        adj_optim_set_lr(opt, adj_lr_at(&sched, s));
        adj_optim_step(opt);
    }
    if (rc == 0) {
        adj_tape_reset(t);
        int64_t ts[2] = {M, 2}, tys[2] = {M, 1};
        adj_var *y = adj_mlp_forward(m, adj_constant_f64(t, 2, ts, Xt));
        rmse[1] = sqrt(adj_item(adj_mse(y, adj_constant_f64(t, 2, tys, Yt))));
        /* d network / d input at one point: the input is a leaf that wants a gradient */
        adj_tape_reset(t);
        int64_t one[2] = {1, 2};
        adj_var *x = adj_tensor_f64(t, 2, one, ((const double[]){0.5, -0.5}));
        adj_var *out = adj_mlp_forward(m, x);
        adj_params_zero_grad(adj_mlp_params(m));
        if (adj_backward(out) != ADJ_OK)
            rc = 1;
        g[0] = adj_grad_at(x, 0);
        g[1] = adj_grad_at(x, 1);
    }
    adj_tape_free(t);
    adj_optim_free(opt);
    adj_mlp_free(m);
    return rc;
}

#ifndef ADJ_EXAMPLE_NO_MAIN
int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    double g[2];
    regression_gradient(1, 2, g);
    printf("grad y at (1, 2) = (%g, %g)\n", g[0], g[1]);
    regression_gradient(-1, 0.5, g);
    printf("grad y at (-1, 0.5) = (%g, %g)\n", g[0], g[1]);
    double rmse[2];
    if (regression_fit(seed, 3000, 1, rmse, g))
        return 1;
    printf("rmse: training %.4f, fresh points %.4f (targets range over about [3, 10])\n", rmse[0],
           rmse[1]);
    printf("network gradient at (0.5, -0.5) = (%.3f, %.3f), true (-0.5, 0.5)\n", g[0], g[1]);
    return 0;
}
#endif
