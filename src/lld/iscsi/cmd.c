/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The full-feature-phase data path: SCSI Command PDUs become tasks from the connection's
 * pool, collect their Data-Out (immediate, unsolicited, then one R2T at a time of at most
 * MaxBurstLength), run in the core, and answer with Data-In PDUs (status collapsed into the
 * last one for GOOD reads) or a SCSI Response with sense (§11.3-§11.8).
 *
 * Task life: get (rx of the command) -> [PENDING: waiting for its CmdSN] -> DATA (delivered,
 * collecting Data-Out) -> CORE (lent to the core) -> TX (answer queued) -> release. A task
 * is released only when none of its PDUs sits on the send queue and the core does not hold
 * it; an abort marks it and lets whichever of those comes last release it.
 *
 * Data-Out must arrive in order (DataPDUInOrder=DataSequenceInOrder=Yes): each PDU has the
 * next DataSN of its sequence and the next BufferOffset. Anything else fails the command
 * with CHECK CONDITION (ABORTED COMMAND) as soon as the command's turn came.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* iSCSI sense conditions (§11.4.7.2), ABORTED COMMAND */
#define ASC_UNEXPECTED_UNSOL_DATA 0x0c0c
#define ASC_INCORRECT_DATA_AMOUNT 0x0c0d
#define ASC_PROTOCOL_CRC_ERROR    0x4705

static void task_respond(struct iscsi_task *t);
static void task_out_sent(struct iscsi_conn *c, struct iscsi_out *o);

/* ---- pool ---- */

int iscsi_conn_tasks_alloc(struct iscsi_conn *c, unsigned int nr)
{
	c->tasks_mem = calloc(nr, sizeof(*c->tasks_mem));
	if (!c->tasks_mem)
		return -ENOMEM;
	c->nr_tasks = nr;
	for (unsigned int i = 0; i < nr; i++) {
		struct iscsi_task *t = &c->tasks_mem[i];

		t->conn = c;
		t->idx = (uint16_t)i;
		list_init(&t->hash);
		for (unsigned int k = 0; k < ISCSI_TASK_OUTS; k++) {
			t->outs[k].slot = (uint8_t)k;
			t->outs[k].sent = task_out_sent;
			list_init(&t->outs[k].entry);
		}
		list_add_tail(&t->entry, &c->free_tasks);
	}
	c->free_task_count = nr;
	return 0;
}

struct iscsi_task *iscsi_task_get(struct iscsi_conn *c)
{
	struct iscsi_task *t;

	if (list_empty(&c->free_tasks) && !iscsi_recovery_reclaim(c))
		return NULL;
	t = list_first_entry(&c->free_tasks, struct iscsi_task, entry);
	list_del(&t->entry);
	c->free_task_count--;
	memset(&t->cmd, 0, sizeof(t->cmd));
	t->state = ISCSI_TASK_DATA;
	t->kind = ISCSI_TASK_SCSI;
	t->gen++;
	t->reset_gen = atomic_load_explicit(&c->lld->reset_gen, memory_order_relaxed);
	/* idx < 65535, so a TTT is never the reserved 0xffffffff */
	t->ttt = ((uint32_t)t->gen << 16) | t->idx;
	t->immediate = t->counted = t->delivered = t->aborted = false;
	t->unsol_done = t->r2t_active = t->zombie = t->dout_recover = false;
	t->tmf = NULL;
	t->reassign = false;
	t->buf_cap = 0;
	t->edtl = t->data_got = t->unsol_len = 0;
	t->exp_data_sn = t->r2t_sn = t->r2t_offset = t->r2t_len = 0;
	t->fail_asc = 0;
	t->fail_key = 0;
	t->din_total = t->din_next = t->din_sn = t->din_burst = 0;
	t->outs_busy = 0;
	t->stuck = t->parked = false;
	t->din_seg = t->din_acked = 0;
	t->rx_ns = time_now_ns();
	list_add_tail(&t->entry, &c->tasks);
	return t;
}

void iscsi_task_uncount(struct iscsi_task *t)
{
	if (t->counted) {
		t->counted = false;
		t->conn->sess->busy--;
	}
}

void iscsi_task_release(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_ctl *tmf = t->tmf;

	if (t->state == ISCSI_TASK_FREE)
		return;
	if (t->outs_busy) {
		t->zombie = true; /* the last PDU on the send queue releases it */
		return;
	}
	if (t->parked)
		iscsi_recovery_unpark(t);
	list_del(&t->hash);
	list_del(&t->entry);
	iscsi_task_uncount(t);
	bufpool_put(reactor_bufpool(c->reactor), t->cmd.buf, t->buf_cap);
	t->cmd.buf = NULL;
	t->buf_cap = 0;
	t->state = ISCSI_TASK_FREE;
	t->tmf = NULL;
	list_add(&t->entry, &c->free_tasks);
	c->free_task_count++;
	if (tmf)
		iscsi_tmf_task_done(c, tmf);
	iscsi_conn_rx_resume(c);
}

void iscsi_task_hash_add(struct iscsi_task *t)
{
	list_add(&t->hash, &t->conn->itt_hash[t->itt % ISCSI_ITT_BUCKETS]);
}

struct iscsi_task *iscsi_task_find_itt(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_task *t;

	list_for_each_entry(t, &c->itt_hash[itt % ISCSI_ITT_BUCKETS], hash) {
		if (t->itt == itt && t->kind == ISCSI_TASK_SCSI && !t->parked)
			return t;
	}
	return NULL;
}

static struct iscsi_task *task_find_ttt(struct iscsi_conn *c, uint32_t ttt)
{
	uint32_t idx = ttt & 0xffff;

	if (idx >= c->nr_tasks || c->tasks_mem[idx].ttt != ttt ||
	    c->tasks_mem[idx].state == ISCSI_TASK_FREE)
		return NULL;
	return &c->tasks_mem[idx];
}

struct iscsi_out *iscsi_task_out_get(struct iscsi_task *t)
{
	for (unsigned int i = 0; i < ISCSI_TASK_OUTS; i++) {
		if (!(t->outs_used & (1u << i))) {
			t->outs_used |= (uint8_t)(1u << i);
			t->outs_busy++;
			return &t->outs[i];
		}
	}
	return NULL;
}

static void task_fail(struct iscsi_task *t, uint8_t key, uint16_t asc)
{
	if (!t->fail_asc) {
		t->fail_key = key;
		t->fail_asc = asc;
	}
}

/* ---- SCSI Command ---- */

static uint8_t cmd_attr(uint8_t flags)
{
	switch (flags & ISCSI_CMD_ATTR_MASK) {
	case 2:
		return SCSI_ATTR_ORDERED;
	case 3:
		return SCSI_ATTR_HEAD_OF_QUEUE;
	case 4:
		return SCSI_ATTR_ACA;
	default:
		return SCSI_ATTR_SIMPLE; /* untagged and simple */
	}
}

static void cmd_task_done(struct scsi_cmd *cmd);

/* Checks the command PDU; returns a Reject reason or 0. Fills the CDB of t later. */
static uint8_t cmd_check(struct iscsi_conn *c, const struct iscsi_scsi_cmd_hdr *h,
			 struct iscsi_cmd_ahs *ahs)
{
	uint32_t ahs_len = c->rx.info.ahs_len;

	if (c->sess->discovery)
		return ISCSI_REJECT_PROTOCOL;
	if (ahs_len && iscsi_ahs_parse(c->rx.hdr + ISCSI_BHS_LEN, ahs_len, ahs))
		return ISCSI_REJECT_INVALID_FIELD;
	if (!ahs_len)
		memset(ahs, 0, sizeof(*ahs));
	if ((size_t)16 + ahs->ext_cdb_len > SCSI_CDB_MAX)
		return ISCSI_REJECT_INVALID_FIELD;
	/* bidirectional commands are not supported */
	if (ahs->has_bidi_rlen ||
	    (h->flags & (ISCSI_CMD_READ | ISCSI_CMD_WRITE)) == (ISCSI_CMD_READ | ISCSI_CMD_WRITE))
		return ISCSI_REJECT_CMD_NOT_SUPP;
	if (c->rx.info.dsl && !(h->flags & ISCSI_CMD_WRITE))
		return ISCSI_REJECT_PROTOCOL;
	return 0;
}

static void cmd_task_fill(struct iscsi_conn *c, struct iscsi_task *t,
			  const struct iscsi_scsi_cmd_hdr *h, const struct iscsi_cmd_ahs *ahs)
{
	struct scsi_cmd *cmd = &t->cmd;

	t->itt = get_be32(h->itt);
	t->cmd_sn = get_be32(h->cmd_sn);
	t->immediate = c->rx.info.immediate;
	memcpy(t->cdb, h->cdb, 16);
	if (ahs->ext_cdb_len)
		memcpy(t->cdb + 16, ahs->ext_cdb, ahs->ext_cdb_len);
	cmd->reactor = c->reactor;
	cmd->nexus = c->sess->nexus;
	cmd->lun = iscsi_lun_decode(h->lun);
	cmd->tag = t->itt;
	cmd->cdb = t->cdb;
	cmd->cdb_len = (uint16_t)(16 + ahs->ext_cdb_len);
	cmd->attr = cmd_attr(h->flags);
	if (h->flags & ISCSI_CMD_WRITE)
		cmd->dir = SCSI_DIR_WRITE;
	else if (h->flags & ISCSI_CMD_READ)
		cmd->dir = SCSI_DIR_READ;
	else
		cmd->dir = SCSI_DIR_NONE;
	/* R=W=0 means no data whatever EDTL says (§11.3.4) */
	t->edtl = cmd->dir == SCSI_DIR_NONE ? 0 : get_be32(h->edtl);
	cmd->edtl = t->edtl;
	cmd->done = cmd_task_done;
}

/* Sets up the buffer and the unsolicited data window; returns where immediate data goes. */
static uint8_t *cmd_task_data(struct iscsi_conn *c, struct iscsi_task *t, uint8_t flags)
{
	const struct iscsi_params *p = &c->sess->p;
	uint32_t dsl = c->rx.info.dsl;
	uint32_t fbl = p->v[ISCSI_PARAM_FIRST_BURST];
	bool no_unsol = p->v[ISCSI_PARAM_INITIAL_R2T] || (flags & ISCSI_FLAG_FINAL);

	t->unsol_len = no_unsol ? dsl : MIN(fbl, t->edtl);
	t->unsol_done = no_unsol || t->edtl == 0;
	if (t->edtl > ISCSI_EDTL_MAX) {
		task_fail(t, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return NULL;
	}
	if (t->edtl) {
		t->cmd.buf = bufpool_get(reactor_bufpool(c->reactor), t->edtl, &t->buf_cap);
		if (!t->cmd.buf) {
			task_fail(t, SENSE_ABORTED_COMMAND, ASC_INSUFFICIENT_RESOURCES);
			return NULL;
		}
		t->cmd.buf_len = (uint32_t)t->buf_cap;
	}
	if (!dsl)
		return NULL;
	if (!p->v[ISCSI_PARAM_IMMEDIATE_DATA] || dsl > fbl || dsl > t->edtl) {
		task_fail(t, SENSE_ABORTED_COMMAND, ASC_UNEXPECTED_UNSOL_DATA);
		return NULL;
	}
	return t->cmd.buf;
}

uint8_t *iscsi_cmd_rx_start(struct iscsi_conn *c)
{
	const struct iscsi_scsi_cmd_hdr *h = (const struct iscsi_scsi_cmd_hdr *)c->rx.hdr;
	struct iscsi_cmd_ahs ahs;
	struct iscsi_task *t;
	uint8_t reason;

	reason = cmd_check(c, h, &ahs);
	if (reason) {
		c->rx.reject = reason;
		return NULL;
	}
	if (!c->rx.info.immediate && iscsi_sess_cmd_sn_check(c->sess, get_be32(h->cmd_sn))) {
		conn_dbg(c, "CmdSN 0x%x outside [0x%x, 0x%x]: ignored", get_be32(h->cmd_sn),
			 c->sess->exp_cmd_sn, iscsi_sess_max_cmd_sn(c->sess));
		return NULL;
	}
	if (unlikely(iscsi_sess_itt_busy(c->sess, c, get_be32(h->itt)))) {
		/* the ITT names a task of another connection (MC/S): that one goes on untouched */
		c->rx.reject = ISCSI_REJECT_TASK_IN_PROG;
		if (!c->rx.info.immediate)
			iscsi_sess_cmd_sn_take(c->sess, get_be32(h->cmd_sn));
		return NULL;
	}
	t = iscsi_task_get(c);
	if (!t) {
		c->rx.reject = ISCSI_REJECT_OUT_OF_RES; /* rx_can_start makes this unreachable */
		return NULL;
	}
	cmd_task_fill(c, t, h, &ahs);
	iscsi_task_hash_add(t);
	c->rx.task = t;
	return cmd_task_data(c, t, h->flags);
}

int iscsi_cmd_rx_end(struct iscsi_conn *c, bool digest_ok)
{
	struct iscsi_task *t = c->rx.task;

	if (!t)
		return 0;
	if (!digest_ok) {
		/* the whole command is discarded; its CmdSN stays a gap (§7.8) */
		iscsi_conn_reject(c, c->rx.hdr, ISCSI_REJECT_DATA_DIGEST);
		iscsi_task_release(t);
		return 0;
	}
	if (t->aborted && t->immediate) {
		iscsi_task_release(t); /* an LU reset came while its data arrived */
		return 0;
	}
	if (c->rx.dst)
		t->data_got = c->rx.info.dsl;
	if (t->immediate)
		iscsi_task_deliver(t);
	else
		iscsi_sess_order(c->sess, t);
	return 0;
}

/* ---- Data-Out (§11.7) ---- */

static struct iscsi_task *dataout_find(struct iscsi_conn *c, uint32_t itt, uint32_t ttt)
{
	struct iscsi_task *t;

	if (ttt != ISCSI_RSVD_TAG) {
		t = task_find_ttt(c, ttt);
		if (!t || t->itt != itt || !t->r2t_active || t->kind != ISCSI_TASK_SCSI)
			return NULL;
		return t;
	}
	t = iscsi_task_find_itt(c, itt);
	if (!t || t->unsol_done || (t->state != ISCSI_TASK_DATA && t->state != ISCSI_TASK_PENDING))
		return NULL;
	return t;
}

uint8_t *iscsi_dataout_rx_start(struct iscsi_conn *c)
{
	const struct iscsi_data_hdr *h = (const struct iscsi_data_hdr *)c->rx.hdr;
	uint32_t ttt = get_be32(h->ttt), dsl = c->rx.info.dsl;
	uint32_t offset = get_be32(h->offset);
	struct iscsi_task *t = dataout_find(c, get_be32(h->itt), ttt);
	uint32_t limit;

	if (!t) {
		conn_dbg(c, "Data-Out for unknown ITT 0x%x TTT 0x%x: dropped", get_be32(h->itt), ttt);
		return NULL;
	}
	c->rx.task = t;
	if (t->fail_asc || t->dout_recover)
		return NULL; /* failed, or its sequence is being dropped for a recovery R2T */
	limit = ttt != ISCSI_RSVD_TAG ? t->r2t_offset + t->r2t_len : t->unsol_len;
	if (get_be32(h->data_sn) != t->exp_data_sn || offset != t->data_got ||
	    dsl > limit - offset) {
		conn_dbg(c, "Data-Out ITT 0x%x DataSN %u offset %u len %u: expected DataSN %u offset %u limit %u",
			 t->itt, get_be32(h->data_sn), offset, dsl, t->exp_data_sn, t->data_got,
			 limit);
		task_fail(t, SENSE_ABORTED_COMMAND, ASC_INCORRECT_DATA_AMOUNT);
		return NULL;
	}
	return dsl ? t->cmd.buf + offset : NULL;
}

static void dataout_account(struct iscsi_task *t, const struct iscsi_data_hdr *h, uint32_t dsl)
{
	bool final = h->flags & ISCSI_FLAG_FINAL;

	t->data_got += dsl;
	t->exp_data_sn++;
	if (get_be32(h->ttt) != ISCSI_RSVD_TAG) {
		uint32_t end = t->r2t_offset + t->r2t_len;

		if (t->data_got == end) {
			t->r2t_active = false;
		} else if (final) {
			task_fail(t, SENSE_ABORTED_COMMAND, ASC_INCORRECT_DATA_AMOUNT);
			t->r2t_active = false;
		}
	} else if (final || t->data_got == t->unsol_len) {
		t->unsol_done = true;
	}
}

int iscsi_dataout_rx_end(struct iscsi_conn *c, bool digest_ok)
{
	const struct iscsi_data_hdr *h = (const struct iscsi_data_hdr *)c->rx.hdr;
	struct iscsi_task *t = c->rx.task;

	if (!t)
		return 0;
	if (t->aborted && t->state == ISCSI_TASK_DATA) {
		iscsi_task_release(t); /* aborted while its data arrived */
		return 0;
	}
	if (t->dout_recover && !t->fail_asc) {
		iscsi_recovery_dataout_skipped(c, t);
	} else if (!digest_ok) {
		/* §7.8: ERL >= 1 asks again with a recovery R2T; ERL 0 ends the task (CRC error) */
		if (!iscsi_recovery_dataout_digest(c, t)) {
			iscsi_conn_reject(c, c->rx.hdr, ISCSI_REJECT_DATA_DIGEST);
			task_fail(t, SENSE_ABORTED_COMMAND, ASC_PROTOCOL_CRC_ERROR);
		}
	} else if (!t->fail_asc) {
		dataout_account(t, h, c->rx.info.dsl);
	}
	if (t->delivered)
		iscsi_task_progress(t);
	return 0;
}

/* ---- R2T (§11.8) ---- */

static void r2t_send(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	uint32_t burst = c->sess->p.v[ISCSI_PARAM_MAX_BURST];
	struct iscsi_out *o = iscsi_task_out_get(t);
	struct iscsi_r2t_hdr *h;

	if (!o)
		return; /* the previous R2T is still queued: its sent callback retries */
	t->r2t_offset = t->data_got;
	t->r2t_len = MIN(t->edtl - t->data_got, burst);
	t->exp_data_sn = 0;
	t->r2t_active = true;
	iscsi_stat_add(&c->stats.r2ts, 1);
	h = (struct iscsi_r2t_hdr *)o->hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_R2T, ISCSI_FLAG_FINAL, 0, t->itt);
	iscsi_lun_encode(h->lun, t->cmd.lun);
	put_be32(h->ttt, t->ttt);
	iscsi_conn_fill_sn(c, o->hdr, false);
	put_be32(h->r2t_sn, t->r2t_sn++);
	put_be32(h->offset, t->r2t_offset);
	put_be32(h->desired_len, t->r2t_len);
	o->data = NULL;
	o->data_len = 0;
	iscsi_out_seal(c, o);
	iscsi_conn_queue(c, o);
}

/* ---- execution ---- */

static void task_execute(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct scsi_cmd *cmd = &t->cmd;

	cmd->lu = core_lu_get(c->sess->tgt, cmd->lun);
	cmd->out_len = cmd->dir == SCSI_DIR_WRITE ? t->data_got : 0;
	t->state = ISCSI_TASK_CORE;
	c->core_busy++;
	core_cmd_submit(cmd);
}

/* Moves a delivered task on: answer a failure, ask for data, or execute. */
void iscsi_task_progress(struct iscsi_task *t)
{
	if (t->state != ISCSI_TASK_DATA)
		return;
	if (t->fail_asc) {
		t->cmd.status = SAM_STAT_CHECK_CONDITION;
		t->cmd.sense_len = core_sense_build(t->cmd.sense, false, t->fail_key, t->fail_asc);
		t->cmd.in_len = 0;
		task_respond(t);
		return;
	}
	if (t->cmd.dir == SCSI_DIR_WRITE && t->data_got < t->edtl) {
		if (t->unsol_done && !t->r2t_active)
			r2t_send(t);
		return;
	}
	task_execute(t);
}

void iscsi_task_deliver(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;

	t->delivered = true;
	t->state = ISCSI_TASK_DATA;
	if (t->kind == ISCSI_TASK_DEFERRED) {
		if (!t->aborted) /* a logout before its turn ends it unanswered */
			iscsi_conn_ctl_dispatch(c, t->hdr, t->cmd.buf);
		iscsi_task_release(t);
		return;
	}
	if (!t->immediate) {
		t->counted = true;
		c->sess->busy++;
	}
	if (t->aborted) {
		iscsi_task_release(t);
		return;
	}
	iscsi_task_progress(t);
}

void iscsi_task_abort(struct iscsi_task *t, struct iscsi_ctl *tmf)
{
	struct iscsi_conn *c = t->conn;

	t->aborted = true;
	switch (t->state) {
	case ISCSI_TASK_CORE:
		t->cmd.aborted = true;
		if (tmf && !t->tmf) {
			t->tmf = tmf;
			tmf->waiting++;
		}
		core_cmd_abort(&t->cmd); /* a task still queued in the core ends now */
		break;
	case ISCSI_TASK_PENDING:
		/* keeps its place so its CmdSN is not a gap; released at delivery */
		break;
	case ISCSI_TASK_DATA:
		/* the receive machine may be writing into its buffer: it releases it then */
		if (t != c->rx.task)
			iscsi_task_release(t);
		break;
	default:
		break; /* the answer is already on its way */
	}
}

/* ---- completion and answers ---- */

static void cmd_task_done(struct scsi_cmd *cmd)
{
	struct iscsi_task *t = container_of(cmd, struct iscsi_task, cmd);
	struct iscsi_conn *c = t->conn;

	c->core_busy--;
	t->state = ISCSI_TASK_TX;
	if (c->state == ISCSI_CONN_CLOSED && c->retained && !t->aborted) {
		iscsi_sess_task_retained(t); /* ERL 2: kept for TASK REASSIGN */
		return;
	}
	if (c->state == ISCSI_CONN_CLOSED || t->aborted) {
		iscsi_task_release(t);
		if (c->state == ISCSI_CONN_CLOSED) {
			iscsi_sess_conn_idle(c);
			iscsi_conn_maybe_free(c);
		} else {
			iscsi_logout_check(c);
		}
		return;
	}
	task_respond(t);
	iscsi_logout_check(c);
}

/* Residual (§11.4.5): reads against what the command would transfer (in_len); writes only
 * when the device type reported the length its CDB asks for in in_len. */
void iscsi_task_residual(const struct iscsi_task *t, uint8_t *flags, uint32_t *count)
{
	const struct scsi_cmd *cmd = &t->cmd;
	uint32_t want = cmd->in_len;

	*flags = 0;
	*count = 0;
	if (cmd->dir == SCSI_DIR_WRITE && want == 0)
		return;
	if (want > t->edtl) {
		*flags = ISCSI_RSP_OVER;
		*count = want - t->edtl;
	} else if (want < t->edtl) {
		*flags = ISCSI_RSP_UNDER;
		*count = t->edtl - want;
	}
}

/* A read whose CHECK CONDITION comes after the data it moved (tape FILEMARK, ILI, EOM). */
static bool task_data_with_sense(const struct scsi_cmd *cmd)
{
	return cmd->data_with_sense && cmd->status == SAM_STAT_CHECK_CONDITION &&
	       cmd->dir == SCSI_DIR_READ;
}

/* The SCSI Response; when no PDU slot is free, task_out_sent sends it once one is. */
static void rsp_send(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_out *o = iscsi_task_out_get(t);
	struct iscsi_scsi_rsp_hdr *h;
	const struct scsi_cmd *cmd = &t->cmd;
	uint32_t residual, dsl = 0;
	uint8_t rflags;

	if (!o)
		return;
	h = (struct iscsi_scsi_rsp_hdr *)o->hdr;
	iscsi_task_residual(t, &rflags, &residual);
	if (cmd->status != SAM_STAT_GOOD && cmd->sense_len) {
		put_be16(t->sense_seg, cmd->sense_len);
		memcpy(t->sense_seg + 2, cmd->sense, cmd->sense_len);
		dsl = 2u + cmd->sense_len;
	}
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_SCSI_RSP, ISCSI_FLAG_FINAL | rflags, dsl,
		       t->itt);
	h->status = cmd->status;
	iscsi_conn_fill_sn(c, o->hdr, true);
	t->status_sn = c->stat_sn - 1;
	put_be32(h->exp_data_sn, cmd->dir == SCSI_DIR_WRITE ? t->r2t_sn : t->din_sn);
	put_be32(h->residual, residual);
	o->data = dsl ? t->sense_seg : NULL;
	o->data_len = dsl;
	t->rsp_queued = true;
	iscsi_out_seal(c, o);
	iscsi_conn_queue(c, o);
}

/* Builds the next Data-In PDU into o; the last one carries GOOD status (§11.7.4), while a
 * CHECK CONDITION follows the data in a SCSI Response (§11.7.4: no sense in Data-In). */
static void datain_build(struct iscsi_task *t, struct iscsi_out *o)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_data_hdr *h = (struct iscsi_data_hdr *)o->hdr;
	uint32_t burst = c->sess->p.v[ISCSI_PARAM_MAX_BURST];
	uint32_t len = MIN(c->max_xmit_dsl, t->din_total - t->din_next);
	uint32_t off = t->din_next;
	bool last, burst_end;
	uint8_t flags = 0;

	len = MIN(len, burst - t->din_burst);
	last = t->din_next + len == t->din_total && t->cmd.status == SAM_STAT_GOOD;
	burst_end = t->din_next + len == t->din_total || t->din_burst + len == burst;
	if (burst_end)
		flags |= ISCSI_FLAG_FINAL;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_DATA_IN, 0, len, t->itt);
	iscsi_lun_encode(h->lun, t->cmd.lun);
	/* §11.7.2: at ERL > 0, ask for a DataACK once every MaxBurstLength (TTT names it) */
	if (burst_end && c->sess->p.v[ISCSI_PARAM_ERL]) {
		flags |= ISCSI_DIN_ACK;
		put_be32(h->ttt, t->ttt);
	} else {
		put_be32(h->ttt, ISCSI_RSVD_TAG);
	}
	if (!t->din_next)
		t->din_seg = c->max_xmit_dsl;
	if (last) {
		uint32_t residual;
		uint8_t rflags;

		iscsi_task_residual(t, &rflags, &residual);
		flags |= ISCSI_DIN_STATUS | rflags;
		h->status = t->cmd.status;
		put_be32(h->residual, residual);
		t->rsp_queued = true;
	}
	h->flags = flags;
	iscsi_conn_fill_sn(c, o->hdr, last);
	if (last)
		t->status_sn = c->stat_sn - 1;
	t->din_next += len;
	t->din_burst = burst_end ? 0 : t->din_burst + len;
	iscsi_datain_send(t, o, t->din_sn++, off, len);
}

void iscsi_datain_send(struct iscsi_task *t, struct iscsi_out *o, uint32_t sn, uint32_t off,
		       uint32_t len)
{
	struct iscsi_data_hdr *h = (struct iscsi_data_hdr *)o->hdr;

	put_be32(h->data_sn, sn);
	put_be32(h->offset, off);
	o->data = t->cmd.buf + off;
	o->data_len = len;
	iscsi_out_seal(t->conn, o);
	iscsi_conn_queue(t->conn, o);
}

static void datain_fill(struct iscsi_task *t)
{
	while (t->din_next < t->din_total) {
		struct iscsi_out *o = iscsi_task_out_get(t);

		if (!o)
			return;
		datain_build(t, o);
		if (t->conn->state == ISCSI_CONN_CLOSED)
			return;
	}
	if (!t->rsp_queued)
		rsp_send(t); /* data with sense: the status follows the data */
}

static void task_respond(struct iscsi_task *t)
{
	const struct scsi_cmd *cmd = &t->cmd;

	iscsi_task_uncount(t); /* the window opens in the MaxCmdSN this answer carries */
	iscsi_conn_stat_cmd(t->conn, t);
	t->state = ISCSI_TASK_TX;
	t->din_total = 0;
	t->rsp_queued = false;
	if ((cmd->dir == SCSI_DIR_READ && cmd->status == SAM_STAT_GOOD) ||
	    task_data_with_sense(cmd))
		t->din_total = MIN(MIN(cmd->in_len, t->edtl), cmd->buf_len);
	if (t->din_total)
		datain_fill(t);
	else
		rsp_send(t);
}

static void task_out_sent(struct iscsi_conn *c, struct iscsi_out *o)
{
	struct iscsi_task *t = container_of(o - o->slot, struct iscsi_task, outs[0]);

	t->outs_used &= (uint8_t)~(1u << o->slot);
	t->outs_busy--;
	if (c->state == ISCSI_CONN_CLOSED && c->retained && !t->zombie)
		return; /* ERL 2: the answer restarts on the connection it is reassigned to */
	if (c->state == ISCSI_CONN_CLOSED || t->zombie) {
		if (!t->outs_busy && t->state != ISCSI_TASK_CORE)
			iscsi_task_release(t);
		return;
	}
	if (t->parked) {
		iscsi_recovery_sent(t); /* a Data-In resent for a SNACK left */
		return;
	}
	if (t->state == ISCSI_TASK_DATA) {
		/* an R2T left; a finished sequence may have asked for the next one meanwhile */
		iscsi_task_progress(t);
		return;
	}
	if (t->state != ISCSI_TASK_TX)
		return;
	if (t->din_next < t->din_total || !t->rsp_queued) {
		datain_fill(t);
		return;
	}
	if (!t->outs_busy && t->rsp_queued && !iscsi_recovery_park(t))
		iscsi_task_release(t);
}

void iscsi_task_respond(struct iscsi_task *t)
{
	task_respond(t);
}
