/*
 * json.h - json-c helpers: bounded parsing and typed getters that name the path.
 *
 * Paths are dot-separated object keys ("spec.optimizer.learningRate"); a getter on a
 * missing key returns AIOS_ERR_NOT_FOUND, on a value of the wrong type
 * AIOS_ERR_INVALID with a message such as
 *   "spec.optimizer.epochs: expected an integer, got string".
 * The aios_json_opt_* forms return a default when the key is missing or null and
 * still fail on a wrong type. Returned pointers borrow from the object tree.
 */
#ifndef AIOS_JSON_H
#define AIOS_JSON_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define AIOS_JSON_MAX_DEPTH 64 /* nesting accepted from outside input */

/* Parses len bytes as exactly one JSON value; what names the input in messages. */
enum aios_err aios_json_parse(const char *s, size_t len, const char *what,
                              struct json_object **out) AIOS_MUST_CHECK;

/* Looks up path; NULL if any step is missing or not an object. */
struct json_object *aios_json_lookup(struct json_object *o, const char *path);

enum aios_err aios_json_get_string(struct json_object *o, const char *path,
                                   const char **out) AIOS_MUST_CHECK;
enum aios_err aios_json_get_int(struct json_object *o, const char *path,
                                int64_t *out) AIOS_MUST_CHECK;
enum aios_err aios_json_get_double(struct json_object *o, const char *path,
                                   double *out) AIOS_MUST_CHECK;
enum aios_err aios_json_get_bool(struct json_object *o, const char *path, int *out) AIOS_MUST_CHECK;
enum aios_err aios_json_get_object(struct json_object *o, const char *path,
                                   struct json_object **out) AIOS_MUST_CHECK;
enum aios_err aios_json_get_array(struct json_object *o, const char *path,
                                  struct json_object **out) AIOS_MUST_CHECK;

enum aios_err aios_json_opt_string(struct json_object *o, const char *path, const char *dflt,
                                   const char **out) AIOS_MUST_CHECK;
enum aios_err aios_json_opt_int(struct json_object *o, const char *path, int64_t dflt,
                                int64_t *out) AIOS_MUST_CHECK;
enum aios_err aios_json_opt_double(struct json_object *o, const char *path, double dflt,
                                   double *out) AIOS_MUST_CHECK;
enum aios_err aios_json_opt_bool(struct json_object *o, const char *path, int dflt,
                                 int *out) AIOS_MUST_CHECK;

/* Convenience: string at path or NULL (no error), for optional metadata. */
const char *aios_json_str(struct json_object *o, const char *path);

/* Sets o[path] = v, creating intermediate objects; takes ownership of v. */
void aios_json_set(struct json_object *o, const char *path, struct json_object *v);

/* Deep copy (caller owns; json_object_put to free). */
struct json_object *aios_json_copy(struct json_object *o);

/* Deep equality of two values (numbers compared by value). */
int aios_json_equal(struct json_object *a, struct json_object *b);

#endif
