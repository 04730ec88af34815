/* test_tls_io.c - client certificates on the HTTP server's TLS (tls_io.c, tls_client_ca in
 * http.h): what a handler sees in req->peer for a certificate of the client CA (its CN
 * and O values, UTF-8, on every request of a kept-alive connection), for no certificate,
 * and for certificates that name no identity; the handshakes that fail (another CA, a
 * server-only certificate); the configurations that are refused; and a client CA bundle
 * replaced on disk. Certificates are made here with the openssl command (P-256 keys:
 * quick on a loaded machine). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "http/client.h"
#include "http/http.h"
#include "http/tls_io.h"
#include "support/ports.h"
#include "support/tmpdir.h"

static char g_dir[256];

/* Runs "cd DIR && what" (what: a shell command line). */
static void sh_in_dir(const char *what)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "cd %s && %s", g_dir, what);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

static const char *in_dir(const char *name)
{
	static char paths[4][512];
	static int turn;
	char *p = paths[turn++ % 4];
	snprintf(p, sizeof paths[0], "%s/%s", g_dir, name);
	return p;
}

/* NAME.crt and NAME.key: subject subj, extension line ext, signed by CA (ca or other). */
static void mkcert(const char *name, const char *subj, const char *ext, const char *ca)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
	         "printf '%%s\\n' '%s' > %s.ext && "
	         "openssl req -new -utf8 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-subj '%s' -keyout %s.key -out %s.csr >/dev/null 2>&1 && "
	         "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -CAcreateserial -days 2 "
	         "-extfile %s.ext -out %s.crt >/dev/null 2>&1",
	         ext, name, subj, name, name, name, ca, ca, name, name);
	sh_in_dir(cmd);
}

/* Two CAs, a server certificate for 127.0.0.1 from "ca", and the client certificates
 * the tests present. */
static void make_pki(void)
{
	aios_test_tmpdir("pki", g_dir, sizeof g_dir);
	sh_in_dir("for c in ca other; do openssl req -x509 -newkey ec -pkeyopt "
	          "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=tls-io-test-$c "
	          "-keyout $c.key -out $c.crt >/dev/null 2>&1 || exit 1; done");
	mkcert("server", "/CN=server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth",
	       "ca");
	const char *client = "extendedKeyUsage=clientAuth";
	mkcert("alice", "/O=team-a/O=team-b/CN=alice", client, "ca");
	mkcert("utf8", "/CN=jos\xc3\xa9", client, "ca");
	mkcert("stranger", "/CN=mallory", client, "other");
	mkcert("serveronly", "/CN=alice", "extendedKeyUsage=serverAuth", "ca");
	mkcert("nocn", "/O=team-a", client, "ca");
	mkcert("twocn", "/CN=alice/CN=system:admin", client, "ca");
	mkcert("manyorgs", "/O=g1/O=g2/O=g3/O=g4/O=g5/O=g6/O=g7/O=g8/O=g9/CN=bob", client, "ca");
	mkcert("eightorgs", "/O=g1/O=g2/O=g3/O=g4/O=g5/O=g6/O=g7/O=g8/CN=bob", client, "ca");
}

static void drop_pki(void)
{
	aios_test_tmpdir_remove(g_dir);
}

/* Answers "cn|org,org" for a peer, "-" for none. */
static void h_whoami(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	(void)ud;
	char out[2048];
	if (!req->peer) {
		snprintf(out, sizeof out, "-");
	} else {
		size_t l = (size_t)snprintf(out, sizeof out, "%s|", req->peer->cn);
		for (int i = 0; i < req->peer->n_orgs && l < sizeof out; i++)
			l += (size_t)snprintf(out + l, sizeof out - l, "%s%s", i ? "," : "",
			                      req->peer->orgs[i]);
	}
	resp->content_type = "text/plain";
	ck_assert_int_eq(aios_buf_append(&resp->body, out, strlen(out)), AIOS_OK);
}

/* The paths a server's configuration points at (one server at a time). */
static char g_cert[512], g_key[512], g_ca[512];

static struct aios_http_config server_config(const char *client_ca)
{
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = aios_test_free_port();
	c.name = "tls-test";
	snprintf(g_cert, sizeof g_cert, "%s", in_dir("server.crt"));
	snprintf(g_key, sizeof g_key, "%s", in_dir("server.key"));
	snprintf(g_ca, sizeof g_ca, "%s", client_ca ? client_ca : "");
	c.tls_cert = g_cert;
	c.tls_key = g_key;
	c.tls_client_ca = client_ca ? g_ca : NULL;
	return c;
}

static struct aios_http_server *serve(const char *client_ca)
{
	struct aios_http_config c = server_config(client_ca);
	struct aios_http_server *s = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(s, "GET", "/whoami", h_whoami, NULL), AIOS_OK);
	ck_assert_msg(aios_http_server_start(s) == AIOS_OK, "%s", aios_errmsg());
	return s;
}

/* TLS material trusting "ca", presenting NAME.crt/NAME.key (NULL: no certificate). */
static struct aios_httpc_tls *client_tls(const char *name)
{
	struct aios_buf ca, crt, key;
	aios_buf_init(&ca, 1 << 16);
	aios_buf_init(&crt, 1 << 16);
	aios_buf_init(&key, 1 << 16);
	ck_assert_int_eq(aios_buf_read_file(&ca, in_dir("ca.crt")), AIOS_OK);
	if (name) {
		char f[64];
		snprintf(f, sizeof f, "%s.crt", name);
		ck_assert_int_eq(aios_buf_read_file(&crt, in_dir(f)), AIOS_OK);
		snprintf(f, sizeof f, "%s.key", name);
		ck_assert_int_eq(aios_buf_read_file(&key, in_dir(f)), AIOS_OK);
	}
	struct aios_httpc_tls *t = NULL;
	ck_assert_msg(aios_httpc_tls_new(ca.data, ca.len, name ? crt.data : NULL, crt.len,
	                                 name ? key.data : NULL, key.len, 0, &t) == AIOS_OK,
	              "%s", aios_errmsg());
	aios_buf_cleanup(&ca);
	aios_buf_cleanup(&crt);
	aios_buf_cleanup(&key);
	return t;
}

/* GET /whoami on h with t: the error, and the body in out (n bytes) when 200. */
static enum aios_err whoami_on(struct aios_httpc_handle *h, struct aios_httpc_tls *t, int port,
                               char *out, size_t n)
{
	char url[128];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/whoami", port);
	struct aios_httpc_req req = {.url = url, .tls = t};
	struct aios_httpc_opts o = {.timeout_ms = 10000};
	struct aios_httpc_resp resp;
	enum aios_err e = aios_httpc_perform(h, &req, &o, &resp);
	snprintf(out, n, "%s", !e && resp.code == 200 ? resp.body.data : "");
	if (!e && resp.code != 200)
		e = AIOS_ERR_PROTOCOL;
	aios_httpc_resp_cleanup(&resp);
	return e;
}

/* One GET /whoami presenting NAME's certificate (NULL: none), on a new connection. */
static enum aios_err whoami(int port, const char *name, char *out, size_t n)
{
	struct aios_httpc_tls *t = client_tls(name);
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	enum aios_err e = whoami_on(h, t, port, out, n);
	aios_httpc_handle_free(h);
	aios_httpc_tls_free(t);
	return e;
}

START_TEST(peer_of_a_verified_certificate)
{
	make_pki();
	struct aios_http_server *s = serve(in_dir("ca.crt"));
	int port = aios_http_server_port(s);
	char out[2048];

	/* CN is the user, the O values its groups, in their order */
	ck_assert_msg(whoami(port, "alice", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "alice|team-a,team-b");
	/* no certificate: the handshake goes through and the handler decides */
	ck_assert_msg(whoami(port, NULL, out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "-");
	/* UTF-8 names arrive as UTF-8 */
	ck_assert_msg(whoami(port, "utf8", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "jos\xc3\xa9|");
	/* eight groups are kept; a ninth makes it no identity rather than a cut list */
	ck_assert_msg(whoami(port, "eightorgs", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "bob|g1,g2,g3,g4,g5,g6,g7,g8");
	ck_assert_msg(whoami(port, "manyorgs", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "-");
	/* no commonName, or two of them: no identity */
	ck_assert_msg(whoami(port, "nocn", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "-");
	ck_assert_msg(whoami(port, "twocn", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "-");

	/* a kept-alive connection: every request on it carries its certificate's peer */
	struct aios_httpc_tls *t = client_tls("alice");
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(whoami_on(h, t, port, out, sizeof out) == AIOS_OK, "%s",
		              aios_errmsg());
		ck_assert_str_eq(out, "alice|team-a,team-b");
	}
	/* one connection served the three (the earlier clients' closes may still be on
	 * their way to the server) */
	for (int i = 0; i < 100 && aios_http_server_connections(s) != 1; i++)
		usleep(20 * 1000);
	ck_assert_int_eq(aios_http_server_connections(s), 1);
	aios_httpc_handle_free(h);
	aios_httpc_tls_free(t);
	aios_http_server_free(s);
	drop_pki();
}
END_TEST

/* The server's log lines (stderr) go to stderr.log of the test dir until restored. */
static int g_saved_stderr = -1;

static void capture_stderr(void)
{
	fflush(stderr);
	g_saved_stderr = dup(2);
	int fd = open(in_dir("stderr.log"), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	close(fd);
}

static void restore_stderr(void)
{
	fflush(stderr);
	dup2(g_saved_stderr, 2);
	close(g_saved_stderr);
	g_saved_stderr = -1;
}

/* 1 when the captured log holds want and want2 on one line within 2 s (the server logs
 * on its own thread, after the client has seen the handshake fail). */
static int logged(const char *want, const char *want2)
{
	for (int i = 0; i < 100; i++) {
		struct aios_buf b;
		aios_buf_init(&b, 1 << 20);
		int found = 0;
		if (aios_buf_read_file(&b, in_dir("stderr.log")) == AIOS_OK && b.len > 0)
			for (char *line = b.data; line && !found;) {
				char *nl = strchr(line, '\n');
				if (nl)
					*nl = '\0';
				found = strstr(line, want) && strstr(line, want2);
				line = nl ? nl + 1 : NULL;
			}
		aios_buf_cleanup(&b);
		if (found)
			return 1;
		usleep(20 * 1000);
	}
	return 0;
}

START_TEST(certificates_that_do_not_verify_fail_the_handshake)
{
	make_pki();
	struct aios_http_server *s = serve(in_dir("ca.crt"));
	int port = aios_http_server_port(s);
	char out[2048];
	/* signed by a CA the server does not trust: refused, and logged with the reason */
	capture_stderr();
	ck_assert_int_ne(whoami(port, "stranger", out, sizeof out), AIOS_OK);
	ck_assert_str_eq(out, "");
	/* the right CA, but a certificate for servers only (extendedKeyUsage serverAuth) */
	ck_assert_int_ne(whoami(port, "serveronly", out, sizeof out), AIOS_OK);
	ck_assert_str_eq(out, "");
	int stranger_logged =
	    logged("http_tls_client_cert_refused", "unable to get local issuer certificate");
	int purpose_logged =
	    logged("http_tls_client_cert_refused", "unsuitable certificate purpose");
	restore_stderr();
	struct aios_buf log;
	aios_buf_init(&log, 1 << 20);
	if (aios_buf_read_file(&log, in_dir("stderr.log")) != AIOS_OK)
		log.len = 0;
	ck_assert_msg(stranger_logged, "no http_tls_client_cert_refused line naming the issuer: %s",
	              log.len ? log.data : "(empty)");
	ck_assert_msg(purpose_logged, "no http_tls_client_cert_refused line naming the purpose: %s",
	              log.len ? log.data : "(empty)");
	aios_buf_cleanup(&log);
	ck_assert_msg(logged("tls-test: the client certificate of 127.0.0.1 did not verify", ""),
	              "the refusal does not name the server and the client");
	/* the server is still fine for the next client */
	ck_assert_msg(whoami(port, "alice", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "alice|team-a,team-b");
	aios_http_server_free(s);

	/* without a client CA no certificate is asked for: a client's stays unsent */
	s = serve(NULL);
	port = aios_http_server_port(s);
	ck_assert_msg(whoami(port, "alice", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "-");
	aios_http_server_free(s);
	drop_pki();
}
END_TEST

/* Starting a server of config c fails with err and a message holding want1 and want2. */
static void refused_at_start(const struct aios_http_config *c, enum aios_err err, const char *want1,
                             const char *want2)
{
	struct aios_http_server *s = aios_http_server_new(c);
	ck_assert_int_eq(aios_http_server_start(s), err);
	ck_assert_msg(strstr(aios_errmsg(), want1) && strstr(aios_errmsg(), want2), "%s",
	              aios_errmsg());
	aios_http_server_free(s);
}

START_TEST(configurations_refused_at_start)
{
	make_pki();
	/* a client CA without TLS would let everyone in over plain HTTP */
	struct aios_http_config c = server_config(in_dir("ca.crt"));
	c.tls_cert = c.tls_key = NULL;
	refused_at_start(&c, AIOS_ERR_INVALID, "client CA", "needs TLS");
	/* a bundle that cannot be read, or holds no certificate: named */
	c = server_config(in_dir("missing.crt"));
	refused_at_start(&c, AIOS_ERR_TLS, "cannot read TLS client CA bundle", "missing.crt");
	sh_in_dir("echo junk > junk.crt");
	c = server_config(in_dir("junk.crt"));
	refused_at_start(&c, AIOS_ERR_TLS, "cannot load the client CA bundle", "junk.crt");
	drop_pki();
}
END_TEST

START_TEST(client_ca_reloaded_when_replaced)
{
	make_pki();
	sh_in_dir("cp ca.crt bundle.crt");
	struct aios_http_server *s = serve(in_dir("bundle.crt"));
	int port = aios_http_server_port(s);
	char out[2048];
	ck_assert_msg(whoami(port, "alice", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_int_ne(whoami(port, "stranger", out, sizeof out), AIOS_OK);
	/* the bundle now trusts only the other CA: after the next check (1 s), new
	 * connections verify against it */
	sh_in_dir("cp other.crt bundle.new && mv bundle.new bundle.crt");
	usleep(1200 * 1000);
	ck_assert_msg(whoami(port, "stranger", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(out, "mallory|");
	ck_assert_int_ne(whoami(port, "alice", out, sizeof out), AIOS_OK);
	/* a replacement that does not load keeps the bundle that did */
	sh_in_dir("echo junk > bundle.new && mv bundle.new bundle.crt");
	usleep(1200 * 1000);
	ck_assert_msg(whoami(port, "stranger", out, sizeof out) == AIOS_OK, "%s", aios_errmsg());
	aios_http_server_free(s);
	drop_pki();
}
END_TEST

static Suite *tls_io_suite(void)
{
	Suite *s = suite_create("http_tls_io");
	TCase *l = tcase_create("client_certificates");
	tcase_set_timeout(l, 120);
	aios_test_tmpdir_fixture(l);
	tcase_add_test(l, peer_of_a_verified_certificate);
	tcase_add_test(l, certificates_that_do_not_verify_fail_the_handshake);
	tcase_add_test(l, configurations_refused_at_start);
	tcase_add_test(l, client_ca_reloaded_when_replaced);
	suite_add_tcase(s, l);
	return s;
}

AIOS_CHECK_MAIN(tls_io_suite)
