/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The command path through the core: unit attentions (SPC-4 §5.14), the absent-LU handler,
 * hand-off to the LU's device type, and completion back to the LLD. A completion that happens
 * inside core_cmd_submit is deferred to the reactor so the LLD never sees its callback run
 * from inside its own call (STYLE §9).
 */
#include "core/core_int.h"

#include <string.h>

#define OP_REQUEST_SENSE 0x03
#define OP_INQUIRY       0x12
#define OP_REPORT_LUNS   0xa0

/* REQUEST SENSE with a pending UA returns it as sense data and clears it (SPC-4 §5.14.3). */
static bool cmd_ua_report_as_data(struct scsi_cmd *cmd, uint16_t asc_ascq)
{
	uint8_t sense[SCSI_SENSE_MAX];
	bool desc = cmd->cdb_len > 1 && (cmd->cdb[1] & 1);
	uint8_t len = core_sense_build(sense, desc, SENSE_UNIT_ATTENTION, asc_ascq);
	uint32_t alloc = cmd->cdb_len > 4 ? cmd->cdb[4] : 0;

	core_cmd_set_data_in(cmd, sense, MIN(len, alloc));
	core_cmd_good(cmd);
	return true;
}

/* Returns true when a unit attention answered the command. */
static bool cmd_check_ua(struct scsi_cmd *cmd)
{
	uint8_t op = cmd->cdb[0];
	uint16_t asc_ascq;

	if (op == OP_REPORT_LUNS) {
		/* SPC-4 §6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED */
		core_ua_clear_code(cmd->nexus, ASC_REPORTED_LUNS_CHANGED);
		return false;
	}
	if (op == OP_INQUIRY)
		return false;
	if (!core_ua_take(cmd->nexus, cmd->lun, &asc_ascq))
		return false;
	if (op == OP_REQUEST_SENSE)
		return cmd_ua_report_as_data(cmd, asc_ascq);
	core_cmd_fail(cmd, SENSE_UNIT_ATTENTION, asc_ascq);
	return true;
}

static void cmd_deferred_done(struct reactor_msg *m)
{
	struct scsi_cmd *cmd = container_of(m, struct scsi_cmd, defer);

	core_cmd_done(cmd);
}

void core_cmd_start(struct scsi_cmd *cmd)
{
	if (cmd_check_ua(cmd))
		core_cmd_done(cmd);
	else
		cmd->lu->dt->cmd_exec(cmd);
}

void core_cmd_submit(struct scsi_cmd *cmd)
{
	struct core_lu *lu = cmd->lu;

	cmd->ts = NULL;
	cmd->order_flags = 0;
	cmd->ilk_state = 0;
	cmd->status = SAM_STAT_GOOD;
	cmd->sense_len = 0;
	cmd->in_len = 0;
	cmd->data_with_sense = false;
	cmd->aborted = false;
	cmd->start_ns = time_now_ns();
	cmd->in_submit = true;
	if (lu) {
		atomic_fetch_add_explicit(&lu->stats.inflight, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&cmd->nexus->stats.inflight, 1, memory_order_relaxed);
	}
	if (cmd->cdb_len == 0) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		core_cmd_done(cmd);
	} else if (!lu) {
		cmd->nexus->tgt->root->nolu->cmd_exec(cmd);
	} else if (core_order_admit(cmd)) {
		core_cmd_start(cmd);
	}
	cmd->in_submit = false;
}

static void cmd_account_one(struct scsi_cmd *cmd, struct core_lu_stats *st, uint64_t us)
{
	/* bucket i counts us < 2^(i+4): floor(log2(us)) - 3 */
	unsigned int b = us < 16 ? 0 : MIN(60u - (unsigned int)__builtin_clzll(us),
					     CORE_LAT_BUCKETS - 1u);

	atomic_fetch_sub_explicit(&st->inflight, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->lat_sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->lat_hist[b], 1, memory_order_relaxed);
	if (cmd->aborted)
		atomic_fetch_add_explicit(&st->aborts, 1, memory_order_relaxed);
	if (cmd->status != SAM_STAT_GOOD) {
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
		return;
	}
	if (cmd->dir == SCSI_DIR_READ) {
		atomic_fetch_add_explicit(&st->read_cmds, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&st->read_bytes, MIN(cmd->in_len, cmd->edtl),
					  memory_order_relaxed);
	} else if (cmd->dir == SCSI_DIR_WRITE) {
		atomic_fetch_add_explicit(&st->write_cmds, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&st->write_bytes, cmd->out_len, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&st->other_cmds, 1, memory_order_relaxed);
	}
}

/* Counts cmd on its LU and its session. */
static void cmd_account(struct scsi_cmd *cmd)
{
	uint64_t us = (time_now_ns() - cmd->start_ns) / 1000;

	cmd_account_one(cmd, &cmd->lu->stats, us);
	cmd_account_one(cmd, &cmd->nexus->stats, us);
}

void core_cmd_done(struct scsi_cmd *cmd)
{
	struct core_lu *lu = cmd->lu;

	if (cmd->in_submit) {
		cmd->in_submit = false;
		reactor_defer(cmd->reactor, &cmd->defer, cmd_deferred_done);
		return;
	}
	if (lu) {
		core_order_done(cmd);
		cmd_account(cmd);
	}
	cmd->lu = NULL;
	cmd->done(cmd);
	if (lu)
		core_lu_put(lu);
}

void core_cmd_set_data_in(struct scsi_cmd *cmd, const void *data, uint32_t len)
{
	uint32_t n = MIN(len, cmd->buf_len);

	if (n && cmd->buf)
		memcpy(cmd->buf, data, n);
	cmd->in_len = len;
}
