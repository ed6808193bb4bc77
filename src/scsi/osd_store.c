/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The OSD store: one directory per LU holding osd.meta (capacity), root.attr, and per partition
 * p<pid>/ with partition.attr, o<oid> (user object data) and o<oid>.attr (16 lowercase hex
 * digits each). Attribute files are records page(4) number(4) length(2) value, big-endian,
 * replaced whole through a rename. Calls are synchronous (like the tape type) and run under
 * the store lock that osd.c holds for the whole command.
 */
#include "scsi/osd_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OSD_NAME_MAX 64
#define OSD_REC_HDR  10u
#define OSD_ATTR_FILE_MAX (OSD_ATTRS_MAX * (OSD_REC_HDR + OSD_ATTR_VAL_MAX))

static void osd_part_name(char *b, uint64_t pid)
{
	snprintf(b, OSD_NAME_MAX, "p%016" PRIx64, pid);
}

static void osd_obj_name(char *b, uint64_t pid, uint64_t oid, const char *sfx)
{
	snprintf(b, OSD_NAME_MAX, "p%016" PRIx64 "/o%016" PRIx64 "%s", pid, oid, sfx);
}

static void osd_attr_name(char *b, uint64_t pid, uint64_t oid)
{
	if (!pid)
		snprintf(b, OSD_NAME_MAX, "root.attr");
	else if (!oid)
		snprintf(b, OSD_NAME_MAX, "p%016" PRIx64 "/partition.attr", pid);
	else
		osd_obj_name(b, pid, oid, ".attr");
}

/* "<c>" + 16 hex digits exactly; 0 when the name is not one. */
static uint64_t osd_name_id(const char *name, char c)
{
	uint64_t v = 0;
	int i;

	if (name[0] != c || strlen(name) != 17)
		return 0;
	for (i = 1; i < 17; i++) {
		char ch = name[i];

		if (ch >= '0' && ch <= '9')
			v = v << 4 | (uint64_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v << 4 | (uint64_t)(ch - 'a' + 10);
		else
			return 0;
	}
	return v;
}

typedef int (*osd_scan_fn)(struct osd_store *s, uint64_t id, void *arg);

/* Opens directory dir (relative to the root) for reading; 0 or -errno. */
static int osd_opendir(struct osd_store *s, const char *dir, DIR **d)
{
	int fd = openat(s->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*d = fdopendir(fd);
	if (!*d) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

/* Calls fn for every id named "<c><hex>" in directory dir (relative to the root). */
static int osd_scan(struct osd_store *s, const char *dir, char c, osd_scan_fn fn, void *arg)
{
	struct dirent *de;
	DIR *d = NULL;
	int ret = osd_opendir(s, dir, &d);

	if (ret)
		return ret;
	while (!ret && (de = readdir(d))) {
		uint64_t id = osd_name_id(de->d_name, c);

		if (id)
			ret = fn(s, id, arg);
	}
	closedir(d);
	return ret;
}

struct osd_ids {
	uint64_t start;
	uint64_t *v;
	uint32_t n, cap;
	uint64_t max;
	uint64_t count;                 /* every id seen */
};

static int osd_ids_add(struct osd_store *s, uint64_t id, void *arg)
{
	struct osd_ids *ids = arg;

	(void)s;
	ids->count++;
	if (id > ids->max)
		ids->max = id;
	if (id < ids->start || !ids->v)
		return 0;
	if (ids->n == ids->cap)
		return -EOVERFLOW;      /* the directory holds more than we ever create */
	ids->v[ids->n++] = id;
	return 0;
}

static int osd_id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Collects the ids of dir (>= start) sorted, or only the count and the largest (v NULL). */
static int osd_ids_collect(struct osd_store *s, const char *dir, char c, struct osd_ids *ids,
			   uint32_t cap)
{
	int ret;

	ids->n = 0;
	ids->max = 0;
	ids->count = 0;
	ids->cap = cap;
	ids->v = cap ? malloc(sizeof(uint64_t) * cap) : NULL;
	if (cap && !ids->v)
		return -ENOMEM;
	ret = osd_scan(s, dir, c, osd_ids_add, ids);
	if (ret < 0) {
		free(ids->v);
		ids->v = NULL;
		return ret;
	}
	if (ids->v)
		qsort(ids->v, ids->n, sizeof(uint64_t), osd_id_cmp);
	return 0;
}

static int osd_count(struct osd_store *s, uint64_t id, void *arg)
{
	(void)s;
	(void)id;
	(*(uint64_t *)arg)++;
	return 0;
}

static int osd_used_obj(struct osd_store *s, uint64_t oid, void *arg)
{
	uint64_t pid = *(uint64_t *)arg;
	char name[OSD_NAME_MAX];
	struct stat st;

	osd_obj_name(name, pid, oid, "");
	if (!fstatat(s->root_fd, name, &st, 0))
		s->used += (uint64_t)st.st_size;
	return 0;
}

static int osd_used_part(struct osd_store *s, uint64_t pid, void *arg)
{
	char name[OSD_NAME_MAX];

	(void)arg;
	s->nr_parts++;
	osd_part_name(name, pid);
	return osd_scan(s, name, 'o', osd_used_obj, &pid);
}

static int osd_meta_write(struct osd_store *s)
{
	char text[64];
	int fd, n;

	n = snprintf(text, sizeof(text), "capacity=%" PRIu64 "\n", s->capacity);
	fd = openat(s->root_fd, "osd.meta.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return renameat(s->root_fd, "osd.meta.tmp", s->root_fd, "osd.meta") ? -errno : 0;
}

static int osd_meta_read(struct osd_store *s)
{
	char text[64] = { 0 };
	ssize_t n;
	int fd;

	fd = openat(s->root_fd, "osd.meta", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? osd_meta_write(s) : -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0 || sscanf(text, "capacity=%" SCNu64, &s->capacity) != 1)
		return -EINVAL;
	return 0;
}

int osd_store_open(struct osd_store *s, const char *path)
{
	int ret;

	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	s->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0)
		return -errno;
	s->capacity = 0;
	s->used = 0;
	s->nr_parts = 0;
	ret = osd_meta_read(s);
	if (!ret)
		ret = osd_scan(s, ".", 'p', osd_used_part, NULL);
	if (ret < 0) {
		close(s->root_fd);
		s->root_fd = -1;
		return ret;
	}
	pthread_mutex_init(&s->lock, NULL);
	return 0;
}

void osd_store_close(struct osd_store *s)
{
	if (s->root_fd < 0)
		return;
	close(s->root_fd);
	s->root_fd = -1;
	pthread_mutex_destroy(&s->lock);
}

static int osd_unlink_obj(struct osd_store *s, uint64_t oid, void *arg)
{
	return osd_store_obj_remove(s, *(uint64_t *)arg, oid);
}

static int osd_part_purge(struct osd_store *s, uint64_t pid, void *arg)
{
	char name[OSD_NAME_MAX];
	int ret;

	(void)arg;
	osd_part_name(name, pid);
	ret = osd_scan(s, name, 'o', osd_unlink_obj, &pid);
	if (ret < 0)
		return ret;
	return osd_store_part_remove(s, pid);
}

int osd_store_format(struct osd_store *s, uint64_t capacity)
{
	int ret;

	ret = osd_scan(s, ".", 'p', osd_part_purge, NULL);
	if (ret < 0)
		return ret;
	if (unlinkat(s->root_fd, "root.attr", 0) && errno != ENOENT)
		return -errno;
	s->capacity = capacity;
	s->used = 0;
	s->nr_parts = 0;
	return osd_meta_write(s);
}

bool osd_store_part_exists(struct osd_store *s, uint64_t pid)
{
	char name[OSD_NAME_MAX];
	struct stat st;

	if (pid < OSD_FIRST_ID)
		return false;
	osd_part_name(name, pid);
	return !fstatat(s->root_fd, name, &st, 0) && S_ISDIR(st.st_mode);
}

int osd_store_part_create(struct osd_store *s, uint64_t *pid)
{
	char name[OSD_NAME_MAX];
	struct osd_ids ids = { 0 };
	int ret;

	if (s->nr_parts >= OSD_PARTITIONS_MAX)
		return -ENOSPC;
	if (!*pid) {
		ret = osd_ids_collect(s, ".", 'p', &ids, 0);
		if (ret < 0)
			return ret;
		*pid = ids.max < OSD_FIRST_ID ? OSD_FIRST_ID : ids.max + 1;
		if (!*pid)
			return -ENOSPC;
	}
	osd_part_name(name, *pid);
	if (mkdirat(s->root_fd, name, 0755))
		return -errno;
	s->nr_parts++;
	return 0;
}

/* Unlinks what is left in an empty partition: attribute files, torn temporary files. */
static int osd_part_sweep(struct osd_store *s, const char *dir)
{
	char name[OSD_NAME_MAX * 2];
	struct dirent *de;
	DIR *d = NULL;
	int ret = osd_opendir(s, dir, &d);

	if (ret)
		return ret;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= OSD_NAME_MAX)
			continue;
		if (snprintf(name, sizeof(name), "%s/%s", dir, de->d_name) >= (int)sizeof(name))
			continue;
		unlinkat(s->root_fd, name, 0);
	}
	closedir(d);
	return 0;
}

int osd_store_part_remove(struct osd_store *s, uint64_t pid)
{
	char name[OSD_NAME_MAX];
	uint64_t n = 0;
	int ret;

	osd_part_name(name, pid);
	ret = osd_scan(s, name, 'o', osd_count, &n);
	if (ret < 0)
		return ret;
	if (n)
		return -ENOTEMPTY;
	ret = osd_part_sweep(s, name);
	if (ret < 0)
		return ret;
	if (unlinkat(s->root_fd, name, AT_REMOVEDIR))
		return -errno;
	s->nr_parts--;
	return 0;
}

bool osd_store_obj_exists(struct osd_store *s, uint64_t pid, uint64_t oid)
{
	uint64_t size;

	return oid >= OSD_FIRST_ID && !osd_store_obj_size(s, pid, oid, &size);
}

int osd_store_obj_create(struct osd_store *s, uint64_t pid, uint64_t *oid)
{
	char name[OSD_NAME_MAX];
	struct osd_ids ids = { 0 };
	int fd, ret;

	osd_part_name(name, pid);
	ret = osd_ids_collect(s, name, 'o', &ids, 0);
	if (ret < 0)
		return ret;
	if (ids.count >= OSD_OBJECTS_MAX)
		return -ENOSPC;
	if (!*oid) {
		*oid = ids.max < OSD_FIRST_ID ? OSD_FIRST_ID : ids.max + 1;
		if (!*oid)
			return -ENOSPC;
	}
	osd_obj_name(name, pid, *oid, "");
	fd = openat(s->root_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int osd_store_obj_remove(struct osd_store *s, uint64_t pid, uint64_t oid)
{
	char name[OSD_NAME_MAX];
	uint64_t size;

	if (osd_store_obj_size(s, pid, oid, &size))
		return -ENOENT;
	osd_obj_name(name, pid, oid, ".attr");
	if (unlinkat(s->root_fd, name, 0) && errno != ENOENT)
		return -errno;
	osd_obj_name(name, pid, oid, "");
	if (unlinkat(s->root_fd, name, 0))
		return -errno;
	s->used -= size <= s->used ? size : s->used;
	return 0;
}

int osd_store_obj_size(struct osd_store *s, uint64_t pid, uint64_t oid, uint64_t *size)
{
	char name[OSD_NAME_MAX];
	struct stat st;

	osd_obj_name(name, pid, oid, "");
	if (fstatat(s->root_fd, name, &st, 0))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	*size = (uint64_t)st.st_size;
	return 0;
}

int osd_store_obj_read(struct osd_store *s, uint64_t pid, uint64_t oid, void *buf, uint64_t len,
		       uint64_t off)
{
	char name[OSD_NAME_MAX];
	uint64_t done = 0;
	int fd;

	if (!len)
		return 0;
	osd_obj_name(name, pid, oid, "");
	fd = openat(s->root_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -EIO;
		}
		if (n == 0)
			break;
		done += (uint64_t)n;
	}
	close(fd);
	memset((uint8_t *)buf + done, 0, len - done);
	return 0;
}

int osd_store_obj_write(struct osd_store *s, uint64_t pid, uint64_t oid, const void *buf,
			uint64_t len, uint64_t *off, bool fua)
{
	char name[OSD_NAME_MAX];
	uint64_t size, nsize, done = 0, grow;
	int fd, ret = 0;

	if (osd_store_obj_size(s, pid, oid, &size))
		return -ENOENT;
	if (*off == UINT64_MAX)
		*off = size;
	if (*off > OSD_OBJECT_MAX || len > OSD_OBJECT_MAX - *off)
		return -EFBIG;
	grow = *off + len > size ? *off + len - size : 0;
	if (s->capacity && grow > s->capacity - (s->used < s->capacity ? s->used : s->capacity))
		return -EDQUOT;
	osd_obj_name(name, pid, oid, "");
	fd = openat(s->root_fd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done,
				   (off_t)(*off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 && (errno == ENOSPC || errno == EDQUOT) ? -EDQUOT : -EIO;
			break;
		}
		done += (uint64_t)n;
	}
	if (!ret && fua && fdatasync(fd))
		ret = -EIO;
	close(fd);
	if (!osd_store_obj_size(s, pid, oid, &nsize) && nsize > size)
		s->used += nsize - size;
	return ret;
}

int osd_store_list(struct osd_store *s, uint64_t pid, uint64_t start, uint8_t *out,
		   uint32_t max, uint32_t *n, uint64_t *next)
{
	char name[OSD_NAME_MAX] = ".";
	struct osd_ids all = { .start = start };
	uint32_t i;
	int ret;

	if (pid)
		osd_part_name(name, pid);
	ret = osd_ids_collect(s, name, pid ? 'o' : 'p', &all,
			      (pid ? OSD_OBJECTS_MAX : OSD_PARTITIONS_MAX) + 64);
	if (ret < 0)
		return ret;
	*n = all.n < max ? all.n : max;
	for (i = 0; i < *n; i++)
		put_be64(out + 8 * i, all.v[i]);
	*next = all.n > max ? all.v[max] : 0;
	free(all.v);
	return 0;
}

struct osd_usage {
	uint64_t pid, bytes, count;
};

static int osd_usage_obj(struct osd_store *s, uint64_t oid, void *arg)
{
	struct osd_usage *u = arg;
	uint64_t size;

	u->count++;
	if (!osd_store_obj_size(s, u->pid, oid, &size))
		u->bytes += size;
	return 0;
}

int osd_store_part_usage(struct osd_store *s, uint64_t pid, uint64_t *bytes, uint64_t *count)
{
	struct osd_usage u = { .pid = pid };
	char name[OSD_NAME_MAX];
	int ret;

	osd_part_name(name, pid);
	ret = osd_scan(s, name, 'o', osd_usage_obj, &u);
	*bytes = u.bytes;
	*count = u.count;
	return ret;
}

int osd_store_sync(struct osd_store *s)
{
	return syncfs(s->root_fd) ? -errno : 0;
}

/* ---- attribute records ---- */

/* Reads the attribute file of an object into a new buffer (*p, *n bytes). */
static int osd_attr_load(struct osd_store *s, const char *name, uint8_t **p, uint32_t *n)
{
	ssize_t got;
	int fd;

	*n = 0;
	*p = malloc(OSD_ATTR_FILE_MAX);
	if (!*p)
		return -ENOMEM;
	fd = openat(s->root_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	got = read(fd, *p, OSD_ATTR_FILE_MAX);
	close(fd);
	if (got < 0)
		return -EIO;
	*n = (uint32_t)got;
	return 0;
}

/* Walks the records of an attribute file; a torn tail ends the walk. */
static int osd_attr_walk(const uint8_t *p, uint32_t n, uint32_t page, osd_attr_fn fn, void *arg)
{
	uint32_t pos = 0;
	int ret;

	while (n - pos >= OSD_REC_HDR) {
		struct osd_attr a = {
			.page = get_be32(p + pos), .num = get_be32(p + pos + 4),
			.len = get_be16(p + pos + 8), .val = p + pos + OSD_REC_HDR,
		};

		if (a.len > OSD_ATTR_VAL_MAX || a.len > n - pos - OSD_REC_HDR)
			break;
		pos += OSD_REC_HDR + a.len;
		if (page != OSD_PAGE_ALL && a.page != page)
			continue;
		ret = fn(&a, arg);
		if (ret)
			return ret;
	}
	return 0;
}

int osd_store_attr_foreach(struct osd_store *s, uint64_t pid, uint64_t oid, uint32_t page,
			   osd_attr_fn fn, void *arg)
{
	char name[OSD_NAME_MAX];
	uint8_t *p;
	uint32_t n;
	int ret;

	osd_attr_name(name, pid, oid);
	ret = osd_attr_load(s, name, &p, &n);
	if (!ret)
		ret = osd_attr_walk(p, n, page, fn, arg);
	free(p);
	return ret;
}

struct osd_attr_find {
	uint32_t num;
	uint8_t *val;
	uint16_t *len;
};

static int osd_attr_match(const struct osd_attr *a, void *arg)
{
	struct osd_attr_find *f = arg;

	if (a->num != f->num)
		return 0;
	memcpy(f->val, a->val, a->len);
	*f->len = a->len;
	return 1;
}

int osd_store_attr_get(struct osd_store *s, uint64_t pid, uint64_t oid, uint32_t page,
		       uint32_t num, uint8_t *val, uint16_t *len)
{
	struct osd_attr_find f = { .num = num, .val = val, .len = len };
	int ret = osd_store_attr_foreach(s, pid, oid, page, osd_attr_match, &f);

	return ret == 1 ? 0 : ret < 0 ? ret : -ENOENT;
}

struct osd_attr_copy {
	const struct osd_attr *skip;
	uint8_t *out;
	uint32_t n, count;
};

static int osd_attr_keep(const struct osd_attr *a, void *arg)
{
	struct osd_attr_copy *c = arg;

	if (a->page == c->skip->page && a->num == c->skip->num)
		return 0;
	put_be32(c->out + c->n, a->page);
	put_be32(c->out + c->n + 4, a->num);
	put_be16(c->out + c->n + 8, a->len);
	memcpy(c->out + c->n + OSD_REC_HDR, a->val, a->len);
	c->n += OSD_REC_HDR + a->len;
	c->count++;
	return 0;
}

static int osd_attr_save(struct osd_store *s, const char *name, const uint8_t *p, uint32_t n)
{
	char tmp[OSD_NAME_MAX + 4];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(s->root_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, p, n) != (ssize_t)n) {
		close(fd);
		unlinkat(s->root_fd, tmp, 0);
		return -EIO;
	}
	close(fd);
	return renameat(s->root_fd, tmp, s->root_fd, name) ? -errno : 0;
}

int osd_store_attr_set(struct osd_store *s, uint64_t pid, uint64_t oid, const struct osd_attr *a)
{
	struct osd_attr_copy c = { .skip = a };
	char name[OSD_NAME_MAX];
	uint8_t *old;
	uint32_t n;
	int ret;

	if (a->len > OSD_ATTR_VAL_MAX)
		return -EINVAL;
	osd_attr_name(name, pid, oid);
	ret = osd_attr_load(s, name, &old, &n);
	c.out = ret ? NULL : malloc(OSD_ATTR_FILE_MAX);
	if (!ret && !c.out)
		ret = -ENOMEM;
	if (!ret)
		ret = osd_attr_walk(old, n, OSD_PAGE_ALL, osd_attr_keep, &c);
	if (!ret && a->len && (c.count >= OSD_ATTRS_MAX ||
				c.n + OSD_REC_HDR + a->len > OSD_ATTR_FILE_MAX))
		ret = -ENOSPC;
	free(old);
	if (!ret && a->len) {
		put_be32(c.out + c.n, a->page);
		put_be32(c.out + c.n + 4, a->num);
		put_be16(c.out + c.n + 8, a->len);
		memcpy(c.out + c.n + OSD_REC_HDR, a->val, a->len);
		c.n += OSD_REC_HDR + a->len;
	}
	if (!ret)
		ret = osd_attr_save(s, name, c.out, c.n);
	free(c.out);
	return ret;
}
