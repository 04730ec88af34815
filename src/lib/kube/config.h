/*
 * config.h - where the Kubernetes API server is and how to authenticate to it.
 *
 * Two sources, as client-go has them:
 *   - a kubeconfig file (YAML, parsed with libyaml): clusters, users, contexts,
 *     current-context, with a --context override. Supported user fields: token,
 *     tokenFile, client-certificate(-data), client-key(-data), exec (a credential
 *     plugin: apiVersion, command, args, env, interactiveMode, provideClusterInfo,
 *     installHint; kube/exec.h runs it); cluster fields: server, proxy-url,
 *     certificate-authority(-data), insecure-skip-tls-verify. Relative file paths (and
 *     an exec command holding a '/') are resolved against the kubeconfig's directory.
 *     Other fields are ignored; an `auth-provider` user is refused
 *     (AIOS_ERR_UNSUPPORTED: every provider moved to exec plugins).
 *   - in-cluster: KUBERNETES_SERVICE_HOST/PORT, the service-account token (re-read
 *     when the file changes, so rotated tokens are picked up), its CA and namespace.
 *
 * aios_kube_config_load() picks, in this order: an explicit path, $KUBECONFIG (first
 * entry of a ':' list), in-cluster when KUBERNETES_SERVICE_HOST is set, ~/.kube/config.
 * The kubeconfig file is bounded by AIOS_CAP_KUBECONFIG. Every error names the file
 * and the field at fault ("kubeconfig /x: context \"dev\": cluster \"c\" not found").
 */
#ifndef AIOS_KUBE_CONFIG_H
#define AIOS_KUBE_CONFIG_H

#include <stddef.h>

#include "common/err.h"
#include "kube/exec.h"

#define AIOS_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* A resolved configuration. Read-only for callers once loaded; every string is owned
 * by the struct (freed by aios_kube_config_free). NULL means "not set". */
struct aios_kube_config {
	char *server;  /* "https://host:port" without trailing slash */
	char *ns;      /* the context's namespace (or the SA's), "default" if unset */
	char *context; /* the context used, or "in-cluster" */
	char *source;  /* the file it came from, or "in-cluster" */
	/* TLS */
	char *ca_file; /* PEM bundle path */
	char *ca_data; /* PEM bytes (decoded from base64), ca_data_len long */
	size_t ca_data_len;
	char *cert_file; /* client certificate path */
	char *cert_data; /* client certificate PEM bytes */
	size_t cert_data_len;
	char *key_file; /* client key path */
	char *key_data; /* client key PEM bytes (never logged) */
	size_t key_data_len;
	int insecure; /* insecure-skip-tls-verify: no server certificate check */
	/* bearer token: a static value, or a file re-read when it changes */
	char *token; /* never logged */
	char *token_file;
	char *proxy_url; /* the cluster's proxy-url; NULL: HTTPS_PROXY/NO_PROXY apply */
	/* an exec credential plugin (kube/exec.h) instead of a static credential */
	struct aios_kube_exec_spec *exec;
};

/* Loads the kubeconfig at path using context (NULL: current-context). Caller frees *out. */
enum aios_err aios_kube_config_load_file(const char *path, const char *context,
                                         struct aios_kube_config **out) AIOS_MUST_CHECK;

/* Parses a kubeconfig held in memory; dir resolves relative paths, what names it in
 * messages. Caller frees *out. */
enum aios_err aios_kube_config_parse(const char *yaml, size_t len, const char *dir,
                                     const char *what, const char *context,
                                     struct aios_kube_config **out) AIOS_MUST_CHECK;

/* In-cluster configuration from sa_dir (NULL: AIOS_KUBE_SA_DIR) and
 * KUBERNETES_SERVICE_HOST/PORT. Caller frees *out. */
enum aios_err aios_kube_config_in_cluster(const char *sa_dir,
                                          struct aios_kube_config **out) AIOS_MUST_CHECK;

/* Picks a source: explicit path > $KUBECONFIG > in-cluster > ~/.kube/config. */
enum aios_err aios_kube_config_load(const char *explicit_path, const char *context,
                                    struct aios_kube_config **out) AIOS_MUST_CHECK;

void aios_kube_config_free(struct aios_kube_config *cfg);

#endif
