/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for lld/iscsi/pdu.c: BHS encode/check round trips, DataSegmentLength bounds,
 * CRC32C digests against RFC 3720 appendix B.4 vectors, LUN encoding and AHS parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "lld/iscsi/iscsi_int.h"

static void test_pdu_bhs_round_trip(void **state)
{
	uint8_t buf[ISCSI_BHS_LEN];
	struct iscsi_bhs *h = (struct iscsi_bhs *)buf;
	struct iscsi_bhs_info info;

	(void)state;
	iscsi_bhs_init(h, ISCSI_OP_SCSI_CMD | ISCSI_OP_IMMEDIATE, ISCSI_FLAG_FINAL, 0x123456,
		       0xdeadbeef);
	h->ahs_len = 2;
	assert_int_equal(buf[0], 0x41);
	assert_int_equal(buf[1], 0x80);
	assert_int_equal(buf[4], 2);
	assert_int_equal(buf[5], 0x12);
	assert_int_equal(buf[7], 0x56);
	assert_int_equal(get_be32(buf + 16), 0xdeadbeef);
	assert_int_equal(iscsi_bhs_check(buf, ISCSI_DSL_MAX, &info), 0);
	assert_int_equal(info.opcode, ISCSI_OP_SCSI_CMD);
	assert_true(info.immediate);
	assert_int_equal(info.dsl, 0x123456);
	assert_int_equal(info.ahs_len, 8);
}

static void test_pdu_check_rejects_oversized_dsl(void **state)
{
	uint8_t buf[ISCSI_BHS_LEN];
	struct iscsi_bhs_info info;

	(void)state;
	iscsi_bhs_init((struct iscsi_bhs *)buf, ISCSI_OP_DATA_OUT, 0, 262145, 1);
	assert_int_equal(iscsi_bhs_check(buf, 262144, &info), -EMSGSIZE);
	iscsi_bhs_init((struct iscsi_bhs *)buf, ISCSI_OP_DATA_OUT, 0, 262144, 1);
	assert_int_equal(iscsi_bhs_check(buf, 262144, &info), 0);
}

static void test_pdu_check_rejects_target_opcodes(void **state)
{
	static const uint8_t bad[] = { ISCSI_OP_SCSI_RSP, ISCSI_OP_DATA_IN, ISCSI_OP_R2T,
				       ISCSI_OP_REJECT, 0x07, 0x1f, 0x3e };
	uint8_t buf[ISCSI_BHS_LEN];
	struct iscsi_bhs_info info;

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		iscsi_bhs_init((struct iscsi_bhs *)buf, bad[i], 0, 0, 1);
		assert_int_equal(iscsi_bhs_check(buf, 8192, &info), -EBADMSG);
	}
	iscsi_bhs_init((struct iscsi_bhs *)buf, ISCSI_OP_SNACK, 0, 0, 1);
	assert_int_equal(iscsi_bhs_check(buf, 8192, &info), 0);
}

/* RFC 3720 appendix B.4 */
static void test_pdu_digest_vectors(void **state)
{
	uint8_t buf[32], wire[4];

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(iscsi_digest(buf, sizeof(buf)), 0x8a9136aa);
	iscsi_digest_put(wire, iscsi_digest(buf, sizeof(buf)));
	assert_int_equal(wire[0], 0xaa);
	assert_int_equal(wire[3], 0x8a);
	assert_int_equal(iscsi_digest_get(wire), 0x8a9136aa);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(iscsi_digest(buf, sizeof(buf)), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(iscsi_digest(buf, sizeof(buf)), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(iscsi_digest(buf, sizeof(buf)), 0x113fdb5c);
}

static void test_pdu_digest_detects_flip(void **state)
{
	uint8_t buf[ISCSI_BHS_LEN + 4];
	uint32_t crc;

	(void)state;
	iscsi_bhs_init((struct iscsi_bhs *)buf, ISCSI_OP_NOP_OUT, 0x80, 0, 7);
	crc = iscsi_digest(buf, ISCSI_BHS_LEN);
	iscsi_digest_put(buf + ISCSI_BHS_LEN, crc);
	assert_int_equal(iscsi_digest(buf, ISCSI_BHS_LEN), iscsi_digest_get(buf + ISCSI_BHS_LEN));
	buf[20] ^= 0x01;
	assert_int_not_equal(iscsi_digest(buf, ISCSI_BHS_LEN),
			     iscsi_digest_get(buf + ISCSI_BHS_LEN));
}

static void test_pdu_lun_round_trip(void **state)
{
	static const uint64_t luns[] = { 0, 1, 255, 256, 1000, 16383 };
	uint8_t p[8];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(luns); i++) {
		iscsi_lun_encode(p, luns[i]);
		assert_int_equal(iscsi_lun_decode(p), luns[i]);
	}
	iscsi_lun_encode(p, 5);
	assert_int_equal(p[0], 0);
	assert_int_equal(p[1], 5);
	iscsi_lun_encode(p, 300);
	assert_int_equal(p[0], 0x41);
	assert_int_equal(p[1], 0x2c);
}

static void test_pdu_lun_rejects_other_methods(void **state)
{
	uint8_t p[8] = { 0 };

	(void)state;
	p[0] = 0x80; /* logical unit addressing */
	assert_true(iscsi_lun_decode(p) == UINT64_MAX);
	p[0] = 0x01; /* peripheral, bus 1 */
	assert_true(iscsi_lun_decode(p) == UINT64_MAX);
	p[0] = 0;
	p[3] = 1; /* second level */
	assert_true(iscsi_lun_decode(p) == UINT64_MAX);
}

static void test_pdu_ahs_ext_cdb_and_bidi(void **state)
{
	uint8_t ahs[32] = { 0 };
	struct iscsi_cmd_ahs out;

	(void)state;
	/* extended CDB: 16 more bytes -> AHSLength 17, segment 20 bytes */
	put_be16(ahs, 17);
	ahs[2] = ISCSI_AHS_EXT_CDB;
	ahs[4] = 0xab;
	/* bidi read length */
	put_be16(ahs + 20, 5);
	ahs[22] = ISCSI_AHS_BIDI_RLEN;
	put_be32(ahs + 24, 4096);
	assert_int_equal(iscsi_ahs_parse(ahs, 28, &out), 0);
	assert_non_null(out.ext_cdb);
	assert_int_equal(out.ext_cdb_len, 16);
	assert_int_equal(out.ext_cdb[0], 0xab);
	assert_true(out.has_bidi_rlen);
	assert_int_equal(out.bidi_rlen, 4096);
}

static void test_pdu_ahs_rejects_malformed(void **state)
{
	uint8_t ahs[16] = { 0 };
	struct iscsi_cmd_ahs out;

	(void)state;
	put_be16(ahs, 200); /* longer than what is there */
	ahs[2] = ISCSI_AHS_EXT_CDB;
	assert_int_equal(iscsi_ahs_parse(ahs, 16, &out), -EINVAL);
	put_be16(ahs, 0); /* empty segment */
	assert_int_equal(iscsi_ahs_parse(ahs, 16, &out), -EINVAL);
	put_be16(ahs, 1);
	ahs[2] = 0x7f; /* unknown type */
	assert_int_equal(iscsi_ahs_parse(ahs, 4, &out), -EINVAL);
	assert_int_equal(iscsi_ahs_parse(ahs, 3, &out), -EINVAL); /* truncated header */
	put_be16(ahs, 4); /* bidi with a wrong length */
	ahs[2] = ISCSI_AHS_BIDI_RLEN;
	assert_int_equal(iscsi_ahs_parse(ahs, 8, &out), -EINVAL);
}

static void test_pdu_pad_len(void **state)
{
	(void)state;
	assert_int_equal(iscsi_pad_len(0), 0);
	assert_int_equal(iscsi_pad_len(1), 3);
	assert_int_equal(iscsi_pad_len(2), 2);
	assert_int_equal(iscsi_pad_len(3), 1);
	assert_int_equal(iscsi_pad_len(8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pdu_bhs_round_trip),
		cmocka_unit_test(test_pdu_check_rejects_oversized_dsl),
		cmocka_unit_test(test_pdu_check_rejects_target_opcodes),
		cmocka_unit_test(test_pdu_digest_vectors),
		cmocka_unit_test(test_pdu_digest_detects_flip),
		cmocka_unit_test(test_pdu_lun_round_trip),
		cmocka_unit_test(test_pdu_lun_rejects_other_methods),
		cmocka_unit_test(test_pdu_ahs_ext_cdb_and_bidi),
		cmocka_unit_test(test_pdu_ahs_rejects_malformed),
		cmocka_unit_test(test_pdu_pad_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
