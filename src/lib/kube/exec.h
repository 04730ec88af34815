/*
 * exec.h - kubeconfig `exec` credential plugins, as client-go runs them (the way EKS,
 * GKE, AKS and OIDC logins hand out credentials).
 *
 * A user's `exec` entry names a command, its args and extra env. The command is run
 * with KUBERNETES_EXEC_INFO set to an ExecCredential holding spec.interactive (and
 * spec.cluster when provideClusterInfo is true); it prints an ExecCredential of the
 * same apiVersion (client.authentication.k8s.io/v1 or v1beta1) on stdout, whose status
 * carries a bearer token or a client certificate and key (PEM), and optionally an
 * expirationTimestamp. The credential is cached until that time (minus
 * AIOS_KUBE_EXEC_EARLY_MS, so a request never leaves with a token about to lapse), or
 * for the life of the process when none is given; a 401 answer to a request made with
 * it drops it from the cache so that the next request runs the plugin again.
 *
 * interactiveMode: Never (stdin is /dev/null), IfAvailable (our stdin is passed when it
 * is a terminal, the default of v1beta1), Always (refused without a terminal: the
 * operator never has one; kubectl-aios in a shell does). v1 requires the field, as
 * client-go does. The plugin's stderr goes to ours when interactive, else it is kept.
 *
 * Bounds: stdout AIOS_KUBE_EXEC_OUT_CAP, stderr AIOS_KUBE_EXEC_ERR_CAP kept (the start
 * is quoted in messages), run time AIOS_KUBE_EXEC_TIMEOUT_MS (then the plugin's process
 * group is killed). A failure names the command and says why: not found (with the
 * installHint), exit status or signal with the plugin's stderr, timeout, output that is
 * not an ExecCredential. Tokens and keys never appear in messages or logs.
 */
#ifndef AIOS_KUBE_EXEC_H
#define AIOS_KUBE_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AIOS_KUBE_EXEC_OUT_CAP    (1u << 20)  /* stdout of a plugin: an ExecCredential */
#define AIOS_KUBE_EXEC_ERR_CAP    (64u << 10) /* stderr kept for the message */
#define AIOS_KUBE_EXEC_TIMEOUT_MS 60000       /* a plugin's run; a login page may take a while */
#define AIOS_KUBE_EXEC_EARLY_MS   10000       /* a cached credential counts as expired this early */

enum aios_kube_exec_interactive {
	AIOS_KUBE_EXEC_IF_AVAILABLE = 0,
	AIOS_KUBE_EXEC_NEVER,
	AIOS_KUBE_EXEC_ALWAYS,
};

/* A user's exec entry, as read from the kubeconfig. Every string is owned by the struct. */
struct aios_kube_exec_spec {
	char *api_version; /* client.authentication.k8s.io/v1 or .../v1beta1 */
	char *command;     /* a name looked up in PATH, or a path (relative ones already
	                    * resolved against the kubeconfig's directory) */
	char **args;       /* nargs entries */
	size_t nargs;
	char **env; /* "NAME=value", nenv entries, added to our environment */
	size_t nenv;
	enum aios_kube_exec_interactive interactive;
	int provide_cluster_info; /* spec.cluster in KUBERNETES_EXEC_INFO */
	char *install_hint;       /* shown when the command is not found, or NULL */
	int64_t timeout_ms;       /* 0: AIOS_KUBE_EXEC_TIMEOUT_MS */
};

struct aios_kube_exec_spec *aios_kube_exec_spec_copy(const struct aios_kube_exec_spec *s);
void aios_kube_exec_spec_free(struct aios_kube_exec_spec *s);

/* What a plugin gave. Strings owned by the struct; cleaned up (and wiped) by
 * aios_kube_exec_cred_cleanup. */
struct aios_kube_exec_cred {
	char *token; /* bearer token, or NULL */
	char *cert;  /* client certificate PEM, or NULL (then key is NULL too) */
	size_t cert_len;
	char *key; /* its private key PEM */
	size_t key_len;
	int64_t expires_unix_ms; /* wall clock; 0: no expiry given */
	uint64_t generation;     /* which run of the plugin this came from (1, 2, ...) */
};

void aios_kube_exec_cred_cleanup(struct aios_kube_exec_cred *c);

/* Decodes a plugin's stdout (pure: for the runner and for tests). api_version is the
 * one asked for; what names the plugin in messages. */
enum aios_err aios_kube_exec_decode(const char *out, size_t n, const char *api_version,
                                    const char *what,
                                    struct aios_kube_exec_cred *cred) AIOS_MUST_CHECK;

/* The cluster a plugin is told about (provideClusterInfo), borrowed for the call. */
struct aios_kube_exec_cluster {
	const char *server;
	const char *ca_data; /* PEM bytes, or NULL */
	size_t ca_len;
	int insecure;
	const char *proxy_url;
};

/* A plugin with its cached credential, shared by the threads of one client. */
struct aios_kube_exec;

/* spec is copied; cluster is copied when given. Never fails. */
struct aios_kube_exec *aios_kube_exec_new(const struct aios_kube_exec_spec *spec,
                                          const struct aios_kube_exec_cluster *cluster);
void aios_kube_exec_free(struct aios_kube_exec *x);

/* A copy of the current credential in *out (the caller cleans it up), running the
 * plugin first when none is cached or it has expired. One run at a time: other threads
 * wait for it and share its result. A failed run is not cached. */
enum aios_err aios_kube_exec_get(struct aios_kube_exec *x,
                                 struct aios_kube_exec_cred *out) AIOS_MUST_CHECK;

/* The server refused the credential of this generation (401): drop it, unless a newer
 * one has replaced it already. */
void aios_kube_exec_invalidate(struct aios_kube_exec *x, uint64_t generation);

/* How many times the plugin has run (for tests and metrics). */
uint64_t aios_kube_exec_runs(struct aios_kube_exec *x);

#endif
