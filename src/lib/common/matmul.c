/*
 * matmul.c - matrix product, transpose (see matmul.h).
 *
 * The fast product walks C two rows and 32 columns at a time, keeping the 2 x 32
 * block in eight 8-float accumulators while it streams over k: each step loads 32
 * floats of B once and uses them for both rows. Narrow products (n == 1: a dense
 * layer with one output, the whole of linear regression) become dot products
 * vectorised along k instead. The body is written once (always inlined) and compiled
 * for baseline x86-64 and for AVX2+FMA; the variant is chosen once per process.
 *
 * With AVX-512 (32 registers of 16 floats) the product is a register-blocked micro-kernel
 * in intrinsics: tiles of C up to 6 rows x 64 columns (24 accumulators) stay in
 * registers while k streams by, column remainders take masked loads and stores, and a B
 * too big for L1 is packed into contiguous panels that every row tile reuses (see
 * matmul_avx512). Every variant sums each element of C over k in the same order as the
 * reference loop, except the dot products of n == 1, vectorised along k; they differ
 * from the reference only by rounding (fused multiply-adds, that reordering), which the
 * unit tests bound.
 */
#include "common/matmul.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The vector helpers are always inlined, so the AVX argument-passing ABI never applies. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v8 __attribute__((vector_size(32)));

#define INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------- reference */

void aios_matmul_ref(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < n; j++) {
			float s = acc ? c[(size_t)r * n + j] : 0.0f;
			for (int kk = 0; kk < k; kk++)
				s += a[(size_t)r * k + kk] * b[(size_t)kk * n + j];
			c[(size_t)r * n + j] = s;
		}
}

/* Rows r0..r1 of src (rows, cols) into columns r0..r1 of dst (cols, rows), in blocks of 8
 * rows: each destination row gets 8 contiguous floats per pass, not 1. */
void aios_matmul_transpose_rows(float *restrict dst, const float *restrict src, int rows, int cols,
                                int r0, int r1)
{
	int r = r0;
	for (; r + 8 <= r1; r += 8)
		for (int j = 0; j < cols; j++) {
			float *d = dst + (size_t)j * rows + r;
			const float *s = src + (size_t)r * cols + j;
			for (int k = 0; k < 8; k++)
				d[k] = s[(size_t)k * cols];
		}
	for (; r < r1; r++)
		for (int j = 0; j < cols; j++)
			dst[(size_t)j * rows + r] = src[(size_t)r * cols + j];
}

void aios_matmul_transpose(float *restrict dst, const float *restrict src, int rows, int cols)
{
	aios_matmul_transpose_rows(dst, src, rows, cols, 0, rows);
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

/*
 * Written with intrinsics: masks for the columns past a multiple of 16, and the tile
 * shapes below kept in registers whatever the compiler's unrolling heuristics. Every
 * function here carries the target attribute, so the rest of the build stays baseline
 * x86-64 and runs on CPUs without AVX-512; the dispatch below calls into it only when
 * the CPU (and its OS) has avx512f.
 */
#define AVX512_TARGET __attribute__((target("avx512f")))
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f")))

/* Floats of B packed per panel: KC rows x NR columns, 32 KiB, within L1d (48 KiB here)
 * beside the tile of A and C the micro-kernel touches. */
#define PANEL_FLOATS 8192
/* Rows of the micro-kernel tile by its width in vectors (index NV = 1..4): MR x NV
 * accumulators + NV vectors of B + one broadcast of A within the 32 zmm registers, and
 * at least 16 accumulators (two FMA ports x 4 cycles of latency, twice over) so that
 * every FMA of a step of k is independent of the others in flight. */
#define MR_MAX 16
static const int tile_rows[5] = {0, 16, 12, 8, 6};

/* Lanes 0..w-1 of a vector (w in 1..16). */
AVX512_INLINE __mmask16 lanes(int w)
{
	return (__mmask16)(0xffffu >> (16 - w));
}

/*
 * The micro-kernel: C[0..MR, 0..16 NV) (+)= A[0..MR, 0..k) . B[0..k, 0..16 NV), row
 * strides ldc, lda, ldb (floats); the last vector of each row of B and C holds `last`
 * lanes. MR and NV are constants after inlining: the MR x NV tile of C stays in zmm
 * registers while k streams by, each step loading NV vectors of B and broadcasting MR
 * floats of A, each loaded value feeding MR (or NV) FMAs. Each element of C is summed
 * over k in the reference's order, one fused multiply-add per term.
 */
AVX512_INLINE void micro(float *c, size_t ldc, const float *a, size_t lda, const float *b,
                         size_t ldb, int k, __mmask16 last, int acc, int MR, int NV)
{
	__m512 s[MR_MAX][4];
#pragma GCC unroll 16
	for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
		for (int v = 0; v < NV; v++)
			s[i][v] = acc ? _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff,
			                                      c + i * ldc + 16 * v)
			              : _mm512_setzero_ps();
	for (int kk = 0; kk < k; kk++) {
		__m512 bv[4];
		const float *bk = b + kk * ldb;
#pragma GCC unroll 4
		for (int v = 0; v < NV; v++)
			bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, bk + 16 * v)
			                    : _mm512_loadu_ps(bk + 16 * v);
#pragma GCC unroll 16
		for (int i = 0; i < MR; i++) {
			__m512 av = _mm512_set1_ps(a[i * lda + kk]);
#pragma GCC unroll 4
			for (int v = 0; v < NV; v++)
				s[i][v] = _mm512_fmadd_ps(av, bv[v], s[i][v]);
		}
	}
#pragma GCC unroll 16
	for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
		for (int v = 0; v < NV; v++)
			_mm512_mask_storeu_ps(c + i * ldc + 16 * v, v == NV - 1 ? last : 0xffff,
			                      s[i][v]);
}

/* One instance of the micro-kernel per tile shape: NV = 1..4 vectors wide, every row
 * count up to tile_rows[NV] (the full tile and the shorter ones of the last rows). */
typedef void (*micro_fn)(float *c, size_t ldc, const float *a, size_t lda, const float *b,
                         size_t ldb, int k, __mmask16 last, int acc);
#define MICRO(MR, NV)                                                                              \
	AVX512_TARGET static void micro_##MR##x##NV(float *c, size_t ldc, const float *a,          \
	                                            size_t lda, const float *b, size_t ldb, int k, \
	                                            __mmask16 last, int acc)                       \
	{                                                                                          \
		micro(c, ldc, a, lda, b, ldb, k, last, acc, MR, NV);                               \
	}
#define ROWS_6(X, NV)  X(1, NV) X(2, NV) X(3, NV) X(4, NV) X(5, NV) X(6, NV)
#define ROWS_8(X, NV)  ROWS_6(X, NV) X(7, NV) X(8, NV)
#define ROWS_12(X, NV) ROWS_8(X, NV) X(9, NV) X(10, NV) X(11, NV) X(12, NV)
#define ROWS_16(X, NV) ROWS_12(X, NV) X(13, NV) X(14, NV) X(15, NV) X(16, NV)
ROWS_16(MICRO, 1)
ROWS_12(MICRO, 2)
ROWS_8(MICRO, 3)
ROWS_6(MICRO, 4)
#define ENTRY(MR, NV) [MR] = micro_##MR##x##NV,
static const micro_fn micro_tab[5][MR_MAX + 1] = {
    [1] = {ROWS_16(ENTRY, 1)},
    [2] = {ROWS_12(ENTRY, 2)},
    [3] = {ROWS_8(ENTRY, 3)},
    [4] = {ROWS_6(ENTRY, 4)},
};

/* p (kc, 16 nv) = B[0..kc, 0..w) with zero columns past w: the panel the micro-kernel
 * then reads contiguously, whatever B's row stride. */
AVX512_INLINE void pack_panel(float *restrict p, const float *restrict b, size_t ldb, int kc,
                              int nv, int w)
{
	for (int kk = 0; kk < kc; kk++)
		for (int v = 0; v < nv; v++) {
			int left = w - 16 * v;
			__mmask16 m = left >= 16 ? 0xffff : lanes(left);
			_mm512_storeu_ps(p + (size_t)(kk * nv + v) * 16,
			                 _mm512_maskz_loadu_ps(m, b + kk * ldb + 16 * v));
		}
}

/* n == 1: c[r] (+)= a[r, :] . b, vectorised along k (two accumulators, a masked tail). */
AVX512_INLINE void dots16(float *c, const float *a, const float *b, int rows, int k, int acc)
{
	for (int r = 0; r < rows; r++) {
		const float *ar = a + (size_t)r * k;
		__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
		int kk = 0;
		for (; kk + 32 <= k; kk += 32) {
			s0 = _mm512_fmadd_ps(_mm512_loadu_ps(ar + kk), _mm512_loadu_ps(b + kk), s0);
			s1 = _mm512_fmadd_ps(_mm512_loadu_ps(ar + kk + 16),
			                     _mm512_loadu_ps(b + kk + 16), s1);
		}
		for (; kk < k; kk += 16) {
			__mmask16 m = k - kk >= 16 ? 0xffff : lanes(k - kk);
			s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, ar + kk),
			                     _mm512_maskz_loadu_ps(m, b + kk), s0);
		}
		float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
		c[r] = acc ? c[r] + s : s;
	}
}

/*
 * C is cut into column panels of up to 64 (4 vectors; the last panel narrower, its last
 * vector masked), each swept by tiles of tile_rows[nv] rows. When B is bigger than
 * PANEL_FLOATS (it would not stay in L1, and a long row stride such as 512 floats maps
 * its rows onto a few cache sets) and more than one row tile will read it, each panel is
 * copied into a contiguous (kc, 16 nv) buffer kc rows of k at a time, and every row tile
 * reuses it from L1; C takes the kc blocks in order, so the sum over k keeps the
 * reference's order.
 */
AVX512_TARGET static void matmul_avx512(float *c, const float *a, const float *b, int rows, int k,
                                        int n, int acc)
{
	if (n == 1) {
		dots16(c, a, b, rows, k, acc);
		return;
	}
	float panel[PANEL_FLOATS] __attribute__((aligned(64)));
	const int pack = rows > 16 && (size_t)k * n > PANEL_FLOATS;
	for (int j0 = 0; j0 < n; j0 += 64) {
		const int w = n - j0 < 64 ? n - j0 : 64, nv = (w + 15) / 16;
		const int mr = tile_rows[nv];
		const __mmask16 last = lanes(w - 16 * (nv - 1));
		const int kc = pack ? PANEL_FLOATS / (16 * nv) : (k > 0 ? k : 1);
		int k0 = 0;
		do { /* at least once: k == 0 still writes C (zeros, or C unchanged) */
			const int kb = k - k0 < kc ? k - k0 : kc;
			const float *bp = b + (size_t)k0 * n + j0;
			size_t ldb = (size_t)n;
			if (pack) {
				pack_panel(panel, bp, ldb, kb, nv, w);
				bp = panel;
				ldb = (size_t)16 * nv;
			}
			for (int r = 0; r < rows; r += mr) {
				const int m = rows - r < mr ? rows - r : mr;
				micro_tab[nv][m](c + (size_t)r * n + j0, (size_t)n,
				                 a + (size_t)r * k + k0, (size_t)k, bp, ldb, kb,
				                 last, acc || k0 > 0);
			}
			k0 += kb;
		} while (k0 < k);
	}
}

/* ---------------------------------------------------------------- variants, dispatch */

void aios_matmul_generic(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	matmul_body(c, a, b, rows, k, n, acc);
}

__attribute__((target("avx2,fma"))) static void
matmul_avx2(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	matmul_body(c, a, b, rows, k, n, acc);
}

static const struct variant {
	const char *name;
	enum aios_matmul_isa isa;
	aios_matmul_fn fn;
} variants[] = {
    /* the preferred first */
    {"avx512", AIOS_MATMUL_ISA_AVX512, matmul_avx512},
    {"avx2+fma", AIOS_MATMUL_ISA_AVX2, matmul_avx2},
    {"generic", AIOS_MATMUL_ISA_GENERIC, aios_matmul_generic},
};
#define N_VARIANTS ((int)(sizeof(variants) / sizeof(variants[0])))

static const struct variant *chosen;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

int aios_matmul_isa_supported(enum aios_matmul_isa isa)
{
	__builtin_cpu_init();
	switch (isa) {
	case AIOS_MATMUL_ISA_AVX512: return !!__builtin_cpu_supports("avx512f");
	case AIOS_MATMUL_ISA_AVX2:
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	case AIOS_MATMUL_ISA_GENERIC: return 1;
	}
	return 0;
}

/* Every variant this CPU runs, the preferred first. */
int aios_matmul_variants(const char **names, aios_matmul_fn *fns, int max)
{
	int n = 0;
	for (int i = 0; i < N_VARIANTS && n < max; i++)
		if (aios_matmul_isa_supported(variants[i].isa)) {
			names[n] = variants[i].name;
			fns[n++] = variants[i].fn;
		}
	return n;
}

static const struct variant *pick(const char *want)
{
	const struct variant *best = NULL;
	for (int i = 0; i < N_VARIANTS; i++) {
		if (!aios_matmul_isa_supported(variants[i].isa))
			continue;
		if (want && !strcmp(want, variants[i].name))
			return &variants[i];
		if (!best)
			best = &variants[i];
	}
	return best;
}

const char *aios_matmul_kernel_pick(const char *want)
{
	return pick(want)->name;
}

/* The preferred variant, unless AIOS_KERNEL names another this CPU runs (tests and
 * benchmarks compare them). */
static void choose(void)
{
	chosen = pick(getenv("AIOS_KERNEL"));
}

void aios_matmul(float *c, const float *a, const float *b, int rows, int k, int n, int acc)
{
	pthread_once(&choose_once, choose);
	chosen->fn(c, a, b, rows, k, n, acc);
}

const char *aios_matmul_kernel_name(void)
{
	pthread_once(&choose_once, choose);
	return chosen->name;
}

enum aios_matmul_isa aios_matmul_kernel_isa(void)
{
	pthread_once(&choose_once, choose);
	return chosen->isa;
}
