/*
 * spec.h - the trainer's configuration: a TrainingJob `spec` (JSON, DESIGN.md) with
 * every default filled in and every field checked.
 *
 * Sources, later ones winning: the spec file (--spec) or AIOS_SPEC / AIOS_SPEC_FILE,
 * then command-line flags (which patch the same JSON tree, so one validator serves
 * both). A bad value is AIOS_ERR_INVALID with a message naming the spec path
 * ("spec.optimizer.learningRate: must be > 0"). Defaults are listed in docs/trainer.md
 * and in trainer_config_parse below; fields the trainer does not use (distributed,
 * template, runPolicy, search) are ignored.
 */
#ifndef AIOS_TRAINER_SPEC_H
#define AIOS_TRAINER_SPEC_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "data.h"
#include "model/model.h"
#include "nn.h"
#include "optim.h"

/* Bits of trainer_config.formats: the files spec.output.formats asks for. */
#define TRAINER_OUT_AIOS 1u /* the model artifact (model.h): always written */
#define TRAINER_OUT_ONNX 2u /* the same model as ONNX (model/onnx_export.h) */

struct trainer_config {
	/* model */
	enum aios_model_type type;
	int n_hidden;
	int hidden[AIOS_MODEL_MAX_LAYERS];
	enum aios_act activation;
	enum aios_act output_act; /* derived from loss and outputs */
	int outputs;
	enum trainer_loss loss;
	/* optimizer */
	struct trainer_optim optim;
	int64_t batch_size; /* rows per step; gd: the whole training set */
	int64_t epochs;
	uint64_t seed;
	/* data: either inline (borrowed from spec) or uri */
	struct json_object *inline_data;
	const char *data_uri;
	struct trainer_data_opts data;
	struct trainer_label_rule labels;
	double validation_split;
	int normalize;
	/* checkpoints and output */
	int64_t checkpoint_every; /* epochs; 0 = never */
	/* s between checkpoints: 0 when everyEpochs is given, else 30 (the default of one
	 * checkpoint per epoch would spend a tiny job's time in fsync) */
	double checkpoint_min_interval_s;
	const char *output_uri;
	/* output.formats: TRAINER_OUT_AIOS always, TRAINER_OUT_ONNX when onnx is listed
	 * (model.onnx beside the artifact, trainer_onnx_uri) */
	unsigned formats;
	/* checkpoint.resumeFrom: another run's checkpoint directory (URI) to continue from when
	 * this run has no checkpoint of its own; a checkpoint there must match this run's
	 * fingerprint (model, loss, optimizer but epochs, data), else training starts afresh.
	 * The operator sets it on a successive-halving trial promoted from a shorter one. */
	const char *resume_from;
	/* the JSON tree every borrowed string points into (owned) */
	struct json_object *spec;
};

/* Loads the spec JSON from a file (bounded by AIOS_CAP_SPEC). Caller puts *out. */
enum aios_err trainer_spec_read_file(const char *path, struct json_object **out) AIOS_MUST_CHECK;
/* Parses a spec held in a string (AIOS_SPEC). */
enum aios_err trainer_spec_parse(const char *s, const char *what,
                                 struct json_object **out) AIOS_MUST_CHECK;

/*
 * Fills c from spec (taking ownership of spec). Accepts a bare spec, or a whole
 * TrainingJob object (then uses its .spec).
 */
enum aios_err trainer_config_parse(struct json_object *spec,
                                   struct trainer_config *c) AIOS_MUST_CHECK;
void trainer_config_cleanup(struct trainer_config *c);

/*
 * Where the ONNX file of an artifact at uri goes: beside it, the same URI with ".aios"
 * replaced by ".onnx" (pvc://models/m.aios -> pvc://models/m.onnx), or ".onnx"
 * appended when uri does not end in ".aios". AIOS_ERR_INVALID when it does not fit n.
 */
enum aios_err trainer_onnx_uri(const char *uri, char *out, size_t n) AIOS_MUST_CHECK;

/* Layer sizes (inputs, hidden..., outputs) for n_inputs; returns the count of layers. */
int trainer_config_sizes(const struct trainer_config *c, int n_inputs, int *sizes);

#endif
