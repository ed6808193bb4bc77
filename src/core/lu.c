/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logical units: creation (device type + backing store), deletion, per-command references
 * and the generic --params keys. An LU is linked in its target's sorted list (tgt->lock) and
 * freed, closing its backing store, when the list's reference and every command's are gone.
 */
#include "core/core_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static struct core_lu *lu_find_locked(struct core_target *tgt, uint64_t lun)
{
	struct core_lu *lu;

	list_for_each_entry(lu, &tgt->luns, entry) {
		if (lu->lun == lun)
			return lu;
		if (lu->lun > lun)
			break;
	}
	return NULL;
}

static void lu_link_sorted(struct core_target *tgt, struct core_lu *lu)
{
	struct core_lu *pos;

	list_for_each_entry(pos, &tgt->luns, entry) {
		if (pos->lun > lu->lun) {
			list_add_tail(&lu->entry, &pos->entry);
			return;
		}
	}
	list_add_tail(&lu->entry, &tgt->luns);
}

static int lu_block_size_set(struct core_lu *lu, uint32_t bs)
{
	if (bs == 0)
		bs = 512;
	if (bs < 512 || bs > 65536 || (bs & (bs - 1)))
		return -EINVAL;
	lu->block_size = bs;
	lu->block_shift = (uint8_t)__builtin_ctz(bs);
	return 0;
}

static int lu_resolve(struct core_target *tgt, const struct core_lu_params *p,
		      const struct core_devtype **dt, const struct core_bs **bs)
{
	const char *dtname = p->device_type ? p->device_type : "disk";

	*dt = core_devtype_find(tgt->root, dtname);
	if (!*dt)
		return -ENODEV;
	*bs = core_bs_find(tgt->root, p->bstype ? p->bstype : (*dt)->default_bs);
	if (!*bs)
		return -ENODEV;
	if ((*dt)->needs_path && (*bs)->needs_path && (!p->path || !*p->path))
		return -EINVAL;
	return 0;
}

static bool lu_exists(struct core_target *tgt, uint64_t lun)
{
	bool found;

	pthread_rwlock_rdlock(&tgt->lock);
	found = lu_find_locked(tgt, lun) != NULL;
	pthread_rwlock_unlock(&tgt->lock);
	return found;
}

static struct core_lu *lu_alloc(struct core_target *tgt, uint64_t lun,
				const struct core_lu_params *p)
{
	struct core_lu *lu = calloc(1, sizeof(*lu));

	if (!lu)
		return NULL;
	lu->tgt = tgt;
	lu->lun = lun;
	lu->fd = -1;
	lu->online = true;
	lu->write_cache = true;
	lu->bsoflags = p->bsoflags;
	atomic_init(&lu->refs, 1);
	list_init(&lu->entry);
	pthread_mutex_init(&lu->ilk.lock, NULL);
	list_init(&lu->ilk.held);
	list_init(&lu->ilk.waiting);
	if ((p->path && !(lu->path = strdup(p->path))) ||
	    (p->bsopts && !(lu->bsopts = strdup(p->bsopts)))) {
		free(lu->path);
		free(lu);
		return NULL;
	}
	return lu;
}

/* Runs the backing store's init and open, then the device type's lu_init. */
static int lu_attach_store(struct core_lu *lu)
{
	int ret;

	ret = lu->bs->init ? lu->bs->init(lu, lu->bsopts) : 0;
	if (ret < 0)
		return ret;
	/* A removable-medium type (cd, tape) may start empty: the medium is loaded later. */
	if (lu->bs->open && (lu->dt->needs_path || !lu->bs->needs_path ||
			     (lu->path && *lu->path))) {
		ret = lu->bs->open(lu, lu->path, &lu->fd, &lu->size);
		if (ret < 0)
			goto err_exit;
	}
	if (lu->dt->lu_init) {
		ret = lu->dt->lu_init(lu);
		if (ret < 0)
			goto err_close;
	}
	return 0;

err_close:
	if (lu->bs->close)
		lu->bs->close(lu);
err_exit:
	if (lu->bs->exit)
		lu->bs->exit(lu);
	lu->bs = NULL;
	return ret;
}

int core_lu_new(struct core_target *tgt, uint64_t lun, const struct core_lu_params *p,
		struct core_lu **out)
{
	const struct core_devtype *dt;
	const struct core_bs *bs;
	struct core_lu *lu;
	int ret;

	if (lun >= 16384)
		return -EINVAL;
	ret = lu_resolve(tgt, p, &dt, &bs);
	if (ret < 0)
		return ret;
	if (lu_exists(tgt, lun))
		return -EEXIST;
	lu = lu_alloc(tgt, lun, p);
	if (!lu)
		return -ENOMEM;
	lu->dt = dt;
	lu->bs = bs;
	ret = lu_block_size_set(lu, p->block_size);
	if (ret == 0)
		ret = lu_attach_store(lu);
	if (ret < 0) {
		lu->dt = NULL;
		core_lu_free(lu);
		return ret;
	}

	pthread_rwlock_wrlock(&tgt->lock);
	if (lu_find_locked(tgt, lun)) {
		pthread_rwlock_unlock(&tgt->lock);
		core_lu_free(lu);
		return -EEXIST;
	}
	lu_link_sorted(tgt, lu);
	pthread_rwlock_unlock(&tgt->lock);

	core_ua_add_all(tgt, NULL, UINT64_MAX, ASC_REPORTED_LUNS_CHANGED);
	if (out)
		*out = lu;
	return 0;
}

int core_lu_delete(struct core_target *tgt, uint64_t lun, bool force)
{
	struct core_lu *lu;

	pthread_rwlock_wrlock(&tgt->lock);
	lu = lu_find_locked(tgt, lun);
	if (!lu) {
		pthread_rwlock_unlock(&tgt->lock);
		return -ENOENT;
	}
	if ((lun == 0 && !force) || atomic_load(&lu->refs) > 1) {
		pthread_rwlock_unlock(&tgt->lock);
		return -EBUSY;
	}
	list_del(&lu->entry);
	pthread_rwlock_unlock(&tgt->lock);

	core_lu_put(lu);
	core_ua_add_all(tgt, NULL, UINT64_MAX, ASC_REPORTED_LUNS_CHANGED);
	return 0;
}

struct core_lu *core_lu_find(struct core_target *tgt, uint64_t lun)
{
	struct core_lu *lu;

	pthread_rwlock_rdlock(&tgt->lock);
	lu = lu_find_locked(tgt, lun);
	pthread_rwlock_unlock(&tgt->lock);
	return lu;
}

struct core_lu *core_lu_get(struct core_target *tgt, uint64_t lun)
{
	struct core_lu *lu;

	pthread_rwlock_rdlock(&tgt->lock);
	lu = lu_find_locked(tgt, lun);
	if (lu)
		atomic_fetch_add(&lu->refs, 1);
	pthread_rwlock_unlock(&tgt->lock);
	return lu;
}

void core_lu_put(struct core_lu *lu)
{
	if (atomic_fetch_sub(&lu->refs, 1) == 1)
		core_lu_free(lu);
}

void core_lu_free(struct core_lu *lu)
{
	if (lu->dt && lu->dt->lu_fini)
		lu->dt->lu_fini(lu);
	if (lu->bs) {
		if (lu->bs->close)
			lu->bs->close(lu);
		if (lu->bs->exit)
			lu->bs->exit(lu);
	}
	if (lu->fd >= 0 && lu->bs == NULL)
		close(lu->fd);
	free(lu->path);
	free(lu->bsopts);
	pthread_mutex_destroy(&lu->ilk.lock);
	free(lu);
}

unsigned int core_target_luns(struct core_target *tgt, uint64_t *luns, unsigned int max)
{
	struct core_lu *lu;
	unsigned int n = 0;

	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(lu, &tgt->luns, entry) {
		if (n < max)
			luns[n] = lu->lun;
		n++;
	}
	pthread_rwlock_unlock(&tgt->lock);
	return n;
}

/* ---- --params ---- */

static int lu_set_ident(char *dst, size_t size, const char *value)
{
	size_t len = strlen(value);

	if (len >= size)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isprint((unsigned char)value[i]))
			return -EINVAL;
	}
	memcpy(dst, value, len + 1);
	return 0;
}

struct lu_bool_key {
	const char *key;
	size_t offset;
};

static const struct lu_bool_key lu_bool_keys[] = {
	{ "readonly", offsetof(struct core_lu, readonly) },
	{ "removable", offsetof(struct core_lu, removable) },
	{ "thin_provisioning", offsetof(struct core_lu, thin) },
	{ "write_cache", offsetof(struct core_lu, write_cache) },
	{ "swp", offsetof(struct core_lu, swp) },
};

static int lu_config_bool(struct core_lu *lu, const char *key, const char *value)
{
	for (size_t i = 0; i < ARRAY_SIZE(lu_bool_keys); i++) {
		bool v;

		if (strcmp(key, lu_bool_keys[i].key))
			continue;
		if (str_to_bool(value, &v) < 0)
			return -EINVAL;
		*(bool *)((char *)lu + lu_bool_keys[i].offset) = v;
		return 0;
	}
	return -ENOENT;
}

int core_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	uint64_t v;
	bool b;
	int ret;

	if (!strcmp(key, "vendor_id"))
		return lu_set_ident(lu->vendor_id, sizeof(lu->vendor_id), value);
	if (!strcmp(key, "product_id"))
		return lu_set_ident(lu->product_id, sizeof(lu->product_id), value);
	if (!strcmp(key, "product_rev"))
		return lu_set_ident(lu->product_rev, sizeof(lu->product_rev), value);
	if (!strcmp(key, "scsi_id"))
		return lu_set_ident(lu->scsi_id, sizeof(lu->scsi_id), value);
	if (!strcmp(key, "scsi_sn"))
		return lu_set_ident(lu->scsi_sn, sizeof(lu->scsi_sn), value);
	if (!strcmp(key, "online")) {
		if (str_to_bool(value, &b) < 0)
			return -EINVAL;
		if (!b && lu->prevent_removal)
			return -EBUSY;
		lu->online = b;
		return 0;
	}
	if (!strcmp(key, "sense_format")) {
		ret = str_to_u64(value, 0, 1, &v);
		if (ret == 0)
			lu->d_sense = v == 1;
		return ret < 0 ? -EINVAL : 0;
	}
	if (!strcmp(key, "rotation_rate")) {
		ret = str_to_u64(value, 0, 0xffff, &v);
		if (ret == 0)
			lu->rotation_rate = (uint16_t)v;
		return ret < 0 ? -EINVAL : 0;
	}
	if (!strcmp(key, "size_refresh")) {
		if (str_to_bool(value, &b) < 0)
			return -EINVAL;
		return b ? core_lu_resize(lu) : 0;
	}
	if (!strcmp(key, "path")) {
		/* Removable-medium types (cd, tape) load and eject media themselves. */
		ret = lu->dt && lu->dt->lu_config ? lu->dt->lu_config(lu, key, value) : -ENOENT;
		return ret != -ENOENT ? ret : core_lu_path_set(lu, value);
	}
	ret = lu_config_bool(lu, key, value);
	if (ret != -ENOENT)
		return ret;
	ret = lu->bs && lu->bs->lu_config ? lu->bs->lu_config(lu, key, value) : -ENOENT;
	if (ret != -ENOENT)
		return ret;
	if (lu->dt && lu->dt->lu_config)
		return lu->dt->lu_config(lu, key, value);
	return -ENOENT;
}

/* ---- online changes of the backing store ---- */

static int lu_store_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = (uint64_t)st.st_size;
	return 0;
}

static void lu_size_update(struct core_lu *lu, uint64_t size)
{
	if (size == lu->size)
		return;
	log_info("lun %llu: capacity %llu -> %llu bytes", (unsigned long long)lu->lun,
		 (unsigned long long)lu->size, (unsigned long long)size);
	lu->size = size;
	core_ua_add_all(lu->tgt, NULL, lu->lun, ASC_CAPACITY_DATA_CHANGED);
}

int core_lu_resize(struct core_lu *lu)
{
	uint64_t size;
	int ret;

	if (lu->fd < 0)
		return -EOPNOTSUPP;
	ret = lu_store_size(lu->fd, &size);
	if (ret == 0)
		lu_size_update(lu, size);
	return ret;
}

int core_lu_path_set(struct core_lu *lu, const char *path)
{
	uint64_t size = 0;
	char *copy;
	int ret;

	if (lu->online || atomic_load(&lu->refs) > 1)
		return -EBUSY;
	if (!lu->bs || !lu->bs->open || !*path)
		return -EINVAL;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	if (lu->bs->close)
		lu->bs->close(lu);
	lu->fd = -1;
	ret = lu->bs->open(lu, copy, &lu->fd, &size);
	if (ret < 0) {
		free(copy);
		if (lu->bs->open(lu, lu->path, &lu->fd, &size) < 0) {
			log_err("lun %llu: cannot reopen %s", (unsigned long long)lu->lun,
				lu->path ? lu->path : "(none)");
			lu->fd = -1;
		}
		return ret;
	}
	free(lu->path);
	lu->path = copy;
	lu_size_update(lu, size);
	return 0;
}
