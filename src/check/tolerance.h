/*
 * How far an element of a gradient check is past its tolerance: the
 * verdict (adj_within_tol) and the choice of each input's worst element
 * (adj_tol_ratio) use one rule.
 */
#ifndef ADJ_CHECK_TOLERANCE_H
#define ADJ_CHECK_TOLERANCE_H

#include <math.h>
#include <stdbool.h>

/* |analytic - numeric| = err within tol; a NaN or infinite error never is
 * (an infinite numeric difference makes tol infinite too) */
static inline bool adj_within_tol(double err, double tol)
{
    return isfinite(err) && err <= tol;
}

/* err / tol: <= 1 within tolerance.  An exact match under a zero
 * tolerance is 0, any other error under it INFINITY, and a NaN or
 * infinite error INFINITY. */
static inline double adj_tol_ratio(double err, double tol)
{
    if (!isfinite(err))
        return INFINITY;
    if (err <= tol)
        return tol > 0 ? err / tol : 0.0;
    return tol > 0 ? err / tol : INFINITY;
}

#endif
