/*
 * Index tensors (ADJ_I32) and the ops that take them: adj_embedding,
 * adj_cross_entropy, adj_index_select, adj_gather, adj_scatter_add,
 * adj_one_hot.
 * Expected values come from naive loops over the same arrays written here
 * (a gather and a scatter-add in double), finite differences, and the
 * errors' words.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HAS(text, piece) ck_assert_msg(strstr((text), (piece)) != NULL, "missing: %s\n--- in:\n%s", (piece), (text))

/* An index tensor keeps its values, has no gradient and prints as i32 */
START_TEST(index_leaf)
{
    adj_tape *t = adj_tape_new();
    int32_t data[6] = {3, 0, -2, 7, 1, 1};
    adj_var *a = adj_index(t, 2, ((int64_t[]){2, 3}), data);
    adj_var *v = adj_index_view(t, 1, ((int64_t[]){6}), data);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_var_dtype(a), ADJ_I32);
    ck_assert_str_eq(adj_dtype_name(ADJ_I32), "i32");
    ck_assert(!adj_requires_grad(a));
    ck_assert_int_eq(adj_ndim(a), 2);
    ck_assert_int_eq(adj_dim(a, 1), 3);
    for (size_t i = 0; i < 6; i++) {
        ck_assert(adj_value_at(a, i) == data[i]);
        ck_assert(adj_value_at(v, i) == data[i]);
    }
    ck_assert_ptr_eq(adj_data(v), data); /* the view reads in place */
    ck_assert_ptr_ne(adj_data(a), data); /* the index tensor is a copy */
    data[0] = 9;
    ck_assert(adj_value_at(v, 0) == 9);
    ck_assert(adj_value_at(a, 0) == 3);
    adj_tape_free(t);
}
END_TEST

/* Float ops refuse index tensors; index tensors take no gradient */
START_TEST(index_dtype_errors)
{
    adj_tape *t = adj_tape_new();
    adj_var *i = adj_index(t, 1, ((int64_t[]){3}), ((int32_t[]){0, 1, 2}));
    adj_var *x = adj_tensor_f64(t, 1, ((int64_t[]){3}), NULL);
    adj_exp(i);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EDTYPE);
    HAS(adj_tape_message(t), "adj_exp");
    HAS(adj_tape_message(t), "index tensor (i32)");
    adj_tape_reset(t);
    i = adj_index(t, 1, ((int64_t[]){3}), ((int32_t[]){0, 1, 2}));
    x = adj_tensor_f64(t, 1, ((int64_t[]){3}), NULL);
    adj_add(x, i);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EDTYPE);
    HAS(adj_tape_message(t), "adj_add");
    HAS(adj_tape_message(t), "input b is an index tensor");
    adj_tape_reset(t);
    adj_leaf_at(t, ADJ_I32, 1, ((int64_t[]){3}), NULL, 1, "here.c", 7);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EDTYPE);
    HAS(adj_tape_message(t), "takes no gradient");
    HAS(adj_tape_message(t), "here.c:7");
    adj_tape_reset(t);
    i = adj_index(t, 0, NULL, ((int32_t[]){4}));
    ck_assert_int_eq(adj_backward(i), ADJ_EDTYPE);
    HAS(adj_tape_message(t), "adj_backward");
    HAS(adj_tape_message(t), "index tensor");
    adj_tape_free(t);
}
END_TEST

enum { V = 5, D = 3 };

static void table_values(double *e)
{
    for (int r = 0; r < V; r++)
        for (int c = 0; c < D; c++)
            e[r * D + c] = 0.25 * r - 0.5 * c + 0.125;
}

/* Forward: row idx[i] of the table for every index, shape idx + (D);
 * backward: the scatter-add of the seed, repeated indices summed */
START_TEST(embedding_values_and_scatter)
{
    for (int dt = 0; dt < 2; dt++) {
        adj_dtype dtype = dt ? ADJ_F64 : ADJ_F32;
        adj_tape *t = adj_tape_new();
        double e[V * D];
        table_values(e);
        float ef[V * D];
        for (int k = 0; k < V * D; k++)
            ef[k] = (float)e[k];
        adj_var *E = dtype == ADJ_F64 ? adj_tensor_f64(t, 2, ((int64_t[]){V, D}), e)
                                      : adj_tensor_f32(t, 2, ((int64_t[]){V, D}), ef);
        const int32_t ix[6] = {1, 0, 1, 4, 1, 0};
        adj_var *idx = adj_index(t, 2, ((int64_t[]){2, 3}), ix);
        adj_var *y = adj_embedding(E, idx);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        ck_assert_int_eq(adj_var_dtype(y), dtype);
        ck_assert_int_eq(adj_ndim(y), 3);
        ck_assert_int_eq(adj_dim(y, 0), 2);
        ck_assert_int_eq(adj_dim(y, 1), 3);
        ck_assert_int_eq(adj_dim(y, 2), D);
        for (int i = 0; i < 6; i++)
            for (int c = 0; c < D; c++)
                ck_assert(adj_value_at(y, (size_t)(i * D + c)) == e[ix[i] * D + c]);
        double seed[6 * D], want[V * D] = {0};
        for (int k = 0; k < 6 * D; k++)
            seed[k] = 0.5 * (k % 7) - 1.0; /* exact in float */
        for (int i = 0; i < 6; i++)
            for (int c = 0; c < D; c++)
                want[ix[i] * D + c] += seed[i * D + c];
        ck_assert_int_eq(adj_backward_seeded(y, seed), ADJ_OK);
        for (int k = 0; k < V * D; k++)
            ck_assert_msg(adj_grad_at(E, (size_t)k) == want[k], "dE[%d] = %g, want %g", k,
                          adj_grad_at(E, (size_t)k), want[k]);
        ck_assert(adj_grad_at(E, 2 * D) == 0); /* row 2 is never used */
        adj_tape_free(t);
    }
}
END_TEST

static const int32_t fd_idx[7] = {2, 2, 0, 4, 2, 1, 0};

/* f(E) = sum(w · sin(E[idx])) with a fixed index tensor (repeats included) */
static adj_var *fd_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    adj_var *idx = adj_index(t, 1, ((int64_t[]){7}), fd_idx);
    adj_var *y = adj_embedding(in[0], idx);
    double w[7 * D];
    for (int k = 0; k < 7 * D; k++)
        w[k] = 0.1 * (k + 1);
    float wf[7 * D];
    for (int k = 0; k < 7 * D; k++)
        wf[k] = (float)w[k];
    adj_var *wv = adj_var_dtype(in[0]) == ADJ_F64 ? adj_constant_f64(t, 2, ((int64_t[]){7, D}), w)
                                                  : adj_constant_f32(t, 2, ((int64_t[]){7, D}), wf);
    return adj_sum(adj_mul(wv, adj_sin(y)));
}

START_TEST(embedding_finite_differences)
{
    double e[V * D];
    table_values(e);
    adj_gradcheck_input in = {.ndim = 2, .shape = {V, D}, .data = e};
    for (int dt = 0; dt < 2; dt++) {
        adj_gradcheck_opts o = {.dtype = dt ? ADJ_F64 : ADJ_F32};
        adj_gradcheck_report r;
        ck_assert_int_eq(adj_gradcheck(fd_fn, NULL, 1, &in, &o, &r), ADJ_OK);
        ck_assert_msg(r.passed, "%s: max rel err %g", dt ? "f64" : "f32", r.max_rel_err);
        o.replay = 1;
        ck_assert_int_eq(adj_gradcheck(fd_fn, NULL, 1, &in, &o, &r), ADJ_OK);
        ck_assert_msg(r.passed, "replay %s: max rel err %g", dt ? "f64" : "f32", r.max_rel_err);
    }
}
END_TEST

/* Forward mode: dY = dE[idx], against the rows of the direction */
START_TEST(embedding_jvp)
{
    adj_tape *t = adj_tape_new();
    double e[V * D], v[V * D], out[7 * D];
    table_values(e);
    for (int k = 0; k < V * D; k++)
        v[k] = 1.0 + k;
    adj_var *E = adj_tensor_f64(t, 2, ((int64_t[]){V, D}), e);
    adj_var *y = adj_embedding(E, adj_index(t, 1, ((int64_t[]){7}), fd_idx));
    const double *vs[1] = {v};
    ck_assert_int_eq(adj_jvp(y, 1, &E, vs, out), ADJ_OK);
    for (int i = 0; i < 7; i++)
        for (int c = 0; c < D; c++)
            ck_assert(out[i * D + c] == v[fd_idx[i] * D + c]);
    adj_tape_free(t);
}
END_TEST

/* The scatter-add gives the same bits with one and two threads, and the
 * sums of a naive double loop to float rounding */
START_TEST(embedding_threads_same_bits)
{
    enum { BV = 64, BD = 512, BN = 300 };
    float *e = malloc(sizeof(float) * BV * BD), *seed_f = malloc(sizeof(float) * BN * BD);
    double *seed = malloc(sizeof(double) * BN * BD), *want = calloc(BV * BD, sizeof(double));
    float *g[2] = {malloc(sizeof(float) * BV * BD), malloc(sizeof(float) * BV * BD)};
    int32_t ix[BN];
    for (int k = 0; k < BV * BD; k++)
        e[k] = (float)sin(k);
    for (int i = 0; i < BN; i++)
        ix[i] = (int32_t)((i * 7 + i / 3) % BV);
    for (int k = 0; k < BN * BD; k++) {
        seed_f[k] = (float)cos(0.37 * k);
        seed[k] = seed_f[k];
    }
    for (int i = 0; i < BN; i++)
        for (int c = 0; c < BD; c++)
            want[ix[i] * BD + c] += seed[i * BD + c];
    for (int run = 0; run < 2; run++) {
        adj_set_threads(run + 1);
        adj_tape *t = adj_tape_new();
        adj_var *E = adj_tensor_f32(t, 2, ((int64_t[]){BV, BD}), e);
        adj_var *y = adj_embedding(E, adj_index(t, 1, ((int64_t[]){BN}), ix));
        ck_assert_int_eq(adj_backward_seeded(y, seed), ADJ_OK);
        memcpy(g[run], adj_grad_data(E), sizeof(float) * BV * BD);
        adj_tape_free(t);
    }
    adj_set_threads(1);
    ck_assert(memcmp(g[0], g[1], sizeof(float) * BV * BD) == 0);
    for (int k = 0; k < BV * BD; k++)
        ck_assert_msg(fabs(g[0][k] - want[k]) <= 1e-5 * (1 + fabs(want[k])), "dE[%d] %g vs %g", k,
                      g[0][k], want[k]);
    free(e);
    free(seed_f);
    free(seed);
    free(want);
    free(g[0]);
    free(g[1]);
}
END_TEST

/* Cross-entropy with index targets against a naive log-sum-exp in long
 * double; ignored rows leave the sum and the count */
static double naive_ce(const double *z, const int32_t *t, int rows, int c, int ignore, double *dz)
{
    long double sum = 0;
    int kept = 0;
    for (int r = 0; r < rows; r++)
        kept += t[r] != ignore;
    for (int r = 0; r < rows; r++) {
        if (t[r] == ignore) {
            for (int j = 0; j < c; j++)
                dz[r * c + j] = 0;
            continue;
        }
        long double e = 0;
        for (int j = 0; j < c; j++)
            e += expl((long double)z[r * c + j]);
        sum += logl(e) - z[r * c + t[r]];
        for (int j = 0; j < c; j++)
            dz[r * c + j] = (double)((expl((long double)z[r * c + j]) / e - (j == t[r])) / kept);
    }
    return (double)(sum / kept);
}

START_TEST(cross_entropy_values)
{
    const double z[12] = {0.5, -1.0, 2.0, 0.25, 1.5, -0.5, 0.0, 0.75, -2.0, 1.0, 0.125, 0.5};
    const int32_t t[4] = {2, -100, 0, 1}; /* (2,2) targets, one ignored */
    double want_dz[12];
    double want = naive_ce(z, t, 4, 3, -100, want_dz);
    for (int dt = 0; dt < 2; dt++) {
        adj_tape *tp = adj_tape_new();
        adj_var *Z;
        if (dt) {
            Z = adj_tensor_f64(tp, 3, ((int64_t[]){2, 2, 3}), z);
        } else {
            float zf[12];
            for (int k = 0; k < 12; k++)
                zf[k] = (float)z[k];
            Z = adj_tensor_f32(tp, 3, ((int64_t[]){2, 2, 3}), zf);
        }
        adj_var *L = adj_cross_entropy(Z, adj_index(tp, 2, ((int64_t[]){2, 2}), t), -100);
        ck_assert_int_eq(adj_backward(L), ADJ_OK);
        double tol = dt ? 1e-14 : 1e-6;
        ck_assert_msg(fabs(adj_item(L) - want) <= tol, "L %.17g want %.17g", adj_item(L), want);
        for (int k = 0; k < 12; k++)
            ck_assert_msg(fabs(adj_grad_at(Z, (size_t)k) - want_dz[k]) <= tol, "dz[%d] %g want %g",
                          k, adj_grad_at(Z, (size_t)k), want_dz[k]);
        ck_assert(adj_grad_at(Z, 3) == 0 && adj_grad_at(Z, 5) == 0); /* the ignored row */
        adj_tape_free(tp);
    }
}
END_TEST

/* Logits of any size give the same loss as the shifted ones; every
 * target ignored is a mean over nothing: NaN */
START_TEST(cross_entropy_large_and_empty)
{
    adj_tape *tp = adj_tape_new();
    const float big[3] = {1000.0f, 1001.0f, 999.0f}, small[3] = {1.0f, 2.0f, 0.0f};
    adj_var *t1 = adj_index(tp, 1, ((int64_t[]){1}), ((int32_t[]){1}));
    adj_var *a = adj_cross_entropy(adj_constant_f32(tp, 2, ((int64_t[]){1, 3}), big), t1, -1);
    adj_var *b = adj_cross_entropy(adj_constant_f32(tp, 2, ((int64_t[]){1, 3}), small), t1, -1);
    ck_assert(isfinite(adj_item(a)));
    ck_assert_msg(fabs(adj_item(a) - adj_item(b)) < 1e-6, "%g vs %g", adj_item(a), adj_item(b));
    /* log(1 + e + e^-1) - 1 + 1, from the definition */
    ck_assert(fabs(adj_item(b) - (log(exp(1.0) + exp(2.0) + 1.0) - 2.0)) < 1e-6);
    adj_var *c = adj_cross_entropy(adj_constant_f32(tp, 2, ((int64_t[]){1, 3}), small),
                                   adj_index(tp, 1, ((int64_t[]){1}), ((int32_t[]){7})), 7);
    ck_assert_int_eq(adj_tape_status(tp), ADJ_OK);
    ck_assert(isnan(adj_item(c)));
    adj_tape_free(tp);
}
END_TEST

/* f(z) = cross_entropy(z, t) with t fixed, ignored entries included */
static adj_var *ce_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    adj_var *tg = adj_index(t, 2, ((int64_t[]){2, 3}), ((int32_t[]){3, 0, -1, 3, 1, 2}));
    return adj_cross_entropy(in[0], tg, -1);
}

START_TEST(cross_entropy_finite_differences)
{
    double z[24];
    for (int k = 0; k < 24; k++)
        z[k] = sin(1.7 * k);
    adj_gradcheck_input in = {.ndim = 3, .shape = {2, 3, 4}, .data = z};
    for (int dt = 0; dt < 2; dt++) {
        adj_gradcheck_opts o = {.dtype = dt ? ADJ_F64 : ADJ_F32};
        adj_gradcheck_report r;
        ck_assert_int_eq(adj_gradcheck(ce_fn, NULL, 1, &in, &o, &r), ADJ_OK);
        ck_assert_msg(r.passed, "%s: max rel err %g", dt ? "f64" : "f32", r.max_rel_err);
    }
}
END_TEST

/* index_select, gather and scatter_add against loops written from their
 * definitions, with repeated indices */
START_TEST(select_gather_scatter_values)
{
    adj_tape *t = adj_tape_new();
    double x[12], src[6], seed[8];
    for (int k = 0; k < 12; k++)
        x[k] = 1.0 + k; /* x (3,4): x[r][c] = 1 + 4r + c */
    for (int k = 0; k < 6; k++)
        src[k] = 0.5 * (k + 1);
    for (int k = 0; k < 8; k++)
        seed[k] = k - 2.5;
    /* index_select along axis 1 with idx (2, 0, 2) -> (3,3) */
    adj_var *X = adj_tensor_f64(t, 2, ((int64_t[]){3, 4}), x);
    adj_var *s = adj_index_select(X, 1, adj_index(t, 1, ((int64_t[]){3}), ((int32_t[]){2, 0, 2})));
    const int32_t sel[3] = {2, 0, 2};
    ck_assert_int_eq(adj_dim(s, 0), 3);
    ck_assert_int_eq(adj_dim(s, 1), 3);
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 3; i++)
            ck_assert(adj_value_at(s, (size_t)(r * 3 + i)) == x[r * 4 + sel[i]]);
    double ds[9];
    for (int k = 0; k < 9; k++)
        ds[k] = k + 1;
    ck_assert_int_eq(adj_backward_seeded(s, ds), ADJ_OK);
    for (int r = 0; r < 3; r++) {
        ck_assert(adj_grad_at(X, (size_t)(r * 4 + 0)) == ds[r * 3 + 1]);
        ck_assert(adj_grad_at(X, (size_t)(r * 4 + 1)) == 0);
        ck_assert(adj_grad_at(X, (size_t)(r * 4 + 2)) == ds[r * 3 + 0] + ds[r * 3 + 2]);
        ck_assert(adj_grad_at(X, (size_t)(r * 4 + 3)) == 0);
    }
    adj_tape_reset(t);
    /* gather along axis 0: idx (2,4), y[i][c] = x[idx[i][c]][c] */
    const int32_t gi[8] = {2, 0, 1, 2, 2, 2, 0, 1};
    X = adj_tensor_f64(t, 2, ((int64_t[]){3, 4}), x);
    adj_var *g = adj_gather(X, 0, adj_index(t, 2, ((int64_t[]){2, 4}), gi));
    double want[12] = {0};
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 4; c++) {
            ck_assert(adj_value_at(g, (size_t)(i * 4 + c)) == x[gi[i * 4 + c] * 4 + c]);
            want[gi[i * 4 + c] * 4 + c] += seed[i * 4 + c];
        }
    ck_assert_int_eq(adj_backward_seeded(g, seed), ADJ_OK);
    for (int k = 0; k < 12; k++)
        ck_assert_msg(adj_grad_at(X, (size_t)k) == want[k], "gather dx[%d]", k);
    adj_tape_reset(t);
    /* scatter_add along axis 1: idx (3,2), y = x; y[r][idx[r][j]] += src[r][j] */
    const int32_t si[6] = {3, 3, 0, 1, 2, 0};
    X = adj_tensor_f64(t, 2, ((int64_t[]){3, 4}), x);
    adj_var *S = adj_tensor_f64(t, 2, ((int64_t[]){3, 2}), src);
    adj_var *y = adj_scatter_add(X, 1, adj_index(t, 2, ((int64_t[]){3, 2}), si), S);
    double yw[12];
    memcpy(yw, x, sizeof yw);
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 2; j++)
            yw[r * 4 + si[r * 2 + j]] += src[r * 2 + j];
    double dy[12];
    for (int k = 0; k < 12; k++) {
        ck_assert(adj_value_at(y, (size_t)k) == yw[k]);
        dy[k] = 0.25 * k;
    }
    ck_assert_int_eq(adj_backward_seeded(y, dy), ADJ_OK);
    for (int k = 0; k < 12; k++)
        ck_assert(adj_grad_at(X, (size_t)k) == dy[k]);
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 2; j++)
            ck_assert(adj_grad_at(S, (size_t)(r * 2 + j)) == dy[r * 4 + si[r * 2 + j]]);
    adj_tape_free(t);
}
END_TEST

/* one_hot: 1 at each index, 0 elsewhere, in the dtype asked for, constant */
START_TEST(one_hot_values)
{
    adj_tape *t = adj_tape_new();
    const int32_t ix[4] = {2, 0, 2, 1};
    adj_var *y = adj_one_hot(adj_index(t, 2, ((int64_t[]){2, 2}), ix), 3, ADJ_F32);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_var_dtype(y), ADJ_F32);
    ck_assert_int_eq(adj_ndim(y), 3);
    ck_assert_int_eq(adj_dim(y, 2), 3);
    ck_assert(!adj_requires_grad(y));
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++)
            ck_assert(adj_value_at(y, (size_t)(i * 3 + c)) == (c == ix[i] ? 1.0 : 0.0));
    adj_tape_free(t);
}
END_TEST

/* Misuse: status, the words of the message, and nothing left allocated */
typedef struct misuse {
    const char *what;
    adj_status status;
    const char *words[4];
} misuse;

static adj_var *bad_call(adj_tape *t, int k)
{
    adj_var *E = adj_tensor_f64(t, 2, ((int64_t[]){4, 3}), NULL);
    adj_var *idx = adj_index(t, 2, ((int64_t[]){2, 3}), ((int32_t[]){0, 1, 2, 3, 3, 4}));
    switch (k) {
    case 0: return adj_embedding(E, idx); /* 4 is out of range */
    case 1:
        return adj_embedding(E, adj_index(t, 1, ((int64_t[]){2}), ((int32_t[]){1, -1})));
    case 2: return adj_embedding(adj_tensor_f64(t, 1, ((int64_t[]){4}), NULL), idx);
    case 3: return adj_embedding(E, adj_tensor_f64(t, 1, ((int64_t[]){2}), NULL));
    case 4: return adj_embedding(idx, idx);
    case 5: return adj_embedding(E, NULL);
    case 6: return adj_embedding(NULL, idx);
    case 7: /* logits (2,3): target 3 out of range */
        return adj_cross_entropy(adj_reshape(E, 2, ((int64_t[]){4, 3})),
                                 adj_index(t, 1, ((int64_t[]){4}), ((int32_t[]){0, 2, -100, 3})),
                                 -100);
    case 8:
        return adj_cross_entropy(E, adj_index(t, 1, ((int64_t[]){3}), ((int32_t[]){0, 1, 2})), -1);
    case 9: return adj_cross_entropy(E, adj_tensor_f64(t, 1, ((int64_t[]){4}), NULL), -1);
    case 10: return adj_cross_entropy(E, NULL, -1);
    case 11: return adj_index_select(E, 2, adj_index(t, 1, ((int64_t[]){1}), ((int32_t[]){0})));
    case 12: return adj_index_select(E, 1, adj_index(t, 1, ((int64_t[]){2}), ((int32_t[]){1, 3})));
    case 13: return adj_index_select(E, 0, idx);
    case 14: return adj_gather(E, -3, idx);
    case 15: return adj_gather(E, 0, adj_index(t, 2, ((int64_t[]){2, 3}), ((int32_t[]){0, 1, 2, 3, 4, 0})));
    case 16: return adj_gather(E, 1, adj_index(t, 2, ((int64_t[]){5, 1}), NULL));
    case 17: return adj_gather(E, 0, adj_tensor_f64(t, 2, ((int64_t[]){2, 3}), NULL));
    case 18:
        return adj_scatter_add(E, 0, idx, adj_tensor_f64(t, 2, ((int64_t[]){3, 2}), NULL));
    case 19:
        return adj_scatter_add(E, 1, adj_index(t, 2, ((int64_t[]){1, 1}), ((int32_t[]){-2})),
                               adj_tensor_f64(t, 2, ((int64_t[]){1, 1}), NULL));
    case 20: return adj_scatter_add(E, 0, NULL, E);
    case 21: return adj_one_hot(idx, 4, ADJ_F64); /* 4 is out of range */
    case 22: return adj_one_hot(idx, 5, ADJ_I32);
    case 23: return adj_one_hot(E, 5, ADJ_F64);
    default: return adj_one_hot(idx, -1, ADJ_F64);
    }
}

static const misuse rows[] = {
    {"index out of range", ADJ_EINVAL, {"adj_embedding", "index 4", "position (1,2)", "[0, 4)"}},
    {"negative index", ADJ_EINVAL, {"adj_embedding", "index -1", "position (1)", "[0, 4)"}},
    {"table not 2-D", ADJ_ESHAPE, {"adj_embedding", "2-D", NULL, NULL}},
    {"float indices", ADJ_EDTYPE, {"adj_embedding", "idx must be an index tensor", "f64", NULL}},
    {"index table", ADJ_EDTYPE, {"adj_embedding", "table is an index tensor", NULL, NULL}},
    {"NULL idx", ADJ_EINVAL, {"adj_embedding", "idx is NULL", NULL, NULL}},
    {"NULL table", ADJ_EINVAL, {"adj_embedding", "table is NULL", NULL, NULL}},
    {"target out of range", ADJ_EINVAL,
     {"adj_cross_entropy", "index 3", "position (3)", "[0, 3)"}},
    {"targets of another shape", ADJ_ESHAPE, {"adj_cross_entropy", "targets", "(4,3)", "(3)"}},
    {"float targets", ADJ_EDTYPE, {"adj_cross_entropy", "targets must be an index tensor", NULL, NULL}},
    {"NULL targets", ADJ_EINVAL, {"adj_cross_entropy", "targets is NULL", NULL, NULL}},
    {"select bad axis", ADJ_EINVAL, {"adj_index_select", "axis 2", "(4,3)", NULL}},
    {"select index out of range", ADJ_EINVAL, {"adj_index_select", "index 3", "position (1)", "[0, 3)"}},
    {"select 2-D idx", ADJ_ESHAPE, {"adj_index_select", "1-D", NULL, NULL}},
    {"gather bad axis", ADJ_EINVAL, {"adj_gather", "axis -3", NULL, NULL}},
    {"gather index out of range", ADJ_EINVAL, {"adj_gather", "index 4", "position (1,1)", "[0, 4)"}},
    {"gather idx too large", ADJ_ESHAPE, {"adj_gather", "rank", "(5,1)", NULL}},
    {"gather float idx", ADJ_EDTYPE, {"adj_gather", "idx must be an index tensor", NULL, NULL}},
    {"scatter src shape", ADJ_ESHAPE, {"adj_scatter_add", "src must have idx's shape", NULL, NULL}},
    {"scatter negative index", ADJ_EINVAL, {"adj_scatter_add", "index -2", "position (0,0)", "[0, 3)"}},
    {"scatter NULL idx", ADJ_EINVAL, {"adj_scatter_add", "idx is NULL", NULL, NULL}},
    {"one_hot index out of range", ADJ_EINVAL, {"adj_one_hot", "index 4", "position (1,2)", "[0, 4)"}},
    {"one_hot index dtype", ADJ_EDTYPE, {"adj_one_hot", "f32 or f64", NULL, NULL}},
    {"one_hot float idx", ADJ_EDTYPE, {"adj_one_hot", "idx must be an index tensor", NULL, NULL}},
    {"one_hot negative classes", ADJ_EINVAL, {"adj_one_hot", "classes -1", NULL, NULL}},
};

START_TEST(embedding_misuse)
{
    int k = _i;
    test_alloc ta;
    adj_allocator al = test_alloc_init(&ta);
    adj_tape *t = adj_tape_new_with(&al);
    adj_var *y = bad_call(t, k);
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(adj_tape_status(t) == rows[k].status, "%s: status %d, message %s", rows[k].what,
                  adj_tape_status(t), adj_tape_message(t));
    for (int w = 0; w < 4 && rows[k].words[w]; w++)
        HAS(adj_tape_message(t), rows[k].words[w]);
    ck_assert_int_eq(adj_backward(y), rows[k].status); /* sticky */
    adj_tape_free(t);
    ck_assert_uint_eq(ta.live, 0);
}
END_TEST

/* The tape printers show index tensors and embedding nodes */
START_TEST(embedding_printed)
{
    adj_tape *t = adj_tape_new();
    adj_var *E = adj_var_set_name(adj_tensor_f64(t, 2, ((int64_t[]){3, 2}), NULL), "E");
    adj_var *i = adj_var_set_name(adj_index(t, 1, ((int64_t[]){2}), ((int32_t[]){2, 0})), "tok");
    adj_embedding(E, i);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(adj_tape_print(t, f), ADJ_OK);
    fclose(f);
    HAS(buf, "E[tok]");
    HAS(buf, "[2, 0]");
    free(buf);
    adj_tape_free(t);
}
END_TEST

static Suite *index_suite(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("index");
    tcase_add_test(tc, index_leaf);
    tcase_add_test(tc, index_dtype_errors);
    tcase_add_test(tc, embedding_values_and_scatter);
    tcase_add_test(tc, embedding_finite_differences);
    tcase_add_test(tc, embedding_jvp);
    tcase_add_test(tc, embedding_threads_same_bits);
    tcase_add_test(tc, cross_entropy_values);
    tcase_add_test(tc, cross_entropy_large_and_empty);
    tcase_add_test(tc, cross_entropy_finite_differences);
    tcase_add_test(tc, select_gather_scatter_values);
    tcase_add_test(tc, one_hot_values);
    tcase_add_loop_test(tc, embedding_misuse, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_test(tc, embedding_printed);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(index_suite)
