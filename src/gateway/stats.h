/*
 * stats.h - aios-gateway's demand stream to the operator: a libwebsockets client that
 * sends, once a second and at once when a service starts holding requests, what the
 * gateway sees of each ModelService (held, in flight, a request counter, ready pods).
 * The message format and the operator's side: src/operator/modelservice_demand.h.
 *
 * The connection is made again one second after it fails or closes (the operator's
 * leader may move; a standby refuses it). While it is down the operator has no
 * gateway data and never scales a service to zero (autoscaler.h).
 */
#ifndef AIOS_GATEWAY_STATS_H
#define AIOS_GATEWAY_STATS_H

#include "common/err.h"
#include "gateway/gateway.h"

#define AIOS_GW_STATS_PROTOCOL  "aios-demand.v1" /* = AIOS_MS_DEMAND_PROTOCOL */
#define AIOS_GW_STATS_PERIOD_MS 1000             /* the operator decides once a second */
#define AIOS_GW_STATS_RETRY_MS  1000             /* a failed connection is tried again this late */

struct aios_gw_stats_client;

/* The JSON message for stats[0..n) from gateway id (caller frees). */
char *aios_gw_stats_message(const char *id, const struct aios_gw_stat *stats, size_t n);

/* Streams g's stats to url (ws://HOST:PORT/PATH or wss://) as id; registers itself as
 * g's on_demand hook, so call before aios_gw_start. AIOS_ERR_INVALID for a bad URL. */
enum aios_err aios_gw_stats_start(struct aios_gw *g, const char *url, const char *id,
                                  struct aios_gw_stats_client **out) AIOS_MUST_CHECK;
/* 1 while the stream is connected. */
int aios_gw_stats_connected(struct aios_gw_stats_client *s);
/* Stops the thread and closes the stream. NULL is a no-op. */
void aios_gw_stats_stop(struct aios_gw_stats_client *s);

#endif
