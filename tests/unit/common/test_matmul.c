/*
 * test_matmul.c - every matmul variant this CPU runs against the naive reference, over
 * many shapes (1, odd sizes, sizes just off multiples of 16, the benchmark's MLPs, and
 * products large enough for the AVX-512 kernel's packed panels and k blocks); the
 * choice of variant (AIOS_KERNEL); row slices of the transpose.
 *
 * A variant missing from this CPU is named in the test's output, never passed over
 * quietly: the others are still checked.
 *
 * Tolerance. Summed in any order, with or without fused multiply-adds, a float sum of
 * m terms lies within gamma_m * sum |term| of the exact sum, gamma_m = m u / (1 - m u),
 * u = 2^-24 (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., 3.1). The
 * reference and a variant each satisfy it for each element of C (m = k products, plus
 * C's own value when accumulating), so they may differ by twice that; the test allows
 * exactly that bound, computed per element from |a|, |b| and |c|. A slip such as a
 * missed or doubled term, or a lane of the wrong column, is far outside it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/matmul.h"
#include "trainer/rng.h"

#define GUARD     32 /* floats past the end of C that no variant may write */
#define GUARD_VAL 12345.0f

static void fill(float *p, size_t n, uint64_t seed)
{
	struct trainer_rng r;
	trainer_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(trainer_rng_uniform(&r) * 2 - 1);
}

/* Checks every variant on one shape, both with acc = 0 and acc = 1; returns the largest
 * |difference| / bound seen (<= 1 when it passes). */
static double check_shape(int rows, int k, int n, uint64_t seed)
{
	const char *names[4];
	aios_matmul_fn fns[4];
	int nv = aios_matmul_variants(names, fns, 4);
	size_t na = (size_t)rows * k, nb = (size_t)k * n, nc = (size_t)rows * n;
	float *a = malloc((na + 1) * sizeof(float)), *b = malloc((nb + 1) * sizeof(float));
	float *c0 = malloc((nc + 1) * sizeof(float)), *ref = malloc((nc + 1) * sizeof(float));
	float *c = malloc((nc + GUARD) * sizeof(float));
	double *bound = malloc((nc + 1) * sizeof(double));
	fill(a, na, seed);
	fill(b, nb, seed + 1);
	fill(c0, nc, seed + 2);
	/* sum over kk of |a b|: the magnitude the rounding errors scale with */
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < n; j++) {
			double s = 0;
			for (int kk = 0; kk < k; kk++)
				s += fabs((double)a[(size_t)r * k + kk] * b[(size_t)kk * n + j]);
			bound[(size_t)r * n + j] = s;
		}
	const double u = ldexp(1.0, -24);
	double worst = 0;
	for (int acc = 0; acc < 2; acc++) {
		const double m = k + acc, gamma = m * u / (1 - m * u);
		memcpy(ref, c0, nc * sizeof(float));
		aios_matmul_ref(ref, a, b, rows, k, n, acc);
		for (int v = 0; v < nv; v++) {
			memcpy(c, c0, nc * sizeof(float));
			for (int g = 0; g < GUARD; g++)
				c[nc + g] = GUARD_VAL;
			fns[v](c, a, b, rows, k, n, acc);
			for (size_t i = 0; i < nc; i++) {
				double mag = bound[i] + (acc ? fabs((double)c0[i]) : 0);
				double tol = 2 * gamma * mag + 1e-30,
				       d = fabs((double)c[i] - ref[i]);
				ck_assert_msg(
				    d <= tol,
				    "%s, %dx%dx%d acc %d: C[%zu] (row %zu, col %zu) = %.9g, "
				    "reference %.9g, difference %.3g > bound %.3g",
				    names[v], rows, k, n, acc, i, i / (size_t)n, i % (size_t)n,
				    c[i], ref[i], d, tol);
				worst = d / tol > worst ? d / tol : worst;
			}
			for (int g = 0; g < GUARD; g++)
				ck_assert_msg(
				    c[nc + g] == GUARD_VAL,
				    "%s, %dx%dx%d acc %d: wrote %d floats past the end of C",
				    names[v], rows, k, n, acc, g + 1);
		}
	}
	free(a), free(b), free(c0), free(ref), free(c), free(bound);
	return worst;
}

START_TEST(variants_on_this_cpu_are_named)
{
	const char *names[4];
	aios_matmul_fn fns[4];
	int nv = aios_matmul_variants(names, fns, 4);
	printf("test_matmul: matmul variants this CPU runs:");
	for (int v = 0; v < nv; v++)
		printf(" %s", names[v]);
	printf(" (in use: %s)\n", aios_matmul_kernel_name());
	if (!aios_matmul_isa_supported(AIOS_MATMUL_ISA_AVX512))
		printf("test_matmul: NOTE this CPU has no AVX-512F: the avx512 kernel is NOT "
		       "checked here; the variants above are\n");
	if (!aios_matmul_isa_supported(AIOS_MATMUL_ISA_AVX2))
		printf("test_matmul: NOTE this CPU has no AVX2+FMA: the avx2+fma kernel is NOT "
		       "checked here\n");
	fflush(stdout);
	ck_assert_int_ge(nv, 1);
	ck_assert_str_eq(names[nv - 1], "generic");
	ck_assert_int_eq(nv, 1 + aios_matmul_isa_supported(AIOS_MATMUL_ISA_AVX2) +
	                         aios_matmul_isa_supported(AIOS_MATMUL_ISA_AVX512));
}
END_TEST

START_TEST(aios_kernel_picks_a_variant_the_cpu_runs)
{
	const char *names[4];
	aios_matmul_fn fns[4];
	int nv = aios_matmul_variants(names, fns, 4);
	ck_assert_str_eq(aios_matmul_kernel_pick(NULL), names[0]);
	ck_assert_str_eq(aios_matmul_kernel_pick("no-such-kernel"), names[0]);
	for (int v = 0; v < nv; v++)
		ck_assert_str_eq(aios_matmul_kernel_pick(names[v]), names[v]);
	if (!aios_matmul_isa_supported(AIOS_MATMUL_ISA_AVX512))
		ck_assert_str_eq(aios_matmul_kernel_pick("avx512"), names[0]);
	const char *env = getenv("AIOS_KERNEL");
	ck_assert_str_eq(aios_matmul_kernel_name(), aios_matmul_kernel_pick(env));
}
END_TEST

/* Sizes at and around the AVX-512 kernel's boundaries: 1, the 16-float vector, the
 * 64-column panel, its 6/8/12/16-row tiles, and primes. */
static const int edge[] = {1, 2, 3, 5, 6, 7, 12, 13, 15, 16, 17, 31, 33, 47, 48, 63, 64, 65, 97};

START_TEST(matmul_matches_reference_on_edge_shapes)
{
	const int ne = (int)(sizeof(edge) / sizeof(edge[0]));
	double worst = 0;
	int shapes = 0;
	/* every (rows, n) pair of edge sizes, k cycling through them too */
	for (int i = 0; i < ne; i++)
		for (int j = 0; j < ne; j++) {
			int rows = edge[i], n = edge[j], k = edge[(i * 7 + j * 3) % ne];
			double w = check_shape(rows, k, n, 1000 + (uint64_t)shapes);
			worst = w > worst ? w : worst;
			shapes++;
		}
	printf("test_matmul: %d edge shapes, largest difference %.3f of the bound\n", shapes,
	       worst);
}
END_TEST

START_TEST(matmul_matches_reference_on_random_shapes)
{
	struct trainer_rng r;
	trainer_rng_seed(&r, 77);
	double worst = 0;
	for (int s = 0; s < 150; s++) {
		int rows = 1 + (int)(trainer_rng_uniform(&r) * 150);
		int k = 1 + (int)(trainer_rng_uniform(&r) * 200);
		int n = 1 + (int)(trainer_rng_uniform(&r) * 200);
		double w = check_shape(rows, k, n, 5000 + (uint64_t)s);
		worst = w > worst ? w : worst;
	}
	printf("test_matmul: 150 random shapes, largest difference %.3f of the bound\n", worst);
}
END_TEST

/* The products of the benchmark's MLPs (32-64-64-1 at batch 128, 256-512-512-10 at batch
 * 256: forward, weight gradient, input gradient), k = 0, and products past the packed
 * panel's size with k beyond one k block and not a multiple of it. */
START_TEST(matmul_matches_reference_on_large_shapes)
{
	static const int shapes[][3] = {
	    {128, 32, 64},   {64, 128, 32},   {128, 64, 64},   {64, 128, 64},   {128, 64, 1},
	    {1, 128, 64},    {128, 1, 64},    {256, 256, 512}, {512, 256, 256}, {256, 512, 512},
	    {512, 256, 512}, {256, 512, 10},  {10, 256, 512},  {256, 10, 512},  {7, 0, 9},
	    {40, 0, 100},    {300, 700, 130}, {61, 1029, 77},  {200, 300, 1},   {17, 2000, 33}};
	double worst = 0;
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		double w = check_shape(shapes[s][0], shapes[s][1], shapes[s][2], 9000 + s);
		worst = w > worst ? w : worst;
	}
	printf("test_matmul: %zu large shapes, largest difference %.3f of the bound\n",
	       sizeof(shapes) / sizeof(shapes[0]), worst);
}
END_TEST

START_TEST(transpose_rows_make_the_whole)
{
	enum { R = 37, C = 21 };
	float src[R * C], whole[R * C], parts[R * C];
	fill(src, R * C, 3);
	aios_matmul_transpose(whole, src, R, C);
	memset(parts, 0, sizeof(parts));
	static const int cuts[] = {0, 5, 16, 17, 32, R};
	for (int i = 0; i + 1 < (int)(sizeof(cuts) / sizeof(cuts[0])); i++)
		aios_matmul_transpose_rows(parts, src, R, C, cuts[i], cuts[i + 1]);
	ck_assert_int_eq(memcmp(parts, whole, sizeof(whole)), 0);
	for (int r = 0; r < R; r++)
		for (int j = 0; j < C; j++)
			ck_assert_float_eq(whole[j * R + r], src[r * C + j]);
}
END_TEST

static Suite *matmul_suite(void)
{
	Suite *s = suite_create("matmul");
	TCase *tc = tcase_create("kernels");
	tcase_set_timeout(tc, 300); /* the naive reference under the sanitizers */
	tcase_add_test(tc, variants_on_this_cpu_are_named);
	tcase_add_test(tc, aios_kernel_picks_a_variant_the_cpu_runs);
	tcase_add_test(tc, matmul_matches_reference_on_edge_shapes);
	tcase_add_test(tc, matmul_matches_reference_on_random_shapes);
	tcase_add_test(tc, matmul_matches_reference_on_large_shapes);
	tcase_add_test(tc, transpose_rows_make_the_whole);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(matmul_suite)
