/*
 * sha256_openssl.c - aios_sha256_new/update/final on OpenSSL's EVP interface.
 *
 * The only part of hash.h that depends on a crypto library; every program hashes
 * with OpenSSL's libcrypto.
 */
#include "hash.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include "mem.h"

struct aios_sha256 {
	EVP_MD_CTX *ctx;
};

struct aios_sha256 *aios_sha256_new(void)
{
	struct aios_sha256 *h = aios_xmalloc(sizeof(*h));
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort();
	return h;
}

void aios_sha256_update(struct aios_sha256 *h, const void *p, size_t n)
{
	EVP_DigestUpdate(h->ctx, p, n);
}

void aios_sha256_final(struct aios_sha256 *h, uint8_t out[AIOS_SHA256_LEN])
{
	unsigned int len = 0;
	EVP_DigestFinal_ex(h->ctx, out, &len);
	EVP_MD_CTX_free(h->ctx);
	free(h);
}
