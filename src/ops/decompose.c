/*
 * Graph-mode rules of the fused ops other than convolution and pooling:
 * each op's value recorded again as a composition of simpler ops (see
 * ops/decompose.h), and the adjoints of the index ops written with each
 * other.  Everything here goes through the public op functions, so every
 * node it records is an ordinary node that graph mode differentiates in
 * turn.
 */
#include "ops/decompose.h"

#include "ops/dropout.h"
#include "ops/norm.h"

#include <adjoint/ops.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define AT NULL, 0

static adj_tape *tape_of(const adj_var *y) { return adj_node_tape(y); }

static bool failed(const adj_var *y) { return adj_tape_status(tape_of(y)) != ADJ_OK; }

/* A 0-D constant of dtype dt. */
static adj_var *cst(adj_tape *t, adj_dtype dt, double v)
{
    if (dt == ADJ_F32) {
        float f = (float)v;
        return adj_constant_f32_at(t, 0, NULL, &f, AT);
    }
    return adj_constant_f64_at(t, 0, NULL, &v, AT);
}

/* A constant of dtype dt and the given shape holding v[0..n) (doubles),
 * stored in the arena for as long as the tape. */
static adj_var *cst_array(adj_tape *t, adj_dtype dt, int ndim, const int64_t *shape,
                          const double *v, size_t n)
{
    void *buf = adj_arena_alloc(t, n ? n * adj_dsize(dt) : 1);
    if (!buf)
        return t->inert;
    for (size_t i = 0; i < n; i++) {
        if (dt == ADJ_F32)
            ((float *)buf)[i] = (float)v[i];
        else
            ((double *)buf)[i] = v[i];
    }
    return adj_leaf_view(t, dt, ndim, shape, buf, 0, AT);
}

/* Zeros of x's shape and dtype, a constant. */
static adj_var *zeros_like(adj_tape *t, adj_var *x)
{
    int64_t shape[ADJ_MAX_DIMS];
    int nd = adj_ndim(x);
    for (int k = 0; k < nd; k++)
        shape[k] = adj_dim(x, k);
    return adj_leaf_at(t, adj_var_dtype(x), nd, shape, NULL, 0, AT);
}

/* ------------------------------------------------- softmax and friends */

/*
 * Over the axes in mask (kept as size 1): the maximum m, detached (its
 * gradient cancels exactly: every result below is invariant to it), the
 * shifted d = x - m and s = sum exp(d).  An empty reduction has no
 * maximum: m is then 0.
 */
typedef struct shifted {
    adj_var *m, *d, *s;
} shifted;

static shifted shift(adj_var *x, uint32_t mask)
{
    int axes[ADJ_MAX_DIMS], n = 0;
    bool empty = false;
    for (int k = 0; k < adj_ndim(x); k++)
        if (mask & (1u << k)) {
            axes[n++] = k;
            empty |= adj_dim(x, k) == 0;
        }
    adj_tape *t = adj_var_tape(x);
    shifted r;
    r.m = empty ? cst(t, adj_var_dtype(x), 0.0)
                : adj_detach_at(adj_max_axes_at(x, n, axes, 1, AT), AT);
    r.d = adj_sub_at(x, r.m, AT);
    r.s = adj_sum_axes_at(adj_exp_at(r.d, AT), n, axes, 1, AT);
    return r;
}

/* softmax (log: log-softmax) of x along the axes in mask */
static adj_var *softmax_comp(adj_var *x, uint32_t mask, bool log)
{
    shifted r = shift(x, mask);
    return log ? adj_sub_at(r.d, adj_log_at(r.s, AT), AT)
               : adj_div_at(adj_exp_at(r.d, AT), r.s, AT);
}

/* along the last axis; a 0-D x as one element */
static adj_var *softmax_last(adj_var *y, bool log)
{
    adj_var *x = adj_input(y, 0);
    if (x->ndim == 0) {
        adj_var *x1 = adj_reshape_at(x, 1, (int64_t[]){1}, AT);
        return adj_reshape_at(softmax_comp(x1, 1u, log), 0, (int64_t[]){1}, AT);
    }
    return softmax_comp(x, 1u << (x->ndim - 1), log);
}

adj_var *adj_decomp_softmax(adj_var *y) { return softmax_last(y, false); }
adj_var *adj_decomp_log_softmax(adj_var *y) { return softmax_last(y, true); }

adj_var *adj_decomp_softmax_axis(adj_var *y)
{
    int keep, ddof;
    return softmax_comp(adj_input(y, 0), adj_reduce_axes_of(y, &keep, &ddof), false);
}

adj_var *adj_decomp_log_softmax_axis(adj_var *y)
{
    int keep, ddof;
    return softmax_comp(adj_input(y, 0), adj_reduce_axes_of(y, &keep, &ddof), true);
}

/* r (x's rank, the reduced axes of size 1) reshaped to y's shape */
static adj_var *to_shape_of(adj_var *r, const adj_var *y)
{
    return adj_reshape_at(r, y->ndim, adj_cold(y)->shape, AT);
}

/* y = m + log sum exp(x - m) */
adj_var *adj_decomp_logsumexp_axis(adj_var *y)
{
    int keep, ddof;
    shifted r = shift(adj_input(y, 0), adj_reduce_axes_of(y, &keep, &ddof));
    return to_shape_of(adj_add_at(r.m, adj_log_at(r.s, AT), AT), y);
}

/* y = sum (x - mean)^2 / (N - ddof), two passes as the kernel */
adj_var *adj_decomp_var_axis(adj_var *y)
{
    int keep, ddof, axes[ADJ_MAX_DIMS], n = 0;
    adj_var *x = adj_input(y, 0);
    uint32_t mask = adj_reduce_axes_of(y, &keep, &ddof);
    double count = 1;
    for (int k = 0; k < x->ndim; k++)
        if (mask & (1u << k)) {
            axes[n++] = k;
            count *= (double)adj_cold(x)->shape[k];
        }
    adj_var *c = adj_sub_at(x, adj_mean_axes_at(x, n, axes, 1, AT), AT);
    adj_var *ss = adj_sum_axes_at(adj_square_at(c, AT), n, axes, 1, AT);
    return to_shape_of(adj_scale_at(ss, 1.0 / (count - ddof), AT), y);
}

/* ------------------------------------------------------------- losses */

/* -mean_r ls[r, label_r] for log-probabilities ls (rows, k), weighted:
 * w (rows, 1) constant or NULL, divided by count */
static adj_var *nll(adj_var *ls, adj_var *labels, adj_var *w, double count)
{
    adj_var *picked = adj_gather_at(ls, 1, labels, AT);
    if (w)
        picked = adj_mul_at(picked, w, AT);
    return adj_scale_at(adj_sum_at(picked, AT), -1.0 / count, AT);
}

/* C = mean_r (log sum_j exp(z_rj) - z_r,label) */
adj_var *adj_decomp_softmax_ce(adj_var *y)
{
    adj_var *z = adj_input(y, 0);
    adj_tape *t = tape_of(y);
    int64_t k = z->ndim ? adj_cold(z)->shape[z->ndim - 1] : 1;
    int64_t rows = k ? (int64_t)adj_cold(z)->numel / k : 0;
    if (rows == 0)
        return adj_mean_at(z, AT); /* NaN, as the op */
    adj_var *z2 = adj_reshape_at(z, 2, (int64_t[]){rows, k}, AT);
    adj_var *lab = adj_index_at(t, 2, (int64_t[]){rows, 1}, ADJ_ATTR(y, adj_attr_labels)->labels, AT);
    return nll(softmax_comp(z2, 2u, true), lab, NULL, (double)rows);
}

/* L = mean over the kept rows of (log sum_j exp(z_rj) - z_r,t_r): ignored
 * rows pick class 0 with weight 0 */
adj_var *adj_decomp_cross_entropy(adj_var *y)
{
    adj_var *z = adj_input(y, 0), *tg = adj_input(y, 1);
    adj_tape *t = tape_of(y);
    int64_t k = adj_cold(z)->shape[z->ndim - 1];
    int64_t rows = (int64_t)adj_cold(tg)->numel;
    int ignore = adj_cross_entropy_ignore(y);
    int32_t *lab = adj_arena_alloc(t, (size_t)rows * sizeof(int32_t) + 1);
    double *w = adj_arena_alloc(t, (size_t)rows * sizeof(double) + 1);
    if (!lab || !w)
        return t->inert;
    adj_var *tc = adj_contiguous_at(tg, AT);
    if (failed(y))
        return t->inert;
    const int32_t *tv = adj_data(tc);
    double count = 0;
    for (int64_t r = 0; r < rows; r++) {
        bool kept = tv[r] != ignore;
        lab[r] = kept ? tv[r] : 0;
        w[r] = kept ? 1.0 : 0.0;
        count += w[r];
    }
    const int64_t shape[2] = {rows, 1};
    adj_var *z2 = adj_reshape_at(z, 2, (int64_t[]){rows, k}, AT);
    return nll(softmax_comp(z2, 2u, true), adj_index_view_at(t, 2, shape, lab, AT),
               cst_array(t, (adj_dtype)y->dtype, 2, shape, w, (size_t)rows), count);
}

/* L = mean((a - b)^2) */
adj_var *adj_decomp_mse(adj_var *y)
{
    return adj_mean_at(adj_square_at(adj_sub_at(adj_input(y, 0), adj_input(y, 1), AT), AT), AT);
}

/* L = mean(softplus(z) - z t): max(z, 0) + log(1 + e^-|z|) is softplus(z) */
adj_var *adj_decomp_bce_logits(adj_var *y)
{
    adj_var *z = adj_input(y, 0), *tg = adj_input(y, 1);
    return adj_mean_at(adj_sub_at(adj_softplus_at(z, AT), adj_mul_at(z, tg, AT), AT), AT);
}

/* ----------------------------------------------------- indexing, dropout */

/* Y = E[idx]: the rows picked by the flattened indices, reshaped */
adj_var *adj_decomp_embedding(adj_var *y)
{
    adj_var *e = adj_input(y, 0), *idx = adj_input(y, 1);
    adj_var *flat = adj_reshape_at(idx, 1, (int64_t[]){(int64_t)adj_cold(idx)->numel}, AT);
    return to_shape_of(adj_index_select_at(e, 0, flat, AT), y);
}

/* y = x * (mask * scale), the mask a constant of the node's dtype */
adj_var *adj_decomp_dropout(adj_var *y)
{
    adj_var *x = adj_input(y, 0);
    adj_tape *t = tape_of(y);
    const adj_dropout_attr *a = ADJ_ATTR(y, adj_dropout_attr);
    size_t n = adj_cold(x)->numel;
    double *m = n ? malloc(n * sizeof(double)) : NULL;
    if (n && !m) {
        adj_tape_fail(t, ADJ_ENOMEM, "adj_backward_ex: out of memory for dropout's mask");
        return t->inert;
    }
    for (size_t i = 0; i < n; i++)
        m[i] = a->mask[i] ? a->scale : 0.0;
    adj_var *c = cst_array(t, (adj_dtype)y->dtype, x->ndim, adj_cold(x)->shape, m, n);
    free(m);
    return adj_mul_at(x, c, AT);
}

/* dx = scatter_add(0, axis, idx, dy); the indices take none */
bool adj_vjp_gather(adj_var *y, adj_var *gy, adj_var **gin)
{
    adj_var *x = adj_input(y, 0);
    int axis = ADJ_ATTR(y, adj_attr_axis)->axis;
    gin[0] = gin[1] = NULL;
    if (x->flags & ADJ_F_GRAD)
        gin[0] = adj_scatter_add_at(zeros_like(tape_of(y), x), axis, adj_input(y, 1), gy, AT);
    return !failed(y);
}

/* dx = dy; dsrc = gather(dy, axis, idx) */
bool adj_vjp_scatter_add(adj_var *y, adj_var *gy, adj_var **gin)
{
    adj_var *x = adj_input(y, 0), *src = adj_input(y, 2);
    int axis = ADJ_ATTR(y, adj_attr_axis)->axis;
    gin[0] = gin[1] = gin[2] = NULL;
    if (x->flags & ADJ_F_GRAD)
        gin[0] = gy;
    if (src->flags & ADJ_F_GRAD)
        gin[2] = adj_gather_at(gy, axis, adj_input(y, 1), AT);
    return !failed(y);
}

/* dx = scatter_add(0, axis, idx repeated to dy's shape, dy) */
bool adj_vjp_index_select(adj_var *y, adj_var *gy, adj_var **gin)
{
    adj_var *x = adj_input(y, 0), *idx = adj_input(y, 1);
    int axis = ADJ_ATTR(y, adj_attr_axis)->axis;
    gin[0] = gin[1] = NULL;
    if (!(x->flags & ADJ_F_GRAD))
        return true;
    int64_t shape[ADJ_MAX_DIMS];
    for (int k = 0; k < y->ndim; k++)
        shape[k] = k == axis ? adj_cold(y)->shape[k] : 1;
    adj_var *col = adj_reshape_at(idx, y->ndim, shape, AT);
    adj_var *full = adj_expand_at(col, y->ndim, adj_cold(y)->shape, AT);
    gin[0] = adj_scatter_add_at(zeros_like(tape_of(y), x), axis, full, gy, AT);
    return !failed(y);
}

/* ------------------------------------------------------ normalisation */

/* x normalised over the axes in [from, ndim): (x - mean) / sqrt(var + eps),
 * or x / sqrt(mean(x^2) + eps) without centering */
static adj_var *normalise(adj_var *x, int from, double eps, bool center)
{
    int axes[ADJ_MAX_DIMS], n = 0;
    for (int k = from; k < adj_ndim(x); k++)
        axes[n++] = k;
    adj_var *c = center ? adj_sub_at(x, adj_mean_axes_at(x, n, axes, 1, AT), AT) : x;
    adj_var *v = adj_mean_axes_at(adj_square_at(c, AT), n, axes, 1, AT);
    adj_var *e = cst(adj_var_tape(x), adj_var_dtype(x), eps);
    return adj_div_at(c, adj_sqrt_at(adj_add_at(v, e, AT), AT), AT);
}

/* y * w + b, each optional (NULL), reshaped to `shape` (ndim dims) first */
static adj_var *affine(adj_var *y, adj_var *w, adj_var *b, int ndim, const int64_t *shape)
{
    if (w)
        y = adj_mul_at(y, ndim ? adj_reshape_at(w, ndim, shape, AT) : w, AT);
    if (b)
        y = adj_add_at(y, ndim ? adj_reshape_at(b, ndim, shape, AT) : b, AT);
    return y;
}

adj_var *adj_decomp_layer_norm(adj_var *y)
{
    adj_var *x = adj_input(y, 0);
    const norm_attr *a = ADJ_ATTR(y, norm_attr);
    adj_var *h = normalise(x, x->ndim - a->arg, a->eps, true);
    return affine(h, adj_input(y, 1), adj_input(y, 2), 0, NULL);
}

adj_var *adj_decomp_rms_norm(adj_var *y)
{
    adj_var *x = adj_input(y, 0);
    adj_var *h = normalise(x, x->ndim - 1, ADJ_ATTR(y, norm_attr)->eps, false);
    return affine(h, adj_input(y, 1), NULL, 0, NULL);
}

/* (C) parameters as (C, 1, ..., 1) against x (N, C, ...) */
static int channel_shape(const adj_var *x, int64_t *shape)
{
    shape[0] = adj_cold(x)->shape[1];
    for (int k = 2; k < x->ndim; k++)
        shape[k - 1] = 1;
    return x->ndim - 1;
}

/* x (N, C, ...) as (N, G, rest), normalised over rest */
adj_var *adj_decomp_group_norm(adj_var *y)
{
    adj_var *x = adj_input(y, 0);
    const norm_attr *a = ADJ_ATTR(y, norm_attr);
    int64_t nb = adj_cold(x)->shape[0], g = a->arg;
    int64_t rest = nb != 0 && g != 0 ? (int64_t)adj_cold(x)->numel / (nb * g) : 0;
    adj_var *x3 = adj_reshape_at(x, 3, (int64_t[]){nb, g, rest}, AT);
    adj_var *h = to_shape_of(normalise(x3, 2, a->eps, true), y);
    int64_t cs[ADJ_MAX_DIMS];
    int nd = channel_shape(x, cs);
    return affine(h, adj_input(y, 1), adj_input(y, 2), nd, cs);
}

/* the batch's statistics over every axis but 1, or the node's running
 * ones as constants */
adj_var *adj_decomp_batch_norm(adj_var *y)
{
    adj_var *x = adj_input(y, 0);
    adj_tape *t = tape_of(y);
    int batch;
    double eps;
    const double *st = adj_batch_norm_stats(y, &batch, &eps);
    int64_t cs[ADJ_MAX_DIMS];
    int nd = channel_shape(x, cs);
    adj_var *h;
    if (batch) {
        int axes[ADJ_MAX_DIMS], n = 0;
        for (int k = 0; k < x->ndim; k++)
            if (k != 1)
                axes[n++] = k;
        adj_var *c = adj_sub_at(x, adj_mean_axes_at(x, n, axes, 1, AT), AT);
        adj_var *v = adj_mean_axes_at(adj_square_at(c, AT), n, axes, 1, AT);
        h = adj_div_at(c, adj_sqrt_at(adj_add_at(v, cst(t, (adj_dtype)y->dtype, eps), AT), AT), AT);
    } else {
        size_t c = (size_t)cs[0];
        double *mr = malloc(2 * c * sizeof(double) + 1);
        if (!mr) {
            adj_tape_fail(t, ADJ_ENOMEM, "adj_backward_ex: out of memory for batch_norm's statistics");
            return t->inert;
        }
        for (size_t i = 0; i < c; i++) {
            mr[i] = st[3 * i];
            mr[c + i] = st[3 * i + 1];
        }
        adj_var *mean = cst_array(t, (adj_dtype)y->dtype, nd, cs, mr, c);
        adj_var *rstd = cst_array(t, (adj_dtype)y->dtype, nd, cs, mr + c, c);
        free(mr);
        h = adj_mul_at(adj_sub_at(x, mean, AT), rstd, AT);
    }
    return affine(h, adj_input(y, 1), adj_input(y, 2), nd, cs);
}

/* ------------------------------------------------------------ attention */

/*
 * O = softmax(masked_fill(scale Q Kᵀ, dropped, -inf)) V with the products
 * as broadcast multiplies summed over D and S (so the batch dimensions
 * broadcast as the op's do).  A query row with no kept key keeps every
 * key in the softmax and is then multiplied by 0: its output and its
 * gradients are 0, as the op's.
 */
adj_var *adj_decomp_scaled_dot_product_attention(adj_var *y)
{
    adj_var *q = adj_input(y, 0), *k = adj_input(y, 1), *v = adj_input(y, 2), *mask = adj_input(y, 3);
    adj_tape *t = tape_of(y);
    adj_dtype dt = (adj_dtype)y->dtype;
    int causal;
    double scale = adj_attention_params(y, &causal);
    int64_t tq = adj_cold(q)->shape[q->ndim - 2], d = adj_cold(q)->shape[q->ndim - 1];
    int64_t sk = adj_cold(k)->shape[k->ndim - 2];
    if (scale == 0)
        scale = 1.0 / sqrt((double)d);
    adj_var *prod = adj_mul_at(adj_unsqueeze_at(q, -2, AT), adj_unsqueeze_at(k, -3, AT), AT);
    adj_var *s = adj_scale_at(adj_sum_axes_at(prod, 1, (int[]){-1}, 0, AT), scale, AT);
    adj_var *keep = NULL, *zero = cst(t, dt, 0.0);
    if (mask)
        keep = adj_gt_at(mask, zero, AT);
    if (causal) {
        size_t n = (size_t)(tq * sk);
        double *tri = malloc(n * sizeof(double) + 1);
        if (!tri) {
            adj_tape_fail(t, ADJ_ENOMEM, "adj_backward_ex: out of memory for attention's mask");
            return t->inert;
        }
        for (int64_t i = 0; i < tq; i++)
            for (int64_t j = 0; j < sk; j++)
                tri[i * sk + j] = j <= i;
        adj_var *c = cst_array(t, dt, 2, (int64_t[]){tq, sk}, tri, n);
        free(tri);
        keep = keep ? adj_mul_at(keep, c, AT) : c;
    }
    adj_var *rows = NULL;
    if (keep) {
        rows = sk ? adj_max_axes_at(keep, 1, (int[]){-1}, 1, AT) : NULL;
        adj_var *all = rows ? adj_maximum_at(keep, adj_eq_at(rows, zero, AT), AT) : keep;
        s = adj_masked_fill_at(s, adj_eq_at(all, zero, AT), -INFINITY, AT);
    }
    adj_var *p = softmax_comp(s, 1u << (adj_ndim(s) - 1), false);
    if (rows)
        p = adj_mul_at(p, rows, AT);
    adj_var *pv = adj_mul_at(adj_unsqueeze_at(p, -1, AT), adj_unsqueeze_at(v, -3, AT), AT);
    return adj_sum_axes_at(pv, 1, (int[]){-2}, 0, AT);
}
