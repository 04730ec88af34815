/*
 * client.h - a small HTTP/1.1 client: a response parser fed bytes as they come, and
 * blocking connections over TCP or TLS (mbed TLS) with deadlines and cancellation.
 *
 * Why our own: the operator's only HTTP peers are the API server and its own pods'
 * /metrics pages. libcurl brought in its dependency tree (OpenSSL, GnuTLS, Kerberos,
 * LDAP, ...), about 9 MB of resident library pages in a process whose own work needs
 * about 6 MB; see docs/internals/http-client.md.
 *
 * What it speaks: HTTP/1.1 requests with a Content-Length body; responses with a
 * Content-Length, chunked or close-delimited body (no compression: it never asks
 * for one). Limits: a status line or header line of AIOS_HTTPC_LINE_CAP bytes, at most
 * AIOS_HTTPC_HEADERS_CAP header lines; bodies are bounded by the caller's sink.
 */
#ifndef AIOS_HTTP_CLIENT_H
#define AIOS_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define AIOS_HTTPC_LINE_CAP    16384 /* one status or header line, CRLF included */
#define AIOS_HTTPC_HEADERS_CAP 200   /* header lines in one response */

/* ---- the response parser --------------------------------------------------- */

/* Callbacks of one response. Each returns 0 to go on, non-zero to stop (the feed then
 * returns AIOS_ERR_CANCELLED and the caller knows why). Any may be NULL. */
struct aios_httpc_handler {
	int (*status)(void *arg, int code);
	/* name without the colon, value trimmed; neither is NUL-terminated */
	int (*header)(void *arg, const char *name, size_t nl, const char *value, size_t vl);
	int (*body)(void *arg, const char *p, size_t n);
};

struct aios_httpc_parser {
	const struct aios_httpc_handler *h;
	void *arg;
	int state;
	int code;
	int no_body;          /* answer to HEAD, or 1xx/204/304 */
	int chunked;          /* Transfer-Encoding: chunked */
	int close;            /* Connection: close, or HTTP/1.0 without keep-alive */
	int64_t length;       /* Content-Length, -1 when absent */
	int64_t left;         /* body or chunk bytes still due */
	int headers;          /* header lines so far */
	struct aios_buf line; /* the line being read (status, header, chunk size) */
};

/* Starts a parser for the answer to a request with this method ("HEAD" has no body).
 * Clean it up when done with it, and before starting it again. */
void aios_httpc_parser_init(struct aios_httpc_parser *ps, const char *method,
                            const struct aios_httpc_handler *h, void *arg);
/* Frees its line buffer. */
void aios_httpc_parser_cleanup(struct aios_httpc_parser *ps);

/* Feeds n bytes. *used gets how many were taken: all of them, or fewer when the
 * response ended inside p (what follows belongs to no request of ours). PROTOCOL with
 * a message naming the fault for a malformed or oversized head or chunk framing;
 * CANCELLED when a callback stopped it. */
enum aios_err aios_httpc_parser_feed(struct aios_httpc_parser *ps, const char *p, size_t n,
                                     size_t *used) AIOS_MUST_CHECK;

/* The peer closed the connection: ends a close-delimited body; PROTOCOL when the
 * response was cut short (before its head ended, or short of its length). */
enum aios_err aios_httpc_parser_eof(struct aios_httpc_parser *ps) AIOS_MUST_CHECK;

/* 1 once the whole response has been parsed. */
int aios_httpc_parser_done(const struct aios_httpc_parser *ps);

/* 1 when the connection may carry another request after this (complete) response. */
int aios_httpc_parser_reusable(const struct aios_httpc_parser *ps);

/* ---- connections ------------------------------------------------------------ */

/* A TLS client setup: trust anchors, an optional client certificate, shared by every
 * connection made with it (read-only once made, so threads may share it). */
struct aios_httpc_tls;

/* ca: PEM bundle (NULL: the system's, /etc/ssl/certs/ca-certificates.crt), cert and
 * key: the client's PEM certificate and key (both or neither), insecure: no server
 * check at all. Lengths exclude any NUL. Errors name which input is at fault. */
enum aios_err aios_httpc_tls_new(const char *ca, size_t ca_len, const char *cert, size_t cert_len,
                                 const char *key, size_t key_len, int insecure,
                                 struct aios_httpc_tls **out) AIOS_MUST_CHECK;
void aios_httpc_tls_free(struct aios_httpc_tls *t);

/* When to give up: an absolute deadline (aios_now_ms() clock, 0 = none) and a
 * cancel check polled at least every 100 ms while waiting (NULL = none). */
struct aios_httpc_wait {
	int64_t deadline_ms;
	int (*cancelled)(void *arg);
	void *arg;
};

struct aios_httpc_conn;

/* Connects to host:port (a name, an IPv4 or a bracket-less IPv6 address), then shakes
 * hands when tls is set, checking the server's name (DNS or IP SAN) against host.
 * Errors: UNAVAILABLE (resolve, refused, reset), TIMEOUT, CANCELLED, TLS (handshake,
 * verification: the message says what failed). */
enum aios_err aios_httpc_connect(const char *host, int port, struct aios_httpc_tls *tls,
                                 const struct aios_httpc_wait *w,
                                 struct aios_httpc_conn **out) AIOS_MUST_CHECK;
void aios_httpc_close(struct aios_httpc_conn *c);

/* 1 when an idle connection has something to read (the peer closed it, or sent what
 * nobody asked for): it must not carry another request. */
int aios_httpc_conn_readable(struct aios_httpc_conn *c);
/* The same for a plain socket of an idle connection (a hang-up or an error counts as
 * readable): the scraper's pool, which holds bare descriptors, asks this. */
int aios_httpc_fd_readable(int fd);

/* Sends one request: head (request line and header lines, each ending in CRLF, and
 * the empty line) then body. */
enum aios_err aios_httpc_send(struct aios_httpc_conn *c, const char *head, size_t head_len,
                              const char *body, size_t body_len,
                              const struct aios_httpc_wait *w) AIOS_MUST_CHECK;

/* Reads and parses until the response is complete (a close-delimited body ends with
 * the connection). *got_any: whether any byte of a response arrived (a reused
 * connection the server had closed yields UNAVAILABLE with *got_any 0: the request
 * is safe to send again on a new one). */
enum aios_err aios_httpc_recv(struct aios_httpc_conn *c, struct aios_httpc_parser *ps,
                              const struct aios_httpc_wait *w, int *got_any) AIOS_MUST_CHECK;

/* ---- one GET ---------------------------------------------------------------- */

/* GET url ("http://host:port/path"; plain HTTP only), whole, within timeout_ms
 * (connect included). *code gets the status (0 if none came); body collects the body,
 * bounded by its own cap (TOO_BIG past it). Errors as aios_httpc_connect/recv. */
enum aios_err aios_httpc_get(const char *url, int64_t timeout_ms, int *code,
                             struct aios_buf *body) AIOS_MUST_CHECK;

/* Splits "http[s]://host[:port][/...]" into scheme-is-https, host (brackets of an IPv6
 * literal removed), port (default 80/443) and the path ("" when absent; points into
 * url). INVALID names what is wrong. */
enum aios_err aios_httpc_split_url(const char *url, int *https, char *host, size_t host_cap,
                                   int *port, const char **path) AIOS_MUST_CHECK;

/* "host:port", or "[host]:port" for an IPv6 literal: a Host header's value. */
void aios_httpc_authority(const char *host, int port, char *out, size_t cap);

#endif
