/*
 * nodeauth.h - who may use the kubelet port of aios-node, decided as a kubelet started
 * with --anonymous-auth=false, --client-ca-file, --authentication-token-webhook and
 * --authorization-mode=Webhook decides it:
 *
 *   authentication: a client certificate that the TLS layer verified against the client
 *     CA bundle (tls_io.h) names the user (its CN) and groups (its O values); else a
 *     bearer token (Authorization: Bearer ...) of up to AIOS_NODEAUTH_TOKEN_MAX bytes is
 *     sent to the API server in a TokenReview (authentication.k8s.io/v1); the user it
 *     names keeps its first AIOS_TLS_PEER_MAX_ORGS groups, and a user name longer than
 *     struct aios_tls_peer holds is refused; else, or when the review says no, the
 *     request is refused with 401.
 *   authorization: a SubjectAccessReview (authorization.k8s.io/v1) asks the API server
 *     whether that user and its groups may <verb> nodes/<subresource> named this node
 *     (the kubelet's mapping: GET and HEAD are `get`, POST `create`...; /stats, /metrics,
 *     /logs and /spec are their own subresources (`logs` is `log`), everything else,
 *     /containerLogs included, is `proxy`); no: 403.
 *
 * The API server reaches `kubectl logs` with its --kubelet-client-certificate; the local
 * cluster gives that user the bootstrap ClusterRole system:kubelet-api-admin, as kubeadm
 * does. A pod's ServiceAccount token authenticates and is then refused (403) unless RBAC
 * grants it nodes/proxy. Answers are cached with the kubelet's default lifetimes: a
 * TokenReview 2 min (either answer), an allowed access 5 min, a denied one 30 s, in
 * AIOS_NODEAUTH_CACHE entries keyed by the SHA-256 of the question (a token itself is
 * never kept). Extra fields and the uid of a token's user are not forwarded to the
 * SubjectAccessReview (RBAC reads neither). Thread-safe; a review blocks the caller for
 * at most AIOS_NODEAUTH_CALL_MS.
 */
#ifndef AIOS_NODE_NODEAUTH_H
#define AIOS_NODE_NODEAUTH_H

#include <stddef.h>

#include "common/err.h"

#define AIOS_NODEAUTH_CACHE       256  /* cached answers; the one expiring first is replaced */
#define AIOS_NODEAUTH_TOKEN_TTL_S 120  /* kubelet --authentication-token-webhook-cache-ttl */
#define AIOS_NODEAUTH_ALLOW_TTL_S 300  /* --authorization-webhook-cache-authorized-ttl */
#define AIOS_NODEAUTH_DENY_TTL_S  30   /* --authorization-webhook-cache-unauthorized-ttl */
#define AIOS_NODEAUTH_CALL_MS     5000 /* one review's deadline */
#define AIOS_NODEAUTH_TOKEN_MAX   (16u << 10) /* bytes of a bearer token; longer: 401 */

struct aios_kube_client;
struct aios_tls_peer;
struct aios_nodeauth;

/* kc (borrowed; it must outlive the result) asks the reviews; node_name is copied. */
struct aios_nodeauth *aios_nodeauth_new(struct aios_kube_client *kc, const char *node_name);
/* NULL is a no-op. */
void aios_nodeauth_free(struct aios_nodeauth *a);

/* The kubelet's subresource of nodes for a request path ("proxy" for /containerLogs/...). */
const char *aios_nodeauth_subresource(const char *path);

/* The kubelet's verb for an HTTP method ("get" for GET and HEAD, "create" for POST, ...;
 * "" for a method it does not map, which no RBAC rule but "*" allows). */
const char *aios_nodeauth_verb(const char *method);

/*
 * Decides one request: peer is the verified client certificate's subject (or NULL),
 * authorization the request's Authorization header (or NULL). Returns 200 when allowed,
 * 401 when nobody is authenticated (no credentials, a token past the cap, one the API
 * server refused, a user name that does not fit), 403 when the user may not, 503 when
 * the API server could not answer a review (its error is logged as
 * kubelet_auth_unavailable). msg (n bytes) holds the body to send, in the kubelet's
 * words where it has them ("Forbidden (user=nobody, verb=get, resource=nodes,
 * subresource=proxy)"); it never repeats a token nor the API server's error.
 */
int aios_nodeauth_check(struct aios_nodeauth *a, const struct aios_tls_peer *peer,
                        const char *authorization, const char *method, const char *path, char *msg,
                        size_t n);

#endif
