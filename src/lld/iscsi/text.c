/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Text requests (§11.10, §11.11) in discovery and normal sessions: SendTargets (§12.3,
 * appendix C) lists the targets this initiator may log in to with a TargetAddress for each
 * portal, and the full-feature-phase negotiation of the keys allowed there. Requests and
 * responses longer than one PDU travel in pieces (C bit, Target Transfer Tag).
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX_TARGETS 256

static uint32_t text_next_ttt(struct iscsi_conn *c)
{
	if (++c->text_ttt == ISCSI_RSVD_TAG || c->text_ttt == 0)
		c->text_ttt = 1;
	return c->text_ttt;
}

static void text_reset(struct iscsi_conn *c)
{
	free(c->text_buf);
	c->text_buf = NULL;
	c->text_len = c->text_sent = 0;
	free(c->text_req);
	c->text_req = NULL;
	c->text_req_len = 0;
}

/* Sends the next piece of the response; C=1 and a TTT while more remains. */
static int text_send_piece(struct iscsi_conn *c, uint32_t itt, bool empty_ack)
{
	struct iscsi_ctl *ctl = iscsi_ctl_get(c);
	size_t left = c->text_len - c->text_sent;
	uint32_t len = empty_ack ? 0 : (uint32_t)MIN(left, (size_t)c->max_xmit_dsl);
	bool more = empty_ack || len < left;
	struct iscsi_text_hdr *h;
	uint8_t *data;

	if (!ctl)
		return -ENOMEM;
	h = (struct iscsi_text_hdr *)ctl->out.hdr;
	iscsi_bhs_init((struct iscsi_bhs *)h, ISCSI_OP_TEXT_RSP,
		       more ? (empty_ack ? 0 : ISCSI_FLAG_CONTINUE) : ISCSI_FLAG_FINAL, 0, itt);
	put_be32(h->ttt, more ? text_next_ttt(c) : ISCSI_RSVD_TAG);
	iscsi_conn_fill_sn(c, ctl->out.hdr, true);
	if (len) {
		data = iscsi_ctl_data(c, ctl, len);
		if (!data) {
			iscsi_ctl_put(c, ctl);
			return -ENOMEM;
		}
		memcpy(data, c->text_buf + c->text_sent, len);
		c->text_sent += len;
	}
	c->text_itt = itt;
	iscsi_ctl_send(c, ctl, len);
	if (!more)
		text_reset(c);
	return 0;
}

/* ---- SendTargets ---- */

static bool addr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

static uint16_t addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/*
 * TargetAddress values: every portal with its portal group tag (§13.9), a wildcard one
 * (0.0.0.0, ::) replaced by the address this connection reached, portals of the other family
 * left out when wildcard; duplicates dropped. With no portal recorded, the connection's own
 * address in group 1.
 */
static void text_addresses(struct iscsi_conn *c, struct iscsi_text *out)
{
	struct iscsi_portal portals[ISCSI_PORTALS_MAX];
	char seen[ISCSI_PORTALS_MAX + 1][72];
	unsigned int nr = iscsi_lld_portals(c->lld, portals, ISCSI_PORTALS_MAX), nseen = 0;

	if (!nr) {
		portals[0].addr = c->local;
		portals[0].tpgt = 1;
		nr = 1;
	}
	for (unsigned int i = 0; i < nr; i++) {
		struct sockaddr_storage a = portals[i].addr;
		char buf[72], val[80];
		bool dup = false;

		if (addr_is_any(&a)) {
			uint16_t port = addr_port(&a);

			/* :: also serves IPv4-mapped peers of a dual-stack socket */
			if (a.ss_family != c->local.ss_family)
				continue;
			a = c->local;
			addr_set_port(&a, port);
		}
		iscsi_sockaddr_str((struct sockaddr *)&a, buf, sizeof(buf), true);
		for (unsigned int k = 0; k < nseen; k++)
			dup |= !strcmp(seen[k], buf);
		if (dup)
			continue;
		str_copy(seen[nseen++], buf, sizeof(seen[0]));
		snprintf(val, sizeof(val), "%s,%u", buf, portals[i].tpgt);
		iscsi_text_add(out, "TargetAddress", val);
	}
}

/* Adds name and its addresses if this initiator may see it. */
static void text_target(struct iscsi_conn *c, const char *name, struct iscsi_text *out)
{
	struct core_target *tgt = core_target_get_by_name(c->lld->root, name);

	if (!tgt)
		return;
	if (core_acl_allows(tgt, (struct sockaddr *)&c->peer, c->sess->initiator)) {
		iscsi_text_add(out, "TargetName", tgt->name);
		text_addresses(c, out);
	}
	core_target_put(tgt);
}

static int text_sendtargets(struct iscsi_conn *c, const char *val, struct iscsi_text *out)
{
	struct iscsi_sess *s = c->sess;
	char (*names)[224];
	unsigned int nr;

	if (strcmp(val, "All") && *val && !iscsi_name_is_valid(val))
		return iscsi_text_add(out, "SendTargets", "Reject");
	if (!s->discovery) {
		/* a normal session reports the target it is logged in to (appendix C) */
		if (!strcmp(val, "All") || !*val || !strcmp(val, s->tgt->name))
			text_target(c, s->tgt->name, out);
		return 0;
	}
	if (!*val)
		return 0;
	if (strcmp(val, "All")) {
		text_target(c, val, out);
		return 0;
	}
	names = calloc(TEXT_MAX_TARGETS, sizeof(*names));
	if (!names)
		return -ENOMEM;
	nr = iscsi_lld_target_names(c->lld, names, TEXT_MAX_TARGETS);
	for (unsigned int i = 0; i < nr && !out->overflow; i++)
		text_target(c, names[i], out);
	free(names);
	return 0;
}

/* ---- request ---- */

static int text_process(struct iscsi_conn *c, char *req, size_t len, struct iscsi_text *out)
{
	struct iscsi_negot ng;
	struct iscsi_kv kv;
	size_t off = 0;
	int ret;

	iscsi_negot_init(&ng, &c->sess->p, c->sess->discovery);
	ng.xmit_cap = c->sess->p.v[ISCSI_PARAM_MAX_XMIT_DSL];
	while ((ret = iscsi_text_next(req, len, &off, &kv)) == 1) {
		ret = iscsi_negot_key(&ng, ISCSI_NEG_FFP, kv.key, kv.val, out);
		if (ret == ISCSI_KEY_SPECIAL) {
			if (!strcmp(kv.key, "SendTargets"))
				ret = text_sendtargets(c, kv.val, out);
			else
				ret = iscsi_text_add(out, kv.key, "Irrelevant");
		}
		if (ret < 0 && ret != -ENOSPC)
			return ret;
		if (!strcmp(kv.key, "MaxRecvDataSegmentLength") &&
		    ng.p.v[ISCSI_PARAM_MAX_XMIT_DSL] != c->sess->p.v[ISCSI_PARAM_MAX_XMIT_DSL])
			c->max_xmit_dsl = iscsi_negot_xmit_dsl(&ng); /* declared again (§13.12) */
	}
	return ret;
}

/* Gathers a request that spans PDUs (C=1); returns 1 once complete. */
static int text_gather(struct iscsi_conn *c, const uint8_t *data, uint32_t dsl, bool more)
{
	if (!c->text_req) {
		c->text_req = malloc(ISCSI_TEXT_MAX);
		if (!c->text_req)
			return -ENOMEM;
		c->text_req_len = 0;
	}
	if (dsl > ISCSI_TEXT_MAX - c->text_req_len)
		return -EMSGSIZE;
	if (dsl)
		memcpy(c->text_req + c->text_req_len, data, dsl);
	c->text_req_len += dsl;
	return more ? 0 : 1;
}

static int text_answer(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_text out;
	int ret;

	c->text_buf = malloc(ISCSI_TEXT_MAX);
	if (!c->text_buf)
		return -ENOMEM;
	iscsi_text_init(&out, c->text_buf, ISCSI_TEXT_MAX);
	ret = text_process(c, c->text_req, c->text_req_len, &out);
	free(c->text_req);
	c->text_req = NULL;
	c->text_req_len = 0;
	if (ret < 0) {
		text_reset(c);
		return ret;
	}
	c->text_len = out.len;
	c->text_sent = 0;
	return text_send_piece(c, itt, false);
}

int iscsi_text_rx(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data)
{
	const struct iscsi_text_hdr *h = (const struct iscsi_text_hdr *)bhs;
	uint32_t itt = get_be32(h->itt), ttt = get_be32(h->ttt), dsl = get_be24(h->dsl);
	bool more = h->flags & ISCSI_FLAG_CONTINUE;
	int ret;

	if (ttt != ISCSI_RSVD_TAG) {
		if (ttt != c->text_ttt || itt != c->text_itt) {
			iscsi_conn_reject(c, bhs, ISCSI_REJECT_INVALID_FIELD);
			return 0;
		}
		if (c->text_buf)
			return text_send_piece(c, itt, false); /* the initiator asks for more */
	} else {
		text_reset(c); /* a new request ends any earlier exchange (§11.10.4) */
	}
	ret = dsl && !data ? -ENOMEM : text_gather(c, data, dsl, more);
	if (ret == 0) {
		c->text_len = c->text_sent = 0;
		return text_send_piece(c, itt, true); /* empty answer: send the rest */
	}
	if (ret < 0) {
		text_reset(c);
		iscsi_conn_reject(c, bhs, ret == -EMSGSIZE ? ISCSI_REJECT_PROTOCOL :
							      ISCSI_REJECT_OUT_OF_RES);
		return 0;
	}
	ret = text_answer(c, itt);
	if (ret == -EINVAL) {
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_INVALID_FIELD); /* malformed text */
		return 0;
	}
	return ret;
}
