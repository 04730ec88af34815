/*
 * output.h - kubectl's habits for kubectl-aios: `-o json|yaml|wide|name`, errors that
 * say what to do, and shell completion.
 *
 * Pure functions from API objects (json-c, borrowed) and errors to text in a bounded
 * buffer, unit-tested without a cluster (tests/unit/cli/test_output.c).
 */
#ifndef AIOS_CLI_OUTPUT_H
#define AIOS_CLI_OUTPUT_H

#include <json-c/json.h>

#include "common/buf.h"
#include "common/err.h"

enum aios_cli_format {
	AIOS_CLI_TABLE = 0, /* the default table */
	AIOS_CLI_WIDE,      /* the table with more detail */
	AIOS_CLI_JSON,      /* the objects as the API server returns them */
	AIOS_CLI_YAML,
	AIOS_CLI_NAME /* kind.group/name, one per line */
};

/* Parses an -o value ("json", "yaml", "wide", "name"; NULL or "" is the table). Fails
 * with a message naming the value and the accepted ones. */
enum aios_err aios_cli_format_parse(const char *s, enum aios_cli_format *f) AIOS_MUST_CHECK;

/*
 * Prints objects as fmt (JSON, YAML or NAME): items is an array of API objects (each
 * with kind and metadata.name). single: exactly one object was asked for by name, and it
 * is printed alone, not inside a List, as kubectl does.
 */
enum aios_err aios_cli_print(struct aios_buf *out, enum aios_cli_format fmt,
                             struct json_object *items, int single) AIOS_MUST_CHECK;

/* Writes obj as a YAML document (block style, keys in the object's order; strings that
 * YAML would read as another type are quoted). */
enum aios_err aios_cli_yaml(struct aios_buf *out, struct json_object *obj) AIOS_MUST_CHECK;

/*
 * What the user can do about a failed request, or NULL when there is nothing to add:
 * e is the request's error, verb and resource say what was asked ("list",
 * "trainingjobs"), ns the namespace (NULL: all), server the API server's URL.
 *   unreachable -> check the cluster, --kubeconfig and --context
 *   401         -> log in again
 *   403         -> which verb on which resource, and `kubectl auth can-i`
 *   404 on a collection of aios.dev -> install the CRDs
 * The text is written into out (one line, no newline).
 */
const char *aios_cli_hint(enum aios_err e, const char *verb, const char *resource, const char *ns,
                          const char *server, char *out, size_t n);

/*
 * Completion candidates for the words typed so far (args[0..nargs-1], the last one
 * being completed, possibly ""), one per line into out: subcommands, kinds, flags and
 * -o values. Object names are the caller's (they need the cluster): *want_names is
 * set to "tj" or "ms" when the word being completed is a name of that kind, else NULL.
 */
enum aios_err aios_cli_complete(struct aios_buf *out, char **args, int nargs,
                                const char **want_names) AIOS_MUST_CHECK;

/* The completion script for shell ("bash" or "zsh"): it asks `kubectl-aios __complete`.
 * NULL for another shell. */
const char *aios_cli_completion_script(const char *shell);

#endif
