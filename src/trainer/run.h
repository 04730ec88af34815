/*
 * run.h - the aios-trainer program without its main(): flags, the environment
 * contract, the epoch loop with its output lines, checkpoints, /metrics, exit codes.
 *
 * Exit codes (stable: the operator reports them):
 *   0 trained, artifact written         4 diverged (loss or a parameter not finite)
 *   1 internal error                    5 I/O: artifact, checkpoint or metrics port
 *   2 bad flags or spec                 6 interrupted (SIGTERM/SIGINT; resumable)
 *   3 bad data: missing, unreadable, malformed, empty, digest mismatch
 *   7 distributed: peers unreachable or lost
 *
 * Output: one JSON line per epoch on stdout,
 *   {"epoch":3,"epochs":10,"loss":0.12,"val_loss":0.15,"samples_per_sec":1.2e6,"elapsed_s":4.2}
 * then one final line
 *   {"artifact":{"uri":"pvc://models/m.aios","sha256":"...","bytes":1234},"epochs":10,"loss":..}
 * whose artifact gets "onnx":{"uri":"pvc://models/m.onnx","sha256":"...","bytes":..} when
 * spec.output.formats lists onnx (trainer_saved_json).
 * A classification model (loss cross_entropy or hinge) adds "val_accuracy" to each epoch
 * line and "accuracy" (training set) and "val_accuracy" (validation split, null without
 * one) to the final line: shares of rows classified right with the final parameters.
 * which is also written to the termination message file (/dev/termination-log, when it
 * exists, or $AIOS_TERMINATION_LOG), where the operator picks it up. Logs go to stderr.
 */
#ifndef AIOS_TRAINER_RUN_H
#define AIOS_TRAINER_RUN_H

#include <json-c/json.h>
#include <stdio.h>

enum trainer_exit {
	TRAINER_EXIT_OK = 0,
	TRAINER_EXIT_INTERNAL = 1,
	TRAINER_EXIT_USAGE = 2,
	TRAINER_EXIT_DATA = 3,
	TRAINER_EXIT_DIVERGED = 4,
	TRAINER_EXIT_IO = 5,
	TRAINER_EXIT_INTERRUPTED = 6,
	TRAINER_EXIT_DISTRIBUTED = 7,
};

struct trainer_opts {
	const char *spec_path; /* --spec */
	const char *output;    /* --output URI */
	const char *ckpt_dir;  /* --checkpoint-dir */
	int metrics_port;      /* --metrics-port; -1: 9090 in a pod (AIOS_JOB set), else off */
	int threads;           /* --threads; 0: every online CPU */
	int exit_after_epoch;  /* --exit-after-epoch N (tests): stop as if killed; 0: never */
	int help, version;
	struct json_object *patch; /* spec fields given as flags (owned) */
};

/* Parses argv; on a bad flag prints nothing and returns 2 with aios_errmsg() set. */
int trainer_opts_parse(int argc, char **argv, struct trainer_opts *o);
void trainer_opts_cleanup(struct trainer_opts *o);
void trainer_usage(FILE *f);

/* Runs the whole program; epoch and final lines go to out. Returns the exit code. */
int trainer_run_main(const struct trainer_opts *o, FILE *out);

#endif
