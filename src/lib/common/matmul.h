/*
 * matmul.h - the project's dense linear algebra: one matrix product and a transpose,
 * shared by the trainer and aios-serve.
 *
 * Every dense layer, trained or served, is written in terms of
 *   C(rows, n) = A(rows, k) . B(k, n)        (row-major, C does not alias A or B)
 * so one fast kernel serves the trainer's three products (y = x W^T, dW = dy^T x,
 * dx = dy W) and aios-serve's FP32 forward pass (y = x Wt + b, C first filled with b).
 * aios_matmul_ref is the naive triple loop, the ground truth the unit tests
 * (tests/unit/common/test_matmul.c) hold the fast kernels to. The fast kernel comes in
 * three variants: register-blocked C with GCC vector extensions compiled for baseline
 * x86-64 and for AVX2+FMA, and an AVX-512F micro-kernel in intrinsics (matmul.c). Each
 * is compiled with a function-level target attribute, so the build stays portable
 * (AIOS_NATIVE off) and runs on CPUs without AVX2 or AVX-512; the best variant the CPU
 * (and its OS) runs is picked once per process, unless AIOS_KERNEL=avx512|avx2+fma|generic
 * names another one the CPU runs. The trainer's other vectorised loops (Adam's update,
 * src/trainer/optim.c) follow the same choice through aios_matmul_kernel_isa, so results
 * are deterministic on one machine for a given thread count and kernel.
 *
 * matmul.c is compiled at -O3 in every build type and without reassociation
 * (CMakeLists.txt): the reference keeps its order of summation, and the fast variants
 * sum each element in that order too (see matmul.c). The AVX-512 variant keeps a
 * 32 KiB panel on the stack of the calling thread.
 */
#ifndef AIOS_MATMUL_H
#define AIOS_MATMUL_H

#include <stddef.h>

/* C = A . B, or C += A . B when acc is non-zero. */
void aios_matmul_ref(float *c, const float *a, const float *b, int rows, int k, int n, int acc);
void aios_matmul(float *c, const float *a, const float *b, int rows, int k, int n, int acc);
/* The baseline build of the fast kernel, whatever the CPU (for tests). */
void aios_matmul_generic(float *c, const float *a, const float *b, int rows, int k, int n, int acc);
/* dst(cols, rows) = src(rows, cols)^T; dst and src do not overlap. */
void aios_matmul_transpose(float *restrict dst, const float *restrict src, int rows, int cols);
/* The same for rows r0..r1 of src only (0 <= r0 <= r1 <= rows): columns r0..r1 of dst, so
 * threads given disjoint row ranges write disjoint elements. */
void aios_matmul_transpose_rows(float *restrict dst, const float *restrict src, int rows, int cols,
                                int r0, int r1);
/* Name of the kernel variant in use ("avx512", "avx2+fma" or "generic"), for logs. */
const char *aios_matmul_kernel_name(void);
/* The variant the process picks when AIOS_KERNEL is want (NULL: unset): want itself when
 * this CPU runs it, else the preferred one. */
const char *aios_matmul_kernel_pick(const char *want);

/* The instruction sets of the variants. */
enum aios_matmul_isa { AIOS_MATMUL_ISA_GENERIC, AIOS_MATMUL_ISA_AVX2, AIOS_MATMUL_ISA_AVX512 };
/* The variant in use, as aios_matmul_kernel_name names it. */
enum aios_matmul_isa aios_matmul_kernel_isa(void);
/* Whether this CPU (and its OS) runs the variant; GENERIC always. */
int aios_matmul_isa_supported(enum aios_matmul_isa isa);

typedef void (*aios_matmul_fn)(float *c, const float *a, const float *b, int rows, int k, int n,
                               int acc);
/* Fills names/fns with every variant this CPU runs (at most max), the preferred first;
 * returns how many. For tests and benchmarks. */
int aios_matmul_variants(const char **names, aios_matmul_fn *fns, int max);

#endif
