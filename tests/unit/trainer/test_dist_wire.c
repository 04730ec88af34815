/*
 * test_dist_wire.c - the distributed frame format and the environment contract:
 * round trips, every corrupted header byte refused, caps enforced, truncation caught,
 * AIOS_* variables parsed with errors that name the variable.
 */
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "trainer/dist_rendezvous.h"
#include "trainer/dist_wire.h"

static struct aios_dist_header sample(void)
{
	struct aios_dist_header h = {.version = AIOS_DIST_VERSION,
	                             .type = AIOS_DIST_DATA,
	                             .attempt = 3,
	                             .sender = 2,
	                             .tag = 0xdeadbeef,
	                             .payload_len = 8};
	return h;
}

START_TEST(header_round_trip)
{
	struct aios_dist_header h = sample(), back;
	uint8_t buf[AIOS_DIST_HEADER_LEN + 8];
	aios_dist_header_encode(&h, buf);
	memcpy(buf + AIOS_DIST_HEADER_LEN, "payload!", 8);
	/* the documented layout: magic "AIDW", little-endian fields */
	ck_assert_int_eq(memcmp(buf, "AIDW", 4), 0);
	ck_assert_int_eq(buf[6], AIOS_DIST_DATA);
	ck_assert_int_eq(buf[16], 0xef);
	const uint8_t *payload;
	size_t used;
	ck_assert_int_eq(aios_dist_frame_decode(buf, sizeof(buf), 1024, &back, &payload, &used),
	                 AIOS_OK);
	ck_assert_uint_eq(used, sizeof(buf));
	ck_assert_uint_eq(back.tag, 0xdeadbeef);
	ck_assert_uint_eq(back.attempt, 3);
	ck_assert_uint_eq(back.sender, 2);
	ck_assert_int_eq(memcmp(payload, "payload!", 8), 0);
	/* known CRC-32 check value */
	ck_assert_uint_eq(aios_dist_crc32("123456789", 9), 0xcbf43926u);
}
END_TEST

START_TEST(every_flipped_header_bit_is_refused)
{
	struct aios_dist_header h = sample(), back;
	uint8_t buf[AIOS_DIST_HEADER_LEN];
	aios_dist_header_encode(&h, buf);
	for (int i = 0; i < (int)AIOS_DIST_HEADER_LEN * 8; i++) {
		uint8_t bad[AIOS_DIST_HEADER_LEN];
		memcpy(bad, buf, sizeof(bad));
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		enum aios_err e = aios_dist_header_decode(bad, 1024, &back);
		ck_assert_msg(e == AIOS_ERR_CORRUPT, "bit %d: got %d", i, e);
	}
}
END_TEST

START_TEST(version_type_and_size_are_checked)
{
	struct aios_dist_header h = sample(), back;
	uint8_t buf[AIOS_DIST_HEADER_LEN];
	h.version = 1; /* before the authenticated handshake */
	aios_dist_header_encode(&h, buf);
	ck_assert_int_eq(aios_dist_header_decode(buf, 1024, &back), AIOS_ERR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "version 1, this build speaks 2"));
	h = sample();
	h.type = 99;
	aios_dist_header_encode(&h, buf);
	ck_assert_int_eq(aios_dist_header_decode(buf, 1024, &back), AIOS_ERR_PROTOCOL);
	h = sample();
	h.payload_len = 1025;
	aios_dist_header_encode(&h, buf);
	ck_assert_int_eq(aios_dist_header_decode(buf, 1024, &back), AIOS_ERR_TOO_BIG);
	ck_assert_int_eq(aios_dist_header_decode(buf, 1025, &back), AIOS_OK);
	/* the receiver's cap never exceeds the global one */
	h.payload_len = AIOS_DIST_MAX_PAYLOAD + 1u;
	aios_dist_header_encode(&h, buf);
	ck_assert_int_eq(aios_dist_header_decode(buf, SIZE_MAX, &back), AIOS_ERR_TOO_BIG);
	h.payload_len = 0xffffffffu;
	aios_dist_header_encode(&h, buf);
	ck_assert_int_eq(aios_dist_header_decode(buf, SIZE_MAX, &back), AIOS_ERR_TOO_BIG);
}
END_TEST

START_TEST(truncated_frames_are_invalid)
{
	struct aios_dist_header h = sample(), back;
	uint8_t buf[AIOS_DIST_HEADER_LEN + 8] = {0};
	aios_dist_header_encode(&h, buf);
	const uint8_t *payload;
	size_t used;
	for (size_t n = 0; n < sizeof(buf); n++)
		ck_assert_int_eq(aios_dist_frame_decode(buf, n, 1024, &back, &payload, &used),
		                 AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_dist_frame_decode(buf, sizeof(buf), 1024, &back, &payload, &used),
	                 AIOS_OK);
}
END_TEST

START_TEST(coordinator_addresses)
{
	char ip[16];
	uint16_t port;
	ck_assert_int_eq(aios_dist_parse_coordinator("127.0.0.1:29500", ip, &port), AIOS_OK);
	ck_assert_str_eq(ip, "127.0.0.1");
	ck_assert_uint_eq(port, 29500);
	ck_assert_int_eq(aios_dist_parse_coordinator("10.244.0.7:1", ip, &port), AIOS_OK);
	const char *bad[] = {"",
	                     "127.0.0.1",
	                     "127.0.0.1:",
	                     "127.0.0.1:0",
	                     "127.0.0.1:65536",
	                     "job-0.svc:29500",
	                     "localhost:29500",
	                     "1.2.3:80",
	                     "127.0.0.1:80x",
	                     ":80",
	                     "255.255.255.255255:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(aios_dist_parse_coordinator(bad[i], ip, &port) == AIOS_ERR_INVALID,
		              "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(aios_dist_parse_coordinator("job-0:29500", ip, &port), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "no DNS"));
}
END_TEST

START_TEST(config_from_environment)
{
	struct aios_dist_config c;
	aios_dist_config_defaults(&c);
	setenv("AIOS_JOB", "mnist", 1);
	setenv("AIOS_RANK", "2", 1);
	setenv("AIOS_WORLD_SIZE", "4", 1);
	setenv("AIOS_ROLE", "ps", 1);
	setenv("AIOS_ATTEMPT", "7", 1);
	setenv("AIOS_COORDINATOR", "10.244.0.5:29500", 1);
	ck_assert_int_eq(aios_dist_config_from_env(&c), AIOS_OK);
	ck_assert_str_eq(c.job, "mnist");
	ck_assert_int_eq(c.rank, 2);
	ck_assert_int_eq(c.world, 4);
	ck_assert_int_eq(c.role, AIOS_DIST_ROLE_PS);
	ck_assert_uint_eq(c.attempt, 7);
	ck_assert_str_eq(c.coord_ip, "10.244.0.5");
	ck_assert_uint_eq(c.coord_port, 29500);

	setenv("AIOS_RANK", "4", 1);
	aios_dist_config_defaults(&c);
	ck_assert_int_eq(aios_dist_config_from_env(&c), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "AIOS_RANK"));
	setenv("AIOS_RANK", "two", 1);
	ck_assert_int_eq(aios_dist_config_from_env(&c), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "AIOS_RANK=\"two\""));
	setenv("AIOS_RANK", "1", 1);
	setenv("AIOS_ROLE", "boss", 1);
	ck_assert_int_eq(aios_dist_config_from_env(&c), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "AIOS_ROLE"));
	setenv("AIOS_ROLE", "worker", 1);
	unsetenv("AIOS_COORDINATOR");
	ck_assert_int_eq(aios_dist_config_from_env(&c), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "AIOS_COORDINATOR is required"));
	setenv("AIOS_WORLD_SIZE", "65", 1);
	ck_assert_int_eq(aios_dist_config_from_env(&c), AIOS_ERR_INVALID);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dist_wire");
	TCase *t = tcase_create("wire");
	tcase_add_test(t, header_round_trip);
	tcase_add_test(t, every_flipped_header_bit_is_refused);
	tcase_add_test(t, version_type_and_size_are_checked);
	tcase_add_test(t, truncated_frames_are_invalid);
	tcase_add_test(t, coordinator_addresses);
	tcase_add_test(t, config_from_environment);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
