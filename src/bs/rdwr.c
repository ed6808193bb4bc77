/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rdwr: blocking pread/pwrite/fdatasync/fallocate on a per-LU pool of worker threads (as tgt's
 * bs_rdwr). submit queues the command under the pool lock; a worker executes it with
 * bs_sync_exec and posts the result back to the command's reactor with reactor_msg_send
 * (cmd->defer), where cmd->io.done runs. --bsopts "workers=N" sizes the pool (default 4).
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BS_RDWR_WORKERS_DEFAULT 4
#define BS_RDWR_WORKERS_MAX     64

struct bs_rdwr_lu {
	struct bs_file file;            /* set by open, before any submit */
	unsigned int nr_workers;        /* --bsopts workers=N */
	unsigned int nr_started;        /* running threads (management thread only) */
	pthread_mutex_t lock;           /* queue, stopping */
	pthread_cond_t cond;            /* queue became non-empty, or stopping */
	struct list_head queue;         /* struct scsi_cmd, linked by cmd->entry */
	bool stopping;                  /* workers exit once the queue is empty */
	pthread_t threads[BS_RDWR_WORKERS_MAX];
};

static struct scsi_cmd *bs_rdwr_dequeue(struct bs_rdwr_lu *rl)
{
	struct scsi_cmd *cmd = NULL;

	pthread_mutex_lock(&rl->lock);
	while (list_empty(&rl->queue) && !rl->stopping)
		pthread_cond_wait(&rl->cond, &rl->lock);
	if (!list_empty(&rl->queue)) {
		cmd = list_first_entry(&rl->queue, struct scsi_cmd, entry);
		list_del(&cmd->entry);
	}
	pthread_mutex_unlock(&rl->lock);
	return cmd;
}

static void *bs_rdwr_worker(void *arg)
{
	struct bs_rdwr_lu *rl = arg;
	struct scsi_cmd *cmd;
	int64_t res;

	while ((cmd = bs_rdwr_dequeue(rl))) {
		res = bs_sync_exec(cmd->lu->fd, &rl->file, &cmd->io);
		bs_cmd_complete_later(cmd, res, true);
	}
	return NULL;
}

static void bs_rdwr_stop(struct bs_rdwr_lu *rl)
{
	pthread_mutex_lock(&rl->lock);
	rl->stopping = true;
	pthread_cond_broadcast(&rl->cond);
	pthread_mutex_unlock(&rl->lock);
	for (unsigned int i = 0; i < rl->nr_started; i++)
		pthread_join(rl->threads[i], NULL);
	rl->nr_started = 0;
	rl->stopping = false;
}

/* Starts the pool with every signal blocked: signals belong to the daemon's main thread. */
static int bs_rdwr_start(struct bs_rdwr_lu *rl)
{
	sigset_t all;
	sigset_t old;
	int ret = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	while (rl->nr_started < rl->nr_workers) {
		ret = -pthread_create(&rl->threads[rl->nr_started], NULL, bs_rdwr_worker, rl);
		if (ret < 0)
			break;
		pthread_setname_np(rl->threads[rl->nr_started], "bs-rdwr");
		rl->nr_started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		log_err("bs rdwr: cannot start worker threads: %s", strerror(-ret));
		bs_rdwr_stop(rl);
	}
	return ret;
}

static int bs_rdwr_opt_workers(void *opts, const char *value)
{
	struct bs_rdwr_lu *rl = opts;
	uint64_t n;
	int ret = str_to_u64(value, 1, BS_RDWR_WORKERS_MAX, &n);

	if (!ret)
		rl->nr_workers = (unsigned int)n;
	return ret;
}

static const struct bs_opt bs_rdwr_opts[] = {
	{ "workers", bs_rdwr_opt_workers },
};

static int bs_rdwr_init(struct core_lu *lu, const char *bsopts)
{
	struct bs_rdwr_lu *rl = calloc(1, sizeof(*rl));
	int ret;

	if (!rl)
		return -ENOMEM;
	rl->nr_workers = BS_RDWR_WORKERS_DEFAULT;
	ret = bs_opts_parse(bsopts, bs_rdwr_opts, ARRAY_SIZE(bs_rdwr_opts), rl, "rdwr");
	if (ret < 0) {
		free(rl);
		return ret;
	}
	pthread_mutex_init(&rl->lock, NULL);
	pthread_cond_init(&rl->cond, NULL);
	list_init(&rl->queue);
	bs_priv_set(lu, rl);
	return 0;
}

static int bs_rdwr_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	struct bs_rdwr_lu *rl = bs_priv(lu);
	int ret = bs_file_open(lu, path, fd, size, &rl->file);

	if (ret < 0)
		return ret;
	ret = bs_rdwr_start(rl);
	if (ret < 0) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

static void bs_rdwr_submit(struct scsi_cmd *cmd)
{
	struct bs_rdwr_lu *rl = bs_priv(cmd->lu);

	pthread_mutex_lock(&rl->lock);
	list_add_tail(&cmd->entry, &rl->queue);
	pthread_cond_signal(&rl->cond);
	pthread_mutex_unlock(&rl->lock);
}

/* Workers drain the queue before they exit, so nothing queued is lost. */
static void bs_rdwr_close(struct core_lu *lu)
{
	struct bs_rdwr_lu *rl = bs_priv(lu);

	if (rl)
		bs_rdwr_stop(rl);
	if (lu->fd >= 0)
		close(lu->fd);
	lu->fd = -1;
}

static void bs_rdwr_exit(struct core_lu *lu)
{
	struct bs_rdwr_lu *rl = bs_priv(lu);

	if (!rl)
		return;
	if (rl->nr_started)
		bs_rdwr_stop(rl);
	pthread_cond_destroy(&rl->cond);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
	bs_priv_set(lu, NULL);
}

const struct core_bs bs_rdwr = {
	.name = "rdwr",
	.needs_path = true,
	.init = bs_rdwr_init,
	.open = bs_rdwr_open,
	.submit = bs_rdwr_submit,
	.close = bs_rdwr_close,
	.exit = bs_rdwr_exit,
};
