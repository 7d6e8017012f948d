/*
 * Layouts, the N-d iterator and the strided kernels of src/tensor, alone.
 *
 * Every view transform is compared with a naive twin that materialises
 * the view element by element from multi-indices; the iterator with a
 * plain row-major multi-index walk; copy, accumulate and the broadcast
 * reduction with loops that decode every element's index.  Slice bounds
 * are Python's slice.indices() values, written down.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include "tensor/iter.h"
#include "tensor/layout.h"
#include "tensor/strided.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------- naive references */

/* A dense row-major tensor of doubles. */
typedef struct dense {
    int ndim;
    int64_t shape[ADJ_MAX_DIMS];
    double *v;
} dense;

static int64_t numel_of(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int k = 0; k < ndim; k++)
        n *= shape[k];
    return n;
}

/* Multi-index of row-major element e. */
static void unravel(int64_t e, int ndim, const int64_t *shape, int64_t *idx)
{
    for (int k = ndim - 1; k >= 0; k--) {
        idx[k] = shape[k] ? e % shape[k] : 0;
        e = shape[k] ? e / shape[k] : 0;
    }
}

static int64_t ravel(int ndim, const int64_t *shape, const int64_t *idx)
{
    int64_t e = 0;
    for (int k = 0; k < ndim; k++)
        e = e * shape[k] + idx[k];
    return e;
}

static int64_t offset_of(const adj_layout *l, const int64_t *idx)
{
    int64_t o = l->offset;
    for (int k = 0; k < l->ndim; k++)
        o += idx[k] * l->stride[k];
    return o;
}

/* The view l of storage s, materialised. */
static dense gather(const double *s, const adj_layout *l)
{
    dense d = {.ndim = l->ndim};
    memcpy(d.shape, l->shape, sizeof d.shape);
    int64_t n = numel_of(l->ndim, l->shape);
    d.v = malloc((size_t)(n ? n : 1) * sizeof *d.v);
    int64_t idx[ADJ_MAX_DIMS] = {0};
    for (int64_t e = 0; e < n; e++) {
        unravel(e, l->ndim, l->shape, idx);
        d.v[e] = s[offset_of(l, idx)];
    }
    return d;
}

static dense dense_new(int ndim, const int64_t *shape)
{
    dense d = {.ndim = ndim};
    memcpy(d.shape, shape, (size_t)ndim * sizeof *shape);
    int64_t n = numel_of(ndim, shape);
    d.v = calloc((size_t)(n ? n : 1), sizeof *d.v);
    return d;
}

static void assert_same(const dense *a, const dense *b)
{
    ck_assert_int_eq(a->ndim, b->ndim);
    for (int k = 0; k < a->ndim; k++)
        ck_assert_int_eq(a->shape[k], b->shape[k]);
    int64_t n = numel_of(a->ndim, a->shape);
    for (int64_t e = 0; e < n; e++)
        ck_assert_msg(a->v[e] == b->v[e], "element %lld: %g != %g", (long long)e, a->v[e],
                      b->v[e]);
}

/* Storage 0, 1, 2, ... of n elements: every value names its position. */
static double *iota(int64_t n)
{
    double *s = malloc((size_t)n * sizeof *s);
    for (int64_t i = 0; i < n; i++)
        s[i] = (double)i;
    return s;
}

/* Naive twins of the views, on a dense tensor. */
static dense naive_permute(const dense *x, const int *perm)
{
    int64_t shape[ADJ_MAX_DIMS], idx[ADJ_MAX_DIMS], xi[ADJ_MAX_DIMS];
    for (int k = 0; k < x->ndim; k++)
        shape[k] = x->shape[perm[k]];
    dense y = dense_new(x->ndim, shape);
    for (int64_t e = 0; e < numel_of(y.ndim, y.shape); e++) {
        unravel(e, y.ndim, y.shape, idx);
        for (int k = 0; k < x->ndim; k++)
            xi[perm[k]] = idx[k];
        y.v[e] = x->v[ravel(x->ndim, x->shape, xi)];
    }
    return y;
}

/* positions: the indices of axis kept, in order */
static dense naive_take(const dense *x, int axis, const int64_t *pos, int64_t npos)
{
    int64_t shape[ADJ_MAX_DIMS], idx[ADJ_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = npos;
    dense y = dense_new(x->ndim, shape);
    for (int64_t e = 0; e < numel_of(y.ndim, y.shape); e++) {
        unravel(e, y.ndim, y.shape, idx);
        idx[axis] = pos[idx[axis]];
        y.v[e] = x->v[ravel(x->ndim, x->shape, idx)];
    }
    return y;
}

/* y of shape (ndim, shape) with y[idx] = x[idx mod broadcast] */
static dense naive_bcast(const dense *x, int ndim, const int64_t *shape)
{
    dense y = dense_new(ndim, shape);
    int64_t idx[ADJ_MAX_DIMS] = {0}, xi[ADJ_MAX_DIMS] = {0};
    for (int64_t e = 0; e < numel_of(ndim, shape); e++) {
        unravel(e, ndim, shape, idx);
        for (int k = 0; k < x->ndim; k++) {
            int64_t i = idx[ndim - x->ndim + k];
            xi[k] = x->shape[k] == 1 ? 0 : i;
        }
        y.v[e] = x->v[ravel(x->ndim, x->shape, xi)];
    }
    return y;
}

/* ------------------------------------------------------------ the tests */

START_TEST(contig_and_numel)
{
    adj_layout l;
    adj_layout_contig(&l, 3, (int64_t[]){2, 3, 4});
    ck_assert_int_eq(l.stride[0], 12);
    ck_assert_int_eq(l.stride[1], 4);
    ck_assert_int_eq(l.stride[2], 1);
    ck_assert_int_eq(adj_layout_numel(&l), 24);
    ck_assert(adj_layout_is_contig(&l));
    adj_layout t;
    ck_assert(adj_layout_transpose(&l, 0, -1, &t));
    ck_assert(!adj_layout_is_contig(&t));
    adj_layout_contig(&l, 0, NULL);
    ck_assert_int_eq(adj_layout_numel(&l), 1);
    ck_assert(adj_layout_is_contig(&l));
    /* size-1 dimensions may have any stride */
    adj_layout o = {.ndim = 3, .shape = {2, 1, 3}, .stride = {3, 99, 1}};
    ck_assert(adj_layout_is_contig(&o));
    adj_layout z = {.ndim = 2, .shape = {0, 3}, .stride = {7, 5}};
    ck_assert(adj_layout_is_contig(&z));
    ck_assert_int_eq(adj_layout_numel(&z), 0);
}
END_TEST

START_TEST(broadcast_shapes)
{
    int n;
    int64_t out[ADJ_MAX_DIMS];
    ck_assert(adj_bcast_shape(3, (int64_t[]){4, 5, 6}, 1, (int64_t[]){6}, &n, out));
    ck_assert_int_eq(n, 3);
    ck_assert(out[0] == 4 && out[1] == 5 && out[2] == 6);
    ck_assert(adj_bcast_shape(2, (int64_t[]){2, 3}, 2, (int64_t[]){2, 1}, &n, out));
    ck_assert(n == 2 && out[0] == 2 && out[1] == 3);
    ck_assert(adj_bcast_shape(2, (int64_t[]){1, 1}, 0, NULL, &n, out));
    ck_assert(n == 2 && out[0] == 1 && out[1] == 1);
    ck_assert(adj_bcast_shape(2, (int64_t[]){1, 3}, 3, (int64_t[]){4, 1, 1}, &n, out));
    ck_assert(n == 3 && out[0] == 4 && out[1] == 1 && out[2] == 3);
    /* a size-1 against a 0 gives 0 */
    ck_assert(adj_bcast_shape(2, (int64_t[]){1, 3}, 2, (int64_t[]){0, 1}, &n, out));
    ck_assert(n == 2 && out[0] == 0 && out[1] == 3);
    ck_assert(!adj_bcast_shape(2, (int64_t[]){2, 3}, 2, (int64_t[]){3, 2}, &n, out));
    ck_assert(!adj_bcast_shape(1, (int64_t[]){3}, 1, (int64_t[]){4}, &n, out));
    ck_assert(!adj_bcast_shape(1, (int64_t[]){2}, 1, (int64_t[]){0}, &n, out));

    adj_layout b;
    adj_layout_contig(&b, 2, (int64_t[]){1, 3});
    int64_t st[ADJ_MAX_DIMS];
    ck_assert(adj_bcast_strides(&b, 3, (int64_t[]){4, 2, 3}, st));
    ck_assert(st[0] == 0 && st[1] == 0 && st[2] == 1);
    ck_assert(!adj_bcast_strides(&b, 2, (int64_t[]){2, 4}, st));
    ck_assert(!adj_bcast_strides(&b, 1, (int64_t[]){3}, st));
}
END_TEST

START_TEST(slice_bounds_as_python)
{
    /* n, start, stop, step -> Python's slice(start, stop, step).indices(n)
     * start and length of range(*...) */
    static const int64_t cases[][6] = {
        {5, 1, 4, 1, 1, 3},       {5, -1, -6, -1, 4, 5},  {5, -100, 100, 2, 0, 3},
        {5, 100, -100, -2, 4, 3}, {5, 3, 1, 1, 3, 0},     {5, -2, INT64_MAX, 1, 3, 2},
        {0, 0, 10, 1, 0, 0},      {7, 6, 0, -3, 6, 2},    {1, 0, 1, 5, 0, 1},
        {5, 0, 5, 7, 0, 1},       {5, 4, -6, -1, 4, 5},   {10, -3, -1, 1, 7, 2},
        {10, 2, 9, 3, 2, 3},      {5, INT64_MAX, INT64_MIN, -1, 4, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int64_t *c = cases[i];
        int64_t first, len;
        ck_assert(adj_slice_norm(c[0], c[1], c[2], c[3], &first, &len));
        ck_assert_msg(len == c[5], "case %zu: len %lld", i, (long long)len);
        if (len > 0)
            ck_assert_msg(first == c[4], "case %zu: first %lld", i, (long long)first);
    }
    int64_t f, l;
    ck_assert(!adj_slice_norm(5, 0, 5, 0, &f, &l));
    ck_assert(!adj_slice_norm(5, 0, 5, INT64_MIN, &f, &l));
}
END_TEST

/* A few views composed, each checked against its naive twin. */
START_TEST(views_against_naive)
{
    const int64_t shape[4] = {2, 3, 4, 5};
    double *s = iota(120);
    adj_layout l;
    adj_layout_contig(&l, 4, shape);
    dense x = gather(s, &l);

    /* permute */
    const int perm[4] = {2, 0, 3, 1};
    adj_layout p;
    ck_assert(adj_layout_permute(&l, perm, &p));
    dense yp = gather(s, &p), np = naive_permute(&x, perm);
    assert_same(&yp, &np);
    ck_assert(!adj_layout_permute(&l, (const int[]){0, 0, 1, 2}, &p));
    ck_assert(!adj_layout_permute(&l, (const int[]){0, 1, 2, 4}, &p));

    /* transpose of the permuted view (negative axes) == permute again */
    adj_layout t;
    ck_assert(adj_layout_transpose(&p, -1, 0, &t));
    dense yt = gather(s, &t);
    dense nt = naive_permute(&np, (const int[]){3, 1, 2, 0});
    assert_same(&yt, &nt);
    ck_assert(!adj_layout_transpose(&l, 0, 4, &t));

    /* slice with a negative step of the permuted view, axis 2 (size 5):
     * 4:-6:-2 -> 4, 2, 0 */
    adj_layout sl;
    ck_assert(adj_layout_slice(&p, 2, 4, -6, -2, &sl));
    dense ys = gather(s, &sl), ns = naive_take(&np, 2, (const int64_t[]){4, 2, 0}, 3);
    assert_same(&ys, &ns);
    /* step 2 forwards along axis -1 (size 3): 0, 2 */
    adj_layout sl2;
    ck_assert(adj_layout_slice(&sl, -1, 0, 3, 2, &sl2));
    dense ys2 = gather(s, &sl2), ns2 = naive_take(&ns, 3, (const int64_t[]){0, 2}, 2);
    assert_same(&ys2, &ns2);
    ck_assert(!adj_layout_slice(&l, 0, 0, 1, 0, &sl));
    ck_assert(!adj_layout_slice(&l, -5, 0, 1, 1, &sl));
    /* an empty slice */
    ck_assert(adj_layout_slice(&l, 1, 2, 2, 1, &sl));
    ck_assert_int_eq(sl.shape[1], 0);
    ck_assert_int_eq(adj_layout_numel(&sl), 0);

    /* select: index -1 of axis 1 of the sliced view */
    adj_layout se;
    ck_assert(adj_layout_select(&sl2, 1, -1, &se));
    ck_assert_int_eq(se.ndim, 3);
    dense yse = gather(s, &se);
    dense nse0 = naive_take(&ns2, 1, (const int64_t[]){1}, 1);
    nse0.ndim = 3;
    nse0.shape[1] = nse0.shape[2];
    nse0.shape[2] = nse0.shape[3];
    assert_same(&yse, &nse0);
    ck_assert(!adj_layout_select(&l, 1, 3, &se));
    ck_assert(!adj_layout_select(&l, 1, -4, &se));

    /* unsqueeze, squeeze round trip at every position */
    for (int a = -5; a <= 4; a++) {
        adj_layout u, q;
        ck_assert(adj_layout_unsqueeze(&sl2, a, &u));
        ck_assert_int_eq(u.ndim, 5);
        ck_assert_int_eq(u.shape[a < 0 ? a + 5 : a], 1);
        dense yu = gather(s, &u);
        ck_assert_int_eq(numel_of(yu.ndim, yu.shape), numel_of(ns2.ndim, ns2.shape));
        for (int64_t e = 0; e < numel_of(yu.ndim, yu.shape); e++)
            ck_assert(yu.v[e] == ns2.v[e]);
        ck_assert(adj_layout_squeeze(&u, a < 0 ? a + 5 : a, &q));
        dense yq = gather(s, &q);
        assert_same(&yq, &ns2);
        free(yu.v);
        free(yq.v);
    }
    adj_layout q;
    ck_assert(!adj_layout_squeeze(&l, 0, &q));
    ck_assert(!adj_layout_unsqueeze(&l, 6, &q));

    free(s);
    free(x.v);
    free(yp.v);
    free(np.v);
    free(yt.v);
    free(nt.v);
    free(ys.v);
    free(ns.v);
    free(ys2.v);
    free(ns2.v);
    free(yse.v);
    free(nse0.v);
}
END_TEST

START_TEST(expand_against_naive)
{
    double *s = iota(6);
    adj_layout l;
    adj_layout_contig(&l, 3, (int64_t[]){2, 1, 3});
    dense x = gather(s, &l);
    adj_layout e;
    const int64_t to[4] = {4, 2, 5, 3};
    ck_assert(adj_layout_expand(&l, 4, to, &e));
    ck_assert_int_eq(e.stride[0], 0);
    ck_assert_int_eq(e.stride[2], 0);
    dense ye = gather(s, &e), ne = naive_bcast(&x, 4, to);
    assert_same(&ye, &ne);
    /* -1 keeps a size */
    ck_assert(adj_layout_expand(&l, 3, (int64_t[]){-1, 7, -1}, &e));
    ck_assert(e.shape[0] == 2 && e.shape[1] == 7 && e.shape[2] == 3);
    ck_assert(!adj_layout_expand(&l, 3, (int64_t[]){3, 1, 3}, &e));
    ck_assert(!adj_layout_expand(&l, 2, (int64_t[]){1, 3}, &e));
    ck_assert(!adj_layout_expand(&l, 4, (int64_t[]){-1, 2, 1, 3}, &e));
    free(s);
    free(x.v);
    free(ye.v);
    free(ne.v);
}
END_TEST

/* reshape: a view exactly when the merged runs are self-contiguous, and
 * then it reads the elements in row-major order. */
static void check_reshape(const adj_layout *l, const double *s, int ndim, const int64_t *shape,
                          bool view)
{
    adj_layout r;
    bool ok = adj_layout_reshape(l, ndim, shape, &r);
    ck_assert_msg(ok == view, "reshape of (%lld,...) strides (%lld,...) to %d dims (%lld,...): %d",
                  (long long)l->shape[0], (long long)l->stride[0], ndim,
                  (long long)(ndim ? shape[0] : 0), ok);
    if (!ok)
        return;
    dense a = gather(s, l), b = gather(s, &r);
    ck_assert_int_eq(numel_of(a.ndim, a.shape), numel_of(b.ndim, b.shape));
    for (int64_t e = 0; e < numel_of(a.ndim, a.shape); e++)
        ck_assert(a.v[e] == b.v[e]);
    free(a.v);
    free(b.v);
}

START_TEST(reshape_views)
{
    double *s = iota(120);
    adj_layout l, t, p, sl, u;
    adj_layout_contig(&l, 3, (int64_t[]){2, 3, 4});
    check_reshape(&l, s, 1, (int64_t[]){24}, true);
    check_reshape(&l, s, 4, (int64_t[]){2, 3, 2, 2}, true);
    check_reshape(&l, s, 2, (int64_t[]){4, 6}, true);
    check_reshape(&l, s, 0, NULL, false); /* 24 elements do not fit 0-D */
    ck_assert(adj_layout_transpose(&l, 1, 2, &t)); /* (2,4,3) */
    check_reshape(&t, s, 2, (int64_t[]){2, 12}, false);
    check_reshape(&t, s, 2, (int64_t[]){8, 3}, false);
    check_reshape(&t, s, 4, (int64_t[]){2, 2, 2, 3}, true);
    check_reshape(&t, s, 4, (int64_t[]){1, 2, 4, 3}, true);
    ck_assert(adj_layout_permute(&l, (const int[]){1, 0, 2}, &p)); /* (3,2,4) */
    check_reshape(&p, s, 2, (int64_t[]){3, 8}, false);
    check_reshape(&p, s, 2, (int64_t[]){6, 4}, false);
    check_reshape(&p, s, 3, (int64_t[]){3, 2, 4}, true);
    /* every other row: (2,3,4)[:, ::2] is (2,2,4) with strides (12,8,1):
     * rows start at 0, 8, 12, 20, so only the rows of 4 stay whole */
    ck_assert(adj_layout_slice(&l, 1, 0, 3, 2, &sl));
    check_reshape(&sl, s, 2, (int64_t[]){4, 4}, false);
    check_reshape(&sl, s, 3, (int64_t[]){2, 2, 4}, true);
    check_reshape(&sl, s, 1, (int64_t[]){16}, false);
    check_reshape(&sl, s, 4, (int64_t[]){2, 2, 2, 2}, true);
    /* a size-1 dimension with an odd stride does not get in the way */
    adj_layout_contig(&u, 3, (int64_t[]){3, 1, 4});
    u.stride[1] = 77;
    check_reshape(&u, s, 1, (int64_t[]){12}, true);
    /* a one-element tensor reshapes to anything of one element */
    adj_layout one;
    adj_layout_contig(&one, 0, NULL);
    one.offset = 5;
    check_reshape(&one, s, 3, (int64_t[]){1, 1, 1}, true);
    /* flatten */
    adj_layout f;
    ck_assert(adj_layout_flatten(&l, 1, 2, &f));
    ck_assert(f.ndim == 2 && f.shape[0] == 2 && f.shape[1] == 12);
    ck_assert(!adj_layout_flatten(&t, 1, 2, &f));
    ck_assert(!adj_layout_flatten(&t, 0, 1, &f));
    /* (2,3,4)[:, :, ::2] has strides (12,4,2): its first two axes merge */
    adj_layout ev;
    ck_assert(adj_layout_slice(&l, 2, 0, 4, 2, &ev));
    ck_assert(adj_layout_flatten(&ev, 0, 1, &f));
    ck_assert(f.ndim == 2 && f.shape[0] == 6 && f.shape[1] == 2);
    ck_assert(f.stride[0] == 4 && f.stride[1] == 2);
    ck_assert(!adj_layout_flatten(&l, 2, 1, &f));
    ck_assert(adj_layout_flatten(&one, 0, -1, &f));
    ck_assert(f.ndim == 1 && f.shape[0] == 1);
    free(s);
}
END_TEST

START_TEST(shape_inference)
{
    int64_t out[ADJ_MAX_DIMS];
    ck_assert(adj_shape_infer(24, 3, (int64_t[]){2, -1, 4}, out));
    ck_assert_int_eq(out[1], 3);
    ck_assert(adj_shape_infer(0, 2, (int64_t[]){0, 5}, out));
    ck_assert(!adj_shape_infer(0, 2, (int64_t[]){0, -1}, out));
    ck_assert(!adj_shape_infer(24, 2, (int64_t[]){-1, -1}, out));
    ck_assert(!adj_shape_infer(24, 2, (int64_t[]){5, -1}, out));
    ck_assert(!adj_shape_infer(24, 2, (int64_t[]){5, 5}, out));
    ck_assert(!adj_shape_infer(24, 2, (int64_t[]){-2, -12}, out));
    ck_assert(adj_shape_infer(1, 0, NULL, out));
}
END_TEST

/* The iterator visits every element once, in row-major order, with the
 * offsets a multi-index walk gives. */
static void check_iter(int ndim, const int64_t *shape, int nops, const int64_t *const *st,
                       int64_t want_runs)
{
    adj_iter it;
    adj_iter_init(&it, ndim, shape, nops, st);
    int64_t n = numel_of(ndim, shape);
    if (want_runs >= 0)
        ck_assert_int_eq(it.runs, want_runs);
    ck_assert_int_eq(it.runs * it.inner, n);
    int64_t idx[ADJ_MAX_DIMS] = {0}, e = 0;
    for (int64_t r0 = 0; r0 < it.runs; r0 += 3) {
        /* start from seek at every third run, step with next otherwise */
        adj_iter_pos p;
        adj_iter_seek(&it, r0, &p);
        for (int64_t r = r0; r < r0 + 3 && r < it.runs; r++, adj_iter_next(&it, &p))
            for (int64_t i = 0; i < it.inner; i++, e++) {
                unravel(e, ndim, shape, idx);
                for (int o = 0; o < nops; o++) {
                    int64_t want = 0;
                    for (int k = 0; k < ndim; k++)
                        want += idx[k] * st[o][k];
                    ck_assert_int_eq(p.off[o] + i * it.istride[o], want);
                }
            }
    }
    ck_assert_int_eq(e, n);
}

START_TEST(iterator_walks)
{
    /* contiguous: one run */
    int64_t c3[3] = {12, 4, 1};
    check_iter(3, (int64_t[]){2, 3, 4}, 1, (const int64_t *[]){c3}, 1);
    /* contiguous output, transposed input (4,3) of a (3,4) */
    int64_t c2[2] = {3, 1}, t2[2] = {1, 4};
    check_iter(2, (int64_t[]){4, 3}, 2, (const int64_t *[]){c2, t2}, 4);
    /* (B,T,C) + (C): one run of C per row, B and T merged */
    int64_t y3[3] = {15, 5, 1}, b3[3] = {0, 0, 1};
    check_iter(3, (int64_t[]){2, 3, 5}, 2, (const int64_t *[]){y3, b3}, 6);
    /* (2,1,3) broadcast on the middle axis: no merging across it */
    int64_t y3b[3] = {12, 3, 1}, a3[3] = {3, 0, 1};
    check_iter(3, (int64_t[]){2, 4, 3}, 3, (const int64_t *[]){y3b, a3, y3b}, 8);
    /* size-1 dimensions vanish, reversed strides, 8 dimensions */
    int64_t s8[8] = {-1, 0, 7, 7, 1, 0, 2, 3};
    int64_t c8[8];
    const int64_t sh8[8] = {2, 1, 3, 1, 2, 2, 1, 2};
    adj_contig_strides(8, sh8, c8);
    check_iter(8, sh8, 2, (const int64_t *[]){c8, s8}, -1);
    /* empty and 0-D */
    check_iter(2, (int64_t[]){3, 0}, 1, (const int64_t *[]){c2}, 0);
    check_iter(0, NULL, 2, (const int64_t *[]){c2, t2}, 1);
}
END_TEST

/* copy and accumulate through views against element-by-element loops,
 * both dtypes, above and below the parallel grain. */
static void check_copy_acc(adj_dtype dt, const int64_t *base_shape, int nbase)
{
    int64_t n = numel_of(nbase, base_shape);
    double *s = iota(n);
    adj_layout l, v, t;
    adj_layout_contig(&l, nbase, base_shape);
    ck_assert(adj_layout_transpose(&l, 0, -1, &t));
    ck_assert(adj_layout_slice(&t, 0, -1, INT64_MIN, -2, &v)); /* reversed, every other */
    dense want = gather(s, &v);
    int64_t m = numel_of(v.ndim, v.shape);
    size_t es = dt == ADJ_F64 ? 8 : 4;
    void *src = malloc((size_t)n * es), *dst = malloc((size_t)m * es);
    for (int64_t i = 0; i < n; i++) {
        if (dt == ADJ_F64)
            ((double *)src)[i] = s[i];
        else
            ((float *)src)[i] = (float)s[i];
    }
    adj_layout dl;
    adj_layout_contig(&dl, v.ndim, v.shape);
    adj_strided_copy(es, dst, &dl, src, &v);
    for (int64_t i = 0; i < m; i++) {
        double got = dt == ADJ_F64 ? ((double *)dst)[i] : ((float *)dst)[i];
        ck_assert(got == want.v[i]);
    }
    /* accumulate the contiguous values back through the view, twice, with
     * alpha 1 then -0.5: the visited elements get 1.5 times their own
     * value added, the others nothing */
    adj_strided_acc(dt, src, &v, dst, &dl, 1.0);
    adj_strided_acc(dt, src, &v, dst, &dl, -0.5);
    double *hit = calloc((size_t)n, sizeof *hit);
    int64_t idx[ADJ_MAX_DIMS] = {0};
    for (int64_t e = 0; e < m; e++) {
        unravel(e, v.ndim, v.shape, idx);
        hit[offset_of(&v, idx)] += 1;
    }
    for (int64_t i = 0; i < n; i++) {
        double got = dt == ADJ_F64 ? ((double *)src)[i] : ((float *)src)[i];
        double w = s[i] * (1 + 0.5 * hit[i]);
        ck_assert_msg(fabs(got - w) <= 1e-6 * fabs(w), "element %lld: %g != %g", (long long)i,
                      got, w);
    }
    free(hit);
    free(src);
    free(dst);
    free(s);
    free(want.v);
}

START_TEST(copy_and_accumulate)
{
    for (int d = 0; d < 2; d++) {
        adj_dtype dt = d ? ADJ_F64 : ADJ_F32;
        check_copy_acc(dt, (int64_t[]){3, 4, 5}, 3);
        check_copy_acc(dt, (int64_t[]){7, 1}, 2);
        check_copy_acc(dt, (int64_t[]){300, 400}, 2); /* over the pool's grain */
    }
}
END_TEST

/* An expanded destination receives sums. */
START_TEST(accumulate_into_repeats)
{
    double x[3] = {0, 0, 0};
    double g[12];
    for (int i = 0; i < 12; i++)
        g[i] = i + 1;
    adj_layout xl, e, gl;
    adj_layout_contig(&xl, 2, (int64_t[]){1, 3});
    ck_assert(adj_layout_expand(&xl, 2, (int64_t[]){4, 3}, &e));
    adj_layout_contig(&gl, 2, (int64_t[]){4, 3});
    adj_strided_acc(ADJ_F64, x, &e, g, &gl, 1.0);
    ck_assert(x[0] == 1 + 4 + 7 + 10 && x[1] == 2 + 5 + 8 + 11 && x[2] == 3 + 6 + 9 + 12);
    /* and along the inner run */
    double y[4] = {0};
    adj_layout_contig(&xl, 2, (int64_t[]){4, 1});
    ck_assert(adj_layout_expand(&xl, 2, (int64_t[]){4, 3}, &e));
    adj_strided_acc(ADJ_F64, y, &e, g, &gl, 2.0);
    ck_assert(y[0] == 12 && y[1] == 30 && y[2] == 48 && y[3] == 66);
}
END_TEST

/* dx += alpha sum over broadcast dims, against a loop that decodes each
 * element's index. */
static void check_reduce(adj_dtype dt, int yn, const int64_t *yshape, int xn,
                         const int64_t *xshape, bool transposed_src)
{
    int64_t ny = numel_of(yn, yshape), nx = numel_of(xn, xshape);
    adj_layout sl;
    adj_layout_contig(&sl, yn, yshape);
    int64_t sshape[ADJ_MAX_DIMS];
    memcpy(sshape, yshape, (size_t)yn * sizeof *sshape);
    if (transposed_src && yn >= 2) {
        /* the source is stored transposed in its last two axes */
        int64_t tmp = sshape[yn - 1];
        sshape[yn - 1] = sshape[yn - 2];
        sshape[yn - 2] = tmp;
        adj_layout_contig(&sl, yn, sshape);
        adj_layout_transpose(&sl, -1, -2, &sl);
    }
    size_t es = dt == ADJ_F64 ? 8 : 4;
    void *src = malloc((size_t)(ny ? ny : 1) * es), *dx = malloc((size_t)(nx ? nx : 1) * es);
    double *want = malloc((size_t)(nx ? nx : 1) * sizeof *want);
    adj_rng r;
    adj_rng_seed(&r, 7);
    for (int64_t i = 0; i < ny; i++) {
        double v = adj_rng_uniform_range(&r, -1, 1);
        if (dt == ADJ_F64)
            ((double *)src)[i] = v;
        else
            ((float *)src)[i] = (float)v;
    }
    for (int64_t i = 0; i < nx; i++) {
        want[i] = 0.25 * (double)i;
        if (dt == ADJ_F64)
            ((double *)dx)[i] = want[i];
        else
            ((float *)dx)[i] = (float)want[i];
    }
    int64_t idx[ADJ_MAX_DIMS] = {0}, xi[ADJ_MAX_DIMS] = {0};
    for (int64_t e = 0; e < ny; e++) {
        unravel(e, yn, yshape, idx);
        for (int k = 0; k < xn; k++)
            xi[k] = xshape[k] == 1 ? 0 : idx[yn - xn + k];
        double v = dt == ADJ_F64 ? ((double *)src)[offset_of(&sl, idx)]
                                 : ((float *)src)[offset_of(&sl, idx)];
        want[ravel(xn, xshape, xi)] += -2.0 * v;
    }
    size_t ns = adj_reduce_scratch(dt, nx);
    double *scratch = ns ? malloc(ns * sizeof *scratch) : NULL;
    adj_reduce_bcast(dt, dx, xn, xshape, src, &sl, -2.0, scratch);
    for (int64_t i = 0; i < nx; i++) {
        double got = dt == ADJ_F64 ? ((double *)dx)[i] : ((float *)dx)[i];
        double tol = dt == ADJ_F64 ? 1e-12 * (1 + fabs(want[i])) : 1e-6 * (1 + fabs(want[i]));
        ck_assert_msg(fabs(got - want[i]) <= tol, "element %lld: %.17g != %.17g", (long long)i,
                      got, want[i]);
    }
    free(scratch);
    free(src);
    free(dx);
    free(want);
}

START_TEST(broadcast_reduction)
{
    for (int d = 0; d < 2; d++) {
        adj_dtype dt = d ? ADJ_F64 : ADJ_F32;
        for (int tr = 0; tr < 2; tr++) {
            check_reduce(dt, 3, (int64_t[]){4, 5, 6}, 1, (int64_t[]){6}, tr);     /* bias */
            check_reduce(dt, 3, (int64_t[]){4, 5, 6}, 3, (int64_t[]){4, 1, 6}, tr);
            check_reduce(dt, 3, (int64_t[]){4, 5, 6}, 3, (int64_t[]){4, 5, 1}, tr);
            check_reduce(dt, 3, (int64_t[]){4, 5, 6}, 2, (int64_t[]){5, 1}, tr);
            check_reduce(dt, 3, (int64_t[]){4, 5, 6}, 0, NULL, tr);               /* all */
            check_reduce(dt, 2, (int64_t[]){2, 3}, 2, (int64_t[]){2, 3}, tr);     /* none */
            check_reduce(dt, 3, (int64_t[]){1, 2, 3}, 2, (int64_t[]){2, 3}, tr);  /* lead 1 */
            check_reduce(dt, 2, (int64_t[]){3, 700}, 1, (int64_t[]){700}, tr);    /* scratch */
            check_reduce(dt, 2, (int64_t[]){0, 4}, 1, (int64_t[]){4}, tr);        /* empty */
            check_reduce(dt, 4, (int64_t[]){2, 3, 4, 5}, 4, (int64_t[]){1, 3, 1, 5}, tr);
        }
    }
}
END_TEST

/* Summing 1 + 1000 ones onto 1e8 in float loses every one; the reduction
 * sums in double and rounds once (100001000 is a float). */
START_TEST(reduction_in_double)
{
    for (int inner = 0; inner < 2; inner++) {
        int64_t rows = 1001, cols = inner ? 1 : 4;
        float *src = malloc((size_t)(rows * cols) * sizeof *src);
        for (int64_t i = 0; i < rows * cols; i++)
            src[i] = i < cols ? 1e8f : 1.0f;
        float dx[4] = {0, 0, 0, 0};
        adj_layout sl;
        adj_layout_contig(&sl, 2, (int64_t[]){rows, cols});
        adj_reduce_bcast(ADJ_F32, dx, 1, (int64_t[]){cols}, src, &sl, 1.0, NULL);
        for (int64_t c = 0; c < cols; c++)
            ck_assert_float_eq(dx[c], 100001000.0f);
        free(src);
    }
}
END_TEST

static Suite *tensor_suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, contig_and_numel);
    tcase_add_test(tc, broadcast_shapes);
    tcase_add_test(tc, slice_bounds_as_python);
    tcase_add_test(tc, views_against_naive);
    tcase_add_test(tc, expand_against_naive);
    tcase_add_test(tc, reshape_views);
    tcase_add_test(tc, shape_inference);
    tcase_add_test(tc, iterator_walks);
    tcase_add_test(tc, copy_and_accumulate);
    tcase_add_test(tc, accumulate_into_repeats);
    tcase_add_test(tc, broadcast_reduction);
    tcase_add_test(tc, reduction_in_double);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(tensor_suite)
