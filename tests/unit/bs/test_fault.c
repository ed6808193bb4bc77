/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for src/bs/fault.c: the shared cases through the wrapper (no fault hit), each
 * injected error on its LBA range only, torn writes, latency (global and per LBA range),
 * commands held until fault_release, and --bsopts validation.
 */
#include "bs_test.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct bs_test_opts opts_plain = { .bs = &bs_fault, .uring_entries = 64 };
static struct bs_test_opts opts_rdwr = {
	.bs = &bs_fault, .uring_entries = 64, .bsopts = "lower=rdwr,workers=2,delay_ms=1",
};
static struct bs_test_opts opts_aio = {
	.bs = &bs_fault, .uring_entries = 64, .bsopts = "lower=aio;depth=4",
};
static struct bs_test_opts opts_faults = {
	.bs = &bs_fault, .uring_entries = 64,
	.bsopts = "eio=8-15,enospc=16-23,erofs=24,torn=32-47,flush_eio=0",
};
static struct bs_test_opts opts_flush = {
	.bs = &bs_fault, .uring_entries = 64, .bsopts = "flush_eio=1",
};
static struct bs_test_opts opts_delay = {
	.bs = &bs_fault, .uring_entries = 64, .bsopts = "lower=rdwr,delay_ms=100",
};

static struct bs_test_opts opts_range_delay = {
	.bs = &bs_fault, .uring_entries = 64,
	.bsopts = "delay=8-15:300,delay=100:150,delay_ms=0,eio=200",
};
static struct bs_test_opts opts_hang = {
	.bs = &bs_fault, .uring_entries = 64,
	.bsopts = "lower=rdwr,hang=8-15,hang=64,eio=64,delay=0-7:50",
};
static struct bs_test_opts opts_sqpoll = {
	.bs = &bs_fault, .uring_entries = 64, .bsopts = "sqpoll=1,fixed=1",
};

#define FAULT_CASE(f, o)                                                                          \
	cmocka_unit_test_prestate_setup_teardown(f, bs_test_setup, bs_test_teardown, o)

static void test_fault_errors_on_ranges(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(4096, 1);

	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 8 * 512, 512, buf), -EIO);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 0, 4096 + 512, buf), -EIO);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 0, 4096, buf), 4096);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 15 * 512, 512, buf), -EIO);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 16 * 512, 4096, buf), -ENOSPC);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 16 * 512, 4096, buf), 4096);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE_ZEROES, 0, 20 * 512, 512, NULL), -ENOSPC);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 24 * 512, 512, buf), -EROFS);
	assert_int_equal(bs_test_io(t, CORE_IO_UNMAP, 0, 24 * 512, 512, NULL), -EROFS);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 25 * 512, 512, buf), 512);
	assert_int_equal(bs_test_io(t, CORE_IO_FLUSH, 0, 0, 0, NULL), 0);
	free(buf);
}

static void test_fault_torn_write_keeps_first_half(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(8192, 7);
	void *back = bs_test_buf(8192, 0);

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 32 * 512, 8192, buf), -EIO);
	assert_int_equal(pread(t->lu.fd, back, 8192, 32 * 512), 8192);
	assert_memory_equal(back, buf, 4096);
	assert_true(bs_test_is_zero((char *)back + 4096, 4096));
	free(buf);
	free(back);
}

static void test_fault_flush_eio(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(4096, 4);

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 0, 4096, buf), 4096);
	assert_int_equal(bs_test_io(t, CORE_IO_FLUSH, 0, 0, 0, NULL), -EIO);
	free(buf);
}

static void test_fault_delay(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(4096, 3);
	uint64_t t0 = time_now_ms();

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 0, 4096, buf), 4096);
	assert_true(time_now_ms() - t0 >= 100);
	free(buf);
}

/* Only commands on a delay range wait, each as long as its (largest) range says. */
static void test_fault_range_delay(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(65536, 3);
	uint64_t t0 = time_now_ms();

	/* a command just past the range overtakes one on it */
	bs_test_submit(t, 1, CORE_IO_WRITE, 0, 15 * 512, 512, buf);
	bs_test_submit(t, 2, CORE_IO_WRITE, 0, 16 * 512, 4096, buf);
	assert_int_equal(bs_test_wait(t, 2), 4096);
	assert_false(t->cmds[1].done);
	assert_int_equal(bs_test_wait(t, 1), 512);
	assert_true(time_now_ms() - t0 >= 300);
	/* a command over both ranges waits the longer delay */
	t0 = time_now_ms();
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 12 * 512, 89 * 512, buf), 89 * 512);
	assert_true(time_now_ms() - t0 >= 300);
	/* the later command on the shorter range completes first */
	t0 = time_now_ms();
	bs_test_submit(t, 1, CORE_IO_READ, 0, 8 * 512, 512, buf);
	bs_test_submit(t, 2, CORE_IO_READ, 0, 100 * 512, 512, (char *)buf + 512);
	assert_int_equal(bs_test_wait(t, 2), 512);
	assert_false(t->cmds[1].done);
	assert_true(time_now_ms() - t0 >= 150);
	assert_int_equal(bs_test_wait(t, 1), 512);
	assert_true(time_now_ms() - t0 >= 300);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 200 * 512, 512, buf), -EIO);
	free(buf);
}

/* Runs the reactor for ms milliseconds. */
static void fault_run_for(struct bs_test *t, uint64_t ms)
{
	uint64_t end = time_now_ms() + ms;

	while (time_now_ms() < end)
		reactor_run_once(t->r, 10);
}

/* A command on a hang range stays in flight until fault_release; others pass it. */
static void test_fault_hang_release(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(4096, 5);
	void *back = bs_test_buf(4096, 0);

	bs_test_submit(t, 1, CORE_IO_WRITE, 0, 8 * 512, 4096, buf);
	bs_test_submit(t, 2, CORE_IO_READ, 0, 64 * 512, 512, back);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 0, 4096, buf), 4096);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 16 * 512, 512, back), 512);
	fault_run_for(t, 200);
	assert_false(t->cmds[1].done);
	assert_false(t->cmds[2].done);
	assert_int_equal(bs_fault.lu_config(&t->lu, "fault_release", "0"), 0);
	assert_int_equal(bs_fault.lu_config(&t->lu, "fault_release", "x"), -EINVAL);
	assert_int_equal(bs_fault.lu_config(&t->lu, "nope", "1"), -ENOENT);
	fault_run_for(t, 50);
	assert_false(t->cmds[1].done);
	assert_int_equal(bs_fault.lu_config(&t->lu, "fault_release", "1"), 0);
	assert_int_equal(bs_test_wait(t, 1), 4096);
	assert_int_equal(bs_test_wait(t, 2), -EIO);   /* released, then its fault applies */
	assert_int_equal(pread(t->lu.fd, back, 4096, 8 * 512), 4096);
	assert_memory_equal(back, buf, 4096);
	/* a later command on the range hangs again */
	bs_test_submit(t, 3, CORE_IO_READ, 0, 9 * 512, 512, back);
	fault_run_for(t, 100);
	assert_false(t->cmds[3].done);
	assert_int_equal(bs_fault.lu_config(&t->lu, "fault_release", "1"), 0);
	assert_int_equal(bs_test_wait(t, 3), 512);
	free(buf);
	free(back);
}

static void test_fault_bsopts(void **state)
{
	/* nine delay ranges: one more than the store keeps */
	static const char too_many_delays[] =
		"delay=0:1,delay=0:1,delay=0:1,delay=0:1,delay=0:1,delay=0:1,delay=0:1,"
		"delay=0:1,delay=0:1";
	static const char *const bad[] = {
		"lower=sg", "eio=5-4", "eio=", "torn=x", "delay_ms=60001", "eio",
		"lower=rdwr,workers=0", "lower=null,nope=1", "flush_eio=maybe",
		"delay=1-2", "delay=1-2:", "delay=2-1:5", "delay=1:60001", "delay=:5", "hang=",
		"hang=9-3", too_many_delays, "sqpoll=1,sqpoll_cpu=99999", "lower=rdwr,sqpoll=1",
	};
	struct core_lu lu = { .fd = -1, .bs = &bs_fault, .block_shift = 9 };
	uint64_t size = 0;
	int fd = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bs_fault.init(&lu, bad[i]), -EINVAL);
		assert_null(lu.bs_priv);
	}
	assert_int_equal(bs_fault.init(&lu, "lower=null,size=8192,eio=1"), 0);
	assert_int_equal(bs_fault.open(&lu, NULL, &fd, &size), 0);
	assert_int_equal(size, 8192);
	bs_fault.close(&lu);
	bs_fault.exit(&lu);
	assert_null(lu.bs_priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BS_FILE_CASES(&opts_plain, "io_uring"),
		BS_FILE_CASES(&opts_rdwr, "rdwr+delay"),
		BS_FILE_CASES(&opts_aio, "aio"),
		FAULT_CASE(test_fault_errors_on_ranges, &opts_faults),
		FAULT_CASE(test_fault_torn_write_keeps_first_half, &opts_faults),
		FAULT_CASE(test_fault_flush_eio, &opts_flush),
		FAULT_CASE(test_fault_delay, &opts_delay),
		FAULT_CASE(test_fault_range_delay, &opts_range_delay),
		FAULT_CASE(test_fault_hang_release, &opts_hang),
		BS_FILE_CASES(&opts_sqpoll, "sqpoll"),
		cmocka_unit_test(test_fault_bsopts),
	};

	return cmocka_run_group_tests_name("bs_fault", tests, NULL, NULL);
}
