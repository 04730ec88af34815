/*
 * test_nodenet.c - pod range arithmetic, the route check, interface naming.
 * (Creating links needs root and is covered by tests/e2e.)
 */
#include <string.h>

#include "check_main.h"
#include "node/nodenet.h"

START_TEST(cidr_parse_and_hosts)
{
	struct aios_cidr c;
	ck_assert_int_eq(aios_cidr_parse("10.244.0.0/24", &c), AIOS_OK);
	ck_assert_int_eq(c.prefix, 24);
	ck_assert_uint_eq(aios_cidr_pod_slots(&c), 253);
	char ip[16];
	aios_cidr_host(&c, 1, ip);
	ck_assert_str_eq(ip, "10.244.0.1");
	aios_cidr_host(&c, 254, ip);
	ck_assert_str_eq(ip, "10.244.0.254");
	ck_assert_int_eq(aios_cidr_index(&c, "10.244.0.9"), 9);
	ck_assert_int_eq(aios_cidr_index(&c, "10.244.1.9"), -1);
	ck_assert_int_eq(aios_cidr_index(&c, "bogus"), -1);
	ck_assert_int_eq(aios_cidr_parse("10.244.3.7/16", &c), AIOS_OK);
	aios_cidr_host(&c, 0, ip);
	ck_assert_str_eq(ip, "10.244.0.0");
	ck_assert_int_eq(aios_cidr_parse("10.244.0.0", &c), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_cidr_parse("10.244.0.0/8", &c), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "16..30"));
	ck_assert_int_eq(aios_cidr_parse("10.244.0.300/24", &c), AIOS_ERR_INVALID);
}
END_TEST

/* /proc/net/route prints destination and mask little-endian on x86 (network order as hex). */
static const char *routes_ok =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
static const char *routes_clash = /* 10.0.0.0/8 on wg0 covers 10.244.0.0/24 */
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "wg0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n";
static const char *routes_inside = /* 10.244.0.128/25 lies inside the range */
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "br9\t8000F40A\t00000000\t0001\t0\t0\t0\t80FFFFFF\t0\t0\t0\n";

START_TEST(route_check)
{
	struct aios_cidr c;
	ck_assert_int_eq(aios_cidr_parse("10.244.0.0/24", &c), AIOS_OK);
	ck_assert_int_eq(aios_nodenet_check_routes(routes_ok, &c), AIOS_OK);
	ck_assert_int_eq(aios_nodenet_check_routes(routes_clash, &c), AIOS_ERR_EXISTS);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "10.0.0.0/8 on wg0"));
	ck_assert_int_eq(aios_nodenet_check_routes(routes_inside, &c), AIOS_ERR_EXISTS);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "br9"));
	ck_assert_int_eq(aios_cidr_parse("10.245.0.0/24", &c), AIOS_OK);
	ck_assert_int_eq(aios_nodenet_check_routes(routes_inside, &c), AIOS_OK);
}
END_TEST

START_TEST(names_fit_ifnamsiz)
{
	char ns[AIOS_NODENET_NAME_MAX + 16], veth[AIOS_NODENET_NAME_MAX];
	aios_nodenet_names("0b7c6f2e-91d4-4c1a-8f1e-2f0d9c3b4a55", ns, veth);
	ck_assert_str_eq(ns, "aios-0b7c6f2e91d4");
	ck_assert_str_eq(veth, "aiosv0b7c6f2e9");
	ck_assert_uint_lt(strlen(veth), 16);
}
END_TEST

static Suite *nodenet_suite(void)
{
	Suite *s = suite_create("node_nodenet");
	TCase *t = tcase_create("nodenet");
	tcase_add_test(t, cidr_parse_and_hosts);
	tcase_add_test(t, route_check);
	tcase_add_test(t, names_fit_ifnamsiz);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(nodenet_suite)
