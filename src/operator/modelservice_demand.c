/*
 * modelservice_demand.c - the gateways' demand stream into the ModelService autoscaler
 * (modelservice_demand.h): the table, and the libwebsockets server that feeds it.
 */
#include "operator/modelservice_demand.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"

/* ================================================================ the table */

struct entry {
	char ns[64], name[64];
	double queued, in_flight, requests, rps;
};

struct peer {
	char id[128];
	int64_t last_ms;
	struct entry *e;
	size_t n;
};

struct aios_ms_demand_table {
	pthread_mutex_t mu;
	struct peer peers[AIOS_MS_DEMAND_MAX_PEERS];
	size_t n_peers;
};

struct aios_ms_demand_table *aios_ms_demand_table_new(void)
{
	struct aios_ms_demand_table *t = aios_xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	return t;
}

void aios_ms_demand_table_free(struct aios_ms_demand_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_peers; i++)
		free(t->peers[i].e);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Drops gateways silent past AIOS_MS_DEMAND_FORGET_MS. Caller holds mu. */
static void forget_gone(struct aios_ms_demand_table *t, int64_t now_ms)
{
	size_t k = 0;
	for (size_t i = 0; i < t->n_peers; i++) {
		if (now_ms - t->peers[i].last_ms > AIOS_MS_DEMAND_FORGET_MS) {
			aios_info("gateway_forgotten", "gateway %s: silent for %lld ms, forgotten",
			          t->peers[i].id, (long long)(now_ms - t->peers[i].last_ms));
			free(t->peers[i].e);
			continue;
		}
		t->peers[k++] = t->peers[i];
	}
	t->n_peers = k;
}

/* Reads one service entry of a message; 0 when it is malformed. */
static int read_entry(struct json_object *o, struct entry *e)
{
	const char *ns = aios_json_str(o, "namespace"), *name = aios_json_str(o, "name");
	if (!ns || !name || strlen(ns) >= sizeof(e->ns) || strlen(name) >= sizeof(e->name))
		return 0;
	snprintf(e->ns, sizeof(e->ns), "%s", ns);
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (aios_json_opt_double(o, "queued", 0, &e->queued) ||
	    aios_json_opt_double(o, "inFlight", 0, &e->in_flight) ||
	    aios_json_opt_double(o, "requests", 0, &e->requests)) {
		aios_errclear();
		return 0;
	}
	e->rps = 0;
	return e->queued >= 0 && e->in_flight >= 0 && e->requests >= 0;
}

enum aios_err aios_ms_demand_table_update(struct aios_ms_demand_table *t, const char *msg,
                                          size_t len, int64_t now_ms, int *wake)
{
	struct json_object *o;
	enum aios_err err = aios_json_parse(msg, len, "demand message", &o);
	if (err)
		return err;
	const char *id = aios_json_str(o, "gateway");
	struct json_object *svcs = aios_json_lookup(o, "services");
	if (!id || !*id || strlen(id) >= sizeof(((struct peer *)0)->id) || !svcs ||
	    !json_object_is_type(svcs, json_type_array)) {
		json_object_put(o);
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "demand message: needs \"gateway\" (a name) and \"services\" (a list)");
	}
	size_t n = json_object_array_length(svcs);
	struct entry *e = aios_xcalloc(n + 1, sizeof(*e));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (read_entry(json_object_array_get_idx(svcs, i), &e[k]))
			k++;
	pthread_mutex_lock(&t->mu);
	forget_gone(t, now_ms);
	struct peer *p = NULL;
	for (size_t i = 0; i < t->n_peers && !p; i++)
		if (strcmp(t->peers[i].id, id) == 0)
			p = &t->peers[i];
	if (!p && t->n_peers < AIOS_MS_DEMAND_MAX_PEERS) {
		p = &t->peers[t->n_peers++];
		memset(p, 0, sizeof(*p));
		snprintf(p->id, sizeof(p->id), "%s", id);
		aios_info("gateway_joined", "gateway %s: streaming demand for %zu services", id, k);
	}
	int held = 0;
	for (size_t i = 0; i < k; i++) {
		held |= e[i].queued > 0;
		for (size_t j = 0; p && j < p->n; j++) {
			struct entry *old = &p->e[j];
			if (strcmp(old->ns, e[i].ns) || strcmp(old->name, e[i].name))
				continue;
			if (now_ms > p->last_ms && e[i].requests >= old->requests)
				e[i].rps = (e[i].requests - old->requests) * 1000.0 /
				           (double)(now_ms - p->last_ms);
		}
	}
	if (p) {
		free(p->e);
		p->e = e;
		p->n = k;
		p->last_ms = now_ms;
	} else {
		free(e); /* past AIOS_MS_DEMAND_MAX_PEERS: refused, see below */
	}
	pthread_mutex_unlock(&t->mu);
	json_object_put(o);
	if (wake)
		*wake = held;
	if (!p)
		return aios_fail(AIOS_ERR_TOO_BIG, "demand message: more than %d gateways",
		                 AIOS_MS_DEMAND_MAX_PEERS);
	return AIOS_OK;
}

void aios_ms_demand_table_get(struct aios_ms_demand_table *t, const char *ns, const char *name,
                              int64_t now_ms, struct aios_ms_demand *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&t->mu);
	forget_gone(t, now_ms);
	out->have = t->n_peers > 0;
	for (size_t i = 0; i < t->n_peers; i++) {
		struct peer *p = &t->peers[i];
		if (now_ms - p->last_ms > AIOS_MS_DEMAND_STALE_MS)
			out->have = 0;
		for (size_t j = 0; j < p->n; j++) {
			if (strcmp(p->e[j].ns, ns) || strcmp(p->e[j].name, name))
				continue;
			out->queued += p->e[j].queued;
			out->in_flight += p->e[j].in_flight;
			out->rps += p->e[j].rps;
		}
	}
	pthread_mutex_unlock(&t->mu);
}

/* ================================================================ the server */

static const char *g_bind = "0"; /* off unless main.c says (tests run managers too) */

void aios_ms_demand_set_bind_address(const char *bind)
{
	g_bind = bind;
}

const char *aios_ms_demand_bind_address(void)
{
	return g_bind;
}

struct aios_ms_demand_server {
	struct lws_context *ctx;
	struct aios_ms_demand_table *t;
	void (*wake)(void *ud);
	void *ud;
	pthread_t thread;
	atomic_int stop;
};

/* Per connection: the message being reassembled from its fragments. */
struct conn {
	struct aios_buf msg;
};

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct conn *c = user;
	struct aios_ms_demand_server *s = lws_context_user(lws_get_context(wsi));
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED: aios_buf_init(&c->msg, AIOS_MS_DEMAND_MAX_MSG); break;
	case LWS_CALLBACK_RECEIVE:
		if (aios_buf_append(&c->msg, in, len) != AIOS_OK) {
			aios_warn("demand_refused", "a gateway's message is over %u bytes: closed",
			          AIOS_MS_DEMAND_MAX_MSG);
			aios_errclear();
			return -1;
		}
		if (!lws_is_final_fragment(wsi))
			break;
		int wake = 0;
		if (aios_ms_demand_table_update(s->t, c->msg.data, c->msg.len, aios_now_ms(),
		                                &wake) != AIOS_OK)
			aios_warn("demand_bad_message", "%s", aios_errmsg());
		aios_buf_reset(&c->msg);
		if (wake && s->wake)
			s->wake(s->ud);
		break;
	case LWS_CALLBACK_CLOSED: aios_buf_cleanup(&c->msg); break;
	default: break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
    {"http", lws_callback_http_dummy, 0, 0, 0, NULL, 0},
    {AIOS_MS_DEMAND_PROTOCOL, callback, sizeof(struct conn), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static void lws_to_our_log(int level, const char *line)
{
	if (level & LLL_ERR)
		aios_warn("libwebsockets", "%.*s", (int)strcspn(line, "\n"), line);
}

static void *serve_main(void *arg)
{
	struct aios_ms_demand_server *s = arg;
	while (!s->stop)
		if (lws_service(s->ctx, 200) < 0)
			break;
	return NULL;
}

struct aios_ms_demand_server *aios_ms_demand_server_start(const char *bind,
                                                          struct aios_ms_demand_table *t,
                                                          void (*wake)(void *ud), void *ud)
{
	const char *colon = bind ? strrchr(bind, ':') : NULL;
	char host[64] = "";
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	if (!colon || *end || port <= 0 || port > 65535 || (size_t)(colon - bind) >= sizeof(host)) {
		aios_error("demand_listen", "--demand-bind-address \"%s\": expected [host]:port",
		           bind ? bind : "");
		return NULL;
	}
	memcpy(host, bind, (size_t)(colon - bind));
	struct aios_ms_demand_server *s = aios_xcalloc(1, sizeof(*s));
	s->t = t;
	s->wake = wake;
	s->ud = ud;
	lws_set_log_level(LLL_ERR, lws_to_our_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = (int)port;
	info.iface = host[0] ? host : NULL;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.user = s;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	s->ctx = lws_create_context(&info);
	if (!s->ctx) {
		aios_error("demand_listen", "demand stream: cannot listen on %s", bind);
		free(s);
		return NULL;
	}
	if (pthread_create(&s->thread, NULL, serve_main, s) != 0) {
		lws_context_destroy(s->ctx);
		free(s);
		return NULL;
	}
	aios_info("demand_listen", "demand stream of the gateways on ws://%s/ (%s)", bind,
	          AIOS_MS_DEMAND_PROTOCOL);
	return s;
}

void aios_ms_demand_server_stop(struct aios_ms_demand_server *s)
{
	if (!s)
		return;
	s->stop = 1;
	lws_cancel_service(s->ctx);
	pthread_join(s->thread, NULL);
	lws_context_destroy(s->ctx);
	free(s);
}
