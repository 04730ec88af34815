/*
 * informer.h - a reflector thread and its store, after client-go's shared informer.
 *
 * The reflector LISTs (paginated) then WATCHes with bookmarks from the list's
 * resourceVersion, applying each event to a thread-safe store keyed "namespace/name"
 * and calling the handlers. On 410 Gone (or when a resume cannot continue, e.g. after
 * the API server restarted) it relists, replacing the store and calling add/update/
 * delete for the differences. Other errors back off with jitter: 800 ms doubling to
 * 30 s, +-25 % jitter, reset after a watch that ran >= 10 s (constants and reasons in
 * docs/internals/kube.md). Every watch ends server-side after 5-10 min (random, as
 * client-go does) to spread reconnections.
 *
 * The store keeps each object as compact JSON text (after the transform), not as a
 * json-c tree (~10x smaller: docs/internals/kube.md). Every read (_get, _list,
 * _by_owner) parses a NEW tree that belongs to the caller alone; drop it with
 * aios_kube_obj_put (or aios_kube_objs_free). Reading the same key twice gives two
 * trees. A read costs a parse (~10-30 us for a trimmed pod or job): cache in a
 * variable rather than reading the same key in a loop.
 *
 * Handlers run on the reflector thread, one at a time, in event order; they must not
 * block for long (enqueue a key and return). Their object arguments are borrowed for
 * the call and must not be modified (aios_kube_obj_get to keep one; treat it as
 * shared: json-c's reference counts are not atomic, so take and drop references to
 * such objects only through aios_kube_obj_get()/aios_kube_obj_put(), and serialize
 * them only with aios_kube_obj_dump()).
 */
#ifndef AIOS_KUBE_INFORMER_H
#define AIOS_KUBE_INFORMER_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "kube/client.h"

/* Reference counting of shared (store) objects, under one process-wide lock. */
struct json_object *aios_kube_obj_get(struct json_object *o);
void aios_kube_obj_put(struct json_object *o);
/* Serializes a shared object (compact JSON). Caller frees. */
char *aios_kube_obj_dump(struct json_object *o);

struct aios_kube_informer_handlers {
	void (*on_add)(void *arg, struct json_object *obj);
	void (*on_update)(void *arg, struct json_object *old_obj, struct json_object *new_obj);
	void (*on_delete)(void *arg, struct json_object *obj); /* the last state known */
	void *arg;
};

struct aios_kube_informer_opts {
	const char *ns;             /* one namespace, or NULL/"" for all */
	const char *label_selector; /* filter for LIST and WATCH */
	const char *field_selector;
	int64_t page_size; /* LIST page size; 0: 50 (one page is held as a tree at a time) */
	/* Optional: edits each object once, before it is stored and shared (client-go's
	 * SetTransform), e.g. aios_kube_strip_managed_fields to save memory. */
	void (*transform)(struct json_object *obj);
};

/* A transform dropping metadata.managedFields, which the caches never read and which
 * often holds most of an object's nodes. */
void aios_kube_strip_managed_fields(struct json_object *obj);

struct aios_kube_informer;

/* Builds an informer for gvr (strings in opts are copied; handlers may be NULL).
 * The client must outlive it. Caller frees *out. Nothing runs before _start. */
enum aios_err aios_kube_informer_new(struct aios_kube_client *c, const struct aios_kube_gvr *gvr,
                                     const struct aios_kube_informer_opts *opts,
                                     const struct aios_kube_informer_handlers *h,
                                     struct aios_kube_informer **out) AIOS_MUST_CHECK;
/* Starts the reflector thread. */
enum aios_err aios_kube_informer_start(struct aios_kube_informer *inf) AIOS_MUST_CHECK;
/* Stops the reflector (cancels the watch; returns within ~200 ms) and joins it. */
void aios_kube_informer_stop(struct aios_kube_informer *inf);
/* Stops if running, frees the store. NULL is a no-op. */
void aios_kube_informer_free(struct aios_kube_informer *inf);

/* 1 once the first LIST has been stored and its handlers called. */
int aios_kube_informer_has_synced(struct aios_kube_informer *inf);
/* Waits up to timeout_ms for has_synced; AIOS_ERR_TIMEOUT or CANCELLED otherwise. */
enum aios_err aios_kube_informer_wait_synced(struct aios_kube_informer *inf,
                                             int64_t timeout_ms) AIOS_MUST_CHECK;

/* The object under key ("ns/name"), a new tree the caller owns and drops with
 * aios_kube_obj_put, or NULL if absent. The operator's controllers read it as read-only
 * and copy before changing (operator/manager.h). */
struct json_object *aios_kube_informer_get(struct aios_kube_informer *inf, const char *key);

/* Every object (new trees the caller owns, in key order); *n gets the count. Free the
 * array and the trees with aios_kube_objs_free. Never NULL. */
struct json_object **aios_kube_informer_list(struct aios_kube_informer *inf, size_t *n);
/* Objects whose controller ownerReference has this uid (e.g. the pods of a job). */
struct json_object **aios_kube_informer_by_owner(struct aios_kube_informer *inf,
                                                 const char *owner_uid, size_t *n);
void aios_kube_objs_free(struct json_object **objs, size_t n);

/* Counters for metrics: watches started after the first, and relists after the first. */
uint64_t aios_kube_informer_watch_restarts(struct aios_kube_informer *inf);
uint64_t aios_kube_informer_relists(struct aios_kube_informer *inf);
/* Number of objects in the store. */
size_t aios_kube_informer_len(struct aios_kube_informer *inf);
/* Bytes of cached text (JSON, resourceVersion, owner uid), without per-entry overhead. */
size_t aios_kube_informer_bytes(struct aios_kube_informer *inf);

#endif
