/*
 * main.c - kubectl-aios: parse flags, build the API client, run one subcommand.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/log.h"
#include "common/shutdown.h"
#include "kube/config.h"

static void usage(FILE *f)
{
	fputs(
	    "kubectl aios - aios from kubectl\n"
	    "\n"
	    "usage:\n"
	    "  kubectl aios get [-A]                       TrainingJobs and ModelServices in one "
	    "table\n"
	    "  kubectl aios watch tj NAME [--timeout S]    live progress bar, then the loss curve\n"
	    "  kubectl aios logs tj NAME [--rank N]        logs of one rank's newest pod\n"
	    "  kubectl aios predict ms NAME --data JSON    a prediction through the API server, "
	    "e.g. --data '[[5]]'\n"
	    "\n"
	    "flags:\n"
	    "  --kubeconfig PATH   kubeconfig (default $KUBECONFIG, then ~/.kube/config)\n"
	    "  --context NAME      kubeconfig context (default current-context)\n"
	    "  -n, --namespace NS  namespace (default the context's)\n"
	    "  -A, --all-namespaces\n"
	    "  -h, --help\n"
	    "\n"
	    "exit codes: 0 ok (watch: the job succeeded), 1 API or job failure, 2 bad usage\n",
	    f);
}

int main(int argc, char **argv)
{
	struct cli_opts o = {.interval_ms = 1000};
	static const struct option longs[] = {{"kubeconfig", required_argument, 0, 'k'},
	                                      {"context", required_argument, 0, 'c'},
	                                      {"namespace", required_argument, 0, 'n'},
	                                      {"all-namespaces", no_argument, 0, 'A'},
	                                      {"rank", required_argument, 0, 'r'},
	                                      {"data", required_argument, 0, 'd'},
	                                      {"timeout", required_argument, 0, 't'},
	                                      {"help", no_argument, 0, 'h'},
	                                      {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "n:Ah", longs, NULL)) != -1) {
		char *end = NULL;
		switch (ch) {
		case 'k': o.kubeconfig = optarg; break;
		case 'c': o.context = optarg; break;
		case 'n': o.ns = optarg; break;
		case 'A': o.all_ns = 1; break;
		case 'd': o.data = optarg; break;
		case 'r':
		case 't': {
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 0 || v > 1000000) {
				fprintf(
				    stderr,
				    "kubectl-aios: --%s: expected a non-negative integer, got %s\n",
				    ch == 'r' ? "rank" : "timeout", optarg);
				return 2;
			}
			if (ch == 'r')
				o.rank = (int)v;
			else
				o.timeout_s = (int)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	int nargs = argc - optind;
	char **args = argv + optind;
	if (nargs < 1) {
		usage(stderr);
		return 2;
	}
	const char *verb = args[0];
	int is_get = strcmp(verb, "get") == 0;
	int need_kind = !is_get;
	const char *want_kind = strcmp(verb, "predict") == 0 ? "ms" : "tj";
	if (!is_get && strcmp(verb, "watch") && strcmp(verb, "logs") && strcmp(verb, "predict")) {
		fprintf(stderr, "kubectl-aios: unknown command %s\n", verb);
		usage(stderr);
		return 2;
	}
	if (need_kind &&
	    (nargs != 3 ||
	     (strcmp(args[1], want_kind) &&
	      strcmp(args[1], strcmp(want_kind, "ms") ? "trainingjob" : "modelservice")))) {
		fprintf(stderr, "kubectl-aios: usage: kubectl aios %s %s NAME\n", verb, want_kind);
		return 2;
	}
	if (strcmp(verb, "predict") == 0 && !o.data) {
		fprintf(stderr, "kubectl-aios: predict needs --data, e.g. --data '[[5]]'\n");
		return 2;
	}
	aios_log_init("kubectl-aios", AIOS_LOG_WARN);
	aios_shutdown_install();

	struct aios_kube_config *cfg = NULL;
	if (aios_kube_config_load(o.kubeconfig, o.context, &cfg)) {
		fprintf(stderr, "kubectl-aios: %s\n", aios_errmsg());
		return 1;
	}
	struct aios_kube_client *c = NULL;
	if (aios_kube_client_new(cfg, &c)) {
		fprintf(stderr, "kubectl-aios: %s\n", aios_errmsg());
		aios_kube_config_free(cfg);
		return 1;
	}
	int rc;
	if (is_get)
		rc = cli_get(c, &o);
	else if (strcmp(verb, "watch") == 0)
		rc = cli_watch_tj(c, &o, args[2]);
	else if (strcmp(verb, "logs") == 0)
		rc = cli_logs_tj(c, &o, args[2]);
	else
		rc = cli_predict_ms(c, &o, args[2]);
	aios_kube_client_free(c);
	aios_kube_config_free(cfg);
	return rc;
}
