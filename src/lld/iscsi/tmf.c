/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Task management (§11.5, §11.6): ABORT TASK, ABORT TASK SET and LOGICAL UNIT RESET on this
 * session's tasks. A task the core holds is marked aborted and the response waits until its
 * completion comes back (it is then dropped without a SCSI response); everything else is
 * released at once. Other functions answer "not supported".
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <string.h>

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

void iscsi_tmf_abort_lun(struct iscsi_conn *c, uint64_t lun, struct iscsi_ctl *tmf)
{
	struct iscsi_task *t, *tmp;

	if (c->sess) {
		list_for_each_entry_safe(t, tmp, &c->sess->pending, entry) {
			if (t->kind == ISCSI_TASK_SCSI && t->cmd.lun == lun)
				iscsi_task_abort(t, tmf);
		}
	}
	list_for_each_entry_safe(t, tmp, &c->tasks, entry) {
		if (t->kind == ISCSI_TASK_SCSI && t->cmd.lun == lun)
			iscsi_task_abort(t, tmf);
	}
}

static uint8_t tmf_abort_task(struct iscsi_conn *c, const struct iscsi_tmf_hdr *req,
			      struct iscsi_ctl *ctl)
{
	struct iscsi_task *t = iscsi_task_find_itt(c, get_be32(req->rtt));

	if (!t || t->cmd.lun != iscsi_lun_decode(req->lun) || t->state == ISCSI_TASK_TX)
		return ISCSI_TMF_RSP_NO_TASK;
	iscsi_task_abort(t, ctl);
	return ISCSI_TMF_RSP_COMPLETE;
}

static uint8_t tmf_lun(struct iscsi_conn *c, uint8_t func, uint64_t lun, struct iscsi_ctl *ctl)
{
	struct core_lu *lu = core_lu_get(c->sess->tgt, lun);

	if (!lu)
		return ISCSI_TMF_RSP_NO_LUN;
	iscsi_tmf_abort_lun(c, lun, ctl);
	if (func == ISCSI_TMF_LU_RESET)
		core_lu_reset(lu, c->sess->nexus);
	core_lu_put(lu);
	return ISCSI_TMF_RSP_COMPLETE;
}

int iscsi_tmf_rx(struct iscsi_conn *c, const uint8_t *bhs)
{
	const struct iscsi_tmf_hdr *req = (const struct iscsi_tmf_hdr *)bhs;
	uint8_t func = req->flags & 0x7f;
	struct iscsi_ctl *ctl = iscsi_ctl_get(c);
	struct iscsi_tmf_hdr *h;
	uint8_t rsp;

	if (!ctl)
		return -ENOMEM;
	h = (struct iscsi_tmf_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_TMF_RSP, ISCSI_FLAG_FINAL, 0,
		       get_be32(req->itt));
	if (c->sess->discovery) {
		tmf_finish(c, ctl, ISCSI_TMF_RSP_REJECTED);
		return 0;
	}
	switch (func) {
	case ISCSI_TMF_ABORT_TASK:
		rsp = tmf_abort_task(c, req, ctl);
		break;
	case ISCSI_TMF_ABORT_TASK_SET:
	case ISCSI_TMF_LU_RESET:
		rsp = tmf_lun(c, func, iscsi_lun_decode(req->lun), ctl);
		break;
	case ISCSI_TMF_CLEAR_ACA:
	case ISCSI_TMF_CLEAR_TASK_SET:
	case ISCSI_TMF_WARM_RESET:
	case ISCSI_TMF_COLD_RESET:
	case ISCSI_TMF_TASK_REASSIGN:
		rsp = ISCSI_TMF_RSP_NOT_SUPPORTED;
		break;
	default:
		rsp = ISCSI_TMF_RSP_REJECTED;
		break;
	}
	conn_dbg(c, "TMF function %u ITT 0x%x RTT 0x%x: response %u", func, get_be32(req->itt),
		 get_be32(req->rtt), rsp);
	tmf_finish(c, ctl, rsp);
	return 0;
}
