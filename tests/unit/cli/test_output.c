/*
 * test_output.c - kubectl's habits in kubectl-aios: -o formats, YAML, hints on errors,
 * completion candidates, and the wide table.
 */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "cli/output.h"
#include "cli/render.h"
#include "common/clock.h"
#include "common/json.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = NULL;
	ck_assert_int_eq(aios_json_parse(s, strlen(s), "test", &o), AIOS_OK);
	return o;
}

static const char *tj_json =
    "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\","
    "\"metadata\":{\"name\":\"linear\",\"namespace\":\"ml\",\"labels\":{\"v\":\"true\","
    "\"n\":\"0123\",\"e\":\"\"}},\"spec\":{\"model\":{\"type\":\"linear\",\"hidden\":[64,32]},"
    "\"optimizer\":{\"learningRate\":0.05,\"shuffle\":false}},\"status\":{\"phase\":\"Succeeded\","
    "\"note\":null}}";

START_TEST(format_names)
{
	enum aios_cli_format f;
	ck_assert_int_eq(aios_cli_format_parse(NULL, &f), AIOS_OK);
	ck_assert_int_eq(f, AIOS_CLI_TABLE);
	ck_assert_int_eq(aios_cli_format_parse("yaml", &f), AIOS_OK);
	ck_assert_int_eq(f, AIOS_CLI_YAML);
	ck_assert_int_eq(aios_cli_format_parse("name", &f), AIOS_OK);
	ck_assert_int_eq(f, AIOS_CLI_NAME);
	ck_assert_int_eq(aios_cli_format_parse("xml", &f), AIOS_ERR_INVALID);
	ck_assert_str_eq(aios_errmsg(),
	                 "unknown output format \"xml\": expected one of json, yaml, wide, name");
}
END_TEST

/* Block YAML in the object's key order; strings YAML would read as a boolean, a number or
 * null are quoted, so `kubectl apply` of the output gives back the same object. */
START_TEST(yaml_block_style_and_quoting)
{
	struct json_object *o = parse(tj_json);
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_int_eq(aios_cli_yaml(&b, o), AIOS_OK);
	const char *want = "apiVersion: aios.dev/v1alpha1\n"
	                   "kind: TrainingJob\n"
	                   "metadata:\n"
	                   "  name: linear\n"
	                   "  namespace: ml\n"
	                   "  labels:\n"
	                   "    v: 'true'\n"
	                   "    'n': '0123'\n"
	                   "    e: ''\n"
	                   "spec:\n"
	                   "  model:\n"
	                   "    type: linear\n"
	                   "    hidden:\n"
	                   "    - 64\n"
	                   "    - 32\n"
	                   "  optimizer:\n"
	                   "    learningRate: 0.05\n"
	                   "    shuffle: false\n"
	                   "status:\n"
	                   "  phase: Succeeded\n"
	                   "  note: null\n";
	ck_assert_msg(strstr(b.data, want) != NULL, "got:\n%s", b.data);
	aios_buf_cleanup(&b);
	json_object_put(o);
}
END_TEST

START_TEST(yaml_over_cap_fails_cleanly)
{
	struct json_object *o = parse(tj_json);
	struct aios_buf b;
	aios_buf_init(&b, 64);
	ck_assert_int_eq(aios_cli_yaml(&b, o), AIOS_ERR_TOO_BIG);
	aios_buf_cleanup(&b);
	json_object_put(o);
}
END_TEST

START_TEST(print_list_single_and_names)
{
	struct json_object *items = json_object_new_array();
	json_object_array_add(items, parse(tj_json));
	json_object_array_add(
	    items, parse("{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"ModelService\","
	                 "\"metadata\":{\"name\":\"linear\"}}"));
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_int_eq(aios_cli_print(&b, AIOS_CLI_NAME, items, 0), AIOS_OK);
	ck_assert_str_eq(b.data, "trainingjob.aios.dev/linear\nmodelservice.aios.dev/linear\n");

	aios_buf_reset(&b);
	ck_assert_int_eq(aios_cli_print(&b, AIOS_CLI_JSON, items, 0), AIOS_OK);
	struct json_object *list = parse(b.data);
	ck_assert_str_eq(aios_json_str(list, "kind"), "List");
	ck_assert_str_eq(aios_json_str(list, "apiVersion"), "v1");
	ck_assert_int_eq(json_object_array_length(aios_json_lookup(list, "items")), 2);
	json_object_put(list);

	/* one object asked for by name: printed alone */
	struct json_object *one = json_object_new_array();
	json_object_array_add(one, json_object_get(json_object_array_get_idx(items, 0)));
	aios_buf_reset(&b);
	ck_assert_int_eq(aios_cli_print(&b, AIOS_CLI_JSON, one, 1), AIOS_OK);
	struct json_object *obj = parse(b.data);
	ck_assert_str_eq(aios_json_str(obj, "kind"), "TrainingJob");
	ck_assert_str_eq(aios_json_str(obj, "metadata.name"), "linear");
	json_object_put(obj);
	aios_buf_reset(&b);
	ck_assert_int_eq(aios_cli_print(&b, AIOS_CLI_YAML, one, 1), AIOS_OK);
	ck_assert_msg(strncmp(b.data, "apiVersion: aios.dev/v1alpha1\nkind: TrainingJob\n", 48) ==
	                  0,
	              "%s", b.data);
	json_object_put(one);
	aios_buf_cleanup(&b);
	json_object_put(items);
}
END_TEST

START_TEST(hints_say_what_to_do)
{
	char h[512];
	ck_assert_ptr_nonnull(aios_cli_hint(AIOS_ERR_FORBIDDEN, "list", "trainingjobs.aios.dev",
	                                    "ml", "https://127.0.0.1:6443", h, sizeof(h)));
	ck_assert_str_eq(h,
	                 "you may not list trainingjobs.aios.dev in namespace ml: ask for a Role "
	                 "that grants it (kubectl auth can-i list trainingjobs.aios.dev -n ml)");
	ck_assert_ptr_nonnull(aios_cli_hint(AIOS_ERR_NOT_FOUND, "list", "modelservices.aios.dev",
	                                    "ml", NULL, h, sizeof(h)));
	ck_assert_ptr_nonnull(strstr(h, "the aios CRDs are not installed"));
	ck_assert_ptr_nonnull(aios_cli_hint(AIOS_ERR_UNAVAILABLE, "list", "trainingjobs.aios.dev",
	                                    NULL, "https://10.0.0.1:6443", h, sizeof(h)));
	ck_assert_ptr_nonnull(strstr(h, "cannot reach the API server at https://10.0.0.1:6443"));
	ck_assert_ptr_nonnull(aios_cli_hint(AIOS_ERR_FORBIDDEN, "list", "trainingjobs.aios.dev",
	                                    NULL, NULL, h, sizeof(h)));
	ck_assert_ptr_nonnull(strstr(h, "in all namespaces"));
	/* a named object that is missing is not a missing CRD */
	ck_assert_ptr_null(aios_cli_hint(AIOS_ERR_NOT_FOUND, "get", "trainingjobs.aios.dev", "ml",
	                                 NULL, h, sizeof(h)));
	ck_assert_ptr_null(aios_cli_hint(AIOS_ERR_INVALID, "get", "trainingjobs.aios.dev", "ml",
	                                 NULL, h, sizeof(h)));
}
END_TEST

static void complete(const char *line, const char *want, const char *want_names)
{
	char copy[256], *args[16];
	int n = 0;
	snprintf(copy, sizeof(copy), "%s", line);
	for (char *save = NULL, *w = strtok_r(copy, " ", &save); w && n < 15;
	     w = strtok_r(NULL, " ", &save))
		args[n++] = strcmp(w, "_") == 0 ? "" : w; /* "_": the empty word being completed */
	struct aios_buf b;
	aios_buf_init(&b, 1 << 16);
	const char *names = "unset";
	ck_assert_int_eq(aios_cli_complete(&b, args, n, &names), AIOS_OK);
	ck_assert_msg(strcmp(b.data ? b.data : "", want) == 0, "%s: got [%s] want [%s]", line,
	              b.data ? b.data : "", want);
	if (want_names)
		ck_assert_msg(names && strcmp(names, want_names) == 0, "%s: names %s", line,
		              names ? names : "NULL");
	else
		ck_assert_msg(names == NULL, "%s: names %s", line, names);
	aios_buf_cleanup(&b);
}

START_TEST(completion_candidates)
{
	complete("_", "get\nwatch\nlogs\npredict\ndashboard\ncompletion\nversion\n", NULL);
	complete("w", "watch\n", NULL);
	complete("get _", "tj\nms\n", NULL);
	complete("predict _", "ms\n", NULL);
	complete("get -o _", "json\nyaml\nwide\nname\n", NULL);
	complete("get --output y", "yaml\n", NULL);
	complete("-n ml logs tj _", "", "tj");
	complete("get --namespace ml ms li", "", "ms");
	complete("logs --a", "--all-namespaces\n", NULL);
	complete("completion _", "bash\nzsh\n", NULL);
}
END_TEST

START_TEST(wide_table_adds_detail)
{
	struct json_object *tjs =
	    parse("{\"items\":[{\"metadata\":{\"name\":\"linear\",\"creationTimestamp\":"
	          "\"2026-11-29T01:00:00Z\"},\"status\":{\"phase\":\"Succeeded\",\"attempts\":2,"
	          "\"artifact\":{\"uri\":\"pvc://models/"
	          "l.aios\",\"sha256\":\"2c971a08f35b20de97efe2\"}}}]}");
	struct json_object *mss =
	    parse("{\"items\":[{\"metadata\":{\"name\":\"svc\",\"creationTimestamp\":"
	          "\"2026-11-29T01:00:00Z\"},\"status\":{\"phase\":\"Ready\",\"readyReplicas\":1,"
	          "\"desiredReplicas\":1,\"metrics\":{\"rps\":120.5,\"latencyP99Ms\":3.25,"
	          "\"concurrency\":0.5}}}]}");
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	time_t now = aios_rfc3339_parse("2026-11-29T01:05:00Z");
	ck_assert_int_eq(aios_cli_table(&b, tjs, mss, AIOS_CLI_WIDER, now), AIOS_OK);
	ck_assert_msg(strstr(b.data, "attempts=2 artifact=pvc://models/l.aios sha256=2c971a08f35b"),
	              "%s", b.data);
	ck_assert_msg(strstr(b.data, "rps=120.5 p99=3.25ms concurrency=0.5 sha256=-"), "%s",
	              b.data);
	aios_buf_reset(&b);
	ck_assert_int_eq(aios_cli_table(&b, tjs, mss, 0, now), AIOS_OK);
	ck_assert_ptr_null(strstr(b.data, "attempts="));
	aios_buf_cleanup(&b);
	json_object_put(tjs);
	json_object_put(mss);
}
END_TEST

static Suite *output_suite(void)
{
	Suite *s = suite_create("cli_output");
	TCase *tc = tcase_create("output");
	tcase_add_test(tc, format_names);
	tcase_add_test(tc, yaml_block_style_and_quoting);
	tcase_add_test(tc, yaml_over_cap_fails_cleanly);
	tcase_add_test(tc, print_list_single_and_names);
	tcase_add_test(tc, hints_say_what_to_do);
	tcase_add_test(tc, completion_candidates);
	tcase_add_test(tc, wide_table_adds_detail);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(output_suite)
