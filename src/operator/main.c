/*
 * main.c - aios-operator: parse flags (or AIOS_OPERATOR_* variables), build the
 * manager, register the controllers, run until SIGTERM.
 *
 * Exit codes: 0 after a clean shutdown, 1 on a runtime failure (cannot reach the API
 * server, informers never synced, lost the Lease), 2 on bad flags.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/shutdown.h"
#include "operator/controller.h"
#include "operator/manager.h"
#include "operator/modelservice_demand.h"
#include "operator/render_security.h"

static const char usage[] =
    "usage: aios-operator [flags]\n"
    "\n"
    "The aios controller manager: reconciles TrainingJobs and ModelServices.\n"
    "Every flag can also be set with an environment variable AIOS_OPERATOR_<FLAG>\n"
    "(upper case, '-' as '_', e.g. AIOS_OPERATOR_LEADER_ELECT=true); flags win.\n"
    "\n"
    "  --kubeconfig PATH                  kubeconfig (default: $KUBECONFIG, in-cluster,\n"
    "                                     ~/.kube/config)\n"
    "  --context NAME                     kubeconfig context (default: current)\n"
    "  --namespace NS                     watch only NS (default: all namespaces)\n"
    "  --leader-elect[=true|false]        take the Lease before reconciling (default false)\n"
    "  --leader-election-namespace NS     namespace of the Lease (default: the\n"
    "                                     kubeconfig's or service account's namespace)\n"
    "  --leader-election-id NAME          name of the Lease (default aios-operator)\n"
    "  --leader-election-identity ID      this replica's holder identity (default\n"
    "                                     hostname_uuid; a stable one lets a restarted\n"
    "                                     process take back its Lease at once)\n"
    "  --metrics-bind-address ADDR        /metrics on [host]:port, 0 disables (default :8080)\n"
    "  --health-probe-bind-address ADDR   /healthz and /readyz (default :8081)\n"
    "  --demand-bind-address ADDR         the gateways' demand stream (WebSocket), served\n"
    "                                     by the leader on [host]:port; 0 disables\n"
    "                                     (default :8082; docs/gateway.md)\n"
    "  --workers N                        workers per controller, 1..64 (default 2)\n"
    "  --pod-security restricted|privileged  restricted (default): refuse templates asking\n"
    "                                     for hostPath volumes, host namespaces, privileged\n"
    "                                     or escalating containers, added capabilities\n"
    "                                     (docs/security.md)\n"
    "  --log-level LEVEL                  debug, info, warn, error (default info)\n"
    "  --help, --version\n";

struct flag {
	const char *name; /* without "--" */
	const char **value;
	int is_bool;
};

static int parse_bool(const char *s, int *out)
{
	if (!s || !strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no") || !*s) {
		*out = 0;
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *context = NULL, *ns = NULL, *leader = NULL, *le_ns = NULL,
	           *le_id = NULL, *le_identity = NULL, *metrics = NULL, *health = NULL,
	           *workers = NULL, *level = NULL, *pod_security = NULL, *demand = ":8082";
	struct flag flags[] = {
	    {"kubeconfig", &kubeconfig, 0},
	    {"context", &context, 0},
	    {"namespace", &ns, 0},
	    {"leader-elect", &leader, 1},
	    {"leader-election-namespace", &le_ns, 0},
	    {"leader-election-id", &le_id, 0},
	    {"leader-election-identity", &le_identity, 0},
	    {"metrics-bind-address", &metrics, 0},
	    {"health-probe-bind-address", &health, 0},
	    {"workers", &workers, 0},
	    {"log-level", &level, 0},
	    {"pod-security", &pod_security, 0},
	    {"demand-bind-address", &demand, 0},
	};
	const int n_flags = (int)(sizeof(flags) / sizeof(flags[0]));

	/* environment first, flags override */
	for (int i = 0; i < n_flags; i++) {
		char var[96];
		int k = snprintf(var, sizeof(var), "AIOS_OPERATOR_");
		for (const char *p = flags[i].name; *p && k < (int)sizeof(var) - 1; p++)
			var[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		var[k] = '\0';
		const char *v = getenv(var);
		if (v)
			*flags[i].value = v;
	}
	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(arg, "--version")) {
			printf("aios-operator %s\n", AIOS_VERSION);
			return 0;
		}
		if (strncmp(arg, "--", 2) != 0) {
			fprintf(stderr, "aios-operator: unexpected argument \"%s\"\n%s", arg,
			        usage);
			return 2;
		}
		const char *body = arg + 2, *eq = strchr(body, '=');
		size_t nl = eq ? (size_t)(eq - body) : strlen(body);
		int found = 0;
		for (int i = 0; i < n_flags; i++) {
			if (strlen(flags[i].name) != nl || strncmp(flags[i].name, body, nl) != 0)
				continue;
			found = 1;
			if (eq)
				*flags[i].value = eq + 1;
			else if (flags[i].is_bool)
				*flags[i].value = "true";
			else if (a + 1 < argc)
				*flags[i].value = argv[++a];
			else {
				fprintf(stderr, "aios-operator: --%s needs a value\n",
				        flags[i].name);
				return 2;
			}
		}
		if (!found) {
			fprintf(stderr, "aios-operator: unknown flag \"%s\"\n%s", arg, usage);
			return 2;
		}
	}

	int lvl = level ? aios_log_parse_level(level) : AIOS_LOG_INFO;
	if (lvl < 0) {
		fprintf(stderr,
		        "aios-operator: --log-level \"%s\": expected debug, info, warn or error\n",
		        level);
		return 2;
	}
	aios_log_init("aios-operator", (enum aios_log_level)lvl);
	int psec =
	    pod_security ? aios_render_security_parse(pod_security) : AIOS_POD_SECURITY_RESTRICTED;
	if (psec < 0) {
		fprintf(stderr,
		        "aios-operator: --pod-security \"%s\": expected restricted or privileged\n",
		        pod_security);
		return 2;
	}
	aios_render_security_set_policy((enum aios_pod_security)psec);
	aios_ms_demand_set_bind_address(demand);
	struct aios_manager_config cfg;
	aios_manager_config_defaults(&cfg);
	cfg.kubeconfig = kubeconfig && *kubeconfig ? kubeconfig : NULL;
	cfg.context = context && *context ? context : NULL;
	cfg.namespace_ = ns;
	if (leader && parse_bool(leader, &cfg.leader_elect) != 0) {
		fprintf(stderr, "aios-operator: --leader-elect \"%s\": expected true or false\n",
		        leader);
		return 2;
	}
	cfg.leader_election_namespace = le_ns;
	if (le_id && *le_id)
		cfg.leader_election_id = le_id;
	if (le_identity && *le_identity)
		cfg.identity = le_identity;
	if (metrics)
		cfg.metrics_bind_address = metrics;
	if (health)
		cfg.health_probe_bind_address = health;
	if (workers) {
		char *end;
		long w = strtol(workers, &end, 10);
		if (*end || end == workers || w < 1 || w > 64) {
			fprintf(stderr, "aios-operator: --workers \"%s\": expected 1..64\n",
			        workers);
			return 2;
		}
		cfg.workers = (int)w;
	}

	/* glibc gives each thread its own arena by default (up to 8 per core), each keeping
	 * freed memory: informer, worker and server threads share two instead. */
	mallopt(M_ARENA_MAX, 2);
	aios_shutdown_install();
	struct aios_manager *m;
	enum aios_err e = aios_manager_new(&cfg, &m);
	if (e) {
		aios_error("start", "cannot configure the API client: %s", aios_errmsg());
		return 1;
	}
	/* ---- the controllers; the ModelService engineer adds one line here ---- */
	aios_manager_add(m, &aios_trainingjob_controller);
	aios_manager_add(m, &aios_modelservice_controller);

	e = aios_manager_run(m);
	if (e)
		aios_error("exit", "%s: %s", aios_strerror(e), aios_errmsg());
	else
		aios_info("exit", "stopped cleanly");
	aios_manager_free(m);
	return e ? 1 : 0;
}
