/*
 * informer.c - reflector thread, store and owner index (see informer.h).
 *
 * The reflector loop, as client-go's ListAndWatch:
 *   LIST (paginated) -> replace the store, calling handlers for the differences;
 *   WATCH from the list's resourceVersion with bookmarks; a watch the server ends
 *   (timeoutSeconds) is resumed from the last resourceVersion seen;
 *   on 410 Gone, relist at once; on any other failure back off, then relist (the
 *   diff against the store means handlers see only real changes).
 *
 * Store: a chained hash table key -> entry {object, controller owner uid}; the owner
 * index is a second table keyed by owner uid whose chains link the same entries.
 * One mutex guards both. Handlers run without it (they may call _get).
 */
#include "kube/informer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "kube/kube_internal.h"
#include "kube/watch.h"

/* Backoff after a failed LIST or WATCH (client-go's reflector uses 800 ms .. 30 s):
 * short enough to recover quickly from an API server restart, long enough not to
 * hammer an overloaded one. Reset once a watch has run AIOS_INF_HEALTHY_MS. */
#define AIOS_INF_BACKOFF_MIN_MS 800
#define AIOS_INF_BACKOFF_MAX_MS 30000
#define AIOS_INF_HEALTHY_MS     10000
/* Watch length requested from the server: 5..10 min at random, so that many
 * informers do not reconnect in step (client-go's minWatchTimeout is 5 min). */
#define AIOS_INF_WATCH_MIN_S    300
#define AIOS_INF_WATCH_SPREAD_S 300
#define AIOS_INF_KEY_MAX        512 /* namespace (63) + '/' + name (253), with room */

/* ------------------------------------------------------------------------ */
/* shared objects                                                            */
/* ------------------------------------------------------------------------ */

static pthread_mutex_t obj_mu = PTHREAD_MUTEX_INITIALIZER;

struct json_object *aios_kube_obj_get(struct json_object *o)
{
	if (!o)
		return NULL;
	pthread_mutex_lock(&obj_mu);
	json_object_get(o);
	pthread_mutex_unlock(&obj_mu);
	return o;
}

void aios_kube_obj_put(struct json_object *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&obj_mu);
	json_object_put(o);
	pthread_mutex_unlock(&obj_mu);
}

char *aios_kube_obj_dump(struct json_object *o)
{
	pthread_mutex_lock(&obj_mu);
	char *s = aios_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	pthread_mutex_unlock(&obj_mu);
	return s;
}

void aios_kube_objs_free(struct json_object **objs, size_t n)
{
	if (!objs)
		return;
	pthread_mutex_lock(&obj_mu);
	for (size_t i = 0; i < n; i++)
		json_object_put(objs[i]);
	pthread_mutex_unlock(&obj_mu);
	free(objs);
}

/* ------------------------------------------------------------------------ */
/* store                                                                     */
/* ------------------------------------------------------------------------ */

struct sentry {
	char *key;
	uint64_t hash;
	struct json_object *obj;
	char *owner; /* controller ownerReference uid, or NULL */
	uint64_t ohash;
	struct sentry *next;  /* key chain */
	struct sentry *onext; /* owner chain */
	int seen;             /* relist mark */
};

struct aios_kube_informer {
	struct aios_kube_client *c;
	struct aios_kube_gvr gvr;
	char *ns, *label_selector, *field_selector;
	int64_t page_size;
	void (*transform)(struct json_object *obj);
	struct aios_kube_informer_handlers h;

	pthread_mutex_t mu;
	pthread_cond_t cv; /* synced, and stop for sleepers */
	struct sentry **keys, **owners;
	size_t nb, n;
	int synced;
	int stop; /* read by the watch's cancel check */
	int running;
	pthread_t th;
	uint64_t watch_restarts, relists, watches, lists;
	unsigned seed;
};

static struct sentry *st_find(struct aios_kube_informer *inf, const char *key)
{
	uint64_t h = aios_kube_hash(key);
	for (struct sentry *e = inf->keys[h % inf->nb]; e; e = e->next)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void owner_link(struct aios_kube_informer *inf, struct sentry *e)
{
	if (!e->owner)
		return;
	e->onext = inf->owners[e->ohash % inf->nb];
	inf->owners[e->ohash % inf->nb] = e;
}

static void owner_unlink(struct aios_kube_informer *inf, struct sentry *e)
{
	if (!e->owner)
		return;
	struct sentry **pp = &inf->owners[e->ohash % inf->nb];
	while (*pp && *pp != e)
		pp = &(*pp)->onext;
	if (*pp)
		*pp = e->onext;
	e->onext = NULL;
}

static char *controller_uid(struct json_object *obj)
{
	struct json_object *refs = aios_json_lookup(obj, "metadata.ownerReferences");
	if (!refs || !json_object_is_type(refs, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(refs); i++) {
		struct json_object *r = json_object_array_get_idx(refs, i);
		struct json_object *ctl = aios_json_lookup(r, "controller");
		const char *uid = aios_json_str(r, "uid");
		if (ctl && json_object_get_boolean(ctl) && uid)
			return aios_xstrdup(uid);
	}
	return NULL;
}

static void st_grow(struct aios_kube_informer *inf)
{
	size_t nb = inf->nb * 2;
	struct sentry **k = aios_xcalloc(nb, sizeof(*k));
	struct sentry **o = aios_xcalloc(nb, sizeof(*o));
	for (size_t i = 0; i < inf->nb; i++) {
		struct sentry *e = inf->keys[i];
		while (e) {
			struct sentry *nx = e->next;
			e->next = k[e->hash % nb];
			k[e->hash % nb] = e;
			if (e->owner) {
				e->onext = o[e->ohash % nb];
				o[e->ohash % nb] = e;
			}
			e = nx;
		}
	}
	free(inf->keys);
	free(inf->owners);
	inf->keys = k;
	inf->owners = o;
	inf->nb = nb;
}

/* Puts obj (a reference the store takes) under key; returns the previous object
 * (a reference the caller drops) or NULL. Called with inf->mu held. */
static struct json_object *st_put(struct aios_kube_informer *inf, const char *key,
                                  struct json_object *obj)
{
	struct sentry *e = st_find(inf, key);
	struct json_object *old = NULL;
	if (!e) {
		if (inf->n >= inf->nb)
			st_grow(inf);
		e = aios_xcalloc(1, sizeof(*e));
		e->key = aios_xstrdup(key);
		e->hash = aios_kube_hash(key);
		e->next = inf->keys[e->hash % inf->nb];
		inf->keys[e->hash % inf->nb] = e;
		inf->n++;
	} else {
		old = e->obj;
		owner_unlink(inf, e);
		free(e->owner);
		e->owner = NULL;
	}
	e->obj = obj;
	e->seen = 1;
	e->owner = controller_uid(obj);
	if (e->owner) {
		e->ohash = aios_kube_hash(e->owner);
		owner_link(inf, e);
	}
	return old;
}

/* Removes key; returns its object (a reference the caller drops) or NULL. */
static struct json_object *st_del(struct aios_kube_informer *inf, const char *key)
{
	uint64_t h = aios_kube_hash(key);
	struct sentry **pp = &inf->keys[h % inf->nb];
	while (*pp && !((*pp)->hash == h && strcmp((*pp)->key, key) == 0))
		pp = &(*pp)->next;
	struct sentry *e = *pp;
	if (!e)
		return NULL;
	*pp = e->next;
	owner_unlink(inf, e);
	struct json_object *obj = e->obj;
	free(e->owner);
	free(e->key);
	free(e);
	inf->n--;
	return obj;
}

/* ------------------------------------------------------------------------ */
/* API                                                                       */
/* ------------------------------------------------------------------------ */

static char *sdup(const char *s)
{
	return (s && *s) ? aios_xstrdup(s) : NULL;
}

enum aios_err aios_kube_informer_new(struct aios_kube_client *c, const struct aios_kube_gvr *gvr,
                                     const struct aios_kube_informer_opts *opts,
                                     const struct aios_kube_informer_handlers *h,
                                     struct aios_kube_informer **out)
{
	*out = NULL;
	if (!c || !gvr)
		return aios_fail(AIOS_ERR_INVALID,
		                 "informer: a client and a resource are required");
	struct aios_kube_informer *inf = aios_xcalloc(1, sizeof(*inf));
	inf->c = c;
	inf->gvr = *gvr;
	if (opts) {
		inf->ns = sdup(opts->ns);
		inf->label_selector = sdup(opts->label_selector);
		inf->field_selector = sdup(opts->field_selector);
		inf->page_size = opts->page_size;
		inf->transform = opts->transform;
	}
	if (inf->page_size <= 0)
		inf->page_size = 500;
	if (h)
		inf->h = *h;
	pthread_mutex_init(&inf->mu, NULL);
	aios_kube_cond_init(&inf->cv);
	inf->nb = 64;
	inf->keys = aios_xcalloc(inf->nb, sizeof(*inf->keys));
	inf->owners = aios_xcalloc(inf->nb, sizeof(*inf->owners));
	inf->seed = (unsigned)aios_now_ns() ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)inf;
	*out = inf;
	return AIOS_OK;
}

static int stopping(struct aios_kube_informer *inf)
{
	return __atomic_load_n(&inf->stop, __ATOMIC_ACQUIRE) || aios_shutdown_requested();
}

static int64_t jitter(struct aios_kube_informer *inf, int64_t ms)
{
	/* +-25 % */
	int64_t span = ms / 2;
	if (span <= 0)
		return ms;
	return ms - ms / 4 + (int64_t)(rand_r(&inf->seed) % (unsigned)(span + 1));
}

/* LIST, then make the store equal to the result, calling handlers for differences.
 * *rv gets the list's resourceVersion (caller frees). */
static enum aios_err relist(struct aios_kube_informer *inf, char **rv)
{
	struct aios_kube_ref r = {&inf->gvr, inf->ns, NULL, NULL};
	struct aios_kube_list_opts lo = {inf->label_selector, inf->field_selector, inf->page_size,
	                                 NULL, NULL};
	struct json_object *list;
	enum aios_err e = aios_kube_list_all(inf->c, &r, &lo, &list);
	if (e)
		return e;
	const char *lrv = aios_json_str(list, "metadata.resourceVersion");
	*rv = lrv ? aios_xstrdup(lrv) : NULL;
	struct json_object *items = aios_json_lookup(list, "items");
	size_t n = items ? json_object_array_length(items) : 0;
	/* Own every item outright before the list goes: from now on they are shared. */
	struct json_object **objs = aios_xcalloc(n + 1, sizeof(*objs));
	/* Items of a List come without kind and apiVersion; give them back, as the
	 * watch's objects carry them. */
	const char *lkind = aios_json_str(list, "kind");
	const char *lapi = aios_json_str(list, "apiVersion");
	size_t kl = lkind ? strlen(lkind) : 0;
	for (size_t i = 0; i < n; i++) {
		objs[i] = json_object_get(json_object_array_get_idx(items, i));
		if (kl > 4 && strcmp(lkind + kl - 4, "List") == 0 &&
		    !aios_json_lookup(objs[i], "kind"))
			json_object_object_add(objs[i], "kind",
			                       json_object_new_string_len(lkind, (int)kl - 4));
		if (lapi && !aios_json_lookup(objs[i], "apiVersion"))
			json_object_object_add(objs[i], "apiVersion", json_object_new_string(lapi));
		if (inf->transform)
			inf->transform(objs[i]);
	}
	json_object_put(list);

	/* Apply under the lock, collecting the handler calls to make after it. */
	struct change {
		int kind; /* 0 add, 1 update, 2 delete */
		struct json_object *old, *cur;
	};
	struct change *ch = aios_xcalloc(n + inf->n + 1, sizeof(*ch));
	size_t nch = 0;
	char key[AIOS_INF_KEY_MAX];
	pthread_mutex_lock(&inf->mu);
	for (size_t i = 0; i < inf->nb; i++)
		for (struct sentry *s = inf->keys[i]; s; s = s->next)
			s->seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (aios_kube_key(objs[i], key, sizeof(key)) != AIOS_OK) {
			aios_warn("informer_bad_object", "%s: skipping an object: %s",
			          inf->gvr.resource, aios_errmsg());
			aios_kube_obj_put(objs[i]);
			continue;
		}
		struct json_object *old = st_put(inf, key, aios_kube_obj_get(objs[i]));
		const char *orv = old ? aios_json_str(old, "metadata.resourceVersion") : NULL;
		const char *nrv = aios_json_str(objs[i], "metadata.resourceVersion");
		if (!old)
			ch[nch++] = (struct change){0, NULL, objs[i]};
		else if (!orv || !nrv || strcmp(orv, nrv) != 0)
			ch[nch++] = (struct change){1, old, objs[i]};
		else {
			aios_kube_obj_put(old);
			aios_kube_obj_put(objs[i]);
		}
	}
	/* What the list no longer holds was deleted while we were not watching. */
	for (size_t i = 0; i < inf->nb; i++) {
		struct sentry *s = inf->keys[i];
		while (s) {
			struct sentry *nx = s->next;
			if (!s->seen) {
				char *k = aios_xstrdup(s->key);
				ch[nch++] = (struct change){2, NULL, st_del(inf, k)};
				free(k);
			}
			s = nx;
		}
	}
	int first = !inf->synced;
	pthread_mutex_unlock(&inf->mu);
	for (size_t i = 0; i < nch; i++) {
		if (ch[i].kind == 0 && inf->h.on_add)
			inf->h.on_add(inf->h.arg, ch[i].cur);
		else if (ch[i].kind == 1 && inf->h.on_update)
			inf->h.on_update(inf->h.arg, ch[i].old, ch[i].cur);
		else if (ch[i].kind == 2 && inf->h.on_delete)
			inf->h.on_delete(inf->h.arg, ch[i].cur);
		aios_kube_obj_put(ch[i].old);
		aios_kube_obj_put(ch[i].cur);
	}
	free(ch);
	free(objs);
	pthread_mutex_lock(&inf->mu);
	inf->synced = 1;
	if (!first)
		inf->relists++;
	inf->lists++;
	pthread_cond_broadcast(&inf->cv);
	pthread_mutex_unlock(&inf->mu);
	return AIOS_OK;
}

static enum aios_err on_event(void *arg, enum aios_kube_event_type t, struct json_object *obj)
{
	struct aios_kube_informer *inf = arg;
	if (t == AIOS_KUBE_BOOKMARK)
		return AIOS_OK;
	char key[AIOS_INF_KEY_MAX];
	if (aios_kube_key(obj, key, sizeof(key)) != AIOS_OK) {
		aios_warn("informer_bad_object", "%s: skipping an event: %s", inf->gvr.resource,
		          aios_errmsg());
		return AIOS_OK;
	}
	if (inf->transform)
		inf->transform(obj); /* not shared yet: only this watch holds it */
	struct json_object *old;
	pthread_mutex_lock(&inf->mu);
	if (t == AIOS_KUBE_DELETED)
		old = st_del(inf, key);
	else
		old = st_put(inf, key, aios_kube_obj_get(obj));
	pthread_mutex_unlock(&inf->mu);
	if (t == AIOS_KUBE_DELETED) {
		if (inf->h.on_delete)
			inf->h.on_delete(inf->h.arg, obj);
	} else if (old) {
		if (inf->h.on_update)
			inf->h.on_update(inf->h.arg, old, obj);
	} else if (inf->h.on_add) {
		inf->h.on_add(inf->h.arg, obj);
	}
	aios_kube_obj_put(old);
	return AIOS_OK;
}

static void *reflector(void *arg)
{
	struct aios_kube_informer *inf = arg;
	int64_t backoff = AIOS_INF_BACKOFF_MIN_MS;
	char *rv = NULL;
	int need_list = 1;
	while (!stopping(inf)) {
		if (need_list) {
			free(rv);
			rv = NULL;
			enum aios_err e = relist(inf, &rv);
			if (e) {
				if (stopping(inf))
					break;
				aios_warn("informer_list_failed",
				          "%s: list failed (%s), retrying in ~%lld ms",
				          inf->gvr.resource, aios_errmsg(), (long long)backoff);
				aios_kube_nap(&inf->mu, &inf->cv, &inf->stop, jitter(inf, backoff));
				backoff = backoff * 2 > AIOS_INF_BACKOFF_MAX_MS
				              ? AIOS_INF_BACKOFF_MAX_MS
				              : backoff * 2;
				continue;
			}
			need_list = 0;
		}
		struct aios_kube_ref r = {&inf->gvr, inf->ns, NULL, NULL};
		struct aios_kube_watch_opts wo = {
		    inf->label_selector,
		    inf->field_selector,
		    rv,
		    1,
		    AIOS_INF_WATCH_MIN_S + (int)(rand_r(&inf->seed) % AIOS_INF_WATCH_SPREAD_S),
		    &inf->stop};
		pthread_mutex_lock(&inf->mu);
		if (inf->watches++ > 0)
			inf->watch_restarts++;
		pthread_mutex_unlock(&inf->mu);
		int64_t t0 = aios_now_ms();
		char *last = NULL;
		enum aios_err e = aios_kube_watch(inf->c, &r, &wo, on_event, inf, &last);
		if (last) {
			free(rv);
			rv = last;
		}
		if (aios_now_ms() - t0 >= AIOS_INF_HEALTHY_MS)
			backoff = AIOS_INF_BACKOFF_MIN_MS;
		if (e == AIOS_OK)
			continue; /* the server ended the watch: resume from rv */
		if (stopping(inf))
			break;
		need_list = 1;
		if (e == AIOS_ERR_GONE) {
			aios_info("informer_relist", "%s: %s; relisting", inf->gvr.resource,
			          aios_errmsg());
			continue;
		}
		aios_warn("informer_watch_failed", "%s: watch failed (%s), relisting in ~%lld ms",
		          inf->gvr.resource, aios_errmsg(), (long long)backoff);
		aios_kube_nap(&inf->mu, &inf->cv, &inf->stop, jitter(inf, backoff));
		backoff =
		    backoff * 2 > AIOS_INF_BACKOFF_MAX_MS ? AIOS_INF_BACKOFF_MAX_MS : backoff * 2;
	}
	free(rv);
	return NULL;
}

enum aios_err aios_kube_informer_start(struct aios_kube_informer *inf)
{
	if (inf->running)
		return aios_fail(AIOS_ERR_INVALID, "informer %s: already started",
		                 inf->gvr.resource);
	__atomic_store_n(&inf->stop, 0, __ATOMIC_RELEASE);
	if (pthread_create(&inf->th, NULL, reflector, inf) != 0)
		return aios_fail(AIOS_ERR_IO, "informer %s: cannot start its thread",
		                 inf->gvr.resource);
	inf->running = 1;
	return AIOS_OK;
}

void aios_kube_informer_stop(struct aios_kube_informer *inf)
{
	if (!inf || !inf->running)
		return;
	pthread_mutex_lock(&inf->mu);
	__atomic_store_n(&inf->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&inf->cv);
	pthread_mutex_unlock(&inf->mu);
	pthread_join(inf->th, NULL);
	inf->running = 0;
}

void aios_kube_informer_free(struct aios_kube_informer *inf)
{
	if (!inf)
		return;
	aios_kube_informer_stop(inf);
	for (size_t i = 0; i < inf->nb; i++) {
		struct sentry *e = inf->keys[i];
		while (e) {
			struct sentry *nx = e->next;
			aios_kube_obj_put(e->obj);
			free(e->owner);
			free(e->key);
			free(e);
			e = nx;
		}
	}
	free(inf->keys);
	free(inf->owners);
	free(inf->ns);
	free(inf->label_selector);
	free(inf->field_selector);
	pthread_cond_destroy(&inf->cv);
	pthread_mutex_destroy(&inf->mu);
	free(inf);
}

int aios_kube_informer_has_synced(struct aios_kube_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	int s = inf->synced;
	pthread_mutex_unlock(&inf->mu);
	return s;
}

enum aios_err aios_kube_informer_wait_synced(struct aios_kube_informer *inf, int64_t timeout_ms)
{
	int64_t until = aios_now_ms() + timeout_ms;
	enum aios_err e = AIOS_OK;
	pthread_mutex_lock(&inf->mu);
	while (!inf->synced) {
		if (aios_shutdown_requested() || inf->stop) {
			e = aios_fail(AIOS_ERR_CANCELLED, "informer %s: stopped before it synced",
			              inf->gvr.resource);
			break;
		}
		int64_t now = aios_now_ms();
		if (now >= until) {
			e = aios_fail(AIOS_ERR_TIMEOUT, "informer %s: not synced after %lld ms",
			              inf->gvr.resource, (long long)timeout_ms);
			break;
		}
		int64_t w = until - now < 200 ? until : now + 200;
		struct timespec ts = {(time_t)(w / 1000), (long)(w % 1000) * 1000000L};
		pthread_cond_timedwait(&inf->cv, &inf->mu, &ts);
	}
	pthread_mutex_unlock(&inf->mu);
	return e;
}

struct json_object *aios_kube_informer_get(struct aios_kube_informer *inf, const char *key)
{
	pthread_mutex_lock(&inf->mu);
	struct sentry *e = st_find(inf, key);
	struct json_object *o = e ? aios_kube_obj_get(e->obj) : NULL;
	pthread_mutex_unlock(&inf->mu);
	return o;
}

struct kv {
	const char *key;
	struct json_object *obj;
};

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

/* Collects entries (all, or those owned by owner) sorted by key. */
static struct json_object **collect(struct aios_kube_informer *inf, const char *owner, size_t *n)
{
	pthread_mutex_lock(&inf->mu);
	struct kv *kv = aios_xcalloc(inf->n + 1, sizeof(*kv));
	size_t k = 0;
	if (owner) {
		uint64_t oh = aios_kube_hash(owner);
		for (struct sentry *e = inf->owners[oh % inf->nb]; e; e = e->onext)
			if (e->ohash == oh && strcmp(e->owner, owner) == 0)
				kv[k++] = (struct kv){e->key, e->obj};
	} else {
		for (size_t i = 0; i < inf->nb; i++)
			for (struct sentry *e = inf->keys[i]; e; e = e->next)
				kv[k++] = (struct kv){e->key, e->obj};
	}
	qsort(kv, k, sizeof(*kv), kv_cmp);
	struct json_object **out = aios_xcalloc(k + 1, sizeof(*out));
	pthread_mutex_lock(&obj_mu);
	for (size_t i = 0; i < k; i++)
		out[i] = json_object_get(kv[i].obj);
	pthread_mutex_unlock(&obj_mu);
	pthread_mutex_unlock(&inf->mu);
	free(kv);
	*n = k;
	return out;
}

struct json_object **aios_kube_informer_list(struct aios_kube_informer *inf, size_t *n)
{
	return collect(inf, NULL, n);
}

struct json_object **aios_kube_informer_by_owner(struct aios_kube_informer *inf,
                                                 const char *owner_uid, size_t *n)
{
	return collect(inf, owner_uid ? owner_uid : "", n);
}

uint64_t aios_kube_informer_watch_restarts(struct aios_kube_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	uint64_t v = inf->watch_restarts;
	pthread_mutex_unlock(&inf->mu);
	return v;
}

uint64_t aios_kube_informer_relists(struct aios_kube_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	uint64_t v = inf->relists;
	pthread_mutex_unlock(&inf->mu);
	return v;
}

size_t aios_kube_informer_len(struct aios_kube_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	size_t v = inf->n;
	pthread_mutex_unlock(&inf->mu);
	return v;
}

void aios_kube_strip_managed_fields(struct json_object *obj)
{
	struct json_object *md = aios_json_lookup(obj, "metadata");
	if (md && json_object_is_type(md, json_type_object))
		json_object_object_del(md, "managedFields");
}
