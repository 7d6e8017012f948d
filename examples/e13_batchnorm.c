/* E13. Batch normalisation of one unit over a batch of 4, composed from
 * primitive ops (mean, sub, square, sqrt, div, mul, add).  The tape is in
 * src/teach/notes.c. */
#include "notes_main.h"

static void extra(const adj_example *ex, const double *k)
{
    adj_tape *t = adj_tape_new();
    run_on(t, ex, k);
    double s = 0;
    for (int i = 0; i < 4; i++)
        s += grad(t, "z", (size_t)i);
    printf("μ = %g, σ² = %g; ∂C/∂γ = %.10f, ∂C/∂β = %.10f\n", val(t, "μ", 0), val(t, "σ²", 0),
           grad(t, "γ", 0), grad(t, "β", 0));
    printf("∂C/∂z = (%.10f, %.10f, %.10f, %.10f), sum %.3g (normalising removes the mean)\n",
           grad(t, "z", 0), grad(t, "z", 1), grad(t, "z", 2), grad(t, "z", 3), s);
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e13", extra, argc, argv); }
