/*
 * adjoint/rng.h — an explicit, seeded random number generator.
 *
 * adjoint has no global random state: everything random (initialisers,
 * dropout masks, shuffling) draws from an adj_rng the caller owns.  The
 * generator is xoshiro256** seeded through splitmix64, so a seed gives the
 * same stream on every platform.  The struct is plain data: declare one on
 * the stack, copy it to fork a stream, no _new/_free needed.
 *
 *     adj_rng r;
 *     adj_rng_seed(&r, 42);
 *     double u = adj_rng_uniform(&r);   // [0, 1)
 *     double z = adj_rng_normal(&r);    // N(0, 1)
 *
 * A NULL generator draws nothing: integers are 0, doubles NaN, seeding
 * and shuffling do nothing.
 */
#ifndef ADJOINT_RNG_H
#define ADJOINT_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct adj_rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero */
    double spare;  /* second normal of the last Box-Muller pair */
    int has_spare;
} adj_rng;

/* Reset r to the stream of `seed` (any value, 0 included). */
ADJ_API void adj_rng_seed(adj_rng *r, uint64_t seed);
/* Next 64 random bits. */
ADJ_API uint64_t adj_rng_next(adj_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
ADJ_API double adj_rng_uniform(adj_rng *r);
/* Uniform double in [lo, hi). */
ADJ_API double adj_rng_uniform_range(adj_rng *r, double lo, double hi);
/* Standard normal N(0, 1) (Box-Muller; pairs are cached in r). */
ADJ_API double adj_rng_normal(adj_rng *r);
/* Uniform integer in [0, n) without modulo bias; 0 when n == 0. */
ADJ_API uint64_t adj_rng_below(adj_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n); a NULL idx is left alone. */
ADJ_API void adj_rng_shuffle(adj_rng *r, size_t *idx, size_t n);

#ifdef __cplusplus
}
#endif
#endif
