/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tape device type (SSC-3, peripheral type 01h) over a virtual cartridge file in the
 * format of ssc_format.h (docs/tape-format.md): a header, then a chain of records (data
 * blocks, filemarks) ending with an end-of-data record. The position is the offset of the
 * next record; writing anywhere truncates the tape after what was written, as on real tape.
 *
 * Design notes:
 *  1. Tape commands are sequential and positional, so they run under the LU's tape lock
 *     (struct ssc_lu.lock) with pread/pwrite on the store's descriptor, inline on the
 *     command's reactor (page-cache speed; a worker hand-off is future work).
 *  2. Invariant: pos is the offset of a valid record header, prev the offset of the record
 *     before it (0 at BOT), obj/file the logical object and file numbers at pos.
 *  3. The "ssc" backing store only opens and closes the file (bs/tape.c).
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi/scsi_int.h"
#include "scsi/ssc_format.h"

#define SSC_DENSITY 0x40                /* vendor-unique-ish density code of our format */

#define SSC_ASC_FILEMARK    0x0001      /* FILEMARK DETECTED */
#define SSC_ASC_EOM         0x0002      /* END-OF-PARTITION/MEDIUM DETECTED */
#define SSC_ASC_BOM         0x0004      /* BEGINNING-OF-PARTITION/MEDIUM DETECTED */
#define SSC_ASC_EOD         0x0005      /* END-OF-DATA DETECTED */
#define SSC_ASC_BAD_FORMAT  0x3001      /* CANNOT READ MEDIUM - UNKNOWN FORMAT */
#define SSC_SENSE_VOL_OVERFLOW 0x0d

#define SSC_FLAG_FILEMARK 0x80          /* fixed sense byte 2 */
#define SSC_FLAG_EOM      0x40
#define SSC_FLAG_ILI      0x20

struct ssc_lu {
	pthread_mutex_t lock;           /* everything below, and the descriptor's offset use */
	bool loaded;                    /* a valid cartridge is in the drive */
	struct ssc_fmt_hdr hdr;
	uint64_t pos;                   /* offset of the next record header */
	uint64_t prev;                  /* offset of the record before pos, 0 at BOT */
	uint64_t obj;                   /* logical object number at pos */
	uint64_t file;                  /* filemarks between BOT and pos */
	uint32_t blksize;               /* fixed block length; 0: variable block mode */
	bool compression;               /* DCE (accepted, data is stored as is) */
};

static struct ssc_lu *ssc_lu(const struct core_lu *lu)
{
	return lu->dt_priv;
}

/*
 * CHECK CONDITION with INFORMATION (when info_valid) and the stream flags FILEMARK, EOM, ILI:
 * byte 2 of fixed-format sense, or a stream commands descriptor (SPC-4 §4.5.2.5) appended to
 * descriptor-format sense.
 */
static void ssc_sense(struct scsi_cmd *cmd, uint8_t key, uint16_t asc, uint8_t flags,
		      int64_t info, bool info_valid)
{
	uint8_t *s = cmd->sense;

	if (info_valid)
		core_cmd_fail_info(cmd, key, asc, (uint64_t)info);
	else
		core_cmd_fail(cmd, key, asc);
	if (!flags || cmd->sense_len < 8)
		return;
	if ((s[0] & 0x7f) == 0x70) {
		s[2] |= flags;
	} else if ((s[0] & 0x7f) == 0x72 && cmd->sense_len + 4u <= SCSI_SENSE_MAX) {
		s[cmd->sense_len] = 0x04;
		s[cmd->sense_len + 1] = 0x02;
		s[cmd->sense_len + 2] = 0;
		s[cmd->sense_len + 3] = flags;
		cmd->sense_len += 4;
		s[7] = (uint8_t)(cmd->sense_len - 8);
	}
}

static void ssc_medium_error(struct scsi_cmd *cmd)
{
	core_cmd_fail(cmd, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
}

static void ssc_rewind_state(struct ssc_lu *st)
{
	st->pos = SSC_FMT_HDR_SIZE;
	st->prev = 0;
	st->obj = 0;
	st->file = 0;
}

/* ---- record I/O (st->lock held) ---- */

static int ssc_rec_read(const struct core_lu *lu, uint64_t off, struct ssc_fmt_rec *r)
{
	uint8_t b[SSC_FMT_REC_SIZE];

	if (pread(lu->fd, b, sizeof(b), (off_t)off) != (ssize_t)sizeof(b))
		return -EIO;
	return ssc_fmt_rec_decode(b, r) ? -EIO : 0;
}

static uint64_t ssc_rec_next(uint64_t off, const struct ssc_fmt_rec *r)
{
	return off + SSC_FMT_REC_SIZE + r->len;
}

/* Steps forward over the record r at pos (not EOD). */
static void ssc_step_fwd(struct ssc_lu *st, const struct ssc_fmt_rec *r)
{
	st->prev = st->pos;
	st->pos = ssc_rec_next(st->pos, r);
	st->obj++;
	if (r->type == SSC_REC_FILEMARK)
		st->file++;
}

/* Steps back over the record before pos into *r; -EIO, or 1 when already at BOT. */
static int ssc_step_back(const struct core_lu *lu, struct ssc_lu *st, struct ssc_fmt_rec *r)
{
	if (!st->prev)
		return 1;
	if (ssc_rec_read(lu, st->prev, r))
		return -EIO;
	st->pos = st->prev;
	st->prev = r->prev;
	st->obj--;
	if (r->type == SSC_REC_FILEMARK)
		st->file--;
	return 0;
}

/* Writes one record (and data) at pos and steps over it; the caller writes EOD after. */
static int ssc_rec_append(struct core_lu *lu, struct ssc_lu *st, uint16_t type,
			  const uint8_t *data, uint32_t len)
{
	struct ssc_fmt_rec r = { .type = type, .len = len, .object = st->obj, .prev = st->prev };
	uint8_t b[SSC_FMT_REC_SIZE];

	ssc_fmt_rec_encode(&r, b);
	if (pwrite(lu->fd, b, sizeof(b), (off_t)st->pos) != (ssize_t)sizeof(b))
		return -EIO;
	if (len && pwrite(lu->fd, data, len, (off_t)(st->pos + sizeof(b))) != (ssize_t)len)
		return -EIO;
	ssc_step_fwd(st, &r);
	return 0;
}

/* Ends the tape at pos: an EOD record, and nothing after it. */
static int ssc_eod_write(struct core_lu *lu, struct ssc_lu *st)
{
	struct ssc_fmt_rec r = { .type = SSC_REC_EOD, .object = st->obj, .prev = st->prev };
	uint8_t b[SSC_FMT_REC_SIZE];

	ssc_fmt_rec_encode(&r, b);
	if (pwrite(lu->fd, b, sizeof(b), (off_t)st->pos) != (ssize_t)sizeof(b))
		return -EIO;
	if (ftruncate(lu->fd, (off_t)(st->pos + sizeof(b))) < 0)
		return -EIO;
	lu->size = st->pos + sizeof(b);
	return 0;
}

/* Bytes of the cartridge used once a record of len bytes and the EOD follow pos. */
static uint64_t ssc_used_after(const struct ssc_lu *st, uint32_t len)
{
	return st->pos - SSC_FMT_HDR_SIZE + 2u * SSC_FMT_REC_SIZE + len;
}

static bool ssc_in_early_warning(const struct ssc_lu *st)
{
	uint64_t cap = st->hdr.capacity;

	return ssc_used_after(st, 0) > cap - ssc_fmt_early_warning(cap);
}

/* ---- READ(6) ---- */

/* The first bytes of Data-In go to the initiator before the CHECK CONDITION (FILEMARK, ILI,
 * EOD after some blocks, as SSC-3 READ(6) transfers them); the Linux st driver uses them. */
static void ssc_read_partial(struct scsi_cmd *cmd, uint32_t bytes)
{
	if (!bytes || !cmd->buf)
		return;
	cmd->in_len = MIN(bytes, cmd->buf_len);
	cmd->data_with_sense = true;
}

/* Reads one data record at pos into dst (room bytes); returns the record length, or sense set
 * and -1 (filemark, end of data: the data before it may go) or -EIO (medium error). */
static int ssc_read_one(struct scsi_cmd *cmd, struct ssc_lu *st, uint8_t *dst, uint32_t room,
			int64_t resid)
{
	struct ssc_fmt_rec r;
	uint32_t n;

	if (ssc_rec_read(cmd->lu, st->pos, &r)) {
		ssc_medium_error(cmd);
		return -EIO;
	}
	if (r.type == SSC_REC_EOD) {
		ssc_sense(cmd, SENSE_BLANK_CHECK, SSC_ASC_EOD, 0, resid, true);
		return -1;
	}
	if (r.type == SSC_REC_FILEMARK) {
		ssc_step_fwd(st, &r);
		ssc_sense(cmd, SENSE_NO_SENSE, SSC_ASC_FILEMARK, SSC_FLAG_FILEMARK, resid, true);
		return -1;
	}
	n = MIN(r.len, room);
	if (n && pread(cmd->lu->fd, dst, n, (off_t)(st->pos + SSC_FMT_REC_SIZE)) != (ssize_t)n) {
		ssc_medium_error(cmd);
		return -EIO;
	}
	ssc_step_fwd(st, &r);
	return (int)r.len;
}

static void ssc_read_fixed(struct scsi_cmd *cmd, struct ssc_lu *st, uint32_t count)
{
	uint32_t bs = st->blksize;
	uint32_t i;

	for (i = 0; i < count; i++) {
		uint64_t at = (uint64_t)i * bs;
		uint32_t room = at < cmd->buf_len ? (uint32_t)MIN(bs, cmd->buf_len - at) : 0;
		int len = ssc_read_one(cmd, st, cmd->buf ? cmd->buf + at : NULL, room,
				       (int64_t)(count - i));

		if (len == -1)
			ssc_read_partial(cmd, i * bs);
		if (len < 0)
			return;
		if ((uint32_t)len != bs) {
			ssc_sense(cmd, SENSE_NO_SENSE, ASC_NO_ADDITIONAL_SENSE, SSC_FLAG_ILI,
				  (int64_t)(count - i), true);
			ssc_read_partial(cmd, i * bs);
			return;
		}
	}
	core_cmd_good(cmd);
	cmd->in_len = count * bs;
}

/* READ(6) (SSC-3 §7.2): FIXED, SILI, TRANSFER LENGTH in blocks (fixed) or bytes (variable). */
static enum scsi_exec ssc_read(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct ssc_lu *st = ssc_lu(cmd->lu);
	bool fixed = cmd->cdb[1] & 0x01;
	bool sili = cmd->cdb[1] & 0x02;
	uint32_t count = get_be24(&cmd->cdb[2]);
	int len;

	(void)t;
	if ((fixed && sili) || (fixed && !st->blksize)) {
		scsi_fail_cdb(cmd, 1, fixed && sili ? 1 : 0);
		return SCSI_EXEC_DONE;
	}
	if ((fixed ? (uint64_t)count * st->blksize : count) > SSC_FMT_MAX_BLOCK * 2ull) {
		scsi_fail_cdb(cmd, 2, -1);
		return SCSI_EXEC_DONE;
	}
	if (!count) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	pthread_mutex_lock(&st->lock);
	if (fixed) {
		ssc_read_fixed(cmd, st, count);
	} else {
		len = ssc_read_one(cmd, st, cmd->buf, cmd->buf ? MIN(count, cmd->buf_len) : 0,
				   count);
		if (len >= 0 && (uint32_t)len != count && (!sili || (uint32_t)len > count)) {
			ssc_sense(cmd, SENSE_NO_SENSE, ASC_NO_ADDITIONAL_SENSE, SSC_FLAG_ILI,
				  (int64_t)count - len, true);
			ssc_read_partial(cmd, MIN((uint32_t)len, count));
		} else if (len >= 0) {
			core_cmd_good(cmd);
			cmd->in_len = (uint32_t)len;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return SCSI_EXEC_DONE;
}

/* ---- WRITE(6), WRITE FILEMARKS(6), ERASE ---- */

/* Appends count records (DATA of len bytes from data, or FILEMARKs), then EOD. */
static void ssc_write_records(struct scsi_cmd *cmd, struct ssc_lu *st, uint16_t type,
			      const uint8_t *data, uint32_t len, uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++) {
		if (ssc_used_after(st, len) > st->hdr.capacity) {
			ssc_eod_write(cmd->lu, st);
			ssc_sense(cmd, SSC_SENSE_VOL_OVERFLOW, SSC_ASC_EOM, SSC_FLAG_EOM,
				  (int64_t)(count - i), true);
			return;
		}
		if (ssc_rec_append(cmd->lu, st, type, data ? data + (uint64_t)i * len : NULL,
				   len) < 0) {
			core_cmd_fail(cmd, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
			return;
		}
	}
	if (ssc_eod_write(cmd->lu, st) < 0) {
		core_cmd_fail(cmd, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
		return;
	}
	if (ssc_in_early_warning(st))
		ssc_sense(cmd, SENSE_NO_SENSE, SSC_ASC_EOM, SSC_FLAG_EOM, 0, true);
	else
		core_cmd_good(cmd);
}

/* WRITE(6) (SSC-3 §7.6); early warning answers CHECK CONDITION, EOM, with the data written. */
static enum scsi_exec ssc_write(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct ssc_lu *st = ssc_lu(cmd->lu);
	bool fixed = cmd->cdb[1] & 0x01;
	uint32_t count = get_be24(&cmd->cdb[2]);
	uint64_t bytes = fixed ? (uint64_t)count * st->blksize : count;

	(void)t;
	if (fixed && !st->blksize) {
		scsi_fail_cdb(cmd, 1, 0);
		return SCSI_EXEC_DONE;
	}
	if ((!fixed && count > SSC_FMT_MAX_BLOCK) || bytes > SCSI_MAX_XFER_BYTES) {
		scsi_fail_cdb(cmd, 2, -1);
		return SCSI_EXEC_DONE;
	}
	cmd->in_len = (uint32_t)bytes;
	if (cmd->out_len < bytes || cmd->buf_len < bytes || (bytes && !cmd->buf)) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
		return SCSI_EXEC_DONE;
	}
	if (!count) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	pthread_mutex_lock(&st->lock);
	if (fixed)
		ssc_write_records(cmd, st, SSC_REC_DATA, cmd->buf, st->blksize, count);
	else
		ssc_write_records(cmd, st, SSC_REC_DATA, cmd->buf, count, 1);
	pthread_mutex_unlock(&st->lock);
	return SCSI_EXEC_DONE;
}

/* WRITE FILEMARKS(6) (SSC-3 §7.7): no setmarks; count 0 only flushes. IMMED=0 syncs. */
static enum scsi_exec ssc_write_filemarks(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct ssc_lu *st = ssc_lu(cmd->lu);
	uint32_t count = get_be24(&cmd->cdb[2]);

	(void)t;
	pthread_mutex_lock(&st->lock);
	if (count)
		ssc_write_records(cmd, st, SSC_REC_FILEMARK, NULL, 0, count);
	else
		core_cmd_good(cmd);
	pthread_mutex_unlock(&st->lock);
	if (!(cmd->cdb[1] & 0x01) && cmd->status == SAM_STAT_GOOD)
		(void)fdatasync(cmd->lu->fd);
	return SCSI_EXEC_DONE;
}

/* ERASE(6) (SSC-3 §7.1): everything from the position on is gone (LONG or not). */
static enum scsi_exec ssc_erase(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct ssc_lu *st = ssc_lu(cmd->lu);

	(void)t;
	pthread_mutex_lock(&st->lock);
	if (ssc_eod_write(cmd->lu, st) < 0)
		core_cmd_fail(cmd, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
	else
		core_cmd_good(cmd);
	pthread_mutex_unlock(&st->lock);
	return SCSI_EXEC_DONE;
}

/* ---- SPACE(6), REWIND, LOCATE(10/16) ---- */

/*
 * One object forward or back for SPACE into r; false with sense (left objects not spaced)
 * at end of data, at the beginning of the medium or on a medium error.
 */
static bool ssc_space_step(struct scsi_cmd *cmd, struct ssc_lu *st, bool back, uint32_t left,
			   struct ssc_fmt_rec *r)
{
	int ret;

	if (!back) {
		if (ssc_rec_read(cmd->lu, st->pos, r)) {
			ssc_medium_error(cmd);
			return false;
		}
		if (r->type == SSC_REC_EOD) {
			ssc_sense(cmd, SENSE_BLANK_CHECK, SSC_ASC_EOD, 0, left, true);
			return false;
		}
		ssc_step_fwd(st, r);
		return true;
	}
	ret = ssc_step_back(cmd->lu, st, r);
	if (ret < 0) {
		ssc_medium_error(cmd);
		return false;
	}
	if (ret > 0) {
		ssc_sense(cmd, SENSE_NO_SENSE, SSC_ASC_BOM, SSC_FLAG_EOM, left, true);
		return false;
	}
	return true;
}

/*
 * Forward or back over count objects: blocks, which a filemark stops (back: on its BOT side,
 * SSC-3), or filemarks; false with sense.
 */
static bool ssc_space_objs(struct scsi_cmd *cmd, struct ssc_lu *st, bool back, bool marks,
			   uint32_t count)
{
	struct ssc_fmt_rec r;
	uint32_t done = 0;

	while (done < count) {
		if (!ssc_space_step(cmd, st, back, count - done, &r))
			return false;
		if (r.type == SSC_REC_FILEMARK && !marks) {
			ssc_sense(cmd, SENSE_NO_SENSE, SSC_ASC_FILEMARK, SSC_FLAG_FILEMARK,
				  count - done, true);
			return false;
		}
		if (!marks || r.type == SSC_REC_FILEMARK)
			done++;
	}
	return true;
}

/* Moves to the end-of-data record. */
static bool ssc_space_eod(struct scsi_cmd *cmd, struct ssc_lu *st)
{
	struct ssc_fmt_rec r;

	for (;;) {
		if (ssc_rec_read(cmd->lu, st->pos, &r)) {
			ssc_medium_error(cmd);
			return false;
		}
		if (r.type == SSC_REC_EOD)
			return true;
		ssc_step_fwd(st, &r);
	}
}

/* SPACE(6) (SSC-3 §7.5): codes 0 (blocks), 1 (filemarks), 3 (end of data). */
static enum scsi_exec ssc_space(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct ssc_lu *st = ssc_lu(cmd->lu);
	uint8_t code = cmd->cdb[1] & 0x0f;
	int32_t count = (int32_t)(get_be24(&cmd->cdb[2]) << 8) >> 8;
	bool ok;

	(void)t;
	if (code != 0 && code != 1 && code != 3) {
		scsi_fail_cdb(cmd, 1, 3);
		return SCSI_EXEC_DONE;
	}
	pthread_mutex_lock(&st->lock);
	if (code == 3)
		ok = ssc_space_eod(cmd, st);
	else if (count >= 0)
		ok = ssc_space_objs(cmd, st, false, code == 1, (uint32_t)count);
	else
		ok = ssc_space_objs(cmd, st, true, code == 1, (uint32_t)-count);
	pthread_mutex_unlock(&st->lock);
	if (ok)
		core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

static enum scsi_exec ssc_rewind(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct ssc_lu *st = ssc_lu(cmd->lu);

	(void)t;
	pthread_mutex_lock(&st->lock);
	ssc_rewind_state(st);
	pthread_mutex_unlock(&st->lock);
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/* Rewinds, then moves forward until the object (or file) number is target. */
static void ssc_locate_to(struct scsi_cmd *cmd, struct ssc_lu *st, bool file, uint64_t target)
{
	struct ssc_fmt_rec r;

	ssc_rewind_state(st);
	while (file ? st->file < target : st->obj < target) {
		if (ssc_rec_read(cmd->lu, st->pos, &r)) {
			ssc_medium_error(cmd);
			return;
		}
		if (r.type == SSC_REC_EOD) {
			ssc_sense(cmd, SENSE_BLANK_CHECK, SSC_ASC_EOD, 0, 0, false);
			return;
		}
		ssc_step_fwd(st, &r);
	}
	core_cmd_good(cmd);
}

/* LOCATE(10) and LOCATE(16) (SSC-3 §6.2, §6.3): partition 0 only; dest type object or file. */
static enum scsi_exec ssc_locate(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct ssc_lu *st = ssc_lu(cmd->lu);
	bool sixteen = cmd->cdb[0] == 0x92;
	uint8_t dest = sixteen ? (cmd->cdb[1] >> 3) & 0x07 : 0;
	bool cp = cmd->cdb[1] & 0x02;
	uint8_t part = sixteen ? cmd->cdb[3] : cmd->cdb[8];

	(void)t;
	if (cp && part) {
		scsi_fail_cdb(cmd, sixteen ? 3 : 8, -1);
		return SCSI_EXEC_DONE;
	}
	if (dest != 0 && dest != 1 && dest != 3) {
		scsi_fail_cdb(cmd, 1, 5);
		return SCSI_EXEC_DONE;
	}
	pthread_mutex_lock(&st->lock);
	if (dest == 3) {
		if (ssc_space_eod(cmd, st))
			core_cmd_good(cmd);
	} else {
		ssc_locate_to(cmd, st, dest == 1,
			      sixteen ? get_be64(&cmd->cdb[4]) : get_be32(&cmd->cdb[3]));
	}
	pthread_mutex_unlock(&st->lock);
	return SCSI_EXEC_DONE;
}

/* ---- READ POSITION, READ BLOCK LIMITS, REPORT DENSITY SUPPORT ---- */

/* READ POSITION (SSC-3 §7.3): short form (00h, 01h) and long form (06h). */
static enum scsi_exec ssc_read_position(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct ssc_lu *st = ssc_lu(cmd->lu);
	uint8_t sa = cmd->cdb[1] & 0x1f;
	uint8_t d[32] = { 0 };
	uint32_t len;

	(void)t;
	if (sa != 0 && sa != 1 && sa != 6) {
		scsi_fail_cdb(cmd, 1, 4);
		return SCSI_EXEC_DONE;
	}
	pthread_mutex_lock(&st->lock);
	d[0] = (uint8_t)((st->obj == 0 ? 0x80 : 0) | (ssc_in_early_warning(st) ? 0x40 : 0));
	if (sa == 6) {
		put_be64(&d[8], st->obj);
		put_be64(&d[16], st->file);
		len = 32;
	} else {
		put_be32(&d[4], (uint32_t)st->obj);
		put_be32(&d[8], (uint32_t)st->obj);
		if (st->obj > 0xffffffffu)
			d[0] |= 0x04;       /* BPU: the block number does not fit */
		len = 20;
	}
	pthread_mutex_unlock(&st->lock);
	scsi_data_in(cmd, d, len, len);
	return SCSI_EXEC_DONE;
}

static enum scsi_exec ssc_read_block_limits(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint8_t d[6] = { 0 };

	(void)t;
	put_be24(&d[1], SSC_FMT_MAX_BLOCK);
	put_be16(&d[4], 1);
	scsi_data_in(cmd, d, sizeof(d), sizeof(d));
	return SCSI_EXEC_DONE;
}

/* REPORT DENSITY SUPPORT (SSC-3 §6.5): one density, ours; MEDIUM TYPE=1 is not supported. */
static enum scsi_exec ssc_report_density(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	const struct ssc_lu *st = ssc_lu(cmd->lu);
	uint8_t d[4 + 52] = { 0 };
	uint8_t *e = &d[4];
	uint64_t mb = st->loaded ? st->hdr.capacity >> 20 : 0;

	(void)t;
	if (cmd->cdb[1] & 0x02) {
		scsi_fail_cdb(cmd, 1, 1);
		return SCSI_EXEC_DONE;
	}
	put_be16(d, sizeof(d) - 2);
	e[0] = SSC_DENSITY;
	e[1] = SSC_DENSITY;
	e[2] = 0xa0;                        /* WRTOK, DEFLT */
	put_be16(&e[8], 127);               /* media width, 0.1 mm: half inch */
	put_be16(&e[10], 1);                /* tracks */
	put_be32(&e[12], (uint32_t)MIN(mb, 0xffffffffu));
	scsi_put_ascii(&e[16], "UTGT", 8);
	scsi_put_ascii(&e[24], "VTAPE", 8);
	scsi_put_ascii(&e[32], "utgt virtual tape file v1", 20);
	scsi_data_in(cmd, d, sizeof(d), get_be16(&cmd->cdb[7]));
	return SCSI_EXEC_DONE;
}

/* ---- LOAD UNLOAD, PREVENT ALLOW ---- */

/* A cartridge came online: every nexus sees NOT READY TO READY CHANGE (28/00), which tells
 * the Linux st driver the tape is at BOT in a new session. Not under st->lock. */
static void ssc_medium_ua(struct core_lu *lu)
{
	core_ua_add_all(lu->tgt, NULL, lu->lun, ASC_NOT_READY_TO_READY);
}

/* LOAD UNLOAD (SSC-3 §7.2): LOAD rewinds and brings the cartridge online; unload rewinds and
 * takes it offline (it stays in the drive for a changer to take). EOT is not supported. */
static enum scsi_exec ssc_load_unload(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct core_lu *lu = cmd->lu;
	struct ssc_lu *st = ssc_lu(lu);
	bool load = cmd->cdb[4] & 0x01;
	bool was_online;

	(void)t;
	if (cmd->cdb[4] & 0x04) {
		scsi_fail_cdb(cmd, 4, 2);
		return SCSI_EXEC_DONE;
	}
	if (!st->loaded) {
		core_cmd_fail(cmd, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
		return SCSI_EXEC_DONE;
	}
	if (!load && lu->prevent_removal) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
		return SCSI_EXEC_DONE;
	}
	pthread_mutex_lock(&st->lock);
	ssc_rewind_state(st);
	was_online = lu->online;
	lu->online = load || (cmd->cdb[4] & 0x08);  /* HOLD: stays mounted */
	pthread_mutex_unlock(&st->lock);
	if (load && !was_online)
		ssc_medium_ua(lu);
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/* ---- MODE SENSE / MODE SELECT: the block descriptor sets the block mode ---- */

/* Data Compression (SSC-3 §8.3.2): DCE changeable, DCC; data is stored uncompressed. */
static void ssc_mode_compression(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	memset(p, 0, 16);
	p[0] = 0x0f;
	p[1] = 0x0e;
	if (pc == SCSI_PC_CHANGEABLE) {
		p[2] = 0x80;
		return;
	}
	p[2] = (uint8_t)(0x40 | (pc == SCSI_PC_CURRENT && ssc_lu(lu)->compression ? 0x80 : 0));
	p[3] = 0x80;                        /* DDE */
	put_be32(&p[4], 1);
	put_be32(&p[8], 1);
}

static bool ssc_mode_compression_apply(struct core_lu *lu, const uint8_t *p)
{
	bool dce = p[2] & 0x80;
	bool changed = dce != ssc_lu(lu)->compression;

	ssc_lu(lu)->compression = dce;
	return changed;
}

/* Device Configuration (SSC-3 §8.3.3): block IDs supported, EOD defined, synchronize at EW. */
static void ssc_mode_devconfig(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	memset(p, 0, 16);
	p[0] = 0x10;
	p[1] = 0x0e;
	if (pc == SCSI_PC_CHANGEABLE)
		return;
	p[8] = 0x40;                        /* BIS */
	p[10] = 0x18;                       /* EEG, SEW */
	p[14] = pc == SCSI_PC_CURRENT && ssc_lu(lu)->compression ? 1 : 0;
}

static const struct scsi_mode_page ssc_modes[] = {
	{ 0x01, 0, 12, spc_mode_rw_recovery, NULL },
	{ 0x0f, 0, 16, ssc_mode_compression, ssc_mode_compression_apply },
	{ 0x10, 0, 16, ssc_mode_devconfig, NULL },
};

static bool ssc_is_wp(const struct core_lu *lu)
{
	const struct ssc_lu *st = ssc_lu(lu);

	return lu->readonly || lu->swp || (st->loaded && (st->hdr.flags & SSC_FMT_WP));
}

static uint32_t ssc_mode_pages_put(const struct scsi_cmd *cmd, enum scsi_mode_pc pc, uint8_t *p,
				   uint32_t room)
{
	uint8_t code = cmd->cdb[2] & 0x3f;
	uint32_t off = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ssc_modes); i++) {
		if ((code != 0x3f && ssc_modes[i].page != code) || ssc_modes[i].len > room - off)
			continue;
		ssc_modes[i].build(cmd->lu, pc, &p[off]);
		off += ssc_modes[i].len;
	}
	return off;
}

/* MODE SENSE(6/10) (SSC-3 §8.3): density, block length (0: variable), WP and buffered mode. */
static enum scsi_exec ssc_mode_sense(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	const struct ssc_lu *st = ssc_lu(cmd->lu);
	bool ten = cmd->cdb[0] == SCSI_OP_MODE_SENSE_10;
	enum scsi_mode_pc pc = cmd->cdb[2] >> 6;
	uint8_t code = cmd->cdb[2] & 0x3f;
	uint32_t hdr = ten ? 8 : 4, off, bdlen = 0;
	uint8_t buf[128] = { 0 };

	(void)t;
	if (pc == SCSI_PC_SAVED) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_UNSUP);
		return SCSI_EXEC_DONE;
	}
	if ((cmd->cdb[3] && cmd->cdb[3] != 0xff) ||
	    (code && code != 0x3f && code != 0x01 && code != 0x0f && code != 0x10)) {
		scsi_fail_cdb(cmd, cmd->cdb[3] ? 3 : 2, -1);
		return SCSI_EXEC_DONE;
	}
	off = hdr;
	if (!(cmd->cdb[1] & 0x08)) {
		bdlen = 8;
		buf[off] = pc == SCSI_PC_CHANGEABLE ? 0 : SSC_DENSITY;
		put_be24(&buf[off + 5], pc == SCSI_PC_CHANGEABLE ? 0xffffff : st->blksize);
		off += bdlen;
	}
	if (code)
		off += ssc_mode_pages_put(cmd, pc, &buf[off], sizeof(buf) - off);
	buf[ten ? 3 : 2] = (uint8_t)((ssc_is_wp(cmd->lu) ? 0x80 : 0) | 0x10);
	if (ten) {
		put_be16(buf, (uint16_t)(off - 2));
		put_be16(&buf[6], (uint16_t)bdlen);
		scsi_data_in(cmd, buf, off, get_be16(&cmd->cdb[7]));
	} else {
		buf[0] = (uint8_t)(off - 1);
		buf[3] = (uint8_t)bdlen;
		scsi_data_in(cmd, buf, off, cmd->cdb[4]);
	}
	return SCSI_EXEC_DONE;
}

static void ssc_fail_param(struct scsi_cmd *cmd, uint32_t byte)
{
	core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, (uint16_t)byte, -1);
}

/* Checks (apply=false) or applies the pages after the block descriptor. */
static bool ssc_select_pages(struct scsi_cmd *cmd, const uint8_t *p, uint32_t off, uint32_t plen,
			     bool apply)
{
	while (off < plen) {
		const struct scsi_mode_page *mp = NULL;
		unsigned int i;

		if (plen - off < 2 || (uint32_t)p[off + 1] + 2 > plen - off) {
			core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
			return false;
		}
		for (i = 0; i < ARRAY_SIZE(ssc_modes); i++)
			if (ssc_modes[i].page == (p[off] & 0x3f))
				mp = &ssc_modes[i];
		if (!mp || (p[off] & 0x40) || (uint32_t)p[off + 1] + 2 != mp->len) {
			ssc_fail_param(cmd, off);
			return false;
		}
		if (apply && mp->apply)
			mp->apply(cmd->lu, &p[off]);
		off += mp->len;
	}
	return true;
}

/* MODE SELECT(6/10): PF 0 or 1 (st sends either); a block descriptor sets the block length. */
static enum scsi_exec ssc_mode_select(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct ssc_lu *st = ssc_lu(cmd->lu);
	bool ten = cmd->cdb[0] == SCSI_OP_MODE_SELECT_10;
	uint32_t plen = ten ? get_be16(&cmd->cdb[7]) : cmd->cdb[4];
	uint32_t hdr = ten ? 8 : 4, bdlen, blk;
	const uint8_t *p = cmd->buf;

	(void)t;
	cmd->in_len = plen;
	if (!plen) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	if (cmd->out_len < plen || !p || plen < hdr) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST,
			      plen < hdr ? ASC_PARAMETER_LIST_LENGTH_ERR : ASC_INVALID_FIELD_IN_IU);
		return SCSI_EXEC_DONE;
	}
	bdlen = ten ? get_be16(&p[6]) : p[3];
	if ((bdlen != 0 && bdlen != 8) || bdlen > plen - hdr) {
		ssc_fail_param(cmd, ten ? 6 : 3);
		return SCSI_EXEC_DONE;
	}
	blk = bdlen ? get_be24(&p[hdr + 5]) : st->blksize;
	if (blk > SSC_FMT_MAX_BLOCK) {
		ssc_fail_param(cmd, hdr + 5);
		return SCSI_EXEC_DONE;
	}
	if (!ssc_select_pages(cmd, p, hdr + bdlen, plen, false))
		return SCSI_EXEC_DONE;
	pthread_mutex_lock(&st->lock);
	st->blksize = blk;
	pthread_mutex_unlock(&st->lock);
	ssc_select_pages(cmd, p, hdr + bdlen, plen, true);
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/* ---- the device type ---- */

#define SSC_OP(opc, f, d, len, fl, nm, ...)                                                       \
	[opc] = { .fn = f, .dir = SCSI_DIR_##d, .cdb_len = len, .flags = fl, .name = nm,           \
		  .usage = { opc, __VA_ARGS__ } }

#define SSC_NM SCSI_OPF_NO_MEDIUM
#define SSC_WR SCSI_OPF_WRITES

/* clang-format off */
static const struct scsi_op ssc_ops[SCSI_NR_OPCODES] = {
	SCSI_OPS_SPC,
	SSC_OP(0x01, ssc_rewind, NONE, 6, 0, "REWIND", 0x01, 0, 0, 0, 0),
	SSC_OP(0x05, ssc_read_block_limits, READ, 6, SSC_NM, "READ BLOCK LIMITS", 0, 0, 0, 0, 0),
	SSC_OP(0x08, ssc_read, READ, 6, 0, "READ(6)", 0x03, 0xff, 0xff, 0xff, 0),
	SSC_OP(0x0a, ssc_write, WRITE, 6, SSC_WR, "WRITE(6)", 0x01, 0xff, 0xff, 0xff, 0),
	SSC_OP(0x10, ssc_write_filemarks, NONE, 6, SSC_WR, "WRITE FILEMARKS(6)", 0x01, 0xff, 0xff,
	       0xff, 0),
	SSC_OP(0x11, ssc_space, NONE, 6, 0, "SPACE(6)", 0x0f, 0xff, 0xff, 0xff, 0),
	SSC_OP(0x19, ssc_erase, NONE, 6, SSC_WR, "ERASE(6)", 0x03, 0, 0, 0, 0),
	SSC_OP(0x1b, ssc_load_unload, NONE, 6, SSC_NM, "LOAD UNLOAD", 0x01, 0, 0, 0x0f, 0),
	SSC_OP(0x1e, spc_prevent_allow, NONE, 6, SSC_NM, "PREVENT ALLOW MEDIUM REMOVAL", 0, 0, 0,
	       0x01, 0),
	SSC_OP(0x2b, ssc_locate, NONE, 10, 0, "LOCATE(10)", 0x07, 0, 0xff, 0xff, 0xff, 0xff, 0,
	       0xff, 0),
	SSC_OP(0x34, ssc_read_position, READ, 10, 0, "READ POSITION", 0x1f, 0, 0, 0, 0, 0, 0xff,
	       0xff, 0),
	SSC_OP(0x44, ssc_report_density, READ, 10, SSC_NM, "REPORT DENSITY SUPPORT", 0x03, 0, 0,
	       0, 0, 0, 0xff, 0xff, 0),
	SSC_OP(0x92, ssc_locate, NONE, 16, 0, "LOCATE(16)", 0x3b, 0x01, 0xff, 0xff, 0xff, 0xff,
	       0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0),
	SSC_OP(0x1a, ssc_mode_sense, READ, 6, SSC_NM, "MODE SENSE(6)", 0x08, 0xff, 0xff, 0xff, 0),
	SSC_OP(0x5a, ssc_mode_sense, READ, 10, SSC_NM, "MODE SENSE(10)", 0x08, 0xff, 0xff, 0, 0,
	       0, 0xff, 0xff, 0),
	SSC_OP(0x15, ssc_mode_select, WRITE, 6, SSC_NM, "MODE SELECT(6)", 0x10, 0, 0, 0xff, 0),
	SSC_OP(0x55, ssc_mode_select, WRITE, 10, SSC_NM, "MODE SELECT(10)", 0x10, 0, 0, 0, 0, 0,
	       0xff, 0xff, 0),
};
/* clang-format on */

static const struct scsi_vpd ssc_vpd[] = {
	{ 0x00, spc_vpd_supported },
	{ 0x80, spc_vpd_serial },
	{ 0x83, spc_vpd_devid },
};

/* SAM-5, iSCSI, SPC-4, SSC-3 (no version claimed). */
static const uint16_t ssc_versions[] = { 0x00a0, 0x0960, 0x0460, 0x0400 };

const struct scsi_type scsi_ssc_type = {
	.dt = &scsi_tape,
	.pdt = SCSI_PDT_TAPE,
	.unknown_asc = ASC_INVALID_OPCODE,
	.ops = ssc_ops,
	.vpd = ssc_vpd,
	.nr_vpd = ARRAY_SIZE(ssc_vpd),
	.versions = ssc_versions,
	.nr_versions = ARRAY_SIZE(ssc_versions),
	.modes = ssc_modes,
	.nr_modes = ARRAY_SIZE(ssc_modes),
};

/* Reads and checks the cartridge header of the file just opened; the drive is rewound. */
static int ssc_cartridge_check(struct core_lu *lu, struct ssc_lu *st)
{
	uint8_t b[SSC_FMT_HDR_SIZE];
	struct ssc_fmt_rec r;

	st->loaded = false;
	if (lu->fd < 0)
		return 0;
	if (pread(lu->fd, b, sizeof(b), 0) != (ssize_t)sizeof(b) ||
	    ssc_fmt_hdr_decode(b, &st->hdr) || ssc_rec_read(lu, SSC_FMT_HDR_SIZE, &r)) {
		log_warn("tape lun %llu: %s is not a utgt tape cartridge (see utgtimg)",
			 (unsigned long long)lu->lun, lu->path ? lu->path : "");
		return -EINVAL;
	}
	ssc_rewind_state(st);
	st->loaded = true;
	if (st->hdr.flags & SSC_FMT_WP)
		lu->readonly = true;
	return 0;
}

/* Loads the cartridge at path (NULL or "": unloads), under the tape lock. */
int ssc_cartridge_load(struct core_lu *lu, const char *path)
{
	struct ssc_lu *st = ssc_lu(lu);
	int ret;

	pthread_mutex_lock(&st->lock);
	lu->readonly = false;
	ret = scsi_medium_change(lu, path);
	if (ret == 0)
		ret = ssc_cartridge_check(lu, st);
	if (ret < 0 && ret != -EBUSY)
		(void)scsi_medium_change(lu, NULL);
	lu->online = st->loaded;
	pthread_mutex_unlock(&st->lock);
	if (ret == 0 && path && *path)
		ssc_medium_ua(lu);
	return ret;
}

/* The "ssc" store is forced (tgt does the same); variable block mode; removable. */
static int ssc_lu_init(struct core_lu *lu)
{
	struct ssc_lu *st;
	int ret;

	if (!lu->bs || strcmp(lu->bs->name, "ssc"))
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	lu->dt_priv = st;
	lu->block_size = 1;
	lu->block_shift = 0;
	lu->removable = true;
	lu->write_cache = false;
	ret = ssc_cartridge_check(lu, st);
	if (ret < 0) {
		pthread_mutex_destroy(&st->lock);
		free(st);
		lu->dt_priv = NULL;
		return ret;
	}
	lu->online = st->loaded;
	scsi_lu_identity_init(lu, "UTGT", "VIRTUAL-TAPE");
	return 0;
}

static void ssc_lu_fini(struct core_lu *lu)
{
	struct ssc_lu *st = ssc_lu(lu);

	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st);
	lu->dt_priv = NULL;
}

static int ssc_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	if (strcmp(key, "path"))
		return -ENOENT;
	return ssc_cartridge_load(lu, value);
}

static void ssc_cmd_exec(struct scsi_cmd *cmd)
{
	scsi_dispatch(cmd, &scsi_ssc_type);
}

const struct core_devtype scsi_tape = {
	.name = "tape",
	.show_name = "tape",
	.pdt = SCSI_PDT_TAPE,
	.default_bs = "ssc",
	.needs_path = false,
	.lu_init = ssc_lu_init,
	.lu_fini = ssc_lu_fini,
	.lu_config = ssc_lu_config,
	.cmd_exec = ssc_cmd_exec,
};
