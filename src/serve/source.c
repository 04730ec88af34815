/*
 * source.c - reading a model artifact from a storage URI (source.h).
 */
#include "serve/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hash.h"
#include "http/client.h"
#include "model/onnx.h"

static int has_dotdot(const char *p)
{
	for (const char *s = p; (s = strstr(s, "..")); s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
			return 1;
	return 0;
}

enum aios_err aios_source_local_path(const char *uri, char *out, size_t n)
{
	if (strncmp(uri, "file://", 7) == 0) {
		const char *p = uri + 7;
		if (*p != '/')
			return aios_fail(AIOS_ERR_INVALID,
			                 "%s: file:// URIs need an absolute path "
			                 "(file:///path)",
			                 uri);
		snprintf(out, n, "%s", p);
		return AIOS_OK;
	}
	if (strncmp(uri, "pvc://", 6) == 0) {
		const char *claim = uri + 6, *slash = strchr(claim, '/');
		if (!slash || slash == claim || !slash[1])
			return aios_fail(AIOS_ERR_INVALID, "%s: expected pvc://CLAIM/PATH", uri);
		if (has_dotdot(slash + 1))
			return aios_fail(AIOS_ERR_INVALID,
			                 "%s: \"..\" is not allowed in a pvc path", uri);
		const char *root = getenv("AIOS_PVC_ROOT");
		if (!root || !*root)
			root = "/mnt/pvc";
		int len = snprintf(out, n, "%s/%.*s%s", root, (int)(slash - claim), claim, slash);
		if (len < 0 || (size_t)len >= n)
			return aios_fail(AIOS_ERR_TOO_BIG, "%s: path too long", uri);
		return AIOS_OK;
	}
	if (strstr(uri, "://"))
		return aios_fail(AIOS_ERR_INVALID, "%s: not a local URI", uri);
	snprintf(out, n, "%s", uri);
	return AIOS_OK;
}

/* GET uri into b (its cap is the artifact limit), following redirects, within 60 s. */
static enum aios_err fetch_http(const char *uri, struct aios_buf *b)
{
	struct aios_httpc_opts o = {.timeout_ms = 60000};
	long code = 0;
	enum aios_err e = aios_httpc_get(uri, &o, &code, b);
	if (e == AIOS_ERR_TOO_BIG)
		return aios_fail(AIOS_ERR_TOO_BIG, "%s: artifact larger than %zu bytes", uri,
		                 b->max);
	if (e)
		return aios_fail_wrap(AIOS_ERR_UNAVAILABLE, "model artifact");
	if (code != 200)
		return aios_fail(code == 404 ? AIOS_ERR_NOT_FOUND : AIOS_ERR_UNAVAILABLE,
		                 "%s: HTTP status %ld", uri, code);
	return AIOS_OK;
}

enum aios_err aios_source_read(const char *uri, struct aios_buf *b)
{
	if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0)
		return fetch_http(uri, b);
	char path[4096];
	enum aios_err e = aios_source_local_path(uri, path, sizeof path);
	if (e)
		return e;
	return aios_buf_read_file(b, path);
}

enum aios_err aios_source_load_model(const char *uri, const char *sha256_hex, const char *format,
                                     struct aios_model **out)
{
	struct aios_buf b;
	aios_buf_init(&b, AIOS_CAP_ARTIFACT);
	enum aios_err e = aios_source_read(uri, &b);
	if (!e && sha256_hex) {
		uint8_t d[AIOS_SHA256_LEN];
		char hex[AIOS_SHA256_HEX];
		aios_sha256(b.data, b.len, d);
		aios_sha256_hex(d, hex);
		if (strcasecmp(hex, sha256_hex) != 0)
			e = aios_fail(AIOS_ERR_DIGEST, "%s: SHA-256 is %s, expected %s", uri, hex,
			              sha256_hex);
	}
	const char *p = b.data ? b.data : "";
	int onnx = format && !strcmp(format, "onnx");
	if (!format || !strcmp(format, "auto"))
		onnx = aios_onnx_sniff(p, b.len);
	else if (!onnx && strcmp(format, "aios"))
		e = aios_fail(AIOS_ERR_INVALID, "model format \"%s\" is not auto, aios or onnx",
		              format);
	if (!e)
		e = onnx ? aios_onnx_read_mem(p, b.len, uri, out)
		         : aios_model_read_mem(p, b.len, uri, out);
	aios_buf_cleanup(&b);
	return e;
}
