/*
 * Internal helpers shared by src/nn and src/io: constant leaves whose
 * values are written after they are recorded (adj_error helpers are in
 * core/error.h).
 */
#ifndef ADJ_NN_INTERNAL_H
#define ADJ_NN_INTERNAL_H

#include "adjoint/nn.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/tape.h"

/* The allocator a model was made with (adj_mlp_new_with); model files
 * use it for their buffers. */
const adj_allocator *adj_mlp_allocator(const adj_mlp *m);
/* The MLP's dropout generator (adj_model_dropout_rng of an "mlp"). */
adj_rng *adj_mlp_dropout_rng(adj_mlp *m);

/* A zero-filled constant leaf of dtype d on t (tape-owned). */
adj_var *adj_nn_const(adj_tape *t, adj_dtype d, int ndim, const int64_t *shape);
/* Element i of a var's value storage, written as double. */
static inline void adj_nn_put(adj_var *v, size_t i, double x)
{
    if (v->dtype == ADJ_F64)
        ((double *)v->value)[i] = x;
    else
        ((float *)v->value)[i] = (float)x;
}

#endif
