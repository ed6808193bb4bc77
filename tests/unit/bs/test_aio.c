/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for src/bs/aio.c: the shared file cases with and without O_DIRECT, with a
 * one-request pool (commands wait for a free request), on block devices, and --bsopts.
 */
#include "bs_test.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

static struct bs_test_opts opts_direct = { .bs = &bs_aio, .bsoflags = CORE_BSOFLAG_DIRECT };
static struct bs_test_opts opts_buffered = { .bs = &bs_aio };
static struct bs_test_opts opts_depth1 = {
	.bs = &bs_aio,
	.bsopts = "depth=1",
	.bsoflags = CORE_BSOFLAG_DIRECT,
};
static struct bs_test_opts opts_shm = { .bs = &bs_aio, .dir = "/dev/shm" };
static struct bs_test_opts opts_loop = { .bs = &bs_aio, .loop = true };
static struct bs_test_opts opts_loop_direct = {
	.bs = &bs_aio,
	.loop = true,
	.bsoflags = CORE_BSOFLAG_DIRECT,
};
static struct bs_test_opts opts_ro = { .bs = &bs_aio, .readonly = true };

static void test_aio_bsopts(void **state)
{
	static const char *const bad[] = { "depth=0", "depth=4097", "depth=x", "workers=2" };
	struct core_lu lu = { .fd = -1 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bs_aio.init(&lu, bad[i]), -EINVAL);
		assert_null(lu.bs_priv);
	}
	assert_int_equal(bs_aio.init(&lu, "depth=4096"), 0);
	assert_int_equal(bs_aio.open(&lu, "/nonexistent/utgt", &lu.fd, &lu.size), -ENOENT);
	bs_aio.exit(&lu);
	assert_null(lu.bs_priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aio_bsopts),
		BS_FILE_CASES(&opts_direct, "direct"),
		BS_FILE_CASES(&opts_buffered, "buffered"),
		BS_FILE_CASES(&opts_depth1, "depth1"),
		BS_FILE_CASES(&opts_shm, "shm"),
		BS_CASE(bs_case_readonly_write_fails_with_errno, &opts_ro, "ro"),
	};
	const struct CMUnitTest bdev_tests[] = {
		BS_BDEV_CASES(&opts_loop, "loop"),
		BS_BDEV_CASES(&opts_loop_direct, "loop_direct"),
	};
	int failed = cmocka_run_group_tests_name("bs_aio", tests, NULL, NULL);

	if (!bs_test_loop_available()) {
		print_message("[  SKIPPED ] bs_aio_bdev: no loop devices (needs root)\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("bs_aio_bdev", bdev_tests, NULL, NULL);
}
