/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * aio: Linux native AIO (libaio) for LUs opened with bsoflags=direct (without O_DIRECT the
 * kernel performs the I/O inside io_submit, on the reactor). One io_context per LU with a
 * fixed pool of requests; reactors submit, and one completion thread per LU reaps the events
 * (eventfd + poll), resubmits short transfers and posts results to each command's reactor.
 *
 *   READ/WRITE  io_submit(PREAD/PWRITE, RWF_DSYNC for FUA) -> [short: the remainder] -> done
 *   FLUSH       io_submit(FDSYNC) -> [EINVAL: kernel without aio fsync: fdatasync] -> done
 *   UNMAP, WRITE_ZEROES  fallocate/BLKDISCARD on the completion thread -> done
 * When every request is busy, commands wait on a list and take the next request freed.
 *
 * Why a thread and not a reactor watch: a per-reactor eventfd watch cannot be torn down from
 * the management thread while that reactor may hold the event in its current batch; the thread
 * is joined in close, so teardown needs nothing from the reactors.
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <libaio.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BS_AIO_DEPTH_DEFAULT 128
#define BS_AIO_DEPTH_MAX     4096

struct bs_aio_req {
	struct iocb iocb;               /* data points back at the request */
	struct scsi_cmd *cmd;
	uint64_t done;                  /* bytes transferred so far */
	struct bs_aio_req *next_free;
	/* Submitter -> completion thread hand-off. io_submit/io_getevents already order it;
	 * the release/acquire pair makes that visible to ThreadSanitizer. */
	atomic_uint posted;
};

struct bs_aio_lu {
	struct bs_file file;            /* set by open */
	unsigned int depth;             /* --bsopts depth=N: requests in flight */
	io_context_t ctx;
	int aio_efd;                    /* the kernel counts completed iocbs here */
	int wake_efd;                   /* work queued for the thread, or stop */
	pthread_t thread;
	bool started;
	struct bs_aio_req *reqs;        /* depth entries */
	struct io_event *events;        /* depth entries, completion thread only */
	pthread_mutex_t lock;           /* everything below */
	struct bs_aio_req *free;
	unsigned int nr_free;
	struct list_head waiting;       /* commands waiting for a request (cmd->entry) */
	struct list_head work;          /* commands for the thread (cmd->entry) */
	bool stopping;
};

static void bs_aio_complete(struct scsi_cmd *cmd, int64_t res)
{
	bs_cmd_complete_later(cmd, res, reactor_self() != cmd->reactor);
}

static void bs_aio_wake(struct bs_aio_lu *al)
{
	uint64_t one = 1;
	ssize_t n = write(al->wake_efd, &one, sizeof(one));

	(void)n; /* EAGAIN: the counter is already non-zero, the thread wakes anyway */
}

/* Queues cmd for the completion thread (operations libaio cannot do). */
static void bs_aio_work_add(struct bs_aio_lu *al, struct scsi_cmd *cmd)
{
	pthread_mutex_lock(&al->lock);
	list_add_tail(&cmd->entry, &al->work);
	pthread_mutex_unlock(&al->lock);
	bs_aio_wake(al);
}

/* Prepares and submits the remaining part of req's command. 0 or -errno. */
static int bs_aio_req_submit(struct bs_aio_lu *al, struct bs_aio_req *req)
{
	const struct core_io *io = &req->cmd->io;
	int fd = req->cmd->lu->fd;
	size_t len = MIN(io->length - req->done, BS_IO_CHUNK_MAX);
	uint8_t *buf = (uint8_t *)io->buf + req->done;
	long long off = (long long)(io->offset + req->done);
	struct iocb *p = &req->iocb;
	int ret;

	if (io->op == CORE_IO_READ) {
		io_prep_pread(p, fd, buf, len, off);
	} else if (io->op == CORE_IO_WRITE) {
		io_prep_pwrite(p, fd, buf, len, off);
		if (io->flags & CORE_IO_FUA)
			p->aio_rw_flags = RWF_DSYNC;
	} else {
		io_prep_fdsync(p, fd);
	}
	io_set_eventfd(p, al->aio_efd);
	p->data = req;
	atomic_store_explicit(&req->posted, 1, memory_order_release);
	ret = io_submit(al->ctx, 1, &p);
	return ret == 1 ? 0 : (ret < 0 ? ret : -EAGAIN);
}

/* Gives req to cmd and submits it; completes cmd with the error if that fails. */
static void bs_aio_start(struct bs_aio_lu *al, struct bs_aio_req *req, struct scsi_cmd *cmd);

/* Returns req to the pool, or hands it to the first waiting command. */
static void bs_aio_req_put(struct bs_aio_lu *al, struct bs_aio_req *req)
{
	struct scsi_cmd *next = NULL;

	pthread_mutex_lock(&al->lock);
	if (!list_empty(&al->waiting)) {
		next = list_first_entry(&al->waiting, struct scsi_cmd, entry);
		list_del(&next->entry);
	} else {
		req->next_free = al->free;
		al->free = req;
		al->nr_free++;
	}
	pthread_mutex_unlock(&al->lock);
	if (next)
		bs_aio_start(al, req, next);
}

static void bs_aio_finish(struct bs_aio_lu *al, struct bs_aio_req *req, int64_t res)
{
	struct scsi_cmd *cmd = req->cmd;

	bs_aio_req_put(al, req);
	bs_aio_complete(cmd, res < 0 ? res : (int64_t)cmd->io.length);
}

static void bs_aio_start(struct bs_aio_lu *al, struct bs_aio_req *req, struct scsi_cmd *cmd)
{
	int ret;

	req->cmd = cmd;
	req->done = 0;
	ret = bs_aio_req_submit(al, req);
	if (ret < 0)
		bs_aio_finish(al, req, ret);
}

/* One completion event (completion thread). */
static void bs_aio_event(struct bs_aio_lu *al, struct bs_aio_req *req, long res)
{
	struct scsi_cmd *cmd = req->cmd;
	const struct core_io *io = &cmd->io;
	int ret;

	if (io->op == CORE_IO_FLUSH && res == -EINVAL) {
		/* A kernel without aio fsync (before 4.18): flush here instead. */
		bs_aio_req_put(al, req);
		bs_aio_complete(cmd, bs_sync_exec(cmd->lu->fd, &al->file, io));
		return;
	}
	if (res < 0 || io->op == CORE_IO_FLUSH) {
		bs_aio_finish(al, req, res);
		return;
	}
	if (res == 0 && io->op == CORE_IO_READ) {
		/* End of file: the LU reads zeroes up to its size. */
		memset((uint8_t *)io->buf + req->done, 0, io->length - req->done);
		req->done = io->length;
	} else if (res == 0) {
		bs_aio_finish(al, req, -EIO);
		return;
	}
	req->done += (uint64_t)res;
	if (req->done >= io->length) {
		bs_aio_finish(al, req, 0);
		return;
	}
	ret = bs_aio_req_submit(al, req);
	if (ret < 0)
		bs_aio_finish(al, req, ret);
}

static void bs_aio_reap(struct bs_aio_lu *al)
{
	struct timespec zero = { 0, 0 };
	uint64_t cnt;
	int n;

	if (read(al->aio_efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("bs aio: eventfd read: %s", strerror(errno));
	do {
		n = io_getevents(al->ctx, 0, al->depth, al->events, &zero);
		for (int i = 0; i < n; i++) {
			struct bs_aio_req *req = al->events[i].data;

			atomic_load_explicit(&req->posted, memory_order_acquire);
			bs_aio_event(al, req, (long)al->events[i].res);
		}
	} while (n == (int)al->depth);
}

/* Runs queued work; returns false once stopping with nothing left in flight. */
static bool bs_aio_work_run(struct bs_aio_lu *al)
{
	struct scsi_cmd *cmd;
	uint64_t cnt;
	bool more;

	if (read(al->wake_efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("bs aio: eventfd read: %s", strerror(errno));
	for (;;) {
		pthread_mutex_lock(&al->lock);
		cmd = list_empty(&al->work) ? NULL : list_first_entry(&al->work, struct scsi_cmd,
								       entry);
		if (cmd)
			list_del(&cmd->entry);
		more = !al->stopping || al->nr_free < al->depth || !list_empty(&al->waiting);
		pthread_mutex_unlock(&al->lock);
		if (!cmd)
			return more;
		bs_aio_complete(cmd, bs_sync_exec(cmd->lu->fd, &al->file, &cmd->io));
	}
}

static void *bs_aio_thread(void *arg)
{
	struct bs_aio_lu *al = arg;
	struct pollfd pfd[2] = {
		{ .fd = al->aio_efd, .events = POLLIN },
		{ .fd = al->wake_efd, .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("bs aio: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			bs_aio_reap(al);
		if (!bs_aio_work_run(al))
			break;
	}
	return NULL;
}

static void bs_aio_submit(struct scsi_cmd *cmd)
{
	struct bs_aio_lu *al = bs_priv(cmd->lu);
	const struct core_io *io = &cmd->io;
	struct bs_aio_req *req;

	if (io->op > CORE_IO_WRITE_ZEROES) {
		bs_cmd_complete_later(cmd, -EOPNOTSUPP, false);
		return;
	}
	if (io->op >= CORE_IO_UNMAP) {
		bs_aio_work_add(al, cmd);
		return;
	}
	if (io->op != CORE_IO_FLUSH && !io->length) {
		bs_cmd_complete_later(cmd, 0, false);
		return;
	}
	pthread_mutex_lock(&al->lock);
	req = al->free;
	if (req) {
		al->free = req->next_free;
		al->nr_free--;
	} else {
		list_add_tail(&cmd->entry, &al->waiting);
	}
	pthread_mutex_unlock(&al->lock);
	if (req)
		bs_aio_start(al, req, cmd);
}

/* ---- set-up and teardown (management thread) ---- */

static int bs_aio_opt_depth(void *opts, const char *value)
{
	struct bs_aio_lu *al = opts;
	uint64_t n;
	int ret = str_to_u64(value, 1, BS_AIO_DEPTH_MAX, &n);

	if (!ret)
		al->depth = (unsigned int)n;
	return ret;
}

static const struct bs_opt bs_aio_opts[] = {
	{ "depth", bs_aio_opt_depth },
};

static int bs_aio_init(struct core_lu *lu, const char *bsopts)
{
	struct bs_aio_lu *al = calloc(1, sizeof(*al));
	int ret;

	if (!al)
		return -ENOMEM;
	al->depth = BS_AIO_DEPTH_DEFAULT;
	al->aio_efd = -1;
	al->wake_efd = -1;
	ret = bs_opts_parse(bsopts, bs_aio_opts, ARRAY_SIZE(bs_aio_opts), al, "aio");
	if (ret < 0) {
		free(al);
		return ret;
	}
	pthread_mutex_init(&al->lock, NULL);
	list_init(&al->waiting);
	list_init(&al->work);
	bs_priv_set(lu, al);
	return 0;
}

/* Undoes bs_aio_setup; harmless on a partial set-up. */
static void bs_aio_teardown(struct bs_aio_lu *al)
{
	if (al->started) {
		pthread_mutex_lock(&al->lock);
		al->stopping = true;
		pthread_mutex_unlock(&al->lock);
		bs_aio_wake(al);
		pthread_join(al->thread, NULL);
		al->started = false;
		al->stopping = false;
	}
	if (al->ctx) {
		io_destroy(al->ctx);
		al->ctx = 0;
	}
	if (al->aio_efd >= 0)
		close(al->aio_efd);
	if (al->wake_efd >= 0)
		close(al->wake_efd);
	al->aio_efd = -1;
	al->wake_efd = -1;
	free(al->reqs);
	free(al->events);
	al->reqs = NULL;
	al->events = NULL;
}

static int bs_aio_thread_start(struct bs_aio_lu *al)
{
	sigset_t all;
	sigset_t old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = -pthread_create(&al->thread, NULL, bs_aio_thread, al);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0)
		return ret;
	pthread_setname_np(al->thread, "bs-aio");
	al->started = true;
	return 0;
}

static int bs_aio_setup(struct bs_aio_lu *al)
{
	int ret;

	al->reqs = calloc(al->depth, sizeof(*al->reqs));
	al->events = calloc(al->depth, sizeof(*al->events));
	if (!al->reqs || !al->events)
		return -ENOMEM;
	al->free = NULL;
	for (unsigned int i = al->depth; i-- > 0;) {
		al->reqs[i].next_free = al->free;
		al->free = &al->reqs[i];
	}
	al->nr_free = al->depth;
	al->aio_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	al->wake_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (al->aio_efd < 0 || al->wake_efd < 0)
		return -errno;
	ret = io_setup((int)al->depth, &al->ctx);
	if (ret < 0) {
		al->ctx = 0;
		log_err("bs aio: io_setup(%u): %s (see /proc/sys/fs/aio-max-nr)", al->depth,
			strerror(-ret));
		return ret;
	}
	return bs_aio_thread_start(al);
}

static int bs_aio_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	struct bs_aio_lu *al = bs_priv(lu);
	int ret = bs_file_open(lu, path, fd, size, &al->file);

	if (ret < 0)
		return ret;
	if (!(lu->bsoflags & CORE_BSOFLAG_DIRECT))
		log_warn("bs aio: %s without bsoflags=direct: I/O is synchronous inside io_submit",
			 path);
	ret = bs_aio_setup(al);
	if (ret < 0) {
		bs_aio_teardown(al);
		close(*fd);
		*fd = -1;
	}
	return ret;
}

static void bs_aio_close(struct core_lu *lu)
{
	struct bs_aio_lu *al = bs_priv(lu);

	if (al)
		bs_aio_teardown(al);
	if (lu->fd >= 0)
		close(lu->fd);
	lu->fd = -1;
}

static void bs_aio_exit(struct core_lu *lu)
{
	struct bs_aio_lu *al = bs_priv(lu);

	if (!al)
		return;
	bs_aio_teardown(al);
	pthread_mutex_destroy(&al->lock);
	free(al);
	bs_priv_set(lu, NULL);
}

const struct core_bs bs_aio = {
	.name = "aio",
	.needs_path = true,
	.init = bs_aio_init,
	.open = bs_aio_open,
	.submit = bs_aio_submit,
	.close = bs_aio_close,
	.exit = bs_aio_exit,
};
