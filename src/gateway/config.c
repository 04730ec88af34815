/*
 * config.c - aios-gateway's flags and AIOS_GATEWAY_* variables (config.h), from one
 * table: each entry names the flag, its value's kind and range, and the field it sets.
 */
#include "gateway/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

enum kind { K_TEXT, K_NUM };

struct flag {
	const char *name; /* without "--" */
	const char *arg, *help;
	enum kind kind;
	size_t off;       /* into struct aios_gw_settings */
	int is_long;      /* K_NUM into a long, else an int */
	long long lo, hi; /* K_NUM range */
};

#define AT(f) offsetof(struct aios_gw_settings, f)
static const struct flag flags[] = {
    {"kubeconfig", "PATH", "kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)", K_TEXT,
     AT(kubeconfig), 0, 0, 0},
    {"context", "NAME", "kubeconfig context (default: current)", K_TEXT, AT(context), 0, 0, 0},
    {"namespace", "NS", "watch ModelServices in NS only (default: all namespaces)", K_TEXT,
     AT(watch_ns), 0, 0, 0},
    {"default-namespace", "NS", "namespace of a request that names none (default)", K_TEXT,
     AT(gw.default_ns), 0, 0, 0},
    {"bind", "ADDR", "IPv4 address to listen on (0.0.0.0)", K_TEXT, AT(gw.bind), 0, 0, 0},
    {"port", "N", "TCP port of the entry, /metrics and health (8080; 0 picks one)", K_NUM,
     AT(gw.port), 0, 0, 65535},
    {"threads", "N", "HTTP event-loop threads (2)", K_NUM, AT(gw.threads), 0, 1, 64},
    {"proxy-threads", "N", "upstream calls at once (64)", K_NUM, AT(gw.proxy_threads), 0, 1, 4096},
    {"max-request-bytes", "N", "request body cap, whatever the service allows (16777216)", K_NUM,
     AT(gw.max_request_bytes), 1, 64, AIOS_CAP_HTTP_REQUEST},
    {"upstream-timeout-ms", "N", "one call to a pod, connect included (60000)", K_NUM,
     AT(gw.upstream_timeout_ms), 0, 1, 3600000},
    {"read-timeout-ms", "N", "a request must arrive whole within this (10000)", K_NUM,
     AT(gw.read_timeout_ms), 0, 1, 3600000},
    {"operator-url", "URL", "ws://HOST:PORT/PATH of the operator's demand stream (none)", K_TEXT,
     AT(operator_url), 0, 0, 0},
    {"id", "NAME", "this replica's name in the demand stream (hostname)", K_TEXT, AT(id), 0, 0, 0},
    {"tls-cert", "FILE", "PEM certificate: HTTPS on the entry", K_TEXT, AT(gw.tls_cert), 0, 0, 0},
    {"tls-key", "FILE", "PEM private key", K_TEXT, AT(gw.tls_key), 0, 0, 0},
    {"grace-seconds", "N", "time to finish requests in flight on SIGTERM (20)", K_NUM,
     AT(grace_seconds), 0, 0, 3600},
    {"sync-timeout-seconds", "N", "wait for the first lists of the API (60)", K_NUM,
     AT(sync_timeout_s), 0, 1, 3600},
    {"log-level", "LEVEL", "debug|info|warn|error (info)", K_TEXT, AT(log_level), 0, 0, 0},
};
#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

void aios_gw_usage(FILE *f)
{
	fputs("usage: aios-gateway [flags]\n\n"
	      "One HTTP entry for every ModelService: /v1/models/NAME:predict,\n"
	      "/v2/models/NAME/infer and the other Open Inference Protocol paths, routed to a\n"
	      "ready pod of ModelService NAME (least outstanding requests). The namespace is\n"
	      "a path prefix /namespaces/NS, or a Host NAME.NS..., or --default-namespace.\n"
	      "A service with no ready pod (scaled to zero) holds requests until one is.\n\n"
	      "flags (each also read from AIOS_GATEWAY_<FLAG>, e.g. AIOS_GATEWAY_PORT):\n",
	      f);
	for (size_t i = 0; i < N_FLAGS; i++)
		fprintf(f, "  --%-22s %-6s %s\n", flags[i].name, flags[i].arg, flags[i].help);
	fputs("  --help, --version\n\n"
	      "exit codes: 0 after a clean stop (SIGTERM), 1 runtime failure (API server\n"
	      "unreachable, first lists not synced), 2 bad flags, 3 cannot listen.\n",
	      f);
}

/* Stores text v for flag fl, naming src in errors. */
static enum aios_err store(struct aios_gw_settings *s, const struct flag *fl, const char *v,
                           const char *src)
{
	void *field = (char *)s + fl->off;
	if (fl->kind == K_TEXT) {
		*(const char **)field = v;
		return AIOS_OK;
	}
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < fl->lo || n > fl->hi)
		return aios_fail(AIOS_ERR_INVALID, "%s: \"%s\" is not an integer in %lld..%lld",
		                 src, v, fl->lo, fl->hi);
	if (fl->is_long)
		*(long *)field = (long)n;
	else
		*(int *)field = (int)n;
	return AIOS_OK;
}

/* The flag whose name is arg's (after "--", up to any '='), or NULL. */
static const struct flag *lookup(const char *arg)
{
	size_t n = strcspn(arg, "=");
	for (size_t i = 0; i < N_FLAGS; i++)
		if (strlen(flags[i].name) == n && strncmp(flags[i].name, arg, n) == 0)
			return &flags[i];
	return NULL;
}

enum aios_err aios_gw_settings_parse(struct aios_gw_settings *s, int argc, char **argv, int *help,
                                     int *version)
{
	memset(s, 0, sizeof(*s));
	aios_gw_config_defaults(&s->gw);
	s->grace_seconds = 20;
	s->sync_timeout_s = 60;
	s->log_level = "info";
	*help = *version = 0;
	for (size_t i = 0; i < N_FLAGS; i++) {
		char var[64] = "AIOS_GATEWAY_";
		size_t k = strlen(var);
		for (const char *p = flags[i].name; *p && k + 1 < sizeof(var); p++)
			var[k++] = *p == '-' ? '_' : (char)(*p - 'a' + 'A');
		var[k] = 0;
		const char *v = getenv(var);
		if (v && *v) {
			enum aios_err e = store(s, &flags[i], v, var);
			if (e)
				return e;
		}
	}
	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			*help = 1;
			return AIOS_OK;
		}
		if (strcmp(arg, "--version") == 0) {
			*version = 1;
			return AIOS_OK;
		}
		const struct flag *fl = strncmp(arg, "--", 2) == 0 ? lookup(arg + 2) : NULL;
		if (!fl)
			return aios_fail(AIOS_ERR_INVALID, "unknown argument \"%s\"", arg);
		const char *eq = strchr(arg, '=');
		const char *v = eq ? eq + 1 : a + 1 < argc ? argv[++a] : NULL;
		if (!v)
			return aios_fail(AIOS_ERR_INVALID, "--%s needs a value (%s)", fl->name,
			                 fl->arg);
		enum aios_err e = store(s, fl, v, arg);
		if (e)
			return e;
	}
	if (!s->gw.tls_cert != !s->gw.tls_key)
		return aios_fail(AIOS_ERR_INVALID, "--tls-cert and --tls-key go together");
	if (s->operator_url && *s->operator_url && strncmp(s->operator_url, "ws://", 5) != 0 &&
	    strncmp(s->operator_url, "wss://", 6) != 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "--operator-url \"%s\": expected ws:// or wss://",
		                 s->operator_url);
	return AIOS_OK;
}
