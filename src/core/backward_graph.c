/*
 * The backward sweep recorded as ops (adj_backward_ex with create_graph,
 * adj_grad).  It walks the tape from y down as adj_backward does, but an
 * adjoint is a var, not a buffer: one slot per node id (an array in the
 * arena), and each op's graph-mode rule (its descriptor's vjp) records,
 * with ordinary ops, the contribution of its output's adjoint var to each
 * input's, which is added to the input's slot with adj_add.  Every node
 * the rules record lands above y's id, so the loop, which starts at y,
 * never visits them: the tape grows under the sweep without disturbing
 * it.
 *
 * A fused op may instead give a decomposition: its value recorded again
 * as a composition of other ops of its inputs.  The sweep then runs over
 * the decomposition's nodes (ids from the first one recorded up to its
 * output) seeded with the fused node's adjoint var, in a slot array of its
 * own chained to the outer one, so the contributions to the fused node's
 * inputs land in the outer slots.
 *
 * Nothing here knows any op: the rules live with the ops (ops/graph.h).
 */
#include "core/record.h"
#include "core/handle.h"
#include "core/tape.h"
#include "ops/op.h"

#include <string.h>

/* The adjoint slots of the ids lo..hi, chained to the enclosing range
 * (a decomposition's slots to the sweep's). */
typedef struct slots {
    size_t lo, hi;
    adj_var **v;
    const struct slots *up;
    const char *fn;         /* the public function, for messages */
} slots;

static adj_var **slot_of(const slots *s, size_t id)
{
    for (; s; s = s->up)
        if (id >= s->lo && id <= s->hi)
            return &s->v[id - s->lo];
    return NULL;
}

static bool fits(const adj_var *g, const adj_var *like)
{
    return g->dtype == like->dtype && adj_same_shape(g, like);
}

static void rule_mismatch(adj_tape *t, const char *fn, const adj_var *v, int k,
                          const adj_var *g, const adj_var *x)
{
    char gs[64], xs[64];
    adj_fmt_shape(gs, sizeof gs, g->ndim, adj_cold(g)->shape);
    adj_fmt_shape(xs, sizeof xs, x->ndim, adj_cold(x)->shape);
    adj_tape_fail(t, ADJ_EINVAL,
                  "%s: the graph-mode backward of op %s gave input %d an adjoint of shape %s "
                  "%s, the input is %s %s",
                  fn, adj_op_table[v->op]->name, k, gs, adj_dtype_name((adj_dtype)g->dtype), xs,
                  adj_dtype_name((adj_dtype)x->dtype));
}

static bool sweep(adj_tape *t, const slots *s);

/* Node v's contributions to its inputs' slots, given its adjoint var g. */
static bool visit(adj_tape *t, const slots *s, adj_var *v, adj_var *g)
{
    const adj_op_desc *d = adj_op_table[v->op];
    if (d->vjp) {
        const int n = adj_nin(v);
        adj_var *buf[8];
        adj_var **gin = n <= 8 ? buf : adj_arena_alloc(t, (size_t)n * sizeof *gin);
        if (!gin)
            return false;
        memset(gin, 0, (size_t)n * sizeof *gin);
        if (!d->vjp(v, g, gin) || t->status != ADJ_OK)
            return false;
        for (int k = 0; k < n; k++) {
            adj_var *x = adj_input(v, k);
            gin[k] = adj_h_raw(gin[k]); /* the rule's ops return handles */
            if (!gin[k] || !x || !(x->flags & ADJ_F_GRAD))
                continue;
            if (!fits(gin[k], x)) {
                rule_mismatch(t, s->fn, v, k, gin[k], x);
                return false;
            }
            adj_var **sx = slot_of(s, adj_cold(x)->id);
            if (!sx)
                continue; /* cannot happen: inputs precede their op */
            *sx = *sx ? adj_h_raw(adj_add_at(*sx, gin[k], NULL, 0)) : gin[k];
            if (t->status != ADJ_OK)
                return false;
        }
        return true;
    }
    if (d->decompose) {
        const size_t first = t->nnodes;
        adj_var *z = adj_h_raw(d->decompose(v));
        if (t->status != ADJ_OK)
            return false;
        if (!z || adj_cold(z)->id < first || !fits(z, v)) {
            adj_tape_fail(t, ADJ_EINVAL,
                          "%s: the decomposition of op %s is not a new var of the op's shape and "
                          "dtype",
                          s->fn, d->name);
            return false;
        }
        slots in = {first, adj_cold(z)->id, NULL, s, s->fn};
        in.v = adj_arena_zalloc(t, (in.hi - in.lo + 1) * sizeof *in.v);
        if (!in.v)
            return false;
        in.v[in.hi - in.lo] = g;
        return sweep(t, &in);
    }
    adj_tape_fail(t, ADJ_EINVAL,
                  "%s: op %s has no graph-mode backward (create_graph)%s%s%s%.0d%s", s->fn,
                  d->name, AT_ARGS(adj_cold(v)->file, adj_cold(v)->line));
    return false;
}

/* From the top of range s down to its bottom: every node holding an
 * adjoint var passes it on. */
static bool sweep(adj_tape *t, const slots *s)
{
    for (size_t id = s->hi + 1; id-- > s->lo;) {
        adj_var *g = s->v[id - s->lo];
        if (!g)
            continue;
        adj_var *v = adj_node_at(t, id);
        if (adj_is_leaf(v) || !(v->flags & ADJ_F_GRAD))
            continue;
        if (!visit(t, s, v, g))
            return false;
    }
    return true;
}

/* Checks shared by adj_backward_ex and adj_grad; the tape, or NULL after
 * an error (recorded on the tape when there is one). */
static adj_tape *check_output(adj_var *y, const char *fn)
{
    if (!y)
        return NULL;
    adj_tape *t = adj_node_tape(y);
    if (t->status != ADJ_OK)
        return NULL;
    if (!adj_live(t, y)) {
        adj_tape_fail(t, ADJ_ETAPE, "%s: the output var was recorded before adj_tape_reset", fn);
        return NULL;
    }
    if (y->dtype == ADJ_I32) {
        adj_tape_fail(t, ADJ_EDTYPE, "%s: the output is an index tensor (i32), which has no "
                                     "gradient", fn);
        return NULL;
    }
    if (adj_cold(y)->numel != 1) {
        char sh[64];
        adj_fmt_shape(sh, sizeof sh, y->ndim, adj_cold(y)->shape);
        adj_tape_fail(t, ADJ_ESHAPE,
                      "%s: the output must hold one element, it has shape %s (reduce it with "
                      "adj_sum or adj_mean)",
                      fn, sh);
        return NULL;
    }
    const adj_var *p = adj_tape_moved_param(t);
    if (p) {
        adj_param_moved(t, p, fn, NULL, 0);
        return NULL;
    }
    return t;
}

/* The sweep from y seeded with dy/dy = 1: the slot array of ids 0..y's id,
 * or NULL after an error on t. */
static adj_var **graph_sweep(adj_tape *t, adj_var *y, const char *fn)
{
    const size_t n = (size_t)adj_cold(y)->id + 1;
    slots s = {0, n - 1, adj_arena_zalloc(t, n * sizeof(adj_var *)), NULL, fn};
    if (!s.v)
        return NULL;
    double one = 1.0;
    float onef = 1.0f;
    adj_var *seed = adj_h_raw(adj_leaf_at(t, (adj_dtype)y->dtype, y->ndim, adj_cold(y)->shape,
                                y->dtype == ADJ_F64 ? (const void *)&one : (const void *)&onef, 0,
                                NULL, 0));
    if (t->status != ADJ_OK)
        return NULL;
    s.v[n - 1] = seed;
    if (!sweep(t, &s))
        return NULL;
    return s.v;
}

/* Add var g's values to v's adjoint buffer. */
static bool add_values(adj_var *v, const adj_var *g)
{
    void *buf = adj_grad_buf(v);
    if (!buf)
        return false;
    const size_t n = adj_cold(v)->numel;
    for (size_t i = 0; i < n; i++) {
        double x = adj_var_elem(g, i);
        if (v->dtype == ADJ_F64)
            ((double *)buf)[i] += x;
        else
            ((float *)buf)[i] += (float)x;
    }
    return true;
}

adj_status adj_backward_ex(adj_var *y, const adj_backward_opts *opts)
{
    y = adj_h_in(y, "adj_backward_ex");
    if (!opts || (!opts->create_graph && !opts->release_adjoints))
        return adj_backward(y);
    if (!y)
        return ADJ_EINVAL;
    if (opts->release_adjoints && opts->create_graph) {
        adj_tape *t = adj_node_tape(y);
        adj_tape_fail(t, ADJ_EINVAL,
                      "adj_backward_ex: release_adjoints with create_graph: the recorded sweep "
                      "keeps every adjoint as a var for later ops; ask for one or the other");
        return t->status;
    }
    if (opts->release_adjoints)
        return adj_backward_release(y);
    adj_tape *t = check_output(y, "adj_backward_ex");
    if (!t)
        return adj_node_tape(y)->status;
    if (!adj_clear_reachable(t, y, ++t->sweeps))
        return t->status;
    t->gvars = NULL;
    t->gvars_n = 0;
    adj_var **g = graph_sweep(t, y, "adj_backward_ex");
    if (!g)
        return t->status;
    const size_t n = (size_t)adj_cold(y)->id + 1;
    for (size_t id = 0; id < n; id++) {
        adj_var *v = adj_node_at(t, id);
        if (g[id] && (v->flags & ADJ_F_GRAD) && !add_values(v, g[id]))
            return t->status;
    }
    t->gvars = g;
    t->gvars_n = n;
    return ADJ_OK;
}

adj_var *adj_grad_var(const adj_var *h)
{
    const adj_var *x = adj_h_get(h, "adj_grad_var");
    if (!x || (x->flags & ADJ_F_INERT))
        return NULL;
    const adj_tape *t = adj_node_tape(x);
    const size_t id = adj_cold(x)->id;
    if (!t->gvars || !adj_live(t, x) || id >= t->gvars_n)
        return NULL;
    return adj_h_out(t->gvars[id]);
}

/* A constant of zeros of x's shape and dtype on t. */
static adj_var *zeros_like(adj_tape *t, const adj_var *x)
{
    adj_var *v = adj_leaf_at(t, (adj_dtype)x->dtype, x->ndim, adj_cold(x)->shape, NULL, 0, NULL, 0);
    return t->status == ADJ_OK ? adj_h_raw(v) : NULL;
}

adj_status adj_grad(adj_var *y, int n, adj_var *const *xs, adj_var **out_vars,
                    const adj_backward_opts *opts)
{
    y = adj_h_in(y, "adj_grad");
    if (!y)
        return ADJ_EINVAL;
    adj_tape *t = adj_node_tape(y);
    if (t->status != ADJ_OK)
        return t->status;
    if (!xs || !out_vars || n < 1) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_grad: %s (n = %d): pass n >= 1 inputs and as many "
                                     "output slots",
                      !xs ? "xs is NULL" : !out_vars ? "out_vars is NULL" : "no inputs", n);
        return t->status;
    }
    for (int i = 0; i < n; i++) {
        if (!xs[i]) {
            adj_tape_fail(t, ADJ_EINVAL, "adj_grad: xs[%d] is NULL", i);
            return t->status;
        }
        const adj_var *xi = adj_h_raw(xs[i]);
        if (adj_node_tape(xi) != t) {
            adj_tape_fail(t, ADJ_ETAPE, "adj_grad: xs[%d] belongs to another tape than y", i);
            return t->status;
        }
        if (!adj_live(t, xi) || !adj_h_current((uintptr_t)xs[i], t->gen)) {
            adj_tape_fail(t, ADJ_ETAPE, "adj_grad: xs[%d] was recorded before adj_tape_reset", i);
            return t->status;
        }
    }
    if (!check_output(y, "adj_grad"))
        return t->status;
    adj_var **g = graph_sweep(t, y, "adj_grad");
    if (!g)
        return t->status;
    const bool graph = opts && opts->create_graph;
    adj_var *res[16];
    adj_var **out = n <= 16 ? res : adj_arena_alloc(t, (size_t)n * sizeof *out);
    if (!out)
        return t->status;
    for (int i = 0; i < n; i++) {
        const adj_var *xi = adj_h_raw(xs[i]);
        const size_t id = adj_cold(xi)->id;
        adj_var *gi = id <= adj_cold(y)->id && (xi->flags & ADJ_F_GRAD) ? g[id] : NULL;
        if (!gi)
            gi = zeros_like(t, xi);
        else if (!graph)
            gi = adj_h_raw(adj_detach_at(gi, NULL, 0));
        if (!gi || t->status != ADJ_OK)
            return t->status;
        out[i] = adj_h_out(gi);
    }
    memcpy(out_vars, out, (size_t)n * sizeof *out);
    return ADJ_OK;
}
