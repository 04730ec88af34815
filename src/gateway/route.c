/*
 * route.c - aios-gateway's pure parts (route.h): targets, least-outstanding picks,
 * endpoint sets and the cold-start queue.
 */
#include "gateway/route.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"

/* ================================================================ targets */

int aios_gw_is_label(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i + 1 < len))
			return 0;
	}
	return 1;
}

/* Copies s[0..n) into out (cap bytes with the NUL); 0 when it does not fit. */
static int copy(char *out, size_t cap, const char *s, size_t n)
{
	if (n + 1 > cap)
		return 0;
	memcpy(out, s, n);
	out[n] = 0;
	return 1;
}

/* The model name of a model path p (without any namespace prefix): its start and
 * length; 0 when p is not a model path. */
static int model_name(const char *p, const char **name, size_t *len)
{
	const char *rest;
	if (strncmp(p, "/v1/models/", 11) == 0) {
		rest = p + 11;
		*len = strcspn(rest, ":/");
		/* /v1/models/NAME or /v1/models/NAME:VERB; nothing below it */
		if (rest[*len] == '/')
			return 0;
	} else if (strncmp(p, "/v2/models/", 11) == 0) {
		rest = p + 11;
		*len = strcspn(rest, "/");
	} else {
		return 0;
	}
	*name = rest;
	return *len > 0;
}

enum aios_err aios_gw_parse_target(const char *path, const char *host, const char *default_ns,
                                   struct aios_gw_target *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = path, *ns = NULL;
	size_t ns_len = 0;
	if (strncmp(p, "/namespaces/", 12) == 0) {
		ns = p + 12;
		ns_len = strcspn(ns, "/");
		p = ns + ns_len;
		if (!aios_gw_is_label(ns, ns_len, AIOS_GW_NS_MAX))
			return aios_fail(AIOS_ERR_INVALID,
			                 "namespace \"%.*s\" in the path is not a DNS label",
			                 (int)(ns_len > 80 ? 80 : ns_len), ns);
	}
	const char *name;
	size_t len;
	if (!model_name(p, &name, &len))
		return aios_fail(AIOS_ERR_NOT_FOUND, "not a model path: %.200s", path);
	if (!aios_gw_is_label(name, len, AIOS_GW_NAME_MAX))
		return aios_fail(AIOS_ERR_INVALID, "model name \"%.*s\" is not a DNS label",
		                 (int)(len > 80 ? 80 : len), name);
	copy(out->name, sizeof(out->name), name, len);
	if (!copy(out->path, sizeof(out->path), p, strlen(p)))
		return aios_fail(AIOS_ERR_INVALID, "path longer than %d bytes", AIOS_GW_PATH_MAX);
	if (ns) {
		copy(out->ns, sizeof(out->ns), ns, ns_len);
		return AIOS_OK;
	}
	/* Host NAME.NS[.domain][:port]: the first label must be the model's own name. */
	if (host) {
		size_t hl = strcspn(host, ":");
		const char *dot = memchr(host, '.', hl);
		if (dot && (size_t)(dot - host) == len && strncasecmp(host, name, len) == 0) {
			const char *h_ns = dot + 1;
			size_t h_len = strcspn(h_ns, ".:");
			char low[AIOS_GW_NS_MAX + 1];
			if (h_len <= AIOS_GW_NS_MAX) {
				for (size_t i = 0; i < h_len; i++)
					low[i] =
					    (char)(h_ns[i] >= 'A' && h_ns[i] <= 'Z' ? h_ns[i] + 32
					                                            : h_ns[i]);
				if (aios_gw_is_label(low, h_len, AIOS_GW_NS_MAX)) {
					copy(out->ns, sizeof(out->ns), low, h_len);
					return AIOS_OK;
				}
			}
		}
	}
	if (!copy(out->ns, sizeof(out->ns), default_ns, strlen(default_ns)))
		return aios_fail(AIOS_ERR_INVALID, "default namespace too long");
	return AIOS_OK;
}

/* ================================================================ picks */

/* aios_gw_pick among the endpoints of one side: canary 0 or 1, or -1 for both. */
static int pick_side(const struct aios_gw_endpoint *eps, size_t n, int exclude, int canary,
                     unsigned *rr)
{
	if (n == 0)
		return -1;
	int best = -1;
	size_t start = *rr % n;
	for (size_t k = 0; k < n; k++) {
		size_t i = (start + k) % n;
		if ((int)i == exclude || (canary >= 0 && eps[i].canary != canary))
			continue;
		if (best < 0 || eps[i].outstanding < eps[best].outstanding)
			best = (int)i;
	}
	if (best >= 0)
		*rr = (unsigned)best + 1;
	return best;
}

static int same_ep(const struct aios_gw_endpoint *a, const struct aios_gw_endpoint *b)
{
	return a->port == b->port && strcmp(a->addr, b->addr) == 0;
}

int aios_gw_pick(const struct aios_gw_endpoint *eps, size_t n, int exclude, unsigned *rr)
{
	return pick_side(eps, n, exclude, -1, rr);
}

/* ================================================================ the canary split */

void aios_gw_mark_canary(struct aios_gw_endpoint *eps, size_t n, const char *rev)
{
	size_t rl = rev ? strlen(rev) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *last = strrchr(eps[i].pod, '-');
		/* "...-<rev>-<index>": rev sits between the last two dashes */
		eps[i].canary = rl > 0 && last && (size_t)(last - eps[i].pod) > rl &&
		                last[-(ptrdiff_t)rl - 1] == '-' && memcmp(last - rl, rev, rl) == 0;
	}
}

int aios_gw_split(int weight, unsigned *acc)
{
	if (weight <= 0)
		return 0;
	if (weight >= 100)
		return 1;
	*acc += (unsigned)weight;
	if (*acc >= 100) {
		*acc -= 100;
		return 1;
	}
	return 0;
}

int aios_gw_pick_weighted(const struct aios_gw_endpoint *eps, size_t n, int exclude, int weight,
                          unsigned *acc, unsigned rr[2])
{
	if (weight < 0)
		return pick_side(eps, n, exclude, -1, &rr[0]);
	if (weight == 0)
		return pick_side(eps, n, exclude, 0, &rr[0]);
	int side = aios_gw_split(weight, acc);
	int i = pick_side(eps, n, exclude, side, &rr[side]);
	return i >= 0 ? i : pick_side(eps, n, exclude, !side, &rr[!side]);
}

size_t aios_gw_endpoints_merge(struct aios_gw_endpoint *cur, size_t *n, size_t cap,
                               const struct aios_gw_endpoint *fresh, size_t n_fresh)
{
	struct aios_gw_endpoint next[AIOS_GW_MAX_ENDPOINTS];
	size_t k = 0, dropped = 0;
	if (cap > AIOS_GW_MAX_ENDPOINTS)
		cap = AIOS_GW_MAX_ENDPOINTS;
	for (size_t i = 0; i < n_fresh; i++) {
		if (k == cap) {
			dropped++;
			continue;
		}
		next[k] = fresh[i];
		next[k].outstanding = 0;
		for (size_t j = 0; j < *n; j++)
			if (same_ep(&cur[j], &fresh[i]))
				next[k].outstanding = cur[j].outstanding;
		k++;
	}
	memcpy(cur, next, k * sizeof(*cur));
	*n = k;
	return dropped;
}

void aios_gw_unready_carry(struct aios_gw_endpoint *fresh, size_t n_fresh,
                           const struct aios_gw_endpoint *old, size_t n_old)
{
	for (size_t i = 0; i < n_fresh; i++) {
		fresh[i].probed_ms = 0;
		for (size_t j = 0; j < n_old; j++)
			if (same_ep(&fresh[i], &old[j]))
				fresh[i].probed_ms = old[j].probed_ms;
	}
}

size_t aios_gw_keep_probed(struct aios_gw_endpoint *cur, size_t *n, size_t cap,
                           const struct aios_gw_endpoint *unready, size_t n_unready, int64_t now_ms,
                           int64_t trust_ms)
{
	size_t added = 0;
	for (size_t i = 0; i < n_unready && *n < cap; i++) {
		const struct aios_gw_endpoint *u = &unready[i];
		if (!u->probed_ms || now_ms - u->probed_ms > trust_ms)
			continue;
		size_t j = 0;
		while (j < *n && !same_ep(&cur[j], u))
			j++;
		if (j < *n)
			continue;
		cur[(*n)++] = *u;
		cur[*n - 1].outstanding = 0;
		added++;
	}
	return added;
}

/* The port of one subset: the one named "http", else the first TCP one; 0 if none. */
static int subset_port(struct json_object *subset)
{
	struct json_object *ports = aios_json_lookup(subset, "ports");
	int first = 0;
	size_t np = ports && json_object_is_type(ports, json_type_array)
	                ? json_object_array_length(ports)
	                : 0;
	for (size_t i = 0; i < np; i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);
		const char *proto = aios_json_str(p, "protocol");
		const char *pname = aios_json_str(p, "name");
		int64_t port = 0;
		if (aios_json_opt_int(p, "port", 0, &port) || port <= 0 || port > 65535)
			continue;
		if (proto && strcmp(proto, "TCP") != 0)
			continue;
		if (pname && strcmp(pname, "http") == 0)
			return (int)port;
		if (!first)
			first = (int)port;
	}
	return first;
}

/* The addresses under key ("addresses" or "notReadyAddresses") of every subset. */
static size_t addresses_from_json(struct json_object *endpoints, const char *key,
                                  struct aios_gw_endpoint *out, size_t cap)
{
	struct json_object *subsets = aios_json_lookup(endpoints, "subsets");
	size_t k = 0;
	size_t ns = subsets && json_object_is_type(subsets, json_type_array)
	                ? json_object_array_length(subsets)
	                : 0;
	for (size_t i = 0; i < ns; i++) {
		struct json_object *s = json_object_array_get_idx(subsets, i);
		int port = subset_port(s);
		struct json_object *addrs = aios_json_lookup(s, key);
		if (!port || !addrs || !json_object_is_type(addrs, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(addrs) && k < cap; j++) {
			struct json_object *a = json_object_array_get_idx(addrs, j);
			const char *ip = aios_json_str(a, "ip");
			if (!ip || !*ip || strlen(ip) > AIOS_GW_ADDR_MAX)
				continue;
			const char *pod = aios_json_str(a, "targetRef.name");
			memset(&out[k], 0, sizeof(out[k]));
			snprintf(out[k].addr, sizeof(out[k].addr), "%s", ip);
			if (pod && strlen(pod) <= AIOS_GW_NAME_MAX)
				snprintf(out[k].pod, sizeof(out[k].pod), "%s", pod);
			out[k].port = port;
			k++;
		}
	}
	return k;
}

size_t aios_gw_endpoints_from_json(struct json_object *endpoints, struct aios_gw_endpoint *out,
                                   size_t cap)
{
	return addresses_from_json(endpoints, "addresses", out, cap);
}

size_t aios_gw_unready_from_json(struct json_object *endpoints, struct aios_gw_endpoint *out,
                                 size_t cap)
{
	return addresses_from_json(endpoints, "notReadyAddresses", out, cap);
}

/* ================================================================ settings */

/* An integer at path within lo..hi, else dflt. */
static int64_t int_or(struct json_object *o, const char *path, int64_t dflt, int64_t lo, int64_t hi)
{
	int64_t v;
	if (aios_json_opt_int(o, path, dflt, &v) != AIOS_OK) {
		aios_errclear();
		return dflt;
	}
	return v < lo || v > hi ? dflt : v;
}

void aios_gw_service_params(struct json_object *ms, struct aios_gw_service_params *out)
{
	out->min_replicas = (int)int_or(ms, "spec.replicas.min", 1, 0, 1000);
	out->queue_size = (int)int_or(ms, "spec.autoscaling.coldStartQueueSize",
	                              AIOS_GW_DEFAULT_QUEUE_SIZE, 0, 10000);
	out->queue_timeout_ms = (int)int_or(ms, "spec.autoscaling.coldStartTimeoutSeconds",
	                                    AIOS_GW_DEFAULT_QUEUE_TIMEOUT_S, 1, 3600) *
	                        1000;
	out->max_request_bytes = (long)int_or(ms, "spec.runtime.maxRequestBytes",
	                                      AIOS_GW_DEFAULT_MAX_REQUEST, 64, 16L << 20);
	out->desired = (int)int_or(ms, "status.desiredReplicas", -1, 0, 1000000);
	/* the split: only while a canary is analysed, or shut out once rolled back */
	const char *phase = aios_json_str(ms, "status.canary.phase");
	const char *rev = aios_json_str(ms, "status.canary.revision");
	out->canary_weight = -1;
	out->canary_revision[0] = 0;
	if (phase && rev && strlen(rev) <= AIOS_GW_NAME_MAX &&
	    (strcmp(phase, "Progressing") == 0 || strcmp(phase, "RolledBack") == 0)) {
		out->canary_weight = strcmp(phase, "RolledBack") == 0
		                         ? 0
		                         : (int)int_or(ms, "status.canary.weight", 0, 0, 100);
		snprintf(out->canary_revision, sizeof(out->canary_revision), "%s", rev);
	}
}

/* ================================================================ the queue */

void aios_gw_queue_init(struct aios_gw_queue *q, struct aios_gw_held *slot, size_t cap)
{
	q->slot = slot;
	q->cap = cap;
	q->head = q->len = 0;
}

int aios_gw_queue_push(struct aios_gw_queue *q, void *item, int64_t now_ms, int64_t timeout_ms)
{
	if (q->len >= q->cap)
		return -1;
	struct aios_gw_held *h = &q->slot[(q->head + q->len) % q->cap];
	h->item = item;
	h->since_ms = now_ms;
	h->deadline_ms = now_ms + timeout_ms;
	q->len++;
	return 0;
}

int aios_gw_queue_pop(struct aios_gw_queue *q, struct aios_gw_held *out)
{
	if (q->len == 0)
		return 0;
	*out = q->slot[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return 1;
}

int aios_gw_queue_pop_expired(struct aios_gw_queue *q, int64_t now_ms, struct aios_gw_held *out)
{
	if (q->len == 0 || q->slot[q->head].deadline_ms > now_ms)
		return 0;
	return aios_gw_queue_pop(q, out);
}

int64_t aios_gw_queue_next_deadline(const struct aios_gw_queue *q, int64_t now_ms)
{
	if (q->len == 0)
		return -1;
	int64_t left = q->slot[q->head].deadline_ms - now_ms;
	return left > 0 ? left : 0;
}

int aios_gw_retry_after_s(int queue_timeout_ms)
{
	int s = (queue_timeout_ms + 999) / 1000;
	return s < 1 ? 1 : s > 60 ? 60 : s;
}
