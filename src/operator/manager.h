/*
 * manager.h - the aios-operator controller manager, shaped like controller-runtime's.
 *
 * Start order (aios_manager_run): serve /healthz, /readyz and /metrics; start one
 * informer per watched resource and wait until each has listed once (/readyz turns
 * 200 then); take the Lease when leader election is on; start the workers, which run
 * the controllers' reconcile(key). SIGTERM (shutdown.h) stops the queues, lets the
 * workers finish the keys they hold, stops the informers, releases the Lease, and
 * returns.
 *
 * The functions below are the toolbox a reconcile uses. They are safe from any
 * thread. API writes go through the manager so that every request is counted in
 * aios_operator_api_requests_total{verb,code}; their errors follow err.h
 * (AIOS_ERR_EXISTS for AlreadyExists, AIOS_ERR_NOT_FOUND, AIOS_ERR_CONFLICT for a
 * stale resourceVersion, AIOS_ERR_FORBIDDEN when RBAC refuses) with a message naming
 * the object.
 */
#ifndef AIOS_OPERATOR_MANAGER_H
#define AIOS_OPERATOR_MANAGER_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "kube/client.h"
#include "operator/controller.h"

struct aios_metrics;

struct aios_manager_config {
	const char *kubeconfig; /* NULL: $KUBECONFIG, ~/.kube/config, then in-cluster */
	const char *context;    /* kubeconfig context, NULL = current */
	const char *namespace_; /* watch one namespace; NULL or "" = all */
	int leader_elect;       /* take the Lease before starting workers */
	const char *leader_election_namespace; /* default: the pod's namespace or "aios-system" */
	const char *leader_election_id;        /* Lease name, default "aios-operator" */
	const char *metrics_bind_address;      /* "[host]:port", default ":8080"; "0" disables */
	const char *health_probe_bind_address; /* default ":8081"; "0" disables */
	int workers;                           /* worker threads per controller, default 2 */
	const char *identity;                  /* leader identity, default hostname_pid */
};

struct aios_manager;

void aios_manager_config_defaults(struct aios_manager_config *c);

/* Builds a manager (connects to nothing yet). Strings in c must outlive it. */
enum aios_err aios_manager_new(const struct aios_manager_config *c,
                               struct aios_manager **out) AIOS_MUST_CHECK;
/* Registers a controller (before run). ---- The list of controllers lives in main.c. */
void aios_manager_add(struct aios_manager *m, const struct aios_controller *c);
/* Runs until shutdown is requested (shutdown.h); returns the first fatal error or OK. */
enum aios_err aios_manager_run(struct aios_manager *m) AIOS_MUST_CHECK;
void aios_manager_free(struct aios_manager *m);

/* Bound ports after start (for tests that bind port 0). */
int aios_manager_metrics_port(struct aios_manager *m);
int aios_manager_health_port(struct aios_manager *m);

/*
 * ---- cache reads (informers) ----
 * Each read parses the store's shared text into a tree for the caller (informer.h), so
 * reads never race. Controllers still treat what they read as read-only, and
 * aios_json_copy() what they will change (a status to write, a job re-planned): one
 * rule for every controller, whatever the store keeps.
 */

/* The cached object or NULL; drop it with aios_kube_obj_put(). Read-only. */
struct json_object *aios_manager_get(struct aios_manager *m, const struct aios_kube_gvr *r,
                                     const char *ns, const char *name);
/*
 * Cached objects of r in ns whose label `label` equals value (value NULL: the label
 * exists). *out: read-only trees; free with aios_kube_objs_free(*out, n).
 */
size_t aios_manager_list(struct aios_manager *m, const struct aios_kube_gvr *r, const char *ns,
                         const char *label, const char *value, struct json_object ***out);
/* Cached objects of r whose controller ownerReference has owner_uid (same freeing). */
size_t aios_manager_owned(struct aios_manager *m, const struct aios_kube_gvr *r,
                          const char *owner_uid, struct json_object ***out);

/* ---- API writes (counted in the metrics) ---- */

/* POST; *out (optional) receives the created object. */
enum aios_err aios_manager_create(struct aios_manager *m, const struct aios_kube_gvr *r,
                                  const char *ns, struct json_object *obj,
                                  struct json_object **out) AIOS_MUST_CHECK;
/* DELETE with background propagation; uid (optional) is a precondition. */
enum aios_err aios_manager_delete(struct aios_manager *m, const struct aios_kube_gvr *r,
                                  const char *ns, const char *name,
                                  const char *uid) AIOS_MUST_CHECK;
/* PUT .../status of obj (its metadata.resourceVersion is the precondition). */
enum aios_err aios_manager_update_status(struct aios_manager *m, const struct aios_kube_gvr *r,
                                         struct json_object *obj,
                                         struct json_object **out) AIOS_MUST_CHECK;
/* GET from the API server (not the cache): for a fresh resourceVersion after a 409. */
enum aios_err aios_manager_fetch(struct aios_manager *m, const struct aios_kube_gvr *r,
                                 const char *ns, const char *name,
                                 struct json_object **out) AIOS_MUST_CHECK;

/* Records a core/v1 Event about obj (type "Normal" or "Warning"); failures are logged. */
void aios_manager_event(struct aios_manager *m, const struct aios_kube_gvr *r,
                        struct json_object *obj, const char *type, const char *reason,
                        const char *fmt, ...) AIOS_PRINTF(6, 7);

/* Wakes key "ns/name" of controller c after ms (0: now). */
void aios_manager_enqueue(struct aios_manager *m, const struct aios_controller *c, const char *ns,
                          const char *name, int64_t after_ms);

/* The registry served at /metrics (declare controller metrics in init()). */
struct aios_metrics *aios_manager_metrics(struct aios_manager *m);

#endif
