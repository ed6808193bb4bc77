/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Opcode dispatch: looks a CDB up in its device type's table and runs the checks every
 * command shares before the handler (CDB length, control byte, reserved bits from the CDB
 * usage data, medium/LU state, write protection). Also registers the device types.
 */
#include "scsi/scsi.h"

#include "scsi/scsi_int.h"

bool scsi_op_usable(const struct scsi_op *op, const struct core_lu *lu)
{
	return op->fn && (!(op->flags & SCSI_OPF_THIN) || (lu && lu->thin));
}

const struct scsi_op *scsi_op_find(const struct scsi_type *t, const struct core_lu *lu,
				   uint8_t opcode, uint8_t sa, bool *has_sa)
{
	const struct scsi_op *op = &t->ops[opcode];
	unsigned int i;

	*has_sa = op->sa_ops != NULL;
	if (!op->sa_ops)
		return scsi_op_usable(op, lu) ? op : NULL;
	for (i = 0; i < op->nr_sa; i++)
		if (op->sa_ops[i].sa == sa)
			return scsi_op_usable(&op->sa_ops[i], lu) ? &op->sa_ops[i] : NULL;
	return NULL;
}

/*
 * Every bit of the CDB outside the usage mask is reserved or unsupported (RDPROTECT,
 * group numbers, obsolete flags we do not implement): INVALID FIELD IN CDB, pointing at the
 * highest offending bit. The control byte is checked apart: NACA and LINK are unsupported
 * (SAM-5), its vendor-specific bits are ignored.
 */
static bool scsi_cdb_check(struct scsi_cmd *cmd, const struct scsi_op *op, bool has_sa)
{
	const uint8_t *cdb = cmd->cdb;
	unsigned int last = op->cdb_len - 1u;
	unsigned int i;

	for (i = 1; i < last; i++) {
		uint8_t mask = op->usage[i];
		uint8_t bad;

		if (i == 1 && has_sa)
			mask |= 0x1f;
		bad = cdb[i] & (uint8_t)~mask;
		if (bad) {
			scsi_fail_cdb(cmd, (uint16_t)i, scsi_top_bit(bad));
			return false;
		}
	}
	if (cdb[last] & 0x05) {
		scsi_fail_cdb(cmd, (uint16_t)last, scsi_top_bit(cdb[last] & 0x05));
		return false;
	}
	return true;
}

/* What a LU runs during a sanitize (SBC-3 4.11): INQUIRY, REPORT LUNS, REQUEST SENSE (with
 * the progress) and MAINTENANCE IN (REPORT SUPPORTED OPERATION CODES, target port groups). */
static bool scsi_sanitize_allows(uint8_t opcode)
{
	return opcode == SCSI_OP_INQUIRY || opcode == SCSI_OP_REPORT_LUNS ||
	       opcode == SCSI_OP_REQUEST_SENSE || opcode == SCSI_OP_MAINTENANCE_IN;
}

/*
 * LU state: a sanitize in progress answers NOT READY, SANITIZE IN PROGRESS to nearly
 * everything; a removable LU without medium answers MEDIUM NOT PRESENT, an administratively
 * offline LU NOT READY, OFFLINE; commands that write need a writable medium (read-only LU or
 * SWP in the Control mode page: DATA PROTECT, WRITE PROTECTED).
 */
static bool scsi_lu_check(struct scsi_cmd *cmd, const struct scsi_op *op)
{
	const struct core_lu *lu = cmd->lu;

	if (!lu)
		return true;
	if (scsi_lu_sanitizing(lu) && !scsi_sanitize_allows(cmd->cdb[0])) {
		scsi_sanitize_fail(cmd);
		return false;
	}
	if (op->flags & SCSI_OPF_NO_MEDIUM)
		return true;
	if (!lu->online) {
		core_cmd_fail(cmd, SENSE_NOT_READY,
			      lu->removable ? ASC_MEDIUM_NOT_PRESENT : ASC_LUN_NOT_READY_OFFLINE);
		return false;
	}
	if ((op->flags & SCSI_OPF_WRITES) && (lu->readonly || lu->swp)) {
		core_cmd_fail(cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return false;
	}
	return true;
}

void scsi_dispatch(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	const struct scsi_op *op = NULL;
	bool has_sa = false;

	if (cmd->cdb_len >= 1)
		op = scsi_op_find(t, cmd->lu, cmd->cdb[0],
				  cmd->cdb_len >= 2 ? cmd->cdb[1] & 0x1f : 0, &has_sa);
	if (!op) {
		if (has_sa)
			scsi_fail_cdb(cmd, 1, 4); /* unsupported service action (SPC-4) */
		else
			core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, t->unknown_asc);
		goto done;
	}
	if (cmd->cdb_len < op->cdb_len) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		goto done;
	}
	if (!scsi_cdb_check(cmd, op, has_sa) || !scsi_alua_check(cmd) ||
	    !scsi_pr_check(cmd, op) || !scsi_lu_check(cmd, op))
		goto done;
	if (op->fn(cmd, t) == SCSI_EXEC_ASYNC)
		return;
done:
	core_cmd_done(cmd);
}

void scsi_register_all(struct core_root *root)
{
	core_root_add_devtype(root, &scsi_disk);
	core_root_add_devtype(root, &scsi_controller);
	core_root_add_devtype(root, &scsi_cd);
	core_root_add_devtype(root, &scsi_tape);
	core_root_add_devtype(root, &scsi_changer);
	core_root_add_devtype(root, &scsi_osd);
	core_root_set_nolu(root, &scsi_nolu);
}
