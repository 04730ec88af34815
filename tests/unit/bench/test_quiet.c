/*
 * test_quiet.c - bench/lib/quiet.sh, the rule every benchmark follows: figures are
 * written into docs/ only when the 1-minute load average was at or below 1.0 at the start
 * and processes that are not the benchmark's own used at most a tenth of a CPU during
 * the run. Each test runs a tiny benchmark script against a load average and a process
 * table it controls (AIOS_BENCH_LOADAVG, AIOS_BENCH_PROC: a stat file and PID/stat
 * files), sampled every 0.2 s.
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

/* The shell text that writes the fake process table: the machine's busy ticks and one
 * process (pid 777, started at boot, parent 1) named comm with utime ticks. */
static void proc_text(char *out, size_t size, long busy, const char *comm, long utime)
{
	snprintf(out, size,
	         "mkdir -p %s/proc/777; echo 'cpu  %ld 0 0 100000 0 0 0 0 0 0' > %s/proc/stat; "
	         "echo '777 (%s) S 1 777 777 0 -1 0 0 0 0 0 %ld 0 0 0 20 0 1 0 0 1000 10' > "
	         "%s/proc/777/stat",
	         dir, busy, dir, comm, utime, dir);
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
	char proc[1024];
	proc_text(proc, sizeof(proc), 5000, "sshd", 10); /* an idle process of the machine */
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && %s && AIOS_BENCH_SAMPLE_S=0.2 AIOS_BENCH_LOADAVG=%s/loadavg "
	         "AIOS_BENCH_PROC=%s/proc %s%s%s bash bench.sh > out 2>&1",
	         dir, proc, dir, dir, record ? "AIOS_BENCH_RECORD=" : "", record ? dir : "",
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
	ck_assert_msg(strstr(doc, "bench: QUIET (1-minute load 0.42 <= 1.0 at the start, other "
	                          "processes 0.00 CPUs <= 0.10)") != NULL,
	              "verdict missing from the page:\n%s", doc);
	ck_assert_msg(strstr(doc, "load average 0.42 0.30 0.20") != NULL, "load missing:\n%s", doc);
	ck_assert_msg(strstr(out, "figures appended to") != NULL, "%s", out);
	ck_assert_str_eq(cleanup, "cleanup\n"); /* the script's own trap still ran, once */
}
END_TEST

/* The benchmark's own work lifts the load to 2.5 (two busy cores) and the machine's busy
 * ticks with it, all of it in a part named in AIOS_BENCH_OWN: still quiet, and the peak
 * is printed. */
START_TEST(own_load_is_not_held_against_it)
{
	char proc[1024], body[2048];
	proc_text(proc, sizeof(proc), 5000 + 300, "kube-apiserver", 10 + 300);
	snprintf(body, sizeof(body),
	         "echo '2.50 1.0 1.0 1/1 1' > %s/loadavg; %s; sleep 1; echo '0.10 0.1 0.1 1/1 1' > "
	         "%s/loadavg; true",
	         dir, proc, dir);
	setenv("AIOS_BENCH_OWN", "kube-apiserver etcd", 1);
	int rc = run_bench("0.10 0.10 0.10 1/100 1\n", body, 1);
	unsetenv("AIOS_BENCH_OWN");
	char out[8192];
	read_file("out", out, sizeof(out));
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	ck_assert_msg(strstr(out, "bench: QUIET (1-minute load 0.10 <= 1.0 at the start") != NULL,
	              "%s", out);
	ck_assert_msg(strstr(out, "(peak 2.50, the benchmark's own load included)") != NULL, "%s",
	              out);
}
END_TEST

/* A compiler that was running before the benchmark started uses 3 CPU-seconds during it:
 * not quiet, the compiler named, nothing recorded, the figures still printed. */
START_TEST(foreign_cpu_refuses_record)
{
	char proc[1024], body[2048];
	proc_text(proc, sizeof(proc), 5000 + 300, "cc1plus", 10 + 300);
	snprintf(body, sizeof(body), "sleep 0.5; %s; sleep 0.5; true", proc);
	ck_assert_int_eq(run_bench("0.10 0.10 0.10 1/100 1\n", body, 1), 3);
	char doc[64], out[8192];
	read_file("doc.md", doc, sizeof(doc));
	read_file("out", out, sizeof(out));
	ck_assert_str_eq(doc, "");
	ck_assert_msg(strstr(out, "bench: NOT QUIET (other processes used") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "cc1plus 3.0 s") != NULL, "the compiler is not named:\n%s", out);
	ck_assert_msg(strstr(out, "refusing to write into") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "| figure | 42 |") != NULL, "figures are still printed:\n%s",
	              out);
}
END_TEST

/* The machine was busy with processes that came and went between two samples: their
 * ticks are in the machine's busy count but in no process' line, and they count. */
START_TEST(short_lived_foreign_work_counts)
{
	char proc[1024], body[2048];
	proc_text(proc, sizeof(proc), 5000 + 200, "sshd", 10);
	snprintf(body, sizeof(body), "sleep 0.5; %s; sleep 0.5; true", proc);
	ck_assert_int_eq(run_bench("0.10 0.10 0.10 1/100 1\n", body, 0), 0);
	char out[8192];
	read_file("out", out, sizeof(out));
	ck_assert_msg(strstr(out, "bench: NOT QUIET (other processes used") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "(short-lived) 2.0 s") != NULL, "%s", out);
}
END_TEST

START_TEST(loud_start_without_record_prints_marked)
{
	ck_assert_int_eq(run_bench("1.01 0.5 0.5 1/100 1\n", "true", 0), 0);
	char out[8192];
	read_file("out", out, sizeof(out));
	ck_assert_msg(strstr(out, "bench: NOT QUIET (1-minute load 1.01 > 1.0 at the start)") !=
	                  NULL,
	              "%s", out);
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
	tcase_add_test(tc, own_load_is_not_held_against_it);
	tcase_add_test(tc, foreign_cpu_refuses_record);
	tcase_add_test(tc, short_lived_foreign_work_counts);
	tcase_add_test(tc, loud_start_without_record_prints_marked);
	tcase_add_test(tc, failed_run_keeps_its_code_and_writes_nothing);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(quiet_suite)
