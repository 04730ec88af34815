/*
 * client.c - the Kubernetes API client: the request path, one exchange over the
 * project's HTTP client (http/client.h, libcurl), and the decoding of answers and API
 * Status errors.
 *
 * Connections, as client-go has them: over https every call and every watch of the
 * client runs on its one multiplexer (http/client.h: a curl multi handle on a thread of
 * its own), which offers HTTP/2 (ALPN) and so carries them all as streams of one TCP
 * connection; when the server does not take HTTP/2 the same multiplexer falls back to
 * HTTP/1.1 with a connection per request in flight. Over plain http (tests, a local
 * proxy) watches run there too, and other calls on a pool of idle HTTP handles
 * (AIOS_KUBE_POOL) that keep their connections alive, in the calling thread.
 * Credentials: a static token, a token file (re-read on change), a client certificate,
 * or an exec plugin (exec.h) whose credential is cached until it expires and dropped on
 * a 401, after which the request is made once more with a fresh one.
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
#include "kube/exec.h"
#include "kube/kube_internal.h"

#define AIOS_KUBE_POOL               8     /* idle handles kept; more are made on demand */
#define AIOS_KUBE_DEFAULT_TIMEOUT_MS 30000 /* a non-watch request, end to end */
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

	char *base; /* cfg.server without trailing '/' */
	int https;
	int http2;                  /* https, and DISABLE_HTTP2 unset: offer HTTP/2 */
	struct aios_httpc_tls *tls; /* NULL for http:// */

	pthread_mutex_t pool_mu;
	struct aios_httpc_handle *pool[AIOS_KUBE_POOL]; /* idle handles and their connections */
	int npool;
	struct aios_httpc_mux *mux; /* made at the first call that needs it (under pool_mu) */

	/* bearer token from a file, re-read when the file changes (rotation) */
	pthread_mutex_t tok_mu;
	char *tok;
	struct stat tok_st;

	/* an exec credential plugin, and the TLS material made for the client certificate
	 * it last gave (under tok_mu). Replaced material is kept until the client is
	 * freed: a request in flight may still use it, and plugins rotate rarely. */
	struct aios_kube_exec *exec;
	struct aios_buf ca_pem; /* the cluster's CA, for material made later */
	struct aios_httpc_tls *exec_tls;
	uint64_t exec_tls_gen;
	struct aios_httpc_tls **retired;
	size_t nretired;
};

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
	c->ca_pem = ca; /* kept for an exec plugin's certificates */
	aios_buf_init(&ca, 0);
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
	c->cfg.proxy_url = sdup(cfg->proxy_url);
	c->ua = aios_xstrdup("aios/" AIOS_VERSION);
	c->timeout_ms = AIOS_KUBE_DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&c->pool_mu, NULL);
	pthread_mutex_init(&c->tok_mu, NULL);
	const char *srv = c->cfg.server;
	c->https = strncmp(srv, "https://", 8) == 0;
	/* client-go's switch of the same name: any value turns HTTP/2 off */
	const char *no_h2 = getenv("DISABLE_HTTP2");
	c->http2 = c->https && !(no_h2 && *no_h2);
	enum aios_err e = AIOS_OK;
	if (!c->https && strncmp(srv, "http://", 7) != 0)
		e = aios_fail(AIOS_ERR_INVALID, "URL %s: not http:// or https://", srv);
	else if (strpbrk(srv, "?#"))
		e = aios_fail(AIOS_ERR_INVALID, "URL %s: a query or fragment in a server URL", srv);
	else if (strchr(srv + (c->https ? 8 : 7), '@'))
		e = aios_fail(AIOS_ERR_INVALID, "URL %s: user info in the URL is not supported",
		              srv);
	else if (srv[c->https ? 8 : 7] == 0 || srv[c->https ? 8 : 7] == '/')
		e = aios_fail(AIOS_ERR_INVALID, "URL %s: no host", srv);
	if (e) {
		aios_kube_client_free(c);
		return aios_fail_wrap(AIOS_ERR_INVALID, "kube client: server");
	}
	c->base = aios_xstrdup(srv);
	size_t bl = strlen(c->base);
	while (bl > 0 && c->base[bl - 1] == '/')
		c->base[--bl] = 0;
	aios_buf_init(&c->ca_pem, 0);
	if (c->https && (e = tls_setup(c)) != AIOS_OK) {
		aios_kube_client_free(c);
		return aios_fail_wrap(e, "kube client for %s", cfg->server);
	}
	if (cfg->exec) {
		struct aios_kube_exec_cluster cl = {.server = c->cfg.server,
		                                    .ca_data =
		                                        c->ca_pem.len ? c->ca_pem.data : NULL,
		                                    .ca_len = c->ca_pem.len,
		                                    .insecure = c->cfg.insecure,
		                                    .proxy_url = c->cfg.proxy_url};
		c->exec = aios_kube_exec_new(cfg->exec, &cl);
	}
	*out = c;
	return AIOS_OK;
}

static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

void aios_kube_client_free(struct aios_kube_client *c)
{
	if (!c)
		return;
	aios_httpc_mux_free(c->mux);
	for (int i = 0; i < c->npool; i++)
		aios_httpc_handle_free(c->pool[i]);
	aios_httpc_tls_free(c->tls);
	aios_kube_exec_free(c->exec);
	aios_httpc_tls_free(c->exec_tls);
	for (size_t i = 0; i < c->nretired; i++)
		aios_httpc_tls_free(c->retired[i]);
	free(c->retired);
	aios_buf_cleanup(&c->ca_pem);
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
	wipe_free(c->cfg.token);
	free(c->cfg.token_file);
	free(c->cfg.proxy_url);
	wipe_free(c->tok);
	free(c->base);
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
			wipe_free(c->tok);
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

/* The credentials of one request: *token a bearer token or NULL (caller wipes and
 * frees), *tls the TLS material to use, *gen the exec plugin's run they came from (0
 * without a plugin). */
static enum aios_err credentials(struct aios_kube_client *c, char **token,
                                 struct aios_httpc_tls **tls, uint64_t *gen)
{
	*tls = c->tls;
	*gen = 0;
	if (!c->exec)
		return bearer_token(c, token);
	*token = NULL;
	struct aios_kube_exec_cred cr;
	enum aios_err e = aios_kube_exec_get(c->exec, &cr);
	if (e)
		return e;
	*gen = cr.generation;
	*token = cr.token;
	cr.token = NULL;
	if (cr.cert && c->https) {
		pthread_mutex_lock(&c->tok_mu);
		if (c->exec_tls_gen != cr.generation) {
			struct aios_httpc_tls *t = NULL;
			e = aios_httpc_tls_new(c->ca_pem.len ? c->ca_pem.data : NULL, c->ca_pem.len,
			                       cr.cert, cr.cert_len, cr.key, cr.key_len,
			                       c->cfg.insecure, &t);
			if (e) {
				pthread_mutex_unlock(&c->tok_mu);
				aios_kube_exec_cred_cleanup(&cr);
				return aios_fail_wrap(AIOS_ERR_UNAUTHORIZED,
				                      "the exec plugin's client certificate");
			}
			if (c->exec_tls) {
				c->retired = aios_xrealloc(c->retired,
				                           (c->nretired + 1) * sizeof(*c->retired));
				c->retired[c->nretired++] = c->exec_tls;
			}
			c->exec_tls = t;
			c->exec_tls_gen = cr.generation;
		}
		*tls = c->exec_tls;
		pthread_mutex_unlock(&c->tok_mu);
	}
	aios_kube_exec_cred_cleanup(&cr);
	return AIOS_OK;
}

/* An idle handle (its connections kept alive inside it), or a new one. */
static struct aios_httpc_handle *handle_take(struct aios_kube_client *c)
{
	struct aios_httpc_handle *h = NULL;
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool > 0)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->pool_mu);
	return h ? h : aios_httpc_handle_new();
}

static void handle_put(struct aios_kube_client *c, struct aios_httpc_handle *h)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool < AIOS_KUBE_POOL) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	aios_httpc_handle_free(h);
}

/* The client's multiplexer, started on first use. */
static struct aios_httpc_mux *client_mux(struct aios_kube_client *c)
{
	pthread_mutex_lock(&c->pool_mu);
	if (!c->mux)
		c->mux = aios_httpc_mux_new();
	struct aios_httpc_mux *m = c->mux;
	pthread_mutex_unlock(&c->pool_mu);
	return m;
}

/* ------------------------------------------------------------------------ */
/* one exchange                                                              */
/* ------------------------------------------------------------------------ */

void aios_kube_response_cleanup(struct aios_kube_response *resp)
{
	aios_buf_cleanup(&resp->body);
}

/* One exchange; *gen gets the exec plugin's generation of the credential used. */
static enum aios_err perform_once(struct aios_kube_client *c, const struct aios_kube_call *k,
                                  struct aios_kube_response *resp, uint64_t *gen)
{
	memset(resp, 0, sizeof(*resp));
	aios_buf_init(&resp->body, AIOS_CAP_API_BODY);
	char *token = NULL;
	struct aios_httpc_tls *tls = NULL;
	enum aios_err e = credentials(c, &token, &tls, gen);
	if (e) {
		if (c->metrics_fn)
			c->metrics_fn(c->metrics_arg, k->verb, 0);
		return e;
	}
	char *url = aios_xasprintf("%s%s", c->base, k->path_query);
	char *auth = token ? aios_xasprintf("Authorization: Bearer %s", token) : NULL;
	wipe_free(token);
	char *ctype = k->content_type ? aios_xasprintf("Content-Type: %s", k->content_type) : NULL;
	char *ua = aios_xasprintf("User-Agent: %s", c->ua);
	const char *hdrs[5];
	int nh = 0;
	hdrs[nh++] = "Accept: application/json";
	hdrs[nh++] = ua;
	if (auth)
		hdrs[nh++] = auth;
	if (ctype)
		hdrs[nh++] = ctype;
	hdrs[nh] = NULL;
	char what[512];
	snprintf(what, sizeof(what), "%s %s", k->method, k->path_query);
	struct aios_httpc_req req = {
	    .method = k->method,
	    .url = url,
	    .headers = hdrs,
	    .body = k->body,
	    .body_len = k->body ? k->body_len : 0,
	    .tls = tls,
	    .proxy = c->cfg.proxy_url,
	    .http2 = c->http2,
	    .sink = k->sink,
	    .sink_arg = k->sink_arg,
	    .what = what,
	};
	const struct aios_kube_call_opts *co = k->opts;
	int64_t timeout_ms = co && co->timeout_ms > 0 ? co->timeout_ms
	                     : k->streaming           ? 0
	                                              : c->timeout_ms;
	struct aios_httpc_opts o = {
	    .timeout_ms = timeout_ms,
	    .cancel = k->cancel,
	    .past_shutdown = co ? co->past_shutdown : 0,
	    .body_cap = AIOS_CAP_API_BODY,
	};
	struct aios_httpc_resp hr;
	if (!k->own_connection && (k->streaming || c->https)) {
		/* every watch, and over TLS every call: streams of one HTTP/2 connection */
		e = aios_httpc_mux_perform(client_mux(c), &req, &o, &hr);
	} else {
		struct aios_httpc_handle *h = handle_take(c);
		e = aios_httpc_perform(h, &req, &o, &hr);
		handle_put(c, h);
	}
	wipe_free(auth);
	free(ctype);
	free(ua);
	free(url);
	aios_buf_cleanup(&resp->body);
	resp->body = hr.body; /* handed over */
	resp->code = hr.code;
	resp->retry_after_s = hr.retry_after_s;
	resp->http_version = hr.http_version;
	long code = resp->code;
	if (hr.sink_stopped)
		e = AIOS_ERR_CANCELLED; /* the sink holds the reason */
	else if (e == AIOS_ERR_TOO_BIG && !k->sink)
		e = aios_fail(AIOS_ERR_TOO_BIG, "%s %s: response body larger than %u bytes",
		              k->method, k->path_query, (unsigned)AIOS_CAP_API_BODY);
	else if (e && !(code >= 300 && resp->body.len > 0))
		; /* the transport's message names the request already */
	else if (code < 200 || code >= 300) {
		snprintf(what, sizeof(what), "%s %s", k->verb, k->path_query);
		e = aios_kube_status_error(code, resp->body.data, resp->body.len, what);
	}
	if (c->metrics_fn)
		c->metrics_fn(c->metrics_arg, k->verb, (int)code);
	return e;
}

enum aios_err aios_kube_perform(struct aios_kube_client *c, const struct aios_kube_call *k,
                                struct aios_kube_response *resp)
{
	uint64_t gen = 0;
	enum aios_err e = perform_once(c, k, resp, &gen);
	/* A plugin's credential the server refuses (revoked, expired early): drop it and
	 * run the plugin once more, as client-go does. */
	if (e == AIOS_ERR_UNAUTHORIZED && resp->code == 401 && c->exec && gen) {
		aios_kube_exec_invalidate(c->exec, gen);
		aios_kube_response_cleanup(resp);
		aios_errclear();
		e = perform_once(c, k, resp, &gen);
	}
	return e;
}

enum aios_err aios_kube_request(struct aios_kube_client *c, const char *method,
                                const char *path_query, const char *content_type, const char *body,
                                size_t body_len, struct aios_kube_response *resp)
{
	struct aios_kube_call k = {.method = method,
	                           .verb = method,
	                           .path_query = path_query,
	                           .content_type = content_type,
	                           .body = body,
	                           .body_len = body_len};
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
static enum aios_err do_verb(struct aios_kube_client *c, const struct aios_kube_call_opts *co,
                             const char *method, const char *verb, struct aios_buf *pq,
                             const char *ctype, struct json_object *body, struct json_object **out)
{
	const char *b = NULL;
	size_t bl = 0;
	if (body)
		b = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN, &bl);
	struct aios_kube_call k = {.method = method,
	                           .verb = verb,
	                           .path_query = pq->data,
	                           .content_type = ctype,
	                           .body = b,
	                           .body_len = bl,
	                           .opts = co};
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
	return aios_kube_get_with(c, NULL, r, out);
}

enum aios_err aios_kube_get_with(struct aios_kube_client *c, const struct aios_kube_call_opts *co,
                                 const struct aios_kube_ref *r, struct json_object **out)
{
	*out = NULL;
	if (!r->name)
		return aios_fail(AIOS_ERR_INVALID, "get %s: no name given", r->gvr->resource);
	struct aios_buf pq;
	path_into(&pq, r);
	enum aios_err e = do_verb(c, co, "GET", "get", &pq, NULL, NULL, out);
	aios_buf_cleanup(&pq);
	return e;
}

enum aios_err aios_kube_list(struct aios_kube_client *c, const struct aios_kube_ref *r,
                             const struct aios_kube_list_opts *o, struct json_object **out)
{
	const struct aios_kube_call_opts *co = NULL;
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
		e = do_verb(c, co, "GET", "list", &pq, NULL, NULL, out);
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
	return aios_kube_create_with(c, NULL, r, obj, o, out);
}

enum aios_err aios_kube_create_with(struct aios_kube_client *c,
                                    const struct aios_kube_call_opts *co,
                                    const struct aios_kube_ref *r, struct json_object *obj,
                                    const struct aios_kube_write_opts *o, struct json_object **out)
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
		e = do_verb(c, co, "POST", "create", &pq, "application/json", obj, out);
	aios_buf_cleanup(&pq);
	return e;
}

enum aios_err aios_kube_replace(struct aios_kube_client *c, const struct aios_kube_ref *r,
                                struct json_object *obj, const struct aios_kube_write_opts *o,
                                struct json_object **out)
{
	return aios_kube_replace_with(c, NULL, r, obj, o, out);
}

enum aios_err aios_kube_replace_with(struct aios_kube_client *c,
                                     const struct aios_kube_call_opts *co,
                                     const struct aios_kube_ref *r, struct json_object *obj,
                                     const struct aios_kube_write_opts *o, struct json_object **out)
{
	if (out)
		*out = NULL;
	if (!r->name)
		return aios_fail(AIOS_ERR_INVALID, "update %s: no name given", r->gvr->resource);
	struct aios_buf pq;
	path_into(&pq, r);
	enum aios_err e = write_query(&pq, o);
	if (!e)
		e = do_verb(c, co, "PUT", "update", &pq, "application/json", obj, out);
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
	const struct aios_kube_call_opts *co = NULL;
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
		e = do_verb(c, co, "PATCH", "patch", &pq, ct, patch, out);
	aios_buf_cleanup(&pq);
	return e;
}

enum aios_err aios_kube_delete(struct aios_kube_client *c, const struct aios_kube_ref *r,
                               const struct aios_kube_delete_opts *o, struct json_object **out)
{
	const struct aios_kube_call_opts *co = NULL;
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
	    do_verb(c, co, "DELETE", "delete", &pq, body ? "application/json" : NULL, body, out);
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
