/* SPDX-License-Identifier: GPL-2.0-only */
/* Unit tests for src/bs/null.c: zeroes on read, deferred completion, size and --bsopts. */
#include "bs_test.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>

static struct bs_test_opts opts_null = { .bs = &bs_null, .uring_entries = 64 };
static struct bs_test_opts opts_sized = { .bs = &bs_null, .bsopts = "size=0x100000" };

#define NULL_CASE(f, o)                                                                           \
	cmocka_unit_test_prestate_setup_teardown(f, bs_test_setup, bs_test_teardown, o)

static void test_null_size_is_1tib(void **state)
{
	struct bs_test *t = *state;

	assert_int_equal(t->lu.size, 1ULL << 40);
	assert_int_equal(t->lu.fd, -1);
}

static void test_null_size_option(void **state)
{
	struct bs_test *t = *state;

	assert_int_equal(t->lu.size, 1u << 20);
}

static void test_null_read_returns_zeroes_into_dirty_buffer(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(128 * 1024, 0);

	assert_false(bs_test_is_zero(buf, 128 * 1024));
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 4096, 128 * 1024, buf), 128 * 1024);
	assert_true(bs_test_is_zero(buf, 128 * 1024));
	free(buf);
}

static void test_null_other_ops_complete(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(4096, 2);
	struct stat st;

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, CORE_IO_FUA, 0, 4096, buf), 4096);
	assert_int_equal(bs_test_io(t, CORE_IO_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(bs_test_io(t, CORE_IO_UNMAP, 0, 0, 1 << 20, NULL), 1 << 20);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE_ZEROES, 0, 0, 8192, NULL), 8192);
	assert_int_equal(bs_test_io(t, (enum core_io_op)42, 0, 0, 8192, NULL), -EOPNOTSUPP);
	/* No I/O reached the path. */
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_blocks, 0);
	free(buf);
}

static void test_null_many_in_flight(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(512, 0);

	for (unsigned int i = 0; i < BS_TEST_MAX_CMDS; i++)
		bs_test_submit(t, i, i & 1 ? CORE_IO_WRITE : CORE_IO_FLUSH, 0, 0, i & 1 ? 512 : 0,
			       buf);
	for (unsigned int i = 0; i < BS_TEST_MAX_CMDS; i++)
		assert_int_equal(bs_test_wait(t, i), i & 1 ? 512 : 0);
	free(buf);
}

static void test_null_bsopts(void **state)
{
	struct core_lu lu = { .fd = -1 };
	uint64_t size = 0;
	int fd = 0;

	(void)state;
	assert_int_equal(bs_null.init(&lu, "size=1"), -EINVAL);
	assert_int_equal(bs_null.init(&lu, "workers=1"), -EINVAL);
	assert_null(lu.bs_priv);
	assert_int_equal(bs_null.init(&lu, NULL), 0);
	assert_int_equal(bs_null.open(&lu, NULL, &fd, &size), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(size, 1ULL << 40);
	bs_null.close(&lu);
	bs_null.exit(&lu);
	assert_null(lu.bs_priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		NULL_CASE(test_null_size_is_1tib, &opts_null),
		NULL_CASE(test_null_size_option, &opts_sized),
		NULL_CASE(test_null_read_returns_zeroes_into_dirty_buffer, &opts_null),
		NULL_CASE(test_null_other_ops_complete, &opts_null),
		NULL_CASE(test_null_many_in_flight, &opts_null),
		cmocka_unit_test(test_null_bsopts),
	};

	return cmocka_run_group_tests_name("bs_null", tests, NULL, NULL);
}
