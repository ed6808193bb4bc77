/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for src/bs/file.c (bs_open_path): open flags from the LU, sizes of files and
 * block devices, and refusal of every other file type without blocking.
 */
#include "bs_test.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void test_file_tmp(char *path, size_t len, off_t size)
{
	int fd;

	snprintf(path, len, "/tmp/utgt-bsfile-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static int test_file_open(struct core_lu *lu, const char *path, uint64_t *size)
{
	int fd = -1;
	int ret = bs_open_path(lu, path, &fd, size);

	if (ret < 0)
		assert_int_equal(fd, -1);
	return ret < 0 ? ret : fd;
}

static void test_file_regular_read_write(void **state)
{
	struct core_lu lu = { .fd = -1 };
	char path[64];
	uint64_t size = 0;
	int fd;

	(void)state;
	test_file_tmp(path, sizeof(path), 3 * 1024 * 1024 + 100);
	fd = test_file_open(&lu, path, &size);
	assert_true(fd >= 0);
	assert_int_equal(size, 3 * 1024 * 1024 + 100);
	assert_int_equal(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_DIRECT), O_RDWR);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_false(lu.readonly);
	close(fd);
	unlink(path);
}

static void test_file_readonly_and_oflags(void **state)
{
	struct core_lu lu = { .fd = -1, .readonly = true };
	char path[64];
	uint64_t size = 0;
	int fd;
	int fl;

	(void)state;
	test_file_tmp(path, sizeof(path), 1 << 20);
	lu.bsoflags = CORE_BSOFLAG_DIRECT | CORE_BSOFLAG_SYNC;
	fd = test_file_open(&lu, path, &size);
	assert_true(fd >= 0);
	fl = fcntl(fd, F_GETFL);
	assert_int_equal(fl & O_ACCMODE, O_RDONLY);
	assert_true(fl & O_DIRECT);
	assert_int_equal(fl & O_SYNC, O_SYNC);
	assert_false(fl & O_NONBLOCK);
	close(fd);
	unlink(path);
}

static void test_file_rejects_other_types(void **state)
{
	struct core_lu lu = { .fd = -1 };
	char fifo[] = "/tmp/utgt-bsfifo-XXXXXX";
	uint64_t size = 0;
	int fd = mkstemp(fifo);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(test_file_open(&lu, "/dev/null", &size), -EINVAL);
	assert_int_equal(test_file_open(&lu, "/tmp", &size), -EINVAL);
	/* A FIFO without a writer must neither block nor be accepted, read-only or not. */
	assert_int_equal(test_file_open(&lu, fifo, &size), -EINVAL);
	lu.readonly = true;
	assert_int_equal(test_file_open(&lu, fifo, &size), -EINVAL);
	unlink(fifo);
}

/* A file the daemon may not write opens read-only and makes the LU read-only (not as root). */
static void test_file_readonly_fallback(void **state)
{
	struct core_lu lu = { .fd = -1 };
	char path[64];
	uint64_t size = 0;
	int fd;

	(void)state;
	if (geteuid() == 0)
		skip();
	test_file_tmp(path, sizeof(path), 1 << 20);
	assert_int_equal(chmod(path, 0444), 0);
	fd = test_file_open(&lu, path, &size);
	assert_true(fd >= 0);
	assert_true(lu.readonly);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(size, 1 << 20);
	close(fd);
	unlink(path);
}

/* procfs has no O_DIRECT: the open fails with -EINVAL (and a clear log line). */
static void test_file_direct_refused(void **state)
{
	struct core_lu lu = { .fd = -1, .readonly = true };
	uint64_t size = 1;
	int fd;

	(void)state;
	fd = test_file_open(&lu, "/proc/version", &size);
	assert_true(fd >= 0);
	close(fd);
	lu.bsoflags = CORE_BSOFLAG_DIRECT;
	assert_int_equal(test_file_open(&lu, "/proc/version", &size), -EINVAL);
}

static void test_file_missing_path(void **state)
{
	struct core_lu lu = { .fd = -1 };
	uint64_t size = 0;

	(void)state;
	assert_int_equal(test_file_open(&lu, "/nonexistent/utgt/disk.img", &size), -ENOENT);
	assert_int_equal(test_file_open(&lu, NULL, &size), -EINVAL);
	assert_int_equal(test_file_open(&lu, "", &size), -EINVAL);
}

static void test_file_block_device_size(void **state)
{
	struct core_lu lu = { .fd = -1 };
	char path[64];
	char dev[32];
	uint64_t size = 0;
	int lfd;
	int fd;

	(void)state;
	test_file_tmp(path, sizeof(path), 5 * 1024 * 1024);
	lfd = bs_test_loop_attach(path, dev, sizeof(dev));
	if (lfd < 0) {
		unlink(path);
		skip();
	}
	fd = test_file_open(&lu, dev, &size);
	assert_true(fd >= 0);
	assert_int_equal(size, 5 * 1024 * 1024);
	close(fd);
	close(lfd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_regular_read_write),
		cmocka_unit_test(test_file_readonly_and_oflags),
		cmocka_unit_test(test_file_rejects_other_types),
		cmocka_unit_test(test_file_readonly_fallback),
		cmocka_unit_test(test_file_direct_refused),
		cmocka_unit_test(test_file_missing_path),
		cmocka_unit_test(test_file_block_device_size),
	};

	return cmocka_run_group_tests_name("bs_file", tests, NULL, NULL);
}
