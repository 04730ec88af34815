/*
 * sha256_small.c - aios_sha256_new/update/final on mbed TLS, for aios-operator only.
 *
 * The operator hashes a few kilobytes of spec per reconcile; linking OpenSSL's
 * libcrypto for that would map and relocate ~2 MB of library into a process that is
 * measured against a tenth of kube-controller-manager's memory (issue 3). mbed TLS is
 * linked statically already for the API client's TLS. This object is part of the
 * executable, so the linker never pulls src/lib/common/sha256_openssl.c out of
 * libaios for it; programs that hash gigabytes (trainer, server) keep OpenSSL's.
 */
#include "common/hash.h"

#include <mbedtls/sha256.h>
#include <stdlib.h>

#include "common/mem.h"

struct aios_sha256 {
	mbedtls_sha256_context ctx;
};

struct aios_sha256 *aios_sha256_new(void)
{
	struct aios_sha256 *h = aios_xmalloc(sizeof(*h));
	mbedtls_sha256_init(&h->ctx);
	if (mbedtls_sha256_starts_ret(&h->ctx, 0) != 0)
		abort();
	return h;
}

void aios_sha256_update(struct aios_sha256 *h, const void *p, size_t n)
{
	(void)mbedtls_sha256_update_ret(&h->ctx, p, n); /* cannot fail for SHA-256 in software */
}

void aios_sha256_final(struct aios_sha256 *h, uint8_t out[AIOS_SHA256_LEN])
{
	(void)mbedtls_sha256_finish_ret(&h->ctx, out);
	mbedtls_sha256_free(&h->ctx);
	free(h);
}
