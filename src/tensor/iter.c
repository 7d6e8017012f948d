/*
 * The N-d iterator (see iter.h).
 */
#include "tensor/iter.h"

#include <stdbool.h>
#include <string.h>

void adj_iter_init(adj_iter *it, int ndim, const int64_t *shape, int nops,
                   const int64_t *const *strides)
{
    memset(it, 0, sizeof *it);
    it->nops = nops;
    int64_t sh[ADJ_MAX_DIMS], st[ADJ_ITER_MAX_OPS][ADJ_MAX_DIMS];
    int n = 0;
    for (int k = 0; k < ndim; k++) {
        if (shape[k] == 0) {
            it->runs = 0;
            it->inner = 0;
            return;
        }
        if (shape[k] == 1)
            continue;
        /* merge into the previous kept dimension when every operand steps
         * through the pair as through one dimension */
        bool merge = n > 0;
        for (int o = 0; merge && o < nops; o++)
            merge = st[o][n - 1] == strides[o][k] * shape[k];
        if (merge) {
            sh[n - 1] *= shape[k];
            for (int o = 0; o < nops; o++)
                st[o][n - 1] = strides[o][k];
        } else {
            sh[n] = shape[k];
            for (int o = 0; o < nops; o++)
                st[o][n] = strides[o][k];
            n++;
        }
    }
    if (n == 0) {
        /* one element */
        it->inner = 1;
        it->runs = 1;
        return;
    }
    it->inner = sh[n - 1];
    for (int o = 0; o < nops; o++)
        it->istride[o] = st[o][n - 1];
    it->ndim = n - 1;
    it->runs = 1;
    for (int k = 0; k < n - 1; k++) {
        it->shape[k] = sh[k];
        it->runs *= sh[k];
        for (int o = 0; o < nops; o++)
            it->stride[o][k] = st[o][k];
    }
}

void adj_iter_seek(const adj_iter *it, int64_t r, adj_iter_pos *p)
{
    memset(p, 0, sizeof *p);
    for (int k = it->ndim - 1; k >= 0; k--) {
        int64_t i = r % it->shape[k];
        r /= it->shape[k];
        p->idx[k] = i;
        for (int o = 0; o < it->nops; o++)
            p->off[o] += i * it->stride[o][k];
    }
}
