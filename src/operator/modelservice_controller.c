/*
 * modelservice_controller.c - the ModelService controller: reconcile(key) carries out
 * aios_ms_plan() (modelservice_plan.c), and the autoscaler loop scrapes every ready
 * inference pod once a second, feeds the decider (autoscaler.c) and wakes a service's
 * key when its decision changes.
 *
 * The autoscaler loop starts with the first reconcile, which the manager runs only on
 * the elected leader, so replicas that are not leading neither scrape nor record
 * events. Per-service state (the sample series, the decider's state, counters of each
 * pod for rates) lives in memory: after a restart the decider starts from
 * status.desiredReplicas and holds it until its stable window has filled again
 * (autoscaler.h), so a restart never scales a service down.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "http/metrics.h"
#include "kube/informer.h"
#include "operator/autoscaler.h"
#include "operator/controller.h"
#include "operator/manager.h"
#include "operator/modelservice.h"
#include "operator/modelservice_demand.h"
#include "operator/scrape.h"

/* The decision period: one scrape round and one decision per service per second. */
#define TICK_MS 1000
/* Seconds of latency histograms kept for status.metrics.latencyP99Ms. */
#define LATENCY_WINDOW_S 10
/* How often status.metrics is refreshed when nothing else changes (s): often enough to
 * watch, rare enough not to load the API server with one write per second per service. */
#define STATUS_METRICS_PERIOD_S 10
/* A ModelService whose spec names a TrainingJob is looked at again this often (ms) even
 * without events, in case the operator runs without the TrainingJob informer. */
#define TJ_RECHECK_MS 5000

/* ============================== state ============================== */

/* What the loop remembers about one pod between scrapes (rates are counter deltas). */
struct pod_seen {
	char uid[64];
	int64_t t_ms;    /* monotonic time of the last good scrape */
	double requests; /* aios_serve_requests_total then */
	double errors;   /* of those, 5xx */
	int nb;          /* latency buckets then */
	double le[AIOS_SCRAPE_MAX_BUCKETS], count[AIOS_SCRAPE_MAX_BUCKETS];
	int round; /* last round the pod was a target */
};

struct svc {
	char ns[254], name[254], uid[64];
	struct aios_autoscaler_params params;
	struct aios_autoscaler_series *series;
	struct aios_autoscaler_state st;
	struct aios_autoscaler_decision d;
	int have_decision;
	time_t last_scale; /* wall clock of the last change of desired, 0 = none */
	struct pod_seen *pods;
	size_t n_pods;
	/* latency: per-second bucket deltas summed over pods, a ring of LATENCY_WINDOW_S */
	int lat_nb;
	double lat_le[AIOS_SCRAPE_MAX_BUCKETS];
	double lat[LATENCY_WINDOW_S][AIOS_SCRAPE_MAX_BUCKETS];
	int64_t lat_t[LATENCY_WINDOW_S];
	/* status.metrics snapshot, refreshed every STATUS_METRICS_PERIOD_S */
	int have_metrics;
	double concurrency, rps, p99_ms;
	int64_t metrics_at;
	/* the canary's analysis window (canary.h): sums of both sides' counter deltas since
	 * status.canary.windowStart, [0] stable and [1] canary; win_key names the window */
	char win_key[96];
	double win_req[2], win_err[2];
	double win_lat[2][AIOS_SCRAPE_MAX_BUCKETS];
	double win_le[AIOS_SCRAPE_MAX_BUCKETS];
	int win_nb;
	int win_ok[2];       /* good scrapes of a side in the window */
	int win_failed[2];   /* a ready pod of a side failed its last scrape */
	char tj_seen[160];   /* phase and artifact digest of the TrainingJob */
	int64_t cold_starts; /* starts from zero (status.coldStarts) */
	int round;           /* last round the service was seen in the cache */
};

static void window_sync(struct svc *s, struct json_object *ms);
static void window_metrics(const struct svc *s, struct aios_canary_metrics *m);

struct ms_ctl {
	struct aios_manager *m;
	pthread_mutex_t mu;
	struct svc **svcs;
	size_t n_svcs;
	pthread_t loop;
	int loop_started;
	int stop;
	struct aios_scraper *scraper;
	struct aios_series *m_ok, *m_failed; /* aios_operator_scrapes_total{result} */
	struct aios_series *m_round;         /* aios_operator_scrape_round_seconds */
	struct aios_ms_demand_table *demand; /* what the gateways say */
	struct aios_ms_demand_server *demand_srv;
	int poke; /* a gateway holds requests: run the next round now */
};

/* The service with key ns/name; when absent and ms is given, created with the decider
 * starting from status.desiredReplicas (else replicas.min). Caller holds mu. */
static struct svc *svc_find(struct ms_ctl *c, const char *ns, const char *name,
                            struct json_object *ms)
{
	for (size_t i = 0; i < c->n_svcs; i++)
		if (strcmp(c->svcs[i]->ns, ns) == 0 && strcmp(c->svcs[i]->name, name) == 0)
			return c->svcs[i];
	if (!ms)
		return NULL;
	struct svc *s = aios_xcalloc(1, sizeof(*s));
	snprintf(s->ns, sizeof(s->ns), "%s", ns);
	snprintf(s->name, sizeof(s->name), "%s", name);
	const char *uid = aios_json_str(ms, "metadata.uid");
	snprintf(s->uid, sizeof(s->uid), "%s", uid ? uid : "");
	if (aios_autoscaler_params_from_spec(ms, &s->params))
		aios_autoscaler_params_default(&s->params);
	/* a new service starts with one pod even at replicas.min 0 (its model is loaded and
	 * checked once); one at zero stays there after an operator restart */
	int64_t desired = -1;
	if (aios_json_opt_int(ms, "status.desiredReplicas", -1, &desired) || desired < 0 ||
	    (desired == 0 && s->params.min_replicas > 0))
		desired = s->params.min_replicas > 0 ? s->params.min_replicas : 1;
	if (aios_json_opt_int(ms, "status.coldStarts", 0, &s->cold_starts) || s->cold_starts < 0)
		s->cold_starts = 0;
	aios_autoscaler_state_init(&s->st, (int)desired);
	s->series = aios_autoscaler_series_new(AIOS_AUTOSCALER_MAX_WINDOW_S);
	const char *lst = aios_json_str(ms, "status.lastScaleTime");
	s->last_scale = lst ? aios_rfc3339_parse(lst) : 0;
	if (s->last_scale < 0)
		s->last_scale = 0;
	c->svcs = aios_xrealloc(c->svcs, (c->n_svcs + 1) * sizeof(*c->svcs));
	c->svcs[c->n_svcs++] = s;
	return s;
}

static void svc_free(struct svc *s)
{
	aios_autoscaler_series_free(s->series);
	free(s->pods);
	free(s);
}

/* Removes s from the table and frees it. Caller holds mu. */
static void svc_drop(struct ms_ctl *c, struct svc *s)
{
	for (size_t i = 0; i < c->n_svcs; i++) {
		if (c->svcs[i] == s) {
			c->svcs[i] = c->svcs[--c->n_svcs];
			svc_free(s);
			return;
		}
	}
}

/* ============================== pods ============================== */

/* Pods labelled for ms and controlled by it (uid), from the cache. */
static size_t owned_pods(struct aios_manager *m, struct json_object *ms, struct json_object ***out)
{
	const char *ns = aios_json_str(ms, "metadata.namespace");
	const char *name = aios_json_str(ms, "metadata.name");
	const char *uid = aios_json_str(ms, "metadata.uid");
	struct json_object **all;
	size_t n = aios_manager_list(m, &aios_kube_pods, ns, AIOS_MS_LABEL_SERVICE, name, &all);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *refs = aios_json_lookup(all[i], "metadata.ownerReferences");
		int mine = 0;
		for (size_t j = 0; refs && json_object_is_type(refs, json_type_array) &&
		                   j < json_object_array_length(refs);
		     j++) {
			struct json_object *r = json_object_array_get_idx(refs, j);
			const char *ruid = aios_json_str(r, "uid");
			struct json_object *ctl = aios_json_lookup(r, "controller");
			mine |= ruid && uid && strcmp(ruid, uid) == 0 && ctl &&
			        json_object_get_boolean(ctl);
		}
		if (mine)
			all[k++] = all[i];
		else
			aios_kube_obj_put(all[i]);
	}
	*out = all;
	return k;
}

/* ============================== reconcile ============================== */

static void loop_start(struct ms_ctl *c);

static struct json_object *training_job(struct aios_manager *m, struct json_object *ms,
                                        const char *field)
{
	const char *job = aios_json_str(ms, field);
	if (!job || !*job)
		return NULL;
	const char *ns = aios_json_str(ms, "metadata.namespace");
	struct json_object *shared = aios_manager_get(m, &aios_kube_trainingjobs, ns, job);
	if (shared) {
		struct json_object *tj = aios_json_copy(shared);
		aios_kube_obj_put(shared);
		return tj;
	}
	/* Not cached: the TrainingJob informer may not run in this manager; ask the API. */
	struct json_object *tj = NULL;
	enum aios_err e = aios_manager_fetch(m, &aios_kube_trainingjobs, ns, job, &tj);
	if (e != AIOS_OK) {
		/* absent is an answer; anything else (403, 5xx) must not pass for absent silently */
		if (e != AIOS_ERR_NOT_FOUND)
			aios_warn("trainingjob_get_failed",
			          "modelservice %s/%s: trainingJob %s: %s", ns,
			          aios_json_str(ms, "metadata.name"), job, aios_errmsg());
		return NULL;
	}
	return tj;
}

static enum aios_err carry_out(struct aios_manager *m, struct json_object *ms,
                               struct aios_ms_plan *p)
{
	const char *ns = aios_json_str(ms, "metadata.namespace");
	enum aios_err e;
	if (p->service) {
		e = aios_manager_create(m, &aios_kube_services, ns, p->service, NULL);
		if (e && e != AIOS_ERR_EXISTS)
			return e;
	}
	for (size_t i = 0; i < p->n_create; i++) {
		e = aios_manager_create(m, &aios_kube_pods, ns, p->create[i], NULL);
		if (e && e != AIOS_ERR_EXISTS) {
			/* e.g. a missing ServiceAccount or a quota: tell the user, retry later */
			aios_manager_event(m, &aios_kube_modelservices, ms, "Warning",
			                   "FailedCreate", "%s", aios_errmsg());
			return e;
		}
	}
	for (size_t i = 0; i < p->n_remove; i++) {
		e = aios_manager_delete(m, &aios_kube_pods, ns, p->remove[i], NULL);
		if (e && e != AIOS_ERR_NOT_FOUND)
			return e;
	}
	for (size_t i = 0; i < p->n_events; i++)
		aios_manager_event(m, &aios_kube_modelservices, ms, p->events[i].type,
		                   p->events[i].reason, "%s", p->events[i].message);
	if (p->status_changed) {
		struct json_object *obj = aios_json_copy(ms);
		json_object_object_add(obj, "status", json_object_get(p->status));
		e = aios_manager_update_status(m, &aios_kube_modelservices, obj, NULL);
		json_object_put(obj);
		if (e)
			return e;
	}
	return AIOS_OK;
}

static enum aios_err ms_reconcile(struct aios_manager *m, void *state, const char *ns,
                                  const char *name, int64_t *requeue_after_ms)
{
	struct ms_ctl *c = state;
	loop_start(c);
	struct json_object *shared = aios_manager_get(m, &aios_kube_modelservices, ns, name);
	if (!shared)
		return AIOS_OK; /* deleted: children go with their ownerReference */
	struct json_object *ms = aios_json_copy(shared); /* private: serialized below */
	aios_kube_obj_put(shared);

	struct aios_ms_input in;
	memset(&in, 0, sizeof(in));
	struct aios_autoscaler_decision d;
	pthread_mutex_lock(&c->mu);
	struct svc *s = svc_find(c, ns, name, ms);
	const char *uid = aios_json_str(ms, "metadata.uid");
	if (uid && strcmp(uid, s->uid) != 0) {
		svc_drop(c, s); /* a new object under an old name */
		s = svc_find(c, ns, name, ms);
	}
	in.desired = s->have_decision ? s->d.desired : s->st.desired;
	if (s->have_decision) {
		d = s->d;
		in.decision = &d;
	}
	in.have_metrics = s->have_metrics;
	in.concurrency = s->concurrency;
	in.rps = s->rps;
	in.latency_p99_ms = s->p99_ms;
	in.last_scale = s->last_scale;
	in.cold_starts = s->cold_starts;
	struct aios_canary_metrics cm;
	window_sync(s, ms);
	window_metrics(s, &cm);
	in.canary_metrics = &cm;
	pthread_mutex_unlock(&c->mu);

	struct json_object **pods;
	in.ms = ms;
	in.tj = training_job(m, ms, "spec.model.trainingJob");
	in.canary_tj = training_job(m, ms, "spec.canary.model.trainingJob");
	in.n_pods = owned_pods(m, ms, &pods);
	in.pods = pods;
	struct json_object *svc = aios_manager_get(m, &aios_kube_services, ns, name);
	in.have_service = svc != NULL;
	aios_kube_obj_put(svc);
	in.now = time(NULL);

	struct aios_ms_plan p;
	enum aios_err e = aios_ms_plan(&in, &p);
	if (!e) {
		e = carry_out(m, ms, &p);
		if (e)
			aios_fail_wrap(e, "modelservice %s/%s", ns, name);
		*requeue_after_ms = p.requeue_after_ms;
		if (in.tj || aios_json_str(ms, "spec.model.trainingJob"))
			*requeue_after_ms = TJ_RECHECK_MS;
		aios_ms_plan_cleanup(&p);
	}
	aios_kube_objs_free(pods, in.n_pods);
	json_object_put(in.tj);
	json_object_put(in.canary_tj);
	json_object_put(ms);
	return e;
}

/* ============================== the autoscaler loop ============================== */

/* One scrape target: pod `uid` of service `svc`. */
struct target {
	struct svc *svc;
	int canary; /* the pod runs the canary's revision */
	char uid[64];
	char *url;
};

static struct pod_seen *pod_seen(struct svc *s, const char *uid)
{
	for (size_t i = 0; i < s->n_pods; i++)
		if (strcmp(s->pods[i].uid, uid) == 0)
			return &s->pods[i];
	s->pods = aios_xrealloc(s->pods, (s->n_pods + 1) * sizeof(*s->pods));
	struct pod_seen *p = &s->pods[s->n_pods++];
	memset(p, 0, sizeof(*p));
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	return p;
}

int (*aios_ms_metrics_port_hook)(struct json_object *ms);

/* Port scraped on a pod: 8080, or what a test's hook says (modelservice.h). */
static int metrics_port(struct json_object *ms)
{
	int port = aios_ms_metrics_port_hook ? aios_ms_metrics_port_hook(ms) : 0;
	return port > 0 && port < 65536 ? port : AIOS_MS_PORT;
}

/* Watches the TrainingJob behind ms; wakes the service when its phase or artifact
 * changes (TrainingJob events do not map to ModelService keys). Caller holds mu. */
static void check_training_job(struct ms_ctl *c, struct svc *s, struct json_object *ms)
{
	const char *job = aios_json_str(ms, "spec.model.trainingJob");
	if (!job || !*job)
		return;
	struct json_object *tj = aios_manager_get(c->m, &aios_kube_trainingjobs, s->ns, job);
	char seen[sizeof(s->tj_seen)];
	if (!tj) {
		snprintf(seen, sizeof(seen), "absent");
	} else {
		const char *ph = aios_json_str(tj, "status.phase");
		const char *sha = aios_json_str(tj, "status.artifact.sha256");
		snprintf(seen, sizeof(seen), "%s/%s", ph ? ph : "", sha ? sha : "");
		aios_kube_obj_put(tj);
	}
	if (strcmp(seen, s->tj_seen) != 0) {
		if (s->tj_seen[0])
			aios_manager_enqueue(c->m, &aios_modelservice_controller, s->ns, s->name,
			                     0);
		snprintf(s->tj_seen, sizeof(s->tj_seen), "%s", seen);
	}
}

/* ---- the canary's analysis window ---- */

/* Starts a new window when status.canary names another one (a new canary, a step, a
 * restart of the operator): only deltas scraped after it opened count. Caller holds mu. */
static void window_sync(struct svc *s, struct json_object *ms)
{
	const char *phase = aios_json_str(ms, "status.canary.phase");
	const char *ws = aios_json_str(ms, "status.canary.windowStart");
	const char *rev = aios_json_str(ms, "status.canary.revision");
	char key[sizeof(s->win_key)] = "";
	if (phase && strcmp(phase, "Progressing") == 0 && ws && rev)
		snprintf(key, sizeof(key), "%s/%s", rev, ws);
	if (strcmp(key, s->win_key) == 0)
		return;
	memcpy(s->win_key, key, sizeof(key));
	memset(s->win_req, 0, sizeof(s->win_req));
	memset(s->win_err, 0, sizeof(s->win_err));
	memset(s->win_lat, 0, sizeof(s->win_lat));
	memset(s->win_ok, 0, sizeof(s->win_ok));
	memset(s->win_failed, 0, sizeof(s->win_failed));
	s->win_nb = 0;
}

/* A positive counter delta; a counter that went down restarted with its pod. */
static double delta(double now, double then)
{
	return now >= then ? now - then : now;
}

/* Adds one good scrape of a pod (canary side or not) to the window. */
static void window_add(struct svc *s, int canary, const struct pod_seen *ps,
                       const struct aios_scrape_page *pg)
{
	s->win_ok[canary]++;
	if (ps->t_ms == 0)
		return; /* the first scrape of a pod: no delta yet */
	s->win_req[canary] += delta(pg->requests, ps->requests);
	s->win_err[canary] += delta(pg->errors, ps->errors);
	if (!pg->have_latency || ps->nb != pg->n_buckets)
		return;
	if (s->win_nb != pg->n_buckets) {
		s->win_nb = pg->n_buckets;
		memcpy(s->win_le, pg->le, sizeof(s->win_le));
		memset(s->win_lat, 0, sizeof(s->win_lat));
	}
	for (int b = 0; b < pg->n_buckets; b++)
		s->win_lat[canary][b] += delta(pg->count[b], ps->count[b]);
}

/* The window as canary.h reads it. Caller holds mu. */
static void window_metrics(const struct svc *s, struct aios_canary_metrics *m)
{
	struct aios_canary_window *w[2] = {&m->stable, &m->canary};
	for (int k = 0; k < 2; k++) {
		w[k]->have = s->win_key[0] && s->win_ok[k] > 0 && !s->win_failed[k];
		w[k]->requests = s->win_req[k];
		w[k]->errors = s->win_err[k];
		double q = aios_scrape_quantile(s->win_le, s->win_lat[k], s->win_nb, 0.99);
		w[k]->p99_ms = q >= 0 ? q * 1000 : -1;
	}
}

/* What a round does about one service once the lock is released (an event is an API
 * call: it must not hold up reconciles waiting for mu). */
struct after {
	int wake;
	char *scaled; /* the Scaled event's message, or NULL (owned) */
};

/* Folds one round's results for s into a sample, a decision and the metrics snapshot.
 * Caller holds mu. */
static void digest(struct ms_ctl *c, struct svc *s, const struct target *t,
                   const struct aios_scrape_result *r, size_t n, int ready, int64_t now_s,
                   int64_t now_ms, int round, struct after *out)
{
	struct aios_autoscaler_sample x = {.t = now_s, .pods_ready = ready};
	int scraped = 0, with_rate = 0;
	double lat[AIOS_SCRAPE_MAX_BUCKETS] = {0};
	int lat_ok = 0, failed[2] = {0, 0};
	for (size_t i = 0; i < n; i++) {
		if (t[i].svc != s)
			continue;
		struct pod_seen *ps = pod_seen(s, t[i].uid);
		ps->round = round;
		failed[t[i].canary] |= !r[i].ok;
		if (!r[i].ok) {
			aios_counter_inc(c->m_failed);
			aios_debug("scrape_failed", "%s/%s: %s: %s", s->ns, s->name, t[i].url,
			           r[i].error);
			continue;
		}
		aios_counter_inc(c->m_ok);
		const struct aios_scrape_page *pg = &r[i].page;
		scraped++;
		x.concurrency += pg->in_flight;
		if (ps->t_ms > 0 && now_ms > ps->t_ms && pg->requests >= ps->requests) {
			x.rps +=
			    (pg->requests - ps->requests) * 1000.0 / (double)(now_ms - ps->t_ms);
			with_rate++;
		}
		if (pg->have_latency && ps->nb == pg->n_buckets && ps->t_ms > 0) {
			if (s->lat_nb != pg->n_buckets) {
				s->lat_nb = pg->n_buckets;
				memcpy(s->lat_le, pg->le, sizeof(s->lat_le));
				memset(s->lat_t, 0, sizeof(s->lat_t));
			}
			for (int b = 0; b < pg->n_buckets; b++)
				lat[b] += pg->count[b] - ps->count[b] > 0
				              ? pg->count[b] - ps->count[b]
				              : 0;
			lat_ok = 1;
		}
		if (s->win_key[0])
			window_add(s, t[i].canary, ps, pg);
		ps->t_ms = now_ms;
		ps->requests = pg->requests;
		ps->errors = pg->errors;
		ps->nb = pg->n_buckets;
		memcpy(ps->le, pg->le, sizeof(ps->le));
		memcpy(ps->count, pg->count, sizeof(ps->count));
	}
	memcpy(s->win_failed, failed, sizeof(failed)); /* this round's scrapes, per side */
	/* Forget pods that are gone (or no longer ready). */
	size_t k = 0;
	for (size_t i = 0; i < s->n_pods; i++)
		if (s->pods[i].round == round)
			s->pods[k++] = s->pods[i];
	s->n_pods = k;

	/* With the rps metric, a pod without a rate yet (first scrape) counts as silent. */
	x.pods_scraped = s->params.metric == AIOS_AUTOSCALER_RPS ? with_rate : scraped;
	if (x.pods_scraped > 0 && x.pods_scraped < scraped &&
	    s->params.metric == AIOS_AUTOSCALER_RPS)
		x.concurrency = x.concurrency * with_rate / scraped; /* keep both on one basis */
	struct aios_ms_demand dm;
	aios_ms_demand_table_get(c->demand, s->ns, s->name, now_ms, &dm);
	x.gw_have = dm.have;
	x.gw_queued = dm.queued;
	x.gw_in_flight = dm.in_flight;
	x.gw_rps = dm.rps;
	aios_autoscaler_series_put(s->series, &x);
	if (lat_ok) {
		memcpy(s->lat[now_s % LATENCY_WINDOW_S], lat, sizeof(lat));
		s->lat_t[now_s % LATENCY_WINDOW_S] = now_s;
	}

	int before = s->st.desired, held_before = s->have_decision && s->d.held;
	aios_autoscaler_decide(&s->params, s->series, ready, now_s, &s->st, &s->d);
	s->have_decision = 1;
	int wake = 0;
	if (s->d.desired != before) {
		if (before == 0 && s->d.activated)
			s->cold_starts++; /* status.coldStarts */
		s->last_scale = time(NULL);
		out->scaled = aios_xasprintf("desired replicas %d -> %d: %s", before, s->d.desired,
		                             s->d.reason);
		aios_info("scale", "%s/%s: desired %d -> %d: %s", s->ns, s->name, before,
		          s->d.desired, s->d.reason);
		wake = 1;
	}
	if (s->d.held != held_before)
		wake = 1;

	if (now_s - s->metrics_at >= STATUS_METRICS_PERIOD_S && scraped > 0) {
		int w = s->params.stable_window_s;
		s->concurrency = aios_autoscaler_series_average(
		    s->series, AIOS_AUTOSCALER_CONCURRENCY, now_s, w, NULL);
		s->rps =
		    aios_autoscaler_series_average(s->series, AIOS_AUTOSCALER_RPS, now_s, w, NULL);
		double sum[AIOS_SCRAPE_MAX_BUCKETS] = {0};
		for (int i = 0; i < LATENCY_WINDOW_S; i++)
			if (s->lat_t[i] > now_s - LATENCY_WINDOW_S)
				for (int b = 0; b < s->lat_nb; b++)
					sum[b] += s->lat[i][b];
		double q = aios_scrape_quantile(s->lat_le, sum, s->lat_nb, 0.99);
		s->p99_ms = q > 0 ? q * 1000 : 0;
		s->have_metrics = 1;
		s->metrics_at = now_s;
		wake = 1;
	}
	out->wake = wake;
}

/* One round: list services and their ready pods, scrape them all at once, decide. */
static void round_once(struct ms_ctl *c, int round)
{
	int64_t t0 = aios_now_ms();
	int64_t now_s = t0 / 1000 + 1; /* > 0: the decider's clock */
	struct json_object **mss;
	size_t n_ms = aios_manager_list(c->m, &aios_kube_modelservices, NULL, NULL, NULL, &mss);
	struct target *t = NULL;
	size_t n_t = 0;
	int *ready = aios_xcalloc(n_ms + 1, sizeof(int));
	struct svc **svcs = aios_xcalloc(n_ms + 1, sizeof(*svcs));

	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < n_ms; i++) {
		const char *ns = aios_json_str(mss[i], "metadata.namespace");
		const char *name = aios_json_str(mss[i], "metadata.name");
		if (!ns || !name)
			continue;
		struct svc *s = svc_find(c, ns, name, mss[i]);
		const char *uid = aios_json_str(mss[i], "metadata.uid");
		if (uid && strcmp(uid, s->uid) != 0) {
			/* deleted and created again under the same name: start over */
			svc_drop(c, s);
			s = svc_find(c, ns, name, mss[i]);
		}
		s->round = round;
		svcs[i] = s;
		if (aios_autoscaler_params_from_spec(mss[i], &s->params) != AIOS_OK) {
			svcs[i] = NULL; /* the reconcile reports InvalidSpec */
			continue;
		}
		check_training_job(c, s, mss[i]);
		if (s->params.metric == AIOS_AUTOSCALER_EXTERNAL) {
			/* an HPA or KEDA scales it through /scale: no scrape, no decision. The
			 * decider waits at the external count, so a switch back to a built-in
			 * metric starts from the pods that run. */
			aios_autoscaler_state_init(&s->st,
			                           aios_autoscaler_external_count(&s->params));
			s->have_decision = 0;
			svcs[i] = NULL;
			continue;
		}
		window_sync(s, mss[i]);
		const char *crev = aios_json_str(mss[i], "status.canary.revision");
		struct json_object **pods;
		size_t np = owned_pods(c->m, mss[i], &pods);
		int port = metrics_port(mss[i]);
		for (size_t j = 0; j < np; j++) {
			if (!aios_ms_pod_ready(pods[j]))
				continue; /* not capacity, not scraped */
			ready[i]++;
			const char *ip = aios_json_str(pods[j], "status.podIP");
			const char *puid = aios_json_str(pods[j], "metadata.uid");
			if (!ip || !*ip || !puid)
				continue; /* ready but unreachable: a silent pod */
			t = aios_xrealloc(t, (n_t + 1) * sizeof(*t));
			t[n_t].svc = s;
			const char *prev = aios_ms_label(pods[j], AIOS_MS_LABEL_REVISION);
			t[n_t].canary = s->win_key[0] && crev && prev && strcmp(prev, crev) == 0;
			snprintf(t[n_t].uid, sizeof(t[n_t].uid), "%s", puid);
			t[n_t].url = aios_xasprintf("http://%s:%d/metrics", ip, port);
			n_t++;
		}
		aios_kube_objs_free(pods, np);
	}
	/* Services gone from the cache (or re-created) are forgotten. */
	size_t k = 0;
	for (size_t i = 0; i < c->n_svcs; i++) {
		if (c->svcs[i]->round == round)
			c->svcs[k++] = c->svcs[i];
		else
			svc_free(c->svcs[i]);
	}
	c->n_svcs = k;
	pthread_mutex_unlock(&c->mu);

	/* The network part runs unlocked: reconciles go on meanwhile. */
	const char **urls = aios_xcalloc(n_t + 1, sizeof(*urls));
	for (size_t i = 0; i < n_t; i++)
		urls[i] = t[i].url;
	struct aios_scrape_result *res = aios_xcalloc(n_t + 1, sizeof(*res));
	aios_scraper_run(c->scraper, urls, n_t, res);

	struct after *after = aios_xcalloc(n_ms + 1, sizeof(*after));
	pthread_mutex_lock(&c->mu);
	int64_t now_ms = aios_now_ms();
	for (size_t i = 0; i < n_ms; i++)
		if (svcs[i] && svcs[i]->round == round)
			digest(c, svcs[i], t, res, n_t, ready[i], now_s, now_ms, round, &after[i]);
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < n_ms; i++) {
		if (after[i].scaled)
			aios_manager_event(c->m, &aios_kube_modelservices, mss[i], "Normal",
			                   "Scaled", "%s", after[i].scaled);
		if (after[i].wake)
			aios_manager_enqueue(c->m, &aios_modelservice_controller,
			                     aios_json_str(mss[i], "metadata.namespace"),
			                     aios_json_str(mss[i], "metadata.name"), 0);
		free(after[i].scaled);
	}
	free(after);

	aios_gauge_set(c->m_round, (double)(aios_now_ms() - t0) / 1000.0);
	for (size_t i = 0; i < n_t; i++)
		free(t[i].url);
	free(t);
	free(urls);
	free(res);
	free(ready);
	free(svcs);
	aios_kube_objs_free(mss, n_ms);
}

static void *loop_main(void *arg)
{
	struct ms_ctl *c = arg;
	aios_info("autoscaler",
	          "scraping ready inference pods every %d ms (timeout %d ms, "
	          "%d at once)",
	          TICK_MS, AIOS_SCRAPE_TIMEOUT_MS, AIOS_SCRAPE_PARALLEL);
	int64_t next = aios_now_ms();
	for (int round = 1;; round++) {
		pthread_mutex_lock(&c->mu);
		int stop = c->stop;
		pthread_mutex_unlock(&c->mu);
		if (stop)
			break;
		round_once(c, round);
		/* Sleep to the next tick in short steps so that cleanup() is prompt; a round
		 * that overran starts the next one at once (the missed seconds are gaps,
		 * which the decider does not read as zeros). */
		next += TICK_MS;
		int64_t now = aios_now_ms();
		if (next < now)
			next = now;
		while (aios_now_ms() < next) {
			pthread_mutex_lock(&c->mu);
			stop = c->stop;
			int poke = c->poke;
			c->poke = 0;
			pthread_mutex_unlock(&c->mu);
			if (stop || poke)
				break; /* a poke: requests wait at a gateway, decide now */
			int64_t left = next - aios_now_ms();
			aios_sleep_ms(left < 50 ? (left > 0 ? left : 1) : 50);
		}
	}
	return NULL;
}

/* From the demand server's thread: a gateway holds requests for a pod. */
static void poke(void *ud)
{
	struct ms_ctl *c = ud;
	pthread_mutex_lock(&c->mu);
	c->poke = 1;
	pthread_mutex_unlock(&c->mu);
}

static void loop_start(struct ms_ctl *c)
{
	pthread_mutex_lock(&c->mu);
	int start = !c->loop_started && !c->stop;
	if (start) {
		if (pthread_create(&c->loop, NULL, loop_main, c) == 0)
			c->loop_started = 1;
		else
			aios_error("autoscaler", "cannot start the autoscaler thread");
	}
	pthread_mutex_unlock(&c->mu);
	/* the demand stream runs where the autoscaler does: on the leader */
	const char *bind = aios_ms_demand_bind_address();
	if (start && bind && *bind && strcmp(bind, "0") != 0)
		c->demand_srv = aios_ms_demand_server_start(bind, c->demand, poke, c);
}

/* ============================== registration ============================== */

static enum aios_err ms_init(struct aios_manager *m, void **state)
{
	struct ms_ctl *c = aios_xcalloc(1, sizeof(*c));
	c->m = m;
	pthread_mutex_init(&c->mu, NULL);
	c->scraper = aios_scraper_new(AIOS_SCRAPE_PARALLEL, AIOS_SCRAPE_TIMEOUT_MS);
	c->demand = aios_ms_demand_table_new();
	struct aios_metrics *reg = aios_manager_metrics(m);
	struct aios_metric *scrapes = aios_metrics_counter(
	    reg, "aios_operator_scrapes_total",
	    "Scrapes of inference pods' /metrics by the autoscaler, by result.", "result", NULL);
	c->m_ok = aios_metric_with(scrapes, "ok");
	c->m_failed = aios_metric_with(scrapes, "failed");
	c->m_round = aios_metric_with(aios_metrics_gauge(
	    reg, "aios_operator_scrape_round_seconds",
	    "Duration of the last autoscaler round (scrape every ready pod, decide).", NULL));
	*state = c;
	return AIOS_OK;
}

static void ms_cleanup(struct aios_manager *m, void *state)
{
	struct ms_ctl *c = state;
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	int started = c->loop_started;
	pthread_mutex_unlock(&c->mu);
	if (started)
		pthread_join(c->loop, NULL);
	aios_ms_demand_server_stop(c->demand_srv);
	aios_ms_demand_table_free(c->demand);
	for (size_t i = 0; i < c->n_svcs; i++)
		svc_free(c->svcs[i]);
	free(c->svcs);
	aios_scraper_free(c->scraper);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const struct aios_controller aios_modelservice_controller = {
    .name = "modelservice",
    .resource = &aios_kube_modelservices,
    .watches = {{&aios_kube_pods, AIOS_WATCH_OWNER, AIOS_MS_LABEL_SERVICE},
                {&aios_kube_services, AIOS_WATCH_OWNER, AIOS_MS_LABEL_SERVICE},
                {NULL, 0, NULL}},
    .init = ms_init,
    .cleanup = ms_cleanup,
    .reconcile = ms_reconcile,
};
