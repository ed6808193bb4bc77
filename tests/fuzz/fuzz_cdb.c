/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer target: CDB dispatch through the core and the real device types (scsi/) against
 * LUs on the null backing store: LUN 0 (controller), LUN 1 (disk, 64 MiB), LUN 2 (read-only
 * disk, 4 KiB blocks) and an absent LUN. Input: byte 0 picks the LUN and direction, bytes 1-2
 * the buffer length, byte 3 the CDB length, then the CDB and the Data-Out bytes. Every command
 * must complete exactly once, with in_len and sense within bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bs/bs.h"
#include "core/core.h"
#include "scsi/scsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_cdb {
	struct core_root *root;
	struct reactor *r;
	struct core_target *tgt;
	struct core_nexus *nexus;
	unsigned int done;
};

static struct fuzz_cdb fz; /* libFuzzer calls in one thread; built once */

static void fuzz_close(struct core_nexus *n, uint32_t cid, bool all)
{
	(void)n;
	(void)cid;
	(void)all;
}

static const struct core_nexus_ops fuzz_nexus_ops = { .close = fuzz_close };

static void fuzz_done(struct scsi_cmd *cmd)
{
	(void)cmd;
	fz.done++;
}

static void fuzz_init(void)
{
	struct core_lu_params disk = { .device_type = "disk", .bstype = "null",
				       .bsopts = "size=67108864" };
	struct core_lu_params ro = { .device_type = "disk", .bstype = "null", .block_size = 4096,
				     .bsopts = "size=1048576" };
	struct core_lu *lu2;

	log_setup("fuzz", true, LOG_LVL_ERR);
	if (core_root_new(&fz.root) || reactor_new(&fz.r, 1, 0))
		abort();
	scsi_register_all(fz.root);
	bs_register_all(fz.root);
	if (core_target_new(fz.root, 1, "iqn.2026-11.org.utgt:fuzz", &fz.tgt) ||
	    core_lu_new(fz.tgt, 1, &disk, NULL) || core_lu_new(fz.tgt, 2, &ro, &lu2) ||
	    core_lu_config(lu2, "readonly", "1") ||
	    core_nexus_new(fz.tgt, 1, "iqn.2026-11.org.utgt:ini", &fuzz_nexus_ops, &fz.nexus))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t luns[4] = { 0, 1, 2, 7 };
	struct scsi_cmd *cmd;
	uint8_t cdb[SCSI_CDB_MAX] = { 0 };
	uint32_t buf_len;
	size_t cdb_len;

	if (!fz.root)
		fuzz_init();
	if (size < 5)
		return 0;
	cdb_len = 1 + data[3] % SCSI_CDB_MAX;
	if (size < 4 + cdb_len)
		return 0;
	memcpy(cdb, data + 4, cdb_len);
	buf_len = ((uint32_t)data[1] << 8 | data[2]) * 16; /* up to ~1 MiB */
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return 0;
	cmd->buf = malloc(buf_len ? buf_len : 1);
	cmd->reactor = fz.r;
	cmd->nexus = fz.nexus;
	cmd->lun = luns[data[0] & 3];
	cmd->lu = core_lu_get(fz.tgt, cmd->lun);
	cmd->tag = 1;
	cmd->cdb = cdb;
	cmd->cdb_len = (uint16_t)cdb_len;
	cmd->attr = (data[0] >> 2) & 3;
	cmd->dir = (data[0] >> 4) & 3;
	cmd->buf_len = buf_len;
	cmd->edtl = buf_len;
	if (data[0] & 0x40) {
		size_t n = MIN((size_t)buf_len, size - 4 - cdb_len);

		memcpy(cmd->buf, data + 4 + cdb_len, n);
		cmd->out_len = (uint32_t)n;
	}
	cmd->done = fuzz_done;
	fz.done = 0;
	core_cmd_submit(cmd);
	for (int i = 0; i < 1000 && !fz.done; i++)
		reactor_run_once(fz.r, 0);
	if (fz.done != 1 || cmd->sense_len > SCSI_SENSE_MAX)
		abort();
	free(cmd->buf);
	free(cmd);
	return 0;
}
