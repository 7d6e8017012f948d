/*
 * Shared by the trainer's files (src/nn/trainer.c, trainer_eval.c).
 */
#ifndef ADJ_NN_TRAINER_INTERNAL_H
#define ADJ_NN_TRAINER_INTERNAL_H

#include "adjoint/train.h"
#include "core/error.h"

/* The task of c, or (ADJ_TASK_AUTO) the one the data and model imply. */
adj_train_task adj_trainer_task(const adj_model *m, const adj_train_data *d,
                                const adj_train_config *c);
/* The data fit together and the task (exactly one source, shapes that
 * cover the rows, every set of the training rows' width, a corpus with
 * seq >= 1); `fn` starts the message. */
adj_status adj_trainer_check_data(const adj_model *m, const adj_train_data *d,
                                  const adj_train_config *c, const char *fn, adj_error *err);
/* n rows of x as the model's input (n, shape...) in its dtype, a
 * constant on t (doubles converted in *scratch, grown as needed). */
adj_var *adj_trainer_input(adj_model *m, adj_tape *t, const adj_train_data *d, const float *x,
                           size_t n, void **scratch, size_t *scratch_n);
/* adj_mse of out against the n rows of x (cols each) taken in out's shape. */
adj_var *adj_trainer_mse(adj_model *m, adj_tape *t, adj_var *out, const float *x, size_t n,
                         size_t cols, void **scratch, size_t *scratch_n);
/* Mean cross-entropy of the logits (B, T, V) for ids x (B, T) against y. */
adj_var *adj_trainer_lm_loss(adj_model *m, adj_tape *t, const int32_t *x, const int32_t *y,
                             size_t B, size_t T);
/* Metric and mean loss on split 1 (val) or 2 (test; 0 train) in
 * evaluation mode (the mode is restored); NaN for a missing set. */
adj_status adj_trainer_eval(adj_model *m, adj_tape *t, const adj_train_data *d,
                            const adj_train_config *c, adj_train_task task, int split,
                            double *metric, double *loss, void **scratch, size_t *scratch_n,
                            adj_error *err);

/* Where a run stands, for a checkpoint's state file (trainer_state.c). */
typedef struct adj_trainer_pos {
    int64_t epoch;   /* epochs completed */
    int64_t step;    /* optimizer steps taken */
    int64_t batches; /* batches drawn of the unfinished epoch */
    uint64_t seed;
    int lm;          /* a corpus: windows is the window generator */
    adj_rng windows;
} adj_trainer_pos;

/* Write the state file of checkpoint (adj_train_state_path): o's state,
 * *pos and m's dropout generator. */
adj_status adj_trainer_state_write(const char *checkpoint, const adj_optim *o, adj_model *m,
                                   const adj_trainer_pos *pos, adj_error *err);
/* Read the state file of checkpoint into o, *pos (epoch, step, batches,
 * windows; its seed and lm are the run's, checked against the file) and
 * m's dropout generator; *found 0 and nothing changed when there is no
 * such file. */
adj_status adj_trainer_state_read(const char *checkpoint, adj_optim *o, adj_model *m,
                                  adj_trainer_pos *pos, int *found, adj_error *err);

#endif
