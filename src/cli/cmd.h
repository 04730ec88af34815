/*
 * cmd.h - the subcommands of kubectl-aios, each run against one API client.
 *
 * Every command returns a process exit code: 0 done, 1 the API or the workload said
 * no (message on stderr), 2 bad usage.
 */
#ifndef AIOS_CLI_CMD_H
#define AIOS_CLI_CMD_H

#include "kube/client.h"

struct cli_opts {
	const char *kubeconfig;
	const char *context;
	const char *ns;   /* NULL: the context's namespace */
	int all_ns;       /* -A */
	int rank;         /* logs --rank */
	const char *data; /* predict --data */
	int follow;       /* logs -f */
	int interval_ms;  /* watch poll period */
	int timeout_s;    /* watch: give up after this many seconds, 0 = never */
};

int cli_get(struct aios_kube_client *c, const struct cli_opts *o);
int cli_watch_tj(struct aios_kube_client *c, const struct cli_opts *o, const char *name);
int cli_logs_tj(struct aios_kube_client *c, const struct cli_opts *o, const char *name);
int cli_predict_ms(struct aios_kube_client *c, const struct cli_opts *o, const char *name);

#endif
