/* SPDX-License-Identifier: GPL-2.0-only */
/* scsi/dispatch.c: table lookup and the generic checks, proved over every opcode the
 * device types report (the report and the checks read the same table). */
#include "scsi_test.h"

/* Reads REPORT SUPPORTED OPERATION CODES (all) of LUN lun into list; returns its length. */
static uint32_t rsoc_all(struct fx *fx, uint64_t lun, uint8_t *list, uint32_t size)
{
	uint8_t c[16] = { 0xa3, 0x0c };
	uint32_t len;

	put_be32(&c[6], size);
	fx_run_good(fx, lun, c, 12, size, 0);
	len = 4 + get_be32(fx->buf);
	assert_true(len <= size);
	memcpy(list, fx->buf, len);
	return len;
}

static bool rsoc_has(const uint8_t *list, uint32_t len, uint8_t op)
{
	uint32_t off;

	for (off = 4; off + 8 <= len; off += 8)
		if (list[off] == op)
			return true;
	return false;
}

static void check_unknown_opcodes(struct fx *fx, uint64_t lun)
{
	uint8_t list[4096], c[16];
	uint32_t len = rsoc_all(fx, lun, list, sizeof(list));
	unsigned int op;

	for (op = 0; op < 256; op++) {
		if (rsoc_has(list, len, (uint8_t)op))
			continue;
		memset(c, 0, sizeof(c));
		c[0] = (uint8_t)op;
		fx_run(fx, lun, c, 16, 512, 0);
		fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	}
}

static void test_unknown_opcodes_are_invalid_opcode(void **state)
{
	struct fx *fx = *state;

	check_unknown_opcodes(fx, 1);
	check_unknown_opcodes(fx, 0);
	fx->disk->thin = true;
	check_unknown_opcodes(fx, 1);
	assert_int_equal(fx->submits, 0);
}

/* Sets, one at a time, every CDB bit outside the usage data of the command and expects
 * INVALID FIELD IN CDB pointing at exactly that bit. */
static void check_reserved_bits(struct fx *fx, uint64_t lun, uint8_t op, bool servactv,
				uint16_t sa)
{
	uint8_t c[16] = { 0xa3, 0x0c }, usage[16], cdb[16];
	unsigned int len, i;
	int bit;

	c[2] = servactv ? 2 : 1;
	c[3] = op;
	put_be16(&c[4], sa);
	put_be32(&c[6], 64);
	fx_run_good(fx, lun, c, 12, 64, 0);
	len = get_be16(&fx->buf[2]);
	assert_true(len >= 6 && len <= 16);
	memcpy(usage, &fx->buf[4], len);
	assert_int_equal(usage[0], op);
	for (i = 1; i + 1 < len; i++) {
		for (bit = 7; bit >= 0; bit--) {
			uint8_t m = (uint8_t)(1u << bit);

			if ((usage[i] & m) || (i == 1 && servactv && m <= 0x10))
				continue;
			memset(cdb, 0, sizeof(cdb));
			cdb[0] = op;
			cdb[1] = (uint8_t)sa;
			cdb[i] |= m;
			fx_run(fx, lun, cdb, 16, 512, 0);
			fx_assert_field(fx, (uint16_t)i, bit);
		}
	}
	/* control byte: NACA and LINK */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = op;
	cdb[1] = (uint8_t)sa;
	cdb[len - 1] = 0x01;
	fx_run(fx, lun, cdb, 16, 512, 0);
	fx_assert_field(fx, (uint16_t)(len - 1), 0);
}

static void test_reserved_bits_of_every_command(void **state)
{
	struct fx *fx = *state;
	uint8_t list[4096];
	uint64_t lun;
	uint32_t off, len;

	fx->disk->thin = true;  /* UNMAP too */
	for (lun = 0; lun < 2; lun++) {
		len = rsoc_all(fx, lun, list, sizeof(list));
		for (off = 4; off + 8 <= len; off += 8) {
			bool servactv = list[off + 5] & 0x01;

			check_reserved_bits(fx, lun, list[off], servactv,
					    get_be16(&list[off + 2]));
		}
	}
	assert_int_equal(fx->submits, 0);
}

static void test_short_cdb_and_unknown_service_action(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0x28 };

	fx_run(fx, 1, c, 6, 512, 0);         /* READ(10) in a 6-byte CDB */
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	c[0] = 0xa3;
	c[1] = 0x0b;                         /* REPORT ALIASES: not supported */
	fx_run(fx, 1, c, 12, 512, 0);
	fx_assert_field(fx, 1, 4);
}

static void test_offline_lu_allows_only_medium_free_commands(void **state)
{
	struct fx *fx = *state;
	uint8_t inq[16] = { 0x12, 0, 0, 0, 36 };
	uint8_t cap[16] = { 0x25 };

	fx->disk->online = false;
	fx_run_good(fx, 1, inq, 6, 36, 0);
	fx_run(fx, 1, cap, 10, 8, 0);
	fx_assert_sense(fx, SENSE_NOT_READY, ASC_LUN_NOT_READY_OFFLINE);
	fx->disk->online = true;
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_unknown_opcodes_are_invalid_opcode),
		T(test_reserved_bits_of_every_command),
		T(test_short_cdb_and_unknown_service_action),
		T(test_offline_lu_allows_only_medium_free_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
