/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test cases shared by the file-backed stores (io_uring, rdwr, aio): data integrity, FUA,
 * flush, UNMAP and WRITE ZEROES, end-of-file handling, concurrency and error reporting.
 */
#include "bs_test.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define KIB 1024u

static void bs_case_check_file(struct bs_test *t, uint64_t off, const void *want, size_t len)
{
	void *got = bs_test_buf(len, 0);
	int fd = open(t->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, got, len, (off_t)off), (ssize_t)len);
	assert_memory_equal(got, want, len);
	close(fd);
	free(got);
}

void bs_case_write_read(void **state)
{
	struct bs_test *t = *state;
	void *wbuf = bs_test_buf(64 * KIB, 3);
	void *rbuf = bs_test_buf(64 * KIB, 0);

	assert_int_equal(t->lu.size, BS_TEST_FILE_SIZE);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 4 * KIB, 64 * KIB, wbuf), 64 * KIB);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 4 * KIB, 64 * KIB, rbuf), 64 * KIB);
	assert_memory_equal(rbuf, wbuf, 64 * KIB);
	bs_case_check_file(t, 4 * KIB, wbuf, 64 * KIB);
	/* An unwritten (sparse) range reads as zeroes. */
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 512 * KIB, 8 * KIB, rbuf), 8 * KIB);
	assert_true(bs_test_is_zero(rbuf, 8 * KIB));
	/* A zero-length transfer completes (asynchronously) with 0. */
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 0, 0, rbuf), 0);
	free(wbuf);
	free(rbuf);
}

void bs_case_fua_write(void **state)
{
	struct bs_test *t = *state;
	void *wbuf = bs_test_buf(16 * KIB, 5);
	void *rbuf = bs_test_buf(16 * KIB, 0);

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, CORE_IO_FUA, 128 * KIB, 16 * KIB, wbuf),
			 16 * KIB);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 128 * KIB, 16 * KIB, rbuf), 16 * KIB);
	assert_memory_equal(rbuf, wbuf, 16 * KIB);
	bs_case_check_file(t, 128 * KIB, wbuf, 16 * KIB);
	free(wbuf);
	free(rbuf);
}

void bs_case_flush(void **state)
{
	struct bs_test *t = *state;
	void *wbuf = bs_test_buf(4 * KIB, 6);

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 0, 4 * KIB, wbuf), 4 * KIB);
	assert_int_equal(bs_test_io(t, CORE_IO_FLUSH, 0, 0, 0, NULL), 0);
	/* A ranged flush (SYNCHRONIZE CACHE with LBA/count) reports its length. */
	assert_int_equal(bs_test_io(t, CORE_IO_FLUSH, 0, 0, 4 * KIB, NULL), 4 * KIB);
	free(wbuf);
}

static off_t bs_case_blocks(struct bs_test *t)
{
	struct stat st;

	assert_int_equal(stat(t->file, &st), 0);
	return st.st_blocks;
}

void bs_case_unmap_punches_hole(void **state)
{
	struct bs_test *t = *state;
	void *wbuf = bs_test_buf(256 * KIB, 7);
	void *rbuf = bs_test_buf(256 * KIB, 0);
	off_t before;
	int fd;

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 256 * KIB, 256 * KIB, wbuf), 256 * KIB);
	assert_int_equal(bs_test_io(t, CORE_IO_FLUSH, 0, 0, 0, NULL), 0);
	before = bs_case_blocks(t);
	assert_true(before >= 256 * KIB / 512);
	assert_int_equal(bs_test_io(t, CORE_IO_UNMAP, 0, 256 * KIB, 256 * KIB, NULL), 256 * KIB);
	assert_true(bs_case_blocks(t) <= before - 256 * KIB / 512);
	fd = open(t->file, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 256 * KIB, SEEK_HOLE), 256 * KIB);
	close(fd);
	/* The LU keeps its size and the range reads back as zeroes. */
	assert_int_equal(t->lu.size, BS_TEST_FILE_SIZE);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 256 * KIB, 256 * KIB, rbuf), 256 * KIB);
	assert_true(bs_test_is_zero(rbuf, 256 * KIB));
	/* UNMAP with FUA also succeeds (fallocate followed by fdatasync). */
	assert_int_equal(bs_test_io(t, CORE_IO_UNMAP, CORE_IO_FUA, 0, 4 * KIB, NULL), 4 * KIB);
	free(wbuf);
	free(rbuf);
}

void bs_case_write_zeroes(void **state)
{
	struct bs_test *t = *state;
	void *wbuf = bs_test_buf(192 * KIB, 8);
	void *rbuf = bs_test_buf(192 * KIB, 0);
	struct stat st;

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 64 * KIB, 192 * KIB, wbuf), 192 * KIB);
	/* 136 KiB: more than the 64 KiB zero buffer, so the emulation needs several writes. */
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE_ZEROES, 0, 96 * KIB, 136 * KIB, NULL),
			 136 * KIB);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 64 * KIB, 192 * KIB, rbuf), 192 * KIB);
	assert_memory_equal(rbuf, wbuf, 32 * KIB);
	assert_true(bs_test_is_zero((uint8_t *)rbuf + 32 * KIB, 136 * KIB));
	assert_memory_equal((uint8_t *)rbuf + 168 * KIB, (uint8_t *)wbuf + 168 * KIB, 24 * KIB);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE_ZEROES, CORE_IO_FUA, 0, 4 * KIB, NULL),
			 4 * KIB);
	/* Zeroing the end of the LU never grows the file. */
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE_ZEROES, 0, BS_TEST_FILE_SIZE - 4 * KIB,
				    4 * KIB, NULL), 4 * KIB);
	assert_int_equal(stat(t->file, &st), 0);
	assert_int_equal(st.st_size, BS_TEST_FILE_SIZE);
	free(wbuf);
	free(rbuf);
}

void bs_case_short_read_at_eof_zero_filled(void **state)
{
	struct bs_test *t = *state;
	uint64_t off = BS_TEST_FILE_SIZE - 16 * KIB;
	void *wbuf = bs_test_buf(16 * KIB, 9);
	void *rbuf = bs_test_buf(16 * KIB, 0);

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, off, 16 * KIB, wbuf), 16 * KIB);
	/* The file shrinks under the LU: the read is short, then hits end of file. */
	assert_int_equal(truncate(t->file, BS_TEST_FILE_SIZE - 6 * KIB), 0);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, off, 16 * KIB, rbuf), 16 * KIB);
	assert_memory_equal(rbuf, wbuf, 10 * KIB);
	assert_true(bs_test_is_zero((uint8_t *)rbuf + 10 * KIB, 6 * KIB));
	/* Wholly past end of file: all zeroes, never the buffer's old contents. */
	bs_test_pattern(rbuf, 4 * KIB, 0);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, BS_TEST_FILE_SIZE - 4 * KIB, 4 * KIB,
				    rbuf), 4 * KIB);
	assert_true(bs_test_is_zero(rbuf, 4 * KIB));
	free(wbuf);
	free(rbuf);
}

void bs_case_many_in_flight(void **state)
{
	struct bs_test *t = *state;
	const size_t len = 8 * KIB;
	uint8_t *wbuf = bs_test_buf(BS_TEST_MAX_CMDS * len, 11);
	uint8_t *rbuf = bs_test_buf(BS_TEST_MAX_CMDS * len, 0);

	for (unsigned int i = 0; i < BS_TEST_MAX_CMDS; i++)
		bs_test_submit(t, i, CORE_IO_WRITE, i & 1 ? CORE_IO_FUA : 0, i * len, len,
			       wbuf + i * len);
	for (unsigned int i = 0; i < BS_TEST_MAX_CMDS; i++)
		assert_int_equal(bs_test_wait(t, i), len);
	for (unsigned int i = 0; i < BS_TEST_MAX_CMDS; i++)
		bs_test_submit(t, i, CORE_IO_READ, 0, i * len, len, rbuf + i * len);
	for (unsigned int i = 0; i < BS_TEST_MAX_CMDS; i++)
		assert_int_equal(bs_test_wait(t, i), len);
	assert_memory_equal(rbuf, wbuf, BS_TEST_MAX_CMDS * len);
	free(wbuf);
	free(rbuf);
}

void bs_case_whole_lu(void **state)
{
	struct bs_test *t = *state;
	void *wbuf = bs_test_buf(BS_TEST_FILE_SIZE, 13);
	void *rbuf = bs_test_buf(BS_TEST_FILE_SIZE, 0);

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, CORE_IO_FUA, 0, BS_TEST_FILE_SIZE, wbuf),
			 BS_TEST_FILE_SIZE);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 0, BS_TEST_FILE_SIZE, rbuf),
			 BS_TEST_FILE_SIZE);
	assert_memory_equal(rbuf, wbuf, BS_TEST_FILE_SIZE);
	free(wbuf);
	free(rbuf);
}

void bs_case_readonly_write_fails_with_errno(void **state)
{
	struct bs_test *t = *state;
	void *buf = bs_test_buf(4 * KIB, 4);

	assert_true(t->lu.readonly);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 0, 4 * KIB, buf), -EBADF);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 0, 4 * KIB, buf), 4 * KIB);
	assert_true(bs_test_is_zero(buf, 4 * KIB));
	free(buf);
}
