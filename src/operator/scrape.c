/*
 * scrape.c - parse aios-serve's /metrics and fetch many pages at once (see scrape.h).
 */
#include "scrape.h"

#include <curl/curl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mem.h"

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

/* The labels we look at on one sample line. */
struct labels {
	char endpoint[64];
	char le[32];
	int has_le;
};

/* Parses {k="v",...} at *p (just after '{') up to the closing '}'; 0 on success. */
static int parse_labels(const char **pp, const char *end, struct labels *l)
{
	const char *p = *pp;
	for (;;) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		if (p < end && *p == '}') {
			*pp = p + 1;
			return 0;
		}
		const char *k = p;
		while (p < end && *p != '=' && *p != '}')
			p++;
		if (p + 1 >= end || *p != '=' || p[1] != '"')
			return -1;
		size_t klen = (size_t)(p - k);
		p += 2;
		char val[64];
		size_t n = 0;
		while (p < end && *p != '"') {
			char ch = *p++;
			if (ch == '\\' && p < end) {
				ch = *p++;
				if (ch == 'n')
					ch = '\n';
			}
			if (n + 1 < sizeof(val))
				val[n++] = ch;
		}
		if (p >= end)
			return -1;
		p++; /* closing quote */
		val[n] = '\0';
		if (klen == 8 && memcmp(k, "endpoint", 8) == 0) {
			snprintf(l->endpoint, sizeof(l->endpoint), "%s", val);
		} else if (klen == 2 && memcmp(k, "le", 2) == 0) {
			snprintf(l->le, sizeof(l->le), "%s", val);
			l->has_le = 1;
		}
	}
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

/* One line (without its newline). Lines of other metrics are skipped unread. */
static enum aios_err parse_line(const char *p, const char *end, int lineno,
                                struct aios_scrape_page *pg)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#')
		return AIOS_OK;
	const char *name = p;
	while (p < end && *p != '{' && *p != ' ')
		p++;
	size_t nlen = (size_t)(p - name);
	int which = 0;
	if (nlen == strlen(IN_FLIGHT) && memcmp(name, IN_FLIGHT, nlen) == 0)
		which = 1;
	else if (nlen == strlen(REQUESTS) && memcmp(name, REQUESTS, nlen) == 0)
		which = 2;
	else if (nlen == strlen(DURATION_BUCKET) && memcmp(name, DURATION_BUCKET, nlen) == 0)
		which = 3;
	if (!which)
		return AIOS_OK;
	struct labels l = {.endpoint = "", .le = "", .has_le = 0};
	if (p < end && *p == '{') {
		p++;
		if (parse_labels(&p, end, &l))
			return aios_fail(AIOS_ERR_INVALID,
			                 "metrics line %d: malformed labels of %.*s", lineno,
			                 (int)nlen, name);
	}
	char num[64];
	while (p < end && *p == ' ')
		p++;
	size_t vlen = 0;
	while (p + vlen < end && p[vlen] != ' ')
		vlen++;
	if (vlen == 0 || vlen >= sizeof(num))
		return aios_fail(AIOS_ERR_INVALID, "metrics line %d: %.*s has no value", lineno,
		                 (int)nlen, name);
	memcpy(num, p, vlen);
	num[vlen] = '\0';
	char *e;
	double v = strtod(num, &e);
	if (*e || !isfinite(v))
		return aios_fail(AIOS_ERR_INVALID, "metrics line %d: %.*s: bad value \"%s\"",
		                 lineno, (int)nlen, name, num);
	if (which == 1) {
		pg->in_flight += v;
		pg->have_in_flight = 1;
	} else if (l.endpoint[0] && is_overhead(l.endpoint)) {
		return AIOS_OK;
	} else if (which == 2) {
		pg->requests += v;
		pg->have_requests = 1;
	} else {
		double le = strtod(l.le, &e);
		if (!l.has_le || *e)
			return aios_fail(AIOS_ERR_INVALID,
			                 "metrics line %d: bucket without a valid le", lineno);
		add_bucket(pg, le, v);
		pg->have_latency = 1;
	}
	return AIOS_OK;
}

enum aios_err aios_scrape_parse(const char *text, size_t len, struct aios_scrape_page *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = text, *end = text + len;
	for (int lineno = 1; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *trim = eol;
		if (trim > p && trim[-1] == '\r')
			trim--;
		enum aios_err e = parse_line(p, trim, lineno, out);
		if (e)
			return e;
		p = nl ? nl + 1 : end;
	}
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

struct aios_scraper {
	CURLM *multi;
	int max_parallel;
	int timeout_ms;
	CURL **easy; /* one per slot, made on first use (~5 KiB each: memory), then reused
	              * across rounds (keeps connections warm) */
	struct aios_buf *body;
	size_t *target; /* which url a slot is fetching */
};

struct aios_scraper *aios_scraper_new(int max_parallel, int timeout_ms)
{
	curl_global_init(CURL_GLOBAL_DEFAULT); /* reference counted; idempotent */
	struct aios_scraper *s = aios_xcalloc(1, sizeof(*s));
	s->max_parallel = max_parallel > 0 ? max_parallel : AIOS_SCRAPE_PARALLEL;
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : AIOS_SCRAPE_TIMEOUT_MS;
	s->multi = curl_multi_init();
	if (!s->multi)
		abort(); /* only fails on out-of-memory */
	s->easy = aios_xcalloc((size_t)s->max_parallel, sizeof(*s->easy));
	s->body = aios_xcalloc((size_t)s->max_parallel, sizeof(*s->body));
	s->target = aios_xcalloc((size_t)s->max_parallel, sizeof(*s->target));
	for (int i = 0; i < s->max_parallel; i++)
		aios_buf_init(&s->body[i], AIOS_CAP_METRICS_PAGE);
	return s;
}

void aios_scraper_free(struct aios_scraper *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->max_parallel; i++) {
		if (s->easy[i])
			curl_easy_cleanup(s->easy[i]);
		aios_buf_cleanup(&s->body[i]);
	}
	curl_multi_cleanup(s->multi);
	free(s->easy);
	free(s->body);
	free(s->target);
	free(s);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct aios_buf *b = ud;
	return aios_buf_append(b, p, size * n) == AIOS_OK ? size * n : 0; /* 0 aborts: too big */
}

static void start(struct aios_scraper *s, int slot, size_t target, const char *url)
{
	if (!s->easy[slot]) {
		s->easy[slot] = curl_easy_init();
		if (!s->easy[slot])
			abort(); /* only fails on out-of-memory */
	}
	CURL *e = s->easy[slot];
	curl_easy_reset(e);
	aios_buf_reset(&s->body[slot]);
	s->target[slot] = target;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &s->body[slot]);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*"); /* pod IPs never go through a proxy */
	curl_easy_setopt(e, CURLOPT_USERAGENT, "aios-operator/" AIOS_VERSION);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)(intptr_t)slot);
	curl_multi_add_handle(s->multi, e);
}

static void finish(struct aios_scraper *s, int slot, CURLcode rc, struct aios_scrape_result *r)
{
	CURL *e = s->easy[slot];
	long code = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	memset(r, 0, sizeof(*r));
	if (rc == CURLE_WRITE_ERROR) {
		snprintf(r->error, sizeof(r->error), "page larger than %u bytes",
		         AIOS_CAP_METRICS_PAGE);
	} else if (rc != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(rc));
	} else if (code != 200) {
		snprintf(r->error, sizeof(r->error), "HTTP %ld", code);
	} else if (aios_scrape_parse(s->body[slot].data ? s->body[slot].data : "",
	                             s->body[slot].len, &r->page) != AIOS_OK) {
		snprintf(r->error, sizeof(r->error), "%s", aios_errmsg());
	} else {
		r->ok = 1;
	}
	curl_multi_remove_handle(s->multi, e);
}

void aios_scraper_run(struct aios_scraper *s, const char *const *urls, size_t n,
                      struct aios_scrape_result *out)
{
	size_t next = 0, done = 0;
	int *free_slots = aios_xcalloc((size_t)s->max_parallel, sizeof(int));
	int n_free = 0;
	for (int i = s->max_parallel - 1; i >= 0; i--)
		free_slots[n_free++] = i;
	while (done < n) {
		/* Each page starts its own clock when it starts, not when the round did. */
		while (next < n && n_free > 0) {
			start(s, free_slots[--n_free], next, urls[next]);
			next++;
		}
		int running = 0;
		curl_multi_perform(s->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(s->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			void *priv = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			int slot = (int)(intptr_t)priv;
			finish(s, slot, msg->data.result, &out[s->target[slot]]);
			free_slots[n_free++] = slot;
			done++;
		}
		if (done < n && running > 0)
			curl_multi_poll(s->multi, NULL, 0, 50, NULL);
	}
	free(free_slots);
}
