/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bs: backing stores. Each driver implements struct core_bs (core/core.h): init/open/submit/
 * close/exit, one instance per LU, executing the struct core_io that the device type put in
 * cmd->io. Drivers: "io_uring" (the reactor's own ring: the default for files and block
 * devices), "rdwr" (pread/pwrite on a worker pool, completions posted back to the command's
 * reactor), "aio" (libaio, for O_DIRECT files and devices), "null" (no I/O; reads return
 * zeroes), "sg" (SG_IO passthrough, with the "pt" device type) and "fault" (a test wrapper
 * injecting errors and latency into another driver). docs/backing-stores.md compares them.
 *
 * Results: cmd->io.done gets io.length on success (also for FLUSH, UNMAP and WRITE_ZEROES;
 * never a short count: short transfers are resumed, reads past end of file return zeroes) or
 * -errno. While a command is in a store, the store uses cmd->defer, cmd->entry,
 * cmd->bs_res and cmd->bs_io; cmd->scratch[] belongs to the device type.
 *
 * Threads: submit runs on the command's reactor; completions (cmd->io.done) always run there
 * too, and never before submit returns. init/open run on the management thread; close/exit on
 * whichever thread frees the LU (management, or a reactor dropping the last reference), never
 * with a command in flight.
 *
 * Prefix owned: bs_.
 */
#ifndef UTGT_BS_BS_H
#define UTGT_BS_BS_H

#include "core/core.h"

extern const struct core_bs bs_uring;
extern const struct core_bs bs_rdwr;
extern const struct core_bs bs_null;
extern const struct core_bs bs_aio;
extern const struct core_bs bs_tape;   /* "ssc": tape cartridge files (tape.c) */
extern const struct core_bs bs_fault;
extern const struct core_bs bs_sg;
/* The passthrough device type (--device-type pt) that goes with bs_sg (sg.c). */
extern const struct core_devtype bs_sg_pt;

/* Registers every driver with the core (start-up). */
void bs_register_all(struct core_root *root);

/*
 * Opens a file or block device for an LU (shared by drivers): O_RDWR, or O_RDONLY when
 * lu->readonly; O_DIRECT / O_SYNC from lu->bsoflags; falls back to read-only (setting
 * lu->readonly) on EROFS/EACCES. Size from BLKGETSIZE64 or fstat. 0 or -errno.
 */
int bs_open_path(struct core_lu *lu, const char *path, int *fd, uint64_t *size);

#endif
