/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ErrorRecoveryLevel 1 within a connection (RFC 7143 §7.8): a Data-Out whose data digest
 * fails is rejected and discarded, the rest of its sequence is dropped, and once the sequence
 * ends (F bit or its last byte) a recovery R2T asks again for everything from the first
 * missing byte. Below ERL 1 the caller fails the task instead (CRC error sense).
 * SNACK (§11.16): Status SNACK from a ring of the last responses (kept at ERL >= 1 only) and
 * R2T SNACK for the outstanding R2T; Data SNACK of reads, DataACK and R-Data are rejected.
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

/*
 * A SNACK (§11.16). Below ERL 1, and for the kinds not implemented yet (Data SNACK of a read,
 * DataACK, R-Data), it is rejected; so is a SNACK for something not kept or never sent.
 */
int iscsi_recovery_snack(struct iscsi_conn *c, const uint8_t *bhs)
{
	uint8_t type = bhs[1] & 0x0f;
	int ret = -EOPNOTSUPP;

	if (c->rtx && type == SNACK_STATUS)
		ret = recovery_status_snack(c, bhs);
	else if (c->rtx && type == SNACK_DATA_R2T)
		ret = recovery_r2t_snack(c, bhs);
	if (ret) {
		conn_dbg(c, "SNACK type %u BegRun %u RunLength %u: rejected (%d)", type,
			 get_be32(bhs + 40), get_be32(bhs + 44), ret);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_PROTOCOL);
	}
	return 0;
}
