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
#include "check/opcheck.h"
#include "core/tape.h"
#include "ops/op.h"
#include "adjoint/check.h"
#include "adjoint/forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const adj_op_case *cases_of(adj_op op, int *count)
{
    *count = 0;
    if ((unsigned)op >= ADJ_OP_COUNT || !adj_op_table[op]->cases)
        return NULL;
    *count = adj_op_table[op]->ncases;
    return adj_op_table[op]->cases;
}

/* The attributes a case records with. */
static const void *case_attr(const adj_op_desc *d, const adj_op_case *sc)
{
    return sc->attr ? sc->attr : d->case_attr;
}

static adj_domain dom_of(const adj_op_desc *d, int i) { return d->dom[i < 3 ? i : 2]; }

/* Input i of the op is an index tensor (not perturbed, not checked). */
static bool is_index(const adj_op_desc *d, int i)
{
    return i < 32 && ((d->index_inputs >> i) & 1u);
}

static size_t case_numel(const adj_op_case *sc, int i)
{
    size_t n = 1;
    for (int k = 0; k < sc->ndim[i]; k++)
        n *= (size_t)sc->shape[i][k];
    return n;
}

/* Index input i of a case as a leaf on t: every value below the smallest
 * dimension of the case's float inputs, which each indexing op accepts (a
 * row of a table, a position along an axis, a class of logits), in a
 * pattern that repeats indices as soon as there are more than that. */
static adj_var *case_index(adj_tape *t, const adj_op_desc *d, const adj_op_case *sc, int i)
{
    int64_t bound = INT64_MAX;
    for (int j = 0; j < sc->n; j++)
        for (int k = 0; !is_index(d, j) && k < sc->ndim[j]; k++)
            bound = sc->shape[j][k] < bound ? sc->shape[j][k] : bound;
    if (bound == INT64_MAX || bound < 1)
        bound = 1;
    int32_t v[ADJ_CASE_MAX_NUMEL];
    size_t n = case_numel(sc, i);
    for (size_t j = 0; j < n && j < ADJ_CASE_MAX_NUMEL; j++)
        v[j] = (int32_t)((j * 5 + 3 + (size_t)i) % (size_t)bound);
    return adj_index_at(t, sc->ndim[i], sc->shape[i], v, __FILE__, __LINE__);
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

/* ------------------------------------------------------------ feeding */

const char *adj_feed_name(int feed)
{
    static const char *const names[] = {"plain", "transposed", "step-sliced", "reversed"};
    return feed >= 0 && feed < ADJ_FEED_KINDS ? names[feed] : "?";
}

/* x as a non-contiguous view holding the same values (see opcheck.h),
 * recorded on x's tape; x itself for a 0-D x and ADJ_FEED_PLAIN. */
static adj_var *feed(adj_var *x, int kind)
{
    const char *F = __FILE__;
    x = adj_h_raw(x);
    if (kind == ADJ_FEED_PLAIN || x->ndim == 0)
        return x;
    if (kind == ADJ_FEED_TRANSPOSED && x->ndim >= 2) {
        adj_var *c = adj_contiguous_at(adj_transpose_axes_at(x, -1, -2, F, __LINE__), F, __LINE__);
        return adj_transpose_axes_at(c, -1, -2, F, __LINE__);
    }
    if (kind == ADJ_FEED_REVERSED) {
        adj_var *c = adj_contiguous_at(adj_slice_at(x, 0, -1, INT64_MIN, -1, F, __LINE__), F,
                                       __LINE__);
        return adj_slice_at(c, 0, -1, INT64_MIN, -1, F, __LINE__);
    }
    /* step: each element twice along a new last axis, then every other */
    int64_t sh[ADJ_MAX_DIMS];
    int n = x->ndim;
    if (n >= ADJ_MAX_DIMS)
        return x;
    memcpy(sh, adj_cold(x)->shape, (size_t)n * sizeof *sh);
    sh[n] = 2;
    adj_var *e = adj_expand_at(adj_unsqueeze_at(x, -1, F, __LINE__), n + 1, sh, F, __LINE__);
    return adj_select_at(adj_contiguous_at(e, F, __LINE__), -1, 0, F, __LINE__);
}

typedef struct opctx {
    adj_op op;
    const adj_op_case *sc;
    uint64_t rseed;
    int input, feed;    /* case input `input` is fed as `feed` */
    bool quad;          /* f gains sum(y^2) / 2 (the second-derivative check) */
} opctx;

/* f = sum(op(inputs) * R), plus sum(op(inputs)^2) / 2 with quad */
static adj_var *apply(adj_tape *t, adj_var *const *in, int n, void *user)
{
    opctx *c = user;
    const adj_op_desc *d = adj_op_table[c->op];
    adj_var *vin[ADJ_CASE_MAX_IN] = {NULL};
    /* the checked inputs in order; index inputs made here, the same each time */
    for (int i = 0, f = 0; i < c->sc->n && i < ADJ_CASE_MAX_IN; i++) {
        vin[i] = is_index(d, i) ? case_index(t, d, c->sc, i) : f < n ? in[f++] : NULL;
        if (i == c->input && vin[i])
            vin[i] = feed(vin[i], c->feed);
    }
    if (adj_tape_status(t) != ADJ_OK)
        return t->inert;
    /* an op of fixed arity gets all its slots (absent optional inputs NULL) */
    int nin = d->arity >= 0 ? d->arity : c->sc->n;
    adj_var *y = adj_record(c->op, vin, nin, case_attr(d, c->sc), __FILE__, __LINE__);
    if (adj_tape_status(t) != ADJ_OK)
        return y;
    uint64_t s = c->rseed;
    adj_dtype dt = adj_var_dtype(y);
    size_t m = adj_numel(y);
    if (dt == ADJ_I32) {
        /* an op whose result is an index tensor (argmax): f reads it as a
         * constant of the inputs' dtype, so its gradient must be 0 and the
         * finite differences must find it locally constant */
        dt = ADJ_F64;
        for (int i = 0; i < c->sc->n && i < ADJ_CASE_MAX_IN; i++)
            if (vin[i] && !is_index(d, i)) {
                dt = adj_var_dtype(vin[i]);
                break;
            }
        void *v = adj_arena_alloc(t, m * 8 + 8);
        if (!v)
            return NULL;
        for (size_t i = 0; i < m; i++) {
            if (dt == ADJ_F64)
                ((double *)v)[i] = adj_value_at(y, i);
            else
                ((float *)v)[i] = (float)adj_value_at(y, i);
        }
        y = adj_h_raw(y);
        y = adj_leaf_at(t, dt, y->ndim, adj_cold(y)->shape, v, 0, __FILE__, __LINE__);
    }
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
    const adj_var *yn = adj_h_raw(y);
    adj_var *R = adj_leaf_at(t, dt, yn->ndim, adj_cold(yn)->shape, r, 0, __FILE__, __LINE__);
    adj_var *f = adj_sum_at(adj_mul_at(y, R, __FILE__, __LINE__), __FILE__, __LINE__);
    if (c->quad)
        f = adj_add_at(f, adj_scale_at(adj_sum_at(adj_square_at(y, __FILE__, __LINE__), __FILE__,
                                                  __LINE__), 0.5, __FILE__, __LINE__),
                       __FILE__, __LINE__);
    return f;
}

adj_status adj_gradcheck_op(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                            adj_gradcheck_report *rep, char *describe, size_t describe_size)
{
    return adj_gradcheck_op_fed(op, dtype, shape_case, seed, -1, ADJ_FEED_PLAIN, rep, describe,
                                describe_size);
}

/* Input `input` of case sc can be fed as `feed`. */
static bool feedable(const adj_op_desc *d, const adj_op_case *sc, int input, int feed)
{
    if (feed < 0 || feed >= ADJ_FEED_KINDS)
        return false;
    return input == -1 || (input >= 0 && input < sc->n && !is_index(d, input));
}

static adj_status op_check(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed, int input,
                           int feed_kind, adj_gradcheck_report *rep, char *describe,
                           size_t describe_size, bool second);

adj_status adj_gradcheck_op_fed(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                                int input, int feed_kind, adj_gradcheck_report *rep,
                                char *describe, size_t describe_size)
{
    return op_check(op, dtype, shape_case, seed, input, feed_kind, rep, describe, describe_size,
                    false);
}

adj_status adj_gradgradcheck_op(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                                adj_gradcheck_report *rep, char *describe, size_t describe_size)
{
    return op_check(op, dtype, shape_case, seed, -1, ADJ_FEED_PLAIN, rep, describe,
                    describe_size, true);
}

adj_status adj_gradgradcheck_op_fed(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed,
                                    int input, int feed_kind, adj_gradcheck_report *rep,
                                    char *describe, size_t describe_size)
{
    return op_check(op, dtype, shape_case, seed, input, feed_kind, rep, describe, describe_size,
                    true);
}

/* The first- (adj_gradcheck) or second-order (adj_gradgradcheck) check of
 * one case of an op. */
static adj_status op_check(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed, int input,
                           int feed_kind, adj_gradcheck_report *rep, char *describe,
                           size_t describe_size, bool second)
{
    const char *who = second ? "adj_gradgradcheck_op" : "adj_gradcheck_op";
    int count;
    const adj_op_case *cases = cases_of(op, &count);
    if (!rep)
        return ADJ_EINVAL;
    memset(rep, 0, sizeof *rep);
    if (!cases || shape_case < 0 || shape_case >= count) {
        rep->status = ADJ_EINVAL;
        snprintf(rep->message, sizeof rep->message, "%s: op %d has no shape case %d", who,
                 (int)op, shape_case);
        return rep->status;
    }
    if (dtype != ADJ_F32 && dtype != ADJ_F64) {
        rep->status = ADJ_EINVAL;
        snprintf(rep->message, sizeof rep->message,
                 "%s: invalid dtype %d (ADJ_F32 or ADJ_F64)", who, (int)dtype);
        return rep->status;
    }
    const adj_op_case *sc = &cases[shape_case];
    const adj_op_desc *d = adj_op_table[op];
    if (!feedable(d, sc, input, feed_kind)) {
        rep->status = ADJ_EINVAL;
        snprintf(rep->message, sizeof rep->message,
                 "%s: adj_%s case %d has no float input %d to feed as %d", who, d->name,
                 shape_case, input, feed_kind);
        return rep->status;
    }
    opctx c = {.op = op, .sc = sc, .input = input, .feed = feed_kind, .quad = second};
    uint64_t s = seed ^ ((uint64_t)op << 32) ^ (uint64_t)shape_case;
    c.rseed = next(&s);

    double data[ADJ_CASE_MAX_IN][ADJ_CASE_MAX_NUMEL];
    adj_gradcheck_input in[ADJ_CASE_MAX_IN];
    size_t off = 0;
    int nf = 0; /* the inputs checked: all but the index tensors */
    if (describe && describe_size)
        describe[0] = '\0';
    for (int i = 0; i < sc->n; i++) {
        if (describe && off < describe_size) {
            char sh[64];
            adj_fmt_shape(sh, sizeof sh, sc->ndim[i], sc->shape[i]);
            off += (size_t)snprintf(describe + off, describe_size - off, "%s%s%s", i ? " x " : "",
                                    sh, is_index(d, i) ? " i32" : "");
        }
        if (is_index(d, i))
            continue;
        size_t numel = case_numel(sc, i);
        in[nf].ndim = sc->ndim[i];
        for (int k = 0; k < sc->ndim[i]; k++)
            in[nf].shape[k] = sc->shape[i][k];
        for (size_t j = 0; j < numel && j < ADJ_CASE_MAX_NUMEL; j++)
            data[nf][j] = draw(&s, dom_of(d, i));
        in[nf].data = data[nf];
        nf++;
    }
    if (describe && off < describe_size && sc->note)
        off += (size_t)snprintf(describe + off, describe_size - off, "%s", sc->note);
    if (describe && off < describe_size && input >= 0)
        snprintf(describe + off, describe_size - off, " (input %d %s)", input,
                 adj_feed_name(feed_kind));
    adj_gradcheck_opts o = {.dtype = dtype};
    if (nf > 0)
        return second ? adj_gradgradcheck(apply, &c, nf, in, &o, rep)
                      : adj_gradcheck(apply, &c, nf, in, &o, rep);
    /* only index inputs (one_hot): nothing to differentiate; the op must
     * record, give a finite f and want no gradient */
    adj_tape *t = adj_tape_new();
    if (!t) {
        rep->status = ADJ_ENOMEM;
        return rep->status;
    }
    adj_var *f = apply(t, NULL, 0, &c);
    rep->status = adj_tape_status(t);
    if (rep->status != ADJ_OK)
        snprintf(rep->message, sizeof rep->message, "%s", adj_tape_message(t));
    else {
        rep->value = adj_item(f);
        rep->passed = !adj_requires_grad(f) && isfinite(rep->value);
    }
    adj_tape_free(t);
    return rep->status;
}

/* ------------------------------------------------------------ forward mode */

/*
 * The forward-mode check: the op's tangent rule (jvp) against its adjoint
 * rule (backward) and against a central difference along the direction v.
 * For a linear map J and any R, v: <R, J v> = <J^T R, v>.
 */

#define JVP_MAX ADJ_CASE_MAX_NUMEL /* elements per input and output in the cases */

typedef struct jvpctx {
    adj_op op;
    const adj_op_case *sc;
    int input, feed;    /* case input `input` is fed as `feed` */
    double x[ADJ_CASE_MAX_IN][JVP_MAX], v[ADJ_CASE_MAX_IN][JVP_MAX], r[JVP_MAX];
    size_t numel[ADJ_CASE_MAX_IN];
} jvpctx;

/* Record the op on t with inputs x + s v in dtype. */
static adj_var *jvp_record(adj_tape *t, const jvpctx *c, adj_dtype dtype, double s, adj_var **vin)
{
    const adj_op_desc *d = adj_op_table[c->op];
    adj_var *use[ADJ_CASE_MAX_IN];
    for (int i = 0; i < ADJ_CASE_MAX_IN; i++)
        vin[i] = use[i] = NULL;
    for (int i = 0; i < c->sc->n && i < ADJ_CASE_MAX_IN; i++) {
        if (is_index(d, i)) {
            vin[i] = case_index(t, d, c->sc, i);
            continue;
        }
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
    for (int i = 0; i < c->sc->n && i < ADJ_CASE_MAX_IN; i++)
        use[i] = i == c->input && !is_index(d, i) ? feed(vin[i], c->feed) : vin[i];
    return adj_record(c->op, use, d->arity >= 0 ? d->arity : c->sc->n, case_attr(d, c->sc),
                      __FILE__, __LINE__);
}

/* <R, op(x + s v)> in double */
static double jvp_probe(adj_tape *t, const jvpctx *c, double s, adj_status *st)
{
    adj_var *vin[ADJ_CASE_MAX_IN];
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
    return adj_jvpcheck_op_fed(op, dtype, shape_case, seed, -1, ADJ_FEED_PLAIN, rep);
}

adj_status adj_jvpcheck_op_fed(adj_op op, adj_dtype dtype, int shape_case, uint64_t seed, int input,
                               int feed_kind, adj_jvpcheck_report *rep)
{
    int count;
    const adj_op_case *cases = cases_of(op, &count);
    if (!rep)
        return ADJ_EINVAL;
    memset(rep, 0, sizeof *rep);
    if (!cases || shape_case < 0 || shape_case >= count || (dtype != ADJ_F64 && dtype != ADJ_F32) ||
        !feedable(adj_op_table[op], &cases[shape_case], input, feed_kind)) {
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
    const adj_op_case *sc = &cases[shape_case];
    const adj_op_desc *d = adj_op_table[op];
    uint64_t s = seed ^ ((uint64_t)op << 32) ^ (uint64_t)shape_case ^ 0x6a09e667f3bcc908ull;
    c->op = op;
    c->sc = sc;
    c->input = input;
    c->feed = feed_kind;
    for (int i = 0; i < sc->n; i++) {
        size_t numel = 1;
        for (int k = 0; k < sc->ndim[i]; k++)
            numel *= (size_t)sc->shape[i][k];
        c->numel[i] = numel < JVP_MAX ? numel : JVP_MAX;
        for (size_t j = 0; j < c->numel[i]; j++) {
            c->x[i][j] = draw(&s, dom_of(d, i));
            c->v[i][j] = -1 + 2 * uniform(&s);
        }
    }
    for (size_t j = 0; j < JVP_MAX; j++)
        c->r[j] = 0.5 + uniform(&s);

    adj_var *vin[ADJ_CASE_MAX_IN];
    adj_var *y = jvp_record(t, c, dtype, 0.0, vin);
    adj_status st = adj_tape_status(t);
    double jy[JVP_MAX];
    if (st == ADJ_OK && adj_numel(y) > JVP_MAX)
        st = ADJ_ESHAPE;
    if (st == ADJ_OK) {
        /* the directions move the float inputs; index tensors stay */
        const double *dirs[ADJ_CASE_MAX_IN];
        adj_var *wrt[ADJ_CASE_MAX_IN];
        int nw = 0;
        for (int i = 0; i < sc->n && i < ADJ_CASE_MAX_IN; i++)
            if (!is_index(d, i) && nw < ADJ_CASE_MAX_IN) {
                wrt[nw] = vin[i];
                dirs[nw++] = c->v[i];
            }
        st = adj_jvp(y, nw, wrt, dirs, jy);
    }
    /* an index-valued result has no adjoint: its vjp is 0, as its tangent */
    if (st == ADJ_OK && adj_var_dtype(y) != ADJ_I32)
        st = adj_backward_seeded(y, c->r);
    if (st == ADJ_OK) {
        for (size_t j = 0; j < adj_numel(y); j++)
            rep->jvp += c->r[j] * jy[j];
        for (int i = 0; i < sc->n; i++)
            for (size_t j = 0; j < c->numel[i] && !is_index(d, i); j++)
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
