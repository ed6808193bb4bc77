/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lld/iscsi/introspect: what the management side may see of the data reactors without
 * touching their hot path. Per-connection counters (written by the owning reactor alone,
 * read relaxed), connection identity and in-flight command snapshots (published under
 * lld->pub_lock, a slow-path lock never taken per PDU), and the stuck-I/O watchdog: one
 * periodic timer per reactor that scans its connections' tasks (no per-command timer) and
 * logs each command older than the limit once.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WD_PERIOD_MIN_MS 50
#define WD_PERIOD_MAX_MS 1000
#define SNAP_WAIT_MS     1000
#define STUCK_DEFAULT_MS 30000

static void wd_timer_fn(struct reactor_timer *t);

void iscsi_introspect_init(struct iscsi_lld *lld)
{
	pthread_mutex_init(&lld->pub_lock, NULL);
	pthread_cond_init(&lld->pub_cond, NULL);
	atomic_init(&lld->stuck_ms, STUCK_DEFAULT_MS);
	atomic_init(&lld->stuck_total, 0);
	for (unsigned int i = 0; i < lld->nr_rs; i++)
		reactor_timer_init(&lld->rs[i].pub.wd_timer, wd_timer_fn);
}

/* The reactors no longer run (stopped, or a test's single thread): disarm from here. */
void iscsi_introspect_fini(struct iscsi_lld *lld)
{
	for (unsigned int i = 0; i < lld->nr_rs; i++) {
		if (reactor_timer_is_armed(&lld->rs[i].pub.wd_timer))
			reactor_timer_cancel(lld->rs[i].r, &lld->rs[i].pub.wd_timer);
		free(lld->rs[i].pub.snap);
	}
	pthread_cond_destroy(&lld->pub_cond);
	pthread_mutex_destroy(&lld->pub_lock);
}

void iscsi_lld_stuck_set(struct iscsi_lld *lld, unsigned int ms)
{
	atomic_store_explicit(&lld->stuck_ms, ms, memory_order_relaxed);
}

unsigned int iscsi_lld_stuck_get(struct iscsi_lld *lld)
{
	return atomic_load_explicit(&lld->stuck_ms, memory_order_relaxed);
}

uint64_t iscsi_lld_stuck_total(struct iscsi_lld *lld)
{
	return atomic_load_explicit(&lld->stuck_total, memory_order_relaxed);
}

/* Scan period: a quarter of the limit, so a command is caught at most 25% late. */
static uint64_t wd_period_ms(struct iscsi_lld *lld)
{
	unsigned int ms = iscsi_lld_stuck_get(lld);

	if (!ms)
		return WD_PERIOD_MAX_MS;
	return MIN(MAX(ms / 4, WD_PERIOD_MIN_MS), WD_PERIOD_MAX_MS);
}

/* ---- connections ---- */

void iscsi_conn_pub_attach(struct iscsi_conn *c)
{
	struct iscsi_rstate *rs = c->rs;

	pthread_mutex_lock(&c->lld->pub_lock);
	list_add_tail(&c->entry, &rs->conns);
	pthread_mutex_unlock(&c->lld->pub_lock);
	if (!rs->pub.wd_timer.fn) /* an rstate not made by iscsi_lld_new (unit tests) */
		reactor_timer_init(&rs->pub.wd_timer, wd_timer_fn);
	if (!reactor_timer_is_armed(&rs->pub.wd_timer))
		reactor_timer_arm(rs->r, &rs->pub.wd_timer, wd_period_ms(c->lld));
}

void iscsi_conn_pub_detach(struct iscsi_conn *c)
{
	pthread_mutex_lock(&c->lld->pub_lock);
	list_del(&c->entry);
	pthread_mutex_unlock(&c->lld->pub_lock);
}

void iscsi_conn_pub_ffp(struct iscsi_conn *c)
{
	struct iscsi_conn_pub *p = &c->pub;
	struct iscsi_sess *s = c->sess;

	if (!s)
		return;
	pthread_mutex_lock(&c->lld->pub_lock);
	p->ffp = true;
	p->discovery = s->discovery;
	p->tid = s->tgt ? s->tgt->tid : 0;
	p->tsih = s->tsih;
	snprintf(p->isid, sizeof(p->isid), "%02x%02x%02x%02x%02x%02x", s->isid[0], s->isid[1],
		 s->isid[2], s->isid[3], s->isid[4], s->isid[5]);
	str_copy(p->target, s->tgt ? s->tgt->name : "", sizeof(p->target));
	str_copy(p->initiator, s->initiator, sizeof(p->initiator));
	pthread_mutex_unlock(&c->lld->pub_lock);
}

/* Latency bucket as core's: bucket i counts us < 2^(i+4). */
static unsigned int lat_bucket(uint64_t us)
{
	return us < 16 ? 0 : MIN(60u - (unsigned int)__builtin_clzll(us), CORE_LAT_BUCKETS - 1u);
}

void iscsi_conn_stat_cmd(struct iscsi_conn *c, const struct iscsi_task *t)
{
	uint64_t us = (time_now_ns() - t->rx_ns) / 1000;

	iscsi_stat_add(&c->stats.cmds, 1);
	iscsi_stat_add(&c->stats.lat_sum_us, us);
	iscsi_stat_add(&c->stats.lat_hist[lat_bucket(us)], 1);
}

#define RD(f) atomic_load_explicit(&c->stats.f, memory_order_relaxed)

static void conn_info_fill(const struct iscsi_conn *c, struct iscsi_conn_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->ffp = c->pub.ffp;
	ci->discovery = c->pub.discovery;
	ci->tid = c->pub.tid;
	ci->tsih = c->pub.tsih;
	ci->cid = c->pub.ffp ? c->cid : 0;
	memcpy(ci->isid, c->pub.isid, sizeof(ci->isid));
	memcpy(ci->target, c->pub.target, sizeof(ci->target));
	memcpy(ci->initiator, c->pub.initiator, sizeof(ci->initiator));
	str_copy(ci->addr, c->peer_str, sizeof(ci->addr));
	ci->st.pdus_in = RD(pdus_in);
	ci->st.pdus_out = RD(pdus_out);
	ci->st.bytes_in = RD(bytes_in);
	ci->st.bytes_out = RD(bytes_out);
	ci->st.cmds = RD(cmds);
	ci->st.digest_errors = RD(digest_errors);
	ci->st.r2ts = RD(r2ts);
	ci->st.rejects = RD(rejects);
	ci->st.lat_sum_us = RD(lat_sum_us);
	for (unsigned int i = 0; i < CORE_LAT_BUCKETS; i++)
		ci->st.lat_hist[i] = RD(lat_hist[i]);
}

void iscsi_lld_conn_foreach(struct iscsi_lld *lld, iscsi_conn_info_fn fn, void *arg)
{
	struct iscsi_conn_info ci;
	struct iscsi_conn *c;

	pthread_mutex_lock(&lld->pub_lock);
	for (unsigned int i = 0; i < lld->nr_rs; i++) {
		list_for_each_entry(c, &lld->rs[i].conns, entry) {
			conn_info_fill(c, &ci);
			fn(&ci, arg);
		}
	}
	pthread_mutex_unlock(&lld->pub_lock);
}

/* ---- in-flight commands (on the owning reactor) ---- */

static const char *const io_op_names[] = {
	[CORE_IO_READ] = "read",
	[CORE_IO_WRITE] = "write",
	[CORE_IO_FLUSH] = "flush",
	[CORE_IO_UNMAP] = "unmap",
	[CORE_IO_WRITE_ZEROES] = "write-zeroes",
};

/* What the task waits for. The LLD sees the core only through struct scsi_cmd: io.done is
 * set (it was zeroed when the task was taken) once the device type handed I/O to a store. */
static const char *task_state_str(const struct iscsi_task *t, const char **bs_op)
{
	*bs_op = NULL;
	switch (t->state) {
	case ISCSI_TASK_PENDING:
		return "waiting for CmdSN";
	case ISCSI_TASK_DATA:
		return t->r2t_active ? "waiting for Data-Out (R2T)" : "waiting for Data-Out";
	case ISCSI_TASK_CORE:
		if (!t->cmd.io.done)
			return "in core";
		if ((unsigned int)t->cmd.io.op < ARRAY_SIZE(io_op_names))
			*bs_op = io_op_names[t->cmd.io.op];
		return "in backing store";
	case ISCSI_TASK_TX:
		return "sending response";
	case ISCSI_TASK_FREE:
	default:
		return "free";
	}
}

/*
 * The CDB's own length from its group code (SPC-4 §4.2.5.1): the iSCSI CDB field is always
 * 16 bytes, zero-padded, so cmd.cdb_len overstates short CDBs.
 */
static uint8_t cdb_len_of(const uint8_t *cdb, uint16_t field_len)
{
	static const uint8_t group_len[8] = { 6, 10, 10, 0, 16, 12, 16, 16 };
	uint8_t len = group_len[cdb[0] >> 5];

	if (!len) /* variable length: additional CDB length in byte 7 */
		return (uint8_t)MIN(8u + cdb[7], MIN(field_len, 255u));
	return (uint8_t)MIN(len, field_len);
}

static void inflight_fill(const struct iscsi_conn *c, const struct iscsi_task *t, uint64_t now,
			  struct iscsi_inflight *f)
{
	memset(f, 0, sizeof(*f));
	if (c->sess) {
		f->tid = c->sess->tgt ? c->sess->tgt->tid : 0;
		f->tsih = c->sess->tsih;
		str_copy(f->initiator, c->sess->initiator, sizeof(f->initiator));
	}
	f->cid = c->cid;
	str_copy(f->addr, c->peer_str, sizeof(f->addr));
	f->itt = t->itt;
	f->lun = t->cmd.lun;
	f->cdb_len = cdb_len_of(t->cdb, t->cmd.cdb_len);
	memcpy(f->cdb, t->cdb, MIN(sizeof(f->cdb), sizeof(t->cdb)));
	f->age_ms = now > t->rx_ns ? (now - t->rx_ns) / 1000000 : 0;
	f->state = task_state_str(t, &f->bs_op);
	if (f->bs_op) {
		f->bs_offset = t->cmd.io.offset;
		f->bs_length = t->cmd.io.length;
	}
	f->edtl = t->edtl;
	f->data_got = t->data_got;
	f->stuck = t->stuck;
}

typedef void (*task_visit_fn)(struct iscsi_conn *c, struct iscsi_task *t, uint64_t now,
			      void *arg);

/* Every SCSI task of the reactor's connections: in flight, then waiting for CmdSN order. */
static void rs_tasks_foreach(struct iscsi_rstate *rs, task_visit_fn fn, void *arg)
{
	uint64_t now = time_now_ns();
	struct iscsi_conn *c;
	struct iscsi_task *t;

	list_for_each_entry(c, &rs->conns, entry) {
		if (c->state == ISCSI_CONN_LOGIN || !c->tasks_mem)
			continue;
		list_for_each_entry(t, &c->tasks, entry)
			if (t->kind == ISCSI_TASK_SCSI && t->state != ISCSI_TASK_FREE)
				fn(c, t, now, arg);
		if (!c->sess)
			continue;
		list_for_each_entry(t, &c->sess->pending, entry)
			if (t->kind == ISCSI_TASK_SCSI && t->conn == c)
				fn(c, t, now, arg);
	}
}

static void snap_visit(struct iscsi_conn *c, struct iscsi_task *t, uint64_t now, void *arg)
{
	struct iscsi_rstate_pub *p = arg;

	if (p->nr_snap == ISCSI_SNAP_MAX) {
		p->snap_truncated = true;
		return;
	}
	inflight_fill(c, t, now, &p->snap[p->nr_snap++]);
}

static void snap_msg_fn(struct reactor_msg *m)
{
	struct iscsi_rstate *rs = container_of(m, struct iscsi_rstate, pub.snap_msg);

	pthread_mutex_lock(&rs->lld->pub_lock);
	rs->pub.nr_snap = 0;
	rs->pub.snap_truncated = false;
	if (rs->pub.snap)
		rs_tasks_foreach(rs, snap_visit, &rs->pub);
	rs->pub.snap_pending = false;
	rs->pub.snap_gen++;
	pthread_cond_broadcast(&rs->lld->pub_cond);
	pthread_mutex_unlock(&rs->lld->pub_lock);
}

/* Asks every reactor to publish; waits until all did or the deadline passed. lld->pub_lock held. */
static int snap_collect(struct iscsi_lld *lld, unsigned int *gen)
{
	struct timespec dl;
	bool all;

	for (unsigned int i = 0; i < lld->nr_rs; i++) {
		struct iscsi_rstate *rs = &lld->rs[i];

		if (!rs->pub.snap)
			rs->pub.snap = calloc(ISCSI_SNAP_MAX, sizeof(*rs->pub.snap));
		if (!rs->pub.snap)
			return -ENOMEM;
		gen[i] = rs->pub.snap_gen;
		if (!rs->pub.snap_pending) {
			rs->pub.snap_pending = true;
			reactor_msg_send(rs->r, &rs->pub.snap_msg, snap_msg_fn);
		}
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += SNAP_WAIT_MS / 1000;
	for (;;) {
		all = true;
		for (unsigned int i = 0; i < lld->nr_rs; i++)
			all &= lld->rs[i].pub.snap_gen != gen[i];
		if (all)
			return 0;
		if (pthread_cond_timedwait(&lld->pub_cond, &lld->pub_lock, &dl) == ETIMEDOUT)
			return -ETIMEDOUT;
	}
}

int iscsi_lld_inflight(struct iscsi_lld *lld, iscsi_inflight_fn fn, void *arg, bool *truncated)
{
	unsigned int *gen = calloc(lld->nr_rs, sizeof(*gen));
	int rc;

	*truncated = false;
	if (!gen)
		return -ENOMEM;
	pthread_mutex_lock(&lld->pub_lock);
	rc = snap_collect(lld, gen);
	for (unsigned int i = 0; rc != -ENOMEM && i < lld->nr_rs; i++) {
		struct iscsi_rstate_pub *p = &lld->rs[i].pub;

		if (p->snap_gen == gen[i])
			continue; /* did not answer in time: nothing current to show */
		*truncated |= p->snap_truncated;
		for (unsigned int k = 0; k < p->nr_snap; k++)
			fn(&p->snap[k], arg);
	}
	pthread_mutex_unlock(&lld->pub_lock);
	free(gen);
	return rc;
}

/* ---- the watchdog ---- */

static void cdb_hex(const struct iscsi_inflight *f, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = '\0';
	for (unsigned int i = 0; i < MIN(f->cdb_len, sizeof(f->cdb)); i++)
		(void)str_appendf(out, cap, &off, "%02x", f->cdb[i]);
}

static void wd_log(struct iscsi_conn *c, const struct iscsi_inflight *f, unsigned int limit)
{
	char line[768];
	char cdb[40];
	size_t off = 0;

	cdb_hex(f, cdb, sizeof(cdb));
	log_kv_append(line, sizeof(line), &off, "event", "stuck_command");
	log_kv_append(line, sizeof(line), &off, "target", c->pub.target);
	log_kv_append(line, sizeof(line), &off, "initiator", f->initiator);
	log_kv_append(line, sizeof(line), &off, "isid", c->pub.isid);
	log_kv_appendf(line, sizeof(line), &off, "tsih", "%u", f->tsih);
	log_kv_appendf(line, sizeof(line), &off, "cid", "%u", f->cid);
	log_kv_append(line, sizeof(line), &off, "addr", f->addr);
	log_kv_appendf(line, sizeof(line), &off, "itt", "0x%08x", f->itt);
	log_kv_appendf(line, sizeof(line), &off, "lun", "%" PRIu64, f->lun);
	log_kv_append(line, sizeof(line), &off, "cdb", cdb);
	log_kv_appendf(line, sizeof(line), &off, "age_ms", "%" PRIu64, f->age_ms);
	log_kv_appendf(line, sizeof(line), &off, "limit_ms", "%u", limit);
	log_kv_append(line, sizeof(line), &off, "state", f->state);
	if (f->bs_op) {
		log_kv_append(line, sizeof(line), &off, "bs_op", f->bs_op);
		log_kv_appendf(line, sizeof(line), &off, "bs_offset", "%" PRIu64, f->bs_offset);
		log_kv_appendf(line, sizeof(line), &off, "bs_length", "%" PRIu64, f->bs_length);
	}
	log_warn("iscsi: %s", line);
}

static void wd_visit(struct iscsi_conn *c, struct iscsi_task *t, uint64_t now, void *arg)
{
	unsigned int limit = *(unsigned int *)arg;
	struct iscsi_inflight f;

	if (t->stuck || now - t->rx_ns < (uint64_t)limit * 1000000)
		return;
	t->stuck = true;
	atomic_fetch_add_explicit(&c->lld->stuck_total, 1, memory_order_relaxed);
	inflight_fill(c, t, now, &f);
	wd_log(c, &f, limit);
}

static void wd_timer_fn(struct reactor_timer *tm)
{
	struct iscsi_rstate *rs = container_of(tm, struct iscsi_rstate, pub.wd_timer);
	unsigned int limit = iscsi_lld_stuck_get(rs->lld);

	if (list_empty(&rs->conns))
		return; /* re-armed by the next connection */
	if (limit)
		rs_tasks_foreach(rs, wd_visit, &limit);
	reactor_timer_arm(rs->r, &rs->pub.wd_timer, wd_period_ms(rs->lld));
}
