/*
 * serve_http_fuzz.c - the HTTP/1.1 request parser (http.h) on arbitrary bytes.
 *
 * The parser works in place, so the input is copied, but into a buffer of exactly
 * size bytes with no terminator after it: a read one byte past the input is an
 * ASan heap-buffer-overflow here, where a NUL-terminated copy would hide it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0; /* nothing to parse; malloc(0) proves nothing */
	char *buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	size_t off = 0;
	/* parse pipelined requests until the input is used up or refused */
	for (int i = 0; i < 64 && off < size; i++) {
		struct aios_http_req req;
		size_t used = 0;
		int status = 0, expect = 0;
		const char *reason = NULL;
		enum aios_http_parse r = aios_http_parse_request(
		    buf + off, size - off, 1024, 4096, &req, &used, &status, &reason, &expect);
		if (r != AIOS_HTTP_PARSE_OK) {
			if (r == AIOS_HTTP_PARSE_ERROR &&
			    (status < 400 || status > 599 || !reason || !reason[0]))
				abort(); /* every refusal has an error status and says why */
			break;
		}
		if (used == 0 || used > size - off || req.body_len > 4096 || !req.method[0] ||
		    req.path[0] != '/')
			abort();
		if (req.body_len &&
		    (req.body < buf + off || req.body + req.body_len > buf + off + used))
			abort();
		for (int h = 0; h < req.n_headers; h++) /* each value is clean of controls */
			for (const char *v = req.headers[h].value; *v; v++)
				if ((*v > 0 && *v < 0x20 && *v != '\t') || *v == 0x7f)
					abort();
		(void)aios_http_req_header(&req, "content-length");
		(void)aios_http_match("/v1/models/{name}:predict", req.path, &req);
		(void)aios_http_match("/v2/models/{name}/infer", req.path, &req);
		off += used;
	}
	free(buf);
	return 0;
}
