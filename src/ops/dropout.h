/*
 * Internal: the attributes of the dropout node (ops/dropout.c), recorded
 * by adj_dropout and adj_dropout_mask (nn/layers.c).
 */
#ifndef ADJ_OPS_DROPOUT_H
#define ADJ_OPS_DROPOUT_H

#include <stdint.h>

typedef struct adj_dropout_attr {
    const uint8_t *mask;    /* keep (nonzero) per element: the caller's while
                               recording, then the node's copy in the arena */
    double scale;           /* 1 / keep probability */
} adj_dropout_attr;

#endif
