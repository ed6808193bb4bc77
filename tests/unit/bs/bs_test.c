/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixture for the backing-store unit tests (see bs_test.h). */
#include "bs_test.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

static void bs_test_done(struct scsi_cmd *cmd, int64_t res)
{
	struct bs_test_cmd *tc = container_of(cmd, struct bs_test_cmd, cmd);

	assert_false(tc->done);
	tc->done = true;
	tc->res = res;
	tc->done_reactor = reactor_self();
	tc->done_thread = pthread_self();
}

static int bs_test_file(struct bs_test *t, const char *dir)
{
	int fd;

	snprintf(t->file, sizeof(t->file), "%s/utgt-bs-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(t->file);
	if (fd < 0 && dir) {
		print_message("%s unavailable, using /tmp\n", dir);
		return bs_test_file(t, NULL);
	}
	if (fd < 0)
		return -1;
	if (ftruncate(fd, BS_TEST_FILE_SIZE) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	snprintf(t->path, sizeof(t->path), "%s", t->file);
	return 0;
}

int bs_test_loop_attach(const char *file, char *dev, size_t dev_len)
{
	struct loop_config cfg = { .info.lo_flags = LO_FLAGS_AUTOCLEAR };
	int ctl, n, lfd, ret = -EBUSY;

	cfg.fd = (uint32_t)open(file, O_RDWR | O_CLOEXEC);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if ((int)cfg.fd < 0 || ctl < 0) {
		ret = -errno;
		goto out;
	}
	for (int tries = 0; tries < 8 && ret == -EBUSY; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			ret = -errno;
			break;
		}
		snprintf(dev, dev_len, "/dev/loop%d", n);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			ret = -errno;
			break;
		}
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
			ret = lfd;
		else {
			ret = -errno;
			close(lfd);
		}
	}
out:
	if (ctl >= 0)
		close(ctl);
	if ((int)cfg.fd >= 0)
		close((int)cfg.fd);
	return ret;
}

bool bs_test_loop_available(void)
{
	char file[] = "/tmp/utgt-loop-XXXXXX";
	char dev[32];
	int fd = mkstemp(file);
	int lfd = -1;

	if (fd >= 0 && ftruncate(fd, 1 << 20) == 0)
		lfd = bs_test_loop_attach(file, dev, sizeof(dev));
	if (fd >= 0)
		close(fd);
	unlink(file);
	if (lfd < 0)
		return false;
	close(lfd);
	return true;
}

int bs_test_setup(void **state)
{
	const struct bs_test_opts *o = *state;
	struct bs_test *t = calloc(1, sizeof(*t));
	uint64_t size = 0;
	int fd = -1;

	assert_non_null(t);
	t->bs = o->bs;
	t->main_thread = pthread_self();
	t->loop_fd = -1;
	assert_int_equal(reactor_new(&t->r, 0, o->uring_entries), 0);
	assert_int_equal(bs_test_file(t, o->dir), 0);
	if (o->loop) {
		t->loop_fd = bs_test_loop_attach(t->file, t->path, sizeof(t->path));
		assert_true(t->loop_fd >= 0);
	}
	t->lu.fd = -1;
	t->lu.bs = o->bs;
	t->lu.block_size = 512;
	t->lu.block_shift = 9;
	t->lu.bsoflags = o->bsoflags;
	t->lu.readonly = o->readonly;
	assert_int_equal(t->bs->init(&t->lu, o->bsopts), 0);
	assert_int_equal(t->bs->open(&t->lu, t->path, &fd, &size), 0);
	t->lu.fd = fd;
	t->lu.size = size;
	*state = t;
	return 0;
}

int bs_test_teardown(void **state)
{
	struct bs_test *t = *state;

	t->bs->close(&t->lu);
	t->bs->exit(&t->lu);
	if (t->loop_fd >= 0)
		close(t->loop_fd);
	unlink(t->file);
	reactor_free(t->r);
	free(t);
	return 0;
}

void bs_test_submit(struct bs_test *t, unsigned int i, enum core_io_op op, uint32_t flags,
		    uint64_t offset, uint64_t length, void *buf)
{
	struct bs_test_cmd *tc = &t->cmds[i];

	memset(tc, 0, sizeof(*tc));
	tc->cmd.reactor = t->r;
	tc->cmd.lu = &t->lu;
	tc->cmd.io.op = op;
	tc->cmd.io.flags = flags;
	tc->cmd.io.offset = offset;
	tc->cmd.io.length = length;
	tc->cmd.io.buf = buf;
	tc->cmd.io.done = bs_test_done;
	/* The device type's scratch must survive the store. */
	tc->cmd.scratch[0] = 0x1111;
	tc->cmd.scratch[1] = 0x2222;
	tc->cmd.scratch[2] = 0x3333;
	t->bs->submit(&tc->cmd);
	assert_false(tc->done);
}

int64_t bs_test_wait(struct bs_test *t, unsigned int i)
{
	struct bs_test_cmd *tc = &t->cmds[i];

	for (int n = 0; !tc->done && n < 10000; n++)
		assert_true(reactor_run_once(t->r, 100) >= 0);
	assert_true(tc->done);
	assert_ptr_equal(tc->done_reactor, t->r);
	assert_true(pthread_equal(tc->done_thread, t->main_thread));
	assert_int_equal(tc->cmd.scratch[0], 0x1111);
	assert_int_equal(tc->cmd.scratch[1], 0x2222);
	assert_int_equal(tc->cmd.scratch[2], 0x3333);
	return tc->res;
}

int64_t bs_test_io(struct bs_test *t, enum core_io_op op, uint32_t flags, uint64_t offset,
		   uint64_t length, void *buf)
{
	bs_test_submit(t, 0, op, flags, offset, length, buf);
	return bs_test_wait(t, 0);
}

void bs_test_pattern(void *buf, size_t len, unsigned int seed)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = seed ? (uint8_t)(seed * 31 + i * 7 + (i >> 9)) : 0xa5;
}

void *bs_test_buf(size_t len, unsigned int seed)
{
	void *buf = NULL;

	assert_int_equal(posix_memalign(&buf, 4096, len ? len : 1), 0);
	bs_test_pattern(buf, len, seed);
	return buf;
}

bool bs_test_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		if (p[i])
			return false;
	}
	return true;
}
