/* SPDX-License-Identifier: GPL-2.0-only */
/* scsi/nolu.c: answers for LUNs that do not exist. */
#include "scsi_test.h"

static void test_inquiry_reports_no_lu(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0x12, 0, 0, 0, 96 };

	fx_run_good(fx, 7, c, 6, 96, 0);
	assert_int_equal(fx->buf[0], 0x7f);
	assert_int_equal(fx->cmd.in_len, 36);
	c[1] = 1;
	fx_run_good(fx, 7, c, 6, 96, 0);
	assert_int_equal(fx->buf[0], 0x7f);
	assert_int_equal(fx->buf[1], 0x00);
}

static void test_request_sense_is_good_with_lun_not_supported(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0x03, 0, 0, 0, 18 };

	fx_run_good(fx, 7, c, 6, 18, 0);
	assert_int_equal(fx->buf[2], SENSE_ILLEGAL_REQUEST);
	assert_int_equal(fx->buf[12], 0x25);
}

static void test_report_luns_works(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0xa0 };

	put_be32(&c[6], 64);
	fx_run_good(fx, 7, c, 12, 64, 0);
	assert_int_equal(get_be32(fx->buf), 16);
}

static void test_other_commands_fail_lun_not_supported(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0 };

	fx_run(fx, 7, c, 6, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	c[0] = 0x28;
	fx_run(fx, 7, c, 10, 512, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	c[0] = 0xa3;
	c[1] = 0x0c;
	fx_run(fx, 7, c, 12, 512, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_inquiry_reports_no_lu),
		T(test_request_sense_is_good_with_lun_not_supported),
		T(test_report_luns_works),
		T(test_other_commands_fail_lun_not_supported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
