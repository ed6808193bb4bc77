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
 *
 * On a memory-backed file (tmpfs, ramfs) reads and writes run inline on the reactor instead
 * (bs_sync_exec, completed through reactor_defer): such a file supports no RWF_NOWAIT, so
 * io_uring would punt every request to an io-wq worker thread, which costs more than the copy.
 * --bsopts inline=0|1 overrides that choice.
 *
 * --bsopts sqpoll=1 (kernel submission thread) and fixed=1 (registered file) give the LU a
 * ring of its own instead: the reactor ring is shared by every LU of the reactor, so neither
 * its SQPOLL thread nor its file table could be chosen per LU. Reactors submit to that ring
 * under a mutex (with SQPOLL usually without a system call) and a per-LU completion thread
 * runs the steps above, handing each result back to the command's reactor.
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#define BS_URING_LU_ENTRIES 256       /* SQ entries of a per-LU ring (CQ: 4x) */
#define BS_URING_IDLE_MAX   60000u
#define BS_URING_NO_CPU     UINT64_MAX

struct bs_uring_opts {
	bool sqpoll;
	bool fixed;              /* registered file (index 0) */
	uint64_t sqpoll_cpu;     /* BS_URING_NO_CPU: not pinned */
	uint64_t sqpoll_idle_ms;
	bool idle_set;
	bool inline_rw;          /* inline=: valid if inline_set */
	bool inline_set;
};

/* A per-LU ring (sqpoll=1 or fixed=1), from open to close. */
struct bs_uring_ring {
	struct io_uring ring;
	pthread_mutex_t sq_lock;  /* reactors and the completion thread submit */
	pthread_t thread;         /* completion thread */
};

struct bs_uring_lu {
	struct bs_file file;     /* set by open (management thread), read by submit */
	struct bs_uring_opts opts;
	struct bs_uring_ring *ring;  /* NULL: the reactor's ring */
	bool inline_rw;          /* reads and writes run inline on the reactor */
};

static void bs_uring_rw_next(struct scsi_cmd *cmd);
static void bs_uring_fsync(struct scsi_cmd *cmd);

static const struct bs_file *bs_uring_file(const struct scsi_cmd *cmd)
{
	const struct bs_uring_lu *ul = bs_priv(cmd->lu);

	return &ul->file;
}

static struct bs_uring_ring *bs_uring_ring(const struct scsi_cmd *cmd)
{
	const struct bs_uring_lu *ul = bs_priv(cmd->lu);

	return ul->ring;
}

/*
 * A free SQE for cmd's next step, or NULL. With a per-LU ring the ring's lock is held from here
 * to bs_uring_commit (or released here on NULL).
 */
static struct io_uring_sqe *bs_uring_sqe(struct scsi_cmd *cmd, reactor_io_fn fn)
{
	struct bs_uring_ring *ur = bs_uring_ring(cmd);
	struct io_uring_sqe *sqe;

	if (!ur)
		return reactor_sqe_get(cmd->reactor, bs_cmd_rio(cmd), fn);
	pthread_mutex_lock(&ur->sq_lock);
	sqe = io_uring_get_sqe(&ur->ring);
	if (!sqe) {
		io_uring_submit(&ur->ring);
		sqe = io_uring_get_sqe(&ur->ring);
	}
	if (!sqe) {
		pthread_mutex_unlock(&ur->sq_lock);
		return NULL;
	}
	bs_cmd_rio(cmd)->fn = fn;
	io_uring_sqe_set_data(sqe, bs_cmd_rio(cmd));
	return sqe;
}

/* Hands a prepared SQE over: the reactor submits its ring before it sleeps, a per-LU ring now
 * (with SQPOLL only a tail update, unless the kernel thread sleeps). */
static void bs_uring_commit(struct scsi_cmd *cmd, struct io_uring_sqe *sqe)
{
	const struct bs_uring_lu *ul = bs_priv(cmd->lu);
	struct bs_uring_ring *ur = ul->ring;
	int ret;

	if (!ur)
		return;
	if (ul->opts.fixed) {
		sqe->fd = 0;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	ret = io_uring_submit(&ur->ring);
	pthread_mutex_unlock(&ur->sq_lock);
	if (ret < 0)
		log_err("bs io_uring: lun %llu: io_uring_submit: %s",
			(unsigned long long)cmd->lu->lun, strerror(-ret));
}

/* True on a per-LU ring's completion thread, false on the command's reactor. */
static bool bs_uring_other_thread(const struct scsi_cmd *cmd)
{
	return bs_uring_ring(cmd) && reactor_self() != cmd->reactor;
}

/* No ring or no SQE: does the rest of the work (rest) now and completes cmd later. */
static void bs_uring_sync(struct scsi_cmd *cmd, const struct core_io *rest)
{
	int64_t res = bs_sync_exec(cmd->lu->fd, bs_uring_file(cmd), rest);

	bs_cmd_complete_later(cmd, res < 0 ? res : (int64_t)cmd->io.length,
			      bs_uring_other_thread(cmd));
}

static void bs_uring_finish(struct scsi_cmd *cmd, int res)
{
	int64_t r = res < 0 ? res : (int64_t)cmd->io.length;

	/* Last touch of cmd: done may resubmit it or complete it. */
	if (bs_uring_other_thread(cmd))
		bs_cmd_complete_later(cmd, r, true);
	else
		cmd->io.done(cmd, r);
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
	if (io->op == CORE_IO_READ)
		io_uring_prep_read(sqe, cmd->lu->fd, (uint8_t *)io->buf + done,
				   (unsigned int)MIN(left, BS_IO_CHUNK_MAX), io->offset + done);
	else if (io->op == CORE_IO_WRITE)
		io_uring_prep_write(sqe, cmd->lu->fd, (uint8_t *)io->buf + done,
				    (unsigned int)MIN(left, BS_IO_CHUNK_MAX), io->offset + done);
	else
		io_uring_prep_write(sqe, cmd->lu->fd, bs_zero_buf,
				    (unsigned int)MIN(left, BS_ZERO_BUF_LEN), io->offset + done);
	if (io->op != CORE_IO_READ && (io->flags & CORE_IO_FUA))
		sqe->rw_flags = RWF_DSYNC;
	bs_uring_commit(cmd, sqe);
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

	if (!sqe) {
		bs_uring_sync(cmd, &flush);
		return;
	}
	io_uring_prep_fsync(sqe, cmd->lu->fd, IORING_FSYNC_DATASYNC);
	bs_uring_commit(cmd, sqe);
}

/* ---- WRITE ZEROES and UNMAP through fallocate ---- */

static void bs_uring_falloc(struct scsi_cmd *cmd, int mode, reactor_io_fn fn)
{
	struct io_uring_sqe *sqe = bs_uring_sqe(cmd, fn);

	if (!sqe) {
		bs_uring_sync(cmd, &cmd->io);
		return;
	}
	io_uring_prep_fallocate(sqe, cmd->lu->fd, mode, (off_t)cmd->io.offset,
				(off_t)cmd->io.length);
	bs_uring_commit(cmd, sqe);
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
		if (!io->length)
			bs_cmd_complete_later(cmd, 0, false);
		else if (((const struct bs_uring_lu *)bs_priv(cmd->lu))->inline_rw)
			bs_uring_sync(cmd, io);
		else
			bs_uring_rw_next(cmd);
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

/* ---- --bsopts ---- */

static int bs_uring_opt_sqpoll(void *o, const char *v)
{
	return str_to_bool(v, &((struct bs_uring_opts *)o)->sqpoll);
}

static int bs_uring_opt_fixed(void *o, const char *v)
{
	return str_to_bool(v, &((struct bs_uring_opts *)o)->fixed);
}

static int bs_uring_opt_cpu(void *o, const char *v)
{
	struct bs_uring_opts *opts = o;
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return str_to_u64(v, 0, n > 0 ? (uint64_t)n - 1 : 0, &opts->sqpoll_cpu);
}

static int bs_uring_opt_idle(void *o, const char *v)
{
	struct bs_uring_opts *opts = o;

	opts->idle_set = true;
	return str_to_u64(v, 1, BS_URING_IDLE_MAX, &opts->sqpoll_idle_ms);
}

static int bs_uring_opt_inline(void *o, const char *v)
{
	struct bs_uring_opts *opts = o;

	opts->inline_set = true;
	return str_to_bool(v, &opts->inline_rw);
}

static const struct bs_opt bs_uring_opts_table[] = {
	{ "inline", bs_uring_opt_inline },
	{ "sqpoll", bs_uring_opt_sqpoll },
	{ "sqpoll_cpu", bs_uring_opt_cpu },
	{ "sqpoll_idle_ms", bs_uring_opt_idle },
	{ "fixed", bs_uring_opt_fixed },
};

static int bs_uring_opts_parse(const char *bsopts, struct bs_uring_opts *opts)
{
	int ret;

	memset(opts, 0, sizeof(*opts));
	opts->sqpoll_cpu = BS_URING_NO_CPU;
	opts->sqpoll_idle_ms = 1000;
	ret = bs_opts_parse(bsopts, bs_uring_opts_table, ARRAY_SIZE(bs_uring_opts_table), opts,
			    "io_uring");
	if (ret < 0)
		return ret;
	if (!opts->sqpoll && (opts->idle_set || opts->sqpoll_cpu != BS_URING_NO_CPU)) {
		log_err("bs io_uring: sqpoll_cpu and sqpoll_idle_ms need sqpoll=1");
		return -EINVAL;
	}
	if (opts->inline_set && opts->inline_rw && (opts->sqpoll || opts->fixed)) {
		log_err("bs io_uring: inline=1 excludes sqpoll=1 and fixed=1");
		return -EINVAL;
	}
	return 0;
}

/* ---- per-LU ring ---- */

/* Runs each completion's step, which hands the result back to the command's reactor. */
static void *bs_uring_cq_thread(void *arg)
{
	struct bs_uring_ring *ur = arg;
	struct io_uring_cqe *cqe;
	struct reactor_io *rio;
	int ret, res;

	for (;;) {
		ret = io_uring_wait_cqe(&ur->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret < 0) {
			log_err("bs io_uring: completion thread: %s", strerror(-ret));
			break;
		}
		rio = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&ur->ring, cqe);
		if (!rio)
			break;       /* the NOP of bs_uring_ring_free */
		rio->fn(rio, res);
	}
	return NULL;
}

static int bs_uring_ring_init(struct bs_uring_ring *ur, const struct bs_uring_opts *o, int fd)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE, .cq_entries = 4 * BS_URING_LU_ENTRIES,
	};
	int ret;

	if (o->sqpoll) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = (uint32_t)o->sqpoll_idle_ms;
		if (o->sqpoll_cpu != BS_URING_NO_CPU) {
			p.flags |= IORING_SETUP_SQ_AFF;
			p.sq_thread_cpu = (uint32_t)o->sqpoll_cpu;
		}
	}
	ret = io_uring_queue_init_params(BS_URING_LU_ENTRIES, &ur->ring, &p);
	if (ret < 0) {
		log_err("bs io_uring: cannot set up the LU's ring%s: %s",
			o->sqpoll ? " with SQPOLL" : "", strerror(-ret));
		return ret;
	}
	if (o->fixed) {
		ret = io_uring_register_files(&ur->ring, &fd, 1);
		if (ret < 0) {
			log_err("bs io_uring: cannot register the file (fixed=1): %s",
				strerror(-ret));
			io_uring_queue_exit(&ur->ring);
		}
	}
	return ret < 0 ? ret : 0;
}

static int bs_uring_ring_new(struct bs_uring_lu *ul, int fd)
{
	struct bs_uring_ring *ur = calloc(1, sizeof(*ur));
	sigset_t all, old;
	int ret;

	if (!ur)
		return -ENOMEM;
	ret = bs_uring_ring_init(ur, &ul->opts, fd);
	if (ret < 0) {
		free(ur);
		return ret;
	}
	pthread_mutex_init(&ur->sq_lock, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&ur->thread, NULL, bs_uring_cq_thread, ur);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		pthread_mutex_destroy(&ur->sq_lock);
		io_uring_queue_exit(&ur->ring);
		free(ur);
		return ret;
	}
	ul->ring = ur;
	return 0;
}

/* No command is in flight: a NOP without data stops the completion thread. */
static void bs_uring_ring_free(struct bs_uring_ring *ur)
{
	struct io_uring_sqe *sqe;

	pthread_mutex_lock(&ur->sq_lock);
	while (!(sqe = io_uring_get_sqe(&ur->ring)))
		io_uring_submit(&ur->ring);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	io_uring_submit(&ur->ring);
	pthread_mutex_unlock(&ur->sq_lock);
	pthread_join(ur->thread, NULL);
	pthread_mutex_destroy(&ur->sq_lock);
	io_uring_queue_exit(&ur->ring);
	free(ur);
}

/* ---- driver ---- */

static int bs_uring_init(struct core_lu *lu, const char *bsopts)
{
	struct bs_uring_lu *ul;
	struct bs_uring_opts opts;
	int ret = bs_uring_opts_parse(bsopts, &opts);

	if (ret < 0)
		return ret;
	ul = calloc(1, sizeof(*ul));
	if (!ul)
		return -ENOMEM;
	ul->opts = opts;
	bs_priv_set(lu, ul);
	return 0;
}

/* Whether reads and writes on fd should run inline: see the file comment. */
static bool bs_uring_inline_pick(const struct bs_uring_opts *opts, int fd)
{
	struct statfs st;

	if (opts->inline_set)
		return opts->inline_rw;
	if (fstatfs(fd, &st) < 0)
		return false;
	return !opts->sqpoll && !opts->fixed &&
	       (st.f_type == TMPFS_MAGIC || st.f_type == RAMFS_MAGIC);
}

static int bs_uring_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	struct bs_uring_lu *ul = bs_priv(lu);
	int ret = bs_file_open(lu, path, fd, size, &ul->file);

	if (ret < 0)
		return ret;
	ul->inline_rw = bs_uring_inline_pick(&ul->opts, *fd);
	if (!ul->opts.sqpoll && !ul->opts.fixed)
		return ret;
	ret = bs_uring_ring_new(ul, *fd);
	if (ret < 0) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

static void bs_uring_close(struct core_lu *lu)
{
	struct bs_uring_lu *ul = bs_priv(lu);

	if (ul && ul->ring) {
		bs_uring_ring_free(ul->ring);
		ul->ring = NULL;
	}
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
