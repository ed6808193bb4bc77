/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * NOP-Out/NOP-In (§11.18, §11.19): answers initiator pings (echoing their data within the
 * initiator's MaxRecvDataSegmentLength), sends target pings every nop_interval seconds and
 * drops the connection after nop_count unanswered ones, and the Async Message that asks an
 * initiator to log out (§11.9) when the daemon shuts down.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <string.h>

static void nop_ping(struct iscsi_conn *c)
{
	struct iscsi_ctl *ctl = iscsi_ctl_get(c);
	struct iscsi_nop_hdr *h;

	if (!ctl)
		return; /* busy enough that the next tick will do */
	if (++c->nop_ttt == ISCSI_RSVD_TAG)
		c->nop_ttt = 1;
	h = (struct iscsi_nop_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_NOP_IN, ISCSI_FLAG_FINAL, 0, ISCSI_RSVD_TAG);
	put_be32(h->ttt, c->nop_ttt);
	/* ITT 0xffffffff: StatSN is not advanced (§11.19.3) */
	iscsi_conn_fill_sn(c, ctl->out.hdr, false);
	iscsi_ctl_send(c, ctl, 0);
	c->nop_missed++;
}

static void nop_timer_fn(struct reactor_timer *t)
{
	struct iscsi_conn *c = container_of(t, struct iscsi_conn, nop_timer);

	if (c->state != ISCSI_CONN_FFP || !c->nop_interval_s)
		return;
	if (c->nop_count && c->nop_missed >= c->nop_count) {
		iscsi_conn_log(c, LOG_LVL_WARN, "event=timeout timer=nop_in missed=%u action=drop",
			       c->nop_missed);
		iscsi_conn_close(c, "NOP-In timeout");
		return;
	}
	nop_ping(c);
	reactor_timer_arm(c->reactor, &c->nop_timer, (uint64_t)c->nop_interval_s * 1000);
}

void iscsi_nop_init(struct iscsi_conn *c)
{
	reactor_timer_init(&c->nop_timer, nop_timer_fn);
}

void iscsi_nop_start(struct iscsi_conn *c)
{
	if (c->nop_interval_s)
		reactor_timer_arm(c->reactor, &c->nop_timer, (uint64_t)c->nop_interval_s * 1000);
}

int iscsi_nop_rx_end(struct iscsi_conn *c, const uint8_t *bhs, const uint8_t *data)
{
	const struct iscsi_nop_hdr *req = (const struct iscsi_nop_hdr *)bhs;
	uint32_t itt = get_be32(req->itt), ttt = get_be32(req->ttt);
	uint32_t len = MIN(get_be24(req->dsl), c->max_xmit_dsl);
	struct iscsi_ctl *ctl;
	struct iscsi_nop_hdr *h;
	uint8_t *buf;

	if (itt == ISCSI_RSVD_TAG) {
		/* an answer to our ping, or a ping that wants no answer */
		if (ttt != ISCSI_RSVD_TAG && ttt == c->nop_ttt)
			c->nop_missed = 0;
		return 0;
	}
	if (ttt != ISCSI_RSVD_TAG) {
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_INVALID_FIELD);
		return 0;
	}
	ctl = iscsi_ctl_get(c);
	if (!ctl)
		return -ENOMEM;
	h = (struct iscsi_nop_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_NOP_IN, ISCSI_FLAG_FINAL, 0, itt);
	memcpy(h->lun, req->lun, sizeof(h->lun));
	put_be32(h->ttt, ISCSI_RSVD_TAG);
	iscsi_conn_fill_sn(c, ctl->out.hdr, true);
	if (len && data) {
		buf = iscsi_ctl_data(c, ctl, len);
		if (!buf) {
			iscsi_ctl_put(c, ctl);
			return -ENOMEM;
		}
		memcpy(buf, data, len);
	} else {
		len = 0;
	}
	iscsi_ctl_send(c, ctl, len);
	c->nop_missed = 0;
	return 0;
}

void iscsi_async_logout_send(struct iscsi_conn *c, unsigned int grace_s)
{
	struct iscsi_ctl *ctl;
	struct iscsi_async_hdr *h;

	if (c->async_sent || c->state != ISCSI_CONN_FFP)
		return;
	ctl = iscsi_ctl_get(c);
	if (!ctl) {
		iscsi_conn_close(c, "shutdown");
		return;
	}
	h = (struct iscsi_async_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_ASYNC, ISCSI_FLAG_FINAL, 0, ISCSI_RSVD_TAG);
	iscsi_conn_fill_sn(c, ctl->out.hdr, true);
	h->event = ISCSI_ASYNC_LOGOUT_REQUEST;
	/* Parameter3: seconds the initiator has to log out */
	put_be16(h->param3, (uint16_t)MIN(grace_s, 65535u));
	iscsi_ctl_send(c, ctl, 0);
	c->async_sent = true;
}
