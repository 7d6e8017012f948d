/*
 * adjoint eval MODEL — test accuracy and confusion matrix of a saved model.
 */
#include "commands.h"
#include "lm.h"
#include "train.h"
#include "data.h"

#include <stdlib.h>
#include <string.h>

static void eval_usage(FILE *f)
{
    fprintf(f,
            "usage: adjoint eval MODEL [OPTIONS]\n"
            "Evaluate a model saved by 'adjoint train' on a test set.\n\n"
            "  --data idx:DIR | csv:FILE  test data: DIR's t10k files, or every row of FILE\n"
            "                     (default %s)\n"
            "  --label COL        CSV label column: name or 0-based index (default: last)\n"
            "  --threads N        threads for products, maps, updates (default: ADJ_NUM_THREADS,\n"
            "                     else OMP_NUM_THREADS, else the CPUs this process may use)\n"
            "  --json             machine-readable output\n"
            "  --help             this text\n",
            ADJ_DEFAULT_DATA);
}

int adj_cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *spec = ADJ_DEFAULT_DATA, *label = NULL;
    int json = 0;
    long threads = 0; /* the library's default */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            eval_usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--data") == 0 || strcmp(a, "--label") == 0 ||
                   strcmp(a, "--threads") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "adjoint eval: %s needs a value\n", a);
                return 2;
            }
            if (strcmp(a, "--data") == 0)
                spec = argv[++i];
            else if (strcmp(a, "--label") == 0)
                label = argv[++i];
            else if (adj_tool_long(a, argv[++i], 1, 1024, &threads))
                return 2;
        } else if (a[0] == '-' || model) {
            fprintf(stderr, "adjoint eval: unexpected argument '%s'\n", a);
            eval_usage(stderr);
            return 2;
        } else {
            model = a;
        }
    }
    if (!model) {
        fprintf(stderr, "adjoint eval: name the model file to evaluate\n\n");
        eval_usage(stderr);
        return 2;
    }
    int lm_spec = strncmp(spec, "text:", 5) == 0 || strncmp(spec, "tokens:", 7) == 0;
    if (!lm_spec && adj_tool_data_spec_check(spec))
        return 2;
    if (label && strncmp(spec, "idx:", 4) == 0) {
        fprintf(stderr, "adjoint eval: --label names a CSV column; IDX data (%s) has its labels "
                        "in its own files\n",
                spec);
        return 2;
    }
    if (threads > 0)
        adj_set_threads((int)threads);
    adj_model *mo = adj_tool_lm_open("adjoint eval", model);
    if (!mo)
        return 1;
    adj_mlp *m = adj_model_mlp(mo);
    if (!m && !lm_spec && (strcmp(adj_model_arch(mo), "cnn") == 0 ||
                           strcmp(adj_model_arch(mo), "autoencoder") == 0)) {
        int r = adj_tool_eval_images(mo, model, spec, label, json);
        adj_model_free(mo);
        return r;
    }
    if (!m) { /* a language model */
        int r = adj_tool_eval_lm(mo, model, lm_spec ? spec : NULL, json);
        adj_model_free(mo);
        return r;
    }
    adj_tool_data data;
    if (adj_tool_data_load(spec, label, 0.1, 1, 1, &data)) {
        adj_model_free(mo);
        return 1;
    }
    const adj_mlp_config *c = adj_mlp_get_config(m);
    int classes = (int)c->sizes[c->n_sizes - 1];
    adj_dataset *d = data.test;
    int rc = 1;
    int32_t *pred = malloc((d->rows ? d->rows : 1) * sizeof *pred);
    int64_t *cm = calloc((size_t)classes * (size_t)classes, sizeof *cm);
    adj_tape *t = adj_tape_new();
    if (!pred || !cm || !t) {
        fprintf(stderr, "adjoint eval: out of memory\n");
        goto done;
    }
    if ((int64_t)d->cols != c->sizes[0] || d->classes > classes) {
        fprintf(stderr,
                "adjoint eval: the data has %zu features and %d classes, the model takes "
                "%lld features and has %d classes\n",
                d->cols, d->classes, (long long)c->sizes[0], classes);
        goto done;
    }
    if (c->dtype != ADJ_F32) {
        fprintf(stderr, "adjoint eval: only f32 models are supported by this command\n");
        goto done;
    }
    adj_mlp_prepare_input(m, d->x, d->rows);
    if (adj_mlp_predict(m, t, d->x, d->rows, 1000, pred) != ADJ_OK) {
        fprintf(stderr, "adjoint eval: %s\n", adj_tape_message(t));
        goto done;
    }
    double acc = adj_accuracy(pred, d->y, d->rows);
    adj_confusion_matrix(pred, d->y, d->rows, classes, cm);
    if (json) {
        printf("{\"model\": ");
        adj_tool_json_string(stdout, model);
        printf(", \"samples\": %zu, \"test_accuracy\": %.6f, \"confusion\": [", d->rows, acc);
        for (int i = 0; i < classes; i++) {
            printf("%s[", i ? ", " : "");
            for (int j = 0; j < classes; j++)
                printf("%s%lld", j ? ", " : "", (long long)cm[i * classes + j]);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("model %s: %zu test samples, test accuracy %.4f\n\n", model, d->rows, acc);
        printf("confusion matrix (rows: true class, columns: predicted)\n      ");
        for (int j = 0; j < classes; j++)
            printf(" %6d", j);
        printf("   recall\n");
        for (int i = 0; i < classes; i++) {
            int64_t row = 0;
            printf("%5d ", i);
            for (int j = 0; j < classes; j++) {
                printf(" %6lld", (long long)cm[i * classes + j]);
                row += cm[i * classes + j];
            }
            printf("   %.3f\n", row ? (double)cm[i * classes + i] / (double)row : 0.0);
        }
    }
    rc = 0;
done:
    adj_tape_free(t);
    free(cm);
    free(pred);
    adj_tool_data_free(&data);
    adj_model_free(mo);
    return rc;
}
