/*
 * The C side of the PyTorch agreement check (tests/torch_agree.py).
 *
 * The driver reads cases as text on stdin, builds each one's graph in
 * double on a fresh tape through the family table that knows its op,
 * runs the backward seeded with the case's upstream gradient and prints
 * the output, the gradient of every input the graph asked for and any
 * extra arrays (running statistics) as text.  Each op family has its own
 * file (agree_<family>.c) with a table of builders; see torch_agree.py
 * for the protocol and docs in its header.
 */
#ifndef ADJ_TESTS_AGREE_H
#define ADJ_TESTS_AGREE_H

#include <adjoint/core.h>

typedef struct agree_ctx agree_ctx;

/* Builds the case's output on agree_tape(c) from its inputs and
 * attributes; NULL or an error on the tape is printed as an error. */
typedef adj_var *(*agree_build)(agree_ctx *c);

typedef struct agree_entry {
    const char *op;         /* the name the Python side sends */
    agree_build build;
} agree_entry;

/* One table per family, ended by {NULL, NULL}. */
extern const agree_entry agree_norm_ops[];
extern const agree_entry agree_conv_ops[];
extern const agree_entry agree_attn_ops[];
extern const agree_entry agree_core_ops[];
extern const agree_entry agree_tensorops_ops[];
extern const agree_entry agree_bmm_ops[];

adj_tape *agree_tape(agree_ctx *c);
/* Whether the case gave input `name` (not "absent"). */
int agree_has(const agree_ctx *c, const char *name);
/* Input `name` as a double leaf that wants a gradient; its gradient is
 * printed after the backward.  NULL when absent. */
adj_var *agree_var(agree_ctx *c, const char *name);
/* Input `name` as a double constant (no gradient).  NULL when absent. */
adj_var *agree_const(agree_ctx *c, const char *name);
/* Input `name`'s values (modifiable, numel doubles) and shape; NULL when
 * absent.  ndim and shape may be NULL. */
double *agree_data(agree_ctx *c, const char *name, int *ndim, int64_t *shape);
/* Attribute `key`, or dflt when the case did not give it. */
double agree_attr(const agree_ctx *c, const char *key, double dflt);
/* Print n doubles at v as extra output `name` after the case's gradients
 * (v must stay valid until the case ends). */
void agree_extra(agree_ctx *c, const char *name, const double *v, size_t n);

#endif
