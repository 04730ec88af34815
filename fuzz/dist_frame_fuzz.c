/*
 * dist_frame_fuzz.c - libFuzzer driver for the distributed-training frame decoder
 * (src/trainer/dist_wire.h): the input is read as a stream of frames, the way a rank's
 * receiver reads a link. The first byte picks the receiver's payload cap (tiny caps
 * exercise the TOO_BIG path). Every decoded frame must lie inside the input, its
 * length must respect the cap, and re-encoding its header must give the same bytes.
 * The handshake payloads are decoded too, whatever the frame's type says, the way an
 * acceptor or connector would read them: a HELLO that decodes re-encodes to the same
 * bytes, a PEERS table for every world size up to the cap, a REJECT's text stays in
 * bounds and free of control characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/dist_rendezvous.h"
#include "trainer/dist_wire.h"

static void handshake_payloads(const uint8_t *p, size_t n)
{
	struct aios_dist_hello hello;
	if (aios_dist_hello_decode(p, n, &hello) == AIOS_OK) {
		uint8_t again[AIOS_DIST_HELLO_MAX];
		if (strlen(hello.job) > AIOS_DIST_MAX_JOB ||
		    aios_dist_hello_encode(&hello, again) != n || memcmp(again, p, n) != 0)
			abort();
	}
	uint32_t ips[AIOS_DIST_MAX_WORLD];
	uint16_t ports[AIOS_DIST_MAX_WORLD], roles[AIOS_DIST_MAX_WORLD];
	if (n >= 4) {
		uint32_t w = aios_dist_get_u32(p);
		if (w >= 1 && w <= AIOS_DIST_MAX_WORLD &&
		    aios_dist_peers_decode(p, n, (int)w, ips, ports, roles) == AIOS_OK)
			for (uint32_t r = 0; r < w; r++)
				if (roles[r] > AIOS_DIST_ROLE_STAGE)
					abort();
	}
	uint32_t attempt;
	char why[AIOS_DIST_MAX_REASON + 1];
	if (aios_dist_reject_decode(p, n, &attempt, why) == AIOS_OK) {
		size_t wl = strlen(why);
		if (wl > AIOS_DIST_MAX_REASON || wl > n - 4)
			abort();
		for (size_t i = 0; i < wl; i++)
			if ((unsigned char)why[i] < 0x20 || why[i] == 0x7f)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const size_t caps[] = {0, 1, 16, 1024, 1u << 20, AIOS_DIST_MAX_PAYLOAD, SIZE_MAX};
	size_t cap = caps[data[0] % (sizeof(caps) / sizeof(caps[0]))];
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	while (n > 0) {
		struct aios_dist_header h;
		const uint8_t *payload;
		size_t used;
		if (aios_dist_frame_decode(p, n, cap, &h, &payload, &used) != AIOS_OK)
			break;
		if (used > n || used < AIOS_DIST_HEADER_LEN ||
		    payload != p + AIOS_DIST_HEADER_LEN || h.payload_len > cap ||
		    h.payload_len > AIOS_DIST_MAX_PAYLOAD)
			abort();
		uint8_t again[AIOS_DIST_HEADER_LEN];
		aios_dist_header_encode(&h, again);
		if (memcmp(again, p, AIOS_DIST_HEADER_LEN) != 0)
			abort();
		/* touch the payload as a receiver would */
		volatile uint8_t sink = 0;
		for (size_t i = 0; i < h.payload_len; i++)
			sink ^= payload[i];
		(void)sink;
		(void)aios_dist_type_name(h.type);
		handshake_payloads(payload, h.payload_len);
		p += used;
		n -= used;
	}
	return 0;
}
