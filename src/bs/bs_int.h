/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bs internals shared by the drivers: per-command state while a command is inside a store,
 * the synchronous executor (rdwr workers, fallbacks), --bsopts parsing and the hand-back of a
 * result to the command's reactor. Not for use outside src/bs/.
 */
#ifndef UTGT_BS_BS_INT_H
#define UTGT_BS_BS_INT_H

#include "bs/bs.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Per-command state while a command is lent to a store lives in struct scsi_cmd: bs_res holds
 * the byte count (progress, then the result) and bs_io the in-flight io_uring request. A store
 * also owns cmd->entry (its queues) and cmd->defer (the final hand-off) until it calls
 * cmd->io.done.
 */
static inline int64_t bs_cmd_res(const struct scsi_cmd *cmd)
{
	return cmd->bs_res;
}

static inline void bs_cmd_res_set(struct scsi_cmd *cmd, int64_t res)
{
	cmd->bs_res = res;
}

static inline struct reactor_io *bs_cmd_rio(struct scsi_cmd *cmd)
{
	return &cmd->bs_io;
}

static inline struct scsi_cmd *bs_rio_cmd(struct reactor_io *rio)
{
	return container_of(rio, struct scsi_cmd, bs_io);
}

/*
 * A driver's per-LU state. The fault wrapper (fault.c) owns lu->bs_priv itself and keeps the
 * lower driver's state in its first member, so drivers always go through these two helpers.
 */
extern const struct core_bs bs_fault;

struct bs_wrap {
	void *lower_priv;        /* first member: the wrapped driver's lu->bs_priv */
};

static inline void *bs_priv(const struct core_lu *lu)
{
	return lu->bs == &bs_fault ? ((struct bs_wrap *)lu->bs_priv)->lower_priv : lu->bs_priv;
}

static inline void bs_priv_set(struct core_lu *lu, void *priv)
{
	if (lu->bs == &bs_fault)
		((struct bs_wrap *)lu->bs_priv)->lower_priv = priv;
	else
		lu->bs_priv = priv;
}

/* Largest single read/write system call or SQE (Linux caps one transfer at 2 GiB - 4 KiB). */
#define BS_IO_CHUNK_MAX (1u << 30)

/* Size of the shared zero buffer used to emulate WRITE ZEROES (4 KiB aligned for O_DIRECT). */
#define BS_ZERO_BUF_LEN (64u * 1024)
extern const uint8_t bs_zero_buf[BS_ZERO_BUF_LEN];

/* What bs_file_open learned about the backing file. */
struct bs_file {
	bool bdev;               /* a block device (UNMAP via BLKDISCARD) */
};

/* bs_open_path, also reporting whether path is a block device. */
int bs_file_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size,
		 struct bs_file *file);

/*
 * Executes io on fd synchronously (blocking): loops over short transfers, zero-fills reads
 * past end of file, emulates WRITE ZEROES and UNMAP when the file system lacks fallocate
 * modes. Returns io->length on success or -errno.
 */
int64_t bs_sync_exec(int fd, const struct bs_file *file, const struct core_io *io);

/*
 * Completes cmd with res on its own reactor after the current batch: reactor_defer when called
 * on cmd->reactor's thread, reactor_msg_send from any other thread. Uses cmd->defer.
 */
void bs_cmd_complete_later(struct scsi_cmd *cmd, int64_t res, bool other_thread);

/* One --bsopts key: parse value into the driver's option struct. 0 or -EINVAL. */
struct bs_opt {
	const char *key;
	int (*parse)(void *opts, const char *value);
};

/*
 * Parses "key=value[,key=value...]" (';' also separates) against table. NULL or "" is valid.
 * Unknown keys and bad values are logged and give -EINVAL.
 */
int bs_opts_parse(const char *bsopts, const struct bs_opt *table, size_t n, void *opts,
		  const char *driver);

#endif
