/* serve_http_fuzz.c - the HTTP/1.1 request parser (http.h) on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1); /* exact size: ASan sees any overread */
	memcpy(buf, data, size);
	buf[size] = 0;
	size_t off = 0;
	/* parse pipelined requests until the input is used up or refused */
	for (int i = 0; i < 64 && off < size; i++) {
		struct aios_http_req req;
		size_t used = 0;
		int status = 0, expect = 0;
		enum aios_http_parse r = aios_http_parse_request(buf + off, size - off, 1024, 4096,
		                                                 &req, &used, &status, &expect);
		if (r != AIOS_HTTP_PARSE_OK) {
			if (r == AIOS_HTTP_PARSE_ERROR && (status < 400 || status > 599))
				abort();
			break;
		}
		if (used == 0 || used > size - off || req.body_len > 4096 || !req.method[0] ||
		    req.path[0] != '/')
			abort();
		if (req.body_len &&
		    (req.body < buf + off || req.body + req.body_len > buf + off + used))
			abort();
		(void)aios_http_req_header(&req, "content-length");
		(void)aios_http_match("/v1/models/{name}:predict", req.path, &req);
		(void)aios_http_match("/v2/models/{name}/infer", req.path, &req);
		off += used;
	}
	free(buf);
	return 0;
}
