/*
 * The tape's lifecycle: creation, reset, free, the chunks of nodes,
 * sticky errors, limits and statistics.  Recording ops is in record.c,
 * leaves and accessors in leaves.c, the backward sweep in backward.c.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "core/handle.h"
#include "core/record.h"
#include "core/tape.h"
#include "ops/op.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ------------------------------------------------------------ lifecycle */

/* Bytes to allocate for a chunk-aligned region holding `bytes` after the
 * aligned start. */
#define ALIGNED_ALLOC(bytes) ((bytes) + ADJ_CHUNK_HOT)

static void *chunk_align(void *raw)
{
    return (void *)(((uintptr_t)raw + ADJ_CHUNK_HOT - 1) & ~(uintptr_t)(ADJ_CHUNK_HOT - 1));
}

/* The bytes a chunk of nodes takes from t's allocator.  With the default
 * allocator the chunk is mapped on its own, aligned (chunk_map); any other
 * allocator is asked for a region with room to align in, 64 KiB of
 * address space that is never touched but is counted in bytes_reserved. */
static bool default_alloc(const adj_tape *t) { return t->al.alloc == adj_default_allocator.alloc; }
static size_t chunk_bytes(const adj_tape *t)
{
    return default_alloc(t) ? ADJ_CHUNK_BYTES : ALIGNED_ALLOC(ADJ_CHUNK_BYTES);
}

/* The pages of a mapped chunk. */
#define CHUNK_MAP_BYTES ((ADJ_CHUNK_BYTES + 4095u) & ~(size_t)4095u)

/* A chunk mapped from the system, aligned to ADJ_CHUNK_HOT: map room to
 * align in, then give back what lies before and after the chunk.  Unlike
 * posix_memalign it has no header (in a page of its own before the
 * chunk), so a chunk touches only its own pages.  NULL if the system
 * refuses; then posix_memalign. */
static void *chunk_map(void)
{
    const size_t len = CHUNK_MAP_BYTES + ADJ_CHUNK_HOT;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *p = m, *a = chunk_align(m);
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (p + len > a + CHUNK_MAP_BYTES)
        munmap(a + CHUNK_MAP_BYTES, (size_t)(p + len - (a + CHUNK_MAP_BYTES)));
    return a;
}

/* Chunks of the default allocator: mapped (aligned, so raw is the chunk)
 * or, where mapping failed, from posix_memalign (raw is never aligned to
 * ADJ_CHUNK_HOT then: a 16-byte offset marks it). */
static void *chunk_alloc(adj_tape *t)
{
    if (default_alloc(t)) {
        void *p = chunk_map();
        if (p)
            return p;
        if (posix_memalign(&p, ADJ_CHUNK_HOT, ADJ_CHUNK_BYTES + 16u) != 0)
            return NULL;
        return (char *)p + 16;
    }
    return t->al.alloc(t->al.ctx, ALIGNED_ALLOC(ADJ_CHUNK_BYTES));
}

static void chunk_free(adj_tape *t, void *raw)
{
    if (default_alloc(t)) {
        if (((uintptr_t)raw & (ADJ_CHUNK_HOT - 1)) == 0)
            munmap(raw, CHUNK_MAP_BYTES);
        else
            free((char *)raw - 16);
    } else {
        t->al.free(t->al.ctx, raw, ALIGNED_ALLOC(ADJ_CHUNK_BYTES));
    }
}

#define INERT_BYTES ALIGNED_ALLOC(ADJ_CHUNK_BYTES)

/* The inert var is slot 0 of a chunk-aligned region of its own, so that
 * adj_cold and adj_node_tape find its cold part and tape like any node's;
 * only three pages of the region are ever touched. */
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
    memset(adj_ext(v), 0, sizeof(adj_node_ext));
    *adj_chunk_tape(v) = t;
    c->numel = 1;
    c->shape = adj_ext(v)->shape_in;
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
    t->htag = adj_h_tag_high(0);
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
    t->htag = adj_h_tag_high(t->gen);
    t->sweeps = 0;
    t->seed_view = NULL;
    t->gvars = NULL;
    t->gvars_n = 0;
    t->names = NULL;
    t->nnames = t->names_cap = 0;
    t->params = 0;
    t->pstore = NULL;
    t->pcount_at = NULL;
    t->pcount = 0;
    t->pmixed = false;
    t->status = ADJ_OK;
    t->msg[0] = '\0';
}

void adj_tape_free(adj_tape *t)
{
    if (!t)
        return;
    adj_arena_free(t);
    for (size_t i = 0; i < t->nchunks; i++)
        chunk_free(t, t->chunk_mem[i]);
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
    return t && id < t->nnodes ? adj_h_out(adj_node_at(t, id)) : NULL;
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

/* ------------------------------------------------------------ chunks */

/* Move recording to the next chunk of nodes, allocating it if needed. */
bool adj_tape_next_chunk(adj_tape *t)
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
        size_t bytes = chunk_bytes(t);
        if (t->limit && t->reserved + bytes > t->limit)
            return false;
        void *raw = chunk_alloc(t);
        if (!raw)
            return false;
        t->allocations++;
        t->reserved += bytes;
        t->chunk_mem[t->nchunks] = raw;
        /* a default chunk starts at raw rounded down (see chunk_alloc) */
        t->chunks[t->nchunks] = default_alloc(t)
                                    ? (void *)((uintptr_t)raw & ~(uintptr_t)(ADJ_CHUNK_HOT - 1))
                                    : chunk_align(raw);
        *adj_chunk_tape(t->chunks[t->nchunks++]) = t;
    }
    t->cur_node = t->chunks[chunk];
    t->cur_end = t->cur_node + ADJ_NODE_CHUNK;
    t->cur_info = adj_info_at(t, t->nnodes);
    return true;
}

/* ---------------------------------------------------------------- names */

struct adj_node_name {
    uint32_t id;
    const char *name;
};

static struct adj_node_name *name_entry(const adj_tape *t, const adj_var *v)
{
    const uint32_t id = adj_cold(v)->id;
    for (size_t k = t->nnames; k-- > 0;)
        if (t->names[k].id == id)
            return &t->names[k];
    return NULL;
}

const char *adj_node_name(const adj_var *v)
{
    if (!(v->flags & ADJ_F_NAMED))
        return NULL;
    const struct adj_node_name *e = name_entry(adj_node_tape(v), v);
    return e ? e->name : NULL;
}

bool adj_node_set_name(adj_var *v, const char *name)
{
    adj_tape *t = adj_node_tape(v);
    struct adj_node_name *e = (v->flags & ADJ_F_NAMED) ? name_entry(t, v) : NULL;
    if (!e && name) {
        if (t->nnames == t->names_cap) {
            size_t cap = t->names_cap ? 2 * t->names_cap : 16;
            struct adj_node_name *n = adj_arena_alloc(t, cap * sizeof *n);
            if (!n)
                return false;
            if (t->nnames)
                memcpy(n, t->names, t->nnames * sizeof *n);
            t->names = n;
            t->names_cap = cap;
        }
        e = &t->names[t->nnames++];
        e->id = adj_cold(v)->id;
    }
    if (e)
        e->name = name;
    if (name)
        v->flags |= ADJ_F_NAMED;
    else
        v->flags &= (uint8_t)~ADJ_F_NAMED;
    return true;
}
