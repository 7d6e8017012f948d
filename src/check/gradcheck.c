/*
 * Gradient checking: backward's adjoints against central finite
 * differences in double.
 *
 * Kinks.  At a point where f is not differentiable the one-sided
 * differences d+ = (f(x+h) - f(x))/h and d- = (f(x) - f(x-h))/h differ by
 * a jump that does not shrink with h; for a smooth f their gap is about
 * f''(x) h and halves when h halves.  An element whose gap is large and
 * does not halve is reported as a kink and left out of pass/fail.
 *
 * Replay (opts.replay).  Each evaluator records the function once at the
 * base point and evaluates f(x + h e_j) by recomputing only what depends
 * on element j (check/replay.c), then restores the base values.  It
 * assumes the graph does not depend on the input values; a few
 * perturbations per input (spot elements: first, quarter, middle, three
 * quarters, last) are also evaluated for real on a second tape, and a
 * different op sequence or a different f fails the check.
 */
#include "core/handle.h"
#include "core/tape.h"
#include "adjoint/check.h"
#include "check/replay.h"
#include "check/tolerance.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A function whose result is not on the tape it was given would be checked
 * against nothing: the inputs it was given would not reach it. */
#define OTHER_TAPE                                                             \
    "it returned a var of another tape (it must record on the tape it is given, " \
    "from the inputs it is given)"

/* One evaluator: a tape and its own working copy of the inputs, perturbed
 * in place (the numeric pass builds its leaves as views of the copy). */
typedef struct evaluator {
    adj_gradcheck_fn fn;
    void *user;
    int n;
    const adj_gradcheck_input *in;
    const size_t *numel;
    double *x[ADJ_GRADCHECK_MAX_INPUTS];
    adj_tape *t;
    adj_replay *rp;     /* replay of the graph recorded on t, or NULL */
    adj_tape *t2;       /* real evaluations that check the replay */
    bool spot;          /* check the next replayed evaluations for real */
    size_t evaluations;
    adj_status status;
    char message[256];
} evaluator;

static void set_error(adj_gradcheck_report *r, adj_status s, const char *what, const char *msg)
{
    r->status = s;
    snprintf(r->message, sizeof r->message, "%s%s%s", what, msg && *msg ? ": " : "", msg ? msg : "");
}

static void eval_error(evaluator *e, adj_status s, const char *what, const char *msg)
{
    if (e->status != ADJ_OK)
        return;
    e->status = s;
    snprintf(e->message, sizeof e->message, "%s%s%s", what, msg && *msg ? ": " : "", msg ? msg : "");
}

static bool evaluator_init(evaluator *e, adj_gradcheck_fn fn, void *user, int n,
                           const adj_gradcheck_input *in, const size_t *numel)
{
    memset(e, 0, sizeof *e);
    e->fn = fn;
    e->user = user;
    e->n = n;
    e->in = in;
    e->numel = numel;
    for (int i = 0; i < n; i++) {
        e->x[i] = malloc(numel[i] * sizeof(double) + 1);
        if (!e->x[i])
            return false;
        if (numel[i])
            memcpy(e->x[i], in[i].data, numel[i] * sizeof(double));
    }
    e->t = adj_tape_new();
    return e->t != NULL;
}

static void evaluator_free(evaluator *e)
{
    adj_replay_free(e->rp);
    adj_tape_free(e->t2);
    adj_tape_free(e->t);
    for (int i = 0; i < e->n; i++)
        free(e->x[i]);
}

/* Build the function's inputs on tape t in dtype from the working copies. */
static adj_var *build_on(evaluator *e, adj_tape *t, adj_dtype dtype, adj_var **vars)
{
    for (int i = 0; i < e->n; i++) {
        const adj_gradcheck_input *in = &e->in[i];
        if (dtype == ADJ_F64) {
            /* a view: the numeric pass perturbs e->x in place, no copy */
            vars[i] = adj_leaf_view(t, ADJ_F64, in->ndim, in->shape, e->x[i], 1, __FILE__, __LINE__);
        } else {
            float *tmp = adj_arena_alloc(t, e->numel[i] * sizeof(float) + 1);
            if (!tmp)
                return NULL;
            for (size_t j = 0; j < e->numel[i]; j++)
                tmp[j] = (float)e->x[i][j];
            vars[i] = adj_h_raw(adj_leaf_at(t, ADJ_F32, in->ndim, in->shape, tmp, 1, __FILE__,
                                            __LINE__));
        }
    }
    /* the function gets handles, as from any public function; vars keeps the nodes */
    adj_var *h[ADJ_GRADCHECK_MAX_INPUTS];
    for (int i = 0; i < e->n; i++)
        h[i] = adj_h_out(vars[i]);
    return adj_h_in(e->fn(t, h, e->n, e->user), "adj_gradcheck");
}

static adj_var *build(evaluator *e, adj_dtype dtype, adj_var **vars)
{
    return build_on(e, e->t, dtype, vars);
}

/* Record f at the working point on t, in double; NULL (and e->status set)
 * on failure. */
static adj_var *record(evaluator *e, adj_tape *t, adj_var **vars)
{
    adj_tape_reset(t);
    adj_var *y = build_on(e, t, ADJ_F64, vars);
    if (adj_tape_status(t) != ADJ_OK || !y) {
        eval_error(e, y ? adj_tape_status(t) : ADJ_EINVAL, "the function failed",
                   y ? adj_tape_message(t) : "it returned NULL");
        return NULL;
    }
    if (adj_node_tape(y) != t) {
        eval_error(e, ADJ_ETAPE, "the function failed", OTHER_TAPE);
        return NULL;
    }
    if (adj_numel(y) != 1) {
        eval_error(e, ADJ_ESHAPE, "the function must return one element", NULL);
        return NULL;
    }
    return y;
}

/* f at the working point, in double; NaN (and e->status set) on failure. */
static double eval(evaluator *e)
{
    adj_var *vars[ADJ_GRADCHECK_MAX_INPUTS];
    adj_var *y = record(e, e->t, vars);
    e->evaluations++;
    return y ? adj_item(y) : NAN;
}

/* Record the function once at the base point and prepare its replay. */
static void replay_start(evaluator *e)
{
    adj_var *vars[ADJ_GRADCHECK_MAX_INPUTS];
    adj_var *y = record(e, e->t, vars);
    if (!y)
        return;
    e->t2 = adj_tape_new();
    e->rp = e->t2 ? adj_replay_new(e->t, y, e->n, vars) : NULL;
    if (!e->rp)
        eval_error(e, ADJ_ENOMEM, "adj_gradcheck: out of memory (replay)", NULL);
}

/* The replayed f at the working point (element j of input i perturbed)
 * against a real evaluation: the same ops in the same order, the same f
 * to rounding. */
static void replay_verify(evaluator *e, int i, size_t j, double f)
{
    adj_var *vars[ADJ_GRADCHECK_MAX_INPUTS];
    adj_var *y = record(e, e->t2, vars);
    if (!y)
        return;
    size_t n1 = e->t->nnodes, n2 = e->t2->nnodes, diff = n1 < n2 ? n1 : n2;
    for (size_t id = 0; id < diff; id++)
        if (adj_node_at(e->t, id)->op != adj_node_at(e->t2, id)->op) {
            diff = id;
            break;
        }
    char msg[256];
    if (n1 != n2 || diff < n1) {
        snprintf(msg, sizeof msg,
                 "replay: the function's graph depends on its input values (%s at node %zu when "
                 "element %zu of input %d changes); run without replay",
                 n1 != n2 ? "node count differs" : "op differs", diff, j, i);
        eval_error(e, ADJ_EINVAL, msg, NULL);
        return;
    }
    double fr = adj_item(y);
    if (f != fr && !(isnan(f) && isnan(fr)) && !(fabs(f - fr) <= 1e-12 * (1 + fabs(fr)))) {
        snprintf(msg, sizeof msg,
                 "replay: f differs from a real evaluation (%.17g vs %.17g, element %zu of input "
                 "%d): fn uses input values outside its recorded ops; run without replay",
                 f, fr, j, i);
        eval_error(e, ADJ_EINVAL, msg, NULL);
    }
}

/* f with element j of input i at its working value. */
static double eval_at(evaluator *e, int i, size_t j)
{
    if (!e->rp)
        return eval(e);
    e->evaluations++;
    double f = adj_replay_eval(e->rp, i, j);
    if (e->spot)
        replay_verify(e, i, j, f);
    return f;
}

/* The elements whose replayed evaluations are checked for real. */
static bool spot(size_t j, size_t n)
{
    return j == 0 || j == n - 1 || j == n / 2 || j == n / 4 || j == 3 * n / 4;
}

/* Central difference at element j of input i, and whether it is a kink. */
static double numeric(evaluator *e, int i, size_t j, double h, double f0, bool *kink)
{
    double *x = &e->x[i][j], x0 = *x;
    e->spot = e->rp && spot(j, e->numel[i]);
    *x = x0 + h;
    double fp = eval_at(e, i, j);
    *x = x0 - h;
    double fm = eval_at(e, i, j);
    double central = (fp - fm) / (2 * h);
    double gap = fabs((fp - f0) - (f0 - fm)) / h;
    *kink = false;
    if (gap > 1e-5 * (1 + fabs(central))) {
        /* halve h: a smooth function's gap halves too, a kink's stays */
        double h2 = h / 2;
        *x = x0 + h2;
        double fp2 = eval_at(e, i, j);
        *x = x0 - h2;
        double fm2 = eval_at(e, i, j);
        double gap2 = fabs((fp2 - f0) - (f0 - fm2)) / h2;
        *kink = gap2 > 0.75 * gap;
    }
    *x = x0;
    return central;
}

/* The numeric pass over elements [lo, hi) of the flattened inputs. */
typedef struct job {
    evaluator e;
    size_t lo, hi;
    const size_t *start; /* flat index of input i's first element */
    double h, f0;
    bool replay;
    double *num;         /* per flat element */
    bool *kink;
} job;

static void run_job(job *jb)
{
    int i = 0;
    if (jb->replay && jb->lo < jb->hi && jb->e.status == ADJ_OK)
        replay_start(&jb->e);
    for (size_t f = jb->lo; f < jb->hi && jb->e.status == ADJ_OK; f++) {
        while (f >= jb->start[i + 1])
            i++;
        jb->num[f] = numeric(&jb->e, i, f - jb->start[i], jb->h, jb->f0, &jb->kink[f]);
    }
}

static void *job_thread(void *arg)
{
    run_job(arg);
    return NULL;
}

adj_status adj_gradcheck(adj_gradcheck_fn fn, void *user, int n, const adj_gradcheck_input *in,
                         const adj_gradcheck_opts *opts, adj_gradcheck_report *rep)
{
    if (!rep)
        return ADJ_EINVAL;
    memset(rep, 0, sizeof *rep);
    if (!fn || !in) {
        set_error(rep, ADJ_EINVAL, !fn ? "adj_gradcheck: the function is NULL"
                                       : "adj_gradcheck: the inputs are NULL", NULL);
        return rep->status;
    }
    if (n < 1 || n > ADJ_GRADCHECK_MAX_INPUTS) {
        snprintf(rep->message, sizeof rep->message, "adj_gradcheck: %d inputs (1..%d)", n,
                 ADJ_GRADCHECK_MAX_INPUTS);
        rep->status = ADJ_EINVAL;
        return rep->status;
    }
    adj_gradcheck_opts o = {.dtype = ADJ_F64};
    if (opts)
        o = *opts;
    if (o.dtype != ADJ_F32 && o.dtype != ADJ_F64) {
        set_error(rep, ADJ_EINVAL, "adj_gradcheck: unknown dtype", NULL);
        return rep->status;
    }
    /* 0 means the default; anything else must be a usable number, or the
     * verdict would mean nothing (NaN tolerances fail everything, infinite
     * ones pass everything, an infinite step measures nothing) */
    if (!(o.eps >= 0 && isfinite(o.eps))) {
        snprintf(rep->message, sizeof rep->message,
                 "adj_gradcheck: eps %g is not a finite step >= 0 (0: the default 1e-6)", o.eps);
        rep->status = ADJ_EINVAL;
        return rep->status;
    }
    if (!(o.atol >= 0 && isfinite(o.atol)) || !(o.rtol >= 0 && isfinite(o.rtol))) {
        snprintf(rep->message, sizeof rep->message,
                 "adj_gradcheck: tolerances atol %g, rtol %g must be finite and >= 0 (0, 0: the "
                 "defaults)",
                 o.atol, o.rtol);
        rep->status = ADJ_EINVAL;
        return rep->status;
    }
    if (o.eps == 0)
        o.eps = 1e-6;
    if (o.atol == 0 && o.rtol == 0) {
        o.atol = o.dtype == ADJ_F64 ? ADJ_GRADCHECK_ATOL_F64 : ADJ_GRADCHECK_ATOL_F32;
        o.rtol = o.dtype == ADJ_F64 ? ADJ_GRADCHECK_RTOL_F64 : ADJ_GRADCHECK_RTOL_F32;
    }
    int nthreads = o.threads < 1 ? 1 : o.threads > 64 ? 64 : o.threads;

    size_t numel[ADJ_GRADCHECK_MAX_INPUTS], start[ADJ_GRADCHECK_MAX_INPUTS + 1] = {0};
    rep->n_inputs = n;
    for (int i = 0; i < n; i++) {
        if (!adj_shape_numel(in[i].ndim, in[i].shape, &numel[i]) || (!in[i].data && numel[i])) {
            set_error(rep, ADJ_EINVAL, "adj_gradcheck: an input has an invalid shape or no data", NULL);
            return rep->status;
        }
        start[i + 1] = start[i] + numel[i];
    }
    const size_t total = start[n];

    job *jobs = calloc((size_t)nthreads, sizeof *jobs);
    double *analytic = malloc((total + 1) * sizeof *analytic);
    double *num = malloc((total + 1) * sizeof *num);
    bool *kink = calloc(total + 1, sizeof *kink);
    int ready = 0;
    if (!jobs || !analytic || !num || !kink) {
        set_error(rep, ADJ_ENOMEM, "adj_gradcheck: out of memory", NULL);
        goto done;
    }
    for (; ready < nthreads; ready++)
        if (!evaluator_init(&jobs[ready].e, fn, user, n, in, numel)) {
            evaluator_free(&jobs[ready].e);
            set_error(rep, ADJ_ENOMEM, "adj_gradcheck: out of memory", NULL);
            goto done;
        }

    /* the analytic pass, in the requested dtype */
    evaluator *e0 = &jobs[0].e;
    adj_var *vars[ADJ_GRADCHECK_MAX_INPUTS];
    adj_var *y = build(e0, o.dtype, vars);
    rep->evaluations++;
    if (adj_tape_status(e0->t) != ADJ_OK || !y) {
        set_error(rep, y ? adj_tape_status(e0->t) : ADJ_EINVAL, "adj_gradcheck: the function failed",
                  y ? adj_tape_message(e0->t) : "it returned NULL");
        goto done;
    }
    if (adj_node_tape(y) != e0->t) {
        set_error(rep, ADJ_ETAPE, "adj_gradcheck: the function failed", OTHER_TAPE);
        goto done;
    }
    if (adj_backward(y) != ADJ_OK) {
        set_error(rep, adj_tape_status(e0->t), "backward failed", adj_tape_message(e0->t));
        goto done;
    }
    for (int i = 0; i < n; i++)
        adj_copy_grad(vars[i], analytic + start[i]);

    /* the numeric pass, always in double, split into contiguous ranges */
    double f0 = eval(e0);
    if (e0->status != ADJ_OK) {
        set_error(rep, e0->status, e0->message, NULL);
        goto done;
    }
    rep->value = f0;
    pthread_t th[64];
    int started = 0;
    for (int k = 0; k < nthreads; k++) {
        job *jb = &jobs[k];
        jb->lo = total * (size_t)k / (size_t)nthreads;
        jb->hi = total * (size_t)(k + 1) / (size_t)nthreads;
        jb->start = start;
        jb->h = o.eps;
        jb->f0 = f0;
        jb->replay = o.replay != 0;
        jb->num = num;
        jb->kink = kink;
    }
    for (int k = 1; k < nthreads; k++) {
        if (pthread_create(&th[k], NULL, job_thread, &jobs[k]) != 0)
            break;
        started = k;
    }
    run_job(&jobs[0]);
    for (int k = 1; k <= started; k++)
        pthread_join(th[k], NULL);
    for (int k = started + 1; k < nthreads; k++)
        run_job(&jobs[k]); /* threads that could not start: do their share here */
    for (int k = 0; k < nthreads; k++) {
        rep->evaluations += jobs[k].e.evaluations;
        if (jobs[k].e.status != ADJ_OK && rep->status == ADJ_OK)
            set_error(rep, jobs[k].e.status, jobs[k].e.message, NULL);
    }
    if (rep->status != ADJ_OK)
        goto done;
    if (o.numeric && total)
        memcpy(o.numeric, num, total * sizeof *num);

    /* the report, element by element in order: independent of threads */
    rep->passed = 1;
    for (int i = 0; i < n; i++) {
        adj_gradcheck_result *r = &rep->inputs[i];
        double worst = -1;
        r->numel = numel[i];
        r->passed = 1;
        for (size_t j = 0; j < numel[i]; j++) {
            size_t f = start[i] + j;
            double ana = analytic[f], nu = num[f];
            if (kink[f]) {
                if (!r->kinks++)
                    r->first_kink = j;
                continue;
            }
            double err = fabs(ana - nu);
            double scale = fmax(fabs(ana), fabs(nu));
            double rel = scale > 0 ? err / scale : 0;
            if (!adj_within_tol(err, o.atol + o.rtol * fabs(nu)))
                r->passed = 0;
            /* the worst element is the one furthest past its tolerance */
            double badness = adj_tol_ratio(err, o.atol + o.rtol * fabs(nu));
            if (badness > worst) {
                worst = badness;
                r->worst_index = j;
                r->analytic = ana;
                r->numeric = nu;
                r->abs_err = err;
                r->rel_err = rel;
            }
            if (rel > rep->max_rel_err || rel != rel)
                rep->max_rel_err = rel != rel ? INFINITY : rel;
        }
        if (!r->passed)
            rep->passed = 0;
    }
done:
    if (rep->status != ADJ_OK)
        rep->passed = 0;
    for (int k = 0; k < ready; k++)
        evaluator_free(&jobs[k].e);
    free(jobs);
    free(analytic);
    free(num);
    free(kink);
    return rep->status;
}
