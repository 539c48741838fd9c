/* The modules' random numbers: xoshiro256** seeded through splitmix64 (Blackman and Vigna), chosen
 * because it is small, fast and gives the same stream on every platform, which reproducibility needs. */
#include <string.h>

#include "caf/module.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void caf_random_seed(caf_random *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

void caf_random_seed_for_run(caf_random *r, uint64_t seed, const char *label, caf_exprun run)
{
    /* FNV-1a over the label, then the run, folded with the seed: distinct instances and runs get
     * unrelated streams, and the same inputs always the same one. */
    uint64_t h = 0xCBF29CE484222325ull;
    for (const unsigned char *p = (const unsigned char *)(label ? label : ""); *p; p++)
        h = (h ^ *p) * 0x100000001B3ull;
    uint64_t x = seed ^ h;
    uint64_t mix = splitmix64(&x);
    mix ^= (uint64_t)(uint32_t)run.exp << 32 | (uint32_t)run.run;
    caf_random_seed(r, mix);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t caf_random_next(caf_random *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t caf_random_below(caf_random *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* Rejection sampling: drop the top partial block of 2^64 so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = caf_random_next(r);
    while (x >= limit);
    return x % n;
}

double caf_random_uniform(caf_random *r)
{
    return (double)(caf_random_next(r) >> 11) * 0x1.0p-53;
}
