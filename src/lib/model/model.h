/*
 * model.h - the model artifact: one file written by the trainer, read by the server.
 *
 * Layout (all integers little-endian):
 *
 *   off 0   magic     8 bytes  "AIOSMDL\0"
 *   off 8   version   u32      AIOS_MODEL_VERSION
 *   off 12  hdr_len   u32      bytes of JSON header, <= AIOS_MODEL_MAX_HEADER
 *   off 16  header    hdr_len  JSON: {"type","activation","output","layers":[in,h1..,out],
 *                              "dtype":"f32"|"int8","normalize":{"mean":[],"std":[]}|null,
 *                              "tensors":[{"name","shape","dtype","offset","bytes"}],"meta":{}}
 *           padding   zero bytes up to a multiple of 64
 *           tensors   raw data at the offsets named in the header (relative to the
 *                     start of the data section), FP32, or INT8 with an FP32 scale per
 *                     output channel ("<layer>.w.scale")
 *   end-32  sha256    32 bytes: SHA-256 of every byte before it
 *
 * A dense layer k stores "l<k>.w" with shape (out, in), row-major, and "l<k>.b" (out).
 * The reader checks the magic, version, every length and offset against the file size
 * and the digest before it trusts a byte; a damaged file is AIOS_ERR_CORRUPT or
 * AIOS_ERR_DIGEST with a message naming the file and what is wrong. The reader always
 * returns FP32 weights (INT8 tensors are dequantized); quantization for serving is the
 * server's business.
 *
 * Output semantics: "identity" (regression, hinge scores), "sigmoid" (binary
 * probability), "softmax" (class probabilities). Hidden layers use `activation`.
 */
#ifndef AIOS_MODEL_H
#define AIOS_MODEL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/hash.h"

#define AIOS_MODEL_MAGIC      "AIOSMDL"
#define AIOS_MODEL_VERSION    1u
#define AIOS_MODEL_MAX_HEADER (1u << 20) /* bytes of JSON header */
#define AIOS_MODEL_MAX_LAYERS 64
#define AIOS_MODEL_MAX_WIDTH  (1 << 20)    /* units in one layer */
#define AIOS_MODEL_MAX_PARAMS (256u << 20) /* parameters in all layers */

enum aios_model_type { AIOS_MODEL_LINEAR, AIOS_MODEL_LOGISTIC, AIOS_MODEL_SOFTMAX, AIOS_MODEL_MLP };
enum aios_act {
	AIOS_ACT_IDENTITY,
	AIOS_ACT_RELU,
	AIOS_ACT_TANH,
	AIOS_ACT_SIGMOID,
	AIOS_ACT_SOFTMAX,
	/* only in per-layer activations (models read from ONNX, onnx.h): */
	AIOS_ACT_LEAKY_RELU, /* x >= 0 ? x : alpha * x */
	AIOS_ACT_LOG_SOFTMAX /* log(softmax(x)) over the row */
};
enum aios_dtype { AIOS_DTYPE_F32, AIOS_DTYPE_INT8 };

struct aios_model_layer {
	int in, out;
	float *w; /* (out, in) row-major, owned by the model */
	float *b; /* (out) */
};

/* The activation after one dense layer, when a model names one per layer. */
struct aios_model_act {
	enum aios_act act;
	float alpha; /* AIOS_ACT_LEAKY_RELU's slope for x < 0 */
};

struct aios_model {
	enum aios_model_type type;
	enum aios_act hidden; /* activation between dense layers (mlp) */
	enum aios_act output; /* applied to the last layer: identity, sigmoid or softmax */
	int n_layers;
	struct aios_model_layer *layers; /* n_layers entries */
	int n_inputs, n_outputs;
	float *norm_mean, *norm_std; /* (n_inputs) each, or NULL: x' = (x - mean) / std */
	/*
	 * (n_layers) activations, one after each dense layer, owned; NULL (every artifact):
	 * `hidden` after each layer but the last, `output` after the last. Set only by the
	 * ONNX reader; such a model has no artifact form (aios_model_write_mem refuses it).
	 */
	struct aios_model_act *acts;
	struct json_object *meta;     /* free-form metadata, owned; never NULL after new/read */
	char sha256[AIOS_SHA256_HEX]; /* SHA-256 of the whole file read or written (= sha256sum) */
	/*
	 * Every layer's w and b live in this one block, in file order (l0.w, l0.b, l1.w,
	 * l1.b, ...), aios_model_param_count() floats: the trainer's flat parameter buffer.
	 */
	float *params;
};

/* The type a spec without model.type gets, and whether a type classifies by default
 * (logistic, softmax: the default loss is cross_entropy; linear, mlp: mse). One rule
 * for the trainer's spec defaults and the operator's search checks. */
#define AIOS_MODEL_DEFAULT_TYPE "linear"
int aios_model_type_classifies(enum aios_model_type t);

/* Names <-> enums ("mlp", "relu", "sigmoid", ...). parse returns -1 on unknown names. */
const char *aios_model_type_name(enum aios_model_type t);
int aios_model_type_parse(const char *s);
const char *aios_act_name(enum aios_act a);
int aios_act_parse(const char *s);

/*
 * Allocates a model with zeroed tensors. sizes has n_layers + 1 entries
 * (inputs, hidden..., outputs). Aborts on OOM (sizes are the caller's, already checked).
 */
struct aios_model *aios_model_new(enum aios_model_type type, enum aios_act hidden,
                                  enum aios_act output, int n_layers, const int *sizes);
void aios_model_free(struct aios_model *m);
/* Total number of parameters (weights + biases). */
size_t aios_model_param_count(const struct aios_model *m);
/* Enables input normalization: allocates mean/std (zeros/ones) if absent. */
void aios_model_enable_norm(struct aios_model *m);

/* Parses an artifact held in memory; what names it in messages. Caller frees *out. */
enum aios_err aios_model_read_mem(const void *p, size_t n, const char *what,
                                  struct aios_model **out) AIOS_MUST_CHECK;
/* Reads an artifact file (bounded by AIOS_CAP_ARTIFACT). */
enum aios_err aios_model_read_file(const char *path, struct aios_model **out) AIOS_MUST_CHECK;
/* Serialises to a new heap buffer (caller frees *out); fills m->sha256. */
enum aios_err aios_model_write_mem(struct aios_model *m, enum aios_dtype dtype, uint8_t **out,
                                   size_t *len) AIOS_MUST_CHECK;
/*
 * Writes atomically: PATH.tmp.<pid>, fsync, rename over PATH, fsync the directory.
 * Creates missing parent directories. Fills m->sha256.
 */
enum aios_err aios_model_write_file(struct aios_model *m, const char *path,
                                    enum aios_dtype dtype) AIOS_MUST_CHECK;

/*
 * Writes n bytes to path atomically (the same steps as aios_model_write_file); the
 * trainer's checkpoints use it too. Messages name the path.
 */
enum aios_err aios_model_atomic_write(const char *path, const void *p, size_t n) AIOS_MUST_CHECK;

/* Applies activation a to v[0..n) in place (softmax normalizes over all n). */
void aios_act_apply(enum aios_act a, float *v, int n);
/* The same with LeakyRelu's slope (aios_act_apply uses ONNX's default, 0.01). */
void aios_act_apply_alpha(enum aios_act a, float alpha, float *v, int n);
/* Whether a normalizes over a row (softmax, log_softmax) rather than per element. */
int aios_act_is_rowwise(enum aios_act a);
/* The activation after layer k (acts, or the hidden/output rule). */
struct aios_model_act aios_model_layer_act(const struct aios_model *m, int k);
/* INT8 per output row as the artifact stores it: scale = max|w_row| / 127, q = round(w / scale). */
void aios_model_quantize_rows(const float *w, int rows, int cols, int8_t *q, float *scale);

/*
 * Reference forward pass (naive loops, the ground truth for every fast kernel):
 * x (n, n_inputs) -> y (n, n_outputs), normalization and output activation applied.
 * scratch needs aios_model_scratch_floats(m, n) floats.
 */
size_t aios_model_scratch_floats(const struct aios_model *m, int n);
void aios_model_forward_ref(const struct aios_model *m, const float *x, int n, float *y,
                            float *scratch);

#endif
