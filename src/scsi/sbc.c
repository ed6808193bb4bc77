/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The disk device type (SBC-3): READ/WRITE(6/10/12/16), VERIFY(10/12/16), SYNCHRONIZE
 * CACHE(10/16), UNMAP (thin LUs), READ CAPACITY(10/16), START STOP UNIT, PREVENT ALLOW, the
 * block VPD pages (0xB0-0xB2) and mode pages (0x01, 0x08, 0x0A). Data commands fill cmd->io
 * and hand the command to the LU's backing store; the completion maps errors to sense.
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <string.h>

#include "scsi/scsi_int.h"

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
static enum scsi_exec sbc_write(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	bool fua = (cmd->cdb[0] >> 5) && (cmd->cdb[1] & 0x08);
	uint32_t bytes, got;
	struct sbc_rw rw;

	(void)t;
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
	if (cmd->lu->thin)
		d[14] = 0x80;
	scsi_data_in(cmd, d, sizeof(d), get_be32(&cmd->cdb[10]));
	return SCSI_EXEC_DONE;
}

/*
 * GET LBA STATUS (SBC-3), thin LUs only (it comes with logical block provisioning
 * management). The stores cannot tell holes apart, so one descriptor covers the rest of the
 * LU with provisioning status 0h, "mapped or unknown": true, and what QEMU expects to parse.
 */
static enum scsi_exec sbc_get_lba_status(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint64_t blocks = core_lu_blocks(cmd->lu);
	uint64_t lba = get_be64(&cmd->cdb[2]);
	uint8_t d[24] = { 0 };

	(void)t;
	if (lba >= blocks) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return SCSI_EXEC_DONE;
	}
	put_be32(d, sizeof(d) - 4);
	put_be64(&d[8], lba);
	put_be32(&d[16], (uint32_t)MIN(blocks - lba, 0xffffffffu));
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

/* Block Limits (SBC-3): no COMPARE AND WRITE or WRITE SAME; UNMAP limits when thin. */
static uint32_t sbc_vpd_block_limits(const struct scsi_cmd *cmd, const struct scsi_type *t,
				     uint8_t *p, uint32_t size)
{
	const struct core_lu *lu = cmd->lu;

	if (size < 64)
		return 0;
	memset(p, 0, 64);
	p[0] = t->pdt;
	p[1] = 0xb0;
	put_be16(&p[2], 0x3c);
	put_be16(&p[6], (uint16_t)sbc_granularity(lu));         /* OPTIMAL XFER GRANULARITY */
	put_be32(&p[8], SCSI_MAX_XFER_BYTES >> lu->block_shift);  /* MAXIMUM TRANSFER LENGTH */
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
	if (size < 64)
		return 0;
	memset(p, 0, 64);
	p[0] = t->pdt;
	p[1] = 0xb1;
	put_be16(&p[2], 0x3c);
	put_be16(&p[4], cmd->lu->rotation_rate);
	return 64;
}

/*
 * Logical Block Provisioning (SBC-3): a thin-provisioned LU has UNMAP (LBPU) and
 * provisioning type 010b; WRITE SAME is not implemented (no LBPWS/LBPWS10), and what an
 * unmapped block reads back depends on the store (LBPRZ 0). Otherwise fully provisioned.
 */
static uint32_t sbc_vpd_provisioning(const struct scsi_cmd *cmd, const struct scsi_type *t,
				     uint8_t *p, uint32_t size)
{
	if (size < 8)
		return 0;
	memset(p, 0, 8);
	p[0] = t->pdt;
	p[1] = 0xb2;
	put_be16(&p[2], 4);
	if (cmd->lu->thin) {
		p[5] = 0x80;
		p[6] = 0x02;
	}
	return 8;
}

/* ---- mode pages ---- */

/* Read-Write Error Recovery (SBC-3): no retries or reallocation to control. */
static void sbc_mode_rw_recovery(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	(void)lu;
	(void)pc;
	memset(p, 0, 12);
	p[0] = 0x01;
	p[1] = 0x0a;
}

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
 * Control (SPC-4): D_SENSE and SWP changeable; GLTSD (no logs to save), unrestricted
 * reordering of SIMPLE tasks, unlimited busy timeout.
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
	p[2] = (uint8_t)(0x02 | ((cur && lu->d_sense) ? 0x04 : 0));
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
	  .dir = SCSI_DIR_READ, .name = "READ CAPACITY(16)",
	  .usage = { 0x9e, SCSI_SA_READ_CAPACITY_16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		     0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0 } }, /* LBA, ALLOCATION LENGTH, PMI */
	{ .fn = sbc_get_lba_status, .sa = SCSI_SA_GET_LBA_STATUS, .cdb_len = 16,
	  .dir = SCSI_DIR_READ, .flags = SCSI_OPF_THIN, .name = "GET LBA STATUS",
	  .usage = { 0x9e, SCSI_SA_GET_LBA_STATUS, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		     0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
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
	[SCSI_OP_UNMAP] = { .fn = sbc_unmap, .cdb_len = 10, .dir = SCSI_DIR_WRITE,
		.flags = SCSI_OPF_WRITES | SCSI_OPF_THIN, .name = "UNMAP",
		.usage = { 0x42, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	[SCSI_OP_READ_CAPACITY_10] = { .fn = sbc_read_capacity10, .cdb_len = 10,
		.dir = SCSI_DIR_READ, .name = "READ CAPACITY(10)",
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
	{ 0xb0, sbc_vpd_block_limits },
	{ 0xb1, sbc_vpd_characteristics },
	{ 0xb2, sbc_vpd_provisioning },
};

/* SAM-5, iSCSI, SPC-4, SBC-3 (no version claimed). */
static const uint16_t sbc_versions[] = { 0x00a0, 0x0960, 0x0460, 0x04c0 };

static const struct scsi_mode_page sbc_modes[] = {
	{ 0x01, 0, 12, sbc_mode_rw_recovery, NULL },
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

/* Block sizes from 512 bytes to 64 KiB, powers of two; identity as tgt; write cache on. */
static int sbc_lu_init(struct core_lu *lu)
{
	if (!lu->block_size)
		lu->block_size = 512;
	if (lu->block_size < 512 || lu->block_size > 65536 ||
	    (lu->block_size & (lu->block_size - 1)))
		return -EINVAL;
	lu->block_shift = (uint8_t)__builtin_ctz(lu->block_size);
	scsi_lu_identity_init(lu, "UTGT", "VIRTUAL-DISK");
	lu->write_cache = true;
	return 0;
}

static void sbc_lu_fini(struct core_lu *lu)
{
	(void)lu;
}

static int sbc_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	(void)lu;
	(void)key;
	(void)value;
	return -ENOENT;
}

static void sbc_cmd_exec(struct scsi_cmd *cmd)
{
	scsi_dispatch(cmd, &scsi_sbc_type);
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
	.cmd_exec = sbc_cmd_exec,
};
