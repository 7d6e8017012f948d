/*
 * The worked examples of the lecture notes, E1 … E15, asserted to the
 * digits the notes give (relative 1e-9 in double unless fewer digits are
 * printed).  docs/tutorial.md states each example's problem, its inputs
 * and these expected values; every value was checked in double against
 * central finite differences.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>

/* |got - want| within 1e-9 relative, or the last printed digit of want */
#define NEAR(got, want, digits)                                                \
    ck_assert_msg(fabs((got) - (want)) <= fmax(1e-9 * fabs(want), 0.5 * pow(10, -(digits))), \
                  "%s = %.12g, want %.12g", #got, (double)(got), (double)(want))

/* E1. f(x) = exp(x^2), f' = 2x exp(x^2) */
START_TEST(e1_exp_of_square)
{
    const double xs[3] = {0.5, 1, 2};
    const double f[3] = {1.2840254167, 2.7182818285, 54.5981500331};
    const double df[3] = {1.2840254167, 5.4365636569, 218.3926001326};
    for (int i = 0; i < 3; i++) {
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_scalar(t, xs[i]);
        adj_var *y = adj_exp(adj_square(x));
        ck_assert_uint_eq(adj_tape_size(t), 3);
        ck_assert_int_eq(adj_backward(y), ADJ_OK);
        NEAR(adj_item(y), f[i], 10);
        NEAR(adj_grad_item(x), df[i], 10);
        adj_tape_free(t);
    }
}
END_TEST

/* E2. f(x) = sqrt(x^2 + exp(x^2)): every intermediate and adjoint */
START_TEST(e2_intermediates_and_fan_out)
{
    static const double rows[3][8] = {
        {0.5, 0.25, 1.2840254167, 1.5340254167, 1.2385577971, 0.4036953311, 0.9220503969, 0.9220503969},
        {1, 1, 2.7182818285, 3.7182818285, 1.9282846855, 0.2592978121, 0.9641423428, 1.9282846855},
        {2, 4, 54.5981500331, 58.5981500331, 7.6549428498, 0.0653172741, 3.6315196027, 14.5260784109},
    };
    for (int i = 0; i < 3; i++) {
        const double *r = rows[i];
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_scalar(t, r[0]);
        adj_var *a = adj_square(x);
        adj_var *b = adj_exp(a);
        adj_var *c = adj_add(a, b);
        adj_var *d = adj_sqrt(c);
        ck_assert_uint_eq(adj_tape_size(t), 5);
        ck_assert_int_eq(adj_backward(d), ADJ_OK);
        NEAR(adj_item(a), r[1], 10);
        NEAR(adj_item(b), r[2], 10);
        NEAR(adj_item(c), r[3], 10);
        NEAR(adj_item(d), r[4], 10);
        NEAR(adj_grad_item(c), r[5], 10);
        NEAR(adj_grad_item(b), r[5], 10);
        NEAR(adj_grad_item(a), r[6], 10);
        NEAR(adj_grad_item(x), r[7], 10);
        /* a's adjoint is the sum of its two contributions */
        NEAR(adj_grad_item(a), adj_grad_item(c) * 1 + adj_grad_item(b) * adj_item(b), 10);
        adj_tape_free(t);
    }
}
END_TEST

/* E3. z = w x + b, a = sigmoid(z), C = (a - y)^2 / 2 */
START_TEST(e3_scalar_perceptron)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 0.5), *y = adj_scalar(t, 1.0);
    adj_var *w = adj_scalar(t, 0.8), *b = adj_scalar(t, -0.1);
    adj_var *z = adj_add(adj_mul(w, x), b);
    adj_var *a = adj_sigmoid(z);
    adj_var *C = adj_scale(adj_square(adj_sub(a, y)), 0.5);
    ck_assert_int_eq(adj_backward(C), ADJ_OK);
    NEAR(adj_item(z), 0.3, 10);
    NEAR(adj_item(a), 0.5744425168, 10);
    NEAR(adj_item(C), 0.0905495857, 10);
    NEAR(adj_grad_item(w), -0.0520155319, 10);
    NEAR(adj_grad_item(b), -0.1040310639, 10);
    adj_tape_free(t);
}
END_TEST

/* E7. softmax, log-softmax, cross-entropy and the softmax Jacobian */
START_TEST(e7_softmax_and_cross_entropy)
{
    const double sm[3] = {0.0900305732, 0.2447284711, 0.6652409558};
    const double lsm[3] = {-2.4076059644, -1.4076059644, -0.4076059644};
    const double shifts[2] = {0, 1000};
    int64_t s[1] = {3};
    for (int k = 0; k < 2; k++) {
        adj_tape *t = adj_tape_new();
        double z[3] = {1 + shifts[k], 2 + shifts[k], 3 + shifts[k]};
        adj_var *x = adj_tensor_f64(t, 1, s, z);
        adj_var *p = adj_softmax(x), *lp = adj_log_softmax(x);
        for (int i = 0; i < 3; i++) {
            NEAR(adj_value_at(p, i), sm[i], 10);
            NEAR(adj_value_at(lp, i), lsm[i], 10);
        }
        adj_tape_free(t);
    }
    const double C[3] = {2.4076059644, 1.4076059644, 0.4076059644};
    const double G[3][3] = {{-0.9099694268, 0.2447284711, 0.6652409558},
                            {0.0900305732, -0.7552715289, 0.6652409558},
                            {0.0900305732, 0.2447284711, -0.3347590442}};
    for (int k = 0; k < 3; k++) {
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_tensor_f64(t, 1, s, ((double[]){1, 2, 3}));
        int32_t label = k;
        adj_var *L = adj_softmax_cross_entropy(x, &label);
        ck_assert_int_eq(adj_backward(L), ADJ_OK);
        NEAR(adj_item(L), C[k], 10);
        for (int i = 0; i < 3; i++)
            NEAR(adj_grad_at(x, i), G[k][i], 10);
        adj_tape_free(t);
    }
    /* the Jacobian, one row per seeded backward */
    const double J[3][3] = {{0.0819250691, -0.0220330445, -0.0598920245},
                            {-0.0220330445, 0.1848364465, -0.1628034020},
                            {-0.0598920245, -0.1628034020, 0.2226954265}};
    for (int i = 0; i < 3; i++) {
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_tensor_f64(t, 1, s, ((double[]){1, 2, 3}));
        double seed[3] = {0, 0, 0};
        seed[i] = 1;
        ck_assert_int_eq(adj_backward_seeded(adj_softmax(x), seed), ADJ_OK);
        for (int j = 0; j < 3; j++)
            NEAR(adj_grad_at(x, j), J[i][j], 10);
        adj_tape_free(t);
    }
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 1, s, ((double[]){2, 1, 0.1}));
    adj_var *p = adj_softmax(x);
    NEAR(adj_value_at(p, 0), 0.6590011389, 10);
    NEAR(adj_value_at(p, 1), 0.2424329707, 10);
    NEAR(adj_value_at(p, 2), 0.0985658904, 10);
    int32_t first = 0;
    NEAR(adj_item(adj_softmax_cross_entropy(x, &first)), 0.4170300163, 10);
    adj_tape_free(t);
}
END_TEST

/* E8. J = BCE(sigmoid(z), y) from the logit, dJ/dz = sigmoid(z) - y */
START_TEST(e8_binary_cross_entropy)
{
    const double zs[3] = {-1, 0.5, 2};
    const double J[2][3] = {{0.3132616875, 0.9740769842, 2.1269280110},
                            {1.3132616875, 0.4740769842, 0.1269280110}};
    const double G[2][3] = {{0.2689414214, 0.6224593312, 0.8807970780},
                            {-0.7310585786, -0.3775406688, -0.1192029220}};
    for (int y = 0; y < 2; y++)
        for (int i = 0; i < 3; i++) {
            adj_tape *t = adj_tape_new();
            adj_var *z = adj_scalar(t, zs[i]);
            adj_var *target = adj_constant_f64(t, 0, NULL, ((double[]){y}));
            adj_var *L = adj_bce_with_logits(z, target);
            ck_assert_int_eq(adj_backward(L), ADJ_OK);
            NEAR(adj_item(L), J[y][i], 10);
            NEAR(adj_grad_item(z), G[y][i], 10);
            adj_tape_free(t);
        }
}
END_TEST

/* ------------------------------------------------------------------
 * E4 … E15, run through the examples library (src/teach/notes.c): each
 * example records a tape with named nodes, found here by name.
 */

/* Build example `name` with knobs k (NULL = defaults) and run backward. */
static adj_var *run_example(adj_tape *t, const char *name, const double *k)
{
    adj_tape_reset(t);
    const adj_example *ex = adj_example_find(name);
    ck_assert_ptr_nonnull(ex);
    adj_var *y = adj_example_build(ex, t, k);
    ck_assert_msg(adj_backward(y) == ADJ_OK, "%s: %s", name, adj_tape_message(t));
    return y;
}
static double val_of(adj_tape *t, const char *name, size_t i)
{
    adj_var *v = adj_tape_find(t, name);
    ck_assert_msg(v != NULL, "no node %s", name);
    return adj_value_at(v, i);
}
static double grad_of(adj_tape *t, const char *name, size_t i)
{
    adj_var *v = adj_tape_find(t, name);
    ck_assert_msg(v != NULL, "no node %s", name);
    return adj_grad_at(v, i);
}

/* E2 through the library: 5 nodes, and forward mode gives the same f' */
START_TEST(e2_library_and_forward_mode)
{
    const double xs[3] = {0.5, 1, 2}, df[3] = {0.9220503969, 1.9282846855, 14.5260784109};
    adj_tape *t = adj_tape_new();
    for (int i = 0; i < 3; i++) {
        adj_var *f = run_example(t, "e02", &xs[i]);
        ck_assert_uint_eq(adj_tape_size(t), 5);
        NEAR(grad_of(t, "x", 0), df[i], 10);
        NEAR(adj_jvp_item(f, adj_tape_find(t, "x"), 1.0), df[i], 10);
    }
    adj_tape_free(t);
}
END_TEST

/* E4, both output units; the erratum's literal values differ */
START_TEST(e4_hidden_unit)
{
    adj_tape *t = adj_tape_new();
    double k[7] = {0.5, 1, 0.8, -0.1, 1.5, 0.2, 1};
    adj_var *C = run_example(t, "e04", k);
    NEAR(val_of(t, "a1", 0), 0.5744425168, 10);
    NEAR(val_of(t, "z2", 0), 1.0616637752, 10);
    NEAR(val_of(t, "a2", 0), 0.7430083665, 10);
    NEAR(adj_item(C), 0.0330223498, 10);
    NEAR(grad_of(t, "w1", 0), -0.0089970005, 10);
    NEAR(grad_of(t, "b1", 0), -0.0179940010, 10);
    NEAR(grad_of(t, "w2", 0), -0.0281889079, 10);
    NEAR(grad_of(t, "b2", 0), -0.0490717644, 10);
    /* the notes' formula with a1 in place of w2 gives -0.0034455 */
    double a1 = val_of(t, "a1", 0), a2 = val_of(t, "a2", 0);
    NEAR((a2 - 1) * a2 * (1 - a2) * a1 * a1 * (1 - a1) * 0.5, -0.0034455, 7);
    NEAR((a2 - 1) * a2 * (1 - a2) * a1 * (1 - a1), -0.0119960, 7);
    k[6] = 0;
    C = run_example(t, "e04", k);
    NEAR(val_of(t, "z2", 0), 1.0616637752, 10);
    NEAR(adj_item(C), 0.0019012106, 10);
    NEAR(grad_of(t, "w1", 0), 0.0113056668, 10);
    NEAR(grad_of(t, "b1", 0), 0.0226113336, 10);
    NEAR(grad_of(t, "w2", 0), 0.0354222942, 10);
    NEAR(grad_of(t, "b2", 0), 0.0616637752, 10);
    adj_tape_free(t);
}
END_TEST

/* E5, the 2-2-1 network: forward, deltas, gradients, one step of descent */
START_TEST(e5_two_two_one)
{
    adj_tape *t = adj_tape_new();
    adj_var *C = run_example(t, "e05", NULL);
    NEAR(val_of(t, "z1", 0), -0.1, 10);
    NEAR(val_of(t, "z1", 1), -0.6, 10);
    NEAR(val_of(t, "a1", 0), 0.4750208125, 10);
    NEAR(val_of(t, "a1", 1), 0.3543436938, 10);
    NEAR(val_of(t, "z2", 0), 0.2199083525, 10);
    NEAR(val_of(t, "a2", 0), 0.5547565981, 10);
    NEAR(adj_item(C), 0.0991208435, 10);
    NEAR(grad_of(t, "z2", 0), -0.1099758838, 10);
    NEAR(grad_of(t, "z1", 0), -0.0191977453, 10);
    NEAR(grad_of(t, "z1", 1), 0.0150964494, 10);
    const double gW1[4] = {-0.0095988726, 0.0191977453, 0.0075482247, -0.0150964494};
    const double W1[4] = {0.1009598873, 0.1980802255, -0.3007548225, 0.4015096449};
    for (int i = 0; i < 4; i++) {
        NEAR(grad_of(t, "W1", i), gW1[i], 10);
        NEAR(val_of(t, "W1", i) - 0.1 * grad_of(t, "W1", i), W1[i], 10);
    }
    NEAR(grad_of(t, "b1", 0), -0.0191977453, 10);
    NEAR(grad_of(t, "b1", 1), 0.0150964494, 10);
    NEAR(grad_of(t, "w2", 0), -0.0522408337, 10);
    NEAR(grad_of(t, "w2", 1), -0.0389692609, 10);
    NEAR(grad_of(t, "b2", 0), -0.1099758838, 10);
    NEAR(val_of(t, "b1", 0) - 0.1 * grad_of(t, "b1", 0), 0.0519197745, 10);
    NEAR(val_of(t, "b1", 1) - 0.1 * grad_of(t, "b1", 1), -0.0515096449, 10);
    NEAR(val_of(t, "w2", 0) - 0.1 * grad_of(t, "w2", 0), 0.7052240834, 10);
    NEAR(val_of(t, "w2", 1) - 0.1 * grad_of(t, "w2", 1), -0.5961030739, 10);
    NEAR(val_of(t, "b2", 0) - 0.1 * grad_of(t, "b2", 0), 0.1109975884, 10);
    adj_tape_free(t);
}
END_TEST

/* E6, three cases; zero gradients are +0 (signbit clear) */
START_TEST(e6_relu_chain)
{
    adj_tape *t = adj_tape_new();
    double k[2] = {0, 0.5};
    adj_var *C = run_example(t, "e06", k);
    NEAR(val_of(t, "a1", 0), 0.75, 10);
    NEAR(val_of(t, "a2", 0), 0.5370495670, 10);
    NEAR(val_of(t, "a3", 0), 0.3442391646, 10);
    NEAR(val_of(t, "a4", 0), 0.6884783293, 10);
    NEAR(adj_item(C), 0.0177620403, 10);
    const char *const zeta[4] = {"a4", "a3", "a2", "a1"};
    const double za[4] = {0.1884783293, 0.3769566585, -0.1021123849, -0.0581287219};
    for (int i = 0; i < 4; i++)
        NEAR(grad_of(t, zeta[i], 0), za[i], 10);
    NEAR(grad_of(t, "θ4", 0), 0.0648816226, 10);
    NEAR(grad_of(t, "θ3", 0), 0.0456995101, 10);
    NEAR(grad_of(t, "θ2", 0), -0.0544956768, 10);
    const double g1[3] = {-0.0581287219, 0.1162574438, -0.0290643610};
    for (int i = 0; i < 3; i++)
        NEAR(grad_of(t, "θ1", i), g1[i], 10);

    const double zi[4] = {0.5, 1.0, -0.3, -0.24};
    const double kink_g1[3] = {-0.24, -0.24, 0};
    for (int c = 1; c <= 2; c++) {
        k[0] = c;
        C = run_example(t, "e06", k);
        NEAR(val_of(t, "a1", 0), 0.0, 10);
        NEAR(val_of(t, "a2", 0), 0.0, 10);
        NEAR(val_of(t, "a3", 0), 0.5, 10);
        NEAR(val_of(t, "a4", 0), 1.0, 10);
        NEAR(adj_item(C), 0.125, 10);
        for (int i = 0; i < 4; i++)
            NEAR(grad_of(t, zeta[i], 0), zi[i], 10);
        NEAR(grad_of(t, "θ4", 0), 0.25, 10);
        const char *const zero[2] = {"θ3", "θ2"};
        for (int i = 0; i < 2; i++) {
            ck_assert(grad_of(t, zero[i], 0) == 0);
            ck_assert_msg(!signbit(grad_of(t, zero[i], 0)), "case %d: %s gradient is -0", c, zero[i]);
        }
        for (int i = 0; i < 3; i++) {
            double g = grad_of(t, "θ1", i), want = c == 1 ? 0 : kink_g1[i];
            NEAR(g, want, 10);
            if (want == 0)
                ck_assert_msg(!signbit(g), "case %d: θ1[%d] gradient is -0", c, i);
        }
    }
    adj_tape_free(t);
}
END_TEST

/* E9, to the 6 decimals the notes give */
START_TEST(e9_activations)
{
    static const double us[5] = {-2, -0.5, 0, 0.5, 2};
    static const double f[6][5] = {{0.119203, 0.377541, 0.5, 0.622459, 0.880797},
                                   {-0.964028, -0.462117, 0, 0.462117, 0.964028},
                                   {0, 0, 0, 0.5, 2},
                                   {-0.02, -0.005, 0, 0.5, 2},
                                   {-0.864665, -0.393469, 0, 0.5, 2},
                                   {0.126928, 0.474077, 0.693147, 0.974077, 2.126928}};
    static const double df[6][5] = {{0.104994, 0.235004, 0.25, 0.235004, 0.104994},
                                    {0.070651, 0.786448, 1, 0.786448, 0.070651},
                                    {0, 0, 1, 1, 1},
                                    {0.01, 0.01, 1, 1, 1},
                                    {0.135335, 0.606531, 1, 1, 1},
                                    {0.119203, 0.377541, 0.5, 0.622459, 0.880797}};
    adj_tape *t = adj_tape_new();
    for (int a = 0; a < 6; a++)
        for (int i = 0; i < 5; i++) {
            double k[3] = {us[i], a + 1, 1};
            adj_var *y = run_example(t, "e09", k);
            NEAR(adj_item(y), f[a][i], 6);
            NEAR(grad_of(t, "u", 0), df[a][i], 6);
        }
    const double sw[2] = {0.731059, 0.880797}, dsw[2] = {0.927671, 1.090784};
    for (int b = 0; b < 2; b++) {
        double k[3] = {1, 7, b + 1};
        adj_var *y = run_example(t, "e09", k);
        NEAR(adj_item(y), sw[b], 6);
        NEAR(grad_of(t, "u", 0), dsw[b], 6);
        ck_assert(fabs(grad_of(t, "u", 0) - 1.349033) > 0.1); /* not the notes' misprint */
    }
    adj_tape_free(t);
}
END_TEST

/* E10, the XOR network: forward tables, loss, one gradient step */
START_TEST(e10_xor)
{
    static const double in[4][3] = {{1, 0, 1}, {0, 0, 0}, {0, 1, 1}, {1, 1, 0}};
    static const double ys[4] = {0.742553, 0.183335, 0.742553, 0.334310};
    static const double ls[4] = {0.033140, 0.016806, 0.033140, 0.055881};
    static const double relu[4] = {57, 32, 67, 92};
    adj_tape *t = adj_tape_new();
    double total = 0;
    for (int i = 0; i < 4; i++) {
        double k[4] = {in[i][0], in[i][1], in[i][2], 0};
        adj_var *L = run_example(t, "e10", k);
        NEAR(val_of(t, "y", 0), ys[i], 6);
        NEAR(adj_item(L), ls[i], 6);
        k[3] = 1;
        L = run_example(t, "e10", k);
        NEAR(val_of(t, "o", 0), relu[i], 10);
        total += adj_item(L);
        k[3] = 2;
        run_example(t, "e10", k);
        ck_assert(fabs(val_of(t, "o", 0) - in[i][2]) < 1e-7);
    }
    NEAR(total, 8490.0, 10);
    double k[4] = {1, 0, 1, 0};
    run_example(t, "e10", k);
    NEAR(grad_of(t, "o", 0), -0.049216, 6);
    const double gU[3] = {-0.035980, -0.005867, -0.049216};
    const double gW[6] = {-0.048382, 0, -0.048382, 0.025837, 0, 0.025837};
    for (int i = 0; i < 3; i++)
        NEAR(grad_of(t, "U", i), gU[i], 6);
    for (int i = 0; i < 6; i++)
        NEAR(grad_of(t, "W", i), gW[i], 6);
    adj_tape_free(t);
}
END_TEST

/* E11: least squares by the normal equations (XᵀX θ = Xᵀt, solved here by
 * Gaussian elimination), then the tape's gradient vanishes there */
START_TEST(e11_least_squares)
{
    static const double X[4][3] = {{1, 0, 0}, {1, 0, 1}, {1, 1, 0}, {1, 1, 1}};
    static const double T[3][4] = {{0, 1, 1, 0}, {0, 1, 1, 1}, {0, 0, 0, 1}};
    static const double want[3][3] = {{0.5, 0, 0}, {0.25, 0.5, 0.5}, {-0.25, 0.5, 0.5}};
    adj_tape *t = adj_tape_new();
    for (int g = 0; g < 3; g++) {
        double A[3][4] = {{0}};
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++)
                for (int r = 0; r < 4; r++)
                    A[i][j] += X[r][i] * X[r][j];
            for (int r = 0; r < 4; r++)
                A[i][3] += X[r][i] * T[g][r];
        }
        for (int p = 0; p < 3; p++)
            for (int i = 0; i < 3; i++)
                if (i != p) {
                    double f = A[i][p] / A[p][p];
                    for (int j = 0; j < 4; j++)
                        A[i][j] -= f * A[p][j];
                }
        double k[4] = {g, 0, 0, 0};
        for (int i = 0; i < 3; i++) {
            k[i + 1] = A[i][3] / A[i][i];
            NEAR(k[i + 1], want[g][i], 10);
        }
        run_example(t, "e11", k);
        for (int i = 0; i < 3; i++)
            ck_assert(fabs(grad_of(t, "θ", i)) < 1e-12);
        if (g == 0)
            for (int r = 0; r < 4; r++)
                NEAR(val_of(t, "Xθ", r), 0.5, 10);
    }
    adj_tape_free(t);
}
END_TEST

/* E12: parameters are the leaves that want a gradient */
START_TEST(e12_parameter_count)
{
    adj_tape *t = adj_tape_new();
    const size_t want[2] = {31, 61};
    for (int a = 0; a < 2; a++) {
        double k[1] = {a};
        run_example(t, "e12", k);
        size_t n = 0;
        for (size_t id = 0; id < adj_tape_size(t); id++) {
            adj_var *v = adj_tape_node(t, id);
            if (adj_var_op(v) == ADJ_OP_LEAF && adj_requires_grad(v))
                n += adj_numel(v);
        }
        ck_assert_uint_eq(n, want[a]);
    }
    adj_tape_free(t);
}
END_TEST

/* E13: batch norm composed from primitive ops */
START_TEST(e13_batch_norm)
{
    adj_tape *t = adj_tape_new();
    adj_var *C = run_example(t, "e13", NULL);
    NEAR(val_of(t, "μ", 0), 1.5, 10);
    NEAR(val_of(t, "σ²", 0), 3.25, 10);
    const double zb[4] = {-0.2773496714, 0.2773496714, 1.3867483571, -1.3867483571};
    const double zt[4] = {-0.2160245071, 0.6160245071, 2.2801225357, -1.8801225357};
    const double gz[4] = {0.1120058284, -0.5280303355, 0.2720198723, 0.1440046348};
    double s = 0;
    for (int i = 0; i < 4; i++) {
        NEAR(val_of(t, "z̄", i), zb[i], 10);
        NEAR(val_of(t, "z̃", i), zt[i], 10);
        NEAR(grad_of(t, "z", i), gz[i], 10);
        s += grad_of(t, "z", i);
    }
    ck_assert(fabs(s) < 1e-12);
    NEAR(adj_item(C), 2.6338391111, 10);
    NEAR(grad_of(t, "γ", 0), 4.3358835100, 10);
    NEAR(grad_of(t, "β", 0), -0.2, 10);
    adj_tape_free(t);
}
END_TEST

/* E14: inverted dropout (training and inference) */
START_TEST(e14_dropout)
{
    adj_tape *t = adj_tape_new();
    double k[2] = {1, 0.75};
    adj_var *z = run_example(t, "e14", k);
    const double at[4] = {1.3333, 0, 4, 5.3333};
    for (int i = 0; i < 4; i++)
        NEAR(val_of(t, "ã", i), at[i], 4);
    NEAR(adj_item(z), 7.1, 10);
    k[0] = 0;
    z = run_example(t, "e14", k);
    NEAR(adj_item(z), 3.35, 10);
    /* the inference value is the mean of the training value over all 16 masks */
    const double a[4] = {1, 2, 3, 4}, w[4] = {0.5, -1, 0.25, 1};
    double mean = 0;
    for (int m = 0; m < 16; m++) {
        double p = 1, v = 0.1;
        for (int i = 0; i < 4; i++) {
            int keep = (m >> i) & 1;
            p *= keep ? 0.75 : 0.25;
            v += keep ? w[i] * a[i] / 0.75 : 0;
        }
        mean += p * v;
    }
    NEAR(mean, 3.35, 10);
    adj_tape_free(t);
}
END_TEST

/* E15: the regression target's gradient */
START_TEST(e15_regression_gradient)
{
    adj_tape *t = adj_tape_new();
    const double pts[2][2] = {{1, 2}, {-1, 0.5}}, g[2][2] = {{8, 7}, {-0.5, -2}};
    for (int i = 0; i < 2; i++) {
        run_example(t, "e15", pts[i]);
        NEAR(grad_of(t, "x0", 0), g[i][0], 10);
        NEAR(grad_of(t, "x1", 0), g[i][1], 10);
    }
    adj_tape_free(t);
}
END_TEST

/* E16: f = exp(x²) twice.  The output is f′ = 2x·exp(x²), recorded by the
 * backward sweep; its gradient is f″ = (2 + 4x²)·exp(x²): at x = 1, 2e =
 * 5.4365636569 and 6e = 16.3096909707; at x = 0.5, 1.2840254167 and
 * 3 e^0.25 = 3.8520762501. */
START_TEST(e16_second_derivative)
{
    adj_tape *t = adj_tape_new();
    const double xs[2] = {1, 0.5}, f1[2] = {5.4365636569, 1.2840254167},
                 f2[2] = {16.3096909707, 3.8520762501};
    for (int i = 0; i < 2; i++) {
        adj_var *y = run_example(t, "e16", &xs[i]);
        NEAR(adj_item(y), f1[i], 10);
        NEAR(grad_of(t, "x", 0), f2[i], 10);
        NEAR(val_of(t, "f", 0), exp(xs[i] * xs[i]), 10);
    }
    adj_tape_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("notes");
    TCase *tc = tcase_create("examples");
    tcase_add_test(tc, e1_exp_of_square);
    tcase_add_test(tc, e2_intermediates_and_fan_out);
    tcase_add_test(tc, e3_scalar_perceptron);
    tcase_add_test(tc, e7_softmax_and_cross_entropy);
    tcase_add_test(tc, e8_binary_cross_entropy);
    tcase_add_test(tc, e2_library_and_forward_mode);
    tcase_add_test(tc, e4_hidden_unit);
    tcase_add_test(tc, e5_two_two_one);
    tcase_add_test(tc, e6_relu_chain);
    tcase_add_test(tc, e9_activations);
    tcase_add_test(tc, e10_xor);
    tcase_add_test(tc, e11_least_squares);
    tcase_add_test(tc, e12_parameter_count);
    tcase_add_test(tc, e13_batch_norm);
    tcase_add_test(tc, e14_dropout);
    tcase_add_test(tc, e15_regression_gradient);
    tcase_add_test(tc, e16_second_derivative);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
