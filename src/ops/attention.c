/*
 * Scaled dot-product attention as one fused op:
 *
 *     y = softmax(scale q kᵀ, masked) v
 *
 * q (..., T, D), k (..., S, D), v (..., S, Dv); the leading (batch) dims
 * broadcast with NumPy's rule.  An optional mask broadcasts to (..., T, S):
 * key j is kept for query i where mask > 0 (a 0/1 mask: 1 keeps), and with
 * `causal` where j <= i.  A query with no kept key gives a zero row.
 *
 * The forward is FlashAttention's: query rows in blocks, key blocks
 * streamed past them with an online softmax (running maximum and sum,
 * rescaled when the maximum grows), so the (T, S) probabilities are never
 * stored; only the log-sum-exp of each row is kept for the backward, which
 * recomputes each block's probabilities from it.  With at most
 * ATTN_ROWS_S keys a query block takes all its keys in one product
 * (attention_kern.h: fwd_rows, bwd_rows).  The batch items (heads)
 * are split over the worker pool, one workspace per worker, all sized and
 * allocated from the tape's arena when the node is recorded; each item is
 * computed the same way on any thread, so the result does not depend on
 * the thread count.  Adjoints of an operand broadcast over the batch are
 * first written per item, then summed back (tensor/strided.h).
 */
#include "adjoint/attention.h"
#include "core/pool.h"
#include "ops/decompose.h"
#include "ops/gemm.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "ops/vmath.h"
#include "tensor/layout.h"
#include "tensor/strided.h"

#include <math.h>
#include <string.h>

/* Rows of a query block and keys of a key block: the workspace is a few
 * blocks of BR x BC scores, whatever T and S are. */
#define ATTN_BR 64
#define ATTN_BC 64
/* Keys up to which a query block takes all its keys in one product (the
 * workspace holds two blocks of BR x S). */
#define ATTN_ROWS_S 256

typedef struct attn_plan {
    int dtype, causal, nbatch, nw;
    size_t B, T, S, D, Dv;
    size_t br, bc, blk_bytes, ws_bytes;
    double scale;                   /* resolved: 1/sqrt(D) for 0 */
    int64_t bshape[ADJ_MAX_DIMS];   /* the output's batch dims */
    size_t *off[3];                 /* per item: element offset of q, k, v's item in a
                                       contiguous tensor of their shape (adjoints, tangents) */
    int64_t *voff[4];               /* per item: element offset into the values of q, k, v,
                                       mask (views: any strides) */
    int64_t mst, msj;               /* the mask's strides along T and S */
    int64_t rs[3], cs[3];           /* q, k, v's strides along their last two dims */
    size_t pack[3];                 /* nonzero: q, k, v's items are first copied into the
                                       workspace at this byte offset (strides BLIS cannot
                                       take); 0: read in place, rows rs[] apart */
    bool bcast[3];                  /* q, k, v repeat over the batch */
    double *lse;                    /* (B, T): log sum exp of the kept scaled scores */
    bool rows;                      /* whole-row kernels (S <= ATTN_ROWS_S) */
    char *work;                     /* nw workspaces of ws_bytes */
} attn_plan;

typedef struct attn_attr {
    double scale;
    int32_t causal;
    attn_plan *plan;                /* set by the shape rule (arena) */
} attn_attr;

/* One batch item's operands. */
typedef struct attn_item {
    const void *q, *k, *v, *mask, *gout;
    size_t ld[3];                   /* elements between rows of q, k, v */
    void *out;
    double *lse;
} attn_item;

/* ----------------------------------------------------------- products */

/* C = op(A) op(B) + beta C, all row-major with leading dims lda, ldb, ldc;
 * op(A) is A transposed when ta: adj_gemm_1t, on the calling thread (the
 * pool splits the batch, not the product). */
static void attn_mm(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                    size_t lda, const void *B, size_t ldb, double beta, void *C, size_t ldc)
{
    adj_gemm_1t(dtype, ta, tb, m, n, k, A, lda, 1, B, ldb, 1, beta, C, ldc, 1);
}

#define AT float
#define AK(name) name##_f
#include "ops/attention_kern.h"
#undef AT
#undef AK
#define AT double
#define AK(name) name##_d
#include "ops/attention_kern.h"
#undef AT
#undef AK

/* ---------------------------------------------------------- shape rule */

static size_t at_least1(size_t n) { return n ? n : 1; }

static void fmt(const adj_var *x, char *buf, size_t n) { adj_fmt_shape(buf, n, x->ndim, adj_cold(x)->shape); }

/* Per-item offsets of x (matrices of `mat` elements) in the output's
 * batch, and whether x repeats over it. */
static size_t *item_offsets(adj_tape *t, const attn_plan *p, const adj_var *x, size_t mat, bool *bcast)
{
    adj_layout l;
    int64_t st[ADJ_MAX_DIMS];
    adj_layout_contig(&l, x->ndim - 2, adj_cold(x)->shape);
    (void)adj_bcast_strides(&l, p->nbatch, p->bshape, st); /* checked by the shape rule */
    size_t *off = adj_arena_alloc(t, at_least1(p->B) * sizeof *off), xb = 1;
    for (int d = 0; d < x->ndim - 2; d++)
        xb *= (size_t)adj_cold(x)->shape[d];
    *bcast = xb < p->B;
    for (size_t b = 0; off && b < p->B; b++) {
        size_t r = b, o = 0;
        for (int d = p->nbatch - 1; d >= 0; d--) {
            o += (r % (size_t)p->bshape[d]) * (size_t)st[d];
            r /= (size_t)p->bshape[d];
        }
        off[b] = o * mat;
    }
    return off;
}

/* Per-item element offsets of x's items in x's value, whatever x's
 * strides (the batch dims of l, x's layout, broadcast to the output's),
 * and l's strides along the last two dims in rs, cs. */
static int64_t *value_offsets(adj_tape *t, const attn_plan *p, const adj_var *x, int nd, int64_t *rs,
                              int64_t *cs)
{
    adj_layout l;
    int64_t st[ADJ_MAX_DIMS];
    adj_var_layout(x, &l);
    *rs = l.stride[x->ndim - 2];
    *cs = l.stride[x->ndim - 1];
    l.ndim = x->ndim - nd;
    (void)adj_bcast_strides(&l, p->nbatch, p->bshape, st); /* checked by the shape rule */
    int64_t *off = adj_arena_alloc(t, at_least1(p->B) * sizeof *off);
    for (size_t b = 0; off && b < p->B; b++) {
        size_t r = b;
        int64_t o = 0;
        for (int d = p->nbatch - 1; d >= 0; d--) {
            o += (int64_t)(r % (size_t)p->bshape[d]) * st[d];
            r /= (size_t)p->bshape[d];
        }
        off[b] = o;
    }
    return off;
}

/* Whether BLIS reads a rows x cols matrix of strides rs, cs in place: unit
 * column stride and rows that do not overlap (else it is packed). */
static bool in_place(size_t rows, size_t cols, int64_t rs, int64_t cs)
{
    return (cols <= 1 || cs == 1) && (rows <= 1 || (rs >= 0 && (size_t)rs >= cols));
}

static adj_status attn_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *q = y->in[0], *k = y->in[1], *v = y->in[2], *mask = adj_input(y, 3);
    attn_attr *a = ADJ_ATTR(y, attn_attr);
    adj_tape *t = adj_node_tape(y);
    char sq[64], sk[64], sv[64];
    fmt(q, sq, sizeof sq);
    fmt(k, sk, sizeof sk);
    fmt(v, sv, sizeof sv);
    if (!isfinite(a->scale)) {
        snprintf(why, n, "scale %g is not finite", a->scale);
        return ADJ_EINVAL;
    }
    const adj_var *ins[3] = {q, k, v};
    static const char *const names[3] = {"q", "k", "v"}, *const forms[3] = {"(..., T, D)", "(..., S, D)", "(..., S, Dv)"};
    for (int i = 0; i < 3; i++)
        if (ins[i]->ndim < 2) {
            char s[64];
            fmt(ins[i], s, sizeof s);
            snprintf(why, n, "%s is %s: it must be %s, at least 2-D", names[i], s, forms[i]);
            return ADJ_ESHAPE;
        }
    const int64_t *qs = adj_cold(q)->shape, *ks = adj_cold(k)->shape, *vs = adj_cold(v)->shape;
    int64_t T = qs[q->ndim - 2], D = qs[q->ndim - 1], S = ks[k->ndim - 2], Dk = ks[k->ndim - 1];
    int64_t Sv = vs[v->ndim - 2], Dv = vs[v->ndim - 1];
    if (Dk != D) {
        snprintf(why, n, "q %s and k %s differ in D (the last dim): %lld vs %lld", sq, sk,
                 (long long)D, (long long)Dk);
        return ADJ_ESHAPE;
    }
    if (Sv != S) {
        snprintf(why, n, "k %s has S = %lld keys but v %s has %lld", sk, (long long)S, sv,
                 (long long)Sv);
        return ADJ_ESHAPE;
    }
    int nb = 0, nb2;
    int64_t bs[ADJ_MAX_DIMS], bs2[ADJ_MAX_DIMS];
    if (!adj_bcast_shape(q->ndim - 2, qs, k->ndim - 2, ks, &nb, bs) ||
        !adj_bcast_shape(nb, bs, v->ndim - 2, vs, &nb2, bs2)) {
        snprintf(why, n, "the batch dims of q %s, k %s and v %s do not broadcast", sq, sk, sv);
        return ADJ_ESHAPE;
    }
    y->ndim = (uint8_t)(nb2 + 2);
    int64_t *ys = adj_cold(y)->shape;
    memcpy(ys, bs2, (size_t)nb2 * sizeof *ys);
    ys[nb2] = T;
    ys[nb2 + 1] = Dv;

    int64_t mshape[ADJ_MAX_DIMS], mst[ADJ_MAX_DIMS];
    memcpy(mshape, bs2, (size_t)nb2 * sizeof *mshape);
    mshape[nb2] = T;
    mshape[nb2 + 1] = S;
    if (mask) {
        adj_layout ml;
        adj_var_layout(mask, &ml);
        if (mask->ndim > nb2 + 2 || !adj_bcast_strides(&ml, nb2 + 2, mshape, mst)) {
            char sm[64], st[64];
            fmt(mask, sm, sizeof sm);
            adj_fmt_shape(st, sizeof st, nb2 + 2, mshape);
            snprintf(why, n, "mask %s does not broadcast to the scores' shape %s", sm, st);
            return ADJ_ESHAPE;
        }
    }

    attn_plan *p = adj_arena_zalloc(t, sizeof *p);
    if (!p)
        return ADJ_ENOMEM;
    p->dtype = y->dtype;
    p->causal = a->causal != 0;
    p->nbatch = nb2;
    memcpy(p->bshape, bs2, sizeof p->bshape);
    p->B = 1;
    for (int d = 0; d < nb2; d++)
        p->B *= (size_t)bs2[d];
    p->T = (size_t)T, p->S = (size_t)S, p->D = (size_t)D, p->Dv = (size_t)Dv;
    p->scale = a->scale != 0 ? a->scale : D > 0 ? 1.0 / sqrt((double)D) : 1.0;
    p->br = p->T < ATTN_BR ? (p->T ? p->T : 1) : ATTN_BR;
    p->bc = p->S < ATTN_BC ? (p->S ? p->S : 1) : ATTN_BC;
    p->rows = p->T > 0 && p->S > 0 && p->S <= ATTN_ROWS_S;
    p->blk_bytes = (p->br * (p->rows ? p->S : p->bc) * adj_dsize(y->dtype) + 63) & ~(size_t)63;
    p->ws_bytes = 2 * p->blk_bytes + (2 * p->br + p->T + 1) * sizeof(double);
    p->ws_bytes = (p->ws_bytes + 63) & ~(size_t)63;
    const size_t rows[3] = {p->T, p->S, p->S}, cols[3] = {p->D, p->D, p->Dv};
    for (int i = 0; i < 3; i++) {
        p->voff[i] = value_offsets(t, p, ins[i], 2, &p->rs[i], &p->cs[i]);
        if (in_place(rows[i], cols[i], p->rs[i], p->cs[i]))
            continue;
        p->pack[i] = p->ws_bytes;
        p->ws_bytes += (rows[i] * cols[i] * adj_dsize(y->dtype) + 63) & ~(size_t)63;
    }
    size_t threads = (size_t)adj_threads();
    p->nw = (int)(p->B < threads ? at_least1(p->B) : threads);
    p->off[0] = item_offsets(t, p, q, p->T * p->D, &p->bcast[0]);
    p->off[1] = item_offsets(t, p, k, p->S * p->D, &p->bcast[1]);
    p->off[2] = item_offsets(t, p, v, p->S * p->Dv, &p->bcast[2]);
    if (mask) {
        p->mst = mst[nb2];
        p->msj = mst[nb2 + 1];
        p->voff[3] = adj_arena_alloc(t, at_least1(p->B) * sizeof(int64_t));
        for (size_t b = 0; p->voff[3] && b < p->B; b++) {
            size_t r = b;
            int64_t o = 0;
            for (int d = nb2 - 1; d >= 0; d--) {
                o += (int64_t)(r % (size_t)bs2[d]) * mst[d];
                r /= (size_t)bs2[d];
            }
            p->voff[3][b] = o;
        }
    }
    p->lse = adj_arena_alloc(t, at_least1(p->B * p->T) * sizeof(double));
    p->work = adj_arena_alloc(t, (size_t)p->nw * p->ws_bytes);
    if (!p->off[0] || !p->off[1] || !p->off[2] || !p->voff[0] || !p->voff[1] || !p->voff[2] ||
        (mask && !p->voff[3]) || !p->lse || !p->work)
        return ADJ_ENOMEM;
    a->plan = p;
    return ADJ_OK;
}

/* ---------------------------------------------------- forward, backward */

enum { RUN_FWD, RUN_BWD, RUN_JVP };

typedef struct attn_job {
    int kind;
    const adj_var *y;
    const attn_plan *p;
    const void *const *tx;  /* jvp: tangents of q, k, v */
    void *ty;               /* jvp: the output's tangent */
    char *dst[3];           /* bwd: where each item's dq, dk, dv go (NULL: not wanted) */
    bool dst_items[3];      /* bwd: dst[i] holds one block per item (broadcast operand) */
} attn_job;

/* Item b of operand i (q, k, v): in place, or copied into the workspace
 * ws when BLIS cannot take its strides; *ld: elements between its rows. */
static const void *operand(const attn_plan *p, const adj_var *x, int i, size_t b, char *ws, size_t *ld)
{
    const size_t es = adj_dsize(p->dtype), rows = i == 0 ? p->T : p->S, cols = i == 2 ? p->Dv : p->D;
    const char *at = (const char *)x->value + p->voff[i][b] * (int64_t)es;
    if (!p->pack[i]) {
        *ld = rows > 1 ? (size_t)p->rs[i] : cols;
        return at;
    }
    char *dst = ws + p->pack[i];
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            memcpy(dst + (r * cols + c) * es, at + ((int64_t)r * p->rs[i] + (int64_t)c * p->cs[i]) * (int64_t)es,
                   es);
    *ld = cols;
    return dst;
}

static attn_item item_of(const attn_job *j, size_t b, char *ws)
{
    const attn_plan *p = j->p;
    const adj_var *y = j->y, *mask = adj_input(y, 3);
    size_t es = adj_dsize(p->dtype);
    attn_item it = {
        .mask = mask ? (const char *)mask->value + p->voff[3][b] * (int64_t)es : NULL,
        .gout = y->grad ? (const char *)y->grad + b * p->T * p->Dv * es : NULL,
        .out = (char *)y->value + b * p->T * p->Dv * es,
        .lse = p->lse + b * p->T,
    };
    it.q = operand(p, y->in[0], 0, b, ws, &it.ld[0]);
    it.k = operand(p, y->in[1], 1, b, ws, &it.ld[1]);
    it.v = operand(p, y->in[2], 2, b, ws, &it.ld[2]);
    return it;
}

/* Where item b's adjoint of operand i goes. */
static void *dst_of(const attn_job *j, int i, size_t b)
{
    if (!j->dst[i])
        return NULL;
    const attn_plan *p = j->p;
    size_t mat = (i == 0 ? p->T : p->S) * (i == 2 ? p->Dv : p->D);
    return j->dst[i] + (j->dst_items[i] ? b * mat : p->off[i][b]) * adj_dsize(p->dtype);
}

/* Worker w takes items [w B / nw, (w + 1) B / nw) with workspace w. */
static void attn_task(void *ctx, size_t lo, size_t hi)
{
    const attn_job *j = ctx;
    const attn_plan *p = j->p;
    size_t es = adj_dsize(p->dtype);
    for (size_t w = lo; w < hi; w++) {
        char *ws = p->work + w * p->ws_bytes;
        for (size_t b = w * p->B / (size_t)p->nw; b < (w + 1) * p->B / (size_t)p->nw; b++) {
            attn_item it = item_of(j, b, ws);
            if (j->kind == RUN_FWD) {
                if (p->dtype == ADJ_F64)
                    (p->rows ? fwd_rows_d : fwd_item_d)(p, &it, ws);
                else
                    (p->rows ? fwd_rows_f : fwd_item_f)(p, &it, ws);
            } else if (j->kind == RUN_BWD) {
                void *dq = dst_of(j, 0, b), *dk = dst_of(j, 1, b), *dv = dst_of(j, 2, b);
                if (p->dtype == ADJ_F64)
                    (p->rows ? bwd_rows_d : bwd_item_d)(p, &it, ws, dq, dk, dv);
                else
                    (p->rows ? bwd_rows_f : bwd_item_f)(p, &it, ws, dq, dk, dv);
            } else {
                const char *tq = (const char *)j->tx[0] + p->off[0][b] * es;
                const char *tk = (const char *)j->tx[1] + p->off[1][b] * es;
                const char *tv = (const char *)j->tx[2] + p->off[2][b] * es;
                char *to = (char *)j->ty + b * p->T * p->Dv * es;
                if (p->dtype == ADJ_F64)
                    jvp_item_d(p, &it, ws, (const double *)tq, (const double *)tk,
                               (const double *)tv, (double *)to);
                else
                    jvp_item_f(p, &it, ws, (const float *)tq, (const float *)tk, (const float *)tv,
                               (float *)to);
            }
        }
    }
}

static void run(attn_job *j)
{
    if (j->p->B == 0)
        return;
    adj_par_tasks((size_t)j->p->nw, attn_task, j);
}

static void attn_forward(adj_var *y)
{
    attn_job j = {.kind = RUN_FWD, .y = y, .p = ADJ_ATTR(y, attn_attr)->plan};
    run(&j);
}

/* The rule is in attention_kern.h (bwd_item).  An operand broadcast over
 * the batch gets its items' adjoints in a scratch block each, summed back
 * into its own shape afterwards in a fixed order. */
static void attn_backward(adj_var *y)
{
    const attn_plan *p = ADJ_ATTR(y, attn_attr)->plan;
    adj_tape *t = adj_node_tape(y);
    attn_job j = {.kind = RUN_BWD, .y = y, .p = p};
    size_t es = adj_dsize(p->dtype);
    for (int i = 0; i < 3; i++) {
        adj_var *x = y->in[i];
        if (!(x->flags & ADJ_F_GRAD))
            continue;
        if (!p->bcast[i]) {
            j.dst[i] = adj_grad_buf(x);
            if (!j.dst[i])
                return;
            continue;
        }
        size_t mat = (i == 0 ? p->T : p->S) * (i == 2 ? p->Dv : p->D);
        j.dst[i] = adj_arena_zalloc(t, at_least1(p->B * mat) * es);
        if (!j.dst[i] || !adj_grad_buf(x))
            return;
        j.dst_items[i] = true;
    }
    run(&j);
    for (int i = 0; i < 3; i++) {
        if (!j.dst_items[i])
            continue;
        adj_var *x = y->in[i];
        int64_t full[ADJ_MAX_DIMS];
        memcpy(full, p->bshape, sizeof full);
        full[p->nbatch] = i == 0 ? (int64_t)p->T : (int64_t)p->S;
        full[p->nbatch + 1] = i == 2 ? (int64_t)p->Dv : (int64_t)p->D;
        adj_layout sl;
        adj_layout_contig(&sl, p->nbatch + 2, full);
        size_t ns = adj_reduce_scratch(p->dtype, (int64_t)adj_cold(x)->numel);
        double *scratch = ns ? adj_arena_alloc(t, ns * sizeof(double)) : NULL;
        if (ns && !scratch)
            return;
        adj_reduce_bcast(p->dtype, x->grad, x->ndim, adj_cold(x)->shape, j.dst[i], &sl, 1.0, scratch);
    }
}

static void attn_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    attn_job j = {.kind = RUN_JVP, .y = y, .p = ADJ_ATTR(y, attn_attr)->plan, .tx = tx, .ty = ty};
    run(&j);
}

/* ------------------------------------------------------------ descriptor */

static const char *const attn_inputs[] = {"q", "k", "v", "mask"};
static const char *const attn_symbols[] = {"Q", "K", "V", "M", "O"};

static void attn_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                        char *buf, size_t size)
{
    (void)opnd;
    const attn_attr *a = ADJ_ATTR(y, attn_attr);
    const attn_plan *p = a->plan;
    char sc[32];
    adj_fmt_num(sc, sizeof sc, p ? p->scale : a->scale, 4);
    snprintf(buf, size, "softmax(%s %s%sᵀ%s%s%s) %s", sc, ref[0], ref[1],
             adj_input(y, 3) ? " masked by " : "", adj_input(y, 3) ? ref[3] : "",
             a->causal ? ", causal" : "", ref[2]);
}
static const adj_op_teach attn_teach = {.define_fn = attn_define, .symbols = attn_symbols};

/* Check cases: several heads, a mask with dropped entries (rows left with
 * no key among them), causal with T below and above S, batch dims
 * broadcast (k and v shared by every head, a mask shared by the rows),
 * size-1 and zero-size T, S and batch, D differing from Dv, a given scale. */
static const attn_attr at_plain = {0}, at_causal = {.causal = 1}, at_scale = {.scale = 0.7},
                       at_causal_scale = {.scale = -1.3, .causal = 1};
static const adj_op_case attn_cases[] = {
    {3, {3, 3, 3}, {{2, 3, 4}, {2, 5, 4}, {2, 5, 3}}, &at_plain, " 2 heads"},
    {3, {3, 3, 3}, {{2, 4, 3}, {2, 4, 3}, {2, 4, 2}}, &at_causal, " causal"},
    {3, {2, 2, 2}, {{5, 2}, {3, 2}, {3, 3}}, &at_causal, " causal T > S"},
    {3, {2, 2, 2}, {{2, 3}, {5, 3}, {5, 2}}, &at_causal_scale, " causal T < S, scale -1.3"},
    {4, {2, 2, 2, 2}, {{4, 3}, {5, 3}, {5, 2}, {4, 5}}, &at_plain, " mask"},
    {4, {3, 3, 3, 2}, {{2, 3, 2}, {2, 4, 2}, {2, 4, 2}, {1, 4}}, &at_causal, " mask (1,S), causal"},
    {4, {4, 3, 2, 1}, {{2, 2, 3, 2}, {2, 4, 2}, {4, 3}, {4}}, &at_scale, " k, v broadcast, scale 0.7"},
    {3, {3, 2, 3}, {{1, 3, 2}, {4, 2}, {2, 4, 2}}, &at_plain, " q broadcast"},
    {4, {4, 4, 4, 4}, {{2, 1, 3, 2}, {1, 2, 4, 2}, {2, 2, 4, 3}, {2, 1, 3, 4}}, &at_causal,
     " q and mask broadcast on the second batch axis, k on the first, causal"},
    {4, {4, 4, 4, 3}, {{2, 2, 3, 2}, {2, 1, 4, 2}, {2, 1, 4, 3}, {1, 3, 4}}, &at_scale,
     " k and v broadcast on the second batch axis, mask on the first, scale 0.7"},
    {3, {2, 2, 2}, {{1, 1}, {1, 1}, {1, 1}}, &at_plain, " T = S = D = 1"},
    {3, {2, 2, 2}, {{3, 2}, {0, 2}, {0, 2}}, &at_plain, " S = 0"},
    {3, {3, 3, 3}, {{2, 0, 2}, {2, 3, 2}, {2, 3, 2}}, &at_plain, " T = 0"},
    {3, {3, 3, 3}, {{0, 2, 2}, {0, 3, 2}, {0, 3, 2}}, &at_causal, " no batch items"},
};

const adj_op_desc adj_desc_scaled_dot_product_attention = {
    .name = "scaled_dot_product_attention",
    .arity = 4,
    .optional = 1u << 3,
    .inputs = attn_inputs,
    .attr_size = sizeof(attn_attr),
    .props = ADJ_PROP_STRIDES,
    .shape = attn_shape,
    .forward = attn_forward,
    .backward = attn_backward,
    .jvp = attn_jvp,
    .formula = "O = softmax(scale Q Kᵀ, keeping M > 0 and j <= i if causal) V",
    .rule = "P = softmax(scale Q Kᵀ) recomputed; dV += Pᵀ dO; dS = P ∘ (dO Vᵀ - rowsum(dO ∘ O)); "
            "dQ += scale dS K; dK += scale dSᵀ Q",
    ADJ_CASES(attn_cases),
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
    .teach = &attn_teach,
    .decompose = adj_decomp_scaled_dot_product_attention,
};

adj_var *adj_scaled_dot_product_attention_at(adj_var *q, adj_var *k, adj_var *v, adj_var *mask,
                                             int causal, double scale, const char *file, int line)
{
    adj_var *in[4] = {q, k, v, mask};
    return adj_record(ADJ_OP_SCALED_DOT_PRODUCT_ATTENTION, in, 4,
                      &(attn_attr){.scale = scale, .causal = causal != 0}, file, line);
}

adj_var *(adj_scaled_dot_product_attention)(adj_var *q, adj_var *k, adj_var *v, adj_var *mask,
                                            int causal, double scale)
{
    return adj_scaled_dot_product_attention_at(q, k, v, mask, causal, scale, NULL, 0);
}

/* for the graph-mode rule (ops/decompose.c) */
double adj_attention_params(const adj_var *y, int *causal)
{
    const attn_attr *a = ADJ_ATTR(y, attn_attr);
    *causal = a->causal;
    return a->scale;
}
