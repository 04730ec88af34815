/*
 * check_main.h - the main() every Check test program shares.
 *
 * A test file builds its Suite and ends with AIOS_CHECK_MAIN(my_suite). The program
 * exits 0 only when every test passed; CK_FORK follows Check's default (fork per
 * test) unless the environment says otherwise (valgrind runs set CK_FORK=no).
 */
#ifndef AIOS_CHECK_MAIN_H
#define AIOS_CHECK_MAIN_H

#include <check.h>

int aios_check_run(Suite *s);

#define AIOS_CHECK_MAIN(suite_fn)                                                                  \
	int main(void)                                                                             \
	{                                                                                          \
		return aios_check_run(suite_fn());                                                 \
	}

/* Path of a file under the source tree (tests/fixtures/..., examples/...); the result
 * lives in one of 8 per-thread buffers reused in turn. */
const char *aios_test_path(const char *rel);
/* Kubeconfig of the integration API server, or fails the calling test loudly. */
const char *aios_test_kubeconfig(void);

#endif
