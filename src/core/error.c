/* adj_error helpers (core/error.h). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

adj_status adj_err_set(adj_error *err, adj_status s, const char *fmt, ...)
{
    if (err) {
        err->status = s;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return s;
}

void adj_err_clear(adj_error *err)
{
    if (err) {
        err->status = ADJ_OK;
        err->message[0] = '\0';
    }
}
