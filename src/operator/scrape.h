/*
 * scrape.h - reading aios-serve's /metrics: a parser for the numbers the autoscaler
 * needs, and a scraper that fetches many pages at once (one thread, on the HTTP
 * client's batch: one curl multi handle).
 *
 * The scraper runs one round per call: every target is fetched concurrently, at most
 * max_parallel connections at a time, each bounded by timeout_ms (connect included),
 * so one slow or dead pod costs its own timeout and never delays another service's
 * pods (no head-of-line blocking). A page larger than AIOS_CAP_METRICS_PAGE fails that
 * target. Connections are reused across rounds (keep-alive; a connection the pod closed
 * meanwhile is replaced by a new one by curl). URLs are "http://IP:port/path": pod
 * IPs, never names (resolving could block the round).
 *
 * Memory: a fetch in flight holds a curl easy handle plus its page, grown as it
 * arrives; both are freed when the round ends. Between rounds the scraper holds its
 * multi handle and idle connections (at most 256).
 */
#ifndef AIOS_OPERATOR_SCRAPE_H
#define AIOS_OPERATOR_SCRAPE_H

#include <stddef.h>

#include "common/err.h"

#define AIOS_SCRAPE_MAX_BUCKETS 64  /* histogram buckets kept (the registry's own cap) */
#define AIOS_SCRAPE_TIMEOUT_MS  500 /* per page: a pod that cannot answer in 0.5 s is "failed" */
#define AIOS_SCRAPE_PARALLEL    64  /* connections in flight at once */

/* The numbers of one page, summed over label sets. Only inference endpoints count
 * towards requests and latency (not /metrics or the health probes). */
struct aios_scrape_page {
	int have_in_flight, have_requests, have_latency;
	double in_flight; /* aios_serve_requests_in_flight */
	double requests;  /* aios_serve_requests_total (a counter) */
	double errors;    /* of those, with a 5xx code label (the canary's error rate) */
	int n_buckets;    /* aios_serve_request_duration_seconds buckets, by le ascending */
	double le[AIOS_SCRAPE_MAX_BUCKETS];    /* upper bounds, seconds (+Inf last) */
	double count[AIOS_SCRAPE_MAX_BUCKETS]; /* cumulative counts */
};

/*
 * Parses a Prometheus text page. AIOS_ERR_INVALID when the page holds no
 * aios_serve_requests_in_flight (not an aios-serve page) or a line of ours is
 * malformed; the message names the line.
 */
enum aios_err aios_scrape_parse(const char *text, size_t len,
                                struct aios_scrape_page *out) AIOS_MUST_CHECK;

/* The q-quantile (0..1) of a histogram given as cumulative counts per upper bound,
 * interpolated linearly inside the bucket as Prometheus' histogram_quantile does;
 * -1 when it holds no observation. */
double aios_scrape_quantile(const double *le, const double *count, int n, double q);

struct aios_scrape_result {
	int ok; /* 1: the page arrived with 200 and parsed */
	struct aios_scrape_page page;
	char error[160]; /* why not, when !ok: curl's words ("Failed to connect to
	                  * 10.0.0.3 port 8080 after 0 ms: Connection refused",
	                  * "Operation timed out after 500 milliseconds ..."), "HTTP 503",
	                  * "page larger than 4194304 bytes" */
};

struct aios_scraper;

struct aios_scraper *aios_scraper_new(int max_parallel, int timeout_ms);
void aios_scraper_free(struct aios_scraper *s);

/* Fetches urls[0..n) and fills out[0..n). Returns when every fetch has finished or
 * timed out: at most about timeout_ms * ceil(n / max_parallel). Thread-compatible
 * (one round at a time per scraper). */
void aios_scraper_run(struct aios_scraper *s, const char *const *urls, size_t n,
                      struct aios_scrape_result *out);

#endif
