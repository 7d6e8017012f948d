/* E1. f(x) = exp(x²): the first chain rule.  The tape is in src/teach/notes.c. */
#include "notes_main.h"

#include <math.h>

/* f' = 2x exp(x²) three ways: backward, forward mode, and the formula */
static void extra(const adj_example *ex, const double *k)
{
    (void)k;
    adj_tape *t = adj_tape_new();
    printf("   x        f            f' backward    f' forward     2x exp(x²)\n");
    const double xs[3] = {0.5, 1, 2};
    for (int i = 0; i < 3; i++) {
        adj_var *f = run_on(t, ex, &xs[i]);
        adj_var *x = adj_tape_find(t, "x");
        printf("%5g  %12.10f  %13.10f  %13.10f  %13.10f\n", xs[i], adj_item(f), adj_grad_item(x),
               adj_jvp_item(f, x, 1.0), 2 * xs[i] * exp(xs[i] * xs[i]));
    }
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e01", extra, argc, argv); }
