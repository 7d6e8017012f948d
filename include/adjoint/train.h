/*
 * adjoint/train.h — the training loop for any model of the registry.
 *
 * adj_train runs mini-batch training of an adj_model (model.h): epochs
 * over a data set of images or rows (each epoch a seeded shuffle), or
 * steps over random token windows of a corpus (text.h); the optimizer
 * and learning-rate schedule of optim.h; evaluation on the validation
 * and test sets after every epoch; checkpoints (the model written
 * atomically); a progress callback per step and per epoch; and hooks
 * through which data-parallel ranks average their gradients (dist.h
 * fills them from MPI).
 *
 *     adj_train_config c = adj_train_defaults();
 *     c.epochs = 5;
 *     c.batch = 64;
 *     adj_train_data d = {.train = train, .val = val, .test = test,
 *                         .ndim = 3, .shape = {1, 28, 28}};
 *     adj_train_result r;
 *     adj_error err;
 *     if (adj_train(model, &d, &c, &r, &err) != ADJ_OK)
 *         fprintf(stderr, "%s\n", err.message);
 *
 * The task follows the model and the data unless the configuration names
 * one: a corpus trains a language model (cross-entropy of the logits
 * (B, T, V) against the next ids, in nats per token); an "autoencoder"
 * reconstructs its input (adj_mse of the output against the flattened
 * input; the metric is that mean squared error); any other model
 * classifies (adj_softmax_cross_entropy of the logits (N, classes)
 * against the labels; the metric is the accuracy).
 *
 * The same model, data, configuration and thread count give the same
 * bits: the shuffles, windows and the model's dropout masks are seeded.
 * A run resumed from a checkpoint (adj_train_config.resume) ends with the
 * same bits as one never interrupted.
 */
#ifndef ADJOINT_TRAIN_H
#define ADJOINT_TRAIN_H

#include "core.h"
#include "io.h"
#include "model.h"
#include "optim.h"
#include "text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum adj_train_task {
    ADJ_TASK_AUTO = 0,    /* from the data and the model, as above */
    ADJ_TASK_CLASSIFY,    /* logits (N, classes) against labels; accuracy */
    ADJ_TASK_RECONSTRUCT, /* output against the flattened input; MSE */
    ADJ_TASK_LM,          /* logits (B, T, V) against the next ids; nats per token */
    ADJ_TASK_COUNT
} adj_train_task;

/* "auto", "classify", "reconstruct", "lm"; "?" out of range. */
ADJ_API const char *adj_train_task_name(adj_train_task t);

/*
 * The data.  Images or rows: train (required), val and test (NULL or
 * empty: no such set) of adj_dataset (io.h), whose rows are one sample
 * each, already scaled as the model expects (the trainer feeds them as
 * they are).  A batch of n rows reaches the model as (n, shape[0], ...,
 * shape[ndim-1]) when ndim > 0 (the product of the shape must be the
 * rows' width), else as (n, cols).  Token windows: corpus, whose
 * training part gives each step `batch` windows of seq + 1 ids (x the
 * first seq, y the last seq) and whose validation part is the
 * validation set.  Exactly one of train and corpus is set.
 */
typedef struct adj_train_data {
    const adj_dataset *train, *val, *test;
    int ndim;
    int64_t shape[3];
    const adj_corpus *corpus;
    int64_t seq;
} adj_train_data;

/* What a progress callback is told. */
typedef enum adj_train_event {
    ADJ_TRAIN_STEP = 0,   /* after each optimizer step */
    ADJ_TRAIN_EPOCH,      /* after each epoch's evaluation */
    ADJ_TRAIN_CHECKPOINT, /* after a checkpoint was written */
} adj_train_event;

typedef struct adj_train_progress {
    adj_train_event event;
    int64_t epoch, epochs; /* the current epoch (from 1) and the planned count */
    int64_t step, steps;   /* optimizer steps taken in all, and planned */
    size_t rows;           /* STEP: rows (windows) of the step's global batch */
    size_t seen, total;    /* rows (windows) of this epoch done, and in all */
    double loss;           /* STEP: this rank's loss of the step */
    double epoch_loss;     /* mean loss over the epoch's rows so far (EPOCH:
                              over every rank's rows) */
    double accuracy;       /* classify: the fraction of the epoch's training
                              rows so far whose logits' argmax was the label
                              (in training mode, before the step; EPOCH: over
                              every rank's rows); other tasks: NaN */
    double lr;             /* the learning rate of the last step */
    double rate;           /* rows (tokens for a corpus) per second this epoch */
    double seconds;        /* EPOCH: seconds of this epoch's steps */
    double val, test;      /* EPOCH: the metric on each set; NaN: no such set */
    double val_loss, test_loss; /* EPOCH: the mean loss on each set; NaN: none */
    const char *path;      /* CHECKPOINT: the file written */
} adj_train_progress;

/* Called on every rank; a nonzero return stops training after the
 * current step or epoch (on every rank: the ranks agree first), and the
 * result says so (stopped = 1). */
typedef int (*adj_train_callback)(const adj_train_progress *p, void *user);

/*
 * Data-parallel hooks.  Each rank holds the whole data and the same
 * model, draws the same global batches (same seed) and back-propagates
 * rows [n*rank/size, n*(rank+1)/size) of each batch of n; the trainer
 * weights each rank's gradient by its share of the rows and calls
 * average_grads before the (identical) optimizer step.  Each hook is
 * collective (every rank calls it at the same point) and returns 0, or
 * nonzero on every rank when it failed (it reports why itself).
 *   average_grads   g = mean over the ranks of g (the store's gradient block,
 *                   every element written: a pointer kept from setup reads
 *                   the current gradients, zeros where the backward did
 *                   not reach)
 *   sum             x = sum over the ranks of x (n doubles)
 *   agree           nonzero on every rank if any rank passed failed != 0
 *                   (`what` names the stage: "take a training step")
 *   average_buffers optional: the model's buffers (batch norm running
 *                   statistics) averaged after each epoch
 * Only rank 0 evaluates, writes checkpoints and reports val/test metrics.
 * With more than one rank, each rank's dropout generator
 * (adj_model_dropout_rng) is reseeded before every step from (seed, rank,
 * step), so that the ranks draw different masks and a run is reproducible
 * for a given seed and number of ranks.
 */
typedef struct adj_train_comm {
    int rank, size;
    void *ctx;
    int (*average_grads)(void *ctx, adj_params *p);
    int (*sum)(void *ctx, double *x, size_t n);
    int (*agree)(void *ctx, int failed, const char *what);
    int (*average_buffers)(void *ctx, adj_model *m);
} adj_train_comm;

typedef struct adj_train_config {
    adj_train_task task;
    adj_optim_config optim;   /* the optimizer (adj_optim_defaults) */
    /* The learning rate of step s is adj_lr_at(&schedule, s), with
     * base_lr 0 taken as optim.lr, total 0 as the planned steps and
     * step_size 0 as a third of them (whole epochs, at least one). */
    adj_lr_schedule schedule;
    int64_t batch;      /* rows or windows per step (over all ranks) */
    int64_t epochs;     /* passes over train (a corpus: of epoch_steps steps) */
    int64_t epoch_steps; /* a corpus: steps per epoch (0: 100) */
    int64_t max_steps;  /* stop after this many steps in all (0: no limit) */
    uint64_t seed;      /* shuffles and windows */
    /* A corpus: the window generator at the start (copied; NULL: seeded
     * with seed), e.g. the stream that went on to initialise the model. */
    const adj_rng *windows;
    /* A batch whose smallest shard has fewer rows is skipped (batch norm
     * cannot train on one row: 2); 0 or 1 skips none. */
    int64_t min_rows;
    size_t eval_batch;    /* rows per forward in evaluation (0: 250) */
    int64_t eval_windows; /* a corpus: validation batches of `batch` windows (0: 20) */
    /* Resume without a state file: the epochs and steps already taken
     * (the schedule and the shuffles continue from there; the optimizer's
     * state starts anew). */
    int64_t start_epoch, start_step;
    /* Written every checkpoint_every epochs and at the end (also after a
     * partial epoch); NULL: never.  Each checkpoint is two files, each
     * written atomically: the model (adj_model_write), then its state file
     * (adj_train_state_path) holding the optimizer's state
     * (adj_optim_state_write) and the metadata "train.epoch" (epochs
     * completed), "train.step", "train.batches" (batches drawn of the
     * unfinished epoch), "train.seed", "train.windows" (a corpus: the
     * window generator) and "train.dropout" (the model's dropout
     * generator, adj_model_dropout_rng). */
    const char *checkpoint;
    int64_t checkpoint_every; /* 0: at the end only */
    /* Resume from the checkpoint file `resume`, whose model the caller has
     * read into m (adj_model_read).  When its state file exists, the
     * optimizer's state, the position (start_epoch and start_step are
     * then ignored) and the generators are restored from it: with the
     * same data, configuration (seed, batch, epochs, schedule; a larger
     * max_steps) and thread count, the run ends with the bits of one that
     * was never interrupted.  When it does not exist (a checkpoint from
     * before state files), the run starts at start_epoch/start_step with
     * the optimizer's moments anew and res->resumed is 0.  NULL: no
     * resume. */
    const char *resume;
    adj_train_callback callback;
    void *user;
    const adj_train_comm *comm; /* NULL: one process */
} adj_train_config;

typedef struct adj_train_result {
    adj_train_task task;
    int64_t epochs, steps;   /* completed epochs (a partial last one counts) and steps */
    int stopped;             /* the callback asked to stop */
    int resumed;             /* c->resume's state file was read (0: none, the
                                optimizer's moments started anew) */
    double train_loss;       /* mean over the last epoch's rows */
    double val, test;        /* the last evaluation's metrics (NaN: none) */
    double val_loss, test_loss;
    double train_seconds, eval_seconds;
} adj_train_result;

/* The state file of checkpoint `path` (see adj_train_config.checkpoint)
 * into out (size bytes): the path with a final ".safetensors" replaced by
 * ".optim.safetensors", or with ".optim.safetensors" appended.
 * ADJ_EINVAL for a NULL or empty path, a NULL out, or a name that does
 * not fit (out then holds ""). */
ADJ_API adj_status adj_train_state_path(const char *path, char *out, size_t size);

/* Adam at lr 1e-3, constant schedule, batch 64, 1 epoch, seed 1,
 * everything else 0 (automatic). */
ADJ_API adj_train_config adj_train_defaults(void);

/* Train m on d as c says (the model's parameters and buffers change in
 * place); *res (may be NULL) gets the outcome.  ADJ_EINVAL naming the
 * field for a NULL model or data, a missing or doubled data source, a
 * batch < 1, epochs < 1, a negative max_steps or start, an invalid
 * optimizer setting, a shape that does not fit the rows; a failed step
 * is its tape's status, a non-finite loss ADJ_ENUMERIC naming the step,
 * a checkpoint that cannot be written its status, a failed hook ADJ_EIO.
 * Messages in err start with "adj_train". */
ADJ_API adj_status adj_train(adj_model *m, const adj_train_data *d, const adj_train_config *c,
                             adj_train_result *res, adj_error *err);

/* The metric and mean loss of m, in evaluation mode, on one set of d:
 * split 0 train, 1 val, 2 test (a corpus: 1 only).  A missing or empty
 * set gives NaN and ADJ_OK.  c (may be NULL: defaults) gives the task,
 * eval_batch, seed, batch and eval_windows.  Errors as adj_train. */
ADJ_API adj_status adj_train_evaluate(adj_model *m, const adj_train_data *d, int split,
                                      const adj_train_config *c, double *metric, double *loss,
                                      adj_error *err);

#ifdef __cplusplus
}
#endif
#endif
