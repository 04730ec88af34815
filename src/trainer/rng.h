/*
 * rng.h - the trainer's random numbers: xoshiro256** seeded through splitmix64.
 *
 * The whole state is four 64-bit words, saved in checkpoints, so a resumed run draws
 * exactly the numbers the uninterrupted run would have drawn.
 */
#ifndef AIOS_TRAINER_RNG_H
#define AIOS_TRAINER_RNG_H

#include <stdint.h>

struct trainer_rng {
	uint64_t s[4];
};

static inline uint64_t trainer_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void trainer_rng_seed(struct trainer_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = trainer_splitmix64(&seed);
}

static inline uint64_t trainer_rng_next(struct trainer_rng *r)
{
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

/* Uniform in [0, 1). */
static inline double trainer_rng_uniform(struct trainer_rng *r)
{
	return (double)(trainer_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0 (multiply-shift; bias below 2^-32 for n < 2^32). */
static inline uint64_t trainer_rng_below(struct trainer_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)trainer_rng_next(r) * n) >> 64);
}

/* Fisher-Yates shuffle of idx[0..n). */
static inline void trainer_rng_shuffle(struct trainer_rng *r, uint32_t *idx, uint64_t n)
{
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = trainer_rng_below(r, i);
		uint32_t t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

#endif
