/*
 * adj_params_zero_grad_lazy only marks the store's tensors; the zeros reach
 * memory when something reads the gradients, or a backward's first write
 * into a tensor stores its whole adjoint (a dense layer's dW product with
 * beta 0).  Every reader must see zeros; a parameter used twice in a graph
 * must get the sum of both uses; a parameter the backward does not reach
 * must read zero.  Products are checked against plain loops in double and
 * bit for bit against the same backward on zeros written beforehand, in
 * f32 and f64, at 1 and 2 threads, on sizes where the products take the
 * plain loop, BLIS, and BLIS split over the threads.  adj_params_zero_grad
 * writes its zeros at once: a pointer to the gradients kept from before it
 * reads them, before and after a backward.
 */
#include <adjoint.h>

#include "check_util.h"

#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static double rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((double)((*s >> 8) & 0xffff) / 65536.0) - 0.5;
}

static double get(const void *p, adj_dtype dt, size_t i)
{
    return dt == ADJ_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static void put(void *p, adj_dtype dt, size_t i, double v)
{
    if (dt == ADJ_F64)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}

/* Every gradient of the store set to a nonzero value (what a previous
 * step leaves). */
static void dirty(adj_params *p)
{
    void *g = adj_params_grads(p);
    for (size_t i = 0; i < adj_params_numel(p); i++)
        put(g, adj_params_dtype(p), i, 3.25 + (double)(i % 7));
}

static adj_var *data_var(adj_tape *t, adj_dtype dt, int64_t r, int64_t c, unsigned *s, bool grad)
{
    size_t n = (size_t)(r * c);
    double *d = malloc(n * sizeof *d);
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)(d[i] = rnd(s));
    const int64_t sh[2] = {r, c};
    adj_var *v = dt == ADJ_F64 ? (grad ? adj_tensor_f64(t, 2, sh, d) : adj_constant_f64(t, 2, sh, d))
                               : (grad ? adj_tensor_f32(t, 2, sh, f) : adj_constant_f32(t, 2, sh, f));
    free(d);
    free(f);
    return v;
}

static void expect_zero(const void *g, adj_dtype dt, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(get(g, dt, i) == 0.0, "element %zu is %g", i, get(g, dt, i));
}

/* Each reader, right after zero_grad and with no backward, sees zeros:
 * the accessors, a parameter leaf's adjoint, an optimizer step, the
 * gradient norm and clipping. */
START_TEST(readers_see_zeros)
{
    const adj_dtype dt = _i % 2 ? ADJ_F32 : ADJ_F64;
    const int reader = _i / 2;
    adj_params *p = adj_params_new(dt);
    const int w = adj_params_add(p, "w", 2, (int64_t[]){5, 7});
    const int one = adj_params_add(p, "s", 1, (int64_t[]){1});
    const int b = adj_params_add(p, "b", 1, (int64_t[]){5});
    ck_assert_int_eq(adj_params_add(p, "u", 2, (int64_t[]){3, 3}), 3);
    void *v = adj_params_values(p);
    for (size_t i = 0; i < adj_params_numel(p); i++)
        put(v, dt, i, 0.5 + (double)i);
    dirty(p);
    adj_tape *t = adj_tape_new();
    adj_var *leaf = adj_param(t, p, w); /* on the tape before the zeroing */
    adj_params_zero_grad_lazy(p);
    const size_t n = adj_params_numel(p);
    switch (reader) {
    case 0:
        expect_zero(adj_params_grads(p), dt, n);
        break;
    case 1:
        for (int i = 0; i < adj_params_count(p); i++)
            expect_zero(adj_params_grad(p, i), dt, adj_params_tensor_numel(p, i));
        break;
    case 2: { /* each reader first on a still pending tensor */
        double out[35];
        ck_assert_double_eq(adj_grad_at(leaf, 34), 0.0);
        dirty(p);
        adj_params_zero_grad_lazy(p);
        ck_assert_int_eq(adj_copy_grad(leaf, out), ADJ_OK);
        expect_zero(out, ADJ_F64, 35);
        dirty(p);
        adj_params_zero_grad_lazy(p);
        expect_zero(adj_grad_data(leaf), dt, 35);
        dirty(p);
        adj_params_zero_grad_lazy(p);
        for (int form = 0; form < 3; form++) { /* what the tape printers show */
            char *text = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&text, &len);
            ck_assert_ptr_nonnull(f);
            adj_status st = form == 0 ? adj_tape_print(t, f) : form == 1 ? adj_tape_json(t, 1, f) : adj_tape_dot(t, f);
            fclose(f);
            ck_assert_int_eq(st, ADJ_OK);
            ck_assert_msg(!strstr(text, ".25"), "a printed adjoint keeps an old value: %s", text);
            free(text);
            dirty(p);
            adj_params_zero_grad_lazy(p);
        }
        expect_zero(adj_params_grad(p, one), dt, 1);
        expect_zero(adj_params_grad(p, b), dt, 5);
        break;
    }
    case 3: {
        adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_SGD);
        c.lr = 1.0;
        adj_optim *o = adj_optim_new(p, &c, NULL);
        ck_assert_int_eq(adj_optim_step(o), ADJ_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert_double_eq(get(adj_params_values(p), dt, i), get(v, dt, i));
        for (int i = 0; i < adj_params_count(p); i++) /* the values, element by element */
            ck_assert_double_eq(get(adj_params_value(p, i), dt, 0),
                                0.5 + (double)adj_params_offset(p, i));
        adj_optim_free(o);
        break;
    }
    case 4:
        ck_assert_double_eq(adj_grad_norm(p), 0.0);
        break;
    default:
        ck_assert_int_eq(adj_clip_grad_value(p, 1.0), ADJ_OK);
        expect_zero(adj_params_grads(p), dt, n);
        break;
    }
    adj_tape_free(t);
    adj_params_free(p);
}
END_TEST

/*
 * L = sum(C1 * layer(X1)) + sum(C2 * layer(X2)) with one weight W (out,
 * in) and bias b in both layers; X2 wants an adjoint.  The layer is
 * adj_linear, or adj_add(adj_matmul(x, adj_transpose(w)), b).  W's
 * adjoint is C1^T X1 + C2^T X2, b's the column sums of C1 + C2, X2's C2 W.
 * A third tensor is on the tape but not in L's graph, a fourth not on it.
 */
typedef struct net {
    adj_tape *t;
    adj_var *loss, *x2;
    double *c1, *c2, *x1v, *x2v; /* the data, as double */
} net;

static double *values_of(adj_var *x)
{
    size_t n = (size_t)adj_numel(x);
    double *d = malloc(n * sizeof *d);
    ck_assert_int_eq(adj_copy_value(x, d), ADJ_OK);
    return d;
}

static void build(net *k, adj_params *p, int64_t m, int64_t in, int64_t out, bool natural)
{
    const adj_dtype dt = adj_params_dtype(p);
    unsigned s = 7;
    k->t = adj_tape_new();
    adj_var *x1 = data_var(k->t, dt, m, in, &s, false), *x2 = data_var(k->t, dt, m, in, &s, true);
    adj_var *c1 = data_var(k->t, dt, m, out, &s, false), *c2 = data_var(k->t, dt, m, out, &s, false);
    adj_var *z[2];
    for (int l = 0; l < 2; l++) {
        adj_var *x = l ? x2 : x1, *w = adj_param(k->t, p, 0), *b = adj_param(k->t, p, 1);
        z[l] = natural ? adj_add(adj_matmul(x, adj_transpose(w)), b) : adj_linear(x, w, b);
    }
    (void)adj_sum(adj_param(k->t, p, 2)); /* recorded, not in L's graph */
    k->loss = adj_add(adj_sum(adj_mul(c1, z[0])), adj_sum(adj_mul(c2, z[1])));
    k->x2 = x2;
    k->c1 = values_of(c1), k->c2 = values_of(c2), k->x1v = values_of(x1), k->x2v = values_of(x2);
    ck_assert_int_eq(adj_tape_status(k->t), ADJ_OK);
}

static void net_free(net *k)
{
    adj_tape_free(k->t);
    free(k->c1), free(k->c2), free(k->x1v), free(k->x2v);
}

static adj_params *store(adj_dtype dt, int64_t in, int64_t out)
{
    adj_params *p = adj_params_new(dt);
    ck_assert_int_eq(adj_params_add(p, "w", 2, (int64_t[]){out, in}), 0);
    ck_assert_int_eq(adj_params_add(p, "b", 1, (int64_t[]){out}), 1);
    ck_assert_int_eq(adj_params_add(p, "unreached", 2, (int64_t[]){3, 5}), 2);
    ck_assert_int_eq(adj_params_add(p, "absent", 2, (int64_t[]){4, 4}), 3);
    unsigned s = 3;
    void *v = adj_params_values(p);
    for (size_t i = 0; i < adj_params_numel(p); i++)
        put(v, dt, i, rnd(&s));
    return p;
}

static void check_close(double got, double want, double scale, adj_dtype dt, const char *what, size_t i)
{
    const double tol = (dt == ADJ_F64 ? 1e-12 : 2e-5) * scale;
    ck_assert_msg(fabs(got - want) <= tol, "%s[%zu]: %.9g, loops give %.9g", what, i, got, want);
}

static const int64_t sizes[][3] = {{3, 5, 4}, {17, 9, 13}, {67, 129, 61}, {130, 75, 40}};

START_TEST(shared_weight_against_loops)
{
    const adj_dtype dt = _i % 2 ? ADJ_F32 : ADJ_F64;
    const bool natural = (_i / 2) % 2;
    const int threads = 1 + (_i / 4) % 2;
    const int64_t *sz = sizes[_i / 8];
    const int64_t m = sz[0], in = sz[1], out = sz[2];
    adj_set_threads(threads);
    adj_params *p = store(dt, in, out), *q = store(dt, in, out);
    net k, e;
    build(&k, p, m, in, out, natural);
    build(&e, q, m, in, out, natural);
    dirty(p), dirty(q);
    adj_params_zero_grad_lazy(p);
    adj_params_zero_grad(q); /* q's zeros written before its backward */
    ck_assert_int_eq(adj_backward(k.loss), ADJ_OK);
    ck_assert_int_eq(adj_backward(e.loss), ADJ_OK);
    double *W = malloc((size_t)(out * in) * sizeof *W);
    for (size_t i = 0; i < (size_t)(out * in); i++)
        W[i] = get(adj_params_value(p, 0), dt, i);
    for (int round = 1; round <= 2; round++) {
        const void *gw = adj_params_grad(p, 0), *gb = adj_params_grad(p, 1);
        for (int64_t o = 0; o < out; o++) {
            double sb = 0;
            for (int64_t r = 0; r < m; r++)
                sb += k.c1[r * out + o] + k.c2[r * out + o];
            check_close(get(gb, dt, (size_t)o), round * sb, (double)m, dt, "db", (size_t)o);
            for (int64_t i = 0; i < in; i++) {
                double s = 0;
                for (int64_t r = 0; r < m; r++)
                    s += k.c1[r * out + o] * k.x1v[r * in + i] + k.c2[r * out + o] * k.x2v[r * in + i];
                check_close(get(gw, dt, (size_t)(o * in + i)), round * s, (double)m, dt, "dW",
                            (size_t)(o * in + i));
            }
        }
        for (int64_t r = 0; r < m; r++)
            for (int64_t i = 0; i < in; i++) {
                double s = 0;
                for (int64_t o = 0; o < out; o++)
                    s += k.c2[r * out + o] * W[o * in + i];
                check_close(adj_grad_at(k.x2, (size_t)(r * in + i)), s, (double)out, dt, "dX",
                            (size_t)(r * in + i));
            }
        expect_zero(adj_params_grad(p, 2), dt, 15);
        expect_zero(adj_params_grad(p, 3), dt, 16);
        if (round == 1) { /* the bits of the backward on written zeros */
            for (size_t i = 0; i < adj_params_numel(p); i++)
                ck_assert_msg(get(adj_params_grads(p), dt, i) == get(adj_params_grads(q), dt, i),
                              "element %zu: %.9g, on written zeros %.9g", i,
                              get(adj_params_grads(p), dt, i), get(adj_params_grads(q), dt, i));
            /* no zero_grad: a second sweep adds to the store's adjoints
             * (X2's restarts from zero) */
            ck_assert_int_eq(adj_backward(k.loss), ADJ_OK);
        }
    }
    free(W);
    net_free(&k), net_free(&e);
    adj_params_free(p), adj_params_free(q);
    adj_set_threads(0);
}
END_TEST

/* adj_params_zero_grad writes the zeros: a pointer to the gradients taken
 * once, before the loop, reads them right after the call and, after each
 * backward, the sum of both layers' adjoints in the tensors reached and
 * zeros in those not reached, even after a lazy zeroing left marks. */
START_TEST(eager_zeros_through_kept_pointer)
{
    const adj_dtype dt = _i % 2 ? ADJ_F32 : ADJ_F64;
    const int threads = 1 + (_i / 2) % 2;
    const int64_t *sz = sizes[(_i / 4) % 4];
    const int64_t m = sz[0], in = sz[1], out = sz[2];
    adj_set_threads(threads);
    adj_params *p = store(dt, in, out), *q = store(dt, in, out);
    const void *g = adj_params_grads(p); /* kept for the whole test */
    const size_t n = adj_params_numel(p);
    for (int step = 0; step < 3; step++) {
        dirty(p), dirty(q);
        if (step == 2) /* marks left by the lazy form are dropped */
            adj_params_zero_grad_lazy(p);
        adj_params_zero_grad(p);
        expect_zero(g, dt, n);
        net k, e;
        build(&k, p, m, in, out, step == 1);
        build(&e, q, m, in, out, step == 1);
        adj_params_zero_grad_lazy(q); /* the lazy form, read through the accessor */
        ck_assert_int_eq(adj_backward(k.loss), ADJ_OK);
        ck_assert_int_eq(adj_backward(e.loss), ADJ_OK);
        const void *gq = adj_params_grads(q);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(get(g, dt, i) == get(gq, dt, i), "step %d, element %zu: %.9g, want %.9g", step, i,
                          get(g, dt, i), get(gq, dt, i));
        const size_t o2 = adj_params_offset(p, 2);
        expect_zero((const char *)g + o2 * (dt == ADJ_F64 ? 8 : 4), dt, n - o2);
        net_free(&k), net_free(&e);
    }
    adj_params_free(p), adj_params_free(q);
    adj_set_threads(0);
}
END_TEST

/*
 * adj_params_zero_grad on a store whose gradients' address was never
 * given out is the lazy form (no one can read the old values), and a
 * transposed parameter in adj_matmul then has its adjoint stored whole by
 * the first product that reaches it.  Against a store whose address was
 * given out (zeros written, every product adding): the same bits, after a
 * first step left gradients behind; the tensor not reached and the one not
 * on the tape read zero, and so do the readers before the backward.  Once
 * an address is given out (adj_params_grads or a leaf's adj_grad_data), the
 * zeros are in memory right after the call.
 */
START_TEST(unshown_store_same_bits)
{
    const adj_dtype dt = _i % 2 ? ADJ_F32 : ADJ_F64;
    const bool natural = (_i / 2) % 2;
    const int threads = 1 + (_i / 4) % 2;
    const int64_t *sz = sizes[_i / 8];
    const int64_t m = sz[0], in = sz[1], out = sz[2];
    adj_set_threads(threads);
    adj_params *p = store(dt, in, out), *q = store(dt, in, out);
    (void)adj_params_grads(q); /* q's address given out: its zeros are written */
    const size_t n = adj_params_numel(p);
    /* step 1's readers write the pending zeros before its backward; step
     * 2's backward takes the marks over step 1's gradients */
    for (int step = 0; step < 3; step++) {
        net k, e;
        build(&k, p, m, in, out, natural);
        build(&e, q, m, in, out, natural);
        adj_params_zero_grad(p);
        adj_params_zero_grad(q);
        if (step == 1) { /* what step 0 left is not seen */
            adj_var *w = adj_param(k.t, p, 0);
            for (size_t i = 0; i < (size_t)(out * in); i += 7)
                ck_assert_double_eq(adj_grad_at(w, i), 0.0);
            ck_assert_double_eq(adj_grad_norm(p), 0.0);
        }
        ck_assert_int_eq(adj_backward(k.loss), ADJ_OK);
        ck_assert_int_eq(adj_backward(e.loss), ADJ_OK);
        net_free(&k), net_free(&e);
    }
    const void *g = adj_params_grads(p), *gq = adj_params_grads(q);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(get(g, dt, i) == get(gq, dt, i), "element %zu: %.9g, on written zeros %.9g", i,
                      get(g, dt, i), get(gq, dt, i));
    const size_t o2 = adj_params_offset(p, 2);
    expect_zero((const char *)g + o2 * (dt == ADJ_F64 ? 8 : 4), dt, n - o2);
    /* p's address is out now (g); a store shown through a leaf's adjoint
     * is the other half of the loop */
    adj_params *r = _i % 4 < 2 ? p : q;
    net k;
    build(&k, r, m, in, out, natural);
    if (r == q)
        g = adj_grad_data(adj_param(k.t, q, 0));
    ck_assert_int_eq(adj_backward(k.loss), ADJ_OK);
    ck_assert_msg(get(g, dt, 0) != 0.0, "no gradient to clear");
    adj_params_zero_grad(r);
    expect_zero(g, dt, r == p ? n : adj_params_tensor_numel(r, 0));
    net_free(&k);
    adj_params_free(p), adj_params_free(q);
    adj_set_threads(0);
}
END_TEST

/* A kernel that would store a -0 where adding it to zeros gives +0 (the
 * adjoint of W in W * c through a broadcast c holding -0) does not take
 * the marks of adj_params_zero_grad: the bits are those of zeros written
 * first, the +0 included. */
START_TEST(unshown_store_keeps_plus_zero)
{
    const adj_dtype dt = _i % 2 ? ADJ_F32 : ADJ_F64;
    adj_set_threads(1 + _i / 2);
    adj_params *p = adj_params_new(dt), *q = adj_params_new(dt);
    for (int k = 0; k < 2; k++) {
        adj_params *s = k ? q : p;
        ck_assert_int_eq(adj_params_add(s, "w", 2, (int64_t[]){3, 4}), 0);
        for (size_t i = 0; i < 12; i++)
            put(adj_params_values(s), dt, i, 1.0 + (double)i);
    }
    (void)adj_params_grads(q);
    for (int k = 0; k < 2; k++) {
        adj_params *s = k ? q : p;
        adj_params_zero_grad(s);
        adj_tape *t = adj_tape_new();
        const double c[4] = {-0.0, 1.0, -0.0, 2.0};
        adj_var *cv = dt == ADJ_F64 ? adj_constant_f64(t, 2, (int64_t[]){1, 4}, c)
                                    : adj_constant_f32(t, 2, (int64_t[]){1, 4}, (float[]){-0.0f, 1, -0.0f, 2});
        ck_assert_int_eq(adj_backward(adj_sum(adj_mul(adj_param(t, s, 0), cv))), ADJ_OK);
        adj_tape_free(t);
    }
    const size_t es = dt == ADJ_F64 ? 8 : 4;
    const unsigned char *a = adj_params_grads(p), *b = adj_params_grads(q);
    for (size_t i = 0; i < 12; i++)
        ck_assert_msg(memcmp(a + i * es, b + i * es, es) == 0, "element %zu: %g, on written zeros %g", i,
                      get(a, dt, i), get(b, dt, i));
    ck_assert_msg(!signbit(get(a, dt, 0)), "a -0 stored");
    adj_params_free(p), adj_params_free(q);
    adj_set_threads(0);
}
END_TEST

/* Z = W W^T through linear with W as input and weight (one leaf, or two
 * leaves of the same tensor): dW = C^T W + C W, in one adjoint that both
 * products write. */
START_TEST(same_tensor_as_input_and_weight)
{
    const adj_dtype dt = _i % 2 ? ADJ_F32 : ADJ_F64;
    const bool two = (_i / 2) % 2;
    const int threads = 1 + (_i / 4) % 2;
    const int64_t n = (_i / 8) ? 70 : 9;
    adj_set_threads(threads);
    adj_params *p = adj_params_new(dt);
    ck_assert_int_eq(adj_params_add(p, "w", 2, (int64_t[]){n, n}), 0);
    unsigned s = 11;
    for (size_t i = 0; i < (size_t)(n * n); i++)
        put(adj_params_values(p), dt, i, rnd(&s));
    dirty(p);
    adj_tape *t = adj_tape_new();
    adj_var *w = adj_param(t, p, 0), *x = two ? adj_param(t, p, 0) : w;
    adj_var *c = data_var(t, dt, n, n, &s, false);
    adj_params_zero_grad_lazy(p);
    ck_assert_int_eq(adj_backward(adj_sum(adj_mul(c, adj_linear(x, w, NULL)))), ADJ_OK);
    double *C = values_of(c), *W = values_of(w);
    const void *g = adj_params_grad(p, 0);
    for (int64_t a = 0; a < n; a++)
        for (int64_t i = 0; i < n; i++) {
            double sum = 0;
            for (int64_t r = 0; r < n; r++)
                sum += C[r * n + a] * W[r * n + i] + C[a * n + r] * W[r * n + i];
            check_close(get(g, dt, (size_t)(a * n + i)), sum, (double)n, dt, "dW", (size_t)(a * n + i));
        }
    free(C), free(W);
    adj_tape_free(t);
    adj_params_free(p);
    adj_set_threads(0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("lazy_zero");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, readers_see_zeros, 0, 12);
    tcase_add_loop_test(tc, shared_weight_against_loops, 0, 8 * 4);
    tcase_add_loop_test(tc, same_tensor_as_input_and_weight, 0, 16);
    tcase_add_loop_test(tc, eager_zeros_through_kept_pointer, 0, 16);
    tcase_add_loop_test(tc, unshown_store_same_bits, 0, 8 * 4);
    tcase_add_loop_test(tc, unshown_store_keeps_plus_zero, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
