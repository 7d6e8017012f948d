/*
 * The backward sweep's scalar path (an f64 0-D node whose op has a scalar
 * rule: the rule reads the inputs and adds to their adjoints itself)
 * against the general path, the op's kernels on one-element 1-D tensors:
 * the same bits for every op with a scalar rule, on inputs inside and
 * outside the ranges of its fast kernels, and for chains swept every way
 * a sweep can run (a second sweep, release_adjoints, a seed, a reset and
 * reuse, create_graph and a sweep of the adjoint, scalar nodes mixed with
 * tensor nodes).
 */
#include <adjoint.h>

#include "check_util.h"
#include "ops/op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* equal, or both NaN */
static int same_num(double x, double y) { return x == y || (isnan(x) && isnan(y)); }

static const int64_t one[1] = {1};

/* A leaf holding v: 0-D (scalar) or one-element 1-D (tensor); grad: it
 * requires a gradient, else a constant. */
static adj_var *leaf(adj_tape *t, bool scalar, double v, bool grad)
{
    if (grad)
        return scalar ? adj_scalar(t, v) : adj_tensor_f64(t, 1, one, &v);
    return adj_constant_f64(t, scalar ? 0 : 1, one, &v);
}

/* Op `op` on a (and b for a binary op; same: b is a itself), recorded on
 * 0-D leaves and on one-element 1-D leaves, each swept from its output
 * with seed 1: the same value and the same adjoints, bit for bit. */
static void rule_agrees(adj_op op, double a, double b, bool same, bool bgrad)
{
    const adj_op_desc *d = adj_op_table[op];
    static const adj_attr_c attr = {0.7};
    adj_tape *t = adj_tape_new();
    double ga[2], gb[2], yv[2];
    for (int s = 0; s < 2; s++) {
        adj_var *in[2];
        in[0] = leaf(t, s == 0, a, true);
        in[1] = d->arity == 2 ? (same ? in[0] : leaf(t, s == 0, b, bgrad)) : NULL;
        adj_var *y = adj_record(op, in, d->arity, d->attr_size ? &attr : NULL, __FILE__, __LINE__);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        ck_assert_int_eq(adj_ndim(y), s == 0 ? 0 : 1);
        const double seed = 1.0;
        ck_assert_int_eq(adj_backward_seeded(y, &seed), ADJ_OK);
        yv[s] = adj_item(y);
        ga[s] = adj_grad_item(in[0]);
        gb[s] = in[1] && bgrad ? adj_grad_item(in[1]) : 0.0;
    }
    ck_assert_msg(same_num(yv[0], yv[1]), "%s(%g, %g): y scalar %.17g, tensor %.17g", d->name,
                  a, b, yv[0], yv[1]);
    ck_assert_msg(same_num(ga[0], ga[1]), "%s(%g, %g)%s: da scalar %.17g, tensor %.17g", d->name,
                  a, b, same ? " (a = b)" : "", ga[0], ga[1]);
    ck_assert_msg(same_num(gb[0], gb[1]), "%s(%g, %g): db scalar %.17g, tensor %.17g", d->name, a,
                  b, gb[0], gb[1]);
    adj_tape_free(t);
}

START_TEST(every_scalar_rule_matches_its_kernels)
{
    /* 400 and -400: outside the range where the fast exponentials apply
     * (tanh's e^-2|x|, sigmoid's e^-|x|); 1e-300: tiny; NaN and infinities */
    static const double xs[] = {0.3,  -0.8, 1.7,     4.0,       -25.0,    0.0,
                                -0.0, 400., -400.0,  1e-300,    INFINITY, -INFINITY,
                                NAN,  0.7,  -1.0e10, 710.0};
    const size_t nx = sizeof xs / sizeof xs[0];
    int rules = 0;
    for (int op = 1; op < ADJ_OP_COUNT; op++) {
        const adj_op_desc *d = adj_op_table[op];
        if (!d->scalar_bwd)
            continue;
        rules++;
        ck_assert_msg(d->arity == 1 || d->arity == 2, "%s: a scalar rule of arity %d", d->name,
                      d->arity);
        for (size_t i = 0; i < nx; i++) {
            if (d->arity == 1) {
                rule_agrees((adj_op)op, xs[i], 0.0, false, true);
                continue;
            }
            for (size_t j = 0; j < nx; j += 3) {
                rule_agrees((adj_op)op, xs[i], xs[(i + j) % nx], false, true);
                rule_agrees((adj_op)op, xs[i], xs[(i + j) % nx], false, false);
            }
            rule_agrees((adj_op)op, xs[i], xs[i], true, true);
        }
    }
    ck_assert_int_ge(rules, 20);
}
END_TEST

/* h = tanh(w h + b) n times from x, then sigmoid(h) * h: on 0-D leaves or
 * one-element 1-D ones; writes the leaves. */
static adj_var *chain(adj_tape *t, bool scalar, int n, adj_var **w, adj_var **b, adj_var **x)
{
    *w = leaf(t, scalar, 0.9, true);
    *b = leaf(t, scalar, 0.1, true);
    *x = leaf(t, scalar, -0.4, true);
    adj_var *h = *x;
    for (int i = 0; i < n; i++)
        h = adj_tanh(adj_add(adj_mul(*w, h), *b));
    return adj_mul(adj_sigmoid(h), h);
}

enum { SWEEP_PLAIN, SWEEP_TWICE, SWEEP_RELEASE, SWEEP_SEED, SWEEP_RESET, SWEEP_SECOND,
       SWEEP_KINDS };

/* The adjoints of w, b, x after the sweep of `kind` on a chain of n. */
static void sweep_chain(bool scalar, int kind, int n, double g[3])
{
    adj_tape *t = adj_tape_new();
    adj_var *w, *b, *x;
    adj_var *y = chain(t, scalar, n, &w, &b, &x);
    const double seed = 0.375;
    switch (kind) {
    case SWEEP_PLAIN:
        ck_assert_int_eq(adj_backward_seeded(y, (const double[]){1.0}), ADJ_OK);
        break;
    case SWEEP_TWICE: /* the second sweep starts from zero again */
        ck_assert_int_eq(adj_backward_seeded(y, &seed), ADJ_OK);
        ck_assert_int_eq(adj_backward_seeded(y, (const double[]){1.0}), ADJ_OK);
        break;
    case SWEEP_RELEASE: {
        adj_backward_opts o = {.release_adjoints = 1};
        ck_assert_int_eq(adj_backward_ex(y, &o), ADJ_OK);
        /* and a sweep after the release gives them again */
        ck_assert_int_eq(adj_backward_seeded(y, (const double[]){1.0}), ADJ_OK);
        ck_assert_int_eq(adj_backward_ex(y, &o), ADJ_OK);
        break;
    }
    case SWEEP_SEED:
        ck_assert_int_eq(adj_backward_seeded(y, &seed), ADJ_OK);
        break;
    case SWEEP_RESET: /* a reused tape records and sweeps the same */
        ck_assert_int_eq(adj_backward_seeded(y, &seed), ADJ_OK);
        adj_tape_reset(t);
        y = chain(t, scalar, n, &w, &b, &x);
        ck_assert_int_eq(adj_backward_seeded(y, (const double[]){1.0}), ADJ_OK);
        break;
    case SWEEP_SECOND: { /* d/dw of (dy/dw)^2: create_graph, then a sweep of it */
        adj_backward_opts o = {.create_graph = 1};
        ck_assert_int_eq(adj_backward_ex(y, &o), ADJ_OK);
        adj_var *gw = adj_grad_var(w);
        ck_assert_ptr_nonnull(gw);
        adj_var *z = adj_mul(gw, gw);
        ck_assert_int_eq(adj_backward_seeded(z, (const double[]){1.0}), ADJ_OK);
        break;
    }
    }
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    g[0] = adj_grad_item(w);
    g[1] = adj_grad_item(b);
    g[2] = adj_grad_item(x);
    adj_tape_free(t);
}

START_TEST(chain_sweeps_match_general_path)
{
    static const char *names[SWEEP_KINDS] = {"plain", "twice", "release", "seed", "reset",
                                             "second order"};
    static const int lengths[] = {1, 7, 1500}; /* 1500 steps: 4500 nodes, five chunks */
    for (int kind = 0; kind < SWEEP_KINDS; kind++)
        for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
            double gs[3], gt[3];
            sweep_chain(true, kind, lengths[k], gs);
            sweep_chain(false, kind, lengths[k], gt);
            for (int i = 0; i < 3; i++) {
                ck_assert_msg(isfinite(gs[i]), "%s, %d steps: leaf %d: %g", names[kind],
                              lengths[k], i, gs[i]);
                ck_assert_msg(gs[i] == gt[i], "%s, %d steps: leaf %d: scalar %.17g, tensor %.17g",
                              names[kind], lengths[k], i, gs[i], gt[i]);
            }
        }
}
END_TEST

/* Scalar nodes feeding tensor nodes and back: s scales a (5,) tensor v,
 * its sum goes through scalar ops and then scales v again.  The same
 * graph with s a one-element 1-D tensor gives the same adjoints. */
static void mixed(bool scalar, double gs[1], double gv[5])
{
    adj_tape *t = adj_tape_new();
    const double vd[5] = {0.5, -1.25, 2.0, 0.125, -0.75};
    adj_var *s = leaf(t, scalar, 0.6, true);
    adj_var *v = adj_tensor_f64(t, 1, (const int64_t[]){5}, vd);
    adj_var *u = adj_tanh(adj_sum(adj_mul(v, s)));   /* tensor -> sum -> tanh */
    adj_var *k = adj_mul(adj_add(u, s), s);          /* scalar ops when scalar */
    adj_var *y = adj_sum(adj_mul(adj_exp(adj_mul(v, k)), v));
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    gs[0] = adj_grad_item(s);
    for (int i = 0; i < 5; i++)
        gv[i] = adj_grad_at(v, (size_t)i);
    adj_tape_free(t);
}

START_TEST(scalar_nodes_mixed_with_tensor_nodes)
{
    double s1[1], s2[1], v1[5], v2[5];
    mixed(true, s1, v1);
    mixed(false, s2, v2);
    ck_assert_msg(s1[0] == s2[0], "ds: scalar %.17g, tensor %.17g", s1[0], s2[0]);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(v1[i] == v2[i], "dv[%d]: scalar %.17g, tensor %.17g", i, v1[i], v2[i]);
}
END_TEST

/*
 * The first sweep after a reset (no anomaly checks, no releases) runs
 * without marks: a node's adjoint says whether the output reaches it.
 * Every node of a graph that has what the marks decide on is compared,
 * adjoint and bits, with the marked sweeps (anomaly mode, and a second
 * sweep of the same tape): op nodes below the output that it does not
 * reach (wanting a gradient), constants, a node reached through a
 * constant factor, fan-out, nodes after the output that use it, tensor
 * nodes between scalar ones, and a parameter of a store (its adjoint
 * accumulates across sweeps).  The graph runs over several chunks.
 */
enum { FIRST_MAX = 8192 };
typedef struct first_graph {
    adj_var *v[FIRST_MAX];
    int n;
} first_graph;

static adj_var *keep(first_graph *g, adj_var *v)
{
    ck_assert_int_lt(g->n, FIRST_MAX);
    g->v[g->n++] = v;
    return v;
}

static adj_var *first_graph_record(adj_tape *t, adj_params *p, int steps, first_graph *g)
{
    const double vd[5] = {0.5, -1.25, 2.0, 0.125, -0.75};
    g->n = 0;
    adj_var *w = keep(g, adj_scalar(t, 0.9)), *b = keep(g, adj_scalar(t, 0.1));
    adj_var *c = keep(g, adj_constant_f64(t, 0, one, (const double[]){1.5}));
    adj_var *pw = keep(g, adj_param(t, p, 0));
    adj_var *vec = keep(g, adj_tensor_f64(t, 1, (const int64_t[]){5}, vd));
    adj_var *h = keep(g, adj_scalar(t, -0.4));
    adj_var *dead = h;
    for (int i = 0; i < steps; i++) {
        adj_var *m = keep(g, adj_mul(w, h));
        h = keep(g, adj_tanh(keep(g, adj_add(m, b))));
        if (i % 5 == 1) /* not reached: wants a gradient, holds none */
            dead = keep(g, adj_sin(keep(g, adj_mul(dead, m))));
        if (i % 7 == 3) /* a constant factor, and fan-out of h */
            h = keep(g, adj_add(keep(g, adj_mul(c, h)), keep(g, adj_mul(h, pw))));
        if (i % 11 == 5) /* through tensor nodes and back */
            h = keep(g, adj_sum(keep(g, adj_mul(vec, keep(g, adj_sigmoid(h))))));
        if (i % 13 == 0) /* constants only: no gradient */
            keep(g, adj_exp(keep(g, adj_mul(c, c))));
    }
    adj_var *y = keep(g, adj_mul(h, keep(g, adj_add(h, pw))));
    keep(g, adj_mul(y, w)); /* after y: never visited */
    keep(g, adj_tanh(y));
    return y;
}

/* The adjoints of every node of g into out (NaN for none). */
static void first_graph_grads(const first_graph *g, double *out, size_t per)
{
    for (int i = 0; i < g->n; i++) {
        const double *d = adj_grad_data(g->v[i]);
        const size_t n = (size_t)adj_numel(g->v[i]);
        ck_assert(n <= per);
        for (size_t j = 0; j < per; j++)
            out[(size_t)i * per + j] = d && j < n ? d[j] : NAN;
    }
}

START_TEST(first_sweep_without_marks)
{
    static const int lengths[] = {1, 6, 700}; /* 700 steps: over 2400 nodes, three chunks */
    enum { PER = 5 };
    static first_graph g1, g2;
    static double a1[FIRST_MAX * PER], a2[FIRST_MAX * PER], a3[FIRST_MAX * PER];
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        adj_params *p = adj_params_new(ADJ_F64);
        ck_assert_int_eq(adj_params_add(p, "pw", 0, NULL), 0);
        *(double *)adj_params_value(p, 0) = 0.7;
        for (int round = 0; round < 2; round++) { /* the second one on a reset tape */
            adj_tape *t = adj_tape_new(), *ta = adj_tape_new();
            if (round) {
                first_graph_record(t, p, 3, &g1);
                ck_assert_int_eq(adj_backward(g1.v[g1.n - 3]), ADJ_OK);
                adj_tape_reset(t);
            }
            adj_params_zero_grad(p);
            adj_var *y = first_graph_record(t, p, lengths[k], &g1);
            ck_assert_int_eq(adj_backward(y), ADJ_OK); /* without marks */
            first_graph_grads(&g1, a1, PER);
            const double pg = *(const double *)adj_params_grad(p, 0);
            /* marked: the same graph in anomaly mode, on a new tape */
            adj_params_zero_grad(p);
            adj_tape_set_anomaly(ta, 1);
            adj_var *ya = first_graph_record(ta, p, lengths[k], &g2);
            ck_assert_int_eq(g2.n, g1.n);
            ck_assert_int_eq(adj_backward(ya), ADJ_OK);
            first_graph_grads(&g2, a2, PER);
            ck_assert(*(const double *)adj_params_grad(p, 0) == pg);
            /* marked: a second sweep of the first tape */
            adj_params_zero_grad(p);
            ck_assert_int_eq(adj_backward(y), ADJ_OK);
            first_graph_grads(&g1, a3, PER);
            ck_assert(*(const double *)adj_params_grad(p, 0) == pg);
            int unreached = 0;
            for (int i = 0; i < g1.n * PER; i++) {
                ck_assert_msg(memcmp(&a1[i], &a2[i], sizeof a1[i]) == 0 &&
                                  memcmp(&a1[i], &a3[i], sizeof a1[i]) == 0,
                              "%d steps, node %d element %d: %.17g, anomaly mode %.17g, "
                              "second sweep %.17g",
                              lengths[k], i / PER, i % PER, a1[i], a2[i], a3[i]);
                unreached += i % PER == 0 && isnan(a1[i]);
            }
            ck_assert_int_gt(unreached, 3); /* the graph has such nodes */
            ck_assert(isfinite(pg) && pg != 0.0);
            adj_tape_free(t);
            adj_tape_free(ta);
        }
        adj_params_free(p);
    }
}
END_TEST

/* Tensor nodes that fill every field of the cold part: attributes
 * (scale), more than three inputs (concat of five), a strided view
 * (transpose), a 4-D shape kept in the arena, inline shapes; `rounds`
 * times. */
static void fill_cold_parts(adj_tape *t, int rounds)
{
    const double d[6] = {0.5, -1.0, 2.0, 0.25, -0.75, 1.5};
    for (int r = 0; r < rounds; r++) {
        adj_var *a = adj_tensor_f64(t, 2, (const int64_t[]){2, 3}, d);
        adj_var *b = adj_tensor_f64(t, 4, (const int64_t[]){1, 2, 1, 3}, d);
        adj_var *xs[5] = {a, adj_scale(a, 3.0), adj_transpose(adj_transpose(a)), a, a};
        adj_var *c = adj_concat(5, xs, 0);
        adj_var *u = adj_mul(adj_sum(c), adj_sum(adj_scale(b, -2.0)));
        (void)adj_add(u, adj_sum(adj_transpose(a)));
    }
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
}

/* What the printers write of tape t: print, DOT and JSON, one string. */
static char *printed(adj_tape *t)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(adj_tape_print(t, f), ADJ_OK);
    ck_assert_int_eq(adj_tape_dot(t, f), ADJ_OK);
    ck_assert_int_eq(adj_tape_json(t, 1, f), ADJ_OK);
    fclose(f);
    return buf;
}

/* The scalar paths write only the first piece of a node's cold part
 * (adj_node_info), not the rest (inputs past the third, strides, inline
 * sizes, attributes).  Scalar nodes recorded over slots where tensor
 * nodes had filled all of it, after a reset, give the values, adjoints,
 * shapes, printed tape and error message of the same chain on a fresh
 * tape, and so do tensor nodes recorded over the scalar ones again. */
static void reused_chain(bool reuse, int n, double out[4], char **text, char **msg)
{
    adj_tape *t = adj_tape_new();
    if (reuse) {
        fill_cold_parts(t, n / 2 + 2); /* 11 nodes a round: over every slot of the chain */
        adj_tape_reset(t);
    }
    adj_var *w, *b, *x;
    adj_var *y = chain(t, true, n, &w, &b, &x);
    ck_assert_int_eq(adj_ndim(y), 0);
    ck_assert_uint_eq(adj_numel(y), 1);
    char sh[32];
    adj_shape_string(y, sh, sizeof sh);
    ck_assert_str_eq(sh, "()");
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    out[0] = adj_item(y);
    out[1] = adj_grad_item(w);
    out[2] = adj_grad_item(b);
    out[3] = adj_grad_item(x);
    *text = n <= 7 ? printed(t) : NULL;
    /* tensor nodes again over the scalar ones: their cold parts are whole */
    adj_tape_reset(t);
    fill_cold_parts(t, 3);
    adj_tape_reset(t);
    /* an anomaly in a scalar op names the op and the line */
    adj_tape_set_anomaly(t, 1);
    adj_var *z = adj_scalar(t, 0.0);
    (void)adj_div(adj_add(z, z), z);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ENUMERIC);
    *msg = strdup(adj_tape_message(t));
    adj_tape_free(t);
}

START_TEST(scalar_nodes_over_reused_slots)
{
    static const int lengths[] = {1, 7, 1500};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        double fresh[4], reused[4];
        char *tf, *tr, *mf, *mr;
        reused_chain(false, lengths[k], fresh, &tf, &mf);
        reused_chain(true, lengths[k], reused, &tr, &mr);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fresh[i] == reused[i] && isfinite(fresh[i]),
                          "%d steps: %d: fresh %.17g, reused %.17g", lengths[k], i, fresh[i],
                          reused[i]);
        if (tf) {
            ck_assert_str_eq(tf, tr);
            ck_assert_ptr_nonnull(strstr(tf, "tanh"));
        }
        ck_assert_str_eq(mf, mr);
        ck_assert_ptr_nonnull(strstr(mf, "adj_div"));
        ck_assert_ptr_nonnull(strstr(mf, "test_scalar_sweep.c"));
        free(tf);
        free(tr);
        free(mf);
        free(mr);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("scalar_sweep");
    TCase *tc = tcase_create("scalar_sweep");
    tcase_add_test(tc, every_scalar_rule_matches_its_kernels);
    tcase_add_test(tc, chain_sweeps_match_general_path);
    tcase_add_test(tc, scalar_nodes_mixed_with_tensor_nodes);
    tcase_add_test(tc, scalar_nodes_over_reused_slots);
    tcase_add_test(tc, first_sweep_without_marks);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
