/*
 * leader.c - Lease-based leader election (see leader.h), after client-go's
 * tools/leaderelection: tryAcquireOrRenew every retry period; the record is judged
 * by when *we* last saw it change, dated back to its renewTime when our clock puts
 * that in the recent past (at most leaseDuration - renewDeadline back), so a follower
 * takes over one lease duration after the last renewal rather than after it saw it.
 *
 * After losing the lease (no successful renew within the renew deadline) the elector
 * calls on_stopped and campaigns again; a program that must not run twice (the
 * operator) stops its workers in on_stopped, as controller-runtime exits.
 */
#include "kube/leader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "kube/kube_internal.h"

struct aios_kube_leader {
	struct aios_kube_client *c;
	struct aios_kube_leader_opts o;
	char *ns, *name, *identity;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int running, stop, leading;
	/* what we last observed, and when (monotonic ms) */
	char *obs_holder;
	char *obs_record;        /* the spec as JSON: a change of any field is a change */
	int64_t obs_ms;          /* possibly dated back to the record's renewTime */
	int64_t body_ms;         /* monotonic ms just before the renewTime of our last body */
	struct json_object *own; /* the Lease as our last successful write returned it */
	unsigned seed;
};

/* metav1.MicroTime: "2026-11-29T01:02:03.456789Z". */
static void micro_now(char *out, size_t n)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%06ldZ", base, (long)tv.tv_usec);
}

static int64_t wall_now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int aios_kube_micro_time_parse(const char *s, int64_t *unix_us)
{
	*unix_us = 0;
	/* strict shape: digits where digits belong, before timegm normalises anything */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	if (!s)
		return -1;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return -1;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end != s + sizeof(shape) - 1 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	int64_t frac_us = 0, scale = 100000;
	if (*end == '.') {
		int digits = 0;
		for (end++; *end >= '0' && *end <= '9'; end++, digits++) {
			frac_us += (*end - '0') * scale;
			scale /= 10;
		}
		if (digits < 1 || digits > 9)
			return -1;
	}
	if (end[0] != 'Z' || end[1] != '\0')
		return -1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*unix_us = (int64_t)t * 1000000 + frac_us;
	return 0;
}

int64_t aios_kube_lease_backdate_ms(const char *renew_time, int64_t wall_now_us, int64_t lease_ms,
                                    int64_t max_ms)
{
	int64_t renew_us;
	if (aios_kube_micro_time_parse(renew_time, &renew_us) != 0 || renew_us > wall_now_us)
		return 0;
	int64_t age_ms = (wall_now_us - renew_us) / 1000;
	if (age_ms > lease_ms)
		return 0;
	return age_ms < max_ms ? age_ms : (max_ms > 0 ? max_ms : 0);
}

static char *default_identity(void)
{
	char host[256] = "unknown";
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = 0;
	char uuid[64] = {0};
	FILE *f = fopen("/proc/sys/kernel/random/uuid", "r");
	if (f) {
		if (!fgets(uuid, sizeof(uuid), f))
			uuid[0] = 0;
		fclose(f);
	}
	uuid[strcspn(uuid, "\n")] = 0;
	if (!uuid[0])
		snprintf(uuid, sizeof(uuid), "%08x%08x", (unsigned)aios_now_ns(),
		         (unsigned)getpid());
	return aios_xasprintf("%s_%s", host, uuid);
}

enum aios_err aios_kube_leader_new(struct aios_kube_client *c,
                                   const struct aios_kube_leader_opts *o,
                                   struct aios_kube_leader **out)
{
	*out = NULL;
	if (!c || !o || !o->ns || !*o->ns || !o->name || !*o->name)
		return aios_fail(AIOS_ERR_INVALID,
		                 "leader election: a Lease namespace and name are required");
	struct aios_kube_leader_opts v = *o;
	if (v.lease_duration_ms <= 0)
		v.lease_duration_ms = AIOS_KUBE_LEASE_DURATION_MS;
	if (v.renew_deadline_ms <= 0)
		v.renew_deadline_ms = AIOS_KUBE_RENEW_DEADLINE_MS;
	if (v.retry_period_ms <= 0)
		v.retry_period_ms = AIOS_KUBE_RETRY_PERIOD_MS;
	/* client-go: leaseDuration > renewDeadline > retryPeriod * 1.2 (its jitter). */
	if (v.lease_duration_ms <= v.renew_deadline_ms)
		return aios_fail(AIOS_ERR_INVALID,
		                 "leader election: lease duration (%lld ms) must exceed the renew "
		                 "deadline (%lld ms)",
		                 (long long)v.lease_duration_ms, (long long)v.renew_deadline_ms);
	if (v.renew_deadline_ms * 10 <= v.retry_period_ms * 12)
		return aios_fail(AIOS_ERR_INVALID,
		                 "leader election: renew deadline (%lld ms) must exceed 1.2 x "
		                 "retry period (%lld ms)",
		                 (long long)v.renew_deadline_ms, (long long)v.retry_period_ms);
	if (v.lease_duration_ms < 1000)
		return aios_fail(AIOS_ERR_INVALID,
		                 "leader election: lease duration must be at least 1 s");
	struct aios_kube_leader *l = aios_xcalloc(1, sizeof(*l));
	l->c = c;
	l->o = v;
	l->ns = aios_xstrdup(o->ns);
	l->name = aios_xstrdup(o->name);
	l->identity =
	    (o->identity && *o->identity) ? aios_xstrdup(o->identity) : default_identity();
	l->o.ns = l->ns;
	l->o.name = l->name;
	l->o.identity = l->identity;
	pthread_mutex_init(&l->mu, NULL);
	aios_kube_cond_init(&l->cv);
	l->seed = (unsigned)aios_now_ns() ^ (unsigned)getpid();
	*out = l;
	return AIOS_OK;
}

static int stopping(struct aios_kube_leader *l)
{
	return __atomic_load_n(&l->stop, __ATOMIC_ACQUIRE) || aios_shutdown_requested();
}

static struct json_object *lease_body(struct aios_kube_leader *l, const char *holder, int64_t dur_s,
                                      const char *acquire, int64_t transitions, const char *rv)
{
	char now[40];
	l->body_ms = aios_now_ms(); /* not after the renewTime written below */
	micro_now(now, sizeof(now));
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "apiVersion", json_object_new_string("coordination.k8s.io/v1"));
	json_object_object_add(o, "kind", json_object_new_string("Lease"));
	aios_json_set(o, "metadata.name", json_object_new_string(l->name));
	aios_json_set(o, "metadata.namespace", json_object_new_string(l->ns));
	if (rv)
		aios_json_set(o, "metadata.resourceVersion", json_object_new_string(rv));
	aios_json_set(o, "spec.holderIdentity", json_object_new_string(holder));
	aios_json_set(o, "spec.leaseDurationSeconds", json_object_new_int64(dur_s));
	aios_json_set(o, "spec.acquireTime", json_object_new_string(acquire ? acquire : now));
	aios_json_set(o, "spec.renewTime", json_object_new_string(now));
	aios_json_set(o, "spec.leaseTransitions", json_object_new_int64(transitions));
	return o;
}

static void observe(struct aios_kube_leader *l, struct json_object *lease)
{
	struct json_object *spec = aios_json_lookup(lease, "spec");
	const char *rec =
	    spec ? json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN) : "{}";
	if (!l->obs_record || strcmp(rec, l->obs_record) != 0) {
		free(l->obs_record);
		l->obs_record = aios_xstrdup(rec);
		/* dated back to the renewal itself, when our clock allows (leader.h) */
		l->obs_ms = aios_now_ms() - aios_kube_lease_backdate_ms(
		                                aios_json_str(lease, "spec.renewTime"),
		                                wall_now_us(), l->o.lease_duration_ms,
		                                l->o.lease_duration_ms - l->o.renew_deadline_ms);
		const char *h = aios_json_str(lease, "spec.holderIdentity");
		if (!h)
			h = "";
		if (!l->obs_holder || strcmp(h, l->obs_holder) != 0) {
			free(l->obs_holder);
			l->obs_holder = aios_xstrdup(h);
			if (*h && l->o.on_new_leader)
				l->o.on_new_leader(l->o.arg, h);
		}
	}
}

/* The options of the next API request: bounded by deadline_ms (monotonic; 0: no bound
 * beyond the client's own timeout). */
static enum aios_err bound_request(struct aios_kube_leader *l, int64_t deadline_ms,
                                   struct aios_kube_call_opts *co)
{
	co->timeout_ms = 0;
	co->past_shutdown = 0;
	if (!deadline_ms)
		return AIOS_OK;
	int64_t left = deadline_ms - aios_now_ms();
	if (left <= 0)
		return aios_fail(AIOS_ERR_TIMEOUT, "lease %s/%s: the renew deadline passed", l->ns,
		                 l->name);
	co->timeout_ms = left;
	return AIOS_OK;
}

/* Remembers (or forgets, with NULL) what our last successful write returned. */
static void keep_own(struct aios_kube_leader *l, struct json_object *o)
{
	json_object_put(l->own);
	l->own = o ? json_object_get(o) : NULL;
}

/* Writes our record (created when rv is NULL, else replaced at rv), bounded by
 * deadline_ms; on success remembers what the API server returned. */
static enum aios_err put_ours(struct aios_kube_leader *l, int64_t deadline_ms, const char *acq,
                              int64_t transitions, const char *rv)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_leases, l->ns, l->name);
	int64_t dur_s = (l->o.lease_duration_ms + 999) / 1000;
	struct json_object *body = lease_body(l, l->identity, dur_s, acq, transitions, rv);
	struct json_object *got = NULL;
	struct aios_kube_call_opts co;
	enum aios_err e = bound_request(l, deadline_ms, &co);
	if (!e)
		e = rv ? aios_kube_replace_with(l->c, &co, &r, body, NULL, &got)
		       : aios_kube_create_with(l->c, &co, &r, body, NULL, &got);
	json_object_put(body);
	if (!e) {
		observe(l, got);
		keep_own(l, got);
		json_object_put(got);
	}
	return e;
}

/* The lease's spec.leaseTransitions (0 when absent or not an integer). */
static int64_t lease_transitions(struct json_object *lease)
{
	int64_t transitions = 0;
	if (aios_json_opt_int(lease, "spec.leaseTransitions", 0, &transitions) != AIOS_OK)
		aios_errclear();
	return transitions;
}

/* Replaces the Lease with our record at the resourceVersion of seen (a copy we read or
 * wrote; acq may borrow from it); a copy without one is refused (AIOS_ERR_PROTOCOL). */
static enum aios_err replace_ours(struct aios_kube_leader *l, int64_t deadline_ms,
                                  struct json_object *seen, const char *acq, int64_t transitions)
{
	const char *rv = aios_json_str(seen, "metadata.resourceVersion");
	if (!rv)
		return aios_fail(AIOS_ERR_PROTOCOL, "lease %s/%s: no resourceVersion", l->ns,
		                 l->name);
	return put_ours(l, deadline_ms, acq, transitions, rv);
}

/* The leader's fast path (client-go's too): renew on the record we last wrote, without
 * reading it first; a 409 means someone else wrote since, and the slow path reads. */
static enum aios_err renew_own(struct aios_kube_leader *l, int64_t deadline_ms)
{
	return replace_ours(l, deadline_ms, l->own, aios_json_str(l->own, "spec.acquireTime"),
	                    lease_transitions(l->own));
}

/* One tryAcquireOrRenew, each request ending by deadline_ms (0: none). AIOS_OK: we
 * hold the lease now. */
static enum aios_err try_once(struct aios_kube_leader *l, int64_t deadline_ms)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_leases, l->ns, l->name);
	struct json_object *cur = NULL;
	if (l->own && renew_own(l, deadline_ms) == AIOS_OK)
		return AIOS_OK;
	keep_own(l, NULL);
	struct aios_kube_call_opts co;
	enum aios_err e = bound_request(l, deadline_ms, &co);
	if (e)
		return e;
	e = aios_kube_get_with(l->c, &co, &r, &cur);
	if (e == AIOS_ERR_NOT_FOUND)
		return put_ours(l, deadline_ms, NULL, 0, NULL);
	if (e)
		return e;
	observe(l, cur);
	const char *holder = aios_json_str(cur, "spec.holderIdentity");
	int mine = holder && strcmp(holder, l->identity) == 0;
	if (holder && *holder && !mine && aios_now_ms() < l->obs_ms + l->o.lease_duration_ms) {
		/* holder borrows from cur: format the message before dropping it */
		e = aios_fail(AIOS_ERR_CONFLICT, "lease %s/%s is held by %s", l->ns, l->name,
		              holder);
		json_object_put(cur);
		return e;
	}
	int64_t transitions = lease_transitions(cur);
	e = replace_ours(l, deadline_ms, cur, mine ? aios_json_str(cur, "spec.acquireTime") : NULL,
	                 mine ? transitions : transitions + 1);
	json_object_put(cur);
	return e;
}

static enum aios_err try_acquire_or_renew(struct aios_kube_leader *l, int64_t deadline_ms)
{
	return try_once(l, deadline_ms);
}

/* Someone else holds the lease (as we last saw it): ms until it expires by our
 * observation, else -1. */
static int64_t held_by_other_ms(struct aios_kube_leader *l)
{
	if (!l->obs_holder || !*l->obs_holder || strcmp(l->obs_holder, l->identity) == 0)
		return -1;
	int64_t left = l->obs_ms + l->o.lease_duration_ms - aios_now_ms();
	return left > 0 ? left : 0;
}

static void release_once(struct aios_kube_leader *l)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_leases, l->ns, l->name);
	struct json_object *cur = NULL;
	/* runs through the shutdown (a SIGTERM is the usual reason to release), each
	 * request bounded by a retry period */
	const struct aios_kube_call_opts co = {l->o.retry_period_ms, 1};
	if (aios_kube_get_with(l->c, &co, &r, &cur) != AIOS_OK) {
		aios_warn("leader_release_failed", "lease %s/%s: %s", l->ns, l->name,
		          aios_errmsg());
		return;
	}
	const char *holder = aios_json_str(cur, "spec.holderIdentity");
	if (holder && strcmp(holder, l->identity) == 0) {
		struct json_object *body =
		    lease_body(l, "", 1, NULL, lease_transitions(cur),
		               aios_json_str(cur, "metadata.resourceVersion"));
		if (aios_kube_replace_with(l->c, &co, &r, body, NULL, NULL) != AIOS_OK)
			aios_warn("leader_release_failed", "lease %s/%s: %s", l->ns, l->name,
			          aios_errmsg());
		else
			aios_info("leader_released", "released lease %s/%s", l->ns, l->name);
		json_object_put(body);
	}
	json_object_put(cur);
}

/* Releases the Lease when we hold it, also while the process shuts down. */
static void release(struct aios_kube_leader *l)
{
	release_once(l);
}

static void set_leading(struct aios_kube_leader *l, int v)
{
	__atomic_store_n(&l->leading, v, __ATOMIC_RELEASE);
}

static void *campaign(void *arg)
{
	struct aios_kube_leader *l = arg;
	while (!stopping(l)) {
		/* acquire: retry with client-go's jitter (factor 1.2: wait retry .. 2.2 x retry),
		 * but while another holds the lease, no later than its expiry */
		enum aios_err e = try_acquire_or_renew(l, 0);
		if (e) {
			if (e != AIOS_ERR_CONFLICT)
				aios_warn("leader_acquire_failed", "lease %s/%s: %s", l->ns,
				          l->name, aios_errmsg());
			int64_t w = l->o.retry_period_ms +
			            (int64_t)(rand_r(&l->seed) %
			                      (unsigned)(l->o.retry_period_ms * 12 / 10 + 1));
			int64_t expiry = held_by_other_ms(l);
			if (e == AIOS_ERR_CONFLICT && expiry >= 0 && expiry < w)
				w = expiry;
			aios_kube_nap(&l->mu, &l->cv, &l->stop, w);
			continue;
		}
		set_leading(l, 1);
		aios_info("leader_started", "%s leads lease %s/%s", l->identity, l->ns, l->name);
		if (l->o.on_started)
			l->o.on_started(l->o.arg);
		/* Renew every retry period; give up once the renew deadline has passed since
		 * the renewTime of the last successful renewal (counted from just before it
		 * was written, so a follower dating its observation back to that renewTime
		 * never acts before we stop: docs/reliability.md). Each renewal's requests are
		 * bounded by what is left. */
		int64_t last_ok = l->body_ms;
		int64_t next = last_ok + l->o.retry_period_ms; /* a slow write delays no renewal */
		for (;;) {
			int64_t now = aios_now_ms();
			int64_t wait = next - now, left = last_ok + l->o.renew_deadline_ms - now;
			aios_kube_nap(&l->mu, &l->cv, &l->stop, wait < left ? wait : left);
			if (stopping(l))
				break;
			if (aios_now_ms() - last_ok >= l->o.renew_deadline_ms)
				break;
			if (try_acquire_or_renew(l, last_ok + l->o.renew_deadline_ms) == AIOS_OK) {
				last_ok = l->body_ms;
				next = last_ok + l->o.retry_period_ms;
				continue;
			}
			aios_warn("leader_renew_failed", "lease %s/%s: %s", l->ns, l->name,
			          aios_errmsg());
			next = aios_now_ms() + l->o.retry_period_ms;
		}
		keep_own(l, NULL);
		if (stopping(l))
			release(l);
		else
			aios_warn("leader_lost", "%s lost lease %s/%s", l->identity, l->ns,
			          l->name);
		set_leading(l, 0);
		if (l->o.on_stopped)
			l->o.on_stopped(l->o.arg);
	}
	return NULL;
}

enum aios_err aios_kube_leader_start(struct aios_kube_leader *l)
{
	if (l->running)
		return aios_fail(AIOS_ERR_INVALID, "leader election: already started");
	__atomic_store_n(&l->stop, 0, __ATOMIC_RELEASE);
	if (pthread_create(&l->th, NULL, campaign, l) != 0)
		return aios_fail(AIOS_ERR_IO, "leader election: cannot start its thread");
	l->running = 1;
	return AIOS_OK;
}

void aios_kube_leader_stop(struct aios_kube_leader *l)
{
	if (!l || !l->running)
		return;
	pthread_mutex_lock(&l->mu);
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->th, NULL);
	l->running = 0;
}

void aios_kube_leader_free(struct aios_kube_leader *l)
{
	if (!l)
		return;
	aios_kube_leader_stop(l);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l->obs_holder);
	free(l->obs_record);
	json_object_put(l->own);
	free(l);
}

int aios_kube_leader_is_leader(struct aios_kube_leader *l)
{
	return __atomic_load_n(&l->leading, __ATOMIC_ACQUIRE);
}

const char *aios_kube_leader_identity(const struct aios_kube_leader *l)
{
	return l->identity;
}
