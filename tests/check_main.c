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
	/* A ring of buffers, so that several paths can be live in one call's arguments. */
	static _Thread_local char paths[8][4096];
	static _Thread_local unsigned next;
	char *path = paths[next++ % 8];
	const char *root = getenv("AIOS_SOURCE_DIR");
	snprintf(path, sizeof(paths[0]), "%s/%s", root ? root : ".", rel);
	return path;
}

const char *aios_test_kubeconfig(void)
{
	const char *k = getenv("AIOS_TEST_KUBECONFIG");
	if (!k || !*k) {
		fprintf(stderr,
		        "AIOS_TEST_KUBECONFIG is not set: integration tests need the API "
		        "server that scripts/test.sh starts (tests/cluster/apiserver.sh)\n");
		exit(2);
	}
	return k;
}
