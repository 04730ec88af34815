/*
 * client.c - the Kubernetes API client: the request path, one exchange over our HTTP/1.1
 * client (http/client.h), and the decoding of answers and API Status errors.
 *
 * Threads: the client holds a pool of idle keep-alive connections (AIOS_KUBE_POOL)
 * under one mutex. A call takes one (or connects), sends, reads the whole answer, and
 * puts the connection back when it may carry another request. HTTP/1.1 only: a watch
 * is a long stream on a connection of its own.
 */
#include "kube/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "http/client.h"
#include "kube/kube_internal.h"

#define AIOS_KUBE_POOL               8     /* idle connections kept; more are made on demand */
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

	/* where: cfg.server split once */
	int https;
	char host[256];
	int port;
	char authority[300];        /* the Host header */
	char *prefix;               /* a path the server URL carries ("" usually) */
	struct aios_httpc_tls *tls; /* NULL for http:// */

	pthread_mutex_t pool_mu;
	struct aios_httpc_conn *pool[AIOS_KUBE_POOL]; /* idle keep-alive connections */
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

/* PEM bytes given inline or in a file (what names the kubeconfig field). */
static enum aios_err pem_input(const char *data, size_t len, const char *file, const char *what,
                               struct aios_buf *b)
{
	aios_buf_init(b, AIOS_CAP_KUBECONFIG);
	if (data)
		return aios_buf_append(b, data, len) ? aios_fail_wrap(AIOS_ERR_TLS, "%s", what)
		                                     : AIOS_OK;
	if (file && aios_buf_read_file(b, file) != AIOS_OK)
		return aios_fail_wrap(AIOS_ERR_TLS, "%s", what);
	return AIOS_OK;
}

static enum aios_err tls_setup(struct aios_kube_client *c)
{
	const struct aios_kube_config *g = &c->cfg;
	struct aios_buf ca, cert, key;
	enum aios_err e =
	    pem_input(g->ca_data, g->ca_data_len, g->ca_file, "certificate-authority", &ca);
	if (!e)
		e = pem_input(g->cert_data, g->cert_data_len, g->cert_file, "client-certificate",
		              &cert);
	else
		aios_buf_init(&cert, 0);
	if (!e)
		e = pem_input(g->key_data, g->key_data_len, g->key_file, "client-key", &key);
	else
		aios_buf_init(&key, 0);
	if (!e && (cert.len > 0) != (key.len > 0))
		e = aios_fail(AIOS_ERR_TLS, "a client certificate needs its key and a key its "
		                            "certificate");
	if (!e)
		e = aios_httpc_tls_new(ca.len ? ca.data : NULL, ca.len, cert.len ? cert.data : NULL,
		                       cert.len, key.len ? key.data : NULL, key.len, g->insecure,
		                       &c->tls);
	if (key.data)
		memset(key.data, 0, key.len);
	aios_buf_cleanup(&ca);
	aios_buf_cleanup(&cert);
	aios_buf_cleanup(&key);
	return e;
}

enum aios_err aios_kube_client_new(const struct aios_kube_config *cfg,
                                   struct aios_kube_client **out)
{
	*out = NULL;
	if (!cfg || !cfg->server)
		return aios_fail(AIOS_ERR_INVALID, "kube client: no server in the configuration");
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
	pthread_mutex_init(&c->pool_mu, NULL);
	pthread_mutex_init(&c->tok_mu, NULL);
	const char *path = NULL;
	enum aios_err e = aios_httpc_split_url(c->cfg.server, &c->https, c->host, sizeof(c->host),
	                                       &c->port, &path);
	if (!e && *path && *path != '/')
		e = aios_fail(AIOS_ERR_INVALID, "URL %s: a query or fragment in a server URL",
		              c->cfg.server);
	if (e) {
		aios_kube_client_free(c);
		return aios_fail_wrap(AIOS_ERR_INVALID, "kube client: server");
	}
	c->prefix = aios_xstrdup(path);
	size_t pl = strlen(c->prefix);
	while (pl > 0 && c->prefix[pl - 1] == '/')
		c->prefix[--pl] = 0;
	aios_httpc_authority(c->host, c->port, c->authority, sizeof(c->authority));
	if (c->https && (e = tls_setup(c)) != AIOS_OK) {
		aios_kube_client_free(c);
		return aios_fail_wrap(e, "kube client for %s", cfg->server);
	}
	*out = c;
	return AIOS_OK;
}

void aios_kube_client_free(struct aios_kube_client *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->npool; i++)
		aios_httpc_close(c->pool[i]);
	aios_httpc_tls_free(c->tls);
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
	free(c->prefix);
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

/* The bearer token, or NULL when none is configured. A token file is re-read whenever
 * its inode, size or mtime changes (kubelet rotates projected service-account tokens
 * by replacing the file). Caller frees (and should wipe). */
static enum aios_err bearer_token(struct aios_kube_client *c, char **out)
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
		*out = aios_xstrdup(c->tok);
		pthread_mutex_unlock(&c->tok_mu);
		return AIOS_OK;
	}
	if (c->cfg.token)
		*out = aios_xstrdup(c->cfg.token);
	return AIOS_OK;
}

/* An idle connection, or NULL. One the server has closed (readable while idle: EOF
 * or a close_notify) is dropped here rather than failing the next request. */
static struct aios_httpc_conn *conn_take(struct aios_kube_client *c)
{
	for (;;) {
		struct aios_httpc_conn *x = NULL;
		pthread_mutex_lock(&c->pool_mu);
		if (c->npool > 0)
			x = c->pool[--c->npool];
		pthread_mutex_unlock(&c->pool_mu);
		if (!x || !aios_httpc_conn_readable(x))
			return x;
		aios_httpc_close(x);
	}
}

static void conn_put(struct aios_kube_client *c, struct aios_httpc_conn *x)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool < AIOS_KUBE_POOL) {
		c->pool[c->npool++] = x;
		x = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	aios_httpc_close(x);
}

/* ------------------------------------------------------------------------ */
/* one exchange                                                              */
/* ------------------------------------------------------------------------ */

struct xfer {
	const struct aios_kube_call *k;
	struct aios_kube_response *resp;
	int too_big;      /* the body passed AIOS_CAP_API_BODY */
	int sink_stopped; /* the sink asked to stop */
};

static int on_status(void *arg, int code)
{
	((struct xfer *)arg)->resp->code = code;
	return 0;
}

static int on_body(void *arg, const char *p, size_t n)
{
	struct xfer *x = arg;
	long code = x->resp->code;
	if (x->k->sink && code >= 200 && code < 300) {
		if (x->k->sink(x->k->sink_arg, p, n) != 0) {
			x->sink_stopped = 1;
			return 1;
		}
		return 0;
	}
	if (aios_buf_append(&x->resp->body, p, n) != AIOS_OK) {
		aios_errclear();
		x->too_big = 1;
		return 1;
	}
	return 0;
}

static int on_header(void *arg, const char *name, size_t nl, const char *value, size_t vl)
{
	struct xfer *x = arg;
	if (nl != 11 || strncasecmp(name, "Retry-After", 11) != 0)
		return 0;
	char tmp[32];
	if (vl >= sizeof(tmp))
		vl = sizeof(tmp) - 1;
	memcpy(tmp, value, vl);
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
	return 0;
}

static const struct aios_httpc_handler kube_handler = {on_status, on_header, on_body};

/* Polled while waiting: a process-wide shutdown (unless this thread runs past it) or
 * the call's own cancel flag. */
static int call_cancelled(void *arg)
{
	const struct aios_kube_call *k = arg;
	if (aios_shutdown_requested() && !tls_past_shutdown)
		return 1;
	return k->cancel && __atomic_load_n(k->cancel, __ATOMIC_ACQUIRE);
}

void aios_kube_response_cleanup(struct aios_kube_response *resp)
{
	aios_buf_cleanup(&resp->body);
}

/* The request's head: request line, headers, the empty line. */
static char *request_head(struct aios_kube_client *c, const struct aios_kube_call *k,
                          const char *token)
{
	struct aios_buf h;
	aios_buf_init(&h, AIOS_CAP_API_BODY);
	enum aios_err e = aios_buf_printf(&h,
	                                  "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
	                                  "Accept: application/json\r\n",
	                                  k->method, c->prefix, k->path_query, c->authority, c->ua);
	if (!e && token)
		e = aios_buf_printf(&h, "Authorization: Bearer %s\r\n", token);
	if (!e && k->content_type)
		e = aios_buf_printf(&h, "Content-Type: %s\r\n", k->content_type);
	if (!e && (k->body || (strcmp(k->method, "GET") != 0 && strcmp(k->method, "DELETE") != 0)))
		e = aios_buf_printf(&h, "Content-Length: %zu\r\n", k->body ? k->body_len : 0);
	if (!e)
		e = aios_buf_puts(&h, "\r\n");
	(void)e; /* bounded by 64 MiB: a head cannot reach it */
	return aios_buf_take(&h);
}

/* Sends the call on a pooled connection or a new one and reads the answer through
 * the parser. A pooled connection that turns out dead before any byte of an answer
 * came (the server closed it while idle) is replaced by a new one, once. */
static enum aios_err exchange(struct aios_kube_client *c, const struct aios_kube_call *k,
                              const char *head, struct xfer *x, int64_t deadline)
{
	struct aios_httpc_wait w = {deadline, call_cancelled, (void *)k};
	for (int attempt = 0;; attempt++) {
		struct aios_httpc_conn *conn = attempt == 0 ? conn_take(c) : NULL;
		int reused = conn != NULL;
		enum aios_err e = AIOS_OK;
		if (!conn) {
			int64_t cd = aios_now_ms() + AIOS_KUBE_CONNECT_TIMEOUT_MS;
			struct aios_httpc_wait cw = {deadline && deadline < cd ? deadline : cd,
			                             call_cancelled, (void *)k};
			e = aios_httpc_connect(c->host, c->port, c->tls, &cw, &conn);
			if (e)
				return e;
		}
		e = aios_httpc_send(conn, head, strlen(head), k->body, k->body ? k->body_len : 0,
		                    &w);
		int got_any = 0;
		struct aios_httpc_parser ps;
		aios_httpc_parser_init(&ps, k->method, &kube_handler, x);
		if (!e)
			e = aios_httpc_recv(conn, &ps, &w, &got_any);
		int reusable = !e && aios_httpc_parser_reusable(&ps);
		aios_httpc_parser_cleanup(&ps);
		if (reusable)
			conn_put(c, conn);
		else
			aios_httpc_close(conn);
		if (e && reused && !got_any && e == AIOS_ERR_UNAVAILABLE) {
			aios_errclear();
			x->resp->code = 0;
			continue;
		}
		return e;
	}
}

enum aios_err aios_kube_perform(struct aios_kube_client *c, const struct aios_kube_call *k,
                                struct aios_kube_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	aios_buf_init(&resp->body, AIOS_CAP_API_BODY);
	tls_retry_after = 0;
	char *token = NULL;
	enum aios_err e = bearer_token(c, &token);
	if (e) {
		if (c->metrics_fn)
			c->metrics_fn(c->metrics_arg, k->verb, 0);
		return e;
	}
	char *head = request_head(c, k, token);
	if (token) {
		memset(token, 0, strlen(token));
		free(token);
	}
	int64_t timeout_ms = tls_timeout_ms > 0 ? tls_timeout_ms : c->timeout_ms;
	int64_t deadline = !k->streaming && timeout_ms > 0 ? aios_now_ms() + timeout_ms : 0;
	struct xfer x = {k, resp, 0, 0};
	e = exchange(c, k, head, &x, deadline);
	memset(head, 0, strlen(head)); /* it carried the token */
	free(head);
	long code = resp->code;
	tls_retry_after = resp->retry_after_s;
	if (x.too_big)
		e = aios_fail(AIOS_ERR_TOO_BIG, "%s %s: response body larger than %u bytes",
		              k->method, k->path_query, (unsigned)AIOS_CAP_API_BODY);
	else if (x.sink_stopped)
		e = AIOS_ERR_CANCELLED; /* the sink holds the reason */
	else if (e && !(code >= 300 && resp->body.len > 0))
		e = aios_fail_wrap(e, "%s %s", k->method, k->path_query);
	else if (code < 200 || code >= 300) {
		char what[512];
		snprintf(what, sizeof(what), "%s %s", k->verb, k->path_query);
		e = aios_kube_status_error(code, resp->body.data, resp->body.len, what);
	}
	if (c->metrics_fn)
		c->metrics_fn(c->metrics_arg, k->verb, (int)code);
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
