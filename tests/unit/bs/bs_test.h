/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared fixture for the backing-store unit tests: a reactor with its own io_uring, a fake LU
 * on a sparse 1 MiB temporary file and commands driven to completion with reactor_run_once.
 */
#ifndef UTGT_TESTS_BS_TEST_H
#define UTGT_TESTS_BS_TEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bs/bs.h"

#define BS_TEST_FILE_SIZE (1u << 20)
#define BS_TEST_MAX_CMDS  64

struct bs_test_cmd {
	struct scsi_cmd cmd;
	bool done;
	int64_t res;
	struct reactor *done_reactor;   /* reactor_self() inside io.done */
	pthread_t done_thread;
};

struct bs_test {
	const struct core_bs *bs;
	struct reactor *r;
	struct core_lu lu;
	char path[64];                  /* what the store opened: the file or the loop device */
	char file[64];                  /* the backing regular file */
	int loop_fd;                    /* loop device held open (autoclear), or -1 */
	pthread_t main_thread;
	struct bs_test_cmd cmds[BS_TEST_MAX_CMDS];
};

/* Options a test case gives its fixture (cmocka initial state). */
struct bs_test_opts {
	const struct core_bs *bs;
	const char *bsopts;
	uint32_t bsoflags;
	unsigned int uring_entries;     /* 0: reactor without a ring */
	const char *dir;                /* NULL: /tmp */
	bool readonly;                  /* open the LU read-only */
	bool loop;                      /* put the file behind a loop device (root only) */
};

/*
 * Attaches file to a free loop device with autoclear, writes its path into dev and returns the
 * device's fd (closing it, after the store closed its own, detaches the device) or -errno.
 */
int bs_test_loop_attach(const char *file, char *dev, size_t dev_len);
/* True when loop devices can be used here (root with /dev/loop-control). */
bool bs_test_loop_available(void);

/* cmocka setup/teardown: state points at a struct bs_test_opts, replaced by a struct bs_test. */
int bs_test_setup(void **state);
int bs_test_teardown(void **state);

/* Fills in command i for an I/O and submits it (asserting no completion inside submit). */
void bs_test_submit(struct bs_test *t, unsigned int i, enum core_io_op op, uint32_t flags,
		    uint64_t offset, uint64_t length, void *buf);
/* Runs the reactor until command i completed (bounded) and returns its result. */
int64_t bs_test_wait(struct bs_test *t, unsigned int i);
/* submit + wait for command 0. */
int64_t bs_test_io(struct bs_test *t, enum core_io_op op, uint32_t flags, uint64_t offset,
		   uint64_t length, void *buf);

/* Aligned (4 KiB) buffer filled with byte pattern seed + i (seed 0: a "dirty" 0xA5 fill). */
void *bs_test_buf(size_t len, unsigned int seed);
void bs_test_pattern(void *buf, size_t len, unsigned int seed);
bool bs_test_is_zero(const void *buf, size_t len);

/* Cases shared by the file-backed drivers (state: struct bs_test from bs_test_setup). */
void bs_case_write_read(void **state);
void bs_case_fua_write(void **state);
void bs_case_flush(void **state);
void bs_case_unmap_punches_hole(void **state);
void bs_case_write_zeroes(void **state);
void bs_case_short_read_at_eof_zero_filled(void **state);
void bs_case_many_in_flight(void **state);
void bs_case_whole_lu(void **state);
void bs_case_readonly_write_fails_with_errno(void **state);

/* One shared case on fixture o, named "case[tag]" so that fixtures tell apart in reports. */
#define BS_CASE(f, o, tag) { #f "[" tag "]", f, bs_test_setup, bs_test_teardown, (o) }

/* The shared cases that also apply to a block device (it cannot shrink under the LU). */
#define BS_BDEV_CASES(o, tag)                                                                     \
	BS_CASE(bs_case_write_read, o, tag), BS_CASE(bs_case_fua_write, o, tag),                  \
	BS_CASE(bs_case_flush, o, tag), BS_CASE(bs_case_unmap_punches_hole, o, tag),              \
	BS_CASE(bs_case_write_zeroes, o, tag), BS_CASE(bs_case_many_in_flight, o, tag),           \
	BS_CASE(bs_case_whole_lu, o, tag)

/* Every shared case, for a fixture on a regular file. */
#define BS_FILE_CASES(o, tag)                                                                     \
	BS_CASE(bs_case_short_read_at_eof_zero_filled, o, tag), BS_BDEV_CASES(o, tag)

#endif
