/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-target access control (tgtadm bind/unbind). Address rules ("ALL", an IPv4 or IPv6
 * address, a CIDR prefix, IPv6 optionally in brackets) and initiator-name rules. Unlike tgt,
 * which admits a login matching either list, a target with both kinds of rules requires both
 * to match: naming initiators must never widen who may connect.
 */
#include "core/core_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool acl_host_bits_clear(const uint8_t *addr, unsigned int len, unsigned int prefix)
{
	for (unsigned int bit = prefix; bit < len * 8; bit++) {
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	}
	return true;
}

int core_acl_parse_addr(const char *text, struct core_acl *acl)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *slash = strchr(text, '/');
	size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned int maxbits;
	uint64_t prefix;

	memset(acl, 0, sizeof(*acl));
	acl->kind = CORE_ACL_ADDR;
	if (str_copy(acl->text, text, sizeof(acl->text)) >= sizeof(acl->text))
		return -EINVAL;
	if (!strcmp(text, "ALL")) {
		acl->all = true;
		return 0;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (host[0] == '[') {
		if (hlen < 3 || host[hlen - 1] != ']')
			return -EINVAL;
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, acl->addr) != 1)
			return -EINVAL;
		acl->family = AF_INET6;
	} else if (inet_pton(AF_INET, host, acl->addr) == 1) {
		acl->family = AF_INET;
	} else if (inet_pton(AF_INET6, host, acl->addr) == 1) {
		acl->family = AF_INET6;
	} else {
		return -EINVAL;
	}
	maxbits = acl->family == AF_INET ? 32 : 128;
	acl->prefix = maxbits;
	if (slash) {
		if (str_to_u64(slash + 1, 0, maxbits, &prefix) < 0)
			return -EINVAL;
		acl->prefix = (unsigned int)prefix;
		if (!acl_host_bits_clear(acl->addr, maxbits / 8, acl->prefix))
			return -EINVAL;
	}
	return 0;
}

static bool acl_same(const struct core_acl *a, enum core_acl_kind kind, const char *text)
{
	return a->kind == kind && !strcmp(a->text, text);
}

int core_acl_add(struct core_target *tgt, enum core_acl_kind kind, const char *text)
{
	struct core_acl *acl = calloc(1, sizeof(*acl)), *pos;
	int ret = 0;

	if (!acl)
		return -ENOMEM;
	if (kind == CORE_ACL_ADDR) {
		ret = core_acl_parse_addr(text, acl);
	} else {
		acl->kind = CORE_ACL_NAME;
		if (!*text || str_copy(acl->text, text, sizeof(acl->text)) >= sizeof(acl->text))
			ret = -EINVAL;
	}
	if (ret < 0) {
		free(acl);
		return ret;
	}
	pthread_rwlock_wrlock(&tgt->lock);
	list_for_each_entry(pos, &tgt->acls, entry) {
		if (acl_same(pos, kind, text)) {
			pthread_rwlock_unlock(&tgt->lock);
			free(acl);
			return -EEXIST;
		}
	}
	/* address rules first, then name rules, each in the order added (tgt's show order) */
	if (kind == CORE_ACL_ADDR) {
		list_for_each_entry(pos, &tgt->acls, entry) {
			if (pos->kind == CORE_ACL_NAME)
				break;
		}
		list_add_tail(&acl->entry, &pos->entry);
	} else {
		list_add_tail(&acl->entry, &tgt->acls);
	}
	pthread_rwlock_unlock(&tgt->lock);
	return 0;
}

int core_acl_del(struct core_target *tgt, enum core_acl_kind kind, const char *text)
{
	struct core_acl *pos;

	pthread_rwlock_wrlock(&tgt->lock);
	list_for_each_entry(pos, &tgt->acls, entry) {
		if (acl_same(pos, kind, text)) {
			list_del(&pos->entry);
			pthread_rwlock_unlock(&tgt->lock);
			free(pos);
			return 0;
		}
	}
	pthread_rwlock_unlock(&tgt->lock);
	return -ENOENT;
}

static bool acl_addr_match(const struct core_acl *acl, const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *peer;
	int family;

	if (acl->all)
		return true;
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		peer = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		peer = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		family = AF_INET6;
		if (acl->family == AF_INET && !memcmp(peer, v4mapped, 12)) {
			peer += 12;
			family = AF_INET;
		}
	} else {
		return false;
	}
	if (family != acl->family)
		return false;
	for (unsigned int bit = 0; bit < acl->prefix; bit++) {
		uint8_t mask = 0x80 >> (bit % 8);

		if ((peer[bit / 8] & mask) != (acl->addr[bit / 8] & mask))
			return false;
	}
	return true;
}

bool core_acl_allows(struct core_target *tgt, const struct sockaddr *addr,
		     const char *initiator_name)
{
	bool have_addr = false, have_name = false, addr_ok = false, name_ok = false;
	struct core_acl *acl;

	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(acl, &tgt->acls, entry) {
		if (acl->kind == CORE_ACL_ADDR) {
			have_addr = true;
			addr_ok = addr_ok || acl_addr_match(acl, addr);
		} else {
			have_name = true;
			name_ok = name_ok || (initiator_name && !strcmp(acl->text, initiator_name));
		}
	}
	pthread_rwlock_unlock(&tgt->lock);
	if (!have_addr && !have_name)
		return false;
	return (!have_addr || addr_ok) && (!have_name || name_ok);
}
