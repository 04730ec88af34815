/*
 * http_response_fuzz.c - the HTTP client's response parser (http/client.h) on arbitrary
 * bytes, fed in pieces: the first byte picks the piece size (1-64) and whether the
 * request was a HEAD, the rest is what a server (the API server, a pod's /metrics)
 * sent, then the connection closes. Whatever comes, the parser takes no more bytes than
 * it was given, delivers at most what it was fed as body, ends in a decided state, and
 * a refusal carries a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "http/client.h"

static size_t g_body;

static int on_body(void *arg, const char *p, size_t n)
{
	g_body += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] & 63) + 1;
	const char *method = (data[0] & 64) ? "HEAD" : "GET";
	const char *p = (const char *)data + 1;
	size_t n = size - 1, off = 0;
	static const struct aios_httpc_handler h = {NULL, NULL, on_body};
	struct aios_httpc_parser ps;
	g_body = 0;
	aios_errclear();
	aios_httpc_parser_init(&ps, method, &h, NULL);
	enum aios_err e = AIOS_OK;
	while (off < n && !e && !aios_httpc_parser_done(&ps)) {
		size_t k = n - off < step ? n - off : step, used = 0;
		e = aios_httpc_parser_feed(&ps, p + off, k, &used);
		if (used > k)
			abort();
		off += used;
		if (!e && used < k && !aios_httpc_parser_done(&ps))
			abort(); /* it stops short only at the end of the response */
	}
	if (!e)
		e = aios_httpc_parser_eof(&ps);
	if (g_body > n)
		abort();
	if (e && !aios_errmsg()[0])
		abort();
	if (!e && !aios_httpc_parser_done(&ps))
		abort();
	aios_httpc_parser_cleanup(&ps);
	return 0;
}
