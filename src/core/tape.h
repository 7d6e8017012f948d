/*
 * Internal: the layout of nodes and tapes, the arena, and the recording
 * entry point every op goes through.  Not part of the public API.
 */
#ifndef ADJ_CORE_TAPE_H
#define ADJ_CORE_TAPE_H

#include "adjoint/core.h"
#include "adjoint/ops.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Node flags. */
enum {
    ADJ_F_GRAD = 1u,     /* an adjoint must flow into this node */
    ADJ_F_EXTGRAD = 2u,  /* grad points into a parameter store: accumulate, never clear */
    ADJ_F_INERT = 4u,    /* the tape's inert var, returned after an error */
    ADJ_F_MORE = 8u,     /* more than 3 inputs: in[3..] are in the cold part */
    ADJ_F_STRIDED = 16u, /* not contiguous: element (i0, ..) of the value is at
                            value[sum_k i_k * adj_ext(v)->stride[k]] */
    ADJ_F_VIEW = 32u,    /* value points into another node's storage (a view made
                            in O(1)): the node owns no value memory */
    ADJ_F_NAMED = 64u,   /* has a name (adj_var_set_name): see adj_node_name */
    ADJ_F_RELEASED = 128u, /* its adjoint was released by a sweep with
                              release_adjoints: grad is NULL and reads of it
                              are refused until a later sweep gives it one */
};

/* Bytes of attributes kept in the cold part itself; larger attribute
 * structs are copied into the arena.  Most ops take at most a double and
 * an int (scale, eps and an axis, a mask pointer and a scale). */
#define ADJ_ATTR_INLINE 16

/* Sizes of a shape kept in the cold part itself; a node of more
 * dimensions keeps its shape in the arena.  Three keep the cold part at
 * 88 bytes: a chunk's 1024 nodes and the tape's address then fill 39
 * pages (with 4 sizes, 41).  Nodes of 4 dimensions (a batch of images,
 * attention's (B, H, T, D)) are few and do far more work than the 64
 * bytes of arena they take. */
#define ADJ_SHAPE_INLINE 3

/*
 * What recording, errors and printing need of a node: its cold part,
 * stored apart from the node so that the backward sweep streams only the
 * hot part (64 bytes a node) through memory.  It is in two pieces, each an
 * array of its own after the chunk's nodes: adj_node_info (40 bytes),
 * which every node writes, and adj_node_ext (48 bytes), which holds what
 * a one-element node of the scalar paths never needs (inputs past the
 * third, strides, inline shape sizes, attributes) and which they do not
 * write: a scalar node then writes 104 bytes of lines, not 152.
 */
typedef struct adj_node_info {
    size_t numel;
    int64_t *shape;         /* ndim sizes: adj_ext's shape_in, or ADJ_MAX_DIMS slots in
                               the arena when ndim > ADJ_SHAPE_INLINE (while the op's
                               shape rule runs: scratch room for ADJ_MAX_DIMS sizes) */
    const char *file;       /* caller's file and line */
    uint32_t id;            /* position on the tape */
    uint32_t gen;           /* tape generation when recorded */
    int32_t line;
    uint32_t nin;           /* inputs (slots: an optional input may be NULL) */
} adj_node_info;

typedef struct adj_node_ext {
    union {
        int64_t *stride;    /* ADJ_F_STRIDED: ndim strides in elements (in the arena);
                               the value pointer is the first element, so there is no
                               offset */
        adj_var **more;     /* ADJ_F_MORE: inputs 3..nin-1 */
    };                      /* one pointer: a strided node is a view, of one input;
                               read only under its flag */
    int64_t shape_in[ADJ_SHAPE_INLINE];
    /* the op's attribute struct (desc->attr_size bytes) when it fits
     * ADJ_ATTR_INLINE bytes, else `ext` points to it (in the arena):
     * read it with adj_attr */
    union {
        double d[ADJ_ATTR_INLINE / 8];
        int64_t i[ADJ_ATTR_INLINE / 8];
        void *p;
        void *ext;
    } attr_buf;
} adj_node_ext;

/*
 * One recorded node: everything the sweep reads, in one 64-byte line.
 * Values and adjoints of one-element nodes live inline.  The cold part is
 * found from the node's address (adj_cold).
 */
struct adj_var {
    void *value;            /* numel elements of dtype, row-major */
    void *grad;             /* NULL until an adjoint flows (or param grad) */
    adj_var *in[3];         /* the first three inputs (NULL past nin, or an absent
                               optional input); the rest: adj_input */
    union { double d; float f; } inl_value, inl_grad;
    uint8_t op, dtype, ndim, flags;
    uint32_t mark;          /* sweep number that last reached this node */
};

_Static_assert(sizeof(struct adj_var) == 64, "adj_var grew: the scalar sweep pays for every byte");
_Static_assert(sizeof(adj_node_info) == 40, "adj_node_info grew: a scalar tape pays for every byte");
_Static_assert(sizeof(adj_node_info) + sizeof(adj_node_ext) == 88,
               "the cold part grew: a tape pays for every byte");

/* A block of the arena. */
typedef struct adj_block {
    struct adj_block *next;
    size_t size, used;
} adj_block;

/* A released piece of the arena (adj_arena_release), kept in itself. */
typedef struct adj_free_chunk {
    struct adj_free_chunk *next;
    size_t size;
} adj_free_chunk;

/* Size classes of released pieces: class k holds sizes in [2^k, 2^(k+1)). */
#define ADJ_FREE_CLASSES 48

/* A chunk holds ADJ_NODE_CHUNK hot nodes (ADJ_CHUNK_HOT bytes, aligned to
 * that size) followed by their cold parts (the adj_node_info array, then
 * the adj_node_ext array) and then by the tape's address, so a node's
 * cold part and its tape are found from its address alone. */
#define ADJ_NODE_CHUNK 1024u
#define ADJ_CHUNK_HOT ((size_t)ADJ_NODE_CHUNK * 64u)
#define ADJ_CHUNK_EXT (ADJ_CHUNK_HOT + (size_t)ADJ_NODE_CHUNK * sizeof(adj_node_info))
#define ADJ_CHUNK_TAPE (ADJ_CHUNK_EXT + (size_t)ADJ_NODE_CHUNK * sizeof(adj_node_ext))
#define ADJ_CHUNK_BYTES (ADJ_CHUNK_TAPE + 64u)
#define ADJ_MSG_SIZE 384

struct adj_tape {
    adj_allocator al;
    /* nodes: fixed-size chunks, so node pointers are stable */
    adj_var **chunks;       /* 64-byte aligned */
    void **chunk_mem;       /* what the allocator returned for each */
    size_t nchunks, chunks_cap;
    size_t nnodes;
    adj_var *cur_node, *cur_end;   /* the next free node of the current chunk */
    adj_node_info *cur_info;       /* and its cold part */
    /* arena for tensor data */
    adj_block *blocks;      /* all blocks, current first-fit order */
    adj_block *cur;
    size_t reserved, used, high_water, allocations, limit;
    /* released pieces, reused before the arena grows; emptied by reset */
    adj_free_chunk *freed[ADJ_FREE_CLASSES];
    size_t nfreed;
    /* what is being recorded, for out-of-memory messages from the arena:
     * the public function ("adj_matmul") and its caller's file:line */
    const char *rec_fn;
    const char *rec_file;
    int rec_line;
    /* sticky error */
    adj_status status;
    char msg[ADJ_MSG_SIZE];
    adj_error_hook hook;
    void *hook_user;
    int anomaly;
    uint32_t gen;
    uintptr_t htag;         /* the high-form handle tag of gen (core/handle.h) */
    uint32_t sweeps;        /* backward sweeps since the last reset */
    uint32_t release_sweep; /* the sweep number of a sweep that releases adjoints
                               (release_adjoints) while it runs, else 0 */
    const void *seed_view;  /* the caller's seed that is a node's adjoint
                               (adj_backward_seeded_view): read only, a later
                               sweep drops it, never clears or releases it */
    /* the adjoint vars of the last create_graph sweep (adj_grad_var),
     * indexed by node id < gvars_n; NULL when there was none since the
     * last reset (the array lives in the arena) */
    adj_var **gvars;
    size_t gvars_n;
    int params;             /* adj_param put a store's tensor on the tape */
    /* the store and its tensor count of every parameter leaf since the
     * last reset, when all of them share one store and one count; else
     * pmixed.  Then no leaf is stale while the store still holds pcount
     * tensors (adj_tape_params_current). */
    const adj_params *pstore;
    const int *pcount_at;   /* pstore's live tensor count */
    int pcount;
    bool pmixed;
    /* the names given to nodes (adj_var_set_name), in the arena: few
     * nodes have one, so they are kept here rather than in every node */
    struct adj_node_name *names;
    size_t nnames, names_cap;
    adj_var *inert;         /* slot 0 of a chunk of its own */
    void *inert_mem;
    /* the chunks of the current region not yet used (tape.c) */
    char *region_next, *region_end;
    bool huge;              /* chunks past the first few come from regions */
};

/* Tests: while true, the default allocator's chunks are never mapped (as
 * if the system refused): they come from posix_memalign. */
extern bool adj_test_refuse_maps;

/* Forget the node recorded last (after a failed shape rule or allocation). */
static inline void adj_drop_last_node(adj_tape *t)
{
    t->nnodes--;
    t->cur_node--;
    t->cur_info--;
}

/*
 * Record op on the tape of its inputs: validate, copy the attributes,
 * shape, allocate, forward.  in[0..nin-1] are the inputs: nin is the op's
 * arity, or any number >= 1 for a variadic op (arity ADJ_ARITY_ANY).
 * attr points to the op's attribute struct (desc->attr_size bytes), or is
 * NULL for an op without attributes (or to zero them); it is copied, so
 * it may live on the caller's stack.
 */
adj_var *adj_record(adj_op op, adj_var *const *in, int nin, const void *attr,
                    const char *file, int line);
/* The same for one input x of an op whose result has x's shape (shape rule
 * adj_shape_same), without attributes or a view rule (core/record.c). */
adj_var *adj_record_same1(adj_op op, adj_var *x, const char *file, int line);

/* A leaf whose value is `data` itself (not copied): it must outlive the
 * tape's use of the node.  For gradient checking and parameters. */
adj_var *adj_leaf_view(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape, void *data,
                       int requires_grad, const char *file, int line);
/* The same, named adj_<fn> in messages (adj_param: "param"). */
adj_var *adj_leaf_view_as(adj_tape *t, const char *fn, adj_dtype dtype, int ndim,
                          const int64_t *shape, void *data, int requires_grad, const char *file,
                          int line);

/* Arena allocation of n bytes (64-byte aligned); NULL after recording
 * ADJ_ENOMEM on the tape. */
void *adj_arena_alloc(adj_tape *t, size_t n);
void *adj_arena_zalloc(adj_tape *t, size_t n);
/* Give back n bytes at p, which adj_arena_alloc returned (n as asked
 * for): later allocations reuse them until the next reset.  The caller
 * must never touch them again. */
void adj_arena_release(adj_tape *t, void *p, size_t n);
void adj_arena_reset(adj_tape *t);
void adj_arena_free(adj_tape *t);

/* The name of node v (adj_var_set_name), or NULL. */
const char *adj_node_name(const adj_var *v);
/* Name node v: name (NULL: no name) must live as long as the tape's
 * arena.  False after recording ADJ_ENOMEM on the tape. */
bool adj_node_set_name(adj_var *v, const char *name);

/* Record an error on t (first one wins) with a printf-style message. */
void adj_tape_fail(adj_tape *t, adj_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Anomaly mode's check for a backward that writes the adjoint of x, a
 * tensor under its input k (a view's or a copy's source) in place of that
 * input's own: records ADJ_ENUMERIC on y's tape, naming y and input k,
 * when x's adjoint holds a NaN or an infinity.  Nothing out of anomaly
 * mode.  The sweep's own check reads only y's inputs' adjoints. */
void adj_anomaly_check_under(adj_var *y, int k, const adj_var *x);

/* A leaf (an input, a constant, a parameter) is the start of a chain, not
 * an op: the tape records it with op ADJ_LEAF_OP, the first value of
 * adj_op, whose descriptor has nothing to compute (ops/table.c checks). */
#define ADJ_LEAF_OP 0
static inline bool adj_is_leaf(const adj_var *v) { return v->op == ADJ_LEAF_OP; }

/* Element size of a dtype. */
static inline size_t adj_dsize(int dtype) { return dtype == ADJ_F64 ? 8u : 4u; }

/* Element i of storage p of a dtype, as a double (index tensors too). */
static inline double adj_elem_get(const void *p, int dtype, size_t i)
{
    return dtype == ADJ_F64   ? ((const double *)p)[i]
           : dtype == ADJ_I32 ? (double)((const int32_t *)p)[i]
                              : (double)((const float *)p)[i];
}

/* Node id -> its cold part (stored after the chunk's nodes). */
static inline adj_node_info *adj_info_at(const adj_tape *t, size_t id)
{
    return (adj_node_info *)((char *)t->chunks[id / ADJ_NODE_CHUNK] + ADJ_CHUNK_HOT) +
           id % ADJ_NODE_CHUNK;
}

/* A node's cold part: its chunk starts at the node's address rounded down
 * to ADJ_CHUNK_HOT, and the cold parts follow the hot ones in order. */
static inline adj_node_info *adj_cold(const adj_var *v)
{
    uintptr_t p = (uintptr_t)v, base = p & ~(uintptr_t)(ADJ_CHUNK_HOT - 1);
    return (adj_node_info *)(base + ADJ_CHUNK_HOT) + (p - base) / sizeof(adj_var);
}

/* The rest of a node's cold part (see adj_node_ext). */
static inline adj_node_ext *adj_ext(const adj_var *v)
{
    uintptr_t p = (uintptr_t)v, base = p & ~(uintptr_t)(ADJ_CHUNK_HOT - 1);
    return (adj_node_ext *)(base + ADJ_CHUNK_EXT) + (p - base) / sizeof(adj_var);
}

/* The slot after a chunk's cold parts that holds the tape's address:
 * chunk_start is the (aligned) address of the chunk's first node. */
static inline adj_tape **adj_chunk_tape(void *chunk_start)
{
    return (adj_tape **)((char *)chunk_start + ADJ_CHUNK_TAPE);
}

/* The tape node v was recorded on. */
static inline adj_tape *adj_node_tape(const adj_var *v)
{
    return *adj_chunk_tape((void *)((uintptr_t)v & ~(uintptr_t)(ADJ_CHUNK_HOT - 1)));
}

/* Node id -> node. */
static inline adj_var *adj_node_at(const adj_tape *t, size_t id)
{
    return &t->chunks[id / ADJ_NODE_CHUNK][id % ADJ_NODE_CHUNK];
}

/* In an op's shape rule: y takes x's shape (its ndim and sizes). */
static inline void adj_shape_from(adj_var *y, const adj_var *x)
{
    const int64_t *src = adj_cold(x)->shape;
    int64_t *dst = adj_cold(y)->shape;
    y->ndim = x->ndim;
    for (int k = 0; k < x->ndim; k++)
        dst[k] = src[k];
}

/* In an op's shape rule: y's shape is the ndim sizes at sizes. */
static inline void adj_shape_set(adj_var *y, int ndim, const int64_t *sizes)
{
    int64_t *dst = adj_cold(y)->shape;
    y->ndim = (uint8_t)ndim;
    for (int k = 0; k < ndim; k++)
        dst[k] = sizes[k];
}

/* Give node v (cold part c) its own storage for its ndim sizes at src
 * (inline, or in the arena past ADJ_SHAPE_INLINE dimensions) and copy
 * them there; false after recording ADJ_ENOMEM.  The arena case is
 * adj_shape_store_arena (core/record.c). */
bool adj_shape_store_arena(adj_tape *t, adj_var *v, const int64_t *src);
static inline bool adj_shape_store(adj_tape *t, adj_var *v, const int64_t *src)
{
    if (v->ndim > ADJ_SHAPE_INLINE)
        return adj_shape_store_arena(t, v, src);
    int64_t *in = adj_ext(v)->shape_in;
    if (in != src)
        for (int k = 0; k < v->ndim; k++)
            in[k] = src[k];
    adj_cold(v)->shape = in;
    return true;
}

/* Storage offset, in elements from v->value, of element i of v in
 * row-major order (i itself unless v is strided). */
static inline ptrdiff_t adj_elem_off(const adj_var *v, size_t i)
{
    if (!(v->flags & ADJ_F_STRIDED))
        return (ptrdiff_t)i;
    const int64_t *shape = adj_cold(v)->shape, *stride = adj_ext(v)->stride;
    ptrdiff_t off = 0;
    for (int k = v->ndim - 1; k >= 0; k--) {
        size_t n = (size_t)shape[k];
        off += (ptrdiff_t)(i % n) * (ptrdiff_t)stride[k];
        i /= n;
    }
    return off;
}

/* Element i (row-major) of v's value as a double, whatever its layout. */
static inline double adj_var_elem(const adj_var *v, size_t i)
{
    return adj_elem_get((const char *)v->value + adj_elem_off(v, i) * (ptrdiff_t)adj_dsize(v->dtype),
                        v->dtype, 0);
}

/* Copy v's values into dst in row-major order (numel elements of v's
 * dtype), whatever v's layout. */
void adj_var_copy_out(const adj_var *v, void *dst);

/* The attribute struct of node v (NULL for an op without attributes):
 * ADJ_ATTR(v, slice_attr)->step. */
void *adj_attr(const adj_var *v);
/* The same, for code that knows the op's desc->attr_size. */
static inline void *adj_attr_sized(const adj_var *v, size_t attr_size)
{
    adj_node_ext *e = adj_ext(v);
    return !attr_size ? NULL : attr_size <= ADJ_ATTR_INLINE ? (void *)&e->attr_buf : e->attr_buf.ext;
}
#define ADJ_ATTR(v, type) ((type *)adj_attr(v))

/* Number of input slots of v, and input k < adj_nin(v) (NULL for an absent
 * optional input).  Generic code iterates over every input with these. */
static inline int adj_nin(const adj_var *v) { return (int)adj_cold(v)->nin; }
static inline adj_var *adj_input(const adj_var *v, int k)
{
    return k < 3 ? v->in[k] : adj_ext(v)->more[k - 3];
}

/* The adjoint buffer of v, allocated zeroed on first use in backward. */
void *adj_grad_buf(adj_var *v);
/* The same, except that a buffer this call allocates is not zeroed (or a
 * parameter's adjoint zeroed by adj_params_zero_grad and not written
 * since): then *fresh is true and the caller must store (not add) every
 * element of it before returning.  For kernels that write a whole adjoint in one pass:
 * it saves zeroing the buffer and reading it back. */
void *adj_grad_buf_fresh(adj_var *v, bool *fresh);
/* The same for a kernel whose stored values have the bits of 0 + each
 * value (never a -0 where the add gives +0: sums from +0, BLIS products,
 * an explicit 0 + d): it may also take the marks of adj_params_zero_grad,
 * which must give the bits of zeros written first (see params.c). */
void *adj_grad_buf_exact(adj_var *v, bool *fresh);

/* For a backward in which input x's adjoint receives y's adjoint as it
 * is (same elements in the same order: a reshape, the first operand of an
 * add): whether x can take y's adjoint buffer over instead, which holds
 * when the sweep releases adjoints (y's is dead once its backward has
 * run), x has none yet and owns no store's, and both have the same
 * dtype and numel > 1.  adj_grad_pass then hands it over (x's adjoint is
 * y's; y's is released); call it once the backward has read y's adjoint
 * for everything else. */
bool adj_grad_passable(const adj_var *y, const adj_var *x);
void adj_grad_pass(adj_var *y, adj_var *x);

/* Before a sweep from y: zero the adjoints of the nodes y depends on
 * (parameters keep theirs) and mark them with `sweep`; false with
 * ADJ_ESTATE on t on a parameter whose store has moved its blocks
 * (core/backward.c). */
bool adj_clear_reachable(adj_tape *t, adj_var *y, uint32_t sweep);

/* adj_backward(y), releasing each op node's adjoint once its backward
 * has run (adj_backward_opts.release_adjoints). */
adj_status adj_backward_release(adj_var *y);

/* "(2,3)" of a shape. */
void adj_fmt_shape(char *buf, size_t size, int ndim, const int64_t *shape);
/* v with %.*g, a zero as 0 (never -0): how printed definitions and traces
 * write numbers. */
void adj_fmt_num(char *buf, size_t size, double v, int digits);

/*
 * Parameter leaves (ADJ_F_EXTGRAD) alias their store's blocks; adj_param
 * keeps the store, the tensor's index and the store's tensor count at that
 * moment in the leaf's attribute storage (a leaf has no attributes: its
 * attr stays NULL, attr_buf unused).  A later adj_params_add
 * moves the blocks, so the leaf's value and adjoint pointers then point
 * into freed memory.  adj_param_stale says whether that happened (v must
 * be a parameter leaf); adj_param_moved also records ADJ_ESTATE on t,
 * naming `who` and the call site (file may be NULL).
 */
bool adj_param_stale(const adj_var *v);
/* adj_param_at through the general leaf path (adj_leaf_view_as), which
 * adj_param_at itself leaves for a parameter of more than ADJ_SHAPE_INLINE
 * dimensions: the same node, for tests comparing the two. */
adj_var *adj_param_general(adj_tape *t, adj_params *p, int i, const char *file, int line);
/* Whether v's values live in a parameter's block that adj_params_add has
 * since moved: v a parameter leaf, or a view of one (views of views
 * followed to the node that owns the storage). */
static inline bool adj_storage_stale(const adj_var *v)
{
    while (v->flags & ADJ_F_VIEW)
        v = v->in[0];
    return (v->flags & ADJ_F_EXTGRAD) && adj_param_stale(v);
}
/* No parameter leaf on t can be stale: they all share one store, which
 * still holds the tensor count they saw (the case of
 * adj_tape_params_current that needs no call; false without leaves). */
static inline bool adj_tape_params_unmoved(const adj_tape *t)
{
    return t->params && !t->pmixed && *t->pcount_at == t->pcount;
}
/*
 * adj_params_zero_grad only marks a tensor (see params.c).  For a current
 * parameter leaf v: adj_param_settle writes the pending zeros of its
 * tensor; adj_param_take_fresh clears the mark and returns whether there
 * was one, and then the caller must store (not add) every element of the
 * adjoint (a mark of adj_params_zero_grad only when exact: else its zeros
 * are written and it returns false).  adj_grad_buf, adj_grad_buf_fresh
 * and adj_grad_buf_exact call them.
 */
void adj_param_settle(const adj_var *v);
bool adj_param_take_fresh(const adj_var *v, bool exact);
/* v's adjoint's address goes to the caller of the library (a current
 * parameter leaf v): from now on adj_params_zero_grad writes its zeros at
 * once (see params.c). */
void adj_param_show(const adj_var *v);
/* adj_params_grads for the library's own readers (optimizers, clipping),
 * which keep no pointer: the pending zeros written, the address not
 * counted as given out. */
void *adj_params_grads_settled(adj_params *p);
/* v's adjoint for reading outside a sweep: a parameter leaf's pending
 * zeros are written first (NULL when v has none). */
static inline const void *adj_grad_for_read(const adj_var *v)
{
    if (v->grad && (v->flags & ADJ_F_EXTGRAD))
        adj_param_settle(v);
    return v->grad;
}
bool adj_param_moved(adj_tape *t, const adj_var *v, const char *who, const char *file, int line);
/* The first parameter leaf on t whose store has moved, or NULL. */
const adj_var *adj_tape_moved_param(const adj_tape *t);
/* True when no parameter leaf on t can be stale, known without visiting
 * them: every one came from one store, which has kept the tensor count it
 * had for all of them.  False says only that a leaf may be stale. */
bool adj_tape_params_current(const adj_tape *t);

/* Default allocator. */
extern const adj_allocator adj_default_allocator;
/* The allocator a parameter store was made with (the default for NULL);
 * objects built around a store (batch norm) allocate from it too. */
const adj_allocator *adj_params_allocator(const adj_params *p);

/* Record an error on a store (its status and message) from outside params.c. */
void adj_params_fail(adj_params *p, adj_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Below 2^ADJ_NUMEL_FAST_BITS both factors, so their product, stay under
 * SIZE_MAX / 16 without the division: 2^30 with a 64-bit size_t, 2^14
 * with a 32-bit one. */
#if SIZE_MAX > 0xffffffffu
#define ADJ_NUMEL_FAST_BITS 30
#else
#define ADJ_NUMEL_FAST_BITS 14
#endif
_Static_assert(((size_t)1 << (2 * ADJ_NUMEL_FAST_BITS)) - 1 <= SIZE_MAX / 16,
               "two factors below 2^ADJ_NUMEL_FAST_BITS keep their product under SIZE_MAX / 16");

/* Product of dims with overflow check: false for a negative size, an
 * ndim outside 0..ADJ_MAX_DIMS, or a product above SIZE_MAX / 16.  While
 * the product and the size are both below 2^ADJ_NUMEL_FAST_BITS their
 * product is within the bound, so the division that checks it is skipped
 * (inline: every op and leaf records one). */
static inline bool adj_shape_numel(int ndim, const int64_t *shape, size_t *out)
{
    size_t n = 1;
    if (ndim < 0 || ndim > ADJ_MAX_DIMS)
        return false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return false;
        const size_t s = (size_t)shape[i];
        if ((n | s) >> ADJ_NUMEL_FAST_BITS && s != 0 && n > SIZE_MAX / 16 / s)
            return false;
        n *= s;
    }
    *out = n;
    return true;
}

#endif
