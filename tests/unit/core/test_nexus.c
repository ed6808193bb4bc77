/* SPDX-License-Identifier: GPL-2.0-only */
/* core/nexus.c and core/cmd.c: unit attentions per LUN, priority, and the command path. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core_fakes.h"

/* A root with target 1 and up to two I_T nexuses ("iqn.a", "iqn.b") made by nfx_nexus(). */
struct nfx {
	struct core_root *root;
	struct core_target *t;
	struct core_nexus *n[2]; /* a test that frees one sets it to NULL */
};

static int nfx_setup(void **state)
{
	struct nfx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->root = fake_root();
	assert_non_null(x->root);
	assert_int_equal(core_target_new(x->root, 1, "iqn.2026-11.test:t", &x->t), 0);
	*state = x;
	return 0;
}

static int nfx_teardown(void **state)
{
	struct nfx *x = *state;

	if (x->n[0])
		core_nexus_free(x->n[0]);
	if (x->n[1])
		core_nexus_free(x->n[1]);
	core_root_free(x->root);
	free(x);
	return 0;
}

/* Nexus i (0 or 1) of the target, with the unit attentions of a new nexus. */
static struct core_nexus *nfx_nexus(struct nfx *x, unsigned int i)
{
	static const char *const name[] = { "iqn.a", "iqn.b" };

	assert_int_equal(core_nexus_new(x->t, i + 1, name[i], NULL, &x->n[i]), 0);
	return x->n[i];
}

static void test_new_nexus_gets_power_on_for_each_lun(void **state)
{
	struct core_lu_params p = { .path = "x" };
	struct nfx *x = *state;
	struct core_nexus *n;
	uint16_t code;

	assert_int_equal(core_lu_new(x->t, 1, &p, NULL), 0);
	n = nfx_nexus(x, 0);
	assert_true(core_ua_take(n, 0, &code));
	assert_int_equal(code, ASC_POWER_ON_RESET);
	assert_true(core_ua_take(n, 1, &code));
	assert_int_equal(code, ASC_POWER_ON_RESET);
	assert_false(core_ua_take(n, 1, &code));
	assert_false(core_ua_take(n, 5, &code));
}

static void test_ua_reported_in_priority_order(void **state)
{
	struct core_nexus *n = nfx_nexus(*state, 0);
	uint16_t code;

	core_ua_clear(n);
	core_ua_add(n, 0, ASC_REPORTED_LUNS_CHANGED);
	core_ua_add(n, 0, ASC_CAPACITY_DATA_CHANGED);
	core_ua_add(n, 0, ASC_BUS_DEVICE_RESET);
	core_ua_add(n, 0, ASC_BUS_DEVICE_RESET); /* folded */
	assert_true(core_ua_take(n, 0, &code));
	assert_int_equal(code, ASC_BUS_DEVICE_RESET);
	assert_true(core_ua_take(n, 0, &code));
	assert_int_equal(code, ASC_CAPACITY_DATA_CHANGED);
	assert_true(core_ua_take(n, 0, &code));
	assert_int_equal(code, ASC_REPORTED_LUNS_CHANGED);
	assert_false(core_ua_take(n, 0, &code));
}

static void test_lu_add_raises_reported_luns_changed(void **state)
{
	struct core_lu_params p = { .path = "x" };
	struct nfx *x = *state;
	struct core_target *t = x->t;
	struct core_nexus *a = nfx_nexus(x, 0), *b = nfx_nexus(x, 1);
	uint16_t code;

	core_ua_clear(a);
	core_ua_clear(b);
	assert_int_equal(core_lu_new(t, 3, &p, NULL), 0);
	assert_true(core_ua_take(a, 0, &code));
	assert_int_equal(code, ASC_REPORTED_LUNS_CHANGED);
	assert_true(core_ua_take(b, 3, &code));
	assert_int_equal(code, ASC_REPORTED_LUNS_CHANGED);
	assert_int_equal(core_lu_new(t, 3, &p, NULL), -EEXIST);
	assert_int_equal(core_lu_delete(t, 0, false), -EBUSY);
	assert_int_equal(core_lu_delete(t, 3, false), 0);
	assert_int_equal(core_lu_delete(t, 3, false), -ENOENT);
}

static int done_calls;

static void cmd_done_cb(struct scsi_cmd *cmd)
{
	(void)cmd;
	done_calls++;
}

static void test_cmd_ua_fails_command_and_completion_is_deferred(void **state)
{
	static const uint8_t tur[6] = { 0 };
	struct nfx *x = *state;
	struct core_target *t = x->t;
	struct core_nexus *n = nfx_nexus(x, 0);
	struct scsi_cmd cmd;
	struct reactor *r;

	assert_int_equal(reactor_new(&r, 0, 0), 0);
	memset(&cmd, 0, sizeof(cmd));
	cmd.reactor = r;
	cmd.nexus = n;
	cmd.lu = core_lu_get(t, 0);
	cmd.cdb = tur;
	cmd.cdb_len = 6;
	cmd.done = cmd_done_cb;
	done_calls = 0;
	core_cmd_submit(&cmd);
	assert_int_equal(done_calls, 0);
	reactor_run_once(r, 100);
	assert_int_equal(done_calls, 1);
	assert_int_equal(cmd.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(cmd.sense[2], SENSE_UNIT_ATTENTION);
	assert_int_equal(cmd.sense[12], 0x29);
	/* the second TUR passes */
	cmd.lu = core_lu_get(t, 0);
	core_cmd_submit(&cmd);
	reactor_run_once(r, 100);
	assert_int_equal(done_calls, 2);
	assert_int_equal(cmd.status, SAM_STAT_GOOD);
	reactor_free(r);
}

static void test_prevent_is_per_nexus_and_released_on_loss(void **state)
{
	struct core_lu_params p = { .path = "x" };
	struct nfx *x = *state;
	struct core_nexus *a, *b;
	struct core_lu *lu;

	assert_int_equal(core_lu_new(x->t, 1, &p, &lu), 0);
	a = nfx_nexus(x, 0);
	b = nfx_nexus(x, 1);
	core_lu_prevent_set(lu, a, true);
	core_lu_prevent_set(lu, a, true);     /* idempotent */
	core_lu_prevent_set(lu, b, true);
	assert_true(lu->prevent_removal);
	core_lu_prevent_set(lu, a, false);
	assert_true(lu->prevent_removal);     /* b still prevents */
	core_nexus_free(b);                   /* I_T nexus loss releases b's prevention */
	x->n[1] = NULL;
	assert_false(lu->prevent_removal);
	core_lu_prevent_set(lu, a, true);
	core_lu_reset(lu, a);
	assert_false(lu->prevent_removal);
}

static void test_report_luns_changed_cleared_on_every_lun(void **state)
{
	struct core_lu_params p = { .path = "x" };
	struct nfx *x = *state;
	struct core_nexus *n = nfx_nexus(x, 0);
	uint16_t code;

	core_ua_clear(n);
	assert_int_equal(core_lu_new(x->t, 1, &p, NULL), 0);
	core_ua_add(n, 1, ASC_CAPACITY_DATA_CHANGED);
	core_ua_clear_code(n, ASC_REPORTED_LUNS_CHANGED);
	assert_false(core_ua_take(n, 0, &code));
	assert_true(core_ua_take(n, 1, &code));
	assert_int_equal(code, ASC_CAPACITY_DATA_CHANGED);
	assert_false(core_ua_take(n, 1, &code));
}

#define T(f) cmocka_unit_test_setup_teardown(f, nfx_setup, nfx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_new_nexus_gets_power_on_for_each_lun),
		T(test_ua_reported_in_priority_order),
		T(test_lu_add_raises_reported_luns_changed),
		T(test_cmd_ua_fails_command_and_completion_is_deferred),
		T(test_prevent_is_per_nexus_and_released_on_loss),
		T(test_report_luns_changed_cleared_on_every_lun),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
