/*
 * How the elementwise unary ops (ops/unary.h) run their range kernels
 * over y: split over the pool, contiguous x directly, strided x (a
 * transposed or sliced view) a block at a time, each block gathered into
 * a buffer on the stack so the kernels still run on contiguous memory.
 *
 * A block is a run of y's elements when x steps through y's last axis by
 * a small stride (a slice).  When it jumps (a transposed x: the last axis
 * of y is x's slowest), reading a run of y would touch one page per
 * element; the block is then a tile of y's last axis a by x's fastest
 * axis b, read from x along b, and the kernel runs on each of its rows.
 */
#include "ops/unary.h"
#include "ops/strided_op.h"
#include "tensor/strided.h"
#include "tensor/transpose.h"

#include <string.h>

void adj_unary_strided(void *ctx, size_t lo, size_t hi)
{
    const adj_unary_strided_ctx *s = ctx;
    const size_t es = adj_dsize(s->k.y->dtype);
    _Alignas(64) double buf[ADJ_UNARY_BLOCK];
    for (size_t b = lo; b < hi;) {
        const size_t n = hi - b > ADJ_UNARY_BLOCK ? ADJ_UNARY_BLOCK : hi - b;
        adj_iter_gather(&s->it, es, buf, s->k.x, (int64_t)b, (int64_t)n);
        adj_unary_k k = s->k;
        k.x = buf;
        const size_t off = b * es;
        k.out = (char *)k.out + off;
        if (k.yv)
            k.yv = (const char *)k.yv + off;
        if (k.dy)
            k.dy = (const char *)k.dy + off;
        if (k.tx)
            k.tx = (const char *)k.tx + off;
        s->fn(&k, 0, n);
        b += n;
    }
}

/* The tiled walk: tiles of ta x tb elements over axes a (y's last) and b
 * (x's fastest), every other axis an outer index. */
typedef struct tiled_ctx {
    adj_unary_k k;
    void (*fn)(void *ctx, size_t lo, size_t hi);
    int nd;                                  /* outer axes */
    int64_t oshape[ADJ_MAX_DIMS], oys[ADJ_MAX_DIMS], oxs[ADJ_MAX_DIMS];
    int64_t na, nb, ysb, xsa, xsb, ta, tb, tiles_a, tiles_b;
} tiled_ctx;

#define TILE_GATHER(T)                                                         \
    do {                                                                       \
        T *d_ = (T *)buf;                                                      \
        const T *s_ = (const T *)s->k.x + xo + b0 * s->xsb;                    \
        for (int64_t j_ = 0; j_ < alen; j_++) {                                \
            const T *c_ = s_ + (a0 + j_) * s->xsa;                             \
            for (int64_t i_ = 0; i_ < blen; i_++)                              \
                d_[i_ * alen + j_] = c_[i_ * s->xsb];                          \
        }                                                                      \
    } while (0)

/* The tiled walk's buffer, in doubles (32 KB: rows of up to 1024 elements,
 * the length from which the kernels take their widest code). */
#define TILE_BUF (4 * ADJ_UNARY_BLOCK)

static void unary_tiled(void *ctx, size_t lo, size_t hi)
{
    const tiled_ctx *s = ctx;
    const size_t es = adj_dsize(s->k.y->dtype);
    _Alignas(64) double buf[TILE_BUF];
    for (size_t u = lo; u < hi; u++) {
        int64_t q = (int64_t)u;
        const int64_t ia = q % s->tiles_a;
        q /= s->tiles_a;
        const int64_t ib = q % s->tiles_b;
        q /= s->tiles_b;
        int64_t yo = 0, xo = 0;
        for (int d = s->nd - 1; d >= 0; d--) {
            const int64_t i = q % s->oshape[d];
            q /= s->oshape[d];
            yo += i * s->oys[d];
            xo += i * s->oxs[d];
        }
        const int64_t a0 = ia * s->ta, b0 = ib * s->tb;
        const int64_t alen = s->na - a0 < s->ta ? s->na - a0 : s->ta;
        const int64_t blen = s->nb - b0 < s->tb ? s->nb - b0 : s->tb;
        if (s->xsb == 1)
            adj_transpose_tile(es, buf, alen, (const char *)s->k.x + (size_t)(xo + a0 * s->xsa + b0) * es,
                               s->xsa, alen, blen);
        else if (es == 8)
            TILE_GATHER(double);
        else
            TILE_GATHER(float);
        for (int64_t i = 0; i < blen; i++) {
            const size_t off = (size_t)(yo + (b0 + i) * s->ysb + a0) * es;
            adj_unary_k k = s->k;
            k.x = (const char *)buf + (size_t)(i * alen) * es;
            k.out = (char *)k.out + off;
            if (k.yv)
                k.yv = (const char *)k.yv + off;
            if (k.dy)
                k.dy = (const char *)k.dy + off;
            if (k.tx)
                k.tx = (const char *)k.tx + off;
            s->fn(&k, 0, (size_t)alen);
        }
    }
}

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

/* Set up the tiled walk of layout l if it pays (x jumps along y's last
 * axis and steps through another by less); false otherwise. */
static bool tiled_init(tiled_ctx *s, const adj_layout *l)
{
    const int a = l->ndim - 1;
    if (a < 1 || l->shape[a] < 2 || iabs64(l->stride[a]) <= 8)
        return false;
    int b = -1;
    for (int d = 0; d < a; d++)
        if (l->shape[d] > 1 && (b < 0 || iabs64(l->stride[d]) < iabs64(l->stride[b])))
            b = d;
    if (b < 0 || iabs64(l->stride[b]) >= iabs64(l->stride[a]))
        return false;
    int64_t ys[ADJ_MAX_DIMS];
    adj_contig_strides(l->ndim, l->shape, ys);
    s->nd = 0;
    for (int d = 0; d < a; d++)
        if (d != b && l->shape[d] > 1) {
            s->oshape[s->nd] = l->shape[d];
            s->oys[s->nd] = ys[d];
            s->oxs[s->nd++] = l->stride[d];
        }
    s->na = l->shape[a];
    s->nb = l->shape[b];
    s->ysb = ys[b];
    s->xsa = l->stride[a];
    s->xsb = l->stride[b];
    /* rows of up to ADJ_VM_WIDE_MIN elements (fewer, longer kernel calls,
     * in the widest code), as many as the buffer holds */
    const int64_t cap = (int64_t)(TILE_BUF * sizeof(double) / adj_dsize(s->k.y->dtype));
    s->ta = s->na < ADJ_VM_WIDE_MIN ? s->na : ADJ_VM_WIDE_MIN;
    s->tb = cap / s->ta;
    if (s->tb > s->nb)
        s->tb = s->nb;
    s->tiles_a = (s->na + s->ta - 1) / s->ta;
    s->tiles_b = (s->nb + s->tb - 1) / s->tb;
    return true;
}

void adj_unary_run(const adj_unary_k *k, void (*fn)(void *ctx, size_t lo, size_t hi))
{
    const adj_var *x = k->y->in[0];
    const size_t n = adj_cold(k->y)->numel;
    if (k->no_x || adj_var_is_contig(x)) {
        adj_par_for(n, ADJ_PAR_GRAIN_MAP, fn, (void *)k);
        return;
    }
    adj_layout l;
    adj_var_layout(x, &l);
    tiled_ctx tc = {.k = *k, .fn = fn};
    if (n > 0 && tiled_init(&tc, &l)) {
        size_t units = (size_t)(n / (size_t)(tc.ta * tc.tb)) + 1, grain = 1;
        units = (size_t)tc.tiles_a * (size_t)tc.tiles_b;
        for (int d = 0; d < tc.nd; d++)
            units *= (size_t)tc.oshape[d];
        adj_par_for(units, grain, unary_tiled, &tc);
        return;
    }
    adj_unary_strided_ctx s = {.k = *k, .fn = fn};
    const int64_t *st[1] = {l.stride};
    adj_iter_init(&s.it, l.ndim, l.shape, 1, st);
    adj_par_for(n, ADJ_PAR_GRAIN_MAP, adj_unary_strided, &s);
}
