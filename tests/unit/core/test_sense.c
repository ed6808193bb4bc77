/* SPDX-License-Identifier: GPL-2.0-only */
/* core/sense.c: fixed and descriptor formats, INFORMATION and field pointers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static void test_fixed_sense_layout(void **state)
{
	uint8_t s[SCSI_SENSE_MAX];

	(void)state;
	assert_int_equal(core_sense_build(s, false, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE), 18);
	assert_int_equal(s[0], 0x70);
	assert_int_equal(s[2], 0x05);
	assert_int_equal(s[7], 10);
	assert_int_equal(s[12], 0x21);
	assert_int_equal(s[13], 0x00);
}

static void test_descriptor_sense_layout(void **state)
{
	uint8_t s[SCSI_SENSE_MAX];

	(void)state;
	assert_int_equal(core_sense_build(s, true, SENSE_UNIT_ATTENTION, ASC_POWER_ON_RESET), 8);
	assert_int_equal(s[0], 0x72);
	assert_int_equal(s[1], 0x06);
	assert_int_equal(s[2], 0x29);
	assert_int_equal(s[7], 0);
}

static void test_field_pointer_and_info(void **state)
{
	struct scsi_cmd cmd;

	(void)state;
	memset(&cmd, 0, sizeof(cmd));
	core_cmd_fail_field(&cmd, ASC_INVALID_FIELD_IN_CDB, true, 1, 5);
	assert_int_equal(cmd.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(cmd.sense[15], 0x80 | 0x40 | 0x08 | 5);
	assert_int_equal(cmd.sense[17], 1);
	core_cmd_fail_info(&cmd, SENSE_MISCOMPARE, ASC_MISCOMPARE_VERIFY, 0x1234);
	assert_int_equal(cmd.sense[0], 0xf0);
	assert_int_equal(cmd.sense[6], 0x34);
	core_cmd_good(&cmd);
	assert_int_equal(cmd.sense_len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_sense_layout),
		cmocka_unit_test(test_descriptor_sense_layout),
		cmocka_unit_test(test_field_pointer_and_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
