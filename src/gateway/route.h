/*
 * route.h - aios-gateway's pure parts: which ModelService a request is for, which ready
 * pod gets it (least outstanding requests), the bounded queue that holds requests
 * while a service has no ready pod, and reading ModelServices and Endpoints into the
 * shapes the gateway keeps. Nothing here does I/O, locks or allocates past the caller's
 * arrays; gateway.c puts these together (docs/gateway.md tells the story).
 *
 * Addressing (docs/gateway.md "Addressing"): a request names its model in the path
 * (/v1/models/NAME..., /v2/models/NAME...) and its namespace either by a path prefix
 * /namespaces/NS (stripped before the pod sees the path), or by a Host header
 * NAME.NS[.anything] whose first label is the model's name, or else falls back to the
 * gateway's default namespace.
 */
#ifndef AIOS_GATEWAY_ROUTE_H
#define AIOS_GATEWAY_ROUTE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AIOS_GW_NAME_MAX      63   /* a ModelService name (a DNS label, as pod names need) */
#define AIOS_GW_NS_MAX        63   /* a namespace name (a DNS label) */
#define AIOS_GW_PATH_MAX      2048 /* an upstream path we forward */
#define AIOS_GW_ADDR_MAX      46   /* a pod IP as text (IPv6 fits) */
#define AIOS_GW_MAX_ENDPOINTS 1024 /* ready addresses kept per service */
#define AIOS_GW_MAX_UNREADY   64   /* not-ready addresses kept per service, for probing */

/* Defaults of the per-service settings read from the ModelService spec. */
#define AIOS_GW_DEFAULT_QUEUE_SIZE      100        /* spec.autoscaling.coldStartQueueSize */
#define AIOS_GW_DEFAULT_QUEUE_TIMEOUT_S 60         /* spec.autoscaling.coldStartTimeoutSeconds */
#define AIOS_GW_DEFAULT_MAX_REQUEST     (1L << 20) /* aios-serve's --max-request-bytes */

/* ---- which service ---- */

struct aios_gw_target {
	char ns[AIOS_GW_NS_MAX + 1];
	char name[AIOS_GW_NAME_MAX + 1];
	char path[AIOS_GW_PATH_MAX + 1]; /* what the pod is asked: the path without prefix */
};

/*
 * Reads the target of a request for path (no query) with Host header host (NULL if
 * none). Model paths are /v1/models/NAME, /v1/models/NAME:VERB, /v2/models/NAME and
 * anything below /v2/models/NAME/, each optionally after /namespaces/NS. Fails with
 * AIOS_ERR_NOT_FOUND for a path that names no model ("not a model path: /x"), and with
 * AIOS_ERR_INVALID for a name or namespace that is not a DNS label (the message names
 * it); the path is not percent-decoded, so an escaped name is not a label either.
 */
enum aios_err aios_gw_parse_target(const char *path, const char *host, const char *default_ns,
                                   struct aios_gw_target *out) AIOS_MUST_CHECK;

/* 1 when s is a DNS-1123 label of at most max characters. */
int aios_gw_is_label(const char *s, size_t len, size_t max);

/* ---- which pod ---- */

struct aios_gw_endpoint {
	char addr[AIOS_GW_ADDR_MAX + 1]; /* pod IP */
	int port;
	int outstanding;   /* requests sent to it and not answered yet */
	int64_t probed_ms; /* a not-ready pod the gateway's own probe found ready: when; else 0 */
	char pod[AIOS_GW_NAME_MAX + 1]; /* the pod's name (targetRef), "" when not given */
	int canary;                     /* the pod runs the canary revision */
};

/*
 * The index of the endpoint with the fewest outstanding requests, skipping index
 * `exclude` (-1: none); ties go to the first at or after *rr in ring order, and *rr
 * moves past the pick so that equal pods take turns. -1 when none is left.
 */
int aios_gw_pick(const struct aios_gw_endpoint *eps, size_t n, int exclude, unsigned *rr);

/* ---- the canary split (docs/gateway.md "Canary") ---- */

/*
 * Marks each endpoint whose pod runs revision rev (pod names are
 * "<service>-<revision>-<index>", modelservice.h) as canary, every other as stable.
 * rev NULL or "": none is canary.
 */
void aios_gw_mark_canary(struct aios_gw_endpoint *eps, size_t n, const char *rev);

/*
 * Whether the next request goes to the canary, at weight percent (0..100): an error
 * accumulator in *acc (start at 0) makes exactly `weight` of every 100 consecutive
 * calls answer 1, spread evenly, so a split is exact and deterministic.
 */
int aios_gw_split(int weight, unsigned *acc);

/*
 * aios_gw_pick within the canary split: weight < 0 is no split (any endpoint); weight 0
 * never picks a canary pod; otherwise aios_gw_split chooses the side, and when that
 * side has no endpoint left the other serves (a canary still starting costs no
 * request). Each side takes turns on its own ring position, rr[0] stable and rr[1]
 * canary. -1 when none is left.
 */
int aios_gw_pick_weighted(const struct aios_gw_endpoint *eps, size_t n, int exclude, int weight,
                          unsigned *acc, unsigned rr[2]);

/*
 * Replaces the endpoint set cur[0..*n) by fresh[0..n_fresh) (addresses as the
 * Endpoints object lists them, outstanding 0), keeping the outstanding count of every
 * address:port in both, so that requests in flight still weigh on a pod that stays.
 * Writes at most cap entries into cur. Returns how many were dropped for the cap.
 */
size_t aios_gw_endpoints_merge(struct aios_gw_endpoint *cur, size_t *n, size_t cap,
                               const struct aios_gw_endpoint *fresh, size_t n_fresh);

/*
 * Not-ready pods the gateway probed itself (docs/gateway.md "Cold starts"): the Endpoints
 * say ready only after the kubelet's next readiness probe, up to its period (1 s) after
 * the server is up; the gateway probes such pods every 50 ms while it holds requests.
 *
 * aios_gw_unready_carry: fresh[0..n_fresh) replaces a service's not-ready list old;
 * every address:port in both keeps old's probed_ms.
 * aios_gw_keep_probed: appends to cur[0..*n) (up to cap) every unready entry probed at
 * most trust_ms before now_ms and not in cur already, so that a pod found ready stays
 * routable until the Endpoints catch up; past trust_ms the Endpoints' word wins again.
 * Returns how many were appended.
 */
#define AIOS_GW_PROBED_TRUST_MS 10000
void aios_gw_unready_carry(struct aios_gw_endpoint *fresh, size_t n_fresh,
                           const struct aios_gw_endpoint *old, size_t n_old);
size_t aios_gw_keep_probed(struct aios_gw_endpoint *cur, size_t *n, size_t cap,
                           const struct aios_gw_endpoint *unready, size_t n_unready, int64_t now_ms,
                           int64_t trust_ms);

/*
 * The ready addresses of an Endpoints object (subsets[].addresses, never
 * notReadyAddresses) with the port named "http", else the subset's first TCP port.
 * Each keeps its pod's name from targetRef. Writes at most cap entries to out; returns
 * the count.
 */
size_t aios_gw_endpoints_from_json(struct json_object *endpoints, struct aios_gw_endpoint *out,
                                   size_t cap);

/* The same for subsets[].notReadyAddresses: pods that have an address and are not ready
 * yet, which the gateway probes itself while it holds requests for their service. */
size_t aios_gw_unready_from_json(struct json_object *endpoints, struct aios_gw_endpoint *out,
                                 size_t cap);

/* ---- what the ModelService says ---- */

struct aios_gw_service_params {
	int min_replicas;       /* spec.replicas.min: 0 means the service may sit at zero */
	int queue_size;         /* spec.autoscaling.coldStartQueueSize */
	int queue_timeout_ms;   /* spec.autoscaling.coldStartTimeoutSeconds, in ms */
	long max_request_bytes; /* spec.runtime.maxRequestBytes, else aios-serve's default */
	int desired;            /* status.desiredReplicas (-1 when not written yet) */
	int canary_weight;      /* percent of requests to the canary: status.canary.weight
	                         * while Progressing, 0 once RolledBack, -1 for no split */
	char canary_revision[AIOS_GW_NAME_MAX + 1]; /* status.canary.revision, or "" */
};

/* Reads the settings above from a ModelService, each falling back to its default when
 * absent or out of range (the CRD's schema already refuses bad values). */
void aios_gw_service_params(struct json_object *ms, struct aios_gw_service_params *out);

/* ---- the cold-start queue ---- */

/* One held request: what the caller queued, and when it must give up. */
struct aios_gw_held {
	void *item;
	int64_t since_ms;    /* when it was queued */
	int64_t deadline_ms; /* when it times out (503) */
};

/* A bounded FIFO ring of held requests over a caller's array (no allocation). */
struct aios_gw_queue {
	struct aios_gw_held *slot;
	size_t cap, head, len;
};

/* Uses slot[0..cap) as storage; cap 0 is a queue that refuses everything. */
void aios_gw_queue_init(struct aios_gw_queue *q, struct aios_gw_held *slot, size_t cap);
/* Holds item from now_ms to now_ms + timeout_ms; 0, or -1 when the queue is full. */
int aios_gw_queue_push(struct aios_gw_queue *q, void *item, int64_t now_ms, int64_t timeout_ms);
/* The oldest held request, or 0 when empty. */
int aios_gw_queue_pop(struct aios_gw_queue *q, struct aios_gw_held *out);
/* The oldest held request if its deadline is at or before now_ms, else 0. Requests
 * share one timeout per service, so the oldest is always the first to expire. */
int aios_gw_queue_pop_expired(struct aios_gw_queue *q, int64_t now_ms, struct aios_gw_held *out);
/* Milliseconds until the oldest request times out (0 if it has), -1 when empty. */
int64_t aios_gw_queue_next_deadline(const struct aios_gw_queue *q, int64_t now_ms);

/* Seconds a client is told to wait (Retry-After) after a 503 for a service starting
 * from zero: its queue timeout, at least 1 s, at most 60 s. */
int aios_gw_retry_after_s(int queue_timeout_ms);

#endif
