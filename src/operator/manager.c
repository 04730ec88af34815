/*
 * manager.c - the controller manager: probe and metrics servers, shared informers,
 * leader election, one rate-limited work queue and a pool of workers per controller.
 * See manager.h for the start and stop order.
 */
#include "operator/manager.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "http/http.h"
#include "http/metrics.h"
#include "kube/config.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/workqueue.h"

#define MAX_CONTROLLERS 8
#define MAX_INFORMERS   16
#define MAX_TARGETS     8
/* How long informers may take to list before the manager gives up (controller-runtime's
 * CacheSyncTimeout is 2 minutes). */
#define CACHE_SYNC_TIMEOUT_MS 120000
/* How long a stopping manager lets workers finish the keys they hold. */
#define DRAIN_TIMEOUT_MS 30000

struct ctl {
	const struct aios_controller *c;
	void *state;
	struct aios_kube_workqueue *q;
	pthread_t *threads;
	int n_threads;
	struct aios_manager *m;
	struct aios_series *ok, *err, *requeue, *duration, *depth;
};

struct target {
	struct ctl *ctl;
	enum aios_watch_map map;
	const char *owner_label;
};

struct slot {
	const struct aios_kube_gvr *gvr;
	char *selector;                             /* NULL: every object */
	void (*transform)(struct json_object *obj); /* before the store; never NULL */
	struct aios_kube_informer *inf;
	struct target targets[MAX_TARGETS];
	int n_targets;
	struct aios_manager *m;
	uint64_t restarts_seen;
	struct aios_series *restarts;
	struct aios_series *cache_objects, *cache_bytes; /* shared by slots of one resource */
};

struct aios_manager {
	struct aios_manager_config cfg;
	struct aios_kube_config *kcfg;
	struct aios_kube_client *client;
	struct aios_kube_recorder *rec;
	struct aios_metrics *metrics;
	struct aios_metric *m_api, *m_reconcile, *m_duration, *m_depth, *m_restarts;
	struct aios_metric *m_cache_objects, *m_cache_bytes;
	struct aios_series *leader_gauge;
	struct aios_http_server *metrics_srv, *health_srv;
	struct ctl ctls[MAX_CONTROLLERS];
	int n_ctls;
	struct slot slots[MAX_INFORMERS];
	int n_slots;
	struct aios_kube_leader *leader;
	atomic_int synced, leading, lost_lease;
};

/* ============================== config ============================== */

void aios_manager_config_defaults(struct aios_manager_config *c)
{
	memset(c, 0, sizeof(*c));
	c->metrics_bind_address = ":8080";
	c->health_probe_bind_address = ":8081";
	c->leader_election_id = "aios-operator";
	c->workers = 2;
}

/* "[host]:port" -> host (default 0.0.0.0) and port; "0" disables (port -1). */
static enum aios_err parse_bind(const char *flag, const char *s, char *host, size_t hn, int *port)
{
	if (!s || strcmp(s, "0") == 0 || !*s) {
		*port = -1;
		return AIOS_OK;
	}
	const char *colon = strrchr(s, ':');
	if (!colon)
		return aios_fail(AIOS_ERR_INVALID, "%s: \"%s\" is not [host]:port", flag, s);
	size_t n = (size_t)(colon - s);
	if (n >= hn)
		return aios_fail(AIOS_ERR_INVALID, "%s: host in \"%s\" is too long", flag, s);
	if (n == 0)
		snprintf(host, hn, "0.0.0.0");
	else
		snprintf(host, hn, "%.*s", (int)n, s);
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535 || end == colon + 1)
		return aios_fail(AIOS_ERR_INVALID, "%s: port in \"%s\" is not 0..65535", flag, s);
	*port = (int)p;
	return AIOS_OK;
}

/* ============================== metrics ============================== */

static void api_hook(void *arg, const char *verb, int code)
{
	struct aios_manager *m = arg;
	char cs[16];
	snprintf(cs, sizeof(cs), "%d", code);
	aios_counter_inc(aios_metric_with(m->m_api, verb, cs));
}

static void collect(void *ud)
{
	struct aios_manager *m = ud;
	for (int i = 0; i < m->n_ctls; i++)
		if (m->ctls[i].q)
			aios_gauge_set(m->ctls[i].depth,
			               (double)aios_kube_workqueue_len(m->ctls[i].q));
	for (int i = 0; i < m->n_slots; i++) {
		struct slot *s = &m->slots[i];
		if (!s->inf)
			continue;
		uint64_t r = aios_kube_informer_watch_restarts(s->inf);
		if (r > s->restarts_seen) {
			aios_counter_add(s->restarts, (double)(r - s->restarts_seen));
			s->restarts_seen = r;
		}
	}
	/* cache size per resource (several informers may watch one resource) */
	for (int i = 0; i < m->n_slots; i++) {
		struct slot *s = &m->slots[i];
		int seen_before = 0;
		for (int j = 0; j < i; j++)
			seen_before |= m->slots[j].gvr == s->gvr;
		if (seen_before)
			continue;
		size_t objs = 0, bytes = 0;
		for (int j = i; j < m->n_slots; j++) {
			if (m->slots[j].gvr != s->gvr || !m->slots[j].inf)
				continue;
			objs += aios_kube_informer_len(m->slots[j].inf);
			bytes += aios_kube_informer_bytes(m->slots[j].inf);
		}
		aios_gauge_set(s->cache_objects, (double)objs);
		aios_gauge_set(s->cache_bytes, (double)bytes);
	}
	aios_gauge_set(m->leader_gauge, atomic_load(&m->leading) ? 1 : 0);
}

static void declare_metrics(struct aios_manager *m)
{
	static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	                                 0.25,  0.5,    1,     2.5,  5,     10};
	struct aios_metrics *r = m->metrics;
	m->m_reconcile = aios_metrics_counter(r, "aios_operator_reconcile_total",
	                                      "Reconciles by controller kind and result "
	                                      "(success, error, requeue_after).",
	                                      "kind", "result", NULL);
	m->m_duration =
	    aios_metrics_histogram(r, "aios_operator_reconcile_duration_seconds",
	                           "Time one reconcile took, by controller kind.", buckets,
	                           (int)(sizeof(buckets) / sizeof(buckets[0])), "kind", NULL);
	m->m_depth = aios_metrics_gauge(r, "aios_operator_workqueue_depth",
	                                "Keys waiting in a controller's work queue.", "kind", NULL);
	m->m_restarts = aios_metrics_counter(r, "aios_operator_watch_restarts_total",
	                                     "Watches restarted after the first, by resource.",
	                                     "resource", NULL);
	m->m_cache_objects =
	    aios_metrics_gauge(r, "aios_operator_cache_objects",
	                       "Objects in the informer caches, by resource.", "resource", NULL);
	m->m_cache_bytes = aios_metrics_gauge(
	    r, "aios_operator_cache_bytes",
	    "Bytes of cached object text (compact JSON) in the informer caches, by resource.",
	    "resource", NULL);
	m->m_api = aios_metrics_counter(
	    r, "aios_operator_api_requests_total",
	    "Kubernetes API requests by verb and HTTP code (0: no answer).", "verb", "code", NULL);
	struct aios_metric *lg = aios_metrics_gauge(r, "aios_operator_leader",
	                                            "1 while this replica holds the Lease.", NULL);
	m->leader_gauge = aios_metric_with(lg);
	aios_metrics_on_collect(r, collect, m);
}

/* ============================== lifecycle ============================== */

enum aios_err aios_manager_new(const struct aios_manager_config *c, struct aios_manager **out)
{
	*out = NULL;
	struct aios_manager *m = aios_xcalloc(1, sizeof(*m));
	m->cfg = *c;
	if (m->cfg.workers < 1)
		m->cfg.workers = 1;
	enum aios_err e = aios_kube_config_load(c->kubeconfig, c->context, &m->kcfg);
	if (e) {
		free(m);
		return e;
	}
	e = aios_kube_client_new(m->kcfg, &m->client);
	if (e) {
		aios_kube_config_free(m->kcfg);
		free(m);
		return e;
	}
	aios_kube_client_set_user_agent(m->client, "aios-operator/" AIOS_VERSION);
	m->metrics = aios_metrics_new();
	declare_metrics(m);
	aios_kube_client_set_metrics_hook(m->client, api_hook, m);
	m->rec = aios_kube_recorder_new(m->client, "aios-operator");
	*out = m;
	return AIOS_OK;
}

/* The informer slot for (gvr, selector), created on first use. */
static struct slot *slot_for(struct aios_manager *m, const struct aios_kube_gvr *gvr,
                             const char *selector, void (*transform)(struct json_object *))
{
	if (!transform)
		transform = aios_kube_strip_managed_fields;
	for (int i = 0; i < m->n_slots; i++) {
		struct slot *s = &m->slots[i];
		if (s->gvr == gvr &&
		    ((!s->selector && !selector) ||
		     (s->selector && selector && strcmp(s->selector, selector) == 0))) {
			if (s->transform != transform) /* shared: keep only what every user reads */
				s->transform = aios_kube_strip_managed_fields;
			return s;
		}
	}
	if (m->n_slots == MAX_INFORMERS) {
		aios_error("manager", "too many informers (max %d)", MAX_INFORMERS);
		abort();
	}
	struct slot *s = &m->slots[m->n_slots++];
	s->gvr = gvr;
	s->selector = selector ? aios_xstrdup(selector) : NULL;
	s->m = m;
	s->transform = transform;
	s->restarts = aios_metric_with(m->m_restarts, gvr->resource);
	s->cache_objects = aios_metric_with(m->m_cache_objects, gvr->resource);
	s->cache_bytes = aios_metric_with(m->m_cache_bytes, gvr->resource);
	return s;
}

static void add_target(struct slot *s, struct ctl *ctl, enum aios_watch_map map, const char *label)
{
	if (s->n_targets == MAX_TARGETS) {
		aios_error("manager", "too many controllers watch %s", s->gvr->resource);
		abort();
	}
	s->targets[s->n_targets++] = (struct target){ctl, map, label};
}

void aios_manager_add(struct aios_manager *m, const struct aios_controller *c)
{
	if (m->n_ctls == MAX_CONTROLLERS) {
		aios_error("manager", "too many controllers (max %d)", MAX_CONTROLLERS);
		abort();
	}
	struct ctl *ctl = &m->ctls[m->n_ctls++];
	ctl->c = c;
	ctl->m = m;
	ctl->ok = aios_metric_with(m->m_reconcile, c->name, "success");
	ctl->err = aios_metric_with(m->m_reconcile, c->name, "error");
	ctl->requeue = aios_metric_with(m->m_reconcile, c->name, "requeue_after");
	ctl->duration = aios_metric_with(m->m_duration, c->name);
	ctl->depth = aios_metric_with(m->m_depth, c->name);
	add_target(slot_for(m, c->resource, NULL, c->transform), ctl, AIOS_WATCH_SELF, NULL);
	for (int i = 0; i < AIOS_CONTROLLER_MAX_WATCHES && c->watches[i].res; i++) {
		const struct aios_watch *w = &c->watches[i];
		add_target(slot_for(m, w->res, w->map == AIOS_WATCH_OWNER ? w->owner_label : NULL,
		                    w->transform),
		           ctl, w->map, w->owner_label);
	}
}

/* ============================== events -> keys ============================== */

static void enqueue_for(struct slot *s, struct json_object *obj)
{
	const char *ns = aios_json_str(obj, "metadata.namespace");
	const char *name = aios_json_str(obj, "metadata.name");
	if (!name)
		return;
	for (int i = 0; i < s->n_targets; i++) {
		struct target *t = &s->targets[i];
		const char *key_name = name;
		if (t->map == AIOS_WATCH_OWNER) {
			struct json_object *labels = aios_json_lookup(obj, "metadata.labels"), *v;
			if (!labels || !json_object_object_get_ex(labels, t->owner_label, &v) ||
			    !json_object_is_type(v, json_type_string))
				continue;
			key_name = json_object_get_string(v);
		}
		char key[512];
		snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", key_name);
		if (t->ctl->q)
			aios_kube_workqueue_add(t->ctl->q, key);
	}
}

static void on_add(void *arg, struct json_object *obj)
{
	enqueue_for(arg, obj);
}

static void on_update(void *arg, struct json_object *old_obj, struct json_object *new_obj)
{
	const char *a = aios_json_str(old_obj, "metadata.resourceVersion");
	const char *b = aios_json_str(new_obj, "metadata.resourceVersion");
	if (a && b && strcmp(a, b) == 0)
		return; /* a relist that changed nothing */
	enqueue_for(arg, new_obj);
}

static void on_delete(void *arg, struct json_object *obj)
{
	enqueue_for(arg, obj);
}

/* ============================== workers ============================== */

static void *worker_main(void *arg)
{
	struct ctl *ctl = arg;
	struct aios_manager *m = ctl->m;
	for (;;) {
		char *key = aios_kube_workqueue_get(ctl->q);
		if (!key)
			break;
		char *slash = strchr(key, '/');
		const char *ns = "", *name = key;
		char *k2 = aios_xstrdup(key);
		if (slash) {
			k2[slash - key] = '\0';
			ns = k2;
			name = k2 + (slash - key) + 1;
		}
		int64_t requeue = 0;
		double t0 = aios_now_s();
		aios_errclear();
		enum aios_err e = ctl->c->reconcile(m, ctl->state, ns, name, &requeue);
		aios_histogram_observe(ctl->duration, aios_now_s() - t0);
		if (e) {
			aios_counter_inc(ctl->err);
			struct json_object *f = json_object_new_object();
			json_object_object_add(f, "kind", json_object_new_string(ctl->c->name));
			json_object_object_add(f, "key", json_object_new_string(key));
			json_object_object_add(f, "error",
			                       json_object_new_string(aios_strerror(e)));
			aios_log_fields(e == AIOS_ERR_CONFLICT ? AIOS_LOG_DEBUG : AIOS_LOG_WARN,
			                "reconcile_error", f, "reconcile %s %s: %s", ctl->c->name,
			                key, aios_errmsg());
			aios_kube_workqueue_add_rate_limited(ctl->q, key);
		} else {
			aios_kube_workqueue_forget(ctl->q, key);
			if (requeue > 0) {
				aios_counter_inc(ctl->requeue);
				aios_kube_workqueue_add_after(ctl->q, key, requeue);
			} else {
				aios_counter_inc(ctl->ok);
			}
		}
		aios_kube_workqueue_done(ctl->q, key);
		free(k2);
		free(key);
	}
	return NULL;
}

/* ============================== leader election ============================== */

static void leader_started(void *arg)
{
	struct aios_manager *m = arg;
	atomic_store(&m->leading, 1);
	aios_info("leader", "acquired the Lease: starting workers");
}

static void leader_stopped(void *arg)
{
	struct aios_manager *m = arg;
	if (!atomic_load(&m->leading))
		return;
	atomic_store(&m->leading, 0);
	if (!aios_shutdown_requested()) {
		/* as controller-runtime: a replica that lost the Lease exits, and restarts clean */
		atomic_store(&m->lost_lease, 1);
		aios_error("leader", "lost the Lease: stopping");
		aios_shutdown_request();
	}
}

static void new_leader(void *arg, const char *identity)
{
	(void)arg;
	aios_info("leader", "the leader is now %s", identity && *identity ? identity : "(none)");
}

/* ============================== probes ============================== */

static void readyz(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct aios_manager *m = ud;
	(void)req;
	if (atomic_load(&m->synced))
		aios_http_resp_json(resp, 200, "{\"status\":\"ok\"}", 15);
	else
		aios_http_resp_error(resp, 503, "informers have not synced yet");
}

static enum aios_err start_server(const char *flag, const char *addr, const char *name,
                                  struct aios_http_server **out)
{
	*out = NULL;
	char host[256];
	int port = -1;
	enum aios_err e = parse_bind(flag, addr, host, sizeof(host), &port);
	if (e || port < 0)
		return e;
	struct aios_http_config hc;
	aios_http_config_defaults(&hc);
	hc.bind_addr = aios_xstrdup(host); /* freed never: lives as long as the process */
	hc.port = port;
	hc.threads = 1;
	hc.name = name;
	hc.max_connections = 256;
	*out = aios_http_server_new(&hc);
	return AIOS_OK;
}

/* ============================== run ============================== */

static void stop_workers(struct aios_manager *m)
{
	for (int i = 0; i < m->n_ctls; i++)
		if (m->ctls[i].q)
			aios_kube_workqueue_shutdown(m->ctls[i].q);
	for (int i = 0; i < m->n_ctls; i++) {
		struct ctl *ctl = &m->ctls[i];
		for (int t = 0; t < ctl->n_threads; t++)
			pthread_join(ctl->threads[t], NULL);
		free(ctl->threads);
		ctl->threads = NULL;
		ctl->n_threads = 0;
	}
}

enum aios_err aios_manager_run(struct aios_manager *m)
{
	enum aios_err e = AIOS_OK;
	/* 1. probes and metrics, first */
	e = start_server("--metrics-bind-address", m->cfg.metrics_bind_address, "metrics",
	                 &m->metrics_srv);
	if (!e && m->metrics_srv) {
		if ((e = aios_http_route(m->metrics_srv, "GET", "/metrics",
		                         aios_http_metrics_handler, m->metrics)) ||
		    (e = aios_http_server_start(m->metrics_srv)))
			goto out;
	}
	if (e)
		goto out;
	e = start_server("--health-probe-bind-address", m->cfg.health_probe_bind_address, "health",
	                 &m->health_srv);
	if (!e && m->health_srv) {
		if ((e = aios_http_route(m->health_srv, "GET", "/healthz", aios_http_ok_handler,
		                         NULL)) ||
		    (e = aios_http_route(m->health_srv, "GET", "/readyz", readyz, m)) ||
		    (e = aios_http_server_start(m->health_srv)))
			goto out;
	}
	if (e)
		goto out;
	aios_info("start", "serving metrics on port %d, probes on port %d",
	          aios_manager_metrics_port(m), aios_manager_health_port(m));

	/* 2. controllers' state and queues, then informers (their first LIST fills queues) */
	for (int i = 0; i < m->n_ctls; i++) {
		struct ctl *ctl = &m->ctls[i];
		if (ctl->c->init && (e = ctl->c->init(m, &ctl->state)))
			goto out;
		ctl->q = aios_kube_workqueue_new(NULL);
	}
	for (int i = 0; i < m->n_slots; i++) {
		struct slot *s = &m->slots[i];
		struct aios_kube_informer_opts o = {.ns = m->cfg.namespace_,
		                                    .label_selector = s->selector,
		                                    .transform = s->transform};
		struct aios_kube_informer_handlers h = {on_add, on_update, on_delete, s};
		if ((e = aios_kube_informer_new(m->client, s->gvr, &o, &h, &s->inf)) ||
		    (e = aios_kube_informer_start(s->inf)))
			goto out;
	}
	int64_t deadline = aios_now_ms() + CACHE_SYNC_TIMEOUT_MS;
	for (int i = 0; i < m->n_slots; i++) {
		for (;;) {
			e = aios_kube_informer_wait_synced(m->slots[i].inf, 200);
			if (e == AIOS_OK)
				break;
			if (aios_shutdown_requested()) {
				e = AIOS_OK;
				goto out;
			}
			if (aios_now_ms() > deadline) {
				e = aios_fail(AIOS_ERR_TIMEOUT,
				              "informer for %s did not sync within %d s (RBAC? API "
				              "server reachable?)",
				              m->slots[i].gvr->resource,
				              CACHE_SYNC_TIMEOUT_MS / 1000);
				goto out;
			}
		}
	}
	atomic_store(&m->synced, 1);
	aios_info("synced", "%d informers synced", m->n_slots);

	/* 3. the Lease */
	if (m->cfg.leader_elect) {
		struct aios_kube_leader_opts lo = {
		    .ns = m->cfg.leader_election_namespace && *m->cfg.leader_election_namespace
		              ? m->cfg.leader_election_namespace
		              : aios_kube_client_namespace(m->client),
		    .name = m->cfg.leader_election_id ? m->cfg.leader_election_id : "aios-operator",
		    .identity = m->cfg.identity,
		    .on_started = leader_started,
		    .on_stopped = leader_stopped,
		    .on_new_leader = new_leader,
		    .arg = m,
		};
		if ((e = aios_kube_leader_new(m->client, &lo, &m->leader)) ||
		    (e = aios_kube_leader_start(m->leader)))
			goto out;
		aios_info("leader", "waiting for the Lease %s/%s as %s", lo.ns, lo.name,
		          aios_kube_leader_identity(m->leader));
		while (!atomic_load(&m->leading) && !aios_shutdown_requested())
			aios_shutdown_wait_ms(100);
		if (aios_shutdown_requested())
			goto out;
	} else {
		atomic_store(&m->leading, 1);
	}

	/* 4. workers */
	for (int i = 0; i < m->n_ctls; i++) {
		struct ctl *ctl = &m->ctls[i];
		ctl->threads = aios_xcalloc((size_t)m->cfg.workers, sizeof(pthread_t));
		for (int t = 0; t < m->cfg.workers; t++) {
			if (pthread_create(&ctl->threads[t], NULL, worker_main, ctl) != 0) {
				e = aios_fail(AIOS_ERR_INTERNAL, "cannot start worker thread");
				goto out;
			}
			ctl->n_threads++;
		}
	}
	aios_info("started", "%d controller(s), %d worker(s) each", m->n_ctls, m->cfg.workers);
	while (!aios_shutdown_requested())
		aios_shutdown_wait_ms(1000);
	aios_info("stopping", "shutdown requested: draining workers");
	if (atomic_load(&m->lost_lease))
		e = aios_fail(AIOS_ERR_UNAVAILABLE, "lost the leader Lease");

out:
	/* drain: workers finish their current key, then informers, Lease, servers stop */
	stop_workers(m);
	for (int i = 0; i < m->n_slots; i++)
		if (m->slots[i].inf)
			aios_kube_informer_stop(m->slots[i].inf);
	if (m->leader)
		aios_kube_leader_stop(m->leader); /* releases the Lease when we held it */
	atomic_store(&m->leading, 0);
	for (int i = 0; i < m->n_ctls; i++)
		if (m->ctls[i].c->cleanup && m->ctls[i].q)
			m->ctls[i].c->cleanup(m, m->ctls[i].state);
	if (m->health_srv)
		aios_http_server_stop(m->health_srv, 1000);
	if (m->metrics_srv)
		aios_http_server_stop(m->metrics_srv, 1000);
	return e;
}

void aios_manager_free(struct aios_manager *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n_slots; i++) {
		aios_kube_informer_free(m->slots[i].inf);
		free(m->slots[i].selector);
	}
	for (int i = 0; i < m->n_ctls; i++)
		aios_kube_workqueue_free(m->ctls[i].q);
	aios_kube_leader_free(m->leader);
	aios_http_server_free(m->health_srv);
	aios_http_server_free(m->metrics_srv);
	aios_kube_recorder_free(m->rec);
	aios_kube_client_free(m->client);
	aios_kube_config_free(m->kcfg);
	aios_metrics_free(m->metrics);
	free(m);
}

int aios_manager_metrics_port(struct aios_manager *m)
{
	return m->metrics_srv ? aios_http_server_port(m->metrics_srv) : -1;
}

int aios_manager_health_port(struct aios_manager *m)
{
	return m->health_srv ? aios_http_server_port(m->health_srv) : -1;
}

struct aios_metrics *aios_manager_metrics(struct aios_manager *m)
{
	return m->metrics;
}

/* ============================== cache reads ============================== */

struct json_object *aios_manager_get(struct aios_manager *m, const struct aios_kube_gvr *r,
                                     const char *ns, const char *name)
{
	char key[512];
	snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
	for (int i = 0; i < m->n_slots; i++) {
		if (m->slots[i].gvr != r || !m->slots[i].inf)
			continue;
		struct json_object *o = aios_kube_informer_get(m->slots[i].inf, key);
		if (o)
			return o;
	}
	return NULL;
}

static void append_objs(struct json_object ***out, size_t *n, struct json_object **add, size_t na,
                        const char *ns, const char *label, const char *value)
{
	for (size_t i = 0; i < na; i++) {
		struct json_object *o = add[i];
		int keep = 1;
		const char *ons = aios_json_str(o, "metadata.namespace");
		if (ns && *ns && (!ons || strcmp(ons, ns) != 0))
			keep = 0;
		if (keep && label) {
			struct json_object *labels = aios_json_lookup(o, "metadata.labels"), *v;
			if (!labels || !json_object_object_get_ex(labels, label, &v))
				keep = 0;
			else if (value && strcmp(json_object_get_string(v), value) != 0)
				keep = 0;
		}
		if (keep) {
			*out = aios_xrealloc(*out, (*n + 1) * sizeof(**out));
			(*out)[(*n)++] = o;
		} else {
			aios_kube_obj_put(o);
		}
	}
	free(add);
}

size_t aios_manager_list(struct aios_manager *m, const struct aios_kube_gvr *r, const char *ns,
                         const char *label, const char *value, struct json_object ***out)
{
	*out = NULL;
	size_t n = 0;
	for (int i = 0; i < m->n_slots; i++) {
		if (m->slots[i].gvr != r || !m->slots[i].inf)
			continue;
		size_t na;
		struct json_object **objs = aios_kube_informer_list(m->slots[i].inf, &na);
		append_objs(out, &n, objs, na, ns, label, value);
		if (n > 0)
			break; /* the first informer that holds matches (no duplicates) */
	}
	return n;
}

size_t aios_manager_owned(struct aios_manager *m, const struct aios_kube_gvr *r,
                          const char *owner_uid, struct json_object ***out)
{
	*out = NULL;
	size_t n = 0;
	for (int i = 0; i < m->n_slots; i++) {
		if (m->slots[i].gvr != r || !m->slots[i].inf)
			continue;
		size_t na;
		struct json_object **objs =
		    aios_kube_informer_by_owner(m->slots[i].inf, owner_uid, &na);
		append_objs(out, &n, objs, na, NULL, NULL, NULL);
		if (n > 0)
			break;
	}
	return n;
}

/* ============================== writes ============================== */

enum aios_err aios_manager_create(struct aios_manager *m, const struct aios_kube_gvr *r,
                                  const char *ns, struct json_object *obj, struct json_object **out)
{
	struct aios_kube_ref ref = aios_kube_ref(r, ns, NULL);
	return aios_kube_create(m->client, &ref, obj, NULL, out);
}

enum aios_err aios_manager_delete(struct aios_manager *m, const struct aios_kube_gvr *r,
                                  const char *ns, const char *name, const char *uid)
{
	struct aios_kube_ref ref = aios_kube_ref(r, ns, name);
	struct aios_kube_delete_opts o = {.propagation_policy = "Background",
	                                  .precondition_uid = uid,
	                                  .grace_period_seconds = -1};
	return aios_kube_delete(m->client, &ref, &o, NULL);
}

enum aios_err aios_manager_update_status(struct aios_manager *m, const struct aios_kube_gvr *r,
                                         struct json_object *obj, struct json_object **out)
{
	struct aios_kube_ref ref = aios_kube_ref(r, aios_json_str(obj, "metadata.namespace"),
	                                         aios_json_str(obj, "metadata.name"));
	return aios_kube_update_status(m->client, &ref, obj, out);
}

enum aios_err aios_manager_fetch(struct aios_manager *m, const struct aios_kube_gvr *r,
                                 const char *ns, const char *name, struct json_object **out)
{
	struct aios_kube_ref ref = aios_kube_ref(r, ns, name);
	return aios_kube_get(m->client, &ref, out);
}

void aios_manager_event(struct aios_manager *m, const struct aios_kube_gvr *r,
                        struct json_object *obj, const char *type, const char *reason,
                        const char *fmt, ...)
{
	(void)r;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	aios_kube_event(m->rec, obj, type, reason, "%s", msg);
}

void aios_manager_enqueue(struct aios_manager *m, const struct aios_controller *c, const char *ns,
                          const char *name, int64_t after_ms)
{
	for (int i = 0; i < m->n_ctls; i++) {
		if (m->ctls[i].c != c || !m->ctls[i].q)
			continue;
		char key[512];
		snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
		if (after_ms > 0)
			aios_kube_workqueue_add_after(m->ctls[i].q, key, after_ms);
		else
			aios_kube_workqueue_add(m->ctls[i].q, key);
	}
}
