/*
 * main.c - kubectl-aios: parse flags, build the API client, run one subcommand.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "dashboard.h"
#include "common/log.h"
#include "common/shutdown.h"
#include "kube/config.h"

static void usage(FILE *f)
{
	fputs(
	    "kubectl aios - aios from kubectl\n"
	    "\n"
	    "usage:\n"
	    "  kubectl aios get [tj|ms] [NAME] [-o json|yaml|wide|name] [-A]\n"
	    "                                              TrainingJobs and ModelServices\n"
	    "  kubectl aios watch tj NAME [--timeout S]    live progress bar, then the loss curve\n"
	    "  kubectl aios logs tj NAME [--rank N] [--previous] [-f]\n"
	    "                                              logs of one rank's newest pod; -f "
	    "follows\n"
	    "                                              them, across restarts, until the job "
	    "ends\n"
	    "  kubectl aios predict ms NAME --data JSON    a prediction through the API server, "
	    "e.g. --data '[[5]]'\n"
	    "  kubectl aios dashboard [--port N] [--open] a live web page on 127.0.0.1 (default "
	    "port 8090)\n"
	    "  kubectl aios version [--client]             the plugin's and the API server's "
	    "versions\n"
	    "  kubectl aios completion bash|zsh            a shell completion script, e.g.\n"
	    "                                              source <(kubectl aios completion bash)\n"
	    "\n"
	    "flags (spelled as kubectl spells them):\n"
	    "  --kubeconfig PATH    kubeconfig (default $KUBECONFIG, then ~/.kube/config)\n"
	    "  --context NAME       kubeconfig context (default current-context)\n"
	    "  -n, --namespace NS   namespace (default the context's)\n"
	    "  -A, --all-namespaces\n"
	    "  -o, --output FORMAT  get: json, yaml, wide or name (default a table)\n"
	    "  -h, --help\n"
	    "\n"
	    "exit codes: 0 ok (watch: the job succeeded), 1 API or job failure, 2 bad usage\n",
	    f);
}

/* The subcommands and the kind word each needs (NULL: none, "" optional tj|ms). */
static const struct {
	const char *verb;
	const char *kind;
} commands[] = {{"get", ""},         {"watch", "tj"},   {"logs", "tj"},       {"predict", "ms"},
                {"dashboard", NULL}, {"version", NULL}, {"completion", NULL}, {"__complete", NULL}};

int main(int argc, char **argv)
{
	struct cli_opts o = {.interval_ms = 1000};
	int port = AIOS_DASH_DEFAULT_PORT, open_browser = 0;
	static const struct option longs[] = {{"kubeconfig", required_argument, 0, 'k'},
	                                      {"context", required_argument, 0, 'c'},
	                                      {"namespace", required_argument, 0, 'n'},
	                                      {"all-namespaces", no_argument, 0, 'A'},
	                                      {"output", required_argument, 0, 'o'},
	                                      {"rank", required_argument, 0, 'r'},
	                                      {"previous", no_argument, 0, 'p'},
	                                      {"follow", no_argument, 0, 'f'},
	                                      {"client", no_argument, 0, 'C'},
	                                      {"port", required_argument, 0, 'P'},
	                                      {"open", no_argument, 0, 'O'},
	                                      {"data", required_argument, 0, 'd'},
	                                      {"timeout", required_argument, 0, 't'},
	                                      {"help", no_argument, 0, 'h'},
	                                      {0, 0, 0, 0}};
	/* __complete takes the words typed so far verbatim, flags included */
	if (argc >= 2 && strcmp(argv[1], "__complete") == 0) {
		struct aios_kube_config *cfg = NULL;
		struct aios_kube_client *c = NULL;
		aios_log_init("kubectl-aios", AIOS_LOG_ERROR);
		for (int i = 2; i + 1 < argc - 1; i++) { /* the flags that pick the cluster */
			const char *f = argv[i], *v = argv[i + 1];
			if (!strcmp(f, "-n") || !strcmp(f, "--namespace"))
				o.ns = v;
			else if (!strcmp(f, "--kubeconfig"))
				o.kubeconfig = v;
			else if (!strcmp(f, "--context"))
				o.context = v;
		}
		if (aios_kube_config_load(o.kubeconfig, o.context, &cfg) ||
		    aios_kube_client_new(cfg, &c))
			aios_errclear(); /* no names then, the rest still completes */
		int rc = cli_complete(c, &o, argv + 2, argc - 2);
		aios_kube_client_free(c);
		aios_kube_config_free(cfg);
		return rc;
	}
	int ch;
	while ((ch = getopt_long(argc, argv, "n:Ao:hf", longs, NULL)) != -1) {
		char *end = NULL;
		switch (ch) {
		case 'k': o.kubeconfig = optarg; break;
		case 'c': o.context = optarg; break;
		case 'n': o.ns = optarg; break;
		case 'A': o.all_ns = 1; break;
		case 'o':
			if (aios_cli_format_parse(optarg, &o.format)) {
				fprintf(stderr, "kubectl-aios: -o: %s\n", aios_errmsg());
				return 2;
			}
			break;
		case 'p': o.previous = 1; break;
		case 'f': o.follow = 1; break;
		case 'C': o.client_only = 1; break;
		case 'O': open_browser = 1; break;
		case 'd': o.data = optarg; break;
		case 'r':
		case 'P':
		case 't': {
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 0 || v > 1000000) {
				fprintf(
				    stderr,
				    "kubectl-aios: --%s: expected a non-negative integer, got %s\n",
				    ch == 'r'   ? "rank"
				    : ch == 'P' ? "port"
				                : "timeout",
				    optarg);
				return 2;
			}
			if (ch == 'P' && v > 65535) {
				fprintf(stderr, "kubectl-aios: --port: %ld is not a TCP port\n", v);
				return 2;
			}
			if (ch == 'r')
				o.rank = (int)v;
			else if (ch == 'P')
				port = (int)v;
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
	const char *verb = args[0], *want = NULL;
	size_t ci = 0;
	while (ci < sizeof(commands) / sizeof(commands[0]) && strcmp(commands[ci].verb, verb))
		ci++;
	if (ci == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr,
		        "kubectl-aios: unknown command \"%s\" (kubectl aios --help lists them)\n",
		        verb);
		return 2;
	}
	want = commands[ci].kind;
	if (strcmp(verb, "completion") == 0) {
		const char *script = nargs == 2 ? aios_cli_completion_script(args[1]) : NULL;
		if (!script) {
			fprintf(stderr, "kubectl-aios: usage: kubectl aios completion bash|zsh\n");
			return 2;
		}
		fputs(script, stdout);
		return 0;
	}
	const char *kind = NULL, *name = NULL;
	if (want && *want) { /* watch/logs/predict KIND NAME */
		if (nargs != 3 || !cli_kind(args[1]) || strcmp(cli_kind(args[1]), want)) {
			fprintf(stderr, "kubectl-aios: usage: kubectl aios %s %s NAME\n", verb,
			        want);
			return 2;
		}
		name = args[2];
	} else if (want) { /* get [KIND [NAME]] */
		if (nargs > 3 || (nargs >= 2 && !cli_kind(args[1]))) {
			fprintf(stderr,
			        "kubectl-aios: usage: kubectl aios get [tj|ms] [NAME] (got %s)\n",
			        nargs >= 2 ? args[1] : "too many words");
			return 2;
		}
		kind = nargs >= 2 ? cli_kind(args[1]) : NULL;
		name = nargs == 3 ? args[2] : NULL;
	} else if (nargs != 1) {
		fprintf(stderr, "kubectl-aios: usage: kubectl aios %s\n", verb);
		return 2;
	}
	if (o.format != AIOS_CLI_TABLE && strcmp(verb, "get")) {
		fprintf(stderr, "kubectl-aios: -o is for get\n");
		return 2;
	}
	if (strcmp(verb, "predict") == 0 && !o.data) {
		fprintf(stderr, "kubectl-aios: predict needs --data, e.g. --data '[[5]]'\n");
		return 2;
	}
	if (strcmp(verb, "version") == 0 && o.client_only)
		return cli_version(NULL, &o);
	aios_log_init("kubectl-aios", AIOS_LOG_WARN);
	aios_shutdown_install();

	struct aios_kube_config *cfg = NULL;
	if (aios_kube_config_load(o.kubeconfig, o.context, &cfg)) {
		fprintf(stderr, "kubectl-aios: %s\n", aios_errmsg());
		fprintf(stderr, "  no cluster to talk to: set KUBECONFIG or pass --kubeconfig, and "
		                "--context to pick one of its contexts\n");
		return 1;
	}
	o.server = cfg->server;
	struct aios_kube_client *c = NULL;
	if (aios_kube_client_new(cfg, &c)) {
		fprintf(stderr, "kubectl-aios: %s\n", aios_errmsg());
		aios_kube_config_free(cfg);
		return 1;
	}
	int rc;
	if (strcmp(verb, "get") == 0)
		rc = cli_get(c, &o, kind, name);
	else if (strcmp(verb, "watch") == 0)
		rc = cli_watch_tj(c, &o, name);
	else if (strcmp(verb, "logs") == 0)
		rc = cli_logs_tj(c, &o, name);
	else if (strcmp(verb, "version") == 0)
		rc = cli_version(c, &o);
	else if (strcmp(verb, "dashboard") == 0)
		rc = cli_dashboard(c, &o, port, open_browser);
	else
		rc = cli_predict_ms(c, &o, name);
	aios_kube_client_free(c);
	aios_kube_config_free(cfg);
	return rc;
}
