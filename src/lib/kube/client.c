/*
 * client.c - the Kubernetes API client: configuration of curl, the request path, and
 * the decoding of answers and API Status errors.
 *
 * Threads: the client holds a pool of idle curl easy handles (AIOS_KUBE_POOL) and a
 * curl share handle (connections and DNS) guarded by one mutex per lock
 * kind. A call borrows a handle, resets it, sets every option, performs, and returns
 * it. HTTP/1.1 is forced: watches are long streams, one per connection, and curl's
 * HTTP/2 multiplexing across threads through a share is not something to rely on.
 */
#include "kube/client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "kube/kube_internal.h"

#define AIOS_KUBE_POOL               8     /* idle handles kept; more are made on demand */
#define AIOS_KUBE_RECV_BUFFER        4096  /* curl's per-handle receive buffer (memory) */
#define AIOS_KUBE_DEFAULT_TIMEOUT_MS 30000 /* a non-watch request, end to end */
#define AIOS_KUBE_CONNECT_TIMEOUT_MS 10000
#define AIOS_KUBE_TOKEN_CAP          65536 /* a bearer token file */

/* ------------------------------------------------------------------------ */
/* resources                                                                 */
/* ------------------------------------------------------------------------ */

const struct aios_kube_gvr aios_kube_namespaces = {"", "v1", "namespaces", 0};
const struct aios_kube_gvr aios_kube_pods = {"", "v1", "pods", 1};
const struct aios_kube_gvr aios_kube_services = {"", "v1", "services", 1};
const struct aios_kube_gvr aios_kube_endpoints = {"", "v1", "endpoints", 1};
const struct aios_kube_gvr aios_kube_configmaps = {"", "v1", "configmaps", 1};
const struct aios_kube_gvr aios_kube_secrets = {"", "v1", "secrets", 1};
const struct aios_kube_gvr aios_kube_events = {"", "v1", "events", 1};
const struct aios_kube_gvr aios_kube_nodes = {"", "v1", "nodes", 0};
const struct aios_kube_gvr aios_kube_pvs = {"", "v1", "persistentvolumes", 0};
const struct aios_kube_gvr aios_kube_pvcs = {"", "v1", "persistentvolumeclaims", 1};
const struct aios_kube_gvr aios_kube_serviceaccounts = {"", "v1", "serviceaccounts", 1};
const struct aios_kube_gvr aios_kube_leases = {"coordination.k8s.io", "v1", "leases", 1};
const struct aios_kube_gvr aios_kube_crds = {"apiextensions.k8s.io", "v1",
                                             "customresourcedefinitions", 0};
const struct aios_kube_gvr aios_kube_trainingjobs = {"aios.dev", "v1alpha1", "trainingjobs", 1};
const struct aios_kube_gvr aios_kube_modelservices = {"aios.dev", "v1alpha1", "modelservices", 1};

/* Percent-escapes everything but RFC 3986 unreserved characters. */
static enum aios_err escape_into(struct aios_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char ch = *p;
		enum aios_err e;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			e = aios_buf_append(b, p, 1);
		} else {
			char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			e = aios_buf_append(b, enc, 3);
		}
		if (e)
			return e;
	}
	return AIOS_OK;
}

enum aios_err aios_kube_query_add(struct aios_buf *q, const char *key, const char *value)
{
	enum aios_err e = aios_buf_puts(q, (q->data && strchr(q->data, '?')) ? "&" : "?");
	if (!e)
		e = aios_buf_puts(q, key);
	if (!e)
		e = aios_buf_puts(q, "=");
	if (!e)
		e = escape_into(q, value);
	return e;
}

char *aios_kube_path(const struct aios_kube_ref *r)
{
	struct aios_buf b;
	aios_buf_init(&b, 8192);
	const struct aios_kube_gvr *g = r->gvr;
	enum aios_err e;
	if (!g->group || !*g->group)
		e = aios_buf_printf(&b, "/api/%s", g->version);
	else
		e = aios_buf_printf(&b, "/apis/%s/%s", g->group, g->version);
	if (!e && g->namespaced && r->ns && *r->ns) {
		e = aios_buf_puts(&b, "/namespaces/");
		if (!e)
			e = escape_into(&b, r->ns);
	}
	if (!e)
		e = aios_buf_printf(&b, "/%s", g->resource);
	if (!e && r->name) {
		e = aios_buf_puts(&b, "/");
		if (!e)
			e = escape_into(&b, r->name);
	}
	if (!e && r->subresource && r->name)
		e = aios_buf_printf(&b, "/%s", r->subresource);
	if (e) {
		/* Names longer than 8 KiB are not Kubernetes names; keep the prefix, the
		 * server answers 404/422 for it. */
		aios_errclear();
	}
	return aios_buf_take(&b);
}

/* ------------------------------------------------------------------------ */
/* the client                                                                */
/* ------------------------------------------------------------------------ */

struct aios_kube_client {
	struct aios_kube_config cfg; /* private copy */
	char *ua;
	int64_t timeout_ms;
	aios_kube_metrics_fn metrics_fn;
	void *metrics_arg;

	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

	pthread_mutex_t pool_mu;
	CURL *pool[AIOS_KUBE_POOL];
	int npool;

	/* bearer token from a file, re-read when the file changes (rotation) */
	pthread_mutex_t tok_mu;
	char *tok;
	struct stat tok_st;
};

static _Thread_local int tls_retry_after;

int aios_kube_retry_after_s(void)
{
	return tls_retry_after;
}

void aios_kube_set_retry_after(int s)
{
	tls_retry_after = s;
}

static _Thread_local int64_t tls_timeout_ms; /* > 0: overrides the client's timeout */
static _Thread_local int tls_past_shutdown;  /* 1: a shutdown does not abort requests */

void aios_kube_set_thread_timeout_ms(int64_t ms)
{
	tls_timeout_ms = ms;
}

void aios_kube_set_thread_past_shutdown(int on)
{
	tls_past_shutdown = on;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct aios_kube_client *c = arg;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct aios_kube_client *c = arg;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->share_mu[data]);
}

static char *memdup(const char *p, size_t n)
{
	if (!p)
		return NULL;
	char *d = aios_xmalloc(n + 1);
	memcpy(d, p, n);
	d[n] = 0;
	return d;
}

static char *sdup(const char *s)
{
	return s ? aios_xstrdup(s) : NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

enum aios_err aios_kube_client_new(const struct aios_kube_config *cfg,
                                   struct aios_kube_client **out)
{
	*out = NULL;
	if (!cfg || !cfg->server)
		return aios_fail(AIOS_ERR_INVALID, "kube client: no server in the configuration");
	pthread_once(&curl_once, curl_init_once);
	struct aios_kube_client *c = aios_xcalloc(1, sizeof(*c));
	c->cfg.server = sdup(cfg->server);
	c->cfg.ns = sdup(cfg->ns ? cfg->ns : "default");
	c->cfg.context = sdup(cfg->context);
	c->cfg.source = sdup(cfg->source);
	c->cfg.ca_file = sdup(cfg->ca_file);
	c->cfg.ca_data = memdup(cfg->ca_data, cfg->ca_data_len);
	c->cfg.ca_data_len = cfg->ca_data_len;
	c->cfg.cert_file = sdup(cfg->cert_file);
	c->cfg.cert_data = memdup(cfg->cert_data, cfg->cert_data_len);
	c->cfg.cert_data_len = cfg->cert_data_len;
	c->cfg.key_file = sdup(cfg->key_file);
	c->cfg.key_data = memdup(cfg->key_data, cfg->key_data_len);
	c->cfg.key_data_len = cfg->key_data_len;
	c->cfg.insecure = cfg->insecure;
	c->cfg.token = sdup(cfg->token);
	c->cfg.token_file = sdup(cfg->token_file);
	c->ua = aios_xstrdup("aios/" AIOS_VERSION);
	c->timeout_ms = AIOS_KUBE_DEFAULT_TIMEOUT_MS;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	pthread_mutex_init(&c->pool_mu, NULL);
	pthread_mutex_init(&c->tok_mu, NULL);
	c->share = curl_share_init();
	if (!c->share) {
		aios_kube_client_free(c);
		return aios_fail(AIOS_ERR_NOMEM, "kube client: curl_share_init failed");
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	/* TLS sessions are not shared: connections are (so handshakes are rare anyway), and
	 * ThreadSanitizer flags OpenSSL session chains freed in one thread while another
	 * resumes them through the share. Each pooled handle keeps its own session cache. */
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	*out = c;
	return AIOS_OK;
}

void aios_kube_client_free(struct aios_kube_client *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_mu[i]);
	pthread_mutex_destroy(&c->pool_mu);
	pthread_mutex_destroy(&c->tok_mu);
	free(c->cfg.server);
	free(c->cfg.ns);
	free(c->cfg.context);
	free(c->cfg.source);
	free(c->cfg.ca_file);
	free(c->cfg.ca_data);
	free(c->cfg.cert_file);
	free(c->cfg.cert_data);
	free(c->cfg.key_file);
	if (c->cfg.key_data) {
		memset(c->cfg.key_data, 0, c->cfg.key_data_len);
		free(c->cfg.key_data);
	}
	if (c->cfg.token) {
		memset(c->cfg.token, 0, strlen(c->cfg.token));
		free(c->cfg.token);
	}
	free(c->cfg.token_file);
	if (c->tok) {
		memset(c->tok, 0, strlen(c->tok));
		free(c->tok);
	}
	free(c->ua);
	free(c);
}

const char *aios_kube_client_namespace(const struct aios_kube_client *c)
{
	return c->cfg.ns;
}

void aios_kube_client_set_timeout_ms(struct aios_kube_client *c, int64_t ms)
{
	c->timeout_ms = ms;
}

void aios_kube_client_set_user_agent(struct aios_kube_client *c, const char *ua)
{
	free(c->ua);
	c->ua = aios_xstrdup(ua);
}

void aios_kube_client_set_metrics_hook(struct aios_kube_client *c, aios_kube_metrics_fn fn,
                                       void *arg)
{
	c->metrics_fn = fn;
	c->metrics_arg = arg;
}

/* The "Authorization: Bearer ..." header, or NULL when no token is configured.
 * A token file is re-read whenever its inode, size or mtime changes (kubelet rotates
 * projected service-account tokens by replacing the file). Caller frees. */
static enum aios_err auth_header(struct aios_kube_client *c, char **out)
{
	*out = NULL;
	if (c->cfg.token_file) {
		struct stat st;
		if (stat(c->cfg.token_file, &st) != 0)
			return aios_fail(AIOS_ERR_UNAUTHORIZED, "token file %s: cannot stat it",
			                 c->cfg.token_file);
		pthread_mutex_lock(&c->tok_mu);
		if (!c->tok || st.st_ino != c->tok_st.st_ino || st.st_size != c->tok_st.st_size ||
		    st.st_mtim.tv_sec != c->tok_st.st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != c->tok_st.st_mtim.tv_nsec) {
			struct aios_buf b;
			aios_buf_init(&b, AIOS_KUBE_TOKEN_CAP);
			enum aios_err e = aios_buf_read_file(&b, c->cfg.token_file);
			if (e) {
				pthread_mutex_unlock(&c->tok_mu);
				aios_buf_cleanup(&b);
				return aios_fail_wrap(AIOS_ERR_UNAUTHORIZED, "token file");
			}
			while (b.len > 0 && (b.data[b.len - 1] == '\n' ||
			                     b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
				b.data[--b.len] = 0;
			free(c->tok);
			c->tok = aios_buf_take(&b);
			aios_buf_cleanup(&b);
			c->tok_st = st;
		}
		*out = aios_xasprintf("Authorization: Bearer %s", c->tok);
		pthread_mutex_unlock(&c->tok_mu);
		return AIOS_OK;
	}
	if (c->cfg.token)
		*out = aios_xasprintf("Authorization: Bearer %s", c->cfg.token);
	return AIOS_OK;
}

static CURL *handle_get(struct aios_kube_client *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool > 0)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->pool_mu);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	if (!h)
		abort(); /* curl could not allocate: tier-one out-of-memory */
	return h;
}

static void handle_put(struct aios_kube_client *c, CURL *h)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool < AIOS_KUBE_POOL) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	if (h)
		curl_easy_cleanup(h);
}

/* ------------------------------------------------------------------------ */
/* one exchange                                                              */
/* ------------------------------------------------------------------------ */

struct xfer {
	CURL *h;
	const struct aios_kube_call *k;
	struct aios_kube_response *resp;
	int too_big;      /* the body passed AIOS_CAP_API_BODY */
	int sink_stopped; /* the sink asked to stop */
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	long code = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	x->resp->code = code;
	if (x->k->sink && code >= 200 && code < 300) {
		if (x->k->sink(x->k->sink_arg, p, n) != 0) {
			x->sink_stopped = 1;
			return 0;
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

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		char tmp[32];
		size_t vl = n - (sizeof(name) - 1);
		if (vl >= sizeof(tmp))
			vl = sizeof(tmp) - 1;
		memcpy(tmp, p + sizeof(name) - 1, vl);
		tmp[vl] = 0;
		char *end;
		long v = strtol(tmp, &end, 10);
		/* Only the delta-seconds form; an HTTP date is treated as 1 s. */
		if (end == tmp)
			v = 1;
		if (v < 0)
			v = 0;
		if (v > 3600)
			v = 3600;
		x->resp->retry_after_s = (int)v;
	}
	return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = arg;
	if (aios_shutdown_requested() && !tls_past_shutdown)
		return 1;
	if (x->k->cancel && __atomic_load_n(x->k->cancel, __ATOMIC_ACQUIRE))
		return 1;
	return 0;
}

void aios_kube_response_cleanup(struct aios_kube_response *resp)
{
	aios_buf_cleanup(&resp->body);
}

static enum aios_err curl_error(CURLcode rc, const struct aios_kube_call *k, const char *errbuf)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	enum aios_err code;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: code = AIOS_ERR_TIMEOUT; break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE: code = AIOS_ERR_TLS; break;
	case CURLE_ABORTED_BY_CALLBACK: code = AIOS_ERR_CANCELLED; break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL: code = AIOS_ERR_INVALID; break;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_WEIRD_SERVER_REPLY: code = AIOS_ERR_PROTOCOL; break;
	default: code = AIOS_ERR_UNAVAILABLE;
	}
	return aios_fail(code, "%s %s: %s", k->method, k->path_query, detail);
}

static void apply_options(struct aios_kube_client *c, CURL *h, const struct aios_kube_call *k,
                          const char *url, struct curl_slist *hdrs, struct xfer *x, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->ua);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)AIOS_KUBE_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* gzip when offered */
	/* curl's receive buffer (16 KiB by default) lives as long as the handle, and the
	 * operator keeps ~20 handles (pool, watches, workers): 4 KiB each is plenty, the
	 * body is collected in our own buffer anyway. */
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)AIOS_KUBE_RECV_BUFFER);
	int64_t timeout_ms = tls_timeout_ms > 0 ? tls_timeout_ms : c->timeout_ms;
	if (!k->streaming && timeout_ms > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	if (strcmp(k->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, k->method);
		if (k->body) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, k->body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)k->body_len);
		} else if (strcmp(k->method, "DELETE") != 0) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		}
	}
	/* TLS */
	if (c->cfg.insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->cfg.ca_data) {
		struct curl_blob blob = {c->cfg.ca_data, c->cfg.ca_data_len, CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	} else if (c->cfg.ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.ca_file);
	}
	if (c->cfg.cert_data) {
		struct curl_blob blob = {c->cfg.cert_data, c->cfg.cert_data_len, CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (c->cfg.cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cfg.cert_file);
	}
	if (c->cfg.key_data) {
		struct curl_blob blob = {c->cfg.key_data, c->cfg.key_data_len, CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (c->cfg.key_file) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->cfg.key_file);
	}
}

/* Runs a streaming transfer through a private multi handle so cancel is polled every
 * 100 ms even when the stream is idle (the progress callback alone fires only about
 * once a second). */
static CURLcode perform_streaming(CURL *h, struct xfer *x)
{
	CURLM *m = curl_multi_init();
	if (!m)
		abort();
	curl_multi_add_handle(m, h);
	CURLcode rc = CURLE_OK;
	int running = 1;
	while (running) {
		CURLMcode mc = curl_multi_perform(m, &running);
		if (mc != CURLM_OK) {
			rc = CURLE_RECV_ERROR;
			break;
		}
		if (!running)
			break;
		if (on_progress(x, 0, 0, 0, 0)) {
			rc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	if (!running) {
		int left;
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE)
				rc = msg->data.result;
	}
	curl_multi_remove_handle(m, h);
	curl_multi_cleanup(m);
	return rc;
}

enum aios_err aios_kube_perform(struct aios_kube_client *c, const struct aios_kube_call *k,
                                struct aios_kube_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	aios_buf_init(&resp->body, AIOS_CAP_API_BODY);
	tls_retry_after = 0;
	char *auth = NULL;
	enum aios_err e = auth_header(c, &auth);
	if (e) {
		if (c->metrics_fn)
			c->metrics_fn(c->metrics_arg, k->verb, 0);
		return e;
	}
	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (auth) {
		hdrs = curl_slist_append(hdrs, auth);
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	char *ct = NULL;
	if (k->content_type) {
		ct = aios_xasprintf("Content-Type: %s", k->content_type);
		hdrs = curl_slist_append(hdrs, ct);
	}
	hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
	char *url = aios_xasprintf("%s%s", c->cfg.server, k->path_query);
	char errbuf[CURL_ERROR_SIZE] = {0};
	CURL *h = handle_get(c);
	struct xfer x = {h, k, resp, 0, 0};
	apply_options(c, h, k, url, hdrs, &x, errbuf);
	CURLcode rc = k->streaming ? perform_streaming(h, &x) : curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	resp->code = code;
	tls_retry_after = resp->retry_after_s;
	if (x.too_big)
		e = aios_fail(AIOS_ERR_TOO_BIG, "%s %s: response body larger than %u bytes",
		              k->method, k->path_query, (unsigned)AIOS_CAP_API_BODY);
	else if (x.sink_stopped)
		e = AIOS_ERR_CANCELLED; /* the sink holds the reason */
	else if (rc != CURLE_OK && !(code >= 300 && resp->body.len > 0))
		e = curl_error(rc, k, errbuf);
	else if (code < 200 || code >= 300) {
		char what[512];
		snprintf(what, sizeof(what), "%s %s", k->verb, k->path_query);
		e = aios_kube_status_error(code, resp->body.data, resp->body.len, what);
	}
	if (c->metrics_fn)
		c->metrics_fn(c->metrics_arg, k->verb, (int)code);
	/* A handle that was in a streaming multi or hit an error is still reusable. */
	curl_easy_setopt(h, CURLOPT_SHARE, NULL);
	handle_put(c, h);
	curl_slist_free_all(hdrs);
	free(ct);
	free(url);
	return e;
}

enum aios_err aios_kube_request(struct aios_kube_client *c, const char *method,
                                const char *path_query, const char *content_type, const char *body,
                                size_t body_len, struct aios_kube_response *resp)
{
	struct aios_kube_call k = {method,   method, path_query, content_type, body,
	                           body_len, NULL,   NULL,       NULL,         0};
	return aios_kube_perform(c, &k, resp);
}

/* ------------------------------------------------------------------------ */
/* errors                                                                    */
/* ------------------------------------------------------------------------ */

static enum aios_err code_for(long code, const char *reason)
{
	switch (code) {
	case 400:
	case 422: return AIOS_ERR_INVALID;
	case 401: return AIOS_ERR_UNAUTHORIZED;
	case 403: return AIOS_ERR_FORBIDDEN;
	case 404: return AIOS_ERR_NOT_FOUND;
	case 405:
	case 415: return AIOS_ERR_UNSUPPORTED;
	case 409:
		return (reason && strcmp(reason, "AlreadyExists") == 0) ? AIOS_ERR_EXISTS
		                                                        : AIOS_ERR_CONFLICT;
	case 410: return AIOS_ERR_GONE;
	case 413: return AIOS_ERR_TOO_BIG;
	case 429: return AIOS_ERR_UNAVAILABLE;
	case 504: return AIOS_ERR_TIMEOUT;
	default:
		if (code >= 500)
			return AIOS_ERR_UNAVAILABLE;
		return AIOS_ERR_PROTOCOL;
	}
}

enum aios_err aios_kube_status_error(long code, const char *body, size_t len, const char *what)
{
	struct json_object *st = NULL;
	if (body && len > 0 && aios_json_parse(body, len, "Status", &st) != AIOS_OK) {
		aios_errclear();
		st = NULL;
	}
	const char *reason = st ? aios_json_str(st, "reason") : NULL;
	const char *message = st ? aios_json_str(st, "message") : NULL;
	/* A Status inside a watch ERROR event carries its own code. */
	if (code == 0 || code == 200) {
		int64_t c2 = 0;
		if (st && aios_json_opt_int(st, "code", 0, &c2) == AIOS_OK && c2 > 0)
			code = c2;
		aios_errclear();
	}
	enum aios_err e = code_for(code, reason);
	struct aios_buf m;
	aios_buf_init(&m, 8192);
	enum aios_err be = AIOS_OK;
	if (message && *message)
		be = aios_buf_puts(&m, message);
	/* Field causes: listed when the message does not already carry them. */
	struct json_object *causes = st ? aios_json_lookup(st, "details.causes") : NULL;
	if (causes && json_object_is_type(causes, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(causes) && !be; i++) {
			struct json_object *cz = json_object_array_get_idx(causes, i);
			const char *field = aios_json_str(cz, "field");
			const char *cm = aios_json_str(cz, "message");
			if (!cm || (message && strstr(message, cm)))
				continue;
			be = aios_buf_printf(&m, "%s%s%s%s", m.len ? "; " : "", field ? field : "",
			                     field ? ": " : "", cm);
		}
	}
	if (!be && m.len == 0) {
		/* Not a Status: quote the start of whatever came. */
		if (body && len > 0)
			be = aios_buf_printf(&m, "HTTP %ld: %.*s", code,
			                     (int)(len < 200 ? len : 200), body);
		else
			be = aios_buf_printf(&m, "HTTP %ld with an empty body", code);
	}
	(void)be; /* a cut message is still a message */
	enum aios_err r = aios_fail(e, "%s: %s%s%s%s", what, m.data ? m.data : "",
	                            reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	aios_buf_cleanup(&m);
	if (st)
		json_object_put(st);
	return r;
}

/* ------------------------------------------------------------------------ */
/* verbs                                                                     */
/* ------------------------------------------------------------------------ */

static enum aios_err parse_out(struct aios_kube_response *resp, const char *what,
                               struct json_object **out)
{
	if (!out)
		return AIOS_OK;
	*out = NULL;
	if (!resp->body.data || resp->body.len == 0)
		return aios_fail(AIOS_ERR_PROTOCOL, "%s: empty answer", what);
	enum aios_err e = aios_json_parse(resp->body.data, resp->body.len, what, out);
	if (e)
		return aios_fail_wrap(AIOS_ERR_PROTOCOL, "%s: the answer is not JSON", what);
	return AIOS_OK;
}

/* Builds path?query for r with the write options. Caller frees. */
static enum aios_err write_query(struct aios_buf *q, const struct aios_kube_write_opts *o)
{
	enum aios_err e = AIOS_OK;
	if (!o)
		return AIOS_OK;
	if (o->field_manager)
		e = aios_kube_query_add(q, "fieldManager", o->field_manager);
	if (!e && o->force)
		e = aios_kube_query_add(q, "force", "true");
	if (!e && o->dry_run)
		e = aios_kube_query_add(q, "dryRun", "All");
	return e;
}

/* Shared body of the verbs: method on path (+query) with an optional JSON body. */
static enum aios_err do_verb(struct aios_kube_client *c, const char *method, const char *verb,
                             struct aios_buf *pq, const char *ctype, struct json_object *body,
                             struct json_object **out)
{
	const char *b = NULL;
	size_t bl = 0;
	if (body)
		b = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN, &bl);
	struct aios_kube_call k = {method, verb, pq->data, ctype, b, bl, NULL, NULL, NULL, 0};
	struct aios_kube_response resp;
	enum aios_err e = aios_kube_perform(c, &k, &resp);
	if (!e) {
		char what[256];
		snprintf(what, sizeof(what), "%s %.200s", verb, pq->data);
		e = parse_out(&resp, what, out);
	}
	aios_kube_response_cleanup(&resp);
	return e;
}

static void path_into(struct aios_buf *pq, const struct aios_kube_ref *r)
{
	char *p = aios_kube_path(r);
	aios_buf_init(pq, 16384);
	if (aios_buf_puts(pq, p) != AIOS_OK)
		aios_errclear();
	free(p);
}

enum aios_err aios_kube_get(struct aios_kube_client *c, const struct aios_kube_ref *r,
                            struct json_object **out)
{
	*out = NULL;
	if (!r->name)
		return aios_fail(AIOS_ERR_INVALID, "get %s: no name given", r->gvr->resource);
	struct aios_buf pq;
	path_into(&pq, r);
	enum aios_err e = do_verb(c, "GET", "get", &pq, NULL, NULL, out);
	aios_buf_cleanup(&pq);
	return e;
}

enum aios_err aios_kube_list(struct aios_kube_client *c, const struct aios_kube_ref *r,
                             const struct aios_kube_list_opts *o, struct json_object **out)
{
	*out = NULL;
	struct aios_kube_ref coll = *r;
	coll.name = NULL;
	coll.subresource = NULL;
	struct aios_buf pq;
	path_into(&pq, &coll);
	enum aios_err e = AIOS_OK;
	if (o && o->label_selector && *o->label_selector)
		e = aios_kube_query_add(&pq, "labelSelector", o->label_selector);
	if (!e && o && o->field_selector && *o->field_selector)
		e = aios_kube_query_add(&pq, "fieldSelector", o->field_selector);
	if (!e && o && o->limit > 0) {
		char n[32];
		snprintf(n, sizeof(n), "%lld", (long long)o->limit);
		e = aios_kube_query_add(&pq, "limit", n);
	}
	if (!e && o && o->continue_token && *o->continue_token)
		e = aios_kube_query_add(&pq, "continue", o->continue_token);
	if (!e && o && o->resource_version)
		e = aios_kube_query_add(&pq, "resourceVersion", o->resource_version);
	if (e)
		e = aios_fail(AIOS_ERR_TOO_BIG, "list %s: selectors too long", r->gvr->resource);
	else
		e = do_verb(c, "GET", "list", &pq, NULL, NULL, out);
	aios_buf_cleanup(&pq);
	return e;
}

enum aios_err aios_kube_list_all(struct aios_kube_client *c, const struct aios_kube_ref *r,
                                 const struct aios_kube_list_opts *o, struct json_object **out)
{
	*out = NULL;
	struct aios_kube_list_opts lo = {0};
	if (o)
		lo = *o;
	if (lo.limit <= 0)
		lo.limit = 500;
	lo.continue_token = NULL;
	struct json_object *first = NULL, *items = json_object_new_array();
	char *cont = NULL;
	enum aios_err e;
	for (;;) {
		struct json_object *page;
		lo.continue_token = cont;
		e = aios_kube_list(c, r, &lo, &page);
		free(cont);
		cont = NULL;
		if (e)
			break;
		struct json_object *pi = aios_json_lookup(page, "items");
		if (pi && json_object_is_type(pi, json_type_array))
			for (size_t i = 0; i < json_object_array_length(pi); i++)
				json_object_array_add(
				    items, json_object_get(json_object_array_get_idx(pi, i)));
		const char *next = aios_json_str(page, "metadata.continue");
		if (next && *next)
			cont = aios_xstrdup(next);
		if (!first) {
			first = page;
		} else {
			/* The snapshot's resourceVersion is the same on every page; keep the last. */
			const char *rv = aios_json_str(page, "metadata.resourceVersion");
			if (rv)
				aios_json_set(first, "metadata.resourceVersion",
				              json_object_new_string(rv));
			json_object_put(page);
		}
		if (!cont)
			break;
	}
	if (e) {
		json_object_put(first);
		json_object_put(items);
		return e;
	}
	json_object_object_add(first, "items", items);
	struct json_object *md = aios_json_lookup(first, "metadata");
	if (md)
		json_object_object_del(md, "continue");
	*out = first;
	return AIOS_OK;
}

enum aios_err aios_kube_create(struct aios_kube_client *c, const struct aios_kube_ref *r,
                               struct json_object *obj, const struct aios_kube_write_opts *o,
                               struct json_object **out)
{
	if (out)
		*out = NULL;
	struct aios_kube_ref coll = *r;
	coll.name = NULL;
	coll.subresource = NULL;
	/* Namespace from the object when the ref has none. */
	if (r->gvr->namespaced && (!coll.ns || !*coll.ns))
		coll.ns = aios_json_str(obj, "metadata.namespace");
	struct aios_buf pq;
	path_into(&pq, &coll);
	enum aios_err e = write_query(&pq, o);
	if (!e)
		e = do_verb(c, "POST", "create", &pq, "application/json", obj, out);
	aios_buf_cleanup(&pq);
	return e;
}

enum aios_err aios_kube_replace(struct aios_kube_client *c, const struct aios_kube_ref *r,
                                struct json_object *obj, const struct aios_kube_write_opts *o,
                                struct json_object **out)
{
	if (out)
		*out = NULL;
	if (!r->name)
		return aios_fail(AIOS_ERR_INVALID, "update %s: no name given", r->gvr->resource);
	struct aios_buf pq;
	path_into(&pq, r);
	enum aios_err e = write_query(&pq, o);
	if (!e)
		e = do_verb(c, "PUT", "update", &pq, "application/json", obj, out);
	aios_buf_cleanup(&pq);
	return e;
}

enum aios_err aios_kube_update_status(struct aios_kube_client *c, const struct aios_kube_ref *r,
                                      struct json_object *obj, struct json_object **out)
{
	struct aios_kube_ref s = *r;
	s.subresource = "status";
	return aios_kube_replace(c, &s, obj, NULL, out);
}

enum aios_err aios_kube_patch(struct aios_kube_client *c, const struct aios_kube_ref *r,
                              enum aios_kube_patch_type type, struct json_object *patch,
                              const struct aios_kube_write_opts *o, struct json_object **out)
{
	if (out)
		*out = NULL;
	if (!r->name)
		return aios_fail(AIOS_ERR_INVALID, "patch %s: no name given", r->gvr->resource);
	const char *ct;
	switch (type) {
	case AIOS_KUBE_PATCH_MERGE: ct = "application/merge-patch+json"; break;
	case AIOS_KUBE_PATCH_JSON: ct = "application/json-patch+json"; break;
	case AIOS_KUBE_PATCH_STRATEGIC: ct = "application/strategic-merge-patch+json"; break;
	case AIOS_KUBE_PATCH_APPLY:
		if (!o || !o->field_manager)
			return aios_fail(AIOS_ERR_INVALID,
			                 "apply %s/%s: a field manager is required",
			                 r->gvr->resource, r->name);
		ct = "application/apply-patch+yaml"; /* JSON is YAML */
		break;
	default:
		return aios_fail(AIOS_ERR_INVALID, "patch %s/%s: unknown patch type %d",
		                 r->gvr->resource, r->name, (int)type);
	}
	struct aios_buf pq;
	path_into(&pq, r);
	enum aios_err e = write_query(&pq, o);
	if (!e)
		e = do_verb(c, "PATCH", "patch", &pq, ct, patch, out);
	aios_buf_cleanup(&pq);
	return e;
}

enum aios_err aios_kube_delete(struct aios_kube_client *c, const struct aios_kube_ref *r,
                               const struct aios_kube_delete_opts *o, struct json_object **out)
{
	if (out)
		*out = NULL;
	if (!r->name)
		return aios_fail(AIOS_ERR_INVALID, "delete %s: no name given", r->gvr->resource);
	struct json_object *body = NULL;
	if (o) {
		body = json_object_new_object();
		json_object_object_add(body, "kind", json_object_new_string("DeleteOptions"));
		json_object_object_add(body, "apiVersion", json_object_new_string("v1"));
		if (o->propagation_policy)
			json_object_object_add(body, "propagationPolicy",
			                       json_object_new_string(o->propagation_policy));
		if (o->precondition_uid)
			aios_json_set(body, "preconditions.uid",
			              json_object_new_string(o->precondition_uid));
		if (o->precondition_rv)
			aios_json_set(body, "preconditions.resourceVersion",
			              json_object_new_string(o->precondition_rv));
		if (o->grace_period_seconds >= 0)
			json_object_object_add(body, "gracePeriodSeconds",
			                       json_object_new_int64(o->grace_period_seconds));
	}
	struct aios_buf pq;
	path_into(&pq, r);
	enum aios_err e =
	    do_verb(c, "DELETE", "delete", &pq, body ? "application/json" : NULL, body, out);
	aios_buf_cleanup(&pq);
	json_object_put(body);
	return e;
}

/* ------------------------------------------------------------------------ */
/* object helpers                                                            */
/* ------------------------------------------------------------------------ */

enum aios_err aios_kube_key(struct json_object *obj, char *out, size_t n)
{
	const char *name = aios_json_str(obj, "metadata.name");
	const char *ns = aios_json_str(obj, "metadata.namespace");
	if (!name || !*name)
		return aios_fail(AIOS_ERR_INVALID, "object without metadata.name");
	int w = (ns && *ns) ? snprintf(out, n, "%s/%s", ns, name) : snprintf(out, n, "%s", name);
	if (w < 0 || (size_t)w >= n)
		return aios_fail(AIOS_ERR_TOO_BIG, "key of %s/%s longer than %zu bytes",
		                 ns ? ns : "", name, n);
	return AIOS_OK;
}
