/*
 * Saving and restoring an optimizer's state (include/adjoint/optim.h):
 * one safetensors tensor per parameter and state block, and the step
 * count in the metadata.
 */
#include "core/error.h"
#include "optim/optim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PyTorch's names of the blocks, in the order of adj_optim's state[]. */
static const char *block_name(adj_optim_kind kind, int k)
{
    static const char *const sgd[] = {"momentum_buffer"};
    static const char *const adam[] = {"exp_avg", "exp_avg_sq"};
    static const char *const rms[] = {"square_avg", "grad_avg", "momentum_buffer"};
    static const char *const ada[] = {"sum"};
    switch (kind) {
    case ADJ_OPTIM_SGD: return sgd[k];
    case ADJ_OPTIM_ADAM:
    case ADJ_OPTIM_ADAMW: return adam[k];
    case ADJ_OPTIM_RMSPROP: return rms[k];
    default: return ada[k];
    }
}

#define PREFIX "optim."

/* "optim.<parameter>.<block>" into buf; 0 if it does not fit. */
static int tensor_name(char *buf, size_t size, const adj_optim *o, int i, int k)
{
    int n = snprintf(buf, size, PREFIX "%s.%s", adj_params_tensor_name(o->p, i),
                     block_name(o->c.kind, k));
    return n > 0 && (size_t)n < size;
}

adj_status adj_optim_state_write(const adj_optim *o, adj_st_writer *w, adj_error *err)
{
    if (!o || !w)
        return adj_err_set(err, ADJ_EINVAL, "adj_optim_state_write: NULL %s",
                           !o ? "optimizer" : "writer");
    adj_st_dtype dt = adj_params_dtype(o->p) == ADJ_F64 ? ADJ_ST_F64 : ADJ_ST_F32;
    char name[512], steps[32];
    for (int k = 0; k < o->nstate; k++)
        for (int i = 0; i < adj_params_count(o->p); i++) {
            if (!tensor_name(name, sizeof name, o, i, k))
                return adj_err_set(err, ADJ_EINVAL,
                                   "adj_optim_state_write: parameter %d's name is too long", i);
            const unsigned char *b = o->state[k];
            adj_status s = adj_st_writer_add(w, name, dt, adj_params_tensor_ndim(o->p, i),
                                             adj_params_tensor_shape(o->p, i),
                                             b + adj_params_offset(o->p, i) * o->es, err);
            if (s != ADJ_OK)
                return s;
        }
    snprintf(steps, sizeof steps, "%lld", (long long)o->t);
    adj_status s = adj_st_writer_meta(w, PREFIX "kind", adj_optim_name(o->c.kind), err);
    if (s == ADJ_OK)
        s = adj_st_writer_meta(w, PREFIX "steps", steps, err);
    return s;
}

/* The free of blocks from o's allocator. */
static void free_blocks(adj_optim *o, void **b, size_t bytes)
{
    for (int k = 0; k < 3; k++)
        if (b[k])
            o->al.free(o->al.ctx, b[k], bytes);
}

adj_status adj_optim_state_read(adj_optim *o, const adj_safetensors *f, const char *path,
                                adj_error *err)
{
    if (!o || !f)
        return adj_err_set(err, ADJ_EINVAL, "adj_optim_state_read: NULL %s",
                           !o ? "optimizer" : "file");
    if (!path)
        path = "the optimizer state";
    const char *kind = adj_st_meta(f, PREFIX "kind"), *steps = adj_st_meta(f, PREFIX "steps");
    if (!kind || !steps)
        return adj_err_set(err, ADJ_EFORMAT,
                           "adj_optim_state_read: %s has no \"" PREFIX "%s\" metadata entry",
                           path, !kind ? "kind" : "steps");
    if (strcmp(kind, adj_optim_name(o->c.kind)) != 0)
        return adj_err_set(err, ADJ_EFORMAT,
                           "adj_optim_state_read: %s holds the state of %s, the optimizer is %s",
                           path, kind, adj_optim_name(o->c.kind));
    char *end = NULL;
    errno = 0;
    long long t = strtoll(steps, &end, 10);
    if (errno || end == steps || *end || t < 0)
        return adj_err_set(err, ADJ_EFORMAT,
                           "adj_optim_state_read: %s: \"" PREFIX "steps\" is \"%s\", not a count",
                           path, steps);
    /* every "optim." tensor must be one of o's */
    int want = o->nstate * adj_params_count(o->p), have = 0;
    for (int i = 0; i < adj_st_count(f); i++)
        have += strncmp(adj_st_tensor_at(f, i)->name, PREFIX, strlen(PREFIX)) == 0;
    if (have != want)
        return adj_err_set(err, ADJ_EFORMAT,
                           "adj_optim_state_read: %s has %d \"" PREFIX "\" tensors, %s over %d "
                           "parameters has %d (%d blocks each)",
                           path, have, kind, adj_params_count(o->p), want, o->nstate);
    adj_dtype dt = adj_params_dtype(o->p);
    size_t bytes = o->n * o->es;
    void *nb[3] = {NULL, NULL, NULL};
    char name[512];
    adj_status s = ADJ_OK;
    for (int k = 0; k < o->nstate && s == ADJ_OK; k++) {
        nb[k] = o->al.alloc(o->al.ctx, bytes);
        if (!nb[k]) {
            s = adj_err_set(err, ADJ_ENOMEM, "adj_optim_state_read: out of memory");
            break;
        }
        memcpy(nb[k], o->state[k], bytes); /* the padding between tensors */
        for (int i = 0; i < adj_params_count(o->p) && s == ADJ_OK; i++) {
            const adj_st_tensor *x = tensor_name(name, sizeof name, o, i, k) ? adj_st_find(f, name) : NULL;
            int nd = adj_params_tensor_ndim(o->p, i);
            const int64_t *shape = adj_params_tensor_shape(o->p, i);
            int same = x && x->ndim == nd && (x->dtype == ADJ_ST_F32 || x->dtype == ADJ_ST_F64);
            for (int d = 0; same && d < nd; d++)
                same = x->shape[d] == shape[d];
            if (!same)
                s = adj_err_set(err, ADJ_EFORMAT,
                                "adj_optim_state_read: %s: tensor \"%s\" is %s (parameter %d has "
                                "%d dims, F32 or F64 wanted)",
                                path, name, !x ? "missing" : "of another shape or dtype", i, nd);
            else
                s = adj_st_convert(x, dt, (unsigned char *)nb[k] + adj_params_offset(o->p, i) * o->es,
                                   err);
        }
    }
    if (s != ADJ_OK) {
        free_blocks(o, nb, bytes);
        return s;
    }
    for (int k = 0; k < o->nstate; k++) {
        memcpy(o->state[k], nb[k], bytes);
    }
    free_blocks(o, nb, bytes);
    o->t = (int64_t)t;
    adj_err_clear(err);
    return ADJ_OK;
}
