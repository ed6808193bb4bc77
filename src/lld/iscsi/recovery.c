/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ErrorRecoveryLevel 1 within a connection (RFC 7143 §7.8): a Data-Out whose data digest
 * fails is rejected and discarded, the rest of its sequence is dropped, and once the sequence
 * ends (F bit or its last byte) a recovery R2T asks again for everything from the first
 * missing byte. Below ERL 1 the caller fails the task instead (CRC error sense).
 * SNACK (§11.16): Status SNACK from a ring of the last responses (kept at ERL >= 1 only),
 * R2T SNACK for the outstanding R2T, and for reads (ERL >= 1) Data SNACK, R-Data SNACK and
 * DataACK on answered reads "parked" with their buffer until ExpStatSN or a DataACK frees them.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool recovery_erl1(const struct iscsi_conn *c)
{
	return c->sess && c->sess->p.v[ISCSI_PARAM_ERL] >= 1;
}

/* The sequence the discarded PDU belongs to has ended: the next R2T restarts at data_got. */
static void recovery_seq_check(struct iscsi_task *t, const struct iscsi_data_hdr *h, uint32_t dsl)
{
	uint32_t ttt = get_be32(h->ttt), end = get_be32(h->offset) + dsl;
	uint32_t limit = ttt != ISCSI_RSVD_TAG ? t->r2t_offset + t->r2t_len : t->unsol_len;

	if (!(h->flags & ISCSI_FLAG_FINAL) && end < limit)
		return;
	t->dout_recover = false;
	if (ttt != ISCSI_RSVD_TAG)
		t->r2t_active = false;
	else
		t->unsol_done = true;
	conn_dbg(t->conn, "ITT 0x%x: recovery R2T from offset %u", t->itt, t->data_got);
}

/*
 * A Data-Out of task t with a data digest error. Returns true when handled by recovery
 * (ERL >= 1): the PDU is rejected and the task will ask for the data again.
 */
bool iscsi_recovery_dataout_digest(struct iscsi_conn *c, struct iscsi_task *t)
{
	if (!recovery_erl1(c))
		return false;
	iscsi_conn_reject(c, c->rx.hdr, ISCSI_REJECT_DATA_DIGEST);
	t->dout_recover = true;
	recovery_seq_check(t, (const struct iscsi_data_hdr *)c->rx.hdr, c->rx.info.dsl);
	return true;
}

/* A Data-Out that arrived while its sequence is being discarded (after a digest error). */
void iscsi_recovery_dataout_skipped(struct iscsi_conn *c, struct iscsi_task *t)
{
	/* dataout_find only lets PDUs of the open sequence through: this is the broken one */
	recovery_seq_check(t, (const struct iscsi_data_hdr *)c->rx.hdr, c->rx.info.dsl);
}

/* ---- Status SNACK (§11.16): a copy of the last responses, by StatSN ---- */

#define RTX_SLOTS    256u              /* responses kept (by StatSN modulo) */
#define RTX_DATA_MAX 264u              /* sense data of a SCSI Response, small answers */

struct iscsi_rtx_slot {
	uint32_t stat_sn;
	bool valid;
	uint16_t data_len;
	uint8_t hdr[ISCSI_BHS_LEN];
	uint8_t data[RTX_DATA_MAX];
};

struct iscsi_rtx {
	struct iscsi_rtx_slot slot[RTX_SLOTS];
};

enum {
	SNACK_DATA_R2T = 0,
	SNACK_STATUS = 1,
	SNACK_DATA_ACK = 2,
	SNACK_RDATA = 3,
};

/* Called once the connection is in the full feature phase: keep responses at ERL >= 1 only. */
void iscsi_recovery_conn_start(struct iscsi_conn *c)
{
	if (!recovery_erl1(c) || c->rtx)
		return;
	c->rtx = calloc(1, sizeof(*c->rtx));
	if (!c->rtx)
		conn_dbg(c, "no memory to keep responses: Status SNACK will be rejected");
}

void iscsi_recovery_conn_free(struct iscsi_conn *c)
{
	free(c->rtx);
	c->rtx = NULL;
}

/*
 * A PDU is being sealed (c->rtx set): keep it when it carries a new StatSN. fill_sn put
 * c->stat_sn - 1 there when it advanced; PDUs that do not advance carry c->stat_sn.
 */
void iscsi_recovery_keep(struct iscsi_conn *c, const struct iscsi_out *o)
{
	uint32_t sn = get_be32(o->hdr + 24);
	uint8_t op = o->hdr[0] & ISCSI_OP_MASK;
	struct iscsi_rtx_slot *s;

	if (sn + 1 != c->stat_sn || op == ISCSI_OP_R2T || op == ISCSI_OP_LOGIN_RSP)
		return;
	if (op == ISCSI_OP_DATA_IN && !(o->hdr[1] & ISCSI_DIN_STATUS))
		return;
	s = &c->rtx->slot[sn % RTX_SLOTS];
	s->stat_sn = sn;
	memcpy(s->hdr, o->hdr, ISCSI_BHS_LEN);
	/* a Data-In with status comes back as a SCSI Response (status, residual; no data) */
	s->data_len = op == ISCSI_OP_DATA_IN ? 0 : (uint16_t)MIN(o->data_len, RTX_DATA_MAX);
	s->valid = op == ISCSI_OP_DATA_IN || o->data_len <= RTX_DATA_MAX;
	if (s->data_len)
		memcpy(s->data, o->data, s->data_len);
}

/* Sends the kept response with StatSN sn again. Returns 0 or -ENOENT (not kept). */
static int recovery_status_resend(struct iscsi_conn *c, uint32_t sn)
{
	struct iscsi_rtx_slot *s = &c->rtx->slot[sn % RTX_SLOTS];
	struct iscsi_ctl *ctl;
	uint8_t *data;

	if (!s->valid || s->stat_sn != sn)
		return -ENOENT;
	ctl = iscsi_ctl_get(c);
	if (!ctl)
		return -ENOMEM;
	memcpy(ctl->out.hdr, s->hdr, ISCSI_BHS_LEN);
	if ((s->hdr[0] & ISCSI_OP_MASK) == ISCSI_OP_DATA_IN) {
		struct iscsi_bhs *h = (struct iscsi_bhs *)ctl->out.hdr;

		memset(ctl->out.hdr, 0, ISCSI_BHS_LEN);
		h->opcode = ISCSI_OP_SCSI_RSP;
		h->flags = ISCSI_FLAG_FINAL | (s->hdr[1] & 0x06); /* O, U */
		ctl->out.hdr[3] = s->hdr[3];                       /* status */
		memcpy(ctl->out.hdr + 16, s->hdr + 16, 4);         /* ITT */
		memcpy(ctl->out.hdr + 24, s->hdr + 24, 4);         /* StatSN */
		memcpy(ctl->out.hdr + 44, s->hdr + 44, 4);         /* residual count */
	}
	/* same StatSN; ExpCmdSN and MaxCmdSN as they are now */
	put_be32(ctl->out.hdr + 28, c->sess->exp_cmd_sn);
	put_be32(ctl->out.hdr + 32, iscsi_sess_max_cmd_sn(c->sess));
	data = iscsi_ctl_data(c, ctl, s->data_len);
	if (s->data_len)
		memcpy(data, s->data, s->data_len);
	iscsi_ctl_send(c, ctl, s->data_len);
	return 0;
}

/* Status SNACK: BegRun is the first StatSN wanted, RunLength the count (0: all after it). */
static int recovery_status_snack(struct iscsi_conn *c, const uint8_t *bhs)
{
	uint32_t beg = get_be32(bhs + 40), run = get_be32(bhs + 44);
	uint32_t exp = get_be32(bhs + 28), sent = c->stat_sn - beg;

	if (sn_lt(beg, exp) || !sn_lt(beg, c->stat_sn) || run > sent || sent > RTX_SLOTS)
		return -EINVAL; /* acknowledged, never sent, or past the end */
	if (!run)
		run = sent;
	if (run + 2 > c->free_ctl_count)
		return -ENOBUFS; /* one SNACK resends at most what the control pool holds */
	for (uint32_t i = 0; i < run; i++) {
		int ret = recovery_status_resend(c, beg + i);

		if (ret)
			return ret;
	}
	return 0;
}

/*
 * R2T SNACK: the initiator lost the outstanding R2T of a write (one at a time here). It is
 * sent again as it was (same R2TSN, TTT, offset and length) while none of its data came.
 */
static int recovery_r2t_snack(struct iscsi_conn *c, const uint8_t *bhs)
{
	struct iscsi_task *t = iscsi_task_find_itt(c, get_be32(bhs + 16));
	uint32_t beg = get_be32(bhs + 40), run = get_be32(bhs + 44);
	struct iscsi_r2t_hdr *h;
	struct iscsi_ctl *ctl;

	if (!t || t->kind != ISCSI_TASK_SCSI || t->state != ISCSI_TASK_DATA ||
	    t->cmd.dir != SCSI_DIR_WRITE)
		return -EOPNOTSUPP; /* Data SNACK (a read): no Data-In kept */
	if (!t->r2t_active || t->dout_recover || t->fail_asc || beg != t->r2t_sn - 1 || run > 1 ||
	    t->data_got != t->r2t_offset || t->exp_data_sn)
		return -EINVAL;
	ctl = iscsi_ctl_get(c);
	if (!ctl)
		return -ENOMEM;
	h = (struct iscsi_r2t_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_R2T, ISCSI_FLAG_FINAL, 0, t->itt);
	iscsi_lun_encode(h->lun, t->cmd.lun);
	put_be32(h->ttt, t->ttt);
	iscsi_conn_fill_sn(c, ctl->out.hdr, false);
	put_be32(h->r2t_sn, beg);
	put_be32(h->offset, t->r2t_offset);
	put_be32(h->desired_len, t->r2t_len);
	iscsi_ctl_send(c, ctl, 0);
	return 0;
}

/* ---- Data-In kept after the status (ERL >= 1): Data SNACK, R-Data SNACK, DataACK ---- */

/*
 * Bound on what is kept per connection: beyond it (or when a new command finds the task
 * pool empty) the oldest parked read is dropped, and a later SNACK for it is rejected.
 */
#define PARK_TASKS_MAX 16u
#define PARK_BYTES_MAX (16u << 20)

/* Releases the oldest parked task not resending. Returns false when none could go. */
static bool recovery_drop_oldest(struct iscsi_conn *c)
{
	struct iscsi_task *t;

	list_for_each_entry(t, &c->parked, entry) {
		if (!t->outs_busy) {
			conn_dbg(c, "ITT 0x%x: Data-In no longer kept (bound)", t->itt);
			iscsi_task_release(t);
			return true;
		}
	}
	return false;
}

/* The last PDU of an answered read left: keep it for Data SNACK (true) or not (false). */
bool iscsi_recovery_park(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;

	if (!c->rtx || !t->din_total || !t->din_seg || t->aborted || t->zombie || t->tmf ||
	    t->reassign || t->kind != ISCSI_TASK_SCSI || c->state == ISCSI_CONN_CLOSED ||
	    t->din_acked == t->din_sn || t->din_total > PARK_BYTES_MAX)
		return false;
	while (c->nr_parked >= PARK_TASKS_MAX || c->parked_bytes + t->din_total > PARK_BYTES_MAX)
		if (!recovery_drop_oldest(c))
			return false;
	list_del(&t->entry);
	list_add_tail(&t->entry, &c->parked);
	t->parked = true;
	t->rs_next = t->rs_end = 0;
	c->nr_parked++;
	c->parked_bytes += t->din_total;
	return true;
}

/* iscsi_task_release of a parked task: back on conn->tasks, which the release leaves. */
void iscsi_recovery_unpark(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;

	list_del(&t->entry);
	list_add_tail(&t->entry, &c->tasks);
	t->parked = false;
	c->nr_parked--;
	c->parked_bytes -= t->din_total;
}

/* A new command found the task pool empty: make room. */
bool iscsi_recovery_reclaim(struct iscsi_conn *c)
{
	return recovery_drop_oldest(c) && !list_empty(&c->free_tasks);
}

/* ExpStatSN of an incoming PDU: the statuses below it arrived with all their data. */
void iscsi_recovery_exp_stat_sn(struct iscsi_conn *c, uint32_t exp_stat_sn)
{
	struct iscsi_task *t, *tmp;

	list_for_each_entry_safe(t, tmp, &c->parked, entry) {
		if (sn_lt(t->status_sn, exp_stat_sn))
			iscsi_task_release(t);
	}
}

void iscsi_recovery_drop_all(struct iscsi_conn *c)
{
	struct iscsi_task *t, *tmp;

	list_for_each_entry_safe(t, tmp, &c->parked, entry)
		iscsi_task_release(t); /* one resending goes when its PDUs come back */
}

static struct iscsi_task *recovery_parked_find(struct iscsi_conn *c, uint32_t itt, uint32_t ttt)
{
	struct iscsi_task *t;

	list_for_each_entry(t, &c->parked, entry) {
		if (t->zombie)
			continue;
		if (ttt == ISCSI_RSVD_TAG ? t->itt == itt : t->ttt == ttt)
			return t;
	}
	return NULL;
}

/* Length of the Data-In PDU at offset off, bu bytes into its sequence, as first cut. */
static uint32_t recovery_din_len(const struct iscsi_task *t, uint32_t off, uint32_t bu)
{
	uint32_t burst = t->conn->sess->p.v[ISCSI_PARAM_MAX_BURST];

	return MIN(MIN(t->din_seg, t->din_total - off), burst - bu);
}

/* Walks n Data-In PDUs from (*off, *bu). */
static void recovery_din_seek(const struct iscsi_task *t, uint32_t n, uint32_t *off, uint32_t *bu)
{
	uint32_t burst = t->conn->sess->p.v[ISCSI_PARAM_MAX_BURST];

	for (uint32_t i = 0; i < n && *off < t->din_total; i++) {
		uint32_t len = recovery_din_len(t, *off, *bu);

		*off += len;
		*bu = *off == t->din_total || *bu + len == burst ? 0 : *bu + len;
	}
}

/* One resent Data-In: same cut as the first time (or the new one after an R-Data SNACK). */
static void recovery_din_build(struct iscsi_task *t, struct iscsi_out *o)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_data_hdr *h = (struct iscsi_data_hdr *)o->hdr;
	uint32_t burst = c->sess->p.v[ISCSI_PARAM_MAX_BURST];
	uint32_t len = recovery_din_len(t, t->rs_next, t->rs_burst);
	uint32_t off = t->rs_next;
	bool end = t->rs_next + len == t->din_total;
	bool burst_end = end || t->rs_burst + len == burst;
	uint8_t flags = burst_end ? ISCSI_FLAG_FINAL | ISCSI_DIN_ACK : 0;

	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_DATA_IN, 0, len, t->itt);
	iscsi_lun_encode(h->lun, t->cmd.lun);
	put_be32(h->ttt, burst_end ? t->ttt : ISCSI_RSVD_TAG);
	iscsi_conn_fill_sn(c, o->hdr, false);
	if (end && t->cmd.status == SAM_STAT_GOOD && !t->rs_rdata) {
		uint32_t residual;
		uint8_t rflags;

		iscsi_task_residual(t, &rflags, &residual);
		flags |= ISCSI_DIN_STATUS | rflags;
		h->status = SAM_STAT_GOOD;
		put_be32(h->residual, residual);
		put_be32(h->stat_sn, t->status_sn); /* the StatSN it had */
	}
	h->flags = flags;
	t->rs_next += len;
	t->rs_burst = burst_end ? 0 : t->rs_burst + len;
	iscsi_datain_send(t, o, t->rs_sn++, off, len);
}

/* After an R-Data SNACK: the status again, with the SNACK Tag and the new ExpDataSN. */
static void recovery_rdata_rsp(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_ctl *ctl = iscsi_ctl_get(c);
	struct iscsi_scsi_rsp_hdr *h;
	uint32_t residual;
	uint8_t rflags;

	t->rs_rdata = false;
	if (!ctl) {
		conn_dbg(c, "ITT 0x%x: no PDU for the R-Data SNACK response", t->itt);
		return;
	}
	h = (struct iscsi_scsi_rsp_hdr *)ctl->out.hdr;
	iscsi_task_residual(t, &rflags, &residual);
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_SCSI_RSP, ISCSI_FLAG_FINAL | rflags, 0,
		       t->itt);
	h->status = t->cmd.status;
	iscsi_conn_fill_sn(c, ctl->out.hdr, false);
	put_be32(h->stat_sn, t->status_sn);
	put_be32(h->snack_tag, t->rs_tag);
	put_be32(h->exp_data_sn, t->din_sn);
	put_be32(h->residual, residual);
	iscsi_ctl_send(c, ctl, 0);
}

/* Queues the PDUs being resent while the task has header slots. */
static void recovery_resend_fill(struct iscsi_task *t)
{
	while (t->rs_next < t->rs_end && t->conn->state != ISCSI_CONN_CLOSED) {
		struct iscsi_out *o = iscsi_task_out_get(t);

		if (!o)
			return;
		recovery_din_build(t, o);
	}
	if (t->rs_rdata && t->rs_next >= t->rs_end) {
		t->din_sn = t->rs_sn; /* the DataSNs now follow the new cut */
		recovery_rdata_rsp(t);
	}
}

/* A resent Data-In of a parked task left (task_out_sent). */
void iscsi_recovery_sent(struct iscsi_task *t)
{
	recovery_resend_fill(t);
}

/* Data SNACK (§11.16.1) of a parked read: DataSN BegRun..BegRun+RunLength-1 (0: to the end). */
static int recovery_din_snack(struct iscsi_task *t, const uint8_t *bhs)
{
	uint32_t beg = get_be32(bhs + 40), run = get_be32(bhs + 44);
	uint32_t off = 0, bu = 0;

	if (t->outs_busy)
		return -EBUSY; /* one resend at a time */
	if (beg < t->din_acked || beg >= t->din_sn || run > t->din_sn - beg)
		return -EINVAL; /* acknowledged, never sent or past the end */
	if (!run)
		run = t->din_sn - beg;
	recovery_din_seek(t, beg, &off, &bu);
	t->rs_next = off;
	t->rs_burst = bu;
	t->rs_sn = beg;
	recovery_din_seek(t, run, &off, &bu);
	t->rs_end = off;
	t->rs_rdata = false;
	recovery_resend_fill(t);
	return 0;
}

static int recovery_data_snack(struct iscsi_conn *c, const uint8_t *bhs)
{
	struct iscsi_task *t = recovery_parked_find(c, get_be32(bhs + 16), ISCSI_RSVD_TAG);

	return t ? recovery_din_snack(t, bhs) : recovery_r2t_snack(c, bhs);
}

/*
 * R-Data SNACK (§11.16.3): everything not acknowledged by a DataACK again, cut with the
 * current MaxRecvDataSegmentLength, DataSN from the acknowledged point; then the status
 * in a SCSI Response carrying the SNACK Tag. BegRun and RunLength are 0.
 */
static int recovery_rdata_snack(struct iscsi_conn *c, const uint8_t *bhs)
{
	struct iscsi_task *t = recovery_parked_find(c, get_be32(bhs + 16), ISCSI_RSVD_TAG);
	uint32_t off = 0, bu = 0;

	if (!t || t->cmd.status != SAM_STAT_GOOD)
		return -ENOENT; /* not kept (the status of a CHECK CONDITION: Status SNACK) */
	if (t->outs_busy)
		return -EBUSY;
	if (get_be32(bhs + 40) || get_be32(bhs + 44))
		return -EINVAL;
	recovery_din_seek(t, t->din_acked, &off, &bu);
	t->din_seg = c->max_xmit_dsl;
	t->rs_next = off;
	t->rs_burst = 0; /* an acknowledged point ends a sequence (A bit) */
	t->rs_sn = t->din_acked;
	t->rs_end = t->din_total;
	t->rs_rdata = true;
	t->rs_tag = get_be32(bhs + 20);
	recovery_resend_fill(t);
	return 0;
}

/* DataACK (§11.16.2): TTT of a Data-In with the A bit; BegRun: the DataSN expected next. */
static int recovery_data_ack(struct iscsi_conn *c, const uint8_t *bhs)
{
	uint32_t ttt = get_be32(bhs + 20), beg = get_be32(bhs + 40);
	struct iscsi_task *t;

	if (ttt == ISCSI_RSVD_TAG || get_be32(bhs + 44))
		return -EINVAL;
	t = recovery_parked_find(c, 0, ttt);
	if (!t)
		return -ENOENT; /* unknown, freed, or still sending (acknowledged with its status) */
	if (beg < t->din_acked || beg > t->din_sn) /* DataSN do not wrap within a task */
		return -EINVAL;
	t->din_acked = beg;
	if (beg == t->din_sn && !t->outs_busy)
		iscsi_task_release(t); /* all of it acknowledged */
	return 0;
}

/*
 * A SNACK (§11.16). Below ERL 1 it is rejected; so is a SNACK for something not kept
 * (dropped by the bound, freed by ExpStatSN or DataACK) or never sent.
 */
int iscsi_recovery_snack(struct iscsi_conn *c, const uint8_t *bhs)
{
	uint8_t type = bhs[1] & 0x0f;
	int ret = -EOPNOTSUPP;

	if (c->rtx && type == SNACK_STATUS)
		ret = recovery_status_snack(c, bhs);
	else if (c->rtx && type == SNACK_DATA_R2T)
		ret = recovery_data_snack(c, bhs);
	else if (c->rtx && type == SNACK_RDATA)
		ret = recovery_rdata_snack(c, bhs);
	else if (c->rtx && type == SNACK_DATA_ACK)
		ret = recovery_data_ack(c, bhs);
	if (ret) {
		conn_dbg(c, "SNACK type %u BegRun %u RunLength %u: rejected (%d)", type,
			 get_be32(bhs + 40), get_be32(bhs + 44), ret);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_PROTOCOL);
	}
	return 0;
}
