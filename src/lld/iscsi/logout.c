/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logout (§11.14, §11.15). Closing the session (reason 0: every connection) or this
 * connection (reason 1) terminates its tasks: the ones the core holds are aborted and the
 * response waits for them, so the Logout Response is the last PDU on the connection; then it
 * drains and closes. Reason 1 naming another connection of the session closes that one and
 * answers here. Removing a connection for recovery (reason 2) needs ERL 2.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>

static void logout_send(struct iscsi_conn *c, struct iscsi_ctl *ctl)
{
	iscsi_conn_fill_sn(c, ctl->out.hdr, true);
	iscsi_ctl_send(c, ctl, 0);
}

void iscsi_logout_check(struct iscsi_conn *c)
{
	struct iscsi_ctl *ctl = c->logout_rsp;

	if (!c->logout_pending || c->core_busy)
		return;
	c->logout_pending = false;
	c->logout_rsp = NULL;
	logout_send(c, ctl);
}

/* Reason 1 or 2 naming another connection of the session: it goes, we answer. */
static void logout_other(struct iscsi_conn *c, struct iscsi_logout_hdr *h, uint16_t cid,
			 uint8_t reason)
{
	struct iscsi_conn *o = iscsi_sess_conn_find(c->sess, cid);

	if (!o) {
		h->response = ISCSI_LOGOUT_RSP_NO_CID;
		return;
	}
	h->response = ISCSI_LOGOUT_RSP_OK;
	o->no_retain = reason != ISCSI_LOGOUT_RECOVERY; /* reason 2: its tasks wait (ERL 2) */
	iscsi_conn_close(o, "logged out from another connection");
}

/* Reason 0 or 1 for this connection: its tasks end, the response waits for the core. */
static void logout_close(struct iscsi_conn *c, struct iscsi_ctl *ctl, uint8_t reason)
{
	struct iscsi_task *t, *tmp;

	conn_dbg(c, "logout (reason %u)", reason);
	c->no_retain = true;
	reactor_timer_cancel(c->reactor, &c->nop_timer);
	if (c->sess && reason == ISCSI_LOGOUT_SESSION)
		iscsi_sess_close_conns(c->sess, c, "session logged out");
	if (c->sess) {
		list_for_each_entry_safe(t, tmp, &c->sess->pending, entry) {
			if (t->conn == c)
				iscsi_task_abort(t, NULL);
		}
	}
	list_for_each_entry_safe(t, tmp, &c->tasks, entry) {
		if (t->kind == ISCSI_TASK_SCSI)
			iscsi_task_abort(t, NULL);
	}
	c->logout_pending = true;
	c->logout_rsp = ctl;
	iscsi_logout_check(c);
}

int iscsi_logout_rx(struct iscsi_conn *c, const uint8_t *bhs)
{
	const struct iscsi_logout_hdr *req = (const struct iscsi_logout_hdr *)bhs;
	uint8_t reason = req->flags & 0x7f;
	uint16_t cid = get_be16(req->cid);
	struct iscsi_ctl *ctl;
	struct iscsi_logout_hdr *h;
	bool erl2 = c->sess && c->sess->p.v[ISCSI_PARAM_ERL] >= 2;

	if (c->logout_pending)
		return 0; /* one is enough */
	ctl = iscsi_ctl_get(c);
	if (!ctl)
		return -ENOMEM;
	h = (struct iscsi_logout_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_LOGOUT_RSP, ISCSI_FLAG_FINAL, 0,
		       get_be32(req->itt));
	if (c->sess && !c->sess->discovery) {
		/* how long the initiator waits and we keep the tasks (§11.15.2, §11.15.3) */
		put_be16(h->time2wait, (uint16_t)c->sess->p.v[ISCSI_PARAM_TIME2WAIT]);
		put_be16(h->time2retain,
			 erl2 ? (uint16_t)c->sess->p.v[ISCSI_PARAM_TIME2RETAIN] : 0);
	}
	if (reason == ISCSI_LOGOUT_RECOVERY && !erl2) {
		h->response = ISCSI_LOGOUT_RSP_NO_RECOVERY;
	} else if (reason != ISCSI_LOGOUT_SESSION && reason <= ISCSI_LOGOUT_RECOVERY &&
		   cid != c->cid && c->sess) {
		logout_other(c, h, cid, reason);
	} else if (reason == ISCSI_LOGOUT_RECOVERY) {
		/* this connection goes; its tasks wait for reassignment (ERL 2) */
		h->response = ISCSI_LOGOUT_RSP_OK;
		ctl->close_after = true;
		logout_send(c, ctl);
		return 0;
	} else if (reason == ISCSI_LOGOUT_SESSION || reason == ISCSI_LOGOUT_CONNECTION) {
		h->response = ISCSI_LOGOUT_RSP_OK;
		ctl->close_after = true;
	} else {
		iscsi_ctl_put(c, ctl);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_INVALID_FIELD);
		return 0;
	}
	if (!ctl->close_after) {
		logout_send(c, ctl);
		return 0;
	}
	logout_close(c, ctl, reason);
	return 0;
}
