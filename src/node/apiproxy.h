/*
 * apiproxy.h - kube-proxy's job for the `kubernetes` Service only: a TCP forwarder
 * from an address pods can reach (the node's bridge address) to the API server.
 *
 * On the local cluster the API server listens on 127.0.0.1, which a pod's network
 * namespace cannot reach. aios-node listens on <bridge address>:<port> (443 by
 * default) and copies bytes both ways to the API server named by its own kubeconfig;
 * every pod gets KUBERNETES_SERVICE_HOST/PORT pointing at that listener (podspec.h).
 * It is a byte pipe: TLS runs end to end between the pod and the API server (whose
 * serving certificate names the bridge address), and the pod authenticates with its
 * own ServiceAccount token. Nothing is read, rewritten or logged per request.
 *
 * One thread polls the listener and every connection. Limits: at most
 * AIOS_APIPROXY_MAX_CONNS connections at once (more are accepted and closed at once,
 * logged), AIOS_APIPROXY_BUF bytes buffered per direction (a slow reader stops the
 * other side's reads, as TCP does), connecting to the target waits at most
 * AIOS_APIPROXY_CONNECT_MS. A connection whose target refuses is closed.
 */
#ifndef AIOS_NODE_APIPROXY_H
#define AIOS_NODE_APIPROXY_H

#include <stddef.h>

#include "common/err.h"

#define AIOS_APIPROXY_MAX_CONNS  128   /* concurrent pod connections (watches are long-lived) */
#define AIOS_APIPROXY_BUF        16384 /* bytes buffered per connection and direction */
#define AIOS_APIPROXY_CONNECT_MS 3000  /* connect to the API server, at most */
#define AIOS_APIPROXY_PORT       443   /* the `kubernetes` Service's port */

struct aios_apiproxy;

/*
 * Parses a kubeconfig server URL "https://host[:port][/path]" (IPv6 in brackets) into
 * host (without brackets) and port (443 when absent). AIOS_ERR_INVALID names the URL.
 */
enum aios_err aios_apiproxy_parse_server(const char *url, char *host, size_t host_cap,
                                         int *port) AIOS_MUST_CHECK;

/*
 * Listens on listen_ip:listen_port (0: any free port, see aios_apiproxy_port) and
 * forwards each connection to target_host:target_port (a name or address, resolved
 * once here: AIOS_ERR_INVALID when it cannot be). Starts the thread; *out is freed by aios_apiproxy_free.
 */
enum aios_err aios_apiproxy_start(const char *listen_ip, int listen_port, const char *target_host,
                                  int target_port, struct aios_apiproxy **out) AIOS_MUST_CHECK;

/* The port it listens on. */
int aios_apiproxy_port(const struct aios_apiproxy *p);

/* Connections open now (for tests and logs). */
int aios_apiproxy_active(struct aios_apiproxy *p);

/* Stops the thread, closes the listener and every connection. NULL is a no-op. */
void aios_apiproxy_free(struct aios_apiproxy *p);

#endif
