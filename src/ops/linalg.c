/*
 * Linear algebra: matmul, linear (fused X W^T + b), transpose, reshape.
 *
 * Every matrix product, forward and backward, is one BLIS gemm call, except
 * products of at most SMALL_GEMM_MACS multiply-adds, where BLIS's fixed
 * cost per call (about half a microsecond: set-up, packing buffers, the
 * threading decision) would dwarf the arithmetic; those run a plain loop
 * with the same strides, tested against BLIS.  Transposes are flags and
 * strides, never copies: the adjoint of a
 * transposed operand is written straight into its storage by giving gemm
 * the column-major strides of that storage.  Backward calls use beta = 1,
 * so contributions accumulate in place.
 */
#include "tensor/accum.h"
#include "ops/cases.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "tensor/strided.h"
#include "core/pool.h"

#include <blis.h>
#include <string.h>

/*
 * Products of at most this many multiply-adds (m n k) skip BLIS: its fixed
 * cost per call (object set-up, the threading decision, packing buffers)
 * is about a microsecond, more than the arithmetic of a tiny layer (a 2-8-1
 * network's products are 32 to 64 multiply-adds).  0 sends every product
 * to BLIS.  tests/test_kernels.c checks both paths against each other.
 */
#define SMALL_GEMM_MACS 4096u

/* C = op(A) op(B) + beta C by plain loops, strides as for gemm below;
 * op(A)[i][p] is A[i rsa + p csa], or A[p rsa + i csa] when transposed.
 * beta = 0 never reads C (it may hold garbage). */
#define SMALL_GEMM(T)                                                           \
    do {                                                                       \
        const T *A_ = A, *B_ = B;                                              \
        T *C_ = C;                                                             \
        const size_t ai = ta ? csa : rsa, ap = ta ? rsa : csa;                 \
        const size_t bp = tb ? csb : rsb, bj = tb ? rsb : csb;                 \
        for (size_t i = 0; i < m; i++)                                         \
            for (size_t j = 0; j < n; j++) {                                   \
                T s = 0;                                                       \
                for (size_t p = 0; p < k; p++)                                 \
                    s += A_[i * ai + p * ap] * B_[p * bp + j * bj];            \
                T *c = &C_[i * rsc + j * csc];                                 \
                *c = beta == 0 ? s : (T)beta * *c + s;                         \
            }                                                                  \
    } while (0)

/* One BLIS call on the calling thread only: the pool, not BLIS, spreads
 * products over threads (see gemm below). */
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

/*
 * Products of at least this many multiply-adds are split over the pool's
 * threads, one BLIS call per block: by rows of C (each thread packs all
 * of op(B) and its rows of op(A)), or by columns when C has few rows and
 * more columns.  No thread waits for another until the end.  Measured on
 * the 2-core reference machine for the products of an MLP step, rows
 * beat columns or tie, even where they pack more (docs/performance.md);
 * BLIS's own threading cannot be used alongside the pool, whose workers
 * would compete with its OpenMP threads for the cores.  The
 * split depends only on the shape and the thread count, so a product is
 * bit-for-bit reproducible for a given thread count.  Across thread
 * counts the last bits may differ: BLIS picks its kernel (and with it
 * the order of the sums) from the shape of each block (tests/test_pool.c
 * checks both).
 */
#define PAR_GEMM_MACS ((size_t)1 << 17)
#define PAR_GEMM_GRAIN 16

typedef struct gemm_job {
    int dtype;
    bool ta, tb, by_rows;
    size_t m, n, k, rsa, csa, rsb, csb, rsc, csc, esize;
    const char *A, *B;
    char *C;
    double beta;
} gemm_job;

static void gemm_block(void *ctx, size_t lo, size_t hi)
{
    const gemm_job *g = ctx;
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

/* C = op(A) op(B) + beta C with explicit (row, col) strides. */
static void gemm(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k,
                 const void *A, size_t rsa, size_t csa,
                 const void *B, size_t rsb, size_t csb,
                 double beta, void *C, size_t rsc, size_t csc)
{
    if (m == 0 || n == 0)
        return;
    if (m <= SMALL_GEMM_MACS && n <= SMALL_GEMM_MACS && k <= SMALL_GEMM_MACS &&
        m * n * k <= SMALL_GEMM_MACS) {
        if (dtype == ADJ_F64)
            SMALL_GEMM(double);
        else
            SMALL_GEMM(float);
        return;
    }
    if (adj_threads() > 1 && k > 0 && m * n * k >= PAR_GEMM_MACS) {
        gemm_job g = {dtype, ta, tb, m >= 4 * PAR_GEMM_GRAIN || m >= n, m, n, k, rsa, csa, rsb, csb, rsc, csc,
                      dtype == ADJ_F64 ? sizeof(double) : sizeof(float), A, B, C, beta};
        adj_par_for(g.by_rows ? m : n, PAR_GEMM_GRAIN, gemm_block, &g);
        return;
    }
    blis_gemm(dtype, ta, tb, m, n, k, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc);
}


/* ---------------------------------------------------------------- matmul */

enum { TA = 1, TB = 2 };

/*
 * A 2-D operand as BLIS reads it: its first element and its row and
 * column strides, so a transposed or sliced view goes to BLIS as it lies
 * in memory.  Strides BLIS does not take (zero or negative: an expanded
 * or reversed view, or rows that overlap) are first gathered into a
 * row-major copy in the arena.  False after recording ADJ_ENOMEM.
 */
typedef struct mat {
    const void *p;
    size_t rs, cs;
} mat;

static bool mat_of(const adj_var *x, mat *o)
{
    const int64_t rows = x->ndim == 2 ? adj_cold(x)->shape[0] : 1;
    const int64_t cols = adj_cold(x)->shape[x->ndim - 1];
    if (adj_var_is_contig(x)) {
        *o = (mat){x->value, (size_t)cols, 1};
        return true;
    }
    adj_layout l;
    adj_var_layout(x, &l);
    int64_t rs = x->ndim == 2 ? l.stride[0] : 1, cs = l.stride[x->ndim - 1];
    if (cols == 1)
        cs = 1;
    if (rows == 1)
        rs = cols * cs;
    if (cs >= 1 && rs >= 1 && ((cs == 1 && rs >= cols) || (rs == 1 && cs >= rows) ||
                               rs >= cols * cs || cs >= rows * rs)) {
        *o = (mat){x->value, (size_t)rs, (size_t)cs};
        return true;
    }
    void *c = adj_arena_alloc(adj_cold(x)->tape, adj_cold(x)->numel * adj_dsize(x->dtype));
    if (!c)
        return false;
    adj_var_copy_out(x, c);
    *o = (mat){c, (size_t)cols, 1};
    return true;
}

static adj_status matmul_shape(adj_var *y, char *why, size_t n)
{
    const int32_t trans = ADJ_ATTR(y, adj_attr_matmul)->trans;
    const adj_var *a = y->in[0], *b = y->in[1];
    if (a->ndim != 2 || b->ndim != 2) {
        snprintf(why, n, "both operands must be 2-D matrices");
        return ADJ_ESHAPE;
    }
    int64_t m = (trans & TA) ? adj_cold(a)->shape[1] : adj_cold(a)->shape[0];
    int64_t ka = (trans & TA) ? adj_cold(a)->shape[0] : adj_cold(a)->shape[1];
    int64_t kb = (trans & TB) ? adj_cold(b)->shape[1] : adj_cold(b)->shape[0];
    int64_t nn = (trans & TB) ? adj_cold(b)->shape[0] : adj_cold(b)->shape[1];
    if (ka != kb) {
        snprintf(why, n, "inner dimensions differ (%lld vs %lld%s)", (long long)ka, (long long)kb,
                 trans ? ", after the transpose flags" : "");
        return ADJ_ESHAPE;
    }
    y->ndim = 2;
    adj_cold(y)->shape[0] = m;
    adj_cold(y)->shape[1] = nn;
    return ADJ_OK;
}

/* C (m,n) = op(A) (m,k) op(B) (k,n) */
static void matmul_forward(adj_var *y)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    const int32_t trans = ADJ_ATTR(y, adj_attr_matmul)->trans;
    const bool ta = trans & TA, tb = trans & TB;
    size_t m = (size_t)adj_cold(y)->shape[0], n = (size_t)adj_cold(y)->shape[1];
    size_t k = (size_t)(ta ? adj_cold(a)->shape[0] : adj_cold(a)->shape[1]);
    mat A, B;
    if (!mat_of(a, &A) || !mat_of(b, &B))
        return;
    gemm(y->dtype, ta, tb, m, n, k, A.p, A.rs, A.cs, B.p, B.rs, B.cs, 0.0, y->value, n, 1);
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

/*
 * The two products of a backward (tasks 0 and 1 of `task`, adding into
 * adjoints g0 and g1 of n0 and n1 elements, macs multiply-adds each) are
 * independent.  With two threads, when both are wanted and large and
 * their adjoints do not overlap, each runs whole on its own thread (one
 * BLIS call each, no duplicated packing, no waiting between blocks);
 * otherwise one after the other, each split over the threads.
 */
static void backward_pair(adj_range_fn task, void *ctx, const void *g0, size_t n0, const void *g1,
                          size_t n1, size_t macs, size_t es)
{
    if (g0 && g1 && adj_threads() == 2 && macs >= PAR_GEMM_MACS && !overlap(g0, n0, g1, n1, es))
        adj_par_tasks(2, task, ctx);
    else
        task(ctx, 0, 2);
}

/* d op(A) += dC op(B)^T (task 0);  d op(B) += op(A)^T dC (task 1) */
typedef struct matmul_bwd {
    adj_var *y;
    void *ga, *gb;
    mat A, B;
} matmul_bwd;

static void matmul_bwd_task(void *ctx, size_t lo, size_t hi)
{
    const matmul_bwd *j = ctx;
    const adj_var *y = j->y, *a = y->in[0];
    const int32_t trans = ADJ_ATTR(y, adj_attr_matmul)->trans;
    const bool ta = trans & TA, tb = trans & TB;
    size_t m = (size_t)adj_cold(y)->shape[0], n = (size_t)adj_cold(y)->shape[1];
    size_t k = (size_t)(ta ? adj_cold(a)->shape[0] : adj_cold(a)->shape[1]);
    for (size_t task = lo; task < hi; task++) {
        if (task == 0 && j->ga) /* stored A is (m,k), or (k,m) when transposed */
            gemm(y->dtype, false, !tb, m, k, n, y->grad, n, 1, j->B.p, j->B.rs, j->B.cs, 1.0,
                 j->ga, ta ? 1 : k, ta ? m : 1);
        if (task == 1 && j->gb) /* stored B is (k,n), or (n,k) when transposed */
            gemm(y->dtype, !ta, false, k, n, m, j->A.p, j->A.rs, j->A.cs, y->grad, n, 1, 1.0,
                 j->gb, tb ? 1 : n, tb ? k : 1);
    }
}

/* The two products as a pair (backward_pair). */
static void matmul_backward(adj_var *y)
{
    adj_var *a = y->in[0], *b = y->in[1];
    size_t m = (size_t)adj_cold(y)->shape[0], n = (size_t)adj_cold(y)->shape[1];
    size_t k = (size_t)((ADJ_ATTR(y, adj_attr_matmul)->trans & TA) ? adj_cold(a)->shape[0]
                                                                   : adj_cold(a)->shape[1]);
    matmul_bwd j = {y, NULL, NULL, {NULL, 0, 0}, {NULL, 0, 0}};
    if (a->flags & ADJ_F_GRAD)
        j.ga = adj_grad_buf(a);
    if (b->flags & ADJ_F_GRAD)
        j.gb = adj_grad_buf(b);
    if ((j.gb && !mat_of(a, &j.A)) || (j.ga && !mat_of(b, &j.B)))
        return;
    backward_pair(matmul_bwd_task, &j, j.ga, m * k, j.gb, k * n, m * n * k, adj_dsize(y->dtype));
}

/* tangent: dC = op(dA) op(B) + op(A) op(dB) */
static void matmul_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    const int32_t trans = ADJ_ATTR(y, adj_attr_matmul)->trans;
    const bool ta = trans & TA, tb = trans & TB;
    size_t m = (size_t)adj_cold(y)->shape[0], n = (size_t)adj_cold(y)->shape[1];
    size_t k = (size_t)(ta ? adj_cold(a)->shape[0] : adj_cold(a)->shape[1]);
    size_t lda = (size_t)adj_cold(a)->shape[1], ldb = (size_t)adj_cold(b)->shape[1];
    mat A, B;
    if (!mat_of(a, &A) || !mat_of(b, &B))
        return;
    gemm(y->dtype, ta, tb, m, n, k, tx[0], lda, 1, B.p, B.rs, B.cs, 0.0, ty, n, 1);
    gemm(y->dtype, ta, tb, m, n, k, A.p, A.rs, A.cs, tx[1], ldb, 1, 1.0, ty, n, 1);
}

/* Teaching: "a bᵀ" with the transposes written */
static void matmul_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                          char *buf, size_t size)
{
    const int32_t trans = ADJ_ATTR(y, adj_attr_matmul)->trans;
    (void)ref;
    snprintf(buf, size, "%s%s %s%s", opnd[0], (trans & TA) ? "ᵀ" : "", opnd[1],
             (trans & TB) ? "ᵀ" : "");
}
static const char *const matmul_symbols[] = {"A", "B", "C"};
static const adj_op_teach matmul_teach = {.define_fn = matmul_define, .symbols = matmul_symbols};

/* Replay: a change within one row of op(A) changes that row of C, within
 * one column of op(B) that column; recomputed by a dot product each */
static bool matmul_replay(adj_var *y, const adj_region *const *changed, adj_region *out)
{
    const adj_var *a = y->in[0], *b = y->in[1];
    if (a->ndim != 2 || b->ndim != 2 || !adj_var_is_contig(a) || !adj_var_is_contig(b))
        return false;
    const int32_t trans = ADJ_ATTR(y, adj_attr_matmul)->trans;
    size_t m = (size_t)adj_cold(y)->shape[0], n = (size_t)adj_cold(y)->shape[1], e = 0;
    size_t acols = (size_t)adj_cold(a)->shape[1], bcols = (size_t)adj_cold(b)->shape[1];
    int line = -1;
    if (changed[0]) {
        if (!((trans & TA) ? adj_reg_single_col(*changed[0], acols, &e)
                           : adj_reg_single_row(*changed[0], acols, &e)))
            return false;
        *out = adj_reg_row(e, n);
        line = 0;
    }
    if (changed[1]) {
        if (!((trans & TB) ? adj_reg_single_row(*changed[1], bcols, &e)
                           : adj_reg_single_col(*changed[1], bcols, &e)))
            return false;
        adj_region col = adj_reg_col(e, m, n);
        if (line >= 0 && !adj_reg_eq(*out, col))
            return false;
        *out = col;
        line = 1;
    }
    if (line < 0)
        return false;
    adj_linalg_forward_line(y, line, e);
    return true;
}

static const adj_attr_matmul mm_n = {0}, mm_ta = {TA}, mm_tb = {TB}, mm_tab = {TA | TB};
static const adj_op_case matmul_cases[] = {
    {2, {2, 2}, {{1, 1}, {1, 1}}, &mm_n, NULL},
    {2, {2, 2}, {{2, 3}, {3, 4}}, &mm_n, NULL},
    {2, {2, 2}, {{3, 2}, {3, 4}}, &mm_ta, " (a^T)"},
    {2, {2, 2}, {{2, 3}, {4, 3}}, &mm_tb, " (b^T)"},
    {2, {2, 2}, {{3, 2}, {4, 3}}, &mm_tab, " (a^T, b^T)"},
    {2, {2, 2}, {{5, 1}, {1, 2}}, &mm_n, NULL},
};

const adj_op_desc adj_desc_matmul = {
    .name = "matmul", .arity = 2, .attr_size = sizeof(adj_attr_matmul), .shape = matmul_shape,
    .forward = matmul_forward, .backward = matmul_backward, .jvp = matmul_jvp,
    .formula = "C = A B", .rule = "dA += dC B^T; dB += A^T dC",
    ADJ_CASES(matmul_cases), .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY},
    .teach = &matmul_teach, .replay = matmul_replay, .props = ADJ_PROP_STRIDES,
};

adj_var *adj_matmul_at(adj_var *a, adj_var *b, int ta, int tb, const char *file, int line)
{
    adj_var *in[2] = {a, b};
    adj_attr_matmul attr = {(ta ? TA : 0) | (tb ? TB : 0)};
    return adj_record(ADJ_OP_MATMUL, in, 2, &attr, file, line);
}
adj_var *(adj_matmul)(adj_var *a, adj_var *b) { return adj_matmul_at(a, b, 0, 0, NULL, 0); }
adj_var *(adj_matmul_t)(adj_var *a, adj_var *b, int ta, int tb)
{
    return adj_matmul_at(a, b, ta, tb, NULL, 0);
}

/* ---------------------------------------------------------------- linear */

static adj_status linear_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    if (w->ndim != 2) {
        snprintf(why, n, "the weight must be 2-D (out, in)");
        return ADJ_ESHAPE;
    }
    if (x->ndim != 2 && x->ndim != 1) {
        snprintf(why, n, "the input must be (batch, in) or (in)");
        return ADJ_ESHAPE;
    }
    if (adj_cold(x)->shape[x->ndim - 1] != adj_cold(w)->shape[1]) {
        snprintf(why, n, "input features %lld differ from the weight's %lld",
                 (long long)adj_cold(x)->shape[x->ndim - 1], (long long)adj_cold(w)->shape[1]);
        return ADJ_ESHAPE;
    }
    if (b && (int64_t)adj_cold(b)->numel != adj_cold(w)->shape[0]) {
        snprintf(why, n, "the bias has %zu elements, the layer %lld outputs", adj_cold(b)->numel,
                 (long long)adj_cold(w)->shape[0]);
        return ADJ_ESHAPE;
    }
    y->ndim = x->ndim;
    adj_cold(y)->shape[0] = adj_cold(x)->shape[0];
    adj_cold(y)->shape[x->ndim - 1] = adj_cold(w)->shape[0];
    return ADJ_OK;
}

static size_t rows_of(const adj_var *x) { return x->ndim == 2 ? (size_t)adj_cold(x)->shape[0] : 1; }

/* Z (m,out) = X (m,in) W^T + 1 b^T: rows start as b, gemm adds with beta = 1 */
static void linear_forward(adj_var *y)
{
    const adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    size_t m = rows_of(x), out = (size_t)adj_cold(w)->shape[0], in = (size_t)adj_cold(w)->shape[1];
    size_t es = adj_dsize(y->dtype);
    for (size_t r = 0; r < m; r++) {
        if (b)
            memcpy((char *)y->value + r * out * es, b->value, out * es);
        else
            memset((char *)y->value + r * out * es, 0, out * es);
    }
    gemm(y->dtype, false, true, m, out, in, x->value, in, 1, w->value, in, 1, 1.0, y->value, out, 1);
}

/* dX += dZ W ;  dW += dZ^T X ;  db += column sums of dZ */
/* dX += dZ W (task 0) and dW += dZ^T X, db += column sums of dZ (task 1) */
typedef struct linear_bwd {
    adj_var *y;
    void *gx, *gw, *gb;
} linear_bwd;

static void linear_bwd_task(void *ctx, size_t lo, size_t hi)
{
    const linear_bwd *j = ctx;
    const adj_var *y = j->y, *x = y->in[0], *w = y->in[1];
    size_t m = rows_of(x), out = (size_t)adj_cold(w)->shape[0], in = (size_t)adj_cold(w)->shape[1];
    for (size_t task = lo; task < hi; task++) {
        if (task == 0 && j->gx)
            gemm(y->dtype, false, false, m, in, out, y->grad, out, 1, w->value, in, 1, 1.0, j->gx,
                 in, 1);
        if (task == 1 && j->gw)
            gemm(y->dtype, true, false, out, in, m, y->grad, out, 1, x->value, in, 1, 1.0, j->gw,
                 in, 1);
        if (task == 1 && j->gb) {
            /* column sums in double (ops/accum.h) */
            if (y->dtype == ADJ_F64) {
                const double *dz = y->grad;
                double *db = j->gb;
                ADJ_SUM_COLS(m, out, r, c, s, dz[r * out + c], db[c] += s);
            } else {
                const float *dz = y->grad;
                float *db = j->gb;
                ADJ_SUM_COLS(m, out, r, c, s, dz[r * out + c], db[c] = (float)((double)db[c] + s));
            }
        }
    }
}

/* The two products as a pair (backward_pair). */
static void linear_backward(adj_var *y)
{
    adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    size_t m = rows_of(x), out = (size_t)adj_cold(w)->shape[0], in = (size_t)adj_cold(w)->shape[1];
    linear_bwd j = {y, NULL, NULL, NULL};
    if (x->flags & ADJ_F_GRAD)
        j.gx = adj_grad_buf(x);
    if (w->flags & ADJ_F_GRAD)
        j.gw = adj_grad_buf(w);
    if (b && (b->flags & ADJ_F_GRAD))
        j.gb = adj_grad_buf(b);
    backward_pair(linear_bwd_task, &j, j.gx, m * in, j.gw, out * in, m * in * out,
                  adj_dsize(y->dtype));
}

/* tangent: dZ = dX W^T + X dW^T + 1 db^T */
static void linear_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    size_t m = rows_of(x), out = (size_t)adj_cold(w)->shape[0], in = (size_t)adj_cold(w)->shape[1];
    size_t es = adj_dsize(y->dtype);
    for (size_t r = 0; r < m; r++) {
        if (b)
            memcpy((char *)ty + r * out * es, tx[2], out * es);
        else
            memset((char *)ty + r * out * es, 0, out * es);
    }
    gemm(y->dtype, false, true, m, out, in, tx[0], in, 1, w->value, in, 1, 1.0, ty, out, 1);
    gemm(y->dtype, false, true, m, out, in, x->value, in, 1, tx[1], in, 1, 1.0, ty, out, 1);
}

static const char *const linear_inputs[] = {"x", "w", "b"};
static const adj_op_case linear_cases[] = {
    {3, {2, 2, 1}, {{4, 3}, {2, 3}, {2}}, NULL, NULL},
    {3, {2, 2, 1}, {{1, 1}, {1, 1}, {1}}, NULL, NULL},
    {3, {1, 2, 1}, {{3}, {2, 3}, {2}}, NULL, NULL},
    {2, {2, 2}, {{2, 3}, {4, 3}}, NULL, " (no bias)"},
};

/* Teaching: "x wᵀ + b", or "x wᵀ" without a bias */
static void linear_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                          char *buf, size_t size)
{
    (void)ref;
    if (y->in[2])
        snprintf(buf, size, "%s %sᵀ + %s", opnd[0], opnd[1], opnd[2]);
    else
        snprintf(buf, size, "%s %sᵀ", opnd[0], opnd[1]);
}
static const char *const linear_symbols[] = {"X", "W", "b", "Z"};
static const adj_op_teach linear_teach = {.define_fn = linear_define, .symbols = linear_symbols};

/* Replay: one row of X changes that row of Z; one row of W or one element
 * of b that column of Z */
static bool linear_replay(adj_var *y, const adj_region *const *changed, adj_region *out)
{
    const adj_var *x = y->in[0], *w = y->in[1];
    size_t out_f = (size_t)adj_cold(w)->shape[0], in_f = (size_t)adj_cold(w)->shape[1];
    size_t m = adj_cold(y)->numel / (out_f ? out_f : 1), e = 0;
    int line = -1;
    for (int k = 0; k < 3; k++) {
        if (!changed[k])
            continue;
        bool one = k == 0   ? x->ndim == 2 && adj_reg_single_row(*changed[0], in_f, &e)
                   : k == 1 ? adj_reg_single_row(*changed[1], in_f, &e)
                            : changed[2]->count == 1 && changed[2]->len == 1;
        if (!one)
            return false;
        if (k == 2)
            e = changed[2]->off;
        adj_region r = k == 0 ? adj_reg_row(e, out_f) : adj_reg_col(e, m, out_f);
        if (line >= 0 && !adj_reg_eq(*out, r))
            return false;
        *out = r;
        line = k == 0 ? 0 : 1;
    }
    if (line < 0)
        return false;
    adj_linalg_forward_line(y, line, e);
    return true;
}

const adj_op_desc adj_desc_linear = {
    .name = "linear", .arity = 3, .optional = 1u << 2, .inputs = linear_inputs,
    .shape = linear_shape,
    .forward = linear_forward, .backward = linear_backward, .jvp = linear_jvp,
    .formula = "Z = X W^T + b", .rule = "dX += dZ W; dW += dZ^T X; db += sum_rows dZ",
    ADJ_CASES(linear_cases), .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
    .teach = &linear_teach, .replay = linear_replay,
};

adj_var *adj_linear_at(adj_var *x, adj_var *w, adj_var *b, const char *file, int line)
{
    adj_var *in[3] = {x, w, b};
    return adj_record(ADJ_OP_LINEAR, in, 3, NULL, file, line);
}
adj_var *(adj_linear)(adj_var *x, adj_var *w, adj_var *b) { return adj_linear_at(x, w, b, NULL, 0); }

/* ------------------------------------------- one row or column, again */

static bool small_product(size_t m, size_t n, size_t k)
{
    return m <= SMALL_GEMM_MACS && n <= SMALL_GEMM_MACS && k <= SMALL_GEMM_MACS &&
           m * n * k <= SMALL_GEMM_MACS;
}

/* sum_p a[p sa] b[p sb] in order, as the plain-loop product sums */
#define DOT_SEQ(T, a, sa, b, sb, k)                                            \
    do {                                                                       \
        T s_ = 0;                                                              \
        for (size_t p_ = 0; p_ < (k); p_++)                                    \
            s_ += (a)[p_ * (sa)] * (b)[p_ * (sb)];                             \
        dot_ = s_;                                                             \
    } while (0)

/* The same sum in four interleaved partial sums (a different rounding
 * order, as BLIS's own): for products that the forward sends to BLIS. */
static double dot4(const double *a, size_t sa, const double *b, size_t sb, size_t k)
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

/*
 * C[i][j] of a matmul or linear node for (i, j) in rows [i0, i1) x columns
 * [j0, j1): one dot product each.  Where the whole product takes the plain
 * loop, the sums are that loop's, bit for bit; otherwise (BLIS) they agree
 * to rounding.
 */
static void line_block(adj_var *y, size_t i0, size_t i1, size_t j0, size_t j1)
{
    const adj_var *a = y->in[0], *b = y->in[1], *bias = NULL;
    size_t m = (size_t)adj_cold(y)->shape[0], n, k, ai, ap, bp, bj;
    if (y->op == ADJ_OP_LINEAR) {
        /* Z (m,out) = X (m,in) W^T + b: A = X, op(B) = W^T */
        bias = y->in[2];
        m = rows_of(a);
        n = (size_t)adj_cold(b)->shape[0];
        k = (size_t)adj_cold(b)->shape[1];
        ai = k, ap = 1, bp = 1, bj = k;
    } else {
        const int32_t trans = ADJ_ATTR(y, adj_attr_matmul)->trans;
    const bool ta = trans & TA, tb = trans & TB;
        const size_t lda = (size_t)adj_cold(a)->shape[1], ldb = (size_t)adj_cold(b)->shape[1];
        n = (size_t)adj_cold(y)->shape[1];
        k = (size_t)(ta ? adj_cold(a)->shape[0] : adj_cold(a)->shape[1]);
        ai = ta ? 1 : lda, ap = ta ? lda : 1;
        bp = tb ? 1 : ldb, bj = tb ? ldb : 1;
    }
    const bool seq = small_product(m, n, k);
    if (y->dtype == ADJ_F64) {
        const double *A = a->value, *B = b->value, *bv = bias ? bias->value : NULL;
        double *C = y->value;
        for (size_t i = i0; i < i1; i++)
            for (size_t j = j0; j < j1; j++) {
                double dot_;
                if (seq)
                    DOT_SEQ(double, A + i * ai, ap, B + j * bj, bp, k);
                else
                    dot_ = dot4(A + i * ai, ap, B + j * bj, bp, k);
                C[i * n + j] = bv ? bv[j] + dot_ : dot_;
            }
    } else {
        const float *A = a->value, *B = b->value, *bv = bias ? bias->value : NULL;
        float *C = y->value;
        for (size_t i = i0; i < i1; i++)
            for (size_t j = j0; j < j1; j++) {
                float dot_;
                DOT_SEQ(float, A + i * ai, ap, B + j * bj, bp, k);
                C[i * n + j] = bv ? bv[j] + dot_ : dot_;
            }
    }
}

void adj_linalg_forward_line(adj_var *y, int axis, size_t idx)
{
    size_t m = y->op == ADJ_OP_LINEAR ? rows_of(y->in[0]) : (size_t)adj_cold(y)->shape[0];
    size_t n = y->op == ADJ_OP_LINEAR ? (size_t)adj_cold(y->in[1])->shape[0] : (size_t)adj_cold(y)->shape[1];
    if (axis == 0)
        line_block(y, idx, idx + 1, 0, n);
    else
        line_block(y, 0, m, idx, idx + 1);
}

/* ------------------------------------------------------------- transpose */

static adj_status transpose_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x = y->in[0];
    if (x->ndim != 2) {
        snprintf(why, n, "transpose needs a 2-D matrix");
        return ADJ_ESHAPE;
    }
    y->ndim = 2;
    adj_cold(y)->shape[0] = adj_cold(x)->shape[1];
    adj_cold(y)->shape[1] = adj_cold(x)->shape[0];
    return ADJ_OK;
}

/* y as a layout of x's storage: the swapped strides (a view in O(1)) */
static bool transpose_view(const adj_var *y, adj_layout *out)
{
    adj_layout xl;
    adj_var_layout(y->in[0], &xl);
    return adj_layout_transpose(&xl, 0, 1, out);
}

/* y[j][i] = x[i][j] into y's own value (a transpose of one element, and
 * its replay) */
static void transpose_forward(adj_var *y)
{
    adj_layout xl, tl, yl;
    adj_var_layout(y->in[0], &xl);
    adj_layout_transpose(&xl, 0, 1, &tl);
    adj_layout_contig(&yl, 2, adj_cold(y)->shape);
    adj_strided_copy(adj_dsize(y->dtype), y->value, &yl, y->in[0]->value, &tl);
}

/* dx[i][j] += dy[j][i] */
static void transpose_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    void *gx = adj_grad_buf(x);
    if (!gx)
        return;
    adj_layout xl, tl, yl;
    adj_layout_contig(&xl, 2, adj_cold(x)->shape);
    adj_layout_transpose(&xl, 0, 1, &tl);
    adj_layout_contig(&yl, 2, adj_cold(y)->shape);
    adj_strided_acc(y->dtype, gx, &tl, y->grad, &yl, 1.0);
}

/* tangent: dY = dX^T */
static void transpose_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    adj_layout xl, tl, yl;
    adj_layout_contig(&xl, 2, adj_cold(y->in[0])->shape);
    adj_layout_transpose(&xl, 0, 1, &tl);
    adj_layout_contig(&yl, 2, adj_cold(y)->shape);
    adj_strided_copy(adj_dsize(y->dtype), ty, &yl, tx[0], &tl);
}

static const char *const transpose_symbols[] = {"X", "Y"};
static const adj_op_teach transpose_teach = {.define = "$0ᵀ", .symbols = transpose_symbols};

/* Replay: x (rows, cols) -> y (cols, rows); one element, one row and one
 * column of x become one element, one column and one row of y */
static bool transpose_replay(adj_var *y, const adj_region *const *changed, adj_region *out)
{
    const adj_var *x = y->in[0];
    size_t rows = (size_t)adj_cold(x)->shape[0], cols = (size_t)adj_cold(x)->shape[1], e = 0;
    adj_region r = *changed[0];
    if (r.count == 1 && r.len == 1)
        *out = adj_reg_elem((r.off % cols) * rows + r.off / cols);
    else if (r.count == 1 && r.len == cols && r.off % cols == 0)
        *out = adj_reg_col(r.off / cols, cols, rows);
    else if (adj_reg_single_col(r, cols, &e) && r.count == rows)
        *out = adj_reg_row(e, rows);
    else
        return false;
    if (y->flags & ADJ_F_VIEW)
        return true; /* y reads x's storage: nothing to recompute */
    if (!adj_var_is_contig(x))
        return false;
    const double *xs = x->value;
    double *ys = y->value;
    for (size_t q = 0; q < out->count; q++)
        for (size_t l = 0; l < out->len; l++) {
            size_t ye = out->off + q * out->stride + l; /* (ye / rows, ye % rows) */
            ys[ye] = xs[(ye % rows) * cols + ye / rows];
        }
    return true;
}

static const adj_op_case matrix_cases[] = {
    {1, {2}, {{1, 1}}, NULL, NULL},
    {1, {2}, {{2, 3}}, NULL, NULL},
    {1, {2}, {{4, 1}}, NULL, NULL},
};

const adj_op_desc adj_desc_transpose = {
    .name = "transpose", .arity = 1, .shape = transpose_shape,
    .forward = transpose_forward, .backward = transpose_backward, .jvp = transpose_jvp,
    .formula = "Y = X^T", .rule = "dX += dY^T", ADJ_CASES(matrix_cases),
    .teach = &transpose_teach, .replay = transpose_replay, .view = transpose_view,
    .props = ADJ_PROP_STRIDES | ADJ_PROP_ANY_DTYPE,
};

adj_var *adj_transpose_at(adj_var *x, const char *file, int line)
{
    return adj_record(ADJ_OP_TRANSPOSE, &x, 1, NULL, file, line);
}
ADJ_FN1(transpose)

/* --------------------------------------------------------------- reshape */

/* attr.ndim of a call with a NULL shape array for 1..4 dimensions */
#define NULL_SHAPE INT32_MIN

static adj_status reshape_shape(adj_var *y, char *why, size_t n)
{
    const adj_attr_reshape *args = ADJ_ATTR(y, adj_attr_reshape);
    const adj_var *x = y->in[0];
    int infer = -1;
    size_t known = 1;
    if (args->ndim == NULL_SHAPE) {
        snprintf(why, n, "the new shape is NULL");
        return ADJ_EINVAL;
    }
    if (args->ndim < 0 || args->ndim > ADJ_MAX_DIMS) {
        snprintf(why, n, "the new shape must have 0..%d dimensions, not %d", ADJ_MAX_DIMS, args->ndim);
        return ADJ_EINVAL;
    }
    for (int i = 0; i < args->ndim; i++) {
        int64_t d = args->shape[i];
        if (d == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (d < 0 || (d > 0 && known > SIZE_MAX / 16 / (size_t)d)) {
            snprintf(why, n, "invalid size %lld in the new shape", (long long)d);
            return ADJ_EINVAL;
        }
        known *= (size_t)d;
    }
    y->ndim = (uint8_t)args->ndim;
    if (args->ndim > 0) /* a 0-D target may come with a NULL shape */
        memcpy(adj_cold(y)->shape, args->shape, (size_t)args->ndim * sizeof(int64_t));
    if (infer >= 0) {
        if (known == 0 || adj_cold(x)->numel % known) {
            snprintf(why, n, "cannot infer the -1 dimension from %zu elements", adj_cold(x)->numel);
            return ADJ_ESHAPE;
        }
        adj_cold(y)->shape[infer] = (int64_t)(adj_cold(x)->numel / known);
        known = adj_cold(x)->numel;
    }
    if (known != adj_cold(x)->numel) {
        char sh[96];
        adj_fmt_shape(sh, sizeof sh, args->ndim, args->shape);
        snprintf(why, n, "new shape %s holds %zu elements, the input %zu", sh, known, adj_cold(x)->numel);
        return ADJ_ESHAPE;
    }
    return ADJ_OK;
}

/* y as a layout of x's storage, where x's strides allow it (always for a
 * contiguous x) */
static bool reshape_view(const adj_var *y, adj_layout *out)
{
    adj_layout xl;
    adj_var_layout(y->in[0], &xl);
    return adj_layout_reshape(&xl, y->ndim, adj_cold(y)->shape, out);
}

/* y = x's elements in row-major order, copied into y's own value (where
 * the strides do not allow a view, a reshape of one element, the replay) */
static void reshape_forward(adj_var *y)
{
    adj_var_copy_out(y->in[0], y->value);
}

/* dx += dy, element by element */
static void reshape_backward(adj_var *y)
{
    adj_var *x = y->in[0];
    void *gx = adj_grad_buf(x);
    if (!gx)
        return;
    if (y->dtype == ADJ_F64) {
        double *d = gx;
        const double *s = y->grad;
        for (size_t i = 0; i < adj_cold(y)->numel; i++)
            d[i] += s[i];
    } else {
        float *d = gx;
        const float *s = y->grad;
        for (size_t i = 0; i < adj_cold(y)->numel; i++)
            d[i] += s[i];
    }
}

/* tangent: dy = reshape(dx) */
static void reshape_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    memcpy(ty, tx[0], adj_cold(y)->numel * adj_dsize(y->dtype));
}

/* Teaching: "reshape(x, (2,3))" */
static void reshape_define(const adj_var *y, const char *const *opnd, const char *const *ref,
                           char *buf, size_t size)
{
    char sh[64];
    (void)opnd;
    adj_fmt_shape(sh, sizeof sh, y->ndim, adj_cold(y)->shape);
    snprintf(buf, size, "reshape(%s, %s)", ref[0], sh);
}
static const adj_op_teach reshape_teach = {.define_fn = reshape_define};

/* Replay: y's elements are x's in the same order: the same region */
static bool reshape_replay(adj_var *y, const adj_region *const *changed, adj_region *out)
{
    size_t es = adj_dsize(y->dtype);
    *out = *changed[0];
    if (y->flags & ADJ_F_VIEW)
        return true; /* y reads x's storage: nothing to recompute */
    if (!adj_var_is_contig(y->in[0]))
        return false;
    for (size_t q = 0; q < out->count; q++) {
        size_t lo = (out->off + q * out->stride) * es;
        memcpy((char *)y->value + lo, (const char *)y->in[0]->value + lo, out->len * es);
    }
    return true;
}

static const adj_attr_reshape rs_32 = {2, {3, 2}}, rs_2m1 = {2, {2, -1}}, rs_11 = {2, {1, 1}},
                              rs_12 = {1, {12}};
static const adj_op_case reshape_cases[] = {
    {1, {2}, {{2, 3}}, &rs_32, " -> (3,2)"},
    {1, {1}, {{6}}, &rs_2m1, " -> (2,-1)"},
    {1, {0}, {{0}}, &rs_11, " -> (1,1)"},
    {1, {3}, {{2, 3, 2}}, &rs_12, " -> (12)"},
};

const adj_op_desc adj_desc_reshape = {
    .name = "reshape", .arity = 1, .attr_size = sizeof(adj_attr_reshape), .shape = reshape_shape,
    .forward = reshape_forward, .backward = reshape_backward, .jvp = reshape_jvp,
    .formula = "y = reshape(x)", .rule = "dx += reshape(dy)", ADJ_CASES(reshape_cases),
    .teach = &reshape_teach, .replay = reshape_replay, .view = reshape_view,
    .props = ADJ_PROP_STRIDES | ADJ_PROP_ANY_DTYPE,
};

adj_var *adj_reshape_at(adj_var *x, int ndim, const int64_t *shape, const char *file, int line)
{
    adj_attr_reshape attr = {.ndim = ndim}; /* a bad count is kept for the shape rule to report */
    if (ndim > 0 && ndim <= ADJ_MAX_DIMS && !shape)
        attr.ndim = NULL_SHAPE;
    else if (ndim == NULL_SHAPE)
        attr.ndim = -1;
    else if (ndim > 0 && ndim <= ADJ_MAX_DIMS)
        memcpy(attr.shape, shape, (size_t)ndim * sizeof *shape);
    return adj_record(ADJ_OP_RESHAPE, &x, 1, &attr, file, line);
}
adj_var *(adj_reshape)(adj_var *x, int ndim, const int64_t *shape)
{
    return adj_reshape_at(x, ndim, shape, NULL, 0);
}
