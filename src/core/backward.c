/*
 * The backward sweep.  Recording order is a topological order (an op can
 * only use nodes recorded before it), so reverse-mode differentiation is
 * one loop from the output down to node 0: when node y is reached, every
 * node that used y has already added its contribution to y's adjoint, and
 * y's own backward passes it on to y's inputs (the chain rule, with fan-out
 * handled by accumulation).  No recursion, no sort, no depth limit.
 */
#include "core/handle.h"
#include "core/pool.h"
#include "core/tape.h"
#include "ops/op.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The sweep walks the nodes down through memory, one 64-byte line each,
 * and asks for the line of the node this many places further down
 * (across a chunk's edge too) while it works on the current one: on a
 * tape larger than the caches the hardware's prefetchers leave that
 * descending stream waiting on memory.  16 to 32 gave the fastest sweep
 * of a 10^6-node scalar chain; 128 was slower again. */
#define SWEEP_AHEAD 32

void *adj_grad_buf(adj_var *v)
{
    if (v->grad) {
        if (v->flags & ADJ_F_EXTGRAD)
            adj_param_settle(v);
        return v->grad;
    }
    v->flags &= (uint8_t)~ADJ_F_RELEASED;
    if (adj_cold(v)->numel == 1) {
        v->inl_grad.d = 0.0; /* covers the float too */
        v->grad = &v->inl_grad;
        return v->grad;
    }
    v->grad = adj_arena_zalloc(adj_node_tape(v), adj_cold(v)->numel * adj_dsize(v->dtype));
    return v->grad;
}

static void *grad_buf_store(adj_var *v, bool *fresh, bool exact)
{
    *fresh = false;
    if ((v->flags & ADJ_F_EXTGRAD) && adj_cold(v)->numel > 1 && adj_param_take_fresh(v, exact)) {
        *fresh = true;
        return v->grad;
    }
    if (v->grad || adj_cold(v)->numel == 1)
        return adj_grad_buf(v);
    v->flags &= (uint8_t)~ADJ_F_RELEASED;
    v->grad = adj_arena_alloc(adj_node_tape(v), adj_cold(v)->numel * adj_dsize(v->dtype));
    *fresh = v->grad != NULL;
    return v->grad;
}

void *adj_grad_buf_fresh(adj_var *v, bool *fresh) { return grad_buf_store(v, fresh, false); }

void *adj_grad_buf_exact(adj_var *v, bool *fresh) { return grad_buf_store(v, fresh, true); }

bool adj_grad_passable(const adj_var *y, const adj_var *x)
{
    const adj_tape *t = adj_node_tape(y);
    return t->release_sweep != 0 && t->release_sweep == t->sweeps && x != y && !x->grad &&
           (x->flags & ADJ_F_GRAD) && !(x->flags & ADJ_F_EXTGRAD) && x->dtype == y->dtype &&
           adj_cold(x)->numel == adj_cold(y)->numel && adj_cold(y)->numel > 1 && y->grad &&
           y->grad != t->seed_view;
}

void adj_grad_pass(adj_var *y, adj_var *x)
{
    x->grad = y->grad;
    x->flags &= (uint8_t)~ADJ_F_RELEASED;
    y->grad = NULL;
    y->flags |= ADJ_F_RELEASED;
}

/*
 * Before a second sweep on the same tape, the adjoints of the nodes this
 * sweep will reach restart from zero; nodes outside y's graph keep theirs,
 * and parameters' adjoints accumulate (they belong to the store).  One
 * reverse pass marks what y depends on.  It fails (false, ADJ_ESTATE on
 * the tape) on a parameter whose store has moved its blocks.
 */
bool adj_clear_reachable(adj_tape *t, adj_var *y, uint32_t sweep)
{
    y->mark = sweep;
    for (size_t id = (size_t)adj_cold(y)->id + 1; id-- > 0;) {
        adj_var *v = adj_node_at(t, id);
        if (v->mark != sweep)
            continue;
        if ((v->flags & ADJ_F_EXTGRAD) && adj_param_moved(t, v, "adj_backward", NULL, 0))
            return false;
        if (v->grad && v->grad == t->seed_view) {
            v->grad = NULL; /* the caller's seed: never written */
        } else if (v->grad && !(v->flags & ADJ_F_EXTGRAD)) {
            memset(v->grad, 0, adj_cold(v)->numel * adj_dsize(v->dtype));
        }
        v->flags &= (uint8_t)~ADJ_F_RELEASED; /* this sweep says what it holds */
        for (int k = 0, n = adj_nin(v); k < n; k++)
            if (adj_input(v, k))
                adj_input(v, k)->mark = sweep;
    }
    return true;
}

static int first_nonfinite(const adj_var *v, size_t *at)
{
    for (size_t i = 0; i < adj_cold(v)->numel; i++) {
        double g = v->dtype == ADJ_F64 ? ((double *)v->grad)[i] : ((float *)v->grad)[i];
        if (!isfinite(g)) {
            *at = i;
            return 1;
        }
    }
    return 0;
}

static void check_backward(adj_tape *t, adj_var *y)
{
    for (int k = 0, n = adj_nin(y); k < n; k++) {
        adj_var *x = adj_input(y, k);
        size_t at;
        if (x && x->grad && (x->flags & ADJ_F_EXTGRAD))
            adj_param_settle(x);
        if (!x || !x->grad || !(x->flags & ADJ_F_GRAD) || !first_nonfinite(x, &at))
            continue;
        adj_tape_fail(t, ADJ_ENUMERIC,
                      "anomaly: backward of node %u (adj_%s) gave adjoint %g at element %zu of its "
                      "input %d (node %u)%s%s%s%.0d%s",
                      adj_cold(y)->id, adj_op_table[y->op]->name, adj_grad_at(x, at), at, k, adj_cold(x)->id,
                      adj_cold(y)->file ? " [at " : "", adj_cold(y)->file ? adj_cold(y)->file : "", adj_cold(y)->file ? ":" : "",
                      adj_cold(y)->file ? adj_cold(y)->line : 0, adj_cold(y)->file ? "]" : "");
        return;
    }
}

void adj_anomaly_check_under(adj_var *y, int k, const adj_var *x)
{
    adj_tape *t = adj_node_tape(y);
    size_t at;
    if (!t->anomaly || t->status != ADJ_OK || !x->grad)
        return;
    if (x->flags & ADJ_F_EXTGRAD)
        adj_param_settle(x);
    if (!first_nonfinite(x, &at))
        return;
    const adj_var *v = adj_input(y, k);
    adj_tape_fail(t, ADJ_ENUMERIC,
                  "anomaly: backward of node %u (adj_%s) gave adjoint %g at element %zu of node %u, "
                  "which it writes in place of the adjoint of its input %d (node %u)%s%s%s%.0d%s",
                  adj_cold(y)->id, adj_op_table[y->op]->name, adj_grad_at(x, at), at, adj_cold(x)->id, k,
                  adj_cold(v)->id, adj_cold(y)->file ? " [at " : "", adj_cold(y)->file ? adj_cold(y)->file : "",
                  adj_cold(y)->file ? ":" : "", adj_cold(y)->file ? adj_cold(y)->line : 0,
                  adj_cold(y)->file ? "]" : "");
}

typedef struct seed_job {
    void *g;
    const void *seed;
    bool f64, fresh, same; /* same: the seed has y's dtype, else it is double */
} seed_job;

static void seed_range(void *ctx, size_t lo, size_t hi)
{
    const seed_job *j = ctx;
    const size_t es = j->f64 ? sizeof(double) : sizeof(float);
    const double *sd = j->seed;
    const float *sf = j->seed;
    if (j->fresh && (j->f64 || j->same))
        memcpy((char *)j->g + lo * es, (const char *)j->seed + lo * es, (hi - lo) * es);
    else if (j->f64)
        for (size_t i = lo; i < hi; i++)
            ((double *)j->g)[i] += sd[i];
    else if (j->same)
        for (size_t i = lo; i < hi; i++)
            ((float *)j->g)[i] += sf[i];
    else if (j->fresh)
        for (size_t i = lo; i < hi; i++)
            ((float *)j->g)[i] = (float)sd[i];
    else
        for (size_t i = lo; i < hi; i++)
            ((float *)j->g)[i] += (float)sd[i];
}

/* y's adjoint += seed (NULL: 1; of y's dtype if same, else double);
 * fresh: g is not zeroed, store. */
static void seed_grad(void *g, adj_dtype dtype, const void *seed, bool same, size_t n, bool fresh)
{
    if (!seed) {
        if (dtype == ADJ_F64)
            for (size_t i = 0; i < n; i++)
                ((double *)g)[i] = (fresh ? 0.0 : ((double *)g)[i]) + 1.0;
        else
            for (size_t i = 0; i < n; i++)
                ((float *)g)[i] = (fresh ? 0.0f : ((float *)g)[i]) + 1.0f;
        return;
    }
    seed_job j = {g, seed, dtype == ADJ_F64, fresh, same};
    adj_par_for(n, ADJ_PAR_GRAIN_MAP, seed_range, &j);
}

/* After node v's backward has passed its adjoint on: nothing reads it
 * again in this sweep, so its memory goes back to the arena (an inline
 * one-element adjoint has none to give).  Only op nodes come here. */
static void release_adjoint(adj_tape *t, adj_var *v)
{
    if (!v->grad)
        return;
    if (v->grad != (void *)&v->inl_grad && v->grad != t->seed_view)
        adj_arena_release(t, v->grad, adj_cold(v)->numel * adj_dsize(v->dtype));
    v->grad = NULL;
    v->flags |= ADJ_F_RELEASED;
}

/*
 * The first sweep since the reset, without anomaly checks or releases:
 * no op node held an adjoint before it, and an adjoint flows only from a
 * node the sweep reaches to that node's inputs, so below y an op node
 * holds one exactly when y reaches it.  Its adjoint then says all that
 * the marks would (a node reached without one is skipped either way), and
 * this loop neither reads nor writes them: a later sweep marks afresh
 * (adj_clear_reachable).  Each node runs the same rule as in the marked
 * loop below, in the same order, so the adjoints have the same bits.
 */
static void sweep_first(adj_tape *t, const adj_var *y)
{
    const size_t top = adj_cold(y)->id;
    for (size_t c = top / ADJ_NODE_CHUNK + 1; c-- > 0;) {
        adj_var *base = t->chunks[c];
        adj_var *below = c ? t->chunks[c - 1] + ADJ_NODE_CHUNK - SWEEP_AHEAD : base;
        size_t k = c == top / ADJ_NODE_CHUNK ? top % ADJ_NODE_CHUNK + 1 : ADJ_NODE_CHUNK;
        while (k-- > 0) {
            adj_var *v = &base[k];
            __builtin_prefetch(k >= SWEEP_AHEAD ? v - SWEEP_AHEAD : below + k, 1, 3);
            if (!v->grad || !(v->flags & ADJ_F_GRAD) || adj_is_leaf(v))
                continue;
            const adj_op_desc *d = adj_op_table[v->op];
            if (v->ndim == 0 && v->dtype == ADJ_F64 && d->scalar_bwd) {
                d->scalar_bwd(v, *(const double *)v->grad);
            } else {
                d->backward(v);
                if (t->status != ADJ_OK)
                    return; /* scratch memory ran out */
            }
        }
    }
}

/* The sweep from y seeded with `seed` (NULL: dy/dy = 1, one-element y);
 * seeded: called as adj_backward_seeded (for the messages); release:
 * each op node's adjoint is released once its backward has run; view: a
 * seed of y's dtype becomes y's adjoint itself (adj_backward_seeded_view). */
static adj_status backward(adj_var *y, const void *seed, bool seeded, int sdtype, bool release,
                           bool view)
{
    const char *fn = !seeded ? "adj_backward"
                     : sdtype < 0 ? "adj_backward_seeded"
                     : view ? "adj_backward_seeded_view" : "adj_backward_seeded_as";
    y = adj_h_in(y, fn);
    if (!y)
        return ADJ_EINVAL;
    adj_tape *t = adj_node_tape(y);
    if (t->status != ADJ_OK)
        return t->status;
    if ((y->flags & ADJ_F_INERT) || adj_cold(y)->gen != t->gen || adj_cold(y)->id >= t->nnodes) {
        adj_tape_fail(t, ADJ_ETAPE, "%s: the output var was recorded before adj_tape_reset", fn);
        return t->status;
    }
    if (seeded && !seed) {
        char sh[64];
        adj_fmt_shape(sh, sizeof sh, y->ndim, adj_cold(y)->shape);
        adj_tape_fail(t, ADJ_EINVAL,
                      "%s: the seed is NULL; pass numel(y) = %zu %s "
                      "dL/dy for y of shape %s (adj_backward seeds a one-element y with 1)",
                      fn, adj_cold(y)->numel, sdtype < 0 ? "doubles" : "values", sh);
        return t->status;
    }
    if (sdtype >= 0 && y->dtype != ADJ_I32 && sdtype != ADJ_F64 && sdtype != y->dtype) {
        adj_tape_fail(t, ADJ_EDTYPE,
                      "%s: a seed of dtype %d for y of dtype %s: pass the seed in y's dtype "
                      "or in f64",
                      fn, sdtype, adj_dtype_name((adj_dtype)y->dtype));
        return t->status;
    }
    if (y->dtype == ADJ_I32) {
        adj_tape_fail(t, ADJ_EDTYPE, "adj_backward: the output is an index tensor (i32), which has "
                                     "no gradient");
        return t->status;
    }
    if (!seed && adj_cold(y)->numel != 1) {
        char sh[64];
        adj_fmt_shape(sh, sizeof sh, y->ndim, adj_cold(y)->shape);
        adj_tape_fail(t, ADJ_ESHAPE,
                      "adj_backward: the output must hold one element, it has shape %s "
                      "(reduce it with adj_sum or adj_mean, or use adj_backward_seeded)",
                      sh);
        return t->status;
    }
    /* a tape holding parameters whose store may have moved takes this pass
     * on the first sweep too: it finds the moved ones that y depends on
     * before anything is written.  Otherwise the first sweep has nothing
     * to clear (no op node holds an adjoint yet, none is released). */
    bool first = false;
    if (t->sweeps++ > 0 || (t->params && !adj_tape_params_unmoved(t))) {
        if (!adj_clear_reachable(t, y, t->sweeps))
            return t->status;
    } else {
        y->mark = t->sweeps;
        first = true;
    }

    /* (y's adjoint, if any, was just cleared: it holds nothing yet) */
    if (view && sdtype == y->dtype && !(y->flags & ADJ_F_EXTGRAD) && adj_cold(y)->numel > 1) {
        y->grad = (void *)(uintptr_t)seed; /* read only: see t->seed_view */
        t->seed_view = seed;
    } else {
        bool fresh;
        void *g = adj_grad_buf_fresh(y, &fresh);
        if (!g)
            return t->status;
        seed_grad(g, (adj_dtype)y->dtype, seed, sdtype == y->dtype, adj_cold(y)->numel, fresh);
    }

    const int anomaly = t->anomaly;
    const bool plain = !anomaly && !release; /* a scalar node needs nothing after its rule */
    if (plain && first) {
        sweep_first(t, y);
        return t->status;
    }
    const uint32_t sweep = t->sweeps;
    y->mark = sweep;
    t->release_sweep = release ? sweep : 0;
    /* The sweep: chunk by chunk, node by node, from y down to node 0,
     * visiting only the nodes y depends on (marked as they are reached). */
    for (size_t c = adj_cold(y)->id / ADJ_NODE_CHUNK + 1; t->status == ADJ_OK && c-- > 0;) {
        adj_var *base = t->chunks[c];
        /* below + k is what node k < SWEEP_AHEAD prefetches: the previous
         * chunk's last nodes (at c = 0, node k itself again) */
        adj_var *below = c ? t->chunks[c - 1] + ADJ_NODE_CHUNK - SWEEP_AHEAD : base;
        size_t hi = c == adj_cold(y)->id / ADJ_NODE_CHUNK ? adj_cold(y)->id % ADJ_NODE_CHUNK : ADJ_NODE_CHUNK - 1;
        for (size_t k = hi + 1; k-- > 0;) {
            adj_var *v = &base[k];
            __builtin_prefetch(k >= SWEEP_AHEAD ? v - SWEEP_AHEAD : below + k, 1, 3);
            if (v->mark != sweep || !(v->flags & ADJ_F_GRAD) || adj_is_leaf(v))
                continue;
            v->in[0]->mark = sweep; /* an op's first input is never optional */
            if (v->in[1])
                v->in[1]->mark = sweep;
            const adj_op_desc *d = adj_op_table[v->op];
            if (v->ndim == 0 && v->dtype == ADJ_F64 && d->scalar_bwd) {
                /* a scalar op has at most two inputs: nothing more to mark;
                 * its rule reads the inputs and adds to their adjoints */
                if (v->grad)
                    d->scalar_bwd(v, *(const double *)v->grad);
                if (plain)
                    continue;
            } else {
                if (v->in[2])
                    v->in[2]->mark = sweep;
                if (v->flags & ADJ_F_MORE)
                    for (uint32_t j = 3; j < adj_cold(v)->nin; j++)
                        if (adj_ext(v)->more[j - 3])
                            adj_ext(v)->more[j - 3]->mark = sweep;
                if (!v->grad)
                    continue; /* reached, but no adjoint flowed into it */
                d->backward(v);
                if (t->status != ADJ_OK)
                    break; /* scratch memory ran out */
            }
            if (anomaly && v->grad) {
                check_backward(t, v);
                if (t->status != ADJ_OK)
                    break;
            }
            if (release)
                release_adjoint(t, v);
        }
    }
    t->release_sweep = 0;
    return t->status;
}

adj_status adj_backward_seeded(adj_var *y, const double *seed)
{
    return backward(y, seed, true, -1, false, false);
}
adj_status adj_backward(adj_var *y) { return backward(y, NULL, false, -1, false, false); }
adj_status adj_backward_release(adj_var *y) { return backward(y, NULL, false, -1, true, false); }

adj_status adj_backward_seeded_as(adj_var *y, adj_dtype dtype, const void *seed)
{
    return backward(y, seed, true, (int)dtype < 0 ? 1000 : (int)dtype, false, false);
}

adj_status adj_backward_seeded_view(adj_var *y, adj_dtype dtype, const void *seed)
{
    return backward(y, seed, true, (int)dtype < 0 ? 1000 : (int)dtype, false, true);
}
