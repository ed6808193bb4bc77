/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer target: the iSNS client's view of bytes from a server (isns.c): a stream of PDUs
 * split by isns_hdr_parse, each payload walked with isns_tlv_next (from offset 4 for
 * responses, past the status word) and its attributes re-encoded as an ESI answer would be.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lld/iscsi/isns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[ISNS_HDR_LEN + ISNS_PAYLOAD_MAX];

static void fuzz_payload(const struct isns_hdr *h, const uint8_t *p)
{
	struct isns_msg m;
	struct isns_tlv t;
	size_t off = (h->func & ISNS_FUNC_RSP) && h->len >= 4 ? 4 : 0;

	isns_msg_init(&m, out, sizeof(out), h->func | ISNS_FUNC_RSP, 0, h->xid);
	while (isns_tlv_next(p, h->len, &off, &t) == 1)
		isns_msg_put(&m, t.tag, t.val, t.len);
	(void)isns_msg_finish(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isns_hdr h;
	uint8_t *buf;
	size_t off = 0;

	if (size > 4 * (ISNS_HDR_LEN + ISNS_PAYLOAD_MAX))
		return 0;
	buf = malloc(size ? size : 1); /* exactly the input: ASan sees any overread */
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	while (isns_hdr_parse(buf + off, size - off, &h) == 0) {
		if (size - off - ISNS_HDR_LEN < h.len)
			break;
		fuzz_payload(&h, buf + off + ISNS_HDR_LEN);
		off += ISNS_HDR_LEN + h.len;
	}
	free(buf);
	return 0;
}
