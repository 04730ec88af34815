/* tls_io.c - see tls_io.h. */
#include "http/tls_io.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"

/* How often (ms) accept may stat the certificate, key and client CA bundle: a reload
 * costs three stat(2) calls per second at most, whatever the connection rate. */
#define RELOAD_CHECK_MS 1000

/* What identifies a version of a file on disk. */
struct file_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct aios_tls_server {
	pthread_mutex_t mu; /* guards everything below */
	SSL_CTX *ctx;       /* the context new sessions use; one reference is ours */
	char *cert, *key, *client_ca, *name; /* client_ca may be NULL */
	struct file_sig sig[3];              /* of cert, key, client_ca that ctx was built from */
	struct file_sig bad[3];              /* of a set that failed to load (logged once) */
	int64_t next_check_ns;
};

/* OpenSSL's reason for the latest failure on this thread, then an empty queue. */
static void ssl_reason(char *out, size_t n)
{
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, out, n);
	else
		snprintf(out, n, "%s", "unknown OpenSSL error");
	ERR_clear_error();
}

static int sig_of(const char *path, struct file_sig *s)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
	return 0;
}

static int sig_eq(const struct file_sig *a, const struct file_sig *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The signatures of t's files (an absent client CA leaves its slot zeroed); -1 if one
 * cannot be read. */
static int sigs_of(const struct aios_tls_server *t, struct file_sig out[3])
{
	memset(out, 0, 3 * sizeof out[0]);
	if (sig_of(t->cert, &out[0]) != 0 || sig_of(t->key, &out[1]) != 0)
		return -1;
	return t->client_ca && sig_of(t->client_ca, &out[2]) != 0 ? -1 : 0;
}

static int sigs_eq(const struct file_sig a[3], const struct file_sig b[3])
{
	return sig_eq(&a[0], &b[0]) && sig_eq(&a[1], &b[1]) && sig_eq(&a[2], &b[2]);
}

/* A server context from the files, or NULL with aios_errmsg() set. */
static SSL_CTX *ctx_load(const char *cert, const char *key, const char *client_ca, const char *name)
{
	char why[256];
	const char *paths[] = {cert, key, client_ca};
	static const char *const what[] = {"certificate", "key", "client CA bundle"};
	for (int i = 0; i < 3; i++) /* OpenSSL would only say "system lib" */
		if (paths[i] && access(paths[i], R_OK) != 0) {
			aios_fail(AIOS_ERR_TLS, "%s: cannot read TLS %s %s: %s", name, what[i],
			          paths[i], strerror(errno));
			return NULL;
		}
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_reason(why, sizeof why);
		aios_fail(AIOS_ERR_TLS, "%s: TLS context: %s", name, why);
		return NULL;
	}
	/* TLS 1.2 at least; the maximum stays OpenSSL's (TLS 1.3). */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* http.c retries a blocked write from a buffer that may have moved, and writes
	 * whatever prefix OpenSSL took. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	/* No session cache across contexts: a reload must not resume with an old key. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_reason(why, sizeof why);
		aios_fail(AIOS_ERR_TLS, "%s: cannot load TLS certificate %s: %s", name, cert, why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			goto mismatch;
		ssl_reason(why, sizeof why);
		aios_fail(AIOS_ERR_TLS, "%s: cannot load TLS key %s: %s", name, key, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
	mismatch:
		ERR_clear_error();
		aios_fail(AIOS_ERR_TLS, "%s: TLS key %s does not match certificate %s", name, key,
		          cert);
		goto fail;
	}
	if (client_ca) {
		/* ask for a certificate, verify one that comes; none is the application's call */
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
		if (!names || SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			ssl_reason(why, sizeof why);
			aios_fail(AIOS_ERR_TLS, "%s: cannot load the client CA bundle %s: %s", name,
			          client_ca, why);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names); /* the names sent in the request */
		/* a certificate for clients (extendedKeyUsage clientAuth when it has one) */
		X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(ctx), X509_PURPOSE_SSL_CLIENT);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

enum aios_err aios_tls_server_new(const char *cert, const char *key, const char *client_ca,
                                  const char *name, struct aios_tls_server **out)
{
	*out = NULL;
	/* OpenSSL writes with write(2): a peer gone mid-response must not kill us. */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	SSL_CTX *ctx = ctx_load(cert, key, client_ca, name);
	if (!ctx)
		return AIOS_ERR_TLS;
	struct aios_tls_server *t = aios_xcalloc(1, sizeof *t);
	pthread_mutex_init(&t->mu, NULL);
	t->ctx = ctx;
	t->cert = aios_xstrdup(cert);
	t->key = aios_xstrdup(key);
	t->client_ca = client_ca ? aios_xstrdup(client_ca) : NULL;
	t->name = aios_xstrdup(name);
	(void)sigs_of(t, t->sig);
	t->next_check_ns = aios_now_ns() + (int64_t)RELOAD_CHECK_MS * 1000000;
	*out = t;
	return AIOS_OK;
}

void aios_tls_server_free(struct aios_tls_server *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	pthread_mutex_destroy(&t->mu);
	free(t->cert);
	free(t->key);
	free(t->client_ca);
	free(t->name);
	free(t);
}

/* With t->mu held: swaps in a new context when the files changed and load. */
static void maybe_reload(struct aios_tls_server *t)
{
	int64_t now = aios_now_ns();
	if (now < t->next_check_ns)
		return;
	t->next_check_ns = now + (int64_t)RELOAD_CHECK_MS * 1000000;
	struct file_sig now_sig[3];
	if (sigs_of(t, now_sig) != 0)
		return; /* mid-replacement (or gone): keep serving the old files */
	if (sigs_eq(now_sig, t->sig))
		return;
	if (sigs_eq(now_sig, t->bad))
		return; /* this set failed already */
	SSL_CTX *ctx = ctx_load(t->cert, t->key, t->client_ca, t->name);
	if (!ctx) {
		aios_warn("http_tls_reload_failed", "%s; keeping the previous certificate",
		          aios_errmsg());
		memcpy(t->bad, now_sig, sizeof t->bad);
		return;
	}
	SSL_CTX_free(t->ctx); /* open sessions hold their own reference */
	t->ctx = ctx;
	memcpy(t->sig, now_sig, sizeof t->sig);
	aios_info("http_tls_reloaded", "%s: TLS certificate %s and key %s%s%s reloaded", t->name,
	          t->cert, t->key, t->client_ca ? ", client CA " : "",
	          t->client_ca ? t->client_ca : "");
}

struct ssl_st *aios_tls_server_session(struct aios_tls_server *t, int fd)
{
	pthread_mutex_lock(&t->mu);
	maybe_reload(t);
	SSL *ssl = SSL_new(t->ctx);
	pthread_mutex_unlock(&t->mu);
	if (!ssl || SSL_set_fd(ssl, fd) != 1)
		abort(); /* only an allocation can fail here */
	SSL_set_accept_state(ssl);
	return ssl;
}

/* Maps a failed call's result: -1 would block, 0 orderly close, -2 error. */
static int io_result(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -1;
	if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EINTR))
		return -1;
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -2;
}

int aios_tls_handshake(struct ssl_st *ssl)
{
	ERR_clear_error();
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return 1;
	return io_result(ssl, r) == -1 ? -1 : -2;
}

ssize_t aios_tls_read(struct ssl_st *ssl, char *p, size_t n)
{
	size_t got = 0;
	ERR_clear_error();
	int r = SSL_read_ex(ssl, p, n, &got);
	return r == 1 ? (ssize_t)got : io_result(ssl, r);
}

ssize_t aios_tls_write(struct ssl_st *ssl, const char *p, size_t n)
{
	size_t put = 0;
	ERR_clear_error();
	int r = SSL_write_ex(ssl, p, n, &put);
	if (r == 1)
		return (ssize_t)put;
	int e = io_result(ssl, r);
	return e == 0 ? -2 : e; /* a peer that closed cannot take the rest */
}

void aios_tls_close(struct ssl_st *ssl)
{
	if (!ssl)
		return;
	if (SSL_is_init_finished(ssl)) {
		SSL_set_quiet_shutdown(ssl, 0);
		(void)SSL_shutdown(ssl); /* one close_notify, best effort, never waits */
	}
	ERR_clear_error();
	SSL_free(ssl);
}

/* Copies the next entry of nid after *last in name into out as UTF-8 and moves *last
 * to it: 1 copied, 0 none left, -1 one that is empty, holds a NUL or does not fit. */
static int name_entry(const X509_NAME *name, int nid, int *last, char *out, size_t n)
{
	int i = X509_NAME_get_index_by_NID(name, nid, *last);
	if (i < 0)
		return 0;
	*last = i;
	unsigned char *utf8 = NULL;
	int len =
	    ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	int ok = len > 0 && (size_t)len < n && !memchr(utf8, '\0', (size_t)len);
	if (ok) {
		memcpy(out, utf8, (size_t)len);
		out[len] = '\0';
	}
	OPENSSL_free(utf8);
	return ok ? 1 : -1;
}

/* Fills out from a verified certificate's subject: 1, or 0 when it names no identity. */
static int subject_identity(const X509_NAME *name, struct aios_tls_peer *out)
{
	int last = -1;
	if (name_entry(name, NID_commonName, &last, out->cn, sizeof out->cn) != 1)
		return 0;
	if (X509_NAME_get_index_by_NID(name, NID_commonName, last) >= 0)
		return 0; /* two commonNames: which one is the user is not ours to guess */
	last = -1;
	for (;;) {
		if (out->n_orgs == AIOS_TLS_PEER_MAX_ORGS) /* one more: no identity */
			return X509_NAME_get_index_by_NID(name, NID_organizationName, last) < 0;
		int r = name_entry(name, NID_organizationName, &last, out->orgs[out->n_orgs],
		                   sizeof out->orgs[0]);
		if (r <= 0)
			return r == 0;
		out->n_orgs++;
	}
}

int aios_tls_peer(const struct ssl_st *ssl, struct aios_tls_peer *out)
{
	memset(out, 0, sizeof *out);
	X509 *crt = SSL_get0_peer_certificate(ssl);
	if (!crt || SSL_get_verify_result(ssl) != X509_V_OK)
		return 0;
	if (subject_identity(X509_get_subject_name(crt), out))
		return 1;
	memset(out, 0, sizeof *out);
	return 0;
}

const char *aios_tls_verify_error(const struct ssl_st *ssl)
{
	long v = SSL_get_verify_result(ssl);
	return v == X509_V_OK ? NULL : X509_verify_cert_error_string(v);
}

const char *aios_tls_version(const struct ssl_st *ssl)
{
	return SSL_get_version(ssl);
}
