/*
 * protocol.h - the two inference protocols' JSON bodies, parsed and encoded.
 *
 * KServe V1:  {"instances": [[f, ...], ...]}  ->  {"predictions": [p, ...]}
 *             p is a number when the model has one output, else a list.
 * Open Inference Protocol (V2), FP32 tensors, row-major:
 *   {"id"?, "inputs": [{"name", "shape": [rows, cols] | [cols], "datatype": "FP32",
 *                       "data": [...] flat or nested}], "parameters"?, "outputs"?}
 *   -> {"model_name", "model_version": "1", "id"?, "outputs": [{"name": "output-0",
 *       "shape": [rows, outputs], "datatype": "FP32", "data": [...]}]}
 *
 * Parsers are pure: they never trust the body, check every type, count and value
 * (finite numbers only), and on failure fill err with a message naming the field,
 * e.g. "instances[2] has 3 values; the model takes 4". The returned rows are a heap
 * array owned by the caller (free()); its size is bounded by the body's length.
 */
#ifndef AIOS_SERVE_PROTOCOL_H
#define AIOS_SERVE_PROTOCOL_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define AIOS_PROTO_ID_MAX 128 /* bytes of a V2 request id echoed back */

struct aios_proto_batch {
	float *x; /* (rows, cols), caller frees */
	int rows, cols;
	char id[AIOS_PROTO_ID_MAX]; /* V2 "id", "" if absent */
};

/*
 * Both return AIOS_OK, AIOS_ERR_INVALID with err filled (HTTP 400), or AIOS_ERR_TOO_BIG
 * (HTTP 413) when the body holds more than max_rows rows (max_rows >= 1). The row cap
 * is checked on the raw bytes before json-c runs, so a refused body costs no parse
 * memory, and an accepted one at most ~45 bytes per value of max_rows * n_inputs.
 */
enum aios_err aios_proto_v1_parse(const char *body, size_t len, int n_inputs, int max_rows,
                                  struct aios_proto_batch *out, char *err,
                                  size_t errn) AIOS_MUST_CHECK;
enum aios_err aios_proto_v2_parse(const char *body, size_t len, int n_inputs, int max_rows,
                                  struct aios_proto_batch *out, char *err,
                                  size_t errn) AIOS_MUST_CHECK;

/* Encoders append to out; they fail only when out's cap is reached. */
enum aios_err aios_proto_v1_encode(const float *y, int rows, int n_outputs,
                                   struct aios_buf *out) AIOS_MUST_CHECK;
enum aios_err aios_proto_v2_encode(const char *model, const char *id, const float *y, int rows,
                                   int n_outputs, struct aios_buf *out) AIOS_MUST_CHECK;

/* Appends a float as the shortest of %.9g that round-trips (JSON number). */
enum aios_err aios_proto_put_float(struct aios_buf *out, float v) AIOS_MUST_CHECK;

#endif
