/*
 * test_images.c - runs check_images.sh: the Dockerfiles agree with the build (targets,
 * COPY paths, libraries) and with the pod security context the operator renders.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check_main.h"

START_TEST(dockerfiles_agree_with_build)
{
	const char *src = getenv("AIOS_SOURCE_DIR"), *build = getenv("AIOS_BUILD_DIR");
	ck_assert_msg(src && build,
	              "AIOS_SOURCE_DIR and AIOS_BUILD_DIR must be set (ctest sets them)");
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "bash %s/tests/unit/images/check_images.sh %s %s", src, src,
	         build);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *images_suite(void)
{
	Suite *s = suite_create("images");
	TCase *tc = tcase_create("dockerfiles");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, dockerfiles_agree_with_build);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(images_suite)
