/*
 * source.c - reading a model artifact from a storage URI (source.h).
 */
#include "serve/source.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hash.h"
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

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct aios_buf *b = ud;
	if (aios_buf_append(b, p, size * nmemb) != AIOS_OK)
		return 0; /* too big: curl aborts with CURLE_WRITE_ERROR */
	return size * nmemb;
}

/*
 * libcurl and its dependency tree (GnuTLS, Kerberos, LDAP, ...) cost ~3 MiB of
 * resident memory once mapped, and only http(s) model URIs need it, so it is loaded
 * on first use instead of linked (the edge footprint target is 10 MiB RSS).
 */
struct curl_api {
	CURL *(*init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*perform)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	void (*cleanup)(CURL *);
	const char *(*strerror)(CURLcode);
};

static enum aios_err load_curl(struct curl_api *a, const char *uri)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: cannot load libcurl for http(s) URIs: %s", uri, dlerror());
	*(void **)&a->init = dlsym(h, "curl_easy_init");
	*(void **)&a->setopt = dlsym(h, "curl_easy_setopt");
	*(void **)&a->perform = dlsym(h, "curl_easy_perform");
	*(void **)&a->getinfo = dlsym(h, "curl_easy_getinfo");
	*(void **)&a->cleanup = dlsym(h, "curl_easy_cleanup");
	*(void **)&a->strerror = dlsym(h, "curl_easy_strerror");
	if (!a->init || !a->setopt || !a->perform || !a->getinfo || !a->cleanup || !a->strerror)
		return aios_fail(AIOS_ERR_UNSUPPORTED, "%s: libcurl lacks the easy API", uri);
	return AIOS_OK; /* the handle stays open for the life of the process */
}

static enum aios_err fetch_http(const char *uri, struct aios_buf *b)
{
	struct curl_api api = {0};
	enum aios_err e = load_curl(&api, uri);
	if (e)
		return e;
	CURL *c = api.init();
	if (!c)
		return aios_fail(AIOS_ERR_NOMEM, "%s: cannot start libcurl", uri);
	char errbuf[CURL_ERROR_SIZE] = "";
	api.setopt(c, CURLOPT_URL, uri);
	api.setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	api.setopt(c, CURLOPT_MAXREDIRS, 5L);
	api.setopt(c, CURLOPT_TIMEOUT, 60L);
	api.setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	api.setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	api.setopt(c, CURLOPT_WRITEDATA, b);
	api.setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	api.setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode r = api.perform(c);
	long code = 0;
	api.getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	api.cleanup(c);
	if (r == CURLE_WRITE_ERROR)
		return aios_fail(AIOS_ERR_TOO_BIG, "%s: artifact larger than %zu bytes", uri,
		                 b->max);
	if (r != CURLE_OK)
		return aios_fail(AIOS_ERR_UNAVAILABLE, "%s: %s", uri,
		                 *errbuf ? errbuf : api.strerror(r));
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
