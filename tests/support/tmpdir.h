/*
 * tmpdir.h - a test's scratch directory, gone when the test ends, even when it fails.
 *
 * Check forks each test and ends a failed test's child with _exit (no atexit handler
 * runs), or kills it at its timeout, so a child cannot be trusted to clean up after
 * itself. The parent process can: aios_test_tmpdir_fixture makes one root directory,
 * /tmp/<program>-XXXXXX, before a TCase's tests run and removes it with everything in it
 * after they ran. Each test makes its own directory inside the root (aios_test_tmpdir)
 * and removes it in its teardown (aios_test_tmpdir_remove), so passing tests leave
 * nothing behind while the others run, and CK_FORK=no (the valgrind runs, one process
 * for every test) does not pile directories up either. Only a killed test program (a
 * ctest timeout) leaves its root.
 */
#ifndef AIOS_TEST_TMPDIR_H
#define AIOS_TEST_TMPDIR_H

#include <check.h>
#include <stddef.h>

/* Adds the root's unchecked fixture to tc (once per TCase that uses aios_test_tmpdir). */
void aios_test_tmpdir_fixture(TCase *tc);

/*
 * Makes <root>/<prefix>-XXXXXX (mkdtemp) into out (size bytes); call it from a test or
 * its checked setup. Fails the test loudly when there is no root (the fixture is
 * missing) or the directory cannot be made.
 */
void aios_test_tmpdir(const char *prefix, char *out, size_t size);

/* "dir/name" followed by ext (may be ""), in one of 16 static buffers reused in turn, so
 * a call may hold a few paths at once. Fails the test when the path does not fit. */
const char *aios_test_tmpdir_file(const char *dir, const char *name, const char *ext);

/* Removes dir and everything below it now; a test failure when something cannot be
 * removed. "" is a no-op. */
void aios_test_tmpdir_remove(const char *dir);

#endif
