// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the media changer device type (src/scsi/smc.c): tgt's --params keys build
 * the element table, READ ELEMENT STATUS reports it, MOVE MEDIUM between slots.
 */
#include "scsi_test.h"

#define CH_LUN 4

static int smc_setup(void **state)
{
	struct core_lu_params p = { .device_type = "changer", .bstype = "null" };
	static const char *const params[][2] = {
		{ "element_type", "1" }, { "start_address", "1" }, { "quantity", "1" },
		{ "element_type", "2" }, { "start_address", "100" }, { "quantity", "4" },
		{ "address", "100" }, { "barcode", "ABC001" },
		{ "element_type", "3" }, { "quantity", "1" }, { "start_address", "50" },
	};
	struct core_lu *lu;
	struct fx *fx;
	unsigned int i;

	fx_setup(state);
	fx = *state;
	assert_int_equal(core_lu_new(fx->tgt, CH_LUN, &p, &lu), 0);
	for (i = 0; i < ARRAY_SIZE(params); i++)
		assert_int_equal(core_lu_config(lu, params[i][0], params[i][1]), 0);
	assert_int_equal(core_lu_config(lu, "address", "999"), -EINVAL);
	assert_int_equal(core_lu_config(lu, "element_type", "5"), -EINVAL);
	assert_int_equal(core_lu_config(lu, "lun", "x"), -EINVAL);
	assert_int_equal(core_lu_config(lu, "nonsense", "1"), -ENOENT);
	assert_int_equal(core_lu_config(lu, "element_type", "2"), 0);
	assert_int_equal(core_lu_config(lu, "address", "101"), 0);
	assert_int_equal(core_lu_config(lu, "barcode", "TOOLONGBARCODE"), -EINVAL);
	core_ua_clear(fx->nexus);
	return 0;
}

static void res_cdb(uint8_t *c, uint8_t b1, uint16_t start, uint16_t n, uint32_t alloc)
{
	memset(c, 0, 12);
	c[0] = 0xb8;
	c[1] = b1;
	put_be16(&c[2], start);
	put_be16(&c[4], n);
	put_be24(&c[7], alloc);
}

static void move_cdb(uint8_t *c, uint16_t src, uint16_t dst)
{
	memset(c, 0, 12);
	c[0] = 0xa5;
	put_be16(&c[2], 1);
	put_be16(&c[4], src);
	put_be16(&c[6], dst);
}

static void test_smc_read_element_status(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint8_t c[12];

	res_cdb(c, 0x12, 0, 100, 1024);                    /* storage, VOLTAG */
	fx_run_good(fx, CH_LUN, c, 12, 1024, 0);
	assert_int_equal(get_be16(d), 100);
	assert_int_equal(get_be16(&d[2]), 4);
	assert_int_equal(d[8], 2);
	assert_int_equal(d[9], 0x80);                      /* PVolTag */
	assert_int_equal(get_be16(&d[10]), 48);
	assert_int_equal(d[16 + 2] & 1, 1);                /* slot 100 full */
	assert_memory_equal(&d[16 + 12], "ABC001  ", 8);
	res_cdb(c, 0, 0, 100, 1024);                       /* all types */
	fx_run_good(fx, CH_LUN, c, 12, 1024, 0);
	assert_int_equal(get_be16(&d[2]), 6);
	assert_int_equal(d[8], 1);
	res_cdb(c, 0, 0, 100, 8);                          /* header only */
	fx_run_good(fx, CH_LUN, c, 12, 8, 0);
	assert_int_equal(fx->cmd.in_len, 8);
}

static void test_smc_move_medium(void **state)
{
	struct fx *fx = *state;
	uint8_t c[12];

	move_cdb(c, 100, 50);
	fx_run_good(fx, CH_LUN, c, 12, 0, 0);
	fx_run(fx, CH_LUN, c, 12, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, 0x3b0e);
	move_cdb(c, 50, 50);
	fx_run_good(fx, CH_LUN, c, 12, 0, 0);
	move_cdb(c, 50, 7);
	fx_run(fx, CH_LUN, c, 12, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, 0x2101);
	res_cdb(c, 0x13, 0, 10, 256);                      /* import/export */
	fx_run_good(fx, CH_LUN, c, 12, 256, 0);
	assert_int_equal(fx->buf[16 + 2] & 1, 1);
	assert_int_equal(fx->buf[16 + 9], 0x80);           /* SValid */
	assert_int_equal(get_be16(&fx->buf[16 + 10]), 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_smc_read_element_status, smc_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_smc_move_medium, smc_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
