/*
 * Internal: the op descriptor.  One descriptor per op, defined in the file
 * of its family next to its kernels; the op list (adjoint/op_list.h)
 * generates the enum, the declarations below and the table (ops/table.c)
 * indexed by adj_op.  Adding an op: see docs/design.md.
 *
 * Attributes: an op with arguments that are not vars (an axis, a constant,
 * transpose flags, a target shape) declares its own struct, e.g.
 *     typedef struct { int32_t axis; } axis_attr;
 * sets .attr_size = sizeof(axis_attr) and records with
 *     adj_record(op, &x, 1, &(axis_attr){axis}, file, line);
 * The recorder copies the struct into the node (inline up to
 * ADJ_ATTR_INLINE bytes, else into the arena) before the shape rule runs;
 * every hook reads it back with ADJ_ATTR(y, axis_attr) and may update it
 * (a normalised axis, a saved buffer).  It lives as long as the node.
 */
#ifndef ADJ_OPS_OP_H
#define ADJ_OPS_OP_H

#include "core/handle.h"
#include "core/tape.h"
#include "ops/region.h"
#include "tensor/layout.h"

/* Where random test inputs may come from (kinks and poles excluded). */
typedef enum adj_domain {
    ADJ_DOM_ANY = 0,    /* [-2, 2] */
    ADJ_DOM_AWAY0,      /* [-2, -0.2] U [0.2, 2] */
    ADJ_DOM_POS,        /* [0.5, 2] */
    ADJ_DOM_UNIT,       /* [0.05, 0.95]: probabilities */
} adj_domain;

/* The arity of an op taking any number (>= 1) of inputs: adj_nin(y)
 * says how many a node has, adj_input(y, k) gives each. */
#define ADJ_ARITY_ANY (-1)

/* Properties that generic code (replay, teaching) reads instead of testing
 * op ids. */
enum {
    /* Elementwise: y has the broadcast shape of the inputs and y[i] is a
     * function of the inputs' elements at i alone (and the attributes), so
     * the forward may run on matching runs of elements, and the Jacobian of
     * a one-input op is diagonal. */
    ADJ_PROP_MAP = 1u,
    /* The op reads its inputs through their layouts (ops/strided_op.h),
     * whatever their strides.  The recorder hands an op without this
     * property contiguous inputs: it first records a contiguous copy
     * (adj_contig_input) of each strided input, whose adjoint flows back
     * into the view like any other op's. */
    ADJ_PROP_STRIDES = 2u,
    /* The op moves elements without arithmetic (a view, a reshape, a
     * copy), so its inputs may be of any dtype, index tensors included:
     * y takes the inputs' one dtype.  No gradient flows into an index
     * tensor, so a view of one takes none either. */
    ADJ_PROP_ANY_DTYPE = 4u,
};

/*
 * How the teaching tools (src/teach) write an op; every field may be
 * NULL/0, and a descriptor without one gets the defaults.
 */
typedef struct adj_op_teach {
    /* y's definition in its inputs' names ("$0 + $1", "|@0|"): $k is
     * input k as an infix operand (parenthesised when compound), @k as a
     * function argument.  NULL: "name(@0, @1, ...)". */
    const char *define;
    /* Instead of `define`, where the definition depends on the attributes
     * (a constant, an axis, transpose flags) or on an optional input:
     * opnd[k] and ref[k] are $k and @k of each input slot ("-" where an
     * optional input is absent). */
    void (*define_fn)(const adj_var *y, const char *const *opnd, const char *const *ref,
                      char *buf, size_t size);
    /* The letters the rule uses for the inputs, then for the output
     * ({"X", "W", "b", "Z"} for "dW += dZ^T X"); NULL: "x" (one input)
     * or "a", "b" (two), and "y". */
    const char *const *symbols;
    /* The local partial dy/d(input k) of a one-element y where it is a
     * symbol rather than only a number (mul: the other operand, scale: c),
     * written into buf; buf is left "" where it is not.  ref[k] as above. */
    void (*partial)(const adj_var *y, int k, const char *const *ref, char *buf, size_t size);
} adj_op_teach;

/*
 * One case of the op-table checks (finite differences in f64 and f32,
 * forward mode): the inputs' shapes and the attributes.  Each op lists its
 * own cases next to it (.cases = ADJ_CASES(my_cases)); shared lists for
 * common signatures are in ops/cases.h.  Inputs hold at most
 * ADJ_CASE_MAX_NUMEL elements, and are drawn from the op's domains.
 */
#define ADJ_CASE_MAX_IN 6
#define ADJ_CASE_MAX_NUMEL 64
typedef struct adj_op_case {
    int n;                  /* inputs given (an absent optional input: n smaller) */
    int ndim[ADJ_CASE_MAX_IN];
    int64_t shape[ADJ_CASE_MAX_IN][ADJ_MAX_DIMS];
    const void *attr;       /* the op's attribute struct; NULL: the descriptor's
                               case_attr (NULL too: zeros) */
    const char *note;       /* appended to the case's description (" axis 1") */
} adj_op_case;

#define ADJ_CASES(arr) .cases = (arr), .ncases = (int)(sizeof(arr) / sizeof((arr)[0]))

typedef struct adj_op_desc {
    const char *name;       /* "tanh" */
    int arity;              /* var inputs, or ADJ_ARITY_ANY */
    uint32_t optional;      /* bit k set: input k may be NULL (linear's bias) */
    const char *const *inputs; /* input names for messages ({"x", "w", "b"});
                               NULL: "x" for one input, "a", "b" for two, else
                               "x0", "x1"... */
    size_t attr_size;       /* bytes of the op's attribute struct; 0 for none */
    uint32_t index_inputs;  /* bit k set: input k is an index tensor (ADJ_I32), which
                               takes no gradient; every other input is f32 or f64, and
                               an index tensor there is an ADJ_EDTYPE error */
    /* Output shape from the inputs and the attributes: set y->ndim and the
     * cold shape, or return an error status with a reason in why[why_size]. */
    adj_status (*shape)(adj_var *y, char *why, size_t why_size);
    /* Compute y->value from the inputs (y->value is allocated). */
    void (*forward)(adj_var *y);
    /* Accumulate into the adjoint of every input with ADJ_F_GRAD, given
     * y->grad.  adj_grad_buf(in) returns the (zeroed on first use) buffer. */
    void (*backward)(adj_var *y);
    /* Forward mode: write y's tangent ty (numel elements of dtype) from the
     * tangents tx[k] of the inputs (non-NULL for every present input; zeros
     * where an input does not depend on the seeded nodes).  NULL for leaves. */
    void (*jvp)(const adj_var *y, const void *const *tx, void *ty);
    /* Scalar fast path for f64 0-D operands, generated from the same
     * expressions as the kernels (b unused by unary ops); attr is the
     * node's attribute struct (NULL when attr_size is 0).  NULL where the
     * op has none.  Keeps one scalar node in tens of nanoseconds. */
    double (*scalar_fwd)(double a, double b, const void *attr);
    /* ... and its backward: y's inputs that need an adjoint get their
     * local partial times dy (y's adjoint) added to theirs (adj_scalar_acc,
     * core/scalar.h), in input order. */
    void (*scalar_bwd)(adj_var *y, double dy);
    const char *formula;    /* "y = tanh(x)" */
    const char *rule;       /* "dx += dy (1 - y^2)" */
    /* the op-table checks: cases, attributes of the cases that give none,
     * and where each input's values come from (input k >= 3: dom[2]) */
    const adj_op_case *cases;
    int ncases;
    const void *case_attr;
    adj_domain dom[3];
    double test_arg;        /* the unary family's constant (c, p, slope...) in the
                               checks: nonzero exactly for the ops that take one */
    uint32_t props;         /* ADJ_PROP_* */
    const adj_op_teach *teach; /* how src/teach writes it; NULL: defaults */
    /* Incremental re-evaluation for the gradient check (check/replay.c) of
     * an f64 node of several elements whose inputs changed only inside the
     * regions changed[k] (NULL: input k unchanged): set *out to a region
     * of y holding every element that may change, recompute those elements
     * of y->value from the inputs' values, and return true; or return false
     * (writing nothing) to have all of y recomputed by forward.  NULL:
     * always all of y, except for ADJ_PROP_MAP ops, which replay.c runs on
     * the changed runs of elements itself. */
    bool (*replay)(adj_var *y, const adj_region *const *changed, adj_region *out);
    /* An O(1) view (ops/view.c): after the shape rule, write y's layout in
     * the storage of in[0] (offset in elements from in[0]->value, which may
     * be negative, and strides) and return true: the recorder then points
     * y->value into that storage (ADJ_F_VIEW, and ADJ_F_STRIDED unless the
     * layout is row-major), keeps the strides and runs no forward.  Return
     * false where the layout cannot express y (a reshape of a transposed
     * matrix): y gets its own value and the forward copies.  A view of one
     * element is copied too (into the node).  The op must declare
     * ADJ_PROP_STRIDES; its backward and tangent work on contiguous
     * adjoints as for any op.  NULL for every other op. */
    bool (*view)(const adj_var *y, adj_layout *out);
    /* Where a view's adjoint lies in the row-major adjoint of in[0]: y's
     * layout there (each element of in[0] reached at most once, so not an
     * expand), returning true; false where there is none.  A product that
     * reads y then writes y's adjoint straight into in[0]'s while nothing
     * has flowed into y yet (ops/linalg.c), and y's own backward, with no
     * adjoint to pass on, does not run.  NULL for every other op. */
    bool (*grad_view)(const adj_var *y, adj_layout *out);
    /* Graph-mode backward (adj_backward_ex with create_graph): record with
     * ops, on y's tape, the contribution of gy (a var of y's shape and
     * dtype, y's adjoint) to the adjoint of each input k into gin[k] (a
     * var of exactly input k's shape and dtype; gin has adj_nin(y) slots,
     * NULL on entry), leaving gin[k] NULL where none flows (index inputs,
     * inputs without ADJ_F_GRAD).  Written with differentiable ops, so
     * the adjoint can be differentiated again.  Return false after a tape
     * error.  Helpers: ops/graph.h. */
    bool (*vjp)(adj_var *y, adj_var *gy, adj_var **gin);
    /* Or, for a fused op: record y's value again as a composition of
     * other ops of y's inputs (equal to rounding), returning its output
     * (a var of y's shape and dtype; the inert var after an error):
     * graph-mode backward then differentiates the composition. */
    adj_var *(*decompose)(adj_var *y);
} adj_op_desc;

/* A contiguous copy of strided x recorded on x's tape (the recorder's
 * gather for ops without ADJ_PROP_STRIDES), or the inert var after an
 * error. */
adj_var *adj_contig_input(adj_var *x, const char *file, int line);

/* Node op ids are 8 bits: the built-in ops and the registered ones
 * together are at most this many. */
#define ADJ_OP_MAX 256

/* The op table: the built-in descriptors [0, ADJ_OP_COUNT), then the ops
 * registered at run time (ops/custom.c) up to adj_ops_in_table().  Slots
 * are written once, under custom.c's lock, before the count is raised. */
extern const adj_op_desc *adj_op_table[ADJ_OP_MAX];

/* Built-in plus registered ops (an acquire load of the count). */
int adj_ops_in_table(void);

/* Descriptors, one per op, defined in the family files. */
#define ADJ_DECLARE_OP_(E, n) extern const adj_op_desc adj_desc_##n;
ADJ_OP_LIST(ADJ_DECLARE_OP_)
#undef ADJ_DECLARE_OP_

/*
 * Attribute structs of the existing op families that generic code (the
 * op check, replay, teaching) still reads.  A new op declares its struct
 * in its own file.
 */
typedef struct adj_attr_c {     /* scale c, pow p, leaky_relu slope, elu alpha */
    double c;
} adj_attr_c;
typedef struct adj_attr_axis {  /* sum_axis, mean_axis: the axis, normalised to >= 0 */
    int32_t axis;
} adj_attr_axis;
typedef struct adj_attr_matmul { /* bit 0: a is transposed, bit 1: b */
    int32_t trans;
} adj_attr_matmul;
typedef struct adj_attr_reshape { /* the target shape (-1: inferred) */
    int32_t ndim;
    int64_t shape[ADJ_MAX_DIMS];
} adj_attr_reshape;
typedef struct adj_attr_labels { /* softmax cross-entropy */
    const int32_t *labels;      /* the caller's labels while recording; then the
                                   copy after the probabilities in saved */
    void *saved;                /* probabilities (rows x classes), then labels */
} adj_attr_labels;

/* The constant of an op with an adj_attr_c (0 for an op without one). */
static inline double adj_attr_c_get(const adj_var *y)
{
    /* adj_attr inline: the kernels of ops without attributes read it too */
    const adj_attr_c *a = adj_attr_sized(y, adj_op_table[y->op]->attr_size);
    return a ? a->c : 0.0;
}

/* Whether a and b have one shape. */
static inline bool adj_same_shape(const adj_var *a, const adj_var *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (adj_cold(a)->shape[i] != adj_cold(b)->shape[i])
            return false;
    return true;
}

/* Shape rule shared by every elementwise unary op: y has x's shape. */
adj_status adj_shape_same(adj_var *y, char *why, size_t why_size);

/* Recompute one row (axis 0) or one column (axis 1) of the value of a
 * matmul or linear node, viewed as (rows, cols), from its inputs' values:
 * a dot product per element.  Bit for bit the forward's result where the
 * forward takes its plain loop; equal to rounding where it calls BLIS. */
void adj_linalg_forward_line(adj_var *y, int axis, size_t idx);

/* Plain functions behind the public macros, defined once per op. */
#define ADJ_FN1(nm) \
    adj_var *(adj_##nm)(adj_var *x) { return adj_##nm##_at(x, NULL, 0); }
#define ADJ_FN1D(nm) \
    adj_var *(adj_##nm)(adj_var *x, double c) { return adj_##nm##_at(x, c, NULL, 0); }
#define ADJ_FN2(nm) \
    adj_var *(adj_##nm)(adj_var *a, adj_var *b) { return adj_##nm##_at(a, b, NULL, 0); }

#endif
