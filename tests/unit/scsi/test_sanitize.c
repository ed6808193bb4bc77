/* SPDX-License-Identifier: GPL-2.0-only */
/* scsi/sbc.c, SANITIZE: the job that outlives its command, NOT READY with the progress
 * indication for other commands and in REQUEST SENSE, pacing by sanitize_rate. */
#include "scsi_test.h"

#include "scsi/scsi_int.h"

#define HELD_BLOCKS 8192u              /* 4 MiB LU behind the held store (LUN 2): 4 steps */

static struct scsi_cmd *held_cmd;
static uint8_t *held_medium;
static unsigned int held_submits;

static void held_submit(struct scsi_cmd *cmd)
{
	assert_null(held_cmd);
	held_cmd = cmd;
	held_submits++;
}

static int held_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	(void)lu;
	(void)path;
	*fd = -1;
	*size = (uint64_t)HELD_BLOCKS * 512;
	return 0;
}

static const struct core_bs held_bs = {
	.name = "held", .needs_path = true, .open = held_open, .submit = held_submit,
};

static void held_complete(void)
{
	struct scsi_cmd *cmd = held_cmd;
	struct core_io *io = &cmd->io;

	assert_non_null(cmd);
	held_cmd = NULL;
	if (io->op == CORE_IO_WRITE)
		memcpy(held_medium + io->offset, io->buf, io->length);
	else if (io->op == CORE_IO_UNMAP)
		memset(held_medium + io->offset, 0, io->length);
	io->done(cmd, (int64_t)io->length);
}

static int san_setup(void **state)
{
	struct core_lu_params p = { .device_type = "disk", .bstype = "held", .path = "/held" };
	struct fx *fx;

	fx_setup(state);
	fx = *state;
	core_root_add_bs(fx->root, &held_bs);
	assert_int_equal(core_lu_new(fx->tgt, 2, &p, NULL), 0);
	held_medium = malloc((size_t)HELD_BLOCKS * 512);
	assert_non_null(held_medium);
	memset(held_medium, 0x55, (size_t)HELD_BLOCKS * 512);
	held_cmd = NULL;
	held_submits = 0;
	return 0;
}

static int san_teardown(void **state)
{
	free(held_medium);
	held_medium = NULL;
	return fx_teardown(state);
}

static void san_done(struct scsi_cmd *cmd)
{
	(void)cmd;
}

/* Runs a 6-byte CDB on LUN 2 with a command of the test's own (fx->cmd is the SANITIZE). */
static void san_run6(struct fx *fx, struct scsi_cmd *c, const uint8_t *cdb, uint8_t *buf,
		     uint32_t len)
{
	memset(c, 0, sizeof(*c));
	c->reactor = fx->r;
	c->nexus = fx->nexus;
	c->lu = core_lu_get(fx->tgt, 2);
	c->lun = 2;
	c->cdb = cdb;
	c->cdb_len = 6;
	c->dir = SCSI_DIR_READ;
	c->buf = buf;
	c->buf_len = len;
	c->edtl = len;
	c->done = san_done;
	c->lu->dt->cmd_exec(c);
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
	assert_int_equal(held_submits, 1);
	san_run6(fx, &c, tur, NULL, 0);
	assert_int_equal(c.status, SAM_STAT_CHECK_CONDITION);
	assert_sanitize_sense(c.sense, 0);
	san_run6(fx, &c, sst, NULL, 0); /* START STOP UNIT needs no medium, still refused */
	assert_sanitize_sense(c.sense, 0);
	held_complete();
	san_run6(fx, &c, rs, data, sizeof(data));
	assert_int_equal(c.status, SAM_STAT_GOOD);
	assert_sanitize_sense(data, 0x4000);
	san_run6(fx, &c, inq, data, sizeof(data));
	assert_int_equal(c.status, SAM_STAT_GOOD);
	while (held_cmd)
		held_complete();
	fx_assert_good(fx);
	assert_int_equal(held_submits, 4);
	for (i = 0; i < HELD_BLOCKS * 512; i += 4096)
		assert_int_equal(held_medium[i], 0xa5);
	san_run6(fx, &c, tur, NULL, 0);
	assert_int_equal(c.status, SAM_STAT_GOOD);
	san_run6(fx, &c, rs, data, sizeof(data));
	assert_int_equal(data[2] & 0x0f, SENSE_NO_SENSE);
}

static void test_sanitize_survives_the_abort_of_its_command(void **state)
{
	struct fx *fx = *state;
	uint8_t tur[6] = { 0 };
	struct scsi_cmd c;

	san_overwrite(fx, 0x3c);
	held_complete();
	fx->cmd.aborted = true; /* ABORT TASK, a reset or a lost connection */
	held_complete();
	assert_int_equal(fx->done, 1); /* the command is answered (dropped by the LLD) */
	assert_non_null(held_cmd);     /* the sanitize goes on */
	san_run6(fx, &c, tur, NULL, 0);
	assert_sanitize_sense(c.sense, 0x8000);
	while (held_cmd)
		held_complete();
	assert_int_equal(fx->done, 1);
	assert_int_equal(held_medium[HELD_BLOCKS * 512 - 1], 0x3c);
	san_run6(fx, &c, tur, NULL, 0);
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
	held_complete();
	assert_null(held_cmd); /* the next MiB waits for its time (about 50 ms at 20 MiB/s) */
	while (!held_cmd)
		assert_true(reactor_run_once(fx->r, 100) >= 0);
	while (held_cmd) {
		held_complete();
		while (!held_cmd && !fx->done)
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
	while (held_cmd)
		held_complete();
	fx_assert_good(fx);
	assert_int_equal(held_submits, 4);
	assert_int_equal(held_medium[12345], 0);
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
	fx_run(fx, 2, c, 10, 5, 5);
	fx_assert_good(fx);
	assert_non_null(held_cmd);
	san_run6(fx, &t, tur, NULL, 0);
	assert_sanitize_sense(t.sense, 0);
	fx_run(fx, 2, c, 10, 5, 5); /* a second SANITIZE meanwhile: NOT READY */
	fx_assert_sense(fx, SENSE_NOT_READY, 0x041b);
	while (held_cmd)
		held_complete();
	san_run6(fx, &t, tur, NULL, 0);
	assert_int_equal(t.status, SAM_STAT_GOOD);
	assert_int_equal(held_medium[0], 0x77);
}

#define T(f) cmocka_unit_test_setup_teardown(f, san_setup, san_teardown)

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
