/* SPDX-License-Identifier: GPL-2.0-only */
/* The core's root object: the target list, system state and the registered device types and
 * backing stores (filled by the daemon at start-up, read-only afterwards). */
#include "core/core_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int core_root_new(struct core_root **out)
{
	struct core_root *root = calloc(1, sizeof(*root));

	if (!root)
		return -ENOMEM;
	pthread_mutex_init(&root->lock, NULL);
	list_init(&root->targets);
	pthread_mutex_init(&root->acct_lock, NULL);
	list_init(&root->accounts);
	atomic_store(&root->ready, true);
	*out = root;
	return 0;
}

void core_root_free(struct core_root *root)
{
	struct core_target *tgt, *tmp;

	if (!root)
		return;
	list_for_each_entry_safe(tgt, tmp, &root->targets, entry) {
		list_del(&tgt->entry);
		tgt->deleted = true;
		core_target_put(tgt);
	}
	pthread_mutex_destroy(&root->lock);
	core_account_free_all(root);
	pthread_mutex_destroy(&root->acct_lock);
	free(root->state_dir);
	free(root);
}

int core_root_set_state_dir(struct core_root *root, const char *dir)
{
	char *copy = NULL;

	if (dir && *dir && !(copy = strdup(dir)))
		return -ENOMEM;
	free(root->state_dir);
	root->state_dir = copy;
	return 0;
}

const char *core_root_state_dir(const struct core_root *root)
{
	return root->state_dir;
}

void core_root_add_devtype(struct core_root *root, const struct core_devtype *dt)
{
	if (root->nr_devtypes < CORE_MAX_DEVTYPES)
		root->devtypes[root->nr_devtypes++] = dt;
}

void core_root_add_bs(struct core_root *root, const struct core_bs *bs)
{
	if (root->nr_bs < CORE_MAX_BS)
		root->bss[root->nr_bs++] = bs;
}

void core_root_set_nolu(struct core_root *root, const struct core_devtype *dt)
{
	root->nolu = dt;
}

const struct core_devtype *core_devtype_find(const struct core_root *root, const char *name)
{
	for (unsigned int i = 0; i < root->nr_devtypes; i++) {
		if (!strcmp(root->devtypes[i]->name, name))
			return root->devtypes[i];
	}
	return NULL;
}

const struct core_bs *core_bs_find(const struct core_root *root, const char *name)
{
	for (unsigned int i = 0; i < root->nr_bs; i++) {
		if (!strcmp(root->bss[i]->name, name))
			return root->bss[i];
	}
	return NULL;
}

const struct core_devtype *core_devtype_at(const struct core_root *root, unsigned int i)
{
	return i < root->nr_devtypes ? root->devtypes[i] : NULL;
}

const struct core_bs *core_bs_at(const struct core_root *root, unsigned int i)
{
	return i < root->nr_bs ? root->bss[i] : NULL;
}

bool core_root_is_ready(const struct core_root *root)
{
	return atomic_load(&((struct core_root *)root)->ready);
}

void core_root_set_ready(struct core_root *root, bool ready)
{
	atomic_store(&root->ready, ready);
}
