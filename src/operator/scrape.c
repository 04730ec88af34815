/*
 * scrape.c - parse aios-serve's /metrics and fetch many pages at once (see scrape.h).
 */
#include "scrape.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mem.h"
#include "http/client.h"
#include "http/promtext.h"

/* ============================== parser ============================== */

#define IN_FLIGHT       "aios_serve_requests_in_flight"
#define REQUESTS        "aios_serve_requests_total"
#define DURATION_BUCKET "aios_serve_request_duration_seconds_bucket"

/* Endpoints that are not inference traffic: the scrape itself and the kubelet's probes. */
static int is_overhead(const char *endpoint)
{
	static const char *const names[] = {"metrics", "v2_live", "v2_ready", "v2_model_ready"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(endpoint, names[i]) == 0)
			return 1;
	return 0;
}

static void add_bucket(struct aios_scrape_page *pg, double le, double v)
{
	int i = 0;
	while (i < pg->n_buckets && pg->le[i] < le)
		i++;
	if (i < pg->n_buckets && pg->le[i] == le) {
		pg->count[i] += v;
		return;
	}
	if (pg->n_buckets == AIOS_SCRAPE_MAX_BUCKETS)
		return;
	memmove(&pg->le[i + 1], &pg->le[i], (size_t)(pg->n_buckets - i) * sizeof(double));
	memmove(&pg->count[i + 1], &pg->count[i], (size_t)(pg->n_buckets - i) * sizeof(double));
	pg->le[i] = le;
	pg->count[i] = v;
	pg->n_buckets++;
}

/* One sample of ours (promtext.h calls back for those only). */
static enum aios_err on_sample(const struct aios_promtext_sample *s, void *arg)
{
	struct aios_scrape_page *pg = arg;
	if (!isfinite(s->value))
		return aios_fail(AIOS_ERR_INVALID, "metrics line %d: %s: bad value \"%s\"",
		                 s->lineno, s->name, s->text);
	const char *endpoint = aios_promtext_label(s, "endpoint");
	if (strcmp(s->name, IN_FLIGHT) == 0) {
		pg->in_flight += s->value;
		pg->have_in_flight = 1;
	} else if (endpoint && *endpoint && is_overhead(endpoint)) {
		return AIOS_OK;
	} else if (strcmp(s->name, REQUESTS) == 0) {
		pg->requests += s->value;
		pg->have_requests = 1;
		const char *code = aios_promtext_label(s, "code");
		if (code && code[0] == '5')
			pg->errors += s->value;
	} else {
		const char *les = aios_promtext_label(s, "le");
		char *e;
		double le = les ? strtod(les, &e) : 0;
		if (!les || *e)
			return aios_fail(AIOS_ERR_INVALID,
			                 "metrics line %d: bucket without a valid le", s->lineno);
		add_bucket(pg, le, s->value);
		pg->have_latency = 1;
	}
	return AIOS_OK;
}

enum aios_err aios_scrape_parse(const char *text, size_t len, struct aios_scrape_page *out)
{
	static const char *const names[] = {IN_FLIGHT, REQUESTS, DURATION_BUCKET, NULL};
	memset(out, 0, sizeof(*out));
	enum aios_err e = aios_promtext_parse(text, len, names, on_sample, out);
	if (e)
		return e;
	if (!out->have_in_flight)
		return aios_fail(AIOS_ERR_INVALID, "metrics page has no %s: not aios-serve?",
		                 IN_FLIGHT);
	return AIOS_OK;
}

double aios_scrape_quantile(const double *le, const double *count, int n, double q)
{
	if (n <= 0 || !(count[n - 1] > 0))
		return -1;
	double rank = q * count[n - 1];
	for (int i = 0; i < n; i++) {
		if (count[i] < rank)
			continue;
		if (isinf(le[i]))
			return i > 0 ? le[i - 1] : -1; /* beyond the last finite bound */
		double lo = i > 0 ? le[i - 1] : 0, lo_count = i > 0 ? count[i - 1] : 0;
		double in_bucket = count[i] - lo_count;
		return in_bucket > 0 ? lo + (le[i] - lo) * (rank - lo_count) / in_bucket : le[i];
	}
	return le[n - 1];
}

/* ============================== scraper ============================== */

/*
 * One round is one aios_httpc_batch_get on the scraper's curl multi handle: every page
 * is fetched concurrently (at most max_parallel at a time), each within its own
 * timeout, in the calling thread. The multi handle keeps connections alive between
 * rounds (the targets of one round are, in steady state, the targets of the previous
 * one: a round a second saves a TCP handshake, an accept and a TIME_WAIT socket per
 * pod per second); a kept connection the pod closed meanwhile is replaced by curl.
 */

#define KEEP_IDLE_MAX 256 /* idle connections kept between rounds (file descriptors) */

struct aios_scraper {
	int timeout_ms;
	struct aios_httpc_batch *batch;
};

struct aios_scraper *aios_scraper_new(int max_parallel, int timeout_ms)
{
	struct aios_scraper *s = aios_xcalloc(1, sizeof(*s));
	s->timeout_ms = timeout_ms;
	s->batch = aios_httpc_batch_new(max_parallel, KEEP_IDLE_MAX);
	return s;
}

void aios_scraper_free(struct aios_scraper *s)
{
	if (!s)
		return;
	aios_httpc_batch_free(s->batch);
	free(s);
}

/* NULL when url is "http://IP[:port]/..." with an IPv4 or bracketed IPv6 literal (no
 * name to resolve: a lookup could stall the round), else why not. */
static const char *url_refusal(const char *url)
{
	if (strncmp(url, "https://", 8) == 0)
		return "https is not supported for /metrics pages";
	if (strncmp(url, "http://", 7) != 0)
		return "not an http:// URL";
	const char *h = url + 7, *end;
	char host[INET6_ADDRSTRLEN];
	unsigned char addr[16];
	int af = AF_INET;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
		af = AF_INET6;
	} else {
		end = h + strcspn(h, ":/?");
	}
	if (!end || (size_t)(end - h) >= sizeof(host))
		return "host is not an IP address";
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = 0;
	return inet_pton(af, host, addr) == 1 ? NULL : "host is not an IP address";
}

void aios_scraper_run(struct aios_scraper *s, const char *const *urls, size_t n,
                      struct aios_scrape_result *out)
{
	struct aios_httpc_result *res = aios_xcalloc(n ? n : 1, sizeof(*res));
	struct aios_httpc_opts o = {.timeout_ms = s->timeout_ms, .body_cap = AIOS_CAP_METRICS_PAGE};
	/* refused URLs fail here, the others are fetched together */
	const char **ok_urls = aios_xcalloc(n ? n : 1, sizeof(*ok_urls));
	size_t *of = aios_xcalloc(n ? n : 1, sizeof(*of)), m = 0;
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		const char *why = url_refusal(urls[i]);
		if (why) {
			snprintf(out[i].error, sizeof(out[i].error), "%s: %s", urls[i], why);
			continue;
		}
		ok_urls[m] = urls[i];
		of[m++] = i;
	}
	aios_httpc_batch_get(s->batch, ok_urls, m, &o, res);
	for (size_t k = 0; k < m; k++) {
		size_t i = of[k];
		struct aios_scrape_result *r = &out[i];
		if (res[k].err) {
			snprintf(r->error, sizeof(r->error), "%s", res[k].error);
		} else if (res[k].code != 200) {
			snprintf(r->error, sizeof(r->error), "HTTP %ld", res[k].code);
		} else if (aios_scrape_parse(res[k].body.data ? res[k].body.data : "",
		                             res[k].body.len, &r->page) != AIOS_OK) {
			snprintf(r->error, sizeof(r->error), "%s", aios_errmsg());
			aios_errclear();
		} else {
			r->ok = 1;
		}
		aios_httpc_result_cleanup(&res[k]);
	}
	free(ok_urls);
	free(of);
	free(res);
}
