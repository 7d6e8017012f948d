/*
 * Internal: helpers shared by the table, the explain trace, the DOT and
 * JSON writers.  Not part of the public API.
 */
#ifndef ADJ_TEACH_INT_H
#define ADJ_TEACH_INT_H

#include "adjoint/teach.h"
#include "core/tape.h"
#include "ops/op.h"

#include <string.h>

/* Build example ex on a new tape: k[] receives the knobs (NULL: the
 * example's defaults), *tp the tape (the caller frees it; NULL when out of
 * memory) and *yp its output.  Returns the tape's status, ADJ_EINVAL for a
 * build that gave no output. */
adj_status adj_teach_example_tape(const adj_example *ex, const double *knobs, double *k,
                                  adj_tape **tp, adj_var **yp);

/* Tensors with at most this many elements print in full. */
#define ADJ_TEACH_SMALL 6

/* v with %.*g; a zero prints as 0, never -0. */
void adj_teach_num(char *buf, size_t size, double v, int digits);
/* Whether a name needs parentheses as an operand ("a2-y", "w·x"). */
bool adj_teach_compound(const char *name);
/* v's name, or "v<id>". */
const char *adj_teach_ref(const adj_var *v, char *buf, size_t size);
/* The right-hand side of v's definition in terms of its inputs' names:
 * "a + b", "exp(a)", "x Wᵀ + b", or "input" / "param" / "const" for leaves. */
void adj_teach_define(const adj_var *v, char *buf, size_t size);
/* The values (grad = 0) or adjoint (grad = 1) of v: "0.5", "[1, 2]",
 * "[[1, 2], [3, 4]]", or for large tensors "min .. max, mean m";
 * "-" for an adjoint that never flowed. */
void adj_teach_values(const adj_var *v, int grad, int digits, char *buf, size_t size);
/* The same for a plain array of n doubles with v's shape. */
void adj_teach_array(const adj_var *v, const double *x, int digits, char *buf, size_t size);

/*
 * Re-run y's backward with its inputs' adjoints redirected to zeroed
 * scratch buffers, so the contribution y passes to each input can be seen
 * without disturbing anything.  The upstream adjoint is y's own (unit = 0)
 * or all ones (unit = 1: the local partials for a one-element y, the
 * diagonal of the Jacobian for an elementwise op).  contrib[k], where not
 * NULL, receives numel(in[k]) doubles.  When an input appears twice (x · x)
 * both slots receive the sum.  Returns 0 if y has no adjoint (unit = 0)
 * or memory ran out; every pointer is restored either way.
 */
int adj_teach_replay(adj_var *y, int unit, double *const *contrib);

/* The part of op's backward rule for input k ("dW += dZ^T X"), with "^T"
 * written as "ᵀ"; the whole rule if it has no part k. */
void adj_teach_rule_part(adj_op op, int k, char *buf, size_t size);
/* The letter op's rule uses for input k ("X", "W", "b"), or for the output
 * when k < 0 ("Z"); "" for an input it does not name. */
const char *adj_teach_symbol(adj_op op, int k);

/*
 * What the explain trace tells, as events: the sweep reaches node v (its
 * lines follow), node c passes contrib (numel(a) doubles) to its input a
 * (the line saying so follows), and each printed line without its '\n'.
 * Any hook may be NULL.
 */
typedef struct adj_teach_sink {
    void *ctx;
    void (*node)(void *ctx, const adj_var *v);
    void (*edge)(void *ctx, const adj_var *c, const adj_var *a, const double *contrib);
    void (*line)(void *ctx, const char *line);
} adj_teach_sink;

/* adj_backward_explain with the trace printed to out (may be NULL) and
 * told to sink (may be NULL). */
adj_status adj_teach_explain(adj_var *y, FILE *out, const adj_teach_sink *sink);

/* n zeroed bytes from the tape's allocator (NULL if it fails), and their
 * return (p may be NULL; n as allocated). */
static inline void *adj_teach_zalloc(adj_tape *t, size_t n)
{
    void *p = t->al.alloc(t->al.ctx, n ? n : 1);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}
static inline void adj_teach_free(adj_tape *t, void *p, size_t n)
{
    if (p)
        t->al.free(t->al.ctx, p, n ? n : 1);
}

/* Columns UTF-8 text takes in a monospace font (combining marks none). */
int adj_teach_width(const char *s);
/* s escaped as XML text or attribute value. */
void adj_teach_xml(FILE *f, const char *s);
/* The graph of nodes 0 .. count-1 with shown[id] set, as inline SVG laid
 * out in ranks left to right; chars[id] is the widest text the page will
 * put in the node's changing line.  ADJ_ENOMEM or ADJ_OK. */
adj_status adj_teach_svg(adj_tape *t, size_t count, const unsigned char *shown, const int *chars,
                         FILE *f);
/* The page of adj_tape_html, with an example's title, notes and inputs
 * when ex is not NULL (k: its knob values). */
adj_status adj_teach_html(adj_tape *t, adj_var *y, FILE *f, const adj_example *ex, const double *k);

#endif
