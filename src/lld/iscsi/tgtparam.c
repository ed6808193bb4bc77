/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-target string parameters set with utgtadm --mode target --op update: TargetAlias
 * (declared at login, §13.6) and portal redirection like tgt's RedirectAddress,
 * RedirectPort and RedirectReason (Temporary or Permanent): a login to a redirected target
 * answers status 01/01 or 01/02 with the TargetAddress to use (§11.13.5, §13.8).
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum tstr_key { TSTR_ALIAS, TSTR_RADDR, TSTR_RPORT, TSTR_RREASON };

static const char *const tstr_names[] = {
	[TSTR_ALIAS] = "TargetAlias",
	[TSTR_RADDR] = "RedirectAddress",
	[TSTR_RPORT] = "RedirectPort",
	[TSTR_RREASON] = "RedirectReason",
};

static int tstr_find(const char *key)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(tstr_names); i++) {
		if (!strcasecmp(key, tstr_names[i]))
			return (int)i;
	}
	return -ENOENT;
}

/* A value safe inside login text: printable ASCII, bounded. */
static bool tstr_value_ok(const char *v, size_t max)
{
	size_t n = strnlen(v, max + 1);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < 0x20 || v[i] > 0x7e)
			return false;
	}
	return true;
}

static int tstr_store(struct iscsi_tgt_str *s, int k, const char *v)
{
	uint64_t port;

	switch (k) {
	case TSTR_ALIAS:
		if (!tstr_value_ok(v, sizeof(s->alias) - 1))
			return -EINVAL;
		str_copy(s->alias, v, sizeof(s->alias));
		return 0;
	case TSTR_RADDR:
		/* a host name or address; brackets are added for IPv6 when answering */
		if (!tstr_value_ok(v, sizeof(s->raddr) - 1) || strpbrk(v, ",[] "))
			return -EINVAL;
		str_copy(s->raddr, v, sizeof(s->raddr));
		return 0;
	case TSTR_RPORT:
		if (!*v) {
			s->rport = 0;
			return 0;
		}
		if (iscsi_parse_number(v, 65535, &port) || port == 0)
			return -EINVAL;
		s->rport = (uint16_t)port;
		return 0;
	default:
		if (!*v || !strcasecmp(v, "Temporary"))
			s->rpermanent = false;
		else if (!strcasecmp(v, "Permanent"))
			s->rpermanent = true;
		else
			return -EINVAL;
		return 0;
	}
}

int iscsi_tgt_str_set(struct iscsi_tgt *it, const char *key, const char *value)
{
	int k = tstr_find(key), ret;

	if (k < 0)
		return k;
	pthread_mutex_lock(&it->lock);
	ret = tstr_store(&it->str, k, value);
	pthread_mutex_unlock(&it->lock);
	return ret;
}

void iscsi_tgt_str_foreach(struct iscsi_tgt *it, iscsi_param_fn fn, void *arg)
{
	struct iscsi_tgt_str s;
	char port[8];

	pthread_mutex_lock(&it->lock);
	s = it->str;
	pthread_mutex_unlock(&it->lock);
	/* shown only when set, so tgt's show layout stays as it was */
	if (s.alias[0])
		fn("TargetAlias", s.alias, arg);
	if (s.raddr[0]) {
		snprintf(port, sizeof(port), "%u", s.rport ? s.rport : 3260u);
		fn("RedirectAddress", s.raddr, arg);
		fn("RedirectPort", port, arg);
		fn("RedirectReason", s.rpermanent ? "Permanent" : "Temporary", arg);
	}
}

static bool tgt_str_get(struct core_target *tgt, struct iscsi_tgt_str *out)
{
	struct iscsi_tgt *it = tgt->lld_priv;

	if (!it)
		return false;
	pthread_mutex_lock(&it->lock);
	*out = it->str;
	pthread_mutex_unlock(&it->lock);
	return true;
}

void iscsi_tgt_alias(struct core_target *tgt, char *out, size_t cap)
{
	struct iscsi_tgt_str s;

	out[0] = '\0';
	if (tgt_str_get(tgt, &s))
		str_copy(out, s.alias, cap);
}

uint16_t iscsi_tgt_redirect(struct core_target *tgt, char *addr, size_t cap)
{
	struct iscsi_tgt_str s;
	bool v6;

	if (!tgt_str_get(tgt, &s) || !s.raddr[0])
		return ISCSI_LOGIN_OK;
	v6 = strchr(s.raddr, ':') != NULL;
	snprintf(addr, cap, "%s%s%s:%u,1", v6 ? "[" : "", s.raddr, v6 ? "]" : "",
		 s.rport ? s.rport : 3260u);
	return s.rpermanent ? ISCSI_LOGIN_MOVED_PERM : ISCSI_LOGIN_MOVED_TEMP;
}
