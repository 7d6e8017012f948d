/*
 * Forward mode: every op's tangent rule against its adjoint rule and
 * finite differences (iterating the op table), and forward against reverse
 * mode on the notes' E1, E2 and a small MLP.
 */
#include <adjoint.h>
#include "check/opcheck.h"
#include "ops/op.h"

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>

static int close_rel(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Every op but the leaf has a tangent rule, and it passes the check on
 * every shape case, in both dtypes, for several random directions. */
START_TEST(op_table_jvp)
{
    adj_op op = (adj_op)_i;
    if (op == ADJ_OP_LEAF)
        return;
    ck_assert_msg(adj_op_table[op]->jvp != NULL, "adj_%s has no jvp", adj_op_name(op));
    int cases = adj_gradcheck_op_cases(op);
    ck_assert_int_gt(cases, 0);
    for (int dt = 0; dt < 2; dt++)
        for (int sc = 0; sc < cases; sc++)
            for (uint64_t seed = 1; seed <= 3; seed++) {
                adj_jvpcheck_report r;
                adj_dtype dtype = dt ? ADJ_F32 : ADJ_F64;
                ck_assert_int_eq(adj_jvpcheck_op(op, dtype, sc, seed, &r), ADJ_OK);
                ck_assert_msg(r.passed,
                              "adj_%s %s case %d seed %d: jvp %.12g vjp %.12g numeric %.12g "
                              "(errors %.3g, %.3g)",
                              adj_op_name(op), adj_dtype_name(dtype), sc, (int)seed, r.jvp, r.vjp,
                              r.numeric, r.err_vjp, r.err_numeric);
            }
}
END_TEST

/* The same with each float input fed as each kind of non-contiguous view
 * (check/opcheck.h). */
START_TEST(op_table_jvp_fed)
{
    adj_op op = (adj_op)_i;
    const adj_op_desc *d = adj_op_table[op];
    for (int dt = 0; dt < 2; dt++)
        for (int sc = 0; sc < d->ncases; sc++)
            for (int i = 0; i < d->cases[sc].n; i++)
                for (int f = ADJ_FEED_PLAIN + 1; f < ADJ_FEED_KINDS; f++) {
                    if (i < 32 && ((d->index_inputs >> i) & 1u))
                        continue;
                    adj_jvpcheck_report r;
                    adj_dtype dtype = dt ? ADJ_F32 : ADJ_F64;
                    ck_assert_msg(adj_jvpcheck_op_fed(op, dtype, sc, 1, i, f, &r) == ADJ_OK,
                                  "adj_%s case %d input %d %s: %s", adj_op_name(op), sc, i,
                                  adj_feed_name(f), r.message);
                    ck_assert_msg(r.passed,
                                  "adj_%s %s case %d input %d %s: jvp %.12g vjp %.12g numeric "
                                  "%.12g",
                                  adj_op_name(op), adj_dtype_name(dtype), sc, i, adj_feed_name(f),
                                  r.jvp, r.vjp, r.numeric);
                }
}
END_TEST

START_TEST(jvpcheck_rejects_bad_case)
{
    adj_jvpcheck_report r;
    ck_assert_int_eq(adj_jvpcheck_op(ADJ_OP_EXP, ADJ_F64, 99, 1, &r), ADJ_EINVAL);
    ck_assert(!r.passed);
    ck_assert_int_eq(adj_jvpcheck_op(ADJ_OP_LEAF, ADJ_F64, 0, 1, &r), ADJ_EINVAL);
    ck_assert_int_eq(adj_jvpcheck_op(ADJ_OP_EXP, ADJ_F64, 0, 1, NULL), ADJ_EINVAL);
}
END_TEST

/* E1: f = exp(x^2), f' = 2x exp(x^2) (values from the notes) */
START_TEST(e1_forward_equals_reverse)
{
    const double xs[3] = {0.5, 1, 2}, df[3] = {1.2840254167, 5.4365636569, 218.3926001326};
    for (int i = 0; i < 3; i++) {
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_scalar(t, xs[i]);
        adj_var *f = adj_exp(adj_square(x));
        double fwd = adj_jvp_item(f, x, 1.0);
        ck_assert_int_eq(adj_backward(f), ADJ_OK);
        ck_assert(close_rel(fwd, df[i], 1e-10));
        ck_assert(close_rel(fwd, adj_grad_item(x), 1e-14));
        adj_tape_free(t);
    }
}
END_TEST

/* E2: f = sqrt(x^2 + exp(x^2)); forward mode on the same 5-node tape */
START_TEST(e2_forward_equals_reverse)
{
    const double xs[3] = {0.5, 1, 2}, df[3] = {0.9220503969, 1.9282846855, 14.5260784109};
    for (int i = 0; i < 3; i++) {
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_scalar(t, xs[i]);
        adj_var *a = adj_square(x);
        adj_var *f = adj_sqrt(adj_add(a, adj_exp(a)));
        ck_assert_uint_eq(adj_tape_size(t), 5);
        double fwd = adj_jvp_item(f, x, 1.0);
        ck_assert_int_eq(adj_backward(f), ADJ_OK);
        ck_assert(close_rel(fwd, df[i], 1e-10));
        ck_assert(close_rel(fwd, adj_grad_item(x), 1e-14));
        /* seeding an intermediate: df/da with a treated as independent */
        double dfa = adj_jvp_item(f, a, 1.0);
        ck_assert(close_rel(dfa, adj_grad_item(a), 1e-14));
        adj_tape_free(t);
    }
}
END_TEST

/* A 4-5-3 MLP with softmax cross-entropy: for random directions v over
 * all parameters, the directional derivative from forward mode equals
 * <grad, v> from backward, in f64 and (looser) in f32. */
static void mlp_case(adj_dtype dt, double tol)
{
    enum { B = 3, I = 4, H = 5, O = 3 };
    static const int64_t sx[2] = {B, I}, sw1[2] = {H, I}, sb1[1] = {H}, sw2[2] = {O, H}, sb2[1] = {O};
    double x[B * I], w1[H * I], b1[H], w2[O * H], b2[O];
    double *all[5] = {x, w1, b1, w2, b2};
    const size_t n[5] = {B * I, H * I, H, O * H, O};
    double v[5][H * I];
    const double *vp[5];
    uint32_t s = 12345;
    for (int k = 0; k < 5; k++) {
        for (size_t j = 0; j < n[k]; j++) {
            s = s * 1664525u + 1013904223u;
            all[k][j] = (double)(s >> 8) / (1 << 24) - 0.5;
            s = s * 1664525u + 1013904223u;
            v[k][j] = (double)(s >> 8) / (1 << 24) - 0.5;
        }
        vp[k] = v[k];
    }
    const int32_t labels[B] = {0, 2, 1};
    adj_tape *t = adj_tape_new();
    adj_var *in[5];
    const int64_t *shp[5] = {sx, sw1, sb1, sw2, sb2};
    const int nd[5] = {2, 2, 1, 2, 1};
    for (int k = 0; k < 5; k++) {
        float f[H * I];
        for (size_t j = 0; j < n[k]; j++)
            f[j] = (float)all[k][j];
        in[k] = adj_leaf_at(t, dt, nd[k], shp[k], dt == ADJ_F64 ? (void *)all[k] : (void *)f, 1,
                            __FILE__, __LINE__);
    }
    adj_var *h = adj_tanh(adj_linear(in[0], in[1], in[2]));
    adj_var *loss = adj_softmax_cross_entropy(adj_linear(h, in[3], in[4]), labels);
    double fwd;
    ck_assert_int_eq(adj_jvp(loss, 5, in, vp, &fwd), ADJ_OK);
    ck_assert_int_eq(adj_backward(loss), ADJ_OK);
    double rev = 0;
    for (int k = 0; k < 5; k++)
        for (size_t j = 0; j < n[k]; j++)
            rev += adj_grad_at(in[k], j) * v[k][j];
    ck_assert_msg(close_rel(fwd, rev, tol), "forward %.15g reverse %.15g", fwd, rev);
    adj_tape_free(t);
}

START_TEST(mlp_forward_equals_reverse)
{
    mlp_case(ADJ_F64, 1e-12);
    mlp_case(ADJ_F32, 1e-4);
}
END_TEST

START_TEST(jvp_errors)
{
    double out;
    ck_assert_int_eq(adj_jvp(NULL, 0, NULL, NULL, &out), ADJ_EINVAL);
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 1.0);
    adj_var *y = adj_exp(x);
    adj_var *old = adj_exp(y); /* node 2: no node takes its slot after the reset */
    ck_assert_int_eq(adj_jvp(y, 1, &x, NULL, &out), ADJ_EINVAL);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EINVAL);
    adj_tape_reset(t);
    adj_var *x2 = adj_scalar(t, 1.0);
    adj_var *y2 = adj_exp(x2);
    const double one = 1, *vp = &one;
    ck_assert_int_eq(adj_jvp(y2, 1, &old, &vp, &out), ADJ_ETAPE);
    ck_assert(isnan(adj_jvp_item(y2, x2, 1.0)));               /* sticky error */
    adj_tape_reset(t);
    x2 = adj_scalar(t, 0.0);
    y2 = adj_exp(x2);
    /* no seed: zero tangent everywhere */
    ck_assert_int_eq(adj_jvp(y2, 0, NULL, NULL, &out), ADJ_OK);
    ck_assert(out == 0.0 && !signbit(out));
    adj_tape_free(t);
}
END_TEST

static Suite *jvp_suite(void)
{
    Suite *s = suite_create("jvp");
    TCase *tc = tcase_create("ops");
    tcase_add_loop_test(tc, op_table_jvp, 0, ADJ_OP_COUNT);
    tcase_add_loop_test(tc, op_table_jvp_fed, 1, ADJ_OP_COUNT);
    tcase_add_test(tc, jvpcheck_rejects_bad_case);
    suite_add_tcase(s, tc);
    tc = tcase_create("notes");
    tcase_add_test(tc, e1_forward_equals_reverse);
    tcase_add_test(tc, e2_forward_equals_reverse);
    tcase_add_test(tc, mlp_forward_equals_reverse);
    tcase_add_test(tc, jvp_errors);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(jvp_suite)
