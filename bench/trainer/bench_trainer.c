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
 *                                                     MLPs (forward and both backward),
 *                                                     after this run's FMA peak per
 *                                                     vector width (JSON lines)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/matmul.h"
#include "trainer/data.h"
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
static double gflops(aios_matmul_fn f, int rows, int k, int n)
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

/* Register-only FMA loops: this run's peak of one core with 512-bit and with 256-bit
 * vectors (24 independent accumulators hide the latency of both FMA ports), GFLOP/s,
 * best of 5 passes of ~50 ms. The kernels' figures are put against them. GNU C
 * contracts each s * a + b into one FMA (-ffp-contract=fast, the default). */
typedef float v16 __attribute__((vector_size(64)));
#define FMA_LOOP(name, isa, vec)                                                                   \
	__attribute__((target(isa), noinline)) static float name(long n)                           \
	{                                                                                          \
		vec s[24], a, b;                                                                   \
		for (size_t l = 0; l < sizeof(vec) / sizeof(float); l++)                           \
			a[l] = 0.999f, b[l] = 1e-4f;                                               \
		for (int i = 0; i < 24; i++)                                                       \
			s[i] = a * (float)i;                                                       \
		for (long k = 0; k < n; k++)                                                       \
			_Pragma("GCC unroll 24") for (int i = 0; i < 24; i++) s[i] = s[i] * a + b; \
		for (int i = 1; i < 24; i++)                                                       \
			s[0] += s[i];                                                              \
		return s[0][0];                                                                    \
	}
FMA_LOOP(fma_loop512, "avx512f", v16)
FMA_LOOP(fma_loop256, "avx2,fma", v8)

static double fma_peak(int wide)
{
	const long n = 1000000;
	const double flop = (double)n * 24 * (wide ? 32 : 16);
	double best = 0;
	volatile float sink = 0;
	for (int pass = 0; pass < 5; pass++) {
		double t0 = aios_now_s();
		sink += wide ? fma_loop512(n) : fma_loop256(n);
		double g = flop / (aios_now_s() - t0) / 1e9;
		best = g > best ? g : best;
	}
	(void)sink;
	return best;
}

static void print_peak(void)
{
	printf("{\"peak\":1");
	if (aios_matmul_isa_supported(AIOS_MATMUL_ISA_AVX512))
		printf(",\"avx512_gflops\":%.1f", fma_peak(1));
	if (aios_matmul_isa_supported(AIOS_MATMUL_ISA_AVX2))
		printf(",\"avx2+fma_gflops\":%.1f", fma_peak(0));
	printf("}\n");
}

/* The products of a dense layer's step, as nn.c calls the kernel: forward y = x W^T
 * (batch, in, out), weight gradient dW = dy^T x (out, batch, in), input gradient
 * dx = dy W (batch, out, in), the first layer having none. */
struct product {
	const char *model, *what;
	int rows, k, n;
};

static int gemm(void)
{
	static const struct {
		const char *name;
		int batch, sizes[5], layers;
	} mlps[] = {{"mlp-32-64-64-1", 128, {32, 64, 64, 1}, 3},
	            {"mlp-256-512-512-10", 256, {256, 512, 512, 10}, 3}};
	struct product p[32];
	int np = 0;
	for (size_t m = 0; m < sizeof(mlps) / sizeof(mlps[0]); m++)
		for (int l = 0; l < mlps[m].layers; l++) {
			int B = mlps[m].batch, I = mlps[m].sizes[l], O = mlps[m].sizes[l + 1];
			p[np++] = (struct product){mlps[m].name, "forward", B, I, O};
			p[np++] = (struct product){mlps[m].name, "dW", O, B, I};
			if (l > 0)
				p[np++] = (struct product){mlps[m].name, "dx", B, O, I};
		}
	const char *names[4];
	aios_matmul_fn fns[4];
	int nv = aios_matmul_variants(names, fns, 4);
	print_peak();
	for (int s = 0; s < np; s++) {
		printf("{\"model\":\"%s\",\"product\":\"%s\",\"rows\":%d,\"k\":%d,\"n\":%d",
		       p[s].model, p[s].what, p[s].rows, p[s].k, p[s].n);
		for (int v = 0; v < nv; v++)
			printf(",\"%s_gflops\":%.1f", names[v],
			       gflops(fns[v], p[s].rows, p[s].k, p[s].n));
		printf("}\n");
		fflush(stdout);
	}
	print_peak(); /* again: a neighbour may have taken the core at the first */
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
