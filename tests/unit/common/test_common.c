/*
 * test_common.c - errors, bounded buffers, JSON getters, clock, hashing.
 */
#include <string.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/hash.h"
#include "common/json.h"

START_TEST(err_messages)
{
	ck_assert_str_eq(aios_strerror(AIOS_ERR_CONFLICT), "conflict");
	ck_assert_str_eq(aios_strerror((enum aios_err)999), "unknown error");
	ck_assert_int_eq(aios_fail(AIOS_ERR_GONE, "watch %s", "pods"), AIOS_ERR_GONE);
	ck_assert_int_eq(aios_fail_wrap(AIOS_ERR_GONE, "informer"), AIOS_ERR_GONE);
	ck_assert_str_eq(aios_errmsg(), "informer: watch pods");
}
END_TEST

START_TEST(buf_is_bounded)
{
	struct aios_buf b;
	aios_buf_init(&b, 10);
	ck_assert_int_eq(aios_buf_puts(&b, "hello"), AIOS_OK);
	ck_assert_int_eq(aios_buf_printf(&b, "%d", 12345), AIOS_OK);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_int_eq(aios_buf_puts(&b, "x"), AIOS_ERR_TOO_BIG);
	ck_assert_str_eq(b.data, "hello12345");
	aios_buf_consume(&b, 5);
	ck_assert_str_eq(b.data, "12345");
	char *s = aios_buf_take(&b);
	ck_assert_str_eq(s, "12345");
	free(s);
	ck_assert_ptr_null(b.data);
	aios_buf_cleanup(&b);
}
END_TEST

START_TEST(json_getters_name_the_path)
{
	const char *doc = "{\"spec\":{\"optimizer\":{\"epochs\":\"ten\",\"learningRate\":0.1},"
	                  "\"n\":3.0,\"ok\":true}}";
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(doc, strlen(doc), "test", &o), AIOS_OK);
	int64_t i;
	ck_assert_int_eq(aios_json_get_int(o, "spec.optimizer.epochs", &i), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.optimizer.epochs"));
	ck_assert_int_eq(aios_json_get_int(o, "spec.n", &i), AIOS_OK);
	ck_assert_int_eq(i, 3);
	double d;
	ck_assert_int_eq(aios_json_get_double(o, "spec.optimizer.learningRate", &d), AIOS_OK);
	ck_assert_double_eq_tol(d, 0.1, 1e-12);
	ck_assert_int_eq(aios_json_get_double(o, "spec.missing", &d), AIOS_ERR_NOT_FOUND);
	ck_assert_int_eq(aios_json_opt_double(o, "spec.missing", 2.5, &d), AIOS_OK);
	ck_assert_double_eq(d, 2.5);
	aios_json_set(o, "status.progress.epoch", json_object_new_int(4));
	ck_assert_int_eq(aios_json_get_int(o, "status.progress.epoch", &i), AIOS_OK);
	ck_assert_int_eq(i, 4);
	json_object_put(o);

	ck_assert_int_eq(aios_json_parse("{\"a\":", 5, "body", &o), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "body"));
	ck_assert_int_eq(aios_json_parse("{} x", 4, "body", &o), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_json_parse("3", 1, "bare", &o), AIOS_OK);
	ck_assert_int_eq(json_object_get_int(o), 3);
	json_object_put(o);
	ck_assert_int_eq(aios_json_parse("3 4", 3, "two", &o), AIOS_ERR_INVALID);
}
END_TEST

START_TEST(json_equal_compares_numbers_by_value)
{
	struct json_object *a, *b;
	ck_assert_int_eq(aios_json_parse("{\"x\":[2,{\"y\":1}]}", 17, "a", &a), AIOS_OK);
	ck_assert_int_eq(aios_json_parse("{\"x\":[2.0,{\"y\":1.0}]}", 21, "b", &b), AIOS_OK);
	ck_assert(aios_json_equal(a, b));
	json_object_put(b);
	ck_assert_int_eq(aios_json_parse("{\"x\":[2,{\"y\":1.5}]}", 19, "b", &b), AIOS_OK);
	ck_assert(!aios_json_equal(a, b));
	json_object_put(a);
	json_object_put(b);
}
END_TEST

START_TEST(json_depth_is_capped)
{
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 200);
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(deep, sizeof(deep), "deep", &o), AIOS_ERR_INVALID);
}
END_TEST

START_TEST(sha256_known_answer)
{
	uint8_t d[AIOS_SHA256_LEN];
	char hex[AIOS_SHA256_HEX];
	aios_sha256("abc", 3, d);
	aios_sha256_hex(d, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert(aios_sha256_hex_valid(hex));
	ck_assert(!aios_sha256_hex_valid("abc"));
}
END_TEST

START_TEST(rfc3339_round_trip)
{
	char s[32];
	aios_rfc3339(1700000000, s, sizeof(s));
	ck_assert_str_eq(s, "2023-11-14T22:13:20Z");
	ck_assert_int_eq(aios_rfc3339_parse(s), 1700000000);
	ck_assert_int_eq(aios_rfc3339_parse("2023-11-14T22:13:20.123Z"), 1700000000);
	ck_assert_int_eq(aios_rfc3339_parse("garbage"), -1);
	int64_t a = aios_now_ns();
	ck_assert(aios_now_ns() >= a);
}
END_TEST

static Suite *common_suite(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, err_messages);
	tcase_add_test(tc, buf_is_bounded);
	tcase_add_test(tc, json_getters_name_the_path);
	tcase_add_test(tc, json_depth_is_capped);
	tcase_add_test(tc, json_equal_compares_numbers_by_value);
	tcase_add_test(tc, sha256_known_answer);
	tcase_add_test(tc, rfc3339_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(common_suite)
