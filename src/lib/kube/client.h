/*
 * client.h - a Kubernetes API client on the project's HTTP client (http/client.h:
 * libcurl, TLS by OpenSSL, HTTP/2 where the server offers it): typed verbs on JSON.
 *
 * One struct aios_kube_client per program, shared by every thread: each call takes an
 * idle HTTP handle (and its keep-alive connection) from a small pool and returns it
 * after. The server URL may be http:// or https:// and may carry a path prefix. TLS
 * material is read and checked when the client is made (AIOS_ERR_TLS names the field
 * at fault). Proxies: the cluster's proxy-url, else HTTPS_PROXY/NO_PROXY (libcurl).
 *
 * Objects go in and out as json-c objects. Inputs are borrowed; returned objects are
 * owned by the caller (json_object_put). Response bodies are bounded by
 * AIOS_CAP_API_BODY.
 *
 * Errors: a non-2xx answer is decoded from the API's Status body into enum aios_err,
 * with an aios_fail message that carries the server's own words:
 *   404 NOT_FOUND, 409 Conflict -> CONFLICT, 409 AlreadyExists -> EXISTS, 410 GONE,
 *   400/422 INVALID (message lists the field causes, e.g. "spec.optimizer.epochs:
 *   Invalid value: -1: ..."), 401 UNAUTHORIZED, 403 FORBIDDEN (the RBAC message names
 *   the user, verb and resource), 429/5xx and connection failures UNAVAILABLE (see
 *   aios_kube_response.retry_after_s), a body we cannot read PROTOCOL, TLS failures TLS.
 */
#ifndef AIOS_KUBE_CLIENT_H
#define AIOS_KUBE_CLIENT_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "kube/config.h"

/* ---- resources ------------------------------------------------------------ */

/* Group/version/resource of a kind. group "" is the core group (/api/v1). */
struct aios_kube_gvr {
	const char *group;
	const char *version;
	const char *resource; /* lower-case plural: "pods" */
	int namespaced;
};

extern const struct aios_kube_gvr aios_kube_namespaces, aios_kube_pods, aios_kube_services,
    aios_kube_endpoints, aios_kube_configmaps, aios_kube_secrets, aios_kube_events, aios_kube_nodes,
    aios_kube_pvs, aios_kube_pvcs, aios_kube_serviceaccounts, aios_kube_leases, aios_kube_crds,
    aios_kube_trainingjobs, aios_kube_modelservices;

/* One object, or a collection when name is NULL. ns NULL or "" addresses a
 * cluster-scoped resource, or all namespaces for a namespaced collection. */
struct aios_kube_ref {
	const struct aios_kube_gvr *gvr;
	const char *ns;
	const char *name;
	const char *subresource; /* "status", "scale", "binding", "log"..., or NULL */
};

/* Convenience constructor: (struct aios_kube_ref){gvr, ns, name, NULL}. */
static inline struct aios_kube_ref aios_kube_ref(const struct aios_kube_gvr *gvr, const char *ns,
                                                 const char *name)
{
	struct aios_kube_ref r = {gvr, ns, name, 0};
	return r;
}

/* The URL path of r ("/apis/aios.dev/v1alpha1/namespaces/ns/trainingjobs/x/status").
 * Names are percent-escaped. Caller frees. */
char *aios_kube_path(const struct aios_kube_ref *r);

/* ---- the client ----------------------------------------------------------- */

struct aios_kube_client;

/* Builds a client from cfg (copied; cfg may be freed after). Caller frees *out. */
enum aios_err aios_kube_client_new(const struct aios_kube_config *cfg,
                                   struct aios_kube_client **out) AIOS_MUST_CHECK;
void aios_kube_client_free(struct aios_kube_client *c);

/* The configuration's default namespace (owned by the client). */
const char *aios_kube_client_namespace(const struct aios_kube_client *c);

/* Timeout of a whole non-watch request, ms (default 30000; 0 = none). */
void aios_kube_client_set_timeout_ms(struct aios_kube_client *c, int64_t ms);

/* User-Agent header (default "aios/VERSION"); copied. */
void aios_kube_client_set_user_agent(struct aios_kube_client *c, const char *ua);

/* Called after every request with the verb ("get", "list", "watch", "create",
 * "update", "patch", "delete", or the raw method) and the HTTP code (0 when no
 * answer came). Set before sharing the client between threads. */
typedef void (*aios_kube_metrics_fn)(void *arg, const char *verb, int code);
void aios_kube_client_set_metrics_hook(struct aios_kube_client *c, aios_kube_metrics_fn fn,
                                       void *arg);

/* Options of one call, given at the call site (client-go's per-call context). NULL
 * means the client's timeout, stopped by a process shutdown. */
struct aios_kube_call_opts {
	int64_t timeout_ms; /* > 0: this call's whole deadline, instead of the client's */
	int past_shutdown;  /* 1: runs through a process-wide shutdown (releasing a Lease) */
};

/* ---- verbs ---------------------------------------------------------------- */

struct aios_kube_list_opts {
	const char *label_selector;   /* "app=x,tier!=db" or NULL */
	const char *field_selector;   /* "metadata.name=x" or NULL */
	int64_t limit;                /* page size; 0 = server default (everything) */
	const char *continue_token;   /* from the previous page's metadata.continue */
	const char *resource_version; /* NULL: most recent (quorum read) */
};

/* Options of writes; NULL means defaults. */
struct aios_kube_write_opts {
	const char *field_manager; /* required for server-side apply */
	int force;                 /* apply: take ownership of conflicting fields */
	int dry_run;               /* dryRun=All */
};

struct aios_kube_delete_opts {
	const char *propagation_policy; /* "Foreground", "Background", "Orphan" or NULL */
	const char *precondition_uid;   /* delete only this incarnation */
	const char *precondition_rv;    /* delete only at this resourceVersion */
	int64_t grace_period_seconds;   /* -1 = the object's default */
};

enum aios_kube_patch_type {
	AIOS_KUBE_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
	AIOS_KUBE_PATCH_JSON,      /* application/json-patch+json (RFC 6902), body is an array */
	AIOS_KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in kinds) */
	AIOS_KUBE_PATCH_APPLY      /* server-side apply; needs opts->field_manager */
};

/* GET r (r->name set). *out: the object. */
enum aios_err aios_kube_get(struct aios_kube_client *c, const struct aios_kube_ref *r,
                            struct json_object **out) AIOS_MUST_CHECK;

/* One page of LIST r (r->name NULL). *out: the List; its metadata.continue, if any,
 * names the next page. */
enum aios_err aios_kube_list(struct aios_kube_client *c, const struct aios_kube_ref *r,
                             const struct aios_kube_list_opts *o,
                             struct json_object **out) AIOS_MUST_CHECK;

/* Every page of LIST r, following continue tokens (page size o->limit, 500 if 0).
 * *out: one List with all items and the snapshot's metadata.resourceVersion. A 410
 * on an expired continue token is returned as AIOS_ERR_GONE. */
enum aios_err aios_kube_list_all(struct aios_kube_client *c, const struct aios_kube_ref *r,
                                 const struct aios_kube_list_opts *o,
                                 struct json_object **out) AIOS_MUST_CHECK;

/* aios_kube_get, aios_kube_create and aios_kube_replace with call options. */
enum aios_err aios_kube_get_with(struct aios_kube_client *c, const struct aios_kube_call_opts *co,
                                 const struct aios_kube_ref *r,
                                 struct json_object **out) AIOS_MUST_CHECK;
enum aios_err aios_kube_create_with(struct aios_kube_client *c,
                                    const struct aios_kube_call_opts *co,
                                    const struct aios_kube_ref *r, struct json_object *obj,
                                    const struct aios_kube_write_opts *o,
                                    struct json_object **out) AIOS_MUST_CHECK;
enum aios_err aios_kube_replace_with(struct aios_kube_client *c,
                                     const struct aios_kube_call_opts *co,
                                     const struct aios_kube_ref *r, struct json_object *obj,
                                     const struct aios_kube_write_opts *o,
                                     struct json_object **out) AIOS_MUST_CHECK;

/* POST obj to the collection r (r->name NULL). out may be NULL. */
enum aios_err aios_kube_create(struct aios_kube_client *c, const struct aios_kube_ref *r,
                               struct json_object *obj, const struct aios_kube_write_opts *o,
                               struct json_object **out) AIOS_MUST_CHECK;

/* PUT obj to r (r->name set; r->subresource "status" writes the status). The object's
 * metadata.resourceVersion, when set, makes this a compare-and-swap: a stale one
 * fails with AIOS_ERR_CONFLICT. out may be NULL. */
enum aios_err aios_kube_replace(struct aios_kube_client *c, const struct aios_kube_ref *r,
                                struct json_object *obj, const struct aios_kube_write_opts *o,
                                struct json_object **out) AIOS_MUST_CHECK;

/* PUT obj's status to r's status subresource (r->subresource is ignored). */
enum aios_err aios_kube_update_status(struct aios_kube_client *c, const struct aios_kube_ref *r,
                                      struct json_object *obj,
                                      struct json_object **out) AIOS_MUST_CHECK;

/* PATCH r with patch (an object, or an array for JSON patch). out may be NULL. */
enum aios_err aios_kube_patch(struct aios_kube_client *c, const struct aios_kube_ref *r,
                              enum aios_kube_patch_type type, struct json_object *patch,
                              const struct aios_kube_write_opts *o,
                              struct json_object **out) AIOS_MUST_CHECK;

/* DELETE r. o may be NULL. out (may be NULL) gets the answer: the object while it is
 * being finalized, or a Status. */
enum aios_err aios_kube_delete(struct aios_kube_client *c, const struct aios_kube_ref *r,
                               const struct aios_kube_delete_opts *o,
                               struct json_object **out) AIOS_MUST_CHECK;

/* ---- raw requests --------------------------------------------------------- */

struct aios_kube_response {
	long code;            /* HTTP status, 0 if none came */
	struct aios_buf body; /* the body, bounded by AIOS_CAP_API_BODY */
	int retry_after_s;    /* Retry-After seconds, 0 if absent */
	int http_version;     /* 1 or 2 */
};

/* Frees the response's body (the struct itself is the caller's). */
void aios_kube_response_cleanup(struct aios_kube_response *resp);

/* Any request: method "GET"/"POST"/..., path_query "/api/v1/namespaces/x/services/
 * y:8080/proxy/metrics" (already escaped), an optional body with its content type.
 * resp is initialised here and always filled as far as the exchange went; the caller
 * cleans it up. Non-2xx answers return the decoded error as described above. */
enum aios_err aios_kube_request(struct aios_kube_client *c, const char *method,
                                const char *path_query, const char *content_type, const char *body,
                                size_t body_len, struct aios_kube_response *resp) AIOS_MUST_CHECK;

/* Decodes a failed answer (HTTP code and body, a Status or anything else) into an
 * error with its aios_fail message; what names the request ("get configmaps x").
 * Exposed for the watch and for tests. */
enum aios_err aios_kube_status_error(long code, const char *body, size_t len,
                                     const char *what) AIOS_MUST_CHECK;

/* ---- object helpers ------------------------------------------------------- */

/* Writes the store key of obj, "namespace/name" (or "name" when cluster-scoped),
 * into out. AIOS_ERR_INVALID if obj has no metadata.name, TOO_BIG if n is short. */
enum aios_err aios_kube_key(struct json_object *obj, char *out, size_t n) AIOS_MUST_CHECK;

#endif
