/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CHAP for the login security stage (RFC 7143 §12.1.3, RFC 1994), one-way and mutual, with
 * CHAP_A 5 (MD5), 6 (SHA-1), 7 (SHA-256) and 8 (SHA3-256) through OpenSSL's EVP; the strongest
 * algorithm the initiator offers wins. Identifier and challenge come from RAND_bytes, responses
 * are compared in constant time, a reflected challenge is refused, and we answer a mutual
 * challenge only after the initiator proved its secret. Secrets are copied from the core's
 * account store into stack buffers that are wiped after use; they are never logged.
 *
 *   OFF --AuthMethod=CHAP--> WAIT_A --CHAP_A--> WAIT_R --CHAP_N/CHAP_R ok--> DONE
 *   any error: FAILED (the login fails with 02/01)
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

struct chap_alg {
	unsigned int id;           /* CHAP_A value (IANA PPP authentication algorithms) */
	const char *name;
	size_t len;                /* digest and challenge length */
	const EVP_MD *(*md)(void);
};

/* strongest first */
static const struct chap_alg chap_algs[] = {
	{ 8, "SHA3-256", 32, EVP_sha3_256 },
	{ 7, "SHA-256", 32, EVP_sha256 },
	{ 6, "SHA-1", 20, EVP_sha1 },
	{ 5, "MD5", 16, EVP_md5 },
};

static const struct chap_alg *chap_alg_find(unsigned int id)
{
	for (size_t i = 0; i < ARRAY_SIZE(chap_algs); i++) {
		if (chap_algs[i].id == id)
			return &chap_algs[i];
	}
	return NULL;
}

unsigned int iscsi_chap_alg_select(const char *list)
{
	for (size_t i = 0; i < ARRAY_SIZE(chap_algs); i++) {
		char num[4];

		snprintf(num, sizeof(num), "%u", chap_algs[i].id);
		if (iscsi_list_contains(list, num))
			return chap_algs[i].id;
	}
	return 0;
}

int iscsi_chap_response(unsigned int alg, uint8_t id, const uint8_t *secret, size_t slen,
			const uint8_t *chal, size_t clen, uint8_t *out)
{
	const struct chap_alg *a = chap_alg_find(alg);
	EVP_MD_CTX *ctx;
	unsigned int len = 0;
	int ok;

	if (!a)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, a->md(), NULL) && EVP_DigestUpdate(ctx, &id, 1) &&
	     EVP_DigestUpdate(ctx, secret, slen) && EVP_DigestUpdate(ctx, chal, clen) &&
	     EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
	if (!ok || len != a->len)
		return -EIO; /* e.g. MD5 disabled by a FIPS provider */
	return (int)len;
}

/* ---- binary values (§6.1) ---- */

static int chap_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int chap_decode_hex(const char *s, size_t n, uint8_t *out, size_t cap)
{
	size_t len = (n + 1) / 2, i = 0, o = 0;

	if (!n || len > cap)
		return -EINVAL;
	if (n & 1) { /* an odd count has an implied leading zero */
		int v = chap_hexval(s[i++]);

		if (v < 0)
			return -EINVAL;
		out[o++] = (uint8_t)v;
	}
	for (; i < n; i += 2) {
		int hi = chap_hexval(s[i]), lo = chap_hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[o++] = (uint8_t)(hi << 4 | lo);
	}
	return (int)o;
}

static int chap_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int chap_decode_b64(const char *s, size_t n, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	size_t o = 0, pad = 0, bits = 0;

	if (!n || n % 4)
		return -EINVAL;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	n -= pad;
	for (size_t i = 0; i < n; i++) {
		int v = chap_b64val(s[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* leftover bits must be zero and the padding must match */
	if ((acc & ((1u << bits) - 1)) || (pad && bits != pad * 2) || !o)
		return -EINVAL;
	return (int)o;
}

int iscsi_chap_decode(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);

	if (n < 3 || s[0] != '0')
		return -EINVAL;
	if (s[1] == 'x' || s[1] == 'X')
		return chap_decode_hex(s + 2, n - 2, out, cap);
	if (s[1] == 'b' || s[1] == 'B')
		return chap_decode_b64(s + 2, n - 2, out, cap);
	return -EINVAL;
}

int iscsi_chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";

	if (cap < 2 * len + 3)
		return -ENOSPC;
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		out[2 + 2 * i] = hex[in[i] >> 4];
		out[3 + 2 * i] = hex[in[i] & 15];
	}
	out[2 + 2 * len] = '\0';
	return 0;
}

/* ---- the exchange ---- */

void iscsi_chap_init(struct iscsi_chap *ch, struct iscsi_conn *c, struct core_root *root,
		     uint32_t tid)
{
	memset(ch, 0, sizeof(*ch));
	ch->root = root;
	ch->conn = c;
	ch->tid = tid;
	ch->required = core_account_required(root, tid);
}

void iscsi_chap_fini(struct iscsi_chap *ch)
{
	explicit_bzero(ch, sizeof(*ch));
}

static uint16_t chap_fail(struct iscsi_chap *ch, const char *why)
{
	ch->state = ISCSI_CHAP_FAILED;
	if (ch->conn)
		iscsi_conn_log(ch->conn, LOG_LVL_WARN, "CHAP: %s", why);
	return ISCSI_LOGIN_AUTH_FAILED;
}

uint16_t iscsi_chap_method(struct iscsi_chap *ch, const char *offer, struct iscsi_text *out)
{
	if (ch->state != ISCSI_CHAP_OFF)
		return ISCSI_LOGIN_INIT_ERR; /* AuthMethod is negotiated once */
	if (!ch->required) {
		if (!iscsi_list_contains(offer, "None"))
			return chap_fail(ch, "no account bound, and the initiator refuses None");
		iscsi_text_add(out, "AuthMethod", "None");
		return ISCSI_LOGIN_OK;
	}
	if (!iscsi_list_contains(offer, "CHAP"))
		return chap_fail(ch, "the target requires CHAP, the initiator does not offer it");
	iscsi_text_add(out, "AuthMethod", "CHAP");
	ch->state = ISCSI_CHAP_WAIT_A;
	return ISCSI_LOGIN_OK;
}

uint16_t iscsi_chap_key(struct iscsi_chap *ch, const char *key, const char *val)
{
	static const struct {
		const char *name;
		size_t off;
	} keys[] = {
		{ "CHAP_A", offsetof(struct iscsi_chap, val_a) },
		{ "CHAP_I", offsetof(struct iscsi_chap, val_i) },
		{ "CHAP_C", offsetof(struct iscsi_chap, val_c) },
		{ "CHAP_N", offsetof(struct iscsi_chap, val_n) },
		{ "CHAP_R", offsetof(struct iscsi_chap, val_r) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char **slot = (const char **)((char *)ch + keys[i].off);

		if (strcmp(key, keys[i].name))
			continue;
		if (*slot)
			return ISCSI_LOGIN_INIT_ERR;
		*slot = val;
		return ISCSI_LOGIN_OK;
	}
	return ISCSI_LOGIN_INIT_ERR;
}

static void chap_keys_clear(struct iscsi_chap *ch)
{
	ch->val_a = ch->val_i = ch->val_c = ch->val_n = ch->val_r = NULL;
}

/* CHAP_A: pick the algorithm, send CHAP_A, CHAP_I and CHAP_C. */
static uint16_t chap_challenge(struct iscsi_chap *ch, struct iscsi_text *out)
{
	char hexbuf[2 * ISCSI_CHAP_DIGEST_MAX + 3];
	const struct chap_alg *a;
	unsigned int alg;

	if (ch->val_i || ch->val_c || ch->val_n || ch->val_r)
		return chap_fail(ch, "CHAP keys out of order");
	alg = iscsi_chap_alg_select(ch->val_a);
	a = chap_alg_find(alg);
	if (!a)
		return chap_fail(ch, "no common CHAP algorithm");
	ch->alg = (uint8_t)alg;
	ch->challenge_len = (uint8_t)a->len;
	if (RAND_bytes(&ch->id, 1) != 1 || RAND_bytes(ch->challenge, (int)a->len) != 1)
		return chap_fail(ch, "no random bytes");
	iscsi_text_add_u32(out, "CHAP_A", alg);
	iscsi_text_add_u32(out, "CHAP_I", ch->id);
	iscsi_chap_encode_hex(ch->challenge, a->len, hexbuf, sizeof(hexbuf));
	iscsi_text_add(out, "CHAP_C", hexbuf);
	ch->state = ISCSI_CHAP_WAIT_R;
	return ISCSI_LOGIN_OK;
}

/* Checks CHAP_N/CHAP_R against the incoming accounts of the target. */
static uint16_t chap_verify(struct iscsi_chap *ch)
{
	static const uint8_t dummy[16]; /* unknown users still cost one digest */
	uint8_t secret[CORE_ACCOUNT_SECRET_MAX], got[ISCSI_CHAP_DIGEST_MAX] = { 0 };
	uint8_t want[ISCSI_CHAP_DIGEST_MAX];
	size_t slen = 0;
	int glen, wlen, known;

	if (!ch->val_n || !ch->val_r)
		return chap_fail(ch, "CHAP_N or CHAP_R missing");
	glen = iscsi_chap_decode(ch->val_r, got, sizeof(got));
	known = core_account_in_secret(ch->root, ch->tid, ch->val_n, secret, sizeof(secret),
				       &slen) == 0;
	wlen = iscsi_chap_response(ch->alg, ch->id, known ? secret : dummy,
				   known ? slen : sizeof(dummy), ch->challenge, ch->challenge_len,
				   want);
	explicit_bzero(secret, sizeof(secret));
	if (wlen < 0)
		return chap_fail(ch, "digest unavailable");
	if (!known | (glen != wlen) | (CRYPTO_memcmp(got, want, (size_t)wlen) != 0))
		return chap_fail(ch, "unknown user or wrong response");
	return ISCSI_LOGIN_OK;
}

/* Mutual CHAP: answer the initiator's CHAP_I/CHAP_C with our outgoing account. */
static uint16_t chap_mutual(struct iscsi_chap *ch, struct iscsi_text *out)
{
	uint8_t chal[ISCSI_CHAP_CHALLENGE_MAX], secret[CORE_ACCOUNT_SECRET_MAX];
	uint8_t rsp[ISCSI_CHAP_DIGEST_MAX];
	char user[CORE_ACCOUNT_USER_MAX + 1], hexbuf[2 * ISCSI_CHAP_DIGEST_MAX + 3];
	size_t slen = 0;
	uint64_t id;
	int clen, rlen;

	if (!ch->val_i || !ch->val_c)
		return chap_fail(ch, "mutual CHAP needs both CHAP_I and CHAP_C");
	if (iscsi_parse_number(ch->val_i, 255, &id) < 0)
		return chap_fail(ch, "bad CHAP_I");
	clen = iscsi_chap_decode(ch->val_c, chal, sizeof(chal));
	if (clen < 1)
		return chap_fail(ch, "bad CHAP_C");
	if ((size_t)clen == ch->challenge_len && !memcmp(chal, ch->challenge, ch->challenge_len))
		return chap_fail(ch, "reflected challenge");
	if (core_account_out_secret(ch->root, ch->tid, user, sizeof(user), secret, sizeof(secret),
				    &slen) < 0)
		return chap_fail(ch, "mutual CHAP asked, no outgoing account bound");
	rlen = iscsi_chap_response(ch->alg, (uint8_t)id, secret, slen, chal, (size_t)clen, rsp);
	explicit_bzero(secret, sizeof(secret));
	if (rlen < 0)
		return chap_fail(ch, "digest unavailable");
	iscsi_chap_encode_hex(rsp, (size_t)rlen, hexbuf, sizeof(hexbuf));
	iscsi_text_add(out, "CHAP_N", user);
	iscsi_text_add(out, "CHAP_R", hexbuf);
	return ISCSI_LOGIN_OK;
}

static uint16_t chap_response(struct iscsi_chap *ch, struct iscsi_text *out)
{
	uint16_t st;

	if (ch->val_a)
		return chap_fail(ch, "CHAP_A offered twice");
	st = chap_verify(ch);
	if (!st && (ch->val_i || ch->val_c))
		st = chap_mutual(ch, out);
	if (st)
		return st;
	ch->state = ISCSI_CHAP_DONE;
	if (ch->conn)
		iscsi_conn_log(ch->conn, LOG_LVL_INFO, "CHAP: user %s authenticated%s", ch->val_n,
			       ch->val_c ? " (mutual)" : "");
	return ISCSI_LOGIN_OK;
}

static bool chap_any_key(const struct iscsi_chap *ch)
{
	return ch->val_a || ch->val_i || ch->val_c || ch->val_n || ch->val_r;
}

uint16_t iscsi_chap_step(struct iscsi_chap *ch, struct iscsi_text *out)
{
	uint16_t st = ISCSI_LOGIN_OK;

	switch (ch->state) {
	case ISCSI_CHAP_OFF:
		if (chap_any_key(ch))
			st = chap_fail(ch, "CHAP keys without AuthMethod=CHAP");
		break;
	case ISCSI_CHAP_WAIT_A:
		if (ch->val_a)
			st = chap_challenge(ch, out);
		else if (chap_any_key(ch))
			st = chap_fail(ch, "CHAP keys before CHAP_A");
		break;
	case ISCSI_CHAP_WAIT_R:
		st = chap_response(ch, out);
		break;
	case ISCSI_CHAP_DONE:
		if (chap_any_key(ch))
			st = chap_fail(ch, "CHAP keys after authentication");
		break;
	case ISCSI_CHAP_FAILED:
		st = ISCSI_LOGIN_AUTH_FAILED;
		break;
	}
	chap_keys_clear(ch);
	return st;
}

bool iscsi_chap_ok(const struct iscsi_chap *ch)
{
	if (ch->state == ISCSI_CHAP_DONE)
		return true;
	return ch->state == ISCSI_CHAP_OFF && !ch->required;
}
