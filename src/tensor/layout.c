/*
 * Layouts and the view transforms on them (see layout.h).
 */
#include "tensor/layout.h"

#include <string.h>

void adj_contig_strides(int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t s = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        stride[k] = s;
        s *= shape[k] > 0 ? shape[k] : 1;
    }
}

void adj_layout_contig(adj_layout *l, int ndim, const int64_t *shape)
{
    memset(l, 0, sizeof *l);
    l->ndim = ndim;
    for (int k = 0; k < ndim; k++)
        l->shape[k] = shape[k];
    adj_contig_strides(ndim, shape, l->stride);
}

int64_t adj_layout_numel(const adj_layout *l)
{
    int64_t n = 1;
    for (int k = 0; k < l->ndim; k++)
        n *= l->shape[k];
    return n;
}

bool adj_layout_is_contig(const adj_layout *l)
{
    for (int k = 0; k < l->ndim; k++)
        if (l->shape[k] == 0)
            return true;
    int64_t s = 1;
    for (int k = l->ndim - 1; k >= 0; k--) {
        if (l->shape[k] != 1 && l->stride[k] != s)
            return false;
        s *= l->shape[k];
    }
    return true;
}

int adj_axis_norm(int64_t axis, int ndim)
{
    if (axis < -(int64_t)ndim || axis >= ndim)
        return -1;
    return (int)(axis < 0 ? axis + ndim : axis);
}

bool adj_bcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                     int64_t *out)
{
    int n = na > nb ? na : nb;
    int64_t r[ADJ_MAX_DIMS];
    if (n > ADJ_MAX_DIMS)
        return false;
    for (int k = 0; k < n; k++) {
        /* dimension k of the result, counted from the right as n-1-k */
        int ia = na - n + k, ib = nb - n + k;
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da == db || db == 1)
            r[k] = da;
        else if (da == 1)
            r[k] = db;
        else
            return false;
    }
    *nout = n;
    memcpy(out, r, (size_t)n * sizeof *r);
    return true;
}

bool adj_bcast_strides(const adj_layout *l, int ndim, const int64_t *shape, int64_t *stride)
{
    if (l->ndim > ndim)
        return false;
    for (int k = 0; k < ndim; k++) {
        int i = l->ndim - ndim + k;
        if (i < 0) {
            stride[k] = 0;
        } else if (l->shape[i] == shape[k]) {
            stride[k] = shape[k] == 1 ? 0 : l->stride[i];
        } else if (l->shape[i] == 1) {
            stride[k] = 0;
        } else {
            return false;
        }
    }
    return true;
}

bool adj_layout_transpose(const adj_layout *l, int64_t a, int64_t b, adj_layout *out)
{
    int ia = adj_axis_norm(a, l->ndim), ib = adj_axis_norm(b, l->ndim);
    if (ia < 0 || ib < 0)
        return false;
    adj_layout r = *l;
    r.shape[ia] = l->shape[ib];
    r.stride[ia] = l->stride[ib];
    r.shape[ib] = l->shape[ia];
    r.stride[ib] = l->stride[ia];
    *out = r;
    return true;
}

bool adj_layout_permute(const adj_layout *l, const int *perm, adj_layout *out)
{
    if (!perm && l->ndim > 0)
        return false;
    bool seen[ADJ_MAX_DIMS] = {false};
    adj_layout r = *l;
    for (int k = 0; k < l->ndim; k++) {
        int p = adj_axis_norm(perm[k], l->ndim);
        if (p < 0 || seen[p])
            return false;
        seen[p] = true;
        r.shape[k] = l->shape[p];
        r.stride[k] = l->stride[p];
    }
    *out = r;
    return true;
}

bool adj_slice_norm(int64_t n, int64_t start, int64_t stop, int64_t step, int64_t *first,
                    int64_t *len)
{
    if (step == 0 || step == INT64_MIN || n < 0)
        return false;
    /* the range start and stop are clamped to: [0, n] forwards, [-1, n-1]
     * backwards (-1 meaning "before the first element") */
    int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? n : n - 1;
    if (start < 0)
        start += n;     /* no overflow: n >= 0 */
    if (stop < 0)
        stop += n;
    start = start < lower ? lower : start > upper ? upper : start;
    stop = stop < lower ? lower : stop > upper ? upper : stop;
    int64_t m = 0;
    if (step > 0 && stop > start)
        m = (stop - start - 1) / step + 1;
    else if (step < 0 && start > stop)
        m = (start - stop - 1) / -step + 1;
    *first = start;
    *len = m;
    return true;
}

bool adj_layout_slice(const adj_layout *l, int64_t axis, int64_t start, int64_t stop,
                      int64_t step, adj_layout *out)
{
    int a = adj_axis_norm(axis, l->ndim);
    int64_t first, len;
    if (a < 0 || !adj_slice_norm(l->shape[a], start, stop, step, &first, &len))
        return false;
    adj_layout r = *l;
    r.shape[a] = len;
    if (len > 0) {
        r.offset += first * l->stride[a];
        /* |step| < n when len > 1, so the product stays within the
         * extent the input already spans */
        r.stride[a] = len > 1 ? l->stride[a] * step : l->stride[a];
    }
    *out = r;
    return true;
}

bool adj_layout_select(const adj_layout *l, int64_t axis, int64_t index, adj_layout *out)
{
    int a = adj_axis_norm(axis, l->ndim);
    if (a < 0)
        return false;
    int64_t n = l->shape[a];
    if (index < -n || index >= n)
        return false;
    if (index < 0)
        index += n;
    adj_layout r = *l;
    r.offset += index * l->stride[a];
    for (int k = a; k + 1 < l->ndim; k++) {
        r.shape[k] = l->shape[k + 1];
        r.stride[k] = l->stride[k + 1];
    }
    r.ndim--;
    r.shape[r.ndim] = 0;
    r.stride[r.ndim] = 0;
    *out = r;
    return true;
}

bool adj_layout_expand(const adj_layout *l, int ndim, const int64_t *shape, adj_layout *out)
{
    if (ndim < l->ndim || ndim > ADJ_MAX_DIMS || (ndim > 0 && !shape))
        return false;
    adj_layout r;
    memset(&r, 0, sizeof r);
    r.ndim = ndim;
    r.offset = l->offset;
    for (int k = 0; k < ndim; k++) {
        int i = l->ndim - ndim + k;
        int64_t want = shape[k];
        if (i < 0) {
            if (want < 0)
                return false;
            r.shape[k] = want;
            r.stride[k] = 0;
        } else if (want == -1 || want == l->shape[i]) {
            r.shape[k] = l->shape[i];
            r.stride[k] = l->stride[i];
        } else if (l->shape[i] == 1 && want >= 0) {
            r.shape[k] = want;
            r.stride[k] = 0;
        } else {
            return false;
        }
    }
    *out = r;
    return true;
}

bool adj_layout_unsqueeze(const adj_layout *l, int64_t axis, adj_layout *out)
{
    int a = adj_axis_norm(axis, l->ndim + 1);
    if (a < 0 || l->ndim >= ADJ_MAX_DIMS)
        return false;
    adj_layout r = *l;
    for (int k = l->ndim; k > a; k--) {
        r.shape[k] = l->shape[k - 1];
        r.stride[k] = l->stride[k - 1];
    }
    r.shape[a] = 1;
    r.stride[a] = a < l->ndim ? l->stride[a] * (l->shape[a] > 0 ? l->shape[a] : 1) : 1;
    r.ndim++;
    *out = r;
    return true;
}

bool adj_layout_squeeze(const adj_layout *l, int64_t axis, adj_layout *out)
{
    int a = adj_axis_norm(axis, l->ndim);
    if (a < 0 || l->shape[a] != 1)
        return false;
    return adj_layout_select(l, a, 0, out);
}

bool adj_shape_infer(int64_t numel, int ndim, const int64_t *shape, int64_t *out)
{
    int infer = -1;
    int64_t known = 1;
    for (int k = 0; k < ndim; k++) {
        if (shape[k] == -1) {
            if (infer >= 0)
                return false;
            infer = k;
        } else if (shape[k] < 0) {
            return false;
        } else {
            if (shape[k] > 0 && known > INT64_MAX / shape[k])
                return false;
            known *= shape[k];
        }
    }
    for (int k = 0; k < ndim; k++)
        out[k] = shape[k];
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            return false;
        out[infer] = numel / known;
        return true;
    }
    return known == numel;
}

bool adj_layout_reshape(const adj_layout *l, int ndim, const int64_t *shape, adj_layout *out)
{
    if (ndim < 0 || ndim > ADJ_MAX_DIMS)
        return false;
    adj_layout r;
    memset(&r, 0, sizeof r);
    r.ndim = ndim;
    r.offset = l->offset;
    for (int k = 0; k < ndim; k++)
        r.shape[k] = shape[k];
    int64_t numel = adj_layout_numel(l);
    if (numel == 0 || l->ndim == 0) {
        /* no element to place, or one: any strides do */
        adj_contig_strides(ndim, shape, r.stride);
        *out = r;
        return true;
    }
    /*
     * Walk l's dimensions from the last, in chunks that are contiguous
     * with respect to themselves (stride[k] = stride[k+1] shape[k+1],
     * size-1 dimensions skipped); the new dimensions must split the chunks
     * exactly, each new dimension taking strides within its chunk.
     */
    int v = ndim - 1;
    int64_t base = l->stride[l->ndim - 1], tnum = 1, vnum = 1;
    for (int k = l->ndim - 1; k >= 0; k--) {
        tnum *= l->shape[k];
        bool chunk_ends = k == 0 || (l->shape[k - 1] != 1 && l->stride[k - 1] != tnum * base);
        if (!chunk_ends)
            continue;
        while (v >= 0 && (vnum < tnum || shape[v] == 1)) {
            r.stride[v] = vnum * base;
            vnum *= shape[v];
            v--;
        }
        if (vnum != tnum)
            return false;
        if (k > 0) {
            base = l->stride[k - 1];
            tnum = 1;
            vnum = 1;
        }
    }
    if (v != -1)
        return false;
    *out = r;
    return true;
}

bool adj_layout_flatten(const adj_layout *l, int64_t from, int64_t to, adj_layout *out)
{
    if (l->ndim == 0) {
        /* a 0-D tensor flattens to one element, as in PyTorch */
        if ((from != 0 && from != -1) || (to != 0 && to != -1))
            return false;
        int64_t one = 1;
        return adj_layout_reshape(l, 1, &one, out);
    }
    int f = adj_axis_norm(from, l->ndim), t = adj_axis_norm(to, l->ndim);
    if (f < 0 || t < 0 || f > t)
        return false;
    int64_t shape[ADJ_MAX_DIMS];
    int n = 0;
    for (int k = 0; k < f; k++)
        shape[n++] = l->shape[k];
    int64_t m = 1;
    for (int k = f; k <= t; k++)
        m *= l->shape[k];
    shape[n++] = m;
    for (int k = t + 1; k < l->ndim; k++)
        shape[n++] = l->shape[k];
    return adj_layout_reshape(l, n, shape, out);
}
