/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sessions: creation at the end of a login (TSIH, I_T nexus, reinstatement of an older
 * session with the same InitiatorName and ISID), the CmdSN window and in-order delivery of
 * non-immediate commands (§4.2.2), and the nexus ops the core calls from any thread.
 *
 * A session lives on one reactor with all its connections (up to MaxConnections; a login
 * with its TSIH arriving elsewhere is handed over, conn.c): one CmdSN window and pending list,
 * StatSN and tasks per connection. lld->lock guards the session table; refs keeps the memory
 * alive for messages from other threads: each connection holds one reference, each message
 * in flight another.
 *
 * A connection is on exactly one of the session's lists until it is freed: conns (not torn
 * down), retained (ERL 2: failed, tasks kept for TASK REASSIGN) or dying (gone, tasks still in
 * the core), or on none once the core returned everything. Whatever may point into a
 * connection (a task's TMF) is looked up over all three before it is freed.
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

/* Closes one connection (cid) or all; on target removal asks for a logout first. */
static void sess_close_conn(struct iscsi_sess *s, struct iscsi_conn *c)
{
	c->no_retain = true;
	if (c->state == ISCSI_CONN_FFP && s->tgt && s->tgt->deleted && !c->async_sent) {
		/* target removed: ask the initiator to log out (§11.9.1), drop it after a while */
		iscsi_async_logout_send(c, ISCSI_TGT_GONE_GRACE_S);
		reactor_timer_arm(c->reactor, &c->timer, ISCSI_TGT_GONE_GRACE_S * 1000u + 1000u);
	} else {
		iscsi_conn_close(c, "session closed");
	}
}

static void sess_close_msg(struct reactor_msg *m)
{
	struct sess_msg *sm = container_of(m, struct sess_msg, m);
	struct iscsi_sess *s = sm->s;
	struct iscsi_conn *c, *tmp;

	list_for_each_entry_safe(c, tmp, &s->conns, sess_entry) {
		if (sm->lun == UINT64_MAX || c->cid == sm->lun)
			sess_close_conn(s, c);
	}
	list_for_each_entry_safe(c, tmp, &s->retained, sess_entry) {
		if (sm->lun == UINT64_MAX || c->cid == sm->lun)
			iscsi_sess_retain_end(c);
	}
	iscsi_sess_put(s);
	free(sm);
}

static void sess_abort_lu_msg(struct reactor_msg *m)
{
	struct sess_msg *sm = container_of(m, struct sess_msg, m);
	struct iscsi_sess *s = sm->s;
	struct iscsi_conn *c;

	/* tmf.c walks every connection of the session from any one of them */
	list_for_each_entry(c, &s->conns, sess_entry) {
		if (c->state == ISCSI_CONN_FFP) {
			iscsi_tmf_abort_lun_before(c, sm->lun, sm->gen);
			break;
		}
	}
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

	/* lun carries the CID to close, UINT64_MAX for all */
	if (s)
		sess_post(s, sess_close_msg, all ? UINT64_MAX : cid, 0);
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

/* The I_T nexus: initiator port (name + ISID) and target port (target + TPGT), RFC 7143 §4.4. */
static bool sess_same_nexus(const struct iscsi_sess *s, struct core_target *tgt, uint16_t tpgt,
			    const char *initiator, const uint8_t *isid)
{
	return !s->discovery && s->tgt == tgt && s->tpgt == tpgt && !memcmp(s->isid, isid, 6) &&
	       !strcmp(s->initiator, initiator);
}

struct iscsi_sess *iscsi_sess_find(struct iscsi_lld *lld, struct core_target *tgt,
				   uint16_t tpgt, const char *initiator, const uint8_t *isid,
				   uint16_t tsih, bool *other_tpgt)
{
	struct iscsi_sess *s, *found = NULL;

	*other_tpgt = false;
	pthread_mutex_lock(&lld->lock);
	list_for_each_entry(s, &lld->sessions, entry) {
		if (s->tsih != tsih)
			continue; /* a closing session is unlinked; conn_check refuses it meanwhile */
		if (sess_same_nexus(s, tgt, tpgt, initiator, isid)) {
			iscsi_sess_get(s);
			found = s;
			break;
		}
		if (sess_same_nexus(s, tgt, s->tpgt, initiator, isid))
			*other_tpgt = true; /* the session lives in another portal group */
	}
	pthread_mutex_unlock(&lld->lock);
	return found;
}

struct reactor *iscsi_sess_tsih_reactor(struct iscsi_lld *lld, uint16_t tsih)
{
	struct reactor *r = NULL;
	struct iscsi_sess *s;

	pthread_mutex_lock(&lld->lock);
	list_for_each_entry(s, &lld->sessions, entry) {
		if (s->tsih == tsih && !s->discovery) {
			r = s->reactor;
			break;
		}
	}
	pthread_mutex_unlock(&lld->lock);
	return r;
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
	unsigned int interval, count;
	struct iscsi_conn *c;

	list_for_each_entry(c, &s->conns, sess_entry) {
		if (c->state != ISCSI_CONN_FFP || !s->tgt)
			continue;
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

/* Links s (and unlinks the session it reinstates); *err -EUSERS at the target's max_sessions. */
static struct iscsi_sess *sess_link(struct iscsi_sess *s, int *err)
{
	struct iscsi_lld *lld = s->lld;
	struct iscsi_sess *old = NULL, *pos;
	uint32_t max = s->p.v[ISCSI_PARAM_MAX_SESSIONS], nr = 0;

	pthread_mutex_lock(&lld->lock);
	if (!s->discovery) {
		list_for_each_entry(pos, &lld->sessions, entry) {
			if (!pos->discovery && pos->tgt == s->tgt)
				nr++;
			if (!old && sess_same_nexus(pos, s->tgt, s->tpgt, s->initiator, s->isid))
				old = pos;
		}
	}
	if (!old && max && nr >= max) {
		pthread_mutex_unlock(&lld->lock);
		*err = -EUSERS;
		return NULL;
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
	s->nexus->tpgt = s->tpgt;
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
	s->tpgt = c->tpgt;
	s->p = *p;
	s->exp_cmd_sn = exp_cmd_sn;
	s->queue_cmd = p->v[ISCSI_PARAM_MAX_QUEUE_CMD];
	s->max_cmd_sn = exp_cmd_sn - 1 + s->queue_cmd;
	list_init(&s->pending);
	list_init(&s->conns);
	list_init(&s->retained);
	list_init(&s->dying);
	list_init(&s->entry);
	old = sess_link(s, &ret);
	if (old) {
		iscsi_conn_log(c, LOG_LVL_INFO, "reinstating session %u", old->tsih);
		sess_post(old, sess_close_msg, UINT64_MAX, 0);
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
	list_add_tail(&c->sess_entry, &s->conns);
	s->nr_conns = 1;
	s->nr_attached = 1;
	c->sess = s;
	return 0;

err_free:
	free(s);
	return ret;
}

/* ---- connections of a session ---- */

uint16_t iscsi_sess_conn_check(struct iscsi_sess *s, uint16_t cid)
{
	unsigned int max = MIN(s->p.v[ISCSI_PARAM_MAX_CONNECTIONS], (uint32_t)CORE_NEXUS_MAX_CONN);

	if (s->closing || s->discovery)
		return ISCSI_LOGIN_NO_SESSION;
	/* a login with the CID of a live connection reinstates it (§6.3.4): no new slot */
	if (iscsi_sess_conn_find(s, cid))
		return ISCSI_LOGIN_OK;
	return s->nr_conns < max ? ISCSI_LOGIN_OK : ISCSI_LOGIN_TOO_MANY_CONNS;
}

int iscsi_sess_conn_add(struct iscsi_sess *s, struct iscsi_conn *c)
{
	struct iscsi_conn *old, *tmp;
	char addr[64];

	if (s->reactor != c->reactor || iscsi_sess_conn_check(s, c->cid))
		return -EBUSY;
	iscsi_sess_get(s);
	c->sess = s;
	list_add_tail(&c->sess_entry, &s->conns);
	s->nr_conns++;
	s->nr_attached++;
	list_for_each_entry_safe(old, tmp, &s->conns, sess_entry) {
		if (old != c && old->cid == c->cid) {
			iscsi_conn_log(c, LOG_LVL_INFO, "event=conn_reinstate cid=%u", c->cid);
			iscsi_conn_close(old, "connection reinstated");
		}
	}
	iscsi_sockaddr_str((struct sockaddr *)&c->peer, addr, sizeof(addr), false);
	if (s->nexus)
		core_nexus_conn_add(s->nexus, c->cid, addr);
	return 0;
}

struct iscsi_conn *iscsi_sess_conn_find(struct iscsi_sess *s, uint16_t cid)
{
	struct iscsi_conn *c;

	list_for_each_entry(c, &s->conns, sess_entry) {
		if (c->cid == cid && c->state == ISCSI_CONN_FFP)
			return c;
	}
	return NULL;
}

struct iscsi_task *iscsi_sess_find_itt(struct iscsi_sess *s, uint32_t itt)
{
	struct iscsi_conn *c;
	struct iscsi_task *t;

	list_for_each_entry(c, &s->conns, sess_entry) {
		if (c->nr_tasks && (t = iscsi_task_find_itt(c, itt)))
			return t;
	}
	return NULL;
}

static bool sess_itt_busy_in(struct list_head *conns, const struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_conn *o;

	list_for_each_entry(o, conns, sess_entry) {
		if (o != c && o->nr_tasks && iscsi_task_find_itt(o, itt))
			return true;
	}
	return false;
}

bool iscsi_sess_itt_busy(struct iscsi_sess *s, const struct iscsi_conn *c, uint32_t itt)
{
	/* one connection: its own table is the session's (the fast path costs two loads) */
	if (likely(s->nr_conns < 2 && !s->nr_retained))
		return false;
	return sess_itt_busy_in(&s->conns, c, itt) || sess_itt_busy_in(&s->retained, c, itt);
}

void iscsi_sess_close_conns(struct iscsi_sess *s, struct iscsi_conn *keep, const char *why)
{
	struct iscsi_conn *c, *tmp;

	list_for_each_entry_safe(c, tmp, &s->conns, sess_entry) {
		if (c != keep) {
			c->no_retain = true;
			iscsi_conn_close(c, why);
		}
	}
	list_for_each_entry_safe(c, tmp, &s->retained, sess_entry)
		iscsi_sess_retain_end(c);
}

/* The failed connection's pending tasks leave, their CmdSNs stay taken (no gap forever). */
static void sess_skip_add(struct iscsi_sess *s, uint32_t cmd_sn)
{
	if (s->nr_skip < ISCSI_MAX_QUEUE_CMD)
		s->skip[s->nr_skip++] = cmd_sn;
}

static bool sess_skip_take(struct iscsi_sess *s, uint32_t cmd_sn)
{
	for (unsigned int i = 0; i < s->nr_skip; i++) {
		if (s->skip[i] == cmd_sn) {
			s->skip[i] = s->skip[--s->nr_skip];
			return true;
		}
	}
	return false;
}

/* Tasks of other connections that wait on a TMF of c must not point at it any more. */
static void sess_tmf_forget_in(struct list_head *conns, struct iscsi_conn *c)
{
	struct iscsi_conn *o;
	struct iscsi_task *t;

	list_for_each_entry(o, conns, sess_entry) {
		list_for_each_entry(t, &o->tasks, entry) {
			if (t->tmf && t->tmf->conn == c) {
				t->tmf = NULL;
				t->reassign = false;
			}
		}
	}
}

/*
 * Every connection whose tasks may point at c's TMFs: live, retained and dying ones. A dying
 * connection (dropped or no longer retained) keeps its aborted tasks in the core and is freed
 * only after them, possibly after c: their completion must not reach c's freed TMF.
 */
static void sess_tmf_forget(struct iscsi_sess *s, struct iscsi_conn *c)
{
	sess_tmf_forget_in(&s->conns, c);
	sess_tmf_forget_in(&s->retained, c);
	sess_tmf_forget_in(&s->dying, c);
}

/* c left conns or retained: while the core holds some of its tasks it stays on s->dying. */
static void sess_conn_dying(struct iscsi_sess *s, struct iscsi_conn *c)
{
	if (c->core_busy)
		list_add_tail(&c->sess_entry, &s->dying);
}

void iscsi_sess_conn_idle(struct iscsi_conn *c)
{
	if (c->sess && c->state == ISCSI_CONN_CLOSED && !c->retained && !c->core_busy) {
		list_del(&c->sess_entry); /* off s->dying (a no-op on an unlinked entry) */
		list_init(&c->sess_entry);
	}
}

/* ---- ERL 2: tasks of a failed connection wait for TASK REASSIGN (§7.1.4, §11.5.1) ---- */

bool iscsi_sess_conn_retain(struct iscsi_sess *s, struct iscsi_conn *c)
{
	return !s->discovery && !s->closing && !c->no_retain && c->nr_tasks &&
	       c->state == ISCSI_CONN_CLOSED && s->p.v[ISCSI_PARAM_ERL] >= 2 &&
	       s->p.v[ISCSI_PARAM_TIME2RETAIN] && !atomic_load(&s->lld->shutting_down);
}

void iscsi_sess_retain_end(struct iscsi_conn *c)
{
	struct iscsi_sess *s = c->sess;
	struct iscsi_task *t, *tmp;

	if (!c->retained)
		return;
	c->retained = false;
	reactor_timer_cancel(c->reactor, &c->timer);
	list_del(&c->sess_entry);
	list_init(&c->sess_entry);
	s->nr_retained--;
	sess_conn_dying(s, c);
	list_for_each_entry_safe(t, tmp, &c->tasks, entry) {
		if (t->reassign && t->tmf) /* a TASK REASSIGN waited for it in vain */
			((struct iscsi_tmf_hdr *)t->tmf->out.hdr)->response = ISCSI_TMF_RSP_NO_TASK;
		t->reassign = false;
		if (t->state == ISCSI_TASK_CORE) {
			t->aborted = true;
			t->cmd.aborted = true;
		} else {
			iscsi_task_release(t);
		}
	}
	if (!s->nr_conns && !s->nr_retained && !s->closing) {
		s->closing = true;
		sess_unlink(s);
	}
	iscsi_conn_maybe_free(c);
}

void iscsi_sess_task_retained(struct iscsi_task *t)
{
	if (t->reassign && t->tmf)
		iscsi_tmf_reassign_done(t);
}

/*
 * The tasks of c (gone) still waiting for their CmdSN: their CmdSNs count as received while
 * the session lives on, so they hold no later command. At ERL 2 (c retained) the SCSI ones
 * stay with c for TASK REASSIGN until its retention ends (§7.2.2, §11.5.1), in state PENDING;
 * the others are released. The last connection takes every pending task with it.
 */
static void sess_pending_drop(struct iscsi_sess *s, struct iscsi_conn *c)
{
	bool lives = s->nr_conns || s->nr_retained;
	struct iscsi_task *t, *tmp;

	list_for_each_entry_safe(t, tmp, &s->pending, entry) {
		if (t->conn != c && s->nr_conns)
			continue;
		if (lives)
			sess_skip_add(s, t->cmd_sn);
		if (t->conn == c && c->retained && t->kind == ISCSI_TASK_SCSI && !t->aborted) {
			list_del(&t->entry);
			list_add_tail(&t->entry, &c->tasks);
			continue;
		}
		iscsi_task_release(t);
	}
}

void iscsi_sess_task_readmit(struct iscsi_sess *s, struct iscsi_task *t)
{
	t->delivered = false;
	if (sess_skip_take(s, t->cmd_sn)) {
		iscsi_sess_order(s, t); /* its turn has not come: it waits again, or goes now */
		return;
	}
	iscsi_task_deliver(t); /* its CmdSN was passed, as received, meanwhile */
}

void iscsi_sess_conn_gone(struct iscsi_sess *s, struct iscsi_conn *c)
{
	list_del(&c->sess_entry);
	s->nr_conns--;
	sess_tmf_forget(s, c);
	if (c->retained) {
		list_add_tail(&c->sess_entry, &s->retained);
		s->nr_retained++;
	} else {
		sess_conn_dying(s, c);
	}
	sess_pending_drop(s, c);
	if (s->nexus)
		core_nexus_conn_del(s->nexus, c->cid);
	if (!s->nr_conns && !s->nr_retained) {
		s->closing = true;
		sess_unlink(s);
	} else if (s->nr_conns) {
		iscsi_sess_deliver_pending(s);
	}
}

void iscsi_sess_conn_free(struct iscsi_sess *s)
{
	if (--s->nr_attached == 0)
		iscsi_sess_release(s);
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

static void sess_deliver_msg(struct reactor_msg *m)
{
	struct iscsi_sess *s = container_of(m, struct iscsi_sess, deliver_msg);

	s->deliver_armed = false;
	iscsi_sess_deliver_pending(s);
	iscsi_sess_put(s);
}

/*
 * Called while the command's header is being received: what waited behind its CmdSN runs from
 * a deferred call, never inside the receive path (a queued Logout could close this very
 * connection).
 */
void iscsi_sess_cmd_sn_take(struct iscsi_sess *s, uint32_t cmd_sn)
{
	if (cmd_sn != s->exp_cmd_sn) {
		sess_skip_add(s, cmd_sn); /* passed over when ExpCmdSN reaches it */
		return;
	}
	s->exp_cmd_sn++;
	if (s->deliver_armed || (list_empty(&s->pending) && !s->nr_skip))
		return;
	s->deliver_armed = true;
	iscsi_sess_get(s);
	reactor_defer(s->reactor, &s->deliver_msg, sess_deliver_msg);
}

void iscsi_sess_deliver_pending(struct iscsi_sess *s)
{
	while (s->nr_conns) {
		struct iscsi_task *t;

		if (s->nr_skip && sess_skip_take(s, s->exp_cmd_sn)) {
			s->exp_cmd_sn++;
			continue;
		}
		if (list_empty(&s->pending))
			break;
		t = list_first_entry(&s->pending, struct iscsi_task, entry);
		if (sn_lt(t->cmd_sn, s->exp_cmd_sn)) {
			iscsi_task_release(t); /* its CmdSN was skipped meanwhile */
			continue;
		}
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
