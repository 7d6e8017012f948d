/* E11. A linear model cannot do XOR: least squares by gradient descent on
 * the tape, for XOR, OR and AND.  The tape is in src/teach/notes.c. */
#include "notes_main.h"

static void extra(const adj_example *ex, const double *k)
{
    (void)k;
    static const char *const names[3] = {"XOR", "OR", "AND"};
    adj_tape *t = adj_tape_new();
    for (int tg = 0; tg < 3; tg++) {
        double kk[4] = {tg, 0, 0, 0};
        int it;
        for (it = 0; it < 20000; it++) {
            run_on(t, ex, kk);
            double g0 = grad(t, "θ", 0), g1 = grad(t, "θ", 1), g2 = grad(t, "θ", 2);
            kk[1] -= 0.2 * g0;
            kk[2] -= 0.2 * g1;
            kk[3] -= 0.2 * g2;
            if (g0 * g0 + g1 * g1 + g2 * g2 < 1e-26)
                break;
        }
        run_on(t, ex, kk);
        printf("%-3s θ = (%.6f, %.6f, %.6f) after %d steps, predictions (%.4f, %.4f, %.4f, %.4f)\n",
               names[tg], kk[1], kk[2], kk[3], it, val(t, "Xθ", 0), val(t, "Xθ", 1),
               val(t, "Xθ", 2), val(t, "Xθ", 3));
    }
    printf("for XOR the best line predicts 0.5 everywhere.\n");
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e11", extra, argc, argv); }
