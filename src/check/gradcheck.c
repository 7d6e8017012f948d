/*
 * Gradient checking: backward's adjoints against central finite
 * differences in double.
 *
 * Kinks.  At a point where f is not differentiable the one-sided
 * differences d+ = (f(x+h) - f(x))/h and d- = (f(x) - f(x-h))/h differ by
 * a jump that does not shrink with h; for a smooth f their gap is about
 * f''(x) h and halves when h halves.  An element whose gap is large and
 * does not halve is reported as a kink and left out of pass/fail.
 */
#include "core/tape.h"
#include "adjoint/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
    adj_gradcheck_fn fn;
    void *user;
    int n;
    const adj_gradcheck_input *in;
    double *x[ADJ_GRADCHECK_MAX_INPUTS]; /* working copies of the inputs */
    size_t numel[ADJ_GRADCHECK_MAX_INPUTS];
    adj_tape *t;
    adj_gradcheck_report *rep;
} ctx;

static void set_error(adj_gradcheck_report *r, adj_status s, const char *what, const char *msg)
{
    r->status = s;
    snprintf(r->message, sizeof r->message, "%s%s%s", what, msg && *msg ? ": " : "", msg ? msg : "");
}

/* Build the function's inputs on c->t (in dtype) from the working copies. */
static adj_var *build(ctx *c, adj_dtype dtype, adj_var **vars)
{
    for (int i = 0; i < c->n; i++) {
        const adj_gradcheck_input *in = &c->in[i];
        if (dtype == ADJ_F64) {
            vars[i] = adj_leaf_at(c->t, ADJ_F64, in->ndim, in->shape, c->x[i], 1, __FILE__, __LINE__);
        } else {
            float *tmp = adj_arena_alloc(c->t, c->numel[i] * sizeof(float) + 1);
            if (!tmp)
                return NULL;
            for (size_t j = 0; j < c->numel[i]; j++)
                tmp[j] = (float)c->x[i][j];
            vars[i] = adj_leaf_at(c->t, ADJ_F32, in->ndim, in->shape, tmp, 1, __FILE__, __LINE__);
        }
    }
    return c->fn(c->t, vars, c->n, c->user);
}

/* f at the working point, in double; NaN (and status set) on failure. */
static double eval(ctx *c)
{
    adj_var *vars[ADJ_GRADCHECK_MAX_INPUTS];
    adj_tape_reset(c->t);
    adj_var *y = build(c, ADJ_F64, vars);
    c->rep->evaluations++;
    if (adj_tape_status(c->t) != ADJ_OK || !y) {
        set_error(c->rep, y ? adj_tape_status(c->t) : ADJ_EINVAL, "the function failed",
                  y ? adj_tape_message(c->t) : "it returned NULL");
        return NAN;
    }
    if (adj_numel(y) != 1) {
        set_error(c->rep, ADJ_ESHAPE, "the function must return one element", NULL);
        return NAN;
    }
    return adj_item(y);
}

/* Central difference at element j of input i, and whether it is a kink. */
static double numeric(ctx *c, int i, size_t j, double h, double f0, int *kink)
{
    double *x = &c->x[i][j], x0 = *x;
    *x = x0 + h;
    double fp = eval(c);
    *x = x0 - h;
    double fm = eval(c);
    double central = (fp - fm) / (2 * h);
    double gap = fabs((fp - f0) - (f0 - fm)) / h;
    *kink = 0;
    if (gap > 1e-5 * (1 + fabs(central))) {
        /* halve h: a smooth function's gap halves too, a kink's stays */
        double h2 = h / 2;
        *x = x0 + h2;
        double fp2 = eval(c);
        *x = x0 - h2;
        double fm2 = eval(c);
        double gap2 = fabs((fp2 - f0) - (f0 - fm2)) / h2;
        *kink = gap2 > 0.75 * gap;
    }
    *x = x0;
    return central;
}

adj_status adj_gradcheck(adj_gradcheck_fn fn, void *user, int n, const adj_gradcheck_input *in,
                         const adj_gradcheck_opts *opts, adj_gradcheck_report *rep)
{
    if (!rep)
        return ADJ_EINVAL;
    memset(rep, 0, sizeof *rep);
    if (!fn || n < 1 || n > ADJ_GRADCHECK_MAX_INPUTS || !in) {
        set_error(rep, ADJ_EINVAL, "adj_gradcheck: need a function and 1..8 inputs", NULL);
        return rep->status;
    }
    adj_gradcheck_opts o = {ADJ_F64, 0, 0, 0};
    if (opts)
        o = *opts;
    if (o.eps <= 0)
        o.eps = 1e-6;
    if (o.atol <= 0 && o.rtol <= 0) {
        o.atol = o.dtype == ADJ_F64 ? 1e-7 : 1e-4;
        o.rtol = o.dtype == ADJ_F64 ? 1e-5 : 2e-2;
    }

    ctx c = {.fn = fn, .user = user, .n = n, .in = in, .rep = rep};
    rep->n_inputs = n;
    for (int i = 0; i < n; i++) {
        if (!adj_shape_numel(in[i].ndim, in[i].shape, &c.numel[i]) || (!in[i].data && c.numel[i])) {
            set_error(rep, ADJ_EINVAL, "adj_gradcheck: an input has an invalid shape or no data", NULL);
            goto done;
        }
        c.x[i] = malloc(c.numel[i] * sizeof(double) + 1);
        if (!c.x[i]) {
            set_error(rep, ADJ_ENOMEM, "adj_gradcheck: out of memory", NULL);
            goto done;
        }
        if (c.numel[i])
            memcpy(c.x[i], in[i].data, c.numel[i] * sizeof(double));
    }
    c.t = adj_tape_new();
    if (!c.t) {
        set_error(rep, ADJ_ENOMEM, "adj_gradcheck: out of memory", NULL);
        goto done;
    }

    /* the analytic pass, in the requested dtype */
    adj_var *vars[ADJ_GRADCHECK_MAX_INPUTS];
    adj_var *y = build(&c, o.dtype, vars);
    rep->evaluations++;
    if (adj_tape_status(c.t) != ADJ_OK || !y) {
        set_error(rep, y ? adj_tape_status(c.t) : ADJ_EINVAL, "the function failed",
                  y ? adj_tape_message(c.t) : "it returned NULL");
        goto done;
    }
    if (adj_backward(y) != ADJ_OK) {
        set_error(rep, adj_tape_status(c.t), "backward failed", adj_tape_message(c.t));
        goto done;
    }
    double *analytic[ADJ_GRADCHECK_MAX_INPUTS] = {0};
    for (int i = 0; i < n; i++) {
        analytic[i] = malloc(c.numel[i] * sizeof(double) + 1);
        if (!analytic[i]) {
            set_error(rep, ADJ_ENOMEM, "adj_gradcheck: out of memory", NULL);
            for (int k = 0; k < i; k++)
                free(analytic[k]);
            goto done;
        }
        adj_copy_grad(vars[i], analytic[i]);
    }

    /* the numeric pass, always in double */
    double f0 = eval(&c);
    rep->value = f0;
    rep->passed = rep->status == ADJ_OK;
    for (int i = 0; i < n && rep->status == ADJ_OK; i++) {
        adj_gradcheck_result *r = &rep->inputs[i];
        double worst = -1;
        r->numel = c.numel[i];
        r->passed = 1;
        for (size_t j = 0; j < c.numel[i] && rep->status == ADJ_OK; j++) {
            int kink;
            double num = numeric(&c, i, j, o.eps, f0, &kink);
            double ana = analytic[i][j];
            if (kink) {
                if (!r->kinks++)
                    r->first_kink = j;
                continue;
            }
            double err = fabs(ana - num);
            double scale = fmax(fabs(ana), fabs(num));
            double rel = scale > 0 ? err / scale : 0;
            if (!(err <= o.atol + o.rtol * fabs(num)))
                r->passed = 0;
            /* the worst element is the one furthest past its tolerance */
            double badness = err / (o.atol + o.rtol * fabs(num));
            if (badness != badness)
                badness = INFINITY;
            if (badness > worst) {
                worst = badness;
                r->worst_index = j;
                r->analytic = ana;
                r->numeric = num;
                r->abs_err = err;
                r->rel_err = rel;
            }
            if (rel > rep->max_rel_err || rel != rel)
                rep->max_rel_err = rel != rel ? INFINITY : rel;
        }
        if (!r->passed)
            rep->passed = 0;
    }
    if (rep->status != ADJ_OK)
        rep->passed = 0;
    for (int i = 0; i < n; i++)
        free(analytic[i]);
done:
    adj_tape_free(c.t);
    for (int i = 0; i < n; i++)
        free(c.x[i]);
    return rep->status;
}
