/*
 * Language models in the command: data, loss, evaluation (lm.h), and
 * `adjoint eval` of a language model.
 */
#include "commands.h"
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

adj_corpus *adj_tool_lm_data(const char *spec, double val_frac, uint64_t seed)
{
    adj_corpus *c = NULL;
    adj_error err;
    adj_status s;
    if (strncmp(spec, "text:", 5) == 0)
        s = adj_corpus_text(spec + 5, val_frac, seed, &c, &err);
    else if (strncmp(spec, "tokens:", 7) == 0)
        s = adj_corpus_tokens(spec + 7, val_frac, &c, &err);
    else {
        fprintf(stderr, "adjoint: --data %s: a language model reads text:FILE or tokens:FILE\n", spec);
        return NULL;
    }
    if (s != ADJ_OK) {
        fprintf(stderr, "adjoint: %s\n", err.message);
        return NULL;
    }
    return c;
}

static int hexval(char h) { return h <= '9' ? h - '0' : h - 'a' + 10; }

long adj_tool_lm_vocab(const adj_model *m)
{
    const char *v = adj_model_config(m, "vocab");
    if (!v)
        v = adj_model_config(m, "vocab_size");
    return v ? strtol(v, NULL, 10) : 0;
}

adj_model *adj_tool_lm_open(const char *who, const char *path)
{
    struct stat sb;
    adj_model *m = NULL;
    adj_error err;
    adj_status s = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? adj_model_load_hf(path, ADJ_F32, &m, &err)
                                                               : adj_model_read(path, &m, &err);
    if (s != ADJ_OK)
        fprintf(stderr, "%s: %s\n", who, err.message);
    return m;
}

int adj_tool_lm_bpe(const char *who, const char *path, adj_bpe **out)
{
    struct stat sb;
    char vj[4200];
    *out = NULL;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return 0;
    snprintf(vj, sizeof vj, "%s/vocab.json", path);
    if (stat(vj, &sb) != 0)
        return 0;
    adj_error err;
    if (adj_bpe_load(path, out, &err) != ADJ_OK) {
        fprintf(stderr, "%s: %s\n", who, err.message);
        return -1;
    }
    return 0;
}

int adj_tool_lm_tokenize(adj_corpus *c, adj_model *m, const char *path)
{
    const char *chars = adj_model_config(m, "chars");
    if (!c->nchars || (chars && *chars))
        return 0;
    adj_bpe *b = NULL;
    if (adj_tool_lm_bpe("adjoint", path, &b))
        return -1;
    if (!b)
        return 0; /* adj_tool_lm_remap refuses the text */
    int32_t **parts[2] = {&c->train, &c->val};
    size_t *lens[2] = {&c->n_train, &c->n_val};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        char *text = malloc(*lens[k] + 1);
        int32_t *ids = NULL;
        size_t n = 0;
        adj_error err;
        for (size_t i = 0; text && i < *lens[k]; i++)
            text[i] = (char)c->chars[(*parts[k])[i]];
        if (!text || adj_bpe_encode(b, text, *lens[k], &ids, &n, &err) != ADJ_OK) {
            fprintf(stderr, "adjoint: %s\n", text ? err.message : "out of memory");
            rc = -1;
        } else {
            free(*parts[k]);
            *parts[k] = ids;
            *lens[k] = n;
        }
        free(text);
    }
    c->nchars = 0;
    c->vocab = 0; /* the largest id that occurs + 1 */
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < *lens[k]; i++)
            if ((*parts[k])[i] >= c->vocab)
                c->vocab = (*parts[k])[i] + 1;
    adj_bpe_free(b);
    return rc;
}

long adj_tool_lm_context(const adj_model *m)
{
    const char *v = adj_model_config(m, "n_positions");
    return v ? strtol(v, NULL, 10) : 0;
}

int adj_tool_lm_remap(adj_corpus *c, adj_model *m)
{
    const char *chars = adj_model_config(m, "chars");
    long vocab = adj_tool_lm_vocab(m);
    int map[256];
    for (int i = 0; i < 256; i++)
        map[i] = -1;
    if (chars && *chars) {
        if (!c->nchars) {
            fprintf(stderr, "adjoint: the model reads text, the data are token ids\n");
            return -1;
        }
        for (long i = 0; i < vocab; i++)
            map[hexval(chars[2 * i]) * 16 + hexval(chars[2 * i + 1])] = (int)i;
        for (int i = 0; i < c->nchars; i++)
            if (map[c->chars[i]] < 0) {
                fprintf(stderr, "adjoint: byte 0x%02x of the data is not in the model's vocabulary\n",
                        c->chars[i]);
                return -1;
            }
        int32_t *parts[2] = {c->train, c->val};
        size_t lens[2] = {c->n_train, c->n_val};
        for (int k = 0; k < 2; k++)
            for (size_t i = 0; i < lens[k]; i++)
                parts[k][i] = map[c->chars[parts[k][i]]];
        for (long i = 0; i < vocab; i++)
            c->chars[i] = (unsigned char)(hexval(chars[2 * i]) * 16 + hexval(chars[2 * i + 1]));
        c->nchars = (int)vocab;
    } else if (c->nchars) {
        fprintf(stderr, "adjoint: the model reads token ids, the data are text: give tokens:FILE, or the model "
                        "as a Hugging Face directory with its tokenizer (vocab.json, merges.txt)\n");
        return -1;
    } else if (c->vocab > vocab) {
        fprintf(stderr, "adjoint: the data have ids up to %d, the model's vocabulary is %ld\n",
                c->vocab - 1, vocab);
        return -1;
    }
    c->vocab = (int)vocab;
    return 0;
}

adj_var *adj_tool_lm_loss(adj_model *m, adj_tape *t, const int32_t *x, const int32_t *y, size_t B,
                          size_t T)
{
    adj_var *xv = adj_index(t, 2, ((int64_t[]){(int64_t)B, (int64_t)T}), x);
    adj_var *logits = adj_model_forward(m, xv);
    if (!logits)
        return NULL;
    int64_t rows = (int64_t)(B * T), v = adj_dim(logits, 2);
    adj_var *tg = adj_index(t, 1, &rows, y);
    return adj_cross_entropy(adj_reshape(logits, 2, ((int64_t[]){rows, v})), tg, -100);
}

double adj_tool_lm_eval(adj_model *m, adj_tape *t, const adj_corpus *c, size_t B, size_t T,
                        size_t nb, uint64_t seed)
{
    if (c->n_val < T + 1)
        return NAN;
    int32_t *x = malloc(B * T * sizeof *x), *y = malloc(B * T * sizeof *y);
    adj_rng rng;
    adj_rng_seed(&rng, seed ^ 0xe7a1ULL);
    double sum = 0;
    size_t k = 0;
    adj_model_set_training(m, 0);
    for (; x && y && k < nb; k++) {
        if (adj_corpus_batch(c, 1, B, T, &rng, x, y, NULL) != ADJ_OK)
            break;
        adj_tape_reset(t);
        adj_var *l = adj_tool_lm_loss(m, t, x, y, B, T);
        if (!l)
            break;
        sum += adj_item(l);
    }
    adj_model_set_training(m, 1);
    free(x);
    free(y);
    return k == nb ? sum / (double)nb : NAN;
}

int adj_tool_eval_lm(adj_model *m, const char *model, const char *spec, int json)
{
    adj_corpus *c = adj_tool_lm_data(spec ? spec : "text:" ADJ_LM_DEFAULT_TEXT, 0.1, 1);
    if (!c || adj_tool_lm_tokenize(c, m, model) || adj_tool_lm_remap(c, m)) {
        adj_corpus_free(c);
        return 1;
    }
    adj_tape *t = adj_tape_new();
    long ctx = adj_tool_lm_context(m);
    size_t T = ctx > 0 && ctx < 32 ? (size_t)ctx : 32;
    double v = t ? adj_tool_lm_eval(m, t, c, 32, T, 20, 1) : NAN;
    if (t && adj_tape_status(t) != ADJ_OK)
        fprintf(stderr, "adjoint eval: %s\n", adj_tape_message(t));
    int rc = isnan(v) ? 1 : 0;
    if (rc == 0 && json) {
        printf("{\"model\": ");
        adj_tool_json_string(stdout, model);
        printf(", \"arch\": \"%s\", \"val_loss\": %.6f, \"val_tokens\": %zu}\n", adj_model_arch(m), v, c->n_val);
    } else if (rc == 0) {
        printf("model %s (%s): validation loss %.4f nats per token (%.4f bits), %zu validation tokens\n",
               model, adj_model_arch(m), v, v / log(2.0), c->n_val);
    } else if (!t || adj_tape_status(t) == ADJ_OK) {
        fprintf(stderr, "adjoint eval: the validation part (%zu tokens) is too short\n", c->n_val);
    }
    adj_tape_free(t);
    adj_corpus_free(c);
    return rc;
}
