/*
 * tmpdir.c - scratch directories removed at the end of a test (tmpdir.h).
 */
#include "support/tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The root of the running TCase, made and removed by the parent process; "" outside. */
static char g_root[256];

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT) {
		fprintf(stderr, "tmpdir: cannot remove %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* 0 when dir and everything below it are gone (or were never there). */
static int rm_tree(const char *dir)
{
	if (access(dir, F_OK) != 0 && errno == ENOENT)
		return 0;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void root_setup(void)
{
	snprintf(g_root, sizeof(g_root), "/tmp/%s-XXXXXX", program_invocation_short_name);
	ck_assert_msg(mkdtemp(g_root) != NULL, "tmpdir: mkdtemp %s: %s", g_root, strerror(errno));
}

static void root_teardown(void)
{
	if (g_root[0] && rm_tree(g_root) != 0)
		fprintf(stderr, "tmpdir: %s is left behind\n", g_root);
	g_root[0] = 0;
}

void aios_test_tmpdir_fixture(TCase *tc)
{
	tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
}

void aios_test_tmpdir(const char *prefix, char *out, size_t size)
{
	ck_assert_msg(g_root[0], "tmpdir: no root directory: add aios_test_tmpdir_fixture(tc)");
	int n = snprintf(out, size, "%s/%s-XXXXXX", g_root, prefix);
	ck_assert_msg(n > 0 && (size_t)n < size, "tmpdir: %s/%s-XXXXXX does not fit in %zu bytes",
	              g_root, prefix, size);
	ck_assert_msg(mkdtemp(out) != NULL, "tmpdir: mkdtemp %s: %s", out, strerror(errno));
}

const char *aios_test_tmpdir_file(const char *dir, const char *name, const char *ext)
{
	static char bufs[16][512];
	static int turn;
	char *p = bufs[turn++ % 16];
	int n = snprintf(p, sizeof bufs[0], "%s/%s%s", dir, name, ext);
	ck_assert_msg(n > 0 && (size_t)n < sizeof bufs[0], "tmpdir: %s/%s%s is too long", dir, name,
	              ext);
	return p;
}

void aios_test_tmpdir_remove(const char *dir)
{
	if (dir[0])
		ck_assert_msg(rm_tree(dir) == 0, "tmpdir: cannot remove %s", dir);
}
