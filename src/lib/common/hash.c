/*
 * hash.c - SHA-256 through OpenSSL's EVP interface (see hash.h).
 */
#include "hash.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void aios_sha256(const void *p, size_t n, uint8_t out[AIOS_SHA256_LEN])
{
	struct aios_sha256 *h = aios_sha256_new();
	aios_sha256_update(h, p, n);
	aios_sha256_final(h, out);
}

void aios_sha256_hex(const uint8_t d[AIOS_SHA256_LEN], char out[AIOS_SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < AIOS_SHA256_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

enum aios_err aios_sha256_file_hex(const char *path, char out[AIOS_SHA256_HEX])
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return aios_fail(errno == ENOENT ? AIOS_ERR_NOT_FOUND : AIOS_ERR_IO, "%s: %s", path,
		                 strerror(errno));
	struct aios_sha256 *h = aios_sha256_new();
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		aios_sha256_update(h, chunk, n);
	int bad = ferror(f);
	fclose(f);
	uint8_t d[AIOS_SHA256_LEN];
	aios_sha256_final(h, d);
	if (bad)
		return aios_fail(AIOS_ERR_IO, "%s: read error", path);
	aios_sha256_hex(d, out);
	return AIOS_OK;
}

int aios_sha256_hex_valid(const char *s)
{
	if (!s || strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}
