/*
 * operator_metrics_fuzz.c - the autoscaler's /metrics page parser (src/operator/scrape.c)
 * on arbitrary bytes: a pod controls what it serves, so whatever comes, the parser either
 * fails with a message or returns finite sums and at most AIOS_SCRAPE_MAX_BUCKETS
 * buckets in ascending order; the quantile of what it returns stays in range.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "operator/scrape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aios_scrape_page pg;
	enum aios_err e = aios_scrape_parse((const char *)data, size, &pg);
	if (e) {
		if (!aios_errmsg()[0])
			abort();
		return 0;
	}
	if (!pg.have_in_flight || pg.n_buckets < 0 || pg.n_buckets > AIOS_SCRAPE_MAX_BUCKETS)
		abort();
	for (int i = 1; i < pg.n_buckets; i++)
		if (!(pg.le[i - 1] < pg.le[i]))
			abort();
	double q = aios_scrape_quantile(pg.le, pg.count, pg.n_buckets, 0.99);
	if (isnan(q))
		abort();
	return 0;
}
