/*
 * client.c - the HTTP client on libcurl (see client.h).
 *
 * Every request, one-shot or batched, runs on a curl multi handle driven here with
 * curl_multi_poll() in slices of AIOS_HTTPC_POLL_SLICE_MS, so that a cancel flag or a
 * process shutdown stops a call within that slice while curl keeps the deadline
 * (CURLOPT_TIMEOUT_MS). The multi handle owns the connection cache, so a handle that
 * carries one request after another keeps its connection alive between them, and
 * HTTP/2 streams to one server share one connection.
 *
 * TLS: OpenSSL through libcurl, TLS 1.2 minimum, 1.3 when the server offers it; the
 * server's name (DNS or IP subject alternative name) is verified by libcurl/OpenSSL.
 * Trust anchors and client certificates are handed to libcurl as in-memory blobs.
 */
#include "http/client.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "common/mem.h"
#include "common/shutdown.h"

/* ============================== process-wide setup ============================== */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	/* CURL_GLOBAL_DEFAULT initialises OpenSSL too; failure leaves every later call
	 * failing with a clear curl error, so nothing more is done here. */
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void ensure_global(void)
{
	pthread_once(&global_once, global_init);
}

/* ============================== TLS material ============================== */

struct aios_httpc_tls {
	char *ca, *cert, *key; /* PEM copies, or NULL */
	size_t ca_len, cert_len, key_len;
	int insecure;
};

static char *memdup_or_null(const char *p, size_t n)
{
	if (!p)
		return NULL;
	char *d = aios_xmalloc(n + 1);
	memcpy(d, p, n);
	d[n] = 0;
	return d;
}

/* OpenSSL's first queued error as text ("" when none), clearing the queue. */
static const char *ossl_reason(char *buf, size_t cap)
{
	unsigned long code = ERR_get_error();
	buf[0] = 0;
	if (code)
		ERR_error_string_n(code, buf, cap);
	ERR_clear_error();
	return buf;
}

/* Checks that pem holds at least one certificate; *first gets it when wanted. */
static enum aios_err check_certs(const char *pem, size_t len, const char *what, X509 **first)
{
	char why[256];
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!x)
		return aios_fail(AIOS_ERR_TLS, "TLS: %s is not a PEM certificate (%s)", what,
		                 ossl_reason(why, sizeof(why)));
	if (first)
		*first = x;
	else
		X509_free(x);
	return AIOS_OK;
}

enum aios_err aios_httpc_tls_new(const char *ca, size_t ca_len, const char *cert, size_t cert_len,
                                 const char *key, size_t key_len, int insecure,
                                 struct aios_httpc_tls **out)
{
	*out = NULL;
	if (!cert != !key)
		return aios_fail(AIOS_ERR_INVALID, "TLS: a client certificate needs its key and a "
		                                   "key its certificate");
	if ((ca && ca_len > INT32_MAX) || (cert && cert_len > INT32_MAX) ||
	    (key && key_len > INT32_MAX))
		return aios_fail(AIOS_ERR_TOO_BIG, "TLS: PEM input larger than 2 GiB");
	enum aios_err e;
	if (ca && !insecure && (e = check_certs(ca, ca_len, "certificate authority", NULL)))
		return e;
	if (cert) {
		X509 *x = NULL;
		char why[256];
		if ((e = check_certs(cert, cert_len, "client certificate", &x)))
			return e;
		BIO *bio = BIO_new_mem_buf(key, (int)key_len);
		EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!pk) {
			X509_free(x);
			return aios_fail(AIOS_ERR_TLS,
			                 "TLS: client key is not a PEM private key (%s)",
			                 ossl_reason(why, sizeof(why)));
		}
		int match = X509_check_private_key(x, pk);
		EVP_PKEY_free(pk);
		X509_free(x);
		ERR_clear_error();
		if (match != 1)
			return aios_fail(AIOS_ERR_TLS,
			                 "TLS: client key does not match its certificate");
	}
	struct aios_httpc_tls *t = aios_xcalloc(1, sizeof(*t));
	t->ca = insecure ? NULL : memdup_or_null(ca, ca_len);
	t->ca_len = t->ca ? ca_len : 0;
	t->cert = memdup_or_null(cert, cert_len);
	t->cert_len = cert_len;
	t->key = memdup_or_null(key, key_len);
	t->key_len = key_len;
	t->insecure = insecure;
	*out = t;
	return AIOS_OK;
}

void aios_httpc_tls_free(struct aios_httpc_tls *t)
{
	if (!t)
		return;
	if (t->key) {
		memset(t->key, 0, t->key_len);
		free(t->key);
	}
	free(t->ca);
	free(t->cert);
	free(t);
}

/* ============================== one transfer ============================== */

/* What a transfer's callbacks share with the code that drives it. */
struct xfer {
	CURL *easy;
	struct curl_slist *headers;
	const struct aios_httpc_req *req;
	struct aios_httpc_resp *resp;
	int too_big;      /* the body passed its cap */
	int sink_stopped; /* the sink asked to stop */
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	long code = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	x->resp->code = code;
	if (x->req->into && !x->req->sink && code >= 200 && code < 300) {
		if (aios_buf_append(x->req->into, p, n) != AIOS_OK) {
			aios_errclear();
			x->too_big = 1;
			return 0;
		}
		return n;
	}
	if (x->req->sink && code >= 200 && code < 300) {
		if (x->req->sink(x->req->sink_arg, p, n) != 0) {
			x->sink_stopped = 1;
			return 0; /* short: curl stops with CURLE_WRITE_ERROR */
		}
		return n;
	}
	if (aios_buf_append(&x->resp->body, p, n) != AIOS_OK) {
		aios_errclear();
		x->too_big = 1;
		return 0;
	}
	return n;
}

/* The value of header line p[0..n) when its name is `name` (no colon), trimmed into
 * out (cut to fit); 0 when the name differs. */
static int header_value(const char *p, size_t n, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	if (n <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
		return 0;
	const char *v = p + nl + 1, *end = p + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vl = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
	memcpy(out, v, vl);
	out[vl] = 0;
	return 1;
}

/* Content-Type and the req->keep_headers lines of the final answer: a status line (of a
 * 1xx or a redirect before it) starts the set over. */
static void keep_header(struct xfer *x, const char *p, size_t n)
{
	struct aios_httpc_resp *r = x->resp;
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		r->content_type[0] = 0;
		aios_buf_reset(&r->headers);
		return;
	}
	char v[1024];
	if (header_value(p, n, "content-type", v, sizeof(v))) {
		if (strlen(v) < sizeof(r->content_type))
			snprintf(r->content_type, sizeof(r->content_type), "%s", v);
		return;
	}
	for (const char *const *k = x->req->keep_headers; k && *k; k++) {
		if (!header_value(p, n, *k, v, sizeof(v)))
			continue;
		if (aios_buf_printf(&r->headers, "%s: %s\r\n", *k, v) != AIOS_OK)
			aios_errclear(); /* past the cap: dropped, as documented */
		return;
	}
}

/* Retry-After in seconds (delta-seconds form; an HTTP date counts as 1 s), kept in
 * the response; 1xx and header lines of other names are skipped. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	keep_header(x, p, n);
	if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		char tmp[32];
		size_t vl = n - (sizeof(name) - 1);
		if (vl >= sizeof(tmp))
			vl = sizeof(tmp) - 1;
		memcpy(tmp, p + sizeof(name) - 1, vl);
		tmp[vl] = 0;
		char *end;
		long v = strtol(tmp, &end, 10);
		if (end == tmp)
			v = 1;
		x->resp->retry_after_s = v < 0 ? 0 : v > 3600 ? 3600 : (int)v;
	}
	return n;
}

/* Every connection close-on-exec: a program spawned meanwhile (an exec credential
 * plugin, a pod process of the node agent, a test's child) must not inherit it. */
/* A TCP connection whose peer vanished without a FIN or RST is dropped after
 * AIOS_HTTPC_DEAD_PEER_MS of unacknowledged data or keepalive probes (TCP_USER_TIMEOUT):
 * with every watch of a process on one HTTP/2 connection, a silently dead one would
 * otherwise stall them all until the kernel's retransmissions give up (~15 min).
 * Keepalive probes start after 30 s idle, every 10 s (client-go dials with 30 s). */
#define AIOS_HTTPC_DEAD_PEER_MS 30000

static curl_socket_t open_cloexec(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)arg;
	(void)purpose;
	curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd >= 0 && (a->family == AF_INET || a->family == AF_INET6) &&
	    a->socktype == SOCK_STREAM) {
		unsigned int ms = AIOS_HTTPC_DEAD_PEER_MS;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	}
	return fd;
}

/* Puts req's options on x->easy. Only failures of our own input are reported. */
static enum aios_err setup(struct xfer *x, const struct aios_httpc_req *req,
                           const struct aios_httpc_opts *o)
{
	CURL *c = x->easy;
	const char *m = req->method ? req->method : "GET";
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "aios/" AIOS_VERSION);
	if (strcmp(m, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(m, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	if (req->body ||
	    (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "DELETE") != 0)) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->body ? req->body_len : 0));
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	/* "Expect:" off: no 100-continue round trip before a body */
	x->headers = curl_slist_append(NULL, "Expect:");
	for (const char *const *h = req->headers; h && *h; h++)
		x->headers = curl_slist_append(x->headers, *h);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->headers);

	int64_t t = o ? o->timeout_ms : 0;
	if (t > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)t);
	curl_easy_setopt(
	    c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(t > 0 && t < AIOS_HTTPC_CONNECT_TIMEOUT_MS ? t : AIOS_HTTPC_CONNECT_TIMEOUT_MS));
	if (o && o->low_speed_s > 0) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT,
		                 o->low_speed_bytes > 0 ? o->low_speed_bytes : 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)o->low_speed_s);
	}

	curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
	                 req->http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_PIPEWAIT, req->http2 ? 1L : 0L);
	if (req->connect_only)
		curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	if (req->follow_redirects) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	}
	if (req->proxy) {
		/* every request through it: NO_PROXY does not apply (client-go's rule for a
		 * kubeconfig's proxy-url); "" also keeps libcurl from reading no_proxy */
		curl_easy_setopt(c, CURLOPT_PROXY, req->proxy);
		curl_easy_setopt(c, CURLOPT_NOPROXY, "");
	}

	/* TLS: 1.2 at least; the maximum is left to OpenSSL (1.3 preferred) */
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_PROXY_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	const struct aios_httpc_tls *tls = req->tls;
	if (tls && tls->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (tls && tls->ca) {
		struct curl_blob b = {tls->ca, tls->ca_len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
	}
	if (tls && tls->cert) {
		struct curl_blob cb = {tls->cert, tls->cert_len, CURL_BLOB_NOCOPY};
		struct curl_blob kb = {tls->key, tls->key_len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return AIOS_OK;
}

/* The aios error for a finished transfer's curl code. */
static enum aios_err map_code(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK: return AIOS_OK;
	case CURLE_OPERATION_TIMEDOUT: return AIOS_ERR_TIMEOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL: return AIOS_ERR_INVALID;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_PROXY: return AIOS_ERR_UNAVAILABLE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED: return AIOS_ERR_TLS;
	case CURLE_ABORTED_BY_CALLBACK: return AIOS_ERR_CANCELLED;
	case CURLE_OUT_OF_MEMORY: return AIOS_ERR_NOMEM;
	default: return AIOS_ERR_PROTOCOL;
	}
}

/* The proxy's URL as a message may show it: scheme, host and port; user info (a
 * password) and any path left out. */
static void proxy_shown(const char *url, char *out, size_t cap)
{
	const char *sep = strstr(url, "://");
	size_t scheme = sep ? (size_t)(sep + 3 - url) : 0;
	const char *host = url + scheme;
	size_t len = strcspn(host, "/?#");
	for (size_t i = len; i > 0; i--)
		if (host[i - 1] == '@') {
			host += i;
			len -= i;
			break;
		}
	snprintf(out, cap, "%.*s%.*s", (int)scheme, url, (int)len, host);
}

/* Records the outcome of a finished transfer into resp and the error state. */
static enum aios_err finish(struct xfer *x, CURLcode rc)
{
	struct aios_httpc_resp *resp = x->resp;
	long code = 0, ver = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &ver);
	resp->code = code;
	resp->http_version = ver == CURL_HTTP_VERSION_2_0 ? 2 : 1;
	char what[512];
	if (x->req->what)
		snprintf(what, sizeof(what), "%s", x->req->what);
	else
		snprintf(what, sizeof(what), "%s %s", x->req->method ? x->req->method : "GET",
		         x->req->url);
	if (x->too_big)
		return aios_fail(AIOS_ERR_TOO_BIG, "%s: body larger than %zu bytes", what,
		                 x->req->into && code >= 200 && code < 300 ? x->req->into->max
		                                                           : resp->body.max);
	if (x->sink_stopped) {
		resp->sink_stopped = 1;
		return AIOS_ERR_CANCELLED; /* the sink holds the reason */
	}
	if (rc == CURLE_OK)
		return AIOS_OK;
	const char *text = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	char why[CURL_ERROR_SIZE + 64];
	long os_errno = 0;
	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
	if (rc == CURLE_COULDNT_CONNECT && os_errno) /* "Couldn't connect to server": why */
		snprintf(why, sizeof(why), "%s (%s)", text, strerror((int)os_errno));
	else
		snprintf(why, sizeof(why), "%s", text);
	/* A proxy that refused the connection or the tunnel is named: libcurl's text
	 * ("Failed to connect to 127.0.0.1 port 3128") does not say it was a proxy. With
	 * req->proxy every connection goes to it (setup); a proxy from the environment is
	 * only known when it answered the CONNECT or its name did not resolve. */
	long connect_code = 0;
	curl_easy_getinfo(x->easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
	int at_proxy = connect_code >= 300 || rc == CURLE_COULDNT_RESOLVE_PROXY ||
	               (x->req->proxy && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_PROXY));
	if (at_proxy) {
		char proxy[256] = "from the environment";
		if (x->req->proxy)
			proxy_shown(x->req->proxy, proxy, sizeof(proxy));
		return aios_fail(map_code(rc), "%s: proxy %s: %s", what, proxy, why);
	}
	return aios_fail(map_code(rc), "%s: %s", what, why);
}

static int stopped(const struct aios_httpc_opts *o)
{
	if (o && o->cancel && __atomic_load_n(o->cancel, __ATOMIC_ACQUIRE))
		return 1;
	return aios_shutdown_requested() && !(o && o->past_shutdown);
}

/* ============================== handles ============================== */

struct aios_httpc_handle {
	CURLM *multi; /* its connection cache outlives each request */
	CURL *easy;   /* reused: curl_easy_reset between requests */
};

struct aios_httpc_handle *aios_httpc_handle_new(void)
{
	ensure_global();
	struct aios_httpc_handle *h = aios_xcalloc(1, sizeof(*h));
	h->multi = curl_multi_init();
	h->easy = curl_easy_init();
	if (!h->multi || !h->easy)
		abort(); /* out of memory */
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	return h;
}

void aios_httpc_handle_free(struct aios_httpc_handle *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->easy);
	curl_multi_cleanup(h->multi);
	free(h);
}

void aios_httpc_resp_cleanup(struct aios_httpc_resp *resp)
{
	aios_buf_cleanup(&resp->body);
	aios_buf_cleanup(&resp->headers);
}

enum aios_err aios_httpc_perform(struct aios_httpc_handle *h, const struct aios_httpc_req *req,
                                 const struct aios_httpc_opts *o, struct aios_httpc_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	aios_buf_init(&resp->body, o && o->body_cap ? o->body_cap : AIOS_CAP_API_BODY);
	aios_buf_init(&resp->headers, AIOS_HTTPC_KEPT_HEADERS_CAP);
	struct xfer x = {.easy = h->easy, .req = req, .resp = resp};
	curl_easy_reset(h->easy);
	enum aios_err e = setup(&x, req, o);
	if (e) {
		curl_slist_free_all(x.headers);
		return e;
	}
	if (stopped(o)) {
		curl_slist_free_all(x.headers);
		return aios_fail(AIOS_ERR_CANCELLED, "%s %s: cancelled before it started",
		                 req->method ? req->method : "GET", req->url);
	}
	curl_multi_add_handle(h->multi, h->easy);
	CURLcode rc = CURLE_OK;
	int done = 0, cancelled = 0;
	while (!done) {
		int running = 0;
		CURLMcode mc = curl_multi_perform(h->multi, &running);
		if (mc != CURLM_OK) {
			rc = CURLE_OUT_OF_MEMORY;
			break;
		}
		int left;
		for (CURLMsg *msg; (msg = curl_multi_info_read(h->multi, &left)) != NULL;)
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->easy) {
				rc = msg->data.result;
				done = 1;
			}
		if (done)
			break;
		if (stopped(o)) {
			cancelled = 1;
			break;
		}
		curl_multi_poll(h->multi, NULL, 0, AIOS_HTTPC_POLL_SLICE_MS, NULL);
	}
	/* Removing an unfinished transfer closes its connection; a finished one goes back
	 * to the cache for the next request. */
	curl_multi_remove_handle(h->multi, h->easy);
	curl_slist_free_all(x.headers);
	if (cancelled) {
		long code = 0;
		curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
		resp->code = code;
		return aios_fail(AIOS_ERR_CANCELLED, "%s: cancelled",
		                 req->what ? req->what : req->url);
	}
	return finish(&x, rc);
}

enum aios_err aios_httpc_get(const char *url, const struct aios_httpc_opts *o, long *code,
                             struct aios_buf *body)
{
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	struct aios_httpc_req req = {.url = url, .into = body, .follow_redirects = 1};
	struct aios_httpc_opts oo = {0};
	if (o)
		oo = *o;
	if (!oo.body_cap)
		oo.body_cap = 64 << 10; /* a non-2xx body: only its start is of interest */
	struct aios_httpc_resp resp;
	enum aios_err e = aios_httpc_perform(h, &req, &oo, &resp);
	*code = resp.code;
	aios_httpc_resp_cleanup(&resp);
	aios_httpc_handle_free(h);
	return e;
}

/* ============================== batches ============================== */

struct aios_httpc_batch {
	CURLM *multi;
	int max_parallel;
};

struct aios_httpc_batch *aios_httpc_batch_new(int max_parallel, int max_idle)
{
	ensure_global();
	struct aios_httpc_batch *b = aios_xcalloc(1, sizeof(*b));
	b->multi = curl_multi_init();
	if (!b->multi)
		abort(); /* out of memory */
	b->max_parallel = max_parallel > 0 ? max_parallel : 1;
	curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)(max_idle > 0 ? max_idle : 1));
	return b;
}

void aios_httpc_batch_free(struct aios_httpc_batch *b)
{
	if (!b)
		return;
	curl_multi_cleanup(b->multi);
	free(b);
}

void aios_httpc_result_cleanup(struct aios_httpc_result *r)
{
	aios_buf_cleanup(&r->body);
}

struct bslot {
	struct xfer x;
	struct aios_httpc_req req;
	struct aios_httpc_resp resp;
};

/* Copies a finished slot's outcome into its result. */
static void bslot_result(struct bslot *s, CURLcode rc, struct aios_httpc_result *r)
{
	enum aios_err e = finish(&s->x, rc);
	r->code = s->resp.code;
	r->err = e;
	if (e) {
		if (s->x.too_big)
			snprintf(r->error, sizeof(r->error), "page larger than %zu bytes",
			         s->resp.body.max);
		else
			snprintf(r->error, sizeof(r->error), "%s%s",
			         rc == CURLE_OPERATION_TIMEDOUT ? "timeout: " : "",
			         s->x.errbuf[0] ? s->x.errbuf : curl_easy_strerror(rc));
		aios_errclear();
	}
	r->body = s->resp.body; /* handed over */
	memset(&s->resp.body, 0, sizeof(s->resp.body));
}

void aios_httpc_batch_get(struct aios_httpc_batch *b, const char *const *urls, size_t n,
                          const struct aios_httpc_opts *o, struct aios_httpc_result *out)
{
	struct bslot *slots = aios_xcalloc(n ? n : 1, sizeof(*slots));
	size_t next = 0, active = 0, finished = 0;
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		aios_buf_init(&out[i].body, 0);
	}
	while (finished < n) {
		while (next < n && active < (size_t)b->max_parallel) {
			struct bslot *s = &slots[next];
			s->req.url = urls[next];
			s->req.what = urls[next];
			aios_buf_init(&s->resp.body,
			              o && o->body_cap ? o->body_cap : AIOS_CAP_API_BODY);
			s->x.easy = curl_easy_init();
			if (!s->x.easy)
				abort(); /* out of memory */
			s->x.req = &s->req;
			s->x.resp = &s->resp;
			if (setup(&s->x, &s->req, o) != AIOS_OK)
				aios_errclear(); /* setup fails on no input of a GET */
			curl_easy_setopt(s->x.easy, CURLOPT_PRIVATE, s);
			curl_multi_add_handle(b->multi, s->x.easy);
			next++;
			active++;
		}
		int running = 0;
		curl_multi_perform(b->multi, &running);
		int left;
		for (CURLMsg *msg; (msg = curl_multi_info_read(b->multi, &left)) != NULL;) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct bslot *s = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			CURLcode rc = msg->data.result;
			bslot_result(s, rc, &out[s - slots]);
			curl_multi_remove_handle(b->multi, s->x.easy);
			curl_easy_cleanup(s->x.easy);
			curl_slist_free_all(s->x.headers);
			s->x.easy = NULL;
			active--;
			finished++;
		}
		if (finished < n && active > 0)
			curl_multi_poll(b->multi, NULL, 0, AIOS_HTTPC_POLL_SLICE_MS, NULL);
	}
	free(slots);
}

/* ============================== the shared multiplexer ============================== */

/*
 * One thread owns the multi handle and does every curl call on it; callers hand it a
 * prepared transfer and wait on their own condition variable. Under m->mu: the lists,
 * and each transfer's done/rc/queue/paused/want_unpause/abort/lagged. The transfer's
 * own buffers (resp, into) are written by the curl thread only while the caller waits.
 *
 * A streamed body's bytes wait in the transfer's queue for the caller's sink. When the
 * queue is full: over HTTP/1.1 the transfer is paused (its connection is its own, so
 * TCP holds the server back); over HTTP/2 it is ended instead. libcurl 7.88 keeps
 * reading a paused HTTP/2 stream into a buffer of its own, up to the stream's 32 MiB
 * window, so a pause would bound nothing; a reader that far behind is dropped, as
 * kube-apiserver drops a watcher that does not keep up, and the caller starts again.
 */
struct mux_xfer {
	struct xfer x;
	pthread_cond_t cv;
	int done;          /* the curl thread is finished with it */
	CURLcode rc;       /* its outcome */
	struct aios_buf q; /* streamed bytes not yet given to the sink */
	int paused;        /* the write callback paused the stream (q was full) */
	int want_unpause;  /* the caller emptied q: resume the stream */
	int abort;         /* the caller gave up (cancel, shutdown, its sink said stop) */
	int lagged;        /* HTTP/2 and q was full: the stream was ended */
	int added;         /* on the multi handle */
	struct mux_xfer *next, *prev;
};

struct aios_httpc_mux {
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t idle;      /* callers dropped to 0 while stop is set */
	int stop;                 /* aios_httpc_mux_free began: no new transfer */
	int callers;              /* calls between their submit and their return */
	struct mux_xfer *pending; /* submitted, not yet on the multi handle */
	struct mux_xfer *active;  /* on the multi handle */
};

static void list_push(struct mux_xfer **head, struct mux_xfer *t)
{
	t->prev = NULL;
	t->next = *head;
	if (*head)
		(*head)->prev = t;
	*head = t;
}

static void list_del(struct mux_xfer **head, struct mux_xfer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		*head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

/* m and t travel together through CURLOPT_WRITEDATA. */
struct mux_ctx {
	struct aios_httpc_mux *m;
	struct mux_xfer *t;
};

static size_t mux_on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct mux_ctx *cx = arg;
	struct mux_xfer *t = cx->t;
	size_t n = size * nmemb;
	long code = 0;
	curl_easy_getinfo(t->x.easy, CURLINFO_RESPONSE_CODE, &code);
	if (!(t->x.req->sink && code >= 200 && code < 300))
		return on_write(p, size, nmemb, &t->x);
	t->x.resp->code = code;
	pthread_mutex_lock(&cx->m->mu);
	if (t->abort) {
		pthread_mutex_unlock(&cx->m->mu);
		return 0;
	}
	if (t->q.len > 0 && t->q.len + n > t->q.max) {
		long ver = 0;
		curl_easy_getinfo(t->x.easy, CURLINFO_HTTP_VERSION, &ver);
		if (ver == CURL_HTTP_VERSION_2_0) {
			t->lagged = 1; /* a short write ends this stream only (RST_STREAM) */
			pthread_mutex_unlock(&cx->m->mu);
			return 0;
		}
		/* full: curl keeps these bytes and hands them over again after the resume */
		t->paused = 1;
		pthread_mutex_unlock(&cx->m->mu);
		return CURL_WRITEFUNC_PAUSE;
	}
	/* an empty queue takes any one delivery (curl's are at most CURL_MAX_WRITE_SIZE) */
	t->q.max = t->q.max > t->q.len + n ? t->q.max : t->q.len + n;
	if (aios_buf_append(&t->q, p, n) != AIOS_OK)
		abort(); /* the cap was raised just above */
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&cx->m->mu);
	return n;
}

/* Marks t finished with rc and wakes its caller (under m->mu). */
static void mux_done(struct aios_httpc_mux *m, struct mux_xfer *t, CURLcode rc)
{
	list_del(t->added ? &m->active : &m->pending, t);
	t->added = 0;
	t->done = 1;
	t->rc = rc;
	pthread_cond_signal(&t->cv);
}

static void *mux_main(void *arg)
{
	struct aios_httpc_mux *m = arg;
	for (;;) {
		struct mux_xfer *resume[64];
		int nresume = 0, more = 0;
		pthread_mutex_lock(&m->mu);
		while (m->pending) {
			struct mux_xfer *t = m->pending;
			if (curl_multi_add_handle(m->multi, t->x.easy) != CURLM_OK) {
				mux_done(m, t, CURLE_OUT_OF_MEMORY);
				continue;
			}
			list_del(&m->pending, t);
			list_push(&m->active, t);
			t->added = 1;
		}
		for (struct mux_xfer *t = m->active, *nx; t; t = nx) {
			nx = t->next;
			if (t->abort) {
				/* removing an unfinished transfer closes only its own stream (or
				 * its HTTP/1.1 connection) */
				curl_multi_remove_handle(m->multi, t->x.easy);
				mux_done(m, t, CURLE_ABORTED_BY_CALLBACK);
			} else if (t->want_unpause && nresume == 64) {
				more = 1; /* the next turn, without waiting */
			} else if (t->want_unpause) {
				t->want_unpause = 0;
				t->paused = 0;
				resume[nresume++] = t;
			}
		}
		int stop = m->stop;
		pthread_mutex_unlock(&m->mu);
		if (stop)
			break;
		/* outside the lock: a resume may call the write callback at once */
		for (int i = 0; i < nresume; i++)
			curl_easy_pause(resume[i]->x.easy, CURLPAUSE_CONT);
		int running = 0;
		curl_multi_perform(m->multi, &running);
		int left;
		for (CURLMsg *msg; (msg = curl_multi_info_read(m->multi, &left)) != NULL;) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct mux_xfer *t = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			CURLcode rc = msg->data.result;
			curl_multi_remove_handle(m->multi, msg->easy_handle);
			pthread_mutex_lock(&m->mu);
			mux_done(m, t, rc);
			pthread_mutex_unlock(&m->mu);
		}
		/* woken early by curl_multi_wakeup when a caller submits, resumes or aborts;
		 * curl shortens the wait to its own next timer (deadlines, connects) */
		curl_multi_poll(m->multi, NULL, 0, more ? 0 : 1000, NULL);
	}
	/* leftovers (the owner broke the no-request-in-flight rule): end them */
	pthread_mutex_lock(&m->mu);
	while (m->pending)
		mux_done(m, m->pending, CURLE_ABORTED_BY_CALLBACK);
	while (m->active) {
		curl_multi_remove_handle(m->multi, m->active->x.easy);
		mux_done(m, m->active, CURLE_ABORTED_BY_CALLBACK);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

struct aios_httpc_mux *aios_httpc_mux_new(void)
{
	ensure_global();
	struct aios_httpc_mux *m = aios_xcalloc(1, sizeof(*m));
	m->multi = curl_multi_init();
	if (!m->multi)
		abort(); /* out of memory */
	curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(m->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)AIOS_HTTPC_MUX_STREAMS);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->idle, NULL);
	if (pthread_create(&m->thread, NULL, mux_main, m) != 0)
		abort(); /* no thread: nothing could run */
	return m;
}

void aios_httpc_mux_free(struct aios_httpc_mux *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	pthread_mutex_unlock(&m->mu);
	curl_multi_wakeup(m->multi);
	pthread_join(m->thread, NULL);
	/* the thread ended every transfer left; wait for their callers to return */
	pthread_mutex_lock(&m->mu);
	while (m->callers > 0)
		pthread_cond_wait(&m->idle, &m->mu);
	pthread_mutex_unlock(&m->mu);
	curl_multi_cleanup(m->multi);
	pthread_cond_destroy(&m->idle);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static void wait_slice(pthread_cond_t *cv, pthread_mutex_t *mu)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)AIOS_HTTPC_POLL_SLICE_MS * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(cv, mu, &ts);
}

enum aios_err aios_httpc_mux_perform(struct aios_httpc_mux *m, const struct aios_httpc_req *req,
                                     const struct aios_httpc_opts *o, struct aios_httpc_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	aios_buf_init(&resp->body, o && o->body_cap ? o->body_cap : AIOS_CAP_API_BODY);
	aios_buf_init(&resp->headers, AIOS_HTTPC_KEPT_HEADERS_CAP);
	if (stopped(o))
		return aios_fail(AIOS_ERR_CANCELLED, "%s %s: cancelled before it started",
		                 req->method ? req->method : "GET", req->url);
	struct mux_xfer *t = aios_xcalloc(1, sizeof(*t));
	struct mux_ctx cx = {m, t};
	t->x.easy = curl_easy_init();
	if (!t->x.easy)
		abort(); /* out of memory */
	t->x.req = req;
	t->x.resp = resp;
	aios_buf_init(&t->q, AIOS_HTTPC_MUX_QUEUE_CAP);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	int submitted = 0; /* counted in m->callers */
	enum aios_err e = setup(&t->x, req, o);
	if (e)
		goto out;
	curl_easy_setopt(t->x.easy, CURLOPT_WRITEFUNCTION, mux_on_write);
	curl_easy_setopt(t->x.easy, CURLOPT_WRITEDATA, &cx);
	curl_easy_setopt(t->x.easy, CURLOPT_PRIVATE, t);

	pthread_mutex_lock(&m->mu);
	if (m->stop) {
		pthread_mutex_unlock(&m->mu);
		e = aios_fail(AIOS_ERR_CANCELLED, "%s: the client is being closed",
		              req->what ? req->what : req->url);
		goto out;
	}
	m->callers++;
	submitted = 1;
	list_push(&m->pending, t);
	pthread_mutex_unlock(&m->mu);
	curl_multi_wakeup(m->multi);

	struct aios_buf chunk; /* the sink's bytes, taken from q to run it unlocked */
	aios_buf_init(&chunk, AIOS_HTTPC_MUX_QUEUE_CAP);
	int cancelled = 0;
	pthread_mutex_lock(&m->mu);
	for (;;) {
		if (!t->abort && !t->done && stopped(o)) {
			cancelled = 1;
			t->abort = 1;
			pthread_mutex_unlock(&m->mu);
			curl_multi_wakeup(m->multi);
			pthread_mutex_lock(&m->mu);
			continue;
		}
		if (t->q.len > 0 && !t->abort) {
			struct aios_buf tmp = chunk;
			chunk = t->q;
			t->q = tmp;
			t->q.max = AIOS_HTTPC_MUX_QUEUE_CAP;
			int wake = t->paused;
			if (wake)
				t->want_unpause = 1;
			pthread_mutex_unlock(&m->mu);
			if (wake)
				curl_multi_wakeup(m->multi);
			int stop = req->sink(req->sink_arg, chunk.data, chunk.len);
			if (chunk.cap > AIOS_HTTPC_MUX_KEEP)
				aios_buf_cleanup(&chunk); /* a burst's buffer is not kept */
			else
				aios_buf_reset(&chunk);
			pthread_mutex_lock(&m->mu);
			if (stop && !t->done) {
				t->x.sink_stopped = 1;
				t->abort = 1;
				pthread_mutex_unlock(&m->mu);
				curl_multi_wakeup(m->multi);
				pthread_mutex_lock(&m->mu);
			} else if (stop) {
				t->x.sink_stopped = 1;
			}
			continue;
		}
		if (t->done)
			break;
		wait_slice(&t->cv, &m->mu);
	}
	CURLcode rc = t->rc;
	int lagged = t->lagged;
	pthread_mutex_unlock(&m->mu);
	aios_buf_cleanup(&chunk);
	if (lagged && !t->x.sink_stopped && !cancelled) {
		(void)finish(&t->x, rc); /* code and version into resp */
		e = aios_fail(AIOS_ERR_TOO_BIG,
		              "%s: the reader fell %u bytes behind the HTTP/2 stream, which was "
		              "ended",
		              req->what ? req->what : req->url, AIOS_HTTPC_MUX_QUEUE_CAP);
	} else if (cancelled) {
		long code = 0;
		curl_easy_getinfo(t->x.easy, CURLINFO_RESPONSE_CODE, &code);
		resp->code = code;
		e = aios_fail(AIOS_ERR_CANCELLED, "%s: cancelled",
		              req->what ? req->what : req->url);
	} else {
		e = finish(&t->x, rc);
	}
out:
	curl_slist_free_all(t->x.headers);
	curl_easy_cleanup(t->x.easy);
	if (submitted) {
		pthread_mutex_lock(&m->mu); /* the last touch of m: mux_free waits for it */
		if (--m->callers == 0 && m->stop)
			pthread_cond_signal(&m->idle);
		pthread_mutex_unlock(&m->mu);
	}
	pthread_cond_destroy(&t->cv);
	aios_buf_cleanup(&t->q);
	free(t);
	return e;
}
