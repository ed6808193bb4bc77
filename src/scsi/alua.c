/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ALUA commands (SPC-4 §5.15): the TPGS bits of standard INQUIRY, the relative target port
 * and target port group designators of VPD 0x83, REPORT TARGET PORT GROUPS, SET TARGET PORT
 * GROUPS, and the check that refuses commands a target port's access state does not allow.
 * The state itself (per target, shared by its LUs) is kept by core/alua.c.
 */
#include "scsi/scsi.h"

#include <string.h>

#include "scsi/scsi_int.h"

/* Non-active states in which a command may run (SPC-4 §5.15.2.4). */
#define ALUA_OK_S (1u << 0) /* standby */
#define ALUA_OK_U (1u << 1) /* unavailable */
#define ALUA_OK_T (1u << 2) /* transitioning */
#define ALUA_OK_O (1u << 3) /* offline */
#define ALUA_OK_ANY (ALUA_OK_S | ALUA_OK_U | ALUA_OK_T | ALUA_OK_O)

#define ALUA_SA_ANY 0xff
#define ALUA_RTPG_MAX 2048u  /* 17 groups of 8 + 16 * 4 bytes, with the header */

struct alua_op {
	uint8_t opcode;
	uint8_t sa;          /* service action, or ALUA_SA_ANY */
	uint8_t ok;          /* ALUA_OK_* */
};

/*
 * Commands allowed outside the active states. Standby: SPC-4 §5.15.2.4.4 (diagnostics, log,
 * mode and reservation commands stay available so a path can be probed and prepared; TEST
 * UNIT READY is not in the list and reports the state). Unavailable: §5.15.2.4.5.
 * Transitioning: §5.15.2.4.6. Offline (§5.15.2.4.7): INQUIRY, REPORT LUNS, REQUEST SENSE and
 * REPORT TARGET PORT GROUPS only, so an initiator can still learn why.
 */
static const struct alua_op alua_ops[] = {
	{ SCSI_OP_INQUIRY, ALUA_SA_ANY, ALUA_OK_ANY },
	{ SCSI_OP_REPORT_LUNS, ALUA_SA_ANY, ALUA_OK_ANY },
	{ SCSI_OP_REQUEST_SENSE, ALUA_SA_ANY, ALUA_OK_ANY },
	{ SCSI_OP_MAINTENANCE_IN, SCSI_SA_REPORT_TPG, ALUA_OK_ANY },
	{ SCSI_OP_MAINTENANCE_OUT, SCSI_SA_SET_TPG, ALUA_OK_S | ALUA_OK_U },
	{ SCSI_OP_SEND_DIAGNOSTIC, ALUA_SA_ANY, ALUA_OK_S | ALUA_OK_U },
	{ SCSI_OP_RECEIVE_DIAGNOSTIC, ALUA_SA_ANY, ALUA_OK_S | ALUA_OK_U },
	{ SCSI_OP_MODE_SELECT_6, ALUA_SA_ANY, ALUA_OK_S },
	{ SCSI_OP_MODE_SENSE_6, ALUA_SA_ANY, ALUA_OK_S },
	{ SCSI_OP_MODE_SELECT_10, ALUA_SA_ANY, ALUA_OK_S },
	{ SCSI_OP_MODE_SENSE_10, ALUA_SA_ANY, ALUA_OK_S },
	{ SCSI_OP_LOG_SELECT, ALUA_SA_ANY, ALUA_OK_S },
	{ SCSI_OP_LOG_SENSE, ALUA_SA_ANY, ALUA_OK_S },
	{ SCSI_OP_PR_IN, ALUA_SA_ANY, ALUA_OK_S },
	{ SCSI_OP_PR_OUT, ALUA_SA_ANY, ALUA_OK_S },
};

static unsigned int alua_state_bit(uint8_t state)
{
	switch (state) {
	case CORE_ALUA_STANDBY:
		return ALUA_OK_S;
	case CORE_ALUA_UNAVAILABLE:
		return ALUA_OK_U;
	case CORE_ALUA_TRANSITIONING:
		return ALUA_OK_T;
	default:
		return ALUA_OK_O;
	}
}

bool scsi_alua_allowed(uint8_t state, const uint8_t *cdb, uint16_t len)
{
	unsigned int bit = alua_state_bit(state);
	uint8_t sa = len >= 2 ? cdb[1] & 0x1f : 0;

	if (state == CORE_ALUA_AO || state == CORE_ALUA_AN)
		return true;
	if (!len)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(alua_ops); i++) {
		const struct alua_op *o = &alua_ops[i];

		if (o->opcode == cdb[0] && (o->sa == ALUA_SA_ANY || o->sa == sa))
			return o->ok & bit;
	}
	return false;
}

uint16_t scsi_alua_asc(uint8_t state)
{
	switch (state) {
	case CORE_ALUA_STANDBY:
		return 0x040b;  /* LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE */
	case CORE_ALUA_UNAVAILABLE:
		return 0x040c;  /* ..., TARGET PORT IN UNAVAILABLE STATE */
	case CORE_ALUA_TRANSITIONING:
		return 0x040a;  /* ..., ASYMMETRIC ACCESS STATE TRANSITION */
	default:
		return ASC_LUN_NOT_READY_OFFLINE;
	}
}

bool scsi_alua_check(struct scsi_cmd *cmd)
{
	struct core_target *tgt = cmd->nexus ? cmd->nexus->tgt : NULL;
	uint16_t group;
	uint8_t state;
	bool pref;

	if (!tgt || core_alua_all_active(tgt) || !core_alua_type(tgt))
		return true;
	core_alua_port_get(tgt, cmd->nexus->tpgt, &group, &state, &pref);
	if (scsi_alua_allowed(state, cmd->cdb, cmd->cdb_len))
		return true;
	core_cmd_fail(cmd, SENSE_NOT_READY, scsi_alua_asc(state));
	return false;
}

uint8_t scsi_alua_tpgs(const struct scsi_cmd *cmd)
{
	if (!cmd->nexus || !cmd->nexus->tgt)
		return 0;
	return (uint8_t)((core_alua_type(cmd->nexus->tgt) & 0x3) << 4);
}

/* One 8-byte designator with target port association, iSCSI protocol (PIV set). */
static void alua_designator_put(uint8_t *p, uint8_t type, uint16_t value)
{
	p[0] = 0x51;                        /* PROTOCOL IDENTIFIER iSCSI, CODE SET binary */
	p[1] = (uint8_t)(0x80 | 0x10 | type); /* PIV, ASSOCIATION target port */
	p[2] = 0;
	p[3] = 4;
	put_be16(&p[4], 0);
	put_be16(&p[6], value);
}

uint32_t scsi_alua_vpd_port(const struct scsi_cmd *cmd, uint8_t *p, uint32_t size)
{
	uint16_t group;
	uint8_t state;
	bool pref;

	if (!cmd->nexus || !cmd->nexus->tgt || !cmd->nexus->tpgt || size < 16)
		return 0;
	core_alua_port_get(cmd->nexus->tgt, cmd->nexus->tpgt, &group, &state, &pref);
	alua_designator_put(p, 0x4, cmd->nexus->tpgt); /* relative target port */
	alua_designator_put(p + 8, 0x5, group);        /* target port group */
	return 16;
}

/* ---- REPORT TARGET PORT GROUPS (SPC-4 §6.36) ---- */

uint32_t scsi_alua_rtpg_build(const struct core_alua_report *r, unsigned int nr, bool ext,
			      uint8_t *p, uint32_t size)
{
	uint32_t off = ext ? 8 : 4;

	if (size < off)
		return 0;
	memset(p, 0, off);
	if (ext)
		p[4] = 0x10;                /* FORMAT TYPE 001b; implicit transition time 0 */
	for (unsigned int i = 0; i < nr; i++) {
		uint32_t need = 8 + 4 * r[i].nr_ports;

		if (size - off < need)
			return 0;
		memset(&p[off], 0, need);
		p[off] = (uint8_t)((r[i].g.pref ? 0x80 : 0) | (r[i].g.state & 0x0f));
		p[off + 1] = 0xcf;          /* T_SUP O_SUP U_SUP S_SUP AN_SUP AO_SUP */
		put_be16(&p[off + 2], r[i].g.id);
		p[off + 5] = r[i].g.status;
		p[off + 7] = (uint8_t)r[i].nr_ports;
		for (unsigned int k = 0; k < r[i].nr_ports; k++)
			put_be16(&p[off + 8 + 4 * k + 2], r[i].ports[k]);
		off += need;
	}
	put_be32(p, off - 4);
	return off;
}

enum scsi_exec spc_report_tpg(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct core_alua_report r[CORE_PORTS_MAX + 1];
	uint8_t fmt = cmd->cdb[1] >> 5;
	uint32_t alloc = get_be32(&cmd->cdb[6]);
	uint8_t buf[ALUA_RTPG_MAX];
	unsigned int nr;
	uint32_t len;

	(void)t;
	if (fmt > 1) {
		scsi_fail_cdb(cmd, 1, 7);
		return SCSI_EXEC_DONE;
	}
	if (!cmd->nexus || !cmd->nexus->tgt || !core_alua_type(cmd->nexus->tgt)) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return SCSI_EXEC_DONE;
	}
	nr = core_alua_report(cmd->nexus->tgt, cmd->nexus, r, ARRAY_SIZE(r));
	len = scsi_alua_rtpg_build(r, nr, fmt == 1, buf, sizeof(buf));
	if (!len) {
		core_cmd_fail(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return SCSI_EXEC_DONE;
	}
	scsi_data_in(cmd, buf, len, alloc);
	return SCSI_EXEC_DONE;
}

/* ---- SET TARGET PORT GROUPS (SPC-4 §6.44) ---- */

/* Checks every descriptor before changing anything; returns the bad byte or -1. */
static int alua_stpg_validate(struct scsi_cmd *cmd, const uint8_t *d, uint32_t len)
{
	struct core_alua_report r[CORE_PORTS_MAX + 1];
	unsigned int nr = core_alua_report(cmd->nexus->tgt, cmd->nexus, r, ARRAY_SIZE(r));

	for (uint32_t off = 4; off < len; off += 4) {
		uint16_t id = get_be16(&d[off + 2]);
		unsigned int i;

		if ((d[off] & 0x0f) > CORE_ALUA_UNAVAILABLE || (d[off] & 0xf0) || d[off + 1])
			return (int)off;
		for (i = 0; i < nr && r[i].g.id != id; i++)
			;
		if (i == nr)
			return (int)off + 2;
	}
	return -1;
}

enum scsi_exec spc_set_tpg(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint32_t len = get_be32(&cmd->cdb[6]);
	const uint8_t *d = cmd->buf;
	int bad;

	(void)t;
	if (!cmd->nexus || !cmd->nexus->tgt ||
	    !(core_alua_type(cmd->nexus->tgt) & CORE_ALUA_EXPLICIT)) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return SCSI_EXEC_DONE;
	}
	if (!len) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	if (len < 4 || len % 4 || len > cmd->out_len || len > ALUA_RTPG_MAX) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
		return SCSI_EXEC_DONE;
	}
	bad = alua_stpg_validate(cmd, d, len);
	if (bad >= 0) {
		core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, (uint16_t)bad, -1);
		return SCSI_EXEC_DONE;
	}
	for (uint32_t off = 4; off < len; off += 4) {
		if (core_alua_group_set(cmd->nexus->tgt, cmd->nexus, get_be16(&d[off + 2]),
					d[off] & 0x0f) < 0) {
			core_cmd_fail(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
			return SCSI_EXEC_DONE;
		}
	}
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

const struct scsi_op spc_maint_out_ops[1] = {
	{ .fn = spc_set_tpg, .sa = SCSI_SA_SET_TPG, .cdb_len = 12, .dir = SCSI_DIR_WRITE,
	  .flags = SCSI_OPF_NO_MEDIUM, .name = "SET TARGET PORT GROUPS",
	  .usage = { 0xa4, SCSI_SA_SET_TPG, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
};
