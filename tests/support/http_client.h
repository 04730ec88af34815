/*
 * http_client.h - a blocking HTTP/1.1 test client on loopback for the HTTP suites.
 *
 * Sends raw bytes (so tests can send malformed requests) and reads one response,
 * framed by Content-Length. Every call has a timeout; failures fail the test.
 */
#ifndef AIOS_TEST_HTTP_CLIENT_H
#define AIOS_TEST_HTTP_CLIENT_H

#include <stddef.h>

struct tc_resp {
	int status;      /* 0 if the connection closed before a status line */
	char head[8192]; /* status line + headers, NUL-terminated */
	char *body;      /* heap, NUL-terminated (tc_resp_free) */
	size_t body_len;
	int closed; /* the server closed the connection after this response */
};

/* Connects to 127.0.0.1:port; returns the fd (fails the test on error). */
int tc_connect(int port);
/* Writes all of n bytes. */
void tc_send(int fd, const void *p, size_t n);
/* Reads one response within timeout_ms; status 0 when closed/timeout without one. */
void tc_read(int fd, struct tc_resp *r, int timeout_ms);
/* Value of a response header (case-insensitive) copied to out, or 0 if absent. */
int tc_header(const struct tc_resp *r, const char *name, char *out, size_t n);
/* One request on a new connection: method, path, body (may be NULL); closes after. */
void tc_request(int port, const char *method, const char *path, const char *body,
                struct tc_resp *r);
void tc_resp_free(struct tc_resp *r);
/* 1 if the peer closed fd within timeout_ms (read returns 0 or an error). */
int tc_wait_closed(int fd, int timeout_ms);

#endif
