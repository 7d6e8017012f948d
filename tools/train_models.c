/*
 * adjoint train: the model of each --model (mlp, cnn, autoencoder) or of
 * --init, fitted to the data, and the data as the model takes it.
 */
#include "commands.h"
#include "data.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Byte images as the cnn and the autoencoder take them: x / 255.  Rows of
 * a CSV file are used as they are. */
void adj_tool_scale_images(adj_tool_data *d)
{
    if (d->kind != ADJ_TOOL_IDX)
        return;
    adj_dataset *s[3] = {d->train, d->val, d->test};
    for (int i = 0; i < 3; i++)
        if (s[i])
            adj_dataset_scale(s[i], 0.0, 255.0);
}

/* The MLP of the options, as the registry's "mlp" architecture. */
static adj_model *new_mlp(const train_opts *o, size_t cols, int classes, adj_rng *rng,
                          adj_error *err)
{
    adj_mlp_config cfg = adj_mlp_config_default();
    int64_t sizes[ADJ_MLP_MAX_LAYERS + 1];
    sizes[0] = (int64_t)cols;
    for (int k = 0; k < o->n_hidden; k++)
        sizes[k + 1] = o->hidden[k];
    sizes[o->n_hidden + 1] = classes;
    adj_mlp_config_set_sizes(&cfg, o->n_hidden + 2, sizes, o->act);
    cfg.init = o->act == ADJ_ACT_SIGMOID || o->act == ADJ_ACT_TANH || o->act == ADJ_ACT_IDENTITY
                   ? ADJ_INIT_XAVIER_UNIFORM
                   : ADJ_INIT_HE_NORMAL;
    char ksizes[(ADJ_MLP_MAX_LAYERS + 1) * 24] = "", kacts[ADJ_MLP_MAX_LAYERS * 24] = "",
         kdrop[40], num[40];
    for (int k = 0; k < cfg.n_sizes; k++) {
        snprintf(num, sizeof num, "%s%lld", k ? "," : "", (long long)cfg.sizes[k]);
        strcat(ksizes, num);
    }
    for (int k = 0; k < cfg.n_sizes - 1; k++) {
        snprintf(num, sizeof num, "%s%s", k ? "," : "", adj_activation_name(cfg.act[k]));
        strcat(kacts, num);
    }
    snprintf(kdrop, sizeof kdrop, "%.17g", o->dropout);
    const char *kv[] = {"sizes", ksizes, "acts", kacts, "dropout", kdrop,
                        "batchnorm", o->batchnorm ? "1" : "0",
                        "init", cfg.init == ADJ_INIT_XAVIER_UNIFORM ? "xavier_uniform" : "he_normal"};
    return adj_model_new("mlp", 5, kv, ADJ_F32, rng, err);
}

/* The MLP's input normalisation: the model's own (from --init), or fitted
 * on the training split (byte images: x / 255; CSV: standardised) and
 * kept in the model; then applied to every set.  0 or -1 (printed). */
static int mlp_input(adj_mlp *m, adj_tool_data *d)
{
    size_t cols = d->train->cols;
    const double *s0, *s1;
    if (!adj_mlp_input_transform(m, &s0, &s1)) {
        double *shift = malloc(cols * sizeof(double)), *scale = malloc(cols * sizeof(double));
        if (!shift || !scale) {
            free(shift);
            free(scale);
            fprintf(stderr, "adjoint: out of memory\n");
            return -1;
        }
        if (d->kind == ADJ_TOOL_IDX) {
            double lo, hi;
            adj_dataset_range(d->train, &lo, &hi);
            if (hi < 255)
                hi = 255; /* byte images: x / 255 */
            for (size_t j = 0; j < cols; j++) {
                shift[j] = 0;
                scale[j] = 1.0 / hi;
            }
        } else {
            adj_dataset_stats(d->train, shift, scale);
            for (size_t j = 0; j < cols; j++)
                scale[j] = scale[j] > 0 ? 1.0 / scale[j] : 1.0;
        }
        adj_mlp_set_input_transform(m, shift, scale);
        free(shift);
        free(scale);
    }
    adj_mlp_prepare_input(m, d->train->x, d->train->rows);
    adj_mlp_prepare_input(m, d->val->x, d->val->rows);
    adj_mlp_prepare_input(m, d->test->x, d->test->rows);
    return 0;
}

/* The side of square images of `cols` values, or 0. */
static long square_side(size_t cols)
{
    long s = lround(sqrt((double)cols));
    return s > 0 && (size_t)(s * s) == cols ? s : 0;
}

/* td's sample shape from a "C,H,W" configuration value; 0 or -1. */
static int image_shape(const char *chw, adj_train_data *td)
{
    long long c, h, w;
    if (!chw || sscanf(chw, "%lld,%lld,%lld", &c, &h, &w) != 3)
        return -1;
    td->ndim = 3;
    td->shape[0] = c;
    td->shape[1] = h;
    td->shape[2] = w;
    return 0;
}

int adj_tool_train_model(train_opts *o, adj_tool_data *d, adj_model **out, adj_train_data *td)
{
    adj_error err;
    adj_model *m = NULL;
    size_t cols = d->train->cols;
    int classes = adj_tool_classes(d);
    *out = NULL;
    memset(td, 0, sizeof *td);
    td->train = d->train;
    td->val = d->val;
    td->test = d->test;
    if (o->init) {
        if (adj_model_read(o->init, &m, &err) != ADJ_OK) {
            fprintf(stderr, "adjoint: --init: %s\n", err.message);
            return -1;
        }
        const char *arch = adj_model_arch(m);
        if ((o->given & OPT_MODEL) && strcmp(arch, o->model) != 0) {
            fprintf(stderr, "adjoint: --init %s holds a \"%s\" model, not --model %s\n", o->init,
                    arch, o->model);
            goto fail;
        }
        if (strcmp(arch, "mlp") && strcmp(arch, "cnn") && strcmp(arch, "autoencoder")) {
            fprintf(stderr, "adjoint: --init %s holds a \"%s\" model: train it with --model %s\n",
                    o->init, arch, arch);
            goto fail;
        }
        o->model = arch;
        if (adj_tool_train_defaults(o))
            goto fail;
    } else {
        adj_rng rng;
        adj_rng_seed(&rng, o->seed);
        if (strcmp(o->model, "mlp") == 0) {
            m = new_mlp(o, cols, classes, &rng, &err);
        } else if (strcmp(o->model, "cnn") == 0) {
            long s = square_side(cols);
            if (!s) {
                fprintf(stderr, "adjoint: --model cnn takes square images; the rows of %s have "
                                "%zu values\n", o->data, cols);
                return -1;
            }
            char input[64], drop[40], cls[24];
            snprintf(input, sizeof input, "1,%ld,%ld", s, s);
            snprintf(drop, sizeof drop, "%.17g", o->dropout);
            snprintf(cls, sizeof cls, "%d", classes);
            const char *kv[] = {"input", input, "dropout", drop, "classes", cls};
            m = adj_model_new("cnn", 3, kv, ADJ_F32, &rng, &err);
        } else {
            char input[24], code[24], image[64];
            snprintf(input, sizeof input, "%zu", cols);
            long side = square_side(cols);
            if (o->conv && !side) {
                fprintf(stderr, "adjoint: --conv takes square images; the rows of %s have %zu "
                                "values\n", o->data, cols);
                return -1;
            }
            snprintf(image, sizeof image, "1,%ld,%ld", side, side);
            snprintf(code, sizeof code, "%ld", o->code);
            /* a code to draw in the plane is linear unless --activation says otherwise */
            adj_activation act = o->code <= 2 && !(o->given & OPT_ACT) ? ADJ_ACT_IDENTITY : o->act;
            const char *kv[] = {"input", input, "code", code, "act", adj_activation_name(act),
                                "channels", "16,32", "image", image};
            m = adj_model_new("autoencoder", o->conv ? 5 : 3, kv, ADJ_F32, &rng, &err);
        }
        if (!m) {
            fprintf(stderr, "adjoint: %s\n", err.message);
            return -1;
        }
    }
    adj_mlp *mlp = adj_model_mlp(m);
    if (mlp) {
        const adj_mlp_config *c = adj_mlp_get_config(mlp);
        if (c->sizes[0] != (int64_t)cols || c->sizes[c->n_sizes - 1] < classes) {
            fprintf(stderr, "adjoint: --init %s takes %lld features and has %lld classes; the "
                            "data have %zu features and %d classes\n", o->init,
                    (long long)c->sizes[0], (long long)c->sizes[c->n_sizes - 1], cols, classes);
            goto fail;
        }
        if (c->dtype != ADJ_F32) {
            fprintf(stderr, "adjoint: --init %s is an f64 model; this command trains f32 models\n",
                    o->init);
            goto fail;
        }
        o->batchnorm = c->batchnorm;
        if (mlp_input(mlp, d))
            goto fail;
    } else {
        adj_tool_scale_images(d);
        if (strcmp(adj_model_arch(m), "cnn") == 0 &&
            image_shape(adj_model_config(m, "input"), td) != 0) {
            fprintf(stderr, "adjoint: the model's input is not C,H,W\n");
            goto fail;
        }
        uint64_t n = 1;
        for (int k = 0; k < td->ndim; k++)
            n *= (uint64_t)td->shape[k];
        const char *in = adj_model_config(m, "input");
        if ((td->ndim && n != cols) || (!td->ndim && in && strtoull(in, NULL, 10) != cols)) {
            fprintf(stderr, "adjoint: the model takes inputs of %s values; the rows of %s have "
                            "%zu\n", in ? in : "?", o->data, cols);
            goto fail;
        }
    }
    *out = m;
    return 0;
fail:
    adj_model_free(m);
    return -1;
}

int adj_tool_eval_images(adj_model *m, const char *model, const char *spec, const char *label,
                         int json)
{
    adj_tool_data d;
    if (adj_tool_data_load(spec, label, 0.1, 1, 1, &d))
        return 1;
    adj_tool_scale_images(&d);
    int ae = strcmp(adj_model_arch(m), "autoencoder") == 0, rc = 1;
    adj_train_data td = {.train = d.test, .test = d.test};
    if (!ae && image_shape(adj_model_config(m, "input"), &td) != 0) {
        fprintf(stderr, "adjoint eval: %s: the model's input is not C,H,W\n", model);
        goto done;
    }
    double metric, loss;
    adj_error err;
    if (adj_train_evaluate(m, &td, 2, NULL, &metric, &loss, &err) != ADJ_OK) {
        fprintf(stderr, "adjoint eval: %s\n", err.message);
        goto done;
    }
    if (json) {
        printf("{\"model\": ");
        adj_tool_json_string(stdout, model);
        printf(", \"arch\": \"%s\", \"samples\": %zu, \"test_%s\": %.6f, \"test_loss\": %.6f}\n",
               adj_model_arch(m), d.test->rows, ae ? "mse" : "accuracy", metric, loss);
    } else {
        printf("model %s (%s): %zu test samples, test %s %.*f, mean loss %.4f\n", model,
               adj_model_arch(m), d.test->rows, ae ? "reconstruction MSE" : "accuracy", ae ? 5 : 4,
               metric, loss);
    }
    rc = 0;
done:
    adj_tool_data_free(&d);
    return rc;
}
