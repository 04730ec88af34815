/*
 * dist_auth.h - the shared secret of a distributed job and the MACs of its handshake
 * (the protocol is in dist_wire.h).
 *
 * Every rank of a job holds the same secret: the operator creates one per attempt (a
 * Secret owned by the TrainingJob, mounted read-only into the job's pods, its path in
 * AIOS_SECRET_FILE); by hand it comes from AIOS_SECRET_FILE (--secret-file) or
 * AIOS_SECRET. A peer proves it holds the secret with HMAC-SHA256 (OpenSSL) over the
 * other side's fresh nonce, so a recorded handshake cannot be replayed; MACs are
 * compared in constant time (CRYPTO_memcmp). Without a secret a multi-rank run is
 * refused unless AIOS_DIST_INSECURE=1 (--insecure-no-auth) says so: then the handshake
 * runs under a fixed public key and proves nothing (docs/distributed.md).
 *
 * What it does not do: frames after the handshake carry no MAC and nothing is
 * encrypted, so an attacker on the path between two pods can still read or change
 * them; a NetworkPolicy keeps other pods off the path (docs/security.md).
 */
#ifndef AIOS_DIST_AUTH_H
#define AIOS_DIST_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "dist_wire.h"

#define AIOS_DIST_SECRET_MIN 16   /* bytes: shorter secrets are refused */
#define AIOS_DIST_SECRET_MAX 1024 /* bytes of a secret (file or variable) */

struct aios_dist_config;

/*
 * Fills c's secret from the environment: AIOS_SECRET_FILE (the file's bytes, trailing
 * newlines dropped) or else AIOS_SECRET; AIOS_DIST_INSECURE=1 allows none. Both unset
 * leave c without a secret. AIOS_ERR_INVALID names the variable (never the secret).
 */
enum aios_err aios_dist_secret_from_env(struct aios_dist_config *c) AIOS_MUST_CHECK;

/* Fresh random bytes from OpenSSL's generator. AIOS_ERR_IO if it fails. */
enum aios_err aios_dist_nonce(uint8_t out[AIOS_DIST_NONCE_LEN]) AIOS_MUST_CHECK;

/*
 * HMAC-SHA256 under c's secret of: label, n1, n2 (nonces), attempt, rank (u32 LE), then
 * extra (n bytes; NULL when n is 0).
 */
void aios_dist_mac(const struct aios_dist_config *c, const char *label,
                   const uint8_t n1[AIOS_DIST_NONCE_LEN], const uint8_t n2[AIOS_DIST_NONCE_LEN],
                   uint32_t attempt, uint32_t rank, const uint8_t *extra, size_t n,
                   uint8_t out[AIOS_DIST_MAC_LEN]);

/* 1 when the two MACs are equal (constant time), else 0. */
int aios_dist_mac_equal(const uint8_t a[AIOS_DIST_MAC_LEN], const uint8_t b[AIOS_DIST_MAC_LEN]);

#endif
