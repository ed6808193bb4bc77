/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SPC-4 commands every device type shares: TEST UNIT READY, REQUEST SENSE, INQUIRY with the
 * common VPD pages (0x00, 0x80, 0x83), REPORT LUNS and REPORT SUPPORTED OPERATION CODES (which
 * reads the device type's opcode table), plus the response and identity helpers.
 */
#include "scsi/scsi.h"

#include <string.h>

#include "scsi/scsi_int.h"

#define SPC_STD_INQUIRY_LEN 96      /* through the version descriptors and reserved bytes */
#define SPC_VPD_MAX         256
#define SPC_REPORT_LUNS_MAX 16384u  /* LUNs listed at most (peripheral and flat addressing) */
#define SPC_RSOC_BUF        4096
#define SPC_RSOC_TIMEOUTS   12      /* command timeouts descriptor (SPC-4) */

/* ---- helpers ---- */

void scsi_data_in(struct scsi_cmd *cmd, const void *data, uint32_t len, uint32_t alloc)
{
	core_cmd_good(cmd);
	core_cmd_set_data_in(cmd, data, MIN(len, alloc));
}

void scsi_fail_cdb(struct scsi_cmd *cmd, uint16_t byte, int bit)
{
	core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_CDB, true, byte, bit);
}

void scsi_busy(struct scsi_cmd *cmd)
{
	cmd->status = SAM_STAT_BUSY;
	cmd->sense_len = 0;
	cmd->in_len = 0;
}

int scsi_top_bit(uint8_t v)
{
	return v ? 31 - __builtin_clz(v) : -1;
}

void scsi_put_ascii(uint8_t *dst, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s && s[i]; i++)
		dst[i] = (s[i] >= 0x20 && s[i] <= 0x7e) ? (uint8_t)s[i] : ' ';
	for (; i < n; i++)
		dst[i] = ' ';
}

/*
 * tgt-compatible identity, so `show` prints what tgt prints: SCSI ID "IET     %04x%04x"
 * (tid, lun) and SCSI SN "beaf<tid><lun>". naa_id (36 bits) defaults to tid:20 | lun:16.
 */
void scsi_lu_identity_init(struct core_lu *lu, const char *vendor, const char *product)
{
	uint32_t tid = lu->tgt ? lu->tgt->tid : 0;
	size_t off = 0;

	if (!lu->vendor_id[0])
		str_copy(lu->vendor_id, vendor, sizeof(lu->vendor_id));
	if (!lu->product_id[0])
		str_copy(lu->product_id, product, sizeof(lu->product_id));
	if (!lu->product_rev[0])
		str_copy(lu->product_rev, "0001", sizeof(lu->product_rev));
	if (!lu->scsi_id[0])
		(void)str_appendf(lu->scsi_id, sizeof(lu->scsi_id), &off, "IET     %04x%04x", tid,
				  (unsigned int)lu->lun);
	off = 0;
	if (!lu->scsi_sn[0])
		(void)str_appendf(lu->scsi_sn, sizeof(lu->scsi_sn), &off, "beaf%u%llu", tid,
				  (unsigned long long)lu->lun);
	if (!lu->naa_id)
		lu->naa_id = (((uint64_t)tid << 16) | (lu->lun & 0xffff)) & ((1ull << 36) - 1);
}

/* ---- TEST UNIT READY, REQUEST SENSE, PREVENT ALLOW MEDIUM REMOVAL ---- */

/*
 * GOOD with nothing left to do: TEST UNIT READY (the dispatcher has checked readiness) and
 * commands whose effect the emulation has by construction.
 */
enum scsi_exec spc_good(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	(void)t;
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/* PREVENT ALLOW MEDIUM REMOVAL of removable media: PREVENT 01b/00b, per I_T nexus. */
enum scsi_exec spc_prevent_allow(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	(void)t;
	core_lu_prevent_set(cmd->lu, cmd->nexus, cmd->cdb[4] & 0x01);
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

/*
 * Sense is autosensed with every CHECK CONDITION, so nothing is pending here; REQUEST SENSE
 * still reports a current condition: a sanitize in progress (with its progress indication),
 * an offline LU or missing medium (SPC-4).
 */
enum scsi_exec spc_request_sense(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	const struct core_lu *lu = cmd->lu;
	uint8_t sense[SCSI_SENSE_MAX];
	bool desc = cmd->cdb[1] & 0x01;
	uint8_t len;

	(void)t;
	len = lu ? scsi_sanitize_sense(lu, desc, sense) : 0;
	if (!len && lu && !lu->online)
		len = core_sense_build(sense, desc, SENSE_NOT_READY,
				       lu->removable ? ASC_MEDIUM_NOT_PRESENT :
						       ASC_LUN_NOT_READY_OFFLINE);
	else if (!len)
		len = core_sense_build(sense, desc, SENSE_NO_SENSE, ASC_NO_ADDITIONAL_SENSE);
	scsi_data_in(cmd, sense, len, cmd->cdb[4]);
	return SCSI_EXEC_DONE;
}

/* ---- INQUIRY ---- */

static void spc_inquiry_standard(struct scsi_cmd *cmd, const struct scsi_type *t,
				 uint32_t alloc)
{
	const struct core_lu *lu = cmd->lu;
	uint8_t d[SPC_STD_INQUIRY_LEN] = { 0 };
	unsigned int i;

	d[0] = t->pdt;
	d[1] = lu->removable ? 0x80 : 0;  /* RMB */
	d[2] = 0x06;                       /* VERSION: SPC-4 */
	d[3] = 0x12;                       /* HISUP, RESPONSE DATA FORMAT 2 */
	d[4] = sizeof(d) - 5;
	d[5] = scsi_alua_tpgs(cmd);        /* TPGS (SPC-4 5.15) */
	if (t->ops[SCSI_OP_EXTENDED_COPY].sa_ops)
		d[5] |= 0x08;              /* 3PC: a copy manager (xcopy.c) */
	d[7] = 0x02;                       /* CMDQUE */
	scsi_put_ascii(&d[8], lu->vendor_id, 8);
	scsi_put_ascii(&d[16], lu->product_id, 16);
	scsi_put_ascii(&d[32], lu->product_rev, 4);
	for (i = 0; i < t->nr_versions && i < 8; i++)
		put_be16(&d[58 + 2 * i], t->versions[i]);
	scsi_data_in(cmd, d, sizeof(d), alloc);
}

enum scsi_exec spc_inquiry(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint8_t page[SPC_VPD_MAX] = { 0 };
	uint32_t alloc = get_be16(&cmd->cdb[3]);
	uint8_t code = cmd->cdb[2];
	unsigned int i;
	uint32_t len;

	if (!(cmd->cdb[1] & 0x01)) {
		if (code)
			scsi_fail_cdb(cmd, 2, -1);
		else
			spc_inquiry_standard(cmd, t, alloc);
		return SCSI_EXEC_DONE;
	}
	for (i = 0; i < t->nr_vpd; i++)
		if (t->vpd[i].page == code)
			break;
	if (i == t->nr_vpd) {
		scsi_fail_cdb(cmd, 2, -1);
		return SCSI_EXEC_DONE;
	}
	len = t->vpd[i].build(cmd, t, page, sizeof(page));
	if (!len) {
		core_cmd_fail(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return SCSI_EXEC_DONE;
	}
	scsi_data_in(cmd, page, len, alloc);
	return SCSI_EXEC_DONE;
}

/* Supported VPD pages (SPC-4), from the type's table. */
uint32_t spc_vpd_supported(const struct scsi_cmd *cmd, const struct scsi_type *t, uint8_t *p,
			   uint32_t size)
{
	unsigned int i;

	(void)cmd;
	if (size < 4u + t->nr_vpd)
		return 0;
	p[0] = t->pdt;
	p[1] = 0x00;
	put_be16(&p[2], t->nr_vpd);
	for (i = 0; i < t->nr_vpd; i++)
		p[4 + i] = t->vpd[i].page;
	return 4u + t->nr_vpd;
}

/* Unit Serial Number (SPC-4): the serial, whole, as the page. */
uint32_t spc_vpd_serial(const struct scsi_cmd *cmd, const struct scsi_type *t, uint8_t *p,
			uint32_t size)
{
	size_t len = strnlen(cmd->lu->scsi_sn, sizeof(cmd->lu->scsi_sn));

	if (size < 4 + len)
		return 0;
	p[0] = t->pdt;
	p[1] = 0x80;
	put_be16(&p[2], (uint16_t)len);
	scsi_put_ascii(&p[4], cmd->lu->scsi_sn, len);
	return (uint32_t)(4 + len);
}

/* FNV-1a, to fold the target name into the NAA extension: stable, and different between
 * daemons that number their targets alike. */
static uint64_t spc_fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *s = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* NAA 6, IEEE Registered Extended (SPC-4): company id, 36-bit naa_id, and a
 * 64-bit extension hashed from the target name and LUN. */
static void spc_naa6_put(const struct core_lu *lu, uint8_t *p)
{
	uint64_t ext = 0xcbf29ce484222325ull;
	uint64_t lun = lu->lun;
	uint32_t cid = SCSI_NAA_COMPANY_ID;

	if (lu->tgt)
		ext = spc_fnv1a(ext, lu->tgt->name, strnlen(lu->tgt->name, sizeof(lu->tgt->name)));
	ext = spc_fnv1a(ext, &lun, sizeof(lun));
	p[0] = (uint8_t)(0x60 | ((cid >> 20) & 0x0f));
	p[1] = (uint8_t)(cid >> 12);
	p[2] = (uint8_t)(cid >> 4);
	p[3] = (uint8_t)(((cid & 0x0f) << 4) | ((lu->naa_id >> 32) & 0x0f));
	put_be32(&p[4], (uint32_t)lu->naa_id);
	put_be64(&p[8], ext);
}

/*
 * Device Identification (SPC-4): an NAA 6 designator and a T10 vendor ID designator
 * whose text is the LU's SCSI ID (tgt's default starts with the 8-byte vendor "IET     "),
 * then the relative target port and target port group of the port asked through (alua.c).
 */
uint32_t spc_vpd_devid(const struct scsi_cmd *cmd, const struct scsi_type *t, uint8_t *p,
		       uint32_t size)
{
	const struct core_lu *lu = cmd->lu;
	size_t id_len = strnlen(lu->scsi_id, sizeof(lu->scsi_id));
	uint32_t off = 4;

	if (size < 4 + 20 + 4 + 8 + sizeof(lu->scsi_sn) + sizeof(lu->scsi_id) + 16)
		return 0;
	p[0] = t->pdt;
	p[1] = 0x83;
	p[off] = 0x01;      /* code set: binary */
	p[off + 1] = 0x03;  /* association: LU; type: NAA */
	p[off + 3] = 16;
	spc_naa6_put(lu, &p[off + 4]);
	off += 20;
	p[off] = 0x02;      /* code set: ASCII */
	p[off + 1] = 0x01;  /* association: LU; type: T10 vendor ID */
	if (id_len) {
		scsi_put_ascii(&p[off + 4], lu->scsi_id, id_len);
	} else {
		scsi_put_ascii(&p[off + 4], lu->vendor_id, 8);
		id_len = strnlen(lu->scsi_sn, sizeof(lu->scsi_sn));
		scsi_put_ascii(&p[off + 12], lu->scsi_sn, id_len);
		id_len += 8;
	}
	p[off + 3] = (uint8_t)id_len;
	off += 4 + (uint32_t)id_len;
	off += scsi_alua_vpd_port(cmd, &p[off], size - off); /* the port the command came through */
	put_be16(&p[2], (uint16_t)(off - 4));
	return off;
}

/* ---- REPORT LUNS ---- */

/* SAM-5: peripheral device addressing below 256, flat space below 16384; larger LUNs
 * are already held in their 8-byte encoding. */
static void spc_lun_put(uint8_t *p, uint64_t lun)
{
	memset(p, 0, 8);
	if (lun < 256) {
		p[1] = (uint8_t)lun;
	} else if (lun < 0x4000) {
		p[0] = (uint8_t)(0x40 | (lun >> 8));
		p[1] = (uint8_t)lun;
	} else {
		put_be64(p, lun);
	}
}

/* REPORT LUNS (SPC-4). Select report 0 and 2 list every LU; 1 (well-known LUs only) lists none. */
enum scsi_exec spc_report_luns(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct bufpool *bp = reactor_bufpool(cmd->reactor);
	uint32_t alloc = get_be32(&cmd->cdb[6]);
	uint8_t select = cmd->cdb[2];
	unsigned int i, n = 0;
	uint64_t *luns;
	uint8_t *buf;
	size_t cap;

	(void)t;
	if (select > 2) {
		scsi_fail_cdb(cmd, 2, -1);
		return SCSI_EXEC_DONE;
	}
	if (alloc < 16) {
		scsi_fail_cdb(cmd, 6, -1);
		return SCSI_EXEC_DONE;
	}
	buf = bufpool_get(bp, 8 + (size_t)SPC_REPORT_LUNS_MAX * 8, &cap);
	if (!buf) {
		scsi_busy(cmd);
		return SCSI_EXEC_DONE;
	}
	luns = (uint64_t *)(void *)(buf + 8);
	if (select != 1)
		n = core_target_luns(cmd->nexus->tgt, luns, SPC_REPORT_LUNS_MAX);
	n = MIN(n, SPC_REPORT_LUNS_MAX);
	for (i = 0; i < n; i++)
		spc_lun_put(buf + 8 + 8 * i, luns[i]);
	put_be32(buf, n * 8);
	put_be32(buf + 4, 0);
	scsi_data_in(cmd, buf, 8 + n * 8, alloc);
	bufpool_put(bp, buf, cap);
	return SCSI_EXEC_DONE;
}

/* ---- REPORT SUPPORTED OPERATION CODES (SPC-4) ---- */

/* Command timeouts descriptor: no timeouts are specified (zero), as the table has none. */
static uint32_t spc_rsoc_timeouts(uint8_t *p)
{
	memset(p, 0, SPC_RSOC_TIMEOUTS);
	put_be16(p, SPC_RSOC_TIMEOUTS - 2);
	return SPC_RSOC_TIMEOUTS;
}

static uint32_t spc_rsoc_desc(uint8_t *p, const struct scsi_op *op, uint8_t opcode, bool sa,
			      bool rctd)
{
	memset(p, 0, 8);
	p[0] = opcode;
	put_be16(&p[2], sa ? op->sa : 0);
	p[5] = (uint8_t)((rctd ? 0x02 : 0) | (sa ? 0x01 : 0)); /* CTDP, SERVACTV */
	put_be16(&p[6], op->cdb_len);
	return rctd ? 8 + spc_rsoc_timeouts(p + 8) : 8;
}

static void spc_rsoc_all(struct scsi_cmd *cmd, const struct scsi_type *t, bool rctd,
			 uint32_t alloc)
{
	uint8_t buf[SPC_RSOC_BUF];
	uint32_t need = rctd ? 8 + SPC_RSOC_TIMEOUTS : 8;
	uint32_t off = 4;
	unsigned int i, j;

	for (i = 0; i < SCSI_NR_OPCODES; i++) {
		const struct scsi_op *op = &t->ops[i];

		if (op->sa_ops) {
			for (j = 0; j < op->nr_sa && off + need <= sizeof(buf); j++)
				if (scsi_op_usable(&op->sa_ops[j], cmd->lu))
					off += spc_rsoc_desc(&buf[off], &op->sa_ops[j], (uint8_t)i,
							     true, rctd);
		} else if (scsi_op_usable(op, cmd->lu) && off + need <= sizeof(buf)) {
			off += spc_rsoc_desc(&buf[off], op, (uint8_t)i, false, rctd);
		}
	}
	put_be32(buf, off - 4);
	scsi_data_in(cmd, buf, off, alloc);
}

static void spc_rsoc_one(struct scsi_cmd *cmd, const struct scsi_type *t, uint8_t options,
			 bool rctd, uint32_t alloc)
{
	uint16_t req_sa = get_be16(&cmd->cdb[4]);
	uint8_t buf[4 + 16 + SPC_RSOC_TIMEOUTS] = { 0 };
	const struct scsi_op *op;
	uint32_t off = 4;
	bool has_sa;

	op = scsi_op_find(t, cmd->lu, cmd->cdb[3], (uint8_t)(req_sa & 0x1f), &has_sa);
	if (has_sa && req_sa > 0x1f)
		op = NULL;
	if ((options == 1 && has_sa) || (options == 2 && op && !has_sa)) {
		scsi_fail_cdb(cmd, 2, 2);
		return;
	}
	if (!op) {
		buf[1] = 0x01; /* SUPPORT: not supported */
	} else {
		buf[1] = (uint8_t)((rctd ? 0x80 : 0) | 0x03); /* CTDP, SUPPORT: as the standard */
		put_be16(&buf[2], op->cdb_len);
		memcpy(&buf[4], op->usage, op->cdb_len);
		off += op->cdb_len;
		if (rctd)
			off += spc_rsoc_timeouts(&buf[off]);
	}
	scsi_data_in(cmd, buf, off, alloc);
}

enum scsi_exec spc_report_opcodes(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	uint8_t options = cmd->cdb[2] & 0x07;
	bool rctd = cmd->cdb[2] & 0x80;
	uint32_t alloc = get_be32(&cmd->cdb[6]);

	if (options == 0)
		spc_rsoc_all(cmd, t, rctd, alloc);
	else if (options <= 3)
		spc_rsoc_one(cmd, t, options, rctd, alloc);
	else
		scsi_fail_cdb(cmd, 2, 2);
	return SCSI_EXEC_DONE;
}

const struct scsi_op spc_maint_in_ops[2] = {
	{ .fn = spc_report_tpg, .sa = SCSI_SA_REPORT_TPG, .cdb_len = 12, .dir = SCSI_DIR_READ,
	  .flags = SCSI_OPF_NO_MEDIUM | SCSI_OPF_PR_OK, .name = "REPORT TARGET PORT GROUPS",
	  .usage = { 0xa3, 0xe0 | SCSI_SA_REPORT_TPG, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0,
		     0 } },
	{ .fn = spc_report_opcodes, .sa = SCSI_SA_REPORT_OPCODES, .cdb_len = 12,
	  .dir = SCSI_DIR_READ, .flags = SCSI_OPF_NO_MEDIUM | SCSI_OPF_PR_OK,
	  .name = "REPORT SUPPORTED OPERATION CODES",
	  .usage = { 0xa3, SCSI_SA_REPORT_OPCODES, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		     0, 0 } },
};
