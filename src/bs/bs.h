/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bs: backing stores. Each driver implements struct core_bs (core/core.h): init/open/submit/
 * close/exit, one instance per LU, executing the struct core_io that the device type put in
 * cmd->io. Drivers: "io_uring" (the reactor's own ring: the default for files and block
 * devices), "rdwr" (pread/pwrite on a worker pool, completions posted back to the command's
 * reactor) and "null" (no I/O; reads return zeroes).
 *
 * Threads: submit runs on the command's reactor; completions (cmd->io.done) always run there
 * too, and never before submit returns. open/close/init/exit run on the management thread.
 *
 * Prefix owned: bs_.
 */
#ifndef UTGT_BS_BS_H
#define UTGT_BS_BS_H

#include "core/core.h"

extern const struct core_bs bs_uring;
extern const struct core_bs bs_rdwr;
extern const struct core_bs bs_null;

/* Registers every driver with the core (start-up). */
void bs_register_all(struct core_root *root);

/*
 * Opens a file or block device for an LU (shared by drivers): O_RDWR, or O_RDONLY when
 * lu->readonly; O_DIRECT / O_SYNC from lu->bsoflags; falls back to read-only (setting
 * lu->readonly) on EROFS/EACCES. Size from BLKGETSIZE64 or fstat. 0 or -errno.
 */
int bs_open_path(struct core_lu *lu, const char *path, int *fd, uint64_t *size);

#endif
