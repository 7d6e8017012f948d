/* E15. The regression target y = x0² + 3x0x1 + x1² + 5 and its gradient,
 * by backward and by forward mode.  The tape is in src/teach/notes.c;
 * examples/regression.c fits an MLP to it. */
#include "notes_main.h"

static void extra(const adj_example *ex, const double *k)
{
    (void)k;
    static const double pts[2][2] = {{1, 2}, {-1, 0.5}};
    adj_tape *t = adj_tape_new();
    for (int i = 0; i < 2; i++) {
        adj_var *y = run_on(t, ex, pts[i]);
        printf("at (%g, %g): y = %g, ∇y = (%g, %g) = (2x0 + 3x1, 3x0 + 2x1); forward mode "
               "(%g, %g)\n",
               pts[i][0], pts[i][1], adj_item(y), grad(t, "x0", 0), grad(t, "x1", 0),
               adj_jvp_item(y, adj_tape_find(t, "x0"), 1), adj_jvp_item(y, adj_tape_find(t, "x1"), 1));
    }
    adj_tape_free(t);
}

int main(int argc, char **argv) { return notes_main("e15", extra, argc, argv); }
