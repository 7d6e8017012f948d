/* E9. Activations and their derivatives at u ∈ {−2, −0.5, 0, 0.5, 2}, and
 * the swish erratum.  The tape is in src/teach/notes.c. */
#include "notes_main.h"

#include <math.h>

static void extra(const adj_example *ex, const double *k)
{
    static const char *const names[7] = {"sigmoid", "tanh", "ReLU", "leaky ReLU", "ELU",
                                         "softplus", "swish"};
    static const double us[5] = {-2, -0.5, 0, 0.5, 2};
    adj_tape *t = adj_tape_new();
    for (int a = 1; a <= 6; a++) {
        printf("%-10s", names[a - 1]);
        for (int i = 0; i < 5; i++) {
            double kk[3] = {us[i], a, k[2]};
            printf(" %9.6f", adj_item(run_on(t, ex, kk)));
        }
        printf("\n%-10s", "  '");
        for (int i = 0; i < 5; i++) {
            double kk[3] = {us[i], a, k[2]};
            run_on(t, ex, kk);
            printf(" %9.6f", grad(t, "u", 0));
        }
        printf("\n");
    }
    for (double beta = 1; beta <= 2; beta++) {
        double kk[3] = {1, 7, beta};
        adj_var *f = run_on(t, ex, kk);
        double s = 1 / (1 + exp(-beta)); /* σ(βz) at z = 1 */
        printf("swish z = 1, β = %g: %.6f, derivative %.6f = σ(βz) + βz σ(βz)(1 − σ(βz)) = %.6f\n",
               beta, adj_item(f), grad(t, "u", 0), s + beta * s * (1 - s));
    }
    printf("erratum: one set of notes prints a swish derivative that is wrong for β ≠ 1;\n"
           "it gives 1.349033 at z = 1, β = 2 instead of 1.090784.\n");
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e09", extra, argc, argv); }
