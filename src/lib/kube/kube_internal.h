/*
 * kube_internal.h - what the kube module's files share and nobody else sees:
 * the request machinery of client.c, used by watch.c for streaming calls.
 */
#ifndef AIOS_KUBE_INTERNAL_H
#define AIOS_KUBE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/client.h"
#include "kube/watch.h"

/* A streaming sink: receives body bytes of a 2xx answer as they arrive. Returns 0 to
 * go on, non-zero to stop the transfer (the sink keeps its own reason). */
typedef int (*aios_kube_sink_fn)(void *arg, const char *p, size_t n);

struct aios_kube_call {
	const char *method;       /* "GET", ... */
	const char *verb;         /* for the metrics hook: "get", "watch", ... */
	const char *path_query;   /* "/api/v1/...?..." */
	const char *content_type; /* of body, or NULL */
	const char *body;
	size_t body_len;
	aios_kube_sink_fn sink; /* NULL: buffer the 2xx body into resp->body */
	void *sink_arg;
	const int *cancel;  /* streaming calls: stop when *cancel != 0 */
	int streaming;      /* no overall timeout */
	int own_connection; /* not on the multiplexer: a connection of its own */
	const struct aios_kube_call_opts *opts; /* NULL: the client's defaults */
};

/* Performs the call. resp is initialised here and filled; non-2xx answers are decoded
 * (aios_kube_status_error). A sink that stopped the transfer yields AIOS_ERR_CANCELLED
 * with no message: the caller knows the sink's reason. */
enum aios_err aios_kube_perform(struct aios_kube_client *c, const struct aios_kube_call *k,
                                struct aios_kube_response *resp) AIOS_MUST_CHECK;

/* Appends "&key=value" (or "?key=value" when q has no '?') with value escaped. */
enum aios_err aios_kube_query_add(struct aios_buf *q, const char *key,
                                  const char *value) AIOS_MUST_CHECK;

/* Decodes a whole watch body held in memory exactly as aios_kube_watch decodes a
 * stream (same line cap, same errors, a partial last line is PROTOCOL), calling fn per
 * event. what names the stream in messages. A seam for fuzzing and tests. */
enum aios_err aios_kube_watch_decode(const char *p, size_t n, const char *what,
                                     aios_kube_watch_fn fn, void *arg) AIOS_MUST_CHECK;

/* ---- util.c: small pieces the kube threads share ---- */

/* FNV-1a hash of a string, for the store's and the queue's hash tables. */
uint64_t aios_kube_hash(const char *s);
/* Initialises cv on CLOCK_MONOTONIC (so timed waits compare with aios_now_ms()). */
void aios_kube_cond_init(pthread_cond_t *cv);
/* Waits on cv (mu not held by the caller) up to ms, returning early when *stop is set
 * (read atomically) or shutdown is requested; wakes at least every 200 ms to notice
 * a process-wide shutdown, which signals no condition variable. */
void aios_kube_nap(pthread_mutex_t *mu, pthread_cond_t *cv, const int *stop, int64_t ms);

#endif
