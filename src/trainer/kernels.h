/*
 * kernels.h - the trainer's dense linear algebra: one matrix product, a transpose, a dot.
 *
 * Every dense layer's forward and backward pass is written in terms of
 *   C(rows, n) = A(rows, k) . B(k, n)        (row-major, C does not alias A or B)
 * so one fast kernel serves all three products (y = x W^T, dW = dy^T x, dx = dy W).
 * trainer_matmul_ref is the naive triple loop, the ground truth the unit tests hold the
 * fast kernel to. The fast kernel is register-blocked C with GCC vector extensions,
 * compiled three times (baseline x86-64, AVX2+FMA, and a wider body for AVX-512) and
 * picked once at run time from the CPU's features (AIOS_KERNEL=avx512|avx2+fma|generic
 * picks another the CPU runs), so results are deterministic on one machine for a given
 * thread count and kernel.
 */
#ifndef AIOS_TRAINER_KERNELS_H
#define AIOS_TRAINER_KERNELS_H

#include <stddef.h>

/* C = A . B, or C += A . B when acc is non-zero. */
void trainer_matmul_ref(float *c, const float *a, const float *b, int rows, int k, int n, int acc);
void trainer_matmul(float *c, const float *a, const float *b, int rows, int k, int n, int acc);
/* The baseline build of the fast kernel, whatever the CPU (for tests). */
void trainer_matmul_generic(float *c, const float *a, const float *b, int rows, int k, int n,
                            int acc);
/* dst(cols, rows) = src(rows, cols)^T; dst and src do not overlap. */
void trainer_transpose(float *restrict dst, const float *restrict src, int rows, int cols);
/* Name of the kernel variant in use ("avx512", "avx2+fma" or "generic"), for logs. */
const char *trainer_kernel_name(void);

typedef void (*trainer_matmul_fn)(float *c, const float *a, const float *b, int rows, int k, int n,
                                  int acc);
/* Fills names/fns with every variant this CPU runs (at most max), the preferred first;
 * returns how many. For tests and benchmarks. */
int trainer_matmul_variants(const char **names, trainer_matmul_fn *fns, int max);

#endif
