/*
 * Ops registered at run time (adjoint/extend.h).  Each registration fills
 * one descriptor of the op table after the built-in ones: its hooks are
 * the functions below, which hand the program's callbacks plain views of
 * the node's inputs, output, adjoints or tangents.  From there on the op
 * is recorded, swept, printed and checked by the same code as a built-in
 * op; nothing else in the library knows it is not one.
 */
#include "adjoint/extend.h"
#include "core/error.h"
#include "ops/op.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define CUSTOM_MAX (ADJ_OP_MAX - ADJ_OP_COUNT)
#define CUSTOM_ATTR_MAX 4096

typedef struct custom_op {
    adj_op_def def;         /* the program's, with the strings below */
    char name[64], formula[160], rule[160];
} custom_op;

static custom_op customs[CUSTOM_MAX];
static adj_op_desc descs[CUSTOM_MAX];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int registered; /* ops in customs[] whose table slot is filled */

int adj_ops_in_table(void)
{
    return ADJ_OP_COUNT + atomic_load_explicit(&registered, memory_order_acquire);
}

static const custom_op *custom_of(const adj_var *y) { return &customs[y->op - ADJ_OP_COUNT]; }

/* ---------------------------------------------------------------- views */

static adj_view view(void *data, int dtype, int ndim, const int64_t *shape)
{
    adj_view v = {.data = data, .dtype = (adj_dtype)dtype, .ndim = ndim};
    int64_t st = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        v.shape[d] = shape[d];
        v.stride[d] = st;
        st *= shape[d];
    }
    return v;
}

static adj_view view_of(const adj_var *x, const void *data)
{
    return view((void *)data, x->dtype, x->ndim, adj_cold(x)->shape);
}

/* The inputs' views; false (after recording ENOMEM) without memory. */
static adj_view *input_views(const adj_var *y, adj_view *small, size_t nsmall)
{
    int n = adj_nin(y);
    adj_view *v = small;
    if ((size_t)n > nsmall) {
        v = adj_arena_alloc(adj_node_tape(y), (size_t)n * sizeof *v);
        if (!v)
            return NULL;
    }
    for (int k = 0; k < n; k++)
        v[k] = view_of(adj_input(y, k), adj_input(y, k)->value);
    return v;
}

/* ---------------------------------------------------------------- hooks */

static adj_status custom_shape(adj_var *y, char *why, size_t n)
{
    const custom_op *c = custom_of(y);
    int nin = adj_nin(y);
    adj_view small[8], *x = input_views(y, small, 8);
    if (!x)
        return ADJ_ENOMEM;
    if (!c->def.shape) { /* elementwise: every input has x0's shape */
        for (int k = 1; k < nin; k++)
            if (!adj_same_shape(adj_input(y, k), y->in[0])) {
                char a[64], b[64];
                adj_fmt_shape(a, sizeof a, x[0].ndim, x[0].shape);
                adj_fmt_shape(b, sizeof b, x[k].ndim, x[k].shape);
                snprintf(why, n, "input %d is %s but input 0 is %s (an op without a shape "
                         "callback takes inputs of one shape)", k, b, a);
                return ADJ_ESHAPE;
            }
        adj_shape_from(y, y->in[0]);
        return ADJ_OK;
    }
    int ndim = -1;
    int64_t shape[ADJ_MAX_DIMS] = {0};
    memset(why, 0, n); /* a reason the callback writes stays terminated */
    adj_status s = c->def.shape(nin, x, adj_attr(y), &ndim, shape, why, n, c->def.user);
    if (s != ADJ_OK) {
        if (!why[0])
            snprintf(why, n, "the shape callback refused the inputs");
        return s;
    }
    if (ndim < 0 || ndim > ADJ_MAX_DIMS) {
        snprintf(why, n, "the shape callback gave %d dimensions (0 to %d)", ndim, ADJ_MAX_DIMS);
        return ADJ_EINVAL;
    }
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0) {
            snprintf(why, n, "the shape callback gave size %lld for dimension %d",
                     (long long)shape[d], d);
            return ADJ_EINVAL;
        }
    y->ndim = (uint8_t)ndim;
    memcpy(adj_cold(y)->shape, shape, sizeof shape);
    return ADJ_OK;
}

static void custom_forward(adj_var *y)
{
    const custom_op *c = custom_of(y);
    adj_view small[8], *x = input_views(y, small, 8);
    if (!x)
        return;
    adj_view out = view_of(y, y->value);
    c->def.forward(adj_nin(y), x, &out, adj_attr(y), c->def.user);
}

static void custom_backward(adj_var *y)
{
    const custom_op *c = custom_of(y);
    int n = adj_nin(y);
    adj_tape *t = adj_node_tape(y);
    int wants = -1;
    for (int k = 0; k < n && wants < 0; k++)
        if (adj_input(y, k)->flags & ADJ_F_GRAD)
            wants = k;
    if (wants < 0)
        return;
    if (!c->def.backward) {
        adj_tape_fail(t, ADJ_EINVAL,
                      "adj_backward: op \"%s\" (node %u) was registered without a backward, "
                      "and its input %d needs a gradient%s%s%s%.0d%s",
                      c->name, adj_cold(y)->id, wants, adj_cold(y)->file ? " [recorded at " : "",
                      adj_cold(y)->file ? adj_cold(y)->file : "", adj_cold(y)->file ? ":" : "",
                      adj_cold(y)->file ? adj_cold(y)->line : 0, adj_cold(y)->file ? "]" : "");
        return;
    }
    adj_view small[8], dsmall[8], *x = input_views(y, small, 8), *dx = dsmall;
    if (!x)
        return;
    if (n > 8 && !(dx = adj_arena_alloc(t, (size_t)n * sizeof *dx)))
        return;
    for (int k = 0; k < n; k++) {
        adj_var *in = adj_input(y, k);
        void *g = NULL;
        if ((in->flags & ADJ_F_GRAD) && !(g = adj_grad_buf(in)))
            return;
        if (in->flags & ADJ_F_EXTGRAD) /* the callback may keep the address */
            adj_param_show(in);
        dx[k] = view_of(in, g);
    }
    adj_view out = view_of(y, y->value), dy = view_of(y, y->grad);
    c->def.backward(n, x, &out, &dy, dx, adj_attr(y), c->def.user);
}

static void custom_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const custom_op *c = custom_of(y);
    int n = adj_nin(y);
    adj_tape *t = adj_node_tape(y);
    if (!c->def.jvp) {
        adj_tape_fail(t, ADJ_EINVAL,
                      "adj_jvp: op \"%s\" (node %u) was registered without a tangent rule",
                      c->name, adj_cold(y)->id);
        return;
    }
    adj_view small[8], tsmall[8], *x = input_views(y, small, 8), *tv = tsmall;
    if (!x)
        return;
    if (n > 8 && !(tv = adj_arena_alloc(t, (size_t)n * sizeof *tv)))
        return;
    for (int k = 0; k < n; k++)
        tv[k] = view_of(adj_input(y, k), tx[k]);
    adj_view out = view_of(y, y->value), to = view_of(y, ty);
    c->def.jvp(n, x, &out, tv, &to, adj_attr(y), c->def.user);
}

/* Graph mode: the program's graph_backward records each input's adjoint
 * with ops; every one given is checked to be a var of the input's shape
 * and dtype on y's tape. */
static bool custom_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    const custom_op *c = custom_of(y);
    int n = adj_nin(y);
    adj_tape *t = adj_node_tape(y);
    const char *file = adj_cold(y)->file;
    if (!c->def.graph_backward) {
        adj_tape_fail(t, ADJ_EINVAL,
                      "adj_backward_ex: op \"%s\" (node %u) was registered without a graph-mode "
                      "backward (graph_backward), so create_graph cannot differentiate through "
                      "it%s%s%s%.0d%s",
                      c->name, adj_cold(y)->id, file ? " [recorded at " : "", file ? file : "",
                      file ? ":" : "", file ? adj_cold(y)->line : 0, file ? "]" : "");
        return false;
    }
    adj_var *small[8], **x = small;
    if (n > 8 && !(x = adj_arena_alloc(t, (size_t)n * sizeof *x)))
        return false;
    for (int k = 0; k < n; k++) {
        x[k] = adj_input(y, k);
        gin[k] = NULL;
    }
    adj_status s = c->def.graph_backward(n, x, y, gy, gin, adj_attr(y), c->def.user);
    if (t->status != ADJ_OK)
        return false;
    if (s != ADJ_OK) {
        adj_tape_fail(t, s, "adj_backward_ex: the graph_backward of op \"%s\" (node %u) "
                      "returned %s", c->name, adj_cold(y)->id, adj_status_string(s));
        return false;
    }
    for (int k = 0; k < n; k++) {
        adj_var *in = adj_input(y, k);
        if (!gin[k])
            continue;
        if (!(in->flags & ADJ_F_GRAD)) {
            gin[k] = NULL;
            continue;
        }
        bool fits = adj_var_tape(gin[k]) == t && adj_var_dtype(gin[k]) == in->dtype &&
                    adj_ndim(gin[k]) == in->ndim;
        for (int d = 0; fits && d < in->ndim; d++)
            fits = adj_dim(gin[k], d) == adj_cold(in)->shape[d];
        if (!fits) {
            char want[64], got[64];
            adj_fmt_shape(want, sizeof want, in->ndim, adj_cold(in)->shape);
            adj_shape_string(gin[k], got, sizeof got);
            adj_tape_fail(t, ADJ_ESHAPE,
                          "adj_backward_ex: the graph_backward of op \"%s\" (node %u) gave input "
                          "%d an adjoint %s %s%s, not %s %s of its tape", c->name,
                          adj_cold(y)->id, k, adj_dtype_name(adj_var_dtype(gin[k])), got,
                          adj_var_tape(gin[k]) == t ? "" : " of another tape",
                          adj_dtype_name((adj_dtype)in->dtype), want);
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------- registering */

int adj_op_find(const char *name)
{
    if (!name)
        return -1;
    int n = adj_ops_in_table();
    for (int op = 1; op < n; op++)
        if (strcmp(adj_op_table[op]->name, name) == 0)
            return op;
    return -1;
}

static bool copy_str(char *dst, size_t size, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return true;
    }
    size_t len = strlen(src);
    if (len >= size)
        return false;
    memcpy(dst, src, len + 1);
    return true;
}

int adj_op_register(const adj_op_def *def, adj_error *err)
{
    adj_err_clear(err);
    if (!def) {
        adj_err_set(err, ADJ_EINVAL, "adj_op_register: def is NULL");
        return -1;
    }
    if (!def->name || !def->name[0] || strlen(def->name) >= sizeof customs[0].name) {
        adj_err_set(err, ADJ_EINVAL, "adj_op_register: the name is %s (1 to %zu characters)",
                    !def->name ? "NULL" : !def->name[0] ? "empty" : "too long",
                    sizeof customs[0].name - 1);
        return -1;
    }
    if (def->arity < 1 && def->arity != ADJ_OP_VARIADIC) {
        adj_err_set(err, ADJ_EINVAL, "adj_op_register: op \"%s\" has arity %d (1 or more, or "
                    "ADJ_OP_VARIADIC)", def->name, def->arity);
        return -1;
    }
    if (def->attr_size > CUSTOM_ATTR_MAX) {
        adj_err_set(err, ADJ_EINVAL, "adj_op_register: op \"%s\" has attr_size %zu (at most %d)",
                    def->name, def->attr_size, CUSTOM_ATTR_MAX);
        return -1;
    }
    if (!def->forward) {
        adj_err_set(err, ADJ_EINVAL, "adj_op_register: op \"%s\" has no forward", def->name);
        return -1;
    }
    pthread_mutex_lock(&lock);
    int id = -1;
    int have = atomic_load_explicit(&registered, memory_order_relaxed);
    if (adj_op_find(def->name) >= 0) {
        adj_err_set(err, ADJ_EINVAL, "adj_op_register: an op named \"%s\" exists already", def->name);
    } else if (have >= CUSTOM_MAX) {
        adj_err_set(err, ADJ_ENOMEM, "adj_op_register: the op table is full (%d ops)", ADJ_OP_MAX);
    } else {
        custom_op *c = &customs[have];
        c->def = *def;
        copy_str(c->name, sizeof c->name, def->name);
        if (!copy_str(c->formula, sizeof c->formula, def->formula))
            snprintf(c->formula, sizeof c->formula, "y = %s(x)", def->name);
        if (!copy_str(c->rule, sizeof c->rule, def->rule))
            c->rule[0] = '\0';
        c->def.name = c->name;
        c->def.formula = c->formula;
        c->def.rule = c->rule;
        descs[have] = (adj_op_desc){
            .name = c->name,
            .arity = def->arity == ADJ_OP_VARIADIC ? ADJ_ARITY_ANY : def->arity,
            .attr_size = def->attr_size,
            .shape = custom_shape,
            .forward = custom_forward,
            .backward = custom_backward,
            .jvp = custom_jvp,
            .vjp = custom_vjp,
            .formula = c->formula[0] ? c->formula : "y = f(x)",
            .rule = c->rule[0] ? c->rule : (def->backward ? "(the program's backward)" : "(no backward)"),
        };
        id = ADJ_OP_COUNT + have;
        adj_op_table[id] = &descs[have];
        atomic_store_explicit(&registered, have + 1, memory_order_release);
    }
    pthread_mutex_unlock(&lock);
    return id;
}

/* ------------------------------------------------------------- recording */

adj_var *adj_custom_at(int op, int n, adj_var *const *inputs, const void *attr, const char *file,
                       int line)
{
    if (!inputs || n < 1)
        return NULL;
    adj_tape *t = NULL;
    int look = op >= ADJ_OP_COUNT && op < adj_ops_in_table() && adj_op_table[op]->arity > 0
                   ? (n < adj_op_table[op]->arity ? n : adj_op_table[op]->arity)
                   : 1;
    for (int k = 0; k < look && !t; k++)
        if (inputs[k])
            t = adj_node_tape(adj_h_raw(inputs[k]));
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    if (op < ADJ_OP_COUNT || op >= adj_ops_in_table()) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_custom: op %d is not a registered op (ids from "
                      "adj_op_register are %d to %d)%s%s%s%.0d%s", op, ADJ_OP_COUNT,
                      adj_ops_in_table() - 1, file ? " [at " : "", file ? file : "",
                      file ? ":" : "", file ? line : 0, file ? "]" : "");
        return adj_h_out(t->inert);
    }
    const adj_op_desc *d = adj_op_table[op];
    if (d->arity > 0 && n != d->arity) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_custom: op \"%s\" takes %d inputs, %d given%s%s%s%.0d%s",
                      d->name, d->arity, n, file ? " [at " : "", file ? file : "",
                      file ? ":" : "", file ? line : 0, file ? "]" : "");
        return adj_h_out(t->inert);
    }
    for (int k = 0; k < n; k++)
        if (adj_h_stale_op(inputs[k], "custom", file, line))
            return adj_h_out(t->inert);
    return adj_record((adj_op)op, inputs, n, attr, file, line);
}

adj_var *(adj_custom)(int op, int n, adj_var *const *inputs, const void *attr)
{
    return adj_custom_at(op, n, inputs, attr, NULL, 0);
}
