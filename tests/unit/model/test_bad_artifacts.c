/*
 * test_bad_artifacts.c - the table of damaged model artifacts (each row with
 * the exact error expected). One good artifact (an MLP 3-4-2 with
 * input normalization) is damaged in one way per row, and aios_model_read_mem must
 * refuse it with the error code and the message given, naming the file.
 *
 * Two kinds of damage: bytes (the file as a disk or a network would damage it: the
 * digest catches it), and header edits with the digest recomputed (a file a buggy or
 * hostile writer produced: the header checks must catch it on their own).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/hash.h"
#include "model/model.h"

#define PREFIX 16 /* magic, version, header length */

static uint8_t *g_good;
static size_t g_good_len;

static void make_good(void)
{
	int sizes[] = {3, 4, 2};
	struct aios_model *m =
	    aios_model_new(AIOS_MODEL_MLP, AIOS_ACT_RELU, AIOS_ACT_SOFTMAX, 2, sizes);
	aios_model_enable_norm(m);
	for (size_t i = 0; i < aios_model_param_count(m); i++)
		m->params[i] = (float)i / 8.0f - 1.0f;
	ck_assert_int_eq(aios_model_write_mem(m, AIOS_DTYPE_F32, &g_good, &g_good_len), AIOS_OK);
	aios_model_free(m);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the SHA-256 trailer of a file of n bytes. */
static void redigest(uint8_t *p, size_t n)
{
	aios_sha256(p, n - AIOS_SHA256_LEN, p + n - AIOS_SHA256_LEN);
}

/*
 * The good file with its header text edited (the first `find` replaced by `repl`),
 * padding and data section kept, digest recomputed. Caller frees; *n is the length.
 */
static uint8_t *with_header_edit(const char *find, const char *repl, size_t *n)
{
	uint32_t h = get_u32(g_good + 12);
	size_t data_start = (PREFIX + h + 63) / 64 * 64;
	size_t data_len = g_good_len - AIOS_SHA256_LEN - data_start;
	char *hdr = strndup((const char *)g_good + PREFIX, h);
	char *at = strstr(hdr, find);
	ck_assert_msg(at != NULL, "the good header lacks \"%s\": %s", find, hdr);
	size_t nh = h - strlen(find) + strlen(repl);
	size_t ds = (PREFIX + nh + 63) / 64 * 64;
	*n = ds + data_len + AIOS_SHA256_LEN;
	uint8_t *p = calloc(1, *n);
	memcpy(p, g_good, PREFIX);
	put_u32(p + 12, (uint32_t)nh);
	size_t before = (size_t)(at - hdr);
	memcpy(p + PREFIX, hdr, before);
	memcpy(p + PREFIX + before, repl, strlen(repl));
	memcpy(p + PREFIX + before + strlen(repl), at + strlen(find), h - before - strlen(find));
	memcpy(p + ds, g_good + data_start, data_len);
	redigest(p, *n);
	free(hdr);
	return p;
}

static void expect_refused(const char *label, const uint8_t *p, size_t n, enum aios_err code,
                           const char *msg)
{
	struct aios_model *m = NULL;
	enum aios_err e = aios_model_read_mem(p, n, "bad.aios", &m);
	ck_assert_msg(e == code, "%s: error %s (%s), expected %s", label, aios_strerror(e),
	              aios_errmsg(), aios_strerror(code));
	ck_assert_ptr_null(m);
	ck_assert_msg(strncmp(aios_errmsg(), "bad.aios: ", 10) == 0,
	              "%s: message \"%s\" does not name the file", label, aios_errmsg());
	ck_assert_msg(strstr(aios_errmsg(), msg) != NULL, "%s: message \"%s\" lacks \"%s\"", label,
	              aios_errmsg(), msg);
}

/* ---- header edits, digest recomputed: the header checks alone must refuse them ---- */

static const struct {
	const char *find, *repl;
	enum aios_err code;
	const char *msg;
} header_cases[] = {
    {"\"type\":\"mlp\"", "\"type\":\"cnn\"", AIOS_ERR_CORRUPT, "unknown model type cnn"},
    {"\"activation\":\"relu\"", "\"activation\":\"swish\"", AIOS_ERR_CORRUPT,
     "bad hidden activation swish"},
    {"\"output\":\"softmax\"", "\"output\":\"relu6\"", AIOS_ERR_CORRUPT,
     "bad output activation relu6"},
    {"\"dtype\":\"f32\",\"normalize\"", "\"dtype\":\"f16\",\"normalize\"", AIOS_ERR_CORRUPT,
     "unknown dtype f16"},
    {"\"layers\":[3,4,2]", "\"layers\":[3]", AIOS_ERR_CORRUPT,
     "layers has 1 sizes, expected 2..65"},
    {"\"layers\":[3,4,2]", "\"layers\":[3,4,0]", AIOS_ERR_CORRUPT,
     "layers[2] is not a width in 1..1048576"},
    {"\"layers\":[3,4,2]", "\"layers\":[3,4,2097152]", AIOS_ERR_CORRUPT,
     "layers[2] is not a width in 1..1048576"},
    {"\"layers\":[3,4,2]", "\"layers\":[3,4,3]", AIOS_ERR_CORRUPT,
     "tensor l1.w: shape[0] is not 3"},
    {"\"mean\":[0.0,0.0,0.0]", "\"mean\":[0.0,0.0]", AIOS_ERR_CORRUPT,
     "normalize.mean has 2 entries, expected 3"},
    {"\"mean\":[0.0,0.0,0.0]", "\"mean\":[0.0,\"x\",0.0]", AIOS_ERR_CORRUPT,
     "normalize.mean[1] is not a number"},
    {"\"mean\":[0.0,0.0,0.0]", "\"mean\":[0.0,1e39,0.0]", AIOS_ERR_CORRUPT,
     "normalize.mean[1] is not a finite float"},
    {"\"std\":[1.0,1.0,1.0]", "\"std\":[1.0,-1.0,1.0]", AIOS_ERR_CORRUPT,
     "normalize.std[1] is not positive"},
    {"\"name\":\"l0.b\"", "\"name\":\"l0.bias\"", AIOS_ERR_CORRUPT, "tensor l0.b is missing"},
    {"\"name\":\"l0.w\",\"shape\":[4,3],\"dtype\":\"f32\"",
     "\"name\":\"l0.w\",\"shape\":[4,3],\"dtype\":\"int8\"", AIOS_ERR_CORRUPT,
     "tensor l0.w: dtype int8, expected f32"},
    {"\"shape\":[4,3]", "\"shape\":[12]", AIOS_ERR_CORRUPT,
     "tensor l0.w: 1 dimensions, expected 2"},
    {"\"shape\":[4,3]", "\"shape\":[3,4]", AIOS_ERR_CORRUPT, "tensor l0.w: shape[0] is not 4"},
    {"\"offset\":0,\"bytes\":48", "\"offset\":0,\"bytes\":44", AIOS_ERR_CORRUPT,
     "tensor l0.w: 44 bytes, expected 48"},
    {"\"offset\":192,\"bytes\":8", "\"offset\":4096,\"bytes\":8", AIOS_ERR_CORRUPT,
     "tensor l1.b: bytes [4096, 4104) lie outside the data section of 256 bytes"},
    {"\"offset\":192,\"bytes\":8", "\"offset\":-8,\"bytes\":8", AIOS_ERR_CORRUPT,
     "tensor l1.b: bytes [-8, 0) lie outside the data section of 256 bytes"},
    {"\"offset\":64,\"bytes\":16", "\"offset\":66,\"bytes\":16", AIOS_ERR_CORRUPT,
     "tensor l0.b: offset 66 is not aligned"},
    {"\"offset\":64,\"bytes\":16", "\"offset\":\"64\",\"bytes\":16", AIOS_ERR_CORRUPT,
     "tensor l0.b: offset: expected an integer, got string"},
    {"\"meta\":{}", "\"meta\":[]", AIOS_ERR_CORRUPT, "meta is not an object"},
    {"{\"type\"", "[{\"type\"", AIOS_ERR_CORRUPT, "artifact header: truncated JSON"},
};

START_TEST(header_edit_refused)
{
	size_t n;
	uint8_t *p = with_header_edit(header_cases[_i].find, header_cases[_i].repl, &n);
	char label[256];
	snprintf(label, sizeof(label), "header case %d (%s -> %s)", _i, header_cases[_i].find,
	         header_cases[_i].repl);
	expect_refused(label, p, n, header_cases[_i].code, header_cases[_i].msg);
	free(p);
}
END_TEST

/* ---- byte damage ---- */

START_TEST(byte_damage_refused)
{
	uint32_t h = get_u32(g_good + 12);
	size_t data_start = (PREFIX + h + 63) / 64 * 64;
	uint8_t *p = malloc(g_good_len);
	size_t n;
#define RESET() (memcpy(p, g_good, g_good_len), n = g_good_len)

	RESET();
	expect_refused("empty file", p, 0, AIOS_ERR_CORRUPT, "0 bytes is too short");
	expect_refused("40 bytes", p, 40, AIOS_ERR_CORRUPT, "40 bytes is too short");

	RESET();
	memcpy(p, "GGUF\0\0\0\0", 8);
	expect_refused("another format", p, n, AIOS_ERR_CORRUPT,
	               "not a model artifact (bad magic)");

	RESET();
	put_u32(p + 8, 2);
	expect_refused("version 2", p, n, AIOS_ERR_CORRUPT,
	               "artifact version 2, this build reads 1");

	RESET();
	put_u32(p + 12, 0);
	expect_refused("header length 0", p, n, AIOS_ERR_CORRUPT, "header length 0 does not fit");

	RESET();
	put_u32(p + 12, (uint32_t)g_good_len);
	expect_refused("header longer than the file", p, n, AIOS_ERR_CORRUPT,
	               "does not fit (file 736 bytes");

	RESET();
	put_u32(p + 12, AIOS_MODEL_MAX_HEADER + 1);
	expect_refused("header over the limit", p, n, AIOS_ERR_CORRUPT, "limit 1048576");

	RESET();
	n = data_start - 8;
	expect_refused("cut inside the header", p, n, AIOS_ERR_CORRUPT,
	               "header length 425 does not fit (file 440 bytes");
	n = PREFIX + h + AIOS_SHA256_LEN + 1; /* the header whole, its padding cut */
	expect_refused("cut inside the padding", p, n, AIOS_ERR_CORRUPT,
	               "truncated after the header");

	RESET();
	n = g_good_len - 20; /* cut mid-data: the last 32 bytes are no longer the digest */
	expect_refused("truncated in the data", p, n, AIOS_ERR_DIGEST,
	               "SHA-256 of the content does not match");

	RESET();
	p[data_start + 5] ^= 0x40; /* one bit of a weight */
	expect_refused("one flipped bit", p, n, AIOS_ERR_DIGEST, "damaged or truncated file");

	RESET();
	p[g_good_len - 1] ^= 1; /* the digest itself */
	expect_refused("damaged digest", p, n, AIOS_ERR_DIGEST, "does not match");

	RESET();
	ck_assert_uint_gt(data_start, PREFIX + h);
	p[PREFIX + h] = 'x';
	redigest(p, n);
	expect_refused("non-zero padding", p, n, AIOS_ERR_CORRUPT, "non-zero header padding");

	RESET();
	p[PREFIX + 1] = '!'; /* {"type"... -> {!type"... */
	redigest(p, n);
	expect_refused("header not JSON", p, n, AIOS_ERR_CORRUPT,
	               "artifact header: malformed JSON at byte 1");

	RESET();
	float nan = NAN;
	memcpy(p + data_start + 4, &nan, sizeof(nan)); /* l0.w[1] */
	redigest(p, n);
	expect_refused("NaN weight", p, n, AIOS_ERR_CORRUPT,
	               "tensor l0.w: element 1 is not finite");
#undef RESET
	free(p);

	/* and the good file itself reads, so every refusal above is the damage's doing */
	struct aios_model *m = NULL;
	ck_assert_int_eq(aios_model_read_mem(g_good, g_good_len, "good.aios", &m), AIOS_OK);
	ck_assert_int_eq(m->n_inputs, 3);
	ck_assert_int_eq(m->n_outputs, 2);
	aios_model_free(m);
}
END_TEST

static void setup(void)
{
	make_good();
}

static void teardown(void)
{
	free(g_good);
	g_good = NULL;
}

static Suite *suite(void)
{
	Suite *s = suite_create("bad_artifacts");
	TCase *tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, header_edit_refused, 0,
	                    (int)(sizeof(header_cases) / sizeof(header_cases[0])));
	tcase_add_test(tc, byte_damage_refused);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
