/*
 * Agreement cases of the convolution and pooling ops: one builder per op
 * name that agree_conv.py sends (see agree.h).
 */
#include "agree.h"

const agree_entry agree_conv_ops[] = {
    {NULL, NULL},
};
