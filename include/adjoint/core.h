/*
 * adjoint/core.h — status codes, the tape, variables, parameters.
 *
 * A tape records every operation a program runs on it (a Wengert list).
 * Each operation returns an `adj_var *`: a node of the tape holding the
 * value it computed.  `adj_backward(y)` seeds dy/dy = 1 and sweeps the tape
 * once in reverse, accumulating the adjoint of every node that needs one.
 *
 *     adj_tape *t = adj_tape_new();
 *     adj_var  *x = adj_scalar(t, 0.5);
 *     adj_var  *f = adj_exp(adj_square(x));        // f = exp(x^2)
 *     adj_backward(f);
 *     printf("%g %g\n", adj_item(f), adj_grad_item(x)); // 1.284 1.284
 *     adj_tape_free(t);
 *
 * Errors are values: an invalid call records a sticky error on the tape
 * (status + message naming the op, the shapes and the call site), later ops
 * on that tape do nothing, and `adj_backward` / `adj_tape_status` report it.
 */
#ifndef ADJOINT_CORE_H
#define ADJOINT_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

typedef enum adj_status {
    ADJ_OK = 0,
    ADJ_EINVAL,   /* invalid argument: NULL, bad axis, bad size, bad label */
    ADJ_ESHAPE,   /* shapes do not fit the op */
    ADJ_EDTYPE,   /* inputs of one op have different dtypes */
    ADJ_ETAPE,    /* a var from another tape, or from before a reset */
    ADJ_ENOMEM,   /* allocation failed or the tape's memory limit was hit */
    ADJ_EIO,      /* a file could not be opened, read or written */
    ADJ_EFORMAT,  /* a file is truncated, corrupt or of the wrong kind */
    ADJ_ENUMERIC, /* anomaly mode: a NaN or Inf appeared */
    ADJ_ESTATE,   /* a call that does not fit the object's state */
    ADJ_STATUS_COUNT
} adj_status;

/* Short English name of a status ("shape mismatch"); never NULL. */
ADJ_API const char *adj_status_string(adj_status s);

/* Element types: the float types of values and adjoints, and ADJ_I32 for
 * index tensors (indices, labels; see adj_index), which no gradient flows
 * into and which only the ops that take indices accept. */
typedef enum adj_dtype { ADJ_F32 = 0, ADJ_F64 = 1, ADJ_I32 = 2 } adj_dtype;

/* The outcome of a call that has no object to keep an error on (creating
 * a model, reading a file).  Functions taking an `adj_error *` accept NULL
 * and always fill a non-NULL one: status ADJ_OK and message "" on success. */
typedef struct adj_error {
    adj_status status;
    char message[256];
} adj_error;

/* "f32" / "f64" / "i32". */
ADJ_API const char *adj_dtype_name(adj_dtype d);

#define ADJ_MAX_DIMS 8

/* ------------------------------------------------------------- allocator */

/*
 * Every byte adjoint allocates goes through an allocator.  The default
 * wraps malloc/free.  `alloc` may return NULL: adjoint then reports
 * ADJ_ENOMEM and leaves every object valid.  `size` is passed to `free`
 * so counting allocators are easy to write.
 */
typedef struct adj_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} adj_allocator;

/* --------------------------------------------------------------- the tape */

typedef struct adj_tape adj_tape;
typedef struct adj_var adj_var;

/* Empty tape using malloc.  NULL only if malloc fails. */
ADJ_API adj_tape *adj_tape_new(void);
/* Empty tape using `a` (copied) for all its memory; NULL if `a` fails. */
ADJ_API adj_tape *adj_tape_new_with(const adj_allocator *a);
/* Forget every node in O(1), keep the memory for reuse, clear the error.
 * Every adj_var * of the tape becomes invalid: passing one to any function
 * afterwards is an ADJ_ETAPE error on the tape ("... recorded before
 * adj_tape_reset"; accessors, which cannot fail, return what they return
 * for NULL and record nothing),
 * also when its node's memory holds a newer var.  An adj_var * carries the
 * tape's reset count in bits the address does not use, so compare handles
 * only with ==, never order them or read through them; the count repeats
 * after 2^15 resets (63 for memory above 2^47 and on 32-bit targets), so a
 * handle exactly that many resets old may pass unnoticed. */
ADJ_API void adj_tape_reset(adj_tape *t);
/* Free the tape and everything recorded on it.  NULL is a no-op. */
ADJ_API void adj_tape_free(adj_tape *t);

/* ADJ_OK, or the first error recorded since creation or the last reset. */
ADJ_API adj_status adj_tape_status(const adj_tape *t);
/* What failed ("adj_matmul: shape mismatch: a (2,3) f64, b (4,5) f64
 * [at model.c:42]"); "" when the status is ADJ_OK. */
ADJ_API const char *adj_tape_message(const adj_tape *t);

/* Called once when the first (sticky) error is recorded: lets a debugging
 * user stop right there (set a breakpoint in the hook, or abort()). */
typedef void (*adj_error_hook)(const adj_tape *t, adj_status s,
                               const char *message, void *user);
ADJ_API void adj_tape_set_error_hook(adj_tape *t, adj_error_hook hook, void *user);

/* Cap the bytes the tape may hold (0 = no cap).  Going past it is a clean
 * ADJ_ENOMEM on the tape; reset makes the tape usable again.  While a limit
 * is set the tape maps each chunk of nodes on its own, never from a region
 * backed by huge pages, so the limit also caps the memory its chunks take
 * (chunks it took from regions before the limit was set keep theirs). */
ADJ_API void adj_tape_set_limit(adj_tape *t, size_t bytes);

/* Anomaly mode: check every forward value and every adjoint; the first NaN
 * or Inf becomes an ADJ_ENUMERIC error naming the op, node and call site. */
ADJ_API void adj_tape_set_anomaly(adj_tape *t, int on);

typedef struct adj_tape_stats {
    size_t nodes;         /* nodes recorded since the last reset */
    size_t bytes_used;    /* arena bytes in use now */
    size_t bytes_reserved;/* arena bytes owned (kept across resets) */
    size_t high_water;    /* most bytes ever in use at once */
    size_t allocations;   /* calls to the allocator since creation */
} adj_tape_stats;
ADJ_API void adj_tape_get_stats(const adj_tape *t, adj_tape_stats *out);

/* Number of nodes recorded since the last reset. */
ADJ_API size_t adj_tape_size(const adj_tape *t);
/* Node `id` (0 = first recorded) or NULL if out of range. */
ADJ_API adj_var *adj_tape_node(const adj_tape *t, size_t id);

/* ------------------------------------------------------------- leaf vars */

/* A double scalar (one element, 0 dims) that wants a gradient. */
#define adj_scalar(...) adj_scalar_at(__VA_ARGS__, __FILE__, __LINE__)
ADJ_API adj_var *adj_scalar_at(adj_tape *t, double value, const char *file, int line);
/* A leaf tensor (row-major, 0..ADJ_MAX_DIMS = 8 dims) that wants a gradient; data is copied.
 * data == NULL gives zeros.  Usage: adj_tensor_f64(t, 2, (int64_t[]){2, 3}, x) */
#define adj_tensor_f64(...) adj_tensor_f64_at(__VA_ARGS__, __FILE__, __LINE__)
#define adj_tensor_f32(...) adj_tensor_f32_at(__VA_ARGS__, __FILE__, __LINE__)
/* Like the above, but no gradient flows into it. */
#define adj_constant_f64(...) adj_constant_f64_at(__VA_ARGS__, __FILE__, __LINE__)
#define adj_constant_f32(...) adj_constant_f32_at(__VA_ARGS__, __FILE__, __LINE__)
ADJ_API adj_var *adj_tensor_f64_at(adj_tape *t, int ndim, const int64_t *shape,
                                   const double *data, const char *file, int line);
ADJ_API adj_var *adj_tensor_f32_at(adj_tape *t, int ndim, const int64_t *shape, const float *data,
                                   const char *file, int line);
ADJ_API adj_var *adj_constant_f64_at(adj_tape *t, int ndim, const int64_t *shape,
                                     const double *data,
                                     const char *file, int line);
ADJ_API adj_var *adj_constant_f32_at(adj_tape *t, int ndim, const int64_t *shape,
                                     const float *data, const char *file, int line);
/* A constant that reads `data` in place instead of copying it (for large
 * inputs fed every step, like a batch of a data set): data must hold numel
 * values of dtype and stay unchanged while the tape uses the var.  NULL
 * data with a nonzero element count is ADJ_EINVAL. */
#define adj_constant_view(...) adj_constant_view_at(__VA_ARGS__, __FILE__, __LINE__)
ADJ_API adj_var *adj_constant_view_at(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape,
                                      const void *data, const char *file, int line);
/* A leaf that wants a gradient and reads `data` in place (numel values of
 * dtype ADJ_F32 or ADJ_F64), instead of copying it like adj_tensor_f32:
 * for a large input that lives across steps.  data must stay unchanged
 * while the tape uses the var; the library never writes through it (the
 * adjoint is the tape's, as for any leaf).  NULL data with a nonzero
 * element count is ADJ_EINVAL, an ADJ_I32 dtype ADJ_EDTYPE. */
#define adj_tensor_view(...) adj_tensor_view_at(__VA_ARGS__, __FILE__, __LINE__)
ADJ_API adj_var *adj_tensor_view_at(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape,
                                    const void *data, const char *file, int line);
/* An index tensor (dtype ADJ_I32: indices, labels, token ids) of the given
 * shape; data (numel values, NULL gives zeros) is copied.  No gradient
 * flows into it; the ops that take indices (adj_embedding, adj_gather...)
 * accept it, and any other op given it records ADJ_EDTYPE.  Values are
 * checked against their bound by the op that uses them. */
#define adj_index(...) adj_index_at(__VA_ARGS__, __FILE__, __LINE__)
ADJ_API adj_var *adj_index_at(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data,
                              const char *file, int line);
/* The same reading `data` in place (it must stay unchanged while the tape
 * uses the var), like adj_constant_view; NULL data with a nonzero element
 * count is ADJ_EINVAL. */
#define adj_index_view(...) adj_index_view_at(__VA_ARGS__, __FILE__, __LINE__)
ADJ_API adj_var *adj_index_view_at(adj_tape *t, int ndim, const int64_t *shape,
                                   const int32_t *data, const char *file, int line);
/* General leaf: `data` points to numel values of `dtype` (an ADJ_I32 leaf
 * with requires_grad is ADJ_EDTYPE). */
ADJ_API adj_var *adj_leaf_at(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape,
                             const void *data, int requires_grad, const char *file, int line);

/* Same as the macros above, callable through a function pointer. */
ADJ_API adj_var *(adj_scalar)(adj_tape *t, double value);
ADJ_API adj_var *(adj_tensor_f64)(adj_tape *t, int ndim, const int64_t *shape, const double *data);
ADJ_API adj_var *(adj_tensor_f32)(adj_tape *t, int ndim, const int64_t *shape, const float *data);
ADJ_API adj_var *(adj_constant_f64)(adj_tape *t, int ndim, const int64_t *shape,
                  const double *data);
ADJ_API adj_var *(adj_constant_f32)(adj_tape *t, int ndim, const int64_t *shape,
                                     const float *data);
ADJ_API adj_var *(adj_index)(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data);
ADJ_API adj_var *(adj_index_view)(adj_tape *t, int ndim, const int64_t *shape,
                                  const int32_t *data);

/* ------------------------------------------------------------- accessors */

ADJ_API size_t adj_numel(const adj_var *v);      /* 0 for NULL */
ADJ_API int adj_ndim(const adj_var *v);          /* 0..ADJ_MAX_DIMS; -1 for NULL */
ADJ_API int64_t adj_dim(const adj_var *v, int axis); /* -1 if out of range */
ADJ_API adj_dtype adj_var_dtype(const adj_var *v);
ADJ_API adj_tape *adj_var_tape(const adj_var *v);
ADJ_API size_t adj_var_id(const adj_var *v);     /* position on the tape */
ADJ_API int adj_requires_grad(const adj_var *v);
/* Value at flat row-major index i, converted to double; NaN if out of range. */
ADJ_API double adj_value_at(const adj_var *v, size_t i);
/* Adjoint at flat index i after backward; 0 where none flowed. */
ADJ_API double adj_grad_at(const adj_var *v, size_t i);
/* Value / adjoint of a one-element var; NaN if v does not hold one element. */
ADJ_API double adj_item(const adj_var *v);
ADJ_API double adj_grad_item(const adj_var *v);
/* Raw row-major storage of the value (float * or double *) and of the
 * adjoint (NULL where none flowed).  Owned by the tape.  A view that is
 * not row-major in its input's storage (adj_transpose, adj_permute, a
 * slice with a step, adj_expand...: views share their input's storage)
 * has no such storage: adj_data then returns a row-major copy of its
 * values made in the tape's arena at each call (valid until
 * adj_tape_reset; NULL with ADJ_ENOMEM on the tape if it does not fit).
 * Adjoints are always row-major.  A 2-D view that adj_matmul reads
 * (adj_transpose(w), a slice) usually has none: while nothing else has
 * flowed into it, the product writes the view's adjoint straight into
 * its input's, as adj_matmul_t does for a transposed operand (anomaly
 * mode checks that adjoint there, so the mode changes no bits).  Likewise
 * adj_linear(x, adj_transpose(adj_contiguous(s)), b) with
 * s = adj_transpose(v) (a recurrent layer's W_hh, read through a
 * row-major copy of its transpose) adds dW straight into v's adjoint,
 * unless x or b is v or a view of it: the product gives nothing to the
 * weight, to the contiguous copy (a copy, not a view) nor to s, which
 * hold an adjoint only where other ops flowed into them (else
 * adj_grad_data is NULL and adj_grad_at 0); anomaly mode checks v's
 * adjoint after dW is added. */
ADJ_API const void *adj_data(const adj_var *v);
ADJ_API const void *adj_grad_data(const adj_var *v);
/* Copy the value / adjoint into `out` as doubles (numel entries). */
ADJ_API adj_status adj_copy_value(const adj_var *v, double *out);
ADJ_API adj_status adj_copy_grad(const adj_var *v, double *out);
/* Write "(2,3)" into buf (at most size bytes, NUL-terminated; "(null)"
 * for a NULL v; nothing for a NULL buf or size 0). */
ADJ_API void adj_shape_string(const adj_var *v, char *buf, size_t size);

/* -------------------------------------------------------------- backward */

/* y must hold one element: seed dy/dy = 1 and sweep the tape in reverse.
 * Adjoints of tape nodes are recomputed from zero on each call; adjoints
 * of parameters accumulate (+=) until adj_params_zero_grad.
 * Returns the tape's sticky error if there is one; ADJ_ESTATE (nothing
 * written) if y depends on a parameter whose store gained tensors after
 * adj_param put it on the tape. */
ADJ_API adj_status adj_backward(adj_var *y);
/* Same with an explicit seed dL/dy (numel(y) doubles), for any shape.  A
 * NULL seed is ADJ_EINVAL (recorded on the tape). */
ADJ_API adj_status adj_backward_seeded(adj_var *y, const double *seed);
/* Same with the seed in y's own dtype or in double: `seed` holds numel(y)
 * values of `dtype`, which is ADJ_F64 (converted, as adj_backward_seeded)
 * or y's dtype (copied as they are: a float32 seed for a float32 y costs
 * no conversion).  Any other dtype is ADJ_EDTYPE, a NULL seed ADJ_EINVAL
 * (both recorded on the tape). */
ADJ_API adj_status adj_backward_seeded_as(adj_var *y, adj_dtype dtype, const void *seed);
/* adj_backward_seeded_as without the copy: a seed of y's dtype is read in
 * place as y's adjoint (adj_grad_data(y) then returns `seed`), as
 * PyTorch's y.backward(up) reads up.  The caller keeps it alive and
 * unchanged until adj_tape_reset, or until a later sweep reaches y;
 * nothing is ever written into it (that sweep starts y's adjoint from zero
 * in the arena instead).  A seed of another dtype (ADJ_F64 for
 * a float32 y), a one-element y or a parameter y take the copy of
 * adj_backward_seeded_as; the errors are the same. */
ADJ_API adj_status adj_backward_seeded_view(adj_var *y, adj_dtype dtype, const void *seed);

/*
 * Options of adj_backward_ex and adj_grad; a zero-initialised struct asks
 * for the plain sweep of adj_backward.
 *   create_graph  1: the sweep records itself on y's tape as ops, so every
 *                 adjoint it produces is an ordinary var (adj_grad_var),
 *                 which later ops may use and adj_backward may
 *                 differentiate again, to any order.  Every op on the path
 *                 from the inputs to y needs a graph-mode rule (the
 *                 built-in ops have one; a registered op, the callback
 *                 of adjoint/extend.h that records its backward): an op
 *                 without one is an ADJ_EINVAL on the tape naming it.  Costs: the sweep
 *                 records a few nodes per node of y's graph, and their
 *                 values stay in the tape's arena until adj_tape_reset.
 *   release_adjoints  1: once an op node's backward has passed its adjoint
 *                 on to its inputs, that adjoint is dead for the sweep;
 *                 its memory goes back to the tape's arena and the rest of
 *                 the sweep reuses it, so a training step needs about its
 *                 forward's memory plus the few adjoints alive at once
 *                 instead of every adjoint.  Leaves and parameters keep
 *                 theirs; the results are the same bits as without.  A
 *                 released adjoint cannot be read: adj_grad_data gives
 *                 NULL, adj_grad_at and adj_grad_item NaN, adj_copy_grad
 *                 ADJ_ESTATE, until a later sweep gives the node one (the
 *                 next adj_backward reaching it).  With
 *                 create_graph it is ADJ_EINVAL (recorded on the tape):
 *                 that sweep keeps every adjoint as a var.
 */
typedef struct adj_backward_opts {
    int create_graph;
    int release_adjoints;
} adj_backward_opts;

/* adj_backward (y must hold one element) with options; NULL opts is
 * adj_backward.  With create_graph the adjoints are also written where
 * adj_backward writes them (adj_grad_at, adj_grad_data: nodes of y's graph
 * from zero, parameters accumulate), and adj_grad_var returns each as a
 * var. */
ADJ_API adj_status adj_backward_ex(adj_var *y, const adj_backward_opts *opts);

/* x's adjoint as a var of x's shape and dtype, from the last
 * adj_backward_ex with create_graph on x's tape (NULL: no such sweep since
 * the last adj_tape_reset, x recorded after its output, or no adjoint
 * reached x; also NULL for a NULL x).  For a parameter, the sweep's own
 * contribution, not the store's accumulated gradient. */
ADJ_API adj_var *adj_grad_var(const adj_var *x);

/*
 * The gradients of a one-element y with respect to xs[0..n-1], as vars
 * written to out_vars[0..n-1], like torch.autograd.grad: nothing is
 * written into any node's or parameter's adjoint (adj_grad_at is left as
 * it was).  Where y does not depend on xs[i] (no path, or xs[i] recorded
 * after y) out_vars[i] is a constant of zeros of xs[i]'s shape.  With
 * opts->create_graph the vars are recorded ops of the inputs that can be
 * differentiated again; without (NULL opts too) they are constants
 * holding the values.  Errors: NULL y, xs or out_vars, n < 1, a NULL
 * xs[i], a var of another tape (ADJ_EINVAL/ADJ_ETAPE, recorded on y's
 * tape), and those of adj_backward_ex; out_vars are then left unset.
 */
ADJ_API adj_status adj_grad(adj_var *y, int n, adj_var *const *xs, adj_var **out_vars,
                            const adj_backward_opts *opts);

/* ------------------------------------------------------------ parameters */

/*
 * A parameter store owns trainable tensors of one dtype, their gradients
 * and (for optimizers) state, each in one contiguous block: values first,
 * then gradients, tensor after tensor in the order added.  Parameters live
 * across tapes; `adj_param` puts one on a tape as a leaf whose adjoint
 * accumulates straight into the store's gradient block.
 */
typedef struct adj_params adj_params;

ADJ_API adj_params *adj_params_new(adj_dtype dtype);
ADJ_API adj_params *adj_params_new_with(adj_dtype dtype, const adj_allocator *a);
ADJ_API void adj_params_free(adj_params *p);
/* Add a zero-filled tensor; returns its index >= 0, or -1 on error (see
 * adj_params_message).  Adding moves the blocks: take data pointers and
 * put parameters on tapes only after the last add.  A parameter put on a
 * tape before an add is detected, never read: an op taking it, adj_backward
 * reaching it or adj_jvp records ADJ_ESTATE on the tape; its accessors give
 * NaN, NULL or ADJ_ESTATE.  The store must outlive the tapes using it. */
ADJ_API int adj_params_add(adj_params *p, const char *name, int ndim, const int64_t *shape);
ADJ_API adj_status adj_params_status(const adj_params *p);
ADJ_API const char *adj_params_message(const adj_params *p);
ADJ_API int adj_params_count(const adj_params *p);
ADJ_API adj_dtype adj_params_dtype(const adj_params *p);
ADJ_API size_t adj_params_numel(const adj_params *p);            /* all tensors */
ADJ_API size_t adj_params_tensor_numel(const adj_params *p, int i);
ADJ_API int adj_params_tensor_ndim(const adj_params *p, int i);
ADJ_API const int64_t *adj_params_tensor_shape(const adj_params *p, int i);
ADJ_API const char *adj_params_tensor_name(const adj_params *p, int i);
/* Offset (in elements) of tensor i inside the value / gradient blocks. */
ADJ_API size_t adj_params_offset(const adj_params *p, int i);
/* The contiguous blocks (float * or double *, adj_params_numel entries). */
ADJ_API void *adj_params_values(adj_params *p);
ADJ_API void *adj_params_grads(adj_params *p);
/* Tensor i's slice of those blocks. */
ADJ_API void *adj_params_value(adj_params *p, int i);
ADJ_API void *adj_params_grad(adj_params *p, int i);
/* Set every gradient to zero: a pointer to the gradients kept from before
 * the call reads the zeros.  Once the gradients' address has been given
 * out (adj_params_grads, adj_params_grad, adj_grad_data of a parameter
 * leaf, a custom op's backward) the zeros are written at once.  Until
 * then nothing outside the library can read them, and they are written as
 * the lazy form below writes them, with the bits of zeros written first;
 * a training step that only runs backward and an optimizer then neither
 * clears the gradients nor reads them back in its weight products.  An
 * adj_params_add that moves the blocks also forgets that the address was
 * given out (a pointer from before it is invalid anyway). */
ADJ_API void adj_params_zero_grad(adj_params *p);
/* The same gradients, zero, with the zeros written lazily: when
 * adj_params_grads or adj_params_grad is next called, when a backward
 * first adds to a tensor (or stores its whole adjoint there, so a dense
 * layer's weight gradient is neither cleared nor read back), or when a
 * parameter leaf's adjoint is read (adj_grad_data, adj_grad_at,
 * adj_copy_grad).  Faster for a training loop, but a pointer to the
 * gradients kept from before the call may show the old values (as
 * PyTorch's zero_grad(set_to_none=True) leaves no tensor to read): take
 * the pointer again after the call, or use adj_params_zero_grad.
 * adj_train and the optimizers need nothing more. */
ADJ_API void adj_params_zero_grad_lazy(adj_params *p);
/* Put parameter i on tape t as a leaf that wants a gradient. */
#define adj_param(...) adj_param_at(__VA_ARGS__, __FILE__, __LINE__)
ADJ_API adj_var *adj_param_at(adj_tape *t, adj_params *p, int i, const char *file, int line);
ADJ_API adj_var *(adj_param)(adj_tape *t, adj_params *p, int i);

/* ------------------------------------------------------------ threading */

/* Threads for large kernels (matrix products, elementwise maps, optimizer
 * steps), process-wide, at most 64; 1 runs everything on the caller.
 * Without a call, the first that is set of: the environment variable
 * ADJ_NUM_THREADS, then OMP_NUM_THREADS (its first count), then the
 * number of CPUs the process may run on (sched_getaffinity), read on
 * first use.  n <= 0 goes back to that default (reading the environment
 * again).  Results are reproducible for a given count; see
 * docs/design.md.  BLIS itself is always called single-threaded. */
ADJ_API void adj_set_threads(int n);
/* The thread count in effect (resolving the default if not yet done). */
ADJ_API int adj_get_threads(void);

/* Library version, "MAJOR.MINOR.PATCH". */
ADJ_API const char *adj_version(void);

/* What the library runs on in this process, for reports and benchmark
 * headers.  Every string is static (valid for the process's life). */
typedef struct adj_runtime {
    const char *version;      /* adj_version() */
    const char *kernels;      /* the elementwise kernels in use: "avx512",
                                 "avx2", "sse2" (x86-64 without either), or
                                 "portable" (a build without per-CPU variants) */
    const char *blis_version; /* the version of the BLIS library loaded */
    const char *blis_arch;    /* the sub-configuration whose kernels BLIS runs
                                 ("skx", "haswell", "zen3", "generic"...) */
    const char *blis_arch_from; /* who chose it: "BLIS's own detection",
                                 "BLIS_ARCH_TYPE" (set before the program
                                 started), or adjoint, which sets
                                 BLIS_ARCH_TYPE to "skx" when the library is
                                 loaded on a CPU with AVX-512 that BLIS's
                                 detection misses or under-rates, unless
                                 BLIS_ARCH_TYPE is set or ADJ_BLIS_ARCH=blis
                                 (docs/performance.md) */
    int threads;              /* adj_get_threads() */
    const char *threads_from; /* where that count comes from: "adj_set_threads",
                                 "ADJ_NUM_THREADS", "OMP_NUM_THREADS" or "the
                                 CPUs this process may run on" */
} adj_runtime;

/* Fill *out; ADJ_EINVAL (and nothing written) when out is NULL. */
ADJ_API adj_status adj_runtime_info(adj_runtime *out);

#ifdef __cplusplus
}
#endif
#endif
