/* test_config.c - aios-serve's flags and AIOS_SERVE_* variables. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "serve/config.h"
#include "serve/source.h"

static enum aios_err parse(struct aios_serve_config *c, int *help, const char **args)
{
	char *argv[32] = {"aios-serve"};
	int argc = 1;
	for (int i = 0; args[i]; i++)
		argv[argc++] = (char *)args[i];
	return aios_serve_config_parse(c, argc, argv, help);
}

START_TEST(defaults_flags_and_env)
{
	struct aios_serve_config c;
	int help;
	const char *a1[] = {"--model", "/m.aios", "--name", "m", NULL};
	ck_assert_int_eq(parse(&c, &help, a1), AIOS_OK);
	ck_assert_int_eq(c.port, 8080);
	ck_assert_int_eq(c.threads, 2);
	ck_assert_int_eq(c.max_batch_size, 32);
	ck_assert_int_eq(c.queue_depth, 256);
	ck_assert_int_eq(c.quantize, AIOS_QUANT_NONE);
	setenv("AIOS_SERVE_THREADS", "4", 1);
	setenv("AIOS_SERVE_QUANTIZE", "int8", 1);
	setenv("AIOS_SERVE_PRUNE_SPARSITY", "0.5", 1);
	const char *a2[] = {
	    "--model", "/m.aios", "--name=m", "--threads", "8", "--max-batch-delay-us=500", NULL};
	ck_assert_int_eq(parse(&c, &help, a2), AIOS_OK);
	ck_assert_int_eq(c.threads, 8); /* the flag wins */
	ck_assert_int_eq(c.quantize, AIOS_QUANT_INT8);
	ck_assert_double_eq(c.prune_sparsity, 0.5);
	ck_assert_int_eq(c.max_batch_delay_us, 500);
	unsetenv("AIOS_SERVE_THREADS");
	unsetenv("AIOS_SERVE_QUANTIZE");
	unsetenv("AIOS_SERVE_PRUNE_SPARSITY");
	const char *a3[] = {"--help", NULL};
	ck_assert_int_eq(parse(&c, &help, a3), AIOS_OK);
	ck_assert_int_eq(help, 1);
}
END_TEST

START_TEST(refusals_name_the_flag)
{
	struct aios_serve_config c;
	int help;
	struct {
		const char *args[8];
		const char *needle;
	} cases[] = {
	    {{"--name", "m", NULL}, "--model"},
	    {{"--model", "/m", NULL}, "--name"},
	    {{"--model", "/m", "--name", "a/b", NULL}, "--name \"a/b\""},
	    {{"--model", "/m", "--name", "m", "--port", "70000", NULL}, "--port"},
	    {{"--model", "/m", "--name", "m", "--threads", "x", NULL}, "--threads: \"x\""},
	    {{"--model", "/m", "--name", "m", "--prune-sparsity", "1.5", NULL}, "--prune-sparsity"},
	    {{"--model", "/m", "--name", "m", "--quantize", "fp16", NULL}, "fp16"},
	    {{"--model", "/m", "--name", "m", "--tls-cert", "c", NULL}, "go together"},
	    {{"--model", "/m", "--name", "m", "--sha256", "abc", NULL}, "64 hex digits"},
	    {{"--model", "/m", "--name", "m", "--bogus", NULL}, "unknown argument \"--bogus\""},
	    {{"--model", NULL}, "--model needs a value"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(parse(&c, &help, cases[i].args), AIOS_ERR_INVALID);
		ck_assert_msg(strstr(aios_errmsg(), cases[i].needle),
		              "case %zu: \"%s\" lacks \"%s\"", i, aios_errmsg(), cases[i].needle);
	}
	setenv("AIOS_SERVE_PORT", "-1", 1);
	const char *ok[] = {"--model", "/m", "--name", "m", NULL};
	ck_assert_int_eq(parse(&c, &help, ok), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "AIOS_SERVE_PORT"));
	unsetenv("AIOS_SERVE_PORT");
}
END_TEST

START_TEST(local_paths)
{
	char p[256];
	ck_assert_int_eq(aios_source_local_path("file:///a/b.aios", p, sizeof p), AIOS_OK);
	ck_assert_str_eq(p, "/a/b.aios");
	ck_assert_int_eq(aios_source_local_path("rel/b.aios", p, sizeof p), AIOS_OK);
	ck_assert_str_eq(p, "rel/b.aios");
	setenv("AIOS_PVC_ROOT", "/vol", 1);
	ck_assert_int_eq(aios_source_local_path("pvc://claim/dir/m.aios", p, sizeof p), AIOS_OK);
	ck_assert_str_eq(p, "/vol/claim/dir/m.aios");
	unsetenv("AIOS_PVC_ROOT");
	ck_assert_int_eq(aios_source_local_path("pvc://claim/m.aios", p, sizeof p), AIOS_OK);
	ck_assert_str_eq(p, "/mnt/pvc/claim/m.aios");
	ck_assert_int_eq(aios_source_local_path("pvc://claim/../x", p, sizeof p), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_source_local_path("pvc://claim", p, sizeof p), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_source_local_path("file://rel", p, sizeof p), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_source_local_path("s3://b/k", p, sizeof p), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_source_local_path("pvc://c/a..b/m", p, sizeof p),
	                 AIOS_OK); /* not a segment */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_config");
	TCase *t = tcase_create("core");
	tcase_add_test(t, defaults_flags_and_env);
	tcase_add_test(t, refusals_name_the_flag);
	tcase_add_test(t, local_paths);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
