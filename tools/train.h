/*
 * adjoint train: the options of the image and row models (mlp, cnn,
 * autoencoder; tools/train_opts.c) shared with the run (tools/train.c).
 */
#ifndef ADJ_TOOLS_TRAIN_H
#define ADJ_TOOLS_TRAIN_H

#include <adjoint.h>

typedef struct train_opts {
    const char *data, *label, *out;
    int64_t hidden[ADJ_MLP_MAX_LAYERS];
    int n_hidden;
    adj_activation act;
    adj_optim_kind optim;
    double lr, weight_decay, dropout, val_frac, momentum;
    long batch, epochs, threads;
    uint64_t seed;
    int batchnorm, json, quiet;
    adj_lr_kind schedule;
} train_opts;

/* Parse argv into o with the defaults of o->model: 0 to run, 1 after
 * --help, 2 on a usage error (printed). */
int adj_tool_train_parse(int argc, char **argv, train_opts *o);

#endif
