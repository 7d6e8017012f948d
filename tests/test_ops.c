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

static bool is_index_in(const adj_op_desc *d, int i) { return i < 32 && ((d->index_inputs >> i) & 1u); }

/* The same with each float input fed as each kind of non-contiguous view
 * holding the same values (check/opcheck.h), checking the gradient
 * (adj_gradcheck_op_fed) or the second derivative of a product with the
 * gradient (adj_gradgradcheck_op_fed; `what` names it in the messages):
 * an op that reads strides reads them right, any other gets a contiguous
 * copy whose adjoint flows back to the view. */
typedef adj_status (*fed_check)(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed, int input,
                                int feed, adj_gradcheck_report *rep, char *describe, size_t describe_size);

static void check_fed_cases(adj_op op, adj_dtype dt, fed_check check, const char *what)
{
    const adj_op_desc *d = adj_op_table[op];
    for (int k = 0; k < d->ncases; k++)
        for (int i = 0; i < d->cases[k].n; i++)
            for (int f = ADJ_FEED_PLAIN + 1; f < ADJ_FEED_KINDS; f++) {
                if (is_index_in(d, i))
                    continue;
                adj_gradcheck_report r;
                char desc[160];
                adj_status s = check(op, dt, k, 1, i, f, &r, desc, sizeof desc);
                ck_assert_msg(s == ADJ_OK, "%s %s %s: %s", adj_op_name(op), adj_dtype_name(dt),
                              desc, r.message);
                for (int j = 0; j < r.n_inputs; j++)
                    ck_assert_msg(r.inputs[j].passed,
                                  "%s %s %s: input %d element %zu%s: analytic %.12g, numeric %.12g",
                                  adj_op_name(op), adj_dtype_name(dt), desc, j,
                                  r.inputs[j].worst_index, what, r.inputs[j].analytic,
                                  r.inputs[j].numeric);
                ck_assert(r.passed);
            }
}

START_TEST(every_op_fed_f64) { check_fed_cases((adj_op)_i, ADJ_F64, adj_gradcheck_op_fed, ""); }
END_TEST

START_TEST(every_op_fed_f32) { check_fed_cases((adj_op)_i, ADJ_F32, adj_gradcheck_op_fed, ""); }
END_TEST

START_TEST(every_op_f32) { check_all_cases((adj_op)_i, ADJ_F32); }
END_TEST

/* The second derivative (adj_gradgradcheck_op, as in the suite gradgrad)
 * on views, in double: the graph-mode backward of an op reading a strided
 * input, and the views' own, differentiate again.  (The report of a
 * second-derivative check passes exactly when each of its inputs does.) */
START_TEST(every_op_fed_gradgrad_f64)
{
    check_fed_cases((adj_op)_i, ADJ_F64, adj_gradgradcheck_op_fed, " of H v");
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

/* The ops the coverage test below lets through, each with its reason:
 * EX_VIEWS, no case has a float input a view can make strided; EX_BCAST,
 * the op takes several inputs and broadcasts none of them. */
enum { EX_VIEWS = 1u, EX_BCAST = 2u };
static const struct {
    adj_op op;
    unsigned what;
    const char *why;
} exempt[] = {
    {ADJ_OP_LEAF, EX_VIEWS, "the leaf has no inputs"},
    {ADJ_OP_ONE_HOT, EX_VIEWS, "its only input is an index tensor: nothing to differentiate"},
    {ADJ_OP_MATMUL, EX_BCAST,
     "2-D operands only: a size-1 axis is a row, a column or the contraction (k = 1); the batched "
     "product (ADJ_OP_BMM) broadcasts"},
    {ADJ_OP_LINEAR, EX_BCAST, "the weight is (out, in) and the bias (out), one value per output"},
    {ADJ_OP_LINEAR_ADD, EX_BCAST, "a linear layer's shapes, and the residual has the output's shape"},
    {ADJ_OP_MSE, EX_BCAST, "a loss of prediction and target of one shape"},
    {ADJ_OP_BCE_LOGITS, EX_BCAST, "a loss of logits and targets of one shape"},
    {ADJ_OP_ADD_N, EX_BCAST, "every input has one shape"},
    {ADJ_OP_CONCAT, EX_BCAST, "a block of size 1 along the axis is one slice of the result, not a repeated one"},
    {ADJ_OP_STACK, EX_BCAST, "every input has one shape"},
    {ADJ_OP_EMBEDDING, EX_BCAST, "rows of a (rows, features) table picked by an index tensor"},
    {ADJ_OP_CROSS_ENTROPY, EX_BCAST, "one label per row of the logits, of the rows' shape"},
    {ADJ_OP_INDEX_SELECT, EX_BCAST, "slices picked along an axis by a 1-D index tensor"},
    {ADJ_OP_GATHER, EX_BCAST, "elements picked by an index of x's rank: the output has the index's shape"},
    {ADJ_OP_SCATTER_ADD, EX_BCAST, "src has the index's shape, and the output x's"},
    {ADJ_OP_CONV2D, EX_BCAST, "the weight has the layer's shape and the bias one value per output channel"},
    {ADJ_OP_CONV1D, EX_BCAST, "the weight has the layer's shape and the bias one value per output channel"},
    {ADJ_OP_CONV_TRANSPOSE2D, EX_BCAST,
     "the weight has the layer's shape and the bias one value per output channel"},
    {ADJ_OP_LAYER_NORM, EX_BCAST, "the weight and bias have the normalised shape"},
    {ADJ_OP_RMS_NORM, EX_BCAST, "the weight has the normalised shape"},
    {ADJ_OP_GROUP_NORM, EX_BCAST, "the weight and bias have one value per channel"},
    {ADJ_OP_BATCH_NORM, EX_BCAST, "the weight, bias and running statistics have one value per channel"},
    {ADJ_OP_LSTM_CELL, EX_BCAST, "the gates and the state are (batch, features) of the cell's sizes"},
    {ADJ_OP_GRU_CELL, EX_BCAST, "the two sets of gates and the state are (batch, features) of the cell's sizes"},
};

static const char *exempt_why(adj_op op, unsigned what)
{
    for (size_t k = 0; k < sizeof exempt / sizeof exempt[0]; k++)
        if (exempt[k].op == op && (exempt[k].what & what))
            return exempt[k].why;
    return NULL;
}

static int64_t numel_of(int ndim, const int64_t *sh)
{
    int64_t n = 1;
    for (int k = 0; k < ndim; k++)
        n *= sh[k];
    return n;
}

/*
 * Broadcasting, as the coverage test probes it.  A case broadcasts input
 * i on output axis a when the input lacks that axis or has size 1 there,
 * the output has more than 1 there, and the input enlarged to the
 * output's size on that axis, its values repeated along it, gives the
 * same output, shape and values, while changing one element of the
 * enlarged input at position c along the axis changes no output element
 * but at position c along axis a: the size-1 axis stood for a longer one.
 * A size-1 axis that only fits (matmul's k = 1, a concatenated block of
 * one row) or that an op reduces (the mean of repeated values is the
 * same) fails that.  The op broadcasts input i on axis a when some
 * case's input i, shrunk to size 1 on the axis aligned with a (or
 * without its leading axis), is broadcast in that sense.  Ops taking an
 * index tensor are not probed: with the indices zeros, elements they
 * never read would look broadcast.
 */
#define PROBE_CAP 4096 /* elements of a probe's input or output */

typedef struct probe {
    int ndim[ADJ_CASE_MAX_IN];
    int64_t shape[ADJ_CASE_MAX_IN][ADJ_MAX_DIMS];
    int rep;        /* input whose values repeat those of a smaller one, or -1 */
    int sndim;      /* the smaller one's shape, broadcast to shape[rep] */
    int64_t sshape[ADJ_MAX_DIMS];
    int64_t bump;   /* element of input rep moved by bump_by, or -1 */
    double bump_by;
} probe;

/* Element e of input j: distinct values in [0.25, 0.75], inside every
 * op's domain; input rep holds those of the smaller shape, repeated. */
static double probe_value(const probe *p, int j, int64_t e)
{
    const double bump = j == p->rep && e == p->bump ? p->bump_by : 0.0;
    if (j == p->rep) {
        int64_t s = 0, stride = 1;
        for (int k = p->ndim[j] - 1, m = p->sndim - 1; k >= 0 && m >= 0; k--, m--) {
            const int64_t c = e % p->shape[j][k];
            e /= p->shape[j][k];
            if (p->sshape[m] > 1)
                s += c * stride;
            stride *= p->sshape[m];
        }
        e = s;
    }
    return 0.5 + 0.25 * sin(1.7 * (double)e + 0.9 * j) + bump;
}

/* Record op on the inputs of p (the attributes of case sc): the output's
 * shape into out and values into y; its ndim, or -1 where it does not
 * record (or is too large to compare). */
static int probe_run(adj_op op, const adj_op_case *sc, const probe *p, int64_t *out, double *y)
{
    const adj_op_desc *d = adj_op_table[op];
    static double buf[PROBE_CAP];
    adj_tape *t = adj_tape_new();
    adj_var *in[ADJ_CASE_MAX_IN] = {NULL};
    int nd = -1;
    for (int j = 0; j < sc->n; j++) {
        const int64_t n = numel_of(p->ndim[j], p->shape[j]);
        if (n > PROBE_CAP)
            goto done;
        for (int64_t e = 0; e < n; e++)
            buf[e] = probe_value(p, j, e);
        in[j] = adj_tensor_f64(t, p->ndim[j], p->shape[j], buf);
    }
    adj_var *r = adj_record(op, in, d->arity >= 0 ? d->arity : sc->n, sc->attr ? sc->attr : d->case_attr,
                            __FILE__, __LINE__);
    if (adj_tape_status(t) == ADJ_OK && adj_numel(r) <= PROBE_CAP) {
        nd = adj_ndim(r);
        for (int k = 0; k < nd; k++)
            out[k] = adj_dim(r, k);
        for (size_t e = 0; e < adj_numel(r); e++)
            y[e] = adj_value_at(r, e);
    }
done:
    adj_tape_free(t);
    return nd;
}

static bool same_shape(int nd, const int64_t *out, int nd2, const int64_t *out2)
{
    return nd == nd2 && memcmp(out, out2, (size_t)nd * sizeof out[0]) == 0;
}

static bool close_to(double u, double v) { return fabs(u - v) <= 1e-12 * (1 + fabs(u)) || (isnan(u) && isnan(v)); }

/* Input i of p replaced by the smaller shape (sndim, ssh): whether it is
 * broadcast to p's input i, enlarged on its axis bb, which is aligned
 * with output axis a (as above). */
static bool is_broadcast(adj_op op, const adj_op_case *sc, const probe *p, int i, int bb, int a, int sndim,
                         const int64_t *ssh)
{
    static double y[PROBE_CAP], ys[PROBE_CAP], yb[PROBE_CAP];
    int64_t out[ADJ_MAX_DIMS], os[ADJ_MAX_DIMS], ob[ADJ_MAX_DIMS];
    const int nd = probe_run(op, sc, p, out, y);
    probe q = *p;
    q.ndim[i] = sndim;
    memcpy(q.shape[i], ssh, (size_t)sndim * sizeof ssh[0]);
    if (nd < 0 || !same_shape(nd, out, probe_run(op, sc, &q, os, ys), os))
        return false;
    q = *p;
    q.rep = i;
    q.sndim = sndim;
    memcpy(q.sshape, ssh, (size_t)sndim * sizeof ssh[0]);
    if (!same_shape(nd, out, probe_run(op, sc, &q, ob, yb), ob))
        return false;
    const int64_t n = numel_of(nd, out);
    if (n == 0) /* an empty output agrees with anything: no evidence either way */
        return false;
    for (int64_t e = 0; e < n; e++)
        if (!close_to(ys[e], yb[e]))
            return false;
    /* the last position along the enlarged axis, the others at 0 */
    int64_t stride = 1;
    for (int k = p->ndim[i] - 1; k > bb; k--)
        stride *= p->shape[i][k];
    q.bump = (p->shape[i][bb] - 1) * stride;
    const int64_t inner = numel_of(nd - a - 1, out + a + 1);
    for (q.bump_by = -1; q.bump_by <= 1; q.bump_by += 2) { /* up and down: an argmin and an argmax */
        if (!same_shape(nd, out, probe_run(op, sc, &q, ob, y), ob))
            return false;
        for (int64_t e = 0; e < n; e++)
            if (!close_to(y[e], yb[e]) && (e / inner) % out[a] != out[a] - 1)
                return false;
    }
    return true;
}

enum { AX_FIRST = 1u, AX_LATER = 2u }; /* output axis 0, axes 1... */

typedef struct bcast_seen {
    unsigned bcasts[ADJ_CASE_MAX_IN];  /* the op broadcasts input i on these axes */
    unsigned covered[ADJ_CASE_MAX_IN]; /* a case broadcasts input i on these */
} bcast_seen;

/* What case sc shows of op's broadcasting, into *seen. */
static void probe_case(adj_op op, const adj_op_case *sc, bcast_seen *seen)
{
    static double y[PROBE_CAP];
    probe p = {.rep = -1, .bump = -1};
    memcpy(p.ndim, sc->ndim, sizeof p.ndim);
    memcpy(p.shape, sc->shape, sizeof p.shape);
    int64_t out[ADJ_MAX_DIMS];
    const int nd = probe_run(op, sc, &p, out, y);
    for (int i = 0; i < sc->n && nd >= 0; i++) {
        const int m = nd - p.ndim[i]; /* input axis b is aligned with output axis b + m */
        /* the case broadcasts input i on axis a: the input enlarged there */
        for (int a = 0; a < nd; a++) {
            const int b = a - m;
            if (out[a] < 2 || (b >= 0 && p.shape[i][b] != 1))
                continue;
            probe big = p;
            if (b >= 0)
                big.shape[i][b] = out[a];
            else { /* the axes a.. the input lacks: out[a], then size 1 */
                big.ndim[i] = nd - a;
                for (int k = 0; k < nd - a; k++)
                    big.shape[i][k] = k == 0 ? out[a] : k < -b ? 1 : p.shape[i][k + b];
            }
            if (is_broadcast(op, sc, &big, i, b >= 0 ? b : 0, a, p.ndim[i], p.shape[i]))
                seen->covered[i] |= a == 0 ? AX_FIRST : AX_LATER;
        }
        /* the op broadcasts input i on axis a: the input shrunk there */
        for (int b = 0; b < p.ndim[i]; b++) {
            const int a = b + m;
            if (a < 0 || p.shape[i][b] < 2 || p.shape[i][b] != out[a])
                continue;
            const unsigned ax = a == 0 ? AX_FIRST : AX_LATER;
            for (int v = 0; v < 2 - (b > 0); v++) {
                int64_t ssh[ADJ_MAX_DIMS];
                int sndim = p.ndim[i];
                memcpy(ssh, p.shape[i], sizeof ssh);
                if (v == 0)
                    ssh[b] = 1;
                else
                    memmove(ssh, ssh + 1, (size_t)--sndim * sizeof ssh[0]);
                if (is_broadcast(op, sc, &p, i, b, a, sndim, ssh))
                    seen->bcasts[i] |= ax;
            }
        }
    }
}

static const char *const ax_name[4] = {"", "the first axis", "a later axis", "the first and later axes"};

/* Every op of the table is checked (gradient, tangent and second
 * derivative: the suites ops, jvp and gradgrad) with a float input a view
 * makes non-contiguous (one of at least 2 elements: the fed checks), and,
 * where it broadcasts an input, with cases that broadcast it on each kind
 * of axis (the first, a later one) the probe above finds the op
 * broadcasting it on.  An op of several inputs has a case broadcasting
 * one, or is listed in `exempt` with the reason it broadcasts none (and
 * then must not broadcast).  That every op has a tangent and a graph-mode
 * backward, and passes their checks, the suites jvp and gradgrad assert
 * by iterating the table. */
START_TEST(every_op_covers_strides_and_broadcasting)
{
    int gaps = 0;
    for (int op = 1; op < ADJ_OP_COUNT; op++) {
        const adj_op_desc *d = adj_op_table[op];
        bool strided = false, several = false;
        bcast_seen seen = {{0}, {0}};
        for (int k = 0; k < d->ncases; k++) {
            const adj_op_case *sc = &d->cases[k];
            for (int i = 0; i < sc->n; i++)
                if (!is_index_in(d, i) && sc->ndim[i] >= 1 && numel_of(sc->ndim[i], sc->shape[i]) >= 2)
                    strided = true;
            several |= sc->n >= 2;
            if (!d->index_inputs)
                probe_case((adj_op)op, sc, &seen);
        }
        if (!strided && !exempt_why((adj_op)op, EX_VIEWS)) {
            printf("op %d (%s): no case has a float input of 2 or more elements to feed as a view\n", op,
                   d->name);
            gaps++;
        }
        unsigned any = 0;
        for (int i = 0; i < ADJ_CASE_MAX_IN; i++) {
            any |= seen.bcasts[i] | seen.covered[i];
            if (seen.bcasts[i] & ~seen.covered[i]) {
                printf("op %d (%s) broadcasts input %d on %s, but no case does there\n", op, d->name, i,
                       ax_name[seen.bcasts[i] & ~seen.covered[i]]);
                gaps++;
            }
        }
        const bool ex = exempt_why((adj_op)op, EX_BCAST) != NULL;
        if (ex && any) {
            printf("op %d (%s) is exempt as broadcasting no input, but broadcasts\n", op, d->name);
            gaps++;
        } else if (ex && !several) {
            printf("op %d (%s) is exempt as broadcasting none of its inputs, but takes only one\n", op, d->name);
            gaps++;
        } else if (several && !any && !ex) {
            printf("op %d (%s) takes several inputs but no case broadcasts one: add one, or list the "
                   "op in `exempt` with the reason it cannot\n",
                   op, d->name);
            gaps++;
        } else if (any && !(any & AX_LATER)) {
            printf("op %d (%s) broadcasts, but no case on a later axis\n", op, d->name);
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
