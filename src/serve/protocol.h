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
 * The binary tensor data extension of V2 (as KServe and Triton accept it): the body is a
 * JSON header of Inference-Header-Content-Length bytes followed by the raw tensor; the
 * input declares "parameters": {"binary_data_size": rows * cols * 4} instead of "data",
 * FP32 little-endian. The response goes out the same way when the request asks for it
 * ("parameters": {"binary_data_output": true}, or "binary_data": true in the
 * parameters of an "outputs" entry named "output-0").
 *
 * Parsers are pure: they never trust the body, check every type, count and value
 * (finite numbers only), and on failure fill err with a message naming the field,
 * e.g. "instances[2] has 3 values; the model takes 4". The returned rows are a heap
 * array owned by the caller (free()); its size is bounded by the body's length.
 *
 * Two paths read the numbers, with identical results and identical errors: a fast path
 * that scans the tensor's array of numbers straight into floats (json-c parses only the
 * small rest of the body, if anything), and the json-c reference path, which every
 * body the fast path does not take (and every refused body) goes through. Numbers are
 * correctly rounded to FP32 on both (aios_proto_parse_float).
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
	int binary_out;             /* V2: answer with the binary extension */
};

/* json_len for a V2 body without the Inference-Header-Content-Length header. */
#define AIOS_PROTO_NO_BINARY ((size_t)-1)

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
/*
 * V2 with the binary extension: body[0..json_len) is the JSON header and
 * body[json_len..len) the binary part (json_len <= len, from
 * aios_proto_v2_header_length), or json_len == AIOS_PROTO_NO_BINARY for a plain JSON
 * body. The binary part must be exactly what the input declares; every size is checked
 * against the body before anything is allocated. aios_proto_v2_parse(b, n, ...) is
 * aios_proto_v2_parse_binary(b, n, AIOS_PROTO_NO_BINARY, ...).
 */
enum aios_err aios_proto_v2_parse_binary(const char *body, size_t len, size_t json_len,
                                         int n_inputs, int max_rows, struct aios_proto_batch *out,
                                         char *err, size_t errn) AIOS_MUST_CHECK;
/* The json-c reference paths alone (the fast path is checked against them). */
enum aios_err aios_proto_v1_parse_ref(const char *body, size_t len, int n_inputs, int max_rows,
                                      struct aios_proto_batch *out, char *err,
                                      size_t errn) AIOS_MUST_CHECK;
enum aios_err aios_proto_v2_parse_ref(const char *body, size_t len, size_t json_len, int n_inputs,
                                      int max_rows, struct aios_proto_batch *out, char *err,
                                      size_t errn) AIOS_MUST_CHECK;

/*
 * The value of an Inference-Header-Content-Length header (value as the HTTP server
 * hands it over: trimmed, NUL-terminated): decimal digits, at most body_len. Anything
 * else is AIOS_ERR_INVALID with err naming the value.
 */
enum aios_err aios_proto_v2_header_length(const char *value, size_t body_len, size_t *json_len,
                                          char *err, size_t errn) AIOS_MUST_CHECK;

/*
 * Reads one JSON number (RFC 8259 grammar, nothing more) at the start of s[0..n) into
 * *out, correctly rounded to the nearest FP32 (ties to even, as strtof; subnormals
 * kept, underflow to 0). An integer (no fraction, no exponent) is read as json-c reads
 * it: an int64 or uint64 converted to float, so "-0" is +0, and one beyond those
 * ranges is refused (json-c's strict mode refuses it too). Returns the number's length
 * in bytes, or 0 when s does not start with a JSON number, or it is refused, or it is
 * beyond the FP32 range. Reads no byte past s + n.
 */
size_t aios_proto_parse_float(const char *s, size_t n, float *out);

/* Encoders append to out; they fail only when out's cap is reached. */
enum aios_err aios_proto_v1_encode(const float *y, int rows, int n_outputs,
                                   struct aios_buf *out) AIOS_MUST_CHECK;
enum aios_err aios_proto_v2_encode(const char *model, const char *id, const float *y, int rows,
                                   int n_outputs, struct aios_buf *out) AIOS_MUST_CHECK;
/*
 * The binary extension's response: the JSON header (the output carries
 * "parameters": {"binary_data_size": rows * n_outputs * 4} instead of "data"), then the
 * FP32 little-endian outputs. *json_len is the header's length, for the
 * Inference-Header-Content-Length response header.
 */
enum aios_err aios_proto_v2_encode_binary(const char *model, const char *id, const float *y,
                                          int rows, int n_outputs, struct aios_buf *out,
                                          size_t *json_len) AIOS_MUST_CHECK;

/* Appends a float as printf's %.9g writes it (which round-trips; a JSON number). */
enum aios_err aios_proto_put_float(struct aios_buf *out, float v) AIOS_MUST_CHECK;

#endif
