/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sense data (SPC-4 §4.5): fixed format (0x70) or descriptor format (0x72, chosen by the
 * control mode page's D_SENSE), with the INFORMATION field and the sense-key-specific field
 * pointer where given. Every CHECK CONDITION in utgt is built here.
 */
#include "core/core_int.h"

#include <string.h>

struct sense_extra {
	bool has_info;
	uint64_t info;
	bool has_sks;
	uint8_t sks[3];
};

static uint8_t sense_fixed(uint8_t *out, uint8_t key, uint16_t asc_ascq,
			   const struct sense_extra *x)
{
	memset(out, 0, 18);
	out[0] = 0x70;
	out[2] = key & 0x0f;
	out[7] = 10;
	out[12] = (uint8_t)(asc_ascq >> 8);
	out[13] = (uint8_t)asc_ascq;
	if (x && x->has_info) {
		out[0] |= 0x80;
		put_be32(out + 3, (uint32_t)x->info);
	}
	if (x && x->has_sks)
		memcpy(out + 15, x->sks, 3);
	return 18;
}

static uint8_t sense_desc(uint8_t *out, uint8_t key, uint16_t asc_ascq,
			  const struct sense_extra *x)
{
	uint8_t len = 8;

	memset(out, 0, 8);
	out[0] = 0x72;
	out[1] = key & 0x0f;
	out[2] = (uint8_t)(asc_ascq >> 8);
	out[3] = (uint8_t)asc_ascq;
	if (x && x->has_info) {
		memset(out + len, 0, 12);
		out[len] = 0x00;        /* information descriptor */
		out[len + 1] = 0x0a;
		out[len + 2] = 0x80;    /* VALID */
		put_be64(out + len + 4, x->info);
		len += 12;
	}
	if (x && x->has_sks) {
		memset(out + len, 0, 8);
		out[len] = 0x02;        /* sense key specific descriptor */
		out[len + 1] = 0x06;
		memcpy(out + len + 4, x->sks, 3);
		len += 8;
	}
	out[7] = (uint8_t)(len - 8);
	return len;
}

static void cmd_sense_set(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq,
			  const struct sense_extra *x)
{
	bool desc = cmd->lu && cmd->lu->d_sense;

	cmd->status = SAM_STAT_CHECK_CONDITION;
	cmd->sense_len = desc ? sense_desc(cmd->sense, key, asc_ascq, x)
			      : sense_fixed(cmd->sense, key, asc_ascq, x);
}

uint8_t core_sense_build(uint8_t *out, bool descriptor, uint8_t key, uint16_t asc_ascq)
{
	return descriptor ? sense_desc(out, key, asc_ascq, NULL)
			  : sense_fixed(out, key, asc_ascq, NULL);
}

void core_cmd_good(struct scsi_cmd *cmd)
{
	cmd->status = SAM_STAT_GOOD;
	cmd->sense_len = 0;
}

void core_cmd_fail(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq)
{
	cmd_sense_set(cmd, key, asc_ascq, NULL);
}

void core_cmd_fail_field(struct scsi_cmd *cmd, uint16_t asc_ascq, bool in_cdb, uint16_t byte,
			 int bit)
{
	struct sense_extra x = { .has_sks = true };

	x.sks[0] = 0x80 | (in_cdb ? 0x40 : 0);
	if (bit >= 0 && bit < 8)
		x.sks[0] |= 0x08 | (uint8_t)bit;
	put_be16(x.sks + 1, byte);
	cmd_sense_set(cmd, SENSE_ILLEGAL_REQUEST, asc_ascq, &x);
}

void core_cmd_fail_info(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq, uint64_t info)
{
	struct sense_extra x = { .has_info = true, .info = info };

	cmd_sense_set(cmd, key, asc_ascq, &x);
}
