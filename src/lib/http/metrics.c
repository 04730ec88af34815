/*
 * metrics.c - the Prometheus registry (see metrics.h).
 *
 * Values are doubles stored as their bits in _Atomic uint64_t and updated with a
 * compare-and-swap loop, so updates never take a lock. A histogram series keeps one
 * non-cumulative count per bucket; rendering sums them into the cumulative form and
 * takes the +Inf bucket as _count, so a scrape is self-consistent even while
 * observations land.
 */
#include "http/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM };

struct aios_series {
	struct aios_series *next;
	struct aios_metric *family;
	char **values;            /* n_labels label values, owned */
	_Atomic uint64_t value;   /* counter/gauge: double bits; histogram: sum bits */
	_Atomic uint64_t *counts; /* histogram: n_buckets + 1 (the last is +Inf) */
	int dropped;              /* the overflow series: updates are ignored */
};

struct aios_metric {
	struct aios_metric *next;
	enum kind kind;
	char *name, *help;
	int n_labels;
	char *labels[AIOS_METRICS_MAX_LABELS];
	double *buckets;
	int n_buckets;
	pthread_mutex_t mu; /* guards the series list (not the values) */
	struct aios_series *series, **tail;
	int n_series;
	struct aios_series overflow;
	int warned;
};

struct hook {
	void (*fn)(void *);
	void *ud;
};

struct aios_metrics {
	pthread_mutex_t mu; /* guards the family list and hooks */
	struct aios_metric *families, **tail;
	struct hook hooks[16];
	int n_hooks;
};

const double aios_metrics_latency_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10};
const int aios_metrics_latency_buckets_n = 16;
const double aios_metrics_size_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
const int aios_metrics_size_buckets_n = 11;

/* ---------------------------------------------------------------- atomics */

static double bits_to_d(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

static uint64_t d_to_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static void atomic_add_d(_Atomic uint64_t *a, double v)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(a, &old, d_to_bits(bits_to_d(old) + v),
	                                              memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---------------------------------------------------------------- registry */

static int valid_name(const char *s, int label)
{
	if (!s || !*s)
		return 0;
	for (const char *p = s; *p; p++) {
		int c = (unsigned char)*p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		         (!label && c == ':') || (p != s && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return !(label && strncmp(s, "__", 2) == 0);
}

static void die(const char *what, const char *name)
{
	fprintf(stderr, "aios metrics: %s: %s\n", what, name ? name : "(null)");
	abort();
}

struct aios_metrics *aios_metrics_new(void)
{
	struct aios_metrics *r = aios_xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	r->tail = &r->families;
	return r;
}

static void series_free(struct aios_series *s, int n_labels)
{
	for (int i = 0; i < n_labels; i++)
		free(s->values[i]);
	free(s->values);
	free((void *)s->counts);
}

void aios_metrics_free(struct aios_metrics *r)
{
	if (!r)
		return;
	struct aios_metric *m = r->families;
	while (m) {
		struct aios_metric *mn = m->next;
		struct aios_series *s = m->series;
		while (s) {
			struct aios_series *sn = s->next;
			series_free(s, m->n_labels);
			free(s);
			s = sn;
		}
		free((void *)m->overflow.counts);
		for (int i = 0; i < m->n_labels; i++)
			free(m->labels[i]);
		free(m->name);
		free(m->help);
		free(m->buckets);
		pthread_mutex_destroy(&m->mu);
		free(m);
		m = mn;
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static struct aios_metric *declare(struct aios_metrics *r, enum kind k, const char *name,
                                   const char *help, const double *buckets, int n_buckets,
                                   va_list ap)
{
	const char *labels[AIOS_METRICS_MAX_LABELS];
	int n = 0;
	const char *l;
	if (!valid_name(name, 0))
		die("invalid metric name", name);
	while ((l = va_arg(ap, const char *))) {
		if (n == AIOS_METRICS_MAX_LABELS)
			die("too many labels", name);
		if (!valid_name(l, 1) || (k == K_HISTOGRAM && strcmp(l, "le") == 0))
			die("invalid label name", l);
		labels[n++] = l;
	}
	if (k == K_HISTOGRAM) {
		if (n_buckets < 1 || n_buckets > AIOS_METRICS_MAX_BUCKETS)
			die("bad bucket count", name);
		for (int i = 1; i < n_buckets; i++)
			if (!(buckets[i] > buckets[i - 1]))
				die("buckets not increasing", name);
	}
	pthread_mutex_lock(&r->mu);
	for (struct aios_metric *m = r->families; m; m = m->next) {
		if (strcmp(m->name, name) != 0)
			continue;
		int same = m->kind == k && m->n_labels == n;
		for (int i = 0; same && i < n; i++)
			same = strcmp(m->labels[i], labels[i]) == 0;
		pthread_mutex_unlock(&r->mu);
		if (!same)
			die("metric redeclared differently", name);
		return m;
	}
	struct aios_metric *m = aios_xcalloc(1, sizeof *m);
	m->kind = k;
	m->name = aios_xstrdup(name);
	m->help = aios_xstrdup(help ? help : "");
	m->n_labels = n;
	for (int i = 0; i < n; i++)
		m->labels[i] = aios_xstrdup(labels[i]);
	if (k == K_HISTOGRAM) {
		m->buckets = aios_xmalloc(sizeof(double) * (size_t)n_buckets);
		memcpy(m->buckets, buckets, sizeof(double) * (size_t)n_buckets);
		m->n_buckets = n_buckets;
		m->overflow.counts = aios_xcalloc((size_t)n_buckets + 1, sizeof(uint64_t));
	}
	pthread_mutex_init(&m->mu, NULL);
	m->tail = &m->series;
	m->overflow.family = m;
	m->overflow.dropped = 1;
	*r->tail = m;
	r->tail = &m->next;
	pthread_mutex_unlock(&r->mu);
	return m;
}

struct aios_metric *aios_metrics_counter(struct aios_metrics *r, const char *name, const char *help,
                                         ...)
{
	va_list ap;
	va_start(ap, help);
	struct aios_metric *m = declare(r, K_COUNTER, name, help, NULL, 0, ap);
	va_end(ap);
	return m;
}

struct aios_metric *aios_metrics_gauge(struct aios_metrics *r, const char *name, const char *help,
                                       ...)
{
	va_list ap;
	va_start(ap, help);
	struct aios_metric *m = declare(r, K_GAUGE, name, help, NULL, 0, ap);
	va_end(ap);
	return m;
}

struct aios_metric *aios_metrics_histogram(struct aios_metrics *r, const char *name,
                                           const char *help, const double *buckets, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	struct aios_metric *m = declare(r, K_HISTOGRAM, name, help, buckets, n, ap);
	va_end(ap);
	return m;
}

/* ---------------------------------------------------------------- series */

struct aios_series *aios_metric_withv(struct aios_metric *m, const char *const *values)
{
	pthread_mutex_lock(&m->mu);
	for (struct aios_series *s = m->series; s; s = s->next) {
		int same = 1;
		for (int i = 0; same && i < m->n_labels; i++)
			same = strcmp(s->values[i], values[i] ? values[i] : "") == 0;
		if (same) {
			pthread_mutex_unlock(&m->mu);
			return s;
		}
	}
	if (m->n_series >= AIOS_METRICS_MAX_SERIES) {
		int warn = !m->warned;
		m->warned = 1;
		pthread_mutex_unlock(&m->mu);
		if (warn)
			aios_warn("metrics_series_cap",
			          "%s: more than %d series; new ones are dropped", m->name,
			          AIOS_METRICS_MAX_SERIES);
		return &m->overflow;
	}
	struct aios_series *s = aios_xcalloc(1, sizeof *s);
	s->family = m;
	s->values = aios_xcalloc((size_t)m->n_labels + 1, sizeof(char *));
	for (int i = 0; i < m->n_labels; i++)
		s->values[i] = aios_xstrdup(values[i] ? values[i] : "");
	if (m->kind == K_HISTOGRAM)
		s->counts = aios_xcalloc((size_t)m->n_buckets + 1, sizeof(uint64_t));
	*m->tail = s;
	m->tail = &s->next;
	m->n_series++;
	pthread_mutex_unlock(&m->mu);
	return s;
}

struct aios_series *aios_metric_with(struct aios_metric *m, ...)
{
	const char *values[AIOS_METRICS_MAX_LABELS];
	va_list ap;
	va_start(ap, m);
	for (int i = 0; i < m->n_labels; i++)
		values[i] = va_arg(ap, const char *);
	va_end(ap);
	return aios_metric_withv(m, values);
}

void aios_counter_inc(struct aios_series *s)
{
	aios_counter_add(s, 1.0);
}

void aios_counter_add(struct aios_series *s, double v)
{
	if (s->dropped || !(v >= 0))
		return;
	atomic_add_d(&s->value, v);
}

void aios_gauge_set(struct aios_series *s, double v)
{
	if (!s->dropped)
		atomic_store_explicit(&s->value, d_to_bits(v), memory_order_relaxed);
}

void aios_gauge_add(struct aios_series *s, double v)
{
	if (!s->dropped)
		atomic_add_d(&s->value, v);
}

void aios_histogram_observe(struct aios_series *s, double v)
{
	if (s->dropped || isnan(v))
		return;
	const struct aios_metric *m = s->family;
	int i = 0;
	while (i < m->n_buckets && v > m->buckets[i])
		i++;
	atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
	atomic_add_d(&s->value, v);
}

double aios_series_value(struct aios_series *s)
{
	if (s->family->kind != K_HISTOGRAM)
		return bits_to_d(atomic_load_explicit(&s->value, memory_order_relaxed));
	uint64_t n = 0;
	for (int i = 0; i <= s->family->n_buckets; i++)
		n += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
	return (double)n;
}

void aios_metrics_on_collect(struct aios_metrics *r, void (*fn)(void *ud), void *ud)
{
	pthread_mutex_lock(&r->mu);
	if (r->n_hooks == (int)(sizeof r->hooks / sizeof r->hooks[0]))
		die("too many collect hooks", "");
	r->hooks[r->n_hooks].fn = fn;
	r->hooks[r->n_hooks].ud = ud;
	r->n_hooks++;
	pthread_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------------- rendering */

/* Go-style float formatting that Prometheus parses: +Inf, -Inf, NaN, else %.17g trimmed. */
static void fmt_double(char *out, size_t n, double v)
{
	if (isnan(v))
		snprintf(out, n, "NaN");
	else if (isinf(v))
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
	else if (v == (double)(int64_t)v && fabs(v) < 1e15)
		snprintf(out, n, "%lld", (long long)v);
	else
		snprintf(out, n, "%.17g", v);
}

/* HELP text escapes \ and newline; label values also escape ". */
static enum aios_err put_escaped(struct aios_buf *b, const char *s, int quote)
{
	enum aios_err e = AIOS_OK;
	for (const char *p = s; *p && e == AIOS_OK; p++) {
		if (*p == '\\')
			e = aios_buf_append(b, "\\\\", 2);
		else if (*p == '\n')
			e = aios_buf_append(b, "\\n", 2);
		else if (quote && *p == '"')
			e = aios_buf_append(b, "\\\"", 2);
		else
			e = aios_buf_append(b, p, 1);
	}
	return e;
}

/* Writes name{labels[,le="x"]} value\n. */
static enum aios_err put_sample(struct aios_buf *b, const struct aios_metric *m,
                                const struct aios_series *s, const char *suffix, const char *le,
                                double v)
{
	enum aios_err e = aios_buf_puts(b, m->name);
	if (!e)
		e = aios_buf_puts(b, suffix);
	if (!e && (m->n_labels || le)) {
		e = aios_buf_append(b, "{", 1);
		for (int i = 0; !e && i < m->n_labels; i++) {
			e = aios_buf_printf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
			if (!e)
				e = put_escaped(b, s->values[i], 1);
			if (!e)
				e = aios_buf_append(b, "\"", 1);
		}
		if (!e && le)
			e = aios_buf_printf(b, "%sle=\"%s\"", m->n_labels ? "," : "", le);
		if (!e)
			e = aios_buf_append(b, "}", 1);
	}
	char num[40];
	fmt_double(num, sizeof num, v);
	if (!e)
		e = aios_buf_printf(b, " %s\n", num);
	return e;
}

static enum aios_err render_family(struct aios_metric *m, struct aios_buf *out)
{
	static const char *types[] = {"counter", "gauge", "histogram"};
	enum aios_err e = aios_buf_printf(out, "# HELP %s ", m->name);
	if (!e)
		e = put_escaped(out, m->help, 0);
	if (!e)
		e = aios_buf_printf(out, "\n# TYPE %s %s\n", m->name, types[m->kind]);
	pthread_mutex_lock(&m->mu);
	for (struct aios_series *s = m->series; s && !e; s = s->next) {
		double v = bits_to_d(atomic_load_explicit(&s->value, memory_order_relaxed));
		if (m->kind != K_HISTOGRAM) {
			e = put_sample(out, m, s, "", NULL, v);
			continue;
		}
		uint64_t cum = 0;
		char le[40];
		for (int i = 0; i <= m->n_buckets && !e; i++) {
			cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
			fmt_double(le, sizeof le, i < m->n_buckets ? m->buckets[i] : INFINITY);
			e = put_sample(out, m, s, "_bucket", le, (double)cum);
		}
		if (!e)
			e = put_sample(out, m, s, "_sum", NULL, v);
		if (!e)
			e = put_sample(out, m, s, "_count", NULL, (double)cum);
	}
	pthread_mutex_unlock(&m->mu);
	return e;
}

enum aios_err aios_metrics_render(struct aios_metrics *r, struct aios_buf *out)
{
	pthread_mutex_lock(&r->mu);
	int n = r->n_hooks;
	struct hook hooks[16];
	memcpy(hooks, r->hooks, sizeof hooks);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < n; i++)
		hooks[i].fn(hooks[i].ud);

	enum aios_err e = AIOS_OK;
	pthread_mutex_lock(&r->mu);
	for (struct aios_metric *m = r->families; m && !e; m = m->next) {
		e = render_family(m, out);
		if (e)
			aios_fail(e, "metrics: rendering %s: page exceeds %zu bytes", m->name,
			          out->max);
	}
	pthread_mutex_unlock(&r->mu);
	if (e)
		return e;
	return AIOS_OK;
}
