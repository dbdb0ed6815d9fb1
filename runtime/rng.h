/* Seeded, portable random numbers (PCG32): the same seed gives the same stream everywhere. */
#ifndef SSLC_RNG_H
#define SSLC_RNG_H
#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t state, inc;
} sslc_rng;

static inline uint32_t rng_u32(sslc_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xs = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xs >> rot) | (xs << ((-rot) & 31));
}
static inline void rng_seed(sslc_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    rng_u32(r);
    r->state += seed;
    rng_u32(r);
}
/* uniform in [0, 1) with 53 bits */
static inline double rng_uniform(sslc_rng *r) {
    uint64_t hi = rng_u32(r) >> 5, lo = rng_u32(r) >> 6;
    return ((double)hi * 67108864.0 + (double)lo) / 9007199254740992.0;
}
static inline double rng_normal(sslc_rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
#endif
