/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MODE SENSE(6/10) and MODE SELECT(6/10) (SPC-4) over a device type's table of
 * mode pages. Each page builds its current, changeable and default values from the LU; MODE
 * SELECT accepts a page only when every bit that differs from the current value is
 * changeable, validates the whole parameter list first and applies it second.
 */
#include "scsi/scsi.h"

#include <string.h>

#include "scsi/scsi_int.h"

#define MODE_BUF 512

static bool mode_is_ten(const struct scsi_cmd *cmd)
{
	return cmd->cdb[0] == SCSI_OP_MODE_SENSE_10 || cmd->cdb[0] == SCSI_OP_MODE_SELECT_10;
}

static const struct scsi_mode_page *mode_page_find(const struct scsi_type *t, uint8_t page,
						   uint8_t subpage)
{
	unsigned int i;

	for (i = 0; i < t->nr_modes; i++)
		if (t->modes[i].page == page && t->modes[i].subpage == subpage)
			return &t->modes[i];
	return NULL;
}

/* Mode parameter block descriptor (SPC-4, SBC-3): short or long LBA form. */
static uint32_t mode_block_desc(const struct core_lu *lu, enum scsi_mode_pc pc, bool longlba,
				uint8_t *p)
{
	uint64_t blocks = core_lu_blocks(lu);
	uint32_t len = longlba ? 16 : 8;

	memset(p, 0, len);
	if (pc == SCSI_PC_CHANGEABLE)
		return len;
	if (longlba) {
		put_be64(p, blocks);
		put_be32(&p[12], lu->block_size);
	} else {
		put_be32(p, blocks > 0xffffffffu ? 0xffffffffu : (uint32_t)blocks);
		put_be24(&p[5], lu->block_size);
	}
	return len;
}

/* Appends the pages MODE SENSE asked for; 0 when none matches (the caller fails the CDB). */
static uint32_t mode_pages_put(const struct scsi_cmd *cmd, const struct scsi_type *t,
			       enum scsi_mode_pc pc, uint8_t *p, uint32_t room)
{
	uint8_t code = cmd->cdb[2] & 0x3f;
	uint8_t sub = cmd->cdb[3];
	uint32_t off = 0;
	unsigned int i;

	for (i = 0; i < t->nr_modes; i++) {
		const struct scsi_mode_page *mp = &t->modes[i];

		if (code != 0x3f && mp->page != code)
			continue;
		if (sub != 0xff && mp->subpage != sub)
			continue;
		if (mp->len > room - off)
			break;
		mp->build(cmd->lu, pc, &p[off]);
		off += mp->len;
	}
	return off;
}

void spc_mode_rw_recovery(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	(void)lu;
	(void)pc;
	memset(p, 0, 12);
	p[0] = 0x01;
	p[1] = 0x0a;
}

enum scsi_exec spc_mode_sense(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	const struct core_lu *lu = cmd->lu;
	bool ten = mode_is_ten(cmd);
	bool longlba = ten && (cmd->cdb[1] & 0x10);
	enum scsi_mode_pc pc = cmd->cdb[2] >> 6;
	uint32_t hdr = ten ? 8 : 4;
	uint8_t buf[MODE_BUF] = { 0 };
	uint32_t off = hdr, bdlen = 0, len;

	if (pc == SCSI_PC_SAVED) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_UNSUP);
		return SCSI_EXEC_DONE;
	}
	if (!(cmd->cdb[1] & 0x08)) {
		bdlen = mode_block_desc(lu, pc, longlba, &buf[off]);
		off += bdlen;
	}
	len = mode_pages_put(cmd, t, pc, &buf[off], sizeof(buf) - off);
	if (!len) {
		bool known = (cmd->cdb[2] & 0x3f) == 0x3f;
		unsigned int i;

		for (i = 0; i < t->nr_modes && !known; i++)
			known = t->modes[i].page == (cmd->cdb[2] & 0x3f);
		scsi_fail_cdb(cmd, known ? 3 : 2, known ? -1 : 5);
		return SCSI_EXEC_DONE;
	}
	off += len;
	/* Device-specific parameter (SBC-3): WP, DPOFUA (we honour DPO and FUA). */
	buf[ten ? 3 : 2] = (uint8_t)(((lu->readonly || lu->swp) ? 0x80 : 0) | 0x10);
	if (ten) {
		put_be16(buf, (uint16_t)(off - 2));
		buf[4] = (bdlen == 16) ? 0x01 : 0; /* LONGLBA */
		put_be16(&buf[6], (uint16_t)bdlen);
		scsi_data_in(cmd, buf, off, get_be16(&cmd->cdb[7]));
	} else {
		off = MIN(off, 256u);
		buf[0] = (uint8_t)(off - 1);
		buf[3] = (uint8_t)bdlen;
		scsi_data_in(cmd, buf, off, cmd->cdb[4]);
	}
	return SCSI_EXEC_DONE;
}

/* ---- MODE SELECT ---- */

static void mode_fail_param(struct scsi_cmd *cmd, uint32_t byte, int bit)
{
	core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, (uint16_t)byte, bit);
}

static void mode_fail_length(struct scsi_cmd *cmd)
{
	core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
}

/* Header and block descriptor: only what we report may come back (no medium type, the
 * current block length and capacity or zero). Returns the offset of the first page or 0. */
static uint32_t mode_select_header(struct scsi_cmd *cmd, const uint8_t *p, uint32_t plen)
{
	const struct core_lu *lu = cmd->lu;
	bool ten = mode_is_ten(cmd);
	uint32_t hdr = ten ? 8 : 4;
	uint32_t bdlen = ten ? get_be16(&p[6]) : p[3];
	uint8_t want[16];
	uint32_t i;

	if (plen < hdr || bdlen > plen - hdr) {
		mode_fail_length(cmd);
		return 0;
	}
	if (p[ten ? 2 : 1]) {
		mode_fail_param(cmd, ten ? 2 : 1, -1);
		return 0;
	}
	if (bdlen && bdlen != ((ten && (p[4] & 0x01)) ? 16u : 8u)) {
		mode_fail_param(cmd, ten ? 6 : 3, -1);
		return 0;
	}
	mode_block_desc(lu, SCSI_PC_CURRENT, bdlen == 16, want);
	for (i = 0; i < bdlen; i++) {
		if (p[hdr + i] && p[hdr + i] != want[i]) {
			mode_fail_param(cmd, hdr + i, -1);
			return 0;
		}
	}
	return hdr + bdlen;
}

/* Checks one page at p[0..room) against the table; returns its length or 0 (failed). */
static uint32_t mode_select_page(struct scsi_cmd *cmd, const struct scsi_type *t,
				 const uint8_t *p, uint32_t room, uint32_t at,
				 const struct scsi_mode_page **out)
{
	uint8_t cur[256], chg[256];
	const struct scsi_mode_page *mp;
	bool spf = p[0] & 0x40;
	uint32_t len, i;

	if (room < (spf ? 4u : 2u)) {
		mode_fail_length(cmd);
		return 0;
	}
	len = spf ? 4u + get_be16(&p[2]) : 2u + p[1];
	if (len > room) {
		mode_fail_length(cmd);
		return 0;
	}
	mp = mode_page_find(t, p[0] & 0x3f, spf ? p[1] : 0);
	if (!mp || !spf != !mp->subpage) {
		mode_fail_param(cmd, at, 5);
		return 0;
	}
	if (len != mp->len) {
		mode_fail_param(cmd, at + (spf ? 2 : 1), -1);
		return 0;
	}
	mp->build(cmd->lu, SCSI_PC_CURRENT, cur);
	mp->build(cmd->lu, SCSI_PC_CHANGEABLE, chg);
	for (i = spf ? 4 : 2; i < len; i++) {
		uint8_t bad = (uint8_t)((p[i] ^ cur[i]) & ~chg[i]);

		if (bad) {
			mode_fail_param(cmd, at + i, scsi_top_bit(bad));
			return 0;
		}
	}
	*out = mp;
	return len;
}

/* Walks the pages twice: validate all, then apply all, so a bad page changes nothing. */
static bool mode_select_pages(struct scsi_cmd *cmd, const struct scsi_type *t, uint32_t first,
			      uint32_t plen, bool *changed)
{
	const uint8_t *p = cmd->buf;
	const struct scsi_mode_page *mp;
	uint32_t off, len;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (off = first; off < plen; off += len) {
			len = mode_select_page(cmd, t, &p[off], plen - off, off, &mp);
			if (!len)
				return false;
			if (pass == 1 && mp->apply && mp->apply(cmd->lu, &p[off]))
				*changed = true;
		}
	}
	return true;
}

enum scsi_exec spc_mode_select(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	bool ten = mode_is_ten(cmd);
	uint32_t plen = ten ? get_be16(&cmd->cdb[7]) : cmd->cdb[4];
	bool changed = false;
	uint32_t first;

	if (cmd->cdb[1] & 0x01) {        /* SP: no saved pages (SPC-4) */
		scsi_fail_cdb(cmd, 1, 0);
		return SCSI_EXEC_DONE;
	}
	cmd->in_len = plen;              /* Data-Out the CDB asks for, for the LLD's residual */
	if (!plen) {
		core_cmd_good(cmd);
		return SCSI_EXEC_DONE;
	}
	if (!(cmd->cdb[1] & 0x10)) {     /* PF=0: vendor-specific page format */
		scsi_fail_cdb(cmd, 1, 4);
		return SCSI_EXEC_DONE;
	}
	if (cmd->out_len < plen || !cmd->buf) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
		return SCSI_EXEC_DONE;
	}
	first = mode_select_header(cmd, cmd->buf, plen);
	if (!first || !mode_select_pages(cmd, t, first, plen, &changed))
		return SCSI_EXEC_DONE;
	if (changed)
		core_ua_add_all(cmd->lu->tgt, cmd->nexus, cmd->lu->lun,
				ASC_MODE_PARAMETERS_CHANGED);
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}
