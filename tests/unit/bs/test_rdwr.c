/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for src/bs/rdwr.c: the shared file cases on worker pools of several sizes (every
 * completion is checked to run on the reactor's thread), and --bsopts parsing.
 */
#include "bs_test.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

static struct bs_test_opts opts_default = { .bs = &bs_rdwr, .uring_entries = 64 };
static struct bs_test_opts opts_one = { .bs = &bs_rdwr, .bsopts = "workers=1" };
static struct bs_test_opts opts_many = { .bs = &bs_rdwr, .bsopts = "workers=16" };
static struct bs_test_opts opts_shm = { .bs = &bs_rdwr, .dir = "/dev/shm" };
static struct bs_test_opts opts_direct = {
	.bs = &bs_rdwr,
	.bsoflags = CORE_BSOFLAG_DIRECT | CORE_BSOFLAG_SYNC,
};
static struct bs_test_opts opts_loop = { .bs = &bs_rdwr, .uring_entries = 64, .loop = true };
static struct bs_test_opts opts_loop_direct = {
	.bs = &bs_rdwr,
	.uring_entries = 64,
	.loop = true,
	.bsoflags = CORE_BSOFLAG_DIRECT,
};
static struct bs_test_opts opts_ro = { .bs = &bs_rdwr, .readonly = true };

static void test_rdwr_bsopts(void **state)
{
	static const char *const bad[] = {
		"workers=0", "workers=65", "workers=", "workers=x", "workers", "threads=2",
		"workers=2,bogus=1",
	};
	struct core_lu lu = { .fd = -1 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bs_rdwr.init(&lu, bad[i]), -EINVAL);
		assert_null(lu.bs_priv);
	}
	assert_int_equal(bs_rdwr.init(&lu, "workers=64"), 0);
	bs_rdwr.exit(&lu);
	assert_int_equal(bs_rdwr.init(&lu, NULL), 0);
	bs_rdwr.exit(&lu);
	assert_null(lu.bs_priv);
}

/* close without a successful open, then exit: nothing to join, nothing leaks. */
static void test_rdwr_close_without_open(void **state)
{
	struct core_lu lu = { .fd = -1 };

	(void)state;
	assert_int_equal(bs_rdwr.init(&lu, "workers=3"), 0);
	assert_int_equal(bs_rdwr.open(&lu, "/nonexistent/utgt", &lu.fd, &lu.size), -ENOENT);
	bs_rdwr.close(&lu);
	bs_rdwr.exit(&lu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdwr_bsopts),
		cmocka_unit_test(test_rdwr_close_without_open),
		BS_FILE_CASES(&opts_default, "default"),
		BS_FILE_CASES(&opts_one, "one"),
		BS_FILE_CASES(&opts_many, "many"),
		BS_FILE_CASES(&opts_shm, "shm"),
		BS_FILE_CASES(&opts_direct, "direct"),
		BS_CASE(bs_case_readonly_write_fails_with_errno, &opts_ro, "ro"),
	};

	const struct CMUnitTest bdev_tests[] = {
		BS_BDEV_CASES(&opts_loop, "loop"),
		BS_BDEV_CASES(&opts_loop_direct, "loop_direct"),
	};
	int failed = cmocka_run_group_tests_name("bs_rdwr", tests, NULL, NULL);

	if (!bs_test_loop_available()) {
		print_message("[  SKIPPED ] bs_rdwr_bdev: no loop devices (needs root)\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("bs_rdwr_bdev", bdev_tests, NULL, NULL);
}
