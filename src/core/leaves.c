/*
 * Leaves (tensors, constants, views of caller memory, index tensors) and
 * the accessors of a var.
 */
#include "core/handle.h"
#include "core/record.h"
#include "core/tape.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "tensor/strided.h"

#include <math.h>
#include <string.h>

/* --------------------------------------------------------------- leaves */

/* A leaf recorded by the public function adj_<fn> (named in messages):
 * the node (leaf_node), or its handle (leaf). */
static adj_var *leaf_node(adj_tape *t, const char *fn, adj_dtype dtype, int ndim, const int64_t *shape,
                     const void *data, int requires_grad, const char *file, int line)
{
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return t->inert;
    size_t numel;
    if (dtype != ADJ_F32 && dtype != ADJ_F64 && dtype != ADJ_I32) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_%s: invalid dtype %d" AT_FMT, fn, (int)dtype,
                      AT_ARGS(file, line));
        return t->inert;
    }
    if (dtype == ADJ_I32 && requires_grad) {
        adj_tape_fail(t, ADJ_EDTYPE, "adj_%s: an index tensor (i32) takes no gradient" AT_FMT, fn,
                      AT_ARGS(file, line));
        return t->inert;
    }
    if (ndim < 0 || ndim > ADJ_MAX_DIMS) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_%s: invalid number of dimensions %d (0..%d)" AT_FMT, fn,
                      ndim, ADJ_MAX_DIMS, AT_ARGS(file, line));
        return t->inert;
    }
    if (ndim > 0 && !shape) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_%s: shape is NULL (%d dimensions)" AT_FMT, fn, ndim,
                      AT_ARGS(file, line));
        return t->inert;
    }
    if (!adj_shape_numel(ndim, shape, &numel)) {
        char sh[96];
        adj_fmt_shape(sh, sizeof sh, ndim, shape);
        adj_tape_fail(t, ADJ_EINVAL,
                      "adj_%s: invalid shape %s: negative size or too many elements" AT_FMT, fn, sh,
                      AT_ARGS(file, line));
        return t->inert;
    }
    adj_var *v = adj_new_node(t, fn, file, line);
    if (!v)
        return t->inert;
    v->op = ADJ_LEAF_OP;
    v->dtype = (uint8_t)dtype;
    v->ndim = (uint8_t)ndim;
    v->flags = requires_grad ? ADJ_F_GRAD : 0;
    v->in[0] = v->in[1] = v->in[2] = NULL;
    adj_cold(v)->nin = 0;
    adj_cold(v)->file = file;
    adj_cold(v)->line = line;
    adj_cold(v)->numel = numel;
    t->rec_fn = fn;
    t->rec_file = file;
    t->rec_line = line;
    bool ok = adj_shape_store(t, v, shape) && adj_alloc_value(t, v);
    t->rec_fn = NULL;
    if (!ok) {
        adj_drop_last_node(t);
        return t->inert;
    }
    size_t bytes = numel * adj_dsize(dtype);
    if (data)
        memcpy(v->value, data, bytes);
    else
        memset(v->value, 0, bytes);
    if (t->anomaly)
        adj_check_forward(t, v);
    return v;
}

static adj_var *leaf(adj_tape *t, const char *fn, adj_dtype dtype, int ndim, const int64_t *shape,
                     const void *data, int requires_grad, const char *file, int line)
{
    return adj_h_out(leaf_node(t, fn, dtype, ndim, shape, data, requires_grad, file, line));
}

adj_var *adj_leaf_at(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape,
                     const void *data, int requires_grad, const char *file, int line)
{
    return leaf(t, "leaf", dtype, ndim, shape, data, requires_grad, file, line);
}

adj_var *adj_leaf_view(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape, void *data,
                       int requires_grad, const char *file, int line)
{
    return adj_leaf_view_as(t, "constant_view", dtype, ndim, shape, data, requires_grad, file,
                            line);
}

adj_var *adj_leaf_view_as(adj_tape *t, const char *fn, adj_dtype dtype, int ndim,
                          const int64_t *shape, void *data, int requires_grad, const char *file,
                          int line)
{
    /* the checks of a 0-D leaf (leaf_node), then those of the shape; the
     * node is made once both pass, with no copy and no arena */
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return t->inert;
    if (dtype != ADJ_F32 && dtype != ADJ_F64 && dtype != ADJ_I32)
        return leaf_node(t, fn, dtype, 0, NULL, NULL, requires_grad, file, line);
    if (dtype == ADJ_I32 && requires_grad)
        return leaf_node(t, fn, dtype, 0, NULL, NULL, requires_grad, file, line);
    size_t numel;
    if (ndim < 0 || ndim > ADJ_MAX_DIMS || (ndim > 0 && !shape) || !adj_shape_numel(ndim, shape, &numel)) {
        char sh[96] = "(NULL)";
        if (ndim >= 0 && ndim <= ADJ_MAX_DIMS && (ndim == 0 || shape))
            adj_fmt_shape(sh, sizeof sh, ndim, shape);
        adj_tape_fail(t, ADJ_EINVAL,
                      "adj_%s: invalid shape %s (%d dimensions): 0..%d dimensions, "
                      "sizes >= 0, not too many elements" AT_FMT,
                      fn, sh, ndim, ADJ_MAX_DIMS, AT_ARGS(file, line));
        return t->inert;
    }
    adj_var *v = adj_new_node(t, fn, file, line);
    if (!v)
        return t->inert;
    adj_node_info *c = adj_cold(v);
    v->op = ADJ_LEAF_OP;
    v->dtype = (uint8_t)dtype;
    v->ndim = (uint8_t)ndim;
    v->flags = requires_grad ? ADJ_F_GRAD : 0;
    v->in[0] = v->in[1] = v->in[2] = NULL;
    memset(&v->inl_value, 0, sizeof v->inl_value);
    c->nin = 0;
    c->file = file;
    c->line = line;
    c->numel = numel;
    t->rec_fn = fn;
    t->rec_file = file;
    t->rec_line = line;
    bool ok = adj_shape_store(t, v, shape);
    t->rec_fn = NULL;
    if (!ok) {
        adj_drop_last_node(t);
        return t->inert;
    }
    v->value = data;
    if (t->anomaly)
        adj_check_forward(t, v);
    return v;
}

adj_var *adj_constant_view_at(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape,
                              const void *data, const char *file, int line)
{
    size_t numel;
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    if (!data && ndim >= 0 && ndim <= ADJ_MAX_DIMS && (ndim == 0 || shape) &&
        adj_shape_numel(ndim, shape, &numel) && numel > 0) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_constant_view: data is NULL" AT_FMT, AT_ARGS(file, line));
        return adj_h_out(t->inert);
    }
    /* the view never writes through data: constants receive no adjoint */
    return adj_h_out(adj_leaf_view(t, dtype, ndim, shape, (void *)(uintptr_t)data, 0, file, line));
}

adj_var *adj_tensor_view_at(adj_tape *t, adj_dtype dtype, int ndim, const int64_t *shape,
                            const void *data, const char *file, int line)
{
    size_t numel;
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    if (!data && ndim >= 0 && ndim <= ADJ_MAX_DIMS && (ndim == 0 || shape) &&
        adj_shape_numel(ndim, shape, &numel) && numel > 0) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_tensor_view: data is NULL" AT_FMT, AT_ARGS(file, line));
        return adj_h_out(t->inert);
    }
    /* the value is only read: adjoints go to the tape's own buffer */
    return adj_h_out(adj_leaf_view_as(t, "tensor_view", dtype, ndim, shape,
                                      (void *)(uintptr_t)data, 1, file, line));
}

adj_var *adj_index_at(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data,
                      const char *file, int line)
{
    return leaf(t, "index", ADJ_I32, ndim, shape, data, 0, file, line);
}

adj_var *adj_index_view_at(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data,
                           const char *file, int line)
{
    return adj_constant_view_at(t, ADJ_I32, ndim, shape, data, file, line);
}

adj_var *(adj_index)(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data)
{
    return leaf(t, "index", ADJ_I32, ndim, shape, data, 0, NULL, 0);
}

adj_var *(adj_index_view)(adj_tape *t, int ndim, const int64_t *shape, const int32_t *data)
{
    return adj_constant_view_at(t, ADJ_I32, ndim, shape, data, NULL, 0);
}

adj_var *adj_scalar_at(adj_tape *t, double value, const char *file, int line)
{
    return leaf(t, "scalar", ADJ_F64, 0, NULL, &value, 1, file, line);
}

adj_var *adj_tensor_f64_at(adj_tape *t, int ndim, const int64_t *shape, const double *data,
                           const char *file, int line)
{
    return leaf(t, "tensor_f64", ADJ_F64, ndim, shape, data, 1, file, line);
}
adj_var *adj_tensor_f32_at(adj_tape *t, int ndim, const int64_t *shape, const float *data,
                           const char *file, int line)
{
    return leaf(t, "tensor_f32", ADJ_F32, ndim, shape, data, 1, file, line);
}
adj_var *adj_constant_f64_at(adj_tape *t, int ndim, const int64_t *shape, const double *data,
                             const char *file, int line)
{
    return leaf(t, "constant_f64", ADJ_F64, ndim, shape, data, 0, file, line);
}
adj_var *adj_constant_f32_at(adj_tape *t, int ndim, const int64_t *shape, const float *data,
                             const char *file, int line)
{
    return leaf(t, "constant_f32", ADJ_F32, ndim, shape, data, 0, file, line);
}

adj_var *(adj_scalar)(adj_tape *t, double value) { return adj_scalar_at(t, value, NULL, 0); }
adj_var *(adj_tensor_f64)(adj_tape *t, int ndim, const int64_t *shape, const double *data)
{
    return leaf(t, "tensor_f64", ADJ_F64, ndim, shape, data, 1, NULL, 0);
}
adj_var *(adj_tensor_f32)(adj_tape *t, int ndim, const int64_t *shape, const float *data)
{
    return leaf(t, "tensor_f32", ADJ_F32, ndim, shape, data, 1, NULL, 0);
}
adj_var *(adj_constant_f64)(adj_tape *t, int ndim, const int64_t *shape, const double *data)
{
    return leaf(t, "constant_f64", ADJ_F64, ndim, shape, data, 0, NULL, 0);
}
adj_var *(adj_constant_f32)(adj_tape *t, int ndim, const int64_t *shape, const float *data)
{
    return leaf(t, "constant_f32", ADJ_F32, ndim, shape, data, 0, NULL, 0);
}

/* ------------------------------------------------------------ accessors */

/* Accessors: a stale handle records the error on its tape and gives what
 * NULL gives. */
#define NODE(v, fn) adj_var *v = adj_h_get(v##_h, fn)

size_t adj_numel(const adj_var *v_h)
{
    NODE(v, "adj_numel");
    return v ? adj_cold(v)->numel : 0;
}
int adj_ndim(const adj_var *v_h)
{
    NODE(v, "adj_ndim");
    return v ? v->ndim : -1;
}
int64_t adj_dim(const adj_var *v_h, int axis)
{
    NODE(v, "adj_dim");
    return v && axis >= 0 && axis < v->ndim ? adj_cold(v)->shape[axis] : -1;
}
adj_dtype adj_var_dtype(const adj_var *v_h)
{
    NODE(v, "adj_var_dtype");
    return v ? (adj_dtype)v->dtype : ADJ_F64;
}
adj_tape *adj_var_tape(const adj_var *v_h)
{
    NODE(v, "adj_var_tape");
    return v ? adj_node_tape(v) : NULL;
}
size_t adj_var_id(const adj_var *v_h)
{
    NODE(v, "adj_var_id");
    return v ? adj_cold(v)->id : 0;
}
int adj_requires_grad(const adj_var *v_h)
{
    NODE(v, "adj_requires_grad");
    return v && (v->flags & ADJ_F_GRAD);
}
adj_op adj_var_op(const adj_var *v_h)
{
    NODE(v, "adj_var_op");
    return (adj_op)(v ? v->op : ADJ_LEAF_OP);
}
/* A parameter leaf whose store gained tensors: its pointers are stale, and
 * so are a view's of it.  A current leaf has its adjoint's pending zeros
 * written (the readers of values and adjoints below all ask this first). */
static inline bool moved(const adj_var *v)
{
    if (v->flags & ADJ_F_VIEW) /* a view reads its root's storage */
        return adj_storage_stale(v);
    if (!(v->flags & ADJ_F_EXTGRAD))
        return false;
    if (adj_param_stale(v))
        return true;
    adj_param_settle(v);
    return false;
}

void adj_var_copy_out(const adj_var *v, void *dst)
{
    adj_layout l, d;
    adj_var_layout(v, &l);
    adj_layout_contig(&d, v->ndim, adj_cold(v)->shape);
    adj_strided_copy(adj_dsize(v->dtype), dst, &d, v->value, &l);
}

const void *adj_data(const adj_var *v_h)
{
    NODE(v, "adj_data");
    if (!v || moved(v))
        return NULL;
    if (!(v->flags & ADJ_F_STRIDED))
        return v->value;
    /* a strided view: its values in row-major order, copied */
    adj_tape *t = adj_node_tape(v);
    void *p = adj_arena_alloc(t, adj_cold(v)->numel * adj_dsize(v->dtype));
    if (p)
        adj_var_copy_out(v, p);
    return p;
}
const void *adj_grad_data(const adj_var *v_h)
{
    NODE(v, "adj_grad_data");
    if (!v || moved(v))
        return NULL;
    if (v->flags & ADJ_F_EXTGRAD)
        adj_param_show(v);
    return v->grad; /* a released adjoint is NULL */
}

static double elem(const void *p, int dtype, size_t i)
{
    return adj_elem_get(p, dtype, i);
}

/* adj_value_at of node v (NULL: none) */
static double value_at(const adj_var *v, size_t i)
{
    if (!v || i >= adj_cold(v)->numel || moved(v))
        return NAN;
    return adj_var_elem(v, i);
}

double adj_value_at(const adj_var *v_h, size_t i)
{
    NODE(v, "adj_value_at");
    return value_at(v, i);
}

double adj_grad_at(const adj_var *v_h, size_t i)
{
    NODE(v, "adj_grad_at");
    if (!v || i >= adj_cold(v)->numel || moved(v) || (v->flags & ADJ_F_RELEASED))
        return NAN;
    return v->grad ? elem(v->grad, v->dtype, i) : 0.0;
}

double adj_item(const adj_var *v_h)
{
    NODE(v, "adj_item");
    return v && adj_cold(v)->numel == 1 ? value_at(v, 0) : NAN;
}
double adj_grad_item(const adj_var *v_h)
{
    NODE(v, "adj_grad_item");
    return v && adj_cold(v)->numel == 1 ? adj_grad_at(v, 0) : NAN;
}

adj_status adj_copy_value(const adj_var *v_h, double *out)
{
    NODE(v, "adj_copy_value");
    if (v_h && !v)
        return ADJ_ETAPE;
    if (!v || !out)
        return ADJ_EINVAL;
    if (moved(v))
        return ADJ_ESTATE;
    for (size_t i = 0; i < adj_cold(v)->numel; i++)
        out[i] = adj_var_elem(v, i);
    return ADJ_OK;
}

adj_status adj_copy_grad(const adj_var *v_h, double *out)
{
    NODE(v, "adj_copy_grad");
    if (v_h && !v)
        return ADJ_ETAPE;
    if (!v || !out)
        return ADJ_EINVAL;
    if (moved(v) || (v->flags & ADJ_F_RELEASED))
        return ADJ_ESTATE;
    for (size_t i = 0; i < adj_cold(v)->numel; i++)
        out[i] = v->grad ? elem(v->grad, v->dtype, i) : 0.0;
    return ADJ_OK;
}

void adj_shape_string(const adj_var *v_h, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    NODE(v, "adj_shape_string");
    if (!v) {
        if (size)
            snprintf(buf, size, "(null)");
        return;
    }
    adj_fmt_shape(buf, size, v->ndim, adj_cold(v)->shape);
}
