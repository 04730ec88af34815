/*
 * kernels.c - matrix product, transpose (see kernels.h).
 *
 * The fast product walks C two rows and 32 columns at a time, keeping the 2 x 32
 * block in eight 8-float accumulators while it streams over k: each step loads 32
 * floats of B once and uses them for both rows. Narrow products (n == 1: a dense
 * layer with one output, the whole of linear regression) become dot products
 * vectorised along k instead. The body is written once (always inlined) and compiled
 * for baseline x86-64 and for AVX2+FMA; the variant is chosen once per process.
 *
 * With AVX-512 (32 registers of 16 floats) a wider body walks C four rows and 64
 * columns at a time: sixteen 16-float accumulators, four loads of B and four
 * broadcasts of A per step of k, so each loaded value feeds four FMAs. Every variant
 * sums each element of C over k in the same order as the reference loop; they differ
 * only by rounding (fused multiply-adds), which the unit tests bound.
 */
#include "kernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The vector helpers are always inlined, so the AVX argument-passing ABI never applies. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------- reference */

void trainer_matmul_ref(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < n; j++) {
			float s = acc ? c[(size_t)r * n + j] : 0.0f;
			for (int kk = 0; kk < k; kk++)
				s += a[(size_t)r * k + kk] * b[(size_t)kk * n + j];
			c[(size_t)r * n + j] = s;
		}
}

/* Blocks of 8 rows: each destination row gets 8 contiguous floats per pass, not 1. */
void trainer_transpose(float *restrict dst, const float *restrict src, int rows, int cols)
{
	int r0 = 0;
	for (; r0 + 8 <= rows; r0 += 8)
		for (int j = 0; j < cols; j++) {
			float *d = dst + (size_t)j * rows + r0;
			const float *s = src + (size_t)r0 * cols + j;
			for (int k = 0; k < 8; k++)
				d[k] = s[(size_t)k * cols];
		}
	for (int r = r0; r < rows; r++)
		for (int j = 0; j < cols; j++)
			dst[(size_t)j * rows + r] = src[(size_t)r * cols + j];
}

/* ---------------------------------------------------------------- fast kernel body */

INLINE v8 ld(const float *p)
{
	v8 v;
	memcpy(&v, p, sizeof(v));
	return v;
}

INLINE void st(float *p, v8 v)
{
	memcpy(p, &v, sizeof(v));
}

INLINE float hsum(v8 v)
{
	return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* C[r..r+R, j..j+8V) (+)= A[r..r+R, :] . B[:, j..j+8V); R <= 2, V <= 4, both constants. */
INLINE void strip(float *c, const float *a, const float *b, int r, int R, int j, int V, int k,
                  int n, int acc)
{
	v8 s[2][4];
	for (int i = 0; i < R; i++)
		for (int v = 0; v < V; v++)
			s[i][v] = acc ? ld(c + (size_t)(r + i) * n + j + 8 * v) : (v8){0};
	for (int kk = 0; kk < k; kk++) {
		v8 bv[4];
		for (int v = 0; v < V; v++)
			bv[v] = ld(b + (size_t)kk * n + j + 8 * v);
		for (int i = 0; i < R; i++) {
			float av = a[(size_t)(r + i) * k + kk];
			for (int v = 0; v < V; v++)
				s[i][v] += av * bv[v];
		}
	}
	for (int i = 0; i < R; i++)
		for (int v = 0; v < V; v++)
			st(c + (size_t)(r + i) * n + j + 8 * v, s[i][v]);
}

/* Every column of rows r..r+R. */
INLINE void row_block(float *c, const float *a, const float *b, int r, int R, int k, int n, int acc)
{
	int j = 0;
	for (; j + 32 <= n; j += 32)
		strip(c, a, b, r, R, j, 4, k, n, acc);
	for (; j + 8 <= n; j += 8)
		strip(c, a, b, r, R, j, 1, k, n, acc);
	for (; j < n; j++)
		for (int i = 0; i < R; i++) {
			float s = acc ? c[(size_t)(r + i) * n + j] : 0.0f;
			for (int kk = 0; kk < k; kk++)
				s += a[(size_t)(r + i) * k + kk] * b[(size_t)kk * n + j];
			c[(size_t)(r + i) * n + j] = s;
		}
}

/* n == 1: c[r] (+)= a[r, :] . b, vectorised along k. */
INLINE void dots(float *c, const float *a, const float *b, int rows, int k, int acc)
{
	for (int r = 0; r < rows; r++) {
		const float *ar = a + (size_t)r * k;
		v8 s0 = {0}, s1 = {0};
		int kk = 0;
		for (; kk + 16 <= k; kk += 16) {
			s0 += ld(ar + kk) * ld(b + kk);
			s1 += ld(ar + kk + 8) * ld(b + kk + 8);
		}
		for (; kk + 8 <= k; kk += 8)
			s0 += ld(ar + kk) * ld(b + kk);
		float s = hsum(s0 + s1);
		for (; kk < k; kk++)
			s += ar[kk] * b[kk];
		c[r] = acc ? c[r] + s : s;
	}
}

INLINE void matmul_body(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	if (n == 1) {
		dots(c, a, b, rows, k, acc);
		return;
	}
	int r = 0;
	for (; r + 2 <= rows; r += 2)
		row_block(c, a, b, r, 2, k, n, acc);
	if (r < rows)
		row_block(c, a, b, r, 1, k, n, acc);
}

/* ---------------------------------------------------------------- AVX-512 body */

INLINE v16 ld16(const float *p)
{
	v16 v;
	memcpy(&v, p, sizeof(v));
	return v;
}

INLINE void st16(float *p, v16 v)
{
	memcpy(p, &v, sizeof(v));
}

/* C[r..r+R, j..j+16V) (+)= A[r..r+R, :] . B[:, j..j+16V); R <= 4, V <= 4, both constants:
 * at most 16 accumulators, 4 B vectors and a broadcast, within AVX-512's 32 registers. */
INLINE void strip16(float *c, const float *a, const float *b, int r, int R, int j, int V, int k,
                    int n, int acc)
{
	v16 s[4][4];
	for (int i = 0; i < R; i++)
		for (int v = 0; v < V; v++)
			s[i][v] = acc ? ld16(c + (size_t)(r + i) * n + j + 16 * v) : (v16){0};
	for (int kk = 0; kk < k; kk++) {
		v16 bv[4];
		for (int v = 0; v < V; v++)
			bv[v] = ld16(b + (size_t)kk * n + j + 16 * v);
		for (int i = 0; i < R; i++) {
			float av = a[(size_t)(r + i) * k + kk];
			for (int v = 0; v < V; v++)
				s[i][v] += av * bv[v];
		}
	}
	for (int i = 0; i < R; i++)
		for (int v = 0; v < V; v++)
			st16(c + (size_t)(r + i) * n + j + 16 * v, s[i][v]);
}

/* Every column of rows r..r+R (R <= 4): 64-wide strips, then 16-wide, then the 8-wide and
 * scalar tail of the narrower body (two rows at a time). */
INLINE void row_block16(float *c, const float *a, const float *b, int r, int R, int k, int n,
                        int acc)
{
	int j = 0;
	for (; j + 64 <= n; j += 64)
		strip16(c, a, b, r, R, j, 4, k, n, acc);
	for (; j + 16 <= n; j += 16)
		strip16(c, a, b, r, R, j, 1, k, n, acc);
	if (j == n)
		return;
	for (int i = 0; i < R; i += 2) { /* the last < 16 columns */
		int rr = R - i >= 2 ? 2 : 1;
		for (int jj = j; jj + 8 <= n; jj += 8)
			strip(c, a, b, r + i, rr, jj, 1, k, n, acc);
		for (int jj = j + (n - j) / 8 * 8; jj < n; jj++)
			for (int q = 0; q < rr; q++) {
				float s = acc ? c[(size_t)(r + i + q) * n + jj] : 0.0f;
				for (int kk = 0; kk < k; kk++)
					s += a[(size_t)(r + i + q) * k + kk] *
					     b[(size_t)kk * n + jj];
				c[(size_t)(r + i + q) * n + jj] = s;
			}
	}
}

INLINE void matmul_body16(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	if (n == 1) {
		dots(c, a, b, rows, k, acc);
		return;
	}
	int r = 0;
	for (; r + 4 <= rows; r += 4)
		row_block16(c, a, b, r, 4, k, n, acc);
	for (; r + 2 <= rows; r += 2)
		row_block16(c, a, b, r, 2, k, n, acc);
	if (r < rows)
		row_block16(c, a, b, r, 1, k, n, acc);
}

/* ---------------------------------------------------------------- variants, dispatch */

void trainer_matmul_generic(float *c, const float *a, const float *b, int rows, int k, int n,
                            int acc)
{
	matmul_body(c, a, b, rows, k, n, acc);
}

__attribute__((target("avx2,fma"))) static void
matmul_avx2(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	matmul_body(c, a, b, rows, k, n, acc);
}

__attribute__((target("avx512f,avx512vl,avx2,fma"))) static void
matmul_avx512(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	matmul_body16(c, a, b, rows, k, n, acc);
}

static trainer_matmul_fn chosen;
static const char *chosen_name;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

/* Every variant this CPU runs, the preferred first. */
int trainer_matmul_variants(const char **names, trainer_matmul_fn *fns, int max)
{
	int n = 0;
	__builtin_cpu_init();
	if (n < max && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) {
		names[n] = "avx512";
		fns[n++] = matmul_avx512;
	}
	if (n < max && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		names[n] = "avx2+fma";
		fns[n++] = matmul_avx2;
	}
	if (n < max) {
		names[n] = "generic";
		fns[n++] = trainer_matmul_generic;
	}
	return n;
}

/* The preferred variant, unless AIOS_KERNEL names another this CPU runs (benchmarks
 * compare them in one run). */
static void choose(void)
{
	const char *names[3];
	trainer_matmul_fn fns[3];
	int n = trainer_matmul_variants(names, fns, 3);
	chosen = fns[0];
	chosen_name = names[0];
	const char *want = getenv("AIOS_KERNEL");
	for (int i = 0; want && i < n; i++)
		if (strcmp(want, names[i]) == 0) {
			chosen = fns[i];
			chosen_name = names[i];
		}
}

void trainer_matmul(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	pthread_once(&choose_once, choose);
	chosen(c, a, b, rows, k, n, acc);
}

const char *trainer_kernel_name(void)
{
	pthread_once(&choose_once, choose);
	return chosen_name;
}
