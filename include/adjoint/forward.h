/*
 * adjoint/forward.h — forward mode on a recorded tape.
 *
 * Backward computes a vector-Jacobian product (Jᵀ r) for every input at
 * once; forward mode computes one Jacobian-vector product J v: a tangent
 * (a direction for some inputs) is pushed through the recorded nodes in
 * recording order, each op applying its tangent rule (for y = exp(x):
 * dy = dx · y).  Both walk the same tape, so they agree:
 * ⟨r, J v⟩ = ⟨Jᵀ r, v⟩ for all r, v.
 *
 *     adj_var *x = adj_scalar(t, 1.0);
 *     adj_var *f = adj_sqrt(adj_add(adj_square(x), adj_exp(adj_square(x))));
 *     double df = adj_jvp_item(f, x, 1.0);      // f'(1) = 1.9282846855
 *
 * Forward mode leaves every value and adjoint of the tape untouched.
 */
#ifndef ADJOINT_FORWARD_H
#define ADJOINT_FORWARD_H

#include "core.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * dy = J v: the directional derivative of y (any shape) when node wrt[i]
 * moves along v[i] (numel(wrt[i]) doubles) for i < n, and every other leaf
 * stays fixed.  A seeded node that is not a leaf takes v[i] as its tangent
 * in place of the one its inputs would give it.  Writes numel(y) doubles
 * to `out`.  Temporary memory (about the size of the tape's values) comes
 * from the tape's allocator and is freed before returning.
 * Errors: the tape's sticky error if it has one; ADJ_EINVAL for NULL
 * arguments, ADJ_ETAPE for vars of another tape or from before a reset,
 * ADJ_ENOMEM (these are also recorded on the tape).
 */
ADJ_API adj_status adj_jvp(adj_var *y, int n, adj_var *const *wrt, const double *const *v,
                           double *out);

/* dy/dx · dx for one-element y and x (x's tangent dx, all else fixed).
 * NaN on any error (see adj_tape_message). */
ADJ_API double adj_jvp_item(adj_var *y, adj_var *x, double dx);

/*
 * Forward-mode check of one op of the op table, on the same shape cases
 * and input domains as adj_gradcheck_op (adjoint/check.h): with random
 * inputs x, a random direction v (one tensor per input) and a random
 * weighting R of the output, it compares
 *     jvp      = ⟨R, J v⟩                 forward mode (the op's tangent rule)
 *     vjp      = ⟨Jᵀ R, v⟩                backward (the op's adjoint rule)
 *     numeric  = (g(h) - g(-h)) / 2h,  g(s) = ⟨R, op(x + s v)⟩ in double.
 * `dtype` is the dtype of the forward and backward passes.
 */
typedef struct adj_jvpcheck_report {
    adj_status status;    /* ADJ_OK unless the op could not be run */
    char message[256];
    double jvp, vjp, numeric;
    double err_vjp;       /* |jvp - vjp| / (1 + |vjp|) */
    double err_numeric;   /* |jvp - numeric| / (1 + |numeric|) */
    int passed;           /* both errors within the dtype's tolerance */
} adj_jvpcheck_report;

ADJ_API adj_status adj_jvpcheck_op(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                                   adj_jvpcheck_report *report);

#ifdef __cplusplus
}
#endif
#endif
