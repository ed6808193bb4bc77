/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer target: the iSCSI PDU header codec (pdu.c). The input is a BHS followed by AHS
 * bytes: BHS checks for both login and full-feature limits, the AHS walk of a SCSI Command,
 * LUN decoding and the header digest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lld/iscsi/iscsi_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iscsi_bhs_info info;
	struct iscsi_cmd_ahs ahs;
	uint8_t bhs[ISCSI_BHS_LEN] = { 0 };
	uint8_t lun[8];

	memcpy(bhs, data, MIN(size, sizeof(bhs)));
	(void)iscsi_bhs_check(bhs, ISCSI_LOGIN_DSL_MAX, &info);
	if (iscsi_bhs_check(bhs, ISCSI_DSL_MAX, &info) == 0 && size > ISCSI_BHS_LEN) {
		uint32_t len = (uint32_t)MIN(size - ISCSI_BHS_LEN, (size_t)info.ahs_len);

		/* the AHS as received: exactly TotalAHSLength bytes, on the heap for ASan */
		uint8_t *p = malloc(len ? len : 1);

		if (!p)
			return 0;
		memcpy(p, data + ISCSI_BHS_LEN, len);
		if (iscsi_ahs_parse(p, len, &ahs) == 0 && ahs.ext_cdb) {
			volatile uint8_t sink = 0;

			for (uint16_t i = 0; i < ahs.ext_cdb_len; i++)
				sink ^= ahs.ext_cdb[i];
			(void)sink;
		}
		free(p);
	}
	memcpy(lun, bhs + 8, 8);
	iscsi_lun_encode(lun, iscsi_lun_decode(lun));
	(void)iscsi_digest(data, size);
	return 0;
}
