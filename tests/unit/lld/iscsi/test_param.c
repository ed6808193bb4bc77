/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for lld/iscsi/param.c: bounded text parsing, key negotiation (numeric min/max,
 * Boolean AND/OR, list selection, declarative, Irrelevant/NotUnderstood/Reject answers,
 * duplicates, FirstBurstLength) and the per-target parameter table.
 */
#include "iscsi_test.h"

struct neg_fixture {
	struct iscsi_params target;
	struct iscsi_negot ng;
	char buf[8192];
	struct iscsi_text out;
};

static int neg_setup(void **state)
{
	struct neg_fixture *f = calloc(1, sizeof(*f));

	iscsi_params_default(&f->target);
	iscsi_negot_init(&f->ng, &f->target, false);
	iscsi_text_init(&f->out, f->buf, sizeof(f->buf));
	*state = f;
	return 0;
}

static int neg_teardown(void **state)
{
	free(*state);
	return 0;
}

/* Offers key=val and returns the answer's value ("" for none). */
static const char *offer(struct neg_fixture *f, enum iscsi_neg_phase phase, const char *key,
			 const char *val, int *ret)
{
	static char answer[512];
	size_t start = f->out.len;
	int r = iscsi_negot_key(&f->ng, phase, key, val, &f->out);
	const char *eq;

	if (ret)
		*ret = r;
	answer[0] = '\0';
	if (f->out.len == start)
		return answer;
	eq = strchr(f->buf + start, '=');
	assert_non_null(eq);
	assert_int_equal(strncmp(f->buf + start, key, (size_t)(eq - f->buf - start)), 0);
	snprintf(answer, sizeof(answer), "%s", eq + 1);
	return answer;
}

#define OP ISCSI_NEG_OPERATIONAL

/* One offer and the answer's value we expect. */
struct answer {
	const char *key, *val, *want;
};

/* Offers each key=val of a[] in turn and checks each answer. */
static void expect_answers(struct neg_fixture *f, const struct answer *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = offer(f, OP, a[i].key, a[i].val, NULL);

		if (strcmp(got, a[i].want))
			fail_msg("%s=%s answered \"%s\", expected \"%s\"", a[i].key, a[i].val, got,
				 a[i].want);
	}
}

#define EXPECT_ANSWERS(f, a) expect_answers(f, a, ARRAY_SIZE(a))

/* ---- text parsing ---- */

static void test_param_text_next_pairs(void **state)
{
	char buf[] = "A=1\0\0B=two words\0C=\0";
	struct iscsi_kv kv;
	size_t off = 0;

	(void)state;
	assert_int_equal(iscsi_text_next(buf, sizeof(buf) - 1, &off, &kv), 1);
	assert_string_equal(kv.key, "A");
	assert_string_equal(kv.val, "1");
	assert_int_equal(iscsi_text_next(buf, sizeof(buf) - 1, &off, &kv), 1);
	assert_string_equal(kv.key, "B");
	assert_string_equal(kv.val, "two words");
	assert_int_equal(iscsi_text_next(buf, sizeof(buf) - 1, &off, &kv), 1);
	assert_string_equal(kv.key, "C");
	assert_string_equal(kv.val, "");
	assert_int_equal(iscsi_text_next(buf, sizeof(buf) - 1, &off, &kv), 0);
}

static void test_param_text_next_rejects_malformed(void **state)
{
	struct iscsi_kv kv;
	char key64[80], *big;
	size_t off;

	(void)state;
	char noeq[] = "NoEquals\0";
	off = 0;
	assert_int_equal(iscsi_text_next(noeq, sizeof(noeq) - 1, &off, &kv), -EINVAL);
	char nonul[] = { 'A', '=', '1' };
	off = 0;
	assert_int_equal(iscsi_text_next(nonul, sizeof(nonul), &off, &kv), -EINVAL);
	char nokey[] = "=value\0";
	off = 0;
	assert_int_equal(iscsi_text_next(nokey, sizeof(nokey) - 1, &off, &kv), -EINVAL);
	char badkey[] = "Ke y=1\0";
	off = 0;
	assert_int_equal(iscsi_text_next(badkey, sizeof(badkey) - 1, &off, &kv), -EINVAL);
	/* 63 bytes of key are fine, 64 are not (§6.1) */
	memset(key64, 'K', 63);
	strcpy(key64 + 63, "=1");
	off = 0;
	assert_int_equal(iscsi_text_next(key64, strlen(key64) + 1, &off, &kv), 1);
	memset(key64, 'K', 64);
	strcpy(key64 + 64, "=1");
	off = 0;
	assert_int_equal(iscsi_text_next(key64, strlen(key64) + 1, &off, &kv), -EINVAL);
	/* values beyond 8192 bytes */
	big = malloc(9000);
	memcpy(big, "K=", 2);
	memset(big + 2, 'v', 8193);
	big[8195] = '\0';
	off = 0;
	assert_int_equal(iscsi_text_next(big, 8196, &off, &kv), -EINVAL);
	free(big);
}

/* Random bytes never read past the buffer or loop forever (run under ASan). */
static void test_param_text_hostile_segment(void **state)
{
	struct neg_fixture *f = *state;
	unsigned int seed = 12345;

	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand_r(&seed) % 300) + 1;
		char *buf = malloc(len);
		struct iscsi_kv kv;
		size_t off = 0;
		int ret, pairs = 0;

		for (size_t i = 0; i < len; i++) {
			int r = rand_r(&seed) % 8;

			buf[i] = r == 0 ? '\0' : r == 1 ? '=' : (char)('A' + rand_r(&seed) % 26);
		}
		iscsi_text_init(&f->out, f->buf, 256);
		iscsi_negot_init(&f->ng, &f->target, round & 1);
		while ((ret = iscsi_text_next(buf, len, &off, &kv)) == 1) {
			assert_true(off <= len);
			iscsi_negot_key(&f->ng, OP, kv.key, kv.val, &f->out);
			assert_true(f->out.len <= 256);
			assert_true(++pairs <= (int)len);
		}
		assert_true(ret == 0 || ret == -EINVAL);
		free(buf);
	}
}

/* ---- negotiation ---- */

static void test_param_numeric_min_max(void **state)
{
	static const struct answer a[] = {
		{ "MaxBurstLength", "65536", "65536" },
		{ "MaxOutstandingR2T", "8", "1" },
		{ "DefaultTime2Wait", "0", "2" },
		{ "DefaultTime2Retain", "0x0", "0" },
		{ "ErrorRecoveryLevel", "2", "0" },
		{ "MaxConnections", "4", "4" },
	};
	struct neg_fixture *f = *state;

	EXPECT_ANSWERS(f, a);
	assert_int_equal(f->ng.p.v[ISCSI_PARAM_MAX_BURST], 65536);
}

static void test_param_numeric_reject(void **state)
{
	static const struct answer a[] = {
		{ "MaxBurstLength", "511", "Reject" },
		{ "DefaultTime2Wait", "3601", "Reject" },
		{ "ErrorRecoveryLevel", "two", "Reject" },
		{ "MaxConnections", "-1", "Reject" },
		{ "MaxOutstandingR2T", "99999999999999999999", "Reject" },
		/* a rejected key may be offered again: it was not negotiated */
		{ "MaxBurstLength", "4096", "4096" },
	};

	EXPECT_ANSWERS(*state, a);
}

static void test_param_boolean_and_or(void **state)
{
	/* we offer InitialR2T=No (OR) and ImmediateData=Yes (AND) */
	static const struct answer a[] = {
		{ "InitialR2T", "Yes", "Yes" },
		{ "ImmediateData", "No", "No" },
		{ "DataPDUInOrder", "No", "Yes" },
		{ "DataSequenceInOrder", "maybe", "Reject" },
	}, b[] = {
		{ "InitialR2T", "No", "No" },
		{ "ImmediateData", "Yes", "Yes" },
		{ "ImmediateData", "yes", "" },
	};
	struct neg_fixture *f = *state;

	EXPECT_ANSWERS(f, a);
	iscsi_negot_init(&f->ng, &f->target, false);
	EXPECT_ANSWERS(f, b);
}

static void test_param_list_selection(void **state)
{
	struct neg_fixture *f = *state;

	assert_string_equal(offer(f, OP, "HeaderDigest", "CRC32C,None", NULL), "CRC32C");
	assert_string_equal(offer(f, OP, "DataDigest", "None,CRC32C", NULL), "None");
	iscsi_negot_init(&f->ng, &f->target, false);
	assert_string_equal(offer(f, OP, "HeaderDigest", "Fancy,CRC32C", NULL), "CRC32C");
	assert_string_equal(offer(f, OP, "DataDigest", "Fancy", NULL), "Reject");
	/* a target that requires digests */
	f->target.v[ISCSI_PARAM_HEADER_DIGEST] = ISCSI_DIGEST_CRC32C;
	iscsi_negot_init(&f->ng, &f->target, false);
	assert_string_equal(offer(f, OP, "HeaderDigest", "None", NULL), "Reject");
	assert_string_equal(offer(f, OP, "TaskReporting", "ResponseFence,RFC3720", NULL),
			    "RFC3720");
}

static void test_param_not_understood_and_irrelevant(void **state)
{
	static const struct answer a[] = {
		{ "X-com.example.Foo", "1", "NotUnderstood" },
		{ "SomethingNew", "1", "NotUnderstood" },
		{ "maxburstlength", "512", "NotUnderstood" },
		{ "IFMarker", "Yes", "No" },
		{ "OFMarkInt", "1~65535", "Reject" },
		{ "RDMAExtensions", "Yes", "No" },
		{ "TargetRecvDataSegmentLength", "8192", "Irrelevant" },
		{ "TargetAlias", "foo", "Irrelevant" },
	}, discovery[] = {
		/* discovery sessions: session keys are irrelevant */
		{ "MaxBurstLength", "512", "Irrelevant" },
		{ "InitialR2T", "Yes", "Irrelevant" },
		{ "HeaderDigest", "CRC32C", "CRC32C" },
	};
	struct neg_fixture *f = *state;

	EXPECT_ANSWERS(f, a);
	iscsi_negot_init(&f->ng, &f->target, true);
	EXPECT_ANSWERS(f, discovery);
}

static void test_param_special_and_declarative(void **state)
{
	struct neg_fixture *f = *state;
	int ret;

	offer(f, OP, "InitiatorName", "iqn.x", &ret);
	assert_int_equal(ret, ISCSI_KEY_SPECIAL);
	offer(f, OP, "AuthMethod", "None", &ret);
	assert_int_equal(ret, ISCSI_KEY_SPECIAL);
	assert_string_equal(offer(f, OP, "MaxRecvDataSegmentLength", "65536", &ret), "");
	assert_int_equal(ret, ISCSI_KEY_ANSWERED);
	assert_int_equal(f->ng.p.v[ISCSI_PARAM_MAX_XMIT_DSL], 65536);
	assert_string_equal(offer(f, OP, "MaxRecvDataSegmentLength", "100", NULL), "");
}

static void test_param_duplicate_key(void **state)
{
	struct neg_fixture *f = *state;
	int ret;

	offer(f, OP, "MaxBurstLength", "65536", &ret);
	assert_int_equal(ret, 0);
	offer(f, OP, "MaxBurstLength", "65536", &ret);
	assert_int_equal(ret, -EEXIST);
	assert_int_equal(iscsi_negot_seen(&f->ng, "InitiatorName"), 0);
	assert_int_equal(iscsi_negot_seen(&f->ng, "InitiatorName"), -EEXIST);
}

static void test_param_ffp_rejects_login_keys(void **state)
{
	struct neg_fixture *f = *state;

	assert_string_equal(offer(f, ISCSI_NEG_FFP, "MaxBurstLength", "512", NULL), "Reject");
	assert_string_equal(offer(f, ISCSI_NEG_FFP, "HeaderDigest", "None", NULL), "Reject");
	assert_string_equal(offer(f, ISCSI_NEG_FFP, "MaxRecvDataSegmentLength", "4096", NULL),
			    "");
	assert_int_equal(f->ng.p.v[ISCSI_PARAM_MAX_XMIT_DSL], 4096);
}

static void test_param_first_burst(void **state)
{
	struct neg_fixture *f = *state;

	/* answered after the other keys, clamped to MaxBurstLength */
	assert_string_equal(offer(f, OP, "FirstBurstLength", "1048576", NULL), "");
	assert_string_equal(offer(f, OP, "MaxBurstLength", "131072", NULL), "131072");
	assert_int_equal(iscsi_negot_finish(&f->ng, &f->out), 0);
	assert_non_null(memmem(f->buf, f->out.len, "FirstBurstLength=131072", 24));
	/* irrelevant once InitialR2T=Yes and ImmediateData=No */
	iscsi_text_init(&f->out, f->buf, sizeof(f->buf));
	iscsi_negot_init(&f->ng, &f->target, false);
	offer(f, OP, "FirstBurstLength", "65536", NULL);
	offer(f, OP, "InitialR2T", "Yes", NULL);
	offer(f, OP, "ImmediateData", "No", NULL);
	iscsi_negot_finish(&f->ng, &f->out);
	assert_non_null(memmem(f->buf, f->out.len, "FirstBurstLength=Irrelevant", 28));
}

static void test_param_result_defaults(void **state)
{
	struct neg_fixture *f = *state;
	struct iscsi_params p;

	/* nothing offered: RFC defaults, not our offers */
	iscsi_negot_result(&f->ng, &p);
	assert_int_equal(p.v[ISCSI_PARAM_INITIAL_R2T], 1);
	assert_int_equal(p.v[ISCSI_PARAM_MAX_BURST], 262144);
	assert_int_equal(p.v[ISCSI_PARAM_FIRST_BURST], 65536);
	assert_int_equal(p.v[ISCSI_PARAM_HEADER_DIGEST], ISCSI_DIGEST_NONE);
	assert_int_equal(p.v[ISCSI_PARAM_MAX_XMIT_DSL], 8192);
	assert_int_equal(p.v[ISCSI_PARAM_MAX_RECV_DSL], ISCSI_DEF_MAX_RECV_DSL);
	offer(f, OP, "InitialR2T", "No", NULL);
	offer(f, OP, "MaxRecvDataSegmentLength", "1048576", NULL);
	iscsi_negot_result(&f->ng, &p);
	assert_int_equal(p.v[ISCSI_PARAM_INITIAL_R2T], 0);
	/* capped by the target's MaxXmitDataSegmentLength */
	assert_int_equal(p.v[ISCSI_PARAM_MAX_XMIT_DSL], ISCSI_DEF_MAX_RECV_DSL);
}

static void test_param_text_output_bounded(void **state)
{
	struct neg_fixture *f = *state;
	char small[16];

	(void)state;
	iscsi_text_init(&f->out, small, sizeof(small));
	assert_int_equal(iscsi_text_add(&f->out, "Key", "Value"), 0);
	assert_int_equal(f->out.len, 10);
	assert_int_equal(iscsi_text_add(&f->out, "Longer", "Value"), -ENOSPC);
	assert_true(f->out.overflow);
	assert_int_equal(f->out.len, 10);
}

/* ---- per-target parameters ---- */

struct show_ctx {
	char text[2048];
	size_t off;
	unsigned int n;
};

static void show_fn(const char *key, const char *value, void *arg)
{
	struct show_ctx *s = arg;

	str_appendf(s->text, sizeof(s->text), &s->off, "%s=%s\n", key, value);
	s->n++;
}

static void test_param_target_show_order(void **state)
{
	struct iscsi_params p;
	struct show_ctx s = { .off = 0 };

	(void)state;
	iscsi_params_default(&p);
	iscsi_params_foreach(&p, show_fn, &s);
	assert_int_equal(strncmp(s.text, "nop_interval=0\nnop_count=0\nMaxRecvDataSegmentLength=262144\n",
				 58), 0);
	assert_non_null(strstr(s.text, "HeaderDigest=None,CRC32C\n"));
	assert_non_null(strstr(s.text, "InitialR2T=No\n"));
	assert_non_null(strstr(s.text, "OFMarkInt=Reject\nIFMarkInt=Reject\nMaxConnections=8\n"));
	assert_non_null(strstr(s.text, "MaxQueueCmd=128\n"));
	assert_true(strstr(s.text, "MaxXmitDataSegmentLength") < strstr(s.text, "MaxQueueCmd"));
}

static void test_param_target_set(void **state)
{
	struct iscsi_params p;

	(void)state;
	iscsi_params_default(&p);
	assert_int_equal(iscsi_params_set(&p, "maxburstlength", "65536"), 0);
	assert_int_equal(p.v[ISCSI_PARAM_MAX_BURST], 65536);
	assert_int_equal(iscsi_params_set(&p, "HeaderDigest", "CRC32C"), 0);
	assert_int_equal(p.v[ISCSI_PARAM_HEADER_DIGEST], ISCSI_DIGEST_CRC32C);
	assert_int_equal(iscsi_params_set(&p, "DataDigest", "CRC32C,None"), 0);
	assert_int_equal(iscsi_params_set(&p, "InitialR2T", "Yes"), 0);
	assert_int_equal(p.v[ISCSI_PARAM_INITIAL_R2T], 1);
	assert_int_equal(iscsi_params_set(&p, "nop_interval", "5"), 0);
	assert_int_equal(iscsi_params_set(&p, "MaxQueueCmd", "0"), -EINVAL);
	assert_int_equal(iscsi_params_set(&p, "MaxQueueCmd", "513"), -EINVAL);
	assert_int_equal(iscsi_params_set(&p, "MaxBurstLength", "511"), -EINVAL);
	assert_int_equal(iscsi_params_set(&p, "ErrorRecoveryLevel", "3"), -EINVAL);
	assert_int_equal(iscsi_params_set(&p, "ErrorRecoveryLevel", "2"), 0);
	assert_int_equal(iscsi_params_set(&p, "HeaderDigest", "MD5"), -EINVAL);
	assert_int_equal(iscsi_params_set(&p, "OFMarkInt", "1"), -EINVAL);
	assert_int_equal(iscsi_params_set(&p, "NoSuchKey", "1"), -ENOENT);
}

static void test_param_name_valid(void **state)
{
	(void)state;
	assert_true(iscsi_name_is_valid("iqn.2026-11.org.utgt:t1"));
	assert_true(iscsi_name_is_valid("eui.02004567A425678D"));
	assert_false(iscsi_name_is_valid("All"));
	assert_false(iscsi_name_is_valid("Alle"));
	assert_false(iscsi_name_is_valid("iqn."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_param_text_next_pairs),
		cmocka_unit_test(test_param_text_next_rejects_malformed),
		cmocka_unit_test_setup_teardown(test_param_text_hostile_segment, neg_setup,
						neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_numeric_min_max, neg_setup, neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_numeric_reject, neg_setup, neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_boolean_and_or, neg_setup, neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_list_selection, neg_setup, neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_not_understood_and_irrelevant, neg_setup,
						neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_special_and_declarative, neg_setup,
						neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_duplicate_key, neg_setup, neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_ffp_rejects_login_keys, neg_setup,
						neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_first_burst, neg_setup, neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_result_defaults, neg_setup, neg_teardown),
		cmocka_unit_test_setup_teardown(test_param_text_output_bounded, neg_setup,
						neg_teardown),
		cmocka_unit_test(test_param_target_show_order),
		cmocka_unit_test(test_param_target_set),
		cmocka_unit_test(test_param_name_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
