/*
 * output.c - -o formats, hints on errors and shell completion for kubectl-aios
 * (see output.h). YAML is written by libyaml's emitter.
 */
#include "output.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/json.h"

/* ---- formats ------------------------------------------------------------ */

enum aios_err aios_cli_format_parse(const char *s, enum aios_cli_format *f)
{
	static const struct {
		const char *name;
		enum aios_cli_format f;
	} names[] = {{"json", AIOS_CLI_JSON},
	             {"yaml", AIOS_CLI_YAML},
	             {"wide", AIOS_CLI_WIDE},
	             {"name", AIOS_CLI_NAME}};
	*f = AIOS_CLI_TABLE;
	if (!s || !*s)
		return AIOS_OK;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			*f = names[i].f;
			return AIOS_OK;
		}
	return aios_fail(AIOS_ERR_INVALID,
	                 "unknown output format \"%s\": expected one of json, yaml, wide, name", s);
}

/* ---- YAML ----------------------------------------------------------------- */

static int yaml_sink(void *data, unsigned char *buf, size_t size)
{
	return aios_buf_append(data, buf, size) == AIOS_OK;
}

/* 1 when a plain scalar s would be read back by YAML 1.1/1.2 as something other than
 * a string (null, a boolean, a number), or is not safe plain: then it is quoted. */
static int needs_quotes(const char *s)
{
	static const char *const special[] = {
	    "",      "~",     "null", "Null", "NULL", "true", "True", "TRUE", "false",
	    "False", "FALSE", "yes",  "Yes",  "YES",  "no",   "No",   "NO",   "on",
	    "On",    "ON",    "off",  "Off",  "OFF",  "y",    "Y",    "n",    "N"};
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (strcmp(s, special[i]) == 0)
			return 1;
	char *end = NULL;
	(void)strtod(s, &end);
	if (end && end != s && *end == '\0')
		return 1; /* 12, 1e3, 0x1f, .5, inf, nan */
	if (s[0] == '.' && (strcasecmp(s, ".inf") == 0 || strcasecmp(s, ".nan") == 0 ||
	                    strcasecmp(s, "-.inf") == 0 || strcasecmp(s, "+.inf") == 0))
		return 1;
	return 0;
}

static int scalar(yaml_emitter_t *em, const char *s, int plain_ok)
{
	yaml_event_t ev;
	yaml_scalar_style_t style =
	    plain_ok ? YAML_ANY_SCALAR_STYLE
	             : (needs_quotes(s) ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
	                                  style))
		return 0;
	return yaml_emitter_emit(em, &ev);
}

/* Emits o; depth bounds the recursion (API objects nest far less). */
static int emit(yaml_emitter_t *em, struct json_object *o, int depth)
{
	yaml_event_t ev;
	if (depth > 64)
		return 0;
	switch (json_object_get_type(o)) {
	case json_type_null: return scalar(em, "null", 1);
	case json_type_boolean: return scalar(em, json_object_get_boolean(o) ? "true" : "false", 1);
	case json_type_int:
	case json_type_double: return scalar(em, json_object_to_json_string(o), 1);
	case json_type_string: return scalar(em, json_object_get_string(o), 0);
	case json_type_array: {
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		                                          YAML_ANY_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return 0;
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++)
			if (!emit(em, json_object_array_get_idx(o, i), depth + 1))
				return 0;
		return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
	}
	case json_type_object: {
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
		                                         YAML_ANY_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return 0;
		json_object_object_foreach(o, k, v)
		{
			if (!scalar(em, k, 0) || !emit(em, v, depth + 1))
				return 0;
		}
		return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
	}
	}
	return 0;
}

enum aios_err aios_cli_yaml(struct aios_buf *out, struct json_object *obj)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	if (!yaml_emitter_initialize(&em))
		return aios_fail(AIOS_ERR_NOMEM, "yaml: cannot start the emitter");
	yaml_emitter_set_output(&em, yaml_sink, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1); /* no folding of long strings */
	int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
	         yaml_emitter_emit(&em, &ev) &&
	         yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
	         yaml_emitter_emit(&em, &ev) && emit(&em, obj, 0) &&
	         yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
	         yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev);
	const char *problem = em.problem;
	yaml_emitter_delete(&em);
	if (!ok)
		return aios_fail(AIOS_ERR_TOO_BIG, "yaml: %s",
		                 problem ? problem : "output over its cap or nested too deep");
	return AIOS_OK;
}

/* ---- printing objects ---------------------------------------------------- */

/* "trainingjob.aios.dev/NAME" for an object of kind TrainingJob, apiVersion aios.dev/v1alpha1. */
static enum aios_err print_name(struct aios_buf *out, struct json_object *o)
{
	const char *kind = aios_json_str(o, "kind"), *api = aios_json_str(o, "apiVersion");
	const char *name = aios_json_str(o, "metadata.name");
	char lower[64] = "";
	for (size_t i = 0; kind && kind[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)kind[i]);
	const char *slash = api ? strchr(api, '/') : NULL;
	if (slash)
		return aios_buf_printf(out, "%s.%.*s/%s\n", lower, (int)(slash - api), api,
		                       name ? name : "");
	return aios_buf_printf(out, "%s/%s\n", lower, name ? name : "");
}

enum aios_err aios_cli_print(struct aios_buf *out, enum aios_cli_format fmt,
                             struct json_object *items, int single)
{
	size_t n = items ? json_object_array_length(items) : 0;
	if (fmt == AIOS_CLI_NAME) {
		for (size_t i = 0; i < n; i++) {
			enum aios_err e = print_name(out, json_object_array_get_idx(items, i));
			if (e)
				return e;
		}
		return AIOS_OK;
	}
	struct json_object *doc;
	if (single && n == 1) {
		doc = json_object_get(json_object_array_get_idx(items, 0));
	} else {
		doc = json_object_new_object();
		json_object_object_add(doc, "apiVersion", json_object_new_string("v1"));
		json_object_object_add(doc, "items",
		                       items ? json_object_get(items) : json_object_new_array());
		json_object_object_add(doc, "kind", json_object_new_string("List"));
		struct json_object *meta = json_object_new_object();
		json_object_object_add(meta, "resourceVersion", json_object_new_string(""));
		json_object_object_add(doc, "metadata", meta);
	}
	enum aios_err e;
	if (fmt == AIOS_CLI_YAML)
		e = aios_cli_yaml(out, doc);
	else
		e = aios_buf_printf(out, "%s\n",
		                    json_object_to_json_string_ext(
		                        doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		                                 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return e;
}

/* ---- hints ------------------------------------------------------------------ */

const char *aios_cli_hint(enum aios_err e, const char *verb, const char *resource, const char *ns,
                          const char *server, char *out, size_t n)
{
	const char *where = ns ? ns : "";
	switch (e) {
	case AIOS_ERR_UNAVAILABLE:
	case AIOS_ERR_IO:
	case AIOS_ERR_TIMEOUT:
		snprintf(out, n,
		         "cannot reach the API server at %s: is the cluster up? Check --kubeconfig "
		         "and --context (kubectl cluster-info)",
		         server ? server : "(none)");
		return out;
	case AIOS_ERR_TLS:
		snprintf(out, n,
		         "the TLS connection to %s failed: the kubeconfig's certificate-authority "
		         "does not match the server, or the server's certificate does not name it",
		         server ? server : "(none)");
		return out;
	case AIOS_ERR_UNAUTHORIZED:
		snprintf(out, n,
		         "the API server did not accept your credentials: log in again, or check "
		         "the user of the current context (kubectl config view --minify)");
		return out;
	case AIOS_ERR_FORBIDDEN:
		if (ns)
			snprintf(out, n,
			         "you may not %s %s in namespace %s: ask for a Role that grants it "
			         "(kubectl auth can-i %s %s -n %s)",
			         verb, resource, where, verb, resource, where);
		else
			snprintf(
			    out, n,
			    "you may not %s %s in all namespaces: ask for a ClusterRole that "
			    "grants it, or name a namespace with -n (kubectl auth can-i %s %s -A)",
			    verb, resource, verb, resource);
		return out;
	case AIOS_ERR_NOT_FOUND:
		if (strstr(resource, ".aios.dev") && strcmp(verb, "list") == 0) {
			snprintf(
			    out, n,
			    "the aios CRDs are not installed in this cluster: kubectl apply -f "
			    "crds/ (or helm install aios helm/aios)");
			return out;
		}
		return NULL;
	default: return NULL;
	}
}

/* ---- completion ----------------------------------------------------------- */

static const char *const verbs[] = {"get",       "watch",      "logs",   "predict",
                                    "dashboard", "completion", "version"};
static const char *const flags[] = {
    "--kubeconfig=", "--context=", "--namespace=", "-n",         "--all-namespaces", "-A",
    "--output=",     "-o",         "--rank=",      "--previous", "--follow",         "-f",
    "--help"};
static const char *const outputs[] = {"json", "yaml", "wide", "name"};

static enum aios_err words(struct aios_buf *out, const char *const *w, size_t n, const char *pre)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(w[i], pre, strlen(pre)) == 0) {
			enum aios_err e = aios_buf_printf(out, "%s\n", w[i]);
			if (e)
				return e;
		}
	return AIOS_OK;
}

enum aios_err aios_cli_complete(struct aios_buf *out, char **args, int nargs,
                                const char **want_names)
{
	*want_names = NULL;
	if (nargs < 1)
		return words(out, verbs, sizeof(verbs) / sizeof(verbs[0]), "");
	const char *cur = args[nargs - 1], *prev = nargs > 1 ? args[nargs - 2] : "";
	if (strcmp(prev, "-o") == 0 || strcmp(prev, "--output") == 0)
		return words(out, outputs, sizeof(outputs) / sizeof(outputs[0]), cur);
	if (cur[0] == '-')
		return words(out, flags, sizeof(flags) / sizeof(flags[0]), cur);
	/* positional words so far, flags and their values left out */
	const char *pos[4];
	int np = 0;
	for (int i = 0; i < nargs - 1 && np < 4; i++) {
		if (args[i][0] == '-') {
			int takes_value =
			    !strchr(args[i], '=') &&
			    (strcmp(args[i], "-n") == 0 || strcmp(args[i], "-o") == 0 ||
			     strcmp(args[i], "--namespace") == 0 ||
			     strcmp(args[i], "--output") == 0 ||
			     strcmp(args[i], "--context") == 0 ||
			     strcmp(args[i], "--kubeconfig") == 0 ||
			     strcmp(args[i], "--rank") == 0 || strcmp(args[i], "--data") == 0 ||
			     strcmp(args[i], "--port") == 0 || strcmp(args[i], "--timeout") == 0);
			i += takes_value;
			continue;
		}
		pos[np++] = args[i];
	}
	if (np == 0)
		return words(out, verbs, sizeof(verbs) / sizeof(verbs[0]), cur);
	const char *verb = pos[0];
	if (strcmp(verb, "completion") == 0) {
		static const char *const shells[] = {"bash", "zsh"};
		return np == 1 ? words(out, shells, 2, cur) : AIOS_OK;
	}
	if (strcmp(verb, "version") == 0 || strcmp(verb, "dashboard") == 0)
		return AIOS_OK;
	if (np == 1) {
		static const char *const tj[] = {"tj"}, *const ms[] = {"ms"},
		                         *const both[] = {"tj", "ms"};
		if (strcmp(verb, "predict") == 0)
			return words(out, ms, 1, cur);
		if (strcmp(verb, "get") == 0)
			return words(out, both, 2, cur);
		return words(out, tj, 1, cur);
	}
	if (np == 2) {
		const char *kind = pos[1];
		if (strcmp(kind, "tj") == 0 || strcmp(kind, "trainingjob") == 0 ||
		    strcmp(kind, "trainingjobs") == 0)
			*want_names = "tj";
		else if (strcmp(kind, "ms") == 0 || strcmp(kind, "modelservice") == 0 ||
		         strcmp(kind, "modelservices") == 0)
			*want_names = "ms";
	}
	return AIOS_OK;
}

static const char bash_script[] =
    "# bash completion for kubectl-aios: source <(kubectl aios completion bash)\n"
    "_kubectl_aios() {\n"
    "  local IFS=$'\\n'\n"
    "  COMPREPLY=($(kubectl-aios __complete \"${COMP_WORDS[@]:1:COMP_CWORD}\" 2>/dev/null))\n"
    "  [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null\n"
    "  return 0\n"
    "}\n"
    "complete -F _kubectl_aios kubectl-aios\n"
    "# kubectl (1.26 and later) completes `kubectl aios ...` through kubectl_complete-aios:\n"
    "#   printf '#!/bin/sh\\nkubectl-aios __complete \"$@\"\\necho :4\\n' > "
    "~/bin/kubectl_complete-aios\n";

static const char zsh_script[] =
    "#compdef kubectl-aios\n"
    "# zsh completion for kubectl-aios: source <(kubectl aios completion zsh)\n"
    "_kubectl_aios() {\n"
    "  local -a cands\n"
    "  cands=(\"${(@f)$(kubectl-aios __complete \"${(@)words[2,CURRENT]}\" 2>/dev/null)}\")\n"
    "  compadd -a cands\n"
    "}\n"
    "compdef _kubectl_aios kubectl-aios\n";

const char *aios_cli_completion_script(const char *shell)
{
	if (strcmp(shell, "bash") == 0)
		return bash_script;
	if (strcmp(shell, "zsh") == 0)
		return zsh_script;
	return NULL;
}
