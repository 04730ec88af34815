/*
 * dist_frame_fuzz.c - libFuzzer driver for the distributed-training frame decoder
 * (src/trainer/dist_wire.h): the input is read as a stream of frames, the way a rank's
 * receiver reads a link. The first byte picks the receiver's payload cap (tiny caps
 * exercise the TOO_BIG path). Every decoded frame must lie inside the input, its
 * length must respect the cap, and re-encoding its header must give the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/dist_wire.h"

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
		p += used;
		n -= used;
	}
	return 0;
}
