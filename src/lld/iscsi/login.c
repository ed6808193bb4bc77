/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The login phase (RFC 7143 §6.3, §11.12, §11.13): gathers Login Request text (C bit),
 * admits the initiator on its first PDU (target, state, ACL, TSIH), negotiates keys through
 * param.c, follows the stage transitions (security -> operational -> full feature) and, on
 * the final response, creates the session. Authentication: AuthMethod=None, or CHAP (chap.c)
 * when the target (or, for discovery, the global list) has an incoming account bound; then
 * the login cannot leave the security stage before CHAP succeeded.
 *
 *   first PDU: version, InitiatorName/SessionType/TargetName -> admission -> negotiation
 *   each PDU:  C=1 -> empty response asking for more; T=1 -> next stage if CSG->NSG is valid
 *   NSG=FFP:   session created, final response with TSIH, digests on, connection in FFP
 *   failure:   response with Status-Class/Detail, then the connection drains and closes
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOGIN_MAX_KEYS 256

struct iscsi_login {
	char *text;                  /* gathered request text (ISCSI_TEXT_MAX) */
	size_t text_len;
	bool overflow;               /* the request outgrew ISCSI_TEXT_MAX */
	bool started;                /* the leading PDU was seen */
	bool admitted;               /* names, target and ACL checked */
	bool auth_ok;                /* AuthMethod answered (None or CHAP) */
	bool tpgt_sent;
	bool discovery;
	uint8_t csg;
	uint8_t isid[6];
	uint16_t tsih;
	uint16_t cid;
	uint32_t cmd_sn;
	uint32_t itt;
	char initiator[224];
	char alias[256];
	char target_name[224];
	struct core_target *tgt;     /* referenced once admitted (normal sessions) */
	struct iscsi_sess *sess;     /* TSIH≠0: the session this connection joins (referenced) */
	struct iscsi_negot ng;
	struct iscsi_chap chap;
};

void iscsi_login_free(struct iscsi_conn *c)
{
	struct iscsi_login *lg = c->login;

	if (!lg)
		return;
	if (lg->tgt)
		core_target_put(lg->tgt);
	if (lg->sess)
		iscsi_sess_put(lg->sess);
	iscsi_chap_fini(&lg->chap);
	free(lg->text);
	free(lg);
	c->login = NULL;
}

uint8_t *iscsi_login_rx_start(struct iscsi_conn *c)
{
	struct iscsi_login *lg = c->login;
	uint32_t dsl = c->rx.info.dsl;

	if (!lg) {
		lg = calloc(1, sizeof(*lg));
		if (!lg)
			return NULL;
		lg->text = malloc(ISCSI_TEXT_MAX);
		if (!lg->text) {
			free(lg);
			return NULL;
		}
		c->login = lg;
	}
	if (!dsl)
		return NULL;
	if (dsl > ISCSI_TEXT_MAX - lg->text_len) {
		lg->overflow = true;
		return (uint8_t *)lg->text; /* consumed but ignored: the login fails */
	}
	return (uint8_t *)lg->text + lg->text_len;
}

/* ---- responses ---- */

static struct iscsi_ctl *login_rsp_new(struct iscsi_conn *c, uint8_t flags, uint16_t status)
{
	struct iscsi_login *lg = c->login;
	struct iscsi_ctl *ctl = iscsi_ctl_get(c);
	struct iscsi_login_hdr *h;

	if (!ctl)
		return NULL;
	h = (struct iscsi_login_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_LOGIN_RSP, flags, 0, lg->itt);
	memcpy(h->isid, lg->isid, 6);
	put_be16(h->tsih, lg->tsih);
	put_be32(h->sn24, c->stat_sn++);
	put_be32(h->sn28, lg->cmd_sn);
	put_be32(h->max_cmd_sn, lg->cmd_sn);
	h->status_class = (uint8_t)(status >> 8);
	h->status_detail = (uint8_t)status;
	return ctl;
}

/* A redirection (status class 1) carries the TargetAddress to use (§11.13.5). */
static uint32_t login_redirect_text(struct iscsi_conn *c, struct iscsi_ctl *ctl, uint16_t st)
{
	char addr[300], text[320];
	struct iscsi_text t;
	uint8_t *buf;

	if ((st >> 8) != 1 || !c->login->tgt ||
	    !iscsi_tgt_redirect(c->login->tgt, addr, sizeof(addr)))
		return 0;
	iscsi_text_init(&t, text, sizeof(text));
	iscsi_text_add(&t, "TargetAddress", addr);
	buf = iscsi_ctl_data(c, ctl, t.len);
	if (!buf)
		return 0;
	memcpy(buf, text, t.len);
	return (uint32_t)t.len;
}

static int login_fail(struct iscsi_conn *c, uint16_t status, const char *why)
{
	struct iscsi_login *lg = c->login;
	struct iscsi_ctl *ctl;
	char kv[768];
	size_t off = 0;

	log_kv_appendf(kv, sizeof(kv), &off, "status", "0x%04x", status);
	log_kv_append(kv, sizeof(kv), &off, "reason", why);
	log_kv_append(kv, sizeof(kv), &off, "initiator", lg->initiator[0] ? lg->initiator : NULL);
	log_kv_append(kv, sizeof(kv), &off, "target", lg->target_name[0] ? lg->target_name : NULL);
	log_kv_appendf(kv, sizeof(kv), &off, "isid", "%02x%02x%02x%02x%02x%02x", lg->isid[0],
		       lg->isid[1], lg->isid[2], lg->isid[3], lg->isid[4], lg->isid[5]);
	iscsi_conn_log(c, LOG_LVL_WARN, "event=login_failed %s", kv);
	lg->tsih = 0;
	ctl = login_rsp_new(c, 0, status);
	if (!ctl)
		return -ENOMEM;
	ctl->close_after = true;
	iscsi_ctl_send(c, ctl, login_redirect_text(c, ctl, status));
	return 0;
}

static int login_rsp_send(struct iscsi_conn *c, uint8_t flags, const struct iscsi_text *text)
{
	struct iscsi_ctl *ctl = login_rsp_new(c, flags, ISCSI_LOGIN_OK);
	uint8_t *data;

	if (!ctl)
		return -ENOMEM;
	if (text->len) {
		data = iscsi_ctl_data(c, ctl, text->len);
		if (!data) {
			iscsi_ctl_put(c, ctl);
			return -ENOMEM;
		}
		memcpy(data, text->buf, text->len);
	}
	if ((flags & ISCSI_LOGIN_TRANSIT) && ISCSI_LOGIN_NSG(flags) == ISCSI_STAGE_FFP && c->sess) {
		struct iscsi_login_hdr *h = (struct iscsi_login_hdr *)ctl->out.hdr;

		/* the final response opens the session's CmdSN window */
		put_be32(h->sn28, c->sess->exp_cmd_sn);
		put_be32(h->max_cmd_sn, iscsi_sess_max_cmd_sn(c->sess));
	}
	iscsi_ctl_send(c, ctl, (uint32_t)text->len);
	return 0;
}

/* ---- admission (first PDU) ---- */

static bool is_declarative_name(const char *k)
{
	return !strcmp(k, "InitiatorName") || !strcmp(k, "InitiatorAlias") ||
	       !strcmp(k, "TargetName") || !strcmp(k, "SessionType");
}

/* Declarative keys of the leading PDU; returns a login status. */
static uint16_t login_declaratives(struct iscsi_login *lg, const struct iscsi_kv *kv, int n)
{
	bool have_type = false;

	for (int i = 0; i < n; i++) {
		const char *k = kv[i].key, *v = kv[i].val;
		char *dst = NULL;
		size_t size = 0;

		if (!strcmp(k, "InitiatorName")) {
			dst = lg->initiator;
			size = sizeof(lg->initiator);
		} else if (!strcmp(k, "InitiatorAlias")) {
			dst = lg->alias;
			size = sizeof(lg->alias);
		} else if (!strcmp(k, "TargetName")) {
			dst = lg->target_name;
			size = sizeof(lg->target_name);
		} else if (!strcmp(k, "SessionType")) {
			if (!strcmp(v, "Discovery"))
				lg->discovery = true;
			else if (strcmp(v, "Normal"))
				return ISCSI_LOGIN_SESS_TYPE_UNSUPP;
			have_type = true;
			continue;
		} else {
			continue;
		}
		if (!*v || str_copy(dst, v, size) >= size)
			return ISCSI_LOGIN_INIT_ERR;
	}
	(void)have_type; /* SessionType defaults to Normal (§13.21) */
	if (!lg->initiator[0])
		return ISCSI_LOGIN_MISSING_PARAM;
	if (!lg->discovery && !lg->target_name[0])
		return ISCSI_LOGIN_MISSING_PARAM;
	return ISCSI_LOGIN_OK;
}

static uint16_t login_admit_target(struct iscsi_conn *c, struct iscsi_login *lg)
{
	struct core_root *root = c->lld->root;
	char raddr[300];
	uint16_t st;

	if (lg->discovery)
		return ISCSI_LOGIN_OK;
	lg->tgt = core_target_get_by_name(root, lg->target_name);
	if (!lg->tgt)
		return ISCSI_LOGIN_TGT_NOT_FOUND;
	if (!lg->tgt->ready)
		return ISCSI_LOGIN_SVC_UNAVAIL;
	if (!core_acl_allows(lg->tgt, (struct sockaddr *)&c->peer, lg->initiator))
		return ISCSI_LOGIN_AUTHZ_FAILED;
	st = iscsi_tgt_redirect(lg->tgt, raddr, sizeof(raddr)); /* portal redirection */
	if (st)
		return st;
	if (lg->tsih) {
		/* a connection joining (or reinstating one of) a live session (§6.3.1, §7.1.4) */
		bool other_tpgt;

		lg->sess = iscsi_sess_find(c->lld, lg->tgt, c->tpgt, lg->initiator, lg->isid,
					   lg->tsih, &other_tpgt);
		if (!lg->sess)
			return other_tpgt ? ISCSI_LOGIN_NO_SESS_SPAN : ISCSI_LOGIN_NO_SESSION;
		if (lg->sess->reactor != c->reactor)
			return ISCSI_LOGIN_SVC_UNAVAIL; /* moved meanwhile: try again */
		return iscsi_sess_conn_check(lg->sess, lg->cid);
	}
	return ISCSI_LOGIN_OK;
}

static uint16_t login_admit(struct iscsi_conn *c, struct iscsi_kv *kv, int n)
{
	struct iscsi_login *lg = c->login;
	struct iscsi_params p;
	uint16_t st;

	if (atomic_load(&c->lld->shutting_down) || !core_root_is_ready(c->lld->root))
		return ISCSI_LOGIN_SVC_UNAVAIL;
	c->tpgt = iscsi_lld_portal_tpgt(c->lld, &c->local); /* the session's target port */
	st = login_declaratives(lg, kv, n);
	if (st)
		return st;
	if (lg->discovery && lg->tsih)
		return ISCSI_LOGIN_NO_SESSION;
	st = login_admit_target(c, lg);
	if (st)
		return st;
	if (lg->tgt)
		iscsi_tgt_params_get(lg->tgt, &p);
	else
		iscsi_params_default(&p);
	iscsi_negot_init(&lg->ng, &p, lg->discovery);
	lg->ng.leading = !lg->sess; /* session-wide (LO) keys are Irrelevant on the others */
	for (int i = 0; i < n; i++) {
		if (is_declarative_name(kv[i].key) && iscsi_negot_seen(&lg->ng, kv[i].key))
			return ISCSI_LOGIN_INIT_ERR; /* offered twice */
	}
	iscsi_chap_init(&lg->chap, c, c->lld->root, lg->tgt ? lg->tgt->tid : CORE_ACCOUNT_GLOBAL);
	/* a login that must authenticate cannot start past the security stage */
	if (lg->chap.required && lg->csg != ISCSI_STAGE_SECURITY)
		return ISCSI_LOGIN_AUTH_FAILED;
	lg->admitted = true;
	return ISCSI_LOGIN_OK;
}

/* ---- negotiation ---- */

/* Security keys and other specials; returns a login status. */
static uint16_t login_special(struct iscsi_login *lg, const struct iscsi_kv *kv, bool first,
			      struct iscsi_text *out)
{
	if (is_declarative_name(kv->key))
		return first ? ISCSI_LOGIN_OK : ISCSI_LOGIN_INIT_ERR; /* only in the leading PDU */
	if (iscsi_negot_seen(&lg->ng, kv->key))
		return ISCSI_LOGIN_INIT_ERR;
	if (!strcmp(kv->key, "AuthMethod")) {
		if (lg->csg != ISCSI_STAGE_SECURITY) {
			iscsi_text_add(out, kv->key, "Irrelevant");
			return ISCSI_LOGIN_OK;
		}
		lg->auth_ok = true;
		return iscsi_chap_method(&lg->chap, kv->val, out);
	}
	if (!strncmp(kv->key, "CHAP_", 5) && lg->csg == ISCSI_STAGE_SECURITY)
		return iscsi_chap_key(&lg->chap, kv->key, kv->val);
	/* CHAP_* without CHAP, SendTargets during login */
	iscsi_text_add(out, kv->key, "Irrelevant");
	return ISCSI_LOGIN_OK;
}

static uint16_t login_negotiate(struct iscsi_conn *c, struct iscsi_kv *kv, int n, bool first,
				struct iscsi_text *out)
{
	struct iscsi_login *lg = c->login;
	enum iscsi_neg_phase phase = lg->csg == ISCSI_STAGE_SECURITY ? ISCSI_NEG_SECURITY :
								      ISCSI_NEG_OPERATIONAL;

	for (int i = 0; i < n; i++) {
		int ret = iscsi_negot_key(&lg->ng, phase, kv[i].key, kv[i].val, out);
		uint16_t st;

		if (ret == -EEXIST)
			return ISCSI_LOGIN_INIT_ERR;
		if (ret == ISCSI_KEY_SPECIAL) {
			st = login_special(lg, &kv[i], first, out);
			if (st)
				return st;
		}
	}
	if (lg->csg == ISCSI_STAGE_SECURITY) {
		uint16_t st = iscsi_chap_step(&lg->chap, out);

		if (st)
			return st;
	}
	iscsi_negot_finish(&lg->ng, out);
	return out->overflow ? ISCSI_LOGIN_INIT_ERR : ISCSI_LOGIN_OK;
}

/* Splits the gathered text into pairs; returns the count or -EINVAL. */
static int login_parse(struct iscsi_login *lg, struct iscsi_kv *kv, int max)
{
	size_t off = 0;
	int n = 0, ret;

	while ((ret = iscsi_text_next(lg->text, lg->text_len, &off, &kv[n])) == 1) {
		if (++n == max)
			return -EINVAL;
	}
	return ret < 0 ? ret : n;
}

/* ---- completion ---- */

static int login_complete(struct iscsi_conn *c, uint8_t flags, struct iscsi_text *out)
{
	struct iscsi_login *lg = c->login;
	struct iscsi_params p;
	unsigned int nr;
	int ret;

	if (lg->tgt && lg->tgt->deleted)
		return login_fail(c, ISCSI_LOGIN_TGT_REMOVED, "target deleted during login");
	iscsi_negot_result(&lg->ng, &p);
	c->cid = lg->cid;
	if (lg->sess) {
		uint16_t st = iscsi_sess_conn_check(lg->sess, lg->cid);

		if (st)
			return login_fail(c, st, "the session cannot take this connection");
		ret = iscsi_sess_conn_add(lg->sess, c);
	} else {
		ret = iscsi_sess_create(c, lg->tgt, lg->initiator, lg->alias[0] ? lg->alias : NULL,
					lg->isid, lg->discovery, &p, lg->cmd_sn);
	}
	if (ret < 0)
		return login_fail(c, ISCSI_LOGIN_NO_RESOURCES,
				  ret == -EUSERS ? "the target is at max_sessions" :
						   "cannot create the session");
	nr = lg->discovery ? 8 : 2 * c->sess->queue_cmd + ISCSI_IMM_SLACK;
	if (iscsi_conn_tasks_alloc(c, nr) < 0)
		return login_fail(c, ISCSI_LOGIN_NO_RESOURCES, "no memory for tasks");
	lg->tsih = c->sess->tsih;
	c->max_xmit_dsl = p.v[ISCSI_PARAM_MAX_XMIT_DSL];
	c->max_recv_dsl = lg->ng.mrdsl_declared ? p.v[ISCSI_PARAM_MAX_RECV_DSL] : ISCSI_LOGIN_DSL_MAX;
	c->nop_interval_s = p.v[ISCSI_PARAM_NOP_INTERVAL];
	c->nop_count = p.v[ISCSI_PARAM_NOP_COUNT];
	ret = login_rsp_send(c, flags, out);
	if (ret < 0)
		return ret;
	/* digests start with the first PDU after the login phase */
	c->hdigest = p.v[ISCSI_PARAM_HEADER_DIGEST] == ISCSI_DIGEST_CRC32C;
	c->ddigest = p.v[ISCSI_PARAM_DATA_DIGEST] == ISCSI_DIGEST_CRC32C;
	iscsi_conn_log(c, LOG_LVL_INFO, "%s session %u: %s%s", lg->discovery ? "discovery" : "normal",
		       lg->tsih, lg->initiator, c->hdigest || c->ddigest ? " (digests)" : "");
	iscsi_login_free(c);
	iscsi_conn_state_set(c, ISCSI_CONN_FFP);
	iscsi_recovery_conn_start(c); /* ERL >= 1: keep responses for SNACK */
	iscsi_conn_pub_ffp(c);
	return 0;
}

/*
 * Our declarations: TargetPortalGroupTag (of the portal this connection reached) in the first
 * response of a normal session, and
 * MaxRecvDataSegmentLength in the first response of the operational stage (rsp_csg).
 */
static void login_declare(struct iscsi_conn *c, uint8_t rsp_csg, struct iscsi_text *out)
{
	struct iscsi_login *lg = c->login;
	char alias[256];

	if (!lg->tpgt_sent && !lg->discovery) {
		iscsi_text_add_u32(out, "TargetPortalGroupTag", c->tpgt);
		iscsi_tgt_alias(lg->tgt, alias, sizeof(alias)); /* TargetAlias (§13.6) */
		if (alias[0])
			iscsi_text_add(out, "TargetAlias", alias);
		lg->tpgt_sent = true;
	}
	if (!lg->ng.mrdsl_declared && rsp_csg == ISCSI_STAGE_OPERATIONAL) {
		iscsi_text_add_u32(out, "MaxRecvDataSegmentLength",
				   lg->ng.p.v[ISCSI_PARAM_MAX_RECV_DSL]);
		lg->ng.mrdsl_declared = true;
	}
}

/* Checks the stage change the initiator asks for; returns the response flags or -1. */
static int login_transit(struct iscsi_login *lg, uint8_t req_flags)
{
	uint8_t nsg = ISCSI_LOGIN_NSG(req_flags);

	if (!(req_flags & ISCSI_LOGIN_TRANSIT))
		return lg->csg << 2;
	if (lg->csg == ISCSI_STAGE_SECURITY &&
	    (nsg == ISCSI_STAGE_OPERATIONAL || nsg == ISCSI_STAGE_FFP))
		return ISCSI_LOGIN_TRANSIT | (lg->csg << 2) | nsg;
	if (lg->csg == ISCSI_STAGE_OPERATIONAL && nsg == ISCSI_STAGE_FFP)
		return ISCSI_LOGIN_TRANSIT | (lg->csg << 2) | nsg;
	return -1;
}

/* First PDU of the login: version and identifiers. Returns a login status. */
static uint16_t login_first(struct iscsi_conn *c, const struct iscsi_login_hdr *h)
{
	struct iscsi_login *lg = c->login;

	memcpy(lg->isid, h->isid, 6);
	lg->tsih = get_be16(h->tsih);
	lg->cid = get_be16(h->cid);
	lg->cmd_sn = get_be32(h->sn24);
	lg->csg = ISCSI_LOGIN_CSG(h->flags);
	lg->started = true;
	/* we speak version 0x00 (§11.12.4) */
	if (h->version_min > 0)
		return ISCSI_LOGIN_UNSUPP_VERSION;
	if (lg->csg > ISCSI_STAGE_OPERATIONAL)
		return ISCSI_LOGIN_INIT_ERR;
	return ISCSI_LOGIN_OK;
}

static uint16_t login_check_pdu(struct iscsi_conn *c, const struct iscsi_login_hdr *h)
{
	struct iscsi_login *lg = c->login;

	if (!lg->started)
		return login_first(c, h);
	if (memcmp(lg->isid, h->isid, 6) || lg->tsih != get_be16(h->tsih) ||
	    lg->cid != get_be16(h->cid) || ISCSI_LOGIN_CSG(h->flags) != lg->csg)
		return ISCSI_LOGIN_INIT_ERR;
	return ISCSI_LOGIN_OK;
}

static int login_exchange(struct iscsi_conn *c, uint8_t req_flags, struct iscsi_text *out)
{
	struct iscsi_login *lg = c->login;
	struct iscsi_kv *kv;
	bool first = !lg->admitted;
	int n, flags;
	uint16_t st;

	kv = calloc(LOGIN_MAX_KEYS, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	n = login_parse(lg, kv, LOGIN_MAX_KEYS);
	st = n < 0 ? ISCSI_LOGIN_INIT_ERR : ISCSI_LOGIN_OK;
	for (int i = 0; i < n; i++) /* CHAP values stay out of logs */
		conn_dbg(c, "login key %s=%s", kv[i].key,
			 strncmp(kv[i].key, "CHAP_", 5) ? kv[i].val : "...");
	if (!st && first)
		st = login_admit(c, kv, n);
	if (!st)
		st = login_negotiate(c, kv, n, first, out);
	free(kv);
	lg->text_len = 0;
	if (st)
		return login_fail(c, st, "negotiation");
	flags = login_transit(lg, req_flags);
	if (flags < 0)
		return login_fail(c, ISCSI_LOGIN_INIT_ERR, "invalid stage transition");
	if ((flags & ISCSI_LOGIN_TRANSIT) && lg->csg == ISCSI_STAGE_SECURITY &&
	    !iscsi_chap_ok(&lg->chap)) {
		/* CHAP under way: answer T=0 and go on (§6.3), else refuse */
		if (lg->chap.state != ISCSI_CHAP_WAIT_A && lg->chap.state != ISCSI_CHAP_WAIT_R)
			return login_fail(c, ISCSI_LOGIN_AUTH_FAILED, "authentication required");
		flags = lg->csg << 2;
	}
	login_declare(c, lg->csg, out);
	if (flags & ISCSI_LOGIN_TRANSIT)
		lg->csg = ISCSI_LOGIN_NSG(flags);
	if (out->overflow)
		return login_fail(c, ISCSI_LOGIN_INIT_ERR, "response too long");
	if (lg->csg == ISCSI_STAGE_FFP)
		return login_complete(c, (uint8_t)flags, out);
	return login_rsp_send(c, (uint8_t)flags, out);
}

int iscsi_login_rx_end(struct iscsi_conn *c)
{
	const struct iscsi_login_hdr *h = (const struct iscsi_login_hdr *)c->rx.hdr;
	struct iscsi_login *lg = c->login;
	char rsp[ISCSI_LOGIN_DSL_MAX];
	struct iscsi_text out;
	uint16_t st;

	if (!lg)
		return -ENOMEM;
	/* a connection for a session of another reactor moves there first (MC/S) */
	if (!lg->started && get_be16(h->tsih) && !c->handed_over &&
	    !iscsi_conn_handover(c, get_be16(h->tsih), (const uint8_t *)lg->text))
		return 0;
	lg->itt = get_be32(h->itt);
	if (!lg->overflow)
		lg->text_len += c->rx.info.dsl;
	st = login_check_pdu(c, h);
	if (st)
		return login_fail(c, st, "bad login request");
	if (lg->overflow)
		return login_fail(c, ISCSI_LOGIN_INIT_ERR, "login text too long");
	if (h->flags & ISCSI_FLAG_CONTINUE) {
		if (h->flags & ISCSI_LOGIN_TRANSIT)
			return login_fail(c, ISCSI_LOGIN_INIT_ERR, "C and T both set");
		iscsi_text_init(&out, rsp, 0);
		return login_rsp_send(c, (uint8_t)(lg->csg << 2), &out); /* send the rest */
	}
	iscsi_text_init(&out, rsp, MIN(sizeof(rsp), (size_t)c->max_xmit_dsl));
	return login_exchange(c, h->flags, &out);
}
