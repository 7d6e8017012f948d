/*
 * The training loop (include/adjoint/train.h): batches of rows or token
 * windows, the loss of the task, the optimizer and its schedule, the
 * data-parallel hooks, evaluation after each epoch, checkpoints and the
 * progress callback.  Evaluation is in trainer_eval.c.
 */
#include "nn/trainer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *adj_train_task_name(adj_train_task t)
{
    static const char *const names[] = {"auto", "classify", "reconstruct", "lm"};
    return (unsigned)t < ADJ_TASK_COUNT ? names[t] : "?";
}

adj_train_config adj_train_defaults(void)
{
    adj_train_config c;
    memset(&c, 0, sizeof c);
    c.optim = adj_optim_defaults(ADJ_OPTIM_ADAM);
    c.schedule.kind = ADJ_LR_CONSTANT;
    c.schedule.gamma = 0.1;
    c.batch = 64;
    c.epochs = 1;
    c.seed = 1;
    return c;
}

/* g *= w over the store's gradient block. */
static void scale_grads(adj_params *p, double w)
{
    size_t n = adj_params_numel(p);
    if (adj_params_dtype(p) == ADJ_F64) {
        double *g = adj_params_grads(p);
        for (size_t i = 0; i < n; i++)
            g[i] *= w;
    } else {
        float *g = adj_params_grads(p);
        for (size_t i = 0; i < n; i++)
            g[i] *= (float)w;
    }
}

/* The state of one run. */
typedef struct run {
    adj_model *m;
    const adj_train_data *d;
    const adj_train_config *c;
    adj_train_task task;
    adj_tape *t;
    adj_optim *opt;
    adj_batcher *bat;
    adj_rng windows;
    int32_t *ix, *iy; /* a corpus: the step's windows */
    int32_t *pred;    /* classify: the step's predictions */
    size_t correct;   /* classify: right predictions of the step */
    void *scratch;    /* inputs converted to the model's dtype */
    size_t scratch_n;
    int rank, size;
    const adj_train_comm *comm;
    adj_trainer_pos start; /* where the run starts (resume) */
    int resumed;           /* start came from a state file */
} run;

/* Every rank says whether it failed; nonzero when any did. */
static int agree(run *r, int failed, const char *what)
{
    if (r->size > 1)
        return r->comm->agree(r->comm->ctx, failed, what);
    return failed;
}

/* The loss of one step on rows [lo, lo + n) of the batch x/y (or of the
 * corpus windows), on r->t. */
static adj_var *step_loss(run *r, const float *x, const int32_t *y, size_t lo, size_t n,
                          adj_error *err)
{
    if (r->task == ADJ_TASK_LM) {
        size_t T = (size_t)r->d->seq;
        return adj_trainer_lm_loss(r->m, r->t, r->ix + lo * T, r->iy + lo * T, n, T);
    }
    size_t cols = r->d->train->cols;
    adj_var *xv = adj_trainer_input(r->m, r->t, r->d, x + lo * cols, n, &r->scratch, &r->scratch_n);
    if (!xv)
        return NULL;
    adj_var *out = adj_model_forward(r->m, xv);
    if (r->task == ADJ_TASK_CLASSIFY) {
        adj_var *l = adj_softmax_cross_entropy(out, y + lo);
        r->correct = 0;
        if (l && adj_argmax_rows(out, r->pred) == ADJ_OK)
            for (size_t i = 0; i < n; i++)
                r->correct += r->pred[i] == y[lo + i];
        return l;
    }
    (void)err;
    return adj_trainer_mse(r->m, r->t, out, x + lo * cols, n, cols, &r->scratch, &r->scratch_n);
}

/* Checks of the arguments; ADJ_OK or the first problem. */
static adj_status check(adj_model *m, const adj_train_data *d, const adj_train_config *c,
                        adj_error *err)
{
    if (!m || !d || !c)
        return adj_err_set(err, ADJ_EINVAL, "adj_train: the %s is NULL",
                           !m ? "model" : !d ? "data" : "configuration");
    adj_status s = adj_trainer_check_data(m, d, c, "adj_train", err);
    if (s != ADJ_OK)
        return s;
    if (c->batch < 1 || c->epochs < 1 || c->max_steps < 0 || c->start_epoch < 0 ||
        c->start_step < 0 || c->epoch_steps < 0 || c->checkpoint_every < 0 || c->min_rows < 0 ||
        c->eval_windows < 0)
        return adj_err_set(err, ADJ_EINVAL,
                           "adj_train: batch %lld and epochs %lld must be at least 1, and "
                           "max_steps %lld, start_epoch %lld, start_step %lld, epoch_steps %lld, "
                           "checkpoint_every %lld, min_rows %lld, eval_windows %lld not negative",
                           (long long)c->batch, (long long)c->epochs, (long long)c->max_steps,
                           (long long)c->start_epoch, (long long)c->start_step,
                           (long long)c->epoch_steps, (long long)c->checkpoint_every,
                           (long long)c->min_rows, (long long)c->eval_windows);
    const adj_train_comm *k = c->comm;
    if (k && k->size > 1 &&
        (!k->average_grads || !k->sum || !k->agree || k->rank < 0 || k->rank >= k->size))
        return adj_err_set(err, ADJ_EINVAL,
                           "adj_train: comm: %d ranks need average_grads, sum and agree hooks and "
                           "a rank in [0, %d), got rank %d",
                           k->size, k->size, k->rank);
    if (k && k->size > 1 && c->batch < k->size)
        return adj_err_set(err, ADJ_EINVAL, "adj_train: batch %lld is smaller than the %d ranks",
                           (long long)c->batch, k->size);
    if (!isfinite(c->schedule.base_lr) || c->schedule.base_lr < 0 || c->schedule.total < 0 ||
        c->schedule.step_size < 0 || c->schedule.warmup < 0 || !isfinite(c->schedule.gamma) ||
        !isfinite(c->schedule.min_lr))
        return adj_err_set(err, ADJ_EINVAL,
                           "adj_train: schedule: base_lr %g, total %lld, step_size %lld, warmup "
                           "%lld must not be negative, gamma %g and min_lr %g finite",
                           c->schedule.base_lr, (long long)c->schedule.total,
                           (long long)c->schedule.step_size, (long long)c->schedule.warmup,
                           c->schedule.gamma, c->schedule.min_lr);
    return ADJ_OK;
}

/* Evaluate val and test into p (rank 0; the others get NaN). */
static adj_status evaluate_sets(run *r, adj_train_progress *p, adj_error *err)
{
    p->val = p->test = p->val_loss = p->test_loss = NAN;
    if (r->rank != 0)
        return ADJ_OK;
    adj_status s = adj_trainer_eval(r->m, r->t, r->d, r->c, r->task, 1, &p->val, &p->val_loss,
                                    &r->scratch, &r->scratch_n, err);
    if (s == ADJ_OK && r->task != ADJ_TASK_LM)
        s = adj_trainer_eval(r->m, r->t, r->d, r->c, r->task, 2, &p->test, &p->test_loss,
                             &r->scratch, &r->scratch_n, err);
    return s;
}

static adj_status write_checkpoint(run *r, adj_train_progress *p, const adj_trainer_pos *pos,
                                   adj_error *err)
{
    int bad = 0;
    adj_status s = ADJ_OK;
    if (r->rank == 0) {
        s = adj_model_write(r->m, r->c->checkpoint, err);
        if (s == ADJ_OK)
            s = adj_trainer_state_write(r->c->checkpoint, r->opt, r->m, pos, err);
        bad = s != ADJ_OK;
    }
    if (agree(r, bad, "write a checkpoint"))
        return bad ? s : adj_err_set(err, ADJ_EIO, "adj_train: another rank failed to write a checkpoint");
    p->event = ADJ_TRAIN_CHECKPOINT;
    p->path = r->c->checkpoint;
    int stop = r->c->callback ? r->c->callback(p, r->c->user) : 0;
    p->path = NULL;
    return stop ? ADJ_ESTATE : ADJ_OK; /* ESTATE: asked to stop */
}

static adj_status train_loop(run *r, adj_train_result *res, adj_error *err)
{
    const adj_train_config *c = r->c;
    const adj_train_data *d = r->d;
    adj_params *P = adj_model_params(r->m);
    const int lm = r->task == ADJ_TASK_LM;
    size_t nbatch = (size_t)c->batch;
    size_t per_epoch = lm ? (size_t)(c->epoch_steps ? c->epoch_steps : 100) : adj_batcher_count(r->bat);
    size_t total_rows = lm ? per_epoch * nbatch : d->train->rows;
    int64_t planned = (int64_t)per_epoch * c->epochs;
    if (c->max_steps > 0 && c->max_steps < planned)
        planned = c->max_steps;
    adj_lr_schedule sched = c->schedule;
    if (sched.base_lr == 0)
        sched.base_lr = c->optim.lr;
    if (sched.total == 0)
        sched.total = planned;
    if (sched.step_size == 0)
        sched.step_size = (int64_t)per_epoch * (c->epochs > 3 ? c->epochs / 3 : 1);
    const size_t T = lm ? (size_t)d->seq : 1;
    const double unit = (double)T; /* rate: rows, or tokens */

    adj_train_progress p;
    memset(&p, 0, sizeof p);
    p.epochs = c->epochs;
    p.steps = planned;
    p.total = total_rows;
    p.val = p.test = p.val_loss = p.test_loss = NAN;
    int64_t step = r->start.step;
    /* a resumed run continues the shuffles and windows where they were:
     * from the state file (the window generator restored, the batches of
     * an unfinished epoch drawn again below), or replayed */
    for (int64_t e = 0; !lm && e < r->start.epoch; e++)
        adj_batcher_epoch(r->bat);
    for (int64_t s = 0; lm && !r->resumed && s < r->start.step; s++)
        if (adj_corpus_batch(d->corpus, 0, nbatch, T, &r->windows, r->ix, r->iy, err) != ADJ_OK)
            return err->status;
    size_t skip = (size_t)r->start.batches;
    adj_rng *drop = adj_model_dropout_rng(r->m);
    res->train_loss = NAN;
    adj_status st = ADJ_OK;
    for (int64_t epoch = r->start.epoch + 1; epoch <= c->epochs && step < planned; epoch++) {
        double t0 = now();
        const float *xb = NULL;
        const int32_t *yb = NULL;
        size_t k = skip; /* batches drawn this epoch */
        if (!lm) {
            adj_batcher_epoch(r->bat);
            for (size_t i = 0; i < skip; i++)
                adj_batcher_next(r->bat, NULL, NULL);
        }
        skip = 0;
        adj_model_set_training(r->m, 1);
        size_t nb, seen = 0, seen_local = 0;
        double sum = 0.0, right = 0.0;
        int want_stop = 0;
        p.epoch = epoch;
        for (;;) {
            if (step >= planned)
                break;
            if (k == per_epoch)
                break;
            k++;
            if (lm) {
                nb = nbatch;
                if (adj_corpus_batch(d->corpus, 0, nb, T, &r->windows, r->ix, r->iy, err) != ADJ_OK)
                    return err->status;
            } else if ((nb = adj_batcher_next(r->bat, &xb, &yb)) == 0) {
                break;
            }
            /* a batch whose shards are too small to train on (batch norm
             * on one row) sits this epoch out */
            if (c->min_rows > 1 && nb / (size_t)r->size < (size_t)c->min_rows)
                continue;
            size_t lo = nb * (size_t)r->rank / (size_t)r->size,
                   hi = nb * ((size_t)r->rank + 1) / (size_t)r->size, nl = hi - lo;
            double lv = 0.0;
            adj_params_zero_grad_lazy(P);
            int bad = 0;
            if (r->size > 1) /* each rank its own masks, reproducibly */
                adj_rng_seed(drop, c->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(r->rank + 1)) ^
                                       (0xbf58476d1ce4e5b9ULL * (uint64_t)step));
            if (nl > 0) {
                adj_tape_reset(r->t);
                adj_var *loss = step_loss(r, xb, yb, lo, nl, err);
                /* only the parameters' adjoints are read after the sweep */
                if (adj_backward_ex(loss, &(adj_backward_opts){.release_adjoints = 1}) != ADJ_OK) {
                    st = adj_tape_status(r->t);
                    if (st == ADJ_OK)
                        st = ADJ_EINVAL;
                    adj_err_set(err, st, "adj_train: step %lld: %s", (long long)step,
                                adj_tape_message(r->t));
                    bad = 1;
                } else {
                    lv = adj_item(loss);
                    if (!isfinite(lv)) {
                        st = adj_err_set(err, ADJ_ENUMERIC,
                                         "adj_train: the loss became %g at step %lld (epoch %lld); "
                                         "try a smaller learning rate",
                                         lv, (long long)step, (long long)epoch);
                        bad = 1;
                    }
                }
            }
            if (agree(r, bad, "take a training step"))
                return bad ? st : adj_err_set(err, ADJ_EIO, "adj_train: another rank failed to take a training step");
            if (r->size > 1) {
                /* each rank's loss is the mean over its nl rows: weight it
                 * by nl * size / nb so that the average is the gradient of
                 * the global mean when nb is not a multiple of size */
                if (nl * (size_t)r->size != nb)
                    scale_grads(P, (double)(nl * (size_t)r->size) / (double)nb);
                (void)adj_params_grads(P); /* pending zeros written: a hook may keep the block's pointer */
                if (r->comm->average_grads(r->comm->ctx, P))
                    return adj_err_set(err, ADJ_EIO, "adj_train: the gradient all-reduce failed at step %lld",
                                       (long long)step);
            }
            adj_optim_set_lr(r->opt, adj_lr_at(&sched, step));
            adj_optim_step(r->opt);
            step++;
            sum += lv * (double)nl;
            right += nl ? (double)r->correct : 0.0;
            seen += nb;
            seen_local += nl;
            if (c->callback) {
                double el = now() - t0;
                p.event = ADJ_TRAIN_STEP;
                p.step = step;
                p.rows = nb;
                p.seen = seen;
                p.loss = lv;
                p.epoch_loss = seen_local ? sum / (double)seen_local : 0.0;
                p.accuracy = r->task != ADJ_TASK_CLASSIFY ? NAN
                             : seen_local ? right / (double)seen_local : 0.0;
                p.lr = adj_optim_lr(r->opt);
                p.rate = el > 0 ? (double)seen * unit / el : 0.0;
                /* one process stops now; ranks stop together at the
                 * end of the epoch */
                if (c->callback(&p, c->user) != 0) {
                    want_stop = 1;
                    if (r->size == 1)
                        break;
                }
            }
        }
        double el = now() - t0;
        res->train_seconds += el;
        double t1 = now();
        /* the epoch's loss over every rank's rows; buffers averaged so that
         * evaluation and the saved model see one set */
        double sums[2] = {sum, right};
        if (r->size > 1 && (r->comm->sum(r->comm->ctx, sums, 2) ||
                            (r->comm->average_buffers &&
                             r->comm->average_buffers(r->comm->ctx, r->m))))
            return adj_err_set(err, ADJ_EIO, "adj_train: the ranks could not sum the epoch's loss");
        p.event = ADJ_TRAIN_EPOCH;
        p.step = step;
        p.seen = seen;
        p.seconds = el;
        p.rate = el > 0 ? (double)seen * unit / el : 0.0;
        sum = sums[0];
        right = sums[1];
        p.epoch_loss = seen ? sum / (double)seen : NAN;
        p.accuracy = r->task != ADJ_TASK_CLASSIFY ? NAN : seen ? right / (double)seen : NAN;
        p.lr = adj_optim_lr(r->opt);
        st = evaluate_sets(r, &p, err);
        if (agree(r, st != ADJ_OK, "evaluate"))
            return st != ADJ_OK ? st : adj_err_set(err, ADJ_EIO, "adj_train: another rank failed to evaluate");
        res->eval_seconds += now() - t1;
        res->epochs = epoch;
        res->steps = step;
        res->train_loss = p.epoch_loss;
        res->val = p.val;
        res->test = p.test;
        res->val_loss = p.val_loss;
        res->test_loss = p.test_loss;
        int stop = c->callback && c->callback(&p, c->user) != 0;
        stop = agree(r, stop || want_stop, "go on after an epoch");
        int last = stop || epoch == c->epochs || step >= planned;
        if (c->checkpoint && (last || (c->checkpoint_every && epoch % c->checkpoint_every == 0))) {
            adj_trainer_pos pos = r->start;
            int done = k >= per_epoch;
            pos.epoch = done ? epoch : epoch - 1;
            pos.step = step;
            pos.batches = done ? 0 : (int64_t)k;
            pos.windows = r->windows;
            st = write_checkpoint(r, &p, &pos, err);
            if (st == ADJ_ESTATE)
                stop = 1;
            else if (st != ADJ_OK)
                return st;
        }
        if (stop) {
            res->stopped = 1;
            break;
        }
    }
    return ADJ_OK;
}

adj_status adj_train(adj_model *m, const adj_train_data *d, const adj_train_config *c,
                     adj_train_result *res, adj_error *err)
{
    adj_train_result local;
    adj_error lerr;
    if (!res)
        res = &local;
    if (!err)
        err = &lerr;
    memset(res, 0, sizeof *res);
    res->train_loss = res->val = res->test = res->val_loss = res->test_loss = NAN;
    adj_err_clear(err);
    adj_status s = check(m, d, c, err);
    if (s != ADJ_OK)
        return s;
    run r;
    memset(&r, 0, sizeof r);
    r.m = m;
    r.d = d;
    r.c = c;
    r.task = adj_trainer_task(m, d, c);
    res->task = r.task;
    r.comm = c->comm;
    r.rank = c->comm && c->comm->size > 1 ? c->comm->rank : 0;
    r.size = c->comm && c->comm->size > 1 ? c->comm->size : 1;
    adj_status os = ADJ_OK;
    r.opt = adj_optim_new(adj_model_params(m), &c->optim, &os);
    r.t = adj_tape_new();
    if (r.task == ADJ_TASK_LM) {
        size_t n = (size_t)c->batch * (size_t)d->seq;
        r.ix = malloc(n * sizeof *r.ix);
        r.iy = malloc(n * sizeof *r.iy);
        if (c->windows)
            r.windows = *c->windows;
        else
            adj_rng_seed(&r.windows, c->seed);
    } else {
        r.bat = adj_batcher_new(d->train, (size_t)c->batch, 1, c->seed ^ 0x5eedULL);
        r.pred = malloc((size_t)c->batch * sizeof *r.pred);
    }
    if (!r.opt)
        s = adj_err_set(err, os, "adj_train: the optimizer refuses the configuration (%s lr %g)",
                        adj_optim_name(c->optim.kind), c->optim.lr);
    else if (!r.t || (r.task == ADJ_TASK_LM ? !r.ix || !r.iy : !r.bat || !r.pred))
        s = adj_err_set(err, ADJ_ENOMEM, "adj_train: out of memory");
    r.start.epoch = c->start_epoch;
    r.start.step = c->start_step;
    r.start.seed = c->seed;
    r.start.lm = r.task == ADJ_TASK_LM;
    r.start.windows = r.windows;
    if (s == ADJ_OK && c->resume) {
        s = adj_trainer_state_read(c->resume, r.opt, m, &r.start, &r.resumed, err);
        if (s == ADJ_OK && r.resumed)
            r.windows = r.start.windows;
        res->resumed = r.resumed;
    }
    if (agree(&r, s != ADJ_OK, "set up training") && s == ADJ_OK)
        s = adj_err_set(err, ADJ_EIO, "adj_train: another rank failed to set up training");
    if (s == ADJ_OK)
        s = train_loop(&r, res, err);
    free(r.ix);
    free(r.iy);
    free(r.pred);
    free(r.scratch);
    adj_batcher_free(r.bat);
    adj_tape_free(r.t);
    adj_optim_free(r.opt);
    return s;
}
