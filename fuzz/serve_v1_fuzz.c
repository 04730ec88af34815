/*
 * serve_v1_fuzz.c - the KServe V1 predict body parser on arbitrary bytes, its fast path
 * checked against the json-c reference path (same result, floats and message).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first byte picks the model's input width (1..8); the rest is the body */
	int n_in = size ? 1 + data[0] % 8 : 4;
	const char *body = size ? (const char *)data + 1 : "";
	size_t len = size ? size - 1 : 0;
	struct aios_proto_batch b, r;
	char err[256] = "", err2[256] = "";
	enum aios_err e = aios_proto_v1_parse(body, len, n_in, 64, &b, err, sizeof err);
	enum aios_err e2 = aios_proto_v1_parse_ref(body, len, n_in, 64, &r, err2, sizeof err2);
	if (e != e2 || (e && strcmp(err, err2) != 0))
		abort(); /* the fast path drifted from the reference */
	if (e == AIOS_OK) {
		if (b.rows < 1 || b.cols != n_in || b.rows != r.rows ||
		    memcmp(b.x, r.x, sizeof(float) * (size_t)b.rows * (size_t)n_in) != 0)
			abort();
		free(r.x);
		struct aios_buf out;
		aios_buf_init(&out, 1 << 24);
		if (aios_proto_v1_encode(b.x, b.rows, b.cols, &out) != AIOS_OK)
			abort();
		aios_buf_cleanup(&out);
		free(b.x);
	} else if (b.x || !err[0]) {
		abort(); /* a refusal frees everything and always says why */
	}
	return 0;
}
