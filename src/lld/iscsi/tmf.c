/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Task management (§11.5, §11.6, SAM-5 §7): every function of RFC 7143. A task the core holds
 * is marked aborted and the response waits until its completion comes back (it is then
 * dropped without a SCSI response); tasks waiting for their CmdSN or for Data-Out are
 * released at once. Other I_T nexuses hear of resets and cleared task sets through the
 * core (unit attentions, abort_lu). TARGET COLD RESET also closes every session of the
 * target, this one after its response. TASK REASSIGN (ERL 2) moves a task of a failed
 * connection, kept until Time2Retain (session.c), to the connection it arrives on: a write
 * asks for its missing data with an R2T, a finished command sends its Data-In from ExpDataSN
 * and its status; one still in the core moves when it completes.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TMF_MAX_LUNS 1024

static void tmf_send(struct iscsi_conn *c, struct iscsi_ctl *ctl)
{
	iscsi_conn_fill_sn(c, ctl->out.hdr, true);
	iscsi_ctl_send(c, ctl, 0);
}

static void tmf_finish(struct iscsi_conn *c, struct iscsi_ctl *ctl, uint8_t response)
{
	struct iscsi_tmf_hdr *h = (struct iscsi_tmf_hdr *)ctl->out.hdr;

	h->response = response;
	if (ctl->waiting) {
		ctl->tmf_pending = true; /* tmf_task_done sends it */
		return;
	}
	tmf_send(c, ctl);
}

void iscsi_tmf_task_done(struct iscsi_conn *c, struct iscsi_ctl *tmf)
{
	(void)c; /* the task may live on another connection of the session than the TMF */
	if (tmf->waiting && --tmf->waiting == 0 && tmf->tmf_pending) {
		tmf->tmf_pending = false;
		tmf_send(tmf->conn, tmf);
	}
}

/* Which tasks a function aborts: every one, or one LU's, optionally only older ones. */
struct tmf_scope {
	bool all;
	bool before;             /* only tasks with reset_gen < gen */
	uint64_t lun;
	unsigned int gen;
};

static bool tmf_in_scope(const struct iscsi_task *t, const struct tmf_scope *sc)
{
	if (t->kind != ISCSI_TASK_SCSI)
		return false;
	if (sc->before && (int)(t->reset_gen - sc->gen) >= 0)
		return false; /* arrived after the reset */
	return sc->all || t->cmd.lun == sc->lun;
}

static void tmf_abort_matching(struct iscsi_conn *c, const struct tmf_scope *sc,
			       struct iscsi_ctl *tmf)
{
	struct iscsi_task *t, *tmp;
	struct iscsi_conn *o;

	if (!c->sess) {
		list_for_each_entry_safe(t, tmp, &c->tasks, entry) {
			if (tmf_in_scope(t, sc))
				iscsi_task_abort(t, tmf);
		}
		return;
	}
	list_for_each_entry_safe(t, tmp, &c->sess->pending, entry) {
		if (tmf_in_scope(t, sc))
			iscsi_task_abort(t, tmf);
	}
	/* the task set is the session's: every connection's tasks (MC/S) */
	list_for_each_entry(o, &c->sess->conns, sess_entry) {
		list_for_each_entry_safe(t, tmp, &o->tasks, entry) {
			if (tmf_in_scope(t, sc))
				iscsi_task_abort(t, tmf);
		}
	}
}

void iscsi_tmf_abort_lun(struct iscsi_conn *c, uint64_t lun, struct iscsi_ctl *tmf)
{
	struct tmf_scope sc = { .lun = lun };

	tmf_abort_matching(c, &sc, tmf);
}

void iscsi_tmf_abort_lun_before(struct iscsi_conn *c, uint64_t lun, unsigned int gen)
{
	struct tmf_scope sc = { .before = true, .lun = lun, .gen = gen };

	tmf_abort_matching(c, &sc, NULL);
}

/*
 * ABORT TASK (§11.5.1): an unknown RTT whose RefCmdSN lies in the window before the TMF's
 * own CmdSN counts as received (b); outside it, "Task does not exist" (c).
 */
static uint8_t tmf_abort_task(struct iscsi_conn *c, const struct iscsi_tmf_hdr *req,
			      struct iscsi_ctl *ctl)
{
	struct iscsi_sess *s = c->sess;
	struct iscsi_task *t = iscsi_sess_find_itt(s, get_be32(req->rtt));
	uint32_t ref = get_be32(req->sn32), own = get_be32(req->sn24);

	if (!t || t->state == ISCSI_TASK_TX) {
		if (t || sn_lt(ref, s->exp_cmd_sn) || !sn_lt(ref, own) ||
		    sn_gt(ref, iscsi_sess_max_cmd_sn(s)))
			return ISCSI_TMF_RSP_NO_TASK;
		if (ref == s->exp_cmd_sn) {
			/* the lost command is taken as received: its gap no longer holds others */
			iscsi_sess_cmd_sn_advance(s);
			iscsi_sess_deliver_pending(s);
		}
		return ISCSI_TMF_RSP_COMPLETE;
	}
	if (t->cmd.lun != iscsi_lun_decode(req->lun))
		return ISCSI_TMF_RSP_NO_TASK;
	iscsi_task_abort(t, ctl);
	return ISCSI_TMF_RSP_COMPLETE;
}

/* CLEAR TASK SET: the task set is shared, so other nexuses lose their tasks too (2F/00). */
static void tmf_clear_others(struct iscsi_sess *s, uint64_t lun)
{
	struct core_target *tgt = s->tgt;
	struct core_nexus *n;

	core_ua_add_all(tgt, s->nexus, lun, ASC_COMMANDS_CLEARED_BY_OTHER);
	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry) {
		if (n != s->nexus && n->ops && n->ops->abort_lu)
			n->ops->abort_lu(n, lun);
	}
	pthread_rwlock_unlock(&tgt->lock);
}

/* SAM-5 §5.12.4: the reset's unit attention goes to every I_T nexus, this one included. */
static void tmf_lu_reset(struct iscsi_sess *s, struct core_lu *lu)
{
	core_lu_reset(lu, s->nexus);
	core_ua_add(s->nexus, lu->lun, ASC_BUS_DEVICE_RESET);
}

static uint8_t tmf_lun(struct iscsi_conn *c, uint8_t func, uint64_t lun, struct iscsi_ctl *ctl)
{
	struct core_lu *lu = core_lu_get(c->sess->tgt, lun);

	if (!lu)
		return ISCSI_TMF_RSP_NO_LUN;
	switch (func) {
	case ISCSI_TMF_CLEAR_ACA:
		break; /* NACA is never set: there is no ACA to clear (SAM-5 §7.3) */
	case ISCSI_TMF_ABORT_TASK_SET:
		iscsi_tmf_abort_lun(c, lun, ctl);
		break;
	case ISCSI_TMF_CLEAR_TASK_SET:
		iscsi_tmf_abort_lun(c, lun, ctl);
		tmf_clear_others(c->sess, lun);
		break;
	default: /* LOGICAL UNIT RESET */
		iscsi_tmf_abort_lun(c, lun, ctl);
		tmf_lu_reset(c->sess, lu);
		break;
	}
	core_lu_put(lu);
	return ISCSI_TMF_RSP_COMPLETE;
}

/* Closes every other session of the target (cold reset, §11.5.1). */
static void tmf_close_others(struct iscsi_sess *s)
{
	struct core_target *tgt = s->tgt;
	struct core_nexus *n;

	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry) {
		if (n != s->nexus && n->ops && n->ops->close)
			n->ops->close(n, 0, true);
	}
	pthread_rwlock_unlock(&tgt->lock);
}

/* TARGET WARM/COLD RESET: every task of this session, then a reset of every LU. */
static uint8_t tmf_target_reset(struct iscsi_conn *c, uint8_t func, struct iscsi_ctl *ctl)
{
	struct iscsi_sess *s = c->sess;
	uint64_t *luns = calloc(TMF_MAX_LUNS, sizeof(*luns));
	unsigned int nr;
	struct tmf_scope sc = { .all = true };

	if (!luns)
		return ISCSI_TMF_RSP_REJECTED;
	tmf_abort_matching(c, &sc, ctl);
	nr = core_target_luns(s->tgt, luns, TMF_MAX_LUNS);
	for (unsigned int i = 0; i < nr; i++) {
		struct core_lu *lu = core_lu_get(s->tgt, luns[i]);

		if (lu) {
			tmf_lu_reset(s, lu);
			core_lu_put(lu);
		}
	}
	free(luns);
	if (func == ISCSI_TMF_COLD_RESET) {
		tmf_close_others(s);
		ctl->close_after = true; /* drop this connection once the response left */
	}
	return ISCSI_TMF_RSP_COMPLETE;
}

/* ---- TASK REASSIGN (§7.2.2, §11.5.1) ---- */

/* Data-In of the old connection up to DataSN sn: where the retransmission starts. */
static void tmf_din_seek(struct iscsi_task *n, const struct iscsi_task *t, uint32_t sn)
{
	uint32_t total = MIN(MIN(t->cmd.in_len, t->edtl), t->cmd.buf_len);
	uint32_t burst = t->conn->sess->p.v[ISCSI_PARAM_MAX_BURST], off = 0, in_burst = 0;
	uint32_t i;

	for (i = 0; i < sn && off < total; i++) {
		uint32_t len = MIN(MIN(t->conn->max_xmit_dsl, total - off), burst - in_burst);

		off += len;
		in_burst = off == total || in_burst + len == burst ? 0 : in_burst + len;
	}
	/* everything acknowledged: only the status goes again */
	n->din_next = off;
	n->din_sn = i;
	n->din_burst = in_burst;
}

/* A copy of t in the pool of nc takes its place; t goes back to its own pool. */
static struct iscsi_task *tmf_task_move(struct iscsi_task *t, struct iscsi_conn *nc)
{
	struct iscsi_conn *old = t->conn;
	struct iscsi_task *n = iscsi_task_get(nc);

	if (!n)
		return NULL;
	n->cmd = t->cmd;
	memcpy(n->cdb, t->cdb, sizeof(n->cdb));
	n->cmd.cdb = n->cdb;
	n->cmd.buf = t->cmd.buf;
	n->buf_cap = t->buf_cap;
	n->state = t->state;
	n->itt = t->itt;
	n->cmd_sn = t->cmd_sn;
	n->immediate = t->immediate;
	n->delivered = true;
	n->counted = t->counted;
	n->edtl = t->edtl;
	n->data_got = t->data_got;
	n->unsol_len = t->unsol_len;
	n->r2t_sn = t->r2t_sn;
	n->fail_asc = t->fail_asc;
	n->fail_key = t->fail_key;
	n->rx_ns = t->rx_ns;
	tmf_din_seek(n, t, t->reassign_sn);
	iscsi_task_hash_add(n);
	t->cmd.buf = NULL;
	t->buf_cap = 0;
	t->counted = false; /* the window slot moves with it */
	t->tmf = NULL;
	iscsi_task_release(t);
	if (old->retained && old->free_task_count == old->nr_tasks && !old->core_busy)
		iscsi_sess_retain_end(old); /* nothing left to reassign */
	return n;
}

/*
 * The task continues on its new connection (after the TMF response). One that still waited
 * for its CmdSN when its connection failed waits for it again, or goes now if it was passed.
 */
static void tmf_task_restart(struct iscsi_task *n)
{
	if (n->state == ISCSI_TASK_DATA || n->state == ISCSI_TASK_PENDING) {
		n->r2t_active = false;
		n->unsol_done = true;
		n->exp_data_sn = 0;
		if (n->state == ISCSI_TASK_PENDING)
			iscsi_sess_task_readmit(n->conn->sess, n);
		else
			iscsi_task_progress(n); /* R2T for what did not arrive, or execution */
		return;
	}
	iscsi_task_respond(n);
}

static uint8_t tmf_reassign(struct iscsi_conn *c, const struct iscsi_tmf_hdr *req,
			    struct iscsi_ctl *ctl, struct iscsi_task **restart)
{
	struct iscsi_sess *s = c->sess;
	uint32_t rtt = get_be32(req->rtt);
	struct iscsi_task *t = NULL;
	struct iscsi_conn *o;

	if (s->p.v[ISCSI_PARAM_ERL] < 2)
		return ISCSI_TMF_RSP_NO_REASSIGN; /* an ERL 2 feature (§7.2.2) */
	if (iscsi_sess_find_itt(s, rtt))
		return ISCSI_TMF_RSP_STILL_ALLEGIANT; /* its connection is alive */
	list_for_each_entry(o, &s->retained, sess_entry) {
		t = iscsi_task_find_itt(o, rtt);
		if (t)
			break;
	}
	if (!t || t->aborted || t->cmd.lun != iscsi_lun_decode(req->lun))
		return ISCSI_TMF_RSP_NO_TASK;
	if (t->tmf)
		return ISCSI_TMF_RSP_REJECTED; /* a reassignment is under way */
	t->reassign_sn = get_be32(req->exp_data_sn);
	if (t->state == ISCSI_TASK_CORE) {
		t->reassign = true; /* moved at its completion, then the response goes */
		t->tmf = ctl;
		ctl->waiting++;
		return ISCSI_TMF_RSP_COMPLETE;
	}
	*restart = tmf_task_move(t, c);
	return *restart ? ISCSI_TMF_RSP_COMPLETE : ISCSI_TMF_RSP_REJECTED;
}

void iscsi_tmf_reassign_done(struct iscsi_task *t)
{
	struct iscsi_ctl *ctl = t->tmf;
	struct iscsi_conn *nc = ctl->conn;
	struct iscsi_task *n;

	t->reassign = false;
	n = tmf_task_move(t, nc);
	if (!n) {
		((struct iscsi_tmf_hdr *)ctl->out.hdr)->response = ISCSI_TMF_RSP_REJECTED;
		t->tmf = NULL;
	}
	iscsi_tmf_task_done(nc, ctl); /* the TMF response first */
	if (n)
		tmf_task_restart(n);
}

static uint8_t tmf_dispatch(struct iscsi_conn *c, const struct iscsi_tmf_hdr *req,
			    struct iscsi_ctl *ctl, struct iscsi_task **restart)
{
	uint8_t func = req->flags & 0x7f;

	switch (func) {
	case ISCSI_TMF_ABORT_TASK:
		return tmf_abort_task(c, req, ctl);
	case ISCSI_TMF_ABORT_TASK_SET:
	case ISCSI_TMF_CLEAR_ACA:
	case ISCSI_TMF_CLEAR_TASK_SET:
	case ISCSI_TMF_LU_RESET:
		return tmf_lun(c, func, iscsi_lun_decode(req->lun), ctl);
	case ISCSI_TMF_WARM_RESET:
	case ISCSI_TMF_COLD_RESET:
		return tmf_target_reset(c, func, ctl);
	case ISCSI_TMF_TASK_REASSIGN:
		return tmf_reassign(c, req, ctl, restart);
	default:
		return ISCSI_TMF_RSP_REJECTED;
	}
}

int iscsi_tmf_rx(struct iscsi_conn *c, const uint8_t *bhs)
{
	const struct iscsi_tmf_hdr *req = (const struct iscsi_tmf_hdr *)bhs;
	struct iscsi_ctl *ctl = iscsi_ctl_get(c);
	struct iscsi_task *restart = NULL;
	struct iscsi_tmf_hdr *h;
	uint8_t rsp;

	if (!ctl)
		return -ENOMEM;
	h = (struct iscsi_tmf_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_TMF_RSP, ISCSI_FLAG_FINAL, 0,
		       get_be32(req->itt));
	rsp = c->sess->discovery ? ISCSI_TMF_RSP_REJECTED : tmf_dispatch(c, req, ctl, &restart);
	conn_dbg(c, "TMF function %u ITT 0x%x RTT 0x%x: response %u", req->flags & 0x7f,
		 get_be32(req->itt), get_be32(req->rtt), rsp);
	tmf_finish(c, ctl, rsp);
	if (restart)
		tmf_task_restart(restart);
	return 0;
}
