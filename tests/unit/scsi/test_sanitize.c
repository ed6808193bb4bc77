/* SPDX-License-Identifier: GPL-2.0-only */
/* scsi/sbc.c, SANITIZE: the job that outlives its command, NOT READY with the progress
 * indication for other commands and in REQUEST SENSE, pacing by sanitize_rate. */
#include "scsi_test.h"

#include "scsi/scsi_int.h"

/* The held store's LU (LUN 2, 4 MiB: 4 steps) starts as 0x55 everywhere. */
static int san_setup(void **state)
{
	return fx_held_setup(state, 0x55);
}

/* SANITIZE OVERWRITE of LUN 2 with a one-byte pattern. */
static void san_overwrite(struct fx *fx, uint8_t pattern)
{
	uint8_t c[10] = { 0x48, 0x01, 0, 0, 0, 0, 0, 0, 5, 0 };

	fx->buf[0] = 0x01; /* OVERWRITE COUNT 1 */
	fx->buf[1] = 0;
	put_be16(&fx->buf[2], 1);
	fx->buf[4] = pattern;
	fx_run(fx, 2, c, 10, 5, 5);
}

static void assert_sanitize_sense(const uint8_t *s, uint16_t progress)
{
	assert_int_equal(s[0] & 0x7f, 0x70);
	assert_int_equal(s[2] & 0x0f, SENSE_NOT_READY);
	assert_int_equal(get_be16(&s[12]), 0x041b);
	assert_int_equal(s[15], 0x80); /* SKSV, progress indication */
	assert_int_equal(get_be16(&s[16]), progress);
}

static void test_sanitize_reports_progress_and_blocks_media_commands(void **state)
{
	struct fx *fx = *state;
	uint8_t tur[6] = { 0 }, rs[6] = { 0x03, 0, 0, 0, 96, 0 };
	uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 }, sst[6] = { 0x1b, 0, 0, 0, 1, 0 };
	uint8_t data[96];
	struct scsi_cmd c;
	uint32_t i;

	san_overwrite(fx, 0xa5);
	assert_int_equal(fx->done, 0);
	assert_int_equal(fx->held_submits, 1);
	fx_run_on(fx, &c, 2, tur, 6, NULL, 0, 0);
	assert_int_equal(c.status, SAM_STAT_CHECK_CONDITION);
	assert_sanitize_sense(c.sense, 0);
	/* START STOP UNIT needs no medium, still refused */
	fx_run_on(fx, &c, 2, sst, 6, NULL, 0, 0);
	assert_sanitize_sense(c.sense, 0);
	fx_held_complete(fx);
	fx_run_on(fx, &c, 2, rs, 6, data, sizeof(data), 0);
	assert_int_equal(c.status, SAM_STAT_GOOD);
	assert_sanitize_sense(data, 0x4000);
	fx_run_on(fx, &c, 2, inq, 6, data, sizeof(data), 0);
	assert_int_equal(c.status, SAM_STAT_GOOD);
	while (fx->held)
		fx_held_complete(fx);
	fx_assert_good(fx);
	assert_int_equal(fx->held_submits, 4);
	for (i = 0; i < FX_HELD_BLOCKS * 512; i += 4096)
		assert_int_equal(fx->held_medium[i], 0xa5);
	fx_run_on(fx, &c, 2, tur, 6, NULL, 0, 0);
	assert_int_equal(c.status, SAM_STAT_GOOD);
	fx_run_on(fx, &c, 2, rs, 6, data, sizeof(data), 0);
	assert_int_equal(data[2] & 0x0f, SENSE_NO_SENSE);
}

static void test_sanitize_survives_the_abort_of_its_command(void **state)
{
	struct fx *fx = *state;
	uint8_t tur[6] = { 0 };
	struct scsi_cmd c;

	san_overwrite(fx, 0x3c);
	fx_held_complete(fx);
	fx->cmd.aborted = true; /* ABORT TASK, a reset or a lost connection */
	fx_held_complete(fx);
	assert_int_equal(fx->done, 1); /* the command is answered (dropped by the LLD) */
	assert_non_null(fx->held);     /* the sanitize goes on */
	fx_run_on(fx, &c, 2, tur, 6, NULL, 0, 0);
	assert_sanitize_sense(c.sense, 0x8000);
	while (fx->held)
		fx_held_complete(fx);
	assert_int_equal(fx->done, 1);
	assert_int_equal(fx->held_medium[FX_HELD_BLOCKS * 512 - 1], 0x3c);
	fx_run_on(fx, &c, 2, tur, 6, NULL, 0, 0);
	assert_int_equal(c.status, SAM_STAT_GOOD);
}

static void test_sanitize_rate_paces_the_overwrite(void **state)
{
	struct fx *fx = *state;
	struct core_lu *lu = core_lu_find(fx->tgt, 2);
	uint64_t t0 = time_now_ms();

	assert_int_equal(core_lu_config(lu, "sanitize_rate", "x"), -EINVAL);
	assert_int_equal(core_lu_config(lu, "sanitize_rate", "20"), 0);
	san_overwrite(fx, 0x11);
	fx_held_complete(fx);
	assert_null(fx->held); /* the next MiB waits for its time (about 50 ms at 20 MiB/s) */
	while (!fx->held)
		assert_true(reactor_run_once(fx->r, 100) >= 0);
	while (fx->held) {
		fx_held_complete(fx);
		while (!fx->held && !fx->done)
			assert_true(reactor_run_once(fx->r, 100) >= 0);
	}
	fx_assert_good(fx);
	assert_true(time_now_ms() - t0 >= 140); /* 4 MiB at 20 MiB/s: 3 waits of ~49 ms */
	assert_int_equal(core_lu_config(lu, "sanitize_rate", "0"), 0);
}

static void test_block_erase_unmaps_on_thin_lus(void **state)
{
	struct fx *fx = *state;
	uint8_t c[10] = { 0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0 };

	fx_run(fx, 2, c, 10, 0, 0);
	fx_assert_field(fx, 1, 4); /* BLOCK ERASE exists on thin LUs only */
	core_lu_find(fx->tgt, 2)->thin = true;
	fx_run(fx, 2, c, 10, 0, 0);
	while (fx->held)
		fx_held_complete(fx);
	fx_assert_good(fx);
	assert_int_equal(fx->held_submits, 4);
	assert_int_equal(fx->held_medium[12345], 0);
}

static void test_sanitize_immed_answers_at_once(void **state)
{
	struct fx *fx = *state;
	uint8_t c[10] = { 0x48, 0x81, 0, 0, 0, 0, 0, 0, 5, 0 }, tur[6] = { 0 };
	struct scsi_cmd t;

	fx->buf[0] = 0x01;
	fx->buf[1] = 0;
	put_be16(&fx->buf[2], 1);
	fx->buf[4] = 0x77;
	fx_run_good(fx, 2, c, 10, 5, 5);
	assert_non_null(fx->held);
	fx_run_on(fx, &t, 2, tur, 6, NULL, 0, 0);
	assert_sanitize_sense(t.sense, 0);
	fx_run(fx, 2, c, 10, 5, 5); /* a second SANITIZE meanwhile: NOT READY */
	fx_assert_sense(fx, SENSE_NOT_READY, 0x041b);
	while (fx->held)
		fx_held_complete(fx);
	fx_run_on(fx, &t, 2, tur, 6, NULL, 0, 0);
	assert_int_equal(t.status, SAM_STAT_GOOD);
	assert_int_equal(fx->held_medium[0], 0x77);
}

#define T(f) cmocka_unit_test_setup_teardown(f, san_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sanitize_reports_progress_and_blocks_media_commands),
		T(test_sanitize_survives_the_abort_of_its_command),
		T(test_sanitize_rate_paces_the_overwrite),
		T(test_block_erase_unmaps_on_thin_lus),
		T(test_sanitize_immed_answers_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
