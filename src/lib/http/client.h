/*
 * client.h - the project's one HTTP client, on libcurl (OpenSSL for TLS, nghttp2 for
 * HTTP/2). Every outgoing HTTP request of every program goes through here: the
 * Kubernetes client, the informers' watches, leader election, the operator's scrapers,
 * the trainer's and aios-serve's http(s) fetches, the node agent's probes and the
 * plugin. See docs/internals/http-client.md.
 *
 * Three ways to run a request:
 *   - aios_httpc_perform() on a struct aios_httpc_handle: one request at a time, in
 *     the calling thread, on the handle's own connection cache (keep-alive between
 *     calls). A handle is used by one thread at a time; callers that share a server
 *     between threads keep a pool of handles (the Kubernetes client, over plain http).
 *   - struct aios_httpc_batch: many requests at once on one curl multi handle, driven
 *     by the thread that owns the batch (the scraper's pods, the node agent's probes);
 *     connections stay open between rounds.
 *   - struct aios_httpc_mux: one curl multi handle driven by a thread of its own, on
 *     which any thread runs requests; HTTP/2 requests to one server share one
 *     connection as streams (the Kubernetes client's watches and calls, as client-go
 *     has them), HTTP/1.1 ones get a connection each from its cache.
 *
 * Per-call options (deadline, cancellation, whether the call may run while the process
 * shuts down, the body cap) are an argument of each call: nothing is thread-local.
 *
 * Errors: TIMEOUT (the deadline passed), CANCELLED (the call's cancel flag or a
 * process shutdown), UNAVAILABLE (resolve, refused, reset, closed early), TLS (a
 * handshake or certificate verification failure: the message carries OpenSSL's words),
 * TOO_BIG (the body passed its cap: the write callback stopped the transfer),
 * PROTOCOL (a malformed answer). A non-2xx answer is not an error here: the caller
 * reads resp->code. A proxy that refused the connection or the CONNECT is named in the
 * message ("GET /x: proxy http://127.0.0.1:3128: Failed to connect ..."; user info left
 * out), "proxy from the environment" when it came from HTTPS_PROXY and answered.
 */
#ifndef AIOS_HTTP_CLIENT_H
#define AIOS_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define AIOS_HTTPC_CONNECT_TIMEOUT_MS 10000 /* connect + TLS handshake, unless less is left */
#define AIOS_HTTPC_POLL_SLICE_MS      100   /* cancel and shutdown are checked this often */

/* ---- TLS material ------------------------------------------------------------ */

/* Trust anchors and an optional client certificate, shared read-only by every request
 * made with it (threads may share it). */
struct aios_httpc_tls;

/* ca: PEM bundle (NULL: the system's store), cert and key: the client's PEM
 * certificate and key (both or neither), insecure: no server verification at all.
 * Lengths exclude any NUL. Each input is parsed with OpenSSL here so that a bad one is
 * named now (AIOS_ERR_TLS: "client key is not a PEM private key"), and the pair is
 * checked to match. The bytes are copied (the key's copy is wiped when freed). */
enum aios_err aios_httpc_tls_new(const char *ca, size_t ca_len, const char *cert, size_t cert_len,
                                 const char *key, size_t key_len, int insecure,
                                 struct aios_httpc_tls **out) AIOS_MUST_CHECK;
void aios_httpc_tls_free(struct aios_httpc_tls *t);

/* ---- one request -------------------------------------------------------------- */

/* What a call may take: given at the call site. A zeroed struct means no deadline, no
 * cancel flag, stopped by a shutdown, body cap AIOS_CAP_API_BODY. */
struct aios_httpc_opts {
	int64_t timeout_ms;   /* the whole exchange, connect included; 0 = none */
	const int *cancel;    /* stop when *cancel != 0 (read atomically), or NULL */
	int past_shutdown;    /* 1: a process-wide shutdown does not stop this call */
	size_t body_cap;      /* bytes of body kept in resp->body; 0 = AIOS_CAP_API_BODY */
	int64_t low_speed_s;  /* fail when slower than low_speed_bytes/s this long; 0 = never */
	long low_speed_bytes; /* bytes per second; 0 = 1 (no byte at all) */
};

/* A sink for a streamed body: called with the bytes of a 2xx answer as they arrive.
 * Returns 0 to go on, non-zero to stop the transfer (the call then returns
 * AIOS_ERR_CANCELLED; the sink keeps its own reason). */
typedef int (*aios_httpc_sink_fn)(void *arg, const char *p, size_t n);

struct aios_httpc_req {
	const char *method;         /* "GET", "POST", ...; NULL = GET */
	const char *url;            /* "http[s]://host[:port]/path?query" */
	const char *const *headers; /* "Name: value" lines, NULL-terminated, or NULL */
	const char *body;           /* request body, or NULL */
	size_t body_len;
	struct aios_httpc_tls *tls; /* https: trust and client cert; NULL = system store */
	const char *proxy;          /* "http://proxy:3128", for every request (NO_PROXY does
	                             * not apply); NULL = HTTPS_PROXY/NO_PROXY env */
	int http2;                  /* 1: offer HTTP/2 over TLS (ALPN), else HTTP/1.1 */
	aios_httpc_sink_fn sink;    /* NULL: a 2xx body is kept in resp->body */
	void *sink_arg;
	struct aios_buf *into; /* when set (and no sink): a 2xx body goes here, bounded by
	                        * this buffer's own cap (TOO_BIG past it) */
	int follow_redirects;  /* 1: follow up to 5 redirects (http and https only) */
	int connect_only;      /* 1: connect (and shake hands), send nothing: a TCP check */
	const char *what;      /* names the request in messages; NULL = method + URL */
	/* names of answer headers to keep (case-insensitive, NULL-terminated), copied as
	 * "Name: value\r\n" lines into resp->headers; NULL keeps none. A proxy passes an
	 * upstream's headers on with it (aios-gateway). */
	const char *const *keep_headers;
};

struct aios_httpc_resp {
	long code;               /* HTTP status, 0 if none came */
	struct aios_buf body;    /* the body (non-2xx always; 2xx without a sink) */
	int retry_after_s;       /* Retry-After seconds (0..3600), 0 if absent */
	int http_version;        /* 1 or 2: the protocol the answer came in */
	int sink_stopped;        /* 1: the request's sink stopped the transfer */
	char content_type[128];  /* the final answer's Content-Type, "" if none (or longer) */
	struct aios_buf headers; /* the req->keep_headers lines of the final answer, at most
	                          * AIOS_HTTPC_KEPT_HEADERS_CAP bytes (more are dropped) */
};

#define AIOS_HTTPC_KEPT_HEADERS_CAP 8192

/* Frees the body (the struct is the caller's). */
void aios_httpc_resp_cleanup(struct aios_httpc_resp *resp);

/* A connection cache for requests made one at a time. */
struct aios_httpc_handle;

struct aios_httpc_handle *aios_httpc_handle_new(void);
void aios_httpc_handle_free(struct aios_httpc_handle *h);

/* Runs req on h in this thread until the answer is complete, the deadline passes or
 * the call is cancelled. resp is initialised here and filled as far as the exchange
 * went; the caller cleans it up. Errors as above. */
enum aios_err aios_httpc_perform(struct aios_httpc_handle *h, const struct aios_httpc_req *req,
                                 const struct aios_httpc_opts *o,
                                 struct aios_httpc_resp *resp) AIOS_MUST_CHECK;

/* One GET of url with a fresh handle, following redirects. *code gets the final status
 * (0 if none came); body (initialised by the caller: its cap bounds the page) collects
 * a 2xx body, TOO_BIG past its cap; o may be NULL. A non-2xx status is no error here. */
enum aios_err aios_httpc_get(const char *url, const struct aios_httpc_opts *o, long *code,
                             struct aios_buf *body) AIOS_MUST_CHECK;

/* ---- one connection shared by many threads ---------------------------------------- */

/* Streamed bytes held for one request's sink (a watch's reader), at most. */
#define AIOS_HTTPC_MUX_QUEUE_CAP (1u << 20)
/* A sink's block larger than this after a burst is freed, not kept for the stream. */
#define AIOS_HTTPC_MUX_KEEP (64u << 10)
/* HTTP/2 streams we open on one connection (kube-apiserver allows more). */
#define AIOS_HTTPC_MUX_STREAMS 250

/* A curl multi handle and the thread that drives it. Requests made through it share
 * its connections: over HTTP/2 (req->http2 on https, and the server takes it in ALPN)
 * they wait for the first connection to a server and then run as streams on it; when
 * the server answers HTTP/1.1, each request in flight gets a connection of its own and
 * idle ones are reused. A lost connection fails every stream on it (UNAVAILABLE or
 * PROTOCOL); the next requests connect again. Threads may share one. */
struct aios_httpc_mux;

/* Starts the thread. Never fails (aborts when out of memory or threads). */
struct aios_httpc_mux *aios_httpc_mux_new(void);
/* Stops the thread and closes the connections. Requests should have returned before: one
 * still in flight ends with CANCELLED, and this waits until its call has returned; a
 * call made after this began fails CANCELLED. NULL is a no-op. */
void aios_httpc_mux_free(struct aios_httpc_mux *m);

/* As aios_httpc_perform, with the transfer on m's thread; the caller's thread waits for
 * it (o->timeout_ms is kept by curl there). A sink still runs in the calling thread:
 * the bytes of a streamed body are queued, up to AIOS_HTTPC_MUX_QUEUE_CAP. Past it an
 * HTTP/1.1 transfer is paused until the sink has taken them; an HTTP/2 stream is ended
 * and the call fails with TOO_BIG ("the reader fell ... behind") after the sink got
 * the bytes queued before the cut. Either way a slow reader holds back only its own
 * request. Cancellation and a shutdown are noticed within AIOS_HTTPC_POLL_SLICE_MS. */
enum aios_err aios_httpc_mux_perform(struct aios_httpc_mux *m, const struct aios_httpc_req *req,
                                     const struct aios_httpc_opts *o,
                                     struct aios_httpc_resp *resp) AIOS_MUST_CHECK;

/* ---- many requests at once ------------------------------------------------------ */

/* A curl multi handle and its connection cache, owned by one thread. */
struct aios_httpc_batch;

/* max_parallel: requests in flight at once (more wait their turn); max_idle:
 * connections kept open between rounds. */
struct aios_httpc_batch *aios_httpc_batch_new(int max_parallel, int max_idle);
void aios_httpc_batch_free(struct aios_httpc_batch *b);

/* The outcome of one GET of a round. */
struct aios_httpc_result {
	enum aios_err err; /* AIOS_OK when an answer came (any code) */
	long code;         /* HTTP status, 0 if none came */
	struct aios_buf body;
	char error[160]; /* why not, when err: curl's words with the phase */
};

/* GETs urls[0..n) concurrently, each within o->timeout_ms of its own start (bodies
 * capped at o->body_cap), and fills out[0..n) (initialised here; free each with
 * aios_httpc_result_cleanup). Returns when every request has finished. */
void aios_httpc_batch_get(struct aios_httpc_batch *b, const char *const *urls, size_t n,
                          const struct aios_httpc_opts *o, struct aios_httpc_result *out);
void aios_httpc_result_cleanup(struct aios_httpc_result *r);

#endif
