/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for src/bs/uring.c: the shared file cases on the reactor's io_uring (ext4 under
 * /tmp, tmpfs under /dev/shm where ZERO_RANGE is emulated, O_DIRECT|O_SYNC) and on a reactor
 * without a ring (synchronous fallback completed through reactor_defer); the same on a per-LU
 * ring (--bsopts sqpoll=1 / fixed=1) and the validation of those options; reads and writes
 * inline on the reactor (the default on tmpfs, inline=1 elsewhere) and inline=0 on tmpfs.
 */
#include "bs_test.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct bs_test_opts opts_ring = { .bs = &bs_uring, .uring_entries = 64 };
static struct bs_test_opts opts_small_ring = { .bs = &bs_uring, .uring_entries = 4 };
static struct bs_test_opts opts_no_ring = { .bs = &bs_uring, .uring_entries = 0 };
static struct bs_test_opts opts_shm = { .bs = &bs_uring, .uring_entries = 64, .dir = "/dev/shm" };
static struct bs_test_opts opts_shm_uring = {
	.bs = &bs_uring, .uring_entries = 64, .dir = "/dev/shm", .bsopts = "inline=0",
};
static struct bs_test_opts opts_inline = {
	.bs = &bs_uring, .uring_entries = 64, .bsopts = "inline=1",
};
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
static struct bs_test_opts opts_sqpoll = {
	.bs = &bs_uring, .uring_entries = 64, .bsopts = "sqpoll=1,sqpoll_idle_ms=50",
};
static struct bs_test_opts opts_fixed = {
	.bs = &bs_uring, .uring_entries = 64, .bsopts = "fixed=1",
};
static struct bs_test_opts opts_sqpoll_fixed = {
	.bs = &bs_uring, .uring_entries = 0, .bsopts = "sqpoll=1,fixed=1,sqpoll_cpu=0",
};
static struct bs_test_opts opts_sqpoll_direct = {
	.bs = &bs_uring, .uring_entries = 64, .bsopts = "sqpoll=1,fixed=1",
	.bsoflags = CORE_BSOFLAG_DIRECT,
};
static struct bs_test_opts opts_loop_sqpoll = {
	.bs = &bs_uring, .uring_entries = 64, .loop = true, .bsopts = "sqpoll=1,fixed=1",
};

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

static void test_uring_ring_bsopts(void **state)
{
	static const char *const bad[] = {
		"sqpoll=2", "sqpoll=", "fixed=yes please", "sqpoll_cpu=0", "sqpoll_idle_ms=10",
		"sqpoll=1,sqpoll_cpu=100000", "sqpoll=1,sqpoll_cpu=-1", "sqpoll=1,sqpoll_idle_ms=0",
		"sqpoll=1,sqpoll_idle_ms=60001", "sqpoll=1,sqpoll_idle_ms=x", "fixed=1,depth=4",
		"inline=2", "inline=", "inline=1,sqpoll=1", "fixed=1,inline=1",
	};
	static const char *const good[] = {
		"sqpoll=1", "fixed=1", "sqpoll=0,fixed=0", "sqpoll=1,sqpoll_cpu=0,sqpoll_idle_ms=1",
		"sqpoll=yes;fixed=on;sqpoll_idle_ms=60000", "inline=1", "inline=0,sqpoll=1",
	};
	struct core_lu lu = { .fd = -1 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bs_uring.init(&lu, bad[i]), -EINVAL);
		assert_null(lu.bs_priv);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(bs_uring.init(&lu, good[i]), 0);
		bs_uring.exit(&lu);
		assert_null(lu.bs_priv);
	}
}

/* Counts this process's threads whose name starts with prefix (the kernel names SQPOLL
 * threads "iou-sqp-PID"). */
static unsigned int uring_threads_named(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned int n = 0;
	char path[300], comm[64];

	assert_non_null(d);
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, prefix, strlen(prefix)))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* sqpoll=1 really starts a kernel submission thread, and closing the LU stops it. */
static void test_uring_sqpoll_thread(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(4096, 9);

	/* the kernel names the thread when it first runs */
	for (int i = 0; i < 500 && !uring_threads_named("iou-sqp-"); i++)
		usleep(10000);
	assert_true(uring_threads_named("iou-sqp-") >= 1);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 4096, 4096, buf), 4096);
	free(buf);
}

/*
 * Whether a write is in the file as soon as submit returns: inline writes are (only their
 * completion is deferred), ring writes wait for the reactor to submit its ring.
 */
static void uring_write_lands_in_submit(struct bs_test *t, bool expect_inline)
{
	void *buf = bs_test_buf(4096, 21), *back = bs_test_buf(4096, 0);
	int fd = open(t->file, O_RDONLY);

	assert_true(fd >= 0);
	bs_test_submit(t, 0, CORE_IO_WRITE, CORE_IO_FUA, 8192, 4096, buf);
	assert_int_equal(pread(fd, back, 4096, 8192), 4096);
	assert_int_equal(!memcmp(back, buf, 4096), expect_inline);
	assert_int_equal(bs_test_wait(t, 0), 4096);
	assert_int_equal(pread(fd, back, 4096, 8192), 4096);
	assert_memory_equal(back, buf, 4096);
	close(fd);
	free(buf);
	free(back);
}

static void test_uring_shm_inline(void **state)
{
	uring_write_lands_in_submit(*state, true);
}

static void test_uring_forced_inline(void **state)
{
	uring_write_lands_in_submit(*state, true);
}

static void test_uring_shm_inline_off(void **state)
{
	uring_write_lands_in_submit(*state, false);
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
		cmocka_unit_test(test_uring_ring_bsopts),
		cmocka_unit_test_prestate_setup_teardown(test_uring_sqpoll_thread, bs_test_setup,
							 bs_test_teardown, &opts_sqpoll),
		BS_FILE_CASES(&opts_sqpoll, "sqpoll"),
		BS_FILE_CASES(&opts_fixed, "fixed"),
		BS_FILE_CASES(&opts_sqpoll_fixed, "sqpoll_fixed_no_reactor_ring"),
		BS_FILE_CASES(&opts_sqpoll_direct, "sqpoll_direct"),
		BS_FILE_CASES(&opts_ring, "ring"),
		BS_FILE_CASES(&opts_small_ring, "small_ring"),
		BS_FILE_CASES(&opts_no_ring, "no_ring"),
		BS_FILE_CASES(&opts_shm, "shm"),
		BS_FILE_CASES(&opts_shm_uring, "shm_uring"),
		BS_FILE_CASES(&opts_inline, "inline"),
		cmocka_unit_test_prestate_setup_teardown(test_uring_shm_inline, bs_test_setup,
							 bs_test_teardown, &opts_shm),
		cmocka_unit_test_prestate_setup_teardown(test_uring_forced_inline, bs_test_setup,
							 bs_test_teardown, &opts_inline),
		cmocka_unit_test_prestate_setup_teardown(test_uring_shm_inline_off, bs_test_setup,
							 bs_test_teardown, &opts_shm_uring),
		BS_FILE_CASES(&opts_direct, "direct"),
		BS_CASE(bs_case_readonly_write_fails_with_errno, &opts_ro, "ro"),
		cmocka_unit_test_prestate_setup_teardown(test_uring_unknown_op_fails, bs_test_setup,
							 bs_test_teardown, &opts_ring),
	};

	const struct CMUnitTest bdev_tests[] = {
		BS_BDEV_CASES(&opts_loop, "loop"),
		BS_BDEV_CASES(&opts_loop_direct, "loop_direct"),
		BS_BDEV_CASES(&opts_loop_sqpoll, "loop_sqpoll"),
	};
	int failed = cmocka_run_group_tests_name("bs_uring", tests, NULL, NULL);

	if (!bs_test_loop_available()) {
		print_message("[  SKIPPED ] bs_uring_bdev: no loop devices (needs root)\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("bs_uring_bdev", bdev_tests, NULL, NULL);
}
