/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The receive machine of a connection: BHS -> AHS and header digest -> data segment ->
 * padding and data digest, then dispatch. Bytes come through a 64 KiB read-ahead buffer;
 * when a data segment is being received and the buffer is empty, one readv puts the rest of
 * the segment straight into its destination (a command buffer) and reads ahead behind it.
 *
 * After a large data segment, reads ahead only up to the next header, so that the next
 * segment (likely large too: a stream of big writes) also lands in its buffer uncopied.
 *
 * Every wakeup parses at most ISCSI_RX_PDU_BUDGET PDUs; leftovers continue from a deferred
 * call so one initiator cannot starve the others on the reactor. Before a new PDU starts the
 * connection needs a free task and control PDUs; otherwise reading pauses until one returns.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RX_READ_BUDGET 16
/* Receive coalescing needs at least this many commands outstanding (reactor.h) */
#define RX_COALESCE_DEPTH 4u
/* Data segments from this size on are received straight into their buffer (see rx_fill) */
#define RX_LARGE_DSL (32u * 1024)

void iscsi_rx_reset(struct iscsi_conn *c)
{
	struct iscsi_rx *rx = &c->rx;

	if (rx->scratch) {
		bufpool_put(reactor_bufpool(c->reactor), rx->scratch, rx->scratch_cap);
		rx->scratch = NULL;
		rx->scratch_cap = 0;
	}
	rx->state = ISCSI_RX_BHS;
	rx->hdr_have = 0;
	rx->dst = NULL;
	rx->task = NULL;
	rx->large = false;
}

/* Copies up to want bytes of read-ahead into dst (NULL: drop them). Returns the count. */
static uint32_t rx_take(struct iscsi_rx *rx, uint8_t *dst, uint32_t want)
{
	uint32_t n = MIN(want, rx->end - rx->start);

	if (dst && n)
		memcpy(dst, rx->buf + rx->start, n);
	rx->start += n;
	return n;
}

/* A scratch buffer for the data segment of a non-SCSI PDU (login keeps its own). */
uint8_t *iscsi_rx_scratch(struct iscsi_conn *c, uint32_t len)
{
	struct iscsi_rx *rx = &c->rx;

	if (!len)
		return NULL;
	if (rx->scratch && rx->scratch_cap >= len)
		return rx->scratch;
	bufpool_put(reactor_bufpool(c->reactor), rx->scratch, rx->scratch_cap);
	rx->scratch = bufpool_get(reactor_bufpool(c->reactor), len, &rx->scratch_cap);
	return rx->scratch;
}

/*
 * Commands the initiator has outstanding, as far as this end can tell: answers it has not
 * acknowledged yet (StatSN - its ExpStatSN) plus tasks still here. Behind a deep queue the
 * reactor may wait a little before reading again, to handle several commands per wakeup.
 */
static void rx_note_queue_depth(struct iscsi_conn *c)
{
	uint32_t unacked = c->stat_sn - get_be32(c->rx.hdr + 28);
	uint32_t here = c->nr_tasks - c->free_task_count;

	if (unacked <= ISCSI_DEF_MAX_QUEUE_CMD && unacked + here >= RX_COALESCE_DEPTH)
		reactor_coalesce_hint(c->reactor);
}

static uint8_t *rx_ffp_start(struct iscsi_conn *c)
{
	switch (c->rx.info.opcode) {
	case ISCSI_OP_SCSI_CMD:
		rx_note_queue_depth(c);
		return iscsi_cmd_rx_start(c);
	case ISCSI_OP_DATA_OUT:
		return iscsi_dataout_rx_start(c);
	case ISCSI_OP_NOP_OUT:
	case ISCSI_OP_TEXT_REQ:
		return iscsi_rx_scratch(c, c->rx.info.dsl);
	case ISCSI_OP_TMF_REQ:
	case ISCSI_OP_LOGOUT_REQ:
	case ISCSI_OP_SNACK:
	case ISCSI_OP_LOGIN_REQ:
	default:
		return NULL;
	}
}

/*
 * The header (BHS, AHS, digest) is complete: check it and pick the data destination.
 * Returns 0 or a negative errno that drops the connection.
 */
static int rx_hdr_done(struct iscsi_conn *c)
{
	struct iscsi_rx *rx = &c->rx;
	uint32_t hlen = ISCSI_BHS_LEN + rx->info.ahs_len;
	uint32_t max_dsl = c->state == ISCSI_CONN_LOGIN ? ISCSI_LOGIN_DSL_MAX : c->max_recv_dsl;

	if (c->hdigest && iscsi_digest(rx->hdr, hlen) != iscsi_digest_get(rx->hdr + hlen)) {
		iscsi_stat_add(&c->stats.digest_errors, 1);
		iscsi_conn_log(c, LOG_LVL_WARN, "event=digest_error digest=header action=drop");
		return -EBADMSG; /* ERL 0: the framing can no longer be trusted (§7.8) */
	}
	rx->dst = NULL;
	rx->task = NULL;
	rx->dhave = 0;
	rx->tail_have = 0;
	rx->reject = 0;
	rx->ddigest = c->ddigest && rx->info.dsl;
	rx->tail_need = (uint8_t)(iscsi_pad_len(rx->info.dsl) + (rx->ddigest ? 4 : 0));
	if (c->state == ISCSI_CONN_LOGIN) {
		if (rx->info.opcode != ISCSI_OP_LOGIN_REQ || rx->info.dsl > max_dsl)
			return -EPROTO; /* §6.3: only Login Requests before the FFP */
		rx->dst = iscsi_login_rx_start(c);
		return rx->dst || !rx->info.dsl ? 0 : -ENOMEM;
	}
	if (rx->bad_opcode) {
		rx->reject = ISCSI_REJECT_CMD_NOT_SUPP;
		return 0;
	}
	if (rx->info.dsl > max_dsl) {
		rx->reject = ISCSI_REJECT_PROTOCOL;
		return 0;
	}
	if (!list_empty(&c->parked) && rx->info.opcode != ISCSI_OP_SNACK)
		iscsi_recovery_exp_stat_sn(c, get_be32(rx->hdr + 28)); /* frees acknowledged */
	rx->dst = rx_ffp_start(c);
	return 0;
}

static bool rx_data_digest_ok(struct iscsi_rx *rx)
{
	uint32_t pad = iscsi_pad_len(rx->info.dsl);
	uint32_t crc;

	if (!rx->ddigest || !rx->dst)
		return true;
	crc = crc32c(0, rx->dst, rx->info.dsl);
	crc = crc32c(crc, rx->tail, pad);
	return crc == iscsi_digest_get(rx->tail + pad);
}

/* A non-SCSI PDU in the full feature phase: CmdSN order, then its handler. */
static int rx_ctl_end(struct iscsi_conn *c, bool digest_ok)
{
	struct iscsi_rx *rx = &c->rx;
	const uint8_t *bhs = rx->hdr;
	uint32_t cmd_sn = get_be32(bhs + 24);
	struct iscsi_task *t;
	int ret;

	if (!digest_ok) {
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_DATA_DIGEST);
		return 0;
	}
	if (rx->info.opcode == ISCSI_OP_SNACK)
		return iscsi_recovery_snack(c, bhs); /* recovery.c; rejected at ERL 0 */
	if (rx->info.opcode == ISCSI_OP_LOGIN_REQ) {
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_PROTOCOL);
		return 0;
	}
	if (rx->info.immediate ||
	    (rx->info.opcode == ISCSI_OP_NOP_OUT && get_be32(bhs + 16) == ISCSI_RSVD_TAG))
		return iscsi_conn_ctl_dispatch(c, bhs, rx->dst);
	if (iscsi_sess_cmd_sn_check(c->sess, cmd_sn)) {
		conn_dbg(c, "CmdSN 0x%x outside the window: ignored", cmd_sn);
		return 0;
	}
	if (cmd_sn == c->sess->exp_cmd_sn) {
		iscsi_sess_cmd_sn_advance(c->sess);
		ret = iscsi_conn_ctl_dispatch(c, bhs, rx->dst);
		if (c->state != ISCSI_CONN_CLOSED)
			iscsi_sess_deliver_pending(c->sess);
		return ret;
	}
	/* out of order: keep header and data in a task until its turn (§3.2.2.1) */
	t = iscsi_task_get(c);
	if (!t)
		return -ENOMEM;
	t->kind = ISCSI_TASK_DEFERRED;
	t->cmd_sn = cmd_sn;
	t->itt = get_be32(bhs + 16);
	memcpy(t->hdr, bhs, ISCSI_BHS_LEN);
	if (rx->info.dsl) {
		t->cmd.buf = bufpool_get(reactor_bufpool(c->reactor), rx->info.dsl, &t->buf_cap);
		if (!t->cmd.buf) {
			iscsi_task_release(t);
			return -ENOMEM;
		}
		memcpy(t->cmd.buf, rx->dst, rx->info.dsl);
		t->cmd.buf_len = rx->info.dsl;
	}
	iscsi_sess_order(c->sess, t);
	return 0;
}

static int rx_pdu_done(struct iscsi_conn *c)
{
	struct iscsi_rx *rx = &c->rx;
	bool digest_ok = rx_data_digest_ok(rx);

	iscsi_stat_add(&c->stats.pdus_in, 1);
	if (!digest_ok) {
		iscsi_stat_add(&c->stats.digest_errors, 1);
		iscsi_conn_log(c, LOG_LVL_WARN,
			       "event=digest_error digest=data opcode=0x%02x itt=0x%x",
			       rx->info.opcode, get_be32(rx->hdr + 16));
	}

	if (c->state == ISCSI_CONN_LOGIN)
		return digest_ok ? iscsi_login_rx_end(c) : -EBADMSG;
	if (rx->reject) {
		iscsi_conn_reject(c, rx->hdr, rx->reject);
		return 0;
	}
	switch (rx->info.opcode) {
	case ISCSI_OP_SCSI_CMD:
		return iscsi_cmd_rx_end(c, digest_ok);
	case ISCSI_OP_DATA_OUT:
		return iscsi_dataout_rx_end(c, digest_ok);
	default:
		return rx_ctl_end(c, digest_ok);
	}
}

/*
 * Parses what is buffered. Returns 1 when a PDU was completed, 0 when more bytes are
 * needed, or a negative errno that drops the connection.
 */
static int rx_step(struct iscsi_conn *c)
{
	struct iscsi_rx *rx = &c->rx;
	int ret;

	switch (rx->state) {
	case ISCSI_RX_BHS:
		rx->hdr_have += rx_take(rx, rx->hdr + rx->hdr_have, ISCSI_BHS_LEN - rx->hdr_have);
		if (rx->hdr_have < ISCSI_BHS_LEN)
			return 0;
		rx->bad_opcode = iscsi_bhs_check(rx->hdr, ISCSI_DSL_MAX, &rx->info) == -EBADMSG;
		rx->hdr_need = ISCSI_BHS_LEN + rx->info.ahs_len + (c->hdigest ? ISCSI_DIGEST_LEN : 0);
		rx->state = ISCSI_RX_HDR_REST;
		fallthrough;
	case ISCSI_RX_HDR_REST:
		rx->hdr_have += rx_take(rx, rx->hdr + rx->hdr_have, rx->hdr_need - rx->hdr_have);
		if (rx->hdr_have < rx->hdr_need)
			return 0;
		ret = rx_hdr_done(c);
		if (ret < 0)
			return ret;
		rx->state = ISCSI_RX_DATA;
		fallthrough;
	case ISCSI_RX_DATA:
		rx->dhave += rx_take(rx, rx->dst ? rx->dst + rx->dhave : NULL,
				     rx->info.dsl - rx->dhave);
		if (rx->dhave < rx->info.dsl)
			return 0;
		rx->state = ISCSI_RX_TAIL;
		fallthrough;
	case ISCSI_RX_TAIL:
		rx->tail_have += (uint8_t)rx_take(rx, rx->tail + rx->tail_have,
						  rx->tail_need - rx->tail_have);
		if (rx->tail_have < rx->tail_need)
			return 0;
		ret = rx_pdu_done(c);
		rx->large = rx->info.dsl >= RX_LARGE_DSL && rx->dst;
		rx->state = ISCSI_RX_BHS;
		rx->hdr_have = 0;
		rx->dst = NULL;
		rx->task = NULL;
		return ret < 0 ? ret : 1;
	}
	return -EINVAL;
}

/*
 * How much to read ahead: while a large segment is received directly, only its tail and the
 * next header; before the header that follows one, only that header; otherwise everything.
 */
static size_t rx_ahead_max(const struct iscsi_conn *c, bool in_data)
{
	const struct iscsi_rx *rx = &c->rx;
	size_t hdr = ISCSI_BHS_LEN + (c->hdigest ? ISCSI_DIGEST_LEN : 0);

	if (in_data)
		return rx->info.dsl >= RX_LARGE_DSL ? rx->tail_need + hdr : SIZE_MAX;
	return rx->large && rx->state == ISCSI_RX_BHS && rx->hdr_have == 0 ? hdr : SIZE_MAX;
}

/*
 * Reads from the socket: straight into the data destination when the buffer is empty.
 * *drained is set when the read came back short: the socket had no more bytes, so asking
 * again would only return EAGAIN (the watch is level-triggered and reports new bytes).
 */
static ssize_t rx_fill(struct iscsi_conn *c, bool *drained)
{
	struct iscsi_rx *rx = &c->rx;
	struct iovec iov[2];
	size_t want = 0;
	int n = 0;
	ssize_t got;

	if (rx->start == rx->end) {
		rx->start = 0;
		rx->end = 0;
	} else if (rx->end == rx->buf_cap) {
		memmove(rx->buf, rx->buf + rx->start, rx->end - rx->start);
		rx->end -= rx->start;
		rx->start = 0;
	}
	if (rx->state == ISCSI_RX_DATA && rx->dst && rx->start == rx->end) {
		iov[n].iov_base = rx->dst + rx->dhave;
		iov[n++].iov_len = rx->info.dsl - rx->dhave;
	}
	iov[n].iov_base = rx->buf + rx->end;
	iov[n++].iov_len = rx->buf_cap - rx->end;
	iov[n - 1].iov_len = MIN(iov[n - 1].iov_len, rx_ahead_max(c, n == 2));
	for (int i = 0; i < n; i++)
		want += iov[i].iov_len;
	got = c->xport->recv(c, iov, n);
	if (got < 0)
		return (int)got;
	*drained = (size_t)got < want;
	iscsi_stat_add(&c->stats.bytes_in, (uint64_t)got);
	if (n == 2) {
		size_t direct = MIN((size_t)got, iov[0].iov_len);

		rx->dhave += (uint32_t)direct;
		rx->end += (uint32_t)((size_t)got - direct);
	} else {
		rx->end += (uint32_t)got;
	}
	return got;
}

/* Is there room to start another PDU (a task and control PDUs for the answers)? */
static bool rx_can_start(struct iscsi_conn *c)
{
	if (c->state != ISCSI_CONN_FFP)
		return true;
	if (!c->free_task_count && !list_empty(&c->parked))
		iscsi_recovery_reclaim(c); /* ERL >= 1: kept reads never stall the receive path */
	return c->free_task_count > 0 && c->free_ctl_count > 2;
}

static void rx_pause(struct iscsi_conn *c)
{
	c->rx.paused = true;
	reactor_watch_mod(c->reactor, &c->watch, c->want_out ? EPOLLOUT : 0);
	conn_dbg(c, "receive paused: out of tasks");
}

static void rx_deferred(struct reactor_msg *m)
{
	struct iscsi_conn *c = container_of(m, struct iscsi_conn, rx_msg);

	c->rx.defer_armed = false;
	if (c->state == ISCSI_CONN_CLOSED)
		iscsi_conn_maybe_free(c);
	else
		iscsi_conn_rx_run(c);
}

static void rx_continue_later(struct iscsi_conn *c)
{
	if (c->rx.defer_armed)
		return;
	c->rx.defer_armed = true;
	reactor_defer(c->reactor, &c->rx_msg, rx_deferred);
}

void iscsi_conn_rx_resume(struct iscsi_conn *c)
{
	if (!c->rx.paused || c->state != ISCSI_CONN_FFP || !rx_can_start(c))
		return;
	c->rx.paused = false;
	reactor_watch_mod(c->reactor, &c->watch, EPOLLIN | (c->want_out ? EPOLLOUT : 0));
	rx_continue_later(c);
}

void iscsi_conn_rx_run(struct iscsi_conn *c)
{
	unsigned int pdus = 0, reads = 0;
	bool drained = false;

	while (pdus < ISCSI_RX_PDU_BUDGET) {
		ssize_t got;
		int ret;

		if (c->state != ISCSI_CONN_LOGIN && c->state != ISCSI_CONN_FFP)
			return;
		if (c->rx.paused)
			return;
		if (c->rx.state == ISCSI_RX_BHS && c->rx.hdr_have == 0 && !rx_can_start(c)) {
			rx_pause(c);
			return;
		}
		ret = rx_step(c);
		if (ret < 0) {
			iscsi_conn_close(c, ret == -EPROTO ? "protocol error" : "receive error");
			return;
		}
		if (ret > 0) {
			pdus++;
			continue;
		}
		if (drained)
			return; /* the socket is empty: wait for the watch */
		if (reads++ >= RX_READ_BUDGET)
			break;
		got = rx_fill(c, &drained);
		if (got == -EAGAIN)
			return;
		if (got <= 0) {
			iscsi_conn_close(c, got == 0 ? "connection closed by peer" : "receive error");
			return;
		}
	}
	rx_continue_later(c);
}
