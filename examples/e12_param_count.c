/* E12. Counting the parameters of an MLP: every leaf that wants a
 * gradient.  The tape is in src/teach/notes.c. */
#include "notes_main.h"

static void extra(const adj_example *ex, const double *k)
{
    (void)k;
    static const char *const names[2] = {"4-5-1", "4-4-3-5-1"};
    adj_tape *t = adj_tape_new();
    for (int a = 0; a < 2; a++) {
        double kk[1] = {a};
        run_on(t, ex, kk);
        size_t n = 0;
        for (size_t id = 0; id < adj_tape_size(t); id++) {
            adj_var *v = adj_tape_node(t, id);
            if (adj_var_op(v) == ADJ_OP_LEAF && adj_requires_grad(v))
                n += adj_numel(v);
        }
        printf("%-10s %zu parameters\n", names[a], n);
    }
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e12", extra, argc, argv); }
