/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Task attributes (SAM-5 §8.6) and the LBA-range interlock. A task set is one I_T nexus' tasks
 * on one LU (TST=001b): it counts the enabled tasks and queues, in arrival order, those an
 * ORDERED task holds back. Only the nexus' reactor touches it, so it needs no lock. The
 * interlock is per LU and shared by every reactor under lu->ilk.lock; writes skip the lock
 * while no exclusive (COMPARE AND WRITE) range exists: they bump ilk.fast and re-read
 * ilk.gate, the exclusive side bumps gate and reads fast (both sequentially consistent, so one
 * of the two always sees the other).
 */
#include "core/core_int.h"

#include <stdlib.h>
#include <string.h>

#define ASC_INVALID_MESSAGE_ERROR 0x4900
#define ORDER_LUN_LIMIT           16384u

/* cmd->order_flags */
#define CORE_ORDER_COUNTED 0x1u /* enabled: counted in ts->running */
#define CORE_ORDER_ORDERED 0x2u /* the enabled ORDERED task of its set */
#define CORE_ORDER_WAITING 0x4u /* in ts->waiting */

/* cmd->ilk_state */
enum {
	CORE_ILK_NONE = 0,
	CORE_ILK_FAST,     /* counted in ilk.fast, no range registered */
	CORE_ILK_HELD,     /* in ilk.held */
	CORE_ILK_WAIT,     /* in ilk.waiting */
};

struct core_taskset {
	uint32_t running;              /* enabled tasks not yet completed */
	bool ordered;                  /* an ORDERED task is enabled */
	struct list_head waiting;      /* struct scsi_cmd (order_entry), arrival order */
};

/* ---- task sets ---- */

/* The task set of cmd's nexus and LUN, created on first use (slow path, once per LUN). */
static struct core_taskset *order_ts(struct scsi_cmd *cmd)
{
	struct core_nexus *n = cmd->nexus;
	uint64_t lun = cmd->lun;

	if (!n || lun >= ORDER_LUN_LIMIT)
		return NULL;
	if (lun >= n->nr_ts) {
		uint32_t size = n->nr_ts ? n->nr_ts : 8;
		struct core_taskset **ts;

		while (size <= lun)
			size *= 2;
		ts = realloc(n->ts, size * sizeof(*ts));
		if (!ts)
			return NULL;
		memset(ts + n->nr_ts, 0, (size - n->nr_ts) * sizeof(*ts));
		n->ts = ts;
		n->nr_ts = size;
	}
	if (!n->ts[lun]) {
		n->ts[lun] = calloc(1, sizeof(*n->ts[lun]));
		if (!n->ts[lun])
			return NULL;
		list_init(&n->ts[lun]->waiting);
	}
	return n->ts[lun];
}

void core_order_nexus_fini(struct core_nexus *n)
{
	for (uint32_t i = 0; i < n->nr_ts; i++)
		free(n->ts[i]);
	free(n->ts);
	n->ts = NULL;
	n->nr_ts = 0;
}

static void order_enable(struct core_taskset *ts, struct scsi_cmd *cmd)
{
	ts->running++;
	cmd->order_flags = CORE_ORDER_COUNTED;
	if (cmd->attr == SCSI_ATTR_ORDERED) {
		ts->ordered = true;
		cmd->order_flags |= CORE_ORDER_ORDERED;
	}
}

static void order_run_msg(struct reactor_msg *m)
{
	core_cmd_start(container_of(m, struct scsi_cmd, defer));
}

/* Enables the tasks at the head of the queue that may run now. */
static void order_kick(struct core_taskset *ts)
{
	struct scsi_cmd *cmd;

	while (!list_empty(&ts->waiting) && !ts->ordered) {
		cmd = list_first_entry(&ts->waiting, struct scsi_cmd, order_entry);
		if (cmd->attr == SCSI_ATTR_ORDERED && ts->running)
			break;
		list_del(&cmd->order_entry);
		order_enable(ts, cmd);
		reactor_defer(cmd->reactor, &cmd->defer, order_run_msg);
	}
}

bool core_order_admit(struct scsi_cmd *cmd)
{
	struct core_taskset *ts;

	if (cmd->attr == SCSI_ATTR_ACA) {
		/* SAM-5 §8.6.5: no ACA condition exists (we never establish one) */
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_MESSAGE_ERROR);
		core_cmd_done(cmd);
		return false;
	}
	ts = order_ts(cmd);
	cmd->ts = ts;
	if (!ts)
		return true;
	if (cmd->attr == SCSI_ATTR_HEAD_OF_QUEUE ||
	    (list_empty(&ts->waiting) && !ts->ordered &&
	     (cmd->attr != SCSI_ATTR_ORDERED || !ts->running))) {
		order_enable(ts, cmd);
		return true;
	}
	list_add_tail(&cmd->order_entry, &ts->waiting);
	cmd->order_flags = CORE_ORDER_WAITING;
	return false;
}

void core_order_done(struct scsi_cmd *cmd)
{
	struct core_taskset *ts = cmd->ts;

	if (cmd->ilk_state != CORE_ILK_NONE)
		core_ilk_release(cmd);
	if (!ts || !(cmd->order_flags & CORE_ORDER_COUNTED))
		return;
	ts->running--;
	if (cmd->order_flags & CORE_ORDER_ORDERED)
		ts->ordered = false;
	cmd->order_flags = 0;
	order_kick(ts);
}

static void order_aborted_msg(struct reactor_msg *m)
{
	core_cmd_done(container_of(m, struct scsi_cmd, defer));
}

/*
 * Only a task still in its task set's queue ends here: the device type never saw it. One that
 * waits for the interlock is inside the device type (it may hold buffers): it goes on when the
 * range frees, which a bounded read-modify-write guarantees soon, and the LLD drops it.
 */
void core_cmd_abort(struct scsi_cmd *cmd)
{
	if (!(cmd->order_flags & CORE_ORDER_WAITING))
		return;
	list_del(&cmd->order_entry);
	cmd->order_flags = 0;
	order_kick(cmd->ts);
	cmd->aborted = true;
	cmd->status = SAM_STAT_TASK_ABORTED;
	cmd->sense_len = 0;
	reactor_defer(cmd->reactor, &cmd->defer, order_aborted_msg);
}

/* ---- LBA-range interlock ---- */

static bool ilk_conflict(const struct scsi_cmd *a, const struct scsi_cmd *b)
{
	return (a->ilk_excl || b->ilk_excl) && a->ilk_lba < b->ilk_end && b->ilk_lba < a->ilk_end;
}

/* Whether cmd may hold its range: no conflict with a holder or with a waiter before stop. */
static bool ilk_can_go(struct core_ilk *k, const struct scsi_cmd *cmd, const struct scsi_cmd *stop)
{
	const struct scsi_cmd *o;

	if (cmd->ilk_excl && atomic_load(&k->fast))
		return false; /* unregistered writes may overlap: wait for them all */
	list_for_each_entry(o, &k->held, ilk_entry)
		if (ilk_conflict(cmd, o))
			return false;
	list_for_each_entry(o, &k->waiting, ilk_entry) {
		if (o == stop)
			break;
		if (ilk_conflict(cmd, o))
			return false;
	}
	return true;
}

static void ilk_resume_msg(struct reactor_msg *m)
{
	struct scsi_cmd *cmd = container_of(m, struct scsi_cmd, defer);

	cmd->ilk_resume(cmd);
}

/* Moves every waiter that may go now to held; they resume after the lock is dropped. */
static void ilk_wake(struct core_ilk *k)
{
	struct scsi_cmd *cmd, *tmp;
	struct list_head go;

	list_init(&go);
	pthread_mutex_lock(&k->lock);
	list_for_each_entry_safe(cmd, tmp, &k->waiting, ilk_entry) {
		if (!ilk_can_go(k, cmd, cmd))
			continue;
		list_del(&cmd->ilk_entry);
		list_add_tail(&cmd->ilk_entry, &k->held);
		cmd->ilk_state = CORE_ILK_HELD;
		list_add_tail(&cmd->entry, &go);
	}
	pthread_mutex_unlock(&k->lock);
	list_for_each_entry_safe(cmd, tmp, &go, entry) {
		list_del(&cmd->entry);
		reactor_msg_send(cmd->reactor, &cmd->defer, ilk_resume_msg);
	}
}

static void ilk_fast_put(struct core_ilk *k)
{
	if (atomic_fetch_sub(&k->fast, 1) == 1 && atomic_load(&k->gate))
		ilk_wake(k);
}

void core_ilk_release(struct scsi_cmd *cmd)
{
	struct core_ilk *k = &cmd->lu->ilk;

	if (cmd->ilk_state == CORE_ILK_NONE)
		return;
	if (cmd->ilk_state == CORE_ILK_FAST) {
		cmd->ilk_state = CORE_ILK_NONE;
		ilk_fast_put(k);
		return;
	}
	pthread_mutex_lock(&k->lock);
	list_del(&cmd->ilk_entry);
	if (cmd->ilk_excl)
		atomic_fetch_sub(&k->gate, 1);
	cmd->ilk_state = CORE_ILK_NONE;
	pthread_mutex_unlock(&k->lock);
	ilk_wake(k);
}

bool core_ilk_acquire(struct scsi_cmd *cmd, uint64_t lba, uint64_t nblk, bool exclusive,
		      void (*resume)(struct scsi_cmd *cmd))
{
	struct core_ilk *k = &cmd->lu->ilk;
	bool go;

	if (cmd->ilk_state == CORE_ILK_FAST || cmd->ilk_state == CORE_ILK_HELD)
		return true;
	if (!exclusive && !atomic_load(&k->gate)) {
		atomic_fetch_add(&k->fast, 1);
		if (!atomic_load(&k->gate)) {
			cmd->ilk_state = CORE_ILK_FAST;
			return true;
		}
		ilk_fast_put(k);
	}
	cmd->ilk_lba = lba;
	cmd->ilk_end = nblk > UINT64_MAX - lba ? UINT64_MAX : lba + nblk;
	cmd->ilk_excl = exclusive;
	cmd->ilk_resume = resume;
	pthread_mutex_lock(&k->lock);
	if (exclusive)
		atomic_fetch_add(&k->gate, 1);
	go = ilk_can_go(k, cmd, NULL);
	list_add_tail(&cmd->ilk_entry, go ? &k->held : &k->waiting);
	cmd->ilk_state = go ? CORE_ILK_HELD : CORE_ILK_WAIT;
	pthread_mutex_unlock(&k->lock);
	return go;
}
