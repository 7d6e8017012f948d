/*
 * Strided copy, accumulate and broadcast reduction (see strided.h).
 */
#include "tensor/strided.h"

#include "core/pool.h"
#include "tensor/accum.h"
#include "tensor/iter.h"

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

void adj_strided_copy(size_t esize, void *dst, const adj_layout *dl, const void *src,
                      const adj_layout *sl)
{
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
