/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * core/order.c: task attributes (SIMPLE, ORDERED, HEAD OF QUEUE, ACA) per I_T nexus and LU,
 * aborts of queued tasks, and the LBA-range interlock of COMPARE AND WRITE.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core_fakes.h"

#define NCMD 8

/* A device type that holds every command until the test completes it. */
static struct scsi_cmd *started[32];
static unsigned int nr_started;
static unsigned int nr_done;
static struct scsi_cmd *done_order[32];

static void hold_exec(struct scsi_cmd *cmd)
{
	started[nr_started++] = cmd;
}

static const struct core_devtype hold_disk = {
	.name = "disk", .show_name = "disk", .default_bs = "fake", .cmd_exec = hold_exec,
};

static void cmd_done_cb(struct scsi_cmd *cmd)
{
	done_order[nr_done++] = cmd;
}

struct fx {
	struct core_root *root;
	struct core_target *t;
	struct core_nexus *n;
	struct reactor *r;
	struct scsi_cmd cmd[NCMD];
};

static const uint8_t tur[6] = { 0 };

static int fx_setup(void **state)
{
	struct core_lu_params p = { .path = "x" };
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(reactor_new(&fx->r, 0, 0), 0);
	assert_int_equal(core_root_new(&fx->root), 0);
	core_root_add_bs(fx->root, &fake_bs);
	core_root_add_devtype(fx->root, &hold_disk);
	core_root_set_nolu(fx->root, &hold_disk);
	assert_int_equal(core_target_new(fx->root, 1, "iqn.2026-11.test:t", &fx->t), 0);
	assert_int_equal(core_lu_new(fx->t, 1, &p, NULL), 0);
	assert_int_equal(core_lu_new(fx->t, 2, &p, NULL), 0);
	assert_int_equal(core_nexus_new(fx->t, 1, "iqn.i", NULL, &fx->n), 0);
	core_ua_clear(fx->n);
	nr_started = 0;
	nr_done = 0;
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;

	core_nexus_free(fx->n);
	core_root_free(fx->root);
	reactor_free(fx->r);
	free(fx);
	return 0;
}

static void fx_run(struct fx *fx)
{
	for (int i = 0; i < 4; i++)
		reactor_run_once(fx->r, 0);
}

static struct scsi_cmd *submit(struct fx *fx, unsigned int i, uint64_t lun, uint8_t attr)
{
	struct scsi_cmd *cmd = &fx->cmd[i];

	memset(cmd, 0, sizeof(*cmd));
	cmd->reactor = fx->r;
	cmd->nexus = fx->n;
	cmd->lun = lun;
	cmd->lu = core_lu_get(fx->t, lun);
	cmd->tag = i;
	cmd->cdb = tur;
	cmd->cdb_len = 6;
	cmd->attr = attr;
	cmd->done = cmd_done_cb;
	core_cmd_submit(cmd);
	fx_run(fx);
	return cmd;
}

static void finish(struct fx *fx, struct scsi_cmd *cmd)
{
	core_cmd_good(cmd);
	core_cmd_done(cmd);
	fx_run(fx);
}

static bool was_started(struct scsi_cmd *cmd)
{
	for (unsigned int i = 0; i < nr_started; i++)
		if (started[i] == cmd)
			return true;
	return false;
}

static void test_ordered_waits_for_older_and_holds_later(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd *s0, *s1, *o, *s2;

	s0 = submit(fx, 0, 1, SCSI_ATTR_SIMPLE);
	s1 = submit(fx, 1, 1, SCSI_ATTR_SIMPLE);
	o = submit(fx, 2, 1, SCSI_ATTR_ORDERED);
	s2 = submit(fx, 3, 1, SCSI_ATTR_SIMPLE);
	assert_true(was_started(s0) && was_started(s1));
	assert_false(was_started(o));
	assert_false(was_started(s2));
	finish(fx, s1);
	assert_false(was_started(o));
	finish(fx, s0);
	assert_true(was_started(o));   /* every older task completed */
	assert_false(was_started(s2)); /* later tasks wait for the ORDERED one */
	finish(fx, o);
	assert_true(was_started(s2));
	finish(fx, s2);
	assert_int_equal(nr_done, 4);
	assert_ptr_equal(done_order[2], o);
}

static void test_head_of_queue_overtakes_and_other_lun_is_independent(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd *s0, *o, *h, *l2;

	s0 = submit(fx, 0, 1, SCSI_ATTR_SIMPLE);
	o = submit(fx, 1, 1, SCSI_ATTR_ORDERED);
	h = submit(fx, 2, 1, SCSI_ATTR_HEAD_OF_QUEUE);
	l2 = submit(fx, 3, 2, SCSI_ATTR_SIMPLE);
	assert_true(was_started(h));
	assert_true(was_started(l2));  /* another LU: another task set */
	assert_false(was_started(o));
	finish(fx, s0);
	assert_false(was_started(o));  /* the HEAD OF QUEUE task is older than it */
	finish(fx, h);
	assert_true(was_started(o));
	finish(fx, o);
	finish(fx, l2);
	assert_int_equal(nr_done, 4);
}

static void test_consecutive_ordered_run_one_at_a_time(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd *o1, *o2, *s;

	o1 = submit(fx, 0, 1, SCSI_ATTR_ORDERED);
	o2 = submit(fx, 1, 1, SCSI_ATTR_ORDERED);
	s = submit(fx, 2, 1, SCSI_ATTR_SIMPLE);
	assert_true(was_started(o1));
	assert_false(was_started(o2));
	finish(fx, o1);
	assert_true(was_started(o2));
	assert_false(was_started(s));
	finish(fx, o2);
	assert_true(was_started(s));
	finish(fx, s);
}

static void test_aca_attribute_is_refused(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd *a = submit(fx, 0, 1, SCSI_ATTR_ACA);

	assert_false(was_started(a));
	assert_int_equal(nr_done, 1);
	assert_int_equal(a->status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(a->sense[2], SENSE_ILLEGAL_REQUEST);
	assert_int_equal(a->sense[12], 0x49); /* INVALID MESSAGE ERROR */
}

static void test_abort_of_queued_task_completes_it_without_running(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd *s0, *o, *s1;

	s0 = submit(fx, 0, 1, SCSI_ATTR_SIMPLE);
	o = submit(fx, 1, 1, SCSI_ATTR_ORDERED);
	s1 = submit(fx, 2, 1, SCSI_ATTR_SIMPLE);
	core_cmd_abort(o);
	fx_run(fx);
	assert_int_equal(nr_done, 1);
	assert_ptr_equal(done_order[0], o);
	assert_int_equal(o->status, SAM_STAT_TASK_ABORTED);
	assert_false(was_started(o));
	assert_true(was_started(s1)); /* nothing holds it back any more */
	core_cmd_abort(s0);           /* running: finishes normally */
	fx_run(fx);
	assert_int_equal(nr_done, 1);
	finish(fx, s0);
	finish(fx, s1);
	assert_int_equal(nr_done, 3);
}

/* ---- interlock ---- */

static unsigned int resumed;

static void resume_cb(struct scsi_cmd *cmd)
{
	(void)cmd;
	resumed++;
}

static struct scsi_cmd *ilk_cmd(struct fx *fx, unsigned int i)
{
	struct scsi_cmd *cmd = submit(fx, i, 1, SCSI_ATTR_SIMPLE);

	assert_true(was_started(cmd));
	return cmd;
}

/* Nothing held, nothing waiting, the gate open. */
static void assert_ilk_idle(struct core_lu *lu)
{
	assert_int_equal(atomic_load(&lu->ilk.gate), 0);
	assert_true(list_empty(&lu->ilk.held));
	assert_true(list_empty(&lu->ilk.waiting));
}

static void test_interlock_caw_against_writes(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd *w1 = ilk_cmd(fx, 0), *caw = ilk_cmd(fx, 1), *w2 = ilk_cmd(fx, 2);
	struct scsi_cmd *w3 = ilk_cmd(fx, 3), *caw2 = ilk_cmd(fx, 4);
	struct core_lu *lu = w1->lu;

	resumed = 0;
	/* no exclusive range: a write takes the fast path */
	assert_true(core_ilk_acquire(w1, 0, 8, false, resume_cb));
	assert_int_equal(atomic_load(&lu->ilk.fast), 1);
	/* COMPARE AND WRITE waits for the write in flight */
	assert_false(core_ilk_acquire(caw, 4, 1, true, resume_cb));
	/* writes now register: an overlapping one waits, a disjoint one goes */
	assert_false(core_ilk_acquire(w2, 4, 1, false, resume_cb));
	assert_true(core_ilk_acquire(w3, 100, 1, false, resume_cb));
	/* a disjoint exclusive range also waits for the unregistered write */
	assert_false(core_ilk_acquire(caw2, 200, 1, true, resume_cb));
	finish(fx, w1);
	assert_int_equal(resumed, 2);   /* caw and caw2 */
	assert_true(core_ilk_acquire(caw, 4, 1, true, resume_cb)); /* held: true again */
	finish(fx, caw);
	assert_int_equal(resumed, 3);   /* w2 */
	finish(fx, w2);
	finish(fx, w3);
	finish(fx, caw2);
	assert_ilk_idle(lu);
	assert_int_equal(atomic_load(&lu->ilk.fast), 0);
}

static void test_interlock_abort_leaves_waiting_write(void **state)
{
	struct fx *fx = *state;
	struct scsi_cmd *caw = ilk_cmd(fx, 0), *w = ilk_cmd(fx, 1);
	struct core_lu *lu = caw->lu;

	resumed = 0;
	assert_true(core_ilk_acquire(caw, 0, 16, true, resume_cb));
	assert_false(core_ilk_acquire(w, 8, 16, false, resume_cb));
	/* inside the device type: the abort leaves it waiting; it goes on when the range frees */
	core_cmd_abort(w);
	fx_run(fx);
	assert_int_equal(nr_done, 0);
	finish(fx, caw);
	assert_int_equal(resumed, 1);
	finish(fx, w);
	assert_int_equal(nr_done, 2);
	assert_ilk_idle(lu);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ordered_waits_for_older_and_holds_later),
		T(test_head_of_queue_overtakes_and_other_lun_is_independent),
		T(test_consecutive_ordered_run_one_at_a_time),
		T(test_aca_attribute_is_refused),
		T(test_abort_of_queued_task_completes_it_without_running),
		T(test_interlock_caw_against_writes),
		T(test_interlock_abort_leaves_waiting_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
