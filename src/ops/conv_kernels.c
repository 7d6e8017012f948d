/*
 * The convolution products (see conv_kernels.h): im2col, col2im and one
 * BLIS gemm per sample and group.
 *
 * A 1x1 kernel with stride 1 and no padding needs no im2col: the big
 * side's plane block is the col matrix itself.
 */
#include "ops/conv_kernels.h"
#include "core/pool.h"

#include <blis.h>
#include <string.h>

/* One BLIS call on the calling thread, row-major operands with leading
 * dimensions: C (m,n) = op(A) op(B) + beta C, op(A) (m,k) stored (m,k)
 * or, transposed, (k,m). */
static void gemm(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                 size_t lda, const void *B, size_t ldb, double beta, void *C, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0) { /* C = beta C */
        for (size_t i = 0; i < m; i++) {
            if (dtype == ADJ_F64)
                for (size_t j = 0; j < n; j++)
                    ((double *)C)[i * ldc + j] = beta == 0 ? 0.0 : beta * ((double *)C)[i * ldc + j];
            else
                for (size_t j = 0; j < n; j++)
                    ((float *)C)[i * ldc + j] =
                        beta == 0 ? 0.0f : (float)beta * ((float *)C)[i * ldc + j];
        }
        return;
    }
    trans_t ta_ = ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    trans_t tb_ = tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    rntm_t rntm;
    bli_rntm_init(&rntm);
    bli_rntm_set_num_threads(1, &rntm);
    if (dtype == ADJ_F64) {
        double one = 1.0, bt = beta;
        bli_dgemm_ex(ta_, tb_, (dim_t)m, (dim_t)n, (dim_t)k, &one, (double *)A, (inc_t)lda, 1,
                     (double *)B, (inc_t)ldb, 1, &bt, C, (inc_t)ldc, 1, NULL, &rntm);
    } else {
        float one = 1.0f, bt = (float)beta;
        bli_sgemm_ex(ta_, tb_, (dim_t)m, (dim_t)n, (dim_t)k, &one, (float *)A, (inc_t)lda, 1,
                     (float *)B, (inc_t)ldb, 1, &bt, C, (inc_t)ldc, 1, NULL, &rntm);
    }
}

/* The valid window positions o in [0, n) of a row or column: those with
 * 0 <= o s + off < size, as [*lo, *hi). */
static void valid_range(long off, long s, long n, long size, long *lo, long *hi)
{
    long a = off >= 0 ? 0 : (-off + s - 1) / s;
    long b = size - off <= 0 ? 0 : (size - off + s - 1) / s;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
    if (*hi < *lo)
        *hi = *lo;
}

/*
 * im2col of one sample and group: col[(c kh + i) kw + j][oh ws + ow] =
 * b[c, oh sh - ph + i dh, ow sw - pw + j dw], 0 outside.  col2im adds the
 * same elements back (the adjoint of im2col).
 */
#define IM2COL(T)                                                              \
    static void im2col_##T(const adj_conv_geom *g, size_t cbg, const T *b, T *col) \
    {                                                                          \
        const long hs = (long)g->hs, ws = (long)g->ws;                         \
        const long hb = (long)g->hb, wb = (long)g->wb;                         \
        for (size_t c = 0; c < cbg; c++)                                       \
            for (size_t i = 0; i < g->kh; i++)                                 \
                for (size_t j = 0; j < g->kw; j++) {                           \
                    T *row = col + ((c * g->kh + i) * g->kw + j) * (size_t)(hs * ws); \
                    const T *plane = b + c * (size_t)(hb * wb);                \
                    long off_w = (long)j * g->dw - g->pw, lo, hi;              \
                    valid_range(off_w, g->sw, ws, wb, &lo, &hi);               \
                    for (long oh = 0; oh < hs; oh++) {                         \
                        T *r = row + oh * ws;                                  \
                        long ih = oh * g->sh - g->ph + (long)i * g->dh;        \
                        if (ih < 0 || ih >= hb) {                              \
                            memset(r, 0, (size_t)ws * sizeof(T));              \
                            continue;                                          \
                        }                                                      \
                        const T *src = plane + ih * wb;                        \
                        for (long ow = 0; ow < lo; ow++)                       \
                            r[ow] = 0;                                         \
                        if (g->sw == 1)                                        \
                            memcpy(r + lo, src + off_w + lo, (size_t)(hi - lo) * sizeof(T)); \
                        else                                                   \
                            for (long ow = lo; ow < hi; ow++)                  \
                                r[ow] = src[off_w + ow * g->sw];               \
                        for (long ow = hi; ow < ws; ow++)                      \
                            r[ow] = 0;                                         \
                    }                                                          \
                }                                                              \
    }                                                                          \
    static void col2im_##T(const adj_conv_geom *g, size_t cbg, const T *col, T *b) \
    {                                                                          \
        const long hs = (long)g->hs, ws = (long)g->ws;                         \
        const long hb = (long)g->hb, wb = (long)g->wb;                         \
        for (size_t c = 0; c < cbg; c++)                                       \
            for (size_t i = 0; i < g->kh; i++)                                 \
                for (size_t j = 0; j < g->kw; j++) {                           \
                    const T *row = col + ((c * g->kh + i) * g->kw + j) * (size_t)(hs * ws); \
                    T *plane = b + c * (size_t)(hb * wb);                      \
                    long off_w = (long)j * g->dw - g->pw, lo, hi;              \
                    valid_range(off_w, g->sw, ws, wb, &lo, &hi);               \
                    for (long oh = 0; oh < hs; oh++) {                         \
                        long ih = oh * g->sh - g->ph + (long)i * g->dh;        \
                        if (ih < 0 || ih >= hb)                                \
                            continue;                                          \
                        const T *r = row + oh * ws;                            \
                        T *dst = plane + ih * wb;                              \
                        for (long ow = lo; ow < hi; ow++)                      \
                            dst[off_w + ow * g->sw] += r[ow];                  \
                    }                                                          \
                }                                                              \
    }
IM2COL(float)
IM2COL(double)

static void im2col(int dtype, const adj_conv_geom *g, size_t cbg, const void *b, void *col)
{
    if (dtype == ADJ_F64)
        im2col_double(g, cbg, b, col);
    else
        im2col_float(g, cbg, b, col);
}

static void col2im(int dtype, const adj_conv_geom *g, size_t cbg, const void *col, void *b)
{
    if (dtype == ADJ_F64)
        col2im_double(g, cbg, col, b);
    else
        col2im_float(g, cbg, col, b);
}

/* Products of at least this many multiply-adds in all are split over the
 * pool's threads, by samples. */
#define PAR_CONV_MACS ((size_t)1 << 17)

enum { DOWN, UP, WGRAD };

typedef struct conv_job {
    int kind, dtype;
    const adj_conv_geom *g;
    size_t ntask, es, cbg, csg, K, P, bplane;
    bool direct, acc;
    const char *in;   /* down: b, up: s, wgrad: s */
    const char *in2;  /* wgrad: b */
    const char *w;
    char *out;        /* down: s, up: b, wgrad: dw (task 0) */
    char *col;        /* ntask col buffers */
    char *part;       /* wgrad: partial adjoints of tasks 1.. */
} conv_job;

static void conv_task(void *ctx, size_t lo, size_t hi)
{
    const conv_job *j = ctx;
    const adj_conv_geom *g = j->g;
    const size_t es = j->es, K = j->K, P = j->P, wsz = g->cs * K;
    for (size_t t = lo; t < hi; t++) {
        size_t n0 = t * g->n / j->ntask, n1 = (t + 1) * g->n / j->ntask;
        char *col = j->col ? j->col + t * K * P * es : NULL;
        char *dw = j->kind == WGRAD ? (t == 0 ? j->out : j->part + (t - 1) * wsz * es) : NULL;
        for (size_t n = n0; n < n1; n++)
            for (size_t gi = 0; gi < g->groups; gi++) {
                const size_t boff = (n * g->cb + gi * j->cbg) * j->bplane * es;
                const size_t soff = (n * g->cs + gi * j->csg) * P * es;
                const char *wg = j->w ? j->w + gi * j->csg * K * es : NULL;
                if (j->kind == DOWN) {
                    const char *b = j->in + boff;
                    if (!j->direct)
                        im2col(j->dtype, g, j->cbg, b, col);
                    gemm(j->dtype, false, false, j->csg, P, K, wg, K, j->direct ? b : col, P,
                         j->acc ? 1.0 : 0.0, j->out + soff, P);
                } else if (j->kind == UP) {
                    if (j->direct) {
                        gemm(j->dtype, true, false, K, P, j->csg, wg, K, j->in + soff, P, 1.0,
                             j->out + boff, P);
                    } else {
                        gemm(j->dtype, true, false, K, P, j->csg, wg, K, j->in + soff, P, 0.0, col,
                             P);
                        col2im(j->dtype, g, j->cbg, col, j->out + boff);
                    }
                } else {
                    const char *b = j->in2 + boff;
                    if (!j->direct)
                        im2col(j->dtype, g, j->cbg, b, col);
                    gemm(j->dtype, false, true, j->csg, K, P, j->in + soff, P,
                         j->direct ? b : col, P, 1.0, dw + gi * j->csg * K * es, K);
                }
            }
    }
}

static bool run(adj_tape *t, int kind, int dtype, const adj_conv_geom *g, const void *in,
                const void *in2, const void *w, void *out, bool acc)
{
    conv_job j = {.kind = kind, .dtype = dtype, .g = g, .es = adj_dsize(dtype), .acc = acc,
                  .in = in, .in2 = in2, .w = w, .out = out};
    j.cbg = g->cb / g->groups;
    j.csg = g->cs / g->groups;
    j.K = j.cbg * g->kh * g->kw;
    j.P = g->hs * g->ws;
    j.bplane = g->hb * g->wb;
    j.direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 &&
               g->pw == 0 && g->hs == g->hb && g->ws == g->wb;
    if (g->n == 0)
        return true;
    size_t macs = g->n * g->cs * j.K * j.P, threads = (size_t)adj_threads();
    j.ntask = macs >= PAR_CONV_MACS && threads > 1 ? (threads < g->n ? threads : g->n) : 1;
    if (!j.direct && j.K * j.P > 0) {
        j.col = adj_arena_alloc(t, j.ntask * j.K * j.P * j.es);
        if (!j.col)
            return false;
    }
    const size_t wsz = g->cs * j.K;
    if (kind == WGRAD && j.ntask > 1) {
        j.part = adj_arena_zalloc(t, (j.ntask - 1) * wsz * j.es);
        if (!j.part)
            return false;
    }
    if (j.ntask > 1)
        adj_par_tasks(j.ntask, conv_task, &j);
    else
        conv_task(&j, 0, 1);
    if (kind == WGRAD)
        for (size_t k = 1; k < j.ntask; k++) { /* in task order: same bits per thread count */
            if (dtype == ADJ_F64) {
                const double *p = (const double *)j.part + (k - 1) * wsz;
                for (size_t i = 0; i < wsz; i++)
                    ((double *)out)[i] += p[i];
            } else {
                const float *p = (const float *)j.part + (k - 1) * wsz;
                for (size_t i = 0; i < wsz; i++)
                    ((float *)out)[i] += p[i];
            }
        }
    return true;
}

bool adj_conv_down(adj_tape *t, int dtype, const adj_conv_geom *g, const void *b, const void *w,
                   void *s, bool acc)
{
    return run(t, DOWN, dtype, g, b, NULL, w, s, acc);
}

bool adj_conv_up(adj_tape *t, int dtype, const adj_conv_geom *g, const void *s, const void *w,
                 void *b)
{
    return run(t, UP, dtype, g, s, NULL, w, b, true);
}

bool adj_conv_wgrad(adj_tape *t, int dtype, const adj_conv_geom *g, const void *s, const void *b,
                    void *dw)
{
    return run(t, WGRAD, dtype, g, s, b, NULL, dw, true);
}
