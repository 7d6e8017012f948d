/*
 * Architecture "cnn": a configurable convolutional classifier.  Images
 * (N, C, H, W), or flat rows (N, C*H*W) which are reshaped to them, go
 * through one block per entry of `channels`: a convolution (kernel x
 * kernel, stride 1, `padding` on each side), ReLU, and a max pool of
 * `pool` x `pool` (stride `pool`; none when pool is 0 or 1).  The maps
 * are then flattened and go through one dense layer per entry of `dense`
 * (ReLU, then dropout when `dropout` > 0) and a last dense layer of
 * `classes` logits.
 *
 * Keys (defaults): input "1,28,28" (C,H,W), channels "32,64", kernel 3,
 * padding 1, pool 2, dense "128" (may be empty), dropout 0.25, classes 10.
 *
 * The matching PyTorch module is an nn.Sequential of, per block,
 * Conv2d(c_in, c_out, kernel, padding=padding), ReLU(), [MaxPool2d(pool)];
 * then Flatten(); per dense layer Linear, ReLU(), [Dropout(dropout)]; and
 * Linear(.., classes).  Its state_dict names the tensors by position
 * ("0.weight", "0.bias", "3.weight", ...).  Initialisation is PyTorch's
 * default for Conv2d and Linear: kaiming_uniform with a = sqrt(5), which
 * makes the weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the biases
 * from the same interval; fan_in = c_in * kernel^2 for a convolution and
 * the input width for a dense layer.
 */
#include "nn/model_internal.h"
#include "adjoint/conv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 8
#define MAX_DENSE 8

static const adj_arch_key KEYS[] = {
    {"input", "1,28,28"}, {"channels", "32,64"}, {"kernel", "3"},      {"padding", "1"},
    {"pool", "2"},        {"dense", "128"},      {"dropout", "0.25"}, {"classes", "10"},
    {NULL, NULL},
};

typedef struct cnn {
    int64_t in[3]; /* C, H, W */
    int nconv, ndense; /* ndense counts the last layer */
    int kernel, padding, pool;
    double dropout;
    int conv_w[MAX_BLOCKS], conv_b[MAX_BLOCKS];
    int dense_w[MAX_DENSE + 1], dense_b[MAX_DENSE + 1];
} cnn;

void adj_model_torch_uniform(adj_params *p, int iw, int ib, int64_t fan_in, adj_rng *rng)
{
    double a = 1 / sqrt((double)fan_in);
    int idx[2] = {iw, ib};
    for (int k = 0; k < 2; k++) {
        void *v = adj_params_value(p, idx[k]);
        size_t n = adj_params_tensor_numel(p, idx[k]);
        for (size_t j = 0; j < n; j++) {
            double u = adj_rng_uniform_range(rng, -a, a);
            if (adj_params_dtype(p) == ADJ_F64)
                ((double *)v)[j] = u;
            else
                ((float *)v)[j] = (float)u;
        }
    }
}

static adj_status bad(const adj_model *m, const char *key, const char *why, adj_error *err)
{
    return adj_err_set(err, ADJ_EINVAL, "model \"cnn\": %s = \"%.64s\" %s", key, adj_model_config(m, key),
                       why);
}

/* A configuration, checked, with the layers' widths. */
typedef struct cnn_cfg {
    int64_t in[3], ch[MAX_BLOCKS], out[MAX_DENSE + 1], k, pad, pool;
    int nch, ndn; /* ndn counts the last layer */
    double drop;
    int64_t flat;    /* features into the first dense layer */
    uint64_t numel;  /* parameter elements */
} cnn_cfg;

#define MAX_NUMEL ((uint64_t)1 << 36)

static adj_status parse(const adj_model *m, cnn_cfg *c, adj_error *err)
{
    int nin = 0, ndn = 0;
    int64_t classes;
    adj_status s;
    if ((s = adj_model_get_ints(m, "input", 3, 1, 1 << 16, c->in, &nin, err)) != ADJ_OK ||
        (s = adj_model_get_ints(m, "channels", MAX_BLOCKS, 1, 1 << 16, c->ch, &c->nch, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "kernel", 1, 64, &c->k, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "padding", 0, 64, &c->pad, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "pool", 0, 64, &c->pool, err)) != ADJ_OK ||
        (s = adj_model_get_double(m, "dropout", 0, 0.999999, &c->drop, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "classes", 1, 1 << 20, &classes, err)) != ADJ_OK)
        return s;
    if (*adj_model_config(m, "dense") &&
        (s = adj_model_get_ints(m, "dense", MAX_DENSE, 1, 1 << 20, c->out, &ndn, err)) != ADJ_OK)
        return s;
    if (nin != 3)
        return bad(m, "input", "is not C,H,W", err);
    if (c->nch < 1)
        return bad(m, "channels", "needs 1 to 8 channel counts", err);
    if (c->pool < 1)
        c->pool = 1;
    c->out[ndn] = classes;
    c->ndn = ndn + 1;
    /* the maps through the blocks; sizes stay below 2^16 per axis and
     * channel count, so every product below fits */
    int64_t ci = c->in[0], h = c->in[1], w = c->in[2];
    uint64_t n = 0;
    for (int i = 0; i < c->nch; i++) {
        h = h + 2 * c->pad - c->k + 1;
        w = w + 2 * c->pad - c->k + 1;
        if (h < 1 || w < 1)
            return adj_err_set(err, ADJ_EINVAL,
                               "model \"cnn\": the maps of block %d are empty (kernel %lld, padding %lld, "
                               "input %s)", i, (long long)c->k, (long long)c->pad, adj_model_config(m, "input"));
        h /= c->pool;
        w /= c->pool;
        if (h < 1 || w < 1)
            return adj_err_set(err, ADJ_EINVAL,
                               "model \"cnn\": the maps of block %d are smaller than the pool %lld "
                               "(input %s)", i, (long long)c->pool, adj_model_config(m, "input"));
        n += (uint64_t)c->ch[i] * (uint64_t)(ci * c->k * c->k + 1);
        ci = c->ch[i];
    }
    c->flat = ci * h * w;
    if ((uint64_t)c->flat > MAX_NUMEL)
        return adj_err_set(err, ADJ_EINVAL, "model \"cnn\": %lld features into the dense layers",
                           (long long)c->flat);
    int64_t width = c->flat;
    for (int i = 0; i < c->ndn; i++) {
        n += (uint64_t)c->out[i] * (uint64_t)(width + 1); /* < 2^20 * 2^37 */
        if (n > MAX_NUMEL)
            return adj_err_set(err, ADJ_EINVAL, "model \"cnn\": more than %llu parameters",
                               (unsigned long long)MAX_NUMEL);
        width = c->out[i];
    }
    c->numel = n;
    return ADJ_OK;
}

static adj_status count(const adj_model *m, uint64_t *n, adj_error *err)
{
    cnn_cfg c;
    adj_status s = parse(m, &c, err);
    if (s == ADJ_OK)
        *n = c.numel;
    return s;
}

static adj_status build(adj_model *m, adj_rng *rng, adj_error *err)
{
    cnn_cfg c;
    adj_status s = parse(m, &c, err);
    if (s != ADJ_OK)
        return s;
    cnn *st = calloc(1, sizeof *st);
    if (!st)
        return adj_err_set(err, ADJ_ENOMEM, "model \"cnn\": out of memory");
    m->state = st;
    memcpy(st->in, c.in, sizeof c.in);
    st->nconv = c.nch;
    st->ndense = c.ndn;
    st->kernel = (int)c.k;
    st->padding = (int)c.pad;
    st->pool = (int)c.pool;
    st->dropout = c.drop;
    m->p = adj_params_new(m->dtype);
    if (!m->p)
        return adj_err_set(err, ADJ_ENOMEM, "model \"cnn\": out of memory");
    /* names by position in the nn.Sequential */
    int at = 0;
    int64_t ci = c.in[0], k = c.k;
    char name[64];
    for (int i = 0; i < c.nch; i++) {
        snprintf(name, sizeof name, "%d.weight", at);
        st->conv_w[i] = adj_params_add(m->p, name, 4, (int64_t[]){c.ch[i], ci, k, k});
        snprintf(name, sizeof name, "%d.bias", at);
        st->conv_b[i] = adj_params_add(m->p, name, 1, (int64_t[]){c.ch[i]});
        at += c.pool > 1 ? 3 : 2; /* Conv2d, ReLU, [MaxPool2d] */
        ci = c.ch[i];
    }
    at++; /* Flatten */
    int64_t width = c.flat;
    for (int i = 0; i < c.ndn; i++) {
        int last = i == c.ndn - 1;
        snprintf(name, sizeof name, "%d.weight", at);
        st->dense_w[i] = adj_params_add(m->p, name, 2, (int64_t[]){c.out[i], width});
        snprintf(name, sizeof name, "%d.bias", at);
        st->dense_b[i] = adj_params_add(m->p, name, 1, (int64_t[]){c.out[i]});
        at += last ? 1 : c.drop > 0 ? 3 : 2; /* Linear, [ReLU, [Dropout]] */
        width = c.out[i];
    }
    if (adj_params_status(m->p) != ADJ_OK)
        return adj_err_set(err, adj_params_status(m->p), "model \"cnn\": %s", adj_params_message(m->p));
    /* PyTorch's initialisation, module by module */
    ci = c.in[0];
    for (int i = 0; i < c.nch; i++) {
        adj_model_torch_uniform(m->p, st->conv_w[i], st->conv_b[i], ci * k * k, rng);
        ci = c.ch[i];
    }
    for (int i = 0; i < st->ndense; i++)
        adj_model_torch_uniform(m->p, st->dense_w[i], st->dense_b[i],
                                adj_params_tensor_shape(m->p, st->dense_w[i])[1], rng);
    adj_rng_seed(&m->drop, adj_rng_next(rng));
    return adj_model_name_params(m, err);
}

static adj_var *forward(adj_model *m, adj_var *x)
{
    cnn *st = m->state;
    adj_tape *t = adj_var_tape(x);
    int64_t C = st->in[0], H = st->in[1], W = st->in[2];
    int nd = adj_ndim(x);
    int flat = nd == 2 && adj_dim(x, 1) == C * H * W;
    if (!flat && !(nd == 4 && adj_dim(x, 1) == C && adj_dim(x, 2) == H && adj_dim(x, 3) == W)) {
        char s[64];
        adj_shape_string(x, s, sizeof s);
        adj_tape_fail(t, ADJ_ESHAPE,
                      "adj_model_forward: a \"cnn\" model takes images (N, %lld, %lld, %lld) or rows "
                      "(N, %lld), not %s",
                      (long long)C, (long long)H, (long long)W, (long long)(C * H * W), s);
        return NULL;
    }
    adj_var *h = flat ? adj_reshape(x, 4, ((int64_t[]){adj_dim(x, 0), C, H, W})) : x;
    adj_conv2d_opts co = ADJ_CONV2D_OPTS_DEFAULT;
    co.padding[0] = co.padding[1] = st->padding;
    adj_pool2d_opts po = {{st->pool, st->pool}, {st->pool, st->pool}, {0, 0}};
    for (int i = 0; i < st->nconv; i++) {
        adj_var *w = adj_param(t, m->p, st->conv_w[i]), *b = adj_param(t, m->p, st->conv_b[i]);
        h = adj_relu(adj_conv2d(h, w, b, &co));
        if (st->pool > 1)
            h = adj_max_pool2d(h, &po);
    }
    h = adj_flatten(h, 1, 3);
    for (int i = 0; i < st->ndense; i++) {
        h = adj_linear(h, adj_param(t, m->p, st->dense_w[i]), adj_param(t, m->p, st->dense_b[i]));
        if (i < st->ndense - 1) {
            h = adj_relu(h);
            if (st->dropout > 0)
                h = adj_dropout(h, st->dropout, m->training, &m->drop);
        }
    }
    return h;
}

const adj_arch adj_arch_cnn = {
    .name = "cnn",
    .keys = KEYS,
    .build = build,
    .count = count,
    .forward = forward,
};
