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

/*
 * Regions: a tape's chunks past its first REGION_AFTER come from regions,
 * mappings of REGION_CHUNKS chunks aligned to 2 MiB that the system is
 * advised to back with huge pages (MADV_HUGEPAGE; where transparent huge
 * pages are off or unknown the advice does nothing).  A tape of 10^6 nodes
 * streams 64 MB of hot nodes through its sweeps: in 4 KiB pages a TLB
 * miss every 64 nodes.  Chunks lie CHUNK_STRIDE apart in a region (each
 * starts on an ADJ_CHUNK_HOT boundary), so a chunk backed by huge pages
 * takes CHUNK_STRIDE bytes of memory, 40 KiB more than a chunk mapped on
 * its own, and the ext pieces a scalar node never writes are backed too
 * (about 84 bytes more a scalar node): only tapes that are large anyway
 * pay for it.  A tape with a byte limit takes no chunk from a region, so
 * that the limit stays a cap on its memory.  ADJ_HUGE_PAGES=0 in the
 * environment of a tape's creation maps every chunk on its own.
 */
#define CHUNK_STRIDE ((CHUNK_MAP_BYTES + ADJ_CHUNK_HOT - 1) & ~(size_t)(ADJ_CHUNK_HOT - 1))
#define HUGE_PAGE ((size_t)2 << 20)
#define REGION_CHUNKS 32u
#define REGION_BYTES ((size_t)REGION_CHUNKS * CHUNK_STRIDE)
#define REGION_AFTER 16u
_Static_assert(REGION_BYTES % HUGE_PAGE == 0, "a region is whole huge pages");

/* What the default allocator's chunks are (low bits of the raw pointer
 * kept for each: a chunk itself is aligned to ADJ_CHUNK_HOT). */
enum { RAW_MAPPED = 0, RAW_MEMALIGN = 16, RAW_REGION = 32 };

bool adj_test_refuse_maps;

static bool huge_pages_wanted(void)
{
    const char *e = getenv("ADJ_HUGE_PAGES");
    return !(e && strcmp(e, "0") == 0);
}

/* The next chunk of t's current region, mapping a new region when it is
 * used up; NULL if the system refuses (or regions are off). */
static void *region_chunk(adj_tape *t)
{
#ifdef MADV_HUGEPAGE
    if (t->region_next == t->region_end) {
        if (adj_test_refuse_maps)
            return NULL;
        const size_t len = REGION_BYTES + HUGE_PAGE;
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        char *p = m, *a = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        if (a > p)
            munmap(p, (size_t)(a - p));
        if (p + len > a + REGION_BYTES)
            munmap(a + REGION_BYTES, (size_t)(p + len - (a + REGION_BYTES)));
        (void)madvise(a, REGION_BYTES, MADV_HUGEPAGE); /* advice only */
        t->region_next = a;
        t->region_end = a + REGION_BYTES;
    }
    void *c = t->region_next;
    t->region_next += CHUNK_STRIDE;
    return c;
#else
    (void)t;
    return NULL;
#endif
}

/* Chunks of the default allocator: from a region, or mapped on their own
 * (aligned, so raw is the chunk), or, where mapping failed, from
 * posix_memalign; the raw pointer kept is the chunk plus RAW_*. */
static void *chunk_alloc(adj_tape *t)
{
    if (default_alloc(t)) {
        void *p = t->huge && !t->limit && t->nchunks >= REGION_AFTER ? region_chunk(t) : NULL;
        if (p)
            return (char *)p + RAW_REGION;
        p = adj_test_refuse_maps ? NULL : chunk_map();
        if (p)
            return p;
        if (posix_memalign(&p, ADJ_CHUNK_HOT, ADJ_CHUNK_BYTES + RAW_MEMALIGN) != 0)
            return NULL;
        return (char *)p + RAW_MEMALIGN;
    }
    return t->al.alloc(t->al.ctx, ALIGNED_ALLOC(ADJ_CHUNK_BYTES));
}

/* Give back chunks [i, n) of t's list and what is left of its region:
 * adjacent chunks of a region in one call. */
static void chunks_free(adj_tape *t, size_t i)
{
    while (i < t->nchunks) {
        char *raw = t->chunk_mem[i++];
        if (!default_alloc(t)) {
            t->al.free(t->al.ctx, raw, ALIGNED_ALLOC(ADJ_CHUNK_BYTES));
            continue;
        }
        switch ((uintptr_t)raw & (ADJ_CHUNK_HOT - 1)) {
        case RAW_MAPPED:
            munmap(raw, CHUNK_MAP_BYTES);
            break;
        case RAW_MEMALIGN:
            free(raw - RAW_MEMALIGN);
            break;
        default: {
            char *start = raw - RAW_REGION, *end = start + CHUNK_STRIDE;
            while (i < t->nchunks && (char *)t->chunk_mem[i] == end + RAW_REGION) {
                end += CHUNK_STRIDE;
                i++;
            }
            munmap(start, (size_t)(end - start));
        }
        }
    }
    if (t->region_next != t->region_end)
        munmap(t->region_next, (size_t)(t->region_end - t->region_next));
    t->region_next = t->region_end = NULL;
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
    t->huge = huge_pages_wanted();
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
    chunks_free(t, 0);
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
