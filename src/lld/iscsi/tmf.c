/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Task management (§11.5, §11.6, SAM-5 §7): every function of RFC 7143. A task the core holds
 * is marked aborted and the response waits until its completion comes back (it is then
 * dropped without a SCSI response); tasks waiting for their CmdSN or for Data-Out are
 * released at once. Other I_T nexuses hear of resets and cleared task sets through the
 * core (unit attentions, abort_lu). TARGET COLD RESET also closes every session of the
 * target, this one after its response. TASK REASSIGN needs ErrorRecoveryLevel 2.
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
	if (tmf->waiting && --tmf->waiting == 0 && tmf->tmf_pending) {
		tmf->tmf_pending = false;
		tmf_send(c, tmf);
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

	if (c->sess) {
		list_for_each_entry_safe(t, tmp, &c->sess->pending, entry) {
			if (tmf_in_scope(t, sc))
				iscsi_task_abort(t, tmf);
		}
	}
	list_for_each_entry_safe(t, tmp, &c->tasks, entry) {
		if (tmf_in_scope(t, sc))
			iscsi_task_abort(t, tmf);
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
	struct iscsi_task *t = iscsi_task_find_itt(c, get_be32(req->rtt));
	uint32_t ref = get_be32(req->sn32), own = get_be32(req->sn24);
	struct iscsi_sess *s = c->sess;

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

static uint8_t tmf_dispatch(struct iscsi_conn *c, const struct iscsi_tmf_hdr *req,
			    struct iscsi_ctl *ctl)
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
		/* allegiance reassignment is an ERL 2 feature (§11.5.1, §7.2.2) */
		if (c->sess->p.v[ISCSI_PARAM_ERL] < 2)
			return ISCSI_TMF_RSP_NO_REASSIGN;
		return ISCSI_TMF_RSP_NOT_SUPPORTED;
	default:
		return ISCSI_TMF_RSP_REJECTED;
	}
}

int iscsi_tmf_rx(struct iscsi_conn *c, const uint8_t *bhs)
{
	const struct iscsi_tmf_hdr *req = (const struct iscsi_tmf_hdr *)bhs;
	struct iscsi_ctl *ctl = iscsi_ctl_get(c);
	struct iscsi_tmf_hdr *h;
	uint8_t rsp;

	if (!ctl)
		return -ENOMEM;
	h = (struct iscsi_tmf_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_TMF_RSP, ISCSI_FLAG_FINAL, 0,
		       get_be32(req->itt));
	rsp = c->sess->discovery ? ISCSI_TMF_RSP_REJECTED : tmf_dispatch(c, req, ctl);
	conn_dbg(c, "TMF function %u ITT 0x%x RTT 0x%x: response %u", req->flags & 0x7f,
		 get_be32(req->itt), get_be32(req->rtt), rsp);
	tmf_finish(c, ctl, rsp);
	return 0;
}
