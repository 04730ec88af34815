/*
 * fake_apiserver.h - a tiny loopback HTTP server that replays canned replies, for
 * fixture tests of the Kubernetes client (faults a live API server rarely gives on
 * demand: a watch cut mid-line, a 500 with Retry-After, malformed JSON...).
 *
 * Replies are served in order, one per request, each on its own connection
 * ("Connection: close"). When they run out, every further request gets a 503. The
 * request head (request line and headers) and body of each request are recorded so a
 * test can assert exactly what the client sent.
 *
 * A reply file (tests/fixtures/data/kube/<case>.reply) holds one or more replies:
 *
 *   # comment
 *   status: 500 Internal Server Error
 *   header: Retry-After: 7
 *   body:
 *   {"kind":"Status",...}          <- everything up to "=== next" or end of file,
 *   === next                          the final newline excluded
 *   status: 200 OK
 *   chunk: {"type":"ADDED",...}\n  <- one chunk each; \n \r \t \\ are unescaped;
 *   chunk: {"type":"MODI              implies Transfer-Encoding: chunked
 *   end: close                     <- "finish" (the default: send the last chunk) or
 *                                     "close" (drop the connection mid-stream)
 */
#ifndef AIOS_FAKE_APISERVER_H
#define AIOS_FAKE_APISERVER_H

#include <stddef.h>

#include "kube/client.h"

struct aios_fake_api;

struct aios_fake_api *aios_fake_api_new(void);
/* Appends the replies of a reply file; 0 on success, -1 (with a message on stderr). */
int aios_fake_api_load(struct aios_fake_api *f, const char *path);
/* Appends one reply: status ("200 OK"), extra header lines ("A: b\r\n..." or NULL), and
 * a body sent with Content-Length, or in chunks of chunk_size bytes when chunk_size > 0
 * (then close_early drops the connection instead of sending the last chunk). */
void aios_fake_api_add(struct aios_fake_api *f, const char *status, const char *headers,
                       const char *body, size_t len, size_t chunk_size, int close_early);
/* Starts serving on 127.0.0.1 (a free port). 0 on success. */
int aios_fake_api_start(struct aios_fake_api *f);
/* "http://127.0.0.1:PORT" */
const char *aios_fake_api_url(const struct aios_fake_api *f);
/* A client for it (bearer token "fixture-token"); caller frees. */
struct aios_kube_client *aios_fake_api_client(const struct aios_fake_api *f);
/* Requests received so far, and the i-th one's head (request line + headers) and body. */
size_t aios_fake_api_nrequests(struct aios_fake_api *f);
const char *aios_fake_api_request(struct aios_fake_api *f, size_t i);
const char *aios_fake_api_request_body(struct aios_fake_api *f, size_t i);
/* Stops the server and frees everything. NULL is a no-op. */
void aios_fake_api_free(struct aios_fake_api *f);

#endif
