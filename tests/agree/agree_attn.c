/*
 * Agreement cases of the attention ops: one builder per op
 * name that agree_attn.py sends (see agree.h).
 */
#include "agree.h"

const agree_entry agree_attn_ops[] = {
    {NULL, NULL},
};
