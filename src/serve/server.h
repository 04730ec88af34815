/*
 * server.h - aios-serve assembled: engine + batcher + metrics + HTTP routes.
 *
 * Endpoints (DESIGN.md "Contracts between the operator and its pods"):
 *   POST /v1/models/NAME:predict   GET /v1/models/NAME
 *   POST /v2/models/NAME/infer     GET /v2/models/NAME    GET /v2/models/NAME/ready
 *   GET  /v2/health/live           GET /v2/health/ready   GET /metrics
 * Ready means: the model is loaded and one warm-up forward pass has run, and the
 * server is not stopping. Errors are {"error": "..."} with 400 (bad body), 404
 * (unknown model or path), 405, 408, 413, 503 + Retry-After (queue full or not
 * ready), 504 (queue deadline).
 */
#ifndef AIOS_SERVE_SERVER_H
#define AIOS_SERVE_SERVER_H

#include "common/err.h"
#include "model/model.h"
#include "serve/config.h"

struct aios_serve;

/* Compiles the model (borrowed: the caller may free it after), warms up, builds routes. */
enum aios_err aios_serve_new(const struct aios_serve_config *c, const struct aios_model *m,
                             struct aios_serve **out) AIOS_MUST_CHECK;
/* Listens; errors name the address. */
enum aios_err aios_serve_start(struct aios_serve *s) AIOS_MUST_CHECK;
int aios_serve_port(const struct aios_serve *s);
/* Marks not ready, stops accepting, finishes in-flight requests within grace_ms. */
void aios_serve_stop(struct aios_serve *s, int grace_ms);
void aios_serve_free(struct aios_serve *s);

#endif
