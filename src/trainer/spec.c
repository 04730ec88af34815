/*
 * spec.c - TrainingJob spec -> struct trainer_config, with defaults and checks.
 */
#include "spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "model/onnx_export.h"

enum aios_err trainer_spec_read_file(const char *path, struct json_object **out)
{
	struct aios_buf b;
	aios_buf_init(&b, AIOS_CAP_SPEC);
	enum aios_err e = aios_buf_read_file(&b, path);
	if (!e)
		e = aios_json_parse(b.data ? b.data : "", b.len, path, out);
	aios_buf_cleanup(&b);
	return e;
}

enum aios_err trainer_spec_parse(const char *s, const char *what, struct json_object **out)
{
	size_t n = strlen(s);
	if (n > AIOS_CAP_SPEC)
		return aios_fail(AIOS_ERR_TOO_BIG, "%s: %zu bytes, limit %u", what, n,
		                 AIOS_CAP_SPEC);
	return aios_json_parse(s, n, what, out);
}

/* Rewrites a getter failure ("a.b: why") so it names the spec path ("spec.a.b: why"). */
static enum aios_err bad(enum aios_err e)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", aios_errmsg());
	return aios_fail(e == AIOS_ERR_NOT_FOUND ? AIOS_ERR_INVALID : e, "spec.%s", msg);
}

static enum aios_err enum_field(struct json_object *s, const char *path, const char *dflt,
                                int (*parse)(const char *), const char *allowed, int *out)
{
	const char *v;
	enum aios_err e = aios_json_opt_string(s, path, dflt, &v);
	if (e)
		return bad(e);
	int x = parse(v);
	if (x < 0)
		return aios_fail(AIOS_ERR_INVALID, "spec.%s: \"%s\" is not one of %s", path, v,
		                 allowed);
	*out = x;
	return AIOS_OK;
}

static enum aios_err int_field(struct json_object *s, const char *path, int64_t dflt, int64_t lo,
                               int64_t hi, int64_t *out)
{
	enum aios_err e = aios_json_opt_int(s, path, dflt, out);
	if (e)
		return bad(e);
	if (*out < lo || *out > hi)
		return aios_fail(AIOS_ERR_INVALID, "spec.%s: %lld is outside %lld..%lld", path,
		                 (long long)*out, (long long)lo, (long long)hi);
	return AIOS_OK;
}

/* lo_open: the value must be strictly above lo. */
static enum aios_err num_field(struct json_object *s, const char *path, double dflt, double lo,
                               int lo_open, double hi, float *out)
{
	double d;
	enum aios_err e = aios_json_opt_double(s, path, dflt, &d);
	if (e)
		return bad(e);
	if (!isfinite(d) || d < lo || (lo_open && d == lo) || d > hi)
		return aios_fail(AIOS_ERR_INVALID, "spec.%s: %g must be %s %g and <= %g", path, d,
		                 lo_open ? ">" : ">=", lo, hi);
	*out = (float)d;
	return AIOS_OK;
}

static int parse_act_hidden(const char *s)
{
	int a = aios_act_parse(s);
	return a == AIOS_ACT_SOFTMAX ? -1 : a;
}

static int parse_format(const char *s)
{
	if (!strcmp(s, "auto"))
		return TRAINER_FMT_AUTO;
	if (!strcmp(s, "csv"))
		return TRAINER_FMT_CSV;
	if (!strcmp(s, "f32"))
		return TRAINER_FMT_F32;
	return -1;
}

static enum aios_err parse_model(struct json_object *s, struct trainer_config *c)
{
	int v = 0;
	enum aios_err e = enum_field(s, "model.type", AIOS_MODEL_DEFAULT_TYPE,
	                             aios_model_type_parse, "linear, logistic, softmax, mlp", &v);
	if (e)
		return e;
	c->type = (enum aios_model_type)v;
	if ((e = enum_field(s, "model.activation", "relu", parse_act_hidden,
	                    "identity, relu, tanh, sigmoid", &v)))
		return e;
	c->activation = c->type == AIOS_MODEL_MLP ? (enum aios_act)v : AIOS_ACT_IDENTITY;
	int64_t outputs;
	if ((e = int_field(s, "model.outputs", c->type == AIOS_MODEL_SOFTMAX ? 2 : 1, 1,
	                   AIOS_MODEL_MAX_WIDTH, &outputs)))
		return e;
	c->outputs = (int)outputs;
	c->n_hidden = 0;
	struct json_object *h = aios_json_lookup(s, "model.hidden");
	if (c->type == AIOS_MODEL_MLP) {
		if (!h || json_object_is_type(h, json_type_null)) {
			c->n_hidden = 2; /* DESIGN.md's example: [64, 64] */
			c->hidden[0] = c->hidden[1] = 64;
		} else if (!json_object_is_type(h, json_type_array)) {
			return aios_fail(AIOS_ERR_INVALID,
			                 "spec.model.hidden: expected an array of widths");
		} else {
			size_t n = json_object_array_length(h);
			if (n > AIOS_MODEL_MAX_LAYERS - 1)
				return aios_fail(AIOS_ERR_INVALID,
				                 "spec.model.hidden: %zu layers, limit %d", n,
				                 AIOS_MODEL_MAX_LAYERS - 1);
			for (size_t i = 0; i < n; i++) {
				struct json_object *w = json_object_array_get_idx(h, i);
				int64_t x = json_object_is_type(w, json_type_int)
				                ? json_object_get_int64(w)
				                : 0;
				if (x < 1 || x > AIOS_MODEL_MAX_WIDTH)
					return aios_fail(
					    AIOS_ERR_INVALID,
					    "spec.model.hidden[%zu]: expected a width in 1..%d", i,
					    AIOS_MODEL_MAX_WIDTH);
				c->hidden[c->n_hidden++] = (int)x;
			}
		}
	} else if (h && json_object_is_type(h, json_type_array) &&
	           json_object_array_length(h) > 0) {
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.model.hidden: a %s model has no hidden layers "
		                 "(use type mlp)",
		                 aios_model_type_name(c->type));
	}
	if (c->type == AIOS_MODEL_LOGISTIC && c->outputs != 1)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.model.outputs: logistic regression has 1 output "
		                 "(use type softmax for %d classes)",
		                 c->outputs);
	if (c->type == AIOS_MODEL_SOFTMAX && c->outputs < 2)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.model.outputs: softmax needs at least 2 classes");

	const char *dl = aios_model_type_classifies(c->type) ? "cross_entropy" : "mse";
	if ((e = enum_field(s, "loss", dl, trainer_loss_parse, "mse, cross_entropy, hinge", &v)))
		return e;
	c->loss = (enum trainer_loss)v;
	if (c->loss == TRAINER_LOSS_HINGE && c->outputs != 1)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.loss: hinge needs model.outputs 1 (binary)");
	if (c->type == AIOS_MODEL_SOFTMAX && c->loss != TRAINER_LOSS_CROSS_ENTROPY)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.loss: a softmax model trains with cross_entropy");
	switch (c->loss) {
	case TRAINER_LOSS_MSE:
		c->output_act = AIOS_ACT_IDENTITY;
		c->labels = (struct trainer_label_rule){TRAINER_LABEL_REAL, 0, c->outputs};
		break;
	case TRAINER_LOSS_HINGE:
		c->output_act = AIOS_ACT_IDENTITY;
		c->labels = (struct trainer_label_rule){TRAINER_LABEL_SIGN, 0, 1};
		break;
	case TRAINER_LOSS_CROSS_ENTROPY:
		c->output_act = c->outputs == 1 ? AIOS_ACT_SIGMOID : AIOS_ACT_SOFTMAX;
		c->labels = c->outputs == 1
		                ? (struct trainer_label_rule){TRAINER_LABEL_PROB, 0, 1}
		                : (struct trainer_label_rule){TRAINER_LABEL_CLASS, c->outputs, 1};
		break;
	}
	return AIOS_OK;
}

static enum aios_err parse_optimizer(struct json_object *s, struct trainer_config *c)
{
	int v = 0;
	enum aios_err e = enum_field(s, "optimizer.type", "sgd", trainer_optim_parse,
	                             "gd, sgd, momentum, adam", &v);
	if (e)
		return e;
	struct trainer_optim *o = &c->optim;
	o->type = (enum trainer_optim_type)v;
	if ((e = num_field(s, "optimizer.learningRate", o->type == TRAINER_OPT_ADAM ? 0.001 : 0.01,
	                   0, 1, 1e6, &o->lr)) ||
	    (e = num_field(s, "optimizer.momentum", 0.9, 0, 0, 1, &o->momentum)) ||
	    (e = num_field(s, "optimizer.beta1", 0.9, 0, 0, 0.999999, &o->beta1)) ||
	    (e = num_field(s, "optimizer.beta2", 0.999, 0, 0, 0.999999, &o->beta2)) ||
	    (e = num_field(s, "optimizer.epsilon", 1e-8, 0, 1, 1, &o->epsilon)) ||
	    (e = num_field(s, "optimizer.weightDecay", 0, 0, 0, 1e3, &o->weight_decay)) ||
	    (e = int_field(s, "optimizer.batchSize", 32, 1, 1 << 30, &c->batch_size)) ||
	    (e = int_field(s, "optimizer.epochs", 10, 1, 100000000, &c->epochs)))
		return e;
	int64_t seed;
	if ((e = int_field(s, "optimizer.seed", 42, 0, INT64_MAX, &seed)))
		return e;
	c->seed = (uint64_t)seed;
	return AIOS_OK;
}

static enum aios_err parse_data(struct json_object *s, struct trainer_config *c)
{
	struct json_object *inl = aios_json_lookup(s, "data.inline");
	enum aios_err e = aios_json_opt_string(s, "data.uri", NULL, &c->data_uri);
	if (e)
		return bad(e);
	if (inl && json_object_is_type(inl, json_type_null))
		inl = NULL;
	if (inl && !json_object_is_type(inl, json_type_object))
		return aios_fail(AIOS_ERR_INVALID, "spec.data.inline: expected {features, labels}");
	if (inl && c->data_uri)
		return aios_fail(AIOS_ERR_INVALID, "spec.data: give inline or uri, not both");
	if (!inl && !c->data_uri)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.data: no data (set data.inline or data.uri)");
	c->inline_data = inl;
	int v = 0;
	if ((e = enum_field(s, "data.format", "auto", parse_format, "csv, f32", &v)))
		return e;
	c->data.format = (enum trainer_format)v;
	struct json_object *h = aios_json_lookup(s, "data.header");
	if (!h || json_object_is_type(h, json_type_null))
		c->data.header = -1;
	else if (json_object_is_type(h, json_type_boolean))
		c->data.header = json_object_get_boolean(h);
	else
		return aios_fail(AIOS_ERR_INVALID, "spec.data.header: expected true or false");
	struct json_object *lc = aios_json_lookup(s, "data.labelColumn");
	c->data.label_index = -1;
	c->data.label_name = NULL;
	if (lc && json_object_is_type(lc, json_type_int)) {
		int64_t i = json_object_get_int64(lc);
		if (i < -TRAINER_DATA_MAX_COLS || i >= TRAINER_DATA_MAX_COLS)
			return aios_fail(AIOS_ERR_INVALID,
			                 "spec.data.labelColumn: %lld is out of range",
			                 (long long)i);
		c->data.label_index = (int)i;
	} else if (lc && json_object_is_type(lc, json_type_string)) {
		c->data.label_name = json_object_get_string(lc);
	} else if (lc && !json_object_is_type(lc, json_type_null)) {
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.data.labelColumn: expected a column name or index");
	}
	if ((e = aios_json_opt_string(s, "data.sha256", NULL, &c->data.sha256)))
		return bad(e);
	if (c->data.sha256 && !aios_sha256_hex_valid(c->data.sha256))
		return aios_fail(AIOS_ERR_INVALID, "spec.data.sha256: expected 64 hex digits");
	if ((e = aios_json_opt_double(s, "data.validationSplit", 0, &c->validation_split)))
		return bad(e);
	if (!(c->validation_split >= 0 && c->validation_split < 1))
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.data.validationSplit: %g is outside [0, 1)",
		                 c->validation_split);
	if ((e = aios_json_opt_bool(s, "data.normalize", 0, &c->normalize)))
		return bad(e);
	return AIOS_OK;
}

/*
 * output.formats: a list of "aios" and "onnx", each at most once, aios among them (the
 * artifact is what status.artifact, aios-serve and the checkpoints' resume go by; ONNX is
 * an extra file beside it). Absent or null: [aios]. With onnx, the model's kind must
 * have an ONNX form (aios_onnx_export_check).
 */
static enum aios_err parse_formats(struct json_object *s, struct trainer_config *c)
{
	struct json_object *f = aios_json_lookup(s, "output.formats");
	c->formats = TRAINER_OUT_AIOS;
	if (!f || json_object_is_type(f, json_type_null))
		return AIOS_OK;
	if (!json_object_is_type(f, json_type_array))
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.output.formats: expected a list such as [aios, onnx]");
	unsigned seen = 0;
	for (size_t i = 0; i < json_object_array_length(f); i++) {
		struct json_object *v = json_object_array_get_idx(f, i);
		if (!json_object_is_type(v, json_type_string))
			return aios_fail(
			    AIOS_ERR_INVALID,
			    "spec.output.formats[%zu]: expected a string, aios or onnx", i);
		const char *name = json_object_get_string(v);
		unsigned bit = !strcmp(name, "aios")   ? TRAINER_OUT_AIOS
		               : !strcmp(name, "onnx") ? TRAINER_OUT_ONNX
		                                       : 0;
		if (!bit)
			return aios_fail(
			    AIOS_ERR_INVALID,
			    "spec.output.formats[%zu]: \"%s\" is not one of aios, onnx", i, name);
		if (seen & bit)
			return aios_fail(AIOS_ERR_INVALID,
			                 "spec.output.formats[%zu]: \"%s\" is listed twice", i,
			                 name);
		seen |= bit;
	}
	if (!(seen & TRAINER_OUT_AIOS))
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.output.formats: must list aios (the model artifact, which "
		                 "status.artifact and aios-serve use); onnx is written beside it, "
		                 "as in [aios, onnx]");
	if ((seen & TRAINER_OUT_ONNX) &&
	    aios_onnx_export_check(c->type, c->activation, c->output_act))
		return aios_fail_wrap(AIOS_ERR_INVALID, "spec.output.formats: onnx");
	c->formats = seen;
	return AIOS_OK;
}

enum aios_err trainer_onnx_uri(const char *uri, char *out, size_t n)
{
	size_t len = strlen(uri);
	if (len >= 5 && !strcmp(uri + len - 5, ".aios"))
		len -= 5;
	int w = snprintf(out, n, "%.*s.onnx", (int)len, uri);
	if (w < 0 || (size_t)w >= n)
		return aios_fail(AIOS_ERR_INVALID, "%s: the ONNX file's URI is too long", uri);
	return AIOS_OK;
}

enum aios_err trainer_config_parse(struct json_object *spec, struct trainer_config *c)
{
	memset(c, 0, sizeof(*c));
	c->spec = spec;
	struct json_object *s = spec, *inner;
	if (json_object_is_type(spec, json_type_object) &&
	    json_object_object_get_ex(spec, "kind", NULL) &&
	    json_object_object_get_ex(spec, "spec", &inner))
		s = inner; /* a whole TrainingJob */
	if (!json_object_is_type(s, json_type_object))
		return aios_fail(AIOS_ERR_INVALID, "spec: expected a JSON object");
	enum aios_err e;
	if ((e = parse_model(s, c)) || (e = parse_optimizer(s, c)) || (e = parse_data(s, c)) ||
	    (e = int_field(s, "checkpoint.everyEpochs", 1, 0, 100000000, &c->checkpoint_every)))
		return e;
	c->checkpoint_min_interval_s = aios_json_lookup(s, "checkpoint.everyEpochs") ? 0 : 30;
	if ((e = aios_json_opt_string(s, "output.uri", NULL, &c->output_uri)))
		return bad(e);
	if ((e = parse_formats(s, c)))
		return e;
	if (c->output_uri &&
	    (!strncmp(c->output_uri, "http://", 7) || !strncmp(c->output_uri, "https://", 8)))
		return aios_fail(AIOS_ERR_INVALID, "spec.output.uri: http(s) storage is read-only; "
		                                   "use file:// or pvc://");
	if ((e = aios_json_opt_string(s, "checkpoint.resumeFrom", NULL, &c->resume_from)))
		return bad(e);
	if (c->resume_from &&
	    (!strncmp(c->resume_from, "http://", 7) || !strncmp(c->resume_from, "https://", 8)))
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.checkpoint.resumeFrom: checkpoints are read from file:// or "
		                 "pvc:// directories, not http(s)");
	return AIOS_OK;
}

void trainer_config_cleanup(struct trainer_config *c)
{
	json_object_put(c->spec);
	memset(c, 0, sizeof(*c));
}

int trainer_config_sizes(const struct trainer_config *c, int n_inputs, int *sizes)
{
	sizes[0] = n_inputs;
	for (int i = 0; i < c->n_hidden; i++)
		sizes[1 + i] = c->hidden[i];
	sizes[1 + c->n_hidden] = c->outputs;
	return c->n_hidden + 1;
}
