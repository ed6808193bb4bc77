/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CHAP accounts (tgtadm --mode account): user/secret pairs kept by the root, and their bindings
 * to targets, incoming (the initiator proves itself) or outgoing (the target proves itself in
 * mutual CHAP). tid CORE_ACCOUNT_GLOBAL binds for discovery sessions. A target has at most one
 * outgoing account. Secrets leave this file only through core_account_*_secret, into a caller
 * buffer, and are wiped when the account is deleted. root->acct_lock guards everything here.
 */
#include "core/core_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct core_account {
	struct list_head entry;        /* root->accounts, creation order */
	char user[CORE_ACCOUNT_USER_MAX + 1];
	char secret[CORE_ACCOUNT_SECRET_MAX + 1];
	uint32_t nr_binds;
	struct {
		uint32_t tid;
		bool outgoing;
	} binds[CORE_ACCOUNT_BINDS_MAX];
};

static struct core_account *account_find_locked(struct core_root *root, const char *user)
{
	struct core_account *a;

	list_for_each_entry(a, &root->accounts, entry) {
		if (!strcmp(a->user, user))
			return a;
	}
	return NULL;
}

static int account_bind_idx(const struct core_account *a, uint32_t tid, bool outgoing)
{
	for (uint32_t i = 0; i < a->nr_binds; i++) {
		if (a->binds[i].tid == tid && a->binds[i].outgoing == outgoing)
			return (int)i;
	}
	return -1;
}

static void account_wipe(struct core_account *a)
{
	explicit_bzero(a->secret, sizeof(a->secret));
	free(a);
}

int core_account_new(struct core_root *root, const char *user, const char *secret)
{
	struct core_account *a;
	size_t ulen = strlen(user), slen = strlen(secret);
	int ret = 0;

	if (!ulen || ulen > CORE_ACCOUNT_USER_MAX || !slen || slen > CORE_ACCOUNT_SECRET_MAX)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	memcpy(a->user, user, ulen);
	memcpy(a->secret, secret, slen);
	pthread_mutex_lock(&root->acct_lock);
	if (account_find_locked(root, user))
		ret = -EEXIST;
	else if (root->nr_accounts >= CORE_ACCOUNTS_MAX)
		ret = -ENOSPC;
	if (!ret) {
		list_add_tail(&a->entry, &root->accounts);
		root->nr_accounts++;
	}
	pthread_mutex_unlock(&root->acct_lock);
	if (ret)
		account_wipe(a);
	return ret;
}

int core_account_delete(struct core_root *root, const char *user)
{
	struct core_account *a;

	pthread_mutex_lock(&root->acct_lock);
	a = account_find_locked(root, user);
	if (a) {
		list_del(&a->entry);
		root->nr_accounts--;
	}
	pthread_mutex_unlock(&root->acct_lock);
	if (!a)
		return -ENOENT;
	account_wipe(a);
	return 0;
}

static bool account_has_outgoing_locked(struct core_root *root, uint32_t tid)
{
	struct core_account *a;

	list_for_each_entry(a, &root->accounts, entry) {
		if (account_bind_idx(a, tid, true) >= 0)
			return true;
	}
	return false;
}

int core_account_bind(struct core_root *root, uint32_t tid, const char *user, bool outgoing)
{
	struct core_account *a;
	int ret = 0;

	pthread_mutex_lock(&root->acct_lock);
	a = account_find_locked(root, user);
	if (!a)
		ret = -ENOENT;
	else if (account_bind_idx(a, tid, outgoing) >= 0)
		ret = -EEXIST;
	else if (outgoing && account_has_outgoing_locked(root, tid))
		ret = -EBUSY;
	else if (a->nr_binds >= CORE_ACCOUNT_BINDS_MAX)
		ret = -ENOSPC;
	if (!ret) {
		a->binds[a->nr_binds].tid = tid;
		a->binds[a->nr_binds].outgoing = outgoing;
		a->nr_binds++;
	}
	pthread_mutex_unlock(&root->acct_lock);
	return ret;
}

static void account_unbind_at(struct core_account *a, int idx)
{
	a->binds[idx] = a->binds[a->nr_binds - 1];
	a->nr_binds--;
}

int core_account_unbind(struct core_root *root, uint32_t tid, const char *user, bool outgoing)
{
	struct core_account *a;
	int ret = 0, idx = -1;

	pthread_mutex_lock(&root->acct_lock);
	a = account_find_locked(root, user);
	if (!a)
		ret = -ENOENT;
	else if ((idx = account_bind_idx(a, tid, outgoing)) < 0)
		ret = -ENODATA;
	else
		account_unbind_at(a, idx);
	pthread_mutex_unlock(&root->acct_lock);
	return ret;
}

void core_account_target_gone(struct core_root *root, uint32_t tid)
{
	struct core_account *a;
	int idx;

	if (tid == CORE_ACCOUNT_GLOBAL)
		return;
	pthread_mutex_lock(&root->acct_lock);
	list_for_each_entry(a, &root->accounts, entry) {
		for (bool out = false;; out = true) {
			idx = account_bind_idx(a, tid, out);
			if (idx >= 0)
				account_unbind_at(a, idx);
			if (out)
				break;
		}
	}
	pthread_mutex_unlock(&root->acct_lock);
}

void core_account_foreach(struct core_root *root, core_account_fn fn, void *arg)
{
	struct core_account *a;

	pthread_mutex_lock(&root->acct_lock);
	list_for_each_entry(a, &root->accounts, entry)
		fn(a->user, false, arg);
	pthread_mutex_unlock(&root->acct_lock);
}

void core_account_foreach_bound(struct core_root *root, uint32_t tid, core_account_fn fn,
				void *arg)
{
	struct core_account *a;

	pthread_mutex_lock(&root->acct_lock);
	/* incoming accounts first, then the outgoing one, as tgt lists them */
	for (int pass = 0; pass < 2; pass++) {
		list_for_each_entry(a, &root->accounts, entry) {
			if (account_bind_idx(a, tid, pass == 1) >= 0)
				fn(a->user, pass == 1, arg);
		}
	}
	pthread_mutex_unlock(&root->acct_lock);
}

bool core_account_required(struct core_root *root, uint32_t tid)
{
	struct core_account *a;
	bool found = false;

	pthread_mutex_lock(&root->acct_lock);
	list_for_each_entry(a, &root->accounts, entry) {
		if (account_bind_idx(a, tid, false) >= 0) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&root->acct_lock);
	return found;
}

static size_t account_copy_secret(const struct core_account *a, uint8_t *secret, size_t cap)
{
	size_t len = strlen(a->secret);

	if (len > cap)
		return 0;
	memcpy(secret, a->secret, len);
	return len;
}

int core_account_in_secret(struct core_root *root, uint32_t tid, const char *user,
			   uint8_t *secret, size_t cap, size_t *len)
{
	struct core_account *a;
	int ret = -ENOENT;

	pthread_mutex_lock(&root->acct_lock);
	a = account_find_locked(root, user);
	if (a && account_bind_idx(a, tid, false) >= 0) {
		*len = account_copy_secret(a, secret, cap);
		ret = *len ? 0 : -ENOSPC;
	}
	pthread_mutex_unlock(&root->acct_lock);
	return ret;
}

int core_account_out_secret(struct core_root *root, uint32_t tid, char *user, size_t ucap,
			    uint8_t *secret, size_t cap, size_t *len)
{
	struct core_account *a;
	int ret = -ENOENT;

	pthread_mutex_lock(&root->acct_lock);
	list_for_each_entry(a, &root->accounts, entry) {
		if (account_bind_idx(a, tid, true) < 0)
			continue;
		*len = account_copy_secret(a, secret, cap);
		ret = *len && str_copy(user, a->user, ucap) < ucap ? 0 : -ENOSPC;
		break;
	}
	pthread_mutex_unlock(&root->acct_lock);
	return ret;
}

void core_account_free_all(struct core_root *root)
{
	struct core_account *a, *tmp;

	list_for_each_entry_safe(a, tmp, &root->accounts, entry) {
		list_del(&a->entry);
		account_wipe(a);
	}
	root->nr_accounts = 0;
}
