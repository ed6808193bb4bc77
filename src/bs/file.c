/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * file: opening a regular file or block device for an LU, shared by the file-backed drivers.
 * Honours --bsoflags (O_DIRECT, O_SYNC) and the LU's read-only flag, and reports the size.
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* O_NONBLOCK keeps a FIFO from blocking the management thread; it is cleared after the
 * file type is checked (io_uring would otherwise report -EAGAIN instead of waiting). */
static int bs_file_open_flags(const struct core_lu *lu, bool readonly)
{
	int flags = O_CLOEXEC | O_NONBLOCK | (readonly ? O_RDONLY : O_RDWR);

	if (lu->bsoflags & CORE_BSOFLAG_DIRECT)
		flags |= O_DIRECT;
	if (lu->bsoflags & CORE_BSOFLAG_SYNC)
		flags |= O_SYNC;
	return flags;
}

/* open(2) with the read-only fallback; returns the fd or -errno. */
static int bs_file_open_fd(struct core_lu *lu, const char *path)
{
	int fd = open(path, bs_file_open_flags(lu, lu->readonly));
	int err;

	if (fd >= 0)
		return fd;
	err = errno;
	if (!lu->readonly && (err == EROFS || err == EACCES)) {
		fd = open(path, bs_file_open_flags(lu, true));
		if (fd >= 0) {
			log_warn("backing store %s: not writable (%s), the LU is read-only", path,
				 strerror(err));
			lu->readonly = true;
			return fd;
		}
		err = errno;
	}
	if (err == EINVAL && (lu->bsoflags & CORE_BSOFLAG_DIRECT))
		log_err("backing store %s: file system does not support O_DIRECT (bsoflags=direct)",
			path);
	else if (err == EISDIR)
		log_err("backing store %s: not a regular file or block device", path);
	else
		log_err("backing store %s: %s", path, strerror(err));
	return err == EISDIR ? -EINVAL : -err;
}

/* Checks the file type, reads the size and clears O_NONBLOCK. */
static int bs_file_check(int fd, const char *path, uint64_t *size, struct bs_file *file)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		file->bdev = false;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return -errno;
		file->bdev = true;
	} else {
		log_err("backing store %s: not a regular file or block device", path);
		return -EINVAL;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* A read-only block device opens O_RDWR but refuses writes with EPERM: make the LU read-only. */
static void bs_file_check_ro(struct core_lu *lu, int fd, const char *path,
			     const struct bs_file *file)
{
	int ro = 0;

	if (!file->bdev || lu->readonly || ioctl(fd, BLKROGET, &ro) < 0 || !ro)
		return;
	log_warn("backing store %s: read-only block device, the LU is read-only", path);
	lu->readonly = true;
}

int bs_file_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size,
		 struct bs_file *file)
{
	int f;
	int ret;

	if (!path || !*path) {
		log_err("backing store: a path is required");
		return -EINVAL;
	}
	f = bs_file_open_fd(lu, path);
	if (f < 0)
		return f;
	ret = bs_file_check(f, path, size, file);
	if (ret < 0) {
		close(f);
		return ret;
	}
	bs_file_check_ro(lu, f, path, file);
	*fd = f;
	return 0;
}

int bs_open_path(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	struct bs_file file;

	return bs_file_open(lu, path, fd, size, &file);
}
