/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer target: login/text key parsing and negotiation (param.c) and CHAP value decoding
 * (chap.c). The first byte picks the phase and session type; the rest is a text data segment
 * (key=value\0...) walked in place, each pair negotiated into a bounded answer buffer, then
 * the negotiation is finished and its results taken, as login.c does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lld/iscsi/iscsi_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_kv(struct iscsi_negot *ng, enum iscsi_neg_phase phase, const struct iscsi_kv *kv,
		    struct iscsi_text *out, struct iscsi_params *tp)
{
	uint8_t bin[ISCSI_CHAP_CHALLENGE_MAX];
	uint64_t num;

	if (iscsi_negot_key(ng, phase, kv->key, kv->val, out) == ISCSI_KEY_SPECIAL) {
		(void)iscsi_negot_seen(ng, kv->key);
		(void)iscsi_list_contains(kv->val, "CHAP");
		(void)iscsi_chap_alg_select(kv->val);
		(void)iscsi_chap_decode(kv->val, bin, sizeof(bin));
		(void)iscsi_name_is_valid(kv->val);
	}
	(void)iscsi_parse_number(kv->val, UINT32_MAX, &num);
	(void)iscsi_params_set(tp, kv->key, kv->val);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iscsi_params p, res, tp;
	struct iscsi_negot ng;
	struct iscsi_text out;
	struct iscsi_kv kv;
	enum iscsi_neg_phase phase;
	char answer[ISCSI_LOGIN_DSL_MAX];
	size_t off = 0, len;
	char *buf;

	if (size < 1 || size > ISCSI_TEXT_MAX + 1)
		return 0;
	phase = (enum iscsi_neg_phase)(data[0] % 3);
	len = size - 1;
	buf = malloc(len ? len : 1); /* exactly the segment: ASan sees any overread */
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	iscsi_params_default(&p);
	tp = p;
	iscsi_negot_init(&ng, &p, data[0] & 0x80);
	ng.leading = !(data[0] & 0x40);
	iscsi_text_init(&out, answer, (data[0] & 0x20) ? 64 : sizeof(answer));
	while (iscsi_text_next(buf, len, &off, &kv) == 1)
		fuzz_kv(&ng, phase, &kv, &out, &tp);
	iscsi_negot_finish(&ng, &out);
	iscsi_negot_result(&ng, &res);
	(void)iscsi_negot_xmit_dsl(&ng);
	free(buf);
	return 0;
}
