/* SPDX-License-Identifier: GPL-2.0-only */
/* core/nexus.c and core/cmd.c: unit attentions per LUN, priority, and the command path. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core_fakes.h"

static void test_new_nexus_gets_power_on_for_each_lun(void **state)
{
	struct core_lu_params p = { .path = "x" };
	struct core_root *root = fake_root();
	struct core_target *t;
	struct core_nexus *n;
	uint16_t code;

	(void)state;
	assert_int_equal(core_target_new(root, 1, "iqn.2026-11.test:t", &t), 0);
	assert_int_equal(core_lu_new(t, 1, &p, NULL), 0);
	assert_int_equal(core_nexus_new(t, 1, "iqn.i", NULL, &n), 0);
	assert_true(core_ua_take(n, 0, &code));
	assert_int_equal(code, ASC_POWER_ON_RESET);
	assert_true(core_ua_take(n, 1, &code));
	assert_int_equal(code, ASC_POWER_ON_RESET);
	assert_false(core_ua_take(n, 1, &code));
	assert_false(core_ua_take(n, 5, &code));
	core_nexus_free(n);
	core_root_free(root);
}

static void test_ua_reported_in_priority_order(void **state)
{
	struct core_root *root = fake_root();
	struct core_target *t;
	struct core_nexus *n;
	uint16_t code;

	(void)state;
	assert_int_equal(core_target_new(root, 1, "iqn.2026-11.test:t", &t), 0);
	assert_int_equal(core_nexus_new(t, 1, "iqn.i", NULL, &n), 0);
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
	core_nexus_free(n);
	core_root_free(root);
}

static void test_lu_add_raises_reported_luns_changed(void **state)
{
	struct core_lu_params p = { .path = "x" };
	struct core_root *root = fake_root();
	struct core_target *t;
	struct core_nexus *a, *b;
	uint16_t code;

	(void)state;
	assert_int_equal(core_target_new(root, 1, "iqn.2026-11.test:t", &t), 0);
	assert_int_equal(core_nexus_new(t, 1, "iqn.a", NULL, &a), 0);
	assert_int_equal(core_nexus_new(t, 2, "iqn.b", NULL, &b), 0);
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
	core_nexus_free(a);
	core_nexus_free(b);
	core_root_free(root);
}

static int done_calls;

static void cmd_done_cb(struct scsi_cmd *cmd)
{
	(void)cmd;
	done_calls++;
}

static void test_cmd_ua_fails_command_and_completion_is_deferred(void **state)
{
	struct core_root *root = fake_root();
	static const uint8_t tur[6] = { 0 };
	struct scsi_cmd cmd;
	struct core_target *t;
	struct core_nexus *n;
	struct reactor *r;

	(void)state;
	assert_int_equal(reactor_new(&r, 0, 0), 0);
	assert_int_equal(core_target_new(root, 1, "iqn.2026-11.test:t", &t), 0);
	assert_int_equal(core_nexus_new(t, 1, "iqn.i", NULL, &n), 0);
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
	core_nexus_free(n);
	core_root_free(root);
	reactor_free(r);
}

static void test_prevent_is_per_nexus_and_released_on_loss(void **state)
{
	struct core_lu_params p = { .path = "x" };
	struct core_root *root = fake_root();
	struct core_target *t;
	struct core_nexus *a, *b;
	struct core_lu *lu;

	(void)state;
	assert_int_equal(core_target_new(root, 1, "iqn.2026-11.test:t", &t), 0);
	assert_int_equal(core_lu_new(t, 1, &p, &lu), 0);
	assert_int_equal(core_nexus_new(t, 1, "iqn.a", NULL, &a), 0);
	assert_int_equal(core_nexus_new(t, 2, "iqn.b", NULL, &b), 0);
	core_lu_prevent_set(lu, a, true);
	core_lu_prevent_set(lu, a, true);     /* idempotent */
	core_lu_prevent_set(lu, b, true);
	assert_true(lu->prevent_removal);
	core_lu_prevent_set(lu, a, false);
	assert_true(lu->prevent_removal);     /* b still prevents */
	core_nexus_free(b);                   /* I_T nexus loss releases b's prevention */
	assert_false(lu->prevent_removal);
	core_lu_prevent_set(lu, a, true);
	core_lu_reset(lu, a);
	assert_false(lu->prevent_removal);
	core_nexus_free(a);
	core_root_free(root);
}

static void test_report_luns_changed_cleared_on_every_lun(void **state)
{
	struct core_lu_params p = { .path = "x" };
	struct core_root *root = fake_root();
	struct core_target *t;
	struct core_nexus *n;
	uint16_t code;

	(void)state;
	assert_int_equal(core_target_new(root, 1, "iqn.2026-11.test:t", &t), 0);
	assert_int_equal(core_nexus_new(t, 1, "iqn.a", NULL, &n), 0);
	core_ua_clear(n);
	assert_int_equal(core_lu_new(t, 1, &p, NULL), 0);
	core_ua_add(n, 1, ASC_CAPACITY_DATA_CHANGED);
	core_ua_clear_code(n, ASC_REPORTED_LUNS_CHANGED);
	assert_false(core_ua_take(n, 0, &code));
	assert_true(core_ua_take(n, 1, &code));
	assert_int_equal(code, ASC_CAPACITY_DATA_CHANGED);
	assert_false(core_ua_take(n, 1, &code));
	core_nexus_free(n);
	core_root_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_nexus_gets_power_on_for_each_lun),
		cmocka_unit_test(test_ua_reported_in_priority_order),
		cmocka_unit_test(test_lu_add_raises_reported_luns_changed),
		cmocka_unit_test(test_cmd_ua_fails_command_and_completion_is_deferred),
		cmocka_unit_test(test_prevent_is_per_nexus_and_released_on_loss),
		cmocka_unit_test(test_report_luns_changed_cleared_on_every_lun),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
