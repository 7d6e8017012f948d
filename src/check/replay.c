/*
 * Incremental replay for gradient checking (see replay.h).
 *
 * A node that an evaluation recomputes is *dirty*, with a region: the
 * elements that may have changed, as `count` runs of `len` elements, the
 * first at `off`, each `stride` after the previous one.  One element, one
 * row and one column of a matrix are all such regions; ALL means the whole
 * node.  Walking the tape in order, a node with a dirty input gets its
 * region from its op's descriptor:
 *
 *   elementwise ops of one input          the input's region
 *   (ADJ_PROP_MAP)
 *   elementwise ops of two inputs         the region of the full operand;
 *   (ADJ_PROP_MAP)                        element c of an operand that
 *                                         tiles the other (a broadcast row)
 *                                         makes column c; a changed
 *                                         one-element operand makes ALL
 *   an op with a replay hook              what the hook says (matmul: a
 *                                         row or column of C; transpose:
 *                                         element, row and column swap;
 *                                         reshape: the same region)
 *   anything else, or several inputs      ALL
 *   with different regions
 *
 * and recomputes that region only: elementwise ops by running the op's own
 * forward kernel on scratch nodes that view the region's runs, hooked ops
 * in their hook, ALL by the op's forward on the node.  After f is read,
 * every dirty node's region is copied back from a snapshot of the base
 * evaluation.
 */
#include "check/replay.h"
#include "adjoint/check.h"
#include "ops/op.h"

#include <stdlib.h>
#include <string.h>

enum { CLEAN = 0, PART = 1, ALL = 2 };

typedef adj_region region;

typedef struct rnode {
    adj_var *v;
    void *snap;        /* the base value (nodes that can become dirty) */
    int32_t in[3];     /* input node ids, -1 for none */
    uint8_t many;      /* more than three inputs: the rest are read through
                          adj_input, and the node is recomputed whole */
    uint8_t state;     /* CLEAN, PART, ALL */
    uint8_t active;    /* depends on an input and f depends on it */
    region reg;
} rnode;

struct adj_replay {
    adj_tape *t;
    adj_var *y;
    size_t nnodes;
    rnode *nodes;
    uint32_t *order;   /* active recorded (non-leaf) nodes, in tape order */
    size_t norder;
    uint32_t *dirty;   /* nodes dirtied by the current evaluation */
    size_t ndirty;
    int n;
    uint32_t input_id[ADJ_GRADCHECK_MAX_INPUTS];
    char *snapbuf;
    adj_tape *scratch; /* holds three nodes that view the runs of a region */
    adj_var *sy, *sa, *sb;
    double dummy;
};

/* ---------------------------------------------------------------- regions */

static size_t numel(const adj_var *v) { return adj_cold(v)->numel; }
static size_t dim(const adj_var *v, int i) { return (size_t)adj_cold(v)->shape[i]; }

/* The dirty state an output gets from the inputs seen so far. */
typedef struct acc {
    uint8_t state;
    region reg;
} acc;

static void acc_add(acc *a, uint8_t state, region r)
{
    if (state == CLEAN)
        return;
    if (a->state == CLEAN && state == PART) {
        a->state = PART;
        a->reg = r;
    } else if (state == ALL || a->state == ALL || !adj_reg_eq(a->reg, r)) {
        a->state = ALL;
    }
}

/* ------------------------------------------------------------ recompute */

static bool scalar_path(const adj_var *v, const adj_op_desc *d)
{
    if (!d->scalar_fwd || v->ndim != 0 || v->dtype != ADJ_F64)
        return false;
    for (int k = 0; k < d->arity && k < 2; k++)
        if (!v->in[k] || v->in[k]->ndim != 0 || v->in[k]->dtype != ADJ_F64)
            return false;
    return true;
}

static void forward_all(adj_var *v, const adj_op_desc *d)
{
    if (v->flags & ADJ_F_VIEW)
        return; /* v reads its input's storage: nothing to recompute */
    if (scalar_path(v, d))
        *(double *)v->value = d->scalar_fwd(*(const double *)v->in[0]->value,
                                            d->arity > 1 ? *(const double *)v->in[1]->value : 0.0,
                                            adj_attr(v));
    else
        d->forward(v);
}

/* Point scratch node s at `len` elements of `data` from element lo. */
static void view(adj_var *s, const adj_var *like, void *data, size_t lo, size_t len)
{
    s->value = (char *)data + lo * adj_dsize(like->dtype);
    s->dtype = like->dtype;
    s->ndim = 1;
    adj_cold(s)->numel = len;
    adj_cold(s)->shape[0] = (int64_t)len;
}

/* The op's forward kernel on elements [lo, lo + len) of elementwise v,
 * reading a_len elements of input a from a_lo and b_len of b from b_lo
 * (1 for a broadcast one-element operand; b unused by unary ops). */
static void forward_run(adj_replay *r, adj_var *v, const adj_op_desc *d, size_t lo, size_t len,
                        size_t a_lo, size_t a_len, size_t b_lo, size_t b_len)
{
    adj_var *sy = r->sy;
    view(sy, v, v->value, lo, len);
    view(r->sa, v->in[0], v->in[0]->value, a_lo, a_len);
    sy->op = v->op;
    sy->in[0] = r->sa;
    sy->in[1] = NULL;
    adj_ext(sy)->attr_buf = adj_ext(v)->attr_buf; /* the attributes, or where they are */
    adj_cold(sy)->nin = adj_cold(v)->nin;
    if (d->arity > 1) {
        view(r->sb, v->in[1], v->in[1]->value, b_lo, b_len);
        sy->in[1] = r->sb;
    }
    d->forward(sy);
}

/* The broadcasting layouts of add/sub/mul/div that replay by runs; any
 * other (b broadcast within a, a broadcast to b) is L_OTHER, replayed
 * whole. */
enum { L_SAME, L_B_ONE, L_A_ONE, L_B_ROW, L_OTHER };

/* b's dimensions (leading 1s dropped) are the trailing dimensions of a. */
static bool row_of(const adj_var *b, const adj_var *a)
{
    int lead = 0;
    while (lead < b->ndim && dim(b, lead) == 1)
        lead++;
    int nb = b->ndim - lead;
    if (nb == 0 || nb > a->ndim)
        return false;
    for (int i = 0; i < nb; i++)
        if (dim(b, lead + i) != dim(a, a->ndim - nb + i))
            return false;
    return true;
}

static int layout(const adj_var *a, const adj_var *b)
{
    bool same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++)
        same = dim(a, i) == dim(b, i);
    if (same)
        return L_SAME;
    if (numel(b) == 1)
        return L_B_ONE;
    if (numel(a) == 1)
        return L_A_ONE;
    return row_of(b, a) ? L_B_ROW : L_OTHER;
}

static void binary_run(adj_replay *r, adj_var *v, const adj_op_desc *d, int lay, size_t lo, size_t len)
{
    size_t cols = numel(v->in[1]);
    switch (lay) {
    case L_SAME: forward_run(r, v, d, lo, len, lo, len, lo, len); break;
    case L_B_ONE: forward_run(r, v, d, lo, len, lo, len, 0, 1); break;
    case L_A_ONE: forward_run(r, v, d, lo, len, 0, 1, lo, len); break;
    default: /* b is a row repeated over a: pieces within one row */
        while (len) {
            size_t c = lo % cols, piece = cols - c < len ? cols - c : len;
            forward_run(r, v, d, lo, piece, lo, piece, c, piece);
            lo += piece;
            len -= piece;
        }
        break;
    }
}

/* Recompute node rn (some input dirty): its region, then its values. */
static void step(adj_replay *r, rnode *rn)
{
    adj_var *v = rn->v;
    const adj_op_desc *d = adj_op_table[v->op];
    uint8_t st[3] = {CLEAN, CLEAN, CLEAN};
    const region *rg[3] = {NULL, NULL, NULL};
    bool any_all = false;
    for (int k = 0; k < 3; k++)
        if (rn->in[k] >= 0) {
            const rnode *in = &r->nodes[rn->in[k]];
            st[k] = in->state;
            rg[k] = &in->reg;
            any_all |= in->state == ALL;
        }
    acc out = {CLEAN, {0, 0, 0, 0}};
    /* the runs of elementwise ops are runs of value memory: strided
     * inputs are replayed whole */
    bool strided = false;
    for (int k = 0; k < 3; k++)
        strided |= rn->in[k] >= 0 && (v->in[k]->flags & ADJ_F_STRIDED);
    const bool map = (d->props & ADJ_PROP_MAP) && !strided;
    const int lay = map && d->arity == 2 ? layout(v->in[0], v->in[1]) : L_OTHER;
    if (any_all || rn->many || v->dtype != ADJ_F64 || numel(v) == 1) {
        out.state = ALL;
    } else if (map && d->arity == 2 && lay != L_OTHER) {
        if (st[0] == PART)
            acc_add(&out, lay == L_A_ONE ? ALL : PART, *rg[0]);
        if (st[1] == PART) {
            if (lay == L_SAME || lay == L_A_ONE)
                acc_add(&out, PART, *rg[1]);
            else if (lay == L_B_ROW && rg[1]->count == 1 && rg[1]->len == 1)
                acc_add(&out, PART, adj_reg_col(rg[1]->off, numel(v) / numel(v->in[1]), numel(v->in[1])));
            else
                acc_add(&out, ALL, *rg[1]);
        }
        if (out.state == PART) {
            for (size_t q = 0; q < out.reg.count; q++)
                binary_run(r, v, d, lay, out.reg.off + q * out.reg.stride, out.reg.len);
            goto done;
        }
    } else if (map && d->arity == 1) {
        out.state = PART;
        out.reg = *rg[0];
        if (scalar_path(v, d))
            forward_all(v, d);
        else
            for (size_t q = 0; q < out.reg.count; q++) {
                size_t lo = out.reg.off + q * out.reg.stride;
                forward_run(r, v, d, lo, out.reg.len, lo, out.reg.len, 0, 0);
            }
        goto done;
    } else if (d->replay) {
        const adj_region *changed[3];
        for (int k = 0; k < 3; k++)
            changed[k] = st[k] == PART ? rg[k] : NULL;
        if (d->replay(v, changed, &out.reg)) {
            out.state = PART;
            goto done;
        }
    }
    out.state = ALL;
    out.reg = (region){0, 1, numel(v), numel(v)};
    forward_all(v, d);
done:
    rn->state = out.state;
    rn->reg = out.reg;
    r->dirty[r->ndirty++] = (uint32_t)(rn - r->nodes);
}

/* Whether an input of rn changed in the current evaluation. */
static bool inputs_dirty(const adj_replay *r, const rnode *rn)
{
    for (int k = 0; k < 3; k++)
        if (rn->in[k] >= 0 && r->nodes[rn->in[k]].state)
            return true;
    if (rn->many)
        for (int k = 3; k < adj_nin(rn->v); k++) {
            const adj_var *x = adj_input(rn->v, k);
            if (x && r->nodes[adj_cold(x)->id].state)
                return true;
        }
    return false;
}

/* ---------------------------------------------------------------- public */

double adj_replay_eval(adj_replay *r, int i, size_t j)
{
    rnode *leaf = &r->nodes[r->input_id[i]];
    if (leaf->active) {
        leaf->state = PART;
        leaf->reg = adj_reg_elem(j);
        for (size_t k = 0; k < r->norder; k++) {
            rnode *rn = &r->nodes[r->order[k]];
            if (inputs_dirty(r, rn))
                step(r, rn);
        }
    }
    double f = adj_value_at(r->y, 0);
    /* back to the base point */
    leaf->state = CLEAN;
    for (size_t k = 0; k < r->ndirty; k++) {
        rnode *rn = &r->nodes[r->dirty[k]];
        rn->state = CLEAN;
        if (!rn->snap)
            continue; /* a view: its input's storage is restored */
        size_t es = adj_dsize(rn->v->dtype);
        region g = rn->reg;
        for (size_t q = 0; q < g.count; q++) {
            size_t lo = (g.off + q * g.stride) * es;
            memcpy((char *)rn->v->value + lo, (const char *)rn->snap + lo, g.len * es);
        }
        rn->state = CLEAN;
    }
    r->ndirty = 0;
    return f;
}

void adj_replay_free(adj_replay *r)
{
    if (!r)
        return;
    free(r->nodes);
    free(r->order);
    free(r->dirty);
    free(r->snapbuf);
    adj_tape_free(r->scratch);
    free(r);
}

adj_replay *adj_replay_new(adj_tape *t, adj_var *y, int n, adj_var *const *inputs)
{
    adj_replay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->t = t;
    r->y = y;
    r->n = n;
    r->nnodes = t->nnodes;
    size_t N = r->nnodes;
    r->nodes = calloc(N + 1, sizeof *r->nodes);
    r->order = malloc((N + 1) * sizeof *r->order);
    r->dirty = malloc((N + 1) * sizeof *r->dirty);
    r->scratch = adj_tape_new();
    if (!r->nodes || !r->order || !r->dirty || !r->scratch)
        goto fail;
    adj_var **s[3] = {&r->sy, &r->sa, &r->sb};
    for (int k = 0; k < 3; k++) {
        *s[k] = adj_leaf_view(r->scratch, ADJ_F64, 1, (int64_t[]){1}, &r->dummy, 0, NULL, 0);
        if ((*s[k])->flags & ADJ_F_INERT)
            goto fail;
    }

    /* which nodes depend on an input (forward), and f on them (backward) */
    uint8_t *dep = calloc(N + 1, 1);
    if (!dep)
        goto fail;
    for (int i = 0; i < n; i++) {
        r->input_id[i] = adj_cold(inputs[i])->id;
        dep[r->input_id[i]] = 1;
    }
    for (size_t id = 0; id < N; id++) {
        rnode *rn = &r->nodes[id];
        adj_var *v = adj_node_at(t, id);
        rn->v = v;
        /* every input slot of the node (a variadic op has any number) */
        const int nin = adj_is_leaf(v) ? 0 : adj_nin(v);
        rn->many = nin > 3;
        for (int k = 0; k < 3; k++)
            rn->in[k] = -1;
        for (int k = 0; k < nin; k++) {
            const adj_var *x = adj_input(v, k);
            if (!x)
                continue;
            if (k < 3)
                rn->in[k] = (int32_t)adj_cold(x)->id;
            dep[id] |= dep[adj_cold(x)->id];
        }
    }
    /* bit 0: depends on an input; bit 1: f depends on it */
    size_t yid = adj_cold(y)->id, bytes = 0;
    dep[yid] |= 2;
    for (size_t id = N; id-- > 0;) {
        const adj_var *v = r->nodes[id].v;
        if ((dep[id] & 2) && !adj_is_leaf(v))
            for (int k = 0; k < adj_nin(v); k++)
                if (adj_input(v, k))
                    dep[adj_cold(adj_input(v, k))->id] |= 2;
    }
    for (size_t id = 0; id < N; id++) {
        rnode *rn = &r->nodes[id];
        rn->active = dep[id] == 3;
        if (rn->active && !adj_is_leaf(rn->v)) {
            r->order[r->norder++] = (uint32_t)id;
            if (!(rn->v->flags & ADJ_F_VIEW)) /* a view owns no values */
                bytes += (numel(rn->v) * adj_dsize(rn->v->dtype) + 63) & ~(size_t)63;
        }
    }
    free(dep);
    /* the snapshot of the base values */
    r->snapbuf = malloc(bytes + 1);
    if (!r->snapbuf)
        goto fail;
    char *p = r->snapbuf;
    for (size_t k = 0; k < r->norder; k++) {
        rnode *rn = &r->nodes[r->order[k]];
        if (rn->v->flags & ADJ_F_VIEW)
            continue; /* snap stays NULL */
        size_t b = numel(rn->v) * adj_dsize(rn->v->dtype);
        rn->snap = p;
        memcpy(p, rn->v->value, b);
        p += (b + 63) & ~(size_t)63;
    }
    return r;
fail:
    adj_replay_free(r);
    return NULL;
}
