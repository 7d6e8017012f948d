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
    int owned;              /* mask is already in this tape's arena, every
                               byte 0 or 1 (drawn by adj_dropout): not copied */
} adj_dropout_attr;

#endif
