/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * uring: the default store for files and block devices. Requests go into the io_uring owned by
 * the command's reactor (reactor_sqe_get), which submits them in one batch before it sleeps and
 * runs the completions on the same thread.
 *
 * Each command has at most one SQE in flight; its completion function says which step it was:
 *   READ/WRITE:    rw -> rw (short transfer: the remainder) -> done
 *   FLUSH:         fsync(DATASYNC) -> done
 *   WRITE_ZEROES:  fallocate(ZERO_RANGE) -> [EOPNOTSUPP] writes from the zero buffer -> done
 *   UNMAP:         fallocate(PUNCH_HOLE) -> [EOPNOTSUPP] ZERO_RANGE chain (files) or
 *                  BLKDISCARD (block devices, synchronous) -> done
 * A FUA fallocate step ends with an fsync. Without a ring (or an SQE), the rest of the work
 * runs synchronously and completes through reactor_defer.
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bs_uring_lu {
	struct bs_file file;     /* set by open (management thread), read by submit */
};

static void bs_uring_rw_next(struct scsi_cmd *cmd);
static void bs_uring_fsync(struct scsi_cmd *cmd);

static const struct bs_file *bs_uring_file(const struct scsi_cmd *cmd)
{
	const struct bs_uring_lu *ul = bs_priv(cmd->lu);

	return &ul->file;
}

static struct io_uring_sqe *bs_uring_sqe(struct scsi_cmd *cmd, reactor_io_fn fn)
{
	return reactor_sqe_get(cmd->reactor, bs_cmd_rio(cmd), fn);
}

/* No ring or no SQE: does the rest of the work (rest) now and completes cmd later. */
static void bs_uring_sync(struct scsi_cmd *cmd, const struct core_io *rest)
{
	int64_t res = bs_sync_exec(cmd->lu->fd, bs_uring_file(cmd), rest);

	bs_cmd_complete_later(cmd, res < 0 ? res : (int64_t)cmd->io.length, false);
}

static void bs_uring_finish(struct scsi_cmd *cmd, int res)
{
	/* Last touch of cmd: done may resubmit it or complete it. */
	cmd->io.done(cmd, res < 0 ? res : (int64_t)cmd->io.length);
}

/* ---- reads, writes and zero writes: loop until the whole range is transferred ---- */

static void bs_uring_rw_done(struct reactor_io *rio, int res)
{
	struct scsi_cmd *cmd = bs_rio_cmd(rio);
	struct core_io *io = &cmd->io;
	uint64_t done = (uint64_t)bs_cmd_res(cmd);

	if (res == 0 && io->op == CORE_IO_READ) {
		/* End of file: the LU reads zeroes up to its size. */
		memset((uint8_t *)io->buf + done, 0, io->length - done);
		done = io->length;
	} else if (res > 0) {
		done += (uint64_t)res;
	} else {
		bs_uring_finish(cmd, res ? res : -EIO); /* a write that makes no progress */
		return;
	}
	bs_cmd_res_set(cmd, (int64_t)done);
	if (done < io->length)
		bs_uring_rw_next(cmd);
	else
		bs_uring_finish(cmd, 0);
}

/* Queues the transfer of [done, length); WRITE_ZEROES and UNMAP write the zero buffer. */
static void bs_uring_rw_next(struct scsi_cmd *cmd)
{
	const struct core_io *io = &cmd->io;
	uint64_t done = (uint64_t)bs_cmd_res(cmd);
	uint64_t left = io->length - done;
	struct io_uring_sqe *sqe = bs_uring_sqe(cmd, bs_uring_rw_done);
	struct core_io rest = *io;

	if (!sqe) {
		rest.offset += done;
		rest.length = left;
		if (io->op <= CORE_IO_WRITE)
			rest.buf = (uint8_t *)io->buf + done;
		else
			rest.op = CORE_IO_WRITE_ZEROES;
		bs_uring_sync(cmd, &rest);
		return;
	}
	if (io->op == CORE_IO_READ) {
		io_uring_prep_read(sqe, cmd->lu->fd, (uint8_t *)io->buf + done,
				   (unsigned int)MIN(left, BS_IO_CHUNK_MAX), io->offset + done);
		return;
	}
	if (io->op == CORE_IO_WRITE)
		io_uring_prep_write(sqe, cmd->lu->fd, (uint8_t *)io->buf + done,
				    (unsigned int)MIN(left, BS_IO_CHUNK_MAX), io->offset + done);
	else
		io_uring_prep_write(sqe, cmd->lu->fd, bs_zero_buf,
				    (unsigned int)MIN(left, BS_ZERO_BUF_LEN), io->offset + done);
	if (io->flags & CORE_IO_FUA)
		sqe->rw_flags = RWF_DSYNC;
}

/* ---- flush ---- */

static void bs_uring_fsync_done(struct reactor_io *rio, int res)
{
	bs_uring_finish(bs_rio_cmd(rio), res);
}

static void bs_uring_fsync(struct scsi_cmd *cmd)
{
	struct io_uring_sqe *sqe = bs_uring_sqe(cmd, bs_uring_fsync_done);
	const struct core_io flush = { .op = CORE_IO_FLUSH };

	if (sqe)
		io_uring_prep_fsync(sqe, cmd->lu->fd, IORING_FSYNC_DATASYNC);
	else
		bs_uring_sync(cmd, &flush);
}

/* ---- WRITE ZEROES and UNMAP through fallocate ---- */

static void bs_uring_falloc(struct scsi_cmd *cmd, int mode, reactor_io_fn fn)
{
	struct io_uring_sqe *sqe = bs_uring_sqe(cmd, fn);

	if (sqe)
		io_uring_prep_fallocate(sqe, cmd->lu->fd, mode, (off_t)cmd->io.offset,
					(off_t)cmd->io.length);
	else
		bs_uring_sync(cmd, &cmd->io);
}

/* fallocate is not covered by RWF_DSYNC: a FUA request adds an fsync. */
static void bs_uring_falloc_end(struct scsi_cmd *cmd, int res)
{
	if (res >= 0 && (cmd->io.flags & CORE_IO_FUA))
		bs_uring_fsync(cmd);
	else
		bs_uring_finish(cmd, res);
}

static void bs_uring_zero_done(struct reactor_io *rio, int res)
{
	struct scsi_cmd *cmd = bs_rio_cmd(rio);

	if (res != -EOPNOTSUPP) {
		bs_uring_falloc_end(cmd, res);
		return;
	}
	bs_cmd_res_set(cmd, 0);
	bs_uring_rw_next(cmd);
}

static void bs_uring_punch_done(struct reactor_io *rio, int res)
{
	struct scsi_cmd *cmd = bs_rio_cmd(rio);

	if (res != -EOPNOTSUPP)
		bs_uring_falloc_end(cmd, res);
	else if (bs_uring_file(cmd)->bdev)
		bs_uring_sync(cmd, &cmd->io); /* BLKDISCARD: no io_uring opcode in liburing 2.3 */
	else
		bs_uring_falloc(cmd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				bs_uring_zero_done);
}

/* ---- driver ---- */

static void bs_uring_submit(struct scsi_cmd *cmd)
{
	const struct core_io *io = &cmd->io;

	bs_cmd_res_set(cmd, 0);
	switch (io->op) {
	case CORE_IO_READ:
	case CORE_IO_WRITE:
		if (io->length)
			bs_uring_rw_next(cmd);
		else
			bs_cmd_complete_later(cmd, 0, false);
		return;
	case CORE_IO_FLUSH:
		bs_uring_fsync(cmd);
		return;
	case CORE_IO_UNMAP:
		bs_uring_falloc(cmd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				bs_uring_punch_done);
		return;
	case CORE_IO_WRITE_ZEROES:
		bs_uring_falloc(cmd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				bs_uring_zero_done);
		return;
	}
	bs_cmd_complete_later(cmd, -EOPNOTSUPP, false);
}

static int bs_uring_init(struct core_lu *lu, const char *bsopts)
{
	struct bs_uring_lu *ul;
	int ret = bs_opts_parse(bsopts, NULL, 0, NULL, "io_uring");

	if (ret < 0)
		return ret;
	ul = calloc(1, sizeof(*ul));
	if (!ul)
		return -ENOMEM;
	bs_priv_set(lu, ul);
	return 0;
}

static int bs_uring_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	struct bs_uring_lu *ul = bs_priv(lu);

	return bs_file_open(lu, path, fd, size, &ul->file);
}

static void bs_uring_close(struct core_lu *lu)
{
	if (lu->fd >= 0)
		close(lu->fd);
	lu->fd = -1;
}

static void bs_uring_exit(struct core_lu *lu)
{
	free(bs_priv(lu));
	bs_priv_set(lu, NULL);
}

const struct core_bs bs_uring = {
	.name = "io_uring",
	.needs_path = true,
	.init = bs_uring_init,
	.open = bs_uring_open,
	.submit = bs_uring_submit,
	.close = bs_uring_close,
	.exit = bs_uring_exit,
};
