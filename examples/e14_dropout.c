/* E14. Inverted dropout, weight decay, clipping, and the collapse of
 * linear layers.  The dropout tape is in src/teach/notes.c; the rest is
 * computed on a tape here. */
#include "notes_main.h"

#include <math.h>

static void extra(const adj_example *ex, const double *k)
{
    adj_tape *t = adj_tape_new();
    double kk[2] = {1, k[1]};
    run_on(t, ex, kk);
    printf("dropout, training: ã = (%.4f, %.4f, %.4f, %.4f), z = %.6g\n", val(t, "ã", 0),
           val(t, "ã", 1), val(t, "ã", 2), val(t, "ã", 3), val(t, "z", 0));
    kk[0] = 0;
    printf("dropout, inference: z = %.6g\n", adj_item(run_on(t, ex, kk)));

    /* weight decay θ ← (1 − αλ)θ − α∇C */
    adj_tape_reset(t);
    const int64_t two[1] = {2};
    const double th[2] = {1, -2}, g[2] = {0.5, 0.5};
    adj_var *theta = adj_constant_f64(t, 1, two, th), *gc = adj_constant_f64(t, 1, two, g);
    adj_var *step = adj_sub(adj_scale(theta, 1 - 0.1 * 0.01), adj_scale(gc, 0.1));
    printf("weight decay: θ = (%.6g, %.6g)\n", adj_value_at(step, 0), adj_value_at(step, 1));

    /* clipping g = (3, 4) at 1: per coordinate, and by norm g · c / max(|g|, c) */
    const double gd[2] = {3, 4};
    adj_var *gv = adj_constant_f64(t, 1, two, gd);
    adj_var *norm = adj_sqrt(adj_sum(adj_square(gv)));
    double c = 1.0;
    adj_var *byn = adj_item(norm) > c ? adj_scale(adj_div(gv, norm), c) : gv;
    printf("clipping (3, 4) at 1: per coordinate (%g, %g), by norm (%.6g, %.6g)\n", fmin(gd[0], c),
           fmin(gd[1], c), adj_value_at(byn, 0), adj_value_at(byn, 1));

    /* three linear layers collapse to one: W = W3 W2 W1, b = W3 (W2 b1 + b2) + b3 */
    const int64_t s22[2] = {2, 2}, s12[2] = {1, 2}, s1[1] = {1};
    const double W1[4] = {1, 2, 0, 1}, b1[2] = {1, -1}, W2[4] = {2, 0, 1, 1}, b2[2] = {0, 1};
    const double W3[2] = {1, -1}, b3[1] = {0.5}, x[2] = {1, 2};
    adj_var *W1v = adj_constant_f64(t, 2, s22, W1), *W2v = adj_constant_f64(t, 2, s22, W2);
    adj_var *W3v = adj_constant_f64(t, 2, s12, W3), *b1v = adj_constant_f64(t, 1, two, b1);
    adj_var *b2v = adj_constant_f64(t, 1, two, b2), *b3v = adj_constant_f64(t, 1, s1, b3);
    adj_var *xv = adj_constant_f64(t, 1, two, x);
    adj_var *h1 = adj_linear(xv, W1v, b1v), *h2 = adj_linear(h1, W2v, b2v);
    adj_var *h3 = adj_linear(h2, W3v, b3v);
    adj_var *W = adj_matmul(W3v, adj_matmul(W2v, W1v));
    adj_var *b = adj_linear(adj_linear(b1v, W2v, b2v), W3v, b3v);
    printf("identity layers: (%g, %g), (%g, %g), %g; collapsed W = [[%g, %g]], b = %g\n",
           adj_value_at(h1, 0), adj_value_at(h1, 1), adj_value_at(h2, 0), adj_value_at(h2, 1),
           adj_value_at(h3, 0), adj_value_at(W, 0), adj_value_at(W, 1), adj_value_at(b, 0));
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e14", extra, argc, argv); }
