/*
 * adj_backward_ex with release_adjoints: training with it gives the same
 * bits as without (models of every kind, float and double, one and two
 * threads), it lowers the arena's high-water mark, and a released adjoint
 * is refused when read (NULL, NaN, ADJ_ESTATE) while leaves keep theirs;
 * with create_graph it is refused; adjoints handed over to a reshape's or
 * an add's input give the same bits.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const adj_backward_opts RELEASE = {.release_adjoints = 1};

static adj_model *model(const char *arch, int n, const char *const *kv, adj_dtype dtype)
{
    adj_rng rng;
    adj_rng_seed(&rng, 3);
    adj_error err;
    adj_model *m = adj_model_new(arch, n, kv, dtype, &rng, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    return m;
}

enum { B = 3, T = 6, V = 7 };
static const int32_t IDS[B * T] = {1, 4, 0, 6, 2, 5, 5, 3, 1, 0, 2, 2, 6, 6, 0, 1, 3, 4};
static const int32_t NEXT[B * T] = {4, 0, 6, 2, 5, 5, 3, 1, 0, 2, 2, 6, 6, 0, 1, 3, 4, 1};

/* The loss of a token model (logits (B, T, V)) or of the CNN (images). */
static adj_var *loss_of(adj_model *m, adj_tape *t, int images)
{
    if (images) {
        double px[B * 2 * 6 * 6];
        float pf[B * 2 * 6 * 6];
        for (int i = 0; i < B * 2 * 6 * 6; i++)
            pf[i] = (float)(px[i] = sin(0.37 * i) + 0.1 * (i % 5));
        const int64_t shape[4] = {B, 2, 6, 6};
        adj_var *xd = adj_params_dtype(adj_model_params(m)) == ADJ_F64
                          ? adj_constant_f64(t, 4, shape, px)
                          : adj_constant_f32(t, 4, shape, pf);
        adj_var *lg = adj_model_forward(m, xd);
        return adj_softmax_cross_entropy(lg, NEXT);
    }
    adj_var *x = adj_index(t, 2, ((int64_t[]){B, T}), IDS);
    adj_var *lg = adj_model_forward(m, x);
    return adj_softmax_cross_entropy(adj_reshape(lg, 2, ((int64_t[]){B * T, V})), NEXT);
}

/* Train `steps` AdamW steps; the parameters after them (caller frees)
 * and the tape's high-water mark. */
static void *train(const char *arch, int n, const char *const *kv, adj_dtype dtype, int images,
                   int release, int steps, size_t *bytes, size_t *high_water)
{
    adj_model *m = model(arch, n, kv, dtype);
    adj_params *p = adj_model_params(m);
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_ADAMW);
    c.lr = 1e-2;
    adj_optim *o = adj_optim_new(p, &c, NULL);
    ck_assert_ptr_nonnull(o);
    adj_tape *t = adj_tape_new();
    for (int s = 0; s < steps; s++) {
        adj_tape_reset(t);
        adj_var *loss = loss_of(m, t, images);
        adj_params_zero_grad(p);
        adj_status st = release ? adj_backward_ex(loss, &RELEASE) : adj_backward(loss);
        ck_assert_msg(st == ADJ_OK, "%s: %s", arch, adj_tape_message(t));
        ck_assert(isfinite(adj_item(loss))); /* the output's value is kept */
        ck_assert_int_eq(adj_optim_step(o), ADJ_OK);
    }
    adj_tape_stats ts;
    adj_tape_get_stats(t, &ts);
    *high_water = ts.high_water;
    *bytes = adj_params_numel(p) * (dtype == ADJ_F64 ? 8 : 4);
    void *w = malloc(*bytes);
    memcpy(w, adj_params_values(p), *bytes);
    adj_tape_free(t);
    adj_optim_free(o);
    adj_model_free(m);
    return w;
}

static void same_training(const char *arch, int n, const char *const *kv, int images)
{
    for (int threads = 1; threads <= 2; threads++) {
        adj_set_threads(threads);
        for (int d = 0; d < 2; d++) {
            adj_dtype dtype = d ? ADJ_F64 : ADJ_F32;
            size_t nb, nb2, hw_keep, hw_rel;
            void *keep = train(arch, n, kv, dtype, images, 0, 4, &nb, &hw_keep);
            void *rel = train(arch, n, kv, dtype, images, 1, 4, &nb2, &hw_rel);
            ck_assert_uint_eq(nb, nb2);
            ck_assert_msg(!memcmp(keep, rel, nb), "%s %s %d threads: the weights differ",
                          arch, adj_dtype_name(dtype), threads);
            ck_assert_msg(hw_rel < hw_keep, "%s %s: high water %zu with release, %zu without",
                          arch, adj_dtype_name(dtype), hw_rel, hw_keep);
            free(keep), free(rel);
        }
    }
    adj_set_threads(0);
}

START_TEST(gpt_trains_the_same)
{
    const char *kv[] = {"vocab_size", "7", "n_positions", "6", "n_embd", "16", "n_layer", "2",
                        "n_head", "2"};
    same_training("gpt", 5, kv, 0);
}
END_TEST

START_TEST(recurrent_trains_the_same)
{
    const char *kv[] = {"vocab", "7", "embed", "5", "hidden", "12", "layers", "2"};
    same_training("lstm", 4, kv, 0);
    same_training("gru", 4, kv, 0);
}
END_TEST

START_TEST(cnn_trains_the_same)
{
    const char *kv[] = {"input", "2,6,6", "channels", "4", "pool", "2", "dropout", "0",
                        "dense", "8", "classes", "7"};
    same_training("cnn", 6, kv, 1);
}
END_TEST

/* x (4) -> h = exp(x) -> s = sum(h * h) -> y = s * 3: after a releasing
 * sweep h, h*h and s have no adjoint to read, x has its own. */
START_TEST(released_adjoints_are_refused)
{
    adj_tape *t = adj_tape_new();
    const double xv[4] = {0.1, -0.4, 0.7, 1.2};
    adj_var *x = adj_tensor_f64(t, 1, ((int64_t[]){4}), xv);
    adj_var *h = adj_exp(x);
    adj_var *s = adj_sum(adj_mul(h, h));
    adj_var *y = adj_scale(s, 3.0);
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    double keep[4], hkeep[4], out[4];
    ck_assert_int_eq(adj_copy_grad(x, keep), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(h, hkeep), ADJ_OK);
    ck_assert_double_eq(adj_grad_item(s), 3.0);

    ck_assert_int_eq(adj_backward_ex(y, &RELEASE), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(x, out), ADJ_OK);
    ck_assert(!memcmp(out, keep, sizeof out));
    ck_assert_ptr_null(adj_grad_data(h));
    ck_assert(isnan(adj_grad_at(h, 0)));
    ck_assert(isnan(adj_grad_item(s)));
    ck_assert(isnan(adj_grad_item(y)));
    ck_assert_int_eq(adj_copy_grad(h, out), ADJ_ESTATE);
    ck_assert_ptr_nonnull(adj_grad_data(x));
    ck_assert_double_eq_tol(adj_item(y), 3.0 * (exp(0.2) + exp(-0.8) + exp(1.4) + exp(2.4)), 1e-12);

    /* a plain sweep afterwards gives every node its adjoint again */
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(h, out), ADJ_OK);
    ck_assert(!memcmp(out, hkeep, sizeof out));
    ck_assert_int_eq(adj_copy_grad(x, out), ADJ_OK);
    ck_assert(!memcmp(out, keep, sizeof out));
    ck_assert_double_eq(adj_grad_item(s), 3.0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_tape_free(t);
}
END_TEST

START_TEST(with_create_graph_is_refused)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 1, ((int64_t[]){3}), ((double[]){1, 2, 3}));
    adj_var *y = adj_sum(adj_mul(x, x));
    adj_backward_opts o = {.create_graph = 1, .release_adjoints = 1};
    ck_assert_int_eq(adj_backward_ex(y, &o), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "release_adjoints with create_graph"));
    ck_assert_ptr_null(adj_grad_data(x));
    adj_tape_free(t);
}
END_TEST

/* Adjoints handed over instead of copied (a reshape's input, the first
 * operand of an add or a sub take the output's dying adjoint): the same
 * bits as a sweep without release and as the rule written out, with
 * operands that must not take it over (an add of x with itself, a
 * broadcast operand, a node with another use, a parameter), in both
 * dtypes.  f = x + 2 (exp(x) + w - x) + p, loss = sum(k * f). */
static adj_var *leaf_of(adj_tape *t, adj_dtype dt, int ndim, const int64_t *shape, const double *v,
                        int n, int grad)
{
    float f[16];
    for (int i = 0; i < n; i++)
        f[i] = (float)v[i];
    return adj_leaf_at(t, dt, ndim, shape, dt == ADJ_F64 ? (const void *)v : (const void *)f, grad,
                       __FILE__, __LINE__);
}

static void handed_over(adj_dtype dt)
{
    enum { R = 3, C = 5, N = R * C };
    double xv[N], kv[N], wv[C], g[2][N + C + N];
    for (int i = 0; i < N; i++)
        xv[i] = 0.1 * i - 0.7, kv[i] = 1.0 + 0.25 * (i % 4);
    for (int j = 0; j < C; j++)
        wv[j] = 0.3 * j;
    adj_params *ps = adj_params_new(dt);
    int ip = adj_params_add(ps, "p", 1, ((int64_t[]){N}));
    for (int r = 0; r < 2; r++) {
        adj_params_zero_grad(ps);
        adj_tape *t = adj_tape_new();
        adj_var *x = leaf_of(t, dt, 2, ((int64_t[]){R, C}), xv, N, 1);
        adj_var *w = leaf_of(t, dt, 1, ((int64_t[]){C}), wv, C, 1);
        adj_var *k = leaf_of(t, dt, 1, ((int64_t[]){N}), kv, N, 0);
        adj_var *b = adj_add(adj_exp(x), w); /* w broadcast */
        adj_var *c = adj_sub(b, x);
        adj_var *d = adj_add(c, c);
        adj_var *f = adj_add(adj_reshape(adj_add(x, d), 1, ((int64_t[]){N})), adj_param(t, ps, ip));
        adj_var *loss = adj_sum(adj_mul(f, k));
        ck_assert_int_eq(r ? adj_backward_ex(loss, &RELEASE) : adj_backward(loss), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(x, g[r]), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(w, g[r] + N), ADJ_OK);
        const void *pg = adj_params_grad(ps, ip);
        for (int i = 0; i < N; i++)
            g[r][N + C + i] = dt == ADJ_F64 ? ((const double *)pg)[i] : ((const float *)pg)[i];
        adj_tape_free(t);
    }
    ck_assert(!memcmp(g[0], g[1], sizeof g[0]));
    const double tol = dt == ADJ_F64 ? 1e-12 : 1e-5;
    for (int i = 0; i < N; i++) {
        double xi = dt == ADJ_F64 ? xv[i] : (double)(float)xv[i];
        ck_assert_double_eq_tol(g[1][i], kv[i] * (2 * exp(xi) - 1), tol * 4);
        ck_assert_double_eq_tol(g[1][N + C + i], kv[i], tol);
    }
    for (int j = 0; j < C; j++) {
        double sw = 0;
        for (int i = 0; i < R; i++)
            sw += 2 * kv[i * C + j];
        ck_assert_double_eq_tol(g[1][N + j], sw, tol);
    }
    adj_params_free(ps);
}

START_TEST(adjoints_handed_over) { handed_over(_i ? ADJ_F64 : ADJ_F32); }
END_TEST

/* Unary op k (of NUNARY) of x */
enum { NUNARY = 20 };
static adj_var *unary(int k, adj_var *x)
{
    switch (k) {
    case 0: return adj_exp(x);
    case 1: return adj_log(x);
    case 2: return adj_sqrt(x);
    case 3: return adj_square(x);
    case 4: return adj_pow(x, 2.5);
    case 5: return adj_abs(x);
    case 6: return adj_sin(x);
    case 7: return adj_cos(x);
    case 8: return adj_neg(x);
    case 9: return adj_scale(x, -1.5);
    case 10: return adj_sigmoid(x);
    case 11: return adj_tanh(x);
    case 12: return adj_relu(adj_scale(x, -1.0)); /* zero dx where x > 0 */
    case 13: return adj_leaky_relu(x, 0.1);
    case 14: return adj_elu(adj_scale(x, -1.0), 1.0);
    case 15: return adj_softplus(x);
    case 16: return adj_gelu(x);
    case 17: return adj_gelu_tanh(x);
    case 18: return adj_silu(x);
    default: return adj_swish(x, 1.5);
    }
}

/*
 * A unary op whose input has no adjoint yet writes dx over dy in a
 * releasing sweep: the input's adjoint, bit for bit as without release
 * (where dx is added to a zeroed buffer: 0 + dx, so -0 gives +0), for
 * every unary op, f32 and f64, contiguous and transposed inputs, sizes
 * below and above the two-thread split, 1 and 2 threads; and where the
 * input already has an adjoint (used twice), dx is added to it.
 */
static void unary_over_dy(adj_dtype dt, int threads)
{
    enum { R = 129, C = 531, N = R * C };
    double *xv = malloc(N * sizeof *xv), *kv = malloc(N * sizeof *kv);
    double *g[2] = {malloc(N * sizeof(double)), malloc(N * sizeof(double))};
    for (int i = 0; i < N; i++) {
        xv[i] = 0.5 + 1.5 * (double)((i * 7919) % 1000) / 1000.0;
        kv[i] = i % 11 == 0 ? -0.0 : i % 13 == 0 ? 0.0 : sin(0.1 * i);
    }
    float *xf = malloc(N * sizeof *xf), *kf = malloc(N * sizeof *kf);
    for (int i = 0; i < N; i++)
        xf[i] = (float)xv[i], kf[i] = (float)kv[i];
    adj_set_threads(threads);
    static const int64_t sizes[3][2] = {{1, 7}, {13, 37}, {R, C}};
    for (int k = 0; k < NUNARY; k++)
        for (int sz = 0; sz < 3; sz++)
            for (int form = 0; form < 3; form++) { /* contiguous, transposed, used twice */
                const int64_t r = sizes[sz][0], c = sizes[sz][1], n = r * c;
                for (int rel = 0; rel < 2; rel++) {
                    adj_tape *t = adj_tape_new();
                    const int64_t shape[2] = {form == 1 ? c : r, form == 1 ? r : c};
                    adj_var *x = adj_leaf_at(t, dt, 2, shape, dt == ADJ_F64 ? (const void *)xv : (const void *)xf,
                                             1, __FILE__, __LINE__);
                    adj_var *kc = adj_leaf_at(t, dt, 2, ((int64_t[]){r, c}),
                                              dt == ADJ_F64 ? (const void *)kv : (const void *)kf, 0, __FILE__,
                                              __LINE__);
                    adj_var *u = adj_scale(x, 1.0); /* a node without an adjoint of its own */
                    if (form == 1)
                        u = adj_transpose(u);
                    adj_var *y = unary(k, u);
                    if (form == 2)
                        y = adj_add(y, u);
                    adj_var *loss = adj_sum(adj_mul(y, kc));
                    ck_assert_int_eq(rel ? adj_backward_ex(loss, &RELEASE) : adj_backward(loss), ADJ_OK);
                    ck_assert_int_eq(adj_copy_grad(x, g[rel]), ADJ_OK);
                    adj_tape_free(t);
                }
                ck_assert_msg(!memcmp(g[0], g[1], (size_t)n * sizeof(double)), "op %d, size %d, form %d", k, sz,
                              form);
            }
    adj_set_threads(1);
    free(xv), free(kv), free(g[0]), free(g[1]), free(xf), free(kf);
}

START_TEST(unary_adjoint_written_over_dy) { unary_over_dy(_i & 1 ? ADJ_F64 : ADJ_F32, 1 + (_i >> 1)); }
END_TEST

/* A chain of 40 ops on 64 Ki doubles: without release every adjoint
 * stays (40 buffers); with it two or three are alive at once. */
START_TEST(the_high_water_mark_falls)
{
    enum { N = 1 << 16, OPS = 40 };
    double *xv = malloc(N * sizeof *xv);
    for (int i = 0; i < N; i++)
        xv[i] = 0.5 + 1e-5 * i;
    size_t hw[2];
    double g[2][3];
    for (int r = 0; r < 2; r++) {
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_tensor_f64(t, 1, ((int64_t[]){N}), xv), *h = x;
        for (int k = 0; k < OPS; k++)
            h = k % 2 ? adj_sin(h) : adj_scale(h, 1.5);
        adj_var *y = adj_sum(h);
        ck_assert_int_eq(r ? adj_backward_ex(y, &RELEASE) : adj_backward(y), ADJ_OK);
        adj_tape_stats ts;
        adj_tape_get_stats(t, &ts);
        hw[r] = ts.high_water;
        g[r][0] = adj_grad_at(x, 0), g[r][1] = adj_grad_at(x, N / 2), g[r][2] = adj_grad_at(x, N - 1);
        adj_tape_free(t);
    }
    ck_assert(!memcmp(g[0], g[1], sizeof g[0]));
    /* values: 41 buffers either way; adjoints: 41 against at most 4 */
    const size_t buf = (size_t)N * sizeof(double);
    ck_assert_msg(hw[0] >= 80 * buf && hw[1] <= 46 * buf, "high water %zu and %zu bytes", hw[0], hw[1]);
    free(xv);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("release");
    TCase *tc = tcase_create("release");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, released_adjoints_are_refused);
    tcase_add_test(tc, with_create_graph_is_refused);
    tcase_add_test(tc, the_high_water_mark_falls);
    tcase_add_loop_test(tc, adjoints_handed_over, 0, 2);
    tcase_add_loop_test(tc, unary_adjoint_written_over_dy, 0, 4);
    tcase_add_test(tc, gpt_trains_the_same);
    tcase_add_test(tc, recurrent_trains_the_same);
    tcase_add_test(tc, cnn_trains_the_same);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
