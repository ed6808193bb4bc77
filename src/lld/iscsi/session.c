/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sessions: creation at the end of a login (TSIH, I_T nexus, reinstatement of an older
 * session with the same InitiatorName and ISID), the CmdSN window and in-order delivery of
 * non-immediate commands (§4.2.2), and the nexus ops the core calls from any thread.
 *
 * A session lives on its connection's reactor (MaxConnections is 1). lld->lock guards the
 * session table; refs keeps the memory alive for messages from other threads: the
 * connection holds one reference, each message in flight another.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sess_msg {
	struct reactor_msg m;
	struct iscsi_sess *s;
	uint64_t lun;
	unsigned int gen;                /* lld->reset_gen of an abort_lu */
};

void iscsi_sess_get(struct iscsi_sess *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void iscsi_sess_put(struct iscsi_sess *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		free(s);
}

/* ---- messages from other threads (run on the session's reactor) ---- */

static void sess_close_msg(struct reactor_msg *m)
{
	struct sess_msg *sm = container_of(m, struct sess_msg, m);
	struct iscsi_sess *s = sm->s;

	struct iscsi_conn *c = s->conn;

	if (c && c->state == ISCSI_CONN_FFP && s->tgt && s->tgt->deleted && !c->async_sent) {
		/* target removed: ask the initiator to log out (§11.9.1), drop it after a while */
		iscsi_async_logout_send(c, ISCSI_TGT_GONE_GRACE_S);
		reactor_timer_arm(c->reactor, &c->timer, ISCSI_TGT_GONE_GRACE_S * 1000u + 1000u);
	} else if (c) {
		iscsi_conn_close(c, "session closed");
	}
	iscsi_sess_put(s);
	free(sm);
}

static void sess_abort_lu_msg(struct reactor_msg *m)
{
	struct sess_msg *sm = container_of(m, struct sess_msg, m);
	struct iscsi_sess *s = sm->s;

	if (s->conn && s->conn->state == ISCSI_CONN_FFP)
		iscsi_tmf_abort_lun_before(s->conn, sm->lun, sm->gen);
	iscsi_sess_put(s);
	free(sm);
}

/* Slow path: allocates the message. The caller guarantees s is alive (a reference). */
static void sess_post(struct iscsi_sess *s, reactor_msg_fn fn, uint64_t lun, unsigned int gen)
{
	struct sess_msg *sm = calloc(1, sizeof(*sm));

	if (!sm) {
		log_err("iscsi: no memory to reach session %u", s->tsih);
		return;
	}
	iscsi_sess_get(s);
	sm->s = s;
	sm->lun = lun;
	sm->gen = gen;
	reactor_msg_send(s->reactor, &sm->m, fn);
}

/* Called under tgt->lock (read) by the core: n, and so its session, cannot go away. */
static void sess_nexus_close(struct core_nexus *n, uint32_t cid, bool all)
{
	struct iscsi_sess *s = n->lld_priv;

	(void)cid;
	(void)all; /* one connection per session: closing it closes the session */
	if (s)
		sess_post(s, sess_close_msg, 0, 0);
}

static void sess_nexus_abort_lu(struct core_nexus *n, uint64_t lun)
{
	struct iscsi_sess *s = n->lld_priv;

	/* tasks that reach the session after this point are newer than the reset */
	if (s)
		sess_post(s, sess_abort_lu_msg, lun,
			  atomic_fetch_add(&s->lld->reset_gen, 1) + 1);
}

static const struct core_nexus_ops iscsi_nexus_ops = {
	.close = sess_nexus_close,
	.abort_lu = sess_nexus_abort_lu,
};

/* ---- table ---- */

static bool sess_same_nexus(const struct iscsi_sess *s, struct core_target *tgt,
			    const char *initiator, const uint8_t *isid)
{
	return !s->discovery && s->tgt == tgt && !memcmp(s->isid, isid, 6) &&
	       !strcmp(s->initiator, initiator);
}

bool iscsi_sess_exists(struct iscsi_lld *lld, struct core_target *tgt, const char *initiator,
		       const uint8_t *isid, uint16_t tsih)
{
	struct iscsi_sess *s;
	bool found = false;

	pthread_mutex_lock(&lld->lock);
	list_for_each_entry(s, &lld->sessions, entry) {
		if (s->tsih == tsih && sess_same_nexus(s, tgt, initiator, isid)) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&lld->lock);
	return found;
}

/* lld->lock held. TSIH 0 is reserved (§11.12.3). */
static uint16_t sess_tsih_alloc_locked(struct iscsi_lld *lld)
{
	for (unsigned int tries = 0; tries < 65536; tries++) {
		uint16_t tsih = lld->next_tsih++;
		struct iscsi_sess *s;
		bool used = false;

		if (tsih == 0)
			continue;
		list_for_each_entry(s, &lld->sessions, entry) {
			if (s->tsih == tsih) {
				used = true;
				break;
			}
		}
		if (!used)
			return tsih;
	}
	return 0;
}

/* Links s with a fresh TSIH; returns the session it reinstates (referenced) or NULL. */
static void sess_nop_msg(struct reactor_msg *m)
{
	struct sess_msg *sm = container_of(m, struct sess_msg, m);
	struct iscsi_sess *s = sm->s;
	struct iscsi_conn *c = s->conn;
	unsigned int interval, count;

	if (c && c->state == ISCSI_CONN_FFP && s->tgt) {
		iscsi_target_nop(s->tgt, &interval, &count);
		c->nop_interval_s = interval;
		c->nop_count = count;
		c->nop_missed = 0;
		reactor_timer_cancel(c->reactor, &c->nop_timer);
		iscsi_nop_start(c);
	}
	iscsi_sess_put(s);
	free(sm);
}

void iscsi_sess_nop_update(struct iscsi_lld *lld, struct core_target *tgt)
{
	struct iscsi_sess *s;

	pthread_mutex_lock(&lld->lock);
	list_for_each_entry(s, &lld->sessions, entry) {
		if (s->tgt == tgt)
			sess_post(s, sess_nop_msg, 0, 0);
	}
	pthread_mutex_unlock(&lld->lock);
}

static struct iscsi_sess *sess_link(struct iscsi_sess *s, int *err)
{
	struct iscsi_lld *lld = s->lld;
	struct iscsi_sess *old = NULL, *pos;

	pthread_mutex_lock(&lld->lock);
	if (!s->discovery) {
		list_for_each_entry(pos, &lld->sessions, entry) {
			if (sess_same_nexus(pos, s->tgt, s->initiator, s->isid)) {
				old = pos;
				break;
			}
		}
	}
	if (old) {
		list_del(&old->entry);
		old->linked = false;
		iscsi_sess_get(old);
	}
	s->tsih = sess_tsih_alloc_locked(lld);
	if (s->tsih) {
		list_add_tail(&s->entry, &lld->sessions);
		s->linked = true;
	}
	pthread_mutex_unlock(&lld->lock);
	*err = s->tsih ? 0 : -EBUSY;
	return old;
}

static void sess_unlink(struct iscsi_sess *s)
{
	pthread_mutex_lock(&s->lld->lock);
	if (s->linked) {
		list_del(&s->entry);
		s->linked = false;
	}
	pthread_mutex_unlock(&s->lld->lock);
}

static int sess_nexus_setup(struct iscsi_sess *s, struct iscsi_conn *c)
{
	char addr[64];
	size_t off;
	int ret;

	ret = core_nexus_new(s->tgt, s->tsih, s->initiator, &iscsi_nexus_ops, &s->nexus);
	if (ret < 0)
		return ret;
	s->nexus->lld_priv = s;
	if (s->alias[0])
		str_copy(s->nexus->alias, s->alias, sizeof(s->nexus->alias));
	off = 0;
	str_appendf(s->nexus->transport_id, sizeof(s->nexus->transport_id), &off, "%s,i,0x",
		    s->initiator);
	for (int i = 0; i < 6; i++)
		str_appendf(s->nexus->transport_id, sizeof(s->nexus->transport_id), &off, "%02x",
			    s->isid[i]);
	iscsi_sockaddr_str((struct sockaddr *)&c->peer, addr, sizeof(addr), false);
	core_nexus_conn_add(s->nexus, c->cid, addr);
	return 0;
}

int iscsi_sess_create(struct iscsi_conn *c, struct core_target *tgt, const char *initiator,
		      const char *alias, const uint8_t *isid, bool discovery,
		      const struct iscsi_params *p, uint32_t exp_cmd_sn)
{
	struct iscsi_sess *s = calloc(1, sizeof(*s)), *old;
	int ret;

	if (!s)
		return -ENOMEM;
	s->lld = c->lld;
	atomic_init(&s->refs, 1);
	s->reactor = c->reactor;
	s->discovery = discovery;
	s->tgt = tgt;
	str_copy(s->initiator, initiator, sizeof(s->initiator));
	str_copy(s->alias, alias ? alias : "", sizeof(s->alias));
	memcpy(s->isid, isid, 6);
	s->p = *p;
	s->exp_cmd_sn = exp_cmd_sn;
	s->queue_cmd = p->v[ISCSI_PARAM_MAX_QUEUE_CMD];
	s->max_cmd_sn = exp_cmd_sn - 1 + s->queue_cmd;
	list_init(&s->pending);
	list_init(&s->entry);
	old = sess_link(s, &ret);
	if (old) {
		iscsi_conn_log(c, LOG_LVL_INFO, "reinstating session %u", old->tsih);
		sess_post(old, sess_close_msg, 0, 0);
		iscsi_sess_put(old);
	}
	if (ret < 0)
		goto err_free;
	if (tgt) {
		core_target_get(tgt);
		ret = sess_nexus_setup(s, c);
		if (ret < 0) {
			core_target_put(tgt);
			sess_unlink(s);
			goto err_free;
		}
	}
	s->conn = c;
	c->sess = s;
	return 0;

err_free:
	free(s);
	return ret;
}

void iscsi_sess_conn_gone(struct iscsi_sess *s)
{
	s->closing = true;
	sess_unlink(s);
	if (s->nexus && s->conn)
		core_nexus_conn_del(s->nexus, s->conn->cid);
}

void iscsi_sess_release(struct iscsi_sess *s)
{
	if (s->nexus) {
		/* waits for core callers holding tgt->lock, so no nexus op runs after this */
		core_nexus_free(s->nexus);
		s->nexus = NULL;
	}
	if (s->tgt) {
		core_target_put(s->tgt);
		s->tgt = NULL;
	}
	s->conn = NULL;
}

/* ---- CmdSN window (§4.2.2.1) ---- */

uint32_t iscsi_sess_max_cmd_sn(struct iscsi_sess *s)
{
	uint32_t free_slots = s->queue_cmd > s->busy ? s->queue_cmd - s->busy : 0;
	uint32_t max = s->exp_cmd_sn - 1 + free_slots;

	/* MaxCmdSN never moves backwards */
	if (sn_gt(max, s->max_cmd_sn))
		s->max_cmd_sn = max;
	return s->max_cmd_sn;
}

int iscsi_sess_cmd_sn_check(struct iscsi_sess *s, uint32_t cmd_sn)
{
	if (sn_lt(cmd_sn, s->exp_cmd_sn) || sn_gt(cmd_sn, iscsi_sess_max_cmd_sn(s)))
		return -ERANGE;
	return 0;
}

void iscsi_sess_cmd_sn_advance(struct iscsi_sess *s)
{
	s->exp_cmd_sn++;
}

void iscsi_sess_deliver_pending(struct iscsi_sess *s)
{
	while (!list_empty(&s->pending) && s->conn) {
		struct iscsi_task *t = list_first_entry(&s->pending, struct iscsi_task, entry);

		if (t->cmd_sn != s->exp_cmd_sn)
			break;
		list_del(&t->entry);
		list_add_tail(&t->entry, &t->conn->tasks);
		s->exp_cmd_sn++;
		iscsi_task_deliver(t);
	}
}

void iscsi_sess_order(struct iscsi_sess *s, struct iscsi_task *t)
{
	struct iscsi_task *pos;

	if (t->cmd_sn == s->exp_cmd_sn) {
		s->exp_cmd_sn++;
		iscsi_task_deliver(t);
		iscsi_sess_deliver_pending(s);
		return;
	}
	if (sn_lt(t->cmd_sn, s->exp_cmd_sn)) {
		/* its CmdSN was taken as received meanwhile (ABORT TASK of a lost command) */
		iscsi_task_release(t);
		return;
	}
	list_del(&t->entry); /* from conn->tasks: pending tasks live on s->pending */
	t->state = ISCSI_TASK_PENDING;
	list_for_each_entry(pos, &s->pending, entry) {
		if (pos->cmd_sn == t->cmd_sn) {
			conn_dbg(t->conn, "duplicate CmdSN 0x%x dropped", t->cmd_sn);
			list_add(&t->entry, &t->conn->tasks);
			iscsi_task_release(t);
			return;
		}
		if (sn_gt(pos->cmd_sn, t->cmd_sn)) {
			list_add_tail(&t->entry, &pos->entry);
			return;
		}
	}
	list_add_tail(&t->entry, &s->pending);
}
