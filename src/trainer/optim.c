/*
 * optim.c - gradient descent, momentum and Adam over flat buffers (see optim.h).
 *
 * Adam, the costliest update (a division and a square root per parameter), has an
 * AVX-512 loop beside the scalar reference, chosen with the matrix kernels
 * (aios_matmul_kernel_isa); the two give the same bits. The others are a multiply-add or two
 * per parameter, which the compiler vectorises well enough.
 */
#include "optim.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "common/matmul.h"

static const char *const names[] = {"gd", "sgd", "momentum", "adam"};

const char *trainer_optim_name(enum trainer_optim_type t)
{
	return (unsigned)t < 4 ? names[t] : "unknown";
}

int trainer_optim_parse(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/*
 * Moments below FLT_MIN are stored as zero. A moment whose gradient has stopped (a dead
 * relu unit) decays geometrically into the subnormal range, and there it sticks: 0.9 x
 * (k x 2^-149) rounds back to k x 2^-149 for k <= 4, so it never reaches zero. Every
 * arithmetic operation on a subnormal costs a microcode assist on x86 (some 100 cycles),
 * which made Adam's step ten times slower than the rest of an MLP's step. A moment that
 * small moves no parameter (lr x 1e-38 / epsilon is below 1e-30). NaN is kept (the
 * divergence checks look for it).
 */
static inline float flush(float x)
{
	return fabsf(x) < FLT_MIN ? 0.0f : x;
}

/* Adam's constants for one step: lr / (1 - b1^t) and 1 / sqrt(1 - b2^t), so the update
 * of an element is p -= s1 m / (sqrt(v) r2 + eps): one division and one square root. */
struct adam_k {
	float b1, nb1, b2, nb2, eps, wd, s1, r2;
};

static struct adam_k adam_constants(const struct trainer_optim *o, int64_t step)
{
	const double c1 = 1.0 - pow(o->beta1, (double)step), c2 = 1.0 - pow(o->beta2, (double)step);
	return (struct adam_k){.b1 = o->beta1,
	                       .nb1 = 1.0f - o->beta1,
	                       .b2 = o->beta2,
	                       .nb2 = 1.0f - o->beta2,
	                       .eps = o->epsilon,
	                       .wd = o->weight_decay,
	                       .s1 = (float)(o->lr / c1),
	                       .r2 = (float)(1.0 / sqrt(c2))};
}

/* The reference: one element at a time, the operations in the order the AVX-512 loop
 * repeats lane by lane (no fused multiply-adds: baseline x86-64 has none), so both give
 * the same bits. */
static void adam_scalar(const struct adam_k *k, float *p, const float *g, float *m1, float *m2,
                        size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float gi = g[i] + k->wd * p[i];
		float m = flush(k->b1 * m1[i] + k->nb1 * gi);
		float v = flush(k->b2 * m2[i] + (k->nb2 * gi) * gi);
		m1[i] = m;
		m2[i] = v;
		p[i] -= (k->s1 * m) / (sqrtf(v) * k->r2 + k->eps);
	}
}

/* Sixteen lanes at a time, the last vector masked. fp-contract=off: each product is
 * rounded before its sum, as in adam_scalar (GCC would otherwise fuse the intrinsics'
 * multiplies and adds). */
__attribute__((target("avx512f"), optimize("fp-contract=off"))) static void
adam_avx512(const struct adam_k *k, float *p, const float *g, float *m1, float *m2, size_t n)
{
	const __m512 b1 = _mm512_set1_ps(k->b1), nb1 = _mm512_set1_ps(k->nb1),
	             b2 = _mm512_set1_ps(k->b2), nb2 = _mm512_set1_ps(k->nb2),
	             eps = _mm512_set1_ps(k->eps), wd = _mm512_set1_ps(k->wd),
	             s1 = _mm512_set1_ps(k->s1), r2 = _mm512_set1_ps(k->r2),
	             tiny = _mm512_set1_ps(FLT_MIN);
	for (size_t i = 0; i < n; i += 16) {
		const __mmask16 lanes =
		    n - i >= 16 ? 0xffff : (__mmask16)(0xffffu >> (16 - (n - i)));
		__m512 pi = _mm512_maskz_loadu_ps(lanes, p + i);
		__m512 gi =
		    _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, g + i), _mm512_mul_ps(wd, pi));
		__m512 m = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_maskz_loadu_ps(lanes, m1 + i)),
		                         _mm512_mul_ps(nb1, gi));
		__m512 v = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_maskz_loadu_ps(lanes, m2 + i)),
		                         _mm512_mul_ps(_mm512_mul_ps(nb2, gi), gi));
		/* flush: keep lanes with |x| not below FLT_MIN, NaN included (unordered) */
		m = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(m), tiny, _CMP_NLT_UQ), m);
		v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(v), tiny, _CMP_NLT_UQ), v);
		__m512 step = _mm512_div_ps(
		    _mm512_mul_ps(s1, m), _mm512_add_ps(_mm512_mul_ps(_mm512_sqrt_ps(v), r2), eps));
		_mm512_mask_storeu_ps(m1 + i, lanes, m);
		_mm512_mask_storeu_ps(m2 + i, lanes, v);
		_mm512_mask_storeu_ps(p + i, lanes, _mm512_sub_ps(pi, step));
	}
}

void trainer_optim_step_isa(enum aios_matmul_isa isa, const struct trainer_optim *o, int64_t step,
                            float *p, const float *g, float *m1, float *m2, size_t n)
{
	const float lr = o->lr, wd = o->weight_decay;
	switch (o->type) {
	case TRAINER_OPT_GD:
	case TRAINER_OPT_SGD:
		for (size_t i = 0; i < n; i++)
			p[i] -= lr * (g[i] + wd * p[i]);
		break;
	case TRAINER_OPT_MOMENTUM: {
		const float mu = o->momentum;
		for (size_t i = 0; i < n; i++) {
			m1[i] = flush(mu * m1[i] + (g[i] + wd * p[i]));
			p[i] -= lr * m1[i];
		}
		break;
	}
	case TRAINER_OPT_ADAM: {
		const struct adam_k k = adam_constants(o, step);
		if (isa == AIOS_MATMUL_ISA_AVX512 && aios_matmul_isa_supported(isa))
			adam_avx512(&k, p, g, m1, m2, n);
		else
			adam_scalar(&k, p, g, m1, m2, n);
		break;
	}
	}
}

void trainer_optim_step(const struct trainer_optim *o, int64_t step, float *p, const float *g,
                        float *m1, float *m2, size_t n)
{
	trainer_optim_step_isa(aios_matmul_kernel_isa(), o, step, p, g, m1, m2, n);
}
