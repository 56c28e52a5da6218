/* rng.h -- the router's deterministic pseudo-random generator.
 *
 * splitmix64 (Steele, Lea, Flood 2014): a 64-bit counter advanced by the
 * golden-ratio increment, then mixed. One call gives one 64-bit number.
 * The weighted-random strategy draws `rng_next() % total_weight` once per
 * attempt; the reference router in tests/ uses this same header so both
 * consume the same numbers in the same order.
 */
#ifndef CCROUTE_RNG_H
#define CCROUTE_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s;
};

static inline void rng_seed(struct rng *g, uint64_t seed)
{
    g->s = seed;
}

static inline uint64_t rng_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rng_next(struct rng *g)
{
    g->s += 0x9e3779b97f4a7c15ULL;
    return rng_mix(g->s);
}

#endif
