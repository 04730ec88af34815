/*
 * modelservice_demand.h - what the gateways say about demand, for the ModelService
 * autoscaler: a WebSocket server (libwebsockets) each aios-gateway streams to, and the
 * table of the latest word of each gateway.
 *
 * The stream (docs/gateway.md "Demand stream"): subprotocol AIOS_MS_DEMAND_PROTOCOL,
 * one JSON text message a second from each gateway, and one at once when a service's
 * cold-start queue starts holding:
 *
 *   {"gateway": "ID", "services": [{"namespace": "ns", "name": "x", "queued": 0,
 *    "inFlight": 2, "requests": 1234, "ready": 1}, ...]}
 *
 * requests is a counter (since the gateway started); rates are its deltas between
 * messages. A gateway silent for AIOS_MS_DEMAND_STALE_MS makes the data incomplete (no
 * scale to zero, autoscaler.h); one silent for AIOS_MS_DEMAND_FORGET_MS is forgotten
 * (a gateway replica that went away). The server runs on the elected leader only, with
 * the autoscaler loop; a standby refuses connections, so gateways retry until they
 * reach the leader through the operator's Service.
 */
#ifndef AIOS_OPERATOR_MODELSERVICE_DEMAND_H
#define AIOS_OPERATOR_MODELSERVICE_DEMAND_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AIOS_MS_DEMAND_PROTOCOL  "aios-demand.v1"
#define AIOS_MS_DEMAND_STALE_MS  3000       /* three missed messages: data incomplete */
#define AIOS_MS_DEMAND_FORGET_MS 15000      /* a gateway gone this long is forgotten */
#define AIOS_MS_DEMAND_MAX_MSG   (4u << 20) /* one message, at most */
#define AIOS_MS_DEMAND_MAX_PEERS 64         /* gateways remembered */

/* ---- the table (pure, thread-safe) ---- */

struct aios_ms_demand_table;

struct aios_ms_demand_table *aios_ms_demand_table_new(void);
void aios_ms_demand_table_free(struct aios_ms_demand_table *t);

/* Records one message received at now_ms. *wake (optional) is set to 1 when a service
 * has requests held for a pod. AIOS_ERR_INVALID names what is wrong with it. */
enum aios_err aios_ms_demand_table_update(struct aios_ms_demand_table *t, const char *msg,
                                          size_t len, int64_t now_ms, int *wake) AIOS_MUST_CHECK;

struct aios_ms_demand {
	int have;      /* 1: at least one gateway, every one current */
	double queued; /* summed over the gateways */
	double in_flight;
	double rps;
};

/* The gateways' demand for ns/name at now_ms (zeros for a service none lists). */
void aios_ms_demand_table_get(struct aios_ms_demand_table *t, const char *ns, const char *name,
                              int64_t now_ms, struct aios_ms_demand *out);

/* ---- the server ---- */

struct aios_ms_demand_server;

/* Listens on bind ("[host]:port", e.g. ":8082") and serves the stream into t, calling
 * wake(ud) from its thread when a message says requests are held. NULL on failure
 * (logged, naming the address). */
struct aios_ms_demand_server *aios_ms_demand_server_start(const char *bind,
                                                          struct aios_ms_demand_table *t,
                                                          void (*wake)(void *ud), void *ud);
/* Stops the thread and closes every connection. NULL is a no-op. */
void aios_ms_demand_server_stop(struct aios_ms_demand_server *s);

/* The address the operator's main sets from --demand-bind-address ("0": off). */
void aios_ms_demand_set_bind_address(const char *bind);
const char *aios_ms_demand_bind_address(void);

#endif
