/*
 * Agreement cases of the normalisation and dropout ops: one builder per
 * op name that agree_norm.py sends (see agree.h).
 */
#include "agree.h"

const agree_entry agree_norm_ops[] = {
    {NULL, NULL},
};
