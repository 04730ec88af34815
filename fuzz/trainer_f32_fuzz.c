/*
 * trainer_f32_fuzz.c - the trainer's f32 dataset parser and inline-JSON data reader
 * on arbitrary bytes. Accepted data must be finite and shaped as its header says.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "trainer/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trainer_label_rule r = {TRAINER_LABEL_REAL, 0, 1};
	struct trainer_dataset d;
	if (trainer_parse_f32(data, size, "fuzz.f32", &r, &d) == AIOS_OK) {
		if ((size_t)d.rows * (size_t)(d.cols + d.tcols) * 4 + TRAINER_F32_HEADER != size)
			abort();
		for (int64_t i = 0; i < d.rows * d.cols; i++)
			if (!isfinite(d.x[i]))
				abort();
		trainer_dataset_cleanup(&d);
	}
	struct json_object *o;
	if (aios_json_parse((const char *)data, size, "fuzz", &o) == AIOS_OK) {
		if (json_object_is_type(o, json_type_object) &&
		    trainer_parse_inline(o, "spec.data.inline", &r, &d) == AIOS_OK)
			trainer_dataset_cleanup(&d);
		json_object_put(o);
	}
	return 0;
}
