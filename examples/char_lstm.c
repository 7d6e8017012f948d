/*
 * A character-level LSTM on a word list with the library trainer
 * (adjoint/train.h): the text's bytes are the vocabulary, 10% of its
 * lines are the validation part; random windows of 32 characters train
 * an embedding - LSTM - dense model with Adam; the validation loss (nats
 * per character) after every 100 steps; then a few sampled words.
 *
 *     ./char_lstm [--data FILE] [--steps 500] [--hidden 128] [--out FILE]
 *
 * FILE defaults to /usr/share/dict/words (Debian's wamerican); exits 77
 * when it is not there.
 */
#include <adjoint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int show(const adj_train_progress *p, void *user)
{
    (void)user;
    if (p->event == ADJ_TRAIN_EPOCH)
        printf("step %5lld: train loss %.4f, validation %.4f nats per character, %.0f chars/s\n",
               (long long)p->step, p->epoch_loss, p->val, p->rate);
    return 0;
}

/* Sample a word: feed the characters so far, draw the next from the
 * softmax of the last logits at temperature 0.8, stop at a newline. */
static void sample_word(adj_model *m, const adj_corpus *c, adj_rng *rng, char *word, int max)
{
    int32_t ids[64];
    int n = 0, nl = -1;
    for (int i = 0; i < c->nchars; i++)
        if (c->chars[i] == '\n')
            nl = i;
    ids[n++] = nl >= 0 ? nl : 0; /* start after a newline */
    adj_tape *t = adj_tape_new();
    int len = 0;
    while (len < max - 1 && n < 64) {
        adj_tape_reset(t);
        adj_var *logits = adj_model_forward(m, adj_index(t, 2, ((int64_t[]){1, n}), ids));
        double p[256], sum = 0;
        for (int v = 0; v < c->vocab; v++)
            sum += p[v] = exp(adj_value_at(logits, (size_t)(n - 1) * (size_t)c->vocab + (size_t)v) / 0.8);
        double u = adj_rng_uniform(rng) * sum;
        int next = 0;
        while (next < c->vocab - 1 && (u -= p[next]) > 0)
            next++;
        if (next == nl)
            break;
        word[len++] = (char)c->chars[next];
        ids[n++] = next;
    }
    word[len] = '\0';
    adj_tape_free(t);
}

int main(int argc, char **argv)
{
    const char *path = "/usr/share/dict/words", *out = NULL, *hidden = "128";
    long steps = 500;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--data") == 0)
            path = argv[i + 1];
        else if (strcmp(argv[i], "--steps") == 0)
            steps = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--hidden") == 0)
            hidden = argv[i + 1];
        else if (strcmp(argv[i], "--out") == 0)
            out = argv[i + 1];
    }
    adj_error err;
    adj_corpus *c = NULL;
    if (adj_corpus_text(path, 0.1, 1, &c, &err) != ADJ_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 77;
    }
    /* the vocabulary goes into the model, so that a saved model can sample text */
    char vocab[16], chars[513];
    snprintf(vocab, sizeof vocab, "%d", c->vocab);
    for (int i = 0; i < c->nchars; i++)
        snprintf(chars + 2 * i, 3, "%02x", c->chars[i]);
    const char *kv[] = {"vocab", vocab, "embed", "32", "hidden", hidden, "chars", chars};
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_model *m = adj_model_new("lstm", 4, kv, ADJ_F32, &rng, &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.message);
        adj_corpus_free(c);
        return 1;
    }
    printf("%d characters, %zu training and %zu validation bytes, %zu parameters\n", c->vocab,
           c->n_train, c->n_val, adj_params_numel(adj_model_params(m)));

    /* the trainer: batches of 32 windows of 32 characters, Adam 3e-3,
     * an "epoch" of 100 steps, then the loss on 20 validation batches */
    adj_train_config cfg = adj_train_defaults();
    cfg.optim.lr = 3e-3;
    cfg.batch = 32;
    cfg.epoch_steps = steps < 100 ? steps : 100;
    cfg.epochs = (steps + cfg.epoch_steps - 1) / cfg.epoch_steps;
    cfg.max_steps = steps;
    cfg.callback = show;
    adj_train_data d = {.corpus = c, .seq = 32};
    adj_train_result r;
    int rc = 0;
    if (adj_train(m, &d, &cfg, &r, &err) != ADJ_OK) {
        fprintf(stderr, "%s\n", err.message);
        rc = 1;
    } else {
        printf("validation loss %.4f nats per character after %lld steps\nsampled:", r.val,
               (long long)r.steps);
        adj_model_set_training(m, 0);
        for (int k = 0; k < 8; k++) {
            char word[40];
            sample_word(m, c, &rng, word, sizeof word);
            printf(" %s", word);
        }
        printf("\n");
        if (out && adj_model_write(m, out, &err) != ADJ_OK) {
            fprintf(stderr, "%s\n", err.message);
            rc = 1;
        }
    }
    adj_model_free(m);
    adj_corpus_free(c);
    return rc;
}
