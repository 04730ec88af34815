/*
 * json.c - bounded parsing and path getters over json-c (see json.h).
 */
#include "json.h"

#include <math.h>
#include <string.h>

enum aios_err aios_json_parse(const char *s, size_t len, const char *what, struct json_object **out)
{
	*out = NULL;
	if (len > INT32_MAX)
		return aios_fail(AIOS_ERR_TOO_BIG, "%s: %zu bytes is too large to parse", what,
		                 len);
	struct json_tokener *tok = json_tokener_new_ex(AIOS_JSON_MAX_DEPTH);
	if (!tok)
		return aios_fail(AIOS_ERR_NOMEM, "%s: cannot allocate parser", what);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *o = json_tokener_parse_ex(tok, s, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t end_at = json_tokener_get_parse_end(tok);
	if (je == json_tokener_continue && !o) {
		/* A bare number ("3") is only complete once a delimiter follows. */
		o = json_tokener_parse_ex(tok, " ", 1);
		je = json_tokener_get_error(tok);
		end_at = len;
	}
	enum aios_err e = AIOS_OK;
	if (je == json_tokener_continue) {
		e = aios_fail(AIOS_ERR_INVALID, "%s: truncated JSON", what);
	} else if (je != json_tokener_success) {
		e = aios_fail(AIOS_ERR_INVALID, "%s: malformed JSON at byte %zu: %s", what,
		              json_tokener_get_parse_end(tok), json_tokener_error_desc(je));
	} else {
		size_t end = end_at;
		while (end < len && strchr(" \t\r\n", s[end]))
			end++;
		if (end != len)
			e = aios_fail(AIOS_ERR_INVALID, "%s: trailing data after JSON at byte %zu",
			              what, end);
	}
	json_tokener_free(tok);
	if (e) {
		json_object_put(o);
		return e;
	}
	*out = o;
	return AIOS_OK;
}

struct json_object *aios_json_lookup(struct json_object *o, const char *path)
{
	const char *p = path;
	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char key[256];
		if (n >= sizeof(key) || !json_object_is_type(o, json_type_object))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		struct json_object *next = NULL;
		if (!json_object_object_get_ex(o, key, &next))
			return NULL;
		o = next;
		p = dot ? dot + 1 : p + n;
	}
	return o;
}

static const char *type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "boolean";
	case json_type_double: return "number";
	case json_type_int: return "integer";
	case json_type_object: return "object";
	case json_type_array: return "array";
	case json_type_string: return "string";
	}
	return "unknown";
}

static enum aios_err find(struct json_object *o, const char *path, json_type want,
                          const char *want_name, struct json_object **v)
{
	*v = aios_json_lookup(o, path);
	if (!*v)
		return aios_fail(AIOS_ERR_NOT_FOUND, "%s: required field is missing", path);
	if (!json_object_is_type(*v, want))
		return aios_fail(AIOS_ERR_INVALID, "%s: expected %s, got %s", path, want_name,
		                 type_name(*v));
	return AIOS_OK;
}

enum aios_err aios_json_get_string(struct json_object *o, const char *path, const char **out)
{
	struct json_object *v;
	enum aios_err e = find(o, path, json_type_string, "a string", &v);
	if (!e)
		*out = json_object_get_string(v);
	return e;
}

enum aios_err aios_json_get_int(struct json_object *o, const char *path, int64_t *out)
{
	struct json_object *v = aios_json_lookup(o, path);
	if (!v)
		return aios_fail(AIOS_ERR_NOT_FOUND, "%s: required field is missing", path);
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return AIOS_OK;
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		if (d == floor(d) && fabs(d) < 9.0e15) {
			*out = (int64_t)d;
			return AIOS_OK;
		}
	}
	return aios_fail(AIOS_ERR_INVALID, "%s: expected an integer, got %s", path, type_name(v));
}

enum aios_err aios_json_get_double(struct json_object *o, const char *path, double *out)
{
	struct json_object *v = aios_json_lookup(o, path);
	if (!v)
		return aios_fail(AIOS_ERR_NOT_FOUND, "%s: required field is missing", path);
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return aios_fail(AIOS_ERR_INVALID, "%s: expected a number, got %s", path,
		                 type_name(v));
	*out = json_object_get_double(v);
	if (!isfinite(*out))
		return aios_fail(AIOS_ERR_INVALID, "%s: number is not finite", path);
	return AIOS_OK;
}

enum aios_err aios_json_get_bool(struct json_object *o, const char *path, int *out)
{
	struct json_object *v;
	enum aios_err e = find(o, path, json_type_boolean, "a boolean", &v);
	if (!e)
		*out = json_object_get_boolean(v);
	return e;
}

enum aios_err aios_json_get_object(struct json_object *o, const char *path,
                                   struct json_object **out)
{
	return find(o, path, json_type_object, "an object", out);
}

enum aios_err aios_json_get_array(struct json_object *o, const char *path, struct json_object **out)
{
	return find(o, path, json_type_array, "an array", out);
}

static int absent(struct json_object *o, const char *path)
{
	struct json_object *v = aios_json_lookup(o, path);
	return !v || json_object_is_type(v, json_type_null);
}

enum aios_err aios_json_opt_string(struct json_object *o, const char *path, const char *dflt,
                                   const char **out)
{
	if (absent(o, path)) {
		*out = dflt;
		return AIOS_OK;
	}
	return aios_json_get_string(o, path, out);
}

enum aios_err aios_json_opt_int(struct json_object *o, const char *path, int64_t dflt, int64_t *out)
{
	if (absent(o, path)) {
		*out = dflt;
		return AIOS_OK;
	}
	return aios_json_get_int(o, path, out);
}

enum aios_err aios_json_opt_double(struct json_object *o, const char *path, double dflt,
                                   double *out)
{
	if (absent(o, path)) {
		*out = dflt;
		return AIOS_OK;
	}
	return aios_json_get_double(o, path, out);
}

enum aios_err aios_json_opt_bool(struct json_object *o, const char *path, int dflt, int *out)
{
	if (absent(o, path)) {
		*out = dflt;
		return AIOS_OK;
	}
	return aios_json_get_bool(o, path, out);
}

const char *aios_json_str(struct json_object *o, const char *path)
{
	struct json_object *v = aios_json_lookup(o, path);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

void aios_json_set(struct json_object *o, const char *path, struct json_object *v)
{
	const char *p = path;
	for (;;) {
		const char *dot = strchr(p, '.');
		if (!dot) {
			json_object_object_add(o, p, v);
			return;
		}
		char key[256];
		size_t n = (size_t)(dot - p);
		if (n >= sizeof(key))
			n = sizeof(key) - 1;
		memcpy(key, p, n);
		key[n] = '\0';
		struct json_object *next = NULL;
		if (!json_object_object_get_ex(o, key, &next) ||
		    !json_object_is_type(next, json_type_object)) {
			next = json_object_new_object();
			json_object_object_add(o, key, next);
		}
		o = next;
		p = dot + 1;
	}
}

struct json_object *aios_json_copy(struct json_object *o)
{
	struct json_object *c = NULL;
	if (json_object_deep_copy(o, &c, NULL) != 0)
		return NULL;
	return c;
}

static int is_number(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

int aios_json_equal(struct json_object *a, struct json_object *b)
{
	if (!a || !b)
		return a == b;
	if (is_number(a) && is_number(b)) {
		if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
			return json_object_get_int64(a) == json_object_get_int64(b);
		return json_object_get_double(a) == json_object_get_double(b);
	}
	if (json_object_get_type(a) != json_object_get_type(b))
		return 0;
	if (json_object_is_type(a, json_type_array)) {
		size_t n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!aios_json_equal(json_object_array_get_idx(a, i),
			                     json_object_array_get_idx(b, i)))
				return 0;
		return 1;
	}
	if (json_object_is_type(a, json_type_object)) {
		if (json_object_object_length(a) != json_object_object_length(b))
			return 0;
		json_object_object_foreach(a, k, va)
		{
			struct json_object *vb = NULL;
			if (!json_object_object_get_ex(b, k, &vb) || !aios_json_equal(va, vb))
				return 0;
		}
		return 1;
	}
	return json_object_equal(a, b);
}
