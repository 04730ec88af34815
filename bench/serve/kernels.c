/*
 * kernels.c - accuracy and speed of the serving transforms on a held-out set.
 *
 *   aios-bench-kernels MODEL.aios HELDOUT.f32
 *
 * HELDOUT.f32: rows of (inputs..., label) as float32 (bench/serve/train.py). For each
 * configuration (fp32, int8, pruning at several sparsities, dense and CSR kernels) it
 * prints the held-out accuracy (argmax of the outputs), the largest output change
 * against fp32, and the time of one forward pass at batch 1 and batch 32.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "model/model.h"
#include "serve/engine.h"

/* CPU time of this thread, not wall time: the figure holds on a shared machine. */
static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double time_us(struct aios_engine *e, const float *x, int rows, float *y, float *s)
{
	int iters = rows == 1 ? 20000 : 2000;
	for (int i = 0; i < 100; i++)
		aios_engine_forward(e, x, rows, y, s);
	int64_t t0 = cpu_ns();
	for (int i = 0; i < iters; i++)
		aios_engine_forward(e, x, rows, y, s);
	return (double)(cpu_ns() - t0) / 1e3 / iters;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s MODEL.aios HELDOUT.f32\n", argv[0]);
		return 1;
	}
	struct aios_model *m;
	struct aios_buf b;
	aios_buf_init(&b, 1u << 30);
	if (aios_model_read_file(argv[1], &m) || aios_buf_read_file(&b, argv[2])) {
		fprintf(stderr, "%s\n", aios_errmsg());
		return 1;
	}
	int nin = m->n_inputs, nout = m->n_outputs, cols = nin + 1;
	int rows = (int)(b.len / sizeof(float) / (size_t)cols);
	const float *data = (const float *)b.data;
	float *x = malloc(sizeof(float) * (size_t)rows * nin);
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < nin; j++)
			x[(size_t)i * nin + j] = data[(size_t)i * cols + j];
	float *ref = malloc(sizeof(float) * (size_t)rows * nout);
	float *y = malloc(sizeof(float) * (size_t)rows * nout);
	struct {
		const char *name;
		struct aios_engine_opts o;
	} cfgs[] = {
	    {"fp32, dense kernel", {AIOS_QUANT_NONE, 0, 1, 0}},
	    {"int8", {AIOS_QUANT_INT8, 0, 0, 0}},
	    {"prune 0.5, dense kernel", {AIOS_QUANT_NONE, 0.5, 1, 0}},
	    {"prune 0.5, CSR kernel", {AIOS_QUANT_NONE, 0.5, 0, 1}},
	    {"prune 0.7, dense kernel", {AIOS_QUANT_NONE, 0.7, 1, 0}},
	    {"prune 0.7, CSR kernel", {AIOS_QUANT_NONE, 0.7, 0, 1}},
	    {"prune 0.8, dense kernel", {AIOS_QUANT_NONE, 0.8, 1, 0}},
	    {"prune 0.8, CSR kernel", {AIOS_QUANT_NONE, 0.8, 0, 1}},
	    {"prune 0.9, dense kernel", {AIOS_QUANT_NONE, 0.9, 1, 0}},
	    {"prune 0.9, CSR kernel", {AIOS_QUANT_NONE, 0.9, 0, 1}},
	    {"prune 0.5 + int8", {AIOS_QUANT_INT8, 0.5, 0, 0}},
	};
	printf("| configuration | sparsity | CSR layers | held-out accuracy | max abs output "
	       "change | CPU us/pass batch 1 | CPU us/pass batch 32 |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
		struct aios_engine *e;
		if (aios_engine_new(m, &cfgs[c].o, &e)) {
			fprintf(stderr, "%s\n", aios_errmsg());
			return 1;
		}
		float *s = malloc(sizeof(float) * aios_engine_scratch_floats(e, rows));
		aios_engine_forward(e, x, rows, c == 0 ? ref : y, s);
		const float *out = c == 0 ? ref : y;
		int correct = 0;
		double dmax = 0;
		for (int i = 0; i < rows; i++) {
			int best = 0;
			for (int k = 1; k < nout; k++)
				if (out[(size_t)i * nout + k] > out[(size_t)i * nout + best])
					best = k;
			correct += best == (int)data[(size_t)i * cols + nin];
			for (int k = 0; k < nout; k++)
				dmax = fmax(dmax, fabs(out[(size_t)i * nout + k] -
				                       ref[(size_t)i * nout + k]));
		}
		double t1 = time_us(e, x, 1, y, s), t32 = time_us(e, x, 32, y, s);
		printf("| %s | %.2f | %d | %.4f | %.4f | %.2f | %.2f |\n", cfgs[c].name,
		       aios_engine_sparsity(e), aios_engine_sparse_layers(e),
		       (double)correct / rows, dmax, t1, t32);
		free(s);
		aios_engine_free(e);
	}
	printf("\nheld-out rows: %d, model %d -> %d, %zu parameters\n", rows, nin, nout,
	       aios_model_param_count(m));
	free(x), free(ref), free(y);
	aios_model_free(m);
	aios_buf_cleanup(&b);
	return 0;
}
