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
#ifdef __GLIBC__
#include <malloc.h>
#endif
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
/* LIST page size: a page is held as a json-c tree while it is stored, and an object
 * with its managedFields is ~200 json-c object nodes (~150 KiB as a tree), so 50
 * objects bound that to ~8 MB (measured: docs/internals/kube.md). */
#define AIOS_INF_PAGE_SIZE 50

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

/*
 * An entry holds its object serialized (compact JSON, after the transform), not as a
 * json-c tree: a json-c object node costs ~0.7 KiB (each carries a 16-slot hash table),
 * so a cached TrainingJob of ~14 object nodes took ~12 KiB as a tree and takes ~1.3 KiB
 * as text. Readers get a fresh parse (docs/internals/kube.md, "Informer").
 *
 * data is one allocation: "resourceVersion\0owner uid\0json\0"; owner is "" when the
 * object has no controller ownerReference. The key lives in the entry itself.
 */
struct sentry {
	struct sentry *next;  /* key chain */
	struct sentry *onext; /* owner chain */
	uint64_t hash, ohash;
	char *data;
	uint32_t owner_off, json_off;
	int seen; /* relist mark */
	char key[];
};

static const char *e_rv(const struct sentry *e)
{
	return e->data;
}

static const char *e_owner(const struct sentry *e)
{
	return e->data[e->owner_off] ? e->data + e->owner_off : NULL;
}

static const char *e_json(const struct sentry *e)
{
	return e->data + e->json_off;
}

/* Bytes the entry's data takes (what pack() reported as its size). */
static size_t e_size(const struct sentry *e)
{
	return e->json_off + strlen(e_json(e)) + 1;
}

/* A new tree parsed from the entry (the caller's; NULL only if the text is corrupt,
 * which cannot happen for text json-c wrote). */
static struct json_object *e_parse(const struct sentry *e)
{
	struct json_object *o = json_tokener_parse(e_json(e));
	if (!o)
		aios_error("informer_corrupt", "cannot parse the cached copy of %s", e->key);
	return o;
}

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
	size_t bytes; /* sum of the entries' data */
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
	if (!e_owner(e))
		return;
	e->onext = inf->owners[e->ohash % inf->nb];
	inf->owners[e->ohash % inf->nb] = e;
}

static void owner_unlink(struct aios_kube_informer *inf, struct sentry *e)
{
	if (!e_owner(e))
		return;
	struct sentry **pp = &inf->owners[e->ohash % inf->nb];
	while (*pp && *pp != e)
		pp = &(*pp)->onext;
	if (*pp)
		*pp = e->onext;
	e->onext = NULL;
}

/* The controller ownerReference's uid (borrowed from obj), or "". */
static const char *controller_uid(struct json_object *obj)
{
	struct json_object *refs = aios_json_lookup(obj, "metadata.ownerReferences");
	if (!refs || !json_object_is_type(refs, json_type_array))
		return "";
	for (size_t i = 0; i < json_object_array_length(refs); i++) {
		struct json_object *r = json_object_array_get_idx(refs, i);
		struct json_object *ctl = aios_json_lookup(r, "controller");
		const char *uid = aios_json_str(r, "uid");
		if (ctl && json_object_get_boolean(ctl) && uid)
			return uid;
	}
	return "";
}

/* Serializes obj (not yet shared: only the caller holds it) into an entry's data. */
static char *pack(struct json_object *obj, uint32_t *owner_off, uint32_t *json_off, size_t *size)
{
	const char *rv = aios_json_str(obj, "metadata.resourceVersion");
	const char *owner = controller_uid(obj);
	size_t jl = 0;
	const char *js = json_object_to_json_string_length(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &jl);
	size_t rl = rv ? strlen(rv) : 0, ol = strlen(owner);
	*size = rl + 1 + ol + 1 + jl + 1;
	char *d = aios_xmalloc(*size);
	if (rl)
		memcpy(d, rv, rl);
	d[rl] = 0;
	memcpy(d + rl + 1, owner, ol + 1);
	memcpy(d + rl + 1 + ol + 1, js, jl + 1);
	*owner_off = (uint32_t)(rl + 1);
	*json_off = (uint32_t)(rl + 1 + ol + 1);
	return d;
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
			if (e_owner(e)) {
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

/* What st_put found under the key. */
enum put_result { PUT_NEW, PUT_CHANGED, PUT_SAME /* same resourceVersion */ };

/* Stores obj's text under key (obj stays the caller's). If the key held an object and
 * old is not NULL, *old gets that object parsed (the caller's) -- unless the result is
 * PUT_SAME and skip_same is set. Called with inf->mu held. */
static enum put_result st_put(struct aios_kube_informer *inf, const char *key,
                              struct json_object *obj, struct json_object **old, int skip_same)
{
	uint32_t ooff, joff;
	size_t size;
	char *d = pack(obj, &ooff, &joff, &size);
	struct sentry *e = st_find(inf, key);
	enum put_result r = PUT_NEW;
	if (old)
		*old = NULL;
	if (!e) {
		if (inf->n >= inf->nb)
			st_grow(inf);
		size_t kl = strlen(key);
		e = aios_xcalloc(1, sizeof(*e) + kl + 1);
		memcpy(e->key, key, kl + 1);
		e->hash = aios_kube_hash(key);
		e->next = inf->keys[e->hash % inf->nb];
		inf->keys[e->hash % inf->nb] = e;
		inf->n++;
	} else {
		r = (!*e_rv(e) || !*d || strcmp(e_rv(e), d) != 0) ? PUT_CHANGED : PUT_SAME;
		if (old && !(r == PUT_SAME && skip_same))
			*old = e_parse(e);
		owner_unlink(inf, e);
		inf->bytes -= e_size(e);
		free(e->data);
	}
	e->data = d;
	e->owner_off = ooff;
	e->json_off = joff;
	e->seen = 1;
	inf->bytes += size;
	if (e_owner(e)) {
		e->ohash = aios_kube_hash(e_owner(e));
		owner_link(inf, e);
	}
	return r;
}

static void st_free_entry(struct sentry *e)
{
	free(e->data);
	free(e);
}

/* Removes key; returns its object parsed (the caller's) or NULL if absent. */
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
	struct json_object *obj = e_parse(e);
	inf->bytes -= e_size(e);
	st_free_entry(e);
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
		inf->page_size = AIOS_INF_PAGE_SIZE;
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

/* A handler call a relist page owes, made once the store lock is released. */
struct change {
	int kind; /* 0 add, 1 update, 2 delete */
	struct json_object *old, *cur;
};

static void call_handlers(struct aios_kube_informer *inf, struct change *ch, size_t nch)
{
	for (size_t i = 0; i < nch; i++) {
		if (ch[i].kind == 0 && inf->h.on_add)
			inf->h.on_add(inf->h.arg, ch[i].cur);
		else if (ch[i].kind == 1 && inf->h.on_update)
			inf->h.on_update(inf->h.arg, ch[i].old, ch[i].cur);
		else if (ch[i].kind == 2 && inf->h.on_delete)
			inf->h.on_delete(inf->h.arg, ch[i].cur);
		aios_kube_obj_put(ch[i].old); /* a handler may have taken a reference */
		aios_kube_obj_put(ch[i].cur);
	}
}

/* Stores the items of one LIST page, then calls the handlers for what changed. */
static void apply_page(struct aios_kube_informer *inf, struct json_object *page)
{
	struct json_object *items = aios_json_lookup(page, "items");
	size_t n = items && json_object_is_type(items, json_type_array)
	               ? json_object_array_length(items)
	               : 0;
	/* Items of a List come without kind and apiVersion; give them back, as the
	 * watch's objects carry them. */
	const char *lkind = aios_json_str(page, "kind");
	const char *lapi = aios_json_str(page, "apiVersion");
	size_t kl = lkind ? strlen(lkind) : 0;
	struct change *ch = aios_xcalloc(n + 1, sizeof(*ch));
	size_t nch = 0;
	char key[AIOS_INF_KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_get(json_object_array_get_idx(items, i));
		if (kl > 4 && strcmp(lkind + kl - 4, "List") == 0 && !aios_json_lookup(o, "kind"))
			json_object_object_add(o, "kind",
			                       json_object_new_string_len(lkind, (int)kl - 4));
		if (lapi && !aios_json_lookup(o, "apiVersion"))
			json_object_object_add(o, "apiVersion", json_object_new_string(lapi));
		if (inf->transform)
			inf->transform(o);
		if (aios_kube_key(o, key, sizeof(key)) != AIOS_OK) {
			aios_warn("informer_bad_object", "%s: skipping an object: %s",
			          inf->gvr.resource, aios_errmsg());
			json_object_put(o);
			continue;
		}
		struct json_object *old;
		pthread_mutex_lock(&inf->mu);
		enum put_result pr = st_put(inf, key, o, &old, 1);
		pthread_mutex_unlock(&inf->mu);
		if (pr == PUT_NEW)
			ch[nch++] = (struct change){0, NULL, o};
		else if (pr == PUT_CHANGED)
			ch[nch++] = (struct change){1, old, o};
		else
			json_object_put(o); /* unchanged: no handler call */
	}
	call_handlers(inf, ch, nch);
	free(ch);
}

/* LIST page by page (inf->page_size objects each, so that only one page is ever held
 * as a tree), making the store equal to the result and calling handlers for the
 * differences. Every page comes from the same snapshot (continue tokens); the store
 * holds a mix of old and new objects until the last page, like a burst of watch
 * events. *rv gets the snapshot's resourceVersion (caller frees). */
static enum aios_err relist(struct aios_kube_informer *inf, char **rv)
{
	*rv = NULL;
	struct aios_kube_ref r = {&inf->gvr, inf->ns, NULL, NULL};
	struct aios_kube_list_opts lo = {inf->label_selector, inf->field_selector, inf->page_size,
	                                 NULL, NULL};
	pthread_mutex_lock(&inf->mu);
	for (size_t i = 0; i < inf->nb; i++)
		for (struct sentry *s = inf->keys[i]; s; s = s->next)
			s->seen = 0;
	pthread_mutex_unlock(&inf->mu);
	char *cont = NULL;
	for (;;) {
		struct json_object *page;
		lo.continue_token = cont;
		enum aios_err e = aios_kube_list(inf->c, &r, &lo, &page);
		free(cont);
		cont = NULL;
		if (e) {
			free(*rv);
			*rv = NULL;
			return e;
		}
		const char *prv = aios_json_str(page, "metadata.resourceVersion");
		if (prv) {
			free(*rv);
			*rv = aios_xstrdup(prv);
		}
		const char *next = aios_json_str(page, "metadata.continue");
		if (next && *next)
			cont = aios_xstrdup(next);
		apply_page(inf, page);
		json_object_put(page);
		if (!cont)
			break;
	}
	/* What the list no longer holds was deleted while we were not watching. */
	struct change *ch = NULL;
	size_t nch = 0;
	pthread_mutex_lock(&inf->mu);
	for (size_t i = 0; i < inf->nb; i++) {
		struct sentry *s = inf->keys[i];
		while (s) {
			struct sentry *nx = s->next;
			if (!s->seen) {
				ch = aios_xrealloc(ch, (nch + 1) * sizeof(*ch));
				char *k = aios_xstrdup(s->key);
				ch[nch++] = (struct change){2, NULL, st_del(inf, k)};
				free(k);
			}
			s = nx;
		}
	}
	int first = !inf->synced;
	pthread_mutex_unlock(&inf->mu);
	call_handlers(inf, ch, nch);
	free(ch);
#ifdef __GLIBC__
	/* The pages' trees are gone, but glibc keeps the freed pages between the cached
	 * texts resident; hand them back (a relist is rare: start, 410, reconnect). */
	malloc_trim(0);
#endif
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
	struct json_object *old = NULL;
	pthread_mutex_lock(&inf->mu);
	if (t == AIOS_KUBE_DELETED)
		old = st_del(inf, key);
	else
		(void)st_put(inf, key, obj, &old, 0);
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
	aios_kube_obj_put(old); /* a handler may have taken a reference */
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
			st_free_entry(e);
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
	struct json_object *o = e ? e_parse(e) : NULL;
	pthread_mutex_unlock(&inf->mu);
	return o;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp((*(struct sentry *const *)a)->key, (*(struct sentry *const *)b)->key);
}

/* Parses entries (all, or those owned by owner) sorted by key. */
static struct json_object **collect(struct aios_kube_informer *inf, const char *owner, size_t *n)
{
	pthread_mutex_lock(&inf->mu);
	struct sentry **es = aios_xcalloc(inf->n + 1, sizeof(*es));
	size_t k = 0;
	if (owner) {
		uint64_t oh = aios_kube_hash(owner);
		for (struct sentry *e = inf->owners[oh % inf->nb]; e; e = e->onext)
			if (e->ohash == oh && strcmp(e_owner(e), owner) == 0)
				es[k++] = e;
	} else {
		for (size_t i = 0; i < inf->nb; i++)
			for (struct sentry *e = inf->keys[i]; e; e = e->next)
				es[k++] = e;
	}
	qsort(es, k, sizeof(*es), entry_cmp);
	struct json_object **out = aios_xcalloc(k + 1, sizeof(*out));
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		struct json_object *o = e_parse(es[i]);
		if (o)
			out[m++] = o;
	}
	pthread_mutex_unlock(&inf->mu);
	free(es);
	*n = m;
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

size_t aios_kube_informer_bytes(struct aios_kube_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	size_t v = inf->bytes;
	pthread_mutex_unlock(&inf->mu);
	return v;
}

void aios_kube_strip_managed_fields(struct json_object *obj)
{
	struct json_object *md = aios_json_lookup(obj, "metadata");
	if (md && json_object_is_type(md, json_type_object))
		json_object_object_del(md, "managedFields");
}
