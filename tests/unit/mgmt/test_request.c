/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * src/mgmt/request.c: request decoding refuses bad JSON shapes, wrong types, out-of-range
 * numbers, over-long strings and unknown fields with "invalid request", and splits --params
 * with bounds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "mgmt/mgmt_int.h"

struct decoded {
	json_t *root;
	struct mgmt_req req;
	struct mgmt_rsp rsp;
	enum mgmt_err err;
};

static struct decoded *decode(const char *text)
{
	struct decoded *d = calloc(1, sizeof(*d));
	json_error_t jerr;

	assert_non_null(d);
	d->root = json_loads(text, JSON_DECODE_ANY, &jerr);
	assert_non_null(d->root);
	d->err = mgmt_req_decode(d->root, &d->req, &d->rsp);
	return d;
}

static void decoded_free(struct decoded *d)
{
	json_decref(d->root);
	free(d);
}

static void expect_invalid(const char *text, const char *detail_part)
{
	struct decoded *d = decode(text);

	assert_int_equal(d->err, MGMT_ERR_INVALID_REQUEST);
	if (detail_part && !strstr(d->rsp.detail, detail_part))
		fail_msg("detail '%s' lacks '%s'", d->rsp.detail, detail_part);
	decoded_free(d);
}

static void test_full_request_decodes(void **state)
{
	struct decoded *d;

	(void)state;
	d = decode("{\"mode\":\"logicalunit\",\"op\":\"new\",\"lld\":\"iscsi\",\"tid\":7,"
		   "\"lun\":3,\"sid\":9,\"cid\":2,\"force\":true,\"outgoing\":false,"
		   "\"name\":\"n\",\"value\":\"v\",\"targetname\":\"iqn.t\","
		   "\"backing_store\":\"/x\",\"bstype\":\"rdwr\",\"bsopts\":\"o\","
		   "\"bsoflags\":\"sync\",\"blocksize\":4096,\"device_type\":\"disk\","
		   "\"initiator_address\":\"ALL\",\"initiator_name\":\"iqn.i\",\"user\":\"u\","
		   "\"password\":\"p\",\"params\":\"a=b\",\"host_no\":1}");
	assert_int_equal(d->err, MGMT_OK);
	assert_int_equal(d->req.mode, MGMT_MODE_LU);
	assert_int_equal(d->req.op, MGMT_OP_NEW);
	assert_true(d->req.has_tid);
	assert_int_equal(d->req.tid, 7);
	assert_true(d->req.has_lun);
	assert_int_equal(d->req.lun, 3);
	assert_int_equal(d->req.sid, 9);
	assert_int_equal(d->req.cid, 2);
	assert_int_equal(d->req.blocksize, 4096);
	assert_true(d->req.force);
	assert_false(d->req.outgoing);
	assert_string_equal(d->req.backing_store, "/x");
	assert_string_equal(d->req.initiator_name, "iqn.i");
	assert_string_equal(d->req.password, "p");
	assert_non_null(d->req.params);
	decoded_free(d);

	d = decode("{\"mode\":\"tgt\",\"op\":\"show\"}");
	assert_int_equal(d->err, MGMT_OK);
	assert_int_equal(d->req.mode, MGMT_MODE_TARGET);
	assert_false(d->req.has_tid);
	assert_null(d->req.targetname);
	decoded_free(d);
}

static void test_shape_errors(void **state)
{
	(void)state;
	expect_invalid("[]", "not a JSON object");
	expect_invalid("\"target\"", "not a JSON object");
	expect_invalid("{\"op\":\"show\"}", "mode");
	expect_invalid("{\"mode\":\"target\"}", "op");
	expect_invalid("{\"mode\":\"disk\",\"op\":\"show\"}", "unknown mode");
	expect_invalid("{\"mode\":\"target\",\"op\":\"list\"}", "unknown op");
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"tidd\":1}", "unknown field 'tidd'");
}

static void test_type_errors(void **state)
{
	(void)state;
	expect_invalid("{\"mode\":1,\"op\":\"show\"}", "mode");
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"tid\":\"1\"}", "tid");
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"tid\":1.5}", "tid");
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"force\":1}", "force");
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"name\":7}", "name");
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"name\":null}", "name");
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"params\":[\"a=b\"]}", "params");
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"params\":{\"a\":1}}", "params");
}

static void test_range_errors(void **state)
{
	struct decoded *d;

	(void)state;
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"tid\":-1}", "tid");
	expect_invalid("{\"mode\":\"target\",\"op\":\"show\",\"tid\":2147483648}", "tid");
	expect_invalid("{\"mode\":\"conn\",\"op\":\"show\",\"cid\":4294967296}", "cid");
	expect_invalid("{\"mode\":\"lu\",\"op\":\"show\",\"lun\":-3}", "lun");
	d = decode("{\"mode\":\"target\",\"op\":\"show\",\"tid\":2147483647,\"cid\":4294967295,"
		   "\"lun\":9223372036854775807}");
	assert_int_equal(d->err, MGMT_OK);
	assert_int_equal(d->req.tid, 2147483647u);
	assert_int_equal(d->req.cid, 4294967295u);
	assert_int_equal(d->req.lun, 9223372036854775807ull);
	decoded_free(d);
}

/* {"mode":"target","op":"new",<key>:"<n x 'a'>"} */
static enum mgmt_err decode_long(const char *key, size_t n)
{
	char *s = malloc(n + 1);
	json_t *root;
	struct mgmt_req req;
	struct mgmt_rsp rsp = { 0 };
	enum mgmt_err err;

	assert_non_null(s);
	memset(s, 'a', n);
	s[n] = '\0';
	root = json_pack("{s:s,s:s,s:s}", "mode", "target", "op", "new", key, s);
	assert_non_null(root);
	err = mgmt_req_decode(root, &req, &rsp);
	json_decref(root);
	free(s);
	return err;
}

static void test_string_bounds(void **state)
{
	(void)state;
	assert_int_equal(decode_long("targetname", MGMT_LEN_IQN), MGMT_OK);
	assert_int_equal(decode_long("targetname", MGMT_LEN_IQN + 1), MGMT_ERR_INVALID_REQUEST);
	assert_int_equal(decode_long("backing_store", MGMT_LEN_PATH), MGMT_OK);
	assert_int_equal(decode_long("backing_store", MGMT_LEN_PATH + 1), MGMT_ERR_INVALID_REQUEST);
	assert_int_equal(decode_long("name", MGMT_LEN_SHORT + 1), MGMT_ERR_INVALID_REQUEST);
	assert_int_equal(decode_long("value", MGMT_LEN_VALUE + 1), MGMT_ERR_INVALID_REQUEST);
	assert_int_equal(decode_long("lld", 1 << 16), MGMT_ERR_INVALID_REQUEST);
	assert_int_equal(decode_long("params", MGMT_LEN_PARAMS + 1), MGMT_ERR_INVALID_REQUEST);
}

struct pairs {
	char text[512];
	unsigned int n;
};

static enum mgmt_err collect(const char *key, const char *value, void *arg)
{
	struct pairs *p = arg;
	size_t off = strlen(p->text);

	snprintf(p->text + off, sizeof(p->text) - off, "[%s|%s]", key, value);
	p->n++;
	return MGMT_OK;
}

static enum mgmt_err split(const char *json, struct pairs *p)
{
	json_error_t jerr;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
	struct mgmt_rsp rsp = { 0 };
	enum mgmt_err err;

	assert_non_null(v);
	memset(p, 0, sizeof(*p));
	err = mgmt_req_params_foreach(v, collect, p, &rsp);
	json_decref(v);
	return err;
}

static void test_params_split(void **state)
{
	struct pairs p;
	char big[2048];
	size_t off = 0;
	int i;

	(void)state;
	assert_int_equal(split("\"vendor_id=UTGT,,readonly=1,\"", &p), MGMT_OK);
	assert_string_equal(p.text, "[vendor_id|UTGT][readonly|1]");
	assert_int_equal(split("\"scsi_sn=a=b,x=\"", &p), MGMT_OK);
	assert_string_equal(p.text, "[scsi_sn|a=b][x|]");
	assert_int_equal(split("\"\"", &p), MGMT_OK);
	assert_int_equal(p.n, 0);
	assert_int_equal(split("{\"online\":\"0\",\"removable\":\"1\"}", &p), MGMT_OK);
	assert_string_equal(p.text, "[online|0][removable|1]");
	assert_int_equal(split("\"novalue\"", &p), MGMT_ERR_INVALID_REQUEST);
	assert_int_equal(split("\"=x\"", &p), MGMT_ERR_INVALID_REQUEST);
	assert_int_equal(split("{\"\":\"x\"}", &p), MGMT_ERR_INVALID_REQUEST);
	for (i = 0; i <= MGMT_PARAMS_MAX; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off, "%sk%d=v", i ? "," : "\"", i);
	snprintf(big + off, sizeof(big) - off, "\"");
	assert_int_equal(split(big, &p), MGMT_ERR_INVALID_REQUEST);
	memset(big, 'k', 100);
	memcpy(big, "\"", 1);
	memcpy(big + 100, "=v\"", 4);
	assert_int_equal(split(big, &p), MGMT_ERR_INVALID_REQUEST);
}

static void test_bsoflags(void **state)
{
	uint32_t f;

	(void)state;
	assert_int_equal(mgmt_req_parse_bsoflags("sync", &f), 0);
	assert_int_equal(f, CORE_BSOFLAG_SYNC);
	assert_int_equal(mgmt_req_parse_bsoflags("direct", &f), 0);
	assert_int_equal(f, CORE_BSOFLAG_DIRECT);
	assert_int_equal(mgmt_req_parse_bsoflags("sync:direct", &f), 0);
	assert_int_equal(f, CORE_BSOFLAG_SYNC | CORE_BSOFLAG_DIRECT);
	assert_int_equal(mgmt_req_parse_bsoflags("direct,sync", &f), 0);
	assert_int_equal(f, CORE_BSOFLAG_SYNC | CORE_BSOFLAG_DIRECT);
	assert_int_equal(mgmt_req_parse_bsoflags("direct: sync", &f), 0);
	assert_int_equal(f, CORE_BSOFLAG_SYNC | CORE_BSOFLAG_DIRECT);
	assert_int_equal(mgmt_req_parse_bsoflags("", &f), 0);
	assert_int_equal(f, 0);
	assert_int_equal(mgmt_req_parse_bsoflags("syncx", &f), -EINVAL);
	assert_int_equal(mgmt_req_parse_bsoflags("sync:fua", &f), -EINVAL);
	assert_int_equal(mgmt_req_parse_bsoflags("dir", &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_request_decodes),
		cmocka_unit_test(test_shape_errors),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_range_errors),
		cmocka_unit_test(test_string_bounds),
		cmocka_unit_test(test_params_split),
		cmocka_unit_test(test_bsoflags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
