/*
 * adjoint sample MODEL: text (or token ids) from a language model, one
 * token at a time: the logits of the last position over the whole
 * context, divided by the temperature, cut to the top k, sampled (seeded);
 * temperature 0 takes the most likely token.
 */
#include "commands.h"
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: adjoint sample MODEL [--prompt TEXT | --prompt-tokens 1,2,3] [--steps N]\n"
               "                      [--temperature T] [--top-k K] [--seed S] [--no-cache]\n"
               "Print the prompt and N (default 200) tokens sampled from a language model\n"
               "(rnn, lstm, gru, gpt) saved by adjoint train, or a Hugging Face GPT-2\n"
               "directory (config.json, model.safetensors).  Temperature 0 is greedy (default 1);\n"
               "--top-k keeps the K most likely tokens (default 0: all).  The prompt (default:\n"
               "a newline, when the vocabulary has one) must use the model's bytes; a model\n"
               "of token ids takes --prompt-tokens and prints ids.  A directory with GPT-2's\n"
               "tokenizer (vocab.json, merges.txt) takes --prompt TEXT (default: <|endoftext|>)\n"
               "and prints text.  A gpt model keeps its keys and values of the context in a\n"
               "cache while the context fits n_positions (--no-cache: a forward over the\n"
               "whole context for every token).\n");
}

/* Token id's bytes on stdout (nothing for an id without a token); the
 * last byte, or -1. */
static int emit(const adj_bpe *b, int32_t id)
{
    size_t len = 0;
    const char *tok = adj_bpe_token(b, id, &len);
    if (!tok || !len)
        return -1;
    fwrite(tok, 1, len, stdout);
    return (unsigned char)tok[len - 1];
}

static int hexval(char h) { return h <= '9' ? h - '0' : h - 'a' + 10; }

/* Token from logits (V doubles) as the options say. */
static int pick(double *lg, int V, double temp, long topk, adj_rng *rng)
{
    int best = 0;
    for (int i = 1; i < V; i++)
        if (lg[i] > lg[best])
            best = i;
    if (temp == 0)
        return best;
    if (topk > 0 && topk < V) {
        /* the k-th largest value as the cut (ties kept) */
        double *s = malloc((size_t)V * sizeof *s);
        if (s) {
            memcpy(s, lg, (size_t)V * sizeof *s);
            for (long k = 0; k < topk; k++) {
                int m = (int)k;
                for (int i = (int)k + 1; i < V; i++)
                    if (s[i] > s[m])
                        m = i;
                double tmp = s[k];
                s[k] = s[m];
                s[m] = tmp;
            }
            double cut = s[topk - 1];
            free(s);
            for (int i = 0; i < V; i++)
                if (lg[i] < cut)
                    lg[i] = -INFINITY;
        }
    }
    /* the largest logit, kept aside: the loop overwrites lg[best] */
    double sum = 0, top = lg[best];
    for (int i = 0; i < V; i++)
        sum += lg[i] = exp((lg[i] - top) / temp);
    double u = adj_rng_uniform(rng) * sum, acc = 0;
    for (int i = 0; i < V; i++) {
        acc += lg[i];
        if (u < acc && lg[i] > 0)
            return i;
    }
    return best;
}

int adj_cmd_sample(int argc, char **argv)
{
    const char *model = NULL, *prompt = NULL, *ptok = NULL;
    long steps = 200, topk = 0, seed = 1;
    double temp = 1;
    int use_cache = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--no-cache") == 0) {
            use_cache = 0;
            continue;
        }
        if (a[0] != '-') {
            if (model) {
                fprintf(stderr, "adjoint sample: one model, not %s and %s\n", model, a);
                return 2;
            }
            model = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "adjoint sample: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (strcmp(a, "--prompt") == 0)
            prompt = v;
        else if (strcmp(a, "--prompt-tokens") == 0)
            ptok = v;
        else if (strcmp(a, "--steps") == 0)
            bad = adj_tool_long(a, v, 0, 1000000, &steps);
        else if (strcmp(a, "--top-k") == 0)
            bad = adj_tool_long(a, v, 0, 1 << 20, &topk);
        else if (strcmp(a, "--seed") == 0)
            bad = adj_tool_long(a, v, 0, 0x7fffffffL, &seed);
        else if (strcmp(a, "--temperature") == 0)
            bad = adj_tool_number(a, v, 0, 0, 1e6, 0, &temp);
        else {
            fprintf(stderr, "adjoint sample: unknown option %s\n", a);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (!model) {
        usage(stderr);
        return 2;
    }
    adj_model *m = adj_tool_lm_open("adjoint sample", model);
    if (!m)
        return 1;
    if (prompt && ptok) {
        fprintf(stderr, "adjoint sample: --prompt or --prompt-tokens, not both\n");
        adj_model_free(m);
        return 2;
    }
    const char *chars = adj_model_config(m, "chars");
    long ctxmax = adj_tool_lm_context(m);
    if (adj_tool_lm_vocab(m) < 1) {
        fprintf(stderr, "adjoint sample: %s is a \"%s\" model, not a language model\n", model,
                adj_model_arch(m));
        adj_model_free(m);
        return 1;
    }
    int V = (int)adj_tool_lm_vocab(m), text = chars && *chars;
    /* a Hugging Face directory with vocab.json and merges.txt: text
     * through GPT-2's BPE */
    adj_bpe *bpe = NULL;
    int32_t *pids = NULL;
    size_t npids = 0;
    if (adj_tool_lm_bpe("adjoint sample", model, &bpe)) {
        adj_model_free(m);
        return 1;
    }
    if (bpe && !ptok) {
        adj_error err;
        const char *eot = "<|endoftext|>";
        int32_t e = adj_bpe_find(bpe, eot, strlen(eot));
        if (!prompt && e < 0) {
            fprintf(stderr, "adjoint sample: the tokenizer has no <|endoftext|>: give a --prompt\n");
            adj_bpe_free(bpe);
            adj_model_free(m);
            return 2;
        }
        if (prompt ? adj_bpe_encode(bpe, prompt, strlen(prompt), &pids, &npids, &err) != ADJ_OK
                   : !(pids = malloc(sizeof *pids))) {
            fprintf(stderr, "adjoint sample: %s\n", prompt ? err.message : "out of memory");
            adj_bpe_free(bpe);
            adj_model_free(m);
            return 1;
        }
        if (!prompt)
            pids[npids++] = e;
        text = 1;
    }
    unsigned char byte[256];
    int id[256];
    for (int i = 0; i < 256; i++)
        id[i] = -1;
    for (int i = 0; text && !bpe && i < V; i++) {
        byte[i] = (unsigned char)(hexval(chars[2 * i]) * 16 + hexval(chars[2 * i + 1]));
        id[byte[i]] = i;
    }
    if (!text && !ptok && !bpe) {
        fprintf(stderr, "adjoint sample: %s reads token ids: give --prompt-tokens\n", model);
        adj_model_free(m);
        return 2;
    }
    if (!prompt && !ptok && !bpe)
        prompt = id['\n'] >= 0 ? "\n" : (const char *)NULL;
    size_t np = bpe && !ptok ? npids : prompt ? strlen(prompt) : ptok ? strlen(ptok) / 2 + 1 : 0;
    if (np == 0 || (prompt && !text)) {
        fprintf(stderr, "adjoint sample: give a --prompt%s\n",
                text ? (bpe ? " (it encodes to no tokens)" : " (the vocabulary has no newline)")
                     : "-tokens (the model reads token ids)");
        adj_bpe_free(bpe);
        free(pids);
        adj_model_free(m);
        return 2;
    }
    int32_t *ctx = malloc((np + (size_t)steps + 1) * sizeof *ctx);
    double *lg = malloc((size_t)V * sizeof *lg);
    adj_tape *t = adj_tape_new();
    adj_gpt_cache *kv = NULL;
    adj_error err;
    int rc = 1;
    if (!ctx || !lg || !t) {
        fprintf(stderr, "adjoint sample: out of memory\n");
        goto done;
    }
    if (ptok) {
        np = 0;
        for (const char *q = ptok; *q;) {
            char *end;
            long v = strtol(q, &end, 10);
            if (end == q || v < 0 || v >= V || (*end && *end != ',')) {
                fprintf(stderr, "adjoint sample: --prompt-tokens %s: ids are integers in [0, %d), comma separated\n",
                        ptok, V);
                rc = 2;
                goto done;
            }
            ctx[np++] = (int32_t)v;
            q = *end ? end + 1 : end;
        }
        for (size_t i = 0; i < np; i++)
            if (bpe)
                emit(bpe, ctx[i]);
            else if (text)
                fputc(byte[ctx[i]], stdout);
            else
                printf("%s%d", i ? "," : "", ctx[i]);
    } else if (bpe) {
        for (size_t i = 0; i < np; i++) {
            if (pids[i] >= V) {
                fprintf(stderr, "adjoint sample: the prompt's token %d is outside the model's vocabulary (%d)\n",
                        (int)pids[i], V);
                rc = 2;
                goto done;
            }
            ctx[i] = pids[i];
        }
        if (prompt)
            fputs(prompt, stdout);
    } else {
        for (size_t i = 0; i < np; i++) {
            unsigned char ch = (unsigned char)prompt[i];
            if (id[ch] < 0) {
                fprintf(stderr, "adjoint sample: the prompt's byte 0x%02x (at %zu) is not in the model's vocabulary\n",
                        ch, i);
                rc = 2;
                goto done;
            }
            ctx[i] = id[ch];
        }
        fwrite(prompt, 1, np, stdout);
    }
    if (np == 0) {
        fprintf(stderr, "adjoint sample: an empty prompt\n");
        rc = 2;
        goto done;
    }
    adj_rng rng;
    adj_rng_seed(&rng, (uint64_t)seed);
    adj_model_set_training(m, 0);
    size_t n = np;
    int last = bpe ? -1 : text ? byte[ctx[n - 1]] : -1;
    if (use_cache && strcmp(adj_model_arch(m), "gpt") == 0 && !(kv = adj_gpt_cache_new(m, &err))) {
        fprintf(stderr, "adjoint sample: %s\n", err.message);
        goto done;
    }
    for (long s = 0; s < steps; s++, n++) {
        if (kv && ctxmax > 0 && n <= (size_t)ctxmax) {
            /* the positions not in the cache yet: the prompt, then one */
            for (int64_t j = adj_gpt_cache_length(kv); j < (int64_t)n; j++)
                if (adj_gpt_cache_step(kv, ctx[j], lg, &err) != ADJ_OK) {
                    fprintf(stderr, "adjoint sample: %s\n", err.message);
                    goto done;
                }
        } else {
            adj_tape_reset(t);
            /* the last n_positions tokens for a model of bounded context */
            size_t w = ctxmax > 0 && n > (size_t)ctxmax ? (size_t)ctxmax : n;
            adj_var *x = adj_index(t, 2, ((int64_t[]){1, (int64_t)w}), ctx + (n - w));
            adj_var *y = adj_model_forward(m, x);
            if (!y) {
                fprintf(stderr, "adjoint sample: %s\n", adj_tape_message(t));
                goto done;
            }
            for (int v = 0; v < V; v++)
                lg[v] = adj_value_at(y, (w - 1) * (size_t)V + (size_t)v);
        }
        ctx[n] = pick(lg, V, temp, topk, &rng);
        if (bpe)
            last = emit(bpe, ctx[n]);
        else if (text)
            fputc(last = byte[ctx[n]], stdout);
        else
            printf(",%d", ctx[n]);
        fflush(stdout);
    }
    if (!text || last != '\n')
        fputc('\n', stdout);
    rc = 0;
done:
    adj_gpt_cache_free(kv);
    adj_bpe_free(bpe);
    free(pids);
    adj_tape_free(t);
    free(ctx);
    free(lg);
    adj_model_free(m);
    return rc;
}
