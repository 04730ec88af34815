/*
 * test_autoscaler_decide.c - the scaling decision on synthetic per-second series:
 * steady load, a step up (panic), a step down (stable window + delay), noisy load
 * (no flapping), scrape gaps (no scale-down), rate and min/max clamps, parameters.
 */
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/autoscaler.h"

#define T0 1000000 /* an arbitrary start second */

/* One simulated service: the series, the decider state, and pods that become ready
 * `lag` seconds after they are asked for (0 = at once). */
struct sim {
	struct aios_autoscaler_params p;
	struct aios_autoscaler_series *s;
	struct aios_autoscaler_state st;
	struct aios_autoscaler_decision d;
	int64_t now;
	int ready;
	int changes;
};

static void sim_init(struct sim *m, double target, int min, int max, int ready)
{
	memset(m, 0, sizeof(*m));
	aios_autoscaler_params_default(&m->p);
	m->p.target = target;
	m->p.min_replicas = min;
	m->p.max_replicas = max;
	m->s = aios_autoscaler_series_new(AIOS_AUTOSCALER_MAX_WINDOW_S);
	aios_autoscaler_state_init(&m->st, ready);
	m->ready = ready;
	m->now = T0;
}

static void sim_free(struct sim *m)
{
	aios_autoscaler_series_free(m->s);
}

/* Advances one second: a scrape of `scraped` of the ready pods seeing `load` in total
 * (scraped < 0: every ready pod answered; scraped == 0: the scrape failed), then a
 * decision. Ready pods follow the decision at once when follow is set. */
static void step(struct sim *m, double load, int scraped, int follow)
{
	m->now++;
	struct aios_autoscaler_sample x = {.t = m->now, .pods_ready = m->ready};
	x.pods_scraped = scraped < 0 ? m->ready : scraped;
	double share = m->ready ? (double)x.pods_scraped / m->ready : 0;
	x.concurrency = load * share;
	x.rps = load * 3 * share;
	aios_autoscaler_series_put(m->s, &x);
	int before = m->st.desired;
	aios_autoscaler_decide(&m->p, m->s, m->ready, m->now, &m->st, &m->d);
	if (m->d.desired != before)
		m->changes++;
	if (follow)
		m->ready = m->d.desired;
}

/* n steps of step(m, load, scraped, follow). */
static void steps(struct sim *m, int n, double load, int scraped, int follow)
{
	for (int i = 0; i < n; i++)
		step(m, load, scraped, follow);
}

/* n steps during which the count must stay `want` with the decision held. */
static void steps_holding(struct sim *m, int n, double load, int scraped, int want)
{
	for (int i = 0; i < n; i++) {
		step(m, load, scraped, 1);
		ck_assert_int_eq(m->d.desired, want);
		ck_assert(m->d.held);
	}
}

/* Advances one second with no sample at all (the scraper did not run or lost it). */
static void step_missing(struct sim *m)
{
	m->now++;
	int before = m->st.desired;
	aios_autoscaler_decide(&m->p, m->s, m->ready, m->now, &m->st, &m->d);
	if (m->d.desired != before)
		m->changes++;
}

START_TEST(steady_load_keeps_the_count)
{
	struct sim m;
	sim_init(&m, 10, 1, 20, 4);
	for (int i = 0; i < 300; i++) {
		step(&m, 35, -1, 1);
		ck_assert_int_eq(m.d.desired, 4);
		ck_assert(!m.d.panic);
	}
	ck_assert_int_eq(m.changes, 0);
	ck_assert_double_eq_tol(m.d.stable_value, 35, 1e-9);
	ck_assert_int_eq(m.d.stable_pods, 4);
	ck_assert_int_eq(m.d.stable_seconds, 60);
	ck_assert(!m.d.held);
	ck_assert_ptr_nonnull(strstr(m.d.reason, "desired 4"));
	sim_free(&m);
}
END_TEST

START_TEST(step_up_panics_at_once)
{
	struct sim m;
	sim_init(&m, 10, 1, 50, 5);
	steps(&m, 120, 50, -1, 1);
	ck_assert_int_eq(m.d.desired, 5);
	int64_t step_at = m.now + 1;
	int64_t panic_at = 0, twenty_at = 0;
	/* The new pods take 20 s to become ready: capacity stays at 5 meanwhile. */
	for (int i = 0; i < 20; i++) {
		step(&m, 200, -1, 0);
		if (m.d.panic && !panic_at)
			panic_at = m.now;
		if (m.d.desired >= 20 && !twenty_at)
			twenty_at = m.now;
	}
	ck_assert_msg(panic_at && panic_at - step_at <= 2, "panic %lld s after the step",
	              (long long)(panic_at - step_at));
	ck_assert_msg(twenty_at && twenty_at - step_at <= 6, "20 pods %lld s after the step",
	              (long long)(twenty_at - step_at));
	ck_assert_ptr_nonnull(strstr(m.d.reason, "panic mode"));
	/* Pods ready: demand 20 on 20 ready is no longer a panic, but panic mode lasts a
	 * stable window after the condition last held, and never scales down. */
	m.ready = m.d.desired;
	int top = m.d.desired;
	int64_t last_over = m.st.panic_last_over;
	for (;;) {
		step(&m, 60, -1, 0);
		if (!m.d.panic)
			break;
		ck_assert_int_ge(m.d.desired, top);
		ck_assert_int_lt(m.now - last_over, 60);
	}
	ck_assert_int_eq(m.now - last_over, 60);
	/* Out of panic, the stable rule scales down, by at most half the ready pods. */
	ck_assert_int_eq(m.d.desired, top / 2);
	sim_free(&m);
}
END_TEST

START_TEST(step_down_waits_for_window_and_delay)
{
	struct sim m;
	sim_init(&m, 10, 1, 20, 10);
	m.p.scale_down_delay_s = 30;
	steps(&m, 120, 100, -1, 1);
	ck_assert_int_eq(m.d.desired, 10);
	int64_t step_at = m.now + 1, first_down = 0, at_two = 0;
	int prev = 10;
	for (int i = 0; i < 300; i++) {
		step(&m, 15, -1, 1);
		ck_assert_int_le(m.d.desired, prev); /* monotone: no up-down-up */
		ck_assert(!m.d.panic);
		if (m.d.desired < 10 && !first_down)
			first_down = m.now;
		if (m.d.desired == 2 && !at_two)
			at_two = m.now;
		prev = m.d.desired;
	}
	/* Without the delay the average would allow 9 pods after ~7 s; the delay holds 30 s. */
	ck_assert_msg(first_down - step_at >= 30, "scaled down %lld s after the step",
	              (long long)(first_down - step_at));
	ck_assert_msg(at_two && at_two - step_at <= 60 + 30 + 10, "2 pods after %lld s",
	              (long long)(at_two - step_at));
	ck_assert_int_eq(m.d.desired, 2);
	sim_free(&m);
}
END_TEST

START_TEST(step_down_respects_rate)
{
	struct sim m;
	sim_init(&m, 10, 1, 20, 16);
	steps(&m, 120, 160, -1, 0);
	ck_assert_int_eq(m.d.desired, 16);
	/* Load gone, but the ready pods do not follow: floor(16 / 2) = 8 at most. */
	steps(&m, 200, 0, -1, 0);
	ck_assert_int_eq(m.d.desired, 8);
	ck_assert_ptr_nonnull(strstr(m.d.reason, "scale-down rate floors at 8"));
	sim_free(&m);
}
END_TEST

/* Deterministic noise in [-1, 1). */
static double noise(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return ((*seed >> 8) & 0xffff) / 32768.0 - 1.0;
}

START_TEST(noisy_load_does_not_flap)
{
	struct sim ours, kpa;
	sim_init(&ours, 10, 1, 20, 5);
	sim_init(&kpa, 10, 1, 20, 5);
	kpa.p.scale_down_tolerance = 0; /* Knative's rule: no hysteresis */
	unsigned seed = 7;
	for (int i = 0; i < 1200; i++) {
		double load = 50 * (1 + 0.3 * noise(&seed)); /* 35..65 around exactly 5 pods */
		step(&ours, load, -1, 1);
		step(&kpa, load, -1, 1);
		ck_assert(!ours.d.panic);
	}
	ck_assert_msg(ours.changes <= 2, "%d changes in 20 min", ours.changes);
	ck_assert_int_ge(ours.d.desired, 5);
	ck_assert_int_le(ours.d.desired, 6);
	/* The reference rule flaps on the same series: the test can tell them apart. */
	ck_assert_msg(kpa.changes > ours.changes + 4, "kpa %d vs ours %d", kpa.changes,
	              ours.changes);
	sim_free(&ours);
	sim_free(&kpa);
}
END_TEST

START_TEST(scrape_outage_never_scales_down)
{
	struct sim m;
	sim_init(&m, 10, 1, 20, 10);
	steps(&m, 120, 100, -1, 1);
	/* Two minutes with no sample at all, then two minutes of failed scrapes. */
	for (int i = 0; i < 120; i++) {
		step_missing(&m);
		ck_assert_int_eq(m.d.desired, 10);
		ck_assert(m.d.held);
	}
	ck_assert(m.d.no_data);
	ck_assert_ptr_nonnull(strstr(m.d.reason, "metrics incomplete"));
	steps_holding(&m, 120, 0, 0, 10);
	ck_assert_int_eq(m.changes, 0);
	sim_free(&m);
}
END_TEST

START_TEST(partial_scrapes_extrapolate_and_hold)
{
	struct sim m;
	sim_init(&m, 10, 1, 20, 10);
	steps(&m, 120, 100, -1, 1);
	/* Half the pods answer, each with its share: the service-wide estimate stays 100. */
	for (int i = 0; i < 120; i++) {
		step(&m, 100, 5, 1);
		ck_assert_double_eq_tol(m.d.panic_value, 100, 1e-6);
		ck_assert_int_eq(m.d.desired, 10);
	}
	/* Half the pods answer while the load drops: no scale-down on partial data. */
	steps_holding(&m, 120, 10, 5, 10);
	/* ...but a rise is acted on even from partial data. */
	steps(&m, 10, 300, 5, 0);
	ck_assert_int_eq(m.d.desired, 20);
	sim_free(&m);
}
END_TEST

START_TEST(gaps_are_not_zeros)
{
	struct sim m;
	sim_init(&m, 10, 1, 20, 10);
	steps(&m, 120, 100, -1, 1);
	/* Every third second missing for 5 minutes: averages use the present seconds. */
	for (int i = 0; i < 300; i++) {
		if (i % 3 == 0)
			step_missing(&m);
		else
			step(&m, 100, -1, 1);
		ck_assert_int_eq(m.d.desired, 10);
		if (m.d.stable_seconds)
			ck_assert_double_eq_tol(m.d.stable_value, 100, 1e-9);
	}
	/* Complete data again: after a full clean window, scale-down works. */
	steps(&m, 200, 25, -1, 1);
	ck_assert_int_eq(m.d.desired, 3);
	ck_assert(!m.d.held);
	sim_free(&m);
}
END_TEST

START_TEST(restart_holds_until_window_fills)
{
	struct sim m;
	sim_init(&m, 10, 1, 20, 8); /* as if status.desiredReplicas was 8 */
	steps_holding(&m, 30, 8, -1, 8);
	steps(&m, 200, 8, -1, 1);
	ck_assert_int_eq(m.d.desired, 1);
	sim_free(&m);
}
END_TEST

START_TEST(min_max_and_rate_clamps)
{
	struct sim m;
	sim_init(&m, 10, 2, 6, 2);
	steps(&m, 100, 1000, -1, 1);
	ck_assert_int_eq(m.d.desired, 6);
	ck_assert_ptr_nonnull(strstr(m.d.reason, "bounded to [2, 6]"));
	steps(&m, 300, 0, -1, 1);
	ck_assert_int_eq(m.d.desired, 2);
	sim_free(&m);

	sim_init(&m, 10, 1, 100, 1);
	m.p.max_scale_up_rate = 2;
	step(&m, 500, -1, 0); /* 50 pods wanted, one ready: at most 2 */
	ck_assert_int_eq(m.d.desired, 2);
	ck_assert_ptr_nonnull(strstr(m.d.reason, "scale-up rate caps at 2"));
	sim_free(&m);
}
END_TEST

START_TEST(unready_pods_are_not_capacity)
{
	struct sim m;
	sim_init(&m, 10, 1, 50, 10);
	steps(&m, 120, 100, -1, 0);
	ck_assert_int_eq(m.d.desired, 10);
	/* Eight pods go unready; the two left carry all 100: demand 10 >= 2 x 2 ready. */
	m.ready = 2;
	steps(&m, 3, 100, -1, 0);
	ck_assert(m.d.panic);
	ck_assert_int_eq(m.d.ready, 2);
	ck_assert_int_ge(m.d.desired, 10);
	sim_free(&m);
}
END_TEST

START_TEST(rps_metric)
{
	struct sim m;
	sim_init(&m, 30, 1, 20, 1);
	m.p.metric = AIOS_AUTOSCALER_RPS;
	steps(&m, 120, 40, -1, 1); /* rps = 3 x 40 = 120 -> 4 pods of 30 */
	ck_assert_int_eq(m.d.desired, 4);
	ck_assert_ptr_nonnull(strstr(m.d.reason, "rps:"));
	sim_free(&m);
}
END_TEST

START_TEST(series_ring)
{
	struct aios_autoscaler_series *s = aios_autoscaler_series_new(10);
	struct aios_autoscaler_sample x = {
	    .t = 100, .concurrency = 1, .pods_ready = 1, .pods_scraped = 1};
	aios_autoscaler_series_put(s, &x);
	x.t = 105;
	x.concurrency = 5;
	aios_autoscaler_series_put(s, &x);
	struct aios_autoscaler_sample y;
	ck_assert(aios_autoscaler_series_get(s, 100, &y));
	ck_assert_double_eq(y.concurrency, 1);
	ck_assert(!aios_autoscaler_series_get(s, 101, &y));
	x.t = 110;
	aios_autoscaler_series_put(s, &x);
	ck_assert(!aios_autoscaler_series_get(s, 100, &y)); /* slot reused by 110 */
	ck_assert(aios_autoscaler_series_get(s, 105, &y));
	x.t = 99; /* too old now */
	aios_autoscaler_series_put(s, &x);
	ck_assert(!aios_autoscaler_series_get(s, 99, &y));
	ck_assert_int_eq(aios_autoscaler_series_newest(s), 110);
	aios_autoscaler_series_free(s);
	aios_autoscaler_series_free(NULL);
}
END_TEST

static enum aios_err parse(const char *doc, struct aios_autoscaler_params *p)
{
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(doc, strlen(doc), "test", &o), AIOS_OK);
	enum aios_err e = aios_autoscaler_params_from_spec(o, p);
	json_object_put(o);
	return e;
}

/* ---------------------------------------------------------------- scale to zero */

/* One second with the gateway's view: `load` in flight on the pods (every ready pod
 * scraped) and `queued` held at the gateway (gw: its stream is current). */
static void step_gw(struct sim *m, double load, double queued, int gw)
{
	m->now++;
	struct aios_autoscaler_sample x = {.t = m->now,
	                                   .pods_ready = m->ready,
	                                   .pods_scraped = m->ready,
	                                   .concurrency = load,
	                                   .rps = load * 3,
	                                   .gw_have = gw,
	                                   .gw_queued = queued,
	                                   .gw_in_flight = load,
	                                   .gw_rps = load * 3};
	aios_autoscaler_series_put(m->s, &x);
	int before = m->st.desired;
	aios_autoscaler_decide(&m->p, m->s, m->ready, m->now, &m->st, &m->d);
	if (m->d.desired != before)
		m->changes++;
	m->ready = m->d.desired;
}

START_TEST(idle_goes_to_zero_after_the_grace)
{
	struct sim m;
	sim_init(&m, 10, 0, 5, 1);
	m.p.stable_window_s = 6;
	m.p.panic_window_s = 2;
	m.p.scale_to_zero_grace_s = 20;
	for (int i = 0; i < 10; i++)
		step_gw(&m, 3, 0, 1); /* busy */
	ck_assert_int_eq(m.d.desired, 1);
	int t_zero = -1;
	for (int i = 1; i <= 40 && t_zero < 0; i++) {
		step_gw(&m, 0, 0, 1);
		if (m.d.desired == 0)
			t_zero = i;
		else if (i > 10) /* the stable window is idle too: only the grace keeps it */
			ck_assert_ptr_nonnull(strstr(m.d.reason, "scale to zero waits"));
	}
	ck_assert_int_eq(t_zero, 20); /* exactly the grace of idle seconds */
	ck_assert_ptr_nonnull(strstr(m.d.reason, "scaling to zero"));
	/* at zero and idle: stays there */
	for (int i = 0; i < 30; i++) {
		step_gw(&m, 0, 0, 1);
		ck_assert_int_eq(m.d.desired, 0);
	}
	sim_free(&m);
}
END_TEST

START_TEST(no_zero_without_the_gateway_or_with_gaps)
{
	struct sim m;
	sim_init(&m, 10, 0, 5, 1);
	m.p.stable_window_s = 6;
	m.p.panic_window_s = 2;
	m.p.scale_to_zero_grace_s = 10;
	for (int i = 0; i < 60; i++) { /* no gateway stream: never zero */
		step_gw(&m, 0, 0, 0);
		ck_assert_int_eq(m.d.desired, 1);
	}
	for (int i = 0; i < 8; i++)
		step_gw(&m, 0, 0, 1);
	step_missing(&m); /* a lost second restarts the grace */
	for (int i = 0; i < 9; i++) {
		step_gw(&m, 0, 0, 1);
		ck_assert_int_eq(m.d.desired, 1);
	}
	step_gw(&m, 0, 0, 1);
	ck_assert_int_eq(m.d.desired, 0);
	/* replicas.min 1: idle never means zero */
	struct sim one;
	sim_init(&one, 10, 1, 5, 1);
	one.p.scale_to_zero_grace_s = 1;
	for (int i = 0; i < 100; i++)
		step_gw(&one, 0, 0, 1);
	ck_assert_int_eq(one.d.desired, 1);
	sim_free(&one);
	sim_free(&m);
}
END_TEST

START_TEST(held_request_activates_at_once)
{
	struct sim m;
	sim_init(&m, 10, 0, 5, 0);
	aios_autoscaler_state_init(&m.st, 0);
	for (int i = 0; i < 5; i++)
		step_gw(&m, 0, 0, 1);
	ck_assert_int_eq(m.d.desired, 0);
	step_gw(&m, 0, 1, 1); /* one request held */
	ck_assert_int_eq(m.d.desired, 1);
	ck_assert(m.d.activated);
	ck_assert_ptr_nonnull(strstr(m.d.reason, "activating"));
	/* even with the stream incomplete: demand is demand */
	struct sim n;
	sim_init(&n, 10, 0, 5, 0);
	aios_autoscaler_state_init(&n.st, 0);
	step_gw(&n, 0, 3, 0);
	ck_assert_int_eq(n.d.desired, 1);
	sim_free(&n);
	sim_free(&m);
}
END_TEST

START_TEST(params_from_spec)
{
	struct aios_autoscaler_params p;
	ck_assert_int_eq(parse("{\"spec\":{}}", &p), AIOS_OK);
	ck_assert_double_eq(p.target, 100);
	ck_assert_int_eq(p.stable_window_s, 60);
	ck_assert_int_eq(p.panic_window_s, 6);
	ck_assert_double_eq(p.panic_threshold, 2.0);
	ck_assert_double_eq(p.max_scale_up_rate, 1000);
	ck_assert_double_eq(p.max_scale_down_rate, 2);
	ck_assert_int_eq(p.min_replicas, 1);
	ck_assert_int_eq(p.max_replicas, 10);

	ck_assert_int_eq(parse("{\"spec\":{\"replicas\":{\"min\":0,\"max\":3},\"autoscaling\":"
	                       "{\"metric\":\"rps\",\"target\":5,\"stableWindowSeconds\":120,"
	                       "\"panicWindowSeconds\":12,\"panicThreshold\":3,"
	                       "\"scaleDownDelaySeconds\":300,\"maxScaleUpRate\":4,"
	                       "\"maxScaleDownRate\":1.5}}}",
	                       &p),
	                 AIOS_OK);
	ck_assert_int_eq(p.metric, AIOS_AUTOSCALER_RPS);
	ck_assert_double_eq(p.target, 5);
	ck_assert_int_eq(p.min_replicas, 0); /* scale to zero behind aios-gateway */
	ck_assert_int_eq(p.scale_to_zero_grace_s, 30);
	ck_assert_int_eq(p.max_replicas, 3);
	ck_assert_int_eq(p.stable_window_s, 120);
	ck_assert_int_eq(p.scale_down_delay_s, 300);
	ck_assert_double_eq(p.max_scale_down_rate, 1.5);

	ck_assert_int_eq(parse("{\"spec\":{\"autoscaling\":{\"panicThreshold\":0.5}}}", &p),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.autoscaling.panicThreshold"));
	ck_assert_int_eq(parse("{\"spec\":{\"autoscaling\":{\"metric\":\"cpu\"}}}", &p),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.autoscaling.metric"));
	ck_assert_int_eq(parse("{\"spec\":{\"replicas\":{\"min\":5,\"max\":2}}}", &p),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.replicas.max"));
	ck_assert_int_eq(parse("{\"spec\":{\"autoscaling\":{\"stableWindowSeconds\":10,"
	                       "\"panicWindowSeconds\":20}}}",
	                       &p),
	                 AIOS_ERR_INVALID);
	ck_assert_int_eq(parse("{\"spec\":{\"autoscaling\":{\"target\":\"ten\"}}}", &p),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.autoscaling.target"));
}
END_TEST

static Suite *autoscaler_suite(void)
{
	Suite *s = suite_create("autoscaler");
	TCase *tc = tcase_create("decide");
	tcase_add_test(tc, steady_load_keeps_the_count);
	tcase_add_test(tc, step_up_panics_at_once);
	tcase_add_test(tc, step_down_waits_for_window_and_delay);
	tcase_add_test(tc, step_down_respects_rate);
	tcase_add_test(tc, noisy_load_does_not_flap);
	tcase_add_test(tc, scrape_outage_never_scales_down);
	tcase_add_test(tc, partial_scrapes_extrapolate_and_hold);
	tcase_add_test(tc, gaps_are_not_zeros);
	tcase_add_test(tc, restart_holds_until_window_fills);
	tcase_add_test(tc, min_max_and_rate_clamps);
	tcase_add_test(tc, unready_pods_are_not_capacity);
	tcase_add_test(tc, rps_metric);
	tcase_add_test(tc, series_ring);
	tcase_add_test(tc, params_from_spec);
	tcase_add_test(tc, idle_goes_to_zero_after_the_grace);
	tcase_add_test(tc, no_zero_without_the_gateway_or_with_gaps);
	tcase_add_test(tc, held_request_activates_at_once);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(autoscaler_suite)
