/*
 * check_main.c - shared runner for Check test programs (see check_main.h).
 */
#include "check_main.h"

#include <stdio.h>
#include <stdlib.h>

int aios_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

const char *aios_test_path(const char *rel)
{
	static _Thread_local char path[4096];
	const char *root = getenv("AIOS_SOURCE_DIR");
	snprintf(path, sizeof(path), "%s/%s", root ? root : ".", rel);
	return path;
}

const char *aios_test_kubeconfig(void)
{
	const char *k = getenv("AIOS_TEST_KUBECONFIG");
	if (!k || !*k) {
		fprintf(stderr, "AIOS_TEST_KUBECONFIG is not set: integration tests need the API "
				"server that scripts/test.sh starts (tests/cluster/apiserver.sh)\n");
		exit(2);
	}
	return k;
}
