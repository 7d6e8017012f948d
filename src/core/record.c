/*
 * Recording an op: validate the inputs, copy the attributes, run the shape
 * rule, allocate, forward (with the f64 scalar fast path).
 */
#include "core/handle.h"
#include "core/record.h"
#include "core/scalar.h"
#include "core/tape.h"
#include "ops/op.h"

#include <math.h>
#include <string.h>

/* The name of input k of an op with nin inputs, for messages. */
static const char *input_name(const adj_op_desc *d, int k, int nin, char *buf, size_t size)
{
    static const char *const binary[] = {"a", "b"};
    if (d->inputs && d->arity >= 0)
        return d->inputs[k];
    if (nin == 1)
        return "x";
    if (nin == 2 && d->arity == 2)
        return binary[k];
    snprintf(buf, size, "x%d", k);
    return buf;
}

static void describe_inputs(char *buf, size_t size, const adj_op_desc *d, adj_var *const *in,
                            int nin)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < nin && n < size; i++) {
        char sh[64], nm[16];
        const char *name = input_name(d, i, nin, nm, sizeof nm);
        if (!in[i] || (in[i]->flags & ADJ_F_INERT)) {
            n += (size_t)snprintf(buf + n, size - n, "%s%s %s", i ? ", " : "", name,
                                  in[i] ? "inert" : "NULL");
            continue;
        }
        adj_fmt_shape(sh, sizeof sh, in[i]->ndim, adj_cold(in[i])->shape);
        n += (size_t)snprintf(buf + n, size - n, "%s%s %s %s", i ? ", " : "", name, sh,
                              adj_dtype_name((adj_dtype)in[i]->dtype));
    }
}


/* Record an error about an op call: "adj_<op>: <status>: <why>: <inputs> [at f:l]". */
static void fail_op(adj_tape *t, adj_status s, const adj_op_desc *d, adj_var *const *in, int nin,
                    const char *why, const char *file, int line)
{
    char ins[256];
    describe_inputs(ins, sizeof ins, d, in, nin);
    adj_tape_fail(t, s, "adj_%s: %s: %s; inputs %s" AT_FMT, d->name, adj_status_string(s), why,
                  ins, AT_ARGS(file, line));
}

void adj_check_forward(adj_tape *t, adj_var *y)
{
    size_t bad = 0;
    int found = 0;
    for (size_t i = 0; i < adj_cold(y)->numel && !found; i++) {
        double v = adj_var_elem(y, i);
        if (!isfinite(v)) {
            bad = i;
            found = 1;
        }
    }
    if (found) {
        char sh[64];
        adj_fmt_shape(sh, sizeof sh, y->ndim, adj_cold(y)->shape);
        adj_tape_fail(t, ADJ_ENUMERIC,
                      "anomaly: forward of node %u (adj_%s, output %s) produced %g at element %zu" AT_FMT,
                      adj_cold(y)->id, adj_op_table[y->op]->name, sh, adj_value_at(y, bad), bad,
                      AT_ARGS(adj_cold(y)->file, adj_cold(y)->line));
    }
}

/* Give node y (cold part c) a copy of the op's attributes (zeros for a
 * NULL attr); false after recording ENOMEM. */
static inline bool copy_attr(adj_tape *t, const adj_op_desc *d, adj_node_ext *e, const void *attr)
{
    void *dst = &e->attr_buf;
    if (!d->attr_size)
        return true;
    if (d->attr_size > ADJ_ATTR_INLINE) {
        dst = e->attr_buf.ext = adj_arena_alloc(t, d->attr_size);
        if (!dst)
            return false;
    }
    if (attr)
        memcpy(dst, attr, d->attr_size);
    else
        memset(dst, 0, d->attr_size);
    return true;
}

void *adj_attr(const adj_var *v) { return adj_attr_sized(v, adj_op_table[v->op]->attr_size); }

bool adj_shape_store_arena(adj_tape *t, adj_var *v, const int64_t *src)
{
    int64_t *dst = adj_arena_alloc(t, ADJ_MAX_DIMS * sizeof *dst);
    if (!dst)
        return false;
    memcpy(dst, src, (size_t)v->ndim * sizeof *dst);
    adj_cold(v)->shape = dst;
    return true;
}

/*
 * The scalar fast path for ops whose public function does not take it
 * itself (core/scalar.h): an elementwise op on f64 0-D operands needs no
 * shape rule, no arena and no loop.  Returns NULL when the call does not
 * qualify (or is invalid): the general path then handles (or reports) it.
 */
static inline adj_var *record_scalar(const adj_op_desc *d, adj_op op, adj_var *const *h,
                                     int nin, const void *attr, const char *file, int line)
{
    adj_scalar_in s;
    if (nin != d->arity || nin < 1 || nin > 2 ||
        !(nin == 1 ? adj_scalar_in1(&s, h[0]) : adj_scalar_in2(&s, h[0], h[1])))
        return NULL;
    adj_var *y = adj_scalar_node(&s, op, d->name, file, line);
    if (!y)
        return adj_h_out(s.t->inert);
    (void)copy_attr(s.t, d, adj_ext(y), attr); /* inline: cannot fail */
    return adj_scalar_done(s.t, y,
                           d->scalar_fwd(adj_scalar_val(s.a), s.b ? adj_scalar_val(s.b) : 0.0,
                                         adj_attr_sized(y, d->attr_size)));
}

/*
 * Point view y into the storage of its input at layout l (offset from
 * in[0]->value): no copy.  A one-element view is copied into the node
 * (so a 0-D operand is always inline, as the scalar paths expect).  False
 * after recording ADJ_ENOMEM (the strides live in the arena).
 */
static bool share_storage(adj_tape *t, adj_var *y, const adj_layout *l)
{
    adj_node_info *c = adj_cold(y);
    const size_t es = adj_dsize(y->dtype);
    const adj_var *x = y->in[0];
    char *first = (char *)x->value + (ptrdiff_t)l->offset * (ptrdiff_t)es;
    if (c->numel == 1) {
        y->value = &y->inl_value;
        memcpy(y->value, first, es);
        return true;
    }
    y->value = c->numel ? (void *)first : x->value;
    y->flags |= ADJ_F_VIEW;
    /* the strides share the cold part's pointer with inputs past the
     * third (ADJ_F_MORE): a view has one input */
    if (c->numel == 0 || adj_layout_is_contig(l))
        return true;
    adj_node_ext *e = adj_ext(y);
    e->stride = adj_arena_alloc(t, (size_t)y->ndim * sizeof *e->stride);
    if (!e->stride)
        return false;
    memcpy(e->stride, l->stride, (size_t)y->ndim * sizeof *e->stride);
    y->flags |= ADJ_F_STRIDED;
    return true;
}

/*
 * The inputs an op without ADJ_PROP_STRIDES reads: in itself when none is
 * strided, else a copy of in (in buf when nin <= n, else in the arena)
 * with each strided input replaced by a contiguous copy recorded first.
 * NULL after an error (on the tape).
 */
static adj_var *const *contig_inputs(adj_tape *t, adj_var *const *in, int nin, adj_var **buf,
                                     int n, const char *file, int line)
{
    int i = 0;
    if (nin <= 0)
        return in;
    while (i < nin && !(in[i] && (in[i]->flags & ADJ_F_STRIDED)))
        i++;
    if (i == nin)
        return in;
    adj_var **out = nin <= n ? buf : adj_arena_alloc(t, (size_t)nin * sizeof *out);
    if (!out)
        return NULL;
    memcpy(out, in, (size_t)nin * sizeof *out);
    for (; i < nin; i++)
        if (in[i] && (in[i]->flags & ADJ_F_STRIDED)) {
            out[i] = adj_contig_input(in[i], file, line);
            if (t->status != ADJ_OK)
                return NULL;
        }
    return out;
}

/*
 * The input checks of record for an op whose every input is present, a
 * float tensor of one dtype, current and on one tape (no optional or index
 * inputs, a fixed arity, the tape without an error): then true, with the
 * tape, the dtype and the gradient flag.  False leaves the call to
 * check_inputs, which finds and reports what failed.
 */
static inline bool plain_inputs(const adj_op_desc *d, adj_var *const *h, adj_var *const *in,
                                int nin, adj_tape **tp, int *dtype, uint8_t *need)
{
    if (nin != d->arity || nin < 1 || d->index_inputs || (d->props & ADJ_PROP_ANY_DTYPE) ||
        !in[0])
        return false;
    adj_tape *t = adj_node_tape(in[0]);
    const int dt = in[0]->dtype;
    if (t->status != ADJ_OK || dt == ADJ_I32)
        return false;
    uint8_t g = 0;
    for (int i = 0; i < nin; i++) {
        const adj_var *v = in[i];
        if (!v || adj_node_tape(v) != t || v->dtype != dt || !adj_live(t, v) ||
            !adj_h_current_t((uintptr_t)h[i], t) ||
            ((v->flags & (ADJ_F_EXTGRAD | ADJ_F_VIEW)) && !adj_tape_params_unmoved(t) &&
             adj_storage_stale(v)))
            return false;
        g |= v->flags & ADJ_F_GRAD;
    }
    *tp = t;
    *dtype = dt;
    *need = g;
    return true;
}

/*
 * Every input check of record, in order, each failure with its message:
 * true with the tape, the output's dtype and the gradient flag, or false
 * with *out the result to return (NULL without a tape, else the tape's
 * inert node).
 */
static __attribute__((noinline)) bool check_inputs(const adj_op_desc *d, adj_var *const *h,
                                                   adj_var *const *in, int nin, const char *file,
                                                   int line, adj_tape **tp, int *dtype_out,
                                                   uint8_t *need_out, adj_var **out)
{
#define RET_INERT                                                              \
    do {                                                                       \
        *out = t->inert;                                                       \
        return false;                                                          \
    } while (0)
    adj_tape *t = NULL;
    for (int i = 0; i < nin && !t; i++)
        if (in[i])
            t = adj_node_tape(in[i]);
    if (!t) {
        *out = NULL;
        return false;
    }
    if (t->status != ADJ_OK)
        RET_INERT;
    if (d->arity >= 0 ? nin != d->arity : nin < 1) {
        char why[96];
        snprintf(why, sizeof why, "%d inputs given, the op takes %s%d", nin,
                 d->arity >= 0 ? "" : "at least ", d->arity >= 0 ? d->arity : 1);
        fail_op(t, ADJ_EINVAL, d, in, nin, why, file, line);
        RET_INERT;
    }

    int dtype = -1;
    bool any_input = false;
    uint8_t need = 0;
    for (int i = 0; i < nin; i++) {
        adj_var *v = in[i];
        char why[96], nm[16];
        if (!v) {
            if (i < 32 && (d->optional >> i) & 1u)
                continue; /* e.g. a linear layer without bias */
            snprintf(why, sizeof why, "input %s is NULL", input_name(d, i, nin, nm, sizeof nm));
            fail_op(t, ADJ_EINVAL, d, in, nin, why, file, line);
            RET_INERT;
        }
        if (adj_node_tape(v) != t) {
            snprintf(why, sizeof why, "input %s belongs to another tape",
                     input_name(d, i, nin, nm, sizeof nm));
            fail_op(t, ADJ_ETAPE, d, in, nin, why, file, line);
            RET_INERT;
        }
        if (!adj_live(t, v) || !adj_h_current_t((uintptr_t)h[i], t)) {
            snprintf(why, sizeof why, "input %s was recorded before adj_tape_reset",
                     input_name(d, i, nin, nm, sizeof nm));
            fail_op(t, ADJ_ETAPE, d, in, nin, why, file, line);
            RET_INERT;
        }
        if ((v->flags & (ADJ_F_EXTGRAD | ADJ_F_VIEW)) && adj_storage_stale(v)) {
            const adj_var *root = v;
            while (root->flags & ADJ_F_VIEW)
                root = root->in[0];
            char who[96];
            snprintf(who, sizeof who, "adj_%s: input %s%s", d->name,
                     input_name(d, i, nin, nm, sizeof nm), root != v ? " (a view of it)" : "");
            adj_param_moved(t, root, who, file, line);
            RET_INERT;
        }
        const bool want_index = i < 32 && ((d->index_inputs >> i) & 1u);
        if (!(d->props & ADJ_PROP_ANY_DTYPE) && want_index != (v->dtype == ADJ_I32)) {
            snprintf(why, sizeof why,
                     want_index ? "input %s must be an index tensor (i32), not %s"
                                : "input %s is an index tensor (%s): the op takes f32 or f64",
                     input_name(d, i, nin, nm, sizeof nm), adj_dtype_name((adj_dtype)v->dtype));
            fail_op(t, ADJ_EDTYPE, d, in, nin, why, file, line);
            RET_INERT;
        }
        any_input = true;
        if (want_index)
            continue; /* no gradient flows into it; the output's dtype is the floats' */
        if (dtype < 0)
            dtype = v->dtype;
        else if (v->dtype != dtype) {
            fail_op(t, ADJ_EDTYPE, d, in, nin, "inputs must have one dtype (no implicit conversion)",
                    file, line);
            RET_INERT;
        }
        need |= v->flags & ADJ_F_GRAD;
    }
    if (!any_input) {
        fail_op(t, ADJ_EINVAL, d, in, nin, "every input is NULL", file, line);
        RET_INERT;
    }
    if (dtype < 0)
        dtype = ADJ_I32; /* only index inputs: the shape rule sets the dtype */
    *tp = t;
    *dtype_out = dtype;
    *need_out = need;
    return true;
#undef RET_INERT
}

/* Record op on inputs in[] (nodes: the handles h[] stripped). */
static adj_var *record(adj_op op, adj_var *const *h, adj_var *const *in, int nin,
                       const void *attr, const char *file, int line)
{
    const adj_op_desc *d = adj_op_table[op];
    adj_tape *t;
    int dtype;
    uint8_t need;
    if (!plain_inputs(d, h, in, nin, &t, &dtype, &need)) {
        adj_var *r;
        if (!check_inputs(d, h, in, nin, file, line, &t, &dtype, &need, &r))
            return r;
    }
    adj_var *gathered[8];
    if (!(d->props & ADJ_PROP_STRIDES)) {
        in = contig_inputs(t, in, nin, gathered, 8, file, line);
        if (!in)
            return t->inert;
    }

    adj_var *y = adj_new_node(t, d->name, file, line);
    if (!y)
        return t->inert;
    adj_node_info *c = adj_cold(y);
    t->rec_fn = d->name; /* for the arena's out-of-memory message */
    t->rec_file = file;
    t->rec_line = line;
    y->op = (uint8_t)op;
    y->dtype = (uint8_t)dtype;
    y->flags = need;
    y->in[0] = nin > 0 ? in[0] : NULL;
    y->in[1] = nin > 1 ? in[1] : NULL;
    y->in[2] = nin > 2 ? in[2] : NULL;
    c->nin = (uint32_t)nin;
    c->file = file;
    c->line = line;
    if (nin > 3) {
        adj_var **more = adj_arena_alloc(t, (size_t)(nin - 3) * sizeof *more);
        if (!more) {
            adj_drop_last_node(t);
            return t->inert;
        }
        memcpy(more, in + 3, (size_t)(nin - 3) * sizeof *more);
        adj_ext(y)->more = more;
        y->flags |= ADJ_F_MORE;
    }
    if (!copy_attr(t, d, adj_ext(y), attr)) {
        adj_drop_last_node(t);
        return t->inert;
    }

    char why[160];
    why[0] = '\0';
    int64_t sizes[ADJ_MAX_DIMS]; /* the shape rule writes here; then adj_shape_store */
    c->shape = sizes;
    adj_status s = d->shape(y, why, sizeof why);
    if (s == ADJ_OK && !adj_shape_numel(y->ndim, sizes, &c->numel)) {
        s = ADJ_EINVAL;
        snprintf(why, sizeof why, "the result has too many elements");
    }
    if (s != ADJ_OK) {
        adj_drop_last_node(t);
        fail_op(t, s, d, in, nin, why, file, line);
        return t->inert;
    }
    if (!adj_shape_store(t, y, sizes)) {
        adj_drop_last_node(t);
        return t->inert;
    }
    adj_layout view;
    if (d->view && d->view(y, &view)) {
        if (!share_storage(t, y, &view)) {
            adj_drop_last_node(t);
            return t->inert;
        }
        return y; /* its values were checked where they were made */
    }
    if (!adj_alloc_value(t, y)) {
        adj_drop_last_node(t);
        return t->inert;
    }
    d->forward(y);
    if (t->status != ADJ_OK) { /* a forward that needed scratch memory */
        adj_drop_last_node(t);
        return t->inert;
    }
    if (t->anomaly)
        adj_check_forward(t, y);
    return y;
}

/* Record an op (see record) from handles: strip and check them, tag the
 * result.  The out-of-memory context lasts only as long as the recording.
 * The scalar path reads the handles itself (and tags its result). */
adj_var *adj_record(adj_op op, adj_var *const *in, int nin, const void *attr, const char *file,
                    int line)
{
    const adj_op_desc *d = adj_op_table[op];
    if (d->scalar_fwd) {
        adj_var *y = record_scalar(d, op, in, nin, attr, file, line);
        if (y)
            return y;
    }
    adj_var *buf[8], **raw = buf;
    if (nin > 8) {
        adj_tape *t = NULL;
        for (int i = 0; i < nin && !t; i++)
            if (in[i])
                t = adj_node_tape(adj_h_raw(in[i]));
        if (!t)
            return NULL;
        if (t->status != ADJ_OK)
            return adj_h_out(t->inert);
        raw = adj_arena_alloc(t, (size_t)nin * sizeof *raw);
        if (!raw)
            return adj_h_out(t->inert);
    }
    for (int i = 0; i < nin; i++)
        raw[i] = adj_h_raw(in[i]);
    adj_var *y = record(op, in, raw, nin, attr, file, line);
    if (!y)
        return NULL;
    adj_node_tape(y)->rec_fn = NULL;
    return adj_h_out(y);
}

/*
 * adj_record for an op of one input whose result has the input's shape
 * (shape rule adj_shape_same), no attributes and no view rule, as the
 * public functions of the elementwise ops without a constant call it,
 * after their own scalar path declined.  A contiguous or strided input of
 * at most ADJ_SHAPE_INLINE dimensions on a tape without an error records
 * the node record would, with the shape and the element count copied from
 * the input instead of the shape rule, the count's overflow check and the
 * shape's copy (none of which can change them here).  Anything else,
 * every error included, takes adj_record, so messages do not change.
 */
adj_var *adj_record_same1(adj_op op, adj_var *h, const char *file, int line)
{
    const adj_op_desc *d = adj_op_table[op];
    adj_var *x = adj_h_raw(h);
    if (!x || x->ndim > ADJ_SHAPE_INLINE || (x->ndim == 0 && x->dtype == ADJ_F64) ||
        d->arity != 1 || d->shape != adj_shape_same || d->attr_size || d->view || d->index_inputs ||
        (d->props & ADJ_PROP_ANY_DTYPE) ||
        ((x->flags & ADJ_F_STRIDED) && !(d->props & ADJ_PROP_STRIDES)))
        return adj_record(op, &h, 1, NULL, file, line);
    adj_var *const raw[1] = {x};
    adj_tape *t;
    int dtype;
    uint8_t need;
    if (!plain_inputs(d, &h, raw, 1, &t, &dtype, &need))
        return adj_record(op, &h, 1, NULL, file, line);
    adj_var *y = adj_new_node(t, d->name, file, line);
    if (!y)
        return adj_h_out(t->inert);
    adj_node_info *c = adj_cold(y);
    const adj_node_info *cx = adj_cold(x);
    t->rec_fn = d->name; /* for the arena's out-of-memory message */
    t->rec_file = file;
    t->rec_line = line;
    y->op = (uint8_t)op;
    y->dtype = (uint8_t)dtype;
    y->flags = need;
    y->in[0] = x;
    y->in[1] = NULL;
    y->in[2] = NULL;
    c->nin = 1;
    c->file = file;
    c->line = line;
    y->ndim = x->ndim;
    for (int k = 0; k < ADJ_SHAPE_INLINE; k++) /* c->shape is shape_in */
        if (k < x->ndim)
            c->shape[k] = cx->shape[k];
    c->numel = cx->numel;
    adj_var *r = y;
    if (!adj_alloc_value(t, y)) {
        adj_drop_last_node(t);
        r = t->inert;
    } else {
        d->forward(y);
        if (t->status != ADJ_OK) { /* a forward that needed scratch memory */
            adj_drop_last_node(t);
            r = t->inert;
        } else if (t->anomaly) {
            adj_check_forward(t, y);
        }
    }
    t->rec_fn = NULL;
    return adj_h_out(r);
}
