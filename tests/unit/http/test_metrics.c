/* test_metrics.c - the Prometheus registry: values, labels, escaping, histograms, promtool. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "http/metrics.h"

static char *render(struct aios_metrics *r)
{
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_int_eq(aios_metrics_render(r, &b), AIOS_OK);
	return aios_buf_take(&b);
}

START_TEST(counter_gauge_labels)
{
	struct aios_metrics *r = aios_metrics_new();
	struct aios_metric *c = aios_metrics_counter(r, "aios_test_requests_total", "Requests.",
	                                             "endpoint", "code", NULL);
	aios_counter_inc(aios_metric_with(c, "predict", "200"));
	aios_counter_add(aios_metric_with(c, "predict", "200"), 2);
	aios_counter_inc(aios_metric_with(c, "infer", "400"));
	aios_counter_add(aios_metric_with(c, "infer", "400"), -5); /* ignored: counters only grow */
	struct aios_metric *g = aios_metrics_gauge(r, "aios_test_in_flight", "In flight.", NULL);
	aios_gauge_set(aios_metric_with(g), 7);
	aios_gauge_add(aios_metric_with(g), -2.5);
	ck_assert(aios_metric_with(c, "predict", "200") == aios_metric_with(c, "predict", "200"));
	ck_assert(aios_metrics_counter(r, "aios_test_requests_total", "x", "endpoint", "code",
	                               NULL) == c);
	char *s = render(r);
	ck_assert_ptr_nonnull(strstr(s, "# HELP aios_test_requests_total Requests.\n"));
	ck_assert_ptr_nonnull(strstr(s, "# TYPE aios_test_requests_total counter\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "aios_test_requests_total{endpoint=\"predict\",code=\"200\"} 3\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "aios_test_requests_total{endpoint=\"infer\",code=\"400\"} 1\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "# TYPE aios_test_in_flight gauge\naios_test_in_flight 4.5\n"));
	free(s);
	aios_metrics_free(r);
}
END_TEST

START_TEST(escaping)
{
	struct aios_metrics *r = aios_metrics_new();
	struct aios_metric *g =
	    aios_metrics_gauge(r, "aios_test_info", "Help with \\ and\nnewline.", "name", NULL);
	aios_gauge_set(aios_metric_with(g, "a\"b\\c\nd"), 1);
	char *s = render(r);
	ck_assert_ptr_nonnull(strstr(s, "# HELP aios_test_info Help with \\\\ and\\nnewline.\n"));
	ck_assert_ptr_nonnull(strstr(s, "aios_test_info{name=\"a\\\"b\\\\c\\nd\"} 1\n"));
	free(s);
	aios_metrics_free(r);
}
END_TEST

START_TEST(histogram_cumulative)
{
	struct aios_metrics *r = aios_metrics_new();
	const double b[] = {1, 2, 5};
	struct aios_metric *h = aios_metrics_histogram(r, "aios_test_size", "Sizes.", b, 3, NULL);
	struct aios_series *s = aios_metric_with(h);
	double obs[] = {0.5, 1, 1.5, 3, 100};
	for (int i = 0; i < 5; i++)
		aios_histogram_observe(s, obs[i]);
	ck_assert_double_eq(aios_series_value(s), 5);
	char *t = render(r);
	ck_assert_ptr_nonnull(strstr(t, "aios_test_size_bucket{le=\"1\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "aios_test_size_bucket{le=\"2\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(t, "aios_test_size_bucket{le=\"5\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(t, "aios_test_size_bucket{le=\"+Inf\"} 5\n"));
	ck_assert_ptr_nonnull(strstr(t, "aios_test_size_sum 106\n"));
	ck_assert_ptr_nonnull(strstr(t, "aios_test_size_count 5\n"));
	free(t);
	aios_metrics_free(r);
}
END_TEST

static struct aios_series *g_hot;

static void *hammer(void *arg)
{
	for (int i = 0; i < 100000; i++)
		aios_counter_inc(g_hot);
	return NULL;
}

START_TEST(concurrent_updates_are_not_lost)
{
	struct aios_metrics *r = aios_metrics_new();
	g_hot = aios_metric_with(aios_metrics_counter(r, "aios_test_hits_total", "Hits.", NULL));
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_double_eq(aios_series_value(g_hot), 400000);
	aios_metrics_free(r);
}
END_TEST

static int g_collected;
static void collect(void *ud)
{
	g_collected++;
	aios_gauge_set(ud, 42);
}

START_TEST(collect_hook_and_promtool)
{
	struct aios_metrics *r = aios_metrics_new();
	struct aios_metric *c = aios_metrics_counter(r, "aios_test_requests_total", "Requests.",
	                                             "endpoint", "code", NULL);
	aios_counter_inc(aios_metric_with(c, "v1", "200"));
	struct aios_series *q =
	    aios_metric_with(aios_metrics_gauge(r, "aios_test_queue_depth", "Queue.", NULL));
	aios_metrics_on_collect(r, collect, q);
	struct aios_metric *h = aios_metrics_histogram(
	    r, "aios_test_duration_seconds", "Latency.", aios_metrics_latency_buckets,
	    aios_metrics_latency_buckets_n, "endpoint", NULL);
	aios_histogram_observe(aios_metric_with(h, "v1"), 0.0003);
	aios_histogram_observe(aios_metric_with(h, "v2"), 12);
	char *s = render(r);
	ck_assert_int_eq(g_collected, 1);
	ck_assert_ptr_nonnull(strstr(s, "aios_test_queue_depth 42\n"));
	char path[] = "/tmp/aios-metrics-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs(s, f);
	fclose(f);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	char out[4096] = "";
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = 0;
	int rc = pclose(p);
	unlink(path);
	ck_assert_msg(rc == 0, "promtool failed (%d): %s\n---\n%s", rc, out, s);
	free(s);
	aios_metrics_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *t = tcase_create("core");
	tcase_add_test(t, counter_gauge_labels);
	tcase_add_test(t, escaping);
	tcase_add_test(t, histogram_cumulative);
	tcase_add_test(t, concurrent_updates_are_not_lost);
	tcase_add_test(t, collect_hook_and_promtool);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
