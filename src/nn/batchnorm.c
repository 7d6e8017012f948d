/*
 * Batch normalisation layer: gamma, beta in the parameter store and the
 * running statistics (doubles) it owns, over the fused op adj_batch_norm:
 *   Y = gamma (X - mu) / sqrt(var + eps) + beta
 * with the batch's mean and population variance (computed in double) when
 * training, the running ones otherwise.  Training moves the running
 * statistics by momentum, with the unbiased variance (n / (n - 1)).
 */
#include "nn/nn_internal.h"
#include "adjoint/norm.h"

#include <math.h>
#include <string.h>

struct adj_batchnorm {
    adj_allocator al;
    int gamma, beta;
    int64_t features;
    double eps, momentum;
    double *running_mean, *running_var;
};

adj_batchnorm *adj_batchnorm_new(adj_params *p, const char *name, int64_t features, double eps,
                                 double momentum, adj_error *err)
{
    adj_err_clear(err);
    if (!p || features < 1 || features > (int64_t)1 << 40) {
        adj_err_set(err, ADJ_EINVAL, "adj_batchnorm_new: %s",
                    p ? "the number of features must be >= 1" : "NULL parameter store");
        return NULL;
    }
    /* momentum > 1 would drive the running variance negative */
    if (!(momentum >= 0 && momentum <= 1)) {
        adj_err_set(err, ADJ_EINVAL, "adj_batchnorm_new: momentum %g is not in [0, 1]", momentum);
        return NULL;
    }
    if (!isfinite(eps)) {
        adj_err_set(err, ADJ_EINVAL, "adj_batchnorm_new: eps %g is not finite", eps);
        return NULL;
    }
    const adj_allocator *al = adj_params_allocator(p);
    adj_batchnorm *bn = al->alloc(al->ctx, sizeof *bn);
    if (!bn) {
        adj_err_set(err, ADJ_ENOMEM, "adj_batchnorm_new: out of memory");
        return NULL;
    }
    memset(bn, 0, sizeof *bn);
    bn->al = *al;
    size_t n = (size_t)features;
    bn->running_mean = al->alloc(al->ctx, n * sizeof(double));
    bn->running_var = al->alloc(al->ctx, n * sizeof(double));
    bn->features = features;
    if (!bn->running_mean || !bn->running_var) {
        adj_batchnorm_free(bn);
        adj_err_set(err, ADJ_ENOMEM, "adj_batchnorm_new: out of memory for %zu features", n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        bn->running_mean[i] = 0.0;
        bn->running_var[i] = 1.0;
    }
    bn->eps = eps > 0 ? eps : 1e-5;
    bn->momentum = momentum > 0 ? momentum : 0.1;
    char nm[64];
    snprintf(nm, sizeof nm, "%s.gamma", name ? name : "bn");
    bn->gamma = adj_params_add(p, nm, 1, &features);
    snprintf(nm, sizeof nm, "%s.beta", name ? name : "bn");
    bn->beta = bn->gamma >= 0 ? adj_params_add(p, nm, 1, &features) : -1;
    if (bn->beta < 0) {
        adj_err_set(err, adj_params_status(p), "adj_batchnorm_new: %s", adj_params_message(p));
        adj_batchnorm_free(bn);
        return NULL;
    }
    adj_init_tensor(p, bn->gamma, ADJ_INIT_CONSTANT, 1.0, NULL);
    return bn;
}

void adj_batchnorm_free(adj_batchnorm *bn)
{
    if (!bn)
        return;
    size_t n = (size_t)bn->features * sizeof(double);
    if (bn->running_mean)
        bn->al.free(bn->al.ctx, bn->running_mean, n);
    if (bn->running_var)
        bn->al.free(bn->al.ctx, bn->running_var, n);
    adj_allocator al = bn->al;
    al.free(al.ctx, bn, sizeof *bn);
}

int64_t adj_batchnorm_features(const adj_batchnorm *bn) { return bn ? bn->features : 0; }
double *adj_batchnorm_running_mean(adj_batchnorm *bn) { return bn ? bn->running_mean : NULL; }
double *adj_batchnorm_running_var(adj_batchnorm *bn) { return bn ? bn->running_var : NULL; }

adj_var *adj_batchnorm_forward(adj_batchnorm *bn, adj_params *p, adj_var *x, int training)
{
    x = adj_h_in(x, "adj_batchnorm_forward");
    if (!x)
        return NULL;
    adj_tape *t = adj_node_tape(x);
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    char sh[64];
    adj_fmt_shape(sh, sizeof sh, x->ndim, adj_cold(x)->shape);
    if (!bn || !p) {
        adj_tape_fail(t, ADJ_EINVAL, "adj_batchnorm_forward: NULL %s; input %s",
                      bn ? "parameter store" : "layer", sh);
        return adj_h_out(t->inert);
    }
    if (x->ndim != 2) {
        adj_tape_fail(t, ADJ_ESHAPE,
                      "adj_batchnorm_forward: the input must be 2-D (batch, %lld features), "
                      "not %s (%d-D)",
                      (long long)bn->features, sh, x->ndim);
        return adj_h_out(t->inert);
    }
    if (adj_cold(x)->shape[1] != bn->features) {
        adj_tape_fail(t, ADJ_ESHAPE,
                      "adj_batchnorm_forward: shape mismatch: input %s has %lld features, "
                      "the layer has %lld features",
                      sh, (long long)adj_cold(x)->shape[1], (long long)bn->features);
        return adj_h_out(t->inert);
    }
    /* one row has no variance: every output would be beta (as PyTorch, refuse) */
    if (training && adj_cold(x)->shape[0] < 2) {
        adj_tape_fail(t, ADJ_ESHAPE,
                      "adj_batchnorm_forward: training needs more than 1 row (value per "
                      "feature) in the batch, got input %s",
                      sh);
        return adj_h_out(t->inert);
    }
    adj_var *gamma = adj_param(t, p, bn->gamma);
    adj_var *beta = adj_param(t, p, bn->beta);
    if (t->status != ADJ_OK)
        return adj_h_out(t->inert);
    /* one fused node; in training it moves the running statistics once
     * (momentum, unbiased variance), in evaluation it normalises with them */
    return adj_batch_norm(x, gamma, beta, bn->running_mean, bn->running_var, training,
                          bn->momentum, bn->eps);
}
