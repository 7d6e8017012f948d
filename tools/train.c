/*
 * adjoint train --model mlp|cnn|autoencoder — train a model of images or
 * rows with the library trainer (adj_train), report per-epoch loss and
 * accuracy (or reconstruction MSE), save the model and its learning
 * curves.
 */
#include "commands.h"
#include "lm.h"
#include "data.h"
#include "ranks.h"
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Progress display: a bar redrawn in place on a terminal, a few plain lines otherwise. */
typedef struct progress {
    FILE *f;
    int tty, quiet;
    double last;
    int quarter;
} progress;

static void progress_show(progress *p, long epoch, long epochs, size_t done, size_t total,
                          double loss, double rate, int final)
{
    if (p->quiet)
        return;
    double frac = total ? (double)done / (double)total : 1.0;
    if (p->tty) {
        double now = adj_tool_now();
        if (!final && now - p->last < 0.1)
            return;
        p->last = now;
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(p->f, "\repoch %ld/%ld [%s] %3d%%  loss %.4f  %.0f samples/s ", epoch, epochs, bar,
                (int)(frac * 100), loss, rate);
        if (final)
            fputs("\r\033[K", p->f);
        fflush(p->f);
    } else {
        int q = (int)(frac * 4);
        if (q > p->quarter && q < 4) {
            p->quarter = q;
            fprintf(p->f, "epoch %ld/%ld  %3d%%  loss %.4f  %.0f samples/s\n", epoch, epochs,
                    q * 25, loss, rate);
            fflush(p->f);
        }
    }
}

/* An accuracy for the progress lines: "0.9312", or "-" without the set. */
static const char *acc_text(char *buf, size_t n, double acc, int mse)
{
    if (isnan(acc))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, mse ? "%.5f" : "%.4f", acc);
    return buf;
}

/* An accuracy in JSON: a number, or null without the set. */
static void json_acc(FILE *f, double acc)
{
    if (isnan(acc))
        fputs("null", f);
    else
        fprintf(f, "%.6f", acc);
}

/* A fingerprint of the data: the sizes, every label and a sample of the
 * features.  Ranks compare it so that they cannot train on different files. */
static uint64_t data_fingerprint(const adj_tool_data *d)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const adj_dataset *s[3] = {d->train, d->val, d->test};
    for (int i = 0; i < 3; i++) {
        uint64_t dims[3] = {s[i]->rows, s[i]->cols, (uint64_t)s[i]->classes};
        h = adj_tool_hash(dims, sizeof dims, h);
        h = adj_tool_hash(s[i]->y, s[i]->rows * sizeof *s[i]->y, h);
        size_t n = s[i]->rows * s[i]->cols;
        for (size_t j = 0; j < n; j += 61)
            h = adj_tool_hash(&s[i]->x[j], sizeof(float), h);
    }
    return h;
}

/* The options every rank must share (the data paths may differ). */
static uint64_t options_fingerprint(const train_opts *o)
{
    char s[1024];
    int n = snprintf(s, sizeof s, "%d %d %d %.17g %.17g %.17g %.17g %.17g %ld %ld %llu %d %d",
                     o->n_hidden, (int)o->act, (int)o->optim, o->lr, o->weight_decay, o->dropout,
                     o->val_frac, o->momentum, o->batch, o->epochs, (unsigned long long)o->seed,
                     o->batchnorm, (int)o->schedule);
    uint64_t h = adj_tool_hash(s, n > 0 ? (size_t)n : 0, 0xcbf29ce484222325ULL);
    return adj_tool_hash(o->hidden, (size_t)o->n_hidden * sizeof o->hidden[0], h);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The command's side of the library trainer: progress lines, curves,
 * and the ranks' collectives (timed all-reduces). */
typedef struct train_cb {
    train_opts *o;
    FILE *log;
    adj_tool_ranks *rk;
    adj_model *model;
    double *curves; /* loss, val, test, lr: o->epochs each */
    double *ar_times, t_ar;
    size_t n_ar, ar_cap;
    progress pg;
    int64_t epoch;  /* of the last step shown */
    int failed;     /* a message was printed: stop */
    const char *metric; /* "acc" or "mse" in the epoch lines */
} train_cb;

static int on_progress(const adj_train_progress *p, void *user)
{
    train_cb *cb = user;
    train_opts *o = cb->o;
    if (p->event == ADJ_TRAIN_STEP) {
        if (p->epoch != cb->epoch) {
            cb->epoch = p->epoch;
            cb->pg.quarter = 0;
        }
        progress_show(&cb->pg, (long)p->epoch, o->epochs, p->seen, p->total, p->epoch_loss,
                      p->rate, 0);
        return 0;
    }
    if (p->event != ADJ_TRAIN_EPOCH)
        return 0;
    progress_show(&cb->pg, (long)p->epoch, o->epochs, p->seen, p->total, p->epoch_loss, p->rate,
                  1);
    int i = (int)p->epoch - 1;
    double *c_loss = cb->curves, *c_val = c_loss + o->epochs, *c_test = c_val + o->epochs,
           *c_lr = c_test + o->epochs;
    c_loss[i] = p->epoch_loss;
    c_val[i] = p->val;
    c_test[i] = p->test;
    c_lr[i] = p->lr;
    if (o->quiet)
        return 0;
    char va[16], te[16];
    int mse = strcmp(cb->metric, "mse") == 0;
    fprintf(cb->log, "epoch %2ld/%ld  loss %.4f  val %s %s  test %s %s  %.1f s (%.0f samples/s)\n",
            (long)p->epoch, o->epochs, c_loss[i], cb->metric,
            acc_text(va, sizeof va, c_val[i], mse), cb->metric,
            acc_text(te, sizeof te, c_test[i], mse), p->seconds, p->rate);
    /* progress that cannot be shown stops the run here, not after every
     * epoch (stdout > /dev/full without --quiet) */
    cb->failed = adj_tool_flush(cb->log, cb->log == stdout ? "progress to the standard output"
                                                           : "progress to the standard error") != 0;
    return cb->failed;
}

static int comm_average_grads(void *ctx, adj_params *p)
{
    train_cb *cb = ctx;
    double s = 0.0;
    if (adj_tool_ranks_average_grads(cb->rk, p, &s))
        return -1;
    if (cb->n_ar < cb->ar_cap)
        cb->ar_times[cb->n_ar++] = s;
    cb->t_ar += s;
    return 0;
}

static int comm_sum(void *ctx, double *x, size_t n)
{
    return adj_tool_ranks_sum(((train_cb *)ctx)->rk, x, n);
}

static int comm_agree(void *ctx, int failed, const char *what)
{
    return adj_tool_ranks_agree(((train_cb *)ctx)->rk, failed, what);
}

static int comm_average_buffers(void *ctx, adj_model *m)
{
    return adj_tool_ranks_average_batchnorm(((train_cb *)ctx)->rk, adj_model_mlp(m));
}

/*
 * Data-parallel training: every rank holds the whole data set and the same
 * model, draws the same sequence of global batches (same shuffling seed),
 * and back-propagates rows [nb*rank/size, nb*(rank+1)/size) of each.  One
 * all-reduce averages the gradients before the (identical) optimizer
 * step.  A single process is rank 0 of 1 and runs the same code.
 */
static int train(train_opts *o, adj_tool_ranks *rk)
{
    const int root = rk->rank == 0, size = rk->size;
    if (!root) {
        o->quiet = 1;
        o->json = 0;
    }
    FILE *log = o->json ? stderr : stdout;
    if (o->batch < size) {
        if (root)
            fprintf(stderr, "adjoint: --batch %ld is smaller than the %d ranks\n", o->batch, size);
        return 2;
    }
    /* batch norm has no variance to normalise by in a batch of one row */
    if (o->batchnorm && o->batch < 2 * (long)size) {
        if (root)
            fprintf(stderr,
                    "adjoint: --batch %ld: batch norm needs at least 2 rows per batch%s in "
                    "training; use --batch %ld or more, or --no-batchnorm\n",
                    o->batch, size > 1 ? " on each rank" : "", 2 * (long)size);
        return 2;
    }
    if (o->threads > 0)
        adj_set_threads((int)o->threads);
    o->threads = adj_get_threads();

    /* an unusable --out is found now, not after the last epoch */
    int bad = root && adj_tool_prepare_out(o->out);
    if (adj_tool_ranks_agree(rk, bad, "prepare the output directory"))
        return 1;

    double t_load = adj_tool_now();
    adj_tool_data data;
    bad = adj_tool_data_load(o->data, o->label, o->val_frac, o->seed, 0, &data) != 0;
    if (adj_tool_ranks_agree(rk, bad, "load the data") ||
        adj_tool_ranks_same(rk, data_fingerprint(&data),
                            "data (--data must name the same files on every host)") ||
        adj_tool_ranks_same(rk, options_fingerprint(o), "options")) {
        adj_tool_data_free(&data);
        return 1;
    }
    t_load = adj_tool_now() - t_load;

    int rc = 1;
    adj_model *model = NULL;
    train_cb cb;
    memset(&cb, 0, sizeof cb);
    double *curves = NULL, *ar_times = NULL;
    adj_train_data td;
    int classes = adj_tool_classes(&data);
    size_t cols = data.train->cols;
    bad = adj_tool_train_model(o, &data, &model, &td) != 0;
    if (adj_tool_ranks_agree(rk, bad, "build the model"))
        goto done;
    adj_mlp *m = adj_model_mlp(model); /* NULL for the other architectures */
    const int ae = strcmp(o->model, "autoencoder") == 0;
    cb.metric = ae ? "mse" : "acc";

    /* the same initial parameters everywhere (the trainer gives each rank
     * its own dropout masks) */
    adj_params *P = adj_model_params(model);
    if (adj_tool_ranks_broadcast(rk, P))
        goto done;

    adj_train_config tc = adj_train_defaults();
    tc.optim = adj_optim_defaults(o->optim);
    tc.optim.lr = o->lr;
    tc.optim.weight_decay = o->weight_decay;
    if (o->optim == ADJ_OPTIM_SGD || o->optim == ADJ_OPTIM_RMSPROP)
        tc.optim.momentum = o->momentum;
    if (o->optim == ADJ_OPTIM_SGD && o->momentum > 0)
        tc.optim.nesterov = 1;
    tc.schedule.kind = o->schedule;
    tc.schedule.gamma = 0.1;
    tc.batch = o->batch;
    tc.epochs = o->epochs;
    tc.seed = o->seed;
    tc.max_steps = o->steps;
    tc.min_rows = o->batchnorm ? 2 : 0; /* batch norm cannot train on one row */
    tc.eval_batch = m ? 1000 : 250; /* the MLP as before; smaller convolution buffers */
    tc.callback = on_progress;
    tc.user = &cb;
    adj_train_comm comm = {rk->rank, size, &cb, comm_average_grads, comm_sum, comm_agree,
                           o->batchnorm ? comm_average_buffers : NULL};
    tc.comm = &comm;
    size_t per_epoch = (data.train->rows + (size_t)o->batch - 1) / (size_t)o->batch;
    size_t total_steps = per_epoch * (size_t)o->epochs;
    curves = calloc((size_t)o->epochs * 4, sizeof *curves);
    ar_times = malloc((total_steps ? total_steps : 1) * sizeof *ar_times);
    bad = !curves || !ar_times;
    if (bad)
        fprintf(stderr, "adjoint: cannot set up training (out of memory)\n");
    if (adj_tool_ranks_agree(rk, bad, "set up training"))
        goto done;
    double *c_loss = curves, *c_val = curves + o->epochs, *c_test = curves + 2 * o->epochs,
           *c_lr = curves + 3 * o->epochs;
    cb = (train_cb){.o = o, .log = log, .rk = rk, .model = model, .curves = curves,
                    .metric = cb.metric,
                    .ar_times = ar_times, .ar_cap = total_steps ? total_steps : 1,
                    .pg = {log, isatty(fileno(log)), o->quiet, 0, 0}};
    char batch_desc[96];
    if (size == 1)
        snprintf(batch_desc, sizeof batch_desc, "%ld", o->batch);
    else if (o->batch % size == 0)
        snprintf(batch_desc, sizeof batch_desc, "%ld = %d ranks x %ld", o->batch, size,
                 o->batch / size);
    else
        snprintf(batch_desc, sizeof batch_desc, "%ld = %d ranks x %ld-%ld", o->batch, size,
                 o->batch / size, o->batch / size + 1);
    const char *sched_name = o->schedule == ADJ_LR_COSINE ? "cosine"
                             : o->schedule == ADJ_LR_STEP ? "step"
                                                          : "constant";
    if (!o->quiet) {
        fprintf(log,
                "adjoint train: %s, %zu train / %zu validation / %zu test samples, %zu features, "
                "%d classes\nmodel ",
                o->data, data.train->rows, data.val->rows, data.test->rows, cols, classes);
        if (m) {
            const adj_mlp_config *c = adj_mlp_get_config(m);
            for (int k = 0; k < c->n_sizes; k++)
                fprintf(log, "%s%lld", k ? "-" : "", (long long)c->sizes[k]);
            fprintf(log, " %s", adj_activation_name(c->act[0]));
        } else {
            fprintf(log, "%s", o->model);
            for (int k = 0; k < adj_model_config_count(model); k++)
                fprintf(log, " %s=%s", adj_model_config_key(model, k),
                        adj_model_config_value(model, k));
        }
        fprintf(log, "%s%s, %zu parameters, %s lr %g (%s), batch %s", o->init ? " from " : "",
                o->init ? o->init : "", adj_tool_param_elems(P), adj_optim_name(o->optim), o->lr,
                sched_name, batch_desc);
        if (m)
            fprintf(log, ", dropout %g%s", adj_mlp_get_config(m)->dropout,
                    o->batchnorm ? ", batch norm" : "");
        if (o->steps)
            fprintf(log, ", at most %ld steps", o->steps);
        fprintf(log, ", %ld threads%s\n", o->threads, size > 1 ? " per rank" : "");
    }

    adj_train_result res;
    adj_error terr;
    if (adj_train(model, &td, &tc, &res, &terr) != ADJ_OK) {
        if (!cb.failed)
            fprintf(stderr, "\nadjoint: %s%s\n", terr.message,
                    terr.status == ADJ_ENUMERIC ? " (--lr)" : "");
        goto done;
    }
    if (res.stopped) /* progress could not be shown */
        goto done;
    double t_train = res.train_seconds, t_eval = res.eval_seconds, t_ar = cb.t_ar;
    size_t n_ar = cb.n_ar;
    if (adj_tool_ranks_check_params(rk, P))
        goto done;

    int n_ep = (int)res.epochs, last = n_ep - 1;
    bad = root && adj_tool_write_outputs(o->out, model, ae ? "mse" : "accuracy", n_ep, c_loss,
                                         c_val, c_test, c_lr);
    if (adj_tool_ranks_agree(rk, bad, "write the outputs"))
        goto done;
    bad = root && ae && o->pictures && adj_tool_ae_pictures(o->pictures, model, &td, &data);
    if (adj_tool_ranks_agree(rk, bad, "draw the pictures"))
        goto done;
    double ar_median = 0.0;
    if (n_ar) {
        qsort(ar_times, n_ar, sizeof *ar_times, cmp_double);
        ar_median = n_ar % 2 ? ar_times[n_ar / 2]
                             : 0.5 * (ar_times[n_ar / 2 - 1] + ar_times[n_ar / 2]);
    }
    if (!o->quiet) {
        if (isnan(c_test[last]))
            fprintf(log, "no test set (%s has %s)", o->data,
                    data.kind == ADJ_TOOL_IDX ? "no t10k images" : "too few rows for a test split");
        else if (ae)
            fprintf(log, "test reconstruction MSE %.5f", c_test[last]);
        else
            fprintf(log, "test accuracy %.4f", c_test[last]);
        fprintf(log, " after %d epochs", n_ep);
        if (res.steps != (int64_t)total_steps)
            fprintf(log, " (%lld steps)", (long long)res.steps);
        fprintf(log, ": %.1f s of training, %.1f s of evaluation, data loaded in %.1f s\n",
                t_train, t_eval, t_load);
        if (size > 1)
            fprintf(log,
                    "%d ranks: gradient all-reduce of %.2f MB per step, median %.3f ms, "
                    "%.2f s in total\n",
                    size, (double)adj_params_numel(P) * sizeof(float) / 1e6, ar_median * 1e3,
                    t_ar);
        if (m)
            fprintf(log, "saved %s/model.safetensors, %s/model.adj, %s/curves.csv, %s/curves.svg\n",
                    o->out, o->out, o->out, o->out);
        else
            fprintf(log, "saved %s/model.safetensors, %s/curves.csv, %s/curves.svg\n", o->out,
                    o->out, o->out);
        if (ae && o->pictures)
            fprintf(log, "pictures in %s: reconstructions.png%s\n", o->pictures,
                    strcmp(adj_model_config(model, "code"), "2") == 0 ? ", code.svg" : "");
    }
    if (o->json) {
        const char *mk = ae ? "mse" : "accuracy";
        printf("{\"data\": ");
        adj_tool_json_string(stdout, o->data);
        printf(", \"arch\": \"%s\"", o->model);
        if (m) {
            const adj_mlp_config *c = adj_mlp_get_config(m);
            printf(", \"layers\": [");
            for (int k = 0; k < c->n_sizes; k++)
                printf("%s%lld", k ? ", " : "", (long long)c->sizes[k]);
            printf("], \"activation\": \"%s\"", adj_activation_name(c->act[0]));
        } else {
            printf(", \"config\": {");
            for (int k = 0; k < adj_model_config_count(model); k++) {
                printf("%s", k ? ", " : "");
                adj_tool_json_string(stdout, adj_model_config_key(model, k));
                printf(": ");
                adj_tool_json_string(stdout, adj_model_config_value(model, k));
            }
            printf("}");
        }
        printf(", \"optimizer\": \"%s\", \"lr\": %g, \"batch\": %ld, "
               "\"ranks\": %d, \"batch_per_rank\": %ld, \"batch_description\": \"%s\", "
               "\"epochs\": %d, \"steps\": %lld, \"seed\": %llu, \"threads\": %ld, \"parameters\": %zu, "
               "\"train_loss\": %.6f, \"train_seconds\": %.3f, \"eval_seconds\": %.3f, \"load_seconds\": %.3f, "
               "\"allreduce_seconds\": %.6f, \"allreduce_ms_median\": %.6f, \"model\": ",
               adj_optim_name(o->optim), o->lr, o->batch, size, o->batch / size, batch_desc, n_ep,
               (long long)res.steps, (unsigned long long)o->seed, o->threads, adj_tool_param_elems(P),
               c_loss[last], t_train, t_eval, t_load, t_ar, ar_median * 1e3);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", o->out, m ? "model.adj" : "model.safetensors");
        adj_tool_json_string(stdout, path);
        printf(", \"val_%s\": ", mk);
        json_acc(stdout, c_val[last]);
        printf(", \"test_%s\": ", mk);
        json_acc(stdout, c_test[last]);
        printf(", \"curve\": [");
        for (int i = 0; i <= last; i++) {
            printf("%s{\"epoch\": %d, \"train_loss\": %.6f, \"val_%s\": ", i ? ", " : "",
                   i + 1, c_loss[i], mk);
            json_acc(stdout, c_val[i]);
            printf(", \"test_%s\": ", mk);
            json_acc(stdout, c_test[i]);
            printf("}");
        }
        printf("]}\n");
    }
    rc = 0;
done:
    free(ar_times);
    free(curves);
    adj_model_free(model);
    adj_tool_data_free(&data);
    return rc;
}

int adj_cmd_train(int argc, char **argv)
{
    /* --model: images and rows here, the language models in train_lm.c */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--model") == 0 && strcmp(argv[i + 1], "mlp") != 0 &&
            strcmp(argv[i + 1], "cnn") != 0 && strcmp(argv[i + 1], "autoencoder") != 0)
            return adj_cmd_train_lm(argc, argv);
    train_opts o;
    int pr = adj_tool_train_parse(argc, argv, &o);
    if (pr)
        return pr == 1 ? 0 : 2;
    adj_tool_ranks rk;
    if (adj_tool_ranks_start(&rk))
        return 1;
    int rc = train(&o, &rk);
    adj_tool_ranks_stop(&rk);
    return rc;
}
