/*
 * Architecture "gpt": the GPT-2 transformer language model.  Token ids
 * x (B, T), T <= n_positions, go through
 *
 *   h = wte[x] + wpe[0:T]                          (dropout)
 *   per layer i:
 *     h += c_proj(attn(c_attn(ln_1(h))))           (dropout after c_proj)
 *     h += c_proj(gelu_tanh(c_fc(ln_2(h))))        (dropout after c_proj)
 *   logits = ln_f(h) wteᵀ                          (B, T, vocab_size)
 *
 * where attn splits c_attn's output into q, k, v of n_head heads of
 * n_embd / n_head and applies causal scaled dot-product attention.  The
 * LM head is tied to wte (no separate tensor).  Dropout, when `dropout` >
 * 0 and in training mode, applies after the embeddings and after each
 * c_proj (as nanoGPT's resid_dropout); the fused attention op has no
 * dropout on the attention probabilities.
 *
 * Keys (defaults: GPT-2 small): vocab_size 50257, n_positions 1024
 * (nanoGPT's block_size), n_embd 768, n_layer 12, n_head 12,
 * layer_norm_epsilon 1e-5, dropout 0, and chars (as for "rnn": the bytes
 * of a text vocabulary in hex, empty for token ids).
 *
 * Tensor names and shapes are those of GPT-2's state_dict (Hugging
 * Face's GPT2Model): wte.weight (vocab, C), wpe.weight (n_positions, C),
 * h.{i}.ln_1.{weight,bias}, h.{i}.attn.c_attn.{weight (C, 3C), bias},
 * h.{i}.attn.c_proj.{weight (C, C), bias}, h.{i}.ln_2.*,
 * h.{i}.mlp.c_fc.{weight (C, 4C), bias}, h.{i}.mlp.c_proj.{weight (4C, C),
 * bias}, ln_f.{weight,bias}.  The dense weights are GPT-2's Conv1D
 * layout, (in, out): y = x W + b.
 *
 * Initialisation as GPT-2 and nanoGPT: every weight and embedding
 * N(0, 0.02²), except the c_proj weights, N(0, (0.02/sqrt(2 n_layer))²);
 * biases 0; layer norms weight 1, bias 0.  Drawn in parameter order.
 */
#include "nn/model_internal.h"
#include "adjoint/attention.h"
#include "adjoint/norm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 256
#define MAX_NUMEL ((uint64_t)1 << 36)

static const adj_arch_key KEYS[] = {
    {"vocab_size", "50257"}, {"n_positions", "1024"}, {"n_embd", "768"},
    {"n_layer", "12"},       {"n_head", "12"},        {"layer_norm_epsilon", "1e-5"},
    {"dropout", "0"},        {"chars", ""},           {NULL, NULL},
};

/* Parameter indices of one block, in GPT-2's state_dict order. */
enum { LN1_W, LN1_B, ATTN_W, ATTN_B, APROJ_W, APROJ_B, LN2_W, LN2_B, FC_W, FC_B, MPROJ_W, MPROJ_B, NBLOCK };

typedef struct gpt {
    int64_t V, P, C, L, H;
    double eps, drop;
} gpt;

typedef struct gpt_cfg {
    int64_t V, P, C, L, H;
    double eps, drop;
    uint64_t numel;
} gpt_cfg;

static adj_status parse(const adj_model *m, gpt_cfg *c, adj_error *err)
{
    adj_status s;
    if ((s = adj_model_get_int(m, "vocab_size", 1, 1 << 24, &c->V, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "n_positions", 1, 1 << 20, &c->P, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "n_embd", 1, 1 << 16, &c->C, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "n_layer", 1, MAX_LAYERS, &c->L, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "n_head", 1, 1 << 16, &c->H, err)) != ADJ_OK ||
        (s = adj_model_get_double(m, "layer_norm_epsilon", 0, 1, &c->eps, err)) != ADJ_OK ||
        (s = adj_model_get_double(m, "dropout", 0, 0.999999, &c->drop, err)) != ADJ_OK)
        return s;
    if (c->C % c->H)
        return adj_err_set(err, ADJ_EINVAL, "model \"gpt\": n_embd = %lld is not a multiple of n_head = %lld",
                           (long long)c->C, (long long)c->H);
    const char *chars = adj_model_config(m, "chars");
    if (*chars && (strlen(chars) != 2 * (size_t)c->V || strspn(chars, "0123456789abcdef") != strlen(chars)))
        return adj_err_set(err, ADJ_EINVAL, "model \"gpt\": chars must be %lld bytes in hex (2 digits each)",
                           (long long)c->V);
    uint64_t C = (uint64_t)c->C; /* < 2^17: every product below fits */
    uint64_t block = 12 * C * C + 13 * C;
    uint64_t n = ((uint64_t)c->V + (uint64_t)c->P) * C + 2 * C;
    if (n > MAX_NUMEL || block > MAX_NUMEL || block * (uint64_t)c->L > MAX_NUMEL - n)
        return adj_err_set(err, ADJ_EINVAL, "model \"gpt\": more than %llu parameters",
                           (unsigned long long)MAX_NUMEL);
    c->numel = n + block * (uint64_t)c->L;
    return ADJ_OK;
}

static adj_status count(const adj_model *m, uint64_t *n, adj_error *err)
{
    gpt_cfg c;
    adj_status s = parse(m, &c, err);
    if (s == ADJ_OK)
        *n = c.numel;
    return s;
}

static void fill_normal(adj_params *p, int i, double sd, adj_rng *rng)
{
    void *v = adj_params_value(p, i);
    size_t n = adj_params_tensor_numel(p, i);
    for (size_t j = 0; j < n; j++) {
        double z = sd * adj_rng_normal(rng);
        if (adj_params_dtype(p) == ADJ_F64)
            ((double *)v)[j] = z;
        else
            ((float *)v)[j] = (float)z;
    }
}

static adj_status build(adj_model *m, adj_rng *rng, adj_error *err)
{
    gpt_cfg c;
    adj_status s = parse(m, &c, err);
    if (s != ADJ_OK)
        return s;
    gpt *st = calloc(1, sizeof *st);
    if (!st)
        return adj_err_set(err, ADJ_ENOMEM, "model \"gpt\": out of memory");
    m->state = st;
    st->V = c.V, st->P = c.P, st->C = c.C, st->L = c.L, st->H = c.H;
    st->eps = c.eps, st->drop = c.drop;
    m->p = adj_params_new(m->dtype);
    if (!m->p)
        return adj_err_set(err, ADJ_ENOMEM, "model \"gpt\": out of memory");
    int64_t C = c.C;
    adj_params_add(m->p, "wte.weight", 2, (int64_t[]){c.V, C});
    adj_params_add(m->p, "wpe.weight", 2, (int64_t[]){c.P, C});
    static const char *const names[NBLOCK] = {
        "ln_1.weight",      "ln_1.bias",      "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",      "ln_2.bias",
        "mlp.c_fc.weight",  "mlp.c_fc.bias",  "mlp.c_proj.weight", "mlp.c_proj.bias",
    };
    const int64_t shapes[NBLOCK][2] = {
        {C, 0}, {C, 0}, {C, 3 * C}, {3 * C, 0}, {C, C}, {C, 0},
        {C, 0}, {C, 0}, {C, 4 * C}, {4 * C, 0}, {4 * C, C}, {C, 0},
    };
    char name[96];
    for (int64_t l = 0; l < c.L; l++)
        for (int k = 0; k < NBLOCK; k++) {
            snprintf(name, sizeof name, "h.%lld.%s", (long long)l, names[k]);
            adj_params_add(m->p, name, shapes[k][1] ? 2 : 1, shapes[k]);
        }
    adj_params_add(m->p, "ln_f.weight", 1, &C);
    adj_params_add(m->p, "ln_f.bias", 1, &C);
    if (adj_params_status(m->p) != ADJ_OK)
        return adj_err_set(err, adj_params_status(m->p), "model \"gpt\": %s", adj_params_message(m->p));
    /* GPT-2's initialisation, in parameter order */
    int np = adj_params_count(m->p);
    for (int i = 0; i < np; i++) {
        int k = i < 2 ? -1 : i >= np - 2 ? (i == np - 2 ? LN1_W : LN1_B) : (i - 2) % NBLOCK;
        if (k < 0)
            fill_normal(m->p, i, 0.02, rng);
        else if (k == APROJ_W || k == MPROJ_W)
            fill_normal(m->p, i, 0.02 / sqrt(2.0 * (double)c.L), rng);
        else if (k == ATTN_W || k == FC_W)
            fill_normal(m->p, i, 0.02, rng);
        else
            adj_init_tensor(m->p, i, k == LN1_W || k == LN2_W ? ADJ_INIT_CONSTANT : ADJ_INIT_ZEROS, 1, NULL);
    }
    adj_rng_seed(&m->drop, adj_rng_next(rng));
    return adj_model_name_params(m, err);
}

/* x (N, in) W (in, out) + b: one linear node reading W (stored as
 * GPT-2's Conv1D) transposed in place, the bias added in the same pass */
static adj_var *dense(adj_tape *t, adj_params *p, int iw, adj_var *x)
{
    return adj_linear(x, adj_transpose(adj_param(t, p, iw)), adj_param(t, p, iw + 1));
}

static adj_var *drop(adj_model *m, adj_var *x)
{
    gpt *st = m->state;
    return st->drop > 0 && m->training ? adj_dropout(x, st->drop, 1, &m->drop) : x;
}

/* h + dropout(x W + b): without dropout one linear_add node, which stores
 * only the sum (the bits of the add of the two) */
static adj_var *residual(adj_model *m, adj_tape *t, int iw, adj_var *x, adj_var *h)
{
    gpt *st = m->state;
    adj_params *p = m->p;
    if (st->drop > 0 && m->training)
        return adj_add(h, drop(m, dense(t, p, iw, x)));
    return adj_linear_add(x, adj_transpose(adj_param(t, p, iw)), adj_param(t, p, iw + 1), h);
}

static adj_var *forward(adj_model *m, adj_var *x)
{
    gpt *st = m->state;
    adj_tape *t = adj_var_tape(x);
    if (adj_var_dtype(x) != ADJ_I32 || adj_ndim(x) != 2 || adj_dim(x, 1) < 1 || adj_dim(x, 1) > st->P) {
        char s[64];
        adj_shape_string(x, s, sizeof s);
        adj_tape_fail(t, ADJ_ESHAPE,
                      "adj_model_forward: a \"gpt\" model takes token ids (batch, time) with 1 <= time <= "
                      "n_positions = %lld, not %s %s",
                      (long long)st->P, adj_dtype_name(adj_var_dtype(x)), s);
        return NULL;
    }
    adj_params *p = m->p;
    int64_t B = adj_dim(x, 0), T = adj_dim(x, 1), C = st->C, H = st->H, D = C / H, N = B * T;
    adj_var *pos = adj_slice(adj_param(t, p, 1), 0, 0, T, 1);
    adj_var *h = adj_add(adj_embedding(adj_param(t, p, 0), x), pos); /* (B, T, C) */
    h = drop(m, adj_reshape(h, 2, ((int64_t[]){N, C})));
    static const int perm[5] = {2, 0, 3, 1, 4};
    static const int back[4] = {0, 2, 1, 3};
    for (int64_t l = 0; l < st->L && adj_tape_status(t) == ADJ_OK; l++) {
        int b0 = 2 + (int)l * NBLOCK;
        adj_var *a = adj_layer_norm(h, 1, adj_param(t, p, b0 + LN1_W), adj_param(t, p, b0 + LN1_B), st->eps);
        adj_var *qkv = dense(t, p, b0 + ATTN_W, a); /* (N, 3C) */
        qkv = adj_permute(adj_reshape(qkv, 5, ((int64_t[]){B, T, 3, H, D})), perm); /* (3, B, H, T, D) */
        adj_var *y = adj_scaled_dot_product_attention(adj_select(qkv, 0, 0), adj_select(qkv, 0, 1),
                                                      adj_select(qkv, 0, 2), NULL, 1, 0.0);
        y = adj_reshape(adj_permute(y, back), 2, ((int64_t[]){N, C})); /* heads side by side */
        h = residual(m, t, b0 + APROJ_W, y, h);
        a = adj_layer_norm(h, 1, adj_param(t, p, b0 + LN2_W), adj_param(t, p, b0 + LN2_B), st->eps);
        a = adj_gelu_tanh(dense(t, p, b0 + FC_W, a));
        h = residual(m, t, b0 + MPROJ_W, a, h);
    }
    int nf = 2 + (int)st->L * NBLOCK;
    h = adj_layer_norm(h, 1, adj_param(t, p, nf), adj_param(t, p, nf + 1), st->eps);
    adj_var *logits = adj_matmul_t(h, adj_param(t, p, 0), 0, 1); /* tied head: h wteᵀ */
    return adj_reshape(logits, 3, ((int64_t[]){B, T, st->V}));
}

const adj_arch adj_arch_gpt = {
    .name = "gpt",
    .keys = KEYS,
    .build = build,
    .count = count,
    .forward = forward,
};
