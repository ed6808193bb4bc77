/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Targets: creation with the LUN 0 controller, deletion (refused while sessions exist unless
 * forced), lookup by tid for the management thread and by name (with a reference) for logins.
 * A deleted target leaves the root's list at once and is freed when its last session drops
 * its reference.
 */
#include "core/core_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool target_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= sizeof(((struct core_target *)0)->name))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

static struct core_target *target_find_locked(struct core_root *root, uint32_t tid,
					      const char *name)
{
	struct core_target *tgt;

	list_for_each_entry(tgt, &root->targets, entry) {
		if (tgt->tid == tid || (name && !strcmp(tgt->name, name)))
			return tgt;
	}
	return NULL;
}

static void target_link_sorted(struct core_root *root, struct core_target *tgt)
{
	struct core_target *pos;

	list_for_each_entry(pos, &root->targets, entry) {
		if (pos->tid > tgt->tid) {
			list_add_tail(&tgt->entry, &pos->entry);
			return;
		}
	}
	list_add_tail(&tgt->entry, &root->targets);
}

int core_target_new(struct core_root *root, uint32_t tid, const char *name,
		    struct core_target **out)
{
	struct core_lu_params lu0 = { .device_type = "controller" };
	struct core_target *tgt;
	int ret;

	if (tid == 0 || !target_name_valid(name))
		return -EINVAL;
	tgt = calloc(1, sizeof(*tgt));
	if (!tgt)
		return -ENOMEM;
	tgt->root = root;
	tgt->tid = tid;
	str_copy(tgt->name, name, sizeof(tgt->name));
	tgt->ready = true;
	atomic_init(&tgt->refs, 1);
	pthread_rwlock_init(&tgt->lock, NULL);
	list_init(&tgt->luns);
	list_init(&tgt->acls);
	list_init(&tgt->nexuses);
	core_alua_init(&tgt->alua);

	pthread_mutex_lock(&root->lock);
	if (target_find_locked(root, tid, name)) {
		pthread_mutex_unlock(&root->lock);
		core_target_free(tgt);
		return -EEXIST;
	}
	target_link_sorted(root, tgt);
	pthread_mutex_unlock(&root->lock);

	if (core_devtype_find(root, "controller")) {
		ret = core_lu_new(tgt, 0, &lu0, NULL);
		if (ret < 0) {
			core_target_delete(root, tid, true);
			return ret;
		}
	}
	if (out)
		*out = tgt;
	return 0;
}

unsigned int core_target_nexus_count(struct core_target *tgt)
{
	struct core_nexus *n;
	unsigned int count = 0;

	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry)
		count++;
	pthread_rwlock_unlock(&tgt->lock);
	return count;
}

static void target_close_nexuses(struct core_target *tgt)
{
	struct core_nexus *n;

	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry) {
		if (n->ops && n->ops->close)
			n->ops->close(n, 0, true);
	}
	pthread_rwlock_unlock(&tgt->lock);
}

int core_target_delete(struct core_root *root, uint32_t tid, bool force)
{
	struct core_target *tgt;

	pthread_mutex_lock(&root->lock);
	tgt = target_find_locked(root, tid, NULL);
	if (!tgt) {
		pthread_mutex_unlock(&root->lock);
		return -ENOENT;
	}
	if (!force && core_target_nexus_count(tgt) > 0) {
		pthread_mutex_unlock(&root->lock);
		return -EBUSY;
	}
	list_del(&tgt->entry);
	tgt->deleted = true;
	pthread_mutex_unlock(&root->lock);
	core_account_target_gone(root, tid);

	target_close_nexuses(tgt);
	core_target_put(tgt);
	return 0;
}

struct core_target *core_target_find(struct core_root *root, uint32_t tid)
{
	struct core_target *tgt;

	pthread_mutex_lock(&root->lock);
	tgt = target_find_locked(root, tid, NULL);
	pthread_mutex_unlock(&root->lock);
	return tgt;
}

struct core_target *core_target_next(struct core_root *root, uint32_t tid)
{
	struct core_target *tgt, *found = NULL;

	pthread_mutex_lock(&root->lock);
	list_for_each_entry(tgt, &root->targets, entry) {
		if (tgt->tid > tid) {
			found = tgt;
			break;
		}
	}
	pthread_mutex_unlock(&root->lock);
	return found;
}

struct core_target *core_target_get_by_name(struct core_root *root, const char *name)
{
	struct core_target *tgt, *found = NULL;

	pthread_mutex_lock(&root->lock);
	list_for_each_entry(tgt, &root->targets, entry) {
		if (!strcmp(tgt->name, name)) {
			found = tgt;
			core_target_get(tgt);
			break;
		}
	}
	pthread_mutex_unlock(&root->lock);
	return found;
}

void core_target_get(struct core_target *tgt)
{
	atomic_fetch_add(&tgt->refs, 1);
}

void core_target_put(struct core_target *tgt)
{
	if (atomic_fetch_sub(&tgt->refs, 1) == 1)
		core_target_free(tgt);
}

void core_target_free(struct core_target *tgt)
{
	struct core_lu *lu, *ltmp;
	struct core_acl *acl, *atmp;

	list_for_each_entry_safe(lu, ltmp, &tgt->luns, entry) {
		list_del(&lu->entry);
		core_lu_put(lu);
	}
	list_for_each_entry_safe(acl, atmp, &tgt->acls, entry) {
		list_del(&acl->entry);
		free(acl);
	}
	if (tgt->lld_free)
		tgt->lld_free(tgt->lld_priv);
	pthread_rwlock_destroy(&tgt->lock);
	core_alua_fini(&tgt->alua);
	free(tgt);
}
