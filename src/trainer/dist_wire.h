/*
 * dist_wire.h - the frames distributed trainer ranks exchange over TCP.
 *
 * Every message between two ranks is one frame: a fixed 32-byte header followed by
 * payload_len bytes of payload. All integers are little-endian.
 *
 *   off 0   magic        u32  AIOS_DIST_MAGIC ("AIDW" on the wire)
 *   off 4   version      u16  AIOS_DIST_VERSION; a peer with another version is refused
 *   off 6   type         u16  enum aios_dist_type
 *   off 8   attempt      u32  AIOS_ATTEMPT of the sender (a frame from an old attempt is refused)
 *   off 12  sender       u32  rank of the sender
 *   off 16  tag          u32  operation sequence number, checked by the receiver
 *   off 20  payload_len  u32  <= AIOS_DIST_MAX_PAYLOAD (and <= the receiver's own cap)
 *   off 24  reserved     u32  zero
 *   off 28  crc          u32  CRC-32 (IEEE) of bytes 0..27
 *
 * The checksum covers the header only: it is what decides how many bytes are read
 * and allocated next, so a flipped bit there must never be trusted. Payload bytes are
 * protected by TCP's own checksum; checksumming 64 MB gradients again would halve the
 * loopback bandwidth (docs/distributed.md). Float payloads are IEEE-754 binary32 in
 * little-endian order; aios only builds on little-endian hosts (checked at compile time).
 */
#ifndef AIOS_DIST_WIRE_H
#define AIOS_DIST_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AIOS_DIST_MAGIC       0x57444941u /* "AIDW" as little-endian bytes */
#define AIOS_DIST_VERSION     2u          /* 2: authenticated handshake (CHALLENGE, AUTH) */
#define AIOS_DIST_HEADER_LEN  32u
#define AIOS_DIST_MAX_PAYLOAD (64u << 20) /* bytes in one frame; bulk data is chunked below it */
#define AIOS_DIST_MAX_JOB     253         /* bytes of a job name (a DNS-1123 subdomain) */
#define AIOS_DIST_MAX_REASON  1024        /* bytes of text in a REJECT or ABORT frame */

enum aios_dist_type {
	AIOS_DIST_HELLO = 1,      /* rank -> coordinator, and rank -> rank when the mesh is built */
	AIOS_DIST_PEERS = 2,      /* coordinator -> rank: the peer table */
	AIOS_DIST_REJECT = 3,     /* coordinator -> rank: refused, with the reason */
	AIOS_DIST_HEARTBEAT = 4,  /* no payload: "I am alive" on an idle link */
	AIOS_DIST_ABORT = 5,      /* a rank was lost: u32 lost rank + reason text */
	AIOS_DIST_BARRIER = 6,    /* no payload; tag = barrier number */
	AIOS_DIST_DATA = 7,       /* floats of a collective (all-reduce chunk, broadcast, gather) */
	AIOS_DIST_PS_PULL = 8,    /* worker -> ps: u32 clock */
	AIOS_DIST_PS_PARAMS = 9,  /* ps -> worker: floats of the shard */
	AIOS_DIST_PS_PUSH = 10,   /* worker -> ps: floats of the gradient shard */
	AIOS_DIST_PS_DONE = 11,   /* worker -> ps: no more pushes */
	AIOS_DIST_PIPE_ACT = 12,  /* stage s -> s+1: activations of one micro-batch */
	AIOS_DIST_PIPE_GRAD = 13, /* stage s+1 -> s: gradient w.r.t. those activations */
	AIOS_DIST_FINISH = 14,    /* the final barrier: after it links may close */
	AIOS_DIST_CHALLENGE = 15, /* acceptor -> connector, first frame of a link: the nonce */
	AIOS_DIST_AUTH = 16,      /* acceptor -> connector: its proof of the secret (a MAC) */
	AIOS_DIST_TYPE_MAX = 16
};

struct aios_dist_header {
	uint16_t version;
	uint16_t type;
	uint32_t attempt;
	uint32_t sender;
	uint32_t tag;
	uint32_t payload_len;
};

/* Short name of a frame type ("heartbeat"); "unknown" for others. */
const char *aios_dist_type_name(unsigned type);

/* CRC-32 (IEEE 802.3, reflected, as zlib) of n bytes. */
uint32_t aios_dist_crc32(const void *p, size_t n);

/* Writes h as the 32-byte wire header (magic, reserved and crc filled in). */
void aios_dist_header_encode(const struct aios_dist_header *h, uint8_t out[AIOS_DIST_HEADER_LEN]);

/*
 * Checks and decodes a 32-byte header: magic, crc, version, known type, reserved zero,
 * payload_len <= max_payload (which is itself capped at AIOS_DIST_MAX_PAYLOAD).
 * AIOS_ERR_CORRUPT (bad magic/crc/reserved), AIOS_ERR_PROTOCOL (version or type),
 * AIOS_ERR_TOO_BIG (length) with a message saying which field is wrong.
 */
enum aios_err aios_dist_header_decode(const uint8_t in[AIOS_DIST_HEADER_LEN], size_t max_payload,
                                      struct aios_dist_header *h) AIOS_MUST_CHECK;

/*
 * Decodes one whole frame from memory (header + payload) without copying: on success
 * *payload points into p and *used is the frame's size. AIOS_ERR_INVALID if n is too
 * short for the header or the payload it announces. This is what the fuzzer drives.
 */
enum aios_err aios_dist_frame_decode(const uint8_t *p, size_t n, size_t max_payload,
                                     struct aios_dist_header *h, const uint8_t **payload,
                                     size_t *used) AIOS_MUST_CHECK;

/* ---- handshake payloads (pure: the fuzzer drives every decoder) ----
 *
 * A link starts with the acceptor's CHALLENGE (a fresh random nonce). The connector
 * answers with HELLO: who it is, its own nonce, and an HMAC-SHA256 under the job's
 * secret over the challenge, the header's attempt and sender, and the HELLO before
 * the MAC (dist_auth.h). The acceptor checks it in constant time; only then does it
 * judge the content (job, attempt, world, rank) and answer AUTH (its own MAC over both
 * nonces) and, on the coordinator, PEERS. A HELLO that fails the check gets a REJECT
 * saying only "authentication failed", with attempt 0 in header and payload.
 *
 *   CHALLENGE  nonce[32]
 *   HELLO      u32 world, u32 rank, u16 listen port, u16 role, u16 job length,
 *              job bytes (no NUL), nonce[32], mac[32]
 *   AUTH       mac[32]
 *   PEERS      u32 world, then per rank: ipv4[4] (network order), u16 port, u16 role
 *   REJECT     u32 attempt of the refuser (0 to an unauthenticated peer), reason text
 */
#define AIOS_DIST_NONCE_LEN   32
#define AIOS_DIST_MAC_LEN     32
#define AIOS_DIST_HELLO_FIXED 14 /* bytes of a HELLO before the job name */
#define AIOS_DIST_HELLO_MAX                                                                        \
	(AIOS_DIST_HELLO_FIXED + AIOS_DIST_MAX_JOB + AIOS_DIST_NONCE_LEN + AIOS_DIST_MAC_LEN)

struct aios_dist_hello {
	uint32_t world, rank;
	uint16_t port, role;
	char job[AIOS_DIST_MAX_JOB + 1];
	uint8_t nonce[AIOS_DIST_NONCE_LEN];
	uint8_t mac[AIOS_DIST_MAC_LEN];
};

/* Writes h's HELLO payload into out; returns its length. The MAC is the last 32 bytes. */
size_t aios_dist_hello_encode(const struct aios_dist_hello *h, uint8_t out[AIOS_DIST_HELLO_MAX]);
/* Decodes a HELLO payload of n bytes. AIOS_ERR_CORRUPT names the inconsistent field. */
enum aios_err aios_dist_hello_decode(const uint8_t *p, size_t n,
                                     struct aios_dist_hello *out) AIOS_MUST_CHECK;
/* Decodes a PEERS payload for a world of `world` ranks into ips (network order), ports,
 * roles (each world entries). AIOS_ERR_PROTOCOL on a size, world or role mismatch. */
enum aios_err aios_dist_peers_decode(const uint8_t *p, size_t n, int world, uint32_t *ips,
                                     uint16_t *ports, uint16_t *roles) AIOS_MUST_CHECK;
/* Decodes a REJECT payload: the refuser's attempt and its reason as text (control
 * characters replaced by '?', at most AIOS_DIST_MAX_REASON bytes). */
enum aios_err aios_dist_reject_decode(const uint8_t *p, size_t n, uint32_t *attempt,
                                      char why[AIOS_DIST_MAX_REASON + 1]) AIOS_MUST_CHECK;

/* Little-endian helpers for payload fields. */
void aios_dist_put_u16(uint8_t *p, uint16_t v);
void aios_dist_put_u32(uint8_t *p, uint32_t v);
uint16_t aios_dist_get_u16(const uint8_t *p);
uint32_t aios_dist_get_u32(const uint8_t *p);

#endif
