/*
 * Direct float convolutions for AVX-512 CPUs: stride 1, dilation 1, one
 * group, padding smaller than the kernel (see conv_kernels.h).  No col
 * matrix and no packing by BLIS: the products read a zero-padded copy of
 * each sample's planes in place.
 *
 * With the padded planes (C, Hp, Wp) of a sample at src, window row k =
 * (c, i, j) of output pixel p = (oh, ow) is src[pofs[p] + off[k]], where
 * pofs[p] = oh Wp + ow and off[k] = c Hp Wp + i Wp + j.  Two kernels:
 *
 *   igemm  out (P, O16) = col W^T: a tile of MP pixels by OV vectors of
 *          16 output channels in registers; per k, OV weight vectors and
 *          MP broadcasts of src.  Weights (K, O16) packed per call,
 *          walked in chunks of k that stay in L1.  The forward (src = x
 *          padded by (ph, pw)) and the data adjoint (src = dy padded by
 *          (kh-1-ph, kw-1-pw), the weight flipped and transposed) both;
 *          out is then transposed into NCHW (with the bias, or added).
 *   wgemm  dWt (K, O16) += col^T dyT, dyT (P, O16) the transposed dy: a
 *          tile of KT rows of k by OV vectors of output channels, summed
 *          over pixels in registers.  With the bias adjoint wanted, the
 *          padded planes get one more plane of ones and col one more row
 *          k = K reading it: row K of dWt is then the sum of dy over the
 *          pixels, summed with dW in the same pass over dy.
 *
 * Every sum runs over k (igemm) or over samples then pixels (wgemm) in a
 * fixed order with fused multiply-adds: the forward and the data adjoint
 * give the same bits for any thread count; the weight adjoint's per-task
 * sums are added in task order (bits per thread count).
 */
#include "ops/conv_kernels.h"
#include "core/pool.h"
#include "ops/dispatch.h"

#include <string.h>
#if ADJ_VM_DISPATCH
#include <immintrin.h>
#endif

bool adj_conv_direct_ok(int dtype, const adj_conv_geom *g)
{
#if ADJ_VM_DISPATCH
    return dtype == ADJ_F32 && adj_vm_level() == ADJ_VM_AVX512 && g->groups == 1 &&
           g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->ph < (long)g->kh &&
           g->pw < (long)g->kw && g->hs == g->hb + 2 * (size_t)g->ph - g->kh + 1 &&
           g->ws == g->wb + 2 * (size_t)g->pw - g->kw + 1 && g->cb > 0 && g->cs > 0 &&
           g->hs * g->ws > 0 && g->cb * g->kh * g->kw < ((size_t)1 << 20) &&
           g->cb * (g->hb + 2 * (size_t)g->ph) * (g->wb + 2 * (size_t)g->pw) < ((size_t)1 << 30);
#else
    (void)dtype, (void)g;
    return false;
#endif
}

#if ADJ_VM_DISPATCH

#define TGT ADJ_VM_TGT_AVX512
#define INL TGT static inline __attribute__((always_inline))

/* igemm's tile: out[p][o0 + 16 v] for MP pixels, over k in [k0, k1),
 * started from zero (first) or from out.  CONTIG: the MP pixels are
 * consecutive in one row (one base pointer and constant offsets: with 14
 * pixels the other form has more pointers than registers). */
#define ITILE(NAME, OV, MP, CONTIG)                                            \
    INL void NAME(const float *src, const int *off, size_t k0, size_t k1, const int *pofs, \
                  const float *wt, size_t ldw, float *out, size_t ldo, bool first) \
    {                                                                          \
        __m512 acc[MP][OV];                                                    \
        const float *b[MP];                                                    \
        for (int m = 0; m < MP; m++) {                                         \
            b[m] = src + (CONTIG ? pofs[0] + m : pofs[m]);                     \
            for (int v = 0; v < OV; v++)                                       \
                acc[m][v] = first ? _mm512_setzero_ps()                        \
                                  : _mm512_loadu_ps(out + (size_t)m * ldo + 16 * v); \
        }                                                                      \
        for (size_t k = k0; k < k1; k++) {                                     \
            const float *wk = wt + k * ldw;                                    \
            const int o = off[k];                                              \
            const float *bk = b[0] + o;                                        \
            __m512 wv[OV];                                                     \
            for (int v = 0; v < OV; v++)                                       \
                wv[v] = _mm512_loadu_ps(wk + 16 * v);                          \
            for (int m = 0; m < MP; m++) {                                     \
                const __m512 x = _mm512_set1_ps(CONTIG ? bk[m] : b[m][o]);     \
                for (int v = 0; v < OV; v++)                                   \
                    acc[m][v] = _mm512_fmadd_ps(x, wv[v], acc[m][v]);          \
            }                                                                  \
        }                                                                      \
        for (int m = 0; m < MP; m++)                                           \
            for (int v = 0; v < OV; v++)                                       \
                _mm512_storeu_ps(out + (size_t)m * ldo + 16 * v, acc[m][v]);   \
    }
ITILE(itile_1, 1, 12, false)
ITILE(itile_2, 2, 14, false)
ITILE(itile_2c, 2, 14, true)
ITILE(itile_3, 3, 8, false)
ITILE(itile_4, 4, 6, false)

/* pixels per igemm tile for OV vectors (Ppad is a multiple of each used) */
static size_t imp(size_t ov) { return ov == 4 ? 6 : ov == 3 ? 8 : ov == 2 ? 14 : 12; }

/* out (Ppad, o16) = col W^T of one sample (pofs has Ppad entries).  The
 * offsets of real pixels rise and the rows past P repeat the last one: a
 * 14-pixel tile whose last step is not a repeat and whose ends are 13 apart
 * is 14 consecutive pixels. */
TGT static void igemm(const float *src, const int *off, size_t K, const int *pofs, size_t Ppad,
                      const float *wt, size_t o16, float *out)
{
    for (size_t o0 = 0; o0 < o16; o0 += 64) {
        const size_t ov = o16 - o0 >= 64 ? 4 : (o16 - o0) / 16, mp = imp(ov);
        const size_t kc = 256 / ov; /* kc rows of the weight block: 16 KiB */
        for (size_t k0 = 0; k0 < K; k0 += kc) {
            const size_t k1 = K - k0 < kc ? K : k0 + kc;
            for (size_t p = 0; p < Ppad; p += mp) {
                float *o = out + p * o16 + o0;
                const float *w = wt + o0;
                if (ov == 4)
                    itile_4(src, off, k0, k1, pofs + p, w, o16, o, o16, k0 == 0);
                else if (ov == 3)
                    itile_3(src, off, k0, k1, pofs + p, w, o16, o, o16, k0 == 0);
                else if (ov == 2 && pofs[p + 13] - pofs[p] == 13 && pofs[p + 13] != pofs[p + 12])
                    itile_2c(src, off, k0, k1, pofs + p, w, o16, o, o16, k0 == 0);
                else if (ov == 2)
                    itile_2(src, off, k0, k1, pofs + p, w, o16, o, o16, k0 == 0);
                else
                    itile_1(src, off, k0, k1, pofs + p, w, o16, o, o16, k0 == 0);
            }
        }
    }
}

/* wgemm's tile: dwt[k0 + t][o0 + 16 v] += sum over pixels [p0, p1) of
 * src[pofs[p] + off[k0 + t]] dyt[p][o0 + 16 v]. */
#define WTILE(OV, KT)                                                          \
    INL void wtile_##OV(const float *src, const int *off, const int *pofs, size_t p0, size_t p1, \
                        const float *dyt, size_t ldd, float *dwt, size_t ldw)  \
    {                                                                          \
        __m512 acc[KT][OV];                                                    \
        int o[KT];                                                             \
        for (int t = 0; t < KT; t++) {                                         \
            o[t] = off[t];                                                     \
            for (int v = 0; v < OV; v++)                                       \
                acc[t][v] = _mm512_loadu_ps(dwt + (size_t)t * ldw + 16 * v);   \
        }                                                                      \
        for (size_t p = p0; p < p1; p++) {                                     \
            const float *b = src + pofs[p], *d = dyt + p * ldd;                \
            __m512 dv[OV];                                                     \
            for (int v = 0; v < OV; v++)                                       \
                dv[v] = _mm512_loadu_ps(d + 16 * v);                           \
            for (int t = 0; t < KT; t++) {                                     \
                const __m512 x = _mm512_set1_ps(b[o[t]]);                      \
                for (int v = 0; v < OV; v++)                                   \
                    acc[t][v] = _mm512_fmadd_ps(x, dv[v], acc[t][v]);          \
            }                                                                  \
        }                                                                      \
        for (int t = 0; t < KT; t++)                                           \
            for (int v = 0; v < OV; v++)                                       \
                _mm512_storeu_ps(dwt + (size_t)t * ldw + 16 * v, acc[t][v]);   \
    }
WTILE(1, 16)
WTILE(2, 9)
WTILE(3, 8)
WTILE(4, 6)

static size_t wkt(size_t ov) { return ov == 4 ? 6 : ov == 3 ? 8 : ov == 2 ? 9 : 16; }

/* dwt (Kpad, o16) += col^T dyt (P, o16) of one sample; off has Kpad
 * entries, Kpad a multiple of every tile's rows (kpad). */
TGT static void wgemm(const float *src, const int *off, size_t Kpad, const int *pofs, size_t P,
                      const float *dyt, size_t o16, float *dwt)
{
    for (size_t o0 = 0; o0 < o16; o0 += 64) {
        const size_t ov = o16 - o0 >= 64 ? 4 : (o16 - o0) / 16, kt = wkt(ov);
        for (size_t p0 = 0; p0 < P; p0 += 64) { /* 64 rows of dyt: 16 KiB */
            const size_t p1 = P - p0 < 64 ? P : p0 + 64;
            for (size_t k = 0; k < Kpad; k += kt) {
                float *w = dwt + k * o16 + o0;
                const float *d = dyt + o0;
                if (ov == 4)
                    wtile_4(src, off + k, pofs, p0, p1, d, o16, w, o16);
                else if (ov == 3)
                    wtile_3(src, off + k, pofs, p0, p1, d, o16, w, o16);
                else if (ov == 2)
                    wtile_2(src, off + k, pofs, p0, p1, d, o16, w, o16);
                else
                    wtile_1(src, off + k, pofs, p0, p1, d, o16, w, o16);
            }
        }
    }
}

/* ------------------------------------------------------------ the driver */

/* One direct convolution of a sample's planes (c, h, w) padded by (ph,
 * pw) with a (kh, kw) kernel: the padded plane, offsets and pixels. */
typedef struct side {
    size_t c, h, w, ph, pw, hp, wp, ps; /* ps: padded plane size */
    size_t ho, wo, P, Ppad, K, Kpad;
    size_t ones; /* 1: plane c holds ones, read by row K of the offsets */
    int *off, *pofs;
} side;

static size_t gcd(size_t a, size_t b) { return b ? gcd(b, a % b) : a; }

/* K rounded up to whole wgemm tiles of rows for o16 output channels */
static size_t kpad(size_t K, size_t o16)
{
    size_t u = o16 >= 64 ? wkt(4) : 1;
    if (o16 % 64)
        u = u / gcd(u, wkt(o16 % 64 / 16)) * wkt(o16 % 64 / 16);
    return (K + u - 1) / u * u;
}

/* P rounded up to whole igemm tiles of pixels for o16 output channels:
 * 14x14 planes take 198 rows at 64 channels and 196 at 32, not 216 */
static size_t ppad(size_t P, size_t o16)
{
    size_t u = o16 >= 64 ? imp(4) : 1;
    if (o16 % 64)
        u = u / gcd(u, imp(o16 % 64 / 16)) * imp(o16 % 64 / 16);
    return (P + u - 1) / u * u;
}

static size_t side_init(side *s, size_t c, size_t h, size_t w, size_t ph, size_t pw,
                        size_t o16, const adj_conv_geom *g, size_t ones)
{
    s->c = c, s->h = h, s->w = w, s->ph = ph, s->pw = pw, s->ones = ones;
    s->hp = h + 2 * ph, s->wp = w + 2 * pw, s->ps = s->hp * s->wp;
    s->ho = s->hp - g->kh + 1, s->wo = s->wp - g->kw + 1;
    s->P = s->ho * s->wo, s->Ppad = ppad(s->P, o16);
    s->K = c * g->kh * g->kw, s->Kpad = kpad(s->K + ones, o16);
    return (s->Kpad + s->Ppad) * sizeof(int);
}

static void side_tables(side *s, const adj_conv_geom *g, int *mem)
{
    s->off = mem, s->pofs = mem + s->Kpad;
    for (size_t k = 0; k < s->Kpad; k++) {
        const size_t c = k / (g->kh * g->kw), i = k / g->kw % g->kh, j = k % g->kw;
        s->off[k] = k < s->K ? (int)(c * s->ps + i * s->wp + j)
                    : k == s->K && s->ones ? (int)(s->c * s->ps) : 0;
    }
    for (size_t p = 0; p < s->Ppad; p++) {
        const size_t q = p < s->P ? p : s->P - 1;
        s->pofs[p] = (int)(q / s->wo * s->wp + q % s->wo);
    }
}

/* the interior of the padded planes dst from src (c, h, w): rows of 16
 * floats and a masked remainder (a library call a row of 14 cost as much
 * as the copy, 4% of conv2d 32->64's forward + backward) */
TGT static void pad_copy(const side *s, const float *src, float *dst)
{
    const size_t w = s->w, w16 = w & ~(size_t)15;
    const __mmask16 tail = (__mmask16)((1u << (w & 15)) - 1);
    for (size_t r = 0; r < s->c * s->h; r++) {
        const float *a = src + r * w;
        float *d = dst + r / s->h * s->ps + (r % s->h + s->ph) * s->wp + s->pw;
        for (size_t j = 0; j < w16; j += 16)
            _mm512_storeu_ps(d + j, _mm512_loadu_ps(a + j));
        if (tail)
            _mm512_mask_storeu_ps(d + w16, tail, _mm512_maskz_loadu_ps(tail, a + w16));
    }
}

enum { D_FWD, D_BWD };

typedef struct djob {
    const adj_conv_geom *g;
    int kind;
    size_t ntask, per_task, cs16, cb16;
    side x, y;             /* x: the big side padded (fwd, dw); y: dy padded (dx) */
    const float *in, *in2; /* fwd: x; bwd: dy, x */
    const float *wt, *wtx; /* fwd: W^T (K, cs16); dx: the flipped W^T (K', cb16) */
    float *out, *dx, *dw;  /* fwd: s; bwd: dx, the per-task dW^T (or NULL) */
    const float *bias;
    bool acc;
    char *scratch;
} djob;

static void dtask(void *ctx, size_t lo, size_t hi)
{
    const djob *j = ctx;
    const adj_conv_geom *g = j->g;
    for (size_t t = lo; t < hi; t++) {
        const size_t n0 = t * g->n / j->ntask, n1 = (t + 1) * g->n / j->ntask;
        float *xp = (float *)(j->scratch + t * j->per_task);
        const size_t nxp = j->kind == D_FWD || j->dw ? (j->x.c + j->x.ones) * j->x.ps : 0;
        float *yp = xp + nxp;
        float *tmp = yp + (j->dx ? j->y.c * j->y.ps : 0);
        const size_t ntmp = j->kind == D_FWD ? j->x.Ppad * j->cs16 : j->dx ? j->y.Ppad * j->cb16 : 0;
        float *dyt = tmp + ntmp, *part = dyt + (j->dw ? j->x.P * j->cs16 : 0);
        memset(xp, 0, nxp * sizeof(float));
        for (size_t i = j->x.ones ? j->x.c * j->x.ps : nxp; i < nxp; i++)
            xp[i] = 1.0f;
        if (j->dx)
            memset(yp, 0, j->y.c * j->y.ps * sizeof(float));
        if (j->dw) {
            memset(dyt, 0, j->x.P * j->cs16 * sizeof(float)); /* the columns past cs stay 0 */
            memset(part, 0, j->x.Kpad * j->cs16 * sizeof(float));
        }
        for (size_t n = n0; n < n1; n++) {
            const size_t xoff = n * g->cb * g->hb * g->wb, soff = n * g->cs * g->hs * g->ws;
            if (j->kind == D_FWD) {
                pad_copy(&j->x, j->in + xoff, xp);
                igemm(xp, j->x.off, j->x.K, j->x.pofs, j->x.Ppad, j->wt, j->cs16, tmp);
                adj_conv_tr_f32(tmp, j->cs16, j->out + soff, j->x.P, j->x.P, g->cs,
                                j->acc ? ADJ_TR_ADD : j->bias ? ADJ_TR_BIAS : ADJ_TR_COPY, j->bias);
                continue;
            }
            if (j->dx) {
                pad_copy(&j->y, j->in + soff, yp);
                igemm(yp, j->y.off, j->y.K, j->y.pofs, j->y.Ppad, j->wtx, j->cb16, tmp);
                adj_conv_tr_f32(tmp, j->cb16, j->dx + xoff, j->y.P, j->y.P, g->cb, ADJ_TR_ADD, NULL);
            }
            if (j->dw) {
                pad_copy(&j->x, j->in2 + xoff, xp);
                adj_conv_tr_f32(j->in + soff, j->x.P, dyt, j->cs16, g->cs, j->x.P, ADJ_TR_COPY, NULL);
                wgemm(xp, j->x.off, j->x.Kpad, j->x.pofs, j->x.P, dyt, j->cs16, part);
            }
        }
    }
}

static size_t threads_for(const adj_conv_geom *g)
{
    const size_t macs = g->n * g->cs * g->cb * g->kh * g->kw * g->hs * g->ws;
    const size_t th = (size_t)adj_threads();
    return macs >= ((size_t)1 << 17) && th > 1 ? (th < g->n ? th : g->n) : 1;
}

static void run_tasks(djob *j)
{
    if (j->ntask > 1)
        adj_par_tasks(j->ntask, dtask, j);
    else
        dtask(j, 0, 1);
}

bool adj_conv_direct_down(adj_tape *t, const adj_conv_geom *g, const float *b, const float *w,
                          float *s, bool acc, const float *bias)
{
    djob j = {.g = g, .kind = D_FWD, .in = b, .out = s, .bias = acc ? NULL : bias, .acc = acc};
    if (g->n == 0)
        return true;
    j.cs16 = (g->cs + 15) / 16 * 16;
    const size_t tab = side_init(&j.x, g->cb, g->hb, g->wb, (size_t)g->ph, (size_t)g->pw, j.cs16, g, 0);
    j.ntask = threads_for(g);
    j.per_task = ((j.x.c * j.x.ps + j.x.Ppad * j.cs16) * sizeof(float) + 63) & ~(size_t)63;
    const size_t wbytes = j.x.K * j.cs16 * sizeof(float);
    j.scratch = adj_arena_alloc(t, j.ntask * j.per_task + wbytes + tab);
    if (!j.scratch)
        return false;
    float *wt = (float *)(j.scratch + j.ntask * j.per_task);
    side_tables(&j.x, g, (int *)((char *)wt + wbytes));
    memset(wt, 0, wbytes);
    for (size_t o = 0; o < g->cs; o++) /* W^T, rows in W's own (c, i, j) order */
        for (size_t k = 0; k < j.x.K; k++)
            wt[k * j.cs16 + o] = w[o * j.x.K + k];
    j.wt = wt;
    run_tasks(&j);
    return true;
}

bool adj_conv_direct_backward(adj_tape *t, const adj_conv_geom *g, const float *s, const float *b,
                              const float *w, float *db, float *dw, float *dbias)
{
    djob j = {.g = g, .kind = D_BWD, .in = s, .in2 = b};
    if (g->n == 0 || !(db || dw))
        return true;
    j.cs16 = (g->cs + 15) / 16 * 16, j.cb16 = (g->cb + 15) / 16 * 16;
    size_t tab = side_init(&j.x, g->cb, g->hb, g->wb, (size_t)g->ph, (size_t)g->pw, j.cs16, g,
                           dw && dbias);
    tab += side_init(&j.y, g->cs, g->hs, g->ws, g->kh - 1 - (size_t)g->ph,
                     g->kw - 1 - (size_t)g->pw, j.cb16, g, 0);
    j.ntask = threads_for(g);
    size_t per = 0;
    if (dw)
        per += (j.x.c + j.x.ones) * j.x.ps + j.x.P * j.cs16 + j.x.Kpad * j.cs16;
    if (db)
        per += j.y.c * j.y.ps + j.y.Ppad * j.cb16;
    j.per_task = (per * sizeof(float) + 63) & ~(size_t)63;
    const size_t wbytes = db ? j.y.K * j.cb16 * sizeof(float) : 0;
    j.scratch = adj_arena_alloc(t, j.ntask * j.per_task + wbytes + tab);
    if (!j.scratch)
        return false;
    float *wt = (float *)(j.scratch + j.ntask * j.per_task);
    int *tabs = (int *)((char *)wt + wbytes);
    side_tables(&j.x, g, tabs);
    side_tables(&j.y, g, tabs + j.x.Kpad + j.x.Ppad);
    if (db) { /* row (o, i, j) of the flipped kernel, column c: W[o, c, kh-1-i, kw-1-j] */
        const size_t khw = g->kh * g->kw;
        memset(wt, 0, wbytes);
        for (size_t o = 0; o < g->cs; o++)
            for (size_t c = 0; c < g->cb; c++)
                for (size_t q = 0; q < khw; q++)
                    wt[(o * khw + q) * j.cb16 + c] = w[(o * g->cb + c) * khw + khw - 1 - q];
        j.wtx = wt, j.dx = db;
    }
    j.dw = dw;
    run_tasks(&j);
    if (dw) { /* dw[o, k] += sum over tasks, in task order, of dW^T[k, o]; the bias's from row K */
        const size_t poff = (j.x.c + j.x.ones) * j.x.ps + j.x.P * j.cs16 +
                            (db ? j.y.c * j.y.ps + j.y.Ppad * j.cb16 : 0);
        for (size_t k = 0; k < j.x.K + j.x.ones; k++)
            for (size_t o = 0; o < g->cs; o++) {
                float v = 0;
                for (size_t q = 0; q < j.ntask; q++)
                    v += ((const float *)(j.scratch + q * j.per_task))[poff + k * j.cs16 + o];
                if (k < j.x.K)
                    dw[o * j.x.K + k] += v;
                else
                    dbias[o] += v;
            }
    }
    return true;
}

#else

bool adj_conv_direct_down(adj_tape *t, const adj_conv_geom *g, const float *b, const float *w,
                          float *s, bool acc, const float *bias)
{
    (void)t, (void)g, (void)b, (void)w, (void)s, (void)acc, (void)bias;
    return false;
}

bool adj_conv_direct_backward(adj_tape *t, const adj_conv_geom *g, const float *s, const float *b,
                              const float *w, float *db, float *dw, float *dbias)
{
    (void)t, (void)g, (void)s, (void)b, (void)w, (void)db, (void)dw, (void)dbias;
    return false;
}

#endif
