/*
 * Forward mode: push a tangent through a recorded tape.
 *
 * Recording order is a topological order, so one forward loop suffices:
 * when node y is reached, the tangents of all its inputs are known, and
 * the op's jvp (its tangent rule, kept next to its backward) gives y's.
 * Nodes that do not depend on any seeded node keep a zero tangent and are
 * skipped.  The tangents live in one temporary block, zeroed, one slot per
 * node; nothing on the tape changes.
 */
#include "adjoint/forward.h"
#include "core/tape.h"
#include "ops/op.h"

#include <math.h>
#include <string.h>

#define SLOT_ALIGN 64u

static size_t round_up(size_t n) { return (n + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1); }

/* Handle h names a live var of t (recorded since its last reset). */
static bool valid_var(const adj_tape *t, const adj_var *h)
{
    const adj_var *v = adj_h_raw(h);
    return v && adj_h_current((uintptr_t)h, t->gen) && adj_node_tape(v) == t && !(v->flags & ADJ_F_INERT) && adj_cold(v)->gen == t->gen && adj_cold(v)->id < t->nnodes;
}

adj_status adj_jvp(adj_var *y, int n, adj_var *const *wrt, const double *const *v, double *out)
{
    y = adj_h_in(y, "adj_jvp");
    if (!y)
        return ADJ_EINVAL;
    adj_tape *t = adj_node_tape(y);
    if (t->status != ADJ_OK)
        return t->status;
    if (!valid_var(t, y)) {
        adj_tape_fail(t, ADJ_ETAPE, "adj_jvp: the output var was recorded before adj_tape_reset");
        return t->status;
    }
    if (n < 0) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_jvp: n = %d is negative (the number of seeded vars)", n);
        return t->status;
    }
    if ((n > 0 && (!wrt || !v)) || !out) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_jvp: %s is NULL (n = %d)",
                      !out ? "out" : !wrt ? "wrt" : "v", n);
        return t->status;
    }
    for (int i = 0; i < n; i++) {
        if (!valid_var(t, wrt[i]) || !v[i]) {
            adj_tape_fail(t, wrt[i] && !v[i] ? ADJ_EINVAL : ADJ_ETAPE,
                          "adj_jvp: %s %d %s", wrt[i] && !v[i] ? "direction" : "seeded var", i,
                          wrt[i] && !v[i] ? "is NULL" : "is not a live var of this tape");
            return t->status;
        }
    }

    /* one slot per node 0..y->id, then a flag per node: 1 = nonzero tangent */
    const size_t count = (size_t)adj_cold(y)->id + 1;
    size_t bytes = 0, maxin = 1;
    for (size_t id = 0; id < count; id++) {
        const adj_var *u = adj_node_at(t, id);
        if (adj_cold(u)->nin > maxin)
            maxin = adj_cold(u)->nin;
        size_t b = round_up(adj_cold(u)->numel * adj_dsize(u->dtype));
        if (b < adj_cold(u)->numel || bytes > SIZE_MAX - b - 2 * count) {
            adj_tape_fail(t, ADJ_ENOMEM, "adj_jvp: the tangents of %zu nodes do not fit in memory",
                          count);
            return t->status;
        }
        bytes += b;
    }
    /* then the input tangents of one node */
    size_t total = bytes + maxin * sizeof(void *) + count * sizeof(size_t) + count;
    char *block = t->al.alloc(t->al.ctx, total);
    if (!block) {
        adj_tape_fail(t, ADJ_ENOMEM, "adj_jvp: out of memory: %zu bytes of tangents for %zu nodes",
                      total, count);
        return t->status;
    }
    t->allocations++;
    memset(block, 0, total);
    const void **tx = (const void **)(void *)(block + bytes);
    size_t *off = (size_t *)(tx + maxin);
    unsigned char *live = (unsigned char *)(off + count);
    for (size_t id = 0, o = 0; id < count; id++) {
        const adj_var *u = adj_node_at(t, id);
        off[id] = o;
        o += round_up(adj_cold(u)->numel * adj_dsize(u->dtype));
    }

    /* seeds: 2 marks a node whose tangent is given, not computed */
    for (int i = 0; i < n; i++) {
        const adj_var *s = adj_h_raw(wrt[i]);
        if (adj_cold(s)->id >= count)
            continue; /* recorded after y: cannot move y */
        void *slot = block + off[adj_cold(s)->id];
        for (size_t j = 0; j < adj_cold(s)->numel; j++) {
            if (s->dtype == ADJ_F64)
                ((double *)slot)[j] = v[i][j];
            else
                ((float *)slot)[j] = (float)v[i][j];
        }
        live[adj_cold(s)->id] = 2;
    }

    for (size_t id = 0; id < count; id++) {
        const adj_var *u = adj_node_at(t, id);
        if (live[id] == 2 || u->op == ADJ_OP_LEAF)
            continue;
        const adj_op_desc *d = adj_op_table[u->op];
        bool any = false;
        for (int k = 0, nin = adj_nin(u); k < nin; k++) {
            const adj_var *in = adj_input(u, k);
            tx[k] = NULL;
            if (!in)
                continue;
            tx[k] = block + off[adj_cold(in)->id];
            any = any || live[adj_cold(in)->id];
        }
        if (!any || !d->jvp)
            continue;
        for (int k = 0, nin = adj_nin(u); k < nin; k++)
            if (adj_input(u, k) && (adj_input(u, k)->flags & ADJ_F_EXTGRAD) &&
                adj_param_moved(t, adj_input(u, k), "adj_jvp", NULL, 0)) {
                t->al.free(t->al.ctx, block, total);
                return t->status;
            }
        d->jvp(u, tx, block + off[id]);
        if (t->status != ADJ_OK) { /* an op without a tangent rule */
            t->al.free(t->al.ctx, block, total);
            return t->status;
        }
        live[id] = 1;
    }

    const void *ty = block + off[adj_cold(y)->id];
    for (size_t j = 0; j < adj_cold(y)->numel; j++)
        out[j] = y->dtype == ADJ_F64 ? ((const double *)ty)[j] : (double)((const float *)ty)[j];
    t->al.free(t->al.ctx, block, total);
    return ADJ_OK;
}

double adj_jvp_item(adj_var *y, adj_var *x, double dx)
{
    double out;
    y = adj_h_in(y, "adj_jvp_item");
    x = adj_h_in(x, "adj_jvp_item");
    if (!y || !x)
        return NAN;
    if (adj_cold(y)->numel != 1 || adj_cold(x)->numel != 1) {
        adj_tape_fail(adj_node_tape(y), ADJ_ESHAPE, "adj_jvp_item: y and x must hold one element (they hold %zu and %zu)",
                      adj_cold(y)->numel, adj_cold(x)->numel);
        return NAN;
    }
    const double *v = &dx;
    if (adj_jvp(y, 1, &x, &v, &out) != ADJ_OK)
        return NAN;
    return out;
}
