/*
 * Gradient check of one entry of the op table.
 *
 * For op y = g(x1, .., xn) the checked scalar is f = sum(y * R), R a fixed
 * random tensor of y's shape: its gradient is the vector-Jacobian product
 * R^T J that backward computes for an arbitrary upstream adjoint, so every
 * element of the Jacobian takes part.  Inputs are drawn from the op's
 * domain (away from kinks and poles); shapes come from the op's signature,
 * so a new op with an existing signature is checked with no new test code.
 */
#include "core/tape.h"
#include "ops/op.h"
#include "adjoint/check.h"
#include "adjoint/forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct opcase {
    int n;                       /* inputs */
    int ndim[3];
    int64_t shape[3][ADJ_MAX_DIMS];
    int32_t iarg;                /* axis or transpose bits */
    int rndim;                   /* reshape target */
    int64_t rshape[ADJ_MAX_DIMS];
    int no_bias;                 /* linear without bias */
} opcase;


/* One row per case: inputs, then each input's ndim and shape. */
static const opcase unary_cases[] = {
    {1, {0}, {{0}}, 0, 0, {0}, 0},
    {1, {1}, {{7}}, 0, 0, {0}, 0},
    {1, {2}, {{3, 4}}, 0, 0, {0}, 0},
    {1, {4}, {{2, 1, 3, 2}}, 0, 0, {0}, 0},
};
static const opcase binary_cases[] = {
    {2, {0, 0}, {{0}, {0}}, 0, 0, {0}, 0},
    {2, {2, 2}, {{3, 4}, {3, 4}}, 0, 0, {0}, 0},
    {2, {2, 1}, {{3, 4}, {4}}, 0, 0, {0}, 0},
    {2, {2, 2}, {{2, 3}, {1, 3}}, 0, 0, {0}, 0},
    {2, {2, 0}, {{3, 4}, {0}}, 0, 0, {0}, 0},
    {2, {0, 2}, {{0}, {3, 4}}, 0, 0, {0}, 0},
    {2, {3, 2}, {{2, 2, 3}, {2, 3}}, 0, 0, {0}, 0},
    /* NumPy broadcasting on either side and in the middle */
    {2, {2, 2}, {{2, 1}, {1, 3}}, 0, 0, {0}, 0},
    {2, {1, 3}, {{3}, {2, 1, 3}}, 0, 0, {0}, 0},
    {2, {2, 0}, {{1, 1}, {0}}, 0, 0, {0}, 0},
    {2, {3, 2}, {{4, 1, 3}, {2, 1}}, 0, 0, {0}, 0},
    {2, {4, 4}, {{2, 1, 3, 1}, {1, 4, 1, 2}}, 0, 0, {0}, 0},
    /* zero-size dimensions */
    {2, {2, 2}, {{0, 3}, {1, 3}}, 0, 0, {0}, 0},
    {2, {3, 1}, {{2, 0, 3}, {3}}, 0, 0, {0}, 0},
};
static const opcase matmul_cases[] = {
    {2, {2, 2}, {{1, 1}, {1, 1}}, 0, 0, {0}, 0},
    {2, {2, 2}, {{2, 3}, {3, 4}}, 0, 0, {0}, 0},
    {2, {2, 2}, {{3, 2}, {3, 4}}, 1, 0, {0}, 0},
    {2, {2, 2}, {{2, 3}, {4, 3}}, 2, 0, {0}, 0},
    {2, {2, 2}, {{3, 2}, {4, 3}}, 3, 0, {0}, 0},
    {2, {2, 2}, {{5, 1}, {1, 2}}, 0, 0, {0}, 0},
};
static const opcase matrix_cases[] = {
    {1, {2}, {{1, 1}}, 0, 0, {0}, 0},
    {1, {2}, {{2, 3}}, 0, 0, {0}, 0},
    {1, {2}, {{4, 1}}, 0, 0, {0}, 0},
};
static const opcase linear_cases[] = {
    {3, {2, 2, 1}, {{4, 3}, {2, 3}, {2}}, 0, 0, {0}, 0},
    {3, {2, 2, 1}, {{1, 1}, {1, 1}, {1}}, 0, 0, {0}, 0},
    {3, {1, 2, 1}, {{3}, {2, 3}, {2}}, 0, 0, {0}, 0},
    {2, {2, 2}, {{2, 3}, {4, 3}}, 0, 0, {0}, 1},
};
static const opcase reshape_cases[] = {
    {1, {2}, {{2, 3}}, 0, 2, {3, 2}, 0},
    {1, {1}, {{6}}, 0, 2, {2, -1}, 0},
    {1, {0}, {{0}}, 0, 2, {1, 1}, 0},
    {1, {3}, {{2, 3, 2}}, 0, 1, {12}, 0},
};
static const opcase axis_cases[] = {
    {1, {2}, {{3, 4}}, 0, 0, {0}, 0},
    {1, {2}, {{3, 4}}, 1, 0, {0}, 0},
    {1, {3}, {{2, 3, 4}}, 1, 0, {0}, 0},
    {1, {1}, {{5}}, 0, 0, {0}, 0},
    {1, {2}, {{2, 3}}, -1, 0, {0}, 0},
};
static const opcase labels_cases[] = {
    {1, {2}, {{4, 3}}, 0, 0, {0}, 0},
    {1, {2}, {{1, 5}}, 0, 0, {0}, 0},
    {1, {1}, {{3}}, 0, 0, {0}, 0},
    {1, {2}, {{2, 1}}, 0, 0, {0}, 0},
};
static const opcase pair_cases[] = {
    {2, {0, 0}, {{0}, {0}}, 0, 0, {0}, 0},
    {2, {1, 1}, {{5}, {5}}, 0, 0, {0}, 0},
    {2, {2, 2}, {{3, 4}, {3, 4}}, 0, 0, {0}, 0},
};


static const opcase *cases_of(adj_op op, int *count)
{
    *count = 0;
    if ((unsigned)op >= ADJ_OP_COUNT)
        return NULL;
    const opcase *c = NULL;
    switch (adj_op_table[op]->sig) {
#define PICK(sig, arr)                                                         \
    case sig:                                                                  \
        c = arr;                                                               \
        *count = (int)(sizeof arr / sizeof arr[0]);                            \
        break;
        PICK(ADJ_SIG_UNARY, unary_cases)
        PICK(ADJ_SIG_BINARY, binary_cases)
        PICK(ADJ_SIG_MATMUL, matmul_cases)
        PICK(ADJ_SIG_MATRIX, matrix_cases)
        PICK(ADJ_SIG_LINEAR, linear_cases)
        PICK(ADJ_SIG_RESHAPE, reshape_cases)
        PICK(ADJ_SIG_AXIS, axis_cases)
        PICK(ADJ_SIG_LABELS, labels_cases)
        PICK(ADJ_SIG_PAIR, pair_cases)
#undef PICK
    default:
        break;
    }
    return c;
}

int adj_gradcheck_op_cases(adj_op op)
{
    int n;
    cases_of(op, &n);
    return n;
}

/* splitmix64: a small, well-mixed generator for reproducible inputs */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return (double)(next(s) >> 11) * 0x1.0p-53; }

static double draw(uint64_t *s, adj_domain d)
{
    double u = uniform(s);
    switch (d) {
    case ADJ_DOM_AWAY0: {
        double m = 0.2 + 1.8 * u;
        return uniform(s) < 0.5 ? -m : m;
    }
    case ADJ_DOM_POS:
        return 0.5 + 1.5 * u;
    case ADJ_DOM_UNIT:
        return 0.05 + 0.9 * u;
    default:
        return -2 + 4 * u;
    }
}

/* The attributes of a case, in the struct its op records (until each op
 * brings its own cases). */
typedef union opattr {
    adj_attr_c c;
    adj_attr_axis axis;
    adj_attr_matmul mm;
    adj_attr_reshape reshape;
    adj_attr_labels labels;
} opattr;

static const void *make_attr(const adj_op_desc *d, const opcase *sc, const int32_t *labels,
                             opattr *a)
{
    memset(a, 0, sizeof *a);
    switch (d->sig) {
    case ADJ_SIG_UNARY:
        if (d->test_arg == 0.0)
            return NULL;
        a->c.c = d->test_arg;
        break;
    case ADJ_SIG_MATMUL: a->mm.trans = sc->iarg; break;
    case ADJ_SIG_AXIS: a->axis.axis = sc->iarg; break;
    case ADJ_SIG_RESHAPE:
        a->reshape.ndim = sc->rndim;
        memcpy(a->reshape.shape, sc->rshape, sizeof sc->rshape);
        break;
    case ADJ_SIG_LABELS: a->labels.labels = labels; break;
    default: return NULL;
    }
    return a;
}

typedef struct opctx {
    adj_op op;
    const opcase *sc;
    int32_t labels[8];
    uint64_t rseed;
} opctx;

/* f = sum(op(inputs) * R) */
static adj_var *apply(adj_tape *t, adj_var *const *in, int n, void *user)
{
    opctx *c = user;
    const adj_op_desc *d = adj_op_table[c->op];
    opattr a;
    adj_var *vin[3] = {in[0], n > 1 ? in[1] : NULL, n > 2 ? in[2] : NULL};
    adj_var *y = adj_record(c->op, vin, d->arity, make_attr(d, c->sc, c->labels, &a), __FILE__,
                            __LINE__);
    if (adj_tape_status(t) != ADJ_OK)
        return y;
    uint64_t s = c->rseed;
    adj_dtype dt = adj_var_dtype(y);
    size_t m = adj_numel(y);
    void *r = adj_arena_alloc(t, m * 8 + 8);
    if (!r)
        return NULL;
    for (size_t i = 0; i < m; i++) {
        double v = 0.5 + uniform(&s); /* R in [0.5, 1.5) */
        if (dt == ADJ_F64)
            ((double *)r)[i] = v;
        else
            ((float *)r)[i] = (float)v;
    }
    adj_var *R = adj_leaf_at(t, dt, y->ndim, adj_cold(y)->shape, r, 0, __FILE__, __LINE__);
    return adj_sum_at(adj_mul_at(y, R, __FILE__, __LINE__), __FILE__, __LINE__);
}

adj_status adj_gradcheck_op(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                            adj_gradcheck_report *rep, char *describe, size_t describe_size)
{
    int count;
    const opcase *cases = cases_of(op, &count);
    if (!rep)
        return ADJ_EINVAL;
    memset(rep, 0, sizeof *rep);
    if (!cases || shape_case < 0 || shape_case >= count) {
        rep->status = ADJ_EINVAL;
        snprintf(rep->message, sizeof rep->message, "adj_gradcheck_op: op %d has no shape case %d",
                 (int)op, shape_case);
        return rep->status;
    }
    const opcase *sc = &cases[shape_case];
    const adj_op_desc *d = adj_op_table[op];
    opctx c = {.op = op, .sc = sc};
    uint64_t s = seed ^ ((uint64_t)op << 32) ^ (uint64_t)shape_case;
    c.rseed = next(&s);

    double data[3][64];
    adj_gradcheck_input in[3];
    size_t off = 0;
    if (describe && describe_size)
        describe[0] = '\0';
    for (int i = 0; i < sc->n; i++) {
        size_t numel = 1;
        in[i].ndim = sc->ndim[i];
        for (int k = 0; k < sc->ndim[i]; k++) {
            in[i].shape[k] = sc->shape[i][k];
            numel *= (size_t)sc->shape[i][k];
        }
        for (size_t j = 0; j < numel && j < 64; j++)
            data[i][j] = draw(&s, d->dom[i]);
        in[i].data = data[i];
        if (describe && off < describe_size) {
            char sh[64];
            adj_fmt_shape(sh, sizeof sh, in[i].ndim, in[i].shape);
            off += (size_t)snprintf(describe + off, describe_size - off, "%s%s%s",
                                    i ? " x " : "", sh,
                                    (d->sig == ADJ_SIG_MATMUL && (sc->iarg >> i) & 1) ? "^T" : "");
        }
    }
    if (d->sig == ADJ_SIG_LABELS) {
        int64_t k = sc->shape[0][sc->ndim[0] - 1];
        for (int r = 0; r < 8; r++)
            c.labels[r] = (int32_t)(next(&s) % (uint64_t)k);
    }
    if (describe && off < describe_size) {
        if (d->sig == ADJ_SIG_AXIS)
            snprintf(describe + off, describe_size - off, " axis %d", (int)sc->iarg);
        else if (d->sig == ADJ_SIG_RESHAPE) {
            char sh[64];
            adj_fmt_shape(sh, sizeof sh, sc->rndim, sc->rshape);
            snprintf(describe + off, describe_size - off, " -> %s", sh);
        } else if (sc->no_bias)
            snprintf(describe + off, describe_size - off, " (no bias)");
    }
    adj_gradcheck_opts o = {.dtype = dtype};
    return adj_gradcheck(apply, &c, sc->n, in, &o, rep);
}

/* ------------------------------------------------------------ forward mode */

/*
 * The forward-mode check: the op's tangent rule (jvp) against its adjoint
 * rule (backward) and against a central difference along the direction v.
 * For a linear map J and any R, v: <R, J v> = <J^T R, v>.
 */

#define JVP_MAX 64 /* elements per input and output in the shape cases */

typedef struct jvpctx {
    adj_op op;
    const opcase *sc;
    opattr args;
    const void *attr;
    int32_t labels[8];
    double x[3][JVP_MAX], v[3][JVP_MAX], r[JVP_MAX];
    size_t numel[3];
} jvpctx;

/* Record the op on t with inputs x + s v in dtype. */
static adj_var *jvp_record(adj_tape *t, const jvpctx *c, adj_dtype dtype, double s, adj_var **vin)
{
    const adj_op_desc *d = adj_op_table[c->op];
    vin[0] = vin[1] = vin[2] = NULL;
    for (int i = 0; i < c->sc->n; i++) {
        double xd[JVP_MAX];
        float xf[JVP_MAX];
        for (size_t j = 0; j < c->numel[i]; j++) {
            xd[j] = c->x[i][j] + s * c->v[i][j];
            xf[j] = (float)xd[j];
        }
        vin[i] = adj_leaf_at(t, dtype, c->sc->ndim[i], c->sc->shape[i],
                             dtype == ADJ_F64 ? (const void *)xd : (const void *)xf, 1,
                             __FILE__, __LINE__);
    }
    return adj_record(c->op, vin, d->arity, c->attr, __FILE__, __LINE__);
}

/* <R, op(x + s v)> in double */
static double jvp_probe(adj_tape *t, const jvpctx *c, double s, adj_status *st)
{
    adj_var *vin[3];
    adj_tape_reset(t);
    adj_var *y = jvp_record(t, c, ADJ_F64, s, vin);
    *st = adj_tape_status(t);
    if (*st != ADJ_OK || !y)
        return NAN;
    double g = 0;
    for (size_t j = 0; j < adj_numel(y); j++)
        g += c->r[j] * adj_value_at(y, j);
    return g;
}

adj_status adj_jvpcheck_op(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                           adj_jvpcheck_report *rep)
{
    int count;
    const opcase *cases = cases_of(op, &count);
    if (!rep)
        return ADJ_EINVAL;
    memset(rep, 0, sizeof *rep);
    if (!cases || shape_case < 0 || shape_case >= count || (dtype != ADJ_F64 && dtype != ADJ_F32)) {
        rep->status = ADJ_EINVAL;
        snprintf(rep->message, sizeof rep->message, "adj_jvpcheck_op: op %d has no shape case %d",
                 (int)op, shape_case);
        return rep->status;
    }
    if (!adj_op_table[op]->jvp) {
        rep->status = ADJ_EINVAL;
        snprintf(rep->message, sizeof rep->message, "adj_jvpcheck_op: adj_%s has no tangent rule",
                 adj_op_table[op]->name);
        return rep->status;
    }
    jvpctx *c = calloc(1, sizeof *c);
    adj_tape *t = adj_tape_new();
    if (!c || !t) {
        free(c);
        adj_tape_free(t);
        rep->status = ADJ_ENOMEM;
        snprintf(rep->message, sizeof rep->message, "adj_jvpcheck_op: out of memory");
        return rep->status;
    }
    const opcase *sc = &cases[shape_case];
    const adj_op_desc *d = adj_op_table[op];
    uint64_t s = seed ^ ((uint64_t)op << 32) ^ (uint64_t)shape_case ^ 0x6a09e667f3bcc908ull;
    c->op = op;
    c->sc = sc;
    for (int i = 0; i < sc->n; i++) {
        size_t numel = 1;
        for (int k = 0; k < sc->ndim[i]; k++)
            numel *= (size_t)sc->shape[i][k];
        c->numel[i] = numel < JVP_MAX ? numel : JVP_MAX;
        for (size_t j = 0; j < c->numel[i]; j++) {
            c->x[i][j] = draw(&s, d->dom[i]);
            c->v[i][j] = -1 + 2 * uniform(&s);
        }
    }
    if (d->sig == ADJ_SIG_LABELS) {
        int64_t k = sc->shape[0][sc->ndim[0] - 1];
        for (int r = 0; r < 8; r++)
            c->labels[r] = (int32_t)(next(&s) % (uint64_t)k);
    }
    c->attr = make_attr(d, sc, c->labels, &c->args);
    for (size_t j = 0; j < JVP_MAX; j++)
        c->r[j] = 0.5 + uniform(&s);

    adj_var *vin[3];
    adj_var *y = jvp_record(t, c, dtype, 0.0, vin);
    adj_status st = adj_tape_status(t);
    double jy[JVP_MAX];
    if (st == ADJ_OK && adj_numel(y) > JVP_MAX)
        st = ADJ_ESHAPE;
    if (st == ADJ_OK) {
        const double *dirs[3] = {c->v[0], c->v[1], c->v[2]};
        st = adj_jvp(y, sc->n, vin, dirs, jy);
    }
    if (st == ADJ_OK)
        st = adj_backward_seeded(y, c->r);
    if (st == ADJ_OK) {
        for (size_t j = 0; j < adj_numel(y); j++)
            rep->jvp += c->r[j] * jy[j];
        for (int i = 0; i < sc->n; i++)
            for (size_t j = 0; j < c->numel[i]; j++)
                rep->vjp += adj_grad_at(vin[i], j) * c->v[i][j];
        const double h = 1e-6;
        adj_status s1, s2;
        double gp = jvp_probe(t, c, h, &s1), gm = jvp_probe(t, c, -h, &s2);
        st = s1 != ADJ_OK ? s1 : s2;
        rep->numeric = (gp - gm) / (2 * h);
    }
    if (st != ADJ_OK) {
        rep->status = st;
        snprintf(rep->message, sizeof rep->message, "adj_jvpcheck_op: adj_%s failed: %s", d->name,
                 adj_tape_message(t)[0] ? adj_tape_message(t) : adj_status_string(st));
    } else {
        rep->err_vjp = fabs(rep->jvp - rep->vjp) / (1 + fabs(rep->vjp));
        rep->err_numeric = fabs(rep->jvp - rep->numeric) / (1 + fabs(rep->numeric));
        double tv = dtype == ADJ_F64 ? 1e-12 : 1e-5, tn = dtype == ADJ_F64 ? 1e-7 : 2e-3;
        rep->passed = rep->err_vjp <= tv && rep->err_numeric <= tn;
    }
    adj_tape_free(t);
    free(c);
    return rep->status;
}
