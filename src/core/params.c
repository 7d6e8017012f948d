/*
 * The parameter store: trainable tensors of one dtype in two contiguous
 * blocks (values, gradients), so optimizers are flat loops and one
 * all-reduce can cover every gradient.
 */
#include "core/handle.h"
#include "core/tape.h"
#include "core/pool.h"
#include "core/record.h"

#include <stdarg.h>
#include <string.h>

#define NAME_MAX_LEN 48

typedef struct pinfo {
    char name[NAME_MAX_LEN];
    int ndim;
    int64_t shape[ADJ_MAX_DIMS];
    size_t offset, numel;
    bool lazy0; /* zeroed, not yet in memory */
    bool exact0; /* by adj_params_zero_grad: only an exact store may take the mark */
} pinfo;

struct adj_params {
    adj_allocator al;
    adj_dtype dtype;
    pinfo *info;
    int count, cap;
    size_t numel, block_cap; /* elements used / allocated in each block */
    int lazy; /* tensors whose lazy0 is set */
    bool shown; /* the gradients' address was given out (see adj_params_zero_grad) */
    void *values, *grads;
    adj_status status;
    char msg[256];
};

static void pfail(adj_params *p, adj_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void pfail(adj_params *p, adj_status s, const char *fmt, ...)
{
    p->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
}

void adj_params_fail(adj_params *p, adj_status s, const char *fmt, ...)
{
    char msg[sizeof p->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pfail(p, s, "%s", msg);
}

adj_params *adj_params_new_with(adj_dtype dtype, const adj_allocator *a)
{
    if (dtype != ADJ_F32 && dtype != ADJ_F64)
        return NULL;
    if (!a || !a->alloc || !a->free)
        a = &adj_default_allocator;
    adj_params *p = a->alloc(a->ctx, sizeof *p);
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->al = *a;
    p->dtype = dtype;
    return p;
}

adj_params *adj_params_new(adj_dtype dtype) { return adj_params_new_with(dtype, NULL); }

const adj_allocator *adj_params_allocator(const adj_params *p)
{
    return p ? &p->al : &adj_default_allocator;
}

void adj_params_free(adj_params *p)
{
    if (!p)
        return;
    size_t es = adj_dsize(p->dtype);
    if (p->values)
        p->al.free(p->al.ctx, p->values, p->block_cap * es);
    if (p->grads)
        p->al.free(p->al.ctx, p->grads, p->block_cap * es);
    if (p->info)
        p->al.free(p->al.ctx, p->info, (size_t)p->cap * sizeof *p->info);
    adj_allocator al = p->al;
    al.free(al.ctx, p, sizeof *p);
}

/* Grow both blocks to hold `need` elements; copies what is there. */
static bool grow_blocks(adj_params *p, size_t need)
{
    if (need <= p->block_cap)
        return true;
    size_t cap = p->block_cap ? p->block_cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    size_t es = adj_dsize(p->dtype);
    if (cap > SIZE_MAX / es)
        return false;
    void *v = p->al.alloc(p->al.ctx, cap * es);
    void *g = v ? p->al.alloc(p->al.ctx, cap * es) : NULL;
    if (!v || !g) {
        if (v)
            p->al.free(p->al.ctx, v, cap * es);
        return false;
    }
    memset(v, 0, cap * es);
    memset(g, 0, cap * es);
    if (p->values) {
        memcpy(v, p->values, p->numel * es);
        memcpy(g, p->grads, p->numel * es);
        p->al.free(p->al.ctx, p->values, p->block_cap * es);
        p->al.free(p->al.ctx, p->grads, p->block_cap * es);
    }
    p->values = v;
    p->grads = g;
    p->block_cap = cap;
    p->shown = false; /* an address given out before points into the old block */
    return true;
}

int adj_params_add(adj_params *p, const char *name, int ndim, const int64_t *shape)
{
    if (!p)
        return -1;
    size_t numel;
    char sh[96] = "(?)";
    if (ndim < 0 || ndim > ADJ_MAX_DIMS || (ndim > 0 && !shape)) {
        pfail(p, ADJ_EINVAL, "adj_params_add: %s %d for '%s'",
              ndim < 0 || ndim > ADJ_MAX_DIMS ? "invalid number of dimensions" : "NULL shape with ndim",
              ndim, name ? name : "");
        return -1;
    }
    if (!adj_shape_numel(ndim, shape, &numel)) {
        adj_fmt_shape(sh, sizeof sh, ndim, shape);
        pfail(p, ADJ_EINVAL, "adj_params_add: invalid shape %s for '%s'", sh, name ? name : "");
        return -1;
    }
    if (p->count == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        pinfo *in = p->al.alloc(p->al.ctx, (size_t)cap * sizeof *in);
        if (!in) {
            pfail(p, ADJ_ENOMEM, "adj_params_add: out of memory for '%s'", name ? name : "");
            return -1;
        }
        if (p->info) {
            memcpy(in, p->info, (size_t)p->count * sizeof *in);
            p->al.free(p->al.ctx, p->info, (size_t)p->cap * sizeof *p->info);
        }
        p->info = in;
        p->cap = cap;
    }
    /* keep each tensor 64-byte aligned inside the blocks */
    size_t align = 64 / adj_dsize(p->dtype);
    size_t off = (p->numel + align - 1) / align * align;
    if (numel > SIZE_MAX / 16 - off || !grow_blocks(p, off + numel)) {
        adj_fmt_shape(sh, sizeof sh, ndim, shape);
        pfail(p, ADJ_ENOMEM, "adj_params_add: out of memory for '%s' %s", name ? name : "", sh);
        return -1;
    }
    pinfo *pi = &p->info[p->count];
    memset(pi, 0, sizeof *pi);
    snprintf(pi->name, sizeof pi->name, "%s", name ? name : "");
    pi->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        pi->shape[i] = shape[i];
    pi->offset = off;
    pi->numel = numel;
    p->numel = off + numel;
    return p->count++;
}

adj_status adj_params_status(const adj_params *p) { return p ? p->status : ADJ_EINVAL; }
const char *adj_params_message(const adj_params *p) { return p ? p->msg : "NULL parameter store"; }
int adj_params_count(const adj_params *p) { return p ? p->count : 0; }
adj_dtype adj_params_dtype(const adj_params *p) { return p ? p->dtype : ADJ_F64; }
size_t adj_params_numel(const adj_params *p) { return p ? p->numel : 0; }

static const pinfo *info(const adj_params *p, int i)
{
    return p && i >= 0 && i < p->count ? &p->info[i] : NULL;
}

size_t adj_params_tensor_numel(const adj_params *p, int i)
{
    const pinfo *pi = info(p, i);
    return pi ? pi->numel : 0;
}
int adj_params_tensor_ndim(const adj_params *p, int i)
{
    const pinfo *pi = info(p, i);
    return pi ? pi->ndim : -1;
}
const int64_t *adj_params_tensor_shape(const adj_params *p, int i)
{
    const pinfo *pi = info(p, i);
    return pi ? pi->shape : NULL;
}
const char *adj_params_tensor_name(const adj_params *p, int i)
{
    const pinfo *pi = info(p, i);
    return pi ? pi->name : NULL;
}
size_t adj_params_offset(const adj_params *p, int i)
{
    const pinfo *pi = info(p, i);
    return pi ? pi->offset : 0;
}
void *adj_params_values(adj_params *p) { return p ? p->values : NULL; }
void *adj_params_value(adj_params *p, int i)
{
    const pinfo *pi = info(p, i);
    return pi ? (char *)p->values + pi->offset * adj_dsize(p->dtype) : NULL;
}

static void zero_range(void *ctx, size_t lo, size_t hi)
{
    adj_params *p = ctx;
    size_t es = adj_dsize(p->dtype);
    memset((char *)p->grads + lo * es, 0, (hi - lo) * es);
}

/* End of tensor i's span in the blocks: up to the next tensor, so the
 * spans with their alignment padding cover the whole blocks. */
static size_t span_end(const adj_params *p, int i)
{
    return i + 1 < p->count ? p->info[i + 1].offset : p->numel;
}

/* Write the zeros adj_params_zero_grad left pending: the whole block on
 * the pool when every tensor waits, else tensor by tensor. */
static void settle_all(adj_params *p)
{
    if (!p->lazy)
        return;
    if (p->lazy == p->count) {
        adj_par_for(p->numel, ADJ_PAR_GRAIN_MAP, zero_range, p);
        for (int i = 0; i < p->count; i++)
            p->info[i].lazy0 = false;
    } else {
        for (int i = 0; i < p->count; i++)
            if (p->info[i].lazy0) {
                zero_range(p, p->info[i].offset, span_end(p, i));
                p->info[i].lazy0 = false;
            }
    }
    p->lazy = 0;
}

void *adj_params_grads_settled(adj_params *p)
{
    if (!p)
        return NULL;
    settle_all(p);
    return p->grads;
}

void *adj_params_grads(adj_params *p)
{
    if (!p)
        return NULL;
    p->shown |= p->grads != NULL;
    return adj_params_grads_settled(p);
}

void *adj_params_grad(adj_params *p, int i)
{
    const pinfo *pi = info(p, i);
    if (!pi)
        return NULL;
    p->shown |= p->grads != NULL;
    settle_all(p);
    return (char *)p->grads + pi->offset * adj_dsize(p->dtype);
}

/*
 * The zeros must be in memory before anyone can read them there.  Only a
 * caller holding the gradients' address can read them other than through
 * the library, whose readers all write pending zeros first; so while no
 * address has been given out (shown: adj_params_grads, adj_params_grad,
 * a parameter leaf's adj_grad_data, a custom op's backward) the call is
 * the lazy form, which no one can tell apart.  Once one has, the zeros are
 * written now, over the pool.
 */
static void mark_all(adj_params *p, bool exact);

void adj_params_zero_grad(adj_params *p)
{
    if (!p || !p->grads)
        return;
    if (!p->shown) {
        mark_all(p, true);
        return;
    }
    for (int i = 0; i < p->count; i++)
        p->info[i].lazy0 = false;
    p->lazy = 0;
    adj_par_for(p->numel, ADJ_PAR_GRAIN_MAP, zero_range, p);
}

/*
 * The lazy form only marks a tensor of more than one element, and its
 * zeros reach memory when something reads the gradients (the accessors
 * above, a parameter leaf's adjoint in a backward: adj_param_settle) or
 * when a backward's first write stores a whole adjoint into it
 * (adj_param_take_fresh), which then skips both the memset and the read of
 * zeros.  A one-element tensor is zeroed at once: the scalar sweep adds to
 * its adjoint in place.
 */
static void mark_all(adj_params *p, bool exact)
{
    for (int i = 0; i < p->count; i++) {
        pinfo *pi = &p->info[i];
        if (pi->numel > 1) {
            p->lazy += !pi->lazy0;
            pi->lazy0 = true;
            pi->exact0 = exact;
        } else {
            zero_range(p, pi->offset, span_end(p, i));
        }
    }
}

void adj_params_zero_grad_lazy(adj_params *p)
{
    if (!p || !p->grads)
        return;
    mark_all(p, false);
}

/* What a parameter leaf keeps of its store (in the cold part's attr_buf). */
typedef struct pref {
    const adj_params *store;
    int index, count; /* the tensor, and the store's tensor count then */
} pref;
_Static_assert(sizeof(pref) <= sizeof(((adj_node_ext *)0)->attr_buf), "pref must fit attr_buf");

/* The leaf of tensor pi of p through the general leaf path (fast false),
 * or written here (fast true): the store checked its shape when the tensor
 * was added, so the leaf's checks cannot fail and its element count is
 * known.  Both write the same node; fast needs ndim <= ADJ_SHAPE_INLINE. */
static adj_var *param_leaf(adj_tape *t, adj_params *p, int i, const pinfo *pi, bool fast,
                           const char *file, int line)
{
    void *data = (char *)p->values + pi->offset * adj_dsize(p->dtype);
    adj_var *v;
    if (!fast) {
        v = adj_leaf_view_as(t, "param", p->dtype, pi->ndim, pi->shape, data, 1, file, line);
        if (v->flags & ADJ_F_INERT)
            return v;
    } else {
        v = adj_new_node(t, "param", file, line);
        if (!v)
            return t->inert;
        adj_node_info *c = adj_cold(v);
        v->op = ADJ_LEAF_OP;
        v->dtype = (uint8_t)p->dtype;
        v->ndim = (uint8_t)pi->ndim;
        v->flags = ADJ_F_GRAD;
        v->in[0] = v->in[1] = v->in[2] = NULL;
        memset(&v->inl_value, 0, sizeof v->inl_value);
        c->nin = 0;
        c->file = file;
        c->line = line;
        c->numel = pi->numel;
        t->rec_file = file; /* as a leaf's recording leaves them */
        t->rec_line = line;
        int64_t *sh = adj_ext(v)->shape_in;
        for (int k = 0; k < pi->ndim; k++)
            sh[k] = pi->shape[k];
        v->value = data;
        if (t->anomaly)
            adj_check_forward(t, v);
    }
    /* a leaf that aliases the store: no copy, adjoint straight into p->grads */
    v->grad = (char *)p->grads + pi->offset * adj_dsize(p->dtype);
    v->flags |= ADJ_F_EXTGRAD;
    pref r = {p, i, p->count};
    memcpy(&adj_ext(v)->attr_buf, &r, sizeof r);
    if (!t->params) {
        t->pstore = p;
        t->pcount_at = &p->count;
        t->pcount = p->count;
    } else if (t->pstore != p || t->pcount != p->count) {
        t->pmixed = true;
    }
    t->params = 1;
    return v;
}

static adj_var *param_at(adj_tape *t, adj_params *p, int i, bool general, const char *file,
                         int line)
{
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    const pinfo *pi = info(p, i);
    if (!pi) {
        char why[96];
        if (p && p->count > 0)
            snprintf(why, sizeof why,
                     "no parameter with index %d (the store holds %d tensors, indices 0..%d)", i,
                     p->count, p->count - 1);
        else if (p)
            snprintf(why, sizeof why, "no parameter with index %d (the store holds no tensors)", i);
        else
            snprintf(why, sizeof why, "the parameter store is NULL");
        adj_tape_fail(t, ADJ_EINVAL, "adj_param: %s%s%s%s%.0d%s", why, file ? " [at " : "",
                      file ? file : "", file ? ":" : "", file ? line : 0, file ? "]" : "");
        return adj_h_out(t->inert);
    }
    return adj_h_out(param_leaf(t, p, i, pi, !general && pi->ndim <= ADJ_SHAPE_INLINE, file, line));
}

adj_var *adj_param_at(adj_tape *t, adj_params *p, int i, const char *file, int line)
{
    return param_at(t, p, i, false, file, line);
}

adj_var *adj_param_general(adj_tape *t, adj_params *p, int i, const char *file, int line)
{
    return param_at(t, p, i, true, file, line);
}

static pref ref_of(const adj_var *v)
{
    pref r;
    memcpy(&r, &adj_ext(v)->attr_buf, sizeof r);
    return r;
}

/* Clears the pending-zero mark of v's tensor (v a current parameter
 * leaf) and returns the tensor's index, or -1 when it had none. */
static int take_mark(const adj_var *v)
{
    pref r = ref_of(v);
    adj_params *p = (adj_params *)r.store; /* the leaf keeps it const; its blocks are the store's */
    if (!p->lazy || r.count != p->count || !p->info[r.index].lazy0)
        return -1;
    p->lazy--;
    p->info[r.index].lazy0 = false;
    return r.index;
}

void adj_param_settle(const adj_var *v)
{
    int i = take_mark(v);
    if (i >= 0) {
        adj_params *p = (adj_params *)ref_of(v).store;
        zero_range(p, p->info[i].offset, span_end(p, i));
    }
}

void adj_param_show(const adj_var *v)
{
    if (!adj_param_stale(v))
        ((adj_params *)ref_of(v).store)->shown = true;
}

bool adj_param_take_fresh(const adj_var *v, bool exact)
{
    pref r = ref_of(v);
    if (!exact && r.count == r.store->count && r.store->info[r.index].exact0) {
        adj_param_settle(v); /* the zeros written: the caller adds */
        return false;
    }
    int i = take_mark(v);
    if (i < 0)
        return false;
    adj_params *p = (adj_params *)ref_of(v).store; /* the caller stores the tensor, not its padding */
    zero_range(p, p->info[i].offset + p->info[i].numel, span_end(p, i));
    return true;
}

bool adj_param_stale(const adj_var *v)
{
    pref r = ref_of(v);
    return r.store->count != r.count;
}

bool adj_param_moved(adj_tape *t, const adj_var *v, const char *who, const char *file, int line)
{
    if (!adj_param_stale(v))
        return false;
    const adj_node_info *c = adj_cold(v);
    pref r = ref_of(v);
    const adj_params *p = r.store;
    char at[160] = "";
    if (c->file)
        snprintf(at, sizeof at, " [at %s:%d]", c->file, (int)c->line);
    adj_tape_fail(t, ADJ_ESTATE,
                  "%s: parameter %d '%s' was put on the tape%s when its store held %d tensors; "
                  "the store now holds %d: adj_params_add moved the blocks the tensor's value "
                  "and gradient live in (add every tensor before adj_param)%s%s%s%.0d%s",
                  who, r.index, p->info[r.index].name, at, r.count, p->count,
                  file ? " [at " : "", file ? file : "", file ? ":" : "", file ? line : 0,
                  file ? "]" : "");
    return true;
}

const adj_var *adj_tape_moved_param(const adj_tape *t)
{
    if (!t || !t->params)
        return NULL;
    for (size_t id = 0; id < t->nnodes; id++) {
        const adj_var *v = adj_node_at(t, id);
        if ((v->flags & ADJ_F_EXTGRAD) && adj_param_stale(v))
            return v;
    }
    return NULL;
}

bool adj_tape_params_current(const adj_tape *t)
{
    return !t->params || (!t->pmixed && t->pstore->count == t->pcount);
}

adj_var *(adj_param)(adj_tape *t, adj_params *p, int i) { return adj_param_at(t, p, i, NULL, 0); }
