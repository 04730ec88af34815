/*
 * dist_auth.c - the job's secret and the handshake's HMAC-SHA256 (see dist_auth.h).
 */
#include "dist_auth.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "dist_rendezvous.h"

/* The key of an insecure run: public, so its MACs prove nothing (dist_auth.h). */
static const char insecure_key[] = "aios-dist-insecure-no-secret";

static enum aios_err set_secret(struct aios_dist_config *c, const char *what, const void *p,
                                size_t n)
{
	const uint8_t *b = p;
	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
		n--;
	if (n < AIOS_DIST_SECRET_MIN || n > AIOS_DIST_SECRET_MAX)
		return aios_fail(AIOS_ERR_INVALID, "%s: the secret has %zu bytes, expected %d..%d",
		                 what, n, AIOS_DIST_SECRET_MIN, AIOS_DIST_SECRET_MAX);
	memcpy(c->secret, b, n);
	c->secret_len = n;
	return AIOS_OK;
}

enum aios_err aios_dist_secret_from_env(struct aios_dist_config *c)
{
	const char *file = getenv("AIOS_SECRET_FILE"), *val = getenv("AIOS_SECRET");
	const char *insecure = getenv("AIOS_DIST_INSECURE");
	if (insecure && *insecure) {
		if (strcmp(insecure, "1") != 0 && strcmp(insecure, "0") != 0)
			return aios_fail(AIOS_ERR_INVALID,
			                 "AIOS_DIST_INSECURE=\"%s\": expected 0 or 1", insecure);
		c->insecure = insecure[0] == '1';
	}
	if (file && *file) {
		struct aios_buf b;
		aios_buf_init(&b, AIOS_DIST_SECRET_MAX + 2);
		enum aios_err e = aios_buf_read_file(&b, file);
		if (!e)
			e = set_secret(c, "AIOS_SECRET_FILE", b.data ? b.data : "", b.len);
		else
			e = aios_fail_wrap(e, "AIOS_SECRET_FILE");
		if (b.data)
			OPENSSL_cleanse(b.data, b.len);
		aios_buf_cleanup(&b);
		return e;
	}
	if (val && *val)
		return set_secret(c, "AIOS_SECRET", val, strlen(val));
	return AIOS_OK;
}

enum aios_err aios_dist_nonce(uint8_t out[AIOS_DIST_NONCE_LEN])
{
	if (RAND_bytes(out, AIOS_DIST_NONCE_LEN) != 1)
		return aios_fail(AIOS_ERR_IO, "RAND_bytes failed: no random nonce");
	return AIOS_OK;
}

void aios_dist_mac(const struct aios_dist_config *c, const char *label,
                   const uint8_t n1[AIOS_DIST_NONCE_LEN], const uint8_t n2[AIOS_DIST_NONCE_LEN],
                   uint32_t attempt, uint32_t rank, const uint8_t *extra, size_t n,
                   uint8_t out[AIOS_DIST_MAC_LEN])
{
	const void *key = c->secret_len ? (const void *)c->secret : (const void *)insecure_key;
	size_t key_len = c->secret_len ? c->secret_len : sizeof(insecure_key) - 1;
	uint8_t ar[8];
	aios_dist_put_u32(ar, attempt);
	aios_dist_put_u32(ar + 4, rank);
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
	                       OSSL_PARAM_construct_end()};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t len = 0;
	int ok = ctx && EVP_MAC_init(ctx, key, key_len, params) &&
	         EVP_MAC_update(ctx, (const uint8_t *)label, strlen(label) + 1) &&
	         EVP_MAC_update(ctx, n1, AIOS_DIST_NONCE_LEN) &&
	         EVP_MAC_update(ctx, n2, AIOS_DIST_NONCE_LEN) && EVP_MAC_update(ctx, ar, 8) &&
	         (!n || EVP_MAC_update(ctx, extra, n)) &&
	         EVP_MAC_final(ctx, out, &len, AIOS_DIST_MAC_LEN) && len == AIOS_DIST_MAC_LEN;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (!ok) { /* never a usable MAC: random bytes no peer can match */
		aios_warn("dist_auth", "HMAC-SHA256 failed in OpenSSL");
		if (RAND_bytes(out, AIOS_DIST_MAC_LEN) != 1)
			abort();
	}
}

int aios_dist_mac_equal(const uint8_t a[AIOS_DIST_MAC_LEN], const uint8_t b[AIOS_DIST_MAC_LEN])
{
	return CRYPTO_memcmp(a, b, AIOS_DIST_MAC_LEN) == 0;
}
