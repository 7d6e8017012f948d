/*
 * Binary elementwise ops with NumPy broadcasting: add, sub, mul, div,
 * maximum, minimum, and the comparisons eq, ne, lt, le, gt, ge (0/1 masks).
 *
 * y has the broadcast shape of a and b (tensor/layout.h).  Operands of
 * y's shape, stored contiguously (the common case), go through
 * adj_par_for a range of elements at a time: each range writes only its
 * own elements.  Any other combination walks y with the N-d iterator
 * (tensor/iter.h), reading each operand through its layout with stride 0
 * along the dimensions it is broadcast on; the inner loop has a version
 * for each of the usual inner strides (1 and 1, 1 and 0, 0 and 1) so it
 * vectorises.  In the backward, the adjoint of an operand of y's size is
 * accumulated in the same walk; the contributions to a broadcast
 * operand's adjoint are summed in the walk itself, in compensated double
 * (tensor/accum.h) in y's order, and added to the adjoint rounded once:
 * nothing of y's size is written.  A float operand that is one run of y
 * (a bias added to rows) is summed in plain double instead, by fixed
 * blocks of rows (a contiguous range of them per thread), the blocks
 * then added in order (BIN_WALK_BIAS_): as exact for float, and the bits
 * do not depend on the thread count.
 */
#include "core/pool.h"
#include "core/scalar.h"
#include "ops/dispatch.h"
#include "ops/graph.h"
#include "ops/cases.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "tensor/accum.h"
#include "tensor/iter.h"
#include "tensor/strided.h"

#include <string.h>

static adj_status shape_binary(adj_var *y, char *why, size_t n)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    int nd;
    if (!adj_bcast_shape(a->ndim, adj_cold(a)->shape, b->ndim, adj_cold(b)->shape, &nd,
                         adj_cold(y)->shape)) {
        snprintf(why, n, "shapes do not broadcast (aligned at the last dimension, each pair of "
                         "sizes must be equal or one of them 1)");
        return ADJ_ESHAPE;
    }
    y->ndim = (uint8_t)nd;
    return ADJ_OK;
}

/* Same shape, both contiguous: the flat range kernels apply. */
static bool flat(const adj_var *y)
{
    return adj_same_shape(y->in[0], y->in[1]) && adj_var_is_contig(y->in[0]) &&
           adj_var_is_contig(y->in[1]);
}

/*
 * The general walk over y.  Operands of the iterator: 0 y (contiguous;
 * also dy and the backward's contribution buffer), 1 a, 2 b (through
 * their layouts), and for forward mode 3 and 4, the tangents of a and b
 * (contiguous in a's and b's shapes).
 */
typedef struct bin_walk {
    adj_iter it;
    const adj_var *y;
    const char *A, *B;          /* value bases, offsets applied */
    const void *DY;             /* backward: y's adjoint */
    void *OUT;                  /* y, the contribution or y's tangent */
    const void *TA, *TB;        /* forward mode: the inputs' tangents */
    int which;                  /* backward: 0 da, 1 db */
    bool acc;                   /* backward: add to OUT (else store) */
    double *hi, *lo;            /* backward: a broadcast operand's sums */
    void *OUTA;                 /* backward of b broadcast: a's adjoint, done in b's walk */
    bool acca;                  /* add to OUTA (else store: it is fresh) */
    double *part;               /* float bias sums: block i's at + i * inner */
    int64_t brows;              /* runs per block */
} bin_walk;

static void walk_init(bin_walk *w, const adj_var *y, int nops)
{
    memset(w, 0, sizeof *w);
    w->y = y;
    const int64_t *shape = adj_cold(y)->shape;
    int nd = y->ndim;
    adj_layout la, lb, ta, tb;
    adj_var_layout(y->in[0], &la);
    adj_var_layout(y->in[1], &lb);
    int64_t st[5][ADJ_MAX_DIMS];
    adj_contig_strides(nd, shape, st[0]);
    adj_bcast_strides(&la, nd, shape, st[1]);
    adj_bcast_strides(&lb, nd, shape, st[2]);
    if (nops > 3) {
        adj_layout_contig(&ta, y->in[0]->ndim, adj_cold(y->in[0])->shape);
        adj_layout_contig(&tb, y->in[1]->ndim, adj_cold(y->in[1])->shape);
        adj_bcast_strides(&ta, nd, shape, st[3]);
        adj_bcast_strides(&tb, nd, shape, st[4]);
    }
    const int64_t *sp[5] = {st[0], st[1], st[2], st[3], st[4]};
    adj_iter_init(&w->it, nd, shape, nops, sp);
    size_t es = adj_dsize(y->dtype);
    w->A = (const char *)y->in[0]->value + (size_t)la.offset * es;
    w->B = (const char *)y->in[1]->value + (size_t)lb.offset * es;
}

/* Grain of the general walk, in runs. */
static size_t walk_grain(const bin_walk *w)
{
    size_t g = ADJ_PAR_GRAIN_MAP / (size_t)(w->it.inner > 0 ? w->it.inner : 1);
    return g ? g : 1;
}

/* Run the inner loop BODY over runs [lo_, hi_) of w_ with a_ and b_
 * pointing at the run's first a and b, in the version that fits their
 * inner strides; BODY reads A(i), B(i) and writes element i_ of y. */
#define WALK_RUNS_(T, BODY)                                                     \
    do {                                                                       \
        adj_iter_pos p_;                                                       \
        adj_iter_seek(&w_->it, (int64_t)lo_, &p_);                             \
        const int64_t n_ = w_->it.inner, as_ = w_->it.istride[1], bs_ = w_->it.istride[2]; \
        for (size_t r_ = lo_; r_ < hi_; r_++, adj_iter_next(&w_->it, &p_)) {   \
            const T *a_ = (const T *)w_->A + p_.off[1];                        \
            const T *b_ = (const T *)w_->B + p_.off[2];                        \
            const int64_t y0_ = p_.off[0];                                     \
            if (as_ == 1 && bs_ == 1) {                                        \
                for (int64_t i_ = 0; i_ < n_; i_++) {                          \
                    const T a = a_[i_], b = b_[i_];                            \
                    (void)a;                                                   \
                    (void)b;                                                   \
                    BODY;                                                      \
                }                                                              \
            } else if (as_ == 1 && bs_ == 0) {                                 \
                const T b = *b_;                                               \
                for (int64_t i_ = 0; i_ < n_; i_++) {                          \
                    const T a = a_[i_];                                        \
                    (void)a;                                                   \
                    (void)b;                                                   \
                    BODY;                                                      \
                }                                                              \
            } else if (as_ == 0 && bs_ == 1) {                                 \
                const T a = *a_;                                               \
                for (int64_t i_ = 0; i_ < n_; i_++) {                          \
                    const T b = b_[i_];                                        \
                    (void)a;                                                   \
                    (void)b;                                                   \
                    BODY;                                                      \
                }                                                              \
            } else {                                                           \
                for (int64_t i_ = 0; i_ < n_; i_++) {                          \
                    const T a = a_[i_ * as_], b = b_[i_ * bs_];                \
                    (void)a;                                                   \
                    (void)b;                                                   \
                    BODY;                                                      \
                }                                                              \
            }                                                                  \
        }                                                                      \
    } while (0)

#define BIN_WALK_FWD_(T, FWD)                                                   \
    do {                                                                       \
        T *Y_ = w_->OUT;                                                       \
        WALK_RUNS_(T, Y_[y0_ + i_] = (FWD));                                   \
    } while (0)

/* The contribution to da (which 0) or db (which 1), stored or added. */
#define BIN_WALK_BWD_(T, DA, DB)                                                \
    do {                                                                       \
        const T *Y_ = y_->value, *DY_ = w_->DY;                                \
        T *O_ = w_->OUT;                                                       \
        if (w_->which == 0 && w_->acc)                                         \
            WALK_RUNS_(T, const T y = Y_[y0_ + i_]; const T dy = DY_[y0_ + i_];   \
                       (void)y; O_[y0_ + i_] += (DA));                          \
        else if (w_->which == 0)                                               \
            WALK_RUNS_(T, const T y = Y_[y0_ + i_]; const T dy = DY_[y0_ + i_];   \
                       (void)y; O_[y0_ + i_] = (DA));                           \
        else if (w_->acc)                                                      \
            WALK_RUNS_(T, const T y = Y_[y0_ + i_]; const T dy = DY_[y0_ + i_];   \
                       (void)y; O_[y0_ + i_] += (DB));                          \
        else                                                                   \
            WALK_RUNS_(T, const T y = Y_[y0_ + i_]; const T dy = DY_[y0_ + i_];   \
                       (void)y; O_[y0_ + i_] = (DB));                           \
    } while (0)

#define BIN_WALK_TAN_(T, TAN)                                                   \
    do {                                                                       \
        const T *Y_ = y_->value, *TA_ = w_->TA, *TB_ = w_->TB;                 \
        T *O_ = w_->OUT;                                                       \
        const int64_t tas_ = w_->it.istride[3], tbs_ = w_->it.istride[4];      \
        WALK_RUNS_(T, const T y = Y_[y0_ + i_];                                \
                   const T da = TA_[p_.off[3] + i_ * tas_];                     \
                   const T db = TB_[p_.off[4] + i_ * tbs_];                     \
                   (void)y; O_[y0_ + i_] = (TAN));                              \
    } while (0)

/*
 * The adjoint of a broadcast operand k (which = k): its contributions are
 * summed straight into hi/lo (compensated double, one pair per element of
 * the operand, at the contiguous offsets of iterator operand 3 + k) in y's
 * order, so no array of y's size is written.  Where the operand's inner
 * stride is 1, the elements of a run are split over the pool by columns
 * [lo_, hi_): each element's sum still adds its terms in y's order, so the
 * result does not depend on the split.  Otherwise one call does all.
 */
#define BIN_WALK_RED_(T, D, DAF)                                                \
    do {                                                                       \
        const T *Y_ = y_->value, *DY_ = w_->DY;                                \
        const int gk_ = 3 + w_->which;                                         \
        const int64_t as_ = w_->it.istride[1], bs_ = w_->it.istride[2];        \
        const int64_t gs_ = w_->it.istride[gk_];                               \
        const int64_t c0_ = (int64_t)lo_, c1_ = (int64_t)hi_;                  \
        adj_iter_pos p_;                                                       \
        adj_iter_seek(&w_->it, 0, &p_);                                        \
        for (int64_t r_ = 0; r_ < w_->it.runs; r_++, adj_iter_next(&w_->it, &p_)) { \
            const T *a_ = (const T *)w_->A + p_.off[1];                        \
            const T *b_ = (const T *)w_->B + p_.off[2];                        \
            const T *yr_ = Y_ + p_.off[0], *dyr_ = DY_ + p_.off[0];            \
            double *h_ = w_->hi + p_.off[gk_], *l_ = w_->lo + p_.off[gk_];     \
            if (w_->OUTA) {                                                    \
                /* fused: a's adjoint (y's layout) in the same pass (gs_ 1) */ \
                T *oa_ = (T *)w_->OUTA + p_.off[0];                            \
                if (w_->acca)                                                  \
                    for (int64_t i_ = c0_; i_ < c1_; i_++) {                   \
                        const T a = a_[i_ * as_], b = b_[i_ * bs_];            \
                        const T y = yr_[i_], dy = dyr_[i_];                    \
                        (void)a, (void)b, (void)y;                             \
                        oa_[i_] += (DAF);                                      \
                        ADJ_SUM_ADD(h_[i_], l_[i_], (double)(D));              \
                    }                                                          \
                else                                                           \
                    for (int64_t i_ = c0_; i_ < c1_; i_++) {                   \
                        const T a = a_[i_ * as_], b = b_[i_ * bs_];            \
                        const T y = yr_[i_], dy = dyr_[i_];                    \
                        (void)a, (void)b, (void)y;                             \
                        oa_[i_] = (DAF);                                       \
                        ADJ_SUM_ADD(h_[i_], l_[i_], (double)(D));              \
                    }                                                          \
            } else if (gs_ == 0) {                                             \
                double th_ = 0, tl_ = 0;                                       \
                for (int64_t i_ = c0_; i_ < c1_; i_++) {                       \
                    const T a = a_[i_ * as_], b = b_[i_ * bs_];                \
                    const T y = yr_[i_], dy = dyr_[i_];                        \
                    (void)a, (void)b, (void)y;                                 \
                    ADJ_SUM_ADD(th_, tl_, (double)(D));                        \
                }                                                              \
                ADJ_SUM_ADD(*h_, *l_, th_);                                    \
                *l_ += tl_;                                                    \
            } else if (gs_ == 1 && as_ == 1 && bs_ == 0) {                     \
                const T b = *b_;                                               \
                for (int64_t i_ = c0_; i_ < c1_; i_++) {                       \
                    const T a = a_[i_], y = yr_[i_], dy = dyr_[i_];            \
                    (void)a, (void)b, (void)y;                                 \
                    ADJ_SUM_ADD(h_[i_], l_[i_], (double)(D));                  \
                }                                                              \
            } else if (gs_ == 1 && as_ == 0 && bs_ == 1) {                     \
                const T a = *a_;                                               \
                for (int64_t i_ = c0_; i_ < c1_; i_++) {                       \
                    const T b = b_[i_], y = yr_[i_], dy = dyr_[i_];            \
                    (void)a, (void)b, (void)y;                                 \
                    ADJ_SUM_ADD(h_[i_], l_[i_], (double)(D));                  \
                }                                                              \
            } else {                                                           \
                for (int64_t i_ = c0_; i_ < c1_; i_++) {                       \
                    const T a = a_[i_ * as_], b = b_[i_ * bs_];                \
                    const T y = yr_[i_], dy = dyr_[i_];                        \
                    (void)a, (void)b, (void)y;                                 \
                    ADJ_SUM_ADD(h_[i_ * gs_], l_[i_ * gs_], (double)(D));      \
                }                                                              \
            }                                                                  \
        }                                                                      \
    } while (0)

/*
 * The float adjoint of a broadcast operand k that is one run of y (a bias
 * added to rows: inner stride 1, the same elements in every run), by
 * blocks of brows runs [lo_, hi_): block i sums its runs' contributions
 * column by column in plain double into part + i * inner (in double, the
 * rounding of up to 2^24 float terms stays far below float's), and writes
 * a's adjoint (OUTA) in the same sweep.  The blocks do not depend on the
 * threads; walk_backward adds them in order.
 */
#define BIN_WALK_BIAS_(D, DAF)                                                  \
    do {                                                                       \
        const float *Y_ = y_->value, *DY_ = w_->DY;                            \
        const int64_t n_ = w_->it.inner;                                       \
        const int64_t as_ = w_->it.istride[1], bs_ = w_->it.istride[2];        \
        for (size_t i_ = lo_; i_ < hi_; i_++) {                                \
            const int64_t r0_ = (int64_t)i_ * w_->brows;                       \
            const int64_t r1_ = r0_ + w_->brows < w_->it.runs ? r0_ + w_->brows : w_->it.runs; \
            double *restrict ps_ = w_->part + i_ * (size_t)n_;                 \
            memset(ps_, 0, (size_t)n_ * sizeof *ps_);                          \
            adj_iter_pos p_;                                                   \
            adj_iter_seek(&w_->it, r0_, &p_);                                  \
            for (int64_t r_ = r0_; r_ < r1_; r_++, adj_iter_next(&w_->it, &p_)) { \
                const float *a_ = (const float *)w_->A + p_.off[1];            \
                const float *b_ = (const float *)w_->B + p_.off[2];            \
                const float *yr_ = Y_ + p_.off[0], *dyr_ = DY_ + p_.off[0];    \
                float *oa_ = w_->OUTA ? (float *)w_->OUTA + p_.off[0] : NULL;  \
                if (oa_ && w_->acca && as_ == 1 && bs_ == 1)                   \
                    for (int64_t i2_ = 0; i2_ < n_; i2_++) {                   \
                        const float a = a_[i2_], b = b_[i2_];                  \
                        const float y = yr_[i2_], dy = dyr_[i2_];              \
                        (void)a, (void)b, (void)y;                             \
                        oa_[i2_] += (DAF);                                     \
                        ps_[i2_] += (double)(D);                               \
                    }                                                          \
                else if (oa_ && as_ == 1 && bs_ == 1)                          \
                    for (int64_t i2_ = 0; i2_ < n_; i2_++) {                   \
                        const float a = a_[i2_], b = b_[i2_];                  \
                        const float y = yr_[i2_], dy = dyr_[i2_];              \
                        (void)a, (void)b, (void)y;                             \
                        oa_[i2_] = (DAF);                                      \
                        ps_[i2_] += (double)(D);                               \
                    }                                                          \
                else                                                           \
                    for (int64_t i2_ = 0; i2_ < n_; i2_++) {                   \
                        const float a = a_[i2_ * as_], b = b_[i2_ * bs_];      \
                        const float y = yr_[i2_], dy = dyr_[i2_];              \
                        (void)a, (void)b, (void)y;                             \
                        if (oa_)                                               \
                            oa_[i2_] = w_->acca ? oa_[i2_] + (DAF) : (DAF);    \
                        ps_[i2_] += (double)(D);                               \
                    }                                                          \
            }                                                                  \
        }                                                                      \
    } while (0)

/* The sum of a broadcast operand's contributions compiled for one CPU
 * level (ATTR its target, ops/dispatch.h): every level adds the same terms
 * in the same order, so they give the same bits. */
#define BIN_RED_LEVEL_(nm, sfx, ATTR, DA, DB)                                  \
    ATTR static void nm##_walk_red_##sfx(void *ctx_, size_t lo_, size_t hi_)   \
    {                                                                          \
        const bin_walk *w_ = ctx_;                                             \
        const adj_var *y_ = w_->y;                                             \
        if (w_->which == 0 && y_->dtype == ADJ_F64)                            \
            BIN_WALK_RED_(double, DA, DA);                                     \
        else if (w_->which == 0)                                               \
            BIN_WALK_RED_(float, DA, DA);                                      \
        else if (y_->dtype == ADJ_F64)                                         \
            BIN_WALK_RED_(double, DB, DA);                                     \
        else                                                                   \
            BIN_WALK_RED_(float, DB, DA);                                      \
    }                                                                          \
    ATTR static void nm##_walk_bias_##sfx(void *ctx_, size_t lo_, size_t hi_)  \
    {                                                                          \
        const bin_walk *w_ = ctx_;                                             \
        const adj_var *y_ = w_->y;                                             \
        if (w_->which == 0)                                                    \
            BIN_WALK_BIAS_(DA, DA);                                            \
        else                                                                   \
            BIN_WALK_BIAS_(DB, DA);                                            \
    }
#if ADJ_VM_DISPATCH
#define BIN_RED_LEVELS_(nm, DA, DB)                                            \
    BIN_RED_LEVEL_(nm, avx2, ADJ_VM_TGT_AVX2, DA, DB)                          \
    BIN_RED_LEVEL_(nm, avx512, ADJ_VM_TGT_AVX512, DA, DB)
/* Each call walks all of y, so it takes the widest level at any length. */
#define BIN_RED_CALL_(f, ctx, lo, hi)                                          \
    do {                                                                       \
        const int l_ = adj_vm_level();                                         \
        if (l_ == ADJ_VM_AVX512)                                               \
            f##_avx512(ctx, lo, hi);                                           \
        else if (l_ == ADJ_VM_AVX2)                                            \
            f##_avx2(ctx, lo, hi);                                             \
        else                                                                   \
            f##_base(ctx, lo, hi);                                             \
    } while (0)
#else
#define BIN_RED_LEVELS_(nm, DA, DB)
#define BIN_RED_CALL_(f, ctx, lo, hi) f##_base(ctx, lo, hi)
#endif

/* Backward of the general walk for one operand k with adjoint g: fn
 * accumulates into g in y's layout (stores if fresh), red sums a broadcast operand's
 * contributions (BIN_WALK_RED_). */
typedef void (*walk_fn)(void *ctx, size_t lo, size_t hi);

/* Elements of y in a block of a float bias's sums (about; see walk_backward). */
#define BIAS_BLOCK ((size_t)1 << 16)

/* A float bias's blocks on the pool: group t of `groups` takes the
 * contiguous blocks [t * nblocks / groups, (t + 1) * nblocks / groups). */
typedef struct bias_groups_job {
    bin_walk *w;
    walk_fn bias;
    size_t nblocks, groups;
} bias_groups_job;

static void bias_groups(void *ctx, size_t lo, size_t hi)
{
    const bias_groups_job *j = ctx;
    for (size_t t = lo; t < hi; t++)
        j->bias(j->w, t * j->nblocks / j->groups, (t + 1) * j->nblocks / j->groups);
}

static void walk_backward(adj_var *y, bin_walk *w, int k, void *g, bool fresh, walk_fn fn,
                          walk_fn red, walk_fn bias)
{
    const adj_var *x = y->in[k];
    w->which = k;
    if (adj_cold(x)->numel == adj_cold(y)->numel) {
        /* not broadcast: x's adjoint has y's layout (fresh: stored) */
        w->OUT = g;
        w->acc = !fresh;
        adj_par_for((size_t)w->it.runs, walk_grain(w), fn, w);
        return;
    }
    size_t xn = adj_cold(x)->numel;
    int64_t inner = w->it.inner;
    if (y->dtype == ADJ_F32 && w->it.istride[3 + k] == 1 && (int64_t)xn == inner && inner > 1 &&
        inner <= 4096 && (!w->OUTA || w->it.istride[1] == 1)) {
        /* a float bias: an even number of blocks of runs of about 2^16
         * elements (whatever the thread count), summed in order */
        const int64_t runs = w->it.runs;
        int64_t nb = (int64_t)((xn * (size_t)runs + BIAS_BLOCK - 1) / BIAS_BLOCK);
        nb = nb > 1 ? (nb + 1) / 2 * 2 : 1;
        w->brows = (runs + nb - 1) / nb;
        size_t nblocks = (size_t)((runs + w->brows - 1) / w->brows);
        w->part = adj_arena_alloc(adj_node_tape(y), (nblocks + 1) * xn * sizeof *w->part);
        if (!w->part)
            return; /* ADJ_ENOMEM is on the tape */
        /* one claim per thread, each a contiguous range of blocks (handed
         * out one by one, the blocks interleaved over the threads and
         * the last ones left the split uneven) */
        const size_t threads = (size_t)adj_threads();
        bias_groups_job job = {w, bias, nblocks, threads < nblocks ? threads : nblocks};
        adj_par_tasks(job.groups, bias_groups, &job);
        /* each column's sum from 0 over the blocks in order, a whole row of
         * blocks at a time (the loop over columns vectorises) */
        double *restrict sum = w->part + nblocks * xn;
        memset(sum, 0, xn * sizeof *sum);
        for (size_t j = 0; j < nblocks; j++) {
            const double *restrict pj = w->part + j * xn;
            for (size_t i = 0; i < xn; i++)
                sum[i] += pj[i];
        }
        float *d = g;
        for (size_t i = 0; i < xn; i++)
            d[i] = (float)((double)d[i] + sum[i]);
        return;
    }
    double stack[ADJ_REDUCE_STACK];
    double *hi = stack;
    if (2 * xn > ADJ_REDUCE_STACK) {
        hi = adj_arena_alloc(adj_node_tape(y), 2 * xn * sizeof *hi);
        if (!hi)
            return; /* ADJ_ENOMEM is on the tape */
    }
    memset(hi, 0, 2 * xn * sizeof *hi);
    w->hi = hi;
    w->lo = hi + xn;
    if (w->it.istride[3 + k] == 1 && inner > 1) {
        size_t grain = ADJ_PAR_GRAIN_MAP / (size_t)w->it.runs;
        adj_par_for((size_t)inner, grain > 64 ? grain : 64, red, w);
    } else {
        red(w, 0, (size_t)inner);
    }
    if (y->dtype == ADJ_F64) {
        double *d = g;
        for (size_t i = 0; i < xn; i++)
            d[i] += w->hi[i] + w->lo[i];
    } else {
        float *d = g;
        for (size_t i = 0; i < xn; i++)
            d[i] = (float)((double)d[i] + (w->hi[i] + w->lo[i]));
    }
}

/* a of y's size, b broadcast with its adjoint's inner stride 1 and runs
 * longer than one element (a bias added to rows): the walk that sums b's
 * adjoint can write a's as well, reading dy once. */
static bool fuse_bias(const adj_var *y, const bin_walk *w)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    return adj_cold(a)->numel == adj_cold(y)->numel && adj_cold(b)->numel < adj_cold(y)->numel &&
           w->it.istride[4] == 1 && w->it.inner > 1;
}

/* The kernels' context for adj_par_for. */
typedef struct bin_ctx {
    const adj_var *y;
    void *ga, *gb;              /* backward: the inputs' adjoints (either may be NULL) */
    const void *const *tx;      /* forward mode: the inputs' tangents */
    void *ty;                   /*               and y's */
} bin_ctx;

/* FWD computes y from a, b; BWD computes da, db from a, b, y, dy; TAN the
 * tangent of y from a, b, y and the tangents da, db. */

/* The same-shape kernels on elements [lo_, hi_).  a and b may be the same
 * array (x + x), and so may the adjoints da and db. */
#define BIN_FWD_RANGE_(T, FWD)                                                  \
    do {                                                                       \
        const T *A_ = y_->in[0]->value, *B_ = y_->in[1]->value;                \
        T *restrict Y_ = y_->value;                                            \
        for (size_t i_ = lo_; i_ < hi_; i_++) {                                \
            const T a = A_[i_], b = B_[i_];                                    \
            Y_[i_] = (FWD);                                                    \
        }                                                                      \
    } while (0)

#define BIN_BWD_RANGE_(T, DA, DB)                                               \
    do {                                                                       \
        const T *A_ = y_->in[0]->value, *B_ = y_->in[1]->value;                \
        const T *Y_ = y_->value, *DY_ = y_->grad;                              \
        T *GA_ = k_->ga, *GB_ = k_->gb;                                        \
        if (GA_ && GB_) {                                                      \
            for (size_t i_ = lo_; i_ < hi_; i_++) {                            \
                const T a = A_[i_], b = B_[i_], y = Y_[i_], dy = DY_[i_];      \
                (void)a;                                                       \
                (void)b;                                                       \
                (void)y;                                                       \
                const T da = (DA), db = (DB);                                  \
                GA_[i_] += da;                                                 \
                GB_[i_] += db;                                                 \
            }                                                                  \
        } else if (GA_) {                                                      \
            for (size_t i_ = lo_; i_ < hi_; i_++) {                            \
                const T a = A_[i_], b = B_[i_], y = Y_[i_], dy = DY_[i_];      \
                (void)a;                                                       \
                (void)b;                                                       \
                (void)y;                                                       \
                GA_[i_] += (DA);                                               \
            }                                                                  \
        } else {                                                               \
            for (size_t i_ = lo_; i_ < hi_; i_++) {                            \
                const T a = A_[i_], b = B_[i_], y = Y_[i_], dy = DY_[i_];      \
                (void)a;                                                       \
                (void)b;                                                       \
                (void)y;                                                       \
                GB_[i_] += (DB);                                               \
            }                                                                  \
        }                                                                      \
    } while (0)

#define BIN_TAN_RANGE_(T, TAN)                                                  \
    do {                                                                       \
        const T *A_ = y_->in[0]->value, *B_ = y_->in[1]->value;                \
        const T *Y_ = y_->value;                                               \
        const T *TA_ = k_->tx[0], *TB_ = k_->tx[1];                            \
        T *restrict TY_ = k_->ty;                                              \
        for (size_t i_ = lo_; i_ < hi_; i_++) {                                \
            const T a = A_[i_], b = B_[i_], y = Y_[i_];                        \
            const T da = TA_[i_], db = TB_[i_];                                \
            (void)a;                                                           \
            (void)b;                                                           \
            (void)y;                                                           \
            TY_[i_] = (TAN);                                                   \
        }                                                                      \
    } while (0)

#define BINARY(nm, OPID, DOMB, FORMULA, RULE, FWD, DA, DB, TAN)                 \
    BINARY_T(nm, OPID, DOMB, FORMULA, RULE, FWD, DA, DB, TAN, NULL)
/* The same with a teaching description (an adj_op_teach *, see op.h). */
#define BINARY_T(nm, OPID, DOMB, FORMULA, RULE, FWD, DA, DB, TAN, TEACH)       \
    BINARY_OP(nm, OPID, DOMB, FORMULA, RULE, FWD, DA, DB, TAN, TEACH, adj_vjp_##nm) \
    BINARY_API(nm, OPID)
/* The range and walk kernels of one binary op for one CPU level (ATTR its
 * target, ops/dispatch.h): the same operations in the same order at every
 * level, so every level gives the same bits. */
#define BIN_LEVEL_(nm, sfx, ATTR, FWD, DA, DB, TAN)                             \
    ATTR static void nm##_fwd_range_##sfx(void *ctx_, size_t lo_, size_t hi_)  \
    {                                                                          \
        const adj_var *y_ = ctx_;                                              \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_FWD_RANGE_(double, FWD);                                       \
        else                                                                   \
            BIN_FWD_RANGE_(float, FWD);                                        \
    }                                                                          \
    ATTR static void nm##_bwd_range_##sfx(void *ctx_, size_t lo_, size_t hi_)  \
    {                                                                          \
        const bin_ctx *k_ = ctx_;                                              \
        const adj_var *y_ = k_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_BWD_RANGE_(double, DA, DB);                                    \
        else                                                                   \
            BIN_BWD_RANGE_(float, DA, DB);                                     \
    }                                                                          \
    ATTR static void nm##_jvp_range_##sfx(void *ctx_, size_t lo_, size_t hi_)  \
    {                                                                          \
        const bin_ctx *k_ = ctx_;                                              \
        const adj_var *y_ = k_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_TAN_RANGE_(double, TAN);                                       \
        else                                                                   \
            BIN_TAN_RANGE_(float, TAN);                                        \
    }                                                                          \
    ATTR static void nm##_walk_fwd_##sfx(void *ctx_, size_t lo_, size_t hi_)   \
    {                                                                          \
        const bin_walk *w_ = ctx_;                                             \
        if (w_->y->dtype == ADJ_F64)                                           \
            BIN_WALK_FWD_(double, FWD);                                        \
        else                                                                   \
            BIN_WALK_FWD_(float, FWD);                                         \
    }                                                                          \
    ATTR static void nm##_walk_bwd_##sfx(void *ctx_, size_t lo_, size_t hi_)   \
    {                                                                          \
        const bin_walk *w_ = ctx_;                                             \
        const adj_var *y_ = w_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_WALK_BWD_(double, DA, DB);                                     \
        else                                                                   \
            BIN_WALK_BWD_(float, DA, DB);                                      \
    }                                                                          \
    ATTR static void nm##_walk_jvp_##sfx(void *ctx_, size_t lo_, size_t hi_)   \
    {                                                                          \
        const bin_walk *w_ = ctx_;                                             \
        const adj_var *y_ = w_->y;                                             \
        if (y_->dtype == ADJ_F64)                                              \
            BIN_WALK_TAN_(double, TAN);                                        \
        else                                                                   \
            BIN_WALK_TAN_(float, TAN);                                         \
    }
#if ADJ_VM_DISPATCH
#define BIN_LEVELS_(nm, FWD, DA, DB, TAN)                                      \
    BIN_LEVEL_(nm, base, , FWD, DA, DB, TAN)                                   \
    BIN_LEVEL_(nm, avx2, ADJ_VM_TGT_AVX2, FWD, DA, DB, TAN)                    \
    BIN_LEVEL_(nm, avx512, ADJ_VM_TGT_AVX512, FWD, DA, DB, TAN)
/* A walk over runs: 512-bit code where the runs are long enough. */
#define BIN_WALK_CALL_(f, ctx, lo, hi)                                         \
    do {                                                                       \
        const int l_ = adj_vm_level();                                         \
        if (l_ == ADJ_VM_AVX512 && ((const bin_walk *)(ctx))->it.inner >= 64)  \
            f##_avx512(ctx, lo, hi);                                           \
        else if (l_ >= ADJ_VM_AVX2)                                            \
            f##_avx2(ctx, lo, hi);                                             \
        else                                                                   \
            f##_base(ctx, lo, hi);                                             \
    } while (0)
#else
#define BIN_LEVELS_(nm, FWD, DA, DB, TAN) BIN_LEVEL_(nm, base, , FWD, DA, DB, TAN)
#define BIN_WALK_CALL_(f, ctx, lo, hi) f##_base(ctx, lo, hi)
#endif

/* The kernels and the descriptor, without the public functions; VJP is
 * the graph-mode rule (ops/graph_elem.c), NULL for a mask. */
#define BINARY_OP(nm, OPID, DOMB, FORMULA, RULE, FWD, DA, DB, TAN, TEACH, VJP) \
    BIN_LEVELS_(nm, FWD, DA, DB, TAN)                                          \
    ADJ_VM_RANGES(nm)                                                          \
    static void nm##_walk_fwd(void *ctx_, size_t lo_, size_t hi_)              \
    {                                                                          \
        BIN_WALK_CALL_(nm##_walk_fwd, ctx_, lo_, hi_);                         \
    }                                                                          \
    static void nm##_walk_bwd(void *ctx_, size_t lo_, size_t hi_)              \
    {                                                                          \
        BIN_WALK_CALL_(nm##_walk_bwd, ctx_, lo_, hi_);                         \
    }                                                                          \
    BIN_RED_LEVEL_(nm, base, , DA, DB)                                         \
    BIN_RED_LEVELS_(nm, DA, DB)                                                \
    static void nm##_walk_red(void *ctx_, size_t lo_, size_t hi_)              \
    {                                                                          \
        BIN_RED_CALL_(nm##_walk_red, ctx_, lo_, hi_);                          \
    }                                                                          \
    static void nm##_walk_bias(void *ctx_, size_t lo_, size_t hi_)             \
    {                                                                          \
        BIN_RED_CALL_(nm##_walk_bias, ctx_, lo_, hi_);                         \
    }                                                                          \
    static void nm##_walk_jvp(void *ctx_, size_t lo_, size_t hi_)              \
    {                                                                          \
        BIN_WALK_CALL_(nm##_walk_jvp, ctx_, lo_, hi_);                         \
    }                                                                          \
    static void nm##_forward(adj_var *y_)                                      \
    {                                                                          \
        if (flat(y_)) {                                                        \
            adj_par_for(adj_cold(y_)->numel, ADJ_PAR_GRAIN_MAP, nm##_fwd_range, y_); \
            return;                                                            \
        }                                                                      \
        bin_walk w_;                                                           \
        walk_init(&w_, y_, 3);                                                 \
        w_.OUT = y_->value;                                                    \
        if (w_.it.runs > 0)                                                    \
            adj_par_for((size_t)w_.it.runs, walk_grain(&w_), nm##_walk_fwd, &w_); \
    }                                                                          \
    static void nm##_backward_(adj_var *y_, bool skip_a_)                      \
    {                                                                          \
        adj_var *xa_ = y_->in[0], *xb_ = y_->in[1];                            \
        const bool flat_ = flat(y_);                                           \
        /* a of y's size in the walk reaches all of its adjoint: written      \
         * in place of zero-fill-and-add when this op is the first */         \
        bool fresh_ = false;                                                   \
        void *ga_ = skip_a_ || !(xa_->flags & ADJ_F_GRAD) ? NULL               \
                    : !flat_ && xa_ != xb_ &&                                  \
                              adj_cold(xa_)->numel == adj_cold(y_)->numel      \
                        ? adj_grad_buf_fresh(xa_, &fresh_)                     \
                        : adj_grad_buf(xa_);                                   \
        void *gb_ = (xb_->flags & ADJ_F_GRAD) ? adj_grad_buf(xb_) : NULL;      \
        if (!ga_ && !gb_)                                                      \
            return;                                                            \
        if (flat_) {                                                           \
            bin_ctx k_ = {.y = y_, .ga = ga_, .gb = gb_};                      \
            adj_par_for(adj_cold(y_)->numel, ADJ_PAR_GRAIN_MAP, nm##_bwd_range, &k_); \
            return;                                                            \
        }                                                                      \
        bin_walk w_;                                                           \
        walk_init(&w_, y_, 5);                                                 \
        if (w_.it.runs <= 0)                                                   \
            return;                                                            \
        w_.DY = y_->grad;                                                      \
        if (ga_ && gb_ && fuse_bias(y_, &w_)) {                                \
            /* b broadcast along rows (a bias): a's adjoint in b's walk */     \
            w_.OUTA = ga_;                                                     \
            w_.acca = !fresh_;                                                 \
            walk_backward(y_, &w_, 1, gb_, false, nm##_walk_bwd, nm##_walk_red, nm##_walk_bias); \
            return;                                                            \
        }                                                                      \
        if (ga_)                                                               \
            walk_backward(y_, &w_, 0, ga_, fresh_, nm##_walk_bwd, nm##_walk_red, nm##_walk_bias); \
        if (gb_)                                                               \
            walk_backward(y_, &w_, 1, gb_, false, nm##_walk_bwd, nm##_walk_red, nm##_walk_bias); \
    }                                                                          \
    /* add, sub: a's adjoint is dy itself, so a of y's shape takes dy over   \
     * when the sweep releases it (adj_grad_pass), after b's is written */    \
    static void nm##_backward(adj_var *y_)                                     \
    {                                                                          \
        const bool pass_ = ((OPID) == ADJ_OP_ADD || (OPID) == ADJ_OP_SUB) &&   \
                           y_->in[0] != y_->in[1] && adj_grad_passable(y_, y_->in[0]); \
        nm##_backward_(y_, pass_);                                             \
        if (pass_ && adj_tape_status(adj_node_tape(y_)) == ADJ_OK)             \
            adj_grad_pass(y_, y_->in[0]);                                      \
    }                                                                          \
    static void nm##_jvp(const adj_var *y_, const void *const *tx_, void *ty_) \
    {                                                                          \
        if (flat(y_)) {                                                        \
            bin_ctx k_ = {.y = y_, .tx = tx_, .ty = ty_};                      \
            adj_par_for(adj_cold(y_)->numel, ADJ_PAR_GRAIN_MAP, nm##_jvp_range, &k_); \
            return;                                                            \
        }                                                                      \
        bin_walk w_;                                                           \
        walk_init(&w_, y_, 5);                                                 \
        w_.OUT = ty_;                                                          \
        w_.TA = tx_[0];                                                        \
        w_.TB = tx_[1];                                                        \
        if (w_.it.runs > 0)                                                    \
            adj_par_for((size_t)w_.it.runs, walk_grain(&w_), nm##_walk_jvp, &w_); \
    }                                                                          \
    static double nm##_scalar_fwd(double a, double b, const void *attr_)       \
    {                                                                          \
        (void)attr_;                                                           \
        return (FWD);                                                          \
    }                                                                          \
    static void nm##_scalar_bwd(adj_var *y_node_, double dy)                    \
    {                                                                          \
        adj_var *a_node_ = y_node_->in[0], *b_node_ = y_node_->in[1];          \
        const double a = adj_scalar_val(a_node_), b = adj_scalar_val(b_node_), \
                     y = adj_scalar_val(y_node_);                              \
        (void)a;                                                               \
        (void)b;                                                               \
        (void)y;                                                               \
        if (a_node_->flags & ADJ_F_GRAD)                                       \
            adj_scalar_acc(a_node_, (DA));                                     \
        if (b_node_->flags & ADJ_F_GRAD)                                       \
            adj_scalar_acc(b_node_, (DB));                                     \
    }                                                                          \
    const adj_op_desc adj_desc_##nm = {                                        \
        .name = #nm, .arity = 2, .shape = shape_binary,                        \
        .forward = nm##_forward, .backward = nm##_backward, .jvp = nm##_jvp,   \
        .scalar_fwd = nm##_scalar_fwd, .scalar_bwd = nm##_scalar_bwd,          \
        .formula = FORMULA, .rule = RULE, ADJ_CASES(adj_cases_binary),         \
        .dom = {ADJ_DOM_ANY, DOMB}, .props = ADJ_PROP_MAP, .teach = TEACH,     \
        .vjp = VJP,                                                            \
    };

/* The public functions of a binary op. */
#define BINARY_API(nm, OPID)                                                    \
    adj_var *adj_##nm##_at(adj_var *a, adj_var *b, const char *file, int line) \
    {                                                                          \
        adj_scalar_in s_;                                                      \
        if (adj_scalar_in2(&s_, a, b)) { /* core/scalar.h */                   \
            adj_var *y_ = adj_scalar_node(&s_, OPID, #nm, file, line);         \
            if (!y_)                                                           \
                return adj_h_out(s_.t->inert);                                 \
            return adj_scalar_done(s_.t, y_, nm##_scalar_fwd(adj_scalar_val(s_.a), \
                                   adj_scalar_val(s_.b), NULL));               \
        }                                                                      \
        adj_var *in[2] = {a, b};                                               \
        return adj_record(OPID, in, 2, NULL, file, line);                      \
    }                                                                          \
    ADJ_FN2(nm)

/* Teaching: the local partials of mul and div that are symbols */
static void mul_partial(const adj_var *y, int k, const char *const *ref, char *buf, size_t size)
{
    if (y->in[0] != y->in[1]) /* d(a b)/da = b; for a · a it is 2a, a number here */
        snprintf(buf, size, "%s", ref[1 - k]);
}

static void div_partial(const adj_var *y, int k, const char *const *ref, char *buf, size_t size)
{
    (void)y;
    if (k == 0) /* d(a / b)/da = 1/b */
        snprintf(buf, size, "1/%s", ref[1]);
}

static const adj_op_teach add_teach = {.define = "$0 + $1"};
static const adj_op_teach sub_teach = {.define = "$0 - $1"};
static const adj_op_teach mul_teach = {.define = "$0 · $1", .partial = mul_partial};
static const adj_op_teach div_teach = {.define = "$0 / $1", .partial = div_partial};

/* y = a + b */
BINARY_T(add, ADJ_OP_ADD, ADJ_DOM_ANY, "y = a + b", "da += dy; db += dy",
       a + b,
       dy, dy,
       da + db, &add_teach)

/* y = a - b */
BINARY_T(sub, ADJ_OP_SUB, ADJ_DOM_ANY, "y = a - b", "da += dy; db += -dy",
       a - b,
       dy, -dy,
       da - db, &sub_teach)

/* y = a b;  tangent dy = da b + a db */
BINARY_T(mul, ADJ_OP_MUL, ADJ_DOM_ANY, "y = a b", "da += dy b; db += dy a",
       a * b,
       dy * b, dy * a,
       da * b + a * db, &mul_teach)

/* y = a / b;  db = -dy a / b^2 = -dy y / b (0 when dy is 0, even at b = 0);
 * tangent dy = (da - y db) / b */
BINARY_T(div, ADJ_OP_DIV, ADJ_DOM_AWAY0, "y = a / b", "da += dy / b; db += -dy y / b",
       a / b,
       dy == 0 ? 0 : dy / b, dy == 0 ? 0 : -dy * y / b,
       da == 0 && db == 0 ? 0 : (da - y * db) / b, &div_teach)

/* ------------------------------------------------ maximum, minimum, masks */

/* y = max(a, b); at a tie each operand receives dy / 2 (as PyTorch does),
 * so the gradient is the mean of the one-sided ones; NaN propagates */
BINARY(maximum, ADJ_OP_MAXIMUM, ADJ_DOM_ANY, "y = max(a, b)",
       "da += dy [a > b] + dy/2 [a = b]; db += dy [b > a] + dy/2 [a = b]",
       a > b || a != a ? a : b,
       a > b ? dy : a == b ? dy / 2 : 0, b > a ? dy : a == b ? dy / 2 : 0,
       a > b ? da : b > a ? db : (da + db) / 2)

/* y = min(a, b); ties as for maximum */
BINARY(minimum, ADJ_OP_MINIMUM, ADJ_DOM_ANY, "y = min(a, b)",
       "da += dy [a < b] + dy/2 [a = b]; db += dy [b < a] + dy/2 [a = b]",
       a < b || a != a ? a : b,
       a < b ? dy : a == b ? dy / 2 : 0, b < a ? dy : a == b ? dy / 2 : 0,
       a < b ? da : b < a ? db : (da + db) / 2)

/* A comparison: a 0/1 mask of the dtype of its operands.  It is piecewise
 * constant, so its derivative is 0 wherever it exists: the node carries no
 * gradient (recording clears ADJ_F_GRAD), and its tangent is 0. */
#define COMPARE(nm, OPID, SYM, EXPR)                                            \
    BINARY_OP(nm, OPID, ADJ_DOM_ANY, "y = [a " SYM " b]", "none (a 0/1 mask)",  \
              (EXPR) ? 1 : 0, ((void)dy, 0), ((void)dy, 0), ((void)da, (void)db, 0), \
              NULL, adj_vjp_mask)                                              \
    adj_var *adj_##nm##_at(adj_var *a, adj_var *b, const char *file, int line) \
    {                                                                          \
        adj_var *in[2] = {a, b};                                               \
        adj_var *y = adj_record(OPID, in, 2, NULL, file, line), *n = adj_h_raw(y); \
        if (n && !(n->flags & ADJ_F_INERT))                                    \
            n->flags &= (uint8_t)~ADJ_F_GRAD;                                  \
        return y;                                                              \
    }                                                                          \
    ADJ_FN2(nm)

COMPARE(eq, ADJ_OP_EQ, "=", a == b)
COMPARE(ne, ADJ_OP_NE, "!=", a != b)
COMPARE(lt, ADJ_OP_LT, "<", a < b)
COMPARE(le, ADJ_OP_LE, "<=", a <= b)
COMPARE(gt, ADJ_OP_GT, ">", a > b)
COMPARE(ge, ADJ_OP_GE, ">=", a >= b)
