/*
 * model.c - the model artifact: reader, writer, reference forward pass (see model.h).
 *
 * The reader trusts nothing: it checks the fixed prefix, the header length against the
 * file size and the digest before it parses the JSON header, then every tensor's name,
 * shape, dtype, offset and byte count against the layer sizes and the data section, and
 * every float for finiteness. The writer lays tensors out at 64-byte aligned offsets
 * so that a reader may map the file and use the data in place.
 */
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/mem.h"

#define PREFIX_LEN 16 /* magic (8) + version (4) + hdr_len (4) */
#define ALIGN      64 /* tensor and data section alignment, bytes */

/* ---------------------------------------------------------------- names */

static const char *const type_names[] = {"linear", "logistic", "softmax", "mlp"};
static const char *const act_names[] = {"identity", "relu",       "tanh",       "sigmoid",
                                        "softmax",  "leaky_relu", "log_softmax"};

const char *aios_model_type_name(enum aios_model_type t)
{
	return (unsigned)t < 4 ? type_names[t] : "unknown";
}

int aios_model_type_parse(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(s, type_names[i]))
			return i;
	return -1;
}

int aios_model_type_classifies(enum aios_model_type t)
{
	return t == AIOS_MODEL_LOGISTIC || t == AIOS_MODEL_SOFTMAX;
}

const char *aios_act_name(enum aios_act a)
{
	return (unsigned)a < 7 ? act_names[a] : "unknown";
}

/* Only the activations an artifact may name: leaky_relu and log_softmax are per-layer
 * activations of ONNX models, never a spec's or a header's. */
int aios_act_parse(const char *s)
{
	for (int i = 0; s && i < 5; i++)
		if (!strcmp(s, act_names[i]))
			return i;
	if (s && !strcmp(s, "linear"))
		return AIOS_ACT_IDENTITY;
	return -1;
}

/* ---------------------------------------------------------------- objects */

struct aios_model *aios_model_new(enum aios_model_type type, enum aios_act hidden,
                                  enum aios_act output, int n_layers, const int *sizes)
{
	struct aios_model *m = aios_xcalloc(1, sizeof(*m));
	m->type = type;
	m->hidden = hidden;
	m->output = output;
	m->n_layers = n_layers;
	m->n_inputs = sizes[0];
	m->n_outputs = sizes[n_layers];
	m->layers = aios_xcalloc((size_t)n_layers, sizeof(*m->layers));
	size_t total = 0;
	for (int k = 0; k < n_layers; k++)
		total += (size_t)sizes[k + 1] * (size_t)sizes[k] + (size_t)sizes[k + 1];
	m->params = aios_xcalloc(total ? total : 1, sizeof(float));
	float *p = m->params;
	for (int k = 0; k < n_layers; k++) {
		struct aios_model_layer *l = &m->layers[k];
		l->in = sizes[k];
		l->out = sizes[k + 1];
		l->w = p;
		p += (size_t)l->out * (size_t)l->in;
		l->b = p;
		p += l->out;
	}
	m->meta = json_object_new_object();
	return m;
}

void aios_model_free(struct aios_model *m)
{
	if (!m)
		return;
	free(m->params);
	free(m->layers);
	free(m->norm_mean);
	free(m->norm_std);
	free(m->acts);
	json_object_put(m->meta);
	free(m);
}

size_t aios_model_param_count(const struct aios_model *m)
{
	size_t n = 0;
	for (int k = 0; k < m->n_layers; k++)
		n += (size_t)m->layers[k].out * (size_t)m->layers[k].in + (size_t)m->layers[k].out;
	return n;
}

void aios_model_enable_norm(struct aios_model *m)
{
	if (m->norm_mean)
		return;
	m->norm_mean = aios_xcalloc((size_t)m->n_inputs, sizeof(float));
	m->norm_std = aios_xmalloc((size_t)m->n_inputs * sizeof(float));
	for (int i = 0; i < m->n_inputs; i++)
		m->norm_std[i] = 1.0f;
}

/* ---------------------------------------------------------------- little-endian I/O */

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static float get_f32(const uint8_t *p)
{
	uint32_t u = get_u32(p);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static void put_f32(uint8_t *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	put_u32(p, u);
}

static size_t align_up(size_t n)
{
	return (n + ALIGN - 1) / ALIGN * ALIGN;
}

/* ---------------------------------------------------------------- reader */

/* Checks one tensor entry of the header and returns its data range. */
static enum aios_err find_tensor(struct json_object *tensors, const char *what, const char *name,
                                 int rows, int cols, const char *dtype, size_t data_len,
                                 size_t *off, size_t *bytes)
{
	size_t n = json_object_array_length(tensors);
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(tensors, i);
		const char *tn = aios_json_str(t, "name");
		if (!tn || strcmp(tn, name))
			continue;
		const char *td = aios_json_str(t, "dtype");
		if (!td || strcmp(td, dtype))
			return aios_fail(AIOS_ERR_CORRUPT, "%s: tensor %s: dtype %s, expected %s",
			                 what, name, td ? td : "(missing)", dtype);
		struct json_object *shape;
		if (aios_json_get_array(t, "shape", &shape))
			return aios_fail_wrap(AIOS_ERR_CORRUPT, "%s: tensor %s", what, name);
		size_t dims = json_object_array_length(shape);
		int want[2] = {rows, cols};
		size_t want_dims = cols > 0 ? 2 : 1;
		if (dims != want_dims)
			return aios_fail(AIOS_ERR_CORRUPT,
			                 "%s: tensor %s: %zu dimensions, expected %zu", what, name,
			                 dims, want_dims);
		for (size_t d = 0; d < dims; d++) {
			struct json_object *v = json_object_array_get_idx(shape, d);
			if (!json_object_is_type(v, json_type_int) ||
			    json_object_get_int64(v) != want[d])
				return aios_fail(AIOS_ERR_CORRUPT,
				                 "%s: tensor %s: shape[%zu] is not %d", what, name,
				                 d, want[d]);
		}
		int64_t o, b;
		if (aios_json_get_int(t, "offset", &o) || aios_json_get_int(t, "bytes", &b))
			return aios_fail_wrap(AIOS_ERR_CORRUPT, "%s: tensor %s", what, name);
		size_t elem = strcmp(dtype, "int8") ? 4 : 1;
		size_t expect = (size_t)rows * (size_t)(cols > 0 ? cols : 1) * elem;
		if (b < 0 || (size_t)b != expect)
			return aios_fail(AIOS_ERR_CORRUPT,
			                 "%s: tensor %s: %lld bytes, expected %zu", what, name,
			                 (long long)b, expect);
		if (o < 0 || (size_t)o > data_len || (size_t)b > data_len - (size_t)o)
			return aios_fail(AIOS_ERR_CORRUPT,
			                 "%s: tensor %s: bytes [%lld, %lld) lie outside the data "
			                 "section of %zu bytes",
			                 what, name, (long long)o, (long long)(o + b), data_len);
		if ((size_t)o % elem)
			return aios_fail(AIOS_ERR_CORRUPT,
			                 "%s: tensor %s: offset %lld is not aligned", what, name,
			                 (long long)o);
		*off = (size_t)o;
		*bytes = (size_t)b;
		return AIOS_OK;
	}
	return aios_fail(AIOS_ERR_CORRUPT, "%s: tensor %s is missing", what, name);
}

/* Copies count f32 values, rejecting NaN and infinity. */
static enum aios_err load_f32(const uint8_t *p, size_t count, float *dst, const char *what,
                              const char *name)
{
	for (size_t i = 0; i < count; i++) {
		float f = get_f32(p + 4 * i);
		if (!isfinite(f))
			return aios_fail(AIOS_ERR_CORRUPT,
			                 "%s: tensor %s: element %zu is not finite", what, name, i);
		dst[i] = f;
	}
	return AIOS_OK;
}

static enum aios_err read_float_array(struct json_object *hdr, const char *path, int n, float *dst,
                                      const char *what)
{
	struct json_object *a;
	if (aios_json_get_array(hdr, path, &a))
		return aios_fail_wrap(AIOS_ERR_CORRUPT, "%s", what);
	if ((int)json_object_array_length(a) != n)
		return aios_fail(AIOS_ERR_CORRUPT, "%s: %s has %zu entries, expected %d", what,
		                 path, json_object_array_length(a), n);
	for (int i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, (size_t)i);
		if (!json_object_is_type(v, json_type_double) &&
		    !json_object_is_type(v, json_type_int))
			return aios_fail(AIOS_ERR_CORRUPT, "%s: %s[%d] is not a number", what, path,
			                 i);
		double d = json_object_get_double(v);
		if (!isfinite(d) || fabs(d) > 3.0e38)
			return aios_fail(AIOS_ERR_CORRUPT, "%s: %s[%d] is not a finite float", what,
			                 path, i);
		dst[i] = (float)d;
	}
	return AIOS_OK;
}

/* Builds the model described by a parsed, digest-checked header over data. */
static enum aios_err decode(struct json_object *hdr, const uint8_t *data, size_t data_len,
                            const char *what, struct aios_model **out)
{
	const char *ts = aios_json_str(hdr, "type");
	const char *as = aios_json_str(hdr, "activation");
	const char *os = aios_json_str(hdr, "output");
	const char *ds = aios_json_str(hdr, "dtype");
	int type = aios_model_type_parse(ts), hidden = aios_act_parse(as),
	    output = aios_act_parse(os);
	if (type < 0)
		return aios_fail(AIOS_ERR_CORRUPT, "%s: unknown model type %s", what,
		                 ts ? ts : "(missing)");
	if (hidden < 0 || hidden == AIOS_ACT_SOFTMAX)
		return aios_fail(AIOS_ERR_CORRUPT, "%s: bad hidden activation %s", what,
		                 as ? as : "(missing)");
	if (output != AIOS_ACT_IDENTITY && output != AIOS_ACT_SIGMOID && output != AIOS_ACT_SOFTMAX)
		return aios_fail(AIOS_ERR_CORRUPT, "%s: bad output activation %s", what,
		                 os ? os : "(missing)");
	if (!ds || (strcmp(ds, "f32") && strcmp(ds, "int8")))
		return aios_fail(AIOS_ERR_CORRUPT, "%s: unknown dtype %s", what,
		                 ds ? ds : "(missing)");
	int q8 = !strcmp(ds, "int8");

	struct json_object *la;
	if (aios_json_get_array(hdr, "layers", &la))
		return aios_fail_wrap(AIOS_ERR_CORRUPT, "%s", what);
	size_t nl = json_object_array_length(la);
	if (nl < 2 || nl > AIOS_MODEL_MAX_LAYERS + 1)
		return aios_fail(AIOS_ERR_CORRUPT, "%s: layers has %zu sizes, expected 2..%d", what,
		                 nl, AIOS_MODEL_MAX_LAYERS + 1);
	int sizes[AIOS_MODEL_MAX_LAYERS + 1];
	uint64_t params = 0;
	for (size_t i = 0; i < nl; i++) {
		struct json_object *v = json_object_array_get_idx(la, i);
		int64_t s = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
		if (s < 1 || s > AIOS_MODEL_MAX_WIDTH)
			return aios_fail(AIOS_ERR_CORRUPT,
			                 "%s: layers[%zu] is not a width in 1..%d", what, i,
			                 AIOS_MODEL_MAX_WIDTH);
		sizes[i] = (int)s;
		if (i > 0)
			params += (uint64_t)sizes[i] * (uint64_t)sizes[i - 1] + (uint64_t)sizes[i];
		if (params > AIOS_MODEL_MAX_PARAMS)
			return aios_fail(AIOS_ERR_CORRUPT, "%s: more than %u parameters", what,
			                 AIOS_MODEL_MAX_PARAMS);
	}
	int n_layers = (int)nl - 1;
	if (type != AIOS_MODEL_MLP && n_layers != 1)
		return aios_fail(AIOS_ERR_CORRUPT, "%s: a %s model has one layer, not %d", what, ts,
		                 n_layers);
	/* The tensors alone must fit in the data section: refuse before allocating. */
	if (params * (q8 ? 1 : 4) > data_len)
		return aios_fail(AIOS_ERR_CORRUPT,
		                 "%s: %llu parameters do not fit in %zu data bytes", what,
		                 (unsigned long long)params, data_len);

	struct json_object *tensors;
	if (aios_json_get_array(hdr, "tensors", &tensors))
		return aios_fail_wrap(AIOS_ERR_CORRUPT, "%s", what);

	struct aios_model *m = aios_model_new((enum aios_model_type)type, (enum aios_act)hidden,
	                                      (enum aios_act)output, n_layers, sizes);
	enum aios_err e = AIOS_OK;
	char name[32];
	for (int k = 0; k < n_layers && !e; k++) {
		struct aios_model_layer *l = &m->layers[k];
		size_t off, bytes;
		snprintf(name, sizeof(name), "l%d.w", k);
		e = find_tensor(tensors, what, name, l->out, l->in, q8 ? "int8" : "f32", data_len,
		                &off, &bytes);
		if (e)
			break;
		if (!q8) {
			e = load_f32(data + off, (size_t)l->out * l->in, l->w, what, name);
		} else {
			size_t soff, sbytes;
			char sname[40];
			snprintf(sname, sizeof(sname), "l%d.w.scale", k);
			e = find_tensor(tensors, what, sname, l->out, 0, "f32", data_len, &soff,
			                &sbytes);
			if (e)
				break;
			float *scale = aios_xmalloc((size_t)l->out * sizeof(float));
			e = load_f32(data + soff, (size_t)l->out, scale, what, sname);
			for (int o = 0; o < l->out && !e; o++) {
				if (scale[o] < 0)
					e = aios_fail(AIOS_ERR_CORRUPT, "%s: %s[%d] is negative",
					              what, sname, o);
				const int8_t *q = (const int8_t *)(data + off) + (size_t)o * l->in;
				for (int j = 0; j < l->in && !e; j++)
					l->w[(size_t)o * l->in + j] = scale[o] * (float)q[j];
			}
			free(scale);
		}
		if (e)
			break;
		snprintf(name, sizeof(name), "l%d.b", k);
		e = find_tensor(tensors, what, name, l->out, 0, "f32", data_len, &off, &bytes);
		if (!e)
			e = load_f32(data + off, (size_t)l->out, l->b, what, name);
	}
	struct json_object *norm = NULL;
	json_object_object_get_ex(hdr, "normalize", &norm);
	if (!e && norm) {
		if (!json_object_is_type(norm, json_type_object)) {
			e = aios_fail(AIOS_ERR_CORRUPT,
			              "%s: normalize is neither an object nor null", what);
		} else {
			aios_model_enable_norm(m);
			e = read_float_array(hdr, "normalize.mean", m->n_inputs, m->norm_mean,
			                     what);
			if (!e)
				e = read_float_array(hdr, "normalize.std", m->n_inputs, m->norm_std,
				                     what);
			for (int i = 0; i < m->n_inputs && !e; i++)
				if (!(m->norm_std[i] > 0))
					e = aios_fail(AIOS_ERR_CORRUPT,
					              "%s: normalize.std[%d] is not positive", what,
					              i);
		}
	}
	struct json_object *meta;
	if (!e && json_object_object_get_ex(hdr, "meta", &meta) && meta) {
		if (!json_object_is_type(meta, json_type_object)) {
			e = aios_fail(AIOS_ERR_CORRUPT, "%s: meta is not an object", what);
		} else {
			json_object_put(m->meta);
			m->meta = aios_json_copy(meta);
		}
	}
	if (e) {
		aios_model_free(m);
		return e;
	}
	*out = m;
	return AIOS_OK;
}

enum aios_err aios_model_read_mem(const void *p, size_t n, const char *what,
                                  struct aios_model **out)
{
	const uint8_t *b = p;
	*out = NULL;
	if (n < PREFIX_LEN + AIOS_SHA256_LEN)
		return aios_fail(AIOS_ERR_CORRUPT,
		                 "%s: %zu bytes is too short for a model artifact", what, n);
	if (memcmp(b, AIOS_MODEL_MAGIC, 8))
		return aios_fail(AIOS_ERR_CORRUPT, "%s: not a model artifact (bad magic)", what);
	uint32_t version = get_u32(b + 8);
	if (version != AIOS_MODEL_VERSION)
		return aios_fail(AIOS_ERR_CORRUPT, "%s: artifact version %u, this build reads %u",
		                 what, version, AIOS_MODEL_VERSION);
	uint32_t hdr_len = get_u32(b + 12);
	size_t body = n - AIOS_SHA256_LEN;
	if (hdr_len == 0 || hdr_len > AIOS_MODEL_MAX_HEADER || hdr_len > body - PREFIX_LEN)
		return aios_fail(AIOS_ERR_CORRUPT,
		                 "%s: header length %u does not fit (file %zu bytes, limit %u)",
		                 what, hdr_len, n, AIOS_MODEL_MAX_HEADER);
	size_t data_start = align_up(PREFIX_LEN + (size_t)hdr_len);
	if (data_start > body)
		return aios_fail(AIOS_ERR_CORRUPT, "%s: truncated after the header", what);

	uint8_t digest[AIOS_SHA256_LEN];
	aios_sha256(b, body, digest);
	if (memcmp(digest, b + body, AIOS_SHA256_LEN))
		return aios_fail(AIOS_ERR_DIGEST,
		                 "%s: SHA-256 of the content does not match the digest stored at "
		                 "its end (damaged or truncated file)",
		                 what);
	for (size_t i = PREFIX_LEN + hdr_len; i < data_start; i++)
		if (b[i])
			return aios_fail(AIOS_ERR_CORRUPT, "%s: non-zero header padding", what);

	struct json_object *hdr;
	if (aios_json_parse((const char *)b + PREFIX_LEN, hdr_len, "artifact header", &hdr))
		return aios_fail_wrap(AIOS_ERR_CORRUPT, "%s", what);
	enum aios_err e;
	if (!json_object_is_type(hdr, json_type_object))
		e = aios_fail(AIOS_ERR_CORRUPT, "%s: header is not a JSON object", what);
	else
		e = decode(hdr, b + data_start, body - data_start, what, out);
	json_object_put(hdr);
	if (!e) {
		aios_sha256(b, n, digest); /* what sha256sum prints for the file */
		aios_sha256_hex(digest, (*out)->sha256);
	}
	return e;
}

enum aios_err aios_model_read_file(const char *path, struct aios_model **out)
{
	struct aios_buf b;
	*out = NULL;
	aios_buf_init(&b, AIOS_CAP_ARTIFACT);
	enum aios_err e = aios_buf_read_file(&b, path);
	if (!e)
		e = aios_model_read_mem(b.data ? b.data : "", b.len, path, out);
	aios_buf_cleanup(&b);
	return e;
}

/* ---------------------------------------------------------------- writer */

/* Quantizes row-wise: scale[o] = max|w[o,:]| / 127, q = round(w / scale). */
static void quantize_rows(const float *w, int rows, int cols, int8_t *q, float *scale)
{
	for (int o = 0; o < rows; o++) {
		const float *r = w + (size_t)o * cols;
		float amax = 0;
		for (int j = 0; j < cols; j++)
			amax = fmaxf(amax, fabsf(r[j]));
		scale[o] = amax / 127.0f;
		for (int j = 0; j < cols; j++) {
			float v = scale[o] > 0 ? roundf(r[j] / scale[o]) : 0.0f;
			q[(size_t)o * cols + j] = (int8_t)fmaxf(-127.0f, fminf(127.0f, v));
		}
	}
}

static struct json_object *float_array(const float *v, int n)
{
	struct json_object *a = json_object_new_array_ext(n);
	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_double((double)v[i]));
	return a;
}

static void add_tensor(struct json_object *list, const char *name, int rows, int cols,
                       const char *dtype, size_t *off, size_t bytes)
{
	struct json_object *t = json_object_new_object();
	struct json_object *shape = json_object_new_array();
	json_object_array_add(shape, json_object_new_int(rows));
	if (cols > 0)
		json_object_array_add(shape, json_object_new_int(cols));
	json_object_object_add(t, "name", json_object_new_string(name));
	json_object_object_add(t, "shape", shape);
	json_object_object_add(t, "dtype", json_object_new_string(dtype));
	json_object_object_add(t, "offset", json_object_new_int64((int64_t)*off));
	json_object_object_add(t, "bytes", json_object_new_int64((int64_t)bytes));
	json_object_array_add(list, t);
	*off = align_up(*off + bytes);
}

enum aios_err aios_model_write_mem(struct aios_model *m, enum aios_dtype dtype, uint8_t **out,
                                   size_t *len)
{
	*out = NULL;
	*len = 0;
	if (m->n_layers < 1 || m->n_layers > AIOS_MODEL_MAX_LAYERS)
		return aios_fail(AIOS_ERR_INVALID, "model: %d layers, expected 1..%d", m->n_layers,
		                 AIOS_MODEL_MAX_LAYERS);
	if (m->acts)
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "model: per-layer activations (an ONNX model) have no artifact form");
	for (size_t i = 0; i < aios_model_param_count(m); i++)
		if (!isfinite(m->params[i]))
			return aios_fail(AIOS_ERR_INVALID, "model: parameter %zu is not finite", i);
	int q8 = dtype == AIOS_DTYPE_INT8;
	struct json_object *hdr = json_object_new_object();
	json_object_object_add(hdr, "type", json_object_new_string(aios_model_type_name(m->type)));
	json_object_object_add(hdr, "activation", json_object_new_string(aios_act_name(m->hidden)));
	json_object_object_add(hdr, "output", json_object_new_string(aios_act_name(m->output)));
	struct json_object *layers = json_object_new_array();
	json_object_array_add(layers, json_object_new_int(m->n_inputs));
	for (int k = 0; k < m->n_layers; k++)
		json_object_array_add(layers, json_object_new_int(m->layers[k].out));
	json_object_object_add(hdr, "layers", layers);
	json_object_object_add(hdr, "dtype", json_object_new_string(q8 ? "int8" : "f32"));
	if (m->norm_mean) {
		struct json_object *norm = json_object_new_object();
		json_object_object_add(norm, "mean", float_array(m->norm_mean, m->n_inputs));
		json_object_object_add(norm, "std", float_array(m->norm_std, m->n_inputs));
		json_object_object_add(hdr, "normalize", norm);
	} else {
		json_object_object_add(hdr, "normalize", NULL);
	}
	/* Offsets first (the header must name them), data after. */
	struct json_object *tensors = json_object_new_array();
	size_t off = 0;
	char name[40];
	for (int k = 0; k < m->n_layers; k++) {
		const struct aios_model_layer *l = &m->layers[k];
		snprintf(name, sizeof(name), "l%d.w", k);
		add_tensor(tensors, name, l->out, l->in, q8 ? "int8" : "f32", &off,
		           (size_t)l->out * l->in * (q8 ? 1 : 4));
		if (q8) {
			snprintf(name, sizeof(name), "l%d.w.scale", k);
			add_tensor(tensors, name, l->out, 0, "f32", &off, (size_t)l->out * 4);
		}
		snprintf(name, sizeof(name), "l%d.b", k);
		add_tensor(tensors, name, l->out, 0, "f32", &off, (size_t)l->out * 4);
	}
	json_object_object_add(hdr, "tensors", tensors);
	json_object_object_add(hdr, "meta", json_object_get(m->meta));

	const char *js = json_object_to_json_string_ext(hdr, JSON_C_TO_STRING_PLAIN);
	size_t hdr_len = strlen(js);
	if (hdr_len > AIOS_MODEL_MAX_HEADER) {
		json_object_put(hdr);
		return aios_fail(AIOS_ERR_TOO_BIG, "model: header of %zu bytes exceeds %u", hdr_len,
		                 AIOS_MODEL_MAX_HEADER);
	}
	size_t data_start = align_up(PREFIX_LEN + hdr_len);
	size_t total = data_start + off + AIOS_SHA256_LEN;
	uint8_t *b = aios_xcalloc(total, 1);
	memcpy(b, AIOS_MODEL_MAGIC, 8);
	put_u32(b + 8, AIOS_MODEL_VERSION);
	put_u32(b + 12, (uint32_t)hdr_len);
	memcpy(b + PREFIX_LEN, js, hdr_len);
	json_object_put(hdr);

	/* Same walk as above: the offsets follow from the same sizes. */
	uint8_t *d = b + data_start;
	off = 0;
	for (int k = 0; k < m->n_layers; k++) {
		const struct aios_model_layer *l = &m->layers[k];
		size_t nw = (size_t)l->out * l->in;
		if (q8) {
			float *scale = aios_xmalloc((size_t)l->out * sizeof(float));
			quantize_rows(l->w, l->out, l->in, (int8_t *)(d + off), scale);
			off = align_up(off + nw);
			for (int o = 0; o < l->out; o++)
				put_f32(d + off + 4 * (size_t)o, scale[o]);
			off = align_up(off + (size_t)l->out * 4);
			free(scale);
		} else {
			for (size_t i = 0; i < nw; i++)
				put_f32(d + off + 4 * i, l->w[i]);
			off = align_up(off + nw * 4);
		}
		for (int o = 0; o < l->out; o++)
			put_f32(d + off + 4 * (size_t)o, l->b[o]);
		off = align_up(off + (size_t)l->out * 4);
	}
	uint8_t digest[AIOS_SHA256_LEN];
	aios_sha256(b, total - AIOS_SHA256_LEN, digest);
	memcpy(b + total - AIOS_SHA256_LEN, digest, AIOS_SHA256_LEN);
	aios_sha256(b, total, digest); /* what sha256sum prints for the file */
	aios_sha256_hex(digest, m->sha256);
	*out = b;
	*len = total;
	return AIOS_OK;
}

/* mkdir -p of the directory part of path. */
static enum aios_err make_parents(const char *path)
{
	char dir[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(dir))
		return aios_fail(AIOS_ERR_INVALID, "%s: path too long", path);
	memcpy(dir, path, n + 1);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return AIOS_OK;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return aios_fail(AIOS_ERR_IO, "mkdir %s: %s", dir, strerror(errno));
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return aios_fail(AIOS_ERR_IO, "mkdir %s: %s", dir, strerror(errno));
	return AIOS_OK;
}

enum aios_err aios_model_atomic_write(const char *path, const void *p, size_t n)
{
	enum aios_err e = make_parents(path);
	if (e)
		return e;
	char *tmp = aios_xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		e = aios_fail(AIOS_ERR_IO, "create %s: %s", tmp, strerror(errno));
		free(tmp);
		return e;
	}
	const uint8_t *b = p;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, b + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = aios_fail(AIOS_ERR_IO, "write %s: %s", tmp,
			              w < 0 ? strerror(errno) : "short write");
			break;
		}
		done += (size_t)w;
	}
	if (!e && fsync(fd))
		e = aios_fail(AIOS_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
	if (close(fd) && !e)
		e = aios_fail(AIOS_ERR_IO, "close %s: %s", tmp, strerror(errno));
	if (!e && rename(tmp, path))
		e = aios_fail(AIOS_ERR_IO, "rename %s -> %s: %s", tmp, path, strerror(errno));
	if (e) {
		unlink(tmp);
		free(tmp);
		return e;
	}
	free(tmp);
	/* Make the rename durable: fsync the directory (best effort on odd filesystems). */
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path) : 0;
	if (dl == 0) {
		memcpy(dir, slash ? "/" : ".", 2);
	} else if (dl < sizeof(dir)) {
		memcpy(dir, path, dl);
		dir[dl] = '\0';
	} else {
		return AIOS_OK;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return AIOS_OK;
}

enum aios_err aios_model_write_file(struct aios_model *m, const char *path, enum aios_dtype dtype)
{
	uint8_t *b;
	size_t n;
	enum aios_err e = aios_model_write_mem(m, dtype, &b, &n);
	if (e)
		return aios_fail_wrap(e, "%s", path);
	e = aios_model_atomic_write(path, b, n);
	free(b);
	return e;
}

/* ---------------------------------------------------------------- reference forward */

size_t aios_model_scratch_floats(const struct aios_model *m, int n)
{
	size_t w = (size_t)m->n_inputs;
	for (int k = 0; k < m->n_layers; k++)
		if ((size_t)m->layers[k].out > w)
			w = (size_t)m->layers[k].out;
	return 2 * (size_t)n * w;
}

static void activate(enum aios_act a, float alpha, float *v, int n)
{
	switch (a) {
	case AIOS_ACT_LEAKY_RELU:
		for (int i = 0; i < n; i++)
			v[i] = v[i] >= 0 ? v[i] : alpha * v[i];
		break;
	case AIOS_ACT_LOG_SOFTMAX: { /* x - max - log(sum(exp(x - max))) */
		float mx = v[0], sum = 0;
		for (int i = 1; i < n; i++)
			mx = fmaxf(mx, v[i]);
		for (int i = 0; i < n; i++)
			sum += expf(v[i] - mx);
		float lse = mx + logf(sum);
		for (int i = 0; i < n; i++)
			v[i] -= lse;
		break;
	}
	case AIOS_ACT_RELU:
		for (int i = 0; i < n; i++)
			v[i] = v[i] > 0 ? v[i] : 0;
		break;
	case AIOS_ACT_TANH:
		for (int i = 0; i < n; i++)
			v[i] = tanhf(v[i]);
		break;
	case AIOS_ACT_SIGMOID:
		for (int i = 0; i < n; i++)
			v[i] = v[i] >= 0 ? 1.0f / (1.0f + expf(-v[i]))
			                 : expf(v[i]) / (1.0f + expf(v[i]));
		break;
	case AIOS_ACT_SOFTMAX: {
		float mx = v[0], sum = 0;
		for (int i = 1; i < n; i++)
			mx = fmaxf(mx, v[i]);
		for (int i = 0; i < n; i++)
			sum += (v[i] = expf(v[i] - mx));
		for (int i = 0; i < n; i++)
			v[i] /= sum;
		break;
	}
	case AIOS_ACT_IDENTITY: break;
	}
}

void aios_model_forward_ref(const struct aios_model *m, const float *x, int n, float *y,
                            float *scratch)
{
	size_t half = aios_model_scratch_floats(m, n) / 2;
	float *cur = scratch, *nxt = scratch + half;
	int width = m->n_inputs;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < width; j++) {
			float v = x[(size_t)i * width + j];
			cur[(size_t)i * width + j] =
			    m->norm_mean ? (v - m->norm_mean[j]) / m->norm_std[j] : v;
		}
	for (int k = 0; k < m->n_layers; k++) {
		const struct aios_model_layer *l = &m->layers[k];
		float *dst = k == m->n_layers - 1 ? y : nxt;
		for (int i = 0; i < n; i++) {
			const float *in = cur + (size_t)i * l->in;
			float *o = dst + (size_t)i * l->out;
			for (int u = 0; u < l->out; u++) {
				float s = l->b[u];
				const float *w = l->w + (size_t)u * l->in;
				for (int j = 0; j < l->in; j++)
					s += w[j] * in[j];
				o[u] = s;
			}
			struct aios_model_act a = aios_model_layer_act(m, k);
			activate(a.act, a.alpha, o, l->out);
		}
		float *t = cur;
		cur = nxt;
		nxt = t;
	}
}

/* Public forms of the helpers above, for the serving kernels (src/serve/engine.c). */
void aios_act_apply(enum aios_act a, float *v, int n)
{
	activate(a, 0.01f, v, n);
}

void aios_act_apply_alpha(enum aios_act a, float alpha, float *v, int n)
{
	activate(a, alpha, v, n);
}

int aios_act_is_rowwise(enum aios_act a)
{
	return a == AIOS_ACT_SOFTMAX || a == AIOS_ACT_LOG_SOFTMAX;
}

struct aios_model_act aios_model_layer_act(const struct aios_model *m, int k)
{
	if (m->acts)
		return m->acts[k];
	struct aios_model_act a = {k == m->n_layers - 1 ? m->output : m->hidden, 0.01f};
	return a;
}

void aios_model_quantize_rows(const float *w, int rows, int cols, int8_t *q, float *scale)
{
	quantize_rows(w, rows, cols, q, scale);
}
