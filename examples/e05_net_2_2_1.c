/* E5. The 2-2-1 network: gradients and one gradient-descent step.  The
 * tape is in src/teach/notes.c. */
#include "notes_main.h"

static void show(const char *name, adj_tape *t, int n, double eta)
{
    printf("  %-3s", name);
    for (int i = 0; i < n; i++)
        printf(" %13.10f", val(t, name, (size_t)i) - eta * grad(t, name, (size_t)i));
    printf("\n");
}

static void extra(const adj_example *ex, const double *k)
{
    adj_tape *t = adj_tape_new();
    run_on(t, ex, k);
    printf("δ2 = ∂C/∂z2 = %.10f, δ1 = ∂C/∂z1 = (%.10f, %.10f)\n", grad(t, "z2", 0),
           grad(t, "z1", 0), grad(t, "z1", 1));
    printf("one step of gradient descent, θ ← θ − η ∂C/∂θ with η = 0.1:\n");
    show("W1", t, 4, 0.1);
    show("b1", t, 2, 0.1);
    show("w2", t, 2, 0.1);
    show("b2", t, 1, 0.1);
    printf("\nerratum: the notes write ∂C/∂w_jk(1) with the hidden activation a_k where the\n"
           "input x_k belongs; dW1 += dZ1ᵀ X above uses x: ∂C/∂W1[j][k] = δ1_j x_k.\n");
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e05", extra, argc, argv); }
