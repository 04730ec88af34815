/*
 * events.c - best-effort core/v1 Event recorder with client-go-style aggregation
 * (see events.h). The recent-events cache is a small ring (AIOS_EV_CACHE entries):
 * an identical event within AIOS_EV_WINDOW_S patches the first one's count.
 */
#include "kube/events.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"

#define AIOS_EV_CACHE    256  /* events remembered for aggregation */
#define AIOS_EV_WINDOW_S 600  /* 10 min, client-go's aggregation window */
#define AIOS_EV_MSG_MAX  1024 /* the API server caps messages at 1 KiB */

struct ev_slot {
	char *sig; /* uid|type|reason|message */
	char *ns, *name;
	int64_t count;
	time_t first;
};

struct aios_kube_recorder {
	struct aios_kube_client *c;
	char *component;
	char host[256];
	pthread_mutex_t mu;
	struct ev_slot slots[AIOS_EV_CACHE];
	size_t next;
};

struct aios_kube_recorder *aios_kube_recorder_new(struct aios_kube_client *c, const char *component)
{
	struct aios_kube_recorder *r = aios_xcalloc(1, sizeof(*r));
	r->c = c;
	r->component = aios_xstrdup(component ? component : "aios");
	if (gethostname(r->host, sizeof(r->host) - 1) != 0)
		snprintf(r->host, sizeof(r->host), "unknown");
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void aios_kube_recorder_free(struct aios_kube_recorder *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < AIOS_EV_CACHE; i++) {
		free(r->slots[i].sig);
		free(r->slots[i].ns);
		free(r->slots[i].name);
	}
	pthread_mutex_destroy(&r->mu);
	free(r->component);
	free(r);
}

static void add_str(struct json_object *o, const char *path, const char *v)
{
	if (v)
		aios_json_set(o, path, json_object_new_string(v));
}

void aios_kube_event(struct aios_kube_recorder *r, struct json_object *obj, const char *type,
                     const char *reason, const char *fmt, ...)
{
	if (!r || !obj)
		return;
	char msg[AIOS_EV_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *ns = aios_json_str(obj, "metadata.namespace");
	const char *name = aios_json_str(obj, "metadata.name");
	const char *uid = aios_json_str(obj, "metadata.uid");
	if (!name)
		return;
	if (!ns || !*ns)
		ns = "default";
	char *sig = aios_xasprintf("%s|%s|%s|%s|%s", uid ? uid : name, type, reason, msg, ns);
	time_t now = time(NULL);
	char ts[32];
	aios_rfc3339(now, ts, sizeof(ts));

	/* Aggregate: a repeat within the window bumps the count of the first Event. */
	pthread_mutex_lock(&r->mu);
	struct ev_slot *hit = NULL;
	for (size_t i = 0; i < AIOS_EV_CACHE; i++)
		if (r->slots[i].sig && strcmp(r->slots[i].sig, sig) == 0 &&
		    now - r->slots[i].first < AIOS_EV_WINDOW_S) {
			hit = &r->slots[i];
			break;
		}
	char *ev_ns = NULL, *ev_name = NULL;
	int64_t count = 1;
	if (hit) {
		count = ++hit->count;
		ev_ns = aios_xstrdup(hit->ns);
		ev_name = aios_xstrdup(hit->name);
	}
	pthread_mutex_unlock(&r->mu);

	if (hit) {
		struct json_object *p = json_object_new_object();
		json_object_object_add(p, "count", json_object_new_int64(count));
		json_object_object_add(p, "lastTimestamp", json_object_new_string(ts));
		struct aios_kube_ref ref = aios_kube_ref(&aios_kube_events, ev_ns, ev_name);
		if (aios_kube_patch(r->c, &ref, AIOS_KUBE_PATCH_MERGE, p, NULL, NULL) != AIOS_OK)
			aios_warn("event_failed", "event %s on %s/%s: %s", reason, ns, name,
			          aios_errmsg());
		json_object_put(p);
		free(ev_ns);
		free(ev_name);
		free(sig);
		return;
	}

	char evname[320];
	snprintf(evname, sizeof(evname), "%.200s.%llx", name,
	         (unsigned long long)aios_now_ns() ^ ((unsigned long long)getpid() << 32));
	struct json_object *e = json_object_new_object();
	add_str(e, "apiVersion", "v1");
	add_str(e, "kind", "Event");
	add_str(e, "metadata.name", evname);
	add_str(e, "metadata.namespace", ns);
	add_str(e, "involvedObject.kind", aios_json_str(obj, "kind"));
	add_str(e, "involvedObject.apiVersion", aios_json_str(obj, "apiVersion"));
	add_str(e, "involvedObject.namespace", ns);
	add_str(e, "involvedObject.name", name);
	add_str(e, "involvedObject.uid", uid);
	add_str(e, "involvedObject.resourceVersion",
	        aios_json_str(obj, "metadata.resourceVersion"));
	add_str(e, "reason", reason);
	add_str(e, "message", msg);
	add_str(e, "type", type);
	add_str(e, "source.component", r->component);
	add_str(e, "source.host", r->host);
	add_str(e, "firstTimestamp", ts);
	add_str(e, "lastTimestamp", ts);
	aios_json_set(e, "count", json_object_new_int64(1));
	add_str(e, "reportingComponent", r->component);
	add_str(e, "reportingInstance", r->host);
	struct aios_kube_ref ref = aios_kube_ref(&aios_kube_events, ns, NULL);
	if (aios_kube_create(r->c, &ref, e, NULL, NULL) != AIOS_OK) {
		aios_warn("event_failed", "event %s on %s/%s: %s", reason, ns, name, aios_errmsg());
		free(sig);
	} else {
		pthread_mutex_lock(&r->mu);
		struct ev_slot *s = &r->slots[r->next];
		r->next = (r->next + 1) % AIOS_EV_CACHE;
		free(s->sig);
		free(s->ns);
		free(s->name);
		s->sig = sig;
		s->ns = aios_xstrdup(ns);
		s->name = aios_xstrdup(evname);
		s->count = 1;
		s->first = now;
		pthread_mutex_unlock(&r->mu);
	}
	json_object_put(e);
}
