/*
 * watch.c - one streaming WATCH, split into lines and events (see watch.h).
 *
 * The sink receives whatever the connection read; bytes up to each '\n' are appended to a line
 * buffer bounded by AIOS_CAP_WATCH_LINE, and every complete line becomes one event.
 * The first failure is kept in the sink's state and stops the transfer.
 */
#include "kube/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/mem.h"
#include "kube/informer.h"
#include "kube/kube_internal.h"

const char *aios_kube_event_type_name(enum aios_kube_event_type t)
{
	switch (t) {
	case AIOS_KUBE_ADDED: return "ADDED";
	case AIOS_KUBE_MODIFIED: return "MODIFIED";
	case AIOS_KUBE_DELETED: return "DELETED";
	case AIOS_KUBE_BOOKMARK: return "BOOKMARK";
	case AIOS_KUBE_ERROR: return "ERROR";
	}
	return "UNKNOWN";
}

struct wstate {
	struct aios_buf line;
	aios_kube_watch_fn fn;
	void *arg;
	const char *what;  /* "watch configmaps" for messages */
	enum aios_err err; /* first failure; the sink stops on it */
	char msg[1024];    /* its message (the sink runs on our thread, but keep it safe
			     * from later aios_fail calls during the teardown) */
	char *last_rv;
	uint64_t events;
};

static void fail_keep(struct wstate *w, enum aios_err e)
{
	w->err = e;
	snprintf(w->msg, sizeof(w->msg), "%s", aios_errmsg());
}

static enum aios_err handle_line(struct wstate *w, const char *s, size_t n)
{
	/* Tolerate blank lines and a trailing CR. */
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n == 0)
		return AIOS_OK;
	struct json_object *ev = NULL;
	if (aios_json_parse(s, n, "watch event", &ev) != AIOS_OK)
		return aios_fail_wrap(AIOS_ERR_PROTOCOL, "%s: event %llu is not JSON", w->what,
		                      (unsigned long long)w->events + 1);
	const char *type = aios_json_str(ev, "type");
	struct json_object *obj = aios_json_lookup(ev, "object");
	enum aios_err e = AIOS_OK;
	if (!type || !obj || !json_object_is_type(obj, json_type_object)) {
		e = aios_fail(AIOS_ERR_PROTOCOL, "%s: event %llu lacks a type or an object",
		              w->what, (unsigned long long)w->events + 1);
		goto out;
	}
	enum aios_kube_event_type t;
	if (strcmp(type, "ADDED") == 0)
		t = AIOS_KUBE_ADDED;
	else if (strcmp(type, "MODIFIED") == 0)
		t = AIOS_KUBE_MODIFIED;
	else if (strcmp(type, "DELETED") == 0)
		t = AIOS_KUBE_DELETED;
	else if (strcmp(type, "BOOKMARK") == 0)
		t = AIOS_KUBE_BOOKMARK;
	else if (strcmp(type, "ERROR") == 0) {
		size_t sl;
		const char *st =
		    json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &sl);
		e = aios_kube_status_error(0, st, sl, w->what);
		goto out;
	} else {
		e = aios_fail(AIOS_ERR_PROTOCOL, "%s: unknown event type \"%.40s\"", w->what, type);
		goto out;
	}
	w->events++;
	const char *rv = aios_json_str(obj, "metadata.resourceVersion");
	if (rv && *rv) {
		free(w->last_rv);
		w->last_rv = aios_xstrdup(rv);
	}
	/* Detach the object from its event before the handler may share it (an informer
	 * stores it): from here on its count is only touched under the shared-object lock. */
	json_object_get(obj);
	json_object_object_del(ev, "object");
	json_object_put(ev);
	ev = NULL;
	e = w->fn(w->arg, t, obj);
	aios_kube_obj_put(obj);
out:
	json_object_put(ev);
	return e;
}

static int sink(void *arg, const char *p, size_t n)
{
	struct wstate *w = arg;
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		enum aios_err e = aios_buf_append(&w->line, p, take);
		if (e) {
			fail_keep(
			    w, aios_fail(AIOS_ERR_TOO_BIG,
			                 "%s: event line longer than %u bytes (after %llu events)",
			                 w->what, (unsigned)AIOS_CAP_WATCH_LINE,
			                 (unsigned long long)w->events));
			return 1;
		}
		if (!nl)
			return 0;
		e = handle_line(w, w->line.data ? w->line.data : "", w->line.len);
		aios_buf_reset(&w->line);
		if (e) {
			fail_keep(w, e);
			return 1;
		}
		p = nl + 1;
		n -= take + 1;
	}
	return 0;
}

enum aios_err aios_kube_watch_decode(const char *p, size_t n, const char *what,
                                     aios_kube_watch_fn fn, void *arg)
{
	struct wstate w = {.fn = fn, .arg = arg, .what = what};
	aios_buf_init(&w.line, AIOS_CAP_WATCH_LINE);
	enum aios_err e = AIOS_OK;
	if (sink(&w, p, n) != 0)
		e = aios_fail(w.err, "%s", w.msg);
	else if (w.line.len > 0)
		e = aios_fail(AIOS_ERR_PROTOCOL, "%s: stream cut mid-line after %llu events", what,
		              (unsigned long long)w.events);
	aios_buf_cleanup(&w.line);
	free(w.last_rv);
	return e;
}

enum aios_err aios_kube_watch(struct aios_kube_client *c, const struct aios_kube_ref *r,
                              const struct aios_kube_watch_opts *o, aios_kube_watch_fn fn,
                              void *arg, char **last_rv)
{
	if (last_rv)
		*last_rv = NULL;
	struct aios_kube_ref coll = *r;
	coll.name = NULL;
	coll.subresource = NULL;
	char *path = aios_kube_path(&coll);
	struct aios_buf pq;
	aios_buf_init(&pq, 16384);
	enum aios_err e = aios_buf_puts(&pq, path);
	free(path);
	if (!e)
		e = aios_kube_query_add(&pq, "watch", "true");
	if (!e && o && o->label_selector && *o->label_selector)
		e = aios_kube_query_add(&pq, "labelSelector", o->label_selector);
	if (!e && r->name) {
		char *fs = aios_xasprintf("metadata.name=%s", r->name);
		e = aios_kube_query_add(&pq, "fieldSelector", fs);
		free(fs);
	} else if (!e && o && o->field_selector && *o->field_selector) {
		e = aios_kube_query_add(&pq, "fieldSelector", o->field_selector);
	}
	if (!e && o && o->resource_version && *o->resource_version)
		e = aios_kube_query_add(&pq, "resourceVersion", o->resource_version);
	if (!e && o && o->allow_bookmarks)
		e = aios_kube_query_add(&pq, "allowWatchBookmarks", "true");
	if (!e && o && o->timeout_seconds > 0) {
		char t[32];
		snprintf(t, sizeof(t), "%d", o->timeout_seconds);
		e = aios_kube_query_add(&pq, "timeoutSeconds", t);
	}
	if (e) {
		aios_buf_cleanup(&pq);
		return aios_fail(AIOS_ERR_TOO_BIG, "watch %s: selectors too long",
		                 r->gvr->resource);
	}
	char what[256];
	snprintf(what, sizeof(what), "watch %s%s%s", r->gvr->resource,
	         (r->ns && *r->ns) ? " in " : "", (r->ns && *r->ns) ? r->ns : "");
	struct wstate w = {.fn = fn, .arg = arg, .what = what};
	aios_buf_init(&w.line, AIOS_CAP_WATCH_LINE);
	struct aios_kube_call k = {.method = "GET",
	                           .verb = "watch",
	                           .path_query = pq.data,
	                           .sink = sink,
	                           .sink_arg = &w,
	                           .cancel = o ? o->cancel : NULL,
	                           .streaming = 1};
	struct aios_kube_response resp;
	e = aios_kube_perform(c, &k, &resp);
	if (w.err) {
		/* The sink stopped the stream: its reason wins over the transport's. */
		e = aios_fail(w.err, "%s", w.msg);
	} else if (w.line.len > 0 && e != AIOS_ERR_CANCELLED && e != AIOS_ERR_TIMEOUT &&
	           e != AIOS_ERR_TOO_BIG) {
		/* the stream ended (cleanly or cut: curl says "transfer closed with outstanding
		 * read data") inside an event; TOO_BIG here is a reader that fell behind the
		 * stream, which the client's message says */
		e = aios_fail(AIOS_ERR_PROTOCOL,
		              "%s: stream cut mid-line after %llu events (%zu bytes of a "
		              "partial event)",
		              what, (unsigned long long)w.events, w.line.len);
	}
	aios_kube_response_cleanup(&resp);
	aios_buf_cleanup(&w.line);
	aios_buf_cleanup(&pq);
	if (last_rv)
		*last_rv = w.last_rv;
	else
		free(w.last_rv);
	return e;
}
