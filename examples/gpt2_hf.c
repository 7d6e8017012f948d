/*
 * GPT-2 from a Hugging Face directory (config.json, model.safetensors,
 * vocab.json, merges.txt): the prompt's loss (mean cross-entropy of each
 * next token, nats) and a continuation, greedy or sampled from the top k.
 *
 *     gpt2_hf DIR [PROMPT] [--tokens N] [--top-k K] [--seed S]
 *
 * With the real 124M checkpoint in gpt2/:
 *     gpt2_hf gpt2 "The meaning of life is" --tokens 30 --top-k 40
 */
#include <adjoint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The id to follow, from the last position's logits: greedy (k = 0) or
 * drawn from the k most likely. */
static int32_t next_id(const adj_var *logits, size_t last, int V, int k, adj_rng *rng)
{
    double *lg = malloc((size_t)V * sizeof *lg);
    int32_t best = 0;
    for (int v = 0; lg && v < V; v++) {
        lg[v] = adj_value_at(logits, last * (size_t)V + (size_t)v);
        if (lg[v] > lg[best])
            best = v;
    }
    if (lg && k > 0) {
        /* keep values at or above the k-th largest (found by k passes) */
        double cut = INFINITY;
        for (int r = 0; r < k && r < V; r++) {
            double m = -INFINITY;
            for (int v = 0; v < V; v++)
                if (lg[v] < cut && lg[v] > m)
                    m = lg[v];
            cut = m;
        }
        double sum = 0;
        for (int v = 0; v < V; v++)
            sum += lg[v] = lg[v] >= cut ? exp(lg[v] - lg[best]) : 0;
        double u = adj_rng_uniform(rng) * sum;
        for (int v = 0; v < V; v++)
            if ((u -= lg[v]) < 0 && lg[v] > 0) {
                best = v;
                break;
            }
    }
    free(lg);
    return best;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *prompt = "Hello, my name is";
    long ntok = 20, topk = 0, seed = 1;
    for (int i = 1, pos = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
            ntok = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--top-k") && i + 1 < argc)
            topk = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtol(argv[++i], NULL, 10);
        else if (pos++ == 0)
            dir = argv[i];
        else
            prompt = argv[i];
    }
    if (!dir) {
        fprintf(stderr, "usage: gpt2_hf DIR [PROMPT] [--tokens N] [--top-k K] [--seed S]\n");
        return 2;
    }
    adj_error err;
    adj_model *m = NULL;
    adj_bpe *tok = NULL;
    if (adj_model_load_hf(dir, ADJ_F32, &m, &err) != ADJ_OK || adj_bpe_load(dir, &tok, &err) != ADJ_OK) {
        fprintf(stderr, "gpt2_hf: %s\n", err.message);
        adj_model_free(m);
        return 1;
    }
    int V = atoi(adj_model_config(m, "vocab_size")), P = atoi(adj_model_config(m, "n_positions"));
    int32_t *ids = NULL;
    size_t n = 0;
    if (adj_bpe_encode(tok, prompt, strlen(prompt), &ids, &n, &err) != ADJ_OK || n == 0) {
        fprintf(stderr, "gpt2_hf: %s\n", n ? err.message : "an empty prompt");
        return 1;
    }
    int32_t *ctx = malloc((n + (size_t)ntok) * sizeof *ctx);
    memcpy(ctx, ids, n * sizeof *ctx);
    free(ids);
    adj_model_set_training(m, 0);
    adj_tape *t = adj_tape_new();
    /* the prompt's loss: token i + 1 predicted from tokens 0..i */
    if (n > 1 && n <= (size_t)P) {
        adj_var *lg = adj_model_forward(m, adj_index(t, 2, ((int64_t[]){1, (int64_t)n - 1}), ctx));
        int64_t rows = (int64_t)n - 1;
        adj_var *loss = adj_cross_entropy(adj_reshape(lg, 2, ((int64_t[]){rows, V})),
                                          adj_index(t, 1, &rows, ctx + 1), -100);
        printf("prompt: %zu tokens, loss %.4f nats per token\n", n, adj_item(loss));
    }
    adj_rng rng;
    adj_rng_seed(&rng, (uint64_t)seed);
    fputs(prompt, stdout);
    for (long s = 0; s < ntok; s++, n++) {
        size_t w = n > (size_t)P ? (size_t)P : n; /* the last n_positions tokens */
        adj_tape_reset(t);
        adj_var *lg = adj_model_forward(m, adj_index(t, 2, ((int64_t[]){1, (int64_t)w}), ctx + n - w));
        if (!lg || adj_tape_status(t) != ADJ_OK) {
            fprintf(stderr, "gpt2_hf: %s\n", adj_tape_message(t));
            return 1;
        }
        ctx[n] = next_id(lg, w - 1, V, (int)topk, &rng);
        size_t len = 0;
        const char *piece = adj_bpe_token(tok, ctx[n], &len);
        if (piece)
            fwrite(piece, 1, len, stdout);
        fflush(stdout);
    }
    putchar('\n');
    free(ctx);
    adj_tape_free(t);
    adj_bpe_free(tok);
    adj_model_free(m);
    return 0;
}
