/*
 * dist_wire.c - frame header encoding and bounds-checked decoding (see dist_wire.h).
 */
#include "dist_wire.h"

#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "aios distributed training sends floats as raw little-endian bytes"
#endif

static const char *const type_names[] = {
    [AIOS_DIST_HELLO] = "hello",         [AIOS_DIST_PEERS] = "peers",
    [AIOS_DIST_REJECT] = "reject",       [AIOS_DIST_HEARTBEAT] = "heartbeat",
    [AIOS_DIST_ABORT] = "abort",         [AIOS_DIST_BARRIER] = "barrier",
    [AIOS_DIST_DATA] = "data",           [AIOS_DIST_PS_PULL] = "ps-pull",
    [AIOS_DIST_PS_PARAMS] = "ps-params", [AIOS_DIST_PS_PUSH] = "ps-push",
    [AIOS_DIST_PS_DONE] = "ps-done",     [AIOS_DIST_PIPE_ACT] = "pipe-act",
    [AIOS_DIST_PIPE_GRAD] = "pipe-grad", [AIOS_DIST_FINISH] = "finish",
    [AIOS_DIST_CHALLENGE] = "challenge", [AIOS_DIST_AUTH] = "auth",
};

const char *aios_dist_type_name(unsigned type)
{
	if (type == 0 || type > AIOS_DIST_TYPE_MAX)
		return "unknown";
	return type_names[type];
}

void aios_dist_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void aios_dist_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t aios_dist_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t aios_dist_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* Bitwise CRC-32: it only ever covers 28 header bytes, so no table is worth it. */
uint32_t aios_dist_crc32(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= b[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

void aios_dist_header_encode(const struct aios_dist_header *h, uint8_t out[AIOS_DIST_HEADER_LEN])
{
	aios_dist_put_u32(out + 0, AIOS_DIST_MAGIC);
	aios_dist_put_u16(out + 4, h->version);
	aios_dist_put_u16(out + 6, h->type);
	aios_dist_put_u32(out + 8, h->attempt);
	aios_dist_put_u32(out + 12, h->sender);
	aios_dist_put_u32(out + 16, h->tag);
	aios_dist_put_u32(out + 20, h->payload_len);
	aios_dist_put_u32(out + 24, 0);
	aios_dist_put_u32(out + 28, aios_dist_crc32(out, 28));
}

enum aios_err aios_dist_header_decode(const uint8_t in[AIOS_DIST_HEADER_LEN], size_t max_payload,
                                      struct aios_dist_header *h)
{
	if (max_payload > AIOS_DIST_MAX_PAYLOAD)
		max_payload = AIOS_DIST_MAX_PAYLOAD;
	uint32_t magic = aios_dist_get_u32(in);
	if (magic != AIOS_DIST_MAGIC)
		return aios_fail(AIOS_ERR_CORRUPT, "frame: bad magic 0x%08x (want 0x%08x)", magic,
		                 AIOS_DIST_MAGIC);
	uint32_t crc = aios_dist_get_u32(in + 28), want = aios_dist_crc32(in, 28);
	if (crc != want)
		return aios_fail(AIOS_ERR_CORRUPT, "frame: header checksum 0x%08x, computed 0x%08x",
		                 crc, want);
	if (aios_dist_get_u32(in + 24) != 0)
		return aios_fail(AIOS_ERR_CORRUPT, "frame: reserved field is not zero");
	h->version = aios_dist_get_u16(in + 4);
	h->type = aios_dist_get_u16(in + 6);
	h->attempt = aios_dist_get_u32(in + 8);
	h->sender = aios_dist_get_u32(in + 12);
	h->tag = aios_dist_get_u32(in + 16);
	h->payload_len = aios_dist_get_u32(in + 20);
	if (h->version != AIOS_DIST_VERSION)
		return aios_fail(AIOS_ERR_PROTOCOL, "frame: version %u, this build speaks %u",
		                 h->version, AIOS_DIST_VERSION);
	if (h->type == 0 || h->type > AIOS_DIST_TYPE_MAX)
		return aios_fail(AIOS_ERR_PROTOCOL, "frame: unknown type %u", h->type);
	if (h->payload_len > max_payload)
		return aios_fail(AIOS_ERR_TOO_BIG,
		                 "frame: %s payload of %u bytes exceeds the cap of %zu",
		                 aios_dist_type_name(h->type), h->payload_len, max_payload);
	return AIOS_OK;
}

enum aios_err aios_dist_frame_decode(const uint8_t *p, size_t n, size_t max_payload,
                                     struct aios_dist_header *h, const uint8_t **payload,
                                     size_t *used)
{
	if (n < AIOS_DIST_HEADER_LEN)
		return aios_fail(AIOS_ERR_INVALID, "frame: %zu bytes, a header needs %u", n,
		                 AIOS_DIST_HEADER_LEN);
	enum aios_err e = aios_dist_header_decode(p, max_payload, h);
	if (e)
		return e;
	if (n - AIOS_DIST_HEADER_LEN < h->payload_len)
		return aios_fail(AIOS_ERR_INVALID, "frame: payload of %u bytes truncated to %zu",
		                 h->payload_len, n - AIOS_DIST_HEADER_LEN);
	*payload = p + AIOS_DIST_HEADER_LEN;
	*used = AIOS_DIST_HEADER_LEN + (size_t)h->payload_len;
	return AIOS_OK;
}

/* ------------------------------------------------------------------------------------
 * Handshake payloads
 * ------------------------------------------------------------------------------------ */

size_t aios_dist_hello_encode(const struct aios_dist_hello *h, uint8_t out[AIOS_DIST_HELLO_MAX])
{
	size_t jl = strnlen(h->job, AIOS_DIST_MAX_JOB);
	aios_dist_put_u32(out, h->world);
	aios_dist_put_u32(out + 4, h->rank);
	aios_dist_put_u16(out + 8, h->port);
	aios_dist_put_u16(out + 10, h->role);
	aios_dist_put_u16(out + 12, (uint16_t)jl);
	memcpy(out + AIOS_DIST_HELLO_FIXED, h->job, jl);
	size_t off = AIOS_DIST_HELLO_FIXED + jl;
	memcpy(out + off, h->nonce, AIOS_DIST_NONCE_LEN);
	memcpy(out + off + AIOS_DIST_NONCE_LEN, h->mac, AIOS_DIST_MAC_LEN);
	return off + AIOS_DIST_NONCE_LEN + AIOS_DIST_MAC_LEN;
}

enum aios_err aios_dist_hello_decode(const uint8_t *p, size_t n, struct aios_dist_hello *out)
{
	if (n < AIOS_DIST_HELLO_FIXED + AIOS_DIST_NONCE_LEN + AIOS_DIST_MAC_LEN)
		return aios_fail(AIOS_ERR_CORRUPT, "hello: %zu bytes is too short", n);
	size_t jl = aios_dist_get_u16(p + 12);
	if (jl > AIOS_DIST_MAX_JOB ||
	    n != AIOS_DIST_HELLO_FIXED + jl + AIOS_DIST_NONCE_LEN + AIOS_DIST_MAC_LEN)
		return aios_fail(AIOS_ERR_CORRUPT, "hello: payload of %zu bytes is inconsistent",
		                 n);
	if (memchr(p + AIOS_DIST_HELLO_FIXED, 0, jl))
		return aios_fail(AIOS_ERR_CORRUPT, "hello: job name holds a NUL byte");
	out->world = aios_dist_get_u32(p);
	out->rank = aios_dist_get_u32(p + 4);
	out->port = aios_dist_get_u16(p + 8);
	out->role = aios_dist_get_u16(p + 10);
	memcpy(out->job, p + AIOS_DIST_HELLO_FIXED, jl);
	out->job[jl] = 0;
	memcpy(out->nonce, p + AIOS_DIST_HELLO_FIXED + jl, AIOS_DIST_NONCE_LEN);
	memcpy(out->mac, p + AIOS_DIST_HELLO_FIXED + jl + AIOS_DIST_NONCE_LEN, AIOS_DIST_MAC_LEN);
	return AIOS_OK;
}

enum aios_err aios_dist_peers_decode(const uint8_t *p, size_t n, int world, uint32_t *ips,
                                     uint16_t *ports, uint16_t *roles)
{
	if (world < 1 || n != 4 + 8 * (size_t)world || aios_dist_get_u32(p) != (uint32_t)world)
		return aios_fail(AIOS_ERR_PROTOCOL,
		                 "peer table: %zu bytes, expected a world of %d (%zu bytes)", n,
		                 world, world > 0 ? 4 + 8 * (size_t)world : 0);
	for (int r = 0; r < world; r++) {
		memcpy(&ips[r], p + 4 + 8 * (size_t)r, 4);
		ports[r] = aios_dist_get_u16(p + 8 + 8 * (size_t)r);
		roles[r] = aios_dist_get_u16(p + 10 + 8 * (size_t)r);
		if (roles[r] > 2) /* worker, ps, stage */
			return aios_fail(AIOS_ERR_PROTOCOL,
			                 "peer table: rank %d has unknown role %u", r, roles[r]);
	}
	return AIOS_OK;
}

enum aios_err aios_dist_reject_decode(const uint8_t *p, size_t n, uint32_t *attempt,
                                      char why[AIOS_DIST_MAX_REASON + 1])
{
	if (n < 4 || n > 4 + AIOS_DIST_MAX_REASON)
		return aios_fail(AIOS_ERR_PROTOCOL, "reject: payload of %zu bytes", n);
	*attempt = aios_dist_get_u32(p);
	size_t wl = n - 4;
	for (size_t i = 0; i < wl; i++) {
		uint8_t c = p[4 + i];
		why[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
	}
	why[wl] = 0;
	return AIOS_OK;
}
