/*
 * Architecture "autoencoder": the shallow dense autoencoder.  Rows
 * (N, input), or images (N, C, H, W) with C*H*W = input, which are
 * flattened, are encoded to a code of `code` units (a dense layer and the
 * activation `act`) and decoded back to (N, input) (a dense layer and the
 * activation `output`).  Trained on the reconstruction error: adj_mse of
 * the output against the flattened input.
 *
 * Keys (defaults): input 784, code 32, act relu, output sigmoid (any
 * activation of nn.h, identity included), channels "" and image
 * "1,28,28".  A non-empty `channels` list makes it convolutional (below).
 *
 * The matching PyTorch module, whose state_dict names the tensors
 * "encoder.0.weight", "encoder.0.bias", "decoder.0.weight",
 * "decoder.0.bias" (an identity activation is left out of its Sequential):
 *
 *     class Autoencoder(nn.Module):
 *         def __init__(self, input=784, code=32, act=nn.ReLU, output=nn.Sigmoid):
 *             super().__init__()
 *             self.encoder = nn.Sequential(nn.Linear(input, code), act())
 *             self.decoder = nn.Sequential(nn.Linear(code, input), output())
 *         def forward(self, x):
 *             return self.decoder(self.encoder(x.flatten(1)))
 *
 * Initialisation as PyTorch's Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 *
 * Convolutional (channels "c1,...,ck", image "C,H,W" with C*H*W = input):
 * the encoder halves the maps k times with Conv2d(c_{i-1}, c_i, 3,
 * stride=2, padding=1) and `act` (c_0 = C), flattens them and takes a
 * dense code (Linear, `act`); the decoder maps the code back to the last
 * maps (Linear, `act`, Unflatten) and doubles them k times with
 * ConvTranspose2d(c_i, c_{i-1}, 3, stride=2, padding=1, output_padding
 * = whatever restores the encoder's size), `act` after each but the last,
 * `output` after the last.  Output (N, C, H, W).  PyTorch:
 *
 *     enc = [Conv2d(c[i-1], c[i], 3, 2, 1), act() for i in 1..k] + [Flatten(),
 *            Linear(c[k]*h*w, code), act()]
 *     dec = [Linear(code, c[k]*h*w), act(), Unflatten(1, (c[k], h, w))] +
 *           [ConvTranspose2d(c[i], c[i-1], 3, 2, 1, output_padding=op[i]), act()
 *            for i in k..1] with output() after the last
 *
 * as nn.Sequential (identity activations left out, which shifts the
 * indices of the names "encoder.I.weight"...).  Initialisation as
 * PyTorch's: fan_in = c_{i-1}*9 for a Conv2d, c_{i-1}*9 for a
 * ConvTranspose2d (its weight is (c_i, c_{i-1}, 3, 3)).
 */
#include "nn/model_internal.h"
#include "adjoint/conv.h"

#include <stdio.h>
#include <stdlib.h>

static const adj_arch_key KEYS[] = {
    {"input", "784"}, {"code", "32"},      {"act", "relu"},       {"output", "sigmoid"},
    {"channels", ""}, {"image", "1,28,28"}, {NULL, NULL},
};

#define MAX_CONV 6

typedef struct autoencoder {
    int64_t input;
    adj_activation act, output;
    int nconv;                    /* 0: dense */
    int64_t img[3];               /* C, H, W */
    int64_t ch[MAX_CONV + 1];     /* ch[0] = C */
    int64_t hw[MAX_CONV + 1][2];  /* the maps' sizes after each conv */
} autoencoder;

static adj_status activation(const adj_model *m, const char *key, adj_activation *out, adj_error *err)
{
    if (adj_activation_parse(adj_model_config(m, key), out) != ADJ_OK)
        return adj_err_set(err, ADJ_EINVAL, "model \"autoencoder\": %s = \"%.64s\" is not an activation", key,
                           adj_model_config(m, key));
    return ADJ_OK;
}

/* The configuration into st (its sizes) and the code size. */
static adj_status parse(const adj_model *m, autoencoder *st, int64_t *code, adj_error *err)
{
    adj_status s;
    int64_t *in = &st->input;
    int nimg = 0;
    if ((s = adj_model_get_int(m, "input", 1, (int64_t)1 << 24, in, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "code", 1, (int64_t)1 << 20, code, err)) != ADJ_OK ||
        (s = activation(m, "act", &st->act, err)) != ADJ_OK ||
        (s = activation(m, "output", &st->output, err)) != ADJ_OK ||
        (s = adj_model_get_ints(m, "channels", MAX_CONV, 1, 4096, st->ch + 1, &st->nconv, err)) != ADJ_OK)
        return s;
    if ((uint64_t)*in * (uint64_t)*code > ((uint64_t)1 << 36))
        return adj_err_set(err, ADJ_EINVAL, "model \"autoencoder\": input %lld and code %lld make more than 2^37 "
                           "parameters", (long long)*in, (long long)*code);
    if (st->nconv == 0)
        return ADJ_OK;
    if ((s = adj_model_get_ints(m, "image", 3, 1, 1 << 16, st->img, &nimg, err)) != ADJ_OK)
        return s;
    if (nimg != 3 || st->img[0] * st->img[1] * st->img[2] != *in || st->img[0] > 4096)
        return adj_err_set(err, ADJ_EINVAL, "model \"autoencoder\": image = \"%.64s\" is not C,H,W of "
                           "input %lld values", adj_model_config(m, "image"), (long long)*in);
    st->ch[0] = st->img[0];
    st->hw[0][0] = st->img[1];
    st->hw[0][1] = st->img[2];
    for (int i = 1; i <= st->nconv; i++)
        for (int a = 0; a < 2; a++) /* 3x3, stride 2, padding 1 */
            st->hw[i][a] = (st->hw[i - 1][a] - 1) / 2 + 1;
    return ADJ_OK;
}

/* Elements of the flattened last maps. */
static uint64_t flat(const autoencoder *st)
{
    return (uint64_t)st->ch[st->nconv] * (uint64_t)st->hw[st->nconv][0] * (uint64_t)st->hw[st->nconv][1];
}

/* Dense: two weights of input x code, biases of code and input.  Conv:
 * two 3x3 kernels and two biases per block, and the code's dense pair. */
static adj_status count(const adj_model *m, uint64_t *n, adj_error *err)
{
    autoencoder st = {0};
    int64_t code;
    adj_status s = parse(m, &st, &code, err);
    if (s != ADJ_OK)
        return s;
    if (st.nconv == 0) {
        *n = 2 * (uint64_t)st.input * (uint64_t)code + (uint64_t)st.input + (uint64_t)code;
        return ADJ_OK;
    }
    uint64_t f = flat(&st);
    *n = 2 * f * (uint64_t)code + f + (uint64_t)code;
    for (int i = 1; i <= st.nconv; i++)
        *n += 2 * 9 * (uint64_t)st.ch[i - 1] * (uint64_t)st.ch[i] + (uint64_t)st.ch[i] + (uint64_t)st.ch[i - 1];
    return ADJ_OK;
}

/* The convolutional autoencoder's parameters in PyTorch's order; names
 * as nn.Sequential gives them (identity activations left out). */
static adj_status build_conv(adj_model *m, autoencoder *st, int64_t code, adj_rng *rng, adj_error *err)
{
    char w[48], b[48];
    int e = 0, k = st->nconv, ia = st->act != ADJ_ACT_IDENTITY;
    int64_t f = (int64_t)flat(st);
    for (int i = 1; i <= k; i++, e += 1 + ia) {
        snprintf(w, sizeof w, "encoder.%d.weight", e);
        snprintf(b, sizeof b, "encoder.%d.bias", e);
        int iw = adj_params_add(m->p, w, 4, (int64_t[]){st->ch[i], st->ch[i - 1], 3, 3});
        int ib = adj_params_add(m->p, b, 1, (int64_t[]){st->ch[i]});
        if (iw >= 0 && ib >= 0)
            adj_model_torch_uniform(m->p, iw, ib, st->ch[i - 1] * 9, rng);
    }
    e++; /* Flatten */
    snprintf(w, sizeof w, "encoder.%d.weight", e);
    snprintf(b, sizeof b, "encoder.%d.bias", e);
    int iw = adj_params_add(m->p, w, 2, (int64_t[]){code, f});
    int ib = adj_params_add(m->p, b, 1, (int64_t[]){code});
    if (iw >= 0 && ib >= 0)
        adj_model_torch_uniform(m->p, iw, ib, f, rng);
    iw = adj_params_add(m->p, "decoder.0.weight", 2, (int64_t[]){f, code});
    ib = adj_params_add(m->p, "decoder.0.bias", 1, (int64_t[]){f});
    if (iw >= 0 && ib >= 0)
        adj_model_torch_uniform(m->p, iw, ib, code, rng);
    int d = 1 + ia + 1; /* Linear, act, Unflatten */
    for (int i = k; i >= 1; i--, d += 1 + (i >= 1 ? ia : 0)) {
        snprintf(w, sizeof w, "decoder.%d.weight", d);
        snprintf(b, sizeof b, "decoder.%d.bias", d);
        iw = adj_params_add(m->p, w, 4, (int64_t[]){st->ch[i], st->ch[i - 1], 3, 3});
        ib = adj_params_add(m->p, b, 1, (int64_t[]){st->ch[i - 1]});
        if (iw >= 0 && ib >= 0)
            adj_model_torch_uniform(m->p, iw, ib, st->ch[i - 1] * 9, rng);
    }
    if (adj_params_status(m->p) != ADJ_OK)
        return adj_err_set(err, adj_params_status(m->p), "model \"autoencoder\": %s", adj_params_message(m->p));
    return adj_model_name_params(m, err);
}

static adj_status build(adj_model *m, adj_rng *rng, adj_error *err)
{
    int64_t code;
    autoencoder *st = calloc(1, sizeof *st);
    if (!st)
        return adj_err_set(err, ADJ_ENOMEM, "model \"autoencoder\": out of memory");
    m->state = st;
    adj_status s = parse(m, st, &code, err);
    if (s != ADJ_OK)
        return s;
    int64_t in = st->input;
    m->p = adj_params_new(m->dtype);
    if (!m->p)
        return adj_err_set(err, ADJ_ENOMEM, "model \"autoencoder\": out of memory");
    if (st->nconv)
        return build_conv(m, st, code, rng, err);
    int ew = adj_params_add(m->p, "encoder.0.weight", 2, (int64_t[]){code, in});
    int eb = adj_params_add(m->p, "encoder.0.bias", 1, (int64_t[]){code});
    int dw = adj_params_add(m->p, "decoder.0.weight", 2, (int64_t[]){in, code});
    int db = adj_params_add(m->p, "decoder.0.bias", 1, (int64_t[]){in});
    if (adj_params_status(m->p) != ADJ_OK)
        return adj_err_set(err, adj_params_status(m->p), "model \"autoencoder\": %s", adj_params_message(m->p));
    adj_model_torch_uniform(m->p, ew, eb, in, rng);
    adj_model_torch_uniform(m->p, dw, db, code, rng);
    return adj_model_name_params(m, err);
}

/* Rows or images -> (N, C, H, W) through the encoder and the decoder. */
static adj_var *forward_conv(adj_model *m, adj_var *x)
{
    autoencoder *st = m->state;
    adj_tape *t = adj_var_tape(x);
    int k = st->nconv, p = 0;
    int64_t n = adj_dim(x, 0);
    adj_var *h = adj_reshape(x, 4, ((int64_t[]){n, st->img[0], st->img[1], st->img[2]}));
    adj_conv2d_opts co = {{2, 2}, {1, 1}, {1, 1}, 1};
    for (int i = 1; i <= k; i++, p += 2)
        h = adj_activate(adj_conv2d(h, adj_param(t, m->p, p), adj_param(t, m->p, p + 1), &co), st->act);
    h = adj_flatten(h, 1, 3);
    h = adj_activate(adj_linear(h, adj_param(t, m->p, p), adj_param(t, m->p, p + 1)), st->act);
    p += 2;
    h = adj_activate(adj_linear(h, adj_param(t, m->p, p), adj_param(t, m->p, p + 1)), st->act);
    p += 2;
    h = adj_reshape(h, 4, ((int64_t[]){n, st->ch[k], st->hw[k][0], st->hw[k][1]}));
    for (int i = k; i >= 1; i--, p += 2) {
        /* 3x3, stride 2, padding 1 gives 2 h - 1 (+ output_padding) */
        adj_conv_transpose2d_opts to = {{2, 2}, {1, 1},
                                        {(int)(st->hw[i - 1][0] - (2 * st->hw[i][0] - 1)),
                                         (int)(st->hw[i - 1][1] - (2 * st->hw[i][1] - 1))},
                                        {1, 1}, 1};
        h = adj_conv_transpose2d(h, adj_param(t, m->p, p), adj_param(t, m->p, p + 1), &to);
        h = adj_activate(h, i > 1 ? st->act : st->output);
    }
    return h;
}

static adj_var *forward(adj_model *m, adj_var *x)
{
    autoencoder *st = m->state;
    adj_tape *t = adj_var_tape(x);
    int nd = adj_ndim(x);
    int64_t row = 1;
    for (int k = 1; k < nd; k++)
        row *= adj_dim(x, k);
    if (nd < 2 || row != st->input) {
        char s[64];
        adj_shape_string(x, s, sizeof s);
        adj_tape_fail(t, ADJ_ESHAPE,
                      "adj_model_forward: an \"autoencoder\" model takes rows (N, %lld) or images of "
                      "%lld values each, not %s",
                      (long long)st->input, (long long)st->input, s);
        return NULL;
    }
    if (st->nconv)
        return forward_conv(m, x);
    adj_var *h = nd > 2 ? adj_flatten(x, 1, nd - 1) : x;
    h = adj_activate(adj_linear(h, adj_param(t, m->p, 0), adj_param(t, m->p, 1)), st->act);
    return adj_activate(adj_linear(h, adj_param(t, m->p, 2), adj_param(t, m->p, 3)), st->output);
}

const adj_arch adj_arch_autoencoder = {
    .name = "autoencoder",
    .keys = KEYS,
    .build = build,
    .count = count,
    .forward = forward,
};
