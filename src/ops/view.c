/*
 * Views: transpose_axes, permute, slice, select, expand, unsqueeze,
 * squeeze, flatten, contiguous.
 *
 * Each view is a layout transform (tensor/layout.h) fixed by its
 * attributes.  Applied to the input's layout it says which element of the
 * input each element of y is: y is recorded in O(1) as that layout of the
 * input's storage (the descriptor's view hook; the recorder shares the
 * storage and copies nothing).  Where no layout of the input's strides
 * expresses y (a flatten of a transposed matrix), and for contiguous of
 * a strided input, the forward gathers the elements into y's own value
 * (adj_strided_copy).  Applied to the contiguous layout of the input's
 * shape it says where each element of y's adjoint belongs in the input's
 * adjoint: the backward scatters dy there (adj_strided_acc), except for
 * expand, whose input elements repeat and whose adjoint is dy summed over
 * the expanded dimensions (adj_reduce_bcast).  Forward mode gathers the
 * tangent like the value.
 */
#include "ops/graph.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "tensor/strided.h"

#include <string.h>

typedef struct view_attr view_attr;
struct view_attr {
    /* y's layout from x's; false when the attributes do not apply */
    bool (*layout)(const adj_layout *x, const view_attr *a, adj_layout *y);
    int64_t a, b, c, d;             /* axes, slice bounds, index */
    int ndim;                       /* expand: the target's rank */
    int perm[ADJ_MAX_DIMS];
    int64_t shape[ADJ_MAX_DIMS];    /* expand: the target shape */
};

/* The offset of a layout that no view of the input's storage expresses:
 * y gets a value of its own, gathered in row-major order. */
#define NO_VIEW INT64_MIN

static void var_contig(const adj_var *x, adj_layout *l)
{
    adj_layout_contig(l, x->ndim, adj_cold(x)->shape);
}

/* ---------------------------------------------------------- transforms */

static bool lay_transpose(const adj_layout *x, const view_attr *a, adj_layout *y)
{
    return adj_layout_transpose(x, a->a, a->b, y);
}

static bool lay_permute(const adj_layout *x, const view_attr *a, adj_layout *y)
{
    return adj_layout_permute(x, a->perm, y);
}

static bool lay_slice(const adj_layout *x, const view_attr *a, adj_layout *y)
{
    return adj_layout_slice(x, a->a, a->b, a->c, a->d, y);
}

static bool lay_select(const adj_layout *x, const view_attr *a, adj_layout *y)
{
    return adj_layout_select(x, a->a, a->b, y);
}

static bool lay_expand(const adj_layout *x, const view_attr *a, adj_layout *y)
{
    return adj_layout_expand(x, a->ndim, a->shape, y);
}

static bool lay_unsqueeze(const adj_layout *x, const view_attr *a, adj_layout *y)
{
    return adj_layout_unsqueeze(x, a->a, y);
}

static bool lay_squeeze(const adj_layout *x, const view_attr *a, adj_layout *y)
{
    return adj_layout_squeeze(x, a->a, y);
}

/* flatten of a contiguous layout is always a view; of a strided one the
 * elements are gathered anyway */
static bool lay_flatten(const adj_layout *x, const view_attr *a, adj_layout *y)
{
    adj_layout c;
    adj_layout_contig(&c, x->ndim, x->shape);
    adj_layout f;
    if (!adj_layout_flatten(&c, a->a, a->b, &f))
        return false;
    if (adj_layout_reshape(x, f.ndim, f.shape, y))
        return true;
    /* not expressible on x's strides: y's shape is right, the gather is
     * done element by element in row-major order below */
    *y = f;
    y->offset = NO_VIEW;
    return true;
}

/* contiguous: x itself when it is row-major, else a copy */
static bool lay_identity(const adj_layout *x, const view_attr *a, adj_layout *y)
{
    (void)a;
    *y = *x;
    if (!adj_layout_is_contig(x))
        y->offset = NO_VIEW;
    return true;
}

/* ---------------------------------------------------------------- rules */

/* Apply the node's transform to x's layout (value) or to x's contiguous
 * layout (adjoint, tangent). */
static bool layout_of(const adj_var *y, bool storage, adj_layout *out)
{
    const adj_var *x = y->in[0];
    const view_attr *a = ADJ_ATTR(y, view_attr);
    adj_layout in;
    if (storage)
        adj_var_layout(x, &in);
    else
        var_contig(x, &in);
    return a->layout(&in, a, out);
}

static adj_status view_shape(adj_var *y, char *why, size_t n)
{
    adj_layout l;
    const adj_var *x = y->in[0];
    const view_attr *a = ADJ_ATTR(y, view_attr);
    if (!layout_of(y, false, &l)) {
        /* say which attribute is wrong */
        if (a->layout == lay_slice)
            snprintf(why, n, "axis %lld out of range for %d dimensions, or step %lld",
                     (long long)a->a, x->ndim, (long long)a->d);
        else if (a->layout == lay_select)
            snprintf(why, n, "axis %lld or index %lld out of range for %d dimensions",
                     (long long)a->a, (long long)a->b, x->ndim);
        else if (a->layout == lay_expand) {
            char sh[96];
            adj_fmt_shape(sh, sizeof sh, a->ndim, a->shape);
            snprintf(why, n, "cannot expand to %s: each size must equal x's, or x's must be 1 "
                             "(-1 keeps x's)", sh);
        } else if (a->layout == lay_squeeze)
            snprintf(why, n, "axis %lld is not a dimension of size 1", (long long)a->a);
        else if (a->layout == lay_unsqueeze)
            snprintf(why, n, "axis %lld out of range for %d dimensions (at most %d)",
                     (long long)a->a, x->ndim, ADJ_MAX_DIMS);
        else if (a->layout == lay_flatten)
            snprintf(why, n, "axes %lld..%lld are not an ordered range of the %d dimensions",
                     (long long)a->a, (long long)a->b, x->ndim);
        else if (a->layout == lay_permute)
            snprintf(why, n, "the axes are not a permutation of the %d dimensions", x->ndim);
        else
            snprintf(why, n, "axes %lld, %lld out of range for %d dimensions", (long long)a->a,
                     (long long)a->b, x->ndim);
        return ADJ_EINVAL;
    }
    y->ndim = (uint8_t)l.ndim;
    memcpy(adj_cold(y)->shape, l.shape, sizeof l.shape);
    return ADJ_OK;
}

/* dst (contiguous, y's shape) = the elements of src that layout l picks */
static void gather(const adj_var *y, void *dst, const void *src, const adj_layout *l)
{
    adj_layout yl;
    var_contig(y, &yl);
    adj_strided_copy(adj_dsize(y->dtype), dst, &yl, src, l);
}

/* y's layout in its input's storage (the recorder shares it), or false
 * when y needs a value of its own */
static bool view_view(const adj_var *y, adj_layout *out)
{
    return layout_of(y, true, out) && out->offset != NO_VIEW;
}

/* The gather into y's own value (y not a view, or a view of one element;
 * also the gradient check's replay of such a node) */
static void view_forward(adj_var *y)
{
    adj_layout l;
    if (!layout_of(y, true, &l) || l.offset == NO_VIEW) {
        /* no view of x's strides has y's shape in row-major order (a
         * flatten of a strided x): walk x in row-major order */
        adj_layout xl;
        adj_var_layout(y->in[0], &xl);
        adj_layout yl;
        adj_layout_contig(&yl, xl.ndim, xl.shape);
        adj_strided_copy(adj_dsize(y->dtype), y->value, &yl, y->in[0]->value, &xl);
        return;
    }
    gather(y, y->value, y->in[0]->value, &l);
}

/* gx[positions] += gy (= gy when store: gx is fresh and the view reaches
 * every element of it), for a view of attributes a of an input of shape
 * (xnd, xshape): gx contiguous in that shape, gy in the view's; expand:
 * gx += gy summed over the repeats */
static void view_scatter(adj_tape *t, int dtype, const view_attr *a, int xnd,
                         const int64_t *xshape, void *gx, const void *gy, bool store)
{
    adj_layout in, gl, yl;
    adj_layout_contig(&in, xnd, xshape);
    a->layout(&in, a, &gl);
    adj_layout_contig(&yl, gl.ndim, gl.shape);
    if (a->layout == lay_expand) {
        size_t numel = 1;
        for (int i = 0; i < xnd; i++)
            numel *= (size_t)xshape[i];
        size_t ns = adj_reduce_scratch(dtype, (int64_t)numel);
        double *scratch = ns ? adj_arena_alloc(t, ns * sizeof *scratch) : NULL;
        if (ns && !scratch)
            return;
        adj_reduce_bcast(dtype, gx, xnd, xshape, gy, &yl, 1.0, scratch);
        return;
    }
    if (store)
        adj_strided_copy(adj_dsize(dtype), gx, &gl, gy, &yl);
    else
        adj_strided_acc(dtype, gx, &gl, gy, &yl, 1.0);
}

/* dx[positions] += dy (= dy when dx is fresh and the view covers it);
 * expand: dx += dy summed over the repeats */
static void view_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    if (!(x->flags & ADJ_F_GRAD))
        return;
    /* a view other than expand reaches each element of x at most once: one
     * of x's size reaches all of them, so a fresh adjoint is written */
    const bool whole = ADJ_ATTR(y, view_attr)->layout != lay_expand &&
                       adj_cold(y)->numel == adj_cold(x)->numel;
    bool fresh = false;
    void *gx = whole ? adj_grad_buf_fresh(x, &fresh) : adj_grad_buf(x);
    if (gx)
        view_scatter(adj_node_tape(y), y->dtype, ADJ_ATTR(y, view_attr), x->ndim,
                     adj_cold(x)->shape, gx, y->grad, fresh);
}

/* y's elements in x's row-major adjoint (not for expand, whose elements
 * repeat) */
static bool view_grad_view(const adj_var *y, adj_layout *out)
{
    return ADJ_ATTR(y, view_attr)->layout != lay_expand && layout_of(y, false, out) &&
           out->offset != NO_VIEW;
}

/* tangent: the same gather of x's tangent (contiguous in x's shape) */
static void view_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    adj_layout l;
    layout_of(y, false, &l);
    gather(y, ty, tx[0], &l);
}

/*
 * The op-table check cases: the inputs are contiguous (size-1 and
 * zero-size dimensions, negative steps and axes); chains of views are
 * checked in tests/test_strided.c.
 */
static const view_attr tr_a[] = {{.layout = lay_transpose, .a = 0, .b = 3},
                                 {.layout = lay_transpose, .a = 0, .b = -1},
                                 {.layout = lay_transpose, .a = 0, .b = 1},
                                 {.layout = lay_transpose, .a = 0, .b = 1}};
static const view_attr pe_a[] = {{.layout = lay_permute, .perm = {3, 1, 0, 2}},
                                 {.layout = lay_permute, .perm = {2, 0, 1}},
                                 {.layout = lay_permute, .perm = {1, 0}},
                                 {.layout = lay_permute, .perm = {2, 1, 0}}};
static const view_attr sl_a[] = {{.layout = lay_slice, .a = 3, .b = 3, .c = 0, .d = -2},
                                 {.layout = lay_slice, .a = 0, .b = 0, .c = 3, .d = 2},
                                 {.layout = lay_slice, .a = 1, .b = -3, .c = INT64_MAX, .d = 1},
                                 {.layout = lay_slice, .a = 0, .b = 1, .c = 2, .d = 1}};
static const view_attr se_a[] = {{.layout = lay_select, .a = 2, .b = -1},
                                 {.layout = lay_select, .a = 2, .b = 1},
                                 {.layout = lay_select, .a = 1, .b = 2},
                                 {.layout = lay_select, .a = 0, .b = 1}};
static const view_attr ex_a[] = {{.layout = lay_expand, .ndim = 4, .shape = {2, 2, 3, 4}},
                                 {.layout = lay_expand, .ndim = 4, .shape = {2, 3, 2, 2}},
                                 {.layout = lay_expand, .ndim = 3, .shape = {3, 4, 4}},
                                 {.layout = lay_expand, .ndim = 3, .shape = {2, 0, 3}}};
static const view_attr un_a[] = {{.layout = lay_unsqueeze, .a = 0},
                                 {.layout = lay_unsqueeze, .a = -1},
                                 {.layout = lay_unsqueeze, .a = 1},
                                 {.layout = lay_unsqueeze, .a = 3}};
static const view_attr sq_a[] = {{.layout = lay_squeeze, .a = 1},
                                 {.layout = lay_squeeze, .a = -2},
                                 {.layout = lay_squeeze, .a = 0},
                                 {.layout = lay_squeeze, .a = 2}};
static const view_attr fl_a[] = {{.layout = lay_flatten, .a = 1, .b = 3},
                                 {.layout = lay_flatten, .a = 0, .b = 1},
                                 {.layout = lay_flatten, .a = 0, .b = -1},
                                 {.layout = lay_flatten, .a = 1, .b = 2}};
static const view_attr id_a[] = {{.layout = lay_identity}, {.layout = lay_identity},
                                 {.layout = lay_identity}, {.layout = lay_identity}};

/* the four inputs, (2,1,3,4), (3,1,2), (1,4), (2,0,1), with attributes A */
#define VIEW_CASES(nm, A)                                                      \
    static const adj_op_case nm##_cases[] = {                                  \
        {1, {4}, {{2, 1, 3, 4}}, &(A)[0], NULL},                                \
        {1, {3}, {{3, 1, 2}}, &(A)[1], NULL},                                   \
        {1, {2}, {{1, 4}}, &(A)[2], NULL},                                      \
        {1, {3}, {{2, 0, 1}}, &(A)[3], NULL},                                   \
    }

VIEW_CASES(transpose_axes, tr_a);
VIEW_CASES(permute, pe_a);
VIEW_CASES(slice, sl_a);
VIEW_CASES(select, se_a);
VIEW_CASES(expand, ex_a);
VIEW_CASES(unsqueeze, un_a);
VIEW_CASES(squeeze, sq_a);
VIEW_CASES(flatten, fl_a);
VIEW_CASES(contiguous, id_a);

/* graph mode: gx = view_grad(gy), gy scattered through the layout */
static bool view_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    gin[0] = adj_gview_grad(y, gy);
    return adj_gok(y);
}

#define VIEW_DESC(nm, FORMULA, RULE)                                           \
    const adj_op_desc adj_desc_##nm = {                                        \
        .name = #nm, .arity = 1, .attr_size = sizeof(view_attr),               \
        .shape = view_shape, .forward = view_forward,                          \
        .backward = view_backward, .jvp = view_jvp, .view = view_view,         \
        .grad_view = view_grad_view,                                           \
        .vjp = view_vjp,                                                       \
        .props = ADJ_PROP_STRIDES | ADJ_PROP_ANY_DTYPE,                        \
        .formula = FORMULA, .rule = RULE, ADJ_CASES(nm##_cases),               \
    }

VIEW_DESC(transpose_axes, "y = x with axes a and b swapped", "dx += dy with axes a and b swapped");
VIEW_DESC(permute, "y[i_perm] = x[i]", "dx[i] += dy[i_perm]");
VIEW_DESC(slice, "y = x[start:stop:step] along axis", "dx[start:stop:step] += dy");
VIEW_DESC(select, "y = x[index] along axis (axis dropped)", "dx[index] += dy");
VIEW_DESC(expand, "y = x repeated along its size-1 dimensions", "dx += dy summed over the repeats");
VIEW_DESC(unsqueeze, "y = x with a size-1 axis inserted", "dx += dy");
VIEW_DESC(squeeze, "y = x without a size-1 axis", "dx += dy");
VIEW_DESC(flatten, "y = x with axes from..to merged", "dx += reshape(dy)");
VIEW_DESC(contiguous, "y = x (row-major: a copy when x is strided)", "dx += dy");

static adj_var *record_view(adj_op op, adj_var *x, const view_attr *a, const char *file,
                            int line)
{
    adj_var *in[1] = {x};
    return adj_record(op, in, 1, a, file, line);
}

adj_var *adj_transpose_axes_at(adj_var *x, int a, int b, const char *file, int line)
{
    view_attr at = {.layout = lay_transpose, .a = a, .b = b};
    return record_view(ADJ_OP_TRANSPOSE_AXES, x, &at, file, line);
}

/* A NULL array argument `what` of adj_<fn>, recorded on x's tape (there
 * is nothing to record it on without x). */
static adj_var *null_array(adj_var *x, const char *fn, const char *what, const char *file, int line)
{
    char name[32];
    snprintf(name, sizeof name, "adj_%s", fn);
    x = adj_h_in_at(x, name, file, line);
    if (!x)
        return NULL;
    adj_tape *t = adj_node_tape(x);
    if (t->status == ADJ_OK)
        adj_tape_fail(t, ADJ_EINVAL, "adj_%s: %s is NULL%s%s%s%.0d%s", fn, what, file ? " [at " : "",
                      file ? file : "", file ? ":" : "", file ? line : 0, file ? "]" : "");
    return adj_h_out(t->inert);
}

adj_var *adj_permute_at(adj_var *x, const int *perm, const char *file, int line)
{
    view_attr at = {.layout = lay_permute};
    x = adj_h_in_at(x, "adj_permute", file, line);
    if (!perm && x && x->ndim > 0) {
        /* no permutation to copy: an identity that the shape rule rejects */
        for (int k = 0; k < ADJ_MAX_DIMS; k++)
            at.perm[k] = -ADJ_MAX_DIMS - 1;
    } else if (x) {
        for (int k = 0; k < x->ndim && k < ADJ_MAX_DIMS; k++)
            at.perm[k] = perm[k];
    }
    return record_view(ADJ_OP_PERMUTE, x, &at, file, line);
}

adj_var *adj_slice_at(adj_var *x, int axis, int64_t start, int64_t stop, int64_t step,
                      const char *file, int line)
{
    view_attr at = {.layout = lay_slice, .a = axis, .b = start, .c = stop, .d = step};
    return record_view(ADJ_OP_SLICE, x, &at, file, line);
}

adj_var *adj_select_at(adj_var *x, int axis, int64_t index, const char *file, int line)
{
    view_attr at = {.layout = lay_select, .a = axis, .b = index};
    return record_view(ADJ_OP_SELECT, x, &at, file, line);
}

adj_var *adj_expand_at(adj_var *x, int ndim, const int64_t *shape, const char *file, int line)
{
    view_attr at = {.layout = lay_expand, .ndim = ndim};
    if (ndim > 0 && ndim <= ADJ_MAX_DIMS && !shape)
        return null_array(x, "expand", "shape", file, line);
    if (ndim < 0 || ndim > ADJ_MAX_DIMS || (ndim > 0 && !shape))
        at.ndim = -1; /* rejected by the shape rule */
    else
        for (int k = 0; k < ndim; k++)
            at.shape[k] = shape[k];
    return record_view(ADJ_OP_EXPAND, x, &at, file, line);
}

adj_var *adj_unsqueeze_at(adj_var *x, int axis, const char *file, int line)
{
    view_attr at = {.layout = lay_unsqueeze, .a = axis};
    return record_view(ADJ_OP_UNSQUEEZE, x, &at, file, line);
}

adj_var *adj_squeeze_at(adj_var *x, int axis, const char *file, int line)
{
    view_attr at = {.layout = lay_squeeze, .a = axis};
    return record_view(ADJ_OP_SQUEEZE, x, &at, file, line);
}

adj_var *adj_flatten_at(adj_var *x, int from, int to, const char *file, int line)
{
    view_attr at = {.layout = lay_flatten, .a = from, .b = to};
    return record_view(ADJ_OP_FLATTEN, x, &at, file, line);
}

adj_var *adj_contiguous_at(adj_var *x, const char *file, int line)
{
    view_attr at = {.layout = lay_identity};
    return record_view(ADJ_OP_CONTIGUOUS, x, &at, file, line);
}

adj_var *adj_contig_input(adj_var *x, const char *file, int line)
{
    return adj_h_raw(adj_contiguous_at(x, file, line));
}

adj_var *(adj_transpose_axes)(adj_var *x, int a, int b)
{
    return adj_transpose_axes_at(x, a, b, NULL, 0);
}
adj_var *(adj_permute)(adj_var *x, const int *perm) { return adj_permute_at(x, perm, NULL, 0); }
adj_var *(adj_slice)(adj_var *x, int axis, int64_t start, int64_t stop, int64_t step)
{
    return adj_slice_at(x, axis, start, stop, step, NULL, 0);
}
adj_var *(adj_select)(adj_var *x, int axis, int64_t index)
{
    return adj_select_at(x, axis, index, NULL, 0);
}
adj_var *(adj_expand)(adj_var *x, int ndim, const int64_t *shape)
{
    return adj_expand_at(x, ndim, shape, NULL, 0);
}
adj_var *(adj_unsqueeze)(adj_var *x, int axis) { return adj_unsqueeze_at(x, axis, NULL, 0); }
adj_var *(adj_squeeze)(adj_var *x, int axis) { return adj_squeeze_at(x, axis, NULL, 0); }
adj_var *(adj_flatten)(adj_var *x, int from, int to)
{
    return adj_flatten_at(x, from, to, NULL, 0);
}
ADJ_FN1(contiguous)

/* ------------------------------------------------------------ view_grad */

/*
 * Internal op of graph-mode backward: y = gy scattered into zeros of the
 * shape of a view's input through the view's layout, the adjoint of any
 * view op as one node (its attributes: the view's op, its attributes and
 * its input's shape).  It is linear in gy, and its own adjoint is the
 * view applied again (to y's adjoint, contiguous in the input's shape):
 * the rule records the view's op with the view's attributes.
 */
typedef struct view_grad_attr {
    int32_t op;                     /* the view's op */
    int32_t xnd;                    /* its input's rank and shape */
    int64_t xshape[ADJ_MAX_DIMS];
    view_attr va;                   /* its attributes */
} view_grad_attr;

static adj_status view_grad_shape(adj_var *y, char *why, size_t n)
{
    const view_grad_attr *a = ADJ_ATTR(y, view_grad_attr);
    const adj_var *g = y->in[0];
    adj_layout in, gl;
    adj_layout_contig(&in, a->xnd, a->xshape);
    bool ok = a->va.layout && a->va.layout(&in, &a->va, &gl) && gl.ndim == g->ndim;
    for (int i = 0; ok && i < g->ndim; i++)
        ok = gl.shape[i] == adj_cold(g)->shape[i];
    if (!ok) {
        snprintf(why, n, "the adjoint does not have the view's shape");
        return ADJ_ESHAPE;
    }
    y->ndim = (uint8_t)a->xnd;
    memcpy(adj_cold(y)->shape, a->xshape, sizeof a->xshape);
    return ADJ_OK;
}

static void view_grad_forward(adj_var *y)
{
    const view_grad_attr *a = ADJ_ATTR(y, view_grad_attr);
    memset(y->value, 0, adj_cold(y)->numel * adj_dsize(y->dtype));
    view_scatter(adj_node_tape(y), y->dtype, &a->va, a->xnd, a->xshape, y->value,
                 y->in[0]->value, false);
}

/* d(gy) += the view of dy (a gather through the layout) */
static void view_grad_backward(adj_var *y)
{
    adj_var *g = y->in[0];
    if (!(g->flags & ADJ_F_GRAD))
        return;
    void *gg = adj_grad_buf(g);
    if (!gg)
        return;
    const view_grad_attr *a = ADJ_ATTR(y, view_grad_attr);
    adj_layout in, gl, vl;
    adj_layout_contig(&in, a->xnd, a->xshape);
    a->va.layout(&in, &a->va, &gl);
    adj_layout_contig(&vl, gl.ndim, gl.shape);
    adj_strided_acc(y->dtype, gg, &vl, y->grad, &gl, 1.0);
}

static void view_grad_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const view_grad_attr *a = ADJ_ATTR(y, view_grad_attr);
    memset(ty, 0, adj_cold(y)->numel * adj_dsize(y->dtype));
    view_scatter(adj_node_tape(y), y->dtype, &a->va, a->xnd, a->xshape, ty, tx[0], false);
}

static bool view_grad_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    const view_grad_attr *a = ADJ_ATTR(y, view_grad_attr);
    adj_var *in[1] = {gy};
    gin[0] = adj_record((adj_op)a->op, in, 1, &a->va, NULL, 0);
    return adj_gok(y);
}

/* the cases: the adjoints of a transpose of (2,3), a step-2 slice of
 * (2,5) along axis 1, an expand of (1,3) to (2,3), a select of (3,2) */
static const view_grad_attr vg_a[] = {
    {ADJ_OP_TRANSPOSE_AXES, 2, {2, 3}, {.layout = lay_transpose, .a = 0, .b = 1}},
    {ADJ_OP_SLICE, 2, {2, 5}, {.layout = lay_slice, .a = 1, .b = 0, .c = 5, .d = 2}},
    {ADJ_OP_EXPAND, 2, {1, 3}, {.layout = lay_expand, .ndim = 2, .shape = {2, 3}}},
    {ADJ_OP_SELECT, 2, {3, 2}, {.layout = lay_select, .a = 0, .b = 1}},
};
static const adj_op_case view_grad_cases[] = {
    {1, {2}, {{3, 2}}, &vg_a[0], " of a transpose"},
    {1, {2}, {{2, 3}}, &vg_a[1], " of a slice"},
    {1, {2}, {{2, 3}}, &vg_a[2], " of an expand"},
    {1, {1}, {{2}}, &vg_a[3], " of a select"},
};

const adj_op_desc adj_desc_view_grad = {
    .name = "view_grad", .arity = 1, .attr_size = sizeof(view_grad_attr),
    .shape = view_grad_shape, .forward = view_grad_forward, .backward = view_grad_backward,
    .jvp = view_grad_jvp, .vjp = view_grad_vjp,
    .formula = "y = zeros of the view's input shape, with y[view positions] += gy",
    .rule = "dgy += view(dy)", ADJ_CASES(view_grad_cases),
};

adj_var *adj_gview_grad(adj_var *view, adj_var *gy)
{
    adj_var *in[1] = {gy};
    view = adj_h_raw(view);
    const adj_var *x = view->in[0];
    view_grad_attr a = {.op = view->op, .xnd = x->ndim, .va = *ADJ_ATTR(view, view_attr)};
    memcpy(a.xshape, adj_cold(x)->shape, (size_t)x->ndim * sizeof *a.xshape);
    return adj_record(ADJ_OP_VIEW_GRAD, in, 1, &a, NULL, 0);
}
