/*
 * adjoint/check.h — gradient checking against finite differences.
 *
 * adj_gradcheck compares the adjoints that backward computes for every
 * element of every input with central finite differences
 *     (f(x + h e_i) - f(x - h e_i)) / 2h
 * evaluated in double.  An element where the two one-sided differences
 * disagree (a kink such as ReLU at 0, |x| at 0) is reported as a kink, not
 * as a failure: the derivative is not defined there.
 */
#ifndef ADJOINT_CHECK_H
#define ADJOINT_CHECK_H

#include "core.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds the scalar being checked from `n` input vars on tape `t`. */
typedef adj_var *(*adj_gradcheck_fn)(adj_tape *t, adj_var *const *inputs, int n, void *user);

/* One input of the function: shape and values (always given as doubles). */
typedef struct adj_gradcheck_input {
    int ndim;
    int64_t shape[ADJ_MAX_DIMS];
    const double *data;
} adj_gradcheck_input;

typedef struct adj_gradcheck_opts {
    adj_dtype dtype; /* dtype of the analytic (backward) pass; the numeric
                        pass is always double */
    double eps;      /* finite-difference step h (in double); 0 = 1e-6 */
    double atol;     /* pass if |analytic - numeric| <= atol + rtol |numeric| */
    double rtol;     /* 0,0 = 1e-7,1e-5 (f64) / 1e-4,2e-2 (f32) */
    int threads;     /* evaluate the finite differences on this many threads
                        (0 or 1: the calling thread only).  With more, fn is
                        called from several threads at once, each with its
                        own tape: it must not write shared state.  The
                        report does not depend on the thread count.  These
                        threads are the check's own: with adj_set_threads
                        above 1 as well, threads * that count may exceed
                        the cores (it still works, only no faster). */
    int replay;      /* nonzero: record fn once (per thread) and evaluate
                        each f(x +- h e_j) by recomputing only what depends
                        on element j (the row or column of a product, the
                        elements of an elementwise op), restoring the base
                        values after each.  Much faster on large inputs.
                        It assumes the recorded graph does not depend on
                        the input values: fn must not branch on them nor
                        read them into constants (adj_item, adj_copy_value).
                        Five elements of each input (first, quarters, last)
                        are also evaluated for real; a different op
                        sequence or a different f (beyond 1e-12 relative:
                        recomputed products may round differently) makes
                        the check fail with ADJ_EINVAL.  Values read outside
                        the recorded ops at other elements go unnoticed.
                        The numeric pass is f64 either way, so any dtype. */
    double *numeric; /* optional: when the check runs (status ADJ_OK),
                        receives every element's central difference,
                        input after input (as many doubles as the inputs
                        have elements); NULL: not returned */
} adj_gradcheck_opts;

/* The default tolerances of adj_gradcheck (atol, rtol 0, 0) */
#define ADJ_GRADCHECK_ATOL_F64 1e-7
#define ADJ_GRADCHECK_RTOL_F64 1e-5
#define ADJ_GRADCHECK_ATOL_F32 1e-4
#define ADJ_GRADCHECK_RTOL_F32 2e-2

/* The result for one input: its worst element, the one furthest past its
 * tolerance, |analytic - numeric| / (atol + rtol |numeric|) (a NaN or
 * infinite error counts as infinitely far, and fails). */
typedef struct adj_gradcheck_result {
    size_t numel;
    size_t worst_index;   /* flat row-major index of the worst element */
    double analytic;      /* backward's adjoint there */
    double numeric;       /* the central difference there */
    double abs_err;
    double rel_err;       /* adj_gradcheck: abs_err / max(|analytic|, |numeric|)
                             (0 when both are 0); adj_gradgradcheck:
                             abs_err / max(|numeric|, 1e-300) */
    size_t kinks;         /* elements on a non-differentiable point (skipped) */
    size_t first_kink;    /* index of the first of those, if any */
    int passed;           /* every non-kink element within tolerance */
} adj_gradcheck_result;

#define ADJ_GRADCHECK_MAX_INPUTS 8

typedef struct adj_gradcheck_report {
    adj_status status;        /* ADJ_OK unless the function itself failed */
    char message[256];        /* the failure, if status != ADJ_OK */
    int n_inputs;
    int passed;               /* every input passed */
    double max_rel_err;       /* the largest relative error: adj_gradcheck's
                                 over every element, abs_err / max(|analytic|,
                                 |numeric|); adj_gradgradcheck's over each
                                 input's worst element, abs_err / |numeric|.
                                 Near a zero gradient it can be large while
                                 the element is within atol: the verdict
                                 tests the tolerance, not this figure */
    double value;             /* f at the given point */
    size_t evaluations;       /* how many times f was evaluated */
    adj_gradcheck_result inputs[ADJ_GRADCHECK_MAX_INPUTS];
} adj_gradcheck_report;

/* Check fn at the point `in` (n <= ADJ_GRADCHECK_MAX_INPUTS inputs).  opts
 * may be NULL (f64, default tolerances).  Fills *report; returns
 * report->status (ADJ_OK even when the check fails: see report->passed).
 * Errors (no verdict, report->message says why): ADJ_EINVAL for a NULL fn
 * or in, bad n, an eps or tolerance that is negative, NaN or infinite, or
 * fn returning NULL; ADJ_ETAPE when fn returns a var of another tape than
 * the one it was given; fn's own tape error; ADJ_ENOMEM. */
ADJ_API adj_status adj_gradcheck(adj_gradcheck_fn fn, void *user, int n,
                                 const adj_gradcheck_input *in,
                                 const adj_gradcheck_opts *opts,
                                 adj_gradcheck_report *report);

/* Check one op of the op table: random inputs from `seed` in the op's
 * domain (away from kinks), shape case `shape_case` (0 .. count-1 of
 * adj_gradcheck_op_cases), a random upstream adjoint, both dtypes' backward
 * against double finite differences.  `describe` (may be NULL, >= 96
 * bytes) receives the shapes checked, e.g. "(2,3) x (3,4)". */
ADJ_API int adj_gradcheck_op_cases(adj_op op);
ADJ_API adj_status adj_gradcheck_op(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                                    adj_gradcheck_report *report, char *describe,
                                    size_t describe_size);

/*
 * Second derivatives of the scalar function fn records (the callback and
 * inputs as for adj_gradcheck: 1..ADJ_GRADCHECK_MAX_INPUTS inputs, their
 * elements flattened input after input into one vector of N elements).
 * Computed in double, reverse over reverse: the gradient recorded as ops
 * (adj_grad with create_graph) and swept back once more.
 */

/* out[0..N) = H v, the Hessian of f at the inputs times v[0..N).  Costs
 * about three gradients (2.9 for a 784-256-256-10 MLP's loss; forward over
 * reverse measured 3.1).  ADJ_EINVAL for a NULL fn, inputs, v or
 * out, a bad n or input; else fn's tape error (an op without a graph-mode
 * backward among them), ADJ_ENOMEM. */
ADJ_API adj_status adj_hvp(adj_gradcheck_fn fn, void *user, int n,
                           const adj_gradcheck_input *inputs, const double *v, double *out);

/* Largest N adj_hessian takes (an N x N matrix of doubles: 128 MiB). */
#define ADJ_HESSIAN_MAX_N 4096

/* H[r * N + c] = d^2 f / dx_r dx_c, row-major, for N <= ADJ_HESSIAN_MAX_N
 * elements (h_size: the doubles H holds, at least N * N): the gradient is
 * recorded once and swept back once per row.  Errors as adj_hvp, and
 * ADJ_EINVAL for N above the bound or h_size below N * N. */
ADJ_API adj_status adj_hessian(adj_gradcheck_fn fn, void *user, int n,
                               const adj_gradcheck_input *inputs, double *H, size_t h_size);

/*
 * Check fn's second derivatives: H v along two random directions v (the
 * Hessian-vector products of adj_hvp, in opts->dtype) against the central
 * difference of gradients (g(x + h v) - g(x - h v)) / 2h, each gradient
 * evaluated in double by adj_backward.  Elements of H v on a kink of the
 * gradient (ReLU's derivative at 0, a max tie: one-sided differences that
 * disagree by a gap that does not halve with h) are counted in
 * report->inputs[i].kinks and left out.  opts as for adj_gradcheck (NULL:
 * f64); eps 0 is h = 1e-5, tolerances 0, 0 are atol 1e-6, rtol 1e-5
 * (f64) or 1e-3, 2e-2 (f32); threads, replay and numeric are ignored.
 * The report is adj_gradcheck's, per input its worst element of H v.
 * Returns report->status as adj_gradcheck does (ADJ_OK also when the
 * check fails: see report->passed).
 */
ADJ_API adj_status adj_gradgradcheck(adj_gradcheck_fn fn, void *user, int n,
                                     const adj_gradcheck_input *in,
                                     const adj_gradcheck_opts *opts,
                                     adj_gradcheck_report *report);

/* adj_gradgradcheck of one op of the table, on the inputs and shape case
 * that adj_gradcheck_op draws, for f = sum(R y) + sum(y^2) / 2 (R random):
 * its Hessian holds J^T J besides the op's own second derivatives, so the
 * op's graph-mode rule is checked to the first order too.  An op whose
 * inputs are all index tensors, or whose output is one, has no second
 * derivative: report->passed when the op records. */
ADJ_API adj_status adj_gradgradcheck_op(adj_op op, adj_dtype dtype, int shape_case,
                                        uint64_t seed, adj_gradcheck_report *report,
                                        char *describe, size_t describe_size);

#ifdef __cplusplus
}
#endif
#endif
