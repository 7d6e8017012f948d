/*
 * The seeded generator: xoshiro256** (Blackman and Vigna) with its state
 * filled by splitmix64, Box-Muller normals and rejection sampling for
 * bounded integers.  Pure functions of the caller's state: no globals.
 */
#include "adjoint/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void adj_rng_seed(adj_rng *r, uint64_t seed)
{
    if (!r)
        return;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
    r->spare = 0.0;
    r->has_spare = 0;
}

uint64_t adj_rng_next(adj_rng *r)
{
    if (!r)
        return 0;
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double adj_rng_uniform(adj_rng *r)
{
    if (!r)
        return NAN;
    return (double)(adj_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double adj_rng_uniform_range(adj_rng *r, double lo, double hi)
{
    if (!r)
        return NAN;
    return lo + (hi - lo) * adj_rng_uniform(r);
}

double adj_rng_normal(adj_rng *r)
{
    if (!r)
        return NAN;
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* u1 in (0, 1] so log(u1) is finite */
    double u1 = 1.0 - adj_rng_uniform(r);
    double u2 = adj_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586476925 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

uint64_t adj_rng_below(adj_rng *r, uint64_t n)
{
    if (!r || n == 0)
        return 0;
    /* reject the top partial copy of [0, n) so every value is equally likely */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = adj_rng_next(r);
    } while (x >= limit);
    return x % n;
}

void adj_rng_shuffle(adj_rng *r, size_t *idx, size_t n)
{
    if (!r || !idx)
        return;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)adj_rng_below(r, (uint64_t)i);
        size_t tmp = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = tmp;
    }
}
