/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for src/bs/sg.c as a disk store (--bstype sg under the disk type): ioctl is
 * wrapped (-Wl,--wrap=ioctl) by a small in-memory SCSI disk answering SG_IO, so the CDBs the
 * store builds, its chunking, retries and sense-to-errno mapping are checked without a device.
 */
#include "bs_test.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <scsi/sg.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define FAKE_BYTES  (1u << 20)
#define FAKE_XFER   8192        /* BLKSECTGET of the fake sg device, bytes */

struct fake_dev {
	uint32_t block;             /* logical block size */
	uint8_t data[FAKE_BYTES];
	unsigned int ua;            /* commands still answered with a unit attention */
	unsigned int busy;          /* commands still answered BUSY */
	int64_t medium_lba;         /* reads covering it fail 03/11/00; -1: none */
	bool protect;               /* writes fail 07/27/00 */
	unsigned int ios, syncs, unmaps, fua_writes;
	uint32_t max_xfer;
};

static struct fake_dev fake;

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

static uint64_t be(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void sense(struct sg_io_hdr *h, uint8_t key, uint8_t asc, uint8_t ascq)
{
	uint8_t s[18] = { 0x70, 0, key, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, ascq };

	h->status = 0x02;
	h->sb_len_wr = (unsigned char)MIN(sizeof(s), h->mx_sb_len);
	memcpy(h->sbp, s, h->sb_len_wr);
}

static void fake_capacity(struct sg_io_hdr *h)
{
	uint8_t d[32] = { 0 };
	uint64_t last = FAKE_BYTES / fake.block - 1;

	for (int i = 0; i < 8; i++)
		d[i] = (uint8_t)(last >> (56 - 8 * i));
	d[10] = (uint8_t)(fake.block >> 8);
	d[11] = (uint8_t)fake.block;
	memcpy(h->dxferp, d, MIN(h->dxfer_len, sizeof(d)));
	h->resid = (int)(h->dxfer_len - MIN(h->dxfer_len, sizeof(d)));
}

static void fake_rw(struct sg_io_hdr *h, const uint8_t *cdb)
{
	uint64_t lba = be(&cdb[2], 8), off = lba * fake.block;
	uint32_t n = (uint32_t)be(&cdb[10], 4), len = n * fake.block;

	assert_int_equal(h->dxfer_len, len);
	assert_true(len <= FAKE_XFER);  /* never more than BLKSECTGET allows */
	assert_true(off + len <= FAKE_BYTES);
	fake.max_xfer = MAX(fake.max_xfer, len);
	fake.ios++;
	if (cdb[0] == 0x88) {
		if (fake.medium_lba >= 0 && (int64_t)lba <= fake.medium_lba &&
		    fake.medium_lba < (int64_t)(lba + n))
			sense(h, 0x3, 0x11, 0);
		else
			memcpy(h->dxferp, fake.data + off, len);
	} else if (fake.protect) {
		sense(h, 0x7, 0x27, 0);
	} else {
		fake.fua_writes += (cdb[1] & 0x08) != 0;
		memcpy(fake.data + off, h->dxferp, len);
	}
}

static void fake_unmap(struct sg_io_hdr *h)
{
	const uint8_t *p = h->dxferp;
	uint64_t lba = be(&p[8], 8);
	uint32_t n = (uint32_t)be(&p[16], 4);

	assert_int_equal(be(p, 2), 22);
	assert_int_equal(be(&p[2], 2), 16);
	memset(fake.data + lba * fake.block, 0, (size_t)n * fake.block);
	fake.unmaps++;
}

static int fake_sg_io(struct sg_io_hdr *h)
{
	const uint8_t *cdb = h->cmdp;

	assert_int_equal(h->interface_id, 'S');
	h->status = 0;
	h->host_status = 0;
	h->driver_status = 0;
	h->sb_len_wr = 0;
	h->resid = 0;
	if (fake.ua && cdb[0] != 0x12) {
		fake.ua--;
		sense(h, 0x6, 0x29, 0);
	} else if (fake.busy) {
		fake.busy--;
		h->status = 0x08;
	} else if (cdb[0] == 0x12) {
		memset(h->dxferp, 0, h->dxfer_len);
		h->resid = (int)h->dxfer_len - 36;
	} else if (cdb[0] == 0x9e) {
		fake_capacity(h);
	} else if (cdb[0] == 0x88 || cdb[0] == 0x8a) {
		fake_rw(h, cdb);
	} else if (cdb[0] == 0x35) {
		fake.syncs++;
	} else if (cdb[0] == 0x42) {
		fake_unmap(h);
	} else {
		sense(h, 0x5, 0x20, 0);
	}
	return 0;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == SG_GET_VERSION_NUM) {
		*(int *)arg = 30536;
		return 0;
	}
	if (req == SG_IO)
		return fake_sg_io(arg);
	if (req == BLKSECTGET) {
		*(int *)arg = FAKE_XFER;
		return 0;
	}
	return __real_ioctl(fd, req, arg);
}

/* A fixture on /dev/null (a character device) with the fake behind it; block size in state. */
static int sg_setup(void **state)
{
	uint32_t block = (uint32_t)(uintptr_t)*state;
	struct bs_test *t = calloc(1, sizeof(*t));
	uint64_t size = 0;
	int fd = -1;

	assert_non_null(t);
	memset(&fake, 0, sizeof(fake));
	fake.block = block;
	fake.medium_lba = -1;
	t->bs = &bs_sg;
	t->main_thread = pthread_self();
	t->loop_fd = -1;
	snprintf(t->path, sizeof(t->path), "/dev/null");
	assert_int_equal(reactor_new(&t->r, 0, 0), 0);
	t->lu.fd = -1;
	t->lu.bs = &bs_sg;
	t->lu.path = t->path;
	t->lu.block_size = MAX(block, 512u);
	t->lu.block_shift = (uint8_t)__builtin_ctz(t->lu.block_size);
	assert_int_equal(bs_sg.init(&t->lu, NULL), 0);
	assert_int_equal(bs_sg.open(&t->lu, t->path, &fd, &size), 0);
	t->lu.fd = fd;
	t->lu.size = size;
	*state = t;
	return 0;
}

static void test_sg_open_reads_capacity(void **state)
{
	struct bs_test *t = *state;

	assert_int_equal(t->lu.size, FAKE_BYTES);
}

static void test_sg_write_read_in_device_sized_pieces(void **state)
{
	struct bs_test *t = *state;
	void *w = bs_test_buf(65536, 7), *r = bs_test_buf(65536, 0);

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 4096, 65536, w), 65536);
	assert_memory_equal(fake.data + 4096, w, 65536);
	assert_int_equal(fake.ios, 65536 / FAKE_XFER);
	assert_int_equal(fake.max_xfer, FAKE_XFER);
	assert_int_equal(fake.fua_writes, 0);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 4096, 65536, r), 65536);
	assert_memory_equal(r, w, 65536);
	free(w);
	free(r);
}

static void test_sg_fua_flush_unmap_zeroes(void **state)
{
	struct bs_test *t = *state;
	void *w = bs_test_buf(8192, 3);

	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, CORE_IO_FUA, 0, 8192, w), 8192);
	assert_int_equal(fake.fua_writes, 1);
	assert_int_equal(bs_test_io(t, CORE_IO_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(fake.syncs, 1);
	assert_int_equal(bs_test_io(t, CORE_IO_UNMAP, 0, 0, 4096, NULL), 4096);
	assert_int_equal(fake.unmaps, 1);
	assert_true(bs_test_is_zero(fake.data, 4096));
	assert_false(bs_test_is_zero(fake.data + 4096, 4096));
	memset(fake.data + 65536, 0xa5, 131072);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE_ZEROES, 0, 65536, 131072, NULL), 131072);
	assert_true(bs_test_is_zero(fake.data + 65536, 131072));
	free(w);
}

static void test_sg_retries_unit_attention_and_busy(void **state)
{
	struct bs_test *t = *state;
	void *r = bs_test_buf(512, 0);

	fake.ua = 2;
	fake.busy = 2;
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 0, 512, r), 512);
	fake.ua = 10;  /* more than the store retries: the device keeps failing */
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 0, 512, r), -EIO);
	free(r);
}

static void test_sg_sense_becomes_errno(void **state)
{
	struct bs_test *t = *state;
	void *b = bs_test_buf(16384, 1);

	fake.medium_lba = 20;
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 0, 16384, b), -EIO);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 16384, 16384, b), 16384);
	fake.protect = true;
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 0, 512, b), -EROFS);
	free(b);
}

static void test_sg_4k_device(void **state)
{
	struct bs_test *t = *state;
	void *w = bs_test_buf(8192, 9);

	assert_int_equal(t->lu.size, FAKE_BYTES);
	assert_int_equal(bs_test_io(t, CORE_IO_WRITE, 0, 8192, 8192, w), 8192);
	assert_memory_equal(fake.data + 8192, w, 8192);
	assert_int_equal(bs_test_io(t, CORE_IO_READ, 0, 512, 4096, w), -EINVAL);
	free(w);
}

/* A 512-byte LU cannot sit on a 4096-byte device; pt LUs skip the capacity probe. */
static void test_sg_open_refusals(void **state)
{
	struct core_lu lu = { .fd = -1, .block_size = 512, .block_shift = 9, .path = "/dev/null" };
	uint64_t size = 1;
	int fd = -1;

	(void)state;
	memset(&fake, 0, sizeof(fake));
	fake.block = 4096;
	lu.bs = &bs_sg;
	assert_int_equal(bs_sg.init(&lu, NULL), 0);
	assert_int_equal(bs_sg.open(&lu, lu.path, &fd, &size), -EINVAL);
	bs_sg.exit(&lu);
	lu.dt = &bs_sg_pt;
	assert_int_equal(bs_sg.init(&lu, NULL), 0);
	assert_int_equal(bs_sg.open(&lu, lu.path, &fd, &size), 0);
	assert_int_equal(size, 0);
	lu.fd = fd;
	bs_sg.close(&lu);
	bs_sg.exit(&lu);
	assert_int_equal(bs_sg.init(&lu, "depth=4"), -EINVAL);
}

#define SG_CASE(f, block)                                                                         \
	cmocka_unit_test_prestate_setup_teardown(f, sg_setup, bs_test_teardown,                   \
						 (void *)(uintptr_t)(block))

int main(void)
{
	const struct CMUnitTest tests[] = {
		SG_CASE(test_sg_open_reads_capacity, 512),
		SG_CASE(test_sg_write_read_in_device_sized_pieces, 512),
		SG_CASE(test_sg_fua_flush_unmap_zeroes, 512),
		SG_CASE(test_sg_retries_unit_attention_and_busy, 512),
		SG_CASE(test_sg_sense_becomes_errno, 512),
		SG_CASE(test_sg_4k_device, 4096),
		cmocka_unit_test(test_sg_open_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
