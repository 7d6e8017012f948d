/*
 * adj_scaled_dot_product_attention against the same attention composed
 * from other ops, head by head (select, matmul with a transposed operand,
 * scale, the dropped scores set to -inf by masked_fill, softmax_axis,
 * matmul: softmax(masked_fill(q k^T scale)) v), in both dtypes, at sizes
 * that take several query and key blocks; rows with no kept key; the same
 * bits at 1 and 2 threads, with whole rows of keys (S <= 256) and key
 * blocks; memory that grows linearly in T; operands read
 * through their strides (views of one projection, a transpose, reversed
 * keys) against a plain loop and against contiguous copies.  (The op-table suites check its gradients and
 * tangents against finite differences on small cases.)
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 88172645463325252ull;
static double urand(void) /* [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;
}

static adj_var *leaf(adj_tape *t, adj_dtype dt, int ndim, const int64_t *shape, const double *x,
                     int grad)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (size_t)shape[d];
    if (dt == ADJ_F64)
        return adj_leaf_at(t, dt, ndim, shape, x, grad, __FILE__, __LINE__);
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    adj_var *v = adj_leaf_at(t, dt, ndim, shape, f, grad, __FILE__, __LINE__);
    free(f);
    return v;
}

static double *randv(size_t n)
{
    double *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = urand();
    return x;
}

typedef struct cfg {
    int64_t H, T, S, D, Dv;
    int causal, mask, kv_shared;
    double scale;
} cfg;

/* The composition for head h of (H, T, D) q and so on (k, v 2-D when
 * shared); keep is the combined (T, S) 0/1 mask. */
static adj_var *composed_head(adj_var *q, adj_var *k, adj_var *v, const cfg *c, const double *keep,
                              adj_dtype dt, int h, double scale)
{
    adj_tape *t = adj_var_tape(q);
    adj_var *qh = adj_select(q, 0, h);
    adj_var *kh = c->kv_shared ? k : adj_select(k, 0, h), *vh = c->kv_shared ? v : adj_select(v, 0, h);
    adj_var *s = adj_scale(adj_matmul_t(qh, kh, 0, 1), scale);
    if (keep) { /* the dropped scores become -inf: probability 0 */
        size_t n = (size_t)(c->T * c->S);
        double *drop = malloc(n * sizeof *drop);
        for (size_t i = 0; i < n; i++)
            drop[i] = keep[i] > 0 ? 0.0 : 1.0;
        int64_t ts[2] = {c->T, c->S};
        s = adj_masked_fill(s, leaf(t, dt, 2, ts, drop, 0), -INFINITY);
        free(drop);
    }
    return adj_matmul(adj_softmax_axis(s, 1), vh);
}

static void compare(const char *what, adj_var *a, adj_var *b, double tol, int grads)
{
    size_t n = adj_numel(a);
    ck_assert_uint_eq(n, adj_numel(b));
    double scale = 1e-30;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(grads ? adj_grad_at(b, i) : adj_value_at(b, i)));
    for (size_t i = 0; i < n; i++) {
        double x = grads ? adj_grad_at(a, i) : adj_value_at(a, i);
        double y = grads ? adj_grad_at(b, i) : adj_value_at(b, i);
        ck_assert_msg(fabs(x - y) <= tol * scale, "%s element %zu: fused %.17g composed %.17g (scale %g)",
                      what, i, x, y, scale);
    }
}

static void check_cfg(const cfg *c, adj_dtype dt)
{
    const int64_t H = c->H, T = c->T, S = c->S, D = c->D, Dv = c->Dv;
    double *xq = randv((size_t)(H * T * D)), *xk = randv((size_t)(H * S * D));
    double *xv = randv((size_t)(H * S * Dv)), *xw = randv((size_t)(H * T * Dv));
    double *keep = NULL;
    if (c->mask || c->causal) {
        keep = malloc((size_t)(T * S) * sizeof *keep);
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = 0; j < S; j++) {
                int kept = !c->mask || j == 0 || urand() > -0.4; /* about 30% dropped */
                keep[i * S + j] = kept && !(c->causal && j > i) ? 1.0 : 0.0;
            }
    }
    double *mask = NULL;
    if (c->mask) { /* the user's mask: keep without the causal part */
        mask = malloc((size_t)(T * S) * sizeof *mask);
        for (int64_t i = 0; i < T * S; i++)
            mask[i] = keep[i] > 0 || (c->causal && i % S > i / S) ? 1.0 : 0.0;
    }
    const double tol = dt == ADJ_F64 ? 1e-12 : 3e-5;
    const double scale = c->scale != 0 ? c->scale : 1 / sqrt((double)D);

    adj_tape *t = adj_tape_new();
    int64_t sq[3] = {H, T, D}, sk[3] = {H, S, D}, sv[3] = {H, S, Dv}, sw[3] = {H, T, Dv},
            ts[2] = {T, S};
    int kvd = c->kv_shared ? 2 : 3;
    adj_var *q = leaf(t, dt, 3, sq, xq, 1);
    adj_var *k = leaf(t, dt, kvd, sk + 3 - kvd, xk, 1), *v = leaf(t, dt, kvd, sv + 3 - kvd, xv, 1);
    adj_var *m = mask ? leaf(t, dt, 2, ts, mask, 0) : NULL;
    adj_var *o = adj_scaled_dot_product_attention(q, k, v, m, c->causal, c->scale);
    adj_var *loss = adj_sum(adj_mul(o, leaf(t, dt, 3, sw, xw, 0)));
    ck_assert_int_eq(adj_backward(loss), ADJ_OK);

    adj_tape *u = adj_tape_new();
    adj_var *q2 = leaf(u, dt, 3, sq, xq, 1);
    adj_var *k2 = leaf(u, dt, kvd, sk + 3 - kvd, xk, 1), *v2 = leaf(u, dt, kvd, sv + 3 - kvd, xv, 1);
    adj_var *w2 = leaf(u, dt, 3, sw, xw, 0);
    adj_var *losses[8];
    ck_assert_int_le(H, 8);
    for (int h = 0; h < H; h++) {
        adj_var *oh = composed_head(q2, k2, v2, c, keep, dt, h, scale);
        adj_var *oh_fused = adj_select(o, 0, h);
        compare("output", oh_fused, oh, tol, 0);
        losses[h] = adj_sum(adj_mul(oh, adj_select(w2, 0, h)));
    }
    ck_assert_int_eq(adj_backward(adj_add_n((int)H, losses)), ADJ_OK);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_tape_status(u), ADJ_OK);
    compare("dq", q, q2, tol, 1);
    compare("dk", k, k2, tol, 1);
    compare("dv", v, v2, tol, 1);
    adj_tape_free(t);
    adj_tape_free(u);
    free(xq), free(xk), free(xv), free(xw), free(keep), free(mask);
}

/* With S at most 256 a query block takes all its keys in one product (the
 * first eight); with more, key blocks of 64 (the last two). */
static const cfg cfgs[] = {
    {2, 70, 150, 5, 3, 0, 0, 0, 0},      /* 2 query blocks */
    {2, 150, 130, 4, 6, 1, 0, 0, 0},     /* causal, T > S */
    {3, 100, 90, 3, 2, 1, 1, 0, 0.6},    /* mask and causal, a given scale */
    {2, 65, 129, 4, 4, 0, 1, 1, -0.8},   /* k and v shared by the heads */
    {2, 70, 60, 40, 24, 0, 0, 0, 0},     /* S below a block, wide D */
    {2, 130, 100, 48, 40, 1, 0, 0, 0},   /* causal, T > S, 3 query blocks, wide D */
    {3, 67, 67, 33, 31, 1, 1, 0, 0.6},   /* mask and causal, odd sizes */
    {2, 65, 256, 40, 40, 0, 1, 1, -0.8}, /* S at the limit, k and v shared */
    {2, 70, 300, 5, 3, 1, 1, 0, 0},      /* key blocks: causal, mask, T < S */
    {2, 150, 257, 4, 6, 0, 0, 1, 0.4},   /* key blocks: 5 of them, k and v shared */
};
START_TEST(matches_composition_f64) { check_cfg(&cfgs[_i], ADJ_F64); }
END_TEST
START_TEST(matches_composition_f32) { check_cfg(&cfgs[_i], ADJ_F32); }
END_TEST

/* A row with no kept key: zeros, and no gradient through it; S = 0: all
 * rows so. */
START_TEST(rows_without_keys)
{
    adj_tape *t = adj_tape_new();
    adj_tape_set_anomaly(t, 1);
    int64_t s3[2] = {3, 2};
    double xq[6] = {0.1, 0.2, -0.3, 0.4, 0.5, -0.6}, xk[6] = {1, 0, 0, 1, 1, 1};
    double xv[6] = {1, 2, 3, 4, 5, 6}, mk[9] = {1, 0, 1, 0, 0, 0, 0, 1, 0};
    adj_var *q = adj_tensor_f64(t, 2, s3, xq), *k = adj_tensor_f64(t, 2, s3, xk);
    adj_var *v = adj_tensor_f64(t, 2, s3, xv);
    adj_var *m = adj_constant_f64(t, 2, ((int64_t[]){3, 3}), mk);
    adj_var *o = adj_scaled_dot_product_attention(q, k, v, m, 0, 1.0);
    ck_assert_int_eq(adj_backward(adj_sum(adj_square(o))), ADJ_OK);
    /* row 0 keeps keys 0 and 2: weights e^s / sum */
    double s0 = xq[0] * xk[0] + xq[1] * xk[1], s2 = xq[0] * xk[4] + xq[1] * xk[5];
    double p0 = exp(s0) / (exp(s0) + exp(s2)), p2 = 1 - p0;
    ck_assert_double_eq_tol(adj_value_at(o, 0), p0 * xv[0] + p2 * xv[4], 1e-14);
    ck_assert_double_eq_tol(adj_value_at(o, 1), p0 * xv[1] + p2 * xv[5], 1e-14);
    /* row 1 keeps nothing */
    ck_assert_double_eq(adj_value_at(o, 2), 0);
    ck_assert_double_eq(adj_value_at(o, 3), 0);
    ck_assert_double_eq(adj_grad_at(q, 2), 0);
    ck_assert_double_eq(adj_grad_at(q, 3), 0);
    /* row 2 keeps key 1 alone: v's row 1, and no gradient into q's row */
    ck_assert_double_eq(adj_value_at(o, 4), xv[2]);
    ck_assert_double_eq(adj_value_at(o, 5), xv[3]);
    ck_assert_double_eq(adj_grad_at(q, 4), 0);
    for (size_t i = 0; i < 6; i++)
        ck_assert(isfinite(adj_grad_at(k, i)) && isfinite(adj_grad_at(v, i)));

    adj_var *k0 = adj_tensor_f64(t, 2, ((int64_t[]){0, 2}), NULL);
    adj_var *v0 = adj_tensor_f64(t, 2, ((int64_t[]){0, 4}), NULL);
    adj_var *o0 = adj_scaled_dot_product_attention(q, k0, v0, NULL, 1, 0);
    ck_assert_int_eq(adj_dim(o0, 0), 3);
    ck_assert_int_eq(adj_dim(o0, 1), 4);
    for (size_t i = 0; i < 12; i++)
        ck_assert_double_eq(adj_value_at(o0, i), 0);
    ck_assert_int_eq(adj_backward(adj_sum(o0)), ADJ_OK);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_tape_free(t);
}
END_TEST

/* Each head is computed alike on any thread: the same bits at 1 and 2
 * (whole rows at S = 80, key blocks at S = 280). */
START_TEST(same_bits_any_thread_count)
{
    double *res[2];
    const int64_t T = _i ? 280 : 80;
    int64_t s[4] = {2, 3, T, 8};
    size_t n = (size_t)(2 * 3 * T * 8);
    double *x = randv(3 * n);
    for (int r = 0; r < 2; r++) {
        adj_set_threads(r + 1);
        adj_tape *t = adj_tape_new();
        adj_var *q = adj_tensor_f32(t, 4, s, NULL), *k = adj_tensor_f32(t, 4, s, NULL),
                *v = adj_tensor_f32(t, 4, s, NULL);
        float *pq = (float *)adj_data(q), *pk = (float *)adj_data(k), *pv = (float *)adj_data(v);
        for (size_t i = 0; i < n; i++)
            pq[i] = (float)x[i], pk[i] = (float)x[n + i], pv[i] = (float)x[2 * n + i];
        adj_var *o = adj_scaled_dot_product_attention(q, k, v, NULL, 1, 0);
        ck_assert_int_eq(adj_backward(adj_sum(adj_square(o))), ADJ_OK);
        res[r] = malloc(4 * n * sizeof(double));
        adj_copy_value(o, res[r]);
        adj_copy_grad(q, res[r] + n);
        adj_copy_grad(k, res[r] + 2 * n);
        adj_copy_grad(v, res[r] + 3 * n);
        adj_tape_free(t);
    }
    adj_set_threads(0);
    ck_assert(memcmp(res[0], res[1], 4 * n * sizeof(double)) == 0);
    free(res[0]), free(res[1]), free(x);
}
END_TEST

/* Naive attention of one head in double: q (T, D), k (S, D), v (S, Dv)
 * read at element strides (row, column); o (T, Dv) contiguous. */
static void naive_head(const double *q, int64_t qr, int64_t qc, const double *k, int64_t kr, int64_t kc,
                       const double *v, int64_t vr, int64_t vc, int64_t T, int64_t S, int64_t D,
                       int64_t Dv, int causal, double scale, double *o)
{
    double *p = malloc((size_t)(S ? S : 1) * sizeof *p);
    for (int64_t i = 0; i < T; i++) {
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < S; j++) {
            double d = 0;
            for (int64_t c = 0; c < D; c++)
                d += q[i * qr + c * qc] * k[j * kr + c * kc];
            p[j] = causal && j > i ? -INFINITY : d * scale;
            mx = fmax(mx, p[j]);
        }
        for (int64_t j = 0; j < S; j++)
            sum += p[j] = p[j] == -INFINITY ? 0 : exp(p[j] - mx);
        for (int64_t c = 0; c < Dv; c++) {
            double acc = 0;
            for (int64_t j = 0; j < S; j++)
                acc += p[j] * v[j * vr + c * vc];
            o[i * Dv + c] = sum > 0 ? acc / sum : 0;
        }
    }
    free(p);
}

/* q, k, v read in place through their strides: heads sliced from one
 * (B, T, 3, H, D) projection (rows 3 H D apart), k also as the transpose
 * of a (B, H, D, T) tensor (column stride T: copied into the workspace)
 * and v with its keys reversed (a negative row stride).  The output
 * matches a plain-loop reference, and the output and the adjoint of
 * every source are the same bits as the op on contiguous copies, in both
 * dtypes, at 1 and 2 threads; T of 64 or 67 (whole rows) and 264 or 267
 * (key blocks). */
static void check_strided(adj_dtype dt, int threads, int odd, int wide)
{
    const int64_t B = 2, T = (odd ? 67 : 64) + (wide ? 200 : 0), H = 3, D = odd ? 5 : 8, C = H * D;
    adj_set_threads(threads);
    size_t nx = (size_t)(B * T * 3 * C), nk = (size_t)(B * H * D * T), no = (size_t)(B * H * T * D);
    double *x = randv(nx), *xk = randv(nk), *w = randv(no);
    double *out[2], *gx[2], *gk[2];
    static const int perm[5] = {2, 0, 3, 1, 4};
    for (int r = 0; r < 2; r++) {
        adj_tape *t = adj_tape_new();
        int64_t sx[5] = {B, T, 3, H, D}, skt[4] = {B, H, D, T}, so[4] = {B, H, T, D};
        adj_var *X = leaf(t, dt, 5, sx, x, 1), *K = leaf(t, dt, 4, skt, xk, 1);
        adj_var *qkv = adj_permute(X, perm); /* (3, B, H, T, D) */
        adj_var *q = adj_select(qkv, 0, 0), *k = adj_select(qkv, 0, 1), *v = adj_select(qkv, 0, 2);
        adj_var *k2 = adj_transpose_axes(K, 2, 3);           /* (B, H, T, D), column stride T */
        adj_var *v2 = adj_slice(adj_select(qkv, 0, 2), 2, T - 1, -T - 1, -1); /* keys reversed */
        if (r == 1)
            q = adj_contiguous(q), k = adj_contiguous(k), v = adj_contiguous(v),
            k2 = adj_contiguous(k2), v2 = adj_contiguous(v2);
        adj_var *o1 = adj_scaled_dot_product_attention(q, k, v, NULL, 1, 0);
        adj_var *o2 = adj_scaled_dot_product_attention(q, k2, v2, NULL, 0, 0.3);
        adj_var *W = leaf(t, dt, 4, so, w, 0);
        adj_var *loss = adj_add(adj_sum(adj_mul(o1, W)), adj_sum(adj_mul(o2, adj_square(W))));
        ck_assert_int_eq(adj_backward(loss), ADJ_OK);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        out[r] = malloc(2 * no * sizeof(double));
        gx[r] = malloc(nx * sizeof(double));
        gk[r] = malloc(nk * sizeof(double));
        adj_copy_value(o1, out[r]);
        adj_copy_value(o2, out[r] + no);
        adj_copy_grad(X, gx[r]);
        adj_copy_grad(K, gk[r]);
        if (r == 0) { /* the plain-loop reference, from the sources' values */
            double *ref = malloc(no * sizeof *ref);
            const double tol = dt == ADJ_F64 ? 1e-12 : 3e-5;
            for (int pass = 0; pass < 2; pass++) {
                for (int64_t b = 0; b < B; b++)
                    for (int64_t h = 0; h < H; h++) {
                        const double *qb = x + b * T * 3 * C + h * D, *kb = qb + C, *vb = qb + 2 * C;
                        int64_t kr = 3 * C, kc = 1, vr = 3 * C;
                        if (pass == 1) {
                            kb = xk + (b * H + h) * D * T, kr = 1, kc = T;
                            vb += (T - 1) * 3 * C, vr = -3 * C;
                        }
                        naive_head(qb, 3 * C, 1, kb, kr, kc, vb, vr, 1, T, T, D, D, pass == 0,
                                   pass == 0 ? 1 / sqrt((double)D) : 0.3, ref + (b * H + h) * T * D);
                    }
                for (size_t i = 0; i < no; i++)
                    ck_assert_msg(fabs(out[0][(size_t)pass * no + i] - ref[i]) <= tol,
                                  "pass %d element %zu: %.17g vs reference %.17g", pass, i,
                                  out[0][(size_t)pass * no + i], ref[i]);
            }
            free(ref);
        }
        adj_tape_free(t);
    }
    adj_set_threads(0);
    ck_assert(memcmp(out[0], out[1], 2 * no * sizeof(double)) == 0);
    ck_assert(memcmp(gx[0], gx[1], nx * sizeof(double)) == 0);
    ck_assert(memcmp(gk[0], gk[1], nk * sizeof(double)) == 0);
    for (int r = 0; r < 2; r++)
        free(out[r]), free(gx[r]), free(gk[r]);
    free(x), free(xk), free(w);
}

START_TEST(strided_operands)
{
    check_strided(_i & 1 ? ADJ_F64 : ADJ_F32, 1 + (_i >> 1 & 1), _i >> 2 & 1, _i >> 3 & 1);
}
END_TEST

/* Peak arena bytes of forward + backward: linear in T (the composition
 * would hold (T, T) scores, probabilities and their adjoints per head). */
static size_t peak_bytes(int64_t T)
{
    adj_tape *t = adj_tape_new();
    int64_t s[3] = {4, T, 16};
    adj_var *q = adj_tensor_f32(t, 3, s, NULL), *k = adj_tensor_f32(t, 3, s, NULL),
            *v = adj_tensor_f32(t, 3, s, NULL);
    adj_var *o = adj_scaled_dot_product_attention(q, k, v, NULL, 1, 0);
    ck_assert_int_eq(adj_backward(adj_sum(o)), ADJ_OK);
    adj_tape_stats st;
    adj_tape_get_stats(t, &st);
    adj_tape_free(t);
    return st.high_water;
}

START_TEST(memory_linear_in_t)
{
    size_t a = peak_bytes(128), b = peak_bytes(256), c = peak_bytes(512);
    /* doubling T adds about as much as the step before: (c - b) / (b - a) near 2
     * for linear growth, 4 or more for quadratic */
    ck_assert_msg(b < 2 * a + 65536 && c < 2 * b + 65536 && c - b < 2.2 * (double)(b - a),
                  "peak bytes %zu %zu %zu for T = 128, 256, 512", a, b, c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("attention");
    TCase *tc = tcase_create("attention");
    tcase_set_timeout(tc, 120);
    int n = (int)(sizeof cfgs / sizeof cfgs[0]);
    tcase_add_loop_test(tc, matches_composition_f64, 0, n);
    tcase_add_loop_test(tc, matches_composition_f32, 0, n);
    tcase_add_test(tc, rows_without_keys);
    tcase_add_loop_test(tc, same_bits_any_thread_count, 0, 2);
    tcase_add_test(tc, memory_linear_in_t);
    tcase_add_loop_test(tc, strided_operands, 0, 16);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
