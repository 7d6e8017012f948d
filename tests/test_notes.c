/*
 * The worked examples of the lecture notes (../shared/notes-examples.md),
 * asserted to the digits the notes give (relative 1e-9 in double unless
 * fewer digits are printed).
 */
#include <adjoint.h>

#include <check.h>
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

static Suite *suite(void)
{
    Suite *s = suite_create("notes");
    TCase *tc = tcase_create("examples");
    tcase_add_test(tc, e1_exp_of_square);
    tcase_add_test(tc, e2_intermediates_and_fan_out);
    tcase_add_test(tc, e3_scalar_perceptron);
    tcase_add_test(tc, e7_softmax_and_cross_entropy);
    tcase_add_test(tc, e8_binary_cross_entropy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
