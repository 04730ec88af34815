/*
 * protocol.c - V1 and V2 request parsing and response encoding (protocol.h).
 *
 * The reference path goes through json-c (aios_json_parse: strict, depth-limited). NaN
 * and Infinity are not JSON; json-c refuses them in strict mode, and the message says
 * so rather than "malformed JSON" because that is what a client that sent NaN needs.
 *
 * The fast path exists because json-c builds an object per number (~45 bytes, an
 * allocation, a locale switch per double), which made it the largest cost of a batched
 * request. It finds the tensor's array in the raw bytes (root.instances for V1,
 * root.inputs[0].data for V2) with a scanner that tracks strings and brackets, reads
 * that array into floats, and hands json-c the body with the array replaced by "[]"
 * (for V1's plain {"instances": [...]} not even that). It only ever answers "yes, and
 * here are the floats": on anything it does not take, or any refusal at all, the body
 * goes through the reference path from the start, so errors are the reference path's.
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
 * comma, so commas + 1 bounds the numbers a body can carry (*values, which also sizes
 * the fast path's buffer). A body with more than max_rows rows' worth (plus slack for
 * the object's own commas) is refused before json-c builds its ~45 bytes per number,
 * which is what bounds parse memory.
 */
#define ROW_CAP_SLACK 64 /* commas between keys, in ids and parameters */
static enum aios_err over_row_cap(const char *body, size_t len, int n_inputs, int max_rows,
                                  size_t *values, char *err, size_t errn)
{
	size_t commas = 0;
	for (const char *p = body, *e = body + len; (p = memchr(p, ',', (size_t)(e - p))); p++)
		commas++;
	*values = commas + 1;
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

/* ================================================================ numbers */

/*
 * Decimal to float, correctly rounded. Most numbers a client sends have few digits: a
 * significand w < 2^53 and a power of ten 10^k with |k| <= 22 are both exact doubles,
 * so w * 10^k (or w / 10^k) is one correctly rounded double operation (Clinger's fast
 * path). Rounding that double to float again is exact too unless the double sits
 * exactly on the midpoint between two floats (a midpoint is a double, so a nearer one
 * would have been chosen otherwise); those, long significands and far exponents go to
 * strtof (correctly rounded in glibc; aios-serve never calls setlocale, so the decimal
 * point is '.').
 */
static const double pow10_tab[54] = {/* exact up to 1e22; correctly rounded beyond */
                                     1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                                     1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
                                     1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26,
                                     1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35,
                                     1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44,
                                     1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52, 1e53};

#define IS_DIGIT(c) ((unsigned)((c) - '0') < 10u)

/* 1 if d (>= 0) is a float midpoint or too small for the test (float subnormals). */
static int float_midpoint(double d)
{
	if (d < 0x1p-126)
		return d != 0;
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	return (bits & ((1ull << 29) - 1)) == (1ull << 28); /* 53 - 24 bits below a float's */
}

static int strtof_span(const char *s, size_t n, float *out)
{
	char tmp[64], *buf = n < sizeof tmp ? tmp : aios_xmalloc(n + 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *end;
	float f = strtof(buf, &end);
	int ok = end == buf + n && isfinite(f);
	if (buf != tmp)
		free(buf);
	*out = f;
	return ok;
}

size_t aios_proto_parse_float(const char *s, size_t n, float *out)
{
	const char *p = s, *e = s + n;
	int neg = 0, is_int = 1, truncated = 0, int_over = 0, nd = 0;
	uint64_t w = 0, iv = 0; /* significand (19 digits at most), integer value */
	long exp10 = 0;
	if (p < e && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= e || !IS_DIGIT(*p))
		return 0;
	if (*p == '0') {
		p++;
	} else {
		for (; p < e && IS_DIGIT(*p); p++) {
			unsigned d = (unsigned)(*p - '0');
			if (__builtin_mul_overflow(iv, 10, &iv) ||
			    __builtin_add_overflow(iv, d, &iv))
				int_over = 1;
			if (nd < 19) {
				w = w * 10 + d;
				nd++;
			} else {
				exp10++;
				truncated |= d != 0;
			}
		}
	}
	if (p < e && *p == '.') {
		is_int = 0;
		if (++p >= e || !IS_DIGIT(*p))
			return 0;
		for (; p < e && IS_DIGIT(*p); p++) {
			unsigned d = (unsigned)(*p - '0');
			if (w == 0 && d == 0) {
				exp10--; /* a leading zero of the significand */
			} else if (nd < 19) {
				w = w * 10 + d;
				nd++;
				exp10--;
			} else {
				truncated |= d != 0;
			}
		}
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		is_int = 0;
		int eneg = 0;
		long ev = 0;
		if (++p < e && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= e || !IS_DIGIT(*p))
			return 0;
		for (; p < e && IS_DIGIT(*p); p++)
			if (ev < 100000) /* far past any float: saturate */
				ev = ev * 10 + (*p - '0');
		exp10 += eneg ? -ev : ev;
	}
	size_t len = (size_t)(p - s);
	if (is_int) {
		/* json-c: int64 for negatives, uint64 otherwise; out of range is refused */
		if (int_over || (neg && iv > (uint64_t)INT64_MAX + 1))
			return 0;
		float f = (float)iv;
		*out = neg && iv ? -f : f;
		return len;
	}
	if (!truncated && w <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
		double d = exp10 < 0 ? (double)w / pow10_tab[-exp10] : (double)w * pow10_tab[exp10];
		if (!float_midpoint(d)) {
			float f = (float)d;
			*out = neg ? -f : f;
			return len;
		}
	}
	return strtof_span(s, len, out) ? len : 0;
}

/* Reads a finite number from a json-c value; path names it in errors. */
static enum aios_err get_number(struct json_object *v, float *out, const char *path, char *err,
                                size_t errn)
{
	json_type t = json_object_get_type(v);
	if (t != json_type_double && t != json_type_int)
		return fail(err, errn, "%s: expected a number, got %s", path,
		            t == json_type_string ? "a string" : json_type_to_name(t));
	double d = json_object_get_double(v);
	if (isnan(d))
		return fail(err, errn, "%s: NaN is not allowed; inputs must be finite numbers",
		            path);
	float f;
	if (t == json_type_int) {
		/* int64, or uint64 past INT64_MAX: straight to float (no double rounding) */
		int64_t i = json_object_get_int64(v);
		f = i == INT64_MAX ? (float)json_object_get_uint64(v) : (float)i;
	} else if (!isfinite(d)) {
		f = (float)d;
	} else {
		/* json-c keeps a parsed double's text: round that once, to float, as the fast
		 * path does (the double json-c made would round twice) */
		const char *text = json_object_get_string(v);
		f = text ? strtof(text, NULL) : (float)d;
	}
	if (!isfinite(d) || !isfinite(f))
		return fail(err, errn, "%s: %g is not a finite FP32 number", path, d);
	*out = f;
	return AIOS_OK;
}

/* ================================================================ the fast path's scanner */

static const char *ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at '"': the end of the string (past its quote), or NULL if it does not end. */
static const char *skip_string(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\') {
			if (++p >= e)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/*
 * Skips one value at p without validating it (json-c does that, later): strings and
 * brackets are followed, scalars run to the next delimiter. NULL where the scanner
 * could misread the structure json-c sees: a single quote (json-c takes 'keys'), a
 * '/' (comments), an unterminated string or container.
 */
static const char *skip_value(const char *p, const char *e)
{
	if (p >= e)
		return NULL;
	if (*p == '"')
		return skip_string(p, e);
	if (*p != '{' && *p != '[') {
		const char *s = p;
		while (p < e && !strchr(",]} \t\r\n", *p)) {
			if (*p == '"' || *p == '\'' || *p == '/' || *p == '{' || *p == '[')
				return NULL;
			p++;
		}
		return p > s ? p : NULL;
	}
	int depth = 0;
	while (p < e) {
		char c = *p;
		if (c == '"') {
			if (!(p = skip_string(p, e)))
				return NULL;
			continue;
		}
		if (c == '\'' || c == '/')
			return NULL;
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return NULL;
}

/*
 * p at '"': a key. Sets [*k, *kn) to its raw bytes and returns the position after the
 * ':' and whitespace, or NULL (also for a key holding an escape: "d\u0061ta" is "data"
 * to json-c, and the scanner compares raw bytes).
 */
static const char *key(const char *p, const char *e, const char **k, size_t *kn)
{
	const char *t = skip_string(p, e);
	if (!t || memchr(p + 1, '\\', (size_t)(t - 1 - (p + 1))))
		return NULL;
	*k = p + 1;
	*kn = (size_t)(t - 1 - (p + 1));
	t = ws(t, e);
	if (t >= e || *t != ':')
		return NULL;
	return ws(t + 1, e);
}

static int key_is(const char *k, size_t kn, const char *want)
{
	return kn == strlen(want) && memcmp(k, want, kn) == 0;
}

/* One number into x[*n], cap being x's room; returns the end or NULL. */
static const char *one_number(const char *p, const char *e, float *x, size_t cap, size_t *n)
{
	if (*n >= cap)
		return NULL;
	size_t k = aios_proto_parse_float(p, (size_t)(e - p), &x[*n]);
	if (!k)
		return NULL;
	(*n)++;
	return p + k;
}

/*
 * After an array's element: past the ',' and whitespace (*end = 0) or past the ']'
 * (*end = 1); NULL on anything else.
 */
static const char *after_element(const char *p, const char *e, int *end)
{
	p = ws(p, e);
	*end = p < e && *p == ']';
	if (*end)
		return p + 1;
	if (p >= e || *p != ',')
		return NULL;
	return ws(p + 1, e);
}

/*
 * p at '[': a V2 data array, numbers nested in arrays up to 8 levels below it (as
 * flatten() takes them), flattened into x. Returns the end or NULL.
 */
#define V2_MAX_NEST 8
static const char *num_array(const char *p, const char *e, float *x, size_t cap, size_t *n,
                             int depth)
{
	p = ws(p + 1, e);
	if (p < e && *p == ']')
		return p + 1;
	for (;;) {
		if (p >= e)
			return NULL;
		if (*p == '[') {
			if (depth >= V2_MAX_NEST)
				return NULL;
			p = num_array(p, e, x, cap, n, depth + 1);
		} else {
			p = one_number(p, e, x, cap, n);
		}
		if (!p)
			return NULL;
		int end;
		if (!(p = after_element(p, e, &end)) || end)
			return p;
	}
}

/*
 * p at '[': V1 instances, each an array of n_inputs numbers (or a bare number when
 * n_inputs is 1), at least one. Returns the end or NULL; *rows counts them.
 */
static const char *v1_rows(const char *p, const char *e, int n_inputs, float *x, size_t cap,
                           int *rows)
{
	size_t n = 0;
	*rows = 0;
	p = ws(p + 1, e);
	for (;;) {
		if (p >= e)
			return NULL;
		if (*p == '[') {
			p = ws(p + 1, e);
			for (int j = 0; j < n_inputs; j++) {
				if (j) {
					if (p >= e || *p != ',')
						return NULL;
					p = ws(p + 1, e);
				}
				if (!(p = one_number(p, e, x, cap, &n)))
					return NULL;
				p = ws(p, e);
			}
			if (p >= e || *p != ']')
				return NULL;
			p++;
		} else if (n_inputs != 1 || !(p = one_number(p, e, x, cap, &n))) {
			return NULL;
		}
		if (*rows == INT32_MAX)
			return NULL;
		++*rows;
		int end;
		if (!(p = after_element(p, e, &end)) || end)
			return p;
	}
}

/* The tensor's array found in the raw body: body[s..t) */
struct span {
	size_t s, t;
};

/*
 * Walks the root object, calling found() on the value of the key `want` (its one
 * occurrence: a second one makes json-c take the last, so it is refused) and skipping
 * the rest. found() reads the value at p and returns its end or NULL. Returns 1 with
 * the value's span and *keys (how many keys the root has), or 0.
 */
typedef const char *(*value_fn)(const char *p, const char *e, void *ctx);
static int scan_object(const char *body, const char *p, const char *e, const char *want,
                       value_fn found, void *ctx, struct span *sp, int *keys, const char **end)
{
	int seen = 0;
	*keys = 0;
	p = ws(p, e);
	if (p >= e || *p != '{')
		return 0;
	p = ws(p + 1, e);
	if (p < e && *p == '}')
		return 0;
	for (;;) {
		const char *k;
		size_t kn;
		if (p >= e || *p != '"' || !(p = key(p, e, &k, &kn)))
			return 0;
		if (key_is(k, kn, want)) {
			if (seen++)
				return 0;
			sp->s = (size_t)(p - body);
			p = found(p, e, ctx);
			if (p)
				sp->t = (size_t)(p - body);
		} else {
			p = skip_value(p, e);
		}
		if (!p)
			return 0;
		++*keys;
		p = ws(p, e);
		if (p < e && *p == '}')
			break;
		if (p >= e || *p != ',')
			return 0;
		p = ws(p + 1, e);
	}
	*end = p + 1;
	return seen;
}

struct fast_ctx {
	const char *body;
	int n_inputs;
	float *x;
	size_t cap, n;
	int rows;
	struct span data; /* V2: inputs[0].data */
};

static const char *v1_found(const char *p, const char *e, void *ctx)
{
	struct fast_ctx *c = ctx;
	if (p >= e || *p != '[')
		return NULL;
	p = v1_rows(p, e, c->n_inputs, c->x, c->cap, &c->rows);
	c->n = (size_t)c->rows * (size_t)c->n_inputs;
	return p;
}

static const char *data_found(const char *p, const char *e, void *ctx)
{
	struct fast_ctx *c = ctx;
	if (p >= e || *p != '[')
		return NULL;
	return num_array(p, e, c->x, c->cap, &c->n, 0);
}

/* inputs: an array whose element 0 is an object with "data"; later elements skipped. */
static const char *inputs_found(const char *p, const char *e, void *ctx)
{
	struct fast_ctx *c = ctx;
	if (p >= e || *p != '[')
		return NULL;
	p = ws(p + 1, e);
	int keys;
	const char *end;
	if (!scan_object(c->body, p, e, "data", data_found, c, &c->data, &keys, &end))
		return NULL;
	for (p = ws(end, e); p < e && *p == ','; p = ws(p, e))
		if (!(p = skip_value(ws(p + 1, e), e)))
			return NULL;
	return p < e && *p == ']' ? p + 1 : NULL;
}

/*
 * The body with body[sp.s..sp.t) replaced by "[]", for json-c to check the rest. A
 * valid document stays valid and keeps its meaning elsewhere; an invalid one stays
 * invalid (what is replaced is a complete array).
 */
static char *without_span(const char *body, size_t len, struct span sp, size_t *n)
{
	*n = sp.s + 2 + (len - sp.t);
	char *s = aios_xmalloc(*n + 1);
	memcpy(s, body, sp.s);
	memcpy(s + sp.s, "[]", 2);
	memcpy(s + sp.s + 2, body + sp.t, len - sp.t);
	s[*n] = '\0';
	return s;
}

/* ================================================================ V1 */

static enum aios_err v1_ref(const char *body, size_t len, int n_inputs, int max_rows,
                            struct aios_proto_batch *out, char *err, size_t errn)
{
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
	return e;
}

/*
 * The fast path for V1: 1 with out filled, or 0 (nothing kept). A body that is just
 * {"instances": [...]} was checked whole by the scanner; any other key goes to json-c
 * with the instances replaced.
 */
static int v1_fast(const char *body, size_t len, int n_inputs, size_t values,
                   struct aios_proto_batch *out)
{
	const char *e = body + len, *end;
	struct fast_ctx c = {.body = body, .n_inputs = n_inputs, .cap = values};
	c.x = aios_xmalloc(sizeof(float) * values);
	struct span sp;
	int keys;
	if (!scan_object(body, body, e, "instances", v1_found, &c, &sp, &keys, &end))
		goto no;
	if (keys != 1 || ws(end, e) != e) {
		size_t n;
		char *rest = without_span(body, len, sp, &n);
		struct json_object *root, *inst;
		int ok = aios_json_parse(rest, n, "predict request", &root) == AIOS_OK;
		free(rest);
		if (!ok)
			goto no;
		ok = json_object_is_type(root, json_type_object) &&
		     json_object_object_get_ex(root, "instances", &inst) &&
		     json_object_is_type(inst, json_type_array) &&
		     json_object_array_length(inst) == 0;
		json_object_put(root);
		if (!ok)
			goto no;
	}
	out->x = c.x;
	out->rows = c.rows;
	out->cols = n_inputs;
	return 1;
no:
	free(c.x);
	return 0;
}

static enum aios_err v1_parse(const char *body, size_t len, int n_inputs, int max_rows, int fast,
                              struct aios_proto_batch *out, char *err, size_t errn)
{
	memset(out, 0, sizeof *out);
	size_t values;
	if (over_row_cap(body, len, n_inputs, max_rows, &values, err, errn))
		return AIOS_ERR_TOO_BIG;
	enum aios_err e;
	if (fast && v1_fast(body, len, n_inputs, values, out))
		e = rows_over_cap(out->rows, max_rows, err, errn);
	else
		e = v1_ref(body, len, n_inputs, max_rows, out, err, errn);
	if (e) {
		free(out->x);
		memset(out, 0, sizeof *out);
	}
	return e;
}

enum aios_err aios_proto_v1_parse(const char *body, size_t len, int n_inputs, int max_rows,
                                  struct aios_proto_batch *out, char *err, size_t errn)
{
	return v1_parse(body, len, n_inputs, max_rows, 1, out, err, errn);
}

enum aios_err aios_proto_v1_parse_ref(const char *body, size_t len, int n_inputs, int max_rows,
                                      struct aios_proto_batch *out, char *err, size_t errn)
{
	return v1_parse(body, len, n_inputs, max_rows, 0, out, err, errn);
}

/* ================================================================ V2 */

/* Flattens nested arrays of numbers into x[*n..cap); errors name the index. */
static enum aios_err flatten(struct json_object *a, float *x, size_t cap, size_t *n, int depth,
                             char *err, size_t errn)
{
	if (depth > V2_MAX_NEST)
		return fail(err, errn, "inputs[0].data: nested deeper than %d levels", V2_MAX_NEST);
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

/* Where the tensor's numbers come from. */
struct v2_src {
	size_t len;        /* the JSON's length in the request (bounds the rows) */
	const float *fast; /* the fast path's floats (data was replaced by "[]"), or NULL */
	size_t fast_n;     /* how many */
	int framed;        /* the request carried Inference-Header-Content-Length */
	const char *bin;   /* the binary part */
	size_t bin_len;
};

/* 1/0 from an optional boolean at o[name]; path names it in errors. */
static enum aios_err opt_bool(struct json_object *o, const char *name, const char *path, int *v,
                              char *err, size_t errn)
{
	struct json_object *b;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, name, &b))
		return AIOS_OK;
	if (!json_object_is_type(b, json_type_boolean))
		return fail(err, errn, "%s.%s: expected true or false", path, name);
	*v = json_object_get_boolean(b);
	return AIOS_OK;
}

/* Whether the response goes out binary: the request's parameters, then its outputs. */
static enum aios_err v2_binary_out(struct json_object *root, int *bin, char *err, size_t errn)
{
	struct json_object *v;
	*bin = 0;
	if (json_object_object_get_ex(root, "parameters", &v) &&
	    opt_bool(v, "binary_data_output", "parameters", bin, err, errn))
		return AIOS_ERR_INVALID;
	if (!json_object_object_get_ex(root, "outputs", &v) ||
	    !json_object_is_type(v, json_type_array))
		return AIOS_OK;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		struct json_object *o = json_object_array_get_idx(v, i), *name, *params;
		if (!json_object_object_get_ex(o, "name", &name) ||
		    !json_object_is_type(name, json_type_string) ||
		    strcmp(json_object_get_string(name), "output-0") != 0 ||
		    !json_object_object_get_ex(o, "parameters", &params))
			continue; /* outputs the model does not have are ignored */
		char path[48];
		snprintf(path, sizeof path, "outputs[%zu].parameters", i);
		if (opt_bool(params, "binary_data", path, bin, err, errn))
			return AIOS_ERR_INVALID;
	}
	return AIOS_OK;
}

/* The binary part into out->x: exactly want floats, little-endian, finite. */
static enum aios_err v2_binary_in(struct json_object *t, const int64_t dims[2], int n_inputs,
                                  int max_rows, const struct v2_src *src,
                                  struct aios_proto_batch *out, char *err, size_t errn)
{
	struct json_object *params, *size, *data;
	json_object_object_get_ex(t, "parameters", &params);
	json_object_object_get_ex(params, "binary_data_size", &size);
	if (json_object_object_get_ex(t, "data", &data))
		return fail(err, errn,
		            "inputs[0]: both \"data\" and parameters.binary_data_size; send one");
	if (!src->framed)
		return fail(err, errn,
		            "inputs[0].parameters.binary_data_size is set but the request has no "
		            "binary part (no Inference-Header-Content-Length header)");
	if (!json_object_is_type(size, json_type_int) || json_object_get_int64(size) < 0)
		return fail(err, errn,
		            "inputs[0].parameters.binary_data_size: expected a non-negative "
		            "integer (bytes)");
	int64_t n = json_object_get_int64(size);
	if (n == INT64_MAX || (uint64_t)n != src->bin_len)
		return fail(err, errn,
		            "inputs[0].parameters.binary_data_size is %lld bytes but the binary "
		            "part after the %zu-byte JSON header holds %zu",
		            (long long)n, src->len, src->bin_len);
	if (dims[0] > max_rows)
		return rows_over_cap((int)(dims[0] > INT32_MAX ? INT32_MAX : dims[0]), max_rows,
		                     err, errn);
	int64_t need = dims[0] * n_inputs * 4; /* dims[0] <= max_rows: no overflow */
	if (need != n)
		return fail(err, errn,
		            "inputs[0].parameters.binary_data_size is %lld bytes; shape [%lld, %d] "
		            "of FP32 needs %lld",
		            (long long)n, (long long)dims[0], n_inputs, (long long)need);
	size_t want = (size_t)dims[0] * (size_t)n_inputs;
	out->x = aios_xmalloc(sizeof(float) * want);
	const unsigned char *b = (const unsigned char *)src->bin;
	for (size_t i = 0; i < want; i++, b += 4) {
		uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		             (uint32_t)b[3] << 24;
		memcpy(&out->x[i], &u, sizeof u);
		if (!isfinite(out->x[i]))
			return fail(err, errn,
			            "inputs[0]: binary element %zu is %s; inputs must be finite "
			            "numbers",
			            i, isnan(out->x[i]) ? "NaN" : "infinite");
	}
	return AIOS_OK;
}

/* Everything but the JSON parse: the tree's checks, then the numbers from src. */
static enum aios_err v2_decode(struct json_object *root, const struct v2_src *src, int n_inputs,
                               int max_rows, struct aios_proto_batch *out, char *err, size_t errn)
{
	struct json_object *v;
	if (json_object_object_get_ex(root, "id", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return fail(err, errn, "id: expected a string");
		const char *id = json_object_get_string(v);
		if (strlen(id) >= AIOS_PROTO_ID_MAX)
			return fail(err, errn, "id: longer than %d bytes", AIOS_PROTO_ID_MAX - 1);
		snprintf(out->id, sizeof out->id, "%s", id);
	}
	struct json_object *inputs;
	if (!json_object_object_get_ex(root, "inputs", &inputs) ||
	    !json_object_is_type(inputs, json_type_array))
		return fail(err, errn, "missing \"inputs\": expected an array of one FP32 tensor");
	if (json_object_array_length(inputs) != 1)
		return fail(err, errn, "inputs has %zu tensors; the model takes exactly 1",
		            json_object_array_length(inputs));
	struct json_object *t = json_object_array_get_idx(inputs, 0);
	if (!json_object_is_type(t, json_type_object))
		return fail(err, errn,
		            "inputs[0]: expected an object {name, shape, datatype, data}");
	if (!json_object_object_get_ex(t, "datatype", &v) ||
	    !json_object_is_type(v, json_type_string))
		return fail(err, errn, "inputs[0].datatype: missing; expected \"FP32\"");
	if (strcmp(json_object_get_string(v), "FP32") != 0)
		return fail(err, errn,
		            "inputs[0].datatype: %s is not supported; the model takes FP32",
		            json_object_get_string(v));
	struct json_object *shape;
	if (!json_object_object_get_ex(t, "shape", &shape) ||
	    !json_object_is_type(shape, json_type_array))
		return fail(err, errn, "inputs[0].shape: missing; expected [rows, %d]", n_inputs);
	size_t nd = json_object_array_length(shape);
	int64_t dims[2] = {1, 0};
	if (nd != 1 && nd != 2)
		return fail(err, errn,
		            "inputs[0].shape has %zu dimensions; expected [rows, %d] or [%d]", nd,
		            n_inputs, n_inputs);
	for (size_t i = 0; i < nd; i++) {
		struct json_object *d = json_object_array_get_idx(shape, i);
		if (!json_object_is_type(d, json_type_int) || json_object_get_int64(d) < 0)
			return fail(err, errn,
			            "inputs[0].shape[%zu]: expected a non-negative integer", i);
		dims[nd == 1 ? 1 : i] = json_object_get_int64(d);
	}
	if (dims[1] != n_inputs)
		return fail(err, errn,
		            "inputs[0].shape: last dimension is %lld; the model takes %d inputs",
		            (long long)dims[1], n_inputs);
	if (dims[0] == 0)
		return fail(err, errn, "inputs[0].shape: batch is empty (0 rows)");
	if (v2_binary_out(root, &out->binary_out, err, errn))
		return AIOS_ERR_INVALID;
	out->rows = (int)(dims[0] > INT32_MAX ? INT32_MAX : dims[0]);
	out->cols = n_inputs;
	struct json_object *params;
	if (json_object_object_get_ex(t, "parameters", &params) &&
	    json_object_is_type(params, json_type_object) &&
	    json_object_object_get_ex(params, "binary_data_size", &v))
		return v2_binary_in(t, dims, n_inputs, max_rows, src, out, err, errn);
	if (src->bin_len)
		return fail(err, errn,
		            "the binary part holds %zu bytes but inputs[0] declares no "
		            "parameters.binary_data_size",
		            src->bin_len);
	struct json_object *data;
	if (!json_object_object_get_ex(t, "data", &data) ||
	    !json_object_is_type(data, json_type_array))
		return fail(err, errn,
		            "inputs[0].data: missing; expected an array of numbers (or "
		            "parameters.binary_data_size with the binary extension)");
	/* a number takes at least 2 bytes ("0,"), so the body bounds the element count */
	if (dims[0] > (int64_t)(src->len / 2 + 1) / n_inputs)
		return fail(err, errn, "inputs[0].shape: %lld rows cannot fit in a %zu-byte body",
		            (long long)dims[0], src->len);
	if (dims[0] > max_rows)
		return rows_over_cap((int)dims[0], max_rows, err, errn);
	size_t want = (size_t)dims[0] * (size_t)n_inputs, got = 0;
	if (src->fast) { /* any mismatch: the reference path says what is wrong */
		if (json_object_array_length(data) != 0 || src->fast_n != want)
			return AIOS_ERR_INVALID;
		return AIOS_OK;
	}
	out->x = aios_xmalloc(sizeof(float) * want);
	enum aios_err e = flatten(data, out->x, want, &got, 0, err, errn);
	if (!e && got != want)
		e = fail(err, errn, "inputs[0].data has %zu values; shape [%lld, %d] needs %zu",
		         got, (long long)dims[0], n_inputs, want);
	return e;
}

static enum aios_err v2_ref(const char *body, size_t len, size_t json_len, int n_inputs,
                            int max_rows, struct aios_proto_batch *out, char *err, size_t errn)
{
	struct v2_src src = {.len = json_len == AIOS_PROTO_NO_BINARY ? len : json_len};
	if (json_len != AIOS_PROTO_NO_BINARY) {
		src.framed = 1;
		src.bin = body + json_len;
		src.bin_len = len - json_len;
	}
	struct json_object *root;
	if (parse_body(body, src.len, "infer request", &root, err, errn))
		return AIOS_ERR_INVALID;
	enum aios_err e = v2_decode(root, &src, n_inputs, max_rows, out, err, errn);
	json_object_put(root);
	return e;
}

/* The fast path for V2 JSON data: 1 with out filled, or 0 (nothing kept). */
static int v2_fast(const char *body, size_t len, int n_inputs, int max_rows, size_t values,
                   struct aios_proto_batch *out)
{
	const char *end;
	struct fast_ctx c = {.body = body, .n_inputs = n_inputs, .cap = values};
	c.x = aios_xmalloc(sizeof(float) * values);
	struct span sp;
	int keys, ok = 0;
	if (!scan_object(body, body, body + len, "inputs", inputs_found, &c, &sp, &keys, &end) ||
	    ws(end, body + len) != body + len)
		goto out;
	size_t n;
	char *rest = without_span(body, len, c.data, &n);
	struct json_object *root;
	ok = aios_json_parse(rest, n, "infer request", &root) == AIOS_OK;
	free(rest);
	if (!ok)
		goto out;
	char err[8]; /* unused: a refusal is explained by the reference path */
	struct v2_src src = {.len = len, .fast = c.x, .fast_n = c.n};
	ok = json_object_is_type(root, json_type_object) &&
	     v2_decode(root, &src, n_inputs, max_rows, out, err, sizeof err) == AIOS_OK;
	json_object_put(root);
out:
	if (ok) {
		out->x = c.x;
		return 1;
	}
	free(c.x);
	if (out->x != c.x)
		free(out->x);
	memset(out, 0, sizeof *out);
	return 0;
}

static enum aios_err v2_parse(const char *body, size_t len, size_t json_len, int n_inputs,
                              int max_rows, int fast, struct aios_proto_batch *out, char *err,
                              size_t errn)
{
	memset(out, 0, sizeof *out);
	if (json_len != AIOS_PROTO_NO_BINARY && json_len > len)
		return fail(err, errn,
		            "Inference-Header-Content-Length is %zu but the body holds only %zu "
		            "bytes",
		            json_len, len);
	size_t jl = json_len == AIOS_PROTO_NO_BINARY ? len : json_len, values;
	if (over_row_cap(body, jl, n_inputs, max_rows, &values, err, errn))
		return AIOS_ERR_TOO_BIG;
	enum aios_err e = AIOS_OK;
	if (!fast || json_len != AIOS_PROTO_NO_BINARY ||
	    !v2_fast(body, len, n_inputs, max_rows, values, out))
		e = v2_ref(body, len, json_len, n_inputs, max_rows, out, err, errn);
	if (e) {
		free(out->x);
		memset(out, 0, sizeof *out);
	}
	return e;
}

enum aios_err aios_proto_v2_parse(const char *body, size_t len, int n_inputs, int max_rows,
                                  struct aios_proto_batch *out, char *err, size_t errn)
{
	return v2_parse(body, len, AIOS_PROTO_NO_BINARY, n_inputs, max_rows, 1, out, err, errn);
}

enum aios_err aios_proto_v2_parse_binary(const char *body, size_t len, size_t json_len,
                                         int n_inputs, int max_rows, struct aios_proto_batch *out,
                                         char *err, size_t errn)
{
	return v2_parse(body, len, json_len, n_inputs, max_rows, 1, out, err, errn);
}

enum aios_err aios_proto_v2_parse_ref(const char *body, size_t len, size_t json_len, int n_inputs,
                                      int max_rows, struct aios_proto_batch *out, char *err,
                                      size_t errn)
{
	return v2_parse(body, len, json_len, n_inputs, max_rows, 0, out, err, errn);
}

enum aios_err aios_proto_v2_header_length(const char *value, size_t body_len, size_t *json_len,
                                          char *err, size_t errn)
{
	size_t n = 0;
	int over = 0;
	const char *p = value;
	if (!*p)
		return fail(err, errn,
		            "Inference-Header-Content-Length is empty; expected the JSON header's "
		            "length in bytes");
	for (; *p; p++) {
		if (!IS_DIGIT(*p))
			return fail(
			    err, errn,
			    "Inference-Header-Content-Length: \"%.40s\" is not a byte count "
			    "(decimal digits only)",
			    value);
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, (size_t)(*p - '0'), &n))
			over = 1;
	}
	if (over || n > body_len)
		return fail(err, errn,
		            "Inference-Header-Content-Length is %.40s but the body holds only %zu "
		            "bytes",
		            value, body_len);
	*json_len = n;
	return AIOS_OK;
}

/* ================================================================ encoding */

/*
 * %.9g of a finite float, without printf (which cost as much as the rest of a batched
 * response). The 9 digits are v * 10^k rounded to an integer in [1e8, 1e9): for a float
 * (|k| <= 54) that product is one double operation on a correctly rounded power of ten,
 * so it is within 2.2e-7 of the exact value; only a fraction within 1e-6 of .5 could
 * round either way, and those (one in ~500,000, exact ties among them) go to snprintf,
 * as does anything unexpected. Tests compare it with snprintf on millions of floats.
 */
static int g9(float v, char *s)
{
	double d = v;
	int n = 0;
	if (signbit(d)) {
		s[n++] = '-';
		d = -d;
	}
	if (d == 0) {
		s[n++] = '0';
		return n;
	}
	int x = (ilogb(d) * 78913) >> 18; /* floor(log2(d) * log10(2)): 10^x <= d */
	double t;
	for (int tries = 0;; tries++) {
		int k = 8 - x;
		if (k > 53 || k < -53 || tries > 1)
			return snprintf(s, 32, "%.9g", (double)v);
		t = k >= 0 ? d * pow10_tab[k] : d / pow10_tab[-k];
		if (t < 1e9)
			break;
		x++;
	}
	double fl = floor(t), fr = t - fl;
	if (fabs(fr - 0.5) < 1e-6)
		return snprintf(s, 32, "%.9g", (double)v);
	uint32_t dig = (uint32_t)fl + (fr > 0.5);
	if (dig == 1000000000u) {
		dig = 100000000u;
		x++;
	}
	if (dig < 100000000u)
		return snprintf(s, 32, "%.9g", (double)v);
	char dd[9];
	for (int i = 8; i >= 0; i--, dig /= 10)
		dd[i] = (char)('0' + dig % 10);
	int nd = 9; /* significant digits left once trailing zeros go, as %g drops them */
	while (nd > 1 && dd[nd - 1] == '0')
		nd--;
	if (x < -4 || x >= 9) {
		s[n++] = dd[0];
		if (nd > 1) {
			s[n++] = '.';
			memcpy(s + n, dd + 1, (size_t)nd - 1);
			n += nd - 1;
		}
		s[n++] = 'e';
		s[n++] = x < 0 ? '-' : '+';
		int ax = x < 0 ? -x : x;
		s[n++] = (char)('0' + ax / 10);
		s[n++] = (char)('0' + ax % 10);
	} else if (x >= 0) {
		memcpy(s + n, dd, (size_t)x + 1);
		n += x + 1;
		if (nd > x + 1) {
			s[n++] = '.';
			memcpy(s + n, dd + x + 1, (size_t)(nd - x - 1));
			n += nd - x - 1;
		}
	} else {
		s[n++] = '0';
		s[n++] = '.';
		for (int i = 0; i < -x - 1; i++)
			s[n++] = '0';
		memcpy(s + n, dd, (size_t)nd);
		n += nd;
	}
	return n;
}

enum aios_err aios_proto_put_float(struct aios_buf *out, float v)
{
	char s[32];
	int n;
	if (isfinite(v))
		n = g9(v, s);
	else
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

/* {"model_name":..,"model_version":"1",("id":..,)"outputs":[{"name":"output-0",..,"FP32", */
static enum aios_err v2_head(const char *model, const char *id, int rows, int n_outputs,
                             struct aios_buf *out)
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
		                    "\"datatype\":\"FP32\",",
		                    rows, n_outputs);
	return e;
}

enum aios_err aios_proto_v2_encode(const char *model, const char *id, const float *y, int rows,
                                   int n_outputs, struct aios_buf *out)
{
	enum aios_err e = v2_head(model, id, rows, n_outputs, out);
	if (!e)
		e = aios_buf_puts(out, "\"data\":[");
	if (!e)
		e = put_rows(out, y, rows, n_outputs, 0);
	if (!e)
		e = aios_buf_puts(out, "]}]}");
	return e;
}

enum aios_err aios_proto_v2_encode_binary(const char *model, const char *id, const float *y,
                                          int rows, int n_outputs, struct aios_buf *out,
                                          size_t *json_len)
{
	size_t start = out->len, n = (size_t)rows * (size_t)n_outputs;
	enum aios_err e = v2_head(model, id, rows, n_outputs, out);
	if (!e)
		e = aios_buf_printf(out, "\"parameters\":{\"binary_data_size\":%zu}}]}", n * 4);
	if (e)
		return e;
	*json_len = out->len - start;
	for (size_t i = 0; i < n && !e; i++) {
		uint32_t u;
		memcpy(&u, &y[i], sizeof u);
		unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8),
		                      (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
		e = aios_buf_append(out, b, 4);
	}
	return e;
}
