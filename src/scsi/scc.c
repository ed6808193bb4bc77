/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The controller device type (SCC-2 peripheral type 0Ch) that every target has at LUN 0, as
 * in tgt: it answers the SPC commands every LU shares and nothing else, so an initiator
 * scanning LUN 0 finds a well-behaved LU without a medium.
 */
#include "scsi/scsi.h"

#include <errno.h>

#include "scsi/scsi_int.h"

static const struct scsi_op scc_ops[SCSI_NR_OPCODES] = {
	SCSI_OPS_SPC,
};

static const struct scsi_vpd scc_vpd[] = {
	{ 0x00, spc_vpd_supported },
	{ 0x80, spc_vpd_serial },
	{ 0x83, spc_vpd_devid },
};

/* SAM-5, iSCSI, SPC-4, SCC-2 (no version claimed). */
static const uint16_t scc_versions[] = { 0x00a0, 0x0960, 0x0460, 0x01e0 };

const struct scsi_type scsi_scc_type = {
	.dt = &scsi_controller,
	.pdt = SCSI_PDT_CONTROLLER,
	.unknown_asc = ASC_INVALID_OPCODE,
	.ops = scc_ops,
	.vpd = scc_vpd,
	.nr_vpd = ARRAY_SIZE(scc_vpd),
	.versions = scc_versions,
	.nr_versions = ARRAY_SIZE(scc_versions),
};

/* No medium: tgt shows "Size: 0 MB, Block size: 1" for LUN 0. */
static int scc_lu_init(struct core_lu *lu)
{
	lu->block_size = 1;
	lu->block_shift = 0;
	lu->size = 0;
	scsi_lu_identity_init(lu, "UTGT", "CONTROLLER");
	return 0;
}

static void scc_lu_fini(struct core_lu *lu)
{
	(void)lu;
}

static int scc_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	(void)lu;
	(void)key;
	(void)value;
	return -ENOENT;
}

static void scc_cmd_exec(struct scsi_cmd *cmd)
{
	scsi_dispatch(cmd, &scsi_scc_type);
}

const struct core_devtype scsi_controller = {
	.name = "controller",
	.show_name = "controller",
	.pdt = SCSI_PDT_CONTROLLER,
	.default_bs = "null",
	.needs_path = false,
	.lu_init = scc_lu_init,
	.lu_fini = scc_lu_fini,
	.lu_config = scc_lu_config,
	.cmd_exec = scc_cmd_exec,
};
