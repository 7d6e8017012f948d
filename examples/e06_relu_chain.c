/* E6. ReLU → tanh → sigmoid → identity: active, inactive, at the kink.
 * The tape is in src/teach/notes.c. */
#include "notes_main.h"

static void extra(const adj_example *ex, const double *k)
{
    static const char *const cases[3] = {"active", "inactive", "kink"};
    adj_tape *t = adj_tape_new();
    for (int c = 0; c < 3; c++) {
        double kk[2] = {c, k[1]};
        adj_var *C = run_on(t, ex, kk);
        printf("%-8s C = %.10f  ζ4..ζ1 = (%.10f, %.10f, %.10f, %.10f)\n", cases[c], adj_item(C),
               grad(t, "a4", 0), grad(t, "a3", 0), grad(t, "a2", 0), grad(t, "a1", 0));
        printf("         ∂C/∂θ4 = %.10f  ∂C/∂θ3 = %.10f  ∂C/∂θ2 = %.10f  ∂C/∂θ1 = (%.10f, %.10f, "
               "%.10f)\n",
               grad(t, "θ4", 0), grad(t, "θ3", 0), grad(t, "θ2", 0), grad(t, "θ1", 0),
               grad(t, "θ1", 1), grad(t, "θ1", 2));
    }
    printf("\nat the kink xᵀθ1 = 0 and ReLU'(0) = 1 (the notes' convention); finite differences\n"
           "are undefined there, and adj_gradcheck reports a kink, not a failure.\n");
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e06", extra, argc, argv); }
