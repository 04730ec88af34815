/*
 * train.h - a training session: data in, epochs, checkpoints, the artifact out.
 *
 * The loop reads top to bottom like llm.c's: each epoch draws a permutation of the
 * training rows from the session RNG (gd: the whole set, in order, as one batch),
 * and for each minibatch the worker team (pool.h) splits the rows into one
 * contiguous slice per thread; every thread runs forward and backward over its slice
 * into its own gradient buffer; the buffers are added in thread order (so a seed and
 * a thread count fix every bit of the result), the communicator all-reduces the flat
 * gradient, and the optimizer takes one step over the flat buffers.
 *
 * Distributed training plugs in through struct trainer_comm: one hook on the flat
 * gradient buffer per step, one on the parameters at start. The default is a single
 * process (no-op hooks). With world > 1, rank r trains on slice r of every minibatch,
 * and the sum over ranks is the gradient of the whole minibatch.
 */
#ifndef AIOS_TRAINER_TRAIN_H
#define AIOS_TRAINER_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "model/trainlog.h"
#include "spec.h"

struct trainer_comm {
	int rank, world;
	/* x (n floats) becomes the element-wise sum over all ranks, identical on every rank. */
	enum aios_err (*allreduce_sum)(struct trainer_comm *c, float *x, size_t n);
	/* x (n floats) of rank 0 is copied to every rank. */
	enum aios_err (*broadcast)(struct trainer_comm *c, float *x, size_t n);
	/*
	 * Optional (parameter servers, dist_ps.h): replaces the all-reduce and the local
	 * optimizer step; sends this rank's gradient and fills params with the new
	 * parameters. NULL: all-reduce, then the local step.
	 */
	enum aios_err (*update)(struct trainer_comm *c, float *params, const float *grads,
	                        size_t n);
	void *impl;
};

/* The single-process communicator: rank 0 of 1, hooks that do nothing. */
void trainer_comm_local(struct trainer_comm *c);

/* Figures of one finished epoch (also what /metrics shows). */
struct trainer_progress {
	int64_t epoch, epochs;  /* epoch is 1-based: epochs completed */
	double loss;            /* mean training loss over the epoch's batches */
	double val_loss;        /* NaN without a validation split */
	double val_accuracy;    /* share of validation rows classified right; NaN without a
	                           split or for regression (mse) */
	double samples_per_sec; /* training rows / wall seconds of this epoch */
	double elapsed_s;       /* since the session started */
	double cpu_s;           /* process CPU seconds (all threads) spent in this epoch */
	int64_t samples_total;  /* rows trained on by this process, resumed runs included */
	int64_t step;           /* optimizer steps */
};

struct trainer;

/*
 * Loads and checks the data, builds the model, initialises the parameters from the
 * seed. threads in 1..TRAINER_MAX_THREADS; comm may be NULL (single process).
 * Errors: AIOS_ERR_INVALID (bad data, with file/line/column), AIOS_ERR_DIGEST, I/O codes.
 */
enum aios_err trainer_new(const struct trainer_config *c, int threads, struct trainer_comm *comm,
                          struct trainer **out) AIOS_MUST_CHECK;
void trainer_free(struct trainer *t);

/* Resumes from the newest matching checkpoint in dir, if any (*resumed set to its epoch or 0). */
enum aios_err trainer_resume(struct trainer *t, const char *dir, int64_t *resumed) AIOS_MUST_CHECK;
/* Runs one epoch. AIOS_ERR_DIVERGED names the epoch and step when the loss stops being finite. */
enum aios_err trainer_epoch(struct trainer *t, struct trainer_progress *p) AIOS_MUST_CHECK;
/* Epochs completed so far. */
int64_t trainer_epochs_done(const struct trainer *t);
/* Writes a checkpoint of the current state into dir. */
enum aios_err trainer_checkpoint(struct trainer *t, const char *dir) AIOS_MUST_CHECK;
/* What trainer_save wrote: the artifact, and the ONNX file when the spec asks for one. */
struct trainer_saved {
	char sha256[AIOS_SHA256_HEX]; /* of the artifact file, hex */
	size_t bytes;
	int onnx; /* output.formats lists onnx: the fields below are set */
	char onnx_uri[4096];
	char onnx_sha256[AIOS_SHA256_HEX];
	size_t onnx_bytes;
};

/*
 * Writes the artifact to uri (file://, pvc:// or a path) atomically, then, when
 * output.formats lists onnx, the same model as ONNX to trainer_onnx_uri(uri), also
 * atomically; fills out. The model carries the normalization statistics and metadata.
 */
enum aios_err trainer_save(struct trainer *t, const char *uri,
                           struct trainer_saved *out) AIOS_MUST_CHECK;
/*
 * The files of the final line (model/trainlog.h) for what trainer_save wrote to uri:
 * the artifact, and the ONNX file when it wrote one (the operator copies both into
 * status.artifact). The figures of f are left as they are.
 */
void trainer_saved_final(const struct trainer_saved *s, const char *uri,
                         struct aios_trainlog_final *f);
/* The model being trained (borrowed; its params change with every step). */
struct aios_model *trainer_model(struct trainer *t);
/* Training rows and the fingerprint of config + data (what checkpoints are matched on). */
int64_t trainer_train_rows(const struct trainer *t);
const char *trainer_fingerprint(const struct trainer *t);
/* Mean loss over the training set with the current parameters. */
double trainer_eval_train(struct trainer *t);
/*
 * Accuracy (share of rows classified right, trainer_loss_correct) over the training and
 * the validation set with the current parameters. NaN for regression (mse), and val NaN
 * without a validation split.
 */
void trainer_accuracy(struct trainer *t, double *train, double *val);

#endif
