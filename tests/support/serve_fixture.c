/* serve_fixture.c - test models and the aios-serve process runner (serve_fixture.h). */
#include "serve_fixture.h"

#include <check.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "http_client.h"

void sf_fill(float *v, size_t n, unsigned *seed)
{
	for (size_t i = 0; i < n; i++) {
		unsigned x = *seed;
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		*seed = x;
		v[i] = (float)((double)x / 4294967296.0 * 2.0 - 1.0);
	}
}

struct aios_model *sf_model(int n_layers, const int *sizes, enum aios_act hidden,
                            enum aios_act output, unsigned seed)
{
	struct aios_model *m = aios_model_new(AIOS_MODEL_MLP, hidden, output, n_layers, sizes);
	if (!seed)
		seed = 1;
	for (int k = 0; k < n_layers; k++) {
		struct aios_model_layer *l = &m->layers[k];
		sf_fill(l->w, (size_t)l->in * l->out, &seed);
		float sc = 1.0f / sqrtf((float)l->in);
		for (size_t i = 0; i < (size_t)l->in * l->out; i++)
			l->w[i] *= sc * 1.7f;
		sf_fill(l->b, (size_t)l->out, &seed);
		for (int i = 0; i < l->out; i++)
			l->b[i] *= 0.1f;
	}
	return m;
}

const char *sf_program(const char *rel)
{
	static __thread char path[4][1024];
	static __thread int turn;
	char *p = path[turn++ % 4];
	const char *b = getenv("AIOS_BUILD_DIR");
	snprintf(p, sizeof path[0], "%s/%s", b ? b : "build", rel);
	return p;
}

int sf_sh(const char *cmd)
{
	int st = system(cmd);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *sf_slurp(const char *path)
{
	static char text[8192];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	text[n] = 0;
	if (f)
		fclose(f);
	return text;
}

static const char *serve_bin(void)
{
	return sf_program("src/serve/aios-serve");
}

static pid_t spawn(const char *const *args, const char *log, int extra)
{
	const char *argv[64];
	int n = 0;
	argv[n++] = serve_bin();
	for (int i = 0; args[i] && n < 56; i++)
		argv[n++] = args[i];
	if (extra) {
		argv[n++] = "--port";
		argv[n++] = "0";
		argv[n++] = "--bind";
		argv[n++] = "127.0.0.1";
	}
	argv[n] = NULL;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

void sf_start(struct sf_server *srv, const char *const *args)
{
	memset(srv, 0, sizeof *srv);
	snprintf(srv->log, sizeof srv->log, "/tmp/aios-serve-test-%d-%ld.log", (int)getpid(),
	         (long)aios_now_ns());
	srv->pid = spawn(args, srv->log, 1);
	int64_t deadline = aios_now_ms() + 10000;
	while (aios_now_ms() < deadline) {
		FILE *f = fopen(srv->log, "r");
		char line[4096];
		while (f && fgets(line, sizeof line, f)) {
			char *p = strstr(line, "\"event\":\"serve_ready\"");
			char *q = p ? strstr(line, " on port ") : NULL;
			if (q) {
				srv->port = (int)strtol(q + 9, NULL, 10);
				fclose(f);
				return;
			}
		}
		if (f)
			fclose(f);
		int st;
		if (waitpid(srv->pid, &st, WNOHANG) == srv->pid)
			ck_abort_msg("aios-serve exited early (status %d); see %s", st, srv->log);
		aios_sleep_ms(20);
	}
	kill(srv->pid, SIGKILL);
	waitpid(srv->pid, NULL, 0);
	ck_abort_msg("aios-serve did not become ready in 10 s; see %s", srv->log);
}

int sf_stop(struct sf_server *srv)
{
	kill(srv->pid, SIGTERM);
	int st = 0;
	int64_t deadline = aios_now_ms() + 15000;
	while (waitpid(srv->pid, &st, WNOHANG) == 0) {
		if (aios_now_ms() > deadline) {
			kill(srv->pid, SIGKILL);
			waitpid(srv->pid, &st, 0);
			return -1;
		}
		aios_sleep_ms(10);
	}
	unlink(srv->log);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int sf_run_fail(const char *const *args, char *out, size_t n)
{
	char log[256];
	snprintf(log, sizeof log, "/tmp/aios-serve-fail-%d-%ld.log", (int)getpid(),
	         (long)aios_now_ns());
	pid_t pid = spawn(args, log, 0);
	int st = 0;
	int64_t deadline = aios_now_ms() + 10000;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (aios_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ck_abort_msg("aios-serve did not exit; expected a fast failure");
		}
		aios_sleep_ms(10);
	}
	FILE *f = fopen(log, "r");
	size_t got = f ? fread(out, 1, n - 1, f) : 0;
	out[got] = 0;
	if (f)
		fclose(f);
	unlink(log);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

float *sf_read_f32(const char *path, size_t n)
{
	struct aios_buf b;
	aios_buf_init(&b, 64u << 20);
	ck_assert_msg(aios_buf_read_file(&b, path) == AIOS_OK, "read %s: %s", path, aios_errmsg());
	ck_assert_msg(b.len == n * sizeof(float), "%s: %zu bytes, want %zu", path, b.len,
	              n * sizeof(float));
	float *v = malloc(b.len ? b.len : 1);
	memcpy(v, b.data, b.len);
	aios_buf_cleanup(&b);
	return v;
}

void sf_assert_close(const char *what, const float *got, const float *want, size_t n)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - want[i]), lim = 1e-5 * fabs(want[i]) + 1e-6;
		ck_assert_msg(d <= lim,
		              "%s: value %zu is %.9g, the peer says %.9g (|d| %.3g > %.3g)", what,
		              i, got[i], want[i], d, lim);
		if (d > worst)
			worst = d;
	}
	fprintf(stderr, "%s: %zu values agree, largest |d| %.3g\n", what, n, worst);
}

float *sf_infer_v2(int port, const char *input, const float *x, int rows, int width, int n_out)
{
	struct aios_buf b;
	aios_buf_init(&b, 64u << 20);
	char head[256];
	snprintf(head, sizeof head,
	         "{\"inputs\":[{\"name\":\"%s\",\"shape\":[%d,%d],\"datatype\":\"FP32\",\"data\":[",
	         input, rows, width);
	ck_assert(aios_buf_append(&b, head, strlen(head)) == AIOS_OK);
	for (size_t i = 0; i < (size_t)rows * width; i++) {
		char v[40];
		int k = snprintf(v, sizeof v, "%s%.9g", i ? "," : "", (double)x[i]);
		ck_assert(aios_buf_append(&b, v, (size_t)k) == AIOS_OK);
	}
	ck_assert(aios_buf_append(&b, "]}]}", 5) == AIOS_OK);
	struct tc_resp r;
	tc_request(port, "POST", "/v2/models/m/infer", b.data, &r);
	aios_buf_cleanup(&b);
	ck_assert_msg(r.status == 200, "infer: status %d: %s", r.status, r.body);
	struct json_object *root = json_tokener_parse(r.body), *outs, *data;
	ck_assert_msg(root && json_object_object_get_ex(root, "outputs", &outs), "%s", r.body);
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(outs, 0), "data", &data));
	size_t n = (size_t)rows * n_out;
	ck_assert_int_eq(json_object_array_length(data), n);
	float *y = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		y[i] = (float)json_object_get_double(json_object_array_get_idx(data, i));
	json_object_put(root);
	tc_resp_free(&r);
	return y;
}
