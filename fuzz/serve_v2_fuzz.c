/* serve_v2_fuzz.c - the Open Inference Protocol V2 infer body parser on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int n_in = size ? 1 + data[0] % 8 : 4;
	const char *body = size ? (const char *)data + 1 : "";
	size_t len = size ? size - 1 : 0;
	struct aios_proto_batch b;
	char err[256];
	if (aios_proto_v2_parse(body, len, n_in, 64, &b, err, sizeof err) == AIOS_OK) {
		if (b.rows < 1 || b.cols != n_in || strlen(b.id) >= AIOS_PROTO_ID_MAX)
			abort();
		float sum = 0;
		for (size_t i = 0; i < (size_t)b.rows * b.cols; i++)
			sum += b.x[i]; /* every element was written (ASan/MSan would see) */
		(void)sum;
		struct aios_buf out;
		aios_buf_init(&out, 1 << 24);
		if (aios_proto_v2_encode("m", b.id, b.x, b.rows, b.cols, &out) != AIOS_OK)
			abort();
		aios_buf_cleanup(&out);
		free(b.x);
	} else if (b.x || !err[0]) {
		abort();
	}
	return 0;
}
