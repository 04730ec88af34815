/*
 * trainlog.h - the trainer's per-epoch line on stdout, written and read in one place.
 *
 * aios-trainer prints one JSON object per epoch (and its final line with the artifact,
 * which this module does not cover):
 *   {"epoch":3,"epochs":500,"loss":0.125,"val_loss":null,["val_accuracy":0.96,]
 *    "samples_per_sec":868809.7,"elapsed_s":0.001,"cpu_s":0.000}
 * val_loss and val_accuracy are null (or, for accuracy, absent) when there is no
 * validation split or the model does not classify. Readers (kubectl aios dashboard, which
 * draws loss curves from pod logs) take lines of any origin: anything that is not such a
 * line is refused, never trusted.
 */
#ifndef AIOS_MODEL_TRAINLOG_H
#define AIOS_MODEL_TRAINLOG_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

#define AIOS_TRAINLOG_LINE_MAX 1024 /* bytes: an epoch line is ~150; longer is not one */

struct aios_trainlog_epoch {
	int64_t epoch, epochs;  /* 1-based epochs completed, and the total */
	double loss;            /* mean training loss of the epoch */
	double val_loss;        /* NaN: none */
	double val_accuracy;    /* NaN: none */
	double samples_per_sec; /* training rows per wall second of the epoch */
	double elapsed_s;       /* since the trainer started */
	double cpu_s;           /* CPU seconds of the epoch */
};

/* x as the trainer's lines print a number (%.9g), or "null" when it is not finite; buf
 * holds the text. */
const char *aios_trainlog_num(double x, char buf[32]);

/* Writes e as one line (val_accuracy only when classifies) and flushes f. */
void aios_trainlog_write_epoch(FILE *f, const struct aios_trainlog_epoch *e, int classifies);

/*
 * Reads one line (len bytes, no newline needed) into *e. AIOS_ERR_INVALID when it is not
 * an epoch line: not a JSON object, no integer epoch/epochs, no finite loss, epoch < 1 or
 * over epochs, or longer than AIOS_TRAINLOG_LINE_MAX. The message names what is missing.
 */
enum aios_err aios_trainlog_parse_epoch(const char *line, size_t len,
                                        struct aios_trainlog_epoch *e) AIOS_MUST_CHECK;

#endif
