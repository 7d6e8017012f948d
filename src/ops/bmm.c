/*
 * The batched matrix product: adj_matmul on operands that are not both
 * 2-D, with NumPy's matmul rules.
 *
 * a (..., m, k) times b (..., k, n) gives (..., m, n): the last two
 * dimensions of each operand are a matrix, the leading (batch) dimensions
 * broadcast as for any binary op (tensor/layout.h).  A 1-D a (k) is read
 * as (1, k) and a 1-D b (k) as (k, 1); the dimension added is dropped
 * from the result, so (k) times (k) is a 0-D dot product.
 *
 * Batch i of each operand is one matrix of its storage: its first element
 * is found from the batch strides (0 along a broadcast dimension), and its
 * row and column strides go to BLIS as they are when one of them is 1
 * (a row-major or column-major matrix, as a transposed view is).  Any
 * other operand (a reversed or expanded matrix, rows that overlap) is
 * first gathered into a row-major copy.  Each batch is one adj_gemm_1t
 * call (ops/gemm.h), the same whichever thread runs it; large batches of
 * products are spread over the pool a group of batches per task, so the
 * result does not depend on the thread count.  A single product (no batch
 * dimensions, or a's batches folded into its rows when b is one matrix)
 * is one adj_gemm call, split over the pool like a 2-D matmul.
 *
 * Backward: dA_i = dC_i B_i^T and dB_i = A_i^T dC_i.  An operand that is
 * broadcast over batch dimensions gets its products for every batch of C
 * into scratch, summed back to its shape once by adj_reduce_bcast (the
 * reduction the broadcasting binary ops share); otherwise each product
 * adds straight into its adjoint (beta = 1).
 */
#include "ops/cases.h"
#include "ops/gemm.h"
#include "ops/graph.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "tensor/strided.h"

#include <string.h>

/* The shape of a batched product, from its inputs. */
typedef struct bplan {
    int nb;                        /* batch dimensions of C */
    int64_t bshape[ADJ_MAX_DIMS];  /* their sizes */
    size_t nbatch, m, n, k;        /* C_i (m,n) = A_i (m,k) B_i (k,n) */
    bool fold;                     /* a's batches are rows of one matrix (plan_of) */
} bplan;

/* The batch dimensions of x (all but its matrix; none when 1-D). */
static int batch_dims(const adj_var *x) { return x->ndim >= 2 ? x->ndim - 2 : 0; }

static adj_status bmm_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    if (a->ndim == 0 || b->ndim == 0) {
        snprintf(why, n, "a 0-D operand has no matrix (use adj_mul for a scalar factor)");
        return ADJ_ESHAPE;
    }
    const int64_t *as = adj_cold(a)->shape, *bs = adj_cold(b)->shape;
    int64_t ka = as[a->ndim - 1], kb = b->ndim == 1 ? bs[0] : bs[b->ndim - 2];
    if (ka != kb) {
        snprintf(why, n, "inner dimensions differ (%lld vs %lld)", (long long)ka, (long long)kb);
        return ADJ_ESHAPE;
    }
    int nb;
    int64_t sh[ADJ_MAX_DIMS];
    if (!adj_bcast_shape(batch_dims(a), as, batch_dims(b), bs, &nb, sh)) {
        char sa[96], sb[96];
        adj_fmt_shape(sa, sizeof sa, batch_dims(a), as);
        adj_fmt_shape(sb, sizeof sb, batch_dims(b), bs);
        snprintf(why, n, "batch dimensions %s and %s do not broadcast", sa, sb);
        return ADJ_ESHAPE;
    }
    if (a->ndim >= 2)
        sh[nb++] = as[a->ndim - 2];
    if (b->ndim >= 2)
        sh[nb++] = bs[b->ndim - 1];
    y->ndim = (uint8_t)nb;
    memcpy(adj_cold(y)->shape, sh, (size_t)nb * sizeof *sh);
    return ADJ_OK;
}

static void plan_of(const adj_var *y, bplan *p)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    const int64_t *as = adj_cold(a)->shape, *bs = adj_cold(b)->shape;
    adj_bcast_shape(batch_dims(a), as, batch_dims(b), bs, &p->nb, p->bshape);
    p->nbatch = 1;
    for (int d = 0; d < p->nb; d++)
        p->nbatch *= (size_t)p->bshape[d];
    p->m = a->ndim >= 2 ? (size_t)as[a->ndim - 2] : 1;
    p->k = (size_t)as[a->ndim - 1];
    p->n = b->ndim >= 2 ? (size_t)bs[b->ndim - 1] : 1;
    /* b one matrix and a's batches consecutive runs of rows: one product
     * (nbatch m, k) (k, n), whose C is y in the same order */
    adj_layout l, f;
    adj_var_layout(a, &l);
    p->fold = a->ndim >= 3 && b->ndim <= 2 && adj_layout_flatten(&l, 0, -2, &f);
    if (p->fold) {
        p->m *= p->nbatch;
        p->nbatch = 1;
        p->nb = 0;
    }
}

/* The layout a is read with: its batches merged into its rows when the
 * plan folds them. */
static void a_layout(const bplan *p, adj_layout *l)
{
    adj_layout f;
    if (p->fold && adj_layout_flatten(l, 0, -2, &f))
        *l = f;
}

/* ------------------------------------------------------------ operands */

/* One operand as the products read it: batch i's matrix starts at
 * p + sum_d i_d bst[d] elements (i_d the digits of i over the plan's batch
 * shape) and has strides (rs, cs). */
typedef struct bop {
    const char *p;
    int64_t bst[ADJ_MAX_DIMS];
    int64_t rs, cs;
} bop;

static int64_t batch_off(const bplan *p, const int64_t *bst, size_t i)
{
    int64_t off = 0;
    for (int d = p->nb - 1; d >= 0 && i; d--) {
        size_t sz = (size_t)p->bshape[d];
        off += (int64_t)(i % sz) * bst[d];
        i /= sz;
    }
    return off;
}

/*
 * The operand of layout l (storage base, dtype es bytes) as a bop; which =
 * 0 for a (a 1-D a is one row), 1 for b (a 1-D b is one column).  False
 * when its matrices are not row- or column-major (a unit stride in one
 * dimension, no overlap): the caller then gathers it.
 */
static bool bop_of(const bplan *p, const void *base, const adj_layout *l, int which, bop *o)
{
    const int nd = l->ndim, ob = nd >= 2 ? nd - 2 : 0;
    int64_t rows, cols, rs, cs;
    if (nd == 1) {
        rows = which ? l->shape[0] : 1;
        cols = which ? 1 : l->shape[0];
        rs = which ? l->stride[0] : 0;
        cs = which ? 0 : l->stride[0];
    } else {
        rows = l->shape[nd - 2], cols = l->shape[nd - 1];
        rs = l->stride[nd - 2], cs = l->stride[nd - 1];
    }
    if (cols == 1)
        cs = 1; /* any column stride reads one column */
    if (rows == 1)
        rs = cs == 1 ? cols : 1;
    for (int d = 0; d < p->nb; d++) {
        int e = d - (p->nb - ob);
        o->bst[d] = e >= 0 && l->shape[e] == p->bshape[d] && l->shape[e] != 1 ? l->stride[e] : 0;
    }
    o->p = base;
    o->rs = rs;
    o->cs = cs;
    return (cs == 1 && rs >= cols) || (rs == 1 && cs >= rows);
}

/* x's operand, gathered into a row-major copy in the arena when its
 * strides need it; false after recording ADJ_ENOMEM. */
static bool var_bop(const bplan *p, const adj_var *x, int which, bop *o)
{
    adj_layout l;
    adj_var_layout(x, &l);
    if (!which)
        a_layout(p, &l);
    if (adj_cold(x)->numel == 0 || bop_of(p, x->value, &l, which, o))
        return true;
    void *c = adj_arena_alloc(adj_node_tape(x), adj_cold(x)->numel * adj_dsize(x->dtype));
    if (!c)
        return false;
    adj_var_copy_out(x, c);
    adj_layout_contig(&l, x->ndim, adj_cold(x)->shape);
    if (!which)
        a_layout(p, &l);
    return bop_of(p, c, &l, which, o);
}

/* A contiguous buffer of x's shape (a tangent) as an operand. */
static void contig_bop(const bplan *p, const adj_var *x, const void *buf, int which, bop *o)
{
    adj_layout l;
    adj_layout_contig(&l, x->ndim, adj_cold(x)->shape);
    if (!which)
        a_layout(p, &l);
    bop_of(p, buf, &l, which, o);
}

/* A contiguous (batch..., rows, cols) buffer over the plan's batches. */
static void full_bop(const bplan *p, const void *buf, size_t rows, size_t cols, bop *o)
{
    int64_t st = (int64_t)(rows * cols);
    for (int d = p->nb - 1; d >= 0; d--) {
        o->bst[d] = st;
        st *= p->bshape[d];
    }
    o->p = buf;
    o->rs = (int64_t)cols;
    o->cs = 1;
}

/* ------------------------------------------------------------ products */

/* C_i (m,n) = op(X_i) (m,k) op(Y_i) (k,n) + beta C_i for every batch i;
 * C contiguous, batch i at i m n. */
typedef struct bprod {
    const bplan *p;
    int dtype;
    bool tx, ty;
    size_t m, n, k, es;
    bop X, Y;
    char *C;
    double beta;
    size_t ntask;
} bprod;

/* Product i: X_i and Y_i keep their stored strides (a transposed one is
 * gemm's flag, as in adj_gemm). */
static void one(const bprod *j, size_t i)
{
    const char *X = j->X.p + batch_off(j->p, j->X.bst, i) * (int64_t)j->es;
    const char *Y = j->Y.p + batch_off(j->p, j->Y.bst, i) * (int64_t)j->es;
    adj_gemm_1t(j->dtype, j->tx, j->ty, j->m, j->n, j->k, X, (size_t)j->X.rs, (size_t)j->X.cs, Y,
                (size_t)j->Y.rs, (size_t)j->Y.cs, j->beta, j->C + i * j->m * j->n * j->es, j->n,
                1);
}

/* Tasks [lo, hi) of ntask: each a run of consecutive batches. */
static void bprod_tasks(void *ctx, size_t lo, size_t hi)
{
    const bprod *j = ctx;
    const size_t nb = j->p->nbatch;
    for (size_t t = lo; t < hi; t++)
        for (size_t i = t * nb / j->ntask; i < (t + 1) * nb / j->ntask; i++)
            one(j, i);
}

static void bprod_run(bprod *j)
{
    const bplan *p = j->p;
    if (p->nbatch == 0 || j->m == 0 || j->n == 0)
        return;
    if (p->nbatch == 1) { /* one product: split over the pool like a 2-D matmul */
        adj_gemm(j->dtype, j->tx, j->ty, j->m, j->n, j->k, j->X.p, (size_t)j->X.rs,
                 (size_t)j->X.cs, j->Y.p, (size_t)j->Y.rs, (size_t)j->Y.cs, j->beta, j->C, j->n, 1);
        return;
    }
    const size_t macs = j->m * j->n * (j->k ? j->k : 1), total = macs * p->nbatch;
    if (adj_threads() == 1 || total < ADJ_PAR_GEMM_MACS) {
        for (size_t i = 0; i < p->nbatch; i++)
            one(j, i);
        return;
    }
    /* groups of batches of at least half the parallel threshold each */
    j->ntask = total / (ADJ_PAR_GEMM_MACS / 2);
    if (j->ntask > p->nbatch)
        j->ntask = p->nbatch;
    adj_par_tasks(j->ntask, bprod_tasks, j);
}

/* ----------------------------------------------------------------- op */

/* C (batch..., m, n) = A B per batch */
static void bmm_forward(adj_var *y)
{
    bplan p;
    plan_of(y, &p);
    bprod j = {.p = &p, .dtype = y->dtype, .m = p.m, .n = p.n, .k = p.k,
               .es = adj_dsize(y->dtype), .C = y->value};
    if (!var_bop(&p, y->in[0], 0, &j.X) || !var_bop(&p, y->in[1], 1, &j.Y))
        return;
    if (p.k == 0) { /* an empty sum: gemm may write nothing for k = 0 */
        memset(y->value, 0, adj_cold(y)->numel * j.es);
        return;
    }
    bprod_run(&j);
}

/*
 * The adjoint of input x (which: 0 for a, 1 for b) from the products
 * rows x cols per batch given in j (X, Y, flags, sizes filled): straight
 * into x's adjoint when x is not broadcast over batches, else into
 * scratch summed back to x's shape.
 */
static void grad_into(adj_var *y, adj_var *x, int which, bprod *j)
{
    const bplan *p = j->p;
    void *gx = adj_grad_buf(x);
    if (!gx)
        return;
    const size_t per = j->m * j->n;
    if (adj_cold(x)->numel == p->nbatch * per) { /* one matrix per batch of C, in order */
        j->C = gx;
        j->beta = 1.0;
        bprod_run(j);
        return;
    }
    adj_tape *t = adj_node_tape(y);
    size_t nfull = p->nbatch * per;
    char *full = adj_arena_zalloc(t, (nfull ? nfull : 1) * j->es);
    if (!full)
        return;
    j->C = full;
    j->beta = 0.0;
    bprod_run(j);
    int64_t fs[ADJ_MAX_DIMS], xs[2];
    memcpy(fs, p->bshape, (size_t)p->nb * sizeof *fs);
    fs[p->nb] = (int64_t)j->m;
    fs[p->nb + 1] = (int64_t)j->n;
    adj_layout fl;
    adj_layout_contig(&fl, p->nb + 2, fs);
    /* a 1-D b (k) is the column (k, 1) of the products */
    int xnd = x->ndim;
    const int64_t *xsh = adj_cold(x)->shape;
    if (which == 1 && x->ndim == 1) {
        xs[0] = xsh[0], xs[1] = 1;
        xnd = 2, xsh = xs;
    }
    size_t ns = adj_reduce_scratch(y->dtype, (int64_t)adj_cold(x)->numel);
    double *scratch = ns ? adj_arena_alloc(t, ns * sizeof *scratch) : NULL;
    if (ns && !scratch)
        return;
    adj_reduce_bcast(y->dtype, gx, xnd, xsh, full, &fl, 1.0, scratch);
}

/* dA_i += dC_i B_i^T;  dB_i += A_i^T dC_i; broadcast batches summed */
static void bmm_backward(adj_var *y)
{
    adj_var *a = y->in[0], *b = y->in[1];
    bplan p;
    plan_of(y, &p);
    const size_t es = adj_dsize(y->dtype);
    bop dc, A, B;
    full_bop(&p, y->grad, p.m, p.n, &dc);
    if (a->flags & ADJ_F_GRAD) {
        if (!var_bop(&p, b, 1, &B))
            return;
        bprod j = {.p = &p, .dtype = y->dtype, .tx = false, .ty = true, .m = p.m, .n = p.k,
                   .k = p.n, .es = es, .X = dc, .Y = B};
        grad_into(y, a, 0, &j);
    }
    if (b->flags & ADJ_F_GRAD) {
        if (!var_bop(&p, a, 0, &A))
            return;
        bprod j = {.p = &p, .dtype = y->dtype, .tx = true, .ty = false, .m = p.k, .n = p.n,
                   .k = p.m, .es = es, .X = A, .Y = dc};
        grad_into(y, b, 1, &j);
    }
}

/* tangent: dC_i = dA_i B_i + A_i dB_i */
static void bmm_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    bplan p;
    plan_of(y, &p);
    const size_t es = adj_dsize(y->dtype);
    bop A, B, dA, dB;
    if (!var_bop(&p, a, 0, &A) || !var_bop(&p, b, 1, &B))
        return;
    contig_bop(&p, a, tx[0], 0, &dA);
    contig_bop(&p, b, tx[1], 1, &dB);
    if (p.k == 0) {
        memset(ty, 0, adj_cold(y)->numel * es);
        return;
    }
    bprod j = {.p = &p, .dtype = y->dtype, .m = p.m, .n = p.n, .k = p.k, .es = es, .X = dA,
               .Y = B, .C = ty, .beta = 0.0};
    bprod_run(&j);
    j.X = A, j.Y = dB, j.beta = 1.0;
    bprod_run(&j);
}

/*
 * Graph mode: the same rule recorded with ops.  A 1-D a is the row (1,k)
 * and a 1-D b the column (k,1), and gy gets back the dimensions the
 * product dropped; then dA = gy B^T and dB = A^T gy (adj_matmul again,
 * batched or not), summed back over broadcast batches (adj_gsum_to).
 */
static bool bmm_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    adj_var *a = y->in[0], *b = y->in[1];
    const bool a1 = a->ndim == 1, b1 = b->ndim == 1;
    adj_var *A = a1 ? adj_unsqueeze_at(a, 0, NULL, 0) : a;
    adj_var *B = b1 ? adj_unsqueeze_at(b, -1, NULL, 0) : b;
    adj_var *G = gy;
    if (a1)
        G = adj_unsqueeze_at(G, b1 ? -1 : -2, NULL, 0);
    if (b1)
        G = adj_unsqueeze_at(G, -1, NULL, 0);
    if (adj_gwants(y, 0))
        gin[0] = adj_gsum_to(adj_matmul_at(G, adj_transpose_axes_at(B, -1, -2, NULL, 0), 0, 0,
                                           NULL, 0),
                             a);
    if (adj_gwants(y, 1)) {
        adj_var *d = adj_matmul_at(adj_transpose_axes_at(A, -1, -2, NULL, 0), G, 0, 0, NULL, 0);
        gin[1] = adj_gsum_to(b1 ? adj_squeeze_at(d, -1, NULL, 0) : d, b);
    }
    return adj_gok(y);
}

static const char *const bmm_symbols[] = {"A", "B", "C"};
static const adj_op_teach bmm_teach = {.define = "$0 $1", .symbols = bmm_symbols};

static const adj_op_case bmm_cases[] = {
    {2, {3, 3}, {{2, 2, 3}, {2, 3, 2}}, NULL, " 3-D"},
    {2, {4, 4}, {{2, 2, 2, 3}, {2, 2, 3, 2}}, NULL, " 4-D"},
    {2, {4, 3}, {{2, 1, 2, 3}, {3, 3, 2}}, NULL, " (B,1,T,D) x (H,D,S)"},
    {2, {2, 3}, {{3, 2}, {2, 2, 4}}, NULL, " (T,D) x (B,D,E)"},
    {2, {3, 2}, {{2, 3, 4}, {4, 2}}, NULL, " b broadcast"},
    {2, {3, 3}, {{1, 2, 3}, {3, 3, 2}}, NULL, " size-1 batch"},
    {2, {4, 4}, {{2, 3, 2, 3}, {2, 1, 3, 2}}, NULL, " b broadcast on the second batch axis"},
    {2, {3, 3}, {{1, 1, 1}, {1, 1, 1}}, NULL, NULL},
    {2, {3, 3}, {{0, 2, 3}, {0, 3, 2}}, NULL, " zero batch"},
    {2, {3, 3}, {{2, 2, 0}, {2, 0, 3}}, NULL, " k = 0"},
    {2, {1, 3}, {{3}, {2, 3, 4}}, NULL, " 1-D a"},
    {2, {3, 1}, {{2, 3, 4}, {4}}, NULL, " 1-D b"},
    {2, {1, 1}, {{3}, {3}}, NULL, " dot"},
    {2, {1, 2}, {{3}, {3, 2}}, NULL, " vector-matrix"},
    {2, {2, 1}, {{2, 3}, {3}}, NULL, " matrix-vector"},
    {2, {2, 2}, {{2, 3}, {3, 4}}, NULL, " 2-D"},
};

const adj_op_desc adj_desc_bmm = {
    .name = "matmul", .arity = 2, .shape = bmm_shape,
    .forward = bmm_forward, .backward = bmm_backward, .jvp = bmm_jvp,
    .formula = "C[i] = A[i] B[i] over broadcast batches i",
    .rule = "dA[i] += dC[i] B[i]^T; dB[i] += A[i]^T dC[i]; summed over broadcast batches",
    ADJ_CASES(bmm_cases), .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY},
    .teach = &bmm_teach, .props = ADJ_PROP_STRIDES, .vjp = bmm_vjp,
};
