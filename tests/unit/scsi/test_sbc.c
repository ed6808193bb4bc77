/* SPDX-License-Identifier: GPL-2.0-only */
/* scsi/sbc.c: READ/WRITE/VERIFY/SYNC decoding, ranges, FUA, residuals, error mapping,
 * READ CAPACITY, START STOP UNIT, PREVENT ALLOW. */
#include "scsi_test.h"

static void cdb_rw10(uint8_t *c, uint8_t op, uint32_t lba, uint16_t n, uint8_t b1)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = b1;
	put_be32(&c[2], lba);
	put_be16(&c[7], n);
}

static void cdb_rw16(uint8_t *c, uint8_t op, uint64_t lba, uint32_t n, uint8_t b1)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = b1;
	put_be64(&c[2], lba);
	put_be32(&c[10], n);
}

static void test_read10_beyond_end_is_lba_out_of_range(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	cdb_rw10(c, 0x28, FX_BLOCKS, 1, 0);
	fx_run(fx, 1, c, 16, 512, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_rw10(c, 0x28, FX_BLOCKS - 1, 2, 0);
	fx_run(fx, 1, c, 16, 1024, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_rw10(c, 0x28, 0xffffffff, 0, 0);
	fx_run(fx, 1, c, 16, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_rw16(c, 0x88, UINT64_MAX, 1, 0);
	fx_run(fx, 1, c, 16, 512, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	assert_int_equal(fx->submits, 0);
	/* the last block, and zero blocks at the end, are in range */
	cdb_rw10(c, 0x28, FX_BLOCKS - 1, 1, 0);
	fx_run_good(fx, 1, c, 16, 512, 0);
	cdb_rw10(c, 0x28, FX_BLOCKS, 0, 0);
	fx_run_good(fx, 1, c, 16, 0, 0);
}

static void test_read10_reserved_bits_are_invalid_field(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	cdb_rw10(c, 0x28, 0, 1, 0x20); /* RDPROTECT=1 */
	fx_run(fx, 1, c, 16, 512, 0);
	fx_assert_field(fx, 1, 5);
	cdb_rw10(c, 0x28, 0, 1, 0);
	c[6] = 0x01;                   /* group number */
	fx_run(fx, 1, c, 16, 512, 0);
	fx_assert_field(fx, 6, 0);
	cdb_rw10(c, 0x28, 0, 1, 0);
	c[9] = 0x04;                   /* NACA */
	fx_run(fx, 1, c, 16, 512, 0);
	fx_assert_field(fx, 9, 2);
	assert_int_equal(fx->submits, 0);
}

static void test_read6_length_zero_is_256_blocks(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0x08, 0x00, 0x00, 0x10, 0x00, 0x00 };

	fx_run_good(fx, 1, c, 6, 256 * 512, 0);
	assert_int_equal(fx->io.op, CORE_IO_READ);
	assert_int_equal(fx->io.offset, 0x10 * 512);
	assert_int_equal(fx->io.length, 256 * 512);
	assert_int_equal(fx->cmd.in_len, 256 * 512);
}

static void test_write_fua_sets_core_io_fua(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	cdb_rw10(c, 0x2a, 3, 1, 0x08);
	fx_run_good(fx, 1, c, 16, 512, 512);
	assert_int_equal(fx->io.op, CORE_IO_WRITE);
	assert_int_equal(fx->io.flags & CORE_IO_FUA, CORE_IO_FUA);
	cdb_rw16(c, 0x8a, 3, 1, 0x00);
	fx_run_good(fx, 1, c, 16, 512, 512);
	assert_int_equal(fx->io.flags & CORE_IO_FUA, 0);
	/* write cache disabled: every write is FUA, WRITE(6) included */
	fx->disk->write_cache = false;
	memset(c, 0, 16);
	c[0] = 0x0a;
	c[4] = 1;
	fx_run_good(fx, 1, c, 6, 512, 512);
	assert_int_equal(fx->io.flags & CORE_IO_FUA, CORE_IO_FUA);
	fx->disk->write_cache = true;
}

static void test_write_then_read_returns_the_data(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];
	unsigned int i;

	for (i = 0; i < 4096; i++)
		fx->buf[i] = (uint8_t)(i * 7);
	cdb_rw16(c, 0x8a, 100, 8, 0);
	fx_run_good(fx, 1, c, 16, 4096, 4096);
	assert_int_equal(fx->io.offset, 100 * 512);
	memset(fx->buf, 0, 4096);
	cdb_rw10(c, 0x28, 100, 8, 0);
	fx_run_good(fx, 1, c, 16, 4096, 0);
	for (i = 0; i < 4096; i++)
		assert_int_equal(fx->buf[i], (uint8_t)(i * 7));
	/* READ(12) */
	memset(c, 0, 16);
	c[0] = 0xa8;
	put_be32(&c[2], 101);
	put_be32(&c[6], 1);
	fx_run_good(fx, 1, c, 12, 512, 0);
	assert_int_equal(fx->buf[0], (uint8_t)(512 * 7));
}

/* EDTL 200 < one block: GOOD, in_len says 512 (overflow), 200 real bytes via the bounce. */
static void test_read_short_buffer_reports_whole_transfer(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];
	unsigned int i;

	for (i = 0; i < 512; i++)
		fx->medium[512 * 5 + i] = (uint8_t)(i + 1);
	memset(fx->buf, 0xee, 512);
	cdb_rw10(c, 0x28, 5, 1, 0);
	fx_run_good(fx, 1, c, 16, 200, 0);
	assert_int_equal(fx->cmd.in_len, 512);
	assert_int_equal(fx->io.length, 512);
	assert_ptr_not_equal(fx->io.buf, fx->buf);
	for (i = 0; i < 200; i++)
		assert_int_equal(fx->buf[i], (uint8_t)(i + 1));
	assert_int_equal(fx->buf[200], 0xee);
	/* no buffer at all: nothing read, still GOOD with the full in_len */
	fx_run_good(fx, 1, c, 16, 0, 0);
	assert_int_equal(fx->submits, 0);
	assert_int_equal(fx->cmd.in_len, 512);
}

/* EDTL < transfer length on a write (libiscsi iSCSIResiduals): the whole blocks received are
 * written and GOOD; a Data-Out ending inside a block writes nothing. */
static void test_write_short_data_out(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	cdb_rw10(c, 0x2a, 4, 2, 0);
	fx_run_good(fx, 1, c, 16, 512, 512);
	assert_int_equal(fx->cmd.in_len, 1024);   /* SPDTL, for the LLD's overflow residual */
	assert_int_equal(fx->submits, 1);
	assert_int_equal(fx->io.offset, 4 * 512);
	assert_int_equal(fx->io.length, 512);
	fx_run_good(fx, 1, c, 16, 0, 0);
	assert_int_equal(fx->submits, 0);
	fx_run(fx, 1, c, 16, 200, 200);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
	assert_int_equal(fx->cmd.in_len, 1024);
	assert_int_equal(fx->submits, 0);
	/* more Data-Out than the CDB asks for: only the CDB's blocks are written */
	cdb_rw10(c, 0x2a, 0, 1, 0);
	fx_run_good(fx, 1, c, 16, 10000, 10000);
	assert_int_equal(fx->io.length, 512);
	assert_int_equal(fx->cmd.in_len, 512);   /* underflow 10000 - 512 */
}

static void test_verify_bytchk_compares_and_reports_offset(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];
	const uint8_t *s = fx->cmd.sense;

	memset(fx->medium + 512 * 10, 0x5a, 1024);
	memset(fx->buf, 0x5a, 1024);
	cdb_rw10(c, 0x2f, 10, 2, 0x02);
	fx_run_good(fx, 1, c, 16, 1024, 1024);
	assert_int_equal(fx->io.op, CORE_IO_READ);
	assert_ptr_not_equal(fx->io.buf, fx->buf);
	fx->buf[700] ^= 0x01;
	fx_run(fx, 1, c, 16, 1024, 1024);
	fx_assert_sense(fx, SENSE_MISCOMPARE, ASC_MISCOMPARE_VERIFY);
	assert_int_equal(s[0], 0xf0);
	assert_int_equal(get_be32(&s[3]), 700);
	/* BYTCHK=0: a medium check, no compare */
	cdb_rw16(c, 0x8f, 10, 2, 0x00);
	fx_run_good(fx, 1, c, 16, 0, 0);
	assert_int_equal(fx->submits, 1);
	/* VRPROTECT and BYTCHK=10b are not supported */
	cdb_rw10(c, 0x2f, 10, 2, 0x04);
	fx_run(fx, 1, c, 16, 0, 0);
	fx_assert_field(fx, 1, 2);
	cdb_rw10(c, 0x2f, FX_BLOCKS + 1, 0, 0x02);
	fx_run(fx, 1, c, 16, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

static void test_io_errors_map_to_sense(void **state)
{
	struct fx *fx = *state;
	uint8_t r[16], w[16];

	cdb_rw10(r, 0x28, 0, 1, 0);
	cdb_rw10(w, 0x2a, 0, 1, 0);
	fx->force = true;
	fx->force_res = -EIO;
	fx_run(fx, 1, r, 16, 512, 0);
	fx_assert_sense(fx, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
	fx_run(fx, 1, w, 16, 512, 512);
	fx_assert_sense(fx, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
	fx->force_res = -ENOSPC;
	fx_run(fx, 1, w, 16, 512, 512);
	fx_assert_sense(fx, SENSE_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED_WP);
	fx->force_res = -EROFS;
	fx_run(fx, 1, w, 16, 512, 512);
	fx_assert_sense(fx, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	fx->force_res = -EINVAL;
	fx_run(fx, 1, r, 16, 512, 0);
	fx_assert_sense(fx, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	fx->force_res = 100;           /* short transfer */
	fx_run(fx, 1, r, 16, 512, 0);
	fx_assert_sense(fx, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
	fx->force = false;
}

static void test_completion_waits_for_the_store(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	fx->hold = true;
	cdb_rw10(c, 0x35, 0, 0, 0x02); /* SYNCHRONIZE CACHE(10), IMMED */
	fx_run(fx, 1, c, 16, 0, 0);
	assert_int_equal(fx->submits, 1);
	assert_int_equal(fx->io.op, CORE_IO_FLUSH);
	assert_int_equal(fx->done, 0);
	fx->hold = false;
	fx_complete(fx);
	fx_assert_good(fx);
	cdb_rw16(c, 0x91, FX_BLOCKS - 1, 2, 0);
	fx_run(fx, 1, c, 16, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

static void test_transfer_over_block_limits_is_invalid_field(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	fx->disk->size = 1ull << 40;
	cdb_rw16(c, 0x88, 0, (8u << 20) / 512 + 1, 0);
	fx_run(fx, 1, c, 16, 4096, 0);
	fx_assert_field(fx, 10, -1);
	fx->disk->size = (uint64_t)FX_BLOCKS * 512;
}

static void test_write_protect_and_offline(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	cdb_rw10(c, 0x2a, 0, 1, 0);
	fx->disk->readonly = true;
	fx_run(fx, 1, c, 16, 512, 512);
	fx_assert_sense(fx, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	fx->disk->readonly = false;
	fx->disk->swp = true;
	fx_run(fx, 1, c, 16, 512, 512);
	fx_assert_sense(fx, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	fx->disk->swp = false;
	fx->disk->online = false;
	fx_run(fx, 1, c, 16, 512, 512);
	fx_assert_sense(fx, SENSE_NOT_READY, ASC_LUN_NOT_READY_OFFLINE);
	fx->disk->removable = true;
	fx_run(fx, 1, c, 16, 512, 512);
	fx_assert_sense(fx, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
	fx->disk->removable = false;
	fx->disk->online = true;
	assert_int_equal(fx->submits, 0);
}

static void test_read_capacity(void **state)
{
	struct fx *fx = *state;
	uint8_t c10[16] = { 0x25 };
	uint8_t c16[16] = { 0x9e, 0x10 };

	fx_run_good(fx, 1, c10, 10, 8, 0);
	assert_int_equal(fx->cmd.in_len, 8);
	assert_int_equal(get_be32(fx->buf), FX_BLOCKS - 1);
	assert_int_equal(get_be32(fx->buf + 4), 512);
	c10[5] = 1; /* LBA without PMI */
	fx_run(fx, 1, c10, 10, 8, 0);
	fx_assert_field(fx, 2, -1);
	put_be32(&c16[10], 32);
	fx_run_good(fx, 1, c16, 16, 32, 0);
	assert_int_equal(fx->cmd.in_len, 32);
	assert_int_equal(get_be64(fx->buf), FX_BLOCKS - 1);
	assert_int_equal(get_be32(fx->buf + 8), 512);
	assert_int_equal(fx->buf[12], 0);         /* no protection */
	assert_int_equal(fx->buf[13], 0);         /* LBPPBE */
	assert_int_equal(fx->buf[14] & 0x80, 0);  /* LBPME */
	put_be32(&c16[10], 0);                    /* allocation length 0 is not an error */
	fx_run_good(fx, 1, c16, 16, 32, 0);
	assert_int_equal(fx->cmd.in_len, 0);
	c16[1] = 0x12;                            /* GET LBA STATUS: not supported */
	fx_run(fx, 1, c16, 16, 32, 0);
	fx_assert_field(fx, 1, 4);
	/* beyond 32 bits READ CAPACITY(10) says FFFFFFFFh */
	fx->disk->size = 1ull << 42;
	c10[5] = 0;
	fx_run(fx, 1, c10, 10, 8, 0);
	assert_int_equal(get_be32(fx->buf), 0xffffffff);
	fx->disk->size = (uint64_t)FX_BLOCKS * 512;
}

static void test_start_stop_and_prevent(void **state)
{
	struct fx *fx = *state;
	uint8_t ssu[16] = { 0x1b, 0, 0, 0, 0x02 }; /* LOEJ, stop: eject */
	uint8_t pa[16] = { 0x1e, 0, 0, 0, 0x01 };
	uint8_t tur[16] = { 0 };

	fx_run(fx, 1, ssu, 6, 0, 0);
	fx_assert_field(fx, 4, 1);                  /* fixed medium */
	ssu[4] = 0x01;
	fx_run_good(fx, 1, ssu, 6, 0, 0);
	ssu[4] = 0x32;                              /* power condition: LOEJ ignored */
	fx_run_good(fx, 1, ssu, 6, 0, 0);
	fx->disk->removable = true;
	fx_run_good(fx, 1, pa, 6, 0, 0);
	assert_true(fx->disk->prevent_removal);
	ssu[4] = 0x02;
	fx_run(fx, 1, ssu, 6, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, 0x5302);
	pa[4] = 0;
	fx_run(fx, 1, pa, 6, 0, 0);
	fx_run_good(fx, 1, ssu, 6, 0, 0);
	fx_run(fx, 1, tur, 6, 0, 0);
	fx_assert_sense(fx, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
	ssu[4] = 0x03;                              /* load: not while prevented */
	pa[4] = 1;
	fx_run(fx, 1, pa, 6, 0, 0);
	fx_run(fx, 1, ssu, 6, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, 0x5302);
	pa[4] = 0;
	fx_run(fx, 1, pa, 6, 0, 0);
	fx_run_good(fx, 1, ssu, 6, 0, 0);
	fx_run_good(fx, 1, tur, 6, 0, 0);
	fx->disk->removable = false;
	pa[4] = 0x02;                               /* obsolete value */
	fx_run(fx, 1, pa, 6, 0, 0);
	fx_assert_field(fx, 4, 1);
}

/* UNMAP parameter list with n descriptors (lba, blocks) in fx->buf; returns its length. */
static uint32_t unmap_list(struct fx *fx, const uint64_t *lba, const uint32_t *nblk,
			   unsigned int n)
{
	unsigned int i;

	memset(fx->buf, 0, 8 + 16 * n);
	put_be16(fx->buf, (uint16_t)(6 + 16 * n));
	put_be16(fx->buf + 2, (uint16_t)(16 * n));
	for (i = 0; i < n; i++) {
		put_be64(fx->buf + 8 + 16 * i, lba[i]);
		put_be32(fx->buf + 16 + 16 * i, nblk[i]);
	}
	return 8 + 16 * n;
}

static void test_unmap_only_on_thin_lus(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0x42 };
	uint8_t rc[16] = { 0x9e, 0x10 };
	uint64_t lba[3] = { 8, 100, FX_BLOCKS };
	uint32_t n[3] = { 4, 0, 0 };
	uint32_t len = unmap_list(fx, lba, n, 3);

	put_be16(&c[7], (uint16_t)len);
	fx_run(fx, 1, c, 10, len, len);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	fx->disk->thin = true;
	fx_run_good(fx, 1, c, 10, len, len);
	assert_int_equal(fx->submits, 1);          /* zero-block descriptors do nothing */
	assert_int_equal(fx->io.op, CORE_IO_UNMAP);
	assert_int_equal(fx->io.offset, 8 * 512);
	assert_int_equal(fx->io.length, 4 * 512);
	put_be32(&rc[10], 32);
	fx_run(fx, 1, rc, 16, 32, 0);
	assert_int_equal(fx->buf[14] & 0x80, 0x80); /* LBPME */
	/* GET LBA STATUS: the rest of the LU, "mapped or unknown" */
	rc[1] = 0x12;
	put_be64(&rc[2], 10);
	fx_run_good(fx, 1, rc, 16, 32, 0);
	assert_int_equal(fx->cmd.in_len, 24);
	assert_int_equal(get_be32(fx->buf), 20);
	assert_int_equal(get_be64(fx->buf + 8), 10);
	assert_int_equal(get_be32(fx->buf + 16), FX_BLOCKS - 10);
	assert_int_equal(fx->buf[20], 0);
	put_be64(&rc[2], FX_BLOCKS);
	fx_run(fx, 1, rc, 16, 32, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	fx->disk->readonly = true;
	len = unmap_list(fx, lba, n, 1);
	fx_run(fx, 1, c, 10, len, len);
	fx_assert_sense(fx, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	fx->disk->readonly = false;
}

static void test_unmap_checks_the_whole_list_first(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0x42 };
	uint64_t lba[2] = { 0, FX_BLOCKS - 1 };
	uint32_t n[2] = { 1, 2 };
	uint32_t len = unmap_list(fx, lba, n, 2);

	fx->disk->thin = true;
	put_be16(&c[7], (uint16_t)len);
	fx_run(fx, 1, c, 10, len, len);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	assert_int_equal(fx->submits, 0);
	put_be16(&c[7], 4);                         /* shorter than the header */
	fx_run(fx, 1, c, 10, 4, 4);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
	c[1] = 0x01;                                /* ANCHOR */
	fx_run(fx, 1, c, 10, len, len);
	fx_assert_field(fx, 1, 0);
	c[1] = 0;
	memset(fx->buf, 0, 8);
	put_be16(&fx->buf[2], 16 * 257);            /* too many descriptors */
	put_be16(&c[7], 8 + 16 * 257);
	fx_run(fx, 1, c, 10, 8 + 16 * 257, 8 + 16 * 257);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	/* each descriptor in turn, the next submitted from the previous completion */
	lba[1] = 50;
	n[1] = 3;
	len = unmap_list(fx, lba, n, 2);
	put_be16(&c[7], (uint16_t)len);
	fx->hold = true;
	fx_run(fx, 1, c, 10, len, len);
	assert_int_equal(fx->submits, 1);
	assert_int_equal(fx->io.offset, 0);
	fx_complete(fx);
	assert_int_equal(fx->submits, 2);
	assert_int_equal(fx->io.offset, 50 * 512);
	assert_int_equal(fx->done, 0);
	fx->hold = false;
	fx_complete(fx);
	fx_assert_good(fx);
}

/* Through core_cmd_submit: completion is deferred to the reactor, never inside submit. */
static void test_submit_defers_completion(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd *cmd = &fx->cmd;
	uint8_t c[16] = { 0 };

	fx_cmd_prep(fx, cmd, 1, c, 16, NULL, 0, 0);
	cmd->dir = SCSI_DIR_NONE;
	cmd->done = fx_done;
	fx->done = 0;
	core_cmd_submit(cmd);
	assert_int_equal(fx->done, 0);
	while (!fx->done)
		assert_true(reactor_run_once(fx->r, 100) >= 0);
	fx_assert_good(fx);
}

/* ---- WRITE SAME, WRITE AND VERIFY, PRE-FETCH, READ DEFECT DATA, CAW, WRITE ATOMIC ---- */

static void test_write_same_pattern_zero_and_unmap(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];
	unsigned int i;

	memset(fx->buf, 0xa5, 512);
	cdb_rw10(c, 0x41, 10, 4, 0);
	fx_run_good(fx, 1, c, 10, 512, 512);
	for (i = 0; i < 4 * 512; i++)
		assert_int_equal(fx->medium[10 * 512 + i], 0xa5);
	assert_int_equal(fx->medium[14 * 512], 0);
	/* a zero pattern is one WRITE ZEROES */
	memset(fx->buf, 0, 512);
	cdb_rw16(c, 0x93, 10, 4, 0);
	fx_run_good(fx, 1, c, 16, 512, 512);
	assert_int_equal(fx->io.op, CORE_IO_WRITE_ZEROES);
	assert_int_equal(fx->io.length, 4 * 512);
	/* UNMAP on a fully provisioned LU: refused; on a thin LU: deallocates */
	cdb_rw16(c, 0x93, 10, 4, 0x08);
	fx_run(fx, 1, c, 16, 512, 512);
	fx_assert_field(fx, 1, 3);
	fx->disk->thin = true;
	fx_run_good(fx, 1, c, 16, 512, 512);
	assert_int_equal(fx->io.op, CORE_IO_UNMAP);
	/* NDOB: no Data-Out */
	cdb_rw16(c, 0x93, 10, 4, 0x09);
	fx_run_good(fx, 1, c, 16, 0, 0);
	assert_int_equal(fx->cmd.in_len, 0);
	/* ANCHOR is not supported; a range over MAXIMUM WRITE SAME LENGTH, beyond the end */
	cdb_rw16(c, 0x93, 10, 4, 0x10);
	fx_run(fx, 1, c, 16, 512, 512);
	fx_assert_field(fx, 1, 4);
	cdb_rw16(c, 0x93, 0, FX_BLOCKS + 1, 0);
	fx_run(fx, 1, c, 16, 512, 512);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* Data-Out shorter than a block */
	cdb_rw10(c, 0x41, 0, 1, 0);
	fx_run(fx, 1, c, 10, 100, 100);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
}

static void test_write_verify_prefetch_defects(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	memset(fx->buf, 0x3c, 1024);
	cdb_rw10(c, 0x2e, 5, 2, 0x02);  /* WRITE AND VERIFY(10), BYTCHK */
	fx_run_good(fx, 1, c, 10, 1024, 1024);
	assert_int_equal(fx->io.flags & CORE_IO_FUA, CORE_IO_FUA);
	assert_int_equal(fx->medium[5 * 512], 0x3c);
	cdb_rw10(c, 0x2e, 5, 2, 0x08);  /* bit 3 is reserved in WRITE AND VERIFY */
	fx_run(fx, 1, c, 10, 1024, 1024);
	fx_assert_field(fx, 1, 3);
	cdb_rw16(c, 0x90, FX_BLOCKS - 1, 2, 0); /* PRE-FETCH(16) past the end */
	fx_run(fx, 1, c, 16, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	cdb_rw10(c, 0x34, 0, 8, 0x02);  /* PRE-FETCH(10) IMMED */
	fx_run_good(fx, 1, c, 10, 0, 0);
	assert_int_equal(fx->submits, 0);
	memset(c, 0, 16);
	c[0] = 0x37;                    /* READ DEFECT DATA(10): PLIST, GLIST, format 5 */
	c[2] = 0x1d;
	c[8] = 4;
	fx_run_good(fx, 1, c, 10, 4, 0);
	assert_int_equal(fx->buf[1], 0x1d);
	assert_int_equal(get_be16(&fx->buf[2]), 0);
	c[1] = 0x01;                    /* reserved */
	fx_run(fx, 1, c, 10, 4, 0);
	fx_assert_field(fx, 1, 0);
}

static void test_compare_and_write_and_atomic_limits(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	memset(c, 0, 16);
	c[0] = 0x89;
	put_be64(&c[2], 0);
	c[13] = 129;                    /* over MAXIMUM COMPARE AND WRITE LENGTH (128) */
	fx_run(fx, 1, c, 16, 2 * 129 * 512, 2 * 129 * 512);
	fx_assert_field(fx, 13, -1);
	c[13] = 0;                      /* zero blocks with Data-Out */
	fx_run(fx, 1, c, 16, 1024, 1024);
	fx_assert_field(fx, 13, -1);
	c[13] = 2;                      /* Data-Out shorter than 2 x 2 blocks */
	fx_run(fx, 1, c, 16, 1024, 1024);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
	/* the fixture's store has no file: the medium reads as zeroes */
	c[13] = 1;
	memset(fx->buf, 0, 512);
	memset(fx->buf + 512, 0x11, 512);
	fx_run_good(fx, 1, c, 16, 1024, 1024);
	fx->buf[7] = 1;
	fx_run(fx, 1, c, 16, 1024, 1024);
	fx_assert_sense(fx, SENSE_MISCOMPARE, ASC_MISCOMPARE_VERIFY);
	assert_int_equal(fx->cmd.sense[0], 0xf0); /* VALID */
	assert_int_equal(get_be32(&fx->cmd.sense[3]), 7);
	/* WRITE ATOMIC(16): ATOMIC BOUNDARY must be 0, at most 256 blocks */
	memset(c, 0, 16);
	c[0] = 0x9c;
	put_be16(&c[10], 1);
	put_be16(&c[12], 1);
	fx_run(fx, 1, c, 16, 512, 512);
	fx_assert_field(fx, 10, -1);
	put_be16(&c[10], 0);
	put_be16(&c[12], 257);
	fx_run(fx, 1, c, 16, 257 * 512, 257 * 512);
	fx_assert_field(fx, 12, -1);
	put_be16(&c[12], 1);
	fx_run_good(fx, 1, c, 16, 512, 512);
	/* ORWRITE(16): ORPROTECT is not supported */
	cdb_rw16(c, 0x8b, 0, 1, 0x20);
	fx_run(fx, 1, c, 16, 512, 512);
	fx_assert_field(fx, 1, 5);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read10_beyond_end_is_lba_out_of_range),
		T(test_read10_reserved_bits_are_invalid_field),
		T(test_read6_length_zero_is_256_blocks),
		T(test_write_fua_sets_core_io_fua),
		T(test_write_then_read_returns_the_data),
		T(test_read_short_buffer_reports_whole_transfer),
		T(test_write_short_data_out),
		T(test_verify_bytchk_compares_and_reports_offset),
		T(test_io_errors_map_to_sense),
		T(test_completion_waits_for_the_store),
		T(test_transfer_over_block_limits_is_invalid_field),
		T(test_write_protect_and_offline),
		T(test_read_capacity),
		T(test_start_stop_and_prevent),
		T(test_unmap_only_on_thin_lus),
		T(test_unmap_checks_the_whole_list_first),
		T(test_submit_defers_completion),
		T(test_write_same_pattern_zero_and_unmap),
		T(test_write_verify_prefetch_defects),
		T(test_compare_and_write_and_atomic_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
