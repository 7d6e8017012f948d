/*
 * The trainer's data checks, the inputs and losses of each task, and
 * evaluation (include/adjoint/train.h).
 */
#include "nn/model_internal.h"
#include "nn/trainer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

adj_train_task adj_trainer_task(const adj_model *m, const adj_train_data *d,
                                const adj_train_config *c)
{
    if (c && c->task != ADJ_TASK_AUTO)
        return c->task;
    if (d->corpus)
        return ADJ_TASK_LM;
    return strcmp(adj_model_arch(m), "autoencoder") == 0 ? ADJ_TASK_RECONSTRUCT
                                                         : ADJ_TASK_CLASSIFY;
}

adj_status adj_trainer_check_data(const adj_model *m, const adj_train_data *d,
                                  const adj_train_config *c, const char *fn, adj_error *err)
{
    if (c && (unsigned)c->task >= ADJ_TASK_COUNT)
        return adj_err_set(err, ADJ_EINVAL, "%s: task %d is not an adj_train_task", fn, (int)c->task);
    if (!d->train == !d->corpus)
        return adj_err_set(err, ADJ_EINVAL, "%s: the data need exactly one of train (rows) and "
                           "corpus (token windows), got %s", fn, d->train ? "both" : "neither");
    adj_train_task task = adj_trainer_task(m, d, c);
    if ((task == ADJ_TASK_LM) != !!d->corpus)
        return adj_err_set(err, ADJ_EINVAL, "%s: task \"%s\" needs %s", fn, adj_train_task_name(task),
                           d->corpus ? "rows (train), not a corpus" : "a corpus of tokens");
    if (d->corpus) {
        if (d->seq < 1 || d->seq > (1 << 20) || !d->corpus->train || d->corpus->n_train < (size_t)d->seq + 1)
            return adj_err_set(err, ADJ_EINVAL, "%s: windows of seq %lld need seq in [1, 2^20] and a "
                               "training part of more than seq ids (it has %zu)", fn,
                               (long long)d->seq, d->corpus->n_train);
        return ADJ_OK;
    }
    size_t cols = d->train->cols;
    if (d->train->rows == 0 || cols == 0 || !d->train->x || !d->train->y)
        return adj_err_set(err, ADJ_EINVAL, "%s: the training set is empty (%zu rows of %zu values)",
                           fn, d->train->rows, cols);
    if (d->ndim < 0 || d->ndim > 3)
        return adj_err_set(err, ADJ_EINVAL, "%s: ndim %d: a sample has 0 (rows) to 3 (C, H, W) dims",
                           fn, d->ndim);
    uint64_t n = 1;
    for (int k = 0; k < d->ndim; k++) {
        if (d->shape[k] < 1 || d->shape[k] > ((int64_t)1 << 30))
            return adj_err_set(err, ADJ_EINVAL, "%s: shape[%d] = %lld is not a size", fn, k,
                               (long long)d->shape[k]);
        n *= (uint64_t)d->shape[k];
    }
    if (d->ndim > 0 && n != cols)
        return adj_err_set(err, ADJ_ESHAPE, "%s: a sample of shape (%lld, %lld, %lld)[:%d] has %llu "
                           "values, the rows %zu", fn, (long long)d->shape[0],
                           (long long)d->shape[1], (long long)d->shape[2], d->ndim,
                           (unsigned long long)n, cols);
    const adj_dataset *s[2] = {d->val, d->test};
    for (int k = 0; k < 2; k++)
        if (s[k] && s[k]->rows && (s[k]->cols != cols || !s[k]->x || !s[k]->y))
            return adj_err_set(err, ADJ_ESHAPE, "%s: the %s set has %zu values per row, the "
                               "training set %zu", fn, k ? "test" : "validation", s[k]->cols, cols);
    return ADJ_OK;
}

/* Room for n values of the model's dtype in *scratch. */
static void *room(adj_model *m, size_t n, void **scratch, size_t *scratch_n)
{
    size_t bytes = n * (adj_model_dtype(m) == ADJ_F64 ? sizeof(double) : sizeof(float));
    if (bytes > *scratch_n) {
        void *p = realloc(*scratch, bytes);
        if (!p)
            return NULL;
        *scratch = p;
        *scratch_n = bytes;
    }
    return *scratch;
}

/* A constant of the given shape holding n floats of x, in m's dtype: a
 * float model reads x in place (the batch or the data set's rows, which
 * stay unchanged until the tape is reset), a double one a converted copy. */
static adj_var *constant(adj_model *m, adj_tape *t, int nd, const int64_t *shape, const float *x,
                         size_t n, void **scratch, size_t *scratch_n)
{
    if (adj_model_dtype(m) == ADJ_F32)
        return adj_constant_view(t, ADJ_F32, nd, shape, x);
    double *v = room(m, n, scratch, scratch_n);
    if (!v) {
        adj_tape_fail(t, ADJ_ENOMEM, "adj_train: out of memory for %zu inputs", n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = x[i];
    return adj_constant_f64(t, nd, shape, v);
}

adj_var *adj_trainer_input(adj_model *m, adj_tape *t, const adj_train_data *d, const float *x,
                           size_t n, void **scratch, size_t *scratch_n)
{
    int64_t sh[4] = {(int64_t)n, (int64_t)d->train->cols};
    int nd = 2;
    if (d->ndim > 0) {
        for (int k = 0; k < d->ndim; k++)
            sh[k + 1] = d->shape[k];
        nd = d->ndim + 1;
    }
    return constant(m, t, nd, sh, x, n * d->train->cols, scratch, scratch_n);
}

adj_var *adj_trainer_mse(adj_model *m, adj_tape *t, adj_var *out, const float *x, size_t n,
                         size_t cols, void **scratch, size_t *scratch_n)
{
    if (!out)
        return NULL;
    /* the target in the output's shape when it has the rows' values */
    int nd = adj_ndim(out);
    int64_t sh[ADJ_MAX_DIMS];
    uint64_t k = 1;
    for (int i = 0; i < nd && i < ADJ_MAX_DIMS; i++) {
        sh[i] = adj_dim(out, i);
        k *= (uint64_t)sh[i];
    }
    if (nd < 1 || k != (uint64_t)n * cols) {
        nd = 2;
        sh[0] = (int64_t)n;
        sh[1] = (int64_t)cols;
    }
    return adj_mse(out, constant(m, t, nd, sh, x, n * cols, scratch, scratch_n));
}

adj_var *adj_trainer_lm_loss(adj_model *m, adj_tape *t, const int32_t *x, const int32_t *y,
                             size_t B, size_t T)
{
    adj_var *xv = adj_index(t, 2, ((int64_t[]){(int64_t)B, (int64_t)T}), x);
    adj_var *logits = adj_model_forward(m, xv);
    if (!logits)
        return NULL;
    int64_t rows = (int64_t)(B * T), v = adj_dim(logits, adj_ndim(logits) - 1);
    adj_var *tg = adj_index(t, 1, &rows, y);
    return adj_cross_entropy(adj_reshape(logits, 2, ((int64_t[]){rows, v})), tg, -100);
}

/* Accuracy (or MSE) and mean loss over the rows of s. */
static adj_status eval_rows(adj_model *m, adj_tape *t, const adj_train_data *d,
                            const adj_dataset *s, adj_train_task task, size_t batch,
                            double *metric, double *loss, void **scratch, size_t *scratch_n,
                            adj_error *err)
{
    int32_t *pred = task == ADJ_TASK_CLASSIFY ? malloc(batch * sizeof *pred) : NULL;
    if (task == ADJ_TASK_CLASSIFY && !pred)
        return adj_err_set(err, ADJ_ENOMEM, "adj_train: out of memory");
    double lsum = 0.0, msum = 0.0;
    size_t correct = 0, cols = s->cols;
    adj_status st = ADJ_OK;
    for (size_t r = 0; r < s->rows; r += batch) {
        size_t nb = s->rows - r < batch ? s->rows - r : batch;
        adj_tape_reset(t);
        adj_var *xv = adj_trainer_input(m, t, d, s->x + r * cols, nb, scratch, scratch_n);
        adj_var *out = xv ? adj_model_forward(m, xv) : NULL;
        adj_var *l = NULL;
        if (task == ADJ_TASK_CLASSIFY && out) {
            /* the predictions before the loss, from the logits alone */
            if (adj_ndim(out) != 2 || adj_argmax_rows(out, pred) != ADJ_OK)
                adj_tape_fail(t, ADJ_ESHAPE, "adj_train: a classifier's output must be (N, classes)");
            else
                for (size_t i = 0; i < nb; i++)
                    correct += pred[i] == s->y[r + i];
            l = adj_softmax_cross_entropy(out, s->y + r);
        } else if (out) {
            l = adj_trainer_mse(m, t, out, s->x + r * cols, nb, cols, scratch, scratch_n);
        }
        if ((st = adj_tape_status(t)) != ADJ_OK || !l) {
            if (st == ADJ_OK)
                st = ADJ_EINVAL;
            break;
        }
        double v = adj_item(l);
        lsum += v * (double)nb;
        msum += v * (double)nb;
    }
    free(pred);
    if (st != ADJ_OK)
        return adj_err_set(err, st, "adj_train: evaluation failed: %s", adj_tape_message(t));
    *loss = lsum / (double)s->rows;
    *metric = task == ADJ_TASK_CLASSIFY ? (double)correct / (double)s->rows : msum / (double)s->rows;
    return ADJ_OK;
}

/* Mean loss over seeded validation windows. */
static adj_status eval_windows(adj_model *m, adj_tape *t, const adj_train_data *d,
                               const adj_train_config *c, double *metric, double *loss,
                               adj_error *err)
{
    size_t B = (size_t)(c && c->batch > 0 ? c->batch : 64), T = (size_t)d->seq;
    size_t nb = (size_t)(c && c->eval_windows ? c->eval_windows : 20);
    if (!d->corpus->val || d->corpus->n_val < T + 1)
        return ADJ_OK; /* no validation part long enough: NaN */
    int32_t *x = malloc(B * T * sizeof *x), *y = malloc(B * T * sizeof *y);
    adj_status st = x && y ? ADJ_OK : adj_err_set(err, ADJ_ENOMEM, "adj_train: out of memory");
    adj_rng rng;
    adj_rng_seed(&rng, (c ? c->seed : 1) ^ 0xe7a1ULL);
    double sum = 0.0;
    for (size_t k = 0; st == ADJ_OK && k < nb; k++) {
        if ((st = adj_corpus_batch(d->corpus, 1, B, T, &rng, x, y, err)) != ADJ_OK)
            break;
        adj_tape_reset(t);
        adj_var *l = adj_trainer_lm_loss(m, t, x, y, B, T);
        if ((st = adj_tape_status(t)) != ADJ_OK || !l) {
            st = adj_err_set(err, st != ADJ_OK ? st : ADJ_EINVAL, "adj_train: evaluation failed: %s",
                             adj_tape_message(t));
            break;
        }
        sum += adj_item(l);
    }
    free(x);
    free(y);
    if (st == ADJ_OK)
        *metric = *loss = sum / (double)nb;
    return st;
}

adj_status adj_trainer_eval(adj_model *m, adj_tape *t, const adj_train_data *d,
                            const adj_train_config *c, adj_train_task task, int split,
                            double *metric, double *loss, void **scratch, size_t *scratch_n,
                            adj_error *err)
{
    *metric = *loss = NAN;
    int was = m->training;
    adj_model_set_training(m, 0);
    adj_status st = ADJ_OK;
    if (task == ADJ_TASK_LM) {
        if (split == 1)
            st = eval_windows(m, t, d, c, metric, loss, err);
    } else {
        const adj_dataset *s = split == 0 ? d->train : split == 1 ? d->val : d->test;
        size_t batch = c && c->eval_batch ? c->eval_batch : 250;
        if (s && s->rows)
            st = eval_rows(m, t, d, s, task, batch, metric, loss, scratch, scratch_n, err);
    }
    adj_model_set_training(m, was);
    return st;
}

adj_status adj_train_evaluate(adj_model *m, const adj_train_data *d, int split,
                              const adj_train_config *c, double *metric, double *loss,
                              adj_error *err)
{
    if (metric)
        *metric = NAN;
    if (loss)
        *loss = NAN;
    if (!m || !d || !metric || !loss)
        return adj_err_set(err, ADJ_EINVAL, "adj_train_evaluate: the %s is NULL",
                           !m ? "model" : !d ? "data" : !metric ? "metric pointer" : "loss pointer");
    adj_status s = adj_trainer_check_data(m, d, c, "adj_train_evaluate", err);
    if (s != ADJ_OK)
        return s;
    adj_train_task task = adj_trainer_task(m, d, c);
    if (split < 0 || split > 2 || (task == ADJ_TASK_LM && split != 1))
        return adj_err_set(err, ADJ_EINVAL, "adj_train_evaluate: split %d is not 0 (train), 1 "
                           "(validation) or 2 (test)%s", split,
                           task == ADJ_TASK_LM ? "; a corpus has only its validation part (1)" : "");
    adj_tape *t = adj_tape_new();
    if (!t)
        return adj_err_set(err, ADJ_ENOMEM, "adj_train_evaluate: out of memory");
    void *scratch = NULL;
    size_t scratch_n = 0;
    adj_err_clear(err);
    s = adj_trainer_eval(m, t, d, c, task, split, metric, loss, &scratch, &scratch_n, err);
    free(scratch);
    adj_tape_free(t);
    return s;
}
