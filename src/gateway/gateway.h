/*
 * gateway.h - aios-gateway's data plane: one HTTP entry for every ModelService.
 *
 * A request for a model (route.h "Addressing") is answered by a ready pod of its
 * ModelService, chosen by least outstanding requests; its body goes to the pod and the
 * pod's answer comes back untouched (status, body, Content-Type and the few headers
 * the Open Inference Protocol needs). The gateway's own answers are JSON
 * {"error": ...}: 404 for a model it does not know, 413 for a body over the service's
 * spec.runtime.maxRequestBytes (or the gateway's --max-request-bytes), 502 when the
 * pod failed and no other could take the request, 503 + Retry-After when the cold-start
 * queue is full or its timeout passed, 504 when the pod did not answer in time.
 *
 * Threads: the HTTP loops (src/lib/http) run the handlers, which decide at once
 * (404/413/503) or defer the request; a pool of proxy threads makes the upstream calls
 * (the project's HTTP client, one connection cache per thread); a timer thread fails
 * held requests whose timeout passed. A finished call is handed back to its loop
 * (aios_http_server_wake) and answered there. One mutex guards the service table.
 *
 * No pod ready: a known service holds the request in its bounded queue
 * (spec.autoscaling.coldStartQueueSize, coldStartTimeoutSeconds) and calls on_demand
 * at once, so the operator can start a pod; the queue drains the moment the
 * service's Endpoints list a ready address. The time from the first held request to
 * that moment is one cold start (aios_gateway_cold_start_seconds).
 *
 * A failed upstream call (refused, reset, closed before a whole answer, a malformed
 * answer) is retried once on another ready pod: every path the gateway routes is a
 * prediction or a read, with no side effect on the pod. A timeout is never retried (the pod may still be
 * computing, and the deadline is spent).
 *
 * The table is fed by aios_gw_set_service/_set_endpoints (watch.h calls them from the
 * informers; tests call them directly).
 */
#ifndef AIOS_GATEWAY_GATEWAY_H
#define AIOS_GATEWAY_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "gateway/route.h"

struct aios_metrics;

struct aios_gw_config {
	const char *bind;        /* default "0.0.0.0" */
	int port;                /* default 8080; 0 picks one (aios_gw_port) */
	int threads;             /* HTTP event loops, default 2 */
	int proxy_threads;       /* upstream calls at once, default 64 */
	long max_request_bytes;  /* the gateway's own body cap, default 16 MiB */
	int upstream_timeout_ms; /* one upstream call, connect included, default 60000 */
	int read_timeout_ms;     /* a request must arrive whole within this, default 10000 */
	const char *default_ns;  /* namespace of requests that name none, default "default" */
	const char *tls_cert;    /* PEM files: HTTPS on the entry (both or neither) */
	const char *tls_key;
};

void aios_gw_config_defaults(struct aios_gw_config *c);

struct aios_gw;

/* Builds the gateway (not listening yet); strings in c must outlive it. */
enum aios_err aios_gw_new(const struct aios_gw_config *c, struct aios_gw **out) AIOS_MUST_CHECK;
/* Listens and starts the threads. Errors name the address or file. */
enum aios_err aios_gw_start(struct aios_gw *g) AIOS_MUST_CHECK;
int aios_gw_port(const struct aios_gw *g);
/* Stops taking requests, answers held ones 503, lets calls in flight finish within
 * grace_ms (then cancels them), and joins every thread. */
void aios_gw_stop(struct aios_gw *g, int grace_ms);
/* Stops if running and frees. NULL is a no-op. */
void aios_gw_free(struct aios_gw *g);

/* The gateway's registry (aios_gateway_*), served on /metrics. */
struct aios_metrics *aios_gw_metrics(struct aios_gw *g);

/* Called (from the thread that queued the request, no lock held) when a service's
 * cold-start queue goes from empty to holding a request. Set before start. */
void aios_gw_on_demand(struct aios_gw *g, void (*fn)(void *ud, const char *ns, const char *name),
                       void *ud);

/* ---- the table ---- */

/* Adds or updates ModelService ns/name: from now on its requests are routed. */
void aios_gw_set_service(struct aios_gw *g, const char *ns, const char *name,
                         const struct aios_gw_service_params *p);
/* The ModelService is gone: held requests get 404, later ones too. */
void aios_gw_remove_service(struct aios_gw *g, const char *ns, const char *name);
/* The ready addresses of ns/name now (n may be 0). Held requests go out at once when
 * n > 0. Endpoints may arrive before their ModelService; they are kept for it. */
void aios_gw_set_endpoints(struct aios_gw *g, const char *ns, const char *name,
                           const struct aios_gw_endpoint *eps, size_t n);
/* The not-ready addresses of ns/name now (n may be 0; past AIOS_GW_MAX_UNREADY are cut).
 * While the service holds requests and has no ready pod, the gateway probes them itself
 * and sends the held requests to the first that answers; set them before the ready
 * addresses of the same Endpoints update. */
void aios_gw_set_unready(struct aios_gw *g, const char *ns, const char *name,
                         const struct aios_gw_endpoint *eps, size_t n);

/* ---- demand, for the operator (stats.h) ---- */

struct aios_gw_stat {
	char ns[AIOS_GW_NS_MAX + 1];
	char name[AIOS_GW_NAME_MAX + 1];
	int queued;        /* requests held for a pod */
	int in_flight;     /* requests sent to a pod, not answered yet */
	uint64_t requests; /* requests accepted since start (a counter) */
	int ready;         /* ready addresses */
};

/* A snapshot of every known service (caller frees *out); returns the count. */
size_t aios_gw_stats(struct aios_gw *g, struct aios_gw_stat **out);

#endif
