/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fault: a test wrapper around another driver that injects errors on LBA ranges. --bsopts
 * "lower=DRIVER,eio=A-B,enospc=A-B,erofs=A-B,torn=A-B,delay_ms=N,delay=A-B:MS,hang=A-B,
 * flush_eio=1[,lower's keys]". Commands that touch no fault range go to the lower driver
 * unchanged; hung commands wait until --params fault_release=1. docs/backing-stores.md gives
 * the exact semantics of each fault.
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BS_FAULT_OPTS_MAX  256
#define BS_FAULT_DELAY_MAX 60000u
#define BS_FAULT_RANGES    8      /* delay=A-B:MS and hang=A-B keys per LU */

enum bs_fault_kind {
	BS_FAULT_EIO,
	BS_FAULT_ENOSPC,
	BS_FAULT_EROFS,
	BS_FAULT_TORN,
	BS_FAULT_KINDS,
};

struct bs_fault_range {
	bool set;
	uint64_t first;          /* LBAs, inclusive */
	uint64_t last;
};

struct bs_fault_delay {
	struct bs_fault_range range;
	uint64_t ms;
};

struct bs_fault_lu {
	struct bs_wrap wrap;     /* first member (bs_int.h) */
	const struct core_bs *lower;
	struct bs_fault_range range[BS_FAULT_KINDS];
	uint64_t delay_ms;
	bool flush_eio;          /* FLUSH (SYNCHRONIZE CACHE) fails with -EIO */
	unsigned int n_delays;
	struct bs_fault_delay delays[BS_FAULT_RANGES];
	unsigned int n_hangs;
	struct bs_fault_range hangs[BS_FAULT_RANGES];
	/* delay thread: commands wait in queue (cmd->entry, due time in cmd->bs_res) */
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* CLOCK_MONOTONIC */
	struct list_head queue;
	struct list_head held;   /* hung commands (cmd->entry), until fault_release */
	pthread_t thread;
	bool running;
	bool stop;
};

static const struct core_bs *const bs_fault_lowers[] = {
	&bs_uring, &bs_aio, &bs_rdwr, &bs_null,
};

static const char *const bs_fault_keys[BS_FAULT_KINDS] = {
	[BS_FAULT_EIO] = "eio",
	[BS_FAULT_ENOSPC] = "enospc",
	[BS_FAULT_EROFS] = "erofs",
	[BS_FAULT_TORN] = "torn",
};

/* "A-B" or "A" (one LBA). */
static int bs_fault_range_parse(const char *value, struct bs_fault_range *r)
{
	char buf[48];
	char *dash;

	if (str_copy(buf, value, sizeof(buf)) >= sizeof(buf))
		return -EINVAL;
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (str_to_u64(buf, 0, UINT64_MAX, &r->first) < 0)
		return -EINVAL;
	r->last = r->first;
	if (dash && str_to_u64(dash + 1, r->first, UINT64_MAX, &r->last) < 0)
		return -EINVAL;
	r->set = true;
	return 0;
}

/* "A-B:MS" (or "A:MS"): one more delay range. */
static int bs_fault_delay_parse(struct bs_fault_lu *fl, const char *value)
{
	struct bs_fault_delay *d = &fl->delays[fl->n_delays];
	char buf[48];
	char *colon;

	if (fl->n_delays >= BS_FAULT_RANGES || str_copy(buf, value, sizeof(buf)) >= sizeof(buf))
		return -EINVAL;
	colon = strchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (bs_fault_range_parse(buf, &d->range) < 0 ||
	    str_to_u64(colon + 1, 0, BS_FAULT_DELAY_MAX, &d->ms) < 0)
		return -EINVAL;
	fl->n_delays++;
	return 0;
}

static int bs_fault_hang_parse(struct bs_fault_lu *fl, const char *value)
{
	if (fl->n_hangs >= BS_FAULT_RANGES)
		return -EINVAL;
	if (bs_fault_range_parse(value, &fl->hangs[fl->n_hangs]) < 0)
		return -EINVAL;
	fl->n_hangs++;
	return 0;
}

static int bs_fault_lower_find(const char *name, const struct core_bs **out)
{
	for (size_t i = 0; i < ARRAY_SIZE(bs_fault_lowers); i++) {
		if (!strcmp(name, bs_fault_lowers[i]->name)) {
			*out = bs_fault_lowers[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* One key=value: a fault key, or (1) a key for the lower driver. */
static int bs_fault_opt(struct bs_fault_lu *fl, const char *key, const char *value)
{
	for (int k = 0; k < BS_FAULT_KINDS; k++) {
		if (!strcmp(key, bs_fault_keys[k]))
			return bs_fault_range_parse(value, &fl->range[k]);
	}
	if (!strcmp(key, "lower"))
		return bs_fault_lower_find(value, &fl->lower);
	if (!strcmp(key, "delay_ms"))
		return str_to_u64(value, 0, BS_FAULT_DELAY_MAX, &fl->delay_ms) < 0 ? -EINVAL : 0;
	if (!strcmp(key, "flush_eio"))
		return str_to_bool(value, &fl->flush_eio) < 0 ? -EINVAL : 0;
	if (!strcmp(key, "delay"))
		return bs_fault_delay_parse(fl, value);
	if (!strcmp(key, "hang"))
		return bs_fault_hang_parse(fl, value);
	return 1;
}

/* Parses the fault keys; everything else is collected into lower_opts for the lower driver. */
static int bs_fault_opts_parse(struct bs_fault_lu *fl, const char *bsopts, char *lower_opts,
			       size_t size)
{
	char buf[BS_FAULT_OPTS_MAX];
	char *save = NULL;
	size_t off = 0;
	char *tok;

	lower_opts[0] = '\0';
	if (!bsopts)
		return 0;
	if (str_copy(buf, bsopts, sizeof(buf)) >= sizeof(buf))
		return -EINVAL;
	for (tok = strtok_r(buf, ",;", &save); tok; tok = strtok_r(NULL, ",;", &save)) {
		char *eq = strchr(tok, '=');
		int ret;

		if (!eq) {
			log_err("bs fault: option \"%s\" is not key=value", tok);
			return -EINVAL;
		}
		*eq = '\0';
		ret = bs_fault_opt(fl, tok, eq + 1);
		if (ret < 0) {
			log_err("bs fault: bad value \"%s\" for option %s", eq + 1, tok);
			return -EINVAL;
		}
		if (ret > 0 && str_appendf(lower_opts, size, &off, "%s%s=%s", off ? "," : "", tok,
					   eq + 1) < 0)
			return -EINVAL;
	}
	return 0;
}

static void bs_fault_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

static int bs_fault_init(struct core_lu *lu, const char *bsopts)
{
	struct bs_fault_lu *fl = calloc(1, sizeof(*fl));
	char lower_opts[BS_FAULT_OPTS_MAX];
	int ret;

	if (!fl)
		return -ENOMEM;
	fl->lower = &bs_uring;
	ret = bs_fault_opts_parse(fl, bsopts, lower_opts, sizeof(lower_opts));
	if (ret < 0) {
		free(fl);
		return ret;
	}
	pthread_mutex_init(&fl->lock, NULL);
	bs_fault_cond_init(&fl->cond);
	list_init(&fl->queue);
	list_init(&fl->held);
	lu->bs_priv = fl;
	ret = fl->lower->init ? fl->lower->init(lu, lower_opts) : 0;
	if (ret < 0) {
		lu->bs_priv = NULL;
		pthread_cond_destroy(&fl->cond);
		pthread_mutex_destroy(&fl->lock);
		free(fl);
	}
	return ret;
}

static bool bs_fault_overlaps(const struct bs_fault_range *r, const struct scsi_cmd *cmd)
{
	const struct core_io *io = &cmd->io;
	uint8_t shift = cmd->lu->block_shift;
	uint64_t first, last;

	if (!r->set || !io->length)
		return false;
	first = io->offset >> shift;
	last = (io->offset + io->length - 1) >> shift;
	return first <= r->last && last >= r->first;
}

static bool bs_fault_hit(const struct bs_fault_lu *fl, enum bs_fault_kind k,
			 const struct scsi_cmd *cmd)
{
	return bs_fault_overlaps(&fl->range[k], cmd);
}

/* The delay of cmd: the largest of delay_ms and every delay range it touches. */
static uint64_t bs_fault_delay_of(const struct bs_fault_lu *fl, const struct scsi_cmd *cmd)
{
	uint64_t ms = fl->delay_ms;

	for (unsigned int i = 0; i < fl->n_delays; i++) {
		if (fl->delays[i].ms > ms && bs_fault_overlaps(&fl->delays[i].range, cmd))
			ms = fl->delays[i].ms;
	}
	return ms;
}

static bool bs_fault_hangs(const struct bs_fault_lu *fl, const struct scsi_cmd *cmd)
{
	for (unsigned int i = 0; i < fl->n_hangs; i++) {
		if (bs_fault_overlaps(&fl->hangs[i], cmd))
			return true;
	}
	return false;
}

/*
 * A torn write stores the first half of its blocks (rounded down) synchronously, then fails:
 * the initiator sees MEDIUM ERROR and must not assume any of it reached the medium.
 */
static int64_t bs_fault_torn(struct scsi_cmd *cmd)
{
	struct core_io part = cmd->io;
	struct bs_file file = { .bdev = false };
	uint64_t blocks = cmd->io.length >> cmd->lu->block_shift;

	part.length = (blocks / 2) << cmd->lu->block_shift;
	if (part.length && cmd->lu->fd >= 0)
		(void)bs_sync_exec(cmd->lu->fd, &file, &part);
	return -EIO;
}

/* The injected result for cmd, or 0 when it goes to the lower driver. */
static int64_t bs_fault_result(const struct bs_fault_lu *fl, struct scsi_cmd *cmd)
{
	bool write = cmd->io.op == CORE_IO_WRITE || cmd->io.op == CORE_IO_WRITE_ZEROES;

	if (cmd->io.op == CORE_IO_FLUSH)
		return fl->flush_eio ? -EIO : 0;
	if (bs_fault_hit(fl, BS_FAULT_EIO, cmd))
		return -EIO;
	if (write && bs_fault_hit(fl, BS_FAULT_ENOSPC, cmd))
		return -ENOSPC;
	if ((write || cmd->io.op == CORE_IO_UNMAP) && bs_fault_hit(fl, BS_FAULT_EROFS, cmd))
		return -EROFS;
	if (cmd->io.op == CORE_IO_WRITE && bs_fault_hit(fl, BS_FAULT_TORN, cmd))
		return bs_fault_torn(cmd);
	return 0;
}

static void bs_fault_dispatch(struct scsi_cmd *cmd)
{
	const struct bs_fault_lu *fl = cmd->lu->bs_priv;
	int64_t res = bs_fault_result(fl, cmd);

	if (res < 0) {
		log_dbg("bs fault: lun %llu: injected %lld at offset %llu",
			(unsigned long long)cmd->lu->lun, (long long)res,
			(unsigned long long)cmd->io.offset);
		bs_cmd_complete_later(cmd, res, false);
		return;
	}
	fl->lower->submit(cmd);
}

static void bs_fault_resume(struct reactor_msg *m)
{
	bs_fault_dispatch(container_of(m, struct scsi_cmd, defer));
}

/*
 * Moves every command of the queue that is due by now to ready; returns the earliest due time
 * of those left (UINT64_MAX when none). Called with fl->lock held.
 */
static uint64_t bs_fault_due(struct bs_fault_lu *fl, struct list_head *ready, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct scsi_cmd *cmd, *tmp;

	list_for_each_entry_safe(cmd, tmp, &fl->queue, entry) {
		if ((uint64_t)cmd->bs_res <= now) {
			list_del(&cmd->entry);
			list_add_tail(&cmd->entry, ready);
		} else if ((uint64_t)cmd->bs_res < next) {
			next = (uint64_t)cmd->bs_res;
		}
	}
	return next;
}

static void bs_fault_wait_until(struct bs_fault_lu *fl, uint64_t due_ms)
{
	struct timespec ts;

	if (due_ms == UINT64_MAX) {
		pthread_cond_wait(&fl->cond, &fl->lock);
		return;
	}
	ts.tv_sec = (time_t)(due_ms / 1000);
	ts.tv_nsec = (long)(due_ms % 1000) * 1000000L;
	pthread_cond_timedwait(&fl->cond, &fl->lock, &ts);
}

/* Sends every command in list back to its reactor, where it is dispatched. */
static void bs_fault_resume_all(struct list_head *list)
{
	struct scsi_cmd *cmd, *tmp;

	list_for_each_entry_safe(cmd, tmp, list, entry) {
		list_del(&cmd->entry);
		reactor_msg_send(cmd->reactor, &cmd->defer, bs_fault_resume);
	}
}

/* Sends each queued command back to its reactor once its delay has passed. */
static void *bs_fault_delay_thread(void *arg)
{
	struct bs_fault_lu *fl = arg;
	struct list_head ready;
	uint64_t next;

	list_init(&ready);
	pthread_mutex_lock(&fl->lock);
	while (!fl->stop || !list_empty(&fl->queue)) {
		next = bs_fault_due(fl, &ready, fl->stop ? UINT64_MAX : time_now_ms());
		if (!list_empty(&ready)) {
			pthread_mutex_unlock(&fl->lock);
			bs_fault_resume_all(&ready);
			pthread_mutex_lock(&fl->lock);
			continue;
		}
		bs_fault_wait_until(fl, next);
	}
	pthread_mutex_unlock(&fl->lock);
	return NULL;
}

static int bs_fault_start(struct bs_fault_lu *fl)
{
	sigset_t all, old;
	int ret;

	if (!fl->delay_ms && !fl->n_delays)
		return 0;
	fl->stop = false;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&fl->thread, NULL, bs_fault_delay_thread, fl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	fl->running = true;
	return 0;
}

static void bs_fault_stop(struct bs_fault_lu *fl)
{
	if (!fl->running)
		return;
	pthread_mutex_lock(&fl->lock);
	fl->stop = true;
	pthread_cond_signal(&fl->cond);
	pthread_mutex_unlock(&fl->lock);
	pthread_join(fl->thread, NULL);
	fl->running = false;
}

static int bs_fault_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	struct bs_fault_lu *fl = lu->bs_priv;
	int ret = fl->lower->open ? fl->lower->open(lu, path, fd, size) : 0;

	if (ret < 0)
		return ret;
	ret = bs_fault_start(fl);
	if (ret < 0) {
		lu->fd = *fd;
		if (fl->lower->close)
			fl->lower->close(lu);
		*fd = -1;
	}
	return ret;
}

static void bs_fault_submit(struct scsi_cmd *cmd)
{
	struct bs_fault_lu *fl = cmd->lu->bs_priv;
	uint64_t ms;

	if (fl->n_hangs && bs_fault_hangs(fl, cmd)) {
		log_dbg("bs fault: lun %llu: holding the command at offset %llu",
			(unsigned long long)cmd->lu->lun, (unsigned long long)cmd->io.offset);
		pthread_mutex_lock(&fl->lock);
		list_add_tail(&cmd->entry, &fl->held);
		pthread_mutex_unlock(&fl->lock);
		return;
	}
	ms = fl->running ? bs_fault_delay_of(fl, cmd) : 0;
	if (!ms) {
		bs_fault_dispatch(cmd);
		return;
	}
	/* +1: time_now_ms truncates, so a command is never released before its full delay */
	bs_cmd_res_set(cmd, (int64_t)(time_now_ms() + ms + 1));
	pthread_mutex_lock(&fl->lock);
	list_add_tail(&cmd->entry, &fl->queue);
	pthread_cond_signal(&fl->cond);
	pthread_mutex_unlock(&fl->lock);
}

/* --params fault_release=1: every hung command goes on (to the lower driver or its fault). */
static int bs_fault_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	struct bs_fault_lu *fl = lu->bs_priv;
	struct scsi_cmd *cmd, *tmp;
	struct list_head held;
	bool release;

	if (strcmp(key, "fault_release"))
		return -ENOENT;
	if (str_to_bool(value, &release) < 0)
		return -EINVAL;
	if (!release || !fl)
		return 0;
	list_init(&held);
	pthread_mutex_lock(&fl->lock);
	list_for_each_entry_safe(cmd, tmp, &fl->held, entry) {
		list_del(&cmd->entry);
		list_add_tail(&cmd->entry, &held);
	}
	pthread_mutex_unlock(&fl->lock);
	bs_fault_resume_all(&held);
	return 0;
}

static void bs_fault_close(struct core_lu *lu)
{
	struct bs_fault_lu *fl = lu->bs_priv;

	if (!fl)
		return;
	bs_fault_stop(fl);
	if (fl->lower->close)
		fl->lower->close(lu);
}

static void bs_fault_exit(struct core_lu *lu)
{
	struct bs_fault_lu *fl = lu->bs_priv;

	if (!fl)
		return;
	bs_fault_stop(fl);
	if (fl->lower->exit)
		fl->lower->exit(lu);
	pthread_cond_destroy(&fl->cond);
	pthread_mutex_destroy(&fl->lock);
	free(fl);
	lu->bs_priv = NULL;
}

const struct core_bs bs_fault = {
	.name = "fault",
	.needs_path = false,
	.init = bs_fault_init,
	.open = bs_fault_open,
	.submit = bs_fault_submit,
	.close = bs_fault_close,
	.exit = bs_fault_exit,
	.lu_config = bs_fault_lu_config,
};
