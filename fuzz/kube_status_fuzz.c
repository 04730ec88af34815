/*
 * kube_status_fuzz.c - decoding of failed API answers (a Status or anything else) on
 * arbitrary bytes; the first two bytes pick the HTTP code (0 = inside a watch ERROR
 * event). Whatever comes, the result is a failure with a message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "kube/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	long code = (long)(((unsigned)data[0] << 8 | data[1]) % 600);
	enum aios_err e = aios_kube_status_error(code, (const char *)data + 2, size - 2, "fuzz");
	if (e == AIOS_OK || e >= AIOS_ERR__COUNT || !aios_errmsg()[0])
		abort();
	return 0;
}
