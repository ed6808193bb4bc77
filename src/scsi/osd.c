/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The object storage device type (OSD-2, peripheral type 11h): SPC commands from the shared
 * table, and the variable-length CDB 7Fh whose service action names an OSD command. Every
 * OSD-2 CDB field is decoded and checked here (NOSEC security only); the objects live in a
 * directory tree (osd_store.c). Get/set attributes run with every command: page format, the
 * one-attribute CDB format, and set lists; a get list needs a bidirectional command, which
 * the iSCSI layer refuses, so it is refused here too (INVALID FIELD IN CDB, byte 52).
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/osd_int.h"

#define OSD_OFF_UNUSED 0xffffffffu
#define OSD_INFO_MAX   10u          /* attributes of one information page */
#define OSD_ASC_QUOTA  0x5507       /* QUOTA ERROR */
#define OSD_ASC_NOT_EMPTY 0x2c0a    /* PARTITION OR COLLECTION CONTAINS USER OBJECTS */

enum osd_kind { OSD_ROOT = 0, OSD_PART = 1, OSD_USER = 2 };

/* What the pid/oid fields of a command address. */
enum osd_target {
	OSD_T_ROOT,      /* both zero */
	OSD_T_NEW_PART,  /* pid requested (0: any), oid zero */
	OSD_T_PART,      /* an existing partition, oid zero */
	OSD_T_LIST,      /* zero (partitions) or an existing partition, oid zero */
	OSD_T_NEW_OBJ,   /* an existing partition, oid requested (0: any) */
	OSD_T_OBJ,       /* an existing user object */
	OSD_T_ANY,       /* root, an existing partition or user object */
};

#define OSD_AF_WRITES (1u << 0) /* modifies the store */
#define OSD_AF_IN     (1u << 1) /* the LENGTH field is Data-In (READ, LIST) */
#define OSD_AF_OUT    (1u << 2) /* the LENGTH field is Data-Out (WRITE, APPEND) */

struct osd_lu {
	struct osd_store store;
};

struct osd_ctx {
	struct scsi_cmd *cmd;
	struct osd_store *s;
	struct osd_req r;
	enum osd_kind kind;             /* of the object attributes apply to */
	uint64_t pid, oid;              /* that object (set by CREATE, CREATE PARTITION) */
	uint32_t data_in;               /* Data-In bytes the command itself fills from 0 */
};

struct osd_action {
	uint16_t sa;
	uint8_t target;                 /* enum osd_target */
	uint8_t flags;                  /* OSD_AF_* */
	uint8_t cso_mask;               /* allowed command-specific bits of byte 11 */
	const char *name;
	int (*fn)(struct osd_ctx *x);
};

static struct osd_lu *osd_lu(const struct core_lu *lu)
{
	return lu->dt_priv;
}

/* ---- CDB decoding ---- */

uint64_t osd_offset_decode(uint32_t v)
{
	int e = (int)(v >> 28);

	if (v == OSD_OFF_UNUSED)
		return UINT64_MAX;
	if (e >= 8)
		e -= 16;
	return (uint64_t)(v & 0x0fffffffu) << (e + 8);
}

static int osd_bad(uint16_t *byte, int *bit, uint16_t b, int bt)
{
	*byte = b;
	*bit = bt;
	return -EINVAL;
}

/* Bytes 52-79: the get/set attribute parameters of the selected CDB format. */
static int osd_cdb_attrs(const uint8_t *cdb, struct osd_req *r, uint16_t *byte, int *bit)
{
	r->set_off = UINT64_MAX;
	r->get_off = UINT64_MAX;
	r->get_list_off = UINT64_MAX;
	r->set_list_off = UINT64_MAX;
	switch (r->fmt) {
	case OSD_FMT_SET_ONE:
		r->set_page = get_be32(cdb + 52);
		r->set_num = get_be32(cdb + 56);
		r->set_len = get_be16(cdb + 60);
		r->set_val_cdb = cdb + 62;
		if (r->set_len > 18)
			return osd_bad(byte, bit, 60, -1);
		return 0;
	case OSD_FMT_PAGE:
		r->get_page = get_be32(cdb + 52);
		r->get_alloc = get_be32(cdb + 56);
		r->get_off = osd_offset_decode(get_be32(cdb + 60));
		r->set_page = get_be32(cdb + 64);
		r->set_num = get_be32(cdb + 68);
		r->set_len = get_be32(cdb + 72);
		r->set_off = osd_offset_decode(get_be32(cdb + 76));
		if (r->get_page && r->get_alloc && r->get_off == UINT64_MAX)
			return osd_bad(byte, bit, 60, -1);
		if (r->set_page && r->set_len > OSD_ATTR_VAL_MAX)
			return osd_bad(byte, bit, 72, -1);
		if (r->set_page && r->set_len && r->set_off == UINT64_MAX)
			return osd_bad(byte, bit, 76, -1);
		return 0;
	default:
		r->get_list_bytes = get_be32(cdb + 52);
		r->get_list_off = osd_offset_decode(get_be32(cdb + 56));
		r->get_alloc = get_be32(cdb + 60);
		r->get_off = osd_offset_decode(get_be32(cdb + 64));
		r->set_list_bytes = get_be32(cdb + 68);
		r->set_list_off = osd_offset_decode(get_be32(cdb + 72));
		if (get_be32(cdb + 76))
			return osd_bad(byte, bit, 76, -1);
		if (r->get_list_bytes) /* the list comes in Data-Out, values go in Data-In */
			return osd_bad(byte, bit, 52, -1);
		if (r->set_list_bytes &&
		    (r->set_list_bytes > OSD_ATTR_LIST_MAX || r->set_list_bytes < OSD_LIST_HDR))
			return osd_bad(byte, bit, 68, -1);
		if (r->set_list_bytes && r->set_list_off == UINT64_MAX)
			return osd_bad(byte, bit, 72, -1);
		return 0;
	}
}

int osd_cdb_decode(const uint8_t *cdb, uint16_t cdb_len, struct osd_req *r, uint16_t *byte,
		   int *bit)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	if (cdb_len < 8 || cdb[0] != SCSI_OP_VARLEN)
		return osd_bad(byte, bit, 0, -1);
	if (cdb[7] != OSD_CDB_LEN - 8 || cdb_len < OSD_CDB_LEN)
		return osd_bad(byte, bit, 7, -1);
	if (cdb[1] & 0x05)                      /* control byte: NACA, LINK */
		return osd_bad(byte, bit, 1, scsi_top_bit(cdb[1] & 0x05));
	for (i = 2; i < 6; i++)
		if (cdb[i])
			return osd_bad(byte, bit, (uint16_t)i, scsi_top_bit(cdb[i]));
	if (cdb[6] & 0xe0)
		return osd_bad(byte, bit, 6, scsi_top_bit(cdb[6] & 0xe0));
	r->sa = get_be16(cdb + 8);
	r->options = cdb[10];
	if (r->options & 0xe0)
		return osd_bad(byte, bit, 10, scsi_top_bit(r->options & 0xe0));
	r->fmt = (cdb[11] >> 4) & 3;
	r->cso = cdb[11] & (uint8_t)~0x30;
	if (!r->fmt)
		return osd_bad(byte, bit, 11, 5);
	if (cdb[12] != 0 && cdb[12] != 0x7f)    /* timestamps control */
		return osd_bad(byte, bit, 12, -1);
	for (i = 13; i < 16; i++)
		if (cdb[i])
			return osd_bad(byte, bit, (uint16_t)i, scsi_top_bit(cdb[i]));
	r->pid = get_be64(cdb + 16);
	r->oid = get_be64(cdb + 24);
	r->len = get_be64(cdb + 32);
	r->start = get_be64(cdb + 40);
	r->list_id = get_be32(cdb + 48);
	if ((cdb[80] & 0x0f) > 2)               /* capability format */
		return osd_bad(byte, bit, 80, -1);
	if (cdb[82] & 0x0f)                     /* security method: NOSEC only */
		return osd_bad(byte, bit, 82, -1);
	return osd_cdb_attrs(cdb, r, byte, bit);
}

/* ---- attribute lists (OSD-2 7.1.3) ---- */

static uint32_t osd_elem_size(uint32_t len)
{
	return (OSD_ELEM_HDR + len + 7u) & ~7u;
}

int osd_attr_list_parse(const uint8_t *p, uint32_t n, osd_attr_fn fn, void *arg, uint32_t *bad)
{
	uint32_t pos = OSD_LIST_HDR, end;
	int ret;

	if (n < OSD_LIST_HDR || (p[0] & 0x0f) != OSD_LIST_SET_RET) {
		*bad = 0;
		return -EINVAL;
	}
	if (get_be32(p + 4) > n - OSD_LIST_HDR) {
		*bad = 4;
		return -EINVAL;
	}
	end = OSD_LIST_HDR + get_be32(p + 4);
	while (pos < end) {
		struct osd_attr a;

		if (end - pos < OSD_ELEM_HDR) {
			*bad = pos;
			return -EINVAL;
		}
		a.page = get_be32(p + pos);
		a.num = get_be32(p + pos + 4);
		a.len = get_be16(p + pos + 14);
		a.val = p + pos + OSD_ELEM_HDR;
		if (a.len > OSD_ATTR_VAL_MAX || a.len > end - pos - OSD_ELEM_HDR) {
			*bad = pos + 14;
			return -EINVAL;
		}
		ret = fn(&a, arg);
		if (ret) {
			*bad = pos;
			return ret;
		}
		pos += osd_elem_size(a.len) < end - pos ? osd_elem_size(a.len) : end - pos;
	}
	return 0;
}

void osd_attr_list_put(uint8_t *p, uint32_t cap, uint32_t *pos, const struct osd_attr *a)
{
	uint8_t e[OSD_ELEM_HDR] = { 0 };
	uint32_t size = osd_elem_size(a->len), i;

	put_be32(e, a->page);
	put_be32(e + 4, a->num);
	put_be16(e + 14, a->len);
	for (i = 0; i < size; i++) {
		uint32_t at = *pos + i;
		uint8_t v = i < OSD_ELEM_HDR ? e[i] :
			    i - OSD_ELEM_HDR < a->len ? a->val[i - OSD_ELEM_HDR] : 0;

		if (at < cap)
			p[at] = v;
	}
	*pos += size;
}

/* ---- attributes of an object ---- */

static uint32_t osd_kind_base(enum osd_kind k)
{
	return k == OSD_ROOT ? OSD_PAGE_ROOT_BASE : k == OSD_PART ? OSD_PAGE_PART_BASE :
	       OSD_PAGE_USER_BASE;
}

/* Whether page/num of an object of kind k may be set (application pages, username). */
static bool osd_attr_settable(enum osd_kind k, uint32_t page, uint32_t num)
{
	uint32_t base = osd_kind_base(k), rel;

	if (page < base || page - base >= 0x30000000u)
		return false;
	rel = page - base;
	if (rel == OSD_PAGE_INFO)
		return num == OSD_ATTR_USERNAME && k != OSD_ROOT;
	return rel >= OSD_PAGE_APP_FIRST && rel <= OSD_PAGE_APP_LAST && num && num != 0xffffffffu;
}

struct osd_info {
	struct osd_attr a[OSD_INFO_MAX];
	unsigned int n;
	uint8_t v[256];                 /* values */
	unsigned int used;
};

static void osd_info_add(struct osd_info *in, uint32_t page, uint32_t num, const void *val,
			 uint16_t len)
{
	struct osd_attr *a = &in->a[in->n++];

	memcpy(in->v + in->used, val, len);
	a->page = page;
	a->num = num;
	a->len = len;
	a->val = in->v + in->used;
	in->used += len;
}

static void osd_info_u64(struct osd_info *in, uint32_t page, uint32_t num, uint64_t v)
{
	uint8_t b[8];

	put_be64(b, v);
	osd_info_add(in, page, num, b, 8);
}

static void osd_info_ascii(struct osd_info *in, uint32_t page, uint32_t num, const char *s,
			   uint16_t len)
{
	uint8_t b[40];

	scsi_put_ascii(b, s, len);
	osd_info_add(in, page, num, b, len);
}

/* The fixed-size attributes of the information page of x's object, ascending. */
static void osd_info_build(struct osd_ctx *x, struct osd_info *in)
{
	const struct core_lu *lu = x->cmd->lu;
	uint64_t bytes = 0, count = 0;
	uint8_t sysid[20] = { 0 };

	in->n = 0;
	in->used = 0;
	if (x->kind == OSD_ROOT) {
		put_be64(sysid, (0x6ull << 60) | ((uint64_t)SCSI_NAA_COMPANY_ID << 36) | lu->naa_id);
		osd_info_ascii(in, 0x90000001u, 0, "INCITS  T10 Root Information", 40);
		osd_info_ascii(in, 0x90000001u, 3, lu->vendor_id, 8);
		osd_info_ascii(in, 0x90000001u, 4, lu->product_id, 16);
		osd_info_ascii(in, 0x90000001u, 6, lu->product_rev, 4);
		osd_info_add(in, 0x90000001u, 0xd, sysid, 20);
		osd_info_u64(in, 0x90000001u, 0x81, x->s->capacity);
		osd_info_u64(in, 0x90000001u, 0x82, x->s->used);
		osd_info_u64(in, 0x90000001u, 0xc0, x->s->nr_parts);
	} else if (x->kind == OSD_PART) {
		osd_store_part_usage(x->s, x->pid, &bytes, &count);
		osd_info_ascii(in, 0x30000001u, 0, "INCITS  T10 Partition Information", 40);
		osd_info_u64(in, 0x30000001u, 1, x->pid);
		osd_info_u64(in, 0x30000001u, 0x81, bytes);
		osd_info_u64(in, 0x30000001u, 0xc1, count);
	} else {
		osd_store_obj_size(x->s, x->pid, x->oid, &bytes);
		osd_info_ascii(in, 0x1u, 0, "INCITS  T10 User Object Information", 40);
		osd_info_u64(in, 0x1u, 1, x->pid);
		osd_info_u64(in, 0x1u, 2, x->oid);
		osd_info_u64(in, 0x1u, 0x81, bytes);
		osd_info_u64(in, 0x1u, 0x82, bytes);
	}
}

struct osd_put {
	uint8_t *p;
	uint32_t cap, pos;
};

static int osd_put_stored(const struct osd_attr *a, void *arg)
{
	struct osd_put *o = arg;

	osd_attr_list_put(o->p, o->cap, &o->pos, a);
	return 0;
}

/* A retrieved-attributes list (type 9) of page (OSD_PAGE_ALL: every page) into p. */
static uint32_t osd_get_list(struct osd_ctx *x, uint32_t page, uint8_t *p, uint32_t cap)
{
	struct osd_put o = { .p = p, .cap = cap, .pos = OSD_LIST_HDR };
	uint8_t hdr[OSD_LIST_HDR];
	struct osd_info in;
	unsigned int i;

	if (page == OSD_PAGE_ALL) {
		osd_info_build(x, &in);
		for (i = 0; i < in.n; i++)
			osd_attr_list_put(p, cap, &o.pos, &in.a[i]);
	}
	osd_store_attr_foreach(x->s, x->pid, x->oid, page, osd_put_stored, &o);
	put_be32(hdr, OSD_LIST_SET_RET << 24);
	put_be32(hdr + 4, o.pos - OSD_LIST_HDR);
	if (cap)
		memcpy(p, hdr, MIN(cap, OSD_LIST_HDR));
	return o.pos;
}

/* An information page in page format: page, length, the fixed-size values ascending. */
static uint32_t osd_get_info_page(struct osd_ctx *x, uint8_t *p, uint32_t cap)
{
	uint8_t page[8 + 256];
	struct osd_info in;
	uint32_t len = 8;
	unsigned int i;

	osd_info_build(x, &in);
	for (i = 0; i < in.n; i++) {
		memcpy(page + len, in.a[i].val, in.a[i].len);
		len += in.a[i].len;
	}
	put_be32(page, osd_kind_base(x->kind) + OSD_PAGE_INFO);
	put_be32(page + 4, len - 8);
	if (cap)
		memcpy(p, page, MIN(len, cap));
	return len;
}

/* Retrieves get_page into the Data-In buffer at get_off (page mode). */
static void osd_get_page(struct osd_ctx *x)
{
	struct scsi_cmd *cmd = x->cmd;
	uint32_t page = x->r.get_page, base = osd_kind_base(x->kind), cap = 0;
	uint8_t *p = NULL;
	uint8_t hdr[8];

	if (x->r.get_off < cmd->buf_len) {
		p = cmd->buf + x->r.get_off;
		cap = (uint32_t)MIN((uint64_t)x->r.get_alloc, cmd->buf_len - x->r.get_off);
		memset(p, 0, cap);      /* the whole allocation goes out */
	}
	if (page == base + OSD_PAGE_INFO) {
		osd_get_info_page(x, p, cap);
	} else if (page == OSD_PAGE_ALL ||
		   (page >= base && page - base >= OSD_PAGE_APP_FIRST &&
		    page - base <= OSD_PAGE_APP_LAST)) {
		osd_get_list(x, page, p, cap);
	} else {                        /* a page without attributes */
		put_be32(hdr, page);
		put_be32(hdr + 4, 0);
		if (cap)
			memcpy(p, hdr, MIN(8u, cap));
	}
}

/* ---- sense ---- */

static int osd_fail(struct osd_ctx *x, uint16_t byte)
{
	scsi_fail_cdb(x->cmd, byte, -1);
	return -EINVAL;
}

static int osd_fail_param(struct osd_ctx *x, uint32_t off)
{
	core_cmd_fail_field(x->cmd, ASC_INVALID_FIELD_IN_PARAM, false,
			    (uint16_t)MIN(off, 0xffffu), -1);
	return -EINVAL;
}

/* A store error: quota, resources, or an I/O failure. */
static int osd_fail_store(struct osd_ctx *x, int err, uint16_t asc_io)
{
	if (err == -EDQUOT)
		core_cmd_fail(x->cmd, SENSE_DATA_PROTECT, OSD_ASC_QUOTA);
	else if (err == -ENOSPC)
		core_cmd_fail(x->cmd, SENSE_ILLEGAL_REQUEST, ASC_INSUFFICIENT_RESOURCES);
	else if (err == -EIO)
		core_cmd_fail(x->cmd, SENSE_MEDIUM_ERROR, asc_io);
	else
		core_cmd_fail(x->cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	return err;
}

/* ---- addressing ---- */

static int osd_target_obj(struct osd_ctx *x)
{
	if (!osd_store_part_exists(x->s, x->pid))
		return osd_fail(x, 16);
	if (!osd_store_obj_exists(x->s, x->pid, x->oid))
		return osd_fail(x, 24);
	x->kind = OSD_USER;
	return 0;
}

/* Checks the partition and object ids against what the command addresses. */
static int osd_target_check(struct osd_ctx *x, enum osd_target t)
{
	bool part;

	x->pid = x->r.pid;
	x->oid = x->r.oid;
	part = x->pid && osd_store_part_exists(x->s, x->pid);
	switch (t) {
	case OSD_T_ROOT:
		x->kind = OSD_ROOT;
		return x->pid ? osd_fail(x, 16) : x->oid ? osd_fail(x, 24) : 0;
	case OSD_T_NEW_PART:
		x->kind = OSD_PART;
		if (x->oid)
			return osd_fail(x, 24);
		return (x->pid && (x->pid < OSD_FIRST_ID || part)) ? osd_fail(x, 16) : 0;
	case OSD_T_PART:
	case OSD_T_LIST:
		x->kind = x->pid ? OSD_PART : OSD_ROOT;
		if (x->oid)
			return osd_fail(x, 24);
		return (!part && (x->pid || t == OSD_T_PART)) ? osd_fail(x, 16) : 0;
	case OSD_T_NEW_OBJ:
		x->kind = OSD_USER;
		if (!part)
			return osd_fail(x, 16);
		if (x->oid && (x->oid < OSD_FIRST_ID || osd_store_obj_exists(x->s, x->pid, x->oid)))
			return osd_fail(x, 24);
		return 0;
	case OSD_T_OBJ:
		return osd_target_obj(x);
	default:
		if (!x->pid) {
			x->kind = OSD_ROOT;
			return x->oid ? osd_fail(x, 24) : 0;
		}
		x->kind = OSD_PART;
		if (!x->oid)
			return part ? 0 : osd_fail(x, 16);
		return osd_target_obj(x);
	}
}

/* ---- set attributes ---- */

struct osd_set {
	struct osd_ctx *x;
	bool apply;
	int err;
};

static int osd_set_one(const struct osd_attr *a, void *arg)
{
	struct osd_set *st = arg;
	int ret;

	if (!st->apply)
		return osd_attr_settable(st->x->kind, a->page, a->num) ? 0 : -EINVAL;
	ret = osd_store_attr_set(st->x->s, st->x->pid, st->x->oid, a);
	st->err = ret;
	return ret;
}

/* Validates (apply false) or stores (apply true) the attributes the CDB sets. */
static int osd_set_attrs(struct osd_ctx *x, bool apply)
{
	const struct osd_req *r = &x->r;
	struct osd_set st = { .x = x, .apply = apply };
	struct osd_attr a = { .page = r->set_page, .num = r->set_num, .len = (uint16_t)r->set_len };
	uint32_t bad = 0;
	int ret;

	if (r->fmt == OSD_FMT_LIST) {
		if (!r->set_list_bytes)
			return 0;
		ret = osd_attr_list_parse(x->cmd->buf + r->set_list_off, r->set_list_bytes,
					  osd_set_one, &st, &bad);
		if (ret && !st.err)
			return osd_fail_param(x, (uint32_t)r->set_list_off + bad);
	} else {
		if (!r->set_page)
			return 0;
		if (r->fmt == OSD_FMT_SET_ONE)
			a.val = r->set_val_cdb;
		else if (r->set_len)
			a.val = x->cmd->buf + r->set_off;
		ret = osd_set_one(&a, &st);
		if (ret && !st.err)
			return osd_fail(x, r->fmt == OSD_FMT_SET_ONE ? 52 : 64);
	}
	return ret ? osd_fail_store(x, ret, ASC_WRITE_ERROR) : 0;
}

/* ---- data transfer checks ---- */

struct osd_need {
	uint64_t end;                   /* bytes of the buffer needed */
	uint16_t field;                 /* CDB byte to blame */
};

static void osd_need_add(struct osd_need *n, uint64_t off, uint64_t len, uint16_t field)
{
	if (len && off + len > n->end) {
		n->end = off + len;
		n->field = field;
	}
}

/*
 * Works out the Data-In and Data-Out the command needs: both at once is a bidirectional
 * command (refused), regions must not overlap the data and must fit the transfer.
 */
static int osd_xfer_check(struct osd_ctx *x, const struct osd_action *act)
{
	const struct osd_req *r = &x->r;
	struct scsi_cmd *cmd = x->cmd;
	struct osd_need in = { 0 }, out = { 0 };
	uint64_t data = (act->flags & (OSD_AF_IN | OSD_AF_OUT)) ? r->len : 0;

	if (data > SCSI_MAX_XFER_BYTES)
		return osd_fail(x, 32);
	osd_need_add(act->flags & OSD_AF_IN ? &in : &out, 0, data, 32);
	if (r->fmt == OSD_FMT_PAGE && r->get_page && r->get_alloc) {
		if (r->get_off < (act->flags & OSD_AF_IN ? data : 0) ||
		    r->get_off > SCSI_MAX_XFER_BYTES)
			return osd_fail(x, 60);
		osd_need_add(&in, r->get_off, r->get_alloc, 56);
	}
	if (r->fmt == OSD_FMT_PAGE && r->set_page && r->set_len) {
		if (r->set_off < (act->flags & OSD_AF_OUT ? data : 0))
			return osd_fail(x, 76);
		osd_need_add(&out, r->set_off, r->set_len, 76);
	}
	if (r->fmt == OSD_FMT_LIST && r->set_list_bytes) {
		if (r->set_list_off < (act->flags & OSD_AF_OUT ? data : 0))
			return osd_fail(x, 72);
		osd_need_add(&out, r->set_list_off, r->set_list_bytes, 72);
	}
	if (in.end && out.end)
		return osd_fail(x, 11);         /* bidirectional: see the file comment */
	if (in.end > SCSI_MAX_XFER_BYTES)
		return osd_fail(x, in.field);
	if (out.end && (cmd->dir != SCSI_DIR_WRITE || out.end > cmd->out_len))
		return osd_fail(x, out.field);
	if (in.end && cmd->dir == SCSI_DIR_WRITE)
		return osd_fail(x, in.field);
	return 0;
}

/* ---- commands ---- */

static int osd_format(struct osd_ctx *x)
{
	int ret = osd_store_format(x->s, x->r.len);

	return ret ? osd_fail_store(x, ret, ASC_WRITE_ERROR) : 0;
}

static int osd_create_partition(struct osd_ctx *x)
{
	int ret = osd_store_part_create(x->s, &x->pid);

	if (ret == -EEXIST)
		return osd_fail(x, 16);
	return ret ? osd_fail_store(x, ret, ASC_WRITE_ERROR) : 0;
}

static int osd_remove_partition(struct osd_ctx *x)
{
	int ret = osd_store_part_remove(x->s, x->r.pid);

	if (ret == -ENOTEMPTY) {
		core_cmd_fail(x->cmd, SENSE_ILLEGAL_REQUEST, OSD_ASC_NOT_EMPTY);
		return ret;
	}
	return ret ? osd_fail_store(x, ret, ASC_WRITE_ERROR) : 0;
}

/* CREATE: one user object; NUMBER OF USER OBJECTS (bytes 36-37) 0 or 1. */
static int osd_create(struct osd_ctx *x)
{
	int ret;

	if (x->r.len & ~0xffff0000ull)
		return osd_fail(x, 32);
	if (((x->r.len >> 16) & 0xffff) > 1)
		return osd_fail(x, 36);
	ret = osd_store_obj_create(x->s, x->pid, &x->oid);
	if (ret == -EEXIST)
		return osd_fail(x, 24);
	return ret ? osd_fail_store(x, ret, ASC_WRITE_ERROR) : 0;
}

static int osd_remove(struct osd_ctx *x)
{
	int ret = osd_store_obj_remove(x->s, x->pid, x->r.oid);

	return ret ? osd_fail_store(x, ret, ASC_WRITE_ERROR) : 0;
}

static int osd_read(struct osd_ctx *x)
{
	struct scsi_cmd *cmd = x->cmd;
	uint64_t n = MIN(x->r.len, (uint64_t)cmd->buf_len);
	int ret;

	if (x->r.start > OSD_OBJECT_MAX || x->r.len > OSD_OBJECT_MAX - x->r.start)
		return osd_fail(x, 40);
	ret = osd_store_obj_read(x->s, x->pid, x->oid, cmd->buf, n, x->r.start);
	if (ret)
		return osd_fail_store(x, ret, ASC_READ_ERROR);
	x->data_in = (uint32_t)x->r.len;
	return 0;
}

static int osd_write_at(struct osd_ctx *x, uint64_t off)
{
	int ret = osd_store_obj_write(x->s, x->pid, x->oid, x->cmd->buf, x->r.len, &off,
				      x->r.options & 0x08);

	if (ret == -EFBIG)
		return osd_fail(x, x->r.sa == OSD_SA_APPEND ? 32 : 40);
	return ret ? osd_fail_store(x, ret, ASC_WRITE_ERROR) : 0;
}

static int osd_write(struct osd_ctx *x)
{
	return osd_write_at(x, x->r.start);
}

static int osd_append(struct osd_ctx *x)
{
	return osd_write_at(x, UINT64_MAX);
}

/* LIST: header (24 bytes) then the ids ascending from the INITIAL OBJECT ID. */
static int osd_list(struct osd_ctx *x)
{
	struct scsi_cmd *cmd = x->cmd;
	uint64_t alloc = MIN(x->r.len, (uint64_t)cmd->buf_len), next = 0;
	uint32_t max = alloc >= 24 ? (uint32_t)(alloc - 24) / 8 : 0, n = 0;
	uint8_t hdr[24] = { 0 };
	int ret;

	ret = osd_store_list(x->s, x->pid, x->r.start, alloc ? cmd->buf + MIN(alloc, 24u) : NULL,
			     max, &n, &next);
	if (ret)
		return osd_fail_store(x, ret, ASC_READ_ERROR);
	put_be64(hdr, 16 + 8ull * n);
	put_be64(hdr + 8, next);
	put_be32(hdr + 16, x->r.list_id);
	hdr[23] = x->pid ? 0 : 1;       /* ROOT: the ids are partitions */
	if (alloc)
		memcpy(cmd->buf, hdr, MIN(alloc, 24u));
	x->data_in = (uint32_t)MIN(x->r.len, 24 + 8ull * n);
	return 0;
}

static int osd_flush(struct osd_ctx *x)
{
	int ret = osd_store_sync(x->s);

	return ret ? osd_fail_store(x, ret, ASC_WRITE_ERROR) : 0;
}

static int osd_nop(struct osd_ctx *x)
{
	(void)x;
	return 0;
}

static const struct osd_action osd_actions[] = {
	{ OSD_SA_FORMAT, OSD_T_ROOT, OSD_AF_WRITES, 0, "FORMAT OSD", osd_format },
	{ OSD_SA_CREATE, OSD_T_NEW_OBJ, OSD_AF_WRITES, 0, "CREATE", osd_create },
	{ OSD_SA_LIST, OSD_T_LIST, OSD_AF_IN, 0, "LIST", osd_list },
	{ OSD_SA_READ, OSD_T_OBJ, OSD_AF_IN, 0, "READ", osd_read },
	{ OSD_SA_WRITE, OSD_T_OBJ, OSD_AF_WRITES | OSD_AF_OUT, 0, "WRITE", osd_write },
	{ OSD_SA_APPEND, OSD_T_OBJ, OSD_AF_WRITES | OSD_AF_OUT, 0, "APPEND", osd_append },
	{ OSD_SA_FLUSH, OSD_T_OBJ, 0, 0x03, "FLUSH", osd_flush },
	{ OSD_SA_REMOVE, OSD_T_OBJ, OSD_AF_WRITES, 0, "REMOVE", osd_remove },
	{ OSD_SA_CREATE_PARTITION, OSD_T_NEW_PART, OSD_AF_WRITES, 0, "CREATE PARTITION",
	  osd_create_partition },
	{ OSD_SA_REMOVE_PARTITION, OSD_T_PART, OSD_AF_WRITES, 0, "REMOVE PARTITION",
	  osd_remove_partition },
	{ OSD_SA_GET_ATTRIBUTES, OSD_T_ANY, 0, 0, "GET ATTRIBUTES", osd_nop },
	{ OSD_SA_SET_ATTRIBUTES, OSD_T_ANY, 0, 0, "SET ATTRIBUTES", osd_nop },
	{ OSD_SA_FLUSH_PARTITION, OSD_T_PART, 0, 0x03, "FLUSH PARTITION", osd_flush },
	{ OSD_SA_FLUSH_OSD, OSD_T_ROOT, 0, 0x03, "FLUSH OSD", osd_flush },
};

static const struct osd_action *osd_action_find(uint16_t sa)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(osd_actions); i++)
		if (osd_actions[i].sa == sa)
			return &osd_actions[i];
	return NULL;
}

/* Whether the command sets attributes (then it modifies the store). */
static bool osd_sets(const struct osd_req *r)
{
	return r->fmt == OSD_FMT_LIST ? r->set_list_bytes != 0 : r->set_page != 0;
}

/* LU state, then addressing, transfers and attributes to set, all before anything changes. */
static int osd_prepare(struct osd_ctx *x, const struct osd_action *act)
{
	const struct core_lu *lu = x->cmd->lu;

	if (x->r.cso & (uint8_t)~act->cso_mask)
		return osd_fail(x, 11);
	if (!lu->online) {
		core_cmd_fail(x->cmd, SENSE_NOT_READY, ASC_LUN_NOT_READY_OFFLINE);
		return -EIO;
	}
	if (((act->flags & OSD_AF_WRITES) || osd_sets(&x->r)) && (lu->readonly || lu->swp)) {
		core_cmd_fail(x->cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return -EROFS;
	}
	if (osd_xfer_check(x, act) || osd_target_check(x, act->target))
		return -EINVAL;
	if (act->sa == OSD_SA_REMOVE) { /* attributes apply to the container that remains */
		x->kind = OSD_PART;
		x->oid = 0;
	} else if (act->sa == OSD_SA_REMOVE_PARTITION) {
		x->kind = OSD_ROOT;
		x->pid = 0;
	}
	return osd_set_attrs(x, false);
}

/* Runs one OSD command under the store lock; the status is set when it returns. */
static void osd_exec(struct osd_ctx *x)
{
	struct scsi_cmd *cmd = x->cmd;
	const struct osd_action *act;
	uint16_t byte = 0;
	uint64_t end;
	int bit = -1;

	if (osd_cdb_decode(cmd->cdb, cmd->cdb_len, &x->r, &byte, &bit)) {
		scsi_fail_cdb(cmd, byte, bit);
		return;
	}
	act = osd_action_find(x->r.sa);
	if (!act) {
		scsi_fail_cdb(cmd, 8, -1);
		return;
	}
	if (osd_prepare(x, act) || act->fn(x) || osd_set_attrs(x, true))
		return;
	end = x->data_in;
	if (x->r.fmt == OSD_FMT_PAGE && x->r.get_page && x->r.get_alloc) {
		if (x->r.get_off > end && end < cmd->buf_len)
			memset(cmd->buf + end, 0, MIN(x->r.get_off, (uint64_t)cmd->buf_len) - end);
		osd_get_page(x);
		end = x->r.get_off + x->r.get_alloc;
	}
	core_cmd_good(cmd);
	cmd->in_len = (uint32_t)end;
}

static void osd_varlen(struct scsi_cmd *cmd)
{
	struct osd_ctx x = { .cmd = cmd, .s = &osd_lu(cmd->lu)->store };

	pthread_mutex_lock(&x.s->lock);
	osd_exec(&x);
	pthread_mutex_unlock(&x.s->lock);
}

/* ---- the device type ---- */

static const struct scsi_op osd_ops[SCSI_NR_OPCODES] = {
	SCSI_OPS_SPC,
};

static const struct scsi_vpd osd_vpd[] = {
	{ 0x00, spc_vpd_supported },
	{ 0x80, spc_vpd_serial },
	{ 0x83, spc_vpd_devid },
};

/* SAM-5, iSCSI, SPC-4, OSD-2 (no version claimed). */
static const uint16_t osd_versions[] = { 0x00a0, 0x0960, 0x0460, 0x0360 };

const struct scsi_type scsi_osd_type = {
	.dt = &scsi_osd,
	.pdt = SCSI_PDT_OSD,
	.unknown_asc = ASC_INVALID_OPCODE,
	.ops = osd_ops,
	.vpd = osd_vpd,
	.nr_vpd = ARRAY_SIZE(osd_vpd),
	.versions = osd_versions,
	.nr_versions = ARRAY_SIZE(osd_versions),
};

/* The backing path is the store's directory; the null store opens nothing. */
static int osd_lu_init(struct core_lu *lu)
{
	struct osd_lu *ol;
	int ret;

	if (!lu->bs || strcmp(lu->bs->name, "null") || !lu->path || !*lu->path)
		return -EINVAL;
	ol = calloc(1, sizeof(*ol));
	if (!ol)
		return -ENOMEM;
	ret = osd_store_open(&ol->store, lu->path);
	if (ret < 0) {
		free(ol);
		return ret;
	}
	lu->dt_priv = ol;
	lu->block_size = 1;
	lu->block_shift = 0;
	lu->size = 0;                   /* no block medium: see the root information page */
	scsi_lu_identity_init(lu, "UTGT", "OSD");
	return 0;
}

static void osd_lu_fini(struct core_lu *lu)
{
	struct osd_lu *ol = osd_lu(lu);

	if (!ol)
		return;
	osd_store_close(&ol->store);
	free(ol);
	lu->dt_priv = NULL;
}

static int osd_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	(void)lu;
	(void)key;
	(void)value;
	return -ENOENT;
}

static void osd_cmd_exec(struct scsi_cmd *cmd)
{
	if (cmd->cdb_len >= 1 && cmd->cdb[0] == SCSI_OP_VARLEN) {
		osd_varlen(cmd);
		core_cmd_done(cmd);
		return;
	}
	scsi_dispatch(cmd, &scsi_osd_type);
}

const struct core_devtype scsi_osd = {
	.name = "osd",
	.show_name = "osd",
	.pdt = SCSI_PDT_OSD,
	.default_bs = "null",
	.needs_path = true,
	.lu_init = osd_lu_init,
	.lu_fini = osd_lu_fini,
	.lu_config = osd_lu_config,
	.cmd_exec = osd_cmd_exec,
};
