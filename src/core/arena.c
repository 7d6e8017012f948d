/*
 * The tape's arena: a list of blocks bump-allocated in order.  A reset
 * rewinds to the first block; if the tape needed several blocks, reset
 * replaces them by one block of their total size, so a loop of
 * record -> backward -> reset stops allocating after its first iterations.
 *
 * Pieces given back before the reset (adj_arena_release: the adjoints a
 * sweep with release_adjoints no longer needs) go to lists by size class
 * and are handed out again first, so the bump pointer, and with it the
 * high-water mark, stays where it is while they last; a piece at the top
 * of the current block lowers its bump pointer instead.
 */
#include "core/tape.h"

#include <stdbool.h>
#include <string.h>

#define ALIGN 64u
#define MIN_BLOCK ((size_t)64 * 1024)

static size_t header_size(void) { return (sizeof(adj_block) + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

static adj_block *block_new(adj_tape *t, size_t size)
{
    size_t total = header_size() + size;
    if (t->limit && t->reserved + total > t->limit)
        return NULL;
    adj_block *b = t->al.alloc(t->al.ctx, total + ALIGN);
    if (!b)
        return NULL;
    t->allocations++;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    t->reserved += total;
    return b;
}

static void *block_base(adj_block *b)
{
    /* the usable area starts on an ALIGN boundary after the header */
    uintptr_t p = (uintptr_t)b + header_size();
    p = (p + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    return (void *)p;
}

/* The size class of n > 0 bytes: floor(log2(n)), at most the last one. */
static int size_class(size_t n)
{
    int k = 0;
    while (n >>= 1)
        k++;
    return k < ADJ_FREE_CLASSES ? k : ADJ_FREE_CLASSES - 1;
}

/* Pieces below this are not split off a reused one: kept whole. */
#define MIN_SPLIT ((size_t)4096)

static void push_free(adj_tape *t, void *p, size_t n)
{
    /* a piece at the top of the current block moves its bump pointer back
     * instead: a later request larger than any released piece then grows
     * the arena only by what it lacks */
    adj_block *b = t->cur;
    if (b && (char *)p + n == (char *)block_base(b) + b->used) {
        b->used -= n;
        t->used -= n;
        return;
    }
    adj_free_chunk *c = p;
    int k = size_class(n);
    c->size = n;
    c->next = t->freed[k];
    t->freed[k] = c;
    t->nfreed++;
}

/* A released piece of at least n bytes (a multiple of ALIGN), or NULL:
 * the first that fits in n's own class, else the head of the next class
 * up that has one; a remainder of at least MIN_SPLIT bytes is released
 * again. */
static void *take_free(adj_tape *t, size_t n)
{
    for (int k = size_class(n); k < ADJ_FREE_CLASSES; k++) {
        for (adj_free_chunk **pc = &t->freed[k]; *pc; pc = &(*pc)->next) {
            adj_free_chunk *c = *pc;
            if (c->size < n)
                continue;
            *pc = c->next;
            t->nfreed--;
            if (c->size - n >= MIN_SPLIT)
                push_free(t, (char *)c + n, c->size - n);
            return c;
        }
    }
    return NULL;
}

/* Take out of the lists a released piece that ends at p or starts at
 * end; false if there is none. */
static bool take_neighbour(adj_tape *t, char **p, size_t *n)
{
    for (int k = 0; k < ADJ_FREE_CLASSES; k++)
        for (adj_free_chunk **pc = &t->freed[k]; *pc; pc = &(*pc)->next) {
            adj_free_chunk *c = *pc;
            if ((char *)c + c->size != *p && (char *)c != *p + *n)
                continue;
            *pc = c->next;
            t->nfreed--;
            if ((char *)c < *p)
                *p = (char *)c;
            *n += c->size;
            return true;
        }
    return false;
}

void adj_arena_release(adj_tape *t, void *p, size_t n)
{
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (!p || !n)
        return;
    /* merged with the released pieces beside it (blocks are never
     * adjacent: a header separates them), so that pieces given back one
     * by one can serve a larger request */
    char *q = p;
    while (take_neighbour(t, &q, &n))
        ;
    push_free(t, q, n);
}

void *adj_arena_alloc(adj_tape *t, size_t n)
{
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (n == 0)
        n = ALIGN;
    if (t->nfreed) {
        void *p = take_free(t, n);
        if (p)
            return p;
    }
    for (adj_block *b = t->cur; b; b = b->next) {
        if (b->size - b->used >= n) {
            void *p = (char *)block_base(b) + b->used;
            b->used += n;
            t->cur = b;
            t->used += n;
            if (t->used > t->high_water)
                t->high_water = t->used;
            return p;
        }
        /* later blocks are untouched since the last reset: try them */
    }
    size_t last = t->blocks ? t->reserved : 0;
    size_t size = n > MIN_BLOCK ? n : MIN_BLOCK;
    if (size < last)
        size = last; /* grow geometrically */
    adj_block *b = block_new(t, size);
    if (!b && size > n)
        b = block_new(t, n);
    if (!b) {
        const char *fn = t->rec_fn, *file = t->rec_file;
        adj_tape_fail(t, ADJ_ENOMEM,
                      "%s%s%sout of memory: the tape could not get %zu bytes (%zu reserved%s)%s%s%s%.0d%s",
                      fn ? "adj_" : "", fn ? fn : "", fn ? ": " : "", n, t->reserved,
                      t->limit ? ", limit reached" : "", file ? " [at " : "", file ? file : "",
                      file ? ":" : "", file ? t->rec_line : 0, file ? "]" : "");
        return NULL;
    }
    /* append after the current block so order stays first-fit */
    if (!t->blocks) {
        t->blocks = b;
    } else {
        adj_block *tail = t->cur ? t->cur : t->blocks;
        while (tail->next)
            tail = tail->next;
        tail->next = b;
    }
    t->cur = b;
    b->used = n;
    t->used += n;
    if (t->used > t->high_water)
        t->high_water = t->used;
    return block_base(b);
}

void *adj_arena_zalloc(adj_tape *t, size_t n)
{
    void *p = adj_arena_alloc(t, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static void free_blocks(adj_tape *t, adj_block *b)
{
    while (b) {
        adj_block *next = b->next;
        size_t total = header_size() + b->size;
        t->reserved -= total;
        t->al.free(t->al.ctx, b, total + ALIGN);
        b = next;
    }
}

void adj_arena_reset(adj_tape *t)
{
    if (t->blocks && t->blocks->next) {
        /* coalesce into one block holding everything the last pass used */
        size_t want = 0;
        for (adj_block *b = t->blocks; b; b = b->next)
            want += b->size;
        adj_block *old = t->blocks;
        t->blocks = NULL;
        free_blocks(t, old);
        t->blocks = block_new(t, want); /* NULL is fine: allocated on demand */
    }
    for (adj_block *b = t->blocks; b; b = b->next)
        b->used = 0;
    t->cur = t->blocks;
    t->used = 0;
    if (t->nfreed) { /* else every list is empty */
        memset(t->freed, 0, sizeof t->freed);
        t->nfreed = 0;
    }
}

void adj_arena_free(adj_tape *t)
{
    free_blocks(t, t->blocks);
    t->blocks = t->cur = NULL;
    memset(t->freed, 0, sizeof t->freed);
    t->nfreed = 0;
}
