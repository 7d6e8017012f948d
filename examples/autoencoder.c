/*
 * An autoencoder on Fashion-MNIST with the library trainer (adjoint/train.h):
 * the shallow dense autoencoder 784 - code - 784 (ReLU code, sigmoid
 * output), or with --conv the convolutional one (stride-2 convolutions of
 * 16 and 32 channels, a dense code, transposed convolutions back), trained
 * with Adam on the reconstruction error; the validation and test MSE
 * after every epoch.
 *
 *     ./autoencoder [--data DIR] [--epochs 5] [--code 32] [--conv]
 *                   [--train-rows N] [--test-rows N] [--out FILE]
 *
 * DIR holds train-* and t10k-* IDX files (default
 * /usr/share/datasets/fashion-mnist); exits 77 when they are not there.
 */
#include <adjoint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pixels to [0, 1], and only the first `rows` images (0: all). */
static void prepare(adj_dataset *d, size_t rows)
{
    if (rows && rows < d->rows)
        d->rows = rows;
    adj_dataset_scale(d, 0, 255);
}

static int show(const adj_train_progress *p, void *user)
{
    (void)user;
    if (p->event == ADJ_TRAIN_EPOCH)
        printf("epoch %lld: train MSE %.5f, validation %.5f, test %.5f (%.1f s)\n",
               (long long)p->epoch, p->epoch_loss, p->val, p->test, p->seconds);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = "/usr/share/datasets/fashion-mnist", *out = NULL, *code = "32";
    long epochs = 5, train_rows = 0, test_rows = 0;
    int conv = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--conv") == 0)
            conv = 1;
        else if (v && strcmp(a, "--data") == 0)
            dir = argv[++i];
        else if (v && strcmp(a, "--out") == 0)
            out = argv[++i];
        else if (v && strcmp(a, "--code") == 0)
            code = argv[++i];
        else if (v && strcmp(a, "--epochs") == 0)
            epochs = atol(argv[++i]);
        else if (v && strcmp(a, "--train-rows") == 0)
            train_rows = atol(argv[++i]);
        else if (v && strcmp(a, "--test-rows") == 0)
            test_rows = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--data DIR] [--epochs N] [--code N] [--conv] "
                            "[--train-rows N] [--test-rows N] [--out FILE]\n", argv[0]);
            return 2;
        }
    }
    adj_error err;
    adj_dataset *all = NULL, *test = NULL, *train = NULL, *val = NULL;
    if (adj_dataset_load_idx(dir, "train", &all, &err) != ADJ_OK ||
        adj_dataset_load_idx(dir, "t10k", &test, &err) != ADJ_OK) {
        fprintf(stderr, "%s\n", err.message);
        adj_dataset_free(all);
        return 77;
    }
    prepare(all, train_rows ? (size_t)train_rows * 12 / 11 : 0);
    prepare(test, (size_t)test_rows);
    adj_dataset_split(all, 1.0 / 12, 1, &train, &val, &err);

    /* the model: 784 - code - 784, or the convolutional one on 1x28x28 */
    const char *kv[] = {"input", "784", "code", code, "channels", "16,32", "image", "1,28,28"};
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_model *m = adj_model_new("autoencoder", conv ? 4 : 2, kv, ADJ_F32, &rng, &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("%s autoencoder, code %s, %zu parameters, %zu training images\n",
           conv ? "convolutional" : "dense", code, adj_params_numel(adj_model_params(m)),
           train->rows);

    /* the trainer: Adam, batches of 128, the MSE on val and test per epoch */
    adj_train_config c = adj_train_defaults();
    c.batch = 128;
    c.epochs = epochs;
    c.callback = show;
    adj_train_data d = {.train = train, .val = val, .test = test, .ndim = 3, .shape = {1, 28, 28}};
    adj_train_result r;
    int rc = 0;
    if (adj_train(m, &d, &c, &r, &err) != ADJ_OK) {
        fprintf(stderr, "%s\n", err.message);
        rc = 1;
    } else {
        printf("test reconstruction MSE %.5f after %lld steps, %.1f s\n", r.test,
               (long long)r.steps, r.train_seconds);
        if (out && adj_model_write(m, out, &err) != ADJ_OK) {
            fprintf(stderr, "%s\n", err.message);
            rc = 1;
        }
    }
    adj_model_free(m);
    adj_dataset_free(all);
    adj_dataset_free(train);
    adj_dataset_free(val);
    adj_dataset_free(test);
    return rc;
}
