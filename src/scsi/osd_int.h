/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The object storage device type (OSD-2, --device-type osd): private header shared by osd.c
 * (CDB and attribute-list decoding, commands) and osd_store.c (the directory tree that holds
 * partitions, user objects and their attributes). docs/device-types.md describes the layout.
 */
#ifndef UTGT_SCSI_OSD_INT_H
#define UTGT_SCSI_OSD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "scsi/scsi_int.h"

#define SCSI_PDT_OSD       0x11
#define SCSI_OP_VARLEN     0x7f

#define OSD_CDB_LEN        236      /* OSD-2: ADDITIONAL CDB LENGTH 228 */
#define OSD_FIRST_ID       0x10000ull /* lowest partition and user object id */
#define OSD_PARTITIONS_MAX 1024u
#define OSD_OBJECTS_MAX    65536u   /* per partition */
#define OSD_OBJECT_MAX     (1ull << 40) /* bytes of one user object */
#define OSD_ATTR_VAL_MAX   1024u    /* bytes of one stored attribute value */
#define OSD_ATTRS_MAX      64u      /* stored attributes per object */
#define OSD_ATTR_LIST_MAX  (64u << 10) /* bytes of a set-attributes list */

/* Service actions (OSD-2: 8880h + n). */
enum osd_sa {
	OSD_SA_FORMAT = 0x8881,
	OSD_SA_CREATE = 0x8882,
	OSD_SA_LIST = 0x8883,
	OSD_SA_READ = 0x8885,
	OSD_SA_WRITE = 0x8886,
	OSD_SA_APPEND = 0x8887,
	OSD_SA_FLUSH = 0x8888,
	OSD_SA_REMOVE = 0x888a,
	OSD_SA_CREATE_PARTITION = 0x888b,
	OSD_SA_REMOVE_PARTITION = 0x888c,
	OSD_SA_GET_ATTRIBUTES = 0x888e,
	OSD_SA_SET_ATTRIBUTES = 0x888f,
	OSD_SA_FLUSH_PARTITION = 0x889b,
	OSD_SA_FLUSH_OSD = 0x889c,
};

/* GET/SET CDBFMT (CDB byte 11 bits 5:4). */
enum osd_cdbfmt {
	OSD_FMT_SET_ONE = 1,            /* set one attribute from the CDB */
	OSD_FMT_PAGE = 2,               /* get one page, set one attribute */
	OSD_FMT_LIST = 3,               /* get and set attribute lists */
};

/* Attribute pages: each object kind owns a 30000000h-wide range of page numbers. */
#define OSD_PAGE_USER_BASE  0x00000000u
#define OSD_PAGE_PART_BASE  0x30000000u
#define OSD_PAGE_ROOT_BASE  0x90000000u
#define OSD_PAGE_INFO       0x1u          /* relative: the information page */
#define OSD_PAGE_APP_FIRST  0x10000u      /* relative: application-defined pages */
#define OSD_PAGE_APP_LAST   0x1fffffffu
#define OSD_PAGE_ALL        0xffffffffu
#define OSD_ATTR_USERNAME   0x9u          /* information page: the only settable attribute */

#define OSD_LIST_GET        0x1           /* attribute list types */
#define OSD_LIST_SET_RET    0x9
#define OSD_LIST_HDR        8u            /* type, reserved, list length */
#define OSD_ELEM_HDR        16u           /* page, number, reserved, length */

extern const struct scsi_type scsi_osd_type;

/* A decoded OSD-2 CDB: every field of bytes 0-79 and the security method. */
struct osd_req {
	uint16_t sa;
	uint8_t options;                /* byte 10: FUA, DPO, isolation */
	uint8_t cso;                    /* byte 11 without the CDBFMT bits */
	uint8_t fmt;                    /* enum osd_cdbfmt */
	uint64_t pid;
	uint64_t oid;
	uint64_t len;                   /* length / allocation length / capacity */
	uint64_t start;                 /* starting byte address / initial id */
	uint32_t list_id;
	/* get: page mode (get_page) or list mode (get_list_bytes) */
	uint32_t get_page;
	uint32_t get_list_bytes;
	uint64_t get_list_off;
	uint32_t get_alloc;
	uint64_t get_off;               /* retrieved attributes offset in Data-In */
	/* set: one attribute (page, number, len, value at set_off or in the CDB) or a list */
	uint32_t set_page;
	uint32_t set_num;
	uint32_t set_len;
	uint64_t set_off;               /* in Data-Out; UINT64_MAX: value in the CDB */
	const uint8_t *set_val_cdb;
	uint32_t set_list_bytes;
	uint64_t set_list_off;
};

/* Decodes an OSD-2 CDB; on error returns -EINVAL with the offending byte and bit (or -1). */
int osd_cdb_decode(const uint8_t *cdb, uint16_t cdb_len, struct osd_req *r, uint16_t *byte,
		   int *bit);
/* Decodes a Data-In/Data-Out offset field (mantissa << (exponent + 8)); UINT64_MAX: unused. */
uint64_t osd_offset_decode(uint32_t v);

/* One attribute, as parsed from a set list or produced for a retrieved list. */
struct osd_attr {
	uint32_t page;
	uint32_t num;
	uint16_t len;
	const uint8_t *val;
};

/*
 * Walks a set-attributes list (type 9) of n bytes: calls fn for each entry; stops at the first
 * fn error. On a malformed list returns -EINVAL with *bad the offending byte offset.
 */
typedef int (*osd_attr_fn)(const struct osd_attr *a, void *arg);
int osd_attr_list_parse(const uint8_t *p, uint32_t n, osd_attr_fn fn, void *arg, uint32_t *bad);
/* Appends a to a retrieved list at p[*pos] (cap bytes); *pos grows even past cap. */
void osd_attr_list_put(uint8_t *p, uint32_t cap, uint32_t *pos, const struct osd_attr *a);

/* ---- osd_store.c: the directory tree (all calls under the store lock) ---- */

struct osd_store {
	pthread_mutex_t lock;
	int root_fd;                    /* the LU's directory */
	uint64_t capacity;              /* bytes formatted; 0: unlimited */
	uint64_t used;                  /* bytes of user object data */
	uint32_t nr_parts;
};

int osd_store_open(struct osd_store *s, const char *path);
void osd_store_close(struct osd_store *s);
/* Removes every partition and sets the capacity. */
int osd_store_format(struct osd_store *s, uint64_t capacity);
bool osd_store_part_exists(struct osd_store *s, uint64_t pid);
/* *pid 0: the next free id. -EEXIST, -ENOSPC, -errno. */
int osd_store_part_create(struct osd_store *s, uint64_t *pid);
/* -ENOENT, -ENOTEMPTY. */
int osd_store_part_remove(struct osd_store *s, uint64_t pid);
bool osd_store_obj_exists(struct osd_store *s, uint64_t pid, uint64_t oid);
int osd_store_obj_create(struct osd_store *s, uint64_t pid, uint64_t *oid);
int osd_store_obj_remove(struct osd_store *s, uint64_t pid, uint64_t oid);
int osd_store_obj_size(struct osd_store *s, uint64_t pid, uint64_t oid, uint64_t *size);
/* Reads len bytes at off; past the logical length reads zeroes. 0 or -errno. */
int osd_store_obj_read(struct osd_store *s, uint64_t pid, uint64_t oid, void *buf, uint64_t len,
		       uint64_t off);
/* Writes len bytes at *off (UINT64_MAX: at the end, *off set to it). -EDQUOT: over capacity
 * or file system full; -EFBIG: past OSD_OBJECT_MAX. */
int osd_store_obj_write(struct osd_store *s, uint64_t pid, uint64_t oid, const void *buf,
			uint64_t len, uint64_t *off, bool fua);
/*
 * Ids of partitions (pid 0) or of the objects of pid, ascending from start: up to max of them
 * into out as big-endian 8-byte values (*n), *next the following id or 0. 0 or -errno.
 */
int osd_store_list(struct osd_store *s, uint64_t pid, uint64_t start, uint8_t *out,
		   uint32_t max, uint32_t *n, uint64_t *next);
/* Bytes of user data and number of user objects in partition pid. */
int osd_store_part_usage(struct osd_store *s, uint64_t pid, uint64_t *bytes, uint64_t *count);
int osd_store_sync(struct osd_store *s);

/* Stored attributes of the root (pid 0), a partition (oid 0) or a user object. */
int osd_store_attr_get(struct osd_store *s, uint64_t pid, uint64_t oid, uint32_t page,
		       uint32_t num, uint8_t *val, uint16_t *len);
/* len 0 removes the attribute. -ENOSPC when OSD_ATTRS_MAX are stored. */
int osd_store_attr_set(struct osd_store *s, uint64_t pid, uint64_t oid, const struct osd_attr *a);
/* Calls fn for each stored attribute of page (OSD_PAGE_ALL: every page). */
int osd_store_attr_foreach(struct osd_store *s, uint64_t pid, uint64_t oid, uint32_t page,
			   osd_attr_fn fn, void *arg);

#endif
