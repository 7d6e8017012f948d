/*
 * GPT-2 checkpoints in the Hugging Face layout (include/adjoint/model.h,
 * adj_model_load_hf): DIR/config.json gives the configuration, and
 * DIR/model.safetensors the tensors under GPT-2's names, which are the
 * "gpt" architecture's own (Conv1D weights (in, out) included), with or
 * without a "transformer." prefix.
 */
#include "io/io_internal.h"
#include "io/st_internal.h"
#include "nn/model_internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONFIG ((long)1 << 20)

/* DIR/NAME into buf (ADJ_EINVAL when it does not fit). */
static adj_status join(char *buf, size_t cap, const char *dir, const char *name, adj_error *err)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_load_hf: the path %.64s... is too long", dir);
    return ADJ_OK;
}

/* The whole of a small text file (at most MAX_CONFIG bytes), from malloc. */
static adj_status slurp(const char *path, char **out, adj_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return adj_err_set(err, ADJ_EIO, "%s: cannot open", path);
    char *b = malloc((size_t)MAX_CONFIG + 1);
    size_t n = b ? fread(b, 1, (size_t)MAX_CONFIG + 1, fp) : 0;
    int bad = ferror(fp);
    fclose(fp);
    if (!b)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
    if (bad || n > (size_t)MAX_CONFIG) {
        free(b);
        return adj_err_set(err, bad ? ADJ_EIO : ADJ_EFORMAT, "%s: %s", path,
                           bad ? "read error" : "larger than 1 MiB: not a model configuration");
    }
    b[n] = '\0';
    *out = b;
    return ADJ_OK;
}

/* Integer key of the configuration, as a decimal string. */
static adj_status int_key(const cJSON *cfg, const char *path, const char *key, long lo, long hi,
                          char *val, size_t cap, adj_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v)
        return adj_err_set(err, ADJ_EFORMAT, "%s: no \"%s\"", path, key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return adj_err_set(err, ADJ_EFORMAT, "%s: \"%s\" is not an integer in [%ld, %ld]", path, key, lo, hi);
    snprintf(val, cap, "%ld", (long)d);
    return ADJ_OK;
}

/* The "gpt" configuration from config.json: kv pairs into vals. */
static adj_status read_config(const char *path, char vals[6][32], adj_error *err)
{
    char *text = NULL;
    adj_status s = slurp(path, &text, err);
    if (s != ADJ_OK)
        return s;
    cJSON *cfg = cJSON_Parse(text);
    free(text);
    if (!cfg || !cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return adj_err_set(err, ADJ_EFORMAT, "%s: not a JSON object", path);
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "activation_function");
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(cfg, "n_inner");
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "layer_norm_epsilon");
    if (mt && !(cJSON_IsString(mt) && strcmp(mt->valuestring, "gpt2") == 0))
        s = adj_err_set(err, ADJ_EFORMAT, "%s: model_type is not \"gpt2\"", path);
    else if (act && !(cJSON_IsString(act) && (strcmp(act->valuestring, "gelu_new") == 0 ||
                                               strcmp(act->valuestring, "gelu_pytorch_tanh") == 0)))
        s = adj_err_set(err, ADJ_EFORMAT, "%s: activation_function is not GELU's tanh form (\"gelu_new\")",
                        path);
    else if (eps && !(cJSON_IsNumber(eps) && eps->valuedouble >= 0 && eps->valuedouble <= 1))
        s = adj_err_set(err, ADJ_EFORMAT, "%s: \"layer_norm_epsilon\" is not a number in [0, 1]", path);
    if (s == ADJ_OK)
        s = int_key(cfg, path, "vocab_size", 1, 1L << 24, vals[0], 32, err);
    if (s == ADJ_OK)
        s = int_key(cfg, path, "n_positions", 1, 1L << 20, vals[1], 32, err);
    if (s == ADJ_OK)
        s = int_key(cfg, path, "n_embd", 1, 1L << 16, vals[2], 32, err);
    if (s == ADJ_OK)
        s = int_key(cfg, path, "n_layer", 1, 256, vals[3], 32, err);
    if (s == ADJ_OK)
        s = int_key(cfg, path, "n_head", 1, 1L << 16, vals[4], 32, err);
    if (s == ADJ_OK && inner && !cJSON_IsNull(inner) &&
        !(cJSON_IsNumber(inner) && inner->valuedouble == 4 * strtod(vals[2], NULL)))
        s = adj_err_set(err, ADJ_EFORMAT, "%s: n_inner is not 4 n_embd (GPT-2's MLP)", path);
    if (s == ADJ_OK)
        snprintf(vals[5], 32, "%.17g", eps ? eps->valuedouble : 1e-5);
    cJSON_Delete(cfg);
    return s;
}

/* Tensors of a checkpoint the model has no use for: the causal-mask
 * buffers some GPT-2 files carry (h.N.attn.bias, h.N.attn.masked_bias). */
static int mask_buffer(const char *name, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || strncmp(name + pl, "h.", 2) != 0)
        return 0;
    const char *q = name + pl + 2;
    if (!(*q >= '0' && *q <= '9'))
        return 0;
    while (*q >= '0' && *q <= '9')
        q++;
    return strcmp(q, ".attn.bias") == 0 || strcmp(q, ".attn.masked_bias") == 0;
}

static adj_status load(const char *dir, adj_dtype dtype, adj_model **out, adj_error *err)
{
    char cpath[4200], wpath[4200], vals[6][32], name[200];
    adj_status s;
    if ((s = join(cpath, sizeof cpath, dir, "config.json", err)) != ADJ_OK ||
        (s = join(wpath, sizeof wpath, dir, "model.safetensors", err)) != ADJ_OK ||
        (s = read_config(cpath, vals, err)) != ADJ_OK)
        return s;
    const char *kv[] = {"vocab_size", vals[0], "n_positions", vals[1], "n_embd", vals[2],
                        "n_layer", vals[3], "n_head", vals[4], "layer_norm_epsilon", vals[5]};
    adj_model *m = adj_model_alloc(&adj_arch_gpt, 6, kv, dtype, err);
    if (!m)
        return err ? err->status : ADJ_ENOMEM;
    uint64_t need = 0;
    adj_safetensors *f = NULL;
    if ((s = adj_arch_gpt.count(m, &need, err)) != ADJ_OK) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err ? err->message : "bad configuration");
        s = adj_err_set(err, ADJ_EFORMAT, "%s: %s", cpath, why);
    }
    if (s == ADJ_OK)
        s = adj_st_read(wpath, &f, err);
    /* every element takes 2 bytes or more: the file bounds the allocation */
    if (s == ADJ_OK && need > f->data_len / 2)
        s = adj_err_set(err, ADJ_EFORMAT, "%s: the configuration of %s makes %llu parameters, more than %s holds",
                        wpath, cpath, (unsigned long long)need, wpath);
    const char *prefix = "";
    if (s == ADJ_OK && !adj_st_find(f, "wte.weight") && adj_st_find(f, "transformer.wte.weight"))
        prefix = "transformer.";
    unsigned char *used = s == ADJ_OK ? calloc((size_t)adj_st_count(f) + 1, 1) : NULL;
    if (s == ADJ_OK && !used)
        s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", wpath);
    if (s == ADJ_OK) {
        adj_rng rng;
        adj_rng_seed(&rng, 0); /* the values are replaced by the file's */
        s = adj_arch_gpt.build(m, &rng, err);
    }
    adj_params *p = m->p;
    for (int i = 0; s == ADJ_OK && i < adj_params_count(p); i++) {
        snprintf(name, sizeof name, "%s%s", prefix, m->pnames[i]);
        s = adj_io_st_take(f, used, wpath, name, adj_params_tensor_ndim(p, i), adj_params_tensor_shape(p, i),
                           dtype, adj_params_value(p, i), err);
    }
    /* the LM head is wte: a file's lm_head.weight must hold the same values */
    const adj_st_tensor *head = s == ADJ_OK ? adj_st_find(f, "lm_head.weight") : NULL;
    if (head) {
        const adj_st_tensor *wte = adj_st_find(f, strcmp(prefix, "") ? "transformer.wte.weight" : "wte.weight");
        size_t n = adj_params_tensor_numel(p, 0), es = dtype == ADJ_F64 ? 8 : 4;
        void *v = head->ndim == 2 && head->shape[0] == wte->shape[0] && head->shape[1] == wte->shape[1]
                      ? malloc(n * es) : NULL;
        if (!v || adj_st_convert(head, dtype, v, NULL) != ADJ_OK || memcmp(v, adj_params_value(p, 0), n * es))
            s = adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"lm_head.weight\" is not wte.weight: the model ties "
                            "its LM head to the token embedding", wpath);
        free(v);
        used[head - adj_st_tensor_at(f, 0)] = 1;
    }
    for (int i = 0; s == ADJ_OK && i < adj_st_count(f); i++)
        if (!used[i] && !mask_buffer(adj_st_tensor_at(f, i)->name, prefix))
            s = adj_err_set(err, ADJ_EFORMAT, "%s: unexpected tensor \"%.64s\" for a GPT-2 model", wpath,
                            adj_st_tensor_at(f, i)->name);
    free(used);
    adj_st_free(f);
    if (s != ADJ_OK) {
        adj_model_free(m);
        return s;
    }
    *out = m;
    return ADJ_OK;
}

adj_status adj_model_load_hf(const char *dir, adj_dtype dtype, adj_model **out, adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_load_hf: NULL out");
    *out = NULL;
    adj_status s = adj_io_path_ok("adj_model_load_hf", "directory", dir, err);
    if (s != ADJ_OK)
        return s;
    if (dtype != ADJ_F32 && dtype != ADJ_F64)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_load_hf: dtype %s is not F32 or F64",
                           adj_dtype_name(dtype));
    s = load(dir, dtype, out, err);
    if (s == ADJ_OK)
        adj_err_clear(err);
    return s;
}
