/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cmd: handing a store's result back to the command's reactor. Every driver completes through
 * here or from an io_uring completion, so cmd->io.done always runs on cmd->reactor's thread
 * and never inside submit.
 */
#include "bs/bs_int.h"

static void bs_cmd_complete_msg(struct reactor_msg *m)
{
	struct scsi_cmd *cmd = container_of(m, struct scsi_cmd, defer);

	/* Last touch of cmd: done may resubmit it or complete it. */
	cmd->io.done(cmd, bs_cmd_res(cmd));
}

void bs_cmd_complete_later(struct scsi_cmd *cmd, int64_t res, bool other_thread)
{
	bs_cmd_res_set(cmd, res);
	if (other_thread)
		reactor_msg_send(cmd->reactor, &cmd->defer, bs_cmd_complete_msg);
	else
		reactor_defer(cmd->reactor, &cmd->defer, bs_cmd_complete_msg);
}
