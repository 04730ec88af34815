/*
 * test_quiet.c - bench/lib/quiet.sh, the rule every benchmark follows: figures are
 * written into docs/ only when the 1-minute load average stayed at or below 1.0 for the
 * whole run. Each test runs a tiny benchmark script against a load average read from a
 * file it controls (AIOS_BENCH_LOADAVG), sampled every 0.2 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check_main.h"
#include "support/tmpdir.h"

static char dir[512];

static void setup(void)
{
	aios_test_tmpdir("aios-quiet", dir, sizeof(dir));
}

static void teardown(void)
{
	aios_test_tmpdir_remove(dir);
	dir[0] = '\0';
}

static void write_file(const char *name, const char *text)
{
	char path[640];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Contents of dir/name into buf ("" when the file does not exist). */
static void read_file(const char *name, char *buf, size_t size)
{
	char path[640];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/*
 * Writes a benchmark script that sets a cleanup trap, starts the quiet check, prints a
 * figure, runs body (shell text), and runs it with the load file at `load` and, when
 * record is set, AIOS_BENCH_RECORD=dir/doc.md. Returns the script's exit code; its
 * output is in dir/out.
 */
static int run_bench(const char *load, const char *body, int record)
{
	const char *src = getenv("AIOS_SOURCE_DIR");
	ck_assert_msg(src != NULL, "AIOS_SOURCE_DIR must be set (ctest sets it)");
	char script[2048];
	snprintf(script, sizeof(script),
	         "trap 'echo cleanup >> %s/cleanup' EXIT\n"
	         "source %s/bench/lib/quiet.sh\n"
	         "bench_quiet_begin unit\n"
	         "echo '| figure | 42 |'\n"
	         "%s\n",
	         dir, src, body);
	write_file("bench.sh", script);
	write_file("loadavg", load);
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && AIOS_BENCH_SAMPLE_S=0.2 AIOS_BENCH_LOADAVG=%s/loadavg %s%s%s "
	         "bash bench.sh > out 2>&1",
	         dir, dir, record ? "AIOS_BENCH_RECORD=" : "", record ? dir : "",
	         record ? "/doc.md" : "");
	int st = system(cmd);
	ck_assert_msg(WIFEXITED(st), "the benchmark script did not exit");
	return WEXITSTATUS(st);
}

START_TEST(quiet_run_is_recorded)
{
	ck_assert_int_eq(run_bench("0.42 0.30 0.20 1/100 1\n", "true", 1), 0);
	char doc[8192], out[8192], cleanup[64];
	read_file("doc.md", doc, sizeof(doc));
	read_file("out", out, sizeof(out));
	read_file("cleanup", cleanup, sizeof(cleanup));
	ck_assert_msg(strstr(doc, "| figure | 42 |") != NULL, "figure missing from the page:\n%s",
	              doc);
	ck_assert_msg(strstr(doc, "bench: QUIET (peak 1-minute load 0.42 <= 1.0)") != NULL,
	              "verdict missing from the page:\n%s", doc);
	ck_assert_msg(strstr(doc, "load average 0.42 0.30 0.20") != NULL, "load missing:\n%s", doc);
	ck_assert_msg(strstr(out, "figures appended to") != NULL, "%s", out);
	ck_assert_str_eq(cleanup, "cleanup\n"); /* the script's own trap still ran, once */
}
END_TEST

/* The load rises while the benchmark runs and falls again before it ends: the sampler's
 * peak, not the last reading, decides. */
START_TEST(load_during_run_refuses_record)
{
	char body[512];
	snprintf(body, sizeof(body),
	         "echo '2.50 1.0 1.0 1/1 1' > %s/loadavg; sleep 1; echo '0.10 0.1 0.1 1/1 1' > "
	         "%s/loadavg; true",
	         dir, dir);
	ck_assert_int_eq(run_bench("0.10 0.10 0.10 1/100 1\n", body, 1), 3);
	char doc[64], out[8192];
	read_file("doc.md", doc, sizeof(doc));
	read_file("out", out, sizeof(out));
	ck_assert_str_eq(doc, "");
	ck_assert_msg(strstr(out, "bench: NOT QUIET (peak 1-minute load 2.50 > 1.0)") != NULL, "%s",
	              out);
	ck_assert_msg(strstr(out, "refusing to write into") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "| figure | 42 |") != NULL, "figures are still printed:\n%s",
	              out);
}
END_TEST

START_TEST(loud_run_without_record_prints_marked)
{
	ck_assert_int_eq(run_bench("1.01 0.5 0.5 1/100 1\n", "true", 0), 0);
	char out[8192];
	read_file("out", out, sizeof(out));
	ck_assert_msg(strstr(out, "bench: NOT QUIET (peak 1-minute load 1.01 > 1.0)") != NULL, "%s",
	              out);
}
END_TEST

START_TEST(failed_run_keeps_its_code_and_writes_nothing)
{
	ck_assert_int_eq(run_bench("0.10 0.1 0.1 1/100 1\n", "exit 7", 1), 7);
	char doc[64];
	read_file("doc.md", doc, sizeof(doc));
	ck_assert_str_eq(doc, "");
}
END_TEST

static Suite *quiet_suite(void)
{
	Suite *s = suite_create("bench_quiet");
	TCase *tc = tcase_create("quiet");
	tcase_set_timeout(tc, 60);
	aios_test_tmpdir_fixture(tc);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, quiet_run_is_recorded);
	tcase_add_test(tc, load_during_run_refuses_record);
	tcase_add_test(tc, loud_run_without_record_prints_marked);
	tcase_add_test(tc, failed_run_keeps_its_code_and_writes_nothing);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(quiet_suite)
