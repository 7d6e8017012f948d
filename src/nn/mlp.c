/*
 * The multi-layer perceptron: dense layers in one parameter store, each
 * hidden layer followed by [batch norm ->] activation [-> dropout].
 */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

struct adj_mlp {
    adj_allocator al;
    adj_mlp_config cfg;
    adj_params *p;
    adj_dense dense[ADJ_MLP_MAX_LAYERS];
    adj_batchnorm *bn[ADJ_MLP_MAX_LAYERS];
    int training;
    adj_rng drop;
    double *shift, *scale; /* input transform, or NULL */
};

adj_mlp_config adj_mlp_config_default(void)
{
    adj_mlp_config c;
    memset(&c, 0, sizeof c);
    c.dtype = ADJ_F32;
    c.init = ADJ_INIT_HE_NORMAL;
    return c;
}

adj_status adj_mlp_config_set_sizes(adj_mlp_config *c, int n_sizes, const int64_t *sizes,
                                    adj_activation hidden)
{
    if (!c || !sizes || n_sizes < 2 || n_sizes > ADJ_MLP_MAX_LAYERS + 1)
        return ADJ_EINVAL;
    for (int i = 0; i < n_sizes; i++)
        if (sizes[i] < 1)
            return ADJ_EINVAL;
    c->n_sizes = n_sizes;
    for (int i = 0; i < n_sizes; i++)
        c->sizes[i] = sizes[i];
    for (int k = 0; k < n_sizes - 1; k++)
        c->act[k] = k == n_sizes - 2 ? ADJ_ACT_IDENTITY : hidden;
    return ADJ_OK;
}

size_t adj_mlp_count_params(int n_sizes, const int64_t *sizes)
{
    size_t n = 0;
    if (!sizes)
        return 0;
    for (int k = 0; k + 1 < n_sizes; k++)
        n += (size_t)(sizes[k] + 1) * (size_t)sizes[k + 1];
    return n;
}

static adj_status check_config(const adj_mlp_config *c, adj_error *err)
{
    if (!c)
        return adj_err_set(err, ADJ_EINVAL, "adj_mlp_new: NULL config");
    if (c->dtype != ADJ_F32 && c->dtype != ADJ_F64)
        return adj_err_set(err, ADJ_EINVAL, "adj_mlp_new: unknown dtype %d", (int)c->dtype);
    if (c->n_sizes < 2 || c->n_sizes > ADJ_MLP_MAX_LAYERS + 1)
        return adj_err_set(err, ADJ_EINVAL, "adj_mlp_new: %d layer sizes (need 2 to %d)",
                           c->n_sizes, ADJ_MLP_MAX_LAYERS + 1);
    for (int i = 0; i < c->n_sizes; i++)
        if (c->sizes[i] < 1 || c->sizes[i] > (int64_t)1 << 24)
            return adj_err_set(err, ADJ_EINVAL, "adj_mlp_new: layer size %d is %lld", i,
                               (long long)c->sizes[i]);
    for (int k = 0; k < c->n_sizes - 1; k++)
        if ((unsigned)c->act[k] >= ADJ_ACT_COUNT)
            return adj_err_set(err, ADJ_EINVAL, "adj_mlp_new: activation %d of layer %d is unknown",
                               (int)c->act[k], k);
    if ((unsigned)c->init >= ADJ_INIT_COUNT)
        return adj_err_set(err, ADJ_EINVAL, "adj_mlp_new: unknown initialiser %d", (int)c->init);
    if (!(c->dropout >= 0.0 && c->dropout < 1.0))
        return adj_err_set(err, ADJ_EINVAL, "adj_mlp_new: dropout %g is not in [0, 1)", c->dropout);
    return ADJ_OK;
}

adj_mlp *adj_mlp_new(const adj_mlp_config *c, adj_rng *rng, adj_error *err)
{
    return adj_mlp_new_with(c, rng, NULL, err);
}

adj_mlp *adj_mlp_new_with(const adj_mlp_config *c, adj_rng *rng, const adj_allocator *a,
                          adj_error *err)
{
    adj_err_clear(err);
    if (check_config(c, err) != ADJ_OK)
        return NULL;
    if (!rng) {
        adj_err_set(err, ADJ_EINVAL, "adj_mlp_new: NULL rng");
        return NULL;
    }
    const adj_allocator *al = a && a->alloc && a->free ? a : &adj_default_allocator;
    adj_mlp *m = al->alloc(al->ctx, sizeof *m);
    if (!m) {
        adj_err_set(err, ADJ_ENOMEM, "adj_mlp_new: out of memory");
        return NULL;
    }
    memset(m, 0, sizeof *m);
    m->al = *al;
    m->cfg = *c;
    m->training = 1;
    m->p = adj_params_new_with(c->dtype, al);
    if (!m->p) {
        adj_mlp_free(m);
        adj_err_set(err, ADJ_ENOMEM, "adj_mlp_new: out of memory");
        return NULL;
    }
    int layers = c->n_sizes - 1;
    for (int k = 0; k < layers; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "layer%d", k);
        if (adj_dense_add(m->p, nm, c->sizes[k], c->sizes[k + 1], 1, &m->dense[k]) != ADJ_OK) {
            adj_err_set(err, adj_params_status(m->p), "adj_mlp_new: %s", adj_params_message(m->p));
            adj_mlp_free(m);
            return NULL;
        }
        if (c->batchnorm && k < layers - 1) {
            snprintf(nm, sizeof nm, "bn%d", k);
            m->bn[k] = adj_batchnorm_new(m->p, nm, c->sizes[k + 1], 0, 0, err);
            if (!m->bn[k]) {
                adj_mlp_free(m);
                return NULL;
            }
        }
    }
    for (int k = 0; k < layers; k++)
        adj_init_tensor(m->p, m->dense[k].weight, c->init, 0.0, rng);
    adj_rng_seed(&m->drop, adj_rng_next(rng));
    return m;
}

void adj_mlp_free(adj_mlp *m)
{
    if (!m)
        return;
    for (int k = 0; k < ADJ_MLP_MAX_LAYERS; k++)
        adj_batchnorm_free(m->bn[k]);
    adj_params_free(m->p);
    size_t n = (size_t)m->cfg.sizes[0] * sizeof(double);
    if (m->shift)
        m->al.free(m->al.ctx, m->shift, n);
    if (m->scale)
        m->al.free(m->al.ctx, m->scale, n);
    adj_allocator al = m->al;
    al.free(al.ctx, m, sizeof *m);
}

const adj_allocator *adj_mlp_allocator(const adj_mlp *m)
{
    return m ? &m->al : &adj_default_allocator;
}

const adj_mlp_config *adj_mlp_get_config(const adj_mlp *m) { return m ? &m->cfg : NULL; }
adj_params *adj_mlp_params(adj_mlp *m) { return m ? m->p : NULL; }
int adj_mlp_layers(const adj_mlp *m) { return m ? m->cfg.n_sizes - 1 : 0; }

const adj_dense *adj_mlp_dense(const adj_mlp *m, int k)
{
    return m && k >= 0 && k < m->cfg.n_sizes - 1 ? &m->dense[k] : NULL;
}

adj_batchnorm *adj_mlp_batchnorm(adj_mlp *m, int k)
{
    return m && k >= 0 && k < ADJ_MLP_MAX_LAYERS ? m->bn[k] : NULL;
}

void adj_mlp_set_training(adj_mlp *m, int training)
{
    if (m)
        m->training = training != 0;
}
int adj_mlp_training(const adj_mlp *m) { return m ? m->training : 0; }

adj_rng *adj_mlp_dropout_rng(adj_mlp *m) { return m ? &m->drop : NULL; }

void adj_mlp_seed_dropout(adj_mlp *m, uint64_t seed)
{
    if (m)
        adj_rng_seed(&m->drop, seed);
}

adj_var *adj_mlp_forward(adj_mlp *m, adj_var *x)
{
    x = adj_h_in(x, "adj_mlp_forward");
    if (!x)
        return NULL;
    adj_tape *t = adj_node_tape(x);
    if (!m) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_mlp_forward: NULL model");
        return adj_h_out(t->inert);
    }
    int layers = m->cfg.n_sizes - 1;
    if (t->status == ADJ_OK && m->cfg.batchnorm && layers > 1 && x->ndim != 2) {
        /* batch norm normalises over rows: name the model's input, not the
         * hidden layer's that would fail later */
        char sh[64];
        adj_fmt_shape(sh, sizeof sh, x->ndim, adj_cold(x)->shape);
        adj_tape_fail(t, ADJ_ESHAPE,
                      "adj_mlp_forward: a model with batch norm needs a 2-D input (batch, %lld), "
                      "not %s; one sample is (1, %lld)",
                      (long long)m->cfg.sizes[0], sh, (long long)m->cfg.sizes[0]);
        return adj_h_out(t->inert);
    }
    adj_var *a = x;
    for (int k = 0; k < layers; k++) {
        a = adj_dense_forward(m->p, &m->dense[k], a);
        if (k == layers - 1) {
            a = adj_activate(a, m->cfg.act[k]);
            break;
        }
        if (m->bn[k])
            a = adj_batchnorm_forward(m->bn[k], m->p, a, m->training);
        a = adj_activate(a, m->cfg.act[k]);
        if (m->cfg.dropout > 0)
            a = adj_dropout(a, m->cfg.dropout, m->training, &m->drop);
    }
    return a;
}

adj_status adj_mlp_predict(adj_mlp *m, adj_tape *t, const void *x, size_t rows, size_t batch,
                           int32_t *pred)
{
    if (!m || !t || (!x && rows) || (!pred && rows)) {
        if (t) {
            adj_tape_reset(t);
            adj_tape_fail(t, ADJ_EINVAL, "adj_mlp_predict: the %s is NULL",
                          !m ? "model" : !x ? "input" : "prediction array");
        }
        return ADJ_EINVAL;
    }
    if (batch == 0)
        batch = 256;
    int was = m->training;
    m->training = 0;
    int64_t in = m->cfg.sizes[0];
    size_t es = adj_dsize(m->cfg.dtype);
    adj_status st = ADJ_OK;
    for (size_t r = 0; r < rows && st == ADJ_OK; r += batch) {
        size_t nb = rows - r < batch ? rows - r : batch;
        int64_t sh[2] = {(int64_t)nb, in};
        adj_tape_reset(t);
        adj_var *xv = adj_leaf_at(t, m->cfg.dtype, 2, sh, (const char *)x + r * (size_t)in * es, 0,
                                  __FILE__, __LINE__);
        adj_var *y = adj_mlp_forward(m, xv);
        st = adj_tape_status(t);
        if (st == ADJ_OK)
            st = adj_argmax_rows(y, pred + r);
    }
    m->training = was;
    return st;
}

adj_status adj_mlp_set_input_transform(adj_mlp *m, const double *shift, const double *scale)
{
    if (!m || !shift || !scale)
        return ADJ_EINVAL;
    size_t n = (size_t)m->cfg.sizes[0];
    if (!m->shift)
        m->shift = m->al.alloc(m->al.ctx, n * sizeof(double));
    if (!m->scale)
        m->scale = m->al.alloc(m->al.ctx, n * sizeof(double));
    if (!m->shift || !m->scale) {
        if (m->shift)
            m->al.free(m->al.ctx, m->shift, n * sizeof(double));
        if (m->scale)
            m->al.free(m->al.ctx, m->scale, n * sizeof(double));
        m->shift = m->scale = NULL;
        return ADJ_ENOMEM;
    }
    memcpy(m->shift, shift, n * sizeof(double));
    memcpy(m->scale, scale, n * sizeof(double));
    return ADJ_OK;
}

int adj_mlp_input_transform(const adj_mlp *m, const double **shift, const double **scale)
{
    if (!m || !m->shift)
        return 0;
    if (shift)
        *shift = m->shift;
    if (scale)
        *scale = m->scale;
    return 1;
}

void adj_mlp_prepare_input(const adj_mlp *m, float *x, size_t rows)
{
    if (!m || !m->shift || !x)
        return;
    size_t n = (size_t)m->cfg.sizes[0];
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++)
            x[r * n + j] = (float)((x[r * n + j] - m->shift[j]) * m->scale[j]);
}
