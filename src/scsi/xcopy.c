/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Third-party copy of the disk device type (SPC-4 6.4, 6.18, 7.8.17): EXTENDED COPY (LID1)
 * with identification CSCD descriptors (0xE4, NAA designator of an LU of the same target) and
 * block-to-block segments (0x02), RECEIVE COPY RESULTS (COPY STATUS, OPERATING PARAMETERS) and
 * the Third-party Copy VPD page. The copy manager parses the whole parameter list, resolves
 * and checks every CSCD and segment before any I/O, then copies chunk by chunk through the LUs'
 * backing stores with an internal command (struct xcopy_job), never blocking the reactor.
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_int.h"

#define XCOPY_HDR_LEN   16
#define XCOPY_CSCD_LEN  32          /* CSCD descriptors 0xE0-0xE9 */
#define XCOPY_B2B_LEN   28          /* block device to block device segment descriptor */
#define XCOPY_CSCD_ID   0xe4        /* identification descriptor CSCD */
#define XCOPY_SEG_B2B   0x02
#define XCOPY_CHUNK     (1u << 20)  /* bytes read then written per step */
#define XCOPY_MAX_LUNS  256u        /* LUs of the target searched for a CSCD designator */

#define XCOPY_SA_LID1        0x00
#define XCOPY_RCR_STATUS     0x00  /* RECEIVE COPY STATUS(LID1) */
#define XCOPY_RCR_OP_PARAMS  0x03  /* RECEIVE COPY OPERATING PARAMETERS */

#define SENSE_COPY_ABORTED            0x0a
#define ASC_TOO_MANY_CSCD             0x2606 /* TOO MANY TARGET DESCRIPTORS */
#define ASC_UNSUPPORTED_CSCD_TYPE     0x2607 /* UNSUPPORTED TARGET DESCRIPTOR TYPE CODE */
#define ASC_TOO_MANY_SEGMENTS         0x2608 /* TOO MANY SEGMENT DESCRIPTORS */
#define ASC_UNSUPPORTED_SEG_TYPE      0x2609 /* UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE */
#define ASC_UNREACHABLE_COPY_TARGET   0x0804
#define ASC_COPY_TARGET_NOT_REACHABLE 0x0d02 /* COPY TARGET DEVICE NOT REACHABLE */
#define ASC_OPERATION_IN_PROGRESS     0x0016

/* COPY MANAGER STATUS (SPC-4 6.18.3); scsi_xcopy_status.state holds it plus one. */
enum xcopy_cm_status {
	XCOPY_CM_IN_PROGRESS = 0x00,
	XCOPY_CM_GOOD = 0x01,
	XCOPY_CM_ERRORS = 0x02,
};

/* ---- parameter list ---- */

static int xcopy_err(struct scsi_xcopy_err *e, uint8_t key, uint16_t asc, int32_t field)
{
	e->key = key;
	e->asc = asc;
	e->field = field;
	return -EINVAL;
}

static int xcopy_bad_field(struct scsi_xcopy_err *e, uint32_t field)
{
	return xcopy_err(e, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM, (int32_t)field);
}

/* One CSCD descriptor at p[off]; end bounds the CSCD list. */
static int xcopy_parse_cscd(const uint8_t *p, uint32_t off, uint32_t end,
			    struct scsi_xcopy_list *l, struct scsi_xcopy_err *e)
{
	const uint8_t *d = &p[off];
	struct scsi_xcopy_cscd *c;
	uint8_t dlen;

	if (l->nr_cscd == SCSI_XCOPY_MAX_CSCD)
		return xcopy_err(e, SENSE_ILLEGAL_REQUEST, ASC_TOO_MANY_CSCD, -1);
	if (d[0] != XCOPY_CSCD_ID)
		return xcopy_err(e, SENSE_ILLEGAL_REQUEST, ASC_UNSUPPORTED_CSCD_TYPE, (int32_t)off);
	if (end - off < XCOPY_CSCD_LEN)
		return xcopy_err(e, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR, -1);
	/* LU ID TYPE is ignored and NUL obsolete in SPC-4; only block devices are copy targets */
	if (d[1] & 0x1f)
		return xcopy_bad_field(e, off + 1);
	dlen = d[7];
	if (dlen > 16)
		return xcopy_bad_field(e, off + 7);
	c = &l->cscd[l->nr_cscd++];
	memset(c->desig, 0, sizeof(c->desig));
	memcpy(c->desig, &d[4], 4u + dlen);
	c->block_len = get_be24(&d[29]);
	c->off = (uint16_t)off;
	return 0;
}

/* One segment descriptor at p[off]; end bounds the segment list. */
static int xcopy_parse_seg(const uint8_t *p, uint32_t off, uint32_t end,
			   struct scsi_xcopy_list *l, struct scsi_xcopy_err *e)
{
	const uint8_t *d = &p[off];
	struct scsi_xcopy_seg *s;

	if (l->nr_seg == SCSI_XCOPY_MAX_SEG)
		return xcopy_err(e, SENSE_ILLEGAL_REQUEST, ASC_TOO_MANY_SEGMENTS, -1);
	if (d[0] != XCOPY_SEG_B2B)
		return xcopy_err(e, SENSE_ILLEGAL_REQUEST, ASC_UNSUPPORTED_SEG_TYPE, (int32_t)off);
	if (end - off < XCOPY_B2B_LEN)
		return xcopy_err(e, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR, -1);
	if (get_be16(&d[2]) != XCOPY_B2B_LEN - 4)
		return xcopy_bad_field(e, off + 2);
	s = &l->seg[l->nr_seg++];
	s->src = get_be16(&d[4]);
	s->dst = get_be16(&d[6]);
	s->nblk = get_be16(&d[10]);
	s->src_lba = get_be64(&d[12]);
	s->dst_lba = get_be64(&d[20]);
	s->off = (uint16_t)off;
	return 0;
}

/*
 * SPC-4 6.4.1: a list longer than the parameter list length is a PARAMETER LIST LENGTH
 * ERROR, and so is a descriptor list over MAXIMUM DESCRIPTOR LIST LENGTH (checked before the
 * counts). LIST ID USAGE 01b is reserved and 11b needs LIST IDENTIFIER 0. MAXIMUM INLINE
 * DATA LENGTH is 0.
 */
int scsi_xcopy_parse(const uint8_t *p, uint32_t len, struct scsi_xcopy_list *l,
		     struct scsi_xcopy_err *e)
{
	uint32_t cscd_len, seg_len, off, end;
	int ret = 0;

	memset(l, 0, sizeof(*l));
	if (len < XCOPY_HDR_LEN)
		return xcopy_err(e, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR, -1);
	cscd_len = get_be16(&p[2]);
	seg_len = get_be32(&p[8]);
	if ((uint64_t)XCOPY_HDR_LEN + cscd_len + seg_len + get_be32(&p[12]) > len ||
	    (uint64_t)cscd_len + seg_len > SCSI_XCOPY_MAX_DESC_LIST)
		return xcopy_err(e, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR, -1);
	l->list_id = p[0];
	l->usage = (p[1] >> 3) & 0x03;
	if (l->usage == 1)
		return xcopy_bad_field(e, 1);
	if (l->usage == 3 && l->list_id)
		return xcopy_bad_field(e, 0);
	if (get_be32(&p[12]))
		return xcopy_bad_field(e, 12);
	end = XCOPY_HDR_LEN + cscd_len;
	for (off = XCOPY_HDR_LEN; off < end && !ret; off += XCOPY_CSCD_LEN)
		ret = xcopy_parse_cscd(p, off, end, l, e);
	end += seg_len;
	for (; off < end && !ret; off += XCOPY_B2B_LEN)
		ret = xcopy_parse_seg(p, off, end, l, e);
	return ret;
}

/* ---- copy status records ---- */

static struct scsi_xcopy_status *xcopy_status_find(struct scsi_xcopy_held *h,
						   const struct core_nexus *n, uint8_t list_id)
{
	unsigned int i;

	for (i = 0; i < SCSI_XCOPY_HELD_MAX; i++) {
		struct scsi_xcopy_status *s = &h->st[i];

		if (s->state && s->listed && s->nexus == n && s->nexus_id == n->id &&
		    s->list_id == list_id)
			return s;
	}
	return NULL;
}

/*
 * Records a copy starting on cmd's nexus. An in-progress copy with the same list identifier
 * from the same I_T nexus is OPERATION IN PROGRESS (SPC-4 6.4.1); a held result with it is
 * replaced. Every running copy holds a record, so SCSI_XCOPY_HELD_MAX bounds the concurrent
 * copies per LU (TOTAL CONCURRENT COPIES); past it, INSUFFICIENT RESOURCES. Returns the record,
 * or NULL with the sense set.
 */
static struct scsi_xcopy_status *xcopy_status_start(struct scsi_cmd *cmd,
						    const struct scsi_xcopy_list *l)
{
	struct scsi_xcopy_held *h = scsi_lu_xcopy(cmd->lu);
	struct scsi_xcopy_status *s = NULL;
	unsigned int i;

	if (!h) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return NULL;
	}
	pthread_mutex_lock(&h->lock);
	if (l->usage != 3)
		s = xcopy_status_find(h, cmd->nexus, l->list_id);
	if (s && s->state == XCOPY_CM_IN_PROGRESS + 1) {
		pthread_mutex_unlock(&h->lock);
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_OPERATION_IN_PROGRESS);
		return NULL;
	}
	for (i = 0; !s && i < SCSI_XCOPY_HELD_MAX; i++) {
		s = &h->st[(h->next + i) % SCSI_XCOPY_HELD_MAX];
		if (s->state == XCOPY_CM_IN_PROGRESS + 1)
			s = NULL;
	}
	if (s) {
		h->next = (unsigned int)(s - h->st + 1) % SCSI_XCOPY_HELD_MAX;
		s->nexus = cmd->nexus;
		s->nexus_id = cmd->nexus->id;
		s->list_id = l->list_id;
		s->listed = l->usage != 3;
		s->state = XCOPY_CM_IN_PROGRESS + 1;
		s->segs = 0;
		s->bytes = 0;
	}
	pthread_mutex_unlock(&h->lock);
	if (!s)
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INSUFFICIENT_RESOURCES);
	return s;
}

/* ---- the copy job ---- */

/*
 * One EXTENDED COPY in progress. io is an internal command lent to the source and destination
 * stores in turn (io.lu is the LU of the step in flight); the job holds a reference to every
 * resolved LU until it ends. Owned by the EXTENDED COPY command (cmd->scratch[0]) and freed
 * when that command completes, on its reactor.
 */
struct xcopy_job {
	struct scsi_cmd io;
	struct scsi_cmd *cmd;
	struct scsi_xcopy_list list;
	struct scsi_xcopy_status *status; /* this copy's record (in progress until the end) */
	struct core_lu *lu[SCSI_XCOPY_MAX_CSCD];
	void *buf;
	size_t cap;
	unsigned int seg;               /* segment in progress */
	uint32_t done;                  /* blocks of it copied */
	uint32_t n;                     /* blocks in flight */
	uint64_t bytes;                 /* bytes written so far */
};

/*
 * COPY ABORTED with the segment number in the COMMAND-SPECIFIC INFORMATION field (fixed
 * format bytes 10-11, SPC-4 6.4: errors detected while processing segment descriptors); with
 * target_key the copy target's own sense data (the store's or the range error) follows at
 * byte 18, and byte 8 (SOURCE SENSE DATA OFFSET) or 9 (DESTINATION ...) points at it.
 */
static void xcopy_abort(struct scsi_cmd *cmd, uint16_t asc, unsigned int seg, uint8_t target_key,
			uint16_t target_asc, bool source)
{
	core_cmd_fail(cmd, SENSE_COPY_ABORTED, asc);
	if ((cmd->sense[0] & 0x7f) != 0x70 || cmd->sense_len != 18)
		return;
	put_be16(&cmd->sense[10], (uint16_t)seg);
	if (!target_key)
		return;
	cmd->sense[source ? 8 : 9] = 18;
	core_sense_build(&cmd->sense[18], false, target_key, target_asc);
	cmd->sense[7] = 10 + 18;
	cmd->sense_len = 36;
}

static void xcopy_fail_err(struct scsi_cmd *cmd, const struct scsi_xcopy_err *e)
{
	if (e->asc == ASC_INVALID_FIELD_IN_PARAM && e->field >= 0)
		core_cmd_fail_field(cmd, e->asc, false, (uint16_t)e->field, -1);
	else
		core_cmd_fail(cmd, e->key, e->asc);
}

/* Whether lu (a disk) answers VPD 0x83 with the designation descriptor desig. */
static bool xcopy_lu_matches(struct scsi_cmd *cmd, struct core_lu *lu, const uint8_t *desig)
{
	struct scsi_cmd probe;
	uint8_t page[256];
	uint32_t len, off;

	memset(&probe, 0, sizeof(probe));
	probe.reactor = cmd->reactor;
	probe.nexus = cmd->nexus;
	probe.lu = lu;
	probe.lun = lu->lun;
	len = spc_vpd_devid(&probe, &scsi_sbc_type, page, sizeof(page));
	for (off = 4; off + 4 <= len && off + 4u + page[off + 3] <= len; off += 4u + page[off + 3]) {
		if ((page[off + 1] & 0x30) == 0 && page[off + 3] == desig[3] &&
		    (page[off + 1] & 0x0f) == (desig[1] & 0x0f) &&
		    (page[off] & 0x0f) == (desig[0] & 0x0f) &&
		    !memcmp(&page[off + 4], &desig[4], desig[3]))
			return true;
	}
	return false;
}

/* Finds the disk LU of cmd's target whose LU designator is desig; referenced, or NULL. */
static struct core_lu *xcopy_lu_find(struct scsi_cmd *cmd, const uint8_t *desig)
{
	struct core_target *tgt = cmd->nexus->tgt;
	uint64_t luns[XCOPY_MAX_LUNS];
	unsigned int i, n;
	struct core_lu *lu;

	if (desig[1] & 0x30) /* association: the designator must name a logical unit */
		return NULL;
	n = core_target_luns(tgt, luns, XCOPY_MAX_LUNS);
	for (i = 0; i < n && i < XCOPY_MAX_LUNS; i++) {
		lu = core_lu_get(tgt, luns[i]);
		if (!lu)
			continue;
		if (lu->dt == &scsi_disk && xcopy_lu_matches(cmd, lu, desig))
			return lu;
		core_lu_put(lu);
	}
	return NULL;
}

/* The LU of CSCD index idx for segment seg: resolved once, checked for I/O. */
static struct core_lu *xcopy_cscd_lu(struct xcopy_job *j, uint16_t idx, unsigned int seg)
{
	struct scsi_cmd *cmd = j->cmd;
	const struct scsi_xcopy_cscd *c;
	struct core_lu *lu;

	if (idx >= j->list.nr_cscd) {
		xcopy_abort(cmd, ASC_UNREACHABLE_COPY_TARGET, seg, 0, 0, false);
		return NULL;
	}
	c = &j->list.cscd[idx];
	if (!j->lu[idx])
		j->lu[idx] = xcopy_lu_find(cmd, c->desig);
	lu = j->lu[idx];
	if (!lu) {
		xcopy_abort(cmd, ASC_UNREACHABLE_COPY_TARGET, seg, 0, 0, false);
		return NULL;
	}
	if (!lu->online || scsi_lu_sanitizing(lu)) {
		xcopy_abort(cmd, ASC_COPY_TARGET_NOT_REACHABLE, seg, 0, 0, false);
		return NULL;
	}
	if (c->block_len != lu->block_size) {
		core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, c->off + 29u, -1);
		return NULL;
	}
	return lu;
}

/* Reservations of a copy target, as if the initiator sent the read or write itself. */
static bool xcopy_pr_allows(struct scsi_cmd *cmd, struct core_lu *lu, bool writes)
{
	struct scsi_pr *pr = scsi_lu_pr(lu);
	bool ok;

	if (!pr || !atomic_load(&pr->active))
		return true;
	pthread_mutex_lock(&pr->lock);
	if (pr->r2_nexus)
		ok = pr->r2_nexus == cmd->nexus;
	else
		ok = scsi_pr_allows(pr, cmd->nexus->transport_id, writes);
	pthread_mutex_unlock(&pr->lock);
	if (!ok) {
		cmd->status = SAM_STAT_RESERVATION_CONFLICT;
		cmd->sense_len = 0;
	}
	return ok;
}

static bool xcopy_range_ok(const struct core_lu *lu, uint64_t lba, uint32_t nblk)
{
	uint64_t blocks = core_lu_blocks(lu);

	return lba <= blocks && nblk <= blocks - lba;
}

/* Checks segment i completely before any I/O: CSCDs, protection, reservations, ranges. */
static bool xcopy_seg_check(struct xcopy_job *j, unsigned int i)
{
	const struct scsi_xcopy_seg *s = &j->list.seg[i];
	struct scsi_cmd *cmd = j->cmd;
	struct core_lu *src, *dst;

	src = xcopy_cscd_lu(j, s->src, i);
	dst = src ? xcopy_cscd_lu(j, s->dst, i) : NULL;
	if (!dst)
		return false;
	if (src->block_size != dst->block_size) {
		core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, s->off + 1u, -1);
		return false;
	}
	if ((uint64_t)s->nblk << src->block_shift > SCSI_XCOPY_MAX_SEG_BYTES) {
		core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, s->off + 10u, -1);
		return false;
	}
	if (dst->readonly || dst->swp) {
		core_cmd_fail(cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return false;
	}
	if (!xcopy_pr_allows(cmd, src, false) || !xcopy_pr_allows(cmd, dst, true))
		return false;
	if (!xcopy_range_ok(src, s->src_lba, s->nblk) || !xcopy_range_ok(dst, s->dst_lba, s->nblk)) {
		xcopy_abort(cmd, ASC_NO_ADDITIONAL_SENSE, i, SENSE_ILLEGAL_REQUEST,
			    ASC_LBA_OUT_OF_RANGE, !xcopy_range_ok(src, s->src_lba, s->nblk));
		return false;
	}
	return true;
}

static void xcopy_job_free(struct xcopy_job *j)
{
	unsigned int i;

	for (i = 0; i < SCSI_XCOPY_MAX_CSCD; i++)
		if (j->lu[i])
			core_lu_put(j->lu[i]);
	if (j->buf)
		bufpool_put(reactor_bufpool(j->cmd->reactor), j->buf, j->cap);
	free(j);
}

/* Ends the copy: records its status (discarded at once with LIST ID USAGE 10b). */
static void xcopy_status_end(struct xcopy_job *j)
{
	struct scsi_xcopy_held *h = scsi_lu_xcopy(j->cmd->lu);
	struct scsi_xcopy_status *s = j->status;

	if (!s || !h)
		return;
	pthread_mutex_lock(&h->lock);
	s->segs = (uint16_t)j->seg;
	s->bytes = j->bytes;
	s->state = 1 + (j->cmd->status == SAM_STAT_GOOD && !j->cmd->aborted ? XCOPY_CM_GOOD
									       : XCOPY_CM_ERRORS);
	if (j->list.usage >= 2) /* NO LIST ID / no hold: nothing to report later */
		s->state = 0;
	pthread_mutex_unlock(&h->lock);
}

static void xcopy_finish(struct xcopy_job *j)
{
	struct scsi_cmd *cmd = j->cmd;

	xcopy_status_end(j);
	xcopy_job_free(j);
	core_cmd_done(cmd);
}

static bool xcopy_next(struct xcopy_job *j);

/* The byte offsets of the chunk in flight; an overlapping copy within one LU towards higher
 * LBAs runs backwards, so no block is overwritten before it has been read. */
static uint64_t xcopy_chunk_lba(const struct xcopy_job *j, uint64_t lba)
{
	const struct scsi_xcopy_seg *s = &j->list.seg[j->seg];

	if (j->lu[s->src] == j->lu[s->dst] && s->dst_lba > s->src_lba &&
	    s->dst_lba < s->src_lba + s->nblk)
		return lba + s->nblk - j->done - j->n;
	return lba + j->done;
}

static void xcopy_io(struct xcopy_job *j, struct core_lu *lu, enum core_io_op op,
		     uint64_t lba, void (*done)(struct scsi_cmd *io, int64_t res))
{
	j->io.lu = lu;
	j->io.io.op = op;
	j->io.io.flags = (op == CORE_IO_WRITE && !lu->write_cache) ? CORE_IO_FUA : 0;
	j->io.io.offset = xcopy_chunk_lba(j, lba) << lu->block_shift;
	j->io.io.length = (uint64_t)j->n << lu->block_shift;
	j->io.io.buf = j->buf;
	j->io.io.done = done;
	lu->bs->submit(&j->io);
}

/* A store error ends the copy: COPY ABORTED with the copy target's sense (MEDIUM ERROR). */
static bool xcopy_io_ok(struct xcopy_job *j, int64_t res, bool write)
{
	if (res >= 0 && (uint64_t)res == j->io.io.length)
		return true;
	log_dbg("scsi: xcopy tag %llu: segment %u %s failed: %lld",
		(unsigned long long)j->cmd->tag, j->seg, write ? "write" : "read", (long long)res);
	xcopy_abort(j->cmd, ASC_NO_ADDITIONAL_SENSE, j->seg,
		    res == -ENOSPC ? SENSE_DATA_PROTECT : SENSE_MEDIUM_ERROR,
		    res == -ENOSPC ? ASC_SPACE_ALLOC_FAILED_WP :
				     (write ? ASC_WRITE_ERROR : ASC_READ_ERROR),
		    !write);
	return false;
}

static void xcopy_write_done(struct scsi_cmd *io, int64_t res)
{
	struct xcopy_job *j = container_of(io, struct xcopy_job, io);

	core_ilk_release(io);
	if (!xcopy_io_ok(j, res, true)) {
		xcopy_finish(j);
		return;
	}
	j->bytes += io->io.length;
	j->done += j->n;
	if (j->cmd->aborted || !xcopy_next(j))
		xcopy_finish(j);
}

/* Writes the chunk once the destination range is free of COMPARE AND WRITE (order.c). */
static void xcopy_write_start(struct scsi_cmd *io)
{
	struct xcopy_job *j = container_of(io, struct xcopy_job, io);
	const struct scsi_xcopy_seg *s = &j->list.seg[j->seg];

	xcopy_io(j, j->lu[s->dst], CORE_IO_WRITE, s->dst_lba, xcopy_write_done);
}

static void xcopy_read_done(struct scsi_cmd *io, int64_t res)
{
	struct xcopy_job *j = container_of(io, struct xcopy_job, io);
	const struct scsi_xcopy_seg *s = &j->list.seg[j->seg];

	if (!xcopy_io_ok(j, res, false) || j->cmd->aborted) {
		xcopy_finish(j);
		return;
	}
	io->lu = j->lu[s->dst];
	if (core_ilk_acquire(io, xcopy_chunk_lba(j, s->dst_lba), j->n, false, xcopy_write_start))
		xcopy_write_start(io);
}

/* Starts the next chunk; false (status GOOD) when every segment is done. */
static bool xcopy_next(struct xcopy_job *j)
{
	const struct scsi_xcopy_seg *s;
	struct core_lu *src;

	while (j->seg < j->list.nr_seg && j->done >= j->list.seg[j->seg].nblk) {
		j->seg++;
		j->done = 0;
	}
	if (j->seg == j->list.nr_seg) {
		core_cmd_good(j->cmd);
		return false;
	}
	s = &j->list.seg[j->seg];
	src = j->lu[s->src];
	j->n = MIN(s->nblk - j->done, (uint32_t)(XCOPY_CHUNK >> src->block_shift));
	xcopy_io(j, src, CORE_IO_READ, s->src_lba, xcopy_read_done);
	return true;
}

/* Resolves and checks every segment; then takes the buffer and records the copy. */
static bool xcopy_prepare(struct xcopy_job *j)
{
	struct scsi_cmd *cmd = j->cmd;
	unsigned int i;

	for (i = 0; i < j->list.nr_seg; i++)
		if (!xcopy_seg_check(j, i))
			return false;
	if (j->list.nr_seg) {
		j->buf = bufpool_get(reactor_bufpool(cmd->reactor), XCOPY_CHUNK, &j->cap);
		if (!j->buf) {
			scsi_busy(cmd);
			return false;
		}
	}
	j->status = xcopy_status_start(cmd, &j->list);
	return j->status != NULL;
}

/*
 * EXTENDED COPY (LID1). PARAMETER LIST LENGTH 0 copies nothing (GOOD). The command completes
 * when the last segment is written, or at the next chunk boundary after an abort.
 */
enum scsi_exec spc_extended_copy(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint32_t plen = get_be32(&cmd->cdb[10]);
	struct scsi_xcopy_err err;
	struct xcopy_job *j;

	(void)t;
	cmd->in_len = plen;
	core_cmd_good(cmd);
	if (!plen)
		return SCSI_EXEC_DONE;
	if (!cmd->buf || cmd->out_len < plen || cmd->buf_len < plen) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
		return SCSI_EXEC_DONE;
	}
	j = calloc(1, sizeof(*j)); /* one per EXTENDED COPY: a slow-path command */
	if (!j) {
		scsi_busy(cmd);
		return SCSI_EXEC_DONE;
	}
	j->cmd = cmd;
	j->io.reactor = cmd->reactor;
	j->io.nexus = cmd->nexus;
	j->io.tag = cmd->tag;
	if (scsi_xcopy_parse(cmd->buf, plen, &j->list, &err) < 0) {
		xcopy_fail_err(cmd, &err);
		xcopy_job_free(j);
		return SCSI_EXEC_DONE;
	}
	if (!xcopy_prepare(j)) {
		xcopy_job_free(j);
		return SCSI_EXEC_DONE;
	}
	if (xcopy_next(j))
		return SCSI_EXEC_ASYNC;
	xcopy_status_end(j);
	xcopy_job_free(j);
	return SCSI_EXEC_DONE;
}

/* ---- RECEIVE COPY RESULTS ---- */

/* TRANSFER COUNT in the smallest unit that fits 32 bits (00h bytes, 01h KiB, ... 06h EiB). */
static void xcopy_put_count(uint8_t *p, uint64_t bytes)
{
	uint8_t units = 0;

	while (bytes > 0xffffffffu) {
		bytes >>= 10;
		units++;
	}
	p[0] = units;
	put_be32(&p[1], (uint32_t)bytes);
}

/* COPY STATUS (LID1): a finished copy's record is discarded once reported. */
static void xcopy_rcr_status(struct scsi_cmd *cmd, uint32_t alloc)
{
	struct scsi_xcopy_held *h = scsi_lu_xcopy(cmd->lu);
	struct scsi_xcopy_status *s;
	uint8_t d[12] = { 0 };

	if (!h) {
		scsi_fail_cdb(cmd, 2, -1);
		return;
	}
	pthread_mutex_lock(&h->lock);
	s = xcopy_status_find(h, cmd->nexus, cmd->cdb[2]);
	if (s) {
		put_be32(d, sizeof(d) - 4);
		d[4] = (uint8_t)(s->state - 1);
		put_be16(&d[5], s->segs);
		xcopy_put_count(&d[7], s->bytes);
		if (s->state != XCOPY_CM_IN_PROGRESS + 1)
			s->state = 0;
	}
	pthread_mutex_unlock(&h->lock);
	if (!s)
		scsi_fail_cdb(cmd, 2, -1); /* no copy with that LIST IDENTIFIER (SPC-4 6.18.3) */
	else
		scsi_data_in(cmd, d, sizeof(d), alloc);
}

static const uint8_t xcopy_descr_codes[] = { XCOPY_SEG_B2B, XCOPY_CSCD_ID };

/* OPERATING PARAMETERS (SPC-4 6.18.4): the limits scsi_xcopy_parse and the job enforce. */
static void xcopy_rcr_op_params(struct scsi_cmd *cmd, uint32_t alloc)
{
	uint8_t d[44 + sizeof(xcopy_descr_codes)] = { 0 };

	put_be32(d, sizeof(d) - 4);
	d[4] = 0x01;                                        /* SNLID: LIST ID USAGE 11b */
	put_be16(&d[8], SCSI_XCOPY_MAX_CSCD);
	put_be16(&d[10], SCSI_XCOPY_MAX_SEG);
	put_be32(&d[12], SCSI_XCOPY_MAX_DESC_LIST);
	put_be32(&d[16], SCSI_XCOPY_MAX_SEG_BYTES);
	put_be32(&d[20], 0);                                /* MAXIMUM INLINE DATA LENGTH */
	put_be32(&d[24], 0);                                /* HELD DATA LIMIT */
	put_be16(&d[34], SCSI_XCOPY_HELD_MAX);              /* TOTAL CONCURRENT COPIES */
	d[36] = SCSI_XCOPY_HELD_MAX;                        /* MAXIMUM CONCURRENT COPIES */
	d[37] = (uint8_t)cmd->lu->block_shift;              /* DATA SEGMENT GRANULARITY */
	d[43] = sizeof(xcopy_descr_codes);
	memcpy(&d[44], xcopy_descr_codes, sizeof(xcopy_descr_codes));
	scsi_data_in(cmd, d, sizeof(d), alloc);
}

enum scsi_exec spc_receive_copy_results(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint32_t alloc = get_be32(&cmd->cdb[10]);

	(void)t;
	if ((cmd->cdb[1] & 0x1f) == XCOPY_RCR_STATUS)
		xcopy_rcr_status(cmd, alloc);
	else
		xcopy_rcr_op_params(cmd, alloc);
	return SCSI_EXEC_DONE;
}

/* ---- Third-party Copy VPD page (SPC-4 7.8.17) ---- */

/* Supported Commands descriptor (0001h): EXTENDED COPY LID1 and the RECEIVE COPY RESULTS
 * service actions, padded to a multiple of 4 bytes. */
static const uint8_t xcopy_vpd_cmds[] = {
	0x00, 0x01, 0x00, 0x0c,                  /* type, length */
	0x07,                                    /* COMMANDS SUPPORTED LIST LENGTH */
	SCSI_OP_EXTENDED_COPY, 1, XCOPY_SA_LID1,
	SCSI_OP_RECEIVE_COPY, 2, XCOPY_RCR_STATUS, XCOPY_RCR_OP_PARAMS,
	0, 0, 0, 0,
};

uint32_t spc_vpd_tpc(const struct scsi_cmd *cmd, const struct scsi_type *t, uint8_t *p,
		     uint32_t size)
{
	uint32_t off = 4;
	uint8_t *d;

	if (size < 4 + sizeof(xcopy_vpd_cmds) + 32 + 8 + 36)
		return 0;
	memset(p, 0, 4 + sizeof(xcopy_vpd_cmds) + 32 + 8 + 36);
	p[0] = t->pdt;
	p[1] = 0x8f;
	memcpy(&p[off], xcopy_vpd_cmds, sizeof(xcopy_vpd_cmds));
	off += sizeof(xcopy_vpd_cmds);
	d = &p[off];                             /* Parameter Data (0008h) */
	put_be16(d, 0x0008);
	put_be16(&d[2], 28);
	put_be16(&d[8], SCSI_XCOPY_MAX_CSCD);
	put_be16(&d[10], SCSI_XCOPY_MAX_SEG);
	put_be32(&d[12], SCSI_XCOPY_MAX_DESC_LIST);
	off += 32;
	d = &p[off];                             /* Supported Descriptors (0004h) */
	put_be16(d, 0x0004);
	put_be16(&d[2], 4);
	d[4] = sizeof(xcopy_descr_codes);
	memcpy(&d[5], xcopy_descr_codes, sizeof(xcopy_descr_codes));
	off += 8;
	d = &p[off];                             /* General Copy Operations (8001h) */
	put_be16(d, 0x8001);
	put_be16(&d[2], 32);
	put_be32(&d[4], SCSI_XCOPY_HELD_MAX);    /* TOTAL CONCURRENT COPIES */
	put_be32(&d[8], SCSI_XCOPY_HELD_MAX);    /* MAXIMUM IDENTIFIED CONCURRENT COPIES */
	put_be32(&d[12], SCSI_XCOPY_MAX_SEG_BYTES);
	d[16] = (uint8_t)cmd->lu->block_shift;   /* DATA SEGMENT GRANULARITY (log2) */
	off += 36;
	put_be16(&p[2], (uint16_t)(off - 4));
	return off;
}
