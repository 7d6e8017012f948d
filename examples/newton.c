/*
 * Newton's method for logistic regression, in double.
 *
 * The loss of weights w (three features and a bias) on n labelled points
 *     L(w) = mean_i [softplus(z_i) - y_i z_i] + (lambda/2) |w|^2,  z = X w
 * is convex, and Newton's method minimises it with the step
 *     w <- w - H^-1 g,   g = grad L(w),  H = Hessian of L at w.
 * Both come from adjoint: adj_grad with create_graph records g as vars
 * of the tape (the backward sweep written as ops), and differentiating
 * each component g_j again gives row j of H.  A Cholesky solve takes the
 * step.  Near the minimum the gradient norm is roughly squared at every
 * step (quadratic convergence: |g_k+1| / |g_k|^2 stays bounded), so a
 * handful of steps reach rounding level; gradient descent on the same
 * problem, with the step 1/L that its convergence needs, takes thousands.
 *
 *     ./newton            # prints both runs; exits 1 if Newton fails to converge
 */
#include <adjoint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 400, D = 4 }; /* points, weights (3 features + bias) */

typedef struct problem {
    double x[N * D], y[N], lambda;
} problem;

/* Points from a noisy linear model: features ~ U(-2, 2), label 1 with
 * probability sigmoid(1.5 x0 - 2 x1 + 0.5 x2 + 0.3). */
static void make_problem(problem *p)
{
    adj_rng rng;
    adj_rng_seed(&rng, 42);
    const double wt[D] = {1.5, -2.0, 0.5, 0.3};
    for (int i = 0; i < N; i++) {
        double z = wt[3];
        for (int j = 0; j < 3; j++) {
            p->x[i * D + j] = adj_rng_uniform_range(&rng, -2, 2);
            z += wt[j] * p->x[i * D + j];
        }
        p->x[i * D + 3] = 1.0;
        p->y[i] = adj_rng_uniform_range(&rng, 0, 1) < 1 / (1 + exp(-z)) ? 1.0 : 0.0;
    }
    p->lambda = 1e-3;
}

/* L(w) on tape t, w a (D, 1) var */
static adj_var *loss(adj_tape *t, const problem *p, adj_var *w)
{
    adj_var *x = adj_constant_view(t, ADJ_F64, 2, (int64_t[]){N, D}, p->x);
    adj_var *y = adj_constant_view(t, ADJ_F64, 2, (int64_t[]){N, 1}, p->y);
    adj_var *data = adj_bce_with_logits(adj_matmul(x, w), y);
    return adj_add(data, adj_scale(adj_sum(adj_square(w)), p->lambda / 2));
}

/* L, g and (if h is not NULL) H at w; 0 on success */
static int evaluate(adj_tape *t, const problem *p, const double *w, double *l, double *g, double *h)
{
    adj_tape_reset(t);
    adj_var *wv = adj_tensor_f64(t, 2, (int64_t[]){D, 1}, w);
    adj_var *lv = loss(t, p, wv), *gv;
    adj_backward_opts graph = {.create_graph = 1};
    /* g as vars of the tape: the gradient's own graph */
    if (adj_grad(lv, 1, &wv, &gv, h ? &graph : NULL) != ADJ_OK || adj_copy_value(gv, g) != ADJ_OK)
        return 1;
    *l = adj_item(lv);
    for (int j = 0; h && j < D; j++) {
        /* row j of H: the gradient of g_j, differentiated through the sweep */
        adj_var *gj = adj_select(adj_reshape(gv, 1, (int64_t[]){D}), 0, j), *row;
        if (adj_grad(gj, 1, &wv, &row, NULL) != ADJ_OK || adj_copy_value(row, h + j * D) != ADJ_OK)
            return 1;
    }
    return adj_tape_status(t) != ADJ_OK;
}

/* Solve H s = g for symmetric positive definite H (Cholesky); 0 on success */
static int solve(const double *h, const double *g, double *s)
{
    double l[D * D] = {0}, z[D];
    for (int i = 0; i < D; i++)
        for (int j = 0; j <= i; j++) {
            double a = h[i * D + j];
            for (int k = 0; k < j; k++)
                a -= l[i * D + k] * l[j * D + k];
            if (i == j) {
                if (a <= 0)
                    return 1;
                l[i * D + i] = sqrt(a);
            } else {
                l[i * D + j] = a / l[j * D + j];
            }
        }
    for (int i = 0; i < D; i++) { /* L z = g */
        double a = g[i];
        for (int k = 0; k < i; k++)
            a -= l[i * D + k] * z[k];
        z[i] = a / l[i * D + i];
    }
    for (int i = D; i-- > 0;) { /* L^T s = z */
        double a = z[i];
        for (int k = i + 1; k < D; k++)
            a -= l[k * D + i] * s[k];
        s[i] = a / l[i * D + i];
    }
    return 0;
}

static double norm(const double *v)
{
    double s = 0;
    for (int i = 0; i < D; i++)
        s += v[i] * v[i];
    return sqrt(s);
}

int main(void)
{
    static problem p;
    make_problem(&p);
    adj_tape *t = adj_tape_new();
    if (!t)
        return 1;
    double w[D] = {0}, g[D], h[D * D], s[D], l;

    printf("Newton's method (gradient and Hessian by adjoint, a Cholesky solve per step)\n");
    printf("iter  loss                |grad|      |grad| / |previous grad|^2\n");
    int newton_iters = -1;
    double prev = 0;
    for (int k = 0; k <= 20; k++) {
        if (evaluate(t, &p, w, &l, g, h)) {
            fprintf(stderr, "newton: %s\n", adj_tape_message(t));
            return 1;
        }
        double gn = norm(g);
        if (k == 0)
            printf("%4d  %.15f  %.3e\n", k, l, gn);
        else
            printf("%4d  %.15f  %.3e   %.3g\n", k, l, gn, gn / (prev * prev));
        prev = gn;
        if (gn < 1e-12) {
            newton_iters = k;
            break;
        }
        if (solve(h, g, s)) {
            fprintf(stderr, "newton: the Hessian is not positive definite\n");
            return 1;
        }
        for (int i = 0; i < D; i++)
            w[i] -= s[i];
    }
    printf("weights: %.6f %.6f %.6f, bias %.6f\n\n", w[0], w[1], w[2], w[3]);

    /* gradient descent with step 1/L, L >= the largest eigenvalue of H
     * anywhere: sigmoid' <= 1/4, so L = trace(X^T X) / (4 n) + lambda */
    double tr = 0;
    for (int i = 0; i < N * D; i++)
        tr += p.x[i] * p.x[i];
    const double step = 1 / (tr / (4.0 * N) + p.lambda);
    double v[D] = {0};
    printf("gradient descent, step 1/L = %.4f\n", step);
    printf("iter   loss                |grad|\n");
    int gd_iters = -1;
    for (int k = 0; k <= 100000; k++) {
        if (evaluate(t, &p, v, &l, g, NULL)) {
            fprintf(stderr, "newton: %s\n", adj_tape_message(t));
            return 1;
        }
        double gn = norm(g);
        int report = k < 10 || k == 30 || k == 100 || k == 300 || k % 1000 == 0;
        if (gn < 1e-8) {
            gd_iters = k;
            report = 1;
        }
        if (report)
            printf("%5d  %.15f  %.3e\n", k, l, gn);
        if (gd_iters >= 0)
            break;
        for (int i = 0; i < D; i++)
            v[i] -= step * g[i];
    }
    printf("\nNewton: |grad| < 1e-12 after %d steps; gradient descent: |grad| < 1e-8 after %d\n",
           newton_iters, gd_iters);
    adj_tape_free(t);
    /* the example fails (for its smoke test) if Newton did not converge
     * quadratically within a few steps, or did not beat gradient descent */
    return newton_iters < 0 || newton_iters > 10 || (gd_iters >= 0 && gd_iters <= newton_iters);
}
