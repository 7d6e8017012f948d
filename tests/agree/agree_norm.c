/*
 * Agreement cases of the normalisation and dropout ops: one builder per
 * op name that agree_norm.py sends (see agree.h).
 */
#include "agree.h"

#include <adjoint/norm.h>

static adj_var *layer_norm(agree_ctx *c)
{
    return adj_layer_norm(agree_var(c, "x"), (int)agree_attr(c, "ndim", 1), agree_var(c, "w"),
                          agree_var(c, "b"), agree_attr(c, "eps", 1e-5));
}

static adj_var *rms_norm(agree_ctx *c)
{
    return adj_rms_norm(agree_var(c, "x"), agree_var(c, "w"), agree_attr(c, "eps", 1e-6));
}

static adj_var *group_norm(agree_ctx *c)
{
    return adj_group_norm(agree_var(c, "x"), (int)agree_attr(c, "groups", 1), agree_var(c, "w"),
                          agree_var(c, "b"), agree_attr(c, "eps", 1e-5));
}

/* running_mean and running_var (absent: NULL) are updated in place and
 * printed as extras */
static adj_var *batch_norm(agree_ctx *c)
{
    int64_t shape[ADJ_MAX_DIMS];
    int nd = 0;
    double *rm = agree_data(c, "running_mean", &nd, shape);
    double *rv = agree_data(c, "running_var", NULL, NULL);
    adj_var *y = adj_batch_norm(agree_var(c, "x"), agree_var(c, "w"), agree_var(c, "b"), rm, rv,
                                (int)agree_attr(c, "training", 1), agree_attr(c, "momentum", 0.1),
                                agree_attr(c, "eps", 1e-5));
    if (rm) {
        agree_extra(c, "running_mean", rm, (size_t)shape[0]);
        agree_extra(c, "running_var", rv, (size_t)shape[0]);
    }
    return y;
}

const agree_entry agree_norm_ops[] = {
    {"layer_norm", layer_norm},
    {"rms_norm", rms_norm},
    {"group_norm", group_norm},
    {"batch_norm", batch_norm},
    {NULL, NULL},
};
