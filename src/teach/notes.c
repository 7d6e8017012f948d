/*
 * The worked examples of the lecture notes (E1 … E15) and E16, the second
 * derivative of E1 through a recorded backward sweep, as tapes with named
 * nodes.  Each build function is written the way a student would write the
 * example by hand; examples/eNN_*.c and `adjoint explain NAME` run them.
 * The values they must produce are in docs/tutorial.md and are asserted by
 * tests/test_notes.c.
 */
#include "teach/teach_int.h"

#include <stdlib.h>
#include <string.h>

#define N(v, s) adj_var_set_name((v), (s))

/* A scalar that wants a gradient / a constant scalar. */
static adj_var *var(adj_tape *t, double v, const char *name) { return N(adj_scalar(t, v), name); }
static adj_var *cst(adj_tape *t, double v, const char *name)
{
    return N(adj_constant_f64(t, 0, NULL, &v), name);
}
/* A vector (n) or matrix (r, c) that wants a gradient (grad = 1) or not. */
static adj_var *vec(adj_tape *t, int64_t n, const double *d, const char *name, int grad)
{
    return N(adj_leaf_at(t, ADJ_F64, 1, &n, d, grad, __FILE__, __LINE__), name);
}
static adj_var *mat(adj_tape *t, int64_t r, int64_t c, const double *d, const char *name, int grad)
{
    const int64_t sh[2] = {r, c};
    return N(adj_leaf_at(t, ADJ_F64, 2, sh, d, grad, __FILE__, __LINE__), name);
}

/* C = ½ (a − y)², summed over the elements of a */
static adj_var *half_squared_error(adj_var *a, adj_var *y, const char *ename)
{
    char sq[64];
    adj_var *e = N(adj_sub(a, y), ename);
    snprintf(sq, sizeof sq, "(%s)²", ename);
    adj_var *s = N(adj_square(e), sq);
    if (adj_numel(s) != 1)
        s = N(adj_sum(s), "Σ");
    return N(adj_scale(s, 0.5), "C");
}

/* E1. f(x) = exp(x²): a = x², f = b = exp(a) */
static adj_var *e01(adj_tape *t, const double *k)
{
    adj_var *x = var(t, k[0], "x");
    adj_var *a = N(adj_square(x), "a");
    return N(adj_exp(a), "f");
}

/* E2. f(x) = √(x² + exp(x²)): x, a = x², b = exp(a), c = a + b, d = f = √c.
 * a feeds b and c: its adjoint receives two contributions. */
static adj_var *e02(adj_tape *t, const double *k)
{
    adj_var *x = var(t, k[0], "x");
    adj_var *a = N(adj_square(x), "a");
    adj_var *b = N(adj_exp(a), "b");
    adj_var *c = N(adj_add(a, b), "c");
    return N(adj_sqrt(c), "f");
}

/* E3. z = w·x + b, a = σ(z), C = ½(a − y)² */
static adj_var *e03(adj_tape *t, const double *k)
{
    adj_var *x = cst(t, k[0], "x"), *y = cst(t, k[1], "y");
    adj_var *w = var(t, k[2], "w"), *b = var(t, k[3], "b");
    adj_var *z = N(adj_add(N(adj_mul(w, x), "w·x"), b), "z");
    adj_var *a = N(adj_sigmoid(z), "a");
    return half_squared_error(a, y, "a-y");
}

/* E4. z1 = w1·x + b1, a1 = σ(z1), z2 = w2·a1 + b2, a2 = σ2(z2), C = ½(a2 − y)²
 * (σ2 = sigmoid, or the identity when knob out = 0).  The trace shows
 * ∂(w2·a1)/∂a1 = w2: the factor the notes' formula replaces by a1. */
static adj_var *e04(adj_tape *t, const double *k)
{
    adj_var *x = cst(t, k[0], "x"), *y = cst(t, k[1], "y");
    adj_var *w1 = var(t, k[2], "w1"), *b1 = var(t, k[3], "b1");
    adj_var *w2 = var(t, k[4], "w2"), *b2 = var(t, k[5], "b2");
    adj_var *z1 = N(adj_add(N(adj_mul(w1, x), "w1·x"), b1), "z1");
    adj_var *a1 = N(adj_sigmoid(z1), "a1");
    adj_var *z2 = N(adj_add(N(adj_mul(w2, a1), "w2·a1"), b2), "z2");
    adj_var *a2 = k[6] != 0 ? N(adj_sigmoid(z2), "a2") : z2;
    return half_squared_error(a2, y, "a2-y");
}

/* E5. The 2-2-1 network: z1 = W1 x + b1, a1 = σ(z1), z2 = w2 a1 + b2,
 * a2 = σ(z2), C = ½(a2 − y)² */
static adj_var *e05(adj_tape *t, const double *k)
{
    static const double W1[4] = {0.1, 0.2, -0.3, 0.4}, b1[2] = {0.05, -0.05};
    static const double w2[2] = {0.7, -0.6}, b2[1] = {0.1};
    const double xd[2] = {k[0], k[1]}, yd[1] = {k[2]};
    adj_var *x = vec(t, 2, xd, "x", 0), *y = vec(t, 1, yd, "y", 0);
    adj_var *W1v = mat(t, 2, 2, W1, "W1", 1), *b1v = vec(t, 2, b1, "b1", 1);
    adj_var *w2v = mat(t, 1, 2, w2, "w2", 1), *b2v = vec(t, 1, b2, "b2", 1);
    adj_var *z1 = N(adj_linear(x, W1v, b1v), "z1");
    adj_var *a1 = N(adj_sigmoid(z1), "a1");
    adj_var *z2 = N(adj_linear(a1, w2v, b2v), "z2");
    adj_var *a2 = N(adj_sigmoid(z2), "a2");
    return half_squared_error(a2, y, "a2-y");
}

/* E6. a1 = ReLU(xᵀθ1), a2 = tanh(θ2 a1), a3 = σ(θ3 a2), a4 = θ4 a3,
 * C = ½(a4 − y)²; knob case: 0 active ReLU, 1 inactive, 2 at the kink. */
static adj_var *e06(adj_tape *t, const double *k)
{
    static const double xs[3][3] = {{1, -2, 0.5}, {1, -2, 0.5}, {1, 1, 0}};
    static const double th1[3][3] = {{0.4, -0.1, 0.3}, {-0.4, 0.1, 0.3}, {0.5, -0.5, 0.3}};
    int c = k[0] >= 0 && k[0] <= 2 ? (int)k[0] : 0;
    adj_var *x = vec(t, 3, xs[c], "x", 0), *y = cst(t, k[1], "y");
    adj_var *t1 = vec(t, 3, th1[c], "θ1", 1);
    adj_var *t2 = var(t, 0.8, "θ2"), *t3 = var(t, -1.2, "θ3"), *t4 = var(t, 2.0, "θ4");
    adj_var *u = N(adj_sum(N(adj_mul(x, t1), "x⊙θ1")), "xᵀθ1");
    adj_var *a1 = N(adj_relu(u), "a1");
    adj_var *a2 = N(adj_tanh(N(adj_mul(t2, a1), "θ2·a1")), "a2");
    adj_var *a3 = N(adj_sigmoid(N(adj_mul(t3, a2), "θ3·a2")), "a3");
    adj_var *a4 = N(adj_mul(t4, a3), "a4");
    return half_squared_error(a4, y, "a4-y");
}

/* E7. C = log Σ e^z − z_k, fused from the logits; p = softmax(z) alongside */
static adj_var *e07(adj_tape *t, const double *k)
{
    const double zd[3] = {k[1], k[2], k[3]};
    int32_t label = k[0] >= 1 && k[0] <= 3 ? (int32_t)k[0] - 1 : 0;
    adj_var *z = vec(t, 3, zd, "z", 1);
    N(adj_softmax(z), "p");
    return N(adj_softmax_cross_entropy(z, &label), "C");
}

/* E8. J = −log σ((2y−1)z) = BCE(σ(z), y), from the logit */
static adj_var *e08(adj_tape *t, const double *k)
{
    adj_var *z = var(t, k[0], "z"), *y = cst(t, k[1], "y");
    return N(adj_bce_with_logits(z, y), "J");
}

/* E9. The activations at u; knob act picks one (1 sigmoid, 2 tanh, 3 ReLU,
 * 4 leaky ReLU, 5 ELU, 6 softplus, 7 swish u·σ(βu)) or 0 = their sum, so
 * that the trace lists every derivative. */
static adj_var *e09(adj_tape *t, const double *k)
{
    adj_var *u = var(t, k[0], "u");
    int act = (int)k[1];
    adj_var *f = NULL, *g;
    for (int i = 1; i <= 7; i++) {
        if (act != 0 && act != i)
            continue;
        switch (i) {
        case 1: g = N(adj_sigmoid(u), "σ(u)"); break;
        case 2: g = N(adj_tanh(u), "tanh(u)"); break;
        case 3: g = N(adj_relu(u), "relu(u)"); break;
        case 4: g = N(adj_leaky_relu(u, 0.01), "leaky(u)"); break;
        case 5: g = N(adj_elu(u, 1.0), "elu(u)"); break;
        case 6: g = N(adj_softplus(u), "softplus(u)"); break;
        default:
            g = N(adj_mul(u, N(adj_sigmoid(N(adj_scale(u, k[2]), "βu")), "σ(βu)")), "swish(u)");
            break;
        }
        f = f ? adj_add(f, g) : g;
    }
    return N(f, "f");
}

/* E10. XOR: h = act(W (x1, x2, 1)), y = out(U (h1, h2, 1)), L = ½(y − t)².
 * The constant input 1 is appended by a constant linear map (h, 1) =
 * P h + e3.  Knob net: 0 the chapter's sigmoid network, 1 the ReLU network
 * as printed, 2 the trained ReLU network. */
static adj_var *e10(adj_tape *t, const double *k)
{
    static const double W[3][6] = {{3, 4, -2, 2, 3, -4}, {3, 4, 2, 2, 3, 4},
                                    {1.52183263, 1.55282077, -1.55282077, 1.0637993, 1.0637993,
                                     0.39200322}};
    static const double U[3][3] = {{5, -5, -2}, {5, 5, 2}, {-1.31420497, 0.94002694, -0.36849359}};
    static const double P[6] = {1, 0, 0, 1, 0, 0}, e3[3] = {0, 0, 1};
    int net = k[3] >= 0 && k[3] <= 2 ? (int)k[3] : 0;
    const double xd[3] = {k[0], k[1], 1}, td[1] = {k[2]};
    adj_var *x = vec(t, 3, xd, "(x1,x2,1)", 0), *tv = vec(t, 1, td, "t", 0);
    adj_var *Wv = mat(t, 2, 3, W[net], "W", 1), *Uv = mat(t, 1, 3, U[net], "U", 1);
    adj_var *z = N(adj_linear(x, Wv, NULL), "Wx");
    adj_var *h = N(net == 0 ? adj_sigmoid(z) : adj_relu(z), "h");
    adj_var *h1 = N(adj_linear(h, mat(t, 3, 2, P, "P", 0), vec(t, 3, e3, "e3", 0)), "(h,1)");
    adj_var *o = N(adj_linear(h1, Uv, NULL), "o");
    adj_var *y = net == 0 ? N(adj_sigmoid(o), "y") : o; /* ReLU nets: identity output */
    adj_var *e = N(adj_sub(y, tv), "y-t");
    return N(adj_scale(N(adj_sum(N(adj_square(e), "(y-t)²")), "Σ"), 0.5), "L");
}

/* E11. Least squares: C = ½ Σ (X θ − t)² with X = (1, x1, x2) per row;
 * knob target: 0 XOR, 1 OR, 2 AND.  At the least-squares θ the gradient is 0. */
static adj_var *e11(adj_tape *t, const double *k)
{
    static const double X[12] = {1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1};
    static const double T[3][4] = {{0, 1, 1, 0}, {0, 1, 1, 1}, {0, 0, 0, 1}};
    int tg = k[0] >= 0 && k[0] <= 2 ? (int)k[0] : 0;
    const double th[3] = {k[1], k[2], k[3]};
    adj_var *Xv = mat(t, 4, 3, X, "X", 0), *tv = mat(t, 4, 1, T[tg], "t", 0);
    adj_var *theta = mat(t, 1, 3, th, "θ", 1);
    adj_var *p = N(adj_linear(Xv, theta, NULL), "Xθ");
    return half_squared_error(p, tv, "Xθ-t");
}

/* E12. Parameters of an MLP: knob arch 0 = 4-5-1, 1 = 4-4-3-5-1; every
 * weight and bias is a leaf that wants a gradient, f = sum of the outputs. */
static adj_var *e12(adj_tape *t, const double *k)
{
    static const int arch[2][6] = {{3, 4, 5, 1}, {5, 4, 4, 3, 5, 1}};
    static const double buf[20] = {0.1, -0.2, 0.3, -0.1, 0.2, 0.05, -0.3, 0.15, 0.25, -0.05,
                                   -0.15, 0.1, 0.2, -0.25, 0.3, 0.05, -0.1, 0.2, -0.2, 0.1};
    const int *a = arch[k[0] != 0];
    adj_var *h = vec(t, a[1], buf, "x", 0);
    for (int l = 1; l < a[0]; l++) {
        char wn[16], bn[16], zn[16];
        snprintf(wn, sizeof wn, "W%d", l);
        snprintf(bn, sizeof bn, "b%d", l);
        snprintf(zn, sizeof zn, "z%d", l);
        adj_var *W = mat(t, a[l + 1], a[l], buf, wn, 1), *b = vec(t, a[l + 1], buf, bn, 1);
        h = N(adj_linear(h, W, b), zn);
        if (l + 1 < a[0]) {
            snprintf(zn, sizeof zn, "a%d", l);
            h = N(adj_sigmoid(h), zn);
        }
    }
    return N(adj_sum(h), "f");
}

/* E13. Batch normalisation of one unit over a batch of 4, from primitives:
 * μ = mean z, σ² = mean (z − μ)², z̄ = (z − μ)/√(σ² + ε), z̃ = γ z̄ + β,
 * C = ½ Σ (z̃ − t)² */
static adj_var *e13(adj_tape *t, const double *k)
{
    static const double zd[4] = {1, 2, 4, -1}, td[4] = {0, 1, 0.5, -0.5};
    adj_var *z = vec(t, 4, zd, "z", 1), *tv = vec(t, 4, td, "t", 0);
    adj_var *gamma = var(t, k[0], "γ"), *beta = var(t, k[1], "β"), *eps = cst(t, k[2], "ε");
    adj_var *mu = N(adj_mean(z), "μ");
    adj_var *d = N(adj_sub(z, mu), "z-μ");
    adj_var *var2 = N(adj_mean(N(adj_square(d), "(z-μ)²")), "σ²");
    adj_var *sd = N(adj_sqrt(N(adj_add(var2, eps), "σ²+ε")), "√(σ²+ε)");
    adj_var *zbar = N(adj_div(d, sd), "z̄");
    adj_var *zt = N(adj_add(N(adj_mul(gamma, zbar), "γz̄"), beta), "z̃");
    return half_squared_error(zt, tv, "z̃-t");
}

/* E14. Inverted dropout before a unit: ã = a ⊙ m / keep (training, knob
 * train = 1) or ã = a (inference); z = w·ã + b */
static adj_var *e14(adj_tape *t, const double *k)
{
    static const double ad[4] = {1, 2, 3, 4}, wd[4] = {0.5, -1, 0.25, 1}, md[4] = {1, 0, 1, 1};
    adj_var *a = vec(t, 4, ad, "a", 1), *w = vec(t, 4, wd, "w", 1), *b = var(t, 0.1, "b");
    adj_var *at = a;
    if (k[0] != 0)
        at = N(adj_scale(N(adj_mul(a, vec(t, 4, md, "m", 0)), "a⊙m"), 1.0 / k[1]), "ã");
    adj_var *s = N(adj_sum(N(adj_mul(w, at), "w⊙ã")), "w·ã");
    return N(adj_add(s, b), "z");
}

/* E15. The regression target y = x0² + 3 x0 x1 + x1² + 5 and its gradient */
static adj_var *e15(adj_tape *t, const double *k)
{
    adj_var *x0 = var(t, k[0], "x0"), *x1 = var(t, k[1], "x1");
    adj_var *s = N(adj_add(N(adj_square(x0), "x0²"),
                           N(adj_scale(N(adj_mul(x0, x1), "x0·x1"), 3.0), "3x0x1")),
                   "x0²+3x0x1");
    s = N(adj_add(s, N(adj_square(x1), "x1²")), "x0²+3x0x1+x1²");
    return N(adj_add(s, cst(t, 5.0, "5")), "y");
}

/* E16. f(x) = exp(x²) differentiated twice.  The backward sweep of f,
 * recorded with create_graph, is itself a graph: its output f′ = 2x·exp(x²)
 * is this example's output, so explaining it is the backward of a backward,
 * and ∂f′/∂x = f″(x) = (2 + 4x²)·exp(x²). */
static adj_var *e16(adj_tape *t, const double *k)
{
    adj_var *x = var(t, k[0], "x");
    adj_var *a = N(adj_square(x), "a");
    adj_var *f = N(adj_exp(a), "f");
    adj_var *fp = NULL;
    adj_backward_opts graph = {.create_graph = 1};
    if (adj_grad(f, 1, &x, &fp, &graph) != ADJ_OK)
        return t->inert;
    /* the sweep's seed, ∂f/∂f = 1: the one constant it recorded */
    for (size_t id = adj_var_id(f) + 1; id < adj_var_id(fp); id++) {
        adj_var *v = adj_tape_node(t, id);
        if (!adj_requires_grad(v)) {
            N(v, "seed");
            break;
        }
    }
    return N(fp, "f′");
}

static const adj_example examples[] = {
    {"e01", "exp-square", "E1: f(x) = exp(x²), the first chain rule", NULL,
     1, {{"x", 1.0, "input"}}, e01},
    {"e02", "sqrt-fanout", "E2: f(x) = √(x² + exp(x²)): intermediates and fan-out",
     "a = x² feeds both b and c, so ∂f/∂a is the sum of two contributions",
     1, {{"x", 1.0, "input"}}, e02},
    {"e03", "perceptron", "E3: scalar perceptron z = w·x + b, a = σ(z), C = ½(a − y)²", NULL,
     4, {{"x", 0.5, "input"}, {"y", 1, "target"}, {"w", 0.8, "weight"}, {"b", -0.1, "bias"}}, e03},
    {"e04", "hidden-unit", "E4: one hidden unit, C = ½(σ2(w2 σ(w1 x + b1) + b2) − y)²",
     "erratum: the notes write ∂C/∂w1 = (a2−y)σ2'·a1·σ1'·x; the factor a1 must be w2 (see "
     "∂(w2·a1)/∂a1 = w2 in the trace), and ∂C/∂b1 is missing w2",
     7, {{"x", 0.5, "input"}, {"y", 1, "target"}, {"w1", 0.8, "weight"}, {"b1", -0.1, "bias"},
         {"w2", 1.5, "weight"}, {"b2", 0.2, "bias"}, {"out", 1, "1: sigmoid output, 0: identity"}},
     e04},
    {"e05", "net-2-2-1", "E5: the 2-2-1 sigmoid network, nine parameters",
     "erratum: the notes write ∂C/∂w_jk(1) with the hidden activation where the input x_k "
     "belongs (dW1 += dZ1ᵀ X uses x)",
     3, {{"x1", 0.5, "input 1"}, {"x2", -1.0, "input 2"}, {"y", 1, "target"}}, e05},
    {"e06", "relu-chain", "E6: ReLU → tanh → sigmoid → identity chain",
     "case 0: active ReLU, 1: inactive (gradients 0, never -0), 2: at the kink (ReLU'(0) = 1)",
     2, {{"case", 0, "0 active, 1 inactive, 2 kink"}, {"y", 0.5, "target"}}, e06},
    {"e07", "softmax-ce", "E7: softmax cross-entropy from the logits", NULL,
     4, {{"k", 1, "class 1..3"}, {"z1", 1, "logit"}, {"z2", 2, "logit"}, {"z3", 3, "logit"}}, e07},
    {"e08", "bce-logit", "E8: binary cross-entropy from a logit", NULL,
     2, {{"z", 0.5, "logit"}, {"y", 1, "label 0 or 1"}}, e08},
    {"e09", "activations", "E9: activations and their derivatives",
     "erratum: one set of notes prints a swish derivative that is wrong for β ≠ 1 "
     "(1.349033 at z = 1, β = 2; the right value is 1.090784)",
     3, {{"u", 0.5, "input"}, {"act", 0, "0 all, 1 σ, 2 tanh, 3 relu, 4 leaky, 5 elu, 6 softplus, 7 swish"},
         {"beta", 1, "swish β"}}, e09},
    {"e10", "xor", "E10: the XOR network of the introductory chapter",
     "the chapter's printed weights lost their minus signs: net 0 restores them",
     4, {{"x1", 1, "input 1"}, {"x2", 0, "input 2"}, {"t", 1, "target"},
         {"net", 0, "0 sigmoid, 1 ReLU as printed, 2 trained ReLU"}}, e10},
    {"e11", "linear-xor", "E11: least squares cannot do XOR", NULL,
     4, {{"target", 0, "0 XOR, 1 OR, 2 AND"}, {"th0", 0.5, "θ0"}, {"th1", 0, "θ1"}, {"th2", 0, "θ2"}},
     e11},
    {"e12", "param-count", "E12: counting the parameters of an MLP", NULL,
     1, {{"arch", 0, "0: 4-5-1, 1: 4-4-3-5-1"}}, e12},
    {"e13", "batchnorm", "E13: batch normalisation from primitive ops", NULL,
     3, {{"gamma", 1.5, "scale γ"}, {"beta", 0.2, "shift β"}, {"eps", 1e-5, "ε"}}, e13},
    {"e14", "dropout", "E14: inverted dropout before a unit", NULL,
     2, {{"train", 1, "1 training (mask 1,0,1,1), 0 inference"}, {"keep", 0.75, "keep probability"}},
     e14},
    {"e15", "regression", "E15: the regression target y = x0² + 3x0x1 + x1² + 5", NULL,
     2, {{"x0", 1, "input"}, {"x1", 2, "input"}}, e15},
    {"e16", "second-derivative", "E16: f(x) = exp(x²) twice: f′ recorded as a graph, then f″",
     "the output is f′ = 2x·exp(x²), the backward sweep of f recorded as ops (create_graph): "
     "from the seed ∂f/∂f = 1, exp's rule gives seed·f = ∂f/∂a and the square's 2x, whose "
     "product is f′; its gradient is f″(x) = (2 + 4x²)·exp(x²), 16.3096909707 at x = 1",
     1, {{"x", 1.0, "input"}}, e16},
};

int adj_example_count(void) { return (int)(sizeof examples / sizeof examples[0]); }

const adj_example *adj_example_at(int i)
{
    return i >= 0 && i < adj_example_count() ? &examples[i] : NULL;
}

const adj_example *adj_example_find(const char *name)
{
    if (!name)
        return NULL;
    const char *digits = name;
    if (*digits == 'e' || *digits == 'E')
        digits++;
    char *end;
    long n = strtol(digits, &end, 10);
    if (*digits && *end == '\0' && n >= 1 && n <= adj_example_count())
        return &examples[n - 1];
    for (int i = 0; i < adj_example_count(); i++)
        if (strcmp(examples[i].name, name) == 0 || strcmp(examples[i].alias, name) == 0)
            return &examples[i];
    return NULL;
}

int adj_example_knob_index(const adj_example *ex, const char *knob)
{
    if (!ex || !knob)
        return -1;
    for (int i = 0; i < ex->nknobs; i++)
        if (strcmp(ex->knobs[i].name, knob) == 0)
            return i;
    return -1;
}

adj_var *adj_example_build(const adj_example *ex, adj_tape *t, const double *knobs)
{
    if (!t)
        return NULL;
    if (!ex) {
        if (t->status == ADJ_OK)
            adj_tape_fail(t, ADJ_EINVAL, "adj_example_build: the example is NULL");
        return adj_h_out(t->inert);
    }
    double k[ADJ_EXAMPLE_MAX_KNOBS];
    for (int i = 0; i < ex->nknobs; i++)
        k[i] = knobs ? knobs[i] : ex->knobs[i].value;
    return ex->build(t, k);
}

adj_status adj_teach_example_tape(const adj_example *ex, const double *knobs, double *k,
                                  adj_tape **tp, adj_var **yp)
{
    for (int i = 0; i < ex->nknobs; i++)
        k[i] = knobs ? knobs[i] : ex->knobs[i].value;
    adj_tape *t = adj_tape_new();
    *tp = t;
    *yp = NULL;
    if (!t)
        return ADJ_ENOMEM;
    adj_var *y = adj_example_build(ex, t, k);
    adj_status s = adj_tape_status(t);
    if (s == ADJ_OK && !y)
        s = ADJ_EINVAL;
    *yp = y;
    return s;
}

adj_status adj_example_run(const adj_example *ex, const double *knobs, FILE *out, FILE *dot,
                           FILE *json)
{
    if (!ex)
        return ADJ_EINVAL;
    double k[ADJ_EXAMPLE_MAX_KNOBS];
    adj_tape *t;
    adj_var *y;
    adj_status s = adj_teach_example_tape(ex, knobs, k, &t, &y);
    if (!t)
        return s;
    if (out) {
        fprintf(out, "%s (%s): %s\n", ex->name, ex->alias, ex->title);
        for (int i = 0; i < ex->nknobs; i++) {
            char num[40];
            adj_teach_num(num, sizeof num, k[i], 10);
            fprintf(out, "%s%s = %s", i ? ", " : "    ", ex->knobs[i].name, num);
        }
        fputs(ex->nknobs ? "\n" : "", out);
        if (ex->notes)
            fprintf(out, "    note: %s\n", ex->notes);
        fputc('\n', out);
    }
    if (s == ADJ_OK) {
        s = out ? adj_backward_explain(y, out) : adj_backward(y);
        if (out && s == ADJ_OK) {
            fputc('\n', out);
            s = adj_tape_print(t, out);
        }
    } else if (out) {
        fprintf(out, "error: %s\n", adj_tape_message(t));
    }
    if (s == ADJ_OK && dot)
        s = adj_tape_dot(t, dot);
    if (s == ADJ_OK && json) {
        fprintf(json, "{\"example\": \"%s\", \"knobs\": {", ex->name);
        for (int i = 0; i < ex->nknobs; i++)
            fprintf(json, "%s\"%s\": %.17g", i ? ", " : "", ex->knobs[i].name, k[i]);
        fprintf(json, "}, \"value\": %.17g,\n\"tape\": ", adj_item(y));
        s = adj_tape_json(t, 0, json);
        fputs("}\n", json);
        if (fflush(json) != 0 || ferror(json))
            s = ADJ_EIO;
    }
    adj_tape_free(t);
    return s;
}
