/*
 * A gradient penalty: training with a derivative inside the loss.
 *
 * A 2-32-32-1 tanh network f fits noisy samples of a function of two
 * variables.  With the penalty
 *     loss = mse(f(X), Y) + mu mean_i |grad_x f(x_i)|^2
 * (a soft Lipschitz constraint, as in gradient-penalised GANs and
 * Jacobian regularisation) the network is also asked to be flat in x.
 * The input gradients come from adj_grad with create_graph, so they are
 * vars recorded on the tape; adj_backward on the loss then differentiates
 * through them (double backward) into the parameters' gradients.
 *
 * First the penalised loss's gradient is checked against central finite
 * differences (adj_gradcheck), then the network is trained twice, without
 * and with the penalty, and the mean |grad_x f|^2 on fresh points
 * compared: the penalty lowers it (a smoother fit).
 *
 *     ./grad_penalty [steps]     # exits 1 if a check fails
 */
#include <adjoint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 64, M = 256, H = 32 };

static double target(double a, double b) { return sin(3 * a) * cos(2 * b) + 0.3 * a; }

/* y = W3 tanh(W2 tanh(W1 x + b1) + b2) + b3 for the rows of x */
static adj_var *net(adj_var *const *w, adj_var *x)
{
    adj_var *h = adj_tanh(adj_linear(x, w[0], w[1]));
    h = adj_tanh(adj_linear(h, w[2], w[3]));
    return adj_linear(h, w[4], w[5]);
}

/* mse(f(X), Y) + mu mean_i |grad_x f(x_i)|^2; *pen (if not NULL) gets
 * the penalty's value.  x must want a gradient. */
static adj_var *penalised(adj_var *const *w, adj_var *x, adj_var *y, double mu, double *pen)
{
    adj_var *f = net(w, x);
    adj_var *loss = adj_mse(f, y);
    if (mu == 0 && !pen)
        return loss;
    /* the rows of x are independent, so the gradient of sum_i f(x_i) with
     * respect to x holds every grad_x f(x_i) (row i) */
    adj_var *gx;
    adj_backward_opts graph = {.create_graph = 1};
    if (adj_grad(adj_sum(f), 1, &x, &gx, &graph) != ADJ_OK)
        return NULL;
    adj_var *p = adj_mean(adj_sum_axis(adj_square(gx), 1));
    if (pen)
        *pen = adj_item(p);
    return mu == 0 ? loss : adj_add(loss, adj_scale(p, mu));
}

typedef struct data {
    double x[N * 2], y[N], xt[M * 2];
} data;

/* ---------------------------------------------- the check of the gradient */

typedef struct check_ctx {
    const data *d;
    const double *w[6];
    int64_t shape[6][2];
} check_ctx;

/* the penalised loss as a function of the first layer's weights */
static adj_var *check_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    check_ctx *c = user;
    adj_var *w[6];
    w[0] = in[0];
    for (int k = 1; k < 6; k++)
        w[k] = adj_constant_f64(t, c->shape[k][1] ? 2 : 1, c->shape[k], c->w[k]);
    adj_var *x = adj_tensor_f64(t, 2, (int64_t[]){N, 2}, c->d->x);
    adj_var *y = adj_constant_f64(t, 2, (int64_t[]){N, 1}, c->d->y);
    return penalised(w, x, y, 0.5, NULL);
}

/* ------------------------------------------------------------- training */

/* Train from the same initial weights with penalty weight mu; returns the
 * mean |grad_x f|^2 over the fresh points (NaN on an error) and the final
 * mse in *mse. */
static double train(const data *d, double mu, int steps, double *mse)
{
    adj_params *p = adj_params_new(ADJ_F64);
    const int64_t shapes[6][2] = {{H, 2}, {H, 0}, {H, H}, {H, 0}, {1, H}, {1, 0}};
    adj_rng rng;
    adj_rng_seed(&rng, 7);
    static const char *const names[6] = {"w1", "b1", "w2", "b2", "w3", "b3"};
    for (int k = 0; k < 6; k++)
        adj_params_add(p, names[k], shapes[k][1] ? 2 : 1, shapes[k]);
    for (int k = 0; k < 6; k++) { /* weights N(0, 1/fan_in), biases 0 */
        double *v = adj_params_value(p, k);
        for (size_t j = 0; shapes[k][1] && j < adj_params_tensor_numel(p, k); j++)
            v[j] = adj_rng_normal(&rng) / sqrt((double)shapes[k][1]);
    }
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    oc.lr = 0.01;
    adj_optim *opt = adj_optim_new(p, &oc, NULL);
    adj_tape *t = adj_tape_new();
    double result = NAN;
    for (int s = 0; opt && t && s <= steps; s++) {
        adj_tape_reset(t);
        adj_var *w[6];
        for (int k = 0; k < 6; k++)
            w[k] = adj_param(t, p, k);
        adj_var *x = adj_tensor_f64(t, 2, (int64_t[]){N, 2}, d->x);
        adj_var *y = adj_constant_f64(t, 2, (int64_t[]){N, 1}, d->y);
        double pen = 0;
        adj_var *l = penalised(w, x, y, mu, &pen);
        adj_params_zero_grad(p);
        if (!l || adj_backward(l) != ADJ_OK) {
            fprintf(stderr, "grad_penalty: %s\n", adj_tape_message(t));
            goto done;
        }
        if (s % (steps / 5) == 0)
            printf("  step %4d  loss %.5f  mean |grad_x f|^2 %.4f\n", s, adj_item(l), pen);
        if (s < steps)
            adj_optim_step(opt);
    }
    /* on fresh points: the mse against the target and the mean |grad_x f|^2 */
    {
        adj_tape_reset(t);
        adj_var *w[6];
        for (int k = 0; k < 6; k++)
            w[k] = adj_param(t, p, k);
        double yt[M];
        for (int i = 0; i < M; i++)
            yt[i] = target(d->xt[2 * i], d->xt[2 * i + 1]);
        adj_var *x = adj_tensor_f64(t, 2, (int64_t[]){M, 2}, d->xt);
        adj_var *y = adj_constant_f64(t, 2, (int64_t[]){M, 1}, yt);
        double pen = NAN;
        adj_var *l = penalised(w, x, y, 0, &pen);
        if (adj_tape_status(t) == ADJ_OK) {
            *mse = adj_item(l);
            result = pen;
        }
    }
done:
    adj_tape_free(t);
    adj_optim_free(opt);
    adj_params_free(p);
    return result;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 1000;
    if (steps < 5)
        steps = 5;
    static data d;
    adj_rng rng;
    adj_rng_seed(&rng, 3);
    for (int i = 0; i < N; i++) {
        d.x[2 * i] = adj_rng_uniform_range(&rng, -1, 1);
        d.x[2 * i + 1] = adj_rng_uniform_range(&rng, -1, 1);
        d.y[i] = target(d.x[2 * i], d.x[2 * i + 1]) + 0.1 * adj_rng_normal(&rng);
    }
    for (int i = 0; i < 2 * M; i++)
        d.xt[i] = adj_rng_uniform_range(&rng, -1, 1);

    /* the penalised loss's gradient with respect to W1, which reaches W1
     * both through f and through grad_x f, against finite differences */
    check_ctx c = {.d = &d};
    const int64_t shapes[6][2] = {{H, 2}, {H, 0}, {H, H}, {H, 0}, {1, H}, {1, 0}};
    static double wv[6][H * H];
    adj_rng_seed(&rng, 11);
    for (int k = 0; k < 6; k++) {
        c.shape[k][0] = shapes[k][0];
        c.shape[k][1] = shapes[k][1] ? shapes[k][1] : 0;
        for (int j = 0; j < shapes[k][0] * (shapes[k][1] ? shapes[k][1] : 1); j++)
            wv[k][j] = 0.5 * adj_rng_normal(&rng);
        c.w[k] = wv[k];
    }
    adj_gradcheck_input in = {.ndim = 2, .shape = {H, 2}, .data = wv[0]};
    adj_gradcheck_report rep;
    if (adj_gradcheck(check_fn, &c, 1, &in, NULL, &rep) != ADJ_OK || !rep.passed) {
        fprintf(stderr, "grad_penalty: the gradient check failed: %s (worst relative error %.3g)\n",
                rep.message, rep.max_rel_err);
        return 1;
    }
    printf("gradient of the penalised loss with respect to W1 (through grad_x f): "
           "matches finite differences, worst relative error %.2g\n\n", rep.max_rel_err);

    double mse0, mse1;
    printf("training without the penalty (mu = 0):\n");
    double g0 = train(&d, 0.0, steps, &mse0);
    printf("training with the penalty (mu = 0.1):\n");
    double g1 = train(&d, 0.1, steps, &mse1);
    if (isnan(g0) || isnan(g1))
        return 1;
    printf("\non %d fresh points    mse against the target    mean |grad_x f|^2\n", M);
    printf("  without penalty     %.4f                    %.4f\n", mse0, g0);
    printf("  with penalty        %.4f                    %.4f\n", mse1, g1);
    return g1 < g0 ? 0 : 1;
}
