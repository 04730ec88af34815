/*
 * test_dashboard.c - the Grafana dashboard shipped with the chart only names metrics
 * that the programs register (check_dashboard.py).
 */
#include <stdio.h>
#include <stdlib.h>

#include "check_main.h"

START_TEST(dashboard_metrics_exist)
{
	const char *src = getenv("AIOS_SOURCE_DIR");
	ck_assert_msg(src != NULL, "AIOS_SOURCE_DIR must be set (ctest sets it)");
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "python3 %s/tests/unit/dashboard/check_dashboard.py %s", src,
	         src);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *dashboard_suite(void)
{
	Suite *s = suite_create("dashboard");
	TCase *tc = tcase_create("grafana");
	tcase_add_test(tc, dashboard_metrics_exist);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(dashboard_suite)
