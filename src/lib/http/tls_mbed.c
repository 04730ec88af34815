/* tls_mbed.c - see tls_mbed.h. */
#include "http/tls_mbed.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

int aios_tls_send(void *ctx, const unsigned char *p, size_t n)
{
	ssize_t r = send(*(int *)ctx, p, n, MSG_NOSIGNAL);
	if (r >= 0)
		return (int)r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
	                                             : MBEDTLS_ERR_NET_SEND_FAILED;
}

int aios_tls_recv(void *ctx, unsigned char *p, size_t n)
{
	ssize_t r = recv(*(int *)ctx, p, n, 0);
	if (r >= 0)
		return (int)r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;
static int g_seed_rc;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void seed_once(void)
{
	mbedtls_entropy_init(&g_entropy);
	mbedtls_ctr_drbg_init(&g_drbg);
	g_seed_rc = mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy,
	                                  (const unsigned char *)"aios-tls", 8);
}

mbedtls_ctr_drbg_context *aios_tls_rng(void)
{
	pthread_once(&g_once, seed_once);
	if (g_seed_rc) {
		aios_tls_fail(g_seed_rc, "TLS: seeding the random generator");
		return NULL;
	}
	return &g_drbg;
}

enum aios_err aios_tls_conf(mbedtls_ssl_config *conf, int endpoint, const char *what)
{
	mbedtls_ctr_drbg_context *rng = aios_tls_rng();
	if (!rng)
		return aios_fail_wrap(AIOS_ERR_TLS, "%s", what);
	int rc = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
	                                     MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc)
		return aios_tls_fail(rc, what);
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, rng);
	return AIOS_OK;
}

enum aios_err aios_tls_fail(int rc, const char *what)
{
	char msg[160];
	mbedtls_strerror(rc, msg, sizeof(msg));
	return aios_fail(AIOS_ERR_TLS, "%s: %s", what, msg);
}
