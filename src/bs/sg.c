/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sg: SCSI passthrough. The "pt" device type hands every CDB of the LU (except REPORT LUNS,
 * which belongs to the target) to the "sg" store, which issues it with SG_IO on a SCSI generic
 * device (/dev/sgN) or a block device that supports SG_IO, on a per-LU worker thread. Status,
 * sense and the residual come from the device, so the LU answers as the device does.
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <scsi/sg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define BS_SG_TIMEOUT_MS   60000u
#define BS_SG_REPORT_LUNS  0xa0
#define BS_SG_INQUIRY      0x12
#define BS_SG_INQUIRY_LEN  96u
#define BS_SG_LUNS_SHOWN   256u    /* REPORT LUNS entries returned (the length says all) */

struct bs_sg_lu {
	uint8_t inquiry[BS_SG_INQUIRY_LEN]; /* the device's standard INQUIRY data, read at open */
	uint32_t inquiry_len;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list_head queue;  /* cmd->entry */
	pthread_t thread;
	bool running;
	bool stop;
};

/* One SG_IO: 0 with status/sense/in_len set on cmd, or -errno when the ioctl failed. */
static int bs_sg_io(int fd, struct scsi_cmd *cmd)
{
	struct sg_io_hdr h = {
		.interface_id = 'S',
		.cmd_len = (unsigned char)cmd->cdb_len,
		.cmdp = (unsigned char *)cmd->cdb,
		.mx_sb_len = SCSI_SENSE_MAX,
		.sbp = cmd->sense,
		.timeout = BS_SG_TIMEOUT_MS,
		.dxfer_direction = SG_DXFER_NONE,
	};

	if (cmd->dir == SCSI_DIR_READ) {
		h.dxfer_direction = SG_DXFER_FROM_DEV;
		h.dxfer_len = MIN(cmd->edtl, cmd->buf_len);
	} else if (cmd->dir == SCSI_DIR_WRITE) {
		h.dxfer_direction = SG_DXFER_TO_DEV;
		h.dxfer_len = cmd->out_len;
	}
	h.dxferp = h.dxfer_len ? cmd->buf : NULL;
	if (ioctl(fd, SG_IO, &h) < 0)
		return -errno;
	cmd->status = h.status;
	cmd->sense_len = (uint8_t)MIN(h.sb_len_wr, SCSI_SENSE_MAX);
	/* Bytes the device moved, either direction: the LLD's residual comes from in_len. */
	cmd->in_len = h.dxfer_len - (uint32_t)MIN((uint32_t)MAX(h.resid, 0), h.dxfer_len);
	if (h.status == SAM_STAT_GOOD && (h.host_status || (h.driver_status & ~0x08)))
		return -EIO;  /* transport failure without a SCSI status */
	return 0;
}

static void bs_sg_done_msg(struct reactor_msg *m)
{
	core_cmd_done(container_of(m, struct scsi_cmd, defer));
}

static void *bs_sg_thread(void *arg)
{
	struct scsi_cmd *cmd;
	struct bs_sg_lu *sl = arg;

	pthread_mutex_lock(&sl->lock);
	while (!sl->stop || !list_empty(&sl->queue)) {
		if (list_empty(&sl->queue)) {
			pthread_cond_wait(&sl->cond, &sl->lock);
			continue;
		}
		cmd = list_first_entry(&sl->queue, struct scsi_cmd, entry);
		list_del(&cmd->entry);
		pthread_mutex_unlock(&sl->lock);
		if (bs_sg_io(cmd->lu->fd, cmd) < 0)
			core_cmd_fail(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		reactor_msg_send(cmd->reactor, &cmd->defer, bs_sg_done_msg);
		pthread_mutex_lock(&sl->lock);
	}
	pthread_mutex_unlock(&sl->lock);
	return NULL;
}

/* REPORT LUNS lists the target's LUNs (peripheral or flat addressing), not the device's. */
static void bs_sg_report_luns(struct scsi_cmd *cmd)
{
	static _Thread_local uint64_t luns[BS_SG_LUNS_SHOWN];
	static _Thread_local uint8_t data[8 + 8 * BS_SG_LUNS_SHOWN];
	unsigned int n = core_target_luns(cmd->lu->tgt, luns, BS_SG_LUNS_SHOWN);
	unsigned int fit = MIN(n, BS_SG_LUNS_SHOWN);
	uint32_t list_len = n * 8;

	memset(data, 0, sizeof(data));
	data[0] = (uint8_t)(list_len >> 24);
	data[1] = (uint8_t)(list_len >> 16);
	data[2] = (uint8_t)(list_len >> 8);
	data[3] = (uint8_t)list_len;
	for (unsigned int i = 0; i < fit; i++) {
		uint8_t *e = &data[8 + 8 * i];

		e[0] = luns[i] < 256 ? 0 : (uint8_t)(0x40 | (luns[i] >> 8));
		e[1] = (uint8_t)luns[i];
	}
	core_cmd_set_data_in(cmd, data, 8 + fit * 8);
	core_cmd_done(cmd);
}

/*
 * An offline LU's store may be closed or being replaced: nothing reaches the device. Standard
 * INQUIRY is answered from the copy read at open (SPC: INQUIRY works on a not-ready LU).
 */
static void bs_sg_offline(struct scsi_cmd *cmd, const struct bs_sg_lu *sl)
{
	uint32_t alloc;

	if (cmd->cdb[0] == BS_SG_INQUIRY && cmd->cdb_len >= 6 && !(cmd->cdb[1] & 1) && sl &&
	    sl->inquiry_len) {
		alloc = ((uint32_t)cmd->cdb[3] << 8) | cmd->cdb[4];
		core_cmd_set_data_in(cmd, sl->inquiry, MIN(sl->inquiry_len, alloc));
	} else {
		core_cmd_fail(cmd, SENSE_NOT_READY, ASC_LUN_NOT_READY_OFFLINE);
	}
	core_cmd_done(cmd);
}

static void bs_sg_pt_exec(struct scsi_cmd *cmd)
{
	struct core_lu *lu = cmd->lu;
	struct bs_sg_lu *sl = bs_priv(lu);

	if (cmd->cdb[0] == BS_SG_REPORT_LUNS) {
		bs_sg_report_luns(cmd);
		return;
	}
	if (!lu->online) {
		bs_sg_offline(cmd, sl);
		return;
	}
	if (cmd->cdb_len > 255) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		core_cmd_done(cmd);
		return;
	}
	if (lu->bs != &bs_sg || !sl) {
		core_cmd_fail(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		core_cmd_done(cmd);
		return;
	}
	pthread_mutex_lock(&sl->lock);
	list_add_tail(&cmd->entry, &sl->queue);
	pthread_cond_signal(&sl->cond);
	pthread_mutex_unlock(&sl->lock);
}

const struct core_devtype bs_sg_pt = {
	.name = "pt",
	.show_name = "passthrough",
	.pdt = 0x1f,
	.default_bs = "sg",
	.needs_path = true,
	.cmd_exec = bs_sg_pt_exec,
};

static int bs_sg_init(struct core_lu *lu, const char *bsopts)
{
	struct bs_sg_lu *sl;
	int ret = bs_opts_parse(bsopts, NULL, 0, NULL, "sg");

	if (ret < 0)
		return ret;
	sl = calloc(1, sizeof(*sl));
	if (!sl)
		return -ENOMEM;
	pthread_mutex_init(&sl->lock, NULL);
	pthread_cond_init(&sl->cond, NULL);
	list_init(&sl->queue);
	bs_priv_set(lu, sl);
	return 0;
}

/* A SCSI generic character device, or a block device whose driver answers SG_IO. */
static int bs_sg_check(int fd, const char *path, uint64_t *size)
{
	struct stat st;
	int version;

	if (fstat(fd, &st) < 0)
		return -errno;
	*size = 0;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, size) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode)) {
		log_err("bs sg: %s is not a SCSI generic or block device", path);
		return -EINVAL;
	}
	if (ioctl(fd, SG_GET_VERSION_NUM, &version) < 0 || version < 30000) {
		log_err("bs sg: %s does not support SG_IO", path);
		return -ENOTTY;
	}
	return 0;
}

/* Reads the device's standard INQUIRY data for the offline answer (best effort). */
static void bs_sg_probe(int fd, struct bs_sg_lu *sl)
{
	uint8_t cdb[6] = { BS_SG_INQUIRY, 0, 0, 0, BS_SG_INQUIRY_LEN, 0 };
	uint8_t sense[32];
	uint32_t resid;
	struct sg_io_hdr h = {
		.interface_id = 'S',
		.cmd_len = sizeof(cdb),
		.cmdp = cdb,
		.mx_sb_len = sizeof(sense),
		.sbp = sense,
		.timeout = BS_SG_TIMEOUT_MS,
		.dxfer_direction = SG_DXFER_FROM_DEV,
		.dxfer_len = BS_SG_INQUIRY_LEN,
		.dxferp = sl->inquiry,
	};

	sl->inquiry_len = 0;
	if (ioctl(fd, SG_IO, &h) < 0 || h.status != SAM_STAT_GOOD || h.host_status)
		return;
	resid = (uint32_t)MAX(h.resid, 0);
	sl->inquiry_len = BS_SG_INQUIRY_LEN - MIN(resid, BS_SG_INQUIRY_LEN);
}

static int bs_sg_start(struct bs_sg_lu *sl)
{
	sigset_t all, old;
	int ret;

	sl->stop = false;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&sl->thread, NULL, bs_sg_thread, sl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	sl->running = true;
	return 0;
}

static int bs_sg_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	struct bs_sg_lu *sl = bs_priv(lu);
	int f, ret;

	if (!path || !*path)
		return -EINVAL;
	f = open(path, (lu->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (f < 0) {
		log_err("bs sg: %s: %s", path, strerror(errno));
		return -errno;
	}
	ret = bs_sg_check(f, path, size);
	if (ret == 0 && fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK) < 0)
		ret = -errno;
	if (ret == 0)
		bs_sg_probe(f, sl);
	if (ret == 0)
		ret = bs_sg_start(sl);
	if (ret < 0) {
		close(f);
		return ret;
	}
	*fd = f;
	return 0;
}

/* The sg store only serves the pt device type, which never builds a struct core_io. */
static void bs_sg_submit(struct scsi_cmd *cmd)
{
	bs_cmd_complete_later(cmd, -EOPNOTSUPP, false);
}

static void bs_sg_stop(struct bs_sg_lu *sl)
{
	if (!sl || !sl->running)
		return;
	pthread_mutex_lock(&sl->lock);
	sl->stop = true;
	pthread_cond_signal(&sl->cond);
	pthread_mutex_unlock(&sl->lock);
	pthread_join(sl->thread, NULL);
	sl->running = false;
}

static void bs_sg_close(struct core_lu *lu)
{
	bs_sg_stop(bs_priv(lu));
	if (lu->fd >= 0)
		close(lu->fd);
	lu->fd = -1;
}

static void bs_sg_exit(struct core_lu *lu)
{
	struct bs_sg_lu *sl = bs_priv(lu);

	if (!sl)
		return;
	bs_sg_stop(sl);
	pthread_cond_destroy(&sl->cond);
	pthread_mutex_destroy(&sl->lock);
	free(sl);
	bs_priv_set(lu, NULL);
}

const struct core_bs bs_sg = {
	.name = "sg",
	.needs_path = true,
	.init = bs_sg_init,
	.open = bs_sg_open,
	.submit = bs_sg_submit,
	.close = bs_sg_close,
	.exit = bs_sg_exit,
};
