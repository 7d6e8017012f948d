/*
 * Filling an adj_error (include/adjoint/core.h): the returned-status side
 * of error reporting, for calls with no tape to keep a sticky error on
 * (creating a model, reading or writing a file).
 */
#ifndef ADJ_CORE_ERROR_H
#define ADJ_CORE_ERROR_H

#include "adjoint/core.h"

/* Set err (if not NULL) to status s with a printf-style message; returns s. */
adj_status adj_err_set(adj_error *err, adj_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* err = OK, "" (if not NULL). */
void adj_err_clear(adj_error *err);

#endif
