/*
 * serve_artifact_fuzz.c - the model artifact loader (model.h) on arbitrary bytes, and
 * whatever it accepts compiled and run by the serving engine.
 */
#include <stdint.h>
#include <stdlib.h>

#include "model/model.h"
#include "serve/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aios_model *m = NULL;
	if (aios_model_read_mem(data, size, "fuzz", &m) != AIOS_OK)
		return 0;
	/* bounded work per input: skip models too big to run quickly */
	if (aios_model_param_count(m) <= (1u << 16) && m->n_inputs <= 4096) {
		struct aios_engine_opts o = {.quantize = AIOS_QUANT_INT8, .prune_sparsity = 0.5};
		struct aios_engine *e;
		if (aios_engine_new(m, &o, &e) == AIOS_OK) {
			float *x = calloc((size_t)m->n_inputs, sizeof(float));
			float *y = calloc((size_t)m->n_outputs, sizeof(float));
			float *s = calloc(aios_engine_scratch_floats(e, 1), sizeof(float));
			aios_engine_forward(e, x, 1, y, s);
			free(x), free(y), free(s);
			aios_engine_free(e);
		}
	}
	aios_model_free(m);
	return 0;
}
