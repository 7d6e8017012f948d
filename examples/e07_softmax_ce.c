/* E7. Softmax, its Jacobian (by forward mode) and softmax cross-entropy.
 * The tape is in src/teach/notes.c. */
#include "notes_main.h"

static void extra(const adj_example *ex, const double *k)
{
    adj_tape *t = adj_tape_new();
    for (int c = 1; c <= 3; c++) {
        double kk[4] = {c, k[1], k[2], k[3]};
        adj_var *C = run_on(t, ex, kk);
        printf("class %d: C = %.10f  ∂C/∂z = (%.10f, %.10f, %.10f)\n", c, adj_item(C),
               grad(t, "z", 0), grad(t, "z", 1), grad(t, "z", 2));
    }
    adj_var *p = adj_tape_find(t, "p"), *z = adj_tape_find(t, "z");
    printf("softmax(z) = (%.10f, %.10f, %.10f)\n", adj_value_at(p, 0), adj_value_at(p, 1),
           adj_value_at(p, 2));
    printf("Jacobian ∂p/∂z, column j = forward mode along e_j:\n");
    double J[3][3];
    for (int j = 0; j < 3; j++) {
        double e[3] = {0, 0, 0}, col[3];
        const double *v = e;
        e[j] = 1;
        if (adj_jvp(p, 1, &z, &v, col) != ADJ_OK)
            break;
        for (int i = 0; i < 3; i++)
            J[i][j] = col[i];
    }
    for (int i = 0; i < 3; i++)
        printf("  [%13.10f %13.10f %13.10f]\n", J[i][0], J[i][1], J[i][2]);
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e07", extra, argc, argv); }
