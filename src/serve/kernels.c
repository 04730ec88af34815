/*
 * kernels.c - the serving kernels: dense FP32, dense INT8, CSR FP32, and the load-time
 * transform (magnitude pruning; quantization is aios_model_quantize_rows). See engine.h.
 *
 * The FP32 layers aios-serve runs (aios_kernel_dense_f32t) are the project's shared matrix
 * product (common/matmul.h: an AVX-512 or AVX2+FMA micro-kernel picked at run time) plus
 * the bias. The loops here are compiled with -O3 and reassociation allowed
 * (src/serve/CMakeLists.txt) so that their dot products vectorize; results therefore
 * differ from the reference loops of model.c in the last bits, which the tests allow for.
 * Layout of the INT8 and CSR kernels: the weight row of an output unit is contiguous, so
 * each streams w once per batch and keeps the batch's rows of x in cache.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/matmul.h"
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

/* Each row of y starts as b and the shared product (common/matmul.h) accumulates x . wt
 * onto it (acc = 1): an output is b plus the sum over the inputs, rounded as the product
 * rounds it. */
void aios_kernel_dense_f32t(const float *restrict x, int n, int in, const float *restrict wt,
                            const float *restrict b, int out, float *restrict y)
{
	for (int i = 0; i < n; i++)
		memcpy(y + (size_t)i * out, b, sizeof(float) * (size_t)out);
	aios_matmul(y, x, wt, n, in, out, 1);
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
