/*
 * fake_apiserver.c - canned-reply HTTP server for fixture tests (fake_apiserver.h).
 * One thread accepts and serves connections one at a time; that is all a fixture
 * needs, and it keeps the order of replies obvious.
 */
#include "support/fake_apiserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mem.h"
#include "kube/config.h"

#define FAKE_MAX_REQUEST (1u << 20) /* bytes of one request we accept */

struct reply {
	char *status;
	char *headers;
	char *body;
	size_t len;
	size_t chunk;  /* 0: Content-Length; else chunk size */
	char **chunks; /* explicit chunks from a file (chunk == 0 then) */
	size_t *clen;
	size_t nchunks;
	int close_early;
};

struct aios_fake_api {
	struct reply *r;
	size_t nr, next;
	int lfd;
	int port;
	char url[64];
	pthread_t th;
	int running;
	pthread_mutex_t mu;
	char **req, **reqbody;
	size_t nreq;
	int stop_pipe[2];
};

struct aios_fake_api *aios_fake_api_new(void)
{
	struct aios_fake_api *f = aios_xcalloc(1, sizeof(*f));
	f->lfd = -1;
	pthread_mutex_init(&f->mu, NULL);
	f->stop_pipe[0] = f->stop_pipe[1] = -1;
	return f;
}

static struct reply *new_reply(struct aios_fake_api *f)
{
	f->r = aios_xrealloc(f->r, (f->nr + 1) * sizeof(*f->r));
	struct reply *r = &f->r[f->nr++];
	memset(r, 0, sizeof(*r));
	return r;
}

void aios_fake_api_add(struct aios_fake_api *f, const char *status, const char *headers,
                       const char *body, size_t len, size_t chunk_size, int close_early)
{
	struct reply *r = new_reply(f);
	r->status = aios_xstrdup(status);
	r->headers = aios_xstrdup(headers ? headers : "");
	r->body = aios_xmalloc(len + 1);
	memcpy(r->body, body, len);
	r->body[len] = 0;
	r->len = len;
	r->chunk = chunk_size;
	r->close_early = close_early;
}

static size_t unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			*o++ = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	return (size_t)(o - s);
}

int aios_fake_api_load(struct aios_fake_api *f, const char *path)
{
	struct aios_buf b;
	aios_buf_init(&b, 4u << 20);
	if (aios_buf_read_file(&b, path) != AIOS_OK) {
		fprintf(stderr, "fake_apiserver: %s\n", aios_errmsg());
		aios_buf_cleanup(&b);
		return -1;
	}
	char *text = aios_buf_take(&b);
	aios_buf_cleanup(&b);
	struct reply *r = NULL;
	struct aios_buf hdr;
	aios_buf_init(&hdr, 1u << 20);
	char *p = text;
	int rc = 0;
	while (p && *p) {
		char *nl = strchr(p, '\n');
		char *line = p;
		if (nl)
			*nl = 0;
		p = nl ? nl + 1 : NULL;
		if (line[0] == '#' || line[0] == 0)
			continue;
		if (!r || strncmp(line, "=== next", 8) == 0) {
			if (r) {
				r->headers = aios_buf_take(&hdr);
				r = NULL;
				if (strncmp(line, "=== next", 8) == 0)
					continue;
			}
			r = new_reply(f);
		}
		if (strncmp(line, "status: ", 8) == 0) {
			r->status = aios_xstrdup(line + 8);
		} else if (strncmp(line, "header: ", 8) == 0) {
			if (aios_buf_printf(&hdr, "%s\r\n", line + 8) != AIOS_OK)
				rc = -1;
		} else if (strncmp(line, "chunk: ", 7) == 0) {
			char *c = aios_xstrdup(line + 7);
			size_t n = unescape(c);
			r->chunks = aios_xrealloc(r->chunks, (r->nchunks + 1) * sizeof(char *));
			r->clen = aios_xrealloc(r->clen, (r->nchunks + 1) * sizeof(size_t));
			r->chunks[r->nchunks] = c;
			r->clen[r->nchunks++] = n;
		} else if (strncmp(line, "end: ", 5) == 0) {
			r->close_early = strcmp(line + 5, "close") == 0;
		} else if (strcmp(line, "body:") == 0) {
			/* body runs to "\n=== next" or the end */
			char *end = p ? strstr(p, "\n=== next") : NULL;
			size_t n = p ? (end ? (size_t)(end - p) : strlen(p)) : 0;
			if (!end && n > 0 && p[n - 1] == '\n')
				n--;
			r->body = aios_xstrndup(p ? p : "", n);
			r->len = n;
			p = end ? end + 1 : NULL;
		} else {
			fprintf(stderr, "fake_apiserver: %s: unknown line \"%s\"\n", path, line);
			rc = -1;
		}
	}
	if (r)
		r->headers = aios_buf_take(&hdr);
	aios_buf_cleanup(&hdr);
	free(text);
	for (size_t i = 0; i < f->nr; i++)
		if (!f->r[i].status) {
			fprintf(stderr, "fake_apiserver: %s: reply %zu has no status\n", path,
			        i + 1);
			rc = -1;
		}
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_chunk(int fd, const char *p, size_t n)
{
	char h[32];
	int hl = snprintf(h, sizeof(h), "%zx\r\n", n);
	return write_all(fd, h, (size_t)hl) || write_all(fd, p, n) || write_all(fd, "\r\n", 2);
}

/* Reads one request (head and Content-Length body) and records it. */
static int read_request(struct aios_fake_api *f, int fd)
{
	struct aios_buf b;
	aios_buf_init(&b, FAKE_MAX_REQUEST);
	char tmp[4096];
	/* the head's length, kept as an offset: the buffer moves as the body is appended
	 * (a client may send head and body in separate writes) */
	size_t head = 0, need = 0;
	for (;;) {
		if (b.data && !head) {
			const char *end = strstr(b.data, "\r\n\r\n");
			if (end) {
				head = (size_t)(end - b.data);
				const char *cl = strcasestr(b.data, "\r\ncontent-length:");
				need = head + 4 + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
			}
		}
		if (head && b.len >= need)
			break;
		ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
		if (n <= 0 || aios_buf_append(&b, tmp, (size_t)n) != AIOS_OK) {
			aios_errclear();
			aios_buf_cleanup(&b);
			return -1;
		}
	}
	pthread_mutex_lock(&f->mu);
	f->req = aios_xrealloc(f->req, (f->nreq + 1) * sizeof(char *));
	f->reqbody = aios_xrealloc(f->reqbody, (f->nreq + 1) * sizeof(char *));
	f->req[f->nreq] = aios_xstrndup(b.data, head);
	f->reqbody[f->nreq] = aios_xstrndup(b.data + head + 4, b.len - head - 4);
	f->nreq++;
	pthread_mutex_unlock(&f->mu);
	aios_buf_cleanup(&b);
	return 0;
}

static void serve(struct aios_fake_api *f, int fd)
{
	if (read_request(f, fd) != 0)
		return;
	if (f->next >= f->nr) {
		static const char body[] =
		    "{\"kind\":\"Status\",\"code\":503,\"message\":\"fixture out of replies\"}";
		char *gone = aios_xasprintf(
		    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
		    "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
		    sizeof(body) - 1, body);
		(void)write_all(fd, gone, strlen(gone));
		free(gone);
		return;
	}
	struct reply *r = &f->r[f->next++];
	int chunked = r->chunk > 0 || r->nchunks > 0;
	char *head;
	if (chunked)
		head = aios_xasprintf(
		    "HTTP/1.1 %s\r\n%sConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
		    r->status, r->headers ? r->headers : "");
	else
		head = aios_xasprintf(
		    "HTTP/1.1 %s\r\n%sConnection: close\r\nContent-Length: %zu\r\n\r\n", r->status,
		    r->headers ? r->headers : "", r->len);
	int bad = write_all(fd, head, strlen(head));
	free(head);
	if (bad)
		return;
	if (!chunked) {
		(void)write_all(fd, r->body ? r->body : "", r->len);
		return;
	}
	for (size_t i = 0; i < r->nchunks; i++)
		if (write_chunk(fd, r->chunks[i], r->clen[i]))
			return;
	for (size_t off = 0; r->chunk > 0 && off < r->len; off += r->chunk) {
		size_t n = r->len - off < r->chunk ? r->len - off : r->chunk;
		if (write_chunk(fd, r->body + off, n))
			return;
	}
	if (!r->close_early)
		(void)write_all(fd, "0\r\n\r\n", 5);
}

static void *loop(void *arg)
{
	struct aios_fake_api *f = arg;
	for (;;) {
		struct pollfd p[2] = {{f->lfd, POLLIN, 0}, {f->stop_pipe[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(f, fd);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

int aios_fake_api_start(struct aios_fake_api *f)
{
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0)
		return -1;
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(f->lfd, 16) != 0 ||
	    getsockname(f->lfd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	f->port = ntohs(a.sin_port);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
	if (pipe(f->stop_pipe) != 0)
		return -1;
	if (pthread_create(&f->th, NULL, loop, f) != 0)
		return -1;
	f->running = 1;
	return 0;
}

const char *aios_fake_api_url(const struct aios_fake_api *f)
{
	return f->url;
}

struct aios_kube_client *aios_fake_api_client(const struct aios_fake_api *f)
{
	struct aios_kube_config cfg = {0};
	cfg.server = (char *)f->url;
	cfg.ns = (char *)"default";
	cfg.token = (char *)"fixture-token";
	struct aios_kube_client *c = NULL;
	if (aios_kube_client_new(&cfg, &c) != AIOS_OK)
		return NULL;
	return c;
}

size_t aios_fake_api_nrequests(struct aios_fake_api *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->nreq;
	pthread_mutex_unlock(&f->mu);
	return n;
}

const char *aios_fake_api_request(struct aios_fake_api *f, size_t i)
{
	pthread_mutex_lock(&f->mu);
	const char *s = i < f->nreq ? f->req[i] : NULL;
	pthread_mutex_unlock(&f->mu);
	return s;
}

const char *aios_fake_api_request_body(struct aios_fake_api *f, size_t i)
{
	pthread_mutex_lock(&f->mu);
	const char *s = i < f->nreq ? f->reqbody[i] : NULL;
	pthread_mutex_unlock(&f->mu);
	return s;
}

void aios_fake_api_free(struct aios_fake_api *f)
{
	if (!f)
		return;
	if (f->running) {
		(void)!write(f->stop_pipe[1], "x", 1);
		pthread_join(f->th, NULL);
	}
	if (f->lfd >= 0)
		close(f->lfd);
	if (f->stop_pipe[0] >= 0) {
		close(f->stop_pipe[0]);
		close(f->stop_pipe[1]);
	}
	for (size_t i = 0; i < f->nr; i++) {
		struct reply *r = &f->r[i];
		free(r->status);
		free(r->headers);
		free(r->body);
		for (size_t j = 0; j < r->nchunks; j++)
			free(r->chunks[j]);
		free(r->chunks);
		free(r->clen);
	}
	free(f->r);
	for (size_t i = 0; i < f->nreq; i++) {
		free(f->req[i]);
		free(f->reqbody[i]);
	}
	free(f->req);
	free(f->reqbody);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
