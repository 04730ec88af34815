/*
 * operator_proc.h - the real aios-operator binary as a child of an integration test,
 * under the operator identity ($AIOS_TEST_CLUSTER_DIR/operator.kubeconfig), with
 * operator/'s RBAC installed. Used by the reliability and least-privilege tests.
 * Every helper fails the calling test loudly.
 */
#ifndef AIOS_TEST_OPERATOR_PROC_H
#define AIOS_TEST_OPERATOR_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* Applies crds/ and every operator/ manifest but the Deployment (idempotent), and waits
 * until both CRDs are established. */
void aios_test_operator_install(void);

struct aios_test_operator {
	pid_t pid;
	char log[256];    /* stdout and stderr of the process (JSON lines) */
	int metrics_port; /* 0 when not served */
	int health_port;
};

/* Starts aios-operator with logs into `log` (truncated) and the extra flags (NULL-ended
 * array, may be NULL). serve_ports: 1 picks free loopback ports for /metrics and probes,
 * 0 turns both off. Does not wait for readiness. The child dies with the test. */
void aios_test_operator_start(struct aios_test_operator *o, const char *log, int serve_ports,
                              const char *const *extra);

/* Starts aios-gateway under the gateway identity ($AIOS_TEST_CLUSTER_DIR/gateway.kubeconfig,
 * system:serviceaccount:aios-system:aios-gateway) on 127.0.0.1 at a free port (o->health_port,
 * its /readyz), with logs into `log` and the extra flags. Stop it as an operator. */
void aios_test_gateway_start(struct aios_test_operator *o, const char *log,
                             const char *const *extra);

/* Sends sig (SIGTERM, SIGKILL...) and reaps the process (SIGKILL after 10 s); returns the
 * exit code, 128 + signal when killed. */
int aios_test_operator_stop(struct aios_test_operator *o, int sig);

/* GET http://127.0.0.1:port/path into out (NUL-terminated, cut to cap); the HTTP code,
 * 0 when no answer. */
long aios_test_http_get(int port, const char *path, char *out, size_t cap);

/* The value of a Prometheus sample line starting with `series` (e.g.
 * "aios_operator_leader"), summed over the lines that start with it; 0 when absent. */
double aios_test_operator_metric(struct aios_test_operator *o, const char *series);

/* The first log line of the operator containing needle, or NULL (static buffer). */
const char *aios_test_operator_log_find(const struct aios_test_operator *o, const char *needle);

/*
 * The first line of log (an operator's or a gateway's JSON log) where the API server refused
 * verb on resource ("cannot VERB resource \"RES\""), or NULL (static buffer). verb "*":
 * any RBAC refusal.
 */
const char *aios_test_log_refusal(const char *log, const char *verb, const char *resource);

struct aios_kube_client;

/* The ServiceAccounts a test namespace needs when kube-controller-manager is absent:
 * "default" (the service account admission plugin wants it) and "aios-workload" (the
 * identity of the pods the operator renders). */
void aios_test_namespace_accounts(struct aios_kube_client *c, const char *ns);

/* Creates TrainingJob name in ns: a linear model on two inline points. Retries for up
 * to 30 s while the API server answers 503 (right after a restart). */
void aios_test_create_small_job(struct aios_kube_client *c, const char *ns, const char *name);

#endif
