/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connection: life cycle, the state machine, control PDUs and the send path. A connection
 * lives on one data reactor from its first byte to its free; rx.c holds its receive machine.
 *
 *            accept
 *              |
 *              v        final Login Response (T=1, NSG=FFP) queued
 *           LOGIN ---------------------------------------------> FFP
 *              |  login failure response queued                   |  Logout Response queued
 *              +-------------------> DRAIN <----------------------+
 *              |                       |  send queue empty / drain timeout
 *              |   error, EOF, close   v
 *              +-----------------> CLOSED <----- FFP (error, EOF, nexus close, shutdown)
 *                                      |  last task lent to the core came back
 *                                      v
 *                                    freed (deferred call)
 *
 * Invariants:
 *  1. Only LOGIN and FFP read from the socket; DRAIN only writes; CLOSED has no socket.
 *  2. A task in ISCSI_TASK_CORE is never released before its completion; CLOSED waits for
 *     core_busy to reach 0 before the connection (and its session and nexus) is freed.
 *  3. Every PDU leaves through the send queue in the order it was sealed, so StatSN on the
 *     wire is sequential.
 */
#include "lld/iscsi/iscsi_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const conn_state_names[] = {
	[ISCSI_CONN_LOGIN] = "login",
	[ISCSI_CONN_FFP] = "ffp",
	[ISCSI_CONN_DRAIN] = "drain",
	[ISCSI_CONN_CLOSED] = "closed",
};

void iscsi_conn_log(struct iscsi_conn *c, enum log_level lvl, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->sess && c->sess->tgt)
		log_msg(lvl, "iscsi: %s tid %u %s cid %u: %s", c->peer_str, c->sess->tgt->tid,
			c->sess->initiator, c->cid, msg);
	else
		log_msg(lvl, "iscsi: %s: %s", c->peer_str, msg);
}

void iscsi_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len, bool with_port)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof(host));
			sa = NULL; /* print as IPv4 */
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		}
		port = ntohs(in6->sin6_port);
	}
	if (sa && sa->sa_family == AF_INET6)
		snprintf(buf, len, with_port ? "[%s]:%u" : "%s", host, port);
	else if (with_port)
		snprintf(buf, len, "%s:%u", host, port);
	else
		snprintf(buf, len, "%s", host);
}

/* ---- state machine ---- */

static void conn_teardown(struct iscsi_conn *c);

static bool conn_transition_ok(enum iscsi_conn_state from, enum iscsi_conn_state to)
{
	switch (from) {
	case ISCSI_CONN_LOGIN:
		return to == ISCSI_CONN_FFP || to == ISCSI_CONN_DRAIN || to == ISCSI_CONN_CLOSED;
	case ISCSI_CONN_FFP:
		return to == ISCSI_CONN_DRAIN || to == ISCSI_CONN_CLOSED;
	case ISCSI_CONN_DRAIN:
		return to == ISCSI_CONN_CLOSED;
	default:
		return false;
	}
}

static void conn_timer_fn(struct reactor_timer *t)
{
	struct iscsi_conn *c = container_of(t, struct iscsi_conn, timer);

	static const char *const why[] = {
		[ISCSI_CONN_LOGIN] = "login timeout",
		[ISCSI_CONN_FFP] = "no logout after the Async logout request",
		[ISCSI_CONN_DRAIN] = "drain timeout",
		[ISCSI_CONN_CLOSED] = "closed",
	};

	iscsi_conn_close(c, why[c->state]);
}

static void conn_watch_set(struct iscsi_conn *c)
{
	uint32_t ev = 0;

	if (c->fd < 0)
		return;
	if ((c->state == ISCSI_CONN_LOGIN || c->state == ISCSI_CONN_FFP) && !c->rx.paused)
		ev |= EPOLLIN;
	if (c->want_out)
		ev |= EPOLLOUT;
	reactor_watch_mod(c->reactor, &c->watch, ev);
}

void iscsi_conn_state_set(struct iscsi_conn *c, enum iscsi_conn_state st)
{
	enum iscsi_conn_state old = c->state;

	if (!conn_transition_ok(old, st)) {
		iscsi_conn_log(c, LOG_LVL_ERR, "bad state change %s -> %s", conn_state_names[old],
			       conn_state_names[st]);
		if (st != ISCSI_CONN_CLOSED)
			return;
	}
	conn_dbg(c, "state %s -> %s", conn_state_names[old], conn_state_names[st]);
	c->state = st;
	switch (st) {
	case ISCSI_CONN_FFP:
		reactor_timer_cancel(c->reactor, &c->timer);
		iscsi_nop_start(c);
		break;
	case ISCSI_CONN_DRAIN:
		reactor_timer_arm(c->reactor, &c->timer, ISCSI_DRAIN_TIMEOUT_MS);
		reactor_timer_cancel(c->reactor, &c->nop_timer);
		conn_watch_set(c);
		if (list_empty(&c->txq))
			iscsi_conn_state_set(c, ISCSI_CONN_CLOSED);
		break;
	case ISCSI_CONN_CLOSED:
		if (old != ISCSI_CONN_CLOSED)
			conn_teardown(c);
		break;
	default:
		break;
	}
}

void iscsi_conn_close(struct iscsi_conn *c, const char *why)
{
	if (c->state == ISCSI_CONN_CLOSED)
		return;
	conn_dbg(c, "closing: %s", why);
	iscsi_conn_state_set(c, ISCSI_CONN_CLOSED);
}

void iscsi_conn_drain(struct iscsi_conn *c)
{
	if (c->state == ISCSI_CONN_LOGIN || c->state == ISCSI_CONN_FFP)
		iscsi_conn_state_set(c, ISCSI_CONN_DRAIN);
}

/* ---- control PDU pool ---- */

static void ctl_sent(struct iscsi_conn *c, struct iscsi_out *o)
{
	struct iscsi_ctl *ctl = container_of(o, struct iscsi_ctl, out);
	bool close_after = ctl->close_after;

	iscsi_ctl_put(c, ctl);
	if (close_after)
		iscsi_conn_drain(c);
}

struct iscsi_ctl *iscsi_ctl_get(struct iscsi_conn *c)
{
	struct iscsi_ctl *ctl;

	if (list_empty(&c->free_ctl))
		return NULL;
	ctl = list_first_entry(&c->free_ctl, struct iscsi_ctl, entry);
	list_del(&ctl->entry);
	c->free_ctl_count--;
	ctl->conn = c;
	ctl->waiting = 0;
	ctl->tmf_pending = false;
	ctl->close_after = false;
	memset(&ctl->out, 0, sizeof(ctl->out));
	list_init(&ctl->out.entry);
	ctl->out.sent = ctl_sent;
	return ctl;
}

void iscsi_ctl_put(struct iscsi_conn *c, struct iscsi_ctl *ctl)
{
	if (ctl->buf) {
		bufpool_put(reactor_bufpool(c->reactor), ctl->buf, ctl->buf_cap);
		ctl->buf = NULL;
		ctl->buf_cap = 0;
	}
	list_add(&ctl->entry, &c->free_ctl);
	c->free_ctl_count++;
	iscsi_conn_rx_resume(c);
}

uint8_t *iscsi_ctl_data(struct iscsi_conn *c, struct iscsi_ctl *ctl, size_t len)
{
	if (len <= sizeof(ctl->inline_data))
		return ctl->inline_data;
	if (ctl->buf && ctl->buf_cap >= len)
		return ctl->buf;
	bufpool_put(reactor_bufpool(c->reactor), ctl->buf, ctl->buf_cap);
	ctl->buf = bufpool_get(reactor_bufpool(c->reactor), len, &ctl->buf_cap);
	return ctl->buf;
}

void iscsi_ctl_send(struct iscsi_conn *c, struct iscsi_ctl *ctl, uint32_t data_len)
{
	struct iscsi_bhs *h = (struct iscsi_bhs *)ctl->out.hdr;

	put_be24(h->dsl, data_len);
	ctl->out.data_len = data_len;
	if (data_len)
		ctl->out.data = data_len <= sizeof(ctl->inline_data) ? ctl->inline_data : ctl->buf;
	iscsi_out_seal(c, &ctl->out);
	iscsi_conn_queue(c, &ctl->out);
}

void iscsi_conn_fill_sn(struct iscsi_conn *c, uint8_t *bhs, bool advance)
{
	struct iscsi_sess *s = c->sess;

	put_be32(bhs + 24, c->stat_sn);
	if (advance)
		c->stat_sn++;
	if (s) {
		put_be32(bhs + 28, s->exp_cmd_sn);
		put_be32(bhs + 32, iscsi_sess_max_cmd_sn(s));
	}
}

void iscsi_conn_reject(struct iscsi_conn *c, const uint8_t *bhs, uint8_t reason)
{
	struct iscsi_ctl *ctl = iscsi_ctl_get(c);
	struct iscsi_reject_hdr *h;
	uint8_t *data;

	if (!ctl) {
		iscsi_conn_close(c, "no control PDU for a Reject");
		return;
	}
	h = (struct iscsi_reject_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_REJECT, ISCSI_FLAG_FINAL, 0, ISCSI_RSVD_TAG);
	h->reason = reason;
	iscsi_conn_fill_sn(c, ctl->out.hdr, true);
	data = iscsi_ctl_data(c, ctl, ISCSI_BHS_LEN);
	memcpy(data, bhs, ISCSI_BHS_LEN);
	iscsi_ctl_send(c, ctl, ISCSI_BHS_LEN);
	if (log_ratelimit_ok(&c->rl, 10, 10000))
		iscsi_conn_log(c, LOG_LVL_WARN, "reject opcode 0x%02x itt 0x%x reason 0x%02x",
			       bhs[0] & ISCSI_OP_MASK, get_be32(bhs + 16), reason);
}

/* ---- send path ---- */

void iscsi_out_seal(struct iscsi_conn *c, struct iscsi_out *o)
{
	uint32_t pad = iscsi_pad_len(o->data_len);

	o->hdr_len = ISCSI_BHS_LEN;
	if (c->hdigest) {
		iscsi_digest_put(o->hdr + ISCSI_BHS_LEN, iscsi_digest(o->hdr, ISCSI_BHS_LEN));
		o->hdr_len += ISCSI_DIGEST_LEN;
	}
	memset(o->tail, 0, pad);
	o->tail_len = (uint8_t)pad;
	if (c->ddigest && o->data_len) {
		uint32_t crc = crc32c(0, o->data, o->data_len);

		crc = crc32c(crc, o->tail, pad);
		iscsi_digest_put(o->tail + pad, crc);
		o->tail_len += ISCSI_DIGEST_LEN;
	}
}

static void conn_tx_deferred(struct reactor_msg *m);

void iscsi_conn_queue(struct iscsi_conn *c, struct iscsi_out *o)
{
	if (c->state == ISCSI_CONN_CLOSED) {
		o->queued = false;
		o->sent(c, o);
		return;
	}
	list_add_tail(&o->entry, &c->txq);
	o->queued = true;
	if (!c->tx_scheduled && !c->want_out) {
		c->tx_scheduled = true;
		reactor_defer(c->reactor, &c->tx_msg, conn_tx_deferred);
	}
}

/* Fills iov from the send queue, skipping the tx_off bytes already sent. */
static unsigned int conn_tx_iov(struct iscsi_conn *c, struct iovec *iov, unsigned int max)
{
	struct iscsi_out *o;
	size_t skip = c->tx_off;
	unsigned int n = 0;

	list_for_each_entry(o, &c->txq, entry) {
		const void *base[3] = { o->hdr, o->data, o->tail };
		size_t len[3] = { o->hdr_len, o->data_len, o->tail_len };

		if (n + 3 > max)
			break;
		for (int i = 0; i < 3; i++) {
			if (skip >= len[i]) {
				skip -= len[i];
				continue;
			}
			iov[n].iov_base = (uint8_t *)base[i] + skip;
			iov[n].iov_len = len[i] - skip;
			skip = 0;
			n++;
		}
	}
	return n;
}

static size_t out_len(const struct iscsi_out *o)
{
	return (size_t)o->hdr_len + o->data_len + o->tail_len;
}

/* Retires fully sent PDUs; their callbacks may queue more or close the connection. */
static void conn_tx_consume(struct iscsi_conn *c, size_t n)
{
	n += c->tx_off;
	c->tx_off = 0;
	while (!list_empty(&c->txq)) {
		struct iscsi_out *o = list_first_entry(&c->txq, struct iscsi_out, entry);
		size_t len = out_len(o);

		if (n < len) {
			c->tx_off = n;
			return;
		}
		n -= len;
		list_del(&o->entry);
		o->queued = false;
		o->sent(c, o);
		if (c->state == ISCSI_CONN_CLOSED)
			return;
	}
}

static void conn_tx_flush(struct iscsi_conn *c)
{
	struct iovec iov[ISCSI_TX_IOV];

	while (c->state != ISCSI_CONN_CLOSED && !list_empty(&c->txq)) {
		int nr = (int)conn_tx_iov(c, iov, ISCSI_TX_IOV);
		ssize_t n = c->xport->send(c, iov, nr);

		if (n < 0) {
			if (n == -EAGAIN) {
				c->want_out = true;
				conn_watch_set(c);
				return;
			}
			iscsi_conn_close(c, "send failed");
			return;
		}
		conn_tx_consume(c, (size_t)n);
	}
	if (c->state == ISCSI_CONN_CLOSED)
		return;
	if (c->want_out) {
		c->want_out = false;
		conn_watch_set(c);
	}
	if (c->state == ISCSI_CONN_DRAIN)
		iscsi_conn_state_set(c, ISCSI_CONN_CLOSED);
}

static void conn_tx_deferred(struct reactor_msg *m)
{
	struct iscsi_conn *c = container_of(m, struct iscsi_conn, tx_msg);

	c->tx_scheduled = false;
	if (c->state != ISCSI_CONN_CLOSED && !c->want_out)
		conn_tx_flush(c);
	else
		iscsi_conn_maybe_free(c);
}

/* ---- watch ---- */

static void conn_watch_fn(struct reactor_watch *w, uint32_t events)
{
	struct iscsi_conn *c = container_of(w, struct iscsi_conn, watch);
	bool reading = (c->state == ISCSI_CONN_LOGIN || c->state == ISCSI_CONN_FFP) &&
		       !c->rx.paused;

	/* HUP/ERR stay reported even when we stopped reading: do not spin on them */
	if ((events & (EPOLLHUP | EPOLLERR)) && !reading) {
		iscsi_conn_close(c, "connection reset");
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		iscsi_conn_rx_run(c);
	if (c->state != ISCSI_CONN_CLOSED && (events & EPOLLOUT))
		conn_tx_flush(c);
}

/* ---- life cycle ---- */

static void conn_sock_setup(struct iscsi_conn *c)
{
	c->xport->setup(c);
	iscsi_sockaddr_str((struct sockaddr *)&c->peer, c->peer_str, sizeof(c->peer_str), true);
}

int iscsi_conn_new(struct iscsi_rstate *rs, int fd)
{
	struct iscsi_conn *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->lld = rs->lld;
	c->rs = rs;
	c->reactor = rs->r;
	c->fd = fd;
	c->xport = &iscsi_xport_tcp;
	c->state = ISCSI_CONN_LOGIN;
	c->max_recv_dsl = ISCSI_LOGIN_DSL_MAX;
	c->max_xmit_dsl = ISCSI_LOGIN_DSL_MAX;
	c->stat_sn = 1;
	list_init(&c->txq);
	list_init(&c->free_tasks);
	list_init(&c->tasks);
	list_init(&c->free_ctl);
	for (unsigned int i = 0; i < ISCSI_ITT_BUCKETS; i++)
		list_init(&c->itt_hash[i]);
	for (unsigned int i = 0; i < ISCSI_CTL_POOL; i++) {
		list_add_tail(&c->ctl_mem[i].entry, &c->free_ctl);
		c->free_ctl_count++;
	}
	reactor_timer_init(&c->timer, conn_timer_fn);
	c->rx.buf = bufpool_get(reactor_bufpool(c->reactor), ISCSI_RXBUF_LEN, &c->rx.buf_cap);
	if (!c->rx.buf) {
		ret = -ENOMEM;
		goto err_free;
	}
	conn_sock_setup(c);
	iscsi_nop_init(c);
	ret = reactor_watch_add(c->reactor, &c->watch, fd, EPOLLIN, conn_watch_fn);
	if (ret < 0)
		goto err_put_buf;
	reactor_timer_arm(c->reactor, &c->timer, ISCSI_LOGIN_TIMEOUT_MS);
	list_add_tail(&c->entry, &rs->conns);
	conn_dbg(c, "connection accepted");
	return 0;

err_put_buf:
	bufpool_put(reactor_bufpool(c->reactor), c->rx.buf, c->rx.buf_cap);
err_free:
	free(c);
	return ret;
}

/* Releases every task that is not lent to the core; marks the others aborted. */
static void conn_tasks_drop(struct iscsi_conn *c)
{
	struct iscsi_task *t, *tmp;

	if (c->sess) {
		list_for_each_entry_safe(t, tmp, &c->sess->pending, entry)
			iscsi_task_release(t);
	}
	list_for_each_entry_safe(t, tmp, &c->tasks, entry) {
		if (t->state == ISCSI_TASK_CORE) {
			t->aborted = true;
			t->cmd.aborted = true;
		} else if (!t->outs_busy) {
			iscsi_task_release(t);
		}
	}
}

static void conn_teardown(struct iscsi_conn *c)
{
	reactor_timer_cancel(c->reactor, &c->timer);
	reactor_timer_cancel(c->reactor, &c->nop_timer);
	if (c->fd >= 0) {
		reactor_watch_del(c->reactor, &c->watch);
		c->xport->close(c);
		c->fd = -1;
	}
	/* dropped PDUs run their callbacks, which release what they hold */
	while (!list_empty(&c->txq)) {
		struct iscsi_out *o = list_first_entry(&c->txq, struct iscsi_out, entry);

		list_del(&o->entry);
		o->queued = false;
		o->sent(c, o);
	}
	c->tx_off = 0;
	iscsi_rx_reset(c);
	iscsi_login_free(c);
	conn_tasks_drop(c);
	if (c->sess)
		iscsi_sess_conn_gone(c->sess);
	iscsi_conn_maybe_free(c);
}

static void conn_free(struct reactor_msg *m)
{
	struct iscsi_conn *c = container_of(m, struct iscsi_conn, free_msg);
	struct bufpool *bp = reactor_bufpool(c->reactor);
	struct iscsi_lld *lld = c->lld;

	if (c->tx_scheduled) {
		/* a queued send call still points at us: run after it */
		reactor_defer(c->reactor, &c->free_msg, conn_free);
		return;
	}
	if (c->sess) {
		iscsi_sess_release(c->sess);
		iscsi_sess_put(c->sess);
		c->sess = NULL;
	}
	for (unsigned int i = 0; i < c->nr_tasks; i++)
		bufpool_put(bp, c->tasks_mem[i].cmd.buf, c->tasks_mem[i].buf_cap);
	free(c->tasks_mem);
	for (unsigned int i = 0; i < ISCSI_CTL_POOL; i++)
		bufpool_put(bp, c->ctl_mem[i].buf, c->ctl_mem[i].buf_cap);
	bufpool_put(bp, c->rx.buf, c->rx.buf_cap);
	free(c->text_buf);
	free(c->text_req);
	list_del(&c->entry);
	reactor_load_add(c->reactor, -1);
	free(c);
	iscsi_lld_conn_gone(lld);
}

void iscsi_conn_maybe_free(struct iscsi_conn *c)
{
	if (c->state != ISCSI_CONN_CLOSED || c->core_busy || c->free_scheduled ||
	    c->rx.defer_armed)
		return;
	c->free_scheduled = true;
	reactor_defer(c->reactor, &c->free_msg, conn_free);
}

/* ---- a delivered control PDU (in CmdSN order, or immediate) ---- */

int iscsi_conn_ctl_dispatch(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data)
{
	switch (bhs[0] & ISCSI_OP_MASK) {
	case ISCSI_OP_NOP_OUT:
		return iscsi_nop_rx_end(c, bhs, data);
	case ISCSI_OP_TMF_REQ:
		return iscsi_tmf_rx(c, bhs);
	case ISCSI_OP_TEXT_REQ:
		return iscsi_text_rx(c, bhs, data);
	case ISCSI_OP_LOGOUT_REQ:
		return iscsi_logout_rx(c, bhs);
	default:
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_CMD_NOT_SUPP);
		return 0;
	}
}
