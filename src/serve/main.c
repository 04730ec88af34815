/*
 * main.c - aios-serve: load one model artifact and serve it over HTTP until SIGTERM.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/shutdown.h"
#include "model/model.h"
#include "serve/config.h"
#include "serve/server.h"
#include "serve/source.h"

int main(int argc, char **argv)
{
	aios_log_init("aios-serve", AIOS_LOG_INFO);
	struct aios_serve_config cfg;
	int help;
	if (aios_serve_config_parse(&cfg, argc, argv, &help) != AIOS_OK) {
		aios_error("bad_flags", "%s", aios_errmsg());
		fprintf(stderr, "aios-serve: %s (see --help)\n", aios_errmsg());
		return 1;
	}
	if (help) {
		aios_serve_usage(stdout);
		return 0;
	}
	int lvl = aios_log_parse_level(cfg.log_level);
	if (lvl < 0) {
		fprintf(stderr, "aios-serve: --log-level \"%s\" is not debug|info|warn|error\n",
		        cfg.log_level);
		return 1;
	}
	aios_log_set_level((enum aios_log_level)lvl);
	aios_shutdown_install();

	struct aios_model *m;
	if (aios_source_load_model(cfg.model, cfg.sha256, cfg.format, &m) != AIOS_OK) {
		aios_error("model_load_failed", "%s", aios_errmsg());
		return 2;
	}
	struct aios_serve *s;
	enum aios_err e = aios_serve_new(&cfg, m, &s);
	aios_model_free(m);
	if (e) {
		aios_error("model_load_failed", "%s", aios_errmsg());
		return 2;
	}
	if (aios_serve_start(s) != AIOS_OK) {
		aios_error("listen_failed", "%s", aios_errmsg());
		aios_serve_free(s);
		return 3;
	}
	while (!aios_shutdown_wait_ms(1000))
		;
	aios_info("shutdown", "stopping: not ready, finishing in-flight requests (grace %d s)",
	          cfg.grace_seconds);
	aios_serve_stop(s, cfg.grace_seconds * 1000);
	aios_serve_free(s);
	aios_info("exit", "stopped cleanly");
	return 0;
}
