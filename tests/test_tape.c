/*
 * The tape: recording, the reverse sweep, fan-out, memory reuse across
 * resets, parameters, and independence of tapes across threads.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A node of six inputs, three in the hot node and three in the cold part
 * (one input given twice): the sweep reaches every input, a second sweep
 * restarts from zero, forward mode and the tape printout see all six. */
START_TEST(node_with_six_inputs)
{
    adj_tape *t = adj_tape_new();
    adj_var *p = adj_scalar(t, 0.5);
    adj_var *a = adj_scalar(t, 2.0), *b = adj_scalar(t, -1.0), *d = adj_scalar(t, 3.0);
    adj_var *th = adj_tanh(p), *sq = adj_mul(p, p);
    adj_var *xs[6] = {a, b, a, d, th, sq};
    adj_var *y = adj_add_n(6, xs);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    const double tp = tanh(0.5);
    ck_assert_double_eq_tol(adj_item(y), 2 - 1 + 2 + 3 + tp + 0.25, 1e-15);
    for (int sweep = 0; sweep < 2; sweep++) {
        ck_assert_int_eq(adj_backward(y), ADJ_OK);
        ck_assert_double_eq(adj_grad_item(a), 2.0); /* in two slots */
        ck_assert_double_eq(adj_grad_item(b), 1.0);
        ck_assert_double_eq(adj_grad_item(d), 1.0);
        /* through slots 4 and 5: d tanh(p)/dp + d p^2/dp, by hand */
        ck_assert_double_eq_tol(adj_grad_item(p), (1 - tp * tp) + 2 * 0.5, 1e-15);
    }
    ck_assert_double_eq_tol(adj_jvp_item(y, p, 1.0), (1 - tp * tp) + 2 * 0.5, 1e-15);
    char *buf = NULL, ins[96];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(adj_tape_print(t, f), ADJ_OK);
    fclose(f);
    snprintf(ins, sizeof ins, "%zu,%zu,%zu,%zu,%zu,%zu", adj_var_id(a), adj_var_id(b), adj_var_id(a),
             adj_var_id(d), adj_var_id(th), adj_var_id(sq));
    ck_assert_msg(strstr(buf, ins) != NULL, "inputs %s not in\n%s", ins, buf);
    free(buf);
    f = open_memstream(&buf, &len);
    ck_assert_int_eq(adj_backward_explain(y, f), ADJ_OK);
    fclose(f);
    ck_assert_msg(strstr(buf, "enters twice") || strstr(buf, "twice"), "%s", buf);
    free(buf);
    adj_tape_free(t);
}
END_TEST

/* E2: f = sqrt(x^2 + exp(x^2)) records exactly 5 nodes, and a = x^2
 * receives two contributions (through c directly and through b). */
START_TEST(fan_out_sums_contributions)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 1.0);
    adj_var *a = adj_square(x);
    adj_var *b = adj_exp(a);
    adj_var *c = adj_add(a, b);
    adj_var *d = adj_sqrt(c);
    ck_assert_uint_eq(adj_tape_size(t), 5);
    ck_assert_int_eq(adj_backward(d), ADJ_OK);
    double dc = 1 / (2 * sqrt(1 + exp(1.0)));  /* by hand */
    ck_assert_double_eq_tol(adj_grad_item(c), dc, 1e-15);
    ck_assert_double_eq_tol(adj_grad_item(b), dc, 1e-15);
    ck_assert_double_eq_tol(adj_grad_item(a), dc * 1 + dc * exp(1.0), 1e-14);
    ck_assert_double_eq_tol(adj_grad_item(x), 2 * (dc + dc * exp(1.0)), 1e-14);
    /* a second backward recomputes, it does not double */
    ck_assert_int_eq(adj_backward(d), ADJ_OK);
    ck_assert_double_eq_tol(adj_grad_item(x), 2 * (dc + dc * exp(1.0)), 1e-14);
    adj_tape_free(t);
}
END_TEST

/* x <- tanh(w x + b), a million nodes, against a plain C loop. */
START_TEST(million_node_chain)
{
    const int steps = 333334; /* 3 ops a step: just over 10^6 nodes */
    const double w0 = 0.9, b0 = 0.1, x0 = 0.3;
    adj_tape *t = adj_tape_new();
    adj_var *w = adj_scalar(t, w0), *b = adj_scalar(t, b0), *x = adj_scalar(t, x0);
    adj_var *h = x;
    for (int i = 0; i < steps; i++)
        h = adj_tanh(adj_add(adj_mul(w, h), b));
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_uint_ge(adj_tape_size(t), 1000000);
    ck_assert_int_eq(adj_backward(h), ADJ_OK);

    /* oracle: forward values, then the reverse recurrence by hand */
    double *hs = malloc((size_t)(steps + 1) * sizeof *hs);
    ck_assert_ptr_nonnull(hs);
    hs[0] = x0;
    for (int i = 0; i < steps; i++)
        hs[i + 1] = tanh(w0 * hs[i] + b0);
    double dh = 1, dw = 0, db = 0;
    for (int i = steps; i > 0; i--) {
        double dz = dh * (1 - hs[i] * hs[i]);
        dw += dz * hs[i - 1];
        db += dz;
        dh = dz * w0;
    }
    ck_assert_double_eq_tol(adj_item(h), hs[steps], 1e-15);
    ck_assert_double_eq_tol(adj_grad_item(w), dw, 1e-12 * (1 + fabs(dw)));
    ck_assert_double_eq_tol(adj_grad_item(b), db, 1e-12 * (1 + fabs(db)));
    ck_assert_double_eq_tol(adj_grad_item(x), dh, 1e-12 + 1e-12 * fabs(dh));
    free(hs);
    adj_tape_free(t);
}
END_TEST

/* A training-like loop reaches a steady state with no allocation. */
START_TEST(reset_reaches_steady_state)
{
    test_alloc c;
    adj_allocator al = test_alloc_init(&c);
    adj_tape *t = adj_tape_new_with(&al);
    int64_t sx[2] = {64, 32}, sw[2] = {16, 32}, sb[1] = {16};
    static double X[64 * 32], W[16 * 32], B[16];
    for (int i = 0; i < 64 * 32; i++)
        X[i] = sin(i);
    for (int i = 0; i < 16 * 32; i++)
        W[i] = cos(i) * 0.1;
    int32_t labels[64];
    for (int i = 0; i < 64; i++)
        labels[i] = i % 16;
    size_t after_warmup = 0;
    for (int it = 0; it < 50; it++) {
        adj_var *x = adj_constant_f64(t, 2, sx, X);
        adj_var *w = adj_tensor_f64(t, 2, sw, W);
        adj_var *b = adj_tensor_f64(t, 1, sb, B);
        adj_var *L = adj_softmax_cross_entropy(adj_tanh(adj_linear(x, w, b)), labels);
        ck_assert_int_eq(adj_backward(L), ADJ_OK);
        adj_tape_reset(t);
        if (it == 5)
            after_warmup = c.calls;
    }
    ck_assert_uint_eq(c.calls, after_warmup);
    adj_tape_stats st;
    adj_tape_get_stats(t, &st);
    ck_assert_uint_eq(st.nodes, 0);
    ck_assert_uint_gt(st.high_water, 64 * 32 * 8);
    ck_assert_uint_ge(st.bytes_reserved, st.high_water);
    adj_tape_free(t);
    ck_assert_uint_eq(c.calls, c.frees);
    ck_assert_uint_eq(c.live, 0);
}
END_TEST

START_TEST(stats_count_nodes_and_bytes)
{
    adj_tape *t = adj_tape_new();
    int64_t s[1] = {1000};
    adj_var *x = adj_tensor_f64(t, 1, s, NULL);
    adj_var *y = adj_exp(x);
    adj_tape_stats st;
    adj_tape_get_stats(t, &st);
    ck_assert_uint_eq(st.nodes, 2);
    ck_assert_uint_ge(st.bytes_used, 2 * 1000 * 8);
    ck_assert_double_eq(adj_value_at(y, 999), 1.0);
    ck_assert(isnan(adj_value_at(y, 1000)));
    adj_tape_free(t);
}
END_TEST

/* Parameters: contiguous blocks, adjoints accumulate across tapes. */
START_TEST(params_accumulate_across_tapes)
{
    adj_params *p = adj_params_new(ADJ_F64);
    int64_t sw[2] = {2, 3}, sb[1] = {2};
    int w = adj_params_add(p, "w", 2, sw);
    int b = adj_params_add(p, "b", 1, sb);
    ck_assert_int_eq(w, 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(adj_params_count(p), 2);
    ck_assert_uint_ge(adj_params_numel(p), 8);
    double *vals = adj_params_values(p);
    ck_assert_ptr_eq(adj_params_value(p, 0), vals);
    ck_assert_ptr_eq(adj_params_value(p, 1), vals + adj_params_offset(p, 1));
    for (int i = 0; i < 6; i++)
        ((double *)adj_params_value(p, w))[i] = i + 1;
    ((double *)adj_params_value(p, b))[0] = 0.5;

    for (int round = 0; round < 2; round++) {
        adj_tape *t = adj_tape_new();
        int64_t sx[2] = {1, 3};
        adj_var *x = adj_constant_f64(t, 2, sx, (double[]){1, 1, 1});
        adj_var *L = adj_sum(adj_linear(x, adj_param(t, p, w), adj_param(t, p, b)));
        ck_assert_int_eq(adj_backward(L), ADJ_OK);
        ck_assert_double_eq(adj_item(L), (1 + 2 + 3) + (4 + 5 + 6) + 0.5);
        adj_tape_free(t);
    }
    const double *g = adj_params_grad(p, w);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(g[i], 2.0); /* two rounds of dL/dw = 1 */
    ck_assert_double_eq(((double *)adj_params_grad(p, b))[0], 2.0);
    adj_params_zero_grad(p); /* in memory: the pointer kept from before reads them */
    ck_assert_double_eq(g[3], 0.0);
    ck_assert_str_eq(adj_params_tensor_name(p, 1), "b");
    ck_assert_int_eq(adj_params_add(p, "bad", ADJ_MAX_DIMS + 1, (int64_t[ADJ_MAX_DIMS + 1]){2, 3}), -1);
    ck_assert_int_eq(adj_params_status(p), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(adj_params_message(p), "dimensions"));
    adj_params_free(p);
}
END_TEST

START_TEST(seeded_backward_any_shape)
{
    adj_tape *t = adj_tape_new();
    int64_t s[1] = {3};
    adj_var *x = adj_tensor_f64(t, 1, s, (double[]){1, 2, 3});
    adj_var *y = adj_square(x);
    ck_assert_int_eq(adj_backward_seeded(y, (double[]){1, 10, 100}), ADJ_OK);
    ck_assert_double_eq(adj_grad_at(x, 0), 2);
    ck_assert_double_eq(adj_grad_at(x, 1), 40);
    ck_assert_double_eq(adj_grad_at(x, 2), 600);
    adj_tape_free(t);
}
END_TEST

START_TEST(axis_reductions_and_reshape)
{
    adj_tape *t = adj_tape_new();
    int64_t s[3] = {2, 3, 2};
    double v[12];
    for (int i = 0; i < 12; i++)
        v[i] = i;
    adj_var *x = adj_tensor_f64(t, 3, s, v);
    adj_var *m = adj_mean_axis(x, 1); /* (2,2): mean over the 3 */
    ck_assert_int_eq(adj_ndim(m), 2);
    ck_assert_double_eq(adj_value_at(m, 0), (0 + 2 + 4) / 3.0);
    ck_assert_double_eq(adj_value_at(m, 3), (7 + 9 + 11) / 3.0);
    int64_t ns[2] = {-1, 4};
    adj_var *r = adj_reshape(x, 2, ns);
    ck_assert_int_eq(adj_dim(r, 0), 3);
    adj_var *sa = adj_sum_axis(r, -1);
    ck_assert_double_eq(adj_value_at(sa, 2), 8 + 9 + 10 + 11);
    ck_assert_int_eq(adj_backward(adj_sum(adj_add(adj_sum(m), adj_sum(sa)))), ADJ_OK);
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq_tol(adj_grad_at(x, i), 1.0 / 3 + 1, 1e-15);
    adj_tape_free(t);
}
END_TEST

START_TEST(float_matches_double)
{
    adj_tape *t = adj_tape_new();
    int64_t s[2] = {2, 3};
    const double d[6] = {0.1, -0.4, 0.7, 1.2, -1.5, 0.3};
    float f[6];
    for (int i = 0; i < 6; i++)
        f[i] = (float)d[i];
    adj_var *xd = adj_tensor_f64(t, 2, s, d), *xf = adj_tensor_f32(t, 2, s, f);
    adj_var *yd = adj_sum(adj_log_softmax(adj_tanh(xd)));
    adj_var *yf = adj_sum(adj_log_softmax(adj_tanh(xf)));
    ck_assert_int_eq(adj_var_dtype(yf), ADJ_F32);
    ck_assert_int_eq(adj_backward(yd), ADJ_OK);
    ck_assert_int_eq(adj_backward(yf), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(yd), adj_item(yf), 1e-5);
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(adj_grad_at(xd, i), adj_grad_at(xf, i), 1e-5);
    adj_tape_free(t);
}
END_TEST

/* A constant view reads the caller's memory in place. */
START_TEST(constant_view_reads_in_place)
{
    adj_tape *t = adj_tape_new();
    double data[6] = {1, 2, 3, 4, 5, 6};
    int64_t s[2] = {2, 3};
    adj_var *x = adj_constant_view(t, ADJ_F64, 2, s, data);
    ck_assert_ptr_eq(adj_data(x), data);
    ck_assert(!adj_requires_grad(x));
    adj_var *w = adj_tensor_f64(t, 1, (int64_t[]){3}, ((double[]){1, 10, 100}));
    adj_var *L = adj_sum(adj_mul(x, w));
    ck_assert_double_eq(adj_item(L), 1 + 20 + 300 + 4 + 50 + 600);
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    ck_assert_double_eq(adj_grad_at(w, 2), 3 + 6);
    ck_assert_double_eq(data[5], 6); /* never written */
    adj_constant_view(t, ADJ_F64, 2, s, NULL);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_constant_view: data is NULL"));
    adj_tape_reset(t);
    adj_constant_view(t, ADJ_F32, 2, ((int64_t[]){2, -3}), data);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "(2,-3)"));
    adj_tape_free(t);
}
END_TEST

/* Separate tapes in separate threads give the sequential results. */
typedef struct job {
    double x, f, g;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    adj_tape *t = adj_tape_new();
    for (int rep = 0; rep < 200; rep++) {
        adj_tape_reset(t);
        adj_var *x = adj_scalar(t, j->x);
        adj_var *h = x;
        for (int i = 0; i < 100; i++)
            h = adj_sin(adj_add(adj_mul(h, x), adj_scalar(t, 0.01 * i)));
        adj_backward(h);
        j->f = adj_item(h);
        j->g = adj_grad_item(x);
    }
    adj_tape_free(t);
    return NULL;
}

START_TEST(tapes_in_threads)
{
    enum { N = 4 };
    job par[N], seq[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        par[i].x = seq[i].x = 0.1 + 0.2 * i;
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &par[i]), 0);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        worker(&seq[i]);
        ck_assert(par[i].f == seq[i].f);
        ck_assert(par[i].g == seq[i].g);
    }
}
END_TEST

/* Shapes of every rank, kept inline (up to 4 dimensions) or in the arena
 * (more): many nodes of each kind recorded in turn keep their own sizes,
 * through elementwise ops, a reversing permutation (a view with strides)
 * and a reduction, and the gradient of sum(exp(x) * x) is (x + 1) exp(x)
 * at every element; twice, the second time after a reset reuses the
 * arena.  Names given to nodes of both kinds are found again, and a reset
 * forgets them. */
START_TEST(shapes_of_every_rank)
{
    adj_tape *t = adj_tape_new();
    for (int pass = 0; pass < 2; pass++) {
        adj_tape_reset(t);
        adj_var *xs[ADJ_MAX_DIMS + 1], *ys[ADJ_MAX_DIMS + 1], *ps[ADJ_MAX_DIMS + 1];
        double data[ADJ_MAX_DIMS + 1][128];
        for (int r = 0; r <= ADJ_MAX_DIMS; r++) {
            int64_t shape[ADJ_MAX_DIMS];
            size_t n = 1;
            for (int k = 0; k < r; k++) {
                shape[k] = 1 + (k + r) % 3; /* sizes 1, 2, 3 */
                n *= (size_t)shape[k];
            }
            ck_assert_uint_le(n, 128);
            for (size_t i = 0; i < n; i++)
                data[r][i] = 0.01 * (double)(i + 1) - 0.1 * r;
            xs[r] = adj_tensor_f64(t, r, shape, data[r]);
            ys[r] = adj_mul(adj_exp(xs[r]), xs[r]);
            int perm[ADJ_MAX_DIMS];
            for (int k = 0; k < r; k++)
                perm[k] = r - 1 - k;
            ps[r] = adj_permute(ys[r], perm);
            adj_var_set_name(r % 2 ? ys[r] : ps[r], r % 2 ? "odd" : "even");
        }
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        for (int r = 0; r <= ADJ_MAX_DIMS; r++) {
            ck_assert_int_eq(adj_ndim(xs[r]), r);
            ck_assert_int_eq(adj_ndim(ys[r]), r);
            ck_assert_int_eq(adj_ndim(ps[r]), r);
            for (int k = 0; k < r; k++) {
                ck_assert_int_eq(adj_dim(xs[r], k), 1 + (k + r) % 3);
                ck_assert_int_eq(adj_dim(ys[r], k), 1 + (k + r) % 3);
                ck_assert_int_eq(adj_dim(ps[r], k), 1 + (r - 1 - k + r) % 3);
            }
            adj_var *s = adj_sum(ps[r]);
            ck_assert_int_eq(adj_backward(s), ADJ_OK);
            size_t n = adj_numel(xs[r]);
            for (size_t i = 0; i < n; i++) {
                const double x = data[r][i];
                ck_assert_double_eq_tol(adj_grad_at(xs[r], i), (x + 1) * exp(x), 1e-14);
            }
        }
        ck_assert_str_eq(adj_var_name(ys[ADJ_MAX_DIMS - 1]), "odd");
        ck_assert_str_eq(adj_var_name(ps[ADJ_MAX_DIMS]), "even");
        ck_assert_ptr_null(adj_var_name(xs[ADJ_MAX_DIMS]));
        ck_assert_ptr_eq(adj_tape_find(t, "odd"), ys[ADJ_MAX_DIMS - 1]);
        ck_assert_ptr_eq(adj_tape_find(t, "even"), ps[ADJ_MAX_DIMS]);
        adj_var_set_name(ps[ADJ_MAX_DIMS], NULL);
        ck_assert_ptr_null(adj_var_name(ps[ADJ_MAX_DIMS]));
        ck_assert_ptr_eq(adj_tape_find(t, "even"), ps[ADJ_MAX_DIMS - 2]);
    }
    adj_tape_reset(t);
    adj_var *fresh = adj_scalar(t, 1.0);
    ck_assert_ptr_null(adj_var_name(fresh));
    ck_assert_ptr_null(adj_tape_find(t, "odd"));
    adj_tape_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tape");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fan_out_sums_contributions);
    tcase_add_test(tc, million_node_chain);
    tcase_add_test(tc, reset_reaches_steady_state);
    tcase_add_test(tc, stats_count_nodes_and_bytes);
    tcase_add_test(tc, params_accumulate_across_tapes);
    tcase_add_test(tc, seeded_backward_any_shape);
    tcase_add_test(tc, axis_reductions_and_reshape);
    tcase_add_test(tc, float_matches_double);
    tcase_add_test(tc, tapes_in_threads);
    tcase_add_test(tc, constant_view_reads_in_place);
    tcase_add_test(tc, node_with_six_inputs);
    tcase_add_test(tc, shapes_of_every_rank);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
