/*
 * Architectures "rnn", "lstm", "gru": character (or token) language
 * models.  Token ids x (B, T) -> embedding (B, T, embed) -> `layers`
 * recurrent layers of `hidden` units -> a dense head -> logits
 * (B, T, vocab).  Keys: vocab, embed, hidden, layers, and chars (the
 * bytes of a text vocabulary, two hex digits each, in id order; empty
 * for token files).
 *
 * The matching PyTorch module (docs/models.md), with its initialisation:
 *
 *   class CharModel(nn.Module):
 *       def __init__(self, vocab, embed, hidden, layers, kind):
 *           super().__init__()
 *           self.embed = nn.Embedding(vocab, embed)              # N(0, 1)
 *           self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](
 *               embed, hidden, layers, batch_first=True)         # U(-1/sqrt(H), 1/sqrt(H))
 *           self.head = nn.Linear(hidden, vocab)                 # U(-1/sqrt(H), 1/sqrt(H))
 *       def forward(self, x):
 *           return self.head(self.rnn(self.embed(x))[0])
 */
#include "nn/model_internal.h"
#include "adjoint/rnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 8

static const adj_arch_key KEYS[] = {
    {"vocab", "256"}, {"embed", "32"}, {"hidden", "128"}, {"layers", "1"}, {"chars", ""}, {NULL, NULL},
};

typedef struct lm {
    adj_params *p;
    int embed, head_w, head_b;
    int nl;
    adj_rnn layer[MAX_LAYERS];
} lm;

static adj_status sizes(const adj_model *m, int64_t *V, int64_t *E, int64_t *H, int64_t *L,
                        adj_error *err)
{
    adj_status s;
    if ((s = adj_model_get_int(m, "vocab", 1, 1 << 20, V, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "embed", 1, 1 << 16, E, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "hidden", 1, 1 << 16, H, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "layers", 1, MAX_LAYERS, L, err)) != ADJ_OK)
        return s;
    return ADJ_OK;
}

static adj_status count(const adj_model *m, uint64_t *n, adj_error *err)
{
    int64_t V, E, H, L;
    adj_status s = sizes(m, &V, &E, &H, &L, err);
    if (s != ADJ_OK)
        return s;
    int64_t G = adj_rnn_gates(m->arch == &adj_arch_lstm ? ADJ_RNN_LSTM
                              : m->arch == &adj_arch_gru ? ADJ_RNN_GRU
                                                         : ADJ_RNN_TANH);
    uint64_t k = (uint64_t)V * (uint64_t)E + (uint64_t)V * (uint64_t)H + (uint64_t)V;
    for (int64_t l = 0; l < L; l++)
        k += (uint64_t)(G * H) * (uint64_t)((l ? H : E) + H + 2);
    *n = k;
    return ADJ_OK;
}

static adj_status build(adj_model *m, adj_rnn_kind kind, adj_rng *rng, adj_error *err)
{
    int64_t V, E, H, L;
    adj_status s = sizes(m, &V, &E, &H, &L, err);
    if (s != ADJ_OK)
        return s;
    const char *chars = adj_model_config(m, "chars");
    if (*chars && (strlen(chars) != 2 * (size_t)V || strspn(chars, "0123456789abcdef") != strlen(chars)))
        return adj_err_set(err, ADJ_EINVAL, "model \"%s\": chars must be %lld bytes in hex (2 digits each)",
                           m->arch->name, (long long)V);
    lm *st = calloc(1, sizeof *st);
    if (!st)
        return adj_err_set(err, ADJ_ENOMEM, "model \"%s\": out of memory", m->arch->name);
    m->state = st;
    st->p = m->p = adj_params_new(m->dtype);
    if (!st->p)
        return adj_err_set(err, ADJ_ENOMEM, "model \"%s\": out of memory", m->arch->name);
    st->embed = adj_params_add(st->p, "embed.weight", 2, (int64_t[]){V, E});
    for (int k = 0; k < L; k++) {
        s = adj_rnn_add(st->p, "rnn.", k, kind, k ? H : E, H, NULL, &st->layer[k], err);
        if (s != ADJ_OK)
            return s;
    }
    st->nl = (int)L;
    st->head_w = adj_params_add(st->p, "head.weight", 2, (int64_t[]){V, H});
    st->head_b = adj_params_add(st->p, "head.bias", 1, (int64_t[]){V});
    if (adj_params_status(st->p) != ADJ_OK)
        return adj_err_set(err, adj_params_status(st->p), "model \"%s\": %s", m->arch->name,
                           adj_params_message(st->p));
    /* PyTorch's initialisation, in the order of its modules */
    adj_init_tensor(st->p, st->embed, ADJ_INIT_NORMAL, 0, rng);
    double a = 1 / sqrt((double)H);
    for (int k = 0; k < adj_params_count(st->p); k++) {
        if (k == st->embed)
            continue;
        void *v = adj_params_value(st->p, k);
        for (size_t j = 0; j < adj_params_tensor_numel(st->p, k); j++) {
            double u = adj_rng_uniform_range(rng, -a, a);
            if (m->dtype == ADJ_F64)
                ((double *)v)[j] = u;
            else
                ((float *)v)[j] = (float)u;
        }
    }
    return adj_model_name_params(m, err);
}

static adj_status build_rnn(adj_model *m, adj_rng *rng, adj_error *err) { return build(m, ADJ_RNN_TANH, rng, err); }
static adj_status build_lstm(adj_model *m, adj_rng *rng, adj_error *err) { return build(m, ADJ_RNN_LSTM, rng, err); }
static adj_status build_gru(adj_model *m, adj_rng *rng, adj_error *err) { return build(m, ADJ_RNN_GRU, rng, err); }

static adj_var *forward(adj_model *m, adj_var *x)
{
    lm *st = m->state;
    adj_tape *t = adj_var_tape(x);
    if (adj_var_dtype(x) != ADJ_I32 || adj_ndim(x) != 2) {
        char s[64];
        adj_shape_string(x, s, sizeof s);
        adj_tape_fail(t, ADJ_ESHAPE, "adj_model_forward: a \"%s\" model takes token ids (batch, time), not %s %s",
                      m->arch->name, adj_dtype_name(adj_var_dtype(x)), s);
        return NULL;
    }
    int64_t B = adj_dim(x, 0), T = adj_dim(x, 1), H = st->layer[0].hidden;
    if (T < 1) {
        adj_tape_fail(t, ADJ_ESHAPE, "adj_model_forward: a \"%s\" model needs at least one time step",
                      m->arch->name);
        return NULL;
    }
    adj_var **out = malloc((size_t)T * sizeof *out);
    if (!out) {
        adj_tape_fail(t, ADJ_ENOMEM, "adj_model_forward: out of memory for %lld steps", (long long)T);
        return NULL;
    }
    adj_var *h = adj_embedding(adj_param(t, st->p, st->embed), x);
    for (int k = 0; k < st->nl && adj_tape_status(t) == ADJ_OK; k++) {
        if (adj_rnn_sequence(st->p, &st->layer[k], h, NULL, NULL, out, NULL, NULL) != ADJ_OK)
            break;
        h = adj_stack((int)T, out, 1); /* (B, T, H) */
    }
    free(out);
    if (adj_tape_status(t) != ADJ_OK)
        return NULL;
    adj_var *y = adj_linear(adj_reshape(h, 2, ((int64_t[]){B * T, H})), adj_param(t, st->p, st->head_w),
                            adj_param(t, st->p, st->head_b));
    return adj_reshape(y, 3, ((int64_t[]){B, T, adj_params_tensor_shape(st->p, st->head_w)[0]}));
}

static void destroy(adj_model *m)
{
    lm *st = m->state;
    if (st)
        adj_params_free(st->p);
    free(st);
    m->state = NULL;
    m->p = NULL;
}

#define ARCH(NAME, BUILD)                                                                        \
    const adj_arch adj_arch_##NAME = {                                                           \
        .name = #NAME, .keys = KEYS, .build = BUILD, .count = count, .forward = forward,        \
        .destroy = destroy,                                                                      \
    };
ARCH(rnn, build_rnn)
ARCH(lstm, build_lstm)
ARCH(gru, build_gru)
