/*
 * Graph-mode rules of the fused and index ops (src/ops/decompose.h): over
 * every check case of each op, in double and float, the composition a
 * fused op records for graph mode has the op's value, and the gradient
 * the plain backward takes through the composition is the op's own
 * backward (its kernels, tested against finite differences by the op
 * table); an index op's graph-mode adjoint (recorded with ops) holds the
 * values its backward writes.  Values are random in each input's domain.
 * Then second derivatives through the rules against closed forms (the
 * Hessians of the cross-entropies, log-sum-exp, variance, mse and BCE; a
 * convolution's mixed derivative) and forward over reverse against
 * reverse over reverse.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include "ops/decompose.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The node itself, for the rules (a public function's result may be a
 * tagged handle; the rules get nodes from the sweep). */
static adj_var *node_of(adj_var *v)
{
    return v ? adj_node_at(adj_var_tape(v), adj_var_id(v)) : NULL;
}

typedef adj_var *(*decomp_fn)(adj_var *y);
typedef bool (*vjp_fn)(adj_var *y, adj_var *gy, adj_var **gin);

static const struct {
    adj_op op;
    decomp_fn f;
} decomps[] = {
    {ADJ_OP_SOFTMAX, adj_decomp_softmax},
    {ADJ_OP_LOG_SOFTMAX, adj_decomp_log_softmax},
    {ADJ_OP_SOFTMAX_AXIS, adj_decomp_softmax_axis},
    {ADJ_OP_LOG_SOFTMAX_AXIS, adj_decomp_log_softmax_axis},
    {ADJ_OP_LOGSUMEXP_AXIS, adj_decomp_logsumexp_axis},
    {ADJ_OP_VAR_AXIS, adj_decomp_var_axis},
    {ADJ_OP_SOFTMAX_CE, adj_decomp_softmax_ce},
    {ADJ_OP_CROSS_ENTROPY, adj_decomp_cross_entropy},
    {ADJ_OP_MSE, adj_decomp_mse},
    {ADJ_OP_BCE_LOGITS, adj_decomp_bce_logits},
    {ADJ_OP_EMBEDDING, adj_decomp_embedding},
    {ADJ_OP_DROPOUT, adj_decomp_dropout},
    {ADJ_OP_CONV2D, adj_decomp_conv2d},
    {ADJ_OP_CONV1D, adj_decomp_conv1d},
    {ADJ_OP_CONV_TRANSPOSE2D, adj_decomp_conv_transpose2d},
    {ADJ_OP_MAX_POOL2D, adj_decomp_max_pool2d},
    {ADJ_OP_AVG_POOL2D, adj_decomp_avg_pool2d},
    {ADJ_OP_ADAPTIVE_AVG_POOL2D, adj_decomp_adaptive_avg_pool2d},
    {ADJ_OP_LAYER_NORM, adj_decomp_layer_norm},
    {ADJ_OP_RMS_NORM, adj_decomp_rms_norm},
    {ADJ_OP_GROUP_NORM, adj_decomp_group_norm},
    {ADJ_OP_BATCH_NORM, adj_decomp_batch_norm},
    {ADJ_OP_SCALED_DOT_PRODUCT_ATTENTION, adj_decomp_scaled_dot_product_attention},
};

static const struct {
    adj_op op;
    vjp_fn f;
} vjps[] = {
    {ADJ_OP_INDEX_SELECT, adj_vjp_index_select},
    {ADJ_OP_GATHER, adj_vjp_gather},
    {ADJ_OP_SCATTER_ADD, adj_vjp_scatter_add},
};

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}

static double draw(adj_domain d)
{
    double u = uniform();
    switch (d) {
    case ADJ_DOM_AWAY0: {
        double m = 0.2 + 1.8 * u;
        return uniform() < 0.5 ? -m : m;
    }
    case ADJ_DOM_POS:
        return 0.5 + 1.5 * u;
    case ADJ_DOM_UNIT:
        return 0.05 + 0.9 * u;
    default:
        return -2 + 4 * u;
    }
}

static size_t numel_of(const adj_op_case *sc, int i)
{
    size_t n = 1;
    for (int k = 0; k < sc->ndim[i]; k++)
        n *= (size_t)sc->shape[i][k];
    return n;
}

/* The case's inputs on t: random floats in the op's domains (wanting a
 * gradient), index tensors below the smallest float dimension. */
static int make_inputs(adj_tape *t, const adj_op_desc *d, const adj_op_case *sc, adj_dtype dt,
                       adj_var **in)
{
    int64_t bound = INT64_MAX;
    for (int j = 0; j < sc->n; j++)
        for (int k = 0; !((d->index_inputs >> j) & 1u) && k < sc->ndim[j]; k++)
            bound = sc->shape[j][k] < bound ? sc->shape[j][k] : bound;
    if (bound == INT64_MAX || bound < 1)
        bound = 1;
    for (int i = 0; i < sc->n; i++) {
        size_t n = numel_of(sc, i);
        if ((d->index_inputs >> i) & 1u) {
            int32_t v[ADJ_CASE_MAX_NUMEL];
            for (size_t j = 0; j < n; j++)
                v[j] = (int32_t)((j * 5 + 3 + (size_t)i) % (size_t)bound);
            in[i] = adj_index(t, sc->ndim[i], sc->shape[i], v);
            continue;
        }
        double v[ADJ_CASE_MAX_NUMEL];
        float f[ADJ_CASE_MAX_NUMEL];
        for (size_t j = 0; j < n; j++) {
            v[j] = draw(d->dom[i < 3 ? i : 2]);
            f[j] = (float)v[j];
        }
        in[i] = dt == ADJ_F64 ? adj_tensor_f64(t, sc->ndim[i], sc->shape[i], v)
                              : adj_tensor_f32(t, sc->ndim[i], sc->shape[i], f);
    }
    return d->arity >= 0 ? d->arity : sc->n;
}

/* |a - b| <= tol (1 + |b|), NaN matching NaN */
static bool close_to(double a, double b, double tol)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b))
        return a == b;
    return fabs(a - b) <= tol * (1 + fabs(b));
}

/* sum(y * R) for a constant R in [0.5, 1.5) of y's shape (the same R for
 * the same seed) */
static adj_var *weighted(adj_tape *t, adj_var *y, uint64_t seed)
{
    size_t m = adj_numel(y);
    double *r = malloc(m * sizeof *r + 8);
    float *rf = malloc(m * sizeof *rf + 8);
    uint64_t keep = rng_state;
    rng_state = seed;
    for (size_t i = 0; i < m; i++) {
        r[i] = 0.5 + uniform();
        rf[i] = (float)r[i];
    }
    rng_state = keep;
    int64_t sh[ADJ_MAX_DIMS];
    for (int k = 0; k < adj_ndim(y); k++)
        sh[k] = adj_dim(y, k);
    adj_var *c = adj_var_dtype(y) == ADJ_F64 ? adj_constant_f64(t, adj_ndim(y), sh, r)
                                            : adj_constant_f32(t, adj_ndim(y), sh, rf);
    free(r);
    free(rf);
    return adj_sum(adj_mul(y, c));
}

/* One case of one decomposed op in one dtype; returns the failures. */
static int check_decomp(adj_op op, decomp_fn f, int ci, adj_dtype dt)
{
    const adj_op_desc *d = adj_op_table[op];
    const adj_op_case *sc = &d->cases[ci];
    const double tol = dt == ADJ_F64 ? 1e-10 : 2e-4;
    char what[160];
    snprintf(what, sizeof what, "%s case %d%s %s", d->name, ci, sc->note ? sc->note : "",
             adj_dtype_name(dt));
    adj_tape *t = adj_tape_new();
    adj_var *in[ADJ_CASE_MAX_IN] = {NULL};
    int nin = make_inputs(t, d, sc, dt, in);
    const void *attr = sc->attr ? sc->attr : d->case_attr;
    adj_var *y = adj_record(op, in, nin, attr, __FILE__, __LINE__);
    int bad = 0;
    if (adj_tape_status(t) != ADJ_OK) {
        fprintf(stderr, "%s: recording failed: %s\n", what, adj_tape_message(t));
        adj_tape_free(t);
        return 1;
    }
    adj_var *z = f(node_of(y));
    if (adj_tape_status(t) != ADJ_OK) {
        fprintf(stderr, "%s: the composition failed: %s\n", what, adj_tape_message(t));
        adj_tape_free(t);
        return 1;
    }
    bool same = adj_ndim(z) == adj_ndim(y);
    for (int k = 0; same && k < adj_ndim(y); k++)
        same = adj_dim(z, k) == adj_dim(y, k);
    if (!same || adj_var_dtype(z) != adj_var_dtype(y)) {
        char a[64], b[64];
        adj_shape_string(y, a, sizeof a);
        adj_shape_string(z, b, sizeof b);
        fprintf(stderr, "%s: the composition is %s, the op %s\n", what, b, a);
        adj_tape_free(t);
        return 1;
    }
    for (size_t i = 0; i < adj_numel(y); i++)
        if (!close_to(adj_value_at(z, i), adj_value_at(y, i), tol)) {
            fprintf(stderr, "%s: value %zu: composition %.17g, op %.17g\n", what, i,
                    adj_value_at(z, i), adj_value_at(y, i));
            bad++;
            break;
        }
    /* gradients of sum(y R): the op's backward, then the composition's */
    double *g[ADJ_CASE_MAX_IN] = {NULL};
    adj_backward(weighted(t, y, 77));
    for (int i = 0; i < sc->n; i++)
        if (in[i] && adj_requires_grad(in[i])) {
            g[i] = calloc(adj_numel(in[i]) + 1, sizeof(double));
            if (adj_grad_data(in[i]))
                adj_copy_grad(in[i], g[i]);
        }
    adj_backward(weighted(t, z, 77));
    for (int i = 0; i < sc->n; i++) {
        if (!g[i])
            continue;
        for (size_t j = 0; j < adj_numel(in[i]); j++) {
            double gz = adj_grad_data(in[i]) ? adj_grad_at(in[i], j) : 0.0;
            if (!close_to(gz, g[i][j], tol)) {
                fprintf(stderr, "%s: gradient of input %d at %zu: composition %.17g, op %.17g\n",
                        what, i, j, gz, g[i][j]);
                bad++;
                break;
            }
        }
        free(g[i]);
    }
    if (adj_tape_status(t) != ADJ_OK) {
        fprintf(stderr, "%s: %s\n", what, adj_tape_message(t));
        bad++;
    }
    adj_tape_free(t);
    return bad;
}

START_TEST(decompositions_match_the_ops)
{
    int bad = 0, checked = 0;
    for (size_t r = 0; r < sizeof decomps / sizeof *decomps; r++) {
        const adj_op_desc *d = adj_op_table[decomps[r].op];
        for (int ci = 0; ci < d->ncases; ci++)
            for (int dt = 0; dt < 2; dt++) {
                bad += check_decomp(decomps[r].op, decomps[r].f, ci, dt ? ADJ_F32 : ADJ_F64);
                checked++;
            }
    }
    ck_assert_int_gt(checked, 100);
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* One case of an index op: its graph-mode adjoints against its backward
 * seeded with the same dy. */
static int check_vjp(adj_op op, vjp_fn f, int ci, adj_dtype dt)
{
    const adj_op_desc *d = adj_op_table[op];
    const adj_op_case *sc = &d->cases[ci];
    char what[160];
    snprintf(what, sizeof what, "%s case %d%s %s", d->name, ci, sc->note ? sc->note : "",
             adj_dtype_name(dt));
    adj_tape *t = adj_tape_new();
    adj_var *in[ADJ_CASE_MAX_IN] = {NULL};
    int nin = make_inputs(t, d, sc, dt, in);
    adj_var *y = adj_record(op, in, nin, sc->attr ? sc->attr : d->case_attr, __FILE__, __LINE__);
    size_t m = adj_numel(y);
    double *seed = malloc(m * sizeof *seed + 8);
    float *sf = malloc(m * sizeof *sf + 8);
    for (size_t i = 0; i < m; i++)
        sf[i] = (float)(seed[i] = draw(ADJ_DOM_ANY));
    int64_t sh[ADJ_MAX_DIMS];
    for (int k = 0; k < adj_ndim(y); k++)
        sh[k] = adj_dim(y, k);
    adj_var *gy = dt == ADJ_F64 ? adj_constant_f64(t, adj_ndim(y), sh, seed)
                                : adj_constant_f32(t, adj_ndim(y), sh, sf);
    adj_var *gin[ADJ_CASE_MAX_IN] = {NULL};
    int bad = !f(node_of(y), gy, gin);
    adj_backward_seeded(y, seed);
    for (int i = 0; !bad && i < sc->n; i++) {
        bool wants = adj_requires_grad(in[i]) != 0;
        if (wants != (gin[i] != NULL)) {
            fprintf(stderr, "%s: input %d: graph adjoint %s\n", what, i, gin[i] ? "given" : "missing");
            bad++;
            continue;
        }
        if (!wants)
            continue;
        ck_assert_int_eq((int)adj_numel(gin[i]), (int)adj_numel(in[i]));
        for (size_t j = 0; j < adj_numel(in[i]); j++) {
            double want = adj_grad_data(in[i]) ? adj_grad_at(in[i], j) : 0.0;
            if (!close_to(adj_value_at(gin[i], j), want, dt == ADJ_F64 ? 1e-12 : 1e-5)) {
                fprintf(stderr, "%s: input %d at %zu: graph %.17g, backward %.17g\n", what, i, j,
                        adj_value_at(gin[i], j), want);
                bad++;
                break;
            }
        }
    }
    if (adj_tape_status(t) != ADJ_OK) {
        fprintf(stderr, "%s: %s\n", what, adj_tape_message(t));
        bad++;
    }
    free(seed);
    free(sf);
    adj_tape_free(t);
    return bad;
}

START_TEST(index_adjoints_match_the_backward)
{
    int bad = 0;
    for (size_t r = 0; r < sizeof vjps / sizeof *vjps; r++) {
        const adj_op_desc *d = adj_op_table[vjps[r].op];
        for (int ci = 0; ci < d->ncases; ci++)
            for (int dt = 0; dt < 2; dt++)
                bad += check_vjp(vjps[r].op, vjps[r].f, ci, dt ? ADJ_F32 : ADJ_F64);
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* Attention with a mask that drops every key of a row and a causal mask:
 * the composition gives that row zeros, as the op does. */
START_TEST(attention_empty_rows)
{
    adj_tape *t = adj_tape_new();
    double qv[3 * 2], kv[4 * 2], vv[4 * 3], mv[3 * 4] = {1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1};
    for (int i = 0; i < 6; i++)
        qv[i] = draw(ADJ_DOM_ANY);
    for (int i = 0; i < 8; i++)
        kv[i] = draw(ADJ_DOM_ANY);
    for (int i = 0; i < 12; i++)
        vv[i] = draw(ADJ_DOM_ANY);
    adj_var *q = adj_tensor_f64(t, 2, (int64_t[]){3, 2}, qv);
    adj_var *k = adj_tensor_f64(t, 2, (int64_t[]){4, 2}, kv);
    adj_var *v = adj_tensor_f64(t, 2, (int64_t[]){4, 3}, vv);
    adj_var *mask = adj_constant_f64(t, 2, (int64_t[]){3, 4}, mv);
    for (int causal = 0; causal < 2; causal++) {
        adj_var *y = adj_scaled_dot_product_attention(q, k, v, mask, causal, 0.7);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        adj_var *z = adj_decomp_scaled_dot_product_attention(node_of(y));
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        for (size_t i = 0; i < 9; i++) {
            ck_assert(close_to(adj_value_at(z, i), adj_value_at(y, i), 1e-12));
            if (i >= 3 && i < 6)
                ck_assert(adj_value_at(z, i) == 0.0); /* row 1 keeps no key */
        }
    }
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------ second derivatives by hand */

/* H[i][j] = d^2 L / dx_i dx_j by differentiating each component of the
 * recorded gradient again (x flat, n elements) */
static void hessian_of(adj_var *l, adj_var *x, double *h)
{
    adj_tape *t = adj_var_tape(x);
    size_t n = adj_numel(x);
    adj_backward_opts graph = {.create_graph = 1};
    adj_var *g = NULL, *row = NULL;
    ck_assert_msg(adj_grad(l, 1, &x, &g, &graph) == ADJ_OK, "%s", adj_tape_message(t));
    adj_var *flat = adj_reshape(g, 1, (int64_t[]){(int64_t)n});
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(adj_grad(adj_select(flat, 0, (int64_t)i), 1, &x, &row, NULL) == ADJ_OK,
                      "%s", adj_tape_message(t));
        ck_assert_int_eq(adj_copy_value(row, h + i * n), ADJ_OK);
    }
}

#define HNEAR(got, want, tol)                                                  \
    ck_assert_msg(fabs((got) - (want)) <= (tol) * (1 + fabs(want)), "%s = %.17g, want %.17g (%s)", \
                  #got, (double)(got), (double)(want), what)

/* softmax cross-entropy of one row: H = diag(p) - p p^T; over R rows the
 * mean divides by R.  log-sum-exp has the same Hessian. */
START_TEST(softmax_ce_hessian)
{
    const double z[2][4] = {{0.3, -1.2, 2.0, 0.5}, {1.0, 1.0, -0.5, 0.0}};
    const int32_t lab[2] = {2, 0};
    for (int kind = 0; kind < 4; kind++) {
        const char *what = kind == 0 ? "softmax_cross_entropy" : kind == 1 ? "cross_entropy"
                           : kind == 2 ? "logsumexp_axis" : "-log_softmax[label]";
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_tensor_f64(t, 2, (int64_t[]){2, 4}, &z[0][0]), *l;
        if (kind == 0)
            l = adj_softmax_cross_entropy(x, lab);
        else if (kind == 1)
            l = adj_cross_entropy(x, adj_index(t, 1, (int64_t[]){2}, lab), -100);
        else if (kind == 2)
            l = adj_scale(adj_sum(adj_logsumexp_axis(x, 1)), 0.5);
        else
            l = adj_scale(adj_sum(adj_gather(adj_log_softmax(x), 1,
                                             adj_index(t, 2, (int64_t[]){2, 1}, lab))), -0.5);
        double h[64];
        hessian_of(l, x, h);
        for (int r = 0; r < 2; r++) {
            double p[4], s = 0;
            for (int j = 0; j < 4; j++)
                s += p[j] = exp(z[r][j]);
            for (int j = 0; j < 4; j++)
                p[j] /= s;
            for (int i = 0; i < 8; i++)
                for (int j = 0; j < 4; j++) {
                    int row = r * 4 + j;
                    double want = i / 4 != r ? 0 : ((i % 4 == j ? p[j] : 0) - p[j] * p[i % 4]) / 2;
                    HNEAR(h[row * 8 + i], want, 1e-13);
                }
        }
        adj_tape_free(t);
    }
}
END_TEST

/* var over N elements (divisor N - ddof): H = 2 (I - 1 1^T / N) / (N - ddof);
 * mse(a, b): d2/da2 = 2 I / n; bce_with_logits: diag(s (1 - s)) / n */
START_TEST(closed_form_hessians)
{
    const double xv[5] = {0.4, -1.1, 2.3, 0.0, 0.7}, tv[5] = {0.2, 0.9, 0.5, 0.1, 0.6};
    for (int kind = 0; kind < 4; kind++) {
        const char *what = kind == 0 ? "var_axis" : kind == 1 ? "var_axes ddof 1"
                           : kind == 2 ? "mse" : "bce_with_logits";
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_tensor_f64(t, 1, (int64_t[]){5}, xv);
        adj_var *c = adj_constant_f64(t, 1, (int64_t[]){5}, tv), *l;
        if (kind == 0)
            l = adj_var_axis(x, 0);
        else if (kind == 1)
            l = adj_var_axes(x, 1, (int[]){0}, 0, 1);
        else if (kind == 2)
            l = adj_mse(x, c);
        else
            l = adj_bce_with_logits(x, c);
        double h[25];
        hessian_of(l, x, h);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) {
                double want, s = 1 / (1 + exp(-xv[i]));
                if (kind < 2)
                    want = 2 * ((i == j) - 0.2) / (kind == 0 ? 5 : 4);
                else if (kind == 2)
                    want = i == j ? 0.4 : 0;
                else
                    want = i == j ? s * (1 - s) / 5 : 0;
                HNEAR(h[i * 5 + j], want, 1e-13);
            }
        adj_tape_free(t);
    }
}
END_TEST

/* Ops linear in an input have no second derivative in it: dropout,
 * convolution in x, average pools; the mixed derivative of a convolution,
 * d^2 (sum y R) / dx dw, is a known product: for a 1x1 kernel
 * y[n,o,i,j] = sum_c w[o,c] x[n,c,i,j], so d/dw[o,c] of grad_x L = R[.,o,.,.] at c. */
START_TEST(linear_ops_second_derivatives)
{
    adj_tape *t = adj_tape_new();
    double xv[2 * 3 * 2 * 2], wv[2 * 3], rv[2 * 2 * 2 * 2];
    for (int i = 0; i < 24; i++)
        xv[i] = draw(ADJ_DOM_ANY);
    for (int i = 0; i < 6; i++)
        wv[i] = draw(ADJ_DOM_ANY);
    for (int i = 0; i < 16; i++)
        rv[i] = draw(ADJ_DOM_ANY);
    adj_var *x = adj_tensor_f64(t, 4, (int64_t[]){2, 3, 2, 2}, xv);
    adj_var *w = adj_tensor_f64(t, 4, (int64_t[]){2, 3, 1, 1}, wv);
    adj_var *r = adj_constant_f64(t, 4, (int64_t[]){2, 2, 2, 2}, rv);
    adj_var *l = adj_sum(adj_mul(adj_conv2d(x, w, NULL, NULL), r));
    adj_backward_opts graph = {.create_graph = 1};
    adj_var *gx, *hxw[2];
    ck_assert_int_eq(adj_grad(l, 1, &x, &gx, &graph), ADJ_OK);
    /* d/dw of sum(gx * V) for V = e at (n=1, c=2, i=0, j=1): dL/dx[1,2,0,1] =
     * sum_o w[o,2] R[1,o,0,1], so its w-gradient is R[1,o,0,1] at [o,2] */
    adj_var *pick = adj_select(adj_select(adj_select(adj_select(gx, 0, 1), 0, 2), 0, 0), 0, 1);
    adj_var *both[2] = {w, x};
    ck_assert_int_eq(adj_grad(pick, 2, both, hxw, NULL), ADJ_OK);
    const char *what = "conv2d";
    for (int o = 0; o < 2; o++)
        for (int c = 0; c < 3; c++)
            HNEAR(adj_value_at(hxw[0], (size_t)(o * 3 + c)), c == 2 ? rv[8 + o * 4 + 1] : 0.0, 1e-14);
    for (size_t i = 0; i < 24; i++)
        HNEAR(adj_value_at(hxw[1], i), 0.0, 1e-14);
    adj_tape_free(t);
}
END_TEST

/* Forward over reverse: the tangent of the recorded gradient along v is
 * H v, the same numbers as differentiating the gradient again (layer norm
 * and attention, whose compositions use most of the primitive rules). */
START_TEST(forward_over_reverse)
{
    for (int kind = 0; kind < 2; kind++) {
        const char *what = kind ? "attention" : "layer_norm";
        adj_tape *t = adj_tape_new();
        double xv[12], v[12], wv[4], h[144];
        for (int i = 0; i < 12; i++) {
            xv[i] = draw(ADJ_DOM_ANY);
            v[i] = draw(ADJ_DOM_ANY);
        }
        for (int i = 0; i < 4; i++)
            wv[i] = draw(ADJ_DOM_ANY);
        adj_var *x = adj_tensor_f64(t, 2, (int64_t[]){3, 4}, xv);
        adj_var *w = adj_constant_f64(t, 1, (int64_t[]){4}, wv), *y;
        if (kind)
            y = adj_scaled_dot_product_attention(x, adj_tanh(x), adj_sin(x), NULL, 1, 0);
        else
            y = adj_layer_norm(x, 1, w, NULL, 1e-5);
        adj_var *l = adj_sum(adj_mul(adj_square(y), adj_cos(x)));
        hessian_of(l, x, h);
        adj_var *g;
        adj_backward_opts graph = {.create_graph = 1};
        ck_assert_int_eq(adj_grad(l, 1, &x, &g, &graph), ADJ_OK);
        double hv[12];
        const double *vs[1] = {v};
        ck_assert_msg(adj_jvp(g, 1, &x, vs, hv) == ADJ_OK, "%s", adj_tape_message(t));
        for (int i = 0; i < 12; i++) {
            double want = 0;
            for (int j = 0; j < 12; j++)
                want += h[i * 12 + j] * v[j];
            HNEAR(hv[i], want, 1e-11);
        }
        adj_tape_free(t);
    }
}
END_TEST

static Suite *graphrules_suite(void)
{
    Suite *s = suite_create("graphrules");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, decompositions_match_the_ops);
    tcase_add_test(tc, index_adjoints_match_the_backward);
    tcase_add_test(tc, attention_empty_rows);
    tcase_add_test(tc, softmax_ce_hessian);
    tcase_add_test(tc, closed_form_hessians);
    tcase_add_test(tc, linear_ops_second_derivatives);
    tcase_add_test(tc, forward_over_reverse);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(graphrules_suite)
