/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Text keys and their negotiation (RFC 7143 §6, §13): one table gives each key's type,
 * range, result function, scope and phase; pure functions parse a text segment in place
 * (bounded), answer offered keys, and set or show the per-target values tgtadm manages.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum key_type {
	KEY_NUM_MIN,        /* numeric, result = minimum */
	KEY_NUM_MAX,        /* numeric, result = maximum */
	KEY_NUM_DECL,       /* numeric, declarative (MaxRecvDataSegmentLength) */
	KEY_BOOL_AND,
	KEY_BOOL_OR,
	KEY_DIGEST,         /* list: None, CRC32C */
	KEY_LIST_FIXED,     /* list with a single supported value (TaskReporting) */
	KEY_MARKER,         /* obsolete IFMarker/OFMarker: answered No (§13.25) */
	KEY_MARKINT,        /* obsolete IFMarkInt/OFMarkInt: answered Reject (§13.25) */
	KEY_ISER,           /* iSER-only keys: Irrelevant on TCP (RFC 7145) */
	KEY_SPECIAL,        /* handled by login.c / text.c */
	KEY_IRRELEVANT,     /* target-only declaratives an initiator must not send */
};

#define KF_LO        (1u << 0) /* leading connection only */
#define KF_LOGIN     (1u << 1) /* login only: Reject in full feature phase */
#define KF_DISC_IRR  (1u << 2) /* Irrelevant in discovery sessions */
#define KF_SECURITY  (1u << 3) /* security stage only */
#define KF_BIGVAL    (1u << 4) /* value may be up to 8192 bytes */
#define KF_SETTABLE  (1u << 5) /* tgtadm may change it */

struct iscsi_key {
	const char *name;
	uint8_t type;
	int8_t param;              /* enum iscsi_param, -1 for none */
	uint16_t flags;
	uint32_t min;
	uint32_t max;
	const char *fixed;         /* KEY_LIST_FIXED: the value we support */
};

#define NOPARAM (-1)

/* clang-format off */
static const struct iscsi_key iscsi_keys[] = {
	{ "HeaderDigest", KEY_DIGEST, ISCSI_PARAM_HEADER_DIGEST, KF_LOGIN, 0, 0, NULL },
	{ "DataDigest", KEY_DIGEST, ISCSI_PARAM_DATA_DIGEST, KF_LOGIN, 0, 0, NULL },
	{ "MaxConnections", KEY_NUM_MIN, ISCSI_PARAM_MAX_CONNECTIONS,
	  KF_LO | KF_LOGIN | KF_DISC_IRR, 1, 65535, NULL },
	{ "InitialR2T", KEY_BOOL_OR, ISCSI_PARAM_INITIAL_R2T, KF_LO | KF_LOGIN | KF_DISC_IRR,
	  0, 1, NULL },
	{ "ImmediateData", KEY_BOOL_AND, ISCSI_PARAM_IMMEDIATE_DATA,
	  KF_LO | KF_LOGIN | KF_DISC_IRR, 0, 1, NULL },
	{ "MaxRecvDataSegmentLength", KEY_NUM_DECL, ISCSI_PARAM_MAX_XMIT_DSL, 0,
	  512, 16777215, NULL },
	{ "MaxBurstLength", KEY_NUM_MIN, ISCSI_PARAM_MAX_BURST, KF_LO | KF_LOGIN | KF_DISC_IRR,
	  512, 16777215, NULL },
	{ "FirstBurstLength", KEY_NUM_MIN, ISCSI_PARAM_FIRST_BURST,
	  KF_LO | KF_LOGIN | KF_DISC_IRR, 512, 16777215, NULL },
	{ "DefaultTime2Wait", KEY_NUM_MAX, ISCSI_PARAM_TIME2WAIT, KF_LO | KF_LOGIN, 0, 3600, NULL },
	{ "DefaultTime2Retain", KEY_NUM_MIN, ISCSI_PARAM_TIME2RETAIN, KF_LO | KF_LOGIN,
	  0, 3600, NULL },
	{ "MaxOutstandingR2T", KEY_NUM_MIN, ISCSI_PARAM_MAX_OUTSTANDING_R2T,
	  KF_LO | KF_LOGIN | KF_DISC_IRR, 1, 65535, NULL },
	{ "DataPDUInOrder", KEY_BOOL_OR, ISCSI_PARAM_DATA_PDU_IN_ORDER,
	  KF_LO | KF_LOGIN | KF_DISC_IRR, 0, 1, NULL },
	{ "DataSequenceInOrder", KEY_BOOL_OR, ISCSI_PARAM_DATA_SEQ_IN_ORDER,
	  KF_LO | KF_LOGIN | KF_DISC_IRR, 0, 1, NULL },
	{ "ErrorRecoveryLevel", KEY_NUM_MIN, ISCSI_PARAM_ERL, KF_LO | KF_LOGIN, 0, 2, NULL },
	{ "TaskReporting", KEY_LIST_FIXED, NOPARAM, KF_LO | KF_LOGIN | KF_DISC_IRR, 0, 0,
	  "RFC3720" },
	{ "iSCSIProtocolLevel", KEY_NUM_MIN, ISCSI_PARAM_PROTOCOL_LEVEL, KF_LO | KF_LOGIN,
	  0, 31, NULL },
	{ "IFMarker", KEY_MARKER, NOPARAM, KF_LOGIN, 0, 0, NULL },
	{ "OFMarker", KEY_MARKER, NOPARAM, KF_LOGIN, 0, 0, NULL },
	{ "IFMarkInt", KEY_MARKINT, NOPARAM, KF_LOGIN, 0, 0, NULL },
	{ "OFMarkInt", KEY_MARKINT, NOPARAM, KF_LOGIN, 0, 0, NULL },
	{ "RDMAExtensions", KEY_BOOL_AND, ISCSI_PARAM_RDMA_EXTENSIONS, KF_LO | KF_LOGIN, 0, 1,
	  NULL },
	{ "TargetRecvDataSegmentLength", KEY_ISER, NOPARAM, 0, 0, 0, NULL },
	{ "InitiatorRecvDataSegmentLength", KEY_ISER, NOPARAM, 0, 0, 0, NULL },
	{ "MaxOutstandingUnexpectedPDUs", KEY_ISER, NOPARAM, KF_LO | KF_LOGIN, 0, 0, NULL },
	{ "InitiatorName", KEY_SPECIAL, NOPARAM, KF_LOGIN, 0, 0, NULL },
	{ "InitiatorAlias", KEY_SPECIAL, NOPARAM, 0, 0, 0, NULL },
	{ "TargetName", KEY_SPECIAL, NOPARAM, KF_LOGIN, 0, 0, NULL },
	{ "SessionType", KEY_SPECIAL, NOPARAM, KF_LO | KF_LOGIN, 0, 0, NULL },
	{ "AuthMethod", KEY_SPECIAL, NOPARAM, KF_LOGIN | KF_SECURITY, 0, 0, NULL },
	{ "CHAP_A", KEY_SPECIAL, NOPARAM, KF_LOGIN | KF_SECURITY, 0, 0, NULL },
	{ "CHAP_I", KEY_SPECIAL, NOPARAM, KF_LOGIN | KF_SECURITY, 0, 0, NULL },
	{ "CHAP_C", KEY_SPECIAL, NOPARAM, KF_LOGIN | KF_SECURITY | KF_BIGVAL, 0, 0, NULL },
	{ "CHAP_N", KEY_SPECIAL, NOPARAM, KF_LOGIN | KF_SECURITY, 0, 0, NULL },
	{ "CHAP_R", KEY_SPECIAL, NOPARAM, KF_LOGIN | KF_SECURITY | KF_BIGVAL, 0, 0, NULL },
	{ "SendTargets", KEY_SPECIAL, NOPARAM, 0, 0, 0, NULL },
	{ "TargetAlias", KEY_IRRELEVANT, NOPARAM, 0, 0, 0, NULL },
	{ "TargetAddress", KEY_IRRELEVANT, NOPARAM, KF_BIGVAL, 0, 0, NULL },
	{ "TargetPortalGroupTag", KEY_IRRELEVANT, NOPARAM, KF_LOGIN, 0, 0, NULL },
};
/* clang-format on */

_Static_assert(ARRAY_SIZE(iscsi_keys) <= 64, "seen bits fit in uint64_t");

/* RFC 7143 §13 defaults that apply when a key is not negotiated. */
static const struct {
	uint8_t param;
	uint32_t value;
} rfc_defaults[] = {
	{ ISCSI_PARAM_HEADER_DIGEST, ISCSI_DIGEST_NONE },
	{ ISCSI_PARAM_DATA_DIGEST, ISCSI_DIGEST_NONE },
	{ ISCSI_PARAM_MAX_CONNECTIONS, 1 },
	{ ISCSI_PARAM_INITIAL_R2T, 1 },
	{ ISCSI_PARAM_IMMEDIATE_DATA, 1 },
	{ ISCSI_PARAM_MAX_BURST, 262144 },
	{ ISCSI_PARAM_FIRST_BURST, 65536 },
	{ ISCSI_PARAM_TIME2WAIT, 2 },
	{ ISCSI_PARAM_TIME2RETAIN, 20 },
	{ ISCSI_PARAM_MAX_OUTSTANDING_R2T, 1 },
	{ ISCSI_PARAM_DATA_PDU_IN_ORDER, 1 },
	{ ISCSI_PARAM_DATA_SEQ_IN_ORDER, 1 },
	{ ISCSI_PARAM_ERL, 0 },
	{ ISCSI_PARAM_PROTOCOL_LEVEL, 1 },
	{ ISCSI_PARAM_RDMA_EXTENSIONS, 0 },
};

static const struct iscsi_key *key_find(const char *name, unsigned int *idx)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(iscsi_keys); i++) {
		if (!strcmp(iscsi_keys[i].name, name)) {
			*idx = i;
			return &iscsi_keys[i];
		}
	}
	return NULL;
}

/* ---- value syntax (§5.1) ---- */

/* decimal-constant or hex-constant (0x...), no sign, no octal. */
int iscsi_parse_number(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int base = 10;
	size_t n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++, n++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned int)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (v > (max - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	if (n == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int iscsi_parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "Yes"))
		*out = true;
	else if (!strcmp(s, "No"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static bool key_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '+' || c == '@' || c == '_';
}

int iscsi_text_next(char *buf, size_t len, size_t *off, struct iscsi_kv *kv)
{
	while (*off < len && buf[*off] == '\0')
		(*off)++;
	if (*off >= len)
		return 0;

	char *p = buf + *off;
	size_t rest = len - *off;
	char *end = memchr(p, '\0', rest);
	char *eq;

	if (!end)
		return -EINVAL;
	eq = memchr(p, '=', (size_t)(end - p));
	if (!eq || eq == p || (size_t)(eq - p) > ISCSI_KEY_MAX)
		return -EINVAL;
	for (char *k = p; k < eq; k++) {
		if (!key_char_ok(*k))
			return -EINVAL;
	}
	if ((size_t)(end - eq - 1) > ISCSI_VALUE_BIG_MAX)
		return -EINVAL;
	*eq = '\0';
	kv->key = p;
	kv->val = eq + 1;
	*off += (size_t)(end - p) + 1;
	return 1;
}

/* ---- output text ---- */

void iscsi_text_init(struct iscsi_text *t, char *buf, size_t cap)
{
	t->buf = buf;
	t->cap = cap;
	t->len = 0;
	t->overflow = false;
}

int iscsi_text_add(struct iscsi_text *t, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val);

	if (t->overflow || kl + vl + 2 > t->cap - t->len) {
		t->overflow = true;
		return -ENOSPC;
	}
	memcpy(t->buf + t->len, key, kl);
	t->buf[t->len + kl] = '=';
	memcpy(t->buf + t->len + kl + 1, val, vl);
	t->buf[t->len + kl + 1 + vl] = '\0';
	t->len += kl + vl + 2;
	return 0;
}

int iscsi_text_add_u32(struct iscsi_text *t, const char *key, uint32_t val)
{
	char num[16];

	snprintf(num, sizeof(num), "%u", val);
	return iscsi_text_add(t, key, num);
}

/* ---- defaults ---- */

void iscsi_params_default(struct iscsi_params *p)
{
	memset(p, 0, sizeof(*p));
	p->v[ISCSI_PARAM_MAX_RECV_DSL] = ISCSI_DEF_MAX_RECV_DSL;
	p->v[ISCSI_PARAM_HEADER_DIGEST] = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	p->v[ISCSI_PARAM_DATA_DIGEST] = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	p->v[ISCSI_PARAM_INITIAL_R2T] = 0;
	p->v[ISCSI_PARAM_MAX_OUTSTANDING_R2T] = 1;
	p->v[ISCSI_PARAM_IMMEDIATE_DATA] = 1;
	p->v[ISCSI_PARAM_FIRST_BURST] = ISCSI_DEF_FIRST_BURST;
	p->v[ISCSI_PARAM_MAX_BURST] = ISCSI_DEF_MAX_BURST;
	p->v[ISCSI_PARAM_DATA_PDU_IN_ORDER] = 1;
	p->v[ISCSI_PARAM_DATA_SEQ_IN_ORDER] = 1;
	p->v[ISCSI_PARAM_ERL] = 0;
	p->v[ISCSI_PARAM_TIME2WAIT] = 2;
	p->v[ISCSI_PARAM_TIME2RETAIN] = 20;
	p->v[ISCSI_PARAM_MAX_CONNECTIONS] = CORE_NEXUS_MAX_CONN; /* MC/S: session.c */
	p->v[ISCSI_PARAM_RDMA_EXTENSIONS] = 0;
	p->v[ISCSI_PARAM_TARGET_RDSL] = ISCSI_DEF_MAX_RECV_DSL;
	p->v[ISCSI_PARAM_INITIATOR_RDSL] = ISCSI_DEF_MAX_RECV_DSL;
	p->v[ISCSI_PARAM_MAX_OUTST_PDU] = 0;
	p->v[ISCSI_PARAM_MAX_XMIT_DSL] = ISCSI_DEF_MAX_RECV_DSL; /* cap on what we send */
	p->v[ISCSI_PARAM_MAX_QUEUE_CMD] = ISCSI_DEF_MAX_QUEUE_CMD;
	p->v[ISCSI_PARAM_PROTOCOL_LEVEL] = 1;
	p->v[ISCSI_PARAM_NOP_INTERVAL] = 0;
	p->v[ISCSI_PARAM_NOP_COUNT] = 0;
	p->v[ISCSI_PARAM_MAX_SESSIONS] = ISCSI_DEF_MAX_SESSIONS;
}

/* ---- negotiation ---- */

void iscsi_negot_init(struct iscsi_negot *ng, const struct iscsi_params *target, bool discovery)
{
	memset(ng, 0, sizeof(*ng));
	ng->p = *target;
	ng->discovery = discovery;
	ng->leading = true;
	/* the target's MaxXmitDataSegmentLength caps the initiator's declaration, which
	 * defaults to 8192 until declared (§13.12) */
	ng->xmit_cap = target->v[ISCSI_PARAM_MAX_XMIT_DSL];
	ng->p.v[ISCSI_PARAM_MAX_XMIT_DSL] = ISCSI_LOGIN_DSL_MAX;
}

static const char *digest_name(uint32_t bit)
{
	return bit == ISCSI_DIGEST_CRC32C ? "CRC32C" : "None";
}

/* First value of the initiator's list (comma separated) that allowed contains, or 0. */
static uint32_t digest_select(const char *val, uint32_t allowed)
{
	const char *p = val;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		uint32_t bit = 0;

		if (n == 4 && !strncmp(p, "None", 4))
			bit = ISCSI_DIGEST_NONE;
		else if (n == 6 && !strncmp(p, "CRC32C", 6))
			bit = ISCSI_DIGEST_CRC32C;
		if (bit & allowed)
			return bit;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

bool iscsi_list_contains(const char *val, const char *want)
{
	size_t wl = strlen(want);
	const char *p = val;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n == wl && !strncmp(p, want, n))
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

static int negot_numeric(struct iscsi_negot *ng, const struct iscsi_key *k, const char *val,
			 struct iscsi_text *out)
{
	uint32_t *cur = &ng->p.v[k->param];
	uint64_t v;

	if (iscsi_parse_number(val, UINT32_MAX, &v) || v < k->min || v > k->max)
		return iscsi_text_add(out, k->name, "Reject");
	if (k->type == KEY_NUM_DECL) {
		*cur = (uint32_t)v;
		return 0;
	}
	if (k->param == ISCSI_PARAM_FIRST_BURST) {
		/* may become Irrelevant once InitialR2T/ImmediateData are known (§13.14) */
		ng->fbl_pending = true;
		ng->fbl_offer = (uint32_t)v;
		return 0;
	}
	if (k->type == KEY_NUM_MIN)
		*cur = MIN(*cur, (uint32_t)v);
	else
		*cur = MAX(*cur, (uint32_t)v);
	return iscsi_text_add_u32(out, k->name, *cur);
}

static int negot_bool(struct iscsi_negot *ng, const struct iscsi_key *k, const char *val,
		      struct iscsi_text *out)
{
	uint32_t *cur = &ng->p.v[k->param];
	bool v;

	if (iscsi_parse_bool(val, &v))
		return iscsi_text_add(out, k->name, "Reject");
	if (k->type == KEY_BOOL_AND)
		*cur = *cur && v;
	else
		*cur = *cur || v;
	return iscsi_text_add(out, k->name, *cur ? "Yes" : "No");
}

static int negot_digest(struct iscsi_negot *ng, const struct iscsi_key *k, const char *val,
			struct iscsi_text *out)
{
	uint32_t bit = digest_select(val, ng->p.v[k->param]);

	if (!bit)
		return iscsi_text_add(out, k->name, "Reject");
	ng->p.v[k->param] = bit;
	return iscsi_text_add(out, k->name, digest_name(bit));
}

static int negot_marker(const struct iscsi_key *k, const char *val, struct iscsi_text *out)
{
	bool v;

	if (iscsi_parse_bool(val, &v))
		return iscsi_text_add(out, k->name, "Reject");
	return iscsi_text_add(out, k->name, "No");
}

/* The answer to one key of a known type, once phase and scope allow it. */
static int negot_answer(struct iscsi_negot *ng, const struct iscsi_key *k, const char *val,
			struct iscsi_text *out)
{
	switch (k->type) {
	case KEY_NUM_MIN:
	case KEY_NUM_MAX:
	case KEY_NUM_DECL:
		return negot_numeric(ng, k, val, out);
	case KEY_BOOL_AND:
	case KEY_BOOL_OR:
		return negot_bool(ng, k, val, out);
	case KEY_DIGEST:
		return negot_digest(ng, k, val, out);
	case KEY_LIST_FIXED:
		return iscsi_text_add(out, k->name, iscsi_list_contains(val, k->fixed) ? k->fixed : "Reject");
	case KEY_MARKER:
		return negot_marker(k, val, out);
	case KEY_MARKINT:
		return iscsi_text_add(out, k->name, "Reject");
	case KEY_ISER:
	case KEY_IRRELEVANT:
	default:
		return iscsi_text_add(out, k->name, "Irrelevant");
	}
}

static bool value_is_answer(const char *val)
{
	return !strcmp(val, "NotUnderstood") || !strcmp(val, "Irrelevant") ||
	       !strcmp(val, "Reject");
}

int iscsi_negot_seen(struct iscsi_negot *ng, const char *key)
{
	unsigned int idx;

	if (!key_find(key, &idx))
		return 0;
	if (ng->seen & (1ull << idx))
		return -EEXIST;
	ng->seen |= 1ull << idx;
	return 0;
}

int iscsi_negot_key(struct iscsi_negot *ng, enum iscsi_neg_phase phase, const char *key,
		    const char *val, struct iscsi_text *out)
{
	const struct iscsi_key *k;
	unsigned int idx;
	size_t start;
	int ret;

	k = key_find(key, &idx);
	if (!k)
		return iscsi_text_add(out, key, "NotUnderstood"); /* includes X- and X# keys */
	if (k->type == KEY_SPECIAL)
		return ISCSI_KEY_SPECIAL;
	if (phase != ISCSI_NEG_FFP) {
		if (ng->seen & (1ull << idx))
			return -EEXIST;
		ng->seen |= 1ull << idx;
	}
	/* an initiator echoing a negotiation answer to a key we never offered: nothing to say */
	if (value_is_answer(val))
		return ISCSI_KEY_ANSWERED;
	if (strlen(val) > ISCSI_VALUE_MAX && !(k->flags & KF_BIGVAL))
		return iscsi_text_add(out, key, "Reject");
	if (phase == ISCSI_NEG_FFP && (k->flags & KF_LOGIN))
		return iscsi_text_add(out, key, "Reject");
	if (((k->flags & KF_LO) && !ng->leading) || (ng->discovery && (k->flags & KF_DISC_IRR)))
		return iscsi_text_add(out, key, "Irrelevant");
	start = out->len;
	ret = negot_answer(ng, k, val, out);
	/* a rejected key keeps its RFC default (iscsi_negot_result) */
	if (!ret && out->len > start && !strcmp(out->buf + out->len - sizeof("Reject"), "Reject"))
		ng->seen &= ~(1ull << idx);
	return ret;
}

int iscsi_negot_finish(struct iscsi_negot *ng, struct iscsi_text *out)
{
	uint32_t *fbl = &ng->p.v[ISCSI_PARAM_FIRST_BURST];

	if (!ng->fbl_pending)
		return 0;
	ng->fbl_pending = false;
	if (ng->p.v[ISCSI_PARAM_INITIAL_R2T] && !ng->p.v[ISCSI_PARAM_IMMEDIATE_DATA])
		return iscsi_text_add(out, "FirstBurstLength", "Irrelevant");
	*fbl = MIN(*fbl, ng->fbl_offer);
	/* FirstBurstLength never exceeds MaxBurstLength (§13.14) */
	*fbl = MIN(*fbl, ng->p.v[ISCSI_PARAM_MAX_BURST]);
	return iscsi_text_add_u32(out, "FirstBurstLength", *fbl);
}

static bool negot_was_seen(const struct iscsi_negot *ng, uint8_t param)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(iscsi_keys); i++) {
		if (iscsi_keys[i].param == param && (ng->seen & (1ull << i)))
			return true;
	}
	return false;
}

void iscsi_negot_result(const struct iscsi_negot *ng, struct iscsi_params *out)
{
	*out = ng->p;
	for (unsigned int i = 0; i < ARRAY_SIZE(rfc_defaults); i++) {
		if (!negot_was_seen(ng, rfc_defaults[i].param))
			out->v[rfc_defaults[i].param] = rfc_defaults[i].value;
	}
	/* FirstBurstLength never exceeds MaxBurstLength, whatever was (not) negotiated */
	out->v[ISCSI_PARAM_FIRST_BURST] =
		MIN(out->v[ISCSI_PARAM_FIRST_BURST], out->v[ISCSI_PARAM_MAX_BURST]);
	out->v[ISCSI_PARAM_MAX_XMIT_DSL] = iscsi_negot_xmit_dsl(ng);
}

/* iSCSI names (§4.2.7): "iqn.", "eui." or "naa." followed by at least one character. */
bool iscsi_name_is_valid(const char *name)
{
	size_t len = strlen(name);

	if (len < 5 || len > 223)
		return false;
	return !strncasecmp(name, "iqn.", 4) || !strncasecmp(name, "eui.", 4) ||
	       !strncasecmp(name, "naa.", 4);
}

/* ======================================================================================
 * Per-target values (tgtadm --mode target --op update/show), tgt's show order.
 * ====================================================================================== */

enum show_kind {
	SHOW_NUM,
	SHOW_BOOL,
	SHOW_DIGEST,
	SHOW_REJECT,     /* OFMarkInt/IFMarkInt */
};

struct tparam {
	const char *name;
	int8_t param;
	uint8_t show;
	bool settable;
	uint32_t min;
	uint32_t max;
};

/* clang-format off */
static const struct tparam tparams[] = {
	{ "nop_interval", ISCSI_PARAM_NOP_INTERVAL, SHOW_NUM, true, 0, 3600 },
	{ "nop_count", ISCSI_PARAM_NOP_COUNT, SHOW_NUM, true, 0, 65535 },
	{ "MaxRecvDataSegmentLength", ISCSI_PARAM_MAX_RECV_DSL, SHOW_NUM, true, 512, 16777215 },
	{ "HeaderDigest", ISCSI_PARAM_HEADER_DIGEST, SHOW_DIGEST, true, 0, 0 },
	{ "DataDigest", ISCSI_PARAM_DATA_DIGEST, SHOW_DIGEST, true, 0, 0 },
	{ "InitialR2T", ISCSI_PARAM_INITIAL_R2T, SHOW_BOOL, true, 0, 1 },
	{ "MaxOutstandingR2T", ISCSI_PARAM_MAX_OUTSTANDING_R2T, SHOW_NUM, true, 1, 65535 },
	{ "ImmediateData", ISCSI_PARAM_IMMEDIATE_DATA, SHOW_BOOL, true, 0, 1 },
	{ "FirstBurstLength", ISCSI_PARAM_FIRST_BURST, SHOW_NUM, true, 512, 16777215 },
	{ "MaxBurstLength", ISCSI_PARAM_MAX_BURST, SHOW_NUM, true, 512, 16777215 },
	/* only Yes is implemented (the result functions are OR, so it always wins) */
	{ "DataPDUInOrder", ISCSI_PARAM_DATA_PDU_IN_ORDER, SHOW_BOOL, true, 1, 1 },
	{ "DataSequenceInOrder", ISCSI_PARAM_DATA_SEQ_IN_ORDER, SHOW_BOOL, true, 1, 1 },
	/* default 0; 2 is connection recovery (MC/S, TASK REASSIGN: session.c, tmf.c) */
	{ "ErrorRecoveryLevel", ISCSI_PARAM_ERL, SHOW_NUM, true, 0, 2 },
	{ "IFMarker", ISCSI_PARAM_IFMARKER, SHOW_BOOL, true, 0, 0 },
	{ "OFMarker", ISCSI_PARAM_OFMARKER, SHOW_BOOL, true, 0, 0 },
	{ "DefaultTime2Wait", ISCSI_PARAM_TIME2WAIT, SHOW_NUM, true, 0, 3600 },
	{ "DefaultTime2Retain", ISCSI_PARAM_TIME2RETAIN, SHOW_NUM, true, 0, 3600 },
	{ "OFMarkInt", ISCSI_PARAM_OFMARKINT, SHOW_REJECT, false, 0, 0 },
	{ "IFMarkInt", ISCSI_PARAM_IFMARKINT, SHOW_REJECT, false, 0, 0 },
	{ "MaxConnections", ISCSI_PARAM_MAX_CONNECTIONS, SHOW_NUM, true, 1, CORE_NEXUS_MAX_CONN },
	{ "RDMAExtensions", ISCSI_PARAM_RDMA_EXTENSIONS, SHOW_BOOL, true, 0, 0 },
	{ "TargetRecvDataSegmentLength", ISCSI_PARAM_TARGET_RDSL, SHOW_NUM, true, 512, 16777215 },
	{ "InitiatorRecvDataSegmentLength", ISCSI_PARAM_INITIATOR_RDSL, SHOW_NUM, true,
	  512, 16777215 },
	{ "MaxOutstandingUnexpectedPDUs", ISCSI_PARAM_MAX_OUTST_PDU, SHOW_NUM, true, 0, 0 },
	{ "MaxXmitDataSegmentLength", ISCSI_PARAM_MAX_XMIT_DSL, SHOW_NUM, true, 512, 16777215 },
	{ "MaxQueueCmd", ISCSI_PARAM_MAX_QUEUE_CMD, SHOW_NUM, true, 1, ISCSI_MAX_QUEUE_CMD },
	{ "max_sessions", ISCSI_PARAM_MAX_SESSIONS, SHOW_NUM, true, 0, 65535 },
};
/* clang-format on */

/* Parses a digest setting: None, CRC32C or a list of them (order does not matter). */
static int digest_parse(const char *value, uint32_t *mask)
{
	const char *p = value;

	*mask = 0;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n == 4 && !strncasecmp(p, "None", 4))
			*mask |= ISCSI_DIGEST_NONE;
		else if (n == 6 && !strncasecmp(p, "CRC32C", 6))
			*mask |= ISCSI_DIGEST_CRC32C;
		else
			return -EINVAL;
		if (!comma)
			break;
		p = comma + 1;
	}
	return *mask ? 0 : -EINVAL;
}

int iscsi_params_set(struct iscsi_params *p, const char *key, const char *value)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(tparams); i++) {
		const struct tparam *t = &tparams[i];
		uint32_t v;
		uint64_t n;
		bool b;

		if (strcasecmp(t->name, key))
			continue;
		if (!t->settable)
			return -EINVAL;
		if (t->show == SHOW_DIGEST) {
			if (digest_parse(value, &v))
				return -EINVAL;
		} else if (t->show == SHOW_BOOL) {
			if (str_to_bool(value, &b))
				return -EINVAL;
			v = b;
		} else {
			if (iscsi_parse_number(value, UINT32_MAX, &n))
				return -EINVAL;
			v = (uint32_t)n;
		}
		if (t->show != SHOW_DIGEST && (v < t->min || v > t->max))
			return -EINVAL;
		p->v[t->param] = v;
		return 0;
	}
	return -ENOENT;
}

static void tparam_format(const struct tparam *t, uint32_t v, char *buf, size_t len)
{
	switch (t->show) {
	case SHOW_BOOL:
		snprintf(buf, len, "%s", v ? "Yes" : "No");
		break;
	case SHOW_DIGEST:
		if (v == (ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C))
			snprintf(buf, len, "None,CRC32C");
		else
			snprintf(buf, len, "%s", digest_name(v));
		break;
	case SHOW_REJECT:
		snprintf(buf, len, "Reject");
		break;
	default:
		snprintf(buf, len, "%u", v);
		break;
	}
}

void iscsi_params_foreach(const struct iscsi_params *p, iscsi_param_fn fn, void *arg)
{
	char val[32];

	for (unsigned int i = 0; i < ARRAY_SIZE(tparams); i++) {
		tparam_format(&tparams[i], p->v[tparams[i].param], val, sizeof(val));
		fn(tparams[i].name, val, arg);
	}
}
