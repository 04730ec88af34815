/*
 * client.c - the HTTP/1.1 client (see client.h): a push parser for responses, and
 * blocking connections over non-blocking sockets, so that every wait is a poll() that
 * honours a deadline and a cancel check.
 *
 * TLS is mbed TLS 2.28 (Debian 12's), linked statically: a client needs a few hundred
 * KiB of it. Server names are checked by mbed TLS for DNS names; mbed TLS 2.28 does
 * not match IP addresses against iPAddress subject alternative names, so for an IP
 * literal (the API server's usual address) the handshake verifies the chain and
 * check_ip_san() then requires the address among the certificate's iPAddress SANs.
 */
#include "http/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "common/clock.h"
#include "common/mem.h"
#include "http/tls_io.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define WAIT_SLICE_MS    100   /* a cancel check is polled at least this often */
#define READ_CHUNK       16384 /* bytes read per system call */

/* ============================== the parser ============================== */

enum {
	P_STATUS,
	P_HEADER,
	P_BODY_LEN,
	P_BODY_CLOSE,
	P_CHUNK_SIZE,
	P_CHUNK_DATA,
	P_CHUNK_END,
	P_TRAILER,
	P_DONE
};

void aios_httpc_parser_init(struct aios_httpc_parser *ps, const char *method,
                            const struct aios_httpc_handler *h, void *arg)
{
	memset(ps, 0, sizeof(*ps));
	ps->h = h;
	ps->arg = arg;
	ps->state = P_STATUS;
	ps->no_body = method && strcmp(method, "HEAD") == 0;
	ps->length = -1;
	aios_buf_init(&ps->line, AIOS_HTTPC_LINE_CAP);
}

void aios_httpc_parser_cleanup(struct aios_httpc_parser *ps)
{
	aios_buf_cleanup(&ps->line);
}

int aios_httpc_parser_done(const struct aios_httpc_parser *ps)
{
	return ps->state == P_DONE;
}

int aios_httpc_parser_reusable(const struct aios_httpc_parser *ps)
{
	return ps->state == P_DONE && !ps->close;
}

static int token_eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

/* "HTTP/1.1 200 OK" */
static enum aios_err parse_status(struct aios_httpc_parser *ps, const char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
	    s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
	    (n > 12 && s[12] != ' '))
		return aios_fail(AIOS_ERR_PROTOCOL, "not an HTTP/1.x status line: \"%.*s\"",
		                 (int)(n < 80 ? n : 80), s);
	ps->code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	ps->close = s[7] == '0'; /* HTTP/1.0: unless it says keep-alive */
	return AIOS_OK;
}

static enum aios_err parse_header(struct aios_httpc_parser *ps, const char *s, size_t n)
{
	if (++ps->headers > AIOS_HTTPC_HEADERS_CAP)
		return aios_fail(AIOS_ERR_PROTOCOL, "more than %d header lines",
		                 AIOS_HTTPC_HEADERS_CAP);
	const char *colon = memchr(s, ':', n);
	if (!colon || colon == s || s[0] == ' ' || s[0] == '\t')
		return aios_fail(AIOS_ERR_PROTOCOL, "malformed header line \"%.*s\"",
		                 (int)(n < 80 ? n : 80), s);
	size_t nl = (size_t)(colon - s);
	const char *v = colon + 1, *end = s + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vl = (size_t)(end - v);
	if (token_eq(s, nl, "Content-Length")) {
		int64_t len = 0;
		if (vl == 0 || vl > 18)
			return aios_fail(AIOS_ERR_PROTOCOL, "bad Content-Length \"%.*s\"", (int)vl,
			                 v);
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return aios_fail(AIOS_ERR_PROTOCOL, "bad Content-Length \"%.*s\"",
				                 (int)vl, v);
			len = len * 10 + (v[i] - '0');
		}
		if (ps->length >= 0 && ps->length != len)
			return aios_fail(AIOS_ERR_PROTOCOL, "two different Content-Length headers");
		ps->length = len;
	} else if (token_eq(s, nl, "Transfer-Encoding")) {
		/* chunked must be the last coding; we ask for no other */
		if (!token_eq(v, vl, "chunked"))
			return aios_fail(AIOS_ERR_PROTOCOL,
			                 "unsupported Transfer-Encoding \"%.*s\"", (int)vl, v);
		ps->chunked = 1;
	} else if (token_eq(s, nl, "Connection")) {
		if (token_eq(v, vl, "close"))
			ps->close = 1;
		else if (token_eq(v, vl, "keep-alive"))
			ps->close = 0;
	}
	if (ps->code >= 200 && ps->h && ps->h->header && ps->h->header(ps->arg, s, nl, v, vl))
		return AIOS_ERR_CANCELLED;
	return AIOS_OK;
}

/* The empty line after the headers: decide how the body is framed. */
static enum aios_err end_of_head(struct aios_httpc_parser *ps)
{
	if (ps->code < 200) { /* an interim answer (100 Continue): the real one follows */
		ps->headers = 0;
		ps->length = -1;
		ps->chunked = 0;
		ps->state = P_STATUS;
		return AIOS_OK;
	}
	if (ps->no_body || ps->code == 204 || ps->code == 304) {
		ps->state = P_DONE;
	} else if (ps->chunked) {
		ps->state = P_CHUNK_SIZE;
	} else if (ps->length >= 0) {
		ps->left = ps->length;
		ps->state = ps->left > 0 ? P_BODY_LEN : P_DONE;
	} else {
		ps->close = 1;
		ps->state = P_BODY_CLOSE;
	}
	return AIOS_OK;
}

static int hex_digit(char ch)
{
	return (ch >= '0' && ch <= '9')   ? ch - '0'
	       : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
	       : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
	                                  : -1;
}

/* At most 15 hex digits (2^60 bytes): a longer size is refused, never wrapped. */
static enum aios_err chunk_size(struct aios_httpc_parser *ps, const char *s, size_t n)
{
	int64_t v = 0;
	size_t i = 0;
	for (int d; i < n && i < 15 && (d = hex_digit(s[i])) >= 0; i++)
		v = v * 16 + d;
	if (i == 0 || (i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t'))
		return aios_fail(AIOS_ERR_PROTOCOL, "bad chunk size line \"%.*s\"",
		                 (int)(n < 40 ? n : 40), s);
	ps->left = v;
	ps->state = v > 0 ? P_CHUNK_DATA : P_TRAILER;
	return AIOS_OK;
}

/* One complete line (CRLF or LF removed) in the state that reads lines. */
static enum aios_err on_line(struct aios_httpc_parser *ps, const char *s, size_t n)
{
	switch (ps->state) {
	case P_STATUS: {
		enum aios_err e = parse_status(ps, s, n);
		if (!e && ps->code >= 200 && ps->h && ps->h->status &&
		    ps->h->status(ps->arg, ps->code))
			return AIOS_ERR_CANCELLED;
		if (!e)
			ps->state = P_HEADER;
		return e;
	}
	case P_HEADER: return n == 0 ? end_of_head(ps) : parse_header(ps, s, n);
	case P_CHUNK_SIZE: return chunk_size(ps, s, n);
	case P_CHUNK_END:
		if (n != 0)
			return aios_fail(AIOS_ERR_PROTOCOL, "chunk data longer than its size");
		ps->state = P_CHUNK_SIZE;
		return AIOS_OK;
	case P_TRAILER:
		if (n == 0)
			ps->state = P_DONE;
		return AIOS_OK;
	}
	return aios_fail(AIOS_ERR_INTERNAL, "http parser: line in state %d", ps->state);
}

static int reads_lines(int state)
{
	return state == P_STATUS || state == P_HEADER || state == P_CHUNK_SIZE ||
	       state == P_CHUNK_END || state == P_TRAILER;
}

enum aios_err aios_httpc_parser_feed(struct aios_httpc_parser *ps, const char *p, size_t n,
                                     size_t *used)
{
	size_t i = 0;
	enum aios_err e = AIOS_OK;
	while (i < n && ps->state != P_DONE && !e) {
		if (reads_lines(ps->state)) {
			const char *nl = memchr(p + i, '\n', n - i);
			size_t take = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
			if (aios_buf_append(&ps->line, p + i, take) != AIOS_OK) {
				aios_errclear();
				e = aios_fail(AIOS_ERR_PROTOCOL,
				              "a response line longer than %d bytes",
				              AIOS_HTTPC_LINE_CAP);
				break;
			}
			i += take;
			if (!nl)
				break;
			size_t ll = ps->line.len - 1;
			if (ll > 0 && ps->line.data[ll - 1] == '\r')
				ll--;
			e = on_line(ps, ps->line.data, ll);
			aios_buf_reset(&ps->line);
			continue;
		}
		size_t take = n - i;
		if (ps->state != P_BODY_CLOSE && (int64_t)take > ps->left)
			take = (size_t)ps->left;
		if (ps->h && ps->h->body && ps->h->body(ps->arg, p + i, take))
			e = AIOS_ERR_CANCELLED;
		i += take;
		if (ps->state == P_BODY_CLOSE)
			continue;
		ps->left -= (int64_t)take;
		if (ps->left == 0)
			ps->state = ps->state == P_BODY_LEN ? P_DONE : P_CHUNK_END;
	}
	if (used)
		*used = i;
	return e;
}

enum aios_err aios_httpc_parser_eof(struct aios_httpc_parser *ps)
{
	switch (ps->state) {
	case P_DONE: return AIOS_OK;
	case P_BODY_CLOSE: ps->state = P_DONE; return AIOS_OK;
	case P_STATUS:
	case P_HEADER:
		return aios_fail(AIOS_ERR_PROTOCOL, "connection closed inside the response head");
	case P_BODY_LEN:
		return aios_fail(AIOS_ERR_PROTOCOL,
		                 "connection closed with %lld of %lld body bytes still due",
		                 (long long)ps->left, (long long)ps->length);
	default: return aios_fail(AIOS_ERR_PROTOCOL, "connection closed inside a chunked body");
	}
}

/* ============================== URLs ============================== */

enum aios_err aios_httpc_split_url(const char *url, int *https, char *host, size_t host_cap,
                                   int *port, const char **path)
{
	const char *p;
	if (strncmp(url, "https://", 8) == 0) {
		*https = 1;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		*https = 0;
		p = url + 7;
	} else {
		return aios_fail(AIOS_ERR_INVALID, "URL %s: not http:// or https://", url);
	}
	const char *end = p + strcspn(p, "/?#");
	const char *h = p, *hend, *colon = NULL;
	if (*p == '[') {
		h = p + 1;
		hend = memchr(h, ']', (size_t)(end - h));
		if (!hend)
			return aios_fail(AIOS_ERR_INVALID, "URL %s: unclosed [ in the host", url);
		if (hend + 1 < end && hend[1] != ':')
			return aios_fail(AIOS_ERR_INVALID, "URL %s: junk after ]", url);
		colon = hend + 1 < end ? hend + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		hend = colon ? colon : end;
	}
	if (memchr(p, '@', (size_t)(end - p)))
		return aios_fail(AIOS_ERR_INVALID, "URL %s: user info in the URL is not supported",
		                 url);
	size_t hl = (size_t)(hend - h);
	if (hl == 0 || hl >= host_cap)
		return aios_fail(AIOS_ERR_INVALID, "URL %s: %s host", url,
		                 hl ? "too long a" : "no");
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = *https ? 443 : 80;
	if (colon) {
		char *e;
		long v = strtol(colon + 1, &e, 10);
		if (e != end || v < 1 || v > 65535)
			return aios_fail(AIOS_ERR_INVALID, "URL %s: bad port", url);
		*port = (int)v;
	}
	*path = end;
	return AIOS_OK;
}

void aios_httpc_authority(const char *host, int port, char *out, size_t cap)
{
	if (strchr(host, ':'))
		snprintf(out, cap, "[%s]:%d", host, port);
	else
		snprintf(out, cap, "%s:%d", host, port);
}

/* ============================== TLS setup ============================== */

struct aios_httpc_tls {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	int insecure;
};

/* mbed TLS parses PEM only from a NUL-terminated buffer whose length counts the NUL:
 * a certificate (key NULL) or a private key (crt NULL) from pem. The copy is wiped. */
static int parse_pem(mbedtls_x509_crt *crt, mbedtls_pk_context *key, const char *pem, size_t len)
{
	char *z = aios_xmalloc(len + 1);
	memcpy(z, pem, len);
	z[len] = 0;
	int rc = crt ? mbedtls_x509_crt_parse(crt, (const unsigned char *)z, len + 1)
	             : mbedtls_pk_parse_key(key, (const unsigned char *)z, len + 1, NULL, 0);
	memset(z, 0, len);
	free(z);
	return rc;
}

enum aios_err aios_httpc_tls_new(const char *ca, size_t ca_len, const char *cert, size_t cert_len,
                                 const char *key, size_t key_len, int insecure,
                                 struct aios_httpc_tls **out)
{
	*out = NULL;
	if (!cert != !key)
		return aios_fail(AIOS_ERR_INVALID, "TLS: a client certificate needs its key and a "
		                                   "key its certificate");
	struct aios_httpc_tls *t = aios_xcalloc(1, sizeof(*t));
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_x509_crt_init(&t->cert);
	mbedtls_pk_init(&t->key);
	t->insecure = insecure;
	enum aios_err e = AIOS_OK;
	int rc;
	if (!insecure) {
		if (ca) {
			rc = parse_pem(&t->ca, NULL, ca, ca_len);
			if (rc) {
				e = aios_tls_fail(
				    rc, "TLS: certificate authority is not a PEM certificate");
				goto out;
			}
		} else {
			rc = mbedtls_x509_crt_parse_file(&t->ca, SYSTEM_CA_BUNDLE);
			if (rc < 0 || !t->ca.version) {
				e = aios_fail(AIOS_ERR_TLS,
				              "TLS: no certificate authority given and the "
				              "system's (%s) cannot be read",
				              SYSTEM_CA_BUNDLE);
				goto out;
			}
		}
	}
	if (cert) {
		rc = parse_pem(&t->cert, NULL, cert, cert_len);
		if (rc) {
			e = aios_tls_fail(rc, "TLS: client certificate is not a PEM certificate");
			goto out;
		}
		if ((rc = parse_pem(NULL, &t->key, key, key_len)) != 0) {
			e = aios_tls_fail(rc, "TLS: client key is not a PEM private key");
			goto out;
		}
		if (mbedtls_pk_check_pair(&t->cert.pk, &t->key) != 0) {
			e = aios_fail(AIOS_ERR_TLS,
			              "TLS: client key does not match its certificate");
			goto out;
		}
	}
	if ((e = aios_tls_conf(&t->conf, MBEDTLS_SSL_IS_CLIENT, "TLS: configuration")) != AIOS_OK)
		goto out;
	mbedtls_ssl_conf_authmode(&t->conf,
	                          insecure ? MBEDTLS_SSL_VERIFY_NONE : MBEDTLS_SSL_VERIFY_REQUIRED);
	if (!insecure)
		mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	if (cert && (rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0) {
		e = aios_tls_fail(rc, "TLS: client certificate");
		goto out;
	}
out:
	if (e) {
		aios_httpc_tls_free(t);
		return e;
	}
	*out = t;
	return AIOS_OK;
}

void aios_httpc_tls_free(struct aios_httpc_tls *t)
{
	if (!t)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_x509_crt_free(&t->cert);
	mbedtls_pk_free(&t->key);
	free(t);
}

/* ============================== connections ============================== */

struct aios_httpc_conn {
	int fd;
	int tls_on;
	mbedtls_ssl_context ssl;
	char host[256];
};

/* Waits until fd is ready for ev, the deadline passes or the wait is cancelled. */
static enum aios_err wait_fd(int fd, short ev, const struct aios_httpc_wait *w, const char *what)
{
	for (;;) {
		int64_t slice = WAIT_SLICE_MS;
		if (w && w->deadline_ms) {
			int64_t left = w->deadline_ms - aios_now_ms();
			if (left <= 0)
				return aios_fail(AIOS_ERR_TIMEOUT, "%s: timed out", what);
			if (left < slice)
				slice = left;
		}
		if (w && w->cancelled && w->cancelled(w->arg))
			return aios_fail(AIOS_ERR_CANCELLED, "%s: cancelled", what);
		struct pollfd p = {fd, ev, 0};
		int r = poll(&p, 1, (int)slice);
		if (r > 0)
			return AIOS_OK;
		if (r < 0 && errno != EINTR)
			return aios_fail(AIOS_ERR_IO, "%s: poll: %s", what, strerror(errno));
	}
}

/* For an IP literal: the address must be one of the certificate's iPAddress SANs. */
static enum aios_err check_ip_san(struct aios_httpc_conn *c, const unsigned char *addr, size_t alen)
{
	const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
	if (!peer)
		return aios_fail(AIOS_ERR_TLS, "TLS %s: the server sent no certificate", c->host);
	if (peer->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME) {
		for (const mbedtls_x509_sequence *s = &peer->subject_alt_names; s; s = s->next)
			if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
			    s->buf.len == alen && memcmp(s->buf.p, addr, alen) == 0)
				return AIOS_OK;
	}
	return aios_fail(AIOS_ERR_TLS,
	                 "TLS %s: the server's certificate is not valid for this IP address "
	                 "(not among its IP subject alternative names)",
	                 c->host);
}

static enum aios_err handshake(struct aios_httpc_conn *c, struct aios_httpc_tls *t,
                               const struct aios_httpc_wait *w)
{
	unsigned char addr[16];
	size_t alen = 0;
	if (inet_pton(AF_INET, c->host, addr) == 1)
		alen = 4;
	else if (inet_pton(AF_INET6, c->host, addr) == 1)
		alen = 16;
	mbedtls_ssl_init(&c->ssl);
	c->tls_on = 1;
	int rc = mbedtls_ssl_setup(&c->ssl, &t->conf);
	/* a DNS name goes in SNI and is checked by mbed TLS; an IP literal is neither */
	if (!rc && !alen)
		rc = mbedtls_ssl_set_hostname(&c->ssl, c->host);
	if (rc)
		return aios_tls_fail(rc, "TLS setup");
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, aios_tls_send, aios_tls_recv, NULL);
	char what[300];
	snprintf(what, sizeof(what), "TLS handshake with %s", c->host);
	while ((rc = mbedtls_ssl_handshake(&c->ssl)) != 0) {
		enum aios_err e = AIOS_OK;
		if (rc == MBEDTLS_ERR_SSL_WANT_READ)
			e = wait_fd(c->fd, POLLIN, w, what);
		else if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			e = wait_fd(c->fd, POLLOUT, w, what);
		else if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
			char info[512];
			uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
			int il = mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
			while (il > 0 && (info[il - 1] == '\n' || info[il - 1] == ' '))
				info[--il] = 0;
			for (char *p = info; *p; p++)
				if (*p == '\n')
					*p = ';';
			return aios_fail(AIOS_ERR_TLS, "%s: server certificate rejected: %s", what,
			                 il > 0 ? info : "verification failed");
		} else if (rc == MBEDTLS_ERR_NET_CONN_RESET || rc == MBEDTLS_ERR_SSL_CONN_EOF) {
			return aios_fail(AIOS_ERR_UNAVAILABLE,
			                 "%s: the server closed the connection", what);
		} else {
			return aios_tls_fail(rc, what);
		}
		if (e)
			return e;
	}
	if (alen && !t->insecure)
		return check_ip_san(c, addr, alen);
	return AIOS_OK;
}

static enum aios_err connect_one(const struct addrinfo *ai, const struct aios_httpc_wait *w,
                                 const char *what, int *fd_out)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return aios_fail(AIOS_ERR_IO, "%s: socket: %s", what, strerror(errno));
	enum aios_err e = AIOS_OK;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			e = aios_fail(AIOS_ERR_UNAVAILABLE, "%s: %s", what, strerror(errno));
		} else if (!(e = wait_fd(fd, POLLOUT, w, what))) {
			int err = 0;
			socklen_t el = sizeof(err);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err)
				e = aios_fail(AIOS_ERR_UNAVAILABLE, "%s: %s", what, strerror(err));
		}
	}
	if (e) {
		close(fd);
		return e;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	*fd_out = fd;
	return AIOS_OK;
}

enum aios_err aios_httpc_connect(const char *host, int port, struct aios_httpc_tls *tls,
                                 const struct aios_httpc_wait *w, struct aios_httpc_conn **out)
{
	*out = NULL;
	char what[300], ps[16];
	snprintf(what, sizeof(what), "connect to %s port %d", host, port);
	snprintf(ps, sizeof(ps), "%d", port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int gr = getaddrinfo(host, ps, &hints, &res);
	if (gr != 0)
		return aios_fail(AIOS_ERR_UNAVAILABLE, "resolve %s: %s", host, gai_strerror(gr));
	int fd = -1;
	enum aios_err e = AIOS_ERR_UNAVAILABLE;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		e = connect_one(ai, w, what, &fd);
		if (e == AIOS_ERR_TIMEOUT || e == AIOS_ERR_CANCELLED)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return e;
	struct aios_httpc_conn *c = aios_xcalloc(1, sizeof(*c));
	c->fd = fd;
	snprintf(c->host, sizeof(c->host), "%s", host);
	if (tls && (e = handshake(c, tls, w)) != AIOS_OK) {
		aios_httpc_close(c);
		return e;
	}
	*out = c;
	return AIOS_OK;
}

void aios_httpc_close(struct aios_httpc_conn *c)
{
	if (!c)
		return;
	if (c->tls_on)
		mbedtls_ssl_free(&c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int aios_httpc_fd_readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) != 0;
}

int aios_httpc_conn_readable(struct aios_httpc_conn *c)
{
	if (c->tls_on && mbedtls_ssl_get_bytes_avail(&c->ssl) > 0)
		return 1;
	return aios_httpc_fd_readable(c->fd);
}

static enum aios_err send_all(struct aios_httpc_conn *c, const char *p, size_t n,
                              const struct aios_httpc_wait *w)
{
	while (n > 0) {
		ssize_t r;
		short ev = POLLOUT;
		if (c->tls_on) {
			int rc = mbedtls_ssl_write(&c->ssl, (const unsigned char *)p, n);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ)
				ev = POLLIN;
			else if (rc < 0 && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
				return rc == MBEDTLS_ERR_NET_CONN_RESET
				           ? aios_fail(AIOS_ERR_UNAVAILABLE,
				                       "send to %s: connection reset", c->host)
				           : aios_tls_fail(rc, "TLS send");
			r = rc < 0 ? -1 : rc;
		} else {
			r = send(c->fd, p, n, MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return aios_fail(AIOS_ERR_UNAVAILABLE, "send to %s: %s", c->host,
				                 strerror(errno));
		}
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		enum aios_err e = wait_fd(c->fd, ev, w, "send");
		if (e)
			return e;
	}
	return AIOS_OK;
}

enum aios_err aios_httpc_send(struct aios_httpc_conn *c, const char *head, size_t head_len,
                              const char *body, size_t body_len, const struct aios_httpc_wait *w)
{
	enum aios_err e = send_all(c, head, head_len, w);
	if (!e && body && body_len)
		e = send_all(c, body, body_len, w);
	return e;
}

/* Reads what is there: > 0 bytes, 0 at the end of the stream, -1 "wait for ev", or an
 * error (*e set). */
static ssize_t read_some(struct aios_httpc_conn *c, char *buf, size_t cap, short *ev,
                         enum aios_err *e)
{
	*ev = POLLIN;
	if (c->tls_on) {
		int rc = mbedtls_ssl_read(&c->ssl, (unsigned char *)buf, cap);
		if (rc >= 0)
			return rc;
		if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF)
			return 0;
		if (rc == MBEDTLS_ERR_SSL_WANT_READ)
			return -1;
		if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
			*ev = POLLOUT;
			return -1;
		}
		*e =
		    rc == MBEDTLS_ERR_NET_CONN_RESET
		        ? aios_fail(AIOS_ERR_UNAVAILABLE, "read from %s: connection reset", c->host)
		        : aios_tls_fail(rc, "TLS read");
		return -2;
	}
	ssize_t r = recv(c->fd, buf, cap, 0);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -1;
	*e = aios_fail(AIOS_ERR_UNAVAILABLE, "read from %s: %s", c->host, strerror(errno));
	return -2;
}

enum aios_err aios_httpc_recv(struct aios_httpc_conn *c, struct aios_httpc_parser *ps,
                              const struct aios_httpc_wait *w, int *got_any)
{
	char buf[READ_CHUNK];
	*got_any = 0;
	for (;;) {
		short ev;
		enum aios_err e = AIOS_OK;
		ssize_t r = read_some(c, buf, sizeof(buf), &ev, &e);
		if (r > 0) {
			*got_any = 1;
			size_t used = 0;
			e = aios_httpc_parser_feed(ps, buf, (size_t)r, &used);
			if (e)
				return e;
			if (aios_httpc_parser_done(ps)) {
				if (used < (size_t)r)
					ps->close = 1; /* bytes after the response: do not reuse */
				return AIOS_OK;
			}
		} else if (r == 0) {
			ps->close = 1;
			if (!*got_any)
				return aios_fail(AIOS_ERR_UNAVAILABLE,
				                 "%s closed the connection before answering",
				                 c->host);
			return aios_httpc_parser_eof(ps);
		} else if (r == -1) {
			if ((e = wait_fd(c->fd, ev, w, "waiting for the answer")) != AIOS_OK)
				return e;
		} else {
			return e;
		}
	}
}

/* ============================== one GET ============================== */

struct get_state {
	int code;
	struct aios_buf *body;
	int too_big;
};

static int get_status(void *arg, int code)
{
	((struct get_state *)arg)->code = code;
	return 0;
}

static int get_body(void *arg, const char *p, size_t n)
{
	struct get_state *g = arg;
	if (aios_buf_append(g->body, p, n) != AIOS_OK) {
		aios_errclear();
		g->too_big = 1;
		return 1;
	}
	return 0;
}

enum aios_err aios_httpc_get(const char *url, int64_t timeout_ms, int *code, struct aios_buf *body)
{
	*code = 0;
	int https, port;
	char host[256];
	const char *path;
	enum aios_err e = aios_httpc_split_url(url, &https, host, sizeof(host), &port, &path);
	if (e)
		return e;
	if (https)
		return aios_fail(AIOS_ERR_UNSUPPORTED, "GET %s: only plain http:// here", url);
	struct aios_httpc_wait w = {timeout_ms > 0 ? aios_now_ms() + timeout_ms : 0, NULL, NULL};
	struct aios_httpc_conn *c = NULL;
	if ((e = aios_httpc_connect(host, port, NULL, &w, &c)) != AIOS_OK)
		return e;
	char auth[300];
	aios_httpc_authority(host, port, auth, sizeof(auth));
	char *head = aios_xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: aios/" AIOS_VERSION
	                            "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
	                            *path ? path : "/", auth);
	e = aios_httpc_send(c, head, strlen(head), NULL, 0, &w);
	free(head);
	if (!e) {
		struct get_state g = {0, body, 0};
		static const struct aios_httpc_handler h = {get_status, NULL, get_body};
		struct aios_httpc_parser ps;
		aios_httpc_parser_init(&ps, "GET", &h, &g);
		int any;
		e = aios_httpc_recv(c, &ps, &w, &any);
		aios_httpc_parser_cleanup(&ps);
		*code = g.code;
		if (g.too_big)
			e = aios_fail(AIOS_ERR_TOO_BIG, "GET %s: body larger than %zu bytes", url,
			              body->max);
	}
	aios_httpc_close(c);
	return e;
}
