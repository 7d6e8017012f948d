/*
 * Ops of any number of inputs (arity ADJ_ARITY_ANY): add_n.  A node keeps
 * its first three inputs in the hot part and the rest in the cold part;
 * adj_nin and adj_input walk them all.
 */
#include "ops/graph.h"
#include "ops/op.h"

#include <string.h>

static adj_status add_n_shape(adj_var *y, char *why, size_t n)
{
    const adj_var *x0 = y->in[0];
    for (int k = 1; k < adj_nin(y); k++)
        if (!adj_same_shape(adj_input(y, k), x0)) {
            char a[96], b[96];
            adj_fmt_shape(a, sizeof a, x0->ndim, adj_cold(x0)->shape);
            adj_fmt_shape(b, sizeof b, adj_input(y, k)->ndim, adj_cold(adj_input(y, k))->shape);
            snprintf(why, n, "every input must have one shape: x0 is %s, x%d is %s", a, k, b);
            return ADJ_ESHAPE;
        }
    adj_shape_from(y, x0);
    return ADJ_OK;
}

/* out = sum_k input k, in input order (SRC(k): its values or tangents) */
#define SUM_N(T, out, SRC, nin, m)                                             \
    do {                                                                       \
        T *o_ = (out);                                                         \
        memcpy(o_, SRC(0), (m) * sizeof(T));                                   \
        for (int k_ = 1; k_ < (nin); k_++) {                                   \
            const T *s_ = SRC(k_);                                             \
            for (size_t i_ = 0; i_ < (m); i_++)                                \
                o_[i_] += s_[i_];                                              \
        }                                                                      \
    } while (0)

#define VALUE_OF(k) adj_input(y, k)->value
#define TANGENT_OF(k) tx[k]

/* y = x0 + x1 + ... */
static void add_n_forward(adj_var *y)
{
    const size_t m = adj_cold(y)->numel;
    if (y->dtype == ADJ_F64)
        SUM_N(double, y->value, VALUE_OF, adj_nin(y), m);
    else
        SUM_N(float, y->value, VALUE_OF, adj_nin(y), m);
}

/* dx_k += dy for every k (twice for an input given twice) */
static void add_n_backward(adj_var *y)
{
    const size_t m = adj_cold(y)->numel;
    for (int k = 0; k < adj_nin(y); k++) {
        adj_var *x = adj_input(y, k);
        if (!(x->flags & ADJ_F_GRAD))
            continue;
        void *g = adj_grad_buf(x);
        if (!g)
            return;
        if (y->dtype == ADJ_F64) {
            double *d = g;
            const double *s = y->grad;
            for (size_t i = 0; i < m; i++)
                d[i] += s[i];
        } else {
            float *d = g;
            const float *s = y->grad;
            for (size_t i = 0; i < m; i++)
                d[i] += s[i];
        }
    }
}

/* tangent: dy = dx0 + dx1 + ... */
static void add_n_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    const size_t m = adj_cold(y)->numel;
    if (y->dtype == ADJ_F64)
        SUM_N(double, ty, TANGENT_OF, adj_nin(y), m);
    else
        SUM_N(float, ty, TANGENT_OF, adj_nin(y), m);
}

/* one input; two; more than the hot node holds; 0-D; size-1 and zero-size dims */
static const adj_op_case add_n_cases[] = {
    {1, {2}, {{2, 3}}, NULL, NULL},
    {2, {1, 1}, {{4}, {4}}, NULL, NULL},
    {5, {2, 2, 2, 2, 2}, {{3, 2}, {3, 2}, {3, 2}, {3, 2}, {3, 2}}, NULL, NULL},
    {4, {0, 0, 0, 0}, {{0}, {0}, {0}, {0}}, NULL, NULL},
    {6, {3, 3, 3, 3, 3, 3}, {{2, 1, 2}, {2, 1, 2}, {2, 1, 2}, {2, 1, 2}, {2, 1, 2}, {2, 1, 2}},
     NULL, NULL},
    {3, {2, 2, 2}, {{0, 3}, {0, 3}, {0, 3}}, NULL, NULL},
};

/* graph mode: dxk = dy */
static bool add_n_vjp(adj_var *y, adj_var *gy, adj_var **gin)
{
    for (int k = 0, n = adj_nin(y); k < n; k++)
        if (adj_gwants(y, k))
            gin[k] = gy;
    return adj_gok(y);
}

const adj_op_desc adj_desc_add_n = {
    .name = "add_n", .arity = ADJ_ARITY_ANY, .shape = add_n_shape, .forward = add_n_forward,
    .backward = add_n_backward, .jvp = add_n_jvp, .formula = "y = x0 + x1 + ... + x(n-1)",
    .rule = "dxk += dy", ADJ_CASES(add_n_cases),
    .vjp = add_n_vjp,
    .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
};

adj_var *adj_add_n_at(int n, adj_var *const *xs, const char *file, int line)
{
    if (n < 1 || !xs)
        return NULL;
    return adj_record(ADJ_OP_ADD_N, xs, n, NULL, file, line);
}
adj_var *(adj_add_n)(int n, adj_var *const *xs) { return adj_add_n_at(n, xs, NULL, 0); }
