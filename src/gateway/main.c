/*
 * main.c - aios-gateway: parse flags, build the data plane and its watches, serve until
 * SIGTERM. Exit codes in config.c's usage: 0 clean stop, 1 runtime failure, 2 bad
 * flags, 3 cannot listen.
 */
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/shutdown.h"
#include "gateway/config.h"
#include "gateway/gateway.h"
#include "gateway/stats.h"
#include "gateway/watch.h"
#include "kube/client.h"
#include "kube/config.h"

int main(int argc, char **argv)
{
	aios_log_init("aios-gateway", AIOS_LOG_INFO);
	struct aios_gw_settings s;
	int help, version;
	if (aios_gw_settings_parse(&s, argc, argv, &help, &version) != AIOS_OK) {
		fprintf(stderr, "aios-gateway: %s (see --help)\n", aios_errmsg());
		return 2;
	}
	if (help) {
		aios_gw_usage(stdout);
		return 0;
	}
	if (version) {
		printf("aios-gateway %s\n", AIOS_VERSION);
		return 0;
	}
	int lvl = aios_log_parse_level(s.log_level);
	if (lvl < 0) {
		fprintf(stderr, "aios-gateway: --log-level \"%s\" is not debug|info|warn|error\n",
		        s.log_level);
		return 2;
	}
	aios_log_set_level((enum aios_log_level)lvl);
	char host[256] = "aios-gateway";
	if (!s.id || !*s.id) {
		if (gethostname(host, sizeof(host) - 1) != 0)
			snprintf(host, sizeof(host), "aios-gateway");
		s.id = host;
	}
	mallopt(M_ARENA_MAX, 2); /* loops, proxies, informers: two arenas, as the operator */
	aios_shutdown_install();

	struct aios_kube_config *kc;
	struct aios_kube_client *kube;
	if (aios_kube_config_load(s.kubeconfig, s.context, &kc) != AIOS_OK) {
		aios_error("kubeconfig", "%s", aios_errmsg());
		return 1;
	}
	enum aios_err e = aios_kube_client_new(kc, &kube);
	aios_kube_config_free(kc);
	if (e) {
		aios_error("kube_client", "%s", aios_errmsg());
		return 1;
	}
	aios_kube_client_set_user_agent(kube, "aios-gateway/" AIOS_VERSION);

	struct aios_gw *g;
	if (aios_gw_new(&s.gw, &g) != AIOS_OK) {
		aios_error("start", "cannot build the gateway: %s", aios_errmsg());
		aios_kube_client_free(kube);
		return 1;
	}
	struct aios_gw_stats_client *stats = NULL;
	if (s.operator_url && *s.operator_url &&
	    aios_gw_stats_start(g, s.operator_url, s.id, &stats) != AIOS_OK) {
		aios_error("demand_stream", "%s", aios_errmsg());
		aios_gw_free(g);
		aios_kube_client_free(kube);
		return 2;
	}
	if (!stats)
		aios_warn("demand_stream", "no --operator-url: the operator gets no demand from "
		                           "this gateway and never scales a service to zero");
	if (aios_gw_start(g) != AIOS_OK) {
		aios_gw_stats_stop(stats);
		aios_error("listen_failed", "%s", aios_errmsg());
		aios_gw_free(g);
		aios_kube_client_free(kube);
		return 3;
	}
	struct aios_gw_watch *w = NULL;
	int rc = 0;
	e = aios_gw_watch_start(kube, s.watch_ns && *s.watch_ns ? s.watch_ns : NULL, g, &w);
	if (!e)
		e = aios_gw_watch_wait_synced(w, (int64_t)s.sync_timeout_s * 1000);
	if (e) {
		aios_error("watch_failed", "ModelServices and Endpoints: %s", aios_errmsg());
		rc = 1;
	} else {
		aios_info("synced", "routing every ModelService%s%s (default namespace %s)",
		          s.watch_ns && *s.watch_ns ? " in namespace " : "",
		          s.watch_ns && *s.watch_ns ? s.watch_ns : "", s.gw.default_ns);
		while (!aios_shutdown_wait_ms(1000))
			;
		aios_info("shutdown", "stopping: finishing requests in flight (grace %d s)",
		          s.grace_seconds);
	}
	aios_gw_stop(g, s.grace_seconds * 1000);
	aios_gw_stats_stop(stats);
	aios_gw_watch_free(w);
	aios_gw_free(g);
	aios_kube_client_free(kube);
	if (!rc)
		aios_info("exit", "stopped cleanly");
	return rc;
}
