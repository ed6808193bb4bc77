/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sync: the blocking executor of a struct core_io, used by the rdwr workers and as the
 * fallback of the asynchronous drivers. Every transfer loops until complete: a short transfer
 * is never reported as success.
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* Source of WRITE ZEROES emulation; aligned so that O_DIRECT accepts it. */
const uint8_t bs_zero_buf[BS_ZERO_BUF_LEN] __attribute__((aligned(4096)));

static int64_t bs_sync_read(int fd, const struct core_io *io)
{
	uint8_t *buf = io->buf;
	uint64_t done = 0;

	while (done < io->length) {
		size_t chunk = MIN(io->length - done, BS_IO_CHUNK_MAX);
		ssize_t n = pread(fd, buf + done, chunk, (off_t)(io->offset + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			/* End of file (the file shrank): the LU reads zeroes up to its size. */
			memset(buf + done, 0, io->length - done);
			break;
		}
		done += (uint64_t)n;
	}
	return (int64_t)io->length;
}

/* Writes len bytes of buf at off; step 0 writes buf whole, else repeats step bytes of buf. */
static int bs_sync_pwrite(int fd, const uint8_t *buf, uint64_t len, uint64_t off, size_t step,
			  int rwf)
{
	uint64_t done = 0;

	while (done < len) {
		size_t chunk = MIN(len - done, step ? step : BS_IO_CHUNK_MAX);
		struct iovec iov = {
			.iov_base = (void *)(step ? buf : buf + done),
			.iov_len = chunk,
		};
		ssize_t n = pwritev2(fd, &iov, 1, (off_t)(off + done), rwf);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

static int bs_sync_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
	while (fallocate(fd, mode, (off_t)off, (off_t)len) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int bs_sync_discard(int fd, uint64_t off, uint64_t len)
{
	uint64_t range[2] = { off, len };

	if (ioctl(fd, BLKDISCARD, range) < 0)
		return -errno;
	return 0;
}

/* Zeroes the range: fallocate(ZERO_RANGE) where supported, else writes of zeroes. */
static int bs_sync_zero(int fd, uint64_t off, uint64_t len, int rwf)
{
	int ret = bs_sync_fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);

	if (ret != -EOPNOTSUPP)
		return ret;
	return bs_sync_pwrite(fd, bs_zero_buf, len, off, BS_ZERO_BUF_LEN, rwf);
}

/*
 * Deallocates the range: a hole punch (on block devices a zeroing discard), else BLKDISCARD on
 * block devices. When neither is supported the range is zeroed, so an acknowledged UNMAP never
 * leaves the old data readable where the store cannot deallocate.
 */
static int bs_sync_unmap(int fd, const struct bs_file *file, uint64_t off, uint64_t len, int rwf)
{
	int ret = bs_sync_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);

	if (ret == -EOPNOTSUPP && file->bdev)
		ret = bs_sync_discard(fd, off, len);
	if (ret != -EOPNOTSUPP)
		return ret;
	return bs_sync_zero(fd, off, len, rwf);
}

int64_t bs_sync_exec(int fd, const struct bs_file *file, const struct core_io *io)
{
	bool fua = io->flags & CORE_IO_FUA;
	int rwf = fua ? RWF_DSYNC : 0;
	int ret;

	switch (io->op) {
	case CORE_IO_READ:
		return bs_sync_read(fd, io);
	case CORE_IO_WRITE:
		ret = bs_sync_pwrite(fd, io->buf, io->length, io->offset, 0, rwf);
		fua = false;
		break;
	case CORE_IO_FLUSH:
		ret = fdatasync(fd) < 0 ? -errno : 0;
		fua = false;
		break;
	case CORE_IO_UNMAP:
		ret = bs_sync_unmap(fd, file, io->offset, io->length, rwf);
		break;
	case CORE_IO_WRITE_ZEROES:
		ret = bs_sync_zero(fd, io->offset, io->length, rwf);
		break;
	default:
		return -EOPNOTSUPP;
	}
	/* fallocate and discard are not covered by RWF_DSYNC: make them durable explicitly. */
	if (!ret && fua && fdatasync(fd) < 0)
		ret = -errno;
	return ret < 0 ? ret : (int64_t)io->length;
}
