/* E4. One hidden unit, and the notes' erratum.  The tape is in
 * src/teach/notes.c. */
#include "notes_main.h"

#include <math.h>

static void extra(const adj_example *ex, const double *k)
{
    adj_tape *t = adj_tape_new();
    double kk[ADJ_EXAMPLE_MAX_KNOBS];
    memcpy(kk, k, sizeof kk);
    for (int out = 1; out >= 0; out--) {
        kk[6] = out;
        adj_var *C = run_on(t, ex, kk);
        printf("σ2 = %-8s C = %.10f  ∂C/∂(w1, b1, w2, b2) = (%.10f, %.10f, %.10f, %.10f)\n",
               out ? "sigmoid" : "identity", adj_item(C), grad(t, "w1", 0), grad(t, "b1", 0),
               grad(t, "w2", 0), grad(t, "b2", 0));
    }
    /* The notes' formulas, taken literally, with σ2 = sigmoid */
    kk[6] = 1;
    run_on(t, ex, kk);
    double x = k[0], y = k[1], w2 = k[4], a1 = val(t, "a1", 0), a2 = val(t, "a2", 0);
    double s1 = a1 * (1 - a1), s2 = a2 * (1 - a2);
    printf("\nerratum: the notes write ∂C/∂w1 = (a2-y)σ2'·a1·σ1'·x and ∂C/∂b1 = (a2-y)σ2'σ1'.\n"
           "  literally:  ∂C/∂w1 = %.7f, ∂C/∂b1 = %.7f\n"
           "  with w2:    ∂C/∂w1 = (a2-y)σ2'·w2·σ1'·x = %.10f, ∂C/∂b1 = (a2-y)σ2'·w2·σ1' = %.10f\n"
           "  backward:   ∂C/∂w1 = %.10f, ∂C/∂b1 = %.10f\n"
           "the trace shows the factor: ∂(w2·a1)/∂a1 = w2.\n",
           (a2 - y) * s2 * a1 * s1 * x, (a2 - y) * s2 * s1, (a2 - y) * s2 * w2 * s1 * x,
           (a2 - y) * s2 * w2 * s1, grad(t, "w1", 0), grad(t, "b1", 0));
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e04", extra, argc, argv); }
