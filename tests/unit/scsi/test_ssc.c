// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the tape device type (src/scsi/ssc.c) over a real cartridge file in a temp
 * directory, opened by a test "ssc" store: records and filemarks, SPACE, READ POSITION,
 * LOCATE, fixed mode via MODE SELECT, the end of medium and a damaged record.
 */
#include "scsi_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "scsi/ssc_format.h"

#define TAPE_LUN 2

static char tape_path[64];

static int tape_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	(void)lu;
	*fd = open(path, O_RDWR);
	*size = 0;
	return *fd < 0 ? -errno : 0;
}

static void tape_close(struct core_lu *lu)
{
	if (lu->fd >= 0)
		close(lu->fd);
	lu->fd = -1;
}

static const struct core_bs tape_bs = {
	.name = "ssc", .open = tape_open, .submit = fx_bs_submit, .close = tape_close,
};

static void tape_make(uint64_t capacity)
{
	struct ssc_fmt_hdr h = { .version = SSC_FMT_VERSION, .capacity = capacity };
	struct ssc_fmt_rec eod = { .type = SSC_REC_EOD };
	uint8_t hb[SSC_FMT_HDR_SIZE], rb[SSC_FMT_REC_SIZE];
	int fd;

	memcpy(h.barcode, "T1", 3);
	ssc_fmt_hdr_encode(&h, hb);
	ssc_fmt_rec_encode(&eod, rb);
	snprintf(tape_path, sizeof(tape_path), "/tmp/utgt-ssc-XXXXXX");
	fd = mkstemp(tape_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hb, sizeof(hb)), sizeof(hb));
	assert_int_equal(write(fd, rb, sizeof(rb)), sizeof(rb));
	close(fd);
}

static int ssc_setup_cap(void **state, uint64_t capacity)
{
	struct core_lu_params p = { .device_type = "tape", .bstype = "ssc" };
	struct fx *fx;

	tape_make(capacity);
	p.path = tape_path;
	fx_setup(state);
	fx = *state;
	core_root_add_bs(fx->root, &tape_bs);
	assert_int_equal(core_lu_new(fx->tgt, TAPE_LUN, &p, NULL), 0);
	core_ua_clear(fx->nexus);
	return 0;
}

static int ssc_setup(void **state)
{
	return ssc_setup_cap(state, 64u << 20);
}

static int ssc_setup_small(void **state)
{
	return ssc_setup_cap(state, 64u << 10);
}

static int ssc_teardown(void **state)
{
	unlink(tape_path);
	return fx_teardown(state);
}

static void cdb6(uint8_t *c, uint8_t op, uint8_t b1, int32_t n)
{
	c[0] = op;
	c[1] = b1;
	put_be24(&c[2], (uint32_t)n & 0xffffff);
	c[5] = 0;
}

static void tape_write(struct fx *fx, uint32_t len, uint8_t fill)
{
	uint8_t c[6];

	memset(fx->buf, fill, len);
	cdb6(c, 0x0a, 0, (int32_t)len);
	fx_run(fx, TAPE_LUN, c, 6, len, len);
}

static void tape_op(struct fx *fx, uint8_t op, uint8_t b1, int32_t n, uint32_t buf)
{
	uint8_t c[6];

	cdb6(c, op, b1, n);
	fx_run(fx, TAPE_LUN, c, 6, buf, 0);
}

static void pos_long(struct fx *fx, uint64_t obj, uint64_t file)
{
	uint8_t c[10] = { 0x34, 6 };

	fx_run_good(fx, TAPE_LUN, c, 10, 32, 0);
	assert_int_equal(get_be64(&fx->buf[8]), obj);
	assert_int_equal(get_be64(&fx->buf[16]), file);
}

static int32_t sense_info(const struct fx *fx)
{
	return (int32_t)get_be32(&fx->cmd.sense[3]);
}

static void test_ssc_write_filemark_read_back(void **state)
{
	struct fx *fx = *state;

	tape_write(fx, 100, 0x11);
	fx_assert_good(fx);
	tape_write(fx, 300, 0x22);
	tape_op(fx, 0x10, 0, 1, 0);                        /* WRITE FILEMARKS 1 */
	fx_assert_good(fx);
	pos_long(fx, 3, 1);
	tape_op(fx, 0x01, 0, 0, 0);                        /* REWIND */
	tape_op(fx, 0x08, 0, 100, 100);
	fx_assert_good(fx);
	assert_int_equal(fx->cmd.in_len, 100);
	assert_int_equal(fx->buf[99], 0x11);
	tape_op(fx, 0x08, 0x02, 1000, 1000);               /* SILI: short block is GOOD */
	fx_assert_good(fx);
	assert_int_equal(fx->cmd.in_len, 300);
	tape_op(fx, 0x08, 0, 1000, 1000);                  /* the filemark */
	fx_assert_sense(fx, SENSE_NO_SENSE, 0x0001);
	assert_int_equal(fx->cmd.sense[2] & 0x80, 0x80);
	assert_int_equal(sense_info(fx), 1000);
	tape_op(fx, 0x08, 0, 10, 10);                      /* end of data */
	fx_assert_sense(fx, SENSE_BLANK_CHECK, 0x0005);
}

static void test_ssc_descriptor_sense_stream_flags(void **state)
{
	struct fx *fx = *state;
	struct core_lu *lu = core_lu_find(fx->tgt, TAPE_LUN);
	const uint8_t *s = fx->cmd.sense;

	lu->d_sense = true;
	tape_op(fx, 0x10, 0, 1, 0);
	tape_op(fx, 0x01, 0, 0, 0);
	tape_op(fx, 0x08, 0, 64, 64);
	assert_int_equal(fx->cmd.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(s[0], 0x72);
	assert_int_equal(s[7] + 8, fx->cmd.sense_len);
	assert_int_equal(s[fx->cmd.sense_len - 4], 0x04);  /* stream commands descriptor */
	assert_int_equal(s[fx->cmd.sense_len - 1], 0x80);  /* FILEMARK */
}

static void test_ssc_space_and_locate(void **state)
{
	struct fx *fx = *state;
	uint8_t loc[10] = { 0x2b };

	tape_write(fx, 10, 1);
	tape_op(fx, 0x10, 0, 1, 0);
	tape_write(fx, 20, 2);
	tape_write(fx, 30, 3);
	tape_op(fx, 0x10, 0, 2, 0);
	pos_long(fx, 6, 3);
	tape_op(fx, 0x11, 1, -2, 0);                       /* back over two filemarks */
	fx_assert_good(fx);
	pos_long(fx, 4, 1);
	tape_op(fx, 0x11, 0, -3, 0);                       /* 2 blocks, then the filemark */
	fx_assert_sense(fx, SENSE_NO_SENSE, 0x0001);
	assert_int_equal(sense_info(fx), 1);
	pos_long(fx, 1, 0);
	tape_op(fx, 0x11, 3, 0, 0);                        /* end of data */
	pos_long(fx, 6, 3);
	put_be32(&loc[3], 3);
	fx_run_good(fx, TAPE_LUN, loc, 10, 0, 0);
	tape_op(fx, 0x08, 0, 30, 30);
	fx_assert_good(fx);
	assert_int_equal(fx->buf[0], 3);
	put_be32(&loc[3], 100);
	fx_run(fx, TAPE_LUN, loc, 10, 0, 0);
	fx_assert_sense(fx, SENSE_BLANK_CHECK, 0x0005);
	tape_op(fx, 0x01, 0, 0, 0);
	tape_op(fx, 0x11, 0, -1, 0);                       /* at BOT */
	fx_assert_sense(fx, SENSE_NO_SENSE, 0x0004);
	tape_op(fx, 0x11, 2, 1, 0);                        /* setmarks: not supported */
	fx_assert_field(fx, 1, 3);
}

static void test_ssc_fixed_mode(void **state)
{
	struct fx *fx = *state;
	uint8_t sel[6] = { 0x15, 0x10, 0, 0, 12, 0 };
	uint8_t c[6];

	memset(fx->buf, 0, 12);
	fx->buf[3] = 8;
	put_be24(&fx->buf[9], 512);
	fx_run_good(fx, TAPE_LUN, sel, 6, 12, 12);
	memset(fx->buf, 0x5a, 2048);
	cdb6(c, 0x0a, 1, 4);
	fx_run_good(fx, TAPE_LUN, c, 6, 2048, 2048);
	pos_long(fx, 4, 0);
	tape_op(fx, 0x01, 0, 0, 0);
	tape_op(fx, 0x08, 1, 5, 5 * 512);                  /* one block short: EOD */
	fx_assert_sense(fx, SENSE_BLANK_CHECK, 0x0005);
	assert_int_equal(sense_info(fx), 1);
	tape_op(fx, 0x08, 3, 1, 512);                      /* FIXED with SILI */
	fx_assert_field(fx, 1, 1);
}

static void test_ssc_end_of_medium(void **state)
{
	struct fx *fx = *state;
	unsigned int i;

	for (i = 0; i < 100; i++) {
		tape_write(fx, 4096, (uint8_t)i);
		if (fx->cmd.status)
			break;
	}
	/* 64 KiB: the early warning zone is the last 16 KiB */
	assert_int_equal(i, 11);
	fx_assert_sense(fx, SENSE_NO_SENSE, 0x0002);
	assert_int_equal(fx->cmd.sense[2] & 0x40, 0x40);
	for (i = 0; i < 10 && (fx->cmd.sense[2] & 0x0f) == SENSE_NO_SENSE; i++)
		tape_write(fx, 4096, 0xee);                /* written, each with a warning */
	assert_int_equal(i, 4);
	fx_assert_sense(fx, 0x0d, 0x0002);
	assert_int_equal(sense_info(fx), 1);
}

/* The data before a FILEMARK, ILI or EOD condition goes with the CHECK CONDITION
 * (data_with_sense); a condition with nothing read moves no data. */
static void test_ssc_data_with_sense(void **state)
{
	struct fx *fx = *state;
	uint8_t sel[6] = { 0x15, 0x10, 0, 0, 12, 0 };

	tape_write(fx, 300, 0x33);
	tape_write(fx, 2000, 0x44);
	tape_op(fx, 0x10, 0, 1, 0);
	tape_op(fx, 0x01, 0, 0, 0);
	tape_op(fx, 0x08, 0, 1000, 1000);                  /* shorter block: ILI, its data */
	fx_assert_sense(fx, SENSE_NO_SENSE, 0);
	assert_int_equal(fx->cmd.sense[2] & 0x20, 0x20);
	assert_int_equal(sense_info(fx), 700);
	assert_true(fx->cmd.data_with_sense);
	assert_int_equal(fx->cmd.in_len, 300);
	assert_int_equal(fx->buf[299], 0x33);
	tape_op(fx, 0x08, 0, 100, 100);                    /* longer block: the first 100 bytes */
	assert_int_equal(sense_info(fx), -1900);
	assert_true(fx->cmd.data_with_sense);
	assert_int_equal(fx->cmd.in_len, 100);
	assert_int_equal(fx->buf[99], 0x44);
	tape_op(fx, 0x08, 0, 100, 100);                    /* the filemark: no data */
	fx_assert_sense(fx, SENSE_NO_SENSE, 0x0001);
	assert_false(fx->cmd.data_with_sense);
	assert_int_equal(fx->cmd.in_len, 0);
	/* fixed 100-byte blocks: two good ones, then the filemark after them */
	tape_op(fx, 0x01, 0, 0, 0);
	memset(fx->buf, 0, 12);
	fx->buf[3] = 8;
	put_be24(&fx->buf[9], 100);
	fx_run_good(fx, TAPE_LUN, sel, 6, 12, 12);
	tape_op(fx, 0x11, 1, 1, 0);                        /* past the filemark: EOD next */
	memset(fx->buf, 0x55, 300);
	fx_run_good(fx, TAPE_LUN, (const uint8_t[]){ 0x0a, 1, 0, 0, 3, 0 }, 6, 300, 300);
	tape_op(fx, 0x10, 0, 1, 0);
	tape_op(fx, 0x11, 1, -1, 0);
	tape_op(fx, 0x11, 1, -1, 0);                       /* BOT side of the first filemark */
	tape_op(fx, 0x11, 1, 1, 0);
	memset(fx->buf, 0, 1000);
	tape_op(fx, 0x08, 1, 10, 1000);                    /* 3 blocks, then the filemark */
	fx_assert_sense(fx, SENSE_NO_SENSE, 0x0001);
	assert_int_equal(sense_info(fx), 7);
	assert_true(fx->cmd.data_with_sense);
	assert_int_equal(fx->cmd.in_len, 300);
	assert_int_equal(fx->buf[299], 0x55);
	tape_op(fx, 0x08, 1, 1, 100);                      /* end of data at once: no data */
	fx_assert_sense(fx, SENSE_BLANK_CHECK, 0x0005);
	assert_false(fx->cmd.data_with_sense);
}

/* LOAD after an unload brings the cartridge online with a 28/00 unit attention for every
 * nexus, once; a LOAD of an online cartridge (a rewind) adds none. */
static void test_ssc_load_unit_attention(void **state)
{
	struct fx *fx = *state;
	struct core_lu *lu = core_lu_find(fx->tgt, TAPE_LUN);
	uint16_t code = 0;

	tape_op(fx, 0x1b, 0, 0, 0);                        /* unload */
	fx_assert_good(fx);
	assert_false(lu->online);
	assert_false(core_ua_take(fx->nexus, TAPE_LUN, &code));
	tape_op(fx, 0x1b, 0, 1, 0);                        /* load */
	fx_assert_good(fx);
	assert_true(lu->online);
	assert_true(core_ua_take(fx->nexus, TAPE_LUN, &code));
	assert_int_equal(code, ASC_NOT_READY_TO_READY);
	assert_true(core_ua_take(fx->other, TAPE_LUN, &code));
	assert_int_equal(code, ASC_NOT_READY_TO_READY);
	tape_op(fx, 0x1b, 0, 1, 0);                        /* already online */
	fx_assert_good(fx);
	assert_false(core_ua_take(fx->nexus, TAPE_LUN, &code));
}

static void test_ssc_damaged_record(void **state)
{
	struct fx *fx = *state;
	int fd;

	tape_write(fx, 10, 1);
	fd = open(tape_path, O_WRONLY);
	assert_int_equal(pwrite(fd, "JUNK", 4, SSC_FMT_HDR_SIZE), 4);
	close(fd);
	tape_op(fx, 0x01, 0, 0, 0);
	tape_op(fx, 0x08, 0, 10, 10);
	fx_assert_sense(fx, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ssc_write_filemark_read_back, ssc_setup,
						ssc_teardown),
		cmocka_unit_test_setup_teardown(test_ssc_space_and_locate, ssc_setup, ssc_teardown),
		cmocka_unit_test_setup_teardown(test_ssc_descriptor_sense_stream_flags, ssc_setup,
						ssc_teardown),
		cmocka_unit_test_setup_teardown(test_ssc_fixed_mode, ssc_setup, ssc_teardown),
		cmocka_unit_test_setup_teardown(test_ssc_end_of_medium, ssc_setup_small,
						ssc_teardown),
		cmocka_unit_test_setup_teardown(test_ssc_damaged_record, ssc_setup, ssc_teardown),
		cmocka_unit_test_setup_teardown(test_ssc_data_with_sense, ssc_setup, ssc_teardown),
		cmocka_unit_test_setup_teardown(test_ssc_load_unit_attention, ssc_setup,
						ssc_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
