/*
 * cmd.h - the subcommands of kubectl-aios, each run against one API client.
 *
 * Every command returns a process exit code: 0 done, 1 the API or the workload said
 * no (message on stderr), 2 bad usage.
 */
#ifndef AIOS_CLI_CMD_H
#define AIOS_CLI_CMD_H

#include "kube/client.h"
#include "output.h"

struct cli_opts {
	const char *kubeconfig;
	const char *context;
	const char *ns;              /* NULL: the context's namespace */
	int all_ns;                  /* -A */
	int rank;                    /* logs --rank */
	int previous;                /* logs --previous: the container's last run */
	int follow;                  /* logs -f: stream, across attempts, until the job ends */
	const char *data;            /* predict --data */
	int interval_ms;             /* watch poll period */
	int timeout_s;               /* watch: give up after this many seconds, 0 = never */
	enum aios_cli_format format; /* get -o */
	int client_only;             /* version --client */
	const char *server;          /* the API server's URL, for hints */
};

/* get [tj|ms] [NAME]: kind NULL lists both kinds, name NULL every object of the kind. */
int cli_get(struct aios_kube_client *c, const struct cli_opts *o, const char *kind,
            const char *name);
/* The plugin's version and, unless client_only, the API server's (GET /version). */
int cli_version(struct aios_kube_client *c, const struct cli_opts *o);
/* __complete WORDS...: completion candidates, one per line (names from the cluster when
 * c is non-NULL). */
int cli_complete(struct aios_kube_client *c, const struct cli_opts *o, char **args, int nargs);
/* "tj"/"trainingjob(s)" -> "tj", "ms"/"modelservice(s)" -> "ms", else NULL. */
const char *cli_kind(const char *word);
int cli_watch_tj(struct aios_kube_client *c, const struct cli_opts *o, const char *name);
int cli_logs_tj(struct aios_kube_client *c, const struct cli_opts *o, const char *name);
int cli_predict_ms(struct aios_kube_client *c, const struct cli_opts *o, const char *name);

#endif
