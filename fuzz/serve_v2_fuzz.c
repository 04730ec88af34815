/*
 * serve_v2_fuzz.c - the Open Inference Protocol V2 infer body parser on arbitrary bytes,
 * its fast path checked against the json-c reference path (same result, floats and
 * message). The binary framing has its own driver (serve_v2_binary_fuzz.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int n_in = size ? 1 + data[0] % 8 : 4;
	const char *body = size ? (const char *)data + 1 : "";
	size_t len = size ? size - 1 : 0;
	struct aios_proto_batch b, r;
	char err[256] = "", err2[256] = "";
	enum aios_err e = aios_proto_v2_parse(body, len, n_in, 64, &b, err, sizeof err);
	enum aios_err e2 = aios_proto_v2_parse_ref(body, len, AIOS_PROTO_NO_BINARY, n_in, 64, &r,
	                                           err2, sizeof err2);
	if (e != e2 || (e && strcmp(err, err2) != 0))
		abort(); /* the fast path drifted from the reference */
	if (e == AIOS_OK) {
		if (b.rows < 1 || b.cols != n_in || strlen(b.id) >= AIOS_PROTO_ID_MAX ||
		    b.rows != r.rows || b.binary_out != r.binary_out ||
		    memcmp(b.x, r.x, sizeof(float) * (size_t)b.rows * (size_t)n_in) != 0)
			abort();
		free(r.x);
		float sum = 0;
		for (size_t i = 0; i < (size_t)b.rows * b.cols; i++)
			sum += b.x[i]; /* every element was written (ASan/MSan would see) */
		(void)sum;
		struct aios_buf out;
		aios_buf_init(&out, 1 << 24);
		if (aios_proto_v2_encode("m", b.id, b.x, b.rows, b.cols, &out) != AIOS_OK)
			abort();
		aios_buf_cleanup(&out);
		free(b.x);
	} else if (b.x || !err[0]) {
		abort();
	}
	return 0;
}
