/* d/dx of x*x + sin(x) at x = 2, through an installed adjoint. */
#include <adjoint.h>
#include <math.h>
#include <stdio.h>

int main(void)
{
    adj_tape *t = adj_tape_new();
    if (!t)
        return 1;
    adj_var *x = adj_scalar(t, 2.0);
    adj_var *y = adj_add(adj_mul(x, x), adj_sin(x));
    adj_status s = adj_backward(y);
    double g = adj_grad_item(x), want = 4.0 + cos(2.0);
    printf("dy/dx = %.17g (expected %.17g)\n", g, want);
    int ok = s == ADJ_OK && fabs(g - want) < 1e-15;
    adj_tape_free(t);
    return ok ? 0 : 1;
}
