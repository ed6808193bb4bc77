/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Answers for LUNs that do not exist (cmd->lu is NULL), per SPC-4 (INQUIRY) and SAM-5:
 * INQUIRY reports peripheral qualifier 011b / type 1Fh, REPORT LUNS lists the target's LUNs,
 * REQUEST SENSE returns LOGICAL UNIT NOT SUPPORTED sense data with GOOD status, and every
 * other command ends in CHECK CONDITION, ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED.
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <string.h>

#include "scsi/scsi_int.h"

/* Standard data carries no identity of an LU that does not exist; EVPD answers page 00h. */
static enum scsi_exec nolu_inquiry(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint32_t alloc = get_be16(&cmd->cdb[3]);
	uint8_t d[36] = { 0 };

	(void)t;
	if (cmd->cdb[1] & 0x01) {
		if (cmd->cdb[2]) {
			scsi_fail_cdb(cmd, 2, -1);
			return SCSI_EXEC_DONE;
		}
		d[0] = SCSI_PDT_NOLU;
		put_be16(&d[2], 1);
		scsi_data_in(cmd, d, 5, alloc);
		return SCSI_EXEC_DONE;
	}
	if (cmd->cdb[2]) {
		scsi_fail_cdb(cmd, 2, -1);
		return SCSI_EXEC_DONE;
	}
	d[0] = SCSI_PDT_NOLU;
	d[2] = 0x06;
	d[3] = 0x12;
	d[4] = sizeof(d) - 5;
	scsi_put_ascii(&d[8], "UTGT", 8);
	scsi_put_ascii(&d[16], "", 16);
	scsi_put_ascii(&d[32], "0001", 4);
	scsi_data_in(cmd, d, sizeof(d), alloc);
	return SCSI_EXEC_DONE;
}

static enum scsi_exec nolu_request_sense(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint8_t sense[SCSI_SENSE_MAX];
	uint8_t len;

	(void)t;
	len = core_sense_build(sense, cmd->cdb[1] & 0x01, SENSE_ILLEGAL_REQUEST,
			       ASC_LUN_NOT_SUPPORTED);
	scsi_data_in(cmd, sense, len, cmd->cdb[4]);
	return SCSI_EXEC_DONE;
}

static const struct scsi_op nolu_ops[SCSI_NR_OPCODES] = {
	[SCSI_OP_REQUEST_SENSE] = { .fn = nolu_request_sense, .cdb_len = 6, .dir = SCSI_DIR_READ,
				    .flags = SCSI_OPF_NO_MEDIUM, .name = "REQUEST SENSE",
				    .usage = { 0x03, 0x01, 0, 0, 0xff, 0 } },
	[SCSI_OP_INQUIRY] = { .fn = nolu_inquiry, .cdb_len = 6, .dir = SCSI_DIR_READ,
			      .flags = SCSI_OPF_NO_MEDIUM, .name = "INQUIRY",
			      .usage = { 0x12, 0x01, 0xff, 0xff, 0xff, 0 } },
	[SCSI_OP_REPORT_LUNS] = { .fn = spc_report_luns, .cdb_len = 12, .dir = SCSI_DIR_READ,
				  .flags = SCSI_OPF_NO_MEDIUM, .name = "REPORT LUNS",
				  .usage = { 0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0,
					     0 } },
};

const struct scsi_type scsi_nolu_type = {
	.dt = &scsi_nolu,
	.pdt = SCSI_PDT_NOLU,
	.unknown_asc = ASC_LUN_NOT_SUPPORTED,
	.ops = nolu_ops,
};

static int nolu_lu_init(struct core_lu *lu)
{
	(void)lu;
	return -EINVAL;
}

static void nolu_lu_fini(struct core_lu *lu)
{
	(void)lu;
}

static int nolu_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	(void)lu;
	(void)key;
	(void)value;
	return -ENOENT;
}

static void nolu_cmd_exec(struct scsi_cmd *cmd)
{
	scsi_dispatch(cmd, &scsi_nolu_type);
}

/* Registered with core_root_set_nolu(), never as a --device-type. */
const struct core_devtype scsi_nolu = {
	.name = "nolu",
	.show_name = "none",
	.pdt = SCSI_PDT_NOLU,
	.default_bs = "null",
	.needs_path = false,
	.lu_init = nolu_lu_init,
	.lu_fini = nolu_lu_fini,
	.lu_config = nolu_lu_config,
	.cmd_exec = nolu_cmd_exec,
};
