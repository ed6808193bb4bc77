/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for src/bs/uring.c: the shared file cases on the reactor's io_uring (ext4 under
 * /tmp, tmpfs under /dev/shm where ZERO_RANGE is emulated, O_DIRECT|O_SYNC) and on a reactor
 * without a ring (synchronous fallback completed through reactor_defer).
 */
#include "bs_test.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

static struct bs_test_opts opts_ring = { .bs = &bs_uring, .uring_entries = 64 };
static struct bs_test_opts opts_small_ring = { .bs = &bs_uring, .uring_entries = 4 };
static struct bs_test_opts opts_no_ring = { .bs = &bs_uring, .uring_entries = 0 };
static struct bs_test_opts opts_shm = { .bs = &bs_uring, .uring_entries = 64, .dir = "/dev/shm" };
static struct bs_test_opts opts_direct = {
	.bs = &bs_uring,
	.uring_entries = 64,
	.bsoflags = CORE_BSOFLAG_DIRECT | CORE_BSOFLAG_SYNC,
};
static struct bs_test_opts opts_loop = { .bs = &bs_uring, .uring_entries = 64, .loop = true };
static struct bs_test_opts opts_loop_direct = {
	.bs = &bs_uring,
	.uring_entries = 64,
	.loop = true,
	.bsoflags = CORE_BSOFLAG_DIRECT,
};
static struct bs_test_opts opts_ro = { .bs = &bs_uring, .uring_entries = 64, .readonly = true };

static void test_uring_rejects_bsopts(void **state)
{
	struct core_lu lu = { .fd = -1 };

	(void)state;
	assert_int_equal(bs_uring.init(&lu, "workers=2"), -EINVAL);
	assert_null(lu.bs_priv);
	assert_int_equal(bs_uring.init(&lu, ""), 0);
	bs_uring.exit(&lu);
	assert_null(lu.bs_priv);
}

static void test_uring_unknown_op_fails(void **state)
{
	struct bs_test *t = *state;

	assert_int_equal(bs_test_io(t, (enum core_io_op)42, 0, 0, 512, NULL), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uring_rejects_bsopts),
		BS_FILE_CASES(&opts_ring, "ring"),
		BS_FILE_CASES(&opts_small_ring, "small_ring"),
		BS_FILE_CASES(&opts_no_ring, "no_ring"),
		BS_FILE_CASES(&opts_shm, "shm"),
		BS_FILE_CASES(&opts_direct, "direct"),
		BS_CASE(bs_case_readonly_write_fails_with_errno, &opts_ro, "ro"),
		cmocka_unit_test_prestate_setup_teardown(test_uring_unknown_op_fails, bs_test_setup,
							 bs_test_teardown, &opts_ring),
	};

	const struct CMUnitTest bdev_tests[] = {
		BS_BDEV_CASES(&opts_loop, "loop"),
		BS_BDEV_CASES(&opts_loop_direct, "loop_direct"),
	};
	int failed = cmocka_run_group_tests_name("bs_uring", tests, NULL, NULL);

	if (!bs_test_loop_available()) {
		print_message("[  SKIPPED ] bs_uring_bdev: no loop devices (needs root)\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("bs_uring_bdev", bdev_tests, NULL, NULL);
}
