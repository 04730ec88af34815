/*
 * tls_mbed.h - the mbed TLS pieces of the hand-written HTTP client (client.c): the
 * socket callbacks for a non-blocking descriptor, one process-wide random generator,
 * and error text. The server's TLS is OpenSSL (tls_io.h); this file goes away with
 * the client's move to libcurl.
 */
#ifndef AIOS_HTTP_TLS_MBED_H
#define AIOS_HTTP_TLS_MBED_H

#include <stddef.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ssl.h>

#include "common/err.h"

/* mbedtls_ssl_set_bio callbacks; ctx points at the int file descriptor. EAGAIN maps
 * to MBEDTLS_ERR_SSL_WANT_WRITE / WANT_READ, a reset to MBEDTLS_ERR_NET_CONN_RESET. */
int aios_tls_send(void *ctx, const unsigned char *p, size_t n);
int aios_tls_recv(void *ctx, unsigned char *p, size_t n);

/* The process' CTR-DRBG, seeded from the system on first use (it locks itself:
 * mbed TLS is built with MBEDTLS_THREADING_PTHREAD). NULL when seeding failed (then
 * aios_errmsg() says why). For mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, it). */
mbedtls_ctr_drbg_context *aios_tls_rng(void);

/* Sets conf up for one end (MBEDTLS_SSL_IS_CLIENT or _SERVER) the way every aios TLS
 * peer is: mbed TLS' defaults, TLS 1.2 at least, the process' random generator. what
 * names the peer in the error. conf must be initialised (mbedtls_ssl_config_init). */
enum aios_err aios_tls_conf(mbedtls_ssl_config *conf, int endpoint, const char *what);

/* Records "what: <mbed TLS's words for rc>" as AIOS_ERR_TLS. */
enum aios_err aios_tls_fail(int rc, const char *what);

#endif
