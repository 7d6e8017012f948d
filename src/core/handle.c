/*
 * Handles (core/handle.h): the error of a handle kept past adj_tape_reset.
 */
#include "core/handle.h"
#include "core/record.h"

#include <stdio.h>

adj_var *adj_h_stale(adj_var *v, const char *fn, const char *file, int line)
{
    adj_tape *t = adj_node_tape(v);
    adj_tape_fail(t, ADJ_ETAPE,
                  "%s: the var was recorded before adj_tape_reset (its node may hold a newer "
                  "var now: keep no adj_var * across a reset)" AT_FMT,
                  fn, AT_ARGS(file, line));
    return t->inert;
}

bool adj_h_stale_op(const adj_var *h, const char *op, const char *file, int line)
{
    adj_var *v;
    if (!h || adj_h_ok(h, &v))
        return false;
    char fn[64];
    snprintf(fn, sizeof fn, "adj_%s", op);
    (void)adj_h_stale(v, fn, file, line);
    return true;
}
