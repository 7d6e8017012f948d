/* E2. f(x) = √(x² + exp(x²)): intermediates and fan-out (the key example).
 * The tape is in src/teach/notes.c: x, a = x², b = exp(a), c = a + b, f = √c. */
#include "notes_main.h"

static void extra(const adj_example *ex, const double *k)
{
    (void)k;
    adj_tape *t = adj_tape_new();
    printf("the notes' table (adjoints from backward; f' also by forward mode)\n");
    printf("  x     a     b             c             d = f         df/dc = df/db  df/da         "
           "df/dx         forward\n");
    const double xs[3] = {0.5, 1, 2};
    for (int i = 0; i < 3; i++) {
        adj_var *f = run_on(t, ex, &xs[i]);
        printf("%4g  %4g  %12.10f  %12.10f  %12.10f  %12.10f   %12.10f  %12.10f  %12.10f\n", xs[i],
               val(t, "a", 0), val(t, "b", 0), val(t, "c", 0), adj_item(f), grad(t, "c", 0),
               grad(t, "a", 0), grad(t, "x", 0), adj_jvp_item(f, adj_tape_find(t, "x"), 1.0));
    }
    printf("\nthe tape has %zu nodes; a's adjoint = ∂f/∂c · 1 + ∂f/∂b · e^a\n", adj_tape_size(t));
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e02", extra, argc, argv); }
