/*
 * The library trainer (adjoint/train.h): a small classifier learns
 * separable clusters; the callbacks fire in order with consistent
 * counts; max_steps stops after that many steps; a checkpoint holds the
 * model of its epoch and a resumed run gives the uninterrupted run's
 * parameters bit for bit (plain SGD keeps no state); evaluation equals
 * the accuracy and mean squared error counted here with plain loops; an
 * autoencoder's reconstruction error falls; a character model learns a
 * periodic text; data-parallel hooks see one all-reduce per step; the
 * refusals.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* n rows of 2 features in 3 clusters around angles 0, 120, 240 degrees
 * (radius 2, jitter +-0.25), label = cluster. */
static adj_dataset *clusters(size_t n, uint64_t seed)
{
    adj_dataset *d = adj_dataset_new(n, 2);
    ck_assert_ptr_nonnull(d);
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % 3);
        double a = 2 * 3.14159265358979323846 * c / 3;
        d->x[2 * i] = (float)(2 * cos(a) + adj_rng_uniform_range(&rng, -0.25, 0.25));
        d->x[2 * i + 1] = (float)(2 * sin(a) + adj_rng_uniform_range(&rng, -0.25, 0.25));
        d->y[i] = c;
    }
    d->classes = 3;
    return d;
}

static adj_model *mlp(const char *sizes, uint64_t seed, adj_dtype dtype)
{
    const char *kv[] = {"sizes", sizes};
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    adj_error err;
    adj_model *m = adj_model_new("mlp", 1, kv, dtype, &rng, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    return m;
}

/* The last epoch's running training accuracy. */
static int last_accuracy(const adj_train_progress *p, void *user)
{
    if (p->event == ADJ_TRAIN_EPOCH)
        *(double *)user = p->accuracy;
    else
        ck_assert(isnan(p->accuracy) || (p->accuracy >= 0 && p->accuracy <= 1));
    return 0;
}

/* A tiny classifier reaches 0.97 on held-out clusters. */
START_TEST(classifier_learns)
{
    adj_dataset *tr = clusters(300, 1), *te = clusters(90, 2);
    adj_model *m = mlp("2,16,3", 3, ADJ_F32);
    adj_train_config c = adj_train_defaults();
    c.optim.lr = 0.02;
    c.batch = 32;
    c.epochs = 10;
    double acc = -1;
    c.callback = last_accuracy;
    c.user = &acc;
    adj_train_data d = {.train = tr, .test = te};
    adj_train_result r;
    adj_error err;
    ck_assert_msg(adj_train(m, &d, &c, &r, &err) == ADJ_OK, "%s", err.message);
    ck_assert_int_eq(r.task, ADJ_TASK_CLASSIFY);
    ck_assert_msg(acc >= 0.95 && acc <= 1, "training accuracy %g", acc);
    ck_assert_int_eq(r.epochs, 10);
    ck_assert_int_eq(r.steps, 10 * 10); /* ceil(300 / 32) per epoch */
    ck_assert_msg(r.test >= 0.97, "test accuracy %g", r.test);
    ck_assert(isnan(r.val)); /* no validation set */
    ck_assert(r.train_loss < 0.2);
    adj_model_free(m);
    adj_dataset_free(tr);
    adj_dataset_free(te);
}
END_TEST

/* The events as the callback saw them. */
typedef struct trace {
    int n;
    adj_train_event ev[256];
    int64_t step[256], epoch[256];
    size_t seen[256];
    int stop_at; /* return 1 at this event (0: never) */
} trace;

static int record(const adj_train_progress *p, void *user)
{
    trace *t = user;
    if (t->n < 256) {
        t->ev[t->n] = p->event;
        t->step[t->n] = p->step;
        t->epoch[t->n] = p->epoch;
        t->seen[t->n] = p->seen;
    }
    t->n++;
    return t->stop_at && t->n == t->stop_at;
}

/* Per epoch: one STEP per batch with steps 1, 2, ... and rows seen
 * growing to the set's size, then EPOCH; a checkpoint after the last. */
START_TEST(callbacks_in_order)
{
    char dir[] = "/tmp/adj-trainer-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    adj_dataset *tr = clusters(100, 1), *va = clusters(30, 5);
    adj_model *m = mlp("2,4,3", 3, ADJ_F32);
    adj_train_config c = adj_train_defaults();
    c.batch = 40; /* 40, 40, 20 */
    c.epochs = 2;
    c.checkpoint = path;
    trace t = {0};
    c.callback = record;
    c.user = &t;
    adj_train_data d = {.train = tr, .val = va};
    ck_assert_int_eq(adj_train(m, &d, &c, NULL, NULL), ADJ_OK);
    ck_assert_int_eq(t.n, 2 * 4 + 1);
    static const size_t seen[] = {40, 80, 100, 100};
    for (int e = 0; e < 2; e++)
        for (int k = 0; k < 4; k++) {
            int i = 4 * e + k;
            ck_assert_int_eq(t.ev[i], k < 3 ? ADJ_TRAIN_STEP : ADJ_TRAIN_EPOCH);
            ck_assert_int_eq(t.epoch[i], e + 1);
            ck_assert_int_eq(t.step[i], 3 * e + (k < 3 ? k + 1 : 3));
            ck_assert_uint_eq(t.seen[i], seen[k]);
        }
    ck_assert_int_eq(t.ev[8], ADJ_TRAIN_CHECKPOINT);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* a callback that asks to stop: after that step, with the epoch's
     * evaluation */
    adj_train_result r;
    trace s = {.stop_at = 2};
    c.user = &s;
    c.checkpoint = NULL;
    ck_assert_int_eq(adj_train(m, &d, &c, &r, NULL), ADJ_OK);
    ck_assert_int_eq(r.stopped, 1);
    ck_assert_int_eq(r.steps, 2);
    ck_assert_int_eq(s.n, 3);
    ck_assert_int_eq(s.ev[2], ADJ_TRAIN_EPOCH);
    ck_assert(!isnan(r.val));
    adj_model_free(m);
    adj_dataset_free(tr);
    adj_dataset_free(va);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* max_steps: 5 steps in all, the second epoch cut short and evaluated. */
START_TEST(max_steps)
{
    adj_dataset *tr = clusters(100, 1);
    adj_model *m = mlp("2,4,3", 3, ADJ_F64);
    adj_train_config c = adj_train_defaults();
    c.batch = 40;
    c.epochs = 10;
    c.max_steps = 5;
    trace t = {0};
    c.callback = record;
    c.user = &t;
    adj_train_data d = {.train = tr};
    adj_train_result r;
    ck_assert_int_eq(adj_train(m, &d, &c, &r, NULL), ADJ_OK);
    ck_assert_int_eq(r.steps, 5);
    ck_assert_int_eq(r.epochs, 2);
    ck_assert_int_eq(r.stopped, 0);
    int steps = 0, epochs = 0;
    for (int i = 0; i < t.n; i++)
        steps += t.ev[i] == ADJ_TRAIN_STEP, epochs += t.ev[i] == ADJ_TRAIN_EPOCH;
    ck_assert_int_eq(steps, 5);
    ck_assert_int_eq(epochs, 2);
    ck_assert_int_eq(t.ev[t.n - 1], ADJ_TRAIN_EPOCH);
    adj_model_free(m);
    adj_dataset_free(tr);
}
END_TEST

static int params_equal(adj_model *a, adj_model *b)
{
    adj_params *p = adj_model_params(a), *q = adj_model_params(b);
    size_t n = adj_params_numel(p);
    return n == adj_params_numel(q) &&
           memcmp(adj_params_values(p), adj_params_values(q), n * sizeof(double)) == 0;
}

/* Plain SGD keeps no state, so 3 epochs in one run equal 1 epoch, a
 * checkpoint, and 2 more epochs from it (start_epoch 1): the shuffles
 * and the schedule continue where they were. */
START_TEST(checkpoint_and_resume)
{
    char dir[] = "/tmp/adj-trainer-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    adj_dataset *tr = clusters(100, 1);
    adj_train_data d = {.train = tr};
    adj_train_config c = adj_train_defaults();
    c.optim = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.optim.lr = 0.1;
    c.schedule.kind = ADJ_LR_COSINE;
    c.schedule.total = 12; /* both runs: the whole run's steps */
    c.batch = 30;
    c.epochs = 3;
    adj_model *whole = mlp("2,5,3", 9, ADJ_F64), *part = mlp("2,5,3", 9, ADJ_F64);
    ck_assert_int_eq(adj_train(whole, &d, &c, NULL, NULL), ADJ_OK);
    /* 1 of 3 epochs (the cosine over all 3), checkpointed */
    c.max_steps = 4;
    c.checkpoint = path;
    adj_train_result r;
    ck_assert_int_eq(adj_train(part, &d, &c, &r, NULL), ADJ_OK);
    ck_assert_int_eq(r.steps, 4);
    adj_model *ck = NULL;
    ck_assert_int_eq(adj_model_read(path, &ck, NULL), ADJ_OK);
    ck_assert(params_equal(ck, part));
    ck_assert(!params_equal(ck, whole));
    c.max_steps = 0;
    c.checkpoint = NULL;
    c.start_epoch = 1;
    c.start_step = 4;
    ck_assert_int_eq(adj_train(ck, &d, &c, &r, NULL), ADJ_OK);
    ck_assert_int_eq(r.steps, 12);
    ck_assert_int_eq(r.epochs, 3);
    ck_assert_msg(params_equal(ck, whole), "the resumed run differs from the whole run");
    adj_model_free(ck);
    adj_model_free(whole);
    adj_model_free(part);
    adj_dataset_free(tr);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* adj_train_evaluate: accuracy and mean cross-entropy against a count
 * and a log-sum-exp computed here from the model's logits. */
START_TEST(evaluate_classifier)
{
    adj_dataset *te = clusters(50, 4);
    adj_model *m = mlp("2,6,3", 2, ADJ_F64);
    adj_train_data d = {.train = te, .test = te};
    adj_train_config c = adj_train_defaults();
    c.eval_batch = 7; /* batches of 7 and a last one of 1 */
    double acc, loss;
    ck_assert_int_eq(adj_train_evaluate(m, &d, 2, &c, &acc, &loss, NULL), ADJ_OK);
    adj_tape *t = adj_tape_new();
    double *x = malloc(100 * sizeof *x);
    for (int i = 0; i < 100; i++)
        x[i] = te->x[i];
    adj_model_set_training(m, 0);
    adj_var *z = adj_model_forward(m, adj_constant_f64(t, 2, ((int64_t[]){50, 2}), x));
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    const double *l = adj_data(z);
    int correct = 0;
    double ce = 0;
    for (int i = 0; i < 50; i++) {
        int best = 0;
        for (int k = 1; k < 3; k++)
            best = l[3 * i + k] > l[3 * i + best] ? k : best;
        correct += best == te->y[i];
        double mx = fmax(l[3 * i], fmax(l[3 * i + 1], l[3 * i + 2]));
        double s = exp(l[3 * i] - mx) + exp(l[3 * i + 1] - mx) + exp(l[3 * i + 2] - mx);
        ce += mx + log(s) - l[3 * i + te->y[i]];
    }
    ck_assert_double_eq_tol(acc, correct / 50.0, 1e-15);
    ck_assert_double_eq_tol(loss, ce / 50, 1e-12);
    /* no validation set: NaN, no error */
    ck_assert_int_eq(adj_train_evaluate(m, &d, 1, &c, &acc, &loss, NULL), ADJ_OK);
    ck_assert(isnan(acc) && isnan(loss));
    free(x);
    adj_tape_free(t);
    adj_model_free(m);
    adj_dataset_free(te);
}
END_TEST

/* The autoencoder reconstructs: images (N, 1, 4, 4) of two patterns; the
 * metric is the MSE counted here, and training lowers it. */
START_TEST(autoencoder_reconstructs)
{
    adj_dataset *s = adj_dataset_new(64, 16);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < 64; i++)
        for (int j = 0; j < 16; j++)
            s->x[16 * i + j] = (float)((i % 2 ? j % 4 < 2 : j / 4 < 2) ? 0.9 : 0.1);
    const char *kv[] = {"input", "16", "code", "4"};
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_model *m = adj_model_new("autoencoder", 2, kv, ADJ_F64, &rng, NULL);
    ck_assert_ptr_nonnull(m);
    adj_train_data d = {.train = s, .test = s, .ndim = 3, .shape = {1, 4, 4}};
    double mse0, loss0;
    ck_assert_int_eq(adj_train_evaluate(m, &d, 2, NULL, &mse0, &loss0, NULL), ADJ_OK);
    adj_tape *t = adj_tape_new();
    double x[64 * 16];
    for (int i = 0; i < 64 * 16; i++)
        x[i] = s->x[i];
    adj_var *y = adj_model_forward(m, adj_constant_f64(t, 4, ((int64_t[]){64, 1, 4, 4}), x));
    const double *v = adj_data(y);
    double se = 0;
    for (int i = 0; i < 64 * 16; i++)
        se += (v[i] - x[i]) * (v[i] - x[i]);
    ck_assert_double_eq_tol(mse0, se / (64 * 16), 1e-14);
    ck_assert_double_eq_tol(loss0, mse0, 1e-15);
    adj_train_config c = adj_train_defaults();
    c.optim.lr = 0.02;
    c.batch = 16;
    c.epochs = 40;
    adj_train_result r;
    ck_assert_int_eq(adj_train(m, &d, &c, &r, NULL), ADJ_OK);
    ck_assert_int_eq(r.task, ADJ_TASK_RECONSTRUCT);
    ck_assert_msg(r.test < mse0 / 10, "MSE %g from %g", r.test, mse0);
    adj_tape_free(t);
    adj_model_free(m);
    adj_dataset_free(s);
}
END_TEST

/* A character LSTM learns "abcd" repeated: the next character is
 * determined, so the validation loss falls far below log 4. */
START_TEST(language_model_learns)
{
    char path[] = "/tmp/adj-trainer-text-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 400; i++)
        fputs("abcd", f);
    fclose(f);
    adj_corpus *cp = NULL;
    ck_assert_int_eq(adj_corpus_text(path, 0.2, 1, &cp, NULL), ADJ_OK);
    const char *kv[] = {"vocab", "4", "embed", "8", "hidden", "16", "chars", "61626364"};
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_model *m = adj_model_new("lstm", 4, kv, ADJ_F32, &rng, NULL);
    ck_assert_ptr_nonnull(m);
    adj_train_data d = {.corpus = cp, .seq = 8};
    adj_train_config c = adj_train_defaults();
    c.optim.lr = 0.01;
    c.batch = 8;
    c.epochs = 3;
    c.epoch_steps = 40;
    c.eval_windows = 4;
    double acc = 0;
    c.callback = last_accuracy;
    c.user = &acc;
    adj_train_result r;
    adj_error err;
    ck_assert_msg(adj_train(m, &d, &c, &r, &err) == ADJ_OK, "%s", err.message);
    ck_assert_int_eq(r.task, ADJ_TASK_LM);
    ck_assert_int_eq(r.steps, 120);
    ck_assert(isnan(r.test));
    ck_assert_msg(r.val < 0.1, "validation loss %g nats", r.val);
    ck_assert_double_eq(r.val, r.val_loss);
    ck_assert(isnan(acc)); /* no accuracy for a language model */
    adj_model_free(m);
    adj_corpus_free(cp);
    unlink(path);
}
END_TEST

/* Hooks of a pretend second rank: the trainer calls average_grads once
 * per step, agree at each stage, and sum and average_buffers once per
 * epoch; rank 1 back-propagates the second half of each batch. */
typedef struct fake_comm {
    int grads, sums, agrees, buffers;
} fake_comm;
static int fake_grads(void *ctx, adj_params *p)
{
    (void)p;
    ((fake_comm *)ctx)->grads++;
    return 0;
}
static int fake_sum(void *ctx, double *x, size_t n)
{
    (void)x, (void)n;
    ((fake_comm *)ctx)->sums++;
    return 0;
}
static int fake_agree(void *ctx, int failed, const char *what)
{
    (void)what;
    ((fake_comm *)ctx)->agrees++;
    return failed;
}
static int fake_buffers(void *ctx, adj_model *m)
{
    (void)m;
    ((fake_comm *)ctx)->buffers++;
    return 0;
}

START_TEST(parallel_hooks)
{
    adj_dataset *tr = clusters(100, 1), *va = clusters(30, 2);
    adj_model *m = mlp("2,4,3", 3, ADJ_F32);
    fake_comm fc = {0};
    adj_train_comm comm = {1, 2, &fc, fake_grads, fake_sum, fake_agree, fake_buffers};
    adj_train_config c = adj_train_defaults();
    c.batch = 40;
    c.epochs = 2;
    c.comm = &comm;
    adj_train_data d = {.train = tr, .val = va};
    adj_train_result r;
    ck_assert_int_eq(adj_train(m, &d, &c, &r, NULL), ADJ_OK);
    ck_assert_int_eq(fc.grads, 6);
    ck_assert_int_eq(fc.sums, 2);
    ck_assert_int_eq(fc.buffers, 2);
    /* set-up, a step each, evaluation and go-on per epoch */
    ck_assert_int_eq(fc.agrees, 1 + 6 + 2 * 2);
    ck_assert(isnan(r.val)); /* rank 1 does not evaluate */
    /* a failing hook stops the run with ADJ_EIO */
    comm.average_grads = NULL;
    adj_error err;
    ck_assert_int_eq(adj_train(m, &d, &c, &r, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "average_grads"));
    adj_model_free(m);
    adj_dataset_free(tr);
    adj_dataset_free(va);
}
END_TEST

START_TEST(refusals)
{
    adj_dataset *tr = clusters(30, 1), *odd = adj_dataset_new(10, 3);
    adj_model *m = mlp("2,4,3", 3, ADJ_F32);
    adj_train_config c = adj_train_defaults();
    adj_train_data d = {.train = tr};
    adj_error err;
    ck_assert_int_eq(adj_train(NULL, &d, &c, NULL, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "adj_train: the model is NULL"));
    adj_train_data none = {0};
    ck_assert_int_eq(adj_train(m, &none, &c, NULL, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "neither"));
    adj_train_data shaped = {.train = tr, .ndim = 2, .shape = {3, 1}};
    ck_assert_int_eq(adj_train(m, &shaped, &c, NULL, &err), ADJ_ESHAPE);
    adj_train_data mixed = {.train = tr, .test = odd};
    ck_assert_int_eq(adj_train(m, &mixed, &c, NULL, &err), ADJ_ESHAPE);
    ck_assert_ptr_nonnull(strstr(err.message, "test set has 3 values per row"));
    c.batch = 0;
    ck_assert_int_eq(adj_train(m, &d, &c, NULL, &err), ADJ_EINVAL);
    c = adj_train_defaults();
    c.optim.lr = -1;
    ck_assert_int_eq(adj_train(m, &d, &c, NULL, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "optimizer"));
    c = adj_train_defaults();
    c.task = ADJ_TASK_LM;
    ck_assert_int_eq(adj_train(m, &d, &c, NULL, &err), ADJ_EINVAL);
    /* a diverging run names the step */
    c = adj_train_defaults();
    c.optim = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.optim.lr = 1e30;
    c.epochs = 3;
    ck_assert_int_eq(adj_train(m, &d, &c, NULL, &err), ADJ_ENUMERIC);
    ck_assert_ptr_nonnull(strstr(err.message, "the loss became"));
    ck_assert_str_eq(adj_train_task_name(ADJ_TASK_RECONSTRUCT), "reconstruct");
    ck_assert_str_eq(adj_train_task_name(ADJ_TASK_COUNT), "?");
    adj_model_free(m);
    adj_dataset_free(tr);
    adj_dataset_free(odd);
}
END_TEST

static Suite *trainer_suite(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("trainer");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, classifier_learns);
    tcase_add_test(tc, callbacks_in_order);
    tcase_add_test(tc, max_steps);
    tcase_add_test(tc, checkpoint_and_resume);
    tcase_add_test(tc, evaluate_classifier);
    tcase_add_test(tc, autoencoder_reconstructs);
    tcase_add_test(tc, language_model_learns);
    tcase_add_test(tc, parallel_hooks);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(trainer_suite)
