/*
 * Internal: the scalar recording path.  An elementwise op without
 * attributes on f64 0-D operands needs no shape rule, no arena, no loop
 * and no table: its public function checks its handles here, writes the
 * node and computes the value itself (its scalar rule, inlined), and
 * gives anything else to adj_record.  adj_record's own scalar path
 * (core/record.c) is built from the same pieces, so both record the same
 * node and report the same errors (none: a call that does not qualify,
 * an invalid one included, goes to the general path, which reports it).
 */
#ifndef ADJ_CORE_SCALAR_H
#define ADJ_CORE_SCALAR_H

#include "core/handle.h"
#include "core/record.h"
#include "core/tape.h"

/* The checked inputs of a scalar recording (b is NULL for one input). */
typedef struct adj_scalar_in {
    adj_tape *t;
    adj_var *a, *b;
} adj_scalar_in;

/* Is node v of tape t, given as h, an f64 0-D node that is live and
 * current (adj_live and adj_h_current_t)?  On a node of t, id < nnodes
 * implies the current generation: every slot below nnodes was written
 * since the last reset. */
static inline bool adj_scalar_ok(const adj_tape *t, const adj_var *v, uintptr_t h)
{
    return v->ndim == 0 && v->dtype == ADJ_F64 && !(v->flags & ADJ_F_INERT) &&
           adj_cold(v)->id < t->nnodes && adj_h_current_t(h, t);
}

/* A parameter leaf whose store has moved: the general path reports it. */
static inline bool adj_scalar_moved(const adj_var *v)
{
    return (v->flags & ADJ_F_EXTGRAD) && adj_param_stale(v);
}

/* Do handles ha and hb (hb NULL for a unary op) qualify?  Then s holds
 * their tape and nodes. */
static inline bool adj_scalar_in1(adj_scalar_in *s, const adj_var *ha)
{
    adj_var *a = adj_h_raw(ha);
    if (!a)
        return false;
    adj_tape *t = adj_node_tape(a);
    if (t->status != ADJ_OK || !adj_scalar_ok(t, a, (uintptr_t)ha) || adj_scalar_moved(a))
        return false;
    s->t = t;
    s->a = a;
    s->b = NULL;
    return true;
}

static inline bool adj_scalar_in2(adj_scalar_in *s, const adj_var *ha, const adj_var *hb)
{
    adj_var *b = adj_h_raw(hb);
    if (!b || !adj_scalar_in1(s, ha) || adj_node_tape(b) != s->t ||
        !adj_scalar_ok(s->t, b, (uintptr_t)hb) || adj_scalar_moved(b))
        return false;
    s->b = b;
    return true;
}

/*
 * The node of op (named name in an out-of-memory message) on the inputs
 * of s, with no attributes written: NULL after recording ADJ_ENOMEM.
 * The caller stores the value with adj_scalar_done.
 */
static inline adj_var *adj_scalar_node(const adj_scalar_in *s, adj_op op, const char *name,
                                       const char *file, int line)
{
    adj_var *y = adj_new_node_core(s->t, name, file, line);
    if (!y)
        return NULL;
    adj_node_info *c = adj_cold(y);
    adj_var *a = s->a, *b = s->b;
    y->op = (uint8_t)op;
    y->dtype = ADJ_F64;
    y->ndim = 0;
    y->flags = (uint8_t)((a->flags | (b ? b->flags : 0)) & ADJ_F_GRAD);
    y->in[0] = a;
    y->in[1] = b;
    y->in[2] = NULL;
    y->value = &y->inl_value;
    c->numel = 1;
    c->nin = b ? 2u : 1u;
    c->file = file;
    c->line = line;
    return y;
}

/* Store y's value (and check it in anomaly mode): y's handle. */
static inline adj_var *adj_scalar_done(adj_tape *t, adj_var *y, double value)
{
    y->inl_value.d = value;
    if (t->anomaly)
        adj_check_forward(t, y);
    return (adj_var *)adj_h_make_t((uintptr_t)y, t);
}

/* The value of input node v (f64, one element). */
static inline double adj_scalar_val(const adj_var *v) { return *(const double *)v->value; }

/* In a scalar backward: add d to the adjoint of input node x (f64, one
 * element), which starts inline at zero when nothing flowed into it yet
 * (a parameter leaf's points into its store).  The first contribution is
 * stored as 0.0 + d, the bits of adding it to the zeroed slot (a -0 or a
 * NaN's payload come out the same), without reading the slot back. */
static inline void adj_scalar_acc(adj_var *x, double d)
{
    if (!x->grad) {
        x->inl_grad.d = 0.0 + d;
        x->grad = &x->inl_grad;
    } else {
        *(double *)x->grad += d;
    }
}

#endif
