/*
 * Architecture "mlp": the multi-layer perceptron of nn.h as a model.
 *
 * Keys: sizes (input,hidden...,output), act (after every hidden layer) or
 * acts (after every layer, the last usually identity), init, dropout,
 * batchnorm (0/1).  The matching PyTorch module is an nn.Sequential of,
 * per hidden layer, Linear, [BatchNorm1d], the activation (unless
 * identity), [Dropout], and at the end Linear [and its activation]:
 * tensors "0.weight", "0.bias", "1.weight" (gamma), "1.bias" (beta),
 * "1.running_mean", "1.running_var", ...  An input transform, when set,
 * is saved as the buffers "input.shift" and "input.scale"
 * (x' = (x - shift) * scale, applied before the network).
 */
#include "nn/model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const adj_arch_key KEYS[] = {
    {"sizes", "784,128,10"}, {"act", "relu"}, {"acts", ""},     {"init", "he_normal"},
    {"dropout", "0"},        {"batchnorm", "0"}, {NULL, NULL},
};

static const char *const INITS[ADJ_INIT_COUNT] = {
    "zeros", "constant", "normal", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal",
};

static adj_mlp *mlp_of(adj_model *m) { return m->state; }

/* Torch Sequential index of each dense layer and batch norm. */
typedef struct seq_index {
    int dense[ADJ_MLP_MAX_LAYERS], bn[ADJ_MLP_MAX_LAYERS];
} seq_index;

static void sequence(const adj_mlp_config *c, seq_index *ix)
{
    int at = 0, layers = c->n_sizes - 1;
    for (int k = 0; k < layers; k++) {
        ix->dense[k] = at++;
        ix->bn[k] = -1;
        int hidden = k < layers - 1;
        if (hidden && c->batchnorm)
            ix->bn[k] = at++;
        if (c->act[k] != ADJ_ACT_IDENTITY)
            at++;
        if (hidden && c->dropout > 0)
            at++;
    }
}

/* Names of the store's tensors ("layerK.weight", "bnK.gamma", ...) in
 * PyTorch's numbering. */
static adj_status name_params(adj_model *m, adj_error *err)
{
    adj_mlp *mlp = mlp_of(m);
    const adj_mlp_config *c = adj_mlp_get_config(mlp);
    seq_index ix;
    sequence(c, &ix);
    adj_status s = adj_model_name_params(m, err);
    if (s != ADJ_OK)
        return s;
    for (int i = 0; i < adj_params_count(m->p); i++) {
        const char *nm = adj_params_tensor_name(m->p, i);
        int k;
        char field[16], out[64];
        if (sscanf(nm, "layer%d.%15s", &k, field) == 2 && k >= 0 && k < c->n_sizes - 1)
            snprintf(out, sizeof out, "%d.%s", ix.dense[k], field);
        else if (sscanf(nm, "bn%d.%15s", &k, field) == 2 && k >= 0 && k < c->n_sizes - 1 && ix.bn[k] >= 0)
            snprintf(out, sizeof out, "%d.%s", ix.bn[k], strcmp(field, "gamma") == 0 ? "weight" : "bias");
        else
            continue;
        char *d = strdup(out);
        if (!d)
            return adj_err_set(err, ADJ_ENOMEM, "model \"mlp\": out of memory");
        free(m->pnames[i]);
        m->pnames[i] = d;
    }
    return ADJ_OK;
}

/* Write the full configuration of c back into m's keys. */
static adj_status store_config(adj_model *m, const adj_mlp_config *c, adj_error *err)
{
    char sizes[ADJ_MLP_MAX_LAYERS * 24] = "", acts[ADJ_MLP_MAX_LAYERS * 24] = "", num[40];
    for (int i = 0; i < c->n_sizes; i++) {
        snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)c->sizes[i]);
        strcat(sizes, num);
    }
    for (int k = 0; k < c->n_sizes - 1; k++) {
        snprintf(num, sizeof num, "%s%s", k ? "," : "", adj_activation_name(c->act[k]));
        strcat(acts, num);
    }
    char drop[40];
    snprintf(drop, sizeof drop, "%.17g", c->dropout);
    adj_status s = adj_model_set_config(m, "sizes", sizes, err);
    if (s == ADJ_OK)
        s = adj_model_set_config(m, "act", adj_activation_name(c->n_sizes > 2 ? c->act[0] : ADJ_ACT_RELU), err);
    if (s == ADJ_OK)
        s = adj_model_set_config(m, "acts", acts, err);
    if (s == ADJ_OK)
        s = adj_model_set_config(m, "init", INITS[c->init], err);
    if (s == ADJ_OK)
        s = adj_model_set_config(m, "dropout", drop, err);
    if (s == ADJ_OK)
        s = adj_model_set_config(m, "batchnorm", c->batchnorm ? "1" : "0", err);
    return s;
}

static adj_status parse_config(const adj_model *m, adj_mlp_config *c, adj_error *err)
{
    *c = adj_mlp_config_default();
    c->dtype = m->dtype;
    int n = 0;
    adj_status s = adj_model_get_ints(m, "sizes", ADJ_MLP_MAX_LAYERS + 1, 1, (int64_t)1 << 24,
                                      c->sizes, &n, err);
    if (s != ADJ_OK)
        return s;
    if (n < 2)
        return adj_err_set(err, ADJ_EINVAL, "model \"mlp\": sizes = \"%.64s\" needs 2 to %d sizes",
                           adj_model_config(m, "sizes"), ADJ_MLP_MAX_LAYERS + 1);
    adj_activation hidden;
    if (adj_activation_parse(adj_model_config(m, "act"), &hidden) != ADJ_OK)
        return adj_err_set(err, ADJ_EINVAL, "model \"mlp\": act = \"%.64s\" is not an activation",
                           adj_model_config(m, "act"));
    adj_mlp_config_set_sizes(c, n, c->sizes, hidden);
    const char *acts = adj_model_config(m, "acts");
    if (*acts) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", acts);
        int k = 0;
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), k++)
            if (k >= n - 1 || adj_activation_parse(tok, &c->act[k]) != ADJ_OK)
                return adj_err_set(err, ADJ_EINVAL, "model \"mlp\": acts = \"%.64s\" is not %d activations",
                                   acts, n - 1);
        if (k != n - 1)
            return adj_err_set(err, ADJ_EINVAL, "model \"mlp\": acts = \"%.64s\" is not %d activations",
                               acts, n - 1);
    }
    const char *init = adj_model_config(m, "init");
    int found = 0;
    for (int i = 0; i < ADJ_INIT_COUNT; i++)
        if (strcmp(init, INITS[i]) == 0) {
            c->init = (adj_init)i;
            found = 1;
        }
    if (!found)
        return adj_err_set(err, ADJ_EINVAL, "model \"mlp\": init = \"%.64s\" is not an initialiser", init);
    int64_t bn;
    if ((s = adj_model_get_double(m, "dropout", 0, 0.999999, &c->dropout, err)) != ADJ_OK ||
        (s = adj_model_get_int(m, "batchnorm", 0, 1, &bn, err)) != ADJ_OK)
        return s;
    c->batchnorm = (int)bn;
    return ADJ_OK;
}

static adj_status count(const adj_model *m, uint64_t *n, adj_error *err)
{
    adj_mlp_config c;
    adj_status s = parse_config(m, &c, err);
    if (s != ADJ_OK)
        return s;
    uint64_t k = adj_mlp_count_params(c.n_sizes, c.sizes);
    for (int i = 1; c.batchnorm && i < c.n_sizes - 1; i++)
        k += 4 * (uint64_t)c.sizes[i]; /* gamma, beta, running mean and variance */
    *n = k;
    return ADJ_OK;
}

/* Name the parameters and store the full configuration of the MLP in state. */
static adj_status adopt(adj_model *m, adj_error *err)
{
    adj_mlp *mlp = mlp_of(m);
    m->p = adj_mlp_params(mlp);
    m->training = adj_mlp_training(mlp);
    adj_status s = store_config(m, adj_mlp_get_config(mlp), err);
    return s == ADJ_OK ? name_params(m, err) : s;
}

static adj_status build(adj_model *m, adj_rng *rng, adj_error *err)
{
    adj_mlp_config c;
    adj_status s = parse_config(m, &c, err);
    if (s != ADJ_OK)
        return s;
    m->state = adj_mlp_new(&c, rng, err);
    if (!m->state)
        return err ? err->status : ADJ_EINVAL;
    return adopt(m, err);
}

static adj_var *forward(adj_model *m, adj_var *x) { return adj_mlp_forward(mlp_of(m), x); }

static void destroy(adj_model *m)
{
    adj_mlp_free(mlp_of(m));
    m->state = NULL;
    m->p = NULL;
}

static void set_training(adj_model *m, int on) { adj_mlp_set_training(mlp_of(m), on); }

static int buffers(adj_model *m, adj_model_buf *out)
{
    adj_mlp *mlp = mlp_of(m);
    const adj_mlp_config *c = adj_mlp_get_config(mlp);
    seq_index ix;
    sequence(c, &ix);
    int n = 0;
    for (int k = 0; k < c->n_sizes - 1 && n + 2 <= ADJ_MODEL_MAX_BUFS; k++) {
        adj_batchnorm *bn = adj_mlp_batchnorm(mlp, k);
        if (!bn)
            continue;
        for (int j = 0; j < 2; j++, n++) {
            snprintf(out[n].name, sizeof out[n].name, "%d.%s", ix.bn[k], j ? "running_var" : "running_mean");
            out[n].ndim = 1;
            out[n].shape[0] = adj_batchnorm_features(bn);
            out[n].data = j ? adj_batchnorm_running_var(bn) : adj_batchnorm_running_mean(bn);
        }
    }
    const double *sh, *sc;
    if (adj_mlp_input_transform(mlp, &sh, &sc) && n + 2 <= ADJ_MODEL_MAX_BUFS)
        for (int j = 0; j < 2; j++, n++) {
            snprintf(out[n].name, sizeof out[n].name, "input.%s", j ? "scale" : "shift");
            out[n].ndim = 1;
            out[n].shape[0] = c->sizes[0];
            out[n].data = (double *)(j ? sc : sh);
        }
    return n;
}

/* The input transform of a file, when the model has none yet. */
static adj_status load_extra(adj_model *m, const adj_safetensors *f, unsigned char *used,
                             const char *path, adj_error *err)
{
    const adj_st_tensor *sh = adj_st_find(f, "input.shift"), *sc = adj_st_find(f, "input.scale");
    if (!sh && !sc)
        return ADJ_OK;
    int64_t in = adj_mlp_get_config(mlp_of(m))->sizes[0];
    if (!sh || !sc || sh->ndim != 1 || sc->ndim != 1 || sh->shape[0] != in || sc->shape[0] != in)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: input.shift and input.scale must both be there, of shape (%lld)", path,
                           (long long)in);
    double *a = malloc((size_t)in * sizeof *a), *b = malloc((size_t)in * sizeof *b);
    adj_status s = a && b ? ADJ_OK : adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
    if (s == ADJ_OK && (s = adj_st_convert(sh, ADJ_F64, a, err)) == ADJ_OK &&
        (s = adj_st_convert(sc, ADJ_F64, b, err)) == ADJ_OK &&
        adj_mlp_set_input_transform(mlp_of(m), a, b) != ADJ_OK)
        s = adj_err_set(err, ADJ_EFORMAT, "%s: the input transform is not finite", path);
    free(a);
    free(b);
    if (s == ADJ_OK)
        for (int i = 0; i < adj_st_count(f); i++) {
            const char *nm = adj_st_tensor_at(f, i)->name;
            if (strcmp(nm, "input.shift") == 0 || strcmp(nm, "input.scale") == 0)
                used[i] = 1;
        }
    return s;
}

static adj_mlp *get_mlp(adj_model *m) { return mlp_of(m); }

const adj_arch adj_arch_mlp = {
    .name = "mlp",
    .keys = KEYS,
    .build = build,
    .count = count,
    .forward = forward,
    .destroy = destroy,
    .set_training = set_training,
    .buffers = buffers,
    .load_extra = load_extra,
    .mlp = get_mlp,
};

adj_model *adj_model_from_mlp(adj_mlp *mlp, adj_error *err)
{
    if (!mlp) {
        adj_err_set(err, ADJ_EINVAL, "adj_model_from_mlp: NULL mlp");
        return NULL;
    }
    adj_model *m = adj_model_alloc(&adj_arch_mlp, 0, NULL, adj_params_dtype(adj_mlp_params(mlp)), err);
    if (!m) {
        adj_mlp_free(mlp);
        return NULL;
    }
    m->state = mlp;
    if (adopt(m, err) != ADJ_OK) {
        adj_model_free(m);
        return NULL;
    }
    adj_err_clear(err);
    return m;
}
