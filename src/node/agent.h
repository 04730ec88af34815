/*
 * agent.h - aios-node's agent: the kubelet's part for the pods bound to this node.
 *
 * aios_node_run() does, in order:
 *   1. cleans up what an earlier run left (process groups named by pid files under
 *      <state>/pods, namespaces "aios-*", the bridge), then refuses to go on if any
 *      route covers the pod range;
 *   2. creates the bridge, registers the Node (capacity from this machine, Ready,
 *      InternalIP = the bridge address, daemonEndpoints.kubeletEndpoint.Port) and
 *      starts the kubelet port (GET /containerLogs/{ns}/{pod}/{container}, /healthz),
 *      authenticated and authorized as the kubelet's Webhook mode (nodeauth.h), and
 *      the healthz port (127.0.0.1:10248, GET /healthz for anyone);
 *   3. loops every AIOS_NODE_SYNC_MS until SIGTERM/SIGINT: syncs every pod whose
 *      spec.nodeName is this node (an informer with that field selector), renews
 *      the Lease in kube-node-lease, refreshes the Node status, provisions volumes
 *      for pending claims of its StorageClass and deletes released ones. Probes run
 *      on threads of their own (probe.h): the loop starts the due ones and collects
 *      the finished ones, it never waits for a pod;
 *   4. on stop: stops every pod's processes (SIGTERM, grace, SIGKILL), removes
 *      veths, namespaces and the bridge, and returns.
 * Pods are left in the API as they are on stop; a restarted aios-node re-runs the
 * ones that are not finished (docs/node.md, "Restarts").
 */
#ifndef AIOS_NODE_AGENT_H
#define AIOS_NODE_AGENT_H

#include "common/err.h"

#define AIOS_NODE_SYNC_MS           250  /* pod loop period: reaps, probes, status */
#define AIOS_NODE_LEASE_RENEW_S     10   /* as the kubelet: renew every 10 s ... */
#define AIOS_NODE_LEASE_DURATION_S  40   /* ... for a 40 s lease (node-monitor-grace-period) */
#define AIOS_NODE_STATUS_S          60   /* Node status refresh when nothing changed */
#define AIOS_NODE_PROVISION_MS      1000 /* claim and released-volume scan period */
#define AIOS_NODE_BACKOFF_INITIAL_S 10   /* container restart back-off, doubling ... */
#define AIOS_NODE_BACKOFF_MAX_S     300  /* ... up to 5 min, as the kubelet */
#define AIOS_NODE_BACKOFF_RESET_S   600  /* a run this long resets the back-off */
#define AIOS_NODE_MAX_PODS          110  /* Node capacity "pods" (the kubelet default) */
/* probes of one pod in flight at once: a pod of many hanging containers cannot take
 * every probe thread (AIOS_PROBE_MAX_RUNNING) from the other pods */
#define AIOS_NODE_POD_PROBES_MAX 8
#define AIOS_NODE_PROVISIONER    "aios.dev/local"

struct aios_node_opts {
	const char *kubeconfig;    /* NULL: the usual search (kube/config.h) */
	const char *node_name;     /* NULL: the host name */
	const char *state_dir;     /* pods, logs and volumes */
	const char *bin_dir;       /* where aios binaries are (podspec.h) */
	const char *pod_cidr;      /* "10.244.0.0/24" */
	const char *bridge;        /* "aios0" */
	int kubelet_port;          /* 10250 */
	const char *storage_class; /* the StorageClass name whose claims it provisions */
	const char *tls_cert;      /* kubelet port certificate and key (PEM); NULL: a self-signed */
	const char *tls_key;       /* pair made once under <state>/pki */
	const char *client_ca;     /* kubelet port client CA bundle (nodeauth.h); NULL: the
	                            * kubeconfig's certificate authority */
	int apiserver_proxy_port;  /* forwarder to the API server on the node address
	                            * (apiproxy.h), pods' KUBERNETES_SERVICE_PORT; 0: none */
	int healthz_port;          /* plain HTTP GET /healthz, open to all (10248); 0: none */
	const char *healthz_bind;  /* its address; NULL: 127.0.0.1 */
};

/* Runs until shutdown is requested. Errors at start name what failed. */
enum aios_err aios_node_run(const struct aios_node_opts *o) AIOS_MUST_CHECK;

/*
 * Takes /run/aios-node.<bridge>.lock for the life of the process, so that a second
 * aios-node on the same bridge never cleans up (deletes) what the first one runs.
 * Returns the held fd, or -1 with the reason recorded (AIOS_ERR_EXISTS when taken).
 */
int aios_node_lock(const char *bridge);

/* Kills and removes what an earlier run left in state_dir and on the host. */
void aios_node_cleanup_leftovers(const char *state_dir, const char *bridge);

#endif
