/*
 * metrics.h - a Prometheus registry: counters, gauges and histograms, rendered in the
 * text exposition format 0.0.4 (what `promtool check metrics` accepts).
 *
 * A registry holds metric families. A family has a name (prefix aios_, unit in the
 * name: _seconds, _bytes, _total for counters), a help line, and zero or more label
 * names. Each distinct tuple of label values is a series (a child), created on first
 * use by aios_metric_with() and alive until the registry is freed, so the hot path
 * looks a series up once and keeps the pointer:
 *
 *   struct aios_metric *req = aios_metrics_counter(reg, "aios_serve_requests_total",
 *                                                  "Requests by endpoint and code.",
 *                                                  "endpoint", "code", NULL);
 *   aios_counter_inc(aios_metric_with(req, "v1_predict", "200"));
 *
 * Updates are lock-free atomics (a compare-and-swap loop on the bits of a double);
 * creating a series and rendering take the family's mutex. Rendering runs the
 * collect hooks first (for values sampled at scrape time, such as a queue depth).
 *
 * Names are programmer-supplied constants: a bad name or a label-count mismatch is a
 * bug and aborts with a message. Label values are outside data and are escaped.
 * Limits: AIOS_METRICS_MAX_LABELS label names per family, AIOS_METRICS_MAX_SERIES
 * series per family (past it aios_metric_with returns a shared overflow series whose
 * updates are dropped, and logs a warning once), AIOS_METRICS_MAX_BUCKETS buckets.
 */
#ifndef AIOS_METRICS_H
#define AIOS_METRICS_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define AIOS_METRICS_MAX_LABELS   8
#define AIOS_METRICS_MAX_SERIES   10000
#define AIOS_METRICS_MAX_BUCKETS  64
#define AIOS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct aios_metrics; /* a registry */
struct aios_metric;  /* one family */
struct aios_series;  /* one child: a family with its label values bound */

struct aios_metrics *aios_metrics_new(void);
/* Frees the registry, every family and every series (NULL is a no-op). */
void aios_metrics_free(struct aios_metrics *r);

/*
 * Declares a family; the variadic arguments are label names ending in NULL. Declaring
 * the same name twice with the same type and labels returns the existing family.
 * The registry owns the family. Abort on a bad name or a clash.
 */
struct aios_metric *aios_metrics_counter(struct aios_metrics *r, const char *name, const char *help,
                                         ...) __attribute__((sentinel));
struct aios_metric *aios_metrics_gauge(struct aios_metrics *r, const char *name, const char *help,
                                       ...) __attribute__((sentinel));
/* buckets: n strictly increasing upper bounds (+Inf is implicit). */
struct aios_metric *aios_metrics_histogram(struct aios_metrics *r, const char *name,
                                           const char *help, const double *buckets, int n, ...)
    __attribute__((sentinel));

/* Common bucket layouts: request latency in seconds (100 us .. 10 s), batch sizes 1..1024. */
extern const double aios_metrics_latency_buckets[];
extern const int aios_metrics_latency_buckets_n;
extern const double aios_metrics_size_buckets[];
extern const int aios_metrics_size_buckets_n;

/*
 * The series for the given label values (as many as the family has label names, in
 * order; none for an unlabelled family). Borrowed, valid until the registry is freed.
 */
struct aios_series *aios_metric_with(struct aios_metric *m, ...);
struct aios_series *aios_metric_withv(struct aios_metric *m, const char *const *values);

void aios_counter_inc(struct aios_series *s);
void aios_counter_add(struct aios_series *s, double v); /* v >= 0 */
void aios_gauge_set(struct aios_series *s, double v);
void aios_gauge_add(struct aios_series *s, double v); /* v may be negative */
void aios_histogram_observe(struct aios_series *s, double v);
/* Current value of a counter or gauge, or the count of a histogram (for tests). */
double aios_series_value(struct aios_series *s);

/* Registers fn(ud) to run at the start of every render (sample gauges there). */
void aios_metrics_on_collect(struct aios_metrics *r, void (*fn)(void *ud), void *ud);

/* Appends the whole registry in exposition format 0.0.4 to out. */
enum aios_err aios_metrics_render(struct aios_metrics *r, struct aios_buf *out) AIOS_MUST_CHECK;

#endif
