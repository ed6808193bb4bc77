/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The PDU codec: BHS layouts checked at compile time, the first checks on a received BHS
 * (opcode, DataSegmentLength bound), bounded AHS parsing, CRC32C digests (§13.1) and LUN
 * encoding. Pure functions: no connection state.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <string.h>

#define BHS_ASSERT(type)                                                                          \
	_Static_assert(sizeof(struct type) == ISCSI_BHS_LEN, #type " is 48 bytes")

BHS_ASSERT(iscsi_bhs);
BHS_ASSERT(iscsi_scsi_cmd_hdr);
BHS_ASSERT(iscsi_scsi_rsp_hdr);
BHS_ASSERT(iscsi_data_hdr);
BHS_ASSERT(iscsi_r2t_hdr);
BHS_ASSERT(iscsi_nop_hdr);
BHS_ASSERT(iscsi_tmf_hdr);
BHS_ASSERT(iscsi_login_hdr);
BHS_ASSERT(iscsi_text_hdr);
BHS_ASSERT(iscsi_logout_hdr);
BHS_ASSERT(iscsi_async_hdr);
BHS_ASSERT(iscsi_reject_hdr);

/* Offsets RFC 7143 §11 gives for the fields every layout shares or reinterprets. */
_Static_assert(offsetof(struct iscsi_bhs, ahs_len) == 4, "TotalAHSLength at 4");
_Static_assert(offsetof(struct iscsi_bhs, dsl) == 5, "DataSegmentLength at 5");
_Static_assert(offsetof(struct iscsi_bhs, itt) == 16, "ITT at 16");
_Static_assert(offsetof(struct iscsi_bhs, sn24) == 24, "CmdSN/StatSN at 24");
_Static_assert(offsetof(struct iscsi_scsi_cmd_hdr, edtl) == 20, "EDTL at 20");
_Static_assert(offsetof(struct iscsi_scsi_cmd_hdr, cdb) == 32, "CDB at 32");
_Static_assert(offsetof(struct iscsi_scsi_rsp_hdr, exp_data_sn) == 36, "ExpDataSN at 36");
_Static_assert(offsetof(struct iscsi_scsi_rsp_hdr, residual) == 44, "Residual at 44");
_Static_assert(offsetof(struct iscsi_data_hdr, data_sn) == 36, "DataSN at 36");
_Static_assert(offsetof(struct iscsi_data_hdr, offset) == 40, "BufferOffset at 40");
_Static_assert(offsetof(struct iscsi_data_hdr, residual) == 44, "Residual at 44");
_Static_assert(offsetof(struct iscsi_r2t_hdr, r2t_sn) == 36, "R2TSN at 36");
_Static_assert(offsetof(struct iscsi_r2t_hdr, desired_len) == 44, "DDTL at 44");
_Static_assert(offsetof(struct iscsi_tmf_hdr, rtt) == 20, "RTT at 20");
_Static_assert(offsetof(struct iscsi_tmf_hdr, sn32) == 32, "RefCmdSN at 32");
_Static_assert(offsetof(struct iscsi_login_hdr, isid) == 8, "ISID at 8");
_Static_assert(offsetof(struct iscsi_login_hdr, tsih) == 14, "TSIH at 14");
_Static_assert(offsetof(struct iscsi_login_hdr, cid) == 20, "CID at 20");
_Static_assert(offsetof(struct iscsi_login_hdr, status_class) == 36, "Status-Class at 36");
_Static_assert(offsetof(struct iscsi_logout_hdr, time2wait) == 40, "Time2Wait at 40");
_Static_assert(offsetof(struct iscsi_async_hdr, event) == 36, "AsyncEvent at 36");
_Static_assert(offsetof(struct iscsi_async_hdr, param3) == 42, "Parameter3 at 42");

void iscsi_bhs_init(struct iscsi_bhs *h, uint8_t opcode, uint8_t flags, uint32_t dsl,
		    uint32_t itt)
{
	memset(h, 0, sizeof(*h));
	h->opcode = opcode;
	h->flags = flags;
	put_be24(h->dsl, dsl);
	put_be32(h->itt, itt);
}

uint32_t iscsi_digest(const void *buf, size_t len)
{
	return crc32c(0, buf, len);
}

/* The digest travels least significant byte first (RFC 7143 §13.1, appendix B.4). */
void iscsi_digest_put(uint8_t *p, uint32_t crc)
{
	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
	p[2] = (uint8_t)(crc >> 16);
	p[3] = (uint8_t)(crc >> 24);
}

uint32_t iscsi_digest_get(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/*
 * Single-level LUNs (SAM-5 §4.7.3): peripheral device addressing (method 00b, bus 0) for
 * 0-255, flat space (01b) for 256-16383. Anything else maps to UINT64_MAX, which no LU has,
 * so the core answers LOGICAL UNIT NOT SUPPORTED.
 */
uint64_t iscsi_lun_decode(const uint8_t *p)
{
	uint8_t method = p[0] >> 6;

	for (int i = 2; i < 8; i++) {
		if (p[i])
			return UINT64_MAX;
	}
	if (method == 0 && (p[0] & 0x3f) == 0)
		return p[1];
	if (method == 1)
		return ((uint64_t)(p[0] & 0x3f) << 8) | p[1];
	return UINT64_MAX;
}

void iscsi_lun_encode(uint8_t *p, uint64_t lun)
{
	memset(p, 0, 8);
	if (lun < 256) {
		p[1] = (uint8_t)lun;
	} else if (lun < 16384) {
		p[0] = (uint8_t)(0x40 | (lun >> 8));
		p[1] = (uint8_t)lun;
	}
}

static bool bhs_opcode_is_initiator(uint8_t op)
{
	switch (op) {
	case ISCSI_OP_NOP_OUT:
	case ISCSI_OP_SCSI_CMD:
	case ISCSI_OP_TMF_REQ:
	case ISCSI_OP_LOGIN_REQ:
	case ISCSI_OP_TEXT_REQ:
	case ISCSI_OP_DATA_OUT:
	case ISCSI_OP_LOGOUT_REQ:
	case ISCSI_OP_SNACK:
		return true;
	default:
		return false;
	}
}

int iscsi_bhs_check(const uint8_t *bhs, uint32_t max_dsl, struct iscsi_bhs_info *info)
{
	const struct iscsi_bhs *h = (const struct iscsi_bhs *)bhs;

	info->opcode = iscsi_bhs_opcode(h);
	info->immediate = iscsi_bhs_is_immediate(h);
	info->ahs_len = iscsi_bhs_ahs_bytes(h);
	info->dsl = iscsi_bhs_dsl(h);
	if (!bhs_opcode_is_initiator(info->opcode))
		return -EBADMSG;
	if (info->dsl > max_dsl)
		return -EMSGSIZE;
	return 0;
}

/*
 * AHS segments (§11.2.2): 2-byte AHSLength (bytes of specific data, excluding the type
 * byte and the reserved byte), 1-byte type, then data padded to 4 bytes.
 */
int iscsi_ahs_parse(const uint8_t *p, uint32_t len, struct iscsi_cmd_ahs *out)
{
	uint32_t off = 0;

	memset(out, 0, sizeof(*out));
	while (off < len) {
		uint32_t ahs_len, seg;
		uint8_t type;

		if (len - off < 4)
			return -EINVAL;
		ahs_len = get_be16(p + off);
		type = p[off + 2];
		seg = 3 + ahs_len;
		seg += iscsi_pad_len(seg);
		if (ahs_len == 0 || seg > len - off)
			return -EINVAL;
		if (type == ISCSI_AHS_EXT_CDB && !out->ext_cdb) {
			/* first specific byte is reserved; the CDB continues after it */
			out->ext_cdb = p + off + 4;
			out->ext_cdb_len = (uint16_t)(ahs_len - 1);
		} else if (type == ISCSI_AHS_BIDI_RLEN && ahs_len == 5 && !out->has_bidi_rlen) {
			out->has_bidi_rlen = true;
			out->bidi_rlen = get_be32(p + off + 4);
		} else {
			return -EINVAL;
		}
		off += seg;
	}
	return 0;
}
