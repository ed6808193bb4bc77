/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * src/lld/iscsi/chap.c: binary value codecs, algorithm choice, RFC 1994 responses for the four
 * digests (vectors from Python's hashlib), and the target-side exchange against a real core
 * account store: one-way, mutual, wrong secret, unknown user, reflection, bad order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lld/iscsi/iscsi_int.h"

static void test_decode(void **state)
{
	uint8_t b[8];

	(void)state;
	assert_int_equal(iscsi_chap_decode("0x0102ff", b, sizeof(b)), 3);
	assert_int_equal(b[2], 0xff);
	assert_int_equal(iscsi_chap_decode("0X102", b, sizeof(b)), 2); /* odd: leading 0 */
	assert_int_equal(b[0], 0x01);
	assert_int_equal(b[1], 0x02);
	assert_int_equal(iscsi_chap_decode("0bAQIDBAU=", b, sizeof(b)), 5);
	assert_int_equal(b[4], 5);
	assert_int_equal(iscsi_chap_decode("0BAQID", b, sizeof(b)), 3);
	assert_int_equal(iscsi_chap_decode("0x", b, sizeof(b)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0xzz", b, sizeof(b)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("1234", b, sizeof(b)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0bAQI", b, sizeof(b)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0bAQ=D", b, sizeof(b)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0bAR==", b, sizeof(b)), -EINVAL); /* stray bits */
	assert_int_equal(iscsi_chap_decode("0x000102030405060708", b, sizeof(b)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0bAAAAAAAAAAAA", b, sizeof(b)), -EINVAL);
}

static void test_encode(void **state)
{
	const uint8_t in[3] = { 0x00, 0xab, 0x10 };
	char out[9];

	(void)state;
	assert_int_equal(iscsi_chap_encode_hex(in, 3, out, sizeof(out)), 0);
	assert_string_equal(out, "0x00ab10");
	assert_int_equal(iscsi_chap_encode_hex(in, 3, out, 8), -ENOSPC);
}

static void test_alg_select(void **state)
{
	(void)state;
	assert_int_equal(iscsi_chap_alg_select("5"), 5);
	assert_int_equal(iscsi_chap_alg_select("5,6,7"), 7);
	assert_int_equal(iscsi_chap_alg_select("8,5"), 8);
	assert_int_equal(iscsi_chap_alg_select("6,5"), 6);
	assert_int_equal(iscsi_chap_alg_select("1,2,99"), 0);
	assert_int_equal(iscsi_chap_alg_select(""), 0);
}

static void test_response_vectors(void **state)
{
	static const struct {
		unsigned int alg;
		const char *hex;
	} v[] = {
		{ 5, "0x226dc576c33f04ff9c3a200ffe35f442" },
		{ 6, "0xae35ac1694de2cf7e68e790fbface9a28501fed7" },
		{ 7, "0x024aef34e176668b34ec2bf7f5525e3bf7f0e94d7cec77cb07d08c3d5a8e23ca" },
		{ 8, "0xe2bd0aba5f885a39aa4fbebccc63203c2f728f034cbaf009b44c2f0c5544f172" },
	};
	uint8_t chal[16], out[32];
	char hex[80];

	(void)state;
	for (int i = 0; i < 16; i++)
		chal[i] = (uint8_t)i;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		int n = iscsi_chap_response(v[i].alg, 1, (const uint8_t *)"secretsecret", 12, chal,
					    16, out);

		assert_true(n > 0);
		assert_int_equal(iscsi_chap_encode_hex(out, (size_t)n, hex, sizeof(hex)), 0);
		assert_string_equal(hex, v[i].hex);
	}
	assert_int_equal(iscsi_chap_response(7 + 10, 1, chal, 1, chal, 1, out), -EINVAL);
}

/* ---- the exchange ---- */

struct fx {
	struct core_root *root;
	struct iscsi_chap ch;
	char buf[4096];
	struct iscsi_text out;
};

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(core_root_new(&f.root), 0);
	assert_int_equal(core_account_new(f.root, "alice", "alicesecret12"), 0);
	assert_int_equal(core_account_new(f.root, "tgtuser", "targetsecret34"), 0);
	assert_int_equal(core_account_bind(f.root, 1, "alice", false), 0);
	iscsi_text_init(&f.out, f.buf, sizeof(f.buf));
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	iscsi_chap_fini(&f->ch);
	core_root_free(f->root);
	return 0;
}

/* Value of key in f->out (the last one), or NULL. */
static const char *out_val(struct fx *f, const char *key)
{
	const char *found = NULL;
	size_t klen = strlen(key);

	for (size_t off = 0; off < f->out.len; off += strlen(f->buf + off) + 1) {
		if (!strncmp(f->buf + off, key, klen) && f->buf[off + klen] == '=')
			found = f->buf + off + klen + 1;
	}
	return found;
}

/* AuthMethod + CHAP_A: leaves the challenge in f->ch. */
static void start(struct fx *f, const char *algs)
{
	iscsi_chap_init(&f->ch, NULL, f->root, 1);
	assert_true(f->ch.required);
	assert_false(iscsi_chap_ok(&f->ch));
	assert_int_equal(iscsi_chap_method(&f->ch, "CHAP,None", &f->out), 0);
	assert_string_equal(out_val(f, "AuthMethod"), "CHAP");
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_A", algs), 0);
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), 0);
	assert_int_equal(f->ch.state, ISCSI_CHAP_WAIT_R);
	assert_non_null(out_val(f, "CHAP_C"));
}

static void respond(struct fx *f, const char *user, const char *secret, char *hex, size_t cap)
{
	uint8_t r[32];
	int n = iscsi_chap_response(f->ch.alg, f->ch.id, (const uint8_t *)secret, strlen(secret),
				    f->ch.challenge, f->ch.challenge_len, r);

	assert_true(n > 0);
	assert_int_equal(iscsi_chap_encode_hex(r, (size_t)n, hex, cap), 0);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_N", user), 0);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_R", hex), 0);
}

static void test_one_way_each_alg(void **state)
{
	struct fx *f = *state;
	const char *algs[] = { "5", "6", "7", "8" };
	char hex[80];

	for (size_t i = 0; i < ARRAY_SIZE(algs); i++) {
		iscsi_text_init(&f->out, f->buf, sizeof(f->buf));
		start(f, algs[i]);
		assert_string_equal(out_val(f, "CHAP_A"), algs[i]);
		respond(f, "alice", "alicesecret12", hex, sizeof(hex));
		assert_int_equal(iscsi_chap_step(&f->ch, &f->out), 0);
		assert_true(iscsi_chap_ok(&f->ch));
	}
}

static void test_wrong_secret_and_user(void **state)
{
	struct fx *f = *state;
	char hex[80];

	start(f, "5");
	respond(f, "alice", "wrongsecret!!", hex, sizeof(hex));
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), ISCSI_LOGIN_AUTH_FAILED);
	assert_false(iscsi_chap_ok(&f->ch));
	/* a later step stays failed */
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), ISCSI_LOGIN_AUTH_FAILED);

	start(f, "7");
	respond(f, "tgtuser", "targetsecret34", hex, sizeof(hex)); /* not bound incoming */
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), ISCSI_LOGIN_AUTH_FAILED);

	start(f, "7");
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_N", "alice"), 0);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_R", "0x1234"), 0); /* short */
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), ISCSI_LOGIN_AUTH_FAILED);
}

static void test_mutual(void **state)
{
	struct fx *f = *state;
	uint8_t want[32];
	char hex[80], whex[80];
	int n;

	start(f, "6,7");
	respond(f, "alice", "alicesecret12", hex, sizeof(hex));
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_I", "77"), 0);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_C", "0x00010203040506070809"), 0);
	/* no outgoing account yet */
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), ISCSI_LOGIN_AUTH_FAILED);

	assert_int_equal(core_account_bind(f->root, 1, "tgtuser", true), 0);
	iscsi_text_init(&f->out, f->buf, sizeof(f->buf));
	start(f, "6,7");
	respond(f, "alice", "alicesecret12", hex, sizeof(hex));
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_I", "77"), 0);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_C", "0x00010203040506070809"), 0);
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), 0);
	assert_true(iscsi_chap_ok(&f->ch));
	assert_string_equal(out_val(f, "CHAP_N"), "tgtuser");
	n = iscsi_chap_response(7, 77, (const uint8_t *)"targetsecret34", 14,
				(const uint8_t *)"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09", 10,
				want);
	assert_int_equal(n, 32);
	iscsi_chap_encode_hex(want, 32, whex, sizeof(whex));
	assert_string_equal(out_val(f, "CHAP_R"), whex);
}

static void test_reflection_refused(void **state)
{
	struct fx *f = *state;
	char hex[80], chal[80];

	assert_int_equal(core_account_bind(f->root, 1, "tgtuser", true), 0);
	start(f, "5");
	respond(f, "alice", "alicesecret12", hex, sizeof(hex));
	iscsi_chap_encode_hex(f->ch.challenge, f->ch.challenge_len, chal, sizeof(chal));
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_I", "1"), 0);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_C", chal), 0);
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), ISCSI_LOGIN_AUTH_FAILED);
}

static void test_method_and_order(void **state)
{
	struct fx *f = *state;

	/* CHAP required: None alone is refused */
	iscsi_chap_init(&f->ch, NULL, f->root, 1);
	assert_int_equal(iscsi_chap_method(&f->ch, "None", &f->out), ISCSI_LOGIN_AUTH_FAILED);
	/* no account on target 2: None chosen, CHAP-only refused */
	iscsi_chap_init(&f->ch, NULL, f->root, 2);
	assert_true(iscsi_chap_ok(&f->ch));
	assert_int_equal(iscsi_chap_method(&f->ch, "CHAP,None", &f->out), 0);
	assert_string_equal(out_val(f, "AuthMethod"), "None");
	iscsi_chap_init(&f->ch, NULL, f->root, 2);
	assert_int_equal(iscsi_chap_method(&f->ch, "CHAP", &f->out), ISCSI_LOGIN_AUTH_FAILED);
	/* CHAP_N before CHAP_A */
	iscsi_chap_init(&f->ch, NULL, f->root, 1);
	assert_int_equal(iscsi_chap_method(&f->ch, "CHAP", &f->out), 0);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_N", "alice"), 0);
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), ISCSI_LOGIN_AUTH_FAILED);
	/* unsupported algorithms */
	iscsi_chap_init(&f->ch, NULL, f->root, 1);
	assert_int_equal(iscsi_chap_method(&f->ch, "CHAP", &f->out), 0);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_A", "1,2,3"), 0);
	assert_int_equal(iscsi_chap_step(&f->ch, &f->out), ISCSI_LOGIN_AUTH_FAILED);
	/* duplicate key in one request */
	iscsi_chap_init(&f->ch, NULL, f->root, 1);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_A", "5"), 0);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_A", "5"), ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(iscsi_chap_key(&f->ch, "CHAP_X", "5"), ISCSI_LOGIN_INIT_ERR);
}

static void test_challenges_differ(void **state)
{
	struct fx *f = *state;
	uint8_t first[32];

	start(f, "7");
	memcpy(first, f->ch.challenge, 32);
	start(f, "7");
	assert_memory_not_equal(first, f->ch.challenge, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_alg_select),
		cmocka_unit_test(test_response_vectors),
		cmocka_unit_test_setup_teardown(test_one_way_each_alg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_secret_and_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutual, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reflection_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_method_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenges_differ, setup, teardown),
	};

	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
