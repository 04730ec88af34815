/*
 * nodeauth.c - authentication and authorization of the kubelet port (see nodeauth.h):
 * a TokenReview for a bearer token, a SubjectAccessReview for every identity, both
 * answers cached by the SHA-256 of the question.
 */
#include "node/nodeauth.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "http/tls_io.h"
#include "kube/client.h"

#define AUTHENTICATED_GROUP "system:authenticated" /* every authenticated user's */

static const struct aios_kube_gvr tokenreviews = {"authentication.k8s.io", "v1", "tokenreviews", 0};
static const struct aios_kube_gvr subjectaccessreviews = {"authorization.k8s.io", "v1",
                                                          "subjectaccessreviews", 0};

struct entry {
	uint8_t key[AIOS_SHA256_LEN];
	/* access: 1 allowed, 0 denied; token: 1 authenticated, 0 not, 2 authenticated as a
	 * user name longer than who.cn holds (refused) */
	int ok;
	int64_t expires_ms;       /* monotonic; 0: empty */
	struct aios_tls_peer who; /* token entries: the user it names */
};

struct aios_nodeauth {
	struct aios_kube_client *kc;
	char *node;
	pthread_mutex_t mu; /* guards cache */
	struct entry cache[AIOS_NODEAUTH_CACHE];
};

struct aios_nodeauth *aios_nodeauth_new(struct aios_kube_client *kc, const char *node_name)
{
	struct aios_nodeauth *a = aios_xcalloc(1, sizeof *a);
	a->kc = kc;
	a->node = aios_xstrdup(node_name);
	pthread_mutex_init(&a->mu, NULL);
	return a;
}

void aios_nodeauth_free(struct aios_nodeauth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	free(a->node);
	free(a);
}

/* ------------------------------------------------------------------ the cache */

/* 1 and *out when key has an answer that has not expired. */
static int cache_get(struct aios_nodeauth *a, const uint8_t key[AIOS_SHA256_LEN], struct entry *out)
{
	int64_t now = aios_now_ms();
	int hit = 0;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < AIOS_NODEAUTH_CACHE; i++) {
		const struct entry *e = &a->cache[i];
		if (e->expires_ms > now && memcmp(e->key, key, AIOS_SHA256_LEN) == 0) {
			*out = *e;
			hit = 1;
			break;
		}
	}
	pthread_mutex_unlock(&a->mu);
	return hit;
}

/* Stores e over the entry of the same key, else in an expired slot, else over the
 * entry that expires first. */
static void cache_put(struct aios_nodeauth *a, const struct entry *e)
{
	int64_t now = aios_now_ms();
	pthread_mutex_lock(&a->mu);
	size_t victim = 0;
	for (size_t i = 0; i < AIOS_NODEAUTH_CACHE; i++) {
		const struct entry *c = &a->cache[i];
		if (memcmp(c->key, e->key, AIOS_SHA256_LEN) == 0 || c->expires_ms <= now) {
			victim = i;
			break;
		}
		if (c->expires_ms < a->cache[victim].expires_ms)
			victim = i;
	}
	a->cache[victim] = *e;
	pthread_mutex_unlock(&a->mu);
}

/* ------------------------------------------------------------------ the kubelet's mapping */

const char *aios_nodeauth_subresource(const char *path)
{
	static const char *const map[][2] = {
	    {"/stats", "stats"}, {"/metrics", "metrics"}, {"/logs", "log"}, {"/spec", "spec"}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		size_t l = strlen(map[i][0]);
		if (strncmp(path, map[i][0], l) == 0 && (path[l] == '\0' || path[l] == '/'))
			return map[i][1];
	}
	return "proxy";
}

const char *aios_nodeauth_verb(const char *method)
{
	static const char *const map[][2] = {{"GET", "get"},     {"HEAD", "get"},
	                                     {"POST", "create"}, {"PUT", "update"},
	                                     {"PATCH", "patch"}, {"DELETE", "delete"}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(method, map[i][0]) == 0)
			return map[i][1];
	return "";
}

/* ------------------------------------------------------------------ the reviews */

/* POSTs a review and returns the answer (caller puts it), or NULL with the failure
 * logged as kubelet_auth_unavailable. Takes req. */
static struct json_object *post_review(struct aios_nodeauth *a, const struct aios_kube_gvr *gvr,
                                       struct json_object *req)
{
	struct aios_kube_ref r = aios_kube_ref(gvr, NULL, NULL);
	struct aios_kube_call_opts co = {.timeout_ms = AIOS_NODEAUTH_CALL_MS};
	struct json_object *out = NULL;
	enum aios_err err = aios_kube_create_with(a->kc, &co, &r, req, NULL, &out);
	json_object_put(req);
	if (err) {
		aios_warn("kubelet_auth_unavailable", "%s: %s", gvr->resource, aios_errmsg());
		return NULL;
	}
	return out;
}

static struct json_object *review_object(const char *api_version, const char *kind,
                                         struct json_object *spec)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "apiVersion", json_object_new_string(api_version));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "spec", spec);
	return o;
}

/* A TokenReview of token: 1 authenticated (*who filled), 0 not, 2 authenticated as a
 * user whose name does not fit *who, -1 the API server did not answer. */
static int review_token(struct aios_nodeauth *a, const char *token, struct aios_tls_peer *who)
{
	struct entry e;
	memset(&e, 0, sizeof e);
	struct aios_sha256 *h = aios_sha256_new();
	aios_sha256_update(h, "token", 6); /* with its NUL: never an access key */
	aios_sha256_update(h, token, strlen(token));
	aios_sha256_final(h, e.key);
	struct entry hit;
	if (cache_get(a, e.key, &hit)) {
		*who = hit.who;
		return hit.ok;
	}
	struct json_object *spec = json_object_new_object();
	json_object_object_add(spec, "token", json_object_new_string(token));
	struct json_object *out = post_review(
	    a, &tokenreviews, review_object("authentication.k8s.io/v1", "TokenReview", spec));
	if (!out)
		return -1;
	int authed = 0;
	if (aios_json_opt_bool(out, "status.authenticated", 0, &authed) != AIOS_OK)
		authed = 0;
	const char *user = aios_json_str(out, "status.user.username");
	e.ok = authed && user && *user ? (strlen(user) < sizeof e.who.cn ? 1 : 2) : 0;
	if (e.ok == 1) {
		snprintf(e.who.cn, sizeof e.who.cn, "%s", user);
		struct json_object *g = aios_json_lookup(out, "status.user.groups");
		size_t ng =
		    g && json_object_is_type(g, json_type_array) ? json_object_array_length(g) : 0;
		/* groups past the table are left out: under RBAC fewer groups never grant more */
		for (size_t i = 0; i < ng && e.who.n_orgs < AIOS_TLS_PEER_MAX_ORGS; i++) {
			struct json_object *gi = json_object_array_get_idx(g, i);
			const char *s = json_object_is_type(gi, json_type_string)
			                    ? json_object_get_string(gi)
			                    : NULL;
			if (s && *s && strlen(s) < sizeof e.who.orgs[0])
				snprintf(e.who.orgs[e.who.n_orgs++], sizeof e.who.orgs[0], "%s", s);
		}
	}
	json_object_put(out);
	e.expires_ms = aios_now_ms() + (int64_t)AIOS_NODEAUTH_TOKEN_TTL_S * 1000;
	cache_put(a, &e);
	*who = e.who;
	return e.ok;
}

/* A SubjectAccessReview of who doing verb on nodes/sub of this node: 1 allowed, 0 denied,
 * -1 the API server did not answer. */
static int review_access(struct aios_nodeauth *a, const struct aios_tls_peer *who, const char *verb,
                         const char *sub)
{
	struct entry e;
	memset(&e, 0, sizeof e);
	struct aios_sha256 *h = aios_sha256_new();
	const char *parts[] = {"access", who->cn, verb, sub};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		aios_sha256_update(h, parts[i], strlen(parts[i]) + 1); /* NUL-separated */
	for (int i = 0; i < who->n_orgs; i++)
		aios_sha256_update(h, who->orgs[i], strlen(who->orgs[i]) + 1);
	aios_sha256_final(h, e.key);
	struct entry hit;
	if (cache_get(a, e.key, &hit))
		return hit.ok;

	struct json_object *spec = json_object_new_object(), *groups = json_object_new_array();
	json_object_object_add(spec, "user", json_object_new_string(who->cn));
	int has_authenticated = 0;
	for (int i = 0; i < who->n_orgs; i++) {
		json_object_array_add(groups, json_object_new_string(who->orgs[i]));
		has_authenticated |= strcmp(who->orgs[i], AUTHENTICATED_GROUP) == 0;
	}
	if (!has_authenticated) /* the kubelet adds it to every authenticated user */
		json_object_array_add(groups, json_object_new_string(AUTHENTICATED_GROUP));
	json_object_object_add(spec, "groups", groups);
	struct json_object *ra = json_object_new_object();
	json_object_object_add(ra, "verb", json_object_new_string(verb));
	json_object_object_add(ra, "resource", json_object_new_string("nodes"));
	json_object_object_add(ra, "subresource", json_object_new_string(sub));
	json_object_object_add(ra, "name", json_object_new_string(a->node));
	json_object_object_add(spec, "resourceAttributes", ra);
	struct json_object *out =
	    post_review(a, &subjectaccessreviews,
	                review_object("authorization.k8s.io/v1", "SubjectAccessReview", spec));
	if (!out)
		return -1;
	if (aios_json_opt_bool(out, "status.allowed", 0, &e.ok) != AIOS_OK)
		e.ok = 0;
	json_object_put(out);
	int ttl_s = e.ok ? AIOS_NODEAUTH_ALLOW_TTL_S : AIOS_NODEAUTH_DENY_TTL_S;
	e.expires_ms = aios_now_ms() + (int64_t)ttl_s * 1000;
	cache_put(a, &e);
	return e.ok;
}

/* ------------------------------------------------------------------ the decision */

/* The token of an "Authorization: Bearer <token>" value, or NULL (another scheme, an
 * empty token, one holding a space or a control character). */
static const char *bearer_token(const char *authorization)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *t = authorization + 7;
	while (*t == ' ')
		t++;
	if (!*t)
		return NULL;
	for (const char *p = t; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return NULL;
	return t;
}

int aios_nodeauth_check(struct aios_nodeauth *a, const struct aios_tls_peer *peer,
                        const char *authorization, const char *method, const char *path, char *msg,
                        size_t n)
{
	struct aios_tls_peer who;
	if (peer) {
		who = *peer;
	} else {
		const char *token = bearer_token(authorization);
		if (!token) {
			snprintf(
			    msg, n,
			    "Unauthorized: this kubelet port needs a client certificate of its "
			    "client CA (the API server's --kubelet-client-certificate) or a "
			    "bearer token");
			return 401;
		}
		if (strlen(token) > AIOS_NODEAUTH_TOKEN_MAX) {
			snprintf(msg, n, "Unauthorized: a bearer token longer than %u bytes",
			         AIOS_NODEAUTH_TOKEN_MAX);
			return 401;
		}
		int r = review_token(a, token, &who);
		if (r < 0) {
			snprintf(msg, n,
			         "the API server could not review the bearer token (TokenReview); "
			         "try again");
			return 503;
		}
		if (r == 0) {
			snprintf(msg, n,
			         "Unauthorized: the API server did not accept the bearer token");
			return 401;
		}
		if (r == 2) {
			snprintf(
			    msg, n,
			    "Unauthorized: the bearer token's user name is longer than %zu bytes",
			    sizeof who.cn - 1);
			return 401;
		}
	}
	const char *verb = aios_nodeauth_verb(method), *sub = aios_nodeauth_subresource(path);
	int r = review_access(a, &who, verb, sub);
	if (r < 0) {
		snprintf(
		    msg, n,
		    "the API server could not review access to nodes/%s (SubjectAccessReview); "
		    "try again",
		    sub);
		return 503;
	}
	if (r == 0) {
		snprintf(msg, n, "Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)",
		         who.cn, verb, sub);
		return 403;
	}
	return 200;
}
