/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The "ssc" backing store of tape LUs: it opens and closes the cartridge file only. Tape
 * commands are positional and sequential, so the tape device type (scsi/ssc.c) reads and
 * writes records itself under its tape lock; nothing is ever submitted here.
 */
#include "bs/bs.h"

#include <errno.h>
#include <unistd.h>

#include "bs/bs_int.h"

static int bs_tape_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	if (!path || !*path) {
		*fd = -1;
		*size = 0;
		return 0;                   /* an empty drive */
	}
	return bs_open_path(lu, path, fd, size);
}

static void bs_tape_submit(struct scsi_cmd *cmd)
{
	bs_cmd_complete_later(cmd, -EOPNOTSUPP, false);
}

static void bs_tape_close(struct core_lu *lu)
{
	if (lu->fd >= 0)
		close(lu->fd);
	lu->fd = -1;
}

const struct core_bs bs_tape = {
	.name = "ssc",
	.needs_path = false,
	.open = bs_tape_open,
	.submit = bs_tape_submit,
	.close = bs_tape_close,
};
