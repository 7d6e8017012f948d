/*
 * adjoint train --model rnn|lstm|gru|gpt: a character (or token) language
 * model on --data text:FILE or tokens:FILE, trained on random (B, T)
 * windows with Adam for --steps steps, new or from --init (a model file or
 * a Hugging Face GPT-2 directory); the mean validation cross-entropy (nats
 * per token) is reported, and the model saved as OUT/model.safetensors.
 * The loop is the library trainer's (adjoint/train.h, adj_train); this
 * file keeps the options and the printing.
 */
#include "commands.h"
#include "data.h"
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lm_opts {
    const char *model, *data, *out, *init;
    long hidden, embed, layers, heads, block, seq, batch, steps, threads, eval_batches;
    double lr, val_frac, dropout;
    unsigned long long seed;
    int json, quiet;
} lm_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: adjoint train --model rnn|lstm|gru|gpt [OPTIONS]\n"
            "Train a character (or token) language model: recurrent, or GPT-2's\n"
            "transformer.\n\n"
            "  --data text:FILE | tokens:FILE  a byte-level text (the vocabulary is the\n"
            "                     bytes in it; a file of lines is split by lines) or\n"
            "                     little-endian uint16 token ids (default text:%s)\n"
            "  --init MODEL       start from a saved model of this kind, or (gpt) a\n"
            "                     Hugging Face GPT-2 directory; the sizes are its own\n"
            "  --embed N          embedding size (default 32; gpt: n_embd, default 64)\n"
            "  --hidden N         hidden units (default 128)\n"
            "  --layers N         recurrent layers or gpt blocks (default 1; gpt 2)\n"
            "  --heads N          gpt: attention heads (default 4)\n"
            "  --block N          gpt: the longest context, n_positions (default --seq)\n"
            "  --dropout X        gpt: dropout (default 0)\n"
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
    o->embed = -1;
    o->layers = -1;
    o->heads = 4;
    o->block = -1;
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
        else if (strcmp(a, "--init") == 0)
            o->init = v;
        else if (strcmp(a, "--heads") == 0)
            bad = adj_tool_long(a, v, 1, 1 << 16, &o->heads);
        else if (strcmp(a, "--block") == 0)
            bad = adj_tool_long(a, v, 1, 1 << 20, &o->block);
        else if (strcmp(a, "--dropout") == 0)
            bad = adj_tool_number(a, v, 0, 1, 0.999999, 1, &o->dropout);
        else if (strcmp(a, "--hidden") == 0)
            bad = adj_tool_long(a, v, 1, 1 << 16, &o->hidden);
        else if (strcmp(a, "--embed") == 0)
            bad = adj_tool_long(a, v, 1, 1 << 16, &o->embed);
        else if (strcmp(a, "--layers") == 0)
            bad = adj_tool_long(a, v, 1, 256, &o->layers);
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

/* Progress every 50 steps and at the last; the last step's loss. */
typedef struct lm_progress {
    long steps;
    int quiet;
    double loss;
} lm_progress;

static int on_step(const adj_train_progress *p, void *user)
{
    lm_progress *g = user;
    if (p->event != ADJ_TRAIN_STEP)
        return 0;
    g->loss = p->loss;
    if (!g->quiet && ((p->step - 1) % 50 == 0 || p->step == g->steps))
        fprintf(stderr, "step %5lld  loss %.4f  %.0f tokens/s\n", (long long)p->step, p->loss,
                p->rate);
    return 0;
}

/* A new model for the corpus's vocabulary, as the options say; NULL
 * after printing the error. */
static adj_model *new_model(const lm_opts *o, const adj_corpus *c, int gpt, adj_rng *rng)
{
    char vocab[24], embed[24], hidden[24], layers[24], heads[24], block[24], drop[32];
    char *chars = malloc(2 * (size_t)c->nchars + 1);
    if (!chars) {
        fprintf(stderr, "adjoint: out of memory\n");
        return NULL;
    }
    snprintf(vocab, sizeof vocab, "%d", c->vocab);
    snprintf(embed, sizeof embed, "%ld", o->embed > 0 ? o->embed : gpt ? 64 : 32);
    snprintf(hidden, sizeof hidden, "%ld", o->hidden);
    snprintf(layers, sizeof layers, "%ld", o->layers > 0 ? o->layers : gpt ? 2 : 1);
    snprintf(heads, sizeof heads, "%ld", o->heads);
    snprintf(block, sizeof block, "%ld", o->block > 0 ? o->block : o->seq);
    snprintf(drop, sizeof drop, "%.17g", o->dropout);
    for (int i = 0; i < c->nchars; i++)
        sprintf(chars + 2 * i, "%02x", c->chars[i]);
    chars[2 * c->nchars] = '\0';
    const char *kv_rnn[] = {"vocab", vocab, "embed", embed, "hidden", hidden, "layers", layers, "chars", chars};
    const char *kv_gpt[] = {"vocab_size", vocab, "n_positions", block, "n_embd", embed, "n_layer", layers,
                            "n_head", heads, "dropout", drop, "chars", chars};
    adj_error err;
    adj_model *m = gpt ? adj_model_new("gpt", 7, kv_gpt, ADJ_F32, rng, &err)
                       : adj_model_new(o->model, 5, kv_rnn, ADJ_F32, rng, &err);
    free(chars);
    if (!m)
        fprintf(stderr, "adjoint: %s\n", err.message);
    return m;
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
    adj_rng rng;
    adj_rng_seed(&rng, o.seed);
    adj_error err;
    int gpt = strcmp(o.model, "gpt") == 0;
    adj_model *m = o.init ? adj_tool_lm_open("adjoint", o.init) : new_model(&o, c, gpt, &rng);
    if (m && o.init && strcmp(adj_model_arch(m), o.model) != 0) {
        fprintf(stderr, "adjoint: --init %s is a \"%s\" model, not --model %s\n", o.init, adj_model_arch(m),
                o.model);
        adj_model_free(m);
        m = NULL;
    }
    if (!m || (o.init && (adj_tool_lm_tokenize(c, m, o.init) || adj_tool_lm_remap(c, m)))) {
        adj_model_free(m);
        adj_corpus_free(c);
        return 1;
    }
    long ctx = adj_tool_lm_context(m);
    if (ctx > 0 && o.seq > ctx) {
        fprintf(stderr, "adjoint: --seq %ld is longer than the model's context, n_positions = %ld\n", o.seq, ctx);
        adj_model_free(m);
        adj_corpus_free(c);
        return 2;
    }
    adj_params *p = adj_model_params(m);
    if (!o.quiet)
        fprintf(stderr, "%s: vocabulary %d, %zu training and %zu validation tokens, %zu parameters\n",
                o.model, c->vocab, c->n_train, c->n_val, adj_tool_param_elems(p));
    /* the library trainer: one epoch of --steps steps on windows drawn
     * from the stream that initialised the model, Adam at a constant
     * rate, the validation loss at the end */
    adj_train_config tc = adj_train_defaults();
    tc.optim.lr = o.lr;
    tc.batch = o.batch;
    tc.epochs = 1;
    tc.epoch_steps = o.steps;
    tc.max_steps = o.steps;
    tc.seed = o.seed;
    tc.windows = &rng;
    tc.eval_windows = o.eval_batches;
    tc.callback = on_step;
    lm_progress pg = {o.steps, o.quiet, NAN};
    tc.user = &pg;
    adj_train_data d = {.corpus = c, .seq = o.seq};
    adj_train_result res;
    size_t n = (size_t)o.batch * (size_t)o.seq;
    int rc = 1;
    double val = NAN, t_train = 0.0, loss = NAN;
    if (o.steps > 0) {
        if (adj_train(m, &d, &tc, &res, &err) != ADJ_OK) {
            fprintf(stderr, "adjoint: %s\n", err.message);
            goto done;
        }
        val = res.val_loss;
        t_train = res.train_seconds;
        loss = pg.loss;
    } else if (adj_train_evaluate(m, &d, 1, &tc, &val, &loss, &err) != ADJ_OK) {
        fprintf(stderr, "adjoint: %s\n", err.message);
        goto done;
    }
    if (o.steps == 0)
        loss = NAN; /* no step taken */
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
               o.steps, o.batch, o.seq, adj_tool_param_elems(p), loss, val, t_train,
               t_train > 0 ? (double)o.steps * (double)n / t_train : 0.0);
        adj_tool_json_string(stdout, path);
        printf("}\n");
    }
    rc = 0;
done:
    adj_model_free(m);
    adj_corpus_free(c);
    return rc;
}
