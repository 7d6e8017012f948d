/*
 * adjoint/extend.h — ops that a program defines itself.
 *
 * A program registers an op at run time: its name, its number of inputs,
 * the size of its attribute struct and callbacks that work on plain views
 * of memory (pointer, dtype, shape, strides).  It gets an op id back and
 * records nodes with adj_custom.  A registered op is an entry of the same
 * op table as the built-in ones (its id follows theirs): it is recorded,
 * swept by backward, pushed through by forward mode, printed by
 * adj_tape_print, traced by adj_backward_explain, drawn in DOT and checked
 * by adj_gradcheck like any op, and its errors are sticky tape errors.
 *
 *     static void fwd(int n, const adj_view *x, const adj_view *y, const void *attr, void *user)
 *     { ... y->data[i] = x[0].data[i] / (1 + |x[0].data[i]|) ... }
 *     static adj_op_def def = {.name = "softsign", .arity = 1,
 *                              .forward = fwd, .backward = bwd};
 *     adj_op softsign = adj_op_register(&def, &err);
 *     adj_var *y = adj_custom(softsign, 1, &x, NULL);
 *
 * An op that should be differentiated twice (double backward, Hessians)
 * also gives graph_backward, its backward written with ops:
 *     dx[0] = adj_div(dy, adj_square(adj_add(one, adj_abs(x[0]))))
 *
 * examples/custom_op.c is a complete program.
 */
#ifndef ADJOINT_EXTEND_H
#define ADJOINT_EXTEND_H

#include "core.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A plain view of a tensor: element (i0, i1, ...) of dtype at
 * data + sum_k i_k stride[k] (strides in elements, not bytes).  The views
 * given to callbacks are row-major today, but a callback should use the
 * strides. */
typedef struct adj_view {
    void *data;
    adj_dtype dtype;
    int ndim;
    int64_t shape[ADJ_MAX_DIMS];
    int64_t stride[ADJ_MAX_DIMS];
} adj_view;

/* The arity of a registered op that takes any number (>= 1) of inputs. */
#define ADJ_OP_VARIADIC (-1)

/*
 * What a registered op is.  In every callback n is the node's number of
 * inputs, x[0..n-1] their views (read only), attr the node's copy of the
 * attribute struct given to adj_custom (NULL when attr_size is 0) and user
 * the `user` pointer below.  All inputs and the output have one dtype,
 * f32 or f64.
 */
typedef struct adj_op_def {
    const char *name;     /* "softsign": messages, printing; copied */
    int arity;            /* inputs, >= 1, or ADJ_OP_VARIADIC */
    size_t attr_size;     /* bytes of the attribute struct (0: none, at most 4096) */
    /* The output's shape: set *ndim (0..ADJ_MAX_DIMS) and shape[0..ndim);
     * or return an error status (ADJ_ESHAPE, ADJ_EINVAL) with the reason
     * in why[why_size].  NULL: the output has x[0]'s shape and the inputs
     * must all have that shape (an elementwise op). */
    adj_status
        (*shape)(int n, const adj_view *x, const void *attr, int *ndim, int64_t *shape, char *why,
                 size_t why_size, void *user);
    /* y = f(x): write every element of y (required). */
    void (*forward)(int n, const adj_view *x, const adj_view *y, const void *attr, void *user);
    /* Adjoints: for every k with dx[k].data non-NULL, ADD the contribution
     * of dy (the output's adjoint, y's shape) to dx[k] (x[k]'s shape);
     * y is the output's value.  NULL: the op has no gradient; a backward
     * sweep that needs one fails with ADJ_EINVAL naming the op. */
    void (*backward)(int n, const adj_view *x, const adj_view *y, const adj_view *dy,
                     const adj_view *dx, const void *attr, void *user);
    /* Forward mode (optional): write ty (y's shape) from the inputs'
     * tangents tx[0..n-1] (each of its input's shape; zeros for an input
     * that does not move).  NULL: adj_jvp through the op is ADJ_EINVAL. */
    void (*jvp)(int n, const adj_view *x, const adj_view *y, const adj_view *tx,
                const adj_view *ty, const void *attr, void *user);
    /* For teaching (optional, copied): "y = x / (1 + |x|)",
     * "dx += dy / (1 + |x|)^2". */
    const char *formula;
    const char *rule;
    void *user;           /* passed to every callback */
    /* Graph-mode backward (optional): what differentiating through the op
     * twice needs (adj_backward_ex with create_graph, adj_grad with it,
     * adj_hvp, adj_hessian, adj_gradgradcheck).  Record the adjoint of
     * each input k with ops, on the tape of the vars given, into dx[k] (a
     * var of x[k]'s shape and dtype; dx[0..n) are NULL on entry), leaving
     * dx[k] NULL where no gradient flows (an input that wants none may be
     * given one: it is ignored).  x[0..n) are the node's inputs, y the
     * node and dy y's adjoint (a var of y's shape), all vars of that tape.
     * The ops recorded are differentiated in turn, so a rule written with
     * differentiable ops supports any order.  Return ADJ_OK, or an error
     * status, which fails the sweep with a message naming the op.  NULL:
     * a graph-mode sweep through the op is ADJ_EINVAL naming it (the
     * plain backward above still serves adj_backward). */
    adj_status
        (*graph_backward)(int n, adj_var *const *x, adj_var *y, adj_var *dy, adj_var **dx,
                          const void *attr, void *user);
} adj_op_def;

/*
 * Register an op: its id (after the built-in ops, so at least
 * ADJ_OP_COUNT), valid for the rest of the process, or -1 with the reason
 * in err (may be NULL): ADJ_EINVAL for a NULL def, an empty or NULL name
 * or one already registered (built-in or not), an arity below 1 other
 * than ADJ_OP_VARIADIC, an attr_size above 4096, a NULL forward;
 * ADJ_ENOMEM when the table is full (up to 255 ops in all, built-in ones
 * included).  The definition is copied (name and strings too).
 * Thread-safe: registrations are serialised by a lock and an id is usable
 * from any thread once returned; recording with an op while another
 * thread registers a different one is fine.  Ops cannot be unregistered.
 */
ADJ_API int adj_op_register(const adj_op_def *def, adj_error *err);

/* The id of a registered (or built-in) op by name, or -1. */
ADJ_API int adj_op_find(const char *name);

/*
 * Record a node of registered op `op` on the tape of its inputs: n inputs
 * (the op's arity, or >= 1 for a variadic op), none NULL, all of one
 * dtype; attr points to the op's attribute struct (attr_size bytes,
 * copied; NULL gives zeros).  Errors are sticky tape errors like every
 * op's, returning the tape's inert var: an id that is not a registered op
 * (ADJ_EINVAL), a wrong input count, NULL, foreign or mixed inputs, the
 * shape callback's error.
 */
#define adj_custom(...) adj_custom_at(__VA_ARGS__, ADJ_AT_)
ADJ_API adj_var *adj_custom_at(int op, int n, adj_var *const *inputs, const void *attr,
                               const char *file, int line);
ADJ_API adj_var *(adj_custom)(int op, int n, adj_var *const *inputs, const void *attr);

#ifdef __cplusplus
}
#endif
#endif
