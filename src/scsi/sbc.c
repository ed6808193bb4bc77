/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The disk device type (SBC-3): READ/WRITE(6/10/12/16), VERIFY(10/12/16), SYNCHRONIZE
 * CACHE(10/16), UNMAP (thin LUs), READ CAPACITY(10/16), START STOP UNIT, PREVENT ALLOW, the
 * block VPD pages (0xB0-0xB2) and mode pages (0x01, 0x08, 0x0A). Data commands fill cmd->io
 * and hand the command to the LU's backing store; the completion maps errors to sense.
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi/scsi_int.h"

/*
 * A SANITIZE in progress (see sbc_sanitize). Everything but progress belongs to the reactor
 * of io (the one that received the SANITIZE); progress is read by any reactor.
 */
struct sbc_sanitize {
	struct scsi_cmd io;             /* internal command lent to the LU's store */
	struct scsi_cmd *cmd;           /* the SANITIZE still waiting, or NULL once detached */
	struct reactor_timer timer;     /* pacing */
	void *buf;                      /* the pattern, SBC_WS_CHUNK bytes (bufpool) */
	size_t cap;
	enum core_io_op op;             /* CORE_IO_WRITE (overwrite) or CORE_IO_UNMAP */
	uint64_t pos;                   /* bytes done */
	uint64_t end;                   /* bytes in all */
	uint64_t rate;                  /* bytes per ms, 0: unpaced */
	uint64_t t0;                    /* start, time_now_ms() */
	atomic_uint progress;           /* PROGRESS INDICATION: pos / end in 1/65536 */
};

/* Per-LU state of a disk: reservations, the physical block exponent, the PR state file. */
struct sbc_lu {
	struct scsi_pr pr;
	uint8_t lbppbe;                 /* LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT */
	atomic_bool sanitizing;         /* SANITIZE in progress: NOT READY for the rest */
	uint32_t sanitize_rate;         /* MiB/s of SANITIZE OVERWRITE, 0: unpaced */
	struct sbc_sanitize san;        /* the running SANITIZE (sanitizing true) */
	struct scsi_xcopy_held xcopy;   /* EXTENDED COPY status records (xcopy.c) */
};

struct scsi_xcopy_held *scsi_lu_xcopy(struct core_lu *lu)
{
	return lu->dt == &scsi_disk && lu->dt_priv ? &((struct sbc_lu *)lu->dt_priv)->xcopy : NULL;
}

struct scsi_pr *scsi_lu_pr(struct core_lu *lu)
{
	return lu->dt == &scsi_disk && lu->dt_priv ? &((struct sbc_lu *)lu->dt_priv)->pr : NULL;
}

static uint8_t sbc_lbppbe(const struct core_lu *lu)
{
	return lu->dt_priv ? ((const struct sbc_lu *)lu->dt_priv)->lbppbe : 0;
}

/* LBA, length and where the length sits, decoded from any READ/WRITE/VERIFY/SYNC layout. */
struct sbc_rw {
	uint64_t lba;
	uint32_t nblk;
	uint8_t tl_byte;              /* CDB offset of the transfer length, for field pointers */
};

/* Per-command state across the backing-store call; lives in cmd->scratch. */
struct sbc_state {
	void *bounce;                 /* bufpool buffer, or NULL */
	size_t bounce_cap;
	uint32_t xfer;                /* bytes the command itself transfers (UNMAP: descriptors) */
	uint32_t copy;                /* bytes to copy out of / compare with the bounce buffer
				       * (UNMAP: the descriptor in flight) */
};

_Static_assert(sizeof(struct sbc_state) <= sizeof(((struct scsi_cmd *)0)->scratch),
	       "sbc_state must fit in scsi_cmd.scratch");

static struct sbc_state *sbc_state(struct scsi_cmd *cmd)
{
	return (struct sbc_state *)(void *)cmd->scratch;
}

/*
 * The group code (opcode bits 7:5) fixes the layout (SPC-4): 6-byte CDBs have a 21-bit LBA
 * and a length where 0 means 256 blocks (SBC-3 READ(6), WRITE(6)); 10-, 12- and 16-byte CDBs
 * a 32/32/64-bit LBA and a 16/32/32-bit length.
 */
static void sbc_rw_decode(const uint8_t *cdb, struct sbc_rw *rw)
{
	switch (cdb[0] >> 5) {
	case 0:
		rw->lba = get_be24(&cdb[1]) & 0x1fffff;
		rw->nblk = cdb[4] ? cdb[4] : 256;
		rw->tl_byte = 4;
		break;
	case 4:
		rw->lba = get_be64(&cdb[2]);
		rw->nblk = get_be32(&cdb[10]);
		rw->tl_byte = 10;
		break;
	case 5:
		rw->lba = get_be32(&cdb[2]);
		rw->nblk = get_be32(&cdb[6]);
		rw->tl_byte = 6;
		break;
	default:
		rw->lba = get_be32(&cdb[2]);
		rw->nblk = get_be16(&cdb[7]);
		rw->tl_byte = 7;
		break;
	}
}

/* Range checked by subtraction so no peer value can overflow. */
static bool sbc_range_ok(struct scsi_cmd *cmd, const struct sbc_rw *rw)
{
	uint64_t blocks = core_lu_blocks(cmd->lu);

	if (rw->lba > blocks || rw->nblk > blocks - rw->lba) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return false;
	}
	return true;
}

/* Decodes and checks a data command; SBC-3 Block Limits: a transfer over MAXIMUM TRANSFER LENGTH
 * is INVALID FIELD IN CDB. */
static bool sbc_rw_get(struct scsi_cmd *cmd, struct sbc_rw *rw)
{
	sbc_rw_decode(cmd->cdb, rw);
	if (!sbc_range_ok(cmd, rw))
		return false;
	if (rw->nblk > (SCSI_MAX_XFER_BYTES >> cmd->lu->block_shift)) {
		scsi_fail_cdb(cmd, rw->tl_byte, -1);
		return false;
	}
	return true;
}

/*
 * Commands with Data-Out set in_len to the bytes their CDB asks for (SPDTL): the iSCSI LLD
 * reports its difference from EDTL as the residual, and sends Data-In only for reads.
 *
 * The initiator sent less Data-Out than the CDB asks for (EDTL < transfer length).
 */
static bool sbc_data_out_ok(struct scsi_cmd *cmd, uint32_t bytes)
{
	if (cmd->out_len >= bytes && cmd->buf_len >= bytes && (cmd->buf || !bytes))
		return true;
	core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
	return false;
}

/*
 * WRITE SAME and COMPARE AND WRITE take exactly the Data-Out their CDB defines: more is as
 * wrong as less (a block that is not the pattern, blocks the CDB does not count).
 */
static bool sbc_data_out_exact(struct scsi_cmd *cmd, uint32_t bytes)
{
	if (cmd->edtl == bytes)
		return true;
	core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
	return false;
}

/* ---- backing-store completion ---- */

/* Maps a store result; a short transfer is a medium error, never GOOD. */
static bool sbc_io_ok(struct scsi_cmd *cmd, int64_t res, bool write)
{
	if (res >= 0 && (cmd->io.op == CORE_IO_FLUSH || (uint64_t)res == cmd->io.length))
		return true;
	if (res >= 0 || res == -EIO)
		core_cmd_fail(cmd, SENSE_MEDIUM_ERROR, write ? ASC_WRITE_ERROR : ASC_READ_ERROR);
	else if (res == -ENOSPC)
		core_cmd_fail(cmd, SENSE_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED_WP);
	else if (res == -EROFS)
		core_cmd_fail(cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	else
		core_cmd_fail(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	log_dbg("scsi: lun %llu tag %llu: io op %d at %llu len %llu: result %lld",
		(unsigned long long)cmd->lun, (unsigned long long)cmd->tag, (int)cmd->io.op,
		(unsigned long long)cmd->io.offset, (unsigned long long)cmd->io.length,
		(long long)res);
	return false;
}

static void sbc_bounce_put(struct scsi_cmd *cmd)
{
	struct sbc_state *st = sbc_state(cmd);

	if (st->bounce)
		bufpool_put(reactor_bufpool(cmd->reactor), st->bounce, st->bounce_cap);
	st->bounce = NULL;
}

static bool sbc_bounce_get(struct scsi_cmd *cmd, size_t len)
{
	struct sbc_state *st = sbc_state(cmd);

	st->bounce = bufpool_get(reactor_bufpool(cmd->reactor), len, &st->bounce_cap);
	return st->bounce != NULL;
}

static void sbc_ilk_submit(struct scsi_cmd *cmd)
{
	cmd->lu->bs->submit(cmd);
}

/*
 * Writes hold their blocks in the LU's interlock against COMPARE AND WRITE (core_ilk_acquire)
 * until they complete. Commands that write in several steps (WRITE SAME chunks, UNMAP
 * descriptors, SANITIZE) take the whole LU at their first step.
 */
static bool sbc_ilk_get(struct scsi_cmd *cmd, enum core_io_op op, uint64_t lba, uint64_t len)
{
	uint64_t nblk = len >> cmd->lu->block_shift;

	if (op != CORE_IO_WRITE && op != CORE_IO_WRITE_ZEROES && op != CORE_IO_UNMAP)
		return true;
	if (cmd->cdb[0] == SCSI_OP_UNMAP || cmd->cdb[0] == SCSI_OP_WRITE_SAME_10 ||
	    cmd->cdb[0] == SCSI_OP_WRITE_SAME_16 || cmd->cdb[0] == SCSI_OP_SANITIZE) {
		lba = 0;
		nblk = UINT64_MAX;
	}
	return core_ilk_acquire(cmd, lba, nblk, false, sbc_ilk_submit);
}

static enum scsi_exec sbc_submit(struct scsi_cmd *cmd, enum core_io_op op, uint64_t lba,
				 uint64_t len, void *buf, uint32_t flags,
				 void (*done)(struct scsi_cmd *cmd, int64_t res))
{
	cmd->io.op = op;
	cmd->io.flags = flags;
	cmd->io.offset = lba << cmd->lu->block_shift;
	cmd->io.length = len;
	cmd->io.buf = buf;
	cmd->io.done = done;
	if (sbc_ilk_get(cmd, op, lba, len))
		cmd->lu->bs->submit(cmd);
	return SCSI_EXEC_ASYNC;
}

/* ---- READ ---- */

static void sbc_read_done(struct scsi_cmd *cmd, int64_t res)
{
	struct sbc_state *st = sbc_state(cmd);

	if (sbc_io_ok(cmd, res, false)) {
		if (st->bounce)
			memcpy(cmd->buf, st->bounce, st->copy);
		core_cmd_good(cmd);
		cmd->in_len = st->xfer;
	}
	sbc_bounce_put(cmd);
	core_cmd_done(cmd);
}

/*
 * Reads what the initiator can take: MIN(transfer, buf_len) bytes; in_len says the whole
 * transfer so the LLD reports the overflow residual. A buffer that ends inside a block is
 * filled from a block-aligned bounce buffer, so stores opened O_DIRECT see whole blocks.
 */
static enum scsi_exec sbc_read(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct sbc_state *st = sbc_state(cmd);
	uint32_t bs = cmd->lu->block_size;
	struct sbc_rw rw;
	uint32_t want;

	(void)t;
	if (!sbc_rw_get(cmd, &rw))
		return SCSI_EXEC_DONE;
	st->bounce = NULL;
	st->xfer = rw.nblk << cmd->lu->block_shift;
	want = cmd->buf ? MIN(st->xfer, cmd->buf_len) : 0;
	if (!want) {
		core_cmd_good(cmd);
		cmd->in_len = st->xfer;
		return SCSI_EXEC_DONE;
	}
	if (want % bs) {
		st->copy = want;
		want = (want / bs + 1) * bs;
		if (!sbc_bounce_get(cmd, want)) {
			scsi_busy(cmd);
			return SCSI_EXEC_DONE;
		}
		return sbc_submit(cmd, CORE_IO_READ, rw.lba, want, st->bounce, 0, sbc_read_done);
	}
	return sbc_submit(cmd, CORE_IO_READ, rw.lba, want, cmd->buf, 0, sbc_read_done);
}

/* ---- WRITE ---- */

static void sbc_write_done(struct scsi_cmd *cmd, int64_t res)
{
	if (sbc_io_ok(cmd, res, true))
		core_cmd_good(cmd);
	core_cmd_done(cmd);
}

/*
 * FUA (not in WRITE(6)) or a disabled write cache make the write durable before GOOD.
 * EDTL below the transfer length (FCP-4, RFC 7143): the whole blocks that
 * did arrive are written and nothing beyond them, GOOD with an overflow residual; a Data-Out
 * that ends inside a block is refused before anything is written (INVALID FIELD IN
 * INFORMATION UNIT). libiscsi's iSCSIResiduals accepts exactly these two outcomes.
 */
static enum scsi_exec sbc_write_common(struct scsi_cmd *cmd, bool fua)
{
	uint32_t bytes, got;
	struct sbc_rw rw;

	if (!sbc_rw_get(cmd, &rw))
		return SCSI_EXEC_DONE;
	bytes = rw.nblk << cmd->lu->block_shift;
	cmd->in_len = bytes;  /* Data-Out the CDB asks for: the LLD's residual (see header) */
	got = cmd->buf ? MIN(cmd->out_len, cmd->buf_len) : 0;
	if (got < bytes) {
		if (got & (cmd->lu->block_size - 1)) {
			core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
			return SCSI_EXEC_DONE;
		}
		bytes = got;
	}
	if (!bytes) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	return sbc_submit(cmd, CORE_IO_WRITE, rw.lba, bytes, cmd->buf,
			  (fua || !cmd->lu->write_cache) ? CORE_IO_FUA : 0, sbc_write_done);
}

static enum scsi_exec sbc_write(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	(void)t;
	return sbc_write_common(cmd, (cmd->cdb[0] >> 5) && (cmd->cdb[1] & 0x08));
}

/* ---- VERIFY ---- */

static void sbc_verify_done(struct scsi_cmd *cmd, int64_t res)
{
	struct sbc_state *st = sbc_state(cmd);
	const uint8_t *medium = st->bounce;
	uint32_t i;

	if (sbc_io_ok(cmd, res, false)) {
		if (st->copy && memcmp(medium, cmd->buf, st->copy)) {
			for (i = 0; i < st->copy && medium[i] == cmd->buf[i]; i++)
				;
			core_cmd_fail_info(cmd, SENSE_MISCOMPARE, ASC_MISCOMPARE_VERIFY, i);
		} else {
			core_cmd_good(cmd);
		}
	}
	sbc_bounce_put(cmd);
	core_cmd_done(cmd);
}

/*
 * VERIFY (SBC-3): BYTCHK=0 reads the blocks back (a medium check), BYTCHK=1 compares them with
 * the Data-Out; a difference is MISCOMPARE with INFORMATION = offset of the first differing
 * byte. The medium is read into a bounce buffer, never into the initiator's data.
 */
static enum scsi_exec sbc_verify(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct sbc_state *st = sbc_state(cmd);
	bool bytchk = cmd->cdb[1] & 0x02;
	uint32_t bytes;
	struct sbc_rw rw;

	(void)t;
	if (!sbc_rw_get(cmd, &rw))
		return SCSI_EXEC_DONE;
	bytes = rw.nblk << cmd->lu->block_shift;
	if (bytchk)
		cmd->in_len = bytes;
	if (bytchk && !sbc_data_out_ok(cmd, bytes))
		return SCSI_EXEC_DONE;
	if (!bytes) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	st->copy = bytchk ? bytes : 0;
	if (!sbc_bounce_get(cmd, bytes)) {
		scsi_busy(cmd);
		return SCSI_EXEC_DONE;
	}
	return sbc_submit(cmd, CORE_IO_READ, rw.lba, bytes, st->bounce, 0, sbc_verify_done);
}

/* ---- SYNCHRONIZE CACHE ---- */

/*
 * SYNCHRONIZE CACHE (SBC-3): the range is checked, then the whole store is flushed
 * (fdatasync has no range). IMMED=1 is accepted, and GOOD still waits for the flush: status
 * never claims a durability that has not happened. A read-only LU has nothing to flush.
 */
static enum scsi_exec sbc_sync_cache(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct sbc_rw rw;

	(void)t;
	sbc_rw_decode(cmd->cdb, &rw);
	if (!sbc_range_ok(cmd, &rw))
		return SCSI_EXEC_DONE;
	if (cmd->lu->readonly) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	return sbc_submit(cmd, CORE_IO_FLUSH, 0, 0, NULL, 0, sbc_write_done);
}

/* ---- UNMAP ---- */

/*
 * UNMAP (SBC-3), thin-provisioned LUs only. The whole parameter list is checked first (no
 * ANCHOR; descriptor count and LBA ranges), then each descriptor with blocks becomes one
 * CORE_IO_UNMAP, one after the other; st->copy is the index of the descriptor in flight. A
 * block descriptor data length that is not a multiple of 16 ignores the incomplete last one.
 */
#define SBC_UNMAP_MAX_DESC 256u

static bool sbc_unmap_next(struct scsi_cmd *cmd);

static void sbc_unmap_done(struct scsi_cmd *cmd, int64_t res)
{
	struct sbc_state *st = sbc_state(cmd);

	if (sbc_io_ok(cmd, res, true) && !cmd->aborted) {
		st->copy++;
		if (sbc_unmap_next(cmd))
			return;
		core_cmd_good(cmd);
	}
	core_cmd_done(cmd);
}

/* Submits the next descriptor with blocks; false when none is left. */
static bool sbc_unmap_next(struct scsi_cmd *cmd)
{
	struct sbc_state *st = sbc_state(cmd);
	const uint8_t *d;

	for (; st->copy < st->xfer; st->copy++) {
		d = &cmd->buf[8 + 16 * st->copy];
		if (get_be32(&d[8])) {
			sbc_submit(cmd, CORE_IO_UNMAP, get_be64(d),
				   (uint64_t)get_be32(&d[8]) << cmd->lu->block_shift, NULL, 0,
				   sbc_unmap_done);
			return true;
		}
	}
	return false;
}

static bool sbc_unmap_check(struct scsi_cmd *cmd, uint32_t n)
{
	uint64_t blocks = core_lu_blocks(cmd->lu);
	uint64_t total = 0;
	uint32_t i;

	if (n > SBC_UNMAP_MAX_DESC) {
		core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, 2, -1);
		return false;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *d = &cmd->buf[8 + 16 * i];
		uint64_t lba = get_be64(d);
		uint32_t nblk = get_be32(&d[8]);

		if (lba > blocks || nblk > blocks - lba) {
			core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
			return false;
		}
		total += nblk;
	}
	if (total > 0xffffffffu) {  /* MAXIMUM UNMAP LBA COUNT */
		core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, 8 + 16 * (n - 1) + 8,
				    -1);
		return false;
	}
	return true;
}

static enum scsi_exec sbc_unmap(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct sbc_state *st = sbc_state(cmd);
	uint32_t plen = get_be16(&cmd->cdb[7]);
	uint32_t n;

	(void)t;
	if (!plen) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	cmd->in_len = plen;
	if (plen < 8) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
		return SCSI_EXEC_DONE;
	}
	if (!sbc_data_out_ok(cmd, plen))
		return SCSI_EXEC_DONE;
	n = MIN(get_be16(&cmd->buf[2]), plen - 8) / 16;
	if (!sbc_unmap_check(cmd, n))
		return SCSI_EXEC_DONE;
	st->xfer = n;
	st->copy = 0;
	if (sbc_unmap_next(cmd))
		return SCSI_EXEC_ASYNC;
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/* ---- WRITE AND VERIFY, PRE-FETCH, READ DEFECT DATA ---- */

/*
 * WRITE AND VERIFY(10/12/16) (SBC-3): the write is made durable (FUA), so reading it back
 * verifies what the medium holds; with BYTCHK=1 the medium then equals the Data-Out by
 * construction, so no second transfer or comparison is needed.
 */
static enum scsi_exec sbc_write_verify(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	(void)t;
	return sbc_write_common(cmd, true);
}

/* PRE-FETCH(10/16) (SBC-3): the page cache does read-ahead by itself; the range is checked
 * and GOOD returned (CONDITION MET would promise the blocks are cached). */
static enum scsi_exec sbc_pre_fetch(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct sbc_rw rw;

	(void)t;
	sbc_rw_decode(cmd->cdb, &rw);
	if (sbc_range_ok(cmd, &rw))
		core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/*
 * READ DEFECT DATA(10/12) (SBC-3): a virtual medium has no defects. The header echoes the
 * lists asked for (PLISTV/GLISTV) and the format; the list length is 0.
 */
static enum scsi_exec sbc_read_defect(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint8_t d[8] = { 0 };

	(void)t;
	if (cmd->cdb[0] == SCSI_OP_READ_DEFECT_10) {
		d[1] = cmd->cdb[2] & 0x1f;
		scsi_data_in(cmd, d, 4, get_be16(&cmd->cdb[7]));
	} else {
		d[1] = cmd->cdb[1] & 0x1f;
		scsi_data_in(cmd, d, 8, get_be32(&cmd->cdb[6]));
	}
	return SCSI_EXEC_DONE;
}

/* ---- WRITE SAME ---- */

/*
 * WRITE SAME(10/16) (SBC-3). NUMBER OF LOGICAL BLOCKS 0 means up to the last LBA (WSNZ 0);
 * either way the range is at most MAXIMUM WRITE SAME LENGTH (as MAXIMUM TRANSFER LENGTH).
 * UNMAP on a thin LU deallocates the range whatever the pattern (SBC-3 lets the device server
 * unmap; unmapped blocks read back as zeroes, LBPRZ 1, which libiscsi checks even for a
 * non-zero pattern); a zero pattern (or NDOB) otherwise becomes one WRITE ZEROES; any other
 * pattern is written from a bounce buffer filled with copies of the block, 1 MiB at a time.
 * ANCHOR is not supported (ANC_SUP 0): the usage mask refuses it. scratch[3] holds the byte
 * offset of the end of the range while chunks are in flight.
 */
#define SBC_WS_CHUNK (1u << 20)

static bool sbc_ws_next(struct scsi_cmd *cmd);

static void sbc_ws_done(struct scsi_cmd *cmd, int64_t res)
{
	if (sbc_io_ok(cmd, res, true) && !cmd->aborted) {
		if (sbc_ws_next(cmd))
			return;
		core_cmd_good(cmd);
	}
	sbc_bounce_put(cmd);
	core_cmd_done(cmd);
}

/* Submits the next chunk of a pattern write; false when the range is done. */
static bool sbc_ws_next(struct scsi_cmd *cmd)
{
	struct sbc_state *st = sbc_state(cmd);
	uint64_t next = cmd->io.offset + cmd->io.length;
	uint64_t end = cmd->scratch[3];

	if (next >= end)
		return false;
	sbc_submit(cmd, CORE_IO_WRITE, next >> cmd->lu->block_shift, MIN(end - next, st->copy),
		   st->bounce, cmd->lu->write_cache ? 0 : CORE_IO_FUA, sbc_ws_done);
	return true;
}

static bool sbc_all_zero(const uint8_t *p, uint32_t len)
{
	return !len || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

static enum scsi_exec sbc_write_same(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct sbc_state *st = sbc_state(cmd);
	struct core_lu *lu = cmd->lu;
	bool ndob = cmd->cdb[0] == SCSI_OP_WRITE_SAME_16 && (cmd->cdb[1] & 0x01);
	bool unmap = cmd->cdb[1] & 0x08;
	uint32_t bs = lu->block_size;
	struct sbc_rw rw;
	uint64_t len;
	uint32_t i;

	(void)t;
	if (unmap && !lu->thin) {  /* no logical block provisioning management: LBPWS 0 */
		scsi_fail_cdb(cmd, 1, 3);
		return SCSI_EXEC_DONE;
	}
	sbc_rw_decode(cmd->cdb, &rw);
	if (!sbc_range_ok(cmd, &rw))
		return SCSI_EXEC_DONE;
	len = rw.nblk ? rw.nblk : core_lu_blocks(lu) - rw.lba;
	if (len > (SCSI_MAX_XFER_BYTES >> lu->block_shift)) {  /* MAXIMUM WRITE SAME LENGTH */
		scsi_fail_cdb(cmd, rw.tl_byte, -1);
		return SCSI_EXEC_DONE;
	}
	len <<= lu->block_shift;
	cmd->in_len = ndob ? 0 : bs;
	if (!ndob && (!sbc_data_out_ok(cmd, bs) || !sbc_data_out_exact(cmd, bs)))
		return SCSI_EXEC_DONE;
	if (!len) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	st->bounce = NULL;
	st->xfer = 0;
	if (unmap || ndob || sbc_all_zero(cmd->buf, bs))
		return sbc_submit(cmd, unmap ? CORE_IO_UNMAP : CORE_IO_WRITE_ZEROES, rw.lba, len,
				  NULL, 0, sbc_ws_done);
	st->copy = (uint32_t)MIN(len, SBC_WS_CHUNK);
	if (!sbc_bounce_get(cmd, st->copy)) {
		scsi_busy(cmd);
		return SCSI_EXEC_DONE;
	}
	for (i = 0; i < st->copy; i += bs)
		memcpy((uint8_t *)st->bounce + i, cmd->buf, bs);
	cmd->scratch[3] = (rw.lba << lu->block_shift) + len;
	cmd->io.offset = rw.lba << lu->block_shift;
	cmd->io.length = 0;
	sbc_ws_next(cmd);
	return SCSI_EXEC_ASYNC;
}

/* ---- SANITIZE ---- */

/*
 * SANITIZE (SBC-3 4.11, 5.30) of the whole LU, run by a job of the LU (struct sbc_sanitize)
 * rather than by the command, which waits for its end (with IMMED, it does not): OVERWRITE writes the pattern (repeated within each block) over
 * every block, BLOCK ERASE and CRYPTO ERASE (thin LUs only: libiscsi wants LBPME with them, and
 * its CryptoErase test reads WABEREQ) deallocate it (no key to throw away: both leave zeroes,
 * WABEREQ/WACEREQ 01b); one pass (OWCOUNT > 1 and INVERT are accepted, the last pass is what
 * stays), SBC_WS_CHUNK bytes per step, paced to sanitize_rate MiB/s when that is set.
 *
 * The job outlives its command, as SBC-3 asks of a sanitize across resets: an aborted SANITIZE
 * (ABORT TASK, LU or target reset, lost connection) completes at the next step and the job
 * goes on; while it runs every command of the LU but INQUIRY, REPORT LUNS, REQUEST SENSE and
 * MAINTENANCE IN answers NOT READY, SANITIZE IN PROGRESS with the progress indication, which
 * REQUEST SENSE also reports. The job holds a reference on the LU and runs on the reactor of
 * the command that started it. EXIT FAILURE MODE: a failed sanitize leaves no failure mode
 * (its command got the error), GOOD.
 */
#define SBC_SA_OVERWRITE   0x01
#define SBC_SA_BLOCK_ERASE 0x02
#define SBC_SA_CRYPTO      0x03
#define SBC_SA_EXIT_FAIL   0x1f
#define SBC_ASC_SANITIZE_IN_PROGRESS 0x041b

static void sbc_san_step(struct sbc_sanitize *san);

static uint16_t sbc_san_progress(const struct core_lu *lu)
{
	const struct sbc_lu *sl = lu->dt_priv;

	return (uint16_t)atomic_load(&sl->san.progress);
}

/* Adds the progress indication (SPC-4 4.5.2.4.4) to sense built by core_sense_build. */
static uint8_t sbc_sense_progress(uint8_t *s, uint8_t len, uint16_t progress)
{
	if ((s[0] & 0x7f) == 0x70) {
		s[15] = 0x80; /* SKSV */
		put_be16(&s[16], progress);
		return len;
	}
	memset(&s[len], 0, 8);
	s[len] = 0x02; /* sense key specific descriptor */
	s[len + 1] = 0x06;
	s[len + 4] = 0x80;
	put_be16(&s[len + 5], progress);
	s[7] = (uint8_t)(s[7] + 8);
	return (uint8_t)(len + 8);
}

void scsi_sanitize_fail(struct scsi_cmd *cmd)
{
	core_cmd_fail(cmd, SENSE_NOT_READY, SBC_ASC_SANITIZE_IN_PROGRESS);
	cmd->sense_len = sbc_sense_progress(cmd->sense, cmd->sense_len,
					    sbc_san_progress(cmd->lu));
}

uint8_t scsi_sanitize_sense(const struct core_lu *lu, bool desc, uint8_t *out)
{
	uint8_t len;

	if (!scsi_lu_sanitizing(lu))
		return 0;
	len = core_sense_build(out, desc, SENSE_NOT_READY, SBC_ASC_SANITIZE_IN_PROGRESS);
	return sbc_sense_progress(out, len, sbc_san_progress(lu));
}

/* Completes the SANITIZE command, if it still waits; the job goes on without it. */
static void sbc_san_detach(struct sbc_sanitize *san)
{
	struct scsi_cmd *cmd = san->cmd;

	san->cmd = NULL;
	if (cmd)
		core_cmd_done(cmd);
}

/* The end: the LU is ready again; the last reference may free it (and san with it). */
static void sbc_san_end(struct sbc_sanitize *san, int64_t res)
{
	struct core_lu *lu = san->io.lu;
	struct sbc_lu *sl = container_of(san, struct sbc_lu, san);

	if (san->cmd && res < 0) {
		san->cmd->io = san->io.io;
		sbc_io_ok(san->cmd, res, true);
	} else if (san->cmd) {
		core_cmd_good(san->cmd);
	}
	if (res < 0)
		log_warn("scsi: lun %llu: sanitize failed at byte %llu: %lld",
			 (unsigned long long)lu->lun, (unsigned long long)san->pos, (long long)res);
	bufpool_put(reactor_bufpool(san->io.reactor), san->buf, san->cap);
	san->buf = NULL;
	sbc_san_detach(san);
	atomic_store(&sl->sanitizing, false);
	core_lu_put(lu);
}

static void sbc_san_done(struct scsi_cmd *io, int64_t res)
{
	struct sbc_sanitize *san = container_of(io, struct sbc_sanitize, io);

	if (res < 0 || (uint64_t)res != io->io.length) {
		sbc_san_end(san, res < 0 ? res : -EIO);
		return;
	}
	san->pos += io->io.length;
	atomic_store(&san->progress,
		     (unsigned int)((san->pos << 16) / san->end - (san->pos == san->end)));
	if (san->cmd && san->cmd->aborted)
		sbc_san_detach(san);
	if (san->pos >= san->end) {
		sbc_san_end(san, 0);
		return;
	}
	sbc_san_step(san);
}

static void sbc_san_timer(struct reactor_timer *t)
{
	struct sbc_sanitize *san = container_of(t, struct sbc_sanitize, timer);

	if (san->cmd && san->cmd->aborted)
		sbc_san_detach(san);
	sbc_san_step(san);
}

/* Submits the next chunk, or waits until the pace allows it (rate bytes/ms, 0: no pace). */
static void sbc_san_step(struct sbc_sanitize *san)
{
	struct core_lu *lu = san->io.lu;
	uint64_t now = time_now_ms(), due;

	if (san->rate) {
		due = san->t0 + san->pos / san->rate;
		if (due > now && reactor_timer_arm(san->io.reactor, &san->timer, due - now) == 0)
			return;
	}
	san->io.io.op = san->op;
	san->io.io.flags = lu->write_cache ? 0 : CORE_IO_FUA;
	san->io.io.offset = san->pos;
	san->io.io.length = MIN(san->end - san->pos, (uint64_t)SBC_WS_CHUNK);
	san->io.io.buf = san->op == CORE_IO_WRITE ? san->buf : NULL;
	san->io.io.done = sbc_san_done;
	lu->bs->submit(&san->io);
}

static bool sbc_sanitize_overwrite_ok(struct scsi_cmd *cmd, uint32_t plen)
{
	uint32_t bs = cmd->lu->block_size;
	uint32_t ilen;

	if (plen < 5 || plen > bs + 4) {
		scsi_fail_cdb(cmd, 7, -1);
		return false;
	}
	if (!sbc_data_out_ok(cmd, plen))
		return false;
	ilen = get_be16(&cmd->buf[2]);
	if (!(cmd->buf[0] & 0x1f) || !ilen || ilen > bs || ilen + 4 != plen) {
		scsi_fail_cdb(cmd, 7, -1);
		return false;
	}
	return true;
}

/* Fills the job's chunk buffer with the initialization pattern, repeated in every block. */
static void sbc_san_pattern(struct sbc_sanitize *san, const uint8_t *param, uint32_t bs)
{
	uint8_t *b = san->buf;
	uint32_t ilen = get_be16(&param[2]), i;

	for (i = 0; i < bs; i++)
		b[i] = param[4 + i % ilen];
	for (i = bs; i < SBC_WS_CHUNK; i += bs)
		memcpy(b + i, b, bs);
}

/*
 * Starts the job for cmd (checked). false when another SANITIZE won the race for the LU
 * (SANITIZE IN PROGRESS) or with BUSY when no buffer is free.
 */
static bool sbc_san_start(struct scsi_cmd *cmd, struct sbc_lu *sl, bool overwrite, bool immed)
{
	struct sbc_sanitize *san = &sl->san;
	struct core_lu *lu = cmd->lu;

	if (atomic_exchange(&sl->sanitizing, true)) {
		scsi_sanitize_fail(cmd);
		return false;
	}
	atomic_store(&san->progress, 0);
	san->buf = bufpool_get(reactor_bufpool(cmd->reactor), SBC_WS_CHUNK, &san->cap);
	if (!san->buf) {
		atomic_store(&sl->sanitizing, false);
		scsi_busy(cmd);
		return false;
	}
	atomic_fetch_add(&lu->refs, 1); /* the job's reference, dropped by sbc_san_end */
	memset(&san->io, 0, sizeof(san->io));
	san->io.reactor = cmd->reactor;
	san->io.nexus = cmd->nexus;
	san->io.lu = lu;
	san->io.lun = lu->lun;
	san->io.tag = cmd->tag;
	reactor_timer_init(&san->timer, sbc_san_timer);
	san->cmd = immed ? NULL : cmd;
	san->op = overwrite ? CORE_IO_WRITE : CORE_IO_UNMAP;
	san->pos = 0;
	san->end = lu->size & ~((uint64_t)lu->block_size - 1);
	san->rate = overwrite ? (uint64_t)sl->sanitize_rate << 10 : 0; /* MiB/s = KiB/ms */
	san->t0 = time_now_ms();
	if (overwrite)
		sbc_san_pattern(san, cmd->buf, lu->block_size);
	sbc_san_step(san);
	return true;
}

static enum scsi_exec sbc_sanitize(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct core_lu *lu = cmd->lu;
	uint32_t plen = get_be16(&cmd->cdb[7]);
	uint8_t sa = cmd->cdb[1] & 0x1f;

	(void)t;
	cmd->in_len = plen;
	if (sa != SBC_SA_OVERWRITE && plen) {
		scsi_fail_cdb(cmd, 7, -1);
		return SCSI_EXEC_DONE;
	}
	if (sa == SBC_SA_EXIT_FAIL || !(lu->size >> lu->block_shift)) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	if (sa == SBC_SA_OVERWRITE && !sbc_sanitize_overwrite_ok(cmd, plen))
		return SCSI_EXEC_DONE;
	if (!sbc_san_start(cmd, lu->dt_priv, sa == SBC_SA_OVERWRITE, cmd->cdb[1] & 0x80))
		return SCSI_EXEC_DONE;
	if (!(cmd->cdb[1] & 0x80))
		return SCSI_EXEC_ASYNC;
	core_cmd_good(cmd); /* IMMED: GOOD once the CDB and parameters are checked */
	return SCSI_EXEC_DONE;
}

/* Commands that touch the medium wait for a running SANITIZE (see scsi_dispatch). */
bool scsi_lu_sanitizing(const struct core_lu *lu)
{
	const struct sbc_lu *sl = lu->dt == &scsi_disk ? lu->dt_priv : NULL;

	return sl && atomic_load(&sl->sanitizing);
}

/* ---- COMPARE AND WRITE, ORWRITE, WRITE ATOMIC ---- */

/*
 * Read-modify-write commands run synchronously on the reactor under a per-LU lock (a small
 * table of mutexes hashed by LU), so two of them on the same blocks never interleave, from
 * any path or thread. Their size is bounded by Block Limits (SBC_CAW_MAX_BYTES). A store
 * without a file (null) reads zeroes and discards writes.
 */
#define SBC_CAW_MAX_BYTES (64u << 10)
#define SBC_RMW_LOCKS     16u

static pthread_mutex_t sbc_rmw_locks[SBC_RMW_LOCKS] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
};

static pthread_mutex_t *sbc_rmw_lock(const struct core_lu *lu)
{
	return &sbc_rmw_locks[((uintptr_t)lu >> 6) % SBC_RMW_LOCKS];
}

static int sbc_pio(struct core_lu *lu, bool write, void *buf, uint64_t len, uint64_t off)
{
	uint64_t done = 0;
	ssize_t n;

	if (lu->fd < 0) {
		if (!write)
			memset(buf, 0, len);
		return 0;
	}
	while (done < len) {
		n = write ? pwrite(lu->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done))
			  : pread(lu->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (uint64_t)n;
	}
	if (write && !lu->write_cache && fdatasync(lu->fd) < 0)
		return -errno;
	return 0;
}

/* The interlock let a waiting read-modify-write go: run its handler again (cmd->reactor). */
static void sbc_rmw_resume(struct scsi_cmd *cmd)
{
	scsi_dispatch(cmd, &scsi_sbc_type);
}

/*
 * Runs fn between a read of the range into the bounce buffer and the write-back, holding the
 * range exclusive in the LU's interlock: writes to those blocks in flight finish first and
 * later ones wait until this command completes.
 */
static enum scsi_exec sbc_rmw(struct scsi_cmd *cmd, uint64_t lba, uint32_t bytes,
			      bool (*fn)(struct scsi_cmd *cmd, uint8_t *medium, uint32_t bytes))
{
	struct sbc_state *st = sbc_state(cmd);
	pthread_mutex_t *lock = sbc_rmw_lock(cmd->lu);
	uint64_t off = lba << cmd->lu->block_shift;
	int ret;

	if (!core_ilk_acquire(cmd, lba, bytes >> cmd->lu->block_shift, true, sbc_rmw_resume))
		return SCSI_EXEC_ASYNC;
	if (!sbc_bounce_get(cmd, bytes)) {
		scsi_busy(cmd);
		return SCSI_EXEC_DONE;
	}
	cmd->io.length = bytes;
	cmd->io.op = CORE_IO_READ;
	pthread_mutex_lock(lock);
	ret = sbc_pio(cmd->lu, false, st->bounce, bytes, off);
	if (ret == 0 && fn(cmd, st->bounce, bytes)) {
		cmd->io.op = CORE_IO_WRITE;
		ret = sbc_pio(cmd->lu, true, st->bounce, bytes, off);
		if (ret == 0)
			core_cmd_good(cmd);
	}
	pthread_mutex_unlock(lock);
	if (ret < 0)
		sbc_io_ok(cmd, ret, cmd->io.op == CORE_IO_WRITE);
	sbc_bounce_put(cmd);
	return SCSI_EXEC_DONE;
}

/* MISCOMPARE DURING VERIFY OPERATION, INFORMATION = offset of the first differing byte. */
static bool sbc_caw_fn(struct scsi_cmd *cmd, uint8_t *medium, uint32_t bytes)
{
	uint32_t i;

	if (memcmp(medium, cmd->buf, bytes)) {
		for (i = 0; medium[i] == cmd->buf[i]; i++)
			;
		core_cmd_fail_info(cmd, SENSE_MISCOMPARE, ASC_MISCOMPARE_VERIFY, i);
		return false;
	}
	memcpy(medium, cmd->buf + bytes, bytes);
	return true;
}

/* COMPARE AND WRITE (SBC-3): Data-Out is the verify blocks then the write blocks. */
static enum scsi_exec sbc_compare_and_write(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct sbc_rw rw;
	uint32_t bytes;

	(void)t;
	rw.lba = get_be64(&cmd->cdb[2]);
	rw.nblk = cmd->cdb[13];
	if (!sbc_range_ok(cmd, &rw))
		return SCSI_EXEC_DONE;
	bytes = rw.nblk << cmd->lu->block_shift;
	if (bytes > SBC_CAW_MAX_BYTES) {
		scsi_fail_cdb(cmd, 13, -1);
		return SCSI_EXEC_DONE;
	}
	cmd->in_len = 2 * bytes;
	if (!bytes && cmd->edtl) {
		/* 256 blocks wrapped to 0 in the one-byte field: Data-Out the CDB does not
		 * account for (libiscsi's CompareAndWrite.Simple expects this answer) */
		scsi_fail_cdb(cmd, 13, -1);
		return SCSI_EXEC_DONE;
	}
	if (!bytes) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	if (!sbc_data_out_ok(cmd, 2 * bytes) || !sbc_data_out_exact(cmd, 2 * bytes))
		return SCSI_EXEC_DONE;
	return sbc_rmw(cmd, rw.lba, bytes, sbc_caw_fn);
}

static bool sbc_orwrite_fn(struct scsi_cmd *cmd, uint8_t *medium, uint32_t bytes)
{
	uint32_t i;

	for (i = 0; i < bytes; i++)
		medium[i] |= cmd->buf[i];
	return true;
}

/* ORWRITE(16) (SBC-3): the medium becomes medium OR Data-Out, atomically per command. */
static enum scsi_exec sbc_orwrite(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct sbc_rw rw;
	uint32_t bytes;

	(void)t;
	if (!sbc_rw_get(cmd, &rw))
		return SCSI_EXEC_DONE;
	bytes = rw.nblk << cmd->lu->block_shift;
	cmd->in_len = bytes;
	if (!bytes) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	if (!sbc_data_out_ok(cmd, bytes))
		return SCSI_EXEC_DONE;
	return sbc_rmw(cmd, rw.lba, bytes, sbc_orwrite_fn);
}


/*
 * WRITE ATOMIC(16) (SBC-4): up to sbc_atomic_max() blocks, any alignment, no atomic boundary
 * (MAXIMUM ATOMIC BOUNDARY SIZE 0: a non-zero ATOMIC BOUNDARY is INVALID FIELD IN CDB). It
 * is written under the read-modify-write lock, whole, with pwrite.
 */
static uint32_t sbc_atomic_max(const struct core_lu *lu)
{
	return MIN(256u, SCSI_MAX_XFER_BYTES >> lu->block_shift);
}

static enum scsi_exec sbc_write_atomic(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	pthread_mutex_t *lock = sbc_rmw_lock(cmd->lu);
	struct sbc_rw rw;
	uint32_t bytes;
	int ret;

	(void)t;
	rw.lba = get_be64(&cmd->cdb[2]);
	rw.nblk = get_be16(&cmd->cdb[12]);
	if (get_be16(&cmd->cdb[10])) {
		scsi_fail_cdb(cmd, 10, -1);
		return SCSI_EXEC_DONE;
	}
	if (!sbc_range_ok(cmd, &rw))
		return SCSI_EXEC_DONE;
	bytes = rw.nblk << cmd->lu->block_shift;
	if (rw.nblk > sbc_atomic_max(cmd->lu)) {
		scsi_fail_cdb(cmd, 12, -1);
		return SCSI_EXEC_DONE;
	}
	cmd->in_len = bytes;
	if (!bytes) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	if (!sbc_data_out_ok(cmd, bytes))
		return SCSI_EXEC_DONE;
	pthread_mutex_lock(lock);
	ret = sbc_pio(cmd->lu, true, cmd->buf, bytes, rw.lba << cmd->lu->block_shift);
	pthread_mutex_unlock(lock);
	cmd->io.op = CORE_IO_WRITE;
	cmd->io.length = bytes;
	if (ret < 0)
		sbc_io_ok(cmd, ret, true);
	else
		core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/* ---- READ CAPACITY ---- */

/*
 * Blocks in 4 KiB, the page-cache and hole-punch granularity of file stores: reported as the
 * optimal transfer and unmap granularities (Linux io_min). LBPPBE stays 0: the stores do not
 * know a physical block size, and libiscsi's GetLBAStatus.UnmapSingle and (1.19)
 * CompareAndWrite.InvalidDataOutSize misbehave when LOGICAL BLOCKS PER PHYSICAL BLOCK > 1.
 */
static uint32_t sbc_granularity(const struct core_lu *lu)
{
	return lu->block_shift < 12 ? 1u << (12 - lu->block_shift) : 1;
}

static uint64_t sbc_last_lba(const struct core_lu *lu)
{
	uint64_t blocks = core_lu_blocks(lu);

	return blocks ? blocks - 1 : 0;
}

/* READ CAPACITY(10) (SBC-3): with PMI=0 the LBA field must be zero; beyond 32 bits the
 * capacity is reported as FFFFFFFFh (use READ CAPACITY(16)). */
static enum scsi_exec sbc_read_capacity10(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint64_t last = sbc_last_lba(cmd->lu);
	uint8_t d[8];

	(void)t;
	if (!(cmd->cdb[8] & 0x01) && get_be32(&cmd->cdb[2])) {
		scsi_fail_cdb(cmd, 2, -1);
		return SCSI_EXEC_DONE;
	}
	put_be32(d, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
	put_be32(&d[4], cmd->lu->block_size);
	scsi_data_in(cmd, d, sizeof(d), sizeof(d));
	return SCSI_EXEC_DONE;
}

/* READ CAPACITY(16) (SBC-3): no protection information, LBPPBE 0; LBPME on thin-provisioned LUs. */
static enum scsi_exec sbc_read_capacity16(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint8_t d[32] = { 0 };

	(void)t;
	if (!(cmd->cdb[14] & 0x01) && get_be64(&cmd->cdb[2])) {
		scsi_fail_cdb(cmd, 2, -1);
		return SCSI_EXEC_DONE;
	}
	put_be64(d, sbc_last_lba(cmd->lu));
	put_be32(&d[8], cmd->lu->block_size);
	d[13] = sbc_lbppbe(cmd->lu) & 0x0f;
	if (cmd->lu->thin)
		d[14] = 0x80 | 0x40; /* LBPME, LBPRZ: unmapped blocks read as zeroes */
	scsi_data_in(cmd, d, sizeof(d), get_be32(&cmd->cdb[10]));
	return SCSI_EXEC_DONE;
}

/*
 * GET LBA STATUS (SBC-3), thin LUs only (it comes with logical block provisioning
 * management). One descriptor for the extent that starts at the LBA, from SEEK_DATA and
 * SEEK_HOLE on the backing file: mapped (0h) up to the next hole, or deallocated (1h) up to
 * the next data; a store without a file (or without SEEK_DATA) reports mapped to the end.
 */
static void sbc_lba_extent(const struct core_lu *lu, uint64_t lba, uint8_t *status,
			   uint64_t *nblk)
{
	uint64_t end = core_lu_blocks(lu), off = lba << lu->block_shift;
	off_t data, hole;

	*status = 0;
	*nblk = end - lba;
	if (lu->fd < 0)
		return;
	data = lseek(lu->fd, (off_t)off, SEEK_DATA);
	if (data < 0 && errno == ENXIO) {
		*status = 1;
		return;
	}
	if (data < 0)
		return;
	if ((uint64_t)data > off) {
		*status = 1;
		*nblk = MIN(end, (uint64_t)data >> lu->block_shift) - lba;
		if (*nblk)
			return;
		*status = 0; /* the hole ends inside this block: it is mapped */
	}
	hole = lseek(lu->fd, (off_t)off, SEEK_HOLE);
	if (hole > (off_t)off)
		*nblk = MIN(end, ((uint64_t)hole + lu->block_size - 1) >> lu->block_shift) - lba;
}

static enum scsi_exec sbc_get_lba_status(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint64_t blocks = core_lu_blocks(cmd->lu);
	uint64_t lba = get_be64(&cmd->cdb[2]);
	uint8_t d[24] = { 0 }, status;
	uint64_t nblk;

	(void)t;
	if (lba >= blocks) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return SCSI_EXEC_DONE;
	}
	sbc_lba_extent(cmd->lu, lba, &status, &nblk);
	put_be32(d, sizeof(d) - 4);
	put_be64(&d[8], lba);
	put_be32(&d[16], (uint32_t)MIN(nblk, 0xffffffffu));
	d[20] = status;
	scsi_data_in(cmd, d, sizeof(d), get_be32(&cmd->cdb[10]));
	return SCSI_EXEC_DONE;
}

/* ---- START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL ---- */

/*
 * START STOP UNIT (SBC-3). Power conditions are accepted (a file has none) and START without
 * LOEJ has no motor to move. LOEJ unloads/loads the medium of a removable LU (takes it
 * offline/online, as tgt does); while removal is prevented neither is allowed (MEDIUM REMOVAL
 * PREVENTED, as libiscsi's PreventAllow.Eject expects). A fixed LU has nothing to eject.
 */
static enum scsi_exec sbc_start_stop(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct core_lu *lu = cmd->lu;
	uint8_t b4 = cmd->cdb[4];

	(void)t;
	if ((b4 & 0xf0) || !(b4 & 0x02)) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	if (!lu->removable) {
		scsi_fail_cdb(cmd, 4, 1);
		return SCSI_EXEC_DONE;
	}
	if (lu->prevent_removal) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
		return SCSI_EXEC_DONE;
	}
	lu->online = b4 & 0x01;
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/* PREVENT ALLOW MEDIUM REMOVAL (SBC-3): PREVENT 01b/00b; a fixed LU accepts and ignores it. */
static enum scsi_exec sbc_prevent_allow(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	(void)t;
	if (cmd->lu->removable)
		core_lu_prevent_set(cmd->lu, cmd->nexus, cmd->cdb[4] & 0x01);
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/* ---- VPD pages ---- */

/*
 * Starts a VPD page of len bytes, header included, in p: zeroed, with the peripheral device
 * type, the page code and the page length. false when size has no room for it.
 */
static bool sbc_vpd_start(const struct scsi_type *t, uint8_t page, uint16_t len, uint8_t *p,
			  uint32_t size)
{
	if (size < len)
		return false;
	memset(p, 0, len);
	p[0] = t->pdt;
	p[1] = page;
	put_be16(&p[2], (uint16_t)(len - 4));
	return true;
}

/* Block Limits (SBC-3): no COMPARE AND WRITE or WRITE SAME; UNMAP limits when thin. */
static uint32_t sbc_vpd_block_limits(const struct scsi_cmd *cmd, const struct scsi_type *t,
				     uint8_t *p, uint32_t size)
{
	const struct core_lu *lu = cmd->lu;

	if (!sbc_vpd_start(t, 0xb0, 64, p, size))
		return 0;
	put_be16(&p[6], (uint16_t)sbc_granularity(lu));         /* OPTIMAL XFER GRANULARITY */
	p[5] = (uint8_t)(SBC_CAW_MAX_BYTES >> lu->block_shift);   /* MAX COMPARE AND WRITE */
	put_be32(&p[8], SCSI_MAX_XFER_BYTES >> lu->block_shift);  /* MAXIMUM TRANSFER LENGTH */
	put_be64(&p[36], SCSI_MAX_XFER_BYTES >> lu->block_shift);  /* MAXIMUM WRITE SAME */
	put_be32(&p[44], sbc_atomic_max(lu));                     /* MAXIMUM ATOMIC XFER */
	put_be32(&p[48], 1);                                      /* ATOMIC ALIGNMENT */
	put_be32(&p[52], 1);                                      /* ... GRANULARITY */
	if (lu->thin) {
		put_be32(&p[20], 0xffffffffu);                    /* MAXIMUM UNMAP LBA COUNT */
		put_be32(&p[24], SBC_UNMAP_MAX_DESC);             /* ... BLOCK DESCRIPTOR COUNT */
		put_be32(&p[28], sbc_granularity(lu));             /* OPTIMAL UNMAP GRANULARITY */
	}
	return 64;
}

/* Block Device Characteristics (SBC-3): the configured rotation rate. */
static uint32_t sbc_vpd_characteristics(const struct scsi_cmd *cmd, const struct scsi_type *t,
					uint8_t *p, uint32_t size)
{
	if (!sbc_vpd_start(t, 0xb1, 64, p, size))
		return 0;
	put_be16(&p[4], cmd->lu->rotation_rate);
	/* WABEREQ 01b, WACEREQ 01b (the erases exist on thin LUs only): erased blocks read back */
	p[7] = cmd->lu->thin ? 0x40 | 0x10 : 0;
	return 64;
}

/*
 * Logical Block Provisioning (SBC-3): a thin-provisioned LU has UNMAP (LBPU), WRITE SAME
 * 10/16 with UNMAP (LBPWS, LBPWS10), unmapped blocks read back as zeroes (LBPRZ: the stores
 * punch holes) and provisioning type 010b. Otherwise fully provisioned.
 */
static uint32_t sbc_vpd_provisioning(const struct scsi_cmd *cmd, const struct scsi_type *t,
				     uint8_t *p, uint32_t size)
{
	if (!sbc_vpd_start(t, 0xb2, 8, p, size))
		return 0;
	if (cmd->lu->thin) {
		p[5] = 0x80 | 0x40 | 0x20 | 0x04; /* LBPU, LBPWS, LBPWS10, LBPRZ */
		p[6] = 0x02;
	}
	return 8;
}

/* ---- mode pages ---- */

/* Caching (SBC-3): WCE, on by default, changeable. */
static void sbc_mode_caching(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	memset(p, 0, 20);
	p[0] = 0x08;
	p[1] = 0x12;
	if (pc != SCSI_PC_CURRENT || lu->write_cache)
		p[2] = 0x04;
}

static bool sbc_mode_caching_apply(struct core_lu *lu, const uint8_t *p)
{
	bool wce = p[2] & 0x04;
	bool changed = wce != lu->write_cache;

	lu->write_cache = wce;
	return changed;
}

/*
 * Control (SPC-4): D_SENSE and SWP changeable; TST 001b (per-nexus task sets), GLTSD (no logs
 * to save), unrestricted reordering of SIMPLE tasks, unlimited busy timeout.
 */
static void sbc_mode_control(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	bool cur = pc == SCSI_PC_CURRENT;

	memset(p, 0, 12);
	p[0] = 0x0a;
	p[1] = 0x0a;
	if (pc == SCSI_PC_CHANGEABLE) {
		p[2] = 0x04;
		p[4] = 0x08;
		return;
	}
	/* TST 001b: one task set per I_T nexus (core/order.c) */
	p[2] = (uint8_t)(0x20 | 0x02 | ((cur && lu->d_sense) ? 0x04 : 0));
	p[3] = 0x10;
	p[4] = (cur && lu->swp) ? 0x08 : 0;
	put_be16(&p[8], 0xffff);
}

static bool sbc_mode_control_apply(struct core_lu *lu, const uint8_t *p)
{
	bool d_sense = p[2] & 0x04;
	bool swp = p[4] & 0x08;
	bool changed = d_sense != lu->d_sense || swp != lu->swp;

	lu->d_sense = d_sense;
	lu->swp = swp;
	return changed;
}

/* ---- the device type ---- */

static const struct scsi_op sbc_sa_in_ops[] = {
	{ .fn = sbc_read_capacity16, .sa = SCSI_SA_READ_CAPACITY_16, .cdb_len = 16,
	  .dir = SCSI_DIR_READ, .flags = SCSI_OPF_PR_OK, .name = "READ CAPACITY(16)",
	  .usage = { 0x9e, SCSI_SA_READ_CAPACITY_16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		     0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0 } }, /* LBA, ALLOCATION LENGTH, PMI */
	{ .fn = sbc_get_lba_status, .sa = SCSI_SA_GET_LBA_STATUS, .cdb_len = 16,
	  .dir = SCSI_DIR_READ, .flags = SCSI_OPF_THIN, .name = "GET LBA STATUS",
	  .usage = { 0x9e, SCSI_SA_GET_LBA_STATUS, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		     0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
};

#define PR_IN(s, nm)                                                                              \
	{ .fn = spc_pr_in, .sa = s, .cdb_len = 10, .dir = SCSI_DIR_READ, .flags = SCSI_OPF_PR_OK,  \
	  .name = nm, .usage = { 0x5e, s, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } }
#define PR_OUT(s, nm)                                                                             \
	{ .fn = spc_pr_out, .sa = s, .cdb_len = 10, .dir = SCSI_DIR_WRITE,                         \
	  .flags = SCSI_OPF_PR_OK,                                                                 \
	  .name = nm, .usage = { 0x5f, s, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0 } }

static const struct scsi_op sbc_pr_in_ops[] = {
	PR_IN(0, "PERSISTENT RESERVE IN / READ KEYS"),
	PR_IN(1, "PERSISTENT RESERVE IN / READ RESERVATION"),
	PR_IN(2, "PERSISTENT RESERVE IN / REPORT CAPABILITIES"),
	PR_IN(3, "PERSISTENT RESERVE IN / READ FULL STATUS"),
};

#define SANITIZE(s, fl, nm)                                                                       \
	{ .fn = sbc_sanitize, .sa = s, .cdb_len = 10, .dir = SCSI_DIR_WRITE,                       \
	  .flags = SCSI_OPF_WRITES | (fl), .name = nm,                                             \
	  .usage = { 0x48, 0x80 | 0x20 | s, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } }

static const struct scsi_op sbc_sanitize_ops[] = {
	SANITIZE(SBC_SA_OVERWRITE, 0, "SANITIZE / OVERWRITE"),
	SANITIZE(SBC_SA_BLOCK_ERASE, SCSI_OPF_THIN, "SANITIZE / BLOCK ERASE"),
	SANITIZE(SBC_SA_CRYPTO, SCSI_OPF_THIN, "SANITIZE / CRYPTO ERASE"),
	SANITIZE(SBC_SA_EXIT_FAIL, 0, "SANITIZE / EXIT FAILURE MODE"),
};

/* Third-party copy (xcopy.c): LID1 only. */
static const struct scsi_op sbc_xcopy_ops[] = {
	{ .fn = spc_extended_copy, .sa = 0x00, .cdb_len = 16, .dir = SCSI_DIR_WRITE,
	  .name = "EXTENDED COPY(LID1)",
	  .usage = { 0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
};

#define RCR(s, nm)                                                                                \
	{ .fn = spc_receive_copy_results, .sa = s, .cdb_len = 16, .dir = SCSI_DIR_READ,            \
	  .name = nm, .usage = { 0x84, s, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } }

static const struct scsi_op sbc_rcr_ops[] = {
	RCR(0x00, "RECEIVE COPY STATUS(LID1)"),
	RCR(0x03, "RECEIVE COPY OPERATING PARAMETERS"),
};

static const struct scsi_op sbc_pr_out_ops[] = {
	PR_OUT(0, "PERSISTENT RESERVE OUT / REGISTER"),
	PR_OUT(1, "PERSISTENT RESERVE OUT / RESERVE"),
	PR_OUT(2, "PERSISTENT RESERVE OUT / RELEASE"),
	PR_OUT(3, "PERSISTENT RESERVE OUT / CLEAR"),
	PR_OUT(4, "PERSISTENT RESERVE OUT / PREEMPT"),
	PR_OUT(5, "PERSISTENT RESERVE OUT / PREEMPT AND ABORT"),
	PR_OUT(6, "PERSISTENT RESERVE OUT / REGISTER AND IGNORE EXISTING KEY"),
	PR_OUT(7, "PERSISTENT RESERVE OUT / REGISTER AND MOVE"),
};

#define SBC_RW(opc, f, d, len, fl, nm, b1, ...)                                                   \
	[opc] = { .fn = f, .dir = SCSI_DIR_##d, .cdb_len = len, .flags = fl, .name = nm,           \
		  .usage = { opc, b1, __VA_ARGS__ } }

#define FF4 0xff, 0xff, 0xff, 0xff

/* clang-format off */
static const struct scsi_op sbc_ops[SCSI_NR_OPCODES] = {
	SCSI_OPS_SPC,
	/* byte 1 of 10/12/16-byte data CDBs: DPO, FUA, FUA_NV (ignored: no NV cache);
	 * RDPROTECT/WRPROTECT/VRPROTECT and the group number are not supported. */
	SBC_RW(SCSI_OP_READ_6, sbc_read, READ, 6, 0, "READ(6)", 0x1f, 0xff, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_WRITE_6, sbc_write, WRITE, 6, SCSI_OPF_WRITES, "WRITE(6)",
	       0x1f, 0xff, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_READ_10, sbc_read, READ, 10, 0, "READ(10)",
	       0x1a, FF4, 0, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_WRITE_10, sbc_write, WRITE, 10, SCSI_OPF_WRITES, "WRITE(10)",
	       0x1a, FF4, 0, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_VERIFY_10, sbc_verify, WRITE, 10, 0, "VERIFY(10)",
	       0x12, FF4, 0, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_READ_12, sbc_read, READ, 12, 0, "READ(12)",
	       0x1a, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_WRITE_12, sbc_write, WRITE, 12, SCSI_OPF_WRITES, "WRITE(12)",
	       0x1a, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_VERIFY_12, sbc_verify, WRITE, 12, 0, "VERIFY(12)",
	       0x12, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_READ_16, sbc_read, READ, 16, 0, "READ(16)",
	       0x1a, FF4, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_WRITE_16, sbc_write, WRITE, 16, SCSI_OPF_WRITES, "WRITE(16)",
	       0x1a, FF4, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_VERIFY_16, sbc_verify, WRITE, 16, 0, "VERIFY(16)",
	       0x12, FF4, FF4, FF4, 0, 0),
	/* SYNC_NV (obsolete) is accepted and ignored, IMMED accepted (see sbc_sync_cache). */
	SBC_RW(SCSI_OP_SYNC_CACHE_10, sbc_sync_cache, NONE, 10, 0, "SYNCHRONIZE CACHE(10)",
	       0x06, FF4, 0, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_SYNC_CACHE_16, sbc_sync_cache, NONE, 16, 0, "SYNCHRONIZE CACHE(16)",
	       0x06, FF4, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_WRITE_VERIFY_10, sbc_write_verify, WRITE, 10, SCSI_OPF_WRITES,
	       "WRITE AND VERIFY(10)", 0x12, FF4, 0, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_WRITE_VERIFY_12, sbc_write_verify, WRITE, 12, SCSI_OPF_WRITES,
	       "WRITE AND VERIFY(12)", 0x12, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_WRITE_VERIFY_16, sbc_write_verify, WRITE, 16, SCSI_OPF_WRITES,
	       "WRITE AND VERIFY(16)", 0x12, FF4, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_PRE_FETCH_10, sbc_pre_fetch, NONE, 10, 0, "PRE-FETCH(10)",
	       0x02, FF4, 0x3f, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_PRE_FETCH_16, sbc_pre_fetch, NONE, 16, 0, "PRE-FETCH(16)",
	       0x02, FF4, FF4, FF4, 0x3f, 0),
	SBC_RW(SCSI_OP_READ_DEFECT_10, sbc_read_defect, READ, 10, 0, "READ DEFECT DATA(10)",
	       0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_READ_DEFECT_12, sbc_read_defect, READ, 12, 0, "READ DEFECT DATA(12)",
	       0x1f, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_WRITE_SAME_10, sbc_write_same, WRITE, 10, SCSI_OPF_WRITES, "WRITE SAME(10)",
	       0x08, FF4, 0, 0xff, 0xff, 0),
	SBC_RW(SCSI_OP_WRITE_SAME_16, sbc_write_same, WRITE, 16, SCSI_OPF_WRITES, "WRITE SAME(16)",
	       0x09, FF4, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_COMPARE_AND_WRITE, sbc_compare_and_write, WRITE, 16, SCSI_OPF_WRITES,
	       "COMPARE AND WRITE", 0x18, FF4, FF4, 0, 0, 0, 0xff, 0, 0),
	SBC_RW(SCSI_OP_ORWRITE_16, sbc_orwrite, WRITE, 16, SCSI_OPF_WRITES, "ORWRITE(16)",
	       0x18, FF4, FF4, FF4, 0, 0),
	SBC_RW(SCSI_OP_WRITE_ATOMIC_16, sbc_write_atomic, WRITE, 16, SCSI_OPF_WRITES,
	       "WRITE ATOMIC(16)", 0x18, FF4, FF4, 0xff, 0xff, 0xff, 0xff, 0, 0),
	[SCSI_OP_UNMAP] = { .fn = sbc_unmap, .cdb_len = 10, .dir = SCSI_DIR_WRITE,
		.flags = SCSI_OPF_WRITES | SCSI_OPF_THIN, .name = "UNMAP",
		.usage = { 0x42, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	[SCSI_OP_SANITIZE] = { .sa_ops = sbc_sanitize_ops, .nr_sa = ARRAY_SIZE(sbc_sanitize_ops),
		.cdb_len = 10, .name = "SANITIZE" },
	[SCSI_OP_EXTENDED_COPY] = { .sa_ops = sbc_xcopy_ops, .nr_sa = ARRAY_SIZE(sbc_xcopy_ops),
		.cdb_len = 16, .name = "EXTENDED COPY" },
	[SCSI_OP_RECEIVE_COPY] = { .sa_ops = sbc_rcr_ops, .nr_sa = ARRAY_SIZE(sbc_rcr_ops),
		.cdb_len = 16, .name = "RECEIVE COPY RESULTS" },
	[SCSI_OP_PR_IN] = { .sa_ops = sbc_pr_in_ops, .nr_sa = ARRAY_SIZE(sbc_pr_in_ops),
		.cdb_len = 10, .name = "PERSISTENT RESERVE IN" },
	[SCSI_OP_PR_OUT] = { .sa_ops = sbc_pr_out_ops, .nr_sa = ARRAY_SIZE(sbc_pr_out_ops),
		.cdb_len = 10, .name = "PERSISTENT RESERVE OUT" },
	[SCSI_OP_RESERVE_6] = { .fn = spc_reserve, .cdb_len = 6, .dir = SCSI_DIR_NONE,
		.name = "RESERVE(6)", .usage = { 0x16, 0, 0, 0, 0, 0 } },
	[SCSI_OP_RELEASE_6] = { .fn = spc_release, .cdb_len = 6, .dir = SCSI_DIR_NONE,
		.flags = SCSI_OPF_PR_OK, .name = "RELEASE(6)", .usage = { 0x17, 0, 0, 0, 0, 0 } },
	[SCSI_OP_RESERVE_10] = { .fn = spc_reserve, .cdb_len = 10, .dir = SCSI_DIR_NONE,
		.name = "RESERVE(10)", .usage = { 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0 } },
	[SCSI_OP_RELEASE_10] = { .fn = spc_release, .cdb_len = 10, .dir = SCSI_DIR_NONE,
		.flags = SCSI_OPF_PR_OK, .name = "RELEASE(10)",
		.usage = { 0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0 } },
	[SCSI_OP_READ_CAPACITY_10] = { .fn = sbc_read_capacity10, .cdb_len = 10,
		.dir = SCSI_DIR_READ, .flags = SCSI_OPF_PR_OK, .name = "READ CAPACITY(10)",
		.usage = { 0x25, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0 } },
	[SCSI_OP_SERVICE_ACTION_IN] = { .sa_ops = sbc_sa_in_ops, .nr_sa = ARRAY_SIZE(sbc_sa_in_ops),
		.cdb_len = 16, .name = "SERVICE ACTION IN(16)" },
	[SCSI_OP_MODE_SENSE_6] = { .fn = spc_mode_sense, .cdb_len = 6, .dir = SCSI_DIR_READ,
		.flags = SCSI_OPF_NO_MEDIUM, .name = "MODE SENSE(6)",
		.usage = { 0x1a, 0x08, 0xff, 0xff, 0xff, 0 } },
	[SCSI_OP_MODE_SENSE_10] = { .fn = spc_mode_sense, .cdb_len = 10, .dir = SCSI_DIR_READ,
		.flags = SCSI_OPF_NO_MEDIUM, .name = "MODE SENSE(10)",
		.usage = { 0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
	[SCSI_OP_MODE_SELECT_6] = { .fn = spc_mode_select, .cdb_len = 6, .dir = SCSI_DIR_WRITE,
		.flags = SCSI_OPF_NO_MEDIUM, .name = "MODE SELECT(6)",
		.usage = { 0x15, 0x11, 0, 0, 0xff, 0 } },
	[SCSI_OP_MODE_SELECT_10] = { .fn = spc_mode_select, .cdb_len = 10, .dir = SCSI_DIR_WRITE,
		.flags = SCSI_OPF_NO_MEDIUM, .name = "MODE SELECT(10)",
		.usage = { 0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	[SCSI_OP_START_STOP_UNIT] = { .fn = sbc_start_stop, .cdb_len = 6, .dir = SCSI_DIR_NONE,
		.flags = SCSI_OPF_NO_MEDIUM, .name = "START STOP UNIT",
		.usage = { 0x1b, 0x01, 0, 0x0f, 0xf7, 0 } },
	[SCSI_OP_PREVENT_ALLOW] = { .fn = sbc_prevent_allow, .cdb_len = 6, .dir = SCSI_DIR_NONE,
		.flags = SCSI_OPF_NO_MEDIUM, .name = "PREVENT ALLOW MEDIUM REMOVAL",
		.usage = { 0x1e, 0, 0, 0, 0x01, 0 } },
};
/* clang-format on */

static const struct scsi_vpd sbc_vpd[] = {
	{ 0x00, spc_vpd_supported },
	{ 0x80, spc_vpd_serial },
	{ 0x83, spc_vpd_devid },
	{ 0x8f, spc_vpd_tpc },
	{ 0xb0, sbc_vpd_block_limits },
	{ 0xb1, sbc_vpd_characteristics },
	{ 0xb2, sbc_vpd_provisioning },
};

/* SAM-5, iSCSI, SPC-4, SBC-3 (no version claimed). */
static const uint16_t sbc_versions[] = { 0x00a0, 0x0960, 0x0460, 0x04c0 };

static const struct scsi_mode_page sbc_modes[] = {
	{ 0x01, 0, 12, spc_mode_rw_recovery, NULL },
	{ 0x08, 0, 20, sbc_mode_caching, sbc_mode_caching_apply },
	{ 0x0a, 0, 12, sbc_mode_control, sbc_mode_control_apply },
};

const struct scsi_type scsi_sbc_type = {
	.dt = &scsi_disk,
	.pdt = SCSI_PDT_DISK,
	.unknown_asc = ASC_INVALID_OPCODE,
	.ops = sbc_ops,
	.vpd = sbc_vpd,
	.nr_vpd = ARRAY_SIZE(sbc_vpd),
	.versions = sbc_versions,
	.nr_versions = ARRAY_SIZE(sbc_versions),
	.modes = sbc_modes,
	.nr_modes = ARRAY_SIZE(sbc_modes),
};

/*
 * Block sizes from 512 bytes to 64 KiB, powers of two; identity as tgt; write cache on.
 * Persistent reservations with APTPL are kept in the daemon's state directory and restored
 * here (scsi_pr_attach).
 */
static int sbc_lu_init(struct core_lu *lu)
{
	struct sbc_lu *sl;

	if (!lu->block_size)
		lu->block_size = 512;
	if (lu->block_size < 512 || lu->block_size > 65536 ||
	    (lu->block_size & (lu->block_size - 1)))
		return -EINVAL;
	lu->block_shift = (uint8_t)__builtin_ctz(lu->block_size);
	scsi_lu_identity_init(lu, "UTGT", "VIRTUAL-DISK");
	lu->write_cache = true;
	sl = calloc(1, sizeof(*sl));
	if (!sl)
		return -ENOMEM;
	scsi_pr_init(&sl->pr);
	pthread_mutex_init(&sl->xcopy.lock, NULL);
	if (scsi_pr_attach(&sl->pr, lu) < 0) {
		scsi_pr_fini(&sl->pr);
		pthread_mutex_destroy(&sl->xcopy.lock);
		free(sl);
		return -ENOMEM;
	}
	lu->dt_priv = sl;
	return 0;
}

static void sbc_lu_fini(struct core_lu *lu)
{
	struct sbc_lu *sl = lu->dt_priv;

	if (!sl)
		return;
	scsi_pr_fini(&sl->pr);
	pthread_mutex_destroy(&sl->xcopy.lock);
	free(sl);
	lu->dt_priv = NULL;
}

static const char *const sbc_config_keys[] = { "sanitize_rate", "physical_block_size", NULL };

/* Device-type parameters: physical_block_size (a power-of-two multiple of the block size,
 * reported as LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT); sanitize_rate (MiB/s of a SANITIZE
 * OVERWRITE, 0 unpaced; read when a sanitize starts). */
static int sbc_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	struct sbc_lu *sl = lu->dt_priv;
	uint64_t v;

	if (!strcmp(key, "sanitize_rate")) {
		if (!sl || str_to_u64(value, 0, 1u << 20, &v) < 0)
			return -EINVAL;
		sl->sanitize_rate = (uint32_t)v;
		return 0;
	}
	if (strcmp(key, "physical_block_size"))
		return -ENOENT;
	if (!sl || str_to_u64(value, lu->block_size, 1u << 20, &v) < 0 || (v & (v - 1)) ||
	    v < lu->block_size)
		return -EINVAL;
	sl->lbppbe = (uint8_t)(__builtin_ctzll(v) - lu->block_shift);
	return 0;
}

static void sbc_cmd_exec(struct scsi_cmd *cmd)
{
	scsi_dispatch(cmd, &scsi_sbc_type);
}

/* LOGICAL UNIT RESET releases an SPC-2 RESERVE (SPC-2 §5.5.1). */
static void sbc_lu_reset(struct core_lu *lu)
{
	struct scsi_pr *pr = scsi_lu_pr(lu);

	if (pr)
		scsi_pr_lu_reset(pr);
}

const struct core_devtype scsi_disk = {
	.name = "disk",
	.show_name = "disk",
	.pdt = SCSI_PDT_DISK,
	.default_bs = "io_uring",
	.needs_path = true,
	.lu_init = sbc_lu_init,
	.lu_fini = sbc_lu_fini,
	.lu_config = sbc_lu_config,
	.config_keys = sbc_config_keys,
	.cmd_exec = sbc_cmd_exec,
	.lu_reset = sbc_lu_reset,
};
