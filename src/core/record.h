/*
 * Internal: what recording ops (core/record.c) and recording leaves
 * (core/leaves.c) share: a fresh node, its value buffer, liveness, the
 * anomaly check of a forward, the " [at file:line]" suffix of messages.
 */
#ifndef ADJ_CORE_RECORD_H
#define ADJ_CORE_RECORD_H

#include "core/tape.h"

#include <stdint.h>

/* " [at file:line]" when the caller is known */
#define AT_FMT "%s%s%s%.0d%s"
#define AT_ARGS(file, line) \
    (file) ? " [at " : "", (file) ? (file) : "", (file) ? ":" : "", (file) ? (line) : 0, (file) ? "]" : ""

/* Move recording to the next chunk of nodes, allocating it if needed
 * (core/tape.c); false when the allocator or the tape's limit refuses. */
bool adj_tape_next_chunk(adj_tape *t);

/* A fresh node at the end of the tape, or NULL after recording ENOMEM.
 * Its adj_node_ext is not written: the general paths (adj_new_node)
 * clear its input/stride pointer, the scalar paths leave it alone. */
static inline adj_var *adj_new_node_core(adj_tape *t, const char *opname, const char *file,
                                         int line)
{
    if (t->cur_node == t->cur_end && !adj_tape_next_chunk(t)) {
        adj_tape_fail(t, ADJ_ENOMEM,
                      "adj_%s: out of memory: no room for node %zu (%zu bytes reserved%s)" AT_FMT,
                      opname, t->nnodes, t->reserved, t->limit ? ", limit reached" : "",
                      AT_ARGS(file, line));
        return NULL;
    }
    adj_var *v = t->cur_node++;
    adj_node_info *c = t->cur_info++;
    /* recording writes the nodes and their cold parts up through memory,
     * a line at a time: asking for the lines 16 nodes ahead lets the
     * writes not wait on reading them in (past the chunk's end these are
     * other lines of the same mapping, never a fault) */
    __builtin_prefetch((const void *)((uintptr_t)v + 16 * sizeof *v), 1, 3);
    __builtin_prefetch((const void *)((uintptr_t)c + 16 * sizeof *c), 1, 3);
    v->grad = NULL;
    v->mark = 0;
    c->id = (uint32_t)t->nnodes++;
    c->gen = t->gen;
    c->shape = adj_ext(v)->shape_in;
    return v;
}

static inline adj_var *adj_new_node(adj_tape *t, const char *opname, const char *file, int line)
{
    adj_var *v = adj_new_node_core(t, opname, file, line);
    if (v)
        adj_ext(v)->more = NULL; /* and stride */
    return v;
}

/* Allocate v->value for v->numel elements (inline for one element). */
static inline bool adj_alloc_value(adj_tape *t, adj_var *v)
{
    if (adj_cold(v)->numel == 1) {
        v->value = &v->inl_value;
        return true;
    }
    v->value = adj_arena_alloc(t, adj_cold(v)->numel * adj_dsize(v->dtype));
    return v->value != NULL;
}

/* v is a live node of t: recorded since the last reset, not the inert var. */
static inline bool adj_live(const adj_tape *t, const adj_var *v)
{
    return !(v->flags & ADJ_F_INERT) && adj_cold(v)->gen == t->gen && adj_cold(v)->id < t->nnodes;
}


/* Anomaly mode: record ADJ_ENUMERIC if y's value holds a NaN or infinity. */
void adj_check_forward(adj_tape *t, adj_var *y);

#endif
