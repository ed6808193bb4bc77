/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CRC32C for iSCSI header and data digests (RFC 7143 §13.1), computed by ISA-L's
 * crc32_iscsi, which uses SSE4.2/PCLMUL where the CPU has them. ISA-L takes and returns the
 * raw register; the pre- and post-inversion live here so callers can chain pieces from 0.
 */
#include "util/util.h"

#include <isa-l/crc.h>
#include <limits.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t reg = ~crc;

	while (len > 0) {
		int chunk = len > (size_t)INT_MAX ? INT_MAX : (int)len;

		reg = crc32_iscsi((unsigned char *)p, chunk, reg);
		p += chunk;
		len -= (size_t)chunk;
	}
	return ~reg;
}
