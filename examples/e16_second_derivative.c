/* E16. f(x) = exp(x²) differentiated twice: f′ recorded as a graph by the
 * backward sweep (create_graph), then differentiated again.  The tape is in
 * src/teach/notes.c. */
#include "notes_main.h"

#include <math.h>

/* f′ and f″ at three points: the recorded gradient and its own gradient,
 * f″ again by forward mode over the recorded gradient, and the formulas */
static void extra(const adj_example *ex, const double *k)
{
    (void)k;
    adj_tape *t = adj_tape_new();
    printf("   x   f' = 2x exp(x²)   f'' backward    f'' forward    (2 + 4x²) exp(x²)\n");
    const double xs[3] = {0.5, 1, 2};
    for (int i = 0; i < 3; i++) {
        adj_var *fp = run_on(t, ex, &xs[i]);
        adj_var *x = adj_tape_find(t, "x");
        double e = exp(xs[i] * xs[i]);
        printf("%4g  %15.10f  %14.10f  %14.10f  %14.10f\n", xs[i], adj_item(fp), adj_grad_item(x),
               adj_jvp_item(fp, x, 1.0), (2 + 4 * xs[i] * xs[i]) * e);
    }
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e16", extra, argc, argv); }
