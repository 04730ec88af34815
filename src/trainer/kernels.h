/*
 * kernels.h - the trainer's dense linear algebra: one matrix product, a transpose, a dot.
 *
 * Every dense layer's forward and backward pass is written in terms of
 *   C(rows, n) = A(rows, k) . B(k, n)        (row-major, C does not alias A or B)
 * so one fast kernel serves all three products (y = x W^T, dW = dy^T x, dx = dy W).
 * trainer_matmul_ref is the naive triple loop, the ground truth the unit tests hold the
 * fast kernels to. The fast kernel comes in three variants: register-blocked C with GCC
 * vector extensions compiled for baseline x86-64 and for AVX2+FMA, and an AVX-512F
 * micro-kernel in intrinsics (kernels.c). Each is compiled with a function-level target
 * attribute, so the build stays portable (AIOS_NATIVE off) and runs on CPUs without
 * AVX2 or AVX-512; the best variant the CPU (and its OS) runs is picked once per process,
 * unless AIOS_KERNEL=avx512|avx2+fma|generic names another one the CPU runs. The other
 * vectorised loops of the trainer (Adam's update, optim.c) follow the same choice
 * through trainer_kernel_isa, so results are deterministic on one machine for a given
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
/* The same for rows r0..r1 of src only (0 <= r0 <= r1 <= rows): columns r0..r1 of dst, so
 * threads given disjoint row ranges write disjoint elements. */
void trainer_transpose_rows(float *restrict dst, const float *restrict src, int rows, int cols,
                            int r0, int r1);
/* Name of the kernel variant in use ("avx512", "avx2+fma" or "generic"), for logs. */
const char *trainer_kernel_name(void);
/* The variant the process picks when AIOS_KERNEL is want (NULL: unset): want itself when
 * this CPU runs it, else the preferred one. */
const char *trainer_kernel_pick(const char *want);

/* The instruction sets of the variants. */
enum trainer_isa { TRAINER_ISA_GENERIC, TRAINER_ISA_AVX2, TRAINER_ISA_AVX512 };
/* The variant in use, as trainer_kernel_name names it. */
enum trainer_isa trainer_kernel_isa(void);
/* Whether this CPU (and its OS) runs the variant; GENERIC always. */
int trainer_isa_supported(enum trainer_isa isa);

typedef void (*trainer_matmul_fn)(float *c, const float *a, const float *b, int rows, int k, int n,
                                  int acc);
/* Fills names/fns with every variant this CPU runs (at most max), the preferred first;
 * returns how many. For tests and benchmarks. */
int trainer_matmul_variants(const char **names, trainer_matmul_fn *fns, int max);

#endif
