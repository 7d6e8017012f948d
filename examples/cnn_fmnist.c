/*
 * A convolutional network on Fashion-MNIST: the "cnn" architecture's
 * default network
 *
 *     conv 3x3 32 - ReLU - maxpool 2 - conv 3x3 64 - ReLU - maxpool 2
 *     - dense 128 - ReLU - dropout 0.25 - dense 10
 *
 * trained with Adam on the mean cross-entropy, the learning rate following a
 * cosine from --lr down to 0 over all the steps, with the test accuracy
 * after every epoch: the recipe of `adjoint train --model cnn`, whose
 * results docs/models.md gives.
 *
 *     ./cnn_fmnist [--data DIR] [--epochs 15] [--batch 64] [--lr 1e-3]
 *                  [--train-rows N] [--test-rows N] [--seed 1] [--out FILE]
 *
 * DIR holds train-* and t10k-* IDX files (default
 * /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist);
 * --train-rows and --test-rows use only the first N images of each.
 * Exits 77 when the data set is not there.
 */
#include <adjoint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Pixels to [0, 1], and only the first `rows` images (0: all). */
static void prepare(adj_dataset *d, size_t rows)
{
    if (rows && rows < d->rows)
        d->rows = rows;
    for (size_t i = 0; i < d->rows * d->cols; i++)
        d->x[i] /= 255.0f;
}

/* Accuracy of m on d, in evaluation mode, 500 images at a time. */
static double accuracy(adj_model *m, const adj_dataset *d, adj_tape *t)
{
    adj_model_set_training(m, 0);
    size_t right = 0;
    static double logits[500 * 10];
    for (size_t at = 0; at < d->rows; at += 500) {
        size_t n = d->rows - at < 500 ? d->rows - at : 500;
        adj_tape_reset(t);
        adj_var *x = adj_constant_f32(t, 2, ((int64_t[]){(int64_t)n, (int64_t)d->cols}), d->x + at * d->cols);
        if (adj_copy_value(adj_model_forward(m, x), logits) != ADJ_OK)
            return NAN;
        for (size_t i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < 10; k++)
                if (logits[i * 10 + k] > logits[i * 10 + best])
                    best = k;
            right += best == d->y[at + i];
        }
    }
    adj_model_set_training(m, 1);
    return (double)right / (double)d->rows;
}

int main(int argc, char **argv)
{
    const char *dir = "/usr/share/datasets/fashion-mnist", *out = NULL;
    int epochs = 15;
    size_t batch = 64, train_rows = 0, test_rows = 0;
    double lr = 1e-3;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (strcmp(o, "--data") == 0)
            dir = v;
        else if (strcmp(o, "--epochs") == 0)
            epochs = atoi(v);
        else if (strcmp(o, "--batch") == 0)
            batch = strtoul(v, NULL, 10);
        else if (strcmp(o, "--lr") == 0)
            lr = atof(v);
        else if (strcmp(o, "--train-rows") == 0)
            train_rows = strtoul(v, NULL, 10);
        else if (strcmp(o, "--test-rows") == 0)
            test_rows = strtoul(v, NULL, 10);
        else if (strcmp(o, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else if (strcmp(o, "--out") == 0)
            out = v;
        else {
            fprintf(stderr, "cnn_fmnist: unknown option %s\n", o);
            return 2;
        }
    }
    adj_error err;
    adj_dataset *train = NULL, *test = NULL;
    if (adj_dataset_load_idx(dir, "train", &train, &err) != ADJ_OK ||
        adj_dataset_load_idx(dir, "t10k", &test, &err) != ADJ_OK) {
        fprintf(stderr, "cnn_fmnist: %s (install dataset-fashion-mnist or give --data DIR)\n", err.message);
        adj_dataset_free(train);
        return 77;
    }
    prepare(train, train_rows);
    prepare(test, test_rows);

    /* the model: every key at its default, the network above */
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    adj_model *m = adj_model_new("cnn", 0, NULL, ADJ_F32, &rng, &err);
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    oc.lr = lr;
    adj_optim *opt = m ? adj_optim_new(adj_model_params(m), &oc, NULL) : NULL;
    adj_batcher *b = adj_batcher_new(train, batch, 1, seed);
    adj_tape *t = adj_tape_new();
    int rc = m && opt && b && t ? 0 : 1;
    if (rc)
        fprintf(stderr, "cnn_fmnist: %s\n", m ? "out of memory" : err.message);
    /* the learning rate: a cosine from lr down to 0 over all the steps */
    adj_lr_schedule cosine = {.kind = ADJ_LR_COSINE, .base_lr = lr};
    cosine.total = b ? (int64_t)epochs * (int64_t)adj_batcher_count(b) : 0;
    printf("cnn_fmnist: %zu training and %zu test images, batch %zu, %zu batches per epoch\n",
           train->rows, test->rows, batch, b ? adj_batcher_count(b) : 0);

    for (int e = 0; e < epochs && rc == 0; e++) {
        double t0 = now(), sum = 0;
        size_t seen = 0, step = 0, n;
        const float *xb;
        const int32_t *yb;
        adj_batcher_epoch(b);
        while (rc == 0 && (n = adj_batcher_next(b, &xb, &yb)) > 0) {
            adj_tape_reset(t);
            adj_var *x = adj_constant_f32(t, 2, ((int64_t[]){(int64_t)n, 784}), xb);
            adj_var *loss = adj_softmax_cross_entropy(adj_model_forward(m, x), yb);
            adj_params_zero_grad(adj_model_params(m));
            adj_optim_set_lr(opt, adj_lr_at(&cosine, adj_optim_steps(opt)));
            if (adj_backward(loss) != ADJ_OK || adj_optim_step(opt) != ADJ_OK) {
                fprintf(stderr, "cnn_fmnist: %s\n", adj_tape_message(t));
                rc = 1;
                break;
            }
            sum += adj_item(loss) * (double)n;
            seen += n;
            if (++step % 100 == 0)
                printf("  epoch %d  batch %5zu/%zu  loss %.4f  %.1f s\n", e + 1, step,
                       adj_batcher_count(b), sum / (double)seen, now() - t0);
        }
        if (rc)
            break;
        double secs = now() - t0, acc = accuracy(m, test, t), loss = sum / (double)seen;
        printf("epoch %d  training loss %.4f  test accuracy %.4f  %.1f s\n", e + 1, loss, acc, secs);
        if (!isfinite(loss) || !isfinite(acc))
            rc = 1;
        fflush(stdout);
    }
    if (rc == 0 && out && adj_model_write(m, out, &err) != ADJ_OK) {
        fprintf(stderr, "cnn_fmnist: %s\n", err.message);
        rc = 1;
    }
    adj_tape_free(t);
    adj_batcher_free(b);
    adj_optim_free(opt);
    adj_model_free(m);
    adj_dataset_free(train);
    adj_dataset_free(test);
    return rc;
}
