/*
 * podstatus.h - a pod's status as a kubelet writes it, computed from what
 * aios-node knows about each container.
 *
 * Pure: the caller passes container views and the previous status (so condition
 * lastTransitionTime only moves when a condition changes) and gets the JSON
 * `status` object to PATCH. The phase follows the kubelet's rules (getPhase in
 * pkg/kubelet/kubelet_pods.go, re-derived from its documented behaviour):
 *   any container waiting and never run                 -> Pending
 *   any running                                          -> Running
 *   all stopped: restartPolicy Always                    -> Running
 *                every one exited 0                      -> Succeeded
 *                restartPolicy Never (some failed)       -> Failed
 *                OnFailure (some failed, will restart)   -> Running
 */
#ifndef AIOS_NODE_PODSTATUS_H
#define AIOS_NODE_PODSTATUS_H

#include <json-c/json.h>
#include <stddef.h>

#include "node/podspec.h"

enum aios_ctr_state { AIOS_CTR_WAITING, AIOS_CTR_RUNNING, AIOS_CTR_TERMINATED };

struct aios_ctr_term { /* a terminated state */
	int exit_code;
	int signal;                           /* 0 if it exited by itself */
	const char *reason;                   /* "Completed", "Error", "OOMKilled"... */
	const char *message;                  /* termination message or log tail; may be NULL */
	const char *started_at, *finished_at; /* RFC 3339 */
};

struct aios_podstatus_ctr {
	const char *name, *image, *image_id, *container_id;
	enum aios_ctr_state state;
	const char *reason, *message; /* waiting: "ContainerCreating", "CrashLoopBackOff"... */
	const char *started_at;       /* running: since */
	struct aios_ctr_term term;    /* terminated: this run */
	int has_last;                 /* a previous run ended */
	struct aios_ctr_term last;
	int restart_count;
	int ready;
	int started; /* startup probe passed (or none) */
};

struct aios_podstatus_in {
	enum aios_podspec_restart restart;
	const char *pod_ip; /* NULL or "" until the sandbox exists */
	const char *host_ip;
	const char *start_time; /* when aios-node first acknowledged the pod */
	const char *now;
	const struct aios_podstatus_ctr *ctrs;
	size_t n_ctrs;
	struct json_object *old_status; /* the pod's current status (borrowed), may be NULL */
	/* A pod aios-node cannot run at all (its spec is refused): phase Failed with these. */
	const char *pod_reason, *pod_message;
};

/* The phase per the rules above ("Pending", "Running", "Succeeded", "Failed"). */
const char *aios_podstatus_phase(const struct aios_podstatus_in *in);

/* Builds the whole status object (caller owns). */
struct json_object *aios_podstatus_build(const struct aios_podstatus_in *in);

#endif
