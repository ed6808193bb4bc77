/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Driver-wide limits against one initiator hogging the target: how long a login may take
 * (login_timeout) and how many connections one initiator address may hold
 * (max_initiator_conns, counted in a small table under its own lock: connections are created
 * and freed on every data reactor). The per-target session cap (max_sessions) is a target
 * parameter checked when a session is linked (session.c).
 */
#include "lld/iscsi/iscsi_int.h"
#include "lld/iscsi/isns.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct iscsi_addr_count {
	uint8_t addr[16];                /* IPv4 as a v4-mapped IPv6 address */
	uint32_t conns;
};

static const struct {
	const char *name;
	size_t off;                      /* in struct iscsi_limits */
	uint32_t min, max, scale;        /* value given in units of scale (ms per s) */
} iscsi_limit_tab[] = {
	{ "login_timeout", offsetof(struct iscsi_limits, login_timeout_ms), 1, 3600, 1000 },
	{ "max_initiator_conns", offsetof(struct iscsi_limits, initiator_conns), 1,
	  ISCSI_CONNS_MAX, 1 },
};

static atomic_uint *iscsi_limit_ptr(struct iscsi_lld *lld, unsigned int i)
{
	return (atomic_uint *)((char *)&lld->limits + iscsi_limit_tab[i].off);
}

int iscsi_limits_init(struct iscsi_lld *lld)
{
	atomic_init(&lld->limits.login_timeout_ms, ISCSI_LOGIN_TIMEOUT_MS);
	atomic_init(&lld->limits.initiator_conns, ISCSI_DEF_INITIATOR_CONNS);
	pthread_mutex_init(&lld->limits.lock, NULL);
	lld->limits.addrs = calloc(ISCSI_CONNS_MAX, sizeof(*lld->limits.addrs));
	return lld->limits.addrs ? 0 : -ENOMEM;
}

void iscsi_limits_fini(struct iscsi_lld *lld)
{
	pthread_mutex_destroy(&lld->limits.lock);
	free(lld->limits.addrs);
	lld->limits.addrs = NULL;
}

int iscsi_lld_limit_set(struct iscsi_lld *lld, const char *name, const char *value)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(iscsi_limit_tab); i++) {
		uint64_t v;

		if (strcasecmp(name, iscsi_limit_tab[i].name))
			continue;
		if (str_to_u64(value, iscsi_limit_tab[i].min, iscsi_limit_tab[i].max, &v))
			return -EINVAL;
		atomic_store(iscsi_limit_ptr(lld, i), (unsigned int)v * iscsi_limit_tab[i].scale);
		return 0;
	}
	/* iSNS, iSNSServerIP, iSNSServerPort, iSNSAccessControl (isns.c) */
	return iscsi_isns_param_set(lld, name, value);
}

void iscsi_lld_limit_foreach(struct iscsi_lld *lld, iscsi_param_fn fn, void *arg)
{
	char buf[16];

	for (unsigned int i = 0; i < ARRAY_SIZE(iscsi_limit_tab); i++) {
		snprintf(buf, sizeof(buf), "%u",
			 atomic_load(iscsi_limit_ptr(lld, i)) / iscsi_limit_tab[i].scale);
		fn(iscsi_limit_tab[i].name, buf, arg);
	}
}

uint64_t iscsi_lld_login_timeout_ms(struct iscsi_lld *lld)
{
	unsigned int ms = atomic_load(&lld->limits.login_timeout_ms);

	return ms ? ms : ISCSI_LOGIN_TIMEOUT_MS;
}

/* The counting key of an address: false for anything but IPv4/IPv6 (not counted). */
static bool iscsi_addr_key(const struct sockaddr_storage *ss, uint8_t key[16])
{
	if (ss->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return true;
	}
	if (ss->ss_family == AF_INET) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return true;
	}
	return false;
}

static struct iscsi_addr_count *iscsi_addr_find(struct iscsi_lld *lld, const uint8_t key[16])
{
	for (unsigned int i = 0; i < lld->limits.nr_addrs; i++) {
		if (!memcmp(lld->limits.addrs[i].addr, key, 16))
			return &lld->limits.addrs[i];
	}
	return NULL;
}

int iscsi_lld_addr_get(struct iscsi_lld *lld, const struct sockaddr_storage *peer)
{
	struct iscsi_limits *lim = &lld->limits;
	struct iscsi_addr_count *e;
	uint8_t key[16];
	int ret = 0;

	if (!iscsi_addr_key(peer, key) || !lim->addrs)
		return 0;
	pthread_mutex_lock(&lim->lock);
	e = iscsi_addr_find(lld, key);
	if (!e && lim->nr_addrs < ISCSI_CONNS_MAX) {
		e = &lim->addrs[lim->nr_addrs++];
		memcpy(e->addr, key, 16);
		e->conns = 0;
	}
	if (!e || e->conns >= atomic_load(&lim->initiator_conns))
		ret = -EUSERS;
	else
		e->conns++;
	pthread_mutex_unlock(&lim->lock);
	return ret;
}

void iscsi_lld_addr_put(struct iscsi_lld *lld, const struct sockaddr_storage *peer)
{
	struct iscsi_limits *lim = &lld->limits;
	struct iscsi_addr_count *e;
	uint8_t key[16];

	if (!iscsi_addr_key(peer, key) || !lim->addrs)
		return;
	pthread_mutex_lock(&lim->lock);
	e = iscsi_addr_find(lld, key);
	if (e && e->conns && --e->conns == 0)
		*e = lim->addrs[--lim->nr_addrs];
	pthread_mutex_unlock(&lim->lock);
}

unsigned int iscsi_lld_addr_conns(struct iscsi_lld *lld, const struct sockaddr_storage *peer)
{
	struct iscsi_addr_count *e;
	unsigned int n = 0;
	uint8_t key[16];

	if (!iscsi_addr_key(peer, key) || !lld->limits.addrs)
		return 0;
	pthread_mutex_lock(&lld->limits.lock);
	e = iscsi_addr_find(lld, key);
	if (e)
		n = e->conns;
	pthread_mutex_unlock(&lld->limits.lock);
	return n;
}
