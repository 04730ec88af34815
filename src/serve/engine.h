/*
 * engine.h - a model compiled for serving: the forward pass aios-serve runs.
 *
 * Built once at load time from a struct aios_model (model.h). Options transform the
 * weights before serving:
 *   prune_sparsity s   in every dense layer, the fraction s of weights with the
 *                      smallest magnitude is set to zero; a layer whose resulting
 *                      density is below AIOS_ENGINE_SPARSE_DENSITY runs a CSR kernel
 *   quantize int8      weights quantized per output channel (scale = max|w| / 127,
 *                      round to nearest); activations quantized per row at run time
 *                      the same way; int8 x int8 products summed in int32, then
 *                      scaled back to float and the bias added
 * The reference forward pass of model.h stays the ground truth: the tests compare
 * every kernel here against it.
 *
 * An engine is immutable after aios_engine_new, so any number of threads may run
 * forward passes at once, each with its own scratch.
 */
#ifndef AIOS_SERVE_ENGINE_H
#define AIOS_SERVE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "model/model.h"

/* A layer runs the CSR kernel when (non-zeros / weights) is below this. Measured in
 * docs/serve.md (bench/serve/kernels.c): the CSR loop beats the vectorized dense one
 * only at about 10% density; at 30% it is still slower. */
#define AIOS_ENGINE_SPARSE_DENSITY 0.2

enum aios_quant { AIOS_QUANT_NONE, AIOS_QUANT_INT8 };

struct aios_engine_opts {
	enum aios_quant quantize;
	double prune_sparsity; /* [0, 1) */
	int force_dense;       /* 1: never use the CSR kernel (for benchmarks) */
	int force_sparse;      /* 1: CSR for every FP32 layer (for benchmarks) */
};

struct aios_engine;

/* Compiles m (borrowed; the engine copies what it needs). Errors name the option. */
enum aios_err aios_engine_new(const struct aios_model *m, const struct aios_engine_opts *o,
                              struct aios_engine **out) AIOS_MUST_CHECK;
void aios_engine_free(struct aios_engine *e);

int aios_engine_inputs(const struct aios_engine *e);
int aios_engine_outputs(const struct aios_engine *e);
/* Fraction of weights that are zero after pruning (all layers). */
double aios_engine_sparsity(const struct aios_engine *e);
/* Layers running the CSR kernel. */
int aios_engine_sparse_layers(const struct aios_engine *e);

/* Floats of scratch a forward pass of n rows needs. */
size_t aios_engine_scratch_floats(const struct aios_engine *e, int n);
/* x (n, inputs) -> y (n, outputs); normalization and output activation applied. */
void aios_engine_forward(const struct aios_engine *e, const float *x, int n, float *y,
                         float *scratch);

/* ---- the kernels, exposed for tests and benchmarks ---- */

/* y (n, out) = x (n, in) . w^T (w is (out, in)) + b */
void aios_kernel_dense_f32(const float *x, int n, int in, const float *w, const float *b, int out,
                           float *y);
/* Same with the weights transposed: wt is (in, out). The serving form of FP32 layers: the
 * product C(n, out) = x . wt of common/matmul.h, so the trainer's kernels serve it too. */
void aios_kernel_dense_f32t(const float *x, int n, int in, const float *wt, const float *b, int out,
                            float *y);
/* Same with int8 weights q (out, in) and per-output scales; x quantized per row into
 * xq (n * in bytes of scratch) first. */
void aios_kernel_dense_i8(const float *x, int n, int in, const int8_t *q, const float *scale,
                          const float *b, int out, float *y, int8_t *xq);
/* Same with CSR weights: row_ptr (out + 1), col (nnz), val (nnz). */
void aios_kernel_csr_f32(const float *x, int n, int in, const int32_t *row_ptr, const int32_t *col,
                         const float *val, const float *b, int out, float *y);
/* Zeroes the fraction s of w[0..n) with the smallest magnitude; returns zeros now. */
size_t aios_prune_magnitude(float *w, size_t n, double s);

#endif
