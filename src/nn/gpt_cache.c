/*
 * Decoding with a key/value cache for a "gpt" model (include/adjoint/
 * model.h): each new token runs the blocks on its own position only, and
 * its attention reads the keys and values of the earlier positions from
 * the cache, so token t costs the dense layers of one position and O(t)
 * attention instead of a forward over the whole prefix.  The arithmetic
 * is arch_gpt.c's, in double over the model's stored weights (f32 or
 * f64), without a tape: evaluation mode, no dropout.
 */
#include "nn/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parameters of one block, in the order of the names below. */
enum { LN1_W, LN1_B, ATTN_W, ATTN_B, APROJ_W, APROJ_B, LN2_W, LN2_B, FC_W, FC_B, MPROJ_W, MPROJ_B, NBLOCK };
static const char *const BLOCK_NAMES[NBLOCK] = {
    "ln_1.weight",        "ln_1.bias",        "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",        "ln_2.bias",
    "mlp.c_fc.weight",    "mlp.c_fc.bias",    "mlp.c_proj.weight",  "mlp.c_proj.bias"};

struct adj_gpt_cache {
    adj_model *m;
    int64_t V, P, C, L, H, t;
    double eps;
    int wte, wpe, lnf_w, lnf_b;
    int *blk;               /* L * NBLOCK parameter indices */
    double *k, *v;          /* (L, P, C) each */
    double *x, *a, *qkv, *y, *f, *s; /* scratch: C, C, 3C, C, 4C, P */
};

void adj_gpt_cache_free(adj_gpt_cache *c)
{
    if (!c)
        return;
    free(c->blk);
    free(c->k);
    free(c->v);
    free(c->x);
    free(c->a);
    free(c->qkv);
    free(c->y);
    free(c->f);
    free(c->s);
    free(c);
}

/* The index of parameter `name` of m, or -1. */
static int param_index(const adj_model *m, const char *name)
{
    for (int i = 0; i < adj_params_count(m->p); i++)
        if (m->pnames && m->pnames[i] && strcmp(m->pnames[i], name) == 0)
            return i;
    return -1;
}

adj_gpt_cache *adj_gpt_cache_new(adj_model *m, adj_error *err)
{
    if (!m)
        return adj_err_set(err, ADJ_EINVAL, "adj_gpt_cache_new: NULL model"), NULL;
    if (strcmp(adj_model_arch(m), "gpt") != 0)
        return adj_err_set(err, ADJ_EINVAL, "adj_gpt_cache_new: a \"%s\" model, not \"gpt\"",
                           adj_model_arch(m)),
               NULL;
    adj_gpt_cache *c = calloc(1, sizeof *c);
    if (!c)
        return adj_err_set(err, ADJ_ENOMEM, "adj_gpt_cache_new: out of memory"), NULL;
    c->m = m;
    if (adj_model_get_int(m, "vocab_size", 1, 1 << 24, &c->V, err) != ADJ_OK ||
        adj_model_get_int(m, "n_positions", 1, 1 << 20, &c->P, err) != ADJ_OK ||
        adj_model_get_int(m, "n_embd", 1, 1 << 16, &c->C, err) != ADJ_OK ||
        adj_model_get_int(m, "n_layer", 1, 1 << 16, &c->L, err) != ADJ_OK ||
        adj_model_get_int(m, "n_head", 1, 1 << 16, &c->H, err) != ADJ_OK ||
        adj_model_get_double(m, "layer_norm_epsilon", 0, 1, &c->eps, err) != ADJ_OK) {
        adj_gpt_cache_free(c);
        return NULL;
    }
    size_t C = (size_t)c->C, LPC = (size_t)c->L * (size_t)c->P * C;
    c->blk = malloc((size_t)c->L * NBLOCK * sizeof *c->blk);
    c->k = malloc(LPC * sizeof *c->k);
    c->v = malloc(LPC * sizeof *c->v);
    c->x = malloc(C * sizeof *c->x);
    c->a = malloc(C * sizeof *c->a);
    c->qkv = malloc(3 * C * sizeof *c->qkv);
    c->y = malloc(C * sizeof *c->y);
    c->f = malloc(4 * C * sizeof *c->f);
    c->s = malloc((size_t)c->P * sizeof *c->s);
    if (!c->blk || !c->k || !c->v || !c->x || !c->a || !c->qkv || !c->y || !c->f || !c->s) {
        adj_gpt_cache_free(c);
        return adj_err_set(err, ADJ_ENOMEM, "adj_gpt_cache_new: out of memory for %lld layers of "
                           "%lld positions", (long long)c->L, (long long)c->P), NULL;
    }
    char name[96];
    const char *missing = NULL;
    c->wte = param_index(m, "wte.weight");
    c->wpe = param_index(m, "wpe.weight");
    c->lnf_w = param_index(m, "ln_f.weight");
    c->lnf_b = param_index(m, "ln_f.bias");
    if (c->wte < 0 || c->wpe < 0 || c->lnf_w < 0 || c->lnf_b < 0)
        missing = c->wte < 0 ? "wte.weight" : c->wpe < 0 ? "wpe.weight" : "ln_f";
    for (int64_t l = 0; l < c->L && !missing; l++)
        for (int j = 0; j < NBLOCK && !missing; j++) {
            snprintf(name, sizeof name, "h.%lld.%s", (long long)l, BLOCK_NAMES[j]);
            if ((c->blk[l * NBLOCK + j] = param_index(m, name)) < 0)
                missing = name;
        }
    if (missing) {
        adj_err_set(err, ADJ_EINVAL, "adj_gpt_cache_new: the model has no parameter %s", missing);
        adj_gpt_cache_free(c);
        return NULL;
    }
    adj_err_clear(err);
    return c;
}

void adj_gpt_cache_reset(adj_gpt_cache *c)
{
    if (c)
        c->t = 0;
}

int64_t adj_gpt_cache_length(const adj_gpt_cache *c) { return c ? c->t : 0; }

/* Parameter i's values. */
static const void *pv(adj_gpt_cache *c, int i) { return adj_params_value(c->m->p, i); }

/* out[o] = b[o] + sum_i x[i] W[i, o] for W (n, k) in the store's dtype. */
static void dense(const adj_gpt_cache *c, const void *W, const void *b, const double *x, size_t n,
                  size_t k, double *out)
{
    if (adj_params_dtype(c->m->p) == ADJ_F64) {
        const double *w = W, *bb = b;
        for (size_t o = 0; o < k; o++)
            out[o] = bb[o];
        for (size_t i = 0; i < n; i++) {
            const double xi = x[i], *row = w + i * k;
            for (size_t o = 0; o < k; o++)
                out[o] += xi * row[o];
        }
    } else {
        const float *w = W, *bb = b;
        for (size_t o = 0; o < k; o++)
            out[o] = bb[o];
        for (size_t i = 0; i < n; i++) {
            const double xi = x[i];
            const float *row = w + i * k;
            for (size_t o = 0; o < k; o++)
                out[o] += xi * (double)row[o];
        }
    }
}

/* Element j of a parameter vector in the store's dtype. */
static double at(const adj_gpt_cache *c, const void *p, size_t j)
{
    return adj_params_dtype(c->m->p) == ADJ_F64 ? ((const double *)p)[j]
                                                : (double)((const float *)p)[j];
}

/* out = layer_norm(x) * w + b over C values (biased variance). */
static void layer_norm(const adj_gpt_cache *c, const double *x, const void *w, const void *b,
                       double *out)
{
    size_t C = (size_t)c->C;
    double mean = 0, var = 0;
    for (size_t i = 0; i < C; i++)
        mean += x[i];
    mean /= (double)C;
    for (size_t i = 0; i < C; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= (double)C;
    double r = 1.0 / sqrt(var + c->eps);
    for (size_t i = 0; i < C; i++)
        out[i] = (x[i] - mean) * r * at(c, w, i) + at(c, b, i);
}

adj_status adj_gpt_cache_step(adj_gpt_cache *c, int32_t id, double *logits, adj_error *err)
{
    if (!c || !logits)
        return adj_err_set(err, ADJ_EINVAL, "adj_gpt_cache_step: NULL %s", !c ? "cache" : "logits");
    if (id < 0 || id >= c->V)
        return adj_err_set(err, ADJ_EINVAL, "adj_gpt_cache_step: token %d is not in [0, %lld)", (int)id,
                           (long long)c->V);
    if (c->t >= c->P)
        return adj_err_set(err, ADJ_EINVAL, "adj_gpt_cache_step: the cache holds n_positions = %lld "
                           "positions already (reset it, or start again from the last ones)",
                           (long long)c->P);
    const size_t C = (size_t)c->C, H = (size_t)c->H, D = C / H, t = (size_t)c->t,
                 PC = (size_t)c->P * C;
    const void *wte = pv(c, c->wte), *wpe = pv(c, c->wpe);
    double *x = c->x, *a = c->a, *qkv = c->qkv, *y = c->y, *f = c->f, *s = c->s;
    for (size_t i = 0; i < C; i++)
        x[i] = at(c, wte, (size_t)id * C + i) + at(c, wpe, t * C + i);
    const double scale = 1.0 / sqrt((double)D);
    for (int64_t l = 0; l < c->L; l++) {
        const int *b = c->blk + l * NBLOCK;
        layer_norm(c, x, pv(c, b[LN1_W]), pv(c, b[LN1_B]), a);
        dense(c, pv(c, b[ATTN_W]), pv(c, b[ATTN_B]), a, C, 3 * C, qkv);
        double *K = c->k + (size_t)l * PC, *Vv = c->v + (size_t)l * PC;
        memcpy(K + t * C, qkv + C, C * sizeof *K);
        memcpy(Vv + t * C, qkv + 2 * C, C * sizeof *Vv);
        for (size_t h = 0; h < H; h++) { /* causal: positions 0..t */
            const double *q = qkv + h * D;
            double mx = -INFINITY;
            for (size_t j = 0; j <= t; j++) {
                const double *kj = K + j * C + h * D;
                double d = 0;
                for (size_t e = 0; e < D; e++)
                    d += q[e] * kj[e];
                s[j] = d * scale;
                mx = s[j] > mx ? s[j] : mx;
            }
            double z = 0;
            for (size_t j = 0; j <= t; j++)
                z += s[j] = exp(s[j] - mx);
            double *yh = y + h * D;
            for (size_t e = 0; e < D; e++)
                yh[e] = 0;
            for (size_t j = 0; j <= t; j++) {
                const double w = s[j] / z, *vj = Vv + j * C + h * D;
                for (size_t e = 0; e < D; e++)
                    yh[e] += w * vj[e];
            }
        }
        dense(c, pv(c, b[APROJ_W]), pv(c, b[APROJ_B]), y, C, C, a);
        for (size_t i = 0; i < C; i++)
            x[i] += a[i];
        layer_norm(c, x, pv(c, b[LN2_W]), pv(c, b[LN2_B]), a);
        dense(c, pv(c, b[FC_W]), pv(c, b[FC_B]), a, C, 4 * C, f);
        const double k0 = sqrt(2.0 / 3.14159265358979323846);
        for (size_t i = 0; i < 4 * C; i++)
            f[i] = 0.5 * f[i] * (1.0 + tanh(k0 * (f[i] + 0.044715 * f[i] * f[i] * f[i])));
        dense(c, pv(c, b[MPROJ_W]), pv(c, b[MPROJ_B]), f, 4 * C, C, a);
        for (size_t i = 0; i < C; i++)
            x[i] += a[i];
    }
    layer_norm(c, x, pv(c, c->lnf_w), pv(c, c->lnf_b), a);
    for (int64_t v = 0; v < c->V; v++) { /* the head tied to wte */
        double d = 0;
        for (size_t i = 0; i < C; i++)
            d += a[i] * at(c, wte, (size_t)v * C + i);
        logits[v] = d;
    }
    c->t++;
    adj_err_clear(err);
    return ADJ_OK;
}
