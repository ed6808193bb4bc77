/* SPDX-License-Identifier: GPL-2.0-only */
/* scsi/mode.c: MODE SENSE(6/10) page lengths, page control, block descriptors; MODE
 * SELECT(6/10) validation, application and the unit attention it raises. */
#include "scsi_test.h"

static void cdb_ms6(uint8_t *c, bool dbd, uint8_t pc, uint8_t page, uint8_t sub, uint8_t alloc)
{
	memset(c, 0, 16);
	c[0] = 0x1a;
	c[1] = dbd ? 0x08 : 0;
	c[2] = (uint8_t)(pc << 6 | page);
	c[3] = sub;
	c[4] = alloc;
}

static void test_mode_sense6_all_pages(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint8_t c[16];

	cdb_ms6(c, false, 0, 0x3f, 0, 255);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(fx->cmd.in_len, 4 + 8 + 12 + 20 + 12);
	assert_int_equal(d[0], 4 + 8 + 12 + 20 + 12 - 1);
	assert_int_equal(d[2], 0x10);                        /* DPOFUA, not WP */
	assert_int_equal(d[3], 8);
	assert_int_equal(get_be32(&d[4]), FX_BLOCKS);
	assert_int_equal(get_be24(&d[9]), 512);
	assert_int_equal(d[12], 0x01);
	assert_int_equal(d[13], 0x0a);
	assert_int_equal(d[24], 0x08);
	assert_int_equal(d[25], 0x12);
	assert_int_equal(d[26] & 0x04, 0x04);                /* WCE */
	assert_int_equal(d[44], 0x0a);
	assert_int_equal(d[45], 0x0a);
	assert_int_equal(get_be16(&d[52]), 0xffff);          /* busy timeout */
	/* allocation length 4: exactly 4 bytes, no overflow claimed */
	cdb_ms6(c, false, 0, 0x3f, 0, 4);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(fx->cmd.in_len, 4);
}

static void test_mode_sense6_single_pages_and_dbd(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint8_t c[16];

	fx->disk->write_cache = false;
	fx->disk->readonly = true;
	cdb_ms6(c, true, 0, 0x08, 0, 255);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(fx->cmd.in_len, 4 + 20);
	assert_int_equal(d[2], 0x90);                        /* WP, DPOFUA */
	assert_int_equal(d[3], 0);
	assert_int_equal(d[4], 0x08);
	assert_int_equal(d[6] & 0x04, 0);
	cdb_ms6(c, true, 1, 0x0a, 0, 255);                   /* changeable values */
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(d[6], 0x04);                        /* D_SENSE */
	assert_int_equal(d[8], 0x08);                        /* SWP */
	cdb_ms6(c, true, 0, 0x0a, 0xff, 255);                /* all subpages of 0Ah */
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(fx->cmd.in_len, 4 + 12);
}

static void test_mode_sense_errors(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	cdb_ms6(c, false, 3, 0x3f, 0, 255);
	fx_run(fx, 1, c, 6, 255, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_UNSUP);
	cdb_ms6(c, false, 0, 0x1c, 0, 255);
	fx_run(fx, 1, c, 6, 255, 0);
	fx_assert_field(fx, 2, 5);
	cdb_ms6(c, false, 0, 0x0a, 0x01, 255);
	fx_run(fx, 1, c, 6, 255, 0);
	fx_assert_field(fx, 3, -1);
	cdb_ms6(c, false, 0, 0x3f, 0, 255);
	c[1] = 0x10;                                         /* LLBAA is MODE SENSE(10) only */
	fx_run(fx, 1, c, 6, 255, 0);
	fx_assert_field(fx, 1, 4);
}

static void test_mode_sense10_long_lba(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint8_t c[16] = { 0x5a, 0x10, 0x08 };

	put_be16(&c[7], 512);
	fx_run_good(fx, 1, c, 10, 512, 0);
	assert_int_equal(fx->cmd.in_len, 8 + 16 + 20);
	assert_int_equal(get_be16(d), 8 + 16 + 20 - 2);
	assert_int_equal(d[4], 0x01);                        /* LONGLBA */
	assert_int_equal(get_be16(&d[6]), 16);
	assert_int_equal(get_be64(&d[8]), FX_BLOCKS);
	assert_int_equal(get_be32(&d[20]), 512);
	assert_int_equal(d[24], 0x08);
}

/* MODE SELECT(6) with one page, as libiscsi and Linux send it. */
static void ms6_send(struct fx *fx, uint8_t b1, const uint8_t *page, uint8_t len)
{
	uint8_t c[16] = { 0x15, b1, 0, 0, (uint8_t)(4 + len) };
	static uint8_t cdb[16];

	memcpy(cdb, c, sizeof(c));
	memset(fx->buf, 0, 4);
	memcpy(fx->buf + 4, page, len);
	fx_run(fx, 1, cdb, 6, 4u + len, 4u + len);
}

static void test_mode_select_control_d_sense_and_swp(void **state)
{
	struct fx *fx = *state;
	uint8_t ctl[12] = { 0x0a, 0x0a, 0x22 | 0x04, 0x10, 0x08, 0, 0, 0, 0xff, 0xff, 0, 0 };
	uint8_t w[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint16_t asc;

	ms6_send(fx, 0x10, ctl, sizeof(ctl));
	fx_assert_good(fx);
	assert_true(fx->disk->d_sense);
	assert_true(fx->disk->swp);
	/* the other nexus learns the change, the sender does not */
	assert_true(core_ua_take(fx->other, 1, &asc));
	assert_int_equal(asc, ASC_MODE_PARAMETERS_CHANGED);
	assert_false(core_ua_take(fx->nexus, 1, &asc));
	/* writes are now refused, in descriptor format */
	fx_run(fx, 1, w, 10, 512, 512);
	assert_int_equal(fx->cmd.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(fx->cmd.sense[0], 0x72);
	assert_int_equal(fx->cmd.sense[1], SENSE_DATA_PROTECT);
	assert_int_equal(fx->cmd.sense[2], 0x27);
	ctl[2] = 0x22;                       /* TST 001b */
	ctl[4] = 0;
	ms6_send(fx, 0x10, ctl, sizeof(ctl));
	fx_assert_good(fx);
	assert_false(fx->disk->d_sense);
	assert_false(fx->disk->swp);
}

static void test_mode_select_caching_wce(void **state)
{
	struct fx *fx = *state;
	uint8_t cache[20] = { 0x08, 0x12, 0x00 };
	uint8_t c[16] = { 0x55, 0x10 };

	/* MODE SELECT(10): 8-byte header, no block descriptor */
	put_be16(&c[7], 8 + 20);
	memset(fx->buf, 0, 8);
	memcpy(fx->buf + 8, cache, 20);
	fx_run_good(fx, 1, c, 10, 28, 28);
	assert_false(fx->disk->write_cache);
}

static void test_mode_select_rejects_bad_lists(void **state)
{
	struct fx *fx = *state;
	uint8_t ctl[12] = { 0x0a, 0x0a, 0x22, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0 };
	const uint8_t *s = fx->cmd.sense;

	ctl[3] = 0x12;                       /* QERR is not changeable */
	ms6_send(fx, 0x10, ctl, sizeof(ctl));
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	assert_int_equal(s[15], 0x80 | 0x08 | 1);           /* SKSV, parameter data, bit 1 */
	assert_int_equal(get_be16(&s[16]), 4 + 3);
	ctl[3] = 0x10;
	ms6_send(fx, 0x11, ctl, sizeof(ctl));              /* SP */
	fx_assert_field(fx, 1, 0);
	ms6_send(fx, 0x00, ctl, sizeof(ctl));              /* PF=0 */
	fx_assert_field(fx, 1, 4);
	ms6_send(fx, 0x10, ctl, 6);                        /* page cut short */
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
	ctl[0] = 0x1c;                                     /* unknown page */
	ms6_send(fx, 0x10, ctl, sizeof(ctl));
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	assert_false(fx->disk->d_sense);
	assert_true(fx->disk->write_cache);
}

/* A page repeated in one list: the second, bad copy keeps the first from being applied. */
static void test_mode_select_is_all_or_nothing(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0x15, 0x10, 0, 0, 4 + 24 };
	uint8_t *p = fx->buf + 4;

	memset(fx->buf, 0, 4 + 24);
	p[0] = 0x0a;
	p[1] = 0x0a;
	p[2] = 0x26;
	p[3] = 0x10;
	put_be16(&p[8], 0xffff);
	memcpy(p + 12, p, 12);
	p[12 + 5] = 0x40;                    /* TAS: not changeable */
	fx_run(fx, 1, c, 6, 28, 28);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	assert_false(fx->disk->d_sense);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_mode_sense6_all_pages),
		T(test_mode_sense6_single_pages_and_dbd),
		T(test_mode_sense_errors),
		T(test_mode_sense10_long_lba),
		T(test_mode_select_control_d_sense_and_swp),
		T(test_mode_select_caching_wce),
		T(test_mode_select_rejects_bad_lists),
		T(test_mode_select_is_all_or_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
