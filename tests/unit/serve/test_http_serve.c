/*
 * test_http_serve.c - the real aios-serve binary on a loopback port: every endpoint,
 * every bad request, model sources (file, pvc, http + sha256), TLS, SIGTERM.
 * Needs no API server (label unit); each test starts its own process.
 */
#include <check.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/clock.h"
#include "http/http.h"
#include "support/http_client.h"
#include "support/serve_fixture.h"
#include "support/tmpdir.h"

static char g_dir[256], g_model[300];
static struct aios_model *g_m;

/* A 4 -> 16 -> 3 softmax MLP (multi-output) written to a temp dir. */
static void setup(void)
{
	aios_test_tmpdir("aios-serve-http", g_dir, sizeof g_dir); /* removed with the test */
	snprintf(g_model, sizeof g_model, "%s/model.aios", g_dir);
	int sizes[] = {4, 16, 3};
	g_m = sf_model(2, sizes, AIOS_ACT_RELU, AIOS_ACT_SOFTMAX, 42);
	ck_assert_int_eq(aios_model_write_file(g_m, g_model, AIOS_DTYPE_F32), AIOS_OK);
}

static void teardown(void)
{
	aios_test_tmpdir_remove(g_dir);
	g_dir[0] = 0;
	aios_model_free(g_m);
}

static void start(struct sf_server *s, const char *extra1, const char *extra2)
{
	const char *args[] = {"--model", g_model, "--name", "mlp", extra1, extra2, NULL};
	sf_start(s, args);
}

static void expect(int port, const char *method, const char *path, const char *body, int status,
                   const char *needle)
{
	struct tc_resp r;
	tc_request(port, method, path, body, &r);
	ck_assert_msg(r.status == status, "%s %s: status %d, want %d; body %s", method, path,
	              r.status, status, r.body);
	if (needle)
		ck_assert_msg(strstr(r.body, needle), "%s %s: body %s lacks %s", method, path,
		              r.body, needle);
	tc_resp_free(&r);
}

START_TEST(health_and_metadata)
{
	struct sf_server s;
	start(&s, NULL, NULL);
	expect(s.port, "GET", "/v2/health/live", NULL, 200, "{\"live\":true}");
	expect(s.port, "GET", "/v2/health/ready", NULL, 200, "{\"ready\":true}");
	expect(s.port, "GET", "/v1/models/mlp", NULL, 200, "{\"name\":\"mlp\",\"ready\":true}");
	expect(s.port, "GET", "/v2/models/mlp", NULL, 200, "\"shape\":[-1,4]");
	expect(s.port, "GET", "/v2/models/mlp", NULL, 200, g_m->sha256);
	expect(s.port, "GET", "/v2/models/mlp/ready", NULL, 200, "\"ready\":true");
	expect(s.port, "GET", "/v1/models/other", NULL, 404, "model \\\"other\\\" not found");
	expect(s.port, "GET", "/v2/models/other/ready", NULL, 404, "not found");
	expect(s.port, "GET", "/nothing", NULL, 404, "no route");
	expect(s.port, "GET", "/v1/models/mlp:predict", NULL, 405, "not allowed");
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

/* Parses up to n floats after key in body. */
static int floats_after(const char *body, const char *key, float *out, int n)
{
	const char *p = strstr(body, key);
	ck_assert_ptr_nonnull(p);
	p += strlen(key);
	int k = 0;
	while (*p && k < n) {
		if ((*p >= '0' && *p <= '9') || *p == '-') {
			char *end;
			out[k++] = strtof(p, &end);
			p = end;
		} else if (*p == '}') {
			break;
		} else {
			p++;
		}
	}
	return k;
}

START_TEST(predictions_match_reference)
{
	struct sf_server s;
	start(&s, NULL, NULL);
	float x[] = {0.5f, -1, 2, 0.25f, 1, 1, -1, 0};
	float yref[6], scratch[256];
	aios_model_forward_ref(g_m, x, 2, yref, scratch);
	struct tc_resp r;
	tc_request(s.port, "POST", "/v1/models/mlp:predict",
	           "{\"instances\": [[0.5, -1, 2, 0.25], [1, 1, -1, 0]]}", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "{\"predictions\":[["));
	float y[6];
	ck_assert_int_eq(floats_after(r.body, "\"predictions\":", y, 6), 6);
	for (int i = 0; i < 6; i++)
		ck_assert_float_eq_tol(y[i], yref[i], 1e-5f);
	tc_resp_free(&r);
	tc_request(s.port, "POST", "/v2/models/mlp/infer",
	           "{\"id\":\"q7\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[2,4],\"datatype\":"
	           "\"FP32\","
	           "\"data\":[0.5,-1,2,0.25,1,1,-1,0]}]}",
	           &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"id\":\"q7\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"shape\":[2,3]"));
	ck_assert_int_eq(floats_after(r.body, "\"data\":", y, 6), 6);
	for (int i = 0; i < 6; i++)
		ck_assert_float_eq_tol(y[i], yref[i], 1e-5f);
	tc_resp_free(&r);
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

START_TEST(bad_requests_are_named_and_server_keeps_serving)
{
	struct sf_server s;
	start(&s, "--max-request-bytes", "1024");
	const char *p1 = "/v1/models/mlp:predict", *p2 = "/v2/models/mlp/infer";
	expect(s.port, "POST", p1, "{\"instances\": [[1,2,3,4]", 400, "truncated JSON");
	expect(s.port, "POST", p1, "{\"instances\": [[1,2,3]]}", 400,
	       "has 3 values; the model takes 4");
	expect(s.port, "POST", p1, "{\"instances\": [[1,2,3,NaN]]}", 400, "NaN");
	expect(s.port, "POST", p1, "{\"instances\": []}", 400, "instances is empty");
	expect(s.port, "POST", p1, "{\"instances\": [[1,2,3,\"4\"]]}", 400, "expected a number");
	expect(s.port, "POST", "/v1/models/nope:predict", "{\"instances\": [[1,2,3,4]]}", 404,
	       "model \\\"nope\\\" not found");
	expect(s.port, "POST", p2,
	       "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"INT32\",\"data\":[1,2,"
	       "3,4]}]}",
	       400, "INT32 is not supported");
	expect(s.port, "POST", p2,
	       "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,5],\"datatype\":\"FP32\",\"data\":[1,2,3,"
	       "4,5]}]}",
	       400, "last dimension is 5; the model takes 4");
	expect(s.port, "POST", p2,
	       "{\"inputs\":[{\"name\":\"x\",\"shape\":[0,4],\"datatype\":\"FP32\",\"data\":[]}]}",
	       400, "batch is empty");
	char big[2048];
	memset(big, ' ', sizeof big - 1);
	big[sizeof big - 1] = 0;
	expect(s.port, "POST", p1, big, 413, "exceeds the limit of 1024 bytes");
	/* still serving */
	expect(s.port, "POST", p1, "{\"instances\": [[1,2,3,4]]}", 200, "predictions");
	/* the errors were counted by endpoint and code */
	expect(s.port, "GET", "/metrics", NULL, 200,
	       "aios_serve_requests_total{endpoint=\"v1_predict\",code=\"400\"} 5");
	expect(s.port, "GET", "/metrics", NULL, 200,
	       "aios_serve_requests_total{endpoint=\"v2_infer\",code=\"400\"} 3");
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

/* POST of len raw bytes with extra header lines ("Name: value\r\n"...) on a new connection. */
static void raw_post(int port, const char *path, const char *headers, const void *body, size_t len,
                     struct tc_resp *r)
{
	char head[1024];
	int n = snprintf(head, sizeof head,
	                 "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n%s\r\n", path, len,
	                 headers);
	int fd = tc_connect(port);
	tc_send(fd, head, (size_t)n);
	tc_send(fd, body, len);
	tc_read(fd, r, 5000);
	close(fd);
}

/* The binary tensor extension over HTTP: a round trip, and each malformed frame a 400. */
START_TEST(binary_tensor_extension)
{
	struct sf_server s;
	start(&s, "--max-request-bytes", "1024");
	const char *p2 = "/v2/models/mlp/infer";
	float x[8] = {0.5f, -1, 2, 0.25f, 1, 1, -1, 0};
	const char *json = "{\"id\":\"b7\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[2,4],"
	                   "\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":32}}],"
	                   "\"outputs\":[{\"name\":\"output-0\",\"parameters\":{\"binary_data\":"
	                   "true}}]}";
	char body[1024] = {0}, hdr[128];
	size_t jl = strlen(json);
	memcpy(body, json, jl);
	memcpy(body + jl, x, sizeof x); /* this machine is little-endian, as the format */
	snprintf(hdr, sizeof hdr,
	         "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: "
	         "%zu\r\n",
	         jl);
	struct tc_resp r;
	raw_post(s.port, p2, hdr, body, jl + sizeof x, &r);
	ck_assert_msg(r.status == 200, "status %d: %s", r.status, r.body);
	char v[64];
	ck_assert(tc_header(&r, "Content-Type", v, sizeof v));
	ck_assert_str_eq(v, "application/octet-stream");
	ck_assert(tc_header(&r, "Inference-Header-Content-Length", v, sizeof v));
	size_t rjl = strtoul(v, NULL, 10);
	ck_assert_uint_eq(r.body_len, rjl + 6 * sizeof(float));
	ck_assert_ptr_nonnull(strstr(r.body, "\"id\":\"b7\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"shape\":[2,3]"));
	ck_assert_ptr_nonnull(strstr(r.body, "\"parameters\":{\"binary_data_size\":24}"));
	float yb[6], yref[6], scratch[256];
	memcpy(yb, r.body + rjl, sizeof yb);
	aios_model_forward_ref(g_m, x, 2, yref, scratch);
	for (int i = 0; i < 6; i++)
		ck_assert_float_eq_tol(yb[i], yref[i], 1e-5f);
	tc_resp_free(&r);
	/* the same rows as JSON: the same floats, bit for bit (%.9g round-trips) */
	tc_request(s.port, "POST", p2,
	           "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[2,4],\"datatype\":\"FP32\","
	           "\"data\":[0.5,-1,2,0.25,1,1,-1,0]}]}",
	           &r);
	ck_assert_int_eq(r.status, 200);
	float yj[6];
	ck_assert_int_eq(floats_after(r.body, "\"data\":", yj, 6), 6);
	ck_assert_mem_eq(yj, yb, sizeof yb);
	tc_resp_free(&r);
	/* malformed frames: 400 with a JSON error naming the problem */
	static const struct {
		const char *hdr;
		size_t len; /* bytes of body sent */
		const char *msg;
	} bad[] = {
	    {"Inference-Header-Content-Length: 5000\r\n", 0,
	     "Inference-Header-Content-Length is 5000 but the body holds only"},
	    {"Inference-Header-Content-Length: -3\r\n", 0, "is not a byte count"},
	    {"Inference-Header-Content-Length: 99999999999999999999999\r\n", 0,
	     "but the body holds only"},
	    {NULL, 4, "binary_data_size is 32 bytes but the binary part after the"},
	    {NULL, 1, "binary_data_size is 32 bytes but the binary part after the"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = jl + sizeof x;
		const char *h = bad[i].hdr;
		if (!h) { /* the right header, the wrong number of tensor bytes */
			h = hdr;
			len = jl + sizeof x - bad[i].len;
			if (bad[i].len == 1)
				len = jl + sizeof x + 1;
		}
		raw_post(s.port, p2, h, body, len, &r);
		ck_assert_msg(r.status == 400, "case %zu: status %d: %s", i, r.status, r.body);
		ck_assert_msg(strncmp(r.body, "{\"error\":\"", 10) == 0, "case %zu: %s", i, r.body);
		ck_assert_msg(strstr(r.body, bad[i].msg), "case %zu: %s lacks %s", i, r.body,
		              bad[i].msg);
		tc_resp_free(&r);
	}
	/* a wrong datatype, a size that does not match the shape */
	const char *j16 =
	    "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,4],\"datatype\":\"FP16\","
	    "\"parameters\":{\"binary_data_size\":16}}]}";
	const char *j20 =
	    "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,4],\"datatype\":\"FP32\","
	    "\"parameters\":{\"binary_data_size\":20}}]}";
	const struct {
		const char *json;
		size_t tensor;
		const char *msg;
	} bad2[] = {{j16, 16, "FP16 is not supported"}, {j20, 20, "of FP32 needs 16"}};
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(bad2[i].json);
		memcpy(body, bad2[i].json, n);
		memset(body + n, 0, bad2[i].tensor);
		snprintf(hdr, sizeof hdr, "Inference-Header-Content-Length: %zu\r\n", n);
		raw_post(s.port, p2, hdr, body, n + bad2[i].tensor, &r);
		ck_assert_msg(r.status == 400 && strstr(r.body, bad2[i].msg), "%d %s", r.status,
		              r.body);
		tc_resp_free(&r);
	}
	/* the body cap holds whatever the header says: refused before the handler */
	static char huge[2048];
	memset(huge, 0, sizeof huge);
	raw_post(s.port, p2, "Inference-Header-Content-Length: 10\r\n", huge, sizeof huge, &r);
	ck_assert_int_eq(r.status, 413);
	tc_resp_free(&r);
	/* still serving, and every refusal was counted */
	expect(s.port, "GET", "/v2/health/live", NULL, 200, "live");
	expect(s.port, "GET", "/metrics", NULL, 200,
	       "aios_serve_requests_total{endpoint=\"v2_infer\",code=\"400\"} 7");
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

START_TEST(slow_client_gets_408)
{
	struct sf_server s;
	start(&s, "--request-timeout-ms", "300");
	int fd = tc_connect(s.port);
	const char *part =
	    "POST /v1/models/mlp:predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"inst";
	tc_send(fd, part, strlen(part));
	struct tc_resp r;
	int64_t t0 = aios_now_ms();
	tc_read(fd, &r, 3000);
	ck_assert_int_eq(r.status, 408);
	ck_assert_ptr_nonnull(strstr(r.body, "not received within 300 ms"));
	ck_assert_int_lt(aios_now_ms() - t0, 1500);
	ck_assert(tc_wait_closed(fd, 1000));
	tc_resp_free(&r);
	close(fd);
	expect(s.port, "GET", "/v2/health/live", NULL, 200, "live");
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

START_TEST(metrics_page)
{
	struct sf_server s;
	start(&s, "--quantize", "int8");
	expect(s.port, "POST", "/v1/models/mlp:predict", "{\"instances\": [[1,2,3,4],[0,0,0,0]]}",
	       200, NULL);
	struct tc_resp r;
	tc_request(s.port, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	const char *want[] = {
	    "aios_serve_requests_total{endpoint=\"v1_predict\",code=\"200\"} 1\n",
	    "# TYPE aios_serve_request_duration_seconds histogram\n",
	    "aios_serve_request_duration_seconds_count{endpoint=\"v1_predict\"} 1\n",
	    "aios_serve_requests_in_flight 0\n",
	    "aios_serve_queue_depth 0\n",
	    "aios_serve_batch_size_bucket{le=\"2\"} 2\n", /* warm-up (1 row) + this (2 rows) */
	    "aios_serve_model_info{name=\"mlp\",sha256=\"",
	    "quantize=\"int8\"} 1\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(strstr(r.body, want[i]), "metrics lack %s:\n%.2000s", want[i],
		              r.body);
	ck_assert_ptr_nonnull(strstr(r.body, g_m->sha256));
	char path[400];
	snprintf(path, sizeof path, "%s/metrics.txt", g_dir);
	FILE *f = fopen(path, "w");
	fputs(r.body, f);
	fclose(f);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
	ck_assert_msg(system(cmd) == 0, "promtool refused the page:\n%.2000s", r.body);
	tc_resp_free(&r);
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

START_TEST(sigterm_finishes_in_flight_and_drops_ready)
{
	struct sf_server s;
	start(&s, "--grace-seconds", "5");
	int a = tc_connect(s.port), b = tc_connect(s.port), idle = tc_connect(s.port);
	const char *pa =
	    "POST /v1/models/mlp:predict HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"instances\": ";
	const char *pb = "GET /v2/health/ready HTTP/1.1\r\nContent-Length: 3\r\n\r\na";
	tc_send(a, pa, strlen(pa));
	tc_send(b, pb, strlen(pb));
	aios_sleep_ms(100);
	kill(s.pid, SIGTERM);
	aios_sleep_ms(300);
	ck_assert(tc_wait_closed(idle, 2000)); /* idle keep-alive connections are closed */
	tc_send(a, "[[1,2,3,4]]}", 12);
	tc_send(b, "bc", 2);
	struct tc_resp r;
	tc_read(a, &r, 3000);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "predictions"));
	ck_assert_int_eq(r.closed, 1);
	tc_resp_free(&r);
	tc_read(b, &r, 3000);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "{\"ready\":false}");
	tc_resp_free(&r);
	close(a);
	close(b);
	close(idle);
	ck_assert_int_eq(sf_stop(&s), 0); /* already stopping: exits 0 */
}
END_TEST

START_TEST(refuses_damaged_artifacts)
{
	char out[8192];
	/* flip one byte in the middle */
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_int_eq(aios_buf_read_file(&b, g_model), AIOS_OK);
	char bad[400];
	snprintf(bad, sizeof bad, "%s/bad.aios", g_dir);
	b.data[b.len / 2] ^= 0x40;
	FILE *f = fopen(bad, "wb");
	fwrite(b.data, 1, b.len, f);
	fclose(f);
	const char *a1[] = {"--model", bad, "--name", "m", NULL};
	ck_assert_int_eq(sf_run_fail(a1, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "bad.aios"), "message does not name the file: %s", out);
	/* truncated */
	f = fopen(bad, "wb");
	fwrite(b.data, 1, b.len / 3, f);
	fclose(f);
	ck_assert_int_eq(sf_run_fail(a1, out, sizeof out), 2);
	ck_assert_ptr_nonnull(strstr(out, "model_load_failed"));
	aios_buf_cleanup(&b);
	/* wrong expected digest */
	const char *a2[] = {
	    "--model",  g_model,
	    "--name",   "m",
	    "--sha256", "0000000000000000000000000000000000000000000000000000000000000000",
	    NULL};
	ck_assert_int_eq(sf_run_fail(a2, out, sizeof out), 2);
	ck_assert_ptr_nonnull(strstr(out, "SHA-256 is"));
	/* missing file, bad flags */
	const char *a3[] = {"--model", "/nonexistent/x.aios", "--name", "m", NULL};
	ck_assert_int_eq(sf_run_fail(a3, out, sizeof out), 2);
	ck_assert_ptr_nonnull(strstr(out, "x.aios: No such file"));
	const char *a4[] = {"--name", "m", NULL};
	ck_assert_int_eq(sf_run_fail(a4, out, sizeof out), 1);
	ck_assert_ptr_nonnull(strstr(out, "--model"));
	const char *a5[] = {"--model", g_model, "--name", "m", "--quantize", "int4", NULL};
	ck_assert_int_eq(sf_run_fail(a5, out, sizeof out), 1);
	ck_assert_ptr_nonnull(strstr(out, "int4"));
}
END_TEST

START_TEST(pvc_uri_and_env_config)
{
	char claim[400], cmd[1000];
	snprintf(claim, sizeof claim, "%s/models-claim/v1", g_dir);
	snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s/m.aios", claim, g_model, claim);
	ck_assert_int_eq(system(cmd), 0);
	setenv("AIOS_PVC_ROOT", g_dir, 1);
	setenv("AIOS_SERVE_MODEL", "pvc://models-claim/v1/m.aios", 1);
	setenv("AIOS_SERVE_NAME", "envname", 1);
	setenv("AIOS_SERVE_MAX_BATCH_SIZE", "8", 1);
	struct sf_server s;
	const char *args[] = {NULL};
	sf_start(&s, args);
	expect(s.port, "GET", "/v2/models/envname/ready", NULL, 200, "\"ready\":true");
	ck_assert_int_eq(sf_stop(&s), 0);
	setenv("AIOS_SERVE_MODEL", "pvc://models-claim/../../etc/passwd", 1);
	char out[4096];
	ck_assert_int_eq(sf_run_fail(args, out, sizeof out), 2);
	ck_assert_ptr_nonnull(strstr(out, "not allowed"));
	unsetenv("AIOS_SERVE_MODEL");
	unsetenv("AIOS_SERVE_NAME");
	unsetenv("AIOS_SERVE_MAX_BATCH_SIZE");
}
END_TEST

static struct aios_buf g_art;
static void serve_artifact(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	resp->content_type = "application/octet-stream";
	if (aios_buf_append(&resp->body, g_art.data, g_art.len))
		resp->status = 500;
}

START_TEST(http_uri_with_sha256)
{
	aios_buf_init(&g_art, 1 << 20);
	ck_assert_int_eq(aios_buf_read_file(&g_art, g_model), AIOS_OK);
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = 0;
	struct aios_http_server *h = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(h, "GET", "/models/m.aios", serve_artifact, NULL),
	                 AIOS_OK);
	ck_assert_int_eq(aios_http_server_start(h), AIOS_OK);
	char uri[128];
	snprintf(uri, sizeof uri, "http://127.0.0.1:%d/models/m.aios", aios_http_server_port(h));
	struct sf_server s;
	const char *args[] = {"--model", uri, "--name", "web", "--sha256", g_m->sha256, NULL};
	sf_start(&s, args);
	expect(s.port, "POST", "/v1/models/web:predict", "{\"instances\": [[1,2,3,4]]}", 200,
	       "predictions");
	ck_assert_int_eq(sf_stop(&s), 0);
	char missing[160], out[4096];
	snprintf(missing, sizeof missing, "http://127.0.0.1:%d/models/none",
	         aios_http_server_port(h));
	const char *a2[] = {"--model", missing, "--name", "web", NULL};
	ck_assert_int_eq(sf_run_fail(a2, out, sizeof out), 2);
	ck_assert_ptr_nonnull(strstr(out, "HTTP status 404"));
	aios_http_server_free(h);
	aios_buf_cleanup(&g_art);
}
END_TEST

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	struct aios_buf *b = ud;
	return aios_buf_append(b, p, s * n) ? 0 : s * n;
}

/* A self-signed EC certificate for CN=cn at crt with its key at key. */
static void make_cert(const char *crt, const char *key, const char *cn)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd,
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-keyout %s -out %s -days 1 -subj /CN=%s >/dev/null 2>&1",
	         key, crt, cn);
	ck_assert_int_eq(system(cmd), 0);
}

/* Runs `openssl s_client` against port with extra options; its output (stdout and
 * stderr) into out; returns its exit status. */
static int s_client(int port, const char *extra, char *out, size_t n)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "openssl s_client -connect 127.0.0.1:%d %s </dev/null 2>&1", port,
	         extra);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t got = fread(out, 1, n - 1, p);
	out[got] = 0;
	return pclose(p);
}

static void start_tls(struct sf_server *s, const char *cert, const char *key)
{
	const char *args[] = {"--model", g_model,     "--name", "mlp", "--tls-cert",
	                      cert,      "--tls-key", key,      NULL};
	sf_start(s, args);
}

START_TEST(tls)
{
	char cert[400], key[400], out[16384];
	snprintf(cert, sizeof cert, "%s/tls.crt", g_dir);
	snprintf(key, sizeof key, "%s/tls.key", g_dir);
	make_cert(cert, key, "localhost");
	struct sf_server s;
	start_tls(&s, cert, key);
	char url[128];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/models/mlp:predict", s.port);
	struct aios_buf body;
	aios_buf_init(&body, 1 << 16);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, cert);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L); /* the cert names localhost */
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"instances\": [[1,2,3,4]]}");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_nonnull(strstr(body.data, "predictions"));
	aios_buf_cleanup(&body);
	/* a client that offers everything gets TLS 1.3 */
	ck_assert_int_eq(s_client(s.port, "", out, sizeof out), 0);
	ck_assert_msg(strstr(out, "New, TLSv1.3"), "not TLS 1.3: %s", out);
	/* TLS 1.2 is still accepted */
	ck_assert_int_eq(s_client(s.port, "-tls1_2", out, sizeof out), 0);
	ck_assert_msg(strstr(out, "New, TLSv1.2"), "TLS 1.2 refused: %s", out);
	/* TLS 1.1 is refused by the server (the client's own floor lowered) */
	ck_assert_int_ne(s_client(s.port, "-tls1_1 -cipher DEFAULT@SECLEVEL=0", out, sizeof out),
	                 0);
	ck_assert_msg(strstr(out, "alert protocol version"), "TLS 1.1 not refused: %s", out);
	/* plain HTTP on the TLS port does not get an answer */
	struct tc_resp r;
	tc_request(s.port, "GET", "/v2/health/live", NULL, &r);
	ck_assert_int_ne(r.status, 200);
	tc_resp_free(&r);
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

START_TEST(tls_reloads_a_changed_certificate)
{
	char cert[400], key[400], cert2[400], key2[400], out[16384];
	snprintf(cert, sizeof cert, "%s/tls.crt", g_dir);
	snprintf(key, sizeof key, "%s/tls.key", g_dir);
	snprintf(cert2, sizeof cert2, "%s/new.crt", g_dir);
	snprintf(key2, sizeof key2, "%s/new.key", g_dir);
	make_cert(cert, key, "first");
	struct sf_server s;
	start_tls(&s, cert, key);
	ck_assert_int_eq(s_client(s.port, "", out, sizeof out), 0);
	ck_assert_msg(strstr(out, "subject=CN = first"), "%s", out);
	/* a pair that does not load is logged and the old one stays */
	FILE *f = fopen(key, "w");
	fputs("not a key\n", f);
	fclose(f);
	aios_sleep_ms(1100);
	ck_assert_int_eq(s_client(s.port, "", out, sizeof out), 0);
	ck_assert_msg(strstr(out, "subject=CN = first"), "%s", out);
	/* a new pair, renamed into place as a Secret update does, serves new connections */
	make_cert(cert2, key2, "second");
	ck_assert_int_eq(rename(key2, key), 0);
	ck_assert_int_eq(rename(cert2, cert), 0);
	aios_sleep_ms(1100);
	ck_assert_int_eq(s_client(s.port, "", out, sizeof out), 0);
	ck_assert_msg(strstr(out, "subject=CN = second"), "not reloaded: %s", out);
	struct aios_buf log; /* read before stop removes it */
	aios_buf_init(&log, 1 << 20);
	ck_assert_int_eq(aios_buf_read_file(&log, s.log), AIOS_OK);
	ck_assert_ptr_nonnull(strstr(log.data, "http_tls_reload_failed"));
	ck_assert_ptr_nonnull(strstr(log.data, "http_tls_reloaded"));
	aios_buf_cleanup(&log);
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

START_TEST(tls_bad_pair_refused_at_start)
{
	char a_crt[400], a_key[400], b_crt[400], b_key[400], junk[400], out[8192];
	snprintf(a_crt, sizeof a_crt, "%s/a.crt", g_dir);
	snprintf(a_key, sizeof a_key, "%s/a.key", g_dir);
	snprintf(b_crt, sizeof b_crt, "%s/b.crt", g_dir);
	snprintf(b_key, sizeof b_key, "%s/b.key", g_dir);
	snprintf(junk, sizeof junk, "%s/junk.pem", g_dir);
	make_cert(a_crt, a_key, "a");
	make_cert(b_crt, b_key, "b");
	FILE *f = fopen(junk, "w");
	fputs("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", f);
	fclose(f);
	const char *mismatch[] = {"--model", g_model,     "--name", "m", "--tls-cert",
	                          a_crt,     "--tls-key", b_key,    NULL};
	ck_assert_int_eq(sf_run_fail(mismatch, out, sizeof out), 3);
	ck_assert_msg(strstr(out, "b.key does not match certificate"), "%s", out);
	const char *missing[] = {"--model",          g_model,     "--name", "m", "--tls-cert",
	                         "/nonexistent.crt", "--tls-key", a_key,    NULL};
	ck_assert_int_eq(sf_run_fail(missing, out, sizeof out), 3);
	ck_assert_msg(strstr(out, "nonexistent.crt: No such file"), "%s", out);
	const char *bad_key[] = {"--model", g_model,     "--name", "m", "--tls-cert",
	                         a_crt,     "--tls-key", junk,     NULL};
	ck_assert_int_eq(sf_run_fail(bad_key, out, sizeof out), 3);
	ck_assert_msg(strstr(out, "cannot load TLS key") && strstr(out, "junk.pem"), "%s", out);
}
END_TEST

/* Sends one predict request on each of n connections while the server is stopped, so
 * they all become readable in the same loop round when it resumes. */
static void burst(struct sf_server *s, int *fds, int n, struct tc_resp *r)
{
	kill(s->pid, SIGSTOP);
	const char *body = "{\"instances\": [[1,2,3,4],[4,3,2,1]]}";
	char req[256];
	int len = snprintf(req, sizeof req,
	                   "POST /v1/models/mlp:predict HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
	                   strlen(body), body);
	for (int i = 0; i < n; i++) {
		fds[i] = tc_connect(s->port); /* the kernel completes the handshake */
		tc_send(fds[i], req, (size_t)len);
	}
	aios_sleep_ms(50);
	kill(s->pid, SIGCONT);
	for (int i = 0; i < n; i++)
		tc_read(fds[i], &r[i], 5000);
}

START_TEST(concurrent_requests_share_a_pass)
{
	struct sf_server s;
	const char *args[] = {"--model", g_model, "--name", "mlp", "--threads", "1", NULL};
	sf_start(&s, args);
	/* Whether the burst lands in one loop round depends on scheduling; on a loaded
	 * machine (or under valgrind) one burst may be served piecemeal, so up to 3 bursts
	 * are sent and merging must show in at least one of them. */
	long small = 0, passes = 0;
	int bursts = 0;
	struct tc_resp m = {0};
	while (bursts < 3) {
		int fds[6];
		struct tc_resp r[6];
		burst(&s, fds, 6, r);
		bursts++;
		for (int i = 0; i < 6; i++) {
			ck_assert_int_eq(r[i].status, 200);
			ck_assert_str_eq(r[i].body, r[5].body); /* same rows, same predictions */
		}
		for (int i = 0; i < 6; i++) {
			tc_resp_free(&r[i]);
			close(fds[i]);
		}
		tc_resp_free(&m);
		tc_request(s.port, "GET", "/metrics", NULL, &m);
		/* the requests (2 rows each) were merged: some pass had more than 2 rows */
		const char *le2 = strstr(m.body, "aios_serve_batch_size_bucket{le=\"2\"} ");
		const char *cnt = strstr(m.body, "aios_serve_batch_size_count ");
		ck_assert_ptr_nonnull(le2);
		ck_assert_ptr_nonnull(cnt);
		small = strtol(le2 + strlen("aios_serve_batch_size_bucket{le=\"2\"} "), NULL, 10);
		passes = strtol(cnt + strlen("aios_serve_batch_size_count "), NULL, 10);
		if (passes > small)
			break;
	}
	ck_assert_msg(passes > small, "no pass merged requests in %d bursts:\n%.2000s", bursts,
	              m.body);
	ck_assert_int_lt(passes, 1 + 6 * bursts); /* fewer passes than warm-up + requests */
	tc_resp_free(&m);
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

START_TEST(full_queue_gets_503_with_retry_after)
{
	struct sf_server s;
	const char *args[] = {"--model", g_model,         "--name", "mlp", "--threads",
	                      "1",       "--queue-depth", "2",      NULL};
	sf_start(&s, args);
	/* A burst that lands in one loop round overflows the queue of 2. On a loaded machine
	 * (or under valgrind) a burst may be read over several rounds and fit, so up to 3
	 * bursts are sent and the queue must overflow in at least one. */
	int busy = 0, bursts = 0;
	while (busy == 0 && bursts < 3) {
		int fds[10];
		struct tc_resp r[10];
		burst(&s, fds, 10, r);
		bursts++;
		int ok = 0, burst_busy = 0;
		for (int i = 0; i < 10; i++) {
			if (r[i].status == 200)
				ok++;
			if (r[i].status == 503) {
				burst_busy++;
				char v[16];
				ck_assert(tc_header(&r[i], "Retry-After", v, sizeof v));
				ck_assert_str_eq(v, "1");
				ck_assert_ptr_nonnull(strstr(r[i].body, "queue is full"));
			}
			tc_resp_free(&r[i]);
			close(fds[i]);
		}
		/* at most 2 per round get through, and every request gets one of the two answers */
		ck_assert_int_ge(ok, 2);
		ck_assert_int_eq(ok + burst_busy, 10);
		busy += burst_busy;
	}
	ck_assert_msg(busy >= 1, "the queue never overflowed in %d bursts of 10", bursts);
	expect(s.port, "POST", "/v1/models/mlp:predict", "{\"instances\": [[1,2,3,4]]}", 200, NULL);
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_http");
	TCase *t = tcase_create("binary");
	aios_test_tmpdir_fixture(t);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, health_and_metadata);
	tcase_add_test(t, predictions_match_reference);
	tcase_add_test(t, bad_requests_are_named_and_server_keeps_serving);
	tcase_add_test(t, binary_tensor_extension);
	tcase_add_test(t, slow_client_gets_408);
	tcase_add_test(t, metrics_page);
	tcase_add_test(t, sigterm_finishes_in_flight_and_drops_ready);
	tcase_add_test(t, refuses_damaged_artifacts);
	tcase_add_test(t, pvc_uri_and_env_config);
	tcase_add_test(t, http_uri_with_sha256);
	tcase_add_test(t, tls);
	tcase_add_test(t, tls_reloads_a_changed_certificate);
	tcase_add_test(t, tls_bad_pair_refused_at_start);
	tcase_add_test(t, concurrent_requests_share_a_pass);
	tcase_add_test(t, full_queue_gets_503_with_retry_after);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
