/*
 * bench_trainer.c - helpers of bench/trainer/run.sh: generates the benchmark's datasets
 * (the same bytes feed aios-trainer and PyTorch) and measures this machine's memory
 * bandwidth, so the linear-regression figure can be put against it.
 *
 *   bench_trainer gen linear|mlp ROWS COLS OUT.f32    synthetic regression data
 *   bench_trainer bandwidth [MiB]                     read and copy GB/s, one thread
 *   bench_trainer gemm                                GFLOP/s of every matmul kernel
 *                                                     variant this CPU runs, one thread,
 *                                                     on the products of the benchmark's
 *                                                     MLPs (forward and both backward)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "trainer/data.h"
#include "trainer/kernels.h"
#include "trainer/rng.h"

static float gauss(struct trainer_rng *r)
{
	double u = trainer_rng_uniform(r), v = trainer_rng_uniform(r);
	return (float)(sqrt(-2.0 * log(1.0 - u)) * cos(2 * M_PI * v));
}

static int gen(const char *kind, long rows, int cols, const char *out)
{
	struct trainer_rng r;
	trainer_rng_seed(&r, 2024);
	struct trainer_dataset d = {.rows = rows, .cols = cols, .tcols = 1};
	d.x = malloc((size_t)rows * cols * sizeof(float));
	d.t = malloc((size_t)rows * sizeof(float));
	float *w = malloc((size_t)cols * sizeof(float));
	for (int j = 0; j < cols; j++)
		w[j] = gauss(&r) / sqrtf((float)cols);
	int mlp = !strcmp(kind, "mlp");
	for (long i = 0; i < rows; i++) {
		double y = 0.3;
		for (int j = 0; j < cols; j++)
			y += w[j] * (d.x[i * cols + j] = gauss(&r));
		d.t[i] = (float)(mlp ? sin(2 * y) + 0.1 * y * y : y) + 0.01f * gauss(&r);
	}
	free(w);
	enum aios_err e = trainer_write_f32(out, &d);
	trainer_dataset_cleanup(&d);
	if (e) {
		fprintf(stderr, "bench_trainer: %s\n", aios_errmsg());
		return 1;
	}
	return 0;
}

#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v8 __attribute__((vector_size(32)));

/* Best of several passes: read (sum) and copy (memcpy) bandwidth in GB/s. */
static int bandwidth(size_t mib)
{
	size_t n = mib << 20 >> 2; /* floats */
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		a[i] = (float)(i & 1023), b[i] = 0;
	double best_read = 0, best_copy = 0, sink = 0;
	for (int pass = 0; pass < 5; pass++) {
		double t0 = aios_now_s();
		v8 s0 = {0}, s1 = {0};
		for (size_t i = 0; i + 16 <= n; i += 16) {
			v8 x, y;
			memcpy(&x, a + i, sizeof(x));
			memcpy(&y, a + i + 8, sizeof(y));
			s0 += x;
			s1 += y;
		}
		double t1 = aios_now_s();
		for (int k = 0; k < 8; k++)
			sink += s0[k] + s1[k];
		memcpy(b, a, n * sizeof(float));
		double t2 = aios_now_s();
		sink += b[n / 2];
		double r = (double)n * 4 / (t1 - t0) / 1e9,
		       c = 2.0 * (double)n * 4 / (t2 - t1) / 1e9;
		best_read = r > best_read ? r : best_read;
		best_copy = c > best_copy ? c : best_copy;
	}
	printf("{\"read_gbps\":%.2f,\"copy_gbps\":%.2f,\"mib\":%zu,\"sink\":%g}\n", best_read,
	       best_copy, mib, sink > 0 ? 1.0 : 0.0);
	free(a);
	free(b);
	return 0;
}

/* Best of 5 timed passes of enough products (rows x k x n) to take ~50 ms each. */
static double gflops(trainer_matmul_fn f, int rows, int k, int n)
{
	float *a = malloc((size_t)rows * k * sizeof(float)),
	      *b = malloc((size_t)k * n * sizeof(float)),
	      *c = malloc((size_t)rows * n * sizeof(float));
	for (size_t i = 0; i < (size_t)rows * k; i++)
		a[i] = (float)((i * 7) % 13) / 13.0f;
	for (size_t i = 0; i < (size_t)k * n; i++)
		b[i] = (float)((i * 5) % 11) / 11.0f;
	double flop = 2.0 * rows * k * n, best = 0;
	long reps = (long)(2e8 / flop) + 1;
	for (int pass = 0; pass < 5; pass++) {
		double t0 = aios_now_s();
		for (long r = 0; r < reps; r++)
			f(c, a, b, rows, k, n, 0);
		double g = flop * reps / (aios_now_s() - t0) / 1e9;
		best = g > best ? g : best;
	}
	free(a), free(b), free(c);
	return best;
}

static int gemm(void)
{
	/* {rows, k, n}: MLP 32-64-64-1 at batch 128 (y = x W^T; dW = dy^T x; dx = dy W) and the
	 * wide MLP 256-512-512-10 at batch 256 */
	static const int shapes[][3] = {{128, 32, 64},   {64, 128, 32},   {128, 64, 64},
	                                {128, 64, 32},   {256, 256, 512}, {512, 256, 256},
	                                {256, 512, 512}, {256, 512, 10}};
	const char *names[3];
	trainer_matmul_fn fns[3];
	int nv = trainer_matmul_variants(names, fns, 3);
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		printf("{\"rows\":%d,\"k\":%d,\"n\":%d", shapes[s][0], shapes[s][1], shapes[s][2]);
		for (int v = 0; v < nv; v++)
			printf(",\"%s_gflops\":%.1f", names[v],
			       gflops(fns[v], shapes[s][0], shapes[s][1], shapes[s][2]));
		printf("}\n");
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "gemm"))
		return gemm();
	if (argc == 6 && !strcmp(argv[1], "gen"))
		return gen(argv[2], strtol(argv[3], NULL, 10), (int)strtol(argv[4], NULL, 10),
		           argv[5]);
	if (argc >= 2 && !strcmp(argv[1], "bandwidth"))
		return bandwidth(argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 512);
	fprintf(stderr,
	        "usage: bench_trainer gen linear|mlp ROWS COLS OUT.f32 | bandwidth [MiB] | gemm\n");
	return 2;
}
