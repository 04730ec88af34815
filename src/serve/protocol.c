/*
 * protocol.c - V1 and V2 request parsing and response encoding (protocol.h).
 *
 * Parsing goes through json-c (aios_json_parse: strict, depth-limited). NaN and
 * Infinity are not JSON; json-c refuses them in strict mode, and the message says so
 * rather than "malformed JSON" because that is what a client that sent NaN needs.
 */
#include "serve/protocol.h"

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/mem.h"

static enum aios_err fail(char *err, size_t errn, const char *fmt, ...) AIOS_PRINTF(3, 4);

static enum aios_err fail(char *err, size_t errn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errn, fmt, ap);
	va_end(ap);
	return AIOS_ERR_INVALID;
}

/*
 * The row cap, checked before any parsing: every value but the last is followed by a
 * comma, so commas + 1 bounds the numbers a body can carry. A body with more than
 * max_rows rows' worth (plus slack for the object's own commas) is refused before
 * json-c builds its ~45 bytes per number, which is what bounds parse memory.
 */
#define ROW_CAP_SLACK 64 /* commas between keys, in ids and parameters */
static enum aios_err over_row_cap(const char *body, size_t len, int n_inputs, int max_rows,
                                  char *err, size_t errn)
{
	size_t commas = 0;
	for (const char *p = body, *e = body + len; (p = memchr(p, ',', (size_t)(e - p))); p++)
		commas++;
	if (commas + 1 <= (size_t)max_rows * (size_t)n_inputs + ROW_CAP_SLACK)
		return AIOS_OK;
	snprintf(err, errn,
	         "request carries more than %d rows of %d values (%zu values); the limit is %d "
	         "rows per request",
	         max_rows, n_inputs, commas + 1, max_rows);
	return AIOS_ERR_TOO_BIG;
}

static enum aios_err rows_over_cap(int rows, int max_rows, char *err, size_t errn)
{
	if (rows <= max_rows)
		return AIOS_OK;
	snprintf(err, errn, "request has %d rows; the limit is %d rows per request", rows,
	         max_rows);
	return AIOS_ERR_TOO_BIG;
}

static int mentions_nonfinite(const char *s, size_t n)
{
	static const char *const words[] = {"NaN", "Infinity", "nan", "inf"};
	for (size_t w = 0; w < 4; w++) {
		size_t k = strlen(words[w]);
		for (size_t i = 0; i + k <= n; i++)
			if (memcmp(s + i, words[w], k) == 0)
				return 1;
	}
	return 0;
}

static enum aios_err parse_body(const char *body, size_t len, const char *what,
                                struct json_object **root, char *err, size_t errn)
{
	if (len == 0)
		return fail(err, errn, "request body is empty; expected a JSON object");
	if (aios_json_parse(body, len, what, root) != AIOS_OK) {
		if (mentions_nonfinite(body, len))
			return fail(err, errn,
			            "%s: NaN and Infinity are not valid JSON numbers; "
			            "inputs must be finite",
			            what);
		return fail(err, errn, "%s", aios_errmsg());
	}
	if (!json_object_is_type(*root, json_type_object)) {
		json_object_put(*root);
		*root = NULL;
		return fail(err, errn, "%s: expected a JSON object at the top level", what);
	}
	return AIOS_OK;
}

/* Reads a finite number from v; path names it in errors. */
static enum aios_err get_number(struct json_object *v, float *out, const char *path, char *err,
                                size_t errn)
{
	json_type t = json_object_get_type(v);
	if (t != json_type_double && t != json_type_int)
		return fail(err, errn, "%s: expected a number, got %s", path,
		            t == json_type_string ? "a string" : json_type_to_name(t));
	double d = json_object_get_double(v);
	float f = (float)d;
	if (isnan(d))
		return fail(err, errn, "%s: NaN is not allowed; inputs must be finite numbers",
		            path);
	if (!isfinite(d) || !isfinite(f))
		return fail(err, errn, "%s: %g is not a finite FP32 number", path, d);
	*out = f;
	return AIOS_OK;
}

/* ================================================================ V1 */

/*
 * The fast path: {"instances": [[n, ...], ...]} and nothing else, scanned by hand
 * (json-c builds a tree, allocates per number and switches locales per double, which
 * made it the largest cost of a small request). It accepts a strict subset of JSON
 * and returns 0 on anything else, and the json-c path below then decides and explains.
 */
static const char *ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A JSON number per RFC 8259 at p (not past e) into *v; returns its end or NULL. */
static const char *number(const char *p, const char *e, float *v)
{
	const char *s = p;
	char tmp[64];
	if (p < e && *p == '-')
		p++;
	if (p >= e || *p < '0' || *p > '9')
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	if (p < e && *p == '.') {
		p++;
		if (p >= e || *p < '0' || *p > '9')
			return NULL;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return NULL;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	size_t n = (size_t)(p - s);
	if (n >= sizeof tmp)
		return NULL; /* unusual: let json-c have it */
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	double d = strtod(tmp, NULL);
	float f = (float)d;
	if (!isfinite(f))
		return NULL; /* json-c path names the value */
	*v = f;
	return p;
}

static int v1_fast(const char *body, size_t len, int n_inputs, struct aios_proto_batch *out)
{
	const char *p = body, *e = body + len;
	static const char key[] = "\"instances\"";
	p = ws(p, e);
	if (p >= e || *p++ != '{')
		return 0;
	p = ws(p, e);
	if ((size_t)(e - p) < sizeof key - 1 || memcmp(p, key, sizeof key - 1) != 0)
		return 0;
	p = ws(p + sizeof key - 1, e);
	if (p >= e || *p++ != ':')
		return 0;
	p = ws(p, e);
	if (p >= e || *p++ != '[')
		return 0;
	/* every number takes at least 2 bytes with its separator: a bound on the count */
	size_t cap = len / 2 + 1, n = 0;
	float *x = aios_xmalloc(sizeof(float) * cap);
	int rows = 0;
	for (;;) {
		p = ws(p, e);
		if (p >= e)
			goto no;
		if (n_inputs == 1 && *p != '[') {
			if (!(p = number(p, e, &x[n++])))
				goto no;
		} else {
			if (*p++ != '[')
				goto no;
			for (int j = 0; j < n_inputs; j++) {
				p = ws(p, e);
				if (j && (p >= e || *p++ != ','))
					goto no;
				p = ws(p, e);
				if (!(p = number(p, e, &x[n++])))
					goto no;
			}
			p = ws(p, e);
			if (p >= e || *p++ != ']')
				goto no;
		}
		rows++;
		p = ws(p, e);
		if (p < e && *p == ',') {
			p++;
			continue;
		}
		break;
	}
	if (p >= e || *p++ != ']')
		goto no;
	p = ws(p, e);
	if (p >= e || *p++ != '}')
		goto no;
	if (ws(p, e) != e)
		goto no;
	out->x = x;
	out->rows = rows;
	out->cols = n_inputs;
	return 1;
no:
	free(x);
	return 0;
}

enum aios_err aios_proto_v1_parse(const char *body, size_t len, int n_inputs, int max_rows,
                                  struct aios_proto_batch *out, char *err, size_t errn)
{
	memset(out, 0, sizeof *out);
	if (over_row_cap(body, len, n_inputs, max_rows, err, errn))
		return AIOS_ERR_TOO_BIG;
	if (v1_fast(body, len, n_inputs, out)) {
		if (!rows_over_cap(out->rows, max_rows, err, errn))
			return AIOS_OK;
		free(out->x);
		memset(out, 0, sizeof *out);
		return AIOS_ERR_TOO_BIG;
	}
	struct json_object *root;
	if (parse_body(body, len, "predict request", &root, err, errn))
		return AIOS_ERR_INVALID;
	enum aios_err e = AIOS_OK;
	struct json_object *inst;
	if (!json_object_object_get_ex(root, "instances", &inst)) {
		e = fail(err, errn,
		         "missing \"instances\": expected {\"instances\": [[...], ...]}");
		goto out;
	}
	if (!json_object_is_type(inst, json_type_array)) {
		e = fail(err, errn, "instances: expected an array of rows, got %s",
		         json_type_to_name(json_object_get_type(inst)));
		goto out;
	}
	size_t rows = json_object_array_length(inst);
	if (rows == 0) {
		e = fail(err, errn, "instances is empty: send at least one row");
		goto out;
	}
	if (rows > (size_t)max_rows) {
		e = rows_over_cap(rows > INT32_MAX ? INT32_MAX : (int)rows, max_rows, err, errn);
		goto out;
	}
	out->x = aios_xmalloc(sizeof(float) * rows * (size_t)n_inputs);
	out->rows = (int)rows;
	out->cols = n_inputs;
	for (size_t i = 0; i < rows && !e; i++) {
		struct json_object *row = json_object_array_get_idx(inst, i);
		char path[64];
		if (n_inputs == 1 && !json_object_is_type(row, json_type_array)) {
			/* a one-input model also takes a bare number per instance */
			snprintf(path, sizeof path, "instances[%zu]", i);
			e = get_number(row, &out->x[i], path, err, errn);
			continue;
		}
		if (!json_object_is_type(row, json_type_array)) {
			e = fail(err, errn,
			         "instances[%zu]: expected an array of %d numbers, got %s", i,
			         n_inputs, json_type_to_name(json_object_get_type(row)));
			break;
		}
		size_t cols = json_object_array_length(row);
		if (cols != (size_t)n_inputs) {
			e = fail(err, errn, "instances[%zu] has %zu values; the model takes %d", i,
			         cols, n_inputs);
			break;
		}
		for (size_t j = 0; j < cols && !e; j++) {
			snprintf(path, sizeof path, "instances[%zu][%zu]", i, j);
			e = get_number(json_object_array_get_idx(row, j),
			               &out->x[i * (size_t)n_inputs + j], path, err, errn);
		}
	}
out:
	json_object_put(root);
	if (e) {
		free(out->x);
		memset(out, 0, sizeof *out);
	}
	return e;
}

/* ================================================================ V2 */

/* Flattens nested arrays of numbers into x[*n..cap); errors name the index. */
static enum aios_err flatten(struct json_object *a, float *x, size_t cap, size_t *n, int depth,
                             char *err, size_t errn)
{
	if (depth > 8)
		return fail(err, errn, "inputs[0].data: nested deeper than 8 levels");
	size_t len = json_object_array_length(a);
	for (size_t i = 0; i < len; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		if (json_object_is_type(v, json_type_array)) {
			if (flatten(v, x, cap, n, depth + 1, err, errn))
				return AIOS_ERR_INVALID;
			continue;
		}
		if (*n >= cap)
			return fail(err, errn,
			            "inputs[0].data has more than the %zu values its shape "
			            "holds",
			            cap);
		char path[48];
		snprintf(path, sizeof path, "inputs[0].data[%zu]", *n);
		if (get_number(v, &x[*n], path, err, errn))
			return AIOS_ERR_INVALID;
		(*n)++;
	}
	return AIOS_OK;
}

enum aios_err aios_proto_v2_parse(const char *body, size_t len, int n_inputs, int max_rows,
                                  struct aios_proto_batch *out, char *err, size_t errn)
{
	memset(out, 0, sizeof *out);
	if (over_row_cap(body, len, n_inputs, max_rows, err, errn))
		return AIOS_ERR_TOO_BIG;
	struct json_object *root, *v;
	if (parse_body(body, len, "infer request", &root, err, errn))
		return AIOS_ERR_INVALID;
	enum aios_err e = AIOS_OK;
	if (json_object_object_get_ex(root, "id", &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			e = fail(err, errn, "id: expected a string");
			goto out;
		}
		const char *id = json_object_get_string(v);
		if (strlen(id) >= AIOS_PROTO_ID_MAX) {
			e = fail(err, errn, "id: longer than %d bytes", AIOS_PROTO_ID_MAX - 1);
			goto out;
		}
		snprintf(out->id, sizeof out->id, "%s", id);
	}
	struct json_object *inputs;
	if (!json_object_object_get_ex(root, "inputs", &inputs) ||
	    !json_object_is_type(inputs, json_type_array)) {
		e = fail(err, errn, "missing \"inputs\": expected an array of one FP32 tensor");
		goto out;
	}
	if (json_object_array_length(inputs) != 1) {
		e = fail(err, errn, "inputs has %zu tensors; the model takes exactly 1",
		         json_object_array_length(inputs));
		goto out;
	}
	struct json_object *t = json_object_array_get_idx(inputs, 0);
	if (!json_object_is_type(t, json_type_object)) {
		e = fail(err, errn, "inputs[0]: expected an object {name, shape, datatype, data}");
		goto out;
	}
	if (!json_object_object_get_ex(t, "datatype", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		e = fail(err, errn, "inputs[0].datatype: missing; expected \"FP32\"");
		goto out;
	}
	if (strcmp(json_object_get_string(v), "FP32") != 0) {
		e = fail(err, errn, "inputs[0].datatype: %s is not supported; the model takes FP32",
		         json_object_get_string(v));
		goto out;
	}
	struct json_object *shape;
	if (!json_object_object_get_ex(t, "shape", &shape) ||
	    !json_object_is_type(shape, json_type_array)) {
		e = fail(err, errn, "inputs[0].shape: missing; expected [rows, %d]", n_inputs);
		goto out;
	}
	size_t nd = json_object_array_length(shape);
	int64_t dims[2] = {1, 0};
	if (nd != 1 && nd != 2) {
		e = fail(err, errn,
		         "inputs[0].shape has %zu dimensions; expected [rows, %d] or [%d]", nd,
		         n_inputs, n_inputs);
		goto out;
	}
	for (size_t i = 0; i < nd; i++) {
		struct json_object *d = json_object_array_get_idx(shape, i);
		if (!json_object_is_type(d, json_type_int) || json_object_get_int64(d) < 0) {
			e = fail(err, errn, "inputs[0].shape[%zu]: expected a non-negative integer",
			         i);
			goto out;
		}
		dims[nd == 1 ? 1 : i] = json_object_get_int64(d);
	}
	if (dims[1] != n_inputs) {
		e = fail(err, errn,
		         "inputs[0].shape: last dimension is %lld; the model takes %d inputs",
		         (long long)dims[1], n_inputs);
		goto out;
	}
	if (dims[0] == 0) {
		e = fail(err, errn, "inputs[0].shape: batch is empty (0 rows)");
		goto out;
	}
	struct json_object *data;
	if (!json_object_object_get_ex(t, "data", &data) ||
	    !json_object_is_type(data, json_type_array)) {
		e = fail(err, errn, "inputs[0].data: missing; expected an array of numbers");
		goto out;
	}
	/* a number takes at least 2 bytes ("0,"), so the body bounds the element count */
	if (dims[0] > (int64_t)(len / 2 + 1) / n_inputs) {
		e = fail(err, errn, "inputs[0].shape: %lld rows cannot fit in a %zu-byte body",
		         (long long)dims[0], len);
		goto out;
	}
	if (dims[0] > max_rows) {
		e = rows_over_cap((int)dims[0], max_rows, err, errn);
		goto out;
	}
	size_t want = (size_t)dims[0] * (size_t)n_inputs, got = 0;
	out->x = aios_xmalloc(sizeof(float) * want);
	e = flatten(data, out->x, want, &got, 0, err, errn);
	if (!e && got != want)
		e = fail(err, errn, "inputs[0].data has %zu values; shape [%lld, %d] needs %zu",
		         got, (long long)dims[0], n_inputs, want);
	out->rows = (int)dims[0];
	out->cols = n_inputs;
out:
	json_object_put(root);
	if (e) {
		free(out->x);
		memset(out, 0, sizeof *out);
	}
	return e;
}

/* ================================================================ encoding */

enum aios_err aios_proto_put_float(struct aios_buf *out, float v)
{
	char s[32];
	int n = snprintf(s, sizeof s, "%.9g", (double)v);
	if (!isfinite(v))
		n = snprintf(s, sizeof s, "null"); /* cannot happen for finite inputs; stays JSON */
	return aios_buf_append(out, s, (size_t)n);
}

static enum aios_err put_rows(struct aios_buf *out, const float *y, int rows, int cols, int nest)
{
	enum aios_err e = AIOS_OK;
	for (int i = 0; i < rows && !e; i++) {
		if (i)
			e = aios_buf_append(out, ",", 1);
		if (!e && nest)
			e = aios_buf_append(out, "[", 1);
		for (int j = 0; j < cols && !e; j++) {
			if (j)
				e = aios_buf_append(out, ",", 1);
			if (!e)
				e = aios_proto_put_float(out, y[(size_t)i * cols + j]);
		}
		if (!e && nest)
			e = aios_buf_append(out, "]", 1);
	}
	return e;
}

enum aios_err aios_proto_v1_encode(const float *y, int rows, int n_outputs, struct aios_buf *out)
{
	enum aios_err e = aios_buf_puts(out, "{\"predictions\":[");
	if (!e)
		e = put_rows(out, y, rows, n_outputs, n_outputs > 1);
	if (!e)
		e = aios_buf_puts(out, "]}");
	return e;
}

enum aios_err aios_proto_v2_encode(const char *model, const char *id, const float *y, int rows,
                                   int n_outputs, struct aios_buf *out)
{
	struct json_object *js = json_object_new_string(model);
	enum aios_err e =
	    aios_buf_printf(out, "{\"model_name\":%s,\"model_version\":\"1\",",
	                    json_object_to_json_string_ext(js, JSON_C_TO_STRING_PLAIN));
	json_object_put(js);
	if (!e && id && *id) {
		js = json_object_new_string(id);
		e = aios_buf_printf(out, "\"id\":%s,",
		                    json_object_to_json_string_ext(js, JSON_C_TO_STRING_PLAIN));
		json_object_put(js);
	}
	if (!e)
		e = aios_buf_printf(out,
		                    "\"outputs\":[{\"name\":\"output-0\",\"shape\":[%d,%d],"
		                    "\"datatype\":\"FP32\",\"data\":[",
		                    rows, n_outputs);
	if (!e)
		e = put_rows(out, y, rows, n_outputs, 0);
	if (!e)
		e = aios_buf_puts(out, "]}]}");
	return e;
}
