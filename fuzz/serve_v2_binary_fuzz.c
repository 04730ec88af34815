/*
 * serve_v2_binary_fuzz.c - the binary tensor extension's framing on arbitrary bytes: the
 * Inference-Header-Content-Length value, then the JSON header and binary part it splits
 * the body into. Input: byte 0 picks the model's inputs; bytes up to the first '\n' are
 * the header's value (absent if there is no '\n'); the rest is the body. A parse that
 * succeeds must hold exactly what it claims, agree with the json-c reference path, and
 * its binary response must frame itself (header length + rows * outputs * 4 bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int n_in = 1 + data[0] % 8;
	const char *rest = (const char *)data + 1, *nl = memchr(rest, '\n', size - 1);
	char value[64];
	const char *body = rest;
	size_t len = size - 1, json_len = AIOS_PROTO_NO_BINARY;
	char err[256] = "", err2[256] = "";
	if (nl) {
		size_t vn = (size_t)(nl - rest);
		if (vn >= sizeof value)
			return 0;
		memcpy(value, rest, vn);
		value[vn] = '\0';
		body = nl + 1;
		len = size - 1 - vn - 1;
		if (aios_proto_v2_header_length(value, len, &json_len, err, sizeof err) !=
		    AIOS_OK) {
			if (!err[0])
				abort();
			return 0;
		}
		if (json_len > len)
			abort();
	}
	/* a private copy of exactly len bytes: ASan sees any read past the body */
	char *copy = malloc(len ? len : 1);
	memcpy(copy, body, len);
	struct aios_proto_batch b, r;
	enum aios_err e =
	    aios_proto_v2_parse_binary(copy, len, json_len, n_in, 64, &b, err, sizeof err);
	enum aios_err e2 =
	    aios_proto_v2_parse_ref(copy, len, json_len, n_in, 64, &r, err2, sizeof err2);
	if (e != e2 || (e && strcmp(err, err2) != 0))
		abort();
	if (e == AIOS_OK) {
		if (b.rows < 1 || b.rows > 64 || b.cols != n_in ||
		    memcmp(b.x, r.x, sizeof(float) * (size_t)b.rows * (size_t)b.cols) != 0)
			abort();
		struct aios_buf out;
		aios_buf_init(&out, 1 << 20);
		size_t jl;
		if (aios_proto_v2_encode_binary("m", b.id, b.x, b.rows, n_in, &out, &jl) !=
		        AIOS_OK ||
		    out.len != jl + (size_t)b.rows * (size_t)n_in * 4)
			abort();
		aios_buf_cleanup(&out);
		free(b.x);
		free(r.x);
	} else if (b.x || r.x || !err[0]) {
		abort();
	}
	free(copy);
	return 0;
}
