/*
 * tls_io.h - the HTTP server's TLS (http.c) on OpenSSL: one shared server context
 * built from a PEM certificate chain and key, per-connection sessions on a
 * non-blocking descriptor, and certificate reload when the files change.
 *
 * Protocols: TLS 1.2 at least, TLS 1.3 preferred (OpenSSL negotiates the highest both
 * ends speak); OpenSSL's default ciphers and groups. A certificate that does not match
 * its key is refused when the context is built, with both paths in the message.
 *
 * Client certificates: with a client CA bundle the server asks every client for a
 * certificate and verifies one that comes against that bundle, for the client purpose
 * (extendedKeyUsage clientAuth if it has the extension); a certificate that does not
 * verify fails the handshake. A client that sends none is let through and the
 * application decides (aios_tls_peer() reports no peer), as Go's
 * VerifyClientCertIfGiven that a kubelet uses: this is how a kubelet port
 * authenticates the API server and still lets bearer tokens in.
 *
 * Reload: aios_tls_server_session() looks at the files' mtime, size and inode at most
 * once per second (RELOAD_CHECK_MS in tls_io.c); when one of them (certificate, key,
 * client CA bundle) changed it builds a new context and new connections use it, while
 * open ones keep the old one (OpenSSL counts references). A changed set that does not
 * load is logged once and the old context stays. Thread-safe: every loop thread of a
 * server shares one aios_tls_server.
 *
 * OpenSSL writes to the socket with write(2), so aios_tls_server_new() ignores SIGPIPE
 * when the process left it at its default (which would end the process).
 */
#ifndef AIOS_HTTP_TLS_IO_H
#define AIOS_HTTP_TLS_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

struct aios_tls_server;
struct ssl_st; /* OpenSSL's SSL */

/* Loads cert (PEM chain) and key (PEM) into a new server context, and client_ca (PEM
 * bundle, or NULL: no client certificates asked for); name is the server's name for
 * messages. On failure *out is NULL and aios_errmsg() names the file and OpenSSL's
 * reason (AIOS_ERR_TLS). */
enum aios_err aios_tls_server_new(const char *cert, const char *key, const char *client_ca,
                                  const char *name, struct aios_tls_server **out) AIOS_MUST_CHECK;
/* NULL is a no-op. Sessions made from it may outlive it. */
void aios_tls_server_free(struct aios_tls_server *t);

/* A server session for fd from the current context (after a reload check); the
 * caller owns it and frees it with aios_tls_close(). Aborts only when OpenSSL cannot
 * allocate. */
struct ssl_st *aios_tls_server_session(struct aios_tls_server *t, int fd);

/* The non-blocking calls below return as the server's raw I/O does: >0 bytes, 0 for an
 * orderly close by the peer, -1 when it would block, -2 on an error. */

/* Advances the handshake: 1 done, -1 would block, -2 failed. */
int aios_tls_handshake(struct ssl_st *ssl);
ssize_t aios_tls_read(struct ssl_st *ssl, char *p, size_t n);
/* A write that returned -1 must be retried with the same n (the buffer may move). */
ssize_t aios_tls_write(struct ssl_st *ssl, const char *p, size_t n);
/* Sends close_notify when the handshake had completed (never waits), then frees. */
void aios_tls_close(struct ssl_st *ssl);

#define AIOS_TLS_PEER_MAX_ORGS 8 /* O= values of a client certificate kept (groups) */

/* The subject of a client certificate that verified against the client CA bundle. */
struct aios_tls_peer {
	char cn[256];                           /* commonName: a Kubernetes user name */
	char orgs[AIOS_TLS_PEER_MAX_ORGS][128]; /* organization values: its groups */
	int n_orgs;
};

/* After a finished handshake: 1 and *out filled (UTF-8) when the client sent a
 * certificate that verified, else 0 (out zeroed). A verified certificate whose subject
 * has no commonName or two, an empty value or one holding a NUL, a value longer than
 * the arrays above or more organizations than they hold, names no identity: 0. */
int aios_tls_peer(const struct ssl_st *ssl, struct aios_tls_peer *out);

/* After a handshake that failed: why the client's certificate did not verify (OpenSSL's
 * words, "unable to get local issuer certificate", "unsuitable certificate purpose"),
 * or NULL when the failure was something else (no certificate is not a failure). The
 * string is static. */
const char *aios_tls_verify_error(const struct ssl_st *ssl);

/* The protocol a finished handshake agreed on ("TLSv1.3"). */
const char *aios_tls_version(const struct ssl_st *ssl);

#endif
