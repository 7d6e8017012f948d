/*
 * Seeing the tape: the table, the explain trace, DOT and JSON, names, and
 * the examples library.  Values in the expected text come from the notes
 * (E2 at x = 1: ∂f/∂c = 0.2592978121, e^a = 2.7182818285).
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Run fn(arg) writing to a memory stream; returns the text (free it). */
typedef adj_status (*writer)(void *arg, FILE *f);

static char *capture(writer fn, void *arg, adj_status *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    *st = fn(arg, f);
    fclose(f);
    return buf;
}

static adj_status w_explain(void *y, FILE *f) { return adj_backward_explain(y, f); }
static adj_status w_print(void *t, FILE *f) { return adj_tape_print(t, f); }
static adj_status w_dot(void *t, FILE *f) { return adj_tape_dot(t, f); }
static adj_status w_json(void *t, FILE *f) { return adj_tape_json(t, 0, f); }

#define HAS(text, piece) ck_assert_msg(strstr((text), (piece)) != NULL, "missing: %s\n--- in:\n%s", (piece), (text))

static adj_var *e2(adj_tape *t, double x0, adj_var **xo)
{
    adj_var *x = adj_var_set_name(adj_scalar(t, x0), "x");
    adj_var *a = adj_var_set_name(adj_square(x), "a");
    adj_var *b = adj_var_set_name(adj_exp(a), "b");
    adj_var *c = adj_var_set_name(adj_add(a, b), "c");
    if (xo)
        *xo = x;
    return adj_var_set_name(adj_sqrt(c), "f");
}

/* E2: both contributions to a's adjoint, in reverse order, then their sum */
START_TEST(explain_e2_fan_out)
{
    adj_tape *t = adj_tape_new();
    adj_var *x, *f = e2(t, 1.0, &x);
    adj_status st;
    char *s = capture(w_explain, f, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "∂f/∂c += ∂f/∂f · ∂f/∂c = 1 × 0.2593 = 0.2593");
    HAS(s, "∂f/∂a += ∂f/∂c · ∂c/∂a = 0.2593 × 1 = 0.2593");
    HAS(s, "∂f/∂a += ∂f/∂b · ∂b/∂a = 0.2593 × 2.7183 = 0.70484");
    HAS(s, "(a: contribution 1 of 2)");
    HAS(s, "(a: contribution 2 of 2)");
    HAS(s, "∂f/∂a = 0.2593 + 0.70484 = 0.96414");
    HAS(s, "∂f/∂x = 1.928284686");
    /* reverse order: c's step comes before b's, b's before a's */
    ck_assert(strstr(s, "node 3  c") < strstr(s, "node 2  b"));
    ck_assert(strstr(s, "node 2  b") < strstr(s, "node 1  a"));
    /* the adjoints are backward's own */
    ck_assert(fabs(adj_grad_item(x) - 1.9282846855) < 1e-9);
    free(s);
    adj_tape_free(t);
}
END_TEST

/* E4: the trace names the factor the notes drop */
START_TEST(explain_e4_shows_w2)
{
    adj_tape *t = adj_tape_new();
    adj_var *C = adj_example_build(adj_example_find("e04"), t, NULL);
    adj_status st;
    char *s = capture(w_explain, C, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "∂(w2·a1)/∂a1 = w2");
    HAS(s, "× 1.5 =");
    free(s);
    adj_tape_free(t);
}
END_TEST

/* Tensor ops print their rule in matrix form with shapes */
START_TEST(explain_tensor_rule)
{
    adj_tape *t = adj_tape_new();
    adj_var *C = adj_example_build(adj_example_find("e05"), t, NULL);
    adj_status st;
    char *s = capture(w_explain, C, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "dW += dZᵀ X");
    HAS(s, "∂C/∂W1 += dZᵀ X   (2,2) = [[-0.0095989, 0.019198], [0.0075482, -0.015096]]");
    HAS(s, "⊙");
    free(s);
    adj_tape_free(t);
}
END_TEST


/* Every op's definition as the table writes it, in its inputs' names:
 * the forms written by hand from each op's math (infix, postfix marks,
 * constants, axes, transposes, an absent bias, compound operands in
 * parentheses) */
START_TEST(definitions_of_ops)
{
    adj_tape *t = adj_tape_new();
    adj_var *a = adj_var_set_name(adj_tensor_f64(t, 2, ((int64_t[]){2, 3}), NULL), "a");
    adj_var *b = adj_var_set_name(adj_tensor_f64(t, 2, ((int64_t[]){2, 3}), NULL), "b");
    adj_var *m = adj_var_set_name(adj_tensor_f64(t, 2, ((int64_t[]){3, 3}), NULL), "m");
    adj_var *bias = adj_var_set_name(adj_tensor_f64(t, 1, ((int64_t[]){3}), NULL), "bias");
    int32_t labels[2] = {0, 2};
    adj_var_set_name(adj_add(a, b), "y_add");
    adj_var_set_name(adj_sub(a, b), "y_sub");
    adj_var_set_name(adj_mul(a, b), "y_mul");
    adj_var_set_name(adj_div(a, b), "y_div");
    adj_var_set_name(adj_mul(adj_var_set_name(adj_add(a, b), "a+b"), b), "y_par");
    adj_var_set_name(adj_neg(a), "y_neg");
    adj_var_set_name(adj_scale(a, -1.5), "y_scale");
    adj_var_set_name(adj_square(a), "y_square");
    adj_var_set_name(adj_pow(a, 2.5), "y_pow");
    adj_var_set_name(adj_abs(a), "y_abs");
    adj_var_set_name(adj_sigmoid(a), "y_sigmoid");
    adj_var_set_name(adj_leaky_relu(a, 0.01), "y_leaky");
    adj_var_set_name(adj_elu(a, 1.0), "y_elu");
    adj_var_set_name(adj_exp(a), "y_exp");
    adj_var_set_name(adj_matmul(a, m), "y_mm");
    adj_var_set_name(adj_matmul_t(a, b, 1, 0), "y_mmta");
    adj_var_set_name(adj_matmul_t(a, b, 0, 1), "y_mmtb");
    adj_var_set_name(adj_linear(a, m, bias), "y_lin");
    adj_var_set_name(adj_linear(a, m, NULL), "y_lin0");
    adj_var_set_name(adj_transpose(a), "y_t");
    adj_var_set_name(adj_reshape(a, 2, ((int64_t[]){3, -1})), "y_rs");
    adj_var_set_name(adj_sum_axis(a, 1), "y_sa");
    adj_var_set_name(adj_mean_axis(a, -2), "y_ma");
    adj_var_set_name(adj_softmax_cross_entropy(a, labels), "y_ce");
    adj_var_set_name(adj_mse(a, b), "y_mse");
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    adj_status st;
    char *s = capture(w_print, t, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "a + b");
    HAS(s, "a - b");
    HAS(s, "a · b");
    HAS(s, "a / b");
    HAS(s, "(a+b) · b");
    HAS(s, "-a");
    HAS(s, "-1.5 · a");
    HAS(s, "a²");
    HAS(s, "a^2.5");
    HAS(s, "|a|");
    HAS(s, "σ(a)");
    HAS(s, "leaky_relu(a, 0.01)");
    HAS(s, "elu(a, 1)");
    HAS(s, "exp(a)");
    HAS(s, "a m");
    HAS(s, "aᵀ b");
    HAS(s, "a bᵀ");
    HAS(s, "a mᵀ + bias");
    HAS(s, "a mᵀ ");
    HAS(s, "aᵀ");
    HAS(s, "reshape(a, (3,2))");
    HAS(s, "sum(a, axis 1)");
    HAS(s, "mean(a, axis 0)");
    HAS(s, "cross_entropy(softmax(a), labels)");
    HAS(s, "mse(a, b)");
    free(s);
    adj_tape_free(t);
}
END_TEST

/* The local partials the trace writes as symbols (d(a/b)/da = 1/b,
 * d(c x)/dx = c) and the letters of a matrix rule */
START_TEST(explain_symbols)
{
    adj_tape *t = adj_tape_new();
    adj_var *p = adj_var_set_name(adj_scalar(t, 3.0), "p");
    adj_var *q = adj_var_set_name(adj_scalar(t, 2.0), "q");
    adj_var *r = adj_var_set_name(adj_div(p, q), "r");
    adj_var *f = adj_var_set_name(adj_scale(r, 0.5), "f");
    adj_status st;
    char *s = capture(w_explain, f, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "so ∂f/∂r = 0.5]");
    HAS(s, "so ∂r/∂p = 1/q]");
    free(s);
    adj_tape_reset(t);
    adj_var *x = adj_var_set_name(adj_tensor_f64(t, 2, ((int64_t[]){2, 2}), ((double[]){1, 2, 3, 4})), "X");
    adj_var *w = adj_var_set_name(adj_tensor_f64(t, 2, ((int64_t[]){2, 2}), ((double[]){1, 0, 0, 1})), "W");
    adj_var *c = adj_var_set_name(adj_matmul(x, w), "P");
    adj_var *l = adj_var_set_name(adj_sum(adj_transpose(c)), "L");
    s = capture(w_explain, l, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "with C = P, A = X, B = W");
    free(s);
    adj_tape_free(t);
}
END_TEST

/* Explaining twice gives the same adjoints as backward (no accumulation) */
START_TEST(explain_matches_backward)
{
    adj_tape *t = adj_tape_new();
    adj_var *C = adj_example_build(adj_example_find("e13"), t, NULL);
    ck_assert_int_eq(adj_backward(C), ADJ_OK);
    double g[4], h[4];
    adj_copy_grad(adj_tape_find(t, "z"), g);
    adj_status st;
    for (int r = 0; r < 2; r++) {
        free(capture(w_explain, C, &st));
        ck_assert_int_eq(st, ADJ_OK);
        adj_copy_grad(adj_tape_find(t, "z"), h);
        for (int i = 0; i < 4; i++)
            ck_assert(g[i] == h[i]);
    }
    adj_tape_free(t);
}
END_TEST

START_TEST(table_small_and_large)
{
    adj_tape *t = adj_tape_new();
    adj_var *f = e2(t, 1.0, NULL);
    adj_status st;
    char *s = capture(w_print, t, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "tape: 5 nodes");
    HAS(s, "c    = a + b");
    HAS(s, "1,2");
    HAS(s, "2.71828");
    ck_assert(strstr(s, "0.259298") == NULL); /* no adjoints before backward */
    free(s);
    ck_assert_int_eq(adj_backward(f), ADJ_OK);
    s = capture(w_print, t, &st);
    HAS(s, "0.964142");
    free(s);
    adj_tape_free(t);

    /* a 784-wide layer: one row per node, tensors summarised */
    t = adj_tape_new();
    int64_t sx[2] = {32, 784}, sw[2] = {128, 784}, sb[1] = {128}, sw2[2] = {10, 128};
    adj_var *x = adj_constant_f32(t, 2, sx, NULL);
    adj_var *w = adj_var_set_name(adj_tensor_f32(t, 2, sw, NULL), "W1");
    adj_var *b = adj_var_set_name(adj_tensor_f32(t, 1, sb, NULL), "b1");
    adj_var *w2 = adj_var_set_name(adj_tensor_f32(t, 2, sw2, NULL), "W2");
    int32_t labels[32] = {0};
    adj_var *L = adj_softmax_cross_entropy(adj_linear(adj_relu(adj_linear(x, w, b)), w2, NULL), labels);
    ck_assert_int_eq(adj_backward(L), ADJ_OK);
    s = capture(w_print, t, &st);
    ck_assert_int_eq(st, ADJ_OK);
    int lines = 0;
    for (const char *p = s; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, (int)adj_tape_size(t) + 2);
    HAS(s, "(128,784)");
    HAS(s, "mean");
    ck_assert(strlen(s) < 4000);
    free(s);
    s = capture(w_explain, L, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "dW += dZᵀ X");
    ck_assert(strlen(s) < 8000);
    free(s);
    adj_tape_free(t);
}
END_TEST

START_TEST(dot_and_json)
{
    adj_tape *t = adj_tape_new();
    adj_var *f = e2(t, 1.0, NULL);
    ck_assert_int_eq(adj_backward(f), ADJ_OK);
    adj_status st;
    char *s = capture(w_dot, t, &st);
    ck_assert_int_eq(st, ADJ_OK);
    ck_assert(strncmp(s, "digraph", 7) == 0);
    HAS(s, "n1 -> n2 [label=\"∂ 2.7183\"]");
    HAS(s, "n0 -> n1 [label=\"∂ 2\"]");
    HAS(s, "c = a + b");
    HAS(s, "adjoint 0.2593");
    HAS(s, "shape=box"); /* the input */
    ck_assert(s[strlen(s) - 2] == '}');
    free(s);
    s = capture(w_json, t, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "\"name\": \"x\"");
    HAS(s, "\"grad\": [1.92828468553");
    free(s);
    adj_tape_free(t);
}
END_TEST

START_TEST(names_and_errors)
{
    ck_assert_int_eq(adj_tape_print(NULL, stdout), ADJ_EINVAL);
    ck_assert_int_eq(adj_tape_dot(NULL, stdout), ADJ_EINVAL);
    ck_assert_int_eq(adj_backward_explain(NULL, stdout), ADJ_EINVAL);
    ck_assert_ptr_null(adj_var_set_name(NULL, "x"));
    adj_tape *t = adj_tape_new();
    char name[8] = "tmp";
    adj_var *x = adj_var_set_name(adj_scalar(t, 2.0), name);
    name[0] = 'X'; /* the name was copied */
    ck_assert_str_eq(adj_var_name(x), "tmp");
    ck_assert_ptr_eq(adj_tape_find(t, "tmp"), x);
    ck_assert_ptr_null(adj_tape_find(t, "nope"));
    adj_var_set_name(x, NULL);
    ck_assert_ptr_null(adj_var_name(x));
    /* an error on the tape: explain reports it */
    int64_t s2[1] = {2}, s3[1] = {3};
    adj_var *bad = adj_add(adj_tensor_f64(t, 1, s2, NULL), adj_tensor_f64(t, 1, s3, NULL));
    adj_status st;
    char *s = capture(w_explain, bad, &st);
    ck_assert_int_eq(st, ADJ_ESHAPE);
    HAS(s, "backward failed: adj_add");
    free(s);
    adj_tape_free(t);
}
END_TEST

START_TEST(examples_library)
{
    ck_assert_int_eq(adj_example_count(), 16);
    ck_assert_ptr_eq(adj_example_find("2"), adj_example_at(1));
    ck_assert_ptr_eq(adj_example_find("e2"), adj_example_at(1));
    ck_assert_ptr_eq(adj_example_find("e02"), adj_example_at(1));
    ck_assert_ptr_eq(adj_example_find("sqrt-fanout"), adj_example_at(1));
    ck_assert_ptr_eq(adj_example_find("e16"), adj_example_at(15));
    ck_assert_ptr_eq(adj_example_find("second-derivative"), adj_example_at(15));
    ck_assert_ptr_null(adj_example_find("e17"));
    ck_assert_ptr_null(adj_example_find(NULL));
    ck_assert_int_eq(adj_example_knob_index(adj_example_find("e04"), "w2"), 4);
    ck_assert_int_eq(adj_example_knob_index(adj_example_find("e04"), "zz"), -1);
    for (int i = 0; i < adj_example_count(); i++) {
        const adj_example *ex = adj_example_at(i);
        char *out = NULL, *dot = NULL, *json = NULL;
        size_t n1, n2, n3;
        FILE *fo = open_memstream(&out, &n1), *fd = open_memstream(&dot, &n2);
        FILE *fj = open_memstream(&json, &n3);
        ck_assert_int_eq(adj_example_run(ex, NULL, fo, fd, fj), ADJ_OK);
        fclose(fo);
        fclose(fd);
        fclose(fj);
        HAS(out, "gradient:");
        HAS(dot, "digraph");
        HAS(json, "\"example\"");
        free(out);
        free(dot);
        free(json);
    }
}
END_TEST

/* ------------------------------------------------------------ the page */

typedef struct html_args {
    adj_tape *t;
    adj_var *y;
} html_args;

static adj_status w_html(void *a, FILE *f)
{
    html_args *h = a;
    return adj_tape_html(h->t, h->y, f);
}

static adj_status w_example_html(void *ex, FILE *f) { return adj_example_html(ex, NULL, f); }

/* E2's page: the steps of the reverse sweep with a's running sum (notes:
 * 0.2592978121 through c, then 0.2592978121 · e = 0.7048445307 through b,
 * total 0.9641423428), and forward mode from x: ∂c/∂x = 2x(1 + e^(x²)) =
 * 7.4365636569 at x = 1, ∂f/∂x = 1.9282846855. */
START_TEST(html_e2_steps)
{
    adj_tape *t = adj_tape_new();
    adj_var *x, *f = e2(t, 1.0, &x);
    html_args h = {t, f};
    adj_status st;
    char *s = capture(w_html, &h, &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "<!DOCTYPE html>");
    HAS(s, "</html>");
    /* one step per contribution, a's adjoint growing one term at a time */
    const char *c1 = "{\"k\":\"edge\",\"n\":1,\"from\":3,\"show\":\"0.2593\"";
    const char *c2 = "{\"k\":\"edge\",\"n\":1,\"from\":2,\"show\":\"0.2593 + 0.70484 = 0.96414\"";
    HAS(s, c1);
    HAS(s, c2);
    ck_assert(strstr(s, c1) < strstr(s, c2));
    HAS(s, "{\"k\":\"node\",\"n\":1,\"show\":\"0.2593 + 0.70484 = 0.96414\"");
    /* the chain-rule lines as adj_backward_explain prints them */
    HAS(s, "∂f/∂a += ∂f/∂b · ∂b/∂a = 0.2593 × 2.7183 = 0.70484      [dx += dy y]   (a: contribution 2 of 2)");
    /* forward mode from x */
    HAS(s, "\"label\":\"x\"");
    HAS(s, "∂c/∂x = ∂c/∂a · ∂a/∂x + ∂c/∂b · ∂b/∂x = 1 × 2 + 1 × 5.4366 = 7.4366");
    HAS(s, "∂f/∂x = ∂f/∂c · ∂c/∂x = 0.2593 × 7.4366 = 1.9283");
    /* the graph, with values and local partials */
    HAS(s, "<svg id=\"graph\"");
    HAS(s, ">b = exp(a)</text>");
    HAS(s, ">value 2.7183</text>");
    HAS(s, ">∂ 2.7183</text>");
    /* nothing loaded from outside */
    ck_assert_ptr_null(strstr(s, "src="));
    ck_assert_ptr_null(strstr(s, "href="));
    ck_assert(fabs(adj_grad_item(x) - 1.9282846855) < 1e-9);
    free(s);
    adj_tape_free(t);
}
END_TEST

/* Forward mode from single elements of a matrix (E5: ∂C/∂W1 =
 * [[-0.0095988726, 0.0191977453], [0.0075482247, -0.0150964494]]). */
START_TEST(html_tensor_forward)
{
    adj_status st;
    char *s = capture(w_example_html, (void *)adj_example_find("e05"), &st);
    ck_assert_int_eq(st, ADJ_OK);
    HAS(s, "\"label\":\"W1[0,0]\"");
    HAS(s, "\"label\":\"W1[1,1]\"");
    HAS(s, "\"show\":\"[-0.0095989]\"");
    HAS(s, "\"show\":\"[0.0075482]\"");
    HAS(s, "\"show\":\"[-0.015096]\"");
    HAS(s, "data-knob=\"x1\" value=\"0.5\"");
    HAS(s, "adjoint explain e05 --html e05.html");
    free(s);
    for (int i = 0; i < adj_example_count(); i++) {
        s = capture(w_example_html, (void *)adj_example_at(i), &st);
        ck_assert_int_eq(st, ADJ_OK);
        HAS(s, "</svg>");
        HAS(s, "</html>");
        free(s);
    }
}
END_TEST

START_TEST(html_errors)
{
    adj_tape *t = adj_tape_new(), *u = adj_tape_new();
    adj_var *f = e2(t, 1.0, NULL), *g = e2(u, 1.0, NULL);
    ck_assert_int_eq(adj_tape_html(NULL, f, stdout), ADJ_EINVAL);
    ck_assert_int_eq(adj_tape_html(t, NULL, stdout), ADJ_EINVAL);
    ck_assert_int_eq(adj_tape_html(t, f, NULL), ADJ_EINVAL);
    ck_assert_int_eq(adj_tape_html(t, g, stdout), ADJ_EINVAL); /* another tape's node */
    ck_assert_int_eq(adj_example_html(NULL, NULL, stdout), ADJ_EINVAL);
    ck_assert_int_eq(adj_example_html(adj_example_at(0), NULL, NULL), ADJ_EINVAL);
    /* a stream that cannot be written */
    FILE *ro = fopen("/dev/null", "r");
    ck_assert_ptr_nonnull(ro);
    ck_assert_int_eq(adj_tape_html(t, f, ro), ADJ_EIO);
    fclose(ro);
    /* the tape's error */
    int64_t s2[1] = {2}, s3[1] = {3};
    adj_var *bad = adj_add(adj_tensor_f64(u, 1, s2, NULL), adj_tensor_f64(u, 1, s3, NULL));
    html_args h = {u, bad};
    adj_status st;
    free(capture(w_html, &h, &st));
    ck_assert_int_eq(st, ADJ_ESHAPE);
    adj_tape_free(t);
    adj_tape_free(u);
}
END_TEST

/* Every allocation of the page goes through the tape's allocator: failing
 * each one in turn gives ADJ_ENOMEM (never a crash) and leaves nothing
 * allocated; with none failing the page is whole. */
START_TEST(html_out_of_memory)
{
    test_alloc a;
    const adj_allocator al = test_alloc_init(&a);
    int whole = 0;
    for (long n = 0; n < 5000 && !whole; n++) {
        test_alloc_arm(&a, n, 0);
        adj_tape *t = adj_tape_new_with(&al);
        adj_status st = ADJ_ENOMEM;
        char *buf = NULL;
        size_t len = 0;
        if (t) {
            adj_var *f = e2(t, 1.0, NULL);
            FILE *m = open_memstream(&buf, &len);
            ck_assert_ptr_nonnull(m);
            st = adj_tape_html(t, f, m);
            fclose(m);
            adj_tape_free(t);
        }
        ck_assert_msg(st == ADJ_OK || st == ADJ_ENOMEM, "allocation %ld failed: status %d", n, (int)st);
        ck_assert_msg(a.live == 0, "allocation %ld failed: %zu bytes left", n, a.live);
        whole = !a.failed;
        if (whole) {
            ck_assert_int_eq(st, ADJ_OK);
            HAS(buf, "</html>");
        }
        free(buf);
    }
    ck_assert(whole);
}
END_TEST

static Suite *teach_suite(void)
{
    Suite *s = suite_create("teach");
    TCase *tc = tcase_create("teach");
    tcase_add_test(tc, explain_e2_fan_out);
    tcase_add_test(tc, explain_e4_shows_w2);
    tcase_add_test(tc, explain_tensor_rule);
    tcase_add_test(tc, explain_matches_backward);
    tcase_add_test(tc, table_small_and_large);
    tcase_add_test(tc, dot_and_json);
    tcase_add_test(tc, names_and_errors);
    tcase_add_test(tc, examples_library);
    tcase_add_test(tc, html_e2_steps);
    tcase_add_test(tc, html_tensor_forward);
    tcase_add_test(tc, html_errors);
    tcase_add_test(tc, html_out_of_memory);
    tcase_add_test(tc, definitions_of_ops);
    tcase_add_test(tc, explain_symbols);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(teach_suite)
