/*
 * controller.h - how a controller plugs into the aios-operator manager.
 *
 * A controller reconciles one kind (TrainingJob, ModelService). It is a constant
 * struct aios_controller: a name (the `kind` label of the operator's metrics and the
 * name of its work queue), the primary resource it reconciles, the child resources
 * whose events wake it, and a reconcile(key) function. The manager (manager.h) owns
 * everything else: one shared informer per watched resource, one work queue per
 * controller (a key is never reconciled twice at once; failures retry with per-key
 * exponential backoff), the worker threads, leader election and the metrics.
 *
 * Events map to keys ("namespace/name"):
 *   - an event on the primary resource enqueues that object's key;
 *   - an event on a child (AIOS_WATCH_OWNER) enqueues the key of the object named
 *     by the child's `owner_label` label in the child's namespace (pods of a
 *     TrainingJob carry aios.dev/job=<name>); the informer for the child watches only
 *     objects that carry that label (label selector "<owner_label>").
 *
 * reconcile() is level-based and idempotent: read the object from the cache
 * (aios_manager_get), render what should exist, create what is missing (AlreadyExists
 * is success), delete what is surplus (NotFound is success), write status only when
 * it changed. Return AIOS_OK when done (set *requeue_after_ms > 0 to be woken again
 * later, e.g. for a deadline), or an error to be retried with backoff. A deleted
 * object reaches reconcile() too: aios_manager_get() returns NULL, and children
 * carrying a controller ownerReference are garbage-collected by the API server.
 *
 * ---- For the ModelService engineer ----
 * Define `const struct aios_controller aios_modelservice_controller` in your
 * modelservice_*.c (declare it below, in the marked spot), with .resource =
 * &aios_kube_modelservices (kube/client.h) and .watches naming aios_kube_pods (owner
 * label aios.dev/service) and aios_kube_services; then add one line in main.c at the marked spot:
 *     aios_manager_add(m, &aios_modelservice_controller);
 * The manager calls init() once before informers start (allocate your state, declare
 * your metrics through aios_manager_metrics()) and cleanup() after workers stop.
 * Background loops (an autoscaler tick) can be run by a reconcile that asks to be
 * requeued every N ms, or by a thread you start in init() and stop in cleanup(); use
 * aios_manager_enqueue() to wake a key from any thread.
 */
#ifndef AIOS_OPERATOR_CONTROLLER_H
#define AIOS_OPERATOR_CONTROLLER_H

#include <stdint.h>

#include <json-c/json.h>

#include "common/err.h"
#include "kube/client.h"

struct aios_manager;

enum aios_watch_map {
	AIOS_WATCH_SELF,  /* key of the object itself */
	AIOS_WATCH_OWNER, /* key "<ns>/<value of owner_label>" */
};

struct aios_watch {
	const struct aios_kube_gvr *res; /* aios_kube_pods, aios_kube_services, ... */
	enum aios_watch_map map;
	const char *owner_label; /* AIOS_WATCH_OWNER: label naming the owner; also the selector */
	/* Optional: trims each object before the cache stores it (drop what reconcile never
	 * reads: memory). NULL: aios_kube_strip_managed_fields. An informer shared by two
	 * watches with different transforms falls back to the default. */
	void (*transform)(struct json_object *obj);
};

#define AIOS_CONTROLLER_MAX_WATCHES 4

struct aios_controller {
	const char *name;                     /* "trainingjob": metrics label kind, queue name */
	const struct aios_kube_gvr *resource; /* primary resource (watched, AIOS_WATCH_SELF) */
	struct aios_watch watches[AIOS_CONTROLLER_MAX_WATCHES]; /* children; res NULL ends */

	/* Optional: called once before informers start; *state is passed to reconcile. */
	enum aios_err (*init)(struct aios_manager *m, void **state);
	/* Optional: called after the workers stopped. */
	void (*cleanup)(struct aios_manager *m, void *state);
	/* Reconciles one object; see the contract above. Runs on a worker thread. */
	enum aios_err (*reconcile)(struct aios_manager *m, void *state, const char *ns,
	                           const char *name, int64_t *requeue_after_ms);
	/* Optional: the transform of the primary resource's informer (as in aios_watch). */
	void (*transform)(struct json_object *obj);
};

/* The controllers this operator ships. */
extern const struct aios_controller aios_trainingjob_controller;
/* ---- ModelService engineer: declare your controller here ---- */
extern const struct aios_controller aios_modelservice_controller;

#endif
