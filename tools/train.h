/*
 * adjoint train: the options of the image and row models (mlp, cnn,
 * autoencoder; tools/train_opts.c) shared with the run (tools/train.c).
 */
#ifndef ADJ_TOOLS_TRAIN_H
#define ADJ_TOOLS_TRAIN_H

#include <adjoint.h>

/* Options given on the command line (the others take the model's defaults). */
enum {
    OPT_LAYERS = 1 << 0, OPT_ACT = 1 << 1, OPT_DROPOUT = 1 << 2, OPT_BATCHNORM = 1 << 3,
    OPT_BATCH = 1 << 4, OPT_EPOCHS = 1 << 5, OPT_CODE = 1 << 6, OPT_PICTURES = 1 << 7,
    OPT_CONV = 1 << 8, OPT_MODEL = 1 << 9
};

typedef struct train_opts {
    const char *model;    /* "mlp", "cnn", "autoencoder" */
    const char *init;     /* a model file to start from, or NULL */
    const char *pictures; /* autoencoder: a directory for the pictures, or NULL */
    long steps;           /* stop after this many optimizer steps (0: no limit) */
    long code;            /* autoencoder: code units */
    int conv;             /* autoencoder: convolutional */
    unsigned given;       /* OPT_* */
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
/* Check the options given against o->model and set that model's defaults
 * for the others (again after --init named the model); 0 or 2. */
int adj_tool_train_defaults(train_opts *o);

struct adj_tool_data;
/* The model of the options (or of --init) fitted to the data: the MLP's
 * input transform applied, or byte images scaled for the others; td gets
 * the sets and the sample shape.  0, or -1 after printing the error. */
int adj_tool_train_model(train_opts *o, struct adj_tool_data *d, adj_model **out,
                         adj_train_data *td);

/* adjoint eval of a cnn or autoencoder model on spec's test set: accuracy
 * or reconstruction MSE, and the mean loss.  The exit status. */
int adj_tool_eval_images(adj_model *m, const char *model, const char *spec, const char *label,
                         int json);

#endif
