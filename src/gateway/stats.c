/*
 * stats.c - the demand stream to the operator (stats.h), on libwebsockets' client.
 *
 * One thread owns the lws context and the connection; others only set flags and call
 * lws_cancel_service() so that its lws_service() returns at once and it sends. Since
 * lws_service() waits for the next event whatever its timeout says (libwebsockets 3.2
 * and later), the periodic send and the reconnection run from a timer of lws's own
 * (TICK_MS), on that thread.
 */
#include "gateway/stats.h"

#include <json-c/json.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"

#define TICK_MS           100 /* how often the thread looks at its clocks */
#define CONNECT_TIMEOUT_S 2   /* a connection attempt gives up after this (lws: 20 s) */

struct aios_gw_stats_client {
	struct aios_gw *g;
	char id[128];
	char host[256], path[512];
	int port, tls;
	struct lws_context *ctx;
	struct lws *wsi;
	atomic_int connected, send_now, stop;
	int failures; /* connection attempts failed in a row: the first is a warning */
	int64_t next_connect_ms, next_send_ms;
	lws_sorted_usec_list_t tick; /* lws's timer: housekeeping every TICK_MS */
	pthread_t thread;
};

char *aios_gw_stats_message(const char *id, const struct aios_gw_stat *st, size_t n)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "gateway", json_object_new_string(id));
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "namespace", json_object_new_string(st[i].ns));
		json_object_object_add(e, "name", json_object_new_string(st[i].name));
		json_object_object_add(e, "queued", json_object_new_int(st[i].queued));
		json_object_object_add(e, "inFlight", json_object_new_int(st[i].in_flight));
		json_object_object_add(e, "requests",
		                       json_object_new_int64((int64_t)st[i].requests));
		json_object_object_add(e, "ready", json_object_new_int(st[i].ready));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "services", arr);
	char *txt = aios_xstrdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return txt;
}

/* Sends the current snapshot on wsi; -1 when the write failed. */
static int send_snapshot(struct aios_gw_stats_client *s, struct lws *wsi)
{
	struct aios_gw_stat *st;
	size_t n = aios_gw_stats(s->g, &st);
	char *msg = aios_gw_stats_message(s->id, st, n);
	free(st);
	size_t len = strlen(msg);
	unsigned char *buf = aios_xmalloc(LWS_PRE + len);
	memcpy(buf + LWS_PRE, msg, len);
	int w = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
	free(buf);
	free(msg);
	return w < (int)len ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct aios_gw_stats_client *s = lws_context_user(lws_get_context(wsi));
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		atomic_store(&s->connected, 1);
		s->failures = 0;
		aios_info("demand_stream", "connected to the operator at %s:%d%s", s->host, s->port,
		          s->path);
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		atomic_store(&s->send_now, 0);
		s->next_send_ms = aios_now_ms() + AIOS_GW_STATS_PERIOD_MS;
		if (send_snapshot(s, wsi) < 0)
			return -1;
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		/* the operator's leader listens only once it reconciles a ModelService, and
		 * moves on a failover: one warning per outage, then quiet retries */
		aios_log(s->failures++ ? AIOS_LOG_DEBUG : AIOS_LOG_WARN, "demand_stream",
		         "operator at %s:%d: %s (trying again every %d ms)", s->host, s->port,
		         in ? (const char *)in : "connection failed", AIOS_GW_STATS_RETRY_MS);
		/* fall through */
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (atomic_exchange(&s->connected, 0))
			aios_warn("demand_stream",
			          "the stream to the operator closed (again in %d ms)",
			          AIOS_GW_STATS_RETRY_MS);
		s->wsi = NULL;
		s->next_connect_ms = aios_now_ms() + AIOS_GW_STATS_RETRY_MS;
		break;
	default: break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
    {AIOS_GW_STATS_PROTOCOL, callback, 0, 65536, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

static void connect_now(struct aios_gw_stats_client *s)
{
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = s->ctx;
	ci.address = s->host;
	ci.port = s->port;
	ci.path = s->path;
	ci.host = s->host;
	ci.origin = s->host;
	ci.protocol = AIOS_GW_STATS_PROTOCOL;
	ci.ssl_connection = s->tls ? LCCSCF_USE_SSL : 0;
	ci.pwsi = &s->wsi;
	s->next_connect_ms = aios_now_ms() + AIOS_GW_STATS_RETRY_MS;
	if (!lws_client_connect_via_info(&ci))
		s->wsi = NULL;
}

/* Connects when it is time to try again; asks to send when a message is due. */
static void housekeeping(struct aios_gw_stats_client *s)
{
	int64_t now = aios_now_ms();
	if (!s->wsi && now >= s->next_connect_ms)
		connect_now(s);
	if (s->wsi && atomic_load(&s->connected) &&
	    (atomic_load(&s->send_now) || now >= s->next_send_ms))
		lws_callback_on_writable(s->wsi);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct aios_gw_stats_client *s = lws_container_of(sul, struct aios_gw_stats_client, tick);
	housekeeping(s);
	lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, TICK_MS * LWS_US_PER_MS);
}

static void *stats_main(void *arg)
{
	struct aios_gw_stats_client *s = arg;
	lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, TICK_MS * LWS_US_PER_MS);
	while (!atomic_load(&s->stop)) {
		housekeeping(s); /* after a cancel: a held request wants its message now */
		if (lws_service(s->ctx, 0) < 0)
			break;
	}
	lws_sul_cancel(&s->tick);
	return NULL;
}

static void on_demand(void *ud, const char *ns, const char *name)
{
	struct aios_gw_stats_client *s = ud;
	atomic_store(&s->send_now, 1);
	lws_cancel_service(s->ctx);
}

static void lws_to_our_log(int level, const char *line)
{
	if (level & LLL_ERR)
		aios_debug("libwebsockets", "%.*s", (int)strcspn(line, "\n"), line);
}

enum aios_err aios_gw_stats_start(struct aios_gw *g, const char *url, const char *id,
                                  struct aios_gw_stats_client **out)
{
	struct aios_gw_stats_client *s = aios_xcalloc(1, sizeof(*s));
	s->g = g;
	snprintf(s->id, sizeof(s->id), "%s", id);
	const char *rest;
	if (strncmp(url, "ws://", 5) == 0) {
		rest = url + 5;
	} else if (strncmp(url, "wss://", 6) == 0) {
		rest = url + 6;
		s->tls = 1;
	} else {
		free(s);
		return aios_fail(AIOS_ERR_INVALID, "operator URL \"%s\": expected ws:// or wss://",
		                 url);
	}
	size_t hl = strcspn(rest, ":/");
	if (hl == 0 || hl >= sizeof(s->host)) {
		free(s);
		return aios_fail(AIOS_ERR_INVALID, "operator URL \"%s\": no host", url);
	}
	memcpy(s->host, rest, hl);
	s->port = s->tls ? 443 : 80;
	const char *p = rest + hl;
	if (*p == ':') {
		char *end;
		long port = strtol(p + 1, &end, 10);
		if (port <= 0 || port > 65535 || (*end && *end != '/')) {
			free(s);
			return aios_fail(AIOS_ERR_INVALID, "operator URL \"%s\": bad port", url);
		}
		s->port = (int)port;
		p = end;
	}
	snprintf(s->path, sizeof(s->path), "%s", *p ? p : "/");
	lws_set_log_level(LLL_ERR, lws_to_our_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.user = s;
	info.options = s->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	info.connect_timeout_secs = CONNECT_TIMEOUT_S;
	s->ctx = lws_create_context(&info);
	if (!s->ctx) {
		free(s);
		return aios_fail(AIOS_ERR_IO, "demand stream: cannot create the WebSocket client");
	}
	if (pthread_create(&s->thread, NULL, stats_main, s) != 0) {
		lws_context_destroy(s->ctx);
		free(s);
		return aios_fail(AIOS_ERR_IO, "demand stream: cannot start its thread");
	}
	aios_gw_on_demand(g, on_demand, s);
	*out = s;
	return AIOS_OK;
}

int aios_gw_stats_connected(struct aios_gw_stats_client *s)
{
	return s && atomic_load(&s->connected);
}

void aios_gw_stats_stop(struct aios_gw_stats_client *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, 1);
	lws_cancel_service(s->ctx);
	pthread_join(s->thread, NULL);
	lws_context_destroy(s->ctx);
	free(s);
}
