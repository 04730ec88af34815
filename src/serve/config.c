/*
 * config.c - flags and AIOS_SERVE_* variables of aios-serve (config.h), from one table.
 */
#include "serve/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

enum otype { O_STR, O_INT, O_LONG, O_DOUBLE, O_QUANT };

struct opt {
	const char *flag, *env, *arg, *help;
	enum otype type;
	size_t off;
	double min, max;
};

#define OFF(f) offsetof(struct aios_serve_config, f)
static const struct opt opts[] = {
    {"--model", "AIOS_SERVE_MODEL", "URI",
     "model artifact: file:///path, /path, pvc://CLAIM/PATH, http(s)://...", O_STR, OFF(model), 0,
     0},
    {"--name", "AIOS_SERVE_NAME", "NAME", "model name in the URL paths", O_STR, OFF(name), 0, 0},
    {"--sha256", "AIOS_SERVE_SHA256", "HEX", "expected SHA-256 of the artifact file", O_STR,
     OFF(sha256), 0, 0},
    {"--format", "AIOS_SERVE_MODEL_FORMAT", "auto|aios|onnx",
     "model file format (auto: by the file's first bytes)", O_STR, OFF(format), 0, 0},
    {"--bind", "AIOS_SERVE_BIND", "ADDR", "IPv4 address to listen on (0.0.0.0)", O_STR, OFF(bind),
     0, 0},
    {"--port", "AIOS_SERVE_PORT", "N", "TCP port (8080; 0 picks one)", O_INT, OFF(port), 0, 65535},
    {"--quantize", "AIOS_SERVE_QUANTIZE", "none|int8", "weight quantization at load (none)",
     O_QUANT, OFF(quantize), 0, 0},
    {"--prune-sparsity", "AIOS_SERVE_PRUNE_SPARSITY", "F",
     "zero this fraction of smallest weights per layer (0)", O_DOUBLE, OFF(prune_sparsity), 0,
     0.99},
    {"--threads", "AIOS_SERVE_THREADS", "N", "HTTP event-loop threads (2)", O_INT, OFF(threads), 1,
     256},
    {"--max-batch-size", "AIOS_SERVE_MAX_BATCH_SIZE", "N", "rows per forward pass (32)", O_INT,
     OFF(max_batch_size), 1, 65536},
    {"--max-batch-delay-us", "AIOS_SERVE_MAX_BATCH_DELAY_US", "N",
     "longest hold of a partial batch under load (0)", O_INT, OFF(max_batch_delay_us), 0, 1000000},
    {"--max-request-bytes", "AIOS_SERVE_MAX_REQUEST_BYTES", "N", "request body cap (1048576)",
     O_LONG, OFF(max_request_bytes), 64, 16 << 20},
    {"--max-rows-per-request", "AIOS_SERVE_MAX_ROWS_PER_REQUEST", "N",
     "rows one request may carry; more get 413 (65536)", O_INT, OFF(max_rows_per_request), 1,
     1 << 24},
    {"--request-timeout-ms", "AIOS_SERVE_REQUEST_TIMEOUT_MS", "N",
     "deadline to receive a request and for a reply to move (10000)", O_INT,
     OFF(request_timeout_ms), 1, 3600000},
    {"--queue-depth", "AIOS_SERVE_QUEUE_DEPTH", "N", "requests waiting for a pass before 503 (256)",
     O_INT, OFF(queue_depth), 1, 1 << 20},
    {"--max-connections-per-client", "AIOS_SERVE_MAX_CONNECTIONS_PER_CLIENT", "N",
     "open connections per client IP; idle ones are closed first, then new ones (256; 0: no "
     "limit)",
     O_INT, OFF(max_connections_per_client), 0, 1 << 20},
    {"--tls-cert", "AIOS_SERVE_TLS_CERT", "FILE", "PEM certificate (enables TLS)", O_STR,
     OFF(tls_cert), 0, 0},
    {"--tls-key", "AIOS_SERVE_TLS_KEY", "FILE", "PEM private key", O_STR, OFF(tls_key), 0, 0},
    {"--grace-seconds", "AIOS_SERVE_GRACE_SECONDS", "N",
     "time to finish in-flight requests on SIGTERM (20)", O_INT, OFF(grace_seconds), 0, 3600},
    {"--log-level", "AIOS_LOG_LEVEL", "LEVEL", "debug|info|warn|error (info)", O_STR,
     OFF(log_level), 0, 0},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

void aios_serve_usage(FILE *f)
{
	fprintf(f, "usage: aios-serve --model URI --name NAME [options]\n\n"
	           "Serves one model artifact over HTTP: KServe V1 (/v1/models/NAME:predict),\n"
	           "Open Inference Protocol V2 (/v2/models/NAME/infer), health and /metrics.\n\n"
	           "options (each also read from the environment variable shown):\n");
	for (size_t i = 0; i < N_OPTS; i++)
		fprintf(f, "  %s %-10s %-30s %s\n", opts[i].flag, opts[i].arg, opts[i].env,
		        opts[i].help);
	fprintf(f, "  -h, --help        this text\n\n"
	           "pvc://CLAIM/PATH reads $AIOS_PVC_ROOT/CLAIM/PATH (default root /mnt/pvc).\n"
	           "exit codes: 0 after a clean stop (SIGTERM), 1 bad flags, 2 model load failed,\n"
	           "3 cannot listen.\n");
}

static enum aios_err set(struct aios_serve_config *c, const struct opt *o, const char *v,
                         const char *src)
{
	char *p = (char *)c + o->off, *end;
	errno = 0;
	switch (o->type) {
	case O_STR: *(const char **)p = v; return AIOS_OK;
	case O_QUANT:
		if (strcmp(v, "none") == 0)
			*(enum aios_quant *)p = AIOS_QUANT_NONE;
		else if (strcmp(v, "int8") == 0)
			*(enum aios_quant *)p = AIOS_QUANT_INT8;
		else
			return aios_fail(AIOS_ERR_INVALID, "%s: \"%s\" is not none or int8", src,
			                 v);
		return AIOS_OK;
	case O_INT:
	case O_LONG: {
		long long n = strtoll(v, &end, 10);
		if (errno || end == v || *end || n < o->min || n > o->max)
			return aios_fail(AIOS_ERR_INVALID,
			                 "%s: \"%s\" is not an integer in [%.0f, %.0f]", src, v,
			                 o->min, o->max);
		if (o->type == O_INT)
			*(int *)p = (int)n;
		else
			*(long *)p = (long)n;
		return AIOS_OK;
	}
	case O_DOUBLE: {
		double d = strtod(v, &end);
		if (errno || end == v || *end || !isfinite(d) || d < o->min || d > o->max)
			return aios_fail(AIOS_ERR_INVALID, "%s: \"%s\" is not a number in [%g, %g]",
			                 src, v, o->min, o->max);
		*(double *)p = d;
		return AIOS_OK;
	}
	}
	return AIOS_ERR_INTERNAL;
}

enum aios_err aios_serve_config_parse(struct aios_serve_config *c, int argc, char **argv, int *help)
{
	memset(c, 0, sizeof *c);
	c->bind = "0.0.0.0";
	c->port = 8080;
	c->threads = 2;
	c->max_batch_size = 32;
	c->max_request_bytes = 1 << 20;
	c->max_rows_per_request = 65536;
	c->request_timeout_ms = 10000;
	c->queue_depth = 256;
	c->max_connections_per_client = 256;
	c->grace_seconds = 20;
	c->log_level = "info";
	c->format = "auto";
	*help = 0;
	for (size_t i = 0; i < N_OPTS; i++) {
		const char *v = getenv(opts[i].env);
		if (v && *v) {
			enum aios_err e = set(c, &opts[i], v, opts[i].env);
			if (e)
				return e;
		}
	}
	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			*help = 1;
			return AIOS_OK;
		}
		const struct opt *o = NULL;
		const char *val = NULL;
		for (size_t i = 0; i < N_OPTS && !o; i++) {
			size_t fl = strlen(opts[i].flag);
			if (strcmp(argv[a], opts[i].flag) == 0) {
				o = &opts[i];
				if (a + 1 >= argc)
					return aios_fail(AIOS_ERR_INVALID, "%s needs a value (%s)",
					                 o->flag, o->arg);
				val = argv[++a];
			} else if (strncmp(argv[a], opts[i].flag, fl) == 0 && argv[a][fl] == '=') {
				o = &opts[i];
				val = argv[a] + fl + 1;
			}
		}
		if (!o)
			return aios_fail(AIOS_ERR_INVALID, "unknown argument \"%s\" (see --help)",
			                 argv[a]);
		enum aios_err e = set(c, o, val, o->flag);
		if (e)
			return e;
	}
	if (!c->model || !*c->model)
		return aios_fail(AIOS_ERR_INVALID, "--model (or AIOS_SERVE_MODEL) is required");
	if (!c->name || !*c->name)
		return aios_fail(AIOS_ERR_INVALID, "--name (or AIOS_SERVE_NAME) is required");
	for (const char *p = c->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return aios_fail(
			    AIOS_ERR_INVALID,
			    "--name \"%s\": use letters, digits, '-', '_' and '.' only", c->name);
	if (!c->tls_cert != !c->tls_key)
		return aios_fail(AIOS_ERR_INVALID, "--tls-cert and --tls-key go together");
	if (strcmp(c->format, "auto") && strcmp(c->format, "aios") && strcmp(c->format, "onnx"))
		return aios_fail(AIOS_ERR_INVALID, "--format \"%s\" is not auto, aios or onnx",
		                 c->format);
	if (c->sha256 && !aios_sha256_hex_valid(c->sha256))
		return aios_fail(AIOS_ERR_INVALID, "--sha256 \"%s\" is not 64 hex digits",
		                 c->sha256);
	return AIOS_OK;
}
