/*
 * Matrix-product kernels on plain views (gemm.h): every matrix product,
 * forward and backward, is one BLIS gemm call, except products of at most
 * ADJ_SMALL_GEMM_MACS multiply-adds, where BLIS's fixed cost per call
 * (about half a microsecond: set-up, packing buffers, the threading
 * decision) would dwarf the arithmetic; those run a plain loop with the
 * same strides, tested against BLIS.  Transposes are flags and strides,
 * never copies.
 */
#include "ops/gemm.h"
#include "ops/dispatch.h"

#include <adjoint/core.h>

#include <blis.h>
#include <stdint.h>
#include <string.h>

#if ADJ_VM_DISPATCH
#include <immintrin.h>
#endif

bool adj_gemm_is_small(size_t m, size_t n, size_t k)
{
    return m <= ADJ_SMALL_GEMM_MACS && n <= ADJ_SMALL_GEMM_MACS && k <= ADJ_SMALL_GEMM_MACS &&
           m * n * k <= ADJ_SMALL_GEMM_MACS;
}

/* C = op(A) op(B) + beta C by plain loops, strides as for adj_gemm;
 * op(A)[i][p] is A[i rsa + p csa], or A[p rsa + i csa] when transposed.
 * beta = 0 never reads C (it may hold garbage).  Each element is one sum
 * from 0 over p in order; four elements of a row of C (or of a column,
 * when C has more rows than columns) are summed side by side, sharing
 * the element of op(A) (or op(B)) each step reads: the same sums, with
 * the loop's cost spread over four (k is often 1 to 8 here). */
#define SMALL_PUT_(T, c, s) ((c) = beta == 0 ? (s) : (T)beta * (c) + (s))
#define SMALL_GEMM(T)                                                           \
    do {                                                                       \
        const T *A_ = A, *B_ = B;                                              \
        T *C_ = C;                                                             \
        const size_t ai = ta ? csa : rsa, ap = ta ? rsa : csa;                 \
        const size_t bp = tb ? csb : rsb, bj = tb ? rsb : csb;                 \
        size_t i0 = 0, j0 = 0;                                                 \
        if (n >= m && n >= 4) { /* four columns at a time */                   \
            j0 = n - n % 4;                                                    \
            for (size_t i = 0; i < m; i++)                                     \
                for (size_t j = 0; j < j0; j += 4) {                           \
                    const T *a = A_ + i * ai, *b = B_ + j * bj;                \
                    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;                          \
                    for (size_t p = 0; p < k; p++) {                           \
                        const T x = a[p * ap], *r = b + p * bp;                \
                        s0 += x * r[0];                                        \
                        s1 += x * r[bj];                                       \
                        s2 += x * r[2 * bj];                                   \
                        s3 += x * r[3 * bj];                                   \
                    }                                                          \
                    T *c = &C_[i * rsc + j * csc];                             \
                    SMALL_PUT_(T, c[0], s0);                                   \
                    SMALL_PUT_(T, c[csc], s1);                                 \
                    SMALL_PUT_(T, c[2 * csc], s2);                             \
                    SMALL_PUT_(T, c[3 * csc], s3);                             \
                }                                                              \
        } else if (m >= 4) { /* four rows at a time */                         \
            i0 = m - m % 4;                                                    \
            for (size_t i = 0; i < i0; i += 4)                                 \
                for (size_t j = 0; j < n; j++) {                               \
                    const T *a = A_ + i * ai, *b = B_ + j * bj;                \
                    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;                          \
                    for (size_t p = 0; p < k; p++) {                           \
                        const T y = b[p * bp], *r = a + p * ap;                \
                        s0 += r[0] * y;                                        \
                        s1 += r[ai] * y;                                       \
                        s2 += r[2 * ai] * y;                                   \
                        s3 += r[3 * ai] * y;                                   \
                    }                                                          \
                    T *c = &C_[i * rsc + j * csc];                             \
                    SMALL_PUT_(T, c[0], s0);                                   \
                    SMALL_PUT_(T, c[rsc], s1);                                 \
                    SMALL_PUT_(T, c[2 * rsc], s2);                             \
                    SMALL_PUT_(T, c[3 * rsc], s3);                             \
                }                                                              \
        }                                                                      \
        /* the rest: rows from i0, or columns from j0, one element a time */   \
        for (size_t i = i0; i < m; i++)                                        \
            for (size_t j = i0 ? 0 : j0; j < n; j++) {                         \
                T s = 0;                                                       \
                for (size_t p = 0; p < k; p++)                                 \
                    s += A_[i * ai + p * ap] * B_[p * bp + j * bj];            \
                SMALL_PUT_(T, C_[i * rsc + j * csc], s);                       \
            }                                                                  \
    } while (0)

#if ADJ_VM_DISPATCH
/*
 * The small product with 128-bit vectors (AVX2 instructions) across a row
 * of C, or across a column when C has more rows than columns (then it is
 * computed as C^T = op(B)^T op(A)^T, the same products and sums).  Each
 * lane is one element of C summed from 0 over p in order, one multiply and
 * one add a step (no fused multiply-add), then beta C added as above: the
 * bits of the plain loop.  Rows of op(B) whose elements are not adjacent
 * are gathered.  Up to four rows of C share each row of op(B) read.
 * 256-bit vectors took fewer instructions but more time: a few such
 * operations among scalar code ran the 2-8-1 step ~20% slower in CPU time
 * than the scalar loop, 128-bit ones slightly faster (docs/design.md).
 */
#define SG_MAX_STRIDE ((size_t)1 << 24) /* (lanes - 1) * stride fits an int */
#define SG_INL ADJ_VM_TGT_AVX2 static inline __attribute__((always_inline))

typedef __m128 sgv_f32;
typedef __m128i sgi_f32, sgm_f32;
SG_INL sgv_f32 sg_zero_f32(void) { return _mm_setzero_ps(); }
SG_INL sgv_f32 sg_set1_f32(float x) { return _mm_set1_ps(x); }
SG_INL sgv_f32 sg_add_f32(sgv_f32 x, sgv_f32 y) { return _mm_add_ps(x, y); }
SG_INL sgv_f32 sg_mul_f32(sgv_f32 x, sgv_f32 y) { return _mm_mul_ps(x, y); }
SG_INL sgm_f32 sg_mask_f32(size_t w)
{
    return _mm_cmpgt_epi32(_mm_set1_epi32((int)w), _mm_setr_epi32(0, 1, 2, 3));
}
SG_INL sgi_f32 sg_idx_f32(size_t s)
{
    return _mm_mullo_epi32(_mm_setr_epi32(0, 1, 2, 3), _mm_set1_epi32((int)s));
}
/* whole vectors are plain loads and stores; only a row's last, partial
 * vector is masked */
SG_INL sgv_f32 sg_load_f32(const float *p, sgm_f32 mk, size_t w)
{
    return w == 4 ? _mm_loadu_ps(p) : _mm_maskload_ps(p, mk);
}
SG_INL sgv_f32 sg_gather_f32(const float *p, sgi_f32 idx, sgm_f32 mk)
{
    return _mm_mask_i32gather_ps(_mm_setzero_ps(), p, idx, _mm_castsi128_ps(mk), 4);
}
SG_INL void sg_store_f32(float *p, sgm_f32 mk, sgv_f32 v, size_t w)
{
    if (w == 4)
        _mm_storeu_ps(p, v);
    else
        _mm_maskstore_ps(p, mk, v);
}
SG_INL void sg_storeu_f32(float *p, sgv_f32 v) { _mm_storeu_ps(p, v); }

typedef __m128d sgv_f64;
typedef __m128i sgi_f64, sgm_f64;
SG_INL sgv_f64 sg_zero_f64(void) { return _mm_setzero_pd(); }
SG_INL sgv_f64 sg_set1_f64(double x) { return _mm_set1_pd(x); }
SG_INL sgv_f64 sg_add_f64(sgv_f64 x, sgv_f64 y) { return _mm_add_pd(x, y); }
SG_INL sgv_f64 sg_mul_f64(sgv_f64 x, sgv_f64 y) { return _mm_mul_pd(x, y); }
SG_INL sgm_f64 sg_mask_f64(size_t w)
{
    return _mm_cmpgt_epi64(_mm_set1_epi64x((long long)w), _mm_setr_epi32(0, 0, 1, 0));
}
SG_INL sgi_f64 sg_idx_f64(size_t s)
{
    return _mm_mullo_epi32(_mm_setr_epi32(0, 1, 0, 0), _mm_set1_epi32((int)s));
}
SG_INL sgv_f64 sg_load_f64(const double *p, sgm_f64 mk, size_t w)
{
    return w == 2 ? _mm_loadu_pd(p) : _mm_maskload_pd(p, mk);
}
SG_INL sgv_f64 sg_gather_f64(const double *p, sgi_f64 idx, sgm_f64 mk)
{
    return _mm_mask_i32gather_pd(_mm_setzero_pd(), p, idx, _mm_castsi128_pd(mk), 8);
}
SG_INL void sg_store_f64(double *p, sgm_f64 mk, sgv_f64 v, size_t w)
{
    if (w == 2)
        _mm_storeu_pd(p, v);
    else
        _mm_maskstore_pd(p, mk, v);
}
SG_INL void sg_storeu_f64(double *p, sgv_f64 v) { _mm_storeu_pd(p, v); }

/* One small product in the vector kernel's terms: vectors run along j.
 * op(A)[i][p] is a[i ai + p ap], op(B)[p][j] b[p bp + j bj], C[i][j]
 * c[i rsc + j csc]; C[i][j] = beta S[i][j] + sum, where S[i][j] is
 * s[i srs + j scs] (C itself, or the rows' initial values with srs = 0),
 * not read when beta = 0. */
typedef struct sg_job {
    const void *a, *b, *s;
    void *c;
    size_t m, n, k, ai, ap, bp, bj, rsc, csc, srs, scs;
    double beta;
} sg_job;

/* C[j] = beta S[j] + t[j] for the w first lanes, C[j] at c[j csc] and S[j]
 * at s[j scs], where one of them is not contiguous.  Plain scalar code,
 * and its sums come through memory: no vector register crosses the call,
 * so the caller leaves its vectors' upper halves cleared (vzeroupper)
 * before calling, as before returning to code that does not use them. */
#define SG_PUT_STRIDED(T, S, W)                                                              \
    __attribute__((noinline)) static void sg_put_##S(T *c, size_t csc, const T *s, size_t scs, \
                                                     T beta, size_t w, const T *t)           \
    {                                                                                        \
        for (size_t l = 0; l < w; l++)                                                       \
            c[l * csc] = beta == 0 ? t[l] : beta * s[l * scs] + t[l];                        \
    }

/* A row of C from its sums v: c[j csc] = beta s[j scs] + v[j], lanes j < w. */
#define SG_ROW(T, S, W)                                                                      \
    SG_INL void sg_row_##S(T *c, size_t csc, const T *s, size_t scs, T beta, size_t w,       \
                           sgm_##S mk, sgv_##S v)                                            \
    {                                                                                        \
        if (csc != 1 || (beta != 0 && scs > 1)) {                                            \
            T t[W];                                                                          \
            sg_storeu_##S(t, v);                                                             \
            sg_put_##S(c, csc, s, scs, beta, w, t);                                          \
        } else if (beta == 0)                                                                \
            sg_store_##S(c, mk, v, w);                                                       \
        else /* S a row, or one value for the row (scs = 0) */                               \
            sg_store_##S(c, mk,                                                              \
                         sg_add_##S(sg_mul_##S(sg_set1_##S(beta),                            \
                                               scs ? sg_load_##S(s, mk, w) : sg_set1_##S(*s)), \
                                    v),                                                      \
                         w);                                                                 \
    }

/* Sums over p in order: op(B)'s row p read once (y) for R (1, 2 or 4) rows
 * of op(A). */
#define SG_SUMS(S, R, LOAD)                                                                  \
    for (size_t p = 0; p < k; p++, a += ap, b += bp) {                                       \
        const sgv_##S y = LOAD;                                                              \
        s0 = sg_add_##S(s0, sg_mul_##S(sg_set1_##S(a[0]), y));                               \
        if (R > 1)                                                                           \
            s1 = sg_add_##S(s1, sg_mul_##S(sg_set1_##S(a[ai]), y));                          \
        if (R > 2) {                                                                         \
            s2 = sg_add_##S(s2, sg_mul_##S(sg_set1_##S(a[2 * ai]), y));                      \
            s3 = sg_add_##S(s3, sg_mul_##S(sg_set1_##S(a[3 * ai]), y));                      \
        }                                                                                    \
    }

/* R (1, 2 or 4) rows of C from row i, W columns at a time (the last
 * block masked to what is left). */
#define SG_TILE(T, S, W, R)                                                                  \
    ADJ_VM_TGT_AVX2 __attribute__((noinline)) static void sg_tile##R##_##S(const sg_job *g,  \
                                                                          size_t i)          \
    {                                                                                        \
        const size_t n = g->n, k = g->k, ai = g->ai, ap = g->ap, bp = g->bp, bj = g->bj;      \
        const size_t rsc = g->rsc, csc = g->csc, srs = g->srs, scs = g->scs;                 \
        const T beta = (T)g->beta;                                                           \
        const T *const a0 = (const T *)g->a + i * ai;                                        \
        T *const c0 = (T *)g->c + i * rsc;                                                   \
        const T *const sr = beta == 0 ? NULL : (const T *)g->s + i * srs;                    \
        const sgi_##S idx = sg_idx_##S(bj);                                                  \
        for (size_t j = 0; j < n; j += W) {                                                  \
            const size_t w = n - j < W ? n - j : W;                                          \
            const sgm_##S mk = sg_mask_##S(w);                                               \
            const T *a = a0, *b = (const T *)g->b + j * bj;                                  \
            T *c = c0 + j * csc;                                                             \
            const T *s = sr ? sr + j * scs : NULL;                                           \
            sgv_##S s0 = sg_zero_##S(), s1 = s0, s2 = s0, s3 = s0;                           \
            if (bj == 1) {                                                                   \
                SG_SUMS(S, R, sg_load_##S(b, mk, w))                                         \
            } else {                                                                         \
                SG_SUMS(S, R, sg_gather_##S(b, idx, mk))                                     \
            }                                                                                \
            sg_row_##S(c, csc, s, scs, beta, w, mk, s0);                                     \
            if (R > 1)                                                                       \
                sg_row_##S(c + rsc, csc, s ? s + srs : s, scs, beta, w, mk, s1);             \
            if (R > 2) {                                                                     \
                sg_row_##S(c + 2 * rsc, csc, s ? s + 2 * srs : s, scs, beta, w, mk, s2);     \
                sg_row_##S(c + 3 * rsc, csc, s ? s + 3 * srs : s, scs, beta, w, mk, s3);     \
            }                                                                                \
        }                                                                                    \
    }

#define SG_KERNEL(T, S, W)                                                                   \
    SG_PUT_STRIDED(T, S, W)                                                                  \
    SG_ROW(T, S, W)                                                                          \
    SG_TILE(T, S, W, 4)                                                                      \
    SG_TILE(T, S, W, 2)                                                                      \
    SG_TILE(T, S, W, 1)                                                                      \
    static void sg_run_##S(const sg_job *g)                                                  \
    {                                                                                        \
        size_t i = 0;                                                                        \
        for (; i + 4 <= g->m; i += 4)                                                        \
            sg_tile4_##S(g, i);                                                              \
        if (i + 2 <= g->m) {                                                                 \
            sg_tile2_##S(g, i);                                                              \
            i += 2;                                                                          \
        }                                                                                    \
        if (i < g->m)                                                                        \
            sg_tile1_##S(g, i);                                                              \
    }

SG_KERNEL(float, f32, 4)
SG_KERNEL(double, f64, 2)

/* The vector form of the plain loop, where the CPU has AVX2 and the
 * longer side of C has at least 4 elements (false otherwise): as
 * adj_gemm_1t, with beta S added instead of beta C when s is not C
 * (S[i][j] = s[i srs + j scs]). */
static inline __attribute__((always_inline)) bool
small_gemm_avx2(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                size_t rsa, size_t csa, const void *B, size_t rsb, size_t csb, double beta,
                const void *s, size_t srs, size_t scs, void *C, size_t rsc, size_t csc)
{
    const size_t ai = ta ? csa : rsa, ap = ta ? rsa : csa;
    const size_t bp = tb ? csb : rsb, bj = tb ? rsb : csb;
    sg_job g;
    if (n >= m) /* vectors along the rows of C */
        g = (sg_job){A, B, s, C, m, n, k, ai, ap, bp, bj, rsc, csc, srs, scs, beta};
    else /* along its columns: C^T = op(B)^T op(A)^T */
        g = (sg_job){B, A, s, C, n, m, k, bj, bp, ap, ai, csc, rsc, scs, srs, beta};
    if (g.n < 4 || g.bj > SG_MAX_STRIDE || g.csc > SG_MAX_STRIDE || g.scs > SG_MAX_STRIDE ||
        adj_vm_level() < ADJ_VM_AVX2)
        return false;
    if (dtype == ADJ_F64)
        sg_run_f64(&g);
    else
        sg_run_f32(&g);
    return true;
}
#endif

/* One BLIS call on the calling thread only: the pool, not BLIS, spreads
 * products over threads (see adj_gemm). */
static void blis_gemm(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k,
                      const void *A, size_t rsa, size_t csa,
                      const void *B, size_t rsb, size_t csb,
                      double beta, void *C, size_t rsc, size_t csc)
{
    trans_t ta_ = ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    trans_t tb_ = tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    rntm_t rntm;
    bli_rntm_init(&rntm);
    bli_rntm_set_num_threads(1, &rntm);
    if (dtype == ADJ_F64) {
        double one = 1.0, b = beta;
        bli_dgemm_ex(ta_, tb_, (dim_t)m, (dim_t)n, (dim_t)k, &one, (double *)A, (inc_t)rsa,
                     (inc_t)csa, (double *)B, (inc_t)rsb, (inc_t)csb, &b, C, (inc_t)rsc,
                     (inc_t)csc, NULL, &rntm);
    } else {
        float one = 1.0f, b = (float)beta;
        bli_sgemm_ex(ta_, tb_, (dim_t)m, (dim_t)n, (dim_t)k, &one, (float *)A, (inc_t)rsa,
                     (inc_t)csa, (float *)B, (inc_t)rsb, (inc_t)csb, &b, C, (inc_t)rsc,
                     (inc_t)csc, NULL, &rntm);
    }
}

void adj_gemm_1t(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                 size_t rsa, size_t csa, const void *B, size_t rsb, size_t csb, double beta,
                 void *C, size_t rsc, size_t csc)
{
    if (m == 0 || n == 0)
        return;
    if (adj_gemm_is_small(m, n, k)) {
#if ADJ_VM_DISPATCH
        if (small_gemm_avx2(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc,
                            C, rsc, csc))
            return;
#endif
        if (dtype == ADJ_F64)
            SMALL_GEMM(double);
        else
            SMALL_GEMM(float);
        return;
    }
    blis_gemm(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc);
}

/*
 * Products of at least this many multiply-adds are split over the pool's
 * threads, one BLIS call per block: by rows of C (each thread packs all
 * of op(B) and its rows of op(A)), or by columns (adj_gemm_splits_by_rows).
 * No thread waits for another until the end.  Measured on the 2-core
 * reference machine for the products of an MLP step, rows beat columns
 * or tie from 128 rows on unless C is much wider than tall, even where
 * they pack more (docs/performance.md); below, a block of fewer than 64 rows runs
 * BLIS's skx kernels far below their speed (X W^T of 32 x 256 x 784 takes
 * 2/3 of the time of 64 x 256 x 784; 64 x 128 x 784 takes half);
 * BLIS's own threading cannot be used alongside the pool, whose workers
 * would compete with its OpenMP threads for the cores.  The
 * split depends only on the shape and the thread count, so a product is
 * bit-for-bit reproducible for a given thread count.  Across thread
 * counts the last bits may differ: BLIS picks its kernel (and with it
 * the order of the sums) from the shape of each block (tests/test_pool.c
 * checks both).
 */
#define PAR_GEMM_GRAIN 16

/*
 * Whether adj_gemm splits C by rows (else by columns).  Per thread a split
 * by rows packs about k n + k m / T elements (all of op(B), its rows of
 * op(A)), a split by columns k m + k n / T.  Below 128 rows, columns
 * wherever C is wider than tall.  From 128 rows, rows unless C is at
 * least 4 times wider than tall, where at 2 threads the row split packs
 * 1.5 times what the column split packs: the default training run's first
 * layer, 128 x 512 x 784, where each thread packed all of W (1.6 MB, more
 * than a core's L2) for 64 rows (docs/performance.md).
 */
bool adj_gemm_splits_by_rows(size_t m, size_t n)
{
    return m >= n || (m >= 8 * PAR_GEMM_GRAIN && n < 4 * m);
}

typedef struct gemm_job {
    int dtype;
    bool ta, tb, by_rows;
    size_t m, n, k, rsa, csa, rsb, csb, rsc, csc, esize;
    const char *A, *B;
    char *C;
    double beta;
    bool fill;        /* set C's block first to copies of init (zeros if NULL) */
    const char *init; /* n elements: the value of every row of C */
} gemm_job;

/* C[i][j0..j1) = init[j0..j1) (zeros when init is NULL) for rows [i0, i1). */
static void fill_rows(char *C, size_t rsc, size_t es, const char *init, size_t i0, size_t i1,
                      size_t j0, size_t j1)
{
    for (size_t i = i0; i < i1; i++) {
        char *row = C + (i * rsc + j0) * es;
        if (init)
            memcpy(row, init + j0 * es, (j1 - j0) * es);
        else
            memset(row, 0, (j1 - j0) * es);
    }
}

static void gemm_block(void *ctx, size_t lo, size_t hi)
{
    const gemm_job *g = ctx;
    if (g->fill)
        fill_rows(g->C, g->rsc, g->esize, g->init, g->by_rows ? lo : 0, g->by_rows ? hi : g->m,
                  g->by_rows ? 0 : lo, g->by_rows ? g->n : hi);
    if (g->by_rows) {
        size_t ai = g->ta ? g->csa : g->rsa;
        blis_gemm(g->dtype, g->ta, g->tb, hi - lo, g->n, g->k, g->A + lo * ai * g->esize,
                  g->rsa, g->csa, g->B, g->rsb, g->csb, g->beta,
                  g->C + lo * g->rsc * g->esize, g->rsc, g->csc);
    } else {
        size_t bj = g->tb ? g->rsb : g->csb;
        blis_gemm(g->dtype, g->ta, g->tb, g->m, hi - lo, g->k, g->A, g->rsa, g->csa,
                  g->B + lo * bj * g->esize, g->rsb, g->csb, g->beta,
                  g->C + lo * g->csc * g->esize, g->rsc, g->csc);
    }
}

/*
 * The split over k (adj_gemm_ksplit_bytes): part t of T multiplies the
 * columns [t kc, (t + 1) kc) of op(A) by those rows of op(B), kc = k / T
 * rounded up to 16; part 0 adds into C (after setting its rows to init),
 * part t > 0 stores into slot t - 1 of `part` (m x n, row-major).  Then
 * every element of C adds the slots in order 1, 2, ..  Which thread
 * runs a part never changes its sums, so the bits depend only on the
 * shape and the thread count.
 */
typedef struct ksplit_job {
    gemm_job g;
    char *part;
    size_t kc, parts;
} ksplit_job;

static bool ksplit_applies(size_t m, size_t n, size_t k)
{
    return adj_threads() > 1 && !adj_gemm_is_small(m, n, k) && m * n * k >= ADJ_PAR_GEMM_MACS &&
           m >= 8 * PAR_GEMM_GRAIN && k >= 2 * (m > n ? m : n);
}

size_t adj_gemm_ksplit_bytes(int dtype, size_t m, size_t n, size_t k)
{
    if (!ksplit_applies(m, n, k))
        return 0;
    const size_t T = (size_t)adj_threads(), es = dtype == ADJ_F64 ? sizeof(double) : sizeof(float);
    size_t kc = ((k + T - 1) / T + PAR_GEMM_GRAIN - 1) / PAR_GEMM_GRAIN * PAR_GEMM_GRAIN;
    return ((k + kc - 1) / kc - 1) * m * n * es;
}

static void ksplit_part(void *ctx, size_t lo, size_t hi)
{
    const ksplit_job *j = ctx;
    const gemm_job *g = &j->g;
    for (size_t t = lo; t < hi; t++) {
        const size_t p0 = t * j->kc, p1 = p0 + j->kc < g->k ? p0 + j->kc : g->k;
        const char *A = g->A + p0 * (g->ta ? g->rsa : g->csa) * g->esize;
        const char *B = g->B + p0 * (g->tb ? g->csb : g->rsb) * g->esize;
        if (t == 0) {
            if (g->fill)
                fill_rows(g->C, g->rsc, g->esize, g->init, 0, g->m, 0, g->n);
            blis_gemm(g->dtype, g->ta, g->tb, g->m, g->n, p1 - p0, A, g->rsa, g->csa, B, g->rsb,
                      g->csb, g->beta, g->C, g->rsc, g->csc);
        } else {
            blis_gemm(g->dtype, g->ta, g->tb, g->m, g->n, p1 - p0, A, g->rsa, g->csa, B, g->rsb,
                      g->csb, 0.0, j->part + (t - 1) * g->m * g->n * g->esize, g->n, 1);
        }
    }
}

/* C[i][j] += slot 1, then slot 2, ..., rows [lo, hi) */
#define KSPLIT_ADD(T)                                                                  \
    for (size_t i = lo; i < hi; i++)                                                   \
        for (size_t t = 1; t < j->parts; t++) {                                        \
            T *c = (T *)g->C + i * g->rsc;                                             \
            const T *q = (const T *)j->part + ((t - 1) * g->m + i) * g->n;             \
            for (size_t x = 0; x < g->n; x++)                                          \
                c[x * g->csc] += q[x];                                                 \
        }

static void ksplit_add(void *ctx, size_t lo, size_t hi)
{
    const ksplit_job *j = ctx;
    const gemm_job *g = &j->g;
    if (g->dtype == ADJ_F64)
        KSPLIT_ADD(double)
    else
        KSPLIT_ADD(float)
}

/* adj_gemm and adj_gemm_rows: fill says whether C's rows are first set to
 * init (beta is then 1); part, when not NULL, is adj_gemm_ksplit_bytes of
 * scratch for the split over k. */
static void gemm_run(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                     size_t rsa, size_t csa, const void *B, size_t rsb, size_t csb, double beta,
                     void *C, size_t rsc, size_t csc, bool fill, const void *init, void *part)
{
    if (m == 0 || n == 0)
        return;
    const size_t es = dtype == ADJ_F64 ? sizeof(double) : sizeof(float);
    if (!adj_gemm_is_small(m, n, k) && adj_threads() > 1 && k > 0 && m * n * k >= ADJ_PAR_GEMM_MACS) {
        gemm_job g = {dtype, ta, tb, adj_gemm_splits_by_rows(m, n), m, n, k, rsa, csa, rsb, csb, rsc, csc,
                      es, A, B, C, beta, fill, init};
        if (part && ksplit_applies(m, n, k)) {
            const size_t T = (size_t)adj_threads();
            ksplit_job j = {g, part, ((k + T - 1) / T + PAR_GEMM_GRAIN - 1) / PAR_GEMM_GRAIN * PAR_GEMM_GRAIN, 0};
            j.parts = (k + j.kc - 1) / j.kc;
            adj_par_tasks(j.parts, ksplit_part, &j);
            adj_par_for(m, PAR_GEMM_GRAIN, ksplit_add, &j);
            return;
        }
        adj_par_for(g.by_rows ? m : n, PAR_GEMM_GRAIN, gemm_block, &g);
        return;
    }
    if (fill)
        fill_rows(C, rsc, es, init, 0, m, 0, n);
    adj_gemm_1t(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc);
}

void adj_gemm(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A, size_t rsa,
              size_t csa, const void *B, size_t rsb, size_t csb, double beta, void *C, size_t rsc,
              size_t csc)
{
#if ADJ_VM_DISPATCH
    /* a small product straight to the vector loop (as adj_gemm_1t would) */
    if (m && n && adj_gemm_is_small(m, n, k) &&
        small_gemm_avx2(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc, C,
                        rsc, csc))
        return;
#endif
    gemm_run(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc, false, NULL, NULL);
}

void adj_gemm_split(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                    size_t rsa, size_t csa, const void *B, size_t rsb, size_t csb, void *C,
                    size_t rsc, void *part)
{
    if (!part) {
        adj_gemm(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, 0.0, C, rsc, 1);
        return;
    }
    gemm_run(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, 0.0, C, rsc, 1, false, NULL, part);
}

void adj_gemm_rows(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                   size_t rsa, size_t csa, const void *B, size_t rsb, size_t csb, const void *init,
                   void *C, size_t rsc, void *part)
{
#if ADJ_VM_DISPATCH
    /* a small product adds its rows' initial values itself (the same
     * beta = 1 sums as filling C first) */
    if (m && n && init && adj_gemm_is_small(m, n, k) &&
        small_gemm_avx2(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, 1.0, init, 0, 1, C, rsc,
                        1))
        return;
#endif
    gemm_run(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, 1.0, C, rsc, 1, true, init, part);
}

/* Whether two adjoint buffers of na and nb elements share memory: the
 * same var on both sides (A^T A, X W^T with X = W) or two views of one
 * parameter store.  Then the two products of a backward accumulate into
 * the same elements and must not run at once. */
static bool overlap(const void *a, size_t na, const void *b, size_t nb, size_t es)
{
    const uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a0 < b0 + nb * es && b0 < a0 + na * es;
}

/* The pair of a backward (gemm.h). */
void adj_gemm_pair(adj_range_fn task, void *ctx, const void *g0, size_t n0, const void *g1,
                   size_t n1, size_t macs, size_t es)
{
    if (g0 && g1 && adj_threads() == 2 && macs >= ADJ_PAR_GEMM_MACS && !overlap(g0, n0, g1, n1, es))
        adj_par_tasks(2, task, ctx);
    else
        task(ctx, 0, 2);
}

/* The same sum in four interleaved partial sums (a different rounding
 * order, as BLIS's own): for products that the forward sends to BLIS. */
double adj_dot4(const double *a, size_t sa, const double *b, size_t sb, size_t k)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t p = 0;
    if (sa == 1 && sb == 1)
        for (; p + 4 <= k; p += 4) {
            s0 += a[p] * b[p];
            s1 += a[p + 1] * b[p + 1];
            s2 += a[p + 2] * b[p + 2];
            s3 += a[p + 3] * b[p + 3];
        }
    else
        for (; p + 4 <= k; p += 4) {
            s0 += a[p * sa] * b[p * sb];
            s1 += a[(p + 1) * sa] * b[(p + 1) * sb];
            s2 += a[(p + 2) * sa] * b[(p + 2) * sb];
            s3 += a[(p + 3) * sa] * b[(p + 3) * sb];
        }
    for (; p < k; p++)
        s0 += a[p * sa] * b[p * sb];
    return (s0 + s1) + (s2 + s3);
}
