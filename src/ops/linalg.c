/*
 * Linear algebra ops: matmul and linear (fused X W^T + b).
 *
 * Every product, forward and backward, is one adj_gemm call (ops/gemm.c:
 * a plain loop for tiny products, BLIS otherwise).  Transposes are flags
 * and strides, never copies: the adjoint of a transposed operand is
 * written straight into its storage by giving gemm the column-major
 * strides of that storage.  Backward calls use beta = 1, so contributions
 * accumulate in place.
 */
#include "ops/cases.h"
#include "ops/gemm.h"
#include "ops/linear.h"
#include "ops/graph.h"
#include "ops/op.h"
#include "ops/strided_op.h"
#include "tensor/accum.h"
#include "tensor/strided.h"

#include <string.h>

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

static bool mat_of_strided(const adj_var *x, mat *o)
{
    const int64_t rows = x->ndim == 2 ? adj_cold(x)->shape[0] : 1;
    const int64_t cols = adj_cold(x)->shape[x->ndim - 1];
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
    void *c = adj_arena_alloc(adj_node_tape(x), adj_cold(x)->numel * adj_dsize(x->dtype));
    if (!c)
        return false;
    adj_var_copy_out(x, c);
    *o = (mat){c, (size_t)cols, 1};
    return true;
}

/* mat_of: a contiguous x (the usual case) inline, the rest out of line */
static inline bool mat_of(const adj_var *x, mat *o)
{
    if (adj_var_is_contig(x)) {
        *o = (mat){x->value, (size_t)adj_cold(x)->shape[x->ndim - 1], 1};
        return true;
    }
    return mat_of_strided(x, o);
}

static adj_status matmul_shape(adj_var *y, char *why, size_t n)
{
    const int32_t trans = ADJ_ATTR(y, adj_attr_matmul)->trans;
    const adj_var *a = y->in[0], *b = y->in[1];
    if (a->ndim != 2 || b->ndim != 2) {
        snprintf(why, n, "transpose flags take 2-D operands (adj_transpose_axes transposes a "
                         "batch of matrices)");
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

/* The scratch for splitting y's (m,n,k) forward product over k (a first
 * layer at 2 threads: adj_gemm_ksplit_bytes), from y's tape's arena; NULL
 * with *ns = 0 where the product splits by rows, NULL with *ns != 0 when
 * the arena is out of memory (ADJ_ENOMEM is then on the tape). */
static void *ksplit_scratch(adj_var *y, size_t m, size_t n, size_t k, size_t *ns)
{
    *ns = adj_gemm_ksplit_bytes(y->dtype, m, n, k);
    return *ns ? adj_arena_alloc(adj_node_tape(y), *ns) : NULL;
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
    size_t ns;
    void *part = ksplit_scratch(y, m, n, k, &ns);
    if (ns && !part)
        return; /* ADJ_ENOMEM is on the tape */
    adj_gemm_split(y->dtype, ta, tb, m, n, k, A.p, A.rs, A.cs, B.p, B.rs, B.cs, y->value, n, part);
    if (part)
        adj_arena_release(adj_node_tape(y), part, ns);
}

/*
 * Where a product's backward writes the adjoint of operand v, a stored
 * matrix of v's shape (row stride rs, column stride cs, in elements).
 * Normally v's own adjoint, row-major.  When v is a view (a transpose, a
 * slice) whose adjoint has a place in its input x's adjoint that BLIS
 * can address (the descriptor's grad_view), nothing has flowed into v
 * yet, and the nodes recorded between v and y use neither v nor x, the
 * product writes there directly, as adj_matmul_t does for a transposed
 * operand: v's own adjoint is neither allocated nor scattered, and v's
 * backward does not run.  The other operand must not be x or a view of
 * x (both products would then add into the same adjoint).  The backward
 * sweep's anomaly check reads the adjoints of a node's inputs, and x is
 * none of the product's, so in anomaly mode the backward checks x's
 * adjoint itself (adj_anomaly_check_under): the same sums, the same bits.
 */
typedef struct gmat {
    void *p;
    size_t rs, cs, span; /* span: elements from p to the last one, plus one */
    bool fresh;          /* stored, not added (adj_grad_buf_exact) */
    adj_var *into;       /* the tensor whose adjoint p is in, when not v's own */
} gmat;

enum { DIRECT_SCAN = 8 }; /* nodes between a view and its product looked at */

static bool direct_grad(adj_var *v, const adj_var *y, const adj_var *other, gmat *o)
{
    if (adj_is_leaf(v) || v->grad || v->ndim != 2 || !adj_op_table[v->op]->grad_view)
        return false;
    adj_var *x = v->in[0];
    if (!(x->flags & ADJ_F_GRAD) || x->dtype != v->dtype || other == x ||
        (!adj_is_leaf(other) && other->in[0] == x))
        return false;
    adj_layout l;
    if (!adj_op_table[v->op]->grad_view(v, &l) || l.ndim != 2 || l.offset < 0)
        return false;
    int64_t rows = l.shape[0], cols = l.shape[1], rs = l.stride[0], cs = l.stride[1];
    if (cols == 1)
        cs = 1;
    if (rows == 1)
        rs = cols * cs;
    if (!(cs >= 1 && rs >= 1 && ((cs == 1 && rs >= cols) || (rs == 1 && cs >= rows))))
        return false;
    const uint32_t from = adj_cold(v)->id + 1, to = adj_cold(y)->id;
    if (to - from > DIRECT_SCAN)
        return false;
    adj_tape *t = adj_node_tape(y);
    for (uint32_t id = from; id < to; id++) {
        const adj_var *u = adj_node_at(t, id);
        for (int k = 0, n = adj_nin(u); k < n; k++)
            if (adj_input(u, k) == v || adj_input(u, k) == x)
                return false;
    }
    /* a view of every element of x once (a transpose): x's adjoint can be
     * taken fresh, stored by the product as a whole */
    const size_t span = (size_t)((rows - 1) * rs + (cols - 1) * cs + 1);
    bool fresh = false;
    const bool whole = l.offset == 0 && rows > 0 && cols > 0 && span == (size_t)(rows * cols) &&
                       span == adj_cold(x)->numel;
    char *g = whole ? adj_grad_buf_exact(x, &fresh) : adj_grad_buf(x);
    if (!g)
        return false;
    *o = (gmat){g + (size_t)l.offset * adj_dsize(x->dtype), (size_t)rs, (size_t)cs, span, fresh, x};
    return true;
}

/* v's adjoint as gmat (see direct_grad); fresh_ok: the caller can store a
 * fresh row-major adjoint.  False after recording ADJ_ENOMEM. */
static bool grad_mat(adj_var *v, const adj_var *y, const adj_var *other, bool fresh_ok, gmat *o)
{
    if (direct_grad(v, y, other, o))
        return true;
    const int64_t rows = adj_cold(v)->shape[0], cols = adj_cold(v)->shape[1];
    bool fresh = false;
    void *g = fresh_ok ? adj_grad_buf_exact(v, &fresh) : adj_grad_buf(v);
    *o = (gmat){g, (size_t)cols, 1, (size_t)(rows * cols), fresh, NULL};
    return g != NULL;
}

/* d op(A) += dC op(B)^T (task 0);  d op(B) += op(A)^T dC (task 1): the
 * stored adjoints G (m,k) or (k,m), (k,n) or (n,k) written through their
 * strides, op(G) through swapped ones */
typedef struct matmul_bwd {
    adj_var *y;
    gmat ga, gb;
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
    const gmat *ga = &j->ga, *gb = &j->gb;
    for (size_t task = lo; task < hi; task++) {
        if (task == 0 && ga->p)
            adj_gemm(y->dtype, false, !tb, m, k, n, y->grad, n, 1, j->B.p, j->B.rs, j->B.cs,
                     ga->fresh ? 0.0 : 1.0, ga->p, ta ? ga->cs : ga->rs, ta ? ga->rs : ga->cs);
        if (task == 1 && gb->p)
            adj_gemm(y->dtype, !ta, false, k, n, m, j->A.p, j->A.rs, j->A.cs, y->grad, n, 1,
                     gb->fresh ? 0.0 : 1.0, gb->p, tb ? gb->cs : gb->rs, tb ? gb->rs : gb->cs);
    }
}

/* The two products as a pair (backward_pair).  A fresh dA is stored by
 * task 0; when dB shares its memory (A = B) the pair runs task 0 first. */
static void matmul_backward(adj_var *y)
{
    adj_var *a = y->in[0], *b = y->in[1];
    size_t m = (size_t)adj_cold(y)->shape[0], n = (size_t)adj_cold(y)->shape[1];
    size_t k = (size_t)((ADJ_ATTR(y, adj_attr_matmul)->trans & TA) ? adj_cold(a)->shape[0]
                                                                   : adj_cold(a)->shape[1]);
    matmul_bwd j = {y, {NULL, 0, 0, 0, false, NULL}, {NULL, 0, 0, 0, false, NULL}, {NULL, 0, 0}, {NULL, 0, 0}};
    const bool need_a = a->flags & ADJ_F_GRAD, need_b = b->flags & ADJ_F_GRAD;
    if ((need_b && !mat_of(a, &j.A)) || (need_a && !mat_of(b, &j.B)))
        return;
    if ((need_a && !grad_mat(a, y, b, true, &j.ga)) || (need_b && !grad_mat(b, y, a, false, &j.gb)))
        return;
    adj_gemm_pair(matmul_bwd_task, &j, j.ga.p, j.ga.span, j.gb.p, j.gb.span, m * n * k,
                  adj_dsize(y->dtype));
    if (j.ga.into)
        adj_anomaly_check_under(y, 0, j.ga.into);
    if (j.gb.into)
        adj_anomaly_check_under(y, 1, j.gb.into);
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
    adj_gemm(y->dtype, ta, tb, m, n, k, tx[0], lda, 1, B.p, B.rs, B.cs, 0.0, ty, n, 1);
    adj_gemm(y->dtype, ta, tb, m, n, k, A.p, A.rs, A.cs, tx[1], ldb, 1, 1.0, ty, n, 1);
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

/* graph mode, C = op(A) op(B): dA = dC op(B)^T (stored transposed when
 * ta: op(B) dC^T), dB = op(A)^T dC (when tb: dC^T op(A)) */
static bool matmul_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    const int32_t t = ADJ_ATTR(y, adj_attr_matmul)->trans;
    const int ta = (t & TA) != 0, tb = (t & TB) != 0;
    adj_var *a = y->in[0], *b = y->in[1];
    if (adj_gwants(y, 0))
        gin[0] = ta ? adj_matmul_at(b, gy, tb, 1, NULL, 0) : adj_matmul_at(gy, b, 0, !tb, NULL, 0);
    if (adj_gwants(y, 1))
        gin[1] = tb ? adj_matmul_at(gy, a, 1, ta, NULL, 0) : adj_matmul_at(a, gy, !ta, 0, NULL, 0);
    return adj_gok(y);
}

const adj_op_desc adj_desc_matmul = {
    .name = "matmul", .arity = 2, .attr_size = sizeof(adj_attr_matmul), .shape = matmul_shape,
    .forward = matmul_forward, .backward = matmul_backward, .jvp = matmul_jvp,
    .formula = "C = A B", .rule = "dA += dC B^T; dB += A^T dC",
    ADJ_CASES(matmul_cases), .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY},
    .teach = &matmul_teach, .replay = matmul_replay, .props = ADJ_PROP_STRIDES,
    .vjp = matmul_vjp,
};

adj_var *adj_matmul_at(adj_var *a, adj_var *b, int ta, int tb, const char *file, int line)
{
    adj_var *in[2] = {a, b};
    /* batched and 1-D operands: the batched product (ops/bmm.c) */
    if (!ta && !tb && a && b && (adj_ndim(a) != 2 || adj_ndim(b) != 2))
        return adj_record(ADJ_OP_BMM, in, 2, NULL, file, line);
    adj_attr_matmul attr = {(ta ? TA : 0) | (tb ? TB : 0)};
    return adj_record(ADJ_OP_MATMUL, in, 2, &attr, file, line);
}
adj_var *(adj_matmul)(adj_var *a, adj_var *b) { return adj_matmul_at(a, b, 0, 0, NULL, 0); }
adj_var *(adj_matmul_t)(adj_var *a, adj_var *b, int ta, int tb)
{
    return adj_matmul_at(a, b, ta, tb, NULL, 0);
}

/* ---------------------------------------------------------------- linear */

adj_status adj_linear_shape(adj_var *y, char *why, size_t n)
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

/* The elements of x in row-major order: its own storage when contiguous,
 * else a copy in the arena (NULL after recording ADJ_ENOMEM). */
static const void *dense_of(const adj_var *x)
{
    if (adj_var_is_contig(x))
        return x->value;
    void *c = adj_arena_alloc(adj_node_tape(x), adj_cold(x)->numel * adj_dsize(x->dtype));
    if (c)
        adj_var_copy_out(x, c);
    return c;
}

/* Z (m,out) = X (m,in) W^T + 1 b^T: rows start as b, gemm adds with beta
 * = 1 (adj_gemm_rows: each thread sets the rows it computes, or the
 * product is split over `in`, with a partial Z from the arena); without b,
 * gemm stores the product (beta = 0, split over `in` alike where it
 * qualifies: adj_gemm_split).  X and W go to gemm as they lie (a
 * transposed W is read in place); a strided b is gathered first. */
void adj_linear_forward(adj_var *y)
{
    const adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    size_t m = rows_of(x), out = (size_t)adj_cold(w)->shape[0], in = (size_t)adj_cold(w)->shape[1];
    mat X, W;
    const void *bv = b ? dense_of(b) : NULL;
    if (!mat_of(x, &X) || !mat_of(w, &W) || (b && !bv))
        return;
    size_t ns;
    void *part = ksplit_scratch(y, m, out, in, &ns);
    if (ns && !part)
        return; /* ADJ_ENOMEM is on the tape */
    if (!b)
        adj_gemm_split(y->dtype, false, true, m, out, in, X.p, X.rs, X.cs, W.p, W.rs, W.cs,
                       y->value, out, part);
    else
        adj_gemm_rows(y->dtype, false, true, m, out, in, X.p, X.rs, X.cs, W.p, W.rs, W.cs, bv,
                      y->value, out, part);
    if (part)
        adj_arena_release(adj_node_tape(y), part, ns);
}

/*
 * db (out) += column sums of dz (m, out), float: each sum in double over
 * the rows in order.  Double's 29 extra bits keep the error of m float
 * additions (at most m 2^-53 of the sum of magnitudes) far below the
 * float result's rounding, so no compensation is needed, and the inner
 * loop (a block of columns, row by row) vectorises.
 */
void adj_linear_col_sums_f32(const float *dz, size_t m, size_t out, size_t ld, float *db)
{
    enum { BLOCK = 256, FEW = 16 };
    if (out <= FEW) {
        /* a few columns: the same sums, four columns at a time over the
         * rows (a loop over the columns in each row, and zeroing a block
         * of sums for it, cost more than the sums when they are this
         * short) */
        size_t j = 0;
        for (; j + 4 <= out; j += 4) {
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (size_t r = 0; r < m; r++) {
                const float *row = dz + r * ld + j;
                s0 += (double)row[0];
                s1 += (double)row[1];
                s2 += (double)row[2];
                s3 += (double)row[3];
            }
            db[j] = (float)((double)db[j] + s0);
            db[j + 1] = (float)((double)db[j + 1] + s1);
            db[j + 2] = (float)((double)db[j + 2] + s2);
            db[j + 3] = (float)((double)db[j + 3] + s3);
        }
        for (; j < out; j++) {
            double s = 0;
            for (size_t r = 0; r < m; r++)
                s += (double)dz[r * ld + j];
            db[j] = (float)((double)db[j] + s);
        }
        return;
    }
    double s[BLOCK];
    for (size_t c0 = 0; c0 < out; c0 += BLOCK) {
        const size_t n = out - c0 < BLOCK ? out - c0 : BLOCK;
        for (size_t j = 0; j < n; j++)
            s[j] = 0;
        for (size_t r = 0; r < m; r++) {
            const float *row = dz + r * ld + c0;
            for (size_t j = 0; j < n; j++)
                s[j] += (double)row[j];
        }
        for (size_t j = 0; j < n; j++)
            db[c0 + j] = (float)((double)db[c0 + j] + s[j]);
    }
}

/*
 * W's values where a product reads them row by row, when W is stored
 * transposed: W the transpose of a node C = adj_contiguous(S), a
 * row-major copy of S, so W[i][j] = C[j][i] = S[j][i], and when S lies in
 * its storage column by column (S = adj_transpose(V) of a row-major V),
 * W is that storage read row by row.  A recurrent layer reads its state's
 * weight this way: the steps' forward products read the copy C of W_hh^T
 * row by row, and their dX = dZ W products read W_hh itself.  S holds the
 * values C was copied from as long as nothing writes to its storage
 * between the forward and the backward (an optimizer step comes after).
 */
static bool mat_through_copy(const adj_var *w, mat *o)
{
    if (w->ndim != 2 || !(w->flags & ADJ_F_STRIDED) || adj_is_leaf(w))
        return false;
    const adj_var *c = w->in[0];
    if (c->op != ADJ_OP_CONTIGUOUS || c->ndim != 2 || !adj_var_is_contig(c) ||
        c->dtype != w->dtype)
        return false;
    const int64_t *ws = adj_cold(w)->shape, *cs = adj_cold(c)->shape;
    if (w->value != c->value || ws[0] != cs[1] || ws[1] != cs[0] || adj_ext(w)->stride[0] != 1 ||
        adj_ext(w)->stride[1] != cs[1])
        return false;
    const adj_var *s = c->in[0];
    adj_layout l;
    adj_var_layout(s, &l);
    if (s->ndim != 2 || s->dtype != w->dtype || l.shape[0] != cs[0] || l.shape[1] != cs[1] ||
        l.stride[0] != 1 || (ws[0] > 1 && l.stride[1] < ws[1]))
        return false;
    *o = (mat){s->value, (size_t)(ws[0] > 1 ? l.stride[1] : ws[1]), 1};
    return true;
}

/*
 * Where dW goes for such a weight (mat_through_copy: W the transpose of
 * C = adj_contiguous(S), S a view of V with a place in V's adjoint, the
 * descriptor's grad_view): straight into V's adjoint, W[i][j] being
 * S[j][i] there, instead of into W's own and back through the transpose,
 * the copy and S, each a pass over W (a recurrent layer's W_hh: every
 * step's dW adds where the optimizer reads it).  Nothing of it then flows
 * through W, C or S; what other nodes give them still does, so every
 * contribution reaches V once.  Not when X or b is V or a view of it (two
 * tasks would write the same adjoint).  V is none of the product's
 * inputs, whose adjoints the sweep's anomaly check reads, so in anomaly
 * mode the backward checks V's adjoint itself (adj_anomaly_check_under).
 */
static bool grad_through_copy(const adj_var *w, const adj_var *x, const adj_var *b, gmat *o)
{
    mat unused;
    if (!mat_through_copy(w, &unused))
        return false;
    const adj_var *s = w->in[0]->in[0];
    if (adj_is_leaf(s) || !adj_op_table[s->op]->grad_view)
        return false;
    adj_var *v = s->in[0];
    if (!(v->flags & ADJ_F_GRAD) || v->dtype != w->dtype || x == v || b == v ||
        (!adj_is_leaf(x) && x->in[0] == v) || (b && !adj_is_leaf(b) && b->in[0] == v))
        return false;
    adj_layout l;
    if (!adj_op_table[s->op]->grad_view(s, &l) || l.ndim != 2 || l.offset < 0 ||
        l.stride[0] < 1 || l.stride[1] < 1)
        return false;
    const int64_t rows = l.shape[1], cols = l.shape[0]; /* W's */
    const size_t rs = (size_t)l.stride[1], cs = (size_t)l.stride[0];
    const size_t span = rows && cols ? (size_t)(rows - 1) * rs + (size_t)(cols - 1) * cs + 1 : 0;
    /* S covers every element of V once (a transpose): V's adjoint is taken
     * fresh and stored by the product as a whole */
    bool fresh = false;
    const bool whole = l.offset == 0 && span == (size_t)(rows * cols) && span == adj_cold(v)->numel;
    char *g = whole ? adj_grad_buf_exact(v, &fresh) : adj_grad_buf(v);
    if (!g)
        return false;
    *o = (gmat){g + (size_t)l.offset * adj_dsize(v->dtype), rs, cs, span, fresh, v};
    return true;
}

/* dX += dZ W, then db += column sums of dZ (task 0); dW += dZ^T X (task 1) */
typedef struct linear_bwd {
    adj_var *y;
    void *gx, *gw, *gb;
    size_t gw_rs, gw_cs; /* dW's strides: (in, 1) but where grad_through_copy puts it */
    mat X, W;
    double beta_x, beta_w; /* 0 when gx, gw are fresh (adj_grad_buf_exact): stored, not added */
} linear_bwd;

/* db's column sums over columns [lo, hi): each column's sum is the same
 * whatever the range, so a split over threads gives the same bits. */
static void linear_db_cols(void *ctx, size_t lo, size_t hi)
{
    const linear_bwd *j = ctx;
    const adj_var *y = j->y;
    const size_t m = rows_of(y->in[0]), out = (size_t)adj_cold(y->in[1])->shape[0];
    if (y->dtype == ADJ_F64) { /* compensated column sums (tensor/accum.h) */
        const double *dz = (const double *)y->grad + lo;
        double *db = (double *)j->gb + lo;
        ADJ_SUM_COLS(m, hi - lo, r, c, s, dz[r * out + c], db[c] += s);
    } else {
        adj_linear_col_sums_f32((const float *)y->grad + lo, m, hi - lo, out, (float *)j->gb + lo);
    }
}

static void linear_bwd_task(void *ctx, size_t lo, size_t hi)
{
    const linear_bwd *j = ctx;
    const adj_var *y = j->y, *x = y->in[0], *w = y->in[1];
    size_t m = rows_of(x), out = (size_t)adj_cold(w)->shape[0], in = (size_t)adj_cold(w)->shape[1];
    for (size_t task = lo; task < hi; task++) {
        if (task == 0 && j->gx)
            adj_gemm(y->dtype, false, false, m, in, out, y->grad, out, 1, j->W.p, j->W.rs, j->W.cs,
                     j->beta_x, j->gx, in, 1);
        if (task == 0 && j->gb) { /* on the pool when it runs alone (no dX: a first layer) */
            if (m * out >= ADJ_PAR_GRAIN_MAP)
                adj_par_for(out, 16, linear_db_cols, ctx);
            else /* what adj_par_for does with one range */
                linear_db_cols(ctx, 0, out);
        }
        if (task == 1 && j->gw)
            adj_gemm(y->dtype, true, false, out, in, m, y->grad, out, 1, j->X.p, j->X.rs, j->X.cs,
                     j->beta_w, j->gw, j->gw_rs, j->gw_cs);
    }
}

static bool spans_overlap(const void *a, size_t na, const void *b, size_t nb, size_t es)
{
    const char *pa = a, *pb = b;
    return a && b && pa < pb + nb * es && pb < pa + na * es;
}

/* The two products as a pair (backward_pair): dX with db's sums, beside
 * dW, the two about the same work.  A fresh dX is stored by task 0 before
 * db adds (x = b: the bias is the input).  When db shares dW's memory the
 * tasks run one after the other. */
void adj_linear_backward(adj_var *y)
{
    adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    size_t m = rows_of(x), out = (size_t)adj_cold(w)->shape[0], in = (size_t)adj_cold(w)->shape[1];
    linear_bwd j = {y, NULL, NULL, NULL, in, 1, {NULL, 0, 0}, {NULL, 0, 0}, 1.0, 1.0};
    if (((w->flags & ADJ_F_GRAD) && !mat_of(x, &j.X)) ||
        ((x->flags & ADJ_F_GRAD) && !mat_through_copy(w, &j.W) && !mat_of(w, &j.W)))
        return;
    bool fresh = false, wfresh = false;
    if (x->flags & ADJ_F_GRAD)
        j.gx = adj_grad_buf_exact(x, &fresh);
    j.beta_x = fresh ? 0.0 : 1.0;
    if (b && (b->flags & ADJ_F_GRAD))
        j.gb = adj_grad_buf(b);
    const size_t es = adj_dsize(y->dtype);
    gmat gv;
    if ((w->flags & ADJ_F_GRAD) && grad_through_copy(w, x, b, &gv)) {
        j.gw = gv.p;
        j.gw_rs = gv.rs;
        j.gw_cs = gv.cs;
        j.beta_w = gv.fresh ? 0.0 : 1.0;
        if (spans_overlap(j.gb, out, j.gw, gv.span, es)) { /* b: another leaf of V's tensor */
            if (gv.fresh) { /* V's whole adjoint: db adds into it before dW is stored */
                memset(j.gw, 0, gv.span * es);
                j.beta_w = 1.0;
            }
            linear_bwd_task(&j, 0, 2);
        } else {
            adj_gemm_pair(linear_bwd_task, &j, j.gx, m * in, j.gw, gv.span, m * in * out, es);
        }
        adj_anomaly_check_under(y, 1, gv.into);
        return;
    }
    if (w->flags & ADJ_F_GRAD) { /* after gx: a fresh dX (task 0) is stored before dW adds */
        j.gw = adj_grad_buf_exact(w, &wfresh);
        if (wfresh && spans_overlap(j.gb, out, j.gw, out * in, es)) {
            memset(j.gw, 0, out * in * es); /* db adds into it before dW is stored */
            wfresh = false;
        }
    }
    j.beta_w = wfresh ? 0.0 : 1.0;
    if (spans_overlap(j.gb, out, j.gw, out * in, es))
        linear_bwd_task(&j, 0, 2);
    else
        adj_gemm_pair(linear_bwd_task, &j, j.gx, m * in, j.gw, out * in, m * in * out, es);
}

/* tangent: dZ = dX W^T + X dW^T + 1 db^T */
void adj_linear_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    size_t m = rows_of(x), out = (size_t)adj_cold(w)->shape[0], in = (size_t)adj_cold(w)->shape[1];
    size_t es = adj_dsize(y->dtype);
    mat X, W;
    if (!mat_of(x, &X) || !mat_of(w, &W))
        return;
    for (size_t r = 0; r < m; r++) {
        if (b)
            memcpy((char *)ty + r * out * es, tx[2], out * es);
        else
            memset((char *)ty + r * out * es, 0, out * es);
    }
    adj_gemm(y->dtype, false, true, m, out, in, tx[0], in, 1, W.p, W.rs, W.cs, 1.0, ty, out, 1);
    adj_gemm(y->dtype, false, true, m, out, in, X.p, X.rs, X.cs, tx[1], in, 1, 1.0, ty, out, 1);
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
    const adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    if (!adj_var_is_contig(x) || !adj_var_is_contig(w) || (b && !adj_var_is_contig(b)))
        return false;
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

/* graph mode, Z = X W^T + b (a 1-D x as one row): dX = dZ W,
 * dW = dZ^T X, db = dZ summed over the rows */
bool adj_linear_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    adj_var *x = y->in[0], *w = y->in[1], *b = y->in[2];
    const int64_t in = adj_cold(w)->shape[1], out = adj_cold(w)->shape[0];
    const int64_t rows = (int64_t)rows_of(x);
    adj_var *g2 = x->ndim == 2 ? gy : adj_reshape_at(gy, 2, (int64_t[]){1, out}, NULL, 0);
    if (adj_gwants(y, 0)) {
        adj_var *gx = adj_matmul_at(g2, w, 0, 0, NULL, 0);
        gin[0] = x->ndim == 2 ? gx : adj_reshape_at(gx, 1, (int64_t[]){in}, NULL, 0);
    }
    if (adj_gwants(y, 1)) {
        adj_var *x2 = x->ndim == 2 ? x : adj_reshape_at(x, 2, (int64_t[]){rows, in}, NULL, 0);
        gin[1] = adj_matmul_at(g2, x2, 1, 0, NULL, 0);
    }
    if (adj_gwants(y, 2)) {
        adj_var *gb = adj_sum_axes_at(g2, 1, (int[]){0}, 0, NULL, 0);
        gin[2] = adj_reshape_at(gb, b->ndim, adj_cold(b)->shape, NULL, 0);
    }
    return adj_gok(y);
}

const adj_op_desc adj_desc_linear = {
    .name = "linear", .arity = 3, .optional = 1u << 2, .inputs = linear_inputs,
    .shape = adj_linear_shape,
    .forward = adj_linear_forward, .backward = adj_linear_backward, .jvp = adj_linear_jvp,
    .formula = "Z = X W^T + b", .rule = "dX += dZ W; dW += dZ^T X; db += sum_rows dZ",
    ADJ_CASES(linear_cases), .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
    .teach = &linear_teach, .replay = linear_replay, .props = ADJ_PROP_STRIDES,
    .vjp = adj_linear_vjp,
};

adj_var *adj_linear_at(adj_var *x, adj_var *w, adj_var *b, const char *file, int line)
{
    adj_var *in[3] = {x, w, b};
    return adj_record(ADJ_OP_LINEAR, in, 3, NULL, file, line);
}
adj_var *(adj_linear)(adj_var *x, adj_var *w, adj_var *b) { return adj_linear_at(x, w, b, NULL, 0); }

/* ------------------------------------------- one row or column, again */

/* sum_p a[p sa] b[p sb] in order, as the plain-loop product sums */
#define DOT_SEQ(T, a, sa, b, sb, k)                                            \
    do {                                                                       \
        T s_ = 0;                                                              \
        for (size_t p_ = 0; p_ < (k); p_++)                                    \
            s_ += (a)[p_ * (sa)] * (b)[p_ * (sb)];                             \
        dot_ = s_;                                                             \
    } while (0)

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
    const bool seq = adj_gemm_is_small(m, n, k);
    if (y->dtype == ADJ_F64) {
        const double *A = a->value, *B = b->value, *bv = bias ? bias->value : NULL;
        double *C = y->value;
        for (size_t i = i0; i < i1; i++)
            for (size_t j = j0; j < j1; j++) {
                double dot_;
                if (seq)
                    DOT_SEQ(double, A + i * ai, ap, B + j * bj, bp, k);
                else
                    dot_ = adj_dot4(A + i * ai, ap, B + j * bj, bp, k);
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
