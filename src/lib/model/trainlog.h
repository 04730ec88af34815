/*
 * trainlog.h - the trainer's lines on stdout, written and read in one place.
 *
 * aios-trainer prints one JSON object per epoch:
 *   {"epoch":3,"epochs":500,"loss":0.125,"val_loss":null,["val_accuracy":0.96,]
 *    "samples_per_sec":868809.7,"elapsed_s":0.001,"cpu_s":0.000}
 * val_loss and val_accuracy are null (or, for accuracy, absent) when there is no
 * validation split or the model does not classify. Rank 0 ends with its final line,
 * printed and also written as the container's termination message:
 *   {"artifact":{"uri":"pvc://m/x.aios","sha256":"..","bytes":1234,
 *                ["onnx":{"uri":"pvc://m/x.onnx","sha256":"..","bytes":99}]},
 *    "epochs":500,"loss":0.01,"val_loss":null,["accuracy":0.97,"val_accuracy":0.96]}
 * The operator reads it from the termination message: status.artifact, the final
 * progress, and a search trial's objective. Readers (that operator; kubectl aios
 * dashboard, which draws loss curves from pod logs) take lines of any origin: anything
 * that is not such a line is refused, never trusted.
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

/* ---- the final line ---- */

#define AIOS_TRAINLOG_URI_MAX 4096 /* bytes of a file's uri in a final line, NUL included */

/* A file the trainer wrote: the artifact, or the ONNX file beside it. */
struct aios_trainlog_file {
	char uri[AIOS_TRAINLOG_URI_MAX]; /* "": none */
	char sha256[65];                 /* hex; "": not given */
	int64_t bytes;                   /* -1: not given */
};

struct aios_trainlog_final {
	struct aios_trainlog_file artifact;
	struct aios_trainlog_file onnx; /* uri "": no ONNX file */
	int64_t epochs;                 /* epochs trained; 0: not given */
	double loss;                    /* final training loss; NaN: none */
	double val_loss;                /* NaN: none */
	int classifies;                 /* the writer adds accuracy and val_accuracy */
	double accuracy, val_accuracy;  /* NaN: none */
};

/* f as one line of JSON, without a newline. Caller frees. */
char *aios_trainlog_format_final(const struct aios_trainlog_final *f);

/*
 * Reads one final line (len bytes). AIOS_ERR_INVALID when it is not one: not a JSON
 * object, no artifact uri, longer than AIOS_TRAINLOG_FINAL_MAX, or a field of the wrong
 * type. A line that is itself a file ({"uri","sha256","bytes"}) is read as its artifact.
 */
enum aios_err aios_trainlog_parse_final(const char *line, size_t len,
                                        struct aios_trainlog_final *f) AIOS_MUST_CHECK;

/* The last line of text (a termination message, a log) that is a final line: 1 and *f,
 * or 0 when there is none. */
int aios_trainlog_find_final(const char *text, struct aios_trainlog_final *f);

#define AIOS_TRAINLOG_FINAL_MAX 12288 /* bytes of a final line: two uris and the figures */

#endif
