// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the cd/dvd device type (src/scsi/mmc.c) on the scsi fixture: an image on the
 * fake store, an empty drive, READ TOC formats, GET CONFIGURATION, media events, eject/load.
 */
#include "scsi_test.h"

#include <fcntl.h>

#define CD_LUN 2
#define EMPTY_LUN 3

static int mmc_setup(void **state)
{
	struct core_lu_params cd = { .device_type = "cd", .bstype = "fake", .path = "/x.iso" };
	struct core_lu_params empty = { .device_type = "cd", .bstype = "fake" };
	struct core_lu *lu;
	struct fx *fx;

	fx_setup(state);
	fx = *state;
	assert_int_equal(core_lu_new(fx->tgt, CD_LUN, &cd, &lu), 0);
	lu->fd = open("/dev/null", O_RDONLY);              /* the fake store has no descriptor */
	lu->online = true;
	assert_int_equal(core_lu_new(fx->tgt, EMPTY_LUN, &empty, NULL), 0);
	core_ua_clear(fx->nexus);
	return 0;
}

static void cdb10(uint8_t *c, uint8_t op, uint8_t b1, uint32_t lba, uint8_t b6, uint16_t alloc)
{
	memset(c, 0, 10);
	c[0] = op;
	c[1] = b1;
	put_be32(&c[2], lba);
	c[6] = b6;
	put_be16(&c[7], alloc);
}

static void test_mmc_read_capacity_and_read(void **state)
{
	struct fx *fx = *state;
	uint8_t c[10];

	cdb10(c, 0x25, 0, 0, 0, 0);
	fx_run_good(fx, CD_LUN, c, 10, 8, 0);
	assert_int_equal(get_be32(fx->buf), FX_BLOCKS * 512 / 2048 - 1);
	assert_int_equal(get_be32(&fx->buf[4]), 2048);
	memset(fx->medium + 2048, 0xab, 2048);
	cdb10(c, 0x28, 0, 1, 0, 1);
	fx_run_good(fx, CD_LUN, c, 10, 2048, 0);
	assert_int_equal(fx->io.offset, 2048);
	assert_int_equal(fx->buf[0], 0xab);
	cdb10(c, 0x28, 0, 512, 0, 1);
	fx_run(fx, CD_LUN, c, 10, 2048, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

static void test_mmc_empty_drive_not_ready(void **state)
{
	struct fx *fx = *state;
	uint8_t tur[6] = { 0 };
	uint8_t c[10];

	fx_run(fx, EMPTY_LUN, tur, 6, 0, 0);
	fx_assert_sense(fx, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
	cdb10(c, 0x46, 0, 0, 0, 64);
	fx_run_good(fx, EMPTY_LUN, c, 10, 64, 0);
	assert_int_equal(get_be16(&fx->buf[6]), 0);        /* no current profile */
}

static void test_mmc_read_toc_formats(void **state)
{
	struct fx *fx = *state;
	uint8_t c[10];

	cdb10(c, 0x43, 0, 0, 0, 64);
	fx_run_good(fx, CD_LUN, c, 10, 64, 0);
	assert_int_equal(get_be16(fx->buf), 18);
	assert_int_equal(fx->buf[14], 0xaa);
	assert_int_equal(get_be32(&fx->buf[16]), 512);
	cdb10(c, 0x43, 0, 0, 0xaa, 64);                    /* lead-out only */
	fx_run_good(fx, CD_LUN, c, 10, 64, 0);
	assert_int_equal(get_be16(fx->buf), 10);
	c[2] = 1;
	c[6] = 0;
	fx_run_good(fx, CD_LUN, c, 10, 64, 0);
	assert_int_equal(get_be16(fx->buf), 10);
	c[2] = 2;
	fx_run_good(fx, CD_LUN, c, 10, 64, 0);
	assert_int_equal(get_be16(fx->buf), 46);
	c[2] = 3;
	fx_run(fx, CD_LUN, c, 10, 64, 0);
	fx_assert_field(fx, 2, 3);
}

static void test_mmc_configuration_rt(void **state)
{
	struct fx *fx = *state;
	uint8_t c[10];

	cdb10(c, 0x46, 2, 0, 0, 64);
	put_be16(&c[2], 0x0010);                           /* RT=2: only Random Readable */
	fx_run_good(fx, CD_LUN, c, 10, 64, 0);
	assert_int_equal(get_be32(fx->buf), 4 + 12);
	assert_int_equal(get_be16(&fx->buf[8]), 0x0010);
	assert_int_equal(fx->buf[10] & 0x01, 1);           /* current */
	c[1] = 3;
	fx_run(fx, CD_LUN, c, 10, 64, 0);
	fx_assert_field(fx, 1, 1);
}

static void test_mmc_eject_prevented_then_events(void **state)
{
	struct fx *fx = *state;
	uint8_t prevent[6] = { 0x1e, 0, 0, 0, 1, 0 };
	uint8_t eject[6] = { 0x1b, 0, 0, 0, 2, 0 };
	uint8_t c[10];

	fx_run_good(fx, CD_LUN, prevent, 6, 0, 0);
	fx_run(fx, CD_LUN, eject, 6, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, 0x5302);
	prevent[4] = 0;
	fx_run(fx, CD_LUN, prevent, 6, 0, 0);
	fx_run_good(fx, CD_LUN, eject, 6, 0, 0);
	cdb10(c, 0x4a, 1, 0, 0, 8);
	c[4] = 0x10;
	fx_run_good(fx, CD_LUN, c, 10, 8, 0);
	assert_int_equal(fx->buf[4], 3);                   /* media removal */
	assert_int_equal(fx->buf[5], 0x01);                /* tray open */
	fx_run(fx, CD_LUN, c, 10, 8, 0);
	assert_int_equal(fx->buf[4], 0);                   /* reported once */
	c[1] = 0;
	fx_run(fx, CD_LUN, c, 10, 8, 0);
	fx_assert_field(fx, 1, 0);                         /* asynchronous GESN */
}

/* Closing the tray on a disc: a new media event and 28/00 for every nexus. */
static void test_mmc_load_unit_attention(void **state)
{
	struct fx *fx = *state;
	uint8_t tray[6] = { 0x1b, 0, 0, 0, 2, 0 };
	uint16_t code = 0;

	fx_run(fx, CD_LUN, tray, 6, 0, 0);                 /* open: no unit attention */
	fx_assert_good(fx);
	assert_false(core_ua_take(fx->nexus, CD_LUN, &code));
	tray[4] = 3;
	fx_run(fx, CD_LUN, tray, 6, 0, 0);                 /* close */
	fx_assert_good(fx);
	assert_true(core_ua_take(fx->nexus, CD_LUN, &code));
	assert_int_equal(code, ASC_NOT_READY_TO_READY);
	assert_true(core_ua_take(fx->other, CD_LUN, &code));
	fx_run(fx, CD_LUN, tray, 6, 0, 0);                 /* closed already: none */
	assert_false(core_ua_take(fx->nexus, CD_LUN, &code));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mmc_read_capacity_and_read, mmc_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_mmc_empty_drive_not_ready, mmc_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_mmc_read_toc_formats, mmc_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_mmc_configuration_rt, mmc_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_mmc_eject_prevented_then_events, mmc_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_mmc_load_unit_attention, mmc_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
