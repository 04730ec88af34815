/*
 * hash.h - SHA-256 (OpenSSL EVP) for artifacts and datasets, and hex helpers.
 */
#ifndef AIOS_HASH_H
#define AIOS_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define AIOS_SHA256_LEN 32
#define AIOS_SHA256_HEX 65 /* 64 hex digits + NUL */

struct aios_sha256; /* incremental context (opaque) */

struct aios_sha256 *aios_sha256_new(void);
void aios_sha256_update(struct aios_sha256 *h, const void *p, size_t n);
/* Writes the digest and frees h. */
void aios_sha256_final(struct aios_sha256 *h, uint8_t out[AIOS_SHA256_LEN]);
void aios_sha256(const void *p, size_t n, uint8_t out[AIOS_SHA256_LEN]);
/* Lower-case hex of a digest into out (AIOS_SHA256_HEX bytes). */
void aios_sha256_hex(const uint8_t d[AIOS_SHA256_LEN], char out[AIOS_SHA256_HEX]);
/* Digest of a whole file as hex; messages name the path. */
enum aios_err aios_sha256_file_hex(const char *path, char out[AIOS_SHA256_HEX]) AIOS_MUST_CHECK;
/* Checks that s is 64 hex digits (either case). */
int aios_sha256_hex_valid(const char *s);

#endif
