/*
 * Strided copy, accumulate and broadcast reduction (see strided.h).
 */
#include "tensor/strided.h"

#include "core/pool.h"
#include "tensor/accum.h"
#include "tensor/iter.h"
#include "tensor/transpose.h"

#include <stdbool.h>
#include <string.h>

/* One loop over the runs [lo, hi) of a two-operand iterator. */
typedef struct walk2 {
    adj_iter it;
    char *dst;
    const char *src;
    int64_t doff, soff;
    size_t esize;
    int dtype;
    double alpha;
} walk2;

/* Grain of a strided loop, in runs: about ADJ_PAR_GRAIN_MAP elements. */
static size_t run_grain(const adj_iter *it)
{
    size_t g = ADJ_PAR_GRAIN_MAP / (size_t)(it->inner > 0 ? it->inner : 1);
    return g > 0 ? g : 1;
}

#define COPY_RUNS(T)                                                           \
    do {                                                                       \
        T *d_ = (T *)w->dst + w->doff;                                         \
        const T *s_ = (const T *)w->src + w->soff;                             \
        const int64_t n_ = w->it.inner, ds_ = w->it.istride[0], ss_ = w->it.istride[1]; \
        for (size_t r_ = lo; r_ < hi; r_++, adj_iter_next(&w->it, &p)) {       \
            T *dd_ = d_ + p.off[0];                                            \
            const T *sp_ = s_ + p.off[1];                                      \
            if (ds_ == 1 && ss_ == 1)                                          \
                memcpy(dd_, sp_, (size_t)n_ * sizeof(T));                      \
            else if (ds_ == 1)                                                 \
                for (int64_t i_ = 0; i_ < n_; i_++)                            \
                    dd_[i_] = sp_[i_ * ss_];                                   \
            else                                                               \
                for (int64_t i_ = 0; i_ < n_; i_++)                            \
                    dd_[i_ * ds_] = sp_[i_ * ss_];                             \
        }                                                                      \
    } while (0)

static void copy_range(void *ctx, size_t lo, size_t hi)
{
    const walk2 *w = ctx;
    adj_iter_pos p;
    adj_iter_seek(&w->it, (int64_t)lo, &p);
    if (w->esize == 8)
        COPY_RUNS(uint64_t);
    else
        COPY_RUNS(uint32_t);
}

static void init2(walk2 *w, const adj_layout *dl, const adj_layout *sl)
{
    const int64_t *st[2] = {dl->stride, sl->stride};
    adj_iter_init(&w->it, dl->ndim, dl->shape, 2, st);
    w->doff = dl->offset;
    w->soff = sl->offset;
}

/*
 * The tiled walk of two layouts whose fastest axes differ (a transposed
 * copy): walking either in the other's order touches one page per
 * element, so the loop goes over tiles of TILE2 x TILE2 elements of axes
 * a (dst's fastest) and b (src's fastest), every other axis an outer
 * index.  Each tile writes only its own elements of dst.
 */
#define TILE2 32

typedef struct tile2 {
    char *dst;
    const char *src;
    size_t esize;
    int dtype;
    bool acc;
    double alpha;
    int nd;
    int64_t oshape[ADJ_MAX_DIMS], ods[ADJ_MAX_DIMS], oss[ADJ_MAX_DIMS];
    int64_t na, nb, dsa, dsb, ssa, ssb, doff, soff, tiles_a, tiles_b;
} tile2;

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

/* The axis of size > 1 with the smallest |stride|, or -1. */
static int fastest(const adj_layout *l, int skip)
{
    int b = -1;
    for (int d = 0; d < l->ndim; d++)
        if (d != skip && l->shape[d] > 1 && (b < 0 || iabs64(l->stride[d]) < iabs64(l->stride[b])))
            b = d;
    return b;
}

static bool tile2_init(tile2 *w, const adj_layout *dl, const adj_layout *sl)
{
    const int a = fastest(dl, -1);
    if (a < 0 || dl->stride[a] == 0 || iabs64(sl->stride[a]) <= 8)
        return false;
    const int b = fastest(sl, a);
    if (b < 0 || iabs64(sl->stride[b]) >= iabs64(sl->stride[a]) || dl->stride[b] == 0)
        return false;
    w->nd = 0;
    for (int d = 0; d < dl->ndim; d++) {
        if (d == a || d == b || dl->shape[d] == 1)
            continue;
        if (dl->stride[d] == 0)
            return false; /* dst repeats elements */
        w->oshape[w->nd] = dl->shape[d];
        w->ods[w->nd] = dl->stride[d];
        w->oss[w->nd++] = sl->stride[d];
    }
    w->na = dl->shape[a];
    w->nb = dl->shape[b];
    w->dsa = dl->stride[a];
    w->dsb = dl->stride[b];
    w->ssa = sl->stride[a];
    w->ssb = sl->stride[b];
    w->doff = dl->offset;
    w->soff = sl->offset;
    w->tiles_a = (w->na + TILE2 - 1) / TILE2;
    w->tiles_b = (w->nb + TILE2 - 1) / TILE2;
    return true;
}

#define TILE2_LOOP(T, OP)                                                      \
    do {                                                                       \
        T *d_ = (T *)w->dst + doff;                                            \
        const T *s_ = (const T *)w->src + soff;                                \
        const T al_ = (T)w->alpha;                                             \
        (void)al_;                                                             \
        for (int64_t i_ = b0; i_ < b1; i_++)                                   \
            for (int64_t j_ = a0; j_ < a1; j_++)                               \
                d_[j_ * w->dsa + i_ * w->dsb] OP s_[j_ * w->ssa + i_ * w->ssb]; \
    } while (0)

static void tile2_range(void *ctx, size_t lo, size_t hi)
{
    const tile2 *w = ctx;
    for (size_t u = lo; u < hi; u++) {
        int64_t q = (int64_t)u;
        const int64_t ia = q % w->tiles_a;
        q /= w->tiles_a;
        const int64_t ib = q % w->tiles_b;
        q /= w->tiles_b;
        int64_t doff = w->doff, soff = w->soff;
        for (int d = w->nd - 1; d >= 0; d--) {
            const int64_t i = q % w->oshape[d];
            q /= w->oshape[d];
            doff += i * w->ods[d];
            soff += i * w->oss[d];
        }
        const int64_t a0 = ia * TILE2, b0 = ib * TILE2;
        const int64_t a1 = a0 + TILE2 < w->na ? a0 + TILE2 : w->na;
        const int64_t b1 = b0 + TILE2 < w->nb ? b0 + TILE2 : w->nb;
        if (w->dsa == 1 && w->ssb == 1) {
            /* both fastest axes contiguous: a plain tile transpose */
            const size_t es = w->esize;
            void *d = w->dst + (size_t)(doff + b0 * w->dsb + a0) * es;
            const void *src = w->src + (size_t)(soff + a0 * w->ssa + b0) * es;
            if (w->acc)
                adj_transpose_tile_acc(w->dtype, w->alpha, d, w->dsb, src, w->ssa, a1 - a0, b1 - b0);
            else
                adj_transpose_tile(es, d, w->dsb, src, w->ssa, a1 - a0, b1 - b0);
            continue;
        }
        if (!w->acc && w->esize == 8)
            TILE2_LOOP(uint64_t, =);
        else if (!w->acc)
            TILE2_LOOP(uint32_t, =);
        else if (w->dtype == ADJ_F64)
            TILE2_LOOP(double, += al_ *);
        else
            TILE2_LOOP(float, += al_ *);
    }
}

static void tile2_run(tile2 *w)
{
    size_t units = (size_t)w->tiles_a * (size_t)w->tiles_b;
    for (int d = 0; d < w->nd; d++)
        units *= (size_t)w->oshape[d];
    size_t grain = ADJ_PAR_GRAIN_MAP / (TILE2 * TILE2);
    adj_par_for(units, grain ? grain : 1, tile2_range, w);
}

void adj_strided_copy(size_t esize, void *dst, const adj_layout *dl, const void *src,
                      const adj_layout *sl)
{
    tile2 tw = {.dst = dst, .src = src, .esize = esize};
    if (tile2_init(&tw, dl, sl)) {
        tile2_run(&tw);
        return;
    }
    walk2 w = {.dst = dst, .src = src, .esize = esize};
    init2(&w, dl, sl);
    if (w.it.runs > 0)
        adj_par_for((size_t)w.it.runs, run_grain(&w.it), copy_range, &w);
}

/* dst += alpha src over a run; ds = 0 sums the run first (in double). */
#define ACC_RUNS(T)                                                            \
    do {                                                                       \
        T *d_ = (T *)w->dst + w->doff;                                         \
        const T *s_ = (const T *)w->src + w->soff;                             \
        const int64_t n_ = w->it.inner, ds_ = w->it.istride[0], ss_ = w->it.istride[1]; \
        const T a_ = (T)w->alpha;                                              \
        for (size_t r_ = lo; r_ < hi; r_++, adj_iter_next(&w->it, &p)) {       \
            T *dd_ = d_ + p.off[0];                                            \
            const T *sp_ = s_ + p.off[1];                                      \
            if (ds_ == 0) {                                                    \
                double acc_ = 0;                                               \
                for (int64_t i_ = 0; i_ < n_; i_++)                            \
                    acc_ += (double)sp_[i_ * ss_];                             \
                *dd_ = (T)((double)*dd_ + w->alpha * acc_);                    \
            } else if (ds_ == 1 && ss_ == 1) {                                 \
                if (w->alpha == 1)                                             \
                    for (int64_t i_ = 0; i_ < n_; i_++)                        \
                        dd_[i_] += sp_[i_];                                    \
                else                                                           \
                    for (int64_t i_ = 0; i_ < n_; i_++)                        \
                        dd_[i_] += a_ * sp_[i_];                               \
            } else {                                                           \
                for (int64_t i_ = 0; i_ < n_; i_++)                            \
                    dd_[i_ * ds_] += a_ * sp_[i_ * ss_];                       \
            }                                                                  \
        }                                                                      \
    } while (0)

static void acc_range(void *ctx, size_t lo, size_t hi)
{
    const walk2 *w = ctx;
    adj_iter_pos p;
    adj_iter_seek(&w->it, (int64_t)lo, &p);
    if (w->dtype == ADJ_F64)
        ACC_RUNS(double);
    else
        ACC_RUNS(float);
}

/* Some dimension of size > 1 has stride 0: elements repeat. */
static bool repeats(const adj_layout *l)
{
    for (int k = 0; k < l->ndim; k++)
        if (l->shape[k] > 1 && l->stride[k] == 0)
            return true;
    return false;
}

void adj_strided_acc(int dtype, void *dst, const adj_layout *dl, const void *src,
                     const adj_layout *sl, double alpha)
{
    tile2 tw = {.dst = dst, .src = src, .esize = dtype == ADJ_F64 ? 8 : 4, .dtype = dtype,
                .acc = true, .alpha = alpha};
    if (tile2_init(&tw, dl, sl)) {
        tile2_run(&tw);
        return;
    }
    walk2 w = {.dst = dst, .src = src, .dtype = dtype, .alpha = alpha};
    init2(&w, dl, sl);
    if (w.it.runs <= 0)
        return;
    if (repeats(dl))
        acc_range(&w, 0, (size_t)w.it.runs);
    else
        adj_par_for((size_t)w.it.runs, run_grain(&w.it), acc_range, &w);
}

size_t adj_reduce_scratch(int dtype, int64_t xnumel)
{
    (void)dtype;
    return 2 * xnumel <= ADJ_REDUCE_STACK ? 0 : 2 * (size_t)xnumel;
}

/* hi/lo[ds-strided] += src over the runs: compensated double sums. */
#define REDUCE_RUNS(T)                                                         \
    do {                                                                       \
        const T *s_ = (const T *)src + sl->offset;                             \
        const int64_t n_ = it.inner, ds_ = it.istride[0], ss_ = it.istride[1]; \
        for (int64_t r_ = 0; r_ < it.runs; r_++, adj_iter_next(&it, &p)) {     \
            double *h_ = hi + p.off[0], *l_ = lo + p.off[0];                   \
            const T *sp_ = s_ + p.off[1];                                      \
            if (ds_ == 0) {                                                    \
                double th_ = 0, tl_ = 0;                                       \
                for (int64_t i_ = 0; i_ < n_; i_++)                            \
                    ADJ_SUM_ADD(th_, tl_, (double)sp_[i_ * ss_]);              \
                ADJ_SUM_ADD(*h_, *l_, th_);                                    \
                *l_ += tl_;                                                    \
            } else if (ds_ == 1 && ss_ == 1) {                                 \
                for (int64_t i_ = 0; i_ < n_; i_++)                            \
                    ADJ_SUM_ADD(h_[i_], l_[i_], (double)sp_[i_]);              \
            } else {                                                           \
                for (int64_t i_ = 0; i_ < n_; i_++)                            \
                    ADJ_SUM_ADD(h_[i_ * ds_], l_[i_ * ds_], (double)sp_[i_ * ss_]); \
            }                                                                  \
        }                                                                      \
    } while (0)

void adj_reduce_bcast(int dtype, void *dx, int xndim, const int64_t *xshape, const void *src,
                      const adj_layout *sl, double alpha, double *scratch)
{
    adj_layout xl;
    adj_layout_contig(&xl, xndim, xshape);
    int64_t xn = adj_layout_numel(&xl), sn = adj_layout_numel(sl);
    if (sn == 0 || xn == 0)
        return;
    if (xn == sn && xndim <= sl->ndim) {
        /* nothing is summed: same shape up to leading 1s */
        adj_layout dl = xl;
        adj_layout_reshape(&xl, sl->ndim, sl->shape, &dl);
        adj_strided_acc(dtype, dx, &dl, src, sl, alpha);
        return;
    }
    int64_t xs[ADJ_MAX_DIMS];
    if (!adj_bcast_strides(&xl, sl->ndim, sl->shape, xs))
        return; /* callers check shapes first */
    double stack[ADJ_REDUCE_STACK];
    double *hi = 2 * xn <= ADJ_REDUCE_STACK ? stack : scratch, *lo = hi + xn;
    memset(hi, 0, 2 * (size_t)xn * sizeof *hi);
    const int64_t *st[2] = {xs, sl->stride};
    adj_iter it;
    adj_iter_init(&it, sl->ndim, sl->shape, 2, st);
    adj_iter_pos p;
    adj_iter_seek(&it, 0, &p);
    if (dtype == ADJ_F64) {
        REDUCE_RUNS(double);
        double *d = dx;
        for (int64_t i = 0; i < xn; i++)
            d[i] += alpha * (hi[i] + lo[i]);
    } else {
        REDUCE_RUNS(float);
        float *d = dx;
        for (int64_t i = 0; i < xn; i++)
            d[i] = (float)((double)d[i] + alpha * (hi[i] + lo[i]));
    }
}

#define GATHER_RUNS(T)                                                         \
    do {                                                                       \
        T *d_ = dst;                                                           \
        const T *s_ = src;                                                     \
        while (n > 0) {                                                        \
            const int64_t m_ = it->inner - i0 < n ? it->inner - i0 : n;        \
            const T *sp_ = s_ + p.off[0] + i0 * st;                            \
            if (st == 1)                                                       \
                memcpy(d_, sp_, (size_t)m_ * sizeof(T));                       \
            else                                                               \
                for (int64_t i_ = 0; i_ < m_; i_++)                            \
                    d_[i_] = sp_[i_ * st];                                     \
            d_ += m_;                                                          \
            n -= m_;                                                           \
            i0 = 0;                                                            \
            adj_iter_next(it, &p);                                             \
        }                                                                      \
    } while (0)

void adj_iter_gather(const adj_iter *it, size_t esize, void *dst, const void *src, int64_t lo,
                     int64_t n)
{
    if (n <= 0 || it->runs == 0)
        return;
    const int64_t st = it->istride[0];
    int64_t i0 = lo % it->inner;
    adj_iter_pos p;
    adj_iter_seek(it, lo / it->inner, &p);
    if (esize == 8)
        GATHER_RUNS(uint64_t);
    else
        GATHER_RUNS(uint32_t);
}
