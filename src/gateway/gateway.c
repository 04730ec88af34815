/*
 * gateway.c - aios-gateway's data plane (gateway.h): the service table, the handlers,
 * the proxy threads and the timer of the cold-start queues.
 *
 * Ownership: a request the gateway forwards becomes a struct job, owned by whoever
 * holds it now: a service's queue, the work list, a proxy thread, then its loop's done
 * list; the loop answers it (aios_http_defer_done) and frees it. Every job is counted
 * in its loop's `pending` until it reaches the done list, so that a loop stopping can
 * wait for its last answers before its deferred handles go away.
 */
#include "gateway/gateway.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "http/client.h"
#include "http/http.h"
#include "http/metrics.h"

#define TABLE_BUCKETS    1024 /* services hash into these; chains stay short up to ~10k */
#define TIMER_SLICE_MS   100  /* the timer wakes at least this often (stop, late timeouts) */
#define MAX_FWD_HEADERS  8    /* request headers passed to the pod (below) */
#define PROBE_EVERY_MS   50   /* a held service's not-ready pods are probed this often */
#define PROBE_TIMEOUT_MS 250  /* one probe of a not-ready pod, connect included */
#define PROBE_BATCH      16   /* not-ready pods probed per round, over all services */
#define PROBE_PATH       "/v2/health/ready" /* aios-serve's readiness, as its pods' probe */

/* Request headers a pod may need; everything else (hop-by-hop, Host) stays here. */
static const char *const fwd_headers[] = {
    "Content-Type", "Accept", "Inference-Header-Content-Length", "traceparent", "tracestate",
    "X-Request-Id", NULL};
/* Answer headers passed back from the pod besides Content-Type. */
static const char *const back_headers[] = {"Inference-Header-Content-Length", "Retry-After", NULL};

/* Cold-start durations (s): from a pod process start to a model loaded and warmed. */
static const double cold_buckets[] = {0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120};

/* ================================================================ state */

struct loop_state;

struct job {
	struct job *next;
	struct aios_http_defer *d;
	struct loop_state *ls;
	char ns[AIOS_GW_NS_MAX + 1], name[AIOS_GW_NAME_MAX + 1];
	char method[16];
	char *path; /* upstream path and query ("/v1/models/x:predict?y") */
	char *body;
	size_t body_len;
	char *hdr[MAX_FWD_HEADERS + 1];  /* "Name: value", NULL-terminated */
	char addr[AIOS_GW_ADDR_MAX + 1]; /* the pod it goes to */
	int port;
	int attempts;
	int64_t t0_ms;
	/* the answer */
	int status;
	char content_type[128];
	struct aios_buf body_out, headers_out;
};

struct svc {
	struct svc *next; /* hash chain */
	char ns[AIOS_GW_NS_MAX + 1], name[AIOS_GW_NAME_MAX + 1];
	int known; /* the ModelService exists (not only its Endpoints) */
	struct aios_gw_service_params p;
	struct aios_gw_endpoint *eps; /* AIOS_GW_MAX_ENDPOINTS slots */
	size_t n_eps;
	struct aios_gw_endpoint *unready; /* AIOS_GW_MAX_UNREADY slots once there were any */
	size_t n_unready;
	unsigned rr[2];     /* ring positions of the stable and the canary side */
	unsigned split_acc; /* aios_gw_split's accumulator */
	struct aios_gw_held *slots;
	struct aios_gw_queue q;
	int64_t cold_since_ms; /* first request held while no pod was ready; 0 = none */
	int in_flight;
	uint64_t requests;
	struct aios_series *m_in_flight, *m_queued, *m_cold, *m_retries, *m_duration;
};

struct loop_state {
	struct aios_gw *g;
	int index;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *done, *done_tail;
	int pending; /* jobs of this loop not yet on the done list */
};

struct aios_gw {
	struct aios_gw_config cfg;
	struct aios_http_server *http;
	struct aios_metrics *reg;
	pthread_mutex_t mu; /* the table, the work list, stopping */
	pthread_cond_t work_cv, timer_cv, probe_cv;
	struct svc *buckets[TABLE_BUCKETS];
	struct job *work, *work_tail;
	int stopping;
	atomic_int cancel; /* upstream calls stop (shutdown past the grace) */
	pthread_t *proxies, timer, prober;
	int n_proxies, timer_started, prober_started, running;
	void (*on_demand)(void *ud, const char *ns, const char *name);
	void *on_demand_ud;
	struct aios_metric *f_requests, *f_in_flight, *f_queued, *f_cold, *f_retries, *f_rejected,
	    *f_duration;
	struct aios_series *m_unknown;
};

void aios_gw_config_defaults(struct aios_gw_config *c)
{
	memset(c, 0, sizeof(*c));
	c->bind = "0.0.0.0";
	c->port = 8080;
	c->threads = 2;
	c->proxy_threads = 64;
	c->max_request_bytes = AIOS_CAP_HTTP_REQUEST;
	c->upstream_timeout_ms = 60000;
	c->read_timeout_ms = 10000;
	c->default_ns = "default";
}

/* ================================================================ the table */

static unsigned bucket_of(const char *ns, const char *name)
{
	unsigned h = 2166136261u; /* FNV-1a over "ns/name" */
	for (const char *p = ns; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % TABLE_BUCKETS;
}

/* The entry of ns/name; created when create is set, else NULL when absent. Caller
 * holds g->mu. */
static struct svc *svc_get(struct aios_gw *g, const char *ns, const char *name, int create)
{
	unsigned b = bucket_of(ns, name);
	for (struct svc *s = g->buckets[b]; s; s = s->next)
		if (strcmp(s->ns, ns) == 0 && strcmp(s->name, name) == 0)
			return s;
	if (!create)
		return NULL;
	struct svc *s = aios_xcalloc(1, sizeof(*s));
	snprintf(s->ns, sizeof(s->ns), "%s", ns);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->eps = aios_xcalloc(AIOS_GW_MAX_ENDPOINTS, sizeof(*s->eps));
	s->p.min_replicas = 1;
	s->p.queue_size = AIOS_GW_DEFAULT_QUEUE_SIZE;
	s->p.queue_timeout_ms = AIOS_GW_DEFAULT_QUEUE_TIMEOUT_S * 1000;
	s->p.max_request_bytes = AIOS_GW_DEFAULT_MAX_REQUEST;
	s->p.desired = -1;
	s->p.canary_weight = -1;
	s->slots = aios_xcalloc((size_t)s->p.queue_size, sizeof(*s->slots));
	aios_gw_queue_init(&s->q, s->slots, (size_t)s->p.queue_size);
	s->m_in_flight = aios_metric_with(g->f_in_flight, ns, name);
	s->m_queued = aios_metric_with(g->f_queued, ns, name);
	s->m_cold = aios_metric_with(g->f_cold, ns, name);
	s->m_retries = aios_metric_with(g->f_retries, ns, name);
	s->m_duration = aios_metric_with(g->f_duration, ns, name);
	s->next = g->buckets[b];
	g->buckets[b] = s;
	return s;
}

static void svc_free(struct svc *s)
{
	free(s->eps);
	free(s->unready);
	free(s->slots);
	free(s);
}

/* Gives s a queue of `size` slots, keeping what it holds (cut to the new size: the
 * oldest stay; the rest are returned through *spill, which the caller answers). */
static void svc_resize_queue(struct svc *s, int size, struct job **spill)
{
	if ((size_t)size == s->q.cap)
		return;
	struct aios_gw_held *slots = aios_xcalloc((size_t)size + 1, sizeof(*slots));
	struct aios_gw_queue q;
	aios_gw_queue_init(&q, slots, (size_t)size);
	struct aios_gw_held h;
	while (aios_gw_queue_pop(&s->q, &h)) {
		if (q.len < q.cap) {
			q.slot[(q.head + q.len) % q.cap] = h;
			q.len++;
		} else {
			struct job *j = h.item;
			j->next = *spill;
			*spill = j;
		}
	}
	free(s->slots);
	s->slots = slots;
	s->q = q;
}

/* ================================================================ answers */

static void job_free(struct job *j)
{
	free(j->path);
	free(j->body);
	for (int i = 0; j->hdr[i]; i++)
		free(j->hdr[i]);
	aios_buf_cleanup(&j->body_out);
	aios_buf_cleanup(&j->headers_out);
	free(j);
}

/* Sets j's answer to {"error": msg} with status. */
static void job_error(struct job *j, int status, const char *fmt, ...) AIOS_PRINTF(3, 4);
static void job_error(struct job *j, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j->status = status;
	snprintf(j->content_type, sizeof(j->content_type), "application/json");
	aios_buf_reset(&j->body_out);
	aios_buf_reset(&j->headers_out);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
	if (aios_buf_puts(&j->body_out, txt) != AIOS_OK)
		aios_errclear();
	json_object_put(o);
}

/* Hands j back to its loop, which answers it in round_end. */
static void job_complete(struct aios_gw *g, struct job *j)
{
	struct loop_state *ls = j->ls;
	j->next = NULL;
	pthread_mutex_lock(&ls->mu);
	if (ls->done_tail)
		ls->done_tail->next = j;
	else
		ls->done = j;
	ls->done_tail = j;
	aios_http_server_wake(g->http, ls->index);
	ls->pending--;
	pthread_cond_broadcast(&ls->cv);
	pthread_mutex_unlock(&ls->mu);
}

/* A 503 for a held request that cannot wait longer. */
static void job_unavailable(struct aios_gw *g, struct job *j, int retry_after_s, const char *reason,
                            const char *fmt, ...) AIOS_PRINTF(5, 6);
static void job_unavailable(struct aios_gw *g, struct job *j, int retry_after_s, const char *reason,
                            const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	job_error(j, 503, "%s", msg);
	if (aios_buf_printf(&j->headers_out, "Retry-After: %d\r\n", retry_after_s) != AIOS_OK)
		aios_errclear();
	aios_counter_inc(aios_metric_with(g->f_rejected, j->ns, j->name, reason));
}

/* ================================================================ dispatch */

/* Sends j to the least loaded ready pod of s, other than the one at index exclude.
 * 1 when it went to the work list; 0 when no pod is left. Caller holds g->mu. */
static int dispatch(struct aios_gw *g, struct svc *s, struct job *j, int exclude)
{
	int i = aios_gw_pick_weighted(s->eps, s->n_eps, exclude, s->p.canary_weight, &s->split_acc,
	                              s->rr);
	if (i < 0)
		return 0;
	s->eps[i].outstanding++;
	snprintf(j->addr, sizeof(j->addr), "%s", s->eps[i].addr);
	j->port = s->eps[i].port;
	j->next = NULL;
	if (g->work_tail)
		g->work_tail->next = j;
	else
		g->work = j;
	g->work_tail = j;
	pthread_cond_signal(&g->work_cv);
	return 1;
}

/* The index of addr:port among s's endpoints, or -1. */
static int ep_index(const struct svc *s, const char *addr, int port)
{
	for (size_t i = 0; i < s->n_eps; i++)
		if (s->eps[i].port == port && strcmp(s->eps[i].addr, addr) == 0)
			return (int)i;
	return -1;
}

/* The call of j to its pod has ended: the pod's count goes down. Caller holds g->mu. */
static void release(struct svc *s, const struct job *j)
{
	int i = s ? ep_index(s, j->addr, j->port) : -1;
	if (i >= 0 && s->eps[i].outstanding > 0)
		s->eps[i].outstanding--;
}

/* Sends every held request of s to its pods (they have just become ready) and ends
 * the cold start. Caller holds g->mu. */
static void drain_queue(struct aios_gw *g, struct svc *s, int64_t now)
{
	if (s->n_eps == 0)
		return;
	if (s->cold_since_ms) {
		double secs = (double)(now - s->cold_since_ms) / 1000.0;
		aios_histogram_observe(s->m_cold, secs);
		aios_info("cold_start",
		          "%s/%s: a pod is ready %.3f s after the first held request "
		          "(%zu held)",
		          s->ns, s->name, secs, s->q.len);
		s->cold_since_ms = 0;
	}
	struct aios_gw_held h;
	while (aios_gw_queue_pop(&s->q, &h)) {
		struct job *j = h.item;
		s->in_flight++;
		if (!dispatch(g, s, j, -1)) { /* cannot happen with n_eps > 0 */
			s->in_flight--;
			job_error(j, 502, "model %s/%s: no pod to send to", s->ns, s->name);
			job_complete(g, j);
		}
	}
	aios_gauge_set(s->m_queued, 0);
	aios_gauge_set(s->m_in_flight, s->in_flight);
}

/* ================================================================ proxy threads */

/* One call of j to its pod: fills j's answer; the error kind when the call failed. */
static enum aios_err call_pod(struct aios_gw *g, struct aios_httpc_handle *h, struct job *j,
                              char *err, size_t err_len)
{
	char url[AIOS_GW_PATH_MAX + 96];
	snprintf(url, sizeof(url), "http://%s:%d%s", j->addr, j->port, j->path);
	struct aios_httpc_req rq = {.method = j->method,
	                            .url = url,
	                            .headers = (const char *const *)j->hdr,
	                            .body = j->body,
	                            .body_len = j->body_len,
	                            .keep_headers = back_headers};
	/* the body is the client's own JSON or binary: never rewritten */
	struct aios_httpc_opts o = {.timeout_ms = g->cfg.upstream_timeout_ms,
	                            .cancel = (const int *)&g->cancel,
	                            .past_shutdown = 1,
	                            .body_cap = AIOS_CAP_HTTP_REQUEST};
	struct aios_httpc_resp resp;
	enum aios_err e = aios_httpc_perform(h, &rq, &o, &resp);
	if (e == AIOS_OK) {
		j->status = (int)resp.code;
		snprintf(j->content_type, sizeof(j->content_type), "%s",
		         resp.content_type[0] ? resp.content_type : "application/json");
		aios_buf_cleanup(&j->body_out);
		j->body_out = resp.body; /* handed over */
		aios_buf_cleanup(&j->headers_out);
		j->headers_out = resp.headers;
		return AIOS_OK;
	}
	snprintf(err, err_len, "%s", aios_errmsg());
	aios_httpc_resp_cleanup(&resp);
	return e;
}

static void *proxy_main(void *arg)
{
	struct aios_gw *g = arg;
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	for (;;) {
		pthread_mutex_lock(&g->mu);
		while (!g->work && !g->stopping)
			pthread_cond_wait(&g->work_cv, &g->mu);
		struct job *j = g->work;
		if (!j) { /* stopping, and nothing left to send */
			pthread_mutex_unlock(&g->mu);
			break;
		}
		g->work = j->next;
		if (!g->work)
			g->work_tail = NULL;
		pthread_mutex_unlock(&g->mu);

		char err[256];
		enum aios_err e;
		for (;;) {
			j->attempts++;
			e = call_pod(g, h, j, err, sizeof(err));
			pthread_mutex_lock(&g->mu);
			struct svc *s = svc_get(g, j->ns, j->name, 0);
			int failed = s ? ep_index(s, j->addr, j->port) : -1;
			release(s, j);
			int again = 0;
			if ((e == AIOS_ERR_UNAVAILABLE || e == AIOS_ERR_PROTOCOL) &&
			    j->attempts == 1 && s && !g->stopping) {
				int i =
				    aios_gw_pick_weighted(s->eps, s->n_eps, failed,
				                          s->p.canary_weight, &s->split_acc, s->rr);
				if (i >= 0) { /* any ready pod but the one that failed */
					aios_info("retry",
					          "%s/%s: pod %s:%d failed (%s): retrying on %s:%d",
					          j->ns, j->name, j->addr, j->port, err,
					          s->eps[i].addr, s->eps[i].port);
					s->eps[i].outstanding++;
					snprintf(j->addr, sizeof(j->addr), "%s", s->eps[i].addr);
					j->port = s->eps[i].port;
					aios_counter_inc(s->m_retries);
					again = 1;
				}
			}
			if (!again && s) {
				s->in_flight--;
				aios_gauge_set(s->m_in_flight, s->in_flight);
				aios_histogram_observe(s->m_duration,
				                       (double)(aios_now_ms() - j->t0_ms) / 1000.0);
			}
			pthread_mutex_unlock(&g->mu);
			if (!again)
				break;
		}
		if (e == AIOS_ERR_TIMEOUT)
			job_error(j, 504, "model %s/%s: pod %s:%d did not answer within %d ms",
			          j->ns, j->name, j->addr, j->port, g->cfg.upstream_timeout_ms);
		else if (e == AIOS_ERR_CANCELLED)
			job_error(j, 503, "model %s/%s: the gateway is shutting down", j->ns,
			          j->name);
		else if (e)
			job_error(j, 502, "model %s/%s: pod %s:%d: %s", j->ns, j->name, j->addr,
			          j->port, err);
		if (e)
			aios_warn("upstream_failed", "%s/%s: pod %s:%d (attempt %d): %s", j->ns,
			          j->name, j->addr, j->port, j->attempts, err);
		job_complete(g, j);
	}
	aios_httpc_handle_free(h);
	return NULL;
}

/* ================================================================ the timer */

/* The CLOCK_REALTIME instant ms from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	return ts;
}

/* Fails held requests whose timeout passed; at stop, every held request. */
static void *timer_main(void *arg)
{
	struct aios_gw *g = arg;
	pthread_mutex_lock(&g->mu);
	for (;;) {
		int64_t now = aios_now_ms(), wait = TIMER_SLICE_MS;
		for (int b = 0; b < TABLE_BUCKETS; b++) {
			for (struct svc *s = g->buckets[b]; s; s = s->next) {
				struct aios_gw_held h;
				while (g->stopping ? aios_gw_queue_pop(&s->q, &h)
				                   : aios_gw_queue_pop_expired(&s->q, now, &h)) {
					struct job *j = h.item;
					if (g->stopping)
						job_unavailable(
						    g, j, 1, "shutdown",
						    "model %s/%s: the gateway is shutting "
						    "down",
						    s->ns, s->name);
					else
						job_unavailable(
						    g, j,
						    aios_gw_retry_after_s(s->p.queue_timeout_ms),
						    "timeout",
						    "model %s/%s: no pod became ready within %d s "
						    "(held "
						    "since the request arrived)",
						    s->ns, s->name, s->p.queue_timeout_ms / 1000);
					job_complete(g, j);
				}
				aios_gauge_set(s->m_queued, (double)s->q.len);
				int64_t left = aios_gw_queue_next_deadline(&s->q, now);
				if (left >= 0 && left < wait)
					wait = left > 0 ? left : 1;
			}
		}
		if (g->stopping)
			break;
		struct timespec ts = deadline_in(wait);
		pthread_cond_timedwait(&g->timer_cv, &g->mu, &ts);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* ================================================================ the prober */

/*
 * A cold start ends when a pod can answer, not when the Endpoints say so: the kubelet
 * marks a pod ready only at its next readiness probe, up to a period (1 s) after the
 * server is up. While a service holds requests and has no ready pod, its not-ready pods
 * (Endpoints' notReadyAddresses) are probed here every PROBE_EVERY_MS on aios-serve's
 * own readiness path; the first to answer 200 takes the held requests and stays
 * routable for AIOS_GW_PROBED_TRUST_MS or until the Endpoints list it ready.
 */
struct probe_target {
	char ns[AIOS_GW_NS_MAX + 1], name[AIOS_GW_NAME_MAX + 1];
	struct aios_gw_endpoint ep;
	int ok;
};

/* Not-ready pods of services holding requests with no ready pod, up to cap. Caller
 * holds g->mu. */
static size_t probe_targets(struct aios_gw *g, struct probe_target *t, size_t cap)
{
	size_t n = 0;
	for (int b = 0; b < TABLE_BUCKETS && n < cap; b++)
		for (struct svc *s = g->buckets[b]; s && n < cap; s = s->next) {
			if (s->n_eps > 0 || s->q.len == 0)
				continue;
			for (size_t i = 0; i < s->n_unready && n < cap; i++, n++) {
				snprintf(t[n].ns, sizeof(t[n].ns), "%s", s->ns);
				snprintf(t[n].name, sizeof(t[n].name), "%s", s->name);
				t[n].ep = s->unready[i];
				t[n].ok = 0;
			}
		}
	return n;
}

static int probe_ready(struct aios_gw *g, struct aios_httpc_handle *h, const struct probe_target *t)
{
	char url[AIOS_GW_ADDR_MAX + 64];
	snprintf(url, sizeof(url), "http://%s:%d%s", t->ep.addr, t->ep.port, PROBE_PATH);
	struct aios_httpc_req rq = {.method = "GET", .url = url};
	struct aios_httpc_opts o = {
	    .timeout_ms = PROBE_TIMEOUT_MS, .cancel = (const int *)&g->cancel, .body_cap = 4096};
	struct aios_httpc_resp resp;
	int ok = aios_httpc_perform(h, &rq, &o, &resp) == AIOS_OK && resp.code == 200;
	aios_httpc_resp_cleanup(&resp);
	return ok;
}

/* t answered its probe: its pod takes s's held requests. Caller holds g->mu. */
static void probed_ready(struct aios_gw *g, const struct probe_target *t, int64_t now)
{
	struct svc *s = svc_get(g, t->ns, t->name, 0);
	if (!s)
		return;
	for (size_t i = 0; i < s->n_unready; i++) {
		struct aios_gw_endpoint *u = &s->unready[i];
		if (u->port != t->ep.port || strcmp(u->addr, t->ep.addr) != 0)
			continue;
		u->probed_ms = now;
		if (aios_gw_keep_probed(s->eps, &s->n_eps, AIOS_GW_MAX_ENDPOINTS, s->unready,
		                        s->n_unready, now, AIOS_GW_PROBED_TRUST_MS))
			aios_info("probed_ready",
			          "%s/%s: pod %s:%d answers %s before its Endpoints say ready: "
			          "sending it the held requests",
			          s->ns, s->name, u->addr, u->port, PROBE_PATH);
		aios_gw_mark_canary(s->eps, s->n_eps, s->p.canary_revision);
		if (s->known)
			drain_queue(g, s, now);
		return;
	}
}

static void *prober_main(void *arg)
{
	struct aios_gw *g = arg;
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	struct probe_target t[PROBE_BATCH];
	pthread_mutex_lock(&g->mu);
	while (!g->stopping) {
		size_t n = probe_targets(g, t, PROBE_BATCH);
		if (n == 0) { /* woken when a request is held or not-ready pods appear */
			pthread_cond_wait(&g->probe_cv, &g->mu);
			continue;
		}
		pthread_mutex_unlock(&g->mu);
		int64_t start = aios_now_ms();
		for (size_t i = 0; i < n; i++)
			t[i].ok = probe_ready(g, h, &t[i]);
		pthread_mutex_lock(&g->mu);
		for (size_t i = 0; i < n; i++)
			if (t[i].ok)
				probed_ready(g, &t[i], aios_now_ms());
		int64_t left = PROBE_EVERY_MS - (aios_now_ms() - start);
		if (left > 0 && !g->stopping) {
			struct timespec ts = deadline_in(left);
			pthread_cond_timedwait(&g->probe_cv, &g->mu, &ts);
		}
	}
	pthread_mutex_unlock(&g->mu);
	aios_httpc_handle_free(h);
	return NULL;
}

/* ================================================================ handlers */

/* Copies what the pod needs of req into a new job (no lock needed). */
static struct job *job_new(struct aios_http_req *req, const struct aios_gw_target *t,
                           struct loop_state *ls)
{
	struct job *j = aios_xcalloc(1, sizeof(*j));
	j->ls = ls;
	snprintf(j->ns, sizeof(j->ns), "%s", t->ns);
	snprintf(j->name, sizeof(j->name), "%s", t->name);
	snprintf(j->method, sizeof(j->method), "%s", req->method);
	j->path =
	    req->query[0] ? aios_xasprintf("%s?%s", t->path, req->query) : aios_xstrdup(t->path);
	if (req->body_len) {
		j->body = aios_xmalloc(req->body_len);
		memcpy(j->body, req->body, req->body_len);
		j->body_len = req->body_len;
	}
	int k = 0;
	for (int i = 0; fwd_headers[i] && k < MAX_FWD_HEADERS; i++) {
		const char *v = aios_http_req_header(req, fwd_headers[i]);
		if (v)
			j->hdr[k++] = aios_xasprintf("%s: %s", fwd_headers[i], v);
	}
	j->t0_ms = aios_now_ms();
	aios_buf_init(&j->body_out, AIOS_CAP_HTTP_REQUEST);
	aios_buf_init(&j->headers_out, AIOS_HTTPC_KEPT_HEADERS_CAP);
	return j;
}

static void h_model(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct aios_gw *g = ud;
	struct loop_state *ls = req->conn_user;
	struct aios_gw_target t;
	enum aios_err e = aios_gw_parse_target(req->path, aios_http_req_header(req, "Host"),
	                                       g->cfg.default_ns, &t);
	if (e) {
		aios_counter_inc(g->m_unknown);
		aios_http_resp_error(resp, e == AIOS_ERR_NOT_FOUND ? 404 : 400, "%s",
		                     aios_errmsg());
		return;
	}
	int64_t now = aios_now_ms();
	int notify = 0, hold_s = 0;
	pthread_mutex_lock(&g->mu);
	struct svc *s = svc_get(g, t.ns, t.name, 0);
	if (!s || !s->known || g->stopping) {
		pthread_mutex_unlock(&g->mu);
		if (g->stopping) {
			aios_http_resp_header(resp, "Retry-After", "1");
			aios_http_resp_error(resp, 503, "the gateway is shutting down");
			return;
		}
		aios_counter_inc(g->m_unknown);
		aios_http_resp_error(resp, 404, "model %s not found in namespace %s", t.name, t.ns);
		return;
	}
	if ((long)req->body_len > s->p.max_request_bytes) {
		long cap = s->p.max_request_bytes;
		pthread_mutex_unlock(&g->mu);
		aios_http_resp_error(resp, 413,
		                     "request body of %zu bytes is over model %s/%s's limit of %ld "
		                     "bytes (spec.runtime.maxRequestBytes)",
		                     req->body_len, t.ns, t.name, cap);
		return;
	}
	if (s->n_eps == 0 && s->q.len >= s->q.cap) {
		int ra = aios_gw_retry_after_s(s->p.queue_timeout_ms);
		size_t cap = s->q.cap;
		pthread_mutex_unlock(&g->mu);
		aios_counter_inc(aios_metric_with(g->f_rejected, t.ns, t.name, "full"));
		char v[16];
		snprintf(v, sizeof(v), "%d", ra);
		aios_http_resp_header(resp, "Retry-After", v);
		aios_http_resp_error(resp, 503,
		                     "model %s/%s has no ready pod and %zu requests already wait "
		                     "for one (spec.autoscaling.coldStartQueueSize)",
		                     t.ns, t.name, cap);
		return;
	}
	struct job *j = job_new(req, &t, ls);
	j->d = aios_http_defer(req);
	pthread_mutex_lock(&ls->mu);
	ls->pending++;
	pthread_mutex_unlock(&ls->mu);
	s->requests++;
	aios_counter_inc(aios_metric_with(g->f_requests, t.ns, t.name));
	if (s->n_eps > 0) {
		s->in_flight++;
		aios_gauge_set(s->m_in_flight, s->in_flight);
		dispatch(g, s, j, -1);
	} else {
		(void)aios_gw_queue_push(&s->q, j, now, s->p.queue_timeout_ms); /* room: above */
		aios_gauge_set(s->m_queued, (double)s->q.len);
		if (!s->cold_since_ms) {
			s->cold_since_ms = now;
			notify = 1;
			hold_s = s->p.queue_timeout_ms / 1000;
		}
		pthread_cond_signal(&g->timer_cv);
		pthread_cond_signal(&g->probe_cv);
	}
	pthread_mutex_unlock(&g->mu);
	if (notify) {
		aios_info("cold_request", "%s/%s: no ready pod: holding requests up to %d s", t.ns,
		          t.name, hold_s);
		if (g->on_demand)
			g->on_demand(g->on_demand_ud, t.ns, t.name);
	}
}

static void h_live(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	aios_http_resp_json(resp, 200, "{\"live\":true}", 13);
}

static void h_ready(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	aios_http_resp_json(resp, 200, "{\"ready\":true}", 14);
}

/* ================================================================ loops */

static void *loop_init(int index, void *ud)
{
	struct loop_state *ls = aios_xcalloc(1, sizeof(*ls));
	ls->g = ud;
	ls->index = index;
	pthread_mutex_init(&ls->mu, NULL);
	pthread_cond_init(&ls->cv, NULL);
	return ls;
}

static void loop_cleanup(void *state, void *ud)
{
	struct loop_state *ls = state;
	pthread_mutex_destroy(&ls->mu);
	pthread_cond_destroy(&ls->cv);
	free(ls);
}

/* Answers every finished job of this loop; while the gateway stops, first waits for
 * the loop's jobs still out (the proxies are cancelled then, the timer fails what is
 * held, so the wait is short). */
static int round_end(void *state, void *ud)
{
	struct loop_state *ls = state;
	struct aios_gw *g = ud;
	pthread_mutex_lock(&g->mu);
	int stopping = g->stopping;
	pthread_mutex_unlock(&g->mu);
	pthread_mutex_lock(&ls->mu);
	while (stopping && ls->pending > 0)
		pthread_cond_wait(&ls->cv, &ls->mu);
	struct job *j = ls->done;
	ls->done = ls->done_tail = NULL;
	pthread_mutex_unlock(&ls->mu);
	while (j) {
		struct job *next = j->next;
		struct aios_http_resp *r = aios_http_defer_resp(j->d);
		r->status = j->status;
		r->content_type = j->content_type;
		if (aios_buf_append(&r->body, j->body_out.data ? j->body_out.data : "",
		                    j->body_out.len) != AIOS_OK ||
		    aios_buf_append(&r->headers, j->headers_out.data ? j->headers_out.data : "",
		                    j->headers_out.len) != AIOS_OK) {
			aios_errclear();
			aios_buf_reset(&r->body);
			aios_buf_reset(&r->headers);
			r->status = 502;
			r->content_type = "application/json";
			if (aios_buf_puts(&r->body, "{\"error\":\"answer too large\"}") != AIOS_OK)
				aios_errclear();
		}
		aios_http_defer_done(j->d);
		job_free(j);
		j = next;
	}
	return -1;
}

/* ================================================================ lifecycle */

enum aios_err aios_gw_new(const struct aios_gw_config *c, struct aios_gw **out)
{
	struct aios_gw *g = aios_xcalloc(1, sizeof(*g));
	g->cfg = *c;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->work_cv, NULL);
	pthread_cond_init(&g->timer_cv, NULL);
	pthread_cond_init(&g->probe_cv, NULL);
	g->reg = aios_metrics_new();
	g->f_requests = aios_metrics_counter(g->reg, "aios_gateway_requests_total",
	                                     "Requests accepted for a known model (forwarded or "
	                                     "held), by namespace and service.",
	                                     "namespace", "service", NULL);
	g->f_in_flight = aios_metrics_gauge(g->reg, "aios_gateway_requests_in_flight",
	                                    "Requests sent to a pod and not answered yet.",
	                                    "namespace", "service", NULL);
	g->f_queued = aios_metrics_gauge(g->reg, "aios_gateway_requests_queued",
	                                 "Requests held while the service has no ready pod.",
	                                 "namespace", "service", NULL);
	g->f_cold = aios_metrics_histogram(
	    g->reg, "aios_gateway_cold_start_seconds",
	    "Time from the first request held for a service without a ready pod to its first "
	    "ready pod.",
	    cold_buckets, (int)(sizeof(cold_buckets) / sizeof(cold_buckets[0])), "namespace",
	    "service", NULL);
	g->f_retries = aios_metrics_counter(g->reg, "aios_gateway_upstream_retries_total",
	                                    "Requests sent again to another pod after the first "
	                                    "failed (refused, reset, closed early).",
	                                    "namespace", "service", NULL);
	g->f_rejected = aios_metrics_counter(
	    g->reg, "aios_gateway_queue_rejections_total",
	    "Held requests answered 503: queue full, timeout, or the gateway shutting down.",
	    "namespace", "service", "reason", NULL);
	g->f_duration = aios_metrics_histogram(
	    g->reg, "aios_gateway_request_duration_seconds",
	    "From a request's arrival to its pod's answer, holding time included.",
	    aios_metrics_latency_buckets, aios_metrics_latency_buckets_n, "namespace", "service",
	    NULL);
	g->m_unknown = aios_metric_with(aios_metrics_counter(
	    g->reg, "aios_gateway_unknown_model_requests_total",
	    "Requests for a path that names no model, or a model the gateway does not know.",
	    NULL));

	struct aios_http_config hc;
	aios_http_config_defaults(&hc);
	hc.bind_addr = c->bind;
	hc.port = c->port;
	hc.threads = c->threads;
	hc.max_body_bytes = (size_t)c->max_request_bytes;
	hc.read_timeout_ms = c->read_timeout_ms;
	/* a deferred request has no timeout in the server; ours is upstream_timeout_ms */
	hc.write_timeout_ms = c->read_timeout_ms;
	hc.tls_cert = c->tls_cert;
	hc.tls_key = c->tls_key;
	hc.name = "gateway";
	hc.thread_init = loop_init;
	hc.thread_cleanup = loop_cleanup;
	hc.round_end = round_end;
	hc.thread_ud = g;
	g->http = aios_http_server_new(&hc);
	static const struct {
		const char *method, *pattern;
		aios_http_handler fn;
	} routes[] = {
	    {"GET", "/v2/health/live", h_live},
	    {"GET", "/v2/health/ready", h_ready},
	    {"GET", "/healthz", aios_http_ok_handler},
	    {"GET", "/readyz", aios_http_ok_handler},
	    {"GET", "/metrics", aios_http_metrics_handler},
	    {"*", "/v1/models/*", h_model},
	    {"*", "/v2/models/*", h_model},
	    {"*", "/namespaces/*", h_model},
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		void *ud = routes[i].fn == aios_http_metrics_handler ? (void *)g->reg : (void *)g;
		if (aios_http_route(g->http, routes[i].method, routes[i].pattern, routes[i].fn,
		                    ud)) {
			aios_gw_free(g);
			return AIOS_ERR_INVALID;
		}
	}
	*out = g;
	return AIOS_OK;
}

enum aios_err aios_gw_start(struct aios_gw *g)
{
	enum aios_err e = aios_http_server_start(g->http);
	if (e)
		return e;
	g->running = 1;
	g->proxies = aios_xcalloc((size_t)g->cfg.proxy_threads, sizeof(*g->proxies));
	for (int i = 0; i < g->cfg.proxy_threads; i++) {
		if (pthread_create(&g->proxies[i], NULL, proxy_main, g) != 0)
			break;
		g->n_proxies++;
	}
	if (pthread_create(&g->timer, NULL, timer_main, g) == 0)
		g->timer_started = 1;
	if (pthread_create(&g->prober, NULL, prober_main, g) == 0)
		g->prober_started = 1;
	if (g->n_proxies == 0 || !g->timer_started || !g->prober_started) {
		aios_gw_stop(g, 0);
		return aios_fail(AIOS_ERR_IO, "gateway: cannot start its threads");
	}
	aios_info("gateway_started", "gateway: listening on %s:%d (%d loops, %d proxy threads)",
	          g->cfg.bind, aios_http_server_port(g->http), g->cfg.threads, g->n_proxies);
	return AIOS_OK;
}

int aios_gw_port(const struct aios_gw *g)
{
	return aios_http_server_port(g->http);
}

/* Cancels the upstream calls still out after grace_ms (a thread of its own, so that
 * the server's stop can wait meanwhile). */
struct canceller {
	struct aios_gw *g;
	int grace_ms;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void *cancel_main(void *arg)
{
	struct canceller *c = arg;
	struct timespec ts = deadline_in(c->grace_ms);
	pthread_mutex_lock(&c->mu);
	while (!c->done)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&c->mu);
	atomic_store(&c->g->cancel, 1);
	return NULL;
}

void aios_gw_stop(struct aios_gw *g, int grace_ms)
{
	if (!g->running)
		return;
	pthread_mutex_lock(&g->mu);
	g->stopping = 1;
	pthread_cond_broadcast(&g->timer_cv);
	pthread_cond_broadcast(&g->probe_cv);
	pthread_mutex_unlock(&g->mu);
	if (g->prober_started)
		pthread_join(g->prober, NULL);
	g->prober_started = 0;
	if (g->timer_started)
		pthread_join(g->timer, NULL); /* held requests: answered 503 */
	g->timer_started = 0;
	struct canceller c = {.g = g, .grace_ms = grace_ms};
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	pthread_t ct;
	int have_ct = pthread_create(&ct, NULL, cancel_main, &c) == 0;
	if (!have_ct)
		atomic_store(&g->cancel, 1);
	aios_http_server_stop(g->http, grace_ms + 1000);
	pthread_mutex_lock(&g->mu);
	pthread_cond_broadcast(&g->work_cv);
	pthread_mutex_unlock(&g->mu);
	for (int i = 0; i < g->n_proxies; i++)
		pthread_join(g->proxies[i], NULL);
	g->n_proxies = 0;
	if (have_ct) {
		pthread_mutex_lock(&c.mu);
		c.done = 1;
		pthread_cond_signal(&c.cv);
		pthread_mutex_unlock(&c.mu);
		pthread_join(ct, NULL);
	}
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv);
	g->running = 0;
	aios_info("gateway_stopped", "gateway: stopped");
}

void aios_gw_free(struct aios_gw *g)
{
	if (!g)
		return;
	aios_gw_stop(g, 0);
	aios_http_server_free(g->http);
	for (int b = 0; b < TABLE_BUCKETS; b++) {
		while (g->buckets[b]) {
			struct svc *s = g->buckets[b];
			g->buckets[b] = s->next;
			svc_free(s);
		}
	}
	free(g->proxies);
	aios_metrics_free(g->reg);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->work_cv);
	pthread_cond_destroy(&g->timer_cv);
	pthread_cond_destroy(&g->probe_cv);
	free(g);
}

struct aios_metrics *aios_gw_metrics(struct aios_gw *g)
{
	return g->reg;
}

void aios_gw_on_demand(struct aios_gw *g, void (*fn)(void *ud, const char *ns, const char *name),
                       void *ud)
{
	g->on_demand = fn;
	g->on_demand_ud = ud;
}

/* ================================================================ table feeds */

void aios_gw_set_service(struct aios_gw *g, const char *ns, const char *name,
                         const struct aios_gw_service_params *p)
{
	struct job *spill = NULL;
	pthread_mutex_lock(&g->mu);
	struct svc *s = svc_get(g, ns, name, 1);
	if (!s->known)
		aios_info("service_added", "%s/%s: routed (min %d replicas, queue %d, %d s)", ns,
		          name, p->min_replicas, p->queue_size, p->queue_timeout_ms / 1000);
	s->known = 1;
	if (p->canary_weight != s->p.canary_weight ||
	    strcmp(p->canary_revision, s->p.canary_revision) != 0)
		aios_info("canary", "%s/%s: %d%% of requests to canary revision %s", ns, name,
		          p->canary_weight < 0 ? 0 : p->canary_weight,
		          p->canary_revision[0] ? p->canary_revision : "(none)");
	s->p = *p;
	aios_gw_mark_canary(s->eps, s->n_eps, s->p.canary_revision);
	svc_resize_queue(s, p->queue_size, &spill);
	int ra = aios_gw_retry_after_s(p->queue_timeout_ms);
	while (spill) {
		struct job *j = spill;
		spill = j->next;
		job_unavailable(g, j, ra, "full", "model %s/%s: its queue was made smaller", ns,
		                name);
		job_complete(g, j);
	}
	pthread_mutex_unlock(&g->mu);
}

void aios_gw_remove_service(struct aios_gw *g, const char *ns, const char *name)
{
	pthread_mutex_lock(&g->mu);
	struct svc *s = svc_get(g, ns, name, 0);
	if (s && s->known) {
		s->known = 0;
		struct aios_gw_held h;
		while (aios_gw_queue_pop(&s->q, &h)) {
			struct job *j = h.item;
			job_error(j, 404, "model %s not found in namespace %s (deleted)", name, ns);
			job_complete(g, j);
		}
		s->cold_since_ms = 0;
		aios_gauge_set(s->m_queued, 0);
		aios_info("service_removed", "%s/%s: no longer routed", ns, name);
	}
	/* the entry stays (its series live as long as the registry); it is reused if the
	 * service comes back */
	pthread_mutex_unlock(&g->mu);
}

void aios_gw_set_endpoints(struct aios_gw *g, const char *ns, const char *name,
                           const struct aios_gw_endpoint *eps, size_t n)
{
	pthread_mutex_lock(&g->mu);
	struct svc *s = svc_get(g, ns, name, 1);
	size_t before = s->n_eps;
	size_t dropped = aios_gw_endpoints_merge(s->eps, &s->n_eps, AIOS_GW_MAX_ENDPOINTS, eps, n);
	if (dropped)
		aios_warn("endpoints_cut", "%s/%s: %zu ready addresses past %d are not used", ns,
		          name, dropped, AIOS_GW_MAX_ENDPOINTS);
	aios_gw_keep_probed(s->eps, &s->n_eps, AIOS_GW_MAX_ENDPOINTS, s->unready, s->n_unready,
	                    aios_now_ms(), AIOS_GW_PROBED_TRUST_MS);
	aios_gw_mark_canary(s->eps, s->n_eps, s->p.canary_revision);
	if (before != s->n_eps)
		aios_info("endpoints", "%s/%s: %zu ready pods (was %zu)", ns, name, s->n_eps,
		          before);
	if (s->known)
		drain_queue(g, s, aios_now_ms());
	pthread_mutex_unlock(&g->mu);
}

void aios_gw_set_unready(struct aios_gw *g, const char *ns, const char *name,
                         const struct aios_gw_endpoint *eps, size_t n)
{
	if (n > AIOS_GW_MAX_UNREADY)
		n = AIOS_GW_MAX_UNREADY;
	pthread_mutex_lock(&g->mu);
	struct svc *s = svc_get(g, ns, name, 1);
	if (n > 0 && !s->unready)
		s->unready = aios_xcalloc(AIOS_GW_MAX_UNREADY, sizeof(*s->unready));
	struct aios_gw_endpoint fresh[AIOS_GW_MAX_UNREADY];
	if (n > 0)
		memcpy(fresh, eps, n * sizeof(*fresh));
	aios_gw_unready_carry(fresh, n, s->unready, s->n_unready);
	if (n > 0)
		memcpy(s->unready, fresh, n * sizeof(*fresh));
	s->n_unready = n;
	if (n > 0 && s->q.len > 0)
		pthread_cond_signal(&g->probe_cv);
	pthread_mutex_unlock(&g->mu);
}

size_t aios_gw_stats(struct aios_gw *g, struct aios_gw_stat **out)
{
	size_t n = 0, cap = 16;
	struct aios_gw_stat *v = aios_xcalloc(cap, sizeof(*v));
	pthread_mutex_lock(&g->mu);
	for (int b = 0; b < TABLE_BUCKETS; b++) {
		for (struct svc *s = g->buckets[b]; s; s = s->next) {
			if (!s->known)
				continue;
			if (n == cap) {
				cap *= 2;
				v = aios_xrealloc(v, cap * sizeof(*v));
			}
			snprintf(v[n].ns, sizeof(v[n].ns), "%s", s->ns);
			snprintf(v[n].name, sizeof(v[n].name), "%s", s->name);
			v[n].queued = (int)s->q.len;
			v[n].in_flight = s->in_flight;
			v[n].requests = s->requests;
			v[n].ready = (int)s->n_eps;
			n++;
		}
	}
	pthread_mutex_unlock(&g->mu);
	*out = v;
	return n;
}
