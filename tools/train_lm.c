/*
 * adjoint train --model rnn|lstm|gru: a character (or token) language
 * model on --data text:FILE or tokens:FILE, trained on random (B, T)
 * windows with Adam for --steps steps; the mean validation cross-entropy
 * (nats per token) is reported, and the model saved as
 * OUT/model.safetensors.
 */
#include "commands.h"
#include "data.h"
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lm_opts {
    const char *model, *data, *out;
    long hidden, embed, layers, seq, batch, steps, threads, eval_batches;
    double lr, val_frac;
    unsigned long long seed;
    int json, quiet;
} lm_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: adjoint train --model rnn|lstm|gru [OPTIONS]\n"
            "Train a character (or token) language model.\n\n"
            "  --data text:FILE | tokens:FILE  a byte-level text (the vocabulary is the\n"
            "                     bytes in it; a file of lines is split by lines) or\n"
            "                     little-endian uint16 token ids (default text:%s)\n"
            "  --embed N          embedding size (default 32)\n"
            "  --hidden N         hidden units (default 128)\n"
            "  --layers N         recurrent layers (default 1)\n"
            "  --seq T            window length (default 32)\n"
            "  --batch N          windows per step (default 32)\n"
            "  --steps N          optimizer steps (default 500)\n"
            "  --lr X             Adam learning rate (default 3e-3)\n"
            "  --val-frac X       validation fraction (default 0.1)\n"
            "  --seed N           seed of the split, initialisation and windows (default 1)\n"
            "  --threads N        threads (default: the library's)\n"
            "  --out DIR          output directory (default adjoint-run): model.safetensors\n"
            "  --json             print a JSON summary on stdout\n"
            "  --quiet            no progress output\n",
            ADJ_LM_DEFAULT_TEXT);
}

static int parse(int argc, char **argv, lm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = "lstm";
    o->data = "text:" ADJ_LM_DEFAULT_TEXT;
    o->out = "adjoint-run";
    o->hidden = 128;
    o->embed = 32;
    o->layers = 1;
    o->seq = 32;
    o->batch = 32;
    o->steps = 500;
    o->lr = 3e-3;
    o->val_frac = 0.1;
    o->seed = 1;
    o->eval_batches = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "adjoint: unknown option or missing value: %s\n", a);
            return 2;
        }
        const char *v = argv[++i];
        long l = 0;
        int bad = 0;
        if (strcmp(a, "--model") == 0)
            o->model = v;
        else if (strcmp(a, "--data") == 0)
            o->data = v;
        else if (strcmp(a, "--out") == 0)
            o->out = v;
        else if (strcmp(a, "--hidden") == 0)
            bad = adj_tool_long(a, v, 1, 1 << 16, &o->hidden);
        else if (strcmp(a, "--embed") == 0)
            bad = adj_tool_long(a, v, 1, 1 << 16, &o->embed);
        else if (strcmp(a, "--layers") == 0)
            bad = adj_tool_long(a, v, 1, 8, &o->layers);
        else if (strcmp(a, "--seq") == 0)
            bad = adj_tool_long(a, v, 1, 4096, &o->seq);
        else if (strcmp(a, "--batch") == 0)
            bad = adj_tool_long(a, v, 1, 1 << 16, &o->batch);
        else if (strcmp(a, "--steps") == 0)
            bad = adj_tool_long(a, v, 0, 100000000, &o->steps);
        else if (strcmp(a, "--threads") == 0)
            bad = adj_tool_long(a, v, 0, 1024, &o->threads);
        else if (strcmp(a, "--seed") == 0) {
            bad = adj_tool_long(a, v, 0, 0x7fffffffL, &l);
            o->seed = (unsigned long long)l;
        } else if (strcmp(a, "--lr") == 0)
            bad = adj_tool_number(a, v, 0, 1, 1e3, 0, &o->lr);
        else if (strcmp(a, "--val-frac") == 0)
            bad = adj_tool_number(a, v, 0, 1, 1, 1, &o->val_frac);
        else {
            fprintf(stderr, "adjoint: unknown option %s for --model %s (adjoint train --model %s --help)\n",
                    a, o->model, o->model);
            return 2;
        }
        if (bad)
            return 2;
    }
    return 0;
}

int adj_cmd_train_lm(int argc, char **argv)
{
    lm_opts o;
    int pr = parse(argc, argv, &o);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (o.threads > 0)
        adj_set_threads((int)o.threads);
    if (adj_tool_prepare_out(o.out))
        return 1;
    adj_corpus *c = adj_tool_lm_data(o.data, o.val_frac, o.seed);
    if (!c)
        return 1;
    char vocab[16], embed[16], hidden[16], layers[16], *chars = malloc(2 * (size_t)c->nchars + 1);
    snprintf(vocab, sizeof vocab, "%d", c->vocab);
    snprintf(embed, sizeof embed, "%ld", o.embed);
    snprintf(hidden, sizeof hidden, "%ld", o.hidden);
    snprintf(layers, sizeof layers, "%ld", o.layers);
    for (int i = 0; chars && i < c->nchars; i++)
        sprintf(chars + 2 * i, "%02x", c->chars[i]);
    if (chars)
        chars[2 * c->nchars] = '\0';
    const char *kv[] = {"vocab", vocab, "embed", embed, "hidden", hidden, "layers", layers, "chars", chars ? chars : ""};
    adj_rng rng;
    adj_rng_seed(&rng, o.seed);
    adj_error err;
    adj_model *m = adj_model_new(o.model, 5, kv, ADJ_F32, &rng, &err);
    free(chars);
    if (!m) {
        fprintf(stderr, "adjoint: %s\n", err.message);
        adj_corpus_free(c);
        return 1;
    }
    adj_params *p = adj_model_params(m);
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    oc.lr = o.lr;
    adj_optim *opt = adj_optim_new(p, &oc, NULL);
    adj_tape *t = adj_tape_new();
    size_t n = (size_t)o.batch * (size_t)o.seq;
    int32_t *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    int rc = 1;
    if (!opt || !t || !x || !y) {
        fprintf(stderr, "adjoint: out of memory\n");
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr, "%s: vocabulary %d, %zu training and %zu validation tokens, %zu parameters\n",
                o.model, c->vocab, c->n_train, c->n_val, adj_params_numel(p));
    double t0 = adj_tool_now(), loss = NAN;
    for (long s = 0; s < o.steps; s++) {
        if (adj_corpus_batch(c, 0, (size_t)o.batch, (size_t)o.seq, &rng, x, y, &err) != ADJ_OK) {
            fprintf(stderr, "adjoint: %s\n", err.message);
            goto done;
        }
        adj_tape_reset(t);
        adj_model_set_training(m, 1);
        adj_var *l = adj_tool_lm_loss(m, t, x, y, (size_t)o.batch, (size_t)o.seq);
        adj_params_zero_grad(p);
        if (!l || adj_backward(l) != ADJ_OK) {
            fprintf(stderr, "adjoint: %s\n", adj_tape_message(t));
            goto done;
        }
        adj_optim_step(opt);
        loss = adj_item(l);
        if (!o.quiet && (s % 50 == 0 || s == o.steps - 1))
            fprintf(stderr, "step %5ld  loss %.4f  %.0f tokens/s\n", s + 1, loss,
                    (double)(s + 1) * (double)n / (adj_tool_now() - t0));
    }
    double t_train = adj_tool_now() - t0;
    double val = adj_tool_lm_eval(m, t, c, (size_t)o.batch, (size_t)o.seq, (size_t)o.eval_batches, o.seed);
    if (!o.quiet)
        fprintf(stderr, "validation loss %.4f nats per token (%.4f bits), %.1f s\n", val, val / log(2.0),
                t_train);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", o.out);
    if (adj_model_write(m, path, &err) != ADJ_OK) {
        fprintf(stderr, "adjoint: %s\n", err.message);
        goto done;
    }
    if (o.json) {
        printf("{\"model\": \"%s\", \"data\": ", o.model);
        adj_tool_json_string(stdout, o.data);
        printf(", \"steps\": %ld, \"batch\": %ld, \"seq\": %ld, \"parameters\": %zu, \"train_loss\": %.6f, "
               "\"val_loss\": %.6f, \"train_seconds\": %.3f, \"tokens_per_second\": %.1f, \"file\": ",
               o.steps, o.batch, o.seq, adj_params_numel(p), loss, val, t_train,
               t_train > 0 ? (double)o.steps * (double)n / t_train : 0.0);
        adj_tool_json_string(stdout, path);
        printf("}\n");
    }
    rc = 0;
done:
    free(x);
    free(y);
    adj_tape_free(t);
    adj_optim_free(opt);
    adj_model_free(m);
    adj_corpus_free(c);
    return rc;
}
