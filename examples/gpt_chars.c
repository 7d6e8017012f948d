/*
 * A small GPT on a word list, one character at a time: the "gpt"
 * architecture (GPT-2's blocks; docs/models.md) trained with Adam on
 * random windows of the words, then the validation loss in nats per
 * character and a few sampled words.
 *
 *     gpt_chars [--data /usr/share/dict/words] [--steps 500] [--embed 64]
 *               [--layers 2] [--heads 4] [--seq 32] [--batch 32] [--lr 3e-3]
 *               [--seed 1] [--threads N] [--init-out FILE] [--out FILE]
 *
 * --init-out saves the model before training (bench/char_lm_torch.py
 * --model gpt --init FILE starts PyTorch from the same weights), --out
 * after.  Exits 77 when the word list is missing.
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

/* Mean cross-entropy of the model on windows x -> y (B, T). */
static adj_var *loss_of(adj_model *m, adj_tape *t, const int32_t *x, const int32_t *y, int64_t B, int64_t T)
{
    adj_var *logits = adj_model_forward(m, adj_index(t, 2, ((int64_t[]){B, T}), x));
    int64_t rows = B * T, V = adj_dim(logits, 2);
    return adj_cross_entropy(adj_reshape(logits, 2, ((int64_t[]){rows, V})), adj_index(t, 1, &rows, y), -100);
}

/* A word drawn after a newline, one character at a time (temperature 0.8). */
static void sample_word(adj_model *m, adj_tape *t, const adj_corpus *c, int T, adj_rng *rng)
{
    int32_t ctx[64];
    int n = 1, V = c->vocab;
    double *p = malloc((size_t)V * sizeof *p);
    ctx[0] = 0;
    while (ctx[0] < c->nchars && c->chars[ctx[0]] != '\n')
        ctx[0]++;
    for (; p && n < 40; n++) {
        int w = n < T ? n : T;
        adj_tape_reset(t);
        adj_var *lg = adj_model_forward(m, adj_index(t, 2, ((int64_t[]){1, w}), ctx + n - w));
        double mx = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++)
            mx = fmax(mx, p[v] = adj_value_at(lg, (size_t)(w - 1) * (size_t)V + (size_t)v) / 0.8);
        for (int v = 0; v < V; v++)
            sum += p[v] = exp(p[v] - mx);
        double u = adj_rng_uniform(rng) * sum;
        int k = 0;
        while (k < V - 1 && (u -= p[k]) > 0)
            k++;
        if (c->chars[k] == '\n')
            break;
        ctx[n] = k;
        putchar(c->chars[k]);
    }
    putchar('\n');
    free(p);
}

int main(int argc, char **argv)
{
    const char *data = "/usr/share/dict/words", *init_out = NULL, *out = NULL;
    long steps = 500, embed = 64, layers = 2, heads = 4, T = 32, B = 32, seed = 1, threads = 0;
    double lr = 3e-3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        long *l = !strcmp(a, "--steps") ? &steps : !strcmp(a, "--embed") ? &embed : !strcmp(a, "--layers") ? &layers
                : !strcmp(a, "--heads") ? &heads : !strcmp(a, "--seq") ? &T : !strcmp(a, "--batch") ? &B
                : !strcmp(a, "--seed") ? &seed : !strcmp(a, "--threads") ? &threads : NULL;
        if (l)
            *l = strtol(v, NULL, 10);
        else if (!strcmp(a, "--lr"))
            lr = strtod(v, NULL);
        else if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--init-out"))
            init_out = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else {
            fprintf(stderr, "gpt_chars: unknown option %s\n", a);
            return 2;
        }
    }
    if (threads > 0)
        adj_set_threads((int)threads);
    adj_error err;
    adj_corpus *c = NULL;
    if (adj_corpus_text(data, 0.1, (uint64_t)seed, &c, &err) != ADJ_OK) {
        fprintf(stderr, "gpt_chars: %s\n", err.message);
        return err.status == ADJ_EIO ? 77 : 1;
    }
    /* the model: the corpus's bytes as the vocabulary */
    char vocab[16], pos[16], e[16], l[16], h[16], *chars = malloc(2 * (size_t)c->nchars + 1);
    snprintf(vocab, sizeof vocab, "%d", c->vocab);
    snprintf(pos, sizeof pos, "%ld", T);
    snprintf(e, sizeof e, "%ld", embed);
    snprintf(l, sizeof l, "%ld", layers);
    snprintf(h, sizeof h, "%ld", heads);
    for (int i = 0; i < c->nchars; i++)
        sprintf(chars + 2 * i, "%02x", c->chars[i]);
    chars[2 * c->nchars] = '\0';
    const char *kv[] = {"vocab_size", vocab, "n_positions", pos, "n_embd", e, "n_layer", l, "n_head", h,
                        "chars", chars};
    adj_rng rng;
    adj_rng_seed(&rng, (uint64_t)seed);
    adj_model *m = adj_model_new("gpt", 6, kv, ADJ_F32, &rng, &err);
    free(chars);
    if (!m || (init_out && adj_model_write(m, init_out, &err) != ADJ_OK)) {
        fprintf(stderr, "gpt_chars: %s\n", err.message);
        return 1;
    }
    printf("gpt: %d characters, %zu training and %zu validation tokens, %ld blocks of width %ld\n", c->vocab,
           c->n_train, c->n_val, layers, embed);
    adj_params *p = adj_model_params(m);
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    oc.lr = lr;
    adj_optim *opt = adj_optim_new(p, &oc, NULL);
    adj_tape *t = adj_tape_new();
    int32_t *x = malloc((size_t)(B * T) * sizeof *x), *y = malloc((size_t)(B * T) * sizeof *y);
    double t0 = now();
    for (long s = 1; s <= steps; s++) {
        if (adj_corpus_batch(c, 0, (size_t)B, (size_t)T, &rng, x, y, &err) != ADJ_OK) {
            fprintf(stderr, "gpt_chars: %s\n", err.message);
            return 1;
        }
        adj_tape_reset(t);
        adj_var *loss = loss_of(m, t, x, y, B, T);
        adj_params_zero_grad(p);
        if (adj_backward(loss) != ADJ_OK) {
            fprintf(stderr, "gpt_chars: %s\n", adj_tape_message(t));
            return 1;
        }
        adj_optim_step(opt);
        if (s % 100 == 0 || s == steps)
            printf("step %4ld  loss %.4f  %.0f tokens/s\n", s, adj_item(loss), (double)(s * B * T) / (now() - t0));
    }
    double dt = now() - t0;
    /* validation: 20 batches of windows, in evaluation mode */
    adj_model_set_training(m, 0);
    adj_rng vr;
    adj_rng_seed(&vr, 7);
    double val = 0;
    for (int k = 0; k < 20; k++) {
        adj_corpus_batch(c, 1, (size_t)B, (size_t)T, &vr, x, y, NULL);
        adj_tape_reset(t);
        val += adj_item(loss_of(m, t, x, y, B, T)) / 20;
    }
    printf("validation loss %.4f nats per character, %.1f s, %.0f tokens/s\nsampled words:\n", val, dt,
           (double)(steps * B * T) / dt);
    for (int k = 0; k < 8; k++)
        sample_word(m, t, c, (int)T, &rng);
    if (out && adj_model_write(m, out, &err) != ADJ_OK)
        fprintf(stderr, "gpt_chars: %s\n", err.message);
    free(x);
    free(y);
    adj_tape_free(t);
    adj_optim_free(opt);
    adj_model_free(m);
    adj_corpus_free(c);
    return isfinite(val) ? 0 : 1;
}
