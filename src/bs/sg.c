/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sg: SCSI passthrough. The "pt" device type hands every CDB of the LU (except REPORT LUNS,
 * which belongs to the target) to the "sg" store, which issues it with SG_IO on a SCSI generic
 * device (/dev/sgN) or a block device that supports SG_IO, on a per-LU worker thread. Status,
 * sense and the residual come from the device, so the LU answers as the device does. Under
 * another device type (a disk over sg) the store turns each struct core_io into READ(16),
 * WRITE(16), SYNCHRONIZE CACHE(10) or UNMAP for the device, whose sense becomes an -errno.
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
#define BS_SG_RETRIES      5u      /* unit attentions and BUSY answers retried per request */
#define BS_SG_XFER_DEFAULT (256u * 1024)  /* bytes per SG_IO when BLKSECTGET says nothing */
#define BS_SG_XFER_MAX     (1u << 20)

struct bs_sg_lu {
	uint8_t inquiry[BS_SG_INQUIRY_LEN]; /* the device's standard INQUIRY data, read at open */
	uint32_t inquiry_len;
	uint32_t dev_block;      /* disk over sg: the device's logical block size */
	uint32_t xfer_max;       /* disk over sg: bytes per SG_IO, a multiple of dev_block */
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

/* ---- disk over sg: struct core_io as SCSI commands for the device ---- */

/* One request of the store itself (capacity probe, disk I/O). */
struct bs_sg_req {
	uint8_t cdb[16];
	uint8_t cdb_len;
	int dir;                 /* SG_DXFER_* */
	void *buf;
	uint32_t len;
	uint8_t sense[32];
	uint8_t status;          /* results */
	uint8_t sense_len;
	uint32_t done;           /* bytes moved */
};

static uint8_t bs_sg_sense_key(const struct bs_sg_req *r)
{
	if (r->sense_len < 3)
		return SENSE_NO_SENSE;
	if ((r->sense[0] & 0x7f) >= 0x72)
		return r->sense[1] & 0xf;
	return r->sense[2] & 0xf;
}

static uint16_t bs_sg_sense_asc(const struct bs_sg_req *r)
{
	bool desc = (r->sense[0] & 0x7f) >= 0x72;

	if (r->sense_len < (desc ? 4 : 14))
		return 0;
	return desc ? (uint16_t)(r->sense[2] << 8 | r->sense[3]) :
		      (uint16_t)(r->sense[12] << 8 | r->sense[13]);
}

/* Issues r with SG_IO; 0 with status/sense/done set, or -errno (system call or transport). */
static int bs_sg_req_once(int fd, struct bs_sg_req *r)
{
	struct sg_io_hdr h = {
		.interface_id = 'S',
		.cmd_len = r->cdb_len,
		.cmdp = r->cdb,
		.mx_sb_len = sizeof(r->sense),
		.sbp = r->sense,
		.timeout = BS_SG_TIMEOUT_MS,
		.dxfer_direction = r->len ? r->dir : SG_DXFER_NONE,
		.dxfer_len = r->len,
		.dxferp = r->len ? r->buf : NULL,
	};

	if (ioctl(fd, SG_IO, &h) < 0)
		return -errno;
	r->status = h.status;
	r->sense_len = (uint8_t)MIN(h.sb_len_wr, sizeof(r->sense));
	r->done = r->len - (uint32_t)MIN((uint32_t)MAX(h.resid, 0), r->len);
	if (h.host_status || (h.driver_status & ~0x08))
		return -EIO;
	return 0;
}

/*
 * Issues r, retrying unit attentions (the device reports its own resets and changes to us,
 * the initiator of record) and BUSY/TASK SET FULL. 0 when GOOD, else -errno from the sense:
 * MEDIUM/HARDWARE ERROR and the rest -EIO, DATA PROTECT -EROFS or -ENOSPC.
 */
static int bs_sg_req_run(int fd, struct bs_sg_req *r)
{
	int ret = 0;

	for (unsigned int i = 0; i < BS_SG_RETRIES; i++) {
		ret = bs_sg_req_once(fd, r);
		if (ret < 0 || r->status == SAM_STAT_GOOD)
			return ret;
		if (r->status == SAM_STAT_BUSY || r->status == SAM_STAT_TASK_SET_FULL) {
			usleep(10000);
			continue;
		}
		if (r->status != SAM_STAT_CHECK_CONDITION ||
		    bs_sg_sense_key(r) != SENSE_UNIT_ATTENTION)
			break;
	}
	log_dbg("bs sg: cdb 0x%02x: status 0x%02x sense %x/%04x", r->cdb[0], r->status,
		bs_sg_sense_key(r), bs_sg_sense_asc(r));
	if (r->status == SAM_STAT_CHECK_CONDITION && bs_sg_sense_key(r) == SENSE_DATA_PROTECT)
		return bs_sg_sense_asc(r) == ASC_SPACE_ALLOC_FAILED_WP ? -ENOSPC : -EROFS;
	return -EIO;
}

static void bs_sg_put_be(uint8_t *p, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t bs_sg_get_be(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* READ CAPACITY(16), or (10) when the device refuses it: block size and size in bytes. */
static int bs_sg_capacity(int fd, uint32_t *block, uint64_t *size)
{
	uint8_t data[32] = { 0 };
	struct bs_sg_req r = {
		.cdb = { 0x9e, 0x10 }, .cdb_len = 16, .dir = SG_DXFER_FROM_DEV,
		.buf = data, .len = sizeof(data),
	};
	uint64_t last;
	int ret;

	bs_sg_put_be(&r.cdb[10], sizeof(data), 4);
	ret = bs_sg_req_run(fd, &r);
	if (ret == 0 && r.done >= 12) {
		last = bs_sg_get_be(data, 8);
		*block = (uint32_t)bs_sg_get_be(&data[8], 4);
	} else {
		r = (struct bs_sg_req){ .cdb = { 0x25 }, .cdb_len = 10, .dir = SG_DXFER_FROM_DEV,
					.buf = data, .len = 8 };
		ret = bs_sg_req_run(fd, &r);
		if (ret < 0 || r.done < 8)
			return ret < 0 ? ret : -EIO;
		last = bs_sg_get_be(data, 4);
		*block = (uint32_t)bs_sg_get_be(&data[4], 4);
	}
	if (*block < 512 || (*block & (*block - 1)) || last == UINT64_MAX)
		return -EINVAL;
	*size = (last + 1) * *block;
	return 0;
}

/* Opening a disk over sg: the device's capacity, and a block size the LU's is a multiple of. */
static int bs_sg_disk_open(int fd, struct core_lu *lu, struct bs_sg_lu *sl, uint64_t *size)
{
	uint32_t lbs = lu->block_size ? lu->block_size : 512;
	int max = 0, ret;
	struct stat st;

	ret = bs_sg_capacity(fd, &sl->dev_block, size);
	if (ret < 0) {
		log_err("bs sg: %s: READ CAPACITY failed: %s", lu->path, strerror(-ret));
		return ret;
	}
	if (lbs % sl->dev_block) {
		log_err("bs sg: %s: LU block size %u is not a multiple of the device's %u",
			lu->path, lbs, sl->dev_block);
		return -EINVAL;
	}
	/* BLKSECTGET: bytes on a SCSI generic device, 512-byte sectors (a short) on a block one */
	if (ioctl(fd, BLKSECTGET, &max) < 0 || max <= 0)
		max = BS_SG_XFER_DEFAULT;
	else if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode))
		max = (int)MIN((uint32_t)max * 512u, BS_SG_XFER_MAX);
	sl->xfer_max = MIN((uint32_t)max, BS_SG_XFER_MAX);
	sl->xfer_max = MAX(sl->xfer_max - sl->xfer_max % sl->dev_block, sl->dev_block);
	return 0;
}

/* READ(16)/WRITE(16) of [off, off+len) from/to buf in xfer_max pieces; bytes done or -errno. */
static int64_t bs_sg_disk_rw(int fd, const struct bs_sg_lu *sl, uint8_t op, bool fua,
			     uint8_t *buf, uint64_t off, uint64_t len, bool zero)
{
	struct bs_sg_req r;
	uint64_t done = 0;
	uint32_t n;
	int ret;

	while (done < len) {
		n = (uint32_t)MIN(len - done, MIN(sl->xfer_max, BS_ZERO_BUF_LEN));
		if (!zero)
			n = (uint32_t)MIN(len - done, sl->xfer_max);
		r = (struct bs_sg_req){ .cdb = { op, fua ? 0x08 : 0 }, .cdb_len = 16,
					.dir = op == 0x88 ? SG_DXFER_FROM_DEV : SG_DXFER_TO_DEV,
					.buf = zero ? (void *)bs_zero_buf : buf + done, .len = n };
		bs_sg_put_be(&r.cdb[2], (off + done) / sl->dev_block, 8);
		bs_sg_put_be(&r.cdb[10], n / sl->dev_block, 4);
		ret = bs_sg_req_run(fd, &r);
		if (ret < 0)
			return ret;
		done += r.done;
		if (r.done < n)
			break;  /* short: the caller reports it, never GOOD */
	}
	return (int64_t)done;
}

/* UNMAP of [off, off+len), one block descriptor per request. */
static int64_t bs_sg_disk_unmap(int fd, const struct bs_sg_lu *sl, uint64_t off, uint64_t len)
{
	uint8_t param[24];
	uint64_t lba = off / sl->dev_block, left = len / sl->dev_block;
	struct bs_sg_req r;
	uint32_t n;
	int ret;

	while (left) {
		n = (uint32_t)MIN(left, UINT32_MAX);
		memset(param, 0, sizeof(param));
		bs_sg_put_be(&param[0], 22, 2);
		bs_sg_put_be(&param[2], 16, 2);
		bs_sg_put_be(&param[8], lba, 8);
		bs_sg_put_be(&param[16], n, 4);
		r = (struct bs_sg_req){ .cdb = { 0x42 }, .cdb_len = 10, .dir = SG_DXFER_TO_DEV,
					.buf = param, .len = sizeof(param) };
		r.cdb[8] = sizeof(param);
		ret = bs_sg_req_run(fd, &r);
		if (ret < 0)
			return ret;
		lba += n;
		left -= n;
	}
	return (int64_t)len;
}

static int64_t bs_sg_disk_exec(int fd, const struct bs_sg_lu *sl, const struct core_io *io)
{
	struct bs_sg_req r = { .cdb = { 0x35 }, .cdb_len = 10 };
	bool fua = io->flags & CORE_IO_FUA;
	int ret;

	if ((io->offset | io->length) % sl->dev_block)
		return -EINVAL;
	switch (io->op) {
	case CORE_IO_READ:
		return bs_sg_disk_rw(fd, sl, 0x88, false, io->buf, io->offset, io->length, false);
	case CORE_IO_WRITE:
		return bs_sg_disk_rw(fd, sl, 0x8a, fua, io->buf, io->offset, io->length, false);
	case CORE_IO_WRITE_ZEROES:
		return bs_sg_disk_rw(fd, sl, 0x8a, fua, NULL, io->offset, io->length, true);
	case CORE_IO_UNMAP:
		return bs_sg_disk_unmap(fd, sl, io->offset, io->length);
	case CORE_IO_FLUSH:
		ret = bs_sg_req_run(fd, &r);
		return ret < 0 ? ret : 0;
	}
	return -EOPNOTSUPP;
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
		if (cmd->lu->dt != &bs_sg_pt) {
			bs_cmd_complete_later(cmd, bs_sg_disk_exec(cmd->lu->fd, sl, &cmd->io), true);
		} else {
			if (bs_sg_io(cmd->lu->fd, cmd) < 0)
				core_cmd_fail(cmd, SENSE_HARDWARE_ERROR,
					      ASC_INTERNAL_TARGET_FAILURE);
			reactor_msg_send(cmd->reactor, &cmd->defer, bs_sg_done_msg);
		}
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
	if (ret == 0 && lu->dt != &bs_sg_pt)
		ret = bs_sg_disk_open(f, lu, sl, size);
	if (ret == 0)
		ret = bs_sg_start(sl);
	if (ret < 0) {
		close(f);
		return ret;
	}
	*fd = f;
	return 0;
}

/* A disk (or other block type) over sg: cmd->io goes to the worker, which runs it as CDBs. */
static void bs_sg_submit(struct scsi_cmd *cmd)
{
	struct bs_sg_lu *sl = bs_priv(cmd->lu);

	if (!sl || !sl->running || !sl->dev_block) {
		bs_cmd_complete_later(cmd, -EOPNOTSUPP, false);
		return;
	}
	pthread_mutex_lock(&sl->lock);
	list_add_tail(&cmd->entry, &sl->queue);
	pthread_cond_signal(&sl->cond);
	pthread_mutex_unlock(&sl->lock);
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
