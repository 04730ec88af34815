/*
 * test_manifests.c - the install manifests' unit checks, run by ctest.
 *
 * The checks themselves are Python (check_manifests.py beside this file: YAML and JSON
 * Schema are far shorter there; the chart is linted and rendered by real Helm 3.8.1,
 * scripts/helm.sh); this program runs
 * each as one Check test so that `ctest -L unit` covers crds/, operator/, helm/aios/,
 * examples/ and docs/api-reference.md. A failing check prints every problem it found.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "check_main.h"

/* Debian's interpreter: python3-yaml and python3-jsonschema come from install-deps.sh. */
#define MANIFEST_PYTHON "/usr/bin/python3"

static void run_check(const char *name)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s' 2>&1", MANIFEST_PYTHON,
	         aios_test_path("tests/unit/manifests/check_manifests.py"), name);
	int status = system(cmd);
	ck_assert_msg(status != -1 && WIFEXITED(status), "could not run %s", cmd);
	ck_assert_msg(WEXITSTATUS(status) == 0, "manifest check %s failed (exit %d): see above",
	              name, WEXITSTATUS(status));
}

/* One loop iteration per check of check_manifests.py (its CHECKS table). */
static const char *const checks[] = {
    "crd-structure", "crd-contract", "chart-crds",    "helm-lint", "chart-metadata",
    "chart-render",  "chart-agrees", "kustomize",     "gateway",   "rbac-sync",
    "dashboard",     "examples",     "api-reference",
};

START_TEST(manifest_check)
{
	run_check(checks[_i]);
}
END_TEST

static Suite *manifests_suite(void)
{
	Suite *s = suite_create("manifests");
	TCase *tc = tcase_create("manifests");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, manifest_check, 0, (int)(sizeof(checks) / sizeof(*checks)));
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(manifests_suite)
