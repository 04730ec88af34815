/*
 * server.c - aios-serve's routes, handlers and metrics (server.h).
 *
 * Handlers run on the HTTP loop threads (http.h). An inference handler parses and
 * checks the body, adds the rows to its loop's batcher and defers its response; at
 * the end of the loop's round the batcher runs the forward passes and each request's
 * response is encoded and sent (round_end -> aios_batcher_round -> on_done). Each
 * loop thread owns its batcher and a scratch buffer for max_batch_size rows, so the
 * hot path takes no lock; a bigger single request allocates its own scratch.
 */
#include "serve/server.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "http/http.h"
#include "http/metrics.h"
#include "serve/batcher.h"
#include "serve/engine.h"
#include "serve/metadata.h"
#include "serve/protocol.h"

/* Stable endpoint labels, one per route, in route order. */
enum ep {
	EP_V1_PREDICT,
	EP_V1_MODEL,
	EP_V2_INFER,
	EP_V2_MODEL,
	EP_V2_MODEL_READY,
	EP_LIVE,
	EP_READY,
	EP_METRICS,
	EP_OTHER,
	EP__N
};
static const char *const ep_names[EP__N] = {"v1_predict", "v1_model",       "v2_infer",
                                            "v2_model",   "v2_model_ready", "v2_live",
                                            "v2_ready",   "metrics",        "other"};

struct aios_serve {
	struct aios_serve_config cfg;
	struct aios_engine *engine;
	struct aios_http_server *http;
	struct aios_metrics *reg;
	atomic_int ready;
	atomic_int pending; /* inference requests parsed and not answered, all loops */
	char sha256[AIOS_SHA256_HEX];
	char *v2_meta;             /* GET /v2/models/NAME body, built at load (metadata.h) */
	const char *routes[EP__N]; /* pattern of each endpoint's route */
	struct aios_metric *m_requests;
	struct aios_series *s_ok[EP__N]; /* requests_total{ep, "200"} */
	struct aios_series *s_duration[EP__N];
	struct aios_series *s_in_flight, *s_queue, *s_batch;
	struct aios_series *s_conns;                   /* connections open */
	struct aios_series *s_events[AIOS_HTTP_EV__N]; /* the HTTP server's events */
};

/* One deferred inference request. */
struct pend {
	struct aios_http_defer *d;
	int v2;
	int binary; /* V2: answer with the binary tensor extension */
	char id[AIOS_PROTO_ID_MAX];
};

/* State of one HTTP loop thread. */
struct loop_state {
	struct aios_serve *s;
	struct aios_batcher *batcher;
	float *scratch;     /* for max_batch_size rows */
	struct pend *pends; /* one per batcher slot (queue_depth) */
};

/* ---------------------------------------------------------------- metrics */

static enum ep ep_of(const struct aios_serve *s, const char *route)
{
	for (int i = 0; route && i < EP_OTHER; i++)
		if (s->routes[i] && strcmp(s->routes[i], route) == 0)
			return (enum ep)i;
	return EP_OTHER;
}

static void on_response(const struct aios_http_req *req, int status, double sec, void *ud)
{
	struct aios_serve *s = ud;
	enum ep ep = ep_of(s, req->route);
	struct aios_series *c = s->s_ok[ep];
	if (status != 200) {
		char code[8];
		snprintf(code, sizeof code, "%d", status);
		c = aios_metric_with(s->m_requests, ep_names[ep], code);
	}
	aios_counter_inc(c);
	aios_histogram_observe(s->s_duration[ep], sec);
}

static void on_event(enum aios_http_event ev, void *ud)
{
	struct aios_serve *s = ud;
	aios_counter_inc(s->s_events[ev]);
}

static void on_collect(void *ud)
{
	struct aios_serve *s = ud;
	aios_gauge_set(s->s_queue, atomic_load(&s->pending));
	if (s->http)
		aios_gauge_set(s->s_conns, aios_http_server_connections(s->http));
}

static void on_pass(int rows, int requests, void *ud)
{
	struct loop_state *ls = ud;
	aios_histogram_observe(ls->s->s_batch, rows);
}

static void setup_metrics(struct aios_serve *s)
{
	struct aios_metrics *r = s->reg = aios_metrics_new();
	s->m_requests = aios_metrics_counter(r, "aios_serve_requests_total",
	                                     "HTTP requests by endpoint and status code.",
	                                     "endpoint", "code", NULL);
	struct aios_metric *dur = aios_metrics_histogram(
	    r, "aios_serve_request_duration_seconds",
	    "Time from a request's first byte to its response being queued.",
	    aios_metrics_latency_buckets, aios_metrics_latency_buckets_n, "endpoint", NULL);
	for (int i = 0; i < EP__N; i++) {
		s->s_ok[i] = aios_metric_with(s->m_requests, ep_names[i], "200");
		s->s_duration[i] = aios_metric_with(dur, ep_names[i]);
	}
	s->s_in_flight = aios_metric_with(aios_metrics_gauge(
	    r, "aios_serve_requests_in_flight",
	    "Inference requests being handled now (the autoscaler's concurrency signal).", NULL));
	s->s_queue = aios_metric_with(aios_metrics_gauge(
	    r, "aios_serve_queue_depth", "Inference requests waiting for a forward pass.", NULL));
	s->s_batch = aios_metric_with(
	    aios_metrics_histogram(r, "aios_serve_batch_size", "Rows per forward pass.",
	                           aios_metrics_size_buckets, aios_metrics_size_buckets_n, NULL));
	struct aios_metric *info = aios_metrics_gauge(r, "aios_serve_model_info",
	                                              "The model being served (value is always 1).",
	                                              "name", "sha256", "quantize", NULL);
	aios_gauge_set(aios_metric_with(info, s->cfg.name, s->sha256,
	                                s->cfg.quantize == AIOS_QUANT_INT8 ? "int8" : "none"),
	               1);
	aios_gauge_set(aios_metric_with(aios_metrics_gauge(
	                   r, "aios_serve_model_sparsity_ratio",
	                   "Fraction of weights that are zero after pruning.", NULL)),
	               aios_engine_sparsity(s->engine));
	s->s_conns = aios_metric_with(aios_metrics_gauge(r, "aios_serve_connections_open",
	                                                 "HTTP connections open now.", NULL));
	struct aios_metric *paused = aios_metrics_counter(
	    r, "aios_serve_accept_paused_total",
	    "Times accepting paused (100 ms) because the process or system ran out of file "
	    "descriptors (reason fds: EMFILE, ENFILE) or kernel memory (memory).",
	    "reason", NULL);
	struct aios_metric *refused = aios_metrics_counter(
	    r, "aios_serve_connections_refused_total",
	    "Connections closed at accept: the server's connection limit (max_connections) or "
	    "the client's (per_client, with no idle connection of its own to close).",
	    "reason", NULL);
	s->s_events[AIOS_HTTP_EV_ACCEPT_PAUSED_FDS] = aios_metric_with(paused, "fds");
	s->s_events[AIOS_HTTP_EV_ACCEPT_PAUSED_MEMORY] = aios_metric_with(paused, "memory");
	s->s_events[AIOS_HTTP_EV_REFUSED_MAX] = aios_metric_with(refused, "max_connections");
	s->s_events[AIOS_HTTP_EV_REFUSED_PER_CLIENT] = aios_metric_with(refused, "per_client");
	s->s_events[AIOS_HTTP_EV_RECLAIMED_IDLE] = aios_metric_with(aios_metrics_counter(
	    r, "aios_serve_idle_connections_reclaimed_total",
	    "Idle connections closed to admit a new one from the same client at its limit "
	    "(--max-connections-per-client).",
	    NULL));
	aios_metrics_on_collect(r, on_collect, s);
}

/* ---------------------------------------------------------------- inference */

static void forward(const float *x, int rows, float *y, void *ud)
{
	struct loop_state *ls = ud;
	struct aios_serve *s = ls->s;
	if (rows <= s->cfg.max_batch_size) {
		aios_engine_forward(s->engine, x, rows, y, ls->scratch);
		return;
	}
	float *tmp = aios_xmalloc(sizeof(float) * aios_engine_scratch_floats(s->engine, rows));
	aios_engine_forward(s->engine, x, rows, y, tmp);
	free(tmp);
}

/* A request's outputs are ready: encode, send, account. */
static void on_done(void *ctx, const float *y, int rows, void *ud)
{
	struct pend *p = ctx;
	struct loop_state *ls = ud;
	struct aios_serve *s = ls->s;
	struct aios_http_resp *resp = aios_http_defer_resp(p->d);
	int n_out = aios_engine_outputs(s->engine);
	size_t json_len = 0;
	enum aios_err e;
	if (p->binary)
		e = aios_proto_v2_encode_binary(s->cfg.name, p->id, y, rows, n_out, &resp->body,
		                                &json_len);
	else if (p->v2)
		e = aios_proto_v2_encode(s->cfg.name, p->id, y, rows, n_out, &resp->body);
	else
		e = aios_proto_v1_encode(y, rows, n_out, &resp->body);
	if (!e && p->binary) {
		char n[24];
		snprintf(n, sizeof n, "%zu", json_len);
		aios_http_resp_header(resp, "Inference-Header-Content-Length", n);
		resp->content_type = "application/octet-stream";
	}
	if (e)
		aios_http_resp_error(resp, 500, "response larger than %zu bytes", resp->body.max);
	/* account before the response can leave: a client that reads /metrics right after
	 * its answer must not still see its own request waiting or in flight */
	atomic_fetch_sub(&s->pending, 1);
	aios_gauge_add(s->s_in_flight, -1);
	aios_http_defer_done(p->d);
}

static int round_end(void *state, void *ud)
{
	struct loop_state *ls = state;
	return aios_batcher_round(ls->batcher, forward, on_done, on_pass, ls);
}

static void *loop_init(int index, void *ud)
{
	struct aios_serve *s = ud;
	struct loop_state *ls = aios_xcalloc(1, sizeof *ls);
	ls->s = s;
	struct aios_batcher_config bc = {.in = aios_engine_inputs(s->engine),
	                                 .out = aios_engine_outputs(s->engine),
	                                 .max_batch_rows = s->cfg.max_batch_size,
	                                 .max_delay_us = s->cfg.max_batch_delay_us,
	                                 .capacity = s->cfg.queue_depth};
	ls->batcher = aios_batcher_new(&bc);
	ls->scratch = aios_xmalloc(sizeof(float) *
	                           aios_engine_scratch_floats(s->engine, s->cfg.max_batch_size));
	ls->pends = aios_xcalloc((size_t)s->cfg.queue_depth, sizeof *ls->pends);
	return ls;
}

static void loop_cleanup(void *state, void *ud)
{
	struct loop_state *ls = state;
	aios_batcher_flush(ls->batcher, forward, on_done, on_pass, ls); /* answers or frees all */
	aios_batcher_free(ls->batcher);
	free(ls->scratch);
	free(ls->pends);
	free(ls);
}

static int check_name(struct aios_serve *s, struct aios_http_req *req, struct aios_http_resp *resp)
{
	const char *name = aios_http_req_param(req, "name");
	if (name && strcmp(name, s->cfg.name) == 0)
		return 1;
	aios_http_resp_error(resp, 404, "model \"%s\" not found; this server serves \"%s\"",
	                     name ? name : "", s->cfg.name);
	return 0;
}

static void infer(struct aios_serve *s, struct aios_http_req *req, struct aios_http_resp *resp,
                  int v2)
{
	struct loop_state *ls = req->conn_user;
	if (!check_name(s, req, resp))
		return;
	int n_in = aios_engine_inputs(s->engine), max_rows = s->cfg.max_rows_per_request;
	struct aios_proto_batch b;
	char err[512];
	enum aios_err e = AIOS_OK;
	/* the binary tensor extension: the JSON header's length, the tensor after it */
	const char *hl = v2 ? aios_http_req_header(req, "Inference-Header-Content-Length") : NULL;
	size_t json_len = AIOS_PROTO_NO_BINARY;
	if (hl)
		e = aios_proto_v2_header_length(hl, req->body_len, &json_len, err, sizeof err);
	if (!e)
		e = v2 ? aios_proto_v2_parse_binary(req->body, req->body_len, json_len, n_in,
		                                    max_rows, &b, err, sizeof err)
		       : aios_proto_v1_parse(req->body, req->body_len, n_in, max_rows, &b, err,
		                             sizeof err);
	if (e) {
		aios_http_resp_error(resp, e == AIOS_ERR_TOO_BIG ? 413 : 400, "%s", err);
		return;
	}
	if (atomic_fetch_add(&s->pending, 1) >= s->cfg.queue_depth) {
		atomic_fetch_sub(&s->pending, 1);
		aios_http_resp_header(resp, "Retry-After", "1");
		aios_http_resp_error(resp, 503, "inference queue is full (%d requests waiting)",
		                     s->cfg.queue_depth);
		free(b.x);
		return;
	}
	struct pend *p = &ls->pends[aios_batcher_pending(ls->batcher)];
	e = aios_batcher_add(ls->batcher, b.x, b.rows, p);
	free(b.x);
	if (e) {
		atomic_fetch_sub(&s->pending, 1);
		aios_http_resp_header(resp, "Retry-After", "1");
		aios_http_resp_error(resp, 503, "%s", aios_errmsg());
		return;
	}
	aios_gauge_add(s->s_in_flight, 1);
	p->v2 = v2;
	p->binary = v2 && b.binary_out;
	memcpy(p->id, b.id, sizeof p->id);
	p->d = aios_http_defer(req);
}

static void h_v1_predict(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	infer(ud, req, resp, 0);
}

static void h_v2_infer(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	infer(ud, req, resp, 1);
}

/* ---------------------------------------------------------------- metadata and health */

static void reply(struct aios_http_resp *resp, int status, const char *fmt, ...) AIOS_PRINTF(3, 4);

static void reply(struct aios_http_resp *resp, int status, const char *fmt, ...)
{
	char body[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	aios_http_resp_json(resp, status, body,
	                    (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
}

static void h_v1_model(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct aios_serve *s = ud;
	const char *name = aios_http_req_param(req, "name");
	if (name && strchr(name, ':')) { /* "/v1/models/NAME:predict" matched as a name */
		aios_http_resp_error(resp, 405, "method %s not allowed on %s (use POST)",
		                     req->method, req->path);
		return;
	}
	if (check_name(s, req, resp))
		reply(resp, 200, "{\"name\":\"%s\",\"ready\":%s}", s->cfg.name,
		      atomic_load(&s->ready) ? "true" : "false");
}

static void h_v2_model(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct aios_serve *s = ud;
	if (!check_name(s, req, resp))
		return;
	aios_http_resp_json(resp, 200, s->v2_meta, strlen(s->v2_meta));
}

static void h_v2_model_ready(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct aios_serve *s = ud;
	if (!check_name(s, req, resp))
		return;
	int r = atomic_load(&s->ready);
	reply(resp, r ? 200 : 503, "{\"name\":\"%s\",\"ready\":%s}", s->cfg.name,
	      r ? "true" : "false");
}

static void h_live(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	reply(resp, 200, "{\"live\":true}");
}

static void h_ready(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct aios_serve *s = ud;
	int r = atomic_load(&s->ready);
	reply(resp, r ? 200 : 503, "{\"ready\":%s}", r ? "true" : "false");
}

/* ---------------------------------------------------------------- lifecycle */

enum aios_err aios_serve_new(const struct aios_serve_config *c, const struct aios_model *m,
                             struct aios_serve **out)
{
	struct aios_engine_opts eo = {.quantize = c->quantize, .prune_sparsity = c->prune_sparsity};
	struct aios_engine *engine;
	enum aios_err e = aios_engine_new(m, &eo, &engine);
	if (e)
		return e;
	struct aios_serve *s = aios_xcalloc(1, sizeof *s);
	s->cfg = *c;
	s->engine = engine;
	memcpy(s->sha256, m->sha256, sizeof s->sha256);
	s->sha256[AIOS_SHA256_HEX - 1] = '\0';
	s->v2_meta =
	    aios_serve_v2_metadata(c->name, m, c->quantize == AIOS_QUANT_INT8 ? "int8" : "none",
	                           aios_engine_sparsity(engine));
	setup_metrics(s);

	struct aios_http_config hc;
	aios_http_config_defaults(&hc);
	hc.bind_addr = c->bind;
	hc.port = c->port;
	hc.threads = c->threads;
	hc.max_body_bytes = (size_t)c->max_request_bytes;
	hc.read_timeout_ms = c->request_timeout_ms;
	hc.write_timeout_ms = c->request_timeout_ms; /* a stalled reader: closed as late */
	hc.tls_cert = c->tls_cert;
	hc.tls_key = c->tls_key;
	hc.name = "serve";
	hc.max_connections_per_client = c->max_connections_per_client;
	hc.on_response = on_response;
	hc.on_response_ud = s;
	hc.on_event = on_event;
	hc.thread_init = loop_init;
	hc.thread_cleanup = loop_cleanup;
	hc.round_end = round_end;
	hc.thread_ud = s;
	s->http = aios_http_server_new(&hc);
	static const struct {
		enum ep ep;
		const char *method, *pattern;
		aios_http_handler fn;
	} routes[] = {
	    {EP_V1_PREDICT, "POST", "/v1/models/{name}:predict", h_v1_predict},
	    {EP_V1_MODEL, "GET", "/v1/models/{name}", h_v1_model},
	    {EP_V2_INFER, "POST", "/v2/models/{name}/infer", h_v2_infer},
	    {EP_V2_MODEL_READY, "GET", "/v2/models/{name}/ready", h_v2_model_ready},
	    {EP_V2_MODEL, "GET", "/v2/models/{name}", h_v2_model},
	    {EP_LIVE, "GET", "/v2/health/live", h_live},
	    {EP_READY, "GET", "/v2/health/ready", h_ready},
	    {EP_METRICS, "GET", "/metrics", aios_http_metrics_handler},
	};
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		void *ud = routes[i].ep == EP_METRICS ? (void *)s->reg : (void *)s;
		s->routes[routes[i].ep] = routes[i].pattern;
		e = aios_http_route(s->http, routes[i].method, routes[i].pattern, routes[i].fn, ud);
		if (e) {
			aios_serve_free(s);
			return e;
		}
	}
	/* warm-up: one pass through every layer before declaring ready */
	int n_in = aios_engine_inputs(engine), n_out = aios_engine_outputs(engine);
	float *x = aios_xcalloc((size_t)n_in, sizeof(float));
	float *y = aios_xcalloc((size_t)n_out, sizeof(float));
	float *scratch = aios_xmalloc(sizeof(float) * aios_engine_scratch_floats(engine, 1));
	aios_engine_forward(engine, x, 1, y, scratch);
	aios_histogram_observe(s->s_batch, 1);
	free(x);
	free(y);
	free(scratch);
	*out = s;
	return AIOS_OK;
}

enum aios_err aios_serve_start(struct aios_serve *s)
{
	enum aios_err e = aios_http_server_start(s->http);
	if (e)
		return e;
	atomic_store(&s->ready, 1);
	aios_info("serve_ready",
	          "serving model %s (%d inputs, %d outputs, sha256 %s, quantize %s, "
	          "sparsity %.3f) on port %d",
	          s->cfg.name, aios_engine_inputs(s->engine), aios_engine_outputs(s->engine),
	          s->sha256, s->cfg.quantize == AIOS_QUANT_INT8 ? "int8" : "none",
	          aios_engine_sparsity(s->engine), aios_http_server_port(s->http));
	return AIOS_OK;
}

int aios_serve_port(const struct aios_serve *s)
{
	return aios_http_server_port(s->http);
}

void aios_serve_stop(struct aios_serve *s, int grace_ms)
{
	atomic_store(&s->ready, 0);
	aios_http_server_stop(s->http, grace_ms);
}

void aios_serve_free(struct aios_serve *s)
{
	if (!s)
		return;
	aios_http_server_free(s->http);
	aios_metrics_free(s->reg);
	aios_engine_free(s->engine);
	free(s->v2_meta);
	free(s);
}
