/*
 * main.c - aios-trainer: parse flags, run, exit with the code run.h documents.
 */
#include <stdio.h>

#include "common/err.h"
#include "common/log.h"
#include "common/shutdown.h"
#include "run.h"

int main(int argc, char **argv)
{
	aios_log_init("aios-trainer", AIOS_LOG_INFO);
	struct trainer_opts o;
	int code = trainer_opts_parse(argc, argv, &o);
	if (code) {
		fprintf(stderr, "aios-trainer: %s\n", aios_errmsg());
		trainer_opts_cleanup(&o);
		return code;
	}
	if (o.help || o.version) {
		if (o.help)
			trainer_usage(stdout);
		else
			printf("aios-trainer %s\n", AIOS_VERSION);
		trainer_opts_cleanup(&o);
		return 0;
	}
	aios_shutdown_install();
	code = trainer_run_main(&o, stdout);
	trainer_opts_cleanup(&o);
	return code;
}
