/*
 * Architecture "autoencoder": the shallow dense autoencoder.  Rows
 * (N, input), or images (N, C, H, W) with C*H*W = input, which are
 * flattened, are encoded to a code of `code` units (a dense layer and the
 * activation `act`) and decoded back to (N, input) (a dense layer and the
 * activation `output`).  Trained on the reconstruction error: adj_mse of
 * the output against the flattened input.
 *
 * Keys (defaults): input 784, code 32, act relu, output sigmoid (any
 * activation of nn.h, identity included).
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
 */
#include "nn/model_internal.h"

#include <stdio.h>
#include <stdlib.h>

static const adj_arch_key KEYS[] = {
    {"input", "784"}, {"code", "32"}, {"act", "relu"}, {"output", "sigmoid"}, {NULL, NULL},
};

typedef struct autoencoder {
    int64_t input;
    adj_activation act, output;
} autoencoder;

static adj_status activation(const adj_model *m, const char *key, adj_activation *out, adj_error *err)
{
    if (adj_activation_parse(adj_model_config(m, key), out) != ADJ_OK)
        return adj_err_set(err, ADJ_EINVAL, "model \"autoencoder\": %s = \"%.64s\" is not an activation", key,
                           adj_model_config(m, key));
    return ADJ_OK;
}

static adj_status parse(const adj_model *m, int64_t *in, int64_t *code, adj_activation *act,
                        adj_activation *output, adj_error *err)
{
    adj_status s;
    if ((s = adj_model_get_int(m, "input", 1, (int64_t)1 << 24, in, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "code", 1, (int64_t)1 << 20, code, err)) != ADJ_OK ||
        (s = activation(m, "act", act, err)) != ADJ_OK || (s = activation(m, "output", output, err)) != ADJ_OK)
        return s;
    if ((uint64_t)*in * (uint64_t)*code > ((uint64_t)1 << 36))
        return adj_err_set(err, ADJ_EINVAL, "model \"autoencoder\": input %lld and code %lld make more than 2^37 "
                           "parameters", (long long)*in, (long long)*code);
    return ADJ_OK;
}

/* Two weights of input x code, biases of code and input. */
static adj_status count(const adj_model *m, uint64_t *n, adj_error *err)
{
    int64_t in, code;
    adj_activation act, output;
    adj_status s = parse(m, &in, &code, &act, &output, err);
    if (s == ADJ_OK)
        *n = 2 * (uint64_t)in * (uint64_t)code + (uint64_t)in + (uint64_t)code;
    return s;
}

static adj_status build(adj_model *m, adj_rng *rng, adj_error *err)
{
    int64_t in, code;
    adj_activation act, output;
    adj_status s = parse(m, &in, &code, &act, &output, err);
    if (s != ADJ_OK)
        return s;
    autoencoder *st = calloc(1, sizeof *st);
    if (!st)
        return adj_err_set(err, ADJ_ENOMEM, "model \"autoencoder\": out of memory");
    m->state = st;
    st->input = in;
    st->act = act;
    st->output = output;
    m->p = adj_params_new(m->dtype);
    if (!m->p)
        return adj_err_set(err, ADJ_ENOMEM, "model \"autoencoder\": out of memory");
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
