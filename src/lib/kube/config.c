/*
 * config.c - kubeconfig (libyaml document API) and in-cluster configuration.
 *
 * The YAML is loaded as one libyaml document; lookups walk its node graph. Only the
 * fields config.h lists are read. Every message names the source and the field.
 */
#include "kube/config.h"

#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>
#include <openssl/evp.h>

#include "common/buf.h"
#include "common/mem.h"

/* ------------------------------------------------------------------------ */
/* small helpers                                                             */
/* ------------------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
	return s ? aios_xstrdup(s) : NULL;
}

/*
 * Decodes standard base64, as client-go reads certificate-authority-data and its kin
 * (OpenSSL's decoder: line breaks and blanks ignored, padding required, the URL-safe
 * alphabet refused). -1 on anything else; *out is NUL-terminated.
 */
static int b64_decode(const char *in, char **out, size_t *out_len)
{
	size_t n = strlen(in);
	if (n > INT_MAX)
		return -1;
	unsigned char *o = aios_xmalloc(n / 4 * 3 + 4);
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	if (!ctx) {
		free(o);
		return -1;
	}
	int head = 0, tail = 0;
	EVP_DecodeInit(ctx);
	int ok = EVP_DecodeUpdate(ctx, o, &head, (const unsigned char *)in, (int)n) >= 0 &&
	         EVP_DecodeFinal(ctx, o + head, &tail) == 1;
	EVP_ENCODE_CTX_free(ctx);
	if (!ok) {
		free(o);
		return -1;
	}
	o[head + tail] = 0;
	*out = (char *)o;
	*out_len = (size_t)(head + tail);
	return 0;
}

/* Resolves a file path from the kubeconfig against its directory. */
static char *resolve_path(const char *dir, const char *p)
{
	if (!p)
		return NULL;
	if (p[0] == '/' || !dir || !*dir)
		return aios_xstrdup(p);
	return aios_xasprintf("%s/%s", dir, p);
}

void aios_kube_config_free(struct aios_kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->ns);
	free(cfg->context);
	free(cfg->source);
	free(cfg->ca_file);
	free(cfg->ca_data);
	free(cfg->cert_file);
	free(cfg->cert_data);
	free(cfg->key_file);
	if (cfg->key_data) {
		memset(cfg->key_data, 0, cfg->key_data_len);
		free(cfg->key_data);
	}
	if (cfg->token) {
		memset(cfg->token, 0, strlen(cfg->token));
		free(cfg->token);
	}
	free(cfg->token_file);
	free(cfg->proxy_url);
	aios_kube_exec_spec_free(cfg->exec);
	free(cfg);
}

/* ------------------------------------------------------------------------ */
/* YAML document walking                                                     */
/* ------------------------------------------------------------------------ */

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

/* Scalar string value of map[key]; NULL when missing or null. Sets *bad when the key
 * holds a non-scalar. */
static const char *map_str(yaml_document_t *d, yaml_node_t *map, const char *key, int *bad)
{
	yaml_node_t *v = map_get(d, map, key);
	if (!v)
		return NULL;
	if (v->type != YAML_SCALAR_NODE) {
		*bad = 1;
		return NULL;
	}
	const char *s = (const char *)v->data.scalar.value;
	if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || !*s))
		return NULL;
	return s;
}

/* Finds the entry named name in the sequence at root[list] and returns entry[inner]. */
static enum aios_err find_named(yaml_document_t *d, yaml_node_t *root, const char *list,
                                const char *inner, const char *name, const char *what,
                                const char *ctx, yaml_node_t **out)
{
	yaml_node_t *seq = map_get(d, root, list);
	if (seq && seq->type != YAML_SEQUENCE_NODE)
		return aios_fail(AIOS_ERR_INVALID, "kubeconfig %s: %s: expected a list", what,
		                 list);
	if (seq) {
		for (yaml_node_item_t *it = seq->data.sequence.items.start;
		     it < seq->data.sequence.items.top; it++) {
			yaml_node_t *e = yaml_document_get_node(d, *it);
			int bad = 0;
			const char *n = map_str(d, e, "name", &bad);
			if (n && strcmp(n, name) == 0) {
				yaml_node_t *v = map_get(d, e, inner);
				if (!v || v->type != YAML_MAPPING_NODE)
					return aios_fail(
					    AIOS_ERR_INVALID,
					    "kubeconfig %s: %s \"%s\": missing the \"%s\" map",
					    what, list, name, inner);
				*out = v;
				return AIOS_OK;
			}
		}
	}
	return aios_fail(AIOS_ERR_NOT_FOUND, "kubeconfig %s: context \"%s\": %s \"%s\" not found",
	                 what, ctx, inner, name);
}

#define STR(map, key, dst)                                                                         \
	do {                                                                                       \
		int bad_ = 0;                                                                      \
		const char *s_ = map_str(&doc, map, key, &bad_);                                   \
		if (bad_) {                                                                        \
			e = aios_fail(AIOS_ERR_INVALID, "kubeconfig %s: %s: expected a string",    \
			              what, key);                                                  \
			goto out;                                                                  \
		}                                                                                  \
		dst = s_;                                                                          \
	} while (0)

static enum aios_err decode_field(const char *b64, const char *what, const char *field, char **out,
                                  size_t *len)
{
	if (b64_decode(b64, out, len) != 0)
		return aios_fail(AIOS_ERR_INVALID, "kubeconfig %s: %s: not valid base64", what,
		                 field);
	return AIOS_OK;
}

/* Reads a user's exec map into a spec (caller frees *out). Messages name the user and
 * the field, as client-go's do. */
static enum aios_err parse_exec(yaml_document_t *d, yaml_node_t *ex, const char *dir,
                                const char *what, const char *user,
                                struct aios_kube_exec_spec **out)
{
	*out = NULL;
	if (ex->type != YAML_MAPPING_NODE)
		return aios_fail(AIOS_ERR_INVALID,
		                 "kubeconfig %s: user \"%s\": exec: expected a map", what, user);
	int bad = 0;
	const char *av = map_str(d, ex, "apiVersion", &bad);
	const char *cmd = map_str(d, ex, "command", &bad);
	const char *mode = map_str(d, ex, "interactiveMode", &bad);
	const char *pci = map_str(d, ex, "provideClusterInfo", &bad);
	const char *hint = map_str(d, ex, "installHint", &bad);
	if (bad)
		return aios_fail(AIOS_ERR_INVALID,
		                 "kubeconfig %s: user \"%s\": exec: apiVersion, command, "
		                 "interactiveMode, provideClusterInfo and installHint are strings",
		                 what, user);
	if (!cmd)
		return aios_fail(AIOS_ERR_INVALID, "kubeconfig %s: user \"%s\": exec: no command",
		                 what, user);
	if (!av || (strcmp(av, "client.authentication.k8s.io/v1") != 0 &&
	            strcmp(av, "client.authentication.k8s.io/v1beta1") != 0))
		return aios_fail(AIOS_ERR_INVALID,
		                 "kubeconfig %s: user \"%s\": exec: apiVersion \"%s\": expected "
		                 "client.authentication.k8s.io/v1 or client.authentication.k8s.io/"
		                 "v1beta1",
		                 what, user, av ? av : "");
	enum aios_kube_exec_interactive im = AIOS_KUBE_EXEC_IF_AVAILABLE;
	if (!mode && strcmp(av, "client.authentication.k8s.io/v1") == 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "kubeconfig %s: user \"%s\": exec: interactiveMode must be set "
		                 "for apiVersion client.authentication.k8s.io/v1 (Never, "
		                 "IfAvailable or Always)",
		                 what, user);
	if (mode && strcmp(mode, "Never") == 0)
		im = AIOS_KUBE_EXEC_NEVER;
	else if (mode && strcmp(mode, "Always") == 0)
		im = AIOS_KUBE_EXEC_ALWAYS;
	else if (mode && strcmp(mode, "IfAvailable") != 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "kubeconfig %s: user \"%s\": exec: interactiveMode \"%s\": "
		                 "expected Never, IfAvailable or Always",
		                 what, user, mode);
	if (pci && strcmp(pci, "true") != 0 && strcmp(pci, "false") != 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "kubeconfig %s: user \"%s\": exec: provideClusterInfo: expected "
		                 "true or false, got \"%s\"",
		                 what, user, pci);
	struct aios_kube_exec_spec *sp = aios_xcalloc(1, sizeof(*sp));
	sp->api_version = aios_xstrdup(av);
	/* A command with a '/' is a path, relative ones from the kubeconfig's directory;
	 * a bare name is looked up in PATH. */
	sp->command = strchr(cmd, '/') ? resolve_path(dir, cmd) : aios_xstrdup(cmd);
	sp->interactive = im;
	sp->provide_cluster_info = pci && strcmp(pci, "true") == 0;
	sp->install_hint = hint ? aios_xstrdup(hint) : NULL;
	enum aios_err e = AIOS_OK;
	yaml_node_t *args = map_get(d, ex, "args");
	if (args && args->type == YAML_SEQUENCE_NODE) {
		size_t n =
		    (size_t)(args->data.sequence.items.top - args->data.sequence.items.start);
		sp->args = aios_xcalloc(n + 1, sizeof(*sp->args));
		for (yaml_node_item_t *it = args->data.sequence.items.start;
		     it < args->data.sequence.items.top; it++) {
			yaml_node_t *a = yaml_document_get_node(d, *it);
			if (!a || a->type != YAML_SCALAR_NODE) {
				e = aios_fail(
				    AIOS_ERR_INVALID,
				    "kubeconfig %s: user \"%s\": exec: args[%zu] is not a "
				    "string",
				    what, user, sp->nargs);
				goto out;
			}
			sp->args[sp->nargs++] = aios_xstrdup((const char *)a->data.scalar.value);
		}
	} else if (args && !(args->type == YAML_SCALAR_NODE && !args->data.scalar.value[0])) {
		e = aios_fail(AIOS_ERR_INVALID,
		              "kubeconfig %s: user \"%s\": exec: args: expected a list", what,
		              user);
		goto out;
	}
	yaml_node_t *env = map_get(d, ex, "env");
	if (env && env->type == YAML_SEQUENCE_NODE) {
		size_t n = (size_t)(env->data.sequence.items.top - env->data.sequence.items.start);
		sp->env = aios_xcalloc(n + 1, sizeof(*sp->env));
		for (yaml_node_item_t *it = env->data.sequence.items.start;
		     it < env->data.sequence.items.top; it++) {
			yaml_node_t *v = yaml_document_get_node(d, *it);
			int b2 = 0;
			const char *name = map_str(d, v, "name", &b2);
			const char *val = map_str(d, v, "value", &b2);
			if (b2 || !name || strchr(name, '=')) {
				e = aios_fail(
				    AIOS_ERR_INVALID,
				    "kubeconfig %s: user \"%s\": exec: env[%zu]: expected "
				    "{name, value} with a name without '='",
				    what, user, sp->nenv);
				goto out;
			}
			sp->env[sp->nenv++] = aios_xasprintf("%s=%s", name, val ? val : "");
		}
	} else if (env && !(env->type == YAML_SCALAR_NODE && !env->data.scalar.value[0])) {
		e = aios_fail(AIOS_ERR_INVALID,
		              "kubeconfig %s: user \"%s\": exec: env: expected a list", what, user);
		goto out;
	}
out:
	if (e) {
		aios_kube_exec_spec_free(sp);
		return e;
	}
	*out = sp;
	return AIOS_OK;
}

enum aios_err aios_kube_config_parse(const char *yaml, size_t len, const char *dir,
                                     const char *what, const char *context,
                                     struct aios_kube_config **out)
{
	*out = NULL;
	yaml_parser_t p;
	yaml_document_t doc;
	enum aios_err e = AIOS_OK;
	struct aios_kube_config *cfg = NULL;
	if (!yaml_parser_initialize(&p))
		return aios_fail(AIOS_ERR_NOMEM, "kubeconfig %s: cannot initialise the YAML parser",
		                 what);
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&p, &doc)) {
		e = aios_fail(AIOS_ERR_INVALID,
		              "kubeconfig %s: YAML error at line %zu column %zu: %s", what,
		              p.problem_mark.line + 1, p.problem_mark.column + 1,
		              p.problem ? p.problem : "unknown");
		yaml_parser_delete(&p);
		return e;
	}
	yaml_parser_delete(&p);
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		e = aios_fail(AIOS_ERR_INVALID, "kubeconfig %s: expected a YAML map at the top",
		              what);
		goto out;
	}
	const char *ctx_name = context;
	if (!ctx_name || !*ctx_name)
		STR(root, "current-context", ctx_name);
	if (!ctx_name) {
		e = aios_fail(AIOS_ERR_INVALID,
		              "kubeconfig %s: no current-context and no --context given", what);
		goto out;
	}
	yaml_node_t *ctx, *cluster, *user = NULL;
	e = find_named(&doc, root, "contexts", "context", ctx_name, what, ctx_name, &ctx);
	if (e)
		goto out;
	const char *cluster_name, *user_name, *ns;
	STR(ctx, "cluster", cluster_name);
	STR(ctx, "user", user_name);
	STR(ctx, "namespace", ns);
	if (!cluster_name) {
		e = aios_fail(AIOS_ERR_INVALID, "kubeconfig %s: context \"%s\": no cluster", what,
		              ctx_name);
		goto out;
	}
	e = find_named(&doc, root, "clusters", "cluster", cluster_name, what, ctx_name, &cluster);
	if (e)
		goto out;
	if (user_name) {
		e = find_named(&doc, root, "users", "user", user_name, what, ctx_name, &user);
		if (e)
			goto out;
	}

	cfg = aios_xcalloc(1, sizeof(*cfg));
	cfg->context = aios_xstrdup(ctx_name);
	cfg->source = aios_xstrdup(what);
	cfg->ns = aios_xstrdup(ns ? ns : "default");

	const char *server, *ca, *ca_data, *insecure, *proxy;
	STR(cluster, "server", server);
	STR(cluster, "proxy-url", proxy);
	STR(cluster, "certificate-authority", ca);
	STR(cluster, "certificate-authority-data", ca_data);
	STR(cluster, "insecure-skip-tls-verify", insecure);
	if (!server) {
		e = aios_fail(AIOS_ERR_INVALID, "kubeconfig %s: cluster \"%s\": no server", what,
		              cluster_name);
		goto out;
	}
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
		e = aios_fail(AIOS_ERR_INVALID,
		              "kubeconfig %s: cluster \"%s\": server \"%s\" is not an http(s) URL",
		              what, cluster_name, server);
		goto out;
	}
	cfg->server = aios_xstrdup(server);
	size_t sl = strlen(cfg->server);
	while (sl > 0 && cfg->server[sl - 1] == '/')
		cfg->server[--sl] = 0;
	cfg->ca_file = resolve_path(dir, ca);
	if (proxy) {
		if (strncmp(proxy, "http://", 7) != 0 && strncmp(proxy, "https://", 8) != 0 &&
		    strncmp(proxy, "socks5://", 9) != 0) {
			e = aios_fail(AIOS_ERR_INVALID,
			              "kubeconfig %s: cluster \"%s\": proxy-url \"%s\" is not an "
			              "http, https or socks5 URL",
			              what, cluster_name, proxy);
			goto out;
		}
		cfg->proxy_url = aios_xstrdup(proxy);
	}
	if (ca_data && (e = decode_field(ca_data, what, "certificate-authority-data", &cfg->ca_data,
	                                 &cfg->ca_data_len)))
		goto out;
	if (insecure) {
		if (strcmp(insecure, "true") == 0)
			cfg->insecure = 1;
		else if (strcmp(insecure, "false") != 0) {
			e = aios_fail(AIOS_ERR_INVALID,
			              "kubeconfig %s: cluster \"%s\": insecure-skip-tls-verify: "
			              "expected true or false, got \"%s\"",
			              what, cluster_name, insecure);
			goto out;
		}
	}

	if (user) {
		if (map_get(&doc, user, "auth-provider")) {
			e = aios_fail(AIOS_ERR_UNSUPPORTED,
			              "kubeconfig %s: user \"%s\": auth-provider plugins are not "
			              "supported (kubectl dropped them too); use an exec plugin, a "
			              "token or a client certificate",
			              what, user_name);
			goto out;
		}
		yaml_node_t *ex = map_get(&doc, user, "exec");
		if (ex && (e = parse_exec(&doc, ex, dir, what, user_name, &cfg->exec)))
			goto out;
		const char *token, *token_file, *cert, *cert_data, *key, *key_data;
		STR(user, "token", token);
		STR(user, "tokenFile", token_file);
		STR(user, "client-certificate", cert);
		STR(user, "client-certificate-data", cert_data);
		STR(user, "client-key", key);
		STR(user, "client-key-data", key_data);
		cfg->token = dup_or_null(token);
		cfg->token_file = resolve_path(dir, token_file);
		cfg->cert_file = resolve_path(dir, cert);
		cfg->key_file = resolve_path(dir, key);
		if (cert_data && (e = decode_field(cert_data, what, "client-certificate-data",
		                                   &cfg->cert_data, &cfg->cert_data_len)))
			goto out;
		if (key_data && (e = decode_field(key_data, what, "client-key-data", &cfg->key_data,
		                                  &cfg->key_data_len)))
			goto out;
		int has_cert = cfg->cert_file || cfg->cert_data;
		int has_key = cfg->key_file || cfg->key_data;
		if (has_cert != has_key) {
			e = aios_fail(AIOS_ERR_INVALID,
			              "kubeconfig %s: user \"%s\": a client certificate needs a "
			              "client key and the other way round",
			              what, user_name);
			goto out;
		}
	}
out:
	yaml_document_delete(&doc);
	if (e) {
		aios_kube_config_free(cfg);
		return e;
	}
	*out = cfg;
	return AIOS_OK;
}

enum aios_err aios_kube_config_load_file(const char *path, const char *context,
                                         struct aios_kube_config **out)
{
	*out = NULL;
	struct aios_buf b;
	aios_buf_init(&b, AIOS_CAP_KUBECONFIG);
	enum aios_err e = aios_buf_read_file(&b, path);
	if (e) {
		aios_buf_cleanup(&b);
		return aios_fail_wrap(e, "kubeconfig");
	}
	char *tmp = aios_xstrdup(path);
	char *dir = dirname(tmp);
	e = aios_kube_config_parse(b.data ? b.data : "", b.len, dir, path, context, out);
	free(tmp);
	aios_buf_cleanup(&b);
	return e;
}

/* ------------------------------------------------------------------------ */
/* in-cluster                                                                */
/* ------------------------------------------------------------------------ */

enum aios_err aios_kube_config_in_cluster(const char *sa_dir, struct aios_kube_config **out)
{
	*out = NULL;
	if (!sa_dir)
		sa_dir = AIOS_KUBE_SA_DIR;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return aios_fail(AIOS_ERR_NOT_FOUND, "in-cluster config: KUBERNETES_SERVICE_HOST "
		                                     "and KUBERNETES_SERVICE_PORT must be set");
	struct aios_kube_config *cfg = aios_xcalloc(1, sizeof(*cfg));
	/* An IPv6 host needs brackets in a URL. */
	if (strchr(host, ':'))
		cfg->server = aios_xasprintf("https://[%s]:%s", host, port);
	else
		cfg->server = aios_xasprintf("https://%s:%s", host, port);
	cfg->context = aios_xstrdup("in-cluster");
	cfg->source = aios_xstrdup("in-cluster");
	cfg->token_file = aios_xasprintf("%s/token", sa_dir);
	struct stat st;
	if (stat(cfg->token_file, &st) != 0) {
		enum aios_err e = aios_fail(AIOS_ERR_NOT_FOUND, "in-cluster config: %s: %s",
		                            cfg->token_file, strerror(errno));
		aios_kube_config_free(cfg);
		return e;
	}
	char *ca = aios_xasprintf("%s/ca.crt", sa_dir);
	if (stat(ca, &st) == 0)
		cfg->ca_file = ca;
	else
		free(ca);
	char *nsf = aios_xasprintf("%s/namespace", sa_dir);
	struct aios_buf b;
	aios_buf_init(&b, 256);
	if (aios_buf_read_file(&b, nsf) == AIOS_OK && b.len > 0) {
		while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
			b.data[--b.len] = 0;
		cfg->ns = aios_buf_take(&b);
	} else {
		aios_errclear();
		cfg->ns = aios_xstrdup("default");
	}
	aios_buf_cleanup(&b);
	free(nsf);
	*out = cfg;
	return AIOS_OK;
}

enum aios_err aios_kube_config_load(const char *explicit_path, const char *context,
                                    struct aios_kube_config **out)
{
	if (explicit_path && *explicit_path)
		return aios_kube_config_load_file(explicit_path, context, out);
	const char *env = getenv("KUBECONFIG");
	if (env && *env) {
		char *first = aios_xstrdup(env);
		char *colon = strchr(first, ':');
		if (colon)
			*colon = 0;
		enum aios_err e = aios_kube_config_load_file(first, context, out);
		free(first);
		return e;
	}
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	if (host && *host)
		return aios_kube_config_in_cluster(NULL, out);
	const char *home = getenv("HOME");
	if (!home || !*home)
		return aios_fail(
		    AIOS_ERR_NOT_FOUND,
		    "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
	char *p = aios_xasprintf("%s/.kube/config", home);
	enum aios_err e = aios_kube_config_load_file(p, context, out);
	free(p);
	if (e == AIOS_ERR_NOT_FOUND || e == AIOS_ERR_IO)
		return aios_fail_wrap(
		    e, "no kubeconfig (pass --kubeconfig, set KUBECONFIG, or run in a cluster)");
	return e;
}
