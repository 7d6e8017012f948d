/*
 * The op table, checked by iterating it: every op, both dtypes, every
 * shape case of its signature, against double finite differences, with
 * each float input also fed as non-contiguous views (gradients in both
 * dtypes, second derivatives in double).  A new op is checked here the
 * moment its table row exists, and must have cases that make its inputs
 * strided and, where it broadcasts, broadcast them.
 */
#include <adjoint.h>
#include "check/opcheck.h"
#include "ops/op.h"

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <string.h>

START_TEST(table_is_complete)
{
    for (int op = 0; op < ADJ_OP_COUNT; op++) {
        ck_assert_msg(adj_op_table[op] != NULL, "op %d has no descriptor", op);
        const adj_op_desc *d = adj_op_table[op];
        ck_assert_msg(d->name && *d->name, "op %d has no name", op);
        ck_assert_msg(d->shape && d->forward && d->backward, "op %s lacks a function", d->name);
        ck_assert_msg(d->formula && d->rule, "op %s lacks its formula or rule", d->name);
        ck_assert_str_eq(adj_op_name((adj_op)op), d->name);
        /* every op except the leaf has a gradient check signature */
        if (op != ADJ_OP_LEAF)
            ck_assert_msg(adj_gradcheck_op_cases((adj_op)op) > 0, "op %s has no check cases", d->name);
    }
    ck_assert_str_eq(adj_op_name(ADJ_OP_COUNT), "?");
}
END_TEST

/* A unary op whose value depends on its constant must say so (attributes
 * of the constant's size, a nonzero test_arg): the scalar paths read the
 * attributes only for those. */
static bool differ(double a, double b) { return !(a == b || (isnan(a) && isnan(b))); }

START_TEST(constant_taking_ops_are_marked)
{
    for (int op = 1; op < ADJ_OP_COUNT; op++) {
        const adj_op_desc *d = adj_op_table[op];
        if (d->arity != 1 || !d->scalar_fwd)
            continue;
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_scalar(t, 0.8), *xn = adj_scalar(t, -0.8); /* kinks at 0: both sides */
        adj_attr_c a1 = {0.7}, a2 = {1.3};
        adj_var *y1 = adj_record((adj_op)op, &x, 1, &a1, __FILE__, __LINE__);
        adj_var *y2 = adj_record((adj_op)op, &x, 1, &a2, __FILE__, __LINE__);
        adj_var *z1 = adj_record((adj_op)op, &xn, 1, &a1, __FILE__, __LINE__);
        adj_var *z2 = adj_record((adj_op)op, &xn, 1, &a2, __FILE__, __LINE__);
        ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
        if (differ(adj_item(y1), adj_item(y2)) || differ(adj_item(z1), adj_item(z2)))
            ck_assert_msg(d->test_arg != 0.0 && d->attr_size == sizeof(adj_attr_c),
                          "op %s takes a constant but its test_arg or attr_size is 0", d->name);
        else
            ck_assert_msg(d->test_arg == 0.0 && d->attr_size == 0,
                          "op %s ignores its constant but has a test_arg or attr_size", d->name);
        adj_tape_free(t);
    }
}
END_TEST

static void check_all_cases(adj_op op, adj_dtype dt)
{
    int n = adj_gradcheck_op_cases(op);
    for (int k = 0; k < n; k++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            adj_gradcheck_report r;
            char desc[128];
            adj_status s = adj_gradcheck_op(op, dt, k, seed, &r, desc, sizeof desc);
            ck_assert_msg(s == ADJ_OK, "%s %s %s: %s", adj_op_name(op), adj_dtype_name(dt), desc,
                          r.message);
            for (int i = 0; i < r.n_inputs; i++) {
                const adj_gradcheck_result *in = &r.inputs[i];
                ck_assert_msg(in->passed,
                              "%s %s %s seed %d: input %d element %zu analytic %.12g numeric %.12g",
                              adj_op_name(op), adj_dtype_name(dt), desc, (int)seed, i,
                              in->worst_index, in->analytic, in->numeric);
                ck_assert_msg(in->kinks == 0, "%s %s: inputs were drawn on a kink", adj_op_name(op),
                              desc);
            }
            ck_assert(r.passed);
        }
    }
}

START_TEST(every_op_f64) { check_all_cases((adj_op)_i, ADJ_F64); }
END_TEST

/* The same with each float input fed as each kind of non-contiguous view
 * holding the same values (check/opcheck.h): an op that reads strides
 * reads them right, any other gets a contiguous copy whose adjoint flows
 * back to the view. */
static void check_fed_cases(adj_op op, adj_dtype dt)
{
    const adj_op_desc *d = adj_op_table[op];
    for (int k = 0; k < d->ncases; k++)
        for (int i = 0; i < d->cases[k].n; i++)
            for (int f = ADJ_FEED_PLAIN + 1; f < ADJ_FEED_KINDS; f++) {
                if (i < 32 && ((d->index_inputs >> i) & 1u))
                    continue;
                adj_gradcheck_report r;
                char desc[160];
                adj_status s = adj_gradcheck_op_fed(op, dt, k, 1, i, f, &r, desc, sizeof desc);
                ck_assert_msg(s == ADJ_OK, "%s %s %s: %s", adj_op_name(op), adj_dtype_name(dt),
                              desc, r.message);
                for (int j = 0; j < r.n_inputs; j++)
                    ck_assert_msg(r.inputs[j].passed,
                                  "%s %s %s: input %d element %zu analytic %.12g numeric %.12g",
                                  adj_op_name(op), adj_dtype_name(dt), desc, j,
                                  r.inputs[j].worst_index, r.inputs[j].analytic,
                                  r.inputs[j].numeric);
                ck_assert(r.passed);
            }
}

START_TEST(every_op_fed_f64) { check_fed_cases((adj_op)_i, ADJ_F64); }
END_TEST

START_TEST(every_op_fed_f32) { check_fed_cases((adj_op)_i, ADJ_F32); }
END_TEST

START_TEST(every_op_f32) { check_all_cases((adj_op)_i, ADJ_F32); }
END_TEST

/* The second derivative (adj_gradgradcheck_op, as in the suite gradgrad)
 * with each float input fed as each kind of non-contiguous view, in
 * double: the graph-mode backward of an op reading a strided input, and
 * the views' own, differentiate again. */
START_TEST(every_op_fed_gradgrad_f64)
{
    const adj_op op = (adj_op)_i;
    const adj_op_desc *d = adj_op_table[op];
    for (int k = 0; k < d->ncases; k++)
        for (int i = 0; i < d->cases[k].n; i++)
            for (int f = ADJ_FEED_PLAIN + 1; f < ADJ_FEED_KINDS; f++) {
                if (i < 32 && ((d->index_inputs >> i) & 1u))
                    continue;
                adj_gradcheck_report r;
                char desc[160];
                adj_status s = adj_gradgradcheck_op_fed(op, ADJ_F64, k, 1, i, f, &r, desc, sizeof desc);
                ck_assert_msg(s == ADJ_OK, "%s f64 %s: %s", adj_op_name(op), desc, r.message);
                for (int j = 0; j < r.n_inputs; j++)
                    ck_assert_msg(r.inputs[j].passed,
                                  "%s f64 %s: input %d element %zu of H v: analytic %.12g, "
                                  "numeric %.12g",
                                  adj_op_name(op), desc, j, r.inputs[j].worst_index,
                                  r.inputs[j].analytic, r.inputs[j].numeric);
            }
}
END_TEST

/* Large |x| stays finite where the math is finite. */
START_TEST(stable_for_large_inputs)
{
    adj_tape *t = adj_tape_new();
    const double xs[] = {-1000, -50, 50, 1000};
    int64_t sh[1] = {4};
    adj_var *x = adj_tensor_f64(t, 1, sh, xs);
    adj_var *s = adj_sigmoid(x), *sp = adj_softplus(x), *th = adj_tanh(x);
    adj_var *L = adj_sum(adj_add(adj_add(s, sp), th));
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    for (int i = 0; i < 4; i++) {
        ck_assert(isfinite(adj_value_at(s, i)));
        ck_assert(isfinite(adj_value_at(sp, i)));
        ck_assert(isfinite(adj_grad_at(x, i)));
    }
    ck_assert_double_eq_tol(adj_value_at(s, 0), 0.0, 1e-300);
    ck_assert_double_eq(adj_value_at(s, 3), 1.0);
    ck_assert_double_eq(adj_value_at(sp, 3), 1000.0);
    adj_tape_free(t);
}
END_TEST

/* A zero upstream adjoint never turns into NaN through an infinite
 * local derivative (sqrt, log, div, pow at 0). */
START_TEST(zero_adjoint_at_poles)
{
    adj_tape *t = adj_tape_new();
    adj_var *z = adj_scalar(t, 0.0);
    adj_var *zero = adj_constant_f64(t, 0, NULL, (double[]){0.0});
    adj_var *terms[4] = {adj_sqrt(z), adj_log(z), adj_div(adj_scalar(t, 1.0), z), adj_pow(z, 0.5)};
    adj_var *L = adj_scalar(t, 1.0);
    for (int i = 0; i < 4; i++)
        L = adj_add(L, adj_mul(terms[i], zero));
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    ck_assert_msg(!isnan(adj_grad_item(z)), "got %g", adj_grad_item(z));
    ck_assert_double_eq(adj_grad_item(z), 0.0);
    adj_tape_free(t);
}
END_TEST

/* ReLU'(0) = 1 as the notes define it; |x|'(0) = 0. */
START_TEST(kink_conventions)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 0.0);
    ck_assert_int_eq(adj_backward(adj_relu(x)), ADJ_OK);
    ck_assert_double_eq(adj_grad_item(x), 1.0);
    adj_tape_reset(t);
    x = adj_scalar(t, 0.0);
    ck_assert_int_eq(adj_backward(adj_leaky_relu(x, 0.01)), ADJ_OK);
    ck_assert_double_eq(adj_grad_item(x), 1.0);
    adj_tape_reset(t);
    x = adj_scalar(t, 0.0);
    ck_assert_int_eq(adj_backward(adj_abs(x)), ADJ_OK);
    ck_assert_double_eq(adj_grad_item(x), 0.0);
    adj_tape_free(t);
}
END_TEST

/* matmul with transpose flags equals matmul of explicit transposes. */
START_TEST(matmul_transpose_flags)
{
    adj_tape *t = adj_tape_new();
    const double A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {-1, 0.5, 2, 3, -2, 1};
    int64_t s32[2] = {3, 2}, s23[2] = {2, 3};
    adj_var *a = adj_tensor_f64(t, 2, s32, A); /* stored (3,2): a^T is (2,3) */
    adj_var *b = adj_tensor_f64(t, 2, s23, B); /* stored (2,3): b^T is (3,2) */
    adj_var *c = adj_matmul_t(a, b, 1, 1);     /* a^T b^T: (2,3)(3,2) = (2,2) */
    ck_assert_int_eq(adj_dim(c, 0), 2);
    ck_assert_int_eq(adj_dim(c, 1), 2);
    /* by hand: a^T = [[1,3,5],[2,4,6]], b^T = [[-1,3],[0.5,-2],[2,1]] */
    const double want[4] = {1 * -1 + 3 * 0.5 + 5 * 2, 1 * 3 + 3 * -2 + 5 * 1,
                            2 * -1 + 4 * 0.5 + 6 * 2, 2 * 3 + 4 * -2 + 6 * 1};
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq_tol(adj_value_at(c, i), want[i], 1e-12);
    adj_tape_free(t);
}
END_TEST

/* The broadcast gradient of a row vector sums over rows. */
START_TEST(broadcast_gradient_sums)
{
    adj_tape *t = adj_tape_new();
    int64_t s[2] = {3, 2}, r[1] = {2};
    adj_var *a = adj_tensor_f64(t, 2, s, (double[]){1, 2, 3, 4, 5, 6});
    adj_var *b = adj_tensor_f64(t, 1, r, (double[]){10, 20});
    adj_var *L = adj_sum(adj_mul(a, b));
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    ck_assert_double_eq(adj_item(L), 10 * (1 + 3 + 5) + 20 * (2 + 4 + 6));
    ck_assert_double_eq(adj_grad_at(b, 0), 9);
    ck_assert_double_eq(adj_grad_at(b, 1), 12);
    ck_assert_double_eq(adj_grad_at(a, 5), 20);
    adj_tape_free(t);
}
END_TEST

/* GELU, its tanh form, SiLU and swish at points worked out independently
 * (Python's math.erfc and exp, the lecture notes for swish), including
 * far negative arguments, where 1 + erf and 1 + tanh would cancel. */
START_TEST(gelu_silu_swish_values)
{
    static const struct {
        adj_var *(*fn)(adj_var *);
        double x, y, dy, tol;
    } rows[] = {
        {(adj_gelu), 1.0, 0.8413447460685429, 1.0833154705876864, 1e-14},
        {(adj_gelu), -0.5, -0.15426876936299344, 0.13250487534383712, 1e-14},
        {(adj_gelu), 3.0, 2.99595030590511, 1.011945647204184, 1e-14},
        {(adj_gelu), -10.0, -7.619853024160593e-23, -7.618400096464813e-22, 1e-35},
        {(adj_gelu_tanh), 1.0, 0.8411919906082768, 1.0829640838457826, 1e-14},
        {(adj_gelu_tanh), -0.5, -0.15428599017485606, 0.13263009646535764, 1e-14},
        {(adj_gelu_tanh), -3.0, -0.0036373920817730195, NAN, 1e-16},
        {(adj_gelu_tanh), -10.0, -1.2040923482098023e-37, NAN, 1e-50},
        {(adj_silu), 1.0, 0.7310585786300049, 0.9276705118714869, 1e-14},
        {(adj_silu), -2.0, -0.2384058440442351, -0.09078424878489547, 1e-14},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_scalar(t, rows[i].x);
        adj_var *y = rows[i].fn(x);
        ck_assert_int_eq(adj_backward(y), ADJ_OK);
        ck_assert_msg(fabs(adj_item(y) - rows[i].y) <= rows[i].tol, "row %zu: y %.17g want %.17g",
                      i, adj_item(y), rows[i].y);
        if (!isnan(rows[i].dy))
            ck_assert_msg(fabs(adj_grad_item(x) - rows[i].dy) <= rows[i].tol,
                          "row %zu: dy/dx %.17g want %.17g", i, adj_grad_item(x), rows[i].dy);
        adj_tape_free(t);
    }
    /* the notes' swish: z = 1, beta = 2 gives 0.880797 and 1.090784
     * (not the 1.349033 of the erratum) */
    adj_tape *t = adj_tape_new();
    adj_var *z = adj_scalar(t, 1.0);
    adj_var *y = adj_swish(z, 2.0);
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    ck_assert_double_eq_tol(adj_item(y), 0.880797, 5e-7);
    ck_assert_double_eq_tol(adj_grad_item(z), 1.090784, 5e-7);
    /* and swish with beta = 1 is SiLU, in float too */
    adj_tape_reset(t);
    int64_t sh[1] = {4};
    const float xs[4] = {-30.0f, -1.5f, 0.25f, 4.0f};
    adj_var *a = adj_tensor_f32(t, 1, sh, xs);
    adj_var *s1 = adj_swish(a, 1.0), *s2 = adj_silu(a);
    for (int i = 0; i < 4; i++) {
        double want = xs[i] / (1 + exp(-(double)xs[i]));
        ck_assert_double_eq_tol(adj_value_at(s1, i), want, 1e-6 * fmax(1, fabs(want)) + 1e-30);
        ck_assert_double_eq(adj_value_at(s1, i), adj_value_at(s2, i));
    }
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------- what the table checks cover */

/* The ops the coverage test below lets through, each with its reason. */
static const struct {
    adj_op op;
    bool no_strided; /* no case has a float input a view can make strided */
    const char *why;
} exempt[] = {
    {ADJ_OP_LEAF, true, "the leaf has no inputs"},
    {ADJ_OP_ONE_HOT, true, "its only input is an index tensor: nothing to differentiate"},
};

static const char *exempt_why(adj_op op, bool strided)
{
    for (size_t k = 0; k < sizeof exempt / sizeof exempt[0]; k++)
        if (exempt[k].op == op && (!strided || exempt[k].no_strided))
            return exempt[k].why;
    return NULL;
}

static bool is_index_in(const adj_op_desc *d, int i) { return i < 32 && ((d->index_inputs >> i) & 1u); }

static int64_t numel_of(int ndim, const int64_t *sh)
{
    int64_t n = 1;
    for (int k = 0; k < ndim; k++)
        n *= sh[k];
    return n;
}

/* The output shape of op on float inputs of the given shapes (attributes
 * of case sc), or -1 where it does not record. */
static int out_shape(adj_op op, const adj_op_case *sc, const int *ndim, const int64_t (*shape)[ADJ_MAX_DIMS],
                     int64_t *out)
{
    const adj_op_desc *d = adj_op_table[op];
    adj_tape *t = adj_tape_new();
    adj_var *in[ADJ_CASE_MAX_IN] = {NULL};
    double buf[ADJ_CASE_MAX_NUMEL * 4];
    for (size_t j = 0; j < sizeof buf / sizeof buf[0]; j++)
        buf[j] = 0.5 + 0.01 * (double)j;
    for (int i = 0; i < sc->n; i++)
        in[i] = adj_tensor_f64(t, ndim[i], shape[i], buf);
    adj_var *y = adj_record(op, in, d->arity >= 0 ? d->arity : sc->n, sc->attr ? sc->attr : d->case_attr,
                            __FILE__, __LINE__);
    int nd = -1;
    if (adj_tape_status(t) == ADJ_OK) {
        nd = adj_ndim(y);
        for (int k = 0; k < nd; k++)
            out[k] = adj_dim(y, k);
    }
    adj_tape_free(t);
    return nd;
}

/* Every op of the table is checked (gradient, tangent and second
 * derivative: the suites ops, jvp and gradgrad) with a float input a view
 * makes non-contiguous (one of at least 2 elements: the fed checks), and,
 * where the op broadcasts an input, with a case where that input is
 * broadcast.  An op broadcasts input i when giving that input a size-1
 * first dimension, or none, records with the output shape unchanged; a
 * case broadcasts an input that has fewer dimensions than the output, or
 * size 1 where the output's aligned dimension is larger.  An op without
 * such cases fails here unless listed in `exempt` with its reason.  Ops
 * that take an index tensor are not probed (none of them broadcasts).
 * That every op has a tangent and a graph-mode backward, and passes their
 * checks, the suites jvp and gradgrad assert by iterating the table. */
START_TEST(every_op_covers_strides_and_broadcasting)
{
    int gaps = 0;
    for (int op = 1; op < ADJ_OP_COUNT; op++) {
        const adj_op_desc *d = adj_op_table[op];
        bool strided = false, bcasts = false, bcase = false;
        for (int k = 0; k < d->ncases; k++) {
            const adj_op_case *sc = &d->cases[k];
            for (int i = 0; i < sc->n; i++)
                if (!is_index_in(d, i) && sc->ndim[i] >= 1 && numel_of(sc->ndim[i], sc->shape[i]) >= 2)
                    strided = true;
            if (d->index_inputs)
                continue; /* index inputs are not probed */
            int64_t out[ADJ_MAX_DIMS], out2[ADJ_MAX_DIMS];
            const int nd = out_shape((adj_op)op, sc, sc->ndim, sc->shape, out);
            if (nd < 0)
                continue;
            for (int i = 0; i < sc->n; i++) {
                /* this case broadcasts input i */
                for (int a = 0; a < nd; a++) {
                    const int b = a - (nd - sc->ndim[i]);
                    if (sc->n > 1 && out[a] > 1 && (b < 0 ? sc->ndim[i] < nd : sc->shape[i][b] == 1) &&
                        numel_of(sc->ndim[i], sc->shape[i]) < numel_of(nd, out))
                        bcase = true;
                }
                if (sc->ndim[i] < 1 || sc->n < 2 || sc->shape[i][0] < 2)
                    continue;
                /* the op broadcasts input i */
                for (int v = 0; v < 2 && !bcasts; v++) {
                    int ndim[ADJ_CASE_MAX_IN];
                    int64_t shape[ADJ_CASE_MAX_IN][ADJ_MAX_DIMS];
                    memcpy(ndim, sc->ndim, sizeof ndim);
                    memcpy(shape, sc->shape, sizeof shape);
                    if (v == 0)
                        shape[i][0] = 1;
                    else {
                        ndim[i]--;
                        memmove(shape[i], shape[i] + 1, (size_t)ndim[i] * sizeof shape[i][0]);
                    }
                    const int nd2 = out_shape((adj_op)op, sc, ndim, (const int64_t(*)[ADJ_MAX_DIMS])shape, out2);
                    bcasts = nd2 == nd && memcmp(out, out2, (size_t)nd * sizeof out[0]) == 0;
                }
            }
        }
        const char *why_s = strided ? NULL : exempt_why((adj_op)op, true);
        const char *why_b = !bcasts || bcase ? NULL : exempt_why((adj_op)op, false);
        if (!strided && !why_s) {
            printf("op %s: no case has a float input of 2 or more elements to feed as a view\n", d->name);
            gaps++;
        }
        if (bcasts && !bcase && !why_b) {
            printf("op %s broadcasts but no case broadcasts an input\n", d->name);
            gaps++;
        }
    }
    ck_assert_msg(gaps == 0, "%d gaps in the op table's cases (listed above)", gaps);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, table_is_complete);
    tcase_add_test(tc, constant_taking_ops_are_marked);
    tcase_add_test(tc, every_op_covers_strides_and_broadcasting);
    tcase_add_loop_test(tc, every_op_f64, 1, ADJ_OP_COUNT);
    tcase_add_loop_test(tc, every_op_f32, 1, ADJ_OP_COUNT);
    tcase_add_loop_test(tc, every_op_fed_f64, 1, ADJ_OP_COUNT);
    tcase_add_loop_test(tc, every_op_fed_f32, 1, ADJ_OP_COUNT);
    tcase_add_loop_test(tc, every_op_fed_gradgrad_f64, 1, ADJ_OP_COUNT);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("numerics");
    tcase_add_test(tn, stable_for_large_inputs);
    tcase_add_test(tn, zero_adjoint_at_poles);
    tcase_add_test(tn, kink_conventions);
    tcase_add_test(tn, matmul_transpose_flags);
    tcase_add_test(tn, broadcast_gradient_sums);
    tcase_add_test(tn, gelu_silu_swish_values);
    suite_add_tcase(s, tn);
    return s;
}

ADJ_CHECK_MAIN(suite)
