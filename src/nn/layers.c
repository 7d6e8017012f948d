/*
 * Activations, initialisers, the dense layer and dropout: thin
 * compositions of the public ops over an adj_params store.
 */
#include "nn/nn_internal.h"
#include "ops/dropout.h"

#include <math.h>
#include <string.h>

adj_var *adj_nn_const(adj_tape *t, adj_dtype d, int ndim, const int64_t *shape)
{
    return adj_h_raw(adj_leaf_at(t, d, ndim, shape, NULL, 0, __FILE__, __LINE__));
}

/* ------------------------------------------------------------ activations */

static const char *const act_names[ADJ_ACT_COUNT] = {
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus",
};

const char *adj_activation_name(adj_activation a)
{
    return (unsigned)a < ADJ_ACT_COUNT ? act_names[a] : "?";
}

adj_status adj_activation_parse(const char *name, adj_activation *out)
{
    if (!name || !out)
        return ADJ_EINVAL;
    for (int a = 0; a < ADJ_ACT_COUNT; a++) {
        const char *s = act_names[a], *q = name;
        while (*s && (*s == *q || (*s == '_' && *q == '-'))) {
            s++;
            q++;
        }
        if (!*s && !*q) {
            *out = (adj_activation)a;
            return ADJ_OK;
        }
    }
    if (strcmp(name, "linear") == 0 || strcmp(name, "none") == 0) {
        *out = ADJ_ACT_IDENTITY;
        return ADJ_OK;
    }
    return ADJ_EINVAL;
}

adj_var *adj_activate(adj_var *x, adj_activation a)
{
    x = adj_h_in(x, "adj_activate");
    switch (a) {
    case ADJ_ACT_IDENTITY: return adj_h_out(x);
    case ADJ_ACT_SIGMOID: return adj_sigmoid(x);
    case ADJ_ACT_TANH: return adj_tanh(x);
    case ADJ_ACT_RELU: return adj_relu(x);
    case ADJ_ACT_LEAKY_RELU: return adj_leaky_relu(x, 0.01);
    case ADJ_ACT_ELU: return adj_elu(x, 1.0);
    case ADJ_ACT_SOFTPLUS: return adj_softplus(x);
    default: break;
    }
    if (x && adj_node_tape(x)) {
        adj_tape_fail(adj_node_tape(x), ADJ_EINVAL, "adj_activate: unknown activation %d", (int)a);
        return adj_h_out(adj_node_tape(x)->inert);
    }
    return NULL;
}

/* ----------------------------------------------------------- initialisers */

adj_status adj_init_tensor(adj_params *p, int i, adj_init kind, double value, adj_rng *rng)
{
    if (!p || i < 0 || i >= adj_params_count(p) || (unsigned)kind >= ADJ_INIT_COUNT)
        return ADJ_EINVAL;
    if (!rng && kind != ADJ_INIT_ZEROS && kind != ADJ_INIT_CONSTANT)
        return ADJ_EINVAL;
    size_t n = adj_params_tensor_numel(p, i);
    int nd = adj_params_tensor_ndim(p, i);
    const int64_t *sh = adj_params_tensor_shape(p, i);
    double fan_in = (double)n, fan_out = (double)n;
    if (nd == 2) {
        fan_out = (double)sh[0];
        fan_in = (double)sh[1];
    }
    int f64 = adj_params_dtype(p) == ADJ_F64;
    void *v = adj_params_value(p, i);
    double bound = 0.0, sd = 1.0;
    int uniform = 0;
    switch (kind) {
    case ADJ_INIT_ZEROS: value = 0.0; break;
    case ADJ_INIT_CONSTANT: break;
    case ADJ_INIT_NORMAL: sd = 1.0; break;
    case ADJ_INIT_XAVIER_UNIFORM:
        uniform = 1;
        bound = sqrt(6.0 / (fan_in + fan_out));
        break;
    case ADJ_INIT_XAVIER_NORMAL: sd = sqrt(2.0 / (fan_in + fan_out)); break;
    case ADJ_INIT_HE_UNIFORM:
        uniform = 1;
        bound = sqrt(6.0 / fan_in);
        break;
    case ADJ_INIT_HE_NORMAL: sd = sqrt(2.0 / fan_in); break;
    default: return ADJ_EINVAL;
    }
    for (size_t k = 0; k < n; k++) {
        double x;
        if (kind == ADJ_INIT_ZEROS || kind == ADJ_INIT_CONSTANT)
            x = value;
        else if (uniform)
            x = adj_rng_uniform_range(rng, -bound, bound);
        else
            x = sd * adj_rng_normal(rng);
        if (f64)
            ((double *)v)[k] = x;
        else
            ((float *)v)[k] = (float)x;
    }
    return ADJ_OK;
}

/* ------------------------------------------------------------ dense layer */

adj_status adj_dense_add(adj_params *p, const char *name, int64_t in, int64_t out, int with_bias,
                         adj_dense *layer)
{
    if (!p)
        return ADJ_EINVAL;
    if (!layer || in < 1 || out < 1) {
        if (!layer)
            adj_params_fail(p, ADJ_EINVAL, "adj_dense_add: layer is NULL");
        else
            adj_params_fail(p, ADJ_EINVAL, "adj_dense_add: %lld inputs, %lld outputs: both must be >= 1",
                            (long long)in, (long long)out);
        return ADJ_EINVAL;
    }
    char nm[64];
    int64_t wsh[2] = {out, in};
    snprintf(nm, sizeof nm, "%s.weight", name ? name : "dense");
    int w = adj_params_add(p, nm, 2, wsh);
    int b = -1;
    if (w >= 0 && with_bias) {
        snprintf(nm, sizeof nm, "%s.bias", name ? name : "dense");
        b = adj_params_add(p, nm, 1, &out);
    }
    if (w < 0 || (with_bias && b < 0)) {
        char why[256];
        snprintf(why, sizeof why, "%s", adj_params_message(p));
        adj_params_fail(p, adj_params_status(p), "adj_dense_add: %s", why);
        return adj_params_status(p);
    }
    layer->weight = w;
    layer->bias = b;
    layer->in = in;
    layer->out = out;
    return ADJ_OK;
}

adj_var *adj_dense_forward(adj_params *p, const adj_dense *layer, adj_var *x)
{
    x = adj_h_in(x, "adj_dense_forward");
    adj_tape *t = adj_var_tape(x);
    if (!t)
        return NULL;
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    if (!p || !layer) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_dense_forward: NULL %s", !p ? "parameter store" : "layer");
        return adj_h_out(t->inert);
    }
    int n = adj_params_count(p);
    if (layer->weight < 0 || layer->weight >= n || layer->bias < -1 || layer->bias >= n) {
        adj_tape_fail(t, ADJ_EINVAL,
                      "adj_dense_forward: the layer's weight %d or bias %d is not a tensor of the "
                      "store (%d tensors)", layer->weight, layer->bias, n);
        return adj_h_out(t->inert);
    }
    adj_var *w = adj_param(t, p, layer->weight);
    adj_var *b = layer->bias >= 0 ? adj_param(t, p, layer->bias) : NULL;
    return adj_linear(x, w, b);
}

/* ---------------------------------------------------------------- dropout */

/* One dropout node (ops/dropout.c) with the keep mask: the given one, or
 * drawn from rng, where element i is kept when a 32-bit draw is below
 * keep * 2^32 (two draws per 64 random bits). */
static adj_var *dropout_build(adj_var *x, double keep, const uint8_t *mask, adj_rng *rng)
{
    adj_tape *t = adj_node_tape(x);
    size_t n = adj_cold(x)->numel;
    uint8_t *m = NULL; /* a mask drawn here, in the arena */
    if (!mask) {
        m = adj_arena_alloc(t, n ? n : 1);
        if (!m)
            return adj_h_out(t->inert);
        uint64_t thr = (uint64_t)(keep * 4294967296.0);
        /* adj_rng_next's xoshiro256** steps on a copy of the state in
         * registers: the same draws, without a call per two elements */
        uint64_t s0 = rng->s[0], s1 = rng->s[1], s2 = rng->s[2], s3 = rng->s[3];
        for (size_t i = 0; i < n; i += 2) {
            uint64_t x5 = s1 * 5;
            uint64_t r = ((x5 << 7) | (x5 >> 57)) * 9;
            uint64_t t1 = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t1;
            s3 = (s3 << 45) | (s3 >> 19);
            m[i] = (r & 0xffffffffu) < thr;
            if (i + 1 < n)
                m[i + 1] = (r >> 32) < thr;
        }
        rng->s[0] = s0;
        rng->s[1] = s1;
        rng->s[2] = s2;
        rng->s[3] = s3;
    }
    return adj_record(ADJ_OP_DROPOUT, &x, 1, &(adj_dropout_attr){mask ? mask : m, 1.0 / keep, !mask},
                      NULL, 0);
}

adj_var *adj_dropout(adj_var *x_h, double p_drop, int training, adj_rng *rng)
{
    adj_var *x = adj_h_in(x_h, "adj_dropout");
    if (!x)
        return NULL;
    adj_tape *t = adj_node_tape(x);
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    if (!(p_drop >= 0.0 && p_drop < 1.0)) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_dropout: drop probability %g is not in [0, 1)", p_drop);
        return adj_h_out(t->inert);
    }
    if (!training || p_drop == 0.0)
        return x_h;
    if (!rng) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_dropout: rng is NULL (training draws the mask from it)");
        return adj_h_out(t->inert);
    }
    return dropout_build(x, 1.0 - p_drop, NULL, rng);
}

adj_var *adj_dropout_mask(adj_var *x, const uint8_t *keep_mask, double keep_prob)
{
    x = adj_h_in(x, "adj_dropout_mask");
    if (!x)
        return NULL;
    adj_tape *t = adj_node_tape(x);
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    if (!keep_mask || !(keep_prob > 0.0 && keep_prob <= 1.0)) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_dropout_mask: %s",
                      keep_mask ? "keep probability must be in (0, 1]" : "NULL mask");
        return adj_h_out(t->inert);
    }
    return dropout_build(x, keep_prob, keep_mask, NULL);
}
