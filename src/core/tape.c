/*
 * The tape: lifecycle, sticky errors, recording of nodes, leaves and
 * accessors.  The backward sweep lives in backward.c.
 */
#include "core/tape.h"
#include "ops/op.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ------------------------------------------------------------ lifecycle */

/* Bytes to allocate for a chunk-aligned region holding `bytes` after the
 * aligned start. */
#define ALIGNED_ALLOC(bytes) ((bytes) + ADJ_CHUNK_HOT)

static void *chunk_align(void *raw)
{
    return (void *)(((uintptr_t)raw + ADJ_CHUNK_HOT - 1) & ~(uintptr_t)(ADJ_CHUNK_HOT - 1));
}

#define INERT_BYTES ALIGNED_ALLOC(ADJ_CHUNK_HOT + sizeof(adj_node_info))

/* The inert var is slot 0 of a chunk-aligned region of its own, so that
 * adj_cold finds its cold part like any node's; only two pages of the
 * region are ever touched. */
static bool init_inert(adj_tape *t)
{
    t->inert_mem = t->al.alloc(t->al.ctx, INERT_BYTES);
    if (!t->inert_mem)
        return false;
    t->allocations++;
    adj_var *v = chunk_align(t->inert_mem);
    memset(v, 0, sizeof *v);
    adj_node_info *c = adj_cold(v);
    memset(c, 0, sizeof *c);
    c->tape = t;
    c->numel = 1;
    v->dtype = ADJ_F64;
    v->flags = ADJ_F_INERT;
    v->inl_value.d = NAN;
    v->value = &v->inl_value;
    t->inert = v;
    return true;
}

adj_tape *adj_tape_new_with(const adj_allocator *a)
{
    if (!a || !a->alloc || !a->free)
        a = &adj_default_allocator;
    adj_tape *t = a->alloc(a->ctx, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->al = *a;
    t->allocations = 1;
    if (!init_inert(t)) {
        a->free(a->ctx, t, sizeof *t);
        return NULL;
    }
    return t;
}

adj_tape *adj_tape_new(void) { return adj_tape_new_with(NULL); }

void adj_tape_reset(adj_tape *t)
{
    if (!t)
        return;
    adj_arena_reset(t);
    t->nnodes = 0;
    t->cur_node = t->cur_end = NULL;
    t->cur_info = NULL;
    t->gen++;
    t->sweeps = 0;
    t->status = ADJ_OK;
    t->msg[0] = '\0';
}

void adj_tape_free(adj_tape *t)
{
    if (!t)
        return;
    adj_arena_free(t);
    for (size_t i = 0; i < t->nchunks; i++)
        t->al.free(t->al.ctx, t->chunk_mem[i], ALIGNED_ALLOC(ADJ_CHUNK_BYTES));
    t->al.free(t->al.ctx, t->inert_mem, INERT_BYTES);
    if (t->chunks)
        t->al.free(t->al.ctx, t->chunks, 2 * t->chunks_cap * sizeof *t->chunks);
    adj_allocator al = t->al;
    al.free(al.ctx, t, sizeof *t);
}

adj_status adj_tape_status(const adj_tape *t) { return t ? t->status : ADJ_EINVAL; }

const char *adj_tape_message(const adj_tape *t)
{
    return t ? t->msg : "adj_tape_message: the tape is NULL";
}

void adj_tape_set_error_hook(adj_tape *t, adj_error_hook hook, void *user)
{
    if (t) {
        t->hook = hook;
        t->hook_user = user;
    }
}

void adj_tape_set_limit(adj_tape *t, size_t bytes)
{
    if (t)
        t->limit = bytes;
}

void adj_tape_set_anomaly(adj_tape *t, int on)
{
    if (t)
        t->anomaly = on != 0;
}

void adj_tape_get_stats(const adj_tape *t, adj_tape_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!t)
        return;
    out->nodes = t->nnodes;
    out->bytes_used = t->used + t->nnodes * sizeof(adj_var);
    out->bytes_reserved = t->reserved;
    out->high_water = t->high_water;
    out->allocations = t->allocations;
}

size_t adj_tape_size(const adj_tape *t) { return t ? t->nnodes : 0; }

adj_var *adj_tape_node(const adj_tape *t, size_t id)
{
    return t && id < t->nnodes ? adj_node_at(t, id) : NULL;
}

void adj_tape_fail(adj_tape *t, adj_status s, const char *fmt, ...)
{
    if (t->status != ADJ_OK)
        return; /* the first error is the one that explains the rest */
    t->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    if (t->hook)
        t->hook(t, s, t->msg, t->hook_user);
}

/* ------------------------------------------------------------ recording */

/* Move recording to the next chunk of nodes, allocating it if needed. */
static bool next_chunk(adj_tape *t)
{
    size_t chunk = t->nnodes / ADJ_NODE_CHUNK;
    if (chunk >= t->nchunks) {
        if (t->nchunks == t->chunks_cap) {
            /* one allocation holds both arrays: aligned chunks, then raw pointers */
            size_t cap = t->chunks_cap ? 2 * t->chunks_cap : 16;
            adj_var **c = t->al.alloc(t->al.ctx, 2 * cap * sizeof *c);
            if (!c)
                return false;
            t->allocations++;
            void **mem = (void **)(c + cap);
            if (t->chunks) {
                memcpy(c, t->chunks, t->nchunks * sizeof *c);
                memcpy(mem, t->chunk_mem, t->nchunks * sizeof *mem);
                t->al.free(t->al.ctx, t->chunks, 2 * t->chunks_cap * sizeof *c);
            }
            t->chunks = c;
            t->chunk_mem = mem;
            t->chunks_cap = cap;
        }
        /* hot nodes (aligned to their total size), then their cold parts */
        size_t bytes = ALIGNED_ALLOC(ADJ_CHUNK_BYTES);
        if (t->limit && t->reserved + bytes > t->limit)
            return false;
        void *raw = t->al.alloc(t->al.ctx, bytes);
        if (!raw)
            return false;
        t->allocations++;
        t->reserved += bytes;
        t->chunk_mem[t->nchunks] = raw;
        t->chunks[t->nchunks++] = chunk_align(raw);
    }
    t->cur_node = t->chunks[chunk];
    t->cur_end = t->cur_node + ADJ_NODE_CHUNK;
    t->cur_info = adj_info_at(t, t->nnodes);
    return true;
}

/* " [at file:line]" when the caller is known */
#define AT_FMT "%s%s%s%.0d%s"
#define AT_ARGS(file, line) \
    (file) ? " [at " : "", (file) ? (file) : "", (file) ? ":" : "", (file) ? (line) : 0, (file) ? "]" : ""

/* A fresh node at the end of the tape, or NULL after recording ENOMEM. */
static inline adj_var *new_node(adj_tape *t, const char *opname, const char *file, int line)
{
    if (t->cur_node == t->cur_end && !next_chunk(t)) {
        adj_tape_fail(t, ADJ_ENOMEM,
                      "adj_%s: out of memory: no room for node %zu (%zu bytes reserved%s)" AT_FMT,
                      opname, t->nnodes, t->reserved, t->limit ? ", limit reached" : "",
                      AT_ARGS(file, line));
        return NULL;
    }
    adj_var *v = t->cur_node++;
    adj_node_info *c = t->cur_info++;
    v->grad = NULL;
    v->mark = 0;
    c->tape = t;
    c->id = (uint32_t)t->nnodes++;
    c->gen = t->gen;
    c->attr = NULL;
    c->more = NULL;
    c->name = NULL;
    return v;
}

/* Allocate v->value for v->numel elements (inline for one element). */
static inline bool alloc_value(adj_tape *t, adj_var *v)
{
    if (adj_cold(v)->numel == 1) {
        v->value = &v->inl_value;
        return true;
    }
    v->value = adj_arena_alloc(t, adj_cold(v)->numel * adj_dsize(v->dtype));
    return v->value != NULL;
}

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

static void check_forward(adj_tape *t, adj_var *y)
{
    size_t bad = 0;
    int found = 0;
    for (size_t i = 0; i < adj_cold(y)->numel && !found; i++) {
        double v = adj_elem_get(y->value, y->dtype, i);
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

static inline bool live(const adj_tape *t, const adj_var *v)
{
    return !(v->flags & ADJ_F_INERT) && adj_cold(v)->gen == t->gen && adj_cold(v)->id < t->nnodes;
}

/* Give node y (cold part c) a copy of the op's attributes (zeros for a
 * NULL attr); false after recording ENOMEM. */
static inline bool copy_attr(adj_tape *t, const adj_op_desc *d, adj_node_info *c, const void *attr)
{
    if (!d->attr_size) {
        c->attr = NULL;
        return true;
    }
    if (d->attr_size <= ADJ_ATTR_INLINE) {
        c->attr = &c->attr_buf;
    } else {
        c->attr = adj_arena_alloc(t, d->attr_size);
        if (!c->attr)
            return false;
    }
    if (attr)
        memcpy(c->attr, attr, d->attr_size);
    else
        memset(c->attr, 0, d->attr_size);
    return true;
}

/*
 * The scalar fast path: an elementwise op on f64 0-D operands needs no
 * shape rule, no arena and no loop.  Returns NULL when the call does not
 * qualify (or is invalid): the general path then handles (or reports) it.
 */
static inline adj_var *record_scalar(const adj_op_desc *d, adj_op op, adj_var *const *in, int nin,
                                     const void *attr, const char *file, int line)
{
    adj_var *a = in[0], *b = nin > 1 ? in[1] : NULL;
    if (nin != d->arity || !a || a->ndim != 0 || a->dtype != ADJ_F64)
        return NULL;
    adj_tape *t = adj_cold(a)->tape;
    if (t->status != ADJ_OK || !live(t, a))
        return NULL;
    if (nin > 1 && (!b || b->ndim != 0 || b->dtype != ADJ_F64 || adj_cold(b)->tape != t || !live(t, b)))
        return NULL;
    adj_var *y = new_node(t, d->name, file, line);
    if (!y)
        return t->inert;
    adj_node_info *c = adj_cold(y);
    y->op = (uint8_t)op;
    y->dtype = ADJ_F64;
    y->ndim = 0;
    c->numel = 1;
    c->nin = (uint32_t)nin;
    y->flags = (uint8_t)((a->flags | (b ? b->flags : 0)) & ADJ_F_GRAD);
    y->in[0] = a;
    y->in[1] = b;
    y->in[2] = NULL;
    (void)copy_attr(t, d, c, attr); /* inline: cannot fail */
    c->file = file;
    c->line = line;
    y->value = &y->inl_value;
    y->inl_value.d = d->scalar_fwd(*(const double *)a->value, b ? *(const double *)b->value : 0.0,
                                   c->attr);
    if (t->anomaly)
        check_forward(t, y);
    return y;
}

static adj_var *record(adj_op op, adj_var *const *in, int nin, const void *attr,
                    const char *file, int line)
{
    const adj_op_desc *d = adj_op_table[op];
    if (d->scalar_fwd) {
        adj_var *y = record_scalar(d, op, in, nin, attr, file, line);
        if (y)
            return y;
    }
    adj_tape *t = NULL;
    for (int i = 0; i < nin && !t; i++)
        if (in[i])
            t = adj_cold(in[i])->tape;
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return t->inert;
    if (d->arity >= 0 ? nin != d->arity : nin < 1) {
        char why[96];
        snprintf(why, sizeof why, "%d inputs given, the op takes %s%d", nin,
                 d->arity >= 0 ? "" : "at least ", d->arity >= 0 ? d->arity : 1);
        fail_op(t, ADJ_EINVAL, d, in, nin, why, file, line);
        return t->inert;
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
            return t->inert;
        }
        if (adj_cold(v)->tape != t) {
            snprintf(why, sizeof why, "input %s belongs to another tape",
                     input_name(d, i, nin, nm, sizeof nm));
            fail_op(t, ADJ_ETAPE, d, in, nin, why, file, line);
            return t->inert;
        }
        if (!live(t, v)) {
            snprintf(why, sizeof why, "input %s was recorded before adj_tape_reset",
                     input_name(d, i, nin, nm, sizeof nm));
            fail_op(t, ADJ_ETAPE, d, in, nin, why, file, line);
            return t->inert;
        }
        const bool want_index = i < 32 && ((d->index_inputs >> i) & 1u);
        if (want_index != (v->dtype == ADJ_I32)) {
            snprintf(why, sizeof why,
                     want_index ? "input %s must be an index tensor (i32), not %s"
                                : "input %s is an index tensor (%s): the op takes f32 or f64",
                     input_name(d, i, nin, nm, sizeof nm), adj_dtype_name((adj_dtype)v->dtype));
            fail_op(t, ADJ_EDTYPE, d, in, nin, why, file, line);
            return t->inert;
        }
        any_input = true;
        if (want_index)
            continue; /* no gradient flows into it; the output's dtype is the floats' */
        if (dtype < 0)
            dtype = v->dtype;
        else if (v->dtype != dtype) {
            fail_op(t, ADJ_EDTYPE, d, in, nin, "inputs must have one dtype (no implicit conversion)",
                    file, line);
            return t->inert;
        }
        need |= v->flags & ADJ_F_GRAD;
    }
    if (!any_input) {
        fail_op(t, ADJ_EINVAL, d, in, nin, "every input is NULL", file, line);
        return t->inert;
    }
    if (dtype < 0)
        dtype = ADJ_I32; /* only index inputs: the shape rule sets the dtype */

    adj_var *y = new_node(t, d->name, file, line);
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
        c->more = adj_arena_alloc(t, (size_t)(nin - 3) * sizeof *c->more);
        if (!c->more) {
            adj_drop_last_node(t);
            return t->inert;
        }
        memcpy(c->more, in + 3, (size_t)(nin - 3) * sizeof *c->more);
        y->flags |= ADJ_F_MORE;
    }
    if (!copy_attr(t, d, c, attr)) {
        adj_drop_last_node(t);
        return t->inert;
    }

    char why[160] = "";
    adj_status s = d->shape(y, why, sizeof why);
    if (s == ADJ_OK && !adj_shape_numel(y->ndim, c->shape, &c->numel)) {
        s = ADJ_EINVAL;
        snprintf(why, sizeof why, "the result has too many elements");
    }
    if (s != ADJ_OK) {
        adj_drop_last_node(t);
        fail_op(t, s, d, in, nin, why, file, line);
        return t->inert;
    }
    if (!alloc_value(t, y)) {
        adj_drop_last_node(t);
        return t->inert;
    }
    d->forward(y);
    if (t->status != ADJ_OK) { /* a forward that needed scratch memory */
        adj_drop_last_node(t);
        return t->inert;
    }
    if (t->anomaly)
        check_forward(t, y);
    return y;
}

/* Record an op (see record); the out-of-memory context lasts only as long
 * as the recording. */
adj_var *adj_record(adj_op op, adj_var *const *in, int nin, const void *attr, const char *file,
                    int line)
{
    adj_var *y = record(op, in, nin, attr, file, line);
    if (y)
        adj_cold(y)->tape->rec_fn = NULL;
    return y;
}

/* --------------------------------------------------------------- leaves */

/* A leaf recorded by the public function adj_<fn> (named in messages). */
static adj_var *leaf(adj_tape *t, const char *fn, adj_dtype dtype, int ndim, const int64_t *shape,
                     const void *data, int requires_grad, const char *file, int line)
{
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return t->inert;
    size_t numel;
    if (dtype != ADJ_F32 && dtype != ADJ_F64 && dtype != ADJ_I32) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_%s: invalid dtype %d" AT_FMT, fn, (int)dtype,
                      AT_ARGS(file, line));
        return t->inert;
    }
    if (dtype == ADJ_I32 && requires_grad) {
        adj_tape_fail(t, ADJ_EDTYPE, "adj_%s: an index tensor (i32) takes no gradient" AT_FMT, fn,
                      AT_ARGS(file, line));
        return t->inert;
    }
    if (ndim < 0 || ndim > ADJ_MAX_DIMS) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_%s: invalid number of dimensions %d (0..%d)" AT_FMT, fn,
                      ndim, ADJ_MAX_DIMS, AT_ARGS(file, line));
        return t->inert;
    }
    if (ndim > 0 && !shape) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_%s: shape is NULL (%d dimensions)" AT_FMT, fn, ndim,
                      AT_ARGS(file, line));
        return t->inert;
    }
    if (!adj_shape_numel(ndim, shape, &numel)) {
        char sh[96];
        adj_fmt_shape(sh, sizeof sh, ndim, shape);
        adj_tape_fail(t, ADJ_EINVAL,
                      "adj_%s: invalid shape %s: negative size or too many elements" AT_FMT, fn, sh,
                      AT_ARGS(file, line));
        return t->inert;
    }
    adj_var *v = new_node(t, fn, file, line);
    if (!v)
        return t->inert;
    v->op = ADJ_LEAF_OP;
    v->dtype = (uint8_t)dtype;
    v->ndim = (uint8_t)ndim;
    v->flags = requires_grad ? ADJ_F_GRAD : 0;
    v->in[0] = v->in[1] = v->in[2] = NULL;
    adj_cold(v)->nin = 0;
    adj_cold(v)->file = file;
    adj_cold(v)->line = line;
    adj_cold(v)->numel = numel;
    for (int i = 0; i < ndim; i++)
        adj_cold(v)->shape[i] = shape[i];
    t->rec_fn = fn;
    t->rec_file = file;
    t->rec_line = line;
    bool ok = alloc_value(t, v);
    t->rec_fn = NULL;
    if (!ok) {
        adj_drop_last_node(t);
        return t->inert;
    }
    size_t bytes = numel * adj_dsize(dtype);
    if (data)
        memcpy(v->value, data, bytes);
    else
        memset(v->value, 0, bytes);
    if (t->anomaly)
        check_forward(t, v);
    return v;
}

adj_var *adj_leaf_at(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape,
                     const void *data, int requires_grad, const char *file, int line)
{
    return leaf(t, "leaf", dtype, ndim, shape, data, requires_grad, file, line);
}

adj_var *adj_leaf_view(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape, void *data,
                       int requires_grad, const char *file, int line)
{
    return adj_leaf_view_as(t, "constant_view", dtype, ndim, shape, data, requires_grad, file,
                            line);
}

adj_var *adj_leaf_view_as(adj_tape *t, const char *fn, adj_dtype dtype, int ndim,
                          const int64_t *shape, void *data, int requires_grad, const char *file,
                          int line)
{
    /* record a 0-D leaf (no copy, no arena), then give it the real shape */
    adj_var *v = leaf(t, fn, dtype, 0, NULL, NULL, requires_grad, file, line);
    size_t numel;
    if (v->flags & ADJ_F_INERT)
        return v;
    if (ndim < 0 || ndim > ADJ_MAX_DIMS || (ndim > 0 && !shape) || !adj_shape_numel(ndim, shape, &numel)) {
        char sh[96] = "(NULL)";
        if (ndim >= 0 && ndim <= ADJ_MAX_DIMS && (ndim == 0 || shape))
            adj_fmt_shape(sh, sizeof sh, ndim, shape);
        adj_drop_last_node(t);
        adj_tape_fail(t, ADJ_EINVAL,
                      "adj_%s: invalid shape %s (%d dimensions): 0..%d dimensions, "
                      "sizes >= 0, not too many elements" AT_FMT,
                      fn, sh, ndim, ADJ_MAX_DIMS, AT_ARGS(file, line));
        return t->inert;
    }
    v->ndim = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++)
        adj_cold(v)->shape[i] = shape[i];
    adj_cold(v)->numel = numel;
    v->value = data;
    if (t->anomaly)
        check_forward(t, v);
    return v;
}

adj_var *adj_constant_view_at(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape,
                              const void *data, const char *file, int line)
{
    size_t numel;
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return t->inert;
    if (!data && ndim >= 0 && ndim <= ADJ_MAX_DIMS && (ndim == 0 || shape) &&
        adj_shape_numel(ndim, shape, &numel) && numel > 0) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_constant_view: data is NULL" AT_FMT, AT_ARGS(file, line));
        return t->inert;
    }
    /* the view never writes through data: constants receive no adjoint */
    return adj_leaf_view(t, dtype, ndim, shape, (void *)(uintptr_t)data, 0, file, line);
}

adj_var *adj_index_at(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data,
                      const char *file, int line)
{
    return leaf(t, "index", ADJ_I32, ndim, shape, data, 0, file, line);
}

adj_var *adj_index_view_at(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data,
                           const char *file, int line)
{
    return adj_constant_view_at(t, ADJ_I32, ndim, shape, data, file, line);
}

adj_var *(adj_index)(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data)
{
    return leaf(t, "index", ADJ_I32, ndim, shape, data, 0, NULL, 0);
}

adj_var *(adj_index_view)(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data)
{
    return adj_constant_view_at(t, ADJ_I32, ndim, shape, data, NULL, 0);
}

adj_var *adj_scalar_at(adj_tape *t, double value, const char *file, int line)
{
    return leaf(t, "scalar", ADJ_F64, 0, NULL, &value, 1, file, line);
}

adj_var *adj_tensor_f64_at(adj_tape *t, int ndim, const int64_t *shape, const double *data,
                           const char *file, int line)
{
    return leaf(t, "tensor_f64", ADJ_F64, ndim, shape, data, 1, file, line);
}
adj_var *adj_tensor_f32_at(adj_tape *t, int ndim, const int64_t *shape, const float *data,
                           const char *file, int line)
{
    return leaf(t, "tensor_f32", ADJ_F32, ndim, shape, data, 1, file, line);
}
adj_var *adj_constant_f64_at(adj_tape *t, int ndim, const int64_t *shape, const double *data,
                             const char *file, int line)
{
    return leaf(t, "constant_f64", ADJ_F64, ndim, shape, data, 0, file, line);
}
adj_var *adj_constant_f32_at(adj_tape *t, int ndim, const int64_t *shape, const float *data,
                             const char *file, int line)
{
    return leaf(t, "constant_f32", ADJ_F32, ndim, shape, data, 0, file, line);
}

adj_var *(adj_scalar)(adj_tape *t, double value) { return adj_scalar_at(t, value, NULL, 0); }
adj_var *(adj_tensor_f64)(adj_tape *t, int ndim, const int64_t *shape, const double *data)
{
    return leaf(t, "tensor_f64", ADJ_F64, ndim, shape, data, 1, NULL, 0);
}
adj_var *(adj_tensor_f32)(adj_tape *t, int ndim, const int64_t *shape, const float *data)
{
    return leaf(t, "tensor_f32", ADJ_F32, ndim, shape, data, 1, NULL, 0);
}
adj_var *(adj_constant_f64)(adj_tape *t, int ndim, const int64_t *shape, const double *data)
{
    return leaf(t, "constant_f64", ADJ_F64, ndim, shape, data, 0, NULL, 0);
}
adj_var *(adj_constant_f32)(adj_tape *t, int ndim, const int64_t *shape, const float *data)
{
    return leaf(t, "constant_f32", ADJ_F32, ndim, shape, data, 0, NULL, 0);
}

/* ------------------------------------------------------------ accessors */

size_t adj_numel(const adj_var *v) { return v ? adj_cold(v)->numel : 0; }
int adj_ndim(const adj_var *v) { return v ? v->ndim : -1; }
int64_t adj_dim(const adj_var *v, int axis)
{
    return v && axis >= 0 && axis < v->ndim ? adj_cold(v)->shape[axis] : -1;
}
adj_dtype adj_var_dtype(const adj_var *v) { return v ? (adj_dtype)v->dtype : ADJ_F64; }
adj_tape *adj_var_tape(const adj_var *v) { return v ? adj_cold(v)->tape : NULL; }
size_t adj_var_id(const adj_var *v) { return v ? adj_cold(v)->id : 0; }
int adj_requires_grad(const adj_var *v) { return v && (v->flags & ADJ_F_GRAD); }
adj_op adj_var_op(const adj_var *v) { return (adj_op)(v ? v->op : ADJ_LEAF_OP); }
const void *adj_data(const adj_var *v) { return v ? v->value : NULL; }
const void *adj_grad_data(const adj_var *v) { return v ? v->grad : NULL; }

static double elem(const void *p, int dtype, size_t i)
{
    return adj_elem_get(p, dtype, i);
}

double adj_value_at(const adj_var *v, size_t i)
{
    if (!v || i >= adj_cold(v)->numel)
        return NAN;
    return elem(v->value, v->dtype, i);
}

double adj_grad_at(const adj_var *v, size_t i)
{
    if (!v || i >= adj_cold(v)->numel)
        return NAN;
    return v->grad ? elem(v->grad, v->dtype, i) : 0.0;
}

double adj_item(const adj_var *v) { return v && adj_cold(v)->numel == 1 ? adj_value_at(v, 0) : NAN; }
double adj_grad_item(const adj_var *v) { return v && adj_cold(v)->numel == 1 ? adj_grad_at(v, 0) : NAN; }

adj_status adj_copy_value(const adj_var *v, double *out)
{
    if (!v || !out)
        return ADJ_EINVAL;
    for (size_t i = 0; i < adj_cold(v)->numel; i++)
        out[i] = elem(v->value, v->dtype, i);
    return ADJ_OK;
}

adj_status adj_copy_grad(const adj_var *v, double *out)
{
    if (!v || !out)
        return ADJ_EINVAL;
    for (size_t i = 0; i < adj_cold(v)->numel; i++)
        out[i] = v->grad ? elem(v->grad, v->dtype, i) : 0.0;
    return ADJ_OK;
}

void adj_shape_string(const adj_var *v, char *buf, size_t size)
{
    if (!v) {
        if (size)
            snprintf(buf, size, "(null)");
        return;
    }
    adj_fmt_shape(buf, size, v->ndim, adj_cold(v)->shape);
}
