/*
 * config.h - aios-serve's settings: flags, each with an AIOS_SERVE_* environment
 * fallback (the operator passes ModelService spec.runtime through the environment).
 * A flag wins over its variable; a variable wins over the default. Every value is
 * range-checked and a bad one is an error naming the flag or variable.
 */
#ifndef AIOS_SERVE_CONFIG_H
#define AIOS_SERVE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "common/err.h"
#include "serve/engine.h"

struct aios_serve_config {
	const char *model;        /* --model URI (required) */
	const char *name;         /* --name NAME (required) */
	const char *sha256;       /* --sha256 HEX: expected digest of the artifact file */
	const char *format;       /* --format auto|aios|onnx, default auto (by magic) */
	const char *bind;         /* --bind ADDR, default 0.0.0.0 */
	int port;                 /* --port, default 8080 */
	enum aios_quant quantize; /* --quantize none|int8 */
	double prune_sparsity;    /* --prune-sparsity F in [0, 1) */
	int threads;              /* --threads N: HTTP loops, default 2 */
	int max_batch_size;       /* --max-batch-size N rows, default 32 */
	int max_batch_delay_us;   /* --max-batch-delay-us N, default 0 */
	long max_request_bytes;   /* --max-request-bytes N, default 1 MiB */
	int max_rows_per_request; /* --max-rows-per-request N, default 65536 */
	int request_timeout_ms; /* --request-timeout-ms N: queue wait + read deadline, default 10000 */
	int queue_depth;        /* --queue-depth N requests, default 256 */
	int max_connections_per_client; /* --max-connections-per-client N (0: none), default 256 */
	const char *tls_cert;           /* --tls-cert FILE */
	const char *tls_key;            /* --tls-key FILE */
	int grace_seconds;              /* --grace-seconds N, default 20 */
	const char *log_level;          /* --log-level debug|info|warn|error */
};

/* Fills defaults, then the environment, then argv. *help = 1 for --help/-h. */
enum aios_err aios_serve_config_parse(struct aios_serve_config *c, int argc, char **argv,
                                      int *help) AIOS_MUST_CHECK;
void aios_serve_usage(FILE *f);

#endif
