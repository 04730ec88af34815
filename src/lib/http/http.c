/*
 * http.c - the HTTP/1.1 server (see http.h).
 *
 * Shape: `threads` event loops, each with its own epoll set, its own listening socket
 * on the same port (SO_REUSEPORT: the kernel spreads new connections over the loops)
 * and its own connections, so loops share nothing on the hot path but two atomics.
 * A connection is read into a bounded buffer, parsed in place, dispatched to its
 * handler on the loop thread, and the response is written from a second buffer;
 * while a response is pending the connection is not parsed further (pipelined
 * requests wait in the input buffer). Epoll is level-triggered.
 *
 * Timers: each loop wakes at least every TICK_MS and sweeps its connections for the
 * read timeout (408), the idle timeout, and the stop deadline. TICK_MS bounds how late
 * a timeout fires; it costs one list walk per loop per tick.
 *
 * The decision to build this on epoll rather than libwebsockets, with the figures
 * behind it, is in docs/internals/http.md.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "http/metrics.h"
#include "http/tls_io.h"

#define TICK_MS    100   /* timer sweep period */
#define READ_CHUNK 16384 /* bytes per read(2) */
#define READ_BURST                                                                                 \
	4 /* reads per readable event before parsing: pipelined
                                * input waits in the kernel, not in our memory */
#define MAX_EVENTS 64
/* Bytes a connection may leave unsent in the kernel (TCP_NOTSENT_LOWAT): past them a
 * write would block, so a peer that stops reading holds this much in the kernel and one
 * response of ours, not the megabytes of an autotuned send buffer (and the CPU of the
 * dozens of responses that would fill it). 64 KiB keeps a LAN's bandwidth-delay
 * product in flight. */
#define NOTSENT_LOWAT    (64 << 10)
#define RESP_HEADERS_MAX 8192 /* extra response header bytes */

/* ================================================================ parser */

/* Messages of the refusals whose limit the server's configuration sets: the server
 * names the limit when it replies (parse_error_msg), so they are compared by address. */
static const char reason_head_limit[] = "request line and headers exceed the limit";
static const char reason_body_limit[] = "request body exceeds the limit";

#define STR_(x)               #x
#define STR(x)                STR_(x)
#define PARSE_FAIL(code, msg) (*status = (code), *reason = (msg), AIOS_HTTP_PARSE_ERROR)

static int is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A control character other than HTAB (RFC 9110 5.5: never valid in a field value). */
static int is_bad_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int ieq(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

static const char *find_crlfcrlf(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (s[i] == '\r' && s[i + 1] == '\n' && s[i + 2] == '\r' && s[i + 3] == '\n')
			return s + i;
	return NULL;
}

/*
 * Scans a chunked body in raw[0..n) without modifying it. Returns OK with *raw_len
 * (bytes up to and including the final CRLF) and *dec_len, MORE, or ERROR with status
 * and reason. Chunk extensions and trailer fields are checked and capped
 * (AIOS_HTTP_MAX_CHUNK_EXT*, AIOS_HTTP_MAX_TRAILER_BYTES), then ignored; the bytes of
 * framing are capped so that a body of tiny chunks cannot outgrow the input buffer.
 */
static enum aios_http_parse scan_chunked(const char *raw, size_t n, size_t max_body,
                                         size_t *raw_len, size_t *dec_len, int *status,
                                         const char **reason)
{
	size_t i = 0, total = 0, ext_total = 0;
	for (;;) {
		if (i - total > max_body + AIOS_HTTP_MAX_CHUNK_FRAMING)
			return PARSE_FAIL(400, "chunked framing too large for the body (too many "
			                       "small chunks)");
		size_t size = 0;
		int digits = 0;
		while (i < n) {
			int c = raw[i], v;
			if (c >= '0' && c <= '9')
				v = c - '0';
			else if (c >= 'a' && c <= 'f')
				v = c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v = c - 'A' + 10;
			else
				break;
			if (++digits > 8)
				return PARSE_FAIL(413, reason_body_limit);
			size = size * 16 + (size_t)v;
			i++;
		}
		if (i == n)
			return AIOS_HTTP_PARSE_MORE;
		if (!digits)
			return PARSE_FAIL(400, "malformed chunk size (no hex digits)");
		size_t ext = i;
		while (i < n && raw[i] != '\r') {
			if (is_bad_ctl((unsigned char)raw[i]))
				return PARSE_FAIL(400, "control character in a chunk extension");
			if (i - ext == AIOS_HTTP_MAX_CHUNK_EXT)
				return PARSE_FAIL(400,
				                  "chunk extension longer than the limit of " STR(
				                      AIOS_HTTP_MAX_CHUNK_EXT) " bytes");
			i++;
		}
		ext_total += i - ext;
		if (ext_total > AIOS_HTTP_MAX_CHUNK_EXT_TOTAL)
			return PARSE_FAIL(400,
			                  "chunk extensions of one request exceed the "
			                  "limit of " STR(AIOS_HTTP_MAX_CHUNK_EXT_TOTAL) " bytes");
		if (i + 1 >= n)
			return AIOS_HTTP_PARSE_MORE;
		if (raw[i + 1] != '\n')
			return PARSE_FAIL(400, "chunk size line ends in CR without LF");
		i += 2;
		if (size == 0)
			break;
		total += size;
		if (total > max_body)
			return PARSE_FAIL(413, reason_body_limit);
		if (n - i < size + 2)
			return AIOS_HTTP_PARSE_MORE;
		if (raw[i + size] != '\r' || raw[i + size + 1] != '\n')
			return PARSE_FAIL(400, "chunk data not followed by CRLF");
		i += size + 2;
	}
	/* the trailer section: "name: value" lines until an empty one, then discarded */
	size_t trailers = i;
	for (;;) {
		size_t ls = i;
		while (i < n && raw[i] != '\r') {
			if (i - trailers == AIOS_HTTP_MAX_TRAILER_BYTES)
				return PARSE_FAIL(431, "trailer section exceeds the limit of " STR(
				                           AIOS_HTTP_MAX_TRAILER_BYTES) " bytes");
			if (is_bad_ctl((unsigned char)raw[i]))
				return PARSE_FAIL(400, "control character in a trailer field");
			i++;
		}
		if (i + 1 >= n)
			return AIOS_HTTP_PARSE_MORE;
		if (raw[i + 1] != '\n')
			return PARSE_FAIL(400, "trailer line ends in CR without LF");
		if (i == ls) {
			i += 2;
			break;
		}
		size_t k = ls;
		while (k < i && is_tchar((unsigned char)raw[k]))
			k++;
		if (k == ls || raw[k] != ':')
			return PARSE_FAIL(400, "malformed trailer field (want name: value)");
		i += 2;
	}
	*raw_len = i;
	*dec_len = total;
	return AIOS_HTTP_PARSE_OK;
}

/* Decodes a chunked body already accepted by scan_chunked in place: raw[0..dec_len). */
static void decode_chunked(char *raw, size_t raw_len)
{
	size_t i = 0, out = 0;
	while (i < raw_len) {
		size_t size = 0;
		for (;; i++) {
			int c = raw[i];
			int v = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			        : c >= 'A' && c <= 'F' ? c - 'A' + 10
			                               : -1;
			if (v < 0)
				break;
			size = size * 16 + (size_t)v;
		}
		while (raw[i] != '\r' || raw[i + 1] != '\n') /* extensions (any bytes but CR) */
			i++;
		i += 2;
		if (size == 0)
			return;
		memmove(raw + out, raw + i, size);
		out += size;
		i += size + 2;
	}
}

struct hdr_span {
	size_t name, name_len, value, value_len;
};

enum aios_http_parse aios_http_parse_request(char *buf, size_t len, size_t max_header,
                                             size_t max_body, struct aios_http_req *req,
                                             size_t *consumed, int *status, const char **reason,
                                             int *expect_continue)
{
	size_t start = 0;
	*expect_continue = 0;
	*status = 400;
	*reason = "malformed HTTP request";
	while (start + 1 < len && buf[start] == '\r' && buf[start + 1] == '\n')
		start += 2; /* RFC 9112 2.2: ignore empty lines before a request */
	char *s = buf + start;
	size_t n = len - start;
	size_t limit = n < max_header ? n : max_header;
	const char *hend = find_crlfcrlf(s, limit);
	if (!hend) {
		if (n >= max_header)
			return PARSE_FAIL(431, reason_head_limit);
		/* fail early on garbage that can never become a request line */
		for (size_t i = 0; i < n && s[i] != ' '; i++)
			if (!is_tchar((unsigned char)s[i]) && !(s[i] == '\r' || s[i] == '\n'))
				return PARSE_FAIL(400, "malformed request line (bad method)");
		return AIOS_HTTP_PARSE_MORE;
	}
	size_t head_len = (size_t)(hend - s) + 4;

	/* ---- pass 1: find spans, change nothing */
	size_t i = 0;
	while (i < head_len && is_tchar((unsigned char)s[i]))
		i++;
	size_t method_len = i;
	if (method_len == 0 || method_len > 16 || s[i] != ' ')
		return PARSE_FAIL(400, "malformed request line (bad method)");
	size_t target = ++i;
	while (i < head_len && s[i] > ' ' && s[i] < 0x7f)
		i++;
	size_t target_len = i - target;
	if (target_len == 0 || s[target] != '/' || s[i] != ' ')
		return PARSE_FAIL(400, "malformed request target (want an absolute path)");
	i++;
	int minor;
	if (i + 10 > head_len || memcmp(s + i, "HTTP/1.", 7) != 0 ||
	    (s[i + 7] != '0' && s[i + 7] != '1') || s[i + 8] != '\r' || s[i + 9] != '\n') {
		if (i + 5 <= head_len && memcmp(s + i, "HTTP/", 5) == 0)
			return PARSE_FAIL(505, "HTTP version not supported (HTTP/1.0 and 1.1 are)");
		return PARSE_FAIL(400, "malformed request line (bad version)");
	}
	minor = s[i + 7] - '0';
	i += 10;

	struct hdr_span h[AIOS_HTTP_MAX_HEADERS];
	int nh = 0;
	long long clen = -1;
	int chunked = 0, conn_close = 0, conn_keep = 0, expect = 0;
	while (i < head_len - 2) {
		size_t ls = i;
		while (i < head_len && s[i] != '\r')
			i++;
		if (s[i + 1] != '\n')
			return PARSE_FAIL(400, "header line ends in CR without LF");
		size_t le = i;
		i += 2;
		size_t k = ls;
		while (k < le && is_tchar((unsigned char)s[k]))
			k++;
		if (k == ls || k == le || s[k] != ':') /* also refuses obs-fold (leading space) */
			return PARSE_FAIL(400, "malformed header field (want name: value, no "
			                       "line folding)");
		if (nh == AIOS_HTTP_MAX_HEADERS)
			return PARSE_FAIL(431, "more than 64 header fields");
		size_t v = k + 1, ve = le;
		while (v < ve && (s[v] == ' ' || s[v] == '\t'))
			v++;
		while (ve > v && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
			ve--;
		for (size_t q = v; q < ve; q++)
			if (is_bad_ctl((unsigned char)s[q]))
				return PARSE_FAIL(400, "control character in a header field value");
		h[nh] = (struct hdr_span){ls, k - ls, v, ve - v};
		const char *name = s + ls, *val = s + v;
		size_t nl = k - ls, vl = ve - v;
		if (ieq(name, nl, "content-length")) {
			long long c = 0;
			if (vl > 18)
				return PARSE_FAIL(413, reason_body_limit);
			for (size_t q = 0; q < vl; q++) {
				if (val[q] < '0' || val[q] > '9')
					return PARSE_FAIL(400, "Content-Length is not a number");
				c = c * 10 + (val[q] - '0');
			}
			if (vl == 0)
				return PARSE_FAIL(400, "Content-Length is not a number");
			if (clen >= 0 && clen != c)
				return PARSE_FAIL(400, "conflicting Content-Length values");
			clen = c;
		} else if (ieq(name, nl, "transfer-encoding")) {
			/* RFC 9112 6.1: a 1.0 peer cannot mean it; a proxy may frame by length */
			if (minor == 0)
				return PARSE_FAIL(400, "Transfer-Encoding is not allowed in an "
				                       "HTTP/1.0 request");
			if (!ieq(val, vl, "chunked"))
				return PARSE_FAIL(501,
				                  "transfer-encoding not supported (only chunked)");
			chunked = 1;
		} else if (ieq(name, nl, "connection")) {
			if (ieq(val, vl, "close"))
				conn_close = 1;
			else if (ieq(val, vl, "keep-alive"))
				conn_keep = 1;
		} else if (ieq(name, nl, "expect")) {
			if (!ieq(val, vl, "100-continue"))
				return PARSE_FAIL(417,
				                  "unsupported Expect header (only 100-continue)");
			expect = 1;
		}
		nh++;
	}
	if (chunked && clen >= 0) /* the request smuggling shape */
		return PARSE_FAIL(400, "both Content-Length and Transfer-Encoding");
	if (clen > (long long)max_body)
		return PARSE_FAIL(413, reason_body_limit);

	size_t body_len = 0, total;
	if (chunked) {
		size_t raw_len, dec;
		enum aios_http_parse r = scan_chunked(s + head_len, n - head_len, max_body,
		                                      &raw_len, &dec, status, reason);
		if (r == AIOS_HTTP_PARSE_ERROR)
			return r;
		if (r == AIOS_HTTP_PARSE_MORE) {
			*expect_continue = expect;
			return r;
		}
		body_len = dec;
		total = head_len + raw_len;
	} else {
		body_len = clen > 0 ? (size_t)clen : 0;
		if (n - head_len < body_len) {
			*expect_continue = expect;
			return AIOS_HTTP_PARSE_MORE;
		}
		total = head_len + body_len;
	}

	/* ---- pass 2: complete; terminate tokens in place */
	memset(req, 0,
	       offsetof(struct aios_http_req, param_store)); /* the store needs no zeroing */
	req->route = NULL;
	req->peer = NULL;
	req->conn_user = NULL;
	s[method_len] = '\0';
	req->method = s;
	s[target + target_len] = '\0';
	req->path = s + target;
	char *q = strchr(s + target, '?');
	if (q) {
		*q = '\0';
		req->query = q + 1;
	} else {
		req->query = "";
	}
	for (int j = 0; j < nh; j++) {
		s[h[j].name + h[j].name_len] = '\0';
		s[h[j].value + h[j].value_len] = '\0';
		req->headers[j].name = s + h[j].name;
		req->headers[j].value = s + h[j].value;
	}
	req->n_headers = nh;
	if (chunked)
		decode_chunked(s + head_len, total - head_len);
	req->body = s + head_len;
	req->body_len = body_len;
	req->keep_alive = minor == 1 ? !conn_close : (conn_keep && !conn_close);
	*consumed = start + total;
	*status = 0;
	*reason = NULL;
	return AIOS_HTTP_PARSE_OK;
}

int aios_http_match(const char *pat, const char *path, struct aios_http_req *req)
{
	char *store = req->param_store;
	size_t used = 0;
	int np = 0;
	const char *p = pat, *s = path;
	while (*p) {
		if (*p == '*' && p[1] == '\0')
			break;
		if (*p == '{') {
			const char *close = strchr(p, '}');
			if (!close || np == AIOS_HTTP_MAX_PARAMS)
				return 0;
			char stop = close[1] == '*' ? '\0' : close[1];
			const char *v = s;
			while (*s && *s != '/' && *s != stop)
				s++;
			size_t nl = (size_t)(close - p - 1), vl = (size_t)(s - v);
			if (vl == 0 || used + nl + vl + 2 > sizeof req->param_store)
				return 0;
			memcpy(store + used, p + 1, nl);
			store[used + nl] = '\0';
			req->param_names[np] = store + used;
			used += nl + 1;
			memcpy(store + used, v, vl);
			store[used + vl] = '\0';
			req->param_values[np++] = store + used;
			used += vl + 1;
			p = close + 1;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	if (!*p && *s)
		return 0;
	req->n_params = np;
	return 1;
}

/* ================================================================ helpers */

const char *aios_http_req_header(const struct aios_http_req *r, const char *name)
{
	for (int i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

const char *aios_http_req_param(const struct aios_http_req *r, const char *name)
{
	for (int i = 0; i < r->n_params; i++)
		if (strcmp(r->param_names[i], name) == 0)
			return r->param_values[i];
	return NULL;
}

void aios_http_resp_header(struct aios_http_resp *resp, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return;
	if (aios_buf_printf(&resp->headers, "%s: %s\r\n", name, value) != AIOS_OK)
		aios_warn("http_header_dropped", "response header %s dropped: headers full", name);
}

void aios_http_resp_json(struct aios_http_resp *resp, int status, const char *json, size_t len)
{
	resp->status = status;
	resp->content_type = "application/json";
	aios_buf_reset(&resp->body);
	if (aios_buf_append(&resp->body, json, len) != AIOS_OK) {
		resp->status = 500;
		aios_buf_reset(&resp->body);
		if (aios_buf_puts(&resp->body, "{\"error\":\"response too large\"}") != AIOS_OK)
			resp->body.len = 0; /* cannot happen: the buffer is empty */
	}
}

void aios_http_resp_error(struct aios_http_resp *resp, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->content_type = "application/json";
	aios_buf_reset(&resp->body);
	/* json-c escaping would allocate a tree; the message is short, escape by hand */
	enum aios_err e = aios_buf_puts(&resp->body, "{\"error\":\"");
	for (const unsigned char *p = (const unsigned char *)msg; *p && !e; p++) {
		if (*p == '"' || *p == '\\')
			e = aios_buf_printf(&resp->body, "\\%c", *p);
		else if (*p < 0x20)
			e = aios_buf_printf(&resp->body, "\\u%04x", *p);
		else
			e = aios_buf_append(&resp->body, p, 1);
	}
	if (!e)
		e = aios_buf_puts(&resp->body, "\"}");
	(void)e; /* 1 KiB into a 16 MiB cap cannot fail */
}

const char *aios_http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

void aios_http_metrics_handler(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct aios_metrics *reg = ud;
	if (aios_metrics_render(reg, &resp->body) != AIOS_OK) {
		aios_http_resp_error(resp, 500, "%s", aios_errmsg());
		return;
	}
	resp->status = 200;
	resp->content_type = AIOS_METRICS_CONTENT_TYPE;
}

void aios_http_ok_handler(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	aios_http_resp_json(resp, 200, "{\"status\":\"ok\"}", 15);
}

/* ================================================================ server */

struct route {
	char method[16];
	char *pattern;
	aios_http_handler fn;
	void *ud;
};

struct conn {
	struct conn *prev, *next;
	int fd;
	struct ssl_st *ssl; /* TLS (OpenSSL, see tls_io.h), NULL for plain */
	int handshaken;
	struct aios_tls_peer *cert_peer; /* a verified client certificate's subject, or NULL */
	size_t tls_wlen; /* a TLS write that would block is retried with this length */
	struct aios_buf in, out;
	int64_t first_byte_ns; /* start of the request being received, 0 if none */
	int64_t last_ns;       /* last read or write (the idle clock) */
	int64_t write_ns;      /* out last became non-empty or last drained a byte (the
	                        * write clock: reads never touch it) */
	int close_after;       /* close once out is flushed */
	int want_out;          /* EPOLLOUT registered */
	int continue_sent;
	struct aios_http_defer *deferred; /* the request waiting for its response, or NULL */
	struct conn *resume_next;         /* on the loop's resume list (pipelined input waits) */
	int on_resume;
	uint32_t peer; /* source IPv4 address, network order */
	int counted;   /* holds a slot in the server's per-client table */
};

struct aios_http_defer {
	struct aios_http_defer *next; /* free list */
	struct loop *l;
	struct conn *c;           /* NULL once the connection is gone */
	struct aios_http_req req; /* borrows from c->in, which is not touched meanwhile */
	struct aios_http_resp resp;
	size_t consumed;
	int64_t t0;
};

struct loop {
	struct aios_http_server *srv;
	int index;
	pthread_t thread;
	int epfd, lfd, wakefd;
	struct conn *conns;
	void *user;
	struct aios_http_resp resp; /* reused for every request on this loop */
	int64_t last_sweep_ns;
	struct aios_http_defer *free_defers;
	struct conn *resume;      /* connections to parse again after round_end */
	int64_t accept_resume_ns; /* accept paused until then (out of fds); 0: accepting */
	int64_t accept_warn_ns;   /* last "out of file descriptors" warning */
};

/* The request being dispatched on this thread (for aios_http_defer). */
static __thread struct {
	struct loop *l;
	struct conn *c;
	struct aios_http_defer *d;
} cur;

struct aios_http_server {
	struct aios_http_config cfg;
	struct route routes[AIOS_HTTP_MAX_ROUTES];
	int n_routes;
	struct loop *loops;
	int n_loops;
	int port;
	struct aios_tls_server *tls; /* NULL for plain HTTP */
	atomic_int n_conns;
	atomic_int stopping;
	/* Open connections per source address (max_connections_per_client): an open-
	 * addressing table of at least twice max_connections slots, count 0 = free. */
	pthread_mutex_t peers_mu;
	struct peer_slot {
		uint32_t addr;
		int count;
	} * peers;
	size_t peers_mask;
	int64_t stop_deadline_ns;
	int running;
};

void aios_http_config_defaults(struct aios_http_config *c)
{
	memset(c, 0, sizeof *c);
	c->bind_addr = "0.0.0.0";
	c->port = 8080;
	c->threads = 1;
	c->max_header_bytes = 16 << 10;
	c->max_body_bytes = 1 << 20;
	c->read_timeout_ms = 10000;
	c->write_timeout_ms = 10000;
	c->idle_timeout_ms = 60000;
	c->max_connections = 4096;
	c->max_connections_per_client = 0;
	c->name = "http";
}

struct aios_http_server *aios_http_server_new(const struct aios_http_config *c)
{
	struct aios_http_server *s = aios_xcalloc(1, sizeof *s);
	s->cfg = *c;
	if (s->cfg.threads < 1)
		s->cfg.threads = 1;
	if (s->cfg.max_body_bytes > AIOS_CAP_HTTP_REQUEST)
		s->cfg.max_body_bytes = AIOS_CAP_HTTP_REQUEST;
	if (s->cfg.max_header_bytes < 256)
		s->cfg.max_header_bytes = 256;
	if (!s->cfg.name)
		s->cfg.name = "http";
	if (s->cfg.write_timeout_ms <= 0)
		s->cfg.write_timeout_ms = s->cfg.read_timeout_ms;
	if (s->cfg.max_connections < 1)
		s->cfg.max_connections = 1;
	if (s->cfg.max_connections_per_client > 0) {
		size_t slots = 64;
		while (slots < 2 * (size_t)s->cfg.max_connections)
			slots *= 2;
		s->peers = aios_xcalloc(slots, sizeof *s->peers);
		s->peers_mask = slots - 1;
		pthread_mutex_init(&s->peers_mu, NULL);
	}
	return s;
}

enum aios_err aios_http_route(struct aios_http_server *s, const char *method, const char *pattern,
                              aios_http_handler fn, void *ud)
{
	if (s->n_routes == AIOS_HTTP_MAX_ROUTES)
		return aios_fail(AIOS_ERR_TOO_BIG, "http: more than %d routes",
		                 AIOS_HTTP_MAX_ROUTES);
	if (!pattern || pattern[0] != '/' || strlen(method) >= sizeof s->routes[0].method)
		return aios_fail(AIOS_ERR_INVALID, "http: bad route %s %s", method,
		                 pattern ? pattern : "(null)");
	int depth = 0;
	for (const char *p = pattern; *p; p++) {
		if (*p == '{' && depth++)
			return aios_fail(AIOS_ERR_INVALID, "http: nested '{' in %s", pattern);
		if (*p == '}' && !depth--)
			return aios_fail(AIOS_ERR_INVALID, "http: unbalanced '}' in %s", pattern);
		if (*p == '*' && p[1])
			return aios_fail(AIOS_ERR_INVALID, "http: '*' must end pattern %s",
			                 pattern);
	}
	if (depth)
		return aios_fail(AIOS_ERR_INVALID, "http: unclosed '{' in %s", pattern);
	struct route *r = &s->routes[s->n_routes++];
	snprintf(r->method, sizeof r->method, "%s", method);
	r->pattern = aios_xstrdup(pattern);
	r->fn = fn;
	r->ud = ud;
	return AIOS_OK;
}

int aios_http_server_port(const struct aios_http_server *s)
{
	return s->port;
}

int aios_http_server_connections(const struct aios_http_server *s)
{
	return atomic_load(&((struct aios_http_server *)s)->n_conns);
}

/* ---------------------------------------------------------------- clients */

static void emit(struct loop *l, enum aios_http_event ev)
{
	if (l->srv->cfg.on_event)
		l->srv->cfg.on_event(ev, l->srv->cfg.on_response_ud);
}

static size_t peer_hash(const struct aios_http_server *s, uint32_t addr)
{
	return (size_t)((addr * 0x9E3779B1u) >> 7) & s->peers_mask;
}

/* The slot holding addr, or the free slot where it would go (peers_mu held). */
static struct peer_slot *peer_find(struct aios_http_server *s, uint32_t addr)
{
	size_t i = peer_hash(s, addr);
	while (s->peers[i].count && s->peers[i].addr != addr)
		i = (i + 1) & s->peers_mask;
	return &s->peers[i];
}

/* Counts one more connection from addr if it is under the limit; 1 if counted. The
 * table cannot fill: it has twice as many slots as there can be connections. */
static int peer_acquire(struct aios_http_server *s, uint32_t addr)
{
	pthread_mutex_lock(&s->peers_mu);
	struct peer_slot *p = peer_find(s, addr);
	int ok = p->count < s->cfg.max_connections_per_client;
	if (ok) {
		p->addr = addr;
		p->count++;
	}
	pthread_mutex_unlock(&s->peers_mu);
	return ok;
}

/* Uncounts a connection; an emptied slot is filled by shifting back the entries that
 * probed past it (linear probing without tombstones). */
static void peer_release(struct aios_http_server *s, uint32_t addr)
{
	pthread_mutex_lock(&s->peers_mu);
	struct peer_slot *p = peer_find(s, addr);
	if (p->count && --p->count == 0) {
		size_t hole = (size_t)(p - s->peers), j = hole;
		for (;;) {
			j = (j + 1) & s->peers_mask;
			if (!s->peers[j].count)
				break;
			size_t home = peer_hash(s, s->peers[j].addr);
			/* the entry at j may move to hole unless its home lies in (hole, j] */
			int stays =
			    hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
			if (stays)
				continue;
			s->peers[hole] = s->peers[j];
			s->peers[j].count = 0;
			hole = j;
		}
	}
	pthread_mutex_unlock(&s->peers_mu);
}

/* This loop's longest-idle connection from addr: no request in progress, nothing
 * queued, not deferred. NULL if none. */
static struct conn *idle_victim(struct loop *l, uint32_t addr)
{
	struct conn *best = NULL;
	for (struct conn *c = l->conns; c; c = c->next)
		if (c->counted && c->peer == addr && !c->first_byte_ns && !c->in.len &&
		    !c->out.len && !c->deferred && (!best || c->last_ns < best->last_ns))
			best = c;
	return best;
}

/* ---------------------------------------------------------------- connections */

static void conn_close(struct loop *l, struct conn *c)
{
	if (c->deferred)
		c->deferred->c = NULL; /* its owner still calls done, which then only frees */
	if (c->on_resume)
		for (struct conn **pp = &l->resume; *pp; pp = &(*pp)->resume_next)
			if (*pp == c) {
				*pp = c->resume_next;
				break;
			}
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	aios_tls_close(c->ssl); /* NULL for plain */
	free(c->cert_peer);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	aios_buf_cleanup(&c->in);
	aios_buf_cleanup(&c->out);
	if (c->counted)
		peer_release(l->srv, c->peer);
	free(c);
	atomic_fetch_sub(&l->srv->n_conns, 1);
}

/* Raw read: >0 bytes, 0 EOF, -1 would block, -2 error. */
static ssize_t conn_read(struct conn *c, char *p, size_t n)
{
	if (c->ssl)
		return aios_tls_read(c->ssl, p, n);
	ssize_t r = read(c->fd, p, n);
	if (r >= 0)
		return r;
	return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -1 : -2;
}

static ssize_t conn_write(struct conn *c, const char *p, size_t n)
{
	if (c->ssl) {
		/* OpenSSL wants a write that would block repeated with the same length (the
		 * record is already sealed); out only grows after it has drained. */
		if (c->tls_wlen && c->tls_wlen <= n)
			n = c->tls_wlen;
		ssize_t r = aios_tls_write(c->ssl, p, n);
		c->tls_wlen = r == -1 ? n : 0;
		return r;
	}
	ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -1 : -2;
}

/* While a response is pending the connection waits for EPOLLOUT only: what the peer
 * sends meanwhile stays in the kernel (a peer that does not read its answers cannot
 * make us buffer more of its requests), and a hang-up still wakes us (EPOLLHUP and
 * EPOLLERR are always reported). */
static void set_events(struct loop *l, struct conn *c, int want_out)
{
	if (c->want_out == want_out)
		return;
	struct epoll_event ev = {.events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
	epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want_out;
}

/* Gives a drained buffer's memory back when it grew past KEEP_BUF_BYTES, so an idle
 * connection costs its struct, not the largest request or response it once carried. */
#define KEEP_BUF_BYTES (64u << 10)
static void buf_trim(struct aios_buf *b)
{
	if (b->len == 0 && b->cap > KEEP_BUF_BYTES) {
		size_t max = b->max;
		aios_buf_cleanup(b);
		aios_buf_init(b, max);
	}
}

/* Writes what it can of c->out; returns -1 if the connection was closed. */
static int conn_flush(struct loop *l, struct conn *c)
{
	size_t off = 0;
	while (off < c->out.len) {
		ssize_t w = conn_write(c, c->out.data + off, c->out.len - off);
		if (w == -1)
			break;
		if (w < 0) {
			aios_buf_consume(&c->out, off);
			conn_close(l, c);
			return -1;
		}
		off += (size_t)w;
		c->last_ns = c->write_ns = aios_now_ns();
	}
	aios_buf_consume(&c->out, off);
	buf_trim(&c->out);
	if (c->out.len == 0 && c->close_after) {
		conn_close(l, c);
		return -1;
	}
	/* A deferred connection keeps its EPOLLIN: its events are skipped until done, which
	 * comes in the same round, and sparing two epoll_ctl calls per request matters. */
	set_events(l, c, c->out.len > 0);
	return 0;
}

/* Appends the decimal form of v. */
static enum aios_err put_size(struct aios_buf *b, size_t v)
{
	char tmp[24];
	int i = sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return aios_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

/* Queues status line, headers and body of resp on c->out (no printf: this is per request). */
static void queue_response(struct conn *c, const struct aios_http_resp *resp, int keep_alive)
{
	if (c->out.len == 0)
		c->write_ns = aios_now_ns(); /* the write clock starts with the response */
	const char *reason = aios_http_reason(resp->status);
	char status[8] = {'H', 'T', 'T', 'P', '/', '1', '.', '1'};
	enum aios_err e = aios_buf_append(&c->out, status, 8);
	char code[5] = {' ', (char)('0' + resp->status / 100 % 10),
	                (char)('0' + resp->status / 10 % 10), (char)('0' + resp->status % 10), ' '};
	if (!e)
		e = aios_buf_append(&c->out, code, 5);
	if (!e)
		e = aios_buf_puts(&c->out, reason);
	if (!e)
		e = aios_buf_append(&c->out, "\r\nContent-Type: ", 16);
	if (!e)
		e = aios_buf_puts(&c->out,
		                  resp->content_type ? resp->content_type : "application/json");
	if (!e)
		e = aios_buf_append(&c->out, "\r\nContent-Length: ", 18);
	if (!e)
		e = put_size(&c->out, resp->body.len);
	if (!e)
		e = aios_buf_append(&c->out, "\r\n", 2);
	if (!e && !keep_alive)
		e = aios_buf_append(&c->out, "Connection: close\r\n", 19);
	if (!e && resp->headers.len)
		e = aios_buf_append(&c->out, resp->headers.data, resp->headers.len);
	if (!e)
		e = aios_buf_append(&c->out, "\r\n", 2);
	if (!e && resp->body.len)
		e = aios_buf_append(&c->out, resp->body.data, resp->body.len);
	if (e) {
		aios_buf_reset(&c->out);
		c->close_after = 1;
	}
	if (!keep_alive)
		c->close_after = 1;
}

static void resp_reset(struct aios_http_resp *r)
{
	r->status = 200;
	r->content_type = "application/json";
	aios_buf_reset(&r->body);
	aios_buf_reset(&r->headers);
}

static void notify(struct loop *l, const struct aios_http_req *req, int status, int64_t t0)
{
	if (l->srv->cfg.on_response)
		l->srv->cfg.on_response(req, status, (double)(aios_now_ns() - t0) / 1e9,
		                        l->srv->cfg.on_response_ud);
}

/* Replies with a server-made error and closes after it (parse errors, timeouts). */
static void reply_error_close(struct loop *l, struct conn *c, int status, const char *msg)
{
	struct aios_http_req req;
	memset(&req, 0, sizeof req);
	req.method = "";
	req.path = "";
	req.query = "";
	req.body = "";
	resp_reset(&l->resp);
	aios_http_resp_error(&l->resp, status, "%s", msg);
	queue_response(c, &l->resp, 0);
	aios_buf_reset(&c->in);
	notify(l, &req, status, c->first_byte_ns ? c->first_byte_ns : aios_now_ns());
	c->first_byte_ns = 0;
}

/* The reply's message for a refused request: the parser's reason, with the configured
 * limit named for the two refusals that configuration sets. */
static const char *parse_error_msg(const char *reason, const struct aios_http_server *s, char *buf,
                                   size_t n)
{
	if (reason == reason_body_limit)
		snprintf(buf, n, "%s of %zu bytes", reason, s->cfg.max_body_bytes);
	else if (reason == reason_head_limit)
		snprintf(buf, n, "%s of %zu bytes", reason, s->cfg.max_header_bytes);
	else
		snprintf(buf, n, "%s", reason ? reason : "malformed HTTP request");
	return buf;
}

static void dispatch(struct loop *l, struct aios_http_req *req, struct aios_http_resp *resp)
{
	struct aios_http_server *s = l->srv;
	int path_matched = 0;
	for (int i = 0; i < s->n_routes; i++) {
		struct route *r = &s->routes[i];
		if (!aios_http_match(r->pattern, req->path, req))
			continue;
		if (strcmp(r->method, "*") != 0 && strcmp(r->method, req->method) != 0) {
			path_matched = 1;
			continue;
		}
		req->route = r->pattern;
		r->fn(req, resp, r->ud);
		return;
	}
	req->n_params = 0;
	if (path_matched)
		aios_http_resp_error(resp, 405, "method %s not allowed on %s", req->method,
		                     req->path);
	else
		aios_http_resp_error(resp, 404, "no route for %s %s", req->method, req->path);
}

/* Parses and answers every complete request in c->in while nothing is pending out. */
static int conn_process(struct loop *l, struct conn *c)
{
	struct aios_http_server *s = l->srv;
again:;
	int progressed = 0, tried = 0;
	while (c->in.len > 0 && c->out.len == 0 && !c->close_after && !c->deferred) {
		tried = 1;
		struct aios_http_req req;
		size_t consumed = 0;
		int status = 0, expect = 0;
		const char *reason = NULL;
		if (!c->first_byte_ns)
			c->first_byte_ns = aios_now_ns();
		enum aios_http_parse r = aios_http_parse_request(
		    c->in.data, c->in.len, s->cfg.max_header_bytes, s->cfg.max_body_bytes, &req,
		    &consumed, &status, &reason, &expect);
		if (r == AIOS_HTTP_PARSE_MORE) {
			if (expect && !c->continue_sent) {
				c->continue_sent = 1;
				if (aios_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") !=
				    AIOS_OK)
					c->close_after = 1;
			}
			break;
		}
		if (r == AIOS_HTTP_PARSE_ERROR) {
			char msg[160];
			reply_error_close(l, c, status,
			                  parse_error_msg(reason, s, msg, sizeof msg));
			break;
		}
		/* NUL-terminate the body for the handler; the byte is restored after. */
		char *end = (char *)req.body + req.body_len;
		char saved = *end;
		*end = '\0';
		req.conn_user = l->user;
		req.peer = c->cert_peer;
		resp_reset(&l->resp);
		cur.l = l;
		cur.c = c;
		cur.d = NULL;
		dispatch(l, &req, &l->resp);
		cur.l = NULL; /* aios_http_defer is for handlers only */
		*end = saved;
		if (cur.d) { /* deferred: the input stays until aios_http_defer_done */
			cur.d->consumed = consumed;
			cur.d->t0 = c->first_byte_ns;
			c->deferred = cur.d;
			cur.d = NULL;
			break;
		}
		if (atomic_load(
		        &s->stopping)) /* checked after the handler: stop may begin during it */
			req.keep_alive = 0;
		queue_response(c, &l->resp, req.keep_alive);
		notify(l, &req, l->resp.status, c->first_byte_ns);
		aios_buf_consume(&c->in, consumed);
		buf_trim(&c->in);
		c->first_byte_ns = 0;
		c->continue_sent = 0;
		progressed = 1;
	}
	if (conn_flush(l, c) < 0)
		return -1;
	/* pipelined requests already read: parse them once the response is out */
	if ((progressed || !tried) && c->out.len == 0 && c->in.len > 0 && !c->deferred &&
	    !c->close_after)
		goto again;
	return 0;
}

static void conn_readable(struct loop *l, struct conn *c)
{
	char chunk[READ_CHUNK];
	for (int reads = 0; reads < READ_BURST; reads++) {
		if (c->ssl && !c->handshaken) {
			int r = aios_tls_handshake(c->ssl);
			if (r != 1) {
				if (r == -1)
					return;
				/* a refused client certificate is someone knocking with the wrong
				 * key: said with the reason; other failures (scanners, plain HTTP
				 * on the TLS port) stay at debug */
				const char *why = aios_tls_verify_error(c->ssl);
				char ip[INET_ADDRSTRLEN] = "?";
				inet_ntop(AF_INET, &c->peer, ip, sizeof ip);
				if (why)
					aios_info(
					    "http_tls_client_cert_refused",
					    "%s: the client certificate of %s did not verify: %s",
					    l->srv->cfg.name, ip, why);
				else
					aios_debug("http_tls_handshake",
					           "%s: TLS handshake with %s failed",
					           l->srv->cfg.name, ip);
				conn_close(l, c);
				return;
			}
			c->handshaken = 1;
			struct aios_tls_peer peer;
			if (aios_tls_peer(c->ssl, &peer)) {
				c->cert_peer = aios_xmalloc(sizeof *c->cert_peer);
				*c->cert_peer = peer;
			}
		}
		/* a byte short of the chunk: a burst plus the buffer's NUL then fits 64 KiB
		 * instead of doubling the buffer to 128 KiB for one byte */
		ssize_t n = conn_read(c, chunk, sizeof chunk - 1);
		if (n == -1)
			break;
		if (n <= 0) {
			conn_close(l, c);
			return;
		}
		c->last_ns = aios_now_ns();
		if (!c->first_byte_ns)
			c->first_byte_ns = c->last_ns;
		if (aios_buf_append(&c->in, chunk, (size_t)n) != AIOS_OK) {
			/* cannot happen before the parser refuses; close to be safe */
			conn_close(l, c);
			return;
		}
		if ((size_t)n < sizeof chunk - 1 && !c->ssl)
			break;
	}
	(void)conn_process(l, c);
}

/* ---------------------------------------------------------------- deferred responses */

struct aios_http_defer *aios_http_defer(struct aios_http_req *req)
{
	struct loop *l = cur.l;
	if (!l || cur.d) {
		aios_error("http_defer_misuse",
		           "aios_http_defer called outside a handler or twice");
		abort();
	}
	struct aios_http_defer *d = l->free_defers;
	if (d) {
		l->free_defers = d->next;
	} else {
		d = aios_xcalloc(1, sizeof *d);
		aios_buf_init(&d->resp.body, AIOS_CAP_HTTP_REQUEST);
		aios_buf_init(&d->resp.headers, RESP_HEADERS_MAX);
	}
	d->next = NULL;
	d->l = l;
	d->c = cur.c;
	d->req = *req;
	for (int i = 0; i < req->n_params; i++) { /* rebase into the copy's store */
		d->req.param_names[i] =
		    d->req.param_store + (req->param_names[i] - req->param_store);
		d->req.param_values[i] =
		    d->req.param_store + (req->param_values[i] - req->param_store);
	}
	resp_reset(&d->resp);
	cur.d = d;
	return d;
}

struct aios_http_resp *aios_http_defer_resp(struct aios_http_defer *d)
{
	return &d->resp;
}

void aios_http_defer_done(struct aios_http_defer *d)
{
	struct loop *l = d->l;
	struct conn *c = d->c;
	if (c) {
		int keep = d->req.keep_alive && !atomic_load(&l->srv->stopping);
		queue_response(c, &d->resp, keep);
		notify(l, &d->req, d->resp.status, d->t0);
		aios_buf_consume(&c->in, d->consumed);
		buf_trim(&c->in);
		c->first_byte_ns = 0;
		c->continue_sent = 0;
		c->deferred = NULL;
	}
	d->c = NULL;
	d->next = l->free_defers;
	l->free_defers = d;
	if (!c || conn_flush(l, c) < 0)
		return;
	/* Pipelined input is parsed after round_end, not here: done is called from inside
	 * round_end, and a handler must not defer into a round being finished. */
	if (c->in.len > 0 && !c->on_resume) {
		c->on_resume = 1;
		c->resume_next = l->resume;
		l->resume = c;
	}
}

/* Stops watching the listener until AIOS_HTTP_ACCEPT_PAUSE_MS from now (out of file
 * descriptors or kernel memory): the pending connection would be reported again at
 * once, and retrying it in a loop burns a core while freeing nothing. */
static void accept_pause(struct loop *l, int err)
{
	struct aios_http_server *s = l->srv;
	int64_t now = aios_now_ns();
	struct epoll_event ev = {.events = 0, .data.ptr = &l->lfd};
	epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->lfd, &ev);
	l->accept_resume_ns = now + (int64_t)AIOS_HTTP_ACCEPT_PAUSE_MS * 1000000;
	emit(l, err == EMFILE || err == ENFILE ? AIOS_HTTP_EV_ACCEPT_PAUSED_FDS
	                                       : AIOS_HTTP_EV_ACCEPT_PAUSED_MEMORY);
	if (now - l->accept_warn_ns >= 10 * (int64_t)1000000000) { /* one line per 10 s */
		l->accept_warn_ns = now;
		aios_warn("http_accept_paused",
		          "%s: accept: %s; not accepting for %d ms at a time until it passes "
		          "(%d connections open)",
		          s->cfg.name, strerror(err), AIOS_HTTP_ACCEPT_PAUSE_MS,
		          atomic_load(&s->n_conns));
	}
}

/* Watches the listener again once the pause is over. */
static void accept_resume(struct loop *l, int64_t now)
{
	if (!l->accept_resume_ns || now < l->accept_resume_ns || l->lfd < 0)
		return;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->lfd};
	epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->lfd, &ev);
	l->accept_resume_ns = 0;
}

/* Counts a new connection from addr against its client's limit, closing that client's
 * longest-idle connection on this loop to make room; 0 if it must be refused. */
static int admit_client(struct loop *l, uint32_t addr)
{
	for (;;) {
		if (peer_acquire(l->srv, addr))
			return 1;
		struct conn *v = idle_victim(l, addr);
		if (!v)
			return 0;
		emit(l, AIOS_HTTP_EV_RECLAIMED_IDLE); /* before the peer can see the close */
		conn_close(l, v);
	}
}

static void loop_accept(struct loop *l)
{
	struct aios_http_server *s = l->srv;
	for (;;) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof peer;
		int fd =
		    accept4(l->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_pause(l, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			         errno != ECONNABORTED)
				aios_warn("http_accept", "%s: accept: %s", s->cfg.name,
				          strerror(errno));
			return;
		}
		if (atomic_fetch_add(&s->n_conns, 1) >= s->cfg.max_connections) {
			atomic_fetch_sub(&s->n_conns, 1);
			emit(l, AIOS_HTTP_EV_REFUSED_MAX);
			close(fd);
			continue;
		}
		int counted = 0;
		if (s->peers && peer.sin_family == AF_INET) {
			if (!admit_client(l, peer.sin_addr.s_addr)) {
				atomic_fetch_sub(&s->n_conns, 1);
				emit(l, AIOS_HTTP_EV_REFUSED_PER_CLIENT);
				close(fd);
				continue;
			}
			counted = 1;
		}
		int one = 1, lowat = NOTSENT_LOWAT;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
		struct conn *c = aios_xcalloc(1, sizeof *c);
		c->fd = fd;
		c->peer = peer.sin_addr.s_addr;
		c->counted = counted;
		/* room for headers, a body and chunked framing around it */
		aios_buf_init(&c->in, s->cfg.max_header_bytes + 2 * s->cfg.max_body_bytes + 16384);
		aios_buf_init(&c->out, AIOS_CAP_HTTP_REQUEST + RESP_HEADERS_MAX + 1024);
		c->last_ns = aios_now_ns();
		if (s->tls)
			c->ssl = aios_tls_server_session(s->tls, fd);
		c->next = l->conns;
		if (l->conns)
			l->conns->prev = c;
		l->conns = c;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* Timeouts; during stop also closes idle connections. */
static void loop_sweep(struct loop *l, int64_t now)
{
	struct aios_http_server *s = l->srv;
	int stopping = atomic_load(&s->stopping);
	struct conn *c = l->conns;
	while (c) {
		struct conn *next = c->next;
		int64_t idle_ms = (now - c->last_ns) / 1000000;
		if (c->deferred) {
			/* being answered: no timeout applies */
		} else if (c->out.len > 0) {
			/* the peer stopped reading: only bytes it takes move this clock */
			if ((now - c->write_ns) / 1000000 > s->cfg.write_timeout_ms)
				conn_close(l, c);
		} else if (c->first_byte_ns) {
			if ((now - c->first_byte_ns) / 1000000 > s->cfg.read_timeout_ms) {
				char msg[128];
				snprintf(msg, sizeof msg, "request not received within %d ms",
				         s->cfg.read_timeout_ms);
				reply_error_close(l, c, 408, msg);
				(void)conn_flush(l, c);
			}
		} else if (stopping || idle_ms > s->cfg.idle_timeout_ms) {
			conn_close(l, c);
		}
		c = next;
	}
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	struct aios_http_server *s = l->srv;
	if (s->cfg.thread_init)
		l->user = s->cfg.thread_init(l->index, s->cfg.thread_ud);
	struct epoll_event evs[MAX_EVENTS];
	int wait_ms = TICK_MS;
	for (;;) {
		int stopping = atomic_load(&s->stopping);
		if (stopping) {
			if (l->lfd >= 0) {
				epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->lfd, NULL);
				close(l->lfd);
				l->lfd = -1;
				loop_sweep(
				    l, aios_now_ns()); /* drop idle keep-alive connections now */
			}
			if (!l->conns)
				break;
			if (aios_now_ns() >= s->stop_deadline_ns) {
				while (l->conns)
					conn_close(l, l->conns);
				break;
			}
		}
		int n = epoll_wait(l->epfd, evs, MAX_EVENTS, wait_ms);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &l->lfd) {
				loop_accept(l);
			} else if (p == &l->wakefd) {
				uint64_t v;
				if (read(l->wakefd, &v, sizeof v) <
				    0) { /* nothing: level stays set */
				}
			} else {
				struct conn *c = p;
				if (c->deferred)
					continue; /* nothing moves until its response is done */
				if (evs[i].events & (EPOLLOUT)) {
					if (conn_flush(l, c) < 0)
						continue;
					if (c->out.len == 0 && c->in.len > 0) {
						if (conn_process(l, c) < 0)
							continue;
					}
				}
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					conn_readable(l, c);
			}
		}
		wait_ms = TICK_MS;
		if (l->accept_resume_ns) {
			int64_t now = aios_now_ns();
			accept_resume(l, now);
			if (l->accept_resume_ns) {
				int64_t left = (l->accept_resume_ns - now) / 1000000 + 1;
				if (left < wait_ms)
					wait_ms = (int)left;
			}
		}
		if (s->cfg.round_end) {
			int r = s->cfg.round_end(l->user, s->cfg.thread_ud);
			if (r >= 0 && r < wait_ms)
				wait_ms = r;
		}
		if (l->resume) {
			while (l->resume) {
				struct conn *c = l->resume;
				l->resume = c->resume_next;
				c->on_resume = 0;
				(void)conn_process(l, c);
			}
			wait_ms = 0; /* what they deferred belongs to the next round: no waiting */
		}
		int64_t now = aios_now_ns();
		if (now - l->last_sweep_ns >= (int64_t)TICK_MS * 1000000) {
			l->last_sweep_ns = now;
			loop_sweep(l, now);
		}
	}
	if (s->cfg.round_end) /* deferred requests of force-closed connections: freed */
		(void)s->cfg.round_end(l->user, s->cfg.thread_ud);
	if (s->cfg.thread_cleanup)
		s->cfg.thread_cleanup(l->user, s->cfg.thread_ud);
	while (l->free_defers) {
		struct aios_http_defer *d = l->free_defers;
		l->free_defers = d->next;
		aios_buf_cleanup(&d->resp.body);
		aios_buf_cleanup(&d->resp.headers);
		free(d);
	}
	return NULL;
}

/* ---------------------------------------------------------------- start / stop */

static enum aios_err listen_on(const struct aios_http_server *s, int port, int *out)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, s->cfg.bind_addr, &a.sin_addr) != 1)
		return aios_fail(AIOS_ERR_INVALID, "%s: bind address %s is not an IPv4 address",
		                 s->cfg.name, s->cfg.bind_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return aios_fail(AIOS_ERR_IO, "%s: socket: %s", s->cfg.name, strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		return aios_fail(AIOS_ERR_IO, "%s: listen on %s:%d: %s", s->cfg.name,
		                 s->cfg.bind_addr, port, strerror(e));
	}
	*out = fd;
	return AIOS_OK;
}

static enum aios_err tls_setup(struct aios_http_server *s)
{
	if (!s->cfg.tls_cert && !s->cfg.tls_key) {
		if (s->cfg.tls_client_ca) /* plain HTTP would let every client past it */
			return aios_fail(
			    AIOS_ERR_INVALID,
			    "%s: a client CA (%s) needs TLS: give a certificate and a key",
			    s->cfg.name, s->cfg.tls_client_ca);
		return AIOS_OK;
	}
	if (!s->cfg.tls_cert || !s->cfg.tls_key)
		return aios_fail(AIOS_ERR_INVALID, "%s: TLS needs both a certificate and a key",
		                 s->cfg.name);
	return aios_tls_server_new(s->cfg.tls_cert, s->cfg.tls_key, s->cfg.tls_client_ca,
	                           s->cfg.name, &s->tls);
}

enum aios_err aios_http_server_start(struct aios_http_server *s)
{
	enum aios_err e = tls_setup(s);
	if (e)
		return e;
	int n = s->cfg.threads;
	s->loops = aios_xcalloc((size_t)n, sizeof *s->loops);
	int port = s->cfg.port;
	for (int i = 0; i < n; i++) {
		struct loop *l = &s->loops[i];
		l->srv = s;
		l->index = i;
		l->lfd = l->epfd = l->wakefd = -1;
		e = listen_on(s, port, &l->lfd);
		if (e)
			goto fail;
		if (i == 0) {
			struct sockaddr_in a;
			socklen_t al = sizeof a;
			getsockname(l->lfd, (struct sockaddr *)&a, &al);
			port = ntohs(a.sin_port);
		}
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->lfd};
		epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->lfd, &ev);
		ev.data.ptr = &l->wakefd;
		epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev);
		aios_buf_init(&l->resp.body, AIOS_CAP_HTTP_REQUEST);
		aios_buf_init(&l->resp.headers, RESP_HEADERS_MAX);
		s->n_loops = i + 1;
	}
	s->port = port;
	for (int i = 0; i < n; i++)
		pthread_create(&s->loops[i].thread, NULL, loop_main, &s->loops[i]);
	s->running = 1;
	aios_info("http_listen", "%s: listening on %s:%d (%d threads%s)", s->cfg.name,
	          s->cfg.bind_addr, port, n, s->tls ? ", TLS" : "");
	return AIOS_OK;
fail:
	for (int i = 0; i < n; i++) {
		struct loop *l = &s->loops[i];
		if (l->lfd >= 0)
			close(l->lfd);
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->wakefd >= 0)
			close(l->wakefd);
		aios_buf_cleanup(&l->resp.body);
		aios_buf_cleanup(&l->resp.headers);
	}
	free(s->loops);
	s->loops = NULL;
	s->n_loops = 0;
	return e;
}

void aios_http_server_wake(struct aios_http_server *s, int index)
{
	if (!s->running || index < 0 || index >= s->n_loops)
		return;
	uint64_t one = 1;
	if (write(s->loops[index].wakefd, &one, sizeof one) < 0)
		aios_warn("http_wake", "%s: eventfd write: %s", s->cfg.name, strerror(errno));
}

void aios_http_server_stop(struct aios_http_server *s, int grace_ms)
{
	if (!s->running)
		return;
	s->stop_deadline_ns = aios_now_ns() + (int64_t)grace_ms * 1000000;
	atomic_store(&s->stopping, 1);
	for (int i = 0; i < s->n_loops; i++) {
		uint64_t one = 1;
		if (write(s->loops[i].wakefd, &one, sizeof one) < 0)
			aios_warn("http_wake", "%s: eventfd write: %s", s->cfg.name,
			          strerror(errno));
	}
	for (int i = 0; i < s->n_loops; i++) {
		struct loop *l = &s->loops[i];
		pthread_join(l->thread, NULL);
		close(l->epfd);
		close(l->wakefd);
		aios_buf_cleanup(&l->resp.body);
		aios_buf_cleanup(&l->resp.headers);
	}
	s->running = 0;
	aios_info("http_stopped", "%s: stopped", s->cfg.name);
}

void aios_http_server_free(struct aios_http_server *s)
{
	if (!s)
		return;
	aios_http_server_stop(s, 0);
	for (int i = 0; i < s->n_routes; i++)
		free(s->routes[i].pattern);
	free(s->loops);
	aios_tls_server_free(s->tls);
	if (s->peers) {
		pthread_mutex_destroy(&s->peers_mu);
		free(s->peers);
	}
	free(s);
}
