/*
 * test_trainingjob_view.c - a TrainingJob read into C structs (trainingjob_view.c): the
 * status decoded field by field and encoded back equal (a status nothing changed is not
 * written), absent fields kept absent, unknown fields carried, and the view of a job.
 */
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/trainingjob.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* decode then encode gives JSON equal to the input */
static void round_trip(const char *text)
{
	struct json_object *in = parse(text);
	struct aios_tj_status st;
	aios_tj_status_decode(in, &st);
	struct json_object *out = aios_tj_status_encode(&st);
	ck_assert_msg(aios_json_equal(in, out), "%s\nbecame\n%s", text,
	              json_object_to_json_string(out));
	json_object_put(out);
	aios_tj_status_cleanup(&st);
	json_object_put(in);
}

START_TEST(full_status_round_trips)
{
	round_trip("{\"phase\":\"Running\",\"observedGeneration\":3,\"attempts\":2,"
	           "\"startTime\":\"2027-01-15T08:00:00Z\","
	           "\"workers\":{\"active\":2,\"succeeded\":0,\"failed\":0},"
	           "\"progress\":{\"epoch\":4,\"epochs\":10,\"loss\":0.25,"
	           "\"validationLoss\":0.5,\"accuracy\":0.9,\"samplesPerSecond\":1234.5,"
	           "\"percent\":40,\"etaSeconds\":60},"
	           "\"conditions\":[{\"type\":\"Running\",\"status\":\"True\","
	           "\"reason\":\"AllRanksRunning\",\"message\":\"all 2 ranks running\","
	           "\"observedGeneration\":3,"
	           "\"lastTransitionTime\":\"2027-01-15T08:00:05Z\"}]}");
	round_trip("{\"phase\":\"Succeeded\",\"observedGeneration\":1,\"attempts\":1,"
	           "\"startTime\":\"2027-01-15T08:00:00Z\","
	           "\"completionTime\":\"2027-01-15T09:00:00Z\","
	           "\"artifact\":{\"uri\":\"pvc://m/a.aios\",\"sha256\":\"ab12\",\"bytes\":99,"
	           "\"onnx\":{\"uri\":\"pvc://m/a.onnx\",\"bytes\":7},\"generation\":1}}");
}
END_TEST

START_TEST(absent_fields_stay_absent)
{
	round_trip("{}");
	round_trip("{\"phase\":\"Pending\"}");
	round_trip("{\"progress\":{}}");
	round_trip("{\"conditions\":[]}");
	round_trip("{\"artifact\":{\"uri\":\"file:///m\",\"generation\":2}}");
	round_trip("{\"progress\":{\"loss\":1}}"); /* an integral double comes back as int */

	struct aios_tj_status st;
	aios_tj_status_decode(NULL, &st);
	ck_assert_int_eq(st.phase, AIOS_TJ_PHASE_NONE);
	ck_assert(!st.has_observed && !st.has_attempts && !st.has_workers);
	ck_assert(st.start_time == -1 && st.completion_time == -1);
	ck_assert(!st.progress.present && !st.artifact.present && !st.had_conditions);
	struct json_object *out = aios_tj_status_encode(&st);
	ck_assert_int_eq(json_object_object_length(out), 0);
	json_object_put(out);
	aios_tj_status_cleanup(&st);
}
END_TEST

START_TEST(unknown_fields_are_carried)
{
	/* a search's fields are not planned on here: they come back unchanged */
	round_trip("{\"phase\":\"Running\",\"trials\":[{\"name\":\"t0\",\"phase\":\"Running\","
	           "\"parameters\":{\"learningRate\":0.1}}],"
	           "\"best\":{\"trial\":\"t0\",\"objective\":0.5},\"somethingNew\":true}");
}
END_TEST

START_TEST(decoded_fields_have_their_values)
{
	struct json_object *in = parse(
	    "{\"phase\":\"Restarting\",\"observedGeneration\":4,\"attempts\":3,"
	    "\"startTime\":\"2027-01-15T08:00:00Z\",\"workers\":{\"active\":1,\"succeeded\":2,"
	    "\"failed\":1},\"progress\":{\"epoch\":2,\"loss\":0.125},"
	    "\"artifact\":{\"uri\":\"pvc://m/a\"},\"attempts_x\":1,\"trials\":[]}");
	struct aios_tj_status st;
	aios_tj_status_decode(in, &st);
	ck_assert_int_eq(st.phase, AIOS_TJ_PHASE_RESTARTING);
	ck_assert(st.has_observed && st.observed_generation == 4);
	ck_assert(st.has_attempts && st.attempts == 3);
	ck_assert(st.start_time == 1800000000 && st.completion_time == -1);
	ck_assert(st.has_workers && st.active == 1 && st.succeeded == 2 && st.failed == 1);
	ck_assert(st.progress.present);
	ck_assert_uint_eq(st.progress.have, AIOS_TJ_PR_EPOCH | AIOS_TJ_PR_LOSS);
	ck_assert(st.progress.epoch == 2 && st.progress.loss == 0.125);
	ck_assert(st.artifact.present && !st.artifact.has_onnx && !st.artifact.has_generation);
	ck_assert_str_eq(st.artifact.file.uri, "pvc://m/a");
	ck_assert_ptr_null(st.artifact.file.sha256);
	ck_assert(st.artifact.file.bytes == -1);
	ck_assert_int_eq(json_object_object_length(st.rest), 2); /* attempts_x, trials */
	json_object_put(in);
	aios_tj_status_cleanup(&st);
}
END_TEST

START_TEST(wrong_types_read_as_absent)
{
	struct json_object *in =
	    parse("{\"phase\":\"Dancing\",\"attempts\":\"two\",\"startTime\":\"yesterday\","
	          "\"workers\":{\"active\":1},\"progress\":[1],\"artifact\":\"x\"}");
	struct aios_tj_status st;
	aios_tj_status_decode(in, &st);
	ck_assert_int_eq(st.phase, AIOS_TJ_PHASE_NONE);
	ck_assert(!st.has_attempts && st.start_time == -1 && !st.has_workers);
	ck_assert(!st.progress.present && !st.artifact.present);
	ck_assert_int_eq(json_object_object_length(st.rest), 0);
	json_object_put(in);
	aios_tj_status_cleanup(&st);
}
END_TEST

START_TEST(edited_struct_encodes_the_edit)
{
	struct json_object *in = parse("{\"phase\":\"Running\",\"attempts\":1,"
	                               "\"progress\":{\"epoch\":1}}");
	struct aios_tj_status st;
	aios_tj_status_decode(in, &st);
	st.phase = AIOS_TJ_PHASE_SUCCEEDED;
	st.completion_time = 1800000060;
	st.progress.have |= AIOS_TJ_PR_PERCENT;
	st.progress.percent = 100;
	st.artifact.present = 1;
	st.artifact.file.uri = strdup("pvc://m/a");
	st.artifact.file.bytes = -1;
	struct json_object *out = aios_tj_status_encode(&st);
	struct json_object *want = parse(
	    "{\"phase\":\"Succeeded\",\"attempts\":1,\"completionTime\":\"2027-01-15T08:01:00Z\","
	    "\"progress\":{\"epoch\":1,\"percent\":100},\"artifact\":{\"uri\":\"pvc://m/a\"}}");
	ck_assert_msg(aios_json_equal(out, want), "%s", json_object_to_json_string(out));
	json_object_put(want);
	json_object_put(out);
	json_object_put(in);
	aios_tj_status_cleanup(&st);
}
END_TEST

START_TEST(phase_names)
{
	for (int p = AIOS_TJ_PHASE_PENDING; p <= AIOS_TJ_PHASE_SUSPENDED; p++)
		ck_assert_int_eq(aios_tj_phase_parse(aios_tj_phase_name(p)), p);
	ck_assert_str_eq(aios_tj_phase_name(AIOS_TJ_PHASE_NONE), "");
	ck_assert_int_eq(aios_tj_phase_parse(NULL), AIOS_TJ_PHASE_NONE);
	ck_assert_int_eq(aios_tj_phase_parse("running"), AIOS_TJ_PHASE_NONE);
}
END_TEST

START_TEST(view_of_a_job)
{
	struct json_object *job =
	    parse("{\"metadata\":{\"name\":\"j\",\"generation\":2},"
	          "\"spec\":{\"model\":{\"type\":\"linear\"},\"distributed\":{\"workers\":2},"
	          "\"output\":{\"uri\":\"pvc://m/j.aios\"}},\"status\":{\"attempts\":1}}");
	struct aios_tj_view v;
	ck_assert_int_eq(aios_tj_view_init(&v, job), AIOS_OK);
	ck_assert_str_eq(v.name, "j");
	ck_assert(v.generation == 2 && !v.deleting && v.spec_ok && !v.search);
	ck_assert_int_eq(v.spec.world, 2);
	ck_assert_str_eq(v.output_uri, "pvc://m/j.aios");
	ck_assert_uint_gt(v.spec_json_len, 10);
	ck_assert(v.status.has_attempts && v.status.attempts == 1);
	aios_tj_view_cleanup(&v);

	aios_json_set(job, "spec.distributed.workers", json_object_new_int(0));
	ck_assert_int_eq(aios_tj_view_init(&v, job), AIOS_OK);
	ck_assert(!v.spec_ok);
	ck_assert_ptr_nonnull(strstr(v.spec_error, "workers"));
	aios_tj_view_cleanup(&v);

	json_object_object_del(aios_json_lookup(job, "metadata"), "name");
	ck_assert_int_eq(aios_tj_view_init(&v, job), AIOS_ERR_INVALID);
	json_object_put(job);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trainingjob_view");
	TCase *tc = tcase_create("view");
	tcase_add_test(tc, full_status_round_trips);
	tcase_add_test(tc, absent_fields_stay_absent);
	tcase_add_test(tc, unknown_fields_are_carried);
	tcase_add_test(tc, decoded_fields_have_their_values);
	tcase_add_test(tc, wrong_types_read_as_absent);
	tcase_add_test(tc, edited_struct_encodes_the_edit);
	tcase_add_test(tc, phase_names);
	tcase_add_test(tc, view_of_a_job);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
