// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the OSD device type (src/scsi/osd.c, osd_store.c): OSD-2 CDB decoding and
 * offsets, attribute-list parsing, and the commands on a store in a temporary directory.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scsi_test.h"
#include "scsi/osd_int.h"

#define OSD_LUN 5
#define PID     0x10000ull
#define OID     0x10000ull

struct ofx {
	struct fx *fx;
	char dir[64];
	uint8_t cdb[OSD_CDB_LEN];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int osd_setup(void **state)
{
	struct core_lu_params p = { .device_type = "osd", .bstype = "null" };
	struct ofx *o = calloc(1, sizeof(*o));
	struct core_lu *lu;
	void *st;

	assert_non_null(o);
	fx_setup(&st);
	o->fx = st;
	snprintf(o->dir, sizeof(o->dir), "/tmp/utgt-osd-XXXXXX");
	assert_non_null(mkdtemp(o->dir));
	rmdir(o->dir);                          /* lu_init creates it */
	p.path = o->dir;
	assert_int_equal(core_lu_new(o->fx->tgt, OSD_LUN, &p, &lu), 0);
	p.bstype = "fake";
	assert_int_equal(core_lu_new(o->fx->tgt, OSD_LUN + 1, &p, &lu), -EINVAL);
	core_ua_clear(o->fx->nexus);
	*state = o;
	return 0;
}

static int osd_teardown(void **state)
{
	struct ofx *o = *state;
	void *st = o->fx;

	fx_teardown(&st);
	nftw(o->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(o);
	return 0;
}

/* A page-format CDB with no attributes to get or set. */
static uint8_t *cdb_new(struct ofx *o, uint16_t sa, uint64_t pid, uint64_t oid, uint64_t len,
			uint64_t start)
{
	uint8_t *c = o->cdb;

	memset(c, 0, OSD_CDB_LEN);
	c[0] = 0x7f;
	c[7] = OSD_CDB_LEN - 8;
	put_be16(c + 8, sa);
	c[11] = 0x20;
	put_be64(c + 16, pid);
	put_be64(c + 24, oid);
	put_be64(c + 32, len);
	put_be64(c + 40, start);
	put_be32(c + 60, 0xffffffff);
	put_be32(c + 76, 0xffffffff);
	return c;
}

/* Byte offsets: exponent nibble 8 means shift 0. */
static uint32_t off(uint32_t bytes)
{
	return 0x80000000u | bytes;
}

static struct fx *run(struct ofx *o, uint32_t buf_len, uint32_t out_len)
{
	fx_run(o->fx, OSD_LUN, o->cdb, OSD_CDB_LEN, buf_len, out_len);
	return o->fx;
}

static void test_osd_offset_decode(void **state)
{
	(void)state;
	assert_true(osd_offset_decode(0xffffffff) == UINT64_MAX);
	assert_int_equal(osd_offset_decode(0x80000010), 16);
	assert_int_equal(osd_offset_decode(0x00000002), 512);        /* 2 << 8 */
	assert_int_equal(osd_offset_decode(0xb0000003), 24);         /* exponent -5: << 3 */
	assert_true(osd_offset_decode(0x7fffffff) == 0x0fffffffull << 15);
}

static void expect_bad(const uint8_t *c, uint16_t len, uint16_t byte, int bit)
{
	struct osd_req r;
	uint16_t b = 0xffff;
	int bt = 99;

	assert_int_equal(osd_cdb_decode(c, len, &r, &b, &bt), -EINVAL);
	assert_int_equal(b, byte);
	assert_int_equal(bt, bit);
}

static void test_osd_cdb_decode(void **state)
{
	struct ofx *o = *state;
	uint8_t *c = cdb_new(o, OSD_SA_READ, PID, OID + 1, 4096, 512);
	struct osd_req r;
	uint16_t b;
	int bit;

	put_be32(c + 52, 0x1);
	put_be32(c + 56, 128);
	put_be32(c + 60, off(4096));
	assert_int_equal(osd_cdb_decode(c, OSD_CDB_LEN, &r, &b, &bit), 0);
	assert_int_equal(r.sa, OSD_SA_READ);
	assert_int_equal(r.fmt, OSD_FMT_PAGE);
	assert_true(r.pid == PID && r.oid == OID + 1 && r.len == 4096 && r.start == 512);
	assert_true(r.get_page == 1 && r.get_alloc == 128 && r.get_off == 4096);
	assert_true(r.set_off == UINT64_MAX);

	expect_bad(c, 200, 7, -1);                      /* OSD-1 length */
	expect_bad(c, 7, 0, -1);
	c[7] = 192;
	expect_bad(c, OSD_CDB_LEN, 7, -1);
	c[7] = OSD_CDB_LEN - 8;
	c[1] = 0x04;
	expect_bad(c, OSD_CDB_LEN, 1, 2);
	c[1] = 0;
	c[13] = 0x80;
	expect_bad(c, OSD_CDB_LEN, 13, 7);
	c[13] = 0;
	c[11] = 0x00;                                   /* CDBFMT 00b is reserved */
	expect_bad(c, OSD_CDB_LEN, 11, 5);
	c[11] = 0x20;
	c[12] = 0x05;
	expect_bad(c, OSD_CDB_LEN, 12, -1);
	c[12] = 0x7f;
	c[82] = 0x01;                                   /* CAPKEY */
	expect_bad(c, OSD_CDB_LEN, 82, -1);
	c[82] = 0;
	put_be32(c + 60, 0xffffffff);                   /* get without an offset */
	expect_bad(c, OSD_CDB_LEN, 60, -1);
	c[11] = 0x10;                                   /* one attribute in the CDB */
	put_be16(c + 60, 19);
	expect_bad(c, OSD_CDB_LEN, 60, -1);
	c[11] = 0x30;                                   /* lists: a get list is bidirectional */
	memset(c + 52, 0, 28);
	put_be32(c + 52, 16);
	expect_bad(c, OSD_CDB_LEN, 52, -1);
	put_be32(c + 52, 0);
	put_be32(c + 68, 4);                            /* set list shorter than its header */
	expect_bad(c, OSD_CDB_LEN, 68, -1);
}

static int count_attr(const struct osd_attr *a, void *arg)
{
	unsigned int *n = arg;

	if (a->page == 0x10000 && a->len > 2)
		assert_memory_equal(a->val, "abc", 3);
	(*n)++;
	return 0;
}

static void test_osd_attr_list_parse(void **state)
{
	uint8_t l[64] = { 0 };
	struct osd_attr a = { .page = 0x10000, .num = 1, .len = 3, .val = (const uint8_t *)"abc" };
	uint32_t pos = OSD_LIST_HDR, bad = 0;
	unsigned int n = 0;

	(void)state;
	osd_attr_list_put(l, sizeof(l), &pos, &a);
	assert_int_equal(pos, 8 + 24);                   /* 16 + 3 padded to 8 */
	a.num = 2;
	a.len = 0;
	osd_attr_list_put(l, sizeof(l), &pos, &a);
	l[0] = OSD_LIST_SET_RET;
	put_be32(l + 4, pos - 8);
	assert_int_equal(osd_attr_list_parse(l, pos, count_attr, &n, &bad), 0);
	assert_int_equal(n, 2);

	l[0] = OSD_LIST_GET;
	assert_int_equal(osd_attr_list_parse(l, pos, count_attr, &n, &bad), -EINVAL);
	assert_int_equal(bad, 0);
	l[0] = OSD_LIST_SET_RET;
	put_be32(l + 4, pos);                           /* longer than the buffer */
	assert_int_equal(osd_attr_list_parse(l, pos, count_attr, &n, &bad), -EINVAL);
	assert_int_equal(bad, 4);
	put_be32(l + 4, pos - 8);
	put_be16(l + 8 + 14, 200);                      /* value past the list */
	assert_int_equal(osd_attr_list_parse(l, pos, count_attr, &n, &bad), -EINVAL);
	assert_int_equal(bad, 8 + 14);
	put_be16(l + 8 + 14, 3);
	put_be32(l + 4, pos - 8 - 4);                   /* a torn element header */
	assert_int_equal(osd_attr_list_parse(l, pos - 4, count_attr, &n, &bad), -EINVAL);
	assert_int_equal(bad, 32);
	pos = 8;                                        /* put past the end: counted, clipped */
	osd_attr_list_put(l, 10, &pos, &a);
	assert_int_equal(pos, 24);
}

static void test_osd_inquiry(void **state)
{
	struct ofx *o = *state;
	uint8_t cdb[6] = { 0x12, 0, 0, 0, 96, 0 };

	fx_run(o->fx, OSD_LUN, cdb, 6, 96, 0);
	fx_assert_good(o->fx);
	assert_int_equal(o->fx->buf[0], 0x11);
	assert_memory_equal(o->fx->buf + 16, "OSD ", 4);
}

static void test_osd_objects(void **state)
{
	struct ofx *o = *state;
	struct fx *fx = o->fx;
	char stray[128];
	uint8_t *c;
	FILE *f;

	c = cdb_new(o, OSD_SA_CREATE_PARTITION, 0, 0, 0, 0);
	fx_assert_good(run(o, 0, 0));
	c = cdb_new(o, OSD_SA_CREATE_PARTITION, PID, 0, 0, 0);   /* exists */
	fx_assert_field(run(o, 0, 0), 16, -1);
	c = cdb_new(o, OSD_SA_CREATE, PID, 0, 0, 0);
	put_be32(c + 52, 0x1);                                  /* get the new object's info */
	put_be32(c + 56, 256);
	put_be32(c + 60, off(0));
	fx_assert_good(run(o, 256, 0));
	assert_int_equal(get_be32(fx->buf), 1);
	assert_true(get_be64(fx->buf + 8 + 40) == PID);
	assert_true(get_be64(fx->buf + 8 + 48) == OID);
	assert_int_equal(fx->cmd.in_len, 256);

	memcpy(fx->buf, "hello, objects", 14);
	cdb_new(o, OSD_SA_WRITE, PID, OID, 14, 0);
	fx_assert_good(run(o, 14, 14));
	memcpy(fx->buf, "!!", 2);
	cdb_new(o, OSD_SA_APPEND, PID, OID, 2, 0);
	fx_assert_good(run(o, 2, 2));
	cdb_new(o, OSD_SA_READ, PID, OID, 20, 0);
	fx_assert_good(run(o, 20, 0));
	assert_memory_equal(fx->buf, "hello, objects!!\0\0\0\0", 20);
	assert_int_equal(fx->cmd.in_len, 20);

	c = cdb_new(o, OSD_SA_LIST, PID, 0, 64, 0);
	fx_assert_good(run(o, 64, 0));
	assert_int_equal(get_be64(fx->buf), 16 + 8);
	assert_int_equal(fx->cmd.in_len, 32);
	assert_true(get_be64(fx->buf + 24) == OID);
	cdb_new(o, OSD_SA_LIST, 0, 0, 64, 0);
	fx_assert_good(run(o, 64, 0));
	assert_int_equal(fx->buf[23] & 1, 1);
	assert_true(get_be64(fx->buf + 24) == PID);

	cdb_new(o, OSD_SA_REMOVE_PARTITION, PID, 0, 0, 0);
	fx_assert_sense(run(o, 0, 0), SENSE_ILLEGAL_REQUEST, 0x2c0a);
	cdb_new(o, OSD_SA_REMOVE, PID, OID, 0, 0);
	fx_assert_good(run(o, 0, 0));
	cdb_new(o, OSD_SA_READ, PID, OID, 20, 0);
	fx_assert_field(run(o, 20, 0), 24, -1);
	snprintf(stray, sizeof(stray), "%s/p%016llx/o%016llx.attr.tmp", o->dir, PID, OID);
	f = fopen(stray, "w");                  /* a torn attribute update */
	assert_non_null(f);
	fclose(f);
	cdb_new(o, OSD_SA_REMOVE_PARTITION, PID, 0, 0, 0);
	fx_assert_good(run(o, 0, 0));
	cdb_new(o, OSD_SA_LIST, 0, 0, 64, 0);
	fx_assert_good(run(o, 64, 0));
	assert_int_equal(get_be64(fx->buf), 16);
}

/* CREATE PARTITION pid, then CREATE of object oid in PID (0: numbers the target picks). */
static void new_object(struct ofx *o, uint64_t pid, uint64_t oid)
{
	cdb_new(o, OSD_SA_CREATE_PARTITION, pid, 0, 0, 0);
	fx_assert_good(run(o, 0, 0));
	cdb_new(o, OSD_SA_CREATE, PID, oid, 0, 0);
	fx_assert_good(run(o, 0, 0));
}

/* SET ATTRIBUTES of one value in the CDB (page, number, length; the value is the caller's). */
static uint8_t *set_one_cdb(struct ofx *o, uint32_t page, uint32_t num, uint16_t len)
{
	uint8_t *c = cdb_new(o, OSD_SA_SET_ATTRIBUTES, PID, OID, 0, 0);

	c[11] = 0x10;
	memset(c + 52, 0, 28);
	put_be32(c + 52, page);
	put_be32(c + 56, num);
	put_be16(c + 60, len);
	return c;
}

/* SET ATTRIBUTES with a set list of the attribute a in Data-Out; returns the list length. */
static uint32_t set_list_cdb(struct ofx *o, const struct osd_attr *a)
{
	struct fx *fx = o->fx;
	uint32_t pos = OSD_LIST_HDR;
	uint8_t *c;

	memset(fx->buf, 0, 128);
	osd_attr_list_put(fx->buf, 128, &pos, a);
	fx->buf[0] = OSD_LIST_SET_RET;
	put_be32(fx->buf + 4, pos - 8);
	c = cdb_new(o, OSD_SA_SET_ATTRIBUTES, PID, OID, 0, 0);
	c[11] = 0x30;
	memset(c + 52, 0, 28);
	put_be32(c + 64, 0xffffffff);
	put_be32(c + 68, pos);
	put_be32(c + 72, off(0));
	return pos;
}

static void test_osd_attributes(void **state)
{
	struct ofx *o = *state;
	struct fx *fx = o->fx;
	uint8_t *c;
	uint32_t pos;
	struct osd_attr a = { .page = 0x10001, .num = 7, .len = 5, .val = (const uint8_t *)"world" };

	new_object(o, PID, OID);

	c = set_one_cdb(o, 0x10000, 1, 5);                       /* one value in the CDB */
	memcpy(c + 62, "hello", 5);
	fx_assert_good(run(o, 0, 0));

	pos = set_list_cdb(o, &a);                               /* a set list in Data-Out */
	fx_assert_good(run(o, pos, pos));

	c = cdb_new(o, OSD_SA_GET_ATTRIBUTES, PID, OID, 0, 0);
	put_be32(c + 52, 0xffffffff);                            /* every page: a list */
	put_be32(c + 56, 512);
	put_be32(c + 60, off(0));
	fx_assert_good(run(o, 512, 0));
	assert_int_equal(fx->buf[0], OSD_LIST_SET_RET);
	assert_int_equal(get_be32(fx->buf + 4), 56 + 4 * 24 + 2 * 24);

	c = cdb_new(o, OSD_SA_GET_ATTRIBUTES, PID, OID, 0, 0);
	put_be32(c + 52, 0x10000);                               /* one application page */
	put_be32(c + 56, 64);
	put_be32(c + 60, off(8));
	fx_assert_good(run(o, 72, 0));
	assert_int_equal(get_be32(fx->buf + 8 + 4), 24);
	assert_int_equal(get_be32(fx->buf + 8 + 8), 0x10000);
	assert_memory_equal(fx->buf + 8 + 8 + 16, "hello", 5);
	assert_int_equal(fx->cmd.in_len, 72);

	set_one_cdb(o, 0x1, 0x82, 8);                            /* read-only attribute */
	fx_assert_field(run(o, 0, 0), 52, -1);

	a.page = 0x30010000;                                     /* a partition page */
	pos = set_list_cdb(o, &a);
	run(o, pos, pos);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	assert_int_equal(fx->cmd.sense[15] & 0xc0, 0x80);        /* SKSV, parameter data */
	assert_int_equal(get_be16(fx->cmd.sense + 16), 8);
}

static void test_osd_hostile(void **state)
{
	struct ofx *o = *state;
	struct fx *fx = o->fx;
	uint8_t *c;

	cdb_new(o, 0x8801, 0, 0, 0, 0);                          /* an OSD-1 service action */
	fx_assert_field(run(o, 0, 0), 8, -1);
	cdb_new(o, OSD_SA_CREATE, PID, 0, 0, 0);                 /* no such partition */
	fx_assert_field(run(o, 0, 0), 16, -1);
	cdb_new(o, OSD_SA_CREATE_PARTITION, 5, 0, 0, 0);         /* reserved id */
	fx_assert_field(run(o, 0, 0), 16, -1);
	cdb_new(o, OSD_SA_CREATE_PARTITION, PID, 0, 0, 0);
	fx_assert_good(run(o, 0, 0));
	cdb_new(o, OSD_SA_CREATE, PID, 0, 2ull << 16, 0);        /* two objects */
	fx_assert_field(run(o, 0, 0), 36, -1);
	cdb_new(o, OSD_SA_CREATE, PID, OID, 0, 0);
	fx_assert_good(run(o, 0, 0));
	cdb_new(o, OSD_SA_READ, PID, OID, 16ull << 20, 0);       /* over the transfer limit */
	fx_assert_field(run(o, 4096, 0), 32, -1);
	cdb_new(o, OSD_SA_READ, PID, OID, 16, OSD_OBJECT_MAX);
	fx_assert_field(run(o, 16, 0), 40, -1);
	cdb_new(o, OSD_SA_WRITE, PID, OID, 4096, 0);             /* Data-Out too short */
	fx_assert_field(run(o, 512, 512), 32, -1);
	c = cdb_new(o, OSD_SA_READ, PID, OID, 16, 0);            /* read + set from Data-Out */
	put_be32(c + 64, 0x10000);
	put_be32(c + 68, 1);
	put_be32(c + 72, 4);
	put_be32(c + 76, off(16));
	fx_assert_field(run(o, 32, 0), 11, -1);
	c = cdb_new(o, OSD_SA_READ, PID, OID, 16, 0);            /* attributes over the data */
	put_be32(c + 52, 0x1);
	put_be32(c + 56, 64);
	put_be32(c + 60, off(8));
	fx_assert_field(run(o, 128, 0), 60, -1);
	c = cdb_new(o, OSD_SA_REMOVE, PID, OID, 0, 0);
	c[11] |= 0x40;                                           /* command-specific bit */
	fx_assert_field(run(o, 0, 0), 11, -1);
	c = cdb_new(o, OSD_SA_FORMAT, PID, 0, 0, 0);
	fx_assert_field(run(o, 0, 0), 16, -1);

	core_lu_find(fx->tgt, OSD_LUN)->readonly = true;
	cdb_new(o, OSD_SA_REMOVE, PID, OID, 0, 0);
	fx_assert_sense(run(o, 0, 0), SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	core_lu_find(fx->tgt, OSD_LUN)->readonly = false;

	cdb_new(o, OSD_SA_FORMAT, 0, 0, 100, 0);                 /* 100 bytes of capacity */
	fx_assert_good(run(o, 0, 0));
	new_object(o, 0, 0);
	memset(fx->buf, 0xab, 200);
	cdb_new(o, OSD_SA_WRITE, PID, OID, 200, 0);
	fx_assert_sense(run(o, 200, 200), SENSE_DATA_PROTECT, 0x5507);
	cdb_new(o, OSD_SA_WRITE, PID, OID, 100, 0);
	fx_assert_good(run(o, 100, 100));
}

/* A store opened again counts its partitions and used bytes from the directory tree. */
static void test_osd_reopen(void **state)
{
	struct core_lu_params p = { .device_type = "osd", .bstype = "null" };
	struct ofx *o = *state;
	struct fx *fx = o->fx;
	struct core_lu *lu;
	uint8_t *c;

	new_object(o, 0, 0);
	memset(fx->buf, 7, 100);
	cdb_new(o, OSD_SA_WRITE, PID, OID, 100, 0);
	fx_assert_good(run(o, 100, 100));
	assert_int_equal(core_lu_delete(fx->tgt, OSD_LUN, false), 0);
	p.path = o->dir;
	assert_int_equal(core_lu_new(fx->tgt, OSD_LUN, &p, &lu), 0);
	core_ua_clear(fx->nexus);
	c = cdb_new(o, OSD_SA_GET_ATTRIBUTES, 0, 0, 0, 0);
	put_be32(c + 52, 0x90000001);
	put_be32(c + 56, 128);
	put_be32(c + 60, off(0));
	fx_assert_good(run(o, 128, 0));
	assert_int_equal(get_be32(fx->buf + 4), 112);
	assert_int_equal(get_be64(fx->buf + 8 + 88), 0);        /* capacity: unlimited */
	assert_int_equal(get_be64(fx->buf + 8 + 96), 100);      /* used */
	assert_int_equal(get_be64(fx->buf + 8 + 104), 1);       /* partitions */
	assert_int_equal(fx->buf[120], 0);                      /* zeroes past the page */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_osd_offset_decode),
		cmocka_unit_test_setup_teardown(test_osd_cdb_decode, osd_setup, osd_teardown),
		cmocka_unit_test(test_osd_attr_list_parse),
		cmocka_unit_test_setup_teardown(test_osd_inquiry, osd_setup, osd_teardown),
		cmocka_unit_test_setup_teardown(test_osd_objects, osd_setup, osd_teardown),
		cmocka_unit_test_setup_teardown(test_osd_attributes, osd_setup, osd_teardown),
		cmocka_unit_test_setup_teardown(test_osd_hostile, osd_setup, osd_teardown),
		cmocka_unit_test_setup_teardown(test_osd_reopen, osd_setup, osd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
