/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logout (§11.14, §11.15). Closing the session or this connection terminates its tasks: the
 * ones the core holds are aborted and the response waits for them, so the Logout Response
 * is the last PDU on the connection; then it drains and closes. At ERL 0 a connection cannot
 * be removed for recovery.
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

int iscsi_logout_rx(struct iscsi_conn *c, const uint8_t *bhs)
{
	const struct iscsi_logout_hdr *req = (const struct iscsi_logout_hdr *)bhs;
	uint8_t reason = req->flags & 0x7f;
	struct iscsi_ctl *ctl;
	struct iscsi_logout_hdr *h;
	struct iscsi_task *t, *tmp;

	if (c->logout_pending)
		return 0; /* one is enough */
	ctl = iscsi_ctl_get(c);
	if (!ctl)
		return -ENOMEM;
	h = (struct iscsi_logout_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_LOGOUT_RSP, ISCSI_FLAG_FINAL, 0,
		       get_be32(req->itt));
	if (reason == ISCSI_LOGOUT_RECOVERY) {
		h->response = ISCSI_LOGOUT_RSP_NO_RECOVERY;
	} else if (reason == ISCSI_LOGOUT_CONNECTION && get_be16(req->cid) != c->cid) {
		h->response = ISCSI_LOGOUT_RSP_NO_CID;
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
	conn_dbg(c, "logout (reason %u)", reason);
	reactor_timer_cancel(c->reactor, &c->nop_timer);
	if (c->sess) {
		list_for_each_entry_safe(t, tmp, &c->sess->pending, entry)
			iscsi_task_abort(t, NULL);
	}
	list_for_each_entry_safe(t, tmp, &c->tasks, entry) {
		if (t->kind == ISCSI_TASK_SCSI)
			iscsi_task_abort(t, NULL);
	}
	c->logout_pending = true;
	c->logout_rsp = ctl;
	iscsi_logout_check(c);
	return 0;
}
