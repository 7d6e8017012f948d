/*
 * Models of any architecture: the registry, the configuration (key/value
 * strings, parsed by the architectures through the helpers here) and the
 * calls every architecture answers (include/adjoint/model.h).
 */
#include "nn/model_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The registry: one line per architecture. */
static const adj_arch *const ARCHS[] = {
    &adj_arch_mlp,
    &adj_arch_rnn,
    &adj_arch_lstm,
    &adj_arch_gru,
    &adj_arch_cnn,
    &adj_arch_autoencoder,
    &adj_arch_gpt,
};
#define NARCHS ((int)(sizeof ARCHS / sizeof ARCHS[0]))

int adj_arch_count(void) { return NARCHS; }

const char *adj_arch_name(int i) { return i >= 0 && i < NARCHS ? ARCHS[i]->name : NULL; }

const adj_arch *adj_arch_find(const char *name)
{
    for (int i = 0; name && i < NARCHS; i++)
        if (strcmp(ARCHS[i]->name, name) == 0)
            return ARCHS[i];
    return NULL;
}

/* ------------------------------------------------------- configuration */

static int key_index(const adj_model *m, const char *key)
{
    for (int i = 0; i < m->nconf; i++)
        if (strcmp(m->keys[i], key) == 0)
            return i;
    return -1;
}

adj_status adj_model_set_config(adj_model *m, const char *key, const char *value, adj_error *err)
{
    int i = key_index(m, key);
    if (i < 0)
        return adj_err_set(err, ADJ_EINVAL, "model \"%s\": unknown configuration key \"%.64s\"",
                           m->arch->name, key);
    char *v = strdup(value);
    if (!v)
        return adj_err_set(err, ADJ_ENOMEM, "model \"%s\": out of memory", m->arch->name);
    free(m->values[i]);
    m->values[i] = v;
    return ADJ_OK;
}

adj_model *adj_model_alloc(const adj_arch *arch, int n, const char *const *kv, adj_dtype dtype,
                           adj_error *err)
{
    if (dtype != ADJ_F32 && dtype != ADJ_F64) {
        adj_err_set(err, ADJ_EINVAL, "adj_model_new: dtype %d is not F32 or F64", (int)dtype);
        return NULL;
    }
    adj_model *m = calloc(1, sizeof *m);
    int nk = 0;
    while (arch->keys[nk].key)
        nk++;
    if (m) {
        m->keys = calloc((size_t)nk + 1, sizeof *m->keys);
        m->values = calloc((size_t)nk + 1, sizeof *m->values);
    }
    if (!m || !m->keys || !m->values) {
        adj_err_set(err, ADJ_ENOMEM, "adj_model_new: out of memory");
        adj_model_free(m);
        return NULL;
    }
    m->arch = arch;
    m->dtype = dtype;
    m->training = 1;
    adj_rng_seed(&m->drop, 0);
    for (int i = 0; i < nk; i++) {
        m->keys[i] = strdup(arch->keys[i].key);
        m->values[i] = strdup(arch->keys[i].def);
        m->nconf++;
        if (!m->keys[i] || !m->values[i]) {
            adj_err_set(err, ADJ_ENOMEM, "adj_model_new: out of memory");
            adj_model_free(m);
            return NULL;
        }
    }
    for (int i = 0; i < n; i++) {
        if (!kv[2 * i] || !kv[2 * i + 1]) {
            adj_err_set(err, ADJ_EINVAL, "adj_model_new: NULL %s in pair %d",
                        kv[2 * i] ? "value" : "key", i);
            adj_model_free(m);
            return NULL;
        }
        if (adj_model_set_config(m, kv[2 * i], kv[2 * i + 1], err) != ADJ_OK) {
            adj_model_free(m);
            return NULL;
        }
    }
    return m;
}

adj_status adj_model_get_int(const adj_model *m, const char *key, int64_t lo, int64_t hi,
                             int64_t *out, adj_error *err)
{
    const char *s = adj_model_config(m, key);
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return adj_err_set(err, ADJ_EINVAL, "model \"%s\": %s = \"%.64s\" is not an integer in [%lld, %lld]",
                           m->arch->name, key, s ? s : "", (long long)lo, (long long)hi);
    *out = v;
    return ADJ_OK;
}

adj_status adj_model_get_double(const adj_model *m, const char *key, double lo, double hi,
                                double *out, adj_error *err)
{
    const char *s = adj_model_config(m, key);
    char *end;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || !*s || *end || !(v >= lo && v <= hi))
        return adj_err_set(err, ADJ_EINVAL, "model \"%s\": %s = \"%.64s\" is not a number in [%g, %g]",
                           m->arch->name, key, s ? s : "", lo, hi);
    *out = v;
    return ADJ_OK;
}

adj_status adj_model_get_ints(const adj_model *m, const char *key, int max, int64_t lo, int64_t hi,
                              int64_t *out, int *n, adj_error *err)
{
    const char *s = adj_model_config(m, key);
    *n = 0;
    for (const char *p = s; p && *p;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < lo || v > hi || *n >= max || (*end && *end != ','))
            return adj_err_set(err, ADJ_EINVAL,
                               "model \"%s\": %s = \"%.64s\" is not a list of at most %d integers in [%lld, %lld]",
                               m->arch->name, key, s, max, (long long)lo, (long long)hi);
        out[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    return ADJ_OK;
}

adj_status adj_model_name_params(adj_model *m, adj_error *err)
{
    int n = adj_params_count(m->p);
    m->pnames = calloc((size_t)n + 1, sizeof *m->pnames);
    if (!m->pnames)
        return adj_err_set(err, ADJ_ENOMEM, "model \"%s\": out of memory", m->arch->name);
    for (int i = 0; i < n; i++)
        if (!(m->pnames[i] = strdup(adj_params_tensor_name(m->p, i))))
            return adj_err_set(err, ADJ_ENOMEM, "model \"%s\": out of memory", m->arch->name);
    return ADJ_OK;
}

/* ---------------------------------------------------------------- public */

adj_model *adj_model_new(const char *arch, int n, const char *const *kv, adj_dtype dtype,
                         adj_rng *rng, adj_error *err)
{
    if (!arch || !rng || (n && !kv)) {
        adj_err_set(err, ADJ_EINVAL, "adj_model_new: NULL %s", !arch ? "architecture" : !rng ? "rng" : "kv");
        return NULL;
    }
    if (n < 0 || n > 256) {
        adj_err_set(err, ADJ_EINVAL, "adj_model_new: %d key/value pairs", n);
        return NULL;
    }
    const adj_arch *a = adj_arch_find(arch);
    if (!a) {
        adj_err_set(err, ADJ_EINVAL, "adj_model_new: unknown architecture \"%.64s\"", arch);
        return NULL;
    }
    adj_model *m = adj_model_alloc(a, n, kv, dtype, err);
    if (!m)
        return NULL;
    if (a->build(m, rng, err) != ADJ_OK) {
        adj_model_free(m);
        return NULL;
    }
    adj_err_clear(err);
    return m;
}

void adj_model_free(adj_model *m)
{
    if (!m)
        return;
    int np = m->p ? adj_params_count(m->p) : 0;
    if (m->pnames)
        for (int i = 0; i < np; i++)
            free(m->pnames[i]);
    free(m->pnames);
    if (m->arch && m->arch->destroy) {
        m->arch->destroy(m);
    } else {
        adj_params_free(m->p);
        free(m->state);
    }
    for (int i = 0; i < m->nconf; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    free(m);
}

const char *adj_model_arch(const adj_model *m) { return m ? m->arch->name : NULL; }
adj_dtype adj_model_dtype(const adj_model *m) { return m ? m->dtype : ADJ_F32; }
int adj_model_config_count(const adj_model *m) { return m ? m->nconf : 0; }

const char *adj_model_config_key(const adj_model *m, int i)
{
    return m && i >= 0 && i < m->nconf ? m->keys[i] : NULL;
}

const char *adj_model_config_value(const adj_model *m, int i)
{
    return m && i >= 0 && i < m->nconf ? m->values[i] : NULL;
}

const char *adj_model_config(const adj_model *m, const char *key)
{
    if (!m || !key)
        return NULL;
    int i = key_index(m, key);
    return i < 0 ? NULL : m->values[i];
}

adj_params *adj_model_params(adj_model *m) { return m ? m->p : NULL; }

adj_rng *adj_model_dropout_rng(adj_model *m)
{
    if (!m)
        return NULL;
    adj_mlp *mlp = m->arch->mlp ? m->arch->mlp(m) : NULL; /* the MLP keeps its own */
    return mlp ? adj_mlp_dropout_rng(mlp) : &m->drop;
}

const char *adj_model_param_name(const adj_model *m, int i)
{
    return m && m->pnames && i >= 0 && i < adj_params_count(m->p) ? m->pnames[i] : NULL;
}

adj_mlp *adj_model_mlp(adj_model *m) { return m && m->arch->mlp ? m->arch->mlp(m) : NULL; }

void adj_model_set_training(adj_model *m, int training)
{
    if (!m)
        return;
    m->training = training != 0;
    if (m->arch->set_training)
        m->arch->set_training(m, m->training);
}

adj_var *adj_model_forward(adj_model *m, adj_var *x)
{
    x = adj_h_in(x, "adj_model_forward");
    if (!x)
        return NULL;
    if (!m) {
        adj_tape_fail(adj_var_tape(x), ADJ_EINVAL, "adj_model_forward: NULL model");
        return NULL;
    }
    return m->arch->forward(m, x);
}
