/*
 * kernels.c - the serving kernels: dense FP32, dense INT8, CSR FP32, and the load-time
 * transform (magnitude pruning; quantization is aios_model_quantize_rows). See engine.h.
 *
 * Compiled with -O3 and reassociation allowed (src/serve/CMakeLists.txt) so that the
 * dot products vectorize; results therefore differ from the reference loops of
 * model.c in the last bits, which the tests allow for. Layout: the weight row of an
 * output unit is contiguous, so each kernel streams w once per batch and keeps the
 * batch's rows of x in cache.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "serve/engine.h"

void aios_kernel_dense_f32(const float *restrict x, int n, int in, const float *restrict w,
                           const float *restrict b, int out, float *restrict y)
{
	for (int u = 0; u < out; u++) {
		const float *restrict wu = w + (size_t)u * in;
		for (int i = 0; i < n; i++) {
			const float *restrict xi = x + (size_t)i * in;
			float s = 0;
			for (int j = 0; j < in; j++)
				s += wu[j] * xi[j];
			y[(size_t)i * out + u] = s + b[u];
		}
	}
}

/*
 * A register-blocked micro-kernel: a block of MR rows x NR outputs is accumulated in
 * registers over the whole input dimension, so each weight vector loaded is used for MR
 * rows and no partial sum goes back to memory until the end. That is what makes a batch
 * cheaper per row than single requests (the weights stream once per MR rows). Rows and
 * outputs that do not fill a block take the plain loop below it.
 */
#define MR 4
#define NR 8

/* 4 floats in one register (GCC vector extension: SSE on x86-64, NEON on arm64). */
typedef float v4 __attribute__((vector_size(16)));

static inline v4 load4(const float *p)
{
	v4 v;
	memcpy(&v, p, sizeof v); /* unaligned load */
	return v;
}

static inline void store4(float *p, v4 v)
{
	memcpy(p, &v, sizeof v);
}

static void block_4x8(const float *restrict x, int in, const float *restrict wt, int out,
                      const float *restrict b, float *restrict y)
{
	const v4 b0 = load4(b), b1 = load4(b + 4);
	v4 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
	const float *x0 = x, *x1 = x + in, *x2 = x + 2 * (size_t)in, *x3 = x + 3 * (size_t)in;
	for (int j = 0; j < in; j++) {
		const float *restrict w = wt + (size_t)j * out;
		const v4 w0 = load4(w), w1 = load4(w + 4);
		const float s0 = x0[j], s1 = x1[j], s2 = x2[j], s3 = x3[j];
		a00 += s0 * w0;
		a01 += s0 * w1;
		a10 += s1 * w0;
		a11 += s1 * w1;
		a20 += s2 * w0;
		a21 += s2 * w1;
		a30 += s3 * w0;
		a31 += s3 * w1;
	}
	store4(y, a00);
	store4(y + 4, a01);
	store4(y + out, a10);
	store4(y + out + 4, a11);
	store4(y + 2 * (size_t)out, a20);
	store4(y + 2 * (size_t)out + 4, a21);
	store4(y + 3 * (size_t)out, a30);
	store4(y + 3 * (size_t)out + 4, a31);
}

/* y[rows, u0..u1) for rows [i0, i1), one row at a time. */
static void plain(const float *restrict x, int i0, int i1, int in, const float *restrict wt,
                  const float *restrict b, int out, int u0, int u1, float *restrict y)
{
	for (int i = i0; i < i1; i++) {
		float *restrict yi = y + (size_t)i * out;
		for (int u = u0; u < u1; u++)
			yi[u] = b[u];
		for (int j = 0; j < in; j++) {
			const float xv = x[(size_t)i * in + j];
			const float *restrict wj = wt + (size_t)j * out;
			for (int u = u0; u < u1; u++)
				yi[u] += xv * wj[u];
		}
	}
}

void aios_kernel_dense_f32t(const float *restrict x, int n, int in, const float *restrict wt,
                            const float *restrict b, int out, float *restrict y)
{
	int nb = n - n % MR, ob = out - out % NR;
	for (int i = 0; i < nb; i += MR)
		for (int u = 0; u < ob; u += NR)
			block_4x8(x + (size_t)i * in, in, wt + u, out, b + u,
			          y + (size_t)i * out + u);
	if (ob < out)
		plain(x, 0, nb, in, wt, b, out, ob, out, y);
	if (nb < n)
		plain(x, nb, n, in, wt, b, out, 0, out, y);
}

/* Per-row symmetric quantization of activations: returns the row's scale. */
static float quantize_row(const float *restrict x, int n, int8_t *restrict q)
{
	float mx = 0;
	for (int j = 0; j < n; j++)
		mx = fmaxf(mx, fabsf(x[j]));
	if (mx == 0) {
		memset(q, 0, (size_t)n);
		return 0;
	}
	float inv = 127.0f / mx;
	for (int j = 0; j < n; j++)
		q[j] = (int8_t)lrintf(x[j] * inv);
	return mx / 127.0f;
}

void aios_kernel_dense_i8(const float *restrict x, int n, int in, const int8_t *restrict q,
                          const float *restrict scale, const float *restrict b, int out,
                          float *restrict y, int8_t *restrict xq)
{
	float xs[64];
	for (int i0 = 0; i0 < n; i0 += 64) {
		int m = n - i0 < 64 ? n - i0 : 64;
		for (int i = 0; i < m; i++)
			xs[i] = quantize_row(x + (size_t)(i0 + i) * in, in, xq + (size_t)i * in);
		for (int u = 0; u < out; u++) {
			const int8_t *restrict qu = q + (size_t)u * in;
			for (int i = 0; i < m; i++) {
				const int8_t *restrict xi = xq + (size_t)i * in;
				int32_t acc = 0;
				for (int j = 0; j < in; j++)
					acc += (int32_t)qu[j] * (int32_t)xi[j];
				y[(size_t)(i0 + i) * out + u] =
				    (float)acc * scale[u] * xs[i] + b[u];
			}
		}
	}
}

void aios_kernel_csr_f32(const float *restrict x, int n, int in, const int32_t *restrict row_ptr,
                         const int32_t *restrict col, const float *restrict val,
                         const float *restrict b, int out, float *restrict y)
{
	for (int i = 0; i < n; i++) {
		const float *restrict xi = x + (size_t)i * in;
		float *restrict yi = y + (size_t)i * out;
		for (int u = 0; u < out; u++) {
			float s = b[u];
			for (int32_t k = row_ptr[u]; k < row_ptr[u + 1]; k++)
				s += val[k] * xi[col[k]];
			yi[u] = s;
		}
	}
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

size_t aios_prune_magnitude(float *w, size_t n, double s)
{
	size_t k = (size_t)floor(s * (double)n);
	size_t zeros = 0;
	if (k > 0 && n > 0) {
		float *mag = aios_xmalloc(n * sizeof *mag);
		{
			for (size_t i = 0; i < n; i++)
				mag[i] = fabsf(w[i]);
			qsort(mag, n, sizeof *mag, cmp_float);
			float thr = mag[k - 1];
			/* zero everything strictly below the threshold, then ties up to k */
			size_t done = 0;
			for (size_t i = 0; i < n; i++)
				if (fabsf(w[i]) < thr) {
					w[i] = 0;
					done++;
				}
			for (size_t i = 0; i < n && done < k; i++)
				if (w[i] != 0 && fabsf(w[i]) == thr) {
					w[i] = 0;
					done++;
				}
			free(mag);
		}
	}
	for (size_t i = 0; i < n; i++)
		zeros += w[i] == 0;
	return zeros;
}
