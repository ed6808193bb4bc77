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

/* The connection's identity as key=value pairs (docs/operations.md, "Logging"). */
static void conn_log_ids(const struct iscsi_conn *c, char *line, size_t cap, size_t *off)
{
	const struct iscsi_sess *s = c->sess;

	if (s) {
		log_kv_append(line, cap, off, "target", s->tgt ? s->tgt->name : NULL);
		log_kv_append(line, cap, off, "initiator", s->initiator);
		log_kv_appendf(line, cap, off, "isid", "%02x%02x%02x%02x%02x%02x", s->isid[0],
			       s->isid[1], s->isid[2], s->isid[3], s->isid[4], s->isid[5]);
		log_kv_appendf(line, cap, off, "tsih", "%u", s->tsih);
		log_kv_appendf(line, cap, off, "cid", "%u", c->cid);
	}
	log_kv_append(line, cap, off, "addr", c->peer_str);
}

/*
 * One structured line: the message ("event=... k=v" as given, other text as msg="..."), then
 * the connection's identity. Everything but debug lines goes through the connection's token
 * bucket and the global cap, so an initiator cannot flood the log.
 */
void iscsi_conn_log(struct iscsi_conn *c, enum log_level lvl, const char *fmt, ...)
{
	char msg[800];
	char line[1200];
	size_t off = 0;
	uint32_t sup = 0;
	va_list ap;

	if (lvl < LOG_LVL_DBG && !log_peer_ok(&c->log_tb, &sup))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line[0] = '\0';
	if (!strncmp(msg, "event=", 6))
		(void)str_appendf(line, sizeof(line), &off, "%s", msg);
	else
		log_kv_append(line, sizeof(line), &off, "msg", msg);
	conn_log_ids(c, line, sizeof(line), &off);
	if (sup)
		log_kv_appendf(line, sizeof(line), &off, "suppressed", "%u", sup);
	log_msg(lvl, "iscsi: %s", line);
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
	if (c->state == ISCSI_CONN_CLOSED) {
		if (c->retained) /* Time2Retain over, shutdown, session closed */
			iscsi_sess_retain_end(c);
		return;
	}
	/* an orderly end (logout, shutdown, reinstatement) is no news; the rest is a drop */
	if (!strcmp(why, "shutdown") || !strcmp(why, "session closed") ||
	    !strcmp(why, "handed over") ||
	    (!strcmp(why, "connection closed by peer") && (!c->sess || c->sess->discovery)))
		conn_dbg(c, "event=conn_close reason=\"%s\"", why);
	else
		iscsi_conn_log(c, LOG_LVL_INFO, "event=conn_drop reason=\"%s\"", why);
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
	iscsi_stat_add(&c->stats.rejects, 1);
	iscsi_conn_log(c, LOG_LVL_WARN, "event=reject opcode=0x%02x itt=0x%x reason=0x%02x",
		       bhs[0] & ISCSI_OP_MASK, get_be32(bhs + 16), reason);
}

/* ---- send path ---- */

void iscsi_out_seal(struct iscsi_conn *c, struct iscsi_out *o)
{
	uint32_t pad = iscsi_pad_len(o->data_len);

	if (c->rtx)
		iscsi_recovery_keep(c, o); /* ERL >= 1 (recovery.c) */
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
		iscsi_stat_add(&c->stats.pdus_out, 1);
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
		iscsi_stat_add(&c->stats.bytes_out, (uint64_t)n);
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

static int conn_create(struct iscsi_rstate *rs, int fd, struct iscsi_conn **out)
{
	struct iscsi_conn *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	list_init(&c->sess_entry);
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
	list_init(&c->parked);
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
	ret = iscsi_lld_addr_get(c->lld, &c->peer); /* max_initiator_conns */
	if (ret < 0)
		goto err_put_buf;
	iscsi_nop_init(c);
	ret = reactor_watch_add(c->reactor, &c->watch, fd, EPOLLIN, conn_watch_fn);
	if (ret < 0) {
		iscsi_lld_addr_put(c->lld, &c->peer);
		goto err_put_buf;
	}
	reactor_timer_arm(c->reactor, &c->timer, iscsi_lld_login_timeout_ms(c->lld));
	iscsi_conn_pub_attach(c);
	conn_dbg(c, "connection accepted");
	*out = c;
	return 0;

err_put_buf:
	bufpool_put(reactor_bufpool(c->reactor), c->rx.buf, c->rx.buf_cap);
err_free:
	free(c);
	return ret;
}

int iscsi_conn_new(struct iscsi_rstate *rs, int fd)
{
	struct iscsi_conn *c;

	return conn_create(rs, fd, &c);
}

/* ---- hand-over of a login to the session's reactor (MC/S) ---- */

struct conn_handover {
	struct reactor_msg m;
	struct iscsi_rstate *rs;
	int fd;
	uint8_t hdr[ISCSI_BHS_LEN];
	struct iscsi_bhs_info info;
	uint32_t rest_len;               /* read-ahead bytes after the PDU */
	uint8_t data[];                  /* the login text (info.dsl), then the read-ahead */
};

/* Runs on the session's reactor: rebuilds the connection and replays its Login Request. */
static void conn_handover_msg(struct reactor_msg *m)
{
	struct conn_handover *ho = container_of(m, struct conn_handover, m);
	struct iscsi_conn *c;
	uint8_t *dst;
	int ret = -ESHUTDOWN;

	if (!atomic_load(&ho->rs->lld->shutting_down))
		ret = conn_create(ho->rs, ho->fd, &c);
	if (ret < 0) {
		close(ho->fd);
		reactor_load_add(ho->rs->r, -1);
		iscsi_lld_conn_gone(ho->rs->lld);
		free(ho);
		return;
	}
	c->handed_over = true;
	memcpy(c->rx.hdr, ho->hdr, ISCSI_BHS_LEN);
	c->rx.info = ho->info;
	dst = iscsi_login_rx_start(c);
	if (dst && ho->info.dsl)
		memcpy(dst, ho->data, ho->info.dsl);
	memcpy(c->rx.buf, ho->data + ho->info.dsl, ho->rest_len);
	c->rx.end = ho->rest_len;
	free(ho);
	if ((!dst && c->rx.info.dsl) || !c->login || iscsi_login_rx_end(c) < 0) {
		iscsi_conn_close(c, "receive error");
		return;
	}
	if (c->rx.end > c->rx.start)
		iscsi_conn_rx_run(c);
}

int iscsi_conn_handover(struct iscsi_conn *c, uint16_t tsih, const uint8_t *text)
{
	struct reactor *r = iscsi_sess_tsih_reactor(c->lld, tsih);
	struct iscsi_rstate *rs = NULL;
	uint32_t rest = c->rx.end - c->rx.start, dsl = c->rx.info.dsl;
	struct conn_handover *ho;

	if (!r || r == c->reactor || c->handed_over || c->rx.info.ahs_len || !c->login ||
	    rest > c->rx.buf_cap)
		return -ENOENT;
	for (unsigned int i = 0; i < c->lld->nr_rs && !rs; i++) {
		if (c->lld->rs[i].r == r)
			rs = &c->lld->rs[i];
	}
	ho = rs ? malloc(sizeof(*ho) + dsl + rest) : NULL;
	if (!ho)
		return -ENOMEM;
	ho->rs = rs;
	memcpy(ho->hdr, c->rx.hdr, ISCSI_BHS_LEN);
	ho->info = c->rx.info;
	ho->rest_len = rest;
	memcpy(ho->data, text, dsl);
	memcpy(ho->data + dsl, c->rx.buf + c->rx.start, rest);
	c->rx.start = c->rx.end;
	conn_dbg(c, "login for session %u handed over to its reactor", tsih);
	reactor_watch_del(c->reactor, &c->watch);
	ho->fd = c->fd;
	c->fd = -1; /* the new connection owns the socket */
	reactor_load_add(r, 1);
	atomic_fetch_add(&c->lld->nr_conns, 1);
	reactor_msg_send(r, &ho->m, conn_handover_msg);
	iscsi_conn_close(c, "handed over");
	return 0;
}

/* Releases every task that is not lent to the core; marks the others aborted. */
static void conn_tasks_drop(struct iscsi_conn *c)
{
	struct iscsi_task *t, *tmp;

	iscsi_recovery_drop_all(c); /* answered reads kept for Data SNACK */
	if (c->retained)
		return; /* ERL 2: kept for TASK REASSIGN until Time2Retain (session.c) */
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
	/* decided before the send queue drops: its tasks then keep their answers */
	c->retained = c->sess && iscsi_sess_conn_retain(c->sess, c);
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
		iscsi_sess_conn_gone(c->sess, c);
	if (c->retained) {
		const struct iscsi_params *p = &c->sess->p;

		reactor_timer_arm(c->reactor, &c->timer,
				  (uint64_t)(p->v[ISCSI_PARAM_TIME2WAIT] +
					     p->v[ISCSI_PARAM_TIME2RETAIN]) * 1000u);
		iscsi_conn_log(c, LOG_LVL_INFO, "event=conn_retained time2retain=%u",
			       p->v[ISCSI_PARAM_TIME2RETAIN]);
	}
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
		iscsi_sess_conn_free(c->sess);
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
	iscsi_recovery_conn_free(c);
	iscsi_conn_pub_detach(c);
	reactor_load_add(c->reactor, -1);
	iscsi_lld_addr_put(lld, &c->peer);
	free(c);
	iscsi_lld_conn_gone(lld);
}

void iscsi_conn_maybe_free(struct iscsi_conn *c)
{
	if (c->state != ISCSI_CONN_CLOSED || c->core_busy || c->free_scheduled ||
	    c->rx.defer_armed || c->retained)
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
