/*
 * metadata.h - the V2 model metadata (GET /v2/models/NAME) of a loaded model.
 *
 * An aios artifact names its tensors "input-0" and "output-0", shaped [-1, width]; an
 * ONNX model reports its graph's input and output names and declared shapes (-1 for a
 * symbolic dimension), as its meta holds them (onnx.h). Built once at load: the body
 * never changes while the server runs.
 */
#ifndef AIOS_SERVE_METADATA_H
#define AIOS_SERVE_METADATA_H

#include "model/model.h"

/* The JSON body, NUL-terminated, on the heap (caller frees). Aborts on OOM only. */
char *aios_serve_v2_metadata(const char *name, const struct aios_model *m, const char *quantize,
                             double sparsity);

#endif
