/*
 * exec.c - exec credential plugins (see exec.h): run the command with posix_spawn in
 * its own process group, read its stdout and stderr through pipes with poll() under a
 * deadline and byte caps, decode the ExecCredential, cache it until it expires.
 */
#include "kube/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/path.h"

extern char **environ;

/* ============================== spec and credential ============================== */

static char *sdup(const char *s)
{
	return s ? aios_xstrdup(s) : NULL;
}

static char **strv_copy(char *const *v, size_t n)
{
	char **o = aios_xcalloc(n + 1, sizeof(*o));
	for (size_t i = 0; i < n; i++)
		o[i] = aios_xstrdup(v[i]);
	return o;
}

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct aios_kube_exec_spec *aios_kube_exec_spec_copy(const struct aios_kube_exec_spec *s)
{
	if (!s)
		return NULL;
	struct aios_kube_exec_spec *c = aios_xcalloc(1, sizeof(*c));
	*c = *s;
	c->api_version = sdup(s->api_version);
	c->command = sdup(s->command);
	c->install_hint = sdup(s->install_hint);
	c->args = strv_copy(s->args, s->nargs);
	c->env = strv_copy(s->env, s->nenv);
	return c;
}

void aios_kube_exec_spec_free(struct aios_kube_exec_spec *s)
{
	if (!s)
		return;
	free(s->api_version);
	free(s->command);
	free(s->install_hint);
	strv_free(s->args, s->nargs);
	strv_free(s->env, s->nenv);
	free(s);
}

static void wipe_free(char *s, size_t n)
{
	if (s) {
		memset(s, 0, n);
		free(s);
	}
}

void aios_kube_exec_cred_cleanup(struct aios_kube_exec_cred *c)
{
	if (c->token)
		wipe_free(c->token, strlen(c->token));
	free(c->cert);
	wipe_free(c->key, c->key_len);
	memset(c, 0, sizeof(*c));
}

static char *memdup0(const char *p, size_t n)
{
	char *d = aios_xmalloc(n + 1);
	memcpy(d, p, n);
	d[n] = 0;
	return d;
}

static void cred_copy(const struct aios_kube_exec_cred *from, struct aios_kube_exec_cred *to)
{
	memset(to, 0, sizeof(*to));
	to->token = sdup(from->token);
	if (from->cert) {
		to->cert = memdup0(from->cert, from->cert_len);
		to->cert_len = from->cert_len;
		to->key = memdup0(from->key, from->key_len);
		to->key_len = from->key_len;
	}
	to->expires_unix_ms = from->expires_unix_ms;
	to->generation = from->generation;
}

/* RFC 3339 as metav1.Time writes it: "2026-12-07T06:00:00Z", fractions and a numeric
 * offset ("+01:00") allowed. Unix ms, or -1 on bad input. */
static int64_t parse_time_ms(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	int64_t off_s = 0;
	if ((end[0] == 'Z' || end[0] == 'z') && end[1] == 0) {
		off_s = 0;
	} else if ((end[0] == '+' || end[0] == '-') && strlen(end) == 6 && end[3] == ':') {
		int hh = (end[1] - '0') * 10 + (end[2] - '0');
		int mm = (end[4] - '0') * 10 + (end[5] - '0');
		if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
			return -1;
		off_s = (int64_t)(hh * 3600 + mm * 60) * (end[0] == '+' ? 1 : -1);
	} else {
		return -1;
	}
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return ((int64_t)t - off_s) * 1000;
}

enum aios_err aios_kube_exec_decode(const char *out, size_t n, const char *api_version,
                                    const char *what, struct aios_kube_exec_cred *cred)
{
	memset(cred, 0, sizeof(*cred));
	struct json_object *doc = NULL;
	size_t start = 0;
	while (start < n && (out[start] == ' ' || out[start] == '\n' || out[start] == '\t' ||
	                     out[start] == '\r'))
		start++;
	if (start == n)
		return aios_fail(AIOS_ERR_PROTOCOL,
		                 "exec plugin %s printed nothing on stdout (expected an "
		                 "ExecCredential)",
		                 what);
	if (aios_json_parse(out + start, n - start, "ExecCredential", &doc) != AIOS_OK ||
	    !json_object_is_type(doc, json_type_object)) {
		aios_errclear();
		json_object_put(doc);
		return aios_fail(AIOS_ERR_PROTOCOL,
		                 "exec plugin %s: its output is not an ExecCredential in JSON "
		                 "(%zu bytes, starting \"%.40s\")",
		                 what, n, out + start);
	}
	enum aios_err e = AIOS_OK;
	const char *kind = aios_json_str(doc, "kind");
	const char *av = aios_json_str(doc, "apiVersion");
	struct json_object *st = aios_json_lookup(doc, "status");
	if (!kind || strcmp(kind, "ExecCredential") != 0) {
		e = aios_fail(AIOS_ERR_PROTOCOL,
		              "exec plugin %s: kind is \"%s\", not ExecCredential", what,
		              kind ? kind : "");
		goto out;
	}
	if (!av || strcmp(av, api_version) != 0) {
		e = aios_fail(AIOS_ERR_PROTOCOL,
		              "exec plugin %s: apiVersion \"%s\" does not match the kubeconfig's "
		              "\"%s\"",
		              what, av ? av : "", api_version);
		goto out;
	}
	if (!st || !json_object_is_type(st, json_type_object)) {
		e = aios_fail(AIOS_ERR_PROTOCOL, "exec plugin %s: the ExecCredential has no status",
		              what);
		goto out;
	}
	const char *token = aios_json_str(st, "token");
	const char *cert = aios_json_str(st, "clientCertificateData");
	const char *key = aios_json_str(st, "clientKeyData");
	const char *exp = aios_json_str(st, "expirationTimestamp");
	if (token && !*token)
		token = NULL;
	if ((cert && *cert) != (key && *key)) {
		e = aios_fail(AIOS_ERR_PROTOCOL,
		              "exec plugin %s: status.clientCertificateData and "
		              "status.clientKeyData come together or not at all",
		              what);
		goto out;
	}
	if (!token && !(cert && *cert)) {
		e = aios_fail(AIOS_ERR_PROTOCOL,
		              "exec plugin %s: status has neither a token nor "
		              "clientCertificateData/clientKeyData",
		              what);
		goto out;
	}
	if (exp && *exp) {
		int64_t ms = parse_time_ms(exp);
		if (ms <= 0) {
			e = aios_fail(AIOS_ERR_PROTOCOL,
			              "exec plugin %s: status.expirationTimestamp \"%.40s\" is not "
			              "an RFC 3339 time",
			              what, exp);
			goto out;
		}
		cred->expires_unix_ms = ms;
	}
	cred->token = sdup(token);
	if (cert && *cert) {
		cred->cert_len = strlen(cert);
		cred->cert = memdup0(cert, cred->cert_len);
		cred->key_len = strlen(key);
		cred->key = memdup0(key, cred->key_len);
	}
out:
	json_object_put(doc);
	return e;
}

/* ============================== running the plugin ============================== */

struct aios_kube_exec {
	struct aios_kube_exec_spec *spec;
	char *cluster_json; /* spec.cluster of KUBERNETES_EXEC_INFO, or NULL */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running;                     /* one run at a time; others wait on cv */
	struct aios_kube_exec_cred cred; /* cached; cred.generation 0: none */
	uint64_t runs;
};

static char *cluster_json(const struct aios_kube_exec_cluster *cl)
{
	struct json_object *o = json_object_new_object();
	if (cl->server)
		json_object_object_add(o, "server", json_object_new_string(cl->server));
	if (cl->ca_data && cl->ca_len > 0 && cl->ca_len < (1u << 28)) {
		char *b64 = aios_xmalloc(4 * ((cl->ca_len + 2) / 3) + 1);
		int w = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)cl->ca_data,
		                        (int)cl->ca_len);
		b64[w > 0 ? w : 0] = 0;
		json_object_object_add(o, "certificate-authority-data",
		                       json_object_new_string(b64));
		free(b64);
	}
	if (cl->insecure)
		json_object_object_add(o, "insecure-skip-tls-verify", json_object_new_boolean(1));
	if (cl->proxy_url)
		json_object_object_add(o, "proxy-url", json_object_new_string(cl->proxy_url));
	char *s = aios_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

struct aios_kube_exec *aios_kube_exec_new(const struct aios_kube_exec_spec *spec,
                                          const struct aios_kube_exec_cluster *cluster)
{
	struct aios_kube_exec *x = aios_xcalloc(1, sizeof(*x));
	x->spec = aios_kube_exec_spec_copy(spec);
	if (cluster && spec->provide_cluster_info)
		x->cluster_json = cluster_json(cluster);
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	return x;
}

void aios_kube_exec_free(struct aios_kube_exec *x)
{
	if (!x)
		return;
	aios_kube_exec_spec_free(x->spec);
	free(x->cluster_json);
	aios_kube_exec_cred_cleanup(&x->cred);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x);
}

/* KUBERNETES_EXEC_INFO's value. Caller frees. */
static char *exec_info(const struct aios_kube_exec *x, int interactive)
{
	const char *cl = x->cluster_json;
	return aios_xasprintf("{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\","
	                      "\"spec\":{\"interactive\":%s%s%s}}",
	                      x->spec->api_version, interactive ? "true" : "false",
	                      cl ? ",\"cluster\":" : "", cl ? cl : "");
}

/* Our environment with the spec's variables and KUBERNETES_EXEC_INFO put over it.
 * Caller frees the array and the entries it made (*own, nown of them, first). */
static char **child_env(const struct aios_kube_exec *x, char *info_kv, size_t *count)
{
	size_t n = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	const struct aios_kube_exec_spec *s = x->spec;
	char **v = aios_xcalloc(n + s->nenv + 2, sizeof(*v));
	size_t k = 0;
	for (char **e = environ; e && *e; e++) {
		int replaced = strncmp(*e, "KUBERNETES_EXEC_INFO=", 21) == 0;
		for (size_t i = 0; i < s->nenv && !replaced; i++) {
			const char *eq = strchr(s->env[i], '=');
			size_t nl = eq ? (size_t)(eq - s->env[i]) : strlen(s->env[i]);
			replaced = strncmp(*e, s->env[i], nl) == 0 && (*e)[nl] == '=';
		}
		if (!replaced)
			v[k++] = *e;
	}
	for (size_t i = 0; i < s->nenv; i++)
		v[k++] = s->env[i];
	v[k++] = info_kv;
	v[k] = NULL;
	*count = k;
	return v;
}

/* The start of a plugin's stderr for a message: one line of at most 400 bytes,
 * newlines shown as " | ". */
static void quote_stderr(const struct aios_buf *b, char *out, size_t cap)
{
	size_t j = 0;
	size_t n = b->len;
	while (n > 0 && (b->data[n - 1] == '\n' || b->data[n - 1] == ' '))
		n--;
	for (size_t i = 0; i < n && j + 4 < cap && i < 400; i++) {
		char ch = b->data[i];
		if (ch == '\n') {
			out[j++] = ' ';
			out[j++] = '|';
			out[j++] = ' ';
		} else if ((unsigned char)ch < 0x20 && ch != '\t') {
			out[j++] = '?';
		} else {
			out[j++] = ch;
		}
	}
	out[j] = 0;
}

/* Reads what fd has into b (bounded). Returns 0 at EOF, 1 when more may come, -1
 * when b's cap was passed (the rest is read and dropped when drop is set). */
static int drain(int fd, struct aios_buf *b, int drop)
{
	char tmp[8192];
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof(tmp));
		if (r == 0)
			return 0;
		if (r < 0)
			return (errno == EAGAIN || errno == EINTR) ? 1 : 0;
		if (aios_buf_append(b, tmp, (size_t)r) != AIOS_OK) {
			aios_errclear();
			if (!drop)
				return -1;
		}
	}
}

/*
 * Whether cmd names an executable file, searched in this process's PATH as posix_spawnp
 * searches it. Looked up first, as client-go does, so a missing plugin is told apart from
 * one that exits 127, however the spawn reports it.
 */
static int command_found(const char *cmd)
{
	char full[PATH_MAX];
	return aios_path_find(cmd, getenv("PATH"), full, sizeof full) == 0;
}

static enum aios_err run_plugin(struct aios_kube_exec *x, struct aios_kube_exec_cred *cred)
{
	const struct aios_kube_exec_spec *s = x->spec;
	const char *cmd = s->command;
	int tty = isatty(STDIN_FILENO);
	if (s->interactive == AIOS_KUBE_EXEC_ALWAYS && !tty)
		return aios_fail(AIOS_ERR_UNAUTHORIZED,
		                 "exec plugin %s: interactiveMode is Always but there is no "
		                 "terminal on stdin",
		                 cmd);
	int interactive = tty && s->interactive != AIOS_KUBE_EXEC_NEVER;
	if (!command_found(cmd)) {
		const char *hint = s->install_hint;
		return aios_fail(AIOS_ERR_UNAUTHORIZED, "exec plugin %s: command not found%s%s",
		                 cmd, hint ? ": " : " (is it installed and in PATH?)",
		                 hint ? hint : "");
	}
	int out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
	if (pipe2(out_p, O_CLOEXEC) != 0 || pipe2(err_p, O_CLOEXEC) != 0) {
		int en = errno;
		for (int i = 0; i < 2; i++) {
			if (out_p[i] >= 0)
				close(out_p[i]);
			if (err_p[i] >= 0)
				close(err_p[i]);
		}
		return aios_fail(AIOS_ERR_IO, "exec plugin %s: pipe: %s", cmd, strerror(en));
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if (!interactive)
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_p[1], STDOUT_FILENO);
	if (!interactive)
		posix_spawn_file_actions_adddup2(&fa, err_p[1], STDERR_FILENO);
	/* Its own process group unless it talks to the terminal (a login prompt must stay
	 * in the foreground group): a timeout kills the group, helpers included. */
	if (!interactive) {
		posix_spawnattr_setpgroup(&at, 0);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
		                                  POSIX_SPAWN_SETSIGDEF);
	} else {
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	}
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);

	char **argv = aios_xcalloc(s->nargs + 2, sizeof(*argv));
	argv[0] = s->command;
	for (size_t i = 0; i < s->nargs; i++)
		argv[i + 1] = s->args[i];
	char *info = exec_info(x, interactive);
	char *info_kv = aios_xasprintf("KUBERNETES_EXEC_INFO=%s", info);
	free(info);
	size_t nenv;
	char **envp = child_env(x, info_kv, &nenv);
	pid_t pid = -1;
	int rc = posix_spawnp(&pid, cmd, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(argv);
	free(envp);
	free(info_kv);
	close(out_p[1]);
	close(err_p[1]);
	if (rc != 0) {
		close(out_p[0]);
		close(err_p[0]);
		const char *hint = s->install_hint;
		if (rc == ENOENT)
			return aios_fail(
			    AIOS_ERR_UNAUTHORIZED, "exec plugin %s: command not found%s%s", cmd,
			    hint ? ": " : " (is it installed and in PATH?)", hint ? hint : "");
		return aios_fail(AIOS_ERR_UNAUTHORIZED, "exec plugin %s: cannot run it: %s", cmd,
		                 strerror(rc));
	}
	fcntl(out_p[0], F_SETFL, O_NONBLOCK);
	fcntl(err_p[0], F_SETFL, O_NONBLOCK);
	struct aios_buf out, err;
	aios_buf_init(&out, AIOS_KUBE_EXEC_OUT_CAP);
	aios_buf_init(&err, AIOS_KUBE_EXEC_ERR_CAP);
	int64_t limit = s->timeout_ms > 0 ? s->timeout_ms : AIOS_KUBE_EXEC_TIMEOUT_MS;
	int64_t deadline = aios_now_ms() + limit;
	int open_out = 1, open_err = 1, too_big = 0, timed_out = 0, status = 0, reaped = 0;
	while (open_out || open_err || !reaped) {
		int64_t left = deadline - aios_now_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (!open_out && !open_err) {
			/* both pipes closed: wait for the exit, still under the deadline */
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid) {
				reaped = 1;
				break;
			}
			aios_sleep_ms(left < 10 ? left : 10);
			continue;
		}
		struct pollfd p[2];
		int np = 0;
		if (open_out)
			p[np++] = (struct pollfd){.fd = out_p[0], .events = POLLIN};
		if (open_err)
			p[np++] = (struct pollfd){.fd = err_p[0], .events = POLLIN};
		int r = poll(p, (nfds_t)np, (int)(left < 200 ? left : 200));
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		for (int i = 0; i < np; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (p[i].fd == out_p[0]) {
				int d = drain(out_p[0], &out, 0);
				if (d < 0) {
					too_big = 1;
					open_out = 0;
				} else if (d == 0) {
					open_out = 0;
				}
			} else if (drain(err_p[0], &err, 1) == 0) {
				open_err = 0;
			}
		}
		if (too_big)
			break;
	}
	if (!reaped) {
		if (timed_out || too_big)
			kill(interactive ? pid : -pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	close(out_p[0]);
	close(err_p[0]);
	char why[512];
	quote_stderr(&err, why, sizeof(why));
	enum aios_err e;
	if (timed_out)
		e = aios_fail(AIOS_ERR_TIMEOUT,
		              "exec plugin %s: no answer within %lld ms (killed)%s%s", cmd,
		              (long long)limit, why[0] ? "; stderr: " : "", why);
	else if (too_big)
		e = aios_fail(AIOS_ERR_TOO_BIG,
		              "exec plugin %s: printed more than %u bytes (killed)", cmd,
		              (unsigned)AIOS_KUBE_EXEC_OUT_CAP);
	else if (WIFSIGNALED(status))
		e = aios_fail(AIOS_ERR_UNAUTHORIZED, "exec plugin %s: killed by signal %d%s%s", cmd,
		              WTERMSIG(status), why[0] ? "; stderr: " : "", why);
	else if (WEXITSTATUS(status) != 0)
		e = aios_fail(AIOS_ERR_UNAUTHORIZED, "exec plugin %s: exit status %d%s%s", cmd,
		              WEXITSTATUS(status), why[0] ? "; stderr: " : "; no stderr", why);
	else
		e = aios_kube_exec_decode(out.data ? out.data : "", out.len, s->api_version, cmd,
		                          cred);
	if (out.data)
		memset(out.data, 0, out.len);
	aios_buf_cleanup(&out);
	aios_buf_cleanup(&err);
	return e;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fresh(const struct aios_kube_exec_cred *c)
{
	if (c->generation == 0)
		return 0;
	return c->expires_unix_ms == 0 || wall_ms() + AIOS_KUBE_EXEC_EARLY_MS < c->expires_unix_ms;
}

enum aios_err aios_kube_exec_get(struct aios_kube_exec *x, struct aios_kube_exec_cred *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&x->mu);
	for (;;) {
		if (fresh(&x->cred)) {
			cred_copy(&x->cred, out);
			pthread_mutex_unlock(&x->mu);
			return AIOS_OK;
		}
		if (!x->running)
			break;
		pthread_cond_wait(&x->cv, &x->mu);
	}
	x->running = 1;
	x->runs++;
	uint64_t gen = x->cred.generation + 1;
	pthread_mutex_unlock(&x->mu);
	struct aios_kube_exec_cred got;
	enum aios_err e = run_plugin(x, &got);
	pthread_mutex_lock(&x->mu);
	x->running = 0;
	if (!e) {
		got.generation = gen;
		aios_kube_exec_cred_cleanup(&x->cred);
		x->cred = got;
		cred_copy(&x->cred, out);
	}
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return e;
}

void aios_kube_exec_invalidate(struct aios_kube_exec *x, uint64_t generation)
{
	pthread_mutex_lock(&x->mu);
	if (x->cred.generation == generation) {
		uint64_t g = x->cred.generation;
		aios_kube_exec_cred_cleanup(&x->cred);
		x->cred.generation = g;
		x->cred.expires_unix_ms = 1; /* long past: the next get runs the plugin */
	}
	pthread_mutex_unlock(&x->mu);
}

uint64_t aios_kube_exec_runs(struct aios_kube_exec *x)
{
	pthread_mutex_lock(&x->mu);
	uint64_t n = x->runs;
	pthread_mutex_unlock(&x->mu);
	return n;
}
