/*
 * Internal: handles.  The adj_var * a public function hands out is the
 * node's address carrying a tag of the tape's generation (how many resets
 * it has seen) in bits the address does not use, so that a var kept past
 * adj_tape_reset is caught even when its slot now holds a new node.
 *
 *   high form: bit 63 set, bits 48..62 the generation mod 2^15; bits
 *              0..47 the address.  Used when the node lies below 2^47
 *              (every user-space address of x86-64 and aarch64 Linux
 *              with the default 47/48-bit layout).
 *   low form:  bits 0..5 the generation mod 63, plus one (a node is
 *              64-byte aligned, so these bits of its address are 0).
 *              Used for a node above 2^47 and on 32-bit targets.
 *   untagged:  the address itself.  Pointers the library reads from a
 *              node's inputs are untagged; every public function accepts
 *              them unchecked (the layers, models and double backward
 *              pass them back into public ops).
 *
 * No tag is 0, so a tagged handle is never taken for an untagged one.
 * The tag repeats every 2^15 resets (high form) or 63 (low form): a handle
 * exactly that many resets old whose slot has been reused passes.
 *
 * Every public function that takes an adj_var * strips and checks it with
 * adj_h_in (ops) or adj_h_get (accessors) before reading the node, and
 * every public function that returns one tags it with adj_h_out.  The
 * recorder (adj_record) strips and checks its inputs itself and returns a
 * tagged result, so an op that only passes its arguments to adj_record
 * needs nothing more.  Never dereference a handle before stripping it: a
 * high-form pointer is not a valid address and faults.
 */
#ifndef ADJ_CORE_HANDLE_H
#define ADJ_CORE_HANDLE_H

#include "core/tape.h"

#include <stdint.h>

#if UINTPTR_MAX > 0xffffffffu
#define ADJ_H_HIGH 1
#define ADJ_H_MARK ((uintptr_t)1 << 63)
#define ADJ_H_ADDR (((uintptr_t)1 << 48) - 1)   /* the address bits of the high form */
#define ADJ_H_LIMIT ((uintptr_t)1 << 47)        /* nodes below this get the high form */
#else
#define ADJ_H_HIGH 0
#endif
#define ADJ_H_LOW ((uintptr_t)63)                /* the tag bits of the low form */

/* The two tags of generation gen (see above): the high form's bits 48..63
 * and the low form's bits 0..5. */
static inline uintptr_t adj_h_tag_high(uint32_t gen)
{
#if ADJ_H_HIGH
    return ADJ_H_MARK | (uintptr_t)(gen & 0x7fffu) << 48;
#else
    (void)gen;
    return 0;
#endif
}
static inline uintptr_t adj_h_tag_low(uint32_t gen) { return (uintptr_t)(gen % 63u) + 1u; }

/* Handle of node address p (64-byte aligned) in generation gen. */
static inline uintptr_t adj_h_make(uintptr_t p, uint32_t gen)
{
#if ADJ_H_HIGH
    if (p < ADJ_H_LIMIT)
        return p | adj_h_tag_high(gen);
#endif
    return p | adj_h_tag_low(gen);
}

/* The address of handle h (tagged in either form, or untagged). */
static inline uintptr_t adj_h_addr(uintptr_t h)
{
#if ADJ_H_HIGH
    /* high form: keep the 48 address bits; else keep all (no branch) */
    h &= ~((0 - (h >> 63)) & ~ADJ_H_ADDR);
#endif
    return h & ~ADJ_H_LOW;
}

/* Does handle h carry the tag of generation gen (true when untagged)? */
static inline bool adj_h_current(uintptr_t h, uint32_t gen)
{
#if ADJ_H_HIGH
    if (h & ADJ_H_MARK)
        return (h & ~ADJ_H_ADDR) == adj_h_tag_high(gen);
#endif
    return !(h & ADJ_H_LOW) || (h & ADJ_H_LOW) == adj_h_tag_low(gen);
}

/* The same for tape t's current generation, with its high tag precomputed. */
static inline uintptr_t adj_h_make_t(uintptr_t p, const adj_tape *t)
{
#if ADJ_H_HIGH
    if (p < ADJ_H_LIMIT)
        return p | t->htag;
#endif
    return p | adj_h_tag_low(t->gen);
}
static inline bool adj_h_current_t(uintptr_t h, const adj_tape *t)
{
#if ADJ_H_HIGH
    if (h & ADJ_H_MARK)
        return (h & ~ADJ_H_ADDR) == t->htag;
#endif
    return !(h & ADJ_H_LOW) || (h & ADJ_H_LOW) == adj_h_tag_low(t->gen);
}

/* The node of handle h, unchecked (NULL for NULL): for library code that
 * holds a handle it got from a public function of its own. */
static inline adj_var *adj_h_raw(const adj_var *h)
{
    return (adj_var *)adj_h_addr((uintptr_t)h);
}

/* Tag node v (untagged, or NULL) for returning it from a public function. */
static inline adj_var *adj_h_out(adj_var *v)
{
    if (!v)
        return NULL;
    return (adj_var *)adj_h_make_t((uintptr_t)v, adj_node_tape(v));
}

/* Does handle h (non-NULL) name a node of the current generation of its
 * tape (true when untagged)?  *node gets the node. */
static inline bool adj_h_ok(const adj_var *h, adj_var **node)
{
    adj_var *v = adj_h_raw(h);
    *node = v;
    return adj_h_current_t((uintptr_t)h, adj_node_tape(v));
}

/*
 * The node of handle h, passed to public function fn ("adj_backward"):
 * NULL for NULL.  A handle recorded before the last adj_tape_reset of its
 * tape records a sticky ADJ_ETAPE there ("adj_backward: the var was
 * recorded before adj_tape_reset ...", with " [at file:line]" from the
 * _at forms) and gives the tape's inert var (an op given it returns the
 * inert var at once).  adj_h_get is for accessors, which cannot fail: it
 * gives NULL for a stale handle and records nothing, and the accessor
 * returns what it returns for NULL.  The stale path is out of line
 * (core/handle.c): it formats a message.
 */
adj_var *adj_h_stale(adj_var *v, const char *fn, const char *file, int line);
static inline adj_var *adj_h_in_at(const adj_var *h, const char *fn, const char *file, int line)
{
    adj_var *v;
    if (!h)
        return NULL;
    return adj_h_ok(h, &v) ? v : adj_h_stale(v, fn, file, line);
}
static inline adj_var *adj_h_in(const adj_var *h, const char *fn)
{
    return adj_h_in_at(h, fn, NULL, 0);
}
/* Is handle h (or NULL) stale?  Then the error names "adj_<op>" (op
 * without the prefix, as descriptors name ops), as adj_h_in_at would. */
bool adj_h_stale_op(const adj_var *h, const char *op, const char *file, int line);

static inline adj_var *adj_h_get(const adj_var *h, const char *fn)
{
    adj_var *v;
    (void)fn; /* the accessor's name: nothing is recorded */
    return h && adj_h_ok(h, &v) ? v : NULL;
}

#endif
