/* rng.h — the one deterministic random generator (xoshiro256**, seeded by splitmix64). Its state
 * is four words, so checkpoints save it and a resumed run draws the same numbers. No global state:
 * every user owns an SlRng. https://prng.di.unimi.it/ */
#ifndef SL_RNG_H
#define SL_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} SlRng;

static inline uint64_t sl_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void sl_rng_seed(SlRng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = sl_splitmix64(&seed);
}

static inline uint64_t sl_rng_u64(SlRng *r) {
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform in [0, 1) with 24 random bits (exact in float). */
static inline float sl_rng_uniform(SlRng *r) {
    return (float)(sl_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform in [lo, hi). */
static inline float sl_rng_range(SlRng *r, float lo, float hi) {
    return lo + (hi - lo) * sl_rng_uniform(r);
}

/* Uniform integer in [0, n), n > 0. */
static inline int sl_rng_int(SlRng *r, int n) {
    return (int)((sl_rng_u64(r) >> 32) * (uint64_t)n >> 32);
}

/* Standard normal (Box–Muller, no cached second value, so the state is just s). */
static inline float sl_rng_normal(SlRng *r) {
    double u1 = ((double)(sl_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(sl_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* A child generator for stream k (e.g. one per loader thread or per frame), independent of the
 * parent's future draws. */
static inline SlRng sl_rng_fork(const SlRng *r, uint64_t k) {
    SlRng c;
    uint64_t seed = r->s[0] ^ (r->s[1] * 0x9e3779b97f4a7c15ULL) ^ (k * 0xd1b54a32d192ed03ULL);
    sl_rng_seed(&c, seed);
    return c;
}

#endif
