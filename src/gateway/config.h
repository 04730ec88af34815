/*
 * config.h - aios-gateway's settings: flags, each with an AIOS_GATEWAY_<FLAG>
 * environment fallback (upper case, '-' as '_'); a flag wins over its variable, a
 * variable over the default. Every number is range-checked; a bad value is an error
 * naming the flag or variable.
 */
#ifndef AIOS_GATEWAY_CONFIG_H
#define AIOS_GATEWAY_CONFIG_H

#include <stdio.h>

#include "common/err.h"
#include "gateway/gateway.h"

struct aios_gw_settings {
	struct aios_gw_config gw; /* the data plane (gateway.h) */
	const char *kubeconfig;   /* --kubeconfig PATH (NULL: $KUBECONFIG, in-cluster, ~) */
	const char *context;      /* --context NAME */
	const char *watch_ns;     /* --namespace NS: watch only NS (NULL: all) */
	const char *operator_url; /* --operator-url ws://HOST:PORT/PATH: demand stream */
	const char *id;           /* --id NAME: this replica in the stream (default hostname) */
	int grace_seconds;        /* --grace-seconds N */
	int sync_timeout_s;       /* --sync-timeout-seconds N: informers' first lists */
	const char *log_level;    /* --log-level LEVEL */
};

/* Defaults, then the environment, then argv. *help = 1 for --help or -h, *version = 1
 * for --version. Errors: AIOS_ERR_INVALID naming the flag. */
enum aios_err aios_gw_settings_parse(struct aios_gw_settings *s, int argc, char **argv, int *help,
                                     int *version) AIOS_MUST_CHECK;
void aios_gw_usage(FILE *f);

#endif
