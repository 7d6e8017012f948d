/*
 * adjoint train: options, their defaults per model, and the help text.
 */
#include "commands.h"
#include "data.h"
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void train_usage(FILE *f)
{
    fprintf(f,
            "usage: adjoint train [OPTIONS]\n"
            "Train a model on images or rows; with no options, an MLP classifier on\n"
            "Fashion-MNIST.\n"
            "(adjoint train --model lstm --help: the language models rnn, lstm, gru, gpt.)\n\n"
            "  --model NAME       mlp, cnn (convolutional classifier) or autoencoder\n"
            "                     (reconstructs its input; reports the MSE) (default mlp)\n"
            "  --init FILE        start from a saved model (its architecture and\n"
            "                     configuration; the options that describe a model are refused)\n"
            "  --steps N          stop after N optimizer steps (default: all epochs)\n"
            "  --code N           autoencoder: code units (default 32; 2 for a plane)\n"
            "  --conv             autoencoder: convolutional (3x3 stride-2 convolutions of\n"
            "                     16 and 32 channels, transposed convolutions back)\n"

            "  --pictures DIR     autoencoder: reconstructions.svg (originals above\n"
            "                     reconstructions) and, for a code of 2, code.svg\n"
            "  --data idx:DIR | csv:FILE  data (default %s)\n"
            "  --label COL        CSV label column: name or 0-based index (default: last)\n"
            "  --layers H1,H2,... mlp: hidden layer sizes (default 512,256)\n"
            "  --activation NAME  mlp, autoencoder: relu, leaky_relu, elu, tanh, sigmoid,\n"
            "                     softplus, identity (default relu; autoencoder with\n"
            "                     --code 2: identity)\n"
            "  --optimizer NAME   adam, adamw, sgd, rmsprop, adagrad (default adam)\n"
            "  --lr X             learning rate (default 1e-3; sgd 0.05, adagrad 0.01)\n"
            "  --schedule NAME    cosine, step, constant (default cosine)\n"
            "  --momentum X       sgd / rmsprop momentum (default 0.9 for sgd)\n"
            "  --weight-decay X   L2 (decoupled for adamw) (default 0)\n"
            "  --dropout P        mlp, cnn: drop probability after hidden layers\n"
            "                     (default 0.2; cnn 0.25)\n"
            "  --batchnorm, --no-batchnorm  mlp: batch normalisation before hidden\n"
            "                     activations (default on)\n"
            "  --batch N          mini-batch size (default 128; cnn 64)\n"
            "  --epochs N         epochs (default 20; cnn 15, autoencoder 10)\n"
            "  --val-frac X       fraction of the training data held out (default 1/12)\n"
            "  --seed N           seed of initialisation, split, shuffling, dropout (default 1)\n"
            "  --threads N        threads for products, maps, updates (default: ADJ_NUM_THREADS,\n"
            "                     else OMP_NUM_THREADS, else the CPUs this process may use)\n"
            "  --out DIR          output directory (default adjoint-run): model.safetensors,\n"
            "                     model.adj (mlp: the older format), curves.csv, curves.svg\n"
            "  --json             print a JSON summary on stdout (progress on stderr)\n"
            "  --quiet            no progress output\n"
            "  --help             this text\n\n"
            "Byte images are divided by 255 for cnn and autoencoder (and by adjoint eval).\n"
            "The same seed and thread count give bit-identical curves and model files.\n",
            ADJ_DEFAULT_DATA);
}

static int parse_layers(const char *s, train_opts *o)
{
    o->n_hidden = 0;
    if (strcmp(s, "") == 0 || strcmp(s, "none") == 0)
        return 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 1 << 20 || o->n_hidden >= ADJ_MLP_MAX_LAYERS - 1 ||
            (*end && *end != ',' && *end != '-')) {
            fprintf(stderr,
                    "adjoint: --layers needs up to %d hidden sizes in [1, %d] like 512,256 (or "
                    "none), got '%s'\n",
                    ADJ_MLP_MAX_LAYERS - 1, 1 << 20, s);
            return -1;
        }
        o->hidden[o->n_hidden++] = v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* The options that apply to each model, and its defaults for the others.
 * With --init the model file decides, so only the training options
 * apply.  0, or 2 after printing the misfit. */
int adj_tool_train_defaults(train_opts *o)
{
    static const struct {
        unsigned opt;
        const char *name, *models;
    } only[] = {
        {OPT_LAYERS, "--layers", "mlp"},           {OPT_BATCHNORM, "--batchnorm", "mlp"},
        {OPT_ACT, "--activation", "mlp autoencoder"}, {OPT_DROPOUT, "--dropout", "mlp cnn"},
        {OPT_CODE, "--code", "autoencoder"},       {OPT_CONV, "--conv", "autoencoder"},
        {OPT_PICTURES, "--pictures", "autoencoder"},
    };
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++) {
        if (!(o->given & only[i].opt))
            continue;
        if (o->init && only[i].opt != OPT_PICTURES) {
            fprintf(stderr, "adjoint: %s describes a new model; with --init the model file "
                            "gives the configuration\n", only[i].name);
            return 2;
        }
        const char *hit = strstr(only[i].models, o->model);
        if (!o->init && !(hit && (hit[strlen(o->model)] == ' ' || !hit[strlen(o->model)]))) {
            fprintf(stderr, "adjoint: %s applies to --model %s, not %s\n", only[i].name,
                    only[i].models, o->model);
            return 2;
        }
    }
    int cnn = strcmp(o->model, "cnn") == 0, ae = strcmp(o->model, "autoencoder") == 0;
    if (!(o->given & OPT_BATCH))
        o->batch = cnn ? 64 : 128;
    if (!(o->given & OPT_EPOCHS))
        o->epochs = cnn ? 15 : ae ? 10 : 20;
    if (cnn && !(o->given & OPT_DROPOUT))
        o->dropout = 0.25;
    if (strcmp(o->model, "mlp") != 0 && !(o->given & OPT_BATCHNORM))
        o->batchnorm = 0;
    return 0;
}

int adj_tool_train_parse(int argc, char **argv, train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = "mlp";
    o->code = 32;
    o->data = ADJ_DEFAULT_DATA;
    o->out = "adjoint-run";
    o->hidden[0] = 512;
    o->hidden[1] = 256;
    o->n_hidden = 2;
    o->act = ADJ_ACT_RELU;
    o->optim = ADJ_OPTIM_ADAM;
    o->lr = -1;
    o->momentum = -1;
    o->dropout = 0.2;
    o->val_frac = 1.0 / 12.0;
    o->batch = 128;
    o->epochs = 20;
    o->threads = 0; /* the library's default */
    o->seed = 1;
    o->schedule = ADJ_LR_COSINE;
    o->batchnorm = 1;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i], *val = NULL;
        char name[64];
        char *eq = strchr(a, '=');
        if (eq && eq - a < (long)sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
            a = name;
        }
#define FLAG(s) (strcmp(a, s) == 0)
#define VALUE()                                                                                    \
    do {                                                                                           \
        if (!val) {                                                                                \
            if (i + 1 >= argc) {                                                                   \
                fprintf(stderr, "adjoint: %s needs a value\n", a);                                 \
                return 2;                                                                          \
            }                                                                                      \
            val = argv[++i];                                                                       \
        }                                                                                          \
    } while (0)
        long l;
        if (FLAG("--model")) {
            VALUE();
            if (strcmp(val, "mlp") && strcmp(val, "cnn") && strcmp(val, "autoencoder")) {
                fprintf(stderr, "adjoint: --model must be one of mlp, cnn, autoencoder, rnn, "
                                "lstm, gru, gpt; got '%s'\n", val);
                return 2;
            }
            o->model = val;
            o->given |= OPT_MODEL;
            continue;
        }
        if (FLAG("--init")) {
            VALUE();
            o->init = val;
            continue;
        }
        if (FLAG("--pictures")) {
            VALUE();
            if (!*val) {
                fprintf(stderr, "adjoint: --pictures needs a directory name, got ''\n");
                return 2;
            }
            o->pictures = val;
            o->given |= OPT_PICTURES;
            continue;
        }
        if (FLAG("--conv")) {
            o->conv = 1;
            o->given |= OPT_CONV;
            continue;
        }
        if (FLAG("--steps")) {
            VALUE();
            if (adj_tool_long(a, val, 1, 1L << 40, &o->steps))
                return 2;
            continue;
        }
        if (FLAG("--code")) {
            VALUE();
            if (adj_tool_long(a, val, 1, 1 << 20, &o->code))
                return 2;
            o->given |= OPT_CODE;
            continue;
        }
        if (FLAG("--help") || FLAG("-h")) {
            train_usage(stdout);
            return 1;
        } else if (FLAG("--json")) {
            o->json = 1;
        } else if (FLAG("--quiet")) {
            o->quiet = 1;
        } else if (FLAG("--batchnorm")) {
            o->batchnorm = 1;
            o->given |= OPT_BATCHNORM;
        } else if (FLAG("--no-batchnorm")) {
            o->batchnorm = 0;
            o->given |= OPT_BATCHNORM;
        } else if (FLAG("--data")) {
            VALUE();
            o->data = val;
        } else if (FLAG("--label")) {
            VALUE();
            o->label = val;
        } else if (FLAG("--out")) {
            VALUE();
            if (!*val) {
                fprintf(stderr, "adjoint: --out needs a directory name, got ''\n");
                return 2;
            }
            o->out = val;
        } else if (FLAG("--layers")) {
            VALUE();
            if (parse_layers(val, o))
                return 2;
            o->given |= OPT_LAYERS;
        } else if (FLAG("--activation")) {
            VALUE();
            if (adj_activation_parse(val, &o->act) != ADJ_OK) {
                fprintf(stderr, "adjoint: --activation must be one of");
                for (int k = 0; k < ADJ_ACT_COUNT; k++)
                    fprintf(stderr, "%s %s", k ? "," : "", adj_activation_name((adj_activation)k));
                fprintf(stderr, "; got '%s'\n", val);
                return 2;
            }
            o->given |= OPT_ACT;
        } else if (FLAG("--optimizer")) {
            VALUE();
            if (adj_optim_parse(val, &o->optim) != ADJ_OK) {
                fprintf(stderr, "adjoint: --optimizer must be one of");
                for (int k = 0; k < ADJ_OPTIM_COUNT; k++)
                    fprintf(stderr, "%s %s", k ? "," : "", adj_optim_name((adj_optim_kind)k));
                fprintf(stderr, "; got '%s'\n", val);
                return 2;
            }
        } else if (FLAG("--schedule")) {
            VALUE();
            if (strcmp(val, "cosine") == 0)
                o->schedule = ADJ_LR_COSINE;
            else if (strcmp(val, "step") == 0)
                o->schedule = ADJ_LR_STEP;
            else if (strcmp(val, "constant") == 0)
                o->schedule = ADJ_LR_CONSTANT;
            else {
                fprintf(stderr,
                        "adjoint: --schedule must be one of cosine, step, constant; got '%s'\n",
                        val);
                return 2;
            }
        } else if (FLAG("--lr")) {
            VALUE();
            if (adj_tool_number(a, val, 0, 1, INFINITY, 1, &o->lr))
                return 2;
        } else if (FLAG("--momentum")) {
            VALUE();
            if (adj_tool_number(a, val, 0, 0, 1, 1, &o->momentum))
                return 2;
        } else if (FLAG("--weight-decay")) {
            VALUE();
            if (adj_tool_number(a, val, 0, 0, INFINITY, 1, &o->weight_decay))
                return 2;
        } else if (FLAG("--dropout")) {
            VALUE();
            if (adj_tool_number(a, val, 0, 0, 1, 1, &o->dropout))
                return 2;
            o->given |= OPT_DROPOUT;
        } else if (FLAG("--val-frac")) {
            VALUE();
            if (adj_tool_number(a, val, 0, 1, 1, 1, &o->val_frac))
                return 2;
        } else if (FLAG("--batch")) {
            VALUE();
            if (adj_tool_long(a, val, 1, 1 << 20, &o->batch))
                return 2;
            o->given |= OPT_BATCH;
        } else if (FLAG("--epochs")) {
            VALUE();
            if (adj_tool_long(a, val, 1, 100000, &o->epochs))
                return 2;
            o->given |= OPT_EPOCHS;
        } else if (FLAG("--threads")) {
            VALUE();
            if (adj_tool_long(a, val, 1, 1024, &o->threads))
                return 2;
        } else if (FLAG("--seed")) {
            VALUE();
            if (adj_tool_long(a, val, 0, 0x7fffffffL, &l))
                return 2;
            o->seed = (uint64_t)l;
        } else {
            fprintf(stderr, "adjoint: unknown option '%s' (see adjoint train --help)\n", argv[i]);
            return 2;
        }
#undef FLAG
#undef VALUE
    }
    if (adj_tool_data_spec_check(o->data))
        return 2;
    if (o->label && strncmp(o->data, "idx:", 4) == 0) {
        fprintf(stderr, "adjoint: --label names a CSV column; IDX data (%s) has its labels in "
                        "its own files\n",
                o->data);
        return 2;
    }
    if (adj_tool_train_defaults(o))
        return 2;
    if (o->lr < 0)
        o->lr = o->optim == ADJ_OPTIM_SGD ? 0.05 : o->optim == ADJ_OPTIM_ADAGRAD ? 1e-2 : 1e-3;
    if (o->momentum < 0)
        o->momentum = o->optim == ADJ_OPTIM_SGD ? 0.9 : 0.0;
    return 0;
}

