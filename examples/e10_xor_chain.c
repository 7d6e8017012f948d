/* E10. The XOR network of the introductory chapter: the forward table of
 * the three weight sets and one gradient step on example (1,0).  The tape
 * is in src/teach/notes.c; examples/xor.c trains the network. */
#include "notes_main.h"

static void extra(const adj_example *ex, const double *k)
{
    (void)k;
    static const char *const nets[3] = {"sigmoid (signs restored)", "ReLU as printed",
                                        "trained ReLU"};
    static const double in[4][3] = {{1, 0, 1}, {0, 0, 0}, {0, 1, 1}, {1, 1, 0}};
    adj_tape *t = adj_tape_new();
    for (int net = 0; net < 3; net++) {
        double sum = 0;
        printf("%-26s", nets[net]);
        for (int i = 0; i < 4; i++) {
            double kk[4] = {in[i][0], in[i][1], in[i][2], net};
            adj_var *L = run_on(t, ex, kk);
            double y = net == 0 ? val(t, "y", 0) : val(t, "o", 0);
            printf("  y(%g,%g) = %-10.6g", in[i][0], in[i][1], y);
            sum += adj_item(L);
        }
        printf("  summed loss %.6g\n", sum);
    }
    double kk[4] = {1, 0, 1, 0};
    run_on(t, ex, kk);
    printf("\nsigmoid network, example (1,0): δ = ∂L/∂o = %.6f\n", grad(t, "o", 0));
    printf("∂L/∂U = (%.6f, %.6f, %.6f)\n", grad(t, "U", 0), grad(t, "U", 1), grad(t, "U", 2));
    printf("∂L/∂W = [[%.6f, %.6f, %.6f], [%.6f, %.6f, %.6f]]\n", grad(t, "W", 0), grad(t, "W", 1),
           grad(t, "W", 2), grad(t, "W", 3), grad(t, "W", 4), grad(t, "W", 5));
    printf("after one step with learning rate 1: U = (%.6f, %.6f, %.6f)\n",
           val(t, "U", 0) - grad(t, "U", 0), val(t, "U", 1) - grad(t, "U", 1),
           val(t, "U", 2) - grad(t, "U", 2));
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e10", extra, argc, argv); }
