/*
 * Joins and splits: concat and stack (nodes of any number of inputs),
 * split and chunk (views along an axis, made of adj_slice).
 *
 * concat and stack share one kernel: around the axis, y is (outer, N,
 * inner) and input k fills the block of rows [start_k, start_k + n_k) of
 * each outer slice, with n_k its size along the axis (1 for stack, whose
 * inputs gain the axis).  The backward copies each block of dy back.
 */
#include "core/record.h"
#include "ops/graph.h"
#include "ops/op.h"
#include "ops/strided_op.h"

#include <string.h>

typedef struct join_attr {
    int32_t axis;           /* normalised to 0..ndim(y)-1 by the shape rule */
    int32_t stack;          /* stack: the inputs gain the axis */
} join_attr;

static adj_status join_shape(adj_var *y, char *why, size_t n)
{
    join_attr *a = ADJ_ATTR(y, join_attr);
    const adj_var *x0 = adj_input(y, 0);
    const int nd = x0->ndim + (a->stack ? 1 : 0);
    const int nin = adj_nin(y);
    char s0[96], sk[96];
    adj_fmt_shape(s0, sizeof s0, x0->ndim, adj_cold(x0)->shape);
    if (!a->stack && x0->ndim == 0) {
        snprintf(why, n, "x0 is 0-D: concat needs an axis to join along (adj_stack joins 0-D "
                         "inputs)");
        return ADJ_ESHAPE;
    }
    if (nd > ADJ_MAX_DIMS) {
        snprintf(why, n, "stacking inputs of %d dimensions would give more than %d", x0->ndim,
                 ADJ_MAX_DIMS);
        return ADJ_ESHAPE;
    }
    int ax = adj_axis_norm(a->axis, nd);
    if (ax < 0) {
        snprintf(why, n, "axis %d is out of range for %s of inputs of shape %s", a->axis,
                 a->stack ? "stack" : "concat", s0);
        return ADJ_EINVAL;
    }
    int64_t total = 0;
    for (int k = 0; k < nin; k++) {
        const adj_var *x = adj_input(y, k);
        bool ok = x->ndim == x0->ndim;
        for (int d = 0; ok && d < x0->ndim; d++)
            ok = adj_cold(x)->shape[d] == adj_cold(x0)->shape[d] || (!a->stack && d == ax);
        if (!ok) {
            adj_fmt_shape(sk, sizeof sk, x->ndim, adj_cold(x)->shape);
            snprintf(why, n, "x%d has shape %s, x0 %s: %s", k, sk, s0,
                     a->stack ? "every input must have one shape"
                              : "the shapes must agree except along the axis");
            return ADJ_ESHAPE;
        }
        total += a->stack ? 1 : adj_cold(x)->shape[ax];
    }
    a->axis = ax;
    y->ndim = (uint8_t)nd;
    /* x0's dimensions in order, the axis's size replaced by the total
     * (concat) or inserted (stack) */
    for (int d = 0, j = 0; d < nd; d++, j++) {
        if (d == ax && a->stack)
            j--;
        adj_cold(y)->shape[d] = d == ax ? total : adj_cold(x0)->shape[j];
    }
    return ADJ_OK;
}

/* outer and inner around y's axis */
static void around(const adj_var *y, size_t *outer, size_t *inner)
{
    const int ax = ADJ_ATTR(y, join_attr)->axis;
    *outer = *inner = 1;
    for (int d = 0; d < ax; d++)
        *outer *= (size_t)adj_cold(y)->shape[d];
    for (int d = ax + 1; d < y->ndim; d++)
        *inner *= (size_t)adj_cold(y)->shape[d];
}

/* The rows of input k along y's axis: its size there (1 for stack). */
static size_t rows_of(const adj_var *y, int k)
{
    const join_attr *a = ADJ_ATTR(y, join_attr);
    return a->stack ? 1 : (size_t)adj_cold(adj_input(y, k))->shape[a->axis];
}

/* copy each input's block (SRC(k)) into its place in out */
static void gather(const adj_var *y, const void *const *src, void *out)
{
    size_t outer, inner, es = adj_dsize(y->dtype);
    around(y, &outer, &inner);
    const size_t N = (size_t)adj_cold(y)->shape[ADJ_ATTR(y, join_attr)->axis];
    size_t start = 0;
    for (int k = 0; k < adj_nin(y); k++) {
        const size_t nk = rows_of(y, k), run = nk * inner * es;
        if (run)
            for (size_t o = 0; o < outer; o++)
                memcpy((char *)out + (o * N + start) * inner * es,
                       (const char *)src[k] + o * run, run);
        start += nk;
    }
}

/* y = the inputs side by side along the axis */
static void join_forward(adj_var *y)
{
    const int nin = adj_nin(y);
    const void *stack_src[8];
    const void **src = nin <= 8 ? stack_src : adj_arena_alloc(adj_node_tape(y), (size_t)nin * sizeof *src);
    if (!src)
        return; /* ADJ_ENOMEM is on the tape */
    for (int k = 0; k < nin; k++)
        src[k] = adj_input(y, k)->value;
    gather(y, src, y->value);
}

/* dx_k += the block of dy input k filled; the block is copied when dx_k
 * is not there yet (the blocks of one input cover all of it) */
static void join_backward(adj_var *y)
{
    size_t outer, inner;
    around(y, &outer, &inner);
    const size_t N = (size_t)adj_cold(y)->shape[ADJ_ATTR(y, join_attr)->axis];
    const size_t es = adj_dsize(y->dtype);
    size_t start = 0;
    for (int k = 0; k < adj_nin(y); k++) {
        adj_var *x = adj_input(y, k);
        const size_t nk = rows_of(y, k), run = nk * inner;
        bool fresh = false;
        void *g = (x->flags & ADJ_F_GRAD) && run && outer ? adj_grad_buf_fresh(x, &fresh) : NULL;
        for (size_t o = 0; g && o < outer; o++) {
            const size_t from = (o * N + start) * inner;
            if (fresh) {
                memcpy((char *)g + o * run * es, (const char *)y->grad + from * es, run * es);
            } else if (y->dtype == ADJ_F64) {
                double *d = (double *)g + o * run;
                const double *s = (const double *)y->grad + from;
                for (size_t i = 0; i < run; i++)
                    d[i] += s[i];
            } else {
                float *d = (float *)g + o * run;
                const float *s = (const float *)y->grad + from;
                for (size_t i = 0; i < run; i++)
                    d[i] += s[i];
            }
        }
        start += nk;
    }
}

/* tangent: the inputs' tangents joined */
static void join_jvp(const adj_var *y, const void *const *tx, void *ty) { gather(y, tx, ty); }

static const join_attr cat0 = {0, 0}, cat1 = {1, 0}, catm1 = {-1, 0}, st0 = {0, 1}, st1 = {1, 1},
                       stm1 = {-1, 1};
/* two, three, six inputs; every axis; size-1 and zero-size blocks */
static const adj_op_case concat_cases[] = {
    {1, {2}, {{2, 3}}, &cat0, " axis 0, one input"},
    {2, {2, 2}, {{2, 3}, {1, 3}}, &cat0, " axis 0"},
    {3, {2, 2, 2}, {{2, 1}, {2, 3}, {2, 2}}, &catm1, " axis -1"},
    {2, {3, 3}, {{2, 2, 3}, {2, 1, 3}}, &cat1, " axis 1"},
    {6, {1, 1, 1, 1, 1, 1}, {{1}, {2}, {1}, {3}, {1}, {2}}, &cat0, " six inputs"},
    {3, {2, 2, 2}, {{2, 0}, {2, 3}, {2, 0}}, &cat1, " zero-size blocks"},
    {2, {2, 2}, {{0, 3}, {0, 3}}, &cat0, " zero-size result"},
};
static const adj_op_case stack_cases[] = {
    {1, {1}, {{3}}, &st0, " axis 0, one input"},
    {2, {2, 2}, {{2, 3}, {2, 3}}, &st0, " axis 0"},
    {3, {2, 2, 2}, {{2, 3}, {2, 3}, {2, 3}}, &st1, " axis 1"},
    {2, {2, 2}, {{2, 3}, {2, 3}}, &stm1, " axis -1 (new last axis)"},
    {4, {0, 0, 0, 0}, {{0}, {0}, {0}, {0}}, &st0, " 0-D inputs"},
    {6, {1, 1, 1, 1, 1, 1}, {{2}, {2}, {2}, {2}, {2}, {2}}, &stm1, " six inputs"},
    {2, {2, 2}, {{1, 0}, {1, 0}}, &st1, " zero-size"},
};

/* graph mode: dxk = dy's block of xk (concat: a slice along the axis;
 * stack: the select of index k) */
static bool join_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    const join_attr *a = ADJ_ATTR(y, join_attr);
    int64_t off = 0;
    for (int k = 0, n = adj_nin(y); k < n; k++) {
        const adj_var *x = adj_input(y, k);
        const int64_t size = a->stack ? 1 : adj_cold(x)->shape[a->axis];
        if (adj_gwants(y, k))
            gin[k] = a->stack ? adj_select_at(gy, a->axis, k, NULL, 0)
                              : adj_slice_at(gy, a->axis, off, off + size, 1, NULL, 0);
        off += size;
    }
    return adj_gok(y);
}

const adj_op_desc adj_desc_concat = {
    .name = "concat", .arity = ADJ_ARITY_ANY, .attr_size = sizeof(join_attr),
    .shape = join_shape, .forward = join_forward, .backward = join_backward, .jvp = join_jvp,
    .formula = "y = [x0, x1, ...] along the axis",
    .rule = "dxk += dy's block of xk", ADJ_CASES(concat_cases),
    .vjp = join_vjp,
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
};
const adj_op_desc adj_desc_stack = {
    .name = "stack", .arity = ADJ_ARITY_ANY, .attr_size = sizeof(join_attr),
    .shape = join_shape, .forward = join_forward, .backward = join_backward, .jvp = join_jvp,
    .formula = "y[..., k, ...] = xk along a new axis",
    .rule = "dxk += dy[..., k, ...]", ADJ_CASES(stack_cases),
    .vjp = join_vjp,
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
};

/* Before recording: a dtype mismatch names the input (the recorder's
 * message does not say which). */
static adj_var *record_join(adj_op op, const char *fname, int n, adj_var *const *xs, int axis,
                            int stack, const char *file, int line)
{
    if (n < 1 || !xs)
        return NULL;
    for (int k = 1; k < n; k++) {
        adj_var *x0 = adj_h_raw(xs[0]), *x = adj_h_raw(xs[k]);
        if (!x0 || !x || x->dtype == x0->dtype || (x->flags & ADJ_F_INERT) ||
            (x0->flags & ADJ_F_INERT) || adj_node_tape(x) != adj_node_tape(x0))
            continue;
        adj_tape *t = adj_node_tape(x0);
        if (t->status == ADJ_OK && adj_live(t, x) && adj_live(t, x0) &&
            adj_h_current((uintptr_t)xs[k], t->gen) && adj_h_current((uintptr_t)xs[0], t->gen))
            adj_tape_fail(t, ADJ_EDTYPE,
                          "adj_%s: %s: x%d is %s, x0 is %s (every input must have one dtype)" AT_FMT,
                          fname, adj_status_string(ADJ_EDTYPE), k, adj_dtype_name((adj_dtype)x->dtype),
                          adj_dtype_name((adj_dtype)x0->dtype), AT_ARGS(file, line));
        else if (t->status == ADJ_OK)
            break; /* the recorder reports the stale input */
        return adj_h_out(t->inert);
    }
    return adj_record(op, xs, n, &(join_attr){axis, stack}, file, line);
}

adj_var *adj_concat_at(int n, adj_var *const *xs, int axis, const char *file, int line)
{
    return record_join(ADJ_OP_CONCAT, "concat", n, xs, axis, 0, file, line);
}
adj_var *adj_stack_at(int n, adj_var *const *xs, int axis, const char *file, int line)
{
    return record_join(ADJ_OP_STACK, "stack", n, xs, axis, 1, file, line);
}
adj_var *(adj_concat)(int n, adj_var *const *xs, int axis)
{
    return adj_concat_at(n, xs, axis, NULL, 0);
}
adj_var *(adj_stack)(int n, adj_var *const *xs, int axis)
{
    return adj_stack_at(n, xs, axis, NULL, 0);
}

/* ------------------------------------------------------------ split, chunk */

/* The tape to report on, or NULL; fills out[0..n) with its inert var on
 * error. */
static adj_tape *split_tape(adj_var *x)
{
    if (!x)
        return NULL;
    return adj_node_tape(x);
}

static int split_fail(adj_tape *t, adj_var **out, int n, adj_status s, const char *fn,
                      const char *why, const char *file, int line)
{
    if (t && t->status == ADJ_OK)
        adj_tape_fail(t, s, "adj_%s: %s: %s" AT_FMT, fn, adj_status_string(s), why,
                      AT_ARGS(file, line));
    for (int k = 0; out && k < n; k++)
        out[k] = t ? adj_h_out(t->inert) : NULL;
    return -1;
}

/* Check x and the axis for split/chunk: its normalised axis and length,
 * or -1 after recording the error. */
static int split_axis(adj_tape *t, adj_var *x, int axis, const char *fn, int64_t *len,
                      const char *file, int line)
{
    char why[160], sh[64];
    if (!adj_live(t, x) || (x->flags & ADJ_F_INERT)) {
        split_fail(t, NULL, 0, ADJ_ETAPE, fn,
                   "input x was recorded before adj_tape_reset or is the result of an error",
                   file, line);
        return -1;
    }
    int ax = adj_axis_norm(axis, x->ndim);
    if (ax < 0) {
        adj_fmt_shape(sh, sizeof sh, x->ndim, adj_cold(x)->shape);
        snprintf(why, sizeof why, "axis %d is out of range for shape %s", axis, sh);
        split_fail(t, NULL, 0, ADJ_EINVAL, fn, why, file, line);
        return -1;
    }
    *len = adj_cold(x)->shape[ax];
    return ax;
}

int adj_split_at(adj_var *x, int axis, int n, const int64_t *sizes, adj_var **out,
                 const char *file, int line)
{
    x = adj_h_in_at(x, "adj_split", file, line);
    adj_tape *t = split_tape(x);
    char why[160];
    if (!t || t->status != ADJ_OK || !out || n < 1 || !sizes) {
        snprintf(why, sizeof why, "%s", !x ? "input x is NULL" : !out ? "out is NULL"
                                        : n < 1 ? "n must be at least 1" : "sizes is NULL");
        if (n < 1 && x && out)
            snprintf(why, sizeof why, "n = %d pieces: n must be at least 1", n);
        return split_fail(t, out, n > 0 ? n : 0, ADJ_EINVAL, "split", why, file, line);
    }
    int64_t len;
    int ax = split_axis(t, x, axis, "split", &len, file, line);
    if (ax < 0)
        return split_fail(t, out, n, ADJ_EINVAL, "split", "", file, line);
    int64_t sum = 0;
    for (int k = 0; k < n; k++) {
        if (sizes[k] < 0 || sizes[k] > len - sum) {
            snprintf(why, sizeof why,
                     sizes[k] < 0 ? "sizes[%d] = %lld is negative"
                                  : "sizes[%d] = %lld goes past the end of the axis (length %lld)",
                     k, (long long)sizes[k], (long long)len);
            return split_fail(t, out, n, ADJ_EINVAL, "split", why, file, line);
        }
        sum += sizes[k];
    }
    if (sum != len) {
        snprintf(why, sizeof why, "the sizes add up to %lld, axis %d has length %lld",
                 (long long)sum, axis, (long long)len);
        return split_fail(t, out, n, ADJ_EINVAL, "split", why, file, line);
    }
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
        out[k] = adj_slice_at(x, ax, start, start + sizes[k], 1, file, line);
        start += sizes[k];
    }
    if (t->status != ADJ_OK)
        return split_fail(t, out, n, t->status, "split", "", file, line);
    return n;
}

int adj_chunk_at(adj_var *x, int chunks, int axis, adj_var **out, const char *file, int line)
{
    x = adj_h_in_at(x, "adj_chunk", file, line);
    adj_tape *t = split_tape(x);
    char why[160];
    if (!t || t->status != ADJ_OK || !out || chunks < 1) {
        snprintf(why, sizeof why, "%s", !x ? "input x is NULL" : !out ? "out is NULL" : "");
        if (x && out)
            snprintf(why, sizeof why, "chunks = %d: at least 1", chunks);
        return split_fail(t, out, chunks > 0 ? chunks : 0, ADJ_EINVAL, "chunk", why, file, line);
    }
    int64_t len;
    int ax = split_axis(t, x, axis, "chunk", &len, file, line);
    if (ax < 0)
        return split_fail(t, out, chunks, ADJ_EINVAL, "chunk", "", file, line);
    /* pieces of ceil(len / chunks); the last may be shorter, and there may
     * be fewer than chunks of them (PyTorch's rule); an empty axis gives
     * one empty piece */
    int64_t size = len / chunks + (len % chunks != 0);
    int count = size ? (int)((len + size - 1) / size) : 1;
    for (int k = 0; k < count; k++) {
        int64_t lo = (int64_t)k * size, hi = lo + size < len ? lo + size : len;
        out[k] = adj_slice_at(x, ax, lo, hi, 1, file, line);
    }
    for (int k = count; k < chunks; k++)
        out[k] = NULL;
    if (t->status != ADJ_OK)
        return split_fail(t, out, chunks, t->status, "chunk", "", file, line);
    return count;
}

int (adj_split)(adj_var *x, int axis, int n, const int64_t *sizes, adj_var **out)
{
    return adj_split_at(x, axis, n, sizes, out, NULL, 0);
}
int (adj_chunk)(adj_var *x, int chunks, int axis, adj_var **out)
{
    return adj_chunk_at(x, chunks, axis, out, NULL, 0);
}
