/*
 * trainingjob_controller.c - reconcile(key) for TrainingJobs: read the job and its pods
 * from the cache, ask the state machine (trainingjob_status.c) for a plan, carry it
 * out. Order matters for crash safety and for a stale cache:
 *
 *   1. write status first (compare-and-swap on resourceVersion; 409 -> re-read the job
 *      from the API server and plan again), so that whatever the pods look like after a
 *      crash, status already names the attempt they belong to;
 *   2. the spec ConfigMap, then pod deletions (NotFound is success), then creations in
 *      rank order (AlreadyExists is success: names are deterministic);
 *   3. events, then the TTL deletion of the job itself.
 *
 * The cache lags our own writes: after a status write the informer may still hold the
 * older object. Per job the controller remembers the status (and resourceVersion) its
 * last status write returned and uses it while the cache's resourceVersion is older
 * (resourceVersions are etcd revisions; comparing them numerically is what the Job
 * controller's "expectations" avoid needing, and holds for every etcd-backed API
 * server). If the generation moved meanwhile, the job is read from the API server.
 *
 * Progress: reconcile does no I/O for it. A plan names rank 0's metrics address while
 * every rank runs; the controller's scrape loop (one thread) fetches each such page
 * every AIOS_TJ_PROGRESS_PERIOD_MS, with a 2 s timeout (connect included), keeps the
 * progress in the job's memo and wakes the job's key when it changed; the next plan
 * reads it from there. A slow pod delays the loop, never a worker.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "http/client.h"
#include "kube/informer.h"
#include "operator/manager.h"
#include "operator/trainingjob.h"

#define SCRAPE_TIMEOUT_MS 2000 /* one progress page, connect included */
#define STATUS_RETRIES    3    /* 409s in a row before the key goes back to the queue */
#define MEMO_BUCKETS      1024

/* ============================== per-job memory ============================== */

struct memo {
	char *key;
	char *last_written; /* what memo_of kept of our last status write, as JSON text */
	char *scrape_addr;  /* rank 0's "ip:port" the last plan named, or NULL */
	struct aios_tj_progress progress; /* scraped from scrape_addr, when seq > 0 */
	uint64_t seq;                     /* scrapes that changed progress; 0: none yet */
	uint64_t seq_planned;             /* the seq the last plan read */
	struct memo *next;
};

struct tj_state {
	pthread_mutex_t mu;
	struct memo *buckets[MEMO_BUCKETS];
	struct aios_manager *m;
	pthread_t scraper;
	pthread_cond_t wake; /* a new address to scrape, or stop */
	int woken, stop;
};

static unsigned hash_key(const char *s)
{
	unsigned h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % MEMO_BUCKETS;
}

/* The memo of key, created when create is set; call with mu held. */
static struct memo *memo_find(struct tj_state *st, const char *key, int create)
{
	struct memo **pp = &st->buckets[hash_key(key)];
	for (struct memo *m = *pp; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	if (!create)
		return NULL;
	struct memo *m = aios_xcalloc(1, sizeof(*m));
	m->key = aios_xstrdup(key);
	m->next = *pp;
	*pp = m;
	return m;
}

static void memo_drop(struct tj_state *st, const char *key)
{
	pthread_mutex_lock(&st->mu);
	struct memo **pp = &st->buckets[hash_key(key)];
	for (; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, key) == 0) {
			struct memo *m = *pp;
			*pp = m->next;
			free(m->scrape_addr);
			free(m->last_written);
			free(m->key);
			free(m);
			break;
		}
	}
	pthread_mutex_unlock(&st->mu);
}

static long long rv_num(struct json_object *o)
{
	const char *rv = aios_json_str(o, "metadata.resourceVersion");
	return rv ? strtoll(rv, NULL, 10) : 0;
}

/* ============================== progress scrape ============================== */

/* GET http://addr/metrics, bounded in time (connect included) and size; fills *out on
 * success. */
static int scrape(const char *addr, struct aios_tj_progress *out)
{
	char url[128];
	snprintf(url, sizeof(url), "http://%s/metrics", addr);
	struct aios_buf b;
	aios_buf_init(&b, AIOS_CAP_METRICS_PAGE);
	long code = 0;
	const struct aios_httpc_opts o = {.timeout_ms = SCRAPE_TIMEOUT_MS};
	enum aios_err e = aios_httpc_get(url, &o, &code, &b);
	int ok = 0;
	if (e)
		aios_debug("progress", "scrape %s: %s (HTTP %ld)", url, aios_errmsg(), code);
	else if (code != 200)
		aios_debug("progress", "scrape %s: HTTP %ld", url, code);
	else if (aios_tj_parse_metrics(b.data ? b.data : "", b.len, out) != AIOS_OK)
		aios_debug("progress", "scrape %s: %s", url, aios_errmsg());
	else
		ok = 1;
	aios_buf_cleanup(&b);
	return ok;
}

struct target {
	char *key, *addr;
};

/* The (key, address) of every job whose rank 0 is to be scraped; call with mu held. */
static struct target *targets(struct tj_state *st, size_t *n)
{
	struct target *t = NULL;
	*n = 0;
	for (int i = 0; i < MEMO_BUCKETS; i++)
		for (struct memo *x = st->buckets[i]; x; x = x->next)
			if (x->scrape_addr) {
				t = aios_xrealloc(t, (*n + 1) * sizeof(*t));
				t[*n].key = aios_xstrdup(x->key);
				t[*n].addr = aios_xstrdup(x->scrape_addr);
				(*n)++;
			}
	return t;
}

/* Stores what one scrape found, if the job still names that address; 1 when the
 * progress changed (the key is worth a reconcile). */
static int store_progress(struct tj_state *st, const struct target *t,
                          const struct aios_tj_progress *pr)
{
	int changed = 0;
	pthread_mutex_lock(&st->mu);
	struct memo *mm = memo_find(st, t->key, 0);
	if (mm && mm->scrape_addr && strcmp(mm->scrape_addr, t->addr) == 0 &&
	    (mm->seq == 0 || memcmp(&mm->progress, pr, sizeof(*pr)) != 0)) {
		mm->progress = *pr;
		mm->seq++;
		changed = 1;
	}
	pthread_mutex_unlock(&st->mu);
	return changed;
}

/* The scrape loop: every AIOS_TJ_PROGRESS_PERIOD_MS (or at once when a plan names a new
 * address), every target's page; a job whose progress changed is enqueued. */
static void *scrape_loop(void *arg)
{
	struct tj_state *st = arg;
	pthread_mutex_lock(&st->mu);
	while (!st->stop) {
		st->woken = 0;
		size_t n;
		struct target *t = targets(st, &n);
		pthread_mutex_unlock(&st->mu);
		for (size_t i = 0; i < n; i++) {
			struct aios_tj_progress pr;
			memset(&pr, 0, sizeof(pr));
			if (scrape(t[i].addr, &pr) && store_progress(st, &t[i], &pr)) {
				char *slash = strchr(t[i].key, '/');
				if (slash) {
					*slash = '\0';
					aios_manager_enqueue(st->m, &aios_trainingjob_controller,
					                     t[i].key, slash + 1, 0);
				}
			}
			free(t[i].key);
			free(t[i].addr);
		}
		free(t);
		pthread_mutex_lock(&st->mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += AIOS_TJ_PROGRESS_PERIOD_MS / 1000;
		while (!st->stop && !st->woken &&
		       pthread_cond_timedwait(&st->wake, &st->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* ============================== cache transforms ============================== */

/*
 * The cache keeps of a trainer pod only what the state machine reads: metadata (name,
 * namespace, uid, resourceVersion, labels, ownerReferences, deletionTimestamp) and status
 * (phase, podIP, reason, message, conditions, containerStatuses). The spec is rendered
 * from the job, never read back; dropping it and managedFields cuts a cached pod from
 * ~45 json-c object nodes to ~10.
 */
static void trim_pod(struct json_object *pod)
{
	aios_kube_strip_managed_fields(pod);
	json_object_object_del(pod, "spec");
	struct json_object *md = aios_json_lookup(pod, "metadata");
	if (md && json_object_is_type(md, json_type_object))
		json_object_object_del(md, "annotations");
}

/* A job keeps its spec and status; kubectl's last-applied copy of the spec goes. */
static void trim_job(struct json_object *job)
{
	aios_kube_strip_managed_fields(job);
	struct json_object *ann = aios_json_lookup(job, "metadata.annotations");
	if (ann && json_object_is_type(ann, json_type_object))
		json_object_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
}

/* ============================== reconcile ============================== */

static enum aios_err tj_init(struct aios_manager *m, void **state)
{
	struct tj_state *st = aios_xcalloc(1, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->wake, NULL);
	st->m = m;
	if (pthread_create(&st->scraper, NULL, scrape_loop, st) != 0) {
		pthread_cond_destroy(&st->wake);
		pthread_mutex_destroy(&st->mu);
		free(st);
		return aios_fail(AIOS_ERR_IO, "trainingjob: starting the scrape loop: %s",
		                 strerror(errno));
	}
	*state = st;
	return AIOS_OK;
}

static void tj_cleanup(struct aios_manager *m, void *state)
{
	(void)m;
	struct tj_state *st = state;
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	st->stop = 1;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->scraper, NULL);
	for (int i = 0; i < MEMO_BUCKETS; i++) {
		struct memo *x = st->buckets[i];
		while (x) {
			struct memo *next = x->next;
			free(x->scrape_addr);
			free(x->last_written);
			free(x->key);
			free(x);
			x = next;
		}
	}
	pthread_cond_destroy(&st->wake);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

/* The freshest job we know: the cache's, or the one our last write returned. New copy. */
static struct json_object *current_job(struct aios_manager *m, struct tj_state *st, const char *key,
                                       const char *ns, const char *name)
{
	struct json_object *cached = aios_manager_get(m, &aios_kube_trainingjobs, ns, name);
	if (!cached) {
		memo_drop(st, key);
		return NULL;
	}
	/* cache reads are read-only (manager.h): this copy is ours to change */
	struct json_object *job = aios_json_copy(cached);
	aios_kube_obj_put(cached);
	int refetch = 0;
	pthread_mutex_lock(&st->mu);
	struct memo *mm = memo_find(st, key, 0);
	struct json_object *w =
	    mm && mm->last_written ? json_tokener_parse(mm->last_written) : NULL;
	if (w) {
		const char *a = aios_json_str(w, "metadata.uid");
		const char *b = aios_json_str(job, "metadata.uid");
		int64_t gw = 0, gc = 0;
		if (aios_json_opt_int(w, "metadata.generation", 0, &gw) ||
		    aios_json_opt_int(job, "metadata.generation", 0, &gc))
			gw = -1;
		if (a && b && strcmp(a, b) == 0 && rv_num(w) > rv_num(job)) {
			if (gw != gc) {
				refetch = 1; /* the spec moved too: the cache's is too old */
			} else {
				/* the cache's spec with the status we wrote, at our resourceVersion */
				json_object_object_add(
				    job, "status", json_object_get(aios_json_lookup(w, "status")));
				aios_json_set(job, "metadata.resourceVersion",
				              json_object_new_string(
				                  aios_json_str(w, "metadata.resourceVersion")));
			}
		} else {
			/* the cache caught up (or it is another incarnation): forget the copy */
			free(mm->last_written);
			mm->last_written = NULL;
		}
		json_object_put(w);
	}
	pthread_mutex_unlock(&st->mu);
	if (refetch) {
		struct json_object *fresh = NULL;
		if (aios_manager_fetch(m, &aios_kube_trainingjobs, ns, name, &fresh) == AIOS_OK) {
			json_object_put(job);
			job = fresh;
			trim_job(job);
		}
	}
	/* LIST items may lack their type; events and ownerReferences need it */
	json_object_object_add(job, "apiVersion", json_object_new_string("aios.dev/v1alpha1"));
	json_object_object_add(job, "kind", json_object_new_string("TrainingJob"));
	return job;
}

/* Keeps of a status write's answer what current_job needs: uid, resourceVersion,
 * generation and status (not the spec), as JSON text (a json-c tree of the status
 * alone costs ~3 KiB: memory). Takes written; caller frees. */
static char *memo_of(struct json_object *written)
{
	struct json_object *o = json_object_new_object();
	static const char *const keep[] = {"metadata.uid", "metadata.resourceVersion"};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		const char *v = aios_json_str(written, keep[i]);
		if (v)
			aios_json_set(o, keep[i], json_object_new_string(v));
	}
	int64_t g = 0;
	if (aios_json_opt_int(written, "metadata.generation", 0, &g) == AIOS_OK)
		aios_json_set(o, "metadata.generation", json_object_new_int64(g));
	struct json_object *st = aios_json_lookup(written, "status");
	if (st)
		json_object_object_add(o, "status", aios_json_copy(st));
	json_object_put(written);
	char *text = aios_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

static void remember(struct tj_state *st, const char *key, char *written)
{
	pthread_mutex_lock(&st->mu);
	struct memo *mm = memo_find(st, key, 1);
	free(mm->last_written);
	mm->last_written = written;
	pthread_mutex_unlock(&st->mu);
}

static int same_addr(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * Plans the job with the progress the scrape loop found since the last plan (none: the
 * status keeps its progress). When the plan names another metrics address than the one
 * scraped (a new attempt, rank 0 moved), the loop is pointed at it at once, and a plan
 * that used the old address' progress is made again without it. Pure but for the memo.
 */
static enum aios_err plan_job(struct aios_manager *m, struct tj_state *st, const char *key,
                              struct json_object *job, struct aios_tj_plan *plan)
{
	const char *uid = aios_json_str(job, "metadata.uid");
	struct json_object **pods = NULL;
	size_t n = uid ? aios_manager_owned(m, &aios_kube_pods, uid, &pods) : 0;
	time_t now = time(NULL);
	struct aios_tj_progress pr;
	memset(&pr, 0, sizeof(pr));
	int fresh = 0;
	char *addr = NULL;
	pthread_mutex_lock(&st->mu);
	struct memo *mm = memo_find(st, key, 0);
	if (mm) {
		fresh = mm->seq != mm->seq_planned;
		pr = mm->progress;
		mm->seq_planned = mm->seq;
		addr = mm->scrape_addr ? aios_xstrdup(mm->scrape_addr) : NULL;
	}
	pthread_mutex_unlock(&st->mu);
	enum aios_err e = aios_tj_plan(job, pods, n, now, fresh ? &pr : NULL, plan);
	if (!e && !same_addr(addr, plan->scrape_addr)) {
		pthread_mutex_lock(&st->mu);
		mm = memo_find(st, key, 1);
		free(mm->scrape_addr);
		mm->scrape_addr = plan->scrape_addr ? aios_xstrdup(plan->scrape_addr) : NULL;
		mm->seq = mm->seq_planned = 0;
		if (mm->scrape_addr) {
			st->woken = 1;
			pthread_cond_signal(&st->wake);
		}
		pthread_mutex_unlock(&st->mu);
		if (fresh) {
			aios_tj_plan_cleanup(plan);
			e = aios_tj_plan(job, pods, n, now, NULL, plan);
		}
	}
	free(addr);
	aios_kube_objs_free(pods, n);
	return e;
}

/* Generation and attempt from a name aios_tj_secret_name made; 0 if it is not one. */
static int parse_secret_name(const char *name, long long *gen, int *attempt)
{
	const char *p = strstr(name, "-dist-g"), *q;
	while (p && (q = strstr(p + 1, "-dist-g")))
		p = q;
	char end;
	return p && sscanf(p, "-dist-g%lld-a%d%c", gen, attempt, &end) == 2;
}

/* The Secret a pod to create mounts (AIOS_TJ_SECRET_VOLUME), or NULL. */
static const char *pod_secret(struct json_object *pod)
{
	struct json_object *vols = aios_json_lookup(pod, "spec.volumes");
	for (size_t i = 0; vols && i < json_object_array_length(vols); i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		const char *vn = aios_json_str(v, "name");
		if (vn && strcmp(vn, AIOS_TJ_SECRET_VOLUME) == 0)
			return aios_json_str(v, "secret.secretName");
	}
	return NULL;
}

/*
 * Before an attempt's pods: its Secret (trainingjob.h), 32 random bytes as hex. One that
 * exists already is kept (the operator restarted between the Secret and the pods). Old
 * attempts' Secrets stay until garbage collection removes them with the job: no rank of
 * the new attempt trusts them, and the operator needs no delete verb.
 */
static enum aios_err ensure_secrets(struct aios_manager *m, struct json_object *job, const char *ns,
                                    const struct aios_tj_plan *plan)
{
	const char *done = NULL;
	for (size_t i = 0; i < plan->n_create; i++) {
		const char *sn = pod_secret(plan->create[i]);
		if (!sn || (done && strcmp(done, sn) == 0))
			continue;
		long long gen = 1;
		int attempt = 0;
		if (!parse_secret_name(sn, &gen, &attempt))
			return aios_fail(AIOS_ERR_INVALID,
			                 "secret name %s: no generation and attempt", sn);
		uint8_t raw[32];
		char hex[65];
		if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
			return aios_fail(AIOS_ERR_IO, "getrandom: %s", strerror(errno));
		for (size_t k = 0; k < sizeof(raw); k++)
			snprintf(hex + 2 * k, 3, "%02x", raw[k]);
		explicit_bzero(raw, sizeof(raw));
		struct json_object *sec;
		enum aios_err e = aios_tj_render_secret_named(job, sn, hex, &sec);
		explicit_bzero(hex, sizeof(hex));
		if (e)
			return e;
		e = aios_manager_create(m, &aios_kube_secrets, ns, sec, NULL);
		json_object_put(sec);
		if (e && e != AIOS_ERR_EXISTS)
			return aios_fail_wrap(e, "creating secret %s", sn);
		if (!e)
			aios_manager_event(m, &aios_kube_trainingjobs, job, "Normal",
			                   "SecretCreated", "created secret %s for attempt %d", sn,
			                   attempt);
		aios_errclear();
		done = sn;
	}
	return AIOS_OK;
}

/*
 * The planned status, compare-and-swap; on 409 the job is read again and re-planned
 * (*job and *plan replaced). *gone: the job was deleted meanwhile.
 */
static enum aios_err write_status(struct aios_manager *m, struct tj_state *st, const char *key,
                                  const char *ns, const char *name, struct json_object **job,
                                  struct aios_tj_plan *plan, int *gone)
{
	enum aios_err e = AIOS_OK;
	*gone = 0;
	for (int tries = 0; plan->status_changed; tries++) {
		struct json_object *upd = aios_json_copy(*job);
		json_object_object_add(upd, "status", aios_json_copy(plan->status));
		struct json_object *written = NULL;
		e = aios_manager_update_status(m, &aios_kube_trainingjobs, upd, &written);
		json_object_put(upd);
		if (e == AIOS_OK) {
			remember(st, key, memo_of(written));
			return AIOS_OK;
		}
		if (e == AIOS_ERR_NOT_FOUND) {
			*gone = 1;
			return AIOS_OK;
		}
		if (e != AIOS_ERR_CONFLICT || tries + 1 >= STATUS_RETRIES)
			return e;
		struct json_object *fresh = NULL;
		if ((e = aios_manager_fetch(m, &aios_kube_trainingjobs, ns, name, &fresh))) {
			*gone = e == AIOS_ERR_NOT_FOUND;
			return *gone ? AIOS_OK : e;
		}
		json_object_object_add(fresh, "apiVersion",
		                       json_object_new_string("aios.dev/v1alpha1"));
		json_object_object_add(fresh, "kind", json_object_new_string("TrainingJob"));
		json_object_put(*job);
		*job = fresh;
		aios_tj_plan_cleanup(plan);
		if ((e = plan_job(m, st, key, *job, plan)))
			return e;
	}
	return e;
}

/* The plan's children: the spec ConfigMap, pods deleted, Secrets, pods created. */
static enum aios_err carry_children(struct aios_manager *m, struct json_object *job, const char *ns,
                                    const struct aios_tj_plan *plan)
{
	enum aios_err e;
	if (plan->configmap) {
		e = aios_manager_create(m, &aios_kube_configmaps, ns, plan->configmap, NULL);
		if (e && e != AIOS_ERR_EXISTS)
			return e;
	}
	for (size_t i = 0; i < plan->n_remove; i++) {
		e = aios_manager_delete(m, &aios_kube_pods, ns, plan->remove[i], NULL);
		if (e == AIOS_ERR_NOT_FOUND)
			continue;
		if (e)
			return e;
		aios_manager_event(m, &aios_kube_trainingjobs, job, "Normal", "SuccessfulDeletePod",
		                   "deleted pod %s", plan->remove[i]);
	}
	if ((e = ensure_secrets(m, job, ns, plan)))
		return e;
	for (size_t i = 0; i < plan->n_create; i++) {
		const char *pn = aios_json_str(plan->create[i], "metadata.name");
		e = aios_manager_create(m, &aios_kube_pods, ns, plan->create[i], NULL);
		if (e == AIOS_ERR_EXISTS)
			continue;
		if (e) {
			aios_manager_event(m, &aios_kube_trainingjobs, job, "Warning",
			                   "FailedCreatePod", "creating pod %s: %s", pn,
			                   aios_errmsg());
			return e;
		}
		aios_manager_event(m, &aios_kube_trainingjobs, job, "Normal", "SuccessfulCreatePod",
		                   "created pod %s", pn);
		aios_debug("create", "created pod %s/%s", ns, pn);
	}
	return AIOS_OK;
}

/* The plan's events (recorded and logged), and the job's deletion once its TTL passed. */
static enum aios_err record_and_expire(struct aios_manager *m, struct json_object *job,
                                       const char *key, const char *ns, const char *name,
                                       const struct aios_tj_plan *plan)
{
	for (size_t i = 0; i < plan->n_events; i++) {
		aios_manager_event(m, &aios_kube_trainingjobs, job, plan->events[i].type,
		                   plan->events[i].reason, "%s", plan->events[i].message);
		struct json_object *f = json_object_new_object();
		json_object_object_add(f, "job", json_object_new_string(key));
		json_object_object_add(f, "reason", json_object_new_string(plan->events[i].reason));
		aios_log_fields(AIOS_LOG_INFO, "transition", f, "%s: %s", key,
		                plan->events[i].message);
	}
	if (!plan->delete_job)
		return AIOS_OK;
	enum aios_err e = aios_manager_delete(m, &aios_kube_trainingjobs, ns, name,
	                                      aios_json_str(job, "metadata.uid"));
	if (e == AIOS_ERR_NOT_FOUND || e == AIOS_ERR_CONFLICT)
		e = AIOS_OK; /* gone already, or another incarnation now */
	if (!e)
		aios_info("ttl", "deleted %s: ttlSecondsAfterFinished passed", key);
	return e;
}

static enum aios_err tj_reconcile(struct aios_manager *m, void *state, const char *ns,
                                  const char *name, int64_t *requeue_after_ms)
{
	struct tj_state *st = state;
	char key[512];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	struct json_object *job = current_job(m, st, key, ns, name);
	if (!job)
		return AIOS_OK; /* deleted: the garbage collector removes its pods */
	struct aios_tj_plan plan;
	enum aios_err e = plan_job(m, st, key, job, &plan);
	if (e) {
		json_object_put(job);
		return e;
	}
	int gone = 0;
	/* status first, then children, then events and TTL */
	if (!(e = write_status(m, st, key, ns, name, &job, &plan, &gone)) && !gone &&
	    !(e = carry_children(m, job, ns, &plan)) &&
	    !(e = record_and_expire(m, job, key, ns, name, &plan)))
		*requeue_after_ms = plan.requeue_after_ms;
	aios_tj_plan_cleanup(&plan);
	json_object_put(job);
	return e;
}

const struct aios_controller aios_trainingjob_controller = {
    .name = "trainingjob",
    .resource = &aios_kube_trainingjobs,
    .watches = {{&aios_kube_pods, AIOS_WATCH_OWNER, AIOS_TJ_LABEL_JOB, trim_pod}},
    .transform = trim_job,
    .init = tj_init,
    .cleanup = tj_cleanup,
    .reconcile = tj_reconcile,
};
