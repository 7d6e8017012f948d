/*
 * How far an element is past its tolerance: the figure a gradient check's
 * verdict tests and reports (adj_gradcheck_report.max_tol_ratio).
 */
#ifndef ADJ_CHECK_TOLERANCE_H
#define ADJ_CHECK_TOLERANCE_H

#include <math.h>

/* err / tol: <= 1 within tolerance.  An exact match under a zero
 * tolerance is 0, any error under it INFINITY, and a NaN error INFINITY. */
static inline double adj_tol_ratio(double err, double tol)
{
    if (isnan(err))
        return INFINITY;
    if (err <= tol)
        return tol > 0 ? err / tol : 0.0;
    return tol > 0 ? err / tol : INFINITY;
}

#endif
