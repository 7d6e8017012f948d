/*
 * The optimizer object, shared by src/optim/optim.c (the updates) and
 * optim_state.c (saving and restoring the state).
 */
#ifndef ADJ_OPTIM_INTERNAL_H
#define ADJ_OPTIM_INTERNAL_H

#include "adjoint/optim.h"

struct adj_optim {
    adj_allocator al;
    adj_params *p;
    adj_optim_config c;
    size_t n;       /* elements covered */
    size_t es;      /* bytes per element: adj_optim_free needs no store */
    int nstate;     /* state blocks */
    void *state[3]; /* moments, accumulators, momentum buffers */
    int64_t t;      /* steps taken */
};

#endif
