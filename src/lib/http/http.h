/*
 * http.h - a small HTTP/1.1 server: a table of routes, handlers that fill a response.
 *
 * The server runs `threads` event-loop threads; each owns its connections and calls
 * handlers on that thread (a handler that blocks stalls that thread's other
 * connections; the other threads keep serving). It speaks HTTP/1.1 with
 * keep-alive and pipelining, Content-Length and chunked request bodies,
 * Expect: 100-continue, and optional TLS (OpenSSL, 1.2 at least, 1.3 preferred; see
 * tls_io.h) when a cert and key are given; the pair is reloaded when the files change.
 * With tls_client_ca, clients may authenticate with a certificate: handlers see its
 * verified subject in req->peer (NULL for a client that sent none).
 *
 * Limits (all in struct aios_http_config, all enforced before a handler runs):
 *   max_header_bytes    request line + headers; over it: 431, connection closed
 *   max_body_bytes      request body; over it: 413 {"error": ...}, connection closed
 *   read_timeout_ms     a started request must arrive whole within this: else 408
 *                       (the slow-loris defence), connection closed
 *   write_timeout_ms    a queued response must make write progress (the peer takes
 *                       bytes) within this, else the connection is closed; bytes
 *                       the peer sends do not count (the slow-read defence). While
 *                       a response is queued nothing more is read from the peer, so
 *                       it holds one response and at most 64 KiB of input past a request
 *   idle_timeout_ms     a keep-alive connection with no request is closed silently
 *   max_connections     per server; past it new connections are closed at accept
 *   max_connections_per_client
 *                       per source IPv4 address, over all threads (0: no limit).
 *                       A new connection past it first makes the accepting thread
 *                       close that client's longest-idle connection (no request in
 *                       progress, nothing queued); with none idle it is closed at
 *                       accept. Idle connections are what a client hoards cheaply.
 *
 * Out of file descriptors (accept fails with EMFILE or ENFILE, or ENOBUFS/ENOMEM for
 * kernel memory) a thread stops accepting for AIOS_HTTP_ACCEPT_PAUSE_MS instead of
 * retrying at once (level-triggered epoll would report the waiting connection again
 * and spin a core); pending connections wait in the kernel's backlog and are served
 * once descriptors free. Each pause, refusal and reclaim is reported to on_event.
 *
 * Handlers either fill the response before they return or defer it (see "deferred
 * responses" below) and finish it at the end of the loop's round of events, which is
 * how aios-serve batches the requests of one round into one forward pass.
 *
 * Routes: a method ("GET", "POST", or "*" for any) and a pattern. A pattern is literal
 * text with up to AIOS_HTTP_MAX_PARAMS captures written {name}; a capture matches one
 * or more characters other than '/' and the character that follows it in the
 * pattern, so "/v1/models/{name}:predict" matches "/v1/models/iris:predict" with
 * name = "iris". A pattern ending in "*" matches any rest of the path. Routes are
 * tried in registration order; a path that matches only with another method gets 405,
 * no match at all 404, both with a JSON error body.
 *
 * Stop: aios_http_server_stop() closes the listeners at once, lets requests being
 * received or handled finish (their responses carry Connection: close), closes idle
 * connections, and force-closes whatever is left when the grace period ends.
 */
#ifndef AIOS_HTTP_H
#define AIOS_HTTP_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct aios_tls_peer; /* tls_io.h */

#define AIOS_HTTP_MAX_PARAMS      4
#define AIOS_HTTP_MAX_HEADERS     64
#define AIOS_HTTP_MAX_ROUTES      64
#define AIOS_HTTP_PARAM_STORE     256 /* bytes for capture names and values together */
#define AIOS_HTTP_ACCEPT_PAUSE_MS 100 /* accept backs off this long when out of fds */
/* Chunked request bodies (see aios_http_parse_request); docs/limits.md lists them. */
#define AIOS_HTTP_MAX_CHUNK_EXT       256  /* extension bytes on one chunk-size line */
#define AIOS_HTTP_MAX_CHUNK_EXT_TOTAL 4096 /* extension bytes in one request */
#define AIOS_HTTP_MAX_TRAILER_BYTES   4096 /* the trailer section */
#define AIOS_HTTP_MAX_CHUNK_FRAMING   8192 /* framing bytes (sizes, CRLFs) past the body */

struct aios_http_header {
	const char *name;  /* as sent; compare case-insensitively */
	const char *value; /* leading and trailing whitespace removed */
};

/* A parsed request. Every pointer borrows from the connection; valid during the handler. */
struct aios_http_req {
	const char *method;
	const char *path;  /* without the query string, not percent-decoded */
	const char *query; /* after '?', or "" */
	const char *body;  /* body_len bytes (may hold NULs); NUL-terminated in handlers
			     * (the parser alone does not terminate it) */
	size_t body_len;
	int n_headers;
	struct aios_http_header headers[AIOS_HTTP_MAX_HEADERS];
	int n_params;
	const char *param_names[AIOS_HTTP_MAX_PARAMS];
	const char *param_values[AIOS_HTTP_MAX_PARAMS];
	char param_store[AIOS_HTTP_PARAM_STORE]; /* backs param_names/param_values */
	const char *route; /* the pattern that matched (a stable label for metrics), or NULL */
	/* the subject of the client certificate this connection presented and that verified
	 * against tls_client_ca, or NULL; borrowed like the rest */
	const struct aios_tls_peer *peer;
	int keep_alive;  /* 1 if the connection stays open after the response */
	void *conn_user; /* free for the handler: per-thread state (see thread_init) */
};

/* The response a handler fills. Defaults: 200, application/json, empty body. */
struct aios_http_resp {
	int status;
	const char *content_type; /* a static string, or owned by the handler's caller */
	struct aios_buf body;     /* append freely (capped at AIOS_CAP_HTTP_REQUEST) */
	struct aios_buf headers;  /* extra "Name: value\r\n" lines; use aios_http_resp_header */
};

typedef void (*aios_http_handler)(struct aios_http_req *req, struct aios_http_resp *resp, void *ud);

/* What the server reports to on_event (connections it turned away, accept pauses). */
enum aios_http_event {
	AIOS_HTTP_EV_ACCEPT_PAUSED_FDS,    /* accept: EMFILE/ENFILE, paused */
	AIOS_HTTP_EV_ACCEPT_PAUSED_MEMORY, /* accept: ENOBUFS/ENOMEM, paused */
	AIOS_HTTP_EV_REFUSED_MAX,          /* closed at accept: max_connections */
	AIOS_HTTP_EV_REFUSED_PER_CLIENT,   /* closed at accept: the client's limit, none idle */
	AIOS_HTTP_EV_RECLAIMED_IDLE,       /* an idle connection closed for its client's new one */
	AIOS_HTTP_EV__N
};

struct aios_http_config {
	const char *bind_addr;          /* default "0.0.0.0"; "127.0.0.1" in tests */
	int port;                       /* 0 picks a free port (see aios_http_server_port) */
	int threads;                    /* event-loop threads, default 1 */
	size_t max_header_bytes;        /* default 16 KiB */
	size_t max_body_bytes;          /* default 1 MiB; at most AIOS_CAP_HTTP_REQUEST */
	int read_timeout_ms;            /* default 10000 */
	int write_timeout_ms;           /* default 10000; <= 0: read_timeout_ms */
	int idle_timeout_ms;            /* default 60000 */
	int max_connections;            /* default 4096 */
	int max_connections_per_client; /* per source address; default 0 (no limit) */
	const char *tls_cert;           /* PEM paths; both or neither */
	const char *tls_key;
	/* PEM bundle: client certificates are asked for and verified against it (tls_io.h,
	 * req->peer); needs tls_cert and tls_key. NULL: none asked for */
	const char *tls_client_ca;
	const char *name; /* for logs, e.g. "serve" or "metrics" */
	/*
	 * Called on the loop thread after every response is queued, including the ones
	 * the server writes itself (404, 405, 408, 413, 431): route is NULL for those.
	 * seconds: from the request's first byte to the response being queued.
	 */
	void (*on_response)(const struct aios_http_req *req, int status, double seconds, void *ud);
	void *on_response_ud;
	/* Called on the loop thread for each event above (ud: on_response_ud); may be NULL. */
	void (*on_event)(enum aios_http_event ev, void *ud);
	/* Called once on each loop thread at start; its result lands in req->conn_user. */
	void *(*thread_init)(int index, void *ud);
	void (*thread_cleanup)(void *state, void *ud);
	/*
	 * Called on each loop thread after it has handled one round of ready events,
	 * before it waits again: the place to finish deferred requests in one go (see
	 * aios_http_defer). Returns how long (ms) the loop may wait for more events before
	 * calling it again: -1 for "no hurry", 0 for "call me again at once".
	 */
	int (*round_end)(void *state, void *ud);
	void *thread_ud;
};

struct aios_http_server;

void aios_http_config_defaults(struct aios_http_config *c);

/* Creates a server (not listening yet). Copies c; strings must outlive the server. */
struct aios_http_server *aios_http_server_new(const struct aios_http_config *c);
/* Adds a route; AIOS_ERR_INVALID for a malformed pattern, TOO_BIG past the table. */
enum aios_err aios_http_route(struct aios_http_server *s, const char *method, const char *pattern,
                              aios_http_handler fn, void *ud) AIOS_MUST_CHECK;
/* Binds, loads TLS if configured, starts the threads. Errors name the address or file. */
enum aios_err aios_http_server_start(struct aios_http_server *s) AIOS_MUST_CHECK;
/* The bound port (after start). */
int aios_http_server_port(const struct aios_http_server *s);
/* Connections open now (all threads). */
int aios_http_server_connections(const struct aios_http_server *s);
/* Graceful stop as described above; returns when every thread has exited. */
void aios_http_server_stop(struct aios_http_server *s, int grace_ms);
/* Stops (grace 0) if running and frees. NULL is a no-op. */
void aios_http_server_free(struct aios_http_server *s);

/* ---- handler helpers ---- */

/* Value of header name (case-insensitive) or NULL. */
const char *aios_http_req_header(const struct aios_http_req *r, const char *name);
/* Value of capture name or NULL. */
const char *aios_http_req_param(const struct aios_http_req *r, const char *name);
/* Adds "name: value" to the response; values with CR/LF are refused (ignored). */
void aios_http_resp_header(struct aios_http_resp *resp, const char *name, const char *value);
/* Sets status and a JSON body (copied). */
void aios_http_resp_json(struct aios_http_resp *resp, int status, const char *json, size_t len);
/* Sets status and {"error": "<formatted message>"} (JSON-escaped). */
void aios_http_resp_error(struct aios_http_resp *resp, int status, const char *fmt, ...)
    AIOS_PRINTF(3, 4);
/* Reason phrase of a status ("Not Found"); "Unknown" for codes it does not know. */
const char *aios_http_reason(int status);

/* A ready handler serving a struct aios_metrics * (ud) at /metrics. */
void aios_http_metrics_handler(struct aios_http_req *req, struct aios_http_resp *resp, void *ud);
/* A handler replying 200 {"status":"ok"} (for /healthz). */
void aios_http_ok_handler(struct aios_http_req *req, struct aios_http_resp *resp, void *ud);

/* ---- deferred responses ----
 *
 * A handler may leave its response for later: it calls aios_http_defer(req), keeps the
 * handle, and returns. The connection then reads and parses nothing more until the
 * handle is finished with aios_http_defer_done() on the same loop thread (typically in
 * round_end, after one forward pass for every request of the round). req stays valid
 * until then. If the connection closes or the server stops meanwhile, done still
 * must be called: it then only frees the handle.
 */
struct aios_http_defer;
struct aios_http_defer *aios_http_defer(struct aios_http_req *req);
/* The response to fill (defaults as for a handler); valid until done. */
struct aios_http_resp *aios_http_defer_resp(struct aios_http_defer *d);
/* Sends the response (and lets the connection go on), then frees d. */
void aios_http_defer_done(struct aios_http_defer *d);
/*
 * Wakes loop thread `index` (the index thread_init got) so that it runs round_end soon
 * even without network events: how a response finished by another thread (a proxy's
 * upstream call) reaches its loop. Safe from any thread while the server runs; an index
 * out of range is ignored.
 */
void aios_http_server_wake(struct aios_http_server *s, int index);

/* ---- the parser, exposed for unit tests and the fuzz driver ---- */

enum aios_http_parse {
	AIOS_HTTP_PARSE_OK,   /* *req filled; *consumed bytes form this request */
	AIOS_HTTP_PARSE_MORE, /* incomplete; read more */
	AIOS_HTTP_PARSE_ERROR /* *status holds the reply code (400, 413, 417, 431, 501, 505)
	                       * and *reason a static one-line message */
};

/*
 * Parses one request from buf[0..len). Reads no byte outside buf[0..len) (the input
 * need not be NUL-terminated). Modifies buf in place (NUL-terminates tokens, decodes a
 * chunked body), so req borrows from buf. Sets *expect_continue when the headers are
 * complete, the body is not, and the client asked for 100-continue.
 *
 * Refused (besides the size limits): obsolete line folding, a header value holding a
 * control character other than HTAB, Transfer-Encoding in an HTTP/1.0 request, any
 * coding but chunked (501), Content-Length together with Transfer-Encoding, chunk
 * extensions past AIOS_HTTP_MAX_CHUNK_EXT bytes on one chunk or
 * AIOS_HTTP_MAX_CHUNK_EXT_TOTAL in one request, a trailer section past
 * AIOS_HTTP_MAX_TRAILER_BYTES (431), chunk framing past the body limit plus
 * AIOS_HTTP_MAX_CHUNK_FRAMING bytes. Extensions and trailers are otherwise ignored.
 */
enum aios_http_parse aios_http_parse_request(char *buf, size_t len, size_t max_header,
                                             size_t max_body, struct aios_http_req *req,
                                             size_t *consumed, int *status, const char **reason,
                                             int *expect_continue);

/* Matches path against pattern, filling req's params; 1 on a match. */
int aios_http_match(const char *pattern, const char *path, struct aios_http_req *req);

#endif
