/*
 * model_artifact_fuzz.c - the model artifact reader (model.h) on arbitrary bytes.
 * Whatever it accepts must survive a write/read round trip unchanged, in f32 exactly
 * and in int8 without error, and run through the reference forward pass.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aios_model *m = NULL;
	if (aios_model_read_mem(data, size, "fuzz", &m) != AIOS_OK)
		return 0;
	size_t n = aios_model_param_count(m);
	for (int q = 0; q < 2; q++) {
		uint8_t *b;
		size_t len;
		if (aios_model_write_mem(m, q ? AIOS_DTYPE_INT8 : AIOS_DTYPE_F32, &b, &len) !=
		    AIOS_OK)
			abort(); /* a model the reader accepted must be writable */
		struct aios_model *r = NULL;
		if (aios_model_read_mem(b, len, "again", &r) != AIOS_OK)
			abort();
		if (!q && (aios_model_param_count(r) != n ||
		           memcmp(r->params, m->params, n * sizeof(float))))
			abort();
		aios_model_free(r);
		free(b);
	}
	if (n <= (1u << 16) && m->n_inputs <= 4096) { /* bounded work per input */
		float *x = calloc((size_t)m->n_inputs, sizeof(float));
		float *y = calloc((size_t)m->n_outputs, sizeof(float));
		float *s = calloc(aios_model_scratch_floats(m, 1), sizeof(float));
		aios_model_forward_ref(m, x, 1, y, s);
		free(x), free(y), free(s);
	}
	aios_model_free(m);
	return 0;
}
