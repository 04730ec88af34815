/*
 * node_internal.h - the agent's state, shared by agent.c (the pod loop),
 * nodeapi.c (Node, Lease, provisioner) and kubelet.c (the kubelet port).
 * Not a public contract: only files of src/node include it.
 *
 * Threads: the pod loop owns everything; the kubelet port's thread only reads the
 * pod list under `lock` (names and log paths).
 */
#ifndef AIOS_NODE_INTERNAL_H
#define AIOS_NODE_INTERNAL_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/http.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "node/agent.h"
#include "node/apiproxy.h"
#include "node/nodeauth.h"
#include "node/nodenet.h"
#include "node/podspec.h"
#include "node/podstatus.h"

struct node_term {
	int exit_code, signal;
	char *reason, *message;
	char started_at[32], finished_at[32];
};

struct aios_probe_run;

struct node_probe_state {
	int64_t next_ms;            /* monotonic time of the next run */
	struct aios_probe_run *run; /* the run in flight (probe.h), or NULL */
	int successes, failures;
};

struct node_ctr {
	char *name;
	char *log_path, *prev_log_path, *term_path; /* host files */
	pid_t pid;                                  /* > 0 while running */
	pid_t group; /* its process group, until every member is gone */
	enum aios_ctr_state state;
	char *reason, *message; /* waiting */
	char started_at[32];
	int64_t started_ms;
	struct node_term term, last;
	int has_last;
	int restart_count;
	int ready, started;
	struct node_probe_state rd, lv, su;
	int64_t next_start_ms; /* back-off: not before */
	int backoff_s;
	int64_t kill_at_ms; /* SIGKILL after this if still running (0: none) */
	int done;           /* terminated and will not restart */
};

struct node_pod {
	char *uid, *ns, *name;
	char *dir;               /* <state>/pods/<uid> */
	struct json_object *obj; /* latest object from the informer (shared reference) */
	struct aios_podspec *spec;
	char netns[AIOS_NODENET_NAME_MAX + 16], veth[AIOS_NODENET_NAME_MAX];
	char ip[16];
	long ip_idx; /* -1: none */
	int net_up;
	char **vol_dirs;
	char start_time[32];
	struct node_ctr *ctrs;
	size_t n_ctrs;
	char *pod_reason, *pod_message; /* refused: phase Failed */
	char *setup_msg; /* why the sandbox is not ready (ContainerCreating message) */
	int64_t setup_next_ms;
	int terminating;
	int finished; /* every container done: sandbox given back, never remade */
	int64_t kill_at_ms;
	int seen;               /* present in the last informer listing */
	char *last_status;      /* the status JSON last written */
	int64_t status_next_ms; /* retry time after a failed write */
	struct node_pod *next;
};

struct aios_node {
	const struct aios_node_opts *o;
	char *node_name;
	char *node_uid;
	struct aios_cidr cidr;
	char host_ip[16];
	struct aios_kube_client *kc;
	struct aios_kube_informer *pods_inf;
	struct aios_http_server *http;    /* the kubelet port */
	struct aios_http_server *healthz; /* the healthz port, or NULL */
	char *tls_cert, *tls_key;         /* kubelet port pair (heap paths) */
	char *client_ca;                  /* its client CA bundle (heap path), or NULL */
	struct aios_nodeauth *auth;       /* who may use the kubelet port (nodeauth.h) */
	struct aios_apiproxy *apiproxy;   /* the `kubernetes` Service forwarder, or NULL */
	int api_port;                     /* its port, pods' KUBERNETES_SERVICE_PORT (0: none) */
	pthread_mutex_t lock;             /* guards the pod list for the kubelet port */
	struct node_pod *pods;
	uint8_t *ip_used; /* one byte per address of the range */
	uint32_t ip_next; /* where the next address search starts (agent.c ip_alloc) */
	int64_t lease_next_ms, status_next_ms, provision_next_ms;
};

/* nodeapi.c */
enum aios_err node_register(struct aios_node *n) AIOS_MUST_CHECK;
void node_heartbeat(struct aios_node *n); /* Lease and, when due, Node status */
void node_provision(struct aios_node *n); /* PVs for pending claims; released ones deleted */

/* kubelet.c */
/* Sets n->client_ca: o->client_ca, else the kubeconfig's certificate authority (its
 * inline bytes written to <state>/pki/client-ca.crt), else NULL (warned: only bearer
 * tokens can then authenticate, and the API server's `kubectl logs` is refused). */
enum aios_err node_client_ca(struct aios_node *n,
                             const struct aios_kube_config *cfg) AIOS_MUST_CHECK;
enum aios_err node_kubelet_start(struct aios_node *n) AIOS_MUST_CHECK;
/* Reads the last tail_lines lines (-1: all) and at most limit bytes (-1: no limit) of
 * path into out. */
enum aios_err node_log_tail(const char *path, long tail_lines, long limit,
                            struct aios_buf *out) AIOS_MUST_CHECK;

#endif
