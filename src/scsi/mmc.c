/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The CD/DVD device type (MMC-6, peripheral type 05h): a DVD drive whose disc is an image
 * file behind the LU's backing store, a DVD-ROM by default or DVD+RW media with readonly=0
 * (random writes, no track or session state to keep). The drive may be empty; a disc is
 * loaded, changed and ejected with `--params path=` (mgmt thread) or START STOP UNIT LOEJ.
 * Media changes are reported through GET EVENT STATUS NOTIFICATION, as sr and udev expect.
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_int.h"

#define MMC_BLOCK_SIZE     2048u
#define MMC_BLOCK_SHIFT    11
#define MMC_PROFILE_NONE   0x0000
#define MMC_PROFILE_CDROM  0x0008
#define MMC_PROFILE_DVDROM 0x0010
#define MMC_PROFILE_DVDPRW 0x001a
#define MMC_LEADIN_FRAMES  150u     /* LBA 0 is MSF 00:02:00 (MMC-6 §4.2.3.4) */

/* Media events of GET EVENT STATUS NOTIFICATION (MMC-6 Table 159). */
enum mmc_media_event {
	MMC_EV_NONE = 0,
	MMC_EV_EJECT_REQUEST = 1,
	MMC_EV_NEW_MEDIA = 2,
	MMC_EV_MEDIA_REMOVAL = 3,
};

/* Per-LU state (lu->dt_priv). */
struct mmc_lu {
	atomic_uchar media_event;     /* pending enum mmc_media_event: set by load/eject, read
				       * and cleared by GET EVENT STATUS NOTIFICATION */
};

static struct mmc_lu *mmc_lu(const struct core_lu *lu)
{
	return lu->dt_priv;
}

static void mmc_event_set(struct core_lu *lu, enum mmc_media_event ev)
{
	if (mmc_lu(lu))
		atomic_store(&mmc_lu(lu)->media_event, (unsigned char)ev);
}

/* A disc came in (loaded or tray closed on one): besides the GET EVENT STATUS NOTIFICATION
 * event, every nexus sees NOT READY TO READY CHANGE (28/00). Linux's sr consumes the event
 * in its drive status check on open and relies on the unit attention to notice a change. */
static void mmc_new_medium(struct core_lu *lu)
{
	mmc_event_set(lu, MMC_EV_NEW_MEDIA);
	core_ua_add_all(lu->tgt, NULL, lu->lun, ASC_NOT_READY_TO_READY);
}

static bool mmc_has_medium(const struct core_lu *lu)
{
	return lu->online && lu->fd >= 0;
}

static void mmc_msf_put(uint8_t *p, uint64_t lba)
{
	uint64_t f = lba + MMC_LEADIN_FRAMES;

	p[0] = 0;
	p[1] = (uint8_t)(f / (60 * 75));
	p[2] = (uint8_t)((f / 75) % 60);
	p[3] = (uint8_t)(f % 75);
}

static void mmc_addr_put(uint8_t *p, uint64_t lba, bool msf)
{
	if (msf)
		mmc_msf_put(p, lba);
	else
		put_be32(p, (uint32_t)MIN(lba, 0xffffffffu));
}

/* ---- READ(10/12), READ CAPACITY ---- */

static void mmc_io_done(struct scsi_cmd *cmd, int64_t res)
{
	bool write = cmd->io.op == CORE_IO_WRITE;

	if (res >= 0 && (cmd->io.op == CORE_IO_FLUSH || (uint64_t)res == cmd->io.length)) {
		core_cmd_good(cmd);
		cmd->in_len = (uint32_t)cmd->scratch[0];
	} else if (res >= 0 || res == -EIO) {
		core_cmd_fail(cmd, SENSE_MEDIUM_ERROR, write ? ASC_WRITE_ERROR : ASC_READ_ERROR);
	} else if (res == -EROFS || res == -EBADF) {
		core_cmd_fail(cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	} else {
		core_cmd_fail(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	}
	core_cmd_done(cmd);
}

static enum scsi_exec mmc_submit(struct scsi_cmd *cmd, enum core_io_op op, uint64_t lba,
				 uint32_t len)
{
	cmd->io.op = op;
	cmd->io.flags = 0;
	cmd->io.offset = lba << MMC_BLOCK_SHIFT;
	cmd->io.length = len;
	cmd->io.buf = cmd->buf;
	cmd->io.done = mmc_io_done;
	cmd->lu->bs->submit(cmd);
	return SCSI_EXEC_ASYNC;
}

/* LBA and length of READ/WRITE(10/12), range-checked; the byte count goes to scratch[0]. */
static bool mmc_rw_decode(struct scsi_cmd *cmd, uint64_t *lba)
{
	bool twelve = cmd->cdb[0] == SCSI_OP_READ_12 || cmd->cdb[0] == SCSI_OP_WRITE_12;
	uint32_t nblk = twelve ? get_be32(&cmd->cdb[6]) : get_be16(&cmd->cdb[7]);
	uint64_t blocks = core_lu_blocks(cmd->lu);

	*lba = get_be32(&cmd->cdb[2]);
	if (cmd->lu->fd < 0) {              /* online=1 on an empty drive: still no disc */
		core_cmd_fail(cmd, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
		return false;
	}
	if (*lba > blocks || nblk > blocks - *lba) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return false;
	}
	if (nblk > (SCSI_MAX_XFER_BYTES >> MMC_BLOCK_SHIFT)) {
		scsi_fail_cdb(cmd, twelve ? 6 : 7, -1);
		return false;
	}
	cmd->scratch[0] = (uint64_t)nblk << MMC_BLOCK_SHIFT;
	return true;
}

/* READ(10) and READ(12) (MMC-6 §6.15, §6.16): 2048-byte blocks of the image. */
static enum scsi_exec mmc_read(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint64_t lba;
	uint32_t want;

	(void)t;
	if (!mmc_rw_decode(cmd, &lba))
		return SCSI_EXEC_DONE;
	want = cmd->buf ? MIN((uint32_t)cmd->scratch[0], cmd->buf_len) : 0;
	if (!want) {
		core_cmd_good(cmd);
		cmd->in_len = (uint32_t)cmd->scratch[0];
		return SCSI_EXEC_DONE;
	}
	return mmc_submit(cmd, CORE_IO_READ, lba, want);
}

/* WRITE(10) and WRITE(12) (MMC-6 §6.44, §6.45) on DVD+RW media (readonly=0). */
static enum scsi_exec mmc_write(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint32_t bytes;
	uint64_t lba;

	(void)t;
	if (!mmc_rw_decode(cmd, &lba))
		return SCSI_EXEC_DONE;
	bytes = (uint32_t)cmd->scratch[0];
	cmd->in_len = bytes;
	if (cmd->out_len < bytes || cmd->buf_len < bytes || (bytes && !cmd->buf)) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
		return SCSI_EXEC_DONE;
	}
	if (!bytes) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	return mmc_submit(cmd, CORE_IO_WRITE, lba, bytes);
}

static enum scsi_exec mmc_sync_cache(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	(void)t;
	cmd->scratch[0] = 0;
	if (cmd->lu->readonly) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	return mmc_submit(cmd, CORE_IO_FLUSH, 0, 0);
}

static enum scsi_exec mmc_read_capacity(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint64_t blocks = core_lu_blocks(cmd->lu);
	uint8_t d[8];

	(void)t;
	put_be32(d, blocks ? (uint32_t)MIN(blocks - 1, 0xffffffffu) : 0);
	put_be32(&d[4], MMC_BLOCK_SIZE);
	scsi_data_in(cmd, d, sizeof(d), sizeof(d));
	return SCSI_EXEC_DONE;
}

/* ---- READ TOC/PMA/ATIP (MMC-6 §6.26): one data track in one closed session ---- */

static uint32_t mmc_toc_formatted(const struct scsi_cmd *cmd, uint8_t *d, bool msf)
{
	uint8_t track = cmd->cdb[6];
	uint32_t off = 4;

	if (track <= 1) {
		d[off + 1] = 0x14;          /* ADR 1, CONTROL: data track, copy permitted */
		d[off + 2] = 1;
		mmc_addr_put(&d[off + 4], 0, msf);
		off += 8;
	}
	d[off + 1] = 0x14;
	d[off + 2] = 0xaa;                  /* lead-out */
	mmc_addr_put(&d[off + 4], core_lu_blocks(cmd->lu), msf);
	off += 8;
	d[2] = 1;
	d[3] = 1;
	return off;
}

static uint32_t mmc_toc_session(uint8_t *d, bool msf)
{
	d[2] = 1;
	d[3] = 1;
	d[5] = 0x14;
	d[6] = 1;
	mmc_addr_put(&d[8], 0, msf);
	return 12;
}

/* Full TOC (format 2): points A0h (first track), A1h (last track), A2h (lead-out), track 1. */
static uint32_t mmc_toc_full(const struct scsi_cmd *cmd, uint8_t *d)
{
	static const uint8_t points[] = { 0xa0, 0xa1, 0xa2, 0x01 };
	uint32_t off = 4;
	unsigned int i;

	d[2] = 1;
	d[3] = 1;
	for (i = 0; i < ARRAY_SIZE(points); i++, off += 11) {
		uint8_t *e = &d[off];

		e[0] = 1;                   /* session */
		e[1] = 0x14;
		e[3] = points[i];
		if (points[i] == 0xa0 || points[i] == 0xa1)
			e[8] = 1;           /* PMIN: track number; PSEC 0: CD-DA or CD-ROM disc */
		else
			mmc_msf_put(&e[7], points[i] == 0xa2 ? core_lu_blocks(cmd->lu) : 0);
	}
	return off;
}

static enum scsi_exec mmc_read_toc(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	bool msf = cmd->cdb[1] & 0x02;
	uint8_t d[64] = { 0 };
	uint32_t len;

	(void)t;
	switch (cmd->cdb[2] & 0x0f) {
	case 0:
		if (cmd->cdb[6] > 1 && cmd->cdb[6] != 0xaa) {
			scsi_fail_cdb(cmd, 6, -1);
			return SCSI_EXEC_DONE;
		}
		len = mmc_toc_formatted(cmd, d, msf);
		break;
	case 1:
		len = mmc_toc_session(d, msf);
		break;
	case 2:
		len = mmc_toc_full(cmd, d);
		break;
	default:
		scsi_fail_cdb(cmd, 2, 3);
		return SCSI_EXEC_DONE;
	}
	put_be16(d, (uint16_t)(len - 2));
	scsi_data_in(cmd, d, len, get_be16(&cmd->cdb[7]));
	return SCSI_EXEC_DONE;
}

/* ---- GET CONFIGURATION (MMC-6 §6.6) ---- */

/* Appends feature code to d at off when the request selects it; returns the new offset. */
struct mmc_feature {
	uint16_t code;
	uint8_t flags;                      /* version << 2 | persistent 0x02 (current computed) */
	uint8_t len;                        /* additional length */
	bool needs_medium;                  /* current only with a disc */
	bool needs_write;                   /* current only with writable (DVD+RW) media */
	void (*fill)(const struct core_lu *lu, uint8_t *p);
};

static bool mmc_is_writable(const struct core_lu *lu)
{
	return mmc_has_medium(lu) && !lu->readonly;
}

static uint16_t mmc_profile(const struct core_lu *lu)
{
	if (!mmc_has_medium(lu))
		return MMC_PROFILE_NONE;
	return lu->readonly ? MMC_PROFILE_DVDROM : MMC_PROFILE_DVDPRW;
}

static void mmc_feat_profiles(const struct core_lu *lu, uint8_t *p)
{
	put_be16(&p[0], MMC_PROFILE_DVDPRW);
	p[2] = mmc_profile(lu) == MMC_PROFILE_DVDPRW ? 0x01 : 0;
	put_be16(&p[4], MMC_PROFILE_DVDROM);
	p[6] = mmc_profile(lu) == MMC_PROFILE_DVDROM ? 0x01 : 0;
	put_be16(&p[8], MMC_PROFILE_CDROM);
}

static void mmc_feat_core(const struct core_lu *lu, uint8_t *p)
{
	(void)lu;
	put_be32(p, 0x00000001);            /* physical interface: SCSI family */
	p[4] = 0x01;                        /* DBE */
}

static void mmc_feat_morphing(const struct core_lu *lu, uint8_t *p)
{
	(void)lu;
	p[0] = 0x02;                        /* OCEvent: polled GET EVENT STATUS NOTIFICATION */
}

static void mmc_feat_removable(const struct core_lu *lu, uint8_t *p)
{
	(void)lu;
	p[0] = 0x29;                        /* tray loading mechanism, Eject, Lock */
}

static void mmc_feat_random_read(const struct core_lu *lu, uint8_t *p)
{
	(void)lu;
	put_be32(p, MMC_BLOCK_SIZE);
	put_be16(&p[4], 16);                /* blocking */
}

static void mmc_feat_dvd_read(const struct core_lu *lu, uint8_t *p)
{
	(void)lu;
	(void)p;
}

static void mmc_feat_random_write(const struct core_lu *lu, uint8_t *p)
{
	uint64_t blocks = core_lu_blocks(lu);

	put_be32(p, blocks ? (uint32_t)MIN(blocks - 1, 0xffffffffu) : 0);
	put_be32(&p[4], MMC_BLOCK_SIZE);
	put_be16(&p[8], 16);
}

static void mmc_feat_dvdprw(const struct core_lu *lu, uint8_t *p)
{
	(void)lu;
	p[0] = 0x01;                        /* Write */
}

static const struct mmc_feature mmc_features[] = {
	{ 0x0000, 0x03, 12, false, false, mmc_feat_profiles },
	{ 0x0001, 0x0b, 8, false, false, mmc_feat_core },
	{ 0x0002, 0x07, 4, false, false, mmc_feat_morphing },
	{ 0x0003, 0x03, 4, false, false, mmc_feat_removable },
	{ 0x0010, 0x00, 8, true, false, mmc_feat_random_read },
	{ 0x001f, 0x00, 0, true, false, mmc_feat_dvd_read },
	{ 0x0020, 0x04, 12, true, true, mmc_feat_random_write },
	{ 0x002a, 0x04, 4, true, true, mmc_feat_dvdprw },
};

static bool mmc_feature_current(const struct core_lu *lu, const struct mmc_feature *f)
{
	return (!f->needs_medium || mmc_has_medium(lu)) && (!f->needs_write ||
							    mmc_is_writable(lu));
}

static enum scsi_exec mmc_get_configuration(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	const struct core_lu *lu = cmd->lu;
	uint8_t rt = cmd->cdb[1] & 0x03;
	uint16_t start = get_be16(&cmd->cdb[2]);
	uint8_t d[128] = { 0 };
	uint32_t off = 8;
	unsigned int i;

	(void)t;
	if (rt == 3) {
		scsi_fail_cdb(cmd, 1, 1);
		return SCSI_EXEC_DONE;
	}
	for (i = 0; i < ARRAY_SIZE(mmc_features); i++) {
		const struct mmc_feature *f = &mmc_features[i];
		bool cur = mmc_feature_current(lu, f);

		if (f->code < start || (rt == 2 && f->code != start) || (rt == 1 && !cur))
			continue;
		put_be16(&d[off], f->code);
		d[off + 2] = (uint8_t)(f->flags | (cur ? 0x01 : 0));
		d[off + 3] = f->len;
		f->fill(lu, &d[off + 4]);
		off += 4u + f->len;
	}
	put_be32(d, off - 4);
	put_be16(&d[6], mmc_profile(lu));
	scsi_data_in(cmd, d, off, get_be16(&cmd->cdb[7]));
	return SCSI_EXEC_DONE;
}

/* ---- GET EVENT STATUS NOTIFICATION (MMC-6 §6.7): polled, media class only ---- */

static enum scsi_exec mmc_get_event_status(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct core_lu *lu = cmd->lu;
	uint8_t d[8] = { 0 };
	uint32_t len = 4;

	(void)t;
	if (!(cmd->cdb[1] & 0x01)) {        /* asynchronous operation is not supported */
		scsi_fail_cdb(cmd, 1, 0);
		return SCSI_EXEC_DONE;
	}
	d[3] = 0x10;                        /* supported classes: media */
	if (cmd->cdb[4] & 0x10) {
		d[2] = 0x04;                /* class 4: media */
		d[4] = mmc_lu(lu) ? atomic_exchange(&mmc_lu(lu)->media_event, MMC_EV_NONE) : 0;
		d[5] = mmc_has_medium(lu) ? 0x02 : (lu->fd >= 0 ? 0x01 : 0x00);
		len = 8;
	} else {
		d[2] = 0x80;                /* NEA: no requested class is supported */
	}
	put_be16(d, (uint16_t)(len - 2));
	scsi_data_in(cmd, d, len, get_be16(&cmd->cdb[7]));
	return SCSI_EXEC_DONE;
}

/* ---- READ DISC INFORMATION, READ TRACK INFORMATION (MMC-6 §6.22, §6.27) ---- */

static enum scsi_exec mmc_read_disc_info(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint8_t d[34] = { 0 };

	(void)t;
	if (cmd->cdb[1] & 0x07) {           /* only standard disc information */
		scsi_fail_cdb(cmd, 1, 2);
		return SCSI_EXEC_DONE;
	}
	put_be16(d, sizeof(d) - 2);
	d[2] = (uint8_t)(0x0e | (cmd->lu->readonly ? 0 : 0x10)); /* complete; erasable +RW */
	d[3] = 1;                           /* first track on disc */
	d[4] = 1;                           /* sessions */
	d[5] = 1;                           /* first track in last session */
	d[6] = 1;                           /* last track in last session */
	d[7] = 0x20;                        /* URU */
	put_be32(&d[16], 0xffffffffu);      /* no next session */
	put_be32(&d[20], 0xffffffffu);
	scsi_data_in(cmd, d, sizeof(d), get_be16(&cmd->cdb[7]));
	return SCSI_EXEC_DONE;
}

static enum scsi_exec mmc_read_track_info(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint64_t blocks = core_lu_blocks(cmd->lu);
	uint32_t num = get_be32(&cmd->cdb[2]);
	uint8_t d[36] = { 0 };
	bool ok;

	(void)t;
	switch (cmd->cdb[1] & 0x03) {
	case 0:
		ok = num < blocks;          /* LBA inside track 1 */
		break;
	case 1:
		ok = num == 1;
		break;
	case 2:
		ok = num == 1;              /* session 1 */
		break;
	default:
		ok = false;
		break;
	}
	if (!ok) {
		scsi_fail_cdb(cmd, 2, -1);
		return SCSI_EXEC_DONE;
	}
	put_be16(d, sizeof(d) - 2);
	d[2] = 1;                           /* track number LSB */
	d[3] = 1;                           /* session number LSB */
	d[5] = 0x04;                        /* track mode: data, uninterrupted */
	d[6] = 0x01;                        /* data mode 1 */
	put_be32(&d[24], (uint32_t)MIN(blocks, 0xffffffffu)); /* track size */
	scsi_data_in(cmd, d, sizeof(d), get_be16(&cmd->cdb[7]));
	return SCSI_EXEC_DONE;
}

/* ---- MECHANISM STATUS, START STOP UNIT, PREVENT ALLOW, SET CD SPEED ---- */

static enum scsi_exec mmc_mechanism_status(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint8_t d[8] = { 0 };

	(void)t;
	d[1] = cmd->lu->online ? 0 : 0x10;  /* mechanism idle; door open when ejected */
	scsi_data_in(cmd, d, sizeof(d), get_be16(&cmd->cdb[8]));
	return SCSI_EXEC_DONE;
}

/*
 * START STOP UNIT (MMC-6 §6.40): LOEJ=1 START=0 opens the tray (the disc goes offline),
 * LOEJ=1 START=1 closes it (the disc, if one is in the drive, comes back). Both are refused
 * while a nexus prevents removal (MEDIUM REMOVAL PREVENTED).
 */
static enum scsi_exec mmc_start_stop(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct core_lu *lu = cmd->lu;
	uint8_t b4 = cmd->cdb[4];
	bool start = b4 & 0x01;
	bool loaded;

	(void)t;
	if ((b4 & 0xf0) || !(b4 & 0x02)) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	if (lu->prevent_removal) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
		return SCSI_EXEC_DONE;
	}
	loaded = start && !lu->online && lu->fd >= 0;
	if (!start && lu->online)
		mmc_event_set(lu, MMC_EV_MEDIA_REMOVAL);
	lu->online = start && lu->fd >= 0;
	if (loaded)
		mmc_new_medium(lu);
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/* ---- mode pages ---- */

/* CD/DVD Capabilities and Mechanical Status (MMC-3 §5.5.10, legacy page sr reads). */
static void mmc_mode_capabilities(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	memset(p, 0, 22);
	p[0] = 0x2a;
	p[1] = 0x14;
	if (pc == SCSI_PC_CHANGEABLE)
		return;
	p[2] = 0x0b;                        /* reads CD-R, CD-RW, DVD-ROM */
	p[4] = 0x70;                        /* multi-session, mode 2 form 1/2 */
	p[6] = (uint8_t)(0x29 | (lu->prevent_removal ? 0x02 : 0)); /* tray, eject, lock */
	put_be16(&p[8], 5540);              /* max read speed, kB/s (DVD 4x) */
	put_be16(&p[10], 0x0100);           /* volume levels */
	put_be16(&p[14], 5540);             /* current read speed */
}

/* ---- the device type ---- */

#define MMC_OP(opc, f, d, len, fl, nm, ...)                                                       \
	[opc] = { .fn = f, .dir = SCSI_DIR_##d, .cdb_len = len, .flags = fl, .name = nm,           \
		  .usage = { opc, __VA_ARGS__ } }

#define MMC_NM SCSI_OPF_NO_MEDIUM

/* clang-format off */
static const struct scsi_op mmc_ops[SCSI_NR_OPCODES] = {
	SCSI_OPS_SPC,
	MMC_OP(0x1b, mmc_start_stop, NONE, 6, MMC_NM, "START STOP UNIT", 0x01, 0, 0, 0xf3, 0),
	MMC_OP(0x1e, spc_prevent_allow, NONE, 6, MMC_NM, "PREVENT ALLOW MEDIUM REMOVAL",
	       0, 0, 0, 0x03, 0),
	MMC_OP(0x25, mmc_read_capacity, READ, 10, 0, "READ CAPACITY", 0, 0xff, 0xff, 0xff, 0xff,
	       0, 0, 0x01, 0),
	MMC_OP(0x28, mmc_read, READ, 10, 0, "READ(10)", 0x18, 0xff, 0xff, 0xff, 0xff, 0, 0xff,
	       0xff, 0),
	MMC_OP(0xa8, mmc_read, READ, 12, 0, "READ(12)", 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	       0xff, 0xff, 0x80, 0),
	MMC_OP(0x2a, mmc_write, WRITE, 10, SCSI_OPF_WRITES, "WRITE(10)", 0x08, 0xff, 0xff, 0xff,
	       0xff, 0, 0xff, 0xff, 0),
	MMC_OP(0xaa, mmc_write, WRITE, 12, SCSI_OPF_WRITES, "WRITE(12)", 0x08, 0xff, 0xff, 0xff,
	       0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0),
	MMC_OP(0x35, mmc_sync_cache, NONE, 10, 0, "SYNCHRONIZE CACHE", 0x02, 0xff, 0xff, 0xff,
	       0xff, 0, 0xff, 0xff, 0),
	MMC_OP(0x53, spc_good, NONE, 10, SCSI_OPF_WRITES, "RESERVE TRACK", 0x01, 0xff, 0xff,
	       0xff, 0xff, 0xff, 0xff, 0xff, 0),
	MMC_OP(0x5b, spc_good, NONE, 10, SCSI_OPF_WRITES, "CLOSE TRACK/SESSION", 0x01, 0x07, 0,
	       0, 0xff, 0xff, 0, 0, 0),
	MMC_OP(0x43, mmc_read_toc, READ, 10, 0, "READ TOC/PMA/ATIP", 0x02, 0x0f, 0, 0, 0, 0xff,
	       0xff, 0xff, 0),
	MMC_OP(0x46, mmc_get_configuration, READ, 10, MMC_NM, "GET CONFIGURATION", 0x03, 0xff,
	       0xff, 0, 0, 0, 0xff, 0xff, 0),
	MMC_OP(0x4a, mmc_get_event_status, READ, 10, MMC_NM, "GET EVENT STATUS NOTIFICATION",
	       0x01, 0, 0, 0xff, 0, 0, 0xff, 0xff, 0),
	MMC_OP(0x51, mmc_read_disc_info, READ, 10, 0, "READ DISC INFORMATION", 0x07, 0, 0, 0, 0,
	       0, 0xff, 0xff, 0),
	MMC_OP(0x52, mmc_read_track_info, READ, 10, 0, "READ TRACK INFORMATION", 0x03, 0xff,
	       0xff, 0xff, 0xff, 0, 0xff, 0xff, 0),
	MMC_OP(0xbb, spc_good, NONE, 12, MMC_NM, "SET CD SPEED", 0x03, 0xff, 0xff, 0xff, 0xff,
	       0, 0, 0, 0, 0),
	MMC_OP(0xbd, mmc_mechanism_status, READ, 12, MMC_NM, "MECHANISM STATUS", 0, 0, 0, 0, 0,
	       0, 0, 0xff, 0xff, 0),
	[SCSI_OP_MODE_SENSE_6] = { .fn = spc_mode_sense, .cdb_len = 6, .dir = SCSI_DIR_READ,
		.flags = MMC_NM, .name = "MODE SENSE(6)",
		.usage = { 0x1a, 0x08, 0xff, 0xff, 0xff, 0 } },
	[SCSI_OP_MODE_SENSE_10] = { .fn = spc_mode_sense, .cdb_len = 10, .dir = SCSI_DIR_READ,
		.flags = MMC_NM, .name = "MODE SENSE(10)",
		.usage = { 0x5a, 0x08, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
	[SCSI_OP_MODE_SELECT_6] = { .fn = spc_mode_select, .cdb_len = 6, .dir = SCSI_DIR_WRITE,
		.flags = MMC_NM, .name = "MODE SELECT(6)",
		.usage = { 0x15, 0x11, 0, 0, 0xff, 0 } },
	[SCSI_OP_MODE_SELECT_10] = { .fn = spc_mode_select, .cdb_len = 10, .dir = SCSI_DIR_WRITE,
		.flags = MMC_NM, .name = "MODE SELECT(10)",
		.usage = { 0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
};
/* clang-format on */

static const struct scsi_vpd mmc_vpd[] = {
	{ 0x00, spc_vpd_supported },
	{ 0x80, spc_vpd_serial },
	{ 0x83, spc_vpd_devid },
};

/* SAM-5, iSCSI, SPC-4, MMC-6 (no version claimed). */
static const uint16_t mmc_versions[] = { 0x00a0, 0x0960, 0x0460, 0x04e0 };

static const struct scsi_mode_page mmc_modes[] = {
	{ 0x01, 0, 12, spc_mode_rw_recovery, NULL },
	{ 0x2a, 0, 22, mmc_mode_capabilities, NULL },
};

const struct scsi_type scsi_mmc_type = {
	.dt = &scsi_cd,
	.pdt = SCSI_PDT_CD,
	.unknown_asc = ASC_INVALID_OPCODE,
	.ops = mmc_ops,
	.vpd = mmc_vpd,
	.nr_vpd = ARRAY_SIZE(mmc_vpd),
	.versions = mmc_versions,
	.nr_versions = ARRAY_SIZE(mmc_versions),
	.modes = mmc_modes,
	.nr_modes = ARRAY_SIZE(mmc_modes),
};

/* A DVD-ROM (readonly=0 makes it DVD+RW), removable, 2048-byte blocks; no path: empty. */
static int mmc_lu_init(struct core_lu *lu)
{
	struct mmc_lu *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	atomic_init(&m->media_event, MMC_EV_NONE);
	lu->dt_priv = m;
	lu->block_size = MMC_BLOCK_SIZE;
	lu->block_shift = MMC_BLOCK_SHIFT;
	lu->removable = true;
	lu->readonly = true;
	lu->write_cache = false;
	lu->online = lu->fd >= 0;
	scsi_lu_identity_init(lu, "UTGT", "VIRTUAL-CDROM");
	return 0;
}

static void mmc_lu_fini(struct core_lu *lu)
{
	free(lu->dt_priv);
	lu->dt_priv = NULL;
}

static int mmc_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	int ret;

	if (strcmp(key, "path"))
		return -ENOENT;
	ret = scsi_medium_change(lu, value);
	if (ret == 0 && lu->online)
		mmc_new_medium(lu);
	else if (ret == 0)
		mmc_event_set(lu, MMC_EV_MEDIA_REMOVAL);
	return ret;
}

static void mmc_cmd_exec(struct scsi_cmd *cmd)
{
	scsi_dispatch(cmd, &scsi_mmc_type);
}

const struct core_devtype scsi_cd = {
	.name = "cd",
	.show_name = "cd/dvd",
	.pdt = SCSI_PDT_CD,
	.default_bs = "io_uring",
	.needs_path = false,
	.lu_init = mmc_lu_init,
	.lu_fini = mmc_lu_fini,
	.lu_config = mmc_lu_config,
	.cmd_exec = mmc_cmd_exec,
};
