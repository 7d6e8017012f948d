/*
 * adjoint/teach.h — seeing the tape: tables, chain-rule traces, graphs,
 * and the worked examples of the lecture notes.
 *
 *     adj_tape *t = adj_tape_new();
 *     adj_var *x = adj_var_set_name(adj_scalar(t, 1.0), "x");
 *     adj_var *a = adj_var_set_name(adj_square(x), "a");
 *     adj_var *b = adj_var_set_name(adj_exp(a), "b");
 *     adj_var *c = adj_var_set_name(adj_add(a, b), "c");
 *     adj_var *d = adj_var_set_name(adj_sqrt(c), "d");
 *     adj_backward_explain(d, stdout);   // each chain-rule step, in reverse
 *     adj_tape_print(t, stdout);         // x = 1, a = x^2, ... with adjoints
 *     adj_tape_dot(t, dotfile);          // for `dot -Tsvg`
 *     adj_tape_html(t, d, htmlfile);     // step through both sweeps
 *
 * Printing never changes a value or an adjoint.  Numbers print with %g and
 * a zero prints as 0, never -0.
 */
#ifndef ADJOINT_TEACH_H
#define ADJOINT_TEACH_H

#include "core.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- names */

/* Give v a name for printing ("a", "W1").  The string is copied onto the
 * tape (it lives until the next reset); NULL clears the name.  Returns v,
 * so a name can be given where the var is made:
 *     adj_var *a = adj_var_set_name(adj_square(x), "a");
 * On a NULL v, or when the tape is out of memory, nothing is named. */
ADJ_API adj_var *adj_var_set_name(adj_var *v, const char *name);
/* v's name, or NULL if it has none. */
ADJ_API const char *adj_var_name(const adj_var *v);
/* The last node recorded on t with this name, or NULL. */
ADJ_API adj_var *adj_tape_find(const adj_tape *t, const char *name);

/* -------------------------------------------------------------- printing */

/*
 * The tape as a table in recording order, one row per node: id, name,
 * definition in terms of the inputs' names ("c = a + b"), input ids,
 * shape, value and adjoint ("-" before backward or where no adjoint
 * flows).  Tensors of up to 6 elements print in full; larger ones as
 * "[min .. max] mean", so a 784-wide layer stays one row.
 * Returns ADJ_EINVAL for a NULL argument, ADJ_EIO if writing fails,
 * ADJ_ESTATE (printing nothing) if a parameter on the tape has moved
 * (its store gained tensors after adj_param).
 */
ADJ_API adj_status adj_tape_print(const adj_tape *t, FILE *out);

/*
 * Run adj_backward(y) and print the chain rule as it happens, node by node
 * in reverse recording order.  For every edge from node c to its input a:
 *     ∂f/∂a += ∂f/∂c · ∂c/∂a = 0.25930 × 1 = 0.25930
 * with the local partial ∂c/∂a evaluated (and named where it is another
 * node, e.g. ∂z2/∂a1 = w2 for z2 = w2 · a1); a node that feeds several
 * others is marked, and when the sweep reaches it its adjoint is shown as
 * the sum of its contributions.  Ops on tensors print their rule in matrix
 * form (dA += dC · Bᵀ) with the shapes, and the contribution's values when
 * it has at most 6 elements.  Returns adj_backward's status (the trace is
 * printed only on success, the error message otherwise).
 */
ADJ_API adj_status adj_backward_explain(adj_var *y, FILE *out);

/*
 * Graphviz DOT of the tape: one node per tape node labelled with its name,
 * op, shape, value and adjoint; leaves that want a gradient (inputs and
 * parameters) are boxes, constants dashed boxes, intermediate results
 * ellipses, the last node double-circled.  Edges go from input to use and
 * carry the local partial derivative where both ends are scalars and a
 * backward has run.  Render with `dot -Tsvg file.dot -o file.svg`.
 * Returns ADJ_EINVAL for a NULL argument, ADJ_EIO if writing fails,
 * ADJ_ESTATE (printing nothing) if a parameter on the tape has moved
 * (its store gained tensors after adj_param).
 */
ADJ_API adj_status adj_tape_dot(const adj_tape *t, FILE *out);

/*
 * One self-contained HTML page (inline SVG, CSS and script; it loads
 * nothing and opens from disk) that steps through the sweeps of output:
 * the graph laid out as the DOT export draws it, with values; reverse
 * mode node by node with each chain-rule line as adj_backward_explain
 * prints it and each adjoint's running sum, one contribution at a time;
 * forward mode from any chosen element of an input that wants a
 * gradient (up to 64), with every node's tangent.  Runs adj_backward(output)
 * first, so the adjoints on the tape are set as after adj_backward (and
 * parameters' gradients accumulate as they do there).  All
 * numbers are computed here; the page only shows them, for the tape's
 * current values.  For small tapes: output must be a one-element node of
 * tape among its first 400 nodes.  Returns ADJ_EINVAL for a NULL argument,
 * an output of another tape or a larger tape, the tape's error or
 * backward's, ADJ_ENOMEM, ADJ_ESTATE if a parameter on the tape has moved
 * (as adj_tape_print), or ADJ_EIO if writing fails (the file is then
 * incomplete).
 */
ADJ_API adj_status adj_tape_html(adj_tape *tape, adj_var *output, FILE *f);

/*
 * Every named node as JSON:
 *     {"nodes": [{"id": 0, "name": "x", "op": "leaf", "shape": [],
 *                 "value": [1], "grad": [1.9282846854989]}, ...]}
 * values with 17 significant digits; "grad" is null where no adjoint
 * flowed.  all != 0 includes unnamed nodes too.  Errors as adj_tape_print.
 */
ADJ_API adj_status adj_tape_json(const adj_tape *t, int all, FILE *out);

/* ------------------------------------------------- the notes' examples */

/*
 * The worked examples of the lecture notes (E1 … E15), each a function
 * that records itself on a tape with named nodes and returns the scalar
 * it differentiates.  A knob is a number the example takes as input (x,
 * a weight, a class, a case number), with its default.
 */
typedef struct adj_example_knob {
    const char *name;     /* "x" */
    double value;         /* the default */
    const char *help;     /* "input" */
} adj_example_knob;

#define ADJ_EXAMPLE_MAX_KNOBS 8

typedef struct adj_example {
    const char *name;     /* "e02" */
    const char *alias;    /* "sqrt-fanout" */
    const char *title;    /* one line */
    const char *notes;    /* what to look at, errata; may be NULL */
    int nknobs;
    adj_example_knob knobs[ADJ_EXAMPLE_MAX_KNOBS];
    /* Record on t with knobs[nknobs]; return the scalar output (the tape's
     * sticky error, if any, says what went wrong). */
    adj_var *(*build)(adj_tape *t, const double *knobs);
} adj_example;

/* Number of examples, and example i (NULL if out of range). */
ADJ_API int adj_example_count(void);
ADJ_API const adj_example *adj_example_at(int i);
/* By name ("e02", "e2", "2") or alias ("sqrt-fanout"); NULL if unknown. */
ADJ_API const adj_example *adj_example_find(const char *name);
/* Index of a knob by name, or -1. */
ADJ_API int adj_example_knob_index(const adj_example *ex, const char *knob);
/* Record ex on t with the given knobs (NULL = the defaults).  A NULL ex
 * records ADJ_EINVAL on t; a NULL t gives NULL. */
ADJ_API adj_var *adj_example_build(const adj_example *ex, adj_tape *t, const double *knobs);

/*
 * Run ex with the given knobs (NULL = the defaults) on a tape of its own:
 * to `out` (may be NULL) the title, the knobs, the notes, the explain
 * trace and the tape table; to `dot` (may be NULL) the graph after
 * backward; to `json` (may be NULL) {"example", "knobs", "value",
 * "nodes"} with every named node's value and gradient.  Returns ADJ_OK,
 * the tape's error, ADJ_ENOMEM or ADJ_EIO.
 */
ADJ_API adj_status adj_example_run(const adj_example *ex, const double *knobs, FILE *out,
                                   FILE *dot, FILE *json);

/*
 * The page of adj_tape_html for ex run with the given knobs (NULL = the
 * defaults), with the example's title, notes and inputs; the page gives
 * the `adjoint explain NAME --KNOB VALUE --html FILE` command that writes
 * it for other inputs.  Returns as adj_example_run and adj_tape_html.
 */
ADJ_API adj_status adj_example_html(const adj_example *ex, const double *knobs, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
