/*
 * watch.h - one streaming WATCH: chunked, line-delimited JSON events.
 *
 * The response body is read by the client's body callback into a line buffer bounded by
 * AIOS_CAP_WATCH_LINE; each complete line is parsed as {"type": ..., "object": ...}
 * and handed to the handler in order. The watch ends when the server closes the
 * stream (timeoutSeconds), when the handler returns an error, when cancelled, or on
 * a fault:
 *   - an ERROR event carrying a 410 Status (resourceVersion too old) -> AIOS_ERR_GONE,
 *     other ERROR events -> the Status decoded as in client.h;
 *   - a line longer than the cap -> AIOS_ERR_TOO_BIG;
 *   - a line that is not JSON, or an event without type/object -> AIOS_ERR_PROTOCOL;
 *   - a stream that ends in the middle of a line -> AIOS_ERR_PROTOCOL ("cut mid-line");
 *   - a closed connection before any answer -> AIOS_ERR_UNAVAILABLE.
 * Resuming is the caller's business: track the last resourceVersion (last_rv below
 * does it) and watch again from it; relist on AIOS_ERR_GONE. The informer does both.
 *
 * Cancellation: the watch checks *cancel (when given) and aios_shutdown_requested()
 * at least every 200 ms and returns AIOS_ERR_CANCELLED.
 */
#ifndef AIOS_KUBE_WATCH_H
#define AIOS_KUBE_WATCH_H

#include <json-c/json.h>

#include "common/err.h"
#include "kube/client.h"

enum aios_kube_event_type {
	AIOS_KUBE_ADDED,
	AIOS_KUBE_MODIFIED,
	AIOS_KUBE_DELETED,
	AIOS_KUBE_BOOKMARK, /* only metadata.resourceVersion is meaningful */
	AIOS_KUBE_ERROR     /* never passed to handlers: the watch returns the error */
};

/* "ADDED", ...; never NULL. */
const char *aios_kube_event_type_name(enum aios_kube_event_type t);

/* Called once per event, in stream order. obj is borrowed for the call (take a
 * reference with json_object_get to keep it). A non-OK return stops the watch and is
 * returned by aios_kube_watch. */
typedef enum aios_err (*aios_kube_watch_fn)(void *arg, enum aios_kube_event_type type,
                                            struct json_object *obj);

struct aios_kube_watch_opts {
	const char *label_selector;
	const char *field_selector;
	const char *resource_version; /* start after this version; NULL: from "now" */
	int allow_bookmarks;          /* allowWatchBookmarks=true */
	int timeout_seconds;          /* server-side end of the stream; 0: server default */
	const int *cancel;            /* when non-NULL and *cancel != 0: stop */
};

/* Watches r (r->name NULL: a collection, else one object via a name field selector).
 * When last_rv is non-NULL it receives the resourceVersion of the last event seen
 * (bookmarks included), or NULL if none (caller frees). */
enum aios_err aios_kube_watch(struct aios_kube_client *c, const struct aios_kube_ref *r,
                              const struct aios_kube_watch_opts *o, aios_kube_watch_fn fn,
                              void *arg, char **last_rv) AIOS_MUST_CHECK;

#endif
